/* ftp/client/ctrl.c - see ctrl.h. */
#include "ctrl.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "status.h"

void ftpc_ctrl_init(ftpc_ctrl *c, double timeout_s, bool trace)
{
    memset(c, 0, sizeof *c);
    ftpc_stream_init(&c->io);
    c->timeout_s = timeout_s;
    c->trace = trace;
    ftpc_reply_init(&c->reply);
}

bool ftpc_ctrl_is_open(const ftpc_ctrl *c)
{
    return ftpc_stream_is_open(&c->io);
}

int ftpc_ctrl_connect(ftpc_ctrl *c, const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        snprintf(c->err, sizeof c->err, "cannot resolve %s: %s", host,
                 gai_strerror(gai));
        return FTPC_ERR_CONNECT;
    }
    int fd = -ENOENT;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = ftpc_tcp_connect(ai->ai_addr, ai->ai_addrlen, c->timeout_s);
        if (fd >= 0)
            break;
    }
    freeaddrinfo(res);
    const char *fmt = strchr(host, ':') ? "connect [%s]:%s: %s" : "connect %s:%s: %s";
    if (fd < 0) {
        snprintf(c->err, sizeof c->err, fmt, host, port, strerror(-fd));
        return FTPC_ERR_CONNECT;
    }
    ftpc_stream_attach(&c->io, fd);
    c->in_len = 0;
    c->local_len = sizeof c->local;
    c->peer_len = sizeof c->peer;
    getsockname(fd, (struct sockaddr *)&c->local, &c->local_len);
    getpeername(fd, (struct sockaddr *)&c->peer, &c->peer_len);
    return 0;
}

static int lost(ftpc_ctrl *c, int e)
{
    if (e == 0)
        snprintf(c->err, sizeof c->err, "the server closed the connection");
    else if (e == -ETIMEDOUT)
        snprintf(c->err, sizeof c->err,
                 "no answer from the server within %.0f s", c->timeout_s);
    else
        snprintf(c->err, sizeof c->err, "connection lost: %s", strerror(-e));
    ftpc_ctrl_close(c);
    return FTPC_ERR_NET;
}

static int vsend(ftpc_ctrl *c, const char *fmt, va_list ap)
{
    char line[2048];
    int n = vsnprintf(line, sizeof line - 2, fmt, ap);
    if (n < 0 || (size_t)n >= sizeof line - 2) {
        snprintf(c->err, sizeof c->err, "command too long");
        return FTPC_ERR_USAGE;
    }
    if (strpbrk(line, "\r\n")) {
        snprintf(c->err, sizeof c->err, "a name may not contain a line break");
        return FTPC_ERR_USAGE;
    }
    if (!ftpc_ctrl_is_open(c)) {
        snprintf(c->err, sizeof c->err, "not connected");
        return FTPC_ERR_NET;
    }
    if (c->trace) {
        if (strncasecmp(line, "PASS ", 5) == 0)
            fprintf(stderr, "--> PASS ****\n");
        else
            fprintf(stderr, "--> %s\n", line);
    }
    memcpy(line + n, "\r\n", 2);
    int r = ftpc_stream_write_all(&c->io, line, (size_t)n + 2, c->timeout_s);
    return r < 0 ? lost(c, r) : 0;
}

int ftpc_ctrl_send(ftpc_ctrl *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsend(c, fmt, ap);
    va_end(ap);
    return r;
}

/* Returns one line (CR LF removed) in line, cap bytes; a longer line is cut
 * and its rest dropped.  0 or FTPC_ERR_NET. */
static int read_line(ftpc_ctrl *c, char *line, size_t cap)
{
    size_t out = 0;
    for (;;) {
        char *nl = memchr(c->in, '\n', c->in_len);
        size_t take = nl ? (size_t)(nl - c->in) : c->in_len;
        size_t copy = take < cap - 1 - out ? take : cap - 1 - out;
        memcpy(line + out, c->in, copy);
        out += copy;
        size_t used = nl ? take + 1 : take;
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        if (nl)
            break;
        ssize_t r = ftpc_stream_read(&c->io, c->in, sizeof c->in, c->timeout_s);
        if (r <= 0)
            return lost(c, (int)r);
        c->in_len = (size_t)r;
    }
    if (out > 0 && line[out - 1] == '\r')
        out--;
    line[out] = '\0';
    return 0;
}

int ftpc_ctrl_read(ftpc_ctrl *c)
{
    ftpc_reply_init(&c->reply);
    char line[1024];
    for (;;) {
        int r = read_line(c, line, sizeof line);
        if (r < 0)
            return r;
        if (c->trace)
            fprintf(stderr, "<-- %s\n", line);
        r = ftpc_reply_feed(&c->reply, line);
        if (r < 0) {
            snprintf(c->err, sizeof c->err, "not an FTP reply: %.80s", line);
            ftpc_ctrl_close(c);
            return FTPC_ERR_NET;
        }
        if (r == 1)
            return c->reply.code;
    }
}

int ftpc_ctrl_cmd(ftpc_ctrl *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsend(c, fmt, ap);
    va_end(ap);
    return r < 0 ? r : ftpc_ctrl_read(c);
}

int ftpc_ctrl_fail(ftpc_ctrl *c, int status, const char *what)
{
    /* The last line carries the reason in every server seen so far. */
    if (what)
        snprintf(c->err, sizeof c->err, "%.400s: %d %.500s", what, c->reply.code,
                 c->reply.last);
    else
        snprintf(c->err, sizeof c->err, "%d %.500s", c->reply.code, c->reply.last);
    return status;
}

void ftpc_ctrl_close(ftpc_ctrl *c)
{
    ftpc_stream_close(&c->io);
    c->in_len = 0;
}
