/* tests/core/coretest.h - what the libsockserv core suites share on top of
 * tests/support: serve_forever on a thread with a deadline on its return,
 * the echo handlers CPython's test_socketserver uses, addresses for each
 * family, a thread-safe call log, and waiting for a condition.
 *
 * Helpers that fail call cr_assert, so they are only for use inside tests. */
#ifndef TESTS_CORE_CORETEST_H
#define TESTS_CORE_CORETEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <sockserv/sockserv.h>

#include "support.h"

/* Criterion, or under ThreadSanitizer (where Criterion cannot start) the
 * same API from crlite.h. */
#include <criterion/criterion.h>

/* Every wait in these suites gives up after this long: far beyond what a
 * loaded machine or a sanitizer build needs, short enough to fail fast. */
#define CT_DEADLINE 10.0

/* --- serve_forever on a thread ------------------------------------------ */

typedef struct ct_serve {
    ss_server *srv;
    double poll_interval;
    pthread_t thread;
    int rc;             /* serve_forever's result, once done */
    atomic_bool done;   /* serve_forever has returned */
    bool joined;
} ct_serve;

/* Starts ss_server_serve_forever(srv, poll_interval) on a new thread. */
void ct_serve_start(ct_serve *s, ss_server *srv, double poll_interval);
/* Waits up to timeout_s for serve_forever to return on its own; joins it and
 * returns true if it did. */
bool ct_serve_wait(ct_serve *s, double timeout_s);
/* ss_server_shutdown() (which must return 0 within CT_DEADLINE), then joins
 * the thread; returns serve_forever's result. */
int ct_serve_stop(ct_serve *s);

/* --- addresses ------------------------------------------------------------ */

/* Parses text, asserting success. */
void ct_addr(ss_addr *out, const char *text);
/* "unix:<fresh temp dir>/<name>"; the directory goes in ct_cleanup(). */
void ct_unix_addr(ss_addr *out, const char *name);
/* Removes the temp dirs made by ct_unix_addr / ct_tmpdir. */
void ct_cleanup(void);
/* A fresh temp dir removed by ct_cleanup(); returns its path (static per
 * call, up to 16 live). */
const char *ct_tmpdir(void);
/* The text form of a in a static per-thread buffer (4 live). */
const char *ct_fmt(const ss_addr *a);
/* The local address of fd. */
void ct_sockname(int fd, ss_addr *out);

/* --- clients -------------------------------------------------------------- */

/* ts_connect with CT_DEADLINE timeouts, asserting success. */
int ct_connect(const ss_addr *a, int type);
/* Closes a client; a unix client bound to a temp path has it removed. */
void ct_close(int fd);
/* CPython's stream_examine / dgram_examine: sends "hello world\n" and
 * asserts it comes back (a line on streams, one datagram otherwise). */
void ct_echo_check(const ss_addr *a, int type);
/* Reads one datagram (CT_DEADLINE); returns its length or -errno. */
ssize_t ct_recv(int fd, void *buf, size_t cap);
/* True when fd has something to read (or EOF) within timeout_s. */
bool ct_readable(int fd, double timeout_s);

/* --- handlers ------------------------------------------------------------- */

/* StreamRequestHandler echoing one line (max 1024 bytes), like CPython's
 * test handler. */
extern const ss_handler_class ct_echo_line_handler_class;
/* DatagramRequestHandler echoing the packet (reply sent by finish). */
extern const ss_handler_class ct_echo_dgram_handler_class;
/* Whichever of the two fits a socket type. */
const ss_handler_class *ct_echo_handler_for(int socket_type);

/* Initialises srv as cls on addr with handler, asserting success. */
void ct_server_init(ss_server *srv, const ss_server_class *cls,
                    const ss_addr *addr, const ss_handler_class *handler);

/* --- waiting and logging ------------------------------------------------ */

/* Polls pred(arg) every few ms until it is true (returns true) or timeout_s
 * passes (returns false).  Polling with a deadline, never a fixed sleep. */
bool ct_wait_for(bool (*pred)(void *arg), void *arg, double timeout_s);
/* Waits until *v >= want (sequentially consistent reads). */
bool ct_wait_count(atomic_int *v, int want, double timeout_s);
/* Sleeps for s seconds: only to give something the chance to happen that
 * must not (negative checks), never to wait for readiness. */
void ct_pause(double s);

/* A thread-safe log of names, "a b c" (space separated). */
typedef struct ct_log {
    pthread_mutex_t mu;
    char text[4096];
} ct_log;
void ct_log_init(ct_log *l);
void ct_log_add(ct_log *l, const char *name);
/* A copy of the text in buf. */
const char *ct_log_get(ct_log *l, char *buf, size_t cap);

/* CPU time used so far by a thread, in seconds. */
double ct_thread_cpu(pthread_t t);

/* A pipe for children to report through: each message is one write of at
 * most PIPE_BUF bytes, so messages from several children never interleave. */
typedef struct ct_pipe {
    int rd, wr;
} ct_pipe;
void ct_pipe_open(ct_pipe *p);
void ct_pipe_close(ct_pipe *p);
/* Writes a NUL-free message ending in '\n' (for children: no stdio). */
void ct_pipe_say(ct_pipe *p, const char *msg);
/* Reads messages until `want` lines have arrived or timeout_s passes;
 * appends them to buf (NUL-terminated).  Returns the number of lines. */
int ct_pipe_read_lines(ct_pipe *p, char *buf, size_t cap, int want,
                       double timeout_s);

#endif
