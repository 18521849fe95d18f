/* ftp/server/counters.c - see counters.h. */
#include "counters.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "store/shmem.h"

struct ftpd_counters {
    /* First, as shmem.h wants.  Never taken: the counters are atomics, so
     * a session is never made to wait by another one's count. */
    pthread_mutex_t lock;
    _Atomic uint64_t c[FTPD_C_COUNT];
};

ftpd_counters *ftpd_counters_create(void)
{
    void *m;
    int rc = ftpd_shmem_create(sizeof(ftpd_counters), &m);
    if (rc < 0) {
        errno = -rc;
        return NULL;
    }
    return m; /* zero-filled */
}

void ftpd_counters_destroy(ftpd_counters *t)
{
    if (t)
        ftpd_shmem_destroy(t, sizeof *t);
}

void ftpd_counters_add(ftpd_counters *t, ftpd_counter which, uint64_t n)
{
    if (t && which < FTPD_C_COUNT)
        atomic_fetch_add_explicit(&t->c[which], n, memory_order_relaxed);
}

void ftpd_counters_gauge(ftpd_counters *t, ftpd_counter which, int d)
{
    /* Unsigned wrap-around: -1 is adding 2^64 - 1. */
    ftpd_counters_add(t, which, d < 0 ? (uint64_t)0 - (uint64_t)-d : (uint64_t)d);
}

uint64_t ftpd_counters_get(const ftpd_counters *t, ftpd_counter which)
{
    if (!t || which >= FTPD_C_COUNT)
        return 0;
    uint64_t v = atomic_load_explicit(&((ftpd_counters *)t)->c[which],
                                      memory_order_relaxed);
    if (which == FTPD_C_TRANSFERS && (int64_t)v < 0)
        return 0;
    return v;
}
