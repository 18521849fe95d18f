/* tests/ftpd-units/test_usercli.c - "sockserv-ftpd user add/passwd/del/list"
 * as a user runs them: password on stdin, exit codes, the users file after. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/passwd.h"
#include "units.h"
#include "usercli.h"
#include "store/users.h"

static char top[PATH_MAX], data[PATH_MAX], users_file[PATH_MAX];
static char out[8192], err[8192];

static void setup(void)
{
    setenv("SOCKSERV_FTPD_TEST_FAST_KDF", "1", 1);
    u_tmpdir("usercli", top, sizeof top);
    u_path(data, sizeof data, "%s/var/ftp", top);
    u_path(users_file, sizeof users_file, "%s/users", data);
}

static void teardown(void)
{
    u_cleanup(top);
}

TestSuite(usercli, .init = setup, .fini = teardown, .timeout = 60);

static void slurp_fd(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
}

/* Runs ftpd_usercli_main in a child with stdin = input (a pipe, so not a
 * terminal) and returns its exit code; stdout/stderr land in out/err. */
static int cli(const char *input, ...)
{
    char *argv[16];
    int argc = 0;
    va_list ap;
    va_start(ap, input);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL && argc < 15;)
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    char tin[PATH_MAX], tout[PATH_MAX], terr[PATH_MAX];
    u_write(u_path(tin, sizeof tin, "%s/in", top), input, (size_t)-1);
    u_path(tout, sizeof tout, "%s/out", top);
    u_path(terr, sizeof terr, "%s/err", top);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int i = open(tin, O_RDONLY);
        int o = open(tout, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(terr, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (i < 0 || o < 0 || e < 0)
            _exit(99);
        dup2(i, 0);
        dup2(o, 1);
        dup2(e, 2);
        int rc = ftpd_usercli_main(argc, argv, data);
        fflush(NULL);
        _exit(rc);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st));
    int fd = open(tout, O_RDONLY);
    slurp_fd(fd, out, sizeof out);
    close(fd);
    fd = open(terr, O_RDONLY);
    slurp_fd(fd, err, sizeof err);
    close(fd);
    return WEXITSTATUS(st);
}

static void lookup(const char *name, ftpd_user *u)
{
    ftpd_users t;
    char e[512];
    cr_assert_eq(ftpd_users_init(&t, users_file, e, sizeof e), 0, "%s", e);
    cr_assert_eq(ftpd_users_lookup(&t, name, u), 0, "no user %s", name);
    ftpd_users_close(&t);
}

Test(usercli, add_reads_the_password_from_stdin_and_never_prints_it)
{
    char home[PATH_MAX];
    u_path(home, sizeof home, "%s/homes/alice", top);
    int rc = cli("Tr0ub4dor&3\n", "user", "add", "alice", "--home", home, "--quota", "5M", NULL);
    cr_assert_eq(rc, 0, "out: %s err: %s", out, err);
    cr_expect_null(strstr(out, "Tr0ub4dor"));
    cr_expect_null(strstr(err, "Tr0ub4dor"));
    ftpd_user u;
    lookup("alice", &u);
    cr_expect_str_eq(u.home, home);
    cr_expect_eq(u.quota, 5ull << 20);
    cr_expect_eq(ftpd_passwd_verify("Tr0ub4dor&3", 11, u.hash), 1);
    cr_expect_eq(ftpd_passwd_verify("Tr0ub4dor&3\n", 12, u.hash), 0, "the newline is not part of it");
    struct stat st;
    cr_expect_eq(stat(home, &st), 0, "the home is created");
    cr_expect(S_ISDIR(st.st_mode));
    char buf[4096];
    cr_assert_gt(u_read(users_file, buf, sizeof buf), 0);
    cr_expect_null(strstr(buf, "Tr0ub4dor"), "no clear password on disk");

    cr_expect_eq(cli("x\n", "user", "add", "alice", "--home", home, NULL), 1);
    cr_expect(strstr(err, "already exists"), "%s", err);
}

