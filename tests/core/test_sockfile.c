/* rfile and wfile: buffered and unbuffered reads, readline with a maximum,
 * read_exact, buffered writes flushed in finish, all-or-error writes that
 * survive signals (CPython's SocketWriterTest), the stream handler's
 * attributes, and the datagram handler's reply sent by finish. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coretest.h"

/* --- over a socketpair ------------------------------------------------------------ */

typedef struct {
    int a, b; /* a: the library's side, b: the peer */
    ss_transport t;
} pair;

static void pair_open(pair *p)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    p->a = sv[0];
    p->b = sv[1];
    ss_transport_init_fd(&p->t, p->a);
}

static void pair_close(pair *p)
{
    if (p->a >= 0)
        close(p->a);
    if (p->b >= 0)
        close(p->b);
}

static void put(int fd, const char *s)
{
    cr_assert_eq(ts_write_full(fd, s, strlen(s)), 0);
}

Test(rfile, readline_stops_at_max)
{
    pair p;
    pair_open(&p);
    ss_rfile f;
    cr_assert_eq(ss_rfile_init(&f, &p.t, -1), 0);
    put(p.b, "abcdefghij\nxy\n");
    char buf[100];
    cr_assert_eq(ss_rfile_readline(&f, buf, 4), 4);
    cr_assert_eq(memcmp(buf, "abcd", 4), 0);
    cr_assert_eq(ss_rfile_readline(&f, buf, sizeof buf), 7);
    cr_assert_eq(memcmp(buf, "efghij\n", 7), 0);
    cr_assert_eq(ss_rfile_readline(&f, buf, sizeof buf), 3);
    cr_assert_eq(memcmp(buf, "xy\n", 3), 0);
    shutdown(p.b, SHUT_WR);
    cr_assert_eq(ss_rfile_readline(&f, buf, sizeof buf), 0);
    ss_rfile_close(&f);
    pair_close(&p);
}

Test(rfile, readline_returns_a_last_line_without_newline)
{
    pair p;
    pair_open(&p);
    ss_rfile f;
    cr_assert_eq(ss_rfile_init(&f, &p.t, -1), 0);
    put(p.b, "tail");
    shutdown(p.b, SHUT_WR);
    char buf[16];
    cr_assert_eq(ss_rfile_readline(&f, buf, sizeof buf), 4);
    cr_assert_eq(memcmp(buf, "tail", 4), 0);
    cr_assert_eq(ss_rfile_readline(&f, buf, sizeof buf), 0);
    ss_rfile_close(&f);
    pair_close(&p);
}

Test(rfile, readline_keeps_nul_bytes)
{
    pair p;
    pair_open(&p);
    ss_rfile f;
    cr_assert_eq(ss_rfile_init(&f, &p.t, -1), 0);
    cr_assert_eq(ts_write_full(p.b, "a\0b\n", 4), 0);
    char buf[16];
    cr_assert_eq(ss_rfile_readline(&f, buf, sizeof buf), 4);
    cr_assert_eq(memcmp(buf, "a\0b\n", 4), 0);
    ss_rfile_close(&f);
    pair_close(&p);
}

/* A line split over many small sends still comes back whole. */
typedef struct {
    int fd;
} dribble_arg;

static void *dribble(void *arg)
{
    dribble_arg *d = arg;
    const char *s = "slowly arriving line\nrest";
    for (size_t i = 0; s[i]; i++) {
        if (ts_write_full(d->fd, &s[i], 1) < 0)
            break;
        ct_pause(0.002);
    }
    shutdown(d->fd, SHUT_WR);
    return NULL;
}

Test(rfile, readline_and_read_exact_across_short_reads, .timeout = 30)
{
    pair p;
    pair_open(&p);
    ss_rfile f;
    cr_assert_eq(ss_rfile_init(&f, &p.t, -1), 0);
    dribble_arg d = {p.b};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, dribble, &d), 0);
    char buf[64];
    cr_assert_eq(ss_rfile_readline(&f, buf, sizeof buf), 21);
    cr_assert_eq(memcmp(buf, "slowly arriving line\n", 21), 0);
    /* read_exact: the 4 bytes left, then EOF cuts a request for more short */
    cr_assert_eq(ss_rfile_read_exact(&f, buf, 10), 4);
    cr_assert_eq(memcmp(buf, "rest", 4), 0);
    cr_assert_eq(ss_rfile_read_exact(&f, buf, 10), 0);
    pthread_join(t, NULL);
    ss_rfile_close(&f);
    pair_close(&p);
}

