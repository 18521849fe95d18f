/* event.c - EventMixIn: accepted connections become libuv streams on the
 * serving loop and drive callback-style handlers.  See event.h.
 *
 * Everything here runs on the loop thread, except ss_event_connections()
 * (an atomic counter).  A connection is one heap block, struct conn, with
 * the handler instance at its end; it is freed when the last of its libuv
 * handles (the stream, and the timer if one was started) has closed. */
#include <errno.h>
#include <limits.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#include <sockserv/event.h>
#include <sockserv/proxy.h>
#include <sockserv/tls.h>

#include "internal.h"

const ss_mixin ss_event_mixin = {.name = "EventMixIn"};

/* The one read buffer a server lends to whichever connection has data;
 * TLS connections decrypt into a second one of the same size. */
#define READ_BUFFER_SIZE 65536
/* TLS moves ciphertext through OpenSSL's memory BIOs a record at a time
 * (the largest record is 16 KiB of plaintext plus its overhead), so each
 * BIO's buffer settles at one record's size and is reused: feeding or
 * encrypting 64 KiB at once would grow it to 87 KiB, and replacing such
 * buffers as they grow makes malloc hand memory back to the kernel and
 * take it again on every message. */
#define TLS_FEED_CHUNK (16384 + 2048 + 5)
#define TLS_WRITE_CHUNK 16384

struct conn {
    struct ss_event *ev;
    struct conn *prev, *next;
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } io;
    uv_timer_t *timer;  /* NULL until the first ss_event_timer_start */
    struct ss_evtls *tls; /* NULL: plaintext (tls_event.c) */
    uv_timer_t *tls_timer; /* bounds the TLS handshake while it runs */
    size_t queued;      /* bytes in uv_write requests not yet done */
    int fd;             /* for handle_error's request */
    unsigned char open_handles;
    bool read_paused;   /* by backpressure */
    bool eof;           /* the peer finished sending */
    bool connected;     /* on_connect ran: on_close is owed (implicit TLS:
                           only once the handshake is done) */
    bool closing;       /* ss_event_close or abort was called */
    bool aborted;       /* uv_close was called on io */
    struct ss_proxy_info *proxy; /* the request's, owned from accept on */
    bool owned;         /* the request is ours: "finished" is owed */
    bool handshaking;   /* a TLS handshake runs: its outcome is owed to
                           the figures */
    alignas(max_align_t) unsigned char instance[];
};

struct ss_event {
    ss_server *server;
    const ss_event_handler_class *cls; /* NULL until ss_event_server_init */
    ss_event_handler_class vt;         /* cls with every slot resolved */
    struct conn *conns;                /* open stream connections */
    size_t nconns;                     /* atomic: read from any thread */
    unsigned char *rbuf;
    bool rbuf_lent;
    unsigned char *tls_plain; /* TLS plaintext, on_data's; first TLS use */
    bool orphaned; /* server_close ran with connections still closing */
};

struct wreq {
    uv_write_t req;
    struct conn *c;
    size_t len;
    unsigned char data[];
};

static struct conn *conn_of(const ss_event_handler *h)
{
    return (struct conn *)((char *)h - offsetof(struct conn, instance));
}

static ss_event_handler *handler_of(struct conn *c)
{
    return (ss_event_handler *)c->instance;
}

/* --- the root handler class --------------------------------------------- */

static void base_configure(ss_event_handler *h)
{
    h->high_water = 64 * 1024;
    h->low_water = 16 * 1024;
    h->write_limit = 4 * 1024 * 1024;
    h->disable_nagle_algorithm = false;
}

static int base_on_connect(ss_event_handler *h, ss_error *err)
{
    (void)h;
    (void)err;
    return 0;
}

static int base_on_data(ss_event_handler *h, const unsigned char *data,
                        size_t len, ss_error *err)
{
    (void)h;
    (void)data;
    (void)len;
    (void)err;
    return 0;
}

static int base_on_eof(ss_event_handler *h, ss_error *err)
{
    (void)err;
    ss_event_close(h);
    return 0;
}

static int base_on_nothing(ss_event_handler *h, ss_error *err)
{
    (void)h;
    (void)err;
    return 0;
}

