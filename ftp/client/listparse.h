/* ftp/client/listparse.h - one line of a directory listing into an entry:
 * MLSD (RFC 3659 facts: type, size, modify) when the server offers it, and
 * LIST otherwise, in the two formats servers actually send (Unix "ls -l"
 * and DOS/IIS).
 *
 * LIST times are less exact than MLSD's: "Dec  4 14:50" is to the minute
 * (its year guessed as the one that puts it at most a day in the future),
 * "Dec  4  2025" to the day; mtime_prec says which, so callers compare
 * within it.  Every name is checked with ftpc_name_is_safe: a server that
 * sends "..", "/etc" or "a/b" gets its line refused, never followed.
 *
 * Pure functions, no allocation, safe from any thread. */
#ifndef FTPC_LISTPARSE_H
#define FTPC_LISTPARSE_H

#include <stdbool.h>
#include <stdint.h>

#define FTPC_NAME_MAX 1024

typedef enum ftpc_ent_type {
    FTPC_ENT_FILE,
    FTPC_ENT_DIR,
    FTPC_ENT_LINK,   /* a symbolic link (LIST "l", MLSD OS.unix=symlink) */
    FTPC_ENT_OTHER,
} ftpc_ent_type;

typedef struct ftpc_entry {
    char name[FTPC_NAME_MAX];
    ftpc_ent_type type;
    int64_t size;    /* -1 when not given */
    int64_t mtime;   /* seconds since the epoch, UTC; -1 when not given */
    int mtime_prec;  /* seconds mtime is exact to: 1, 60 or 86400 */
} ftpc_entry;

/* An MLSD line ("fact=v;fact=v; name").  Returns 1 with *e filled, 0 for a
 * line to skip (the "cdir"/"pdir" entries, "." and ".."), -1 for a line
 * that is not MLSD or names something unsafe. */
int ftpc_parse_mlsd(const char *line, ftpc_entry *e);

/* A LIST line, Unix or DOS.  now (UTC seconds) places the year of a
 * "Mon DD HH:MM" time.  Same returns as ftpc_parse_mlsd; "total N" and
 * blank lines are 0. */
int ftpc_parse_list(const char *line, int64_t now, ftpc_entry *e);

/* "YYYYMMDDHHMMSS[.sss]" (MLSD modify, MDTM, MFMT) into UTC seconds, or -1.
 * fmt_time writes the same form (14 digits) for MFMT. */
int64_t ftpc_parse_time14(const char *s);
void ftpc_format_time14(int64_t t, char out[15]);

/* True for a name that stays inside its directory: not empty, not "." or
 * "..", no '/', no control character (CR/LF would smuggle commands). */
bool ftpc_name_is_safe(const char *name);

#endif
