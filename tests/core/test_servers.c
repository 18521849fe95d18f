/* Echo through every server class: CPython's SocketServerTest.test_*Server
 * (three sequential echoes, shutdown, close, descriptor -1; forking servers
 * leave no children and do not reap a child of the test), over IPv4, IPv6
 * and unix sockets, plus the class names and where each mode runs a
 * request. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coretest.h"

enum mode { SYNC, THREADING, FORKING };
enum kind { TCP4, TCP6, UDP4, UDP6, UNIX_STREAM, UNIX_DGRAM };

static const ss_server_class *class_for(enum kind k, enum mode m)
{
    static const ss_server_class *const table[4][3] = {
        {&ss_tcp_server_class, &ss_threading_tcp_server_class,
         &ss_forking_tcp_server_class},
        {&ss_udp_server_class, &ss_threading_udp_server_class,
         &ss_forking_udp_server_class},
        {&ss_unix_stream_server_class, &ss_threading_unix_stream_server_class,
         &ss_forking_unix_stream_server_class},
        {&ss_unix_datagram_server_class,
         &ss_threading_unix_datagram_server_class,
         &ss_forking_unix_datagram_server_class},
    };
    int row = k == TCP4 || k == TCP6   ? 0
              : k == UDP4 || k == UDP6 ? 1
              : k == UNIX_STREAM       ? 2
                                       : 3;
    return table[row][m];
}

static int type_for(enum kind k)
{
    return k == TCP4 || k == TCP6 || k == UNIX_STREAM ? SOCK_STREAM
                                                      : SOCK_DGRAM;
}

static void addr_for(enum kind k, ss_addr *a)
{
    switch (k) {
    case TCP4:
    case UDP4:
        ct_addr(a, "127.0.0.1:0");
        break;
    case TCP6:
    case UDP6:
        ct_addr(a, "[::1]:0");
        break;
    default:
        ct_unix_addr(a, "server.sock");
    }
}

/* CPython's simple_subprocess: a child of the test that exits 72 and must
 * still be waitable after the server is gone (the server reaps only its own
 * children, bpo-1540386). */
static pid_t foreign_child(void)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(72);
    return pid;
}

static void run_server(enum kind k, enum mode m)
{
    const ss_server_class *cls = class_for(k, m);
    int type = type_for(k);
    ss_addr addr;
    addr_for(k, &addr);

    pid_t foreign = m == FORKING ? foreign_child() : -1;

    ss_server srv;
    ct_server_init(&srv, cls, &addr, ct_echo_handler_for(type));
    cr_assert_eq(srv.socket_type, type);
    cr_assert_eq(ss_addr_family(&srv.server_address), ss_addr_family(&addr));
    if (k != UNIX_STREAM && k != UNIX_DGRAM)
        cr_assert_gt(ss_addr_port(&srv.server_address), 0,
                     "port 0 must be replaced by the bound port, got %s",
                     ct_fmt(&srv.server_address));

    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.01);
    for (int i = 0; i < 3; i++)
        ct_echo_check(&srv.server_address, type);
    cr_assert_eq(ct_serve_stop(&serve), 0);

    ss_server_close(&srv);
    cr_assert_eq(srv.socket, -1, "server_close must close the socket");
    cr_assert_eq(ss_server_fileno(&srv), -1);
    if (m == FORKING) {
        cr_assert_eq(ss_forking_active_children(&srv, NULL, 0), 0,
                     "server_close must reap every child (bpo-31151)");
        int st;
        pid_t r = waitpid(foreign, &st, 0);
        cr_assert_eq(r, foreign, "the server reaped a child it did not fork");
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 72);
    }
    ct_cleanup();
}

#define SERVER_TEST(name, k, m)                                                \
    Test(servers, name, .timeout = 30) { run_server(k, m); }

