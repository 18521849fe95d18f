/* tests/ftpd-pg/test_pgserver.c - sockserv-ftpd with database_url, from the
 * outside: `db init` and `user add` through the program, logins through a
 * running server (curl and a socket client), and a PostgreSQL outage seen
 * by clients: new logins get 421, a running session goes on, and logins
 * work again when the database returns, without restarting the server. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "ftx.h"
#include "pgtmp.h"

#define CURL "/usr/bin/curl"

static ts_pg pg;
static ftx_server srv;
static char url_set[600]; /* "database_url=..." */

static void up(void)
{
    ftx_init(&srv, "ftpd-pg");
    int rc = ts_pg_start(&pg);
    cr_assert_eq(rc, 0, "pgtmp: %d %s %s", rc, pg.proc.out, pg.proc.err);
    snprintf(url_set, sizeof url_set, "database_url=%s", pg.url);
}

static void down(void)
{
    ftx_stop(&srv, true);
    ts_pg_stop(&pg);
}

TestSuite(pgserver, .init = up, .fini = down, .timeout = 300);

/* Runs the program with database_url set and args; returns its exit code
 * and leaves stdout in out. */
static int ftpd_run(char *out, size_t cap, const char *in, const char *a1,
                    const char *a2, const char *a3, const char *a4,
                    const char *a5, const char *a6, const char *a7)
{
    char *argv[] = {(char *)ftx_binary(), "--set", url_set, (char *)a1,
                    (char *)a2, (char *)a3, (char *)a4, (char *)a5,
                    (char *)a6, (char *)a7, NULL};
    char err[4096];
    int st = ts_run(argv, in, in ? strlen(in) : 0, out, cap, err, sizeof err,
                    60);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        fprintf(stderr, "%s %s: %s\n", a1, a2, err);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void db_init_and_add(const char *name, const char *pw)
{
    char out[4096];
    cr_assert_eq(ftpd_run(out, sizeof out, NULL, "db", "init", NULL, NULL,
                          NULL, NULL, NULL), 0);
    char home[700], in[64];
    snprintf(home, sizeof home, "%s/home/%s", srv.data_dir, name);
    snprintf(in, sizeof in, "%s\n", pw);
    cr_assert_eq(ftpd_run(out, sizeof out, in, "user", "add", name, "--home",
                          home, "--quota", "10M"), 0);
}

static void start(void)
{
    const char *extra[] = {"--set", url_set, "--set", "database_timeout=2",
                           "--set", "node_id=t1", NULL};
    ftx_start(&srv, extra);
}

Test(pgserver, db_init_is_idempotent_and_says_the_version)
{
    char out[4096];
    cr_assert_eq(ftpd_run(out, sizeof out, NULL, "db", "init", NULL, NULL,
                          NULL, NULL, NULL), 0);
    cr_expect(strstr(out, "schema version 1 (was 0)"), "%s", out);
    cr_assert_eq(ftpd_run(out, sizeof out, NULL, "db", "init", NULL, NULL,
                          NULL, NULL, NULL), 0);
    cr_expect(strstr(out, "schema version 1 (unchanged)"), "%s", out);
    char rows[256];
    cr_assert_eq(ts_pg_sql(&pg, "SELECT version FROM ftpd_schema_version",
                           rows, sizeof rows), 0);
    cr_expect_str_eq(rows, "1\n");
}

Test(pgserver, a_user_added_through_the_cli_logs_in_on_a_running_server)
{
    char out[4096];
    cr_assert_eq(ftpd_run(out, sizeof out, NULL, "db", "init", NULL, NULL,
                          NULL, NULL, NULL), 0);
    start();
    /* Added after the server started: no restart, no reload. */
    db_init_and_add("ann", "pw-ann");
    cr_assert_eq(ftpd_run(out, sizeof out, NULL, "user", "list", NULL, NULL,
                          NULL, NULL, NULL), 0);
    cr_expect(strstr(out, "ann"), "%s", out);
    char u[256];
    snprintf(u, sizeof u, "ftp://127.0.0.1:%d/", srv.port);
    char *ls[] = {CURL, "-sS", "--max-time", "60", "-u", "ann:pw-ann", u, NULL};
    char err[2048];
    int st = ts_run(ls, NULL, 0, out, sizeof out, err, sizeof err, 90);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "curl: %s", err);
    ftc c;
    ftc_open(&c, &srv);
    cr_expect_eq(ftc_cmd(&c, "USER ann"), 331);
    cr_expect_eq(ftc_cmd(&c, "PASS wrong"), 530);
    ftc_close(&c);
    char rows[256];
    cr_assert_eq(ts_pg_sql(&pg, "SELECT count FROM ftpd_failures WHERE "
                                "kind = 'u' AND key = 'ann'",
                           rows, sizeof rows), 0);
    cr_expect_str_eq(rows, "1\n", "the failure is counted in the database");
}

