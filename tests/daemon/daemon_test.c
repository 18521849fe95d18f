/* tests/daemon/daemon_test.c - see daemon_test.h. */
#include "daemon_test.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int dt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return -errno;
    }
    close(fd);
    return ntohs(a.sin_port);
}

int dt_wait_text(ts_proc *p, const char *needle, bool in_out, double timeout_s)
{
    double deadline = ts_now() + timeout_s;
    for (;;) {
        ts_drain(p);
        if (strstr(in_out ? p->out : p->err, needle))
            return 0;
        double left = deadline - ts_now();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd pf[2] = {{p->out_fd, POLLIN, 0}, {p->err_fd, POLLIN, 0}};
        int n = poll(pf, p->err_fd >= 0 ? 2 : 1, left > 0.1 ? 100 : 1 + (int)(left * 1000));
        if (n > 0 && (pf[0].revents & POLLHUP) &&
            (p->err_fd < 0 || (pf[1].revents & POLLHUP)) &&
            !(pf[0].revents & POLLIN) && !(pf[1].revents & POLLIN))
            return strstr(in_out ? p->out : p->err, needle) ? 0 : -ECHILD;
    }
}

int dt_wait_nth_line(ts_proc *p, const char *prefix, int n, char *rest,
                     size_t cap, double timeout_s)
{
    double deadline = ts_now() + timeout_s;
    for (;;) {
        ts_drain(p);
        if (ts_find_line(p, prefix, n, rest, cap))
            return 0;
        double left = deadline - ts_now();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd pf[2] = {{p->out_fd, POLLIN, 0}, {p->err_fd, POLLIN, 0}};
        poll(pf, p->err_fd >= 0 ? 2 : 1, left > 0.1 ? 100 : 1 + (int)(left * 1000));
    }
}

int dt_echo_roundtrip(const char *addr_text, const void *buf, size_t len)
{
    ss_addr addr;
    if (ss_addr_parse(&addr, addr_text, NULL) < 0)
        return -EINVAL;
    int fd = ts_connect(&addr, SOCK_STREAM, 10.0);
    if (fd < 0)
        return fd;
    char back[65536];
    int rc = len > sizeof back ? -EINVAL : ts_write_full(fd, buf, len);
    if (rc == 0) {
        shutdown(fd, SHUT_WR);
        ssize_t got = ts_read_full(fd, back, len);
        char extra;
        if (got < 0)
            rc = (int)got;
        else if ((size_t)got != len || memcmp(back, buf, len) != 0 ||
                 recv(fd, &extra, 1, 0) != 0)
            rc = -EPROTO;
    }
    close(fd);
    return rc;
}

int dt_reap_all(double timeout_s)
{
    double deadline = ts_now() + timeout_s;
    for (;;) {
        pid_t w = waitpid(-1, NULL, WNOHANG);
        if (w < 0 && errno == ECHILD)
            return 0;
        if (ts_now() >= deadline)
            return -ETIMEDOUT;
        if (w == 0) {
            struct timespec t = {0, 20 * 1000 * 1000};
            nanosleep(&t, NULL); /* polling with a deadline, not a sync */
        }
    }
}

int dt_notify_receiver(const char *address, double timeout_s)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t len = strlen(address);
    if (len >= sizeof a.sun_path) {
        close(fd);
        return -ENAMETOOLONG;
    }
    memcpy(a.sun_path, address, len);
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    if (address[0] == '@')
        a.sun_path[0] = '\0';
    else
        alen++;
    struct timeval tv = {(time_t)timeout_s, 0};
    if (bind(fd, (struct sockaddr *)&a, alen) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int dt_recv_text(int fd, char *buf, size_t cap)
{
    ssize_t n;
    do
        n = recv(fd, buf, cap - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    buf[n] = '\0';
    return (int)n;
}

int dt_recv_until(int fd, const char *needle, char *buf, size_t cap)
{
    for (int i = 0; i < 1000; i++) {
        int n = dt_recv_text(fd, buf, cap);
        if (n < 0)
            return n;
        if (strstr(buf, needle))
            return 0;
    }
    return -ENOENT;
}
