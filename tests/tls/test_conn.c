/* tests/tls/test_conn.c - what a client driving a connection itself needs
 * from tls.h: the poll events a non-blocking call waits for
 * (ss_tls_conn_wants), the graceful close that does not lose an upload
 * (ss_tls_conn_finish), and whether the connection failed
 * (ss_tls_conn_failed). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "support.h"
#include "tlstest.h"

#define TLS13 0x0304

/* --- a one-connection TLS peer on a thread -------------------------------
 * Each test gives it a routine to run on the accepted connection; a pipe
 * lets the test release it at the right moment (no sleeps). */

typedef struct peer peer;
typedef void (*peer_fn)(peer *p);

struct peer {
    ss_tls_context *ctx;
    peer_fn fn;
    int listener;
    ss_addr addr;
    int go[2]; /* the test writes a byte to go[1] to release the peer */
    pthread_t thread;
    ss_tls_conn conn; /* the peer thread's only, until joined */
    int fd;
    unsigned accept_flags; /* ss_tls_accept_ex */

    /* results, read after join */
    int accept_rc;
    size_t received;
    bool content_ok;
    bool clean;
};

static void *peer_main(void *arg)
{
    peer *p = arg;
    p->fd = accept(p->listener, NULL, NULL);
    if (p->fd < 0) {
        p->accept_rc = -errno;
        return NULL;
    }
    struct timeval tv = {.tv_sec = 10};
    setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(p->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ss_error err;
    ss_error_clear(&err);
    p->accept_rc = ss_tls_accept_ex(&p->conn, p->ctx, p->fd, NULL,
                                    p->accept_flags, &err);
    if (p->accept_rc == 0) {
        p->fn(p);
        ss_tls_conn_close(&p->conn);
    }
    if (p->fd >= 0)
        close(p->fd);
    return NULL;
}

static void peer_start_flags(peer *p, ss_tls_context *ctx, peer_fn fn,
                             unsigned accept_flags)
{
    memset(p, 0, sizeof *p);
    p->ctx = ctx;
    p->fn = fn;
    p->accept_flags = accept_flags;
    cr_assert_eq(pipe(p->go), 0);
    p->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(p->listener, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(p->listener, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(listen(p->listener, 4), 0);
    p->addr.len = sizeof p->addr.sa;
    cr_assert_eq(getsockname(p->listener, (struct sockaddr *)&p->addr.sa,
                             &p->addr.len), 0);
    cr_assert_eq(pthread_create(&p->thread, NULL, peer_main, p), 0);
}

static void peer_start(peer *p, ss_tls_context *ctx, peer_fn fn)
{
    peer_start_flags(p, ctx, fn, 0);
}

static void peer_release(peer *p)
{
    cr_assert_eq(write(p->go[1], "g", 1), 1);
}

/* Blocks the peer until the test releases it (bounded: a stuck test must
 * not hang the suite). */
static void peer_wait(peer *p)
{
    struct pollfd pf = {.fd = p->go[0], .events = POLLIN};
    if (poll(&pf, 1, 20000) == 1) {
        char b;
        (void)!read(p->go[0], &b, 1);
    }
}

static void peer_join(peer *p)
{
    pthread_join(p->thread, NULL);
    close(p->listener);
    close(p->go[0]);
    close(p->go[1]);
}

/* Writes all of buf over t. */
static void send_all(ss_transport *t, const void *buf, size_t n)
{
    const char *c = buf;
    while (n > 0) {
        ssize_t w = t->send(t, c, n);
        cr_assert_gt(w, 0, "send: %s", ss_strerror((int)w));
        c += w;
        n -= (size_t)w;
    }
}

/* The upload's bytes: position-dependent, so a lost or doubled chunk shows. */
static unsigned char pattern(size_t i)
{
    return (unsigned char)((i * 7 + i / 4093) % 251);
}

/* --- wants --------------------------------------------------------------- */

static void send_after_release(peer *p)
{
    peer_wait(p);
    send_all(&p->conn.base, "late\n", 5);
    /* The client closes with close_notify; wait for it. */
    char buf[64];
    while (p->conn.base.recv(&p->conn.base, buf, sizeof buf) > 0)
        ;
    ss_tls_conn_shutdown(&p->conn);
}

Test(wants, nonblocking_read_waiting_for_the_peer_wants_pollin)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    peer p;
    peer_start(&p, &sctx, send_after_release);

    tt_client c;
    tt_client_open(&c, &p.addr, &cctx, NULL);
    cr_assert_eq(ss_tls_conn_wants(&c.conn), 0, "nothing waited for yet");
    cr_assert_eq(fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK), 0);

    char buf[16];
    ssize_t r = c.conn.base.recv(&c.conn.base, buf, sizeof buf);
    cr_assert_eq(r, -EAGAIN, "recv: %zd", r);
    cr_assert_eq(ss_tls_conn_wants(&c.conn), POLLIN);

    /* Now the peer writes: polling for what wants() said wakes us up, and
     * the retried read gets the line. */
    peer_release(&p);
    size_t got = 0;
    double deadline = ts_now() + 10.0;
    while (got < 5 && ts_now() < deadline) {
        r = c.conn.base.recv(&c.conn.base, buf + got, sizeof buf - got);
        if (r == -EAGAIN) {
            short ev = ss_tls_conn_wants(&c.conn);
            cr_assert(ev == POLLIN || ev == POLLOUT, "wants %d", ev);
            struct pollfd pf = {.fd = c.fd, .events = ev};
            poll(&pf, 1, 1000);
            continue;
        }
        cr_assert_gt(r, 0, "recv: %s", ss_strerror((int)r));
        got += (size_t)r;
    }
    cr_assert_eq(got, 5);
    cr_assert_eq(memcmp(buf, "late\n", 5), 0);
    cr_assert_eq(ss_tls_conn_wants(&c.conn), 0, "the last read completed");

    tt_client_close(&c);
    peer_join(&p);
    cr_assert_eq(p.accept_rc, 0);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

Test(wants, zeroed_connection_wants_nothing)
{
    ss_tls_conn c;
    memset(&c, 0, sizeof c);
    cr_assert_eq(ss_tls_conn_wants(&c), 0);
    cr_assert_eq(ss_tls_conn_wants(NULL), 0);
}

/* --- finish -------------------------------------------------------------- */

#define UPLOAD_SIZE (16u << 20)

/* An upload's server: sends bytes the client never reads (on top of the
 * TLS 1.3 tickets OpenSSL sent after the handshake), then reads slowly, in
 * small pieces, so that much of the upload still sits in its socket when
 * the client has written the last byte and closes. */
static void receive_upload(peer *p)
{
    send_all(&p->conn.base, "unread greeting\n", 16);
    unsigned char buf[1024];
    p->content_ok = true;
    for (;;) {
        ssize_t r = p->conn.base.recv(&p->conn.base, buf, sizeof buf);
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != pattern(p->received + (size_t)i))
                p->content_ok = false;
        p->received += (size_t)r;
    }
    p->clean = ss_tls_conn_closed_cleanly(&p->conn);
    ss_tls_conn_shutdown(&p->conn);
}

Test(finish, large_upload_arrives_whole_though_the_server_sent_unread_bytes,
     .timeout = 60)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, &(ss_tls_options){.max_version = TLS13});
    tt_client_ctx(&cctx, NULL);
    peer p;
    peer_start(&p, &sctx, receive_upload);

    tt_client c;
    tt_client_open(&c, &p.addr, &cctx, NULL);
    cr_assert_str_eq(ss_tls_conn_version(&c.conn), "TLSv1.3");
    unsigned char *data = malloc(UPLOAD_SIZE);
    cr_assert_not_null(data);
    for (size_t i = 0; i < UPLOAD_SIZE; i++)
        data[i] = pattern(i);
    send_all(&c.conn.base, data, UPLOAD_SIZE);
    free(data);

    int rc = ss_tls_conn_finish(&c.conn, 20.0, 1 << 20);
    cr_assert_eq(rc, 0, "finish: %s", ss_strerror(rc));
    cr_assert_not(ss_tls_conn_failed(&c.conn));
    tt_client_close(&c);

    peer_join(&p);
    cr_assert_eq(p.accept_rc, 0);
    cr_assert_eq(p.received, UPLOAD_SIZE, "the server read %zu bytes",
                 p.received);
    cr_assert(p.content_ok);
    cr_assert(p.clean, "the server saw a cut, not our close_notify");
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

