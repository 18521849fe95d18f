/* ftp/server/protocol/reply.c - see reply.h. */
#include "protocol/reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Formats into dst and turns CR, LF and NUL-free control breaks into '?'.
 * Returns the length written (truncated to cap-1). */
static size_t format_clean(char *dst, size_t cap, const char *fmt, va_list ap)
{
    int n = vsnprintf(dst, cap, fmt, ap);
    if (n < 0) {
        dst[0] = '\0';
        return 0;
    }
    size_t len = (size_t)n < cap ? (size_t)n : cap - 1;
    for (size_t i = 0; i < len; i++)
        if (dst[i] == '\r' || dst[i] == '\n')
            dst[i] = '?';
    return len;
}

int ftpd_reply_send(ss_wfile *w, int code, const char *fmt, ...)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "%03d ", code);
    va_list ap;
    va_start(ap, fmt);
    size_t len = (size_t)n + format_clean(line + n, sizeof line - (size_t)n - 2,
                                          fmt, ap);
    va_end(ap);
    line[len++] = '\r';
    line[len++] = '\n';
    return ss_wfile_write(w, line, len);
}

static void flush(ftpd_reply *r)
{
    if (r->len && !r->error) {
        int rc = ss_wfile_write(r->w, r->buf, r->len);
        if (rc < 0)
            r->error = rc;
    }
    r->len = 0;
}

void ftpd_reply_begin(ftpd_reply *r, ss_wfile *w, int code)
{
    r->w = w;
    r->code = code;
    r->lines = 0;
    r->error = 0;
    r->len = 0;
}

static void add(ftpd_reply *r, bool last, const char *fmt, va_list ap)
{
    char text[1024];
    size_t tl = format_clean(text, sizeof text, fmt, ap);
    char head[8];
    int hl;
    if (last)
        hl = snprintf(head, sizeof head, "%03d ", r->code);
    else if (r->lines == 0)
        hl = snprintf(head, sizeof head, "%03d-", r->code);
    else
        hl = snprintf(head, sizeof head, " ");
    if (r->len + (size_t)hl + tl + 2 > sizeof r->buf)
        flush(r);
    memcpy(r->buf + r->len, head, (size_t)hl);
    r->len += (size_t)hl;
    memcpy(r->buf + r->len, text, tl);
    r->len += tl;
    r->buf[r->len++] = '\r';
    r->buf[r->len++] = '\n';
    r->lines++;
}

void ftpd_reply_line(ftpd_reply *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(r, false, fmt, ap);
    va_end(ap);
}

int ftpd_reply_end(ftpd_reply *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(r, true, fmt, ap);
    va_end(ap);
    flush(r);
    return r->error;
}

char *ftpd_reply_quote(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    for (; *src && o + 2 < cap; src++) {
        if (*src == '"')
            dst[o++] = '"';
        dst[o++] = *src;
    }
    dst[o] = '\0';
    return dst;
}
