/* tests/tls/test_event.c - TLS in the event mode (EventMixIn over memory
 * BIOs): Python's ssl module and openssl s_client as clients, a client that
 * stalls mid-handshake or sends garbage, STARTTLS in place, 1 MiB echoed,
 * records in pieces, a key update, many connections at once, and
 * close_notify as the peer sees it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/ssl.h>

#include "support.h"
#include "tlstest.h"

/* --- the server: an event server on a thread, handle_error counted ------- */

typedef struct evserver {
    ss_server srv; /* first: handle_error finds the rest */
    ss_server_class cls;
    pthread_t thread;
    ss_addr addr;
    ss_tls_context *starttls; /* for the line handler's STARTTLS */

    pthread_mutex_t lock;
    int errors;
    char last_error[SS_ERRMSG_MAX];
    int connects; /* on_connect calls */
    int closes;   /* on_close calls */
} evserver;

static void ev_handle_error(ss_server *s, ss_request *req, const ss_addr *client,
                            const ss_error *err)
{
    (void)req;
    (void)client;
    evserver *e = (evserver *)s;
    pthread_mutex_lock(&e->lock);
    e->errors++;
    snprintf(e->last_error, sizeof e->last_error, "%s", err->msg);
    pthread_mutex_unlock(&e->lock);
}

static void *serve(void *arg)
{
    evserver *e = arg;
    ss_server_serve_forever(&e->srv, 0.5);
    return NULL;
}

static void ev_start_at(evserver *e, const ss_server_class *base,
                        const char *addr, const ss_event_handler_class *hc,
                        ss_tls_context *implicit, ss_tls_context *starttls)
{
    memset(e, 0, sizeof *e);
    pthread_mutex_init(&e->lock, NULL);
    e->cls = (ss_server_class){.base = base,
                               .name = "TestEventTLSServer",
                               .handle_error = ev_handle_error};
    e->starttls = starttls;
    ss_addr a;
    cr_assert_eq(ss_addr_parse(&a, addr, NULL), 0);
    ss_error err;
    ss_error_clear(&err);
    cr_assert_eq(ss_event_server_init(&e->srv, &e->cls, &a, hc,
                                      SS_BIND_AND_ACTIVATE, &err),
                 0, "%s", err.msg);
    if (implicit)
        cr_assert_eq(ss_server_set_tls(&e->srv, implicit), 0);
    e->addr = e->srv.server_address;
    cr_assert_eq(pthread_create(&e->thread, NULL, serve, e), 0);
}

static void ev_start(evserver *e, const ss_event_handler_class *hc,
                     ss_tls_context *implicit, ss_tls_context *starttls)
{
    ev_start_at(e, &ss_event_tcp_server_class, "127.0.0.1:0", hc, implicit,
                starttls);
}

static void ev_stop(evserver *e)
{
    ss_server_shutdown(&e->srv);
    pthread_join(e->thread, NULL);
    ss_server_close(&e->srv);
}

static int ev_count(evserver *e, int *field)
{
    pthread_mutex_lock(&e->lock);
    int n = *field;
    pthread_mutex_unlock(&e->lock);
    return n;
}

/* Waits (deadline) until *field reaches n; returns what it is then. */
static int ev_wait(evserver *e, int *field, int n, double timeout_s)
{
    double end = ts_now() + timeout_s;
    int v;
    while ((v = ev_count(e, field)) < n && ts_now() < end) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL); /* polling a counter under a deadline */
    }
    return v;
}

/* --- the handlers ----------------------------------------------------------- */

static evserver *server_of(ss_event_handler *h)
{
    return (evserver *)h->server;
}

static int count_connect(ss_event_handler *h, ss_error *err)
{
    (void)err;
    evserver *e = server_of(h);
    pthread_mutex_lock(&e->lock);
    e->connects++;
    pthread_mutex_unlock(&e->lock);
    return 0;
}

static void count_close(ss_event_handler *h)
{
    evserver *e = server_of(h);
    pthread_mutex_lock(&e->lock);
    e->closes++;
    pthread_mutex_unlock(&e->lock);
}

