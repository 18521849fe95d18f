/* tests/uv/test_uv.c - EventMixIn: the core's echo conformance cases on
 * callback handlers (TCP, UDP, unix), verify_request, handle_error, fatal
 * errors, prompt shutdown, 1,000 concurrent connections, a slow reader
 * held back by backpressure with the server's buffer bounded, timers. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <sockserv/sockserv.h>

#include "support.h"

#include <criterion/criterion.h>

#define DEADLINE 10.0

/* --- what the handlers record --------------------------------------------- */

static atomic_int n_connect, n_close, n_error, n_drain;
static atomic_size_t max_buffered;
static char error_msg[SS_ERRMSG_MAX];
static ss_addr error_client;

static void reset_counts(void)
{
    atomic_store(&n_connect, 0);
    atomic_store(&n_close, 0);
    atomic_store(&n_error, 0);
    atomic_store(&n_drain, 0);
    atomic_store(&max_buffered, 0);
}

/* --- handlers ------------------------------------------------------------- */

static void echo_configure(ss_event_handler *h)
{
    ss_event_handler_base_class.configure(h);
    h->disable_nagle_algorithm = true;
}

static int echo_connect(ss_event_handler *h, ss_error *err)
{
    (void)h;
    (void)err;
    atomic_fetch_add(&n_connect, 1);
    return 0;
}

static int echo_data(ss_event_handler *h, const unsigned char *data, size_t len,
                     ss_error *err)
{
    if (len >= 4 && memcmp(data, "fail", 4) == 0)
        return ss_error_set(err, SS_EPROTO, "echo: the client asked to fail");
    if (len >= 5 && memcmp(data, "fatal", 5) == 0)
        return ss_error_fatal(err);
    int rc = ss_event_write(h, data, len);
    size_t b = ss_event_buffered(h), m = atomic_load(&max_buffered);
    while (b > m && !atomic_compare_exchange_weak(&max_buffered, &m, b))
        ;
    return rc;
}

static int echo_drain(ss_event_handler *h, ss_error *err)
{
    (void)h;
    (void)err;
    atomic_fetch_add(&n_drain, 1);
    return 0;
}

static void echo_close(ss_event_handler *h)
{
    (void)h;
    atomic_fetch_add(&n_close, 1);
}

static const ss_event_handler_class echo_class = {
    .base = &ss_event_handler_base_class,
    .name = "EchoEvents",
    .configure = echo_configure,
    .on_connect = echo_connect,
    .on_data = echo_data,
    .on_drain = echo_drain,
    .on_close = echo_close,
};

/* Servers that record handle_error and refuse every second client. */
static atomic_int verify_calls;

static bool every_second_verify(ss_server *s, ss_request *req, const ss_addr *c)
{
    (void)s;
    (void)req;
    (void)c;
    return atomic_fetch_add(&verify_calls, 1) % 2 == 0;
}

static void record_error(ss_server *s, ss_request *req, const ss_addr *client,
                         const ss_error *err)
{
    (void)s;
    (void)req;
    snprintf(error_msg, sizeof error_msg, "%s", err->msg);
    error_client = *client;
    atomic_fetch_add(&n_error, 1);
}

static const ss_server_class picky_server_class = {
    .base = &ss_event_tcp_server_class,
    .name = "PickyEventServer",
    .verify_request = every_second_verify,
};

static const ss_server_class recording_server_class = {
    .base = &ss_event_tcp_server_class,
    .name = "RecordingEventServer",
    .handle_error = record_error,
};

/* --- serving -------------------------------------------------------------- */

typedef struct serving {
    ss_server srv;
    pthread_t tid;
    int rc;
    char dir[256];
} serving;

static void *serve_main(void *arg)
{
    serving *sv = arg;
    sv->rc = ss_server_serve_forever(&sv->srv, 0.05);
    return NULL;
}

