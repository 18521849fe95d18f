/* tests/daemon/test_activation.c - servers made from inherited sockets:
 * echo-server started by systemd's own systemd-socket-activate (TCP, unix,
 * by name, every mixin), a socket of the wrong kind refused with a message
 * that says why, and the library calls on their own. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sockserv/sockserv.h>

#include "daemon_test.h"

#define ACTIVATE "/usr/bin/systemd-socket-activate"

static const char *const modes[] = {"sync", "threading", "forking", "pool", "uv"};

/* Starts systemd-socket-activate with `args` (NULL-terminated, after the
 * program name) and waits until it listens on all `nsockets`.  false when
 * it could not (a port taken meanwhile: the caller picks another). */
static bool activate(ts_proc *p, const char *const *args, int nsockets)
{
    const char *argv[32] = {ACTIVATE};
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    cr_assert_eq(ts_spawn(p, (char *const *)argv, NULL, -1, true), 0);
    char want[32];
    snprintf(want, sizeof want, " as %d.", 2 + nsockets);
    if (dt_wait_text(p, want, false, 10.0) == 0)
        return true;
    ts_stop(p, SIGKILL, 5.0);
    return false;
}

/* Where a test's arguments have TCP_ADDR, a free 127.0.0.1 port goes (into
 * listen); tried again on another port if it was taken meanwhile. */
#define TCP_ADDR "<tcp>"
static void activate_tcp(ts_proc *p, char *listen, size_t cap,
                         const char *const *args, int nsockets)
{
    for (int tries = 0; tries < 5; tries++) {
        snprintf(listen, cap, "127.0.0.1:%d", dt_free_port());
        const char *a[32];
        size_t i = 0;
        for (; args[i] && i < 31; i++)
            a[i] = strcmp(args[i], TCP_ADDR) ? args[i] : listen;
        a[i] = NULL;
        if (activate(p, a, nsockets))
            return;
    }
    cr_assert_fail("systemd-socket-activate did not listen");
}

/* A datagram to listen; with a reply expected, it must echo. */
static void datagram(const char *listen, const char *msg, const ts_proc *p,
                     bool echo)
{
    ss_addr a;
    cr_assert_eq(ss_addr_parse(&a, listen, NULL), 0);
    int fd = ts_connect(&a, SOCK_DGRAM, 10.0);
    cr_assert_geq(fd, 0);
    size_t len = strlen(msg);
    cr_assert_eq(send(fd, msg, len, 0), (ssize_t)len);
    if (echo) {
        char back[64];
        cr_assert_eq(recv(fd, back, sizeof back, 0), (ssize_t)len,
                     "stderr:\n%s", p->err);
        cr_assert_eq(memcmp(back, msg, len), 0);
    }
    close(fd);
}

static void stop_ok(ts_proc *p)
{
    int st = ts_stop(p, SIGTERM, 20.0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "server did not stop cleanly (%d); stderr:\n%s", st, p->err);
}

/* The first connection makes systemd-socket-activate exec the server, which
 * then answers it from the backlog: no connection is lost on the way. */
Test(activation, tcp_socket_serves_under_every_mixin, .timeout = 120)
{
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
        ts_proc p;
        char listen[64], addr[96];
        const char *args[] = {"-l", TCP_ADDR, "--fdname=echo",
                              ts_build_path("examples/echo/echo-server"),
                              "--mode", modes[m], NULL};
        activate_tcp(&p, listen, sizeof listen, args, 1);
        char msg[64];
        int len = snprintf(msg, sizeof msg, "hello from %s\n", modes[m]);
        cr_assert_eq(dt_echo_roundtrip(listen, msg, (size_t)len), 0,
                     "mode %s; stderr:\n%s", modes[m], p.err);
        snprintf(addr, sizeof addr, "listening on %s\n", listen);
        cr_assert_eq(dt_wait_text(&p, addr, true, 10.0), 0, "stdout: %s", p.out);
        stop_ok(&p);
    }
}

