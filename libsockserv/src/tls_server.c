/* tls_server.c - implicit TLS for stream servers: the handshake of every
 * accepted connection runs before process_request(), driven by the loop
 * that serves the server, so a client that stalls or speaks plaintext
 * holds no thread and blocks nobody (see ss_server_set_tls in tls.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#include "internal.h"
#include "parked.h"
#include "tls_internal.h"

/* A connection between accept and the end of its handshake (parked.h:
 * park.req.tls is the connection). */
struct pending {
    ss__parked park; /* first: the handles' data and the heap block */
    char peer[SS_ADDRSTRLEN];
};

struct ss_tls_server {
    ss_tls_context *ctx;
    ss__parked *pending;
    void (*prev_loop_ending)(ss_server *s, void *uv_loop);
};

/* The connection never got through its handshake: the request ends. */
static void fail(ss_server *s, ss_request *req, const ss_addr *client,
                 const ss_error *err)
{
    ss__stats_tls_handshake(s, false);
    s->vt.handle_error(s, req, client, err);
    s->vt.shutdown_request(s, req);
    ss__count_finished(s);
}

/* The handshake is done: on to process_request, as handle_one would have
 * gone on without TLS. */
static int dispatch(ss_server *s, ss_request *req, const ss_addr *client)
{
    ss_error err;
    ss_error_clear(&err);
    /* The handler reads and writes a blocking socket (its timeouts are
     * SO_RCVTIMEO/SO_SNDTIMEO, set in setup). */
    int rc = ss__set_nonblock(req->fd, false);
    if (rc < 0) {
        ss_error_set(&err, rc, "TLS: fcntl: %s", ss_strerror(rc));
        fail(s, req, client, &err);
        return 0;
    }
    ss__stats_tls_handshake(s, true);
    ss__tls_server_established(req->tls);
    return ss__process_verified(s, req, client);
}

/* Shutdown was asked for as the handshake completed: the request ends
 * unrun. */
static void dropped(ss_server *s, ss_request *req)
{
    ss__stats_tls_handshake(s, true);
    s->vt.shutdown_request(s, req);
    ss__count_finished(s);
}

static void complete(struct pending *p, int rc, const ss_error *err)
{
    ss_server *s = p->park.server;
    ss_addr client = p->park.client;
    ss_request req = ss__unpark(&p->park);
    if (rc < 0) {
        fail(s, &req, &client, err);
        return;
    }
    ss__resume_request(s, &req, &client, dispatch, dropped);
}

static void on_poll(uv_poll_t *h, int status, int events);

static void step(struct pending *p)
{
    ss_error err;
    ss_error_clear(&err);
    short events = 0;
    int rc = ss__tls_handshake_step(p->park.req.tls, p->peer, &events, &err);
    if (rc == -EAGAIN) {
        uv_poll_start(&p->park.poll,
                      events == POLLOUT ? UV_WRITABLE : UV_READABLE, on_poll);
        return;
    }
    complete(p, rc, &err);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct pending *p = h->data;
    (void)events;
    if (status < 0) {
        ss_error err;
        ss_error_set(&err, status, "TLS handshake with %s: %s", p->peer,
                     uv_strerror(status));
        complete(p, status, &err);
        return;
    }
    step(p);
}

static void on_timeout(uv_timer_t *t)
{
    struct pending *p = t->data;
    ss_error err;
    ss_error_clear(&err);
    /* The loop may have been busy (a sync server's handler) while the
     * client's bytes arrived: one last try before giving up. */
    short events = 0;
    int rc = ss__tls_handshake_step(p->park.req.tls, p->peer, &events, &err);
    if (rc == -EAGAIN)
        rc = ss_error_set(&err, -ETIMEDOUT, "TLS handshake with %s: not done "
                          "within %g s", p->peer,
                          p->park.req.tls->ctx->handshake_timeout);
    complete(p, rc, &err);
}

/* The loop goes away (serve_forever returns, or detach): handshakes still
 * pending were never requests; they are closed without a report. */
static void loop_ending(ss_server *s, void *uv_loop)
{
    struct ss_tls_server *ts = s->priv->tls;
    if (ts->prev_loop_ending)
        ts->prev_loop_ending(s, uv_loop);
    while (ts->pending) {
        ss_request req = ss__unpark(ts->pending);
        s->vt.shutdown_request(s, &req);
        ss__count_finished(s);
    }
}