/* addr_text "unix:" gets a fresh temp path. */
static void serve(serving *sv, const ss_server_class *cls, const char *addr_text,
                  const ss_event_handler_class *handler)
{
    char text[320];
    sv->dir[0] = '\0';
    if (strcmp(addr_text, "unix:") == 0) {
        ts_mkdtemp("uv", sv->dir, sizeof sv->dir);
        snprintf(text, sizeof text, "unix:%s/s.sock", sv->dir);
        addr_text = text;
    }
    reset_counts();
    ss_addr a;
    ss_error err;
    cr_assert_eq(ss_addr_parse(&a, addr_text, &err), 0, "%s", err.msg);
    cr_assert_eq(ss_event_server_init(&sv->srv, cls, &a, handler,
                                      SS_BIND_AND_ACTIVATE, &err),
                 0, "%s", err.msg);
    cr_assert_eq(pthread_create(&sv->tid, NULL, serve_main, sv), 0);
}

static void stop(serving *sv)
{
    double t0 = ts_now();
    cr_assert_eq(ss_server_shutdown(&sv->srv), 0);
    pthread_join(sv->tid, NULL);
    cr_assert_lt(ts_now() - t0, 2.0, "shutdown took %.2f s", ts_now() - t0);
    ss_server_close(&sv->srv);
    if (sv->dir[0])
        ts_rmtree(sv->dir);
}

#define WAIT_FOR(pred, ...)                                                    \
    do {                                                                       \
        double end_ = ts_now() + DEADLINE;                                     \
        while (!(pred) && ts_now() < end_)                                     \
            usleep(1000);                                                      \
        cr_assert(pred, __VA_ARGS__);                                          \
    } while (0)

static int connect_to(const ss_addr *a, int type)
{
    int fd = ts_connect(a, type, DEADLINE);
    cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
    return fd;
}

static void expect_eof(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, 0);
    cr_assert(n == 0 || (n < 0 && errno == ECONNRESET),
              "expected the server to close, got %zd (%s)", n,
              n < 0 ? strerror(errno) : "data");
}

/* CPython's stream_examine: a line out, the same line back; then EOF once
 * the client has finished sending. */
static void stream_examine(const ss_addr *a)
{
    int fd = connect_to(a, SOCK_STREAM);
    static const char msg[] = "hello world\n";
    char buf[64];
    cr_assert_eq(ts_write_full(fd, msg, sizeof msg - 1), 0);
    cr_assert_eq(ts_read_line(fd, buf, sizeof buf), (ssize_t)sizeof msg - 1);
    cr_assert_str_eq(buf, msg);
    shutdown(fd, SHUT_WR);
    expect_eof(fd);
    close(fd);
}

static void dgram_examine(const ss_addr *a)
{
    int fd = connect_to(a, SOCK_DGRAM);
    static const char msg[] = "hello world\n";
    char buf[64];
    cr_assert_eq(send(fd, msg, sizeof msg - 1, 0), (ssize_t)sizeof msg - 1);
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    cr_assert_eq(n, (ssize_t)sizeof msg - 1, "reply: %zd", n);
    buf[n] = '\0';
    cr_assert_str_eq(buf, msg);
    close(fd);
}

/* --- echo conformance ----------------------------------------------------- */

Test(uv, tcp_echo, .timeout = 60)
{
    serving sv;
    serve(&sv, &ss_event_tcp_server_class, "127.0.0.1:0", &echo_class);
    for (int i = 0; i < 3; i++)
        stream_examine(&sv.srv.server_address);
    WAIT_FOR(atomic_load(&n_close) == 3, "on_close ran %d times",
             atomic_load(&n_close));
    cr_assert_eq(atomic_load(&n_connect), 3);
    cr_assert_eq(atomic_load(&n_error), 0);
    stop(&sv);
}

Test(uv, tcp6_echo, .timeout = 60)
{
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    if (probe < 0)
        cr_skip_test("no IPv6");
    close(probe);
    serving sv;
    serve(&sv, &ss_event_tcp_server_class, "[::1]:0", &echo_class);
    stream_examine(&sv.srv.server_address);
    stop(&sv);
}

Test(uv, udp_echo, .timeout = 60)
{
    serving sv;
    serve(&sv, &ss_event_udp_server_class, "127.0.0.1:0", &echo_class);
    for (int i = 0; i < 3; i++)
        dgram_examine(&sv.srv.server_address);
    /* A datagram is a connection that lasts one on_data. */
    cr_assert_eq(atomic_load(&n_connect), 3);
    /* on_close runs just after the reply went out. */
    WAIT_FOR(atomic_load(&n_close) == 3, "on_close ran %d times",
             atomic_load(&n_close));
    stop(&sv);
}

