/* ftp/server/protocol/postlogin.c - the commands of a logged-in user that do not
 * move file data: navigation, names, state, data-connection setup and
 * checksums.  The dispatcher has already checked login and arguments. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "protocol/commands.h"
#include "protocol/listing.h"
#include "protocol/reply.h"

#define UNUSED_ARG (void)arg, (void)len

static int vpath(ftpd_session *s, const char *arg, size_t len, char *out,
                 size_t cap)
{
    int rc = ftpd_vfs_virtual_path(&s->vfs, arg, len, out, cap);
    if (rc < 0)
        snprintf(out, cap, "%.*s", (int)(len > 200 ? 200 : len), arg);
    return rc;
}

int ftpd_cmd_pwd(ftpd_session *s, const char *arg, size_t len)
{
    UNUSED_ARG;
    char q[FTPD_VFS_PATH_MAX * 2];
    ftpd_reply_quote(q, sizeof q, ftpd_vfs_pwd(&s->vfs));
    return ftpd_session_reply(s, 257, "\"%s\" is the current directory.", q);
}

int ftpd_cmd_cwd(ftpd_session *s, const char *arg, size_t len)
{
    int rc = ftpd_vfs_chdir(&s->vfs, arg, len);
    if (rc < 0)
        return ftpd_session_reply_errno(s, rc, arg);
    return ftpd_session_reply(s, 250, "Directory successfully changed.");
}

int ftpd_cmd_cdup(ftpd_session *s, const char *arg, size_t len)
{
    UNUSED_ARG;
    int rc = ftpd_vfs_chdir(&s->vfs, "..", 2);
    if (rc < 0)
        return ftpd_session_reply_errno(s, rc, "..");
    return ftpd_session_reply(s, 250, "Directory successfully changed.");
}

int ftpd_cmd_mkd(ftpd_session *s, const char *arg, size_t len)
{
    char v[FTPD_VFS_PATH_MAX], q[FTPD_VFS_PATH_MAX * 2];
    int rc = ftpd_vfs_mkdir(&s->vfs, arg, len);
    if (rc < 0)
        return ftpd_session_reply_errno(s, rc, arg);
    vpath(s, arg, len, v, sizeof v);
    ftpd_reply_quote(q, sizeof q, v);
    return ftpd_session_reply(s, 257, "\"%s\" created.", q);
}

int ftpd_cmd_rmd(ftpd_session *s, const char *arg, size_t len)
{
    int rc = ftpd_vfs_rmdir(&s->vfs, arg, len);
    if (rc < 0)
        return ftpd_session_reply_errno(s, rc, arg);
    return ftpd_session_reply(s, 250, "Remove directory operation successful.");
}

int ftpd_cmd_dele(ftpd_session *s, const char *arg, size_t len)
{
    off_t freed = 0;
    int rc = ftpd_vfs_unlink(&s->vfs, arg, len, &freed);
    if (rc < 0)
        return ftpd_session_reply_errno(s, rc, arg);
    if (freed > 0)
        ftpd_store_quota_give_back(&s->quota, (uint64_t)freed);
    return ftpd_session_reply(s, 250, "Delete operation successful.");
}

int ftpd_cmd_rnfr(ftpd_session *s, const char *arg, size_t len)
{
    struct stat st;
    if (len >= FTPD_VFS_PATH_MAX)
        return ftpd_session_reply(s, 553, "File name not allowed.");
    int rc = ftpd_vfs_stat(&s->vfs, arg, len, &st);
    if (rc == -EACCES || rc == -ELOOP) {
        /* A symlink whose target is out of reach may still be renamed
         * itself; the rename acts on the name, never on the target. */
        rc = 0;
    }
    if (rc < 0)
        return ftpd_session_reply_errno(s, rc, arg);
    char *copy = malloc(len + 1);
    if (!copy)
        return ftpd_session_reply(s, 451, "Out of memory.");
    memcpy(copy, arg, len + 1);
    free(s->rnfr);
    s->rnfr = copy;
    s->have_rnfr = true;
    return ftpd_session_reply(s, 350, "Ready for RNTO.");
}