Test(rfile, read_exact_gathers_several_sends)
{
    pair p;
    pair_open(&p);
    ss_rfile f;
    cr_assert_eq(ss_rfile_init(&f, &p.t, 4), 0); /* smaller than the read */
    put(p.b, "hello ");
    put(p.b, "world");
    char buf[16];
    cr_assert_eq(ss_rfile_read_exact(&f, buf, 11), 11);
    cr_assert_eq(memcmp(buf, "hello world", 11), 0);
    ss_rfile_close(&f);
    pair_close(&p);
}

Test(rfile, read_returns_what_is_there)
{
    pair p;
    pair_open(&p);
    ss_rfile f;
    cr_assert_eq(ss_rfile_init(&f, &p.t, -1), 0);
    put(p.b, "abc");
    char buf[64];
    cr_assert_eq(ss_rfile_read(&f, buf, sizeof buf), 3,
                 "read must not wait for more than one transport read");
    ss_rfile_close(&f);
    pair_close(&p);
}

/* Buffered: the reader takes what the transport has; unbuffered (rbufsize
 * 0): it never takes more than it returns, so the rest stays in the socket
 * for someone else. */
Test(rfile, buffered_reader_reads_ahead)
{
    pair p;
    pair_open(&p);
    ss_rfile f;
    cr_assert_eq(ss_rfile_init(&f, &p.t, -1), 0);
    put(p.b, "a\nb\n");
    char buf[8];
    cr_assert_eq(ss_rfile_readline(&f, buf, sizeof buf), 2);
    cr_assert_eq(ss_rfile_pending(&f), 2u);
    ss_rfile_close(&f);
    pair_close(&p);
}

Test(rfile, unbuffered_reader_leaves_the_rest_in_the_socket)
{
    pair p;
    pair_open(&p);
    ss_rfile f;
    cr_assert_eq(ss_rfile_init(&f, &p.t, 0), 0);
    put(p.b, "a\nb\n");
    char buf[8];
    cr_assert_eq(ss_rfile_readline(&f, buf, sizeof buf), 2);
    cr_assert_eq(memcmp(buf, "a\n", 2), 0);
    cr_assert_eq(ss_rfile_pending(&f), 0u);
    cr_assert_eq(recv(p.a, buf, sizeof buf, MSG_DONTWAIT), 2);
    cr_assert_eq(memcmp(buf, "b\n", 2), 0);
    ss_rfile_close(&f);
    pair_close(&p);
}

