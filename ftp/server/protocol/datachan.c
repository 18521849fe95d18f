/* ftp/server/protocol/datachan.c - see datachan.h. */
#include "protocol/datachan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

double ftpd_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void plain_init(ss_transport *t, int fd)
{
    /* The library's transport answers -EAGAIN on a non-blocking socket,
     * which is what the transfer loop polls on. */
    ss_transport_init_fd(t, fd);
}

static void close_listener(ftpd_datachan *dc)
{
    if (dc->listen_fd >= 0)
        close(dc->listen_fd);
    dc->listen_fd = -1;
    dc->listen_deadline = 0;
    if (dc->pasv_counted && dc->limits)
        ftpd_connlimit_pasv_release(dc->limits, &dc->client);
    dc->pasv_counted = false;
}

void ftpd_datachan_init(ftpd_datachan *dc, ftpd_connlimit *limits,
                        const ss_addr *client)
{
    memset(dc, 0, sizeof *dc);
    dc->limits = limits;
    if (client)
        dc->client = *client;
    dc->listen_fd = -1;
    dc->fd = -1;
    plain_init(&dc->plain, -1);
    dc->io = &dc->plain;
    dc->plain_io = true;
}

void ftpd_datachan_close_conn(ftpd_datachan *dc)
{
    if (dc->tls_on)
        ss_tls_conn_close(&dc->tls);
    dc->tls_on = false;
    if (dc->fd >= 0)
        close(dc->fd);
    dc->fd = -1;
    plain_init(&dc->plain, -1);
    dc->io = &dc->plain;
    dc->plain_io = true;
}

void ftpd_datachan_reset(ftpd_datachan *dc)
{
    ftpd_datachan_close_conn(dc);
    close_listener(dc);
    dc->active.len = 0;
}

bool ftpd_datachan_expire(ftpd_datachan *dc, double now)
{
    if (dc->listen_fd < 0 || dc->listen_deadline <= 0 ||
        now < dc->listen_deadline)
        return false;
    close_listener(dc);
    return true;
}

bool ftpd_datachan_ready(const ftpd_datachan *dc)
{
    return dc->listen_fd >= 0 || dc->active.len > 0;
}

/* The control connection's local address as the host to listen on; a unix
 * control connection has none, so loopback is used. */
static void listen_host(const ss_addr *local, struct sockaddr_storage *ss,
                        socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    int fam = ((const struct sockaddr *)&local->sa)->sa_family;
    if (fam == AF_INET || fam == AF_INET6) {
        memcpy(ss, &local->sa, local->len);
        *len = local->len;
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof *in;
    }
}

static void set_port(struct sockaddr_storage *ss, unsigned port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

int ftpd_datachan_passive(ftpd_datachan *dc, const ss_addr *local,
                          unsigned pmin, unsigned pmax, double timeout,
                          ss_addr *bound)
{
    ftpd_datachan_reset(dc);
    if (dc->limits && !ftpd_connlimit_pasv_acquire(dc->limits, &dc->client))
        return -EBUSY;
    dc->pasv_counted = dc->limits != NULL;
    struct sockaddr_storage ss;
    socklen_t len;
    listen_host(local, &ss, &len);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        int e = -errno;
        close_listener(dc);
        return e;
    }
    int rc = -EADDRINUSE;
    if (pmin == 0) {
        set_port(&ss, 0);
        rc = bind(fd, (struct sockaddr *)&ss, len) < 0 ? -errno : 0;
    } else {
        /* Start at a random port of the range so that the next data port
         * cannot be guessed from the last one (RFC 2577 port stealing). */
        unsigned span = pmax - pmin + 1;
        unsigned start;
        if (getentropy(&start, sizeof start) < 0)
            start = (unsigned)time(NULL);
        start %= span;
        for (unsigned i = 0; i < span; i++) {
            set_port(&ss, pmin + (start + i) % span);
            if (bind(fd, (struct sockaddr *)&ss, len) == 0) {
                rc = 0;
                break;
            }
            if (errno != EADDRINUSE && errno != EACCES) {
                rc = -errno;
                break;
            }
        }
    }
    if (rc == 0 && listen(fd, 1) < 0)
        rc = -errno;
    if (rc == 0) {
        len = sizeof ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
            rc = -errno;
        else
            ss_addr_set(bound, (struct sockaddr *)&ss, len);
    }
    if (rc < 0) {
        close(fd);
        close_listener(dc);
        return rc;
    }
    dc->listen_fd = fd;
    dc->listen_deadline = ftpd_now() + timeout;
    return 0;
}

static bool is_ip(const ss_addr *a)
{
    int f = ss_addr_family(a);
    return f == AF_INET || f == AF_INET6;
}

int ftpd_datachan_active(ftpd_datachan *dc, const ss_addr *peer,
                         const ss_addr *target)
{
    ftpd_datachan_reset(dc);
    int port = ss_addr_port(target);
    if (port < 1024)
        return -EPERM;
    if (is_ip(peer) ? !ss_addr_same_host(peer, target)
                    : !ss_addr_is_loopback(target))
        return -EPERM;
    dc->active = *target;
    return 0;
}

