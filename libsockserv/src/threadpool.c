/* threadpool.c - ThreadPoolMixIn: pool_workers threads take requests from a
 * bounded ring; a full pool pauses accepting (SS_POOL_WAIT) or refuses
 * (SS_POOL_REFUSE).  See threadpool.h.
 *
 * Locks: pool->lock guards the pool.  Pausing and resuming go through
 * ss__accept_pause(), which takes the server's priv->lock, always after
 * pool->lock and never the other way round; deciding and applying the
 * pause under pool->lock keeps a resume from overtaking the pause it
 * undoes (which would leave the listener unwatched with room free). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <sockserv/threadpool.h>

#include "internal.h"

const ss_mixin ss_threadpool_mixin = {.name = "ThreadPoolMixIn"};

#define DEFAULT_WORKERS 8
#define DEFAULT_QUEUE 64

struct pool_item {
    ss_request req;
    ss_addr client;
};

struct pool_worker {
    struct ss_pool *pool;
    pthread_t tid;
    bool started;
    int live_fd; /* the running request's connection, -1: none (stream only) */
};

struct ss_pool {
    pthread_mutex_t lock;
    pthread_cond_t work; /* an item was queued, or the pool stops */
    pthread_cond_t room; /* a request left the pool */
    ss_server *server;
    int when_full;
    size_t limit; /* workers + queue size: the most requests held at once */

    struct pool_worker *workers;
    unsigned nworkers;

    struct pool_item *ring; /* `limit` slots: all may wait before a worker wakes */
    size_t head, count;
    unsigned running;
    bool stopping;
    bool paused;
    unsigned long served, refused, pauses;
};

void ss_threadpool_mixin_configure(ss_server *s)
{
    SS_MIXIN_SUPER(s, &ss_threadpool_mixin, configure)(s);
    s->pool_workers = DEFAULT_WORKERS;
    s->pool_queue_size = DEFAULT_QUEUE;
    s->pool_when_full = SS_POOL_WAIT;
    s->daemon_threads = false;
    s->block_on_close = true;
}

static bool full_locked(const struct ss_pool *pool)
{
    return pool->count + pool->running >= pool->limit;
}

/* A request finished or was taken out: undo a pause if there is room. */
static void room_freed_locked(struct ss_pool *pool)
{
    if (pool->paused && !full_locked(pool)) {
        pool->paused = false;
        ss__accept_pause(pool->server, false);
    }
    pthread_cond_broadcast(&pool->room);
}

/* Python's process_request_thread, for each request the worker takes. */
static void run_request(ss_server *s, struct pool_item *it)
{
    ss_error err;
    ss_error_clear(&err);
    int rc = s->vt.finish_request(s, &it->req, &it->client, &err);
    if (rc < 0) {
        ss__error_default(&err, rc, "finish_request");
        if (!err.fatal) /* a fatal error ends only this request */
            s->vt.handle_error(s, &it->req, &it->client, &err);
    }
}

static void *worker_main(void *arg)
{
    struct pool_worker *me = arg;
    struct ss_pool *pool = me->pool;
    ss_server *s = pool->server;

    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (pool->count == 0 && !pool->stopping)
            pthread_cond_wait(&pool->work, &pool->lock);
        if (pool->count == 0) /* stopping, and nothing left to drain */
            break;
        struct pool_item it = pool->ring[pool->head];
        pool->head = (pool->head + 1) % pool->limit;
        pool->count--;
        ss__gauge_set(s, SS__POOL_QUEUED, pool->count);
        pool->running++;
        me->live_fd = it.req.packet ? -1 : it.req.fd;
        pthread_mutex_unlock(&pool->lock);

        run_request(s, &it);

        pthread_mutex_lock(&pool->lock);
        me->live_fd = -1; /* server_close must not touch it any more */
        pthread_mutex_unlock(&pool->lock);
        s->vt.shutdown_request(s, &it.req);
        ss__count_finished(s);

        pthread_mutex_lock(&pool->lock);
        pool->running--;
        pool->served++;
        room_freed_locked(pool);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* Stops the workers and joins them: they drain the queue first unless the
 * caller emptied it.  Called without pool->lock. */
static void stop_workers(struct ss_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->work);
    pthread_cond_broadcast(&pool->room);
    pthread_mutex_unlock(&pool->lock);
    for (unsigned i = 0; i < pool->nworkers; i++)
        if (pool->workers[i].started)
            pthread_join(pool->workers[i].tid, NULL);
}

