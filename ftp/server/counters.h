/* ftp/server/counters.h - the server's own figures (logins, transfers,
 * quota refusals), shared by every thread and every forked session process,
 * for the metrics page (metrics.h).
 *
 * Like the quota and rate tables, the counters live in a shmem.h mapping
 * (anonymous, MAP_SHARED, made before the first fork), so what a forked
 * session counts is what the main process shows.  They are relaxed
 * atomics: the mapping's lock is never taken, no session waits to count.
 * Every function accepts a NULL table and then does nothing, so code that
 * runs without a server (unit tests) needs none.
 */
#ifndef FTPD_COUNTERS_H
#define FTPD_COUNTERS_H

#include <stdint.h>

typedef enum ftpd_counter {
    FTPD_C_LOGINS_OK,      /* PASS accepted */
    FTPD_C_LOGINS_FAILED,  /* PASS refused (bad password, unknown, banned) */
    FTPD_C_UPLOAD_BYTES,   /* data-connection bytes received into files */
    FTPD_C_DOWNLOAD_BYTES, /* data-connection bytes sent: files, listings */
    FTPD_C_QUOTA_REFUSALS, /* 552 replies for a quota */
    FTPD_C_TRANSFERS,      /* gauge: transfers running now */
    FTPD_C_COUNT
} ftpd_counter;

typedef struct ftpd_counters ftpd_counters;

/* Maps the table (zeroed).  NULL with errno on failure. */
ftpd_counters *ftpd_counters_create(void);
void ftpd_counters_destroy(ftpd_counters *t);

/* Adds n (counters) or d (the gauge: +1 / -1).  Any thread/process. */
void ftpd_counters_add(ftpd_counters *t, ftpd_counter which, uint64_t n);
void ftpd_counters_gauge(ftpd_counters *t, ftpd_counter which, int d);
/* The current value (a gauge read below 0 in a race is 0). */
uint64_t ftpd_counters_get(const ftpd_counters *t, ftpd_counter which);

#endif
