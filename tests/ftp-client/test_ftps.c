/* tests/ftp-client/test_ftps.c - sockserv-ftp --tls and ftps:// against
 * sockserv-ftpd's FTPS (skipped when the server is not built).
 *
 * The server runs with a certificate made at test time (the openssl
 * command: a CA, a server certificate it signed for localhost, 127.0.0.1
 * and ::1, and a self-signed one nobody trusts), an explicit listener (AUTH
 * TLS) and an implicit one (ftps://).  It requires data connections to
 * resume the control connection's TLS session (require_tls_reuse, its
 * default), so every transfer here also proves the client resumes it. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ftpc_test.h"

static char dir[512], home[600], local[600], pki[600];
static char ca[700], self_cert[700];
static char url[300], implicit_url[300];
static ftpt_server srv;

static void sh(const char *script)
{
    char err[4096];
    char *argv[] = {"/bin/sh", "-ec", (char *)script, NULL};
    int st = ts_run(argv, NULL, 0, NULL, 0, err, sizeof err, 60);
    cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "%s\nfailed: %s", script, err);
}

static void make_pki(void)
{
    snprintf(pki, sizeof pki, "%s/pki", dir);
    cr_assert_eq(mkdir(pki, 0700), 0);
    snprintf(ca, sizeof ca, "%s/ca.pem", pki);
    snprintf(self_cert, sizeof self_cert, "%s/self.pem", pki);
    char script[4096];
    snprintf(
        script, sizeof script,
        "cd '%s'\n"
        "K='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'\n"
        "openssl req -x509 $K -keyout ca.key -out ca.pem -days 2 "
        "  -subj /CN=ftpc-test-ca -addext basicConstraints=critical,CA:TRUE "
        "  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null\n"
        "openssl req $K -keyout server.key -out server.csr -subj /CN=localhost "
        "  2>/dev/null\n"
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\\n"
        "extendedKeyUsage=serverAuth\\n' > server.ext\n"
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
        "  -CAcreateserial -days 2 -extfile server.ext -out server.pem "
        "  2>/dev/null\n"
        "openssl req -x509 $K -keyout self.key -out self.pem -days 2 "
        "  -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 "
        "  2>/dev/null\n",
        pki);
    sh(script);
}

static void setup(void)
{
    const char *bin = ts_build_path("ftp/server/sockserv-ftpd");
    if (access(bin, X_OK) != 0)
        cr_skip_test("sockserv-ftpd is not built");
    ts_mkdtemp("ftpc-ftps", dir, sizeof dir);
    cr_assert(dir[0]);
    snprintf(home, sizeof home, "%s/home/alice", dir);
    snprintf(local, sizeof local, "%s/local", dir);
    cr_assert_eq(mkdir(local, 0755), 0);
    make_pki();
    char data[600], users[700];
    snprintf(data, sizeof data, "%s/data", dir);
    cr_assert_eq(mkdir(data, 0750), 0);
    snprintf(users, sizeof users, "%s/users", data);
    char *add[] = {(char *)bin, "--data-dir", data, "--users-file", users,
                   "user", "add", "alice", "--home", home, "--quota", "1G",
                   NULL};
    char out[4096], err[4096];
    int st = ts_run(add, "secret\n", 7, out, sizeof out, err, sizeof err, 30);
    cr_assert_eq(st, 0, "user add failed (%d): %s%s", st, out, err);
    char certset[800], keyset[800];
    snprintf(certset, sizeof certset, "tls_cert_file=%s/server.pem", pki);
    snprintf(keyset, sizeof keyset, "tls_key_file=%s/server.key", pki);
    char *argv[] = {(char *)bin, "--data-dir", data, "--users-file", users,
                    "--listen", "127.0.0.1:0", "--listen-implicit",
                    "127.0.0.1:0", "--set", certset, "--set", keyset, NULL};
    memset(&srv, 0, sizeof srv);
    int rc = ts_start_server(&srv.proc, argv, srv.addr, sizeof srv.addr, NULL);
    cr_assert_eq(rc, 0, "sockserv-ftpd did not start (%d): %s", rc,
                 srv.proc.err);
    char implicit[128];
    cr_assert_eq(ts_wait_line(&srv.proc, "listening on ftps://", implicit,
                              sizeof implicit, 10), 0,
                 "no implicit listener: %s", srv.proc.out);
    snprintf(url, sizeof url, "alice:secret@%s", srv.addr);
    snprintf(implicit_url, sizeof implicit_url, "ftps://alice:secret@%s",
             implicit);
}

static void teardown(void)
{
    ftpt_stop(&srv);
    if (dir[0])
        ts_rmtree(dir);
    dir[0] = '\0';
}

TestSuite(ftps, .init = setup, .fini = teardown, .timeout = 300);

/* put then get over --tls --cacert, -v: both verified, byte-exact, and
 * every data connection resumed the control connection's session. */
