/* tests/ftp-client/ftpc_test.h - what the client suites share: a pyftpdlib
 * server (ftpserver.py) or the cutting proxy (cutproxy.py) on port 0, the
 * client run to completion, test files and their checksums.  Built on
 * tests/support (ts_*); every wait has a deadline. */
#ifndef FTPC_TEST_H
#define FTPC_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "support.h"

typedef struct ftpt_server {
    ts_proc proc;
    char addr[128];   /* "127.0.0.1:PORT" or "[::1]:PORT" */
    char host[64];
    int port;
    char url[256];    /* "alice:secret@ADDR" */
} ftpt_server;

/* Starts ftpserver.py on root with extra options (NULL-terminated list, may
 * be empty).  Asserts that it became ready. */
void ftpt_server_start(ftpt_server *s, const char *root, const char *const *opts);
/* True when the build has sockserv-ftpd (tests against it skip otherwise). */
bool ftpt_ftpd_built(void);
/* Starts sockserv-ftpd with its data under dir and one user alice/secret
 * whose home is home (created by the server); asserts that it became
 * ready. */
void ftpt_ftpd_start(ftpt_server *s, const char *dir, const char *home);
/* Starts cutproxy.py in front of target, cutting after cut bytes. */
void ftpt_proxy_start(ftpt_server *p, const ftpt_server *target, long cut);
void ftpt_stop(ftpt_server *s);

typedef struct ftpt_run {
    int code;         /* exit code, or -1 when killed / timed out */
    char out[65536];
    char err[65536];
} ftpt_run;

/* Runs sockserv-ftp with the NULL-terminated args (stdin from in, or
 * /dev/null when NULL), 120 s at most.  r is heap memory the caller owns. */
ftpt_run *ftpt_client(const char *in, const char *arg, ...)
    __attribute__((sentinel));
/* Same for any argv (argv[0] a path). */
ftpt_run *ftpt_runv(const char *in, char *const argv[]);

/* Writes size pseudo-random bytes (seeded) to path. */
void ftpt_make_file(const char *path, uint64_t size, uint32_t seed);
/* True when both files exist with identical bytes. */
bool ftpt_same_file(const char *a, const char *b);
/* Size of a file, -1 when missing. */
long long ftpt_size(const char *path);
/* Number of lines (newline-terminated) in text. */
int ftpt_lines(const char *text);
/* "dir/name" in a rotating static buffer. */
const char *ftpt_path(const char *dir, const char *name);
/* Path of the built client and of a script in this directory. */
const char *ftpt_client_path(void);
const char *ftpt_script(const char *name);

#endif
