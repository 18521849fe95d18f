/* ftp/server/store/shmem.c - see shmem.h. */
#include "store/shmem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

int ftpd_shmem_create(size_t len, void **out)
{
    *out = NULL;
    if (len < sizeof(pthread_mutex_t))
        return -EINVAL;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    if (m == MAP_FAILED)
        return -errno;
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (rc == 0)
        rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutex_init((pthread_mutex_t *)m, &a);
    pthread_mutexattr_destroy(&a);
    if (rc != 0) {
        munmap(m, len);
        return -rc;
    }
    *out = m;
    return 0;
}

void ftpd_shmem_destroy(void *map, size_t len)
{
    if (!map)
        return;
    pthread_mutex_destroy((pthread_mutex_t *)map);
    munmap(map, len);
}

void ftpd_shmem_lock(pthread_mutex_t *m)
{
    if (pthread_mutex_lock(m) == EOWNERDEAD)
        pthread_mutex_consistent(m);
}

long ftpd_shmem_slot_claim(void *slots, size_t n, size_t stride,
                           const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > FTPD_SHMEM_NAME_MAX)
        return -EINVAL;
    long free_slot = -1;
    for (size_t i = 0; i < n; i++) {
        ftpd_shmem_slot *s = (ftpd_shmem_slot *)((char *)slots + i * stride);
        if (s->sessions > 0 && strcmp(s->name, name) == 0)
            return (long)i;
        if (s->sessions == 0 && free_slot < 0)
            free_slot = (long)i;
    }
    if (free_slot < 0)
        return -ENOSPC;
    ftpd_shmem_slot *s = (ftpd_shmem_slot *)((char *)slots + free_slot * stride);
    memset(s, 0, stride);
    memcpy(s->name, name, len + 1);
    return free_slot;
}
