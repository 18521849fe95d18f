/* tests/ftpd/test_upgrade.c - sockserv-ftpd upgraded in place (SIGUSR2)
 * while it works: a download running across the upgrade finishes
 * byte-exact in the old process, a session logged in before it goes on
 * there, and new logins during and after it reach the new process.  The
 * notify messages a reload and an upgrade send, as systemd would read them. */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon_test.h"
#include "ftx.h"

#define BIG (24u * 1024 * 1024) /* far more than the socket buffers hold */

/* Waits for pid (our child, or an orphan we reap as subreaper) to exit;
 * returns its wait status. */
static int wait_exit(pid_t pid, double timeout_s)
{
    double deadline = ts_now() + timeout_s;
    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            return st;
        cr_assert(w == 0 && ts_now() < deadline, "pid %ld did not exit",
                  (long)pid);
        struct timespec t = {0, 20 * 1000 * 1000};
        nanosleep(&t, NULL); /* polling with a deadline */
    }
}

/* GET /metrics on addr ("http://HOST:PORT/metrics"): the status code. */
static int scrape(const char *url)
{
    char hostport[64];
    cr_assert_eq(sscanf(url, "http://%63[^/]", hostport), 1);
    ss_addr a;
    cr_assert_eq(ss_addr_parse(&a, hostport, NULL), 0);
    int fd = ts_connect(&a, SOCK_STREAM, 10.0);
    cr_assert_geq(fd, 0);
    const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
    cr_assert_eq(ts_write_full(fd, req, sizeof req - 1), 0);
    char line[128];
    cr_assert_gt(ts_read_line(fd, line, sizeof line), 0);
    close(fd);
    int code = 0;
    sscanf(line, "HTTP/1.%*d %d", &code);
    return code;
}

static void login(ftc *c, ftx_server *s)
{
    ftc_open(c, s);
    ftc_login(c, "alice", "secret");
    cr_assert_eq(ftc_cmd(c, "TYPE I"), 200);
}

Test(ftpd_upgrade, download_survives_sigusr2_and_logins_keep_working,
     .timeout = 180)
{
    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    ftx_server s;
    ftx_init(&s, "ftpd-upgrade");
    ftx_add_user(&s, "alice", "secret", "1G");
    const char *file = ftx_home_path(&s, "alice", "big.bin");
    ftx_make_file(file, BIG, 12);
    /* The metrics page's port goes over too: the new process could not
     * bind it while the old one holds it. */
    const char *extra[] = {"--set", "metrics_listen=127.0.0.1:0", NULL};
    ftx_start(&s, extra);
    char url[96];
    cr_assert_eq(ts_wait_line(&s.proc, "metrics on ", url, sizeof url, 10.0), 0);
    cr_assert_eq(scrape(url), 200);

    ftc idle, c;
    login(&idle, &s);
    login(&c, &s);
    int d = ftc_epsv(&c);
    cr_assert_eq(ftc_cmd(&c, "RETR big.bin"), 150, "%s", c.reply);
    char *back = malloc(BIG + 1);
    cr_assert_eq(ts_read_full(d, back, 65536), 65536);

    /* The upgrade, with the download half done and a session idle. */
    cr_assert_eq(kill(s.proc.pid, SIGUSR2), 0);
    char rest[32];
    cr_assert_eq(dt_wait_nth_line(&s.proc, "upgraded: new server pid ", 1, rest,
                                  sizeof rest, 60.0), 0, "%s", s.proc.err);
    pid_t next = (pid_t)atol(rest);
    cr_assert_gt(next, 0);

    cr_assert_eq(scrape(url), 200, "the new process serves the page");
    ftc during;
    login(&during, &s);
    cr_assert_eq(ftc_cmd(&during, "PWD"), 257);
    cr_assert_eq(ftc_cmd(&idle, "NOOP"), 200, "the old process keeps it");

    cr_assert_eq(ts_read_full(d, back + 65536, BIG + 1 - 65536),
                 (ssize_t)(BIG - 65536));
    close(d);
    cr_assert_eq(ftc_reply(&c), 226, "%s", c.reply);
    size_t n;
    char *disk = ftx_read_file(file, &n);
    cr_assert(n == BIG && memcmp(disk, back, BIG) == 0, "download differs");
    free(disk);
    free(back);

    /* Its last sessions gone, the old process exits by itself, cleanly. */
    ftc_cmd(&c, "QUIT");
    ftc_close(&c);
    ftc_cmd(&idle, "QUIT");
    ftc_close(&idle);
    ftc_cmd(&during, "QUIT");
    ftc_close(&during);
    int st = wait_exit(s.proc.pid, 60.0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "old exit %d", st);
    s.running = false;

    cr_assert_eq(scrape(url), 200);
    ftc after;
    login(&after, &s);
    char *list;
    cr_assert_eq(ftc_get(&after, "RETR big.bin", &list, &n), 226, "%s", after.reply);
    cr_assert_eq(n, BIG);
    free(list);
    ftc_cmd(&after, "QUIT");
    ftc_close(&after);

    cr_assert_eq(kill(next, SIGTERM), 0);
    st = wait_exit(next, 60.0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "new exit %d", st);
    ftx_stop(&s, true);
}

/* Type=notify as systemd runs it: READY=1, RELOADING=1 then READY=1 around
 * SIGHUP, MAINPID= for the new process of an upgrade (sent by the old one,
 * which systemd still trusts), and STOPPING=1 from the new one. */
Test(ftpd_upgrade, notify_messages_follow_reload_upgrade_and_stop,
     .timeout = 120)
{
    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    ftx_server s;
    ftx_init(&s, "ftpd-notify");
    char sock[700], env_sock[720];
    snprintf(sock, sizeof sock, "%s/notify", s.dir);
    int rx = dt_notify_receiver(sock, 30.0);
    cr_assert_geq(rx, 0);
    snprintf(env_sock, sizeof env_sock, "NOTIFY_SOCKET=%s", sock);
    cr_assert_eq(setenv("NOTIFY_SOCKET", sock, 1), 0);
    ftx_start(&s, NULL); /* inherits our environment */
    char msg[512];
    cr_assert_eq(dt_recv_until(rx, "READY=1", msg, sizeof msg), 0);

    kill(s.proc.pid, SIGHUP);
    cr_assert_eq(dt_recv_text(rx, msg, sizeof msg) > 0, 1);
    cr_assert(strncmp(msg, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0, "%s", msg);
    cr_assert_geq(dt_recv_text(rx, msg, sizeof msg), 0);
    cr_assert(strstr(msg, "READY=1\nSTATUS=users file reloaded"), "%s", msg);

    kill(s.proc.pid, SIGUSR2);
    char rest[32];
    cr_assert_eq(dt_wait_nth_line(&s.proc, "upgraded: new server pid ", 1, rest,
                                  sizeof rest, 60.0), 0, "%s", s.proc.err);
    char want[64];
    snprintf(want, sizeof want, "MAINPID=%s", rest);
    cr_assert_eq(dt_recv_until(rx, want, msg, sizeof msg), 0);
    int st = wait_exit(s.proc.pid, 60.0); /* no sessions: it leaves at once */
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    s.running = false;

    pid_t next = (pid_t)atol(rest);
    kill(next, SIGTERM);
    cr_assert_eq(dt_recv_until(rx, "STOPPING=1", msg, sizeof msg), 0);
    st = wait_exit(next, 60.0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(rx);
    ftx_stop(&s, true);
}
