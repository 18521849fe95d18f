/* tests/tls/test_stats.c - the TLS figures of stats.h: handshakes that
 * complete and fail, on implicit TLS and STARTTLS, and the bytes a TLS
 * connection moves counted as plaintext. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "support.h"
#include "tlstest.h"

/* Polls the figures until every request taken has ended. */
static ss_stats settled(ss_server *s, uint64_t accepted)
{
    ss_stats st;
    double end = ts_now() + 10.0;
    for (;;) {
        cr_assert_eq(ss_server_stats(s, &st), 0);
        if (st.accepted >= accepted && st.active == 0)
            return st;
        cr_assert_lt(ts_now(), end, "active %llu",
                     (unsigned long long)st.active);
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void implicit_handshakes(const ss_server_class *cls)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    tt_server t;
    tt_server_start(&t, cls, &sctx);

    tt_client c;
    tt_client_open(&c, &t.addr, &cctx, NULL);
    char buf[64];
    tt_client_exchange(&c, "hello\n", buf, sizeof buf);
    cr_assert_str_eq(buf, "hello\n");
    tt_client_close(&c);

    int fd = tt_connect(&t.addr); /* plaintext on the TLS port */
    const char *line = "GET / HTTP/1.0\r\n\r\n";
    cr_assert_eq(ts_write_full(fd, line, strlen(line)), 0);
    cr_assert_eq(tt_wait_errors(&t, 1, 5.0), 1);
    close(fd);

    ss_stats st = settled(&t.srv, 2);
    cr_expect_eq(st.tls_handshakes_ok, 1);
    cr_expect_eq(st.tls_handshakes_failed, 1);
    cr_expect_eq(st.accepted, 2);
    cr_expect_eq(st.finished, 2);
    cr_expect_eq(st.handler_errors, 0, "a failed handshake is no handler's");
    /* Application bytes, not TLS records. */
    cr_expect_eq(st.bytes_in, 6, "bytes_in %llu",
                 (unsigned long long)st.bytes_in);
    cr_expect_eq(st.bytes_out, 6, "bytes_out %llu",
                 (unsigned long long)st.bytes_out);
    tt_server_stop(&t);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

Test(stats, implicit_tls_handshakes_are_counted_sync)
{
    implicit_handshakes(&ss_tcp_server_class);
}

Test(stats, implicit_tls_handshakes_are_counted_threading)
{
    implicit_handshakes(&ss_threading_tcp_server_class);
}

Test(stats, starttls_handshakes_are_counted)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    tt_server t;
    tt_server_prepare(&t, &ss_threading_tcp_server_class, NULL);
    t.starttls = &sctx;
    tt_server_run(&t);

    /* One upgrade that completes... */
    int fd = tt_connect(&t.addr);
    char line[64];
    cr_assert_eq(ts_write_full(fd, "STARTTLS\n", 9), 0);
    cr_assert_gt(ts_read_line(fd, line, sizeof line), 0);
    cr_assert_str_eq(line, "OK\n");
    ss_tls_conn conn;
    ss_error err;
    cr_assert_eq(ss_tls_connect(&conn, &cctx, fd, "localhost", NULL, &err), 0,
                 "%s", err.msg);
    ss_tls_conn_shutdown(&conn);
    ss_tls_conn_close(&conn);
    close(fd);

    /* ...and one whose client answers OK with plaintext. */
    fd = tt_connect(&t.addr);
    cr_assert_eq(ts_write_full(fd, "STARTTLS\n", 9), 0);
    cr_assert_gt(ts_read_line(fd, line, sizeof line), 0);
    cr_assert_eq(ts_write_full(fd, "not a hello\r\n\r\n", 15), 0);
    cr_assert_eq(tt_wait_errors(&t, 1, 5.0), 1);
    close(fd);

    ss_stats st = settled(&t.srv, 2);
    cr_expect_eq(st.tls_handshakes_ok, 1);
    cr_expect_eq(st.tls_handshakes_failed, 1);
    cr_expect_eq(st.handler_errors, 1); /* start_tls failed in the handler */
    tt_server_stop(&t);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}