static void roundtrip(const char *name, uint64_t size)
{
    const char *src = ftpt_path(local, name);
    ftpt_make_file(src, size, (uint32_t)size + 7);
    ftpt_run *r = ftpt_client(NULL, "--tls", "--cacert", ca, "-v", url, "put",
                              src, name, NULL);
    cr_assert_eq(r->code, 0, "put exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "--> AUTH TLS") && strstr(r->err, "--> PBSZ 0") &&
                  strstr(r->err, "--> PROT P"),
              "%s", r->err);
    cr_assert(strstr(r->err, "--- data TLS") &&
                  strstr(r->err, "control session resumed"),
              "%s", r->err);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    cr_assert(ftpt_same_file(src, ftpt_path(home, name)), "upload of %s differs",
              name);
    free(r);
    char back[700];
    snprintf(back, sizeof back, "%s.back", src);
    r = ftpt_client(NULL, "--tls", "--cacert", ca, url, "get", name, back, NULL);
    cr_assert_eq(r->code, 0, "get exit %d: %s", r->code, r->err);
    cr_assert(ftpt_same_file(src, back), "download of %s differs", name);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    cr_assert_eq(ftpt_lines(r->err), 1, "%s", r->err);
    free(r);
}

Test(ftps, empty_file_both_ways) { roundtrip("empty", 0); }
Test(ftps, small_file_both_ways) { roundtrip("small.txt", 1234); }
Test(ftps, file_of_5mb_both_ways) { roundtrip("five.bin", 5u << 20); }

Test(ftps, several_transfers_on_one_connection_each_resume_the_session)
{
    /* TLS 1.3 tickets are used once: each data connection needs the fresh
     * one the server sends on the control connection after a transfer. */
    const char *a = ftpt_path(local, "a.bin");
    ftpt_make_file(a, 300000, 11);
    char script[2048];
    snprintf(script, sizeof script,
             "put %s a1; put %s a2; get a1 %s/b1; get a2 %s/b2; ls", a, a,
             local, local);
    ftpt_run *r = ftpt_client(NULL, "--tls", "--cacert", ca, "-v", "-c",
                              script, url, NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    int resumed = 0;
    for (const char *p = r->err; (p = strstr(p, "control session resumed"));
         p++)
        resumed++;
    cr_assert_eq(resumed, 5, "5 data connections, %d resumed: %s", resumed,
                 r->err);
    cr_assert(strstr(r->out, "a1") && strstr(r->out, "a2"), "%s", r->out);
    cr_assert(ftpt_same_file(a, ftpt_path(local, "b1")));
    cr_assert(ftpt_same_file(a, ftpt_path(local, "b2")));
    free(r);
}

/* mirror's and pget's extra sessions each do AUTH TLS, PROT P and session
 * reuse on their own. */
Test(ftps, mirror_both_ways_and_pget_over_tls)
{
    char tree[700], back[700];
    snprintf(tree, sizeof tree, "%s/tree", local);
    snprintf(back, sizeof back, "%s/back", local);
    cr_assert_eq(mkdir(tree, 0755), 0);
    cr_assert_eq(mkdir(ftpt_path(tree, "sub dir"), 0755), 0);
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "sub dir/f%d.bin", i);
        ftpt_make_file(ftpt_path(tree, name), 200000u * (unsigned)(i + 1), (uint32_t)i);
    }
    ftpt_run *r = ftpt_client(NULL, "--tls", "--cacert", ca, url, "mirror", "-R",
                              "--parallel", "2", "/tree", tree, NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "4 copied"), "%s", r->err);
    free(r);
    r = ftpt_client(NULL, "--tls", "--cacert", ca, url, "mirror", "--parallel", "2",
                    "/tree", back, NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "4 copied"), "%s", r->err);
    free(r);
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "sub dir/f%d.bin", i);
        cr_assert(ftpt_same_file(ftpt_path(tree, name), ftpt_path(back, name)), "%s",
                  name);
    }
    r = ftpt_client(NULL, "--tls", "--cacert", ca, url, "pget", "-n", "3",
                    "tree/sub dir/f3.bin", ftpt_path(local, "p.bin"), NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "3 segments, verified sha256"), "%s", r->err);
    free(r);
    cr_assert(ftpt_same_file(ftpt_path(tree, "sub dir/f3.bin"), ftpt_path(local, "p.bin")));
}

