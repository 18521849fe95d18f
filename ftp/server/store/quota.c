/* ftp/server/store/quota.c - per-user usage in shared memory (see quota.h). */
#include "store/quota.h"

#include "store/shmem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum slot_state {
    SLOT_EMPTY,      /* usage unknown: the next attach counts the home */
    SLOT_COUNTING,   /* some session is counting; others count too */
    SLOT_READY,      /* used is current */
};

struct slot {
    ftpd_shmem_slot head;  /* name, sessions (shmem.h) */
    uint32_t state;
    uint64_t generation;   /* bumped when usage is forgotten */
    uint64_t limit;
    uint64_t used;         /* bytes on disk plus outstanding reservations */
};

struct ftpd_quota_table {
    pthread_mutex_t lock;  /* first: process-shared, robust (shmem.h) */
    size_t map_len;
    size_t nslots;
    struct slot slots[];
};

/* Every update is a single store under the lock, so a holder that died
 * leaves the numbers as they were (see ftpd_shmem_lock). */
static void table_lock(ftpd_quota_table *t)
{
    ftpd_shmem_lock(&t->lock);
}

static void table_unlock(ftpd_quota_table *t)
{
    pthread_mutex_unlock(&t->lock);
}

int ftpd_quota_table_create(ftpd_quota_table **out, size_t slots)
{
    *out = NULL;
    if (slots == 0)
        slots = FTPD_QUOTA_DEFAULT_SLOTS;
    if (slots > 1000000)
        return -EINVAL;
    size_t len = sizeof(ftpd_quota_table) + slots * sizeof(struct slot);
    void *m;
    int rc = ftpd_shmem_create(len, &m);
    if (rc < 0)
        return rc;
    ftpd_quota_table *t = m;   /* zero-filled */
    t->map_len = len;
    t->nslots = slots;
    *out = t;
    return 0;
}

void ftpd_quota_table_destroy(ftpd_quota_table *t)
{
    if (!t)
        return;
    ftpd_shmem_destroy(t, t->map_len);
}

/* ---- counting a home ---- */

struct walk_state {
    uint64_t bytes;
    unsigned long entries;
};

static int walk_dir(int dfd, int depth, struct walk_state *w)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        int e = errno;
        close(dfd);
        return -e;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (++w->entries > FTPD_QUOTA_WALK_MAX_ENTRIES)
            break;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;   /* vanished meanwhile */
        if (S_ISREG(st.st_mode)) {
            w->bytes += (uint64_t)st.st_size;
        } else if (S_ISDIR(st.st_mode) && depth + 1 < FTPD_QUOTA_WALK_MAX_DEPTH) {
            int sub = openat(dirfd(d), e->d_name,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                walk_dir(sub, depth + 1, w);   /* unreadable subtrees count 0 */
        }
    }
    closedir(d);
    return rc;
}

int ftpd_quota_walk(const char *home, uint64_t *bytes)
{
    *bytes = 0;
    int fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct walk_state w = {0, 0};
    int rc = walk_dir(fd, 0, &w);
    *bytes = w.bytes;
    return rc;
}

/* ---- sessions ---- */

static struct slot *slot_of(const ftpd_quota *q)
{
    if (!q || !q->table || q->slot < 0 || (size_t)q->slot >= q->table->nslots)
        return NULL;
    return &q->table->slots[q->slot];
}

int ftpd_quota_attach(ftpd_quota_table *t, const char *user, uint64_t limit,
                      const char *home, ftpd_quota *q)
{
    q->table = NULL;
    q->slot = -1;
    if (!t || !home)
        return -EINVAL;

    table_lock(t);
    /* A slot nobody is attached to is EMPTY: claiming it afresh loses
     * nothing. */
    long found = ftpd_shmem_slot_claim(t->slots, t->nslots, sizeof(struct slot),
                                       user);
    if (found < 0) {
        table_unlock(t);
        return (int)found;
    }
    struct slot *s = &t->slots[found];
    s->head.sessions++;
    s->limit = limit;
    if (s->state == SLOT_READY) {
        table_unlock(t);
        q->table = t;
        q->slot = (int)found;
        return 0;
    }
    /* Count outside the lock: other users must not wait for this walk.  A
     * second session of the same user arriving meanwhile counts as well, and
     * the first result to come back is the one kept. */
    s->state = SLOT_COUNTING;
    uint64_t gen = s->generation;
    table_unlock(t);

    uint64_t bytes = 0;
    int rc = ftpd_quota_walk(home, &bytes);

    table_lock(t);
    if (rc < 0) {
        if (--s->head.sessions == 0) {
            s->state = SLOT_EMPTY;
            s->generation++;
        }
        table_unlock(t);
        return rc;
    }
    if (s->state != SLOT_READY && s->generation == gen) {
        s->used = bytes;
        s->state = SLOT_READY;
    }
    table_unlock(t);
    q->table = t;
    q->slot = (int)found;
    return 0;
}

void ftpd_quota_detach(ftpd_quota *q)
{
    struct slot *s = slot_of(q);
    if (!s)
        return;
    table_lock(q->table);
    if (s->head.sessions > 0 && --s->head.sessions == 0) {
        /* Nobody is watching this home any more: count it afresh next time,
         * in case it changed outside the server. */
        s->state = SLOT_EMPTY;
        s->used = 0;
        s->generation++;
    }
    table_unlock(q->table);
    q->table = NULL;
    q->slot = -1;
}

int ftpd_quota_reserve(ftpd_quota *q, uint64_t want, uint64_t *granted)
{
    *granted = 0;
    struct slot *s = slot_of(q);
    if (!s)
        return -EINVAL;
    if (want == 0)
        return 0;
    table_lock(q->table);
    uint64_t avail;
    if (s->limit == FTPD_QUOTA_NO_LIMIT)
        avail = UINT64_MAX - s->used;
    else
        avail = s->used >= s->limit ? 0 : s->limit - s->used;
    uint64_t g = want < avail ? want : avail;
    s->used += g;
    table_unlock(q->table);
    *granted = g;
    return g == 0 ? -EDQUOT : 0;
}

void ftpd_quota_release(ftpd_quota *q, uint64_t n)
{
    struct slot *s = slot_of(q);
    if (!s || n == 0)
        return;
    table_lock(q->table);
    s->used = s->used > n ? s->used - n : 0;
    table_unlock(q->table);
}

void ftpd_quota_charge(ftpd_quota *q, uint64_t n)
{
    struct slot *s = slot_of(q);
    if (!s || n == 0)
        return;
    table_lock(q->table);
    s->used = UINT64_MAX - s->used < n ? UINT64_MAX : s->used + n;
    table_unlock(q->table);
}

int ftpd_quota_get(const ftpd_quota *q, uint64_t *used, uint64_t *limit)
{
    struct slot *s = slot_of(q);
    if (!s)
        return -EINVAL;
    table_lock(q->table);
    if (used)
        *used = s->used;
    if (limit)
        *limit = s->limit;
    table_unlock(q->table);
    return 0;
}
