/* tests/faults/test_diskfull.c - the server's data dir on a small tmpfs that
 * runs full during uploads: STOR and APPE get 452, the bytes that fitted
 * stay for a resume, the quota counts what is on disk, no other file
 * changes, other sessions are served, and once space is freed each upload
 * resumes to a byte-exact file, with this test's client, with sockserv-ftp
 * (put -c) and with curl (-C - -T).  The tmpfs is mounted in a mount
 * namespace of the test's own process, so it goes away with the process
 * whatever happens; without the right to mount, the test is skipped. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faults.h"

#define FS_SIZE "6m"
#define UPLOAD (1024 * 1024 + 333) /* not a multiple of any page size */
#define ROOM (300 * 1024)          /* what a round leaves free before it */
#define CURL "/usr/bin/curl"

static ftx_server srv;
static bool mounted;
static char skip_why[256];

/* A file of the data dir and its checksum before the uploads. */
typedef struct entry {
    char path[600];
    char sha[65];
} entry;

static entry before[32];
static size_t nbefore;

static void snapshot_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) && nbefore < 32) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            snapshot_dir(p);
        } else if (S_ISREG(st.st_mode)) {
            entry *e = &before[nbefore++];
            snprintf(e->path, sizeof e->path, "%s", p);
            cr_assert(ts_sha256_file(p, e->sha), "cannot read %s", p);
        }
    }
    closedir(d);
}

static void expect_all_intact(const char *when)
{
    for (size_t i = 0; i < nbefore; i++) {
        char now[65];
        ts_sha256_file(before[i].path, now);
        cr_expect_str_eq(now, before[i].sha, "%s: %s changed", when,
                         before[i].path);
    }
}

static void setup(const char *mode)
{
    ftx_init(&srv, "faults-diskfull");
    mounted = false;
    nbefore = 0;
    skip_why[0] = '\0';
    if (fl_private_tmpfs(srv.data_dir, FS_SIZE, skip_why, sizeof skip_why) < 0)
        return;
    mounted = true;
    ftx_add_user(&srv, "alice", "pw", "1G");
    ftx_add_user(&srv, "bob", "pw", "1G");
    const char *extra[] = {"--set", mode, NULL};
    ftx_start(&srv, extra);
    /* bob's file, read back while the disk is full */
    ftx_make_file(ftx_home_path(&srv, "bob", "keep.bin"), 65536, 77);
    snapshot_dir(srv.data_dir);
}

static void start_threading(void) { setup("concurrency=threading"); }
static void start_forking(void) { setup("concurrency=forking"); }

static void teardown(void)
{
    ftx_stop(&srv, false);
    if (mounted)
        fl_umount(srv.data_dir);
    ts_rmtree(srv.dir);
}

TestSuite(diskfull, .fini = teardown, .timeout = 180);

static void login(ftc *c, const char *user)
{
    ftc_open(c, &srv);
    ftc_login(c, user, "pw");
    cr_assert_eq(ftc_cmd(c, "TYPE I"), 200);
}

/* Fills the disk with a ballast file (outside the homes) until about ROOM
 * bytes are left. */
static void leave_room(void)
{
    char p[700];
    snprintf(p, sizeof p, "%s/ballast", srv.data_dir);
    unlink(p);
    long long avail = fl_free_bytes(srv.data_dir);
    cr_assert_gt(avail, ROOM + 4096, "only %lld bytes free", avail);
    ftx_make_file(p, (size_t)(avail - ROOM), 1);
}

static void free_space(void)
{
    char p[700];
    snprintf(p, sizeof p, "%s/ballast", srv.data_dir);
    cr_assert_eq(unlink(p), 0);
}

/* While the disk is full: usage equals the disk, a new session of another
 * user logs in and reads its file, and a small upload gets 452 without
 * ending its session. */
static void check_while_full(ftc *a)
{
    cr_expect_eq(fl_quota_used(a), fl_tree_bytes(ftx_home_path(&srv, "alice", "")),
                 "alice's usage equals what is on disk");
    ftc b;
    login(&b, "bob");
    char *got;
    size_t n;
    cr_expect_eq(ftc_get(&b, "RETR keep.bin", &got, &n), 226, "%s", b.reply);
    char *want = malloc(65536);
    ftx_fill(want, 65536, 77);
    cr_expect(n == 65536 && !memcmp(got, want, n), "bob's file read back");
    free(got);
    int code = ftc_put(&b, "STOR small.bin", want, 65536);
    cr_expect_eq(code, 452, "a new upload on a full disk: %s", b.reply);
    cr_expect_eq(ftc_get(&b, "LIST", &got, &n), 226, "%s", b.reply);
    free(got);
    free(want);
    cr_expect_eq(fl_quota_used(&b), fl_tree_bytes(ftx_home_path(&srv, "bob", "")),
                 "bob's usage equals what is on disk");
    cr_expect_eq(ftc_cmd(&b, "DELE small.bin"), 250);
    ftc_close(&b);
    expect_all_intact("disk full");
}

