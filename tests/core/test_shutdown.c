/* serve_forever and shutdown: the wake-up is immediate (not a poll), the
 * races CPython fixed (bpo-2302: shutdown before serve_forever starts), a
 * stray shutdown, shutdown from inside a sync handler (Python deadlocks
 * there), and service_actions on every poll_interval. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coretest.h"

static void tcp_server(ss_server *srv, const ss_server_class *cls,
                       const ss_handler_class *h)
{
    ss_addr a;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(srv, cls, &a, h ? h : &ct_echo_line_handler_class);
}

static void check_prompt_shutdown(const ss_server_class *cls, int type)
{
    ss_server srv;
    ss_addr a;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(&srv, cls, &a, ct_echo_handler_for(type));
    ct_serve serve;
    ct_serve_start(&serve, &srv, 10.0);
    /* One request proves serve_forever is running and idle in its wait. */
    ct_echo_check(&srv.server_address, type);

    double t0 = ts_now();
    cr_assert_eq(ss_server_shutdown(&srv), 0);
    double took = ts_now() - t0;
    cr_assert(ct_serve_wait(&serve, 1.0),
              "shutdown returned but serve_forever did not");
    cr_assert_lt(took, 2.0,
                 "shutdown took %.2f s with poll_interval 10 s: it must wake "
                 "the loop, not wait for the next poll", took);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}

Test(shutdown, returns_well_before_poll_interval_tcp, .timeout = 30)
{
    check_prompt_shutdown(&ss_tcp_server_class, SOCK_STREAM);
}

Test(shutdown, returns_well_before_poll_interval_threading_tcp, .timeout = 30)
{
    check_prompt_shutdown(&ss_threading_tcp_server_class, SOCK_STREAM);
}

Test(shutdown, returns_well_before_poll_interval_udp, .timeout = 30)
{
    check_prompt_shutdown(&ss_udp_server_class, SOCK_DGRAM);
}

Test(shutdown, returns_well_before_poll_interval_forking_tcp, .timeout = 30)
{
    check_prompt_shutdown(&ss_forking_tcp_server_class, SOCK_STREAM);
}

/* CPython test_shutdown (bpo-2302): shutdown() right after the thread that
 * will run serve_forever has been started, 20 times; every serving thread
 * must leave its loop. */
Test(shutdown, right_after_start_twenty_servers, .timeout = 60)
{
    enum { N = 20 };
    static ss_server srv[N];
    static ct_serve serve[N];
    for (int i = 0; i < N; i++) {
        tcp_server(&srv[i], &ss_tcp_server_class, NULL);
        ct_serve_start(&serve[i], &srv[i], 0.01);
        cr_assert_eq(ss_server_shutdown(&srv[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        cr_assert(ct_serve_wait(&serve[i], CT_DEADLINE),
                  "serve_forever %d did not leave its loop", i);
        cr_assert_eq(serve[i].rc, 0);
        ss_server_close(&srv[i]);
    }
}

typedef struct {
    ss_server *srv;
    int rc;
    atomic_bool done;
} shutdown_call;

static void *shutdown_main(void *arg)
{
    shutdown_call *c = arg;
    c->rc = ss_server_shutdown(c->srv);
    atomic_store(&c->done, true);
    return NULL;
}

/* Called before serve_forever has ever run, shutdown waits for it to start
 * and stop at once (Python's semantics). */
Test(shutdown, before_serve_forever_waits_for_it, .timeout = 30)
{
    ss_server srv;
    tcp_server(&srv, &ss_tcp_server_class, NULL);
    shutdown_call c = {.srv = &srv};
    atomic_init(&c.done, false);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, shutdown_main, &c), 0);
    /* A negative check: nothing can finish the call yet. */
    ct_pause(0.2);
    cr_assert_not(atomic_load(&c.done),
                  "shutdown returned although serve_forever never ran");

    ct_serve serve;
    ct_serve_start(&serve, &srv, 10.0);
    cr_assert(ct_serve_wait(&serve, 5.0),
              "serve_forever did not stop for the pending shutdown");
    cr_assert_eq(serve.rc, 0);
    pthread_join(t, NULL);
    cr_assert_eq(c.rc, 0);
    ss_server_close(&srv);
}

/* After a serve_forever has returned, shutdown returns at once and leaves
 * the request pending: the next serve_forever returns at once; the one
 * after that serves normally. */
Test(shutdown, stray_shutdown_makes_next_serve_forever_return_at_once,
     .timeout = 30)
{
    ss_server srv;
    tcp_server(&srv, &ss_tcp_server_class, NULL);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 10.0);
    ct_echo_check(&srv.server_address, SOCK_STREAM);
    cr_assert_eq(ct_serve_stop(&serve), 0);

    double t0 = ts_now();
    cr_assert_eq(ss_server_shutdown(&srv), 0);
    cr_assert_lt(ts_now() - t0, 1.0, "stray shutdown blocked");

    t0 = ts_now();
    ct_serve_start(&serve, &srv, 10.0);
    cr_assert(ct_serve_wait(&serve, 5.0),
              "serve_forever after a stray shutdown did not return");
    cr_assert_lt(ts_now() - t0, 2.0);
    cr_assert_eq(serve.rc, 0);

    ct_serve_start(&serve, &srv, 10.0);
    ct_echo_check(&srv.server_address, SOCK_STREAM);
    cr_assert_not(atomic_load(&serve.done),
                  "the stray shutdown was consumed twice");
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}

