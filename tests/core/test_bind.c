/* Binding: port 0 reports the real port, IPv6 and unix addresses,
 * allow_reuse_address / allow_reuse_port (IP only, gh-128916), the backlog,
 * bind_and_activate off, and a failed bind that closes the server again
 * through the most-derived server_close and leaks no descriptor
 * (bpo-22435, CPython's test_tcpserver_bind_leak). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coretest.h"

static int sockopt(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    cr_assert_eq(getsockopt(fd, level, name, &v, &len), 0, "getsockopt: %s",
                 strerror(errno));
    return v;
}

static void init_unbound(ss_server *srv, const ss_server_class *cls,
                         const char *text)
{
    ss_addr a;
    ss_error err;
    ct_addr(&a, text);
    cr_assert_eq(ss_server_init(srv, cls, &a, &ct_echo_line_handler_class, 0,
                                &err),
                 0, "%s", err.msg);
}

Test(bind, port_zero_reports_the_bound_port)
{
    ss_server srv;
    ss_addr a;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(&srv, &ss_tcp_server_class, &a, &ct_echo_line_handler_class);
    ss_addr real;
    ct_sockname(srv.socket, &real);
    cr_assert_gt(ss_addr_port(&srv.server_address), 0);
    cr_assert_str_eq(ct_fmt(&srv.server_address), ct_fmt(&real));
    ss_server_close(&srv);
}

Test(bind, udp_port_zero_reports_the_bound_port)
{
    ss_server srv;
    ss_addr a;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(&srv, &ss_udp_server_class, &a, &ct_echo_dgram_handler_class);
    ss_addr real;
    ct_sockname(srv.socket, &real);
    cr_assert_gt(ss_addr_port(&srv.server_address), 0);
    cr_assert_str_eq(ct_fmt(&srv.server_address), ct_fmt(&real));
    ss_server_close(&srv);
}

Test(bind, ipv6_loopback)
{
    ss_server srv;
    ss_addr a;
    ct_addr(&a, "[::1]:0");
    ct_server_init(&srv, &ss_tcp_server_class, &a, &ct_echo_line_handler_class);
    cr_assert_eq(srv.address_family, AF_INET6);
    cr_assert_eq(ss_addr_family(&srv.server_address), AF_INET6);
    char want[64];
    snprintf(want, sizeof want, "[::1]:%d", ss_addr_port(&srv.server_address));
    cr_assert_str_eq(ct_fmt(&srv.server_address), want);
    ss_server_close(&srv);
}

Test(bind, unix_path)
{
    ss_server srv;
    ss_addr a;
    ct_unix_addr(&a, "bound.sock");
    ct_server_init(&srv, &ss_unix_stream_server_class, &a,
                   &ct_echo_line_handler_class);
    cr_assert_str_eq(ct_fmt(&srv.server_address), ct_fmt(&a));
    struct stat st;
    const char *path = ct_fmt(&a) + strlen("unix:");
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISSOCK(st.st_mode));
    ss_server_close(&srv);
    ct_cleanup();
}

/* Python: a unix socket path that exists already is EADDRINUSE. */
Test(bind, unix_path_in_use_fails)
{
    ss_server a, b;
    ss_addr addr;
    ss_error err;
    ct_unix_addr(&addr, "taken.sock");
    ct_server_init(&a, &ss_unix_stream_server_class, &addr,
                   &ct_echo_line_handler_class);
    int fds = ts_count_fds();
    int rc = ss_server_init(&b, &ss_unix_stream_server_class, &addr,
                            &ct_echo_line_handler_class, SS_BIND_AND_ACTIVATE,
                            &err);
    cr_assert_eq(rc, -EADDRINUSE, "got %d: %s", rc, err.msg);
    cr_assert_eq(ts_count_fds(), fds);
    ss_server_close(&a);
    ct_cleanup();
}

Test(bind, reuse_address_off_by_default_on_when_asked)
{
    ss_server srv;
    ss_addr a;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(&srv, &ss_tcp_server_class, &a, &ct_echo_line_handler_class);
    cr_assert_eq(sockopt(srv.socket, SOL_SOCKET, SO_REUSEADDR), 0);
    ss_server_close(&srv);

    init_unbound(&srv, &ss_tcp_server_class, "127.0.0.1:0");
    srv.allow_reuse_address = true;
    ss_error err;
    cr_assert_eq(ss_server_bind_and_activate(&srv, &err), 0, "%s", err.msg);
    cr_assert_neq(sockopt(srv.socket, SOL_SOCKET, SO_REUSEADDR), 0);
    ss_server_close(&srv);
}

/* A class attribute the Python way: a class whose configure extends its
 * base's. */
static void reusing_configure(ss_server *self);
static const ss_server_class reusing_tcp = {
    .base = &ss_tcp_server_class,
    .name = "ReusingTCPServer",
    .configure = reusing_configure,
};
static void reusing_configure(ss_server *self)
{
    SS_SUPER(&reusing_tcp, configure)(self);
    self->allow_reuse_address = true;
}

