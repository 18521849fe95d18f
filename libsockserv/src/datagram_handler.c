/* datagram_handler.c - DatagramRequestHandler: rfile over the packet, a
 * wfile in memory that finish() sends back to the client. */
#include <errno.h>
#include <sys/socket.h>

#include <sockserv/handler.h>

#include "internal.h"

/* The largest UDP payload over IPv4. */
#define MAX_REPLY 65507

static int dgram_setup(ss_handler *h, ss_error *err)
{
    int rc = SS_SUPER(&ss_datagram_request_handler_class, setup)(h, err);
    if (rc < 0)
        return rc;
    ss_datagram_handler *dh = (ss_datagram_handler *)h;
    dh->packet = h->request->packet;
    dh->packet_len = h->request->packet_len;
    dh->socket = h->request->fd;
    ss_rfile_init_mem(&dh->rfile, dh->packet, dh->packet_len);
    size_t limit = h->server->max_packet_size > MAX_REPLY
                       ? h->server->max_packet_size : MAX_REPLY;
    if ((rc = ss_wfile_init_mem(&dh->wfile, limit)) < 0)
        return ss_error_set(err, rc, "wfile: %s", ss_strerror(rc));
    return 0;
}

/* Always sends, even nothing: an empty reply is a zero-length datagram,
 * as in Python. */
static int dgram_finish(ss_handler *h, ss_error *err)
{
    int rc = SS_SUPER(&ss_datagram_request_handler_class, finish)(h, err);
    if (rc < 0)
        return rc;
    ss_datagram_handler *dh = (ss_datagram_handler *)h;
    char text[SS_ADDRSTRLEN];
    if (h->client_address.len == 0)
        return ss_error_set(err, -EDESTADDRREQ,
                            "reply: the client has no address to answer "
                            "(bind the client socket)");
    size_t len;
    const void *data = ss_wfile_getvalue(&dh->wfile, &len);
    ssize_t n;
    do
        n = sendto(dh->socket, data, len, MSG_NOSIGNAL,
                   (const struct sockaddr *)&h->client_address.sa,
                   h->client_address.len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return ss_error_errno(err, "sendto %s",
                              ss_addr_format(&h->client_address, text,
                                             sizeof text));
    ss__count(h->server, SS__BYTES_OUT, (uint64_t)n);
    return 0;
}

void ss__datagram_handler_release(ss_handler *h)
{
    ss_datagram_handler *dh = (ss_datagram_handler *)h;
    ss_wfile_close(&dh->wfile);
    ss_rfile_close(&dh->rfile);
}

const ss_handler_class ss_datagram_request_handler_class = {
    .base = &ss_base_request_handler_class,
    .name = "DatagramRequestHandler",
    .instance_size = sizeof(ss_datagram_handler),
    .setup = dgram_setup,
    .finish = dgram_finish,
};
