/* Implicit TLS behind a PROXY header: the header comes in clear before the
 * ClientHello, and every byte after it must reach the TLS handshake (the
 * bug of several servers that parsed it after TLS, or ate part of the
 * ClientHello).  The header and the ClientHello arrive in one segment here
 * (TCP_CORK), so a reader that takes more than the header would break the
 * handshake.  Last, the same behind the real HAProxy. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "haproxy.h"
#include "support.h"
#include "tlstest.h"

typedef struct {
    ss_server srv;
    ss_server_class cls;
    pthread_t thread;
    atomic_int errors;
} px_server;

static int who_handle(ss_handler *h, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    char line[128], out[512], c[SS_ADDRSTRLEN], b[SS_ADDRSTRLEN];
    ssize_t n = ss_rfile_readline(&sh->rfile, line, sizeof line - 1);
    if (n <= 0)
        return ss_error_set(err, n < 0 ? (int)n : SS_ECLOSED, "readline");
    line[n] = '\0';
    const ss_proxy_info *pi = ss_request_proxy(h->request);
    int len = snprintf(out, sizeof out, "client=%s balancer=%s tls=%d %s",
                       ss_addr_format(&h->client_address, c, sizeof c),
                       pi ? ss_addr_format(&pi->balancer, b, sizeof b) : "-",
                       sh->tls != NULL, line);
    return ss_wfile_write(&sh->wfile, out, (size_t)len) < 0 ? -EIO : 0;
}

static const ss_handler_class who_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "WhoHandler",
    .handle = who_handle,
};

static void px_handle_error(ss_server *s, ss_request *req,
                            const ss_addr *client, const ss_error *err)
{
    (void)req;
    (void)client;
    (void)err;
    atomic_fetch_add(&((px_server *)s)->errors, 1);
}

static void *serve(void *arg)
{
    ss_server_serve_forever(arg, 0.05);
    return NULL;
}

static void px_start(px_server *t, const ss_server_class *base,
                     ss_tls_context *ctx)
{
    memset(t, 0, sizeof *t);
    t->cls = (ss_server_class){.base = base, .name = "ProxyTls",
                               .handle_error = px_handle_error};
    ss_addr a;
    ss_error err;
    cr_assert_eq(ss_addr_parse(&a, "127.0.0.1:0", &err), 0);
    cr_assert_eq(ss_server_init(&t->srv, &t->cls, &a, &who_handler_class,
                                SS_BIND_AND_ACTIVATE, &err), 0, "%s", err.msg);
    cr_assert_eq(ss_server_set_tls(&t->srv, ctx), 0);
    ss_proxy_config pc;
    ss_proxy_config_init(&pc);
    cr_assert_eq(ss_proxy_config_trust(&pc, "127.0.0.2", &err), 0);
    cr_assert_eq(ss_server_set_proxy(&t->srv, &pc), 0);
    cr_assert_eq(pthread_create(&t->thread, NULL, serve, &t->srv), 0);
}

static void px_stop(px_server *t)
{
    cr_assert_eq(ss_server_shutdown(&t->srv), 0);
    pthread_join(t->thread, NULL);
    ss_server_close(&t->srv);
}

/* A TCP connection from source address src. */
static int connect_from(const char *src, const ss_addr *to)
{
    int fd = ts_connect_from(src, to, 10.0);
    cr_assert_geq(fd, 0, "connect from %s: %s", src, strerror(-fd));
    return fd;
}

/* A connection from 127.0.0.2 with the header queued but held back
 * (TCP_CORK) so that it leaves together with the ClientHello. */
static int corked_from_balancer(const ss_addr *to, const void *hdr, size_t n)
{
    int fd = connect_from("127.0.0.2", to);
    int one = 1;
    cr_assert_eq(setsockopt(fd, IPPROTO_TCP, TCP_CORK, &one, sizeof one), 0);
    cr_assert_eq(ts_write_full(fd, hdr, n), 0);
    return fd;
}

