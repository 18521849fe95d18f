/* tests/ssh/test_ssh_tls.c - ssh-demo over TLS: ssh-demo-server --tls-cert/
 * --tls-key (implicit TLS) and ssh-demo --tls [--insecure] [--cacert F].
 *
 * A small PKI is made at test time with the openssl command: a CA, a server
 * certificate it signed for localhost/127.0.0.1/::1, one it signed for
 * another name, and a self-signed one nobody trusts. */
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

/* The same deterministic stream as test_ssh.c: AES-CTR of zeros. */
#define GEN(bytes)                                                             \
    "openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f "   \
    "-iv 00000000000000000000000000000000 -in /dev/zero 2>/dev/null "         \
    "| head -c " bytes

static ts_proc server;
static char addr_text[SS_ADDRSTRLEN];
static char client_bin[PATH_MAX], server_bin[PATH_MAX];
static char pki[PATH_MAX];
static char ca[PATH_MAX + 32], cert[PATH_MAX + 32], key[PATH_MAX + 32];
static char other_cert[PATH_MAX + 32], other_key[PATH_MAX + 32];
static char self_cert[PATH_MAX + 32], self_key[PATH_MAX + 32];

static int exit_code(int st)
{
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1000 - st;
}

static bool sanitizer_report(const char *text)
{
    return strstr(text, "runtime error:") || strstr(text, "Sanitizer");
}

/* Runs a shell script; asserts it succeeded. */
static void sh(const char *script)
{
    char err[4096];
    char *argv[] = {"/bin/sh", "-ec", (char *)script, NULL};
    int st = ts_run(argv, NULL, 0, NULL, 0, err, sizeof err, 60);
    cr_assert_eq(exit_code(st), 0, "%s\nfailed: %s", script, err);
}

static void make_pki(void)
{
    ts_mkdtemp("ssh-tls", pki, sizeof pki);
    snprintf(ca, sizeof ca, "%s/ca.pem", pki);
    snprintf(cert, sizeof cert, "%s/server.pem", pki);
    snprintf(key, sizeof key, "%s/server.key", pki);
    snprintf(other_cert, sizeof other_cert, "%s/other.pem", pki);
    snprintf(other_key, sizeof other_key, "%s/other.key", pki);
    snprintf(self_cert, sizeof self_cert, "%s/self.pem", pki);
    snprintf(self_key, sizeof self_key, "%s/self.key", pki);
    char script[8192];
    snprintf(
        script, sizeof script,
        "cd '%s'\n"
        "K='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'\n"
        "openssl req -x509 $K -keyout ca.key -out ca.pem -days 2 "
        "  -subj /CN=ssh-demo-test-ca "
        "  -addext basicConstraints=critical,CA:TRUE "
        "  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null\n"
        "leaf() {\n"
        "  openssl req $K -keyout $1.key -out $1.csr -subj /CN=$2 2>/dev/null\n"
        "  printf 'subjectAltName=%%s\\nextendedKeyUsage=serverAuth\\n' \"$3\" "
        "    > $1.ext\n"
        "  openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key "
        "    -CAcreateserial -days 2 -extfile $1.ext -out $1.pem 2>/dev/null\n"
        "}\n"
        "leaf server localhost 'DNS:localhost,IP:127.0.0.1,IP:::1'\n"
        "leaf other elsewhere.example 'DNS:elsewhere.example'\n"
        "openssl req -x509 $K -keyout self.key -out self.pem -days 2 "
        "  -subj /CN=localhost "
        "  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null\n",
        pki);
    sh(script);
}

