/* sockserv/server.h - BaseServer, TCPServer, UDPServer and the unix servers.
 *
 * The C form of Python's socketserver.  Pick a server class, give it a
 * request handler class, call ss_server_serve_forever():
 *
 *     ss_server srv;
 *     ss_addr addr;
 *     ss_error err;
 *     ss_addr_parse(&addr, "127.0.0.1:9999", &err);
 *     if (ss_server_init(&srv, &ss_threading_tcp_server_class, &addr,
 *                        &my_handler_class, SS_BIND_AND_ACTIVATE, &err) < 0)
 *         die(err.msg);
 *     ss_server_serve_forever(&srv, 0.5);
 *     ss_server_close(&srv);
 *
 * Class diagram (Python's; a mixin layer is a class whose .mixin is set):
 *
 *     BaseServer -> TCPServer -> UDPServer -> UnixDatagramServer
 *                       \------> UnixStreamServer
 *     ThreadingTCPServer = ThreadingMixIn layer over TCPServer, and so on for
 *     the 8 combined classes (threading.h, forking.h).
 *
 * The request path, each step a slot a class may override:
 *   get_request -> verify_request -> process_request -> finish_request
 *   -> (handler) setup/handle/finish -> shutdown_request -> close_request
 * handle_error gets every non-fatal error of a request, with its address.
 *
 * Structs are caller-allocated: ss_server_init() then ss_server_close().
 * Embed ss_server first in a struct of your own to add state (cast back).
 */
#ifndef SOCKSERV_SERVER_H
#define SOCKSERV_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "address.h"
#include "class.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ss_server ss_server;
typedef struct ss_server_class ss_server_class;
typedef struct ss_handler_class ss_handler_class;
typedef struct ss_mixin ss_mixin;
struct ss_server_priv;

/* One request.  Stream servers: fd is the accepted connection, owned by the
 * request until close_request() closes it.  Datagram servers: fd is the
 * server's socket (borrowed, never closed by the request) and packet holds
 * the datagram (owned by the request, freed by close_request()).  Python's
 * (data, socket) tuple.  tls: a stream request's TLS connection once it has
 * one (implicit TLS or STARTTLS, tls.h), owned by the request like fd:
 * shutdown_request() sends its close_notify, close_request() frees it.
 * proxy: what a balancer's PROXY header said (proxy.h), NULL without one;
 * owned by the request, freed by close_request(). */
typedef struct ss_request {
    int fd;
    unsigned char *packet;
    size_t packet_len;
    struct ss_tls_conn *tls;
    struct ss_proxy_info *proxy;
} ss_request;

/* A server class.  Every slot may be NULL (inherit).  Who calls what:
 *  - the library calls every slot through the instance's resolved vtable;
 *  - a user calls the public ss_server_* wrappers below (virtual calls);
 *  - an override calls SS_SUPER(&its_own_class, slot). */
struct ss_server_class {
    const ss_server_class *base; /* first: see class.h */
    const char *name;            /* "ThreadingTCPServer" */
    const ss_mixin *mixin;       /* set on a mixin layer (SS_*_MIXIN_SLOTS) */

    /* Class attributes: set the defaults of the instance's attribute fields.
     * Extend it (call super first, then set yours) where Python would set a
     * class attribute: `allow_reuse_address = True`. */
    void (*configure)(ss_server *self);
    /* Python's __init__ body after the attributes: TCPServer creates the
     * socket here.  Extend it, calling super first. */
    int (*init)(ss_server *self, ss_error *err);

    int (*server_bind)(ss_server *self, ss_error *err);
    int (*server_activate)(ss_server *self, ss_error *err);
    /* Fills *req and *client.  Returns 0, -EAGAIN when there was nothing to
     * take after all, or another negative code. */
    int (*get_request)(ss_server *self, ss_request *req, ss_addr *client,
                       ss_error *err);
    bool (*verify_request)(ss_server *self, ss_request *req,
                           const ss_addr *client);
    int (*process_request)(ss_server *self, ss_request *req,
                           const ss_addr *client, ss_error *err);
    int (*finish_request)(ss_server *self, ss_request *req,
                          const ss_addr *client, ss_error *err);
    void (*shutdown_request)(ss_server *self, ss_request *req);
    void (*close_request)(ss_server *self, ss_request *req);
    /* Default: Python's report on stderr (40 dashes, the client address, the
     * error).  Called on the thread (or in the child) that ran the request. */
    void (*handle_error)(ss_server *self, ss_request *req,
                         const ss_addr *client, const ss_error *err);
    /* An accept/recv error that is neither retriable (EINTR, EAGAIN,
     * ECONNABORTED) nor descriptor exhaustion.  Default: one line on stderr.
     * Python drops these silently; this hook lets a server log them. */
    void (*handle_accept_error)(ss_server *self, const ss_error *err);
    /* handle_request() found no request within timeout.  Its return value
     * becomes handle_request()'s. */
    int (*handle_timeout)(ss_server *self);
    /* Called by serve_forever() after each request and every poll_interval. */
    void (*service_actions)(ss_server *self);
    void (*server_close)(ss_server *self);
    /* The descriptor serve_forever() watches. */
    int (*fileno)(ss_server *self);
    /* A mixin with a bounded capacity (ThreadPoolMixIn with
     * SS_POOL_REFUSE) turns this request away: called on the serving thread
     * just before shutdown_request(), so a server can send a short "busy"
     * reply first.  Must not block for long.  Default: nothing. */
    void (*handle_busy)(ss_server *self, ss_request *req,
                        const ss_addr *client);