Test(usercli, usage_errors_exit_2)
{
    cr_expect_eq(cli("pw\n", "user", "add", "bob", NULL), 2);
    cr_expect(strstr(err, "--home"), "%s", err);
    cr_expect_eq(cli("pw\n", "user", "add", "bob", "--home", "/tmp/x", "--quota", "lots", NULL), 2);
    cr_expect(strstr(err, "quota"), "%s", err);
    cr_expect_eq(cli("pw\n", "user", "add", "b:ob", "--home", "/tmp/x", NULL), 2);
    cr_expect_eq(cli("", "user", "frobnicate", NULL), 2);
    cr_expect_eq(cli("", "user", NULL), 2);
    cr_expect_eq(cli("", "user", "del", NULL), 2);
    char home[PATH_MAX];
    u_path(home, sizeof home, "%s/homes/bob", top);
    cr_expect_eq(cli("\n", "user", "add", "bob", "--home", home, NULL), 1, "empty password");
    cr_expect(strstr(err, "empty password"), "%s", err);
}

Test(usercli, passwd_replaces_the_hash_and_del_removes_the_user)
{
    char home[PATH_MAX];
    u_path(home, sizeof home, "%s/homes/carol", top);
    cr_assert_eq(cli("first\n", "user", "add", "carol", "--home", home, NULL), 0, "%s", err);
    ftpd_user u;
    lookup("carol", &u);
    cr_expect_eq(u.quota, 100ull << 20, "the default quota is 100M");
    cr_assert_eq(cli("second\n", "user", "passwd", "carol", NULL), 0, "%s", err);
    lookup("carol", &u);
    cr_expect_eq(ftpd_passwd_verify("first", 5, u.hash), 0);
    cr_expect_eq(ftpd_passwd_verify("second", 6, u.hash), 1);
    cr_expect_eq(cli("x\n", "user", "passwd", "nobody", NULL), 1);
    cr_assert_eq(cli("", "user", "del", "carol", NULL), 0, "%s", err);
    cr_expect_eq(cli("", "user", "del", "carol", NULL), 1);
    struct stat st;
    cr_expect_eq(stat(home, &st), 0, "the home stays");
}

Test(usercli, list_shows_quota_and_current_usage)
{
    char home[PATH_MAX], p[PATH_MAX];
    u_path(home, sizeof home, "%s/homes/dave", top);
    cr_assert_eq(cli("pw\n", "user", "add", "dave", "--home", home, "--quota", "1G", NULL), 0, "%s", err);
    char blob[1234];
    memset(blob, 'z', sizeof blob);
    u_mkdirs(u_path(p, sizeof p, "%s/sub", home));
    u_write(u_path(p, sizeof p, "%s/sub/f", home), blob, sizeof blob);
    cr_assert_eq(cli("", "user", "list", NULL), 0, "%s", err);
    cr_expect(strstr(out, "NAME"), "%s", out);
    char *line = strstr(out, "dave");
    cr_assert(line, "%s", out);
    char name[64], quota[32], used[32], up[32], down[32], h[PATH_MAX];
    cr_assert_eq(sscanf(line, "%63s %31s %31s %31s %31s %4095s", name, quota, used,
                        up, down, h), 6, "%s", line);
    cr_expect_str_eq(quota, "1G");
    cr_expect_str_eq(used, "1234");
    cr_expect_str_eq(up, "default");
    cr_expect_str_eq(down, "default");
    cr_expect_str_eq(h, home);
}