Test(uv, unix_stream_echo, .timeout = 60)
{
    serving sv;
    serve(&sv, &ss_event_unix_stream_server_class, "unix:", &echo_class);
    for (int i = 0; i < 3; i++)
        stream_examine(&sv.srv.server_address);
    stop(&sv);
}

Test(uv, unix_datagram_echo, .timeout = 60)
{
    serving sv;
    serve(&sv, &ss_event_unix_datagram_server_class, "unix:", &echo_class);
    for (int i = 0; i < 3; i++)
        dgram_examine(&sv.srv.server_address);
    stop(&sv);
}

/* Many clients interleaving lines on one thread. */
Test(uv, interleaved_clients_each_get_their_own_bytes, .timeout = 60)
{
    serving sv;
    serve(&sv, &ss_event_tcp_server_class, "127.0.0.1:0", &echo_class);
    int fds[20];
    for (int i = 0; i < 20; i++)
        fds[i] = connect_to(&sv.srv.server_address, SOCK_STREAM);
    for (int round = 0; round < 5; round++)
        for (int i = 0; i < 20; i++) {
            char line[64], buf[64];
            snprintf(line, sizeof line, "client %d round %d\n", i, round);
            cr_assert_eq(ts_write_full(fds[i], line, strlen(line)), 0);
            cr_assert_gt(ts_read_line(fds[i], buf, sizeof buf), 0);
            cr_assert_str_eq(buf, line);
        }
    for (int i = 0; i < 20; i++)
        close(fds[i]);
    WAIT_FOR(atomic_load(&n_close) == 20, "closed %d", atomic_load(&n_close));
    stop(&sv);
}

/* --- the core's hooks ------------------------------------------------------ */

/* verify_request false: the connection is closed before any handler sees
 * it (bpo-26309: and not leaked). */
Test(uv, verify_request_refuses, .timeout = 60)
{
    atomic_store(&verify_calls, 0);
    serving sv;
    serve(&sv, &picky_server_class, "127.0.0.1:0", &echo_class);
    /* The first client is accepted: the loop is up, its descriptors open. */
    stream_examine(&sv.srv.server_address);
    WAIT_FOR(atomic_load(&n_close) == 1, "closed %d", atomic_load(&n_close));
    int fds0 = ts_count_fds();
    for (int i = 1; i < 4; i++) {
        if (i % 2 == 0) {
            stream_examine(&sv.srv.server_address);
        } else {
            int fd = connect_to(&sv.srv.server_address, SOCK_STREAM);
            expect_eof(fd);
            close(fd);
        }
    }
    WAIT_FOR(atomic_load(&n_close) == 2, "closed %d", atomic_load(&n_close));
    cr_assert_eq(atomic_load(&verify_calls), 4);
    cr_assert_eq(atomic_load(&n_connect), 2, "a refused client reached on_connect");
    WAIT_FOR(ts_count_fds() == fds0, "descriptors: %d more", ts_count_fds() - fds0);
    stop(&sv);
}

/* A failing callback reaches handle_error with the client's address; that
 * connection closes, the others go on. */
Test(uv, handle_error_on_failing_callback, .timeout = 60)
{
    serving sv;
    serve(&sv, &recording_server_class, "127.0.0.1:0", &echo_class);
    int good = connect_to(&sv.srv.server_address, SOCK_STREAM);
    int bad = connect_to(&sv.srv.server_address, SOCK_STREAM);
    cr_assert_eq(ts_write_full(bad, "fail\n", 5), 0);
    expect_eof(bad);
    WAIT_FOR(atomic_load(&n_error) == 1, "handle_error ran %d times",
             atomic_load(&n_error));
    cr_assert(strstr(error_msg, "asked to fail"), "message: %s", error_msg);
    ss_addr mine;
    mine.len = sizeof mine.sa;
    getsockname(bad, (struct sockaddr *)&mine.sa, &mine.len);
    char want[SS_ADDRSTRLEN], got[SS_ADDRSTRLEN];
    cr_assert_str_eq(ss_addr_format(&error_client, got, sizeof got),
                     ss_addr_format(&mine, want, sizeof want));
    close(bad);
    char buf[32];
    cr_assert_eq(ts_write_full(good, "still here\n", 11), 0);
    cr_assert_eq(ts_read_line(good, buf, sizeof buf), 11);
    close(good);
    WAIT_FOR(atomic_load(&n_close) == 2, "closed %d", atomic_load(&n_close));
    stop(&sv);
}

