/* ftp/server/protocol/session.c - the control connection.  See session.h. */
#include "protocol/session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>


#include "protocol/commands.h"
#include "protocol/reply.h"

#include <sockserv/threading.h>

#define TELNET_IAC 255
#define TELNET_WILL 251
#define TELNET_DONT 254

/* Longest run of an overlong line we read and drop before giving up on the
 * client: a megabyte without a line end is not an FTP client. */
#define DISCARD_MAX (1u << 20)
/* How long a client is quiet before its session gives back stack pages. */
#define IDLE_TRIM_MS 1000

static ftpd_session *S(ss_handler *h) { return (ftpd_session *)h; }

size_t ftpd_session_pending(ftpd_session *s)
{
    return ss_rfile_pending(&s->base.rfile) + ss_tls_conn_pending(s->base.tls);
}

/* --- the line-deadline transport -------------------------------------
 * The control socket is non-blocking; this transport waits for it with
 * poll, bounded by the current line's deadline while a line is being read
 * (line_timeout from its first byte: a client that sends one byte a
 * minute is dropped) and by idle_timeout otherwise.  It sits between rfile
 * / wfile and the real transport, plain or TLS, so the bound also holds
 * inside a TLS record that arrives a byte at a time. */

static ftpd_session *of_guard(ss_transport *t)
{
    return (ftpd_session *)((char *)t - offsetof(ftpd_session, guard_io));
}

static int wait_io(ftpd_session *s, short ev, double deadline)
{
    for (;;) {
        double left = deadline - ftpd_now();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = s->base.connection, .events = ev};
        int n = poll(&p, 1, (int)(left * 1000) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n > 0)
            return 0;
    }
}

static ssize_t guard_recv(ss_transport *t, void *buf, size_t n)
{
    ftpd_session *s = of_guard(t);
    double deadline = s->line_deadline > 0
                          ? s->line_deadline
                          : ftpd_now() + s->ctx->cfg.idle_timeout;
    for (;;) {
        ssize_t r = s->inner_io->recv(s->inner_io, buf, n);
        if (r != -EAGAIN && r != -EWOULDBLOCK && r != -ETIMEDOUT)
            return r;
        int w = wait_io(s, POLLIN | POLLPRI, deadline);
        if (w < 0)
            return w;
    }
}

static ssize_t guard_send(ss_transport *t, const void *buf, size_t n)
{
    ftpd_session *s = of_guard(t);
    double deadline = ftpd_now() + s->ctx->cfg.idle_timeout;
    for (;;) {
        ssize_t r = s->inner_io->send(s->inner_io, buf, n);
        if (r != -EAGAIN && r != -EWOULDBLOCK && r != -ETIMEDOUT)
            return r;
        int w = wait_io(s, POLLOUT, deadline);
        if (w < 0)
            return w;
    }
}

void ftpd_session_wrap_io(ftpd_session *s)
{
    s->inner_io = s->base.io;
    s->guard_io.recv = guard_recv;
    s->guard_io.send = guard_send;
    s->guard_io.fd = s->base.connection;
    s->guard_io.nonblocking = true;
    ss_rfile_set_transport(&s->base.rfile, &s->guard_io);
    ss_wfile_set_transport(&s->base.wfile, &s->guard_io);
}

int ftpd_session_reply(ftpd_session *s, int code, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    int rc = ftpd_reply_send(&s->base.wfile, code, "%s", text);
    if (rc < 0)
        s->quit = true;
    return rc;
}

int ftpd_session_reply_errno(ftpd_session *s, int err, const char *what)
{
    switch (-err) {
    case ENOENT:
        return ftpd_session_reply(s, 550, "%s: No such file or directory.", what);
    case EACCES:
    case EPERM:
        return ftpd_session_reply(s, 550, "%s: Permission denied.", what);
    case EISDIR:
        return ftpd_session_reply(s, 550, "%s: Is a directory.", what);
    case ENOTDIR:
        return ftpd_session_reply(s, 550, "%s: Not a directory.", what);
    case EEXIST:
        return ftpd_session_reply(s, 550, "%s: File exists.", what);
    case ENOTEMPTY:
        return ftpd_session_reply(s, 550, "%s: Directory not empty.", what);
    case EBUSY:
        return ftpd_session_reply(s, 550, "%s: Cannot do that to the home directory.",
                                  what);
    case ELOOP:
        return ftpd_session_reply(s, 550, "%s: Too many levels of symbolic links.",
                                  what);
    case EINVAL:
    case EILSEQ:
    case ENAMETOOLONG:
        return ftpd_session_reply(s, 553, "File name not allowed.");
    case EDQUOT:
        ftpd_counters_add(s->ctx->counters, FTPD_C_QUOTA_REFUSALS, 1);
        return ftpd_session_reply(s, 552, "Quota exceeded.");
    case ENOSPC:
        return ftpd_session_reply(s, 452, "Insufficient storage space.");
    case ERANGE:
        return ftpd_session_reply(s, 554, "Restart position beyond end of file.");
    default:
        return ftpd_session_reply(s, 451, "%s: Local error: %s.", what,
                                  strerror(-err));
    }
}

