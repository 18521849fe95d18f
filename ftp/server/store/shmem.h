/* ftp/server/store/shmem.h - tables shared by every session, threads and forked
 * children alike: an anonymous MAP_SHARED mapping made before the first
 * fork, guarded by a process-shared robust mutex at its start.
 *
 * Used by quota.c, ratelimit.c and counters.c.  Thread- and process-safe
 * once made; errors are -errno. */
#ifndef FTPD_SHMEM_H
#define FTPD_SHMEM_H

#include <pthread.h>
#include <stddef.h>

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

#endif