Test(activation, unix_socket_serves_under_every_mixin, .timeout = 120)
{
    char dir[256], path[300], listen[310];
    ts_mkdtemp("activation", dir, sizeof dir);
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
        snprintf(path, sizeof path, "%s/echo-%s.sock", dir, modes[m]);
        snprintf(listen, sizeof listen, "unix:%s", path);
        ts_proc p;
        const char *args[] = {"-l", path,
                              ts_build_path("examples/echo/echo-server"),
                              "--mode", modes[m], NULL};
        cr_assert(activate(&p, args, 1));
        char msg[64];
        int len = snprintf(msg, sizeof msg, "unix %s\n", modes[m]);
        cr_assert_eq(dt_echo_roundtrip(listen, msg, (size_t)len), 0,
                     "mode %s; stderr:\n%s", modes[m], p.err);
        stop_ok(&p);
    }
    ts_rmtree(dir);
}

/* Two sockets: the one named "echo" is served, wherever it is in the list. */
Test(activation, socket_is_picked_by_name, .timeout = 60)
{
    char dir[256], other[300], listen[64], line[96];
    ts_mkdtemp("activation", dir, sizeof dir);
    snprintf(other, sizeof other, "%s/other.sock", dir);
    ts_proc p;
    const char *args[] = {"-l", other, "-l", TCP_ADDR, "--fdname=other:echo",
                          ts_build_path("examples/echo/echo-server"),
                          "--mode", "uv", NULL};
    activate_tcp(&p, listen, sizeof listen, args, 2);
    cr_assert_eq(dt_echo_roundtrip(listen, "named\n", 6), 0, "stderr:\n%s", p.err);
    snprintf(line, sizeof line, "listening on %s\n", listen);
    cr_assert_eq(dt_wait_text(&p, line, true, 10.0), 0, "stdout: %s", p.out);
    stop_ok(&p);
    ts_rmtree(dir);
}

Test(activation, datagram_socket_serves_udp, .timeout = 60)
{
    ts_proc p;
    char listen[64];
    const char *args[] = {"-d", "-l", TCP_ADDR,
                          ts_build_path("examples/echo/echo-server"),
                          "--proto", "udp", NULL};
    activate_tcp(&p, listen, sizeof listen, args, 1);
    datagram(listen, "ping", &p, true);
    stop_ok(&p);
}

/* A datagram socket handed to a stream server: refused at start, with the
 * reason, and exit status 2 (a configuration error). */
Test(activation, wrong_socket_type_is_refused_with_the_reason, .timeout = 60)
{
    ts_proc p;
    char listen[64];
    const char *args[] = {"-d", "-l", TCP_ADDR,
                          ts_build_path("examples/echo/echo-server"), NULL};
    activate_tcp(&p, listen, sizeof listen, args, 1);
    datagram(listen, "x", &p, false); /* systemd-socket-activate starts it */
    int st = ts_stop(&p, 0, 20.0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d", st);
    cr_assert(strstr(p.err, "fd 3 is a SOCK_DGRAM socket; EchoServer needs "
                            "SOCK_STREAM"), "stderr:\n%s", p.err);
}

/* --- the library calls on their own ------------------------------------ */

static int listening_socket(int family)
{
    int fd = socket(family, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    if (family == AF_INET) {
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    } else {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        /* autobind: an abstract address of the kernel's choosing */
        cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(sa_family_t)), 0);
    }
    cr_assert_eq(listen(fd, 8), 0);
    return fd;
}

static ss_error adopt_error(const ss_server_class *cls, int fd, int want)
{
    ss_server s;
    ss_error err;
    cr_assert_eq(ss_server_init(&s, cls, NULL, &ss_stream_request_handler_class,
                                0, &err), 0, "%s", err.msg);
    cr_assert_eq(ss_server_adopt(&s, fd, &err), want, "%s", err.msg);
    cr_assert_neq(fcntl(fd, F_GETFD), -1, "a refused descriptor stays open");
    return err;
}

