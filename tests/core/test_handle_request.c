/* handle_request(): one request, Python's timeout semantics (timeout < 0 is
 * None: wait forever; otherwise handle_timeout() when nothing came in time,
 * and its result becomes handle_request()'s), robust against signals. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coretest.h"

typedef struct {
    atomic_int timeouts;
    atomic_int refused;
} hr_state;

static int hr_handle_timeout(ss_server *self);
static bool hr_verify_request(ss_server *self, ss_request *req,
                              const ss_addr *client);

static const ss_server_class hr_tcp_class = {
    .base = &ss_tcp_server_class,
    .name = "HandleRequestTCPServer",
    .handle_timeout = hr_handle_timeout,
};

static const ss_server_class refusing_tcp_class = {
    .base = &ss_tcp_server_class,
    .name = "RefusingTCPServer",
    .verify_request = hr_verify_request,
};

static int hr_handle_timeout(ss_server *self)
{
    hr_state *st = self->data;
    atomic_fetch_add(&st->timeouts, 1);
    return 42;
}

static bool hr_verify_request(ss_server *self, ss_request *req,
                              const ss_addr *client)
{
    (void)req;
    (void)client;
    hr_state *st = self->data;
    atomic_fetch_add(&st->refused, 1);
    return false;
}

static void make(ss_server *srv, const ss_server_class *cls, hr_state *st,
                 int type)
{
    ss_addr a;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(srv, cls, &a, ct_echo_handler_for(type));
    atomic_init(&st->timeouts, 0);
    atomic_init(&st->refused, 0);
    srv->data = st;
}

Test(handle_request, without_timeout_handles_a_queued_request, .timeout = 30)
{
    ss_server srv;
    hr_state st;
    make(&srv, &hr_tcp_class, &st, SOCK_STREAM);
    cr_assert_lt(srv.timeout, 0);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    cr_assert_eq(ts_write_full(fd, "one\n", 4), 0);
    cr_assert_eq(ss_server_handle_request(&srv), 0);
    char line[32];
    cr_assert_eq(ts_read_line(fd, line, sizeof line), 4);
    cr_assert_str_eq(line, "one\n");
    cr_assert_eq(atomic_load(&st.timeouts), 0);
    ct_close(fd);
    ss_server_close(&srv);
}

typedef struct {
    ss_addr addr;
    double delay;
    char reply[32];
} late_client;

static void *late_client_main(void *arg)
{
    late_client *c = arg;
    ct_pause(c->delay); /* deliberately late: handle_request must wait */
    int fd = ts_connect(&c->addr, SOCK_STREAM, CT_DEADLINE);
    if (fd < 0)
        return NULL;
    if (ts_write_full(fd, "late\n", 5) == 0)
        ts_read_line(fd, c->reply, sizeof c->reply);
    close(fd);
    return NULL;
}

Test(handle_request, without_timeout_waits_for_a_late_client, .timeout = 30)
{
    ss_server srv;
    hr_state st;
    make(&srv, &hr_tcp_class, &st, SOCK_STREAM);
    late_client c = {.addr = srv.server_address, .delay = 0.3};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, late_client_main, &c), 0);
    double t0 = ts_now();
    cr_assert_eq(ss_server_handle_request(&srv), 0);
    cr_assert_geq(ts_now() - t0, 0.25, "returned before the client came");
    pthread_join(t, NULL);
    cr_assert_str_eq(c.reply, "late\n");
    cr_assert_eq(atomic_load(&st.timeouts), 0);
    ss_server_close(&srv);
}

Test(handle_request, timeout_calls_handle_timeout_and_returns_its_result,
     .timeout = 30)
{
    ss_server srv;
    hr_state st;
    make(&srv, &hr_tcp_class, &st, SOCK_STREAM);
    srv.timeout = 0.2;
    double t0 = ts_now();
    int rc = ss_server_handle_request(&srv);
    double took = ts_now() - t0;
    cr_assert_eq(rc, 42, "handle_request must return handle_timeout's result");
    cr_assert_eq(atomic_load(&st.timeouts), 1);
    cr_assert_geq(took, 0.18, "timed out early after %.3f s", took);
    cr_assert_lt(took, 3.0, "timed out late after %.3f s", took);
    ss_server_close(&srv);
}

