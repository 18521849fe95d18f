/* tests/pool/test_pool.c - ThreadPoolMixIn: a fixed set of workers, a
 * bounded queue, what a full pool does (wait or refuse), and what
 * server_close does with the queue (drain or cancel) and the threads.
 *
 * The handler reads one line.  A line "hold" parks the request on a gate
 * the test opens, so a test can fill the pool exactly; every other line is
 * echoed.  Each handler records the order in which requests started. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <sockserv/sockserv.h>

#include "support.h"

#include <criterion/criterion.h>

#define DEADLINE 10.0

/* --- the server under test ---------------------------------------------- */

typedef struct pool_state {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool gate_open;
    int started;       /* handlers that began */
    int order[64];     /* the first line's number, in the order handled */
    int norder;
    int holding;       /* handlers parked on the gate now */
} pool_state;

static int pool_handle(ss_handler *h, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    pool_state *st = h->server->data;
    char line[256];
    ssize_t n = ss_rfile_readline(&sh->rfile, line, sizeof line - 1);
    if (n < 0)
        return ss_error_set(err, (int)n, "readline: %s", ss_strerror((int)n));
    line[n] = '\0';
    pthread_mutex_lock(&st->mu);
    st->started++;
    int num;
    if (sscanf(line, "%d", &num) == 1 && st->norder < 64)
        st->order[st->norder++] = num;
    if (strncmp(line, "hold", 4) == 0) {
        st->holding++;
        pthread_cond_broadcast(&st->cond);
        while (!st->gate_open)
            pthread_cond_wait(&st->cond, &st->mu);
        st->holding--;
    }
    pthread_mutex_unlock(&st->mu);
    if (n == 0)
        return 0;
    return ss_wfile_write(&sh->wfile, line, (size_t)n);
}

static const ss_handler_class pool_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "PoolTestHandler",
    .handle = pool_handle,
};

/* A pool server whose refusal tells the client why. */
static const ss_server_class busy_server_class;

static void busy_handle_busy(ss_server *s, ss_request *req,
                             const ss_addr *client)
{
    (void)s;
    (void)client;
    static const char msg[] = "BUSY\n";
    (void)!send(req->fd, msg, sizeof msg - 1, MSG_NOSIGNAL);
}

static const ss_server_class busy_server_class = {
    .base = &ss_threadpool_tcp_server_class,
    .name = "BusyPoolServer",
    .handle_busy = busy_handle_busy,
};

static void open_gate(pool_state *st)
{
    pthread_mutex_lock(&st->mu);
    st->gate_open = true;
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->mu);
}

static void wait_holding(pool_state *st, int n)
{
    double end = ts_now() + DEADLINE;
    pthread_mutex_lock(&st->mu);
    while (st->holding < n && ts_now() < end) {
        pthread_mutex_unlock(&st->mu);
        usleep(1000);
        pthread_mutex_lock(&st->mu);
    }
    int got = st->holding;
    pthread_mutex_unlock(&st->mu);
    cr_assert_geq(got, n, "only %d of %d requests reached the gate", got, n);
}

static int started(pool_state *st)
{
    pthread_mutex_lock(&st->mu);
    int n = st->started;
    pthread_mutex_unlock(&st->mu);
    return n;
}

static void make_server(ss_server *srv, const ss_server_class *cls,
                        pool_state *st, unsigned workers, unsigned queue,
                        int when_full)
{
    ss_addr a;
    ss_error err;
    cr_assert_eq(ss_addr_parse(&a, "127.0.0.1:0", &err), 0, "%s", err.msg);
    cr_assert_eq(ss_server_init(srv, cls, &a, &pool_handler_class, 0, &err), 0,
                 "%s", err.msg);
    srv->pool_workers = workers;
    srv->pool_queue_size = queue;
    srv->pool_when_full = when_full;
    srv->request_queue_size = 128;
    cr_assert_eq(ss_server_bind_and_activate(srv, &err), 0, "%s", err.msg);
    *st = (pool_state){.mu = PTHREAD_MUTEX_INITIALIZER,
                       .cond = PTHREAD_COND_INITIALIZER};
    srv->data = st;
}

