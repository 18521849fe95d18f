/* sockfile.c - rfile (buffered reads, bounded readline) and wfile
 * (all-or-error writes) over a transport or over memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sockserv/sockfile.h>

#include "internal.h"

/* --- the plain transport ------------------------------------------------ */

/* The code for a failed recv/send, errno set. */
static ssize_t would_block(const ss_transport *t)
{
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        return -errno;
    /* On a blocking socket EAGAIN only means SO_RCVTIMEO/SO_SNDTIMEO ran
     * out. */
    return t->nonblocking ? -EAGAIN : -ETIMEDOUT;
}

static ssize_t fd_recv(ss_transport *t, void *buf, size_t n)
{
    for (;;) {
        ssize_t r = recv(t->fd, buf, n, 0);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        return would_block(t);
    }
}

static ssize_t fd_send(ss_transport *t, const void *buf, size_t n)
{
    for (;;) {
        ssize_t r = send(t->fd, buf, n, MSG_NOSIGNAL);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        return would_block(t);
    }
}

void ss_transport_init_fd(ss_transport *t, int fd)
{
    t->recv = fd_recv;
    t->send = fd_send;
    t->fd = fd;
    int fl = fcntl(fd, F_GETFL);
    t->nonblocking = fl >= 0 && (fl & O_NONBLOCK);
}

/* --- rfile ----------------------------------------------------------------- */

int ss_rfile_init(ss_rfile *f, ss_transport *t, long bufsize)
{
    memset(f, 0, sizeof *f);
    f->t = t;
    /* The buffer comes with the first read that needs it: a server holding
     * thousands of idle connections, or a handler that only reads in big
     * blocks, never pays for it. */
    f->cap = bufsize < 0 ? SS_DEFAULT_BUFFER_SIZE : (size_t)bufsize;
    return 0;
}

void ss_rfile_init_mem(ss_rfile *f, const void *data, size_t len)
{
    memset(f, 0, sizeof *f);
    f->buf = (unsigned char *)data; /* read-only use */
    f->cap = f->len = len;
    f->eof = true;
}

void ss_rfile_close(ss_rfile *f)
{
    if (f->owned)
        free(f->buf);
    memset(f, 0, sizeof *f);
}

size_t ss_rfile_pending(const ss_rfile *f)
{
    return f->len - f->pos;
}

void ss_rfile_set_transport(ss_rfile *f, ss_transport *t)
{
    f->t = t;
}

/* Every read from the transport, counted for the server's figures. */
static ssize_t t_recv(ss_rfile *f, void *buf, size_t n)
{
    ssize_t r = f->t->recv(f->t, buf, n);
    if (r > 0)
        ss__counter_add(f->counter, (uint64_t)r);
    return r;
}

/* Refills an empty buffer with one transport read: >0, 0 (EOF), <0. */
static ssize_t fill(ss_rfile *f)
{
    if (f->eof || !f->t)
        return 0;
    if (!f->buf) {
        f->buf = malloc(f->cap);
        if (!f->buf)
            return -ENOMEM;
        f->owned = true;
    }
    f->pos = f->len = 0;
    ssize_t n = t_recv(f, f->buf, f->cap);
    if (n == 0)
        f->eof = true;
    if (n > 0)
        f->len = (size_t)n;
    return n;
}

ssize_t ss_rfile_read(ss_rfile *f, void *buf, size_t n)
{
    if (n == 0)
        return 0;
    size_t have = f->len - f->pos;
    if (have == 0) {
        if (f->cap == 0 || n >= f->cap) { /* unbuffered, or a big read */
            if (f->eof || !f->t)
                return 0;
            ssize_t r = t_recv(f, buf, n);
            if (r == 0)
                f->eof = true;
            return r;
        }
        ssize_t r = fill(f);
        if (r <= 0)
            return r;
        have = f->len - f->pos;
    }
    size_t k = have < n ? have : n;
    memcpy(buf, f->buf + f->pos, k);
    f->pos += k;
    return (ssize_t)k;
}

