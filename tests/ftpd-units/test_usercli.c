/* tests/ftpd-units/test_usercli.c - "sockserv-ftpd user add/passwd/del/list"
 * as a user runs them: password on stdin, exit codes, the users file after. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "passwd.h"
#include "units.h"
#include "usercli.h"
#include "users.h"

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
    char name[64], quota[32], used[32], h[PATH_MAX];
    cr_assert_eq(sscanf(line, "%63s %31s %31s %4095s", name, quota, used, h), 4, "%s", line);
    cr_expect_str_eq(quota, "1G");
    cr_expect_str_eq(used, "1234");
    cr_expect_str_eq(h, home);
}
