/* tests/ftpd/test_upgrade.c - sockserv-ftpd upgraded in place (SIGUSR2)
 * while it works: a download running across the upgrade finishes
 * byte-exact in the old process, a session logged in before it goes on
 * there, and new logins during and after it reach the new process; many
 * upgrades in a row under clients that log in without pause, none of them
 * refused.  The notify messages a reload and an upgrade send, as systemd
 * would read them. */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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

/* A server (this process its generations' subreaper) with user alice and
 * BIG bytes of seed in her big.bin; returns the file's path. */
static const char *start_with_big_file(ftx_server *s, const char *tag,
                                       unsigned seed, const char *const *extra)
{
    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    ftx_init(s, tag);
    ftx_add_user(s, "alice", "secret", "1G");
    const char *file = ftx_home_path(s, "alice", "big.bin");
    ftx_make_file(file, BIG, seed);
    ftx_start(s, extra);
    return file;
}

/* Reads the rest of a download of BIG bytes on data connection d (got of
 * them in back already, which is freed), expects 226 on c and the bytes
 * of file on disk exactly. */
static void finish_download(ftc *c, int d, char *back, size_t got,
                            const char *file)
{
    cr_assert_eq(ts_read_full(d, back + got, BIG + 1 - got),
                 (ssize_t)(BIG - got));
    close(d);
    cr_assert_eq(ftc_reply(c), 226, "%s", c->reply);
    size_t n;
    char *disk = ftx_read_file(file, &n);
    cr_assert(n == BIG && memcmp(disk, back, BIG) == 0, "download differs");
    free(disk);
    free(back);
}

Test(ftpd_upgrade, download_survives_sigusr2_and_logins_keep_working,
     .timeout = 180)
{
    ftx_server s;
    /* The metrics page's port goes over too: the new process could not
     * bind it while the old one holds it. */
    const char *extra[] = {"--set", "metrics_listen=127.0.0.1:0", NULL};
    const char *file = start_with_big_file(&s, "ftpd-upgrade", 12, extra);
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

    finish_download(&c, d, back, 65536, file);

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
    size_t n;
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

/* SIGHUP re-reads the users file only; a changed config file takes effect
 * through an upgrade, whose new process reads it as it starts. */
Test(ftpd_upgrade, sigusr2_applies_a_changed_config_file, .timeout = 120)
{
    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    ftx_server s;
    ftx_init(&s, "ftpd-upgrade-config");
    char conf[700];
    snprintf(conf, sizeof conf, "%s/ftpd.conf", s.dir);
    ftx_write_file(conf, "banner = first config\n", 21);
    const char *extra[] = {"--config", conf, NULL};
    ftx_start(&s, extra);
    ftc c;
    ftc_open(&c, &s);
    cr_assert(strstr(c.reply, "first config"), "%s", c.reply);
    ftc_close(&c);

    ftx_write_file(conf, "banner = second config\n", 22);
    kill(s.proc.pid, SIGHUP); /* users only: the banner stays */
    cr_assert_eq(dt_wait_text(&s.proc, "SIGHUP: users file", false, 30.0), 0,
                 "%s", s.proc.err);
    ftc_open(&c, &s);
    cr_assert(strstr(c.reply, "first config"), "%s", c.reply);
    ftc_close(&c);

    kill(s.proc.pid, SIGUSR2);
    char rest[32];
    cr_assert_eq(dt_wait_nth_line(&s.proc, "upgraded: new server pid ", 1, rest,
                                  sizeof rest, 60.0), 0, "%s", s.proc.err);
    ftc_open(&c, &s);
    cr_assert(strstr(c.reply, "second config"), "%s", c.reply);
    ftc_close(&c);
    int st = wait_exit(s.proc.pid, 60.0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "old exit %d", st);
    s.running = false;
    pid_t next = (pid_t)atol(rest);
    kill(next, SIGTERM);
    st = wait_exit(next, 60.0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "new exit %d", st);
    ftx_stop(&s, true);
}

/* --- upgrades in a row under load ----------------------------------------- */

#define LOADERS 4
#define UPGRADES 20

/* Clients that log in, ask for a file's size and leave, without pause:
 * every one must get its banner and its replies, whichever generation of
 * the server takes it. */
struct load {
    const ss_addr *addr;
    char size_reply[64]; /* "213 <size of big.bin>" */
    atomic_bool stop;
    atomic_long ok, failed;
    char first_error[256];
    pthread_mutex_t lock;
};

/* One reply (multi-line aware); its code, or -1 when the server left. */
static int read_reply(int fd, char *first, size_t cap)
{
    char line[1024];
    ssize_t n = ts_read_line(fd, line, sizeof line);
    if (n < 4)
        return -1;
    snprintf(first, cap, "%.*s", (int)strcspn(line, "\r\n"), line);
    char code[5] = {line[0], line[1], line[2], ' ', '\0'};
    if (line[3] == '-')
        do
            n = ts_read_line(fd, line, sizeof line);
        while (n > 0 && strncmp(line, code, 4) != 0);
    return n > 0 ? atoi(code) : -1;
}

/* "" when the session went as it should, else what went wrong. */
static void one_session(struct load *l, char *why, size_t cap)
{
    static const struct { const char *cmd; int code; } steps[] = {
        {NULL, 220}, {"USER alice\r\n", 331}, {"PASS secret\r\n", 230},
        {"SIZE big.bin\r\n", 213}, {"QUIT\r\n", 221},
    };
    *why = '\0';
    int fd = ts_connect(l->addr, SOCK_STREAM, 20.0);
    if (fd < 0) {
        snprintf(why, cap, "connect: %s", strerror(-fd));
        return;
    }
    char reply[200];
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        if (steps[i].cmd && ts_write_full(fd, steps[i].cmd, strlen(steps[i].cmd)) < 0) {
            snprintf(why, cap, "%s: send: %s", steps[i].cmd, strerror(errno));
            break;
        }
        int code = read_reply(fd, reply, sizeof reply);
        if (code != steps[i].code ||
            (code == 213 && strcmp(reply, l->size_reply) != 0)) {
            snprintf(why, cap, "after %s: '%s' (%d)",
                     steps[i].cmd ? steps[i].cmd : "connect", reply, code);
            break;
        }
    }
    close(fd);
}

