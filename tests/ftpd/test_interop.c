/* tests/ftpd/test_interop.c - clients nobody here wrote against the real
 * server: Python's ftplib (ftplib_client.py), curl and lftp.  A test is
 * skipped only when its client is not installed. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftx.h"

static ftx_server srv;
static char url[256];   /* ftp://127.0.0.1:PORT */
static char work[1024]; /* client-side scratch dir */

static void setup_srv(void)
{
    ftx_init(&srv, "ftpd-interop");
    ftx_add_user(&srv, "alice", "s3cret", "1G");
    ftx_start(&srv, NULL);
    snprintf(url, sizeof url, "ftp://127.0.0.1:%d", srv.port);
    snprintf(work, sizeof work, "%s/work", srv.dir);
    mkdir(work, 0755);
}

static void teardown(void) { ftx_stop(&srv, true); }

TestSuite(interop, .init = setup_srv, .fini = teardown, .timeout = 180);

static void need(const char *tool)
{
    if (access(tool, X_OK) != 0)
        cr_skip("%s is not installed", tool);
}

/* Runs argv; asserts exit status 0 and returns the captured stdout. */
static char out_buf[65536], err_buf[65536];
static const char *run_ok(char *const argv[])
{
    int st = ts_run(argv, NULL, 0, out_buf, sizeof out_buf, err_buf,
                    sizeof err_buf, 120);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "%s failed (status %d)\nstdout:\n%s\nstderr:\n%s\nserver:\n%s",
              argv[0], st, out_buf, err_buf, srv.proc.err);
    return out_buf;
}

static const char *wpath(const char *rel)
{
    static char slots[4][1200];
    static unsigned next;
    char *b = slots[next++ % 4];
    snprintf(b, sizeof slots[0], "%s/%s", work, rel);
    return b;
}

Test(interop, python_ftplib)
{
    need("/usr/bin/python3");
    char port[16];
    snprintf(port, sizeof port, "%d", srv.port);
    char *argv[] = {"/usr/bin/python3",
                    (char *)ts_source_path("tests/ftpd/ftplib_client.py"),
                    "127.0.0.1", port, "alice", "s3cret",
                    (char *)ftx_home_path(&srv, "alice", NULL), work, NULL};
    const char *out = run_ok(argv);
    cr_expect(strstr(out, "OK\n"), "%s", out);
}

#define CURL "/usr/bin/curl"

Test(interop, curl_list_download_upload)
{
    need(CURL);
    ftx_make_file(ftx_home_path(&srv, "alice", "down.bin"), 2 * 1024 * 1024 + 3, 7);
    char u[512];
    snprintf(u, sizeof u, "%s/", url);
    char *ls[] = {CURL, "-sS", "--max-time", "60", "-u", "alice:s3cret", u, NULL};
    cr_expect(strstr(run_ok(ls), " down.bin"), "%s", out_buf);
    snprintf(u, sizeof u, "%s/down.bin", url);
    char *get[] = {CURL, "-sS", "--max-time", "60", "-u", "alice:s3cret", "-o",
                   (char *)wpath("down.bin"), u, NULL};
    run_ok(get);
    ftx_expect_same_files(wpath("down.bin"), ftx_home_path(&srv, "alice", "down.bin"));
    ftx_make_file(wpath("up.bin"), 1500000, 8);
    snprintf(u, sizeof u, "%s/up.bin", url);
    char *put[] = {CURL, "-sS", "--max-time", "60", "-u", "alice:s3cret", "-T",
                   (char *)wpath("up.bin"), u, NULL};
    run_ok(put);
    ftx_expect_same_files(wpath("up.bin"), ftx_home_path(&srv, "alice", "up.bin"));
    /* active mode (EPRT/PORT) */
    snprintf(u, sizeof u, "%s/down.bin", url);
    char *active[] = {CURL, "-sS", "--max-time", "60", "-P", "-", "-u",
                      "alice:s3cret", "-o", (char *)wpath("active.bin"), u, NULL};
    run_ok(active);
    ftx_expect_same_files(wpath("active.bin"), ftx_home_path(&srv, "alice", "down.bin"));
}

