/* ThreadingMixIn and ForkingMixIn: server_close joins threads and reaps
 * children (bpo-31233, bpo-31151), daemon_threads / block_on_close, finished
 * threads do not pile up (bpo-37193), children exit 0 or 1, max_children
 * is a hard cap, and a child the server did not fork is never reaped
 * (bpo-1540386). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coretest.h"

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool release;
    atomic_int entered, left;
    ct_pipe pipe;           /* forking: children report here */
    atomic_int max_active;  /* most children seen by service_actions */
    atomic_int actions;
} mx_state;

static void mx_init(mx_state *st)
{
    memset(st, 0, sizeof *st);
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    atomic_init(&st->entered, 0);
    atomic_init(&st->left, 0);
    atomic_init(&st->max_active, 0);
    atomic_init(&st->actions, 0);
    st->pipe.rd = st->pipe.wr = -1;
}

static void mx_release(mx_state *st)
{
    pthread_mutex_lock(&st->mu);
    st->release = true;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

/* Blocks on a condition until the test releases it. */
static int blocking_handle(ss_handler *h, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    mx_state *st = h->server->data;
    (void)err;
    atomic_fetch_add(&st->entered, 1);
    pthread_mutex_lock(&st->mu);
    while (!st->release)
        pthread_cond_wait(&st->cv, &st->mu);
    pthread_mutex_unlock(&st->mu);
    int rc = ss_wfile_write(&sh->wfile, "done\n", 5);
    atomic_fetch_add(&st->left, 1);
    return rc;
}

static const ss_handler_class blocking_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "BlockingHandler",
    .handle = blocking_handle,
};

/* Blocks reading a line from the client; reports start and end to the pipe
 * when there is one (forking). */
static int reading_handle(ss_handler *h, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    mx_state *st = h->server->data;
    char msg[64];
    atomic_fetch_add(&st->entered, 1);
    if (st->pipe.wr >= 0) {
        snprintf(msg, sizeof msg, "S %d\n", (int)getpid());
        ct_pipe_say(&st->pipe, msg);
    }
    char line[128];
    ssize_t n = ss_rfile_readline(&sh->rfile, line, sizeof line);
    atomic_fetch_add(&st->left, 1);
    if (st->pipe.wr >= 0) {
        snprintf(msg, sizeof msg, "E %d\n", (int)getpid());
        ct_pipe_say(&st->pipe, msg);
    }
    if (n < 0)
        return ss_error_set(err, (int)n, "readline");
    if (n > 0 && line[0] == 'F')
        return ss_error_set(err, -EPROTO, "asked to fail");
    if (n > 0 && line[0] == 'X') {
        ss_error_set(err, SS_EEXIT, "asked to exit");
        return ss_error_fatal(err);
    }
    return ss_wfile_write(&sh->wfile, line, (size_t)n);
}

static const ss_handler_class reading_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "ReadingHandler",
    .handle = reading_handle,
};

/* Quiet handle_error (the tests provoke errors on purpose), reporting to
 * the pipe from a forked child. */
static void mx_handle_error(ss_server *s, ss_request *r, const ss_addr *c,
                            const ss_error *e)
{
    mx_state *st = s->data;
    (void)r;
    (void)c;
    if (st->pipe.wr >= 0) {
        char msg[64];
        snprintf(msg, sizeof msg, "handle_error %d %d\n", (int)getpid(),
                 e->code);
        ct_pipe_say(&st->pipe, msg);
    }
}

static void mx_forking_service_actions(ss_server *s);

static const ss_server_class mx_threading_tcp = {
    .base = &ss_threading_tcp_server_class,
    .name = "QuietThreadingTCPServer",
    .handle_error = mx_handle_error,
};

static const ss_server_class mx_forking_tcp = {
    .base = &ss_forking_tcp_server_class,
    .name = "WatchedForkingTCPServer",
    .handle_error = mx_handle_error,
    .service_actions = mx_forking_service_actions,
};

