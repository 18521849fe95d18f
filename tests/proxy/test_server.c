/* The PROXY stage in servers of every mixin (sync, threading, forking,
 * pool, event) and on unix sockets: the header's source is the client
 * address in verify_request and in the handler, the balancer stays in
 * ss_request_proxy / ss_event_proxy, LOCAL keeps the socket's address, and
 * an untrusted, missing, garbage, oversized or late header closes only its
 * own connection (through handle_error) while the others are served.
 *
 * The balancer is played by a client bound to 127.0.0.2, the only trusted
 * address; an untrusted peer connects from 127.0.0.1. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coretest.h"
#include "haproxy.h"

#define BALANCER "127.0.0.2"

typedef struct pt_server {
    ss_server srv; /* first: the cast is the upcast */
    ss_server_class cls;
    ct_serve serve;
    ct_log verified;  /* client addresses verify_request saw */
    atomic_int errors;
    pthread_mutex_t mu;
    char last_error[SS_ERRMSG_MAX];
    ss_addr addr;
} pt_server;

/* --- the server side ----------------------------------------------------- */

static bool pt_verify(ss_server *s, ss_request *req, const ss_addr *client)
{
    pt_server *t = (pt_server *)s;
    ct_log_add(&t->verified, ct_fmt(client));
    return SS_SUPER(s->cls, verify_request)(s, req, client);
}

static void pt_handle_error(ss_server *s, ss_request *req, const ss_addr *client,
                            const ss_error *err)
{
    pt_server *t = (pt_server *)s;
    (void)req;
    (void)client;
    pthread_mutex_lock(&t->mu);
    snprintf(t->last_error, sizeof t->last_error, "%s", err->msg);
    pthread_mutex_unlock(&t->mu);
    atomic_fetch_add(&t->errors, 1);
}

/* "client=C balancer=B line=L": what the handler sees. */
static int info_line(char *out, size_t cap, const ss_addr *client,
                     const ss_proxy_info *pi, const char *line)
{
    return snprintf(out, cap, "client=%s balancer=%s cmd=%d%s line=%s\n",
                    ct_fmt(client), pi ? ct_fmt(&pi->balancer) : "-",
                    pi ? pi->header.command : -1,
                    pi && pi->header.crc32c ? "+crc" : "", line);
}

static int reply_handle(ss_handler *h, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    char line[256], out[512];
    ssize_t n = ss_rfile_readline(&sh->rfile, line, sizeof line - 1);
    if (n < 0)
        return ss_error_set(err, (int)n, "readline: %s", ss_strerror((int)n));
    line[n] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    int len = info_line(out, sizeof out, &h->client_address,
                        ss_request_proxy(h->request), line);
    return (int)ss_wfile_write(&sh->wfile, out, (size_t)len) < 0 ? -EIO : 0;
}

static const ss_handler_class reply_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "ProxyReplyHandler",
    .handle = reply_handle,
};

/* The same in event mode: the first line, then the reply, then close. */
typedef struct {
    ss_event_handler base;
    char line[256];
    size_t len;
} ev_reply;

static int ev_on_data(ss_event_handler *h, const unsigned char *data,
                      size_t len, ss_error *err)
{
    ev_reply *r = (ev_reply *)h;
    (void)err;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n' || r->len == sizeof r->line - 1) {
            r->line[r->len] = '\0';
            r->line[strcspn(r->line, "\r")] = '\0';
            char out[512];
            int n = info_line(out, sizeof out, &h->client_address,
                              ss_event_proxy(h), r->line);
            int rc = ss_event_write(h, out, (size_t)n);
            ss_event_close(h);
            return rc;
        }
        r->line[r->len++] = (char)data[i];
    }
    return 0;
}

static const ss_event_handler_class ev_reply_class = {
    .base = &ss_event_handler_base_class,
    .name = "ProxyReplyEventHandler",
    .instance_size = sizeof(ev_reply),
    .on_data = ev_on_data,
};

