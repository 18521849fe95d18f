/* bench/ref_threads.c - the "no library" limit for a thread per connection:
 * accept(), then a detached thread that echoes with recv()/send() until the
 * client closes.  With --udp, a thread per datagram (what Python's
 * ThreadingUDPServer does), which answers with sendto().
 *
 * Deliberately plain: no pool, no cap, default thread attributes, so that it
 * costs what the obvious C program costs. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ref_common.h"

#define BUF 65536

static void *serve_connection(void *arg)
{
    int fd = (int)(intptr_t)arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char buf[BUF];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || ref_send_all(fd, buf, (size_t)n) < 0)
            break;
    }
    close(fd);
    return NULL;
}

typedef struct datagram {
    int fd;
    struct sockaddr_storage from;
    socklen_t fromlen;
    size_t len;
    char data[];
} datagram;

static void *serve_datagram(void *arg)
{
    datagram *d = arg;
    sendto(d->fd, d->data, d->len, 0, (struct sockaddr *)&d->from, d->fromlen);
    free(d);
    return NULL;
}

static int spawn(void *(*fn)(void *), void *arg)
{
    pthread_t tid;
    int rc = pthread_create(&tid, NULL, fn, arg);
    if (rc != 0) {
        fprintf(stderr, "ref_threads: pthread_create: %s\n", strerror(rc));
        return -1;
    }
    pthread_detach(tid);
    return 0;
}

int main(int argc, char **argv)
{
    ref_options o;
    ref_parse(argc, argv, &o);
    int lfd = ref_open(&o, false);
    if (o.udp) {
        char buf[BUF];
        for (;;) {
            struct sockaddr_storage from;
            socklen_t fromlen = sizeof from;
            ssize_t n = recvfrom(lfd, buf, sizeof buf, 0, (struct sockaddr *)&from,
                                 &fromlen);
            if (n < 0)
                continue;
            datagram *d = malloc(sizeof *d + (size_t)n);
            if (!d)
                continue;
            *d = (datagram){.fd = lfd, .from = from, .fromlen = fromlen,
                            .len = (size_t)n};
            memcpy(d->data, buf, (size_t)n);
            if (spawn(serve_datagram, d) < 0)
                free(d);
        }
    }
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            perror("ref_threads: accept");
            sleep(1); /* EMFILE and the like: do not spin */
            continue;
        }
        if (spawn(serve_connection, (void *)(intptr_t)fd) < 0)
            close(fd);
    }
}
