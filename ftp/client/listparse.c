/* ftp/client/listparse.c - see listparse.h. */
#include "listparse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

bool ftpc_name_is_safe(const char *name)
{
    if (!name[0] || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p == '/' || *p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* 1 filled, 0 skip ("." / ".."), -1 unsafe or too long. */
static int set_name(ftpc_entry *e, const char *name, size_t len)
{
    if (len >= sizeof e->name)
        return -1;
    memcpy(e->name, name, len);
    e->name[len] = '\0';
    if (strcmp(e->name, ".") == 0 || strcmp(e->name, "..") == 0)
        return 0;
    return ftpc_name_is_safe(e->name) ? 1 : -1;
}

static int64_t utc(int year, int mon, int day, int hour, int min, int sec)
{
    if (year < 1900 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour < 0 ||
        hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60)
        return -1;
    struct tm tm = {.tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
                    .tm_hour = hour, .tm_min = min, .tm_sec = sec};
    return (int64_t)timegm(&tm);
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

int64_t ftpc_parse_time14(const char *s)
{
    if (!digits(s, 14) || (s[14] && s[14] != '.' && s[14] != ';' &&
                           !isspace((unsigned char)s[14])))
        return -1;
    return utc(num(s, 4), num(s + 4, 2), num(s + 6, 2), num(s + 8, 2),
               num(s + 10, 2), num(s + 12, 2));
}

void ftpc_format_time14(int64_t t, char out[15])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    snprintf(out, 15, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int ftpc_parse_mlsd(const char *line, ftpc_entry *e)
{
    e->type = FTPC_ENT_OTHER;
    e->size = e->mtime = -1;
    e->mtime_prec = 1;
    const char *sp = strchr(line, ' ');
    if (!sp || !memchr(line, '=', (size_t)(sp - line)))
        return -1;
    bool typed = false;
    for (const char *f = line; f < sp;) {
        const char *semi = memchr(f, ';', (size_t)(sp - f));
        const char *end = semi ? semi : sp;
        const char *eq = memchr(f, '=', (size_t)(end - f));
        if (eq) {
            size_t kl = (size_t)(eq - f), vl = (size_t)(end - eq - 1);
            const char *v = eq + 1;
            if (kl == 4 && strncasecmp(f, "type", 4) == 0) {
                typed = true;
                if (vl == 4 && strncasecmp(v, "file", 4) == 0)
                    e->type = FTPC_ENT_FILE;
                else if (vl == 3 && strncasecmp(v, "dir", 3) == 0)
                    e->type = FTPC_ENT_DIR;
                else if ((vl == 4 && strncasecmp(v, "cdir", 4) == 0) ||
                         (vl == 4 && strncasecmp(v, "pdir", 4) == 0))
                    return 0;
                else if (vl >= 7 && strncasecmp(v + vl - 7, "symlink", 7) == 0)
                    e->type = FTPC_ENT_LINK;
                else if (vl >= 10 && strncasecmp(v, "OS.unix=sl", 10) == 0)
                    e->type = FTPC_ENT_LINK;
            } else if (kl == 4 && strncasecmp(f, "size", 4) == 0 && vl > 0 &&
                       vl < 20 && digits(v, vl)) {
                e->size = strtoll(v, NULL, 10);
            } else if (kl == 6 && strncasecmp(f, "modify", 6) == 0 && vl >= 14) {
                e->mtime = ftpc_parse_time14(v);
            }
        }
        f = semi ? semi + 1 : sp;
    }
    if (!typed)
        return -1;
    const char *name = sp + 1;
    return set_name(e, name, strcspn(name, "\r\n"));
}

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec"};

static int month_of(const char *s, size_t n)
{
    if (n != 3)
        return 0;
    for (int i = 0; i < 12; i++)
        if (strncasecmp(s, months[i], 3) == 0)
            return i + 1;
    return 0;
}

#define MAX_TOK 12

/* "-rw-r--r-- 1 owner group 1234 Dec  4 14:50 a name" (group optional, as
 * some servers send): the size, month, day and time/year are found as the
 * first "N Mon D T" run, so owner names with digits do not matter. */
static int parse_unix(const char *line, int64_t now, ftpc_entry *e)
{
    const char *tok[MAX_TOK];
    size_t len[MAX_TOK];
    int n = 0;
    const char *p = line;
    while (n < MAX_TOK) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '\r' || *p == '\n')
            break;
        tok[n] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            p++;
        len[n] = (size_t)(p - tok[n]);
        n++;
    }
    switch (tok[0][0]) {
    case '-': e->type = FTPC_ENT_FILE; break;
    case 'd': e->type = FTPC_ENT_DIR; break;
    case 'l': e->type = FTPC_ENT_LINK; break;
    default: e->type = FTPC_ENT_OTHER; break;
    }
    for (int i = 2; i + 3 < n; i++) {
        int mon = month_of(tok[i], len[i]);
        if (!mon || !digits(tok[i - 1], len[i - 1]) || len[i - 1] > 19 ||
            len[i + 1] > 2 || !digits(tok[i + 1], len[i + 1]))
            continue;
        int day = num(tok[i + 1], len[i + 1]);
        const char *t = tok[i + 2];
        size_t tl = len[i + 2];
        if (tl == 4 && digits(t, 4)) {
            e->mtime = utc(num(t, 4), mon, day, 0, 0, 0);
            e->mtime_prec = 86400;
        } else if ((tl == 5 || tl == 4) && t[tl - 3] == ':' &&
                   digits(t, tl - 3) && digits(t + tl - 2, 2)) {
            time_t nt = (time_t)now;
            struct tm tm;
            gmtime_r(&nt, &tm);
            int year = tm.tm_year + 1900;
            int hour = num(t, tl - 3), min = num(t + tl - 2, 2);
            e->mtime = utc(year, mon, day, hour, min, 0);
            if (e->mtime > now + 86400)
                e->mtime = utc(year - 1, mon, day, hour, min, 0);
            e->mtime_prec = 60;
        } else {
            continue;
        }
        e->size = strtoll(tok[i - 1], NULL, 10);
        /* The name is the rest of the line after one run of blanks. */
        const char *name = tok[i + 2] + tl;
        while (*name == ' ' || *name == '\t')
            name++;
        size_t nl = strcspn(name, "\r\n");
        if (e->type == FTPC_ENT_LINK) {
            const char *arrow = strstr(name, " -> ");
            if (arrow && (size_t)(arrow - name) < nl)
                nl = (size_t)(arrow - name);
        }
        return set_name(e, name, nl);
    }
    return -1;
}

/* "12-04-26  02:50PM  <DIR>  name" or "12-04-2026  14:50  1234 name". */
static int parse_dos(const char *line, ftpc_entry *e)
{
    const char *p = line;
    if (!(digits(p, 2) && p[2] == '-' && digits(p + 3, 2) && p[5] == '-'))
        return -1;
    int mon = num(p, 2), day = num(p + 3, 2), year;
    p += 6;
    if (digits(p, 4)) {
        year = num(p, 4);
        p += 4;
    } else if (digits(p, 2)) {
        year = num(p, 2);
        year += year < 70 ? 2000 : 1900;
        p += 2;
    } else {
        return -1;
    }
    while (*p == ' ')
        p++;
    if (!(digits(p, 2) && p[2] == ':' && digits(p + 3, 2)))
        return -1;
    int hour = num(p, 2), min = num(p + 3, 2);
    p += 5;
    if (strncasecmp(p, "PM", 2) == 0 || strncasecmp(p, "AM", 2) == 0) {
        bool pm = toupper((unsigned char)p[0]) == 'P';
        if (hour == 12)
            hour = 0;
        if (pm)
            hour += 12;
        p += 2;
    }
    while (*p == ' ')
        p++;
    if (strncasecmp(p, "<DIR>", 5) == 0) {
        e->type = FTPC_ENT_DIR;
        e->size = -1;
        p += 5;
    } else {
        size_t dl = strspn(p, "0123456789,");
        if (dl == 0 || dl > 26)
            return -1;
        int64_t v = 0;
        for (size_t i = 0; i < dl; i++) {
            if (p[i] == ',')
                continue;
            /* 26 digits with commas do not fit: a size past int64 is a
             * broken line, not a wrapped (negative) size. */
            if (v > (INT64_MAX - (p[i] - '0')) / 10)
                return -1;
            v = v * 10 + (p[i] - '0');
        }
        e->type = FTPC_ENT_FILE;
        e->size = v;
        p += dl;
    }
    if (*p != ' ')
        return -1;
    while (*p == ' ')
        p++;
    e->mtime = utc(year, mon, day, hour, min, 0);
    e->mtime_prec = 60;
    return set_name(e, p, strcspn(p, "\r\n"));
}

int ftpc_parse_list(const char *line, int64_t now, ftpc_entry *e)
{
    e->type = FTPC_ENT_OTHER;
    e->size = e->mtime = -1;
    e->mtime_prec = 1;
    size_t blank = strspn(line, " \t\r\n");
    if (!line[blank] || strncmp(line, "total ", 6) == 0)
        return 0;
    if (isdigit((unsigned char)line[0]))
        return parse_dos(line, e);
    if (!strchr("-dlbcps", line[0]))
        return -1;
    return parse_unix(line, now, e);
}
