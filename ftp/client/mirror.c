/* ftp/client/mirror.c - see mirror.h. */
#include "mirror.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checksum.h"
#include "digest.h"
#include "listparse.h"
#include "progress.h"
#include "status.h"
#include "transfer.h"
#include "tree.h"

#define MAX_EXCLUDES 32
#define MAX_PARALLEL 16
#define PATH_MAX_LEN FTPC_TREE_PATH_MAX

typedef ftpc_tree_item item;
typedef ftpc_tree tree;

typedef enum { ACT_MKDIR, ACT_COPY, ACT_DEL, ACT_RMDIR } act_kind;

typedef struct action {
    act_kind kind;
    const item *src, *dst; /* dst NULL when the target has nothing there */
} action;

typedef struct mirror {
    ftpc_session *s;
    bool reverse, del, dry, verify;
    int parallel;
    const char *excl[MAX_EXCLUDES];
    int nexcl;
    char rroot[PATH_MAX_LEN]; /* absolute remote root, no trailing '/' */
    char lroot[PATH_MAX_LEN]; /* local root, no trailing '/' */
    tree remote, local;
    action *acts;
    size_t nacts;
    /* Counters (under mu once workers run). */
    size_t copied, unchanged, deleted, failed, made;
    uint64_t bytes_total, bytes_done, bytes_moved; /* done: finished files */
    size_t files_total, files_done;
    int worst;
    /* The work queue: copy actions, taken in order. */
    size_t next;
    pthread_mutex_t mu;
    /* The display. */
    ftpc_progress *inflight[MAX_PARALLEL];
    double t0, last_draw;
    int lines; /* lines of the display now on the terminal */
    bool tty, quiet;
} mirror;

static bool excluded(const mirror *m, const char *rel)
{
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    for (int i = 0; i < m->nexcl; i++)
        if (fnmatch(m->excl[i], rel, 0) == 0 || fnmatch(m->excl[i], base, 0) == 0)
            return true;
    return false;
}

static int fail(ftpc_session *s, int status, const char *fmt, const char *a)
{
    snprintf(s->ctrl.err, sizeof s->ctrl.err, fmt, a, strerror(errno));
    return status;
}

/* ---- the plan --------------------------------------------------------- */

static const tree *src_tree(const mirror *m) { return m->reverse ? &m->local : &m->remote; }
static const tree *dst_tree(const mirror *m) { return m->reverse ? &m->remote : &m->local; }

static void full_path(const mirror *m, bool remote, const char *rel, char *out,
                      size_t cap)
{
    snprintf(out, cap, "%s/%s", remote ? m->rroot : m->lroot, rel);
}