static void base_on_close(ss_event_handler *h)
{
    (void)h;
}

const ss_event_handler_class ss_event_handler_base_class = {
    .base = NULL,
    .name = "EventHandler",
    .instance_size = sizeof(ss_event_handler),
    .configure = base_configure,
    .on_connect = base_on_connect,
    .on_data = base_on_data,
    .on_eof = base_on_eof,
    .on_drain = base_on_nothing,
    .on_timer = base_on_nothing,
    .on_close = base_on_close,
};

static void resolve(ss_event_handler_class *out, const ss_event_handler_class *cls)
{
    *out = *cls;
#define RESOLVE(slot)                                                          \
    out->slot = (__typeof__(out->slot))ss_class_lookup(                        \
        cls, offsetof(ss_event_handler_class, slot));
    RESOLVE(configure) RESOLVE(on_connect) RESOLVE(on_data) RESOLVE(on_eof)
    RESOLVE(on_drain) RESOLVE(on_timer) RESOLVE(on_close)
#undef RESOLVE
    for (const ss_event_handler_class *c = cls; c; c = c->base)
        if (c->instance_size) {
            out->instance_size = c->instance_size;
            break;
        }
    if (out->instance_size < sizeof(ss_event_handler))
        out->instance_size = sizeof(ss_event_handler);
}

/* The request handler class an event server is constructed with: its
 * requests never reach a blocking handler, unless a class above the mixin
 * sends them there. */
static int event_request_handle(ss_handler *h, ss_error *err)
{
    (void)h;
    return ss_error_set(err, -EOPNOTSUPP, "an EventMixIn server's requests "
                                          "are served by its event handler");
}

static const ss_handler_class event_request_handler_class = {
    .base = &ss_base_request_handler_class,
    .name = "EventRequestHandler",
    .handle = event_request_handle,
};

/* --- connections ---------------------------------------------------------- */

static struct conn *conn_new(struct ss_event *ev, const ss_addr *client)
{
    struct conn *c = calloc(1, sizeof *c + ev->vt.instance_size);
    if (!c)
        return NULL;
    c->ev = ev;
    c->fd = -1;
    ss_event_handler *h = handler_of(c);
    h->cls = ev->cls;
    h->server = ev->server;
    h->client_address = *client;
    ev->vt.configure(h);
    return c;
}

static void conn_free(struct conn *c)
{
    struct ss_event *ev = c->ev;
    if (c->prev)
        c->prev->next = c->next;
    else if (ev->conns == c)
        ev->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->proxy);
    ss__evtls_free(c->tls);
    free(c);
    if (__atomic_sub_fetch(&ev->nconns, 1, __ATOMIC_ACQ_REL) == 0 && ev->orphaned) {
        free(ev->rbuf);
        free(ev->tls_plain);
        free(ev);
    }
}

static void on_handle_closed(uv_handle_t *hd)
{
    struct conn *c = hd->data;
    if (hd != &c->io.handle)
        free(hd); /* the timer */
    if (--c->open_handles > 0)
        return;
    if (c->connected)
        c->ev->vt.on_close(handler_of(c));
    /* Also for an implicit-TLS connection whose handshake never ended: it
     * was a request all the same.  When orphaned, the server and its
     * figures are gone. */
    if (c->owned && !c->ev->orphaned)
        ss__count_finished(c->ev->server);
    conn_free(c);
}

static void close_tls_timer(struct conn *c)
{
    if (c->tls_timer) {
        uv_close((uv_handle_t *)c->tls_timer, on_handle_closed);
        c->tls_timer = NULL;
    }
}

static void conn_abort(struct conn *c)
{
    c->closing = true;
    if (c->timer && !uv_is_closing((uv_handle_t *)c->timer))
        uv_close((uv_handle_t *)c->timer, on_handle_closed);
    close_tls_timer(c);
    if (!c->aborted) {
        c->aborted = true;
        uv_close(&c->io.handle, on_handle_closed);
    }
}

/* A callback or the connection failed: handle_error (unless fatal), then
 * close at once.  Python: an exception in handle() -> handle_error ->
 * shutdown_request. */
