/* tests/faults/test_slowpeers.c - peers that are slow or stuck: a download
 * read at 1 KiB/s, curl stopped with SIGSTOP in the middle of one, a client
 * that never reads its replies, passive listeners that nobody connects to
 * (100 PASV on one session, and many sessions of one host).  None of them
 * holds anything another session needs: other logins and transfers go on
 * meanwhile.  Each is ended by the timeout the config names for it
 * (data_timeout: a transfer without progress and an unused passive
 * listener; idle_timeout: a session without commands or that reads nothing
 * of its replies), never before it.  The timeouts are short here; every
 * bound is a generous deadline, and nothing sleeps to synchronise. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faults.h"

#define DATA_TIMEOUT 2.0
#define IDLE_TIMEOUT 5.0
#define MAX_PASV 8
#define SLACK 0.25 /* clock steps between the test and the server */
#define CURL "/usr/bin/curl"

static ftx_server srv;

static void setup_mode(const char *mode)
{
    ftx_init(&srv, "faults-slow");
    ftx_add_user(&srv, "alice", "pw", "1G");
    ftx_add_user(&srv, "bob", "pw", "1G");
    const char *extra[] = {"--set", mode,
                           "--set", "data_timeout=2",
                           "--set", "idle_timeout=5",
                           "--set", "max_pasv_listeners=8",
                           "--set", "max_sessions_per_ip=0",
                           "--set", "max_sessions_per_user=0",
                           NULL};
    ftx_start(&srv, extra);
}

static void setup(void) { setup_mode("concurrency=threading"); }
static void setup_forking(void) { setup_mode("concurrency=forking"); }

static void teardown(void) { ftx_stop(&srv, true); }

TestSuite(slowpeers, .init = setup, .fini = teardown, .timeout = 150);

static void login(ftc *c, const char *user)
{
    ftc_open(c, &srv);
    ftc_login(c, user, "pw");
    cr_assert_eq(ftc_cmd(c, "TYPE I"), 200);
}

/* What other clients do while a peer misbehaves: log in, download the big
 * file whole, upload, list.  Every reply is checked. */
typedef struct others {
    const char *file;
    size_t size;
    unsigned seed;
    int rounds;
    int failures;
    char why[512];
    pthread_t t;
} others;

static void *others_run(void *p)
{
    others *o = p;
    for (int i = 0; i < o->rounds; i++) {
        ftc c;
        ftc_open(&c, &srv);
        if (ftc_cmd(&c, "USER bob") != 331 || ftc_cmd(&c, "PASS pw") != 230 ||
            ftc_cmd(&c, "TYPE I") != 200) {
            o->failures++;
            snprintf(o->why, sizeof o->why, "login: %.300s", c.reply);
            ftc_close(&c);
            continue;
        }
        char cmd[128], *got;
        size_t n;
        snprintf(cmd, sizeof cmd, "RETR %s", o->file);
        if (ftc_get(&c, cmd, &got, &n) != 226 || n != o->size) {
            o->failures++;
            snprintf(o->why, sizeof o->why, "RETR: %.300s (%zu bytes)", c.reply, n);
        }
        free(got);
        char up[4096];
        ftx_fill(up, sizeof up, (unsigned)i);
        if (ftc_put(&c, "STOR other.bin", up, sizeof up) != 226) {
            o->failures++;
            snprintf(o->why, sizeof o->why, "STOR: %.300s", c.reply);
        }
        if (ftc_get(&c, "LIST", &got, &n) != 226) {
            o->failures++;
            snprintf(o->why, sizeof o->why, "LIST: %.300s", c.reply);
        }
        free(got);
        ftc_cmd(&c, "QUIT");
        ftc_close(&c);
    }
    return NULL;
}

static void others_start(others *o, const char *file, size_t size, int rounds)
{
    memset(o, 0, sizeof *o);
    o->file = file;
    o->size = size;
    o->rounds = rounds;
    /* bob reads alice's file through his own home: a hard link would do,
     * a copy is simpler */
    char src[1024];
    snprintf(src, sizeof src, "%s", ftx_home_path(&srv, "alice", file));
    size_t n;
    char *data = ftx_read_file(src, &n);
    ftx_write_file(ftx_home_path(&srv, "bob", file), data, n);
    free(data);
    cr_assert_eq(pthread_create(&o->t, NULL, others_run, o), 0);
}

