/* bench/loadgen.c - a load generator for echo servers.
 *
 * Modes (one per run):
 *   stream (default)  --conns N connections each make --rounds M round trips
 *                     of --size S bytes; every byte that comes back is
 *                     compared with what was sent.
 *   --connect N       N connections in total, --conns of them in flight at
 *                     once: connect, echo one byte, close.
 *   --udp             like stream, over N connected UDP sockets; a datagram
 *                     not answered within 200 ms is sent again (counted).
 *   --idle K          before the stream phase, open K more connections, echo
 *                     one byte on each (so the server has really accepted
 *                     them) and keep them open, silent, until the end.
 *                     With --tls they are TLS connections (handshake and
 *                     the echoed byte over TLS, then silent).
 *   --tls             stream mode over TLS (OpenSSL), handshake done before
 *                     the clock starts.
 *   --max-seconds T   stop after T seconds and report what was completed
 *                     ("truncated": true), so a slow server cannot make a
 *                     run last minutes.
 *
 * The work is split over --threads T threads, each with its own epoll set,
 * so that the generator is not what limits a fast server; with two cores
 * the default is one thread, which leaves the other core to the server.
 *
 * Output: one JSON object on stdout.  With --hold, the program stops twice
 * and waits for a line on stdin: after printing "idle ready" (idle
 * connections open, stream phase not started) and after printing the JSON
 * and "holding" (everything still open), so that a runner can read the
 * server's CPU time and memory at exactly those points.
 *
 * Exit status: 0 when every byte came back right, 1 on any error (the
 * first one is printed on stderr), 2 on a bad option.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define PATTERN_SHIFTS 256   /* round r sends pattern + (r % 256) */
#define RECV_BUF (256 * 1024)
#define STALL_MS 10000       /* no progress for this long: give up */
#define UDP_RESEND_NS (200 * 1000000ull)
#define IDLE_BATCH 64        /* idle connections opened per batch */

enum mode { MODE_STREAM, MODE_CONNECT, MODE_UDP };

typedef struct options {
    const char *addr;
    enum mode mode;
    int conns;
    long rounds;
    size_t size;
    long connects;
    long idle;
    int threads;
    bool tls;
    const char *tls_ca; /* NULL with --tls-insecure */
    bool hold;
    double max_seconds; /* 0: no limit */
} options;

static options opt = {.conns = 1, .rounds = 1000, .size = 64, .threads = 1};
static struct sockaddr_storage peer;
static socklen_t peer_len;
static SSL_CTX *ssl_ctx;

/* The first error wins; the others are usually its consequences. */
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

