/* tests/faults/test_usersfile.c - the users file goes bad under a running
 * server: made unreadable, truncated in the middle of a line, truncated to
 * nothing, overwritten with garbage.  Each time: a log line names the file
 * and what is wrong, sessions already logged in go on, new logins get 421
 * (not 530: a password is not wrong because the file is) until the file is
 * good again (found on its own or after SIGHUP), and `user add` refuses to
 * rewrite the file from what it could not read.
 *
 * The server runs as root here, and root reads a file of mode 000; it is
 * started through setpriv without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH, so
 * that "unreadable" means for it what it means for a server running as an
 * unprivileged user. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faults.h"

#define SETPRIV "/usr/bin/setpriv"

static ftx_server srv;
static char users_path[700];
static char *good;
static size_t good_len;
static size_t mark;

/* Without the two capabilities that let root read any file. */
static const char *const no_dac[] = {SETPRIV, "--bounding-set",
                                     "-dac_override,-dac_read_search", NULL};

static bool have_setpriv(void) { return access(SETPRIV, X_OK) == 0; }

static void setup(const char *mode)
{
    ftx_init(&srv, "faults-users");
    ftx_add_user(&srv, "alice", "pw", "10M");
    ftx_add_user(&srv, "bob", "pw", "10M");
    snprintf(users_path, sizeof users_path, "%s/users", srv.data_dir);
    good = ftx_read_file(users_path, &good_len);
    const char *extra[] = {"--set", mode, NULL};
    ftx_start_wrapped(&srv, have_setpriv() ? no_dac : NULL, extra);
    mark = fl_log_mark(&srv);
}

static void start_threading(void) { setup("concurrency=threading"); }
static void start_forking(void) { setup("concurrency=forking"); }

static void teardown(void)
{
    chmod(users_path, 0600);
    ftx_stop(&srv, true);
    free(good);
    good = NULL;
}

TestSuite(usersfile, .fini = teardown, .timeout = 120);

