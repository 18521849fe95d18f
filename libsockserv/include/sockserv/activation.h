/* sockserv/activation.h - serving on listening sockets this process
 * inherited instead of binding its own: systemd socket activation, and the
 * new process of an upgrade (upgrade.h), which gets its sockets the same way.
 *
 * The protocol (sd_listen_fds(3)): $LISTEN_FDS sockets start at descriptor
 * 3, valid only when $LISTEN_PID is this process; $LISTEN_FDNAMES names them
 * (colon-separated; systemd's FileDescriptorName=).
 *
 *     ss_listen_fds lf;
 *     if (ss_listen_fds_init(&lf, 0, &err) < 0) die(err.msg);
 *     int fd = ss_listen_fds_take(&lf, "echo");   // or NULL: the first one
 *     ss_server_init(&srv, cls, NULL, &handler, 0, &err);  // no bind
 *     if (fd >= 0) rc = ss_server_adopt(&srv, fd, &err);
 *     else         rc = ss_server_bind_and_activate(&srv, &err);  // needs an address
 *     ss_listen_fds_close(&lf);                    // the ones nobody took
 */
#ifndef SOCKSERV_ACTIVATION_H
#define SOCKSERV_ACTIVATION_H

#include <stdbool.h>

#include "error.h"
#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SS_LISTEN_FDS_START 3
#define SS_LISTEN_FDS_MAX 64    /* more inherited sockets are an error */
#define SS_LISTEN_NAMES_MAX 4096 /* the whole $LISTEN_FDNAMES */

/* Keep $LISTEN_FDS, $LISTEN_PID and $LISTEN_FDNAMES (default: unset them,
 * so a child this process starts does not take them for its own). */
#define SS_LISTEN_KEEP_ENV 0x1u

/* The inherited sockets.  Caller-allocated; _init then _close. */
typedef struct ss_listen_fds {
    unsigned count;
    int fd[SS_LISTEN_FDS_MAX];              /* 3, 4, ... */
    bool taken[SS_LISTEN_FDS_MAX];          /* given out by _take */
    unsigned short name_off[SS_LISTEN_FDS_MAX]; /* into names */
    char names[SS_LISTEN_NAMES_MAX];
} ss_listen_fds;

/* Reads the variables, sets FD_CLOEXEC on each inherited descriptor and
 * (unless SS_LISTEN_KEEP_ENV) unsets the variables.  Returns the count: 0
 * when nothing was inherited ($LISTEN_FDS unset, or $LISTEN_PID another
 * process), -EINVAL with a message when the variables are malformed, more
 * than SS_LISTEN_FDS_MAX, or a descriptor is not open.  A socket without a
 * name (no $LISTEN_FDNAMES) is named "unknown", as systemd does.  Called
 * once, by the main thread, before other threads read the environment. */
int ss_listen_fds_init(ss_listen_fds *self, unsigned flags, ss_error *err);

/* The name of the i-th socket (i < count). */
const char *ss_listen_fds_name(const ss_listen_fds *self, unsigned i);

/* Gives out the first socket not yet taken whose name is `name` (NULL: any
 * name).  The descriptor then belongs to the caller (ss_server_adopt).
 * Returns it, or -ENOENT. */
int ss_listen_fds_take(ss_listen_fds *self, const char *name);

/* Closes the sockets nobody took.  Idempotent. */
void ss_listen_fds_close(ss_listen_fds *self);

/* Makes an initialised, not yet bound server (ss_server_init or
 * ss_event_server_init with flags 0; the address may be NULL) serve on the
 * listening socket fd instead of binding one: the second half of init, in
 * place of ss_server_bind_and_activate().  fd must match the class: its
 * family (SO_DOMAIN: AF_INET or AF_INET6 for a TCP/UDP class, AF_UNIX for a
 * unix class), its type (SO_TYPE) and, for a stream socket, be listening
 * (SO_ACCEPTCONN).  On success the server owns fd (server_close closes it),
 * it is made non-blocking and close-on-exec, and server_address is its
 * local address.  On failure the server is closed, as after a failed bind,
 * fd stays the caller's and open, and err says what was wrong ("fd 3 is a
 * SOCK_DGRAM socket; EchoServer needs SOCK_STREAM").  Works under every
 * mixin: accepting is the same code afterwards.  Not thread-safe on the same
 * server. */
int ss_server_adopt(ss_server *self, int fd, ss_error *err);

#ifdef __cplusplus
}
#endif
#endif