static _Noreturn void fail(const char *fmt, ...)
{
    pthread_mutex_lock(&fail_lock);
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    ERR_print_errors_fp(stderr);
    fflush(stderr);
    _exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- one connection ------------------------------------------------------ */

enum cstate { C_FREE, C_CONNECTING, C_ECHO1, C_RUNNING, C_DONE };

typedef struct conn {
    int fd;
    int id;
    enum cstate state;
    SSL *ssl;
    long round;      /* round trips completed */
    size_t sent;     /* bytes of the current round written */
    size_t rcvd;     /* bytes of the current round read back */
    uint64_t t0;     /* when the current round (or connect) started */
    uint64_t t_sent; /* UDP: last (re)send */
    bool want_out;   /* EPOLLOUT registered */
    unsigned char *pat;
} conn;

typedef struct worker {
    pthread_t tid;
    int index;
    int ep;
    conn *conns;
    int nconns;
    long connects;   /* connect mode: this worker's share */
    long started, finished;
    uint64_t *lat;   /* nanoseconds, one per round trip or connection */
    size_t nlat, cap;
    uint64_t bytes;  /* payload bytes echoed back and verified */
    uint64_t resends;
    uint64_t t_start, t_end;
    unsigned char *rbuf;
} worker;

static pthread_barrier_t start_barrier;
static atomic_int truncated; /* some worker hit --max-seconds */

static void fill_pattern(unsigned char *p, size_t n, int id)
{
    uint32_t x = 2463534242u ^ (uint32_t)id * 2654435761u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
}

static void record(worker *w, uint64_t ns)
{
    if (w->nlat == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 4096;
        w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
        if (!w->lat)
            fail("out of memory");
    }
    w->lat[w->nlat++] = ns;
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        fail("fcntl: %s", strerror(errno));
}

static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int new_socket(int type)
{
    int fd = socket(peer.ss_family, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fail("socket: %s", strerror(errno));
    return fd;
}

/* A blocking connect, for the connections whose setup is not measured. */
static int connect_blocking(void)
{
    int fd = new_socket(SOCK_STREAM);
    while (connect(fd, (struct sockaddr *)&peer, peer_len) < 0)
        if (errno != EINTR)
            fail("connect: %s", strerror(errno));
    set_nodelay(fd);
    return fd;
}

static void tls_start(conn *c)
{
    c->ssl = SSL_new(ssl_ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
        fail("SSL_new failed");
    SSL_set_tlsext_host_name(c->ssl, "localhost");
    if (SSL_connect(c->ssl) != 1)
        fail("TLS handshake with %s failed", opt.addr);
}

/* 0..n bytes, or -EAGAIN, or another negative errno (-EPIPE: peer closed). */
static ssize_t c_send(conn *c, const void *p, size_t n)
{
    if (c->ssl) {
        size_t w;
        int r = SSL_write_ex(c->ssl, p, n, &w);
        if (r == 1)
            return (ssize_t)w;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
            return -EAGAIN;
        return -EIO;
    }
    ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
    return r >= 0 ? r : -errno;
}

/* >0 bytes, 0 at EOF, -EAGAIN, or another negative errno. */
static ssize_t c_recv(conn *c, void *p, size_t n)
{
    if (c->ssl) {
        size_t got;
        int r = SSL_read_ex(c->ssl, p, n, &got);
        if (r == 1)
            return (ssize_t)got;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
            return -EAGAIN;
        if (e == SSL_ERROR_ZERO_RETURN)
            return 0;
        return -EIO;
    }
    ssize_t r = recv(c->fd, p, n, 0);
    return r >= 0 ? r : -errno;
}

static void ep_set(worker *w, conn *c, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(w->ep, op, c->fd, &ev) < 0)
        fail("epoll_ctl: %s", strerror(errno));
}

static void want_out(worker *w, conn *c, bool on)
{
    if (c->want_out == on)
        return;
    c->want_out = on;
    ep_set(w, c, EPOLLIN | (on ? EPOLLOUT : 0u), EPOLL_CTL_MOD);
}

/* --- stream mode --------------------------------------------------------- */

/* A connection that has made all its round trips is closed at once: a
 * server that serves one connection at a time (sync) waits for its EOF
 * before it accepts the next. */
static void finish_conn(worker *w, conn *c)
{
    c->state = C_DONE;
    w->finished++;
    if (c->ssl) {
        SSL_shutdown(c->ssl); /* close_notify; the answer is not awaited */
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
}

static const unsigned char *round_data(const conn *c)
{
    return c->pat + (c->round % PATTERN_SHIFTS);
}

/* Moves bytes both ways until neither direction can progress. */
static void stream_pump(worker *w, conn *c)
{
    for (;;) {
        bool progress = false;
        if (c->sent < opt.size) {
            ssize_t n = c_send(c, round_data(c) + c->sent, opt.size - c->sent);
            if (n > 0) {
                c->sent += (size_t)n;
                progress = true;
            } else if (n != -EAGAIN) {
                fail("conn %d round %ld: send: %s", c->id, c->round, strerror((int)-n));
            }
        }
        size_t want = opt.size - c->rcvd;
        ssize_t n = c_recv(c, w->rbuf, want < RECV_BUF ? want : RECV_BUF);
        if (n > 0) {
            if (memcmp(w->rbuf, round_data(c) + c->rcvd, (size_t)n) != 0)
                fail("conn %d round %ld: wrong bytes echoed at offset %zu",
                     c->id, c->round, c->rcvd);
            c->rcvd += (size_t)n;
            w->bytes += (uint64_t)n;
            progress = true;
            if (c->rcvd == opt.size) {
                uint64_t t = now_ns();
                record(w, t - c->t0);
                c->round++;
                c->sent = c->rcvd = 0;
                c->t0 = t;
                if (c->round == opt.rounds) {
                    finish_conn(w, c);
                    return;
                }
            }
        } else if (n == 0) {
            fail("conn %d round %ld: server closed the connection after %zu of %zu bytes",
                 c->id, c->round, c->rcvd, opt.size);
        } else if (n != -EAGAIN) {
            fail("conn %d round %ld: recv: %s", c->id, c->round, strerror((int)-n));
        }
        if (!progress)
            break;
    }
    want_out(w, c, c->sent < opt.size);
}

/* --- connect mode -------------------------------------------------------- */

static void connect_start(worker *w, conn *c)
{
    c->fd = new_socket(SOCK_STREAM | SOCK_NONBLOCK);
    set_nodelay(c->fd);
    c->t0 = now_ns();
    w->started++;
    /* Done at once or in progress: either way EPOLLOUT says it is over. */
    if (connect(c->fd, (struct sockaddr *)&peer, peer_len) < 0 && errno != EINPROGRESS)
        fail("connect: %s", strerror(errno));
    c->state = C_CONNECTING;
    ep_set(w, c, EPOLLOUT, EPOLL_CTL_ADD);
}

static void connect_event(worker *w, conn *c)
{
    static const unsigned char one = 'x';
    if (c->state == C_CONNECTING) {
        int e = 0;
        socklen_t len = sizeof e;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len);
        if (e != 0)
            fail("connect: %s", strerror(e));
        if (send(c->fd, &one, 1, MSG_NOSIGNAL) != 1)
            fail("send: %s", strerror(errno));
        c->state = C_ECHO1;
        ep_set(w, c, EPOLLIN, EPOLL_CTL_MOD);
        return;
    }
    unsigned char b;
    ssize_t n = recv(c->fd, &b, 1, 0);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n != 1 || b != one)
        fail("connection %ld: %s", w->started,
             n < 0 ? strerror(errno) : n == 0 ? "closed before the echo" : "wrong byte");
    close(c->fd); /* also removes it from the epoll set */
    uint64_t t = now_ns();
    record(w, t - c->t0);
    w->bytes += 1;
    w->finished++;
    c->state = C_FREE;
    if (w->started < w->connects)
        connect_start(w, c);
}

/* --- UDP mode ------------------------------------------------------------ */

/* A datagram: 4 bytes of connection id, 4 of round, then the pattern. */
static void udp_send(worker *w, conn *c)
{
    unsigned char *d = w->rbuf + RECV_BUF / 2;
    uint32_t hdr[2] = {(uint32_t)c->id, (uint32_t)c->round};
    memcpy(d, round_data(c), opt.size);
    memcpy(d, hdr, sizeof hdr);
    ssize_t n = send(c->fd, d, opt.size, 0);
    if (n < 0 && errno != EAGAIN && errno != ENOBUFS && errno != ECONNREFUSED)
        fail("udp send: %s", strerror(errno));
    c->t_sent = now_ns();
}

static void udp_event(worker *w, conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, w->rbuf, RECV_BUF / 2, 0);
        if (n < 0) {
            if (errno == EAGAIN)
                return;
            fail("udp recv: %s", strerror(errno));
        }
        uint32_t hdr[2];
        if ((size_t)n != opt.size)
            fail("udp: a datagram of %zd bytes came back for one of %zu", n, opt.size);
        memcpy(hdr, w->rbuf, sizeof hdr);
        if (hdr[0] != (uint32_t)c->id)
            fail("udp: datagram for another socket");
        if (hdr[1] != (uint32_t)c->round) {
            if (hdr[1] < (uint32_t)c->round)
                continue; /* the answer to a resent datagram, late */
            fail("udp: answer for a round not sent yet");
        }
        if (memcmp(w->rbuf + sizeof hdr, round_data(c) + sizeof hdr,
                   opt.size - sizeof hdr) != 0)
            fail("udp: wrong bytes echoed");
        uint64_t t = now_ns();
        record(w, t - c->t0);
        w->bytes += opt.size;
        c->round++;
        c->t0 = t;
        if (c->round == opt.rounds) {
            finish_conn(w, c);
            return;
        }
        udp_send(w, c);
    }
}

