/* ftp/client/pget.c - see pget.h. */
#include "pget.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checksum.h"
#include "data.h"
#include "digest.h"
#include "listparse.h"
#include "progress.h"
#include "status.h"
#include "transfer.h"

#define BUF_SIZE (256 * 1024)
#define MIN_SEGMENT (64 * 1024)   /* smaller files are fetched whole */
#define SAVE_EVERY (1u << 20)     /* bytes between two state saves */
#define STATE_MAGIC "sockserv-ftp pget 1"

typedef struct segment {
    uint64_t start, end, done; /* [start, end); done bytes from start on disk */
    uint64_t got;              /* done, including bytes not yet synced */
} segment;

typedef struct pget {
    ftpc_session *s;
    const char *remote, *local;
    char part[4096], state[4200];
    int fd;
    int64_t total, mtime;
    int nseg;
    segment seg[FTPC_PGET_MAX];
    pthread_mutex_t mu;
    ftpc_progress bar;
} pget;

typedef struct seg_worker {
    pget *g;
    int idx;
    ftpc_session sess;
    ftpc_session *s;
    int status;
    char err[FTPC_ERR_MAX];
    pthread_t thread;
    bool started;
} seg_worker;

/* Writes the state atomically (caller holds mu, and has synced the part
 * for every byte it claims). */
static int save_state(pget *g)
{
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", g->state);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -errno;
    fprintf(f, "%s\nsize %" PRId64 "\nmtime %" PRId64 "\nsegments %d\n", STATE_MAGIC,
            g->total, g->mtime, g->nseg);
    for (int i = 0; i < g->nseg; i++)
        fprintf(f, "%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", g->seg[i].start,
                g->seg[i].end, g->seg[i].done);
    int r = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -errno;
    if (fclose(f) != 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, g->state) < 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    return r;
}

/* Reads a state that matches this file (same size and time); false when
 * there is none, or it is for another version of the file. */
static bool load_state(pget *g)
{
    FILE *f = fopen(g->state, "re");
    if (!f)
        return false;
    char magic[64];
    int64_t size, mtime;
    int n;
    bool ok = fgets(magic, sizeof magic, f) &&
              strncmp(magic, STATE_MAGIC "\n", sizeof STATE_MAGIC) == 0 &&
              fscanf(f, "size %" SCNd64 " mtime %" SCNd64 " segments %d", &size, &mtime,
                     &n) == 3 &&
              size == g->total && mtime == g->mtime && n >= 1 && n <= FTPC_PGET_MAX;
    uint64_t covered = 0;
    for (int i = 0; ok && i < n; i++) {
        segment *sg = &g->seg[i];
        ok = fscanf(f, "%" SCNu64 " %" SCNu64 " %" SCNu64, &sg->start, &sg->end,
                    &sg->done) == 3 &&
             sg->start == covered && sg->end >= sg->start &&
             sg->done <= sg->end - sg->start;
        covered = sg->end;
        sg->got = sg->done;
    }
    fclose(f);
    if (!ok || covered != (uint64_t)g->total)
        return false;
    g->nseg = n;
    return true;
}

static void plan_segments(pget *g, int n)
{
    uint64_t each = (uint64_t)g->total / (uint64_t)n;
    g->nseg = n;
    for (int i = 0; i < n; i++) {
        g->seg[i].start = each * (uint64_t)i;
        g->seg[i].end = i == n - 1 ? (uint64_t)g->total : each * (uint64_t)(i + 1);
        g->seg[i].done = g->seg[i].got = 0;
    }
}

static uint64_t all_got(const pget *g)
{
    uint64_t sum = 0;
    for (int i = 0; i < g->nseg; i++)
        sum += g->seg[i].got;
    return sum;
}

/* Syncs the part, then records what this segment has on disk. */
static void checkpoint(pget *g, int idx)
{
    if (fdatasync(g->fd) < 0)
        return;
    pthread_mutex_lock(&g->mu);
    g->seg[idx].done = g->seg[idx].got;
    save_state(g);
    pthread_mutex_unlock(&g->mu);
}

