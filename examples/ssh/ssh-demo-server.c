/* examples/ssh/ssh-demo-server.c - the remote-shell demo's server.
 *
 * A libsockserv server class chosen at run time (threading or forking, TCP
 * or unix stream) with SshSession (session.h) as its request handler.
 * SIGTERM and SIGINT are blocked in every thread and taken by one thread
 * with sigwait(), which calls ss_server_shutdown(): no work in a signal
 * handler.  doc/ssh-demo.md describes the protocol.
 *
 * With --tls-cert/--tls-key every connection is TLS from its first byte
 * (ss_server_set_tls: the library handshakes before process_request), so
 * the session code is the same with or without it: its rfile and wfile run
 * over the TLS transport.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sockserv/sockserv.h>

#include "session.h"
#include "token.h"

#define DEFAULT_LISTEN "127.0.0.1:8022"
#define EXIT_USAGE 2

static const char usage[] =
    "usage: ssh-demo-server [--listen ADDR] [--mode threading|forking]\n"
    "                       [--token-file F] [--timeout SECONDS]\n"
    "                       [--tls-cert FILE --tls-key FILE]\n"
    "\n"
    "Runs the commands ssh-demo clients send, each session with its own\n"
    "directory and environment.\n"
    "\n"
    "  --listen ADDR      HOST:PORT, [IPV6]:PORT or unix:PATH (default "
    DEFAULT_LISTEN ");\n"
    "                     port 0 picks a free port\n"
    "  --mode M           threading (default): a thread per session;\n"
    "                     forking: a process per session\n"
    "  --token-file F     every session must first present the token in F\n"
    "                     (its first line); required to listen on an\n"
    "                     address that is not loopback\n"
    "  --timeout SECONDS  kill a command that runs longer (status 124)\n"
    "  --tls-cert FILE    speak TLS on every connection, with this PEM\n"
    "  --tls-key FILE     certificate chain (leaf first) and its key; clients\n"
    "                     use ssh-demo --tls.  TLS hides the session but does\n"
    "                     not replace the token: off loopback it is still\n"
    "                     required\n"
    "  -h, --help         this text\n"
    "\n"
    "When ready it prints \"listening on ADDR\" with the address really bound.\n"
    "SIGTERM or SIGINT: stop accepting, end the sessions (threading mode;\n"
    "forked sessions finish on their own), exit 0.\n";

typedef struct options {
    const char *listen;
    bool forking;
    const char *token_file;
    double timeout;
    const char *tls_cert, *tls_key;
} options;

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ssh-demo-server: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(see ssh-demo-server --help)\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

/* Returns -1 to go on, or the exit code. */
static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){.listen = DEFAULT_LISTEN};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        /* Every option here takes a value: --opt V or --opt=V. */
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
#define IS(name) (strlen(name) == nlen && strncmp(a, name, nlen) == 0)
        if (!(IS("--listen") || IS("--mode") || IS("--token-file") ||
              IS("--timeout") || IS("--tls-cert") || IS("--tls-key")))
            return usage_error(a[0] == '-' ? "unknown option '%s'"
                                           : "unexpected argument '%s'",
                               a);
        if (!v)
            return usage_error("%s needs a value", a);
        if (!eq)
            i++;
        if (IS("--listen")) {
            o->listen = v;
        } else if (IS("--mode")) {
            if (strcmp(v, "threading") != 0 && strcmp(v, "forking") != 0)
                return usage_error("--mode: '%s' is not threading or forking", v);
            o->forking = strcmp(v, "forking") == 0;
        } else if (IS("--token-file")) {
            o->token_file = v;
        } else if (IS("--timeout")) {
            char *end;
            o->timeout = strtod(v, &end);
            if (*end || end == v || !(o->timeout > 0))
                return usage_error("--timeout: '%s' is not a positive number", v);
        } else if (IS("--tls-cert")) {
            o->tls_cert = v;
        } else {
            o->tls_key = v;
        }
#undef IS
    }
    if (!o->tls_cert != !o->tls_key)
        return usage_error("--tls-cert and --tls-key go together");
    return -1;
}

/* --- the server class: the chosen libsockserv class, plus our attributes */

/* .base is filled in main() from --mode and the address family, so this
 * one class can derive from any of the four stream servers. */
static ss_server_class ssh_server_class;

static void server_configure(ss_server *self)
{
    SS_SUPER(&ssh_server_class, configure)(self);
    if (self->address_family != AF_UNIX)
        self->allow_reuse_address = true; /* restart without TIME_WAIT */
    /* A session lasts as long as its client wants; shutting down must not
     * wait for it.  Threading: server_close() shuts the connections down,
     * each session sees its client gone and kills its command. */
    self->block_on_close = false;
}