static void others_join(others *o)
{
    pthread_join(o->t, NULL);
    cr_expect_eq(o->failures, 0, "other sessions failed meanwhile: %s", o->why);
}

/* A data connection to the port of an EPSV reply with a small receive
 * buffer, so the server really meets the slow reader (no megabytes of
 * kernel buffers in between). */
static int epsv_small_rcvbuf(ftc *c)
{
    cr_assert_eq(ftc_cmd(c, "EPSV"), 229, "%s", c->reply);
    char *p = strstr(c->reply, "(|||");
    cr_assert(p);
    int port = atoi(p + 4);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 2048;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "%s",
                 strerror(errno));
    return fd;
}

static bool readable(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) > 0;
}

Test(slowpeers, reader_at_1_kib_per_second_is_served_and_blocks_nobody)
{
    /* more than the server's send buffer grows to (tcp_wmem: 4 MiB) */
    const size_t size = 8u << 20;
    ftx_make_file(ftx_home_path(&srv, "alice", "big.bin"), size, 5);
    ftc a;
    login(&a, "alice");
    int d = epsv_small_rcvbuf(&a);
    cr_assert_eq(ftc_cmd(&a, "RETR big.bin"), 150, "%s", a.reply);

    others o;
    others_start(&o, "big.bin", size, 3);

    /* 1 KiB a second for three data_timeouts: progress, however slow, is
     * progress, and the transfer must not be cut. */
    char *got = malloc(size + 1);
    size_t have = 0;
    double start = ts_now();
    const int seconds = (int)(3 * DATA_TIMEOUT);
    for (int i = 1; i <= seconds; i++) {
        size_t want = 1024;
        while (want > 0 && readable(d, 10000)) {
            ssize_t k = recv(d, got + have, want, 0);
            if (k <= 0)
                break;
            have += (size_t)k;
            want -= (size_t)k;
        }
        cr_assert_eq(want, 0, "the data stopped after %zu bytes", have);
        /* the pace of the reader is what is tested, not a wait for the
         * server */
        double next = start + i;
        while (ts_now() < next)
            poll(NULL, 0, (int)((next - ts_now()) * 1000) + 1);
    }
    if (readable(a.fd, 0)) {
        ftc_reply(&a);
        cr_expect(false, "the server gave up on a reader that makes "
                  "progress: %s", a.reply);
    }
    others_join(&o);

    /* the rest at full speed */
    for (;;) {
        ssize_t k = recv(d, got + have, size + 1 - have, 0);
        if (k <= 0)
            break;
        have += (size_t)k;
    }
    close(d);
    cr_expect_eq(ftc_reply(&a), 226, "%s", a.reply);
    char *want = malloc(size);
    ftx_fill(want, size, 5);
    cr_expect(have == size && !memcmp(got, want, size), "%zu bytes, differ", have);
    free(want);
    free(got);
    ftc_close(&a);
}

