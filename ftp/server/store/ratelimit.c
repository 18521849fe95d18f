/* ftp/server/store/ratelimit.c - shared per-user buckets (see ratelimit.h). */
#include "store/ratelimit.h"

#include "store/shmem.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

struct slot {
    ftpd_shmem_slot head;        /* name, sessions: under the table lock */
    _Atomic int64_t due[2];      /* per direction, CLOCK_MONOTONIC ns */
};

struct ftpd_rate_table {
    pthread_mutex_t lock;        /* first (shmem.h); attach/detach.  Each
                                    change under it is a few plain stores */
    size_t map_len;
    size_t nslots;
    struct slot slots[];
};

int64_t ftpd_rate_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int ftpd_rate_table_create(ftpd_rate_table **out, size_t slots)
{
    *out = NULL;
    if (slots == 0 || slots > 1000000)
        return -EINVAL;
    size_t len = sizeof(ftpd_rate_table) + slots * sizeof(struct slot);
    void *m;
    int rc = ftpd_shmem_create(len, &m);
    if (rc < 0)
        return rc;
    ftpd_rate_table *t = m; /* zero-filled: every slot empty */
    t->map_len = len;
    t->nslots = slots;
    *out = t;
    return 0;
}

void ftpd_rate_table_destroy(ftpd_rate_table *t)
{
    if (!t)
        return;
    ftpd_shmem_destroy(t, t->map_len);
}

int ftpd_rate_attach(ftpd_rate_table *t, const char *user, uint64_t up,
                     uint64_t down, ftpd_rate *r)
{
    r->table = NULL;
    r->slot = -1;
    r->bps[FTPD_RATE_UP] = up;
    r->bps[FTPD_RATE_DOWN] = down;
    size_t nl = user ? strlen(user) : 0;
    if (!t || nl == 0 || nl > FTPD_RATE_NAME_MAX)
        return -EINVAL;
    if (up == 0 && down == 0)
        return 0;
    ftpd_shmem_lock(&t->lock);
    /* A user's first limited session starts with empty buckets (due 0). */
    long found = ftpd_shmem_slot_claim(t->slots, t->nslots, sizeof(struct slot),
                                       user);
    if (found >= 0)
        t->slots[found].head.sessions++;
    pthread_mutex_unlock(&t->lock);
    if (found < 0)
        return (int)found;
    r->table = t;
    r->slot = (int)found;
    return 0;
}

void ftpd_rate_detach(ftpd_rate *r)
{
    if (!r->table || r->slot < 0)
        return;
    ftpd_shmem_lock(&r->table->lock);
    struct slot *s = &r->table->slots[r->slot];
    if (s->head.sessions > 0)
        s->head.sessions--;
    pthread_mutex_unlock(&r->table->lock);
    r->table = NULL;
    r->slot = -1;
}

size_t ftpd_rate_chunk(const ftpd_rate *r, enum ftpd_rate_dir d, size_t max)
{
    uint64_t c = r->bps[d] / 16;
    if (c < 1024)
        c = 1024;
    return c < max ? (size_t)c : max;
}

int64_t ftpd_rate_charge(ftpd_rate *r, enum ftpd_rate_dir d, uint64_t n)
{
    uint64_t bps = r->bps[d];
    if (!r->table || r->slot < 0 || bps == 0)
        return 0;
    _Atomic int64_t *due = &r->table->slots[r->slot].due[d];
    int64_t cost = (int64_t)((unsigned __int128)n * 1000000000u / bps);
    int64_t now = ftpd_rate_now();
    int64_t old = atomic_load(due), next;
    do {
        int64_t base = old < now - FTPD_RATE_SLACK_NS ? now : old;
        next = base + cost;
    } while (!atomic_compare_exchange_weak(due, &old, next));
    return next;
}
