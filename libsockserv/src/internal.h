/* internal.h - what the library's files share and users never see. */
#ifndef SOCKSERV_INTERNAL_H
#define SOCKSERV_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <sockserv/address.h>
#include <sockserv/error.h>
#include <sockserv/handler.h>
#include <sockserv/server.h>

struct ss_watch;      /* loop.c: the libuv handles watching one server */
struct ss_thread_rec; /* threading.c: one request thread */
struct ss_pool;       /* threadpool.c: workers and the bounded queue */
struct ss_event;      /* event.c: the event-mode connections */
struct ss_tls_server; /* tls_server.c: implicit TLS */
struct ss_proxy_server; /* proxy_stage.c: the PROXY protocol stage */

/* A server's private state.  `lock` guards everything below it that more
 * than one thread touches: the shutdown handshake, the thread list and the
 * child list. */
struct ss_server_priv {
    pthread_mutex_t lock;
    pthread_cond_t cond;

    /* shutdown handshake (Python's __shutdown_request / __is_shut_down) */
    bool shutdown_request;
    bool is_shut_down;
    bool serving;          /* serve_forever running, or attached */
    bool attached;         /* on the caller's loop (ss_server_attach) */
    unsigned shutdown_waiters; /* shutdown() calls still inside: close waits */
    pthread_t serving_thread;
    struct ss_watch *watch; /* live while serving or attached */
    int fatal_code;         /* a fatal error that stopped the loop */

    /* ThreadingMixIn */
    struct ss_thread_rec *threads;      /* live request threads */
    struct ss_thread_rec *done_threads; /* finished, to be joined */
    struct ss_thread_rec *parked_threads; /* done, waiting for a request */
    size_t active_threads;
    unsigned parked;          /* on parked_threads */
    bool threads_closing;     /* server_close: parked threads must leave */

    /* ForkingMixIn */
    pid_t *children;
    size_t nchildren, cap_children;

    /* Backpressure (ThreadPoolMixIn's cap-and-pause): while set, the loop
     * does not watch the server's descriptor and the listen backlog holds
     * new clients.  Written with `lock` held, read by the loop thread. */
    bool accept_paused;
    /* ss_server_stop_accepting(): closed for good, whatever a mixin says. */
    bool retired;
    /* Called on the loop thread when the loop serving this server ends
     * (serve_forever returns, or detach): the event mode closes its
     * connections there, while their loop still runs. */
    void (*loop_ending)(ss_server *s, void *uv_loop);

    /* ThreadPoolMixIn */
    struct ss_pool *pool;
    /* EventMixIn */
    struct ss_event *event;
    /* Implicit TLS (tls_server.c): the context and pending handshakes. */
    struct ss_tls_server *tls;
    /* The figures (stats.c): shared with forked children, never NULL
     * between init and close. */
    struct ss_stats_block *stats;
    /* The PROXY protocol stage (proxy_stage.c): its settings and the
     * connections whose header is still coming. */
    struct ss_proxy_server *proxy;
};

/* stats.c: the server's figures (sockserv/stats.h).  One relaxed atomic
 * add per event: always on, no lock.  -DSS_NO_STATS compiles the adds out,
 * only to measure what they cost (doc/performance.md).  The gauges (active, pool_queued) are
 * unsigned and wrap; ss_server_stats() reads them as signed. */
enum ss__stat {
    SS__ACCEPTED,
    SS__REFUSED_VERIFY,
    SS__REFUSED_LIMIT,
    SS__REFUSED_PROXY,
    SS__FINISHED,
    SS__HANDLER_ERRORS,
    SS__BYTES_IN,
    SS__BYTES_OUT,
    SS__TLS_OK,
    SS__TLS_FAILED,
    SS__ACTIVE,
    SS__POOL_QUEUED,
    SS__NSTATS
};

/* rfile/wfile keep a pointer to one of these (sockfile.h). */
struct ss_stats_counter {
    _Atomic uint64_t n;
};

struct ss_stats_block {
    struct ss_stats_counter c[SS__NSTATS];
};

int ss__stats_create(ss_server *s);
void ss__stats_destroy(ss_server *s);

