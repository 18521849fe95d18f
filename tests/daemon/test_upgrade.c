/* tests/daemon/test_upgrade.c - upgrades that drop nothing: echo-server is
 * upgraded 20 times in a row (SIGUSR2) while clients connect without pause;
 * every connection must succeed and every byte come back intact.  A new
 * binary that fails, or is not ready in time, leaves the old one serving. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sockserv/sockserv.h>

#include "daemon_test.h"

#define LOADERS 4
#define UPGRADES 20

/* Every process of the chain reports to this one once its parent (the
 * previous generation) is gone: the test can reap them all. */
static void become_subreaper(void)
{
    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
}

/* Sanitizer builds: a report from any generation (they share stderr). */
static void no_sanitizer_report(ts_proc *p)
{
    ts_drain(p);
    cr_assert(!strstr(p->err, "runtime error") && !strstr(p->err, "Sanitizer"),
              "sanitizer report:\n%s", p->err);
}

/* --- the load generator --------------------------------------------------- */

struct load {
    const char *addr;
    atomic_bool stop;
    atomic_long ok, failed;
    char first_error[256];
    pthread_mutex_t lock;
};

static void *loader(void *arg)
{
    struct load *l = arg;
    unsigned seed = (unsigned)(uintptr_t)pthread_self();
    static _Thread_local unsigned char buf[16384];
    while (!atomic_load(&l->stop)) {
        size_t len = 1 + (size_t)rand_r(&seed) % sizeof buf;
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)rand_r(&seed);
        int rc = dt_echo_roundtrip(l->addr, buf, len);
        if (rc == 0) {
            atomic_fetch_add(&l->ok, 1);
            continue;
        }
        pthread_mutex_lock(&l->lock);
        if (atomic_fetch_add(&l->failed, 1) == 0)
            snprintf(l->first_error, sizeof l->first_error, "%s",
                     rc == -EPROTO ? "short or wrong echo" : strerror(-rc));
        pthread_mutex_unlock(&l->lock);
    }
    return NULL;
}

