/* ftp/server/protocol/listing.h - directory listings: LIST, NLST, MLSD, MLST, STAT.
 *
 * API note.  Lines are produced one entry at a time and handed to the
 * caller's writer (the data connection, or the control connection for
 * STAT/MLST), so a directory of any size is listed in constant memory and a
 * slow client slows the listing down instead of buffering it.
 *
 * LIST lines are the `ls -l` shape clients parse (lftp, curl, FileZilla,
 * Python's ftplib users):
 *     -rw-r--r--    1 ftp      ftp          1234 Mar 05 14:02 name\r\n
 *     drwxr-xr-x    2 ftp      ftp          4096 Jul 11  2024 dir\r\n
 * time "Mon DD HH:MM" for files modified in the last 6 months (and not in
 * the future), "Mon DD  YYYY" otherwise; times are UTC; owner and group are
 * shown as "ftp" (host account names are not revealed).  Symlinks show as
 * 'l' without their target (the target is host information).
 * NLST lines are bare names.  MLSD/MLST facts (RFC 3659 §7):
 *     type=file;size=1234;modify=20240305140211;perm=adfrw;unique=803g1a2; name
 * Names holding CR or LF cannot be sent on an FTP line and are skipped.
 * Dot files are listed only with FTPD_LIST_ALL (what "LIST -a" asks for).
 *
 * Thread-safety: no shared state; thread-safe on distinct objects. */
#ifndef FTPD_LISTING_H
#define FTPD_LISTING_H

#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

#include "protocol/vfs.h"

/* A line is never longer than this (names are at most 255 bytes). */
#define FTPD_LIST_LINE_MAX 512

/* Receives one complete line (with its CRLF).  Returns 0 to go on, or a
 * negative errno to stop the listing (the listing returns that value). */
typedef int (*ftpd_list_writer)(void *ctx, const char *line, size_t len);

enum ftpd_list_format {
    FTPD_LIST_LONG,   /* LIST */
    FTPD_LIST_NAMES,  /* NLST */
    FTPD_LIST_MLSD,   /* MLSD (with cdir/pdir entries) */
};

/* Flags for ftpd_list_dir / ftpd_list_path. */
#define FTPD_LIST_ALL 0x1u   /* include names starting with '.' */

/* MLST facts (OPTS MLST chooses among them); FTPD_MLST_DEFAULT = all. */
#define FTPD_MLST_TYPE   0x01u
#define FTPD_MLST_SIZE   0x02u
#define FTPD_MLST_MODIFY 0x04u
#define FTPD_MLST_PERM   0x08u
#define FTPD_MLST_UNIQUE 0x10u
#define FTPD_MLST_DEFAULT 0x1fu

/* Formats one LIST line for name with st; now decides between the recent
 * and the old time form.  Returns the length (CRLF included) or -ENOSPC. */
int ftpd_list_format_long(const struct stat *st, const char *name, time_t now,
                          char *out, size_t cap);
/* Formats one MLSx line "facts; name\r\n" (facts a FTPD_MLST_* mask; type_
 * overrides the type fact, e.g. "cdir" or "pdir"; NULL: from st).  For MLST
 * the protocol layer prefixes the line with a space.  Length or -ENOSPC. */
int ftpd_list_format_mlsx(const struct stat *st, const char *name,
                          const char *type_, unsigned facts,
                          char *out, size_t cap);

/* Lists directory path of vfs in format, one writer call per line.
 * Returns the number of entries written or -errno (-ENOTDIR: the protocol
 * layer may then list the file itself with ftpd_list_path). */
long ftpd_list_dir(const ftpd_vfs *vfs, const char *path, size_t path_len,
                   enum ftpd_list_format format, unsigned flags,
                   unsigned facts, ftpd_list_writer writer, void *ctx);

/* Lists path whatever it is: a directory as ftpd_list_dir, a file as its
 * one line (LIST/NLST of a file, and MLST / "STAT path" with FTPD_LIST_MLSD
 * meaning the single entry).  Returns the entries written or -errno. */
long ftpd_list_path(const ftpd_vfs *vfs, const char *path, size_t path_len,
                    enum ftpd_list_format format, unsigned flags,
                    unsigned facts, ftpd_list_writer writer, void *ctx);

/* One MLST line for path itself (type from st: file or dir), in out. */
int ftpd_list_mlst(const ftpd_vfs *vfs, const char *path, size_t path_len,
                   unsigned facts, char *out, size_t cap);

/* MDTM: "YYYYMMDDHHMMSS" (UTC) of t into out (cap >= 15). */
int ftpd_list_mdtm(time_t t, char *out, size_t cap);

#endif
