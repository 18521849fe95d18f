/* threading.c - ThreadingMixIn: a thread per request, all of them accounted
 * for, so server_close() never returns while one still uses the server.
 *
 * With thread_cache > 0 a thread whose request is done parks for a while
 * and runs the next request instead of exiting: creating a thread (clone,
 * a kernel stack, the TLS block) was most of the accepting thread's time
 * per connection. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include <sockserv/threading.h>

#include "internal.h"

const ss_mixin ss_threading_mixin = {.name = "ThreadingMixIn"};

/* A request thread.  Live records are on the doubly linked priv->threads;
 * a thread that is done moves its record to priv->done_threads, so reaping
 * joins only those and never walks the live ones (10,000 connections). */
struct ss_thread_rec {
    struct ss_thread_rec *prev, *next;
    pthread_t tid;
    ss_server *server;
    ss_request req;
    ss_addr client;
    bool starting;   /* pthread_create has not returned: tid not yet set */
    bool done;       /* the thread has left the server */
    bool fd_live;    /* req.fd still belongs to the request */
    bool has_work;   /* parked, and handed a new request */
    pthread_cond_t wake; /* a parked thread waits here (CLOCK_MONOTONIC) */
};

/* Unlinks rec from the doubly linked list at *head (the live or the
 * parked threads; a record is on at most one). */
static void unlink_locked(struct ss_thread_rec **head,
                          struct ss_thread_rec *rec)
{
    if (rec->prev)
        rec->prev->next = rec->next;
    else
        *head = rec->next;
    if (rec->next)
        rec->next->prev = rec->prev;
    rec->prev = rec->next = NULL;
}

static void push_locked(struct ss_thread_rec **head, struct ss_thread_rec *rec)
{
    rec->prev = NULL;
    rec->next = *head;
    if (*head)
        (*head)->prev = rec;
    *head = rec;
}

/* now + seconds on CLOCK_MONOTONIC, the clock of every rec->wake. */
static struct timespec deadline_in(double seconds)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (seconds < 0)
        seconds = 0;
    if (seconds > 86400)
        seconds = 86400;
    long long ns = (long long)(seconds * 1e9) + t.tv_nsec;
    t.tv_sec += (time_t)(ns / 1000000000);
    t.tv_nsec = (long)(ns % 1000000000);
    return t;
}

/* Waits on rec->wake until work, the server's close or until; true when
 * until passed first.  Called with the lock held. */
static bool wait_locked(struct ss_server_priv *p, struct ss_thread_rec *rec,
                        const struct timespec *until)
{
    while (!rec->has_work && !p->threads_closing)
        if (pthread_cond_timedwait(&rec->wake, &p->lock, until) == ETIMEDOUT)
            return !rec->has_work && !p->threads_closing;
    return false;
}

/* A parked thread that has waited this long gives back its deep stack
 * pages.  Not at once: under a stream of connections the madvise (a TLB
 * shootdown across every thread of the process) and the page faults that
 * bring the pages back cost more than the thread creation saved. */
#define PARK_TRIM_SECONDS 1.0

/* Parks the calling thread, whose request is done, until process_request
 * hands it another (true) or thread_cache_idle passes or the server closes
 * (false: it is back off the parked list).  Called with the lock held. */
static bool park_locked(ss_server *s, struct ss_thread_rec *rec)
{
    struct ss_server_priv *p = s->priv;
    rec->has_work = false;
    push_locked(&p->parked_threads, rec);
    p->parked++;
    double idle = s->thread_cache_idle;
    struct timespec until = deadline_in(idle);
    if (idle > PARK_TRIM_SECONDS) {
        struct timespec trim = deadline_in(PARK_TRIM_SECONDS);
        if (wait_locked(p, rec, &trim)) {
            pthread_mutex_unlock(&p->lock);
            ss_thread_release_stack();
            pthread_mutex_lock(&p->lock);
        }
    }
    wait_locked(p, rec, &until);
    if (rec->has_work)
        return true; /* process_request moved it to the live list */
    unlink_locked(&p->parked_threads, rec);
    p->parked--;
    return false;
}

void ss_threading_mixin_configure(ss_server *s)
{
    SS_MIXIN_SUPER(s, &ss_threading_mixin, configure)(s);
    s->daemon_threads = false;
    s->block_on_close = true;
    s->thread_cache = 0;
    s->thread_cache_idle = 10.0;
}