/* One attempt at the rest of a segment.  0 when it is complete. */
static int fetch_range(seg_worker *w, char *buf)
{
    pget *g = w->g;
    ftpc_session *s = w->s;
    segment *sg = &g->seg[w->idx];
    pthread_mutex_lock(&g->mu);
    uint64_t pos = sg->start + sg->got;
    pthread_mutex_unlock(&g->mu);
    if (pos >= sg->end)
        return 0;
    ftpc_data d;
    int r = ftpc_data_open(s, &d);
    if (r < 0)
        return r;
    int code = ftpc_ctrl_cmd(&s->ctrl, "REST %" PRIu64, pos);
    if (code != 350) {
        ftpc_data_close(&d);
        return code < 0 ? code : ftpc_ctrl_fail(&s->ctrl, FTPC_ERR_REMOTE, "REST");
    }
    code = ftpc_ctrl_cmd(&s->ctrl, "RETR %s", g->remote);
    if (code < 0 || code / 100 != 1) {
        ftpc_data_close(&d);
        return code < 0 ? code
                        : ftpc_ctrl_fail(&s->ctrl, code / 100 == 4 ? FTPC_ERR_NET
                                                                   : FTPC_ERR_REMOTE,
                                         NULL);
    }
    r = ftpc_data_ready(s, &d);
    uint64_t since_save = 0;
    while (r == 0 && pos < sg->end) {
        size_t want = sg->end - pos < BUF_SIZE ? (size_t)(sg->end - pos) : BUF_SIZE;
        ssize_t n = ftpc_stream_read(&d.io, buf, want, s->ctrl.timeout_s);
        if (n <= 0) {
            snprintf(s->ctrl.err, sizeof s->ctrl.err,
                     n == 0 ? "the server ended segment %d at byte %" PRIu64 "%s"
                            : "segment %d: data connection lost at byte %" PRIu64 ": %s",
                     w->idx + 1, pos, n == 0 ? "" : strerror((int)-n));
            r = FTPC_ERR_NET;
            break;
        }
        for (size_t off = 0; off < (size_t)n;) {
            ssize_t k = pwrite(g->fd, buf + off, (size_t)n - off, (off_t)(pos + off));
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0) {
                snprintf(s->ctrl.err, sizeof s->ctrl.err, "write %s: %s", g->part,
                         strerror(errno));
                ftpc_data_close(&d);
                ftpc_ctrl_close(&s->ctrl);
                return FTPC_ERR_LOCAL;
            }
            off += (size_t)k;
        }
        pos += (uint64_t)n;
        since_save += (uint64_t)n;
        pthread_mutex_lock(&g->mu);
        sg->got = pos - sg->start;
        ftpc_progress_update(&g->bar, all_got(g));
        pthread_mutex_unlock(&g->mu);
        if (since_save >= SAVE_EVERY) {
            checkpoint(g, w->idx);
            since_save = 0;
        }
    }
    /* The range is read (or lost): closing the data connection ends the
     * RETR early; the server answers it once (226, or 426/451 for the cut),
     * and the session can go on. */
    ftpc_data_close(&d);
    if (r < 0) {
        ftpc_ctrl_close(&s->ctrl);
        return r;
    }
    /* Some servers answer an abandoned RETR twice (426, then 226): a NOOP
     * finds where the replies end, so a late 226 is never read as the
     * answer to the next command.  If that fails, only the session is
     * lost: the bytes are here. */
    code = ftpc_ctrl_read(&s->ctrl);
    if (code >= 0)
        code = ftpc_ctrl_send(&s->ctrl, "NOOP");
    for (int i = 0; code >= 0 && i < 3; i++)
        if ((code = ftpc_ctrl_read(&s->ctrl)) == 200)
            return 0;
    ftpc_ctrl_close(&s->ctrl);
    return 0;
}