static void pt_start(pt_server *t, const ss_server_class *base,
                     const char *trusted, double timeout)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    ct_log_init(&t->verified);
    atomic_init(&t->errors, 0);
    t->cls = (ss_server_class){.base = base, .name = "ProxyTestServer",
                               .verify_request = pt_verify,
                               .handle_error = pt_handle_error};
    bool is_unix = base == &ss_threading_unix_stream_server_class ||
                   base == &ss_unix_stream_server_class ||
                   base == &ss_event_unix_stream_server_class;
    if (is_unix)
        ct_unix_addr(&t->addr, "proxy.sock");
    else
        ct_addr(&t->addr, "127.0.0.1:0");
    ss_error err;
    ss_error_clear(&err);
    int rc = ss_server_mixin_base(&(ss_server){.cls = &t->cls}, &ss_event_mixin)
                 ? ss_event_server_init(&t->srv, &t->cls, &t->addr,
                                        &ev_reply_class, SS_BIND_AND_ACTIVATE,
                                        &err)
                 : ss_server_init(&t->srv, &t->cls, &t->addr,
                                  &reply_handler_class, SS_BIND_AND_ACTIVATE,
                                  &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    t->addr = t->srv.server_address;
    ss_proxy_config pc;
    ss_proxy_config_init(&pc);
    if (trusted)
        cr_assert_eq(ss_proxy_config_trust(&pc, trusted, &err), 0, "%s",
                     err.msg);
    pc.timeout = timeout;
    cr_assert_eq(ss_server_set_proxy(&t->srv, &pc), 0);
    cr_assert_not_null(ss_server_get_proxy(&t->srv));
    ct_serve_start(&t->serve, &t->srv, 0.05);
}

static void pt_stop(pt_server *t)
{
    cr_assert_eq(ct_serve_stop(&t->serve), 0);
    ss_server_close(&t->srv);
    ct_cleanup();
}

/* --- the client side ------------------------------------------------------ */

/* A TCP connection to the server from source address src (port 0). */
static int connect_from(const char *src, const ss_addr *to)
{
    if (ss_addr_family(to) == AF_UNIX)
        return ct_connect(to, SOCK_STREAM);
    int fd = ts_connect_from(src, to, CT_DEADLINE);
    cr_assert_geq(fd, 0, "connect from %s: %s", src, strerror(-fd));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void send_all(int fd, const void *b, size_t n)
{
    cr_assert_eq(ts_write_full(fd, b, n), 0);
}

/* Sends what, reads the reply line into out. */
static void exchange(int fd, const void *what, size_t len, char *out,
                     size_t cap)
{
    send_all(fd, what, len);
    ssize_t n = ts_read_line(fd, out, cap);
    cr_assert_gt(n, 0, "no reply (%zd)", n);
}

/* The server closed the connection: EOF (or a reset), nothing else. */
static void assert_closed(int fd, const char *what)
{
    char buf[256];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return;
        cr_assert_geq(n, 0, "%s: still open after %g s (%s)", what,
                      CT_DEADLINE, strerror(errno));
        cr_assert_fail("%s: got %zd bytes instead of a close", what, n);
    }
}

/* The balancer's own address as the server sees it. */
static const char *local_of(int fd)
{
    ss_addr a;
    a.len = sizeof a.sa;
    getsockname(fd, (struct sockaddr *)&a.sa, &a.len);
    return ct_fmt(&a);
}

static size_t v2_tcp4(unsigned char *b, const char *src, unsigned sport,
                      unsigned dport, unsigned char cmd)
{
    static const unsigned char sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                          0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    memcpy(b, sig, 12);
    b[12] = (unsigned char)(0x20 | cmd);
    b[13] = 0x11;
    b[14] = 0;
    b[15] = 12 + 7;
    inet_pton(AF_INET, src, b + 16);
    inet_pton(AF_INET, "127.0.0.1", b + 20);
    b[24] = (unsigned char)(sport >> 8), b[25] = (unsigned char)sport;
    b[26] = (unsigned char)(dport >> 8), b[27] = (unsigned char)dport;
    memcpy(b + 28, "\x04\x00\x04" "pad!", 7); /* a NOOP TLV */
    return 35;
}

/* --- the checks, per class ------------------------------------------------ */

