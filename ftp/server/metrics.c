/* ftp/server/metrics.c - see metrics.h. */
#include "metrics.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "store/connlimit.h"
#include "counters.h"
#include "store/store.h"

#define LINE_MAX_BYTES 1024 /* one request or header line, CRLF included */
#define HEAD_MAX_BYTES 8192 /* the whole request head */
#define PAGE_MAX_BYTES (1024 * 1024)
#define REQUEST_TIMEOUT 5.0

/* --- the page ----------------------------------------------------------- */

/* A label value: \, " and newline escaped (the exposition format). */
static int put_label(ss_wfile *w, const char *v)
{
    for (; *v; v++) {
        const char *e = *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" :
                        *v == '\n' ? "\\n" : NULL;
        int rc = e ? ss_wfile_write(w, e, 2) : ss_wfile_write(w, v, 1);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int head(ss_wfile *w, const char *name, const char *type,
                const char *help)
{
    return ss_wfile_printf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                           type);
}

/* One library figure: a field of ss_stats, with an optional extra label. */
typedef struct lib_sample {
    const char *name, *type, *help;
    const char *label; /* "reason=\"verify\"" or NULL */
    size_t offset;     /* into ss_stats */
} lib_sample;

#define F(field) offsetof(ss_stats, field)
static const lib_sample lib_samples[] = {
    {"sockserv_connections_accepted_total", "counter",
     "Connections the listener accepted.", NULL, F(accepted)},
    {"sockserv_connections_refused_total", "counter",
     "Connections turned away before a session: verify (bans, session "
     "limits), limit (a full pool) or proxy (no valid PROXY header from a "
     "trusted balancer).", "reason=\"verify\"", F(refused_verify)},
    {"sockserv_connections_refused_total", NULL, NULL, "reason=\"limit\"",
     F(refused_limit)},
    {"sockserv_connections_refused_total", NULL, NULL, "reason=\"proxy\"",
     F(refused_proxy)},
    {"sockserv_connections_active", "gauge",
     "Connections being served now (sessions and TLS handshakes).", NULL,
     F(active)},
    {"sockserv_connections_finished_total", "counter",
     "Connections that ended, whatever way.", NULL, F(finished)},
    {"sockserv_handler_errors_total", "counter",
     "Sessions that ended with an error.", NULL, F(handler_errors)},
    {"sockserv_received_bytes_total", "counter",
     "Bytes read on control connections (plaintext under TLS).", NULL,
     F(bytes_in)},
    {"sockserv_sent_bytes_total", "counter",
     "Bytes written on control connections (plaintext under TLS).", NULL,
     F(bytes_out)},
    {"sockserv_tls_handshakes_total", "counter",
     "Server TLS handshakes on control connections (implicit FTPS, AUTH "
     "TLS) by result.", "result=\"ok\"", F(tls_handshakes_ok)},
    {"sockserv_tls_handshakes_total", NULL, NULL, "result=\"failed\"",
     F(tls_handshakes_failed)},
    {"sockserv_pool_queued", "gauge",
     "Requests waiting for a pool worker (0: the listeners use no pool).",
     NULL, F(pool_queued)},
};
#undef F

static int render_library(ftpd_metrics *m, ss_wfile *w)
{
    ss_stats st[2 * FTPD_MAX_LISTEN];
    char addr[2 * FTPD_MAX_LISTEN][SS_ADDRSTRLEN];
    size_t n = m->nlisteners < 2 * FTPD_MAX_LISTEN ? m->nlisteners
                                                    : 2 * FTPD_MAX_LISTEN;
    for (size_t i = 0; i < n; i++) {
        ss_server_stats(&m->listeners[i], &st[i]);
        ss_addr_format(&m->listeners[i].server_address, addr[i],
                       sizeof addr[i]);
    }
    int rc = 0;
    for (size_t k = 0; k < sizeof lib_samples / sizeof lib_samples[0]; k++) {
        const lib_sample *ls = &lib_samples[k];
        if (ls->type && (rc = head(w, ls->name, ls->type, ls->help)) < 0)
            return rc;
        for (size_t i = 0; i < n && rc == 0; i++) {
            uint64_t v;
            memcpy(&v, (const char *)&st[i] + ls->offset, sizeof v);
            rc = ss_wfile_printf(w, "%s{listener=\"", ls->name);
            if (rc == 0)
                rc = put_label(w, addr[i]);
            if (rc == 0)
                rc = ss_wfile_printf(w, "\"%s%s} %llu\n", ls->label ? "," : "",
                                     ls->label ? ls->label : "",
                                     (unsigned long long)v);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

int ftpd_metrics_render(ftpd_metrics *m, ss_wfile *w)
{
    int rc = render_library(m, w);
    if (rc < 0)
        return rc;
    ftpd_ctx *ctx = m->ctx;
    ftpd_counters *c = ctx->counters;
    unsigned long long ok = ftpd_counters_get(c, FTPD_C_LOGINS_OK),
                       bad = ftpd_counters_get(c, FTPD_C_LOGINS_FAILED),
                       up = ftpd_counters_get(c, FTPD_C_UPLOAD_BYTES),
                       down = ftpd_counters_get(c, FTPD_C_DOWNLOAD_BYTES),
                       quota = ftpd_counters_get(c, FTPD_C_QUOTA_REFUSALS),
                       running = ftpd_counters_get(c, FTPD_C_TRANSFERS);
    unsigned bans = 0;
    ftpd_store_guard_bans_active(ctx->store, &bans);
    unsigned sessions = ctx->limits ? ftpd_connlimit_active(ctx->limits) : 0;
    /* The format wants one group per name: HELP, TYPE, then its samples. */
    if ((rc = head(w, "ftpd_logins_total", "counter",
                   "PASS commands by result (failed: bad password, unknown "
                   "user, banned).")) < 0 ||
        (rc = ss_wfile_printf(w, "ftpd_logins_total{result=\"ok\"} %llu\n"
                                 "ftpd_logins_total{result=\"failed\"} %llu\n",
                              ok, bad)) < 0 ||
        (rc = head(w, "ftpd_bans_active", "gauge",
                   "Client hosts and user names banned now for failed "
                   "logins.")) < 0 ||
        (rc = ss_wfile_printf(w, "ftpd_bans_active %u\n", bans)) < 0 ||
        (rc = head(w, "ftpd_sessions_active", "gauge",
                   "FTP sessions open now, all listeners.")) < 0 ||
        (rc = ss_wfile_printf(w, "ftpd_sessions_active %u\n", sessions)) < 0 ||
        (rc = head(w, "ftpd_upload_bytes_total", "counter",
                   "Bytes received on data connections into files.")) < 0 ||
        (rc = ss_wfile_printf(w, "ftpd_upload_bytes_total %llu\n", up)) < 0 ||
        (rc = head(w, "ftpd_download_bytes_total", "counter",
                   "Bytes sent on data connections: files and "
                   "listings.")) < 0 ||
        (rc = ss_wfile_printf(w, "ftpd_download_bytes_total %llu\n", down)) < 0 ||
        (rc = head(w, "ftpd_transfers_running", "gauge",
                   "Transfers (RETR, STOR, APPE, STOU, LIST, NLST, MLSD) "
                   "under way.")) < 0 ||
        (rc = ss_wfile_printf(w, "ftpd_transfers_running %llu\n", running)) < 0 ||
        (rc = head(w, "ftpd_quota_refusals_total", "counter",
                   "Uploads refused or stopped by a user's quota "
                   "(552).")) < 0 ||
        (rc = ss_wfile_printf(w, "ftpd_quota_refusals_total %llu\n", quota)) < 0)
        return rc;
    return 0;
}

/* --- the HTTP handler --------------------------------------------------- */

static int respond(ss_stream_handler *sh, const char *status, const char *type,
                   const char *extra, const void *body, size_t len, bool send_body)
{
    int rc = ss_wfile_printf(&sh->wfile,
                             "HTTP/1.0 %s\r\nContent-Type: %s\r\n"
                             "Content-Length: %zu\r\n%sConnection: close\r\n\r\n",
                             status, type, len, extra ? extra : "");
    if (rc == 0 && send_body && len)
        rc = ss_wfile_write(&sh->wfile, body, len);
    return rc;
}

static int plain(ss_stream_handler *sh, const char *status, const char *extra,
                 bool send_body)
{
    char body[64];
    int n = snprintf(body, sizeof body, "%s\n", status);
    return respond(sh, status, "text/plain; charset=utf-8", extra, body,
                   (size_t)n, send_body);
}

/* Reads the head: the request line into line (NUL-terminated), the header
 * lines skipped, all bounded.  Returns "" for a whole head, the HTTP status
 * to answer with, or NULL when the client left (or *rc < 0: a read error). */
static const char *read_head(ss_stream_handler *sh, char *line, int *rc)
{
    char buf[LINE_MAX_BYTES + 1];
    size_t total = 0;
    *rc = 0;
    for (bool first = true;; first = false) {
        ssize_t n = ss_rfile_readline(&sh->rfile, buf, LINE_MAX_BYTES);
        if (n < 0) {
            *rc = (int)n;
            return NULL;
        }
        if (n == 0 || buf[n - 1] != '\n')
            return n == 0 && first ? NULL
                   : n == LINE_MAX_BYTES ? "431 Request Header Fields Too Large"
                                         : "400 Bad Request";
        total += (size_t)n;
        if (total > HEAD_MAX_BYTES)
            return "431 Request Header Fields Too Large";
        buf[n] = '\0';
        if (first) {
            memcpy(line, buf, (size_t)n + 1);
            continue;
        }
        if (!strcmp(buf, "\r\n") || !strcmp(buf, "\n"))
            return "";
    }
}

static int metrics_handle(ss_handler *h, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    ftpd_metrics *m = (ftpd_metrics *)h->server;
    char line[LINE_MAX_BYTES + 1] = "";
    int rc;
    const char *bad = read_head(sh, line, &rc);
    if (rc < 0)
        return ss_error_set(err, rc, "metrics: read: %s", ss_strerror(rc));
    if (!bad)
        return 0; /* the client left without asking */
    if (*bad)
        return plain(sh, bad, NULL, true);

    char method[16], target[LINE_MAX_BYTES], version[16];
    if (sscanf(line, "%15s %1023s %15s", method, target, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0)
        return plain(sh, "400 Bad Request", NULL, true);
    bool get = !strcmp(method, "GET"), headm = !strcmp(method, "HEAD");
    if (!get && !headm)
        return plain(sh, "405 Method Not Allowed", "Allow: GET, HEAD\r\n", true);
    size_t plen = strcspn(target, "?");
    if (plen != strlen("/metrics") || strncmp(target, "/metrics", plen) != 0)
        return plain(sh, "404 Not Found", NULL, get);

    ss_wfile page;
    ss_wfile_init_mem(&page, PAGE_MAX_BYTES);
    rc = ftpd_metrics_render(m, &page);
    if (rc == 0) {
        size_t len;
        const void *body = ss_wfile_getvalue(&page, &len);
        rc = respond(sh, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
                     NULL, body, len, get);
    } else {
        rc = plain(sh, "500 Internal Server Error", NULL, get);
    }
    ss_wfile_close(&page);
    return rc < 0 ? ss_error_set(err, rc, "metrics: write: %s", ss_strerror(rc))
                  : 0;
}

static const ss_handler_class metrics_handler_class;

static void metrics_configure(ss_handler *h)
{
    SS_SUPER(&metrics_handler_class, configure)(h);
    ss_stream_handler *sh = (ss_stream_handler *)h;
    sh->timeout = REQUEST_TIMEOUT; /* a slow client holds a worker 5 s */
    sh->wbufsize = 8192;           /* head and body in few writes */
}

static const ss_handler_class metrics_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "FtpdMetricsHandler",
    .configure = metrics_configure,
    .handle = metrics_handle,
};

/* --- the server --------------------------------------------------------- */

/* A scrape that failed (a client that left, a timeout) is one log line,
 * not the library's report on stderr. */
static void metrics_error(ss_server *s, ss_request *req, const ss_addr *client,
                          const ss_error *err)
{
    (void)req;
    ftpd_metrics *m = (ftpd_metrics *)s;
    char addr[SS_ADDRSTRLEN];
    ftpd_log(&m->ctx->log, "metrics: %s: %s",
             ss_addr_format(client, addr, sizeof addr), err->msg);
}

static void metrics_busy(ss_server *s, ss_request *req, const ss_addr *client)
{
    (void)s;
    (void)client;
    static const char busy[] = "HTTP/1.0 503 Service Unavailable\r\n"
                               "Content-Length: 0\r\nConnection: close\r\n\r\n";
    /* A fresh socket's buffer is empty: never blocks. */
    if (send(req->fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* the client is gone: nothing to tell */
    }
}

static const ss_server_class metrics_tcp_class = {
    .base = &ss_threadpool_tcp_server_class,
    .name = "FtpdMetricsServer",
    .handle_error = metrics_error,
    .handle_busy = metrics_busy,
};

static const ss_server_class metrics_unix_class = {
    .base = &ss_threadpool_unix_stream_server_class,
    .name = "FtpdMetricsUnixServer",
    .handle_error = metrics_error,
    .handle_busy = metrics_busy,
};

int ftpd_metrics_open(ftpd_metrics *m, const char *text, int fd, ftpd_ctx *ctx,
                      ss_server *listeners, size_t nlisteners, char *errbuf,
                      size_t errcap)
{
    memset(m, 0, sizeof *m);
    ss_addr addr;
    ss_error err;
    ss_error_clear(&err);
    /* A port alone means loopback: the page has no password. */
    char with_host[64];
    if (*text && strspn(text, "0123456789") == strlen(text) &&
        strlen(text) <= 5) {
        snprintf(with_host, sizeof with_host, "127.0.0.1:%s", text);
        text = with_host;
    }
    bool unix_sock;
    if (fd >= 0) { /* inherited: its family picks the class */
        int family = AF_UNSPEC;
        socklen_t len = sizeof family;
        getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len);
        unix_sock = family == AF_UNIX;
    } else if (ss_addr_parse(&addr, text, &err) < 0) {
        snprintf(errbuf, errcap, "metrics_listen %s: %s", text, err.msg);
        return -1;
    } else {
        unix_sock = ss_addr_family(&addr) == AF_UNIX;
    }
    if (ss_server_init(&m->srv, unix_sock ? &metrics_unix_class
                                          : &metrics_tcp_class,
                       fd >= 0 ? NULL : &addr, &metrics_handler_class, 0,
                       &err) < 0) {
        snprintf(errbuf, errcap, "metrics_listen %s: %s", text, err.msg);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    m->ctx = ctx;
    m->listeners = listeners;
    m->nlisteners = nlisteners;
    m->srv.allow_reuse_address = !unix_sock;
    m->srv.pool_workers = 2;
    m->srv.pool_queue_size = 8;
    m->srv.pool_when_full = SS_POOL_REFUSE;
    if ((fd >= 0 ? ss_server_adopt(&m->srv, fd, &err)
                 : ss_server_bind_and_activate(&m->srv, &err)) < 0) {
        snprintf(errbuf, errcap, "metrics_listen %s: %s", text, err.msg);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    m->started = true;
    return 0;
}

int ftpd_metrics_attach(ftpd_metrics *m, void *uv_loop)
{
    int rc = ss_server_attach(&m->srv, uv_loop, 0.5);
    m->attached = rc == 0;
    return rc;
}

void ftpd_metrics_stop(ftpd_metrics *m)
{
    if (!m->started)
        return;
    m->started = false;
    if (m->attached)
        ss_server_detach(&m->srv);
    m->attached = false;
    ss_server_close(&m->srv); /* joins the workers: no scrape reads on */
}
