/* tests/ftp-client/test_resume.c - connections cut mid-transfer (by
 * cutproxy.py), then resumed: by running the same command again, with
 * put -c, and by --retries on its own; a remote file changed between the
 * cut and the retry is caught by the range checksum and fetched again from
 * zero. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ftpc_test.h"

#define SIZE (24u << 20)
#define CUT (6L << 20)

static char dir[512], root[600], local[600], part[700];
static ftpt_server srv, proxy;

static void setup_dirs(void)
{
    ts_mkdtemp("ftpc-resume", dir, sizeof dir);
    cr_assert(dir[0]);
    snprintf(root, sizeof root, "%s/root", dir);
    snprintf(local, sizeof local, "%s/local", dir);
    snprintf(part, sizeof part, "%s/local/big.bin.part", dir);
    cr_assert_eq(mkdir(root, 0755), 0);
    cr_assert_eq(mkdir(local, 0755), 0);
}

static void start(const char *const *opts)
{
    ftpt_server_start(&srv, root, opts);
    ftpt_proxy_start(&proxy, &srv, CUT);
}

static void setup(void)
{
    setup_dirs();
    start(NULL);
}

static void teardown(void)
{
    ftpt_stop(&proxy);
    ftpt_stop(&srv);
    ts_rmtree(dir);
}

TestSuite(resume, .init = setup, .fini = teardown, .timeout = 240);
/* A suite's .init runs before a test's: own servers need their own suite. */
TestSuite(resume_own_server, .init = setup_dirs, .fini = teardown, .timeout = 240);

/* A get through the proxy that is cut and not retried: exit 1 and a
 * partial .part. */
static void cut_get(void)
{
    ftpt_run *r = ftpt_client(NULL, "--retries", "0", proxy.url, "get", "big.bin",
                              ftpt_path(local, "big.bin"), NULL);
    cr_assert_eq(r->code, 1, "exit %d: %s", r->code, r->err);
    long long have = ftpt_size(part);
    cr_assert(have > 0 && have < SIZE, ".part has %lld bytes", have);
    cr_assert_eq(ftpt_size(ftpt_path(local, "big.bin")), -1);
    free(r);
}

Test(resume, get_cut_then_same_command_resumes_and_verifies)
{
    ftpt_make_file(ftpt_path(root, "big.bin"), SIZE, 1);
    cut_get();
    long long have = ftpt_size(part);
    ftpt_run *r = ftpt_client(NULL, srv.url, "get", "big.bin",
                              ftpt_path(local, "big.bin"), NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    char want[64];
    snprintf(want, sizeof want, "resuming at byte %lld", have);
    cr_assert(strstr(r->err, want), "no '%s' in: %s", want, r->err);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    cr_assert(ftpt_same_file(ftpt_path(root, "big.bin"), ftpt_path(local, "big.bin")));
    cr_assert_eq(ftpt_size(part), -1);
    free(r);
}

Test(resume, get_of_a_file_changed_since_the_cut_starts_over)
{
    const char *remote = ftpt_path(root, "big.bin");
    ftpt_make_file(remote, SIZE, 2);
    cut_get();
    /* Same size, other bytes at the start: only a checksum can tell. */
    int fd = open(remote, O_WRONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(pwrite(fd, "CHANGED!", 8, 100), 8);
    close(fd);
    ftpt_run *r = ftpt_client(NULL, srv.url, "get", "big.bin",
                              ftpt_path(local, "big.bin"), NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "changed") && strstr(r->err, "starting over from zero"),
              "%s", r->err);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    cr_assert(ftpt_same_file(remote, ftpt_path(local, "big.bin")));
    free(r);
}

Test(resume, get_retries_on_its_own_after_a_cut)
{
    ftpt_make_file(ftpt_path(root, "big.bin"), SIZE, 3);
    ftpt_run *r = ftpt_client(NULL, "--retries", "2", "--retry-delay", "0", proxy.url,
                              "get", "big.bin", ftpt_path(local, "big.bin"), NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "retrying (1 of 2)"), "%s", r->err);
    cr_assert(strstr(r->err, "resuming at byte"), "%s", r->err);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    cr_assert(ftpt_same_file(ftpt_path(root, "big.bin"), ftpt_path(local, "big.bin")));
    free(r);
}

