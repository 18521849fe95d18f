/* tls_conn.c - one TLS connection: the socket BIO under it, the transport
 * over it (so rfile/wfile run unchanged), handshakes bounded in time, the
 * session tag that lets a data channel prove it resumed its control
 * connection's session, close_notify. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "internal.h"
#include "tls_internal.h"

/* close_notify is a few dozen bytes: it waits only when the peer stopped
 * reading, and then it is not worth waiting long for. */
#define SHUTDOWN_WAIT_MAX 1.0

/* --- the socket BIO ------------------------------------------------------
 * OpenSSL's own socket BIO writes with write(), which raises SIGPIPE on a
 * closed peer; a library must not need its user to ignore SIGPIPE.  This
 * one uses send(MSG_NOSIGNAL), and serves the bytes a STARTTLS upgrade took
 * over from rfile before it reads the socket. */

static int bio_write(BIO *b, const char *data, int len)
{
    ss_tls_conn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = send(c->base.fd, data, (size_t)len, MSG_NOSIGNAL);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_write(b);
        return -1;
    }
}

static int bio_read(BIO *b, char *out, int len)
{
    ss_tls_conn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0)
        return 0;
    if (c->prefix) {
        size_t have = c->prefix_len - c->prefix_pos;
        size_t k = have < (size_t)len ? have : (size_t)len;
        memcpy(out, c->prefix + c->prefix_pos, k);
        c->prefix_pos += k;
        if (c->prefix_pos == c->prefix_len) {
            free(c->prefix);
            c->prefix = NULL;
        }
        return (int)k;
    }
    for (;;) {
        ssize_t n = recv(c->base.fd, out, (size_t)len, 0);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_read(b);
        return -1;
    }
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    ss_tls_conn *c = BIO_get_data(b);
    (void)num;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_PENDING:
        return c && c->prefix ? (long)(c->prefix_len - c->prefix_pos) : 0;
    case BIO_C_GET_FD:
        if (!c)
            return -1;
        if (ptr)
            *(int *)ptr = c->base.fd;
        return c->base.fd;
    default:
        return 0;
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static int bio_destroy(BIO *b)
{
    (void)b;
    return 1;
}

BIO_METHOD *ss__tls_bio_method_new(void)
{
    /* A fixed type number: BIO_get_new_index() has only 127 to give per
     * process, and the type only serves BIO_find_type (SSL_get_fd). */
    BIO_METHOD *m = BIO_meth_new(0x7e | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "sockserv socket");
    if (!m)
        return NULL;
    if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
        !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create) ||
        !BIO_meth_set_destroy(m, bio_destroy)) {
        BIO_meth_free(m);
        return NULL;
    }
    return m;
}

/* --- the transport ------------------------------------------------------- */

static bool fd_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && (fl & O_NONBLOCK);
}

/* Maps a failed SSL_read/SSL_write to the transport's codes. */
static ssize_t io_error(ss_tls_conn *c, int r, bool reading)
{
    int e = errno;
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_ZERO_RETURN: /* close_notify */
        c->eof = true;
        return 0;
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        /* Nothing now: a non-blocking socket says so (the FTP data
         * transport's -EAGAIN), a blocking one had its SO_RCVTIMEO expire. */
        ERR_clear_error();
        return fd_nonblocking(c->base.fd) ? -EAGAIN : -ETIMEDOUT;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        c->failed = true;
        if (e == 0) { /* EOF without close_notify */
            c->truncated = true;
            c->eof = true;
            return reading ? 0 : -EPIPE;
        }
        return e == EAGAIN ? -ETIMEDOUT : -e;
    default: {
        unsigned long err = ERR_peek_error();
        ERR_clear_error();
        c->failed = true;
        if (ERR_GET_LIB(err) == ERR_LIB_SSL &&
            ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            /* Python's suppress_ragged_eofs: EOF, remembered. */
            c->truncated = true;
            c->eof = true;
            return reading ? 0 : -EPIPE;
        }
        return SS_ETLS;
    }
    }
}