static void *loader(void *arg)
{
    struct load *l = arg;
    char why[256];
    while (!atomic_load(&l->stop)) {
        one_session(l, why, sizeof why);
        if (!why[0]) {
            atomic_fetch_add(&l->ok, 1);
            continue;
        }
        pthread_mutex_lock(&l->lock);
        if (atomic_fetch_add(&l->failed, 1) == 0)
            snprintf(l->first_error, sizeof l->first_error, "%s", why);
        pthread_mutex_unlock(&l->lock);
    }
    return NULL;
}

/* Waits until the clients have made `more` more sessions. */
static void wait_progress(struct load *l, long more)
{
    long want = atomic_load(&l->ok) + more;
    double deadline = ts_now() + 60;
    while (atomic_load(&l->ok) < want) {
        cr_assert(ts_now() < deadline, "the clients made no progress "
                  "(%ld failed, the first: %s)", atomic_load(&l->failed),
                  l->first_error);
        struct timespec t = {0, 5 * 1000 * 1000};
        nanosleep(&t, NULL); /* polling with a deadline */
    }
}

/* 20 upgrades in a row while four clients log in without pause and one
 * download runs in the first process across all of them: no session is
 * refused or cut, every reply is right, the download is byte-exact, and
 * every generation but the last exits 0 by itself. */