Test(slowpeers, curl_stopped_mid_download_is_cut_by_the_timeouts)
{
    if (access(CURL, X_OK) < 0)
        cr_skip_test("curl is not installed");
    const size_t size = 24u << 20; /* more than the kernel buffers hold */
    ftx_make_file(ftx_home_path(&srv, "alice", "big.bin"), size, 6);
    char out[700], url[256];
    snprintf(out, sizeof out, "%s/curl.out", srv.dir);
    snprintf(url, sizeof url, "ftp://alice:pw@127.0.0.1:%d/big.bin", srv.port);
    const char *argv[] = {CURL, "-sS", "-o", out, url, NULL};
    ts_proc curl;
    cr_assert_eq(ts_spawn(&curl, (char *const *)argv, NULL, -1, true), 0);
    double deadline = ts_now() + 30;
    while (ftx_file_size(out) <= 0 && ts_now() < deadline)
        poll(NULL, 0, 10);
    cr_assert_gt(ftx_file_size(out), 0, "curl did not start");
    size_t mark = fl_log_mark(&srv);
    kill(curl.pid, SIGSTOP);
    double stopped = ts_now();

    others o;
    others_start(&o, "big.bin", size, 2);
    others_join(&o);

    cr_expect(fl_wait_log(&srv, &mark, 60, "transfer user=alice", "cmd=RETR",
                          "result=timeout", NULL),
              "no timeout of the stopped download:\n%s", srv.proc.err);
    double cut = ts_now();
    cr_expect_geq(cut - stopped, DATA_TIMEOUT - SLACK, "cut after %.2f s",
                  cut - stopped);
    cr_expect(fl_wait_log(&srv, &mark, 60, "session end", "user=alice", NULL),
              "the stopped client's session did not end:\n%s", srv.proc.err);
    cr_expect_geq(ts_now() - stopped, DATA_TIMEOUT + IDLE_TIMEOUT - SLACK,
                  "ended after %.2f s", ts_now() - stopped);

    kill(curl.pid, SIGCONT);
    int st = ts_stop(&curl, 0, 60);
    cr_expect(st >= 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0),
              "curl claimed success: %d %s", st, curl.err);
    off_t part = ftx_file_size(out);
    cr_expect(part > 0 && part < (off_t)size, "part of %lld bytes", (long long)part);

    /* nothing is lost: curl -C - resumes to the whole file */
    const char *resume[] = {CURL, "-sS", "-C", "-", "-o", out, url, NULL};
    char msg[4096];
    cr_expect_eq(fl_run(resume, msg, sizeof msg, 120), 0, "%s", msg);
    char a[65], b[65];
    cr_assert(ts_sha256_file(out, a), "cannot read %s", out);
    cr_assert(ts_sha256_file(ftx_home_path(&srv, "alice", "big.bin"), b));
    cr_expect_str_eq(a, b, "resumed download differs");
}

Test(slowpeers, client_that_never_reads_replies_is_cut_by_idle_timeout)
{
    ftc a;
    login(&a, "alice");
    ftx_make_file(ftx_home_path(&srv, "alice", "small.bin"), 8192, 7);
    size_t mark = fl_log_mark(&srv);
    /* HELP answers 20 lines for 6 bytes: the replies fill both kernel
     * buffers long before the commands run out. */
    static const char help[] = "HELP\r\n";
    double start = ts_now();
    for (int i = 0; i < 200000; i++) {
        ssize_t w = send(a.fd, help, sizeof help - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0)
            break;
    }
    others o;
    others_start(&o, "small.bin", 8192, 3);
    others_join(&o);
    cr_expect(fl_wait_log(&srv, &mark, 60, "session end", "user=alice", NULL),
              "the session that reads nothing did not end:\n%s", srv.proc.err);
    cr_expect_geq(ts_now() - start, IDLE_TIMEOUT - SLACK, "ended after %.2f s",
                  ts_now() - start);
    ftc_close(&a);
}

static int pasv_port(ftc *c)
{
    unsigned h[4], p1, p2;
    char *p = strchr(c->reply, '(');
    cr_assert(p && sscanf(p, "(%u,%u,%u,%u,%u,%u)", &h[0], &h[1], &h[2], &h[3],
                          &p1, &p2) == 6, "%s", c->reply);
    return (int)(p1 * 256 + p2);
}

/* Waits until the server holds base listening sockets; true when it did. */
static bool wait_listeners(int base, double timeout_s)
{
    double deadline = ts_now() + timeout_s;
    while (fl_listen_count(srv.proc.pid) != base && ts_now() < deadline)
        poll(NULL, 0, 20);
    return fl_listen_count(srv.proc.pid) == base;
}