static void udp_resend_overdue(worker *w)
{
    uint64_t t = now_ns();
    for (int i = 0; i < w->nconns; i++) {
        conn *c = &w->conns[i];
        if (c->state == C_RUNNING && t - c->t_sent > UDP_RESEND_NS) {
            w->resends++;
            udp_send(w, c);
        }
    }
}

/* --- the worker thread ---------------------------------------------------- */

static void setup_conn(worker *w, conn *c)
{
    c->pat = malloc(opt.size + PATTERN_SHIFTS);
    if (!c->pat)
        fail("out of memory");
    fill_pattern(c->pat, opt.size + PATTERN_SHIFTS, c->id);
    if (opt.mode == MODE_UDP) {
        c->fd = new_socket(SOCK_DGRAM);
        if (connect(c->fd, (struct sockaddr *)&peer, peer_len) < 0)
            fail("udp connect: %s", strerror(errno));
    } else {
        c->fd = connect_blocking();
        if (opt.tls)
            tls_start(c);
    }
    set_nonblock(c->fd);
    c->state = C_RUNNING;
    ep_set(w, c, EPOLLIN, EPOLL_CTL_ADD);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    if (w->ep < 0)
        fail("epoll_create1: %s", strerror(errno));
    w->rbuf = malloc(RECV_BUF);
    if (!w->rbuf)
        fail("out of memory");
    if (opt.mode != MODE_CONNECT)
        for (int i = 0; i < w->nconns; i++)
            setup_conn(w, &w->conns[i]);

    pthread_barrier_wait(&start_barrier);
    w->t_start = now_ns();
    uint64_t deadline = opt.max_seconds > 0
                            ? w->t_start + (uint64_t)(opt.max_seconds * 1e9)
                            : UINT64_MAX;

    int target = w->nconns;
    if (opt.mode == MODE_CONNECT) {
        target = 0; /* counted in connects instead */
        for (int i = 0; i < w->nconns && w->started < w->connects; i++)
            connect_start(w, &w->conns[i]);
    } else {
        for (int i = 0; i < w->nconns; i++) {
            conn *c = &w->conns[i];
            c->t0 = now_ns();
            if (opt.mode == MODE_UDP)
                udp_send(w, c);
            else
                stream_pump(w, c);
        }
    }

    struct epoll_event evs[256];
    uint64_t last_progress = now_ns();
    long last_finished = -1;
    size_t last_nlat = 0;
    for (;;) {
        if (opt.mode == MODE_CONNECT ? w->finished == w->connects
                                     : w->finished == target)
            break;
        int timeout = opt.mode == MODE_UDP ? 50 : 1000;
        int n = epoll_wait(w->ep, evs, 256, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (opt.mode == MODE_CONNECT)
                connect_event(w, c);
            else if (opt.mode == MODE_UDP)
                udp_event(w, c);
            else if (c->state == C_RUNNING)
                stream_pump(w, c);
        }
        if (opt.mode == MODE_UDP)
            udp_resend_overdue(w);
        uint64_t t = now_ns();
        if (t > deadline) {
            /* Rounds in flight are dropped: only completed ones count. */
            truncated = 1;
            break;
        }
        if (w->nlat != last_nlat || w->finished != last_finished) {
            last_nlat = w->nlat;
            last_finished = w->finished;
            last_progress = t;
        } else if (t - last_progress > STALL_MS * 1000000ull) {
            fail("no progress for %d s (%zu round trips done)", STALL_MS / 1000, w->nlat);
        }
    }
    w->t_end = now_ns();
    return NULL;
}