static void conn_fail(struct conn *c, int rc, ss_error *err, const char *what)
{
    ss_server *s = c->ev->server;
    ss_event_handler *h = handler_of(c);
    ss__error_default(err, rc, what);
    if (c->handshaking) { /* as tls_server.c: a handshake, not a handler */
        c->handshaking = false;
        ss__stats_tls_handshake(s, false);
    } else {
        ss__count(s, SS__HANDLER_ERRORS, 1);
    }
    if (err->fatal) {
        ss__watch_fatal(s, err->code);
    } else {
        ss_request req = {.fd = c->fd};
        s->vt.handle_error(s, &req, &h->client_address, err);
    }
    conn_abort(c);
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = hd->data;
    struct ss_event *ev = c->ev;
    (void)suggested;
    if (!ev->rbuf)
        ev->rbuf = malloc(READ_BUFFER_SIZE);
    if (ev->rbuf && !ev->rbuf_lent) {
        ev->rbuf_lent = true;
        *buf = uv_buf_init((char *)ev->rbuf, READ_BUFFER_SIZE);
        return;
    }
    /* Lent already: libuv reads one stream at a time, so this does not
     * happen; stay correct if it ever does. */
    char *p = malloc(READ_BUFFER_SIZE);
    *buf = uv_buf_init(p, p ? READ_BUFFER_SIZE : 0);
}

static void give_back(struct ss_event *ev, const uv_buf_t *buf)
{
    if (buf->base == (char *)ev->rbuf)
        ev->rbuf_lent = false;
    else
        free(buf->base);
}

/* --- TLS (tls_event.c does the TLS, this the moving) --------------------- */

static int raw_write(struct conn *c, const void *buf, size_t len);

/* Sends whatever the last TLS call produced: records, alerts, tickets. */
static int tls_flush(struct conn *c)
{
    const unsigned char *p;
    size_t n = ss__evtls_output(c->tls, &p);
    int rc = 0;
    if (n > 0 && !c->aborted)
        rc = raw_write(c, p, n);
    ss__evtls_output_sent(c->tls);
    return rc;
}

static int tls_write(struct conn *c, const unsigned char *p, size_t len)
{
    for (size_t off = 0; off < len;) {
        size_t n = len - off < TLS_WRITE_CHUNK ? len - off : TLS_WRITE_CHUNK;
        ss_error err;
        ss_error_clear(&err);
        int rc = ss__evtls_write(c->tls, p + off, n, &err);
        int frc = tls_flush(c);
        if (rc < 0)
            return rc;
        if (frc < 0)
            return frc;
        off += n;
    }
    /* Application bytes, as the other modes count under TLS. */
    ss__count(c->ev->server, SS__BYTES_OUT, len);
    return 0;
}

/* The handshake is done: its timer goes; an implicit-TLS connection now
 * becomes the handler's (on_connect); STARTTLS writes made meanwhile go. */
static int tls_established(struct conn *c, ss_error *err, const char **what)
{
    close_tls_timer(c);
    c->handshaking = false;
    ss__stats_tls_handshake(c->ev->server, true);
    *what = "TLS";
    int rc = ss__evtls_write_held(c->tls, err);
    int frc = tls_flush(c);
    if (rc < 0)
        return rc;
    if (frc < 0)
        return ss_error_set(err, frc, "write: %s", uv_strerror(frc));
    if (!c->connected) {
        c->connected = true;
        *what = "on_connect";
        return c->ev->vt.on_connect(handler_of(c), err);
    }
    return 0;
}

/* Runs the TLS engine over what has been fed: the handshake, then the
 * plaintext to on_data, until it needs more input. */
