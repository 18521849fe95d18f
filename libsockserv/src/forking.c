/* forking.c - ForkingMixIn: a process per request, reaped by pid. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sockserv/forking.h>

#include "internal.h"

const ss_mixin ss_forking_mixin = {.name = "ForkingMixIn"};

void ss_forking_mixin_configure(ss_server *s)
{
    SS_MIXIN_SUPER(s, &ss_forking_mixin, configure)(s);
    s->timeout = 300;
    s->max_children = 40;
    s->block_on_close = true;
}

/* Keeps fork order, so children[0] is the oldest: the one wait_for_room
 * waits on is the one most likely to be done.  The request ends here for
 * the figures: the parent sees every child go, however it went. */
static void remove_child_locked(ss_server *s, size_t i)
{
    struct ss_server_priv *p = s->priv;
    ss__count_finished(s);
    memmove(&p->children[i], &p->children[i + 1],
            (--p->nchildren - i) * sizeof p->children[0]);
}

/* Reaps our own children only: waitpid(pid) for each pid we forked, never
 * waitpid(-1), which would steal the rest of the program's children. */
static size_t reap(ss_server *s, bool blocking)
{
    struct ss_server_priv *p = s->priv;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->nchildren;) {
        pid_t pid = p->children[i];
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            remove_child_locked(s, i);
        else
            i++;
    }
    while (blocking && p->nchildren > 0) {
        pid_t pid = p->children[0];
        pthread_mutex_unlock(&p->lock); /* do not block others on the lock */
        pid_t r;
        do
            r = waitpid(pid, NULL, 0);
        while (r < 0 && errno == EINTR);
        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < p->nchildren; i++)
            if (p->children[i] == pid) {
                remove_child_locked(s, i);
                break;
            }
    }
    size_t left = p->nchildren;
    pthread_mutex_unlock(&p->lock);
    return left;
}

size_t ss_forking_collect_children(ss_server *s, bool blocking)
{
    return s->priv ? reap(s, blocking) : 0;
}

size_t ss_forking_active_children(ss_server *s, pid_t *pids, size_t cap)
{
    struct ss_server_priv *p = s->priv;
    if (!p)
        return 0;
    pthread_mutex_lock(&p->lock);
    size_t n = p->nchildren;
    if (pids)
        memcpy(pids, p->children, (n < cap ? n : cap) * sizeof *pids);
    pthread_mutex_unlock(&p->lock);
    return n;
}

/* Waits until fewer than max_children run: the cap holds at fork time. */
static void wait_for_room(ss_server *s)
{
    struct ss_server_priv *p = s->priv;
    if (s->max_children == 0)
        return;
    while (reap(s, false) >= s->max_children) {
        pthread_mutex_lock(&p->lock);
        pid_t oldest = p->nchildren ? p->children[0] : 0;
        pthread_mutex_unlock(&p->lock);
        if (oldest <= 0)
            return;
        pid_t r;
        do
            r = waitpid(oldest, NULL, 0);
        while (r < 0 && errno == EINTR);
        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < p->nchildren; i++)
            if (p->children[i] == oldest) {
                remove_child_locked(s, i);
                break;
            }
        pthread_mutex_unlock(&p->lock);
    }
}

static int add_child(struct ss_server_priv *p, pid_t pid)
{
    pthread_mutex_lock(&p->lock);
    if (p->nchildren == p->cap_children) {
        size_t cap = p->cap_children ? p->cap_children * 2 : 16;
        pid_t *n = realloc(p->children, cap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&p->lock);
            return -ENOMEM;
        }
        p->children = n;
        p->cap_children = cap;
    }
    p->children[p->nchildren++] = pid;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

int ss_forking_mixin_process_request(ss_server *s, ss_request *req,
                                     const ss_addr *client, ss_error *err)
{
    wait_for_room(s);
    /* Room in the table first: after the fork it is too late to fail. */
    int rc = add_child(s->priv, 0);
    if (rc < 0)
        return ss_error_set(err, rc, "fork: out of memory");
    pid_t pid = fork();
    if (pid < 0) {
        int code = ss_error_errno(err, "fork");
        pthread_mutex_lock(&s->priv->lock);
        s->priv->nchildren--;
        pthread_mutex_unlock(&s->priv->lock);
        return code;
    }
    if (pid == 0) {
        /* The child serves this request only.  A stream request does not
         * need the listening socket; a datagram request answers on it. */
        if (req->fd != s->socket) {
            ss__close(s->socket);
            s->socket = -1;
        }
        signal(SIGCHLD, SIG_DFL);
        ss_error cerr;
        ss_error_clear(&cerr);
        int status = 1;
        if (s->vt.finish_request(s, req, client, &cerr) == 0) {
            status = 0;
        } else {
            ss__error_default(&cerr, cerr.code ? cerr.code : -EIO,
                              "finish_request");
            if (!cerr.fatal)
                s->vt.handle_error(s, req, client, &cerr);
        }
        s->vt.shutdown_request(s, req);
        _exit(status);
    }
    pthread_mutex_lock(&s->priv->lock);
    s->priv->children[s->priv->nchildren - 1] = pid;
    pthread_mutex_unlock(&s->priv->lock);
    /* close, not shutdown: SHUT_WR here would cut the child's connection. */
    s->vt.close_request(s, req);
    return 0;
}

int ss_forking_mixin_handle_timeout(ss_server *s)
{
    reap(s, false);
    return SS_MIXIN_SUPER(s, &ss_forking_mixin, handle_timeout)(s);
}

void ss_forking_mixin_service_actions(ss_server *s)
{
    SS_MIXIN_SUPER(s, &ss_forking_mixin, service_actions)(s);
    reap(s, false);
}

void ss_forking_mixin_server_close(ss_server *s)
{
    SS_MIXIN_SUPER(s, &ss_forking_mixin, server_close)(s);
    reap(s, s->block_on_close);
}

const ss_server_class ss_forking_tcp_server_class = {
    .base = &ss_tcp_server_class,
    .name = "ForkingTCPServer",
    SS_FORKING_MIXIN_SLOTS,
};

const ss_server_class ss_forking_udp_server_class = {
    .base = &ss_udp_server_class,
    .name = "ForkingUDPServer",
    SS_FORKING_MIXIN_SLOTS,
};

const ss_server_class ss_forking_unix_stream_server_class = {
    .base = &ss_unix_stream_server_class,
    .name = "ForkingUnixStreamServer",
    SS_FORKING_MIXIN_SLOTS,
};

const ss_server_class ss_forking_unix_datagram_server_class = {
    .base = &ss_unix_datagram_server_class,
    .name = "ForkingUnixDatagramServer",
    SS_FORKING_MIXIN_SLOTS,
};