/* Whether the local file and the remote one have the same checksum. */
static bool same_sum(mirror *m, const char *rel)
{
    ftpc_algo a = ftpc_session_algo(m->s);
    if (a == FTPC_ALGO_NONE)
        return true;
    char lp[PATH_MAX_LEN], rp[PATH_MAX_LEN];
    full_path(m, false, rel, lp, sizeof lp);
    full_path(m, true, rel, rp, sizeof rp);
    int fd = open(lp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    struct stat st;
    ftpc_digest dg;
    ftpc_digest_init(&dg, a);
    char lhex[FTPC_HEX_MAX], rhex[FTPC_HEX_MAX];
    bool ok = fstat(fd, &st) == 0 &&
              ftpc_digest_file(&dg, fd, (uint64_t)st.st_size) == 0 &&
              ftpc_digest_peek(&dg, lhex) == 0 &&
              ftpc_remote_hash(m->s, rp, a, -1, rhex) == 0;
    ftpc_digest_close(&dg);
    close(fd);
    return ok && strcmp(lhex, rhex) == 0;
}

/* Files are the same when sizes match and the times agree within what the
 * listing can tell; an upload's target whose time could not be set (no
 * MFMT) counts as the same when it is not older than the source. */
static bool unchanged(mirror *m, const item *src, const item *dst)
{
    if (src->size != dst->size)
        return false;
    if (src->mtime >= 0 && dst->mtime >= 0) {
        int prec = src->prec > dst->prec ? src->prec : dst->prec;
        int64_t diff = src->mtime - dst->mtime;
        bool close_enough = diff < prec && -diff < prec;
        if (!close_enough && !(m->reverse && !m->s->feat_mfmt && diff <= 0))
            return false;
    }
    return !m->verify || same_sum(m, src->rel);
}

static int add_act(mirror *m, act_kind k, const item *src, const item *dst)
{
    action *na = realloc(m->acts, (m->nacts + 1) * sizeof *na);
    if (!na)
        return FTPC_ERR_LOCAL;
    m->acts = na;
    m->acts[m->nacts++] = (action){k, src, dst};
    return 0;
}

/* A download's partial files are ours: not extra files of the target. */
static bool is_our_part(const mirror *m, const char *rel)
{
    size_t n = strlen(rel);
    if (m->reverse || n < 6 || strcmp(rel + n - 5, ".part") != 0)
        return false;
    char base[PATH_MAX_LEN];
    snprintf(base, sizeof base, "%.*s", (int)(n - 5), rel);
    const item *s = ftpc_tree_find(&m->remote, base);
    return s && s->type == FTPC_ENT_FILE;
}

static bool excluded_path(const mirror *m, const char *rel)
{
    /* Anything below an excluded directory is excluded too. */
    char buf[PATH_MAX_LEN];
    snprintf(buf, sizeof buf, "%s", rel);
    for (;;) {
        if (excluded(m, buf))
            return true;
        char *slash = strrchr(buf, '/');
        if (!slash)
            return false;
        *slash = '\0';
    }
}

/* Whether the directory t->v[i] holds something --delete leaves alone
 * (excluded, or our partial download): then it stays too.  What lies below
 * "d" sorts right after it, as one run of "d/..." names. */
static bool keeps_something(const mirror *m, const tree *t, size_t i)
{
    size_t n = strlen(t->v[i].rel);
    for (size_t j = i + 1; j < t->n; j++) {
        const char *rel = t->v[j].rel;
        if (strncmp(rel, t->v[i].rel, n) != 0 || rel[n] > '/')
            break;
        if (rel[n] == '/' && (excluded_path(m, rel) || is_our_part(m, rel)))
            return true;
    }
    return false;
}

static int plan(mirror *m)
{
    const tree *src = src_tree(m), *dst = dst_tree(m);
    int r = 0;
    for (size_t i = 0; r == 0 && i < src->n; i++) {
        const item *a = &src->v[i];
        if (excluded_path(m, a->rel))
            continue;
        if (a->type != FTPC_ENT_FILE && a->type != FTPC_ENT_DIR)
            continue; /* links and devices are not copied */
        const item *b = ftpc_tree_find(dst, a->rel);
        if (a->type == FTPC_ENT_DIR) {
            if (!b || b->type != FTPC_ENT_DIR)
                r = add_act(m, ACT_MKDIR, a, b);
            continue;
        }
        if (b && b->type == FTPC_ENT_FILE && unchanged(m, a, b)) {
            m->unchanged++;
            continue;
        }
        m->files_total++;
        m->bytes_total += (uint64_t)(a->size > 0 ? a->size : 0);
        r = add_act(m, ACT_COPY, a, b);
    }
    if (!m->del)
        return r;
    /* Deepest first, so a directory is empty when its turn comes. */
    for (size_t i = dst->n; r == 0 && i-- > 0;) {
        const item *b = &dst->v[i];
        if (excluded_path(m, b->rel) || is_our_part(m, b->rel))
            continue;
        const item *a = ftpc_tree_find(src, b->rel);
        if (a && (a->type == FTPC_ENT_FILE || a->type == FTPC_ENT_DIR))
            continue; /* kept, or replaced by a mkdir/copy */
        if (b->type == FTPC_ENT_DIR && keeps_something(m, dst, i))
            continue;
        r = add_act(m, b->type == FTPC_ENT_DIR ? ACT_RMDIR : ACT_DEL, NULL, b);
    }
    return r;
}

/* ---- the display -------------------------------------------------------- */

/* Erases what the display drew (caller holds mu). */
static void erase(mirror *m)
{
    if (!m->tty || m->lines == 0)
        return;
    fputs("\r\033[K", stderr);
    for (int i = 1; i < m->lines; i++)
        fputs("\033[A\r\033[K", stderr);
    m->lines = 0;
}

/* Draws the whole-mirror line and one line per file in flight (caller
 * holds mu). */
static void draw(mirror *m, double now)
{
    if (!m->tty)
        return;
    erase(m);
    uint64_t done = m->bytes_done, moved = m->bytes_moved;
    for (int i = 0; i < MAX_PARALLEL; i++)
        if (m->inflight[i]) {
            done += m->inflight[i]->done;
            moved += m->inflight[i]->done - m->inflight[i]->start;
        }
    double el = now - m->t0;
    double rate = el > 0 ? (double)moved / el : 0;
    char d[32], t[32], rt[32], eta[32] = "--:--";
    if (rate > 0 && m->bytes_total >= done) {
        long sec = (long)((double)(m->bytes_total - done) / rate);
        if (sec < 100 * 3600)
            snprintf(eta, sizeof eta, "%ld:%02ld:%02ld", sec / 3600, sec / 60 % 60,
                     sec % 60);
    }
    int width = ftpc_term_width();
    fprintf(stderr, "mirror: %zu/%zu files, %s/%s, %s/s, ETA %s", m->files_done,
            m->files_total, ftpc_human_bytes((double)done, d, sizeof d),
            ftpc_human_bytes((double)m->bytes_total, t, sizeof t),
            ftpc_human_bytes(rate, rt, sizeof rt), eta);
    fputs("\033[K", stderr);
    m->lines = 1;
    for (int i = 0; i < MAX_PARALLEL; i++)
        if (m->inflight[i]) {
            char line[1024];
            ftpc_progress_format(m->inflight[i], now, width - 3, line, sizeof line);
            fprintf(stderr, "\n  %s\033[K", line);
            m->lines++;
        }
    fflush(stderr);
    m->last_draw = now;
}

/* One line above the display (caller holds mu). */
static void say(mirror *m, const char *line)
{
    erase(m);
    fprintf(stderr, "%s\n", line);
    draw(m, ftpc_now());
    fflush(stderr);
}

/* Each worker reports through its own sink, which knows the file's path. */
typedef struct worker {
    ftpc_progress_sink sink;
    mirror *m;
    ftpc_session sess;
    ftpc_session *s;   /* &sess, or the main session for worker 0 */
    const char *rel;   /* the file in flight */
    pthread_t thread;
    bool started;
} worker;

static void on_progress(ftpc_progress_sink *sink, ftpc_progress *p,
                        ftpc_progress_event ev, const char *note, uint64_t done)
{
    worker *w = (worker *)sink;
    mirror *m = w->m;
    pthread_mutex_lock(&m->mu);
    p->done = done;
    int slot = -1;
    for (int i = 0; i < MAX_PARALLEL; i++)
        if (m->inflight[i] == p)
            slot = i;
    switch (ev) {
    case FTPC_PROGRESS_START:
        snprintf(p->name, sizeof p->name, "%s", w->rel);
        for (int i = 0; slot < 0 && i < MAX_PARALLEL; i++)
            if (!m->inflight[i])
                m->inflight[slot = i] = p;
        draw(m, ftpc_now());
        break;
    case FTPC_PROGRESS_UPDATE:
        if (ftpc_now() - m->last_draw >= 0.1)
            draw(m, ftpc_now());
        break;
    case FTPC_PROGRESS_CLEAR:
    case FTPC_PROGRESS_FINISH:
        if (slot >= 0)
            m->inflight[slot] = NULL;
        if (ev == FTPC_PROGRESS_FINISH) {
            m->files_done++;
            m->bytes_done += p->done;
            m->bytes_moved += p->done - p->start;
            if (!m->quiet) {
                char line[1024];
                ftpc_progress_summary(p, note, ftpc_now(), line, sizeof line);
                say(m, line);
            }
        } else {
            draw(m, ftpc_now());
        }
        break;
    }
    pthread_mutex_unlock(&m->mu);
}

/* ---- doing it ------------------------------------------------------------ */

static void report(mirror *m, const char *what, const char *rel, const char *why,
                   int r)
{
    pthread_mutex_lock(&m->mu);
    m->failed++;
    if (m->worst == 0 || r == FTPC_ERR_NET)
        m->worst = r;
    char line[2048];
    snprintf(line, sizeof line, "sockserv-ftp: mirror: %s %s: %s", what, rel, why);
    say(m, line);
    pthread_mutex_unlock(&m->mu);
}

/* After a download: the local file gets the server's time, as exact as the
 * server tells it (MDTM when the listing gave only minutes). */
static void keep_time_local(worker *w, const item *src, const char *lp,
                            const char *rp)
{
    int64_t t = src->mtime;
    if (src->prec > 1 && w->s->feat_mdtm &&
        ftpc_ctrl_cmd(&w->s->ctrl, "MDTM %s", rp) == 213) {
        int64_t v = ftpc_parse_time14(w->s->ctrl.reply.last);
        if (v >= 0)
            t = v;
    }
    if (t < 0)
        return;
    struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = (time_t)t}};
    utimensat(AT_FDCWD, lp, ts, AT_SYMLINK_NOFOLLOW);
}

