/* tests/ftpd/test_ratelimit.c - per-user rate limits measured from the
 * outside with curl: one download and one upload at the limit, two
 * downloads of one user sharing it, another user at full speed meanwhile,
 * in threading and forking modes; the limited download costs the server
 * little CPU (it sleeps, it does not spin).
 *
 * Each limited transfer is sized to take about 5 s at the limit, long
 * enough for the 10 % bound to mean something, short enough for CI.  The
 * measure is curl's own: from time_pretransfer (logged in, the transfer
 * command about to go) to time_total (the final reply read), so a slow
 * login under a sanitizer does not count against the limiter. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftx.h"

#define CURL "/usr/bin/curl"
#define RATE (1024.0 * 1024.0) /* 1M, bytes/s */
#define SECONDS 5.0

static ftx_server srv;
static char work[1024];

static void need_curl(void)
{
    if (access(CURL, X_OK) != 0)
        cr_skip("curl is not installed");
}

/* alice: the server's default limits; bob: "unlimited" in the users file. */
static void start(const char *concurrency)
{
    ftx_init(&srv, "ftpd-rate");
    ftx_add_user(&srv, "alice", "pw-a", "1G");
    ftx_add_user(&srv, "bob", "pw-b", "1G");
    char *mod[] = {(char *)ftx_binary(), "--data-dir", srv.data_dir, "user",
                   "mod", "bob", "--upload-rate", "unlimited",
                   "--download-rate", "unlimited", NULL};
    char out[4096], err[4096];
    int st = ts_run(mod, NULL, 0, out, sizeof out, err, sizeof err, 30);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "user mod: %s %s", out, err);
    const char *extra[] = {concurrency, "--set", "max_download_rate=1M",
                           "--set", "max_upload_rate=4M", NULL};
    ftx_start(&srv, extra);
    snprintf(work, sizeof work, "%s/work", srv.dir);
    mkdir(work, 0755);
}

static void start_threading(void) { start("--threading"); }
static void start_forking(void) { start("--forking"); }
static void stop(void) { ftx_stop(&srv, true); }

static const char *wpath(const char *rel)
{
    static char slots[4][1200];
    static unsigned next;
    char *b = slots[next++ % 4];
    snprintf(b, sizeof slots[0], "%s/%s", work, rel);
    return b;
}

/* A curl transfer in the background, and when its transfer ran (seconds on
 * ts_now's clock, from curl's own timings). */
typedef struct xfer {
    ts_proc p;
    double spawned, start, end;
} xfer;

/* Starts curl: -o LOCAL for a download, -T LOCAL for an upload. */
static void curl_start(xfer *x, const char *user, const char *remote,
                       const char *local, bool upload)
{
    need_curl();
    static char url[4][512];
    static unsigned next;
    char *u = url[next++ % 4];
    snprintf(u, sizeof url[0], "ftp://127.0.0.1:%d/%s", srv.port, remote);
    char *argv[] = {CURL, "-sS", "--max-time", "60", "-u", (char *)user,
                    upload ? "-T" : "-o", (char *)local, "-w",
                    "%{time_pretransfer} %{time_total}", u, NULL};
    x->spawned = ts_now();
    cr_assert_eq(ts_spawn(&x->p, argv, NULL, -1, true), 0);
}

/* Waits for it; asserts success; returns how long its transfer took. */
static double curl_wait(xfer *x)
{
    int st = ts_stop(&x->p, 0, 90);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "curl failed (%d): %s\nserver:\n%s", st, x->p.err, srv.proc.err);
    char *end;
    double pre = strtod(x->p.out, &end), total = strtod(end, NULL);
    cr_assert(total > 0 && pre >= 0 && pre <= total, "curl said '%s'", x->p.out);
    x->start = x->spawned + pre;
    x->end = x->spawned + total;
    return total - pre;
}

static void expect_rate(double bytes, double seconds, double limit, const char *what)
{
    double r = bytes / seconds;
    cr_expect(r >= 0.9 * limit && r <= 1.1 * limit,
              "%s: %.0f bytes in %.2f s = %.0f B/s, limit %.0f B/s", what, bytes,
              seconds, r, limit);
}

/* CPU seconds (user and system, all threads) the server has used. */
static double server_cpu(void)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)srv.proc.pid);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the name may hold anything */
    unsigned long ut, st;
    cr_assert(p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                          &ut, &st) == 2, "%s", buf);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void download_at_the_limit(void)
{
    size_t n = (size_t)(SECONDS * RATE);
    ftx_make_file(ftx_home_path(&srv, "alice", "d.bin"), n, 1);
    xfer x;
    double cpu0 = server_cpu();
    curl_start(&x, "alice:pw-a", "d.bin", wpath("d.bin"), false);
    double t = curl_wait(&x);
    double cpu = server_cpu() - cpu0;
    expect_rate((double)n, t, RATE, "download");
    /* Waiting by spinning would cost about t; sleeping costs a few per cent
     * (more under a sanitizer), so half of it is a generous bound. */
    cr_expect(cpu < 0.5 * t, "the server used %.2f s of CPU in a %.2f s limited "
              "download", cpu, t);
    cr_log_info("limited download: %.2f s of server CPU in %.2f s", cpu, t);
    ftx_expect_same_files(wpath("d.bin"), ftx_home_path(&srv, "alice", "d.bin"));
}