static void header_is_honoured(const ss_server_class *cls)
{
    pt_server t;
    pt_start(&t, cls, BALANCER "/32", 0);
    char out[512], want[512], log[4096];
    int port = ss_addr_port(&t.addr);

    /* v1, in one write with the first line. */
    int fd = connect_from(BALANCER, &t.addr);
    char msg[128];
    int n = snprintf(msg, sizeof msg, "PROXY TCP4 203.0.113.9 127.0.0.1 40000 "
                     "%d\r\nping\n", port);
    exchange(fd, msg, (size_t)n, out, sizeof out);
    snprintf(want, sizeof want, "client=203.0.113.9:40000 balancer=%s cmd=1 "
             "line=ping\n", local_of(fd));
    cr_assert_str_eq(out, want);
    ct_close(fd);

    /* v2 with a TLV, a byte at a time (TCP_NODELAY: many segments). */
    fd = connect_from(BALANCER, &t.addr);
    unsigned char b[64];
    size_t hl = v2_tcp4(b, "198.51.100.20", 5555, (unsigned)port, 1);
    for (size_t i = 0; i < hl; i++)
        send_all(fd, b + i, 1);
    exchange(fd, "pong\n", 5, out, sizeof out);
    snprintf(want, sizeof want, "client=198.51.100.20:5555 balancer=%s cmd=1 "
             "line=pong\n", local_of(fd));
    cr_assert_str_eq(out, want);
    ct_close(fd);

    /* LOCAL (a health check): the balancer is the client. */
    fd = connect_from(BALANCER, &t.addr);
    hl = v2_tcp4(b, "192.0.2.1", 1, 2, 0);
    memcpy(b + hl, "hc\n", 3);
    exchange(fd, b, hl + 3, out, sizeof out);
    char local_hc[SS_ADDRSTRLEN];
    snprintf(local_hc, sizeof local_hc, "%s", local_of(fd));
    snprintf(want, sizeof want, "client=%s balancer=%s cmd=0 line=hc\n",
             local_hc, local_hc);
    cr_assert_str_eq(out, want);
    ct_close(fd);

    /* v1 UNKNOWN: the same. */
    fd = connect_from(BALANCER, &t.addr);
    exchange(fd, "PROXY UNKNOWN\r\nu\n", 17, out, sizeof out);
    snprintf(want, sizeof want, "client=%s balancer=%s cmd=1 line=u\n",
             local_of(fd), local_of(fd));
    cr_assert_str_eq(out, want);

    /* verify_request saw the same client addresses. */
    char expect[512];
    snprintf(expect, sizeof expect, "203.0.113.9:40000 198.51.100.20:5555 %s %s",
             local_hc, local_of(fd));
    ct_close(fd);
    ct_log_get(&t.verified, log, sizeof log);
    cr_assert_str_eq(log, expect);
    cr_assert_eq(atomic_load(&t.errors), 0, "%s", t.last_error);
    pt_stop(&t);
}

Test(honoured, sync) { header_is_honoured(&ss_tcp_server_class); }
Test(honoured, threading) { header_is_honoured(&ss_threading_tcp_server_class); }
Test(honoured, forking) { header_is_honoured(&ss_forking_tcp_server_class); }
Test(honoured, pool) { header_is_honoured(&ss_threadpool_tcp_server_class); }
Test(honoured, event) { header_is_honoured(&ss_event_tcp_server_class); }

static bool figures_settled(void *arg)
{
    ss_stats st;
    ss_server_stats(&((pt_server *)arg)->srv, &st);
    return st.refused_proxy == 5 && st.finished == 1 && st.active == 0 &&
           st.refused_verify == 0 && st.accepted == 7;
}

/* Each bad connection is closed and reported; a good one opened after all
 * of them, while a silent one still waits, is served at once. */