SERVER_TEST(tcp_server_ipv4, TCP4, SYNC)
SERVER_TEST(tcp_server_ipv6, TCP6, SYNC)
SERVER_TEST(threading_tcp_server_ipv4, TCP4, THREADING)
SERVER_TEST(threading_tcp_server_ipv6, TCP6, THREADING)
SERVER_TEST(forking_tcp_server_ipv4, TCP4, FORKING)
SERVER_TEST(forking_tcp_server_ipv6, TCP6, FORKING)
SERVER_TEST(udp_server_ipv4, UDP4, SYNC)
SERVER_TEST(udp_server_ipv6, UDP6, SYNC)
SERVER_TEST(threading_udp_server_ipv4, UDP4, THREADING)
SERVER_TEST(threading_udp_server_ipv6, UDP6, THREADING)
SERVER_TEST(forking_udp_server_ipv4, UDP4, FORKING)
SERVER_TEST(forking_udp_server_ipv6, UDP6, FORKING)
SERVER_TEST(unix_stream_server, UNIX_STREAM, SYNC)
SERVER_TEST(threading_unix_stream_server, UNIX_STREAM, THREADING)
SERVER_TEST(forking_unix_stream_server, UNIX_STREAM, FORKING)
SERVER_TEST(unix_datagram_server, UNIX_DGRAM, SYNC)
SERVER_TEST(threading_unix_datagram_server, UNIX_DGRAM, THREADING)
SERVER_TEST(forking_unix_datagram_server, UNIX_DGRAM, FORKING)

/* CPython's test_all, in C: every class is exported under Python's name. */
Test(servers, classes_carry_python_names)
{
    static const char *const names[4][3] = {
        {"TCPServer", "ThreadingTCPServer", "ForkingTCPServer"},
        {"UDPServer", "ThreadingUDPServer", "ForkingUDPServer"},
        {"UnixStreamServer", "ThreadingUnixStreamServer",
         "ForkingUnixStreamServer"},
        {"UnixDatagramServer", "ThreadingUnixDatagramServer",
         "ForkingUnixDatagramServer"},
    };
    static const enum kind kinds[4] = {TCP4, UDP4, UNIX_STREAM, UNIX_DGRAM};
    for (int r = 0; r < 4; r++)
        for (int m = 0; m < 3; m++) {
            const ss_server_class *c = class_for(kinds[r], (enum mode)m);
            cr_assert_not_null(c->name);
            cr_assert_str_eq(c->name, names[r][m]);
        }
    cr_assert_str_eq(ss_base_server_class.name, "BaseServer");
    cr_assert_str_eq(ss_base_request_handler_class.name, "BaseRequestHandler");
    cr_assert_str_eq(ss_stream_request_handler_class.name,
                     "StreamRequestHandler");
    cr_assert_str_eq(ss_datagram_request_handler_class.name,
                     "DatagramRequestHandler");
    cr_assert_not_null(ss_threading_mixin.name);
    cr_assert_not_null(ss_forking_mixin.name);
}

/* The class hierarchy is Python's: UnixDatagramServer derives from
 * UDPServer, the unix stream server from TCPServer, a mixed class has the
 * mixin layer over the plain class. */
Test(servers, class_hierarchy_is_pythons)
{
    cr_assert_eq(ss_tcp_server_class.base, &ss_base_server_class);
    cr_assert_eq(ss_udp_server_class.base, &ss_tcp_server_class);
    cr_assert_eq(ss_unix_stream_server_class.base, &ss_tcp_server_class);
    cr_assert_eq(ss_unix_datagram_server_class.base, &ss_udp_server_class);
    static const enum kind kinds[4] = {TCP4, UDP4, UNIX_STREAM, UNIX_DGRAM};
    for (int r = 0; r < 4; r++) {
        const ss_server_class *plain = class_for(kinds[r], SYNC);
        const ss_server_class *thr = class_for(kinds[r], THREADING);
        const ss_server_class *frk = class_for(kinds[r], FORKING);
        cr_assert_eq(thr->base, plain, "%s", thr->name);
        cr_assert_eq(thr->mixin, &ss_threading_mixin, "%s", thr->name);
        cr_assert_eq(frk->base, plain, "%s", frk->name);
        cr_assert_eq(frk->mixin, &ss_forking_mixin, "%s", frk->name);
    }
    cr_assert_eq(ss_stream_request_handler_class.base,
                 &ss_base_request_handler_class);
    cr_assert_eq(ss_datagram_request_handler_class.base,
                 &ss_base_request_handler_class);
}