/* The part of the upload kept on the server: a prefix of src. */
static off_t expect_prefix_kept(const char *name, const char *src, size_t n)
{
    const char *p = ftx_home_path(&srv, "alice", name);
    off_t kept = ftx_file_size(p);
    cr_expect(kept > 0 && kept < (off_t)n, "%s: %lld of %zu bytes kept", name,
              (long long)kept, n);
    if (kept > 0) {
        size_t k;
        char *disk = ftx_read_file(p, &k);
        cr_expect(k <= n && !memcmp(disk, src, k), "%s: the kept bytes are the "
                  "first ones sent", name);
        free(disk);
    }
    return kept;
}

static void expect_same_sha(const char *name, const char *local)
{
    char a[65], b[65];
    cr_expect(ts_sha256_file(ftx_home_path(&srv, "alice", name), a) &&
                  ts_sha256_file(local, b) && !strcmp(a, b),
              "%s: sha256 %s, sent %s", name, a, b);
}

/* Round 1: STOR runs out of space, REST + STOR resumes. */
static void stor_then_rest(ftc *a, const char *data)
{
    leave_room();
    int code = ftc_put(a, "STOR r1.bin", data, UPLOAD);
    cr_expect_eq(code, 452, "STOR on a full disk: %s", a->reply);
    off_t kept = expect_prefix_kept("r1.bin", data, UPLOAD);
    long long said = -1;
    const char *w = strstr(a->reply, "; ");
    if (w)
        sscanf(w + 2, "%lld", &said);
    cr_expect_eq(said, (long long)kept, "the reply tells what was kept: %s",
                 a->reply);
    check_while_full(a);

    /* `user add` cannot write its temp file: refused, users file intact */
    char home[700], out[4096];
    snprintf(home, sizeof home, "%s/home/carol", srv.data_dir);
    const char *argv[] = {ftx_binary(), "--data-dir", srv.data_dir, "user",
                          "add", "carol", "--home", home, "--quota", "1M", NULL};
    char *err = calloc(1, 4096);
    int st = ts_run((char *const *)argv, "pw\n", 3, out, sizeof out, err, 4096, 30);
    cr_expect(!(WIFEXITED(st) && WEXITSTATUS(st) == 0),
              "user add on a full disk succeeded: %s", out);
    cr_expect(strstr(err, "No space left"), "user add says why: %s", err);
    free(err);
    expect_all_intact("after user add on a full disk");

    free_space();
    cr_assert_eq(ftc_cmd(a, "REST %lld", (long long)kept), 350, "%s", a->reply);
    code = ftc_put(a, "STOR r1.bin", data + kept, UPLOAD - (size_t)kept);
    cr_expect_eq(code, 226, "resumed STOR: %s", a->reply);
}

/* Round 2: APPE runs out of space, APPE resumes. */
static void appe_then_appe(ftc *a, const char *data)
{
    leave_room();
    int code = ftc_put(a, "APPE r2.bin", data, UPLOAD);
    cr_expect_eq(code, 452, "APPE on a full disk: %s", a->reply);
    off_t kept = expect_prefix_kept("r2.bin", data, UPLOAD);
    check_while_full(a);
    free_space();
    code = ftc_put(a, "APPE r2.bin", data + kept, UPLOAD - (size_t)kept);
    cr_expect_eq(code, 226, "resumed APPE: %s", a->reply);
}

static void url(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "ftp://alice:pw@127.0.0.1:%d/%s", srv.port, name);
}

