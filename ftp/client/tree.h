/* ftp/client/tree.h - a directory tree as one sorted list of entries, read
 * from the local disk or from the server; what mirror compares.
 *
 * Entries are named by their path relative to the tree's root ("a/b c/d");
 * sorted by strcmp, a directory comes right before what it holds.  The
 * local side is read with lstat and never follows a symbolic link; the
 * remote side with MLSD when FEAT offers it, else LIST (listparse.h), and
 * a line naming something outside its directory is skipped (and said on
 * stderr unless quiet).  Depth and entry count are bounded.
 *
 * Caller-allocated, zeroed; _free releases it.  One thread per tree. */
#ifndef FTPC_TREE_H
#define FTPC_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "listparse.h"
#include "session.h"

#define FTPC_TREE_PATH_MAX 4096

typedef struct ftpc_tree_item {
    char *rel;           /* "a/b c/d", relative to the tree's root */
    ftpc_ent_type type;
    int64_t size, mtime; /* -1 when unknown */
    int prec;            /* seconds mtime is exact to (listparse.h) */
} ftpc_tree_item;

typedef struct ftpc_tree {
    ftpc_tree_item *v;
    size_t n, cap;
} ftpc_tree;

/* Reads the local tree below root into t (which must be empty).  Returns
 * 0 or FTPC_ERR_LOCAL with s's err set. */
int ftpc_tree_scan_local(ftpc_tree *t, ftpc_session *s, const char *root);

/* Reads the server's tree below root (absolute; "" for "/") on s into t.
 * Returns 0, FTPC_ERR_REMOTE, FTPC_ERR_NET or FTPC_ERR_LOCAL, err set. */
int ftpc_tree_scan_remote(ftpc_tree *t, ftpc_session *s, const char *root,
                          bool quiet);

/* The entry with this relative path, or NULL. */
const ftpc_tree_item *ftpc_tree_find(const ftpc_tree *t, const char *rel);

void ftpc_tree_free(ftpc_tree *t);

/* Removes trailing slashes from a path, keeping a lone "/". */
void ftpc_strip_slashes(char *p);

#endif
