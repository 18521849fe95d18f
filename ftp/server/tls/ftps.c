/* ftp/server/tls/ftps.c - FTP over TLS.  See ftps.h. */
#include "tls/ftps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "protocol/commands.h"
#include "protocol/session.h"

/* Validity of a generated certificate: 825 days, the most that clients
 * which check lifetimes accept. */
#define SELF_SIGNED_DAYS 825

static int fail(char *err, size_t cap, const char *fmt, const char *a,
                const char *b)
{
    char ossl[160] = "";
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, ossl, sizeof ossl);
    ERR_clear_error();
    int n = snprintf(err, cap, fmt, a, b);
    if (ossl[0] && n >= 0 && (size_t)n < cap)
        snprintf(err + n, cap - (size_t)n, " (%s)", ossl);
    return -1;
}

/* Writes a PEM object to path.tmp with mode 0600, fsyncs it and renames it
 * over path, so a reader never sees half a key. */
static int write_pem(const char *path, EVP_PKEY *key, X509 *cert, char *err,
                     size_t cap)
{
    char tmp[FTPD_PATH_MAX + 8];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return fail(err, cap, "tls: %s: path too long%s", path, "");
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(err, cap, "tls: %s: %s", tmp, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        return fail(err, cap, "tls: %s: %s", tmp, strerror(errno));
    }
    int ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
                 : PEM_write_X509(f, cert);
    if (ok != 1 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fclose(f);
        unlink(tmp);
        return fail(err, cap, "tls: cannot write %s%s", tmp, "");
    }
    fclose(f);
    if (rename(tmp, path) < 0) {
        unlink(tmp);
        return fail(err, cap, "tls: %s: %s", path, strerror(errno));
    }
    return 0;
}

int ftpd_ftps_make_self_signed(const char *cert_file, const char *key_file,
                               char *err, size_t cap)
{
    int rc = -1;
    X509 *x = NULL;
    X509_NAME *name = NULL;
    BIGNUM *bn = NULL;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (!key) {
        fail(err, cap, "tls: cannot generate a key%s%s", "", "");
        goto out;
    }
    x = X509_new();
    bn = BN_new();
    if (!x || !bn || !X509_set_version(x, X509_VERSION_3) ||
        !BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x),
                         (long)SELF_SIGNED_DAYS * 24 * 3600) ||
        !X509_set_pubkey(x, key)) {
        fail(err, cap, "tls: cannot build a certificate%s%s", "", "");
        goto out;
    }
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               (const unsigned char *)"sockserv-ftpd", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, name);
    static const struct {
        int nid;
        const char *value;
    } ext[] = {
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature"},
        {NID_ext_key_usage, "serverAuth"},
        {NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"},
    };
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, ext[i].nid,
                                                ext[i].value);
        if (!e || !X509_add_ext(x, e, -1)) {
            X509_EXTENSION_free(e);
            fail(err, cap, "tls: certificate extension %s%s", ext[i].value, "");
            goto out;
        }
        X509_EXTENSION_free(e);
    }
    if (!X509_sign(x, key, EVP_sha256())) {
        fail(err, cap, "tls: cannot sign the certificate%s%s", "", "");
        goto out;
    }
    /* The key first: a certificate without its key is useless, a key
     * without its certificate is made again next time. */
    if (write_pem(key_file, key, NULL, err, cap) < 0 ||
        write_pem(cert_file, NULL, x, err, cap) < 0)
        goto out;
    rc = 0;
out:
    BN_free(bn);
    X509_free(x);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return rc;
}