static int tls_pump(struct conn *c, ss_error *err, const char **what)
{
    struct ss_evtls *t = c->tls;
    struct ss_event *ev = c->ev;
    ss_event_handler *h = handler_of(c);
    if (!ss__evtls_established(t)) {
        *what = "TLS handshake";
        int rc = ss__evtls_handshake(t, err);
        int frc = tls_flush(c); /* the flight, or the alert that says why */
        if (rc == -EAGAIN)
            return frc < 0 ? ss_error_set(err, frc, "write: %s",
                                          uv_strerror(frc))
                           : 0;
        if (rc < 0)
            return rc;
        if ((rc = tls_established(c, err, what)) < 0 || c->closing)
            return rc;
    }
    if (!ev->tls_plain && !(ev->tls_plain = malloc(READ_BUFFER_SIZE)))
        return ss_error_set(err, -ENOMEM, "TLS: out of memory");
    unsigned char *buf = ev->tls_plain;
    while (!c->closing) {
        *what = "TLS";
        ssize_t n = ss__evtls_read(t, buf, READ_BUFFER_SIZE, err);
        int frc = tls_flush(c); /* a key update's answer, an alert... */
        if (n < 0 && n != -EAGAIN)
            return (int)n;
        if (frc < 0)
            return ss_error_set(err, frc, "write: %s", uv_strerror(frc));
        if (n == -EAGAIN)
            break; /* wait for the stream */
        if (n == 0) { /* close_notify: the peer has finished sending */
            c->eof = true;
            uv_read_stop(&c->io.stream);
            *what = "on_eof";
            return c->ev->vt.on_eof(h, err);
        }
        ss__count(ev->server, SS__BYTES_IN, (uint64_t)n);
        *what = "on_data";
        int rc = c->ev->vt.on_data(h, buf, (size_t)n, err);
        if (rc < 0)
            return rc;
    }
    ss__evtls_trim(t);
    return 0;
}

static void on_tls_timeout(uv_timer_t *tm)
{
    struct conn *c = tm->data;
    if (c->closing) { /* closed mid-handshake: nothing left to wait for */
        c->handshaking = false;
        ss__stats_tls_handshake(c->ev->server, false);
        conn_abort(c);
        return;
    }
    ss_error err;
    ss_error_clear(&err); /* not fatal */
    char peer[SS_ADDRSTRLEN];
    ss_error_set(&err, -ETIMEDOUT, "TLS handshake with %s: not done within "
                 "%g s", ss_addr_format(&handler_of(c)->client_address, peer,
                                        sizeof peer),
                 ss__evtls_conn(c->tls)->ctx->handshake_timeout);
    conn_fail(c, -ETIMEDOUT, &err, "TLS handshake");
}

/* Puts TLS under the connection and starts the handshake's clock. */
static int tls_attach(struct conn *c, ss_tls_context *ctx, ss_error *err)
{
    c->handshaking = true;
    int rc = ss__evtls_new(&c->tls, ctx, c->fd, &handler_of(c)->client_address,
                           err);
    if (rc < 0)
        return rc;
    uv_timer_t *tm = malloc(sizeof *tm);
    if (!tm)
        return ss_error_set(err, -ENOMEM, "TLS: out of memory");
    uv_timer_init(c->io.handle.loop, tm);
    tm->data = c;
    c->open_handles++;
    c->tls_timer = tm;
    uint64_t ms = (uint64_t)(ctx->handshake_timeout * 1000.0);
    uv_timer_start(tm, on_tls_timeout, ms ? ms : 1, 0);
    return 0;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = st->data;
    struct ss_event *ev = c->ev;
    ss_event_handler *h = handler_of(c);
    ss_error err;
    ss_error_clear(&err);
    int rc = 0;
    const char *what = "on_data";

    if (nread > 0 && !c->tls) /* TLS: the plaintext, counted in tls_pump */
        ss__count(ev->server, SS__BYTES_IN, (uint64_t)nread);
    if (nread > 0 && !c->closing && c->tls) {
        const char *p = buf->base;
        /* A record at a time (TLS_FEED_CHUNK); after close_notify (eof)
         * nothing that follows is the handler's. */
        for (size_t left = (size_t)nread;
             left > 0 && rc == 0 && !c->closing && !c->eof;) {
            size_t n = left < TLS_FEED_CHUNK ? left : TLS_FEED_CHUNK;
            what = "TLS";
            rc = ss__evtls_feed(c->tls, p, n);
            if (rc < 0)
                ss_error_set(&err, rc, "TLS: out of memory");
            else
                rc = tls_pump(c, &err, &what);
            p += n;
            left -= n;
        }
    } else if (nread > 0 && !c->closing) {
        rc = ev->vt.on_data(h, (const unsigned char *)buf->base, (size_t)nread,
                            &err);
    } else if (nread == UV_EOF && c->tls && !ss__evtls_established(c->tls)) {
        c->eof = true;
        uv_read_stop(st);
        char peer[SS_ADDRSTRLEN];
        what = "TLS handshake";
        rc = ss_error_set(&err, SS_ECLOSED, "TLS handshake with %s: the peer "
                          "closed the connection",
                          ss_addr_format(&h->client_address, peer, sizeof peer));
    } else if (nread == UV_EOF) {
        c->eof = true;
        uv_read_stop(st);
        if (c->tls)
            ss__evtls_peer_eof(c->tls);
        if (!c->closing) {
            what = "on_eof";
            rc = ev->vt.on_eof(h, &err);
        }
    } else if (nread == UV_ENOBUFS) {
        rc = ss_error_set(&err, -ENOMEM, "read: out of memory");
    } else if (nread < 0) {
        rc = ss_error_set(&err, (int)nread, "read: %s", uv_strerror((int)nread));
    }
    give_back(ev, buf);
    if (rc < 0 && !c->aborted)
        conn_fail(c, rc, &err, what);
}

