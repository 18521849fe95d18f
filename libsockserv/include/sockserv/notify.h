/* sockserv/notify.h - telling a service manager how the server is doing:
 * the sd_notify protocol, without libsystemd.
 *
 * systemd (Type=notify) passes $NOTIFY_SOCKET, a unix datagram socket
 * ("/path", or "@name" for an abstract one); each message is one datagram
 * of newline-separated KEY=VALUE lines: READY=1 once serving, RELOADING=1
 * around a reload, STOPPING=1 on shutdown, WATCHDOG=1 as a keep-alive when
 * $WATCHDOG_USEC asks for one.  The same socket is how a new process tells
 * the old one it is ready during an upgrade (upgrade.h).
 *
 * Without $NOTIFY_SOCKET every call does nothing and returns 0, so a program
 * calls them unconditionally and runs the same with or without systemd.
 *
 *     ss_notifier n;
 *     ss_notifier_init(&n, 0, &err);     // reads and unsets the variables
 *     ...bind, start serving...
 *     ss_notify_ready(&n, "serving", &err);
 *     ...every poll_interval: ss_notifier_watchdog_tick(&n, NULL);
 *     ss_notify_stopping(&n, &err);
 *     ss_notifier_close(&n);
 */
#ifndef SOCKSERV_NOTIFY_H
#define SOCKSERV_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The variable that carries the service manager's socket to a process
 * started by an upgrade (its NOTIFY_SOCKET is the old process's socket). */
#define SS_NOTIFY_NEXT_ENV "SOCKSERV_NOTIFY_NEXT"

/* Keep the environment variables (default: unset them, as sd_notify's
 * unset_environment does, so children do not inherit them). */
#define SS_NOTIFY_KEEP_ENV 0x1u

/* One notification channel.  Caller-allocated; _init then _close. */
typedef struct ss_notifier {
    int fd; /* unbound datagram socket, -1 when there is nowhere to send */
    struct sockaddr_un addr;
    socklen_t addr_len;
    /* Started by an upgrade: after READY=1 switch to `next`, the service
     * manager's address (empty: it had none, stop sending). */
    bool handover;
    char next[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    uint64_t watchdog_usec; /* 0: no watchdog asked for */
    uint64_t last_ping_usec; /* CLOCK_MONOTONIC of the last WATCHDOG=1 */
} ss_notifier;

/* Reads $NOTIFY_SOCKET (and $WATCHDOG_USEC, honoured only when
 * $WATCHDOG_PID is unset or this process's pid; and SS_NOTIFY_NEXT_ENV) and
 * unsets them unless SS_NOTIFY_KEEP_ENV.  Without $NOTIFY_SOCKET the
 * notifier is disabled and returns 0.  Errors: -EINVAL for an address that
 * is too long or not "/..." or "@...", -EAFNOSUPPORT for vsock:, or
 * socket()'s error; the notifier is then disabled (close is still safe).
 * Called once, by the main thread, before other threads read the
 * environment (getenv/unsetenv are not thread-safe). */
int ss_notifier_init(ss_notifier *self, unsigned flags, ss_error *err);

/* The same for an explicit address ("/path" or "@abstract"); NULL or ""
 * disables.  For tests and for programs that get the address elsewhere. */
int ss_notifier_init_address(ss_notifier *self, const char *address,
                             ss_error *err);

/* True when there is a socket to send to. */
bool ss_notifier_enabled(const ss_notifier *self);

/* Sends `state` (KEY=VALUE lines, e.g. "STATUS=draining") as one datagram.
 * Returns 0 (also when disabled) or the send error.  Thread-safe: one
 * sendto() on a socket nothing else changes. */
int ss_notifier_send(ss_notifier *self, const char *state, ss_error *err);

/* READY=1, with STATUS=<status> when status is not NULL.  After it, a
 * process started by an upgrade switches to the service manager's socket
 * (SS_NOTIFY_NEXT_ENV), so its later messages go there.  Not thread-safe
 * against other calls on the same notifier. */
int ss_notify_ready(ss_notifier *self, const char *status, ss_error *err);
/* RELOADING=1 with MONOTONIC_USEC (what Type=notify-reload needs); send
 * ss_notify_ready() when the reload is done. */
int ss_notify_reloading(ss_notifier *self, ss_error *err);
/* STOPPING=1: the server stops accepting and is finishing its requests. */
int ss_notify_stopping(ss_notifier *self, ss_error *err);
/* WATCHDOG=1 now. */
int ss_notify_watchdog(ss_notifier *self, ss_error *err);

/* The watchdog interval asked for, in microseconds (0: none).  Ping at
 * least every half of it. */
uint64_t ss_notifier_watchdog_usec(const ss_notifier *self);

/* Sends WATCHDOG=1 when a watchdog is asked for and half its interval has
 * passed since the last ping (or none was sent yet).  Call it from the
 * serving loop (a service_actions override, a uv timer) so the pings prove
 * the loop is alive.  Returns 1 when it sent, 0 when not due or not asked
 * for, or the send error.  One thread at a time. */
int ss_notifier_watchdog_tick(ss_notifier *self, ss_error *err);

/* Closes the socket.  Idempotent. */
void ss_notifier_close(ss_notifier *self);

#ifdef __cplusplus
}
#endif
#endif
