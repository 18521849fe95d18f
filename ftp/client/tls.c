/* ftp/client/tls.c - see tls.h. */
#include "tls.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
    short want = ss_tls_conn_wants(s->tls);
    return want ? want : events;
}

/* Bounds on the wait for the server's side of the close.  Only bytes
 * still unread in our socket when it closes cause a reset, and the ones
 * that matter (tickets) come right after the handshake; what the server
 * sends later (its close_notify) comes only once it has read everything
 * we sent.  So a short wait is enough, a dead server costs little, and
 * closing an aborted download does not wait for the rest of the file. */
#define CLOSE_WAIT_S 2.0
#define CLOSE_DRAIN_MAX (256 * 1024)

static void tls_close(ftpc_stream *s)
{
    /* close_notify (an upload's end must be told from a cut: the server
     * may count a missing one as a truncated file), then wait for the
     * server's close so that tickets we never read cannot turn our close
     * into a reset that costs the server the upload's tail (pyftpdlib
     * loses it so).  After the server's own close_notify, or a failed
     * connection, there is nothing to wait for. */
    if (ss_tls_conn_failed(s->tls) || ss_tls_conn_closed_cleanly(s->tls))
        ss_tls_conn_shutdown(s->tls);
    else
        ss_tls_conn_finish(s->tls, CLOSE_WAIT_S, CLOSE_DRAIN_MAX);
    ss_tls_conn_close(s->tls);
    s->tls = NULL;
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
