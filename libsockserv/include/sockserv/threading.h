/* sockserv/threading.h - ThreadingMixIn and the four threading servers.
 *
 * process_request() runs each request on a thread of its own.  Attributes:
 *   daemon_threads (false): the thread is one server_close() may cut short;
 *   block_on_close (true):  server_close() waits for the requests to finish.
 *
 * C cannot let a thread outlive the server struct it uses, so
 * ss_server_close() always waits until every request thread has left the
 * library: with block_on_close it waits for them to finish, as Python joins
 * its threads; for daemon threads, or without block_on_close, it first shuts
 * their connections down (SHUT_RDWR) so blocked reads return at once, then
 * waits.  Finished threads are joined as new ones start and on every
 * service_actions(), so a long-running server keeps no dead threads
 * (CPython bpo-37193).
 *
 * thread_cache (0, as Python): with N > 0, up to N threads whose request
 * is done wait thread_cache_idle seconds (10) for the next request instead
 * of exiting, so a busy server does not pay for a thread per connection.
 * A request still has a thread to itself while it runs; what a handler
 * leaves in thread-local storage is seen by the next request on it.
 * server_close() ends the waiting threads at once.
 *
 * A handler that fails reaches handle_error() on its own thread; a fatal
 * error (ss_error_fatal) skips handle_error(), as a BaseException does in
 * Python, and only ends that request.
 */
#ifndef SOCKSERV_THREADING_H
#define SOCKSERV_THREADING_H

#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const ss_mixin ss_threading_mixin;

extern const ss_server_class ss_threading_tcp_server_class;
extern const ss_server_class ss_threading_udp_server_class;
extern const ss_server_class ss_threading_unix_stream_server_class;
extern const ss_server_class ss_threading_unix_datagram_server_class;

/* The mixin's slots, for classes of your own:
 *   static const ss_server_class my_threading_x_server_class = {
 *       .base = &my_x_server_class, .name = "ThreadingXServer",
 *       SS_THREADING_MIXIN_SLOTS };
 */
void ss_threading_mixin_configure(ss_server *self);
int ss_threading_mixin_process_request(ss_server *self, ss_request *req,
                                       const ss_addr *client, ss_error *err);
void ss_threading_mixin_service_actions(ss_server *self);
void ss_threading_mixin_server_close(ss_server *self);

#define SS_THREADING_MIXIN_SLOTS                                               \
    .mixin = &ss_threading_mixin,                                              \
    .configure = ss_threading_mixin_configure,                                 \
    .process_request = ss_threading_mixin_process_request,                     \
    .service_actions = ss_threading_mixin_service_actions,                     \
    .server_close = ss_threading_mixin_server_close

/* Request threads running now (started and not yet finished).  Any thread. */
size_t ss_threading_active_threads(ss_server *self);

/* Threads kept by thread_cache, waiting for a request now.  Any thread. */
size_t ss_threading_parked_threads(ss_server *self);

/* Gives back to the kernel the pages of the calling thread's stack below
 * the caller's frame (madvise MADV_DONTNEED), which the thread touched
 * once and would otherwise keep resident for its whole life.  Call it from
 * a request thread (or any thread made by pthread_create) that is about to
 * wait a long time after going deep, e.g. before an idle read: a session
 * that ran a KDF or a TLS handshake then holds two pages, not five.  Costs
 * one system call; the pages come back zero-filled when next used.
 * Affects only the calling thread.  Returns 0, -ENOTSUP on the process's
 * main thread (its stack grows on demand), or -errno. */
int ss_thread_release_stack(void);

#ifdef __cplusplus
}
#endif
#endif