/* --- idle connections ----------------------------------------------------- */

/* A batch of idle TLS connections, fds[base..end) and ssls[base..end):
 * the handshakes run side by side (non-blocking, poll), then one byte is
 * echoed on each over TLS.  One at a time, each handshake would wait out
 * the scheduler of a busy machine several times over. */
static void open_idle_tls(int *fds, SSL **ssls, long base, long end)
{
    struct pollfd pf[IDLE_BATCH];
    bool done[IDLE_BATCH] = {false};
    long n = end - base, left = n;
    for (long i = 0; i < n; i++) {
        int fd = fds[base + i] = connect_blocking();
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        SSL *ssl = ssls[base + i] = SSL_new(ssl_ctx);
        if (!ssl || SSL_set_fd(ssl, fd) != 1)
            fail("SSL_new failed");
        /* Ten thousand of them: no 34 KB of record buffers each while idle. */
        SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
        SSL_set_tlsext_host_name(ssl, "localhost");
        SSL_set_connect_state(ssl);
    }
    uint64_t deadline = now_ns() + STALL_MS * 1000000ull;
    while (left > 0) {
        nfds_t k = 0;
        for (long i = 0; i < n; i++) {
            if (done[i])
                continue;
            SSL *ssl = ssls[base + i];
            int r = SSL_do_handshake(ssl);
            if (r == 1) {
                done[i] = true;
                left--;
                continue;
            }
            int e = SSL_get_error(ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                fail("idle connection %ld: TLS handshake failed", base + i);
            pf[k].fd = fds[base + i];
            pf[k].events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
            k++;
        }
        if (left == 0)
            break;
        if (now_ns() > deadline)
            fail("idle connections: %ld TLS handshakes not done in %d ms",
                 left, STALL_MS);
        poll(pf, k, 1000);
    }
    for (long i = base; i < end; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) & ~O_NONBLOCK);
        struct timeval tv = {.tv_sec = 10};
        setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (SSL_write(ssls[i], "i", 1) != 1)
            fail("idle connection %ld: TLS write failed", i);
    }
    for (long i = base; i < end; i++) {
        char b = 0;
        if (SSL_read(ssls[i], &b, 1) != 1 || b != 'i')
            fail("idle connection %ld: no echo over TLS", i);
    }
}

