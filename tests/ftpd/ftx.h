/* tests/ftpd/ftx.h - what the sockserv-ftpd suites share: a server in a
 * temp data dir with users made by `sockserv-ftpd user add`, and a small
 * FTP client over real sockets that returns reply codes. */
#ifndef TESTS_FTPD_FTX_H
#define TESTS_FTPD_FTX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "support.h"

typedef struct ftx_server {
    ts_proc proc;
    char dir[512];       /* temp root, removed by ftx_stop */
    char data_dir[600];
    char addr_text[SS_ADDRSTRLEN];
    ss_addr addr;
    int port;
    bool running;
} ftx_server;

/* The built server binary. */
const char *ftx_binary(void);

/* Makes the temp dir and data dir (no server yet). */
void ftx_init(ftx_server *s, const char *tag);
/* `sockserv-ftpd --data-dir D user add NAME --home D/home/NAME --quota Q`
 * with the password on stdin; asserts success. */
void ftx_add_user(ftx_server *s, const char *name, const char *pw,
                  const char *quota);
/* Starts the server on 127.0.0.1:0 (unless extra has --listen) with test
 * settings (short login delay) plus extra (NULL-terminated, may be NULL).
 * Asserts it printed "listening on". */
void ftx_start(ftx_server *s, const char *const *extra);
/* ftx_start with the server run through the command wrap (NULL-terminated,
 * e.g. {"/usr/bin/setpriv", "--bounding-set", "-dac_override", NULL}). */
void ftx_start_wrapped(ftx_server *s, const char *const *wrap,
                       const char *const *extra);
/* SIGTERM; asserts exit status 0; removes the temp dir when rm. */
void ftx_stop(ftx_server *s, bool rm);
/* "<data_dir>/home/<user>/<rel>" in a static slot. */
const char *ftx_home_path(ftx_server *s, const char *user, const char *rel);

/* A control connection. */
typedef struct ftc {
    int fd;
    int code;
    char reply[16384]; /* the last full reply, NUL-terminated */
    ss_addr addr;
} ftc;

/* Connects to the server and reads the 220 banner (asserted). */
void ftc_open(ftc *c, ftx_server *s);
int ftc_open_addr(ftc *c, const ss_addr *a); /* returns the first code */
/* ftc_open from the local IPv4 address src_ip ("127.0.0.2"): a client host
 * of its own on loopback (banner asserted). */
void ftc_open_from(ftc *c, ftx_server *s, const char *src_ip);
void ftc_close(ftc *c);
/* Reads one whole reply (multi-line aware); returns its code or -1. */
int ftc_reply(ftc *c);
/* Sends a line (CRLF added) and returns the reply code. */
int ftc_cmd(ftc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sends raw bytes (no CRLF added). */
void ftc_send_raw(ftc *c, const void *buf, size_t n);
/* USER + PASS, asserting 331 and 230. */
void ftc_login(ftc *c, const char *user, const char *pw);
/* EPSV and connect the data socket; returns its fd (asserted). */
int ftc_epsv(ftc *c);
/* PASV variant. */
int ftc_pasv(ftc *c);

/* Runs cmd ("STOR x") over a fresh EPSV connection sending data; returns
 * the final reply code (the 150 is asserted when prelim is true). */
int ftc_put(ftc *c, const char *cmd, const void *data, size_t n);
/* Runs cmd ("RETR x", "LIST") and collects the data in a malloc'd buffer
 * (*out, *n); returns the final code, or the first one if not 1xx. */
int ftc_get(ftc *c, const char *cmd, char **out, size_t *n);

/* Deterministic test data. */
void ftx_fill(void *buf, size_t n, unsigned seed);
/* Writes/reads whole files (asserted). */
void ftx_write_file(const char *path, const void *data, size_t n);
char *ftx_read_file(const char *path, size_t *n);
/* Expects (cr_expect) the two files to hold the same bytes. */
void ftx_expect_same_files(const char *a, const char *b);
/* Writes n bytes of ftx_fill(seed) to path. */
void ftx_make_file(const char *path, size_t n, unsigned seed);
off_t ftx_file_size(const char *path);

#endif
