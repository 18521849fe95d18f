/* tls_context.c - ss_tls_context: the files, the trust, the policy; and
 * turning OpenSSL's error queue into a message a user can act on. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls_internal.h"

/* Mozilla's "intermediate" TLS 1.2 list: forward secrecy and AEAD only.
 * TLS 1.3's suites are all of that kind and keep OpenSSL's default. */
#define DEFAULT_CIPHERS                                                        \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"               \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"               \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* Sessions resumed on one server context must come from it. */
static const unsigned char session_id_context[] = "libsockserv";

int ss__tls_fail(ss_error *err, int code, const char *fmt, ...)
{
    char what[SS_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);

    /* The earliest error is the cause; later ones are the layers that
     * passed it up ("system lib", "PEM lib"). */
    unsigned long e = ERR_peek_error();
    const char *reason = NULL;
    char buf[128];
    if (e == 0)
        reason = "unknown TLS error";
    else if (ERR_SYSTEM_ERROR(e))
        reason = strerror(ERR_GET_REASON(e));
    else if ((reason = ERR_reason_error_string(e)) == NULL) {
        ERR_error_string_n(e, buf, sizeof buf);
        reason = buf;
    }
    int rc = ss_error_set(err, code, "%s: %s", what, reason);
    ERR_clear_error();
    return rc;
}

void ss_tls_context_close(ss_tls_context *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    BIO_meth_free(ctx->bio_method);
    CRYPTO_THREAD_lock_free(ctx->lock);
    memset(ctx, 0, sizeof *ctx);
}

static int fail_close(ss_tls_context *ctx, ss_error *err, int code,
                      const char *what, const char *file)
{
    if (file && *file)
        ss__tls_fail(err, code, "tls: %s %s", what, file);
    else
        ss__tls_fail(err, code, "tls: %s", what);
    ss_tls_context_close(ctx);
    return code;
}

static int load_identity(ss_tls_context *ctx, const ss_tls_options *opt,
                         ss_error *err)
{
    SSL_CTX *sc = ctx->ssl_ctx;
    if (SSL_CTX_use_certificate_chain_file(sc, opt->cert_file) != 1)
        return fail_close(ctx, err, SS_ETLS, "certificate file", opt->cert_file);
    if (SSL_CTX_use_PrivateKey_file(sc, opt->key_file, SSL_FILETYPE_PEM) != 1)
        return fail_close(ctx, err, SS_ETLS, "key file", opt->key_file);
    if (SSL_CTX_check_private_key(sc) != 1)
        return fail_close(ctx, err, SS_ETLS, "key file", opt->key_file);
    return 0;
}

static int setup_server(ss_tls_context *ctx, const ss_tls_options *opt,
                        ss_error *err)
{
    SSL_CTX *sc = ctx->ssl_ctx;
    if (!opt->cert_file || !opt->key_file) {
        ss_tls_context_close(ctx);
        return ss_error_set(err, -EINVAL, "tls: a server needs a certificate "
                                          "file and a key file");
    }
    int rc = load_identity(ctx, opt, err);
    if (rc < 0)
        return rc;
    if (opt->client_ca_file) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(opt->client_ca_file);
        if (!names ||
            SSL_CTX_load_verify_locations(sc, opt->client_ca_file, NULL) != 1) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            return fail_close(ctx, err, SS_ETLS, "client CA file",
                              opt->client_ca_file);
        }
        SSL_CTX_set_client_CA_list(sc, names); /* takes names */
        SSL_CTX_set_verify(sc, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                           NULL);
        ctx->verify = true;
    }
    SSL_CTX_set_session_id_context(sc, session_id_context,
                                   sizeof session_id_context - 1);
    SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_SERVER);
    /* The tag in every ticket ties a resumed session to the connection
     * that first made it (ss_tls_accept's resume_of). */
    SSL_CTX_set_session_ticket_cb(sc, ss__tls_ticket_gen, ss__tls_ticket_dec,
                                  NULL);
    return 0;
}

static int setup_client(ss_tls_context *ctx, const ss_tls_options *opt,
                        ss_error *err)
{
    SSL_CTX *sc = ctx->ssl_ctx;
    if (opt->cert_file || opt->key_file) {
        if (!opt->cert_file || !opt->key_file) {
            ss_tls_context_close(ctx);
            return ss_error_set(err, -EINVAL, "tls: a client certificate "
                                              "needs both cert and key files");
        }
        int rc = load_identity(ctx, opt, err);
        if (rc < 0)
            return rc;
    }
    if (!opt->insecure) {
        if (opt->ca_file) {
            if (SSL_CTX_load_verify_locations(sc, opt->ca_file, NULL) != 1)
                return fail_close(ctx, err, SS_ETLS, "CA file", opt->ca_file);
        } else if (SSL_CTX_set_default_verify_paths(sc) != 1) {
            return fail_close(ctx, err, SS_ETLS, "system CA store", "");
        }
        SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
        ctx->verify = true;
    }
    /* Sessions are kept on the connection for ss_tls_connect's resume, not
     * in a cache nobody would look up. */
    SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_CLIENT |
                                           SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(sc, ss__tls_new_session);
    ctx->lock = CRYPTO_THREAD_lock_new();
    if (!ctx->lock) {
        ss_tls_context_close(ctx);
        return ss_error_set(err, -ENOMEM, "tls: out of memory");
    }
    return 0;
}

int ss_tls_context_init(ss_tls_context *ctx, const ss_tls_options *opt,
                        ss_error *err)
{
    memset(ctx, 0, sizeof *ctx);
    if (!opt)
        return ss_error_set(err, -EINVAL, "tls: no options");
    int min = opt->min_version ? opt->min_version : TLS1_2_VERSION;
    if (min < TLS1_2_VERSION ||
        (opt->max_version && opt->max_version < min))
        return ss_error_set(err, -EINVAL, "tls: protocol versions below "
                                          "TLS 1.2 are not offered");
    ERR_clear_error();
    ctx->server = opt->server;
    ctx->handshake_timeout = opt->handshake_timeout > 0
                                 ? opt->handshake_timeout
                                 : SS_TLS_HANDSHAKE_TIMEOUT;
    ctx->ssl_ctx = SSL_CTX_new(opt->server ? TLS_server_method()
                                           : TLS_client_method());
    ctx->bio_method = ss__tls_bio_method_new();
    if (!ctx->ssl_ctx || !ctx->bio_method)
        return fail_close(ctx, err, -ENOMEM, "context", "");

    SSL_CTX *sc = ctx->ssl_ctx;
    if (SSL_CTX_set_min_proto_version(sc, min) != 1 ||
        (opt->max_version &&
         SSL_CTX_set_max_proto_version(sc, opt->max_version) != 1))
        return fail_close(ctx, err, -EINVAL, "protocol version", "");
    /* No compression (CRIME), no renegotiation (its DoS and its
     * injection bugs); tickets unless asked. */
    uint64_t ops = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;
    if (opt->no_tickets)
        ops |= SSL_OP_NO_TICKET;
    SSL_CTX_set_options(sc, ops);
    const char *ciphers = opt->ciphers ? opt->ciphers : DEFAULT_CIPHERS;
    if (SSL_CTX_set_cipher_list(sc, ciphers) != 1)
        return fail_close(ctx, err, -EINVAL, "cipher list", ciphers);
    /* What wfile's all-or-error loop and a non-blocking retry need. */
    SSL_CTX_set_mode(sc, SSL_MODE_ENABLE_PARTIAL_WRITE |
                             SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    return opt->server ? setup_server(ctx, opt, err)
                       : setup_client(ctx, opt, err);
}