Test(bind, reuse_address_as_a_class_attribute)
{
    ss_server srv;
    ss_addr a;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(&srv, &reusing_tcp, &a, &ct_echo_line_handler_class);
    cr_assert(srv.allow_reuse_address);
    cr_assert_eq(srv.request_queue_size, SOMAXCONN,
                 "configure's super call must keep the base's attributes");
    cr_assert_neq(sockopt(srv.socket, SOL_SOCKET, SO_REUSEADDR), 0);
    ss_server_close(&srv);
}

/* Two servers on one port with allow_reuse_port; without it, the second
 * bind fails. */
static int bind_port(ss_server *srv, const ss_server_class *cls, int port,
                     bool reuse_port, ss_error *err)
{
    char text[64];
    snprintf(text, sizeof text, "127.0.0.1:%d", port);
    ss_addr a;
    ct_addr(&a, text);
    int rc = ss_server_init(srv, cls, &a, &ct_echo_line_handler_class, 0, err);
    if (rc < 0)
        return rc;
    srv->allow_reuse_port = reuse_port;
    return ss_server_bind_and_activate(srv, err);
}

Test(bind, reuse_port_lets_two_servers_share_a_port, .timeout = 30)
{
    ss_server a, b;
    ss_error err;
    cr_assert_eq(bind_port(&a, &ss_tcp_server_class, 0, true, &err), 0, "%s",
                 err.msg);
    int port = ss_addr_port(&a.server_address);
    cr_assert_neq(sockopt(a.socket, SOL_SOCKET, SO_REUSEPORT), 0);
    int rc = bind_port(&b, &ss_tcp_server_class, port, true, &err);
    cr_assert_eq(rc, 0, "second server on port %d: %d %s", port, rc, err.msg);
    cr_assert_eq(ss_addr_port(&b.server_address), port);

    /* Both serve: the kernel spreads connections; each echo must work. */
    ct_serve sa, sb;
    ct_serve_start(&sa, &a, 0.05);
    ct_serve_start(&sb, &b, 0.05);
    for (int i = 0; i < 6; i++)
        ct_echo_check(&a.server_address, SOCK_STREAM);
    cr_assert_eq(ct_serve_stop(&sa), 0);
    cr_assert_eq(ct_serve_stop(&sb), 0);
    ss_server_close(&a);
    ss_server_close(&b);
}

