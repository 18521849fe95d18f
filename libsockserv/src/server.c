/* server.c - BaseServer: construction, the request path, serve_forever,
 * shutdown, handle_request and close.  The libuv side of serve_forever is
 * in loop.c. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sockserv/forking.h>
#include <sockserv/handler.h>
#include <sockserv/server.h>

#include "internal.h"

/* --- BaseServer's slots ------------------------------------------------ */

static void base_configure(ss_server *s)
{
    s->address_family = AF_UNSPEC;
    s->socket_type = 0;
    s->request_queue_size = SOMAXCONN;
    s->allow_reuse_address = false;
    s->allow_reuse_port = false;
    s->timeout = -1;
    s->max_packet_size = 8192;
    s->daemon_threads = false;
    s->block_on_close = true;
    s->max_children = 0;
}

static int base_init(ss_server *s, ss_error *err)
{
    (void)s;
    (void)err;
    return 0;
}

static int base_noop(ss_server *s, ss_error *err)
{
    (void)s;
    (void)err;
    return 0;
}

static int base_get_request(ss_server *s, ss_request *req, ss_addr *client,
                            ss_error *err)
{
    (void)s;
    (void)req;
    (void)client;
    return ss_error_set(err, -EOPNOTSUPP,
                        "BaseServer has no get_request: use a derived class");
}

static bool base_verify_request(ss_server *s, ss_request *req,
                                const ss_addr *client)
{
    (void)s;
    (void)req;
    (void)client;
    return true;
}

/* Python: finish_request, then shutdown_request.  When finish_request
 * fails, the caller shuts the request down after handle_error, so the
 * request is shut down exactly once either way. */
static int base_process_request(ss_server *s, ss_request *req,
                                const ss_addr *client, ss_error *err)
{
    int rc = s->vt.finish_request(s, req, client, err);
    if (rc < 0)
        return rc; /* counted as finished by the caller */
    s->vt.shutdown_request(s, req);
    ss__count_finished(s);
    return 0;
}

static int base_finish_request(ss_server *s, ss_request *req,
                               const ss_addr *client, ss_error *err)
{
    return ss_handler_run(s, s->handler_class, req, client, err);
}

static void base_shutdown_request(ss_server *s, ss_request *req)
{
    s->vt.close_request(s, req);
}

static void base_close_request(ss_server *s, ss_request *req)
{
    (void)s;
    (void)req;
}

/* Python's report: the library's only output, and overridable. */
static void base_handle_error(ss_server *s, ss_request *req,
                              const ss_addr *client, const ss_error *err)
{
    (void)s;
    (void)req;
    char addr[SS_ADDRSTRLEN];
    fprintf(stderr,
            "----------------------------------------\n"
            "Exception occurred during processing of request from %s\n"
            "%s (%s)\n"
            "----------------------------------------\n",
            ss_addr_format(client, addr, sizeof addr),
            err && err->msg[0] ? err->msg : "error",
            ss_strerror(err ? err->code : 0));
}

static void base_handle_accept_error(ss_server *s, const ss_error *err)
{
    char addr[SS_ADDRSTRLEN];
    fprintf(stderr, "%s %s: %s\n", s->cls->name ? s->cls->name : "server",
            ss_addr_format(&s->server_address, addr, sizeof addr), err->msg);
}

static int base_handle_timeout(ss_server *s)
{
    (void)s;
    return 0;
}

static void base_service_actions(ss_server *s)
{
    (void)s;
}

static void base_server_close(ss_server *s)
{
    (void)s;
}

static int base_fileno(ss_server *s)
{
    return s->socket;
}

static void base_handle_busy(ss_server *s, ss_request *req,
                             const ss_addr *client)
{
    (void)s;
    (void)req;
    (void)client;
}

