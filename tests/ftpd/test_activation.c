/* tests/ftpd/test_activation.c - sockserv-ftpd started by systemd's own
 * systemd-socket-activate, as a .socket unit would start it: sockets picked
 * by name (a plain FTP listener, "ftps" an implicit FTPS one, "metrics" the
 * metrics page), a unix socket, READY=1 and STOPPING=1 sent to the
 * NOTIFY_SOCKET passed on (Type=notify behind the socket unit), and a
 * socket of the wrong kind, or an "ftps" one with TLS off, refused at start
 * with the reason and exit status 2. */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_test.h"
#include "ftx.h"

#define ACTIVATE "/usr/bin/systemd-socket-activate"
#define CURL "/usr/bin/curl"

/* systemd-socket-activate with the sockets in `listen` (its own -l/-d and
 * --fdname options) in front of sockserv-ftpd on s's data dir plus extra.
 * Waits until it listens on all nsockets; false when a port was taken
 * meanwhile (the caller picks others). */
static bool activate(ftx_server *s, const char *const *listen, int nsockets,
                     const char *const *extra)
{
    const char *argv[48];
    size_t n = 0;
    argv[n++] = ACTIVATE;
    /* Its environment is not passed on unless named. */
    argv[n++] = "-E";
    argv[n++] = "SOCKSERV_FTPD_TEST_FAST_KDF";
    for (size_t i = 0; listen[i]; i++)
        argv[n++] = listen[i];
    argv[n++] = ftx_binary();
    argv[n++] = "--data-dir";
    argv[n++] = s->data_dir;
    argv[n++] = "--set";
    argv[n++] = "login_fail_delay=0.05";
    for (size_t i = 0; extra && extra[i] && n < 46; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    cr_assert_eq(ts_spawn(&s->proc, (char *const *)argv, NULL, -1, true), 0);
    char want[32];
    snprintf(want, sizeof want, " as %d.", 2 + nsockets);
    if (dt_wait_text(&s->proc, want, false, 10.0) == 0) {
        s->running = true;
        return true;
    }
    ts_stop(&s->proc, SIGKILL, 5.0);
    return false;
}

static void have_tools(void)
{
    if (access(ACTIVATE, X_OK) != 0)
        cr_skip("systemd-socket-activate is not installed");
}

/* Three TCP sockets named ftp, ftps and metrics.  The first connection
 * makes systemd-socket-activate start the server, which answers it from
 * the queue; the implicit FTPS socket serves curl's ftps://, and the page
 * is on the socket named metrics, not on metrics_listen's address. */
Test(ftpd_activation, sockets_are_picked_by_name, .timeout = 120)
{
    have_tools();
    ftx_server s;
    ftx_init(&s, "ftpd-activation");
    ftx_add_user(&s, "alice", "secret", "1G");
    ftx_make_file(ftx_home_path(&s, "alice", "a.bin"), 4321, 7);
    char ftp[32], ftps[32], metrics[32];
    const char *extra[] = {"--set", "metrics_listen=127.0.0.1:1", NULL};
    bool up = false;
    for (int tries = 0; tries < 5 && !up; tries++) {
        snprintf(ftp, sizeof ftp, "127.0.0.1:%d", dt_free_port());
        snprintf(ftps, sizeof ftps, "127.0.0.1:%d", dt_free_port());
        snprintf(metrics, sizeof metrics, "127.0.0.1:%d", dt_free_port());
        const char *listen[] = {"-l", ftp, "-l", ftps, "-l", metrics,
                                "--fdname=ftp:ftps:metrics", NULL};
        up = activate(&s, listen, 3, extra);
    }
    cr_assert(up, "systemd-socket-activate did not listen");

    cr_assert_eq(ss_addr_parse(&s.addr, ftp, NULL), 0);
    ftc c;
    ftc_open(&c, &s);
    ftc_login(&c, "alice", "secret");
    cr_assert_eq(ftc_cmd(&c, "SIZE a.bin"), 213, "%s", c.reply);
    cr_assert_eq(ftc_cmd(&c, "QUIT"), 221);
    ftc_close(&c);

    char line[128], rest[128];
    snprintf(line, sizeof line, "listening on %s\n", ftp);
    cr_assert_eq(dt_wait_text(&s.proc, line, true, 10.0), 0, "%s", s.proc.out);
    snprintf(line, sizeof line, "listening on ftps://%s\n", ftps);
    cr_assert_eq(dt_wait_text(&s.proc, line, true, 10.0), 0, "%s", s.proc.out);
    cr_assert_eq(ts_wait_line(&s.proc, "metrics on ", rest, sizeof rest, 10.0),
                 0, "%s", s.proc.out);
    snprintf(line, sizeof line, "http://%s/metrics", metrics);
    cr_assert_str_eq(rest, line);

    char url[96], out[8192], err[1024];
    snprintf(url, sizeof url, "ftps://%s/", ftps);
    char *list[] = {CURL, "-sS", "-k", "--max-time", "30", "-u",
                    "alice:secret", "-l", url, NULL};
    int st = ts_run(list, NULL, 0, out, sizeof out, err, sizeof err, 60.0);
    cr_assert_eq(st, 0, "curl %s: %s", url, err);
    cr_assert(strstr(out, "a.bin"), "%s", out);

    char *page[] = {CURL, "-sS", "--max-time", "10", line, NULL};
    static char text[65536];
    st = ts_run(page, NULL, 0, text, sizeof text, err, sizeof err, 30.0);
    cr_assert_eq(st, 0, "curl %s: %s", line, err);
    /* Both FTP listeners' figures, and the implicit one's handshake. */
    snprintf(line, sizeof line, "sockserv_connections_accepted_total"
             "{listener=\"%s\"} 1\n", ftp);
    cr_assert(strstr(text, line), "%s", text);
    snprintf(line, sizeof line, "sockserv_tls_handshakes_total{listener=\"%s\","
             "result=\"ok\"} ", ftps);
    cr_assert(strstr(text, line), "%s", text);
    ftx_stop(&s, true);
}

/* A unix socket file, as ListenStream=/run/... gives it. */
Test(ftpd_activation, unix_socket_serves_sessions, .timeout = 60)
{
    have_tools();
    ftx_server s;
    ftx_init(&s, "ftpd-activation-unix");
    ftx_add_user(&s, "alice", "secret", "1G");
    char path[700], addr[720];
    snprintf(path, sizeof path, "%s/ftp.sock", s.dir);
    snprintf(addr, sizeof addr, "unix:%s", path);
    const char *listen[] = {"-l", path, NULL};
    cr_assert(activate(&s, listen, 1, NULL));
    cr_assert_eq(ss_addr_parse(&s.addr, addr, NULL), 0);
    ftc c;
    ftc_open(&c, &s);
    ftc_login(&c, "alice", "secret");
    cr_assert_eq(ftc_cmd(&c, "PWD"), 257, "%s", c.reply);
    cr_assert_eq(ftc_cmd(&c, "QUIT"), 221);
    ftc_close(&c);
    char line[800];
    snprintf(line, sizeof line, "listening on %s\n", addr);
    cr_assert_eq(dt_wait_text(&s.proc, line, true, 10.0), 0, "%s", s.proc.out);
    ftx_stop(&s, true);
}

/* A datagram socket (a unit's ListenDatagram= by mistake): the server
 * refuses it at start, says why, and exits 2 (a configuration error). */
Test(ftpd_activation, a_datagram_socket_is_refused_with_the_reason,
     .timeout = 60)
{
    have_tools();
    ftx_server s;
    ftx_init(&s, "ftpd-activation-dgram");
    char listen_addr[32];
    bool up = false;
    for (int tries = 0; tries < 5 && !up; tries++) {
        snprintf(listen_addr, sizeof listen_addr, "127.0.0.1:%d", dt_free_port());
        const char *listen[] = {"-d", "-l", listen_addr, NULL};
        up = activate(&s, listen, 1, NULL);
    }
    cr_assert(up, "systemd-socket-activate did not listen");
    ss_addr a;
    cr_assert_eq(ss_addr_parse(&a, listen_addr, NULL), 0);
    int fd = ts_connect(&a, SOCK_DGRAM, 10.0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(send(fd, "x", 1, 0), 1); /* starts the server */
    close(fd);
    int st = ts_stop(&s.proc, 0, 30.0);
    s.running = false;
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d; stderr:\n%s",
              st, s.proc.err);
    cr_assert(strstr(s.proc.err, "fd 3 is a SOCK_DGRAM socket; "
                                 "FtpdThreadingTCPServer needs SOCK_STREAM"),
              "stderr:\n%s", s.proc.err);
    ftx_stop(&s, true);
}

/* sockserv-ftpd.service is Type=notify behind sockserv-ftpd.socket: READY=1
 * once the inherited socket is served, STOPPING=1 on SIGTERM, sent to the
 * NOTIFY_SOCKET the activator passes on. */
Test(ftpd_activation, notify_messages_reach_the_notify_socket, .timeout = 60)
{
    have_tools();
    ftx_server s;
    ftx_init(&s, "ftpd-activation-notify");
    char sock[700], env[720];
    snprintf(sock, sizeof sock, "%s/notify", s.dir);
    snprintf(env, sizeof env, "NOTIFY_SOCKET=%s", sock);
    int rx = dt_notify_receiver(sock, 30.0);
    cr_assert_geq(rx, 0);
    char ftp[32];
    bool up = false;
    for (int tries = 0; tries < 5 && !up; tries++) {
        snprintf(ftp, sizeof ftp, "127.0.0.1:%d", dt_free_port());
        const char *listen[] = {"-l", ftp, "--fdname=ftp", "-E", env, NULL};
        up = activate(&s, listen, 1, NULL);
    }
    cr_assert(up, "systemd-socket-activate did not listen");
    cr_assert_eq(ss_addr_parse(&s.addr, ftp, NULL), 0);
    ftc c;
    ftc_open(&c, &s); /* starts the server */
    char msg[512];
    cr_assert_eq(dt_recv_until(rx, "READY=1", msg, sizeof msg), 0);
    ftc_close(&c);
    kill(s.proc.pid, SIGTERM);
    cr_assert_eq(dt_recv_until(rx, "STOPPING=1", msg, sizeof msg), 0);
    close(rx);
    /* It exits on its own: a second SIGTERM from ftx_stop could land after
     * the server has put the default action back, and kill it. */
    int st = ts_stop(&s.proc, 0, 30.0);
    s.running = false;
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d; stderr:\n%s",
              st, s.proc.err);
    ftx_stop(&s, true);
}

