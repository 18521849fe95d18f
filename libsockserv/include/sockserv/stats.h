/* sockserv/stats.h - a server's live figures: requests, bytes, TLS
 * handshakes, kept by the library while it serves.
 *
 *     ss_stats st;
 *     ss_server_stats(&srv, &st);   // any thread, any time
 *     printf("%llu active\n", (unsigned long long)st.active);
 *
 * Every server counts, always: one relaxed atomic add per event, no lock.
 * The counters live in a MAP_SHARED anonymous mapping made by
 * ss_server_init(), so a ForkingMixIn child counts into the same figures
 * as its parent and a read in the parent sees what every child did.
 *
 * Each request taken by get_request (a connection accepted, a datagram
 * received) is counted once in `accepted` and then, at any moment, in
 * exactly one of `refused_verify`, `refused_limit`, `refused_proxy`,
 * `active` or `finished`:
 *
 *     accepted == refused_verify + refused_limit + refused_proxy + active
 *                 + finished
 *
 * holds whenever no request is between two of those steps (a reader on
 * another thread may see one request in flight between them).
 */
#ifndef SOCKSERV_STATS_H
#define SOCKSERV_STATS_H

#include <stdint.h>

#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A snapshot of one server's figures.  Counters only grow (until the
 * server is closed); `active` and `pool_queued` are gauges. */
typedef struct ss_stats {
    /* Requests taken by get_request: connections accepted, datagrams
     * received (a datagram is a request). */
    uint64_t accepted;
    /* Turned away by verify_request returning false. */
    uint64_t refused_verify;
    /* Turned away by a limit of the library: ThreadPoolMixIn with
     * SS_POOL_REFUSE and a full pool (handle_busy was called). */
    uint64_t refused_limit;
    /* Turned away by the PROXY stage (proxy.h) before verify_request: an
     * untrusted peer, a missing, malformed or late header. */
    uint64_t refused_proxy;
    /* Requests that ended, whatever way: their handler returned, failed,
     * the TLS handshake failed, process_request failed, an event
     * connection closed.  ForkingMixIn: when the parent reaps the child
     * (service_actions, every poll_interval; or waiting for room under
     * max_children), so a child that exits or is killed counts too. */
    uint64_t finished;
    /* Requests that ended with an error: a handler (setup, handle or
     * finish) returned one, fatal or not, or an event handler's callback
     * or its connection's I/O failed. */
    uint64_t handler_errors;
    /* Bytes the library moved for requests: what rfile read from and
     * wfile wrote to the transport (plaintext under TLS: application
     * bytes, not records), event-mode reads and writes, datagrams
     * received and replies sent.  Bytes a handler moves on its own
     * descriptors (an FTP data connection) are not here. */
    uint64_t bytes_in;
    uint64_t bytes_out;
    /* Server-side TLS handshakes (implicit TLS, STARTTLS; the event mode's
     * too) that completed /
     * failed (a timeout, a peer that left or spoke no TLS). */
    uint64_t tls_handshakes_ok;
    uint64_t tls_handshakes_failed;
    /* Gauge: requests verified and not yet finished (being handled,
     * queued, in a TLS handshake, open event connections). */
    uint64_t active;
    /* Gauge: ThreadPoolMixIn requests waiting for a worker; 0 otherwise. */
    uint64_t pool_queued;
} ss_stats;

/* Copies the figures of s into *out.  Any thread, any time between
 * ss_server_init() and ss_server_close(), also while serving; never blocks
 * (relaxed atomic reads: each figure is exact, the set is not one instant).
 * Returns 0, or -EBADF for a closed server (*out zeroed).
 *
 * A request of a class that overrides process_request without calling a
 * library implementation never counts as finished: it stays active. */
int ss_server_stats(const ss_server *s, ss_stats *out);

#ifdef __cplusplus
}
#endif
#endif
