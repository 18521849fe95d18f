/* examples/echo/echo_server.c - an echo server over any of the twelve
 * socketserver classes: --proto picks TCP or UDP, --mode the concurrency
 * mixin, and a unix: address the unix-domain variant of the class.
 *
 * Signals: SIGINT and SIGTERM are blocked in every thread (the library's
 * request threads inherit the mask) and taken by one thread with sigwait(),
 * which has ss_server_shutdown() called: no work is done in a signal handler.
 * The main thread then closes the server, which waits for the running
 * requests, removes the unix socket file and exits 0.
 *
 * Started by systemd (socket activation, Type=notify) or by an upgrade, it
 * serves on the inherited socket (activation.h) and reports READY=1,
 * STOPPING=1 and watchdog pings (notify.h).  SIGUSR2 upgrades in place
 * (upgrade.h): the binary at the same path is started on the same socket,
 * and once it is ready this process stops accepting, finishes its requests
 * and exits.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sockserv/sockserv.h>

#include "cli.h"
#include "echo_handler.h"

#define DEFAULT_LISTEN "127.0.0.1:9999"

static const char usage[] =
    "usage: echo-server [--listen ADDR] [--proto tcp|udp]\n"
    "                   [--mode sync|threading|forking|pool|uv] [--verbose]\n"
    "                   [--workers N] [--queue N]\n"
    "                   [--tls-cert FILE --tls-key FILE]\n"
    "                   [--upgrade-timeout SECONDS]\n"
    "\n"
    "Echoes every byte (tcp) or every datagram (udp) back to its sender.\n"
    "\n"
    "  --listen ADDR   HOST:PORT, [IPV6]:PORT or unix:PATH (default "
    DEFAULT_LISTEN ");\n"
    "                  port 0 picks a free port\n"
    "  --proto P       tcp (default) or udp; with a unix: address, a stream\n"
    "                  or a datagram unix socket\n"
    "  --mode M        sync: one request at a time; threading (default): a\n"
    "                  thread per request; forking: a process per request;\n"
    "                  pool: a fixed set of worker threads and a bounded\n"
    "                  queue (when full, accepting pauses: new clients wait\n"
    "                  in the listen backlog); uv: callback handlers on the\n"
    "                  serving thread's event loop, for many idle clients\n"
    "  --workers N     pool: worker threads (default 8)\n"
    "  --queue N       pool: requests that may wait for a worker (default 64)\n"
    "  --verbose       one line per connection (udp: per datagram) on stderr\n"
    "  --tls-cert F    serve TLS (tcp only) with the PEM certificate chain F\n"
    "  --tls-key F     and its PEM private key F; a client that fails the\n"
    "                  handshake (or stays silent 10 s) is dropped and\n"
    "                  reported, without holding up other clients\n"
    "  --upgrade-timeout S  SIGUSR2: how long the new process has to get\n"
    "                  ready (default 10)\n"
    "  -h, --help      this text\n"
    "\n"
    "When ready it prints one line, \"listening on ADDR\", with the address\n"
    "really bound (the real port when 0 was asked).\n"
    "\n"
    "SIGINT or SIGTERM: stop accepting, let running requests finish, remove\n"
    "the unix socket file, exit 0.  The same signal again: quit at once.\n"
    "SIGUSR2: upgrade in place.  The program at the same path starts on the\n"
    "same listening socket; once it is ready this process stops accepting,\n"
    "finishes its requests and exits 0 (\"upgraded: new server pid N\" on\n"
    "stdout).  If it fails to get ready in time it is killed and this\n"
    "process keeps serving.\n"
    "\n"
    "systemd: with inherited sockets (socket activation: $LISTEN_FDS) the\n"
    "server takes the one named \"echo\" (or the first) instead of binding\n"
    "--listen; with $NOTIFY_SOCKET it sends READY=1, STOPPING=1 and, when\n"
    "$WATCHDOG_USEC is set, WATCHDOG=1 (Type=notify).\n"
    "In forking mode only the server's own pid should be signalled for a\n"
    "graceful stop: a child that gets the signal itself ends at once.\n"
    "\n"
    "unix:PATH: if PATH exists, the server uses it only when it is a stale\n"
    "socket (nobody accepts on it: connect() is refused), which it removes\n"
    "first.  A live socket, or any file that is not a socket, is left alone\n"
    "and the server refuses to start.\n"
    "\n"
    "Exit status: 0 after a signal, 1 on a runtime error, 2 on a bad option\n"
    "or an address it cannot bind.\n";

enum proto { PROTO_TCP, PROTO_UDP };
enum mode { MODE_SYNC, MODE_THREADING, MODE_FORKING, MODE_POOL, MODE_UV };
#define NMODES 5

static const char *const proto_names[] = {"tcp", "udp"};
static const char *const mode_names[] = {"sync", "threading", "forking", "pool",
                                         "uv"};

typedef struct options {
    const char *listen;
    enum proto proto;
    enum mode mode;
    bool verbose;
    const char *tls_cert, *tls_key;
    long workers, queue; /* pool; -1: the class's default */
    double upgrade_timeout;
} options;