/* Opens k connections and proves each is served by one echoed byte.  In
 * batches, so that a server which accepts slowly sees a short queue (TLS
 * ones too, *ssls). */
static int *open_idle(long k, SSL ***ssls)
{
    if (opt.tls) {
        int *fds = malloc((size_t)(k ? k : 1) * sizeof *fds);
        *ssls = calloc((size_t)(k ? k : 1), sizeof **ssls);
        if (!fds || !*ssls)
            fail("out of memory");
        for (long base = 0; base < k; base += IDLE_BATCH)
            open_idle_tls(fds, *ssls, base,
                          base + IDLE_BATCH < k ? base + IDLE_BATCH : k);
        return fds;
    }
    int *fds = malloc((size_t)(k ? k : 1) * sizeof *fds);
    if (!fds)
        fail("out of memory");
    for (long base = 0; base < k; base += IDLE_BATCH) {
        long end = base + IDLE_BATCH < k ? base + IDLE_BATCH : k;
        for (long i = base; i < end; i++) {
            fds[i] = connect_blocking();
            if (send(fds[i], "i", 1, MSG_NOSIGNAL) != 1)
                fail("idle connection %ld: send: %s", i, strerror(errno));
        }
        for (long i = base; i < end; i++) {
            char b;
            struct timeval tv = {.tv_sec = 10};
            setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            ssize_t n = recv(fds[i], &b, 1, 0);
            if (n != 1 || b != 'i')
                fail("idle connection %ld: no echo (%s)", i,
                     n < 0 ? strerror(errno) : "closed");
        }
    }
    return fds;
}

static void wait_for_line(void)
{
    char line[64];
    if (!fgets(line, sizeof line, stdin))
        return; /* EOF counts as the go-ahead */
}

/* --- main ----------------------------------------------------------------- */

static const char usage[] =
    "usage: loadgen --addr HOST:PORT [--conns N] [--rounds M] [--size S]\n"
    "               [--connect TOTAL] [--udp] [--idle K] [--tls [--tls-ca FILE]]\n"
    "               [--threads T] [--max-seconds SEC] [--hold]\n";

