/* tests/core/coretest.c - see coretest.h. */
#include "coretest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* --- serve_forever on a thread ------------------------------------------ */

static void *serve_main(void *arg)
{
    ct_serve *s = arg;
    s->rc = ss_server_serve_forever(s->srv, s->poll_interval);
    atomic_store(&s->done, true);
    return NULL;
}

void ct_serve_start(ct_serve *s, ss_server *srv, double poll_interval)
{
    memset(s, 0, sizeof *s);
    s->srv = srv;
    s->poll_interval = poll_interval;
    atomic_init(&s->done, false);
    cr_assert_eq(pthread_create(&s->thread, NULL, serve_main, s), 0);
}

static bool serve_done(void *arg)
{
    return atomic_load(&((ct_serve *)arg)->done);
}

bool ct_serve_wait(ct_serve *s, double timeout_s)
{
    if (s->joined)
        return true;
    if (!ct_wait_for(serve_done, s, timeout_s))
        return false;
    pthread_join(s->thread, NULL);
    s->joined = true;
    return true;
}

int ct_serve_stop(ct_serve *s)
{
    if (!s->joined) {
        double t0 = ts_now();
        int rc = ss_server_shutdown(s->srv);
        cr_assert_eq(rc, 0, "ss_server_shutdown returned %d", rc);
        cr_assert(ts_now() - t0 < CT_DEADLINE, "shutdown took %.1f s",
                  ts_now() - t0);
        cr_assert(ct_serve_wait(s, CT_DEADLINE),
                  "serve_forever did not return after shutdown");
    }
    return s->rc;
}

/* --- addresses ------------------------------------------------------------ */

static char tmpdirs[16][256];
static int ntmpdirs;
static pthread_mutex_t tmp_mu = PTHREAD_MUTEX_INITIALIZER;

const char *ct_tmpdir(void)
{
    pthread_mutex_lock(&tmp_mu);
    cr_assert_lt(ntmpdirs, 16, "too many temp dirs");
    char *d = tmpdirs[ntmpdirs++];
    pthread_mutex_unlock(&tmp_mu);
    /* /tmp rather than $TMPDIR: unix socket paths must fit in 108 bytes. */
    snprintf(d, sizeof tmpdirs[0], "/tmp/sockserv-core-XXXXXX");
    cr_assert_not_null(mkdtemp(d), "mkdtemp: %s", strerror(errno));
    return d;
}

void ct_cleanup(void)
{
    pthread_mutex_lock(&tmp_mu);
    for (int i = 0; i < ntmpdirs; i++)
        ts_rmtree(tmpdirs[i]);
    ntmpdirs = 0;
    pthread_mutex_unlock(&tmp_mu);
}

void ct_addr(ss_addr *out, const char *text)
{
    ss_error err;
    ss_error_clear(&err);
    int rc = ss_addr_parse(out, text, &err);
    cr_assert_eq(rc, 0, "ss_addr_parse(%s) = %d (%s)", text, rc, err.msg);
}

void ct_unix_addr(ss_addr *out, const char *name)
{
    char text[300];
    snprintf(text, sizeof text, "unix:%s/%s", ct_tmpdir(), name);
    ct_addr(out, text);
}

const char *ct_fmt(const ss_addr *a)
{
    static __thread char bufs[4][SS_ADDRSTRLEN];
    static __thread unsigned next;
    char *b = bufs[next++ % 4];
    return ss_addr_format(a, b, SS_ADDRSTRLEN);
}

void ct_sockname(int fd, ss_addr *out)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    /* An unbound unix socket reports just the family: the empty address. */
    if (ss.ss_family == AF_UNIX && len <= sizeof(sa_family_t))
        len = 0;
    cr_assert_eq(ss_addr_set(out, (struct sockaddr *)&ss, len), 0);
}

/* --- clients -------------------------------------------------------------- */

int ct_connect(const ss_addr *a, int type)
{
    int fd = ts_connect(a, type, CT_DEADLINE);
    cr_assert_geq(fd, 0, "connect %s: %s", ct_fmt(a), strerror(-fd));
    return fd;
}

void ct_close(int fd)
{
    struct sockaddr_un un;
    socklen_t len = sizeof un;
    if (getsockname(fd, (struct sockaddr *)&un, &len) == 0 &&
        un.sun_family == AF_UNIX && len > sizeof(sa_family_t) &&
        un.sun_path[0] != '\0')
        unlink(un.sun_path);
    close(fd);
}

ssize_t ct_recv(int fd, void *buf, size_t cap)
{
    for (;;) {
        ssize_t n = recv(fd, buf, cap, 0);
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? -errno : n;
    }
}

bool ct_readable(int fd, double timeout_s)
{
    struct pollfd pf = {fd, POLLIN, 0};
    double deadline = ts_now() + timeout_s;
    for (;;) {
        double left = deadline - ts_now();
        int ms = left > 0 ? (int)(left * 1000) + 1 : 0;
        int n = poll(&pf, 1, ms);
        if (n < 0 && errno == EINTR)
            continue;
        return n > 0;
    }
}

void ct_echo_check(const ss_addr *a, int type)
{
    static const char msg[] = "hello world\n";
    int fd = ct_connect(a, type);
    char buf[256];
    ssize_t n;
    if (type == SOCK_STREAM) {
        cr_assert_eq(ts_write_full(fd, msg, sizeof msg - 1), 0);
        n = ts_read_line(fd, buf, sizeof buf);
    } else {
        cr_assert_eq(send(fd, msg, sizeof msg - 1, 0), (ssize_t)sizeof msg - 1);
        n = ct_recv(fd, buf, sizeof buf - 1);
        if (n >= 0)
            buf[n] = '\0';
    }
    cr_assert_eq(n, (ssize_t)sizeof msg - 1, "echo from %s: got %zd (%s)",
                 ct_fmt(a), n, n < 0 ? strerror((int)-n) : "short");
    cr_assert_str_eq(buf, msg);
    ct_close(fd);
}