static void free_pool(struct ss_pool *pool)
{
    pthread_cond_destroy(&pool->room);
    pthread_cond_destroy(&pool->work);
    pthread_mutex_destroy(&pool->lock);
    free(pool->ring);
    free(pool->workers);
    free(pool);
}

/* Starts the pool from the attributes as they are now.  Serving thread. */
static int start_pool(ss_server *s, ss_error *err)
{
    unsigned n = s->pool_workers ? s->pool_workers : 1;
    struct ss_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return ss_error_set(err, -ENOMEM, "thread pool: out of memory");
    pool->server = s;
    pool->when_full = s->pool_when_full;
    pool->limit = (size_t)n + s->pool_queue_size;
    pool->workers = calloc(n, sizeof *pool->workers);
    pool->ring = calloc(pool->limit, sizeof *pool->ring);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work, NULL);
    pthread_cond_init(&pool->room, NULL);
    if (!pool->workers || !pool->ring) {
        free_pool(pool);
        return ss_error_set(err, -ENOMEM, "thread pool: out of memory");
    }
    pool->nworkers = n;
    for (unsigned i = 0; i < n; i++) {
        struct pool_worker *w = &pool->workers[i];
        w->pool = pool;
        w->live_fd = -1;
        int rc = pthread_create(&w->tid, NULL, worker_main, w);
        if (rc != 0) {
            stop_workers(pool);
            free_pool(pool);
            return ss_error_set(err, -rc, "thread pool: pthread_create: %s",
                                ss_strerror(-rc));
        }
        w->started = true;
    }
    pthread_mutex_lock(&s->priv->lock);
    s->priv->pool = pool;
    pthread_mutex_unlock(&s->priv->lock);
    return 0;
}

int ss_threadpool_mixin_process_request(ss_server *s, ss_request *req,
                                        const ss_addr *client, ss_error *err)
{
    struct ss_pool *pool = s->priv->pool; /* only this thread sets it */
    if (!pool) {
        int rc = start_pool(s, err);
        if (rc < 0)
            return rc;
        pool = s->priv->pool;
    }

    pthread_mutex_lock(&pool->lock);
    if (full_locked(pool) && pool->when_full == SS_POOL_REFUSE) {
        pool->refused++;
        pthread_mutex_unlock(&pool->lock);
        /* Verified, so counted active: it moves to refused instead,
         * before the client can see the connection close. */
        ss__count(s, SS__REFUSED_LIMIT, 1);
        ss__count(s, SS__ACTIVE, UINT64_MAX);
        s->vt.handle_busy(s, req, client);
        s->vt.shutdown_request(s, req);
        req->fd = -1;
        req->packet = NULL;
        return 0;
    }
    /* Waiting here happens without a loop to pause (handle_request), when
     * a mixin above takes several requests per wake-up, or when implicit
     * TLS finishes a handshake (on the loop thread) while the pool is full:
     * the loop then stalls until a worker frees a slot.  Accepting is
     * paused by then, so only handshakes already under way can do that. */
    while (full_locked(pool) && !pool->stopping)
        pthread_cond_wait(&pool->room, &pool->lock);
    if (pool->stopping) {
        pthread_mutex_unlock(&pool->lock);
        return ss_error_set(err, SS_ECLOSED, "thread pool: closing");
    }
    size_t tail = (pool->head + pool->count) % pool->limit;
    pool->ring[tail].req = *req;
    pool->ring[tail].client = *client;
    pool->count++;
    ss__gauge_set(s, SS__POOL_QUEUED, pool->count);
    if (pool->when_full == SS_POOL_WAIT && full_locked(pool) && !pool->paused) {
        /* GLib's cap-and-pause: the backlog absorbs what comes next. */
        pool->paused = true;
        pool->pauses++;
        ss__accept_pause(s, true);
    }
    pthread_mutex_unlock(&pool->lock);
    /* Signalled after unlocking, so the woken worker does not run straight
     * into the lock we still hold (halves the futex calls per request). */
    pthread_cond_signal(&pool->work);
    /* The pool owns the request now; the caller must not shut it down. */
    req->fd = -1;
    req->packet = NULL;
    return 0;
}