static void mx_forking_service_actions(ss_server *s)
{
    mx_state *st = s->data;
    SS_SUPER(&mx_forking_tcp, service_actions)(s);
    int n = (int)ss_forking_active_children(s, NULL, 0);
    int old = atomic_load(&st->max_active);
    while (n > old && !atomic_compare_exchange_weak(&st->max_active, &old, n))
        ;
    atomic_fetch_add(&st->actions, 1);
}

static void make(ss_server *srv, const ss_server_class *cls,
                 const ss_handler_class *h, mx_state *st, unsigned flags)
{
    ss_addr a;
    ss_error err;
    ct_addr(&a, "127.0.0.1:0");
    cr_assert_eq(ss_server_init(srv, cls, &a, h, flags, &err), 0, "%s",
                 err.msg);
    srv->data = st;
}

typedef struct {
    ss_server *srv;
    atomic_bool done;
    int left_at_return;
    mx_state *st;
} closer;

static void *closer_main(void *arg)
{
    closer *c = arg;
    ss_server_close(c->srv);
    c->left_at_return = atomic_load(&c->st->left);
    atomic_store(&c->done, true);
    return NULL;
}

static bool closer_done(void *arg)
{
    return atomic_load(&((closer *)arg)->done);
}

/* --- threading ----------------------------------------------------------------- */

/* CPython's test_close_immediately, for both mixins: close with no request
 * ever made, twice (idempotent). */
Test(threading, close_immediately, .timeout = 30)
{
    mx_state st;
    mx_init(&st);
    ss_server srv;
    make(&srv, &ss_threading_tcp_server_class, &ct_echo_line_handler_class,
         &st, SS_BIND_AND_ACTIVATE);
    ss_server_close(&srv);
    cr_assert_eq(srv.socket, -1);
    ss_server_close(&srv);
    cr_assert_eq(srv.socket, -1);
}

Test(threading, server_close_joins_request_threads, .timeout = 30)
{
    mx_state st;
    mx_init(&st);
    ss_server srv;
    make(&srv, &mx_threading_tcp, &blocking_handler_class, &st,
         SS_BIND_AND_ACTIVATE);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.05);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    cr_assert(ct_wait_count(&st.entered, 1, CT_DEADLINE));
    cr_assert_eq(ss_threading_active_threads(&srv), 1);
    /* shutdown stops the loop, not the requests in flight */
    cr_assert_eq(ct_serve_stop(&serve), 0);
    cr_assert_eq(atomic_load(&st.left), 0);

    closer c = {.srv = &srv, .st = &st};
    atomic_init(&c.done, false);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, closer_main, &c), 0);
    ct_pause(0.3); /* negative check: close must still be waiting */
    cr_assert_not(atomic_load(&c.done),
                  "server_close returned with a request thread running");
    mx_release(&st);
    cr_assert(ct_wait_for(closer_done, &c, CT_DEADLINE));
    pthread_join(t, NULL);
    cr_assert_eq(c.left_at_return, 1,
                 "server_close returned before the thread finished");
    char line[16];
    cr_assert_eq(ts_read_line(fd, line, sizeof line), 5);
    ct_close(fd);
}

/* Threads that may be cut short: server_close shuts their connections down
 * so blocked reads return, and waits only for that. */
static void check_prompt_close(bool daemon_threads, bool block_on_close)
{
    mx_state st;
    mx_init(&st);
    ss_server srv;
    make(&srv, &mx_threading_tcp, &reading_handler_class, &st, 0);
    srv.daemon_threads = daemon_threads;
    srv.block_on_close = block_on_close;
    ss_error err;
    cr_assert_eq(ss_server_bind_and_activate(&srv, &err), 0, "%s", err.msg);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.05);
    int fds[3];
    for (int i = 0; i < 3; i++)
        fds[i] = ct_connect(&srv.server_address, SOCK_STREAM);
    cr_assert(ct_wait_count(&st.entered, 3, CT_DEADLINE));
    cr_assert_eq(ct_serve_stop(&serve), 0);

    double t0 = ts_now();
    ss_server_close(&srv);
    double took = ts_now() - t0;
    cr_assert_lt(took, 2.0, "server_close took %.2f s", took);
    cr_assert_eq(atomic_load(&st.left), 3,
                 "server_close returned while request threads still ran");
    for (int i = 0; i < 3; i++)
        ct_close(fds[i]);
}

