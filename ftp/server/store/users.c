/* ftp/server/store/users.c - the users file (see users.h for the format). */
#include "store/users.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* A users file larger than this is refused rather than read into memory. */
#define FILE_MAX (64u * 1024 * 1024)

static void set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* ---- sizes ---- */

int ftpd_size_parse(const char *s, uint64_t *out)
{
    if (!s)
        return -EINVAL;
    while (isspace((unsigned char)*s))
        s++;
    if (strcasecmp(s, "unlimited") == 0) {
        *out = FTPD_QUOTA_UNLIMITED;
        return 0;
    }
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    uint64_t v = 0;
    while (isdigit((unsigned char)*s)) {
        unsigned d = (unsigned)(*s++ - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    while (isspace((unsigned char)*s))
        s++;
    unsigned shift = 0;
    switch (toupper((unsigned char)*s)) {
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    default: break;
    }
    if (shift) {
        s++;
        /* 10M, 10MB and 10MiB all mean 10 * 2^20. */
        if (strncasecmp(s, "iB", 2) == 0)
            s += 2;
        else if (toupper((unsigned char)*s) == 'B')
            s++;
    } else if (toupper((unsigned char)*s) == 'B') {
        s++;
    }
    while (isspace((unsigned char)*s))
        s++;
    if (*s)
        return -EINVAL;
    if (shift && v > (UINT64_MAX >> shift))
        return -ERANGE;
    v <<= shift;
    if (v == FTPD_QUOTA_UNLIMITED)
        return -ERANGE;
    *out = v;
    return 0;
}

int ftpd_size_format(uint64_t v, char *out, size_t cap)
{
    int n;
    if (v == FTPD_QUOTA_UNLIMITED) {
        n = snprintf(out, cap, "unlimited");
    } else {
        static const char sfx[] = "TGMK";
        n = -1;
        for (int i = 0; i < 4 && n < 0; i++) {
            unsigned shift = (unsigned)(40 - 10 * i);
            uint64_t unit = (uint64_t)1 << shift;
            if (v >= unit && v % unit == 0)
                n = snprintf(out, cap, "%" PRIu64 "%c", v >> shift, sfx[i]);
        }
        if (n < 0)
            n = snprintf(out, cap, "%" PRIu64, v);
    }
    if (n < 0 || (size_t)n >= cap)
        return -ENOSPC;
    return n;
}

/* ---- fields ---- */

int ftpd_user_name_check(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > FTPD_USER_NAME_MAX || name[0] == '-' || name[0] == '.')
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-')
            return -EINVAL;
    }
    return 0;
}

int ftpd_user_home_check(const char *home)
{
    size_t n = home ? strlen(home) : 0;
    if (n == 0 || n >= FTPD_USER_HOME_MAX)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (home[i] == ':' || home[i] == '\n' || home[i] == '\r')
            return -EINVAL;
    return 0;
}

static int hash_check(const char *hash)
{
    size_t n = hash ? strlen(hash) : 0;
    if (n < 2 || n >= FTPD_PASSWD_HASH_MAX || hash[0] != '$')
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (hash[i] == ':' || isspace((unsigned char)hash[i]))
            return -EINVAL;
    return 0;
}

int ftpd_user_home_resolve(const char *users_path, const char *home,
                           char *out, size_t cap)
{
    int n;
    if (home[0] == '/') {
        n = snprintf(out, cap, "%s", home);
    } else {
        const char *slash = strrchr(users_path, '/');
        char dir[PATH_MAX];
        if (!slash) {
            strcpy(dir, ".");
        } else if (slash == users_path) {
            strcpy(dir, "/");
        } else {
            size_t dl = (size_t)(slash - users_path);
            if (dl >= sizeof dir)
                return -ENAMETOOLONG;
            memcpy(dir, users_path, dl);
            dir[dl] = '\0';
        }
        char cwd[PATH_MAX] = "";
        if (dir[0] != '/' && !getcwd(cwd, sizeof cwd))
            return -errno;
        n = snprintf(out, cap, "%s%s%s/%s", cwd, cwd[0] ? "/" : "", dir, home);
    }
    if (n < 0 || (size_t)n >= cap)
        return -ENAMETOOLONG;
    return 0;
}