/* Rewrites the file in place, as an editor that is not careful does. */
static void write_in_place(const void *data, size_t n)
{
    FILE *f = fopen(users_path, "r+");
    cr_assert(f, "open %s", users_path);
    cr_assert_eq(ftruncate(fileno(f), 0), 0);
    if (n)
        cr_assert_eq(fwrite(data, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

static void expect_login_ok(const char *user)
{
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, user, "pw");
    cr_expect_eq(ftc_cmd(&c, "QUIT"), 221);
    ftc_close(&c);
}

/* A login while the file is bad: 421 after PASS, and the connection
 * closes.  The log says why, naming the file and what (needle). */
static void expect_login_refused(const char *user, const char *needle)
{
    ftc c;
    ftc_open(&c, &srv);
    cr_assert_eq(ftc_cmd(&c, "USER %s", user), 331, "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "PASS pw"), 421, "login with a bad users file: %s",
                 c.reply);
    cr_expect_eq(ftc_reply(&c), -1, "the connection closes after 421");
    ftc_close(&c);
    cr_expect(fl_wait_log(&srv, &mark, 20, "login refused", "users file",
                          users_path, needle, NULL),
              "no log line naming %s and '%s':\n%s", users_path, needle,
              srv.proc.err);
}

/* The session logged in before the file went bad goes on. */
static void session_goes_on(ftc *a, unsigned round)
{
    char name[32], body[64];
    snprintf(name, sizeof name, "f%u.txt", round);
    int n = snprintf(body, sizeof body, "round %u\n", round);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "STOR %s", name);
    cr_expect_eq(ftc_put(a, cmd, body, (size_t)n), 226, "%s", a->reply);
    char *got;
    size_t len;
    snprintf(cmd, sizeof cmd, "RETR %s", name);
    cr_expect_eq(ftc_get(a, cmd, &got, &len), 226, "%s", a->reply);
    cr_expect(len == (size_t)n && !memcmp(got, body, len));
    free(got);
    cr_expect_eq(ftc_get(a, "LIST", &got, &len), 226, "%s", a->reply);
    free(got);
}

/* `user add` on the bad file: refused with a message naming the file, and
 * the file keeps exactly the bytes (and mode) it had. */
static void user_add_refused(bool unreadable)
{
    size_t n0 = 0;
    char *was = NULL;
    struct stat st0, st1;
    cr_assert_eq(stat(users_path, &st0), 0);
    if (!unreadable)
        was = ftx_read_file(users_path, &n0);
    char home[700];
    snprintf(home, sizeof home, "%s/home/carol", srv.data_dir);
    const char *argv[16];
    size_t k = 0;
    if (unreadable)
        for (size_t i = 0; no_dac[i]; i++)
            argv[k++] = no_dac[i];
    const char *rest[] = {ftx_binary(), "--data-dir", srv.data_dir, "user", "add",
                          "carol", "--home", home, "--quota", "1M", NULL};
    for (size_t i = 0; rest[i]; i++)
        argv[k++] = rest[i];
    argv[k] = NULL;
    char out[4096], err[4096];
    int st = ts_run((char *const *)argv, "pw\n", 3, out, sizeof out, err,
                    sizeof err, 30);
    cr_expect(!(WIFEXITED(st) && WEXITSTATUS(st) == 0),
              "user add on a bad users file succeeded: %s %s", out, err);
    cr_expect(strstr(err, users_path), "user add names the file: %s", err);
    cr_assert_eq(stat(users_path, &st1), 0);
    cr_expect_eq(st1.st_ino, st0.st_ino, "the file was replaced");
    cr_expect_eq(st1.st_mode, st0.st_mode);
    cr_expect_eq(st1.st_size, st0.st_size);
    if (was) {
        size_t n1;
        char *now = ftx_read_file(users_path, &n1);
        cr_expect(n1 == n0 && !memcmp(now, was, n0), "the file changed");
        free(now);
        free(was);
    }
}

static void broken_users_file(void)
{
    ftc a;
    ftc_open(&a, &srv);
    ftc_login(&a, "alice", "pw");
    expect_login_ok("bob");

    /* 1. unreadable; chmod back is noticed without a signal */
    if (have_setpriv()) {
        cr_assert_eq(chmod(users_path, 0), 0);
        expect_login_refused("bob", "Permission denied");
        session_goes_on(&a, 1);
        user_add_refused(true);
        cr_assert_eq(chmod(users_path, 0600), 0);
        expect_login_ok("bob");
    } else {
        cr_log_info("no %s: the unreadable case is skipped", SETPRIV);
    }

    /* 2. truncated in the middle of bob's line (the last one); back after
     * SIGHUP.  alice's own line is intact, and still she may not log in:
     * a file cut short may have lost anything, a password change or a
     * deleted user included. */
    size_t cut = good_len - 20;
    write_in_place(good, cut);
    expect_login_refused("alice", ":3: ");
    session_goes_on(&a, 2);
    user_add_refused(false);
    write_in_place(good, good_len);
    cr_assert_eq(kill(srv.proc.pid, SIGHUP), 0);
    cr_expect(fl_wait_log(&srv, &mark, 20, "SIGHUP: users file reloaded", NULL),
              "%s", srv.proc.err);
    expect_login_ok("alice");

    /* 3. truncated to nothing: the server never writes an empty file (it
     * always has its header line), so this is a loss, not "no users" */
    write_in_place("", 0);
    expect_login_refused("bob", "empty");
    session_goes_on(&a, 3);
    user_add_refused(false);
    write_in_place(good, good_len);
    expect_login_ok("bob");

    /* 4. garbage */
    char junk[4096];
    ftx_fill(junk, sizeof junk, 13);
    write_in_place(junk, sizeof junk);
    expect_login_refused("bob", users_path);
    session_goes_on(&a, 4);
    user_add_refused(false);
    write_in_place(good, good_len);
    expect_login_ok("bob");

    cr_expect_eq(ftc_cmd(&a, "QUIT"), 221, "the first session lived through it");
    ftc_close(&a);
}

Test(usersfile, threading_bad_file_refuses_logins_keeps_sessions,
     .init = start_threading)
{
    broken_users_file();
}

Test(usersfile, forking_bad_file_refuses_logins_keeps_sessions,
     .init = start_forking)
{
    broken_users_file();
}
