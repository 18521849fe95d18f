/* ftp/server/protocol/transfer.c - RETR, STOR, STOU, APPE, LIST, NLST, MLSD.  See
 * transfer.h. */
#include "protocol/transfer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "protocol/commands.h"
#include "tls/ftps.h"
#include "protocol/listing.h"
#include "protocol/reply.h"

#define CHUNK 65536
#define SENDFILE_CHUNK (1 << 20)
#define RECV_CHUNK (256 << 10)

/* How a transfer ended. */
enum outcome {
    XF_OK,
    XF_ABORTED,    /* ABOR */
    XF_TIMEOUT,    /* no progress for data_timeout */
    XF_DATA_ERR,   /* the data connection failed */
    XF_CTRL_GONE,  /* the control connection failed */
    XF_FILE_ERR,   /* reading/writing the file failed (err has -errno) */
    XF_QUOTA,      /* the quota is reached */
};

typedef struct xfer {
    ftpd_session *s;
    const char *cmd;
    char path[FTPD_VFS_PATH_MAX]; /* virtual, for replies and logs */
    double start;
    uint64_t bytes;
    int err;       /* -errno behind XF_FILE_ERR / XF_DATA_ERR */
    bool incoming;
} xfer;

static void xfer_begin(xfer *x, ftpd_session *s, const char *cmd,
                       const char *arg, size_t len, bool incoming)
{
    memset(x, 0, sizeof *x);
    x->s = s;
    x->cmd = cmd;
    x->incoming = incoming;
    if (ftpd_vfs_virtual_path(&s->vfs, arg, len, x->path, sizeof x->path) < 0)
        snprintf(x->path, sizeof x->path, "%.*s", (int)(len > 200 ? 200 : len),
                 arg);
    x->start = ftpd_now();
    s->xfer = FTPD_XFER_RUNNING;
    ftpd_counters_gauge(s->ctx->counters, FTPD_C_TRANSFERS, 1);
    s->xfer_cmd = cmd;
    s->xfer_bytes = 0;
    s->abort_requested = false;
    s->quit_after = false;
}

/* The transfer xfer_begin started is over, whatever way it went. */
static void xfer_end(ftpd_session *s)
{
    s->xfer = FTPD_XFER_NONE;
    ftpd_counters_gauge(s->ctx->counters, FTPD_C_TRANSFERS, -1);
}

/* Looks at control input; returns XF_OK to go on or why to stop. */
static enum outcome check_control(xfer *x)
{
    ftpd_session *s = x->s;
    do {
        if (ftpd_session_control_during_transfer(s) < 0)
            return XF_CTRL_GONE;
        if (s->abort_requested)
            return XF_ABORTED;
    } while (ftpd_session_pending(s) > 0);
    return XF_OK;
}

/* The control connection polled readable (revents) during a transfer:
 * serves it.  XF_OK to go on, or why to stop. */
static enum outcome control_event(xfer *x, short revents)
{
    ftpd_session *s = x->s;
    if ((revents & POLLPRI) && !(revents & POLLIN)) {
        /* Urgent data without SO_OOBINLINE taking effect: fetch the
         * out-of-band byte so poll stops reporting it. */
        char oob;
        recv(ftpd_session_fd(s), &oob, 1, MSG_OOB | MSG_DONTWAIT);
        return XF_OK;
    }
    return check_control(x);
}

/* Bytes the kernel still holds to send on fd (unsent and unacknowledged),
 * or -1 when it cannot tell. */
static int send_queue(int fd)
{
    int n;
    return ioctl(fd, SIOCOUTQ, &n) == 0 ? n : -1;
}

/* Waits until the data socket has ev, handling control input meanwhile.
 * XF_OK when the data socket is ready.
 *
 * A reader that takes the bytes slowly still makes progress, but poll
 * says POLLOUT only once a good part of the send buffer is free again
 * (a third of it: with the buffer autotuned to megabytes, minutes at
 * 1 KiB/s), so the bytes leaving the send queue count as progress too:
 * data_timeout cuts a peer that takes nothing, never a slow one. */
