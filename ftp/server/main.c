/* ftp/server/main.c - sockserv-ftpd: options, first run, one libsockserv
 * server per listener, signals, graceful shutdown.
 *
 * Concurrency comes only from libsockserv: each listener is an ss_server of
 * a ThreadingMixIn (default) or ForkingMixIn class, subclassed here only to
 * refuse sessions past the limits with 421 (verify_request).  All listeners
 * are attached to one libuv loop run by this thread (ss_server_attach), so
 * one thread accepts on every address and the same loop receives SIGTERM,
 * SIGINT and SIGHUP (uv_signal: no work in a signal handler).
 *
 * Shutdown (SIGTERM/SIGINT): detach every listener and shut it down, so
 * new connections are refused at once (a balancer's check sees the node
 * down; an inherited socket only stops being watched), write
 * the stop pipe (idle sessions answer 421 and end; transfers run on), wait
 * up to grace_period for the sessions to end, then cut the rest short
 * (threads: their control connections are shut down; forked sessions get
 * SIGTERM), close the servers (which wait for their threads or children)
 * and exit 0.
 *
 * systemd: inherited listening sockets (socket activation, activation.h)
 * replace the listen settings, one listener each ("ftps" names an implicit
 * FTPS one); READY=1, RELOADING=1 around SIGHUP, STOPPING=1 and watchdog
 * pings go to $NOTIFY_SOCKET (notify.h).
 *
 * Upgrade (SIGUSR2): the program at the same path is started on the same
 * listening sockets (upgrade.h).  Once it says READY=1 this process stops
 * accepting and exits when its last session has ended; sessions and
 * transfers it runs are not cut short.  If the new process fails or is not
 * ready in time, this one logs why and keeps serving.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <sockserv/sockserv.h>

#include "config.h"
#include "dbcli.h"
#include "metrics.h"
#include "protocol/session.h"
#include "protocol/xferlog.h"
#include "store/connlimit.h"
#include "store/passwd.h"
#include "store/store.h"
#include "store/users.h"
#include "tls/ftps.h"
#include "usercli.h"

#define PROG "sockserv-ftpd"

/* --- the server classes: the library's mixin classes + verify_request -- */

static bool refuse(ss_server *srv, ss_request *req, const ss_addr *client)
{
    ftpd_ctx *ctx = srv->data;
    const char *msg, *why;
    int r = FTPD_CL_OK;
    if (ftpd_store_guard_banned(ctx->store, client, NULL, NULL) > 0) {
        /* Checked before a session, a thread or a process is spent. */
        msg = "421 Too many failed logins from your address; try later.\r\n";
        why = "banned";
    } else {
        r = ftpd_connlimit_acquire(ctx->limits, client);
        if (r == FTPD_CL_OK)
            return true;
        msg = r == FTPD_CL_FULL ? "421 Too many sessions, try again later.\r\n"
                                : "421 Too many sessions from your address.\r\n";
        why = r == FTPD_CL_FULL ? "max_sessions" : "max_sessions_per_ip";
    }
    /* A fresh socket's send buffer is empty: this never blocks.  An
     * implicit FTPS client expects a TLS handshake: no plaintext for it. */
    if (!ss_server_get_tls(srv) &&
        send(req->fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* the client is gone already; nothing to tell */
    }
    char addr[SS_ADDRSTRLEN];
    ftpd_log(&ctx->log, "session refused client=%s reason=%s",
             ss_addr_format(client, addr, sizeof addr), why);
    return false;
}

/* A connection the library gave up on (a refused PROXY header, a failed
 * implicit TLS handshake, a session error) goes to the server's log, not
 * to stderr. */
static void log_error(ss_server *srv, ss_request *req, const ss_addr *client,
                      const ss_error *err)
{
    ftpd_ctx *ctx = srv->data;
    const ss_proxy_info *pi = ss_request_proxy(req);
    char addr[SS_ADDRSTRLEN], via[SS_ADDRSTRLEN];
    ftpd_log(&ctx->log, "connection error client=%s%s%s: %s",
             ss_addr_format(client, addr, sizeof addr), pi ? " via=" : "",
             pi ? ss_addr_format(&pi->balancer, via, sizeof via) : "",
             err->msg[0] ? err->msg : ss_strerror(err->code));
}

#define FTPD_SERVER_CLASS(var, basecls, cname)                                 \
    static const ss_server_class var;                                          \
    static bool var##_verify(ss_server *srv, ss_request *req,                  \
                             const ss_addr *client)                            \
    {                                                                          \
        if (!SS_SUPER(&var, verify_request)(srv, req, client))                 \
            return false;                                                      \
        return refuse(srv, req, client);                                       \
    }                                                                          \
    static const ss_server_class var = {                                       \
        .base = &basecls, .name = cname, .verify_request = var##_verify,       \
        .handle_error = log_error}

