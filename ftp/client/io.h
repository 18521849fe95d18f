/* ftp/client/io.h - byte streams with deadlines: the one place where the
 * client calls read/write/connect/poll on sockets.
 *
 * A stream is a non-blocking socket plus an ops table: plain TCP here, TLS
 * in tls.c (FTPS: AUTH TLS and PROT P), behind the same calls, so the
 * control and data code need not change.  Reads always try the stream
 * before waiting on the socket, so bytes TLS has decrypted and the socket
 * no longer shows are never slept on. */
#ifndef FTPC_IO_H
#define FTPC_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct ftpc_stream;

typedef struct ftpc_stream_ops {
    /* Like read(2)/write(2) on a non-blocking socket: a count, 0 at EOF
     * (read), or -errno (-EAGAIN when it would block). */
    ssize_t (*read)(struct ftpc_stream *s, void *buf, size_t n);
    ssize_t (*write)(struct ftpc_stream *s, const void *buf, size_t n);
    /* What to poll for after read or write said -EAGAIN: `events` (POLLIN
     * after a read, POLLOUT after a write), unless the stream needs the
     * other direction first (a TLS read that must write).  NULL: events. */
    short (*wait_events)(const struct ftpc_stream *s, short events);
    void (*close)(struct ftpc_stream *s);
} ftpc_stream_ops;

struct ss_tls_conn;

typedef struct ftpc_stream {
    int fd;                     /* -1 when closed */
    const ftpc_stream_ops *ops;
    struct ss_tls_conn *tls;    /* the TLS ops' connection (tls.c): borrowed
                                   storage of the stream's owner */
} ftpc_stream;

extern const ftpc_stream_ops ftpc_plain_ops;

/* Makes s an empty (closed) stream. */
void ftpc_stream_init(ftpc_stream *s);
/* Wraps a connected non-blocking socket fd (ownership moves to s). */
void ftpc_stream_attach(ftpc_stream *s, int fd);
bool ftpc_stream_is_open(const ftpc_stream *s);
void ftpc_stream_close(ftpc_stream *s);

/* Reads at most n bytes, waiting up to timeout_s for some.  Returns the
 * count, 0 at EOF, -ETIMEDOUT, or -errno. */
ssize_t ftpc_stream_read(ftpc_stream *s, void *buf, size_t n, double timeout_s);
/* Writes all n bytes; each wait for room is bounded by timeout_s.
 * Returns 0, -ETIMEDOUT or -errno (-EPIPE/-ECONNRESET when the peer left). */
int ftpc_stream_write_all(ftpc_stream *s, const void *buf, size_t n,
                          double timeout_s);

/* Connects a new non-blocking TCP socket to sa within timeout_s.  Returns the
 * fd or -errno. */
int ftpc_tcp_connect(const struct sockaddr *sa, socklen_t len, double timeout_s);

/* Waits up to timeout_s for fd to become readable (POLLIN) or writable
 * (POLLOUT).  Returns 1 when ready, 0 on timeout, -errno. */
int ftpc_wait_fd(int fd, short events, double timeout_s);

/* Seconds on the monotonic clock. */
double ftpc_now(void);

#endif