static enum outcome wait_data(xfer *x, short ev)
{
    ftpd_session *s = x->s;
    double timeout = s->ctx->cfg.data_timeout;
    double deadline = ftpd_now() + timeout;
    int queued = ev == POLLOUT ? send_queue(s->dc.fd) : -1;
    for (;;) {
        if (ftpd_session_pending(s) > 0) {
            enum outcome o = check_control(x);
            if (o != XF_OK)
                return o;
        }
        double now = ftpd_now();
        if (queued >= 0) {
            int q = send_queue(s->dc.fd);
            if (q >= 0 && q < queued)
                deadline = now + timeout;
            queued = q;
        }
        double left = deadline - now;
        if (left <= 0)
            return XF_TIMEOUT;
        /* look at the queue again every second */
        double wait = queued >= 0 && left > 1.0 ? 1.0 : left;
        struct pollfd p[2] = {
            {.fd = s->dc.fd, .events = ev},
            {.fd = ftpd_session_fd(s), .events = POLLIN | POLLPRI}};
        int n = poll(p, 2, (int)(wait * 1000) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            x->err = -errno;
            return XF_DATA_ERR;
        }
        if (p[1].revents & (POLLIN | POLLPRI | POLLHUP | POLLERR)) {
            enum outcome o = control_event(x, p[1].revents);
            if (o != XF_OK)
                return o;
            deadline = ftpd_now() + s->ctx->cfg.data_timeout;
        }
        if (p[0].revents)
            return XF_OK;
    }
}

/* A rate-limited transfer (ratelimit.h) just moved n bytes in direction d:
 * charges them to the user's bucket and sleeps until they are paid for.
 * The sleep is a poll on the control connection alone, so ABOR and STAT
 * are answered while the transfer waits.  XF_OK or why to stop. */
static enum outcome pace(xfer *x, enum ftpd_rate_dir d, uint64_t n)
{
    ftpd_session *s = x->s;
    int64_t due = ftpd_rate_charge(&s->rate, d, n);
    for (;;) {
        if (ftpd_session_pending(s) > 0) {
            enum outcome o = check_control(x);
            if (o != XF_OK)
                return o;
        }
        int64_t left = due - ftpd_rate_now();
        if (left <= 0)
            return XF_OK;
        struct timespec ts = {.tv_sec = left / 1000000000,
                              .tv_nsec = left % 1000000000};
        struct pollfd p = {.fd = ftpd_session_fd(s), .events = POLLIN | POLLPRI};
        int k = ppoll(&p, 1, &ts, NULL);
        if (k < 0 && errno != EINTR) {
            x->err = -errno;
            return XF_DATA_ERR;
        }
        if (k > 0) {
            enum outcome o = control_event(x, p.revents);
            if (o != XF_OK)
                return o;
        }
    }
}

/* Opens the data connection and sends the 1xx reply.  Returns 0, or -1
 * after sending the failure reply (the transfer did not start), or a
 * negative code < -1 when the control connection is gone. */
static int open_data(xfer *x, const char *fmt150, const char *arg150)
{
    ftpd_session *s = x->s;
    if (!ftpd_datachan_ready(&s->dc) && s->dc.fd < 0) {
        ftpd_session_reply(s, 425, "Use PORT or PASV first.");
        return -1;
    }
    double deadline = ftpd_now() + s->ctx->cfg.data_timeout;
    for (;;) {
        int rc = ftpd_datachan_open(&s->dc, &s->base.base.client_address,
                                    ftpd_session_fd(s), deadline);
        if (rc == 0)
            break;
        if (rc == 1) {
            enum outcome o = check_control(x);
            if (o == XF_CTRL_GONE)
                return SS_ECLOSED;
            if (o == XF_ABORTED) {
                ftpd_datachan_reset(&s->dc);
                ftpd_session_reply(s, 426, "Connection closed; transfer aborted.");
                ftpd_session_reply(s, 226, "ABOR command successful.");
                return -1;
            }
            continue;
        }
        ftpd_datachan_reset(&s->dc);
        ftpd_session_reply(s, 425, "Can't open data connection: %s.",
                           strerror(-rc));
        return -1;
    }
    if (ftpd_session_reply(s, 150, fmt150, arg150) < 0)
        return SS_ECLOSED;
    /* Under PROT P the client starts its TLS handshake once it has the
     * 150, so the data connection becomes TLS only now. */
    return ftpd_ftps_data_start(s);
}