static void start_server(char *const extra[])
{
    snprintf(client_bin, sizeof client_bin, "%s",
             ts_build_path("examples/ssh/ssh-demo"));
    snprintf(server_bin, sizeof server_bin, "%s",
             ts_build_path("examples/ssh/ssh-demo-server"));
    char *argv[16] = {server_bin, "--listen", "127.0.0.1:0"};
    int n = 3;
    for (int i = 0; extra && extra[i] && n < 15; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    cr_assert_eq(ts_start_server(&server, argv, addr_text, sizeof addr_text,
                                 NULL),
                 0, "the server did not start");
}

static void setup_tls(void)
{
    make_pki();
    char *extra[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    start_server(extra);
}

static void setup_pki_only(void)
{
    make_pki();
    snprintf(client_bin, sizeof client_bin, "%s",
             ts_build_path("examples/ssh/ssh-demo"));
    snprintf(server_bin, sizeof server_bin, "%s",
             ts_build_path("examples/ssh/ssh-demo-server"));
}

static void stop_server(void)
{
    if (server.pid > 0) {
        int st = ts_stop(&server, SIGTERM, 10);
        server.pid = 0;
        cr_expect(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the server did not stop cleanly (%d); stderr:\n%s", st,
                  server.err);
        cr_expect(!sanitizer_report(server.err), "server stderr:\n%s",
                  server.err);
    }
    if (pki[0])
        ts_rmtree(pki);
    pki[0] = '\0';
}

TestSuite(ssh_tls, .init = setup_tls, .fini = stop_server, .timeout = 120);
TestSuite(ssh_tls_setup, .init = setup_pki_only, .fini = stop_server,
          .timeout = 120);

/* ssh-demo ADDR --tls --cacert CA [more...] -c cmd; returns the status. */
static int tls_cmd(const char *cmd, const char *in, char *out, size_t out_cap,
                   char *err, size_t err_cap)
{
    static char own[8192];
    if (!err) {
        err = own;
        err_cap = sizeof own;
    }
    char *argv[] = {client_bin, addr_text, "--tls", "--cacert", ca,
                    "-c",       (char *)cmd, NULL};
    int st = ts_run(argv, in, in ? strlen(in) : 0, out, out_cap, err, err_cap,
                    60);
    cr_expect(!sanitizer_report(err), "client stderr:\n%s", err);
    return exit_code(st);
}

/* --- the session over TLS ------------------------------------------------- */

Test(ssh_tls, ten_megabytes_arrive_byte_exact, .timeout = 180)
{
    char want[256], got[256], err[1024];
    char *local[] = {"/bin/sh", "-c", GEN("10000000") " | sha256sum", NULL};
    cr_assert_eq(exit_code(ts_run(local, NULL, 0, want, sizeof want, NULL, 0,
                                  60)), 0);
    cr_assert_eq(strlen(want), 64 + 4, "local checksum: '%s'", want);
    char script[4 * PATH_MAX];
    snprintf(script, sizeof script,
             "('%s' '%s' --tls --cacert '%s' -c '%s'; echo \"client=$?\" >&2)"
             " | sha256sum",
             client_bin, addr_text, ca, GEN("10000000"));
    char *remote[] = {"/bin/sh", "-c", script, NULL};
    cr_assert_eq(exit_code(ts_run(remote, NULL, 0, got, sizeof got, err,
                                  sizeof err, 150)), 0);
    cr_assert(strstr(err, "client=0"), "client failed: %s", err);
    cr_assert_str_eq(got, want, "10 MB arrived changed over TLS");
}

Test(ssh_tls, big_stdin_echoed_back_does_not_deadlock, .timeout = 180)
{
    /* Sending and receiving at once, both through OpenSSL on a
     * non-blocking socket: the case that needs want-read/want-write. */
    char want[256], got[256], err[1024];
    char *local[] = {"/bin/sh", "-c", GEN("5000000") " | sha256sum", NULL};
    cr_assert_eq(exit_code(ts_run(local, NULL, 0, want, sizeof want, NULL, 0,
                                  60)), 0);
    char script[4 * PATH_MAX];
    snprintf(script, sizeof script,
             "%s | ('%s' '%s' --tls --cacert '%s' -c cat; "
             "echo \"client=$?\" >&2) | sha256sum",
             GEN("5000000"), client_bin, addr_text, ca);
    char *remote[] = {"/bin/sh", "-c", script, NULL};
    cr_assert_eq(exit_code(ts_run(remote, NULL, 0, got, sizeof got, err,
                                  sizeof err, 150)), 0);
    cr_assert(strstr(err, "client=0"), "client failed: %s", err);
    cr_assert_str_eq(got, want);
}

Test(ssh_tls, exit_status_and_stderr_pass_through)
{
    char out[256], err[1024];
    cr_assert_eq(tls_cmd("echo out; echo err >&2; exit 7", NULL, out,
                         sizeof out, err, sizeof err), 7);
    cr_assert_str_eq(out, "out\n");
    cr_assert_str_eq(err, "err\n");
    cr_assert_eq(tls_cmd("true", NULL, out, sizeof out, NULL, 0), 0);
    cr_assert_str_empty(out);
}

Test(ssh_tls, cd_then_pwd_in_a_scripted_session)
{
    char out[PATH_MAX + 64], err[1024];
    char *argv[] = {client_bin, addr_text, "--tls", "--cacert", ca, NULL};
    const char *script = "cd /\npwd\ncd /tmp\npwd\nexport X=tls\necho $X\n";
    int st = ts_run(argv, script, strlen(script), out, sizeof out, err,
                    sizeof err, 30);
    cr_assert_eq(exit_code(st), 0, "stderr: %s", err);
    char tmp[PATH_MAX];
    cr_assert_not_null(realpath("/tmp", tmp));
    char want[PATH_MAX + 32];
    snprintf(want, sizeof want, "/\n%s\ntls\n", tmp);
    cr_assert_str_eq(out, want);
}

Test(ssh_tls, stdin_reaches_the_command)
{
    char out[256];
    cr_assert_eq(tls_cmd("tr a-z A-Z", "over tls\n", out, sizeof out, NULL,
                         0), 0);
    cr_assert_str_eq(out, "OVER TLS\n");
}

Test(ssh_tls, ctrl_c_reaches_the_command_through_tls)
{
    ts_proc *p = calloc(1, sizeof *p);
    char *argv[] = {client_bin, addr_text,  "--tls", "--cacert", ca, "-c",
                    "echo pid=$$; exec sleep 100", NULL};
    cr_assert_eq(ts_spawn(p, argv, NULL, -1, true), 0);
    char rest[64];
    cr_assert_eq(ts_wait_line(p, "pid=", rest, sizeof rest, 10), 0,
                 "stderr: %s", p->err);
    pid_t pid = (pid_t)atoi(rest);
    double t0 = ts_now();
    kill(p->pid, SIGINT);
    int st = ts_stop(p, 0, 20);
    cr_assert_lt(ts_now() - t0, 3.0, "the interrupt took %.2f s",
                 ts_now() - t0);
    cr_assert_eq(exit_code(st), 128 + SIGINT, "stderr: %s", p->err);
    double deadline = ts_now() + 5;
    while (kill(pid, 0) == 0 && ts_now() < deadline) {
        /* a zombie until its parent reaps it: check the state */
        char path[64], state = '?';
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "%*d %*s %c", &state) != 1)
                state = '?';
            fclose(f);
        }
        if (state == 'Z')
            break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert_lt(ts_now(), deadline, "sleep 100 survived the interrupt");
    free(p);
}