/* Waits until the load has made `more` more round trips. */
static void wait_progress(struct load *l, long more)
{
    long want = atomic_load(&l->ok) + more;
    double deadline = ts_now() + 30;
    while (atomic_load(&l->ok) < want) {
        cr_assert(ts_now() < deadline, "the load made no progress");
        struct timespec t = {0, 5 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
}

/* One line on a long-lived connection, echoed. */
static void line_roundtrip(int fd, int n)
{
    char out[32], in[32];
    int len = snprintf(out, sizeof out, "line %d\n", n);
    cr_assert_eq(ts_write_full(fd, out, (size_t)len), 0);
    cr_assert_eq(ts_read_full(fd, in, (size_t)len), len);
    cr_assert_eq(memcmp(in, out, (size_t)len), 0);
}

/* SIGUSR2 to `pid`; returns the next generation's pid (the n-th upgrade). */
static pid_t upgrade(ts_proc *p, pid_t pid, int n)
{
    cr_assert_eq(kill(pid, SIGUSR2), 0);
    char rest[32];
    cr_assert_eq(dt_wait_nth_line(p, "upgraded: new server pid ", n, rest,
                                  sizeof rest, 30.0), 0,
                 "upgrade %d did not complete; stderr:\n%s", n, p->err);
    return (pid_t)atol(rest);
}

static void upgrade_loop(const char *mode, int upgrades)
{
    become_subreaper();
    const char *argv[] = {ts_build_path("examples/echo/echo-server"), "--listen",
                          "127.0.0.1:0", "--mode", mode, NULL};
    ts_proc p;
    char addr[64];
    ss_addr sa;
    cr_assert_eq(ts_start_server(&p, (char *const *)argv, addr, sizeof addr, &sa), 0);

    static struct load l;
    memset(&l, 0, sizeof l);
    pthread_mutex_init(&l.lock, NULL);
    l.addr = addr;
    pthread_t tids[LOADERS];
    for (int i = 0; i < LOADERS; i++)
        cr_assert_eq(pthread_create(&tids[i], NULL, loader, &l), 0);
    /* Open before the first upgrade, used after each: it stays with the
     * first generation, which must serve it to the end. */
    int held = ts_connect(&sa, SOCK_STREAM, 20.0);
    cr_assert_geq(held, 0);
    line_roundtrip(held, 0);

    pid_t pid = p.pid;
    for (int n = 1; n <= upgrades; n++) {
        wait_progress(&l, 5);
        pid = upgrade(&p, pid, n);
        line_roundtrip(held, n);
    }
    wait_progress(&l, 5);
    atomic_store(&l.stop, true);
    for (int i = 0; i < LOADERS; i++)
        pthread_join(tids[i], NULL);
    close(held);

    cr_assert_eq(atomic_load(&l.failed), 0, "%ld of %ld connections failed, "
                 "the first: %s; stderr:\n%s", atomic_load(&l.failed),
                 atomic_load(&l.ok) + atomic_load(&l.failed), l.first_error, p.err);
    cr_assert_gt(atomic_load(&l.ok), 5L * upgrades);
    /* The last generation still serves, then stops cleanly. */
    cr_assert_eq(dt_echo_roundtrip(addr, "last\n", 5), 0);
    cr_assert_eq(kill(pid, SIGTERM), 0);
    cr_assert_eq(dt_reap_all(30.0), 0, "a server generation did not exit");
    ts_drain(&p);
    cr_assert_null(strstr(p.err, "upgrade failed"), "%s", p.err);
    no_sanitizer_report(&p);
}

Test(upgrade, twenty_upgrades_under_load_drop_nothing_threading, .timeout = 240)
{
    upgrade_loop("threading", UPGRADES);
}

/* The event mode drains its open connections on the loop instead of
 * threads: the held connection lives through the upgrades there too. */
Test(upgrade, upgrades_under_load_drop_nothing_uv, .timeout = 240)
{
    upgrade_loop("uv", 5);
}

/* --- upgrades that fail -------------------------------------------------- */

static void put_file(const char *path, const char *text, const char *from)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    if (from) {
        char *argv[] = {"/bin/cp", (char *)from, tmp, NULL};
        cr_assert_eq(ts_run(argv, NULL, 0, NULL, 0, NULL, 0, 30.0), 0);
    } else {
        FILE *f = fopen(tmp, "w");
        cr_assert_not_null(f);
        fputs(text, f);
        fclose(f);
    }
    cr_assert_eq(chmod(tmp, 0755), 0);
    cr_assert_eq(rename(tmp, path), 0, "replaced as an installer does");
}

/* The binary on disk is replaced by one that exits, then by one that
 * never gets ready: each time the old process logs why and keeps
 * serving.  Then the real program goes back and the upgrade succeeds. */
Test(upgrade, failed_new_binary_leaves_the_old_one_serving, .timeout = 120)
{
    become_subreaper();
    char dir[256], exe[300], libs[300], ldpath[400];
    ts_mkdtemp("upgrade", dir, sizeof dir);
    snprintf(exe, sizeof exe, "%s/echo-server", dir);
    put_file(exe, NULL, ts_build_path("examples/echo/echo-server"));
    /* The copy is away from its build directory's library. */
    snprintf(libs, sizeof libs, "%s", ts_build_path("libsockserv"));
    snprintf(ldpath, sizeof ldpath, "LD_LIBRARY_PATH=%s", libs);
    char *env[] = {ldpath, NULL};
    const char *argv[] = {exe, "--listen", "127.0.0.1:0", "--upgrade-timeout",
                          "1", NULL};
    ts_proc p;
    cr_assert_eq(ts_spawn(&p, (char *const *)argv, env, -1, true), 0);
    char addr[64];
    cr_assert_eq(ts_wait_line(&p, "listening on ", addr, sizeof addr, 10.0), 0,
                 "%s", p.err);

    put_file(exe, "#!/bin/sh\necho 'cannot start' >&2\nexit 3\n", NULL);
    kill(p.pid, SIGUSR2);
    cr_assert_eq(dt_wait_text(&p, "upgrade failed, still serving", false, 30.0), 0);
    cr_assert(strstr(p.err, "exited with status 3 before it was ready"), "%s", p.err);
    cr_assert_eq(dt_echo_roundtrip(addr, "still here\n", 11), 0);

    put_file(exe, "#!/bin/sh\nexec sleep 60\n", NULL);
    kill(p.pid, SIGUSR2);
    cr_assert_eq(dt_wait_text(&p, "not ready in time; killed it", false, 30.0), 0,
                 "%s", p.err);
    cr_assert_eq(dt_echo_roundtrip(addr, "still here\n", 11), 0);

    put_file(exe, NULL, ts_build_path("examples/echo/echo-server"));
    kill(p.pid, SIGUSR2);
    char rest[32];
    cr_assert_eq(dt_wait_nth_line(&p, "upgraded: new server pid ", 1, rest,
                                  sizeof rest, 30.0), 0, "%s", p.err);
    cr_assert_eq(dt_echo_roundtrip(addr, "new one\n", 8), 0);
    kill((pid_t)atol(rest), SIGTERM);
    cr_assert_eq(dt_reap_all(30.0), 0, "a server generation did not exit");
    no_sanitizer_report(&p);
    ts_rmtree(dir);
}

/* --- the mechanism inside one process ------------------------------------ */

/* Answers one byte: the name of the server that took the connection. */
static int name_handle(ss_handler *h, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    const char *name = h->server->data;
    int rc = ss_wfile_write(&sh->wfile, name, 1);
    return rc < 0 ? ss_error_set(err, rc, "write") : 0;
}

static const ss_handler_class name_handler = {
    .base = &ss_stream_request_handler_class,
    .name = "NameHandler",
    .handle = name_handle,
};

static void *serve(void *arg)
{
    ss_server_serve_forever(arg, 0.5);
    return NULL;
}

static char ask(const ss_addr *a)
{
    int fd = ts_connect(a, SOCK_STREAM, 10.0);
    cr_assert_geq(fd, 0);
    char c = 0;
    cr_assert_eq(ts_read_full(fd, &c, 1), 1);
    close(fd);
    return c;
}

/* Two servers on one listening socket (the second adopts a copy, as the
 * new process of an upgrade does): once the first stops accepting, the
 * second takes every connection, including those queued meanwhile. */
Test(upgrade, stop_accepting_leaves_the_queue_to_the_sharing_server)
{
    ss_server a, b;
    ss_addr addr;
    ss_error err;
    ss_addr_parse(&addr, "127.0.0.1:0", NULL);
    cr_assert_eq(ss_server_init(&a, &ss_threading_tcp_server_class, &addr,
                                &name_handler, SS_BIND_AND_ACTIVATE, &err), 0);
    a.data = "A";
    pthread_t ta, tb;
    pthread_create(&ta, NULL, serve, &a);
    cr_assert_eq(ask(&a.server_address), 'A');
    cr_assert_eq(ss_server_stop_accepting(&a), 0);

    /* Queued while nobody accepts: not refused, not lost. */
    int waiting = ts_connect(&a.server_address, SOCK_STREAM, 10.0);
    cr_assert_geq(waiting, 0);
    cr_assert_eq(ss_server_init(&b, &ss_threading_tcp_server_class, NULL,
                                &name_handler, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(ss_server_adopt(&b, fcntl(a.socket, F_DUPFD_CLOEXEC, 3), &err),
                 0, "%s", err.msg);
    b.data = "B";
    pthread_create(&tb, NULL, serve, &b);
    char c = 0;
    cr_assert_eq(ts_read_full(waiting, &c, 1), 1);
    cr_assert_eq(c, 'B');
    close(waiting);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(ask(&b.server_address), 'B');

    ss_server_shutdown(&a);
    pthread_join(ta, NULL);
    ss_server_close(&a);
    cr_assert_eq(ask(&b.server_address), 'B', "closing A closes only its copy");
    ss_server_shutdown(&b);
    pthread_join(tb, NULL);
    ss_server_close(&b);
}