static void bad_headers_close_only_their_connection(const ss_server_class *cls)
{
    pt_server t;
    pt_start(&t, cls, BALANCER "/32", 30.0);
    char out[512];
    int port = ss_addr_port(&t.addr);
    char good[128];
    int gl = snprintf(good, sizeof good, "PROXY TCP4 203.0.113.5 127.0.0.1 "
                      "7000 %d\r\nok\n", port);

    /* A trusted balancer that stays silent: waits up to 30 s. */
    int silent = connect_from(BALANCER, &t.addr);
    int bad[5];
    /* An untrusted source, even with a valid header. */
    bad[0] = connect_from("127.0.0.1", &t.addr);
    send_all(bad[0], good, (size_t)gl);
    /* A trusted source without a header: a client speaking directly. */
    bad[1] = connect_from(BALANCER, &t.addr);
    send_all(bad[1], "USER anonymous\r\n", 16);
    /* Garbage that starts like a header. */
    bad[2] = connect_from(BALANCER, &t.addr);
    send_all(bad[2], "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\nok\n", 36);
    /* A v2 header longer than 4096 bytes. */
    bad[3] = connect_from(BALANCER, &t.addr);
    unsigned char b[64];
    v2_tcp4(b, "192.0.2.1", 1, 2, 1);
    b[14] = 0x20; /* len 8192 + ... */
    send_all(bad[3], b, 16);
    /* A TLS ClientHello's first bytes where the header should be. */
    bad[4] = connect_from(BALANCER, &t.addr);
    send_all(bad[4], "\x16\x03\x01\x02\x00\x01", 6);

    for (int i = 0; i < 5; i++) {
        char what[32];
        snprintf(what, sizeof what, "bad connection %d", i);
        assert_closed(bad[i], what);
        ct_close(bad[i]);
    }
    double start = ts_now();
    int fd = connect_from(BALANCER, &t.addr);
    exchange(fd, good, (size_t)gl, out, sizeof out);
    cr_assert(strncmp(out, "client=203.0.113.5:7000 ", 24) == 0, "%s", out);
    ct_close(fd);
    /* Far below the silent one's 30 s: nothing waited for it. */
    cr_assert_lt(ts_now() - start, 10.0);
    cr_assert(ct_wait_count(&t.errors, 5, CT_DEADLINE), "errors: %d",
              atomic_load(&t.errors));
    /* None of the bad ones reached verify_request. */
    char log[4096];
    ct_log_get(&t.verified, log, sizeof log);
    cr_assert_str_eq(log, "203.0.113.5:7000");
    /* The figures: five refused by the stage, the silent one still in it,
     * the good one finished (ForkingMixIn: once its child is reaped). */
    cr_assert(ct_wait_for(figures_settled, &t, CT_DEADLINE),
              "stats never settled");

    /* Stopping does not wait for the silent one either, and closes it. */
    cr_assert_eq(ct_serve_stop(&t.serve), 0);
    ss_stats st;
    ss_server_stats(&t.srv, &st);
    cr_assert_eq(st.refused_proxy, 6, "the silent one counts once closed");
    cr_assert_eq(st.accepted, st.refused_verify + st.refused_limit +
                                  st.refused_proxy + st.active + st.finished);
    ss_server_close(&t.srv);
    ct_cleanup();
    assert_closed(silent, "silent connection after stop");
    ct_close(silent);
}

Test(refused, sync) { bad_headers_close_only_their_connection(&ss_tcp_server_class); }
Test(refused, threading) { bad_headers_close_only_their_connection(&ss_threading_tcp_server_class); }
Test(refused, forking) { bad_headers_close_only_their_connection(&ss_forking_tcp_server_class); }
Test(refused, pool) { bad_headers_close_only_their_connection(&ss_threadpool_tcp_server_class); }
Test(refused, event) { bad_headers_close_only_their_connection(&ss_event_tcp_server_class); }

/* A header that does not come in time (or stops half-way) closes the
 * connection with a report; the timeout is the configured one. */
static void late_header_times_out(const ss_server_class *cls)
{
    pt_server t;
    pt_start(&t, cls, BALANCER "/32", 0.3);
    int none = connect_from(BALANCER, &t.addr);
    int half = connect_from(BALANCER, &t.addr);
    send_all(half, "PROXY TCP4 1.2.3.4 ", 19);
    assert_closed(none, "no header");
    assert_closed(half, "half a header");
    cr_assert(ct_wait_count(&t.errors, 2, CT_DEADLINE));
    pthread_mutex_lock(&t.mu);
    cr_assert(strstr(t.last_error, "not complete within 0.3 s"), "%s",
              t.last_error);
    pthread_mutex_unlock(&t.mu);
    ct_close(none);
    ct_close(half);
    pt_stop(&t);
}

Test(timeout, sync) { late_header_times_out(&ss_tcp_server_class); }
Test(timeout, threading) { late_header_times_out(&ss_threading_tcp_server_class); }
Test(timeout, forking) { late_header_times_out(&ss_forking_tcp_server_class); }
Test(timeout, pool) { late_header_times_out(&ss_threadpool_tcp_server_class); }
Test(timeout, event) { late_header_times_out(&ss_event_tcp_server_class); }

/* A unix-socket server trusts its peer by configuration: no networks. */
static void unix_server_takes_the_header(const ss_server_class *cls)
{
    pt_server t;
    pt_start(&t, cls, NULL, 0);
    int fd = connect_from(NULL, &t.addr);
    char out[512];
    exchange(fd, "PROXY TCP6 2001:db8::7 ::1 123 456\r\nunix\n", 41, out,
             sizeof out);
    cr_assert(strncmp(out, "client=[2001:db8::7]:123 balancer=unix: cmd=1 "
                           "line=unix", 55) == 0, "%s", out);
    ct_close(fd);
    /* And refuses what is not a header. */
    fd = connect_from(NULL, &t.addr);
    send_all(fd, "unix\n", 5);
    assert_closed(fd, "no header on the unix socket");
    ct_close(fd);
    cr_assert(ct_wait_count(&t.errors, 1, CT_DEADLINE));
    pt_stop(&t);
}