Test(threading, daemon_threads_close_returns_promptly, .timeout = 30)
{
    check_prompt_close(true, true);
}

Test(threading, no_block_on_close_returns_promptly, .timeout = 30)
{
    check_prompt_close(false, false);
}

Test(threading, active_threads_counts_running_requests, .timeout = 30)
{
    mx_state st;
    mx_init(&st);
    ss_server srv;
    make(&srv, &mx_threading_tcp, &blocking_handler_class, &st,
         SS_BIND_AND_ACTIVATE);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.05);
    int fds[3];
    for (int i = 0; i < 3; i++)
        fds[i] = ct_connect(&srv.server_address, SOCK_STREAM);
    cr_assert(ct_wait_count(&st.entered, 3, CT_DEADLINE));
    cr_assert_eq(ss_threading_active_threads(&srv), 3);
    mx_release(&st);
    char line[16];
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(ts_read_line(fds[i], line, sizeof line), 5);
        cr_assert_eq(ts_read_line(fds[i], line, sizeof line), 0);
        ct_close(fds[i]);
    }
    double deadline = ts_now() + CT_DEADLINE;
    while (ss_threading_active_threads(&srv) > 0 && ts_now() < deadline)
        ct_pause(0.005);
    cr_assert_eq(ss_threading_active_threads(&srv), 0);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}

static int count_tasks(void)
{
    DIR *d = opendir("/proc/self/task");
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* CPython's test_threads_reaped (bpo-37193): ten sequential handle_request
 * calls leave fewer than ten threads behind. */
Test(threading, threads_reaped_handle_request, .timeout = 30)
{
    mx_state st;
    mx_init(&st);
    ss_server srv;
    make(&srv, &mx_threading_tcp, &ct_echo_line_handler_class, &st,
         SS_BIND_AND_ACTIVATE);
    int tasks0 = count_tasks();
    for (int i = 0; i < 10; i++) {
        int fd = ct_connect(&srv.server_address, SOCK_STREAM);
        cr_assert_eq(ts_write_full(fd, "x\n", 2), 0);
        cr_assert_eq(ss_server_handle_request(&srv), 0);
        char line[8];
        cr_assert_eq(ts_read_line(fd, line, sizeof line), 2);
        ct_close(fd);
    }
    cr_assert_lt(ss_threading_active_threads(&srv), 10);
    cr_assert_lt(count_tasks() - tasks0, 10);
    ss_server_close(&srv);
}

Test(threading, threads_reaped_serve_forever, .timeout = 60)
{
    mx_state st;
    mx_init(&st);
    ss_server srv;
    make(&srv, &mx_threading_tcp, &ct_echo_line_handler_class, &st,
         SS_BIND_AND_ACTIVATE);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.02);
    int tasks0 = count_tasks();
    for (int i = 0; i < 100; i++)
        ct_echo_check(&srv.server_address, SOCK_STREAM);
    cr_assert_lt(ss_threading_active_threads(&srv), 10);
    cr_assert_lt(count_tasks() - tasks0, 10,
                 "%d threads left after 100 sequential requests",
                 count_tasks() - tasks0);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}

/* --- thread_cache: finished threads run the next requests ------------------ */

/* Echoes a line and records the thread it ran on. */
static _Atomic unsigned long tc_last_thread;
static atomic_int tc_distinct;

static int tc_handle(ss_handler *h, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    unsigned long me = (unsigned long)pthread_self();
    if (atomic_exchange(&tc_last_thread, me) != me)
        atomic_fetch_add(&tc_distinct, 1);
    char line[64];
    ssize_t n = ss_rfile_readline(&sh->rfile, line, sizeof line);
    if (n < 0)
        return ss_error_set(err, (int)n, "readline");
    return ss_wfile_write(&sh->wfile, line, (size_t)n);
}