Test(ftpd_upgrade, twenty_upgrades_under_logins_refuse_nothing,
     .timeout = 300)
{
    ftx_server s;
    const char *file = start_with_big_file(&s, "ftpd-upgrades", 13, NULL);

    /* The download: started before the first upgrade, read a little
     * after each, so it is still running when the last one is done. */
    ftc c;
    login(&c, &s);
    int d = ftc_epsv(&c);
    cr_assert_eq(ftc_cmd(&c, "RETR big.bin"), 150, "%s", c.reply);
    char *back = malloc(BIG + 1);
    size_t got = 0;
    const size_t step = 256 * 1024;
    cr_assert_eq(ts_read_full(d, back, step), (ssize_t)step);
    got += step;

    static struct load l;
    memset(&l, 0, sizeof l);
    pthread_mutex_init(&l.lock, NULL);
    l.addr = &s.addr;
    snprintf(l.size_reply, sizeof l.size_reply, "213 %u", BIG);
    pthread_t tids[LOADERS];
    for (int i = 0; i < LOADERS; i++)
        cr_assert_eq(pthread_create(&tids[i], NULL, loader, &l), 0);

    pid_t pid = s.proc.pid;
    char rest[32];
    for (int n = 1; n <= UPGRADES; n++) {
        wait_progress(&l, 3);
        cr_assert_eq(kill(pid, SIGUSR2), 0);
        cr_assert_eq(dt_wait_nth_line(&s.proc, "upgraded: new server pid ", n,
                                      rest, sizeof rest, 60.0), 0,
                     "upgrade %d did not complete; stderr:\n%s", n, s.proc.err);
        pid = (pid_t)atol(rest);
        cr_assert_gt(pid, 0);
        cr_assert_eq(ts_read_full(d, back + got, step), (ssize_t)step);
        got += step;
    }
    wait_progress(&l, 3);
    atomic_store(&l.stop, true);
    for (int i = 0; i < LOADERS; i++)
        pthread_join(tids[i], NULL);
    cr_assert_eq(atomic_load(&l.failed), 0, "%ld of %ld sessions failed, the "
                 "first: %s; stderr:\n%s", atomic_load(&l.failed),
                 atomic_load(&l.ok) + atomic_load(&l.failed), l.first_error,
                 s.proc.err);
    cr_assert_gt(atomic_load(&l.ok), 3L * UPGRADES);
    cr_log_info("%ld sessions across %d upgrades", atomic_load(&l.ok), UPGRADES);

    finish_download(&c, d, back, got, file);
    ftc_cmd(&c, "QUIT");
    ftc_close(&c);

    /* The first process leaves with its last session; the others left as
     * soon as their successor was ready. */
    int st = wait_exit(s.proc.pid, 60.0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "first exit %d", st);
    s.running = false;
    ftc after;
    login(&after, &s);
    cr_assert_eq(ftc_cmd(&after, "QUIT"), 221);
    ftc_close(&after);
    cr_assert_eq(kill(pid, SIGTERM), 0);
    st = wait_exit(pid, 60.0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "last exit %d", st);
    cr_assert_eq(dt_reap_all(60.0), 0, "a server generation did not exit");
    ts_drain(&s.proc);
    cr_assert_null(strstr(s.proc.err, "upgrade failed"), "%s", s.proc.err);
    cr_assert(!strstr(s.proc.err, "runtime error") &&
              !strstr(s.proc.err, "Sanitizer"), "sanitizer report:\n%s",
              s.proc.err);
    ftx_stop(&s, true);
}

/* Type=notify as systemd runs it, with WatchdogSec=: READY=1, WATCHDOG=1
 * pings, RELOADING=1 then READY=1 around SIGHUP, MAINPID= for the new
 * process of an upgrade (sent by the old one, which systemd still trusts),
 * the new process's own pings once the old one is gone, and STOPPING=1
 * from it. */
Test(ftpd_upgrade, notify_messages_follow_reload_upgrade_and_stop,
     .timeout = 120)
{
    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    ftx_server s;
    ftx_init(&s, "ftpd-notify");
    char sock[700];
    snprintf(sock, sizeof sock, "%s/notify", s.dir);
    int rx = dt_notify_receiver(sock, 30.0);
    cr_assert_geq(rx, 0);
    cr_assert_eq(setenv("NOTIFY_SOCKET", sock, 1), 0);
    cr_assert_eq(setenv("WATCHDOG_USEC", "1000000", 1), 0);
    ftx_start(&s, NULL); /* inherits our environment */
    char msg[512];
    cr_assert_eq(dt_recv_until(rx, "READY=1", msg, sizeof msg), 0);
    cr_assert_eq(dt_recv_until(rx, "WATCHDOG=1", msg, sizeof msg), 0);

    /* Pings may come between the two: the order is what counts. */
    kill(s.proc.pid, SIGHUP);
    cr_assert_eq(dt_recv_until(rx, "RELOADING=1", msg, sizeof msg), 0);
    cr_assert(strncmp(msg, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0, "%s", msg);
    cr_assert_eq(dt_recv_until(rx, "READY=1", msg, sizeof msg), 0);
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

    /* What the old process sent is read; a ping now is the new one's. */
    while (recv(rx, msg, sizeof msg, MSG_DONTWAIT) >= 0)
        ;
    cr_assert_eq(dt_recv_until(rx, "WATCHDOG=1", msg, sizeof msg), 0,
                 "the new process does not ping the watchdog");

    pid_t next = (pid_t)atol(rest);
    kill(next, SIGTERM);
    cr_assert_eq(dt_recv_until(rx, "STOPPING=1", msg, sizeof msg), 0);
    st = wait_exit(next, 60.0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(rx);
    ftx_stop(&s, true);
}
