/* sockserv/sockfile.h - rfile and wfile: buffered reads and all-or-error
 * writes over a connection (or over memory, for datagrams).
 *
 * Both go through an ss_transport, so a live connection can move to TLS in
 * place (the STARTTLS case) by swapping the transport: bytes already in the
 * rfile's buffer stay there.  The plain transport is recv()/send() on a
 * descriptor, retrying EINTR, with MSG_NOSIGNAL so a closed peer is -EPIPE,
 * not a signal.  A send or receive timeout (SO_SNDTIMEO/SO_RCVTIMEO) comes
 * back as -ETIMEDOUT.
 */
#ifndef SOCKSERV_SOCKFILE_H
#define SOCKSERV_SOCKFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SS_DEFAULT_BUFFER_SIZE 8192 /* io.DEFAULT_BUFFER_SIZE */

/* Moves bytes over one connection.  recv returns >0 bytes, 0 at EOF, or a
 * negative code; send returns >0 bytes written (maybe fewer than n) or a
 * negative code.  Neither returns -EINTR. */
typedef struct ss_transport ss_transport;
struct ss_transport {
    ssize_t (*recv)(ss_transport *t, void *buf, size_t n);
    ssize_t (*send)(ss_transport *t, const void *buf, size_t n);
    int fd;
    bool nonblocking; /* fd was O_NONBLOCK at init: "would block" is
                         -EAGAIN; on a blocking fd it can only mean a
                         SO_RCVTIMEO/SO_SNDTIMEO expired: -ETIMEDOUT */
};

/* A plain transport over fd (borrowed).  Reads the descriptor's O_NONBLOCK
 * flag once, here: set it before, not after. */
void ss_transport_init_fd(ss_transport *t, int fd);

/* Where a server counts the bytes its handlers move (stats.h). */
struct ss_stats_counter;

typedef struct ss_rfile {
    ss_transport *t; /* NULL: memory only (a datagram) */
    unsigned char *buf;
    size_t cap, pos, len; /* buffered bytes are buf[pos..len) */
    bool eof, owned;
    /* private: bytes read from t are added here (NULL: not counted);
     * StreamRequestHandler points it at its server's bytes_in */
    struct ss_stats_counter *counter;
} ss_rfile;

/* A reader over transport t (borrowed) with a buffer of bufsize bytes
 * (-1: SS_DEFAULT_BUFFER_SIZE; 0: unbuffered, every read goes to t).
 * The buffer is allocated by the first read that needs it (-ENOMEM then).
 * Returns 0.  Close with ss_rfile_close(). */
int ss_rfile_init(ss_rfile *f, ss_transport *t, long bufsize);
/* A reader over data (borrowed, must outlive f): Python's BytesIO. */
void ss_rfile_init_mem(ss_rfile *f, const void *data, size_t len);
void ss_rfile_close(ss_rfile *f);

/* Up to n bytes: what is buffered, else one transport read (Python's
 * read1).  Returns >0, 0 at EOF, or a negative code. */
ssize_t ss_rfile_read(ss_rfile *f, void *buf, size_t n);
/* Exactly n bytes unless EOF comes first (Python's read(n)): returns the
 * count (< n only at EOF), or a negative code; on error the bytes read so far
 * are lost to the caller, so use it only where an error ends the exchange. */
ssize_t ss_rfile_read_exact(ss_rfile *f, void *buf, size_t n);
/* One line, '\n' included, of at most max bytes (max is mandatory: a peer
 * must not make us buffer without bound).  Returns the length (0 at EOF); a
 * result of max bytes without '\n' at the end means the line was longer and
 * the rest is still to be read.  Never NUL-terminates (lines may hold NUL).
 * An error after some bytes returns those bytes; the error comes next call. */
ssize_t ss_rfile_readline(ss_rfile *f, void *buf, size_t max);
/* Bytes buffered and not yet read. */
size_t ss_rfile_pending(const ss_rfile *f);
/* Moves the reader to transport t, keeping buffered bytes. */
void ss_rfile_set_transport(ss_rfile *f, ss_transport *t);

typedef struct ss_wfile {
    ss_transport *t; /* NULL: memory only (a datagram reply) */
    unsigned char *buf;
    size_t cap, len;
    size_t limit; /* memory mode: most bytes it will hold */
    /* private: bytes sent on t are added here (NULL: not counted) */
    struct ss_stats_counter *counter;
} ss_wfile;

/* A writer over transport t (borrowed).  bufsize 0 (Python's default
 * wbufsize): every write is sent before it returns; > 0: writes are
 * buffered up to bufsize and sent on flush or when full.  0 or -ENOMEM. */
int ss_wfile_init(ss_wfile *f, ss_transport *t, long bufsize);
/* A writer into memory of at most limit bytes (Python's BytesIO). */
int ss_wfile_init_mem(ss_wfile *f, size_t limit);
void ss_wfile_close(ss_wfile *f);

/* Writes all n bytes or fails (Python's _SocketWriter / sendall): loops over
 * short sends and EINTR.  Returns 0 or a negative code (-EPIPE, -ETIMEDOUT,
 * -EMSGSIZE past a memory writer's limit). */
int ss_wfile_write(ss_wfile *f, const void *buf, size_t n);
/* printf into the writer (at most 64 KiB per call). */
int ss_wfile_printf(ss_wfile *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sends what is buffered.  0 or a negative code; on error the unsent bytes
 * are dropped (the connection is broken anyway).  No-op in memory mode. */
int ss_wfile_flush(ss_wfile *f);
/* The bytes a memory writer holds. */
const void *ss_wfile_getvalue(const ss_wfile *f, size_t *len);
void ss_wfile_set_transport(ss_wfile *f, ss_transport *t);

#ifdef __cplusplus
}
#endif
#endif
