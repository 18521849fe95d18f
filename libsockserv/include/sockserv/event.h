/* sockserv/event.h - EventMixIn: callback-style handlers on the serving
 * loop, for servers that hold many thousands of mostly idle connections on
 * one thread; and the four event servers.
 *
 * Design.  serve_forever() already runs a libuv loop that watches the
 * listening socket and calls get_request -> verify_request ->
 * process_request.  EventMixIn is a mixin layer like ThreadingMixIn, and
 * like it changes one step: its process_request() hands the accepted
 * descriptor to a libuv stream (uv_tcp_t, or uv_pipe_t for unix sockets)
 * on that same loop, calls on_connect, and returns.  From then on the
 * loop calls the handler when something happens on the connection:
 * on_data with the bytes read, on_eof when the peer has finished sending,
 * on_drain when buffered output has gone out, on_timer, on_close.  So the
 * server classes, verify_request, handle_error, serve_forever, shutdown and
 * server_close are the core's, unchanged; only where a request runs
 * differs (sync: the loop thread, blocking; threading: a thread; event:
 * the loop thread, never blocking).
 *
 * Memory per connection is one block: the libuv handle, a few counters and
 * the handler instance (instance_size).  An idle connection has no read
 * buffer: reads go into one buffer per server, lent for the duration of a
 * read callback (libuv's alloc_cb) and reused by the next connection that
 * has data; on_data must copy what it keeps.  Output that the socket does
 * not take at once is copied into a queue of its own.
 *
 * Backpressure.  ss_event_write() sends at once what the socket accepts and
 * queues the rest.  When a connection's queue reaches high_water the
 * server stops reading from that connection (so a peer that sends but does
 * not read stops being read, and its own sends then block in its kernel),
 * and starts again, calling on_drain, once the queue is down to low_water.
 * A write that could take the queue beyond write_limit (queued + len >
 * write_limit) fails with SS_EFULL and sends nothing: for handlers that
 * write without being driven by reads (a timer), the bound holds too.
 *
 * Datagram servers: each datagram is a short-lived "connection":
 * configure, on_connect, on_data (the whole datagram), on_close, all
 * within process_request; ss_event_write() sends a datagram back to the
 * sender at once (never queued).  Timers are for stream connections.
 *
 * Errors.  A callback returns 0 or a negative code (filling err if it
 * likes).  A failing callback, or a read/write error of the connection
 * (ECONNRESET), goes to the server's handle_error() with the connection's
 * descriptor and address, and the connection is closed at once (on_close
 * still runs).  A fatal error (ss_error_fatal) skips handle_error and
 * stops serve_forever(), which returns its code, as a sync server's does.
 *
 * Shutdown.  ss_server_shutdown() stops the loop as for any server; before
 * serve_forever() returns, every connection is closed (pending output is
 * dropped; on_close runs on the serving thread).  So serve_forever()
 * returning means the handlers are done, and server_close() has only the
 * listening socket left to close.  With ss_server_attach(), the same
 * happens at ss_server_detach(); the on_close calls then run on the
 * caller's loop's next iteration, which must happen before
 * ss_server_close().
 *
 * TLS.  ss_server_set_tls() and ss_event_start_tls() (tls.h) put TLS under
 * a connection; it runs on the loop over memory BIOs and handlers see
 * plaintext through the same callbacks (with implicit TLS, on_connect
 * comes once the handshake is done).
 *
 * Threads.  Every ss_event_* call below is for the serving loop's thread
 * (inside the callbacks), except ss_event_connections().
 */
#ifndef SOCKSERV_EVENT_H
#define SOCKSERV_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "address.h"
#include "class.h"
#include "error.h"
#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ss_event_handler ss_event_handler;
typedef struct ss_event_handler_class ss_event_handler_class;

/* An event handler class: every slot may be NULL (inherit); the root,
 * ss_event_handler_base_class, defines them all.  Resolved once per server
 * (at ss_event_server_init). */
struct ss_event_handler_class {
    const ss_event_handler_class *base; /* first: see class.h */
    const char *name;
    size_t instance_size; /* >= sizeof(ss_event_handler); 0: inherit */