/* Python's process_request_thread, once per request the thread runs. */
static void *request_thread(void *arg)
{
    struct ss_thread_rec *rec = arg;
    ss_server *s = rec->server;
    struct ss_server_priv *p = s->priv;
    ss_error err;
again:
    ss_error_clear(&err);
    int rc = s->vt.finish_request(s, &rec->req, &rec->client, &err);
    if (rc < 0) {
        ss__error_default(&err, rc, "finish_request");
        if (!err.fatal) /* a fatal error ends only this request */
            s->vt.handle_error(s, &rec->req, &rec->client, &err);
    }
    pthread_mutex_lock(&p->lock);
    rec->fd_live = false; /* server_close must not touch it any more */
    pthread_mutex_unlock(&p->lock);
    s->vt.shutdown_request(s, &rec->req);
    ss__count_finished(s);

    pthread_mutex_lock(&p->lock);
    unlink_locked(&p->threads, rec);
    p->active_threads--;
    pthread_cond_broadcast(&p->cond);
    if (p->parked < s->thread_cache && !p->threads_closing &&
        park_locked(s, rec)) {
        pthread_mutex_unlock(&p->lock);
        goto again;
    }
    rec->done = true;
    rec->next = p->done_threads;
    p->done_threads = rec;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Joins the threads that are done (bpo-37193).  Called with the lock held;
 * a done thread has nothing left to do but return, so joining is quick. */
static void reap_locked(struct ss_server_priv *p)
{
    struct ss_thread_rec **link = &p->done_threads;
    while (*link) {
        struct ss_thread_rec *rec = *link;
        if (rec->starting) { /* its creator has not stored tid yet */
            link = &rec->next;
            continue;
        }
        pthread_join(rec->tid, NULL);
        *link = rec->next;
        pthread_cond_destroy(&rec->wake);
        free(rec);
    }
}

int ss_threading_mixin_process_request(ss_server *s, ss_request *req,
                                       const ss_addr *client, ss_error *err)
{
    struct ss_server_priv *p = s->priv;
    pthread_mutex_lock(&p->lock);
    reap_locked(p);
    struct ss_thread_rec *rec = p->parked_threads;
    if (rec) { /* the thread parked last: its stack is the warmest */
        unlink_locked(&p->parked_threads, rec);
        p->parked--;
        rec->req = *req;
        rec->client = *client;
        rec->fd_live = true;
        rec->has_work = true;
        push_locked(&p->threads, rec);
        p->active_threads++;
        pthread_cond_signal(&rec->wake);
        pthread_mutex_unlock(&p->lock);
        req->fd = -1;
        req->packet = NULL;
        return 0;
    }
    pthread_mutex_unlock(&p->lock);

    rec = calloc(1, sizeof *rec);
    if (!rec)
        return ss_error_set(err, -ENOMEM, "thread: out of memory");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rec->wake, &ca);
    pthread_condattr_destroy(&ca);
    rec->server = s;
    rec->req = *req;
    rec->client = *client;
    rec->fd_live = true;

    rec->starting = true;
    pthread_mutex_lock(&p->lock);
    push_locked(&p->threads, rec);
    p->active_threads++;
    pthread_mutex_unlock(&p->lock);
    /* Created outside the lock: the new thread and those finishing would
     * otherwise queue on it for the whole of pthread_create. */
    int rc = pthread_create(&rec->tid, NULL, request_thread, rec);
    pthread_mutex_lock(&p->lock);
    rec->starting = false;
    if (rc != 0) {
        unlink_locked(&p->threads, rec);
        p->active_threads--;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        pthread_cond_destroy(&rec->wake);
        free(rec);
        return ss_error_set(err, -rc, "pthread_create: %s", ss_strerror(-rc));
    }
    pthread_mutex_unlock(&p->lock);
    /* The thread owns the request now; the caller must not shut it down. */
    req->fd = -1;
    req->packet = NULL;
    return 0;
}

void ss_threading_mixin_service_actions(ss_server *s)
{
    SS_MIXIN_SUPER(s, &ss_threading_mixin, service_actions)(s);
    pthread_mutex_lock(&s->priv->lock);
    reap_locked(s->priv);
    pthread_mutex_unlock(&s->priv->lock);
}

void ss_threading_mixin_server_close(ss_server *s)
{
    struct ss_server_priv *p = s->priv;
    SS_MIXIN_SUPER(s, &ss_threading_mixin, server_close)(s);
    pthread_mutex_lock(&p->lock);
    if (s->daemon_threads || !s->block_on_close) {
        /* Cut the requests short: a blocked read returns EOF at once. */
        for (struct ss_thread_rec *r = p->threads; r; r = r->next)
            if (r->fd_live && !r->done && r->req.packet == NULL)
                shutdown(r->req.fd, SHUT_RDWR);
    }
    /* Parked threads leave now, not after thread_cache_idle. */
    p->threads_closing = true;
    for (struct ss_thread_rec *r = p->parked_threads; r; r = r->next)
        pthread_cond_signal(&r->wake);
    while (p->active_threads > 0 || p->parked > 0)
        pthread_cond_wait(&p->cond, &p->lock);
    reap_locked(p);
    pthread_mutex_unlock(&p->lock);
}

/* The running or the parked threads, read under the lock: any thread. */
static size_t thread_count(ss_server *s, bool parked)
{
    if (!s->priv)
        return 0;
    pthread_mutex_lock(&s->priv->lock);
    size_t n = parked ? s->priv->parked : s->priv->active_threads;
    pthread_mutex_unlock(&s->priv->lock);
    return n;
}

size_t ss_threading_parked_threads(ss_server *s)
{
    return thread_count(s, true);
}

size_t ss_threading_active_threads(ss_server *s)
{
    return thread_count(s, false);
}

const ss_server_class ss_threading_tcp_server_class = {
    .base = &ss_tcp_server_class,
    .name = "ThreadingTCPServer",
    SS_THREADING_MIXIN_SLOTS,
};

const ss_server_class ss_threading_udp_server_class = {
    .base = &ss_udp_server_class,
    .name = "ThreadingUDPServer",
    SS_THREADING_MIXIN_SLOTS,
};

const ss_server_class ss_threading_unix_stream_server_class = {
    .base = &ss_unix_stream_server_class,
    .name = "ThreadingUnixStreamServer",
    SS_THREADING_MIXIN_SLOTS,
};

const ss_server_class ss_threading_unix_datagram_server_class = {
    .base = &ss_unix_datagram_server_class,
    .name = "ThreadingUnixDatagramServer",
    SS_THREADING_MIXIN_SLOTS,
};