static ssize_t tls_recv(ss_transport *t, void *buf, size_t n)
{
    ss_tls_conn *c = (ss_tls_conn *)t;
    if (c->eof)
        return 0;
    if (c->failed)
        return SS_ETLS;
    if (n > INT_MAX)
        n = INT_MAX;
    size_t got = 0;
    ERR_clear_error();
    errno = 0;
    if (SSL_read_ex(c->ssl, buf, n, &got) == 1)
        return (ssize_t)got;
    return io_error(c, 0, true);
}

static ssize_t tls_send(ss_transport *t, const void *buf, size_t n)
{
    ss_tls_conn *c = (ss_tls_conn *)t;
    if (c->failed)
        return c->truncated ? -EPIPE : SS_ETLS;
    if (n > INT_MAX)
        n = INT_MAX;
    size_t put = 0;
    ERR_clear_error();
    errno = 0;
    if (SSL_write_ex(c->ssl, buf, n, &put) == 1)
        return (ssize_t)put;
    return io_error(c, 0, false);
}

/* --- setup and close ----------------------------------------------------- */

/* The part of a connection's setup that does not depend on its BIOs. */
static int conn_init(ss_tls_conn *c, ss_tls_context *ctx, int fd,
                     ss_error *err)
{
    bool heap = c->heap;
    memset(c, 0, sizeof *c);
    c->heap = heap;
    c->base.recv = tls_recv;
    c->base.send = tls_send;
    c->base.fd = fd;
    c->ctx = ctx;
    if (!ctx || !ctx->ssl_ctx)
        return ss_error_set(err, -EINVAL, "tls: no context");
    ERR_clear_error();
    c->ssl = SSL_new(ctx->ssl_ctx);
    if (!c->ssl)
        return ss__tls_fail(err, -ENOMEM, "tls: new connection");
    SSL_set_app_data(c->ssl, c);
    if (ctx->server) {
        SSL_set_accept_state(c->ssl);
        RAND_bytes(c->tag, sizeof c->tag);
    } else {
        SSL_set_connect_state(c->ssl);
    }
    return 0;
}

static int conn_init_failed(ss_tls_conn *c, ss_error *err)
{
    SSL_free(c->ssl);
    c->ssl = NULL;
    return ss__tls_fail(err, -ENOMEM, "tls: new connection");
}

int ss__tls_conn_setup(ss_tls_conn *c, ss_tls_context *ctx, int fd,
                       ss_error *err)
{
    int rc = conn_init(c, ctx, fd, err);
    if (rc < 0)
        return rc;
    BIO *b = BIO_new(ctx->bio_method);
    if (!b)
        return conn_init_failed(c, err);
    BIO_set_data(b, c);
    SSL_set_bio(c->ssl, b, b); /* one reference, taken by the SSL */
    return 0;
}

int ss__tls_conn_setup_memory(ss_tls_conn *c, ss_tls_context *ctx, int fd,
                              ss_error *err)
{
    int rc = conn_init(c, ctx, fd, err);
    if (rc < 0)
        return rc;
    BIO *rbio = BIO_new(BIO_s_mem());
    BIO *wbio = rbio ? BIO_new(BIO_s_mem()) : NULL;
    if (!wbio) {
        BIO_free(rbio);
        return conn_init_failed(c, err);
    }
    /* An empty read BIO means "no more yet", not EOF: the peer's EOF is
     * the stream's to report. */
    BIO_set_mem_eof_return(rbio, -1);
    SSL_set_bio(c->ssl, rbio, wbio);
    /* Thousands of idle connections: OpenSSL frees its 17 KB record
     * buffers whenever they are empty, instead of keeping two per
     * connection for its lifetime. */
    SSL_set_mode(c->ssl, SSL_MODE_RELEASE_BUFFERS);
    return 0;
}


