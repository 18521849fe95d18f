/* tests/daemon/test_prefork.c - examples/prefork: N processes on one port,
 * through one shared socket or SO_REUSEPORT; every worker takes
 * connections, every connection is served and the workers stop cleanly
 * with the parent. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon_test.h"

#define WORKERS 3
#define HELD 60 /* connections that wait at once: every worker gets some */

/* The children of pid (the workers), from /proc; returns how many. */
static int children_of(pid_t pid, pid_t *out, int cap)
{
    DIR *d = opendir("/proc");
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        char *close_paren = strrchr(buf, ')');
        long ppid;
        if (close_paren && sscanf(close_paren + 1, " %*c %ld", &ppid) == 1 &&
            ppid == (long)pid)
            out[n++] = (pid_t)atol(e->d_name);
    }
    closedir(d);
    return n;
}

/* Sockets open in pid: its listening socket, plus one per connection it
 * accepted (a sync worker holds one while it serves it). */
static int sockets_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char link[320], target[64];
        snprintf(link, sizeof link, "%s/%s", path, e->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len > 0 && strncmp(target, "socket:", 7) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* HELD connections opened at once and left silent: each worker (a sync
 * server) accepts one and waits in it for a line, so every worker holding
 * a connection proves it takes its share of the port.  With SO_REUSEPORT
 * the kernel hashes each connection to one worker's queue; that one gets
 * none of 60 has a chance of 3 * (2/3)^60, about 1e-10. */
static void every_worker_accepts(pid_t parent, const char *addr_text)
{
    pid_t workers[WORKERS + 1];
    cr_assert_eq(children_of(parent, workers, WORKERS + 1), WORKERS);
    ss_addr a;
    cr_assert_eq(ss_addr_parse(&a, addr_text, NULL), 0);
    int fds[HELD];
    for (int i = 0; i < HELD; i++) {
        /* Not waited for: connections past the queues' room stay pending. */
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        cr_assert_geq(fds[i], 0);
        int rc = connect(fds[i], (struct sockaddr *)&a.sa, a.len);
        cr_assert(rc == 0 || errno == EINPROGRESS, "connect: %s", strerror(errno));
    }
    double deadline = ts_now() + 20;
    int busy = 0;
    while (busy < WORKERS) {
        busy = 0;
        for (int i = 0; i < WORKERS; i++)
            busy += sockets_of(workers[i]) >= 2;
        cr_assert(busy == WORKERS || ts_now() < deadline,
                  "only %d of %d workers took a connection", busy, WORKERS);
        struct timespec t = {0, 10 * 1000 * 1000};
        nanosleep(&t, NULL); /* polling with a deadline */
    }
    for (int i = 0; i < HELD; i++)
        close(fds[i]);
}

static void serve_and_stop(const char *how)
{
    const char *argv[] = {ts_build_path("examples/prefork/prefork-echo"),
                          "--listen", "127.0.0.1:0", "--workers", "3", how,
                          NULL};
    ts_proc p;
    char rest[128];
    cr_assert_eq(ts_spawn(&p, (char *const *)argv, NULL, -1, true), 0);
    cr_assert_eq(ts_wait_line(&p, "listening on ", rest, sizeof rest, 10.0), 0,
                 "%s", p.err);
    *strchr(rest, ' ') = '\0';
    every_worker_accepts(p.pid, rest);
    for (int i = 0; i < 40; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "%s %d\n", how, i);
        cr_assert_eq(dt_echo_roundtrip(rest, msg, (size_t)n), 0, "%s", p.err);
    }
    int st = ts_stop(&p, SIGTERM, 20.0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%d: %s", st, p.err);
}

Test(prefork, workers_share_one_socket)
{
    serve_and_stop("--shared");
}

Test(prefork, workers_share_a_port_with_so_reuseport)
{
    serve_and_stop("--reuseport");
}
