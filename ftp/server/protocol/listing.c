/* ftp/server/protocol/listing.c - LIST/NLST/MLSD/MLST lines (see listing.h). */
#include "protocol/listing.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Month names are fixed English: clients parse them whatever the locale. */
static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
/* ls switches to the year form for files older than about six months. */
#define SIX_MONTHS (182 * 24 * 3600 + 12 * 3600)

static char type_char(mode_t m)
{
    if (S_ISDIR(m)) return 'd';
    if (S_ISLNK(m)) return 'l';
    if (S_ISFIFO(m)) return 'p';
    if (S_ISSOCK(m)) return 's';
    if (S_ISCHR(m)) return 'c';
    if (S_ISBLK(m)) return 'b';
    return '-';
}

static void perm_string(mode_t m, char out[11])
{
    out[0] = type_char(m);
    const char *rwx = "rwxrwxrwx";
    for (int i = 0; i < 9; i++)
        out[1 + i] = (m & (1u << (8 - i))) ? rwx[i] : '-';
    if (m & S_ISUID)
        out[3] = (m & S_IXUSR) ? 's' : 'S';
    if (m & S_ISGID)
        out[6] = (m & S_IXGRP) ? 's' : 'S';
    if (m & S_ISVTX)
        out[9] = (m & S_IXOTH) ? 't' : 'T';
    out[10] = '\0';
}

static bool name_sendable(const char *name)
{
    return strpbrk(name, "\r\n") == NULL;
}

int ftpd_list_format_long(const struct stat *st, const char *name, time_t now,
                          char *out, size_t cap)
{
    char perms[11];
    perm_string(st->st_mode, perms);
    struct tm tm;
    time_t mt = st->st_mtime;
    gmtime_r(&mt, &tm);
    char when[32];
    if (mt > now + 3600 || now - mt > SIX_MONTHS)
        snprintf(when, sizeof when, "%s %02d  %04d", months[tm.tm_mon], tm.tm_mday,
                 tm.tm_year + 1900);
    else
        snprintf(when, sizeof when, "%s %02d %02d:%02d", months[tm.tm_mon],
                 tm.tm_mday, tm.tm_hour, tm.tm_min);
    int n = snprintf(out, cap, "%s %4lu %-8s %-8s %12lld %s %s\r\n", perms,
                     (unsigned long)st->st_nlink, "ftp", "ftp",
                     (long long)st->st_size, when, name);
    if (n < 0 || (size_t)n >= cap)
        return -ENOSPC;
    return n;
}

int ftpd_list_mdtm(time_t t, char *out, size_t cap)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return -EINVAL;
    int n = snprintf(out, cap, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (n < 0 || (size_t)n >= cap)
        return -ENOSPC;
    return n;
}

int ftpd_list_format_mlsx(const struct stat *st, const char *name,
                          const char *type_, unsigned facts,
                          char *out, size_t cap)
{
    char buf[FTPD_LIST_LINE_MAX];
    size_t n = 0;
    bool dir = S_ISDIR(st->st_mode);
    bool writable = (st->st_mode & S_IWUSR) != 0;
#define ADD(...)                                                           \
    do {                                                                   \
        int k_ = snprintf(buf + n, sizeof buf - n, __VA_ARGS__);           \
        if (k_ < 0 || (size_t)k_ >= sizeof buf - n)                        \
            return -ENOSPC;                                                \
        n += (size_t)k_;                                                   \
    } while (0)
    if (facts & FTPD_MLST_TYPE) {
        const char *t = type_;
        if (!t)
            t = dir ? "dir" : S_ISREG(st->st_mode) ? "file" : "OS.unix=special";
        ADD("type=%s;", t);
    }
    if ((facts & FTPD_MLST_SIZE) && !dir)
        ADD("size=%lld;", (long long)st->st_size);
    if (facts & FTPD_MLST_MODIFY) {
        char m[32];
        if (ftpd_list_mdtm(st->st_mtime, m, sizeof m) > 0)
            ADD("modify=%s;", m);
    }
    if (facts & FTPD_MLST_PERM) {
        /* RFC 3659 §7.5.5: what this user may do with the object. */
        const char *p = dir ? (writable ? "cdeflmp" : "el")
                            : (writable ? "adfrw" : "r");
        ADD("perm=%s;", p);
    }
    if (facts & FTPD_MLST_UNIQUE)
        ADD("unique=%llxg%llx;", (unsigned long long)st->st_dev,
            (unsigned long long)st->st_ino);
    ADD(" %s\r\n", name);
#undef ADD
    if (n + 1 > cap)
        return -ENOSPC;
    memcpy(out, buf, n + 1);
    return (int)n;
}