/* Echoes every byte. */
static int echo_data(ss_event_handler *h, const unsigned char *data, size_t len,
                     ss_error *err)
{
    int rc = ss_event_write(h, data, len);
    return rc < 0 ? ss_error_set(err, rc, "echo: %s", ss_strerror(rc)) : 0;
}

static const ss_event_handler_class echo_class = {
    .base = &ss_event_handler_base_class,
    .name = "EchoTLS",
    .on_connect = count_connect,
    .on_data = echo_data,
    .on_close = count_close,
};

/* Lines: STARTTLS, VERSION, QUIT; anything else echoed. */
typedef struct line_handler {
    ss_event_handler base;
    char line[1024];
    size_t len;
} line_handler;

static int line_command(ss_event_handler *h, const char *line, size_t n,
                        const unsigned char *rest, size_t rest_len,
                        bool *stop, ss_error *err)
{
    if (n == 9 && memcmp(line, "STARTTLS\n", 9) == 0) {
        int rc = ss_event_write(h, "OK\n", 3);
        if (rc == 0)
            rc = ss_event_start_tls(h, server_of(h)->starttls, rest, rest_len,
                                    err);
        *stop = true; /* the rest was TLS: handed over */
        return rc;
    }
    if (n == 15 && memcmp(line, "STARTTLS-GREET\n", 15) == 0) {
        /* A greeting written during the handshake: held, then encrypted. */
        int rc = ss_event_write(h, "OK\n", 3);
        if (rc == 0)
            rc = ss_event_start_tls(h, server_of(h)->starttls, rest, rest_len,
                                    err);
        if (rc == 0)
            rc = ss_event_write(h, "welcome\n", 8);
        *stop = true;
        return rc;
    }
    if (n == 8 && memcmp(line, "VERSION\n", 8) == 0) {
        const ss_tls_conn *t = ss_event_tls(h);
        char v[64];
        snprintf(v, sizeof v, "%s\n", t ? ss_tls_conn_version(t) : "plain");
        return ss_event_write(h, v, strlen(v));
    }
    if (n == 5 && memcmp(line, "QUIT\n", 5) == 0) {
        int rc = ss_event_write(h, "BYE\n", 4);
        ss_event_close(h);
        *stop = true;
        return rc;
    }
    return ss_event_write(h, line, n);
}

static int line_data(ss_event_handler *h, const unsigned char *data, size_t len,
                     ss_error *err)
{
    line_handler *lh = (line_handler *)h;
    for (size_t i = 0; i < len; i++) {
        if (lh->len == sizeof lh->line)
            return ss_error_set(err, SS_EPROTO, "line too long");
        lh->line[lh->len++] = (char)data[i];
        if (data[i] != '\n')
            continue;
        bool stop = false;
        size_t n = lh->len;
        lh->len = 0;
        int rc = line_command(h, lh->line, n, data + i + 1, len - i - 1, &stop,
                              err);
        if (rc < 0 || stop)
            return rc;
    }
    return 0;
}

static const ss_event_handler_class line_class = {
    .base = &ss_event_handler_base_class,
    .name = "LineTLS",
    .instance_size = sizeof(line_handler),
    .on_connect = count_connect,
    .on_data = line_data,
    .on_close = count_close,
};

/* Echoes, and at the peer's close_notify says goodbye before closing: a
 * half-closed TLS connection still carries our data. */
static int bye_on_eof(ss_event_handler *h, ss_error *err)
{
    (void)err;
    int rc = ss_event_write(h, "bye\n", 4);
    ss_event_close(h);
    return rc;
}

static const ss_event_handler_class bye_class = {
    .base = &echo_class,
    .name = "ByeTLS",
    .on_eof = bye_on_eof,
};

/* --- helpers ---------------------------------------------------------------- */

static int python(const char *mode, const evserver *e, char *out, size_t cap)
{
    char port[16];
    snprintf(port, sizeof port, "%u", ss_addr_port(&e->addr));
    char *argv[] = {"/usr/bin/python3",
                    (char *)ts_source_path("tests/tls/event_client.py"),
                    (char *)mode, "127.0.0.1", port,
                    (char *)tt_pki_get()->ca_cert, NULL};
    char err[4096];
    int st = ts_run(argv, NULL, 0, out, cap, err, sizeof err, 120.0);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        fprintf(stderr, "python %s: %s\n", mode, err);
    return st;
}