Test(pgserver, database_down_new_logins_421_running_session_goes_on)
{
    db_init_and_add("bo", "pw-bo");
    ftx_make_file(ftx_home_path(&srv, "bo", "f.bin"), 300000, 3);
    start();
    ftc run;
    ftc_open(&run, &srv);
    ftc_login(&run, "bo", "pw-bo");

    cr_assert_eq(ts_pg_down(&pg), 0);
    ftc c;
    ftc_open(&c, &srv);
    cr_expect_eq(ftc_cmd(&c, "USER bo"), 331);
    cr_expect_eq(ftc_cmd(&c, "PASS pw-bo"), 421, "%s", c.reply);
    cr_expect(strcasestr(c.reply, "unavailable") ||
                  strcasestr(c.reply, "database") ||
                  strcasestr(c.reply, "try again"),
              "a clear text: %s", c.reply);
    ftc_close(&c);

    /* The logged-in session needs no database for these. */
    cr_expect_eq(ftc_cmd(&run, "PWD"), 257);
    char *data = NULL;
    size_t n = 0;
    cr_expect_eq(ftc_get(&run, "RETR f.bin", &data, &n), 226, "%s", run.reply);
    cr_expect_eq(n, 300000);
    free(data);
    cr_expect_eq(ftc_get(&run, "LIST", &data, &n), 226);
    free(data);

    cr_assert_eq(ts_pg_up(&pg), 0);
    int code = 0;
    double t0 = ts_now();
    while (ts_now() - t0 < 60) {
        ftc_open(&c, &srv);
        ftc_cmd(&c, "USER bo");
        code = ftc_cmd(&c, "PASS pw-bo");
        ftc_close(&c);
        if (code == 230)
            break;
        struct timespec ts = {0, 200 * 1000 * 1000}; /* a poll interval */
        nanosleep(&ts, NULL);
    }
    cr_expect_eq(code, 230, "logins work again without a restart");
    cr_expect_eq(ftc_cmd(&run, "QUIT"), 221);
    ftc_close(&run);
}

/* Forked sessions (each its own connections, made after the fork): the
 * quota is exact on a byte, uploads are counted in the database when the
 * session ends, and DELE gives the space back. */
Test(pgserver, forking_sessions_keep_the_quota_exact_in_the_database)
{
    char out[4096];
    cr_assert_eq(ftpd_run(out, sizeof out, NULL, "db", "init", NULL, NULL,
                          NULL, NULL, NULL), 0);
    char home[700];
    snprintf(home, sizeof home, "%s/home/cat", srv.data_dir);
    cr_assert_eq(ftpd_run(out, sizeof out, "pw-cat\n", "user", "add", "cat",
                          "--home", home, "--quota", "1000000"), 0);
    const char *extra[] = {"--set", url_set, "--forking", NULL};
    ftx_start(&srv, extra);
    enum { QUOTA = 1000000 };
    char *buf = malloc(QUOTA + 1);
    ftx_fill(buf, QUOTA + 1, 5);
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "cat", "pw-cat");
    cr_expect_eq(ftc_put(&c, "STOR a", buf, 600000), 226, "%s", c.reply);
    cr_expect_eq(ftc_put(&c, "STOR b", buf, QUOTA - 600000 + 1), 552,
                 "one byte over: %s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "DELE b"), 250);
    cr_expect_eq(ftc_put(&c, "STOR b", buf, QUOTA - 600000), 226,
                 "the exact rest fits: %s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "QUIT"), 221);
    ftc_close(&c);
    free(buf);
    /* The session process reported before it ended. */
    char rows[256] = "";
    double t0 = ts_now();
    while (ts_now() - t0 < 30) {
        cr_assert_eq(ts_pg_sql(&pg, "SELECT used FROM ftpd_usage WHERE "
                                    "name = 'cat'",
                               rows, sizeof rows), 0);
        if (!strcmp(rows, "1000000\n"))
            break;
        struct timespec ts = {0, 200 * 1000 * 1000}; /* a poll interval */
        nanosleep(&ts, NULL);
    }
    cr_expect_str_eq(rows, "1000000\n");
    cr_assert_eq(ts_pg_sql(&pg, "SELECT count(*) FROM ftpd_reservations",
                           rows, sizeof rows), 0);
    cr_expect_str_eq(rows, "0\n", "nothing left reserved");
}