static void copy_one(worker *w, const action *a)
{
    mirror *m = w->m;
    char lp[PATH_MAX_LEN], rp[PATH_MAX_LEN];
    full_path(m, false, a->src->rel, lp, sizeof lp);
    full_path(m, true, a->src->rel, rp, sizeof rp);
    w->rel = a->src->rel;
    int r;
    if (!m->reverse) {
        if (a->dst && a->dst->type != FTPC_ENT_FILE && a->dst->type != FTPC_ENT_DIR)
            unlink(lp); /* a link or device where a file belongs: the link goes,
                           never what it points to */
        r = ftpc_get(w->s, rp, lp, false);
        if (r == 0)
            keep_time_local(w, a->src, lp, rp);
    } else {
        /* A shorter remote file is most likely our own cut upload. */
        bool cont = a->dst && a->dst->type == FTPC_ENT_FILE && a->dst->size > 0 &&
                    a->dst->size < a->src->size;
        r = ftpc_put(w->s, lp, rp, cont);
        if (r == 0 && w->s->feat_mfmt) {
            char t[15];
            ftpc_format_time14(a->src->mtime, t);
            int code = ftpc_ctrl_cmd(&w->s->ctrl, "MFMT %s %s", t, rp);
            if (code < 0)
                r = code;
        }
    }
    if (r < 0) {
        report(m, m->reverse ? "put" : "get", a->src->rel, ftpc_session_err(w->s), r);
        return;
    }
    pthread_mutex_lock(&m->mu);
    m->copied++;
    pthread_mutex_unlock(&m->mu);
}

