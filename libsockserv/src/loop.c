/* loop.c - the libuv side of serving: a uv_poll on the server's descriptor,
 * a uv_async that shutdown() uses to wake the loop at once, a uv_timer for
 * service_actions, a uv_signal for SIGCHLD under ForkingMixIn, and the
 * answer to running out of descriptors.
 *
 * serve_forever() runs these on a loop of its own; ss_server_attach() puts
 * them on the caller's loop.  The handles live in a heap block of their own
 * (struct ss_watch), freed by the last close callback, so a detached
 * server can be closed before its loop has run those callbacks. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <sockserv/forking.h>
#include <sockserv/server.h>

#include "internal.h"

/* Requests handled per readable event before service_actions runs and the
 * loop looks at its other handles again. */
#define READY_BUDGET 8
/* How long the watcher rests after the process ran out of descriptors. */
#define EXHAUSTED_PAUSE_MS 100

struct ss_watch {
    ss_server *server;
    uv_loop_t *loop;
    uv_loop_t own_loop;
    bool own;
    bool forking;
    unsigned open_handles; /* the block is freed when this drops to 0 */
    uv_poll_t poll;
    uv_timer_t service;
    uv_timer_t pause;
    uv_async_t wake;
    uv_signal_t sigchld;
    int spare_fd; /* kept open to be given up when accept hits EMFILE */
    bool polling; /* the poll handle is started */
    bool resting; /* the pause timer runs (EMFILE or a poll error) */
};

static void on_readable(uv_poll_t *h, int status, int events);

/* Watches the descriptor exactly when nothing holds accepting back: neither
 * a rest after EMFILE nor a mixin's pause (ss__accept_pause). */
static void follow_gate(struct ss_watch *w)
{
    bool want = !w->resting && !ss__accept_paused(w->server);
    if (want && !w->polling)
        uv_poll_start(&w->poll, UV_READABLE, on_readable);
    else if (!want && w->polling)
        uv_poll_stop(&w->poll);
    w->polling = want;
}

static void stop_if_asked(struct ss_watch *w)
{
    if (w->own && ss__shutdown_requested(w->server))
        uv_stop(w->loop);
}

/* libevent's and libuv's answer to EMFILE: give up the spare descriptor,
 * accept and close what is pending so those clients are told at once
 * instead of hanging, take the spare back, and rest a moment so a listening
 * socket that stays readable cannot make the loop spin. */
