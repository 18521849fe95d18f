/* sys.c - the few system-call wrappers the library shares. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <time.h>
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

double ss__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Rounds up, so that a wait never ends just before its deadline and spins
 * once more with a timeout of 0.  Integer arithmetic: libm is not needed for
 * this, and at -O0 a ceil() call would be a libm call. */
int ss__poll_ms(double left_s)
{
    if (left_s <= 0)
        return 0;
    if (left_s >= (double)INT_MAX / 1000.0)
        return INT_MAX;
    double ms = left_s * 1000.0;
    int whole = (int)ms;
    return whole < ms ? whole + 1 : whole;
}