/* A socket named ftps where the config turns TLS off: the server says why
 * and exits 2 rather than serve implicit FTPS in clear. */
Test(ftpd_activation, an_ftps_socket_without_tls_is_refused, .timeout = 60)
{
    have_tools();
    ftx_server s;
    ftx_init(&s, "ftpd-activation-notls");
    char ftps[32];
    const char *extra[] = {"--set", "tls=no", NULL};
    bool up = false;
    for (int tries = 0; tries < 5 && !up; tries++) {
        snprintf(ftps, sizeof ftps, "127.0.0.1:%d", dt_free_port());
        const char *listen[] = {"-l", ftps, "--fdname=ftps", NULL};
        up = activate(&s, listen, 1, extra);
    }
    cr_assert(up, "systemd-socket-activate did not listen");
    ss_addr a;
    cr_assert_eq(ss_addr_parse(&a, ftps, NULL), 0);
    ftc c; /* starts the server, which exits with the connection unanswered */
    cr_assert_eq(ftc_open_addr(&c, &a), -1, "%s", c.reply);
    ftc_close(&c);
    int st = ts_stop(&s.proc, 0, 30.0);
    s.running = false;
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d; stderr:\n%s",
              st, s.proc.err);
    cr_assert(strstr(s.proc.err, "implicit FTPS needs tls = on"), "stderr:\n%s",
              s.proc.err);
    ftx_stop(&s, true);
}
