/* tests/daemon/test_notify.c - the sd_notify messages, read from a unix
 * datagram socket the test binds, as systemd would: from the library calls
 * and from the echo-server binary. */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sockserv/sockserv.h>

#include "daemon_test.h"

static char dir[256];

static void make_dir(void)
{
    ts_mkdtemp("notify", dir, sizeof dir);
}

static void remove_dir(void)
{
    ts_rmtree(dir);
}

/* Every state, in order, on a socket file. */
static void every_state(const char *address)
{
    int rx = dt_notify_receiver(address, 10.0);
    cr_assert_geq(rx, 0, "receiver %s: %s", address, strerror(-rx));
    setenv("NOTIFY_SOCKET", address, 1);
    setenv("WATCHDOG_USEC", "4000000", 1);
    ss_notifier n;
    ss_error err;
    cr_assert_eq(ss_notifier_init(&n, 0, &err), 0, "%s", err.msg);
    cr_assert(ss_notifier_enabled(&n));
    cr_assert_null(getenv("NOTIFY_SOCKET"), "consumed, as sd_notify(1, ...)");
    cr_assert_null(getenv("WATCHDOG_USEC"));
    cr_assert_eq(ss_notifier_watchdog_usec(&n), 4000000);

    char msg[512];
    cr_assert_eq(ss_notify_ready(&n, "serving 2 listeners", &err), 0, "%s", err.msg);
    cr_assert_geq(dt_recv_text(rx, msg, sizeof msg), 0);
    cr_assert_str_eq(msg, "READY=1\nSTATUS=serving 2 listeners");

    cr_assert_eq(ss_notify_reloading(&n, &err), 0);
    cr_assert_geq(dt_recv_text(rx, msg, sizeof msg), 0);
    cr_assert(strncmp(msg, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0, "%s", msg);
    cr_assert_gt(strtoull(msg + 27, NULL, 10), 0);

    cr_assert_eq(ss_notifier_watchdog_tick(&n, &err), 1, "the first is due");
    cr_assert_geq(dt_recv_text(rx, msg, sizeof msg), 0);
    cr_assert_str_eq(msg, "WATCHDOG=1");
    cr_assert_eq(ss_notifier_watchdog_tick(&n, &err), 0, "not again before 2 s");

    cr_assert_eq(ss_notify_stopping(&n, &err), 0);
    cr_assert_geq(dt_recv_text(rx, msg, sizeof msg), 0);
    cr_assert_str_eq(msg, "STOPPING=1");
    ss_notifier_close(&n);
    ss_notifier_close(&n); /* idempotent */
    close(rx);
}

Test(notify, every_state_reaches_a_socket_file, .init = make_dir,
     .fini = remove_dir)
{
    char path[300];
    snprintf(path, sizeof path, "%s/notify", dir);
    every_state(path);
}

Test(notify, every_state_reaches_an_abstract_socket)
{
    char name[64];
    snprintf(name, sizeof name, "@sockserv-test-notify-%ld", (long)getpid());
    every_state(name);
}

Test(notify, without_notify_socket_every_call_is_a_no_op)
{
    unsetenv("NOTIFY_SOCKET");
    setenv("WATCHDOG_USEC", "1000000", 1);
    ss_notifier n;
    cr_assert_eq(ss_notifier_init(&n, 0, NULL), 0);
    cr_assert_not(ss_notifier_enabled(&n));
    cr_assert_eq(ss_notify_ready(&n, NULL, NULL), 0);
    cr_assert_eq(ss_notify_stopping(&n, NULL), 0);
    cr_assert_eq(ss_notifier_watchdog_tick(&n, NULL), 0);
    ss_notifier_close(&n);
}

Test(notify, watchdog_for_another_pid_is_not_ours)
{
    setenv("NOTIFY_SOCKET", "@sockserv-test-nobody", 1);
    setenv("WATCHDOG_USEC", "1000000", 1);
    setenv("WATCHDOG_PID", "1", 1);
    ss_notifier n;
    cr_assert_eq(ss_notifier_init(&n, SS_NOTIFY_KEEP_ENV, NULL), 0);
    cr_assert_eq(ss_notifier_watchdog_usec(&n), 0);
    cr_assert_not_null(getenv("NOTIFY_SOCKET"), "SS_NOTIFY_KEEP_ENV keeps it");
    ss_notifier_close(&n);
}

Test(notify, bad_addresses_are_refused_with_the_reason)
{
    ss_notifier n;
    ss_error err;
    cr_assert_eq(ss_notifier_init_address(&n, "relative/path", &err), -EINVAL);
    cr_assert(strstr(err.msg, "not a /path or an @abstract name"), "%s", err.msg);
    cr_assert_eq(ss_notifier_init_address(&n, "vsock:2:1234", &err), -EAFNOSUPPORT);
    cr_assert_not(ss_notifier_enabled(&n));
    char longname[200];
    memset(longname, 'a', sizeof longname - 1);
    longname[0] = '/';
    longname[sizeof longname - 1] = '\0';
    cr_assert_eq(ss_notifier_init_address(&n, longname, &err), -EINVAL);
    ss_notifier_close(&n);
}

/* The program as systemd runs it with Type=notify and WatchdogSec=. */
Test(notify, echo_server_reports_ready_watchdog_and_stopping, .init = make_dir,
     .fini = remove_dir, .timeout = 60)
{
    char path[300], env_sock[320];
    snprintf(path, sizeof path, "%s/notify", dir);
    int rx = dt_notify_receiver(path, 20.0);
    cr_assert_geq(rx, 0);
    snprintf(env_sock, sizeof env_sock, "NOTIFY_SOCKET=%s", path);
    char *env[] = {env_sock, "WATCHDOG_USEC=1000000", NULL};
    const char *argv[] = {ts_build_path("examples/echo/echo-server"), "--listen",
                          "127.0.0.1:0", "--mode", "uv", NULL};
    ts_proc p;
    cr_assert_eq(ts_spawn(&p, (char *const *)argv, env, -1, true), 0);
    char addr[64], msg[512];
    cr_assert_eq(ts_wait_line(&p, "listening on ", addr, sizeof addr, 10.0), 0);
    cr_assert_eq(dt_recv_until(rx, "READY=1", msg, sizeof msg), 0);
    char status[96];
    snprintf(status, sizeof status, "STATUS=listening on %s", addr);
    cr_assert(strstr(msg, status), "%s", msg);
    cr_assert_eq(dt_recv_until(rx, "WATCHDOG=1", msg, sizeof msg), 0);
    kill(p.pid, SIGTERM);
    cr_assert_eq(dt_recv_until(rx, "STOPPING=1", msg, sizeof msg), 0);
    int st = ts_stop(&p, 0, 20.0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", p.err);
    close(rx);
}
