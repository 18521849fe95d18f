/* ftp/client/progress.h - the progress bar and the summary line on stderr.
 *
 * On a terminal: one line redrawn in place at most 10 times a second (name,
 * percent, bytes done/total, rate, ETA), then replaced by the summary.  Not
 * a terminal: only the summary line.  Quiet: nothing. */
#ifndef FTPC_PROGRESS_H
#define FTPC_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ftpc_progress {
    char name[256];
    int64_t total;      /* -1 when the size is unknown */
    uint64_t start;     /* bytes already there when this transfer began */
    uint64_t done;      /* bytes there now (start included) */
    double t0, last_draw;
    bool tty, quiet, drawn;
} ftpc_progress;

/* Starts a bar for name; tty/quiet decide what is shown. */
void ftpc_progress_start(ftpc_progress *p, const char *name, int64_t total,
                         uint64_t start, bool quiet);
/* Records done bytes; redraws when 100 ms passed since the last draw. */
void ftpc_progress_update(ftpc_progress *p, uint64_t done);
/* Erases the bar (before printing a message about this transfer). */
void ftpc_progress_clear(ftpc_progress *p);
/* Ends the bar: draws 100% once, then the summary line
 * "NAME: SIZE in T s (RATE/s)[, resumed at N][, NOTE]".  note may be NULL. */
void ftpc_progress_finish(ftpc_progress *p, const char *note);

/* "1.5 MiB" style, into buf. */
char *ftpc_human_bytes(double n, char *buf, size_t cap);

#endif
