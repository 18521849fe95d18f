/* ftp/server/protocol/vfs.c - the one path resolver (see vfs.h for the rules).
 *
 * Why a hand-made walk instead of realpath() + a prefix check: realpath and
 * the later open are two lookups, and a client (or anyone sharing the home)
 * can swap a directory for a symlink between them.  Here every step opens one
 * name, relative to a descriptor we already hold, with O_NOFOLLOW, and a
 * symlink is only ever read from the descriptor that was opened, so what was
 * checked is what gets used.  ".." is resolved lexically for client paths
 * (clamped at "/"); a ".." inside a symlink target walks again from the home
 * over the physical names already validated, so no kernel ".." lookup is
 * ever made (a directory moved out of the home cannot be climbed out of). */
#include "protocol/vfs.h"
#include "protocol/homefd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

/* 1 unknown, 0 no openat2 (ENOSYS/old kernel), 2 available. */
static atomic_int openat2_state = 1;

/* Opens one path component name (never containing '/', never "." or "..")
 * relative to dirfd without following a symlink at it.  With openat2 the
 * kernel also enforces RESOLVE_BENEATH. */
static int open_beneath(int dirfd, const char *name, int flags, mode_t mode)
{
    flags |= O_CLOEXEC | O_NOFOLLOW;
    if (atomic_load(&openat2_state) == 1) {
        const char *e = getenv("SOCKSERV_FTPD_NO_OPENAT2");
        if (e && *e && strcmp(e, "0") != 0)
            atomic_store(&openat2_state, 0);
    }
    if (atomic_load(&openat2_state) != 0) {
        struct open_how how;
        memset(&how, 0, sizeof how);
        how.flags = (uint64_t)flags;
        how.mode = (flags & O_CREAT) ? mode : 0;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
        for (;;) {
            long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof how);
            if (fd >= 0) {
                atomic_store(&openat2_state, 2);
                return (int)fd;
            }
            if (errno == EINTR)
                continue;
            if (errno == ENOSYS || errno == EPERM /* seccomp filters */) {
                atomic_store(&openat2_state, 0);
                break;
            }
            return -errno;
        }
    }
    for (;;) {
        int fd = openat(dirfd, name, flags, mode);
        if (fd >= 0)
            return fd;
        if (errno != EINTR)
            return -errno;
    }
}

/* ---- lexical part: validation and normalisation ---- */

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* Appends the components of src (n bytes) to out (an absolute normalised
 * path of *olen bytes), handling "." / ".." (clamped at "/").  out has room
 * for cap bytes with the NUL. */
static int append_components(char *out, size_t *olen, size_t cap,
                             const char *src, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && src[i] == '/')
            i++;
        size_t start = i;
        while (i < n && src[i] != '/')
            i++;
        size_t clen = i - start;
        if (clen == 0 || (clen == 1 && src[start] == '.'))
            continue;
        if (clen == 2 && src[start] == '.' && src[start + 1] == '.') {
            while (*olen > 1 && out[*olen - 1] != '/')
                (*olen)--;
            if (*olen > 1)
                (*olen)--;      /* drop the '/' too, except the root's */
            out[*olen] = '\0';
            continue;
        }
        if (clen > NAME_MAX)
            return -ENAMETOOLONG;
        size_t need = *olen + (*olen > 1 ? 1 : 0) + clen;
        if (need + 1 > cap)
            return -ENAMETOOLONG;
        if (*olen > 1)
            out[(*olen)++] = '/';
        memcpy(out + *olen, src + start, clen);
        *olen += clen;
        out[*olen] = '\0';
    }
    return 0;
}