const ss_server_class ss_base_server_class = {
    .base = NULL,
    .name = "BaseServer",
    .configure = base_configure,
    .init = base_init,
    .server_bind = base_noop,
    .server_activate = base_noop,
    .get_request = base_get_request,
    .verify_request = base_verify_request,
    .process_request = base_process_request,
    .finish_request = base_finish_request,
    .shutdown_request = base_shutdown_request,
    .close_request = base_close_request,
    .handle_error = base_handle_error,
    .handle_accept_error = base_handle_accept_error,
    .handle_timeout = base_handle_timeout,
    .service_actions = base_service_actions,
    .server_close = base_server_close,
    .fileno = base_fileno,
    .handle_busy = base_handle_busy,
};

/* --- construction and close -------------------------------------------- */

int ss_server_init(ss_server *s, const ss_server_class *cls,
                   const ss_addr *server_address,
                   const ss_handler_class *handler_class, unsigned flags,
                   ss_error *err)
{
    ss_error_clear(err);
    memset(s, 0, sizeof *s);
    s->socket = -1;
    if (!cls || !handler_class)
        return ss_error_set(err, -EINVAL, "server class and handler class "
                                          "are required");
    s->cls = cls;
    s->handler_class = handler_class;
    if (server_address)
        s->server_address = *server_address;
    ss__resolve_server_class(&s->vt, cls);

    struct ss_server_priv *p = calloc(1, sizeof *p);
    if (!p)
        return ss_error_set(err, -ENOMEM, "out of memory");
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    s->priv = p;
    int rc = ss__stats_create(s);
    if (rc < 0) { /* nothing ran yet: nothing to close but priv */
        s->priv = NULL;
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return ss_error_set(err, rc, "stats: %s", ss_strerror(rc));
    }

    s->vt.configure(s);
    rc = s->vt.init(s, err);
    if (rc == 0 && (flags & SS_BIND_AND_ACTIVATE))
        return ss_server_bind_and_activate(s, err);
    if (rc < 0) {
        ss__error_default(err, rc, "init");
        ss_server_close(s);
    }
    return rc;
}

int ss_server_bind_and_activate(ss_server *s, ss_error *err)
{
    int rc = s->vt.server_bind(s, err);
    if (rc == 0)
        rc = s->vt.server_activate(s, err);
    if (rc < 0) {
        ss__error_default(err, rc, "bind");
        /* bpo-22435: the most-derived server_close, so nothing leaks. */
        ss_server_close(s);
    }
    return rc;
}

