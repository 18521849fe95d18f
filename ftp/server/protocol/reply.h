/* ftp/server/protocol/reply.h - FTP replies as RFC 959 §4.2 shapes them.
 *
 * A single-line reply is "CODE text\r\n".  A multi-line reply is
 * "CODE-first\r\n", continuation lines that start with a space (so a line of
 * a listing that begins with digits can never pass for the end), and
 * "CODE last\r\n".  CR and LF inside the text (a file name, say) never reach
 * the wire as line breaks: they are written as '?' so a client cannot inject
 * reply lines through a name it created.
 *
 * Not thread-safe per writer; one session owns its writer.
 */
#ifndef FTPD_REPLY_H
#define FTPD_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include <sockserv/sockfile.h>

#define FTPD_REPLY_BUF 4096

/* A reply being built.  Lines are flushed to w as the buffer fills, so a
 * long reply (FEAT, STAT of a directory) needs no more memory than this. */
typedef struct ftpd_reply {
    ss_wfile *w;  /* borrowed */
    int code;
    unsigned lines;
    int error;    /* first write error, 0 if none */
    size_t len;
    char buf[FTPD_REPLY_BUF];
} ftpd_reply;

/* Sends the single-line reply "code text".  0 or a negative code from the
 * writer (the peer is gone). */
int ftpd_reply_send(ss_wfile *w, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Starts a multi-line reply with code. */
void ftpd_reply_begin(ftpd_reply *r, ss_wfile *w, int code);
/* Adds one line: the first becomes "code-text", later ones " text". */
void ftpd_reply_line(ftpd_reply *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Ends the reply with "code text" and sends what is left.  0 or the first
 * write error. */
int ftpd_reply_end(ftpd_reply *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Copies src into dst (cap bytes, NUL-terminated) doubling '"' as RFC 959
 * asks for names in a 257 reply.  Returns dst. */
char *ftpd_reply_quote(char *dst, size_t cap, const char *src);

#endif
