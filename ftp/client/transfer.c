/* ftp/client/transfer.c - see transfer.h. */
#include "transfer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checksum.h"
#include "data.h"
#include "digest.h"
#include "progress.h"
#include "status.h"

#define BUF_SIZE (256 * 1024)
/* Bytes fetched again and compared when the server cannot checksum a range. */
#define OVERLAP (64 * 1024)

static void note(const ftpc_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note(const ftpc_session *s, const char *fmt, ...)
{
    if (s->opts->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* --limit-rate: the chunk size that keeps the pace smooth, and the pause
 * that keeps the average at the limit.  This transfer's bytes only. */
static size_t chunk_for(const ftpc_session *s)
{
    double lim = s->opts->limit_rate;
    if (lim <= 0 || lim / 20 >= BUF_SIZE)
        return BUF_SIZE;
    return lim / 20 < 1024 ? 1024 : (size_t)(lim / 20);
}

static void pace(const ftpc_session *s, const ftpc_progress *bar)
{
    double lim = s->opts->limit_rate;
    if (lim <= 0)
        return;
    double ahead = (double)(bar->done - bar->start) / lim - (ftpc_now() - bar->t0);
    if (ahead > 0) {
        struct timespec ts = {(time_t)ahead,
                              (long)((ahead - (double)(time_t)ahead) * 1e9)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
}

static int local_fail(ftpc_session *s, const char *what, const char *path)
{
    snprintf(s->ctrl.err, sizeof s->ctrl.err, "%s %s: %s", what, path,
             strerror(errno));
    return FTPC_ERR_LOCAL;
}

/* SIZE remote: the size, -1 when unknown (no SIZE, or refused), or a
 * negative status below -1 is never returned: NET comes back as *status. */
static int64_t remote_size(ftpc_session *s, const char *remote, int *status)
{
    *status = 0;
    int code = ftpc_ctrl_cmd(&s->ctrl, "SIZE %s", remote);
    if (code < 0) {
        *status = code;
        return -1;
    }
    if (code != 213)
        return -1;
    char *end;
    long long v = strtoll(s->ctrl.reply.last, &end, 10);
    return end != s->ctrl.reply.last && v >= 0 ? (int64_t)v : -1;
}

/* How long an upload that lost its data connection waits for the server's
 * reason on the control connection. */
#define UPLOAD_REPLY_WAIT_S 5.0

/* The final reply of a transfer: 2xx done, 4xx worth a retry, 5xx not. */
static int final_reply(ftpc_session *s, const char *what)
{
    int code = ftpc_ctrl_read(&s->ctrl);
    if (code < 0)
        return code;
    if (code / 100 == 2)
        return 0;
    return ftpc_ctrl_fail(&s->ctrl, code / 100 == 4 ? FTPC_ERR_NET : FTPC_ERR_REMOTE,
                          what);
}

/* The transfer command's first reply: 1xx goes on, anything else fails. */
static int start_reply(ftpc_session *s, int code, const char *what)
{
    if (code < 0)
        return code;
    if (code / 100 == 1)
        return 0;
    return ftpc_ctrl_fail(&s->ctrl, code / 100 == 4 ? FTPC_ERR_NET : FTPC_ERR_REMOTE,
                          what);
}

static void mismatch(ftpc_session *s, ftpc_algo algo, const char *what,
                     const char *local_hex, const char *remote_hex,
                     const char *tail)
{
    snprintf(s->ctrl.err, sizeof s->ctrl.err,
             "checksum mismatch for %s: local %s %s, server %s %s%s", what,
             ftpc_algo_name(algo), local_hex, ftpc_algo_name(algo), remote_hex,
             tail);
}

/* Compares the whole remote file's checksum with the local digest, after a
 * transfer in either direction.  Fills verdict ("verified sha256", or why
 * not); returns 0, FTPC_ERR_VERIFY on a mismatch (tail ends the message),
 * or the error that stopped the check. */
static int verify_whole(ftpc_session *s, const char *remote, ftpc_algo algo,
                        ftpc_digest *dg, const char *tail, char *verdict,
                        size_t cap)
{
    snprintf(verdict, cap, "not verified: the server offers no checksum");
    if (algo == FTPC_ALGO_NONE)
        return 0;
    char lhex[FTPC_HEX_MAX], rhex[FTPC_HEX_MAX];
    ftpc_digest_peek(dg, lhex);
    int r = ftpc_remote_hash(s, remote, algo, -1, rhex);
    if (r == FTPC_ERR_NET || r == FTPC_ERR_REMOTE)
        return r;
    if (r != 0)
        return 0;
    if (strcmp(lhex, rhex) != 0) {
        mismatch(s, algo, remote, lhex, rhex, tail);
        return FTPC_ERR_VERIFY;
    }
    snprintf(verdict, cap, "verified %s", ftpc_algo_name(algo));
    return 0;
}

/* ---- download ------------------------------------------------------- */

typedef struct get_state {
    const char *remote, *local;
    char part[4096];
    int fd;
    ftpc_algo algo;
    ftpc_digest dg;
    char *buf;
} get_state;

enum { RESTART = 1 }; /* internal: start over from zero */

/* Decides where to resume: sets *offset and, for an unverifiable resume,
 * fills cmp/cmp_len with the bytes to compare.  Leaves dg fed up to
 * *offset. */
static int plan_resume(ftpc_session *s, get_state *g, int64_t total,
                       uint64_t have, uint64_t *offset, char *cmp,
                       size_t *cmp_len)
{
    *offset = 0;
    *cmp_len = 0;
    ftpc_digest_close(&g->dg);
    ftpc_digest_init(&g->dg, g->algo);
    if (have == 0)
        return 0;
    if (total >= 0 && have > (uint64_t)total) {
        note(s, "%s: the server's file is smaller than %s; starting over from zero",
             g->remote, g->part);
        return 0;
    }
    if (g->algo != FTPC_ALGO_NONE) {
        int r = ftpc_digest_file(&g->dg, g->fd, have);
        if (r < 0) {
            errno = -r;
            return local_fail(s, "read", g->part);
        }
        char lhex[FTPC_HEX_MAX];
        ftpc_digest_peek(&g->dg, lhex);
        ftpc_algo used;
        r = ftpc_remote_range_matches(s, g->remote, g->fd, have, g->algo, lhex,
                                      &used);
        if (r >= 0) {
            if (r == 1) {
                note(s, "%s: resuming at byte %" PRIu64 " (%s of the first %" PRIu64
                     " bytes matches)", g->remote, have, ftpc_algo_name(used), have);
                *offset = have;
                return 0;
            }
            note(s, "%s: the file changed on the server since the partial download "
                 "(%s of the first %" PRIu64 " bytes differs); starting over from zero",
                 g->remote, ftpc_algo_name(used), have);
            ftpc_digest_close(&g->dg);
            ftpc_digest_init(&g->dg, g->algo);
            return 0;
        }
        if (r != FTPC_ERR_UNSUPPORTED)
            return r;
        ftpc_digest_close(&g->dg);
        ftpc_digest_init(&g->dg, g->algo);
    }
    /* No range checksum: fetch the tail of what we have again and compare. */
    uint64_t back = have < OVERLAP ? have : OVERLAP;
    *offset = have - back;
    ssize_t n = pread(g->fd, cmp, (size_t)back, (off_t)*offset);
    if (n != (ssize_t)back)
        return local_fail(s, "read", g->part);
    *cmp_len = (size_t)back;
    int r = ftpc_digest_file(&g->dg, g->fd, *offset);
    if (r < 0) {
        errno = -r;
        return local_fail(s, "read", g->part);
    }
    note(s, "%s: resuming at byte %" PRIu64 " (the server cannot checksum a range; "
         "comparing the last %" PRIu64 " bytes instead)", g->remote, have, back);
    return 0;
}

static int get_once(ftpc_session *s, get_state *g)
{
    int st;
    int64_t total = remote_size(s, g->remote, &st);
    if (st < 0)
        return st;
    struct stat sb;
    if (fstat(g->fd, &sb) < 0)
        return local_fail(s, "stat", g->part);
    uint64_t offset;
    char *cmp = g->buf + BUF_SIZE; /* per transfer: mirror runs several */
    size_t cmp_len;
    int r = plan_resume(s, g, total, (uint64_t)sb.st_size, &offset, cmp, &cmp_len);
    if (r < 0)
        return r;

    ftpc_data d;
    r = ftpc_data_open(s, &d);
    if (r < 0)
        return r;
    if (offset > 0) {
        int code = ftpc_ctrl_cmd(&s->ctrl, "REST %" PRIu64, offset);
        if (code < 0) {
            ftpc_data_close(&d);
            return code;
        }
        if (code != 350) {
            note(s, "%s: the server cannot resume (%d %s); starting over from zero",
                 g->remote, code, s->ctrl.reply.last);
            offset = 0;
            cmp_len = 0;
            ftpc_digest_close(&g->dg);
            ftpc_digest_init(&g->dg, g->algo);
        }
    }
    /* Keep the overlap bytes on disk until they are compared: they are
     * rewritten with the same values, or the whole file starts over. */
    if (ftruncate(g->fd, (off_t)(offset + cmp_len)) < 0) {
        ftpc_data_close(&d);
        return local_fail(s, "truncate", g->part);
    }
    r = start_reply(s, ftpc_ctrl_cmd(&s->ctrl, "RETR %s", g->remote), NULL);
    if (r == 0)
        r = ftpc_data_ready(s, &d);
    if (r < 0) {
        ftpc_data_close(&d);
        return r;
    }

    ftpc_progress bar;
    ftpc_progress_start_to(&bar, g->local, total, offset, s->opts->quiet,
                           s->progress);
    uint64_t pos = offset;
    size_t cmp_done = 0;
    for (;;) {
        ssize_t n = ftpc_stream_read(&d.io, g->buf, chunk_for(s), s->ctrl.timeout_s);
        if (n == 0)
            break;
        if (n < 0) {
            ftpc_progress_clear(&bar);
            ftpc_data_close(&d);
            snprintf(s->ctrl.err, sizeof s->ctrl.err,
                     "data connection lost at byte %" PRIu64 ": %s", pos,
                     strerror((int)-n));
            return FTPC_ERR_NET;
        }
        if (cmp_done < cmp_len) {
            size_t k = cmp_len - cmp_done < (size_t)n ? cmp_len - cmp_done : (size_t)n;
            if (memcmp(cmp + cmp_done, g->buf, k) != 0) {
                ftpc_progress_clear(&bar);
                ftpc_data_close(&d);
                note(s, "%s: the file changed on the server since the partial "
                     "download (bytes before %" PRIu64 " differ); starting over from zero",
                     g->remote, offset + cmp_len);
                if (ftruncate(g->fd, 0) < 0)
                    return local_fail(s, "truncate", g->part);
                /* This connection still has a transfer in flight. */
                ftpc_ctrl_close(&s->ctrl);
                return RESTART;
            }
            cmp_done += k;
        }
        const char *p = g->buf;
        size_t left = (size_t)n;
        while (left > 0) {
            ssize_t w = pwrite(g->fd, p, left, (off_t)pos);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                ftpc_progress_clear(&bar);
                ftpc_data_close(&d);
                ftpc_ctrl_close(&s->ctrl);
                return local_fail(s, "write", g->part);
            }
            p += w;
            left -= (size_t)w;
            pos += (uint64_t)w;
        }
        ftpc_digest_update(&g->dg, g->buf, (size_t)n);
        ftpc_progress_update(&bar, pos);
        pace(s, &bar);
    }
    ftpc_data_close(&d);
    r = final_reply(s, NULL);
    if (r == 0 && total >= 0 && pos < (uint64_t)total) {
        snprintf(s->ctrl.err, sizeof s->ctrl.err,
                 "the transfer ended at byte %" PRIu64 " of %" PRId64, pos, total);
        r = FTPC_ERR_NET;
    }
    if (r == 0 && cmp_done < cmp_len) {
        snprintf(s->ctrl.err, sizeof s->ctrl.err,
                 "the server's file is shorter than the partial copy");
        r = FTPC_ERR_NET;
    }
    if (r == 0 && fsync(g->fd) < 0)
        r = local_fail(s, "fsync", g->part);
    if (r < 0) {
        ftpc_progress_clear(&bar);
        return r;
    }

    char verdict[128], tail[4200];
    snprintf(tail, sizeof tail, "; the download is kept as %s", g->part);
    r = verify_whole(s, g->remote, g->algo, &g->dg, tail, verdict,
                     sizeof verdict);
    if (r < 0) {
        ftpc_progress_clear(&bar);
        return r;
    }
    if (rename(g->part, g->local) < 0) {
        ftpc_progress_clear(&bar);
        return local_fail(s, "rename to", g->local);
    }
    ftpc_progress_finish(&bar, verdict);
    return 0;
}

/* Reconnects after a lost connection; counts and reports the attempt. */
static int retry_wait(ftpc_session *s, int *attempt, const char *what)
{
    if (*attempt >= s->opts->retries)
        return -1;
    (*attempt)++;
    note(s, "%s: %s; retrying (%d of %d)", what, ftpc_session_err(s), *attempt,
         s->opts->retries);
    if (s->opts->retry_delay_s > 0) {
        double d = s->opts->retry_delay_s;
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    return 0;
}

/* Runs one transfer attempt function with reconnects and retries. */
static int with_retries(ftpc_session *s, const char *what,
                        int (*once)(ftpc_session *, void *), void *arg)
{
    int attempt = 0;
    for (;;) {
        int r = 0;
        if (!ftpc_session_alive(s))
            r = ftpc_session_reopen(s);
        if (r == FTPC_ERR_CONNECT)
            r = FTPC_ERR_NET; /* mid-job, a refused connect is worth a retry */
        if (r == 0) {
            r = once(s, arg);
            if (r == RESTART)
                continue; /* not a failure: the plan changed */
        }
        if (r != FTPC_ERR_NET)
            return r;
        /* Whatever state the server is in, start from a clean session. */
        ftpc_ctrl_close(&s->ctrl);
        if (retry_wait(s, &attempt, what) < 0)
            return r;
    }
}

static int get_once_cb(ftpc_session *s, void *arg)
{
    return get_once(s, arg);
}

int ftpc_get(ftpc_session *s, const char *remote, const char *local, bool cont)
{
    get_state g = {.remote = remote, .local = local, .fd = -1};
    if (snprintf(g.part, sizeof g.part, "%s.part", local) >= (int)sizeof g.part) {
        snprintf(s->ctrl.err, sizeof s->ctrl.err, "%s: name too long", local);
        return FTPC_ERR_USAGE;
    }
    struct stat sb;
    if (cont && stat(g.part, &sb) < 0 && stat(local, &sb) == 0 &&
        S_ISREG(sb.st_mode) && rename(local, g.part) < 0)
        return local_fail(s, "rename", local);
    g.fd = open(g.part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (g.fd < 0)
        return local_fail(s, "open", g.part);
    g.buf = malloc(BUF_SIZE + OVERLAP);
    if (!g.buf) {
        close(g.fd);
        return local_fail(s, "memory for", local);
    }
    g.algo = ftpc_session_algo(s);
    ftpc_digest_init(&g.dg, g.algo);
    int r = with_retries(s, remote, get_once_cb, &g);
    ftpc_digest_close(&g.dg);
    free(g.buf);
    close(g.fd);
    if (r == 0)
        return 0;
    /* An empty .part only says that nothing arrived: do not leave it. */
    if (stat(g.part, &sb) == 0 && sb.st_size == 0 && r != FTPC_ERR_VERIFY)
        unlink(g.part);
    return r;
}

/* ---- upload --------------------------------------------------------- */

typedef struct put_state {
    const char *local, *remote;
    int fd;
    uint64_t size;
    bool resume;
    ftpc_algo algo;
    ftpc_digest dg;
    char *buf;
} put_state;

/* How much of the file the server already has and can be kept. */
static int plan_upload(ftpc_session *s, put_state *p, uint64_t *offset)
{
    *offset = 0;
    ftpc_digest_close(&p->dg);
    ftpc_digest_init(&p->dg, p->algo);
    if (!p->resume)
        return 0;
    int st;
    int64_t have = remote_size(s, p->remote, &st);
    if (st < 0)
        return st;
    if (have <= 0)
        return 0;
    if ((uint64_t)have > p->size) {
        note(s, "%s: the server's file is larger than %s; uploading from zero",
             p->remote, p->local);
        return 0;
    }
    if (p->algo == FTPC_ALGO_NONE) {
        note(s, "%s: resuming upload at byte %" PRId64 " without a check (the "
             "server offers no checksum)", p->remote, have);
        *offset = (uint64_t)have;
        int r = ftpc_digest_file(&p->dg, p->fd, *offset);
        return r < 0 ? local_fail(s, "read", p->local) : 0;
    }
    int r = ftpc_digest_file(&p->dg, p->fd, (uint64_t)have);
    if (r < 0) {
        errno = -r;
        return local_fail(s, "read", p->local);
    }
    char lhex[FTPC_HEX_MAX];
    ftpc_digest_peek(&p->dg, lhex);
    ftpc_algo used;
    r = ftpc_remote_range_matches(s, p->remote, p->fd, (uint64_t)have, p->algo,
                                  lhex, &used);
    if (r == FTPC_ERR_UNSUPPORTED) {
        note(s, "%s: resuming upload at byte %" PRId64 " without a check (the "
             "server cannot checksum a range)", p->remote, have);
        *offset = (uint64_t)have;
        return 0;
    }
    if (r < 0)
        return r;
    if (r == 1) {
        note(s, "%s: resuming upload at byte %" PRId64 " (%s of the first %" PRId64
             " bytes matches)", p->remote, have, ftpc_algo_name(used), have);
        *offset = (uint64_t)have;
        return 0;
    }
    note(s, "%s: the server's copy differs from %s (%s of the first %" PRId64
         " bytes); uploading from zero", p->remote, p->local,
         ftpc_algo_name(used), have);
    ftpc_digest_close(&p->dg);
    ftpc_digest_init(&p->dg, p->algo);
    return 0;
}

static int put_once(ftpc_session *s, void *arg)
{
    put_state *p = arg;
    uint64_t offset;
    int r = plan_upload(s, p, &offset);
    if (r < 0)
        return r;
    /* Every later attempt continues what this one sent. */
    p->resume = true;
    ftpc_data d;
    r = ftpc_data_open(s, &d);
    if (r < 0)
        return r;
    int code;
    bool appe = false;
    if (offset > 0 && s->feat_rest) {
        /* REST+STOR names the offset, so it cannot land anywhere else. */
        code = ftpc_ctrl_cmd(&s->ctrl, "REST %" PRIu64, offset);
        if (code < 0) {
            ftpc_data_close(&d);
            return code;
        }
        appe = code != 350;
    } else if (offset > 0) {
        appe = true;
    }
    code = ftpc_ctrl_cmd(&s->ctrl, "%s %s", appe ? "APPE" : "STOR", p->remote);
    r = start_reply(s, code, NULL);
    if (r == 0)
        r = ftpc_data_ready(s, &d);
    if (r < 0) {
        ftpc_data_close(&d);
        return r;
    }
    ftpc_progress bar;
    ftpc_progress_start_to(&bar, p->local, (int64_t)p->size, offset,
                           s->opts->quiet, s->progress);
    uint64_t pos = offset;
    while (pos < p->size) {
        size_t want = p->size - pos < chunk_for(s) ? (size_t)(p->size - pos) : chunk_for(s);
        ssize_t n = pread(p->fd, p->buf, want, (off_t)pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO; /* the file shrank while we sent it */
            ftpc_progress_clear(&bar);
            ftpc_data_close(&d);
            ftpc_ctrl_close(&s->ctrl);
            return local_fail(s, "read", p->local);
        }
        int w = ftpc_stream_write_all(&d.io, p->buf, (size_t)n, s->ctrl.timeout_s);
        if (w < 0) {
            ftpc_progress_clear(&bar);
            ftpc_data_close(&d);
            /* A server that stops taking the upload (552 over quota, 452
             * disk full) resets the data connection and says why on the
             * control one: that reply, when it comes soon, is the error
             * (and decides whether a retry is worth it). */
            double t = s->ctrl.timeout_s;
            s->ctrl.timeout_s = t < UPLOAD_REPLY_WAIT_S ? t : UPLOAD_REPLY_WAIT_S;
            int code = ftpc_ctrl_read(&s->ctrl);
            s->ctrl.timeout_s = t;
            if (code >= 400)
                return ftpc_ctrl_fail(&s->ctrl, code / 100 == 4 ? FTPC_ERR_NET
                                                                : FTPC_ERR_REMOTE,
                                      NULL);
            snprintf(s->ctrl.err, sizeof s->ctrl.err,
                     "data connection lost at byte %" PRIu64 ": %s", pos,
                     strerror(-w));
            return FTPC_ERR_NET;
        }
        ftpc_digest_update(&p->dg, p->buf, (size_t)n);
        pos += (uint64_t)n;
        ftpc_progress_update(&bar, pos);
        pace(s, &bar);
    }
    ftpc_data_close(&d);
    r = final_reply(s, NULL);
    if (r < 0) {
        ftpc_progress_clear(&bar);
        return r;
    }
    char verdict[128];
    r = verify_whole(s, p->remote, p->algo, &p->dg, " after the upload",
                     verdict, sizeof verdict);
    if (r < 0) {
        ftpc_progress_clear(&bar);
        return r;
    }
    if (strncmp(verdict, "verified", 8) != 0) {
        /* No checksum: the size is still worth comparing. */
        int64_t have = remote_size(s, p->remote, &r);
        if (r < 0) {
            ftpc_progress_clear(&bar);
            return r;
        }
        if (have >= 0 && (uint64_t)have != p->size) {
            ftpc_progress_clear(&bar);
            snprintf(s->ctrl.err, sizeof s->ctrl.err,
                     "%s: the server has %" PRId64 " bytes after the upload, "
                     "not %" PRIu64, p->remote, have, p->size);
            return FTPC_ERR_VERIFY;
        }
    }
    ftpc_progress_finish(&bar, verdict);
    return 0;
}

int ftpc_put(ftpc_session *s, const char *local, const char *remote, bool cont)
{
    put_state p = {.local = local, .remote = remote, .resume = cont};
    p.fd = open(local, O_RDONLY | O_CLOEXEC);
    if (p.fd < 0)
        return local_fail(s, "open", local);
    struct stat sb;
    if (fstat(p.fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        if (!S_ISREG(sb.st_mode))
            errno = EISDIR;
        int r = local_fail(s, "upload", local);
        close(p.fd);
        return r;
    }
    p.size = (uint64_t)sb.st_size;
    p.buf = malloc(BUF_SIZE);
    if (!p.buf) {
        close(p.fd);
        return local_fail(s, "memory for", local);
    }
    p.algo = ftpc_session_algo(s);
    ftpc_digest_init(&p.dg, p.algo);
    int r = with_retries(s, remote, put_once, &p);
    ftpc_digest_close(&p.dg);
    free(p.buf);
    close(p.fd);
    return r;
}
