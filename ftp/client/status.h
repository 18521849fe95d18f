/* ftp/client/status.h - the outcome of a client operation, as the exit code
 * sees it.
 *
 * Every ftpc_ call that talks to the server or touches a file returns one of
 * these (0 or negative) and leaves a message the user can read as it is in
 * the session's err buffer.  The split matters for two decisions: whether a
 * failure is worth a reconnect (FTPC_ERR_NET only) and which exit code the
 * program ends with (ftpc_exit_code). */
#ifndef FTPC_STATUS_H
#define FTPC_STATUS_H

typedef enum ftpc_status {
    FTPC_OK = 0,
    FTPC_ERR_REMOTE = -1,      /* the server refused (5xx): retrying will not help */
    FTPC_ERR_NET = -2,         /* connection lost, timed out, 4xx on a transfer: retried */
    FTPC_ERR_LOCAL = -3,       /* a local file could not be read or written */
    FTPC_ERR_VERIFY = -4,      /* checksums differ */
    FTPC_ERR_LOGIN = -5,       /* the server refused the user or password */
    FTPC_ERR_CONNECT = -6,     /* no control connection could be made */
    FTPC_ERR_USAGE = -7,       /* bad command line or shell command */
    FTPC_ERR_UNSUPPORTED = -8, /* the server lacks the command; callers fall back */
} ftpc_status;

/* Documented exit codes (doc/ftp-client.md). */
enum {
    FTPC_EXIT_OK = 0,
    FTPC_EXIT_FAIL = 1,    /* transfer, verification or command failure */
    FTPC_EXIT_USAGE = 2,
    FTPC_EXIT_LOGIN = 3,
    FTPC_EXIT_CONNECT = 4,
};

/* Maps a status to the exit code above.  Pure. */
int ftpc_exit_code(int status);

#endif