static const ss_handler_class tc_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "ThreadRecordingHandler",
    .handle = tc_handle,
};

typedef struct {
    ss_server *srv;
    size_t want;
    int tasks;
} tc_wait;

static bool tc_parked_pred(void *arg)
{
    tc_wait *w = arg;
    return ss_threading_parked_threads(w->srv) == w->want;
}

static bool tc_parked_is(ss_server *srv, size_t want)
{
    tc_wait w = {.srv = srv, .want = want};
    return ct_wait_for(tc_parked_pred, &w, CT_DEADLINE);
}

static bool tc_tasks_pred(void *arg)
{
    return count_tasks() <= ((tc_wait *)arg)->tasks;
}

Test(threading, thread_cache_runs_sequential_requests_on_one_thread,
     .timeout = 60)
{
    mx_state st;
    mx_init(&st);
    ss_server srv;
    make(&srv, &mx_threading_tcp, &tc_handler_class, &st,
         SS_BIND_AND_ACTIVATE);
    cr_assert_eq(srv.thread_cache, 0, "off by default, as in Python");
    srv.thread_cache = 2;
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.02);
    int tasks0 = count_tasks();
    for (int i = 0; i < 20; i++) {
        ct_echo_check(&srv.server_address, SOCK_STREAM);
        /* The thread parks once its request is done. */
        cr_assert(tc_parked_is(&srv, 1), "request %d: no thread parked", i);
    }
    cr_expect_eq(atomic_load(&tc_distinct), 1, "%d threads ran 20 requests",
                 atomic_load(&tc_distinct));
    cr_expect_leq(count_tasks() - tasks0, 1);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    double t0 = ts_now();
    ss_server_close(&srv);
    /* Not after thread_cache_idle (10 s): at once. */
    cr_expect_lt(ts_now() - t0, 5.0, "server_close waited for a parked thread");
    cr_expect_eq(ss_threading_parked_threads(&srv), 0);
    cr_expect_eq(count_tasks(), tasks0 - 1, "a thread was left"); /* serve stopped */
}

Test(threading, thread_cache_keeps_at_most_n, .timeout = 60)
{
    mx_state st;
    mx_init(&st);
    ss_server srv;
    make(&srv, &mx_threading_tcp, &blocking_handler_class, &st,
         SS_BIND_AND_ACTIVATE);
    srv.thread_cache = 2;
    srv.thread_cache_idle = 60; /* none times out during the test */
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.02);
    int tasks0 = count_tasks();
    int fds[5];
    for (int i = 0; i < 5; i++)
        fds[i] = ct_connect(&srv.server_address, SOCK_STREAM);
    cr_assert(ct_wait_count(&st.entered, 5, CT_DEADLINE));
    cr_expect_eq(count_tasks() - tasks0, 5);
    mx_release(&st);
    cr_assert(ct_wait_count(&st.left, 5, CT_DEADLINE));
    for (int i = 0; i < 5; i++)
        ct_close(fds[i]);
    /* Two wait for work, the other three exit. */
    cr_assert(tc_parked_is(&srv, 2), "two threads did not park");
    tc_wait w = {.tasks = tasks0 + 2};
    cr_expect(ct_wait_for(tc_tasks_pred, &w, CT_DEADLINE),
              "%d threads left, not 2", count_tasks() - tasks0);
    cr_expect_eq(count_tasks(), tasks0 + 2);
    cr_expect_eq(ss_threading_parked_threads(&srv), 2);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    double t0 = ts_now();
    ss_server_close(&srv);
    cr_expect_lt(ts_now() - t0, 5.0, "server_close waited for parked threads");
    cr_expect_eq(count_tasks(), tasks0 - 1, "a thread was left"); /* serve stopped */
}

