/* ftp/server/store/shmem.c - see shmem.h. */
#include "store/shmem.h"

#include <errno.h>
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
