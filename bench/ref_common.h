/* bench/ref_common.h - what the no-library reference servers share: option
 * parsing, the listening socket and the "listening on ADDR" line.  Kept out
 * of the measured path: nothing here runs per request. */
#ifndef BENCH_REF_COMMON_H
#define BENCH_REF_COMMON_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ref_options {
    const char *listen; /* HOST:PORT, [V6]:PORT; port 0 picks one */
    bool udp;
} ref_options;

/* Parses --listen ADDR and --udp; exits 2 on anything else. */
void ref_parse(int argc, char **argv, ref_options *o);

/* Creates, binds (and for TCP listens on, backlog SOMAXCONN) the server
 * socket, raises RLIMIT_NOFILE to its hard limit, ignores SIGPIPE, and
 * prints "listening on ADDR" with the real port.  Exits 1 on failure. */
int ref_open(const ref_options *o, bool nonblocking);

/* Writes all of buf to a blocking socket; 0 or -1 (errno set). */
int ref_send_all(int fd, const void *buf, size_t len);

#endif
