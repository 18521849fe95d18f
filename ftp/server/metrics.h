/* ftp/server/metrics.h - the optional metrics page: the library's figures
 * of every FTP listener (sockserv/stats.h) and the server's own
 * (counters.h, the session table, the login guard) in the Prometheus text
 * exposition format, served over HTTP by a libsockserv server of its own.
 *
 * Off unless metrics_listen is set.  The page is GET (or HEAD) /metrics
 * over HTTP/1.0 or 1.1; any other path is 404, any other method 405.  A
 * request is at most 8 KiB of head (a line at most 1 KiB) and must arrive
 * within 5 s.  Two worker threads (ThreadPoolMixIn, refusing when 8 more
 * wait), attached to the daemon's loop.  The page needs no password: bind
 * it to loopback (the example does) or a network only the monitoring
 * system reaches.
 */
#ifndef FTPD_METRICS_H
#define FTPD_METRICS_H

#include <stddef.h>

#include <sockserv/sockserv.h>

#include "protocol/session.h"

typedef struct ftpd_metrics {
    ss_server srv; /* first: the handler finds this struct from its server */
    ftpd_ctx *ctx;
    ss_server *listeners; /* borrowed: the FTP listeners */
    size_t nlisteners;
    bool started, attached;
} ftpd_metrics;

/* Binds addr ("127.0.0.1:9121", "[::1]:9121", "unix:/path"; a port alone,
 * "9121", is 127.0.0.1:9121), or serves on the inherited listening socket
 * fd instead when fd >= 0 (socket activation, an upgrade: ss_server_adopt;
 * fd is the page's from then on, also when this fails), with the FTP
 * listeners, before privileges are dropped.  listeners must outlive the
 * page (stop it first).  Main thread.  Returns 0, or -1 with a message in
 * err (nothing to stop then). */
int ftpd_metrics_open(ftpd_metrics *m, const char *addr, int fd, ftpd_ctx *ctx,
                      ss_server *listeners, size_t nlisteners, char *err,
                      size_t errcap);
/* Starts serving the page from uv_loop (the daemon's).  0 or a negative
 * code. */
int ftpd_metrics_attach(ftpd_metrics *m, void *uv_loop);
/* Detaches and closes the page, waiting for the scrapes under way.  On
 * the loop's thread; before the listeners close.  Idempotent. */
void ftpd_metrics_stop(ftpd_metrics *m);

/* The page as text into w (a memory writer of ss_wfile_init_mem): what a
 * scrape returns.  0 or a negative code (-EMSGSIZE past w's limit). */
int ftpd_metrics_render(ftpd_metrics *m, ss_wfile *w);

#endif
