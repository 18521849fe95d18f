/* tests/tls/tlstest.c - see tlstest.h. */
#include "tlstest.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "support.h"

/* --- certificates ------------------------------------------------------- */

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    cr_assert_not_null(ext, "extension %s", value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

/* A certificate for key, valid from nb to na days from now, signed by
 * issuer (NULL: self-signed). */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer,
                       EVP_PKEY *issuer_key, bool ca, long nb, long na,
                       const char *san)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    unsigned char serial[8];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x), nb * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), na * 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509 *signer = issuer ? issuer : x;
    add_ext(x, signer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    add_ext(x, signer, NID_key_usage,
            ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    add_ext(x, signer, NID_subject_key_identifier, "hash");
    if (issuer)
        add_ext(x, signer, NID_authority_key_identifier, "keyid");
    if (san)
        add_ext(x, signer, NID_subject_alt_name, san);
    cr_assert(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static void write_cert(const char *path, X509 *x)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    PEM_write_X509(f, x);
    fclose(f);
}

static void write_key(const char *path, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
}

static tt_pki pki;
static bool pki_made;

static pid_t pki_owner;

/* Only the process that made it removes it (forked servers exit too). */
static void remove_pki(void)
{
    if (getpid() == pki_owner)
        ts_rmtree(pki.dir);
}

#define SAN_LOCAL "DNS:localhost,IP:127.0.0.1,IP:::1"

const tt_pki *tt_pki_get(void)
{
    if (pki_made)
        return &pki;
    pki_owner = getpid();
    ts_mkdtemp("tls-pki", pki.dir, sizeof pki.dir);
    atexit(remove_pki);
#define P(field, name) snprintf(pki.field, sizeof pki.field, "%s/%s", pki.dir, name)
    P(ca_cert, "ca.pem");
    P(other_ca_cert, "other-ca.pem");
    P(server_cert, "server.pem");
    P(server_key, "server.key");
    P(expired_cert, "expired.pem");
    P(expired_key, "expired.key");
    P(wronghost_cert, "wronghost.pem");
    P(wronghost_key, "wronghost.key");
    P(client_cert, "client.pem");
    P(client_key, "client.key");
#undef P
    EVP_PKEY *cak = EVP_EC_gen("P-256"), *ok = EVP_EC_gen("P-256");
    EVP_PKEY *sk = EVP_EC_gen("P-256"), *ck = EVP_EC_gen("P-256");
    cr_assert(cak && ok && sk && ck);
    X509 *ca = make_cert("sockserv test CA", cak, NULL, NULL, true, -1, 30, NULL);
    X509 *other = make_cert("another CA", ok, NULL, NULL, true, -1, 30, NULL);
    X509 *srv = make_cert("localhost", sk, ca, cak, false, -1, 30, SAN_LOCAL);
    X509 *exp = make_cert("localhost", sk, ca, cak, false, -30, -1, SAN_LOCAL);
    X509 *wh = make_cert("example.invalid", sk, ca, cak, false, -1, 30,
                         "DNS:example.invalid");
    X509 *cli = make_cert("client", ck, ca, cak, false, -1, 30, NULL);
    write_cert(pki.ca_cert, ca);
    write_cert(pki.other_ca_cert, other);
    /* Leaf files carry the chain's leaf only: the CA is the trust anchor. */
    write_cert(pki.server_cert, srv);
    write_key(pki.server_key, sk);
    write_cert(pki.expired_cert, exp);
    write_key(pki.expired_key, sk);
    write_cert(pki.wronghost_cert, wh);
    write_key(pki.wronghost_key, sk);
    write_cert(pki.client_cert, cli);
    write_key(pki.client_key, ck);
    X509_free(ca);
    X509_free(other);
    X509_free(srv);
    X509_free(exp);
    X509_free(wh);
    X509_free(cli);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(ok);
    EVP_PKEY_free(sk);
    EVP_PKEY_free(ck);
    pki_made = true;
    return &pki;
}

void tt_server_ctx(ss_tls_context *ctx, const ss_tls_options *extra)
{
    const tt_pki *p = tt_pki_get();
    ss_tls_options o = extra ? *extra : (ss_tls_options){0};
    o.server = true;
    if (!o.cert_file) {
        o.cert_file = p->server_cert;
        o.key_file = p->server_key;
    }
    ss_error err;
    ss_error_clear(&err);
    cr_assert_eq(ss_tls_context_init(ctx, &o, &err), 0, "%s", err.msg);
}

void tt_client_ctx(ss_tls_context *ctx, const ss_tls_options *extra)
{
    const tt_pki *p = tt_pki_get();
    ss_tls_options o = extra ? *extra : (ss_tls_options){0};
    o.server = false;
    if (!o.ca_file && !o.insecure)
        o.ca_file = p->ca_cert;
    ss_error err;
    ss_error_clear(&err);
    cr_assert_eq(ss_tls_context_init(ctx, &o, &err), 0, "%s", err.msg);
}

/* --- the server --------------------------------------------------------- */

static tt_server *of(ss_server *s)
{
    return (tt_server *)s; /* srv is the first member */
}

static void tt_handle_error(ss_server *s, ss_request *req,
                            const ss_addr *client, const ss_error *err)
{
    (void)req;
    (void)client;
    tt_server *t = of(s);
    pthread_mutex_lock(&t->lock);
    t->errors++;
    snprintf(t->last_error, sizeof t->last_error, "%s", err ? err->msg : "");
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

static void *serve(void *arg)
{
    tt_server *t = arg;
    ss_server_serve_forever(&t->srv, 0.05);
    return NULL;
}

void tt_server_prepare(tt_server *t, const ss_server_class *base,
                       ss_tls_context *implicit_ctx)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    t->data_listener = -1;
    t->cls = (ss_server_class){.base = base, .name = "TlsTestServer",
                               .handle_error = tt_handle_error};
    ss_addr a;
    ss_error err;
    ss_error_clear(&err);
    cr_assert_eq(ss_addr_parse(&a, "127.0.0.1:0", &err), 0);
    cr_assert_eq(ss_server_init(&t->srv, &t->cls, &a, &tt_line_handler_class,
                                SS_BIND_AND_ACTIVATE, &err), 0, "%s", err.msg);
    if (implicit_ctx)
        cr_assert_eq(ss_server_set_tls(&t->srv, implicit_ctx), 0);
    t->addr = t->srv.server_address;
}

void tt_server_run(tt_server *t)
{
    cr_assert_eq(pthread_create(&t->thread, NULL, serve, t), 0);
}

void tt_server_start(tt_server *t, const ss_server_class *base,
                     ss_tls_context *implicit_ctx)
{
    tt_server_prepare(t, base, implicit_ctx);
    tt_server_run(t);
}

void tt_server_data_listener(tt_server *t)
{
    t->data_listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(t->data_listener, 0);
    ss_error err;
    cr_assert_eq(ss_addr_parse(&t->data_addr, "127.0.0.1:0", &err), 0);
    cr_assert_eq(bind(t->data_listener, (struct sockaddr *)&t->data_addr.sa,
                      t->data_addr.len), 0);
    cr_assert_eq(listen(t->data_listener, 8), 0);
    t->data_addr.len = sizeof t->data_addr.sa;
    getsockname(t->data_listener, (struct sockaddr *)&t->data_addr.sa,
                &t->data_addr.len);
}

void tt_server_stop(tt_server *t)
{
    ss_server_shutdown(&t->srv);
    pthread_join(t->thread, NULL);
    ss_server_close(&t->srv);
    if (t->data_listener >= 0)
        close(t->data_listener);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
}

int tt_wait_errors(tt_server *t, int n, double timeout_s)
{
    double deadline = ts_now() + timeout_s;
    pthread_mutex_lock(&t->lock);
    while (t->errors < n && ts_now() < deadline) {
        pthread_mutex_unlock(&t->lock);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL); /* polling a counter with a deadline */
        pthread_mutex_lock(&t->lock);
    }
    int got = t->errors;
    pthread_mutex_unlock(&t->lock);
    return got;
}

/* --- the line handler --------------------------------------------------- */

static int reply(ss_stream_handler *sh, const char *fmt, const char *a)
{
    int rc = ss_wfile_printf(&sh->wfile, fmt, a);
    return rc < 0 ? rc : ss_wfile_flush(&sh->wfile);
}

/* Accepts the data connection and handshakes it as an FTP server would. */
static int do_data(ss_stream_handler *sh, tt_server *t)
{
    struct pollfd pf = {.fd = t->data_listener, .events = POLLIN};
    if (poll(&pf, 1, 5000) != 1)
        return reply(sh, "DATA REFUSED %s\n", "no data connection");
    int fd = accept4(t->data_listener, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return reply(sh, "DATA REFUSED %s\n", strerror(errno));
    ss_tls_conn dc;
    ss_error err;
    ss_error_clear(&err);
    int rc = ss_tls_accept_ex(&dc, t->data_ctx, fd,
                              t->data_require_resume ? sh->tls : NULL,
                              t->data_no_tickets ? SS_TLS_ACCEPT_NO_TICKETS : 0,
                              &err);
    if (rc < 0) {
        close(fd);
        return reply(sh, "DATA REFUSED %s\n", err.msg);
    }
    bool reused = ss_tls_conn_session_reused(&dc);
    dc.base.send(&dc.base, "data\n", 5);
    ss_tls_conn_shutdown(&dc);
    ss_tls_conn_close(&dc);
    close(fd);
    return reply(sh, "DATA OK %s\n", reused ? "1" : "0");
}

static int line_handle(ss_handler *h, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    tt_server *t = of(h->server);
    pthread_mutex_lock(&t->lock);
    t->handled++;
    pthread_mutex_unlock(&t->lock);
    char line[1024];
    ssize_t n;
    while ((n = ss_rfile_readline(&sh->rfile, line, sizeof line - 1)) > 0) {
        line[n] = '\0';
        int rc;
        if (strcmp(line, "STARTTLS\n") == 0) {
            rc = reply(sh, "%s", "OK\n");
            if (rc == 0)
                rc = ss_stream_handler_start_tls(sh, t->starttls, err);
            if (rc < 0)
                return rc;
            continue;
        } else if (strcmp(line, "DATA\n") == 0) {
            rc = do_data(sh, t);
        } else if (strcmp(line, "NOTICKETS\n") == 0) {
            /* From now on data channels get no tickets of their own (as
             * sockserv-ftpd does); the control connection's are all. */
            t->data_no_tickets = true;
            rc = reply(sh, "%s", "OK\n");
        } else if (strcmp(line, "VERSION\n") == 0) {
            rc = reply(sh, "%s\n", sh->tls ? ss_tls_conn_version(sh->tls) : "plain");
        } else {
            rc = ss_wfile_write(&sh->wfile, line, (size_t)n);
        }
        if (rc < 0)
            return ss_error_set(err, rc, "line: write: %s", ss_strerror(rc));
    }
    if (n < 0)
        return ss_error_set(err, (int)n, "line: read: %s", ss_strerror((int)n));
    return 0;
}

const ss_handler_class tt_line_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "TlsLineHandler",
    .handle = line_handle,
};

/* --- client side -------------------------------------------------------- */

int tt_connect(const ss_addr *addr)
{
    int fd = ts_connect(addr, SOCK_STREAM, 5.0);
    cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
    return fd;
}

void tt_client_open(tt_client *c, const ss_addr *addr, ss_tls_context *ctx,
                    const ss_tls_conn *resume)
{
    c->fd = tt_connect(addr);
    ss_error err;
    ss_error_clear(&err);
    int rc = ss_tls_connect(&c->conn, ctx, c->fd, "localhost", resume, &err);
    cr_assert_eq(rc, 0, "ss_tls_connect: %s", err.msg);
}

void tt_client_close(tt_client *c)
{
    ss_tls_conn_shutdown(&c->conn);
    ss_tls_conn_close(&c->conn);
    close(c->fd);
    c->fd = -1;
}

ssize_t tt_readline(ss_transport *t, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = t->recv(t, buf + n, 1);
        if (r < 0)
            return r;
        if (r == 0)
            break;
        if (buf[n++] == '\n')
            break;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

int tt_write(ss_transport *t, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = t->send(t, s, n);
        if (w < 0)
            return (int)w;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

void tt_client_exchange(tt_client *c, const char *s, char *buf, size_t cap)
{
    cr_assert_eq(tt_write(&c->conn.base, s), 0);
    ssize_t n = tt_readline(&c->conn.base, buf, cap);
    cr_assert_gt(n, 0, "no reply to %s (%s)", s, n < 0 ? ss_strerror((int)n) : "EOF");
}

int tt_wait_dropped(int fd)
{
    char buf[512];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return 0;
        if (r < 0)
            return -errno;
    }
}

SSL *tt_glued_hello(ss_tls_context *cctx, int fd, const char *cmd)
{
    SSL *ssl = SSL_new(cctx->ssl_ctx);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, rb, wb);
    SSL_set1_host(ssl, "localhost");
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set_connect_state(ssl);
    cr_assert_eq(SSL_do_handshake(ssl), -1);
    cr_assert_eq(SSL_get_error(ssl, -1), SSL_ERROR_WANT_READ);
    char *hello;
    long hello_len = BIO_get_mem_data(wb, &hello);
    cr_assert_gt(hello_len, 0);
    size_t clen = strlen(cmd);
    static char burst[8192];
    cr_assert_lt((size_t)hello_len + clen, sizeof burst);
    memcpy(burst, cmd, clen);
    memcpy(burst + clen, hello, (size_t)hello_len);
    cr_assert_eq(ts_write_full(fd, burst, clen + (size_t)hello_len), 0);
    (void)BIO_reset(wb);
    return ssl;
}

void tt_glued_finish(SSL *ssl, int fd, const char *msg, char *reply,
                     size_t cap, const char *server_error)
{
    BIO *sb = BIO_new_socket(fd, BIO_NOCLOSE);
    SSL_set_bio(ssl, sb, sb);
    int r = SSL_do_handshake(ssl);
    cr_assert_eq(r, 1, "handshake: %d (server: %s)", SSL_get_error(ssl, r),
                 server_error);
    cr_assert_eq(SSL_get_verify_result(ssl), X509_V_OK);
    cr_assert_eq(SSL_write(ssl, msg, (int)strlen(msg)), (int)strlen(msg));
    size_t n = 0;
    while (n + 1 < cap && (n == 0 || reply[n - 1] != '\n')) {
        cr_assert_eq(SSL_read(ssl, reply + n, 1), 1);
        n++;
    }
    reply[n] = '\0';
    SSL_shutdown(ssl);
    SSL_free(ssl);
}
