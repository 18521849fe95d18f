/* tests/tls/test_server.c - implicit TLS under clients that misbehave: a
 * silent client holds nobody up (sync and threading), a stalled handshake
 * times out into handle_error, plaintext on the TLS port is dropped and
 * reported, stopping the server does not wait for pending handshakes, and
 * handle_request() (no loop) still bounds the handshake. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "support.h"
#include "tlstest.h"

static void silent_client_does_not_stall(const ss_server_class *cls)
{
    ss_tls_context sctx, cctx;
    /* A handshake bound far above the bounds below: only a server that
     * waited for the silent clients could come near it. */
    tt_server_ctx(&sctx, &(ss_tls_options){.handshake_timeout = 120});
    tt_client_ctx(&cctx, NULL);
    tt_server t;
    tt_server_start(&t, cls, &sctx);

    int silent[3];
    for (int i = 0; i < 3; i++)
        silent[i] = tt_connect(&t.addr);
    /* A client that connects and sends nothing at all... */
    double start = ts_now();
    for (int i = 0; i < 5; i++) {
        tt_client c;
        tt_client_open(&c, &t.addr, &cctx, NULL);
        char buf[64];
        tt_client_exchange(&c, "not held up\n", buf, sizeof buf);
        cr_assert_str_eq(buf, "not held up\n");
        tt_client_close(&c);
    }
    /* ...costs the others nothing near the handshake bound (the limit is
     * generous: sanitizers and a loaded machine are slow, not stalled). */
    cr_assert_lt(ts_now() - start, 60.0, "took %.1f s", ts_now() - start);
    cr_assert_eq(t.errors, 0, "%s", t.last_error);

    double stop_start = ts_now();
    tt_server_stop(&t); /* pending handshakes do not delay the stop */
    cr_assert_lt(ts_now() - stop_start, 60.0, "stop took %.1f s",
                 ts_now() - stop_start);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(tt_wait_dropped(silent[i]), 0, "silent client %d not closed", i);
        close(silent[i]);
    }
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

Test(stall, silent_client_does_not_stall_a_sync_server)
{
    silent_client_does_not_stall(&ss_tcp_server_class);
}

Test(stall, silent_client_does_not_stall_a_threading_server)
{
    silent_client_does_not_stall(&ss_threading_tcp_server_class);
}

Test(stall, silent_client_does_not_stall_a_forking_server)
{
    TS_SKIP_IN_ASAN_FORK();
    silent_client_does_not_stall(&ss_forking_tcp_server_class);
}

Test(stall, stalled_handshake_times_out_into_handle_error)
{
    ss_tls_context sctx;
    tt_server_ctx(&sctx, &(ss_tls_options){.handshake_timeout = 0.3});
    tt_server t;
    tt_server_start(&t, &ss_threading_tcp_server_class, &sctx);

    int fd = tt_connect(&t.addr);
    double start = ts_now();
    cr_assert_eq(tt_wait_errors(&t, 1, 5.0), 1);
    cr_assert(strstr(t.last_error, "not done within 0.3 s"), "%s", t.last_error);
    cr_assert(strstr(t.last_error, "127.0.0.1"), "%s", t.last_error);
    cr_assert_eq(tt_wait_dropped(fd), 0);
    cr_assert_lt(ts_now() - start, 20.0); /* the 0.3 s bound, not a hang */
    cr_assert_eq(t.handled, 0, "handle() ran for a client without TLS");
    close(fd);
    tt_server_stop(&t);
    ss_tls_context_close(&sctx);
}

/* A handshake that starts and then stops half-way is bounded too. */
Test(stall, half_a_client_hello_times_out)
{
    ss_tls_context sctx;
    tt_server_ctx(&sctx, &(ss_tls_options){.handshake_timeout = 0.3});
    tt_server t;
    tt_server_start(&t, &ss_tcp_server_class, &sctx);
    int fd = tt_connect(&t.addr);
    /* A TLS record header announcing 512 bytes of handshake, then 4. */
    static const unsigned char part[] = {0x16, 0x03, 0x01, 0x02, 0x00,
                                         0x01, 0x00, 0x01, 0xfc};
    cr_assert_eq(ts_write_full(fd, part, sizeof part), 0);
    cr_assert_eq(tt_wait_errors(&t, 1, 5.0), 1);
    cr_assert(strstr(t.last_error, "not done within"), "%s", t.last_error);
    cr_assert_eq(tt_wait_dropped(fd), 0);
    close(fd);
    tt_server_stop(&t);
    ss_tls_context_close(&sctx);
}

