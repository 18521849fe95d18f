/* tests/ftpd-pg/test_pgstore.c - the PostgreSQL store through store.h:
 * the contract every backend keeps (tests/ftpd-units/store_contract.c),
 * then what only a shared database can show: many nodes reserving at once,
 * a dead node's rows released after the heartbeat timeout, and an outage
 * survived without reopening the store.  Each test has its own throw-away
 * PostgreSQL (tests/support/pgtmp). */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pgtmp.h"
#include "store/passwd.h"
#include "store/pgpool.h"
#include "store/pgschema.h"
#include "store_contract.h"
#include "units.h"

static ts_pg pg;

/* A fresh cluster with the schema, for this test's process. */
static int pg_configure(const char *dir, ftpd_config *c)
{
    (void)dir;
    int rc = ts_pg_start(&pg);
    cr_assert_eq(rc, 0, "pgtmp: %d %s %s", rc, pg.proc.out, pg.proc.err);
    ftpd_pgpool p;
    char err[512];
    cr_assert_eq(ftpd_pgpool_init(&p, pg.url, 1, 20.0), 0);
    cr_assert_eq(ftpd_pgschema_migrate(&p, NULL, err, sizeof err), 0, "%s", err);
    ftpd_pgpool_close(&p);
    snprintf(c->database_url, sizeof c->database_url, "%s", pg.url);
    c->database_timeout = 5;
    c->node_timeout = 2;
    return 0;
}

static void pg_cleanup(const char *dir)
{
    (void)dir;
    ts_pg_stop(&pg);
}

TestSuite(pgstore, .timeout = 300);

static const store_backend pg_backend = {"pg", pg_configure, pg_cleanup};
STORE_CONTRACT_TESTS(pgstore, pg_backend)

/* --- what only a shared database shows ---------------------------------- */

static ftpd_config *config(const char *node)
{
    static ftpd_config c;
    ftpd_config_defaults(&c);
    snprintf(c.database_url, sizeof c.database_url, "%s", pg.url);
    snprintf(c.node_id, sizeof c.node_id, "%s", node);
    c.database_timeout = 5;
    c.node_timeout = 2;
    c.max_sessions_per_user = 1;
    return &c;
}

static ftpd_store *open_node(const char *node)
{
    ftpd_store *st;
    char err[FTPD_STORE_ERR_MAX];
    int rc = ftpd_store_open(config(node), &st, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_str_eq(st->ops->name, "pg");
    return st;
}

static void setup_db(void)
{
    char dir[64];
    ftpd_config c;
    ftpd_config_defaults(&c);
    pg_configure(dir, &c);
}

static ftpd_user add_user(ftpd_store *st, const char *name, uint64_t quota)
{
    ftpd_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "%s", name);
    snprintf(u.home, sizeof u.home, "/srv/ftp/%s", name);
    u.quota = quota;
    setenv("SOCKSERV_FTPD_TEST_FAST_KDF", "1", 1);
    cr_assert_eq(ftpd_passwd_hash("pw", 2, u.hash, sizeof u.hash), 0);
    char err[FTPD_STORE_ERR_MAX];
    cr_assert_eq(ftpd_store_user_add(st, &u, err, sizeof err), 0, "%s", err);
    return u;
}

static void poll_pause(void)
{
    struct timespec ts = {0, 100 * 1000 * 1000}; /* a poll interval */
    nanosleep(&ts, NULL);
}

Test(pgstore, nodes_reserving_at_once_never_pass_the_quota)
{
    setup_db();
    ftpd_store *st = open_node("main");
    enum { QUOTA = 3 * 1024 * 1024 + 12345, NODES = 6 };
    ftpd_user u = add_user(st, "ada", QUOTA);
    int fds[NODES];
    pid_t kids[NODES];
    for (int i = 0; i < NODES; i++) {
        int pfd[2];
        cr_assert_eq(pipe(pfd), 0);
        kids[i] = fork();
        if (kids[i] == 0) { /* one node each, two sessions each */
            close(pfd[0]);
            char node[16];
            snprintf(node, sizeof node, "n%d", i);
            ftpd_store *ns;
            char err[FTPD_STORE_ERR_MAX];
            if (ftpd_store_open(config(node), &ns, err, sizeof err) < 0)
                _exit(2);
            ftpd_store_quota q[2];
            unsigned long long sum = 0;
            ftpd_store_quota_attach(ns, &u, &q[0]);
            ftpd_store_quota_attach(ns, &u, &q[1]);
            for (int k = 0, live = 3; live; k++) {
                int s = k % 2;
                if (!(live & (1 << s)))
                    continue;
                uint64_t got;
                if (ftpd_store_quota_reserve(&q[s], 65536, &got) < 0) {
                    live &= ~(1 << s);
                    continue;
                }
                ftpd_store_quota_settle(&q[s], got, got);
                sum += got;
            }
            ftpd_store_quota_detach(&q[0]);
            ftpd_store_quota_detach(&q[1]);
            ftpd_store_close(ns);
            if (write(pfd[1], &sum, sizeof sum) != sizeof sum)
                _exit(3);
            _exit(0);
        }
        close(pfd[1]);
        fds[i] = pfd[0];
    }
    unsigned long long total = 0;
    for (int i = 0; i < NODES; i++) {
        unsigned long long sum = 0;
        int st_;
        cr_assert_eq(read(fds[i], &sum, sizeof sum), (ssize_t)sizeof sum);
        close(fds[i]);
        cr_assert_eq(waitpid(kids[i], &st_, 0), kids[i]);
        cr_assert(WIFEXITED(st_) && WEXITSTATUS(st_) == 0);
        total += sum;
    }
    cr_expect_eq(total, QUOTA, "all the nodes together: exactly the quota");
    uint64_t used;
    cr_assert_eq(ftpd_store_user_usage(st, &u, &used), 0);
    cr_expect_eq(used, QUOTA, "settled, no reservation left");
    char out[256];
    cr_assert_eq(ts_pg_sql(&pg, "SELECT count(*) FROM ftpd_reservations", out,
                           sizeof out), 0);
    cr_expect_str_eq(out, "0\n");
    ftpd_store_close(st);
    ts_pg_stop(&pg);
}