/* SHA-256 of the first certificate in path, as "AB:CD:...". */
static int fingerprint(const char *path, char *fp, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    int rc = -1;
    if (x && X509_digest(x, EVP_sha256(), md, &n) == 1 && cap >= n * 3) {
        for (unsigned i = 0; i < n; i++)
            snprintf(fp + 3 * i, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
        rc = 0;
    }
    X509_free(x);
    ERR_clear_error();
    return rc;
}

int ftpd_ftps_init(ss_tls_context *ctx, const ftpd_config *cfg,
                   bool *generated, char *fp, size_t fpcap, char *cert_path,
                   size_t cert_cap, char *err, size_t cap)
{
    char cert[FTPD_PATH_MAX + 16], key[FTPD_PATH_MAX + 16];
    *generated = false;
    if (cfg->tls_cert_file[0]) {
        snprintf(cert, sizeof cert, "%s", cfg->tls_cert_file);
        snprintf(key, sizeof key, "%s", cfg->tls_key_file);
    } else {
        char dir[FTPD_PATH_MAX];
        int n = snprintf(dir, sizeof dir, "%s/tls", cfg->data_dir);
        if (n < 0 || (size_t)n + 16 >= sizeof dir)
            return fail(err, cap, "tls: data_dir path too long%s%s", "", "");
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return fail(err, cap, "tls: %s: %s", dir, strerror(errno));
        snprintf(cert, sizeof cert, "%s/cert.pem", dir);
        snprintf(key, sizeof key, "%s/key.pem", dir);
        struct stat st;
        if (stat(cert, &st) < 0 || stat(key, &st) < 0) {
            if (ftpd_ftps_make_self_signed(cert, key, err, cap) < 0)
                return -1;
            *generated = true;
        }
    }
    ss_tls_options opt;
    memset(&opt, 0, sizeof opt);
    opt.server = true;
    opt.cert_file = cert;
    opt.key_file = key;
    opt.min_version = 0x0303; /* TLS 1.2 at least, whatever the defaults */
    opt.handshake_timeout = cfg->tls_handshake_timeout;
    ss_error e;
    ss_error_clear(&e);
    if (ss_tls_context_init(ctx, &opt, &e) < 0) {
        snprintf(err, cap, "%s", e.msg);
        return -1;
    }
    if (fingerprint(cert, fp, fpcap) < 0)
        snprintf(fp, fpcap, "?");
    snprintf(cert_path, cert_cap, "%s", cert);
    return 0;
}

/* --- the commands (allowed before login: they protect the login) -------- */

int ftpd_cmd_auth(ftpd_session *s, const char *arg, size_t len)
{
    (void)len;
    if (!s->ctx->tls_on)
        return ftpd_session_reply(s, 502, "TLS is not enabled on this "
                                  "server.");
    bool ssl = !strcasecmp(arg, "SSL") || !strcasecmp(arg, "TLS-P");
    if (strcasecmp(arg, "TLS") && strcasecmp(arg, "TLS-C") && !ssl)
        return ftpd_session_reply(s, 504, "AUTH %s not supported; use AUTH "
                                  "TLS.", strcasecmp(arg, "GSSAPI") ? "type"
                                                                   : "GSSAPI");
    if (ftpd_session_tls(s))
        return ftpd_session_reply(s, 503, "Already using TLS.");
    if (s->logged_in)
        return ftpd_session_reply(s, 503, "AUTH must come before login.");
    if (ftpd_session_reply(s, 234, "Proceed with negotiation.") < 0)
        return SS_ECLOSED;
    ss_error err;
    ss_error_clear(&err);
    int rc = ss_stream_handler_start_tls(&s->base, &s->ctx->tls, &err);
    if (rc < 0) {
        ftpd_log(&s->ctx->log, "tls failed client=%s reason=%s", s->client,
                 err.msg);
        s->quit = true;
        return SS_ECLOSED; /* nothing more can be said on this connection */
    }
    ftpd_session_wrap_io(s);
    /* RFC 4217 section 4: a USER before AUTH does not count. */
    s->user_given = false;
    s->user[0] = '\0';
    /* AUTH SSL and TLS-P (drafts before RFC 4217) mean protected data. */
    if (ssl)
        s->pbsz = s->prot_p = true;
    ftpd_log(&s->ctx->log, "tls client=%s version=%s cipher=%s", s->client,
             ss_tls_conn_version(s->base.tls), ss_tls_conn_cipher(s->base.tls));
    return 0;
}

int ftpd_cmd_pbsz(ftpd_session *s, const char *arg, size_t len)
{
    if (!ftpd_session_tls(s))
        return ftpd_session_reply(s, 503, "PBSZ needs AUTH TLS first.");
    for (size_t i = 0; i < len; i++)
        if (arg[i] < '0' || arg[i] > '9' || i >= 10)
            return ftpd_session_reply(s, 501, "PBSZ takes a number.");
    s->pbsz = true;
    /* TLS has no buffer size: whatever was asked, it is 0 (RFC 4217 8). */
    return ftpd_session_reply(s, 200, "PBSZ=0");
}

int ftpd_cmd_prot(ftpd_session *s, const char *arg, size_t len)
{
    if (!ftpd_session_tls(s))
        return ftpd_session_reply(s, 503, "PROT needs AUTH TLS first.");
    if (!s->pbsz)
        return ftpd_session_reply(s, 503, "PBSZ must come before PROT.");
    if (len != 1)
        return ftpd_session_reply(s, 504, "PROT must be C or P.");
    switch (arg[0]) {
    case 'C':
    case 'c':
        if (s->tls_required)
            return ftpd_session_reply(s, 534, "PROT C refused: data "
                                      "connections must be encrypted here.");
        s->prot_p = false;
        return ftpd_session_reply(s, 200, "PROT now Clear.");
    case 'P':
    case 'p':
        s->prot_p = true;
        return ftpd_session_reply(s, 200, "PROT now Private.");
    case 'S':
    case 's':
    case 'E':
    case 'e':
        return ftpd_session_reply(s, 536, "PROT %c not supported: use P.",
                                  arg[0]);
    default:
        return ftpd_session_reply(s, 504, "PROT must be C or P.");
    }
}

int ftpd_cmd_ccc(ftpd_session *s, const char *arg, size_t len)
{
    (void)arg;
    (void)len;
    /* Clearing the control connection would let an attacker on the path
     * see and change every command after it; no client needs it. */
    return ftpd_session_reply(s, 534, "CCC refused: the control connection "
                              "stays encrypted.");
}

/* --- data connections --------------------------------------------------- */

bool ftpd_ftps_data_allowed(ftpd_session *s)
{
    if (s->prot_p || !s->tls_required)
        return true;
    /* vsftpd's and ProFTPD's code and vsftpd's wording. */
    ftpd_session_reply(s, 522, "Data connections must be encrypted.");
    return false;
}

int ftpd_ftps_data_start(ftpd_session *s)
{
    if (!s->prot_p)
        return 0;
    ss_error err;
    ss_error_clear(&err);
    const ss_tls_conn *control =
        s->ctx->cfg.require_tls_reuse ? s->base.tls : NULL;
    /* No TLS 1.3 session tickets on data connections.  A client that only
     * uploads never reads them; closing a socket with unread bytes makes
     * the kernel send RST instead of FIN, and the RST throws away upload
     * bytes the server has not read yet (curl lost a third of its uploads
     * so; curl issue 6149).  Clients get their next ticket on the control
     * connection instead (ftpd_ftps_data_end), which they always read. */
    int rc = ss_tls_accept_ex(&s->dc.tls, &s->ctx->tls, s->dc.fd, control,
                              SS_TLS_ACCEPT_NO_TICKETS, &err);
    if (rc < 0) {
        bool reuse = !strncmp(err.msg, "session reuse required", 22);
        ftpd_log(&s->ctx->log, "tls data connection refused client=%s "
                 "user=%s reason=%s", s->client, s->logged_in ? s->user : "-",
                 err.msg);
        ftpd_datachan_reset(&s->dc);
        if (reuse)
            /* The words vsftpd uses, which is what users search for. */
            return ftpd_session_reply(s, 522, "SSL connection failed: session "
                                      "reuse required (the data connection "
                                      "must resume the TLS session of the "
                                      "control connection).") < 0
                       ? SS_ECLOSED
                       : -1;
        return ftpd_session_reply(s, 522, "SSL connection failed: TLS "
                                  "negotiation on the data connection "
                                  "failed.") < 0
                   ? SS_ECLOSED
                   : -1;
    }
    s->dc.tls_on = true;
    s->dc.io = &s->dc.tls.base;
    s->dc.plain_io = false;
    return 0;
}

void ftpd_ftps_data_end(ftpd_session *s)
{
    if (s->dc.tls_on)
        ss_tls_conn_shutdown(&s->dc.tls);
    /* A TLS 1.3 ticket is meant for one resumption, and clients such as
     * curl do not offer one twice: the next data connection needs a fresh
     * ticket.  It goes out on the control connection with the reply that
     * ends this transfer, and carries the control connection's tag. */
    if (s->dc.tls_on && s->base.tls)
        ss_tls_conn_new_ticket(s->base.tls);
}