static int normalize(const ftpd_vfs *vfs, const char *path, size_t len,
                     char *out, size_t cap)
{
    if (!path)
        return -EINVAL;
    if (len == FTPD_VFS_CSTR)
        len = strlen(path);
    if (memchr(path, '\0', len))
        return -EINVAL;
    if (len >= FTPD_VFS_PATH_MAX)
        return -ENAMETOOLONG;
    if (!utf8_valid((const unsigned char *)path, len))
        return -EILSEQ;
    if (cap < 2)
        return -ENAMETOOLONG;
    size_t olen;
    if (len > 0 && path[0] == '/') {
        out[0] = '/';
        out[1] = '\0';
        olen = 1;
    } else {
        const char *cwd = ftpd_vfs_pwd(vfs);
        olen = strlen(cwd);
        if (olen + 1 > cap)
            return -ENAMETOOLONG;
        memcpy(out, cwd, olen + 1);
    }
    int rc = append_components(out, &olen, cap, path, len);
    if (rc == 0 && olen >= FTPD_VFS_PATH_MAX)
        rc = -ENAMETOOLONG;
    return rc;
}

int ftpd_vfs_virtual_path(const ftpd_vfs *vfs, const char *path,
                          size_t path_len, char *out, size_t cap)
{
    char buf[FTPD_VFS_PATH_MAX];
    int rc = normalize(vfs, path, path_len, buf, sizeof buf);
    if (rc < 0)
        return rc;
    size_t n = strlen(buf);
    if (n + 1 > cap)
        return -ENAMETOOLONG;
    memcpy(out, buf, n + 1);
    return 0;
}

/* ---- physical part: the walk ---- */

/* Where a resolution ended: the directory holding the last name and that
 * name ("" when the path is the home itself).  parent is root_fd (not owned)
 * or an owned O_PATH descriptor. */
typedef struct resolved {
    int parent;
    bool parent_owned;
    char name[NAME_MAX + 1];
} resolved;

static void resolved_close(const ftpd_vfs *vfs, resolved *r)
{
    if (r->parent_owned && r->parent >= 0 && r->parent != vfs->root_fd)
        close(r->parent);
    r->parent = -1;
    r->parent_owned = false;
}

typedef struct walk {
    const ftpd_vfs *vfs;
    int cur;                         /* directory reached so far */
    char phys[FTPD_VFS_PATH_MAX];    /* its physical path below the home */
    size_t phys_len;
    char rest[2 * FTPD_VFS_PATH_MAX];/* components still to walk */
    size_t rest_len;
    int links;
} walk;

static void walk_set_cur(walk *w, int fd)
{
    if (w->cur != w->vfs->root_fd)
        close(w->cur);
    w->cur = fd;
}

/* Opens the physical path phys again from the home, one O_NOFOLLOW step at
 * a time (used after ".." in a symlink target). */
static int walk_reopen(walk *w)
{
    walk_set_cur(w, w->vfs->root_fd);
    size_t i = 0;
    char comp[NAME_MAX + 1];
    while (i < w->phys_len) {
        while (i < w->phys_len && w->phys[i] == '/')
            i++;
        size_t s = i;
        while (i < w->phys_len && w->phys[i] != '/')
            i++;
        if (i == s)
            continue;
        memcpy(comp, w->phys + s, i - s);
        comp[i - s] = '\0';
        int fd = open_beneath(w->cur, comp, O_PATH | O_DIRECTORY, 0);
        if (fd < 0)
            return fd == -ELOOP || fd == -ENOTDIR ? -EACCES : fd;
        walk_set_cur(w, fd);
    }
    return 0;
}

/* Takes the next component off rest into comp; returns its length, 0 when
 * rest is empty. */
static size_t walk_next(walk *w, char *comp)
{
    size_t i = 0;
    while (i < w->rest_len) {
        while (i < w->rest_len && w->rest[i] == '/')
            i++;
        size_t s = i;
        while (i < w->rest_len && w->rest[i] != '/')
            i++;
        size_t n = i - s;
        if (n == 0 || (n == 1 && w->rest[s] == '.'))
            continue;
        if (n > NAME_MAX)
            n = NAME_MAX + 1;      /* reported as too long by the caller */
        else
            memcpy(comp, w->rest + s, n);
        comp[n > NAME_MAX ? 0 : n] = '\0';
        memmove(w->rest, w->rest + i, w->rest_len - i);
        w->rest_len -= i;
        w->rest[w->rest_len] = '\0';
        return n;
    }
    w->rest_len = 0;
    w->rest[0] = '\0';
    return 0;
}

