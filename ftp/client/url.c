/* ftp/client/url.c - see url.h. */
#include "url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Copies n bytes of s into out, decoding %XX; fails on a bad escape, a NUL
 * byte (it would cut the name short) or when it does not fit. */
static int decode(char *out, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hexval(s[i + 1]);
            int lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

int ftpc_url_parse(ftpc_url *u, const char *text, char *err, size_t cap)
{
    memset(u, 0, sizeof *u);
    snprintf(u->port, sizeof u->port, "21");
    const char *p = text;
    const char *sep = strstr(p, "://");
    if (sep) {
        size_t n = (size_t)(sep - p);
        if (n == 4 && strncasecmp(p, "ftps", 4) == 0) {
            u->implicit_tls = true;
            snprintf(u->port, sizeof u->port, "990");
        } else if (n != 3 || strncasecmp(p, "ftp", 3) != 0) {
            snprintf(err, cap, "%s: only ftp:// and ftps:// URLs are supported",
                     text);
            return -1;
        }
        p = sep + 3;
    }
    /* The authority ends at the first '/'; userinfo is up to its last '@'. */
    const char *end = p + strcspn(p, "/");
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ulen = (size_t)((colon ? colon : at) - p);
        if (decode(u->user, sizeof u->user, p, ulen) < 0 || ulen == 0) {
            snprintf(err, cap, "%s: bad user name", text);
            return -1;
        }
        u->has_user = true;
        if (colon) {
            if (decode(u->pass, sizeof u->pass, colon + 1,
                       (size_t)(at - colon - 1)) < 0) {
                snprintf(err, cap, "%s: bad password", text);
                return -1;
            }
            u->has_pass = true;
        }
        p = at + 1;
    }
    const char *host_end;
    const char *port = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb) {
            snprintf(err, cap, "%s: missing ']' after the IPv6 address", text);
            return -1;
        }
        if ((size_t)(rb - p - 1) >= sizeof u->host || rb == p + 1) {
            snprintf(err, cap, "%s: bad IPv6 address", text);
            return -1;
        }
        memcpy(u->host, p + 1, (size_t)(rb - p - 1));
        host_end = rb + 1;
        if (host_end < end) {
            if (*host_end != ':') {
                snprintf(err, cap, "%s: junk after the IPv6 address", text);
                return -1;
            }
            port = host_end + 1;
        }
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        host_end = colon ? colon : end;
        if (host_end == p || (size_t)(host_end - p) >= sizeof u->host) {
            snprintf(err, cap, "%s: missing or too long host name", text);
            return -1;
        }
        memcpy(u->host, p, (size_t)(host_end - p));
        if (colon)
            port = colon + 1;
    }
    if (port) {
        size_t n = (size_t)(end - port);
        char *num_end;
        char buf[8] = "";
        if (n == 0 || n > 5 || strspn(port, "0123456789") < n) {
            snprintf(err, cap, "%s: bad port", text);
            return -1;
        }
        memcpy(buf, port, n);
        long v = strtol(buf, &num_end, 10);
        if (v < 1 || v > 65535) {
            snprintf(err, cap, "%s: port out of range", text);
            return -1;
        }
        snprintf(u->port, sizeof u->port, "%ld", v);
    }
    if (*end == '/' && end[1]) {
        if (decode(u->path, sizeof u->path, end + 1, strlen(end + 1)) < 0) {
            snprintf(err, cap, "%s: bad path", text);
            return -1;
        }
    }
    return 0;
}