/* One entry in the requested format; 0 when skipped, 1 when written. */
static int emit(enum ftpd_list_format format, const struct stat *st,
                const char *name, const char *type_, unsigned facts, time_t now,
                ftpd_list_writer writer, void *ctx)
{
    if (!name_sendable(name))
        return 0;
    char line[FTPD_LIST_LINE_MAX + 4096];
    int n;
    switch (format) {
    case FTPD_LIST_LONG:
        n = ftpd_list_format_long(st, name, now, line, sizeof line);
        break;
    case FTPD_LIST_NAMES:
        n = snprintf(line, sizeof line, "%s\r\n", name);
        if (n < 0 || (size_t)n >= sizeof line)
            n = -ENOSPC;
        break;
    case FTPD_LIST_MLSD:
        n = ftpd_list_format_mlsx(st, name, type_, facts, line, sizeof line);
        break;
    default:
        return -EINVAL;
    }
    if (n < 0)
        return n == -ENOSPC ? 0 : n;   /* a name too long to show is skipped */
    int rc = writer(ctx, line, (size_t)n);
    return rc < 0 ? rc : 1;
}

long ftpd_list_dir(const ftpd_vfs *vfs, const char *path, size_t path_len,
                   enum ftpd_list_format format, unsigned flags,
                   unsigned facts, ftpd_list_writer writer, void *ctx)
{
    ftpd_vfs_dir d;
    int rc = ftpd_vfs_opendir(vfs, path, path_len, &d);
    if (rc < 0)
        return rc;
    time_t now = time(NULL);
    long count = 0;
    if (format == FTPD_LIST_MLSD) {
        char vp[FTPD_VFS_PATH_MAX + 4];
        struct stat parent;
        rc = ftpd_vfs_virtual_path(vfs, path, path_len, vp, FTPD_VFS_PATH_MAX);
        if (rc == 0) {
            strcat(vp, "/..");
            if (ftpd_vfs_stat(vfs, vp, FTPD_VFS_CSTR, &parent) < 0)
                parent = d.self;
        }
        if (rc == 0 && (rc = emit(format, &d.self, ".", "cdir", facts, now, writer, ctx)) > 0)
            count++;
        if (rc >= 0 && (rc = emit(format, &parent, "..", "pdir", facts, now, writer, ctx)) > 0)
            count++;
        if (rc < 0) {
            ftpd_vfs_closedir(&d);
            return rc;
        }
    }
    const char *name;
    struct stat st;
    while ((rc = ftpd_vfs_readdir(&d, &name, &st)) == 1) {
        if (name[0] == '.' && !(flags & FTPD_LIST_ALL))
            continue;
        int e = emit(format, &st, name, NULL, facts, now, writer, ctx);
        if (e < 0) {
            rc = e;
            break;
        }
        count += e;
    }
    ftpd_vfs_closedir(&d);
    return rc < 0 ? rc : count;
}

long ftpd_list_path(const ftpd_vfs *vfs, const char *path, size_t path_len,
                    enum ftpd_list_format format, unsigned flags,
                    unsigned facts, ftpd_list_writer writer, void *ctx)
{
    struct stat st;
    int rc = ftpd_vfs_stat(vfs, path, path_len, &st);
    if (rc < 0)
        return rc;
    if (S_ISDIR(st.st_mode))
        return ftpd_list_dir(vfs, path, path_len, format, flags, facts, writer, ctx);
    /* A single file is shown under the name the client gave (as ls does). */
    if (path_len == FTPD_VFS_CSTR)
        path_len = strlen(path);
    char name[FTPD_VFS_PATH_MAX];
    if (path_len >= sizeof name)
        return -ENAMETOOLONG;
    memcpy(name, path, path_len);
    name[path_len] = '\0';
    rc = emit(format, &st, name, NULL, facts, time(NULL), writer, ctx);
    return rc;
}

int ftpd_list_mlst(const ftpd_vfs *vfs, const char *path, size_t path_len,
                   unsigned facts, char *out, size_t cap)
{
    struct stat st;
    char vp[FTPD_VFS_PATH_MAX];
    int rc = ftpd_vfs_virtual_path(vfs, path, path_len, vp, sizeof vp);
    if (rc < 0)
        return rc;
    if ((rc = ftpd_vfs_stat(vfs, vp, FTPD_VFS_CSTR, &st)) < 0)
        return rc;
    if (!name_sendable(vp))
        return -EINVAL;
    return ftpd_list_format_mlsx(&st, vp, NULL, facts, out, cap);
}