static const action *take(mirror *m)
{
    pthread_mutex_lock(&m->mu);
    const action *a = NULL;
    while (m->next < m->nacts && m->acts[m->next].kind != ACT_COPY)
        m->next++;
    if (m->next < m->nacts)
        a = &m->acts[m->next++];
    pthread_mutex_unlock(&m->mu);
    return a;
}

static void work(worker *w)
{
    for (const action *a; (a = take(w->m));)
        copy_one(w, a);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    /* A session the server refuses (too many connections) just leaves
     * the work to the others. */
    if (ftpc_session_open(w->s) == 0)
        work(w);
    return NULL;
}

static int make_dir(mirror *m, const action *a)
{
    char p[PATH_MAX_LEN];
    full_path(m, m->reverse, a->src->rel, p, sizeof p);
    if (m->reverse) {
        if (a->dst) /* a file where the directory belongs */
            ftpc_ctrl_cmd(&m->s->ctrl, "DELE %s", p);
        int code = ftpc_ctrl_cmd(&m->s->ctrl, "MKD %s", p);
        if (code < 0 || code / 100 != 2)
            return code < 0 ? code : ftpc_ctrl_fail(&m->s->ctrl, FTPC_ERR_REMOTE, NULL);
        return 0;
    }
    if (a->dst)
        unlink(p); /* a file or link, never followed */
    if (mkdir(p, 0755) < 0 && errno != EEXIST)
        return fail(m->s, FTPC_ERR_LOCAL, "%s: %s", p);
    return 0;
}

