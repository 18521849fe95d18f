/* sys.c - the few system-call wrappers the library shares. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "internal.h"

int ss__set_nonblock(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

/* close() is not retried on EINTR: on Linux the descriptor is gone either
 * way, and a retry could close a descriptor another thread just opened. */
int ss__close(int fd)
{
    if (fd < 0)
        return 0;
    return close(fd) < 0 && errno != EINTR ? -errno : 0;
}