Test(rfile, receive_timeout_is_etimedout, .timeout = 30)
{
    pair p;
    pair_open(&p);
    struct timeval tv = {0, 100000};
    cr_assert_eq(setsockopt(p.a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    ss_rfile f;
    cr_assert_eq(ss_rfile_init(&f, &p.t, -1), 0);
    char buf[8];
    cr_assert_eq(ss_rfile_read(&f, buf, sizeof buf), -ETIMEDOUT);
    ss_rfile_close(&f);
    pair_close(&p);
}

Test(rfile, memory_reader)
{
    static const char data[] = "one\ntwo\nthree";
    ss_rfile f;
    ss_rfile_init_mem(&f, data, sizeof data - 1);
    char buf[16];
    cr_assert_eq(ss_rfile_readline(&f, buf, sizeof buf), 4);
    cr_assert_eq(ss_rfile_pending(&f), sizeof data - 1 - 4);
    cr_assert_eq(ss_rfile_readline(&f, buf, 2), 2);
    cr_assert_eq(ss_rfile_readline(&f, buf, sizeof buf), 2);
    cr_assert_eq(ss_rfile_read_exact(&f, buf, sizeof buf), 5);
    cr_assert_eq(memcmp(buf, "three", 5), 0);
    cr_assert_eq(ss_rfile_read(&f, buf, sizeof buf), 0);
    ss_rfile_close(&f);
}

Test(wfile, unbuffered_write_is_sent_at_once)
{
    pair p;
    pair_open(&p);
    ss_wfile w;
    cr_assert_eq(ss_wfile_init(&w, &p.t, 0), 0);
    cr_assert_eq(ss_wfile_write(&w, "write data\n", 11), 0);
    cr_assert(ct_readable(p.b, 1.0), "an unbuffered write must not wait");
    char buf[16];
    cr_assert_eq(recv(p.b, buf, sizeof buf, 0), 11);
    ss_wfile_close(&w);
    pair_close(&p);
}

Test(wfile, buffered_write_waits_for_flush)
{
    pair p;
    pair_open(&p);
    ss_wfile w;
    cr_assert_eq(ss_wfile_init(&w, &p.t, 16), 0);
    cr_assert_eq(ss_wfile_write(&w, "12345", 5), 0);
    cr_assert_not(ct_readable(p.b, 0.05), "buffered data went out early");
    cr_assert_eq(ss_wfile_flush(&w), 0);
    char buf[64];
    cr_assert_eq(recv(p.b, buf, sizeof buf, MSG_DONTWAIT), 5);
    /* more than the buffer holds goes out without a flush */
    cr_assert_eq(ss_wfile_write(&w, "abcdefghijklmnopqrstuvwxyz", 26), 0);
    cr_assert(ct_readable(p.b, 1.0));
    ssize_t got = recv(p.b, buf, sizeof buf, MSG_DONTWAIT);
    cr_assert_geq(got, 10, "only %zd bytes sent when the buffer overflowed",
                  got);
    cr_assert_eq(ss_wfile_flush(&w), 0);
    ssize_t more = recv(p.b, buf + got, sizeof buf - (size_t)got, MSG_DONTWAIT);
    cr_assert_eq(got + (more > 0 ? more : 0), 26);
    cr_assert_eq(memcmp(buf, "abcdefghijklmnopqrstuvwxyz", 26), 0);
    ss_wfile_close(&w);
    pair_close(&p);
}

Test(wfile, printf_writes_formatted_text)
{
    pair p;
    pair_open(&p);
    ss_wfile w;
    cr_assert_eq(ss_wfile_init(&w, &p.t, 0), 0);
    cr_assert_geq(ss_wfile_printf(&w, "%d %s\n", 42, "x"), 0);
    char buf[16] = "";
    cr_assert_eq(recv(p.b, buf, sizeof buf - 1, 0), 5);
    cr_assert_str_eq(buf, "42 x\n");
    ss_wfile_close(&w);
    pair_close(&p);
}

Test(wfile, write_to_a_closed_peer_is_epipe)
{
    pair p;
    pair_open(&p);
    close(p.b);
    p.b = -1;
    ss_wfile w;
    cr_assert_eq(ss_wfile_init(&w, &p.t, 0), 0);
    /* MSG_NOSIGNAL: an error code, not a SIGPIPE that kills the test */
    cr_assert_eq(ss_wfile_write(&w, "x", 1), -EPIPE);
    ss_wfile_close(&w);
    pair_close(&p);
}

Test(wfile, memory_writer_honours_its_limit)
{
    ss_wfile w;
    cr_assert_eq(ss_wfile_init_mem(&w, 10), 0);
    cr_assert_eq(ss_wfile_write(&w, "abcdef", 6), 0);
    cr_assert_eq(ss_wfile_write(&w, "ghijk", 5), -EMSGSIZE);
    size_t len = 99;
    const char *v = ss_wfile_getvalue(&w, &len);
    cr_assert_geq(len, 6u);
    cr_assert_leq(len, 10u);
    cr_assert_eq(memcmp(v, "abcdef", 6), 0);
    cr_assert_eq(ss_wfile_flush(&w), 0);
    ss_wfile_close(&w);
}

/* --- through the stream handler ---------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    ss_error err;
    atomic_int errors;
    atomic_int done;
    int nodelay;      /* TCP_NODELAY seen by the handler */
    bool same_fd;     /* wfile, rfile, connection and request agree */
    pthread_t handler_thread;
    atomic_bool writing;
    int big_rc;
    atomic_int interrupts;
} sf_state;

static void sf_init(sf_state *st)
{
    memset(st, 0, sizeof *st);
    pthread_mutex_init(&st->mu, NULL);
    atomic_init(&st->errors, 0);
    atomic_init(&st->done, 0);
    atomic_init(&st->writing, false);
    atomic_init(&st->interrupts, 0);
}

static void sf_handle_error(ss_server *s, ss_request *r, const ss_addr *c,
                            const ss_error *e)
{
    sf_state *st = s->data;
    (void)r;
    (void)c;
    pthread_mutex_lock(&st->mu);
    st->err = *e;
    pthread_mutex_unlock(&st->mu);
    atomic_fetch_add(&st->errors, 1);
}

static const ss_server_class sf_tcp = {
    .base = &ss_tcp_server_class,
    .name = "RecordingTCPServer",
    .handle_error = sf_handle_error,
};

static const ss_server_class sf_udp = {
    .base = &ss_udp_server_class,
    .name = "RecordingUDPServer",
    .handle_error = sf_handle_error,
};

static void sf_serve(ss_server *srv, const ss_server_class *cls,
                     const ss_handler_class *h, sf_state *st, ct_serve *serve)
{
    ss_addr a;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(srv, cls, &a, h);
    srv->data = st;
    ct_serve_start(serve, srv, 0.05);
}

/* wbufsize > 0: writes wait in the buffer and finish flushes them. */
static const ss_handler_class buffered_handler_class;

static void buffered_configure(ss_handler *h)
{
    SS_SUPER(&buffered_handler_class, configure)(h);
    ((ss_stream_handler *)h)->wbufsize = 8192;
}

static int buffered_handle(ss_handler *h, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    char line[64];
    (void)err;
    int rc = ss_wfile_write(&sh->wfile, "hello\n", 6);
    if (rc < 0)
        return rc;
    /* wait for the client, which checks that nothing arrived yet */
    return ss_rfile_readline(&sh->rfile, line, sizeof line) < 0 ? -EIO : 0;
}

static const ss_handler_class buffered_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "BufferedHandler",
    .configure = buffered_configure,
    .handle = buffered_handle,
};