Test(ftps, active_mode_over_tls)
{
    const char *src = ftpt_path(local, "act.bin");
    ftpt_make_file(src, 1u << 20, 5);
    ftpt_run *r = ftpt_client(NULL, "--tls", "--cacert", ca, "--active", url,
                              "put", src, "act.bin", NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    free(r);
    r = ftpt_client(NULL, "--tls", "--cacert", ca, "--active", url, "get",
                    "act.bin", ftpt_path(local, "act.back"), NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(ftpt_same_file(src, ftpt_path(local, "act.back")));
    free(r);
}

Test(ftps, implicit_ftps_url)
{
    const char *src = ftpt_path(local, "imp.bin");
    ftpt_make_file(src, 2u << 20, 9);
    ftpt_run *r = ftpt_client(NULL, "--cacert", ca, "-v", implicit_url, "put",
                              src, "imp.bin", NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert_null(strstr(r->err, "--> AUTH"), "implicit TLS sent AUTH: %s",
                   r->err);
    cr_assert(strstr(r->err, "control session resumed"), "%s", r->err);
    free(r);
    r = ftpt_client(NULL, "--cacert", ca, implicit_url, "get", "imp.bin",
                    ftpt_path(local, "imp.back"), NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(ftpt_same_file(src, ftpt_path(local, "imp.back")));
    free(r);
}

/* --- resume over TLS -------------------------------------------------------- */

/* Waits until path has more than n bytes (or the deadline passes). */
static long long wait_size(const char *path, long long n, double seconds)
{
    double deadline = ts_now() + seconds;
    long long have;
    while ((have = ftpt_size(path)) <= n && ts_now() < deadline) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return have;
}

/* Starts a rate-limited transfer and kills the client once `watch` holds
 * more than 512 KiB: a transfer really cut half way, inside TLS. */
static void killed_halfway(char *const argv[], const char *watch)
{
    ts_proc *p = calloc(1, sizeof *p);
    cr_assert_eq(ts_spawn(p, argv, NULL, -1, true), 0);
    long long have = wait_size(watch, 512 << 10, 30);
    ts_stop(p, SIGKILL, 10);
    cr_assert_gt(have, 512 << 10, "%s never grew: %s", watch, p->err);
    free(p);
}

#define RSIZE (4u << 20)

Test(ftps, get_killed_halfway_resumes_over_tls_and_verifies)
{
    const char *remote = ftpt_path(home, "r.bin");
    ftpt_make_file(remote, RSIZE, 21);
    char dst[700], part[720];
    snprintf(dst, sizeof dst, "%s/r.bin", local);
    snprintf(part, sizeof part, "%s.part", dst);
    char *argv[] = {(char *)ftpt_client_path(), "--tls", "--cacert", ca,
                    "--limit-rate", "1M", url, "get", "r.bin", dst, NULL};
    killed_halfway(argv, part);
    long long have = ftpt_size(part);
    cr_assert(have > 0 && have < RSIZE, ".part has %lld bytes", have);
    ftpt_run *r = ftpt_client(NULL, "--tls", "--cacert", ca, url, "get",
                              "r.bin", dst, NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "resuming at byte"), "%s", r->err);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    cr_assert(ftpt_same_file(remote, dst));
    free(r);
}

Test(ftps, get_of_a_partial_copy_that_differs_starts_over)
{
    const char *remote = ftpt_path(home, "c.bin");
    ftpt_make_file(remote, RSIZE, 22);
    char dst[700], part[720];
    snprintf(dst, sizeof dst, "%s/c.bin", local);
    snprintf(part, sizeof part, "%s.part", dst);
    ftpt_make_file(part, 1u << 20, 99); /* not a prefix of the remote file */
    ftpt_run *r = ftpt_client(NULL, "--tls", "--cacert", ca, url, "get", "-c",
                              "c.bin", dst, NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "starting over from zero"), "%s", r->err);
    cr_assert(ftpt_same_file(remote, dst));
    free(r);
}

Test(ftps, put_killed_halfway_then_put_c_resumes_over_tls)
{
    const char *src = ftpt_path(local, "u.bin");
    ftpt_make_file(src, RSIZE, 23);
    char *argv[] = {(char *)ftpt_client_path(), "--tls", "--cacert", ca,
                    "--limit-rate", "1M", url, "put", (char *)src, "u.bin",
                    NULL};
    killed_halfway(argv, ftpt_path(home, "u.bin"));
    long long have = ftpt_size(ftpt_path(home, "u.bin"));
    cr_assert(have > 0 && have < RSIZE, "the server kept %lld bytes", have);
    ftpt_run *r = ftpt_client(NULL, "--tls", "--cacert", ca, url, "put", "-c",
                              src, "u.bin", NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "resuming upload at byte"), "%s", r->err);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    cr_assert(ftpt_same_file(src, ftpt_path(home, "u.bin")));
    free(r);
}

/* --- certificates ------------------------------------------------------------ */

Test(ftps, untrusted_certificate_is_refused_with_exit_4)
{
    const char *remote = ftpt_path(home, "secret.txt");
    ftpt_make_file(remote, 100, 1);
    const char *dst = ftpt_path(local, "secret.txt");
    /* No --cacert: the system store does not know the test CA. */
    ftpt_run *r = ftpt_client(NULL, "--tls", url, "get", "secret.txt", dst,
                              NULL);
    cr_assert_eq(r->code, 4, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "certificate verify failed"), "%s", r->err);
    cr_assert(strstr(r->err, "--cacert") && strstr(r->err, "--insecure"),
              "%s", r->err);
    cr_assert_eq(ftpt_size(dst), -1);
    free(r);
    /* The same through ftps://. */
    r = ftpt_client(NULL, implicit_url, "ls", NULL);
    cr_assert_eq(r->code, 4, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "certificate verify failed"), "%s", r->err);
    cr_assert_str_empty(r->out);
    free(r);
    /* A CA that did not sign it. */
    r = ftpt_client(NULL, "--tls", "--cacert", self_cert, url, "ls", NULL);
    cr_assert_eq(r->code, 4, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "certificate verify failed"), "%s", r->err);
    free(r);
}