static inline void ss__counter_add(struct ss_stats_counter *c, uint64_t n)
{
#ifndef SS_NO_STATS
    if (c)
        atomic_fetch_add_explicit(&c->n, n, memory_order_relaxed);
#else
    (void)c;
    (void)n;
#endif
}

static inline struct ss_stats_counter *ss__counter(ss_server *s,
                                                   enum ss__stat k)
{
    return &s->priv->stats->c[k];
}

static inline void ss__count(ss_server *s, enum ss__stat k, uint64_t n)
{
#ifndef SS_NO_STATS
    atomic_fetch_add_explicit(&s->priv->stats->c[k].n, n,
                              memory_order_relaxed);
#else
    (void)s;
    (void)k;
    (void)n;
#endif
}

static inline void ss__gauge_set(ss_server *s, enum ss__stat k, uint64_t v)
{
#ifndef SS_NO_STATS
    atomic_store_explicit(&s->priv->stats->c[k].n, v, memory_order_relaxed);
#else
    (void)s;
    (void)k;
    (void)v;
#endif
}

/* A verified request ends (see ss_stats.finished). */
static inline void ss__count_finished(ss_server *s)
{
    ss__count(s, SS__FINISHED, 1);
    ss__count(s, SS__ACTIVE, UINT64_MAX); /* -1 */
}

/* Counts one server-side TLS handshake that completed (ok) or failed.
 * Any thread.  Every path that runs a server handshake calls it once per
 * handshake: implicit TLS (tls_server.c), STARTTLS (tls_conn.c). */
void ss__stats_tls_handshake(ss_server *s, bool ok);

/* Handles what the server's descriptor has ready, at most `budget`
 * requests (1 for handle_request).  Returns 0, or a fatal error's code;
 * *exhausted tells the loop that descriptors ran out (EMFILE) so it must
 * pause watching. */
int ss__handle_ready(ss_server *s, unsigned budget, bool *exhausted);
/* True while accepting is paused (priv->accept_paused). */
bool ss__accept_paused(ss_server *s);

/* process_request, and when it fails handle_error and shutdown_request:
 * the rest of a request after verify_request (server.c).  Returns 0 or a
 * fatal error's code. */
int ss__process_verified(ss_server *s, ss_request *req, const ss_addr *client);

/* verify_request, then implicit TLS or process_request: the request path
 * after get_request and the PROXY stage (server.c).  Returns 0 or a fatal
 * error's code. */
int ss__request_accepted(ss_server *s, ss_request *req, const ss_addr *client);
/* An asynchronous step of the request path (the PROXY header, the TLS
 * handshake) finished in a loop callback: runs next(s, req, client) unless
 * shutdown was asked for meanwhile (then drop(s, req) shuts the request
 * down and counts it), and makes the loop see a fatal error or a stop that
 * next caused. */
void ss__resume_request(ss_server *s, ss_request *req, const ss_addr *client,
                        int (*next)(ss_server *, ss_request *, const ss_addr *),
                        void (*drop)(ss_server *, ss_request *));

/* proxy_stage.c: the PROXY protocol stage (proxy.h).
 * ss__proxy_start_request takes an accepted stream request through the
 * header to ss__request_accepted (at once, or later from the loop);
 * returns 0 or a fatal error's code. */
bool ss__proxy_enabled(ss_server *s);
int ss__proxy_start_request(ss_server *s, ss_request *req, const ss_addr *peer);
void ss__proxy_server_free(ss_server *s);

/* tls_server.c: implicit TLS.  ss__tls_start_request takes a verified
 * request through the handshake to ss__process_verified (at once, or later
 * from the loop); returns 0 or a fatal error's code. */
bool ss__tls_enabled(ss_server *s);
int ss__tls_start_request(ss_server *s, ss_request *req, const ss_addr *client);
void ss__tls_server_free(ss_server *s);

/* tls_event.c: TLS on an EventMixIn connection, OpenSSL over two memory
 * BIOs.  event.c moves the ciphertext: it feeds what it read, runs the
 * handshake or the read, and after every call sends ss__evtls_output()
 * (then ss__evtls_output_sent()).  Loop thread only. */
struct ss_evtls;
struct ss_tls_context;
struct ss_tls_conn;
/* A server-side connection over fd (the stream's; only named in messages
 * and OpenSSL's queries).  peer is borrowed for messages.  0, -EINVAL (no
 * server context), -ENOMEM; err filled. */