static int remove_one(mirror *m, const action *a)
{
    char p[PATH_MAX_LEN];
    full_path(m, m->reverse, a->dst->rel, p, sizeof p);
    bool dir = a->kind == ACT_RMDIR;
    if (m->reverse) {
        int code = ftpc_ctrl_cmd(&m->s->ctrl, "%s %s", dir ? "RMD" : "DELE", p);
        if (code < 0 || code / 100 != 2)
            return code < 0 ? code : ftpc_ctrl_fail(&m->s->ctrl, FTPC_ERR_REMOTE, NULL);
        return 0;
    }
    /* The path was built from our own lstat scan of names checked safe:
     * unlink removes a link itself, rmdir only an empty directory. */
    if ((dir ? rmdir(p) : unlink(p)) < 0)
        return fail(m->s, FTPC_ERR_LOCAL, "%s: %s", p);
    return 0;
}

static void print_plan(const mirror *m)
{
    static const char *verbs[] = {"mkdir", "", "rm", "rmdir"};
    for (size_t i = 0; i < m->nacts; i++) {
        const action *a = &m->acts[i];
        const item *it = a->src ? a->src : a->dst;
        const char *v = a->kind == ACT_COPY ? (m->reverse ? "put" : "get")
                                            : verbs[a->kind];
        printf("%s %s\n", v, it->rel);
    }
}

static void summary(mirror *m, double secs)
{
    if (m->quiet)
        return;
    char b[32], rt[32];
    ftpc_human_bytes((double)m->bytes_moved, b, sizeof b);
    ftpc_human_bytes(secs > 0 ? (double)m->bytes_moved / secs : 0, rt, sizeof rt);
    if (m->dry) {
        size_t copies = 0, dels = 0;
        for (size_t i = 0; i < m->nacts; i++) {
            copies += m->acts[i].kind == ACT_COPY;
            dels += m->acts[i].kind == ACT_DEL || m->acts[i].kind == ACT_RMDIR;
        }
        fprintf(stderr, "mirror (dry run): would copy %zu (%s), delete %zu; %zu "
                "unchanged\n", copies,
                ftpc_human_bytes((double)m->bytes_total, b, sizeof b), dels,
                m->unchanged);
        return;
    }
    if (m->copied == 0 && m->deleted == 0 && m->failed == 0 && m->made == 0) {
        fprintf(stderr, "mirror: up to date, nothing transferred (%zu files "
                "unchanged) in %.2f s\n", m->unchanged, secs);
        return;
    }
    fprintf(stderr, "mirror: %zu copied, %zu unchanged, %zu deleted, %zu failed; "
            "%s in %.2f s (%s/s)\n", m->copied, m->unchanged, m->deleted, m->failed,
            b, secs, rt);
}

/* ---- arguments ------------------------------------------------------------ */

static int usage(char *err, size_t cap, const char *why)
{
    snprintf(err, cap, "%s (usage: mirror [-R] [--delete] "
             "[--parallel N] [--dry-run] [--verify] [--exclude GLOB]... REMOTE_DIR "
             "[LOCAL_DIR])", why);
    return FTPC_ERR_USAGE;
}

/* The options into m, the one or two directories into pos.  Returns how
 * many directories, or FTPC_ERR_USAGE with the reason in err. */