Test(pgstore, a_dead_nodes_sessions_and_reservations_are_released)
{
    setup_db();
    ftpd_store *st = open_node("alive");
    ftpd_user u = add_user(st, "bob", 10 * 1024 * 1024);
    cr_assert_eq(ftpd_store_tick(st), 0);
    pid_t kid = fork();
    if (kid == 0) { /* a node that logs bob in, reserves, and dies */
        ftpd_store *ds = open_node("doomed");
        ftpd_store_slot slot = {0};
        ftpd_store_quota q;
        uint64_t got = 0;
        int ok = ftpd_store_tick(ds) == 0 &&
                 ftpd_store_slot_acquire(ds, "bob", &slot) == 0 &&
                 ftpd_store_quota_attach(ds, &u, &q) == 0 &&
                 ftpd_store_quota_reserve(&q, 1000, &got) == 0;
        _exit(ok ? 0 : 1); /* no detach, no close: as if killed */
    }
    int status;
    cr_assert_eq(waitpid(kid, &status, 0), kid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    ftpd_store_slot slot = {0};
    cr_expect_eq(ftpd_store_slot_acquire(st, "bob", &slot), -EUSERS,
                 "the dead node's session still counts");
    uint64_t used;
    cr_assert_eq(ftpd_store_user_usage(st, &u, &used), 0);
    cr_expect_gt(used, 0, "and its reservation");
    /* node_timeout is 2 s: the live node's heartbeat releases them. */
    double t0 = ts_now();
    int rc;
    while ((rc = ftpd_store_slot_acquire(st, "bob", &slot)) == -EUSERS &&
           ts_now() - t0 < 60) {
        ftpd_store_tick(st);
        poll_pause();
    }
    cr_assert_eq(rc, 0, "released after the timeout");
    cr_expect_geq(ts_now() - t0, 1.0, "not before the timeout");
    cr_assert_eq(ftpd_store_user_usage(st, &u, &used), 0);
    cr_expect_eq(used, 0, "the reservation went with it");
    char out[256];
    cr_assert_eq(ts_pg_sql(&pg, "SELECT id FROM ftpd_nodes ORDER BY id", out,
                           sizeof out), 0);
    cr_expect_str_eq(out, "alive\n");
    ftpd_store_slot_release(st, &slot);
    ftpd_store_close(st);
    ts_pg_stop(&pg);
}

Test(pgstore, an_outage_is_unavailable_then_recovers_without_reopening)
{
    setup_db();
    ftpd_store *st = open_node("n1");
    ftpd_user u = add_user(st, "cy", 10 * 1024 * 1024), got_u;
    cr_assert_eq(ftpd_store_user_lookup(st, "cy", &got_u), 0);
    ftpd_store_quota q;
    cr_assert_eq(ftpd_store_quota_attach(st, &u, &q), 0);
    uint64_t got;
    cr_assert_eq(ftpd_store_quota_reserve(&q, 1000, &got), 0);
    ftpd_store_quota_settle(&q, got, got);

    cr_assert_eq(ts_pg_down(&pg), 0);
    double t0 = ts_now();
    int rc = ftpd_store_user_lookup(st, "cy", &got_u);
    cr_expect(ftpd_store_unavailable(rc), "lookup: %d", rc);
    char why[FTPD_STORE_ERR_MAX];
    ftpd_store_last_error(st, why, sizeof why);
    cr_expect(why[0], "the log can say why");
    ss_addr a = {0};
    struct sockaddr_in *sin = (struct sockaddr_in *)&a.sa;
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.9", &sin->sin_addr);
    a.len = sizeof *sin;
    unsigned count;
    cr_expect(ftpd_store_unavailable(ftpd_store_guard_fail(st, &a, "cy", &count)));
    ftpd_store_slot slot = {0};
    cr_expect(ftpd_store_unavailable(ftpd_store_slot_acquire(st, "cy", &slot)));
    cr_expect_lt(ts_now() - t0, 30.0, "every answer within the timeouts");
    /* A session that holds a block goes on writing from it. */
    cr_expect_eq(ftpd_store_quota_reserve(&q, 1000, &got), 0);
    cr_expect_eq(got, 1000);
    ftpd_store_quota_settle(&q, got, got);
    ftpd_store_quota_give_back(&q, 500);

    cr_assert_eq(ts_pg_up(&pg), 0);
    t0 = ts_now();
    while (ftpd_store_unavailable(rc = ftpd_store_user_lookup(st, "cy", &got_u)) &&
           ts_now() - t0 < 30)
        poll_pause();
    cr_assert_eq(rc, 0, "the same store works again");
    ftpd_store_last_error(st, why, sizeof why);
    cr_expect_str_eq(why, "");
    uint64_t used, limit;
    cr_assert_eq(ftpd_store_quota_get(&q, &used, &limit), 0);
    cr_expect_eq(used, 1500, "what happened meanwhile was counted");
    ftpd_store_quota_detach(&q);
    ftpd_store_close(st);
    ts_pg_stop(&pg);
}

Test(pgstore, accounts_keep_the_users_file_conventions)
{
    setup_db();
    ftpd_store *st = open_node("n1");
    char err[FTPD_STORE_ERR_MAX];
    ftpd_user u = {.name = "dee", .hash = "$scrypt$x", .home = "/srv/dee",
                   .quota = FTPD_QUOTA_UNLIMITED,
                   .rate_up = FTPD_QUOTA_UNLIMITED, .rate_down = 4096};
    cr_assert_eq(ftpd_store_user_add(st, &u, err, sizeof err), 0, "%s", err);
    ftpd_user back;
    cr_assert_eq(ftpd_store_user_lookup(st, "dee", &back), 0);
    cr_expect_eq(back.quota, FTPD_QUOTA_UNLIMITED);
    cr_expect_eq(back.rate_up, FTPD_QUOTA_UNLIMITED);
    cr_expect_eq(back.rate_down, 4096);
    cr_expect_str_eq(back.hash, "$scrypt$x");
    cr_expect_eq(ftpd_store_user_add(st, &u, err, sizeof err), -EEXIST);
    ftpd_user rel = u;
    snprintf(rel.name, sizeof rel.name, "rel");
    snprintf(rel.home, sizeof rel.home, "srv/rel");
    cr_expect_eq(ftpd_store_user_add(st, &rel, err, sizeof err), -EINVAL,
                 "a relative home means something else on each node");
    ftpd_store_quota q;
    cr_assert_eq(ftpd_store_quota_attach(st, &back, &q), 0);
    uint64_t got;
    cr_expect_eq(ftpd_store_quota_reserve(&q, 10u << 20, &got), 0);
    cr_expect_eq(got, 10u << 20, "unlimited grants all");
    ftpd_store_quota_settle(&q, got, got);
    ftpd_store_quota_detach(&q);
    ftpd_store_close(st);
    ts_pg_stop(&pg);
}

Test(pgstore, a_node_restarted_under_its_id_releases_what_it_held_before)
{
    setup_db();
    ftpd_store *st = open_node("keeper");
    ftpd_user u = add_user(st, "eve", 10 * 1024 * 1024);
    pid_t kid = fork();
    if (kid == 0) { /* the node's previous life, killed mid-session */
        ftpd_store *old = open_node("same");
        ftpd_store_slot slot = {0};
        ftpd_store_quota q;
        uint64_t got = 0;
        int ok = ftpd_store_tick(old) == 0 &&
                 ftpd_store_slot_acquire(old, "eve", &slot) == 0 &&
                 ftpd_store_quota_attach(old, &u, &q) == 0 &&
                 ftpd_store_quota_reserve(&q, 1000, &got) == 0;
        _exit(ok ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(kid, &status, 0), kid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ftpd_store *again = open_node("same");
    cr_assert_eq(ftpd_store_tick(again), 0);
    ftpd_store_slot slot = {0};
    cr_expect_eq(ftpd_store_slot_acquire(again, "eve", &slot), 0,
                 "released at the first heartbeat, not after the timeout");
    uint64_t used;
    cr_assert_eq(ftpd_store_user_usage(again, &u, &used), 0);
    cr_expect_eq(used, 0);
    ftpd_store_slot_release(again, &slot);
    ftpd_store_close(again);
    ftpd_store_close(st);
    ts_pg_stop(&pg);
}
