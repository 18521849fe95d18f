/* stream_handler.c - StreamRequestHandler: rfile and wfile over the
 * connection, with Python's timeout and Nagle attributes. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <sockserv/handler.h>

#include "internal.h"

static void stream_configure(ss_handler *h)
{
    SS_SUPER(&ss_stream_request_handler_class, configure)(h);
    ss_stream_handler *sh = (ss_stream_handler *)h;
    sh->rbufsize = -1;
    sh->wbufsize = 0;
    sh->timeout = -1;
    sh->disable_nagle_algorithm = false;
}

static int set_timeout(int fd, double seconds, ss_error *err)
{
    struct timeval tv = {.tv_sec = (time_t)seconds,
                         .tv_usec = (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6)};
    if (tv.tv_sec == 0 && tv.tv_usec == 0)
        tv.tv_usec = 1; /* 0 would mean "no timeout" to the kernel */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
        return ss_error_errno(err, "setsockopt timeout");
    return 0;
}

static int stream_setup(ss_handler *h, ss_error *err)
{
    int rc = SS_SUPER(&ss_stream_request_handler_class, setup)(h, err);
    if (rc < 0)
        return rc;
    ss_stream_handler *sh = (ss_stream_handler *)h;
    sh->connection = h->request->fd;
    ss_transport_init_fd(&sh->transport, sh->connection);
    sh->io = &sh->transport;
    if (h->request->tls) { /* implicit TLS: the handshake is done */
        sh->tls = h->request->tls;
        sh->io = (ss_transport *)sh->tls;
    }
    if (sh->timeout >= 0 && (rc = set_timeout(sh->connection, sh->timeout, err)) < 0)
        return rc;
    if (sh->disable_nagle_algorithm) {
        int one = 1;
        /* Fails on a unix socket, as in Python (EOPNOTSUPP). */
        if (setsockopt(sh->connection, IPPROTO_TCP, TCP_NODELAY, &one,
                       sizeof one) < 0)
            return ss_error_errno(err, "setsockopt TCP_NODELAY");
    }
    if ((rc = ss_rfile_init(&sh->rfile, sh->io, sh->rbufsize)) < 0)
        return ss_error_set(err, rc, "rfile: %s", ss_strerror(rc));
    if ((rc = ss_wfile_init(&sh->wfile, sh->io, sh->wbufsize)) < 0)
        return ss_error_set(err, rc, "wfile: %s", ss_strerror(rc));
    sh->rfile.counter = ss__counter(h->server, SS__BYTES_IN);
    sh->wfile.counter = ss__counter(h->server, SS__BYTES_OUT);
    return 0;
}

/* Python ignores a failing flush here (the peer may be gone): the
 * request is over either way.  The files close in the release below. */
static int stream_finish(ss_handler *h, ss_error *err)
{
    int rc = SS_SUPER(&ss_stream_request_handler_class, finish)(h, err);
    ss_stream_handler *sh = (ss_stream_handler *)h;
    if (sh->wfile.buf)
        ss_wfile_flush(&sh->wfile);
    return rc;
}

void ss__stream_handler_release(ss_handler *h)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    ss_wfile_close(&sh->wfile);
    ss_rfile_close(&sh->rfile);
}

const ss_handler_class ss_stream_request_handler_class = {
    .base = &ss_base_request_handler_class,
    .name = "StreamRequestHandler",
    .instance_size = sizeof(ss_stream_handler),
    .configure = stream_configure,
    .setup = stream_setup,
    .finish = stream_finish,
};
