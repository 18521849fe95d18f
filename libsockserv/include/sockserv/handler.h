/* sockserv/handler.h - BaseRequestHandler, StreamRequestHandler,
 * DatagramRequestHandler.
 *
 * finish_request() makes one handler instance per request: it allocates
 * cls->instance_size zeroed bytes, fills request, client_address and server,
 * runs configure (class attributes), then setup; when setup succeeds, handle
 * and then finish (always, like Python's try/finally).  The request's error is
 * finish's if handle succeeded, else handle's.  The instance is freed after.
 *
 * A handler of your own embeds the class's instance struct first:
 *
 *     typedef struct { ss_stream_handler base; size_t lines; } echo_handler;
 *     static int echo_handle(ss_handler *h, ss_error *err) {
 *         ss_stream_handler *sh = (ss_stream_handler *)h;
 *         char line[1024];
 *         ssize_t n;
 *         while ((n = ss_rfile_readline(&sh->rfile, line, sizeof line)) > 0)
 *             if ((n = ss_wfile_write(&sh->wfile, line, (size_t)n)) < 0)
 *                 break;
 *         return n < 0 ? ss_error_set(err, (int)n, "echo: %s",
 *                                     ss_strerror((int)n)) : 0;
 *     }
 *     const ss_handler_class echo_handler_class = {
 *         .base = &ss_stream_request_handler_class, .name = "EchoHandler",
 *         .instance_size = sizeof(echo_handler), .handle = echo_handle };
 *
 * When setup fails, neither handle nor finish runs: a setup override that
 * takes a resource after calling super must release it on its own failure
 * path (finish will not).  The base classes' rfile/wfile are released
 * whatever happens.
 *
 * Handlers run on the thread (or in the child) of their request; the server
 * and its attributes may be read there, not changed.
 */
#ifndef SOCKSERV_HANDLER_H
#define SOCKSERV_HANDLER_H

#include <stdbool.h>
#include <stddef.h>

#include "address.h"
#include "class.h"
#include "error.h"
#include "server.h"
#include "sockfile.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ss_handler ss_handler;

struct ss_handler_class {
    const ss_handler_class *base; /* first: see class.h */
    const char *name;
    size_t instance_size; /* 0: inherit */

    /* Class attributes (rbufsize, timeout, ...): extend, calling super first. */
    void (*configure)(ss_handler *self);
    int (*setup)(ss_handler *self, ss_error *err);
    int (*handle)(ss_handler *self, ss_error *err);
    int (*finish)(ss_handler *self, ss_error *err);

    ss_slot_fn reserved[4];
};

struct ss_handler {
    const ss_handler_class *cls; /* read-only: the class it was made of */
    ss_server *server;           /* borrowed */
    ss_request *request;         /* borrowed; owned by the server */
    ss_addr client_address;
    void *data; /* the user's */
};

typedef struct ss_stream_handler {
    ss_handler base;
    int connection;         /* the request's descriptor (borrowed) */
    ss_transport transport; /* plain; rfile/wfile use *io */
    ss_transport *io;       /* the transport in use (TLS swaps it) */
    struct ss_tls_conn *tls; /* the TLS connection in use, NULL: plain;
                                borrowed from the request (tls.h) */
    ss_rfile rfile;
    ss_wfile wfile;
    /* attributes (configure) */
    long rbufsize;   /* -1: buffered (8192); 0: unbuffered */
    long wbufsize;   /* 0: unbuffered, every write sent at once */
    double timeout;  /* per-connection send/recv timeout in s; < 0: none */
    bool disable_nagle_algorithm; /* TCP_NODELAY: TCP only; on a unix
                                     socket setup fails, as in Python */
} ss_stream_handler;

typedef struct ss_datagram_handler {
    ss_handler base;
    const unsigned char *packet; /* borrowed from the request */
    size_t packet_len;
    int socket; /* the server's socket (borrowed) */
    ss_rfile rfile; /* over the packet */
    ss_wfile wfile; /* sent back to client_address in finish() */
} ss_datagram_handler;

extern const ss_handler_class ss_base_request_handler_class;
extern const ss_handler_class ss_stream_request_handler_class;
extern const ss_handler_class ss_datagram_request_handler_class;

/* Runs one request through handler class cls (resolved with its bases):
 * what finish_request() does.  Exposed for servers that drive handlers
 * themselves.  Thread-safe for distinct requests. */
int ss_handler_run(ss_server *server, const ss_handler_class *cls,
                   ss_request *req, const ss_addr *client, ss_error *err);

#ifdef __cplusplus
}
#endif
#endif