Test(slowpeers, hundred_pasv_on_one_session_hold_one_listener_until_data_timeout)
{
    int base = fl_listen_count(srv.proc.pid);
    cr_assert_geq(base, 1);
    ftc a;
    login(&a, "alice");
    int last = 0;
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(ftc_cmd(&a, "PASV"), 227, "PASV %d: %s", i, a.reply);
        last = pasv_port(&a);
    }
    double t0 = ts_now();
    cr_expect_eq(fl_listen_count(srv.proc.pid), base + 1,
                 "each PASV closes the listener before it");
    cr_expect(fl_port_listening(last));

    /* another session is not short of anything meanwhile */
    ftx_make_file(ftx_home_path(&srv, "alice", "small.bin"), 8192, 8);
    others o;
    others_start(&o, "small.bin", 8192, 2);
    others_join(&o);

    cr_expect(wait_listeners(base, 60), "the unused listener stayed");
    cr_expect_geq(ts_now() - t0, DATA_TIMEOUT - SLACK, "closed after %.2f s",
                  ts_now() - t0);
    cr_expect(!fl_port_listening(last));
    /* then the session itself, idle since its last PASV */
    cr_expect_eq(ftc_reply(&a), 421, "%s", a.reply);
    cr_expect_geq(ts_now() - t0, IDLE_TIMEOUT - SLACK, "closed after %.2f s",
                  ts_now() - t0);
    ftc_close(&a);
}

static void many_pasv_sessions(void);

Test(slowpeers, one_host_with_many_pasv_sessions_leaves_listeners_for_others)
{
    many_pasv_sessions();
}

/* The same across forked session processes: the count is shared. */
TestSuite(slowpeers_forking, .init = setup_forking, .fini = teardown,
          .timeout = 150);

Test(slowpeers_forking, one_host_with_many_pasv_sessions_leaves_listeners)
{
    many_pasv_sessions();
}

static void many_pasv_sessions(void)
{
    int base = fl_listen_count(srv.proc.pid);
    enum { N = 20 };
    ftc bad[N];
    double last[N];
    int got227 = 0, got425 = 0;
    for (int i = 0; i < N; i++) {
        ftc_open_from(&bad[i], &srv, "127.0.0.2");
        ftc_login(&bad[i], "bob", "pw");
    }
    /* all logged in first, then the PASVs close together */
    double t0 = 0;
    for (int i = 0; i < N; i++) {
        int code = ftc_cmd(&bad[i], "PASV");
        last[i] = ts_now();
        if (code == 227)
            t0 = last[i];
        got227 += code == 227;
        got425 += code == 425;
    }
    cr_expect_eq(got227 + got425, N, "PASV answers: 227 or 425");
    cr_expect(got227 >= 1 && got227 <= MAX_PASV / 2,
              "one host holds %d of %d passive listeners", got227, MAX_PASV);
    cr_expect_eq(fl_listen_count(srv.proc.pid), base + got227);

    /* another host: its passive transfer works */
    ftx_make_file(ftx_home_path(&srv, "alice", "small.bin"), 8192, 9);
    ftc v;
    login(&v, "alice");
    char *data;
    size_t n;
    cr_expect_eq(ftc_get(&v, "RETR small.bin", &data, &n), 226, "%s", v.reply);
    cr_expect_eq(n, 8192);
    free(data);
    int d = ftc_pasv(&v);
    cr_expect_eq(ftc_cmd(&v, "LIST"), 150, "%s", v.reply);
    char buf[4096];
    while (read(d, buf, sizeof buf) > 0)
        ;
    close(d);
    cr_expect_eq(ftc_reply(&v), 226, "%s", v.reply);
    ftc_close(&v);

    /* the held listeners go after data_timeout, the sessions after
     * idle_timeout */
    cr_expect(wait_listeners(base, 60), "unused listeners stayed");
    cr_expect_geq(ts_now() - t0, DATA_TIMEOUT - SLACK, "the last listener "
                  "went after %.2f s", ts_now() - t0);
    for (int i = 0; i < N; i++) {
        cr_expect_eq(ftc_reply(&bad[i]), 421, "session %d: %s", i, bad[i].reply);
        cr_expect_geq(ts_now() - last[i], IDLE_TIMEOUT - SLACK,
                      "session %d ended after %.2f s", i, ts_now() - last[i]);
        ftc_close(&bad[i]);
    }
}