static long num_arg(const char *name, const char *v, long min, long max)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < min || x > max) {
        fprintf(stderr, "loadgen: %s: '%s' is not a number in [%ld, %ld]\n", name,
                v, min, max);
        exit(2);
    }
    return x;
}

static void parse(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (strcmp(a, "--addr") == 0 && v)
            opt.addr = v;
        else if (strcmp(a, "--conns") == 0 && v)
            opt.conns = (int)num_arg(a, v, 1, 100000);
        else if (strcmp(a, "--rounds") == 0 && v)
            opt.rounds = num_arg(a, v, 1, 1000000000);
        else if (strcmp(a, "--size") == 0 && v)
            opt.size = (size_t)num_arg(a, v, 1, 16 * 1024 * 1024);
        else if (strcmp(a, "--connect") == 0 && v) {
            opt.mode = MODE_CONNECT;
            opt.connects = num_arg(a, v, 1, 100000000);
        } else if (strcmp(a, "--idle") == 0 && v)
            opt.idle = num_arg(a, v, 0, 1000000);
        else if (strcmp(a, "--threads") == 0 && v)
            opt.threads = (int)num_arg(a, v, 1, 64);
        else if (strcmp(a, "--max-seconds") == 0 && v)
            opt.max_seconds = (double)num_arg(a, v, 1, 86400);
        else if (strcmp(a, "--tls-ca") == 0 && v)
            opt.tls_ca = v;
        else {
            takes = false;
            if (strcmp(a, "--udp") == 0)
                opt.mode = MODE_UDP;
            else if (strcmp(a, "--tls") == 0)
                opt.tls = true;
            else if (strcmp(a, "--hold") == 0)
                opt.hold = true;
            else {
                fprintf(stderr, "loadgen: bad argument '%s'\n%s", a, usage);
                exit(a[0] == '-' && strcmp(a, "--help") == 0 ? 0 : 2);
            }
        }
        if (takes)
            i++;
    }
    if (!opt.addr) {
        fprintf(stderr, "%s", usage);
        exit(2);
    }
    if (opt.mode == MODE_UDP && (opt.size < 8 || opt.size > 65507)) {
        fprintf(stderr, "loadgen: --udp needs --size between 8 and 65507\n");
        exit(2);
    }
    if (opt.tls && opt.mode != MODE_STREAM) {
        fprintf(stderr, "loadgen: --tls works in stream mode only\n");
        exit(2);
    }
    if (opt.conns < opt.threads)
        opt.threads = opt.conns;
}