FTPD_SERVER_CLASS(ftpd_threading_tcp, ss_threading_tcp_server_class,
                  "FtpdThreadingTCPServer");
FTPD_SERVER_CLASS(ftpd_threading_unix, ss_threading_unix_stream_server_class,
                  "FtpdThreadingUnixServer");
FTPD_SERVER_CLASS(ftpd_forking_tcp, ss_forking_tcp_server_class,
                  "FtpdForkingTCPServer");
FTPD_SERVER_CLASS(ftpd_forking_unix, ss_forking_unix_stream_server_class,
                  "FtpdForkingUnixServer");

/* --- the application ---------------------------------------------------- */

typedef struct app {
    ftpd_ctx ctx;
    ss_server servers[2 * FTPD_MAX_LISTEN];
    bool implicit[2 * FTPD_MAX_LISTEN];
    bool adopted[2 * FTPD_MAX_LISTEN]; /* inherited, not bound here */
    size_t nservers;
    ftpd_metrics metrics; /* the Prometheus page, when metrics_listen is set */
    uv_loop_t loop;
    uv_signal_t sig_term, sig_int, sig_hup, sig_usr2;
    uv_timer_t tick;
    uv_timer_t heartbeat; /* the store's tick (store.h) */
    bool stopping;
    double deadline;
    /* systemd and upgrades */
    ss_notifier notifier;
    ss_listen_fds inherited;
    uv_timer_t watchdog;
    char exe[PATH_MAX]; /* what SIGUSR2 starts, resolved at start */
    char **argv;
    ss_upgrade up;
    uv_timer_t up_timer; /* looks at the new process until it is ready */
    bool upgrading;      /* a new process is starting */
    bool retiring;       /* it took over: finish the sessions and exit */
    bool handed_over;    /* the new process is the service (and owns the
                            unix socket files) */
} app;

#define UPGRADE_TIMEOUT_S 30.0

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " [options]\n"
            "       " PROG " [--data-dir DIR | --config FILE] user add NAME "
            "--home DIR [--quota SIZE]\n"
            "                [--upload-rate RATE] [--download-rate RATE]\n"
            "       " PROG " [...] user mod NAME [--quota SIZE] [--upload-rate RATE]\n"
            "                [--download-rate RATE]\n"
            "       " PROG " [...] user passwd NAME | user del NAME | user list\n"
            "       " PROG " --config FILE db init   (database_url's schema)\n"
            "options:\n"
            "  --config FILE        read key = value settings (doc/ftpd.md)\n"
            "  --listen ADDR        HOST:PORT, [V6]:PORT or unix:PATH; repeatable\n"
            "                       (default 127.0.0.1:2121)\n"
            "  --listen-implicit ADDR  an implicit FTPS listener (TLS from the\n"
            "                       first byte, conventionally port 990);\n"
            "                       sockets inherited from systemd (or an\n"
            "                       upgrade, SIGUSR2) replace both\n"
            "  --data-dir DIR       default ./var/ftp\n"
            "  --users-file FILE    default DATA_DIR/users\n"
            "  --forking | --threading   concurrency (default threading)\n"
            "  --log-file FILE      default stderr\n"
            "  --set KEY=VALUE      any config key\n"
            "  --help\n");
}

static int flag_error(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    return 2;
}

/* Parses the options before an optional "user" or "db" subcommand.
 * Returns -1 to go on, else an exit status.  *sub gets the index of the
 * subcommand or 0. */
static int parse_args(int argc, char **argv, ftpd_config *c, int *sub)
{
    char err[FTPD_CONFIG_ERR_MAX];
    *sub = 0;
    /* The config file first, so that flags override it. */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "user") || !strcmp(argv[i], "db"))
            break;
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc)
                return flag_error("--config needs a file%s%s", "", "");
            if (ftpd_config_load(c, argv[i + 1], err, sizeof err) < 0) {
                fprintf(stderr, "%s\n", err);
                return 2;
            }
            i++;
        }
    }
    bool listen_flag = false, implicit_flag = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char *key = NULL;
        if (!strcmp(a, "user") || !strcmp(a, "db")) {
            *sub = i;
            break;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--config")) {
            i++;
            continue;
        } else if (!strcmp(a, "--forking") || !strcmp(a, "--threading")) {
            c->concurrency = a[2] == 'f' ? FTPD_FORKING : FTPD_THREADING;
            continue;
        } else if (!strcmp(a, "--listen")) {
            key = "listen";
            if (!listen_flag) { /* flags replace the file's listeners */
                c->nlisten = 0;
                listen_flag = true;
            }
        } else if (!strcmp(a, "--listen-implicit")) {
            key = "listen_implicit";
            if (!implicit_flag) {
                c->nlisten_implicit = 0;
                implicit_flag = true;
            }
        } else if (!strcmp(a, "--data-dir")) {
            key = "data_dir";
        } else if (!strcmp(a, "--users-file")) {
            key = "users_file";
        } else if (!strcmp(a, "--log-file")) {
            key = "log_file";
        } else if (!strcmp(a, "--set")) {
            if (!v || !strchr(v, '='))
                return flag_error("--set needs KEY=VALUE%s%s", "", "");
            char kv[FTPD_PATH_MAX + 64];
            snprintf(kv, sizeof kv, "%s", v);
            char *eq = strchr(kv, '=');
            *eq = '\0';
            if (ftpd_config_set(c, kv, eq + 1, "--set", err, sizeof err) < 0) {
                fprintf(stderr, PROG ": %s\n", err);
                return 2;
            }
            i++;
            continue;
        } else {
            usage(stderr);
            return flag_error("unknown option '%s'%s", a, "");
        }
        if (!v)
            return flag_error("%s needs a value%s", a, "");
        char where[64];
        snprintf(where, sizeof where, "%s", a);
        if (ftpd_config_set(c, key, v, where, err, sizeof err) < 0) {
            fprintf(stderr, PROG ": %s\n", err);
            return 2;
        }
        i++;
    }
    if (ftpd_config_finish(c, err, sizeof err) < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return 2;
    }
    return -1;
}