static void plaintext_dropped(const ss_server_class *cls)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    tt_server t;
    tt_server_start(&t, cls, &sctx);

    int fd = tt_connect(&t.addr);
    const char *line = "GET / HTTP/1.0\r\n\r\n";
    cr_assert_eq(ts_write_full(fd, line, strlen(line)), 0);
    cr_assert_eq(tt_wait_dropped(fd), 0, "plaintext client was not dropped");
    close(fd);
    cr_assert_eq(tt_wait_errors(&t, 1, 5.0), 1);
    cr_assert(strstr(t.last_error, "TLS handshake with 127.0.0.1:"), "%s",
              t.last_error);
    cr_assert_eq(t.handled, 0);

    /* And the server goes on serving TLS clients. */
    tt_client c;
    tt_client_open(&c, &t.addr, &cctx, NULL);
    char buf[64];
    tt_client_exchange(&c, "after\n", buf, sizeof buf);
    cr_assert_str_eq(buf, "after\n");
    tt_client_close(&c);
    tt_server_stop(&t);
    cr_assert_eq(t.errors, 1, "%s", t.last_error);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

Test(plaintext, plaintext_on_a_tls_port_is_dropped_sync)
{
    plaintext_dropped(&ss_tcp_server_class);
}

Test(plaintext, plaintext_on_a_tls_port_is_dropped_threading)
{
    plaintext_dropped(&ss_threading_tcp_server_class);
}

/* --- handle_request: no loop, the handshake is inline and bounded ------- */

typedef struct client_job {
    ss_addr addr;
    ss_tls_context *ctx;
    char reply[64];
    int rc;
} client_job;

static void *client_thread(void *arg)
{
    client_job *j = arg;
    int fd = ts_connect(&j->addr, SOCK_STREAM, 5.0);
    ss_tls_conn conn;
    ss_error err;
    j->rc = fd < 0 ? fd : ss_tls_connect(&conn, j->ctx, fd, "localhost", NULL, &err);
    if (j->rc == 0) {
        tt_write(&conn.base, "inline\n");
        tt_readline(&conn.base, j->reply, sizeof j->reply);
        ss_tls_conn_shutdown(&conn);
        ss_tls_conn_close(&conn);
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

Test(handle_request, handshake_runs_inline_and_bounded)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, &(ss_tls_options){.handshake_timeout = 0.3});
    tt_client_ctx(&cctx, NULL);
    tt_server t; /* prepared, never run: no loop serves it */
    tt_server_prepare(&t, &ss_tcp_server_class, &sctx);
    ss_server *srv = &t.srv;
    srv->timeout = 5;

    client_job j = {.addr = srv->server_address, .ctx = &cctx};
    pthread_t th;
    pthread_create(&th, NULL, client_thread, &j);
    cr_assert_eq(ss_server_handle_request(srv), 0);
    pthread_join(th, NULL);
    cr_assert_eq(j.rc, 0);
    cr_assert_str_eq(j.reply, "inline\n");

    /* A silent client: handle_request comes back after the 0.3 s bound. */
    int fd = tt_connect(&srv->server_address);
    double start = ts_now();
    cr_assert_eq(ss_server_handle_request(srv), 0);
    cr_assert_lt(ts_now() - start, 20.0); /* the 0.3 s bound, not a hang */
    cr_assert_eq(t.errors, 1);
    cr_assert(strstr(t.last_error, "not done within 0.3 s"), "%s", t.last_error);
    close(fd);
    ss_server_close(srv);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

Test(config, set_tls_refuses_client_contexts_and_datagram_servers)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    ss_server udp, tcp;
    ss_addr a;
    ss_error err;
    ss_addr_parse(&a, "127.0.0.1:0", &err);
    cr_assert_eq(ss_server_init(&udp, &ss_udp_server_class, &a,
                                &ss_datagram_request_handler_class,
                                SS_BIND_AND_ACTIVATE, &err), 0);
    cr_assert_eq(ss_server_set_tls(&udp, &sctx), -EINVAL);
    cr_assert_eq(ss_server_init(&tcp, &ss_tcp_server_class, &a,
                                &tt_line_handler_class, SS_BIND_AND_ACTIVATE,
                                &err), 0);
    cr_assert_eq(ss_server_set_tls(&tcp, &cctx), -EINVAL);
    cr_assert_eq(ss_server_set_tls(&tcp, &sctx), 0);
    cr_assert_eq(ss_server_get_tls(&tcp), &sctx);
    cr_assert_eq(ss_server_set_tls(&tcp, NULL), 0);
    cr_assert_null(ss_server_get_tls(&tcp));
    ss_server_close(&udp);
    ss_server_close(&tcp);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