static void on_exhausted(struct ss_watch *w)
{
    ss_server *s = w->server;
    if (s->socket_type == SOCK_STREAM && w->spare_fd >= 0) {
        close(w->spare_fd);
        w->spare_fd = -1;
        for (int i = 0; i < 64; i++) {
            int fd = accept4(s->socket, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0)
                break;
            close(fd);
        }
        w->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    w->resting = true;
    follow_gate(w);
}

static void on_pause_over(uv_timer_t *t)
{
    struct ss_watch *w = t->data;
    w->resting = false;
    follow_gate(w);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    struct ss_watch *w = h->data;
    ss_server *s = w->server;
    (void)events;
    if (status < 0) { /* the descriptor is in error; report it once */
        ss_error err;
        ss_error_set(&err, status, "poll: %s", uv_strerror(status));
        s->vt.handle_accept_error(s, &err);
        w->resting = true;
        follow_gate(w);
        uv_timer_start(&w->pause, on_pause_over, EXHAUSTED_PAUSE_MS, 0);
        return;
    }
    if (ss__shutdown_requested(s) && w->own) { /* bpo-35017 */
        uv_stop(w->loop);
        return;
    }
    bool exhausted = false;
    int rc = ss__handle_ready(s, READY_BUDGET, &exhausted);
    if (exhausted) {
        on_exhausted(w);
        uv_timer_start(&w->pause, on_pause_over, EXHAUSTED_PAUSE_MS, 0);
    }
    if (rc < 0) { /* a fatal error from a sync handler */
        s->priv->fatal_code = rc;
        if (w->own)
            uv_stop(w->loop);
        return;
    }
    follow_gate(w); /* a mixin may have paused accepting meanwhile */
    s->vt.service_actions(s);
    stop_if_asked(w);
}

static void on_service_timer(uv_timer_t *t)
{
    struct ss_watch *w = t->data;
    w->server->vt.service_actions(w->server);
    stop_if_asked(w);
}

static void on_wake(uv_async_t *a)
{
    follow_gate(a->data);
    stop_if_asked(a->data);
}

static void on_sigchld(uv_signal_t *sig, int signum)
{
    struct ss_watch *w = sig->data;
    (void)signum;
    ss_forking_collect_children(w->server, false);
}

static void on_closed(uv_handle_t *h)
{
    struct ss_watch *w = h->data;
    if (--w->open_handles == 0 && !w->own)
        free(w);
}

static void close_handles(struct ss_watch *w)
{
    uv_close((uv_handle_t *)&w->poll, on_closed);
    uv_close((uv_handle_t *)&w->service, on_closed);
    uv_close((uv_handle_t *)&w->pause, on_closed);
    uv_close((uv_handle_t *)&w->wake, on_closed);
    if (w->forking)
        uv_close((uv_handle_t *)&w->sigchld, on_closed);
    if (w->spare_fd >= 0)
        close(w->spare_fd);
    w->spare_fd = -1;
}

static int open_handles(struct ss_watch *w, double poll_interval)
{
    ss_server *s = w->server;
    int fd = s->vt.fileno(s);
    if (fd < 0)
        return -EBADF;
    int rc = uv_poll_init(w->loop, &w->poll, fd);
    if (rc < 0)
        return rc;
    w->poll.data = w;
    w->open_handles++;
    uv_timer_init(w->loop, &w->service);
    w->service.data = w;
    w->open_handles++;
    uv_timer_init(w->loop, &w->pause);
    w->pause.data = w;
    w->open_handles++;
    /* On a user's loop too (ss__accept_pause wakes it from workers), but
     * there it must not keep the loop alive. */
    uv_async_init(w->loop, &w->wake, on_wake);
    w->wake.data = w;
    w->open_handles++;
    if (!w->own)
        uv_unref((uv_handle_t *)&w->wake);
    if (w->forking) {
        uv_signal_init(w->loop, &w->sigchld);
        w->sigchld.data = w;
        w->open_handles++;
        uv_signal_start(&w->sigchld, on_sigchld, SIGCHLD);
    }
    w->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    uint64_t period = poll_interval > 0 ? (uint64_t)(poll_interval * 1000.0) : 500;
    if (period == 0)
        period = 1;
    uv_timer_start(&w->service, on_service_timer, period, period);
    follow_gate(w);
    return 0;
}

int ss__watch_start(ss_server *s, void *loop, double poll_interval,
                    bool own_loop)
{
    struct ss_server_priv *p = s->priv;
    struct ss_watch *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->server = s;
    w->own = own_loop;
    w->spare_fd = -1;
    w->forking = ss_server_mixin_base(s, &ss_forking_mixin) != NULL;
    if (own_loop) {
        int rc = uv_loop_init(&w->own_loop);
        if (rc < 0) {
            free(w);
            return rc;
        }
        w->loop = &w->own_loop;
    } else {
        w->loop = loop;
    }
    int rc = open_handles(w, poll_interval);
    if (rc < 0) {
        close_handles(w);
        if (own_loop) {
            uv_run(w->loop, UV_RUN_DEFAULT);
            uv_loop_close(w->loop);
        }
        if (own_loop || w->open_handles == 0)
            free(w);
        return rc;
    }

    pthread_mutex_lock(&p->lock);
    p->watch = w;
    bool stop_now = p->shutdown_request; /* asked before we started */
    pthread_mutex_unlock(&p->lock);
    if (!own_loop)
        return 0;

    if (!stop_now)
        uv_run(w->loop, UV_RUN_DEFAULT);

    pthread_mutex_lock(&p->lock);
    p->watch = NULL; /* no wake-up may touch the async handle from here on */
    pthread_mutex_unlock(&p->lock);
    if (p->loop_ending)
        p->loop_ending(s, w->loop);
    close_handles(w);
    uv_run(w->loop, UV_RUN_DEFAULT);
    uv_loop_close(w->loop);
    free(w);
    return 0;
}

void ss__watch_wake(ss_server *s)
{
    struct ss_watch *w = s->priv->watch;
    if (w && w->own)
        uv_async_send(&w->wake);
}

/* Sets one of the gate's flags and has the loop follow the gate. */
static void set_gate_flag(ss_server *s, bool *flag, bool value)
{
    struct ss_server_priv *p = s->priv;
    pthread_mutex_lock(&p->lock);
    __atomic_store_n(flag, value, __ATOMIC_RELEASE);
    struct ss_watch *w = p->watch;
    if (w) {
        if (pthread_equal(p->serving_thread, pthread_self()))
            follow_gate(w);
        else
            uv_async_send(&w->wake); /* on_wake follows the gate */
    }
    pthread_mutex_unlock(&p->lock);
}

void ss__accept_pause(ss_server *s, bool paused)
{
    set_gate_flag(s, &s->priv->accept_paused, paused);
}

int ss_server_stop_accepting(ss_server *s)
{
    if (!s->priv)
        return -EBADF;
    set_gate_flag(s, &s->priv->retired, true);
    return 0;
}

void *ss__watch_loop(ss_server *s)
{
    struct ss_server_priv *p = s->priv;
    pthread_mutex_lock(&p->lock);
    void *loop = p->watch ? p->watch->loop : NULL;
    pthread_mutex_unlock(&p->lock);
    return loop;
}

void ss__watch_fatal(ss_server *s, int code)
{
    struct ss_server_priv *p = s->priv;
    pthread_mutex_lock(&p->lock);
    struct ss_watch *w = p->watch;
    p->fatal_code = code;
    pthread_mutex_unlock(&p->lock);
    if (w && w->own)
        uv_stop(w->loop);
}

void ss__watch_stop(ss_server *s)
{
    struct ss_server_priv *p = s->priv;
    pthread_mutex_lock(&p->lock);
    struct ss_watch *w = p->watch;
    p->watch = NULL;
    pthread_mutex_unlock(&p->lock);
    if (w && p->loop_ending)
        p->loop_ending(s, w->loop);
    if (w)
        close_handles(w);
}

int ss_server_attach(ss_server *s, void *uv_loop, double poll_interval)
{
    struct ss_server_priv *p = s->priv;
    if (!p || !uv_loop)
        return -EINVAL;
    pthread_mutex_lock(&p->lock);
    if (p->serving) {
        pthread_mutex_unlock(&p->lock);
        return -EBUSY;
    }
    p->serving = true;
    p->attached = true;
    p->serving_thread = pthread_self();
    pthread_mutex_unlock(&p->lock);
    int rc = ss__watch_start(s, uv_loop, poll_interval, false);
    if (rc < 0) {
        pthread_mutex_lock(&p->lock);
        p->serving = p->attached = false;
        pthread_mutex_unlock(&p->lock);
    }
    return rc;
}

void ss_server_detach(ss_server *s)
{
    struct ss_server_priv *p = s->priv;
    if (!p)
        return;
    ss__watch_stop(s);
    pthread_mutex_lock(&p->lock);
    p->serving = p->attached = false;
    pthread_mutex_unlock(&p->lock);
}