Test(threading, thread_cache_threads_exit_after_idle_seconds, .timeout = 60)
{
    mx_state st;
    mx_init(&st);
    ss_server srv;
    make(&srv, &mx_threading_tcp, &tc_handler_class, &st,
         SS_BIND_AND_ACTIVATE);
    srv.thread_cache = 2;
    srv.thread_cache_idle = 3;
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.02);
    int tasks0 = count_tasks();
    ct_echo_check(&srv.server_address, SOCK_STREAM);
    cr_assert(tc_parked_is(&srv, 1), "the thread did not park");
    /* Then it leaves by itself, with nobody asking. */
    cr_assert(tc_parked_is(&srv, 0), "the parked thread did not time out");
    tc_wait w = {.tasks = tasks0};
    cr_expect(ct_wait_for(tc_tasks_pred, &w, CT_DEADLINE), "%d threads left",
              count_tasks() - tasks0);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}

/* --- forking ------------------------------------------------------------------- */

Test(forking, close_immediately, .timeout = 30)
{
    mx_state st;
    mx_init(&st);
    ss_server srv;
    make(&srv, &ss_forking_tcp_server_class, &ct_echo_line_handler_class, &st,
         SS_BIND_AND_ACTIVATE);
    ss_server_close(&srv);
    cr_assert_eq(srv.socket, -1);
    cr_assert_eq(ss_forking_active_children(&srv, NULL, 0), 0);
    ss_server_close(&srv);
}

/* bpo-31151: server_close waits for the children (block_on_close). */
Test(forking, server_close_waits_for_children, .timeout = 30)
{
    mx_state st;
    mx_init(&st);
    ct_pipe_open(&st.pipe);
    ss_server srv;
    make(&srv, &mx_forking_tcp, &reading_handler_class, &st,
         SS_BIND_AND_ACTIVATE);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.05);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    char got[256] = "";
    cr_assert_eq(ct_pipe_read_lines(&st.pipe, got, sizeof got, 1, CT_DEADLINE),
                 1, "the child did not start");
    cr_assert_eq(ct_serve_stop(&serve), 0);
    pid_t pids[4];
    cr_assert_eq(ss_forking_active_children(&srv, pids, 4), 1);
    pid_t child = pids[0];

    closer c = {.srv = &srv, .st = &st};
    atomic_init(&c.done, false);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, closer_main, &c), 0);
    ct_pause(0.3); /* negative check */
    cr_assert_not(atomic_load(&c.done),
                  "server_close returned with a child running");
    cr_assert_eq(ts_write_full(fd, "bye\n", 4), 0);
    cr_assert(ct_wait_for(closer_done, &c, CT_DEADLINE));
    pthread_join(t, NULL);
    cr_assert_eq(ss_forking_active_children(&srv, NULL, 0), 0);
    cr_assert_eq(waitpid(child, NULL, WNOHANG), -1,
                 "the child was left unreaped");
    cr_assert_eq(errno, ECHILD);
    ct_close(fd);
    ct_pipe_close(&st.pipe);
}

Test(forking, no_block_on_close_returns_promptly, .timeout = 30)
{
    mx_state st;
    mx_init(&st);
    ct_pipe_open(&st.pipe);
    ss_server srv;
    make(&srv, &mx_forking_tcp, &reading_handler_class, &st, 0);
    srv.block_on_close = false;
    ss_error err;
    cr_assert_eq(ss_server_bind_and_activate(&srv, &err), 0, "%s", err.msg);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.05);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    char got[256] = "";
    cr_assert_eq(ct_pipe_read_lines(&st.pipe, got, sizeof got, 1, CT_DEADLINE),
                 1);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    double t0 = ts_now();
    ss_server_close(&srv);
    cr_assert_lt(ts_now() - t0, 2.0, "server_close waited for the child");
    /* Let the child finish; the test process reaps what is left. */
    cr_assert_eq(ts_write_full(fd, "bye\n", 4), 0);
    char line[16];
    cr_assert_eq(ts_read_line(fd, line, sizeof line), 4);
    ct_close(fd);
    ct_pipe_close(&st.pipe);
}