static int parse_opts(mirror *m, int argc, char **argv, const char *pos[2],
                      char *err, size_t cap)
{
    int npos = 0;
    m->parallel = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-R") == 0)
            m->reverse = true;
        else if (strcmp(a, "--delete") == 0)
            m->del = true;
        else if (strcmp(a, "--dry-run") == 0)
            m->dry = true;
        else if (strcmp(a, "--verify") == 0)
            m->verify = true;
        else if (strcmp(a, "--parallel") == 0 || strcmp(a, "--exclude") == 0) {
            if (i + 1 >= argc)
                return usage(err, cap, "missing value");
            if (a[2] == 'p') {
                char *end;
                long n = strtol(argv[++i], &end, 10);
                if (*end || n < 1 || n > MAX_PARALLEL)
                    return usage(err, cap, "--parallel wants 1 to 16");
                m->parallel = (int)n;
            } else {
                if (m->nexcl == MAX_EXCLUDES)
                    return usage(err, cap, "too many --exclude");
                m->excl[m->nexcl++] = argv[++i];
            }
        } else if (a[0] == '-' && a[1]) {
            char why[160];
            snprintf(why, sizeof why, "unknown option %.100s", a);
            return usage(err, cap, why);
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            return usage(err, cap, "too many arguments");
        }
    }
    if (npos < 1)
        return usage(err, cap, "missing REMOTE_DIR");
    return npos;
}

int ftpc_mirror_check(int argc, char **argv, char *err, size_t cap)
{
    mirror *m = calloc(1, sizeof *m);
    if (!m)
        return 0; /* checked again when it runs */
    const char *pos[2];
    int r = parse_opts(m, argc, argv, pos, err, cap);
    free(m);
    return r < 0 ? r : 0;
}

/* Options, then the two roots: the remote one made absolute. */
static int parse(mirror *m, int argc, char **argv)
{
    const char *pos[2];
    int npos = parse_opts(m, argc, argv, pos, m->s->ctrl.err, sizeof m->s->ctrl.err);
    if (npos < 0)
        return npos;
    const char *ldir = npos == 2 ? pos[1] : NULL;
    if (!ldir) {
        /* Like get: the remote directory's base name, here. */
        const char *b = strrchr(pos[0], '/');
        ldir = b && b[1] ? b + 1 : pos[0];
        if (!ftpc_name_is_safe(ldir))
            ldir = ".";
    }
    if (snprintf(m->lroot, sizeof m->lroot, "%s", ldir) >= (int)sizeof m->lroot)
        return usage(m->s->ctrl.err, sizeof m->s->ctrl.err, "LOCAL_DIR too long");
    ftpc_strip_slashes(m->lroot);
    /* Workers open their own sessions, so the remote root is made absolute
     * against this session's directory. */
    if (pos[0][0] == '/') {
        snprintf(m->rroot, sizeof m->rroot, "%s", pos[0]);
    } else {
        char cwd[PATH_MAX_LEN] = "";
        int code = ftpc_ctrl_cmd(&m->s->ctrl, "PWD");
        if (code < 0)
            return code;
        if (code != 257 || ftpc_parse_257(m->s->ctrl.reply.last, cwd, sizeof cwd) < 0)
            return ftpc_ctrl_fail(&m->s->ctrl, FTPC_ERR_REMOTE, "PWD");
        snprintf(m->rroot, sizeof m->rroot, "%s%s%s", cwd,
                 cwd[strlen(cwd) - 1] == '/' ? "" : "/", pos[0]);
    }
    ftpc_strip_slashes(m->rroot);
    if (strcmp(m->rroot, "/") == 0)
        m->rroot[0] = '\0'; /* paths are built as root + "/" + rel */
    return 0;
}

/* The target's root itself: made when missing (download: locally; upload:
 * on the server). */