int ss__evtls_new(struct ss_evtls **out, struct ss_tls_context *ctx, int fd,
                  const ss_addr *peer, ss_error *err);
void ss__evtls_free(struct ss_evtls *t);
struct ss_tls_conn *ss__evtls_conn(struct ss_evtls *t);
bool ss__evtls_established(const struct ss_evtls *t);
/* Plaintext accepted but not encrypted yet (written during the handshake). */
size_t ss__evtls_held(const struct ss_evtls *t);
/* Ciphertext that arrived: copied into the read BIO.  0 or -ENOMEM. */
int ss__evtls_feed(struct ss_evtls *t, const void *data, size_t len);
/* One handshake step over what was fed: 0 once done, -EAGAIN for more
 * input, or an error with err ("TLS handshake with ADDR: reason"). */
int ss__evtls_handshake(struct ss_evtls *t, ss_error *err);
/* After the handshake: up to cap bytes of plaintext into buf (> 0), 0 at
 * close_notify, -EAGAIN for more input, or an error with err. */
ssize_t ss__evtls_read(struct ss_evtls *t, unsigned char *buf, size_t cap,
                       ss_error *err);
/* Encrypts buf (held until the handshake is done).  0 or an error. */
int ss__evtls_write(struct ss_evtls *t, const void *buf, size_t len,
                    ss_error *err);
/* Encrypts what was held, once the handshake is done. */
int ss__evtls_write_held(struct ss_evtls *t, ss_error *err);
/* Queues close_notify (once, after a completed handshake, not after a
 * failure). */
int ss__evtls_close_notify(struct ss_evtls *t);
/* The ciphertext waiting to be sent, and "it has been taken". */
size_t ss__evtls_output(struct ss_evtls *t, const unsigned char **data);
void ss__evtls_output_sent(struct ss_evtls *t);
/* The stream reached EOF: without close_notify before it, a truncation. */
void ss__evtls_peer_eof(struct ss_evtls *t);
/* Gives back a read buffer grown by a burst, once it is empty. */
void ss__evtls_trim(struct ss_evtls *t);

/* Reads the shutdown flag (any thread). */
bool ss__shutdown_requested(ss_server *s);

/* loop.c */
int ss__watch_start(ss_server *s, void *loop, double poll_interval,
                    bool own_loop);
void ss__watch_stop(ss_server *s);
/* Wakes a serve_forever loop so it sees the shutdown flag.  Called with
 * priv->lock held. */
void ss__watch_wake(ss_server *s);
/* Sets priv->accept_paused and makes the loop follow it: at once when
 * called on the loop thread, through the loop's async handle otherwise.
 * Any thread; takes priv->lock (callers may hold a lock of their own that
 * is always taken before it). */
void ss__accept_pause(ss_server *s, bool paused);
/* The uv_loop_t serving s, or NULL when none does.  Loop thread only. */
void *ss__watch_loop(ss_server *s);
/* Stops the loop serving s with a fatal error's code (serve_forever returns
 * it), as a sync server's fatal handler error does.  Loop thread only. */
void ss__watch_fatal(ss_server *s, int code);

/* Fills in err for a code that came back without a message. */
void ss__error_default(ss_error *err, int code, const char *what);

/* sys.c: descriptor helpers shared by several files.  (The EINTR loops
 * stay next to the call they retry, each with its own rule.) */
int ss__set_nonblock(int fd, bool on);
int ss__close(int fd);
/* Seconds on CLOCK_MONOTONIC, for deadlines. */
double ss__now(void);
/* A poll() timeout in ms for left_s seconds: rounded up, 0 when past,
 * INT_MAX at most. */
int ss__poll_ms(double left_s);

/* Class resolution: copies cls into *out with every NULL slot filled from
 * its bases. */
void ss__resolve_server_class(ss_server_class *out, const ss_server_class *cls);

/* True when cls is base or derives from it. */
bool ss__class_derives(const void *cls, const void *base);

/* The stream/datagram handlers' buffers, released whatever way the request
 * went (setup may fail after the base setup made them). */
void ss__stream_handler_release(ss_handler *h);
void ss__datagram_handler_release(ss_handler *h);

#endif
