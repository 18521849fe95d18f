/* tests/ftpd-units/test_guard.c - failed-login accounting (guard.c) and
 * the per-user and passive-listener counts (connlimit.c): bans after N
 * failures per host and per name, expiry, a full table reusing its oldest
 * entry, and exact counts when many threads and forked processes count at
 * once. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/connlimit.h"
#include "store/guard.h"
#include "units.h"

Test(guard, host_banned_after_n_failures_then_forgiven)
{
    ftpd_guard *g = ftpd_guard_create(64, 3, 0.5);
    cr_assert(g);
    ss_addr a = u_ipv4("192.0.2.1"), b = u_ipv4("192.0.2.2");
    cr_expect_eq(ftpd_guard_fail(g, &a, "u1"), 1);
    cr_expect_eq(ftpd_guard_fail(g, &a, "u2"), 2, "the host counts both names");
    cr_expect_eq(ftpd_guard_banned(g, &a, NULL), 0);
    cr_expect_eq(ftpd_guard_fail(g, &a, "u3"), 3);
    cr_expect_gt(ftpd_guard_banned(g, &a, NULL), 0, "banned at 3");
    cr_expect_eq(ftpd_guard_banned(g, &b, NULL), 0, "another host is not");
    cr_expect_eq(ftpd_guard_banned(g, &b, "u1"), 0, "u1 failed only once");
    cr_expect_eq(ftpd_guard_bans_active(g), 1, "the host, no name");
    struct timespec ts = {0, 700 * 1000 * 1000};
    nanosleep(&ts, NULL);
    cr_expect_eq(ftpd_guard_banned(g, &a, NULL), 0, "the ban ended");
    cr_expect_eq(ftpd_guard_bans_active(g), 0);
    ftpd_guard_destroy(g);
}

Test(guard, name_banned_from_every_host_success_resets_it)
{
    ftpd_guard *g = ftpd_guard_create(64, 3, 60);
    ss_addr h[3] = {u_ipv4("198.51.100.1"), u_ipv4("198.51.100.2"),
                    u_ipv4("198.51.100.3")};
    ftpd_guard_fail(g, &h[0], "alice");
    ftpd_guard_fail(g, &h[1], "alice");
    ftpd_guard_success(g, "alice");
    cr_expect_eq(ftpd_guard_fail(g, &h[2], "alice"), 1, "reset by a login");
    ftpd_guard_fail(g, &h[0], "alice");
    ftpd_guard_fail(g, &h[1], "alice");
    ss_addr other = u_ipv4("203.0.113.9");
    cr_expect_gt(ftpd_guard_banned(g, &other, "alice"), 0);
    cr_expect_eq(ftpd_guard_banned(g, &other, "bob"), 0);
    ftpd_guard_success(g, "alice"); /* a ban is not lifted by a login */
    cr_expect_gt(ftpd_guard_banned(g, &other, "alice"), 0);
    ftpd_guard_destroy(g);
}

Test(guard, full_table_reuses_the_oldest_entry_and_never_grows)
{
    ftpd_guard *g = ftpd_guard_create(8, 0, 60);
    ss_addr a = u_ipv4("192.0.2.50");
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "spray%d", i);
        ftpd_guard_fail(g, &a, name);
    }
    /* the host's entry was refreshed all along, so it survived */
    cr_expect_gt(ftpd_guard_fail(g, &a, "last"), 100);
    cr_expect_eq(ftpd_guard_banned(g, &a, NULL), 0, "ban_after 0: no bans");
    ftpd_guard_destroy(g);
}

Test(guard, entries_freed_in_the_middle_or_on_top_keep_the_rest_found)
{
    ftpd_guard *g = ftpd_guard_create(16, 2, 60);
    ss_addr a = u_ipv4("192.0.2.61"), b = u_ipv4("192.0.2.62"),
            c = u_ipv4("192.0.2.63"), d = u_ipv4("192.0.2.64");
    ftpd_guard_fail(g, &a, "x");
    ftpd_guard_fail(g, &a, "x");
    ftpd_guard_fail(g, &b, "y");
    ftpd_guard_success(g, "y");          /* frees the entry on top */
    cr_expect_gt(ftpd_guard_banned(g, &c, "x"), 0, "x is still banned");
    ftpd_guard_fail(g, &c, "z");
    ftpd_guard_fail(g, &c, "z");         /* takes the freed slots again */
    ftpd_guard_fail(g, &d, "w");
    ftpd_guard_success(g, "z");          /* a ban is not lifted by success */
    cr_expect_gt(ftpd_guard_banned(g, &d, "z"), 0, "z is banned");
    cr_expect_gt(ftpd_guard_banned(g, &d, "x"), 0, "x is banned");
    cr_expect_gt(ftpd_guard_banned(g, &c, NULL), 0, "host c is banned");
    cr_expect_eq(ftpd_guard_banned(g, &b, NULL), 0, "host b failed once");
    cr_expect_eq(ftpd_guard_bans_active(g), 4, "a, c, x and z");
    ftpd_guard_destroy(g);
}

