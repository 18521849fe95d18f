/* tests/support/haproxy.h - the real HAProxy (Debian's haproxy package) in
 * front of a server under test: a TCP frontend on a free loopback port,
 * one backend server (or a backend written by the test), started in the foreground (-db) from a config in a
 * temp dir and stopped at the end. */
#ifndef TESTS_SUPPORT_HAPROXY_H
#define TESTS_SUPPORT_HAPROXY_H

#include <sockserv/address.h>

#include "support.h"

#define TS_HAPROXY "/usr/sbin/haproxy"

typedef struct ts_haproxy {
    ts_proc proc;
    char dir[256];
    ss_addr front; /* where clients connect: 127.0.0.1:<port> */
} ts_haproxy;

/* Starts HAProxy with `server` as its one backend server line, the text
 * after "server s1 " ("127.0.0.1:2121 send-proxy-v2 source 127.0.0.2").
 * Returns once the frontend listens (read from /proc/net/tcp, so no
 * connection reaches the backend), 0; or a negative code with HAProxy's
 * output in h->proc.  Asserts nothing. */
int ts_haproxy_start(ts_haproxy *h, const char *server);

/* As ts_haproxy_start, with `backend` as the whole body of backend "be"
 * (options, check rules and server lines, each line ending in "\n"), and
 * an admin socket in h->dir for ts_haproxy_server_status. */
int ts_haproxy_start_backend(ts_haproxy *h, const char *backend);

/* The state HAProxy's checks give server `name` of backend "be" ("UP",
 * "DOWN", "MAINT", "no check", ...), read from the admin socket ("show
 * stat") into out.  Returns 0 or a negative code. */
int ts_haproxy_server_status(ts_haproxy *h, const char *name, char *out,
                             size_t cap);

/* Polls ts_haproxy_server_status until it starts with want ("UP",
 * "DOWN") or timeout_s passes; returns whether it did, the last status in
 * last (cap bytes). */
bool ts_haproxy_wait_status(ts_haproxy *h, const char *name, const char *want,
                            double timeout_s, char *last, size_t cap);

/* Stops it (SIGTERM, then SIGKILL after 10 s) and removes the temp dir. */
void ts_haproxy_stop(ts_haproxy *h);

#endif