/* serve_forever on a thread of its own. */
typedef struct serving {
    ss_server *srv;
    pthread_t tid;
    int rc;
} serving;

static void *serve_main(void *arg)
{
    serving *sv = arg;
    sv->rc = ss_server_serve_forever(sv->srv, 0.05);
    return NULL;
}

static void serve_start(serving *sv, ss_server *srv)
{
    sv->srv = srv;
    cr_assert_eq(pthread_create(&sv->tid, NULL, serve_main, sv), 0);
}

/* shutdown() must return promptly even with the pool full. */
static void serve_stop(serving *sv)
{
    double t0 = ts_now();
    cr_assert_eq(ss_server_shutdown(sv->srv), 0);
    cr_assert_lt(ts_now() - t0, 2.0, "shutdown took %.2f s", ts_now() - t0);
    pthread_join(sv->tid, NULL);
    cr_assert_eq(sv->rc, 0);
}

static ss_threadpool_stats stats_of(ss_server *srv)
{
    ss_threadpool_stats s;
    ss_threadpool_get_stats(srv, &s);
    return s;
}

/* Polls the pool until pred holds (deadline). */
#define WAIT_STATS(srv, var, pred, ...)                                        \
    do {                                                                       \
        double end_ = ts_now() + DEADLINE;                                     \
        ss_threadpool_stats var = stats_of(srv);                               \
        while (!(pred) && ts_now() < end_) {                                   \
            usleep(1000);                                                      \
            var = stats_of(srv);                                               \
        }                                                                      \
        cr_assert(pred, __VA_ARGS__);                                          \
    } while (0)

static int client(const ss_addr *a, const char *line)
{
    int fd = ts_connect(a, SOCK_STREAM, DEADLINE);
    cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
    cr_assert_eq(ts_write_full(fd, line, strlen(line)), 0);
    return fd;
}

static void expect_line(int fd, const char *want)
{
    char buf[256];
    ssize_t n = ts_read_line(fd, buf, sizeof buf);
    cr_assert_gt(n, 0, "no reply (%zd), wanted %s", n, want);
    cr_assert_str_eq(buf, want);
}

static void expect_eof(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, 0);
    cr_assert(n == 0 || (n < 0 && errno == ECONNRESET),
              "expected the server to close, got %zd (%s)", n,
              n < 0 ? strerror(errno) : "data");
}

/* Nothing to read within t seconds: the request is still waiting. */
static bool silent_for(int fd, double t)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    return poll(&pf, 1, (int)(t * 1000)) == 0;
}

static void *noop(void *arg)
{
    return arg;
}

/* The threads of the process before a test's server starts.  A thread is
 * started and joined first: some runtimes (ThreadSanitizer) start a helper
 * thread of their own with the first pthread_create, and it is not ours. */
static int count_tasks(void);
static int baseline_tasks(void)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, noop, NULL), 0);
    pthread_join(t, NULL);
    return count_tasks();
}

