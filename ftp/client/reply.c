/* ftp/client/reply.c - see reply.h. */
#include "reply.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ftpc_reply_init(ftpc_reply *r)
{
    r->code = 0;
    r->multi = false;
    r->lines = 0;
    r->len = 0;
    r->text[0] = '\0';
    r->last[0] = '\0';
}

static int code_of(const char *line)
{
    if (!isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
        !isdigit((unsigned char)line[2]))
        return -1;
    int c = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    return c >= 100 && c < 600 ? c : -1;
}

static void keep(ftpc_reply *r, const char *line)
{
    size_t n = strlen(line);
    if (r->len + n + 2 <= sizeof r->text) {
        memcpy(r->text + r->len, line, n);
        r->len += n;
        r->text[r->len++] = '\n';
        r->text[r->len] = '\0';
    }
}

int ftpc_reply_feed(ftpc_reply *r, const char *line)
{
    if (++r->lines > FTPC_REPLY_LINES)
        return -1;
    keep(r, line);
    int c = code_of(line);
    if (r->lines == 1) {
        if (c < 0 || (line[3] != ' ' && line[3] != '-' && line[3] != '\0'))
            return -1;
        r->code = c;
        r->multi = line[3] == '-';
    } else if (!(c == r->code && (line[3] == ' ' || line[3] == '\0'))) {
        /* A middle line of a multi-line reply: any text at all, even one
         * that starts with another code ("211-" lines inside FEAT). */
        snprintf(r->last, sizeof r->last, "%s", line);
        return 0;
    }
    snprintf(r->last, sizeof r->last, "%s", line[3] ? line + 4 : "");
    if (r->multi && r->lines == 1)
        return 0;
    return 1;
}

int ftpc_parse_epsv(const char *text, int *port)
{
    const char *p = strchr(text, '(');
    if (!p)
        return -1;
    char d = p[1];
    /* The delimiter is any printable ASCII; RFC 2428 suggests '|'. */
    if (d < 33 || d > 126 || p[2] != d || p[3] != d)
        return -1;
    char *end;
    long v = strtol(p + 4, &end, 10);
    if (end == p + 4 || *end != d || v < 1 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

int ftpc_parse_pasv(const char *text, int *port)
{
    /* Numbers may or may not be in parentheses; take the first run of six. */
    const char *p = text + 3;
    while (*p) {
        while (*p && !isdigit((unsigned char)*p))
            p++;
        long v[6];
        const char *q = p;
        int n = 0;
        for (; n < 6; n++) {
            char *end;
            if (!isdigit((unsigned char)*q))
                break;
            v[n] = strtol(q, &end, 10);
            if (v[n] < 0 || v[n] > 255)
                break;
            q = end;
            if (n < 5) {
                if (*q != ',')
                    break;
                q++;
            }
        }
        if (n == 6) {
            int pt = (int)(v[4] * 256 + v[5]);
            if (pt < 1)
                return -1;
            *port = pt;
            return 0;
        }
        while (*p && isdigit((unsigned char)*p))
            p++;
    }
    return -1;
}

int ftpc_parse_257(const char *text, char *path, size_t cap)
{
    const char *p = strchr(text, '"');
    if (!p || cap == 0)
        return -1;
    size_t o = 0;
    for (p++; *p; p++) {
        if (*p == '"') {
            if (p[1] != '"')
                break;
            p++; /* a doubled quote is one quote in the name */
        }
        if (o + 1 >= cap)
            return -1;
        path[o++] = *p;
    }
    if (*p != '"')
        return -1;
    path[o] = '\0';
    return 0;
}

int ftpc_find_hex(const char *text, size_t hexlen, char *out)
{
    const char *p = text;
    while (*p) {
        while (*p && isspace((unsigned char)*p))
            p++;
        const char *start = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        size_t n = (size_t)(p - start);
        if (n == hexlen) {
            size_t i = 0;
            while (i < n && isxdigit((unsigned char)start[i]))
                i++;
            if (i == n) {
                for (i = 0; i < n; i++)
                    out[i] = (char)tolower((unsigned char)start[i]);
                out[n] = '\0';
                return 0;
            }
        }
    }
    return -1;
}
