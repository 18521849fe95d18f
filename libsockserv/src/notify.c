/* notify.c - the sd_notify protocol in a few lines: one datagram of
 * KEY=VALUE lines to the unix socket named by $NOTIFY_SOCKET.  No
 * libsystemd: the library builds and runs where systemd is absent. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sockserv/notify.h>

#include "internal.h"

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* "/path" or "@abstract" into self->addr.  Linux abstract names start with
 * a NUL instead of the '@' and are not NUL-terminated. */
static int set_address(ss_notifier *self, const char *a, ss_error *err)
{
    size_t len = strlen(a);
    if (strncmp(a, "vsock:", 6) == 0)
        return ss_error_set(err, -EAFNOSUPPORT, "NOTIFY_SOCKET %s: vsock is "
                            "not supported", a);
    if ((a[0] != '/' && a[0] != '@') || len < 2)
        return ss_error_set(err, -EINVAL, "NOTIFY_SOCKET '%s': not a /path or "
                            "an @abstract name", a);
    if (len > sizeof self->addr.sun_path - (a[0] == '/'))
        return ss_error_set(err, -EINVAL, "NOTIFY_SOCKET '%s': too long", a);
    memset(&self->addr, 0, sizeof self->addr);
    self->addr.sun_family = AF_UNIX;
    memcpy(self->addr.sun_path, a, len);
    if (a[0] == '@')
        self->addr.sun_path[0] = '\0';
    self->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                                 (a[0] == '/'));
    return 0;
}

static void disable(ss_notifier *self)
{
    ss__close(self->fd);
    self->fd = -1;
    self->addr_len = 0;
}

int ss_notifier_init_address(ss_notifier *self, const char *address,
                             ss_error *err)
{
    memset(self, 0, sizeof *self);
    self->fd = -1;
    if (!address || !*address)
        return 0;
    int rc = set_address(self, address, err);
    if (rc < 0)
        return rc;
    self->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (self->fd < 0) {
        rc = ss_error_errno(err, "notify socket");
        disable(self);
        return rc;
    }
    return 0;
}

/* A decimal without sign or junk, as systemd writes it. */
static bool parse_u64(const char *text, uint64_t *out)
{
    if (!text || *text < '0' || *text > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

int ss_notifier_init(ss_notifier *self, unsigned flags, ss_error *err)
{
    const char *addr = getenv("NOTIFY_SOCKET");
    const char *next = getenv(SS_NOTIFY_NEXT_ENV);
    const char *wd = getenv("WATCHDOG_USEC");
    const char *wdpid = getenv("WATCHDOG_PID");
    int rc = ss_notifier_init_address(self, addr, err);
    if (rc == 0 && next) {
        self->handover = true;
        snprintf(self->next, sizeof self->next, "%s", next);
    }
    uint64_t usec, pid;
    if (rc == 0 && parse_u64(wd, &usec) && usec > 0 &&
        (!wdpid || (parse_u64(wdpid, &pid) && pid == (uint64_t)getpid())))
        self->watchdog_usec = usec;
    if (!(flags & SS_NOTIFY_KEEP_ENV)) {
        unsetenv("NOTIFY_SOCKET");
        unsetenv(SS_NOTIFY_NEXT_ENV);
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
    }
    return rc;
}

bool ss_notifier_enabled(const ss_notifier *self)
{
    return self->fd >= 0;
}

int ss_notifier_send(ss_notifier *self, const char *state, ss_error *err)
{
    if (self->fd < 0)
        return 0;
    ssize_t n;
    do
        n = sendto(self->fd, state, strlen(state), MSG_NOSIGNAL,
                   (struct sockaddr *)&self->addr, self->addr_len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return ss_error_errno(err, "notify %s%s", self->addr.sun_path[0] ? ""
                              : "@", self->addr.sun_path + !self->addr.sun_path[0]);
    return 0;
}

int ss_notify_ready(ss_notifier *self, const char *status, ss_error *err)
{
    char msg[512];
    snprintf(msg, sizeof msg, "READY=1%s%s", status ? "\nSTATUS=" : "",
             status ? status : "");
    int rc = ss_notifier_send(self, msg, err);
    if (rc == 0 && self->handover) {
        /* The old process has what it waited for; from now on this process
         * is the service and talks to the service manager itself. */
        uint64_t wd = self->watchdog_usec;
        char next[sizeof self->next];
        memcpy(next, self->next, sizeof next);
        ss_notifier_close(self);
        rc = ss_notifier_init_address(self, next, err);
        self->watchdog_usec = wd;
    }
    return rc;
}

int ss_notify_reloading(ss_notifier *self, ss_error *err)
{
    char msg[64];
    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, now_usec());
    return ss_notifier_send(self, msg, err);
}

int ss_notify_stopping(ss_notifier *self, ss_error *err)
{
    return ss_notifier_send(self, "STOPPING=1", err);
}

int ss_notify_watchdog(ss_notifier *self, ss_error *err)
{
    self->last_ping_usec = now_usec();
    return ss_notifier_send(self, "WATCHDOG=1", err);
}

uint64_t ss_notifier_watchdog_usec(const ss_notifier *self)
{
    return self->watchdog_usec;
}

int ss_notifier_watchdog_tick(ss_notifier *self, ss_error *err)
{
    if (self->fd < 0 || self->watchdog_usec == 0)
        return 0;
    if (self->last_ping_usec &&
        now_usec() - self->last_ping_usec < self->watchdog_usec / 2)
        return 0;
    int rc = ss_notify_watchdog(self, err);
    return rc < 0 ? rc : 1;
}

void ss_notifier_close(ss_notifier *self)
{
    disable(self);
}