/* --- certificates ---------------------------------------------------------- */

Test(ssh_tls, untrusted_certificate_is_refused_without_cacert)
{
    /* No --cacert: the system's store does not know the test CA. */
    char out[256], err[2048];
    char *argv[] = {client_bin, addr_text, "--tls", "-c", "echo ran", NULL};
    int st = ts_run(argv, NULL, 0, out, sizeof out, err, sizeof err, 30);
    cr_assert_eq(exit_code(st), 255, "stderr: %s", err);
    cr_assert_str_empty(out, "the command ran on an unverified server");
    cr_assert(strstr(err, "certificate verify failed"), "stderr: %s", err);
    cr_assert(strstr(err, "--cacert") && strstr(err, "--insecure"),
              "the message should say how to proceed: %s", err);
    /* --insecure skips the check, --cacert makes it pass. */
    char *insecure[] = {client_bin, addr_text, "--tls", "--insecure", "-c",
                        "echo ran", NULL};
    st = ts_run(insecure, NULL, 0, out, sizeof out, err, sizeof err, 30);
    cr_assert_eq(exit_code(st), 0, "stderr: %s", err);
    cr_assert_str_eq(out, "ran\n");
    cr_assert_eq(tls_cmd("echo ran", NULL, out, sizeof out, NULL, 0), 0);
    cr_assert_str_eq(out, "ran\n");
}

