/* ftp/client/tree.c - see tree.h. */
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "listing.h"
#include "status.h"

#define MAX_DEPTH 64
#define MAX_ENTRIES 1000000 /* per tree: a listing loop cannot eat memory */

static int fail(ftpc_session *s, int status, const char *fmt, const char *a)
{
    snprintf(s->ctrl.err, sizeof s->ctrl.err, fmt, a, strerror(errno));
    return status;
}

void ftpc_tree_free(ftpc_tree *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].rel);
    free(t->v);
    memset(t, 0, sizeof *t);
}

static int add(ftpc_tree *t, const char *dir, const char *name, ftpc_ent_type type,
               int64_t size, int64_t mtime, int prec)
{
    if (t->n >= MAX_ENTRIES)
        return -E2BIG;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 256;
        ftpc_tree_item *nv = realloc(t->v, nc * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        t->v = nv;
        t->cap = nc;
    }
    size_t len = strlen(dir) + strlen(name) + 2;
    char *rel = malloc(len);
    if (!rel)
        return -ENOMEM;
    snprintf(rel, len, "%s%s%s", dir, dir[0] ? "/" : "", name);
    t->v[t->n++] = (ftpc_tree_item){rel, type, size, mtime, prec};
    return 0;
}

static int item_cmp(const void *a, const void *b)
{
    return strcmp(((const ftpc_tree_item *)a)->rel, ((const ftpc_tree_item *)b)->rel);
}

const ftpc_tree_item *ftpc_tree_find(const ftpc_tree *t, const char *rel)
{
    if (t->n == 0) /* no array yet: bsearch's base must not be NULL */
        return NULL;
    ftpc_tree_item key = {.rel = (char *)rel};
    return bsearch(&key, t->v, t->n, sizeof *t->v, item_cmp);
}

/* Lists the local directory root/rel into t, recursively; symbolic links
 * are recorded as links and never followed. */
static int scan_local(ftpc_tree *t, ftpc_session *s, const char *root,
                      const char *rel, int depth)
{
    char path[FTPC_TREE_PATH_MAX];
    snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel);
    if (depth > MAX_DEPTH) {
        errno = ELOOP;
        return fail(s, FTPC_ERR_LOCAL, "%s: %s", path);
    }
    DIR *d = opendir(path);
    if (!d)
        return fail(s, FTPC_ERR_LOCAL, "%s: %s", path);
    size_t first = t->n;
    int r = 0;
    struct dirent *de;
    while (r == 0 && (de = readdir(d))) {
        if (!ftpc_name_is_safe(de->d_name))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue; /* gone meanwhile */
        ftpc_ent_type ty = S_ISREG(st.st_mode)   ? FTPC_ENT_FILE
                           : S_ISDIR(st.st_mode) ? FTPC_ENT_DIR
                           : S_ISLNK(st.st_mode) ? FTPC_ENT_LINK
                                                 : FTPC_ENT_OTHER;
        r = add(t, rel, de->d_name, ty, ty == FTPC_ENT_FILE ? st.st_size : -1,
                     st.st_mtim.tv_sec, 1);
        if (r < 0) {
            errno = -r;
            r = fail(s, FTPC_ERR_LOCAL, "%s: %s", path);
        }
    }
    closedir(d);
    size_t last = t->n;
    for (size_t i = first; r == 0 && i < last; i++)
        if (t->v[i].type == FTPC_ENT_DIR) {
            char *sub = strdup(t->v[i].rel); /* t->v may move */
            if (!sub)
                return FTPC_ERR_LOCAL;
            r = scan_local(t, s, root, sub, depth + 1);
            free(sub);
        }
    return r;
}

void ftpc_strip_slashes(char *p)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
}

/* Lists the remote directory rroot/rel into t, recursively. */
static int scan_remote(ftpc_tree *t, ftpc_session *s, const char *root, bool quiet,
                       const char *rel, int depth)
{
    char path[FTPC_TREE_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    ftpc_strip_slashes(path);
    if (depth > MAX_DEPTH) {
        snprintf(s->ctrl.err, sizeof s->ctrl.err, "%s: nested too deep", path);
        return FTPC_ERR_REMOTE;
    }
    char *buf = NULL;
    size_t len = 0;
    int r = ftpc_listing(s, s->feat_mlsd ? "MLSD" : "LIST", path, NULL, &buf, &len);
    if (r < 0) {
        free(buf);
        return r;
    }
    size_t first = t->n;
    int64_t now = (int64_t)time(NULL);
    char *save = NULL;
    for (char *line = buf ? strtok_r(buf, "\r\n", &save) : NULL; line && r == 0;
         line = strtok_r(NULL, "\r\n", &save)) {
        ftpc_entry e;
        int k = s->feat_mlsd ? ftpc_parse_mlsd(line, &e) : ftpc_parse_list(line, now, &e);
        if (k < 0) {
            if (!quiet)
                fprintf(stderr, "sockserv-ftp: mirror: %s: skipping a line that is "
                        "not understood or names something outside: %.200s\n",
                        path, line);
            continue;
        }
        if (k == 0)
            continue;
        r = add(t, rel, e.name, e.type, e.size, e.mtime, e.mtime_prec);
        if (r < 0) {
            snprintf(s->ctrl.err, sizeof s->ctrl.err, "%s: %s", path, strerror(-r));
            r = FTPC_ERR_LOCAL;
        }
    }
    free(buf);
    size_t last = t->n;
    for (size_t i = first; r == 0 && i < last; i++)
        if (t->v[i].type == FTPC_ENT_DIR) {
            char *sub = strdup(t->v[i].rel);
            if (!sub)
                return FTPC_ERR_LOCAL;
            r = scan_remote(t, s, root, quiet, sub, depth + 1);
            free(sub);
        }
    return r;
}

/* An empty tree has no array at all, and qsort's base must not be NULL even
 * for zero items. */
static void sort_tree(ftpc_tree *t)
{
    if (t->n > 1)
        qsort(t->v, t->n, sizeof *t->v, item_cmp);
}

int ftpc_tree_scan_local(ftpc_tree *t, ftpc_session *s, const char *root)
{
    int r = scan_local(t, s, root, "", 0);
    sort_tree(t);
    return r;
}

int ftpc_tree_scan_remote(ftpc_tree *t, ftpc_session *s, const char *root, bool quiet)
{
    int r = scan_remote(t, s, root, quiet, "", 0);
    sort_tree(t);
    return r;
}
