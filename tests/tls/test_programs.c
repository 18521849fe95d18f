/* tests/tls/test_programs.c - echo-server --tls-cert/--tls-key against
 * Python's ssl module (a client nobody here wrote) and against
 * echo-client --tls, as a user would run them. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "support.h"
#include "tlstest.h"

typedef struct running {
    ts_proc proc;
    char addr[128];
    char host[64];
    char port[16];
} running;

static void start_echo(running *r, const char *mode, const char *cert,
                       const char *key)
{
    char *argv[] = {(char *)ts_build_path("examples/echo/echo-server"),
                    "--listen", "127.0.0.1:0", "--mode", (char *)mode,
                    "--tls-cert", (char *)cert, "--tls-key", (char *)key, NULL};
    ss_addr a;
    int rc = ts_start_server(&r->proc, argv, r->addr, sizeof r->addr, &a);
    cr_assert_eq(rc, 0, "echo-server did not start: %s", r->proc.err);
    char *colon = strrchr(r->addr, ':');
    snprintf(r->host, sizeof r->host, "%.*s", (int)(colon - r->addr), r->addr);
    snprintf(r->port, sizeof r->port, "%s", colon + 1);
}

static void stop_echo(running *r)
{
    int st = ts_stop(&r->proc, SIGTERM, 10.0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "echo-server status %d: %s",
              st, r->proc.err);
}

static int python(const running *r, const char *cafile, bool expect_fail,
                  char *out, size_t cap, char *err, size_t ecap)
{
    char *argv[] = {"/usr/bin/python3",
                    (char *)ts_source_path("tests/tls/tls_client.py"),
                    (char *)r->host, (char *)r->port, (char *)cafile,
                    expect_fail ? "--expect-fail" : NULL, NULL};
    return ts_run(argv, NULL, 0, out, cap, err, ecap, 60.0);
}

static void python_echo(const char *mode)
{
    const tt_pki *p = tt_pki_get();
    running r;
    start_echo(&r, mode, p->server_cert, p->server_key);
    char out[512] = "", err[4096] = "";
    int st = python(&r, p->ca_cert, false, out, sizeof out, err, sizeof err);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "python: %s%s", out, err);
    cr_assert_str_eq(out, "ok TLSv1.3\n", "%s", err);
    stop_echo(&r);
}

Test(python, ssl_module_echoes_through_a_threading_echo_server)
{
    python_echo("threading");
}

Test(python, ssl_module_echoes_through_a_sync_echo_server)
{
    python_echo("sync");
}

Test(python, ssl_module_echoes_through_a_forking_echo_server)
{
    python_echo("forking");
}

Test(python, ssl_module_echoes_through_a_uv_echo_server)
{
    python_echo("uv");
}

static void python_refuses_expired(const char *mode)
{
    const tt_pki *p = tt_pki_get();
    running r;
    start_echo(&r, mode, p->expired_cert, p->expired_key);
    char out[512] = "", err[4096] = "";
    int st = python(&r, p->ca_cert, true, out, sizeof out, err, sizeof err);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "python: %s%s", out, err);
    cr_assert(strstr(out, "refused certificate has expired"), "%s", out);
    /* The server reported the client's alert, and stops cleanly. */
    stop_echo(&r);
    cr_assert(strstr(r.proc.err, "TLS handshake with 127.0.0.1"), "%s", r.proc.err);
}

Test(python, ssl_module_refuses_an_expired_certificate_uv)
{
    python_refuses_expired("uv");
}

Test(python, ssl_module_refuses_an_expired_certificate)
{
    python_refuses_expired("threading");
}

/* --- echo-client --tls --------------------------------------------------- */

static int echo_client(const running *r, char *const extra[], const char *in,
                       char *out, size_t cap, char *err, size_t ecap)
{
    char *argv[16] = {(char *)ts_build_path("examples/echo/echo-client"),
                      (char *)r->addr};
    int n = 2;
    for (int i = 0; extra[i] && n < 15; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return ts_run(argv, in, strlen(in), out, cap, err, ecap, 30.0);
}

static void echo_client_lines(const char *mode)
{
    const tt_pki *p = tt_pki_get();
    running r;
    start_echo(&r, mode, p->server_cert, p->server_key);
    char out[256] = "", err[1024] = "";
    const char *in = "one\ntwo\nthree\n";
    int st = echo_client(&r, (char *[]){"--tls", "--cacert", (char *)p->ca_cert, NULL},
                         in, out, sizeof out, err, sizeof err);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", err);
    cr_assert_str_eq(out, in);
    stop_echo(&r);
}

Test(echo_client, tls_with_the_ca_echoes_every_line)
{
    echo_client_lines("threading");
}

Test(echo_client, tls_with_the_ca_echoes_every_line_uv)
{
    echo_client_lines("uv");
}

Test(echo_client, tls_refuses_an_expired_certificate_unless_insecure)
{
    const tt_pki *p = tt_pki_get();
    running r;
    start_echo(&r, "sync", p->expired_cert, p->expired_key);
    char out[256] = "", err[1024] = "";
    int st = echo_client(&r, (char *[]){"--tls", "--cacert", (char *)p->ca_cert, NULL},
                         "x\n", out, sizeof out, err, sizeof err);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d", st);
    cr_assert(strstr(err, "certificate has expired"), "%s", err);
    cr_assert_str_eq(out, "");

    st = echo_client(&r, (char *[]){"--tls", "--insecure", NULL}, "y\n", out,
                     sizeof out, err, sizeof err);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", err);
    cr_assert_str_eq(out, "y\n");
    stop_echo(&r);
}

Test(echo_client, plaintext_client_on_the_tls_port_fails_and_server_goes_on)
{
    const tt_pki *p = tt_pki_get();
    running r;
    start_echo(&r, "sync", p->server_cert, p->server_key);
    char out[256] = "", err[1024] = "";
    int st = echo_client(&r, (char *[]){"--timeout", "5", NULL}, "plain\n", out,
                         sizeof out, err, sizeof err);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d", st);
    st = echo_client(&r, (char *[]){"--tls", "--cacert", (char *)p->ca_cert, NULL},
                     "tls\n", out, sizeof out, err, sizeof err);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", err);
    cr_assert_str_eq(out, "tls\n");
    stop_echo(&r);
    cr_assert(strstr(r.proc.err, "TLS handshake with 127.0.0.1"), "%s", r.proc.err);
}

Test(echo_server, unreadable_certificate_is_named_and_exits_2)
{
    const tt_pki *p = tt_pki_get();
    char *argv[] = {(char *)ts_build_path("examples/echo/echo-server"),
                    "--listen", "127.0.0.1:0", "--tls-cert", "/nonexistent.pem",
                    "--tls-key", (char *)p->server_key, NULL};
    char out[256] = "", err[1024] = "";
    int st = ts_run(argv, NULL, 0, out, sizeof out, err, sizeof err, 10.0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d", st);
    cr_assert(strstr(err, "/nonexistent.pem"), "%s", err);
    cr_assert(strstr(err, "No such file or directory"), "%s", err);
}