Test(ftps, cacert_and_insecure_are_accepted)
{
    ftpt_make_file(ftpt_path(home, "x.bin"), 1000, 2);
    ftpt_run *r = ftpt_client(NULL, "--tls", "--cacert", ca, url, "ls", NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->out, "x.bin"), "%s", r->out);
    free(r);
    r = ftpt_client(NULL, "--tls", "--insecure", url, "get", "x.bin",
                    ftpt_path(local, "x.bin"), NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(ftpt_same_file(ftpt_path(home, "x.bin"),
                             ftpt_path(local, "x.bin")));
    free(r);
    /* "localhost" is in the certificate as a name, 127.0.0.1 as an IP. */
    char byname[300];
    snprintf(byname, sizeof byname, "alice:secret@localhost:%s",
             strrchr(srv.addr, ':') + 1);
    r = ftpt_client(NULL, "--tls", "--cacert", ca, byname, "ls", NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    free(r);
}

/* --- the command line and servers without TLS -------------------------------- */

Test(ftps, tls_options_misused_are_usage_errors)
{
    ftpt_run *r = ftpt_client(NULL, "--insecure", url, "ls", NULL);
    cr_assert_eq(r->code, 2, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "need --tls"), "%s", r->err);
    free(r);
    r = ftpt_client(NULL, "--tls", "--cacert", "/nonexistent/ca.pem", url, "ls",
                    NULL);
    cr_assert_eq(r->code, 2, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "/nonexistent/ca.pem"), "%s", r->err);
    free(r);
    r = ftpt_client(NULL, "sftp://host/", "ls", NULL);
    cr_assert_eq(r->code, 2, "exit %d: %s", r->code, r->err);
    free(r);
}

Test(ftps, a_server_without_tls_is_refused_not_used_in_clear)
{
    /* pyftpdlib's plain FTPHandler answers AUTH with 500. */
    char root[600];
    snprintf(root, sizeof root, "%s/plainroot", dir);
    cr_assert_eq(mkdir(root, 0755), 0);
    ftpt_server plain;
    ftpt_server_start(&plain, root, NULL);
    ftpt_run *r = ftpt_client(NULL, "--tls", "--insecure", plain.url, "ls",
                              NULL);
    ftpt_stop(&plain);
    cr_assert_eq(r->code, 4, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "does not offer TLS"), "%s", r->err);
    free(r);
}

