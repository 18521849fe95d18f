/* ftp/server/protocol/datachan.h - the data connection of one session: a passive
 * listener (PASV/EPSV) in the configured port range or an active target
 * (PORT/EPRT), opened when a transfer command arrives.
 *
 * Security rules (RFC 2577):
 *  - a passive listener accepts only a peer from the control connection's
 *    host; a connection from anywhere else is closed and waiting goes on;
 *  - an active target must be the control connection's host and a port
 *    >= 1024 (no FTP bounce).
 *
 * The data connection's bytes move through an ss_transport (io): the
 * library's plain one, or TLS under PROT P (ftps.c); sendfile() is used
 * only when the transport is the plain one (plain_io).  A passive listener
 * holds a place in the shared count of pending listeners until it is
 * used, reset or expired.
 *
 * One session owns its ftpd_datachan; not thread-safe.  Errors are -errno.
 */
#ifndef FTPD_DATACHAN_H
#define FTPD_DATACHAN_H

#include <stdbool.h>
#include <sockserv/address.h>
#include <sockserv/sockfile.h>
#include <sockserv/tls.h>

#include "store/connlimit.h"

typedef struct ftpd_datachan {
    int listen_fd;      /* passive listener, -1 when none */
    double listen_deadline; /* monotonic s after which an unused listener
                               is closed (0: none) */
    ss_addr active;     /* PORT/EPRT target; len 0 when none */
    int fd;             /* the open data connection (non-blocking), -1 */
    ss_transport plain; /* the library's recv/send on fd (-EAGAIN when
                           nothing can move now) */
    ss_tls_conn tls;    /* under PROT P (ftps.c) */
    bool tls_on;        /* tls is set up on fd */
    ss_transport *io;   /* the transport in use */
    bool plain_io;      /* io == &plain: sendfile allowed */
    ftpd_connlimit *limits; /* counts pending passive listeners; may be NULL */
    ss_addr client;     /* the control connection's peer, for the per-host
                           count (len 0: none) */
    bool pasv_counted;  /* listen_fd holds a place in limits */
} ftpd_datachan;

/* limits: the shared table that bounds pending passive listeners
 * (borrowed; NULL: no bound); client: the session's peer, whose host's
 * share of them is bounded too (copied; NULL: none). */
void ftpd_datachan_init(ftpd_datachan *dc, ftpd_connlimit *limits,
                        const ss_addr *client);
/* Closes the listener, the connection and forgets the target. */
void ftpd_datachan_reset(ftpd_datachan *dc);
/* Closes the open connection only (after a transfer). */
void ftpd_datachan_close_conn(ftpd_datachan *dc);
/* True when PASV/EPSV or PORT/EPRT has prepared a connection. */
bool ftpd_datachan_ready(const ftpd_datachan *dc);

/* PASV/EPSV: listens on the host of local (the control connection's local
 * address; a unix control connection listens on 127.0.0.1) at a port in
 * [pmin, pmax] (0,0: any).  *bound gets the real address.  -EADDRINUSE when
 * the range is exhausted, -EBUSY when max_pasv_listeners are pending.  An
 * unused listener is closed after timeout seconds
 * (ftpd_datachan_expire). */
int ftpd_datachan_passive(ftpd_datachan *dc, const ss_addr *local,
                          unsigned pmin, unsigned pmax, double timeout,
                          ss_addr *bound);

/* Closes a passive listener nobody used before its deadline; true if it
 * did. */
bool ftpd_datachan_expire(ftpd_datachan *dc, double now);

/* PORT/EPRT: checks target against the control peer (same host unless the
 * peer is a unix client, then loopback only; port >= 1024) and remembers it.
 * -EPERM when refused. */
int ftpd_datachan_active(ftpd_datachan *dc, const ss_addr *peer,
                         const ss_addr *target);

/* Opens the data connection, waiting at most until deadline (monotonic s)
 * and watching watch_fd (the control connection) meanwhile.  Returns 0 when
 * open, 1 when watch_fd became readable first (call again after looking at
 * it), -ETIMEDOUT, or another -errno.  peer is the control connection's
 * peer, for the passive source check. */
int ftpd_datachan_open(ftpd_datachan *dc, const ss_addr *peer, int watch_fd,
                       double deadline);

/* Parses "h1,h2,h3,h4,p1,p2" (PORT) into *out.  0 or -EINVAL. */
int ftpd_parse_port_arg(const char *arg, ss_addr *out);
/* Parses "|af|addr|port|" (EPRT, any delimiter in 33..126).  0, -EINVAL, or
 * -EAFNOSUPPORT for a protocol number other than 1 and 2. */
int ftpd_parse_eprt_arg(const char *arg, ss_addr *out);

/* Monotonic seconds. */
double ftpd_now(void);

#endif
