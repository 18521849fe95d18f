/* ftp/client/io.c - see io.h. */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

double ftpc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int ftpc_wait_fd(int fd, short events, double timeout_s)
{
    double deadline = ftpc_now() + timeout_s;
    for (;;) {
        double left = deadline - ftpc_now();
        if (left < 0)
            left = 0;
        struct pollfd pf = {.fd = fd, .events = events};
        int r = poll(&pf, 1, (int)(left * 1000) + 1);
        if (r > 0)
            return 1; /* POLLERR/POLLHUP count: the next call reports them */
        if (r == 0) {
            if (ftpc_now() >= deadline)
                return 0;
            continue;
        }
        if (errno != EINTR)
            return -errno;
    }
}

static ssize_t plain_read(ftpc_stream *s, void *buf, size_t n)
{
    ssize_t r = read(s->fd, buf, n);
    return r < 0 ? -errno : r;
}

static ssize_t plain_write(ftpc_stream *s, const void *buf, size_t n)
{
    /* MSG_NOSIGNAL: a peer that left gives EPIPE here, not a SIGPIPE. */
    ssize_t r = send(s->fd, buf, n, MSG_NOSIGNAL);
    return r < 0 ? -errno : r;
}

static void plain_close(ftpc_stream *s)
{
    close(s->fd);
}

const ftpc_stream_ops ftpc_plain_ops = {
    .read = plain_read,
    .write = plain_write,
    .close = plain_close,
};

static short wait_events(const ftpc_stream *s, short events)
{
    return s->ops->wait_events ? s->ops->wait_events(s, events) : events;
}

void ftpc_stream_init(ftpc_stream *s)
{
    s->fd = -1;
    s->ops = &ftpc_plain_ops;
    s->tls = NULL;
}

void ftpc_stream_attach(ftpc_stream *s, int fd)
{
    ftpc_stream_init(s);
    s->fd = fd;
}

bool ftpc_stream_is_open(const ftpc_stream *s)
{
    return s->fd >= 0;
}

void ftpc_stream_close(ftpc_stream *s)
{
    if (s->fd >= 0)
        s->ops->close(s);
    s->fd = -1;
}

ssize_t ftpc_stream_read(ftpc_stream *s, void *buf, size_t n, double timeout_s)
{
    if (s->fd < 0)
        return -ENOTCONN;
    for (;;) {
        ssize_t r = s->ops->read(s, buf, n);
        if (r >= 0)
            return r;
        if (r == -EINTR)
            continue;
        if (r != -EAGAIN && r != -EWOULDBLOCK)
            return r;
        int w = ftpc_wait_fd(s->fd, wait_events(s, POLLIN), timeout_s);
        if (w == 0)
            return -ETIMEDOUT;
        if (w < 0)
            return w;
    }
}

int ftpc_stream_write_all(ftpc_stream *s, const void *buf, size_t n,
                          double timeout_s)
{
    if (s->fd < 0)
        return -ENOTCONN;
    const char *p = buf;
    while (n > 0) {
        ssize_t r = s->ops->write(s, p, n);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
            continue;
        }
        if (r == -EINTR)
            continue;
        if (r != -EAGAIN && r != -EWOULDBLOCK)
            return r == 0 ? -EPIPE : (int)r;
        int w = ftpc_wait_fd(s->fd, wait_events(s, POLLOUT), timeout_s);
        if (w == 0)
            return -ETIMEDOUT;
        if (w < 0)
            return w;
    }
    return 0;
}

int ftpc_tcp_connect(const struct sockaddr *sa, socklen_t len, double timeout_s)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, sa, len) == 0)
        return fd;
    if (errno != EINPROGRESS) {
        int e = -errno;
        close(fd);
        return e;
    }
    int w = ftpc_wait_fd(fd, POLLOUT, timeout_s);
    if (w <= 0) {
        close(fd);
        return w == 0 ? -ETIMEDOUT : w;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
        soerr = errno;
    if (soerr) {
        close(fd);
        return -soerr;
    }
    return fd;
}
