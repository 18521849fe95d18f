/* tests/stats/test_stats.c - a server's figures (sockserv/stats.h) checked
 * against known traffic, for every way of serving: sync, threads, forked
 * children, the pool, the event mode, datagrams; and read from other
 * threads while the server serves.
 *
 * The known traffic, one connection at a time: "hello\n" echoed twice, a
 * "fail\n" the handler fails on, and one connection verify_request refuses.
 * So every mode must show 4 accepted, 1 refused by verify, 3 finished,
 * 1 handler error, 17 bytes in and 12 out, nothing active. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sockserv/sockserv.h>

#include "support.h"

#include <criterion/criterion.h>

#define DEADLINE 10.0

/* --- the server under test ---------------------------------------------- */

typedef struct st_server {
    ss_server srv; /* first: the handlers cast h->server back */
    ss_server_class cls;
    pthread_t thread;
    atomic_bool refuse; /* what verify_request answers: refuse when set */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool gate_open;
    int holding; /* handlers parked on the gate ("hold") */
} st_server;

static bool st_verify(ss_server *s, ss_request *req, const ss_addr *client)
{
    (void)req;
    (void)client;
    return !atomic_load(&((st_server *)s)->refuse);
}

/* The errors are the test's own: keep stderr for real surprises. */
static void st_quiet(ss_server *s, ss_request *req, const ss_addr *client,
                     const ss_error *err)
{
    (void)s;
    (void)req;
    (void)client;
    (void)err;
}

static void hold(st_server *t)
{
    pthread_mutex_lock(&t->mu);
    t->holding++;
    pthread_cond_broadcast(&t->cond);
    while (!t->gate_open)
        pthread_cond_wait(&t->cond, &t->mu);
    t->holding--;
    pthread_mutex_unlock(&t->mu);
}

/* One line: "fail" fails, "hold" waits for the gate, the rest is echoed. */
static int line_handle(ss_handler *h, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    char line[256];
    ssize_t n = ss_rfile_readline(&sh->rfile, line, sizeof line);
    if (n < 0)
        return ss_error_set(err, (int)n, "readline: %s", ss_strerror((int)n));
    if (n >= 4 && memcmp(line, "fail", 4) == 0)
        return ss_error_set(err, -EPROTO, "asked to fail");
    if (n >= 4 && memcmp(line, "hold", 4) == 0)
        hold((st_server *)h->server);
    int rc = ss_wfile_write(&sh->wfile, line, (size_t)n);
    return rc < 0 ? ss_error_set(err, rc, "write: %s", ss_strerror(rc)) : 0;
}

static const ss_handler_class line_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "LineHandler",
    .handle = line_handle,
};

/* A datagram: "fail" fails, the rest is echoed. */
static int dgram_handle(ss_handler *h, ss_error *err)
{
    ss_datagram_handler *dh = (ss_datagram_handler *)h;
    if (dh->packet_len >= 4 && memcmp(dh->packet, "fail", 4) == 0)
        return ss_error_set(err, -EPROTO, "asked to fail");
    int rc = ss_wfile_write(&dh->wfile, dh->packet, dh->packet_len);
    return rc < 0 ? ss_error_set(err, rc, "write: %s", ss_strerror(rc)) : 0;
}

static const ss_handler_class dgram_handler_class = {
    .base = &ss_datagram_request_handler_class,
    .name = "DatagramEcho",
    .handle = dgram_handle,
};

/* The event mode's line handler: the same protocol with callbacks. */
typedef struct ev_line {
    ss_event_handler base;
    char buf[256];
    size_t len;
} ev_line;

static int ev_on_data(ss_event_handler *h, const unsigned char *data,
                      size_t len, ss_error *err)
{
    ev_line *l = (ev_line *)h;
    if (len > sizeof l->buf - l->len)
        return ss_error_set(err, -E2BIG, "line too long");
    memcpy(l->buf + l->len, data, len);
    l->len += len;
    if (!memchr(l->buf, '\n', l->len))
        return 0;
    if (memcmp(l->buf, "fail", 4) == 0)
        return ss_error_set(err, -EPROTO, "asked to fail");
    int rc = ss_event_write(h, l->buf, l->len);
    if (rc < 0)
        return ss_error_set(err, rc, "write: %s", ss_strerror(rc));
    ss_event_close(h);
    return 0;
}