static int mkdirs(const char *path, mode_t mode)
{
    char tmp[FTPD_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* A password of 16 letters and digits, uniform (rejection sampling). */
static int random_password(char *out, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    const size_t k = sizeof alphabet - 1;
    size_t o = 0;
    while (o < n) {
        unsigned char b[32];
        if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
            return -1;
        for (size_t i = 0; i < sizeof b && o < n; i++)
            if (b[i] < 256 - 256 % k)
                out[o++] = alphabet[b[i] % k];
    }
    out[o] = '\0';
    return 0;
}

/* First run: no users file yet.  Creates user demo with a random password
 * printed once, and a curl line for the first listener. */
static int first_run(app *a)
{
    ftpd_config *c = &a->ctx.cfg;
    struct stat st;
    /* A shared store's accounts are made with "user add" against it. */
    if (c->database_url[0])
        return 0;
    if (stat(c->users_file, &st) == 0 || errno != ENOENT)
        return 0;
    char data_real[PATH_MAX];
    if (!realpath(c->data_dir, data_real)) {
        fprintf(stderr, PROG ": %s: %s\n", c->data_dir, strerror(errno));
        return -1;
    }
    ftpd_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "demo");
    int n = snprintf(u.home, sizeof u.home, "%s/home/demo", data_real);
    if (n < 0 || (size_t)n >= sizeof u.home || mkdirs(u.home, 0750) < 0) {
        fprintf(stderr, PROG ": cannot create %s/home/demo\n", data_real);
        return -1;
    }
    u.quota = c->demo_quota;
    char pw[17];
    if (random_password(pw, 16) < 0 ||
        ftpd_passwd_hash(pw, strlen(pw), u.hash, sizeof u.hash) < 0) {
        fprintf(stderr, PROG ": cannot make a password\n");
        return -1;
    }
    char err[512];
    if (ftpd_store_user_add(a->ctx.store, &u, err, sizeof err) < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return -1;
    }
    char addr[SS_ADDRSTRLEN] = "127.0.0.1:2121";
    bool v6 = false;
    for (size_t i = 0; i < a->nservers; i++) {
        int fam = ss_addr_family(&a->servers[i].server_address);
        if (fam == AF_INET || fam == AF_INET6) {
            ss_addr_format(&a->servers[i].server_address, addr, sizeof addr);
            v6 = fam == AF_INET6;
            break;
        }
    }
    char quota[32];
    ftpd_size_format(u.quota, quota, sizeof quota);
    printf("first run: created %s and user 'demo' (home %s, quota %s)\n",
           c->data_dir, u.home, quota);
    printf("password for demo (shown only now): %s\n", pw);
    printf("try:  curl %s-u demo:%s ftp://%s/\n", v6 ? "-g " : "", pw, addr);
    printf("      curl %s-u demo:%s -T FILE ftp://%s/\n", v6 ? "-g " : "", pw,
           addr);
    if (a->ctx.tls_on)
        printf("      curl %s--ssl-reqd -k -u demo:%s ftp://%s/   (FTPS; -k "
               "because the certificate is self-signed)\n", v6 ? "-g " : "",
               pw, addr);
    printf("change the password with: " PROG " user passwd demo\n");
    fflush(stdout);
    explicit_bzero(pw, sizeof pw);
    return 0;
}

static void close_cb(uv_handle_t *h) { (void)h; }

static void finish_shutdown(app *a)
{
    ftpd_ctx *ctx = &a->ctx;
    unsigned live = ftpd_connlimit_active(ctx->limits);
    if (live > 0) {
        ftpd_log(&ctx->log, "grace period over: ending %u session(s)", live);
        pthread_mutex_lock(&ctx->lock);
        for (ftpd_session *s = ctx->sessions; s; s = s->next)
            shutdown(s->base.connection, SHUT_RDWR);
        pthread_mutex_unlock(&ctx->lock);
        for (size_t i = 0; i < a->nservers; i++) {
            if (ctx->cfg.concurrency != FTPD_FORKING)
                continue;
            pid_t pids[1024];
            size_t n = ss_forking_active_children(&a->servers[i], pids, 1024);
            for (size_t k = 0; k < n && k < 1024; k++)
                kill(pids[k], SIGTERM);
        }
    }
    /* The page reads the listeners' figures: it goes first. */
    ftpd_metrics_stop(&a->metrics);
    for (size_t i = 0; i < a->nservers; i++) {
        const char *path = NULL;
        ss_addr *sa = &a->servers[i].server_address;
        char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1] = "";
        if (ss_addr_family(sa) == AF_UNIX) {
            snprintf(unix_path, sizeof unix_path, "%s",
                     ((struct sockaddr_un *)&sa->sa)->sun_path);
            path = unix_path;
        }
        ss_server_close(&a->servers[i]);
        /* The socket file stays while a new process serves on it. */
        if (path && *path && !a->handed_over)
            unlink(path);
    }
    uv_close((uv_handle_t *)&a->tick, close_cb);
    uv_close((uv_handle_t *)&a->heartbeat, close_cb);
    uv_close((uv_handle_t *)&a->sig_term, close_cb);
    uv_close((uv_handle_t *)&a->sig_int, close_cb);
    uv_close((uv_handle_t *)&a->sig_hup, close_cb);
    uv_close((uv_handle_t *)&a->sig_usr2, close_cb);
    uv_close((uv_handle_t *)&a->watchdog, close_cb);
    uv_close((uv_handle_t *)&a->up_timer, close_cb);
    ftpd_log(&ctx->log, "stopped");
}