static bool walk_rest_empty(const walk *w)
{
    for (size_t i = 0; i < w->rest_len; i++) {
        if (w->rest[i] == '/')
            continue;
        if (w->rest[i] == '.' && (i + 1 == w->rest_len || w->rest[i + 1] == '/'))
            continue;
        return false;
    }
    return true;
}

/* Replaces the symlink just met (opened as lfd) by its target: rest becomes
 * target + "/" + rest.  An absolute target must lie inside the home's real
 * path; the walk then restarts from the home. */
static int walk_expand_link(walk *w, int lfd)
{
    if (++w->links > FTPD_VFS_MAX_SYMLINKS)
        return -ELOOP;
    char target[FTPD_VFS_PATH_MAX];
    ssize_t n = readlinkat(lfd, "", target, sizeof target);
    if (n < 0)
        return -errno;
    if ((size_t)n >= sizeof target)
        return -ENAMETOOLONG;
    target[n] = '\0';
    if (n == 0 || memchr(target, '\0', (size_t)n))
        return -ENOENT;
    const char *t = target;
    size_t tlen = (size_t)n;
    if (target[0] == '/') {
        const char *root = w->vfs->root_real;
        size_t rl = w->vfs->root_real_len;
        if (rl == 1)            /* the home is "/": every target is inside */
            rl = 0;
        if (strncmp(target, root, rl) != 0 ||
            (target[rl] != '\0' && target[rl] != '/'))
            return -EACCES;     /* points outside the home */
        t = target + rl;
        tlen -= rl;
        w->phys_len = 0;
        w->phys[0] = '\0';
        int rc = walk_reopen(w);
        if (rc < 0)
            return rc;
    }
    if (tlen + 1 + w->rest_len + 1 > sizeof w->rest)
        return -ENAMETOOLONG;
    memmove(w->rest + tlen + 1, w->rest, w->rest_len + 1);
    memcpy(w->rest, t, tlen);
    w->rest[tlen] = '/';
    w->rest_len += tlen + 1;
    return 0;
}

/* Walks the normalised virtual path vpath.  With follow_last, a symlink as
 * the last component is followed too; the result names the final object
 * by its (physical) parent directory and name.  The final object need not
 * exist. */