static const ss_event_handler_class ev_line_class = {
    .base = &ss_event_handler_base_class,
    .name = "EventLine",
    .instance_size = sizeof(ev_line),
    .on_data = ev_on_data,
};

static void *serve(void *arg)
{
    st_server *t = arg;
    /* A short interval: a ForkingMixIn parent reaps (and so counts a
     * finished child) in service_actions. */
    ss_server_serve_forever(&t->srv, 0.02);
    return NULL;
}

/* Starts base on 127.0.0.1:0 with handler class hc (NULL: the event
 * line handler, for an EventMixIn class); tune sets attributes first. */
static void st_start(st_server *t, const ss_server_class *base,
                     const ss_handler_class *hc, void (*tune)(ss_server *))
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cond, NULL);
    t->cls = (ss_server_class){.base = base,
                               .name = "StatsServer",
                               .verify_request = st_verify,
                               .handle_error = st_quiet};
    ss_addr addr;
    ss_error err;
    cr_assert_eq(ss_addr_parse(&addr, "127.0.0.1:0", &err), 0);
    int rc = hc ? ss_server_init(&t->srv, &t->cls, &addr, hc, 0, &err)
                : ss_event_server_init(&t->srv, &t->cls, &addr, &ev_line_class,
                                       0, &err);
    cr_assert_eq(rc, 0, "init: %s", err.msg);
    if (tune)
        tune(&t->srv);
    cr_assert_eq(ss_server_bind_and_activate(&t->srv, &err), 0, "bind: %s",
                 err.msg);
    cr_assert_eq(pthread_create(&t->thread, NULL, serve, t), 0);
}

static void st_stop(st_server *t)
{
    pthread_mutex_lock(&t->mu);
    t->gate_open = true;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->mu);
    ss_server_shutdown(&t->srv);
    pthread_join(t->thread, NULL);
    ss_server_close(&t->srv);
    ss_stats st;
    cr_assert_eq(ss_server_stats(&t->srv, &st), -EBADF);
    cr_assert_eq(st.accepted, 0);
}

/* Waits until every request taken so far has ended (none active) and at
 * least `accepted` were taken; returns the figures then. */
static ss_stats wait_settled(st_server *t, uint64_t accepted)
{
    ss_stats st;
    double end = ts_now() + DEADLINE;
    for (;;) {
        cr_assert_eq(ss_server_stats(&t->srv, &st), 0);
        if (st.accepted >= accepted && st.active == 0 &&
            st.accepted == st.refused_verify + st.refused_limit + st.finished)
            return st;
        cr_assert_lt(ts_now(), end,
                     "not settled: accepted %llu active %llu finished %llu",
                     (unsigned long long)st.accepted,
                     (unsigned long long)st.active,
                     (unsigned long long)st.finished);
        struct timespec ts = {0, 2 * 1000 * 1000}; /* a poll step, not a sync */
        nanosleep(&ts, NULL);
    }
}

/* One connection: sends line, expects `expect` back (NULL: nothing), then
 * EOF. */
static void exchange(const ss_addr *addr, const char *line, const char *expect)
{
    int fd = ts_connect(addr, SOCK_STREAM, DEADLINE);
    cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
    if (line)
        cr_assert_eq(ts_write_full(fd, line, strlen(line)), 0);
    char buf[256];
    size_t want = expect ? strlen(expect) : 0;
    if (want) {
        cr_assert_eq(ts_read_full(fd, buf, want), (ssize_t)want);
        cr_assert_eq(memcmp(buf, expect, want), 0);
    }
    cr_assert_eq(ts_read_full(fd, buf, 1), 0, "EOF expected");
    close(fd);
}

