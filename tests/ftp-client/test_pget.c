/* tests/ftp-client/test_pget.c - segmented downloads (pget -n N, get
 * --segments N) against pyftpdlib: byte for byte and verified, the speed-up
 * over a server that paces each connection, resume after a cut from the
 * state file, and the fallbacks (no checksum, a small file). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ftpc_test.h"

static char dir[512], root[600], local[600];
static ftpt_server srv, proxy;

static void setup(void)
{
    ts_mkdtemp("ftpc-pget", dir, sizeof dir);
    cr_assert(dir[0]);
    snprintf(root, sizeof root, "%s/root", dir);
    snprintf(local, sizeof local, "%s/local", dir);
    cr_assert_eq(mkdir(root, 0755), 0);
    cr_assert_eq(mkdir(local, 0755), 0);
}

static void teardown(void)
{
    ftpt_stop(&proxy);
    ftpt_stop(&srv);
    ts_rmtree(dir);
}

TestSuite(pget, .init = setup, .fini = teardown, .timeout = 240);

#define OK(r) cr_assert_eq((r)->code, 0, "exit %d: %s", (r)->code, (r)->err)

/* "NAME: SIZE in T s (...)": the seconds. */
static double seconds_of(const char *err)
{
    const char *in = strstr(err, " in ");
    cr_assert(in, "%s", err);
    return atof(in + 4);
}

Test(pget, four_segments_on_a_paced_server_go_at_least_3_5_times_as_fast)
{
    const double R = 256 * 1024;
    const char *const paced[] = {"--throttle", "262144", NULL};
    ftpt_server_start(&srv, root, paced);
    ftpt_make_file(ftpt_path(root, "one.bin"), 1u << 20, 1);
    ftpt_make_file(ftpt_path(root, "big.bin"), 4u << 20, 2);

    /* The reference, in this run: one connection. */
    ftpt_run *r = ftpt_client(NULL, srv.url, "get", "one.bin",
                              ftpt_path(local, "one.bin"), NULL);
    OK(r);
    double one = (double)(1u << 20) / seconds_of(r->err);
    free(r);

    r = ftpt_client(NULL, srv.url, "pget", "-n", "4", "big.bin",
                    ftpt_path(local, "big.bin"), NULL);
    OK(r);
    cr_assert(strstr(r->err, "4 segments, verified sha256"), "%s", r->err);
    double four = (double)(4u << 20) / seconds_of(r->err);
    free(r);
    cr_assert(ftpt_same_file(ftpt_path(root, "big.bin"), ftpt_path(local, "big.bin")));
    double ref = one < R ? one : R;
    cr_log_info("pget: one connection %.0f B/s, four segments %.0f B/s (%.2fx)", one,
                four, four / ref);
#ifdef FTPT_SANITIZED
    const double need = 2.5;
#else
    const double need = 3.5; /* the figure */
#endif
    cr_assert(four >= need * ref, "four segments: %.0f B/s, one connection %.0f B/s",
              four, one);
}

Test(pget, get_segments_is_byte_exact_and_leaves_no_state)
{
    ftpt_server_start(&srv, root, NULL);
    /* Not a multiple of 3: the last range is longer. */
    ftpt_make_file(ftpt_path(root, "f.bin"), (5u << 20) + 7, 3);
    const char *out = ftpt_path(local, "f.bin");
    ftpt_run *r = ftpt_client(NULL, srv.url, "get", "--segments", "3", "f.bin", out, NULL);
    OK(r);
    cr_assert(strstr(r->err, "3 segments, verified sha256"), "%s", r->err);
    cr_assert_eq(ftpt_lines(r->err), 1, "%s", r->err);
    free(r);
    cr_assert(ftpt_same_file(ftpt_path(root, "f.bin"), out));
    cr_assert_eq(ftpt_size(ftpt_path(local, "f.bin.part")), -1);
    cr_assert_eq(ftpt_size(ftpt_path(local, "f.bin.part.pget")), -1);
}

Test(pget, a_cut_segment_is_resumed_by_the_same_command)
{
    ftpt_server_start(&srv, root, NULL);
    ftpt_make_file(ftpt_path(root, "big.bin"), 8u << 20, 4);
    /* The first session to move 1.5 MiB loses its connections. */
    ftpt_proxy_start(&proxy, &srv, (3l << 20) / 2);
    const char *out = ftpt_path(local, "big.bin");
    ftpt_run *r = ftpt_client(NULL, "--retries", "0", proxy.url, "pget", "-n", "4",
                              "big.bin", out, NULL);
    cr_assert_eq(r->code, 1, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "resumed by the same command"), "%s", r->err);
    free(r);
    cr_assert_eq(ftpt_size(out), -1);
    cr_assert(ftpt_size(ftpt_path(local, "big.bin.part.pget")) > 0);

    r = ftpt_client(NULL, srv.url, "pget", "-n", "4", "big.bin", out, NULL);
    OK(r);
    cr_assert(strstr(r->err, "resuming 4 segments at "), "%s", r->err);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    /* Only what was missing moved: the summary says where it resumed. */
    cr_assert(strstr(r->err, "resumed at "), "%s", r->err);
    free(r);
    cr_assert(ftpt_same_file(ftpt_path(root, "big.bin"), out));
    cr_assert_eq(ftpt_size(ftpt_path(local, "big.bin.part.pget")), -1);
}