/* The exit status of a child: 0 when the request succeeded, 1 when it
 * failed (handle_error ran in the child) or failed fatally (no
 * handle_error).  handle_request forks without a loop around it, so nothing
 * reaps the child before the test has peeked at its status (WNOWAIT). */
static void check_exit_status(const char *line, int want_status,
                              bool want_handle_error)
{
    mx_state st;
    mx_init(&st);
    ct_pipe_open(&st.pipe);
    ss_server srv;
    make(&srv, &mx_forking_tcp, &reading_handler_class, &st,
         SS_BIND_AND_ACTIVATE);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    cr_assert_eq(ts_write_full(fd, line, strlen(line)), 0);
    cr_assert_eq(ss_server_handle_request(&srv), 0);
    pid_t pids[2];
    cr_assert_eq(ss_forking_active_children(&srv, pids, 2), 1);

    siginfo_t si;
    memset(&si, 0, sizeof si);
    int rc;
    while ((rc = waitid(P_PID, (id_t)pids[0], &si, WEXITED | WNOWAIT)) < 0 &&
           errno == EINTR)
        ;
    cr_assert_eq(rc, 0, "waitid: %s", strerror(errno));
    cr_assert_eq(si.si_code, CLD_EXITED, "the child did not exit normally");
    cr_assert_eq(si.si_status, want_status, "child exit status %d, want %d",
                 si.si_status, want_status);

    ss_server_close(&srv);
    cr_assert_eq(ss_forking_active_children(&srv, NULL, 0), 0);
    close(st.pipe.wr);
    st.pipe.wr = -1;
    char got[512] = "";
    ct_pipe_read_lines(&st.pipe, got, sizeof got, 10, 1.0);
    char want[64];
    snprintf(want, sizeof want, "handle_error %d ", (int)pids[0]);
    if (want_handle_error)
        cr_assert_not_null(strstr(got, want), "no handle_error in the child: %s",
                           got);
    else
        cr_assert_null(strstr(got, "handle_error"),
                       "handle_error ran for a fatal error: %s", got);
    ct_close(fd);
    ct_pipe_close(&st.pipe);
}

Test(forking, child_exits_0_on_success, .timeout = 30)
{
    check_exit_status("ok\n", 0, false);
}

Test(forking, child_exits_1_on_error_after_handle_error, .timeout = 30)
{
    check_exit_status("F\n", 1, true);
}

Test(forking, child_exits_1_on_fatal_error_without_handle_error,
     .timeout = 30)
{
    check_exit_status("X\n", 1, false);
}

static int count_prefix(const char *text, char c)
{
    int n = 0;
    for (const char *p = text; *p; p++)
        if (*p == c && (p == text || p[-1] == '\n'))
            n++;
    return n;
}

/* max_children is a hard cap (stricter than Python, which only reaps down
 * to it afterwards): with max_children 2 and five clients held, two
 * children run, and a third starts only when one of them has exited. */