/* --- shutdown from inside a handler -------------------------------------- */

typedef struct {
    atomic_int calls;
    int rc;
    double took;
} inside_state;

static int shutdown_inside_handle(ss_handler *h, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    inside_state *st = h->server->data;
    char line[128];
    ssize_t n = ss_rfile_readline(&sh->rfile, line, sizeof line);
    if (n < 0)
        return ss_error_set(err, (int)n, "readline");
    double t0 = ts_now();
    st->rc = ss_server_shutdown(h->server);
    st->took = ts_now() - t0;
    atomic_fetch_add(&st->calls, 1);
    return ss_wfile_write(&sh->wfile, line, (size_t)n);
}

static const ss_handler_class shutdown_inside_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "ShutdownInsideHandler",
    .handle = shutdown_inside_handle,
};

/* Python deadlocks here; libsockserv asks for the stop, returns at once, and
 * serve_forever returns once the current request is done. */
Test(shutdown, inside_sync_handler_does_not_deadlock, .timeout = 30)
{
    ss_server srv;
    tcp_server(&srv, &ss_tcp_server_class, &shutdown_inside_handler_class);
    inside_state st = {0};
    atomic_init(&st.calls, 0);
    srv.data = &st;
    ct_serve serve;
    ct_serve_start(&serve, &srv, 10.0);

    ct_echo_check(&srv.server_address, SOCK_STREAM);
    cr_assert(ct_serve_wait(&serve, 5.0),
              "serve_forever did not return after a shutdown from its handler");
    cr_assert_eq(atomic_load(&st.calls), 1);
    cr_assert_eq(st.rc, 0);
    cr_assert_lt(st.took, 1.0, "shutdown from the handler waited %.2f s",
                 st.took);
    cr_assert_eq(serve.rc, 0);
    ss_server_close(&srv);
}

/* From a threading server's handler thread, shutdown is an ordinary call
 * from another thread: it waits for serve_forever and returns. */
Test(shutdown, inside_threading_handler_returns, .timeout = 30)
{
    ss_server srv;
    tcp_server(&srv, &ss_threading_tcp_server_class,
               &shutdown_inside_handler_class);
    inside_state st = {0};
    atomic_init(&st.calls, 0);
    srv.data = &st;
    ct_serve serve;
    ct_serve_start(&serve, &srv, 10.0);
    ct_echo_check(&srv.server_address, SOCK_STREAM);
    cr_assert(ct_serve_wait(&serve, 5.0));
    cr_assert_eq(st.rc, 0);
    cr_assert_eq(serve.rc, 0);
    ss_server_close(&srv);
}

/* --- concurrency of the calls themselves --------------------------------- */