/* A store shared by nodes learns from this that the node is alive; its
 * failures are the store's to report (its calls from sessions fail too). */
static void on_heartbeat(uv_timer_t *t)
{
    app *a = t->data;
    ftpd_store_tick(a->ctx.store);
}

static void on_tick(uv_timer_t *t)
{
    app *a = t->data;
    if (a->ctx.cfg.concurrency == FTPD_FORKING)
        for (size_t i = 0; i < a->nservers; i++)
            ss_forking_collect_children(&a->servers[i], false);
    bool idle = ftpd_connlimit_active(a->ctx.limits) == 0;
    if (idle || uv_now(&a->loop) / 1000.0 >= a->deadline) {
        uv_timer_stop(t);
        finish_shutdown(a);
    }
}

static void end_upgrade(app *a)
{
    uv_timer_stop(&a->up_timer);
    ss_upgrade_close(&a->up);
    a->upgrading = false;
}

/* Draining: a listener that is only watched no more still completes TCP
 * handshakes into its backlog, so a balancer's check and new clients would
 * hang there until the grace period ends.  Shutting the listening socket
 * down (Linux: it leaves the LISTEN state, the port stays bound) refuses
 * them at once, so the balancer marks this node down and sends them
 * elsewhere, while the sessions already accepted go on.  Not for a socket
 * another process serves or will serve: one handed to a new process
 * (SIGUSR2), or one inherited from systemd, whose queue is for the next
 * start. */
static void refuse_new(app *a, size_t i)
{
    if (a->handed_over || a->adopted[i])
        return;
    int fd = ss_server_fileno(&a->servers[i]);
    if (fd >= 0 && shutdown(fd, SHUT_RD) < 0)
        ftpd_log(&a->ctx.log, "listener %zu still queues connections: %s", i,
                 strerror(errno));
}

static void begin_shutdown(app *a, int signum)
{
    if (a->stopping && !a->retiring)
        return;
    if (a->upgrading) { /* the new process is not ready: it is killed */
        ftpd_log(&a->ctx.log, "signal %d: upgrade abandoned", signum);
        end_upgrade(a);
    }
    ftpd_log(&a->ctx.log, "signal %d: shutting down (grace %.1f s)", signum,
             a->ctx.cfg.grace_period);
    if (!a->handed_over) /* else the new process is the service */
        ss_notify_stopping(&a->notifier, NULL);
    bool detached = a->stopping; /* a retiring process is detached */
    a->stopping = true;
    a->retiring = false;
    for (size_t i = 0; i < a->nservers && !detached; i++) {
        ss_server_detach(&a->servers[i]);
        refuse_new(a, i);
    }
    if (write(a->ctx.stop_wr, "x", 1) < 0) {
        /* the pipe is ours and empty: cannot fail in practice */
    }
    a->deadline = uv_now(&a->loop) / 1000.0 + a->ctx.cfg.grace_period;
    uv_timer_start(&a->tick, on_tick, 0, 20);
}

