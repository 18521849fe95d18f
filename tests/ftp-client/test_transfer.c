/* tests/ftp-client/test_transfer.c - whole-file get/put against pyftpdlib,
 * byte for byte, verified when the server can tell checksums; passive,
 * active and IPv6; the documented exit codes. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ftpc_test.h"

static char dir[512], root[600], local[600];
static ftpt_server srv;

static void setup_dirs(void)
{
    ts_mkdtemp("ftpc", dir, sizeof dir);
    cr_assert(dir[0]);
    snprintf(root, sizeof root, "%s/root", dir);
    snprintf(local, sizeof local, "%s/local", dir);
    cr_assert_eq(mkdir(root, 0755), 0);
    cr_assert_eq(mkdir(local, 0755), 0);
}

static void setup(void)
{
    setup_dirs();
    ftpt_server_start(&srv, root, NULL);
}

static void teardown(void)
{
    ftpt_stop(&srv);
    ts_rmtree(dir);
}

/* get REMOTE: byte-exact, verified, no .part left, one summary line. */
static void check_get(const char *name, uint64_t size)
{
    ftpt_make_file(ftpt_path(root, name), size, (uint32_t)size);
    const char *out = ftpt_path(local, name);
    ftpt_run *r = ftpt_client(NULL, srv.url, "get", name, out, NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(ftpt_same_file(ftpt_path(root, name), out), "%s differs", name);
    char part[700];
    snprintf(part, sizeof part, "%s.part", out);
    cr_assert_eq(ftpt_size(part), -1, ".part left behind");
    cr_assert(strstr(r->err, "verified sha256"), "stderr: %s", r->err);
    cr_assert_eq(ftpt_lines(r->err), 1, "stderr: %s", r->err);
    free(r);
}

static void check_put(const char *name, uint64_t size)
{
    const char *src = ftpt_path(local, name);
    ftpt_make_file(src, size, (uint32_t)size + 7);
    ftpt_run *r = ftpt_client(NULL, srv.url, "put", src, name, NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(ftpt_same_file(src, ftpt_path(root, name)), "%s differs", name);
    cr_assert(strstr(r->err, "verified sha256"), "stderr: %s", r->err);
    cr_assert_eq(ftpt_lines(r->err), 1, "stderr: %s", r->err);
    free(r);
}

TestSuite(transfer, .init = setup, .fini = teardown, .timeout = 240);
/* Tests that start their own kind of server (a suite's .init runs before a
 * test's, so they cannot share the suite above). */
TestSuite(transfer_own_server, .init = setup_dirs, .fini = teardown, .timeout = 240);

Test(transfer, get_empty_file_is_created_and_verified) { check_get("empty", 0); }
Test(transfer, get_small_file_is_byte_exact) { check_get("small.txt", 1234); }
Test(transfer, get_100mb_file_is_byte_exact) { check_get("big.bin", 100u << 20); }
Test(transfer, put_empty_file_is_created_and_verified) { check_put("empty", 0); }
Test(transfer, put_small_file_is_byte_exact) { check_put("small.txt", 1234); }
Test(transfer, put_100mb_file_is_byte_exact) { check_put("big.bin", 100u << 20); }

Test(transfer, ls_lists_the_remote_directory)
{
    ftpt_make_file(ftpt_path(root, "one.txt"), 10, 1);
    cr_assert_eq(mkdir(ftpt_path(root, "sub"), 0755), 0);
    ftpt_run *r = ftpt_client(NULL, srv.url, "ls", NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->out, "one.txt") && strstr(r->out, "sub"), "out: %s", r->out);
    free(r);
}

Test(transfer, get_without_local_name_uses_the_remote_base_name)
{
    cr_assert_eq(mkdir(ftpt_path(root, "d"), 0755), 0);
    ftpt_make_file(ftpt_path(root, "d/f.bin"), 5000, 3);
    char *argv[] = {"/bin/sh", "-c", NULL, NULL};
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && exec '%s' -q '%s' get d/f.bin", local,
             ftpt_client_path(), srv.url);
    argv[2] = cmd;
    ftpt_run *r = ftpt_runv(NULL, argv);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(ftpt_same_file(ftpt_path(root, "d/f.bin"), ftpt_path(local, "f.bin")));
    cr_assert_str_empty(r->err, "--quiet printed: %s", r->err);
    free(r);
}

Test(transfer, active_mode_get_and_put)
{
    ftpt_make_file(ftpt_path(root, "a.bin"), 300000, 5);
    ftpt_make_file(ftpt_path(local, "b.bin"), 200000, 6);
    char script[2048];
    snprintf(script, sizeof script, "get a.bin %s/a.bin; put %s/b.bin b.bin", local,
             local);
    ftpt_run *r = ftpt_client(NULL, "--active", "-v", "-c", script, srv.url, NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "--> EPRT |1|127.0.0.1|"), "no EPRT: %s", r->err);
    cr_assert(ftpt_same_file(ftpt_path(root, "a.bin"), ftpt_path(local, "a.bin")));
    cr_assert(ftpt_same_file(ftpt_path(local, "b.bin"), ftpt_path(root, "b.bin")));
    free(r);
}

