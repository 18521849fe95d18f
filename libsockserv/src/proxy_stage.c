/* proxy_stage.c - the PROXY protocol stage of stream servers (proxy.h):
 * between get_request and verify_request, each accepted connection from a
 * trusted balancer must deliver a header, read exactly, within a timeout.
 *
 * The header is read by the serving loop, never by a request thread, so a
 * balancer that stalls costs no thread, child or pool slot, whatever the
 * mixin, and the event mode gets a descriptor whose next byte is the
 * client's first.  Exactly the header is taken: each readable event peeks
 * at what the socket holds, lets the parser say how much of it is header,
 * and receives only that; the rest stays in the socket for the handler,
 * the TLS handshake or the event handler.  A peek that finds only part of
 * the header consumes all of it, so a level-triggered poll never spins on
 * bytes left behind. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#include <sockserv/proxy.h>

#include "internal.h"
#include "parked.h"

/* A connection between accept and the end of its header (parked.h:
 * park.client is the socket's peer, the balancer). */
struct pending {
    ss__parked park; /* first: the handles' data and the heap block */
    ss_proxy_parser parser;
};

struct ss_proxy_server {
    bool on;
    ss_proxy_config cfg;
    ss__parked *pending;
    void (*prev_loop_ending)(ss_server *s, void *uv_loop);
};

/* --- configuration --------------------------------------------------------- */

void ss_proxy_config_init(ss_proxy_config *c)
{
    memset(c, 0, sizeof *c);
    c->timeout = SS_PROXY_TIMEOUT_DEFAULT;
}

int ss_proxy_config_trust(ss_proxy_config *c, const char *list, ss_error *err)
{
    ss_cidr nets[SS_PROXY_TRUSTED_MAX];
    size_t n = c->ntrusted;
    memcpy(nets, c->trusted, n * sizeof nets[0]);
    const char *s = list;
    for (;;) {
        s += strspn(s, ", \t");
        if (!*s)
            break;
        size_t len = strcspn(s, ", \t");
        char item[64];
        if (len >= sizeof item)
            return ss_error_set(err, -EINVAL, "'%.*s': not an address/prefix",
                                (int)len, s);
        if (n == SS_PROXY_TRUSTED_MAX)
            return ss_error_set(err, -ENOSPC, "more than %d trusted networks",
                                SS_PROXY_TRUSTED_MAX);
        memcpy(item, s, len);
        item[len] = '\0';
        int rc = ss_cidr_parse(&nets[n], item, err);
        if (rc < 0)
            return rc;
        n++;
        s += len;
    }
    memcpy(c->trusted, nets, n * sizeof nets[0]);
    c->ntrusted = n;
    return 0;
}

static void loop_ending(ss_server *s, void *uv_loop);

int ss_server_set_proxy(ss_server *s, const ss_proxy_config *cfg)
{
    struct ss_server_priv *p = s->priv;
    if (!p)
        return -EBADF;
    if (!cfg) {
        if (p->proxy)
            p->proxy->on = false;
        return 0;
    }
    if (s->socket_type != SOCK_STREAM || cfg->ntrusted > SS_PROXY_TRUSTED_MAX ||
        (cfg->ntrusted == 0 && s->address_family != AF_UNIX) ||
        !(cfg->timeout <= 86400.0)) /* NaN too */
        return -EINVAL;
    if (!p->proxy) {
        p->proxy = calloc(1, sizeof *p->proxy);
        if (!p->proxy)
            return -ENOMEM;
        /* Chained as implicit TLS chains it: whoever holds the hook first
         * (the event mode) still runs. */
        p->proxy->prev_loop_ending = p->loop_ending;
        p->loop_ending = loop_ending;
    }
    p->proxy->cfg = *cfg;
    if (p->proxy->cfg.timeout <= 0)
        p->proxy->cfg.timeout = SS_PROXY_TIMEOUT_DEFAULT;
    p->proxy->on = true;
    return 0;
}

const ss_proxy_config *ss_server_get_proxy(const ss_server *s)
{
    return s->priv && s->priv->proxy && s->priv->proxy->on
               ? &s->priv->proxy->cfg
               : NULL;
}

const ss_proxy_info *ss_request_proxy(const ss_request *req)
{
    return req ? req->proxy : NULL;
}