void ss_server_close(ss_server *s)
{
    struct ss_server_priv *p = s->priv;
    if (!p)
        return;
    s->vt.server_close(s);
    ss__tls_server_free(s);
    ss__proxy_server_free(s);
    pthread_mutex_lock(&p->lock);
    while (p->shutdown_waiters > 0)
        pthread_cond_wait(&p->cond, &p->lock);
    pthread_mutex_unlock(&p->lock);
    ss__stats_destroy(s);
    s->priv = NULL;
    free(p->children);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* --- virtual-call wrappers ---------------------------------------------- */

int ss_server_fileno(ss_server *s)
{
    return s->priv ? s->vt.fileno(s) : -1;
}

int ss_server_server_bind(ss_server *s, ss_error *err)
{
    return s->vt.server_bind(s, err);
}

int ss_server_server_activate(ss_server *s, ss_error *err)
{
    return s->vt.server_activate(s, err);
}

int ss_server_get_request(ss_server *s, ss_request *req, ss_addr *client,
                          ss_error *err)
{
    return s->vt.get_request(s, req, client, err);
}

bool ss_server_verify_request(ss_server *s, ss_request *req,
                              const ss_addr *client)
{
    return s->vt.verify_request(s, req, client);
}

int ss_server_process_request(ss_server *s, ss_request *req,
                              const ss_addr *client, ss_error *err)
{
    return s->vt.process_request(s, req, client, err);
}

int ss_server_finish_request(ss_server *s, ss_request *req,
                             const ss_addr *client, ss_error *err)
{
    return s->vt.finish_request(s, req, client, err);
}

void ss_server_shutdown_request(ss_server *s, ss_request *req)
{
    s->vt.shutdown_request(s, req);
}

void ss_server_close_request(ss_server *s, ss_request *req)
{
    s->vt.close_request(s, req);
}

void ss_server_handle_error(ss_server *s, ss_request *req,
                            const ss_addr *client, const ss_error *err)
{
    s->vt.handle_error(s, req, client, err);
}

int ss_server_handle_timeout(ss_server *s)
{
    return s->vt.handle_timeout(s);
}

void ss_server_service_actions(ss_server *s)
{
    s->vt.service_actions(s);
}

void ss_server_handle_busy(ss_server *s, ss_request *req,
                           const ss_addr *client)
{
    s->vt.handle_busy(s, req, client);
}

const ss_server_class *ss_server_mixin_base(const ss_server *s,
                                            const ss_mixin *mixin)
{
    for (const ss_server_class *c = s->cls; c; c = c->base)
        if (c->mixin == mixin)
            return c->base;
    return NULL;
}

/* --- the request path (Python's _handle_request_noblock) --------------- */

static bool exhaustion(int code)
{
    return code == -EMFILE || code == -ENFILE || code == -ENOBUFS ||
           code == -ENOMEM;
}

/* One request: get, verify, process; errors go where Python sends them. */
static int handle_one(ss_server *s, bool *exhausted, bool *none)
{
    ss_request req = {.fd = -1};
    ss_addr client = {0};
    ss_error err;
    ss_error_clear(&err);

    int rc = s->vt.get_request(s, &req, &client, &err);
    if (rc < 0) {
        *none = true;
        if (rc == -EAGAIN)
            return 0;
        if (exhaustion(rc)) {
            *exhausted = true;
            return 0;
        }
        ss__error_default(&err, rc, "get_request");
        s->vt.handle_accept_error(s, &err);
        return 0;
    }
    ss__count(s, SS__ACCEPTED, 1);
    if (ss__proxy_enabled(s)) /* the balancer's header comes first */
        return ss__proxy_start_request(s, &req, &client);
    return ss__request_accepted(s, &req, &client);
}

int ss__request_accepted(ss_server *s, ss_request *req, const ss_addr *client)
{
    if (!s->vt.verify_request(s, req, client)) {
        ss__count(s, SS__REFUSED_VERIFY, 1);
        s->vt.shutdown_request(s, req); /* bpo-26309: exactly once */
        return 0;
    }
    ss__count(s, SS__ACTIVE, 1);
    if (ss__tls_enabled(s)) /* implicit TLS: the handshake comes first */
        return ss__tls_start_request(s, req, client);
    return ss__process_verified(s, req, client);
}

void ss__resume_request(ss_server *s, ss_request *req, const ss_addr *client,
                        int (*next)(ss_server *, ss_request *, const ss_addr *),
                        void (*drop)(ss_server *, ss_request *))
{
    if (ss__shutdown_requested(s)) { /* bpo-35017: no request after it */
        drop(s, req);
        return;
    }
    int rc = next(s, req, client);
    if (rc < 0) {
        ss__watch_fatal(s, rc);
    } else if (ss__shutdown_requested(s)) {
        /* A sync handler asked for the stop on this thread: let the loop
         * see it now rather than at the next service tick. */
        pthread_mutex_lock(&s->priv->lock);
        ss__watch_wake(s);
        pthread_mutex_unlock(&s->priv->lock);
    }
}

int ss__process_verified(ss_server *s, ss_request *req, const ss_addr *client)
{
    ss_error err;
    ss_error_clear(&err);
    int rc = s->vt.process_request(s, req, client, &err);
    if (rc < 0) {
        ss__error_default(&err, rc, "process_request");
        if (!err.fatal)
            s->vt.handle_error(s, req, client, &err);
        s->vt.shutdown_request(s, req);
        /* Whatever mixin took it, a failed process_request ends it here. */
        ss__count_finished(s);
        if (err.fatal)
            return err.code;
    }
    return 0;
}

int ss__handle_ready(ss_server *s, unsigned budget, bool *exhausted)
{
    *exhausted = false;
    for (unsigned i = 0; i < budget; i++) {
        /* bpo-35017: no request is taken once shutdown was asked for; and
         * none while a mixin has paused accepting (its queue is full). */
        if (i > 0 && (ss__shutdown_requested(s) || ss__accept_paused(s)))
            break;
        bool none = false;
        int rc = handle_one(s, exhausted, &none);
        if (rc < 0 || none)
            return rc;
    }
    return 0;
}

bool ss__shutdown_requested(ss_server *s)
{
    return __atomic_load_n(&s->priv->shutdown_request, __ATOMIC_ACQUIRE);
}

bool ss__accept_paused(ss_server *s)
{
    return __atomic_load_n(&s->priv->accept_paused, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&s->priv->retired, __ATOMIC_ACQUIRE);
}

/* --- serve_forever, shutdown, handle_request ---------------------------- */

int ss_server_serve_forever(ss_server *s, double poll_interval)
{
    struct ss_server_priv *p = s->priv;
    if (!p)
        return -EBADF;
    pthread_mutex_lock(&p->lock);
    if (p->serving) {
        pthread_mutex_unlock(&p->lock);
        return -EBUSY;
    }
    p->serving = true;
    p->is_shut_down = false;
    p->serving_thread = pthread_self();
    p->fatal_code = 0;
    pthread_mutex_unlock(&p->lock);

    /* loop.c runs the loop unless shutdown was asked for before it started
     * (bpo-2302); it returns once the loop has stopped. */
    int rc = ss__watch_start(s, NULL, poll_interval, true);

    pthread_mutex_lock(&p->lock);
    if (rc == 0)
        rc = p->fatal_code;
    __atomic_store_n(&p->shutdown_request, false, __ATOMIC_RELEASE);
    p->serving = false;
    p->is_shut_down = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int ss_server_shutdown(ss_server *s)
{
    struct ss_server_priv *p = s->priv;
    if (!p)
        return -EBADF;
    pthread_mutex_lock(&p->lock);
    if (p->attached) { /* the caller's loop: only detach stops it */
        pthread_mutex_unlock(&p->lock);
        return -EINVAL;
    }
    __atomic_store_n(&p->shutdown_request, true, __ATOMIC_RELEASE);
    if (p->serving && pthread_equal(p->serving_thread, pthread_self())) {
        /* A sync handler or an event callback: waiting would be waiting
         * for ourselves.  The wake-up stops the loop once we return to it,
         * whichever callback we are in. */
        if (p->watch)
            ss__watch_wake(s);
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    if (p->watch)
        ss__watch_wake(s);
    p->shutdown_waiters++;
    while (!p->is_shut_down)
        pthread_cond_wait(&p->cond, &p->lock);
    /* serve_forever's thread may go on to close the server as soon as it
     * returns: close waits for this count, so the lock outlives us. */
    p->shutdown_waiters--;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

int ss_server_handle_request(ss_server *s)
{
    if (!s->priv)
        return -EBADF;
    double timeout = s->timeout;
    double deadline = timeout >= 0 ? ss__now() + timeout : 0;
    for (;;) {
        int ms = -1;
        if (timeout >= 0) {
            double left = deadline - ss__now();
            if (left < 0)
                return s->vt.handle_timeout(s);
            ms = ss__poll_ms(left);
        }
        struct pollfd pf = {.fd = s->vt.fileno(s), .events = POLLIN};
        int n = poll(&pf, 1, ms);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n > 0) {
            bool exhausted;
            return ss__handle_ready(s, 1, &exhausted);
        }
        /* n == 0 or EINTR: loop; the deadline decides. */
    }
}