Test(handle_request, request_within_timeout_skips_handle_timeout,
     .timeout = 30)
{
    ss_server srv;
    hr_state st;
    make(&srv, &hr_tcp_class, &st, SOCK_STREAM);
    srv.timeout = 5.0;
    late_client c = {.addr = srv.server_address, .delay = 0.1};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, late_client_main, &c), 0);
    double t0 = ts_now();
    cr_assert_eq(ss_server_handle_request(&srv), 0);
    cr_assert_lt(ts_now() - t0, 4.0);
    pthread_join(t, NULL);
    cr_assert_str_eq(c.reply, "late\n");
    cr_assert_eq(atomic_load(&st.timeouts), 0);
    ss_server_close(&srv);
}

Test(handle_request, udp_datagram, .timeout = 30)
{
    ss_server srv;
    ss_addr a;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(&srv, &ss_udp_server_class, &a, &ct_echo_dgram_handler_class);
    int fd = ct_connect(&srv.server_address, SOCK_DGRAM);
    cr_assert_eq(send(fd, "dgram", 5, 0), 5);
    cr_assert_eq(ss_server_handle_request(&srv), 0);
    char buf[16];
    cr_assert_eq(ct_recv(fd, buf, sizeof buf), 5);
    cr_assert_eq(memcmp(buf, "dgram", 5), 0);
    ct_close(fd);
    ss_server_close(&srv);
}

/* A refused request counts as handled: 0, and no handle_timeout. */
Test(handle_request, refused_request_returns_zero, .timeout = 30)
{
    ss_server srv;
    hr_state st;
    make(&srv, &refusing_tcp_class, &st, SOCK_STREAM);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    cr_assert_eq(ss_server_handle_request(&srv), 0);
    cr_assert_eq(atomic_load(&st.refused), 1);
    char c;
    cr_assert_eq(ts_read_full(fd, &c, 1), 0, "the refused client sees EOF");
    ct_close(fd);
    ss_server_close(&srv);
}

/* Python's loop "accommodates early wakeups due to EINTR": signals while
 * handle_request waits must neither end the wait early nor fail it. */
static atomic_int usr1_count;
static void on_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&usr1_count, 1);
}

typedef struct {
    pthread_t target;
    atomic_bool stop;
} pester;

static void *pester_main(void *arg)
{
    pester *p = arg;
    while (!atomic_load(&p->stop)) {
        pthread_kill(p->target, SIGUSR1);
        ct_pause(0.02);
    }
    return NULL;
}

Test(handle_request, signals_do_not_shorten_the_timeout, .timeout = 30)
{
    struct sigaction sa = {.sa_handler = on_usr1}; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);

    ss_server srv;
    hr_state st;
    make(&srv, &hr_tcp_class, &st, SOCK_STREAM);
    srv.timeout = 0.5;
    pester p = {.target = pthread_self()};
    atomic_init(&p.stop, false);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, pester_main, &p), 0);
    double t0 = ts_now();
    int rc = ss_server_handle_request(&srv);
    double took = ts_now() - t0;
    atomic_store(&p.stop, true);
    pthread_join(t, NULL);
    cr_assert_gt(atomic_load(&usr1_count), 3, "the signals did not arrive");
    cr_assert_eq(rc, 42);
    cr_assert_eq(atomic_load(&st.timeouts), 1);
    cr_assert_geq(took, 0.45, "a signal cut the timeout short (%.3f s)", took);
    ss_server_close(&srv);
}

/* ForkingMixIn.handle_timeout collects the children. */
Test(handle_request, forking_handle_timeout_reaps_children, .timeout = 30)
{
    ss_server srv;
    ss_addr a;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(&srv, &ss_forking_tcp_server_class, &a,
                   &ct_echo_line_handler_class);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    cr_assert_eq(ts_write_full(fd, "x\n", 2), 0);
    cr_assert_eq(ss_server_handle_request(&srv), 0);
    char line[8];
    cr_assert_eq(ts_read_line(fd, line, sizeof line), 2);
    /* EOF: the child has shut the request down and is exiting. */
    cr_assert_eq(ts_read_line(fd, line, sizeof line), 0);
    ct_close(fd);

    srv.timeout = 0.05;
    double deadline = ts_now() + CT_DEADLINE;
    while (ss_forking_active_children(&srv, NULL, 0) > 0 &&
           ts_now() < deadline)
        ss_server_handle_request(&srv); /* times out, reaps */
    cr_assert_eq(ss_forking_active_children(&srv, NULL, 0), 0,
                 "handle_timeout did not reap the finished child");
    ss_server_close(&srv);
}