bool ss__proxy_enabled(ss_server *s)
{
    return s->priv->proxy && s->priv->proxy->on;
}

void ss__proxy_server_free(ss_server *s)
{
    struct ss_server_priv *p = s->priv;
    if (!p || !p->proxy)
        return;
    if (p->loop_ending == loop_ending)
        p->loop_ending = p->proxy->prev_loop_ending;
    free(p->proxy);
    p->proxy = NULL;
}

/* --- reading exactly the header ------------------------------------------- */

/* Takes what the socket holds of the header, never a byte more.  Returns 0
 * when the header is complete, -EAGAIN when more must come, or an error
 * (the parser's, or the socket's). */
static int read_step(int fd, ss_proxy_parser *pp, ss_error *err)
{
    unsigned char buf[SS_PROXY_V2_MAX];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return -EAGAIN;
        if (n < 0)
            return ss_error_errno(err, "PROXY header: recv");
        if (n == 0)
            return ss_error_set(err, SS_ECLOSED, "PROXY header: the peer "
                                "closed before a complete header");
        ssize_t take = ss_proxy_parser_feed(pp, buf, (size_t)n, err);
        if (take < 0)
            return (int)take;
        /* The bytes peeked are still first in the socket: receive exactly
         * those the parser took.  Only this thread reads it now. */
        ssize_t got;
        do
            got = recv(fd, buf, (size_t)take, MSG_DONTWAIT);
        while (got < 0 && errno == EINTR);
        if (got != take)
            return ss_error_set(err, got < 0 ? -errno : -EIO,
                                "PROXY header: recv: %s",
                                got < 0 ? ss_strerror(-errno) : "short read");
        if (ss_proxy_parser_header(pp))
            return 0;
    }
}

/* ss_server_handle_request() has no loop: wait here, bounded. */
static int read_blocking(int fd, ss_proxy_parser *pp, double timeout,
                         ss_error *err)
{
    double deadline = ss__now() + timeout;
    for (;;) {
        int rc = read_step(fd, pp, err);
        if (rc != -EAGAIN)
            return rc;
        double left = deadline - ss__now();
        if (left <= 0)
            return ss_error_set(err, -ETIMEDOUT, "PROXY header: not complete "
                                "within %g s", timeout);
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, ss__poll_ms(left)) < 0 && errno != EINTR)
            return ss_error_errno(err, "PROXY header: poll");
    }
}

static bool trusted(const struct ss_proxy_server *ps, ss_server *s,
                    const ss_addr *peer)
{
    if (s->address_family == AF_UNIX) /* by configuration: see proxy.h */
        return true;
    for (size_t i = 0; i < ps->cfg.ntrusted; i++)
        if (ss_cidr_match(&ps->cfg.trusted[i], peer))
            return true;
    return false;
}

/* Never a request: reported, closed and counted as refused_proxy. */
static void fail(ss_server *s, ss_request *req, const ss_addr *peer,
                 const ss_error *err)
{
    s->vt.handle_error(s, req, peer, err);
    s->vt.shutdown_request(s, req);
    ss__count(s, SS__REFUSED_PROXY, 1);
}

/* The header is complete: the request carries what it said, and its
 * source is the client from now on. */
static int attach_info(ss_request *req, const ss_addr *peer,
                       const ss_proxy_parser *pp, ss_addr *client,
                       ss_error *err)
{
    ss_proxy_info *info = malloc(sizeof *info);
    if (!info)
        return ss_error_set(err, -ENOMEM, "PROXY: out of memory");
    info->balancer = *peer;
    info->header = *ss_proxy_parser_header(pp);
    req->proxy = info;
    *client = info->header.source.len > 0 ? info->header.source : *peer;
    return 0;
}

/* --- on the loop ------------------------------------------------------------ */

/* Shutdown was asked for as the header completed: never a request. */
static void dropped(ss_server *s, ss_request *req)
{
    s->vt.shutdown_request(s, req);
    ss__count(s, SS__REFUSED_PROXY, 1);
}