/* ---- reading and parsing ---- */

/* Reads path whole into a malloc'd NUL-terminated buffer.  A missing file
 * is an empty buffer with *st zeroed.  -EAGAIN when the file changed while
 * it was read. */
static int slurp(const char *path, char **buf, size_t *len, struct stat *st)
{
    *buf = NULL;
    *len = 0;
    memset(st, 0, sizeof *st);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno != ENOENT)
            return -errno;
        *buf = calloc(1, 1);
        return *buf ? 0 : -ENOMEM;
    }
    int rc = 0;
    if (fstat(fd, st) < 0) {
        rc = -errno;
    } else if (!S_ISREG(st->st_mode)) {
        rc = -EINVAL;
    } else if ((uint64_t)st->st_size > FILE_MAX) {
        rc = -EFBIG;
    } else {
        size_t cap = (size_t)st->st_size + 1, n = 0;
        char *b = malloc(cap);
        if (!b) {
            rc = -ENOMEM;
        } else {
            /* One byte more than fstat said: a file that grew shows. */
            for (;;) {
                if (n + 1 > cap)
                    break;
                ssize_t r = read(fd, b + n, cap - n);
                if (r < 0) {
                    if (errno == EINTR)
                        continue;
                    rc = -errno;
                    break;
                }
                if (r == 0)
                    break;
                n += (size_t)r;
            }
            /* A file that changed while it was read (someone writing it in
             * place) gives a mix of two versions or a cut one: not a file
             * to log in from, nor to write back.  Edits never do that;
             * they rename a whole new file over it. */
            struct stat after;
            if (rc == 0 &&
                (n != (size_t)st->st_size || fstat(fd, &after) < 0 ||
                 after.st_size != st->st_size ||
                 after.st_mtim.tv_sec != st->st_mtim.tv_sec ||
                 after.st_mtim.tv_nsec != st->st_mtim.tv_nsec))
                rc = -EAGAIN;
            if (rc < 0) {
                free(b);
            } else {
                b[n] = '\0';
                *buf = b;
                *len = n;
            }
        }
    }
    close(fd);
    return rc;
}

/* The message for a failed read of path ("users: Permission denied"). */
static void read_error(const char *path, int rc, char *err, size_t cap)
{
    if (rc == -EAGAIN)
        set_err(err, cap, "%s: changed while it was read; try again", path);
    else if (rc == -EINVAL)
        set_err(err, cap, "%s: not a regular file", path);
    else
        set_err(err, cap, "%s: %s", path, strerror(-rc));
}

/* An existing file of zero bytes is a cut one: every file this module
 * writes starts with its header line, so "no users" is never empty, while
 * a crash in the middle of a careless rewrite leaves exactly that.  Taking
 * it as "no users" would answer every login "wrong password" (and count
 * the failures towards bans); `user add` would write a file of one user. */
static int check_not_cut(const char *path, size_t len, const struct stat *st,
                         char *err, size_t cap)
{
    if (len > 0 || st->st_ino == 0)
        return 0;
    set_err(err, cap, "%s: empty file (cut short?); to have no users, leave "
            "a comment line in it", path);
    return -EINVAL;
}

/* Splits one line (no newline) into a user.  Returns 1 for a user, 0 for a
 * blank or comment line, -EINVAL with why in err. */