Test(ssh_tls, a_ca_that_did_not_sign_the_certificate_is_refused)
{
    char out[256], err[2048];
    char *argv[] = {client_bin, addr_text, "--tls", "--cacert", self_cert,
                    "-c", "echo ran", NULL};
    int st = ts_run(argv, NULL, 0, out, sizeof out, err, sizeof err, 30);
    cr_assert_eq(exit_code(st), 255, "stderr: %s", err);
    cr_assert_str_empty(out);
    cr_assert(strstr(err, "certificate verify failed"), "stderr: %s", err);
}

Test(ssh_tls, ipv4_literal_and_localhost_both_match_the_certificate)
{
    /* ADDR's host is what the certificate is checked against: an IP
     * literal against its IP addresses, a name against its DNS names. */
    const char *port = strrchr(addr_text, ':') + 1;
    char byname[64];
    snprintf(byname, sizeof byname, "localhost:%s", port);
    char out[64], err[1024];
    char *argv[] = {client_bin, byname, "--tls", "--cacert", ca, "-c",
                    "echo named", NULL};
    int st = ts_run(argv, NULL, 0, out, sizeof out, err, sizeof err, 30);
    cr_assert_eq(exit_code(st), 0, "stderr: %s", err);
    cr_assert_str_eq(out, "named\n");
}

Test(ssh_tls_setup, a_certificate_for_another_host_is_refused)
{
    char *extra[] = {"--tls-cert", other_cert, "--tls-key", other_key, NULL};
    start_server(extra);
    char out[256], err[2048];
    char *argv[] = {client_bin, addr_text, "--tls", "--cacert", ca, "-c",
                    "echo ran", NULL};
    int st = ts_run(argv, NULL, 0, out, sizeof out, err, sizeof err, 30);
    cr_assert_eq(exit_code(st), 255, "stderr: %s", err);
    cr_assert_str_empty(out);
    cr_assert(strstr(err, "certificate verify failed") &&
                  strstr(err, "mismatch"),
              "stderr: %s", err);
    char *insecure[] = {client_bin, addr_text, "--tls", "--insecure", "-c",
                        "echo ran", NULL};
    st = ts_run(insecure, NULL, 0, out, sizeof out, err, sizeof err, 30);
    cr_assert_eq(exit_code(st), 0, "stderr: %s", err);
    cr_assert_str_eq(out, "ran\n");
}

/* --- mixing TLS and plaintext ---------------------------------------------- */

Test(ssh_tls, plaintext_client_fails_cleanly_and_the_server_keeps_serving)
{
    char out[256], err[2048];
    char *argv[] = {client_bin, addr_text, "-c", "echo ran", NULL};
    double t0 = ts_now();
    int st = ts_run(argv, NULL, 0, out, sizeof out, err, sizeof err, 30);
    cr_assert_eq(exit_code(st), 255, "stderr: %s", err);
    cr_assert_lt(ts_now() - t0, 10.0, "the refusal took %.1f s",
                 ts_now() - t0);
    cr_assert_str_empty(out);
    cr_assert(strstr(err, "--tls"), "the client should hint at --tls: %s",
              err);
    /* Raw bytes that are neither TLS nor a frame: the same. */
    ss_addr a;
    cr_assert_eq(ss_addr_parse(&a, addr_text, NULL), 0);
    int fd = ts_connect(&a, SOCK_STREAM, 10);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ts_write_full(fd, "GET / HTTP/1.0\r\n\r\n", 18), 0);
    char buf[256];
    cr_assert_geq(ts_read_full(fd, buf, sizeof buf), 0);
    close(fd);
    /* The server logged the failures and goes on. */
    cr_assert_eq(tls_cmd("echo still serving", NULL, out, sizeof out, NULL,
                         0), 0);
    cr_assert_str_eq(out, "still serving\n");
    ts_drain(&server);
    cr_assert(strstr(server.err, "TLS handshake"), "server stderr: %s",
              server.err);
}