/* A server that neither reads nor closes until released. */
static void stall(peer *p)
{
    send_all(&p->conn.base, "hello\n", 6);
    peer_wait(p);
}

Test(finish, gives_up_after_its_timeout_when_the_peer_never_closes)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    peer p;
    peer_start(&p, &sctx, stall);

    tt_client c;
    tt_client_open(&c, &p.addr, &cctx, NULL);
    double t0 = ts_now();
    int rc = ss_tls_conn_finish(&c.conn, 0.3, 1 << 20);
    double took = ts_now() - t0;
    cr_assert_eq(rc, -ETIMEDOUT, "finish: %s", ss_strerror(rc));
    cr_assert_geq(took, 0.25);
    cr_assert_lt(took, 20.0, "took %.2f s", took); /* not forever */
    tt_client_close(&c);

    peer_release(&p);
    peer_join(&p);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

/* Sends until the client is gone (bounded).  The client may give up before
 * the first record, on the session tickets alone, so a failed send is the
 * expected end here, not an error.  Then it waits for the test: closing
 * first, with the client's close_notify unread, would reset the connection
 * under a client that has not finished yet. */
static void keep_sending(peer *p)
{
    for (int i = 0; i < 1024; i++)
        if (p->conn.base.send(&p->conn.base, "hello\n", 6) <= 0)
            break;
    peer_wait(p);
}

