/* tests/tls/test_starttls.c - upgrading a live StreamRequestHandler
 * connection in place: rfile and wfile go on over TLS, and a ClientHello
 * sent in the same write as the STARTTLS line (so already sitting in rfile's
 * buffer) still reaches OpenSSL. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/ssl.h>

#include "support.h"
#include "tlstest.h"

static void start(tt_server *t, const ss_server_class *cls,
                  ss_tls_context *sctx)
{
    tt_server_prepare(t, cls, NULL); /* plaintext until STARTTLS */
    t->starttls = sctx;
    tt_server_run(t);
}

static void upgrade_with_hello_in_the_same_write(const ss_server_class *cls)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    tt_server t;
    start(&t, cls, &sctx);
    int fd = tt_connect(&t.addr);

    /* A plaintext exchange first: the connection is live before TLS. */
    char line[128];
    cr_assert_eq(ts_write_full(fd, "VERSION\n", 8), 0);
    cr_assert_gt(ts_read_line(fd, line, sizeof line), 0);
    cr_assert_str_eq(line, "plain\n");

    /* The client's first flight made in memory, out glued to the command. */
    SSL *ssl = tt_glued_hello(&cctx, fd, "STARTTLS\n");

    /* The plaintext "OK\n", byte-exact so no TLS byte is taken. */
    char ok[4] = {0};
    cr_assert_eq(ts_read_full(fd, ok, 3), 3);
    cr_assert_str_eq(ok, "OK\n");

    /* The rest of the handshake over the socket itself. */
    char reply[64];
    tt_glued_finish(ssl, fd, "VERSION\n", reply, sizeof reply, t.last_error);
    cr_assert_str_eq(reply, "TLSv1.3\n");
    close(fd);

    tt_server_stop(&t);
    cr_assert_eq(t.errors, 0, "%s", t.last_error);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

Test(starttls, client_hello_in_the_same_write_as_the_command_sync)
{
    upgrade_with_hello_in_the_same_write(&ss_tcp_server_class);
}

Test(starttls, client_hello_in_the_same_write_as_the_command_threading)
{
    upgrade_with_hello_in_the_same_write(&ss_threading_tcp_server_class);
}

/* The usual order (command, reply, handshake) with the client helper, then
 * rfile/wfile work over TLS; a second STARTTLS is an error of the handler. */
Test(starttls, upgrade_then_echo_then_second_starttls_refused)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    tt_server t;
    start(&t, &ss_threading_tcp_server_class, &sctx);
    int fd = tt_connect(&t.addr);
    char line[128];
    cr_assert_eq(ts_write_full(fd, "STARTTLS\n", 9), 0);
    cr_assert_gt(ts_read_line(fd, line, sizeof line), 0);
    cr_assert_str_eq(line, "OK\n");
    ss_tls_conn conn;
    ss_error err;
    cr_assert_eq(ss_tls_connect(&conn, &cctx, fd, "localhost", NULL, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(tt_write(&conn.base, "over tls\n"), 0);
    cr_assert_gt(tt_readline(&conn.base, line, sizeof line), 0);
    cr_assert_str_eq(line, "over tls\n");

    cr_assert_eq(tt_write(&conn.base, "STARTTLS\n"), 0);
    cr_assert_gt(tt_readline(&conn.base, line, sizeof line), 0);
    cr_assert_str_eq(line, "OK\n");
    cr_assert_eq(tt_wait_errors(&t, 1, 5.0), 1);
    cr_assert(strstr(t.last_error, "TLS already"), "%s", t.last_error);
    /* The handler ended: the server closed the connection with
     * close_notify. */
    cr_assert_eq(tt_readline(&conn.base, line, sizeof line), 0);
    cr_assert(ss_tls_conn_closed_cleanly(&conn));
    ss_tls_conn_close(&conn);
    close(fd);
    tt_server_stop(&t);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

/* A client that answers STARTTLS with plaintext: the handshake fails, the
 * handler returns the error, handle_error has OpenSSL's reason. */
Test(starttls, plaintext_after_starttls_fails_the_handler)
{
    ss_tls_context sctx;
    tt_server_ctx(&sctx, NULL);
    tt_server t;
    start(&t, &ss_tcp_server_class, &sctx);
    int fd = tt_connect(&t.addr);
    const char *burst = "STARTTLS\nHELLO IN PLAINTEXT\n";
    cr_assert_eq(ts_write_full(fd, burst, strlen(burst)), 0);
    cr_assert_eq(tt_wait_errors(&t, 1, 5.0), 1);
    cr_assert(strstr(t.last_error, "TLS handshake with 127.0.0.1"), "%s",
              t.last_error);
    close(fd);
    tt_server_stop(&t);
    ss_tls_context_close(&sctx);
}
