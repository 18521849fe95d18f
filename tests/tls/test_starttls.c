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

    /* The client's first flight made into memory, so that it can go out
     * glued to the command. */
    SSL *ssl = SSL_new(cctx.ssl_ctx);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, rb, wb);
    SSL_set1_host(ssl, "localhost");
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set_connect_state(ssl);
    cr_assert_eq(SSL_do_handshake(ssl), -1);
    cr_assert_eq(SSL_get_error(ssl, -1), SSL_ERROR_WANT_READ);
    char *hello;
    long hello_len = BIO_get_mem_data(wb, &hello);
    cr_assert_gt(hello_len, 0);
    static char burst[8192];
    cr_assert_lt((size_t)hello_len + 9, sizeof burst);
    memcpy(burst, "STARTTLS\n", 9);
    memcpy(burst + 9, hello, (size_t)hello_len);
    cr_assert_eq(ts_write_full(fd, burst, 9 + (size_t)hello_len), 0);
    (void)BIO_reset(wb);

    /* The plaintext "OK\n", byte-exact so no TLS byte is taken. */
    char ok[4] = {0};
    cr_assert_eq(ts_read_full(fd, ok, 3), 3);
    cr_assert_str_eq(ok, "OK\n");

    /* The rest of the handshake over the socket itself. */
    BIO *sb = BIO_new_socket(fd, BIO_NOCLOSE);
    SSL_set_bio(ssl, sb, sb);
    int r = SSL_do_handshake(ssl);
    cr_assert_eq(r, 1, "handshake: %d (server: %s)", SSL_get_error(ssl, r),
                 t.last_error);
    cr_assert_eq(SSL_get_verify_result(ssl), X509_V_OK);

    const char *msg = "VERSION\n";
    cr_assert_eq(SSL_write(ssl, msg, (int)strlen(msg)), (int)strlen(msg));
    char reply[64] = {0};
    int n = 0;
    while (n < (int)sizeof reply - 1 && (n == 0 || reply[n - 1] != '\n')) {
        int k = SSL_read(ssl, reply + n, 1);
        cr_assert_eq(k, 1);
        n += k;
    }
    cr_assert_str_eq(reply, "TLSv1.3\n");
    SSL_shutdown(ssl);
    SSL_free(ssl);
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