/* Sends all of buf on the data connection (non-blocking, polling). */
static enum outcome send_all(xfer *x, const char *buf, size_t n)
{
    ftpd_session *s = x->s;
    while (n > 0) {
        ssize_t w = s->dc.io->send(s->dc.io, buf, n);
        if (w == -EAGAIN || w == -EWOULDBLOCK) {
            enum outcome o = wait_data(x, POLLOUT);
            if (o != XF_OK)
                return o;
            continue;
        }
        if (w < 0) {
            x->err = (int)w;
            return XF_DATA_ERR;
        }
        buf += w;
        n -= (size_t)w;
        x->bytes += (uint64_t)w;
        ftpd_counters_add(s->ctx->counters, FTPD_C_DOWNLOAD_BYTES, (uint64_t)w);
        s->xfer_bytes = x->bytes;
    }
    return XF_OK;
}

/* The reply and log line after a transfer that started (150 sent). */
static int finish(xfer *x, enum outcome o, const char *ok_text)
{
    ftpd_session *s = x->s;
    ftpd_ftps_data_end(s); /* close_notify: the transfer ended cleanly */
    ftpd_datachan_reset(&s->dc);
    xfer_end(s);
    s->xfer_cmd = NULL;
    const char *result = "ok";
    char why[96];
    int rc = 0;
    switch (o) {
    case XF_OK:
        rc = ftpd_session_reply(s, 226, "%s", ok_text);
        break;
    case XF_ABORTED:
        result = "aborted";
        ftpd_session_reply(s, 426, "Connection closed; transfer aborted.");
        rc = ftpd_session_reply(s, 226, "ABOR command successful.");
        break;
    case XF_TIMEOUT:
        result = "timeout";
        rc = ftpd_session_reply(s, 426, "Data connection timed out; transfer "
                                "aborted.");
        break;
    case XF_DATA_ERR:
        snprintf(why, sizeof why, "data connection: %s", strerror(-x->err));
        result = why;
        rc = ftpd_session_reply(s, 426, "Connection closed; transfer aborted.");
        break;
    case XF_CTRL_GONE:
        result = "control connection lost";
        rc = SS_ECLOSED;
        break;
    case XF_QUOTA:
        result = "quota";
        ftpd_counters_add(s->ctx->counters, FTPD_C_QUOTA_REFUSALS, 1);
        rc = ftpd_session_reply(s, 552, "Quota exceeded: upload stopped after "
                                "%" PRIu64 " bytes, which were kept.", x->bytes);
        break;
    case XF_FILE_ERR:
        snprintf(why, sizeof why, "file: %s", strerror(-x->err));
        result = why;
        if (x->err == -EDQUOT) {
            ftpd_counters_add(s->ctx->counters, FTPD_C_QUOTA_REFUSALS, 1);
            rc = ftpd_session_reply(s, 552, "Quota exceeded.");
        }
        else if (x->err == -ENOSPC)
            rc = ftpd_session_reply(s, 452, "Insufficient storage space; "
                                    "%" PRIu64 " bytes were kept.", x->bytes);
        else
            rc = ftpd_session_reply(s, 451, "Local error: %s.",
                                    strerror(-x->err));
        break;
    }
    ftpd_xfer_record r = {
        .user = s->user, .client = s->client, .command = x->cmd,
        .path = x->path, .bytes = x->bytes, .seconds = ftpd_now() - x->start,
        .ascii = s->ascii, .incoming = x->incoming, .result = result};
    ftpd_log_transfer(&s->ctx->log, &r);
    if (s->quit_after) {
        ftpd_session_reply(s, 221, "Goodbye.");
        s->quit = true;
    }
    return rc < 0 ? rc : 0;
}

