/* tests/daemon/test_prefork.c - examples/prefork: N processes on one port,
 * through one shared socket or SO_REUSEPORT; every connection is served
 * and the workers stop cleanly with the parent. */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "daemon_test.h"

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