/* Removes Telnet commands (RFC 854) from line in place: IAC IAC is a data
 * byte 0xFF, IAC WILL/WONT/DO/DONT x is three bytes, other IAC x two.  This
 * is what turns "IAC IP IAC DM ABOR" into "ABOR". */
static size_t strip_telnet(char *line, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c != TELNET_IAC) {
            line[o++] = (char)c;
            continue;
        }
        if (i + 1 >= len)
            break;
        unsigned char cmd = (unsigned char)line[++i];
        if (cmd == TELNET_IAC)
            line[o++] = (char)cmd;
        else if (cmd >= TELNET_WILL && cmd <= TELNET_DONT)
            i++; /* the option byte */
    }
    return o;
}

/* Reads one raw line.  Returns its length with the line end removed, 0 at
 * EOF, -E2BIG when it was too long (rest consumed), or an error. */
static ssize_t read_raw_line_inner(ftpd_session *s);

static ssize_t read_raw_line(ftpd_session *s)
{
    s->line_deadline = ftpd_now() + s->ctx->cfg.line_timeout;
    ssize_t n = read_raw_line_inner(s);
    s->line_deadline = 0;
    return n;
}

static ssize_t read_raw_line_inner(ftpd_session *s)
{
    size_t max = s->ctx->cfg.max_line;
    ssize_t n = ss_rfile_readline(&s->base.rfile, s->line, max);
    if (n <= 0)
        return n;
    /* A short line without its end and without EOF: the transport failed
     * after some bytes (the line deadline); the error comes next call. */
    while ((size_t)n < max && s->line[n - 1] != '\n' && !s->base.rfile.eof) {
        ssize_t m = ss_rfile_readline(&s->base.rfile, s->line + n,
                                      max - (size_t)n);
        if (m < 0)
            return m;
        if (m == 0)
            break;
        n += m;
    }
    if ((size_t)n == max && s->line[n - 1] != '\n') {
        size_t dropped = 0;
        for (;;) {
            ssize_t m = ss_rfile_readline(&s->base.rfile, s->line, max);
            if (m <= 0)
                return m == 0 ? 0 : m;
            dropped += (size_t)m;
            if (s->line[m - 1] == '\n')
                return -E2BIG;
            if (dropped > DISCARD_MAX)
                return SS_EPROTO;
        }
    }
    size_t len = (size_t)n;
    if (len && s->line[len - 1] == '\n')
        len--;
    if (len && s->line[len - 1] == '\r')
        len--;
    len = strip_telnet(s->line, len);
    s->line[len] = '\0';
    return (ssize_t)len;
}