/* Class attributes as Python sets them (3.15: the backlog is SOMAXCONN). */
Test(servers, attribute_defaults)
{
    ss_addr a;
    ss_server srv;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(&srv, &ss_tcp_server_class, &a, &ct_echo_line_handler_class);
    cr_assert_eq(srv.address_family, AF_INET);
    cr_assert_eq(srv.socket_type, SOCK_STREAM);
    cr_assert_eq(srv.request_queue_size, SOMAXCONN);
    cr_assert_not(srv.allow_reuse_address);
    cr_assert_not(srv.allow_reuse_port);
    cr_assert_lt(srv.timeout, 0, "BaseServer.timeout is None");
    cr_assert_eq(srv.cls, &ss_tcp_server_class);
    cr_assert_eq(srv.handler_class, &ct_echo_line_handler_class);
    ss_server_close(&srv);

    ct_server_init(&srv, &ss_udp_server_class, &a, &ct_echo_dgram_handler_class);
    cr_assert_eq(srv.socket_type, SOCK_DGRAM);
    cr_assert_eq(srv.max_packet_size, 8192);
    ss_server_close(&srv);

    ct_server_init(&srv, &ss_threading_tcp_server_class, &a,
                   &ct_echo_line_handler_class);
    cr_assert_not(srv.daemon_threads);
    cr_assert(srv.block_on_close);
    ss_server_close(&srv);

    ct_server_init(&srv, &ss_forking_tcp_server_class, &a,
                   &ct_echo_line_handler_class);
    cr_assert_eq(srv.max_children, 40);
    cr_assert(srv.block_on_close);
    cr_assert_float_eq(srv.timeout, 300.0, 1e-9, "ForkingMixIn.timeout");
    ss_server_close(&srv);

    ss_addr u;
    ct_unix_addr(&u, "s.sock");
    ct_server_init(&srv, &ss_unix_stream_server_class, &u,
                   &ct_echo_line_handler_class);
    cr_assert_eq(srv.address_family, AF_UNIX);
    ss_server_close(&srv);
    ct_cleanup();
}

/* --- where each mode runs a request --------------------------------------- */

typedef struct {
    pthread_mutex_t mu; /* serve_thread is set after the thread starts */
    pthread_t serve_thread;
    pid_t test_pid;
} where_state;

static int where_handle(ss_handler *h, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    where_state *w = h->server->data;
    (void)err;
    pthread_mutex_lock(&w->mu);
    int same = pthread_equal(pthread_self(), w->serve_thread) != 0;
    pthread_mutex_unlock(&w->mu);
    return ss_wfile_printf(&sh->wfile, "%d %d\n", getpid() != w->test_pid,
                           same);
}

static const ss_handler_class where_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "WhereHandler",
    .handle = where_handle,
};

static void check_where(const ss_server_class *cls, const char *expect)
{
    ss_addr a;
    ss_server srv;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(&srv, cls, &a, &where_handler_class);
    where_state w = {.mu = PTHREAD_MUTEX_INITIALIZER, .test_pid = getpid()};
    srv.data = &w;
    ct_serve serve;
    pthread_mutex_lock(&w.mu);
    ct_serve_start(&serve, &srv, 0.05);
    w.serve_thread = serve.thread;
    pthread_mutex_unlock(&w.mu);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    char line[64];
    cr_assert_gt(ts_read_line(fd, line, sizeof line), 0);
    cr_assert_str_eq(line, expect, "%s: other-process other-thread", cls->name);
    ct_close(fd);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}

/* "other process, serve thread" as two flags. */
Test(servers, sync_server_runs_request_on_serving_thread)
{
    check_where(&ss_tcp_server_class, "0 1\n");
}

Test(servers, threading_server_runs_request_on_another_thread)
{
    check_where(&ss_threading_tcp_server_class, "0 0\n");
}