/* The new process is ready: stop accepting, let the sessions end on their
 * own (no 421, no grace period), then exit as a shutdown does. */
static void retire(app *a)
{
    pid_t pid = a->up.pid;
    end_upgrade(a);
    a->retiring = a->handed_over = true;
    a->stopping = true;
    for (size_t i = 0; i < a->nservers; i++)
        ss_server_detach(&a->servers[i]);
    ftpd_metrics_stop(&a->metrics); /* the new process serves the page */
    ftpd_log(&a->ctx.log, "upgrade: new process %ld is ready; finishing %u "
             "session(s) here", (long)pid, ftpd_connlimit_active(a->ctx.limits));
    printf("upgraded: new server pid %ld\n", (long)pid);
    fflush(stdout);
    a->deadline = 1e300; /* sessions end by themselves (idle_timeout) */
    uv_timer_start(&a->tick, on_tick, 0, 20);
}

static void on_upgrade_timer(uv_timer_t *t)
{
    app *a = t->data;
    ss_error err;
    int rc = ss_upgrade_check(&a->up, &err);
    if (rc > 0) {
        retire(a);
    } else if (rc < 0) {
        ftpd_log(&a->ctx.log, "upgrade failed, still serving: %s", err.msg);
        fprintf(stderr, PROG ": upgrade failed, still serving: %s\n", err.msg);
        end_upgrade(a);
    }
}

static void begin_upgrade(app *a)
{
    if (a->stopping || a->upgrading) {
        ftpd_log(&a->ctx.log, "SIGUSR2: ignored (%s)",
                 a->upgrading ? "an upgrade is running" : "stopping");
        return;
    }
    ss_upgrade_socket socks[2 * FTPD_MAX_LISTEN + 1];
    size_t n = 0;
    for (size_t i = 0; i < a->nservers; i++)
        socks[n++] = (ss_upgrade_socket){a->servers[i].socket,
                                         a->implicit[i] ? "ftps" : "ftp"};
    /* The page's port too: the new process could not bind it while this
     * one holds it. */
    if (a->metrics.started)
        socks[n++] = (ss_upgrade_socket){a->metrics.srv.socket, "metrics"};
    ss_error err;
    if (ss_upgrade_start(&a->up, a->exe, a->argv, socks, n,
                         &a->notifier, UPGRADE_TIMEOUT_S, &err) < 0) {
        ftpd_log(&a->ctx.log, "upgrade failed, still serving: %s", err.msg);
        return;
    }
    a->upgrading = true;
    ftpd_log(&a->ctx.log, "SIGUSR2: upgrade: started %s as pid %ld", a->exe,
             (long)a->up.pid);
    uv_timer_start(&a->up_timer, on_upgrade_timer, 10, 10);
}

static void on_signal(uv_signal_t *h, int signum)
{
    app *a = h->data;
    if (signum == SIGHUP) {
        ss_notify_reloading(&a->notifier, NULL);
        char err[512] = "";
        int rc = ftpd_store_reload(a->ctx.store, err, sizeof err);
        if (rc < 0)
            ftpd_log(&a->ctx.log, "SIGHUP: users file not reloaded: %s", err);
        else
            ftpd_log(&a->ctx.log, "SIGHUP: users file reloaded (%d users)",
                     rc);
        ss_notify_ready(&a->notifier, rc < 0 ? "users file not reloaded"
                                             : "users file reloaded", NULL);
        return;
    }
    if (signum == SIGUSR2) {
        begin_upgrade(a);
        return;
    }
    begin_shutdown(a, signum);
}

static void on_watchdog(uv_timer_t *t)
{
    app *a = t->data;
    ss_notifier_watchdog_tick(&a->notifier, NULL);
}

/* Threads kept between sessions (each holds two stack pages while it
 * waits, for at most thread_cache_idle). */
#define SESSION_THREAD_CACHE 32

static const ss_server_class *class_for(int family, ftpd_concurrency mode)
{
    bool unix_sock = family == AF_UNIX;
    if (mode == FTPD_FORKING)
        return unix_sock ? &ftpd_forking_unix : &ftpd_forking_tcp;
    return unix_sock ? &ftpd_threading_unix : &ftpd_threading_tcp;
}