static int resolve(const ftpd_vfs *vfs, const char *vpath, bool follow_last,
                   resolved *out)
{
    out->parent = -1;
    out->parent_owned = false;
    out->name[0] = '\0';
    if (vfs->root_fd < 0)
        return -EBADF;
    walk *w = malloc(sizeof *w);   /* 12 KiB: keep it off small thread stacks */
    if (!w)
        return -ENOMEM;
    w->vfs = vfs;
    w->cur = vfs->root_fd;
    w->phys_len = 0;
    w->phys[0] = '\0';
    w->links = 0;
    size_t vl = strlen(vpath);
    memcpy(w->rest, vpath, vl + 1);
    w->rest_len = vl;

    int rc = 0;
    char comp[NAME_MAX + 2];
    for (;;) {
        size_t cl = walk_next(w, comp);
        if (cl == 0)
            break;                      /* the home itself */
        if (cl > NAME_MAX) {
            rc = -ENAMETOOLONG;
            break;
        }
        if (strcmp(comp, "..") == 0) {
            /* Only symlink targets get here: client paths were normalised. */
            if (w->phys_len == 0) {
                rc = -EACCES;           /* would climb above the home */
                break;
            }
            while (w->phys_len > 0 && w->phys[w->phys_len - 1] != '/')
                w->phys_len--;
            if (w->phys_len > 0)
                w->phys_len--;
            w->phys[w->phys_len] = '\0';
            if ((rc = walk_reopen(w)) < 0)
                break;
            if (walk_rest_empty(w)) {
                /* The path ends at a directory reached by "..": name it by
                 * its parent and name as any other final object. */
                size_t k = w->phys_len;
                while (k > 0 && w->phys[k - 1] != '/')
                    k--;
                if (w->phys_len == 0)
                    break;              /* the home */
                strcpy(out->name, w->phys + k);
                w->phys_len = k > 0 ? k - 1 : 0;
                w->phys[w->phys_len] = '\0';
                if ((rc = walk_reopen(w)) < 0)
                    break;
                goto done;
            }
            continue;
        }
        bool last = walk_rest_empty(w);
        if (last && !follow_last) {
            strcpy(out->name, comp);
            goto done;
        }
        int fd = open_beneath(w->cur, comp, O_PATH, 0);
        if (fd < 0) {
            if (fd == -ENOENT && last) {
                strcpy(out->name, comp);    /* may be created */
                goto done;
            }
            rc = fd;
            break;
        }
        struct stat st;
        if (fstat(fd, &st) < 0) {
            rc = -errno;
            close(fd);
            break;
        }
        if (S_ISLNK(st.st_mode)) {
            rc = walk_expand_link(w, fd);
            close(fd);
            if (rc < 0)
                break;
            if (walk_rest_empty(w)) {
                /* A link to the home itself ("/" or "."). */
                if (w->cur != vfs->root_fd || w->phys_len != 0) {
                    /* a relative link to its own directory: name that dir */
                    size_t k = w->phys_len;
                    while (k > 0 && w->phys[k - 1] != '/')
                        k--;
                    strcpy(out->name, w->phys + k);
                    w->phys_len = k > 0 ? k - 1 : 0;
                    w->phys[w->phys_len] = '\0';
                    if ((rc = walk_reopen(w)) < 0)
                        break;
                    goto done;
                }
                break;
            }
            continue;
        }
        if (last) {
            close(fd);
            strcpy(out->name, comp);
            goto done;
        }
        if (!S_ISDIR(st.st_mode)) {
            close(fd);
            rc = -ENOTDIR;
            break;
        }
        size_t need = w->phys_len + 1 + cl;
        if (need + 1 > sizeof w->phys) {
            close(fd);
            rc = -ENAMETOOLONG;
            break;
        }
        if (w->phys_len)
            w->phys[w->phys_len++] = '/';
        memcpy(w->phys + w->phys_len, comp, cl + 1);
        w->phys_len += cl;
        walk_set_cur(w, fd);
    }
    if (rc < 0) {
        if (w->cur != vfs->root_fd)
            close(w->cur);
        free(w);
        return rc;
    }
done:
    out->parent = w->cur;
    out->parent_owned = w->cur != vfs->root_fd;
    free(w);
    return 0;
}

/* Normalises path and resolves it. */
static int lookup(const ftpd_vfs *vfs, const char *path, size_t len,
                  bool follow_last, resolved *r)
{
    char vpath[FTPD_VFS_PATH_MAX];
    r->parent = -1;
    r->parent_owned = false;
    int rc = normalize(vfs, path, len, vpath, sizeof vpath);
    if (rc < 0)
        return rc;
    return resolve(vfs, vpath, follow_last, r);
}