/* --- RETR -------------------------------------------------------------- */

static enum outcome send_binary(xfer *x, int fd, off_t off, off_t end)
{
    ftpd_session *s = x->s;
    bool limited = ftpd_rate_limit(&s->rate, FTPD_RATE_DOWN) != 0;
    if (s->dc.plain_io) {
        size_t chunk = limited ? ftpd_rate_chunk(&s->rate, FTPD_RATE_DOWN,
                                                 SENDFILE_CHUNK)
                               : SENDFILE_CHUNK;
        while (off < end) {
            size_t want = (size_t)(end - off) < chunk ? (size_t)(end - off)
                                                      : chunk;
            ssize_t n = sendfile(s->dc.fd, fd, &off, want);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN) {
                enum outcome o = wait_data(x, POLLOUT);
                if (o != XF_OK)
                    return o;
                continue;
            }
            if (n < 0) {
                x->err = -errno;
                /* EPIPE/ECONNRESET are the client's side; others ours. */
                return (errno == EPIPE || errno == ECONNRESET) ? XF_DATA_ERR
                                                               : XF_FILE_ERR;
            }
            if (n == 0) /* the file shrank under us: send what there is */
                break;
            x->bytes += (uint64_t)n;
            s->xfer_bytes = x->bytes;
            ftpd_counters_add(s->ctx->counters, FTPD_C_DOWNLOAD_BYTES,
                              (uint64_t)n);
            if (limited) {
                enum outcome o = pace(x, FTPD_RATE_DOWN, (uint64_t)n);
                if (o != XF_OK)
                    return o;
                continue;
            }
            /* Between chunks, a waiting ABOR is seen without a full poll. */
            struct pollfd p = {.fd = ftpd_session_fd(s), .events = POLLIN | POLLPRI};
            if (ftpd_session_pending(s) > 0 || poll(&p, 1, 0) > 0) {
                enum outcome o = check_control(x);
                if (o != XF_OK)
                    return o;
            }
        }
        return XF_OK;
    }
    char *buf = malloc(CHUNK);
    if (!buf) {
        x->err = -ENOMEM;
        return XF_FILE_ERR;
    }
    enum outcome o = XF_OK;
    size_t chunk = limited ? ftpd_rate_chunk(&s->rate, FTPD_RATE_DOWN, CHUNK)
                           : CHUNK;
    while (off < end && o == XF_OK) {
        size_t want = (size_t)(end - off) < chunk ? (size_t)(end - off) : chunk;
        ssize_t n = pread(fd, buf, want, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            x->err = -errno;
            o = XF_FILE_ERR;
            break;
        }
        if (n == 0)
            break;
        off += n;
        o = send_all(x, buf, (size_t)n);
        if (limited && o == XF_OK)
            o = pace(x, FTPD_RATE_DOWN, (uint64_t)n);
    }
    free(buf);
    return o;
}