    ss_slot_fn reserved[5]; /* room to grow without breaking the ABI */
};

/* A server.  Caller-allocated.  Fields marked read-only are set by the
 * library; attributes may be changed between ss_server_init() without
 * SS_BIND_AND_ACTIVATE and ss_server_bind_and_activate(). */
struct ss_server {
    void *data; /* the user's */

    /* read-only */
    const ss_server_class *cls;
    const ss_handler_class *handler_class; /* Python's RequestHandlerClass */
    ss_addr server_address; /* after bind: the bound address (real port) */
    int socket;             /* the server's descriptor; -1 when closed */

    /* attributes (Python class attributes; defaults set by configure) */
    int address_family;       /* AF_INET, AF_INET6 or AF_UNIX; taken from
                                 the address for TCP/UDP servers */
    int socket_type;          /* SOCK_STREAM or SOCK_DGRAM */
    int request_queue_size;   /* listen() backlog; SOMAXCONN */
    bool allow_reuse_address; /* SO_REUSEADDR */
    bool allow_reuse_port;    /* SO_REUSEPORT, IP sockets only */
    double timeout;           /* handle_request() timeout in s; < 0: None */
    size_t max_packet_size;   /* datagram servers: 8192 */
    /* mixin attributes (threading.h, forking.h, threadpool.h) */
    bool daemon_threads;
    bool block_on_close;
    unsigned max_children;
    unsigned pool_workers;    /* ThreadPoolMixIn: worker threads */
    unsigned pool_queue_size; /* ThreadPoolMixIn: requests that may wait */
    int pool_when_full;       /* ThreadPoolMixIn: SS_POOL_WAIT or _REFUSE */
    unsigned thread_cache;    /* ThreadingMixIn: finished threads kept to
                                 run the next requests (0: none, as Python) */
    double thread_cache_idle; /* ThreadingMixIn: s a kept thread waits */

    /* private */
    ss_server_class vt; /* the class with every slot resolved */
    struct ss_server_priv *priv;
};

#define SS_BIND_AND_ACTIVATE 0x1u

extern const ss_server_class ss_base_server_class;
extern const ss_server_class ss_tcp_server_class;
extern const ss_server_class ss_udp_server_class;
extern const ss_server_class ss_unix_stream_server_class;
extern const ss_server_class ss_unix_datagram_server_class;

/* --- for the caller ---------------------------------------------------- */

/* Initialises *self as an instance of cls serving server_address with
 * handler_class: resolves the vtables, runs configure and init, and with
 * SS_BIND_AND_ACTIVATE also server_bind and server_activate.  When any step
 * fails the server is closed again (server_close, so no descriptor leaks)
 * and the error returned; *self then needs no ss_server_close().
 * server_address and handler_class are copied / borrowed (the handler class
 * must outlive the server).  Not thread-safe on the same *self. */
int ss_server_init(ss_server *self, const ss_server_class *cls,
                   const ss_addr *server_address,
                   const ss_handler_class *handler_class, unsigned flags,
                   ss_error *err);

/* server_bind then server_activate, closing the server when either fails
 * (the second half of ss_server_init with SS_BIND_AND_ACTIVATE). */
int ss_server_bind_and_activate(ss_server *self, ss_error *err);

/* Handles requests until ss_server_shutdown().  Runs a libuv loop of its
 * own on the calling thread; poll_interval (s) is only the period of
 * service_actions, never a shutdown delay.  Returns 0 after a shutdown, the
 * code of a fatal error (a handler's ss_error_fatal() on a sync server),
 * -EBADF for a closed server, or -ENOMEM / a libuv error when the loop could
 * not be set up.
 * At most one thread may serve a server at a time (-EBUSY otherwise). */
int ss_server_serve_forever(ss_server *self, double poll_interval);

