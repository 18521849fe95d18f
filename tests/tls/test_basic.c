/* tests/tls/test_basic.c - contexts, implicit TLS handshake and echo in
 * every mode, the client helper's verification, client certificates,
 * close_notify. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "support.h"
#include "tlstest.h"

/* --- contexts ----------------------------------------------------------- */

Test(context, missing_certificate_file_is_named_with_the_reason)
{
    ss_tls_context ctx;
    ss_error err;
    ss_tls_options o = {.server = true, .cert_file = "/nonexistent/cert.pem",
                        .key_file = "/nonexistent/key.pem"};
    cr_assert_eq(ss_tls_context_init(&ctx, &o, &err), SS_ETLS);
    cr_assert(strstr(err.msg, "/nonexistent/cert.pem"), "%s", err.msg);
    cr_assert(strstr(err.msg, "No such file or directory"), "%s", err.msg);
}

Test(context, key_that_does_not_match_the_certificate_is_refused)
{
    const tt_pki *p = tt_pki_get();
    ss_tls_context ctx;
    ss_error err;
    ss_tls_options o = {.server = true, .cert_file = p->server_cert,
                        .key_file = p->client_key};
    cr_assert_eq(ss_tls_context_init(&ctx, &o, &err), SS_ETLS);
    cr_assert(strstr(err.msg, p->client_key), "%s", err.msg);
    cr_assert(strstr(err.msg, "mismatch"), "%s", err.msg);
}

Test(context, versions_below_tls12_and_servers_without_certificates_refused)
{
    ss_tls_context ctx;
    ss_error err;
    ss_tls_options old = {.server = false, .insecure = true,
                          .min_version = 0x0302};
    cr_assert_eq(ss_tls_context_init(&ctx, &old, &err), -EINVAL);
    ss_tls_options nocert = {.server = true};
    cr_assert_eq(ss_tls_context_init(&ctx, &nocert, &err), -EINVAL);
    cr_assert(strstr(err.msg, "certificate"), "%s", err.msg);
    ss_tls_options badcipher = {.insecure = true, .ciphers = "NO-SUCH-CIPHER"};
    cr_assert_eq(ss_tls_context_init(&ctx, &badcipher, &err), -EINVAL);
    cr_assert(strstr(err.msg, "NO-SUCH-CIPHER"), "%s", err.msg);
}

Test(context, close_is_idempotent)
{
    ss_tls_context ctx;
    tt_client_ctx(&ctx, NULL);
    ss_tls_context_close(&ctx);
    ss_tls_context_close(&ctx);
    cr_assert_null(ctx.ssl_ctx);
}

/* --- handshake and echo ------------------------------------------------- */

static void echo_round(const ss_server_class *cls, int max_version,
                       const char *want_version)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, &(ss_tls_options){.max_version = max_version});
    tt_server t;
    tt_server_start(&t, cls, &sctx);

    tt_client c;
    tt_client_open(&c, &t.addr, &cctx, NULL);
    char buf[256];
    tt_client_exchange(&c, "hello over tls\n", buf, sizeof buf);
    cr_assert_str_eq(buf, "hello over tls\n");
    tt_client_exchange(&c, "VERSION\n", buf, sizeof buf);
    cr_assert_str_eq(buf, want_version);
    cr_assert_str_eq(ss_tls_conn_version(&c.conn), strtok(buf, "\n"));
    /* Two lines in one record, read one byte: the rest waits inside TLS,
     * where poll() would not see it. */
    cr_assert_eq(tt_write(&c.conn.base, "ab\ncd\n"), 0);
    char one;
    cr_assert_eq(c.conn.base.recv(&c.conn.base, &one, 1), 1);
    size_t pending = ss_tls_conn_pending(&c.conn);
    if (pending == 0) { /* the echo came in two records: take the first */
        tt_readline(&c.conn.base, buf, sizeof buf);
        cr_assert_eq(c.conn.base.recv(&c.conn.base, &one, 1), 1);
        pending = ss_tls_conn_pending(&c.conn);
    }
    cr_assert_gt(pending, 0);
    tt_readline(&c.conn.base, buf, sizeof buf);
    tt_client_close(&c);

    tt_server_stop(&t);
    cr_assert_eq(t.errors, 0, "handle_error: %s", t.last_error);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

Test(echo, sync_server_tls13)
{
    echo_round(&ss_tcp_server_class, 0, "TLSv1.3\n");
}

