/* tests/ftpd-units/test_users.c - the users file: sizes, parse errors that
 * name file and line, atomic locked rewrites, and live reloads. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "units.h"
#include "store/users.h"

static char dir[PATH_MAX], file[PATH_MAX];
static const char *H = "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

static void setup(void)
{
    u_tmpdir("users", dir, sizeof dir);
    u_path(file, sizeof file, "%s/users", dir);
}

static void teardown(void)
{
    u_cleanup(dir);
}

TestSuite(users, .init = setup, .fini = teardown, .timeout = 60);

static ftpd_user mk(const char *name, const char *home, uint64_t quota)
{
    ftpd_user u;
    memset(&u, 0, sizeof u);
    strcpy(u.name, name);
    strcpy(u.hash, H);
    strcpy(u.home, home);
    u.quota = quota;
    return u;
}

Test(users, sizes_parse_and_format)
{
    struct { const char *s; uint64_t v; } ok[] = {
        {"0", 0}, {"123", 123}, {"500K", 500 * 1024}, {"100M", 100ull << 20},
        {"1G", 1ull << 30}, {"2T", 2ull << 40}, {"1k", 1024}, {"10MB", 10ull << 20},
        {"3GiB", 3ull << 30}, {" 7 ", 7}, {"unlimited", FTPD_QUOTA_UNLIMITED},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t v = 1;
        cr_expect_eq(ftpd_size_parse(ok[i].s, &v), 0, "%s", ok[i].s);
        cr_expect_eq(v, ok[i].v, "%s", ok[i].s);
    }
    const char *bad[] = {"", "x", "-1", "10Q", "1.5G", "M", "10 M X", "1GG"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v;
        cr_expect_eq(ftpd_size_parse(bad[i], &v), -EINVAL, "'%s'", bad[i]);
    }
    uint64_t v;
    cr_expect_eq(ftpd_size_parse("99999999999999999999", &v), -ERANGE);
    cr_expect_eq(ftpd_size_parse("99999999999T", &v), -ERANGE);
    char b[32];
    cr_expect_gt(ftpd_size_format(100ull << 20, b, sizeof b), 0);
    cr_expect_str_eq(b, "100M");
    cr_expect_gt(ftpd_size_format(1000, b, sizeof b), 0);
    cr_expect_str_eq(b, "1000");
    cr_expect_gt(ftpd_size_format(1536, b, sizeof b), 0);
    cr_expect_str_eq(b, "1536");
    cr_expect_gt(ftpd_size_format(FTPD_QUOTA_UNLIMITED, b, sizeof b), 0);
    cr_expect_str_eq(b, "unlimited");
}

static void expect_parse_error(const char *content, const char *where, const char *why)
{
    u_write(file, content, (size_t)-1);
    ftpd_user *v = NULL;
    size_t n = 0;
    char err[512] = "";
    cr_expect_eq(ftpd_users_parse_file(file, &v, &n, err, sizeof err), -EINVAL, "%s", content);
    char want[PATH_MAX + 32];
    snprintf(want, sizeof want, "%s:%s: ", file, where);
    cr_expect_eq(strncmp(err, want, strlen(want)), 0, "error '%s' should start '%s'", err, want);
    cr_expect(strstr(err, why) != NULL, "error '%s' should say '%s'", err, why);
    free(v);
}

Test(users, parse_errors_name_file_and_line)
{
    char good[512];
    snprintf(good, sizeof good, "alice:%s:/srv/alice:100M\n", H);
    char buf[2048];
    snprintf(buf, sizeof buf, "# comment\n\n%sbob:%s:/srv/bob:lots\n", good, H);
    expect_parse_error(buf, "4", "quota");
    snprintf(buf, sizeof buf, "%sbob:%s:/srv/bob\n", good, H);
    expect_parse_error(buf, "2", "found 3 fields");
    snprintf(buf, sizeof buf, "%sb@d:%s:/srv/bob:1G\n", good, H);
    expect_parse_error(buf, "2", "bad user name");
    snprintf(buf, sizeof buf, "%sbob:plaintext:/srv/bob:1G\n", good);
    expect_parse_error(buf, "2", "hash");
    snprintf(buf, sizeof buf, "%s%s", good, good);
    expect_parse_error(buf, "2", "appears twice");
    snprintf(buf, sizeof buf, "%sbob:%s:/a:b:1G\n", good, H);
    expect_parse_error(buf, "2", "found 5 fields");
    snprintf(buf, sizeof buf, "%sbob:%s:/a:1G:1M:1M:x\n", good, H);
    expect_parse_error(buf, "2", "too many fields");
    snprintf(buf, sizeof buf, "%sbob:%s:/a:1G:fast:\n", good, H);
    expect_parse_error(buf, "2", "upload_rate");
    snprintf(buf, sizeof buf, "bob:%s::1G\n", H);
    expect_parse_error(buf, "1", "bad home");

    /* Comments, blank lines, CRLF and a missing final newline are fine. */
    snprintf(buf, sizeof buf, "# users\n  \n%scarol:%s:rel/carol:unlimited\r\n  # x\ndave:%s:/d:0", good, H, H);
    u_write(file, buf, (size_t)-1);
    ftpd_user *v = NULL;
    size_t n = 0;
    char err[512] = "";
    cr_assert_eq(ftpd_users_parse_file(file, &v, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 3);
    cr_expect_str_eq(v[0].name, "alice");
    cr_expect_eq(v[0].quota, 100ull << 20);
    cr_expect_str_eq(v[1].home, "rel/carol");
    cr_expect_eq(v[1].quota, FTPD_QUOTA_UNLIMITED);
    cr_expect_eq(v[2].quota, 0);
    free(v);
    /* A missing file is an empty table. */
    cr_expect_eq(ftpd_users_parse_file("/nonexistent/users", &v, &n, err, sizeof err), 0);
    cr_expect_eq(n, 0);
    free(v);
}