Test(forking, max_children_is_a_hard_cap, .timeout = 60)
{
    enum { N = 5 };
    mx_state st;
    mx_init(&st);
    ct_pipe_open(&st.pipe);
    ss_server srv;
    make(&srv, &mx_forking_tcp, &reading_handler_class, &st, 0);
    srv.max_children = 2;
    ss_error err;
    cr_assert_eq(ss_server_bind_and_activate(&srv, &err), 0, "%s", err.msg);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.02);

    int fds[N];
    for (int i = 0; i < N; i++)
        fds[i] = ct_connect(&srv.server_address, SOCK_STREAM);
    char got[4096] = "";
    cr_assert_eq(ct_pipe_read_lines(&st.pipe, got, sizeof got, 2, CT_DEADLINE),
                 2, "two children should start: %s", got);
    /* negative check: no third child while two are held */
    cr_assert_eq(ct_pipe_read_lines(&st.pipe, got, sizeof got, 3, 0.3), 2,
                 "a third child started with max_children 2: %s", got);

    /* Release every client: each child reads its line as it starts, so
     * the rest run two at a time. */
    for (int i = 0; i < N; i++)
        cr_assert_eq(ts_write_full(fds[i], "go\n", 3), 0);
    for (int i = 0; i < N; i++) {
        char line[16];
        cr_assert_eq(ts_read_line(fds[i], line, sizeof line), 3,
                     "client %d was not served", i);
        cr_assert_str_eq(line, "go\n");
    }
    int lines = ct_pipe_read_lines(&st.pipe, got, sizeof got, 2 * N, CT_DEADLINE);
    cr_assert_eq(lines, 2 * N, "%s", got);
    /* Replay the reports: never more than two children in their handler. */
    int alive = 0, most = 0;
    for (const char *p = got; *p;) {
        alive += *p == 'S' ? 1 : -1;
        if (alive > most)
            most = alive;
        p = strchr(p, '\n');
        if (!p)
            break;
        p++;
    }
    cr_assert_leq(most, 2, "%d children ran at once:\n%s", most, got);
    cr_assert_eq(count_prefix(got, 'S'), N);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    cr_assert_leq(atomic_load(&st.max_active), 2,
                  "active_children reached %d", atomic_load(&st.max_active));
    cr_assert_gt(atomic_load(&st.actions), 0);
    ss_server_close(&srv);
    cr_assert_eq(ss_forking_active_children(&srv, NULL, 0), 0);
    for (int i = 0; i < N; i++)
        ct_close(fds[i]);
    ct_pipe_close(&st.pipe);
}

/* collect_children waits for the server's own children only (never
 * waitpid(-1)): a child of the test that exited is still there for it. */
Test(forking, foreign_child_is_never_reaped, .timeout = 30)
{
    pid_t foreign = fork();
    cr_assert_geq(foreign, 0);
    if (foreign == 0)
        _exit(72);
    mx_state st;
    mx_init(&st);
    ss_server srv;
    make(&srv, &mx_forking_tcp, &ct_echo_line_handler_class, &st,
         SS_BIND_AND_ACTIVATE);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.01);
    for (int i = 0; i < 5; i++)
        ct_echo_check(&srv.server_address, SOCK_STREAM);
    /* Give SIGCHLD handling and service_actions every chance to misbehave. */
    cr_assert(ct_wait_count(&st.actions, 10, CT_DEADLINE));
    cr_assert_eq(ct_serve_stop(&serve), 0);
    cr_assert_eq(ss_forking_collect_children(&srv, true), 0);
    ss_server_close(&srv);
    int status;
    cr_assert_eq(waitpid(foreign, &status, 0), foreign,
                 "the server reaped a child it did not fork");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 72);
}

Test(forking, active_children_lists_child_pids, .timeout = 30)
{
    mx_state st;
    mx_init(&st);
    ct_pipe_open(&st.pipe);
    ss_server srv;
    make(&srv, &mx_forking_tcp, &reading_handler_class, &st,
         SS_BIND_AND_ACTIVATE);
    int fds[2];
    for (int i = 0; i < 2; i++) {
        fds[i] = ct_connect(&srv.server_address, SOCK_STREAM);
        cr_assert_eq(ss_server_handle_request(&srv), 0);
    }
    char got[256] = "";
    cr_assert_eq(ct_pipe_read_lines(&st.pipe, got, sizeof got, 2, CT_DEADLINE),
                 2);
    pid_t pids[4] = {0};
    cr_assert_eq(ss_forking_active_children(&srv, pids, 4), 2);
    for (int i = 0; i < 2; i++) {
        char want[32];
        snprintf(want, sizeof want, "S %d\n", (int)pids[i]);
        cr_assert_not_null(strstr(got, want), "pid %d is not a child: %s",
                           (int)pids[i], got);
    }
    /* cap smaller than the count: still the count, only cap copied */
    cr_assert_eq(ss_forking_active_children(&srv, pids, 1), 2);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(ts_write_full(fds[i], "q\n", 2), 0);
        ct_close(fds[i]);
    }
    cr_assert_eq(ss_forking_collect_children(&srv, true), 0);
    ss_server_close(&srv);
    ct_pipe_close(&st.pipe);
}