static int make_root(mirror *m)
{
    if (!m->reverse) {
        struct stat st;
        if (lstat(m->lroot, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
        if (m->dry)
            return 0;
        if (mkdir(m->lroot, 0755) < 0)
            return fail(m->s, FTPC_ERR_LOCAL, "%s: %s", m->lroot);
        return 0;
    }
    if (m->dry || !m->rroot[0])
        return 0;
    int code = ftpc_ctrl_cmd(&m->s->ctrl, "MKD %s", m->rroot);
    return code < 0 ? code : 0; /* 550 "exists" is fine; the listing tells */
}

int ftpc_mirror(ftpc_session *s, int argc, char **argv)
{
    mirror *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(s->ctrl.err, sizeof s->ctrl.err, "out of memory");
        return FTPC_ERR_LOCAL;
    }
    m->s = s;
    m->quiet = s->opts->quiet;
    m->tty = !m->quiet && isatty(STDERR_FILENO);
    pthread_mutex_init(&m->mu, NULL);
    m->t0 = ftpc_now();
    int r = parse(m, argc, argv);
    if (r == 0)
        r = make_root(m);
    /* A dry run made no target root: a missing one is an empty tree. */
    if (r == 0 && (m->reverse || access(m->lroot, F_OK) == 0))
        r = ftpc_tree_scan_local(&m->local, s, m->lroot);
    if (r == 0) {
        r = ftpc_tree_scan_remote(&m->remote, s, m->rroot, m->quiet);
        if (r == FTPC_ERR_REMOTE && m->reverse && m->dry)
            r = 0;
    }
    if (r < 0)
        goto out;
    r = plan(m);
    if (r < 0)
        goto out;
    if (m->dry) {
        print_plan(m);
        summary(m, ftpc_now() - m->t0);
        goto out;
    }
    /* Directories first, in order, so every file has its parent. */
    for (size_t i = 0; i < m->nacts; i++)
        if (m->acts[i].kind == ACT_MKDIR) {
            int k = make_dir(m, &m->acts[i]);
            if (k < 0)
                report(m, "mkdir", m->acts[i].src->rel, ftpc_session_err(s), k);
            else
                m->made++;
        }
    /* Files on up to N sessions: this one and N-1 more. */
    worker *ws = calloc((size_t)m->parallel, sizeof *ws);
    if (!ws) {
        r = FTPC_ERR_LOCAL;
        goto out;
    }
    ftpc_progress_sink *old = s->progress;
    for (int i = 0; i < m->parallel; i++) {
        ws[i].sink.event = on_progress;
        ws[i].m = m;
        if (i == 0) {
            ws[i].s = s;
        } else {
            ftpc_session_init_like(&ws[i].sess, s);
            ws[i].s = &ws[i].sess;
        }
        ws[i].s->progress = &ws[i].sink;
    }
    size_t ncopies = 0;
    for (size_t i = 0; i < m->nacts; i++)
        ncopies += m->acts[i].kind == ACT_COPY;
    for (int i = 1; i < m->parallel && (size_t)i < ncopies; i++)
        ws[i].started = pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) == 0;
    if (!ftpc_session_alive(s))
        ftpc_session_reopen(s);
    work(&ws[0]);
    for (int i = 1; i < m->parallel; i++) {
        if (ws[i].started)
            pthread_join(ws[i].thread, NULL);
        if (i > 0)
            ftpc_session_close(&ws[i].sess);
    }
    s->progress = old;
    free(ws);
    /* Then what the source no longer has, deepest first. */
    for (size_t i = 0; i < m->nacts; i++) {
        const action *a = &m->acts[i];
        if (a->kind != ACT_DEL && a->kind != ACT_RMDIR)
            continue;
        if (!ftpc_session_alive(s))
            ftpc_session_reopen(s);
        int k = remove_one(m, a);
        if (k < 0) {
            report(m, a->kind == ACT_RMDIR ? "rmdir" : "rm", a->dst->rel,
                   ftpc_session_err(s), k);
        } else {
            m->deleted++;
            if (!m->quiet) {
                char line[PATH_MAX_LEN + 32];
                snprintf(line, sizeof line, "%s: deleted", a->dst->rel);
                pthread_mutex_lock(&m->mu);
                say(m, line);
                pthread_mutex_unlock(&m->mu);
            }
        }
    }
    pthread_mutex_lock(&m->mu);
    erase(m);
    pthread_mutex_unlock(&m->mu);
    summary(m, ftpc_now() - m->t0);
    if (m->failed) {
        snprintf(s->ctrl.err, sizeof s->ctrl.err, "%zu of %zu changes failed",
                 m->failed, m->nacts);
        r = m->worst < 0 ? m->worst : FTPC_ERR_REMOTE;
        /* Retries were spent per file; the shell must not run it again. */
        if (r == FTPC_ERR_NET)
            r = FTPC_ERR_REMOTE;
    }
out:
    ftpc_tree_free(&m->remote);
    ftpc_tree_free(&m->local);
    free(m->acts);
    pthread_mutex_destroy(&m->mu);
    free(m);
    return r;
}
