/* parked.h - a connection parked on the serving loop between accept and
 * the end of an asynchronous step of the request path (the PROXY header,
 * the implicit TLS handshake): the request, a poll on its socket and a
 * timer, on a list that the loop-ending hook empties.  Loop thread only.
 *
 * The record is the first member of a heap block of the step's own
 * (`struct pending { ss__parked park; ... }`), so the handles' data
 * pointer is also the block, and the last close callback frees it. */
#ifndef SOCKSERV_PARKED_H
#define SOCKSERV_PARKED_H

#include <uv.h>

#include "internal.h"

typedef struct ss__parked {
    struct ss__parked *next, **pprev;
    ss_server *server;
    ss_request req;
    ss_addr client;
    uv_poll_t poll;   /* on req.fd; data = the record */
    uv_timer_t timer; /* data = the record */
    int open_handles;
} ss__parked;

/* Parks req (copied; the caller's copy must no longer be used) on *list,
 * with a poll on req->fd and a timer on loop, neither started.  Returns 0,
 * or a libuv error with nothing parked (the block is still the caller's
 * to free). */
int ss__park(ss__parked *p, ss__parked **list, uv_loop_t *loop, ss_server *s,
             const ss_request *req, const ss_addr *client);

/* Takes the request back out, unlinks the record and closes its handles;
 * the block it starts is freed by the last close callback, so it must not
 * be used after this returns. */
ss_request ss__unpark(ss__parked *p);

#endif