static void start_reading(struct conn *c)
{
    if (!c->closing && !c->eof && !c->read_paused)
        uv_read_start(&c->io.stream, on_alloc, on_read);
}

static void on_written(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct conn *c = w->c;
    c->queued -= w->len;
    if (status == 0 && !c->ev->orphaned && !c->tls) /* TLS: tls_write's */
        ss__count(c->ev->server, SS__BYTES_OUT, w->len);
    free(w);
    if (c->aborted)
        return;
    if (status < 0) {
        ss_error err;
        ss_error_clear(&err); /* not fatal */
        ss_error_set(&err, status, "write: %s", uv_strerror(status));
        conn_fail(c, status, &err, "write");
        return;
    }
    if (c->read_paused && c->queued <= handler_of(c)->low_water) {
        c->read_paused = false;
        start_reading(c);
        if (!c->closing) {
            ss_error err;
            ss_error_clear(&err);
            int rc = c->ev->vt.on_drain(handler_of(c), &err);
            if (rc < 0)
                conn_fail(c, rc, &err, "on_drain");
        }
    }
}

static int datagram_write(struct conn *c, const void *buf, size_t len)
{
    const ss_addr *to = &handler_of(c)->client_address;
    for (;;) {
        ssize_t n = sendto(c->fd, buf, len, MSG_NOSIGNAL,
                           (const struct sockaddr *)&to->sa, to->len);
        if (n >= 0) {
            ss__count(c->ev->server, SS__BYTES_OUT, (uint64_t)n);
            return 0;
        }
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

/* Bytes onto the stream: what the socket takes now, the rest queued (and
 * reading paused at high_water). */
static int raw_write(struct conn *c, const void *buf, size_t len)
{
    ss_event_handler *h = handler_of(c);
    size_t done = 0;
    if (c->queued == 0) { /* nothing ahead of us: try the socket at once */
        /* send(MSG_NOSIGNAL) rather than uv_try_write's write(): a peer
         * that has gone (a close_notify answered after the client closed)
         * is -EPIPE, not a SIGPIPE that kills a program which did not
         * ignore it.  libuv's queue is empty when ours is. */
        ssize_t n;
        do
            n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n >= 0) {
            done = (size_t)n;
            if (!c->tls) /* TLS: the plaintext, counted in tls_write */
                ss__count(c->ev->server, SS__BYTES_OUT, done);
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return -errno;
        }
        if (done == len)
            return 0;
    }
    size_t rest = len - done;
    struct wreq *w = malloc(sizeof *w + rest);
    if (!w)
        return -ENOMEM;
    memcpy(w->data, (const char *)buf + done, rest);
    w->c = c;
    w->len = rest;
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)rest);
    int rc = uv_write(&w->req, &c->io.stream, &b, 1, on_written);
    if (rc < 0) {
        free(w);
        return rc;
    }
    c->queued += rest;
    if (c->queued >= h->high_water && !c->read_paused) {
        c->read_paused = true; /* until on_written brings it to low_water */
        uv_read_stop(&c->io.stream);
    }
    return 0;
}