/* --- the tests -------------------------------------------------------------- */

/* Runs event_client.py MODE against a fresh server and checks its "ok"
 * line starts with expect; no handle_error call on the way. */
static void python_case(const char *mode, const ss_event_handler_class *hc,
                        const ss_tls_options *server_opt, bool starttls,
                        const char *expect)
{
    ss_tls_context sctx;
    tt_server_ctx(&sctx, server_opt);
    evserver e;
    ev_start(&e, hc, starttls ? NULL : &sctx, starttls ? &sctx : NULL);
    char out[512];
    int st = python(mode, &e, out, sizeof out);
    ev_stop(&e); /* first: a failure shows the server's side too */
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s (server: %d errors, "
              "last: %s)", out, e.errors, e.last_error);
    cr_assert(strncmp(out, expect, strlen(expect)) == 0, "%s", out);
    cr_assert_eq(e.errors, 0, "%s", e.last_error);
    cr_assert_eq(e.connects, 1);
    cr_assert_eq(e.closes, 1);
    ss_tls_context_close(&sctx);
}

Test(event_tls, python_ssl_echoes_a_mebibyte_byte_exact, .timeout = 120)
{
    python_case("big", &echo_class, NULL, false, "ok TLSv1.3 1048576");
}

Test(event_tls, python_ssl_over_tls12, .timeout = 120)
{
    ss_tls_options o = {.max_version = 0x0303};
    python_case("big", &echo_class, &o, false, "ok TLSv1.2 1048576");
}

Test(event_tls, peer_sees_close_notify, .timeout = 60)
{
    python_case("quit", &line_class, NULL, false, "ok close_notify");
}

Test(event_tls, records_arriving_byte_by_byte, .timeout = 60)
{
    python_case("pieces", &echo_class, NULL, false, "ok TLSv1.3");
}

Test(event_tls, starttls_in_place_with_python, .timeout = 60)
{
    python_case("starttls", &line_class, NULL, true, "ok TLSv1.3");
}

/* The ClientHello glued to the command: it reaches the handler inside the
 * plaintext on_data and must be handed to TLS (ahead). */
Test(event_tls, starttls_with_the_hello_in_the_same_write, .timeout = 60)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    evserver e;
    ev_start(&e, &line_class, NULL, &sctx);
    int fd = tt_connect(&e.addr);

    SSL *ssl = tt_glued_hello(&cctx, fd, "STARTTLS\n");
    char ok[4] = {0};
    cr_assert_eq(ts_read_full(fd, ok, 3), 3);
    cr_assert_str_eq(ok, "OK\n");
    char reply[64];
    tt_glued_finish(ssl, fd, "VERSION\n", reply, sizeof reply, e.last_error);
    cr_assert_str_eq(reply, "TLSv1.3\n");
    close(fd);
    ev_stop(&e);
    cr_assert_eq(e.errors, 0, "%s", e.last_error);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

Test(event_tls, starttls_writes_during_the_handshake_go_out_encrypted,
     .timeout = 60)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    evserver e;
    ev_start(&e, &line_class, NULL, &sctx);
    int fd = tt_connect(&e.addr);
    SSL *ssl = tt_glued_hello(&cctx, fd, "STARTTLS-GREET\n");
    char ok[4] = {0};
    cr_assert_eq(ts_read_full(fd, ok, 3), 3);
    cr_assert_str_eq(ok, "OK\n");
    char reply[64];
    tt_glued_finish(ssl, fd, "VERSION\n", reply, sizeof reply, e.last_error);
    cr_assert_str_eq(reply, "welcome\n"); /* first, and over TLS */
    close(fd);
    ev_stop(&e);
    cr_assert_eq(e.errors, 0, "%s", e.last_error);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

/* s_client as an interactive client: a line, then "K" (a key update that
 * asks for ours: the server must write while it reads), then a line. */