Test(shutdown, from_several_threads_at_once, .timeout = 30)
{
    enum { N = 4 };
    ss_server srv;
    tcp_server(&srv, &ss_threading_tcp_server_class, NULL);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 10.0);
    ct_echo_check(&srv.server_address, SOCK_STREAM);
    shutdown_call c[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        c[i] = (shutdown_call){.srv = &srv};
        atomic_init(&c[i].done, false);
        cr_assert_eq(pthread_create(&t[i], NULL, shutdown_main, &c[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(c[i].rc, 0);
    }
    cr_assert(ct_serve_wait(&serve, CT_DEADLINE));
    cr_assert_eq(serve.rc, 0);
    ss_server_close(&srv);
}

Test(serve_forever, second_concurrent_call_is_refused, .timeout = 30)
{
    ss_server srv;
    tcp_server(&srv, &ss_tcp_server_class, NULL);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 10.0);
    ct_echo_check(&srv.server_address, SOCK_STREAM);
    cr_assert_eq(ss_server_serve_forever(&srv, 0.1), -EBUSY);
    ct_echo_check(&srv.server_address, SOCK_STREAM);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}

Test(serve_forever, can_run_again_after_shutdown, .timeout = 30)
{
    ss_server srv;
    tcp_server(&srv, &ss_threading_tcp_server_class, NULL);
    for (int round = 0; round < 3; round++) {
        ct_serve serve;
        ct_serve_start(&serve, &srv, 10.0);
        ct_echo_check(&srv.server_address, SOCK_STREAM);
        cr_assert_eq(ct_serve_stop(&serve), 0);
    }
    ss_server_close(&srv);
}

/* After shutdown the server takes no more requests, although its socket
 * stays open until server_close (the kernel still queues connections). */
Test(serve_forever, handles_nothing_after_shutdown, .timeout = 30)
{
    ss_server srv;
    tcp_server(&srv, &ss_tcp_server_class, NULL);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.01);
    ct_echo_check(&srv.server_address, SOCK_STREAM);
    cr_assert_eq(ct_serve_stop(&serve), 0);

    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    cr_assert_eq(ts_write_full(fd, "late\n", 5), 0);
    cr_assert_not(ct_readable(fd, 0.3), "a request was handled after shutdown");
    ss_server_close(&srv);
    ct_close(fd);
}

/* --- service_actions ------------------------------------------------------- */

typedef struct {
    atomic_int actions;
} actions_state;

static void counting_service_actions(ss_server *self);

static const ss_server_class counting_server_class = {
    .base = &ss_tcp_server_class,
    .name = "CountingServer",
    .service_actions = counting_service_actions,
};

static void counting_service_actions(ss_server *self)
{
    actions_state *st = self->data;
    atomic_fetch_add(&st->actions, 1);
    SS_SUPER(&counting_server_class, service_actions)(self);
}

/* Python calls service_actions on every pass of the loop; here it comes
 * from a timer every poll_interval while idle. */
Test(serve_forever, service_actions_runs_every_poll_interval, .timeout = 30)
{
    ss_server srv;
    tcp_server(&srv, &counting_server_class, NULL);
    actions_state st;
    atomic_init(&st.actions, 0);
    srv.data = &st;
    ct_serve serve;
    double t0 = ts_now();
    ct_serve_start(&serve, &srv, 0.02);
    cr_assert(ct_wait_count(&st.actions, 5, CT_DEADLINE),
              "service_actions ran %d times", atomic_load(&st.actions));
    cr_assert_gt(ts_now() - t0, 0.05,
                 "5 calls came faster than 5 poll intervals: is it spinning?");
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}

/* And after each request, even with a poll_interval far away. */
Test(serve_forever, service_actions_runs_after_each_request, .timeout = 30)
{
    ss_server srv;
    tcp_server(&srv, &counting_server_class, NULL);
    actions_state st;
    atomic_init(&st.actions, 0);
    srv.data = &st;
    ct_serve serve;
    ct_serve_start(&serve, &srv, 10.0);
    for (int i = 1; i <= 3; i++) {
        ct_echo_check(&srv.server_address, SOCK_STREAM);
        cr_assert(ct_wait_count(&st.actions, i, CT_DEADLINE),
                  "no service_actions after request %d", i);
    }
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}

/* The thread that ran serve_forever closes the server the moment it
 * returns, while shutdown() on another thread has not yet left the lock:
 * close must wait for it rather than destroy the lock under it. */
static void *serve_then_close(void *arg)
{
    ss_server *srv = arg;
    ss_server_serve_forever(srv, 10.0);
    ss_server_close(srv);
    return NULL;
}

Test(shutdown, close_right_after_serve_forever_waits_for_shutdown,
     .timeout = 60)
{
    for (int i = 0; i < 100; i++) {
        ss_server *srv = calloc(1, sizeof *srv);
        cr_assert_not_null(srv);
        tcp_server(srv, &ss_tcp_server_class, NULL);
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, serve_then_close, srv), 0);
        cr_assert_eq(ss_server_shutdown(srv), 0);
        pthread_join(t, NULL);
        cr_assert_eq(ss_server_fileno(srv), -1);
        /* Freed as a user would free it: ASan catches a late touch. */
        free(srv);
    }
}