Test(pget, a_cut_segment_reconnects_within_one_run)
{
    ftpt_server_start(&srv, root, NULL);
    ftpt_make_file(ftpt_path(root, "big.bin"), 8u << 20, 5);
    ftpt_proxy_start(&proxy, &srv, 1l << 20);
    const char *out = ftpt_path(local, "big.bin");
    ftpt_run *r = ftpt_client(NULL, "--retry-delay", "0", proxy.url, "pget", "-n", "4",
                              "big.bin", out, NULL);
    OK(r);
    cr_assert(strstr(r->err, "retrying (1 of 3)"), "%s", r->err);
    free(r);
    cr_assert(ftpt_same_file(ftpt_path(root, "big.bin"), out));
}

Test(pget, without_checksums_it_says_not_verified)
{
    const char *const plain[] = {"--plain", NULL};
    ftpt_server_start(&srv, root, plain);
    ftpt_make_file(ftpt_path(root, "f.bin"), 2u << 20, 6);
    const char *out = ftpt_path(local, "f.bin");
    ftpt_run *r = ftpt_client(NULL, srv.url, "pget", "f.bin", out, NULL);
    OK(r);
    cr_assert(strstr(r->err, "4 segments, not verified"), "%s", r->err);
    free(r);
    cr_assert(ftpt_same_file(ftpt_path(root, "f.bin"), out));
}

Test(pget, a_small_file_is_fetched_whole)
{
    ftpt_server_start(&srv, root, NULL);
    ftpt_make_file(ftpt_path(root, "s.txt"), 1000, 7);
    const char *out = ftpt_path(local, "s.txt");
    ftpt_run *r = ftpt_client(NULL, srv.url, "pget", "-n", "8", "s.txt", out, NULL);
    OK(r);
    cr_assert(!strstr(r->err, "segments"), "%s", r->err);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    free(r);
    cr_assert(ftpt_same_file(ftpt_path(root, "s.txt"), out));
}

/* Against our own server: the ranges cut short by closing the data
 * connection leave its sessions usable, and the result is verified. */
static void ftpd_setup(void)
{
    setup();
    if (!ftpt_ftpd_built())
        cr_skip_test("sockserv-ftpd is not built");
    ftpt_ftpd_start(&srv, dir, ftpt_path(dir, "home/alice"));
}

TestSuite(pget_ftpd, .init = ftpd_setup, .fini = teardown, .timeout = 240);

Test(pget_ftpd, four_segments_byte_exact_and_verified)
{
    char home[700], src[800];
    snprintf(home, sizeof home, "%s/home/alice", dir);
    /* The home exists once the server ran user add. */
    snprintf(src, sizeof src, "%s/big.bin", home);
    ftpt_make_file(src, (6u << 20) + 3, 8);
    const char *out = ftpt_path(local, "big.bin");
    ftpt_run *r = ftpt_client(NULL, srv.url, "pget", "-n", "4", "big.bin", out, NULL);
    OK(r);
    cr_assert(strstr(r->err, "4 segments, verified sha256"), "%s", r->err);
    free(r);
    cr_assert(ftpt_same_file(src, out));
}

Test(pget, a_state_without_its_part_starts_over)
{
    ftpt_server_start(&srv, root, NULL);
    ftpt_make_file(ftpt_path(root, "big.bin"), 4u << 20, 9);
    ftpt_proxy_start(&proxy, &srv, 1l << 20);
    const char *out = ftpt_path(local, "big.bin");
    ftpt_run *r = ftpt_client(NULL, "--retries", "0", proxy.url, "pget", "-n", "2",
                              "big.bin", out, NULL);
    cr_assert_eq(r->code, 1, "exit %d: %s", r->code, r->err);
    free(r);
    cr_assert_eq(unlink(ftpt_path(local, "big.bin.part")), 0);
    r = ftpt_client(NULL, srv.url, "pget", "-n", "2", "big.bin", out, NULL);
    OK(r);
    cr_assert(!strstr(r->err, "resuming"), "%s", r->err);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    free(r);
    cr_assert(ftpt_same_file(ftpt_path(root, "big.bin"), out));
}

Test(pget, a_bad_segment_count_is_refused_before_connecting)
{
    ftpt_run *r = ftpt_client(NULL, "127.0.0.1:1", "pget", "-n", "0", "f", NULL);
    cr_assert_eq(r->code, 2, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "-n wants a number from 1 to 16"), "%s", r->err);
    free(r);
    r = ftpt_client(NULL, "127.0.0.1:1", "get", "--segments", "x", "f", NULL);
    cr_assert_eq(r->code, 2, "exit %d: %s", r->code, r->err);
    free(r);
}