Test(unix_socket, threading) { unix_server_takes_the_header(&ss_threading_unix_stream_server_class); }
Test(unix_socket, event) { unix_server_takes_the_header(&ss_event_unix_stream_server_class); }

/* ss_server_handle_request() has no loop: the header is read inline. */
Test(handle_request, reads_the_header_inline)
{
    pt_server t;
    memset(&t, 0, sizeof t);
    pthread_mutex_init(&t.mu, NULL);
    ct_log_init(&t.verified);
    t.cls = (ss_server_class){.base = &ss_tcp_server_class, .name = "P",
                              .verify_request = pt_verify,
                              .handle_error = pt_handle_error};
    ct_addr(&t.addr, "127.0.0.1:0");
    ct_server_init(&t.srv, &t.cls, &t.addr, &reply_handler_class);
    t.addr = t.srv.server_address;
    ss_proxy_config pc;
    ss_proxy_config_init(&pc);
    cr_assert_eq(ss_proxy_config_trust(&pc, "127.0.0.0/8", NULL), 0);
    cr_assert_eq(ss_server_set_proxy(&t.srv, &pc), 0);
    t.srv.timeout = CT_DEADLINE;

    int fd = connect_from(BALANCER, &t.addr);
    send_all(fd, "PROXY TCP4 192.0.2.44 127.0.0.1 9 9\r\nx\n", 39);
    cr_assert_eq(ss_server_handle_request(&t.srv), 0);
    char out[512];
    cr_assert_gt(ts_read_line(fd, out, sizeof out), 0);
    cr_assert(strncmp(out, "client=192.0.2.44:9 ", 20) == 0, "%s", out);
    ct_close(fd);

    /* A silent balancer: handle_request returns after the timeout. */
    pc.timeout = 0.2;
    cr_assert_eq(ss_server_set_proxy(&t.srv, &pc), 0);
    fd = connect_from(BALANCER, &t.addr);
    cr_assert_eq(ss_server_handle_request(&t.srv), 0);
    assert_closed(fd, "silent, handle_request");
    cr_assert_eq(atomic_load(&t.errors), 1);
    ct_close(fd);
    ss_server_close(&t.srv);
}

Test(config, refuses_what_cannot_work)
{
    ss_server srv;
    ss_addr a;
    ct_addr(&a, "127.0.0.1:0");
    ss_proxy_config pc;
    ss_proxy_config_init(&pc);
    /* An IP server with no trusted network would refuse everybody. */
    ct_server_init(&srv, &ss_tcp_server_class, &a, &reply_handler_class);
    cr_assert_eq(ss_server_set_proxy(&srv, &pc), -EINVAL);
    cr_assert_null(ss_server_get_proxy(&srv));
    cr_assert_eq(ss_proxy_config_trust(&pc, "127.0.0.1", NULL), 0);
    pc.timeout = NAN;
    cr_assert_eq(ss_server_set_proxy(&srv, &pc), -EINVAL);
    pc.timeout = -1; /* the default */
    cr_assert_eq(ss_server_set_proxy(&srv, &pc), 0);
    cr_assert_eq(ss_server_get_proxy(&srv)->timeout, SS_PROXY_TIMEOUT_DEFAULT);
    cr_assert_eq(ss_server_set_proxy(&srv, NULL), 0);
    cr_assert_null(ss_server_get_proxy(&srv));
    ss_server_close(&srv);
    /* Datagrams carry no PROXY header here. */
    ct_server_init(&srv, &ss_udp_server_class, &a, ct_echo_handler_for(SOCK_DGRAM));
    cr_assert_eq(ss_server_set_proxy(&srv, &pc), -EINVAL);
    ss_server_close(&srv);
}

/* --- through the real HAProxy ------------------------------------------- */

/* HAProxy connects from 127.0.0.2 (`source`), the client from 127.0.0.3,
 * the server listens on 127.0.0.1: every address is distinct, so the test
 * tells the balancer from the client. */
