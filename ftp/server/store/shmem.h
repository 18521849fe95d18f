/* ftp/server/store/shmem.h - tables shared by every session, threads and forked
 * children alike: an anonymous MAP_SHARED mapping made before the first
 * fork, guarded by a process-shared robust mutex at its start.
 *
 * Used by quota.c, ratelimit.c and counters.c.  Thread- and process-safe
 * once made; errors are -errno.  The per-user tables (quota.c, ratelimit.c)
 * find a user's slot the same way: ftpd_shmem_slot_claim. */
#ifndef FTPD_SHMEM_H
#define FTPD_SHMEM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define FTPD_SHMEM_NAME_MAX 64

/* The head every slot of a per-user table starts with. */
typedef struct ftpd_shmem_slot {
    char name[FTPD_SHMEM_NAME_MAX + 1];
    uint32_t sessions;   /* sessions attached; 0: the slot is free */
} ftpd_shmem_slot;

/* Maps len zero-filled bytes (len >= sizeof(pthread_mutex_t)) whose first
 * member is a pthread_mutex_t, and makes that mutex process-shared and
 * robust.  *out gets the mapping; the caller frees it with
 * ftpd_shmem_destroy after every session ended.  0 or -errno. */
int ftpd_shmem_create(size_t len, void **out);
void ftpd_shmem_destroy(void *map, size_t len);

/* Locks a mutex made by ftpd_shmem_create.  When its holder died with it
 * (a killed session process), the lock is taken over as it is: callers
 * keep each change under the lock a few plain stores that leave the table
 * usable wherever they stop. */
void ftpd_shmem_lock(pthread_mutex_t *m);

/* Under the table's lock: the slot of user name among those in use, else
 * the first free one, zero-filled and named (a user's first session starts
 * from nothing).  slots holds n slots of stride bytes, each starting with an
 * ftpd_shmem_slot.  Returns the index (the caller counts its session in),
 * -ENOSPC when every slot is in use, -EINVAL for a bad name. */
long ftpd_shmem_slot_claim(void *slots, size_t n, size_t stride,
                           const char *name);

#endif
