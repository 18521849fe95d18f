/* ftp/server/store/ratelimit.h - per-user transfer rate limits, shared by all of
 * a user's sessions.
 *
 * API note.  One ftpd_rate_table per server, made before it starts serving
 * (before any fork): an anonymous MAP_SHARED mapping, so threads and forked
 * session processes share it.  Each user with a limited session has a slot
 * holding two buckets (upload, download).  A bucket is a single time, the
 * moment by which everything charged so far is paid for at the limit (the
 * "theoretical arrival time" of GCRA, a token bucket without a burst): a
 * transfer charges each chunk it moved and sleeps until that time.  Two
 * transfers of one user charge the same bucket, so together they move at
 * the limit, wherever they run.  The time is CLOCK_MONOTONIC, which is the
 * same clock in every process.
 *
 * Charging is one compare-and-swap on the bucket (no lock); attaching and
 * detaching take the table's process-shared robust mutex.  A bucket that
 * fell behind by less than FTPD_RATE_SLACK_NS (a sleep that overslept) keeps
 * its time, so the lost moment is caught up; one idle for longer starts
 * from now, so idle time is never saved up into a burst.
 *
 * A session whose limits are both 0 does not attach (slot -1): then
 * ftpd_rate_limit() is 0 and the data path never calls in here.
 *
 * Thread-safety: table functions are thread- and process-safe; one
 * ftpd_rate handle belongs to one session.  Errors are -errno. */
#ifndef FTPD_RATELIMIT_H
#define FTPD_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define FTPD_RATE_NAME_MAX 64
/* How far behind a bucket may fall and still catch up (ns). */
#define FTPD_RATE_SLACK_NS 250000000LL

enum ftpd_rate_dir { FTPD_RATE_UP = 0, FTPD_RATE_DOWN = 1 };

typedef struct ftpd_rate_table ftpd_rate_table;

/* A session's handle on its user's buckets. */
typedef struct ftpd_rate {
    ftpd_rate_table *table;
    int slot;            /* -1 when not attached */
    uint64_t bps[2];     /* this session's limits in bytes/s; 0: none */
} ftpd_rate;

/* Maps a table for slots users at once (>= 1; max_sessions is always
 * enough, since each slot in use has a live session).  The caller owns
 * *out and destroys it after every session ended.  0 or -errno. */
int ftpd_rate_table_create(ftpd_rate_table **out, size_t slots);
void ftpd_rate_table_destroy(ftpd_rate_table *t);

/* Attaches r to user's slot with this session's limits up and down
 * (bytes/s, 0: none).  With both 0 nothing is attached and 0 is returned.
 * -EINVAL for a bad name, -ENOSPC when every slot is in use. */
int ftpd_rate_attach(ftpd_rate_table *t, const char *user, uint64_t up,
                     uint64_t down, ftpd_rate *r);
/* Detaches (idempotent; fine on a handle that never attached). */
void ftpd_rate_detach(ftpd_rate *r);

/* The limit in force for direction d: bytes/s, 0 for none. */
static inline uint64_t ftpd_rate_limit(const ftpd_rate *r, enum ftpd_rate_dir d)
{
    return r->slot >= 0 ? r->bps[d] : 0;
}

/* How many bytes a limited transfer should move between two charges: about
 * a sixteenth of a second's worth, between 1 KiB and max, so the pace is
 * smooth, the sleeps are not too many, and even a slow limit does not
 * leave the client waiting seconds between chunks. */
size_t ftpd_rate_chunk(const ftpd_rate *r, enum ftpd_rate_dir d, size_t max);

/* Charges n bytes just moved in direction d and returns the CLOCK_MONOTONIC
 * time (ns) until which the caller must sleep before moving more; a time in
 * the past means no wait.  Only for a direction with a limit. */
int64_t ftpd_rate_charge(ftpd_rate *r, enum ftpd_rate_dir d, uint64_t n);

/* CLOCK_MONOTONIC now, in ns. */
int64_t ftpd_rate_now(void);

#endif
