/* examples/prefork/prefork_echo.c - the prefork pattern: N processes serve
 * one port, each with its own sync server and its own CPU.
 *
 *   --shared (default)  the parent binds one listening socket and forks N
 *                       workers that all accept on it: one queue, so a
 *                       worker that exits loses nothing.
 *   --reuseport         every worker binds its own socket to the same port
 *                       with SO_REUSEPORT (ss_server.allow_reuse_port): the
 *                       kernel spreads connections evenly over N queues, but
 *                       what waits in the queue of a worker that closes is
 *                       reset (tcp_migrate_req aside).  Restart such workers
 *                       with the upgrade hand-over (upgrade.h), not by
 *                       closing them.
 *
 * The parent holds the port (in --reuseport mode a bound socket that does
 * not listen, so no connection is ever queued on it), waits until every
 * worker listens (a byte each on a pipe: before that, a --reuseport port
 * would refuse connections), prints "listening on ADDR", and on SIGINT/SIGTERM stops every worker (each finishes its
 * request: a signal thread calls ss_server_shutdown) and exits 0.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sockserv/sockserv.h>

#include "../echo/echo_handler.h"

#define MAX_WORKERS 64

static const char usage[] =
    "usage: prefork-echo [--listen HOST:PORT] [--workers N] [--reuseport]\n"
    "N processes (default 4) echo on one port; see the source for the two\n"
    "ways they share it.\n";

static echo_settings settings;

struct stopper {
    sigset_t set;
    ss_server *srv;
};

static void *stop_on_signal(void *arg)
{
    struct stopper *st = arg;
    int sig;
    while (sigwait(&st->set, &sig) != 0)
        ;
    ss_server_shutdown(st->srv);
    return NULL;
}

/* A worker: serve until SIGTERM, finishing the request in hand. */
static int worker(ss_server *srv, const sigset_t *sigs)
{
    struct stopper st = {*sigs, srv};
    pthread_t t;
    if (pthread_create(&t, NULL, stop_on_signal, &st) != 0)
        return 1;
    int rc = ss_server_serve_forever(srv, 0.5);
    pthread_join(t, NULL);
    ss_server_close(srv);
    return rc < 0 ? 1 : 0;
}

/* --reuseport: a socket of the worker's own on the parent's port. */
static int own_server(ss_server *srv, const ss_addr *addr, ss_error *err)
{
    if (ss_server_init(srv, &ss_tcp_server_class, addr,
                       &echo_stream_handler_class, 0, err) < 0)
        return -1;
    srv->allow_reuse_port = true;
    srv->data = &settings;
    return ss_server_bind_and_activate(srv, err);
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:9998";
    long workers = 4;
    bool reuseport = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc)
            listen = argv[++i];
        else if (!strcmp(argv[i], "--workers") && i + 1 < argc)
            workers = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--reuseport"))
            reuseport = true;
        else if (!strcmp(argv[i], "--shared"))
            reuseport = false;
        else {
            fputs(usage, strcmp(argv[i], "--help") ? stderr : stdout);
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (workers < 1 || workers > MAX_WORKERS) {
        fprintf(stderr, "prefork-echo: --workers: 1 to %d\n", MAX_WORKERS);
        return 2;
    }
    /* Blocked before any fork: every worker inherits the mask and takes the
     * signals with sigwait(). */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    settings.server_pid = getpid();

    ss_addr addr;
    ss_error err;
    ss_server srv;
    if (ss_addr_parse(&addr, listen, &err) < 0 ||
        ss_server_init(&srv, &ss_tcp_server_class, &addr,
                       &echo_stream_handler_class, 0, &err) < 0) {
        fprintf(stderr, "prefork-echo: %s\n", err.msg);
        return 2;
    }
    srv.data = &settings;
    srv.allow_reuse_address = true;
    srv.allow_reuse_port = reuseport;
    /* --reuseport: bound, never listening: it holds the port (and picks
     * it, for port 0) but no connection is queued on it. */
    int rc = reuseport ? ss_server_server_bind(&srv, &err)
                       : ss_server_bind_and_activate(&srv, &err);
    if (rc < 0) {
        fprintf(stderr, "prefork-echo: %s\n", err.msg);
        if (reuseport)
            ss_server_close(&srv);
        return 2;
    }
    int ready[2];
    if (pipe(ready) < 0) {
        perror("prefork-echo: pipe");
        return 1;
    }
    pid_t pids[MAX_WORKERS];
    for (long i = 0; i < workers; i++) {
        pids[i] = fork();
        if (pids[i] < 0) {
            perror("prefork-echo: fork");
            workers = i;
            break;
        }
        if (pids[i] == 0) {
            settings.server_pid = getpid();
            close(ready[0]);
            if (!reuseport) {
                if (write(ready[1], "r", 1) != 1)
                    _exit(1);
                close(ready[1]);
                _exit(worker(&srv, &sigs));
            }
            ss_server mine;
            ss_addr port = srv.server_address; /* the real port, for 0 */
            ss_server_close(&srv); /* this process's copy of the holder */
            if (own_server(&mine, &port, &err) < 0) {
                fprintf(stderr, "prefork-echo: worker: %s\n", err.msg);
                _exit(1);
            }
            if (write(ready[1], "r", 1) != 1)
                _exit(1);
            close(ready[1]);
            _exit(worker(&mine, &sigs));
        }
    }
    close(ready[1]);
    long up = 0;
    char byte;
    while (up < workers && read(ready[0], &byte, 1) == 1)
        up++;
    close(ready[0]);
    if (up < workers)
        fprintf(stderr, "prefork-echo: %ld of %ld workers failed to start\n",
                workers - up, workers);
    char text[SS_ADDRSTRLEN];
    printf("listening on %s (%ld workers, %s)\n",
           ss_addr_format(&srv.server_address, text, sizeof text), workers,
           reuseport ? "SO_REUSEPORT" : "one shared socket");
    fflush(stdout);

    int sig;
    while (sigwait(&sigs, &sig) != 0)
        ;
    for (long i = 0; i < workers; i++)
        kill(pids[i], SIGTERM);
    int status = 0;
    for (long i = 0; i < workers; i++) {
        int st;
        while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            status = 1;
    }
    ss_server_close(&srv);
    return status;
}
