/* tests/ftp-client/test_ftpd.c - the same non-interactive runs against our
 * own server, sockserv-ftpd, when the build has it (skipped otherwise):
 * whole files byte for byte, resume both ways after a cut, a file changed
 * between the cut and the retry, --retries. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ftpc_test.h"

static char dir[512], home[600], local[600], part[700];
static ftpt_server srv, proxy;

static void setup(void)
{
    if (!ftpt_ftpd_built())
        cr_skip_test("sockserv-ftpd is not built");
    ts_mkdtemp("ftpc-ftpd", dir, sizeof dir);
    cr_assert(dir[0]);
    snprintf(home, sizeof home, "%s/home/alice", dir);
    snprintf(local, sizeof local, "%s/local", dir);
    snprintf(part, sizeof part, "%s/local/big.bin.part", dir);
    cr_assert_eq(mkdir(local, 0755), 0);
    ftpt_ftpd_start(&srv, dir, home);
}

static void teardown(void)
{
    ftpt_stop(&proxy);
    ftpt_stop(&srv);
    if (dir[0])
        ts_rmtree(dir);
}

TestSuite(ftpd, .init = setup, .fini = teardown, .timeout = 300);

static void roundtrip(const char *name, uint64_t size)
{
    const char *src = ftpt_path(local, name);
    ftpt_make_file(src, size, (uint32_t)size + 1);
    ftpt_run *r = ftpt_client(NULL, srv.url, "put", src, name, NULL);
    cr_assert_eq(r->code, 0, "put exit %d: %s", r->code, r->err);
    cr_assert(ftpt_same_file(src, ftpt_path(home, name)), "upload of %s differs", name);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    cr_assert_eq(ftpt_lines(r->err), 1, "%s", r->err);
    free(r);
    char back[700];
    snprintf(back, sizeof back, "%s.back", src);
    r = ftpt_client(NULL, srv.url, "get", name, back, NULL);
    cr_assert_eq(r->code, 0, "get exit %d: %s", r->code, r->err);
    cr_assert(ftpt_same_file(src, back), "download of %s differs", name);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    free(r);
}

Test(ftpd, empty_file_both_ways) { roundtrip("empty", 0); }
Test(ftpd, small_file_both_ways) { roundtrip("small.txt", 1234); }
Test(ftpd, file_of_100mb_both_ways) { roundtrip("big.bin", 100u << 20); }

#define SIZE (24u << 20)
#define CUT (6L << 20)

static void cut_get(void)
{
    ftpt_run *r = ftpt_client(NULL, "--retries", "0", proxy.url, "get", "big.bin",
                              ftpt_path(local, "big.bin"), NULL);
    cr_assert_eq(r->code, 1, "exit %d: %s", r->code, r->err);
    long long have = ftpt_size(part);
    cr_assert(have > 0 && have < SIZE, ".part has %lld bytes", have);
    free(r);
}

Test(ftpd, get_resumes_after_a_cut_and_restarts_when_changed)
{
    const char *remote = ftpt_path(home, "big.bin");
    ftpt_make_file(remote, SIZE, 1);
    ftpt_proxy_start(&proxy, &srv, CUT);
    cut_get();
    ftpt_run *r = ftpt_client(NULL, srv.url, "get", "big.bin",
                              ftpt_path(local, "big.bin"), NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "resuming at byte"), "%s", r->err);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    cr_assert(ftpt_same_file(remote, ftpt_path(local, "big.bin")));
    free(r);

    cr_assert_eq(unlink(ftpt_path(local, "big.bin")), 0);
    ftpt_stop(&proxy);
    ftpt_proxy_start(&proxy, &srv, CUT);
    cut_get();
    int fd = open(remote, O_WRONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(pwrite(fd, "CHANGED!", 8, 4096), 8);
    close(fd);
    r = ftpt_client(NULL, srv.url, "get", "big.bin", ftpt_path(local, "big.bin"), NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "starting over from zero"), "%s", r->err);
    cr_assert(ftpt_same_file(remote, ftpt_path(local, "big.bin")));
    free(r);
}

Test(ftpd, put_resumes_after_a_cut)
{
    const char *src = ftpt_path(local, "big.bin");
    ftpt_make_file(src, SIZE, 2);
    ftpt_proxy_start(&proxy, &srv, CUT);
    ftpt_run *r = ftpt_client(NULL, "--retries", "0", proxy.url, "put", src, "big.bin",
                              NULL);
    cr_assert_eq(r->code, 1, "exit %d: %s", r->code, r->err);
    free(r);
    r = ftpt_client(NULL, srv.url, "put", "-c", src, "big.bin", NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    cr_assert(ftpt_same_file(src, ftpt_path(home, "big.bin")));
    free(r);
}

Test(ftpd, retries_recover_both_ways)
{
    const char *src = ftpt_path(local, "up.bin");
    ftpt_make_file(src, SIZE, 3);
    ftpt_proxy_start(&proxy, &srv, CUT);
    ftpt_run *r = ftpt_client(NULL, "--retries", "3", "--retry-delay", "0.2",
                              proxy.url, "put", src, "up.bin", NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "retrying (1 of 3)"), "%s", r->err);
    cr_assert(ftpt_same_file(src, ftpt_path(home, "up.bin")));
    free(r);
    ftpt_stop(&proxy);
    ftpt_proxy_start(&proxy, &srv, CUT);
    r = ftpt_client(NULL, "--retries", "3", "--retry-delay", "0", proxy.url, "get",
                    "up.bin", ftpt_path(local, "down.bin"), NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "retrying (1 of 3)"), "%s", r->err);
    cr_assert(ftpt_same_file(src, ftpt_path(local, "down.bin")));
    free(r);
}