int ftpd_cmd_rnto(ftpd_session *s, const char *arg, size_t len)
{
    if (!s->have_rnfr)
        return ftpd_session_reply(s, 503, "RNFR required first.");
    s->have_rnfr = false;
    off_t freed = 0;
    int rc = ftpd_vfs_rename(&s->vfs, s->rnfr, strlen(s->rnfr), arg, len,
                             &freed);
    if (rc < 0)
        return ftpd_session_reply_errno(s, rc, arg);
    if (freed > 0)
        ftpd_store_quota_give_back(&s->quota, (uint64_t)freed);
    return ftpd_session_reply(s, 250, "Rename successful.");
}

int ftpd_cmd_type(ftpd_session *s, const char *arg, size_t len)
{
    (void)len;
    if (!strcasecmp(arg, "I") || !strcasecmp(arg, "L 8") ||
        !strcasecmp(arg, "L8")) {
        s->ascii = false;
        return ftpd_session_reply(s, 200, "Switching to Binary mode.");
    }
    if (!strcasecmp(arg, "A") || !strcasecmp(arg, "A N")) {
        s->ascii = true;
        return ftpd_session_reply(s, 200, "Switching to ASCII mode.");
    }
    if (strchr("AaEeLl", arg[0]) && arg[0])
        return ftpd_session_reply(s, 504, "TYPE %s not implemented.", arg);
    return ftpd_session_reply(s, 501, "Unrecognised TYPE command.");
}

int ftpd_cmd_mode(ftpd_session *s, const char *arg, size_t len)
{
    (void)len;
    if (!strcasecmp(arg, "S"))
        return ftpd_session_reply(s, 200, "Mode set to S.");
    if (!strcasecmp(arg, "B") || !strcasecmp(arg, "C"))
        return ftpd_session_reply(s, 504, "Only MODE S is supported.");
    return ftpd_session_reply(s, 501, "Bad MODE command.");
}

int ftpd_cmd_stru(ftpd_session *s, const char *arg, size_t len)
{
    (void)len;
    if (!strcasecmp(arg, "F"))
        return ftpd_session_reply(s, 200, "Structure set to F.");
    if (!strcasecmp(arg, "R") || !strcasecmp(arg, "P"))
        return ftpd_session_reply(s, 504, "Only STRU F is supported.");
    return ftpd_session_reply(s, 501, "Bad STRU command.");
}

int ftpd_cmd_allo(ftpd_session *s, const char *arg, size_t len)
{
    UNUSED_ARG;
    return ftpd_session_reply(s, 202, "ALLO command ignored.");
}

