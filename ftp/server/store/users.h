/* ftp/server/store/users.h - the users file: accounts, homes and quotas.
 *
 * API note.  The file (by default "<data dir>/users") is text, one user a
 * line, four or six fields separated by ':':
 *     name:hash:home:quota[:upload_rate:download_rate]
 *   name   1-64 bytes of [A-Za-z0-9._-], not starting with '-' or '.'
 *   hash   an encoded hash from passwd.h ("$scrypt$...")
 *   home   the user's home directory; absolute, or relative to the directory
 *          of the users file; may not contain ':' or a newline
 *   quota  bytes, or a size with a suffix K, M, G, T (powers of 1024, e.g.
 *          500K, 100M, 1G), or "unlimited"
 *   upload_rate, download_rate   bytes per second with the same suffixes,
 *          "unlimited" (no limit, whatever the server's default), or empty
 *          or 0 (the server's default: max_upload_rate/max_download_rate).
 *          Files of four fields (written before rates existed) still load;
 *          a user without rates is written with four fields.
 * Empty lines and lines starting with '#' are ignored.  A parse error names
 * the file and the line ("users:3: quota: bad size 'x'").
 *
 * A running server holds one ftpd_users; every lookup first checks whether
 * the file changed (inode, size, mtime, ctime) and re-reads it if so, so
 * edits made by "sockserv-ftpd user ..." take effect without a restart.
 * When the file cannot be read whole (unreadable, changed while read, an
 * existing file of zero bytes: cut short) or does not parse, lookups fail
 * with -EIO, whatever the table before it said, until a read succeeds
 * again; the error is reported through ftpd_users_last_error.  The edits
 * refuse such a file the same way, so it is never rewritten from a bad
 * read.
 *
 * Edits (ftpd_users_file_*) run under an exclusive flock on "<file>.lock",
 * re-read the file, write a temp file in the same directory, fsync it,
 * rename it over the file and fsync the directory: a reader sees the old or
 * the new file, never a mix, and two editors never lose each other's change.
 *
 * Thread-safety: ftpd_users functions lock an internal mutex and may be
 * called from any thread; lookups return copies.  The file functions are
 * safe across threads and processes (flock).  Errors are -errno; functions
 * taking err/cap also write a one-line message there. */
#ifndef FTPD_USERS_H
#define FTPD_USERS_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "store/passwd.h"

#define FTPD_USER_NAME_MAX 64
#define FTPD_USER_HOME_MAX 1024
/* Quota value meaning "no limit". */
#define FTPD_QUOTA_UNLIMITED UINT64_MAX
/* Name of the users file inside the data directory. */
#define FTPD_USERS_FILE_NAME "users"
/* At most this many users and this long a line are read from a file. */
#define FTPD_USERS_MAX 100000
#define FTPD_USERS_LINE_MAX 2048

typedef struct ftpd_user {
    char name[FTPD_USER_NAME_MAX + 1];
    char hash[FTPD_PASSWD_HASH_MAX];
    char home[FTPD_USER_HOME_MAX];  /* as written in the file */
    uint64_t quota;                 /* bytes, or FTPD_QUOTA_UNLIMITED */
    uint64_t rate_up, rate_down;    /* bytes/s; FTPD_QUOTA_UNLIMITED: no
                                       limit; 0: the server's default */
} ftpd_user;

/* What "user mod" changes: only the fields whose set_ flag is on. */
typedef struct ftpd_user_mod {
    bool set_quota, set_rate_up, set_rate_down;
    uint64_t quota, rate_up, rate_down;
} ftpd_user_mod;

typedef struct ftpd_users {
    char path[PATH_MAX];
    pthread_mutex_t lock;
    ftpd_user *users;     /* the table in use (owned) */
    size_t count;
    bool loaded;
    dev_t dev;            /* identity of the file the table came from */
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
    bool broken;          /* the last (re)load failed: no logins */
    char last_error[512];
} ftpd_users;

/* Remembers path (copied) and loads it.  A missing file is an empty table
 * (0), a file that does not parse is -EINVAL with the message in err.  On
 * error the object is still initialised (call ftpd_users_close). */
int ftpd_users_init(ftpd_users *u, const char *path, char *err, size_t cap);
void ftpd_users_close(ftpd_users *u);

/* Re-reads the file if it changed since the last load (or force).  Returns
 * 1 when a new table was loaded, 0 when unchanged, -errno on error (lookups
 * then fail until a reload succeeds).  SIGHUP handlers of the server call
 * it with force. */
int ftpd_users_reload(ftpd_users *u, bool force, char *err, size_t cap);

/* Finds name (after a reload check); copies the entry into *out with home
 * made absolute (relative homes are joined to the users file's directory).
 * 0, -ENOENT, or -EIO while the file is bad (see above). */
int ftpd_users_lookup(ftpd_users *u, const char *name, ftpd_user *out);

/* Copies any one user's hash into out (for ftpd_passwd_dummy_verify, so an
 * unknown name costs what a known one does).  0, or -ENOENT when empty. */
int ftpd_users_reference_hash(ftpd_users *u, char *out, size_t cap);

/* Number of users and the i-th one (a copy, home as in lookup). */
size_t ftpd_users_count(ftpd_users *u);
int ftpd_users_at(ftpd_users *u, size_t i, ftpd_user *out);

/* The message of the last failed (re)load, "" if none; copied into out. */
void ftpd_users_last_error(ftpd_users *u, char *out, size_t cap);

/* Parses a whole file into a malloc'd table (*out, *count; free with free()).
 * A missing file is an empty table.  -EINVAL with "file:line: why" in err. */
int ftpd_users_parse_file(const char *path, ftpd_user **out, size_t *count,
                          char *err, size_t cap);

/* Atomic edits of the file at path (created with mode 0600 if missing).
 * add: -EEXIST when the name is taken; set_hash/del: -ENOENT when absent;
 * invalid fields: -EINVAL. */
int ftpd_users_file_add(const char *path, const ftpd_user *user,
                        char *err, size_t cap);
int ftpd_users_file_set_hash(const char *path, const char *name,
                             const char *hash, char *err, size_t cap);
int ftpd_users_file_del(const char *path, const char *name,
                        char *err, size_t cap);
/* Changes the fields m selects of user name, under the same lock as the
 * other edits (so nothing another editor wrote in between is lost).
 * -ENOENT when absent. */
int ftpd_users_file_mod(const char *path, const char *name,
                        const ftpd_user_mod *m, char *err, size_t cap);

/* Field checks used by the parser and the editors.  0 or -EINVAL. */
int ftpd_user_name_check(const char *name);
int ftpd_user_home_check(const char *home);

/* Makes home absolute relative to the users file: writes into out. */
int ftpd_user_home_resolve(const char *users_path, const char *home,
                           char *out, size_t cap);

/* "100M" -> 104857600; bytes, or K/M/G/T (also KB, KiB, ...: all powers of
 * 1024, case-insensitive), or "unlimited".  0 or -EINVAL / -ERANGE. */
int ftpd_size_parse(const char *s, uint64_t *out);
/* 104857600 -> "100M" (exact multiples get a suffix, others stay bytes;
 * FTPD_QUOTA_UNLIMITED -> "unlimited").  Returns the length or -ENOSPC. */
int ftpd_size_format(uint64_t v, char *out, size_t cap);

#endif