/* Round 3: sockserv-ftp put fails with 452; put -c resumes and verifies. */
static void sockserv_ftp_put(ftc *a, const char *local, const char *data)
{
    const char *client = ts_build_path("ftp/client/sockserv-ftp");
    if (access(client, X_OK) < 0) {
        cr_log_info("sockserv-ftp is not built: round skipped");
        return;
    }
    char server[128], out[8192];
    snprintf(server, sizeof server, "alice:pw@127.0.0.1:%d", srv.port);
    leave_room();
    const char *put[] = {client, "--retries", "0", "--timeout", "20", server,
                         "put", local, "r3.bin", NULL};
    size_t mark = fl_log_mark(&srv);
    int rc = fl_run(put, out, sizeof out, 60);
    cr_expect_neq(rc, 0, "put on a full disk succeeded: %s", out);
    cr_expect(fl_wait_log(&srv, &mark, 20, "cmd=STOR", "r3.bin",
                          "result=file: No space left", NULL),
              "the server's log tells: %s", srv.proc.err);
    cr_expect(strstr(out, "452"), "the client shows the server's 452: %s", out);
    expect_prefix_kept("r3.bin", data, UPLOAD);
    check_while_full(a);
    free_space();
    const char *resume[] = {client, "--retries", "0", "--timeout", "20", server,
                            "put", "-c", local, "r3.bin", NULL};
    rc = fl_run(resume, out, sizeof out, 60);
    cr_expect_eq(rc, 0, "put -c: %s", out);
    cr_expect(strstr(out, "resum"), "put -c resumed: %s", out);
}

/* Round 4: curl -T fails; curl -C - -T (SIZE + APPE) resumes. */
static void curl_put(ftc *a, const char *local, const char *data)
{
    if (access(CURL, X_OK) < 0) {
        cr_log_info("curl is not installed: round skipped");
        return;
    }
    char u[256], out[8192];
    url(u, sizeof u, "r4.bin");
    leave_room();
    const char *put[] = {CURL, "-sS", "--max-time", "60", "-T", local, u, NULL};
    size_t mark = fl_log_mark(&srv);
    int rc = fl_run(put, out, sizeof out, 90);
    cr_expect_neq(rc, 0, "curl -T on a full disk succeeded: %s", out);
    cr_expect(fl_wait_log(&srv, &mark, 20, "cmd=STOR", "r4.bin",
                          "result=file: No space left", NULL),
              "the server's log tells: %s", srv.proc.err);
    expect_prefix_kept("r4.bin", data, UPLOAD);
    check_while_full(a);
    free_space();
    const char *resume[] = {CURL, "-sS", "--max-time", "60", "-C", "-", "-T",
                            local, u, NULL};
    rc = fl_run(resume, out, sizeof out, 90);
    cr_expect_eq(rc, 0, "curl -C - -T: %s", out);
}

static void disk_full_rounds(void)
{
    if (!mounted)
        cr_skip_test("cannot mount a tmpfs here: %s", skip_why);
    char *data = malloc(UPLOAD);
    char local[600];
    snprintf(local, sizeof local, "%s/upload.bin", srv.dir);
    ftc a;
    login(&a, "alice");

    ftx_fill(data, UPLOAD, 1);
    stor_then_rest(&a, data);
    ftx_write_file(local, data, UPLOAD);
    expect_same_sha("r1.bin", local);
    cr_expect_eq(fl_quota_used(&a), fl_tree_bytes(ftx_home_path(&srv, "alice", "")));

    ftx_fill(data, UPLOAD, 2);
    appe_then_appe(&a, data);
    ftx_write_file(local, data, UPLOAD);
    expect_same_sha("r2.bin", local);

    /* room for the next rounds: the finished files go */
    cr_expect_eq(ftc_cmd(&a, "DELE r1.bin"), 250);
    cr_expect_eq(ftc_cmd(&a, "DELE r2.bin"), 250);

    ftx_fill(data, UPLOAD, 3);
    ftx_write_file(local, data, UPLOAD);
    sockserv_ftp_put(&a, local, data);
    expect_same_sha("r3.bin", local);

    ftx_fill(data, UPLOAD, 4);
    ftx_write_file(local, data, UPLOAD);
    curl_put(&a, local, data);
    expect_same_sha("r4.bin", local);

    cr_expect_eq(fl_quota_used(&a), fl_tree_bytes(ftx_home_path(&srv, "alice", "")),
                 "usage equals the disk at the end");
    expect_all_intact("at the end");
    cr_expect_eq(ftc_cmd(&a, "QUIT"), 221, "the session lived through it all");
    ftc_close(&a);
    free(data);
}

Test(diskfull, threading_452_keep_resume_byte_exact, .init = start_threading)
{
    disk_full_rounds();
}

Test(diskfull, forking_452_keep_resume_byte_exact, .init = start_forking)
{
    disk_full_rounds();
}
