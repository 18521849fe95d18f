/* examples/ssh/frame.h - the ssh-demo wire format, shared by client and server.
 *
 * Every message in both directions is one frame:
 *
 *     +--------+--------+--------+--------+--------+---------------------+
 *     |  type  |     length (big-endian, unsigned 32)  |  payload ...        |
 *     +--------+--------+--------+--------+--------+---------------------+
 *       1 byte                  4 bytes                 `length` bytes
 *
 * The length says exactly how many payload bytes follow, so a reader never
 * guesses where a message ends (no sleeps, no acks, no reliance on how many
 * bytes one recv() happens to return).  A length above SSH_FRAME_MAX or an
 * unknown type is a protocol error: the receiver reports it and closes the
 * session.  doc/ssh-demo.md walks through the design.
 */
#ifndef SSH_DEMO_FRAME_H
#define SSH_DEMO_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes in a frame header. */
#define SSH_FRAME_HEADER 5
/* The largest payload a frame may announce: 64 KiB.  Big enough that 100 MB
 * of output costs only 0.008% in headers, small enough that every buffer on
 * both sides is a fixed size and a peer cannot make us allocate more. */
#define SSH_FRAME_MAX 65536u
/* The protocol version carried in HELLO. */
#define SSH_PROTO_VERSION 1

/* Frame types: printable letters, so a hexdump or strace of a session reads
 * like a transcript. */
enum ssh_frame_type {
    /* client -> server */
    SSH_HELLO = 'H',     /* version byte, then the token (maybe empty) */
    SSH_RUN = 'C',       /* the command line (no NUL bytes) */
    SSH_STDIN = 'I',     /* bytes for the command's stdin */
    SSH_STDIN_EOF = 'D', /* the command's stdin is closed; empty payload */
    SSH_SIGNAL = 'S',    /* a signal name for the command: "INT", "TERM", ... */
    /* server -> client */
    SSH_READY = 'K',  /* HELLO accepted; empty payload */
    SSH_STDOUT = 'O', /* bytes the command wrote to stdout */
    SSH_STDERR = 'E', /* bytes the command wrote to stderr */
    SSH_EXIT = 'X',   /* the command ended: 4-byte big-endian status 0..255 */
    SSH_ERROR = '!',  /* a fatal error message; the server then closes */
};

/* A decoded header. */
typedef struct ssh_frame_header {
    uint8_t type;
    uint32_t length;
} ssh_frame_header;

/* Writes the header of a frame of type and length into out.  Returns 0, or
 * -EINVAL for an unknown type and -EMSGSIZE for length > SSH_FRAME_MAX (a
 * sender never produces a frame its peer must refuse).  Thread-safe. */
int ssh_frame_encode_header(uint8_t out[SSH_FRAME_HEADER], uint8_t type,
                            size_t length);

/* Decodes and checks a received header.  Returns 0, -EPROTO for an unknown
 * type, -EMSGSIZE for a length above SSH_FRAME_MAX, -EINVAL for a payload
 * the type forbids (STDIN_EOF and READY are empty, EXIT is 4 bytes).  *h is
 * filled in every case, so the caller can say what it got.  Thread-safe. */
int ssh_frame_decode_header(const uint8_t in[SSH_FRAME_HEADER],
                            ssh_frame_header *h);

/* True for the types defined above. */
bool ssh_frame_type_known(uint8_t type);

/* A name for messages: "RUN", "STDOUT", ...; "?" for an unknown type. */
const char *ssh_frame_type_name(uint8_t type);

/* EXIT payload: the status 0..255 as 4 big-endian bytes. */
void ssh_frame_encode_status(uint8_t out[4], int status);
/* Returns the status, or -EINVAL when the payload is not a status 0..255. */
int ssh_frame_decode_status(const uint8_t *payload, size_t len);

/* SIGNAL payloads carry names, not numbers, because signal numbers differ
 * between systems.  Only the signals a remote user may send are known:
 * HUP INT QUIT KILL TERM.  ssh_frame_signal_number returns the local number
 * or -EINVAL; ssh_frame_signal_name returns the name or NULL. */
int ssh_frame_signal_number(const uint8_t *payload, size_t len);
const char *ssh_frame_signal_name(int signo);

#endif