/* A fatal error skips handle_error and stops serve_forever with its code,
 * as a sync server's handler does. */
Test(uv, fatal_error_stops_serve_forever, .timeout = 60)
{
    serving sv;
    serve(&sv, &recording_server_class, "127.0.0.1:0", &echo_class);
    int fd = connect_to(&sv.srv.server_address, SOCK_STREAM);
    cr_assert_eq(ts_write_full(fd, "fatal\n", 6), 0);
    expect_eof(fd);
    double end = ts_now() + DEADLINE;
    while (pthread_tryjoin_np(sv.tid, NULL) != 0 && ts_now() < end)
        usleep(1000);
    cr_assert_lt(ts_now(), end, "serve_forever did not return");
    cr_assert_eq(sv.rc, SS_EEXIT);
    cr_assert_eq(atomic_load(&n_error), 0);
    cr_assert_eq(atomic_load(&n_close), 1);
    close(fd);
    ss_server_close(&sv.srv);
}

/* shutdown() from another thread returns at once with idle clients
 * connected; every connection is closed (on_close ran) by then. */
Test(uv, shutdown_from_another_thread_is_prompt, .timeout = 60)
{
    serving sv;
    serve(&sv, &ss_event_tcp_server_class, "127.0.0.1:0", &echo_class);
    int fds[50];
    for (int i = 0; i < 50; i++)
        fds[i] = connect_to(&sv.srv.server_address, SOCK_STREAM);
    WAIT_FOR(ss_event_connections(&sv.srv) == 50, "connections %zu",
             ss_event_connections(&sv.srv));
    double t0 = ts_now();
    cr_assert_eq(ss_server_shutdown(&sv.srv), 0);
    cr_assert_lt(ts_now() - t0, 1.0, "shutdown took %.2f s", ts_now() - t0);
    pthread_join(sv.tid, NULL);
    cr_assert_eq(sv.rc, 0);
    cr_assert_eq(atomic_load(&n_close), 50);
    cr_assert_eq(ss_event_connections(&sv.srv), 0);
    for (int i = 0; i < 50; i++) {
        expect_eof(fds[i]);
        close(fds[i]);
    }
    ss_server_close(&sv.srv);
}

/* --- scale and backpressure ------------------------------------------------ */

Test(uv, thousand_concurrent_connections, .timeout = 120)
{
    enum { N = 1000 };
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t want = 2 * N + 200;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want
                          ? want : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    cr_assert_geq(rl.rlim_cur, want, "RLIMIT_NOFILE %lu < %lu",
                  (unsigned long)rl.rlim_cur, (unsigned long)want);

    serving sv;
    serve(&sv, &ss_event_tcp_server_class, "127.0.0.1:0", &echo_class);
    static int fds[N];
    for (int i = 0; i < N; i++)
        fds[i] = connect_to(&sv.srv.server_address, SOCK_STREAM);
    WAIT_FOR(ss_event_connections(&sv.srv) == N, "connections %zu",
             ss_event_connections(&sv.srv));
    for (int i = 0; i < N; i++) {
        char line[32];
        snprintf(line, sizeof line, "conn %d\n", i);
        cr_assert_eq(ts_write_full(fds[i], line, strlen(line)), 0);
    }
    for (int i = 0; i < N; i++) {
        char line[32], buf[32];
        snprintf(line, sizeof line, "conn %d\n", i);
        cr_assert_gt(ts_read_line(fds[i], buf, sizeof buf), 0, "conn %d", i);
        cr_assert_str_eq(buf, line);
    }
    cr_assert_eq(atomic_load(&n_connect), N);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    WAIT_FOR(ss_event_connections(&sv.srv) == 0, "connections %zu",
             ss_event_connections(&sv.srv));
    cr_assert_eq(atomic_load(&n_close), N);
    stop(&sv);
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)((i * 7 + i / 251) & 0xff);
}

