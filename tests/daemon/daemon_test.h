/* tests/daemon/daemon_test.h - what the activation, notify and upgrade
 * suites share: a free port, waiting for text on a child's stderr, one
 * echo round trip, a unix datagram receiver. */
#ifndef TESTS_DAEMON_TEST_H
#define TESTS_DAEMON_TEST_H

#include <stdbool.h>
#include <stddef.h>

#include "support.h"

/* A TCP port on 127.0.0.1 that was free a moment ago (for programs, like
 * systemd-socket-activate, that cannot bind port 0 and report it). */
int dt_free_port(void);

/* Reads the child's output until `needle` appears in its stderr (or its
 * stdout, when in_out), timeout_s passes or the child exits.  Never reaps.
 * Returns 0, -ETIMEDOUT or -ECHILD. */
int dt_wait_text(ts_proc *p, const char *needle, bool in_out, double timeout_s);

/* Counts lines of the child's stdout that start with prefix; the rest of
 * the n-th (1-based) is copied to rest.  Waits until there are n (never
 * reaps: the output may come from the child's successors).  0 or
 * -ETIMEDOUT. */
int dt_wait_nth_line(ts_proc *p, const char *prefix, int n, char *rest,
                     size_t cap, double timeout_s);

/* One echo round trip over a stream connection to addr ("unix:PATH" or
 * HOST:PORT): sends len bytes, reads them back and compares.  0, or -errno
 * / -EPROTO on a short or wrong echo. */
int dt_echo_roundtrip(const char *addr, const void *buf, size_t len);

/* Reaps every child of this process (a subreaper: every generation of an
 * upgraded server) until there is none left or timeout_s passes, polling
 * with a deadline.  0, or -ETIMEDOUT when one is still running. */
int dt_reap_all(double timeout_s);

/* A unix datagram socket bound to `address` ("/path" or "@abstract"),
 * with a receive timeout.  Returns the fd. */
int dt_notify_receiver(const char *address, double timeout_s);
/* Receives one datagram as a NUL-terminated string; its length or -errno. */
int dt_recv_text(int fd, char *buf, size_t cap);
/* Receives datagrams until one contains `needle`; 0 or -errno. */
int dt_recv_until(int fd, const char *needle, char *buf, size_t cap);

#endif
