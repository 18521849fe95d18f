/* ftp/server/protocol/homefd.c - see homefd.h. */
#include "protocol/homefd.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct home {
    struct home *next;
    int fd;
    unsigned uses;
    dev_t dev;
    ino_t ino;
    char real[]; /* the realpath it was opened by */
} home;

/* A list: a server has as many entries as homes in use, and a login
 * walks it once. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static home *homes;

int ftpd_homefd_acquire(const char *real)
{
    struct stat now;
    if (stat(real, &now) < 0)
        return -errno;
    pthread_mutex_lock(&lock);
    for (home *h = homes; h; h = h->next)
        if (h->dev == now.st_dev && h->ino == now.st_ino &&
            !strcmp(h->real, real)) {
            h->uses++;
            pthread_mutex_unlock(&lock);
            return h->fd;
        }
    size_t len = strlen(real);
    home *h = malloc(sizeof *h + len + 1);
    int fd = h ? open(real, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    int e = h ? errno : ENOMEM;
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) < 0) {
        e = errno;
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        pthread_mutex_unlock(&lock);
        free(h);
        return -e;
    }
    /* What was opened, not what stat saw: the two lookups may differ. */
    h->fd = fd;
    h->uses = 1;
    h->dev = st.st_dev;
    h->ino = st.st_ino;
    memcpy(h->real, real, len + 1);
    h->next = homes;
    homes = h;
    pthread_mutex_unlock(&lock);
    return fd;
}

void ftpd_homefd_release(int fd)
{
    if (fd < 0)
        return;
    pthread_mutex_lock(&lock);
    for (home **link = &homes; *link; link = &(*link)->next) {
        home *h = *link;
        if (h->fd != fd)
            continue;
        if (--h->uses == 0) {
            *link = h->next;
            close(h->fd);
            free(h);
        }
        break;
    }
    pthread_mutex_unlock(&lock);
}
