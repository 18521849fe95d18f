/* tests/ftpd-pg/test_pgpool.c - the connection pool and the schema against
 * a throw-away PostgreSQL: bounded size, deadlines on every query, fast
 * failure while the database is down and recovery when it returns, fork,
 * and `db init`'s migration being idempotent. */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pgtmp.h"
#include "store/pgpool.h"
#include "store/pgschema.h"

static ts_pg pg;

static void up(void)
{
    int rc = ts_pg_start(&pg);
    cr_assert_eq(rc, 0, "pgtmp: %d %s %s", rc, pg.proc.out, pg.proc.err);
}

static void down(void) { ts_pg_stop(&pg); }

TestSuite(pgpool, .init = up, .fini = down, .timeout = 240);

static long one_value(ftpd_pgpool *p, const char *sql)
{
    PGresult *r;
    char err[512];
    int rc = ftpd_pgpool_exec(p, sql, 0, NULL, &r, err, sizeof err);
    cr_assert_eq(rc, 0, "%s: %s", sql, err);
    long v = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

Test(pgpool, runs_queries_with_parameters_and_reuses_connections)
{
    ftpd_pgpool p;
    cr_assert_eq(ftpd_pgpool_init(&p, pg.url, 4, 5.0), 0);
    const char *params[] = {"40", "2"};
    char err[512];
    for (int i = 0; i < 20; i++) {
        PGresult *r;
        int rc = ftpd_pgpool_exec(&p, "SELECT $1::int + $2::int", 2, params,
                                  &r, err, sizeof err);
        cr_assert_eq(rc, 0, "%s", err);
        cr_assert_str_eq(PQgetvalue(r, 0, 0), "42");
        PQclear(r);
    }
    cr_assert_eq(p.open, 1, "one at a time needs one connection");
    /* A statement the server refuses is -EIO with its message, and the
     * connection stays usable. */
    int rc = ftpd_pgpool_exec(&p, "SELECT * FROM no_such_table", 0, NULL, NULL,
                              err, sizeof err);
    cr_assert_eq(rc, -EIO);
    cr_assert(strstr(err, "no_such_table"), "%s", err);
    cr_assert_eq(one_value(&p, "SELECT 7"), 7);
    cr_assert_eq(p.open, 1);
    ftpd_pgpool_close(&p);
}

Test(pgpool, never_opens_more_than_its_size_and_waits_for_a_free_one)
{
    ftpd_pgpool p;
    cr_assert_eq(ftpd_pgpool_init(&p, pg.url, 2, 1.0), 0);
    char err[512];
    int rc;
    PGconn *a = ftpd_pgpool_get(&p, &rc, err, sizeof err);
    PGconn *b = ftpd_pgpool_get(&p, &rc, err, sizeof err);
    cr_assert(a && b, "%s", err);
    double t0 = ts_now();
    PGconn *c = ftpd_pgpool_get(&p, &rc, err, sizeof err);
    cr_assert_null(c);
    cr_assert_eq(rc, -ETIMEDOUT);
    cr_assert(ts_now() - t0 >= 0.9 && ts_now() - t0 < 30);
    ftpd_pgpool_put(&p, a, false);
    c = ftpd_pgpool_get(&p, &rc, err, sizeof err);
    cr_assert_eq(c, a, "the one given back is lent again");
    ftpd_pgpool_put(&p, b, false);
    ftpd_pgpool_put(&p, c, false);
    cr_assert_eq(p.open, 2);
    ftpd_pgpool_close(&p);
}

Test(pgpool, a_long_statement_ends_at_the_timeout)
{
    ftpd_pgpool p;
    cr_assert_eq(ftpd_pgpool_init(&p, pg.url, 1, 1.0), 0);
    char err[512];
    double t0 = ts_now();
    int rc = ftpd_pgpool_exec(&p, "SELECT pg_sleep(60)", 0, NULL, NULL, err,
                              sizeof err);
    cr_assert_eq(rc, -ETIMEDOUT, "%d %s", rc, err);
    cr_assert_lt(ts_now() - t0, 30.0);
    cr_assert_eq(one_value(&p, "SELECT 1"), 1, "the pool goes on");
    ftpd_pgpool_close(&p);
}

Test(pgpool, database_down_fails_fast_and_recovers_by_itself)
{
    ftpd_pgpool p;
    cr_assert_eq(ftpd_pgpool_init(&p, pg.url, 2, 2.0), 0);
    cr_assert_eq(one_value(&p, "SELECT 1"), 1);
    cr_assert_eq(p.nidle, 1, "an idle connection to the old server");
    cr_assert_eq(ts_pg_down(&pg), 0);

    char err[512];
    int rc = ftpd_pgpool_exec(&p, "SELECT 1", 0, NULL, NULL, err, sizeof err);
    cr_assert_eq(rc, -ENOTCONN, "%d %s", rc, err);
    cr_assert(*err, "a message says why");
    /* While it is down every caller gets the answer at once. */
    double t0 = ts_now();
    for (int i = 0; i < 50; i++)
        cr_assert_eq(ftpd_pgpool_exec(&p, "SELECT 1", 0, NULL, NULL, err,
                                      sizeof err),
                     -ENOTCONN);
    cr_assert_lt(ts_now() - t0, 20.0);

    cr_assert_eq(ts_pg_up(&pg), 0);
    /* Within a few retry periods the same pool works again. */
    double deadline = ts_now() + 30;
    while ((rc = ftpd_pgpool_exec(&p, "SELECT 1", 0, NULL, NULL, err,
                                  sizeof err)) != 0 &&
           ts_now() < deadline) {
        struct timespec ts = {0, 100 * 1000 * 1000}; /* poll, not sync */
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(rc, 0, "%s", err);
    ftpd_pgpool_close(&p);
}

Test(pgpool, a_restart_between_queries_costs_no_failed_query)
{
    ftpd_pgpool p;
    cr_assert_eq(ftpd_pgpool_init(&p, pg.url, 2, 2.0), 0);
    cr_assert_eq(one_value(&p, "SELECT 1"), 1);
    cr_assert_eq(ts_pg_down(&pg), 0);
    cr_assert_eq(ts_pg_up(&pg), 0);
    /* The idle connection died with the old server: it is noticed before
     * use and replaced. */
    cr_assert_eq(one_value(&p, "SELECT 2"), 2);
    ftpd_pgpool_close(&p);
}

Test(pgpool, a_forked_child_opens_its_own_connections)
{
    ftpd_pgpool p;
    cr_assert_eq(ftpd_pgpool_init(&p, pg.url, 2, 5.0), 0);
    long parent_pid = one_value(&p, "SELECT pg_backend_pid()");
    pid_t child = fork();
    if (child == 0) {
        PGresult *r;
        char err[512];
        int rc = ftpd_pgpool_exec(&p, "SELECT pg_backend_pid()", 0, NULL, &r,
                                  err, sizeof err);
        int ok = rc == 0 && atol(PQgetvalue(r, 0, 0)) != parent_pid;
        if (rc == 0)
            PQclear(r);
        ftpd_pgpool_close(&p);
        _exit(ok ? 0 : 1);
    }
    int st;
    cr_assert_eq(waitpid(child, &st, 0), child);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* The parent's connection was not disturbed by the child. */
    cr_assert_eq(one_value(&p, "SELECT pg_backend_pid()"), parent_pid);
    ftpd_pgpool_close(&p);
}

Test(pgpool, schema_migration_is_idempotent_and_reports_versions)
{
    ftpd_pgpool p;
    cr_assert_eq(ftpd_pgpool_init(&p, pg.url, 2, 10.0), 0);
    char err[512];
    cr_assert_eq(ftpd_pgschema_check(&p, err, sizeof err), -ENOENT);
    cr_assert(strstr(err, "db init"), "%s", err);
    int from = -1;
    cr_assert_eq(ftpd_pgschema_migrate(&p, &from, err, sizeof err), 0, "%s", err);
    cr_assert_eq(from, 0);
    cr_assert_gt(ftpd_pgschema_latest(), 0);
    cr_assert_eq(ftpd_pgschema_check(&p, err, sizeof err), 0, "%s", err);
    cr_assert_eq(ftpd_pgschema_migrate(&p, &from, err, sizeof err), 0, "%s", err);
    cr_assert_eq(from, ftpd_pgschema_latest());
    cr_assert_eq(one_value(&p, "SELECT count(*) FROM ftpd_schema_version"), 1);
    /* A database a newer program migrated is refused, not damaged. */
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE ftpd_schema_version SET version = %d",
             ftpd_pgschema_latest() + 1);
    cr_assert_eq(ftpd_pgpool_exec(&p, sql, 0, NULL, NULL, err, sizeof err), 0);
    cr_assert_eq(ftpd_pgschema_check(&p, err, sizeof err), -EPROTO);
    cr_assert_eq(ftpd_pgschema_migrate(&p, NULL, err, sizeof err), -EPROTO);
    cr_assert(strstr(err, "newer"), "%s", err);
    ftpd_pgpool_close(&p);
}

Test(pgpool, concurrent_migrations_apply_each_step_once)
{
    pid_t kids[4];
    for (int i = 0; i < 4; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            ftpd_pgpool p;
            char err[512];
            ftpd_pgpool_init(&p, pg.url, 1, 20.0);
            int rc = ftpd_pgschema_migrate(&p, NULL, err, sizeof err);
            ftpd_pgpool_close(&p);
            _exit(rc == 0 ? 0 : 1);
        }
    }
    for (int i = 0; i < 4; i++) {
        int st;
        cr_assert_eq(waitpid(kids[i], &st, 0), kids[i]);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    ftpd_pgpool p;
    cr_assert_eq(ftpd_pgpool_init(&p, pg.url, 1, 5.0), 0);
    char err[512];
    cr_assert_eq(ftpd_pgschema_check(&p, err, sizeof err), 0, "%s", err);
    ftpd_pgpool_close(&p);
}