/* TYPE A: the file's LF line ends go out as CRLF. */
static enum outcome send_ascii(xfer *x, int fd, off_t off, off_t end)
{
    ftpd_rate *rate = &x->s->rate;
    bool limited = ftpd_rate_limit(rate, FTPD_RATE_DOWN) != 0;
    size_t chunk = limited ? ftpd_rate_chunk(rate, FTPD_RATE_DOWN, CHUNK) : CHUNK;
    char *in = malloc(CHUNK), *out = malloc(2 * CHUNK);
    enum outcome o = XF_OK;
    if (!in || !out) {
        x->err = -ENOMEM;
        o = XF_FILE_ERR;
    }
    while (o == XF_OK && off < end) {
        size_t want = (size_t)(end - off) < chunk ? (size_t)(end - off) : chunk;
        ssize_t n = pread(fd, in, want, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            x->err = -errno;
            o = XF_FILE_ERR;
            break;
        }
        if (n == 0)
            break;
        size_t m = 0;
        for (ssize_t i = 0; i < n; i++) {
            if (in[i] == '\n')
                out[m++] = '\r';
            out[m++] = in[i];
        }
        off += n;
        o = send_all(x, out, m);
        if (limited && o == XF_OK)
            o = pace(x, FTPD_RATE_DOWN, m);
    }
    free(in);
    free(out);
    return o;
}

int ftpd_cmd_retr(ftpd_session *s, const char *arg, size_t len)
{
    xfer x;
    struct stat st;
    off_t rest = s->rest;
    bool rang = s->have_rang;
    off_t rs = s->rang_start, re = s->rang_end;
    s->rest = 0;
    s->have_rang = false;
    if (!ftpd_ftps_data_allowed(s))
        return 0;
    int fd = ftpd_vfs_open_read(&s->vfs, arg, len, &st);
    if (fd < 0)
        return ftpd_session_reply_errno(s, fd, arg);
    off_t off = rest, end = st.st_size;
    if (rang) {
        off = rs;
        end = re + 1 < st.st_size ? re + 1 : st.st_size;
    }
    if (off > st.st_size) {
        close(fd);
        return ftpd_session_reply(s, 554, "Restart position %lld is beyond the "
                                  "end of the file (%lld bytes).",
                                  (long long)off, (long long)st.st_size);
    }
    xfer_begin(&x, s, "RETR", arg, len, false);
    char what[FTPD_VFS_PATH_MAX + 64];
    snprintf(what, sizeof what, "%s (%lld bytes)", x.path,
             (long long)(end - off));
    int rc = open_data(&x, s->ascii ? "Opening ASCII mode data connection for %s."
                                    : "Opening BINARY mode data connection for %s.",
                       what);
    if (rc < 0) {
        close(fd);
        xfer_end(s);
        return rc == -1 ? 0 : rc;
    }
    enum outcome o = s->ascii ? send_ascii(&x, fd, off, end)
                              : send_binary(&x, fd, off, end);
    close(fd);
    return finish(&x, o, "Transfer complete.");
}

/* --- STOR, APPE, STOU -------------------------------------------------- */

typedef struct writer {
    int fd;
    off_t pos, size; /* where the next byte goes; the file's size */
    off_t flushed;   /* writeback started up to here (sync_file_range) */
} writer;

/* Every this many bytes an upload starts the disk writing what it has so
 * far, so the fsync before 226 waits for the last stretch only, not for
 * the whole file, and the disk works while the network does. */
#define WRITEBACK_AHEAD (8 << 20)

/* Writes n bytes at w->pos, reserving quota for the part that grows the
 * file.  *written gets what was written; returns XF_OK, XF_QUOTA (wrote
 * what fitted) or XF_FILE_ERR. */
