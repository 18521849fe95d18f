/* ftp/server/protocol/xferlog.c - see xferlog.h. */
#include "protocol/xferlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int open_log(const char *path, char *err, size_t cap)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        int e = errno;
        snprintf(err, cap, "log file %s: %s", path, strerror(e));
        return -e;
    }
    return fd;
}

int ftpd_log_open(ftpd_logger *log, const char *path, const char *xfer_path,
                  char *err, size_t cap)
{
    log->fd = 2;
    log->xfer_fd = -1;
    log->own_fd = log->own_xfer_fd = false;
    if (path && *path) {
        int fd = open_log(path, err, cap);
        if (fd < 0)
            return fd;
        log->fd = fd;
        log->own_fd = true;
    }
    if (xfer_path && *xfer_path && !(path && !strcmp(path, xfer_path))) {
        int fd = open_log(xfer_path, err, cap);
        if (fd < 0) {
            ftpd_log_close(log);
            return fd;
        }
        log->xfer_fd = fd;
        log->own_xfer_fd = true;
    }
    return 0;
}

void ftpd_log_close(ftpd_logger *log)
{
    if (log->own_fd)
        close(log->fd);
    if (log->own_xfer_fd)
        close(log->xfer_fd);
    log->fd = 2;
    log->xfer_fd = -1;
    log->own_fd = log->own_xfer_fd = false;
}

static void write_line(int fd, char *line, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, line, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        line += n;
        len -= (size_t)n;
    }
}

static void vlog(ftpd_logger *log, const char *fmt, va_list ap)
{
    char line[2048];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int m = snprintf(line + n, sizeof line - n, " sockserv-ftpd[%ld]: ",
                     (long)getpid());
    if (m > 0)
        n += (size_t)m;
    int k = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    size_t end = k < 0 ? n : n + (size_t)k;
    if (end > sizeof line - 2)
        end = sizeof line - 2;
    for (size_t i = n; i < end; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    line[end++] = '\n';
    write_line(log->fd, line, end);
}

void ftpd_log(ftpd_logger *log, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(log, fmt, ap);
    va_end(ap);
}

/* Copies s into out replacing blanks and control bytes, as xferlog(5)
 * writers do, so the line keeps its fixed number of fields. */
static const char *field(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; s && *s && o + 1 < cap; s++)
        out[o++] = ((unsigned char)*s <= 0x20 || *s == 0x7f) ? '_' : *s;
    if (o == 0 && cap > 1)
        out[o++] = '-';
    out[o] = '\0';
    return out;
}

void ftpd_log_transfer(ftpd_logger *log, const ftpd_xfer_record *r)
{
    ftpd_log(log,
             "transfer user=%s client=%s cmd=%s path=\"%s\" bytes=%llu "
             "seconds=%.3f type=%s result=%s",
             r->user, r->client, r->command, r->path,
             (unsigned long long)r->bytes, r->seconds, r->ascii ? "A" : "I",
             r->result);
    if (log->xfer_fd < 0)
        return;
    char line[2048], path[1024], user[128], host[128];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    size_t n = strftime(line, sizeof line, "%a %b %e %H:%M:%S %Y", &tm);
    int m = snprintf(line + n, sizeof line - n,
                     " %.0f %s %llu %s %c _ %c r %s ftp 0 * %c\n",
                     r->seconds < 1 ? 1 : r->seconds,
                     field(r->client, host, sizeof host),
                     (unsigned long long)r->bytes,
                     field(r->path, path, sizeof path), r->ascii ? 'a' : 'b',
                     r->incoming ? 'i' : 'o', field(r->user, user, sizeof user),
                     strcmp(r->result, "ok") ? 'i' : 'c');
    if (m < 0)
        return;
    n += (size_t)m;
    if (n > sizeof line - 1) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    write_line(log->xfer_fd, line, n);
}