#define THREADS 8
#define EACH 500

static ftpd_guard *shared_g;
static ftpd_connlimit *shared_cl;

static void *hammer(void *arg)
{
    (void)arg;
    ss_addr a = u_ipv4("192.0.2.77");
    for (int i = 0; i < EACH; i++) {
        ftpd_guard_fail(shared_g, &a, "victim");
        ftpd_guard_banned(shared_g, &a, "victim");
        if (ftpd_connlimit_user_acquire(shared_cl, "victim"))
            ftpd_connlimit_user_release(shared_cl, "victim");
        if (ftpd_connlimit_pasv_acquire(shared_cl, NULL))
            ftpd_connlimit_pasv_release(shared_cl, NULL);
    }
    return NULL;
}

Test(guard, counts_are_exact_across_threads_and_processes)
{
    shared_g = ftpd_guard_create(64, 0, 600);
    shared_cl = ftpd_connlimit_create(16, 0);
    ftpd_connlimit_set_user_limit(shared_cl, 3);
    ftpd_connlimit_set_pasv_limit(shared_cl, 2);
    pid_t kid = fork();
    if (kid == 0) {
        hammer(NULL);
        _exit(0);
    }
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, hammer, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    int st;
    cr_assert_eq(waitpid(kid, &st, 0), kid);
    ss_addr a = u_ipv4("192.0.2.77");
    cr_expect_eq(ftpd_guard_fail(shared_g, &a, "victim"),
                 (THREADS + 1) * EACH + 1);
    /* every place was given back */
    cr_expect(ftpd_connlimit_user_acquire(shared_cl, "victim"));
    cr_expect(ftpd_connlimit_user_acquire(shared_cl, "victim"));
    cr_expect(ftpd_connlimit_user_acquire(shared_cl, "victim"));
    cr_expect(!ftpd_connlimit_user_acquire(shared_cl, "victim"), "limit 3");
    cr_expect(ftpd_connlimit_user_acquire(shared_cl, "other"));
    cr_expect(ftpd_connlimit_pasv_acquire(shared_cl, NULL));
    cr_expect(ftpd_connlimit_pasv_acquire(shared_cl, NULL));
    cr_expect(!ftpd_connlimit_pasv_acquire(shared_cl, NULL), "limit 2");
    ftpd_connlimit_destroy(shared_cl);
    ftpd_guard_destroy(shared_g);
}

Test(guard, one_host_holds_at_most_half_of_the_passive_listeners)
{
    ftpd_connlimit *cl = ftpd_connlimit_create(16, 0);
    ftpd_connlimit_set_pasv_limit(cl, 4);
    ss_addr a = u_ipv4("192.0.2.1"), b = u_ipv4("192.0.2.2");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ftpd_connlimit_acquire(cl, &a), FTPD_CL_OK);
    cr_assert_eq(ftpd_connlimit_acquire(cl, &b), FTPD_CL_OK);
    cr_expect(ftpd_connlimit_pasv_acquire(cl, &a));
    cr_expect(ftpd_connlimit_pasv_acquire(cl, &a));
    cr_expect(!ftpd_connlimit_pasv_acquire(cl, &a), "a has its half");
    cr_expect(ftpd_connlimit_pasv_acquire(cl, &b), "b still gets one");
    ftpd_connlimit_pasv_release(cl, &a);
    cr_expect(ftpd_connlimit_pasv_acquire(cl, &a), "given back");
    cr_expect(ftpd_connlimit_pasv_acquire(cl, &b));
    cr_expect(!ftpd_connlimit_pasv_acquire(cl, &b), "all 4 taken");
    ftpd_connlimit_destroy(cl);
}