void ss_tls_conn_close(ss_tls_conn *c)
{
    if (!c)
        return;
    bool heap = c->heap;
    if (c->ssl) {
        /* OpenSSL drops the session of a connection freed without a
         * shutdown, and a resumed connection shares its session object
         * with the one it resumed: a data channel closed without
         * close_notify would cost the control connection its session.
         * Only a fatal error (c->failed) should do that. */
        if (!c->failed && SSL_is_init_finished(c->ssl))
            SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_set_app_data(c->ssl, NULL);
        SSL_free(c->ssl); /* frees the BIO; sends nothing */
    }
    SSL_SESSION_free(c->fresh_session);
    free(c->prefix);
    memset(c, 0, sizeof *c);
    c->heap = heap;
}

void ss_tls_conn_free(ss_tls_conn *c)
{
    if (!c)
        return;
    ss_tls_conn_close(c);
    free(c);
}

/* Every session a client connection receives (TLS 1.3 tickets come one or
 * more at a time after the handshake) becomes the family's newest, kept as
 * a pristine copy.  OpenSSL's client uses a TLS 1.3 ticket once (RFC 8446
 * asks that, against linking connections); a data channel exists to be
 * linked to its control connection, and a server may give data channels
 * no tickets of their own, so each connection resumes a fresh copy of the
 * newest one. */
int ss__tls_new_session(SSL *ssl, SSL_SESSION *sess)
{
    ss_tls_conn *c = SSL_get_app_data(ssl);
    if (!c || !c->ctx || !c->ctx->lock)
        return 0;
    SSL_SESSION *copy = SSL_SESSION_dup(sess);
    if (!copy)
        return 0;
    ss_tls_conn *root = c->root ? c->root : c;
    CRYPTO_THREAD_write_lock(c->ctx->lock);
    SSL_SESSION *old = root->fresh_session;
    root->fresh_session = copy;
    CRYPTO_THREAD_unlock(c->ctx->lock);
    SSL_SESSION_free(old);
    return 0; /* OpenSSL keeps its own reference */
}

/* --- the session tag -----------------------------------------------------
 * A data channel must resume the session of its control connection, not
 * just any session of this server (another user's, stolen with its
 * connection).  Every server connection has a random tag; every session it
 * makes carries the tag as ticket app data (inside the encrypted ticket
 * with TLS 1.3 and TLS 1.2 tickets, in the server's cache with TLS 1.2
 * session ids), and a connection that resumes a session adopts its tag, so
 * sessions resumed from resumed sessions still lead back to the first. */

static void adopt_tag(ss_tls_conn *c, SSL_SESSION *sess)
{
    void *data = NULL;
    size_t len = 0;
    if (!sess || SSL_SESSION_get0_ticket_appdata(sess, &data, &len) != 1 ||
        len != sizeof c->tag)
        return;
    memcpy(c->tag, data, sizeof c->tag);
    c->tag_adopted = true;
}

int ss__tls_ticket_gen(SSL *ssl, void *arg)
{
    (void)arg;
    ss_tls_conn *c = SSL_get_app_data(ssl);
    SSL_SESSION *sess = SSL_get0_session(ssl);
    if (!c || !sess)
        return 1;
    /* TLS 1.3 makes the ticket's session a copy of the resumed one, so its
     * tag is still there to adopt before it is overwritten. */
    if (SSL_session_reused(ssl) && !c->tag_adopted)
        adopt_tag(c, sess);
    return SSL_SESSION_set1_ticket_appdata(sess, c->tag, sizeof c->tag);
}