Test(users, rates_are_two_optional_fields_and_old_lines_still_load)
{
    char buf[2048];
    /* An old four-field line, a user with both rates, one with a download
     * rate only (empty upload field: the server's default), one unlimited. */
    snprintf(buf, sizeof buf,
             "old:%s:/o:1G\nboth:%s:/b:1G:512K:2M\ndown:%s:/d:1G::3M\n"
             "free:%s:/f:1G:unlimited:unlimited\n", H, H, H, H);
    u_write(file, buf, (size_t)-1);
    ftpd_user *v = NULL;
    size_t n = 0;
    char err[512] = "";
    cr_assert_eq(ftpd_users_parse_file(file, &v, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 4);
    cr_expect_eq(v[0].rate_up, 0);
    cr_expect_eq(v[0].rate_down, 0);
    cr_expect_eq(v[1].rate_up, 512ull << 10);
    cr_expect_eq(v[1].rate_down, 2ull << 20);
    cr_expect_eq(v[2].rate_up, 0);
    cr_expect_eq(v[2].rate_down, 3ull << 20);
    cr_expect_eq(v[3].rate_up, FTPD_QUOTA_UNLIMITED);
    free(v);
}

Test(users, mod_changes_only_the_given_fields_and_keeps_old_lines_short)
{
    char err[512] = "";
    ftpd_user a = mk("alice", "/srv/alice", 100ull << 20);
    ftpd_user b = mk("bob", "/srv/bob", 1ull << 30);
    cr_assert_eq(ftpd_users_file_add(file, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(ftpd_users_file_add(file, &b, err, sizeof err), 0, "%s", err);
    ftpd_user_mod m = {.set_rate_down = true, .rate_down = 1ull << 20};
    cr_assert_eq(ftpd_users_file_mod(file, "alice", &m, err, sizeof err), 0, "%s", err);
    m = (ftpd_user_mod){.set_quota = true, .quota = 5ull << 20};
    cr_assert_eq(ftpd_users_file_mod(file, "bob", &m, err, sizeof err), 0, "%s", err);
    cr_expect_eq(ftpd_users_file_mod(file, "carol", &m, err, sizeof err), -ENOENT);
    char text[4096];
    cr_assert_gt(u_read(file, text, sizeof text), 0);
    cr_expect(strstr(text, ":/srv/alice:100M::1M\n"), "%s", text);
    cr_expect(strstr(text, ":/srv/bob:5M\n"), "a user without rates keeps four fields: %s", text);
    ftpd_user *v = NULL;
    size_t n = 0;
    cr_assert_eq(ftpd_users_parse_file(file, &v, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 2);
    cr_expect_eq(v[0].quota, 100ull << 20);
    cr_expect_eq(v[0].rate_up, 0);
    cr_expect_eq(v[0].rate_down, 1ull << 20);
    cr_expect_str_eq(v[0].hash, H);
    cr_expect_eq(v[1].quota, 5ull << 20);
    free(v);
}

Test(users, edits_rewrite_atomically_and_keep_comments)
{
    char err[512] = "";
    ftpd_user a = mk("alice", "/srv/alice", 100ull << 20);
    ftpd_user b = mk("bob", "/srv/bob", 1ull << 30);
    cr_assert_eq(ftpd_users_file_add(file, &a, err, sizeof err), 0, "%s", err);
    struct stat st1, st2;
    cr_assert_eq(stat(file, &st1), 0);
    cr_expect_eq(st1.st_mode & 0777, 0600, "the users file holds hashes: owner only");
    /* A hand-written comment survives later edits. */
    char buf[4096];
    cr_assert_gt(u_read(file, buf, sizeof buf), 0);
    strcat(buf, "# keep me\n");
    u_write(file, buf, (size_t)-1);
    chmod(file, 0600);
    cr_assert_eq(stat(file, &st1), 0);
    cr_assert_eq(ftpd_users_file_add(file, &b, err, sizeof err), 0, "%s", err);
    cr_assert_eq(stat(file, &st2), 0);
    cr_expect_neq(st1.st_ino, st2.st_ino, "rewritten by rename, not in place");
    cr_expect_eq(ftpd_users_file_add(file, &b, err, sizeof err), -EEXIST);
    cr_expect(strstr(err, "already exists"));

    const char *nh = "$scrypt$ln=10,r=8,p=1$bmV3c2FsdG5ld3NhbHQ$bmV3aGFzaG5ld2hhc2huZXdoYXNobmV3aGFzaG5ld2g";
    cr_assert_eq(ftpd_users_file_set_hash(file, "alice", nh, err, sizeof err), 0, "%s", err);
    cr_expect_eq(ftpd_users_file_set_hash(file, "zed", nh, err, sizeof err), -ENOENT);
    cr_expect_eq(ftpd_users_file_del(file, "zed", err, sizeof err), -ENOENT);

    ftpd_user *v;
    size_t n;
    cr_assert_eq(ftpd_users_parse_file(file, &v, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 2);
    cr_expect_str_eq(v[0].hash, nh);
    cr_expect_str_eq(v[1].hash, H);
    cr_expect_eq(v[1].quota, 1ull << 30);
    free(v);
    cr_assert_eq(ftpd_users_file_del(file, "alice", err, sizeof err), 0, "%s", err);
    cr_assert_gt(u_read(file, buf, sizeof buf), 0);
    cr_expect(strstr(buf, "# keep me\n"));
    cr_expect_null(strstr(buf, "alice"));
    cr_expect(strstr(buf, "bob:"));
    /* No temp file is left behind. */
    char p[PATH_MAX];
    cr_expect_neq(access(u_path(p, sizeof p, "%s.tmp.%ld", file, (long)getpid()), F_OK), 0);
    /* Bad fields are refused before touching the file. */
    ftpd_user bad = mk("x", "/a:b", 1);
    cr_expect_eq(ftpd_users_file_add(file, &bad, err, sizeof err), -EINVAL);
    bad = mk("-x", "/a", 1);
    cr_expect_eq(ftpd_users_file_add(file, &bad, err, sizeof err), -EINVAL);
    /* A file that does not parse is not edited. */
    u_write(file, "garbage line\n", (size_t)-1);
    cr_expect_eq(ftpd_users_file_add(file, &a, err, sizeof err), -EINVAL);
    cr_expect(strstr(err, ":1: "), "%s", err);
}

Test(users, concurrent_editors_in_two_processes_lose_nothing)
{
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        cr_assert(kids[k] >= 0);
        if (kids[k] == 0) {
            for (int i = 0; i < 15; i++) {
                char name[32], err[256];
                snprintf(name, sizeof name, "p%du%d", k, i);
                ftpd_user u = mk(name, "/srv/x", 1024);
                if (ftpd_users_file_add(file, &u, err, sizeof err) != 0)
                    _exit(1);
            }
            _exit(0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int st;
        cr_assert_eq(waitpid(kids[k], &st, 0), kids[k]);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    ftpd_user *v;
    size_t n;
    char err[512];
    cr_assert_eq(ftpd_users_parse_file(file, &v, &n, err, sizeof err), 0, "%s", err);
    cr_expect_eq(n, 30);
    free(v);
}

struct reader {
    atomic_bool stop;
    atomic_int reads, bad;
};

static void *read_loop(void *arg)
{
    struct reader *r = arg;
    while (!atomic_load(&r->stop)) {
        ftpd_user *v;
        size_t n;
        char err[512];
        if (ftpd_users_parse_file(file, &v, &n, err, sizeof err) != 0 || n < 1)
            atomic_fetch_add(&r->bad, 1);
        else
            free(v);
        atomic_fetch_add(&r->reads, 1);
    }
    return NULL;
}

Test(users, readers_never_see_a_half_written_file)
{
    char err[512];
    ftpd_user a = mk("keeper", "/srv/k", 1);
    cr_assert_eq(ftpd_users_file_add(file, &a, err, sizeof err), 0, "%s", err);
    struct reader r = {0};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, read_loop, &r), 0);
    for (int i = 0; i < 40; i++) {
        char name[32];
        snprintf(name, sizeof name, "u%d", i);
        ftpd_user u = mk(name, "/srv/u", 1);
        cr_assert_eq(ftpd_users_file_add(file, &u, err, sizeof err), 0, "%s", err);
        if (i % 2)
            cr_assert_eq(ftpd_users_file_del(file, name, err, sizeof err), 0, "%s", err);
    }
    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
    cr_expect_gt(atomic_load(&r.reads), 0);
    cr_expect_eq(atomic_load(&r.bad), 0, "%d of %d reads saw a broken file",
                 atomic_load(&r.bad), atomic_load(&r.reads));
}

Test(users, a_running_table_sees_changes_without_restart)
{
    char err[512] = "";
    ftpd_users t;
    cr_assert_eq(ftpd_users_init(&t, file, err, sizeof err), 0, "missing file is empty: %s", err);
    ftpd_user out;
    cr_expect_eq(ftpd_users_lookup(&t, "alice", &out), -ENOENT);
    char ref[FTPD_PASSWD_HASH_MAX];
    cr_expect_eq(ftpd_users_reference_hash(&t, ref, sizeof ref), -ENOENT);

    ftpd_user a = mk("alice", "homes/alice", 5ull << 20);
    cr_assert_eq(ftpd_users_file_add(file, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(ftpd_users_lookup(&t, "alice", &out), 0);
    cr_expect_eq(out.quota, 5ull << 20);
    char want[PATH_MAX + 32];
    snprintf(want, sizeof want, "%s/homes/alice", dir);
    cr_expect_str_eq(out.home, want, "relative homes are relative to the users file");
    cr_expect_eq(ftpd_users_count(&t), 1);
    cr_expect_eq(ftpd_users_reference_hash(&t, ref, sizeof ref), 0);
    cr_expect_str_eq(ref, H);

    /* A broken edit stops every login (the table before it included) and
     * reports the line; so does a file cut to nothing. */
    char buf[4096];
    cr_assert_gt(u_read(file, buf, sizeof buf), 0);
    strcat(buf, "oops\n");
    u_write(file, buf, (size_t)-1);
    cr_expect_eq(ftpd_users_lookup(&t, "alice", &out), -EIO);
    char last[512];
    ftpd_users_last_error(&t, last, sizeof last);
    cr_expect(strstr(last, ":3: "), "%s", last);
    cr_assert_eq(ftpd_users_file_del(file, "oops", err, sizeof err), -EINVAL);
    u_write(file, "", 0);
    cr_expect_eq(ftpd_users_lookup(&t, "alice", &out), -EIO);
    ftpd_users_last_error(&t, last, sizeof last);
    cr_expect(strstr(last, "empty file"), "%s", last);
    cr_expect_eq(ftpd_users_file_del(file, "alice", err, sizeof err), -EINVAL,
                 "an empty file is not edited");

    u_write(file, "# no users\n", (size_t)-1);
    cr_expect_eq(ftpd_users_lookup(&t, "alice", &out), -ENOENT, "deleting takes effect");
    ftpd_users_last_error(&t, last, sizeof last);
    cr_expect_str_eq(last, "");
    cr_expect_eq(ftpd_users_reload(&t, true, err, sizeof err), 1);
    ftpd_users_close(&t);
}
