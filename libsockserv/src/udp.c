/* udp.c - UDPServer: every datagram is a request, (packet, server socket). */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <sockserv/server.h>

#include "internal.h"

static void udp_configure(ss_server *s)
{
    SS_SUPER(&ss_udp_server_class, configure)(s);
    s->socket_type = SOCK_DGRAM;
    s->allow_reuse_address = false;
    s->allow_reuse_port = false;
    s->max_packet_size = 8192;
}

static int udp_server_activate(ss_server *s, ss_error *err)
{
    (void)s;
    (void)err;
    return 0; /* no listen() for datagrams */
}

/* The packet is the request's own memory: a threading or forking server
 * hands it to another thread or process, and close_request frees it.  A
 * datagram longer than max_packet_size is cut, as in Python. */
static int udp_get_request(ss_server *s, ss_request *req, ss_addr *client,
                           ss_error *err)
{
    size_t cap = s->max_packet_size ? s->max_packet_size : 1;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return ss_error_set(err, -ENOMEM, "recvfrom: out of memory");
    for (;;) {
        client->len = sizeof client->sa;
        ssize_t n = recvfrom(s->socket, buf, cap, 0,
                             (struct sockaddr *)&client->sa, &client->len);
        if (n >= 0) {
            if (client->len == 0) /* an unbound unix peer: still a unix one */
                client->sa.ss_family = (sa_family_t)s->address_family;
            req->fd = s->socket;
            req->packet = buf;
            req->packet_len = (size_t)n;
            ss__count(s, SS__BYTES_IN, (uint64_t)n);
            return 0;
        }
        if (errno == EINTR)
            continue;
        int code = errno == EAGAIN || errno == EWOULDBLOCK ||
                           errno == ECONNREFUSED /* an ICMP error queued */
                       ? -EAGAIN
                       : ss_error_errno(err, "recvfrom");
        free(buf);
        return code;
    }
}

static void udp_shutdown_request(ss_server *s, ss_request *req)
{
    s->vt.close_request(s, req);
}

/* The socket is shared by every request: only the packet is ours. */
static void udp_close_request(ss_server *s, ss_request *req)
{
    (void)s;
    free(req->packet);
    req->packet = NULL;
    req->packet_len = 0;
}

const ss_server_class ss_udp_server_class = {
    .base = &ss_tcp_server_class,
    .name = "UDPServer",
    .configure = udp_configure,
    .server_activate = udp_server_activate,
    .get_request = udp_get_request,
    .shutdown_request = udp_shutdown_request,
    .close_request = udp_close_request,
};