static enum outcome write_chunk(xfer *x, writer *w, const char *buf, size_t n)
{
    ftpd_session *s = x->s;
    uint64_t growth = 0;
    if (w->pos + (off_t)n > w->size)
        growth = (uint64_t)(w->pos + (off_t)n - w->size);
    uint64_t got = 0;
    size_t can = n;
    if (growth > 0) {
        int rc = ftpd_store_quota_reserve(&s->quota, growth, &got);
        if (ftpd_store_unavailable(rc)) {
            /* Nothing is written that the quota has not granted. */
            x->err = rc;
            return XF_FILE_ERR;
        }
        if (rc < 0)
            got = 0;
        can = n - (size_t)(growth - got);
    }
    size_t done = 0;
    int err = 0;
    while (done < can) {
        ssize_t k = pwrite(w->fd, buf + done, can - done, w->pos + (off_t)done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            err = -errno;
            break;
        }
        done += (size_t)k;
    }
    off_t new_pos = w->pos + (off_t)done;
    if (new_pos - w->flushed >= WRITEBACK_AHEAD) {
        /* Only starts the writes: it does not wait for them.  A failure
         * changes nothing; the fsync at the end still decides. */
        sync_file_range(w->fd, w->flushed, new_pos - w->flushed,
                        SYNC_FILE_RANGE_WRITE);
        w->flushed = new_pos;
    }
    uint64_t used_growth = new_pos > w->size ? (uint64_t)(new_pos - w->size) : 0;
    if (got > 0)
        ftpd_store_quota_settle(&s->quota, got,
                                used_growth < got ? used_growth : got);
    w->pos = new_pos;
    if (new_pos > w->size)
        w->size = new_pos;
    x->bytes += done;
    s->xfer_bytes = x->bytes;
    ftpd_counters_add(s->ctx->counters, FTPD_C_UPLOAD_BYTES, done);
    if (err) {
        x->err = err;
        return XF_FILE_ERR;
    }
    return can < n ? XF_QUOTA : XF_OK;
}

static enum outcome receive(xfer *x, writer *w)
{
    ftpd_session *s = x->s;
    /* A binary upload reads up to 256 KiB a call: with 64 KiB it made four
     * times the recv/pwrite calls and ran at two thirds of vsftpd's rate
     * even without the fsync.  Above the mmap threshold, so the buffer is
     * unmapped when the transfer ends, not kept in a thread's arena. */
    size_t cap = s->ascii ? CHUNK : RECV_CHUNK;
    char *buf = malloc(cap), *conv = s->ascii ? malloc(CHUNK + 1) : NULL;
    if (!buf || (s->ascii && !conv)) {
        free(buf);
        free(conv);
        x->err = -ENOMEM;
        return XF_FILE_ERR;
    }
    bool cr_pending = false; /* TYPE A: a CR ended the previous chunk */
    bool limited = ftpd_rate_limit(&s->rate, FTPD_RATE_UP) != 0;
    size_t chunk = limited ? ftpd_rate_chunk(&s->rate, FTPD_RATE_UP, CHUNK)
                           : cap;
    enum outcome o = XF_OK;
    for (;;) {
        ssize_t n = s->dc.io->recv(s->dc.io, buf, chunk);
        if (n == -EAGAIN || n == -EWOULDBLOCK) {
            o = wait_data(x, POLLIN);
            if (o != XF_OK)
                break;
            continue;
        }
        if (n < 0) {
            x->err = (int)n;
            o = XF_DATA_ERR;
            break;
        }
        if (n == 0) {
            if (cr_pending)
                o = write_chunk(x, w, "\r", 1);
            break;
        }
        if (!s->ascii) {
            o = write_chunk(x, w, buf, (size_t)n);
        } else {
            size_t m = 0;
            if (cr_pending) {
                if (buf[0] != '\n')
                    conv[m++] = '\r';
                cr_pending = false;
            }
            for (ssize_t i = 0; i < n; i++) {
                if (buf[i] == '\r') {
                    if (i + 1 == n) {
                        cr_pending = true;
                        continue;
                    }
                    if (buf[i + 1] == '\n')
                        continue; /* CRLF -> LF */
                }
                conv[m++] = buf[i];
            }
            o = write_chunk(x, w, conv, m);
        }
        if (o != XF_OK)
            break;
        if (limited) {
            if ((o = pace(x, FTPD_RATE_UP, (uint64_t)n)) != XF_OK)
                break;
            continue;
        }
        struct pollfd p = {.fd = ftpd_session_fd(s), .events = POLLIN | POLLPRI};
        if (ftpd_session_pending(s) > 0 || poll(&p, 1, 0) > 0) {
            o = check_control(x);
            if (o != XF_OK)
                break;
        }
    }
    free(buf);
    free(conv);
    return o;
}

