/* tests/ftpd/test_quota.c - quotas: exact fit, one byte over, the stop in
 * the middle of a transfer (CVE-2021-40524 is this case), concurrent
 * uploads of one user, space given back, and the same in forking mode. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftx.h"

#define QUOTA 100000

static ftx_server srv;

static void start_mode(const char *mode)
{
    ftx_init(&srv, "ftpd-quota");
    ftx_add_user(&srv, "carol", "pw", "100000");
    const char *extra[] = {"--set", mode, NULL};
    ftx_start(&srv, extra);
}

static void start_threading(void) { start_mode("concurrency=threading"); }
static void start_forking(void) { start_mode("concurrency=forking"); }
static void stop(void) { ftx_stop(&srv, true); }

static void login(ftc *c)
{
    ftc_open(c, &srv);
    ftc_login(c, "carol", "pw");
    cr_assert_eq(ftc_cmd(c, "TYPE I"), 200);
}

static long long used(ftc *c)
{
    cr_assert_eq(ftc_cmd(c, "SITE QUOTA"), 200);
    long long u = -1, l = -1;
    sscanf(c->reply, "200 Quota: %lld of %lld", &u, &l);
    cr_assert_eq(l, QUOTA, "%s", c->reply);
    return u;
}

static long long home_bytes(void)
{
    long long total = 0;
    const char *names[] = {"a", "b", "c", "mid", "one", "two", "fit", "over", NULL};
    for (size_t i = 0; names[i]; i++) {
        off_t s = ftx_file_size(ftx_home_path(&srv, "carol", names[i]));
        if (s > 0)
            total += s;
    }
    return total;
}

static void exact_fit_and_one_byte_over(void)
{
    ftc c;
    login(&c);
    char *buf = malloc(QUOTA + 1);
    ftx_fill(buf, QUOTA + 1, 9);
    cr_expect_eq(ftc_put(&c, "STOR fit", buf, QUOTA), 226, "exact fit: %s", c.reply);
    cr_expect_eq(used(&c), QUOTA);
    cr_expect_eq(ftc_put(&c, "STOR over", "x", 1), 552, "one byte over: %s", c.reply);
    cr_expect_eq(used(&c), QUOTA);
    cr_expect_eq(ftx_file_size(ftx_home_path(&srv, "carol", "over")), -1,
                 "refused before anything was created");
    /* an overwrite gives the old size back first */
    cr_expect_eq(ftc_put(&c, "STOR fit", buf, QUOTA), 226, "overwrite: %s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "DELE fit"), 250);
    cr_expect_eq(used(&c), 0);
    cr_expect_eq(ftc_put(&c, "STOR over", buf, QUOTA + 1), 552, "%s", c.reply);
    cr_expect_eq(ftx_file_size(ftx_home_path(&srv, "carol", "over")), QUOTA,
                 "the bytes that fitted are kept, none past the quota");
    cr_expect_eq(used(&c), QUOTA);
    free(buf);
    ftc_close(&c);
}

static void mid_transfer_stop(void)
{
    ftc c;
    login(&c);
    char buf[30000];
    ftx_fill(buf, sizeof buf, 4);
    cr_expect_eq(ftc_put(&c, "STOR a", buf, sizeof buf), 226);
    /* 70000 left; send 400000 in pieces: the server must stop at the limit
     * while data is still coming. */
    int d = ftc_epsv(&c);
    cr_assert_eq(ftc_cmd(&c, "STOR mid"), 150);
    size_t sent = 0;
    for (int i = 0; i < 40; i++) {
        if (ts_write_full(d, buf, 10000) < 0)
            break;
        sent += 10000;
    }
    close(d);
    cr_expect_eq(ftc_reply(&c), 552, "%s", c.reply);
    cr_expect_eq(ftx_file_size(ftx_home_path(&srv, "carol", "mid")), 70000);
    cr_expect_eq(used(&c), QUOTA);
    cr_expect_eq(home_bytes(), QUOTA, "usage on disk equals the limit");
    /* the session goes on, and resuming is refused while full */
    cr_expect_eq(ftc_cmd(&c, "REST 70000"), 350);
    cr_expect_eq(ftc_put(&c, "STOR mid", "z", 1), 552);
    ftc_close(&c);
}

typedef struct up_arg {
    const char *name;
    int code;
} up_arg;

static void *uploader(void *p)
{
    up_arg *a = p;
    ftc c;
    login(&c);
    char *buf = malloc(80000);
    ftx_fill(buf, 80000, 5);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "STOR %s", a->name);
    a->code = ftc_put(&c, cmd, buf, 80000);
    free(buf);
    ftc_close(&c);
    return NULL;
}

static void concurrent_uploads(void)
{
    /* 2 x 80000 into a quota of 100000: at most one can fully succeed,
     * and together they never pass the limit. */
    pthread_t t[2];
    up_arg a[2] = {{"one", 0}, {"two", 0}};
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, uploader, &a[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    long long total = home_bytes();
    cr_expect_leq(total, QUOTA, "together %lld > quota", total);
    cr_expect(a[0].code == 552 || a[1].code == 552, "codes %d %d", a[0].code,
              a[1].code);
    ftc c;
    login(&c);
    cr_expect_eq(used(&c), total, "shared usage matches the disk");
    ftc_close(&c);
}

static void other_session_sees_usage(void)
{
    ftc a, b;
    login(&a);
    login(&b);
    cr_expect_eq(ftc_put(&a, "STOR b", "12345", 5), 226);
    cr_expect_eq(used(&b), 5);
    cr_expect_eq(ftc_cmd(&b, "RNFR b"), 350);
    cr_expect_eq(ftc_cmd(&b, "RNTO c"), 250);
    cr_expect_eq(ftc_put(&a, "STOR b", "1234567", 7), 226);
    cr_expect_eq(ftc_cmd(&b, "RNFR b"), 350);
    cr_expect_eq(ftc_cmd(&b, "RNTO c"), 250, "rename over a file");
    cr_expect_eq(used(&a), 7, "the replaced file's bytes came back");
    cr_expect_eq(ftc_cmd(&a, "STAT"), 211);
    cr_expect(strstr(a.reply, "7 of 100000"), "%s", a.reply);
    ftc_close(&a);
    ftc_close(&b);
}

TestSuite(quota, .fini = stop, .timeout = 90);

Test(quota, exact_fit_and_one_byte_over, .init = start_threading) { exact_fit_and_one_byte_over(); }
Test(quota, mid_transfer_stop_at_the_limit, .init = start_threading) { mid_transfer_stop(); }
Test(quota, two_concurrent_uploads_never_pass_it, .init = start_threading) { concurrent_uploads(); }
Test(quota, other_sessions_share_usage, .init = start_threading) { other_session_sees_usage(); }
Test(quota, forking_exact_fit_and_one_byte_over, .init = start_forking) { exact_fit_and_one_byte_over(); }
Test(quota, forking_mid_transfer_stop_at_the_limit, .init = start_forking) { mid_transfer_stop(); }
Test(quota, forking_two_concurrent_uploads_never_pass_it, .init = start_forking) { concurrent_uploads(); }
Test(quota, forking_other_sessions_share_usage, .init = start_forking) { other_session_sees_usage(); }