/* One listener: bound to text, or (fd >= 0) on an inherited socket. */
static int start_one(app *a, const char *text, int fd, bool implicit)
{
    ftpd_config *c = &a->ctx.cfg;
    ss_addr addr;
    ss_error err;
    ss_error_clear(&err);
    int family = AF_UNSPEC;
    if (fd >= 0) {
        socklen_t len = sizeof family;
        getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len);
    } else if (ss_addr_parse(&addr, text, &err) < 0) {
        fprintf(stderr, PROG ": listen %s: %s\n", text, err.msg);
        return 2;
    } else {
        family = ss_addr_family(&addr);
    }
    ss_server *srv = &a->servers[a->nservers];
    if (ss_server_init(srv, class_for(family, c->concurrency),
                       fd >= 0 ? NULL : &addr, &ftpd_session_class, 0,
                       &err) < 0) {
        fprintf(stderr, PROG ": listen %s: %s\n", text, err.msg);
        return 1;
    }
    srv->data = &a->ctx;
    srv->allow_reuse_address = family != AF_UNIX;
    srv->block_on_close = true;
    srv->daemon_threads = false;
    /* Threading mode: a thread whose session ended runs the next one, so
     * the accepting thread does not create a thread per connection. */
    srv->thread_cache = SESSION_THREAD_CACHE;
    srv->max_children = c->max_sessions;
    /* Before TLS, on plain and implicit listeners alike: the balancer's
     * header comes in clear before the ClientHello. */
    if (c->proxy_protocol && ss_server_set_proxy(srv, &c->proxy) < 0) {
        fprintf(stderr, PROG ": listen %s: proxy_protocol needs trusted "
                "networks for an IP listener\n", text);
        ss_server_close(srv);
        return 2;
    }
    if (implicit && ss_server_set_tls(srv, &a->ctx.tls) < 0) {
        fprintf(stderr, PROG ": listen %s: implicit TLS needs a stream "
                "listener\n", text);
        ss_server_close(srv);
        return 2;
    }
    if ((fd >= 0 ? ss_server_adopt(srv, fd, &err)
                 : ss_server_bind_and_activate(srv, &err)) < 0) {
        fprintf(stderr, PROG ": listen %s: %s\n", text, err.msg);
        return fd >= 0 ? 2 : 1;
    }
    a->implicit[a->nservers] = implicit;
    a->adopted[a->nservers] = fd >= 0;
    a->nservers++;
    return 0;
}

static int start_servers(app *a)
{
    ftpd_config *c = &a->ctx.cfg;
    int rc;
    ss_listen_fds *lf = &a->inherited;
    if (lf->count > 0) {
        /* Socket activation or an upgrade: these replace the listen
         * settings.  "ftps" names an implicit FTPS listener. */
        if (lf->count > 2 * FTPD_MAX_LISTEN) {
            fprintf(stderr, PROG ": %u inherited sockets, at most %d\n",
                    lf->count, 2 * FTPD_MAX_LISTEN);
            return 2;
        }
        for (unsigned i = 0; i < lf->count; i++) {
            char what[300];
            const char *name = ss_listen_fds_name(lf, i);
            if (strcmp(name, "metrics") == 0) /* the metrics page's */
                continue;
            bool implicit = strcmp(name, "ftps") == 0;
            snprintf(what, sizeof what, "inherited fd %d (%s)", lf->fd[i], name);
            if (implicit && !a->ctx.tls_on) {
                fprintf(stderr, PROG ": %s: implicit FTPS needs tls = on\n",
                        what);
                return 2;
            }
            int fd = ss_listen_fds_take(lf, name);
            if ((rc = start_one(a, what, fd, implicit)) != 0)
                return rc;
        }
        return 0;
    }
    for (size_t i = 0; i < c->nlisten; i++)
        if ((rc = start_one(a, c->listen[i], -1, false)) != 0)
            return rc;
    for (size_t i = 0; i < c->nlisten_implicit; i++)
        if ((rc = start_one(a, c->listen_implicit[i], -1, true)) != 0)
            return rc;
    return 0;
}

/* Started as root: become run_as once the listeners are bound, the TLS key
 * read and the log opened, so a session never runs with root's rights.
 * No supplementary groups are kept, and no exec can gain privileges
 * again (no_new_privs).  Returns 0 or -1 with a message printed. */
static int drop_privileges(const ftpd_config *c, ftpd_logger *log)
{
    bool root = geteuid() == 0;
    if (!c->run_as[0]) {
        if (root)
            ftpd_log(log, "warning: running as root; set run_as to an "
                     "unprivileged user");
        return 0;
    }
    errno = 0;
    struct passwd *pw = getpwnam(c->run_as);
    if (!pw) {
        fprintf(stderr, PROG ": run_as: no user '%s'\n", c->run_as);
        return -1;
    }
    if (!root) {
        if (geteuid() == pw->pw_uid)
            return 0;
        fprintf(stderr, PROG ": run_as %s: only root can change user\n",
                c->run_as);
        return -1;
    }
    gid_t gid = pw->pw_gid;
    uid_t uid = pw->pw_uid;
    if (uid == 0) {
        fprintf(stderr, PROG ": run_as must not be root\n");
        return -1;
    }
    if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
        setresuid(uid, uid, uid) < 0) {
        fprintf(stderr, PROG ": run_as %s: %s\n", c->run_as, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0 || seteuid(0) == 0) {
        fprintf(stderr, PROG ": run_as %s: root could be regained\n",
                c->run_as);
        return -1;
    }
    ftpd_log(log, "running as %s (uid %u, gid %u)", c->run_as, (unsigned)uid,
             (unsigned)gid);
    return 0;
}