/* True when the user is at or over the quota and the upload cannot give
 * anything back first (an overwrite of a non-empty file can). */
static bool quota_full(ftpd_session *s, const char *arg, size_t len, bool trunc)
{
    uint64_t used, limit;
    if (ftpd_store_quota_get(&s->quota, &used, &limit) < 0 ||
        limit == FTPD_QUOTA_UNLIMITED || used < limit)
        return false;
    struct stat st;
    if (trunc && ftpd_vfs_stat(&s->vfs, arg, len, &st) == 0 && st.st_size > 0)
        return false;
    return true;
}

static int store(ftpd_session *s, const char *cmd, const char *arg, size_t len,
                 enum ftpd_vfs_wmode mode)
{
    xfer x;
    off_t rest = s->rest;
    s->rest = 0;
    s->have_rang = false;
    if (rest > 0 && mode != FTPD_VFS_W_TRUNC)
        return ftpd_session_reply(s, 503, "REST is only for STOR and RETR.");
    if (!ftpd_ftps_data_allowed(s))
        return 0;
    if (rest > 0)
        mode = FTPD_VFS_W_OFFSET;
    if (quota_full(s, arg, len, mode == FTPD_VFS_W_TRUNC)) {
        ftpd_counters_add(s->ctx->counters, FTPD_C_QUOTA_REFUSALS, 1);
        return ftpd_session_reply(s, 552, "Quota exceeded: nothing more can be "
                                  "stored.");
    }
    xfer_begin(&x, s, cmd, arg, len, true);
    ftpd_vfs_wopen info = {0};
    int fd;
    if (mode == FTPD_VFS_W_EXCL) {
        fd = ftpd_vfs_create_unique(&s->vfs, NULL, 0, len ? arg : NULL, x.path,
                                    sizeof x.path);
    } else {
        fd = ftpd_vfs_open_write(&s->vfs, arg, len, mode, rest, &info);
    }
    if (fd < 0) {
        xfer_end(s);
        return ftpd_session_reply_errno(s, fd, arg);
    }
    if (mode == FTPD_VFS_W_TRUNC && info.old_size > 0)
        ftpd_store_quota_give_back(&s->quota, (uint64_t)info.old_size);
    struct stat st;
    writer w = {.fd = fd, .pos = 0, .size = 0};
    if (fstat(fd, &st) == 0)
        w.size = st.st_size;
    if (mode == FTPD_VFS_W_OFFSET)
        w.pos = rest;
    else if (mode == FTPD_VFS_W_APPEND)
        w.pos = w.size;
    w.flushed = w.pos;
    int rc;
    if (mode == FTPD_VFS_W_EXCL)
        rc = open_data(&x, "FILE: %s", x.path); /* RFC 1123 4.1.2.9 */
    else
        rc = open_data(&x, "Ok to send data for %s.", x.path);
    if (rc < 0) {
        close(fd);
        xfer_end(s);
        return rc == -1 ? 0 : rc;
    }
    enum outcome o = receive(&x, &w);
    /* Whatever happened, what arrived is kept and made durable: a client
     * resumes from SIZE, which must not count bytes a crash would lose. */
    if (fsync(fd) < 0 && o == XF_OK) {
        x.err = -errno;
        o = XF_FILE_ERR;
    }
    close(fd);
    if (mode == FTPD_VFS_W_EXCL) {
        char text[FTPD_VFS_PATH_MAX + 64];
        snprintf(text, sizeof text, "Transfer complete (unique file name: %s).",
                 x.path);
        return finish(&x, o, text);
    }
    return finish(&x, o, "Transfer complete.");
}

int ftpd_cmd_stor(ftpd_session *s, const char *arg, size_t len)
{
    return store(s, "STOR", arg, len, FTPD_VFS_W_TRUNC);
}