SSL_TICKET_RETURN ss__tls_ticket_dec(SSL *ssl, SSL_SESSION *sess,
                                     const unsigned char *keyname,
                                     size_t keyname_len,
                                     SSL_TICKET_STATUS status, void *arg)
{
    (void)ssl;
    (void)sess;
    (void)keyname;
    (void)keyname_len;
    (void)arg;
    switch (status) {
    case SSL_TICKET_SUCCESS:
        return SSL_TICKET_RETURN_USE;
    case SSL_TICKET_SUCCESS_RENEW:
        return SSL_TICKET_RETURN_USE_RENEW;
    case SSL_TICKET_EMPTY:
    case SSL_TICKET_NO_DECRYPT:
        return SSL_TICKET_RETURN_IGNORE_RENEW; /* a full handshake */
    default:
        return SSL_TICKET_RETURN_ABORT;
    }
}

void ss__tls_server_established(ss_tls_conn *c)
{
    SSL_SESSION *sess = SSL_get0_session(c->ssl);
    if (SSL_session_reused(c->ssl) && !c->tag_adopted)
        adopt_tag(c, sess);
    /* TLS 1.2 session ids: this is the object the cache holds. */
    if (sess)
        SSL_SESSION_set1_ticket_appdata(sess, c->tag, sizeof c->tag);
}

/* --- handshakes ---------------------------------------------------------- */

int ss__tls_handshake_step(ss_tls_conn *c, const char *peer, short *events,
                           ss_error *err)
{
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(c->ssl);
    if (r == 1)
        return 0;
    int e = errno;
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        *events = POLLIN;
        return -EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        *events = POLLOUT;
        return -EAGAIN;
    case SSL_ERROR_SYSCALL:
        c->failed = true;
        ERR_clear_error();
        if (e == 0)
            return ss_error_set(err, SS_ECLOSED, "TLS handshake with %s: the "
                                "peer closed the connection", peer);
        return ss_error_set(err, -e, "TLS handshake with %s: %s", peer,
                            strerror(e));
    default: {
        c->failed = true;
        long vr = SSL_get_verify_result(c->ssl);
        unsigned long first = ERR_peek_error();
        if (vr != X509_V_OK && ERR_GET_REASON(first) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
            ERR_clear_error();
            return ss_error_set(err, SS_ETLS, "TLS handshake with %s: "
                                "certificate verify failed: %s", peer,
                                X509_verify_cert_error_string(vr));
        }
        return ss__tls_fail(err, SS_ETLS, "TLS handshake with %s", peer);
    }
    }
}