static int wait_fd(int fd, short ev, int watch_fd, double deadline)
{
    for (;;) {
        double left = deadline - ftpd_now();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p[2] = {{.fd = fd, .events = ev},
                              {.fd = watch_fd, .events = POLLIN | POLLPRI}};
        int n = poll(p, watch_fd >= 0 ? 2 : 1, (int)(left * 1000) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            continue;
        if (watch_fd >= 0 && p[1].revents)
            return 1;
        if (p[0].revents)
            return 0;
    }
}

static void adopt(ftpd_datachan *dc, int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    dc->fd = fd;
    plain_init(&dc->plain, fd);
    dc->io = &dc->plain;
    dc->plain_io = true;
}

int ftpd_datachan_open(ftpd_datachan *dc, const ss_addr *peer, int watch_fd,
                       double deadline)
{
    if (dc->fd >= 0)
        return 0;
    if (dc->listen_fd >= 0) {
        for (;;) {
            int rc = wait_fd(dc->listen_fd, POLLIN, watch_fd, deadline);
            if (rc != 0)
                return rc;
            ss_addr from;
            from.len = sizeof from.sa;
            int fd = accept4(dc->listen_fd, (struct sockaddr *)&from.sa,
                             &from.len, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0) {
                if (errno == EAGAIN || errno == EINTR ||
                    errno == ECONNABORTED)
                    continue;
                return -errno;
            }
            bool ok = is_ip(peer) ? ss_addr_same_host(peer, &from)
                                  : ss_addr_is_loopback(&from);
            if (!ok) { /* data connection theft: drop it, keep waiting */
                close(fd);
                continue;
            }
            close_listener(dc);
            adopt(dc, fd);
            return 0;
        }
    }
    if (dc->active.len > 0) {
        int fam = ss_addr_family(&dc->active);
        int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            return -errno;
        if (connect(fd, (struct sockaddr *)&dc->active.sa, dc->active.len) < 0 &&
            errno != EINPROGRESS) {
            int e = -errno;
            close(fd);
            return e;
        }
        for (;;) {
            int rc = wait_fd(fd, POLLOUT, watch_fd, deadline);
            if (rc == 1) {
                /* Control input while connecting: the caller looks at it
                 * and calls again, which connects anew. */
                close(fd);
                return 1;
            }
            if (rc < 0) {
                close(fd);
                return rc;
            }
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            if (soerr) {
                close(fd);
                return -soerr;
            }
            dc->active.len = 0;
            adopt(dc, fd);
            return 0;
        }
    }
    return -ENOTCONN;
}

int ftpd_parse_port_arg(const char *arg, ss_addr *out)
{
    unsigned v[6];
    int used = 0;
    if (sscanf(arg, "%u,%u,%u,%u,%u,%u%n", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &used) != 6 ||
        arg[used] != '\0')
        return -EINVAL;
    for (int i = 0; i < 6; i++)
        if (v[i] > 255)
            return -EINVAL;
    struct sockaddr_in in = {.sin_family = AF_INET};
    in.sin_addr.s_addr =
        htonl((uint32_t)(v[0] << 24 | v[1] << 16 | v[2] << 8 | v[3]));
    in.sin_port = htons((uint16_t)(v[4] << 8 | v[5]));
    return ss_addr_set(out, (struct sockaddr *)&in, sizeof in);
}

int ftpd_parse_eprt_arg(const char *arg, ss_addr *out)
{
    char d = arg[0];
    if (d < 33 || d > 126)
        return -EINVAL;
    char buf[128];
    size_t n = strlen(arg);
    if (n < 7 || n >= sizeof buf || arg[n - 1] != d)
        return -EINVAL;
    memcpy(buf, arg + 1, n - 2);
    buf[n - 2] = '\0';
    char *af = buf, *p1 = strchr(af, d);
    if (!p1)
        return -EINVAL;
    *p1++ = '\0';
    char *p2 = strchr(p1, d);
    if (!p2)
        return -EINVAL;
    *p2++ = '\0';
    if (strchr(p2, d))
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long port = strtoul(p2, &end, 10);
    if (!*p2 || *end || errno || port == 0 || port > 65535)
        return -EINVAL;
    if (!strcmp(af, "1")) {
        struct sockaddr_in in = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port)};
        if (inet_pton(AF_INET, p1, &in.sin_addr) != 1)
            return -EINVAL;
        return ss_addr_set(out, (struct sockaddr *)&in, sizeof in);
    }
    if (!strcmp(af, "2")) {
        struct sockaddr_in6 in6 = {.sin6_family = AF_INET6,
                                   .sin6_port = htons((uint16_t)port)};
        if (inet_pton(AF_INET6, p1, &in6.sin6_addr) != 1)
            return -EINVAL;
        return ss_addr_set(out, (struct sockaddr *)&in6, sizeof in6);
    }
    return -EAFNOSUPPORT;
}