Test(resume, put_cut_then_put_c_resumes_and_verifies)
{
    const char *src = ftpt_path(local, "big.bin");
    ftpt_make_file(src, SIZE, 4);
    ftpt_run *r = ftpt_client(NULL, "--retries", "0", proxy.url, "put", src,
                              "big.bin", NULL);
    cr_assert_eq(r->code, 1, "exit %d: %s", r->code, r->err);
    free(r);
    /* pyftpdlib keeps what arrived; wait (bounded) until it is on disk. */
    double deadline = ts_now() + 10;
    long long have;
    while ((have = ftpt_size(ftpt_path(root, "big.bin"))) <= 0 && ts_now() < deadline)
        usleep(20000);
    cr_assert(have > 0 && have < SIZE, "server has %lld bytes", have);
    r = ftpt_client(NULL, srv.url, "put", "-c", src, "big.bin", NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "resuming upload at byte"), "%s", r->err);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    cr_assert(ftpt_same_file(src, ftpt_path(root, "big.bin")));
    free(r);
}

Test(resume, put_c_over_a_different_remote_file_uploads_from_zero)
{
    const char *src = ftpt_path(local, "big.bin");
    ftpt_make_file(src, 3u << 20, 5);
    ftpt_make_file(ftpt_path(root, "big.bin"), 1u << 20, 6); /* not a prefix */
    ftpt_run *r = ftpt_client(NULL, srv.url, "put", "-c", src, "big.bin", NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "uploading from zero"), "%s", r->err);
    cr_assert(ftpt_same_file(src, ftpt_path(root, "big.bin")));
    free(r);
}

Test(resume, put_retries_on_its_own_after_a_cut)
{
    const char *src = ftpt_path(local, "big.bin");
    ftpt_make_file(src, SIZE, 7);
    ftpt_run *r = ftpt_client(NULL, "--retries", "3", "--retry-delay", "0.2",
                              proxy.url, "put", src, "big.bin", NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "retrying (1 of 3)"), "%s", r->err);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    cr_assert(ftpt_same_file(src, ftpt_path(root, "big.bin")));
    free(r);
}

Test(resume_own_server, without_checksums_resume_compares_the_overlap)
{
    const char *opts[] = {"--plain", NULL};
    start(opts);
    const char *remote = ftpt_path(root, "big.bin");
    ftpt_make_file(remote, SIZE, 8);
    cut_get();
    long long have = ftpt_size(part);
    ftpt_run *r = ftpt_client(NULL, srv.url, "get", "big.bin",
                              ftpt_path(local, "big.bin"), NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "cannot checksum a range"), "%s", r->err);
    cr_assert(strstr(r->err, "not verified"), "%s", r->err);
    cr_assert(ftpt_same_file(remote, ftpt_path(local, "big.bin")));
    free(r);
    /* Cut again, change the bytes just before the cut: the overlap sees it. */
    cr_assert_eq(unlink(ftpt_path(local, "big.bin")), 0);
    ftpt_stop(&proxy);
    ftpt_proxy_start(&proxy, &srv, CUT);
    cut_get();
    have = ftpt_size(part);
    int fd = open(remote, O_WRONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(pwrite(fd, "X", 1, have - 10), 1);
    close(fd);
    r = ftpt_client(NULL, srv.url, "get", "big.bin", ftpt_path(local, "big.bin"), NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "starting over from zero"), "%s", r->err);
    cr_assert(ftpt_same_file(remote, ftpt_path(local, "big.bin")));
    free(r);
}

/* Writes the first n bytes of src into dst (a .part left by a cut). */
static void make_part(const char *src, const char *dst, size_t n)
{
    int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(in >= 0 && out >= 0);
    char *buf = malloc(n);
    cr_assert(buf);
    cr_assert_eq(read(in, buf, n), (ssize_t)n);
    cr_assert_eq(write(out, buf, n), (ssize_t)n);
    free(buf);
    close(in);
    close(out);
}