int ss_event_write(ss_event_handler *h, const void *buf, size_t len)
{
    struct conn *c = conn_of(h);
    if (h->datagram)
        return datagram_write(c, buf, len);
    if (c->closing)
        return SS_ECLOSED;
    if (len == 0)
        return 0;
    if (len > UINT_MAX) /* a uv_buf_t's length is an unsigned int */
        return -EINVAL;
    if (ss_event_buffered(h) + len > h->write_limit)
        return SS_EFULL; /* before sending anything: all or nothing */
    if (c->tls)
        return tls_write(c, buf, len);
    return raw_write(c, buf, len);
}

size_t ss_event_buffered(const ss_event_handler *h)
{
    const struct conn *c = conn_of(h);
    return c->queued + (c->tls ? ss__evtls_held(c->tls) : 0);
}

int ss_event_start_tls(ss_event_handler *h, ss_tls_context *ctx,
                       const void *ahead, size_t ahead_len, ss_error *err)
{
    struct conn *c = conn_of(h);
    if (h->datagram)
        return ss_error_set(err, -EINVAL, "STARTTLS: not on a datagram");
    if (c->closing)
        return ss_error_set(err, SS_ECLOSED, "STARTTLS: the connection is "
                                             "closing");
    if (c->tls)
        return ss_error_set(err, -EALREADY, "STARTTLS: the connection is "
                                            "TLS already");
    if (!ctx || !ctx->server)
        return ss_error_set(err, -EINVAL, "STARTTLS: needs a server context");
    int rc = tls_attach(c, ctx, err);
    if (rc == 0 && ahead_len > 0 && ss__evtls_feed(c->tls, ahead, ahead_len) < 0)
        rc = ss_error_set(err, -ENOMEM, "STARTTLS: out of memory");
    if (rc < 0)
        return rc; /* the handler returns it: the connection fails */
    if (ahead_len == 0)
        return 0;
    /* The ClientHello may have come with the command: answer it now, the
     * client may send nothing more before it hears from us.  (The
     * handshake cannot end here: the client's Finished needs our flight.) */
    rc = ss__evtls_handshake(c->tls, err);
    int frc = tls_flush(c);
    if (rc == -EAGAIN || rc == 0)
        rc = frc < 0 ? ss_error_set(err, frc, "STARTTLS: write: %s",
                                    uv_strerror(frc))
                     : 0;
    return rc;
}

const ss_tls_conn *ss_event_tls(const ss_event_handler *h)
{
    const struct conn *c = conn_of(h);
    return c->tls ? ss__evtls_conn(c->tls) : NULL;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct conn *c = req->data;
    (void)status;
    free(req);
    conn_abort(c);
}

void ss_event_close(ss_event_handler *h)
{
    struct conn *c = conn_of(h);
    if (h->datagram || c->closing)
        return;
    c->closing = true;
    if (c->timer)
        uv_timer_stop(c->timer);
    uv_read_stop(&c->io.stream);
    if (c->tls) { /* close_notify goes out after the queued data, then FIN */
        ss_error err;
        ss_error_clear(&err);
        ss__evtls_write_held(c->tls, &err); /* what still can go, goes */
        ss__evtls_close_notify(c->tls);
        tls_flush(c);
    }
    /* uv_shutdown waits for the queued writes, then shuts SHUT_WR. */
    uv_shutdown_t *req = malloc(sizeof *req);
    if (req) {
        req->data = c;
        if (uv_shutdown(req, &c->io.stream, on_shutdown) == 0)
            return;
        free(req);
    }
    conn_abort(c);
}

void ss_event_abort(ss_event_handler *h)
{
    if (!h->datagram)
        conn_abort(conn_of(h));
}

static void on_timer(uv_timer_t *t)
{
    struct conn *c = t->data;
    if (c->closing)
        return;
    ss_error err;
    ss_error_clear(&err);
    int rc = c->ev->vt.on_timer(handler_of(c), &err);
    if (rc < 0 && !c->aborted)
        conn_fail(c, rc, &err, "on_timer");
}

