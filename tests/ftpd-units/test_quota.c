/* tests/ftpd-units/test_quota.c - usage counted at first login, shared by
 * every session of a user (threads and forked processes), and reservations
 * that never let concurrent writers pass the limit together. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/quota.h"
#include "units.h"

static char top[PATH_MAX], home[PATH_MAX];
static ftpd_quota_table *table;

static void setup(void)
{
    u_tmpdir("quota", top, sizeof top);
    u_path(home, sizeof home, "%s/home", top);
    char p[PATH_MAX];
    u_mkdirs(u_path(p, sizeof p, "%s/a/b/c", home));
    char data[1000];
    memset(data, 'x', sizeof data);
    u_write(u_path(p, sizeof p, "%s/one", home), data, 100);
    u_write(u_path(p, sizeof p, "%s/a/two", home), data, 200);
    u_write(u_path(p, sizeof p, "%s/a/b/c/three", home), data, 300);
    cr_assert_eq(ftpd_quota_table_create(&table, 8), 0);
}

static void teardown(void)
{
    ftpd_quota_table_destroy(table);
    u_cleanup(top);
}

TestSuite(quota, .init = setup, .fini = teardown, .timeout = 60);

Test(quota, first_login_counts_the_home_without_following_symlinks)
{
    char p[PATH_MAX], big[PATH_MAX];
    char data[5000];
    memset(data, 'y', sizeof data);
    u_write(u_path(big, sizeof big, "%s/big-outside", top), data, sizeof data);
    cr_assert_eq(symlink(big, u_path(p, sizeof p, "%s/link-to-big", home)), 0);
    cr_assert_eq(symlink(top, u_path(p, sizeof p, "%s/a/link-to-top", home)), 0);
    uint64_t bytes;
    cr_assert_eq(ftpd_quota_walk(home, &bytes), 0);
    cr_expect_eq(bytes, 600);
    ftpd_quota q;
    cr_assert_eq(ftpd_quota_attach(table, "alice", 1000, home, &q), 0);
    uint64_t used, limit;
    cr_assert_eq(ftpd_quota_get(&q, &used, &limit), 0);
    cr_expect_eq(used, 600);
    cr_expect_eq(limit, 1000);
    ftpd_quota_detach(&q);
    ftpd_quota_detach(&q);  /* idempotent */
    cr_expect_eq(ftpd_quota_get(&q, &used, &limit), -EINVAL);
    cr_expect_eq(ftpd_quota_attach(table, "bob", 1, "/nonexistent/home", &q), -ENOENT);
}

Test(quota, reservations_stop_at_the_limit)
{
    ftpd_quota q;
    cr_assert_eq(ftpd_quota_attach(table, "alice", 1000, home, &q), 0);
    uint64_t got;
    cr_expect_eq(ftpd_quota_reserve(&q, 300, &got), 0);
    cr_expect_eq(got, 300);
    cr_expect_eq(ftpd_quota_reserve(&q, 300, &got), 0);
    cr_expect_eq(got, 100, "only what is left is granted");
    cr_expect_eq(ftpd_quota_reserve(&q, 1, &got), -EDQUOT);
    cr_expect_eq(got, 0);
    ftpd_quota_release(&q, 50);     /* a writer used 50 bytes less */
    cr_expect_eq(ftpd_quota_reserve(&q, 80, &got), 0);
    cr_expect_eq(got, 50);
    uint64_t used;
    cr_assert_eq(ftpd_quota_get(&q, &used, NULL), 0);
    cr_expect_eq(used, 1000, "exact fit");
    ftpd_quota_release(&q, 5000);
    cr_assert_eq(ftpd_quota_get(&q, &used, NULL), 0);
    cr_expect_eq(used, 0, "usage never goes below zero");
    ftpd_quota_charge(&q, 1500);
    cr_assert_eq(ftpd_quota_get(&q, &used, NULL), 0);
    cr_expect_eq(used, 1500);
    cr_expect_eq(ftpd_quota_reserve(&q, 1, &got), -EDQUOT, "over the limit already");
    ftpd_quota_detach(&q);

    cr_assert_eq(ftpd_quota_attach(table, "free", FTPD_QUOTA_NO_LIMIT, home, &q), 0);
    cr_expect_eq(ftpd_quota_reserve(&q, 1ull << 40, &got), 0);
    cr_expect_eq(got, 1ull << 40);
    ftpd_quota_detach(&q);
}

Test(quota, sessions_share_usage_and_the_last_one_out_forgets_it)
{
    ftpd_quota a, b;
    cr_assert_eq(ftpd_quota_attach(table, "alice", 1000, home, &a), 0);
    cr_assert_eq(ftpd_quota_attach(table, "alice", 2000, home, &b), 0);
    uint64_t got, used, limit;
    cr_assert_eq(ftpd_quota_reserve(&a, 150, &got), 0);
    cr_assert_eq(ftpd_quota_get(&b, &used, &limit), 0);
    cr_expect_eq(used, 750, "b sees a's bytes");
    cr_expect_eq(limit, 2000, "the latest login sets the limit from the users file");
    ftpd_quota_detach(&a);
    cr_assert_eq(ftpd_quota_get(&b, &used, NULL), 0);
    cr_expect_eq(used, 750);
    ftpd_quota_detach(&b);
    /* Changed behind the server's back: the next first login counts again. */
    char p[PATH_MAX];
    cr_assert_eq(unlink(u_path(p, sizeof p, "%s/a/b/c/three", home)), 0);
    cr_assert_eq(ftpd_quota_attach(table, "alice", 1000, home, &a), 0);
    cr_assert_eq(ftpd_quota_get(&a, &used, NULL), 0);
    cr_expect_eq(used, 300);
    ftpd_quota_detach(&a);
}

