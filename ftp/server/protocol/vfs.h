/* ftp/server/protocol/vfs.h - the one path resolver of sockserv-ftpd.
 *
 * API note.  Every file operation on a path a client sent goes through this
 * module; nothing else in the server opens a client path.  A session owns one
 * ftpd_vfs: the user's home is its "/", it keeps a current directory, and it
 * turns a client path into a file descriptor or an *at() operation without
 * ever leaving the home:
 *   - the path is joined to the current directory and normalised lexically;
 *     ".." is clamped at "/", "." and empty components vanish;
 *   - a path with a NUL byte (inside the length the caller passes), invalid
 *     UTF-8, or longer than FTPD_VFS_PATH_MAX is refused (-EINVAL, -EILSEQ,
 *     -ENAMETOOLONG);
 *   - the result is walked one component at a time from an O_PATH descriptor
 *     of the home, each step opened with O_NOFOLLOW (through openat2 with
 *     RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS where the
 *     kernel has it, plain openat otherwise), so a name can never be swapped
 *     for a symlink between a check and its use;
 *   - a symlink met on the way is read from the descriptor that was opened
 *     and followed by hand: a relative target is resolved from the link's
 *     directory and may not climb above the home; an absolute target must lie
 *     inside the home's real path and is mapped into it.  Anything else is
 *     -EACCES.  More than FTPD_VFS_MAX_SYMLINKS links in one walk is -ELOOP.
 *   Setting SOCKSERV_FTPD_NO_OPENAT2=1 in the environment forces the openat
 *   fallback (the tests run the resolver suite both ways).
 * Operations that act on a name (unlink, rmdir, rename, mkdir) act on the last
 * component itself and do not follow a symlink there; open/stat/chdir follow it.
 *
 * Errors are negative errno values; the protocol layer maps them to replies
 * (e.g. -ENOENT/-EACCES/-EISDIR/-ENOTDIR -> 550, -EDQUOT -> 552, -ENOSPC ->
 * 452, -ERANGE (offset past end of file) -> 554, -EEXIST -> 550/553).
 *
 * Thread-safety: an ftpd_vfs belongs to one session; calls on one ftpd_vfs
 * must not run concurrently.  Different ftpd_vfs objects are independent.
 * Descriptors returned are O_CLOEXEC and owned by the caller. */
#ifndef FTPD_VFS_H
#define FTPD_VFS_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Longest client path (after joining with the current directory). */
#define FTPD_VFS_PATH_MAX 4096
/* Symlinks followed in one resolution before -ELOOP. */
#define FTPD_VFS_MAX_SYMLINKS 32
/* Pass as path_len when the path is a NUL-terminated string. */
#define FTPD_VFS_CSTR ((size_t)-1)

typedef struct ftpd_vfs {
    int root_fd;                      /* O_PATH|O_DIRECTORY descriptor of the home */
    /* Both allocated to their length: an idle session should not hold
     * two PATH_MAX buffers (doc/performance.md, memory per session). */
    char *root_real;                  /* realpath of the home, for absolute symlinks */
    size_t root_real_len;
    char *cwd;                        /* virtual current directory, "/" based */
    void *data;                       /* free for the caller */
} ftpd_vfs;

/* Opens home (an absolute or relative host path, which must be a directory;
 * it is trusted, not a client path) and sets the current directory to "/".
 * root_fd is shared with the other sessions of that home (homefd.h): use
 * it, never close it.  Returns 0 or -errno; on error nothing is left open. */
int ftpd_vfs_init(ftpd_vfs *vfs, const char *home);
/* Closes the home descriptor and frees the paths.  Safe after a failed
 * init or a close. */
void ftpd_vfs_close(ftpd_vfs *vfs);

/* The virtual current directory ("/" or "/a/b", no trailing slash), borrowed
 * until the next ftpd_vfs_chdir.  PWD quotes it (doubling any '"'). */
const char *ftpd_vfs_pwd(const ftpd_vfs *vfs);

/* Joins path (path_len bytes, or FTPD_VFS_CSTR) to the current directory and
 * normalises it lexically into out (cap bytes): the virtual absolute path a
 * reply or a log line should show.  No filesystem access.  0 or -errno
 * (-EINVAL NUL byte, -EILSEQ bad UTF-8, -ENAMETOOLONG). */
int ftpd_vfs_virtual_path(const ftpd_vfs *vfs, const char *path,
                          size_t path_len, char *out, size_t cap);

/* Changes the current directory (CWD, CDUP with ".."); the target must be a
 * directory reachable inside the home.  The new PWD is the lexical virtual
 * path (a symlinked directory keeps its link name, as a shell's cd does). */
int ftpd_vfs_chdir(ftpd_vfs *vfs, const char *path, size_t path_len);

/* stat() of what path names, following a final symlink that stays inside. */
int ftpd_vfs_stat(const ftpd_vfs *vfs, const char *path, size_t path_len,
                  struct stat *st);