int ss_event_timer_start(ss_event_handler *h, uint64_t timeout_ms,
                         uint64_t repeat_ms)
{
    struct conn *c = conn_of(h);
    if (h->datagram)
        return -EINVAL;
    if (c->closing)
        return SS_ECLOSED;
    if (!c->timer) {
        c->timer = malloc(sizeof *c->timer);
        if (!c->timer)
            return -ENOMEM;
        uv_timer_init(c->io.handle.loop, c->timer);
        c->timer->data = c;
        c->open_handles++;
    }
    return uv_timer_start(c->timer, on_timer, timeout_ms, repeat_ms);
}

void ss_event_timer_stop(ss_event_handler *h)
{
    struct conn *c = conn_of(h);
    if (c->timer)
        uv_timer_stop(c->timer);
}

const ss_proxy_info *ss_event_proxy(const ss_event_handler *h)
{
    return h->datagram ? NULL : conn_of(h)->proxy;
}

size_t ss_event_connections(ss_server *s)
{
    if (!s->priv || !s->priv->event)
        return 0;
    return __atomic_load_n(&s->priv->event->nconns, __ATOMIC_ACQUIRE);
}

/* --- the mixin's slots ------------------------------------------------------ */

/* The loop is ending (shutdown, or detach): close every connection while
 * the loop can still run their close callbacks. */
static void event_loop_ending(ss_server *s, void *loop)
{
    (void)loop;
    struct ss_event *ev = s->priv->event;
    if (!ev)
        return;
    for (struct conn *c = ev->conns; c; c = c->next)
        conn_abort(c);
}

int ss_event_mixin_init(ss_server *s, ss_error *err)
{
    int rc = SS_MIXIN_SUPER(s, &ss_event_mixin, init)(s, err);
    if (rc < 0)
        return rc;
    struct ss_event *ev = calloc(1, sizeof *ev);
    if (!ev)
        return ss_error_set(err, -ENOMEM, "event: out of memory");
    ev->server = s;
    s->priv->event = ev;
    s->priv->loop_ending = event_loop_ending;
    return 0;
}

/* One datagram: a handler that lives for this call only. */
static int serve_datagram(struct ss_event *ev, ss_request *req,
                          const ss_addr *client, ss_error *err)
{
    ss_server *s = ev->server;
    struct conn *c = conn_new(ev, client);
    if (!c)
        return ss_error_set(err, -ENOMEM, "event: out of memory");
    c->fd = req->fd;
    ss_event_handler *h = handler_of(c);
    h->datagram = true;
    int rc = ev->vt.on_connect(h, err);
    if (rc == 0 && req->packet_len > 0)
        rc = ev->vt.on_data(h, req->packet, req->packet_len, err);
    ev->vt.on_close(h);
    free(c);
    if (rc < 0) {
        ss__count(s, SS__HANDLER_ERRORS, 1);
        return rc; /* the caller: handle_error, then shutdown_request */
    }
    s->vt.shutdown_request(s, req);
    ss__count_finished(s);
    return 0;
}