Test(finish, byte_bound_stops_a_peer_that_keeps_sending)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    peer p;
    peer_start(&p, &sctx, keep_sending);

    tt_client c;
    tt_client_open(&c, &p.addr, &cctx, NULL);
    int rc = ss_tls_conn_finish(&c.conn, 10.0, 2);
    cr_assert_eq(rc, -EMSGSIZE, "finish: %s", ss_strerror(rc));
    tt_client_close(&c);

    peer_release(&p);
    peer_join(&p);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

/* --- failed -------------------------------------------------------------- */

static void nothing(peer *p)
{
    (void)p;
}

Test(failed, refused_client_certificate_marks_the_connection_failed)
{
    const tt_pki *pki = tt_pki_get();
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, &(ss_tls_options){.client_ca_file = pki->ca_cert,
                                           .max_version = TLS13});
    tt_client_ctx(&cctx, NULL);
    peer p;
    peer_start(&p, &sctx, nothing);

    /* TLS 1.3: the client's side of the handshake completes before the
     * server checks the (missing) client certificate; its alert arrives at
     * the first read. */
    tt_client c;
    tt_client_open(&c, &p.addr, &cctx, NULL);
    cr_assert_not(ss_tls_conn_failed(&c.conn));
    char buf[16];
    ssize_t r = c.conn.base.recv(&c.conn.base, buf, sizeof buf);
    cr_assert_lt(r, 0, "recv: %zd", r);
    cr_assert(ss_tls_conn_failed(&c.conn));
    cr_assert_not(ss_tls_conn_closed_cleanly(&c.conn));
    cr_assert_eq(c.conn.base.send(&c.conn.base, "x", 1), SS_ETLS);
    cr_assert_eq(ss_tls_conn_finish(&c.conn, 1.0, 1024), SS_ETLS);
    tt_client_close(&c);

    peer_join(&p);
    cr_assert_eq(p.accept_rc, SS_ETLS);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