Test(stream_handler, wbufsize_buffers_until_finish, .timeout = 30)
{
    sf_state st;
    sf_init(&st);
    ss_server srv;
    ct_serve serve;
    sf_serve(&srv, &sf_tcp, &buffered_handler_class, &st, &serve);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    cr_assert_not(ct_readable(fd, 0.3), "buffered data was sent before finish");
    put(fd, "go\n");
    char line[16];
    cr_assert_eq(ts_read_line(fd, line, sizeof line), 6);
    cr_assert_str_eq(line, "hello\n");
    ct_close(fd);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
    cr_assert_eq(atomic_load(&st.errors), 0);
}

/* rbufsize 0: after readline, the rest of the data is still in the socket. */
static const ss_handler_class unbuffered_handler_class;

static void unbuffered_configure(ss_handler *h)
{
    SS_SUPER(&unbuffered_handler_class, configure)(h);
    ((ss_stream_handler *)h)->rbufsize = 0;
}

static int unbuffered_handle(ss_handler *h, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    char line[64], raw[64];
    (void)err;
    ssize_t n = ss_rfile_readline(&sh->rfile, line, sizeof line);
    if (n <= 0)
        return -EIO;
    ssize_t r = recv(sh->connection, raw, sizeof raw, 0);
    if (r <= 0)
        return -EIO;
    return ss_wfile_printf(&sh->wfile, "line=%.*s raw=%.*s", (int)n, line,
                           (int)r, raw);
}

static const ss_handler_class unbuffered_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "UnbufferedHandler",
    .configure = unbuffered_configure,
    .handle = unbuffered_handle,
};

Test(stream_handler, rbufsize_zero_reads_no_further_than_asked, .timeout = 30)
{
    sf_state st;
    sf_init(&st);
    ss_server srv;
    ct_serve serve;
    sf_serve(&srv, &sf_tcp, &unbuffered_handler_class, &st, &serve);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    put(fd, "a\nb\n");
    char buf[64] = "";
    ssize_t n = ts_read_full(fd, buf, sizeof buf - 1);
    cr_assert_gt(n, 0);
    cr_assert_str_eq(buf, "line=a\n raw=b\n");
    ct_close(fd);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}

/* The handler's timeout attribute: a silent client makes readline fail
 * with -ETIMEDOUT, which reaches handle_error. */
static const ss_handler_class timeout_handler_class;

static void timeout_configure(ss_handler *h)
{
    SS_SUPER(&timeout_handler_class, configure)(h);
    ((ss_stream_handler *)h)->timeout = 0.2;
}

static const ss_handler_class timeout_handler_class = {
    .base = &ct_echo_line_handler_class,
    .name = "TimeoutHandler",
    .configure = timeout_configure,
};

