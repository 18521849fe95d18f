/* examples/ssh/conn.h - frames over one libsockserv connection (server side).
 *
 * Reads go through the handler's rfile (ss_rfile_read_exact: exactly the
 * bytes a header announces), writes through its wfile (ss_wfile_write: all
 * or error), so this file never sees a short read or a short write.  Both
 * buffers are fixed: SSH_FRAME_MAX bytes of payload in, one frame out.
 */
#ifndef SSH_DEMO_CONN_H
#define SSH_DEMO_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sockserv/handler.h>

#include "frame.h"

typedef struct ssh_conn {
    ss_stream_handler *sh; /* borrowed: the session's handler */
    uint8_t *in;           /* the last frame's payload: SSH_FRAME_MAX bytes
                            and one more, to NUL-terminate text */
    uint8_t *out;          /* SSH_FRAME_HEADER + SSH_FRAME_MAX bytes */
} ssh_conn;

/* Allocates the buffers.  0 or -ENOMEM.  ssh_conn_close() frees them. */
int ssh_conn_init(ssh_conn *c, ss_stream_handler *sh);
void ssh_conn_close(ssh_conn *c);

/* Reads one frame: the header into *h, the payload into c->in.  Returns 1,
 * 0 when the peer closed between frames, or a negative code with err set:
 * SS_EPROTO for a frame the codec refuses (too long, unknown type, wrong
 * size; its payload is not read), SS_ECLOSED when the peer closed inside a
 * frame, or the transport's error.  Blocks until the whole frame is in. */
int ssh_conn_recv(ssh_conn *c, ssh_frame_header *h, ss_error *err);

/* True when bytes of the next frame are already buffered (in the rfile, or
 * decrypted inside TLS), so poll() on the socket would not report them. */
bool ssh_conn_pending(const ssh_conn *c);

/* The descriptor to poll for incoming frames. */
int ssh_conn_fd(const ssh_conn *c);

/* Sends one frame with payload p (n <= SSH_FRAME_MAX bytes; p may be
 * ssh_conn_payload(c), filled in place) in one write.  0 or a negative code
 * with err set. */
int ssh_conn_send(ssh_conn *c, uint8_t type, const void *p, size_t n,
                  ss_error *err);
/* Where to build an outgoing payload without a copy. */
static inline uint8_t *ssh_conn_payload(ssh_conn *c)
{
    return c->out + SSH_FRAME_HEADER;
}

/* Sends a printf-formatted text frame (STDERR, STDOUT or ERROR). */
int ssh_conn_sendf(ssh_conn *c, uint8_t type, ss_error *err, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

#endif