/* The known traffic of the file comment, and its figures. */
static void known_traffic(st_server *t)
{
    const ss_addr *a = &t->srv.server_address;
    exchange(a, "hello\n", "hello\n");
    exchange(a, "fail\n", NULL);
    atomic_store(&t->refuse, true);
    exchange(a, NULL, NULL);
    atomic_store(&t->refuse, false);
    exchange(a, "hello\n", "hello\n");

    ss_stats st = wait_settled(t, 4);
    cr_expect_eq(st.accepted, 4);
    cr_expect_eq(st.refused_verify, 1);
    cr_expect_eq(st.refused_limit, 0);
    cr_expect_eq(st.finished, 3);
    cr_expect_eq(st.handler_errors, 1);
    cr_expect_eq(st.bytes_in, 17, "bytes_in %llu",
                 (unsigned long long)st.bytes_in);
    cr_expect_eq(st.bytes_out, 12, "bytes_out %llu",
                 (unsigned long long)st.bytes_out);
    cr_expect_eq(st.active, 0);
    cr_expect_eq(st.pool_queued, 0);
    cr_expect_eq(st.tls_handshakes_ok, 0);
    cr_expect_eq(st.tls_handshakes_failed, 0);
}

static void run_known(const ss_server_class *base, bool event)
{
    st_server t;
    st_start(&t, base, event ? NULL : &line_handler_class, NULL);
    known_traffic(&t);
    st_stop(&t);
}

Test(stats, sync_server_counts_known_traffic)
{
    run_known(&ss_tcp_server_class, false);
}

Test(stats, threading_server_counts_known_traffic)
{
    run_known(&ss_threading_tcp_server_class, false);
}

Test(stats, forking_children_count_into_the_parents_figures)
{
    run_known(&ss_forking_tcp_server_class, false);
}

Test(stats, pool_server_counts_known_traffic)
{
    run_known(&ss_threadpool_tcp_server_class, false);
}

Test(stats, event_server_counts_known_traffic)
{
    run_known(&ss_event_tcp_server_class, true);
}

/* --- datagrams ------------------------------------------------------------ */

static void dgram_exchange(const ss_addr *addr, const char *msg, bool reply)
{
    int fd = ts_connect(addr, SOCK_DGRAM, DEADLINE);
    cr_assert_geq(fd, 0);
    cr_assert_eq(send(fd, msg, strlen(msg), 0), (ssize_t)strlen(msg));
    if (reply) {
        char buf[64];
        cr_assert_eq(recv(fd, buf, sizeof buf, 0), (ssize_t)strlen(msg));
    }
    close(fd);
}

static void run_datagrams(const ss_server_class *base)
{
    st_server t;
    st_start(&t, base, &dgram_handler_class, NULL);
    dgram_exchange(&t.srv.server_address, "ping", true);
    dgram_exchange(&t.srv.server_address, "fail", false);
    dgram_exchange(&t.srv.server_address, "pong!", true);
    ss_stats st = wait_settled(&t, 3);
    cr_expect_eq(st.accepted, 3);
    cr_expect_eq(st.finished, 3);
    cr_expect_eq(st.handler_errors, 1);
    cr_expect_eq(st.bytes_in, 13);
    cr_expect_eq(st.bytes_out, 9);
    st_stop(&t);
}

Test(stats, datagrams_are_requests_and_their_bytes_count)
{
    run_datagrams(&ss_udp_server_class);
}

Test(stats, threading_datagrams_count)
{
    run_datagrams(&ss_threading_udp_server_class);
}

/* --- the pool's queue and its limit ---------------------------------------- */

static void wait_holding(st_server *t, int n)
{
    double end = ts_now() + DEADLINE;
    pthread_mutex_lock(&t->mu);
    while (t->holding < n) {
        pthread_mutex_unlock(&t->mu);
        cr_assert_lt(ts_now(), end, "the handler never held");
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
}

static void open_gate(st_server *t)
{
    pthread_mutex_lock(&t->mu);
    t->gate_open = true;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->mu);
}

static void one_worker_wait(ss_server *s)
{
    s->pool_workers = 1;
    s->pool_queue_size = 4;
    s->pool_when_full = SS_POOL_WAIT;
}

static void one_worker_refuse(ss_server *s)
{
    s->pool_workers = 1;
    s->pool_queue_size = 0;
    s->pool_when_full = SS_POOL_REFUSE;
}