Test(stream_handler, timeout_attribute_times_out_reads, .timeout = 30)
{
    sf_state st;
    sf_init(&st);
    ss_server srv;
    ct_serve serve;
    sf_serve(&srv, &sf_tcp, &timeout_handler_class, &st, &serve);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    double t0 = ts_now();
    cr_assert(ct_wait_count(&st.errors, 1, CT_DEADLINE),
              "the silent client was never timed out");
    cr_assert_lt(ts_now() - t0, 5.0);
    pthread_mutex_lock(&st.mu);
    int code = st.err.code;
    pthread_mutex_unlock(&st.mu);
    cr_assert_eq(code, -ETIMEDOUT, "got %d (%s)", code, ss_strerror(code));
    char c;
    cr_assert_eq(ts_read_full(fd, &c, 1), 0, "the connection must be closed");
    ct_close(fd);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}

/* disable_nagle_algorithm sets TCP_NODELAY; the files use the connection,
 * which is the request's descriptor (CPython's test_basics). */
static const ss_handler_class nagle_handler_class;
static bool want_nodelay;

static void nagle_configure(ss_handler *h)
{
    SS_SUPER(&nagle_handler_class, configure)(h);
    ((ss_stream_handler *)h)->disable_nagle_algorithm = want_nodelay;
}

static int nagle_handle(ss_handler *h, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    sf_state *st = h->server->data;
    (void)err;
    int v = -1;
    socklen_t len = sizeof v;
    getsockopt(sh->connection, IPPROTO_TCP, TCP_NODELAY, &v, &len);
    pthread_mutex_lock(&st->mu);
    st->nodelay = v;
    st->same_fd = sh->connection == h->request->fd && sh->io &&
                  sh->io->fd == sh->connection && sh->wfile.t == sh->io &&
                  sh->rfile.t == sh->io;
    pthread_mutex_unlock(&st->mu);
    atomic_fetch_add(&st->done, 1);
    return ss_wfile_write(&sh->wfile, "ok\n", 3);
}

static const ss_handler_class nagle_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "NagleHandler",
    .configure = nagle_configure,
    .handle = nagle_handle,
};

static void check_nagle(bool nodelay)
{
    want_nodelay = nodelay;
    sf_state st;
    sf_init(&st);
    ss_server srv;
    ct_serve serve;
    sf_serve(&srv, &sf_tcp, &nagle_handler_class, &st, &serve);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    char line[8];
    cr_assert_eq(ts_read_line(fd, line, sizeof line), 3);
    ct_close(fd);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
    cr_assert_eq(atomic_load(&st.done), 1);
    cr_assert_eq(st.nodelay != 0, nodelay);
    cr_assert(st.same_fd, "rfile/wfile/connection/request disagree");
}

Test(stream_handler, nagle_left_alone_by_default, .timeout = 30)
{
    check_nagle(false);
}

Test(stream_handler, disable_nagle_algorithm_sets_nodelay, .timeout = 30)
{
    check_nagle(true);
}

/* CPython's test_write: a write is sent without flush, and a 16 MiB + 1
 * write, interrupted again and again by a signal (installed without
 * SA_RESTART) while it blocks, still sends everything and succeeds. */
static atomic_int usr1_count;
static void on_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&usr1_count, 1);
}

#define BIG (16u * 1024 * 1024 + 1)

static int big_handle(ss_handler *h, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    sf_state *st = h->server->data;
    (void)err;
    int rc = ss_wfile_write(&sh->wfile, "write data\n", 11);
    if (rc < 0)
        return rc;
    char line[64];
    if (ss_rfile_readline(&sh->rfile, line, sizeof line) <= 0)
        return -EIO;
    unsigned char *big = calloc(1, BIG);
    if (!big)
        return -ENOMEM;
    pthread_mutex_lock(&st->mu);
    st->handler_thread = pthread_self();
    pthread_mutex_unlock(&st->mu);
    atomic_store(&st->writing, true);
    rc = ss_wfile_write(&sh->wfile, big, BIG);
    free(big);
    pthread_mutex_lock(&st->mu);
    st->big_rc = rc;
    pthread_mutex_unlock(&st->mu);
    atomic_fetch_add(&st->done, 1);
    return rc;
}

static const ss_handler_class big_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "BigWriteHandler",
    .handle = big_handle,
};

static bool is_writing(void *arg)
{
    return atomic_load(&((sf_state *)arg)->writing);
}