/* [proto][mode][unix] */
static const ss_server_class *const server_classes[2][NMODES][2] = {
    [PROTO_TCP] = {
        [MODE_SYNC] = {&ss_tcp_server_class, &ss_unix_stream_server_class},
        [MODE_THREADING] = {&ss_threading_tcp_server_class,
                            &ss_threading_unix_stream_server_class},
        [MODE_FORKING] = {&ss_forking_tcp_server_class,
                          &ss_forking_unix_stream_server_class},
        [MODE_POOL] = {&ss_threadpool_tcp_server_class,
                       &ss_threadpool_unix_stream_server_class},
        [MODE_UV] = {&ss_event_tcp_server_class,
                     &ss_event_unix_stream_server_class},
    },
    [PROTO_UDP] = {
        [MODE_SYNC] = {&ss_udp_server_class, &ss_unix_datagram_server_class},
        [MODE_THREADING] = {&ss_threading_udp_server_class,
                            &ss_threading_unix_datagram_server_class},
        [MODE_FORKING] = {&ss_forking_udp_server_class,
                          &ss_forking_unix_datagram_server_class},
        [MODE_POOL] = {&ss_threadpool_udp_server_class,
                       &ss_threadpool_unix_datagram_server_class},
        [MODE_UV] = {&ss_event_udp_server_class,
                     &ss_event_unix_datagram_server_class},
    },
};

static int lookup(const char *const names[], int count, const char *text)
{
    for (int i = 0; i < count; i++)
        if (strcmp(names[i], text) == 0)
            return i;
    return -1;
}

/* A count from min to 100000, or -1. */
static long count_arg(const char *text, long min)
{
    char *end;
    errno = 0;
    long n = strtol(text, &end, 10);
    if (errno || end == text || *end || n < min || n > 100000)
        return -1;
    return n;
}