int ftpd_session_read_line(ftpd_session *s, size_t *len)
{
    ftpd_config *cfg = &s->ctx->cfg;
    if (ftpd_session_pending(s) == 0) {
        double deadline = ftpd_now() + cfg->idle_timeout;
        bool quiet = false;
        for (;;) {
            double now = ftpd_now();
            double left = deadline - now;
            if (left <= 0) {
                ftpd_session_reply(s, 421, "Timeout (%.0f seconds): closing "
                                   "control connection.", cfg->idle_timeout);
                return -ETIMEDOUT;
            }
            /* A passive listener nobody used goes after data_timeout. */
            ftpd_datachan_expire(&s->dc, now);
            if (s->dc.listen_fd >= 0 && s->dc.listen_deadline > 0 &&
                s->dc.listen_deadline - now < left)
                left = s->dc.listen_deadline - now;
            struct pollfd p[2] = {
                {.fd = ftpd_session_fd(s), .events = POLLIN | POLLPRI},
                {.fd = s->ctx->stop_rd, .events = POLLIN}};
            int ms = (int)(left * 1000) + 1;
            if (!quiet && ms > IDLE_TRIM_MS)
                ms = IDLE_TRIM_MS;
            int n = poll(p, 2, ms);
            if (n == 0 && !quiet) {
                /* The client went quiet: give back the stack pages the
                 * login or a transfer went through; an idle session then
                 * holds two pages of stack, not five.  Not per command:
                 * a busy session pays nothing. */
                quiet = true;
                ss_thread_release_stack();
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return -errno;
            if (p[0].revents)
                break;
            if (p[1].revents) {
                ftpd_session_reply(s, 421, "Server shutting down.");
                return SS_ECLOSED;
            }
        }
    }
    ssize_t n = read_raw_line(s);
    if (n == -ETIMEDOUT) {
        ftpd_session_reply(s, 421, "Timeout: command line not completed "
                           "within %.0f seconds.", cfg->line_timeout);
        return (int)n;
    }
    if (n == -E2BIG || n < 0)
        return (int)n;
    if (n == 0 && s->base.rfile.eof)
        return 0;
    *len = (size_t)n;
    return 1;
}

int ftpd_session_control_during_transfer(ftpd_session *s)
{
    ssize_t n = read_raw_line(s);
    if (n == -E2BIG)
        return ftpd_session_reply(s, 500, "Command line too long.");
    if (n == -ETIMEDOUT)
        ftpd_session_reply(s, 421, "Timeout: command line not completed "
                           "within %.0f seconds.", s->ctx->cfg.line_timeout);
    if (n < 0)
        return (int)n;
    if (n == 0 && s->base.rfile.eof)
        return SS_ECLOSED;
    char verb[16], *arg;
    size_t arg_len;
    if (!ftpd_command_split(s->line, (size_t)n, verb, sizeof verb, &arg,
                            &arg_len))
        return ftpd_session_reply(s, 500, "Syntax error, command unrecognized.");
    if (!strcmp(verb, "ABOR")) {
        s->abort_requested = true;
        return 0;
    }
    if (!strcmp(verb, "STAT"))
        return ftpd_session_reply(s, 213, "Status: %s in progress, %llu bytes "
                                  "transferred.", s->xfer_cmd ? s->xfer_cmd : "transfer",
                                  (unsigned long long)s->xfer_bytes);
    if (!strcmp(verb, "QUIT")) {
        s->quit_after = true; /* answered once the transfer is over */
        return 0;
    }
    if (!strcmp(verb, "NOOP"))
        return ftpd_session_reply(s, 200, "NOOP ok.");
    return ftpd_session_reply(s, 503, "Transfer in progress: only ABOR, STAT "
                              "and QUIT are accepted now.");
}

/* --- the handler class ------------------------------------------------ */

static void session_configure(ss_handler *h)
{
    SS_SUPER(&ftpd_session_class, configure)(h);
    ss_stream_handler *sh = (ss_stream_handler *)h;
    ftpd_ctx *ctx = h->server->data;
    /* Commands are short: 512 bytes take most in one read, and longer
     * lines (up to max_line) are read in pieces.  The buffer stays for
     * the session's life, so its size is paid by every idle session. */
    sh->rbufsize = 512;
    sh->wbufsize = 0; /* every reply leaves at once */
    /* The socket timeout bounds one blocked recv/send (a client that sends
     * half a line and stalls); the idle timeout between commands is the
     * poll in ftpd_session_read_line. */
    sh->timeout = ctx->cfg.idle_timeout;
    int fam = ss_addr_family(&h->server->server_address);
    sh->disable_nagle_algorithm = fam == AF_INET || fam == AF_INET6;
}

static void link_session(ftpd_session *s)
{
    ftpd_ctx *ctx = s->ctx;
    pthread_mutex_lock(&ctx->lock);
    s->next = ctx->sessions;
    if (ctx->sessions)
        ctx->sessions->prev = s;
    ctx->sessions = s;
    pthread_mutex_unlock(&ctx->lock);
}

static void unlink_session(ftpd_session *s)
{
    ftpd_ctx *ctx = s->ctx;
    pthread_mutex_lock(&ctx->lock);
    if (s->prev)
        s->prev->next = s->next;
    else if (ctx->sessions == s)
        ctx->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    pthread_mutex_unlock(&ctx->lock);
}

static int session_setup(ss_handler *h, ss_error *err)
{
    ftpd_session *s = S(h);
    s->ctx = h->server->data;
    int rc = SS_SUPER(&ftpd_session_class, setup)(h, err);
    if (rc < 0) {
        ftpd_connlimit_release(s->ctx->limits, &h->client_address);
        return rc;
    }
    if (getpid() != s->ctx->main_pid) {
        /* A forked session: the parent's signal handlers (libuv's) would
         * report our signals to the parent's loop.  SIGTERM ends this
         * process (the parent sends it after the grace period); SIGINT
         * from a terminal goes to the parent, which shuts down gracefully. */
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        /* A session dies with its server (kill -9 of the main process): a
         * server started afterwards could not see what an orphan still
         * writes, so its quota counts and session limits would be wrong.
         * The fork came from the main thread, which lives as long as the
         * process, so the signal means the process is gone. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
            getppid() != s->ctx->main_pid) {
            ftpd_connlimit_release(s->ctx->limits, &h->client_address);
            return ss_error_set(err, -ESRCH, "session: the server is gone");
        }
    }
    int one = 1;
    setsockopt(s->base.connection, SOL_SOCKET, SO_OOBINLINE, &one, sizeof one);
    /* Non-blocking from now on: every wait is a poll with a deadline
     * (guard_io), also inside TLS records. */
    int fl = fcntl(s->base.connection, F_GETFL);
    if (fl >= 0)
        fcntl(s->base.connection, F_SETFL, fl | O_NONBLOCK);
    ss_transport_init_fd(&s->base.transport, s->base.connection);
    ftpd_session_wrap_io(s);
    /* Implicit FTPS: the library did the handshake before this session. */
    s->implicit_tls = s->base.tls != NULL;
    if (s->implicit_tls)
        s->pbsz = s->prot_p = true; /* the data is protected by default */
    {
        const ss_addr *la = &h->server->server_address;
        int lf = ss_addr_family(la);
        bool local = lf == AF_UNIX || ss_addr_is_loopback(la);
        ftpd_tls_req r = s->ctx->cfg.require_tls;
        s->tls_required = s->ctx->tls_on &&
                          (r == FTPD_TLS_REQ_YES ||
                           (r == FTPD_TLS_REQ_AUTO && !local));
    }
    s->local.len = sizeof s->local.sa;
    if (getsockname(s->base.connection, (struct sockaddr *)&s->local.sa,
                    &s->local.len) < 0)
        s->local.len = 0;
    ss_addr_format(&h->client_address, s->client, sizeof s->client);
    s->line = malloc(s->ctx->cfg.max_line + 1);
    if (!s->line) {
        ftpd_connlimit_release(s->ctx->limits, &h->client_address);
        return ss_error_set(err, -ENOMEM, "session: out of memory");
    }
    s->vfs.root_fd = -1;
    s->quota.store = NULL; /* not attached */
    s->rate.slot = -1;
    s->hash_algo = FTPD_DIGEST_SHA256;
    s->mlst_facts = 0x1fu; /* FTPD_MLST_DEFAULT */
    ftpd_datachan_init(&s->dc, s->ctx->limits, &h->client_address);
    link_session(s);
    return 0;
}

static int session_handle(ss_handler *h, ss_error *err)
{
    (void)err;
    ftpd_session *s = S(h);
    /* Behind a balancer: the client is the PROXY header's; say which
     * balancer brought it. */
    const ss_proxy_info *pi = ss_request_proxy(h->request);
    char via[SS_ADDRSTRLEN + 8] = "", bal[SS_ADDRSTRLEN];
    if (pi)
        snprintf(via, sizeof via, " via=%s",
                 ss_addr_format(&pi->balancer, bal, sizeof bal));
    if (s->implicit_tls)
        ftpd_log(&s->ctx->log, "session start client=%s%s tls=implicit "
                 "version=%s cipher=%s", s->client, via,
                 ss_tls_conn_version(s->base.tls),
                 ss_tls_conn_cipher(s->base.tls));
    else
        ftpd_log(&s->ctx->log, "session start client=%s%s", s->client, via);
    if (ftpd_session_reply(s, 220, "%s", s->ctx->cfg.banner) < 0)
        return 0;
    while (!s->quit) {
        size_t len = 0;
        int rc = ftpd_session_read_line(s, &len);
        if (rc == -E2BIG) {
            if (ftpd_session_reply(s, 500, "Command line too long.") < 0)
                break;
            continue;
        }
        if (rc <= 0)
            break;
        if (len == 0) { /* an empty line: nothing to run */
            if (ftpd_session_reply(s, 500, "Empty command.") < 0)
                break;
            continue;
        }
        if (ftpd_command_dispatch(s, s->line, len) < 0)
            break;
    }
    /* A peer that went away is how sessions usually end: not an error. */
    return 0;
}

static int session_finish(ss_handler *h, ss_error *err)
{
    ftpd_session *s = S(h);
    ftpd_datachan_reset(&s->dc);
    ftpd_store_quota_detach(&s->quota);
    ftpd_rate_detach(&s->rate);
    ftpd_store_slot_release(s->ctx->store, &s->slot);
    ftpd_vfs_close(&s->vfs);
    free(s->rnfr);
    s->rnfr = NULL;
    unlink_session(s);
    ftpd_connlimit_release(s->ctx->limits, &h->client_address);
    ftpd_log(&s->ctx->log, "session end client=%s user=%s", s->client,
             s->logged_in ? s->user : "-");
    free(s->line);
    s->line = NULL;
    return SS_SUPER(&ftpd_session_class, finish)(h, err);
}

const ss_handler_class ftpd_session_class = {
    .base = &ss_stream_request_handler_class,
    .name = "FtpSession",
    .instance_size = sizeof(ftpd_session),
    .configure = session_configure,
    .setup = session_setup,
    .handle = session_handle,
    .finish = session_finish,
};