/* --- handlers ------------------------------------------------------------- */

static int echo_line_handle(ss_handler *h, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    char line[1024];
    ssize_t n = ss_rfile_readline(&sh->rfile, line, sizeof line);
    if (n < 0)
        return ss_error_set(err, (int)n, "readline: %s", ss_strerror((int)n));
    int rc = ss_wfile_write(&sh->wfile, line, (size_t)n);
    if (rc < 0)
        return ss_error_set(err, rc, "write: %s", ss_strerror(rc));
    return 0;
}

const ss_handler_class ct_echo_line_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "EchoLineHandler",
    .handle = echo_line_handle,
};

static int echo_dgram_handle(ss_handler *h, ss_error *err)
{
    ss_datagram_handler *dh = (ss_datagram_handler *)h;
    unsigned char buf[16384];
    ssize_t n = ss_rfile_read_exact(&dh->rfile, buf, sizeof buf);
    if (n < 0)
        return ss_error_set(err, (int)n, "read: %s", ss_strerror((int)n));
    int rc = ss_wfile_write(&dh->wfile, buf, (size_t)n);
    if (rc < 0)
        return ss_error_set(err, rc, "write: %s", ss_strerror(rc));
    return 0;
}

const ss_handler_class ct_echo_dgram_handler_class = {
    .base = &ss_datagram_request_handler_class,
    .name = "EchoDatagramHandler",
    .handle = echo_dgram_handle,
};

const ss_handler_class *ct_echo_handler_for(int socket_type)
{
    return socket_type == SOCK_STREAM ? &ct_echo_line_handler_class
                                      : &ct_echo_dgram_handler_class;
}

void ct_server_init(ss_server *srv, const ss_server_class *cls,
                    const ss_addr *addr, const ss_handler_class *handler)
{
    ss_error err;
    ss_error_clear(&err);
    int rc = ss_server_init(srv, cls, addr, handler, SS_BIND_AND_ACTIVATE, &err);
    cr_assert_eq(rc, 0, "ss_server_init(%s, %s) = %d: %s", cls->name,
                 ct_fmt(addr), rc, err.msg);
    cr_assert_geq(srv->socket, 0);
}

/* --- waiting and logging ------------------------------------------------ */

void ct_pause(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

bool ct_wait_for(bool (*pred)(void *arg), void *arg, double timeout_s)
{
    double deadline = ts_now() + timeout_s;
    for (;;) {
        if (pred(arg))
            return true;
        if (ts_now() > deadline)
            return false;
        ct_pause(0.002);
    }
}

typedef struct {
    atomic_int *v;
    int want;
} count_arg;

static bool count_reached(void *arg)
{
    count_arg *c = arg;
    return atomic_load(c->v) >= c->want;
}

bool ct_wait_count(atomic_int *v, int want, double timeout_s)
{
    count_arg c = {v, want};
    return ct_wait_for(count_reached, &c, timeout_s);
}

void ct_log_init(ct_log *l)
{
    pthread_mutex_init(&l->mu, NULL);
    l->text[0] = '\0';
}

void ct_log_add(ct_log *l, const char *name)
{
    pthread_mutex_lock(&l->mu);
    size_t len = strlen(l->text);
    snprintf(l->text + len, sizeof l->text - len, "%s%s", len ? " " : "", name);
    pthread_mutex_unlock(&l->mu);
}

const char *ct_log_get(ct_log *l, char *buf, size_t cap)
{
    pthread_mutex_lock(&l->mu);
    snprintf(buf, cap, "%s", l->text);
    pthread_mutex_unlock(&l->mu);
    return buf;
}

double ct_thread_cpu(pthread_t t)
{
    clockid_t cid;
    struct timespec ts;
    cr_assert_eq(pthread_getcpuclockid(t, &cid), 0);
    cr_assert_eq(clock_gettime(cid, &ts), 0);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ct_pipe_open(ct_pipe *p)
{
    int fds[2];
    cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
    p->rd = fds[0];
    p->wr = fds[1];
}

void ct_pipe_close(ct_pipe *p)
{
    if (p->rd >= 0)
        close(p->rd);
    if (p->wr >= 0)
        close(p->wr);
    p->rd = p->wr = -1;
}

void ct_pipe_say(ct_pipe *p, const char *msg)
{
    size_t n = strlen(msg);
    if (n > PIPE_BUF)
        n = PIPE_BUF;
    while (write(p->wr, msg, n) < 0 && errno == EINTR)
        ;
}

int ct_pipe_read_lines(ct_pipe *p, char *buf, size_t cap, int want,
                       double timeout_s)
{
    size_t len = strlen(buf);
    double deadline = ts_now() + timeout_s;
    for (;;) {
        int lines = 0;
        for (size_t i = 0; i < len; i++)
            lines += buf[i] == '\n';
        if (lines >= want || len + 1 >= cap)
            return lines;
        double left = deadline - ts_now();
        if (left <= 0 || !ct_readable(p->rd, left))
            return lines;
        ssize_t n = read(p->rd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return lines;
        len += (size_t)n;
        buf[len] = '\0';
    }
}
