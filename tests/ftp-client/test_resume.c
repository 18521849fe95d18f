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