/* A client that sends without reading: the server's queue for it reaches
 * high_water, the server stops reading it, the client's sends stall; the
 * server never holds more than high_water plus one read.  When the client
 * reads, everything comes back intact and on_drain runs. */
Test(uv, slow_reader_backpressure_bounds_memory, .timeout = 120)
{
    serving sv;
    serve(&sv, &ss_event_tcp_server_class, "127.0.0.1:0", &echo_class);
    int fd = connect_to(&sv.srv.server_address, SOCK_STREAM);
    /* Small kernel buffers on our side, so the stall comes soon. */
    int small = 64 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

    const size_t cap = 64u << 20; /* far beyond every buffer on the path */
    unsigned char chunk[16384];
    size_t sent = 0;
    bool stalled = false;
    while (sent < cap) {
        for (size_t i = 0; i < sizeof chunk; i++)
            chunk[i] = pattern(sent + i);
        ssize_t n = send(fd, chunk, sizeof chunk, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        cr_assert(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK),
                  "send: %s", strerror(errno));
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        if (poll(&pf, 1, 500) == 0) { /* nobody reads us any more */
            stalled = true;
            break;
        }
    }
    cr_assert(stalled, "sent %zu bytes without the server pushing back", sent);
    size_t bound = 64 * 1024 + 65536; /* high_water + one read */
    cr_assert_leq(atomic_load(&max_buffered), bound,
                  "the server buffered %zu bytes for one slow client",
                  atomic_load(&max_buffered));
    cr_assert_gt(atomic_load(&max_buffered), 0, "backpressure never engaged");

    /* Now read it all back, byte-exact. */
    size_t got = 0;
    double end = ts_now() + DEADLINE * 3;
    unsigned char buf[65536];
    while (got < sent && ts_now() < end) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 1000) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        cr_assert_gt(n, 0, "recv after %zu of %zu: %zd", got, sent, n);
        for (ssize_t i = 0; i < n; i++)
            cr_assert_eq(buf[i], pattern(got + (size_t)i), "byte %zu differs",
                         got + (size_t)i);
        got += (size_t)n;
    }
    cr_assert_eq(got, sent);
    cr_assert_geq(atomic_load(&n_drain), 1, "on_drain never ran");
    close(fd);
    stop(&sv);
}

/* write_limit: a handler writing on its own (not driven by reads) gets
 * SS_EFULL instead of an unbounded queue. */
static atomic_int full_seen;

static int flood_connect(ss_event_handler *h, ss_error *err)
{
    (void)err;
    static unsigned char block[256 * 1024];
    for (int i = 0; i < 64; i++) { /* 16 MiB, against a 1 MiB limit */
        int rc = ss_event_write(h, block, sizeof block);
        if (rc == SS_EFULL) {
            atomic_fetch_add(&full_seen, 1);
            break;
        }
        if (rc < 0)
            return rc;
    }
    size_t b = ss_event_buffered(h);
    atomic_store(&max_buffered, b);
    ss_event_abort(h);
    return 0;
}

static void flood_configure(ss_event_handler *h)
{
    ss_event_handler_base_class.configure(h);
    h->write_limit = 1024 * 1024;
}

static const ss_event_handler_class flood_class = {
    .base = &ss_event_handler_base_class,
    .name = "Flood",
    .configure = flood_configure,
    .on_connect = flood_connect,
};

Test(uv, write_limit_refuses_unbounded_queueing, .timeout = 60)
{
    atomic_store(&full_seen, 0);
    serving sv;
    serve(&sv, &ss_event_tcp_server_class, "127.0.0.1:0", &flood_class);
    int fd = connect_to(&sv.srv.server_address, SOCK_STREAM);
    WAIT_FOR(atomic_load(&full_seen) == 1, "write_limit never hit");
    cr_assert_leq(atomic_load(&max_buffered), 1024 * 1024);
    close(fd);
    stop(&sv);
}

/* --- timers ------------------------------------------------------------- */