void ss_threadpool_mixin_server_close(ss_server *s)
{
    struct ss_server_priv *p = s->priv;
    SS_MIXIN_SUPER(s, &ss_threadpool_mixin, server_close)(s);
    pthread_mutex_lock(&p->lock);
    struct ss_pool *pool = p->pool;
    pthread_mutex_unlock(&p->lock);
    if (!pool)
        return;

    struct pool_item *cancelled = NULL;
    size_t ncancelled = 0;
    pthread_mutex_lock(&pool->lock);
    if (!s->block_on_close || s->daemon_threads) {
        /* Cancel: take the queue out (closed below, off the lock), and cut
         * the running requests short: a blocked read returns EOF at once. */
        cancelled = malloc((pool->count ? pool->count : 1) * sizeof *cancelled);
        while (cancelled && pool->count > 0) {
            cancelled[ncancelled++] = pool->ring[pool->head];
            pool->head = (pool->head + 1) % pool->limit;
            pool->count--;
        }
        ss__gauge_set(s, SS__POOL_QUEUED, pool->count);
        for (unsigned i = 0; i < pool->nworkers; i++)
            if (pool->workers[i].live_fd >= 0)
                shutdown(pool->workers[i].live_fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&pool->lock);
    for (size_t i = 0; i < ncancelled; i++) {
        s->vt.shutdown_request(s, &cancelled[i].req);
        ss__count_finished(s);
    }
    free(cancelled);

    stop_workers(pool); /* drains what is still queued, then joins */
    pthread_mutex_lock(&p->lock);
    p->pool = NULL;
    pthread_mutex_unlock(&p->lock);
    free_pool(pool);
}

void ss_threadpool_get_stats(ss_server *s, ss_threadpool_stats *out)
{
    *out = (ss_threadpool_stats){0};
    if (!s->priv)
        return;
    /* priv->lock keeps server_close from freeing the pool under us only
     * for the pointer read; callers must not race server_close anyway. */
    pthread_mutex_lock(&s->priv->lock);
    struct ss_pool *pool = s->priv->pool;
    pthread_mutex_unlock(&s->priv->lock);
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    out->workers = pool->stopping ? 0 : pool->nworkers;
    out->running = pool->running;
    out->queued = pool->count;
    out->served = pool->served;
    out->refused = pool->refused;
    out->pauses = pool->pauses;
    out->paused = pool->paused;
    pthread_mutex_unlock(&pool->lock);
}

const ss_server_class ss_threadpool_tcp_server_class = {
    .base = &ss_tcp_server_class,
    .name = "ThreadPoolTCPServer",
    SS_THREADPOOL_MIXIN_SLOTS,
};

const ss_server_class ss_threadpool_udp_server_class = {
    .base = &ss_udp_server_class,
    .name = "ThreadPoolUDPServer",
    SS_THREADPOOL_MIXIN_SLOTS,
};

const ss_server_class ss_threadpool_unix_stream_server_class = {
    .base = &ss_unix_stream_server_class,
    .name = "ThreadPoolUnixStreamServer",
    SS_THREADPOOL_MIXIN_SLOTS,
};

const ss_server_class ss_threadpool_unix_datagram_server_class = {
    .base = &ss_unix_datagram_server_class,
    .name = "ThreadPoolUnixDatagramServer",
    SS_THREADPOOL_MIXIN_SLOTS,
};