Test(wfile, big_write_survives_signals, .timeout = 60)
{
    struct sigaction sa = {.sa_handler = on_usr1}; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);

    sf_state st;
    sf_init(&st);
    ss_server srv;
    ct_serve serve;
    sf_serve(&srv, &sf_tcp, &big_handler_class, &st, &serve);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    char line[32];
    cr_assert_eq(ts_read_line(fd, line, sizeof line), 11,
                 "the first write must arrive without flush");
    cr_assert_str_eq(line, "write data\n");
    put(fd, "client response\n");
    cr_assert(ct_wait_for(is_writing, &st, CT_DEADLINE));
    pthread_mutex_lock(&st.mu);
    pthread_t target = st.handler_thread;
    pthread_mutex_unlock(&st.mu);
    /* The client reads nothing yet, so the write blocks once the socket
     * buffers are full; hit it with signals meanwhile. */
    for (int i = 0; i < 50; i++) {
        pthread_kill(target, SIGUSR1);
        ct_pause(0.004);
    }
    size_t total = 0;
    static unsigned char buf[1 << 16];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        cr_assert_geq(n, 0, "recv: %s", strerror(errno));
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            cr_assert_eq(buf[i], 0);
        total += (size_t)n;
    }
    cr_assert_eq(total, BIG, "received %zu of %u bytes", total, BIG);
    cr_assert(ct_wait_count(&st.done, 1, CT_DEADLINE));
    pthread_mutex_lock(&st.mu);
    int rc = st.big_rc;
    pthread_mutex_unlock(&st.mu);
    cr_assert_eq(rc, 0, "the interrupted write returned %d", rc);
    cr_assert_gt(atomic_load(&usr1_count), 0);
    cr_assert_eq(atomic_load(&st.errors), 0);
    ct_close(fd);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}

/* --- through the datagram handler --------------------------------------------------- */

static int silent_handle(ss_handler *h, ss_error *err)
{
    (void)h;
    (void)err;
    return 0;
}

static const ss_handler_class silent_dgram_class = {
    .base = &ss_datagram_request_handler_class,
    .name = "SilentDatagramHandler",
    .handle = silent_handle,
};

/* Python's finish always sends, even an empty reply. */
Test(datagram_handler, empty_reply_is_a_zero_length_datagram, .timeout = 30)
{
    sf_state st;
    sf_init(&st);
    ss_server srv;
    ct_serve serve;
    sf_serve(&srv, &sf_udp, &silent_dgram_class, &st, &serve);
    int fd = ct_connect(&srv.server_address, SOCK_DGRAM);
    cr_assert_eq(send(fd, "q", 1, 0), 1);
    char buf[8];
    cr_assert(ct_readable(fd, CT_DEADLINE), "no reply at all");
    cr_assert_eq(ct_recv(fd, buf, sizeof buf), 0);
    ct_close(fd);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}

static int two_writes_handle(ss_handler *h, ss_error *err)
{
    ss_datagram_handler *dh = (ss_datagram_handler *)h;
    char line[64];
    (void)err;
    ssize_t n = ss_rfile_readline(&dh->rfile, line, sizeof line);
    if (n < 0)
        return (int)n;
    int rc = ss_wfile_write(&dh->wfile, "first:", 6);
    if (rc == 0)
        rc = ss_wfile_write(&dh->wfile, line, (size_t)n);
    return rc;
}

static const ss_handler_class two_writes_class = {
    .base = &ss_datagram_request_handler_class,
    .name = "TwoWritesDatagramHandler",
    .handle = two_writes_handle,
};

/* Writes during handle() are collected and sent by finish() as one
 * datagram; rfile reads the packet line by line. */
Test(datagram_handler, reply_is_sent_once_by_finish, .timeout = 30)
{
    sf_state st;
    sf_init(&st);
    ss_server srv;
    ct_serve serve;
    sf_serve(&srv, &sf_udp, &two_writes_class, &st, &serve);
    int fd = ct_connect(&srv.server_address, SOCK_DGRAM);
    cr_assert_eq(send(fd, "one\ntwo\n", 8, 0), 8);
    char buf[64] = "";
    ssize_t n = ct_recv(fd, buf, sizeof buf - 1);
    cr_assert_eq(n, 10);
    buf[n] = '\0';
    cr_assert_str_eq(buf, "first:one\n");
    cr_assert_not(ct_readable(fd, 0.2), "a second datagram was sent");
    ct_close(fd);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}