static int start_async(ss_server *s, uv_loop_t *loop, ss_request *req,
                       const ss_addr *client, const char *peer, short events)
{
    struct ss_tls_server *ts = s->priv->tls;
    struct pending *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    int rc = ss__park(&p->park, &ts->pending, loop, s, req, client);
    if (rc < 0) {
        free(p);
        return rc;
    }
    snprintf(p->peer, sizeof p->peer, "%s", peer);
    uv_poll_start(&p->park.poll,
                  events == POLLOUT ? UV_WRITABLE : UV_READABLE, on_poll);
    uint64_t ms = (uint64_t)(ts->ctx->handshake_timeout * 1000.0);
    uv_timer_start(&p->park.timer, on_timeout, ms ? ms : 1, 0);
    return 0;
}

int ss__tls_start_request(ss_server *s, ss_request *req, const ss_addr *client)
{
    struct ss_tls_server *ts = s->priv->tls;
    ss_error err;
    ss_error_clear(&err);
    char peer[SS_ADDRSTRLEN];
    ss_addr_format(client, peer, sizeof peer);

    ss_tls_conn *c = calloc(1, sizeof *c);
    if (!c) {
        ss_error_set(&err, -ENOMEM, "TLS: out of memory");
        fail(s, req, client, &err);
        return 0;
    }
    c->heap = true;
    int rc = ss__tls_conn_setup(c, ts->ctx, req->fd, &err);
    if (rc < 0) {
        free(c);
        fail(s, req, client, &err);
        return 0;
    }
    req->tls = c; /* the request owns it from here: close_request frees it */

    uv_loop_t *loop = ss__watch_loop(s);
    if (!loop) { /* handle_request(): no loop to drive it, so inline */
        rc = ss__tls_handshake(c, peer, ts->ctx->handshake_timeout, &err);
        if (rc < 0) {
            fail(s, req, client, &err);
            return 0;
        }
        ss__stats_tls_handshake(s, true);
        return ss__process_verified(s, req, client);
    }

    if ((rc = ss__set_nonblock(req->fd, true)) < 0) {
        ss_error_set(&err, rc, "TLS: fcntl: %s", ss_strerror(rc));
        fail(s, req, client, &err);
        return 0;
    }
    short events = 0;
    rc = ss__tls_handshake_step(c, peer, &events, &err);
    if (rc == 0)
        return dispatch(s, req, client);
    if (rc == -EAGAIN) {
        rc = start_async(s, loop, req, client, peer, events);
        if (rc == 0) {
            req->fd = -1; /* the pending record has it now */
            req->tls = NULL;
            return 0;
        }
        ss_error_set(&err, rc, "TLS handshake with %s: %s", peer,
                     ss_strerror(rc));
    }
    fail(s, req, client, &err);
    return 0;
}

int ss_server_set_tls(ss_server *s, ss_tls_context *ctx)
{
    struct ss_server_priv *p = s->priv;
    if (!p)
        return -EBADF;
    if (ctx && (!ctx->server || s->socket_type != SOCK_STREAM))
        return -EINVAL;
    if (!p->tls) {
        if (!ctx)
            return 0;
        p->tls = calloc(1, sizeof *p->tls);
        if (!p->tls)
            return -ENOMEM;
        /* Another part of the library (the event mode) may use the hook
         * too: keep it and call it first. */
        p->tls->prev_loop_ending = p->loop_ending;
        p->loop_ending = loop_ending;
    }
    p->tls->ctx = ctx;
    return 0;
}

ss_tls_context *ss_server_get_tls(const ss_server *s)
{
    return s->priv && s->priv->tls ? s->priv->tls->ctx : NULL;
}

bool ss__tls_enabled(ss_server *s)
{
    /* The event mode reads its sockets itself and does TLS there
     * (event.c, tls_event.c): its requests go to process_request as they
     * are, and it asks for the context. */
    return s->priv->tls && s->priv->tls->ctx && !s->priv->event;
}

void ss__tls_server_free(ss_server *s)
{
    struct ss_server_priv *p = s->priv;
    if (!p || !p->tls)
        return;
    if (p->loop_ending == loop_ending)
        p->loop_ending = p->tls->prev_loop_ending;
    free(p->tls);
    p->tls = NULL;
}