int ss__tls_handshake(ss_tls_conn *c, const char *peer, double timeout,
                      ss_error *err)
{
    int fd = c->base.fd;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return ss_error_errno(err, "TLS handshake with %s: fcntl", peer);
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return ss_error_errno(err, "TLS handshake with %s: fcntl", peer);

    double deadline = ss__now() + timeout;
    int rc;
    for (;;) {
        short events = 0;
        rc = ss__tls_handshake_step(c, peer, &events, err);
        if (rc != -EAGAIN)
            break;
        double left = deadline - ss__now();
        if (left <= 0) {
            rc = ss_error_set(err, -ETIMEDOUT, "TLS handshake with %s: not "
                              "done within %g s", peer, timeout);
            break;
        }
        struct pollfd pf = {.fd = fd, .events = events};
        int n = poll(&pf, 1, ss__poll_ms(left));
        if (n < 0 && errno != EINTR) {
            rc = ss_error_errno(err, "TLS handshake with %s: poll", peer);
            break;
        }
    }
    if (!(fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl);
    if (rc == 0 && c->ctx->server)
        ss__tls_server_established(c);
    return rc;
}

static const char *peer_name(int fd, char *buf, size_t cap)
{
    ss_addr a;
    a.len = sizeof a.sa;
    memset(&a.sa, 0, sizeof a.sa);
    if (getpeername(fd, (struct sockaddr *)&a.sa, &a.len) < 0) {
        snprintf(buf, cap, "fd %d", fd);
        return buf;
    }
    return ss_addr_format(&a, buf, cap);
}

static bool is_ip_literal(const char *host)
{
    unsigned char tmp[16];
    return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

int ss_tls_connect(ss_tls_conn *c, ss_tls_context *ctx, int fd,
                   const char *host, const ss_tls_conn *resume, ss_error *err)
{
    c->heap = false;
    if (ctx && ctx->server)
        return ss_error_set(err, -EINVAL, "tls: connect needs a client context");
    if (ctx && ctx->verify && (!host || !*host))
        return ss_error_set(err, -EINVAL, "tls: a verifying client needs the "
                                          "server's host name");
    int rc = ss__tls_conn_setup(c, ctx, fd, err);
    if (rc < 0)
        return rc;
    if (host && *host) {
        bool ip = is_ip_literal(host);
        int ok = 1;
        if (ctx->verify)
            ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host)
                    : SSL_set1_host(c->ssl, host);
        if (ok && !ip)
            ok = SSL_set_tlsext_host_name(c->ssl, host);
        if (ok != 1) {
            ss__tls_fail(err, SS_ETLS, "tls: host name '%s'", host);
            ss_tls_conn_close(c);
            return SS_ETLS;
        }
    }
    if (resume && resume->ssl) {
        c->root = resume->root ? resume->root : (ss_tls_conn *)resume;
        SSL_SESSION *sess = NULL;
        CRYPTO_THREAD_write_lock(ctx->lock);
        if (c->root->fresh_session) /* a copy: OpenSSL marks what it used */
            sess = SSL_SESSION_dup(c->root->fresh_session);
        CRYPTO_THREAD_unlock(ctx->lock);
        if (!sess)
            sess = SSL_get1_session(resume->ssl);
        if (sess) {
            SSL_set_session(c->ssl, sess);
            SSL_SESSION_free(sess);
        }
    }
    char peer[SS_ADDRSTRLEN + 64];
    if (host && *host)
        snprintf(peer, sizeof peer, "%s", host);
    else
        peer_name(fd, peer, sizeof peer);
    rc = ss__tls_handshake(c, peer, ctx->handshake_timeout, err);
    if (rc < 0)
        ss_tls_conn_close(c);
    return rc;
}

int ss_tls_accept(ss_tls_conn *c, ss_tls_context *ctx, int fd,
                  const ss_tls_conn *resume_of, ss_error *err)
{
    return ss_tls_accept_ex(c, ctx, fd, resume_of, 0, err);
}

int ss_tls_accept_ex(ss_tls_conn *c, ss_tls_context *ctx, int fd,
                     const ss_tls_conn *resume_of, unsigned flags,
                     ss_error *err)
{
    c->heap = false;
    if (!ctx || !ctx->server)
        return ss_error_set(err, -EINVAL, "tls: accept needs a server context");
    if (flags & ~(unsigned)SS_TLS_ACCEPT_NO_TICKETS)
        return ss_error_set(err, -EINVAL, "tls: unknown accept flags %#x",
                            flags);
    int rc = ss__tls_conn_setup(c, ctx, fd, err);
    if (rc < 0)
        return rc;
    /* Before the handshake: TLS 1.3 tickets go out right after it. */
    if (flags & SS_TLS_ACCEPT_NO_TICKETS)
        SSL_set_num_tickets(c->ssl, 0);
    char peer[SS_ADDRSTRLEN];
    peer_name(fd, peer, sizeof peer);
    rc = ss__tls_handshake(c, peer, ctx->handshake_timeout, err);
    if (rc == 0 && resume_of) {
        if (!SSL_session_reused(c->ssl))
            rc = ss_error_set(err, SS_ETLS, "session reuse required: the TLS "
                              "connection from %s did not resume the session "
                              "of its control connection", peer);
        else if (!c->tag_adopted ||
                 CRYPTO_memcmp(c->tag, resume_of->tag, sizeof c->tag) != 0)
            rc = ss_error_set(err, SS_ETLS, "session reuse required: the TLS "
                              "connection from %s resumed a session of "
                              "another connection", peer);
        if (rc < 0)
            ss_tls_conn_shutdown(c); /* tell the client clearly, then drop */
        else if (SSL_version(resume_of->ssl) == TLS1_3_VERSION)
            /* Clients use a TLS 1.3 ticket once, and curl keeps only the
             * newest: the control connection's next reply carries a new
             * one (with its tag), for the next data channel. */
            SSL_new_session_ticket(resume_of->ssl);
    }
    if (rc < 0)
        ss_tls_conn_close(c);
    return rc;
}

/* --- close_notify -------------------------------------------------------- */

int ss_tls_conn_shutdown(ss_tls_conn *c)
{
    if (!c || !c->ssl || c->failed || !SSL_is_init_finished(c->ssl) ||
        (SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN))
        return 0;
    int fd = c->base.fd;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    double wait = c->ctx && c->ctx->handshake_timeout < SHUTDOWN_WAIT_MAX
                      ? c->ctx->handshake_timeout
                      : SHUTDOWN_WAIT_MAX;
    double deadline = ss__now() + wait;
    int rc = 0;
    for (;;) {
        ERR_clear_error();
        int r = SSL_shutdown(c->ssl);
        if (r >= 0) /* sent (1: the peer's came too) */
            break;
        int e = SSL_get_error(c->ssl, r);
        ERR_clear_error();
        double left = deadline - ss__now();
        if (e != SSL_ERROR_WANT_WRITE || left <= 0) {
            rc = e == SSL_ERROR_WANT_WRITE ? -ETIMEDOUT : SS_ETLS;
            break;
        }
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        poll(&pf, 1, ss__poll_ms(left));
    }
    if (fl >= 0 && !(fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl);
    return rc;
}

/* The peer's side of the close: what ss_tls_conn_finish() waits for.  Raw
 * recv, not SSL_read: after our close_notify nothing the peer sends
 * matters, and decrypting it could only fail in new ways (a key update
 * OpenSSL would answer into a socket shut for writing). */
static int drain_until_eof(int fd, double deadline, size_t max_bytes)
{
    char junk[16384];
    size_t total = 0;
    for (;;) {
        ssize_t n = recv(fd, junk, sizeof junk, MSG_DONTWAIT);
        if (n == 0)
            return 0;
        if (n > 0) {
            total += (size_t)n;
            if (total > max_bytes)
                return -EMSGSIZE;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        double left = deadline - ss__now();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, ss__poll_ms(left)) < 0 && errno != EINTR)
            return -errno;
    }
}

int ss_tls_conn_finish(ss_tls_conn *c, double timeout_s, size_t max_bytes)
{
    if (!c || !c->ssl)
        return -EBADF;
    if (c->failed)
        return SS_ETLS;
    double deadline = ss__now() + (timeout_s > 0 ? timeout_s : 0);
    int rc = ss_tls_conn_shutdown(c);
    if (rc < 0)
        return rc;
    if (shutdown(c->base.fd, SHUT_WR) < 0)
        return -errno;
    return drain_until_eof(c->base.fd, deadline, max_bytes);
}

/* --- STARTTLS ------------------------------------------------------------ */

int ss_stream_handler_start_tls(ss_stream_handler *self, ss_tls_context *ctx,
                                ss_error *err)
{
    ss_handler *h = &self->base;
    if (self->tls || h->request->tls)
        return ss_error_set(err, -EALREADY, "STARTTLS: the connection is "
                                            "TLS already");
    if (!ctx || !ctx->server)
        return ss_error_set(err, -EINVAL, "STARTTLS: needs a server context");
    /* The reply accepting the upgrade must go out in plaintext. */
    int rc = ss_wfile_flush(&self->wfile);
    if (rc < 0)
        return ss_error_set(err, rc, "STARTTLS: flush: %s", ss_strerror(rc));

    ss_tls_conn *c = calloc(1, sizeof *c);
    if (!c)
        return ss_error_set(err, -ENOMEM, "STARTTLS: out of memory");
    c->heap = true;
    if ((rc = ss__tls_conn_setup(c, ctx, self->connection, err)) < 0) {
        free(c);
        return rc;
    }
    /* A client may send its ClientHello right behind the command, and
     * rfile may have read it already: OpenSSL gets those bytes first. */
    size_t pending = ss_rfile_pending(&self->rfile);
    if (pending) {
        c->prefix = malloc(pending);
        if (!c->prefix) {
            ss_tls_conn_free(c);
            return ss_error_set(err, -ENOMEM, "STARTTLS: out of memory");
        }
        memcpy(c->prefix, self->rfile.buf + self->rfile.pos, pending);
        c->prefix_len = pending;
        self->rfile.pos = self->rfile.len;
    }
    char peer[SS_ADDRSTRLEN];
    ss_addr_format(&h->client_address, peer, sizeof peer);
    rc = ss__tls_handshake(c, peer, ctx->handshake_timeout, err);
    ss__stats_tls_handshake(h->server, rc == 0);
    if (rc < 0) {
        ss_tls_conn_free(c);
        return rc;
    }
    h->request->tls = c; /* the request owns it: closed with it */
    self->tls = c;
    self->io = &c->base;
    ss_rfile_set_transport(&self->rfile, self->io);
    ss_wfile_set_transport(&self->wfile, self->io);
    return 0;
}

/* --- queries ------------------------------------------------------------- */

size_t ss_tls_conn_pending(const ss_tls_conn *c)
{
    if (!c || !c->ssl)
        return 0;
    size_t n = (size_t)SSL_pending(c->ssl);
    if (c->prefix)
        n += c->prefix_len - c->prefix_pos;
    return n;
}

int ss_tls_conn_new_ticket(ss_tls_conn *c)
{
    if (!c || !c->ssl || !SSL_is_server(c->ssl) ||
        SSL_version(c->ssl) != TLS1_3_VERSION)
        return 0;
    return SSL_new_session_ticket(c->ssl) == 1 ? 0 : SS_ETLS;
}

bool ss_tls_conn_session_reused(const ss_tls_conn *c)
{
    return c && c->ssl && SSL_session_reused(c->ssl);
}

short ss_tls_conn_wants(const ss_tls_conn *c)
{
    if (!c || !c->ssl)
        return 0;
    if (SSL_want_write(c->ssl))
        return POLLOUT;
    if (SSL_want_read(c->ssl))
        return POLLIN;
    return 0;
}

bool ss_tls_conn_failed(const ss_tls_conn *c)
{
    return c && c->failed;
}

bool ss_tls_conn_closed_cleanly(const ss_tls_conn *c)
{
    return c && c->eof && !c->truncated;
}

const char *ss_tls_conn_version(const ss_tls_conn *c)
{
    return c && c->ssl ? SSL_get_version(c->ssl) : "none";
}

const char *ss_tls_conn_cipher(const ss_tls_conn *c)
{
    const char *name = c && c->ssl ? SSL_get_cipher_name(c->ssl) : NULL;
    return name ? name : "none";
}

int ss_tls_conn_peer_subject(const ss_tls_conn *c, char *buf, size_t cap)
{
    X509 *cert = c && c->ssl ? SSL_get1_peer_certificate(c->ssl) : NULL;
    if (!cert)
        return -ENOENT;
    BIO *mem = BIO_new(BIO_s_mem());
    int len = -ENOMEM;
    if (mem && X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0,
                                  XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        char *p;
        long n = BIO_get_mem_data(mem, &p);
        size_t k = cap ? ((size_t)n < cap - 1 ? (size_t)n : cap - 1) : 0;
        if (cap) {
            memcpy(buf, p, k);
            buf[k] = '\0';
        }
        len = (int)k;
    }
    BIO_free(mem);
    X509_free(cert);
    ERR_clear_error();
    return len;
}
