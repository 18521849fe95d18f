/* ftp/client/reply.h - FTP replies as text: the multi-line rule of RFC 959
 * §4.2 and the few reply bodies the client has to read (227, 229, 257, 213
 * checksums).  Pure functions on strings; no I/O, so the unit tests can feed
 * them hostile input directly. */
#ifndef FTPC_REPLY_H
#define FTPC_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#define FTPC_REPLY_MAX 8192  /* bytes of reply text kept; the rest is dropped */
#define FTPC_REPLY_LINES 4096 /* a reply longer than this is a broken server */

typedef struct ftpc_reply {
    int code;                   /* 100..599 once complete, 0 while reading */
    bool multi;                 /* started with "NNN-" */
    unsigned lines;
    char text[FTPC_REPLY_MAX];  /* every line, '\n'-terminated, truncated */
    size_t len;
    char last[1024];            /* the last line, code and separator removed */
} ftpc_reply;

void ftpc_reply_init(ftpc_reply *r);

/* Feeds one line (without CR LF).  Returns 1 when the reply is complete, 0
 * when more lines are needed, -1 when the first line is not "NNN" followed
 * by ' ', '-' or the end, or the reply has too many lines. */
int ftpc_reply_feed(ftpc_reply *r, const char *line);

/* "229 Entering Extended Passive Mode (|||6446|)": writes the port. 0 / -1. */
int ftpc_parse_epsv(const char *text, int *port);
/* "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)": writes the port (the
 * address is ignored, see data.c).  0 / -1. */
int ftpc_parse_pasv(const char *text, int *port);
/* "257 "/a ""b"" c" created": writes the unquoted path.  0 / -1. */
int ftpc_parse_257(const char *text, char *path, size_t cap);
/* Finds in text the first whitespace-separated token made of exactly
 * hexlen hex digits and copies it, lower-cased, into out (hexlen+1 bytes).
 * This reads both "213 SHA-256 0-9 <hex> name" (HASH) and "250 <hex>" or
 * "213 <hex>" (the X* commands of various servers).  0 / -1. */
int ftpc_find_hex(const char *text, size_t hexlen, char *out);

#endif