Test(activation, adopt_refuses_what_does_not_fit)
{
    int conn = socket(AF_INET, SOCK_STREAM, 0);
    ss_error e = adopt_error(&ss_tcp_server_class, conn, -EINVAL);
    cr_assert(strstr(e.msg, "is not listening"), "%s", e.msg);
    close(conn);

    int un = listening_socket(AF_UNIX);
    e = adopt_error(&ss_threading_tcp_server_class, un, -EAFNOSUPPORT);
    cr_assert(strstr(e.msg, "is an AF_UNIX socket; ThreadingTCPServer needs "
                            "AF_INET or AF_INET6"), "%s", e.msg);
    close(un);

    int in = listening_socket(AF_INET);
    e = adopt_error(&ss_unix_stream_server_class, in, -EAFNOSUPPORT);
    cr_assert(strstr(e.msg, "needs AF_UNIX"), "%s", e.msg);
    e = adopt_error(&ss_udp_server_class, in, -EPROTOTYPE);
    cr_assert(strstr(e.msg, "is a SOCK_STREAM socket; UDPServer needs "
                            "SOCK_DGRAM"), "%s", e.msg);
    close(in);

    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    e = adopt_error(&ss_tcp_server_class, pfd[0], -ENOTSOCK);
    cr_assert(strstr(e.msg, "is not a socket"), "%s", e.msg);
    close(pfd[0]);
    close(pfd[1]);
}

Test(activation, adopted_socket_belongs_to_the_server)
{
    int fd = listening_socket(AF_INET);
    struct sockaddr_in bound;
    socklen_t len = sizeof bound;
    getsockname(fd, (struct sockaddr *)&bound, &len);
    ss_server s;
    ss_error err;
    cr_assert_eq(ss_event_server_init(&s, &ss_event_tcp_server_class, NULL,
                                      &ss_event_handler_base_class, 0, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(ss_server_adopt(&s, fd, &err), 0, "%s", err.msg);
    cr_assert_eq(s.socket, fd);
    cr_assert_eq(s.address_family, AF_INET);
    cr_assert_eq(((struct sockaddr_in *)&s.server_address.sa)->sin_port,
                 bound.sin_port);
    cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
    ss_server_close(&s);
    cr_assert_eq(fcntl(fd, F_GETFD), -1, "server_close closes it");
}

/* ss_listen_fds_init reads descriptors 3.. which belong to the test runner
 * here: it runs in a child that puts its own sockets there. */
static int in_child(int (*fn)(void))
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(fn());
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

static int child_reads_names(void)
{
    int a = listening_socket(AF_INET), b = listening_socket(AF_UNIX);
    if (dup2(a, 3) < 0 || dup2(b, 4) < 0)
        return 1;
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("LISTEN_FDS", "2", 1);
    setenv("LISTEN_PID", pid, 1);
    setenv("LISTEN_FDNAMES", "web:admin", 1);
    ss_listen_fds lf;
    ss_error err;
    if (ss_listen_fds_init(&lf, 0, &err) != 2)
        return 2;
    if (getenv("LISTEN_FDS") || getenv("LISTEN_PID") || getenv("LISTEN_FDNAMES"))
        return 3; /* consumed, as sd_listen_fds(1) does */
    if (!(fcntl(3, F_GETFD) & FD_CLOEXEC) || !(fcntl(4, F_GETFD) & FD_CLOEXEC))
        return 4;
    if (strcmp(ss_listen_fds_name(&lf, 1), "admin") != 0)
        return 5;
    if (ss_listen_fds_take(&lf, "admin") != 4 || ss_listen_fds_take(&lf, "admin") != -ENOENT)
        return 6;
    ss_listen_fds_close(&lf); /* closes 3, the one nobody took */
    if (fcntl(3, F_GETFD) != -1 || fcntl(4, F_GETFD) == -1)
        return 7;
    return 0;
}

static int child_ignores_another_pid(void)
{
    setenv("LISTEN_FDS", "1", 1);
    setenv("LISTEN_PID", "1", 1);
    ss_listen_fds lf;
    if (ss_listen_fds_init(&lf, 0, NULL) != 0 || lf.count != 0)
        return 1;
    setenv("LISTEN_FDS", "many", 1);
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("LISTEN_PID", pid, 1);
    ss_error err;
    if (ss_listen_fds_init(&lf, 0, &err) != -EINVAL || !strstr(err.msg, "LISTEN_FDS"))
        return 2;
    unsetenv("LISTEN_FDS");
    if (ss_listen_fds_init(&lf, 0, NULL) != 0)
        return 3;
    return 0;
}

Test(activation, listen_fds_reads_names_and_consumes_the_environment)
{
    cr_assert_eq(in_child(child_reads_names), 0);
}

Test(activation, listen_fds_ignores_sockets_meant_for_another_process)
{
    cr_assert_eq(in_child(child_ignores_another_pid), 0);
}