static void *segment_main(void *arg)
{
    seg_worker *w = arg;
    char *buf = malloc(BUF_SIZE);
    if (!buf) {
        w->status = FTPC_ERR_LOCAL;
        snprintf(w->err, sizeof w->err, "out of memory");
        return NULL;
    }
    int attempt = 0;
    for (;;) {
        int r = 0;
        if (!ftpc_session_alive(w->s))
            r = ftpc_session_reopen(w->s);
        if (r == FTPC_ERR_CONNECT)
            r = FTPC_ERR_NET;
        if (r == 0)
            r = fetch_range(w, buf);
        checkpoint(w->g, w->idx);
        w->status = r;
        if (r != FTPC_ERR_NET || attempt >= w->s->opts->retries)
            break;
        attempt++;
        if (!w->s->opts->quiet) {
            pthread_mutex_lock(&w->g->mu);
            ftpc_progress_clear(&w->g->bar);
            fprintf(stderr, "%s: segment %d: %s; retrying (%d of %d)\n", w->g->remote,
                    w->idx + 1, ftpc_session_err(w->s), attempt, w->s->opts->retries);
            pthread_mutex_unlock(&w->g->mu);
        }
        ftpc_ctrl_close(&w->s->ctrl);
        double dl = w->s->opts->retry_delay_s;
        struct timespec ts = {(time_t)dl, (long)((dl - (double)(time_t)dl) * 1e9)};
        while (dl > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    if (w->status < 0)
        snprintf(w->err, sizeof w->err, "%s", ftpc_session_err(w->s));
    free(buf);
    return NULL;
}

static int local_fail(ftpc_session *s, const char *what, const char *path)
{
    snprintf(s->ctrl.err, sizeof s->ctrl.err, "%s %s: %s", what, path, strerror(errno));
    return FTPC_ERR_LOCAL;
}

/* The whole part against the server's checksum, then the rename. */
static int finish(pget *g, char *verdict, size_t cap)
{
    ftpc_session *s = g->s;
    snprintf(verdict, cap, "not verified: the server offers no checksum");
    if (fsync(g->fd) < 0)
        return local_fail(s, "fsync", g->part);
    ftpc_algo a = ftpc_session_algo(s);
    if (a != FTPC_ALGO_NONE) {
        if (!ftpc_session_alive(s)) {
            int r = ftpc_session_reopen(s);
            if (r < 0)
                return r;
        }
        ftpc_digest dg;
        ftpc_digest_init(&dg, a);
        char lhex[FTPC_HEX_MAX], rhex[FTPC_HEX_MAX];
        int r = ftpc_digest_file(&dg, g->fd, (uint64_t)g->total);
        ftpc_digest_peek(&dg, lhex);
        ftpc_digest_close(&dg);
        if (r < 0) {
            errno = -r;
            return local_fail(s, "read", g->part);
        }
        r = ftpc_remote_hash(s, g->remote, a, -1, rhex);
        if (r < 0 && r != FTPC_ERR_UNSUPPORTED)
            return r;
        if (r == 0) {
            if (strcmp(lhex, rhex) != 0) {
                /* Which range is wrong cannot be told: start over next time. */
                unlink(g->state);
                snprintf(s->ctrl.err, sizeof s->ctrl.err,
                         "checksum mismatch for %s: local %s %s, server %s %s; the "
                         "download is kept as %s", g->remote, ftpc_algo_name(a), lhex,
                         ftpc_algo_name(a), rhex, g->part);
                return FTPC_ERR_VERIFY;
            }
            snprintf(verdict, cap, "verified %s", ftpc_algo_name(a));
        }
    }
    if (rename(g->part, g->local) < 0)
        return local_fail(s, "rename to", g->local);
    unlink(g->state);
    return 0;
}

static int64_t remote_mtime(ftpc_session *s, const char *remote)
{
    if (!s->feat_mdtm || ftpc_ctrl_cmd(&s->ctrl, "MDTM %s", remote) != 213)
        return -1;
    return ftpc_parse_time14(s->ctrl.reply.last);
}

int ftpc_pget(ftpc_session *s, const char *remote, const char *local, int nseg)
{
    if (nseg < 1 || nseg > FTPC_PGET_MAX) {
        snprintf(s->ctrl.err, sizeof s->ctrl.err, "segments: 1 to %d", FTPC_PGET_MAX);
        return FTPC_ERR_USAGE;
    }
    int code = ftpc_ctrl_cmd(&s->ctrl, "SIZE %s", remote);
    if (code < 0)
        return code;
    char *end = NULL;
    long long total = code == 213 ? strtoll(s->ctrl.reply.last, &end, 10) : -1;
    if (end == s->ctrl.reply.last || total < (long long)MIN_SEGMENT * 2 || nseg == 1 ||
        !s->feat_rest)
        return ftpc_get(s, remote, local, false);

    pget *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(s->ctrl.err, sizeof s->ctrl.err, "out of memory");
        return FTPC_ERR_LOCAL;
    }
    g->s = s;
    g->remote = remote;
    g->local = local;
    g->total = total;
    g->mtime = remote_mtime(s, remote);
    if (snprintf(g->part, sizeof g->part, "%s.part", local) >= (int)sizeof g->part) {
        free(g);
        snprintf(s->ctrl.err, sizeof s->ctrl.err, "%s: name too long", local);
        return FTPC_ERR_USAGE;
    }
    snprintf(g->state, sizeof g->state, "%s.pget", g->part);
    pthread_mutex_init(&g->mu, NULL);
    int r = 0;
    g->fd = open(g->part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (g->fd < 0) {
        r = local_fail(s, "open", g->part);
        goto out;
    }
    /* A state whose part is gone or cut short describes nothing on disk. */
    struct stat st;
    bool resumed = fstat(g->fd, &st) == 0 && st.st_size == (off_t)total &&
                   load_state(g);
    if (!resumed) {
        while ((uint64_t)total / (uint64_t)nseg < MIN_SEGMENT)
            nseg--;
        plan_segments(g, nseg);
        /* A part without a state (an interrupted plain get) cannot be
         * trusted range by range: start from nothing. */
        if (ftruncate(g->fd, 0) < 0 || ftruncate(g->fd, (off_t)total) < 0) {
            r = local_fail(s, "truncate", g->part);
            goto out;
        }
        if (save_state(g) < 0) {
            r = local_fail(s, "write", g->state);
            goto out;
        }
    }
    uint64_t have = all_got(g);
    if (resumed && !s->opts->quiet)
        fprintf(stderr, "%s: resuming %d segments at %" PRIu64 " of %lld bytes\n",
                remote, g->nseg, have, total);
    ftpc_progress_start(&g->bar, local, total, have, s->opts->quiet);

    seg_worker ws[FTPC_PGET_MAX];
    memset(ws, 0, sizeof ws);
    for (int i = 0; i < g->nseg; i++) {
        ws[i].g = g;
        ws[i].idx = i;
        if (i == 0) {
            ws[i].s = s;
        } else {
            ftpc_session_init_like(&ws[i].sess, s);
            ws[i].s = &ws[i].sess;
        }
    }
    for (int i = 1; i < g->nseg; i++)
        ws[i].started = pthread_create(&ws[i].thread, NULL, segment_main, &ws[i]) == 0;
    segment_main(&ws[0]);
    /* A segment whose thread could not start is fetched here, after. */
    for (int i = 1; i < g->nseg; i++) {
        if (ws[i].started)
            pthread_join(ws[i].thread, NULL);
        else
            segment_main(&ws[i]);
        ftpc_session_close(&ws[i].sess);
    }
    for (int i = 0; i < g->nseg && r == 0; i++)
        if (ws[i].status < 0) {
            r = ws[i].status;
            snprintf(s->ctrl.err, sizeof s->ctrl.err, "%s (the part is kept as %s "
                     "and resumed by the same command)", ws[i].err, g->part);
        }
    if (r < 0) {
        ftpc_progress_clear(&g->bar);
        goto out;
    }
    char verdict[160], note[200];
    r = finish(g, verdict, sizeof verdict);
    if (r < 0) {
        ftpc_progress_clear(&g->bar);
        goto out;
    }
    snprintf(note, sizeof note, "%d segments, %s", g->nseg, verdict);
    ftpc_progress_finish(&g->bar, note);
out:
    if (g->fd >= 0)
        close(g->fd);
    pthread_mutex_destroy(&g->mu);
    free(g);
    return r;
}