Test(transfer_own_server, ipv6_get_and_put_over_epsv)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool v6 = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    if (!v6)
        cr_skip_test("no IPv6 loopback here");
    const char *opts[] = {"--host", "::1", NULL};
    ftpt_server_start(&srv, root, opts);
    cr_assert(srv.addr[0] == '[', "addr %s", srv.addr);
    ftpt_make_file(ftpt_path(root, "six.bin"), 123456, 9);
    ftpt_make_file(ftpt_path(local, "up.bin"), 65432, 10);
    char script[2048], url[300];
    snprintf(script, sizeof script, "get six.bin %s/six.bin; put %s/up.bin up.bin",
             local, local);
    snprintf(url, sizeof url, "ftp://%s/", srv.url);
    ftpt_run *r = ftpt_client(NULL, "-v", "-c", script, url, NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "--> EPSV"), "%s", r->err);
    cr_assert(ftpt_same_file(ftpt_path(root, "six.bin"), ftpt_path(local, "six.bin")));
    cr_assert(ftpt_same_file(ftpt_path(local, "up.bin"), ftpt_path(root, "up.bin")));
    free(r);
}

Test(transfer_own_server, plain_server_transfers_are_reported_unverified)
{
    const char *opts[] = {"--plain", NULL};
    ftpt_server_start(&srv, root, opts);
    ftpt_make_file(ftpt_path(root, "p.bin"), 777777, 11);
    ftpt_run *r = ftpt_client(NULL, srv.url, "get", "p.bin",
                              ftpt_path(local, "p.bin"), NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(ftpt_same_file(ftpt_path(root, "p.bin"), ftpt_path(local, "p.bin")));
    cr_assert(strstr(r->err, "not verified"), "%s", r->err);
    cr_assert_null(strstr(r->err, "verified sha256"), "%s", r->err);
    free(r);
    r = ftpt_client(NULL, srv.url, "put", ftpt_path(local, "p.bin"), "q.bin", NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(ftpt_same_file(ftpt_path(root, "p.bin"), ftpt_path(root, "q.bin")));
    cr_assert(strstr(r->err, "not verified"), "%s", r->err);
    free(r);
}

Test(transfer_own_server, checksum_mismatch_exits_1_shows_both_and_keeps_part)
{
    const char *opts[] = {"--bad-hash", NULL};
    ftpt_server_start(&srv, root, opts);
    ftpt_make_file(ftpt_path(root, "m.bin"), 400000, 12);
    const char *out = ftpt_path(local, "m.bin");
    ftpt_run *r = ftpt_client(NULL, srv.url, "get", "m.bin", out, NULL);
    cr_assert_eq(r->code, 1, "exit %d: %s", r->code, r->err);
    char hex[65];
    cr_assert(ts_sha256_file(ftpt_path(root, "m.bin"), hex));
    cr_assert(strstr(r->err, "mismatch"), "%s", r->err);
    cr_assert(strstr(r->err, hex), "local checksum %s not shown: %s", hex, r->err);
    /* The server's (wrong) checksum is the other 64-hex word shown. */
    const char *srvsum = strstr(r->err, "server sha256 ");
    cr_assert(srvsum, "%s", r->err);
    cr_assert_eq(strspn(srvsum + 14, "0123456789abcdef"), 64, "%s", r->err);
    cr_assert_neq(strncmp(srvsum + 14, hex, 64), 0);
    cr_assert_eq(ftpt_size(out), -1, "the unverified file was published");
    char part[700];
    snprintf(part, sizeof part, "%s.part", out);
    cr_assert(ftpt_same_file(ftpt_path(root, "m.bin"), part), ".part not kept");
    free(r);
    /* Uploads are checked the same way. */
    r = ftpt_client(NULL, srv.url, "put", part, "up.bin", NULL);
    cr_assert_eq(r->code, 1, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "mismatch") && strstr(r->err, hex), "%s", r->err);
    free(r);
}

Test(transfer, missing_remote_file_exits_1_and_leaves_nothing)
{
    const char *out = ftpt_path(local, "nope");
    ftpt_run *r = ftpt_client(NULL, srv.url, "get", "nope", out, NULL);
    cr_assert_eq(r->code, 1, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "550"), "%s", r->err);
    cr_assert_eq(ftpt_lines(r->err), 1, "%s", r->err);
    cr_assert_eq(ftpt_size(out), -1);
    char part[700];
    snprintf(part, sizeof part, "%s.part", out);
    cr_assert_eq(ftpt_size(part), -1);
    free(r);
}

Test(transfer, usage_errors_exit_2_before_connecting)
{
    /* Nothing listens on port 1: a usage error must come first. */
    const char *cases[][4] = {
        {"--bogus", "127.0.0.1:1", NULL},
        {"127.0.0.1:1", "frobnicate", NULL},
        {"127.0.0.1:1", "get", NULL},
        {"--retries", "x", "127.0.0.1:1", NULL},
        {"http://127.0.0.1:1/", NULL},
        {"-c", "ls; get", "127.0.0.1:1", NULL},
        {NULL},
    };
    for (int i = 0; cases[i][0]; i++) {
        ftpt_run *r = ftpt_client(NULL, cases[i][0], cases[i][1], cases[i][2],
                                  cases[i][3], NULL);
        cr_assert_eq(r->code, 2, "case %d: exit %d: %s", i, r->code, r->err);
        cr_assert_str_not_empty(r->err);
        free(r);
    }
}

Test(transfer, wrong_password_exits_3)
{
    char url[300];
    snprintf(url, sizeof url, "alice:wrong@%s", srv.addr);
    ftpt_run *r = ftpt_client(NULL, url, "ls", NULL);
    cr_assert_eq(r->code, 3, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "530"), "%s", r->err);
    free(r);
}

Test(transfer_own_server, nothing_listening_exits_4)
{
    /* A port that was free a moment ago. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "127.0.0.1:%d", ntohs(sa.sin_port));
    ftpt_run *r = ftpt_client(NULL, url, "ls", NULL);
    cr_assert_eq(r->code, 4, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "refused"), "%s", r->err);
    free(r);
}