Test(usercli, add_and_mod_set_rates_that_list_shows)
{
    char home[PATH_MAX];
    u_path(home, sizeof home, "%s/homes/erin", top);
    cr_assert_eq(cli("pw\n", "user", "add", "erin", "--home", home,
                     "--download-rate", "2M", NULL), 0, "%s", err);
    ftpd_user u;
    lookup("erin", &u);
    cr_expect_eq(u.rate_down, 2ull << 20);
    cr_expect_eq(u.rate_up, 0, "no --upload-rate: the server's default");
    cr_assert_eq(cli("", "user", "mod", "erin", "--upload-rate=512K",
                     "--download-rate", "default", "--quota", "1G", NULL), 0, "%s", err);
    lookup("erin", &u);
    cr_expect_eq(u.rate_up, 512ull << 10);
    cr_expect_eq(u.rate_down, 0);
    cr_expect_eq(u.quota, 1ull << 30);
    cr_expect_eq(ftpd_passwd_verify("pw", 2, u.hash), 1, "mod keeps the password");
    cr_assert_eq(cli("", "user", "list", NULL), 0, "%s", err);
    char *line = strstr(out, "erin");
    cr_assert(line, "%s", out);
    char name[64], quota[32], used[32], up[32], down[32];
    cr_assert_eq(sscanf(line, "%63s %31s %31s %31s %31s", name, quota, used, up,
                        down), 5, "%s", line);
    cr_expect_str_eq(up, "512K");
    cr_expect_str_eq(down, "default");
    cr_expect_eq(cli("", "user", "mod", "erin", "--upload-rate", "fast", NULL), 2);
    cr_expect_eq(cli("", "user", "mod", "erin", NULL), 2, "nothing to change");
    cr_expect_eq(cli("", "user", "mod", "nobody", "--quota", "1M", NULL), 1);
}

/* ---- on a terminal: prompted twice, echo off ---- */

/* Reads the pty master into buf (appending) until needle shows up or 10 s
 * pass.  Returns true when found. */
static bool wait_for(int master, char *buf, size_t cap, size_t *len, const char *needle)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (strstr(buf, needle))
            return true;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long left = 10000 - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = master, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            return false;
        ssize_t r = read(master, buf + *len, cap - 1 - *len);
        if (r <= 0)
            return false;
        *len += (size_t)r;
        buf[*len] = '\0';
    }
}

static int cli_on_tty(const char *first, const char *second, char *screen, size_t cap)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    cr_assert(master >= 0);
    cr_assert_eq(grantpt(master), 0);
    cr_assert_eq(unlockpt(master), 0);
    char slave_name[128];
    cr_assert_eq(ptsname_r(master, slave_name, sizeof slave_name), 0);
    char home[PATH_MAX];
    u_path(home, sizeof home, "%s/homes/tty", top);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        setsid();
        int s = open(slave_name, O_RDWR);
        if (s < 0)
            _exit(99);
        dup2(s, 0);
        dup2(s, 2);
        int o = open("/dev/null", O_WRONLY);
        dup2(o, 1);
        char *argv[] = {"user", "add", "tty", "--home", home, NULL};
        int rc = ftpd_usercli_main(5, argv, data);
        fflush(NULL);
        _exit(rc);
    }
    size_t len = 0;
    screen[0] = '\0';
    cr_assert(wait_for(master, screen, cap, &len, "New password: "), "screen: %s", screen);
    cr_assert_eq(write(master, first, strlen(first)), (ssize_t)strlen(first));
    cr_assert(wait_for(master, screen, cap, &len, "Retype new password: "), "screen: %s", screen);
    cr_assert_eq(write(master, second, strlen(second)), (ssize_t)strlen(second));
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    /* Whatever is still on the screen (error messages). */
    struct pollfd p = {.fd = master, .events = POLLIN};
    while (len + 1 < cap && poll(&p, 1, 100) > 0) {
        ssize_t r = read(master, screen + len, cap - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        screen[len] = '\0';
    }
    close(master);
    cr_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

Test(usercli, a_terminal_is_prompted_twice_without_echo)
{
    char screen[4096];
    cr_assert_eq(cli_on_tty("S3cretOnTty\n", "S3cretOnTty\n", screen, sizeof screen), 0,
                 "screen: %s", screen);
    cr_expect_null(strstr(screen, "S3cretOnTty"), "the password was echoed: %s", screen);
    ftpd_user u;
    lookup("tty", &u);
    cr_expect_eq(ftpd_passwd_verify("S3cretOnTty", 11, u.hash), 1);
}

Test(usercli, a_terminal_typo_in_the_second_prompt_adds_nobody)
{
    char screen[4096];
    cr_expect_eq(cli_on_tty("one-thing\n", "another\n", screen, sizeof screen), 1);
    cr_expect(strstr(screen, "do not match"), "screen: %s", screen);
    char buf[4096];
    ssize_t n = u_read(users_file, buf, sizeof buf);
    cr_expect(n < 0 || strstr(buf, "tty:") == NULL, "no user was added");
}
