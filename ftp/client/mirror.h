/* ftp/client/mirror.h - "mirror [-R] [--delete] [--parallel N] [--dry-run]
 * [--verify] [--exclude GLOB]... REMOTE_DIR [LOCAL_DIR]": makes one tree
 * like the other.
 *
 * Both trees are listed first (remote with MLSD when FEAT offers it, LIST
 * otherwise; local with lstat, never following a symbolic link), then a
 * plan is made: missing directories, files that are missing or differ in
 * size or time (and with --verify in checksum), and with --delete what the
 * source no longer has.  Every file goes through ftpc_get/ftpc_put, so
 * through the same .part, resume, verification and retries as get and put;
 * a file that fails is reported and the others go on.  Times are kept:
 * the local mtime is set from the server's after a download, the remote
 * one with MFMT after an upload when the server offers it.
 *
 * Names from the server that could leave the tree ("..", "a/b", control
 * characters) are refused; a local symbolic link is never followed, and
 * where the source has a directory or file it is replaced, not written
 * through. */
#ifndef FTPC_MIRROR_H
#define FTPC_MIRROR_H

#include <stddef.h>

#include "session.h"

/* Runs the mirror command; argv[0] is "mirror".  s is the logged-in
 * session (more are opened for --parallel, with s->opts).  Returns 0 when
 * every file was copied or deleted as planned, FTPC_ERR_USAGE on bad
 * arguments, else the worst failure (err says how many failed).  Prints
 * progress and the summary on stderr, the --dry-run plan on stdout. */
int ftpc_mirror(ftpc_session *s, int argc, char **argv);

/* Checks mirror's arguments without a session (before connecting): 0, or
 * FTPC_ERR_USAGE with the reason in err. */
int ftpc_mirror_check(int argc, char **argv, char *err, size_t cap);

#endif