/* Asks serve_forever() to stop and waits until it has returned.  Any
 * thread.  Like Python, called before serve_forever() starts it waits for it
 * to start (and stop at once); called after it returned it returns at once
 * and the next serve_forever() returns at once.  Called on the thread that
 * runs serve_forever() (a sync server's handler), it cannot wait for itself:
 * it asks for the stop, returns 0 at once, and serve_forever() returns when
 * the current request is done.  Python deadlocks there.  A server attached
 * to the caller's loop is stopped with ss_server_detach(): shutdown returns
 * -EINVAL for it. */
int ss_server_shutdown(ss_server *self);

/* Handles one request, waiting at most self->timeout for it (none when < 0).
 * Returns 0 when the server's descriptor was ready (a request was handled
 * or refused, or taking it failed: that went to handle_accept_error or, on
 * descriptor exhaustion, nowhere), handle_timeout()'s
 * result when none came in time, or a fatal error's code.  Not while
 * serve_forever() runs. */
int ss_server_handle_request(ss_server *self);

/* Closes the server (virtual: cls->server_close).  Idempotent.  Mixins wait
 * for their requests here (threading.h, forking.h), and it waits for any
 * ss_server_shutdown() still returning on another thread; afterwards the
 * struct may be freed.  Not while serve_forever() runs. */
void ss_server_close(ss_server *self);

/* Stops accepting for good while the loop keeps running: the listening
 * socket is no longer watched (but stays open, so a process that shares it,
 * the new one of an upgrade (upgrade.h) or a prefork sibling, takes every
 * connection still in the backlog), and the requests already taken go on:
 * threads, children, pool workers and event connections finish as usual.
 * Then shut down and close as usual.  Any thread.  Returns 0, or -EBADF
 * for a closed server. */
int ss_server_stop_accepting(ss_server *self);

/* The descriptor to watch (virtual), -1 after close. */
int ss_server_fileno(ss_server *self);

/* Watches the server from a libuv loop the caller runs (uv_loop_t *, typed
 * void * so this header does not need uv.h): several servers can share one
 * loop, as Python users do with fileno() and selectors.  Each readable event
 * handles what is ready (up to 8 requests, as serve_forever does);
 * service_actions runs every poll_interval.  A fatal error of a sync handler
 * cannot stop the caller's loop: it ends that request only.
 * ss_server_detach() stops watching; it must be called (on the loop's
 * thread) before ss_server_close().  Returns 0, -EBUSY if already attached
 * or serving, -EINVAL without a loop, -EBADF for a closed server, or a
 * libuv error. */
int ss_server_attach(ss_server *self, void *uv_loop, double poll_interval);
void ss_server_detach(ss_server *self);

/* --- the steps: virtual calls, for derived classes and mixins --------- */

int ss_server_server_bind(ss_server *self, ss_error *err);
int ss_server_server_activate(ss_server *self, ss_error *err);
int ss_server_get_request(ss_server *self, ss_request *req, ss_addr *client,
                          ss_error *err);
bool ss_server_verify_request(ss_server *self, ss_request *req,
                              const ss_addr *client);
int ss_server_process_request(ss_server *self, ss_request *req,
                              const ss_addr *client, ss_error *err);
int ss_server_finish_request(ss_server *self, ss_request *req,
                             const ss_addr *client, ss_error *err);
void ss_server_shutdown_request(ss_server *self, ss_request *req);
void ss_server_close_request(ss_server *self, ss_request *req);
void ss_server_handle_error(ss_server *self, ss_request *req,
                            const ss_addr *client, const ss_error *err);
int ss_server_handle_timeout(ss_server *self);
void ss_server_service_actions(ss_server *self);
void ss_server_handle_busy(ss_server *self, ss_request *req,
                           const ss_addr *client);

/* The class a mixin was mixed into for this instance: the base of the first
 * class in self's chain whose .mixin is `mixin`.  A mixin's super call goes
 * through it, so it reaches TCPServer under ThreadingTCPServer, also when a
 * user derives from ThreadingTCPServer.  NULL if the mixin is not there. */
const ss_server_class *ss_server_mixin_base(const ss_server *self,
                                            const ss_mixin *mixin);

/* SS_MIXIN_SUPER(self, mixin, slot): the slot of the class `mixin` was mixed
 * into. */
#define SS_MIXIN_SUPER(self, mixin, slot)                                      \
    ((__typeof__(((ss_server_class *)0)->slot))ss_class_lookup(                \
        ss_server_mixin_base((self), (mixin)), offsetof(ss_server_class, slot)))

/* A mixin: only a name, used to find the layer it was mixed into. */
struct ss_mixin {
    const char *name;
};

#ifdef __cplusplus
}
#endif
#endif