static void resolve(void)
{
    char host[256];
    const char *colon = strrchr(opt.addr, ':');
    if (!colon || (size_t)(colon - opt.addr) >= sizeof host) {
        fprintf(stderr, "loadgen: --addr wants HOST:PORT\n");
        exit(2);
    }
    const char *h = opt.addr;
    size_t hl = (size_t)(colon - opt.addr);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_flags = AI_NUMERICSERV}, *res;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "loadgen: %s: %s\n", opt.addr, gai_strerror(rc));
        exit(2);
    }
    memcpy(&peer, res->ai_addr, res->ai_addrlen);
    peer_len = res->ai_addrlen;
    freeaddrinfo(res);
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void tls_init(void)
{
    ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!ssl_ctx)
        fail("SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (opt.tls_ca) {
        if (SSL_CTX_load_verify_locations(ssl_ctx, opt.tls_ca, NULL) != 1)
            fail("--tls-ca %s: cannot load", opt.tls_ca);
        SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_NONE, NULL); /* benchmark only */
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    resolve();
    raise_nofile();
    if (opt.tls)
        tls_init();

    int *idle_fds = NULL;
    SSL **idle_ssls = NULL;
    if (opt.idle > 0)
        idle_fds = open_idle(opt.idle, &idle_ssls);
    if (opt.hold) {
        printf("idle ready\n");
        fflush(stdout);
        wait_for_line();
    }

    int in_flight = opt.conns;
    if (opt.mode == MODE_CONNECT && in_flight > opt.connects)
        in_flight = (int)opt.connects;
    if (opt.threads > in_flight)
        opt.threads = in_flight;
    worker *ws = calloc((size_t)opt.threads, sizeof *ws);
    conn *cs = calloc((size_t)in_flight, sizeof *cs);
    if (!ws || !cs)
        fail("out of memory");
    pthread_barrier_init(&start_barrier, NULL, (unsigned)opt.threads);
    int next = 0;
    for (int t = 0; t < opt.threads; t++) {
        worker *w = &ws[t];
        w->index = t;
        w->nconns = in_flight / opt.threads + (t < in_flight % opt.threads);
        w->conns = cs + next;
        for (int i = 0; i < w->nconns; i++)
            w->conns[i].id = next + i;
        next += w->nconns;
        w->connects = opt.connects / opt.threads + (t < opt.connects % opt.threads);
    }
    for (int t = 1; t < opt.threads; t++)
        if (pthread_create(&ws[t].tid, NULL, worker_main, &ws[t]) != 0)
            fail("pthread_create failed");
    worker_main(&ws[0]);
    for (int t = 1; t < opt.threads; t++)
        pthread_join(ws[t].tid, NULL);

    uint64_t t0 = UINT64_MAX, t1 = 0, bytes = 0, resends = 0;
    size_t nlat = 0;
    for (int t = 0; t < opt.threads; t++) {
        t0 = ws[t].t_start < t0 ? ws[t].t_start : t0;
        t1 = ws[t].t_end > t1 ? ws[t].t_end : t1;
        bytes += ws[t].bytes;
        resends += ws[t].resends;
        nlat += ws[t].nlat;
    }
    uint64_t *lat = malloc((nlat ? nlat : 1) * sizeof *lat);
    if (!lat)
        fail("out of memory");
    size_t k = 0;
    for (int t = 0; t < opt.threads; t++) {
        memcpy(lat + k, ws[t].lat, ws[t].nlat * sizeof *lat);
        k += ws[t].nlat;
    }
    qsort(lat, nlat, sizeof *lat, cmp_u64);
    double secs = (double)(t1 - t0) / 1e9;
    double p50 = nlat ? (double)lat[nlat / 2] / 1e3 : 0;
    double p99 = nlat ? (double)lat[(nlat * 99) / 100] / 1e3 : 0;
    const char *mode = opt.mode == MODE_CONNECT ? "connect"
                       : opt.mode == MODE_UDP   ? "udp"
                       : opt.tls                ? "tls"
                                                : "stream";
    /* MB/s counts the payload once (what came back verified), in 10^6. */
    printf("{\"mode\": \"%s\", \"conns\": %d, \"size\": %zu, \"idle\": %ld, "
           "\"ops\": %zu, \"seconds\": %.6f, \"ops_per_s\": %.1f, "
           "\"mb_per_s\": %.2f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
           "\"resends\": %" PRIu64 ", \"threads\": %d, \"truncated\": %s}\n",
           mode, in_flight, opt.mode == MODE_CONNECT ? (size_t)1 : opt.size,
           opt.idle, nlat, secs, secs > 0 ? (double)nlat / secs : 0,
           secs > 0 ? (double)bytes / secs / 1e6 : 0, p50, p99, resends,
           opt.threads, truncated ? "true" : "false");
    fflush(stdout);
    if (opt.hold) {
        printf("holding\n");
        fflush(stdout);
        wait_for_line();
    }
    for (long i = 0; i < opt.idle; i++) {
        if (idle_ssls)
            SSL_free(idle_ssls[i]);
        close(idle_fds[i]);
    }
    free(idle_ssls);
    free(idle_fds);
    for (int t = 0; t < opt.threads; t++) {
        for (int i = 0; i < ws[t].nconns; i++) {
            conn *c = &ws[t].conns[i];
            if (c->ssl)
                SSL_free(c->ssl);
            if (c->fd >= 0 && c->state != C_DONE && c->state != C_FREE)
                close(c->fd);
            free(c->pat);
        }
        close(ws[t].ep);
        free(ws[t].lat);
        free(ws[t].rbuf);
    }
    free(cs);
    free(ws);
    free(lat);
    SSL_CTX_free(ssl_ctx);
    return 0;
}