/* Opens a regular file for reading (RETR, SIZE, digests).  Directories are
 * -EISDIR, other non-regular files (FIFOs, devices, sockets) -EACCES; a FIFO
 * never blocks the open.  Fills *st when not NULL.  Returns the fd or -errno. */
int ftpd_vfs_open_read(const ftpd_vfs *vfs, const char *path, size_t path_len,
                       struct stat *st);

/* MFMT: sets the modification time of the regular file path names
 * (following a final symlink that stays inside, as stat does) through a
 * descriptor of the resolved file, never through a path; the access time is
 * left alone.  Fills *st (may be NULL) with the file's state afterwards.
 * 0 or -errno (-EISDIR for a directory, -EACCES for other non-files). */
int ftpd_vfs_set_mtime(const ftpd_vfs *vfs, const char *path, size_t path_len,
                       const struct timespec *mtime, struct stat *st);

enum ftpd_vfs_wmode {
    FTPD_VFS_W_TRUNC,   /* STOR: create or truncate to 0 */
    FTPD_VFS_W_APPEND,  /* APPE: create or write at the end (O_APPEND) */
    FTPD_VFS_W_OFFSET,  /* REST n + STOR: create or write from offset without
                           truncating; offset > size is -ERANGE */
    FTPD_VFS_W_EXCL,    /* create a new file only; -EEXIST if it exists */
};

/* What ftpd_vfs_open_write found, for quota accounting. */
typedef struct ftpd_vfs_wopen {
    off_t old_size;  /* size before the open (bytes a TRUNC gave back), 0 if created */
    bool created;    /* the file did not exist */
} ftpd_vfs_wopen;

/* Opens (creating with mode 0644 & ~umask) a regular file for writing in the
 * given mode.  For W_OFFSET the descriptor is positioned at offset; for
 * W_TRUNC the file is truncated only after it is known to be a regular file.
 * info may be NULL.  Returns the fd or -errno. */
int ftpd_vfs_open_write(const ftpd_vfs *vfs, const char *path, size_t path_len,
                        enum ftpd_vfs_wmode mode, off_t offset,
                        ftpd_vfs_wopen *info);

/* STOU: creates a new file with a unique name in directory dir (NULL or ""
 * for the current directory), the name starting with prefix (NULL: "stou.").
 * Writes its virtual path into vpath (cap bytes).  Returns the fd or -errno. */
int ftpd_vfs_create_unique(const ftpd_vfs *vfs, const char *dir, size_t dir_len,
                           const char *prefix, char *vpath, size_t cap);

/* MKD: creates a directory (mode 0755 & ~umask).  0 or -errno (-EEXIST). */
int ftpd_vfs_mkdir(const ftpd_vfs *vfs, const char *path, size_t path_len);
/* RMD: removes an empty directory; the home itself is -EBUSY.  A directory
 * holding the current directory of this vfs may be removed (as rmdir(2)). */
int ftpd_vfs_rmdir(const ftpd_vfs *vfs, const char *path, size_t path_len);
/* DELE: removes a file or a symlink (never its target); a directory is
 * -EISDIR.  *freed (may be NULL) gets the bytes the user's quota gets back
 * (the size of a regular file, 0 for a link). */
int ftpd_vfs_unlink(const ftpd_vfs *vfs, const char *path, size_t path_len,
                    off_t *freed);
/* RNFR/RNTO: renames from to to (both inside the home; renaming "/" or onto
 * "/" is -EBUSY; a directory into itself -EINVAL as rename(2)).  *freed (may
 * be NULL) gets the size of a regular file the rename replaced. */
int ftpd_vfs_rename(const ftpd_vfs *vfs, const char *from, size_t from_len,
                    const char *to, size_t to_len, off_t *freed);

/* A directory being read one entry at a time (LIST, NLST, MLSD). */
typedef struct ftpd_vfs_dir {
    DIR *dir;
    struct stat self;  /* stat of the directory itself (MLSD "cdir") */
} ftpd_vfs_dir;

/* Opens the directory path names (following symlinks that stay inside).
 * 0 or -errno (-ENOTDIR for a file).  Close with ftpd_vfs_closedir. */
int ftpd_vfs_opendir(const ftpd_vfs *vfs, const char *path, size_t path_len,
                     ftpd_vfs_dir *d);
/* Next entry, skipping "." and "..": *name is borrowed until the next call,
 * *st is the entry's lstat (a symlink shows as a link, its target is not
 * looked at).  Returns 1 for an entry, 0 at the end, -errno on error.
 * Entries that vanish between readdir and stat are skipped.  Memory use does
 * not depend on the size of the directory. */
int ftpd_vfs_readdir(ftpd_vfs_dir *d, const char **name, struct stat *st);
void ftpd_vfs_closedir(ftpd_vfs_dir *d);

#endif