static int parse_line(char *line, ftpd_user *u, char *err, size_t cap)
{
    size_t n = strlen(line);
    if (n && line[n - 1] == '\r')
        line[--n] = '\0';
    const char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '#')
        return 0;
    char *f[6];
    int nf = 0;
    char *s = line;
    for (;;) {
        if (nf == 6) {
            set_err(err, cap, "too many fields (expected "
                    "name:hash:home:quota[:upload_rate:download_rate])");
            return -EINVAL;
        }
        f[nf++] = s;
        char *c = strchr(s, ':');
        if (!c)
            break;
        *c = '\0';
        s = c + 1;
    }
    if (nf != 4 && nf != 6) {
        set_err(err, cap, "expected name:hash:home:quota[:upload_rate:download_rate], "
                "found %d field%s", nf,
                nf == 1 ? "" : "s");
        return -EINVAL;
    }
    if (ftpd_user_name_check(f[0]) < 0) {
        set_err(err, cap, "bad user name '%.64s'", f[0]);
        return -EINVAL;
    }
    if (hash_check(f[1]) < 0) {
        set_err(err, cap, "user %s: bad password hash (make one with 'user passwd')", f[0]);
        return -EINVAL;
    }
    if (ftpd_user_home_check(f[2]) < 0) {
        set_err(err, cap, "user %s: bad home '%.200s'", f[0], f[2]);
        return -EINVAL;
    }
    uint64_t q;
    if (ftpd_size_parse(f[3], &q) < 0) {
        set_err(err, cap, "user %s: quota: bad size '%.40s' (bytes, or 500K, 100M, 1G, unlimited)",
                f[0], f[3]);
        return -EINVAL;
    }
    uint64_t rate[2] = {0, 0};
    for (int i = 0; i < 2 && nf == 6; i++) {
        if (f[4 + i][0] && ftpd_size_parse(f[4 + i], &rate[i]) < 0) {
            set_err(err, cap, "user %s: %s: bad rate '%.40s' (bytes/s, or 500K, "
                    "10M, unlimited; empty: the server's default)", f[0],
                    i ? "download_rate" : "upload_rate", f[4 + i]);
            return -EINVAL;
        }
    }
    memset(u, 0, sizeof *u);
    strcpy(u->name, f[0]);
    strcpy(u->hash, f[1]);
    strcpy(u->home, f[2]);
    u->quota = q;
    u->rate_up = rate[0];
    u->rate_down = rate[1];
    return 1;
}

/* Calls fn for each line of buf (modified in place: newlines become NULs).
 * Stops at the first error, reporting "path:line: why". */
typedef int (*line_fn)(void *ctx, const char *raw, size_t raw_len, int is_user,
                       const ftpd_user *u);

static int each_line(const char *path, char *buf, size_t len, line_fn fn,
                     void *ctx, char *err, size_t cap)
{
    size_t pos = 0;
    unsigned lineno = 0;
    char why[400];
    char *copy = malloc(FTPD_USERS_LINE_MAX + 1);
    ftpd_user *u = malloc(sizeof *u);
    int rc = 0;
    if (!copy || !u) {
        rc = -ENOMEM;
        goto out;
    }
    while (pos < len) {
        lineno++;
        char *nl = memchr(buf + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (buf + pos)) : len - pos;
        if (memchr(buf + pos, '\0', ll)) {
            set_err(err, cap, "%s:%u: NUL byte in line", path, lineno);
            rc = -EINVAL;
            goto out;
        }
        if (ll > FTPD_USERS_LINE_MAX) {
            set_err(err, cap, "%s:%u: line longer than %d bytes", path, lineno,
                    FTPD_USERS_LINE_MAX);
            rc = -EINVAL;
            goto out;
        }
        memcpy(copy, buf + pos, ll);
        copy[ll] = '\0';
        int k = parse_line(copy, u, why, sizeof why);
        if (k < 0) {
            set_err(err, cap, "%s:%u: %s", path, lineno, why);
            rc = -EINVAL;
            goto out;
        }
        if (fn && (rc = fn(ctx, buf + pos, ll, k, u)) < 0) {
            if (rc == -EEXIST)
                set_err(err, cap, "%s:%u: user %s appears twice", path, lineno, u->name);
            goto out;
        }
        pos += ll + (nl ? 1 : 0);
    }
out:
    free(copy);
    free(u);
    return rc;
}

struct table {
    ftpd_user *v;
    size_t n, cap;
};

