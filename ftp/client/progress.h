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

struct ftpc_progress;

/* Where a bar reports instead of drawing itself: mirror and pget show many
 * transfers as one display.  Called with FTPC_PROGRESS_* events from the
 * transferring thread. */
typedef enum ftpc_progress_event {
    FTPC_PROGRESS_START,
    FTPC_PROGRESS_UPDATE,
    FTPC_PROGRESS_CLEAR,   /* the transfer failed or restarts */
    FTPC_PROGRESS_FINISH,  /* done; note as given to _finish (may be NULL) */
} ftpc_progress_event;

typedef struct ftpc_progress_sink {
    /* done: the bytes there now; the sink stores it in p->done (under
     * its own lock when other threads read the bar). */
    void (*event)(struct ftpc_progress_sink *sink, struct ftpc_progress *p,
                  ftpc_progress_event ev, const char *note, uint64_t done);
} ftpc_progress_sink;

typedef struct ftpc_progress {
    char name[256];
    int64_t total;      /* -1 when the size is unknown */
    uint64_t start;     /* bytes already there when this transfer began */
    uint64_t done;      /* bytes there now (start included) */
    double t0, last_draw;
    bool tty, quiet, drawn;
    ftpc_progress_sink *sink; /* set: report there, draw nothing here */
    void *data;               /* the sink's, per bar */
} ftpc_progress;

/* Starts a bar for name; tty/quiet decide what is shown. */
void ftpc_progress_start(ftpc_progress *p, const char *name, int64_t total,
                         uint64_t start, bool quiet);
/* Same, reporting to sink (which may be NULL: then as _start). */
void ftpc_progress_start_to(ftpc_progress *p, const char *name, int64_t total,
                            uint64_t start, bool quiet, ftpc_progress_sink *sink);
/* Records done bytes; redraws when 100 ms passed since the last draw. */
void ftpc_progress_update(ftpc_progress *p, uint64_t done);
/* Erases the bar (before printing a message about this transfer). */
void ftpc_progress_clear(ftpc_progress *p);
/* Ends the bar: draws 100% once, then the summary line
 * "NAME: SIZE in T s (RATE/s)[, resumed at N][, NOTE]".  note may be NULL. */
void ftpc_progress_finish(ftpc_progress *p, const char *note);

/* The bar's line as it would be drawn, width columns at most, into buf
 * (no escape codes).  For sinks that draw several bars. */
void ftpc_progress_format(const ftpc_progress *p, double now, int width,
                          char *buf, size_t cap);
/* The summary line _finish prints (no newline), into buf. */
void ftpc_progress_summary(const ftpc_progress *p, const char *note, double now,
                           char *buf, size_t cap);
/* The terminal's width in columns (80 when unknown). */
int ftpc_term_width(void);

/* "1.5 MiB" style, into buf. */
char *ftpc_human_bytes(double n, char *buf, size_t cap);

#endif