ssize_t ss_rfile_read_exact(ss_rfile *f, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = ss_rfile_read(f, (char *)buf + got, n - got);
        if (r < 0)
            return r;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

ssize_t ss_rfile_readline(ss_rfile *f, void *out, size_t max)
{
    unsigned char *dst = out;
    size_t got = 0;
    while (got < max) {
        if (f->pos == f->len) {
            if (f->cap == 0) { /* unbuffered: a byte at a time, like Python */
                if (f->eof || !f->t)
                    break;
                ssize_t r = t_recv(f, dst + got, 1);
                if (r < 0)
                    return got ? (ssize_t)got : r;
                if (r == 0) {
                    f->eof = true;
                    break;
                }
                if (dst[got++] == '\n')
                    break;
                continue;
            }
            ssize_t r = fill(f);
            if (r < 0)
                return got ? (ssize_t)got : r;
            if (r == 0)
                break;
        }
        size_t have = f->len - f->pos, want = max - got;
        size_t k = have < want ? have : want;
        unsigned char *nl = memchr(f->buf + f->pos, '\n', k);
        if (nl)
            k = (size_t)(nl - (f->buf + f->pos)) + 1;
        memcpy(dst + got, f->buf + f->pos, k);
        f->pos += k;
        got += k;
        if (nl)
            break;
    }
    return (ssize_t)got;
}

/* --- wfile ----------------------------------------------------------------- */

int ss_wfile_init(ss_wfile *f, ss_transport *t, long bufsize)
{
    memset(f, 0, sizeof *f);
    f->t = t;
    if (bufsize > 0) {
        f->buf = malloc((size_t)bufsize);
        if (!f->buf)
            return -ENOMEM;
        f->cap = (size_t)bufsize;
    }
    return 0;
}

int ss_wfile_init_mem(ss_wfile *f, size_t limit)
{
    memset(f, 0, sizeof *f);
    f->limit = limit;
    return 0;
}

void ss_wfile_close(ss_wfile *f)
{
    free(f->buf);
    memset(f, 0, sizeof *f);
}

void ss_wfile_set_transport(ss_wfile *f, ss_transport *t)
{
    f->t = t;
}

static int send_all(ss_wfile *f, const unsigned char *p, size_t n)
{
    ss_transport *t = f->t;
    while (n > 0) {
        ssize_t r = t->send(t, p, n);
        if (r < 0)
            return (int)r;
        ss__counter_add(f->counter, (uint64_t)r);
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int ss_wfile_flush(ss_wfile *f)
{
    if (!f->t || f->len == 0)
        return 0;
    int rc = send_all(f, f->buf, f->len);
    f->len = 0; /* what failed to go is lost with the connection */
    return rc;
}

int ss_wfile_write(ss_wfile *f, const void *buf, size_t n)
{
    if (!f->t) { /* memory */
        if (n > f->limit - f->len)
            return -EMSGSIZE;
        if (f->len + n > f->cap) {
            size_t cap = f->cap ? f->cap : 256;
            while (cap < f->len + n)
                cap *= 2;
            if (cap > f->limit)
                cap = f->limit;
            unsigned char *nb = realloc(f->buf, cap);
            if (!nb)
                return -ENOMEM;
            f->buf = nb;
            f->cap = cap;
        }
        memcpy(f->buf + f->len, buf, n);
        f->len += n;
        return 0;
    }
    if (f->cap == 0)
        return send_all(f, buf, n);
    if (n > f->cap - f->len) {
        int rc = ss_wfile_flush(f);
        if (rc < 0)
            return rc;
        if (n >= f->cap)
            return send_all(f, buf, n);
    }
    memcpy(f->buf + f->len, buf, n);
    f->len += n;
    return 0;
}

int ss_wfile_printf(ss_wfile *f, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n < sizeof small)
        return ss_wfile_write(f, small, (size_t)n);
    if (n > 65536)
        return -EMSGSIZE;
    char *big = malloc((size_t)n + 1);
    if (!big)
        return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = ss_wfile_write(f, big, (size_t)n);
    free(big);
    return rc;
}

const void *ss_wfile_getvalue(const ss_wfile *f, size_t *len)
{
    if (len)
        *len = f->len;
    return f->buf ? (const void *)f->buf : (const void *)"";
}
