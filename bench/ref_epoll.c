/* bench/ref_epoll.c - the "no library" limit for an event loop: one thread,
 * level-triggered epoll, non-blocking sockets.  Reads go to one shared
 * buffer and are written straight back; only what the kernel does not take
 * at once is copied into a per-connection buffer, and reading from that
 * connection stops until it has drained (backpressure).  An idle connection
 * costs one small struct.  With --udp: recvfrom()/sendto() in a loop. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ref_common.h"

#define BUF 65536

typedef struct conn {
    int fd;
    char *pending; /* unsent echo, NULL when none */
    size_t len, off;
} conn;

static int ep;
static char buf[BUF];

static void drop(conn *c)
{
    close(c->fd); /* also leaves the epoll set */
    free(c->pending);
    free(c);
}

static void watch(conn *c, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(ep, op, c->fd, &ev);
}

/* Returns -1 when the connection was dropped. */
static int flush_pending(conn *c)
{
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->pending + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN)
                return 0;
            drop(c);
            return -1;
        }
        c->off += (size_t)n;
    }
    free(c->pending);
    c->pending = NULL;
    watch(c, EPOLLIN, EPOLL_CTL_MOD);
    return 0;
}

static void on_readable(conn *c)
{
    for (int i = 0; i < 16 && !c->pending; i++) { /* bounded: be fair */
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            drop(c);
            return;
        }
        ssize_t w = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN) {
            drop(c);
            return;
        }
        if (w < 0)
            w = 0;
        if (w < n) {
            c->len = (size_t)(n - w);
            c->off = 0;
            c->pending = malloc(c->len);
            if (!c->pending) {
                drop(c);
                return;
            }
            memcpy(c->pending, buf + w, c->len);
            watch(c, EPOLLOUT, EPOLL_CTL_MOD);
        }
    }
}

static void accept_all(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                perror("ref_epoll: accept");
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        watch(c, EPOLLIN, EPOLL_CTL_ADD);
    }
}

static void serve_udp(int fd)
{
    for (;;) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen);
        if (n >= 0)
            sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fromlen);
    }
}

int main(int argc, char **argv)
{
    ref_options o;
    ref_parse(argc, argv, &o);
    int lfd = ref_open(&o, !o.udp);
    if (o.udp)
        serve_udp(lfd); /* blocking: one socket, nothing to multiplex */
    ep = epoll_create1(EPOLL_CLOEXEC);
    static conn listener; /* data.ptr == &listener marks the listening socket */
    listener.fd = lfd;
    watch(&listener, EPOLLIN, EPOLL_CTL_ADD);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (c == &listener)
                accept_all(lfd);
            else if (evs[i].events & EPOLLOUT)
                flush_pending(c);
            else
                on_readable(c);
        }
    }
}
