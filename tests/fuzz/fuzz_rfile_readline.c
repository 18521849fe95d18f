/* tests/fuzz/fuzz_rfile_readline.c - ss_rfile_readline (libsockserv's
 * sockfile.c) over a transport that hands the input over in pieces of
 * varying size, the way TCP may.  The first bytes choose the buffer size,
 * the line limit and the piece sizes; the rest is the stream.  Every byte
 * must come out once, in order, in lines that keep the documented shape. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <sockserv/sockfile.h>

typedef struct piece_transport {
    ss_transport base; /* first: the transport is the piece source */
    const uint8_t *data;
    size_t len, off;
    uint32_t rng;
    int end_error; /* 0: EOF at the end; else this error, once */
} piece_transport;

static ssize_t piece_recv(ss_transport *t, void *buf, size_t n)
{
    piece_transport *p = (piece_transport *)t;
    if (p->off == p->len) {
        int e = p->end_error;
        p->end_error = 0;
        return e ? -e : 0;
    }
    p->rng = p->rng * 1103515245u + 12345u;
    size_t piece = 1 + (p->rng >> 16) % 37;
    if (piece > n)
        piece = n;
    if (piece > p->len - p->off)
        piece = p->len - p->off;
    memcpy(buf, p->data + p->off, piece);
    p->off += piece;
    return (ssize_t)piece;
}

static ssize_t piece_send(ss_transport *t, const void *buf, size_t n)
{
    (void)t, (void)buf;
    return (ssize_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    static const long bufsizes[] = {0, 1, 2, 7, 16, 64, -1, 4096};
    long bufsize = bufsizes[data[0] & 7];
    size_t max = 1 + data[1] % 80;
    piece_transport p = {
        .base = {.recv = piece_recv, .send = piece_send, .fd = -1},
        .data = data + 3, .len = size - 3, .rng = data[2],
        .end_error = (data[0] & 8) ? ECONNRESET : 0,
    };
    ss_rfile f;
    ss_rfile_init(&f, &p.base, bufsize);
    uint8_t *line = malloc(max);
    size_t seen = 0;
    for (;;) {
        ssize_t n = ss_rfile_readline(&f, line, max);
        if (n < 0) {
            if (n == -ECONNRESET && p.off == p.len && seen == p.len)
                break;
            abort(); /* an error the transport never gave */
        }
        if (n == 0)
            break;
        if ((size_t)n > max || memchr(line, '\n', (size_t)n - 1) ||
            ((size_t)n < max && line[n - 1] != '\n' && seen + (size_t)n != p.len))
            abort(); /* not a line as sockfile.h defines one */
        if (memcmp(line, p.data + seen, (size_t)n) != 0)
            abort(); /* bytes lost, repeated or reordered */
        seen += (size_t)n;
    }
    if (seen != p.len)
        abort();
    free(line);
    ss_rfile_close(&f);
    return 0;
}