Test(quota, a_full_table_refuses_and_idle_slots_are_reused)
{
    ftpd_quota q[9];
    char name[16];
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "u%d", i);
        cr_assert_eq(ftpd_quota_attach(table, name, 1000, home, &q[i]), 0);
    }
    cr_expect_eq(ftpd_quota_attach(table, "late", 1000, home, &q[8]), -ENOSPC);
    ftpd_quota_detach(&q[3]);
    cr_expect_eq(ftpd_quota_attach(table, "late", 1000, home, &q[8]), 0);
    for (int i = 0; i < 9; i++)
        ftpd_quota_detach(&q[i]);
    char longname[FTPD_QUOTA_NAME_MAX + 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_expect_eq(ftpd_quota_attach(table, longname, 1, home, &q[0]), -EINVAL);
}

/* A writer: reserves chunks of 7 bytes, "writes" 5 of each, gives 2 back,
 * until the quota says no. */
static uint64_t write_until_full(ftpd_quota *q)
{
    uint64_t kept = 0, got;
    while (ftpd_quota_reserve(q, 7, &got) == 0) {
        uint64_t used = got < 5 ? got : 5;
        kept += used;
        ftpd_quota_release(q, got - used);
    }
    return kept;
}

struct writer_arg {
    ftpd_quota q;
    uint64_t kept;
    pthread_barrier_t *go;
};

static void *writer_thread(void *p)
{
    struct writer_arg *w = p;
    pthread_barrier_wait(w->go);    /* both start together */
    w->kept = write_until_full(&w->q);
    return NULL;
}

Test(quota, two_threads_of_one_user_never_pass_the_limit_together)
{
    struct writer_arg w[2];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(ftpd_quota_attach(table, "alice", 100000, home, &w[i].q), 0);
        w[i].go = &go;
    }
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, writer_thread, &w[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    uint64_t used;
    cr_assert_eq(ftpd_quota_get(&w[0].q, &used, NULL), 0);
    cr_expect_eq(w[0].kept + w[1].kept, 100000 - 600,
                 "kept %llu + %llu", (unsigned long long)w[0].kept, (unsigned long long)w[1].kept);
    cr_expect_eq(used, 100000);
    /* Whatever the interleaving, the total is exact (not asserting that
     * both got a share: the scheduler may let one finish first). */
    for (int i = 0; i < 2; i++)
        ftpd_quota_detach(&w[i].q);
    pthread_barrier_destroy(&go);
}

Test(quota, two_processes_of_one_user_never_pass_the_limit_together)
{
    /* The parent holds a session first, so the usage is not forgotten when
     * one child detaches before the other attaches. */
    ftpd_quota mine;
    cr_assert_eq(ftpd_quota_attach(table, "alice", 100000, home, &mine), 0);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        cr_assert(kids[k] >= 0);
        if (kids[k] == 0) {
            /* A forked session: attaches to the table inherited from the
             * parent, as a forking server's child does. */
            ftpd_quota q;
            if (ftpd_quota_attach(table, "alice", 100000, home, &q) != 0)
                _exit(1);
            uint64_t kept = write_until_full(&q);
            ssize_t w = write(fds[1], &kept, sizeof kept);
            ftpd_quota_detach(&q);
            _exit(w == (ssize_t)sizeof kept ? 0 : 1);
        }
    }
    uint64_t total = 0;
    for (int k = 0; k < 2; k++) {
        int st;
        cr_assert_eq(waitpid(kids[k], &st, 0), kids[k]);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        uint64_t kept;
        cr_assert_eq(read(fds[0], &kept, sizeof kept), (ssize_t)sizeof kept);
        total += kept;
    }
    close(fds[0]);
    close(fds[1]);
    uint64_t used;
    cr_assert_eq(ftpd_quota_get(&mine, &used, NULL), 0);
    cr_expect_eq(used, 100000, "the children's bytes are in the shared table");
    cr_expect_eq(total, 100000 - 600);
    ftpd_quota_detach(&mine);
}

Test(quota, a_session_killed_mid_update_does_not_wedge_the_others)
{
    ftpd_quota mine;
    cr_assert_eq(ftpd_quota_attach(table, "alice", FTPD_QUOTA_NO_LIMIT, home, &mine), 0);
    /* Children hammer the lock and are killed at an arbitrary moment, often
     * while holding it; the robust mutex must hand it on to the parent. */
    for (int round = 0; round < 20; round++) {
        int ready[2];
        cr_assert_eq(pipe(ready), 0);
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            ftpd_quota q;
            if (ftpd_quota_attach(table, "alice", FTPD_QUOTA_NO_LIMIT, home, &q) != 0)
                _exit(1);
            (void)!write(ready[1], "x", 1);
            for (;;) {
                uint64_t got;
                ftpd_quota_reserve(&q, 1, &got);
                ftpd_quota_release(&q, got);
            }
        }
        char c;
        cr_assert_eq(read(ready[0], &c, 1), 1);
        close(ready[0]);
        close(ready[1]);
        cr_assert_eq(kill(pid, SIGKILL), 0);
        int st;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        uint64_t got;
        cr_assert_eq(ftpd_quota_reserve(&mine, 10, &got), 0, "round %d", round);
        cr_assert_eq(got, 10);
        ftpd_quota_release(&mine, 10);
    }
    uint64_t used;
    cr_assert_eq(ftpd_quota_get(&mine, &used, NULL), 0);
    /* A killed child may have died between its reserve and its release. */
    cr_expect_geq(used, 600);
    cr_expect_leq(used, 620);
    ftpd_quota_detach(&mine);
}