Test(ssh_tls_setup, tls_client_at_a_plaintext_server_fails_cleanly)
{
    start_server(NULL);
    char out[256], err[2048];
    char *argv[] = {client_bin, addr_text, "--tls", "--insecure", "-c",
                    "echo ran", NULL};
    int st = ts_run(argv, NULL, 0, out, sizeof out, err, sizeof err, 30);
    cr_assert_eq(exit_code(st), 255, "stderr: %s", err);
    cr_assert_str_empty(out);
    cr_assert(strstr(err, "TLS handshake"), "stderr: %s", err);
    char *plain[] = {client_bin, addr_text, "-c", "echo plain", NULL};
    st = ts_run(plain, NULL, 0, out, sizeof out, err, sizeof err, 30);
    cr_assert_eq(exit_code(st), 0, "stderr: %s", err);
    cr_assert_str_eq(out, "plain\n");
}

/* --- the token and the command line ---------------------------------------- */

Test(ssh_tls_setup, tls_does_not_replace_the_token_off_loopback)
{
    char err[1024];
    char *argv[] = {server_bin, "--listen", "0.0.0.0:0", "--tls-cert", cert,
                    "--tls-key", key, NULL};
    cr_assert_eq(exit_code(ts_run(argv, NULL, 0, NULL, 0, err, sizeof err,
                                  10)), 2);
    cr_assert(strstr(err, "refusing"), "stderr: %s", err);
}

Test(ssh_tls_setup, token_travels_inside_tls)
{
    char tok[PATH_MAX + 32];
    snprintf(tok, sizeof tok, "%s/token", pki);
    FILE *f = fopen(tok, "w");
    cr_assert_not_null(f);
    fputs("tls-s3cret\n", f);
    fclose(f);
    char *extra[] = {"--tls-cert", cert, "--tls-key", key, "--token-file",
                     tok, "--mode", "forking", NULL};
    start_server(extra);
    char out[256], err[1024];
    char *good[] = {client_bin, addr_text, "--tls", "--cacert", ca,
                    "--token-file", tok, "-c", "echo in", NULL};
    cr_assert_eq(exit_code(ts_run(good, NULL, 0, out, sizeof out, err,
                                  sizeof err, 30)), 0, "stderr: %s", err);
    cr_assert_str_eq(out, "in\n");
    char *none[] = {client_bin, addr_text, "--tls", "--cacert", ca, "-c",
                    "echo in", NULL};
    cr_assert_eq(exit_code(ts_run(none, NULL, 0, out, sizeof out, err,
                                  sizeof err, 30)), 255);
    cr_assert(strstr(err, "authentication failed"), "stderr: %s", err);
}

Test(ssh_tls_setup, bad_tls_options_are_usage_errors)
{
    char err[1024];
    char *half[] = {server_bin, "--tls-cert", cert, NULL};
    cr_assert_eq(exit_code(ts_run(half, NULL, 0, NULL, 0, err, sizeof err,
                                  10)), 2);
    cr_assert(strstr(err, "together"), "stderr: %s", err);
    char *mismatch[] = {server_bin, "--listen", "127.0.0.1:0", "--tls-cert",
                        cert, "--tls-key", other_key, NULL};
    cr_assert_eq(exit_code(ts_run(mismatch, NULL, 0, NULL, 0, err,
                                  sizeof err, 10)), 2);
    cr_assert(strstr(err, "key"), "stderr: %s", err);
    char *nofile[] = {server_bin, "--listen", "127.0.0.1:0", "--tls-cert",
                      "/nonexistent.pem", "--tls-key", key, NULL};
    cr_assert_eq(exit_code(ts_run(nofile, NULL, 0, NULL, 0, err, sizeof err,
                                  10)), 2);
    cr_assert(strstr(err, "/nonexistent.pem"), "stderr: %s", err);
    char *client[] = {client_bin, "127.0.0.1:1", "--insecure", "-c", "true",
                      NULL};
    cr_assert_eq(exit_code(ts_run(client, NULL, 0, NULL, 0, err, sizeof err,
                                  10)), 2);
    cr_assert(strstr(err, "need --tls"), "stderr: %s", err);
}