static void complete(struct pending *p, int rc, ss_error *err)
{
    ss_server *s = p->park.server;
    ss_addr peer = p->park.client, client;
    if (rc == 0)
        rc = attach_info(&p->park.req, &peer, &p->parser, &client, err);
    ss_request req = ss__unpark(&p->park);
    /* uv_poll made the socket non-blocking; the handler expects it as
     * accept gave it (implicit TLS and the event mode set their own). */
    if (rc == 0 && (rc = ss__set_nonblock(req.fd, false)) < 0)
        ss_error_set(err, rc, "PROXY: fcntl: %s", ss_strerror(rc));
    if (rc < 0) {
        fail(s, &req, &peer, err);
        return;
    }
    ss__resume_request(s, &req, &client, ss__request_accepted, dropped);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct pending *p = h->data;
    ss_error err;
    ss_error_clear(&err);
    (void)events;
    int rc = status < 0 ? ss_error_set(&err, status, "PROXY header: poll: %s",
                                       uv_strerror(status))
                        : read_step(p->park.req.fd, &p->parser, &err);
    if (rc != -EAGAIN)
        complete(p, rc, &err);
}

static void on_timeout(uv_timer_t *t)
{
    struct pending *p = t->data;
    ss_error err;
    ss_error_clear(&err);
    /* A sync handler may have kept the loop busy while the bytes came:
     * one last look before giving up. */
    int rc = read_step(p->park.req.fd, &p->parser, &err);
    if (rc == -EAGAIN)
        rc = ss_error_set(&err, -ETIMEDOUT, "PROXY header: not complete "
                          "within %g s",
                          p->park.server->priv->proxy->cfg.timeout);
    complete(p, rc, &err);
}

/* The loop goes away: connections still without a header were never
 * requests; they are closed without a report. */
static void loop_ending(ss_server *s, void *uv_loop)
{
    struct ss_proxy_server *ps = s->priv->proxy;
    if (ps->prev_loop_ending)
        ps->prev_loop_ending(s, uv_loop);
    while (ps->pending) {
        ss_request req = ss__unpark(ps->pending);
        dropped(s, &req);
    }
}

static int start_async(ss_server *s, uv_loop_t *loop, struct pending *p,
                       ss_request *req, const ss_addr *peer)
{
    struct ss_proxy_server *ps = s->priv->proxy;
    int rc = ss__park(&p->park, &ps->pending, loop, s, req, peer);
    if (rc < 0)
        return rc;
    uv_poll_start(&p->park.poll, UV_READABLE, on_poll);
    uint64_t ms = (uint64_t)(ps->cfg.timeout * 1000.0);
    uv_timer_start(&p->park.timer, on_timeout, ms ? ms : 1, 0);
    return 0;
}

int ss__proxy_start_request(ss_server *s, ss_request *req, const ss_addr *peer)
{
    struct ss_proxy_server *ps = s->priv->proxy;
    ss_error err;
    ss_error_clear(&err);
    if (!trusted(ps, s, peer)) {
        char text[SS_ADDRSTRLEN];
        ss_error_set(&err, -EACCES, "PROXY: %s is not a trusted balancer",
                     ss_addr_format(peer, text, sizeof text));
        fail(s, req, peer, &err);
        return 0;
    }
    /* Allocated before the first read: most headers are complete at once
     * and this is freed again, but a partial one needs its parser kept. */
    struct pending *p = malloc(sizeof *p);
    if (!p) {
        ss_error_set(&err, -ENOMEM, "PROXY: out of memory");
        fail(s, req, peer, &err);
        return 0;
    }
    ss_proxy_parser_init(&p->parser);
    uv_loop_t *loop = ss__watch_loop(s);
    int rc = loop ? read_step(req->fd, &p->parser, &err)
                  : read_blocking(req->fd, &p->parser, ps->cfg.timeout, &err);
    if (rc == -EAGAIN) {
        rc = start_async(s, loop, p, req, peer);
        if (rc == 0) {
            req->fd = -1; /* the pending record has it now */
            return 0;
        }
        ss_error_set(&err, rc, "PROXY: %s", uv_strerror(rc));
    }
    ss_addr client;
    if (rc == 0)
        rc = attach_info(req, peer, &p->parser, &client, &err);
    free(p);
    if (rc < 0) {
        fail(s, req, peer, &err);
        return 0;
    }
    return ss__request_accepted(s, req, &client);
}