Test(event_tls, openssl_s_client_with_a_key_update, .timeout = 60)
{
    ss_tls_context sctx;
    tt_server_ctx(&sctx, NULL);
    evserver e;
    ev_start(&e, &echo_class, &sctx, NULL);
    char connect[64];
    snprintf(connect, sizeof connect, "127.0.0.1:%u", ss_addr_port(&e.addr));
    int in[2];
    cr_assert_eq(pipe2(in, O_CLOEXEC), 0); /* the child keeps no write end */
    char *argv[] = {"/usr/bin/openssl", "s_client", "-connect", connect,
                    "-servername", "localhost", "-verify_return_error",
                    "-CAfile", (char *)tt_pki_get()->ca_cert, NULL};
    ts_proc p;
    cr_assert_eq(ts_spawn(&p, argv, NULL, in[0], true), 0);
    close(in[0]);
    cr_assert_eq(ts_write_full(in[1], "first line\n", 11), 0);
    char rest[256];
    cr_assert_eq(ts_wait_line(&p, "first line", rest, sizeof rest, 30.0), 0,
                 "s_client: %s %s", p.out, p.err);
    /* s_client takes a whole read of its stdin as the command: the next
     * line goes once it has said it did the update. */
    cr_assert_eq(ts_write_full(in[1], "K\n", 2), 0);
    double end = ts_now() + 30.0;
    while (!strstr(p.err, "KEYUPDATE") && ts_now() < end) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL); /* polling its output under a deadline */
        ts_drain(&p);
    }
    cr_assert(strstr(p.err, "KEYUPDATE"), "no key update: %s", p.err);
    cr_assert_eq(ts_write_full(in[1], "after the key update\n", 21), 0);
    cr_assert_eq(ts_wait_line(&p, "after the key update", rest, sizeof rest,
                              30.0),
                 0, "s_client: %s %s", p.out, p.err);
    close(in[1]); /* s_client closes on EOF */
    int st = ts_stop(&p, 0, 30.0);
    cr_assert(WIFEXITED(st), "s_client: %s", p.err);
    ev_stop(&e);
    cr_assert_eq(e.errors, 0, "%s", e.last_error);
    ss_tls_context_close(&sctx);
}

/* A client that sends half a ClientHello and stops is closed after the
 * handshake timeout, reported, and holds nobody up meanwhile. */
