/* examples/ssh/runner.h - runs one command for a session and relays it.
 *
 * The command is `/bin/sh -c LINE`, started in a session (and so a process
 * group) of its own with the session's directory and environment, and with
 * pipes, not a terminal, for stdin, stdout and stderr.  One poll() loop on
 * the handler's thread then multiplexes:
 *   child stdout / stderr  -> STDOUT / STDERR frames, as soon as read;
 *   STDIN / STDIN_EOF      -> the child's stdin (non-blocking, through a
 *                             bounded queue: while it is full the client's
 *                             frames wait in the socket, which is TCP's own
 *                             backpressure);
 *   SIGNAL                 -> kill() of the command's process group;
 *   client gone            -> SIGKILL to the process group.
 * When the shell exits, whatever it left running in its group is killed
 * too, so a background job cannot keep the output pipes (and the session)
 * open; the output already written is still read to the end.
 */
#ifndef SSH_DEMO_RUNNER_H
#define SSH_DEMO_RUNNER_H

#include <sockserv/error.h>

#include "conn.h"

typedef struct ssh_command {
    const char *line;  /* given to /bin/sh -c; read only until the fork, so
                          it may live in the frame buffer ssh_run reuses */
    const char *cwd;   /* the session's directory */
    char *const *envp; /* the session's environment */
    double timeout;    /* seconds; <= 0: none */
} ssh_command;

/* The exit status reported when --timeout killed a command (as timeout(1)). */
#define SSH_STATUS_TIMEOUT 124

/* Runs cmd, relaying as above.  Returns 0 with *status (0..255; a signal
 * sig gives 128+sig, as in a shell) once the command has ended and its
 * output has been sent; the caller sends EXIT.  Returns a negative code with
 * err set when the session must end (the client left, a send failed, or a
 * protocol error: SS_EPROTO); the command has then been killed and reaped.
 * Runs on the handler's thread; forks, and the child calls only
 * async-signal-safe functions, as fork() in a threaded process requires. */
int ssh_run(ssh_conn *c, const ssh_command *cmd, int *status, ss_error *err);

#endif
