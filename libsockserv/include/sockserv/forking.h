/* sockserv/forking.h - ForkingMixIn and the four forking servers.
 *
 * process_request() forks; the child runs the request and exits with 0 when
 * finish_request succeeded and 1 otherwise (handle_error runs in the child;
 * a fatal error skips it).  The parent closes its copy of the request.
 * Attributes:
 *   timeout (300 s), max_children (40), block_on_close (true): server_close()
 *   waits for the children.
 * Children are reaped with waitpid(pid, WNOHANG) over the server's own pids
 * only, when SIGCHLD reaches the loop, in service_actions and handle_timeout;
 * never waitpid(-1), which would steal the children of the rest of the
 * program.  max_children is a hard cap: process_request() waits for the
 * oldest child to exit before forking one more (Python only reaps down to it
 * later); 0 means no cap.
 */
#ifndef SOCKSERV_FORKING_H
#define SOCKSERV_FORKING_H

#include <stdbool.h>
#include <stddef.h>

#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const ss_mixin ss_forking_mixin;

extern const ss_server_class ss_forking_tcp_server_class;
extern const ss_server_class ss_forking_udp_server_class;
extern const ss_server_class ss_forking_unix_stream_server_class;
extern const ss_server_class ss_forking_unix_datagram_server_class;

void ss_forking_mixin_configure(ss_server *self);
int ss_forking_mixin_process_request(ss_server *self, ss_request *req,
                                     const ss_addr *client, ss_error *err);
int ss_forking_mixin_handle_timeout(ss_server *self);
void ss_forking_mixin_service_actions(ss_server *self);
void ss_forking_mixin_server_close(ss_server *self);

#define SS_FORKING_MIXIN_SLOTS                                                 \
    .mixin = &ss_forking_mixin,                                                \
    .configure = ss_forking_mixin_configure,                                   \
    .process_request = ss_forking_mixin_process_request,                       \
    .handle_timeout = ss_forking_mixin_handle_timeout,                         \
    .service_actions = ss_forking_mixin_service_actions,                       \
    .server_close = ss_forking_mixin_server_close

/* Reaps exited children; with blocking, waits until all have exited.
 * Returns how many are still running.  The serving thread only. */
size_t ss_forking_collect_children(ss_server *self, bool blocking);

/* Python's active_children: copies up to cap pids into pids (may be NULL)
 * and returns how many children are running.  The serving thread only. */
size_t ss_forking_active_children(ss_server *self, pid_t *pids, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
