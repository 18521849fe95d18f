/* tcp.c - TCPServer: a listening stream socket; every accepted connection
 * is a request. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sockserv/server.h>
#include <sockserv/tls.h>

#include "internal.h"

static void tcp_configure(ss_server *s)
{
    SS_SUPER(&ss_tcp_server_class, configure)(s);
    s->address_family = AF_UNSPEC; /* follow server_address */
    s->socket_type = SOCK_STREAM;
    s->request_queue_size = SOMAXCONN; /* CPython 3.15 (gh-80184) */
}

/* Python creates the socket in __init__, from address_family. */
static int tcp_init(ss_server *s, ss_error *err)
{
    int rc = SS_SUPER(&ss_tcp_server_class, init)(s, err);
    if (rc < 0)
        return rc;
    int family = ss_addr_family(&s->server_address);
    if (s->address_family == AF_UNSPEC)
        s->address_family = family;
    if (family != AF_UNSPEC && family != s->address_family)
        return ss_error_set(err, -EAFNOSUPPORT,
                            "%s: address family %d does not match the "
                            "server's %d", s->cls->name, family,
                            s->address_family);
    /* No address and no family: the socket comes later, inherited
     * (ss_server_adopt); binding without one fails in server_bind. */
    if (s->address_family == AF_UNSPEC)
        return 0;
    /* Non-blocking so a readable event that vanished (a client that reset
     * before accept) cannot block the loop; accepted sockets are blocking. */
    s->socket = socket(s->address_family,
                       s->socket_type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->socket < 0)
        return ss_error_errno(err, "socket");
    return 0;
}

static int tcp_server_bind(ss_server *s, ss_error *err)
{
    char text[SS_ADDRSTRLEN];
    int one = 1;
    if (s->socket < 0)
        return ss_error_set(err, -EDESTADDRREQ, "%s: no server address",
                            s->cls->name);
    if (s->allow_reuse_address &&
        setsockopt(s->socket, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        return ss_error_errno(err, "setsockopt SO_REUSEADDR");
    /* gh-128916: SO_REUSEPORT only means something for IP sockets, and
     * Linux 6.12.9+ refuses it on AF_UNIX. */
    if (s->allow_reuse_port &&
        (s->address_family == AF_INET || s->address_family == AF_INET6) &&
        setsockopt(s->socket, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        return ss_error_errno(err, "setsockopt SO_REUSEPORT");
    if (bind(s->socket, (struct sockaddr *)&s->server_address.sa,
             s->server_address.len) < 0)
        return ss_error_errno(err, "bind %s",
                              ss_addr_format(&s->server_address, text,
                                             sizeof text));
    /* The real address: the port the kernel chose when 0 was asked. */
    ss_addr bound;
    bound.len = sizeof bound.sa;
    if (getsockname(s->socket, (struct sockaddr *)&bound.sa, &bound.len) == 0 &&
        bound.len > 0)
        s->server_address = bound;
    return 0;
}

static int tcp_server_activate(ss_server *s, ss_error *err)
{
    char text[SS_ADDRSTRLEN];
    if (listen(s->socket, s->request_queue_size) < 0)
        return ss_error_errno(err, "listen %s",
                              ss_addr_format(&s->server_address, text,
                                             sizeof text));
    return 0;
}

static void tcp_server_close(ss_server *s)
{
    SS_SUPER(&ss_tcp_server_class, server_close)(s);
    ss__close(s->socket);
    s->socket = -1;
}

/* Accept errors are sorted here: what only means "nothing to take after
 * all" comes back as -EAGAIN; descriptor exhaustion and real failures come
 * back as themselves for the loop to deal with. */
static int tcp_get_request(ss_server *s, ss_request *req, ss_addr *client,
                           ss_error *err)
{
    for (;;) {
        client->len = sizeof client->sa;
        int fd = accept4(s->socket, (struct sockaddr *)&client->sa,
                         &client->len, SOCK_CLOEXEC);
        if (fd >= 0) {
            if (client->len == 0) /* an unbound unix peer: still a unix one */
                client->sa.ss_family = (sa_family_t)s->address_family;
            req->fd = fd;
            req->packet = NULL;
            req->packet_len = 0;
            return 0;
        }
        switch (errno) {
        case EINTR:
            continue;
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
        /* The connection died before we took it, or (Linux) a network
         * error of the new socket: nothing for us, the listener is fine. */
        case ECONNABORTED:
        case EPROTO:
        case ENETDOWN:
        case ENOPROTOOPT:
        case EHOSTDOWN:
        case ENONET:
        case EHOSTUNREACH:
        case ENETUNREACH:
        case EPERM: /* a firewall refused it */
            return -EAGAIN;
        default:
            return ss_error_errno(err, "accept");
        }
    }
}

/* SHUT_WR, not SHUT_RDWR: the client still reads all we queued, then EOF.
 * Errors (ENOTCONN when the peer is gone) do not matter here. */
static void tcp_shutdown_request(ss_server *s, ss_request *req)
{
    if (req->tls) /* close_notify before the FIN (tls.h) */
        ss_tls_conn_shutdown(req->tls);
    if (req->fd >= 0)
        shutdown(req->fd, SHUT_WR);
    s->vt.close_request(s, req);
}

static void tcp_close_request(ss_server *s, ss_request *req)
{
    (void)s;
    ss_tls_conn_free(req->tls);
    req->tls = NULL;
    free(req->proxy);
    req->proxy = NULL;
    ss__close(req->fd);
    req->fd = -1;
}

const ss_server_class ss_tcp_server_class = {
    .base = &ss_base_server_class,
    .name = "TCPServer",
    .configure = tcp_configure,
    .init = tcp_init,
    .server_bind = tcp_server_bind,
    .server_activate = tcp_server_activate,
    .get_request = tcp_get_request,
    .shutdown_request = tcp_shutdown_request,
    .close_request = tcp_close_request,
    .server_close = tcp_server_close,
};