/* Returns -1 to go on, or the exit code (0 after --help). */
static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){.listen = DEFAULT_LISTEN, .proto = PROTO_TCP,
                   .mode = MODE_THREADING, .workers = -1, .queue = -1,
                   .upgrade_timeout = 10.0};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        }
        if ((m = cli_match(argc, argv, &i, "--listen", &v)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            o->listen = v;
        } else if ((m = cli_match(argc, argv, &i, "--proto", &v)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            int p = lookup(proto_names, 2, v);
            if (p < 0)
                return cli_usage_error(argv[0], "--proto: '%s' is not tcp or udp", v);
            o->proto = (enum proto)p;
        } else if ((m = cli_match(argc, argv, &i, "--mode", &v)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            int p = lookup(mode_names, NMODES, v);
            if (p < 0)
                return cli_usage_error(
                    argv[0], "--mode: '%s' is not sync, threading, forking, "
                    "pool or uv", v);
            o->mode = (enum mode)p;
        } else if ((m = cli_match(argc, argv, &i, "--workers", &v)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if ((o->workers = count_arg(v, 1)) < 0)
                return cli_usage_error(argv[0], "--workers: '%s' is not a "
                                       "number from 1 to 100000", v);
        } else if ((m = cli_match(argc, argv, &i, "--queue", &v)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if ((o->queue = count_arg(v, 0)) < 0)
                return cli_usage_error(argv[0], "--queue: '%s' is not a "
                                       "number from 0 to 100000", v);
        } else if ((m = cli_match(argc, argv, &i, "--tls-cert", &v)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            o->tls_cert = v;
        } else if ((m = cli_match(argc, argv, &i, "--tls-key", &v)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            o->tls_key = v;
        } else if ((m = cli_match(argc, argv, &i, "--upgrade-timeout", &v)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (!cli_parse_seconds(v, &o->upgrade_timeout))
                return cli_usage_error(argv[0], "--upgrade-timeout: '%s' is "
                                       "not a number of seconds", v);
        } else if ((m = cli_match(argc, argv, &i, "--verbose", NULL)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            o->verbose = true;
        } else if (argv[i][0] == '-') {
            return cli_usage_error(argv[0], "unknown option '%s'", argv[i]);
        } else {
            return cli_usage_error(argv[0], "unexpected argument '%s'", argv[i]);
        }
    }
    if (!o->tls_cert != !o->tls_key)
        return cli_usage_error(argv[0], "--tls-cert and --tls-key go together");
    if (o->tls_cert && o->proto != PROTO_TCP)
        return cli_usage_error(argv[0], "--tls-cert: TLS needs --proto tcp");
    if ((o->workers >= 0 || o->queue >= 0) && o->mode != MODE_POOL)
        return cli_usage_error(argv[0], "--workers/--queue: only with --mode pool");
    return -1;
}

/* --- the server class: whichever of the twelve, with echo's attributes -- */

static options opts;
/* The service manager (or an upgrading parent); disabled without one. */
static ss_notifier notifier;
/* Filled in main() before the first ss_server_init(): .base is the class the
 * flags chose, so this one class derives from any of the twelve. */
static ss_server_class echo_server_class;

static void echo_server_configure(ss_server *self)
{
    SS_SUPER(&echo_server_class, configure)(self);
    /* A restarted TCP server must not wait out TIME_WAIT.  Not for UDP:
     * there SO_REUSEADDR would let two servers share one port. */
    if (opts.proto == PROTO_TCP && self->address_family != AF_UNIX)
        self->allow_reuse_address = true;
    /* Echo any datagram whole (Python's default of 8192 would cut it). */
    self->max_packet_size = 65536;
    if (opts.workers >= 0)
        self->pool_workers = (unsigned)opts.workers;
    if (opts.queue >= 0)
        self->pool_queue_size = (unsigned)opts.queue;
}

/* On the serving loop every poll_interval: the watchdog pings prove that
 * this loop, not just the process, is alive. */
static void echo_server_service_actions(ss_server *self)
{
    SS_SUPER(&echo_server_class, service_actions)(self);
    ss_notifier_watchdog_tick(&notifier, NULL);
}

/* --- the unix socket file ------------------------------------------------ */

typedef struct unix_file {
    const char *path; /* NULL: not a unix server */
    dev_t dev;
    ino_t ino;
    bool bound;
} unix_file;

/* Makes PATH usable for bind(): absent, or a stale socket that is removed.
 * Returns 0 or an exit code after printing one line. */
static int claim_unix_path(const char *prog, const char *path, int type)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        fprintf(stderr, "%s: unix:%s: %s\n", prog, path, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    if (!S_ISSOCK(st.st_mode)) {
        fprintf(stderr, "%s: unix:%s: exists and is not a socket; not touching it\n",
                prog, path);
        return CLI_EXIT_USAGE;
    }
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof un.sun_path) {
        fprintf(stderr, "%s: unix:%s: path too long\n", prog, path);
        return CLI_EXIT_USAGE;
    }
    strcpy(un.sun_path, path);
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    /* Non-blocking: a live server with a full backlog answers EAGAIN
     * instead of making us wait.  Only ECONNREFUSED proves nobody is there. */
    int rc = connect(fd, (struct sockaddr *)&un, sizeof un);
    int e = errno;
    close(fd);
    if (rc == 0 || e != ECONNREFUSED) {
        fprintf(stderr, "%s: unix:%s: %s\n", prog, path,
                rc == 0 || e == EAGAIN || e == EPROTOTYPE
                    ? "Address already in use (a server is bound to it)"
                    : strerror(e));
        return CLI_EXIT_USAGE;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        fprintf(stderr, "%s: unix:%s: removing the stale socket: %s\n", prog,
                path, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* Removes the socket file if it is still the one this server bound (it may
 * have been replaced meanwhile).  May run on two threads at once: the second
 * unlink() just finds nothing. */
static void remove_unix_file(const unix_file *f)
{
    struct stat st;
    if (!f->path || !f->bound)
        return;
    if (lstat(f->path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == f->dev &&
        st.st_ino == f->ino)
        unlink(f->path);
}

/* --- signals ------------------------------------------------------------ */

typedef struct stopper {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    ss_server *server;
    const unix_file *file;
    sigset_t signals;
    int signo;        /* the first signal, 0 until one came */
    bool in_shutdown; /* a thread is inside ss_server_shutdown() */
    bool closing;     /* main has moved on to ss_server_close() */
    bool upgraded;    /* a new process serves the socket now */
    char *const *argv;   /* to start the new process with */
    const char *exe;     /* this program's absolute path */
} stopper;

static const char *signal_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM"
         : sig == SIGUSR2 ? "SIGUSR2" : "signal";
}

static size_t running_requests(ss_server *srv);

/* SIGUSR2, on the signal thread while the main thread goes on serving:
 * start the new process on our socket and wait for its READY=1.  Returns
 * true when it took over (accepting has stopped here). */
static bool upgrade(stopper *st)
{
    ss_upgrade up;
    ss_error err;
    ss_upgrade_socket sock = {st->server->socket, "echo"};
    int rc = ss_upgrade_start(&up, st->exe, st->argv, &sock, 1, &notifier,
                              opts.upgrade_timeout, &err);
    if (rc == 0)
        rc = ss_upgrade_wait(&up, &err);
    pid_t pid = up.pid;
    ss_upgrade_close(&up);
    if (rc < 0) {
        fprintf(stderr, "echo-server: upgrade failed, still serving: %s\n",
                err.msg);
        return false;
    }
    ss_server_stop_accepting(st->server);
    printf("upgraded: new server pid %ld\n", (long)pid);
    fflush(stdout);
    fprintf(stderr, "echo-server: SIGUSR2: new server pid %ld is ready; "
                    "finishing %zu running request(s)\n", (long)pid,
            running_requests(st->server));
    /* serve_forever's shutdown would cut event-mode connections short:
     * wait for the requests here first (a sync server finishes its one
     * request inside the shutdown). */
    struct timespec tick = {0, 20 * 1000 * 1000};
    while (running_requests(st->server) > 0)
        nanosleep(&tick, NULL);
    return true;
}

/* ss_server_shutdown() waits until serve_forever() has returned, which in
 * sync mode is after the running request: on a thread of its own, so the
 * signal thread stays free to take a second signal meanwhile. */
static void *shutdown_thread(void *arg)
{
    stopper *st = arg;
    ss_server_shutdown(st->server);
    pthread_mutex_lock(&st->lock);
    st->in_shutdown = false;
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

static void *signal_thread(void *arg)
{
    stopper *st = arg;
    for (;;) {
        int sig;
        if (sigwait(&st->signals, &sig) != 0)
            continue;
        if (sig == SIGUSR2) {
            pthread_mutex_lock(&st->lock);
            bool busy = st->signo != 0 || st->closing;
            pthread_mutex_unlock(&st->lock);
            if (busy || !upgrade(st))
                continue;
        }
        pthread_mutex_lock(&st->lock);
        if (sig == SIGUSR2 && st->signo == 0 && !st->closing)
            st->upgraded = true;
        if (st->signo == 0 && !st->closing) {
            st->signo = sig;
            st->in_shutdown = true;
            pthread_mutex_unlock(&st->lock);
            if (sig != SIGUSR2) {
                ss_notify_stopping(&notifier, NULL);
                fprintf(stderr, "echo-server: %s: shutting down (the same "
                                "signal again quits at once)\n",
                        signal_name(sig));
            }
            pthread_t tid;
            if (pthread_create(&tid, NULL, shutdown_thread, st) == 0)
                pthread_detach(tid);
            else
                shutdown_thread(st); /* no second signal then, but a stop */
            continue;
        }
        bool upgraded = st->upgraded;
        pthread_mutex_unlock(&st->lock);
        if (sig == SIGUSR2)
            continue;
        /* Asked again while requests are finishing: quit now, as the
         * signal's default action would have, leaving no socket file
         * (unless a new process serves on it). */
        if (!upgraded)
            remove_unix_file(st->file);
        fprintf(stderr, "echo-server: %s again: quitting without waiting\n",
                signal_name(sig));
        signal(sig, SIG_DFL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
        raise(sig);
        _exit(128 + sig);
    }
    return NULL;
}

static size_t running_requests(ss_server *srv)
{
    switch (opts.mode) {
    case MODE_THREADING:
        return ss_threading_active_threads(srv);
    case MODE_FORKING:
        return ss_forking_active_children(srv, NULL, 0);
    case MODE_POOL: {
        ss_threadpool_stats ps;
        ss_threadpool_get_stats(srv, &ps);
        return ps.running + ps.queued;
    }
    case MODE_UV:
        return ss_event_connections(srv);
    default:
        return 0; /* sync: serve_forever() finished the request it had */
    }
}

/* --- main ------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const char *prog = "echo-server";

    /* Static, like everything the signal thread can reach: it may still run
     * while main() returns and the process exits. */
    static stopper st = {.lock = PTHREAD_MUTEX_INITIALIZER,
                         .cond = PTHREAD_COND_INITIALIZER};
    /* Blocked before any thread exists, so that every thread inherits it. */
    sigemptyset(&st.signals);
    sigaddset(&st.signals, SIGINT);
    sigaddset(&st.signals, SIGTERM);
    sigaddset(&st.signals, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &st.signals, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed stdout must not kill the server */

    int rc = parse_options(argc, argv, &opts);
    if (rc >= 0)
        return rc;

    static ss_addr addr;
    ss_error err;
    ss_error_clear(&err);
    /* Before any thread exists: both read and unset environment variables. */
    if (ss_notifier_init(&notifier, 0, &err) < 0)
        fprintf(stderr, "%s: %s (not notifying)\n", prog, err.msg);
    static ss_listen_fds inherited;
    if (ss_listen_fds_init(&inherited, 0, &err) < 0) {
        fprintf(stderr, "%s: %s\n", prog, err.msg);
        return CLI_EXIT_USAGE;
    }
    int fd = ss_listen_fds_take(&inherited, "echo");
    if (fd < 0)
        fd = ss_listen_fds_take(&inherited, NULL);
    ss_listen_fds_close(&inherited);
    bool is_unix;
    if (fd >= 0) {
        int domain = AF_UNSPEC;
        socklen_t len = sizeof domain;
        getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
        is_unix = domain == AF_UNIX;
    } else {
        if (ss_addr_parse(&addr, opts.listen, &err) < 0)
            return cli_usage_error(argv[0], "--listen: %s", err.msg);
        is_unix = ss_addr_family(&addr) == AF_UNIX;
    }
    /* The path a SIGUSR2 upgrade starts: resolved now, while it still
     * names this program (a relative argv[0] would not survive a chdir). */
    static char exe[4096];
    ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[exe_len > 0 ? exe_len : 0] = '\0';
    char *deleted = strstr(exe, " (deleted)");
    if (deleted && deleted[10] == '\0') /* replaced on disk: take the new one */
        *deleted = '\0';

    static unix_file file;
    if (is_unix && fd < 0) {
        file.path = ((const struct sockaddr_un *)&addr.sa)->sun_path;
        int type = opts.proto == PROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
        if ((rc = claim_unix_path(prog, file.path, type)) != 0)
            return rc;
    }

    static echo_settings settings;
    settings = (echo_settings){.verbose = opts.verbose, .server_pid = getpid()};
    echo_server_class = (ss_server_class){
        .base = server_classes[opts.proto][opts.mode][is_unix],
        .name = "EchoServer",
        .configure = echo_server_configure,
        .service_actions = echo_server_service_actions,
    };
    const ss_handler_class *handler = opts.proto == PROTO_TCP
                                          ? &echo_stream_handler_class
                                          : &echo_datagram_handler_class;

    static ss_server srv;
    /* An inherited socket is adopted where a new one would be bound. */
    unsigned flags = fd >= 0 ? 0 : SS_BIND_AND_ACTIVATE;
    const ss_addr *where = fd >= 0 ? NULL : &addr;
    int init_rc =
        opts.mode == MODE_UV
            ? ss_event_server_init(&srv, &echo_server_class, where,
                                   &echo_event_handler_class, flags, &err)
            : ss_server_init(&srv, &echo_server_class, where, handler, flags,
                             &err);
    if (init_rc == 0 && fd >= 0)
        init_rc = ss_server_adopt(&srv, fd, &err);
    if (init_rc < 0) {
        fprintf(stderr, "%s: %s\n", prog, err.msg[0] ? err.msg : ss_strerror(err.code));
        return CLI_EXIT_USAGE;
    }
    srv.data = &settings;
    /* Static: request threads use it until ss_server_close() returns. */
    static ss_tls_context tls;
    if (opts.tls_cert) {
        ss_tls_options to = {.server = true, .cert_file = opts.tls_cert,
                             .key_file = opts.tls_key};
        if (ss_tls_context_init(&tls, &to, &err) < 0) {
            fprintf(stderr, "%s: %s\n", prog, err.msg);
            ss_server_close(&srv);
            return CLI_EXIT_USAGE;
        }
        ss_server_set_tls(&srv, &tls);
    }
    if (file.path) {
        struct stat sb;
        if (lstat(file.path, &sb) == 0) {
            file.dev = sb.st_dev;
            file.ino = sb.st_ino;
            file.bound = true;
        }
    }

    char text[SS_ADDRSTRLEN];
    printf("listening on %s\n", ss_addr_format(&srv.server_address, text, sizeof text));
    fflush(stdout);
    /* The socket listens: connections queue from here on, so this is ready
     * (for systemd, or for the old process of an upgrade).  Before the
     * signal thread exists: after an upgrade's READY=1 the notifier
     * switches to systemd's socket, which SIGUSR2's upgrade then reads
     * (the signals wait, blocked, until that thread takes them). */
    char status[SS_ADDRSTRLEN + 16];
    snprintf(status, sizeof status, "listening on %s", text);
    if (ss_notify_ready(&notifier, status, &err) < 0)
        fprintf(stderr, "%s: %s\n", prog, err.msg);

    st.server = &srv;
    st.file = &file;
    st.argv = argv;
    st.exe = exe;
    pthread_t tid;
    if ((rc = pthread_create(&tid, NULL, signal_thread, &st)) != 0) {
        fprintf(stderr, "%s: starting the signal thread: %s\n", prog, strerror(rc));
        ss_server_close(&srv);
        remove_unix_file(&file);
        return CLI_EXIT_ERROR;
    }
    pthread_detach(tid); /* it lives until the process exits */


    rc = ss_server_serve_forever(&srv, 0.5);

    /* The shutdown thread may still be inside ss_server_shutdown(); closing
     * the server under it would free what it uses. */
    pthread_mutex_lock(&st.lock);
    while (st.in_shutdown)
        pthread_cond_wait(&st.cond, &st.lock);
    st.closing = true;
    int sig = st.signo;
    bool upgraded = st.upgraded;
    pthread_mutex_unlock(&st.lock);

    /* No new client can find us from here on (a new process may serve the
     * socket file now: then it stays). */
    if (!upgraded)
        remove_unix_file(&file);
    if (rc < 0)
        fprintf(stderr, "%s: serving stopped: %s\n", prog, ss_strerror(rc));
    else if (sig && !upgraded)
        fprintf(stderr, "%s: stopped accepting; finishing %zu running request(s)\n",
                prog, running_requests(&srv));
    ss_server_close(&srv);
    ss_tls_context_close(&tls);
    ss_notifier_close(&notifier);
    return rc < 0 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}