/* Sends a line, then closes the socket without close_notify. */
static void cut(peer *p)
{
    send_all(&p->conn.base, "bye\n", 4);
    close(p->fd);
    p->fd = -1;
}

/* Sends a line, then close_notify. */
static void polite(peer *p)
{
    send_all(&p->conn.base, "bye\n", 4);
    ss_tls_conn_shutdown(&p->conn);
}

static void read_to_eof(tt_client *c)
{
    char buf[16];
    size_t got = 0;
    for (;;) {
        ssize_t r = c->conn.base.recv(&c->conn.base, buf + got,
                                      sizeof buf - got);
        cr_assert_geq(r, 0, "recv: %s", ss_strerror((int)r));
        if (r == 0)
            break;
        got += (size_t)r;
    }
    cr_assert_eq(got, 4);
}

Test(failed, eof_without_close_notify_is_a_failure_a_clean_close_is_not)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);

    peer p;
    peer_start(&p, &sctx, cut);
    tt_client c;
    tt_client_open(&c, &p.addr, &cctx, NULL);
    read_to_eof(&c);
    cr_assert(ss_tls_conn_failed(&c.conn));
    cr_assert_not(ss_tls_conn_closed_cleanly(&c.conn));
    tt_client_close(&c);
    peer_join(&p);

    peer_start(&p, &sctx, polite);
    tt_client_open(&c, &p.addr, &cctx, NULL);
    read_to_eof(&c);
    cr_assert_not(ss_tls_conn_failed(&c.conn));
    cr_assert(ss_tls_conn_closed_cleanly(&c.conn));
    tt_client_close(&c);
    peer_join(&p);

    ss_tls_conn zero;
    memset(&zero, 0, sizeof zero);
    cr_assert_not(ss_tls_conn_failed(&zero));
    cr_assert_not(ss_tls_conn_failed(NULL));
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
}

/* --- no tickets on one connection ----------------------------------------- */

static void say_hi(peer *p)
{
    send_all(&p->conn.base, "hi\n", 3);
    char buf[64];
    while (p->conn.base.recv(&p->conn.base, buf, sizeof buf) > 0)
        ;
    ss_tls_conn_shutdown(&p->conn);
}

/* Whether a TLS 1.3 client holds a session (a ticket) once it has read the
 * server's first bytes, which come after the tickets. */
static bool client_gets_a_ticket(unsigned accept_flags)
{
    ss_tls_context sctx, cctx;
    tt_server_ctx(&sctx, NULL);
    tt_client_ctx(&cctx, NULL);
    peer p;
    peer_start_flags(&p, &sctx, say_hi, accept_flags);
    tt_client c;
    tt_client_open(&c, &p.addr, &cctx, NULL);
    char buf[16];
    cr_assert_eq(tt_readline(&c.conn.base, buf, sizeof buf), 3);
    cr_assert_str_eq(buf, "hi\n");
    cr_assert_str_eq(ss_tls_conn_version(&c.conn), "TLSv1.3");
    bool got = c.conn.fresh_session != NULL;
    tt_client_close(&c);
    peer_join(&p);
    cr_assert_eq(p.accept_rc, 0);
    ss_tls_context_close(&cctx);
    ss_tls_context_close(&sctx);
    return got;
}

Test(tickets, accept_ex_no_tickets_sends_none_on_that_connection)
{
    cr_assert(client_gets_a_ticket(0), "the default sends tickets");
    cr_assert_not(client_gets_a_ticket(SS_TLS_ACCEPT_NO_TICKETS));
}

Test(tickets, accept_ex_refuses_unknown_flags)
{
    ss_tls_context sctx;
    tt_server_ctx(&sctx, NULL);
    ss_tls_conn c;
    ss_error err;
    ss_error_clear(&err);
    cr_assert_eq(ss_tls_accept_ex(&c, &sctx, -1, NULL, 0x80, &err), -EINVAL);
    ss_tls_context_close(&sctx);
}