typedef struct ticker {
    ss_event_handler base;
    int ticks;
} ticker;

static int ticker_connect(ss_event_handler *h, ss_error *err)
{
    (void)err;
    return ss_event_timer_start(h, 20, 20);
}

static int ticker_timer(ss_event_handler *h, ss_error *err)
{
    (void)err;
    ticker *t = (ticker *)h;
    char line[32];
    int n = snprintf(line, sizeof line, "tick %d\n", ++t->ticks);
    int rc = ss_event_write(h, line, (size_t)n);
    if (t->ticks == 3) {
        ss_event_timer_stop(h);
        ss_event_close(h); /* after the last tick has gone out */
    }
    return rc;
}

static const ss_event_handler_class ticker_class = {
    .base = &ss_event_handler_base_class,
    .name = "Ticker",
    .instance_size = sizeof(ticker),
    .on_connect = ticker_connect,
    .on_timer = ticker_timer,
    .on_close = echo_close,
};

Test(uv, timers_tick_then_close, .timeout = 60)
{
    serving sv;
    serve(&sv, &ss_event_tcp_server_class, "127.0.0.1:0", &ticker_class);
    int fds[5];
    for (int i = 0; i < 5; i++)
        fds[i] = connect_to(&sv.srv.server_address, SOCK_STREAM);
    for (int i = 0; i < 5; i++) {
        char buf[32];
        for (int k = 1; k <= 3; k++) {
            char want[32];
            snprintf(want, sizeof want, "tick %d\n", k);
            cr_assert_gt(ts_read_line(fds[i], buf, sizeof buf), 0);
            cr_assert_str_eq(buf, want);
        }
        expect_eof(fds[i]);
        close(fds[i]);
    }
    WAIT_FOR(atomic_load(&n_close) == 5, "closed %d", atomic_load(&n_close));
    stop(&sv);
}

/* An idle timeout built from a one-shot timer re-armed on every read. */
static int idle_connect(ss_event_handler *h, ss_error *err)
{
    (void)err;
    return ss_event_timer_start(h, 200, 0);
}

static int idle_data(ss_event_handler *h, const unsigned char *d, size_t len,
                     ss_error *err)
{
    (void)err;
    int rc = ss_event_timer_start(h, 200, 0);
    return rc < 0 ? rc : ss_event_write(h, d, len);
}

static int idle_timer(ss_event_handler *h, ss_error *err)
{
    (void)err;
    static const char bye[] = "idle\n";
    ss_event_write(h, bye, sizeof bye - 1);
    ss_event_close(h);
    return 0;
}

static const ss_event_handler_class idle_class = {
    .base = &ss_event_handler_base_class,
    .name = "IdleTimeout",
    .on_connect = idle_connect,
    .on_data = idle_data,
    .on_timer = idle_timer,
};

Test(uv, one_shot_timer_as_idle_timeout, .timeout = 60)
{
    serving sv;
    serve(&sv, &ss_event_tcp_server_class, "127.0.0.1:0", &idle_class);
    int fd = connect_to(&sv.srv.server_address, SOCK_STREAM);
    char buf[32];
    double t0 = ts_now();
    cr_assert_eq(ts_write_full(fd, "a\n", 2), 0);
    cr_assert_eq(ts_read_line(fd, buf, sizeof buf), 2);
    cr_assert_eq(ts_read_line(fd, buf, sizeof buf), 5);
    cr_assert_str_eq(buf, "idle\n");
    cr_assert_geq(ts_now() - t0, 0.19, "timed out after %.3f s", ts_now() - t0);
    expect_eof(fd);
    close(fd);
    stop(&sv);
}

/* --- construction ---------------------------------------------------------- */

Test(uv, event_init_needs_the_mixin)
{
    ss_server srv;
    ss_addr a;
    ss_error err;
    cr_assert_eq(ss_addr_parse(&a, "127.0.0.1:0", &err), 0);
    int fds0 = ts_count_fds();
    cr_assert_eq(ss_event_server_init(&srv, &ss_tcp_server_class, &a,
                                      &echo_class, SS_BIND_AND_ACTIVATE, &err),
                 -EINVAL);
    cr_assert(strstr(err.msg, "EventMixIn"), "%s", err.msg);
    cr_assert_eq(ts_count_fds(), fds0);
}