int ss_event_mixin_process_request(ss_server *s, ss_request *req,
                                   const ss_addr *client, ss_error *err)
{
    struct ss_event *ev = s->priv->event;
    if (!ev || !ev->cls)
        return ss_error_set(err, -EINVAL, "%s: no event handler class "
                                          "(use ss_event_server_init)",
                            s->cls->name);
    if (req->packet)
        return serve_datagram(ev, req, client, err);

    uv_loop_t *loop = ss__watch_loop(s);
    if (!loop)
        return ss_error_set(err, -EOPNOTSUPP, "%s: connections need the "
                                              "serving loop (serve_forever "
                                              "or attach)", s->cls->name);
    struct conn *c = conn_new(ev, client);
    if (!c)
        return ss_error_set(err, -ENOMEM, "event: out of memory");
    bool is_unix = s->address_family == AF_UNIX;
    int rc = is_unix ? uv_pipe_init(loop, &c->io.pipe, 0)
                     : uv_tcp_init(loop, &c->io.tcp);
    if (rc < 0) {
        free(c);
        return ss_error_set(err, rc, "event: %s", uv_strerror(rc));
    }
    c->io.handle.data = c;
    c->open_handles = 1;
    c->next = ev->conns;
    if (ev->conns)
        ev->conns->prev = c;
    ev->conns = c;
    __atomic_add_fetch(&ev->nconns, 1, __ATOMIC_ACQ_REL);
    rc = is_unix ? uv_pipe_open(&c->io.pipe, req->fd)
                 : uv_tcp_open(&c->io.tcp, req->fd);
    if (rc < 0) {
        /* The descriptor is still the request's: the caller closes it. */
        conn_abort(c);
        return ss_error_set(err, rc, "event: %s", uv_strerror(rc));
    }
    /* The stream owns the descriptor now. */
    c->fd = req->fd;
    req->fd = -1;
    c->proxy = req->proxy;
    req->proxy = NULL;
    c->owned = true;

    ss_event_handler *h = handler_of(c);
    if (h->disable_nagle_algorithm && s->address_family != AF_UNIX)
        uv_tcp_nodelay(&c->io.tcp, 1);
    ss_error cerr;
    ss_error_clear(&cerr);
    ss_tls_context *tls = ss_server_get_tls(s);
    if (tls) {
        /* Implicit TLS: the handler meets the connection once the
         * handshake is done (tls_established); a failed one is reported
         * to handle_error and never reaches it. */
        rc = tls_attach(c, tls, &cerr);
        if (rc < 0)
            conn_fail(c, rc, &cerr, "TLS");
        else
            start_reading(c);
        return 0;
    }
    c->connected = true;
    rc = ev->vt.on_connect(h, &cerr);
    if (rc < 0) {
        if (!c->aborted)
            conn_fail(c, rc, &cerr, "on_connect");
        return 0;
    }
    start_reading(c);
    return 0;
}

void ss_event_mixin_server_close(ss_server *s)
{
    SS_MIXIN_SUPER(s, &ss_event_mixin, server_close)(s);
    struct ss_event *ev = s->priv->event;
    if (!ev)
        return;
    s->priv->event = NULL;
    s->priv->loop_ending = NULL;
    if (__atomic_load_n(&ev->nconns, __ATOMIC_ACQUIRE) > 0) {
        /* Detached with close callbacks still to run on the user's loop:
         * the last one frees this (event.h asks not to get here). */
        ev->orphaned = true;
        return;
    }
    free(ev->rbuf);
    free(ev->tls_plain);
    free(ev);
}

int ss_event_server_init(ss_server *s, const ss_server_class *cls,
                         const ss_addr *server_address,
                         const ss_event_handler_class *handler_class,
                         unsigned flags, ss_error *err)
{
    if (!handler_class)
        return ss_error_set(err, -EINVAL, "event handler class is required");
    int rc = ss_server_init(s, cls, server_address,
                            &event_request_handler_class, flags, err);
    if (rc < 0)
        return rc;
    struct ss_event *ev = s->priv->event;
    if (!ev || !ss_server_mixin_base(s, &ss_event_mixin)) {
        ss_server_close(s);
        return ss_error_set(err, -EINVAL, "%s has no EventMixIn",
                            cls->name ? cls->name : "the server class");
    }
    ev->cls = handler_class;
    resolve(&ev->vt, handler_class);
    return 0;
}

const ss_server_class ss_event_tcp_server_class = {
    .base = &ss_tcp_server_class,
    .name = "EventTCPServer",
    SS_EVENT_MIXIN_SLOTS,
};

const ss_server_class ss_event_udp_server_class = {
    .base = &ss_udp_server_class,
    .name = "EventUDPServer",
    SS_EVENT_MIXIN_SLOTS,
};

const ss_server_class ss_event_unix_stream_server_class = {
    .base = &ss_unix_stream_server_class,
    .name = "EventUnixStreamServer",
    SS_EVENT_MIXIN_SLOTS,
};

const ss_server_class ss_event_unix_datagram_server_class = {
    .base = &ss_unix_datagram_server_class,
    .name = "EventUnixDatagramServer",
    SS_EVENT_MIXIN_SLOTS,
};