    /* Per-connection attributes (high_water, ...): extend, super first. */
    void (*configure)(ss_event_handler *self);
    /* The connection is accepted and verified.  Default: nothing. */
    int (*on_connect)(ss_event_handler *self, ss_error *err);
    /* len (> 0) bytes arrived; `data` is lent until the call returns.
     * Default: discards them. */
    int (*on_data)(ss_event_handler *self, const unsigned char *data,
                   size_t len, ss_error *err);
    /* The peer has shut down its sending side.  Default: ss_event_close()
     * (queued output is still sent, then the connection closes), as a
     * StreamRequestHandler's handle() returns at EOF. */
    int (*on_eof)(ss_event_handler *self, ss_error *err);
    /* The write queue went down to low_water after reaching high_water;
     * reading has resumed.  Default: nothing. */
    int (*on_drain)(ss_event_handler *self, ss_error *err);
    /* The connection's timer fired (ss_event_timer_start).  Default:
     * nothing. */
    int (*on_timer)(ss_event_handler *self, ss_error *err);
    /* The connection is closed (descriptor gone); the instance is freed
     * right after.  Always called once for every on_connect. */
    void (*on_close)(ss_event_handler *self);

    ss_slot_fn reserved[4];
};

/* One connection's handler instance.  Embed it first in a struct of your
 * own (instance_size) to add state; the block is zeroed before configure. */
struct ss_event_handler {
    const ss_event_handler_class *cls; /* read-only: the class it was made of */
    ss_server *server;                 /* borrowed */
    ss_addr client_address;
    void *data; /* the user's */
    bool datagram; /* read-only: a datagram server's one-datagram handler */

    /* attributes (configure; defaults in brackets) */
    size_t high_water;  /* [64 KiB] queued output that pauses reading */
    size_t low_water;   /* [16 KiB] queued output that resumes it */
    size_t write_limit; /* [4 MiB] queued output beyond which writes fail */
    bool disable_nagle_algorithm; /* [false] TCP_NODELAY (TCP only) */
};

extern const ss_event_handler_class ss_event_handler_base_class;

extern const ss_mixin ss_event_mixin;

extern const ss_server_class ss_event_tcp_server_class;
extern const ss_server_class ss_event_udp_server_class;
extern const ss_server_class ss_event_unix_stream_server_class;
extern const ss_server_class ss_event_unix_datagram_server_class;

/* The mixin's slots, for classes of your own (as SS_THREADING_MIXIN_SLOTS).
 * process_request() runs on the serving loop's thread (serve_forever or
 * attach).  handle_request() has no loop to keep a connection on: there it
 * serves datagrams, and refuses a stream connection with -EOPNOTSUPP
 * (handle_error, then the connection is closed). */
int ss_event_mixin_init(ss_server *self, ss_error *err);
int ss_event_mixin_process_request(ss_server *self, ss_request *req,
                                   const ss_addr *client, ss_error *err);
void ss_event_mixin_server_close(ss_server *self);

#define SS_EVENT_MIXIN_SLOTS                                                   \
    .mixin = &ss_event_mixin,                                                  \
    .init = ss_event_mixin_init,                                               \
    .process_request = ss_event_mixin_process_request,                         \
    .server_close = ss_event_mixin_server_close

/* ss_server_init() for a class with EventMixIn: the same, with an event
 * handler class instead of a request handler class (borrowed; it must
 * outlive the server).  -EINVAL when cls has no EventMixIn. */
int ss_event_server_init(ss_server *self, const ss_server_class *cls,
                         const ss_addr *server_address,
                         const ss_event_handler_class *handler_class,
                         unsigned flags, ss_error *err);

/* Sends len bytes (copied; the caller keeps buf).  Returns 0, SS_ECLOSED
 * after ss_event_close() or on a closed connection, SS_EFULL when queued +
 * len > write_limit (nothing is sent then), -ENOMEM, or the
 * socket's error (the connection is then failing: return the code from
 * the callback).  Datagram handlers: sendto() the sender, -EAGAIN when the
 * socket buffer is full (the datagram is dropped). */
int ss_event_write(ss_event_handler *self, const void *buf, size_t len);

/* Bytes queued and not yet taken by the socket. */
size_t ss_event_buffered(const ss_event_handler *self);

/* Closes after the queued output has been sent (shutdown(SHUT_WR) then
 * close); no more callbacks but on_close.  Idempotent. */
void ss_event_close(ss_event_handler *self);

/* Closes at once, dropping queued output; then on_close.  Idempotent. */
void ss_event_abort(ss_event_handler *self);

/* (Re)arms the connection's one timer: on_timer after timeout_ms, then
 * every repeat_ms (0: once).  The timer's memory is taken on first use.
 * Returns 0, SS_ECLOSED when closing, -EINVAL on a datagram handler. */
int ss_event_timer_start(ss_event_handler *self, uint64_t timeout_ms,
                         uint64_t repeat_ms);
void ss_event_timer_stop(ss_event_handler *self);

/* Connections open now (accepted, on_close not yet run).  Any thread. */
size_t ss_event_connections(ss_server *server);

#ifdef __cplusplus
}
#endif
#endif