Test(servers, forking_server_runs_request_in_a_child)
{
    check_where(&ss_forking_tcp_server_class, "1 1\n");
}

/* --- datagram specifics --------------------------------------------------- */

/* A datagram longer than max_packet_size is truncated, as Python's
 * recvfrom(max_packet_size) does; the attribute can be changed before
 * binding. */
Test(servers, udp_truncates_to_max_packet_size)
{
    ss_addr a;
    ss_server srv;
    ss_error err;
    ct_addr(&a, "127.0.0.1:0");
    cr_assert_eq(ss_server_init(&srv, &ss_udp_server_class, &a,
                                &ct_echo_dgram_handler_class, 0, &err),
                 0, "%s", err.msg);
    srv.max_packet_size = 100;
    cr_assert_eq(ss_server_bind_and_activate(&srv, &err), 0, "%s", err.msg);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.05);

    int fd = ct_connect(&srv.server_address, SOCK_DGRAM);
    char out[300], in[400];
    memset(out, 'x', sizeof out);
    cr_assert_eq(send(fd, out, sizeof out, 0), (ssize_t)sizeof out);
    cr_assert_eq(ct_recv(fd, in, sizeof in), 100);
    ct_close(fd);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}

Test(servers, udp_default_max_packet_size_is_8192)
{
    ss_addr a;
    ss_server srv;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(&srv, &ss_udp_server_class, &a, &ct_echo_dgram_handler_class);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.05);
    int fd = ct_connect(&srv.server_address, SOCK_DGRAM);
    static char out[10000], in[12000];
    memset(out, 'y', sizeof out);
    cr_assert_eq(send(fd, out, sizeof out, 0), (ssize_t)sizeof out);
    cr_assert_eq(ct_recv(fd, in, sizeof in), 8192);
    ct_close(fd);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}

/* A unix datagram client that did not bind has no address to answer to
 * (Python's client_address is None and finish fails); handle_error gets
 * the empty unix address ("unix:" in text), and the server goes on serving
 * bound clients. */
static pthread_mutex_t unbound_mu = PTHREAD_MUTEX_INITIALIZER;
static char unbound_client[SS_ADDRSTRLEN];
static int unbound_family = -1;
static atomic_int unbound_errors;

static void unbound_handle_error(ss_server *s, ss_request *r, const ss_addr *c,
                                 const ss_error *e)
{
    (void)s;
    (void)r;
    (void)e;
    pthread_mutex_lock(&unbound_mu);
    ss_addr_format(c, unbound_client, sizeof unbound_client);
    unbound_family = ss_addr_family(c);
    pthread_mutex_unlock(&unbound_mu);
    atomic_fetch_add(&unbound_errors, 1);
}

static const ss_server_class unbound_recording_class = {
    .base = &ss_unix_datagram_server_class,
    .name = "RecordingUnixDatagramServer",
    .handle_error = unbound_handle_error,
};

Test(servers, unbound_unix_datagram_client_does_not_stop_server,
     .timeout = 30)
{
    ss_addr a;
    ss_server srv;
    ct_unix_addr(&a, "dgram.sock");
    ct_server_init(&srv, &unbound_recording_class, &a,
                   &ct_echo_dgram_handler_class);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.05);

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(sendto(fd, "x\n", 2, 0, (struct sockaddr *)&a.sa, a.len), 2);
    close(fd);
    cr_assert(ct_wait_count(&unbound_errors, 1, CT_DEADLINE),
              "the reply to nowhere did not reach handle_error");

    ct_echo_check(&srv.server_address, SOCK_DGRAM);
    ct_echo_check(&srv.server_address, SOCK_DGRAM);
    cr_assert_not(atomic_load(&serve.done));
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
    ct_cleanup();
    cr_assert_eq(atomic_load(&unbound_errors), 1);
    pthread_mutex_lock(&unbound_mu);
    cr_assert_str_eq(unbound_client, "unix:",
                     "address.h: an unbound unix peer is written \"unix:\", "
                     "got \"%s\" (family %d)", unbound_client, unbound_family);
    pthread_mutex_unlock(&unbound_mu);
}
