/* tests/ftpd-units/test_ratelimit.c - the shared per-user buckets: what a
 * charge costs, sharing between sessions and processes, slots given back.
 * Nothing here sleeps: the tests look at the times the buckets hand out. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/ratelimit.h"

static ftpd_rate_table *t;

static void setup(void)
{
    cr_assert_eq(ftpd_rate_table_create(&t, 4), 0);
}

static void teardown(void)
{
    ftpd_rate_table_destroy(t);
}

TestSuite(ratelimit, .init = setup, .fini = teardown, .timeout = 60);

#define MS 1000000LL

Test(ratelimit, unlimited_session_does_not_attach)
{
    ftpd_rate r;
    cr_assert_eq(ftpd_rate_attach(t, "alice", 0, 0, &r), 0);
    cr_expect_eq(r.slot, -1);
    cr_expect_eq(ftpd_rate_limit(&r, FTPD_RATE_UP), 0);
    cr_expect_eq(ftpd_rate_limit(&r, FTPD_RATE_DOWN), 0);
    ftpd_rate_detach(&r);
    cr_expect_eq(ftpd_rate_attach(t, "", 1, 1, &r), -EINVAL);
}

Test(ratelimit, a_charge_costs_its_bytes_at_the_rate)
{
    ftpd_rate r;
    cr_assert_eq(ftpd_rate_attach(t, "alice", 0, 1000000, &r), 0);
    cr_expect_eq(ftpd_rate_limit(&r, FTPD_RATE_DOWN), 1000000);
    cr_expect_eq(ftpd_rate_limit(&r, FTPD_RATE_UP), 0);
    int64_t t0 = ftpd_rate_now();
    /* 10 charges of 100 kB at 1 MB/s: paid for one second from now. */
    int64_t due = 0;
    for (int i = 0; i < 10; i++)
        due = ftpd_rate_charge(&r, FTPD_RATE_DOWN, 100000);
    int64_t t1 = ftpd_rate_now();
    cr_expect(due >= t0 + 1000 * MS && due <= t1 + 1000 * MS,
              "due %lld ms after the start", (long long)((due - t0) / MS));
    cr_expect_eq(ftpd_rate_chunk(&r, FTPD_RATE_DOWN, 65536), 62500);
    cr_expect_eq(ftpd_rate_chunk(&r, FTPD_RATE_DOWN, 8192), 8192);
    ftpd_rate_detach(&r);
}

Test(ratelimit, two_sessions_of_a_user_share_the_bucket_and_others_do_not)
{
    ftpd_rate a1, a2, b;
    cr_assert_eq(ftpd_rate_attach(t, "alice", 0, 1000000, &a1), 0);
    cr_assert_eq(ftpd_rate_attach(t, "alice", 0, 1000000, &a2), 0);
    cr_assert_eq(ftpd_rate_attach(t, "bob", 0, 1000000, &b), 0);
    cr_expect_eq(a1.slot, a2.slot);
    cr_expect_neq(a1.slot, b.slot);
    int64_t t0 = ftpd_rate_now();
    ftpd_rate_charge(&a1, FTPD_RATE_DOWN, 500000);
    int64_t due = ftpd_rate_charge(&a2, FTPD_RATE_DOWN, 500000);
    cr_expect(due >= t0 + 1000 * MS, "alice's two halves make a second");
    int64_t bdue = ftpd_rate_charge(&b, FTPD_RATE_DOWN, 500000);
    cr_expect(bdue < t0 + 900 * MS, "bob pays only for his own half");
    /* The upload bucket is another one. */
    ftpd_rate_detach(&a1);
    ftpd_rate_detach(&a2);
    ftpd_rate_detach(&b);
}

Test(ratelimit, a_forked_session_charges_the_same_bucket)
{
    ftpd_rate r;
    cr_assert_eq(ftpd_rate_attach(t, "alice", 1000000, 0, &r), 0);
    int64_t t0 = ftpd_rate_now();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        ftpd_rate c;
        int rc = ftpd_rate_attach(t, "alice", 1000000, 0, &c);
        for (int i = 0; i < 5 && rc == 0; i++)
            ftpd_rate_charge(&c, FTPD_RATE_UP, 100000);
        ftpd_rate_detach(&c);
        _exit(rc == 0 ? 0 : 1);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    int64_t due = ftpd_rate_charge(&r, FTPD_RATE_UP, 500000);
    cr_expect(due >= t0 + 1000 * MS, "the child's half second counts: due %lld ms",
              (long long)((due - t0) / MS));
    ftpd_rate_detach(&r);
}

Test(ratelimit, an_idle_bucket_saves_nothing_up)
{
    ftpd_rate r;
    cr_assert_eq(ftpd_rate_attach(t, "alice", 0, 1000, &r), 0);
    /* A bucket paid up long ago starts from now, not from then. */
    int64_t now = ftpd_rate_now();
    int64_t due = ftpd_rate_charge(&r, FTPD_RATE_DOWN, 1000);
    cr_expect(due >= now + 1000 * MS);
    ftpd_rate_detach(&r);
}

Test(ratelimit, slots_come_back_when_the_last_session_detaches)
{
    ftpd_rate r[4], extra;
    const char *names[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ftpd_rate_attach(t, names[i], 1, 1, &r[i]), 0);
    cr_expect_eq(ftpd_rate_attach(t, "e", 1, 1, &extra), -ENOSPC);
    ftpd_rate_detach(&r[2]);
    cr_expect_eq(ftpd_rate_attach(t, "e", 1, 1, &extra), 0);
    ftpd_rate_detach(&extra);
    ftpd_rate_detach(&extra); /* idempotent */
    for (int i = 0; i < 4; i++)
        ftpd_rate_detach(&r[i]);
}
