/* ftp/server/store/quota.h - per-user disk usage shared by all sessions.
 *
 * API note.  One ftpd_quota_table per server, created before it starts
 * serving (before any fork): it lives in an anonymous shared mapping
 * (MAP_SHARED|MAP_ANONYMOUS) guarded by a process-shared robust mutex, so
 * sessions in threads and in forked children see and change the same numbers,
 * and a child that dies holding the lock does not wedge the others.
 *
 * A session attaches with the user's name, limit and home.  The first session
 * of a user (no other attached) counts the home: the sum of the sizes of the
 * regular files under it, without following symlinks, bounded by
 * FTPD_QUOTA_WALK_MAX_ENTRIES and FTPD_QUOTA_WALK_MAX_DEPTH.  Later sessions
 * share that figure; when the last one detaches the next login counts again.
 *
 * Writers reserve before they write: ftpd_quota_reserve grants at most what
 * is left under the limit and counts the grant as used at once, so two
 * uploads of one user can never pass the limit together.  After writing, the
 * writer gives back what it did not use with ftpd_quota_release.  DELE,
 * overwrites (the old size from ftpd_vfs_open_write) and renames over a file
 * also release.  Usage never goes below 0.
 *
 *     uint64_t got;
 *     if (ftpd_quota_reserve(&q, n, &got) < 0) -> 552 (nothing left)
 *     write(fd, buf, got) -> w;  ftpd_quota_release(&q, got - w);
 *     if (got < n) -> the rest does not fit: stop with 552
 *
 * Thread-safety: table functions are thread- and process-safe.  One
 * ftpd_quota handle belongs to one session (no concurrent calls on it).
 * Errors are -errno. */
#ifndef FTPD_QUOTA_H
#define FTPD_QUOTA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FTPD_QUOTA_NAME_MAX 64
#define FTPD_QUOTA_DEFAULT_SLOTS 1024
#define FTPD_QUOTA_WALK_MAX_ENTRIES 1000000u
#define FTPD_QUOTA_WALK_MAX_DEPTH 64
/* Same value as FTPD_QUOTA_UNLIMITED in users.h. */
#define FTPD_QUOTA_NO_LIMIT UINT64_MAX

typedef struct ftpd_quota_table ftpd_quota_table;

/* A session's handle on its user's slot. */
typedef struct ftpd_quota {
    ftpd_quota_table *table;
    int slot;   /* -1 when not attached */
} ftpd_quota;

/* Maps a table of slots users (0: FTPD_QUOTA_DEFAULT_SLOTS).  The caller
 * owns *out; destroy it after every session ended (in the process that
 * created it; forked children just exit).  0, -ENOMEM, or -errno. */
int ftpd_quota_table_create(ftpd_quota_table **out, size_t slots);
void ftpd_quota_table_destroy(ftpd_quota_table *t);

/* Attaches q to user's slot (creating it), sets its limit (bytes or
 * FTPD_QUOTA_NO_LIMIT; the users file may have changed it), and counts home
 * when this is the user's first session.  -ENOSPC when the table is full,
 * -EINVAL for a bad name, -errno when home cannot be read. */
int ftpd_quota_attach(ftpd_quota_table *t, const char *user, uint64_t limit,
                      const char *home, ftpd_quota *q);
/* Detaches (idempotent). */
void ftpd_quota_detach(ftpd_quota *q);

/* Grants up to want bytes (*granted, may be less; 0 only when want is 0) and
 * counts them as used.  -EDQUOT when nothing at all is left and want > 0. */
int ftpd_quota_reserve(ftpd_quota *q, uint64_t want, uint64_t *granted);
/* Gives n bytes back (unused reservation, deleted or overwritten data). */
void ftpd_quota_release(ftpd_quota *q, uint64_t n);
/* Adds n bytes without a limit check (e.g. data that arrived before a
 * limit was lowered); rarely needed. */
void ftpd_quota_charge(ftpd_quota *q, uint64_t n);
/* Current usage and limit of the attached user.  0 or -EINVAL. */
int ftpd_quota_get(const ftpd_quota *q, uint64_t *used, uint64_t *limit);

/* Sums regular file sizes under home (no symlinks followed, same bounds as
 * attach).  Used by attach and by "user list".  0 or -errno. */
int ftpd_quota_walk(const char *home, uint64_t *bytes);

#endif
