/* sockserv/threadpool.h - ThreadPoolMixIn: a fixed set of worker threads
 * and a bounded queue, and the four thread-pool servers.
 *
 * ThreadingMixIn starts a thread per request, so a burst of connections is
 * a burst of threads.  ThreadPoolMixIn runs requests on pool_workers
 * threads, started with the first request and kept until server_close();
 * process_request() only puts the request on a queue.  The pool holds at
 * most pool_workers + pool_queue_size requests (running or waiting); what
 * happens to one more is the server's choice, pool_when_full:
 *
 *   SS_POOL_WAIT (default): GLib's cap-and-pause.  When the pool is full the
 *     serving loop stops watching the listening socket, and starts again
 *     as soon as a worker finishes a request.  New clients wait in the
 *     kernel's listen backlog (request_queue_size); nobody is refused
 *     until the backlog overflows, and no thread is created per
 *     connection.  The loop itself stays free: shutdown() and
 *     service_actions() are as prompt as ever.  (handle_request(), which
 *     has no loop to pause, waits in process_request() for room.)
 *     Datagram servers: unread datagrams wait in the socket's receive
 *     buffer, and the kernel drops them when it is full.
 *   SS_POOL_REFUSE: the request is turned away at once: handle_busy() runs
 *     (a server overrides it to send a short "busy" reply; the default
 *     does nothing), then shutdown_request() closes the connection
 *     (drops the datagram).  For servers whose clients would rather retry
 *     elsewhere than queue.
 *
 * Attributes (ss_server fields, defaults set by configure):
 *   pool_workers    (8)   worker threads; 0 counts as 1
 *   pool_queue_size (64)  requests that may wait for a worker; 0: a request
 *                         is only taken when a worker is idle
 *   pool_when_full  (SS_POOL_WAIT)
 *   block_on_close  (true) see below
 *   daemon_threads  (false) like block_on_close = false
 * They are read when the first request starts the pool.
 *
 * server_close() first closes the listening socket, then
 *   - with block_on_close (drain): the workers run every queued request to
 *     its end and exit;
 *   - without it, or with daemon_threads (cancel): the queued requests are
 *     never run, shutdown_request() closes each of them on the closing
 *     thread, and the running requests' connections are shut down
 *     (SHUT_RDWR) so blocked reads return at once;
 * and in both cases it joins every worker before it returns: no thread
 * outlives the server struct.
 *
 * A handler that fails reaches handle_error() on its worker; a fatal error
 * (ss_error_fatal) skips handle_error() and ends only that request, as in
 * ThreadingMixIn.
 */
#ifndef SOCKSERV_THREADPOOL_H
#define SOCKSERV_THREADPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SS_POOL_WAIT = 0,   /* pause accepting until a worker is free */
    SS_POOL_REFUSE = 1, /* handle_busy(), then close the request */
};

extern const ss_mixin ss_threadpool_mixin;

extern const ss_server_class ss_threadpool_tcp_server_class;
extern const ss_server_class ss_threadpool_udp_server_class;
extern const ss_server_class ss_threadpool_unix_stream_server_class;
extern const ss_server_class ss_threadpool_unix_datagram_server_class;

/* The mixin's slots, for classes of your own:
 *   static const ss_server_class my_pool_x_server_class = {
 *       .base = &my_x_server_class, .name = "ThreadPoolXServer",
 *       SS_THREADPOOL_MIXIN_SLOTS };
 * process_request() is called on the serving thread; it returns 0 once
 * the request is queued or refused (the request then belongs to the pool),
 * or a negative code when the pool could not start (-EAGAIN from
 * pthread_create, -ENOMEM), in which case the caller still owns it. */
void ss_threadpool_mixin_configure(ss_server *self);
int ss_threadpool_mixin_process_request(ss_server *self, ss_request *req,
                                        const ss_addr *client, ss_error *err);
void ss_threadpool_mixin_server_close(ss_server *self);

#define SS_THREADPOOL_MIXIN_SLOTS                                              \
    .mixin = &ss_threadpool_mixin,                                             \
    .configure = ss_threadpool_mixin_configure,                                \
    .process_request = ss_threadpool_mixin_process_request,                    \
    .server_close = ss_threadpool_mixin_server_close

/* A snapshot of the pool, for tests, logs and a server's own policy. */
typedef struct ss_threadpool_stats {
    unsigned workers;      /* worker threads alive (0 before the first request) */
    unsigned running;      /* requests on a worker now */
    size_t queued;         /* requests waiting for a worker */
    unsigned long served;  /* requests run to their end */
    unsigned long refused; /* requests turned away (SS_POOL_REFUSE) */
    unsigned long pauses;  /* times accepting was paused (SS_POOL_WAIT) */
    bool paused;           /* accepting is paused now */
} ss_threadpool_stats;

/* Fills *out (zeros before the pool started or after close).  Any thread. */
void ss_threadpool_get_stats(ss_server *self, ss_threadpool_stats *out);

#ifdef __cplusplus
}
#endif
#endif
