/* threading.c - ThreadingMixIn: a thread per request, all of them accounted
 * for, so server_close() never returns while one still uses the server. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>

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
};

static void unlink_live_locked(struct ss_server_priv *p,
                               struct ss_thread_rec *rec)
{
    if (rec->prev)
        rec->prev->next = rec->next;
    else
        p->threads = rec->next;
    if (rec->next)
        rec->next->prev = rec->prev;
    rec->prev = rec->next = NULL;
}

void ss_threading_mixin_configure(ss_server *s)
{
    SS_MIXIN_SUPER(s, &ss_threading_mixin, configure)(s);
    s->daemon_threads = false;
    s->block_on_close = true;
}

/* Python's process_request_thread. */
static void *request_thread(void *arg)
{
    struct ss_thread_rec *rec = arg;
    ss_server *s = rec->server;
    struct ss_server_priv *p = s->priv;
    ss_error err;
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
    rec->done = true;
    unlink_live_locked(p, rec);
    rec->next = p->done_threads;
    p->done_threads = rec;
    p->active_threads--;
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
        free(rec);
    }
}

int ss_threading_mixin_process_request(ss_server *s, ss_request *req,
                                       const ss_addr *client, ss_error *err)
{
    struct ss_server_priv *p = s->priv;
    struct ss_thread_rec *rec = calloc(1, sizeof *rec);
    if (!rec)
        return ss_error_set(err, -ENOMEM, "thread: out of memory");
    rec->server = s;
    rec->req = *req;
    rec->client = *client;
    rec->fd_live = true;

    rec->starting = true;
    pthread_mutex_lock(&p->lock);
    reap_locked(p);
    rec->next = p->threads;
    if (p->threads)
        p->threads->prev = rec;
    p->threads = rec;
    p->active_threads++;
    pthread_mutex_unlock(&p->lock);
    /* Created outside the lock: the new thread and those finishing would
     * otherwise queue on it for the whole of pthread_create. */
    int rc = pthread_create(&rec->tid, NULL, request_thread, rec);
    pthread_mutex_lock(&p->lock);
    rec->starting = false;
    if (rc != 0) {
        unlink_live_locked(p, rec);
        p->active_threads--;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
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
    while (p->active_threads > 0)
        pthread_cond_wait(&p->cond, &p->lock);
    reap_locked(p);
    pthread_mutex_unlock(&p->lock);
}

size_t ss_threading_active_threads(ss_server *s)
{
    if (!s->priv)
        return 0;
    pthread_mutex_lock(&s->priv->lock);
    size_t n = s->priv->active_threads;
    pthread_mutex_unlock(&s->priv->lock);
    return n;
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