/* handle_request() has no loop to keep a connection on: datagrams are
 * served, a stream connection goes to handle_error and is closed. */
Test(uv, handle_request_serves_datagrams_refuses_streams, .timeout = 60)
{
    ss_server srv;
    ss_addr a;
    ss_error err;
    reset_counts();
    cr_assert_eq(ss_addr_parse(&a, "127.0.0.1:0", &err), 0);
    cr_assert_eq(ss_event_server_init(&srv, &ss_event_udp_server_class, &a,
                                      &echo_class, SS_BIND_AND_ACTIVATE, &err),
                 0, "%s", err.msg);
    srv.timeout = DEADLINE;
    int fd = connect_to(&srv.server_address, SOCK_DGRAM);
    char buf[16];
    cr_assert_eq(send(fd, "once", 4, 0), 4);
    cr_assert_eq(ss_server_handle_request(&srv), 0);
    cr_assert_eq(recv(fd, buf, sizeof buf, 0), 4);
    close(fd);
    ss_server_close(&srv);

    reset_counts();
    cr_assert_eq(ss_event_server_init(&srv, &recording_server_class, &a,
                                      &echo_class, SS_BIND_AND_ACTIVATE, &err),
                 0, "%s", err.msg);
    srv.timeout = DEADLINE;
    fd = connect_to(&srv.server_address, SOCK_STREAM);
    cr_assert_eq(ss_server_handle_request(&srv), 0);
    expect_eof(fd);
    cr_assert_eq(atomic_load(&n_error), 1);
    cr_assert(strstr(error_msg, "serving loop"), "%s", error_msg);
    cr_assert_eq(atomic_load(&n_connect), 0);
    close(fd);
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
    ss_server_detach(at->srv); /* closes the connections */
    uv_close((uv_handle_t *)&at->stop, NULL);
}

static void *attached_main(void *arg)
{
    attached *at = arg;
    uv_loop_init(&at->loop);
    uv_async_init(&at->loop, &at->stop, on_stop);
    at->stop.data = at;
    at->attach_rc = ss_server_attach(at->srv, &at->loop, 0.05);
    atomic_store(&at->up, true);
    if (at->attach_rc != 0)
        uv_close((uv_handle_t *)&at->stop, NULL);
    /* Runs until detach: then the connections' close callbacks run here
     * (event.h: before ss_server_close), and the loop ends. */
    uv_run(&at->loop, UV_RUN_DEFAULT);
    uv_loop_close(&at->loop);
    return NULL;
}

/* Connections live on the caller's loop; detach closes them there. */
Test(uv, connections_on_an_attached_loop, .timeout = 60)
{
    serving sv; /* only for its server and address */
    reset_counts();
    ss_addr a;
    ss_error err;
    cr_assert_eq(ss_addr_parse(&a, "127.0.0.1:0", &err), 0);
    cr_assert_eq(ss_event_server_init(&sv.srv, &ss_event_tcp_server_class, &a,
                                      &echo_class, SS_BIND_AND_ACTIVATE, &err),
                 0, "%s", err.msg);
    attached at = {.srv = &sv.srv};
    atomic_init(&at.up, false);
    cr_assert_eq(pthread_create(&at.tid, NULL, attached_main, &at), 0);
    WAIT_FOR(atomic_load(&at.up), "the loop did not start");
    cr_assert_eq(at.attach_rc, 0);

    stream_examine(&sv.srv.server_address);
    int idle[3];
    for (int i = 0; i < 3; i++)
        idle[i] = connect_to(&sv.srv.server_address, SOCK_STREAM);
    WAIT_FOR(ss_event_connections(&sv.srv) == 3, "connections %zu",
             ss_event_connections(&sv.srv));
    uv_async_send(&at.stop);
    pthread_join(at.tid, NULL);
    cr_assert_eq(atomic_load(&n_close), 4);
    cr_assert_eq(ss_event_connections(&sv.srv), 0);
    for (int i = 0; i < 3; i++) {
        expect_eof(idle[i]);
        close(idle[i]);
    }
    ss_server_close(&sv.srv);
}
