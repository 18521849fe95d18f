/* ftp/server/protocol/xferlog.h - the server's log: one line per event (session
 * start, login, failed login, transfer) on stderr or the configured file,
 * and optionally the wu-ftpd xferlog(5) line per transfer for tools that
 * parse that format.
 *
 * Each line is formatted in full and written with one write(2) to a
 * descriptor opened O_APPEND, so lines from threads and from forked session
 * processes never interleave.  Nothing that comes from a client is written
 * unescaped: control bytes become '?'.  Passwords are never passed here.
 *
 * Thread-safety: all functions are safe from any thread and any process that
 * inherited the log.
 */
#ifndef FTPD_XFERLOG_H
#define FTPD_XFERLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ftpd_log {
    int fd;          /* the event log (2 = stderr) */
    int xfer_fd;     /* the xferlog(5) file, -1 when none */
    bool own_fd, own_xfer_fd;
} ftpd_logger;

/* Opens the logs: path "" means stderr; xfer_path "" or equal to path means
 * no separate xferlog file.  0, or -errno with a message in err. */
int ftpd_log_open(ftpd_logger *log, const char *path, const char *xfer_path,
                  char *err, size_t cap);
void ftpd_log_close(ftpd_logger *log);

/* "2024-05-01T12:00:00Z sockserv-ftpd[pid]: <message>" */
void ftpd_log(ftpd_logger *log, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One finished (or failed) transfer. */
typedef struct ftpd_xfer_record {
    const char *user;
    const char *client;     /* client address text */
    const char *command;    /* "RETR", "STOR", ... */
    const char *path;       /* virtual path */
    uint64_t bytes;
    double seconds;
    bool ascii;
    bool incoming;          /* upload */
    const char *result;     /* "ok", "aborted", "failed: ...", "quota" */
} ftpd_xfer_record;

/* Writes the event line ("transfer user=... cmd=... path=... bytes=...
 * seconds=... result=...") and the xferlog(5) line when configured. */
void ftpd_log_transfer(ftpd_logger *log, const ftpd_xfer_record *r);

#endif