/* Strict non-negative decimal (no sign, no blanks) that fits an off_t. */
static bool parse_offset(const char *t, off_t *out)
{
    if (!isdigit((unsigned char)*t))
        return false;
    uint64_t v = 0;
    for (; *t; t++) {
        if (!isdigit((unsigned char)*t))
            return false;
        if (v > (uint64_t)(INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*t - '0');
    }
    *out = (off_t)v;
    return true;
}

int ftpd_cmd_rest(ftpd_session *s, const char *arg, size_t len)
{
    (void)len;
    off_t off;
    if (!parse_offset(arg, &off))
        return ftpd_session_reply(s, 501, "REST needs a byte offset.");
    if (s->ascii && off > 0)
        return ftpd_session_reply(s, 501, "Resuming transfers is not allowed "
                                  "in ASCII mode; use TYPE I.");
    s->rest = off;
    return ftpd_session_reply(s, 350, "Restarting at %lld. Send STOR or RETR "
                              "to continue.", (long long)off);
}

int ftpd_cmd_rang(ftpd_session *s, const char *arg, size_t len)
{
    (void)len;
    char a[32], b[32], extra;
    off_t start, end;
    if (sscanf(arg, "%31s %31s %c", a, b, &extra) != 2 ||
        !parse_offset(a, &start) || !parse_offset(b, &end))
        return ftpd_session_reply(s, 501, "RANG needs <start> <end>.");
    if (start == 1 && end == 0) { /* the draft's reset */
        s->have_rang = false;
        return ftpd_session_reply(s, 350, "Restarting at 0. Range reset.");
    }
    if (start > end)
        return ftpd_session_reply(s, 501, "RANG start is past its end.");
    s->have_rang = true;
    s->rang_start = start;
    s->rang_end = end;
    return ftpd_session_reply(s, 350, "Restarting at %lld. Ending byte %lld.",
                              (long long)start, (long long)end);
}

int ftpd_cmd_size(ftpd_session *s, const char *arg, size_t len)
{
    struct stat st;
    int rc = ftpd_vfs_stat(&s->vfs, arg, len, &st);
    if (rc < 0)
        return ftpd_session_reply_errno(s, rc, arg);
    if (!S_ISREG(st.st_mode))
        return ftpd_session_reply(s, 550, "%s: not a regular file.", arg);
    /* The stored size in both TYPEs, as vsftpd: computing the ASCII size
     * means reading the whole file, a cheap way to load the server. */
    return ftpd_session_reply(s, 213, "%lld", (long long)st.st_size);
}

int ftpd_cmd_mdtm(ftpd_session *s, const char *arg, size_t len)
{
    struct stat st;
    int rc = ftpd_vfs_stat(&s->vfs, arg, len, &st);
    if (rc < 0)
        return ftpd_session_reply_errno(s, rc, arg);
    if (!S_ISREG(st.st_mode))
        return ftpd_session_reply(s, 550, "%s: not a regular file.", arg);
    char t[32];
    if (ftpd_list_mdtm(st.st_mtime, t, sizeof t) < 0)
        return ftpd_session_reply(s, 451, "Cannot format the time.");
    return ftpd_session_reply(s, 213, "%s", t);
}

/* An RFC 3659 time-val, "YYYYMMDDHHMMSS[.sss]" in UTC, at the start of
 * arg; *used gets its length.  Fields out of range (month 13, 30 February,
 * hour 24) are refused: timegm would quietly roll them over.  Leap seconds
 * are refused as well, as no file system stores them.  0 or -EINVAL. */
static int parse_time_val(const char *arg, size_t len, struct timespec *ts,
                          size_t *used)
{
    if (len < 14)
        return -EINVAL;
    int v[6], widths[6] = {4, 2, 2, 2, 2, 2};
    size_t i = 0;
    for (int f = 0; f < 6; f++) {
        v[f] = 0;
        for (int k = 0; k < widths[f]; k++, i++) {
            if (!isdigit((unsigned char)arg[i]))
                return -EINVAL;
            v[f] = v[f] * 10 + (arg[i] - '0');
        }
    }
    long nsec = 0;
    if (i < len && arg[i] == '.') {
        long scale = 100000000;
        i++;
        size_t start = i;
        while (i < len && isdigit((unsigned char)arg[i]) && i - start < 9) {
            nsec += (arg[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start)
            return -EINVAL;
    }
    struct tm tm = {.tm_year = v[0] - 1900, .tm_mon = v[1] - 1, .tm_mday = v[2],
                    .tm_hour = v[3], .tm_min = v[4], .tm_sec = v[5]};
    if (v[0] < 1900 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[3] > 23 ||
        v[4] > 59 || v[5] > 59)
        return -EINVAL;
    time_t t = timegm(&tm);
    if (tm.tm_mday != v[2] || tm.tm_mon != v[1] - 1) /* 31 April rolled over */
        return -EINVAL;
    ts->tv_sec = t;
    ts->tv_nsec = nsec;
    *used = i;
    return 0;
}

/* MFMT time path (draft-somers-ftp-mfxx): the file's modification time
 * becomes time, and the reply shows the time the file now has. */
int ftpd_cmd_mfmt(ftpd_session *s, const char *arg, size_t len)
{
    struct timespec ts;
    size_t used;
    if (parse_time_val(arg, len, &ts, &used) < 0 || used >= len ||
        arg[used] != ' ' || used + 1 == len)
        return ftpd_session_reply(s, 501, "Syntax error: MFMT YYYYMMDDHHMMSS "
                                  "path (UTC).");
    const char *path = arg + used + 1;
    size_t plen = len - used - 1;
    struct stat st;
    int rc = ftpd_vfs_set_mtime(&s->vfs, path, plen, &ts, &st);
    if (rc == -EISDIR)
        return ftpd_session_reply(s, 550, "%s: not a regular file.", path);
    if (rc < 0)
        return ftpd_session_reply_errno(s, rc, path);
    char t[32];
    if (ftpd_list_mdtm(st.st_mtime, t, sizeof t) < 0)
        return ftpd_session_reply(s, 451, "Cannot format the time.");
    return ftpd_session_reply(s, 213, "Modify=%s; %s", t, path);
}

static void strip_crlf(char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
}

int ftpd_cmd_mlst(ftpd_session *s, const char *arg, size_t len)
{
    const char *p = len ? arg : ".";
    size_t pl = len ? len : 1;
    char line[FTPD_LIST_LINE_MAX + FTPD_VFS_PATH_MAX];
    int rc = ftpd_list_mlst(&s->vfs, p, pl, s->mlst_facts, line, sizeof line);
    if (rc < 0)
        return ftpd_session_reply_errno(s, rc, p);
    strip_crlf(line);
    ftpd_reply r;
    ftpd_reply_begin(&r, &s->base.wfile, 250);
    ftpd_reply_line(&r, "Listing %s", p);
    ftpd_reply_line(&r, "%s", line); /* " facts; name": the builder's space */
    return ftpd_reply_end(&r, "End.");
}

/* STAT path: the LIST lines on the control connection. */
static int stat_line(void *ctx, const char *line, size_t len)
{
    ftpd_reply *r = ctx;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    ftpd_reply_line(r, "%.*s", (int)len, line);
    return r->error;
}

int ftpd_cmd_stat(ftpd_session *s, const char *arg, size_t len)
{
    ftpd_reply r;
    if (len) {
        struct stat st;
        int rc = ftpd_vfs_stat(&s->vfs, arg, len, &st);
        if (rc < 0)
            return ftpd_session_reply_errno(s, rc, arg);
        ftpd_reply_begin(&r, &s->base.wfile, 213);
        ftpd_reply_line(&r, "Status of %s:", arg);
        long n = ftpd_list_path(&s->vfs, arg, len, FTPD_LIST_LONG, 0,
                                s->mlst_facts, stat_line, &r);
        if (n < 0 && r.error == 0)
            ftpd_reply_line(&r, "(listing failed: %s)", strerror((int)-n));
        return ftpd_reply_end(&r, "End of status.");
    }
    uint64_t used = 0, limit = 0;
    ftpd_store_quota_get(&s->quota, &used, &limit);
    ftpd_reply_begin(&r, &s->base.wfile, 211);
    ftpd_reply_line(&r, "sockserv-ftpd status:");
    ftpd_reply_line(&r, "Connected from %s", s->client);
    ftpd_reply_line(&r, "Logged in as %s", s->user);
    ftpd_reply_line(&r, "TYPE: %s, STRUcture: File, MODE: Stream",
                    s->ascii ? "ASCII" : "BINARY");
    if (limit == FTPD_QUOTA_UNLIMITED)
        ftpd_reply_line(&r, "Quota: %" PRIu64 " bytes used, no limit", used);
    else
        ftpd_reply_line(&r, "Quota: %" PRIu64 " of %" PRIu64 " bytes used",
                        used, limit);
    ftpd_reply_line(&r, "Data connection: %s",
                    s->dc.listen_fd >= 0 ? "passive, waiting"
                    : s->dc.active.len ? "active, target set"
                                       : "none");
    return ftpd_reply_end(&r, "End of status.");
}

int ftpd_cmd_site(ftpd_session *s, const char *arg, size_t len)
{
    (void)len;
    if (!strcasecmp(arg, "QUOTA")) {
        uint64_t used = 0, limit = 0;
        ftpd_store_quota_get(&s->quota, &used, &limit);
        if (limit == FTPD_QUOTA_UNLIMITED)
            return ftpd_session_reply(s, 200, "Quota: %" PRIu64
                                      " bytes used, no limit.", used);
        return ftpd_session_reply(s, 200, "Quota: %" PRIu64 " of %" PRIu64
                                  " bytes used.", used, limit);
    }
    if (!strcasecmp(arg, "HELP"))
        return ftpd_session_reply(s, 214, "SITE QUOTA | SITE HELP");
    return ftpd_session_reply(s, 500, "Unknown SITE command.");
}

int ftpd_cmd_abor(ftpd_session *s, const char *arg, size_t len)
{
    UNUSED_ARG;
    /* No transfer runs (one that runs reads ABOR itself, transfer.c): drop
     * any prepared data connection. */
    ftpd_datachan_reset(&s->dc);
    s->rest = 0;
    return ftpd_session_reply(s, 225, "No transfer to abort.");
}

/* --- data connection setup ------------------------------------------- */

static int family_of(const ss_addr *a)
{
    return ss_addr_family(a);
}

/* The IPv4 address PASV announces: the masquerade address, else the
 * control connection's local address (a v4-mapped one unwrapped). */
static bool pasv_ipv4(ftpd_session *s, struct in_addr *out)
{
    if (s->ctx->cfg.masquerade_address[0])
        return inet_pton(AF_INET, s->ctx->cfg.masquerade_address, out) == 1;
    const struct sockaddr *sa = (const struct sockaddr *)&s->local.sa;
    if (sa->sa_family == AF_INET) {
        *out = ((const struct sockaddr_in *)sa)->sin_addr;
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            memcpy(out, a6->s6_addr + 12, 4);
            return true;
        }
        return false;
    }
    out->s_addr = htonl(INADDR_LOOPBACK); /* unix control connection */
    return true;
}

int ftpd_cmd_pasv(ftpd_session *s, const char *arg, size_t len)
{
    UNUSED_ARG;
    if (s->epsv_all)
        return ftpd_session_reply(s, 503, "PASV not allowed after EPSV ALL.");
    struct in_addr a4;
    if (!pasv_ipv4(s, &a4))
        return ftpd_session_reply(s, 522, "Network protocol not supported, "
                                  "use EPSV.");
    ss_addr bound;
    ftpd_config *c = &s->ctx->cfg;
    int rc = ftpd_datachan_passive(&s->dc, &s->local, c->pasv_min, c->pasv_max,
                                   c->data_timeout, &bound);
    if (rc == -EBUSY)
        return ftpd_session_reply(s, 425, "Too many passive connections "
                                  "pending on this server; try again later.");
    if (rc < 0)
        return ftpd_session_reply(s, 425, "Cannot open passive connection: %s.",
                                  strerror(-rc));
    int port = ss_addr_port(&bound);
    unsigned char *b = (unsigned char *)&a4.s_addr;
    return ftpd_session_reply(s, 227, "Entering Passive Mode (%u,%u,%u,%u,%d,%d).",
                              b[0], b[1], b[2], b[3], port >> 8, port & 255);
}

int ftpd_cmd_epsv(ftpd_session *s, const char *arg, size_t len)
{
    (void)len;
    int fam = family_of(&s->local);
    if (!strcasecmp(arg, "ALL")) {
        s->epsv_all = true;
        return ftpd_session_reply(s, 200, "EPSV ALL ok.");
    }
    if (*arg) {
        int want = fam == AF_INET6 ? 2 : 1;
        if (strcmp(arg, "1") && strcmp(arg, "2"))
            return ftpd_session_reply(s, 501, "Bad EPSV argument.");
        if (atoi(arg) != want && fam != AF_UNIX)
            return ftpd_session_reply(s, 522, "Network protocol not supported, "
                                      "use (%d)", want);
    }
    ss_addr bound;
    ftpd_config *c = &s->ctx->cfg;
    int rc = ftpd_datachan_passive(&s->dc, &s->local, c->pasv_min, c->pasv_max,
                                   c->data_timeout, &bound);
    if (rc == -EBUSY)
        return ftpd_session_reply(s, 425, "Too many passive connections "
                                  "pending on this server; try again later.");
    if (rc < 0)
        return ftpd_session_reply(s, 425, "Cannot open passive connection: %s.",
                                  strerror(-rc));
    return ftpd_session_reply(s, 229, "Entering Extended Passive Mode (|||%d|)",
                              ss_addr_port(&bound));
}

static int set_active(ftpd_session *s, const ss_addr *target)
{
    int rc = ftpd_datachan_active(&s->dc, &s->base.base.client_address, target);
    if (rc == -EPERM)
        return ftpd_session_reply(s, 500, "Illegal PORT command: only to your "
                                  "own address and a port >= 1024.");
    if (rc < 0)
        return ftpd_session_reply(s, 501, "Bad address.");
    return ftpd_session_reply(s, 200, "PORT command successful. Consider "
                              "using PASV.");
}

int ftpd_cmd_port(ftpd_session *s, const char *arg, size_t len)
{
    (void)len;
    if (s->epsv_all)
        return ftpd_session_reply(s, 503, "PORT not allowed after EPSV ALL.");
    ss_addr t;
    if (ftpd_parse_port_arg(arg, &t) < 0)
        return ftpd_session_reply(s, 501, "Bad PORT argument.");
    return set_active(s, &t);
}

int ftpd_cmd_eprt(ftpd_session *s, const char *arg, size_t len)
{
    (void)len;
    if (s->epsv_all)
        return ftpd_session_reply(s, 503, "EPRT not allowed after EPSV ALL.");
    ss_addr t;
    int rc = ftpd_parse_eprt_arg(arg, &t);
    if (rc == -EAFNOSUPPORT)
        return ftpd_session_reply(s, 522, "Network protocol not supported, "
                                  "use (1,2)");
    if (rc < 0)
        return ftpd_session_reply(s, 501, "Bad EPRT argument.");
    return set_active(s, &t);
}

/* --- checksums ------------------------------------------------------- */

static int digest_reply(ftpd_session *s, enum ftpd_digest_algo algo,
                        const char *path, size_t plen, off_t start, off_t end,
                        bool hash_form)
{
    struct stat st;
    int fd = ftpd_vfs_open_read(&s->vfs, path, plen, &st);
    if (fd < 0)
        return ftpd_session_reply_errno(s, fd, path);
    if (start > st.st_size) {
        close(fd);
        return ftpd_session_reply(s, 554, "Range start beyond end of file.");
    }
    off_t real_end = end < 0 || end > st.st_size ? st.st_size : end;
    uint64_t max = s->ctx->cfg.hash_max_size;
    if (max && (uint64_t)(real_end - start) > max) {
        close(fd);
        return ftpd_session_reply(s, 552, "Range too large to checksum (limit "
                                  "%" PRIu64 " bytes).", max);
    }
    char hex[FTPD_DIGEST_HEX_MAX];
    off_t got_end = real_end;
    int rc = ftpd_digest_fd(fd, algo, start, real_end, &got_end, hex, sizeof hex);
    close(fd);
    if (rc < 0)
        return ftpd_session_reply_errno(s, rc, path);
    if (!hash_form)
        return ftpd_session_reply(s, 250, "%s", hex);
    /* draft-bryan-ftpext-hash: the range is start-end with end inclusive
     * (the last byte hashed), as RANG writes it. */
    long long last = got_end > start ? (long long)got_end - 1 : (long long)start;
    return ftpd_session_reply(s, 213, "%s %lld-%lld %s %s",
                              ftpd_digest_name(algo), (long long)start, last,
                              hex, path);
}

int ftpd_cmd_hash(ftpd_session *s, const char *arg, size_t len)
{
    off_t start = 0, end = -1;
    if (s->have_rang) {
        start = s->rang_start;
        end = s->rang_end + 1;
        s->have_rang = false;
    }
    return digest_reply(s, s->hash_algo, arg, len, start, end, true);
}

/* "path", path, or path followed by " start end" / "start end" after a
 * quoted path: the forms clients send to XCRC and friends. */
static int xdigest(ftpd_session *s, enum ftpd_digest_algo algo,
                   const char *arg, size_t len)
{
    char path[FTPD_VFS_PATH_MAX];
    off_t start = 0, end = -1;
    const char *rest = NULL;
    if (arg[0] == '"') {
        const char *q = memchr(arg + 1, '"', len - 1);
        if (!q || (size_t)(q - arg - 1) >= sizeof path)
            return ftpd_session_reply(s, 501, "Bad quoted path.");
        memcpy(path, arg + 1, (size_t)(q - arg - 1));
        path[q - arg - 1] = '\0';
        rest = q + 1;
    } else {
        if (len >= sizeof path)
            return ftpd_session_reply(s, 553, "File name not allowed.");
        memcpy(path, arg, len + 1);
        /* Try "name start end" only when the whole argument is not a file. */
        struct stat st;
        if (ftpd_vfs_stat(&s->vfs, path, len, &st) < 0) {
            char *sp2 = strrchr(path, ' ');
            char *sp1 = NULL;
            if (sp2) {
                *sp2 = '\0';
                sp1 = strrchr(path, ' ');
                *sp2 = ' ';
            }
            if (sp1) {
                off_t a, b;
                char ta[32], tb[32];
                snprintf(ta, sizeof ta, "%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
                snprintf(tb, sizeof tb, "%s", sp2 + 1);
                if (parse_offset(ta, &a) && parse_offset(tb, &b)) {
                    *sp1 = '\0';
                    start = a;
                    end = b;
                }
            }
        }
    }
    if (rest) {
        while (*rest == ' ')
            rest++;
        if (*rest) {
            char ta[32], tb[32], extra;
            off_t a, b;
            int n = sscanf(rest, "%31s %31s %c", ta, tb, &extra);
            if (n == 1 && parse_offset(ta, &a)) {
                start = a;
            } else if (n == 2 && parse_offset(ta, &a) && parse_offset(tb, &b)) {
                start = a;
                end = b;
            } else {
                return ftpd_session_reply(s, 501, "Bad range.");
            }
        }
    }
    if (end >= 0 && start > end)
        return ftpd_session_reply(s, 501, "Range start is past its end.");
    return digest_reply(s, algo, path, strlen(path), start, end, false);
}

int ftpd_cmd_xsha256(ftpd_session *s, const char *arg, size_t len)
{
    return xdigest(s, FTPD_DIGEST_SHA256, arg, len);
}
int ftpd_cmd_xsha1(ftpd_session *s, const char *arg, size_t len)
{
    return xdigest(s, FTPD_DIGEST_SHA1, arg, len);
}
int ftpd_cmd_xmd5(ftpd_session *s, const char *arg, size_t len)
{
    return xdigest(s, FTPD_DIGEST_MD5, arg, len);
}
int ftpd_cmd_xcrc(ftpd_session *s, const char *arg, size_t len)
{
    return xdigest(s, FTPD_DIGEST_CRC32, arg, len);
}
