/* tests/ftpd/test_drain.c - a node leaving a cluster: on SIGTERM
 * sockserv-ftpd refuses new connections at once (its listeners leave the
 * LISTEN state), lets a running download finish byte-exact, cuts what is
 * left at grace_period and exits 0; the real HAProxy, checking the 220
 * banner over PROXY v2 (LOCAL), marks the draining node down and sends
 * new clients to the other one. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftx.h"
#include "haproxy.h"

/* Connects until refused: the signal may still be on its way for a moment,
 * so an accepted connection means "not yet", up to the deadline.  Returns
 * true once a connect is refused. */
static bool refused_within(const ss_addr *a, double seconds)
{
    double deadline = ts_now() + seconds;
    while (ts_now() < deadline) {
        int fd = ts_connect(a, SOCK_STREAM, 5);
        if (fd == -ECONNREFUSED)
            return true;
        if (fd >= 0)
            close(fd);
        poll(NULL, 0, 20);
    }
    return false;
}

/* The node's exit status after at most timeout_s; asserts it exited 0. */
static void expect_exit_zero(ftx_server *srv, double timeout_s)
{
    int st = ts_stop(&srv->proc, 0, timeout_s);
    srv->running = false;
    cr_expect(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "exit status %d (-ETIMEDOUT: still running after %.0f s)\n%s",
              st, timeout_s, srv->proc.err);
}

static void download_survives_draining(const char *mode)
{
    ftx_server srv;
    ftx_init(&srv, "ftpd-drain");
    ftx_add_user(&srv, "alice", "secret", "1G");
    const char *extra[] = {"--set", mode, "--set", "grace_period=60", NULL};
    ftx_start(&srv, extra);
    /* Far more than the socket buffers hold: the server is mid-transfer
     * when the signal comes.  Real bytes, so "byte-exact" means it. */
    size_t n = 24u << 20;
    ftx_make_file(ftx_home_path(&srv, "alice", "big"), n, 7);
    char *want = malloc(n), *got = malloc(n);
    cr_assert(want && got);
    ftx_fill(want, n, 7);

    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "secret");
    cr_assert_eq(ftc_cmd(&c, "TYPE I"), 200);
    int d = ftc_epsv(&c);
    cr_assert_eq(ftc_cmd(&c, "RETR big"), 150, "%s", c.reply);
    ssize_t first = ts_read_full(d, got, 65536);
    cr_assert_eq(first, 65536);

    double t0 = ts_now();
    kill(srv.proc.pid, SIGTERM);
    cr_expect(refused_within(&srv.addr, 10), "a new connection was still "
              "accepted 10 s after SIGTERM");
    /* the process is still there, serving the download */
    cr_expect_eq(waitpid(srv.proc.pid, NULL, WNOHANG), 0);

    ssize_t rest = ts_read_full(d, got + first, n - (size_t)first);
    close(d);
    cr_expect_eq((size_t)rest + (size_t)first, n, "got %zd of %zu bytes",
                 rest + first, n);
    cr_expect(memcmp(got, want, n) == 0, "the downloaded bytes differ");
    cr_expect_eq(ftc_reply(&c), 226, "%s", c.reply);
    /* with nothing left to serve it exits long before the grace period */
    expect_exit_zero(&srv, 60);
    cr_expect(ts_now() - t0 < 60, "exit took %.1f s", ts_now() - t0);
    ftc_close(&c);
    free(want);
    free(got);
    ts_rmtree(srv.dir);
}

Test(drain, sigterm_refuses_new_clients_and_a_download_finishes_threading,
     .timeout = 120)
{
    download_survives_draining("concurrency=threading");
}

Test(drain, sigterm_refuses_new_clients_and_a_download_finishes_forking,
     .timeout = 120)
{
    download_survives_draining("concurrency=forking");
}

/* A client that stops reading does not hold the node past grace_period:
 * its transfer is cut and the node exits 0. */
Test(drain, a_stalled_download_is_cut_at_grace_period, .timeout = 120)
{
    ftx_server srv;
    ftx_init(&srv, "ftpd-drain-stall");
    ftx_add_user(&srv, "alice", "secret", "1G");
    const char *extra[] = {"--set", "grace_period=1", "--set",
                           "data_timeout=300", NULL};
    ftx_start(&srv, extra);
    ftx_make_file(ftx_home_path(&srv, "alice", "big"), 16u << 20, 3);
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "secret");
    cr_assert_eq(ftc_cmd(&c, "TYPE I"), 200);
    int d = ftc_epsv(&c);
    cr_assert_eq(ftc_cmd(&c, "RETR big"), 150, "%s", c.reply);
    char buf[4096];
    cr_assert(read(d, buf, sizeof buf) > 0);
    double t0 = ts_now();
    kill(srv.proc.pid, SIGTERM);
    /* Generous: the bound is that it ends at all, not how fast. */
    expect_exit_zero(&srv, 30);
    cr_expect(ts_now() - t0 >= 0.5, "the transfer was cut before the grace "
              "period (%.2f s)", ts_now() - t0);
    close(d);
    ftc_close(&c);
    ts_rmtree(srv.dir);
}

/* --- behind HAProxy ------------------------------------------------------ */

