/* bench/ref_common.c - see ref_common.h. */
#include "ref_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

void ref_parse(int argc, char **argv, ref_options *o)
{
    *o = (ref_options){.listen = "127.0.0.1:0"};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            o->listen = argv[++i];
        } else if (strcmp(argv[i], "--udp") == 0) {
            o->udp = true;
        } else {
            fprintf(stderr, "usage: %s [--listen HOST:PORT] [--udp]\n", argv[0]);
            exit(2);
        }
    }
}

static void die(const char *what)
{
    fprintf(stderr, "ref: %s: %s\n", what, strerror(errno));
    exit(1);
}

int ref_open(const ref_options *o, bool nonblocking)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);

    char host[256];
    const char *colon = strrchr(o->listen, ':');
    size_t hl = colon ? (size_t)(colon - o->listen) : 0;
    if (!colon || hl >= sizeof host) {
        fprintf(stderr, "ref: --listen wants HOST:PORT\n");
        exit(2);
    }
    const char *h = o->listen;
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    struct addrinfo hints = {.ai_socktype = o->udp ? SOCK_DGRAM : SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "ref: %s: %s\n", o->listen, gai_strerror(rc));
        exit(2);
    }
    int type = (o->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC |
               (nonblocking ? SOCK_NONBLOCK : 0);
    int fd = socket(res->ai_family, type, 0);
    if (fd < 0)
        die("socket");
    int one = 1;
    if (!o->udp)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0)
        die("bind");
    freeaddrinfo(res);
    if (!o->udp && listen(fd, SOMAXCONN) < 0)
        die("listen");

    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        die("getsockname");
    char text[INET6_ADDRSTRLEN];
    int port;
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof text);
        port = ntohs(s6->sin6_port);
        printf("listening on [%s]:%d\n", text, port);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, text, sizeof text);
        port = ntohs(s4->sin_port);
        printf("listening on %s:%d\n", text, port);
    }
    fflush(stdout);
    return fd;
}

int ref_send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