int main(int argc, char **argv)
{
    static app a; /* large (servers, config): not on the stack */
    ftpd_config *c = &a.ctx.cfg;
    ftpd_config_defaults(c);
    int sub;
    int rc = parse_args(argc, argv, c, &sub);
    if (rc >= 0)
        return rc;
    if (sub && !strcmp(argv[sub], "db"))
        return ftpd_dbcli_main(argc - sub, argv + sub, c);
    if (sub) {
        /* `user add` on a new machine: the data dir (where the users file
         * and its lock live) may not exist yet, as on the first run. */
        if (sub + 1 < argc && strcmp(argv[sub + 1], "add") == 0 &&
            mkdirs(c->data_dir, 0750) < 0) {
            fprintf(stderr, PROG ": data_dir %s: %s\n", c->data_dir,
                    strerror(errno));
            return 1;
        }
        return ftpd_usercli_main_config(argc - sub, argv + sub, c);
    }

    signal(SIGPIPE, SIG_IGN); /* a data peer that leaves is an EPIPE */
    /* A fixed mmap threshold.  glibc raises it, by default, to the size of
     * any mmap'd block freed (up to 32 MiB), so after the first login the
     * KDF's scratch (1 MiB at the test cost, 16 MiB at the default) comes
     * from the thread's malloc arena and stays there: with a thread per
     * session that kept 35 KiB per idle session at the test cost, and up
     * to 16 MiB per arena at the default.  Pinned, such blocks are
     * mmap'd and given back at once (doc/performance.md). */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    char err[1024];
    /* Before any thread: these read and unset environment variables. */
    ss_error serr;
    if (ss_notifier_init(&a.notifier, 0, &serr) < 0)
        fprintf(stderr, PROG ": %s (not notifying)\n", serr.msg);
    if (ss_listen_fds_init(&a.inherited, 0, &serr) < 0) {
        fprintf(stderr, PROG ": %s\n", serr.msg);
        return 2;
    }
    /* What SIGUSR2 starts: this path, resolved now (argv[0] may be
     * relative); if the file was replaced, the new one. */
    ssize_t exe_len = readlink("/proc/self/exe", a.exe, sizeof a.exe - 1);
    a.exe[exe_len > 0 ? exe_len : 0] = '\0';
    char *deleted = strstr(a.exe, " (deleted)");
    if (deleted && deleted[10] == '\0')
        *deleted = '\0';
    a.argv = argv;
    if (mkdirs(c->data_dir, 0750) < 0) {
        fprintf(stderr, PROG ": data_dir %s: %s\n", c->data_dir, strerror(errno));
        return 1;
    }
    ftpd_ctx *ctx = &a.ctx;
    ctx->main_pid = getpid();
    pthread_mutex_init(&ctx->lock, NULL);
    if (ftpd_log_open(&ctx->log, c->log_file, c->xferlog_file, err,
                      sizeof err) < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        perror(PROG ": pipe");
        return 1;
    }
    ctx->stop_rd = p[0];
    ctx->stop_wr = p[1];
    ctx->limits = ftpd_connlimit_create(c->max_sessions, c->max_sessions_per_ip);
    if (!ctx->limits) {
        perror(PROG ": session table");
        return 1;
    }
    ftpd_connlimit_set_pasv_limit(ctx->limits, c->max_pasv_listeners);
    /* Core dumps could hold password hashes and the TLS key. */
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    if (c->tls) {
        bool made;
        char fp[128], cert[FTPD_PATH_MAX];
        if (ftpd_ftps_init(&ctx->tls, c, &made, fp, sizeof fp, cert,
                           sizeof cert, err, sizeof err) < 0) {
            fprintf(stderr, PROG ": %s\n", err);
            return 1;
        }
        ctx->tls_on = true;
        if (made) {
            printf("tls: generated a self-signed certificate %s\n", cert);
            printf("tls: SHA-256 fingerprint %s\n", fp);
        }
        ftpd_log(&ctx->log, "tls certificate %s sha256=%s", cert, fp);
    }
    /* Before any session and any fork: the file store's tables are
     * shared memory every forked session inherits. */
    if ((rc = ftpd_store_open(c, &ctx->store, err, sizeof err)) < 0) {
        fprintf(stderr, PROG ": store: %s\n", err);
        return 1;
    }
    /* Each slot in use has a live session: max_sessions slots always do. */
    if ((rc = ftpd_rate_table_create(&ctx->rate, c->max_sessions)) < 0) {
        fprintf(stderr, PROG ": rate table: %s\n", strerror(-rc));
        return 1;
    }
    if (!(ctx->counters = ftpd_counters_create())) {
        perror(PROG ": counters");
        return 1;
    }
    rc = start_servers(&a);
    if (rc != 0) {
        ss_listen_fds_close(&a.inherited);
        return rc;
    }
    if (c->metrics_listen[0] &&
        ftpd_metrics_open(&a.metrics, c->metrics_listen,
                          ss_listen_fds_take(&a.inherited, "metrics"), ctx,
                          a.servers,
                          a.nservers, err, sizeof err) < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    ss_listen_fds_close(&a.inherited); /* what nothing here took */
    if (first_run(&a) < 0)
        return 1;
    if (drop_privileges(c, &ctx->log) < 0)
        return 1;
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (ftpd_store_reload(ctx->store, err, sizeof err) < 0)
        ftpd_log(&ctx->log, "users file: %s (no logins until it is fixed)", err);

    uv_loop_init(&a.loop);
    uv_timer_init(&a.loop, &a.tick);
    a.tick.data = &a;
    uv_timer_init(&a.loop, &a.watchdog);
    a.watchdog.data = &a;
    uv_timer_init(&a.loop, &a.heartbeat);
    a.heartbeat.data = &a;
    uv_timer_start(&a.heartbeat, on_heartbeat, 1000, 1000);
    uv_timer_init(&a.loop, &a.up_timer);
    a.up_timer.data = &a;
    uv_signal_t *sigs[] = {&a.sig_term, &a.sig_int, &a.sig_hup, &a.sig_usr2};
    int signums[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR2};
    for (int i = 0; i < 4; i++) {
        uv_signal_init(&a.loop, sigs[i]);
        sigs[i]->data = &a;
        uv_signal_start(sigs[i], on_signal, signums[i]);
    }
    for (size_t i = 0; i < a.nservers; i++) {
        if ((rc = ss_server_attach(&a.servers[i], &a.loop, 0.5)) < 0) {
            fprintf(stderr, PROG ": attach: %s\n", ss_strerror(rc));
            return 1;
        }
    }
    if (a.metrics.started &&
        (rc = ftpd_metrics_attach(&a.metrics, &a.loop)) < 0) {
        fprintf(stderr, PROG ": metrics: attach: %s\n", ss_strerror(rc));
        return 1;
    }
    /* Plain listeners first: scripts take the first "listening on". */
    for (size_t i = 0; i < a.nservers; i++) {
        char addr[SS_ADDRSTRLEN];
        ss_addr_format(&a.servers[i].server_address, addr, sizeof addr);
        printf("listening on %s%s\n", a.implicit[i] ? "ftps://" : "", addr);
        ftpd_log(&ctx->log, "listening on %s (%s%s)", addr,
                 c->concurrency == FTPD_FORKING ? "forking" : "threading",
                 a.implicit[i] ? ", implicit TLS" : "");
    }
    if (a.metrics.started) {
        char addr[SS_ADDRSTRLEN];
        ss_addr_format(&a.metrics.srv.server_address, addr, sizeof addr);
        printf("metrics on http://%s/metrics\n", addr);
        ftpd_log(&ctx->log, "metrics on http://%s/metrics", addr);
    }
    fflush(stdout);
    /* Listening and watched: ready for systemd, or for the old process
     * of an upgrade. */
    char status[64];
    snprintf(status, sizeof status, "%zu listener(s)", a.nservers);
    if (ss_notify_ready(&a.notifier, status, &serr) < 0)
        ftpd_log(&ctx->log, "notify: %s", serr.msg);
    uint64_t wd = ss_notifier_watchdog_usec(&a.notifier);
    if (wd > 0) { /* every quarter: a ping is never later than half */
        uint64_t ms = wd / 4000 ? wd / 4000 : 1;
        uv_timer_start(&a.watchdog, on_watchdog, 0, ms);
    }

    uv_run(&a.loop, UV_RUN_DEFAULT);
    /* Closing the loop needs every handle closed: the servers' watchers
     * were closed by detach; run once more for their close callbacks. */
    uv_run(&a.loop, UV_RUN_DEFAULT);
    uv_loop_close(&a.loop);

    ftpd_store_close(ctx->store);
    ftpd_rate_table_destroy(ctx->rate);
    ftpd_connlimit_destroy(ctx->limits);
    ftpd_counters_destroy(ctx->counters);
    if (ctx->tls_on)
        ss_tls_context_close(&ctx->tls);
    close(ctx->stop_rd);
    close(ctx->stop_wr);
    ss_notifier_close(&a.notifier);
    ftpd_log_close(&ctx->log);
    return 0;
}