Test(event_tls, stalled_handshake_times_out_without_holding_the_loop,
     .timeout = 60)
{
    ss_tls_context sctx, cctx;
    ss_tls_options o = {.handshake_timeout = 4.0};
    tt_server_ctx(&sctx, &o);
    tt_client_ctx(&cctx, NULL);
    evserver e;
    ev_start(&e, &line_class, &sctx, NULL);

    int stalled = tt_connect(&e.addr);
    /* A handshake record header announcing 512 bytes, and 20 of them. */
    static const unsigned char half[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01,
                                         0x00, 0x01, 0xfc, 0x03, 0x03, 0, 0,
                                         0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_eq(ts_write_full(stalled, half, sizeof half), 0);
    double start = ts_now();
    for (int i = 0; i < 3; i++) {
        tt_client c;
        tt_client_open(&c, &e.addr, &cctx, NULL);
        char buf[64];
        tt_client_exchange(&c, "served meanwhile\n", buf, sizeof buf);
        cr_assert_str_eq(buf, "served meanwhile\n");
        tt_client_close(&c);
    }
    /* Served while the stalled one still waits for its bound... */
    char b;
    cr_assert_eq(recv(stalled, &b, 1, MSG_DONTWAIT), -1,
                 "the stalled client was dropped before the others were "
                 "served (%.1f s)", ts_now() - start);
    cr_assert_eq(errno, EAGAIN);
    /* ...which then ends it. */
    struct timeval tv = {20, 0};
    setsockopt(stalled, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_assert_eq(tt_wait_dropped(stalled), 0);
    cr_assert_geq(ts_now() - start, 3.0);
    close(stalled);
    cr_assert_eq(ev_wait(&e, &e.errors, 1, 10.0), 1);
    cr_assert(strstr(e.last_error, "not done within 4 s"), "%s", e.last_error);
    cr_assert(strstr(e.last_error, "TLS handshake with 127.0.0.1"), "%s",
              e.last_error);
    ev_stop(&e);
    cr_assert_eq(e.connects, 3, "a failed handshake never reaches on_connect");
    cr_assert_eq(e.closes, 3);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

Test(event_tls, garbage_instead_of_a_client_hello_is_dropped_and_reported,
     .timeout = 60)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    evserver e;
    ev_start(&e, &line_class, &sctx, NULL);
    int fd = tt_connect(&e.addr);
    const char *http = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    cr_assert_eq(ts_write_full(fd, http, strlen(http)), 0);
    cr_assert_eq(tt_wait_dropped(fd), 0);
    close(fd);
    cr_assert_eq(ev_wait(&e, &e.errors, 1, 10.0), 1);
    cr_assert(strstr(e.last_error, "TLS handshake with 127.0.0.1"), "%s",
              e.last_error);

    /* Binary noise too, then a real client is still served. */
    fd = tt_connect(&e.addr);
    unsigned char noise[300];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (unsigned char)(i * 151 + 7);
    cr_assert_eq(ts_write_full(fd, noise, sizeof noise), 0);
    cr_assert_eq(tt_wait_dropped(fd), 0);
    close(fd);
    cr_assert_eq(ev_wait(&e, &e.errors, 2, 10.0), 2);
    tt_client c;
    tt_client_open(&c, &e.addr, &cctx, NULL);
    char buf[64];
    tt_client_exchange(&c, "still here\n", buf, sizeof buf);
    cr_assert_str_eq(buf, "still here\n");
    tt_client_close(&c);
    ev_stop(&e);
    cr_assert_eq(e.connects, 1);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

#define MANY 200

Test(event_tls, many_concurrent_connections, .timeout = 120)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    evserver e;
    ev_start(&e, &line_class, &sctx, NULL);
    static tt_client c[MANY];
    for (int i = 0; i < MANY; i++)
        tt_client_open(&c[i], &e.addr, &cctx, NULL);
    cr_assert_eq(ev_wait(&e, &e.connects, MANY, 30.0), MANY);
    cr_assert_eq(ss_event_connections(&e.srv), MANY);
    /* Every connection talks while all are open, in an order that is not
     * the order they were opened in. */
    for (int i = 0; i < MANY; i++) {
        int k = (i * 7) % MANY;
        char msg[64], buf[64];
        snprintf(msg, sizeof msg, "connection %d\n", k);
        tt_client_exchange(&c[k], msg, buf, sizeof buf);
        cr_assert_str_eq(buf, msg);
    }
    for (int i = 0; i < MANY; i++)
        tt_client_close(&c[i]);
    cr_assert_eq(ev_wait(&e, &e.closes, MANY, 30.0), MANY);
    ev_stop(&e);
    cr_assert_eq(e.errors, 0, "%s", e.last_error);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

/* The server stops with handshakes half done and connections open: every
 * one is closed, serve_forever returns. */
Test(event_tls, shutdown_closes_pending_handshakes, .timeout = 120)
{
    ss_tls_context sctx, cctx;
    /* Far above the bound below: a stop that waited would show. */
    tt_server_ctx(&sctx, &(ss_tls_options){.handshake_timeout = 120});
    tt_client_ctx(&cctx, NULL);
    evserver e;
    ev_start(&e, &line_class, &sctx, NULL);
    int silent = tt_connect(&e.addr);
    tt_client c;
    tt_client_open(&c, &e.addr, &cctx, NULL);
    char buf[64];
    tt_client_exchange(&c, "hi\n", buf, sizeof buf);
    double start = ts_now();
    ev_stop(&e);
    cr_assert_lt(ts_now() - start, 60.0, "stop took %.1f s", ts_now() - start);
    cr_assert_eq(tt_wait_dropped(silent), 0);
    close(silent);
    tt_client_close(&c);
    cr_assert_eq(e.connects, 1);
    cr_assert_eq(e.closes, 1);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

Test(event_tls, unix_stream_server, .timeout = 60)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    char dir[256], addr[320];
    ts_mkdtemp("evtls-unix", dir, sizeof dir);
    snprintf(addr, sizeof addr, "unix:%s/s", dir);
    evserver e;
    ev_start_at(&e, &ss_event_unix_stream_server_class, addr, &line_class,
                &sctx, NULL);
    tt_client c;
    c.fd = ts_connect(&e.addr, SOCK_STREAM, 5.0);
    cr_assert_geq(c.fd, 0);
    ss_error err;
    ss_error_clear(&err);
    cr_assert_eq(ss_tls_connect(&c.conn, &cctx, c.fd, "localhost", NULL, &err),
                 0, "%s", err.msg);
    char buf[64];
    tt_client_exchange(&c, "VERSION\n", buf, sizeof buf);
    cr_assert_str_eq(buf, "TLSv1.3\n");
    tt_client_close(&c);
    ev_stop(&e);
    cr_assert_eq(e.errors, 0, "%s", e.last_error);
    ts_rmtree(dir);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

Test(event_tls, writes_after_the_peers_close_notify_still_arrive,
     .timeout = 60)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    evserver e;
    ev_start(&e, &bye_class, &sctx, NULL);
    tt_client c;
    tt_client_open(&c, &e.addr, &cctx, NULL);
    cr_assert_eq(tt_write(&c.conn.base, "last words\n"), 0);
    cr_assert_eq(ss_tls_conn_shutdown(&c.conn), 0); /* our close_notify */
    char buf[64];
    cr_assert_gt(tt_readline(&c.conn.base, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "last words\n");
    cr_assert_gt(tt_readline(&c.conn.base, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "bye\n");
    cr_assert_eq(tt_readline(&c.conn.base, buf, sizeof buf), 0);
    cr_assert(ss_tls_conn_closed_cleanly(&c.conn), "no close_notify back");
    tt_client_close(&c);
    ev_stop(&e);
    cr_assert_eq(e.errors, 0, "%s", e.last_error);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

/* The figures of stats.h, as the other modes keep them: handshakes ok and
 * failed, plaintext bytes, a failed handshake finished but no handler's
 * error. */
Test(event_tls, handshakes_and_plaintext_bytes_are_counted, .timeout = 60)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    evserver e;
    ev_start(&e, &line_class, &sctx, &sctx);
    tt_client c;
    tt_client_open(&c, &e.addr, &cctx, NULL);
    char buf[64];
    tt_client_exchange(&c, "hello\n", buf, sizeof buf);
    tt_client_close(&c);
    int fd = tt_connect(&e.addr); /* plaintext on the TLS port */
    const char *line = "GET / HTTP/1.0\r\n\r\n";
    cr_assert_eq(ts_write_full(fd, line, strlen(line)), 0);
    cr_assert_eq(tt_wait_dropped(fd), 0);
    close(fd);

    ss_stats st;
    double end = ts_now() + 10.0;
    do {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL); /* polling the figures under a deadline */
        cr_assert_eq(ss_server_stats(&e.srv, &st), 0);
    } while ((st.accepted < 2 || st.active > 0) && ts_now() < end);
    cr_expect_eq(st.accepted, 2);
    cr_expect_eq(st.finished, 2);
    cr_expect_eq(st.active, 0);
    cr_expect_eq(st.tls_handshakes_ok, 1);
    cr_expect_eq(st.tls_handshakes_failed, 1);
    cr_expect_eq(st.handler_errors, 0, "a failed handshake is no handler's");
    cr_expect_eq(st.bytes_in, 6, "bytes_in %llu", (unsigned long long)st.bytes_in);
    cr_expect_eq(st.bytes_out, 6, "bytes_out %llu",
                 (unsigned long long)st.bytes_out);
    ev_stop(&e);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

Test(event_tls, set_tls_accepts_an_event_server, .timeout = 30)
{
    ss_tls_context sctx;
    tt_server_ctx(&sctx, NULL);
    evserver e;
    ev_start(&e, &echo_class, &sctx, NULL);
    cr_assert_eq(ss_server_get_tls(&e.srv), &sctx);
    ev_stop(&e);
    ss_tls_context_close(&sctx);
}