Test(bind, without_reuse_port_the_second_bind_fails)
{
    ss_server a, b;
    ss_error err;
    cr_assert_eq(bind_port(&a, &ss_tcp_server_class, 0, false, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(sockopt(a.socket, SOL_SOCKET, SO_REUSEPORT), 0);
    int port = ss_addr_port(&a.server_address);
    ss_error_clear(&err);
    int rc = bind_port(&b, &ss_tcp_server_class, port, false, &err);
    cr_assert_eq(rc, -EADDRINUSE, "got %d", rc);
    cr_assert_eq(err.code, -EADDRINUSE);
    cr_assert_neq(err.msg[0], '\0');
    cr_assert_not_null(strstr(err.msg, strerror(EADDRINUSE)),
                       "the message should say why: %s", err.msg);
    ss_server_close(&a);
}

Test(bind, reuse_port_for_udp)
{
    ss_server a, b;
    ss_error err;
    cr_assert_eq(bind_port(&a, &ss_udp_server_class, 0, true, &err), 0, "%s",
                 err.msg);
    int port = ss_addr_port(&a.server_address);
    cr_assert_eq(bind_port(&b, &ss_udp_server_class, port, true, &err), 0,
                 "%s", err.msg);
    ss_server_close(&a);
    ss_server_close(&b);
}

/* gh-128916: SO_REUSEPORT is for IP sockets only; asking for it on a unix
 * server must not fail (Linux >= 6.12.9 answers EOPNOTSUPP). */
Test(bind, reuse_port_ignored_for_unix)
{
    char text[300];
    snprintf(text, sizeof text, "unix:%s/rp.sock", ct_tmpdir());
    ss_server srv;
    init_unbound(&srv, &ss_unix_stream_server_class, text);
    srv.allow_reuse_port = true;
    ss_error err;
    cr_assert_eq(ss_server_bind_and_activate(&srv, &err), 0, "%s", err.msg);
    cr_assert_eq(sockopt(srv.socket, SOL_SOCKET, SO_REUSEPORT), 0);
    ss_server_close(&srv);

    snprintf(text, sizeof text, "unix:%s/rpd.sock", ct_tmpdir());
    init_unbound(&srv, &ss_unix_datagram_server_class, text);
    srv.allow_reuse_port = true;
    cr_assert_eq(ss_server_bind_and_activate(&srv, &err), 0, "%s", err.msg);
    ss_server_close(&srv);
    ct_cleanup();
}

/* Python creates the socket even when bind_and_activate is false. */
Test(bind, without_bind_and_activate_the_socket_waits)
{
    ss_server srv;
    init_unbound(&srv, &ss_tcp_server_class, "127.0.0.1:0");
    cr_assert_geq(srv.socket, 0, "the socket exists before bind");
    cr_assert_eq(sockopt(srv.socket, SOL_SOCKET, SO_ACCEPTCONN), 0);
    ss_error err;
    cr_assert_eq(ss_server_bind_and_activate(&srv, &err), 0, "%s", err.msg);
    cr_assert_neq(sockopt(srv.socket, SOL_SOCKET, SO_ACCEPTCONN), 0);
    cr_assert_gt(ss_addr_port(&srv.server_address), 0);
    ss_server_close(&srv);
    cr_assert_eq(srv.socket, -1);
}

Test(bind, closing_an_unbound_server)
{
    ss_server srv;
    init_unbound(&srv, &ss_threading_tcp_server_class, "127.0.0.1:0");
    int fds = ts_count_fds();
    ss_server_close(&srv);
    cr_assert_eq(srv.socket, -1);
    cr_assert_eq(ts_count_fds(), fds - 1);
}

/* The listen backlog is request_queue_size: `ss` shows it as Send-Q of a
 * listening socket. */
Test(bind, backlog_is_request_queue_size, .timeout = 30)
{
    ss_server srv;
    init_unbound(&srv, &ss_tcp_server_class, "127.0.0.1:0");
    srv.request_queue_size = 7;
    ss_error err;
    cr_assert_eq(ss_server_bind_and_activate(&srv, &err), 0, "%s", err.msg);
    char filter[64];
    snprintf(filter, sizeof filter, "sport = :%d",
             ss_addr_port(&srv.server_address));
    char *argv[] = {"/usr/bin/ss", "-ltnH", filter, NULL};
    if (access(argv[0], X_OK) != 0) {
        ss_server_close(&srv);
        cr_skip_test("no /usr/bin/ss");
    }
    char out[1024];
    int st = ts_run(argv, NULL, 0, out, sizeof out, NULL, 0, 10);
    cr_assert_eq(st, 0, "ss failed: %s", out);
    char state[32];
    unsigned recvq, sendq;
    cr_assert_eq(sscanf(out, "%31s %u %u", state, &recvq, &sendq), 3, "%s",
                 out);
    cr_assert_str_eq(state, "LISTEN");
    cr_assert_eq(sendq, 7u, "backlog %u, want 7", sendq);
    ss_server_close(&srv);
}

/* --- failures ------------------------------------------------------------------ */

static void counting_server_close(ss_server *self);
static const ss_server_class counting_tcp = {
    .base = &ss_tcp_server_class,
    .name = "CountingCloseTCPServer",
    .server_close = counting_server_close,
};
static atomic_int closes;
static void counting_server_close(ss_server *self)
{
    atomic_fetch_add(&closes, 1);
    SS_SUPER(&counting_tcp, server_close)(self);
}

/* bpo-22435: the failed init runs the most-derived server_close, once. */
Test(bind, failed_bind_runs_the_derived_server_close)
{
    ss_server a, b;
    ss_addr addr;
    ct_addr(&addr, "127.0.0.1:0");
    ct_server_init(&a, &ss_tcp_server_class, &addr, &ct_echo_line_handler_class);
    atomic_store(&closes, 0);
    ss_error err;
    int rc = ss_server_init(&b, &counting_tcp, &a.server_address,
                            &ct_echo_line_handler_class, SS_BIND_AND_ACTIVATE,
                            &err);
    cr_assert_eq(rc, -EADDRINUSE);
    cr_assert_eq(atomic_load(&closes), 1);
    ss_server_close(&a);
}

/* CPython's test_tcpserver_bind_leak: 1024 failed binds, no descriptor
 * lost. */
Test(bind, failed_bind_leaks_no_descriptor, .timeout = 60)
{
    ss_server a;
    ss_addr addr;
    ct_addr(&addr, "127.0.0.1:0");
    ct_server_init(&a, &ss_tcp_server_class, &addr, &ct_echo_line_handler_class);
    int fds = ts_count_fds();
    for (int i = 0; i < 1024; i++) {
        ss_server b;
        ss_error err;
        int rc = ss_server_init(&b, &ss_tcp_server_class, &a.server_address,
                                &ct_echo_line_handler_class,
                                SS_BIND_AND_ACTIVATE, &err);
        cr_assert_eq(rc, -EADDRINUSE, "attempt %d: %d %s", i, rc, err.msg);
    }
    cr_assert_eq(ts_count_fds(), fds, "descriptors leaked: %d -> %d", fds,
                 ts_count_fds());
    /* the same through bind_and_activate after a plain init */
    for (int i = 0; i < 256; i++) {
        ss_server b;
        ss_error err;
        cr_assert_eq(ss_server_init(&b, &ss_tcp_server_class,
                                    &a.server_address,
                                    &ct_echo_line_handler_class, 0, &err),
                     0);
        cr_assert_eq(ss_server_bind_and_activate(&b, &err), -EADDRINUSE);
        ss_server_close(&b); /* idempotent after the failed bind closed it */
    }
    cr_assert_eq(ts_count_fds(), fds);
    ss_server_close(&a);
}