Test(echo, sync_server_tls12)
{
    echo_round(&ss_tcp_server_class, 0x0303, "TLSv1.2\n");
}

Test(echo, threading_server)
{
    echo_round(&ss_threading_tcp_server_class, 0, "TLSv1.3\n");
}

Test(echo, forking_server)
{
    TS_SKIP_IN_ASAN_FORK();
    echo_round(&ss_forking_tcp_server_class, 0, "TLSv1.3\n");
}

/* rfile/wfile over TLS carry a megabyte unchanged, in records of every
 * size, while the client writes and reads in chunks. */
Test(echo, one_megabyte_round_trip_is_byte_exact)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    tt_server t;
    tt_server_start(&t, &ss_threading_tcp_server_class, &sctx);
    tt_client c;
    tt_client_open(&c, &t.addr, &cctx, NULL);

    enum { LINE = 1000, LINES = 1000 };
    static char out[LINE], in[LINE];
    for (int i = 0; i < LINES; i++) {
        for (int k = 0; k < LINE - 1; k++)
            out[k] = (char)('A' + (i * 7 + k) % 26);
        out[LINE - 1] = '\n';
        size_t sent = 0;
        while (sent < LINE) {
            ssize_t w = c.conn.base.send(&c.conn.base, out + sent, LINE - sent);
            cr_assert_gt(w, 0);
            sent += (size_t)w;
        }
        size_t got = 0;
        while (got < LINE) {
            ssize_t r = c.conn.base.recv(&c.conn.base, in + got, LINE - got);
            cr_assert_gt(r, 0, "line %d: %s", i, r < 0 ? ss_strerror((int)r) : "EOF");
            got += (size_t)r;
        }
        cr_assert_eq(memcmp(in, out, LINE), 0, "line %d differs", i);
    }
    tt_client_close(&c);
    tt_server_stop(&t);
    cr_assert_eq(t.errors, 0, "%s", t.last_error);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

/* The client's close_notify ends the handler's read loop as EOF; the
 * server answers with its own in shutdown_request. */
Test(echo, close_notify_both_ways)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    tt_server t;
    tt_server_start(&t, &ss_tcp_server_class, &sctx);
    tt_client c;
    tt_client_open(&c, &t.addr, &cctx, NULL);
    char buf[64];
    tt_client_exchange(&c, "bye\n", buf, sizeof buf);
    cr_assert_eq(ss_tls_conn_shutdown(&c.conn), 0);
    ssize_t r = c.conn.base.recv(&c.conn.base, buf, sizeof buf);
    cr_assert_eq(r, 0, "expected the server's close_notify, got %zd", r);
    cr_assert(ss_tls_conn_closed_cleanly(&c.conn));
    tt_client_close(&c);
    tt_server_stop(&t);
    cr_assert_eq(t.errors, 0, "%s", t.last_error);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

/* --- the client helper refuses what it should --------------------------- */

static void refused_by_client(const char *cert, const char *key,
                              const char *ca, const char *host,
                              const char *want)
{
    const tt_pki *p = tt_pki_get();
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, &(ss_tls_options){.cert_file = cert, .key_file = key});
    tt_client_ctx(&cctx, &(ss_tls_options){.ca_file = ca ? ca : p->ca_cert});
    tt_server t;
    tt_server_start(&t, &ss_tcp_server_class, &sctx);

    int fd = tt_connect(&t.addr);
    ss_tls_conn conn;
    ss_error err;
    ss_error_clear(&err);
    int rc = ss_tls_connect(&conn, &cctx, fd, host, NULL, &err);
    cr_assert_eq(rc, SS_ETLS, "connect gave %d (%s)", rc, err.msg);
    cr_assert(strstr(err.msg, "certificate verify failed"), "%s", err.msg);
    cr_assert(strstr(err.msg, want), "'%s' not in '%s'", want, err.msg);
    close(fd);
    /* The server saw the client's alert: a failed handshake, reported. */
    cr_assert_geq(tt_wait_errors(&t, 1, 5.0), 1);
    tt_server_stop(&t);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

Test(verify, expired_certificate_is_refused)
{
    const tt_pki *p = tt_pki_get();
    refused_by_client(p->expired_cert, p->expired_key, NULL, "localhost",
                      "certificate has expired");
}

