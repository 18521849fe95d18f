/* sockserv/upgrade.h - handing the listening sockets to a new process
 * (the same binary or another one) without refusing a single connection.
 *
 * The old process forks and execs the new one with its listening sockets
 * as inherited descriptors, exactly as systemd's socket activation passes
 * them ($LISTEN_FDS, $LISTEN_PID, $LISTEN_FDNAMES: activation.h), and a
 * $NOTIFY_SOCKET of its own, on which the new process says READY=1 like it
 * would to systemd (notify.h).  Both processes now hold the same listening
 * socket, so its backlog is never lost.  Once the new process is ready, the
 * old one stops accepting (ss_server_stop_accepting), lets its connections
 * finish and exits.  If the new process exits or is not ready in time, it
 * is killed and the old one simply keeps serving.
 *
 *     ss_upgrade up;
 *     ss_upgrade_socket socks[] = {{srv.socket, "echo"}};
 *     if (ss_upgrade_start(&up, exe, argv, socks, 1, &notifier, 10.0, &err) == 0 &&
 *         ss_upgrade_wait(&up, &err) == 0) {
 *         ss_server_stop_accepting(&srv);  ... finish, exit
 *     } else log(err.msg);                 // still serving
 *     ss_upgrade_close(&up);
 */
#ifndef SOCKSERV_UPGRADE_H
#define SOCKSERV_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "notify.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One socket to pass: fd (borrowed; the old process keeps its copy) and its
 * name in $LISTEN_FDNAMES (no ':'; NULL: "unknown"). */
typedef struct ss_upgrade_socket {
    int fd;
    const char *name;
} ss_upgrade_socket;

/* One hand-over in progress.  Caller-allocated; _start then _close. */
typedef struct ss_upgrade {
    pid_t pid;         /* the new process; 0 once it failed and was reaped */
    int sock;          /* the datagram socket it reports on, -1 when closed */
    char address[64];  /* its $NOTIFY_SOCKET ("@sockserv-upgrade-...") */
    double deadline;   /* CLOCK_MONOTONIC seconds */
    bool ready;        /* it sent READY=1 */
    ss_notifier *manager; /* the old process's service manager, or NULL */
    char status[128];  /* the last STATUS= it sent */
} ss_upgrade;

/* Starts path (argv[0] is its name; both borrowed for the call) as the new
 * process with socks[0..n-1] at descriptors 3.. and $NOTIFY_SOCKET pointing
 * at a fresh abstract socket of this process.  The rest of the environment
 * is this process's, minus the activation and notify variables.  Its
 * signal mask is emptied and every signal set to its default, as a service
 * manager would start it.  When `manager` is an enabled notifier (this
 * process's own $NOTIFY_SOCKET), the new process gets its address in
 * SS_NOTIFY_NEXT_ENV and the watchdog interval, and once it is ready this
 * process sends MAINPID=<new pid> there, so systemd follows the new main
 * process (borrowed until _close).  timeout: seconds the new process has to
 * send READY=1.  Returns 0 or a negative code with a message; nothing is
 * left running on failure.  Any thread; not concurrently with setenv(). */
int ss_upgrade_start(ss_upgrade *self, const char *path, char *const argv[],
                     const ss_upgrade_socket *socks, size_t n,
                     ss_notifier *manager, double timeout, ss_error *err);

/* The descriptor to watch (readable when the new process sent something),
 * for a caller with its own loop; -1 when closed. */
int ss_upgrade_fd(const ss_upgrade *self);

/* Without blocking: reads what the new process sent and looks at whether
 * it still runs.  Returns 1 once it is ready (READY=1), 0 while waiting,
 * or a negative code with a message when it exited (-ECHILD) or missed the
 * deadline (-ETIMEDOUT, it is then killed); after a failure the process is
 * reaped and the caller keeps serving.  One thread at a time. */
int ss_upgrade_check(ss_upgrade *self, ss_error *err);

/* Blocks until ss_upgrade_check() gives a result: 0 when the new process
 * is ready, a negative code as ss_upgrade_check(). */
int ss_upgrade_wait(ss_upgrade *self, ss_error *err);

/* Closes the socket.  A new process that is not ready (yet) is killed
 * (SIGKILL) and reaped; a ready one is left running: it is the server now.
 * Idempotent. */
void ss_upgrade_close(ss_upgrade *self);

#ifdef __cplusplus
}
#endif
#endif