Test(interop, curl_resume_both_ways)
{
    need(CURL);
    size_t n = 3000000;
    char *d = malloc(n);
    ftx_fill(d, n, 11);
    /* download resume: a local partial file, curl -C - (REST + RETR) */
    ftx_write_file(ftx_home_path(&srv, "alice", "r.bin"), d, n);
    ftx_write_file(wpath("r.bin"), d, 1000000);
    char u[512];
    snprintf(u, sizeof u, "%s/r.bin", url);
    char *get[] = {CURL, "-sS", "--max-time", "60", "-C", "-", "-u",
                   "alice:s3cret", "-o", (char *)wpath("r.bin"), u, NULL};
    run_ok(get);
    ftx_expect_same_files(wpath("r.bin"), ftx_home_path(&srv, "alice", "r.bin"));
    /* upload resume: a remote partial file, curl -C - -T (SIZE + APPE) */
    ftx_write_file(wpath("u.bin"), d, n);
    ftx_write_file(ftx_home_path(&srv, "alice", "u.bin"), d, 1234567);
    snprintf(u, sizeof u, "%s/u.bin", url);
    char *put[] = {CURL, "-sS", "--max-time", "60", "-C", "-", "-u",
                   "alice:s3cret", "-T", (char *)wpath("u.bin"), u, NULL};
    run_ok(put);
    ftx_expect_same_files(wpath("u.bin"), ftx_home_path(&srv, "alice", "u.bin"));
    free(d);
}

Test(interop, curl_ftp_create_dirs)
{
    need(CURL);
    ftx_write_file(wpath("deep.txt"), "deep\n", 5);
    char u[512];
    snprintf(u, sizeof u, "%s/a/b/c/deep.txt", url);
    char *put[] = {CURL, "-sS", "--max-time", "60", "--ftp-create-dirs", "-u",
                   "alice:s3cret", "-T", (char *)wpath("deep.txt"), u, NULL};
    run_ok(put);
    ftx_expect_same_files(wpath("deep.txt"), ftx_home_path(&srv, "alice", "a/b/c/deep.txt"));
}

#define LFTP "/usr/bin/lftp"

static const char *lftp(const char *script)
{
    char port[16], full[4096];
    snprintf(port, sizeof port, "%d", srv.port);
    snprintf(full, sizeof full,
             "set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 20; "
             "set cmd:fail-exit yes; set xfer:clobber yes; lcd %s; %s; bye",
             work, script);
    char *argv[] = {LFTP, "-u", "alice,s3cret", "-p", port, "-e", full,
                    "127.0.0.1", NULL};
    return run_ok(argv);
}

Test(interop, lftp_mirror_both_ways)
{
    need(LFTP);
    mkdir(ftx_home_path(&srv, "alice", "tree"), 0755);
    mkdir(ftx_home_path(&srv, "alice", "tree/sub"), 0755);
    ftx_make_file(ftx_home_path(&srv, "alice", "tree/one.bin"), 100000, 21);
    ftx_make_file(ftx_home_path(&srv, "alice", "tree/sub/two.bin"), 300000, 22);
    lftp("mirror tree got");
    ftx_expect_same_files(wpath("got/one.bin"), ftx_home_path(&srv, "alice", "tree/one.bin"));
    ftx_expect_same_files(wpath("got/sub/two.bin"),
               ftx_home_path(&srv, "alice", "tree/sub/two.bin"));
    lftp("mirror -R got back");
    ftx_expect_same_files(wpath("got/sub/two.bin"),
               ftx_home_path(&srv, "alice", "back/sub/two.bin"));
}

Test(interop, lftp_get_c_and_put_c_resume)
{
    need(LFTP);
    size_t n = 2500000;
    char *d = malloc(n);
    ftx_fill(d, n, 31);
    ftx_write_file(ftx_home_path(&srv, "alice", "g.bin"), d, n);
    ftx_write_file(wpath("g.bin"), d, 700000);
    lftp("get -c g.bin");
    ftx_expect_same_files(wpath("g.bin"), ftx_home_path(&srv, "alice", "g.bin"));
    ftx_write_file(wpath("p.bin"), d, n);
    ftx_write_file(ftx_home_path(&srv, "alice", "p.bin"), d, 900000);
    lftp("put -c p.bin");
    ftx_expect_same_files(wpath("p.bin"), ftx_home_path(&srv, "alice", "p.bin"));
    free(d);
}