/* One line per failed session instead of Python's report block. */
static void server_handle_error(ss_server *self, ss_request *req,
                                const ss_addr *client, const ss_error *err)
{
    (void)self;
    (void)req;
    char addr[SS_ADDRSTRLEN];
    fprintf(stderr, "ssh-demo-server: %s: %s\n",
            ss_addr_format(client, addr, sizeof addr), err->msg);
}

/* --- signals ------------------------------------------------------------ */

typedef struct stopper {
    ss_server *server;
    sigset_t signals;
} stopper;

static void *signal_thread(void *arg)
{
    stopper *st = arg;
    int sig;
    while (sigwait(&st->signals, &sig) != 0)
        ;
    /* Returns once serve_forever() has returned; main does the rest. */
    ss_server_shutdown(st->server);
    return NULL;
}

/* Commands inherit descriptors 0-2 through dup2 of their pipes; if the
 * server was started with one closed, a pipe could land there. */
static void ensure_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
            return;
}

int main(int argc, char **argv)
{
    ensure_std_fds();
    options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;

    static char token[SSH_TOKEN_MAX + 1];
    ssh_server_config cfg = {.timeout = o.timeout};
    if (o.token_file) {
        char msg[512];
        long n = ssh_token_read_file(o.token_file, token, sizeof token, msg,
                                     sizeof msg);
        if (n < 0)
            return usage_error("--token-file: %s", msg);
        cfg.token = token;
        cfg.token_len = (size_t)n;
    }

    ss_addr addr;
    ss_error err;
    if (ss_addr_parse(&addr, o.listen, &err) < 0)
        return usage_error("--listen: %s", err.msg);
    if (!ss_addr_is_loopback(&addr) && !cfg.token)
        return usage_error("refusing to listen on %s without --token-file: "
                           "anyone who can reach it could run commands",
                           o.listen);
    bool is_unix = ss_addr_family(&addr) == AF_UNIX;

    /* Before any thread exists, so that every thread inherits the mask. */
    stopper st;
    sigemptyset(&st.signals);
    sigaddset(&st.signals, SIGTERM);
    sigaddset(&st.signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &st.signals, NULL);
    /* Writes to a command that closed its stdin must fail, not kill us. */
    signal(SIGPIPE, SIG_IGN);

    ssh_server_class = (ss_server_class){
        .base = o.forking ? (is_unix ? &ss_forking_unix_stream_server_class
                                     : &ss_forking_tcp_server_class)
                          : (is_unix ? &ss_threading_unix_stream_server_class
                                     : &ss_threading_tcp_server_class),
        .name = "SshDemoServer",
        .configure = server_configure,
        .handle_error = server_handle_error,
    };
    /* The files are checked (and the key matched to the certificate)
     * before anything is bound: a typo is a usage error, not a server that
     * fails every handshake. */
    static ss_tls_context tls;
    if (o.tls_cert) {
        ss_tls_options to = {.server = true, .cert_file = o.tls_cert,
                             .key_file = o.tls_key};
        if (ss_tls_context_init(&tls, &to, &err) < 0)
            return usage_error("%s", err.msg);
    }
    ss_server srv;
    if (ss_server_init(&srv, &ssh_server_class, &addr, &ssh_session_class,
                       SS_BIND_AND_ACTIVATE, &err) < 0) {
        fprintf(stderr, "ssh-demo-server: %s\n", err.msg);
        ss_tls_context_close(&tls);
        return EXIT_USAGE;
    }
    srv.data = &cfg;
    if (o.tls_cert)
        ss_server_set_tls(&srv, &tls); /* a TCP or unix stream server: 0 */

    st.server = &srv;
    pthread_t tid;
    if ((rc = pthread_create(&tid, NULL, signal_thread, &st)) != 0) {
        fprintf(stderr, "ssh-demo-server: pthread_create: %s\n", strerror(rc));
        ss_server_close(&srv);
        ss_tls_context_close(&tls);
        return 1;
    }

    char bound[SS_ADDRSTRLEN];
    printf("listening on %s\n", ss_addr_format(&srv.server_address, bound,
                                               sizeof bound));
    fflush(stdout);

    rc = ss_server_serve_forever(&srv, 0.5);
    if (rc < 0) {
        fprintf(stderr, "ssh-demo-server: %s\n", ss_strerror(rc));
        /* No signal came: the thread still waits in sigwait(). */
        pthread_cancel(tid);
    }
    /* serve_forever() returned 0 because the signal thread asked it to;
     * that thread may still be inside ss_server_shutdown(), which uses the
     * server: it must be out before ss_server_close() frees the state. */
    pthread_join(tid, NULL);
    ss_server_close(&srv);
    /* After the server: no connection made from it is left. */
    ss_tls_context_close(&tls);
    if (is_unix) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)&addr.sa;
        unlink(un->sun_path);
    }
    return rc < 0 ? 1 : 0;
}