static void start_haproxy(ts_haproxy *h, const pt_server *t, const char *opts)
{
    char line[512], addr[SS_ADDRSTRLEN];
    ss_addr_format(&t->addr, addr, sizeof addr);
    if (ss_addr_family(&t->addr) == AF_UNIX)
        snprintf(line, sizeof line, "%s %s", addr + 5, opts); /* a path */
    else
        snprintf(line, sizeof line, "%s %s source " BALANCER, addr, opts);
    int rc = ts_haproxy_start(h, line);
    cr_assert_eq(rc, 0, "haproxy: %s\n%s%s", strerror(-rc), h->proc.out,
                 h->proc.err);
}

static void through_haproxy_says(const ss_server_class *cls, const char *opts,
                                 const char *cmd)
{
    pt_server t;
    pt_start(&t, cls, BALANCER "/32", 0);
    ts_haproxy h;
    start_haproxy(&h, &t, opts);
    for (int i = 0; i < 3; i++) {
        int fd = connect_from("127.0.0.3", &h.front);
        char out[512], want[512];
        exchange(fd, "via haproxy\n", 12, out, sizeof out);
        /* The client's own address and port, as HAProxy saw them. */
        snprintf(want, sizeof want, "client=%s balancer=", local_of(fd));
        cr_assert_eq(strncmp(out, want, strlen(want)), 0, "%s\nwant %s", out,
                     want);
        const char *bal = out + strlen(want);
        if (ss_addr_family(&t.addr) == AF_UNIX)
            cr_assert_eq(strncmp(bal, "unix: ", 6), 0, "%s", out);
        else
            cr_assert_eq(strncmp(bal, BALANCER ":", strlen(BALANCER) + 1), 0,
                         "%s", out);
        char tail[64];
        snprintf(tail, sizeof tail, " %s line=via haproxy\n", cmd);
        cr_assert(strstr(out, tail), "%s\nwant ...%s", out, tail);
        ct_close(fd);
    }
    cr_assert_eq(atomic_load(&t.errors), 0, "%s", t.last_error);
    ts_haproxy_stop(&h);
    pt_stop(&t);
}

static void through_haproxy(const ss_server_class *cls, const char *opts)
{
    through_haproxy_says(cls, opts, "cmd=1");
}

/* HAProxy's own CRC32C over the header, checked by ours. */
Test(haproxy, send_proxy_v2_with_crc32c)
{
    through_haproxy_says(&ss_threading_tcp_server_class,
                         "send-proxy-v2 proxy-v2-options crc32c", "cmd=1+crc");
}

Test(haproxy, send_proxy_v1_threading)
{
    through_haproxy(&ss_threading_tcp_server_class, "send-proxy");
}

Test(haproxy, send_proxy_v2_threading)
{
    through_haproxy(&ss_threading_tcp_server_class, "send-proxy-v2");
}

Test(haproxy, send_proxy_v1_sync)
{
    through_haproxy(&ss_tcp_server_class, "send-proxy");
}

Test(haproxy, send_proxy_v2_forking)
{
    through_haproxy(&ss_forking_tcp_server_class, "send-proxy-v2");
}

Test(haproxy, send_proxy_v2_pool)
{
    through_haproxy(&ss_threadpool_tcp_server_class, "send-proxy-v2");
}

Test(haproxy, send_proxy_v2_event)
{
    through_haproxy(&ss_event_tcp_server_class, "send-proxy-v2");
}

Test(haproxy, send_proxy_v2_unix_socket)
{
    through_haproxy(&ss_threading_unix_stream_server_class, "send-proxy-v2");
}

static bool saw_balancer(void *arg)
{
    char log[4096];
    ct_log_get(&((pt_server *)arg)->verified, log, sizeof log);
    return strstr(log, BALANCER ":") != NULL;
}

/* HAProxy's health checks with send-proxy-v2 come as LOCAL (since 2.2,
 * haproxy/haproxy#511): served, with the balancer as the client. */
Test(haproxy, health_checks_come_as_local)
{
    pt_server t;
    pt_start(&t, &ss_threading_tcp_server_class, BALANCER "/32", 0);
    ts_haproxy h;
    start_haproxy(&h, &t, "send-proxy-v2 check inter 100ms");
    cr_assert(ct_wait_for(saw_balancer, &t, CT_DEADLINE),
              "no health check reached verify_request");
    ts_haproxy_stop(&h);
    pt_stop(&t);
    /* A check closes at once, so the handler's reply may fail; a refused
     * header would say "PROXY". */
    cr_assert_null(strstr(t.last_error, "PROXY"), "%s", t.last_error);
}
