/* ftp/client/tls.c - see tls.h. */
#include "tls.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

int ftpc_tls_context_init(ss_tls_context *ctx, const char *cacert,
                          bool insecure, double timeout_s, char *err,
                          size_t cap)
{
    ss_tls_options o = {.ca_file = cacert, .insecure = insecure,
                        .handshake_timeout = timeout_s};
    ss_error e;
    ss_error_clear(&e);
    if (ss_tls_context_init(ctx, &o, &e) < 0) {
        snprintf(err, cap, "%s", e.msg);
        return -1;
    }
    return 0;
}

/* The transport's codes, as the stream's callers print them (strerror):
 * a TLS failure has no errno of its own. */
static ssize_t map_error(ssize_t r)
{
    return r == SS_ETLS || r == SS_EPROTO ? -EPROTO
           : r == SS_ECLOSED             ? -ECONNRESET
                                         : r;
}

static ssize_t tls_read(ftpc_stream *s, void *buf, size_t n)
{
    return map_error(s->tls->base.recv(&s->tls->base, buf, n));
}

static ssize_t tls_write(ftpc_stream *s, const void *buf, size_t n)
{
    return map_error(s->tls->base.send(&s->tls->base, buf, n));
}

/* OpenSSL may need to send while reading (a key update, a post-handshake
 * message) or to read while writing: wait for what it wants, or a read
 * that must write would poll for input forever. */
static short tls_wait_events(const ftpc_stream *s, short events)
{
    if (SSL_want_write(s->tls->ssl))
        return POLLOUT;
    if (SSL_want_read(s->tls->ssl))
        return POLLIN;
    return events;
}

/* Bounds on the wait for the server's side of the close.  Only bytes
 * still unread in our socket when it closes cause a reset, and the ones
 * that matter (tickets) come right after the handshake; what the server
 * sends later (its close_notify) comes only once it has read everything
 * we sent.  So a short wait is enough, a dead server costs little, and
 * closing an aborted download does not wait for the rest of the file. */
#define CLOSE_WAIT_S 2.0
#define CLOSE_DRAIN_MAX (256 * 1024)

/* After our close_notify and FIN: reads (and drops) what the server still
 * sends until it closes too.  A server may have sent TLS 1.3 tickets on a
 * data connection that an upload never reads; closing a socket with
 * unread bytes sends a reset, and the reset makes the server's kernel
 * throw away upload data its program has not read yet: the file would
 * arrive cut short (pyftpdlib does exactly this). */
static void drain_until_closed(int fd)
{
    char junk[16384];
    size_t total = 0;
    double deadline = ftpc_now() + CLOSE_WAIT_S;
    while (total < CLOSE_DRAIN_MAX) {
        double left = deadline - ftpc_now();
        if (left <= 0 || ftpc_wait_fd(fd, POLLIN, left) <= 0)
            return;
        ssize_t n = recv(fd, junk, sizeof junk, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return;
        total += (size_t)n;
    }
}

static void tls_close(ftpc_stream *s)
{
    /* close_notify: an upload's end must be told from a cut (the server
     * may count a missing one as a truncated file).  Bounded wait. */
    bool sent = ss_tls_conn_shutdown(s->tls) == 0 &&
                !ss_tls_conn_closed_cleanly(s->tls);
    ss_tls_conn_close(s->tls);
    s->tls = NULL;
    if (sent && shutdown(s->fd, SHUT_WR) == 0)
        drain_until_closed(s->fd);
    close(s->fd);
}

const ftpc_stream_ops ftpc_tls_ops = {
    .read = tls_read,
    .write = tls_write,
    .wait_events = tls_wait_events,
    .close = tls_close,
};

int ftpc_tls_start(ftpc_stream *s, ss_tls_conn *conn, ss_tls_context *ctx,
                   const char *host, const ftpc_stream *resume, char *err,
                   size_t cap)
{
    if (s->fd < 0) {
        snprintf(err, cap, "TLS: not connected");
        return -ENOTCONN;
    }
    ss_error e;
    ss_error_clear(&e);
    const ss_tls_conn *of = resume && ftpc_stream_is_tls(resume) ? resume->tls
                                                                 : NULL;
    int rc = ss_tls_connect(conn, ctx, s->fd, host, of, &e);
    if (rc < 0) {
        if (strstr(e.msg, "certificate verify failed"))
            snprintf(err, cap, "%s (trust its CA with --cacert FILE, or skip "
                     "the check with --insecure)", e.msg);
        else
            snprintf(err, cap, "%s", e.msg);
        return rc;
    }
    s->tls = conn;
    s->ops = &ftpc_tls_ops;
    return 0;
}

bool ftpc_stream_is_tls(const ftpc_stream *s)
{
    return s->ops == &ftpc_tls_ops && s->tls != NULL;
}