static void start_node(ftx_server *n, const char *users, const char *name)
{
    static char banner[2][64], userset[2][700];
    int i = name[1] - '1';
    snprintf(banner[i], sizeof banner[i], "banner=node %s ready", name);
    snprintf(userset[i], sizeof userset[i], "users_file=%s", users);
    const char *extra[] = {"--set", "proxy_protocol=on",
                           "--set", "proxy_trusted=127.0.0.2/32",
                           "--set", banner[i],
                           "--set", userset[i],
                           "--set", "grace_period=60",
                           "--set", "data_timeout=300", NULL};
    ftx_start(n, extra);
}

static void wait_status(ts_haproxy *h, const char *server, const char *want)
{
    char st[64];
    cr_assert(ts_haproxy_wait_status(h, server, want, 20, st, sizeof st),
              "HAProxy says %s is '%s', not %s within 20 s", server, st, want);
}

/* A control connection through the balancer from the client address src;
 * returns the 220 banner's code (the text is in c->reply). */
static int open_from(ftc *c, const char *src, const ss_addr *front)
{
    memset(c, 0, sizeof *c);
    c->addr = *front;
    c->fd = ts_connect_from(src, front, 20);
    cr_assert(c->fd >= 0, "connect: %s", strerror(-c->fd));
    return ftc_reply(c);
}

Test(drain, haproxy_marks_a_draining_node_down, .timeout = 180)
{
    cr_assert_eq(access(TS_HAPROXY, X_OK), 0, "haproxy is not installed "
                 "(scripts/deps.sh)");
    ftx_server n1, n2;
    ftx_init(&n1, "ftpd-drain-n1");
    ftx_init(&n2, "ftpd-drain-n2");
    /* One accounts file and one home tree for both nodes, as a cluster
     * shares them. */
    ftx_add_user(&n1, "alice", "secret", "1G");
    char users[700];
    snprintf(users, sizeof users, "%s/users", n1.data_dir);
    start_node(&n1, users, "n1");
    start_node(&n2, users, "n2");
    ftx_make_file(ftx_home_path(&n1, "alice", "big"), 16u << 20, 5);

    /* balance first: every new session goes to n1 while it is up, so the
     * test knows where each lands. */
    char backend[1024];
    snprintf(backend, sizeof backend,
             "    balance first\n"
             "    option tcp-check\n"
             "    tcp-check expect string 220\n"
             "    timeout check 5s\n"
             "    default-server check inter 200ms fall 1 rise 1 "
             "send-proxy-v2 source 127.0.0.2\n"
             "    server n1 127.0.0.1:%d\n"
             "    server n2 127.0.0.1:%d\n",
             n1.port, n2.port);
    ts_haproxy h;
    int rc = ts_haproxy_start_backend(&h, backend);
    cr_assert_eq(rc, 0, "haproxy: %d\n%s%s", rc, h.proc.out, h.proc.err);
    wait_status(&h, "n1", "UP");
    wait_status(&h, "n2", "UP");

    /* A download on n1 that keeps n1 draining as long as the test wants. */
    ftc c;
    cr_assert_eq(open_from(&c, "127.0.0.3", &h.front), 220, "%s", c.reply);
    cr_assert(strstr(c.reply, "node n1"), "%s", c.reply);
    ftc_login(&c, "alice", "secret");
    cr_assert_eq(ftc_cmd(&c, "TYPE I"), 200);
    cr_assert_eq(ftc_cmd(&c, "EPSV"), 229, "%s", c.reply);
    char *p = strstr(c.reply, "(|||");
    cr_assert(p);
    ss_addr data = n1.addr;
    ((struct sockaddr_in *)&data.sa)->sin_port = htons((uint16_t)atoi(p + 4));
    int d = ts_connect_from("127.0.0.3", &data, 20);
    cr_assert(d >= 0, "data connect: %s", strerror(-d));
    cr_assert_eq(ftc_cmd(&c, "RETR big"), 150, "%s", c.reply);
    char buf[4096];
    cr_assert(read(d, buf, sizeof buf) > 0);

    kill(n1.proc.pid, SIGTERM);
    wait_status(&h, "n1", "DOWN");
    cr_expect_eq(waitpid(n1.proc.pid, NULL, WNOHANG), 0, "n1 should still be "
                 "serving its download");
    for (int i = 0; i < 3; i++) {
        ftc o;
        cr_expect_eq(open_from(&o, "127.0.0.4", &h.front), 220, "%s", o.reply);
        cr_expect(strstr(o.reply, "node n2"), "new session %d: %s", i,
                  o.reply);
        ftc_close(&o);
    }
    cr_expect_eq(ts_haproxy_server_status(&h, "n2", buf, sizeof buf), 0);
    cr_expect(strncmp(buf, "UP", 2) == 0, "n2 is %s", buf);

    /* The client leaves; n1 has nothing left and exits. */
    close(d);
    ftc_close(&c);
    expect_exit_zero(&n1, 60);
    ts_haproxy_stop(&h);
    ftx_stop(&n2, false);
    /* The checks are PROXY LOCAL (served with HAProxy's address); the
     * client's session carries the client's. */
    cr_expect(strstr(n1.proc.err, "login user=alice client=127.0.0.3:"), "%s",
              n1.proc.err);
    ts_rmtree(n1.dir);
    ts_rmtree(n2.dir);
}