static void handshake_follows_header(const ss_server_class *base)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    px_server t;
    px_start(&t, base, &sctx);
    int port = ss_addr_port(&t.srv.server_address);

    /* v1, then the TLS session. */
    char hdr[128];
    int hl = snprintf(hdr, sizeof hdr, "PROXY TCP4 203.0.113.77 127.0.0.1 "
                      "41000 %d\r\n", port);
    /* 1: v1 and 2: v2, each in the ClientHello's segment; 3: v1 a byte at
     * a time first, so the header is parked on the loop and the handshake
     * then starts from the loop callback. */
    for (int version = 1; version <= 3; version++) {
        unsigned char v2h[28] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A,
                                 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0,
                                 12,   203,  0,    113,  77,   127,  0,
                                 0,    1,    0xA0, 0x28, 0,    0};
        v2h[26] = (unsigned char)(port >> 8);
        v2h[27] = (unsigned char)port;
        int fd;
        if (version == 1)
            fd = corked_from_balancer(&t.srv.server_address, hdr, (size_t)hl);
        else if (version == 2)
            fd = corked_from_balancer(&t.srv.server_address, v2h, sizeof v2h);
        else
            fd = corked_from_balancer(&t.srv.server_address, hdr, 0);
        if (version == 3) {
            int zero = 0, one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_CORK, &zero, sizeof zero);
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            for (int i = 0; i < hl; i++)
                cr_assert_eq(ts_write_full(fd, hdr + i, 1), 0);
        }
        ss_tls_conn conn;
        ss_error err;
        ss_error_clear(&err);
        cr_assert_eq(ss_tls_connect(&conn, &cctx, fd, "localhost", NULL, &err),
                     0, "v%d: handshake after the header: %s", version,
                     err.msg);
        char out[256];
        cr_assert_eq(tt_write(&conn.base, "hello\n"), 0);
        cr_assert_gt(tt_readline(&conn.base, out, sizeof out), 0);
        char want[256];
        struct sockaddr_in me;
        socklen_t ml = sizeof me;
        getsockname(fd, (struct sockaddr *)&me, &ml);
        snprintf(want, sizeof want, "client=203.0.113.77:41000 "
                 "balancer=127.0.0.2:%u tls=1 hello\n", ntohs(me.sin_port));
        cr_assert_str_eq(out, want, "v%d", version);
        ss_tls_conn_shutdown(&conn);
        ss_tls_conn_close(&conn);
        close(fd);
    }
    cr_assert_eq(atomic_load(&t.errors), 0);

    /* A ClientHello with no header before it: refused before TLS. */
    tt_client c;
    c.fd = tt_connect(&t.srv.server_address);
    ss_error err;
    ss_error_clear(&err);
    cr_assert_neq(ss_tls_connect(&c.conn, &cctx, c.fd, "localhost", NULL, &err),
                  0, "a handshake without a header must fail");
    close(c.fd);
    px_stop(&t);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

Test(implicit_tls, handshake_follows_the_header_sync)
{
    handshake_follows_header(&ss_tcp_server_class);
}

Test(implicit_tls, handshake_follows_the_header_threading)
{
    handshake_follows_header(&ss_threading_tcp_server_class);
}

Test(implicit_tls, handshake_follows_the_header_forking)
{
    TS_SKIP_IN_ASAN_FORK();
    handshake_follows_header(&ss_forking_tcp_server_class);
}

/* Implicit TLS through the real HAProxy in TCP mode: it sends its v2
 * header, then relays the client's ClientHello untouched. */
Test(implicit_tls, through_haproxy_send_proxy_v2)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    px_server t;
    px_start(&t, &ss_threading_tcp_server_class, &sctx);
    char line[128];
    snprintf(line, sizeof line, "127.0.0.1:%d send-proxy-v2 source 127.0.0.2",
             ss_addr_port(&t.srv.server_address));
    ts_haproxy h;
    int rc = ts_haproxy_start(&h, line);
    cr_assert_eq(rc, 0, "haproxy: %d\n%s%s", rc, h.proc.out, h.proc.err);

    int fd = connect_from("127.0.0.3", &h.front);
    ss_tls_conn conn;
    ss_error err;
    ss_error_clear(&err);
    cr_assert_eq(ss_tls_connect(&conn, &cctx, fd, "localhost", NULL, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(tt_write(&conn.base, "hi\n"), 0);
    char out[256], want[256];
    cr_assert_gt(tt_readline(&conn.base, out, sizeof out), 0);
    struct sockaddr_in me;
    socklen_t ml = sizeof me;
    getsockname(fd, (struct sockaddr *)&me, &ml);
    snprintf(want, sizeof want, "client=127.0.0.3:%u balancer=127.0.0.2:",
             ntohs(me.sin_port));
    cr_assert_eq(strncmp(out, want, strlen(want)), 0, "%s\nwant %s", out, want);
    cr_assert(strstr(out, " tls=1 hi\n"), "%s", out);
    ss_tls_conn_shutdown(&conn);
    ss_tls_conn_close(&conn);
    close(fd);
    ts_haproxy_stop(&h);
    cr_assert_eq(atomic_load(&t.errors), 0);
    px_stop(&t);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}