static int table_find(const struct table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int add_to_table(void *ctx, const char *raw, size_t raw_len, int is_user,
                        const ftpd_user *u)
{
    (void)raw;
    (void)raw_len;
    struct table *t = ctx;
    if (!is_user)
        return 0;
    if (table_find(t, u->name) >= 0)
        return -EEXIST;
    if (t->n == FTPD_USERS_MAX)
        return -E2BIG;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 16;
        ftpd_user *nv = realloc(t->v, nc * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        t->v = nv;
        t->cap = nc;
    }
    t->v[t->n++] = *u;
    return 0;
}

static int parse_buffer(const char *path, char *buf, size_t len, ftpd_user **out,
                        size_t *count, char *err, size_t cap)
{
    struct table t = {0};
    int rc = each_line(path, buf, len, add_to_table, &t, err, cap);
    if (rc == -E2BIG)
        set_err(err, cap, "%s: more than %d users", path, FTPD_USERS_MAX);
    else if (rc < 0 && rc != -EINVAL && rc != -EEXIST)
        set_err(err, cap, "%s: %s", path, strerror(-rc));
    if (rc < 0) {
        free(t.v);
        return rc == -EEXIST || rc == -E2BIG ? -EINVAL : rc;
    }
    *out = t.v;
    *count = t.n;
    return 0;
}

int ftpd_users_parse_file(const char *path, ftpd_user **out, size_t *count,
                          char *err, size_t cap)
{
    *out = NULL;
    *count = 0;
    char *buf;
    size_t len;
    struct stat st;
    int rc = slurp(path, &buf, &len, &st);
    if (rc < 0) {
        read_error(path, rc, err, cap);
        return rc;
    }
    rc = check_not_cut(path, len, &st, err, cap);
    if (rc == 0)
        rc = parse_buffer(path, buf, len, out, count, err, cap);
    free(buf);
    return rc;
}

/* ---- the live table ---- */

static bool same_file(const ftpd_users *u, const struct stat *st)
{
    /* ctime too: chmod changes nothing else, and a file made unreadable
     * (or readable again) must be noticed. */
    return u->dev == st->st_dev && u->ino == st->st_ino &&
           u->size == st->st_size && u->mtime.tv_sec == st->st_mtim.tv_sec &&
           u->mtime.tv_nsec == st->st_mtim.tv_nsec &&
           u->ctime.tv_sec == st->st_ctim.tv_sec &&
           u->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* Called with u->lock held. */
static int reload_locked(ftpd_users *u, bool force, char *err, size_t cap)
{
    struct stat st;
    if (stat(u->path, &st) < 0) {
        if (errno != ENOENT) {
            int e = errno;
            set_err(u->last_error, sizeof u->last_error, "%s: %s", u->path, strerror(e));
            set_err(err, cap, "%s", u->last_error);
            u->broken = true;
            return -e;
        }
        memset(&st, 0, sizeof st);
    }
    if (u->loaded && !force && same_file(u, &st))
        return 0;
    char *buf;
    size_t len;
    struct stat st2;
    int rc = slurp(u->path, &buf, &len, &st2);
    ftpd_user *v = NULL;
    size_t n = 0;
    char msg[sizeof u->last_error];
    if (rc < 0)
        read_error(u->path, rc, msg, sizeof msg);
    else {
        rc = check_not_cut(u->path, len, &st2, msg, sizeof msg);
        if (rc == 0)
            rc = parse_buffer(u->path, buf, len, &v, &n, msg, sizeof msg);
        free(buf);
    }
    if (rc < 0) {
        memcpy(u->last_error, msg, sizeof msg);
        set_err(err, cap, "%s", msg);
        u->broken = true;
        /* Remember the broken file so it is not re-parsed on every lookup;
         * the next change to it is tried again.  A file that changed while
         * it was read is read again next time. */
        if (rc == -EAGAIN)
            memset(&st2, 0, sizeof st2);
        u->dev = st2.st_dev;
        u->ino = st2.st_ino;
        u->size = st2.st_size;
        u->mtime = st2.st_mtim;
        u->ctime = st2.st_ctim;
        return rc;
    }
    free(u->users);
    u->users = v;
    u->count = n;
    u->loaded = true;
    u->dev = st2.st_dev;
    u->ino = st2.st_ino;
    u->size = st2.st_size;
    u->mtime = st2.st_mtim;
    u->ctime = st2.st_ctim;
    u->last_error[0] = '\0';
    u->broken = false;
    return 1;
}

int ftpd_users_init(ftpd_users *u, const char *path, char *err, size_t cap)
{
    memset(u, 0, sizeof *u);
    pthread_mutex_init(&u->lock, NULL);
    if (!path || strlen(path) >= sizeof u->path) {
        set_err(err, cap, "users file path too long");
        return -ENAMETOOLONG;
    }
    strcpy(u->path, path);
    pthread_mutex_lock(&u->lock);
    int rc = reload_locked(u, true, err, cap);
    pthread_mutex_unlock(&u->lock);
    return rc < 0 ? rc : 0;
}

void ftpd_users_close(ftpd_users *u)
{
    free(u->users);
    u->users = NULL;
    u->count = 0;
    pthread_mutex_destroy(&u->lock);
}

int ftpd_users_reload(ftpd_users *u, bool force, char *err, size_t cap)
{
    pthread_mutex_lock(&u->lock);
    int rc = reload_locked(u, force, err, cap);
    pthread_mutex_unlock(&u->lock);
    return rc;
}

static int copy_out(const ftpd_users *u, const ftpd_user *src, ftpd_user *out)
{
    *out = *src;
    return ftpd_user_home_resolve(u->path, src->home, out->home, sizeof out->home);
}

int ftpd_users_lookup(ftpd_users *u, const char *name, ftpd_user *out)
{
    pthread_mutex_lock(&u->lock);
    (void)reload_locked(u, false, NULL, 0);
    /* A file that cannot be read whole decides no login, not even from
     * the table it replaced: it may be what removed a user or changed a
     * password. */
    int rc = u->broken ? -EIO : -ENOENT;
    for (size_t i = 0; i < u->count && !u->broken; i++) {
        if (strcmp(u->users[i].name, name) == 0) {
            rc = copy_out(u, &u->users[i], out);
            break;
        }
    }
    pthread_mutex_unlock(&u->lock);
    return rc;
}

int ftpd_users_reference_hash(ftpd_users *u, char *out, size_t cap)
{
    pthread_mutex_lock(&u->lock);
    int rc = -ENOENT;
    if (u->count > 0) {
        size_t n = strlen(u->users[0].hash);
        if (n + 1 > cap) {
            rc = -ENOSPC;
        } else {
            memcpy(out, u->users[0].hash, n + 1);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&u->lock);
    return rc;
}

size_t ftpd_users_count(ftpd_users *u)
{
    pthread_mutex_lock(&u->lock);
    size_t n = u->count;
    pthread_mutex_unlock(&u->lock);
    return n;
}

int ftpd_users_at(ftpd_users *u, size_t i, ftpd_user *out)
{
    pthread_mutex_lock(&u->lock);
    int rc = i < u->count ? copy_out(u, &u->users[i], out) : -ENOENT;
    pthread_mutex_unlock(&u->lock);
    return rc;
}

void ftpd_users_last_error(ftpd_users *u, char *out, size_t cap)
{
    pthread_mutex_lock(&u->lock);
    set_err(out, cap, "%s", u->last_error);
    pthread_mutex_unlock(&u->lock);
}

/* ---- atomic edits ---- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A rate field: "" for the server's default. */
static int format_rate(uint64_t v, char *out, size_t cap)
{
    if (v == 0) {
        out[0] = '\0';
        return 0;
    }
    return ftpd_size_format(v, out, cap);
}

static int format_user(const ftpd_user *u, char *line, size_t cap)
{
    char q[32], up[32], down[32];
    if (ftpd_size_format(u->quota, q, sizeof q) < 0 ||
        format_rate(u->rate_up, up, sizeof up) < 0 ||
        format_rate(u->rate_down, down, sizeof down) < 0)
        return -EINVAL;
    /* Without rates, the four fields older servers read. */
    int n = u->rate_up || u->rate_down
                ? snprintf(line, cap, "%s:%s:%s:%s:%s:%s\n", u->name, u->hash,
                           u->home, q, up, down)
                : snprintf(line, cap, "%s:%s:%s:%s\n", u->name, u->hash,
                           u->home, q);
    if (n < 0 || (size_t)n >= cap)
        return -ENAMETOOLONG;
    return n;
}

enum edit_op { EDIT_ADD, EDIT_SET_HASH, EDIT_DEL, EDIT_MOD };

struct edit {
    enum edit_op op;
    const ftpd_user *user;   /* add */
    const char *name;        /* set_hash, del */
    const char *hash;        /* set_hash */
    const ftpd_user_mod *mod;/* mod */
    int fd;                  /* temp file */
    bool found;
    int rc;
};

static int edit_line(void *ctx, const char *raw, size_t raw_len, int is_user,
                     const ftpd_user *u)
{
    struct edit *e = ctx;
    if (is_user && e->op != EDIT_ADD && strcmp(u->name, e->name) == 0) {
        e->found = true;
        if (e->op == EDIT_DEL)
            return 0;
        ftpd_user nu = *u;
        if (e->op == EDIT_SET_HASH)
            strcpy(nu.hash, e->hash);
        if (e->op == EDIT_MOD && e->mod->set_quota)
            nu.quota = e->mod->quota;
        if (e->op == EDIT_MOD && e->mod->set_rate_up)
            nu.rate_up = e->mod->rate_up;
        if (e->op == EDIT_MOD && e->mod->set_rate_down)
            nu.rate_down = e->mod->rate_down;
        char line[FTPD_USERS_LINE_MAX + 2];
        int n = format_user(&nu, line, sizeof line);
        if (n < 0)
            return n;
        return write_all(e->fd, line, (size_t)n);
    }
    if (is_user && e->op == EDIT_ADD && strcmp(u->name, e->user->name) == 0) {
        e->found = true;
        return -EEXIST;
    }
    int rc = write_all(e->fd, raw, raw_len);
    return rc < 0 ? rc : write_all(e->fd, "\n", 1);
}

static int fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == path)
        strcpy(dir, "/");
    else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir)
            return -ENAMETOOLONG;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static int edit_file(const char *path, struct edit *e, char *err, size_t cap)
{
    char lockp[PATH_MAX], tmpp[PATH_MAX];
    if (snprintf(lockp, sizeof lockp, "%s.lock", path) >= (int)sizeof lockp ||
        snprintf(tmpp, sizeof tmpp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmpp) {
        set_err(err, cap, "%s: path too long", path);
        return -ENAMETOOLONG;
    }
    int lfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0) {
        int rc = -errno;
        set_err(err, cap, "%s: %s", lockp, strerror(-rc));
        return rc;
    }
    while (flock(lfd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int rc = -errno;
            set_err(err, cap, "%s: lock: %s", lockp, strerror(-rc));
            close(lfd);
            return rc;
        }
    }
    /* Under the lock: read the current file, so concurrent edits compose. */
    char *buf = NULL;
    size_t len = 0;
    struct stat st;
    int rc = slurp(path, &buf, &len, &st);
    if (rc < 0) {
        read_error(path, rc, err, cap);
        goto unlock;
    }
    rc = check_not_cut(path, len, &st, err, cap);
    if (rc < 0)
        goto unlock;
    /* A file that does not parse is not edited (its error names the line). */
    ftpd_user *tmp_table;
    size_t tmp_count;
    char *copy = malloc(len + 1);
    if (!copy) {
        rc = -ENOMEM;
        goto unlock;
    }
    memcpy(copy, buf, len + 1);
    rc = parse_buffer(path, copy, len, &tmp_table, &tmp_count, err, cap);
    free(copy);
    if (rc < 0)
        goto unlock;
    free(tmp_table);

    unlink(tmpp);
    e->fd = open(tmpp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (e->fd < 0) {
        rc = -errno;
        set_err(err, cap, "%s: %s", tmpp, strerror(-rc));
        goto unlock;
    }
    if (len == 0) {
        static const char header[] =
            "# sockserv-ftpd users: name:hash:home:quota[:upload_rate:download_rate]"
            " (see doc/ftpd.md)\n";
        rc = write_all(e->fd, header, sizeof header - 1);
    }
    if (rc == 0)
        rc = each_line(path, buf, len, edit_line, e, err, cap);
    if (rc == -EEXIST) {
        set_err(err, cap, "user %s already exists", e->user->name);
    } else if (rc == 0 && e->op != EDIT_ADD && !e->found) {
        rc = -ENOENT;
        set_err(err, cap, "no user %s in %s", e->name, path);
    } else if (rc == 0 && e->op == EDIT_ADD) {
        char line[FTPD_USERS_LINE_MAX + 2];
        int n = format_user(e->user, line, sizeof line);
        rc = n < 0 ? n : write_all(e->fd, line, (size_t)n);
        if (rc < 0)
            set_err(err, cap, "%s: %s", tmpp, strerror(-rc));
    } else if (rc < 0) {
        set_err(err, cap, "%s: %s", tmpp, strerror(-rc));
    }
    if (rc == 0 && fchmod(e->fd, st.st_mode ? (st.st_mode & 0777) : 0600) < 0)
        rc = -errno;
    if (rc == 0 && fsync(e->fd) < 0) {
        rc = -errno;
        set_err(err, cap, "%s: fsync: %s", tmpp, strerror(-rc));
    }
    if (close(e->fd) < 0 && rc == 0) {
        rc = -errno;
        set_err(err, cap, "%s: close: %s", tmpp, strerror(-rc));
    }
    e->fd = -1;
    if (rc == 0 && rename(tmpp, path) < 0) {
        rc = -errno;
        set_err(err, cap, "rename %s -> %s: %s", tmpp, path, strerror(-rc));
    }
    if (rc < 0)
        unlink(tmpp);
    else
        (void)fsync_dir_of(path);
unlock:
    free(buf);
    flock(lfd, LOCK_UN);
    close(lfd);
    return rc;
}

int ftpd_users_file_add(const char *path, const ftpd_user *user,
                        char *err, size_t cap)
{
    if (ftpd_user_name_check(user->name) < 0) {
        set_err(err, cap, "bad user name '%.64s' (letters, digits, '.', '_', '-')", user->name);
        return -EINVAL;
    }
    if (hash_check(user->hash) < 0) {
        set_err(err, cap, "bad password hash");
        return -EINVAL;
    }
    if (ftpd_user_home_check(user->home) < 0) {
        set_err(err, cap, "bad home '%.200s' (no ':' or newline)", user->home);
        return -EINVAL;
    }
    struct edit e = {.op = EDIT_ADD, .user = user, .fd = -1};
    return edit_file(path, &e, err, cap);
}

int ftpd_users_file_set_hash(const char *path, const char *name,
                             const char *hash, char *err, size_t cap)
{
    if (ftpd_user_name_check(name) < 0 || hash_check(hash) < 0) {
        set_err(err, cap, "bad user name or hash");
        return -EINVAL;
    }
    struct edit e = {.op = EDIT_SET_HASH, .name = name, .hash = hash, .fd = -1};
    return edit_file(path, &e, err, cap);
}

int ftpd_users_file_del(const char *path, const char *name, char *err, size_t cap)
{
    if (ftpd_user_name_check(name) < 0) {
        set_err(err, cap, "bad user name '%.64s'", name);
        return -EINVAL;
    }
    struct edit e = {.op = EDIT_DEL, .name = name, .fd = -1};
    return edit_file(path, &e, err, cap);
}

int ftpd_users_file_mod(const char *path, const char *name,
                        const ftpd_user_mod *m, char *err, size_t cap)
{
    if (ftpd_user_name_check(name) < 0) {
        set_err(err, cap, "bad user name '%.64s'", name);
        return -EINVAL;
    }
    struct edit e = {.op = EDIT_MOD, .name = name, .mod = m, .fd = -1};
    return edit_file(path, &e, err, cap);
}