static int count_tasks(void)
{
    DIR *d = opendir("/proc/self/task");
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* --- tests -------------------------------------------------------------- */

/* One worker, nine clients: the eight that queue behind the held request
 * all run, strictly in the order they were accepted, on that one thread.
 * (With two workers the order the handlers start in is up to the
 * scheduler, so only one worker can show the queue's order.) */
Test(pool, more_connections_than_workers_all_served_in_order, .timeout = 60)
{
    int tasks0 = baseline_tasks();
    ss_server srv;
    pool_state st;
    make_server(&srv, &ss_threadpool_tcp_server_class, &st, 1, 16, SS_POOL_WAIT);
    serving sv;
    serve_start(&sv, &srv);

    int hold = client(&srv.server_address, "hold\n");
    wait_holding(&st, 1);

    int fds[8];
    for (int i = 0; i < 8; i++) {
        char line[32];
        snprintf(line, sizeof line, "%d\n", i);
        fds[i] = client(&srv.server_address, line);
        /* Accepted and queued before the next one connects. */
        WAIT_STATS(&srv, s, s.queued == (size_t)i + 1,
                   "client %d not queued (queued %zu)", i, s.queued);
    }
    ss_threadpool_stats s = stats_of(&srv);
    cr_assert_eq(s.workers, 1);
    cr_assert_eq(s.running, 1);
    /* The serving thread and the worker, whatever the load. */
    cr_assert_eq(count_tasks(), tasks0 + 2, "threads: %d, expected %d",
                 count_tasks(), tasks0 + 2);

    open_gate(&st);
    expect_line(hold, "hold\n");
    close(hold);
    for (int i = 0; i < 8; i++) {
        char want[32];
        snprintf(want, sizeof want, "%d\n", i);
        expect_line(fds[i], want);
        expect_eof(fds[i]);
        close(fds[i]);
    }
    pthread_mutex_lock(&st.mu);
    cr_assert_eq(st.norder, 8);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(st.order[i], i, "request %d started at position %d",
                     st.order[i], i);
    pthread_mutex_unlock(&st.mu);
    WAIT_STATS(&srv, s2, s2.served == 9, "served %lu", s2.served);
    serve_stop(&sv);
    ss_server_close(&srv);
}

/* One worker, room for one waiting request: the third client stays in the
 * listen backlog (accepting paused) until the worker is free again. */
Test(pool, full_queue_waits_in_the_backlog, .timeout = 60)
{
    int tasks0 = baseline_tasks();
    ss_server srv;
    pool_state st;
    make_server(&srv, &ss_threadpool_tcp_server_class, &st, 1, 1, SS_POOL_WAIT);
    serving sv;
    serve_start(&sv, &srv);

    int a = client(&srv.server_address, "hold\n");
    wait_holding(&st, 1);
    int b = client(&srv.server_address, "1\n");
    WAIT_STATS(&srv, s, s.queued == 1 && s.paused, "queued %zu paused %d",
               s.queued, s.paused);
    int c = client(&srv.server_address, "2\n"); /* connect() succeeds: backlog */
    cr_assert(silent_for(c, 0.3), "the third client got an answer");
    ss_threadpool_stats s = stats_of(&srv);
    cr_assert_eq(s.queued, 1, "the paused server accepted the third client");
    cr_assert_eq(s.refused, 0);
    cr_assert_geq(s.pauses, 1);
    cr_assert_eq(count_tasks(), tasks0 + 2); /* serving thread + 1 worker */

    open_gate(&st);
    expect_line(a, "hold\n");
    expect_line(b, "1\n");
    expect_line(c, "2\n");
    WAIT_STATS(&srv, s2, s2.served == 3 && !s2.paused, "served %lu paused %d",
               s2.served, s2.paused);
    close(a);
    close(b);
    close(c);
    serve_stop(&sv);
    ss_server_close(&srv);
}

/* SS_POOL_REFUSE: with the worker busy and no queue, a client gets the
 * server's busy reply and EOF at once; later clients are served again. */
Test(pool, full_pool_refuses_with_busy_reply, .timeout = 60)
{
    ss_server srv;
    pool_state st;
    make_server(&srv, &busy_server_class, &st, 1, 0, SS_POOL_REFUSE);
    serving sv;
    serve_start(&sv, &srv);

    int a = client(&srv.server_address, "hold\n");
    wait_holding(&st, 1);
    int b = client(&srv.server_address, "1\n");
    expect_line(b, "BUSY\n");
    expect_eof(b);
    close(b);
    ss_threadpool_stats s = stats_of(&srv);
    cr_assert_eq(s.refused, 1);
    cr_assert_eq(s.pauses, 0);
    cr_assert_eq(started(&st), 1, "the refused request reached a handler");

    open_gate(&st);
    expect_line(a, "hold\n");
    close(a);
    WAIT_STATS(&srv, s2, s2.running == 0, "running %u", s2.running);
    int d = client(&srv.server_address, "3\n");
    expect_line(d, "3\n");
    close(d);
    serve_stop(&sv);
    ss_server_close(&srv);
}

/* After server_close every worker is joined and every descriptor closed. */
Test(pool, no_thread_or_fd_leak_after_server_close, .timeout = 60)
{
    /* libuv opens a process-wide pipe with its first loop (its signal
     * lock); open it now so that it is not counted as ours. */
    uv_loop_t warm;
    cr_assert_eq(uv_loop_init(&warm), 0);
    uv_loop_close(&warm);
    int tasks0 = baseline_tasks();
    int fds0 = ts_count_fds();
    ss_server srv;
    pool_state st;
    make_server(&srv, &ss_threadpool_tcp_server_class, &st, 4, 8, SS_POOL_WAIT);
    serving sv;
    serve_start(&sv, &srv);
    for (int i = 0; i < 20; i++) {
        char line[32];
        snprintf(line, sizeof line, "%d\n", i);
        int fd = client(&srv.server_address, line);
        expect_line(fd, line);
        close(fd);
    }
    WAIT_STATS(&srv, s, s.workers == 4 && s.served == 20, "workers %u served %lu",
               s.workers, s.served);
    cr_assert_eq(count_tasks(), tasks0 + 5);
    serve_stop(&sv);
    ss_server_close(&srv);
    cr_assert_eq(count_tasks(), tasks0, "threads left: %d", count_tasks() - tasks0);
    cr_assert_eq(ts_count_fds(), fds0, "descriptors left: %d",
                 ts_count_fds() - fds0);
}

typedef struct closer {
    ss_server *srv;
    pthread_t tid;
    bool done;
    pthread_mutex_t mu;
} closer;

static void *close_main(void *arg)
{
    closer *c = arg;
    ss_server_close(c->srv);
    pthread_mutex_lock(&c->mu);
    c->done = true;
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static bool closer_done(closer *c)
{
    pthread_mutex_lock(&c->mu);
    bool d = c->done;
    pthread_mutex_unlock(&c->mu);
    return d;
}

/* block_on_close (the default): server_close waits for the running request
 * and runs the queued ones to their end before it returns. */
Test(pool, close_drains_queued_requests, .timeout = 60)
{
    int tasks0 = baseline_tasks();
    ss_server srv;
    pool_state st;
    make_server(&srv, &ss_threadpool_tcp_server_class, &st, 1, 4, SS_POOL_WAIT);
    cr_assert(srv.block_on_close);
    serving sv;
    serve_start(&sv, &srv);
    int a = client(&srv.server_address, "hold\n");
    wait_holding(&st, 1);
    int b = client(&srv.server_address, "1\n");
    int c = client(&srv.server_address, "2\n");
    WAIT_STATS(&srv, s, s.queued == 2, "queued %zu", s.queued);
    serve_stop(&sv);

    closer cl = {.srv = &srv, .mu = PTHREAD_MUTEX_INITIALIZER};
    cr_assert_eq(pthread_create(&cl.tid, NULL, close_main, &cl), 0);
    cr_assert(silent_for(b, 0.2));
    cr_assert_not(closer_done(&cl), "server_close did not wait for its requests");
    open_gate(&st);
    expect_line(a, "hold\n");
    expect_line(b, "1\n");
    expect_line(c, "2\n");
    pthread_join(cl.tid, NULL);
    cr_assert_eq(started(&st), 3);
    cr_assert_eq(count_tasks(), tasks0);
    close(a);
    close(b);
    close(c);
}

/* Without block_on_close: the queued requests never run (their clients see
 * EOF), the running one is cut short, and server_close returns at once. */
Test(pool, close_cancels_queued_requests, .timeout = 60)
{
    int tasks0 = baseline_tasks();
    ss_server srv;
    pool_state st;
    make_server(&srv, &ss_threadpool_tcp_server_class, &st, 1, 4, SS_POOL_WAIT);
    srv.block_on_close = false;
    serving sv;
    serve_start(&sv, &srv);
    /* A client that sends nothing: its handler blocks in readline. */
    int a = ts_connect(&srv.server_address, SOCK_STREAM, DEADLINE);
    cr_assert_geq(a, 0);
    WAIT_STATS(&srv, s0, s0.running == 1, "running %u", s0.running);
    int b = client(&srv.server_address, "1\n");
    int c = client(&srv.server_address, "2\n");
    WAIT_STATS(&srv, s, s.queued == 2, "queued %zu", s.queued);
    serve_stop(&sv);

    double t0 = ts_now();
    ss_server_close(&srv);
    cr_assert_lt(ts_now() - t0, 2.0, "server_close took %.2f s", ts_now() - t0);
    expect_eof(a);
    expect_eof(b);
    expect_eof(c);
    cr_assert_eq(started(&st), 1, "a cancelled request ran");
    cr_assert_eq(count_tasks(), tasks0);
    close(a);
    close(b);
    close(c);
}

/* shutdown() from another thread returns promptly while the pool is full
 * and accepting paused; serving again later picks up where it left. */
Test(pool, shutdown_is_prompt_while_paused_and_serving_resumes, .timeout = 60)
{
    ss_server srv;
    pool_state st;
    make_server(&srv, &ss_threadpool_tcp_server_class, &st, 1, 0, SS_POOL_WAIT);
    serving sv;
    serve_start(&sv, &srv);
    int a = client(&srv.server_address, "hold\n");
    wait_holding(&st, 1);
    WAIT_STATS(&srv, s, s.paused, "not paused");
    int b = client(&srv.server_address, "1\n");
    serve_stop(&sv); /* asserts promptness */
    open_gate(&st);
    expect_line(a, "hold\n");
    WAIT_STATS(&srv, s2, !s2.paused && s2.running == 0, "still paused");
    serve_start(&sv, &srv);
    expect_line(b, "1\n");
    serve_stop(&sv);
    ss_server_close(&srv);
    close(a);
    close(b);
}

/* handle_request() has no loop to pause: it waits for room instead. */
Test(pool, handle_request_queues_without_a_loop, .timeout = 60)
{
    ss_server srv;
    pool_state st;
    make_server(&srv, &ss_threadpool_tcp_server_class, &st, 2, 2, SS_POOL_WAIT);
    srv.timeout = DEADLINE;
    int fds[3];
    for (int i = 0; i < 3; i++) {
        char line[32];
        snprintf(line, sizeof line, "%d\n", i);
        fds[i] = client(&srv.server_address, line);
        cr_assert_eq(ss_server_handle_request(&srv), 0);
    }
    for (int i = 0; i < 3; i++) {
        char want[32];
        snprintf(want, sizeof want, "%d\n", i);
        expect_line(fds[i], want);
        close(fds[i]);
    }
    ss_server_close(&srv);
}

/* --- the other three classes ---------------------------------------------- */

static int dgram_echo_handle(ss_handler *h, ss_error *err)
{
    ss_datagram_handler *dh = (ss_datagram_handler *)h;
    (void)err;
    return ss_wfile_write(&dh->wfile, dh->packet, dh->packet_len);
}

static const ss_handler_class dgram_echo_class = {
    .base = &ss_datagram_request_handler_class,
    .name = "PoolDgramEcho",
    .handle = dgram_echo_handle,
};

static void echo_many(const ss_server_class *cls, const char *addr_text,
                      const ss_handler_class *handler, int type)
{
    char dir[256] = "";
    char text[320];
    if (strncmp(addr_text, "unix:", 5) == 0) {
        ts_mkdtemp("pool", dir, sizeof dir);
        snprintf(text, sizeof text, "unix:%s/s.sock", dir);
        addr_text = text;
    }
    ss_addr a;
    ss_error err;
    cr_assert_eq(ss_addr_parse(&a, addr_text, &err), 0, "%s", err.msg);
    ss_server srv;
    cr_assert_eq(ss_server_init(&srv, cls, &a, handler, SS_BIND_AND_ACTIVATE,
                                &err), 0, "%s", err.msg);
    pool_state st = {.mu = PTHREAD_MUTEX_INITIALIZER,
                     .cond = PTHREAD_COND_INITIALIZER, .gate_open = true};
    srv.data = &st;
    srv.pool_workers = 3;
    serving sv;
    serve_start(&sv, &srv);
    for (int i = 0; i < 12; i++) {
        char line[32], buf[64];
        snprintf(line, sizeof line, "%d\n", i);
        int fd = ts_connect(&srv.server_address, type, DEADLINE);
        cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
        cr_assert_eq(ts_write_full(fd, line, strlen(line)), 0);
        if (type == SOCK_STREAM) {
            expect_line(fd, line);
        } else {
            ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
            cr_assert_eq(n, (ssize_t)strlen(line), "reply %zd", n);
            buf[n] = '\0';
            cr_assert_str_eq(buf, line);
        }
        close(fd);
    }
    WAIT_STATS(&srv, s, s.workers == 3 && s.served == 12, "served %lu", s.served);
    serve_stop(&sv);
    ss_server_close(&srv);
    if (dir[0])
        ts_rmtree(dir);
}

Test(pool, udp_server_echoes_on_workers, .timeout = 60)
{
    echo_many(&ss_threadpool_udp_server_class, "127.0.0.1:0",
              &dgram_echo_class, SOCK_DGRAM);
}

Test(pool, unix_stream_server_echoes_on_workers, .timeout = 60)
{
    echo_many(&ss_threadpool_unix_stream_server_class, "unix:",
              &pool_handler_class, SOCK_STREAM);
}

Test(pool, unix_datagram_server_echoes_on_workers, .timeout = 60)
{
    echo_many(&ss_threadpool_unix_datagram_server_class, "unix:",
              &dgram_echo_class, SOCK_DGRAM);
}

/* The attributes' defaults, and a derived class changing them. */
Test(pool, attribute_defaults)
{
    ss_server srv;
    ss_addr a;
    ss_error err;
    cr_assert_eq(ss_addr_parse(&a, "127.0.0.1:0", &err), 0);
    cr_assert_eq(ss_server_init(&srv, &ss_threadpool_tcp_server_class, &a,
                                &pool_handler_class, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(srv.pool_workers, 8);
    cr_assert_eq(srv.pool_queue_size, 64);
    cr_assert_eq(srv.pool_when_full, SS_POOL_WAIT);
    cr_assert(srv.block_on_close);
    ss_threadpool_stats s = stats_of(&srv);
    cr_assert_eq(s.workers, 0, "workers start with the first request");
    ss_server_close(&srv);
}

/* --- on a loop of the caller's (ss_server_attach) ------------------------- */

typedef struct attached {
    ss_server *srv;
    pthread_t tid;
    uv_loop_t loop;
    uv_async_t stop;
    int attach_rc;
    atomic_bool up;
} attached;

static void on_stop(uv_async_t *a)
{
    attached *at = a->data;
    ss_server_detach(at->srv);
    uv_close((uv_handle_t *)&at->stop, NULL);
}

/* The caller's loop on a thread: attach, run until stopped, detach there. */
static void *attached_main(void *arg)
{
    attached *at = arg;
    uv_loop_init(&at->loop);
    uv_async_init(&at->loop, &at->stop, on_stop);
    at->stop.data = at;
    at->attach_rc = ss_server_attach(at->srv, &at->loop, 0.05);
    atomic_store(&at->up, true);
    if (at->attach_rc == 0)
        uv_run(&at->loop, UV_RUN_DEFAULT);
    else
        uv_close((uv_handle_t *)&at->stop, NULL);
    uv_run(&at->loop, UV_RUN_DEFAULT); /* the closes */
    uv_loop_close(&at->loop);
    return NULL;
}

/* Cap-and-pause works on a user's loop too: the worker that frees a slot
 * wakes that loop, which watches the listening socket again. */
Test(pool, cap_and_pause_on_an_attached_loop, .timeout = 60)
{
    ss_server srv;
    pool_state st;
    make_server(&srv, &ss_threadpool_tcp_server_class, &st, 1, 0, SS_POOL_WAIT);
    attached at = {.srv = &srv};
    atomic_init(&at.up, false);
    cr_assert_eq(pthread_create(&at.tid, NULL, attached_main, &at), 0);
    double end = ts_now() + DEADLINE;
    while (!atomic_load(&at.up) && ts_now() < end)
        usleep(1000);
    cr_assert_eq(at.attach_rc, 0);

    int a = client(&srv.server_address, "hold\n");
    wait_holding(&st, 1);
    WAIT_STATS(&srv, s, s.paused, "not paused");
    int b = client(&srv.server_address, "1\n");
    cr_assert(silent_for(b, 0.3), "the paused loop served a client");
    open_gate(&st);
    expect_line(a, "hold\n");
    expect_line(b, "1\n");
    WAIT_STATS(&srv, s2, s2.served == 2, "served %lu", s2.served);
    uv_async_send(&at.stop);
    pthread_join(at.tid, NULL);
    ss_server_close(&srv);
    close(a);
    close(b);
}