int ftpd_cmd_appe(ftpd_session *s, const char *arg, size_t len)
{
    return store(s, "APPE", arg, len, FTPD_VFS_W_APPEND);
}

int ftpd_cmd_stou(ftpd_session *s, const char *arg, size_t len)
{
    if (memchr(arg, '/', len))
        return ftpd_session_reply(s, 553, "STOU takes a name prefix, not a path.");
    return store(s, "STOU", arg, len, FTPD_VFS_W_EXCL);
}

/* --- LIST, NLST, MLSD -------------------------------------------------- */

typedef struct list_out {
    xfer *x;
    enum outcome o;
    size_t len;
    char buf[16384];
} list_out;

static int list_flush(list_out *lo)
{
    if (lo->len && lo->o == XF_OK)
        lo->o = send_all(lo->x, lo->buf, lo->len);
    lo->len = 0;
    return lo->o == XF_OK ? 0 : -ECANCELED;
}

static int list_line(void *ctx, const char *line, size_t len)
{
    list_out *lo = ctx;
    if (lo->len + len > sizeof lo->buf && list_flush(lo) < 0)
        return -ECANCELED;
    if (len > sizeof lo->buf)
        return 0;
    memcpy(lo->buf + lo->len, line, len);
    lo->len += len;
    return 0;
}

/* Skips ls-style options ("-la") before the path, noting -a. */
static const char *list_args(const char *arg, size_t *len, unsigned *flags)
{
    while (*arg == '-') {
        const char *p = arg + 1;
        while (*p && *p != ' ') {
            if (*p == 'a' || *p == 'A')
                *flags |= FTPD_LIST_ALL;
            p++;
        }
        while (*p == ' ')
            p++;
        *len -= (size_t)(p - arg);
        arg = p;
    }
    return arg;
}

static int listing(ftpd_session *s, const char *cmd, const char *arg,
                   size_t len, enum ftpd_list_format fmt)
{
    unsigned flags = 0;
    if (!ftpd_ftps_data_allowed(s))
        return 0;
    if (fmt != FTPD_LIST_MLSD)
        arg = list_args(arg, &len, &flags);
    const char *p = len ? arg : ".";
    size_t pl = len ? len : 1;
    struct stat st;
    int rc = ftpd_vfs_stat(&s->vfs, p, pl, &st);
    if (rc < 0)
        return ftpd_session_reply_errno(s, rc, p);
    if (fmt == FTPD_LIST_MLSD && !S_ISDIR(st.st_mode))
        return ftpd_session_reply(s, 501, "MLSD needs a directory; use MLST.");
    xfer x;
    xfer_begin(&x, s, cmd, p, pl, false);
    rc = open_data(&x, "Here comes the directory listing%s.", "");
    if (rc < 0) {
        xfer_end(s);
        return rc == -1 ? 0 : rc;
    }
    list_out *lo = malloc(sizeof *lo);
    if (!lo) {
        x.err = -ENOMEM;
        return finish(&x, XF_FILE_ERR, "");
    }
    lo->x = &x;
    lo->o = XF_OK;
    lo->len = 0;
    long n = ftpd_list_path(&s->vfs, p, pl, fmt, flags, s->mlst_facts,
                            list_line, lo);
    list_flush(lo);
    enum outcome o = lo->o;
    free(lo);
    if (o == XF_OK && n < 0) {
        x.err = (int)n;
        o = XF_FILE_ERR;
    }
    return finish(&x, o, "Directory send OK.");
}

int ftpd_cmd_list(ftpd_session *s, const char *arg, size_t len)
{
    return listing(s, "LIST", arg, len, FTPD_LIST_LONG);
}

int ftpd_cmd_nlst(ftpd_session *s, const char *arg, size_t len)
{
    return listing(s, "NLST", arg, len, FTPD_LIST_NAMES);
}

int ftpd_cmd_mlsd(ftpd_session *s, const char *arg, size_t len)
{
    return listing(s, "MLSD", arg, len, FTPD_LIST_MLSD);
}