Test(stats, pool_queue_depth_is_a_gauge)
{
    st_server t;
    st_start(&t, &ss_threadpool_tcp_server_class, &line_handler_class,
             one_worker_wait);
    const ss_addr *a = &t.srv.server_address;
    int held = ts_connect(a, SOCK_STREAM, DEADLINE);
    cr_assert_eq(ts_write_full(held, "hold\n", 5), 0);
    wait_holding(&t, 1);
    int q[2];
    for (int i = 0; i < 2; i++) {
        q[i] = ts_connect(a, SOCK_STREAM, DEADLINE);
        cr_assert_eq(ts_write_full(q[i], "queued\n", 7), 0);
    }
    /* A snapshot reads its fields one by one: one taken while the third
     * connection is counted may show it queued but not yet accepted, so
     * wait for all three figures. */
    ss_stats st = {0};
    double end = ts_now() + DEADLINE;
    do {
        cr_assert_lt(ts_now(), end, "never 2 queued, 3 active, 3 accepted: "
                     "%" PRIu64 ", %" PRIu64 ", %" PRIu64,
                     st.pool_queued, st.active, st.accepted);
        ss_server_stats(&t.srv, &st);
    } while (st.pool_queued < 2 || st.active < 3 || st.accepted < 3);
    cr_expect_eq(st.pool_queued, 2);
    cr_expect_eq(st.active, 3);
    cr_expect_eq(st.accepted, 3);

    open_gate(&t);
    char buf[16];
    cr_assert_eq(ts_read_full(held, buf, 5), 5);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(ts_read_full(q[i], buf, 7), 7);
        close(q[i]);
    }
    close(held);
    st = wait_settled(&t, 3);
    cr_expect_eq(st.pool_queued, 0);
    cr_expect_eq(st.finished, 3);
    cr_expect_eq(st.bytes_in, 5 + 14);
    cr_expect_eq(st.bytes_out, 5 + 14);
    st_stop(&t);
}

Test(stats, a_full_pool_that_refuses_counts_a_limit_refusal)
{
    st_server t;
    st_start(&t, &ss_threadpool_tcp_server_class, &line_handler_class,
             one_worker_refuse);
    const ss_addr *a = &t.srv.server_address;
    int held = ts_connect(a, SOCK_STREAM, DEADLINE);
    cr_assert_eq(ts_write_full(held, "hold\n", 5), 0);
    wait_holding(&t, 1);
    exchange(a, NULL, NULL); /* refused: closed at once */
    ss_stats st;
    ss_server_stats(&t.srv, &st);
    cr_expect_eq(st.refused_limit, 1);
    cr_expect_eq(st.active, 1);
    open_gate(&t);
    char buf[8];
    cr_assert_eq(ts_read_full(held, buf, 5), 5);
    close(held);
    st = wait_settled(&t, 2);
    cr_expect_eq(st.accepted, 2);
    cr_expect_eq(st.refused_limit, 1);
    cr_expect_eq(st.finished, 1);
    st_stop(&t);
}

/* --- reads from other threads while serving (TSan checks the races) ------- */

typedef struct reader {
    st_server *t;
    atomic_bool *stop;
    unsigned long reads;
    bool ok;
} reader;

static void *read_loop(void *arg)
{
    reader *r = arg;
    ss_stats prev = {0}, st;
    r->ok = true;
    while (!atomic_load(r->stop)) {
        if (ss_server_stats(&r->t->srv, &st) != 0)
            r->ok = false;
        /* Counters never go back. */
        if (st.accepted < prev.accepted || st.finished < prev.finished ||
            st.bytes_in < prev.bytes_in || st.bytes_out < prev.bytes_out)
            r->ok = false;
        prev = st;
        r->reads++;
    }
    return NULL;
}

Test(stats, figures_read_from_other_threads_while_serving)
{
    st_server t;
    st_start(&t, &ss_threading_tcp_server_class, &line_handler_class, NULL);
    atomic_bool stop = false;
    reader r[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        r[i] = (reader){.t = &t, .stop = &stop};
        cr_assert_eq(pthread_create(&th[i], NULL, read_loop, &r[i]), 0);
    }
    enum { N = 40 };
    for (int i = 0; i < N; i++)
        exchange(&t.srv.server_address, "hello\n", "hello\n");
    ss_stats st = wait_settled(&t, N);
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        cr_expect(r[i].ok, "a counter went back");
        cr_expect_gt(r[i].reads, 0);
    }
    cr_expect_eq(st.accepted, N);
    cr_expect_eq(st.finished, N);
    cr_expect_eq(st.bytes_in, 6 * N);
    cr_expect_eq(st.bytes_out, 6 * N);
    st_stop(&t);
}