/* Two downloads of alice at once share her 1M; bob, unlimited, starts
 * once they run and is done long before them. */
static void two_downloads_share_and_bob_is_unaffected(void)
{
    size_t half = (size_t)(SECONDS * RATE / 2), big = 8u << 20;
    ftx_make_file(ftx_home_path(&srv, "alice", "h1.bin"), half, 2);
    ftx_make_file(ftx_home_path(&srv, "alice", "h2.bin"), half, 3);
    ftx_make_file(ftx_home_path(&srv, "bob", "big.bin"), big, 4);
    xfer a1, a2, b;
    curl_start(&a1, "alice:pw-a", "h1.bin", wpath("h1.bin"), false);
    curl_start(&a2, "alice:pw-a", "h2.bin", wpath("h2.bin"), false);
    curl_start(&b, "bob:pw-b", "big.bin", wpath("big.bin"), false);
    double tb = curl_wait(&b);
    double t1 = curl_wait(&a1), t2 = curl_wait(&a2);
    /* Together at the limit: from the first start to the last end. */
    double first = a1.start < a2.start ? a1.start : a2.start;
    double last = a1.end > a2.end ? a1.end : a2.end;
    expect_rate(2.0 * (double)half, last - first, RATE, "two downloads");
    /* They ran at the same time (the logins may end apart: forking under a
     * sanitizer is slow), and neither alone passed the limit. */
    double late_start = a1.start > a2.start ? a1.start : a2.start;
    double early_end = a1.end < a2.end ? a1.end : a2.end;
    cr_expect(early_end - late_start > 1.0, "the two overlapped only %.2f s",
              early_end - late_start);
    cr_expect((double)half / t1 <= 1.1 * RATE && (double)half / t2 <= 1.1 * RATE,
              "%.2f s and %.2f s for %zu bytes each", t1, t2, half);
    cr_expect(tb < SECONDS / 2, "bob's 8M (8 s at alice's limit) took %.2f s", tb);
    ftx_expect_same_files(wpath("h1.bin"), ftx_home_path(&srv, "alice", "h1.bin"));
    ftx_expect_same_files(wpath("h2.bin"), ftx_home_path(&srv, "alice", "h2.bin"));
    ftx_expect_same_files(wpath("big.bin"), ftx_home_path(&srv, "bob", "big.bin"));
}

/* alice's own upload rate (user mod) wins over the server's 4M default. */
static void upload_at_the_users_own_limit(void)
{
    char *mod[] = {(char *)ftx_binary(), "--data-dir", srv.data_dir, "user",
                   "mod", "alice", "--upload-rate", "1M", NULL};
    char out[4096], err[4096];
    int st = ts_run(mod, NULL, 0, out, sizeof out, err, sizeof err, 30);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "user mod: %s %s", out, err);
    size_t n = (size_t)(SECONDS * RATE);
    ftx_make_file(wpath("u.bin"), n, 5);
    xfer x;
    curl_start(&x, "alice:pw-a", "u.bin", wpath("u.bin"), true);
    double t = curl_wait(&x);
    expect_rate((double)n, t, RATE, "upload");
    ftx_expect_same_files(wpath("u.bin"), ftx_home_path(&srv, "alice", "u.bin"));
}

TestSuite(ratelimit, .timeout = 120);

Test(ratelimit, download_at_the_limit_threading, .init = start_threading, .fini = stop)
{
    download_at_the_limit();
}

Test(ratelimit, upload_at_the_limit_threading, .init = start_threading, .fini = stop)
{
    upload_at_the_users_own_limit();
}

Test(ratelimit, two_downloads_share_the_limit_threading, .init = start_threading,
     .fini = stop)
{
    two_downloads_share_and_bob_is_unaffected();
}

Test(ratelimit, two_downloads_share_the_limit_forking, .init = start_forking,
     .fini = stop)
{
    two_downloads_share_and_bob_is_unaffected();
}

Test(ratelimit, upload_at_the_limit_forking, .init = start_forking, .fini = stop)
{
    upload_at_the_users_own_limit();
}

/* A limited transfer spends most of its time asleep; STAT and ABOR must
 * still be answered at once, not after the sleep or the whole file. */
Test(ratelimit, stat_and_abor_answer_while_a_limited_download_sleeps,
     .init = start_threading, .fini = stop)
{
    ftx_make_file(ftx_home_path(&srv, "alice", "slow.bin"), 16u << 20, 6);
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "pw-a");
    cr_assert_eq(ftc_cmd(&c, "TYPE I"), 200);
    int d = ftc_epsv(&c);
    cr_assert_eq(ftc_cmd(&c, "RETR slow.bin"), 150);
    char buf[4096];
    cr_assert(read(d, buf, sizeof buf) > 0);
    double t0 = ts_now();
    cr_expect_eq(ftc_cmd(&c, "STAT"), 213, "%s", c.reply);
    ftc_send_raw(&c, "ABOR\r\n", 6);
    cr_expect_eq(ftc_reply(&c), 426, "%s", c.reply);
    cr_expect_eq(ftc_reply(&c), 226, "%s", c.reply);
    cr_expect(ts_now() - t0 < 3.0, "the replies took %.2f s", ts_now() - t0);
    close(d);
    cr_expect_eq(ftc_cmd(&c, "NOOP"), 200, "session still usable");
    ftc_close(&c);
}