Test(verify, certificate_from_an_untrusted_ca_is_refused)
{
    const tt_pki *p = tt_pki_get();
    refused_by_client(p->server_cert, p->server_key, p->other_ca_cert,
                      "localhost", "unable to get local issuer certificate");
}

Test(verify, certificate_for_another_host_is_refused)
{
    const tt_pki *p = tt_pki_get();
    refused_by_client(p->wronghost_cert, p->wronghost_key, NULL, "localhost",
                      "mismatch");
}

Test(verify, ip_literal_is_checked_against_the_ip_names)
{
    const tt_pki *p = tt_pki_get();
    refused_by_client(p->wronghost_cert, p->wronghost_key, NULL, "127.0.0.1",
                      "mismatch");
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    tt_server t;
    tt_server_start(&t, &ss_tcp_server_class, &sctx);
    int fd = tt_connect(&t.addr);
    ss_tls_conn conn;
    ss_error err;
    cr_assert_eq(ss_tls_connect(&conn, &cctx, fd, "127.0.0.1", NULL, &err), 0,
                 "%s", err.msg);
    ss_tls_conn_shutdown(&conn);
    ss_tls_conn_close(&conn);
    close(fd);
    tt_server_stop(&t);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

Test(verify, insecure_client_accepts_an_expired_certificate)
{
    const tt_pki *p = tt_pki_get();
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, &(ss_tls_options){.cert_file = p->expired_cert,
                                           .key_file = p->expired_key});
    tt_client_ctx(&cctx, &(ss_tls_options){.insecure = true});
    tt_server t;
    tt_server_start(&t, &ss_tcp_server_class, &sctx);
    tt_client c;
    tt_client_open(&c, &t.addr, &cctx, NULL);
    char buf[64];
    tt_client_exchange(&c, "still echoed\n", buf, sizeof buf);
    cr_assert_str_eq(buf, "still echoed\n");
    tt_client_close(&c);
    tt_server_stop(&t);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

Test(verify, verifying_client_needs_a_host_name)
{
    ss_tls_context cctx;
    tt_client_ctx(&cctx, NULL);
    ss_tls_conn conn;
    ss_error err;
    cr_assert_eq(ss_tls_connect(&conn, &cctx, -1, NULL, NULL, &err), -EINVAL);
    ss_tls_context_close(&cctx);
}

/* --- client certificates ------------------------------------------------ */

Test(client_cert, required_certificate_missing_is_refused_and_reported)
{
    const tt_pki *p = tt_pki_get();
    ss_tls_context sctx, anon, withcert;
    tt_server_ctx(&sctx, &(ss_tls_options){.client_ca_file = p->ca_cert});
    tt_client_ctx(&anon, NULL);
    tt_client_ctx(&withcert, &(ss_tls_options){.cert_file = p->client_cert,
                                               .key_file = p->client_key});
    tt_server t;
    tt_server_start(&t, &ss_threading_tcp_server_class, &sctx);

    /* Without: TLS 1.3 finishes the client's side first, so the refusal
     * shows at the first read. */
    int fd = tt_connect(&t.addr);
    ss_tls_conn conn;
    ss_error err;
    int rc = ss_tls_connect(&conn, &anon, fd, "localhost", NULL, &err);
    if (rc == 0) {
        char buf[16];
        tt_write(&conn.base, "x\n");
        cr_assert_leq(conn.base.recv(&conn.base, buf, sizeof buf), 0);
        ss_tls_conn_close(&conn);
    }
    close(fd);
    cr_assert_geq(tt_wait_errors(&t, 1, 5.0), 1);
    cr_assert(strstr(t.last_error, "certificate"), "%s", t.last_error);

    /* With: served, and the handler could see who it is. */
    tt_client c;
    tt_client_open(&c, &t.addr, &withcert, NULL);
    char buf[64];
    tt_client_exchange(&c, "mutual\n", buf, sizeof buf);
    cr_assert_str_eq(buf, "mutual\n");
    char subject[128];
    cr_assert_gt(ss_tls_conn_peer_subject(&c.conn, subject, sizeof subject), 0);
    cr_assert_str_eq(subject, "CN=localhost");
    tt_client_close(&c);

    tt_server_stop(&t);
    cr_assert_eq(t.errors, 1, "%s", t.last_error);
    ss_tls_context_close(&withcert);
    ss_tls_context_close(&anon);
    ss_tls_context_close(&sctx);
}