/* Times the server printed line (its stdout so far). */
static int server_said(const char *line)
{
    ts_drain(&srv.proc);
    int n = 0;
    for (const char *p = srv.proc.out; (p = strstr(p, line)) != NULL; p++)
        n++;
    return n;
}

/* A server that lists XSHA256/XSHA1/XMD5 in FEAT but answers every ranged
 * form with 550: two resumes in one session fall back to comparing the
 * overlap, the refusals are asked once per command for the whole session,
 * and both files are still verified whole with XSHA256. */
Test(resume_own_server, x_checksums_of_the_path_only_fall_back_to_the_overlap)
{
    const char *opts[] = {"--x-path-only", "XSHA256,XSHA1,XMD5", NULL};
    start(opts);
    const char *names[] = {"a.bin", "b.bin"};
    for (int i = 0; i < 2; i++) {
        ftpt_make_file(ftpt_path(root, names[i]), 3u << 20, 20 + (unsigned)i);
        char p[700];
        snprintf(p, sizeof p, "%s/%s.part", local, names[i]);
        make_part(ftpt_path(root, names[i]), p, 1u << 20);
    }
    char script[2048];
    snprintf(script, sizeof script, "get a.bin %s/a.bin; get b.bin %s/b.bin", local,
             local);
    ftpt_run *r = ftpt_client(NULL, "-c", script, srv.url, NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_expect(strstr(r->err, "resuming at byte 1048576"), "%s", r->err);
    cr_expect(strstr(r->err, "comparing the last"), "%s", r->err);
    cr_expect(!strstr(r->err, "550"), "the refusals are not errors: %s", r->err);
    for (int i = 0; i < 2; i++)
        cr_expect(ftpt_same_file(ftpt_path(root, names[i]), ftpt_path(local, names[i])),
                  "%s", names[i]);
    const char *cmds[] = {"refused ranged XSHA256", "refused ranged XSHA1",
                          "refused ranged XMD5"};
    for (int i = 0; i < 3; i++)
        cr_expect_eq(server_said(cmds[i]), 1, "%s asked %d times for two resumes",
                     cmds[i] + 15, server_said(cmds[i]));
    cr_expect(strstr(r->err, "verified sha256"), "%s", r->err);
    free(r);

    /* An upload resume against it completes too (put -c). */
    const char *src = ftpt_path(local, "up.bin");
    ftpt_make_file(src, 3u << 20, 30);
    make_part(src, ftpt_path(root, "up.bin"), 1u << 20);
    r = ftpt_client(NULL, srv.url, "put", "-c", src, "up.bin", NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_expect(strstr(r->err, "resuming upload at byte 1048576"), "%s", r->err);
    cr_expect(strstr(r->err, "verified sha256"), "%s", r->err);
    cr_expect(ftpt_same_file(src, ftpt_path(root, "up.bin")));
    free(r);
}

/* Only XSHA256 is path-only: the part is checked with the next command
 * that takes a range (XSHA1), not by fetching bytes again. */
Test(resume_own_server, a_path_only_xsha256_falls_back_to_xsha1)
{
    const char *opts[] = {"--x-path-only", "XSHA256", NULL};
    start(opts);
    ftpt_make_file(ftpt_path(root, "c.bin"), 3u << 20, 40);
    make_part(ftpt_path(root, "c.bin"), ftpt_path(local, "c.bin.part"), 1u << 20);
    ftpt_run *r = ftpt_client(NULL, srv.url, "get", "c.bin",
                              ftpt_path(local, "c.bin"), NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_expect(strstr(r->err, "resuming at byte 1048576 (sha1 of the first 1048576 "
                             "bytes matches)"), "%s", r->err);
    cr_expect(strstr(r->err, "verified sha256"), "%s", r->err);
    cr_expect(ftpt_same_file(ftpt_path(root, "c.bin"), ftpt_path(local, "c.bin")));
    free(r);
}