/* Opens the object r names with flags (the home when name is ""). */
static int open_resolved(const ftpd_vfs *vfs, const resolved *r, int flags,
                         mode_t mode)
{
    if (r->name[0] == '\0') {
        int fd = openat(vfs->root_fd, ".", (flags & ~(O_CREAT | O_EXCL | O_TRUNC)) | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
    }
    return open_beneath(r->parent, r->name, flags, mode);
}

static int stat_resolved(const ftpd_vfs *vfs, const resolved *r, struct stat *st)
{
    int rc;
    if (r->name[0] == '\0')
        rc = fstat(vfs->root_fd, st);
    else
        rc = fstatat(r->parent, r->name, st, AT_SYMLINK_NOFOLLOW);
    return rc < 0 ? -errno : 0;
}

/* ---- public API ---- */

int ftpd_vfs_init(ftpd_vfs *vfs, const char *home)
{
    memset(vfs, 0, sizeof *vfs);
    vfs->root_fd = -1;
    if (!home || !*home)
        return -EINVAL;
    char *real = realpath(home, NULL);
    if (!real)
        return -errno;
    size_t rl = strlen(real);
    if (rl >= FTPD_VFS_PATH_MAX) {
        free(real);
        return -ENAMETOOLONG;
    }
    char *cwd = strdup("/");
    int fd = cwd ? ftpd_homefd_acquire(real) : -ENOMEM;
    if (fd < 0) {
        free(cwd);
        free(real);
        return fd;
    }
    vfs->root_real = real;
    vfs->root_real_len = rl;
    vfs->root_fd = fd;
    vfs->cwd = cwd;
    return 0;
}

void ftpd_vfs_close(ftpd_vfs *vfs)
{
    ftpd_homefd_release(vfs->root_fd);
    vfs->root_fd = -1;
    free(vfs->root_real);
    vfs->root_real = NULL;
    vfs->root_real_len = 0;
    free(vfs->cwd);
    vfs->cwd = NULL;
}

const char *ftpd_vfs_pwd(const ftpd_vfs *vfs)
{
    return vfs->cwd && vfs->cwd[0] ? vfs->cwd : "/";
}

int ftpd_vfs_stat(const ftpd_vfs *vfs, const char *path, size_t path_len,
                  struct stat *st)
{
    resolved r;
    int rc = lookup(vfs, path, path_len, true, &r);
    if (rc < 0)
        return rc;
    rc = stat_resolved(vfs, &r, st);
    /* The last name turned into a symlink after it was checked. */
    if (rc == 0 && S_ISLNK(st->st_mode))
        rc = -ELOOP;
    resolved_close(vfs, &r);
    return rc;
}

int ftpd_vfs_chdir(ftpd_vfs *vfs, const char *path, size_t path_len)
{
    char vpath[FTPD_VFS_PATH_MAX];
    int rc = normalize(vfs, path, path_len, vpath, sizeof vpath);
    if (rc < 0)
        return rc;
    resolved r;
    rc = resolve(vfs, vpath, true, &r);
    if (rc < 0)
        return rc;
    struct stat st;
    rc = stat_resolved(vfs, &r, &st);
    resolved_close(vfs, &r);
    if (rc < 0)
        return rc;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    char *cwd = strdup(vpath);
    if (!cwd)
        return -ENOMEM;
    free(vfs->cwd);
    vfs->cwd = cwd;
    return 0;
}

/* Keeps fd only if it is a regular file (closing it otherwise) and puts it
 * back in blocking mode: files are opened O_NONBLOCK so that a FIFO cannot
 * hang the open itself. */
static int regular_file_only(int fd, struct stat *s)
{
    if (fstat(fd, s) < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    if (!S_ISREG(s->st_mode)) {
        close(fd);
        return S_ISDIR(s->st_mode) ? -EISDIR : -EACCES;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return 0;
}

int ftpd_vfs_open_read(const ftpd_vfs *vfs, const char *path, size_t path_len,
                       struct stat *st)
{
    resolved r;
    int rc = lookup(vfs, path, path_len, true, &r);
    if (rc < 0)
        return rc;
    if (r.name[0] == '\0') {
        resolved_close(vfs, &r);
        return -EISDIR;
    }
    /* O_NONBLOCK so a FIFO cannot hang the open; cleared below. */
    int fd = open_beneath(r.parent, r.name, O_RDONLY | O_NONBLOCK, 0);
    resolved_close(vfs, &r);
    if (fd < 0)
        return fd;
    struct stat s;
    if ((rc = regular_file_only(fd, &s)) < 0)
        return rc;
    if (st)
        *st = s;
    return fd;
}

int ftpd_vfs_set_mtime(const ftpd_vfs *vfs, const char *path, size_t path_len,
                       const struct timespec *mtime, struct stat *st)
{
    int fd = ftpd_vfs_open_read(vfs, path, path_len, NULL);
    if (fd < 0)
        return fd;
    const struct timespec times[2] = {{.tv_nsec = UTIME_OMIT}, *mtime};
    int rc = futimens(fd, times) < 0 ? -errno : 0;
    if (rc == 0 && st && fstat(fd, st) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

int ftpd_vfs_open_write(const ftpd_vfs *vfs, const char *path, size_t path_len,
                        enum ftpd_vfs_wmode mode, off_t offset,
                        ftpd_vfs_wopen *info)
{
    ftpd_vfs_wopen dummy;
    if (!info)
        info = &dummy;
    info->old_size = 0;
    info->created = false;
    if (mode == FTPD_VFS_W_OFFSET && offset < 0)
        return -EINVAL;
    resolved r;
    int rc = lookup(vfs, path, path_len, true, &r);
    if (rc < 0)
        return rc;
    if (r.name[0] == '\0') {
        resolved_close(vfs, &r);
        return -EISDIR;
    }
    int base = O_WRONLY | O_NONBLOCK | (mode == FTPD_VFS_W_APPEND ? O_APPEND : 0);
    int fd = -ENOENT;
    /* Open an existing file first so we know whether it was created; create
     * exclusively otherwise; a file created in between just loops once. */
    for (int tries = 0; tries < 4; tries++) {
        if (mode != FTPD_VFS_W_EXCL) {
            fd = open_beneath(r.parent, r.name, base, 0);
            if (fd >= 0 || fd != -ENOENT)
                break;
        }
        fd = open_beneath(r.parent, r.name, base | O_CREAT | O_EXCL, 0644);
        if (fd >= 0) {
            info->created = true;
            break;
        }
        if (fd != -EEXIST || mode == FTPD_VFS_W_EXCL)
            break;
    }
    resolved_close(vfs, &r);
    if (fd < 0)
        return fd;
    struct stat s;
    if ((rc = regular_file_only(fd, &s)) < 0)
        return rc;
    info->old_size = info->created ? 0 : s.st_size;
    switch (mode) {
    case FTPD_VFS_W_TRUNC:
        if (s.st_size > 0 && ftruncate(fd, 0) < 0) {
            rc = -errno;
            close(fd);
            return rc;
        }
        break;
    case FTPD_VFS_W_OFFSET:
        if (offset > s.st_size) {
            close(fd);
            return -ERANGE;
        }
        if (lseek(fd, offset, SEEK_SET) < 0) {
            rc = -errno;
            close(fd);
            return rc;
        }
        break;
    case FTPD_VFS_W_APPEND:
    case FTPD_VFS_W_EXCL:
        break;
    }
    return fd;
}

int ftpd_vfs_create_unique(const ftpd_vfs *vfs, const char *dir, size_t dir_len,
                           const char *prefix, char *vpath, size_t cap)
{
    if (!prefix)
        prefix = "stou.";
    if (strchr(prefix, '/') || strlen(prefix) > 200)
        return -EINVAL;
    char vdir[FTPD_VFS_PATH_MAX];
    int rc = normalize(vfs, dir ? dir : "", dir ? dir_len : 0, vdir, sizeof vdir);
    if (rc < 0)
        return rc;
    resolved r;
    rc = resolve(vfs, vdir, true, &r);
    if (rc < 0)
        return rc;
    int dfd = open_resolved(vfs, &r, O_PATH | O_DIRECTORY, 0);
    resolved_close(vfs, &r);
    if (dfd < 0)
        return dfd;
    int fd = -EEXIST;
    char name[NAME_MAX + 1];
    for (int tries = 0; tries < 64 && fd == -EEXIST; tries++) {
        uint32_t rnd;
        if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
            rnd = (uint32_t)getpid() * 2654435761u + (uint32_t)tries;
        snprintf(name, sizeof name, "%s%08x", prefix, rnd);
        fd = open_beneath(dfd, name, O_WRONLY | O_CREAT | O_EXCL, 0644);
    }
    close(dfd);
    if (fd < 0)
        return fd;
    int n = snprintf(vpath, cap, "%s%s%s", vdir, strcmp(vdir, "/") ? "/" : "", name);
    if (n < 0 || (size_t)n >= cap) {
        /* The file exists but its name cannot be told: do not leave it. */
        close(fd);
        resolved r2;
        char full[FTPD_VFS_PATH_MAX + NAME_MAX + 2];
        snprintf(full, sizeof full, "%s/%s", vdir, name);
        if (resolve(vfs, full, false, &r2) == 0) {
            unlinkat(r2.parent, r2.name, 0);
            resolved_close(vfs, &r2);
        }
        return -ENAMETOOLONG;
    }
    return fd;
}

int ftpd_vfs_mkdir(const ftpd_vfs *vfs, const char *path, size_t path_len)
{
    resolved r;
    int rc = lookup(vfs, path, path_len, false, &r);
    if (rc < 0)
        return rc;
    if (r.name[0] == '\0')
        rc = -EEXIST;
    else if (mkdirat(r.parent, r.name, 0755) < 0)
        rc = -errno;
    resolved_close(vfs, &r);
    return rc;
}

int ftpd_vfs_rmdir(const ftpd_vfs *vfs, const char *path, size_t path_len)
{
    resolved r;
    int rc = lookup(vfs, path, path_len, false, &r);
    if (rc < 0)
        return rc;
    if (r.name[0] == '\0')
        rc = -EBUSY;
    else if (unlinkat(r.parent, r.name, AT_REMOVEDIR) < 0)
        rc = -errno;
    resolved_close(vfs, &r);
    return rc;
}

int ftpd_vfs_unlink(const ftpd_vfs *vfs, const char *path, size_t path_len,
                    off_t *freed)
{
    if (freed)
        *freed = 0;
    resolved r;
    int rc = lookup(vfs, path, path_len, false, &r);
    if (rc < 0)
        return rc;
    struct stat st;
    if (r.name[0] == '\0') {
        rc = -EISDIR;
    } else if ((rc = stat_resolved(vfs, &r, &st)) == 0) {
        if (S_ISDIR(st.st_mode))
            rc = -EISDIR;
        else if (unlinkat(r.parent, r.name, 0) < 0)
            rc = -errno;
        else if (freed && S_ISREG(st.st_mode))
            *freed = st.st_size;   /* what ftpd_quota_walk counted for it */
    }
    resolved_close(vfs, &r);
    return rc;
}

int ftpd_vfs_rename(const ftpd_vfs *vfs, const char *from, size_t from_len,
                    const char *to, size_t to_len, off_t *freed)
{
    if (freed)
        *freed = 0;
    resolved a, b;
    int rc = lookup(vfs, from, from_len, false, &a);
    if (rc < 0)
        return rc;
    rc = lookup(vfs, to, to_len, false, &b);
    if (rc < 0) {
        resolved_close(vfs, &a);
        return rc;
    }
    struct stat st;
    bool replaced_file = false;
    if (a.name[0] == '\0' || b.name[0] == '\0') {
        rc = -EBUSY;
    } else {
        if (stat_resolved(vfs, &b, &st) == 0 && S_ISREG(st.st_mode))
            replaced_file = true;
        if (renameat(a.parent, a.name, b.parent, b.name) < 0)
            rc = -errno;
        else if (freed && replaced_file)
            *freed = st.st_size;
    }
    resolved_close(vfs, &a);
    resolved_close(vfs, &b);
    return rc;
}

int ftpd_vfs_opendir(const ftpd_vfs *vfs, const char *path, size_t path_len,
                     ftpd_vfs_dir *d)
{
    d->dir = NULL;
    resolved r;
    int rc = lookup(vfs, path, path_len, true, &r);
    if (rc < 0)
        return rc;
    int fd = open_resolved(vfs, &r, O_RDONLY | O_DIRECTORY, 0);
    resolved_close(vfs, &r);
    if (fd < 0)
        return fd == -ELOOP ? -ELOOP : fd;
    if (fstat(fd, &d->self) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    d->dir = fdopendir(fd);
    if (!d->dir) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return 0;
}

int ftpd_vfs_readdir(ftpd_vfs_dir *d, const char **name, struct stat *st)
{
    if (!d->dir)
        return -EBADF;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d->dir);
        if (!e)
            return errno ? -errno : 0;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (fstatat(dirfd(d->dir), e->d_name, st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;   /* removed meanwhile */
            return -errno;
        }
        *name = e->d_name;
        return 1;
    }
}

void ftpd_vfs_closedir(ftpd_vfs_dir *d)
{
    if (d->dir)
        closedir(d->dir);
    d->dir = NULL;
}
