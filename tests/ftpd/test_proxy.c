/* tests/ftpd/test_proxy.c - sockserv-ftpd behind the real HAProxy with
 * send-proxy-v2 on the control port: the client's address (127.0.0.3, as
 * the PROXY header says) is what the log, the xferlog, STAT, bans, the
 * per-IP limit and the PORT/PASV checks use, never HAProxy's (127.0.0.2);
 * data connections go straight to the node.  Python's ftplib is the
 * client. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftx.h"
#include "haproxy.h"

static void need(const char *tool)
{
    cr_assert_eq(access(tool, X_OK), 0, "%s is not installed (scripts/deps.sh)",
                 tool);
}

static void through_haproxy(const char *concurrency)
{
    need(TS_HAPROXY);
    need("/usr/bin/python3");
    ftx_server srv;
    ftx_init(&srv, "ftpd-proxy");
    ftx_add_user(&srv, "alice", "s3cret", "1G");
    char xferlog[700], xferset[800];
    snprintf(xferlog, sizeof xferlog, "%s/xferlog", srv.dir);
    snprintf(xferset, sizeof xferset, "xferlog_file=%s", xferlog);
    const char *extra[] = {"--set", "proxy_protocol=on",
                           "--set", "proxy_trusted=127.0.0.2/32, ::1/128",
                           "--set", "proxy_timeout=3",
                           "--set", "ban_after_failures=2",
                           "--set", "max_sessions_per_ip=2",
                           "--set", xferset, concurrency, NULL};
    ftx_start(&srv, extra);

    ts_haproxy h;
    char server[128];
    snprintf(server, sizeof server, "127.0.0.1:%d send-proxy-v2 source 127.0.0.2",
             srv.port);
    int rc = ts_haproxy_start(&h, server);
    cr_assert_eq(rc, 0, "haproxy: %d\n%s%s", rc, h.proc.out, h.proc.err);

    char port[16];
    snprintf(port, sizeof port, "%d", ss_addr_port(&h.front));
    char *argv[] = {"/usr/bin/python3",
                    (char *)ts_source_path("tests/ftpd/proxy_client.py"),
                    "127.0.0.1", port, "alice", "s3cret",
                    (char *)ftx_home_path(&srv, "alice", NULL), "127.0.0.3",
                    "127.0.0.5", "127.0.0.6", NULL};
    static char out[65536], err[65536];
    int st = ts_run(argv, NULL, 0, out, sizeof out, err, sizeof err, 120);
    ts_drain(&srv.proc);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "proxy_client.py failed (%d)\n%s\n%s\nserver:\n%s", st, out, err,
              srv.proc.err);
    cr_expect(strstr(out, "OK\n"), "%s", out);

    /* A client that goes around the balancer is not served: the port
     * takes proxied connections only. */
    ftc c;
    cr_assert_eq(ftc_open_addr(&c, &srv.addr), -1, "a direct client got a "
                 "reply: %s", c.reply);
    ftc_close(&c);

    ts_haproxy_stop(&h);
    ftx_stop(&srv, false);
    const char *log = srv.proc.err;
    cr_expect(strstr(log, "session start client=127.0.0.3:"), "%s", log);
    cr_expect(strstr(log, " via=127.0.0.2:"), "%s", log);
    cr_expect(strstr(log, "login user=alice client=127.0.0.3:"), "%s", log);
    cr_expect(strstr(log, "failed login user=mallory client=127.0.0.5:"), "%s",
              log);
    cr_expect(strstr(log, "session refused client=127.0.0.5:"), "%s", log);
    cr_expect(strstr(log, "session refused client=127.0.0.6:"), "%s", log);
    cr_expect(strstr(log, "reason=max_sessions_per_ip"), "%s", log);
    cr_expect(strstr(log, "connection error client=127.0.0.1:"), "%s", log);
    cr_expect(strstr(log, "is not a trusted balancer"), "%s", log);
    cr_expect(!strstr(log, "client=127.0.0.2"), "the balancer's address was "
              "used as a client's:\n%s", log);
    size_t n;
    char *x = ftx_read_file(xferlog, &n);
    cr_expect(strstr(x, " 127.0.0.3:"), "xferlog:\n%s", x);
    cr_expect(!strstr(x, "127.0.0.2"), "xferlog:\n%s", x);
    free(x);
    ts_rmtree(srv.dir);
}

Test(proxy, through_haproxy_the_client_address_is_the_headers, .timeout = 180)
{
    through_haproxy("--threading");
}

/* Sessions in child processes: the header is read by the parent's loop,
 * the bans and limits live in shared memory. */
Test(proxy, through_haproxy_forking, .timeout = 180)
{
    through_haproxy("--forking");
}

/* The settings are checked before anything listens: on without trusted
 * networks, a network that does not parse, a bad timeout. */
Test(proxy, bad_settings_exit_2_with_the_reason)
{
    const struct {
        const char *set[4];
        const char *says;
    } cases[] = {
        {{"--set", "proxy_protocol=on"}, "proxy_trusted"},
        {{"--set", "proxy_trusted=10.0.0.1/8"}, "bits set beyond the prefix"},
        {{"--set", "proxy_trusted=127.0.0.0/8, nonsense"}, "'nonsense'"},
        {{"--set", "proxy_timeout=0"}, "proxy_timeout"},
        {{"--set", "proxy_protocol=maybe"}, "proxy_protocol"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[] = {(char *)ftx_binary(), "--listen", "127.0.0.1:0",
                        (char *)cases[i].set[0], (char *)cases[i].set[1], NULL};
        char out[4096], err[4096];
        int st = ts_run(argv, NULL, 0, out, sizeof out, err, sizeof err, 20);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%s: status %d",
                  cases[i].set[1], st);
        cr_expect(strstr(err, cases[i].says), "%s: %s", cases[i].set[1], err);
    }
}