/* --- against pyftpdlib's FTPS (TLS_FTPHandler), a server nobody here wrote -- */

static ftpt_server py;
static char pyroot[600];

static void setup_py(void)
{
    ts_mkdtemp("ftpc-ftps-py", dir, sizeof dir);
    cr_assert(dir[0]);
    snprintf(local, sizeof local, "%s/local", dir);
    snprintf(pyroot, sizeof pyroot, "%s/root", dir);
    cr_assert_eq(mkdir(local, 0755), 0);
    cr_assert_eq(mkdir(pyroot, 0755), 0);
    make_pki();
    char cert[700], key[700];
    snprintf(cert, sizeof cert, "%s/server.pem", pki);
    snprintf(key, sizeof key, "%s/server.key", pki);
    const char *opts[] = {"--tls", cert, key, NULL};
    ftpt_server_start(&py, pyroot, opts);
}

static void teardown_py(void)
{
    ftpt_stop(&py);
    if (dir[0])
        ts_rmtree(dir);
    dir[0] = '\0';
}

TestSuite(ftps_py, .init = setup_py, .fini = teardown_py, .timeout = 300);

Test(ftps_py, put_and_get_a_few_megabytes_byte_exact)
{
    /* pyftpdlib sends TLS 1.3 tickets on data connections too: an upload
     * that closed its socket with them unread would reset the connection
     * and the server would lose the tail of the file. */
    const char *src = ftpt_path(local, "p.bin");
    ftpt_make_file(src, 3u << 20, 31);
    ftpt_run *r = ftpt_client(NULL, "--tls", "--cacert", ca, py.url, "put",
                              src, "p.bin", NULL);
    cr_assert_eq(r->code, 0, "put exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    cr_assert(ftpt_same_file(src, ftpt_path(pyroot, "p.bin")));
    free(r);
    const char *small = ftpt_path(local, "s.txt");
    ftpt_make_file(small, 10, 32);
    r = ftpt_client(NULL, "--tls", "--cacert", ca, py.url, "put", small,
                    "s.txt", NULL);
    cr_assert_eq(r->code, 0, "put exit %d: %s", r->code, r->err);
    cr_assert(ftpt_same_file(small, ftpt_path(pyroot, "s.txt")));
    free(r);
    r = ftpt_client(NULL, "--tls", "--cacert", ca, py.url, "get", "p.bin",
                    ftpt_path(local, "p.back"), NULL);
    cr_assert_eq(r->code, 0, "get exit %d: %s", r->code, r->err);
    cr_assert(ftpt_same_file(src, ftpt_path(local, "p.back")));
    free(r);
    r = ftpt_client(NULL, "--tls", "--cacert", ca, py.url, "ls", NULL);
    cr_assert_eq(r->code, 0, "ls exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->out, "p.bin") && strstr(r->out, "s.txt"), "%s",
              r->out);
    free(r);
}

Test(ftps_py, get_resumes_a_partial_copy_over_tls)
{
    const char *remote = ftpt_path(pyroot, "r.bin");
    ftpt_make_file(remote, 2u << 20, 33);
    char dst[700], part[720];
    snprintf(dst, sizeof dst, "%s/r.bin", local);
    snprintf(part, sizeof part, "%s.part", dst);
    /* The first 700000 bytes, as an interrupted download leaves them. */
    char script[2048];
    snprintf(script, sizeof script, "head -c 700000 '%s' > '%s'", remote, part);
    sh(script);
    ftpt_run *r = ftpt_client(NULL, "--tls", "--cacert", ca, py.url, "get",
                              "r.bin", dst, NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "resuming at byte 700000"), "%s", r->err);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    cr_assert(ftpt_same_file(remote, dst));
    free(r);
}

Test(ftps_py, untrusted_certificate_is_refused_and_plain_login_is_refused)
{
    ftpt_run *r = ftpt_client(NULL, "--tls", py.url, "ls", NULL);
    cr_assert_eq(r->code, 4, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "certificate verify failed"), "%s", r->err);
    free(r);
    /* The server requires TLS: a plaintext login is refused (exit 3). */
    r = ftpt_client(NULL, py.url, "ls", NULL);
    cr_assert_eq(r->code, 3, "exit %d: %s", r->code, r->err);
    free(r);
}
