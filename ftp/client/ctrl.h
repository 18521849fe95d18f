/* ftp/client/ctrl.h - the control connection: connect, send a command line,
 * read a reply.
 *
 * One ftpc_ctrl per session, caller-allocated, single-threaded.  Every wait
 * is bounded by timeout_s.  Errors: functions return FTPC_ERR_NET (lost,
 * timed out, garbage) or FTPC_ERR_CONNECT (connect failed) and write the
 * reason into err. */
#ifndef FTPC_CTRL_H
#define FTPC_CTRL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <sockserv/tls.h>

#include "io.h"
#include "reply.h"

#define FTPC_ERR_MAX 1024

typedef struct ftpc_ctrl {
    ftpc_stream io;
    ss_tls_conn tls_conn;        /* io's TLS connection once it has one: here,
                                    where it never moves (tls.h) */
    double timeout_s;
    bool trace;                  /* protocol trace on stderr (-v) */
    char in[4096];               /* received, not yet split into lines */
    size_t in_len;
    ftpc_reply reply;            /* the last reply read */
    struct sockaddr_storage local, peer;
    socklen_t local_len, peer_len;
    char err[FTPC_ERR_MAX];      /* reason of the last failure */
} ftpc_ctrl;

void ftpc_ctrl_init(ftpc_ctrl *c, double timeout_s, bool trace);
bool ftpc_ctrl_is_open(const ftpc_ctrl *c);

/* Resolves host:port and connects to the first address that answers.
 * Returns 0 or FTPC_ERR_CONNECT. */
int ftpc_ctrl_connect(ftpc_ctrl *c, const char *host, const char *port);

/* Sends one command (printf format), adding CR LF.  A CR or LF inside it
 * (say, from a file name) is refused with FTPC_ERR_USAGE: it would smuggle a
 * second command.  Returns 0, FTPC_ERR_USAGE or FTPC_ERR_NET. */
int ftpc_ctrl_send(ftpc_ctrl *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reads one complete reply into c->reply.  Returns its code (100..599) or
 * FTPC_ERR_NET. */
int ftpc_ctrl_read(ftpc_ctrl *c);

/* send + read, skipping nothing.  Returns the code or a negative status. */
int ftpc_ctrl_cmd(ftpc_ctrl *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sets err to "what: NNN <last reply line>" (just "NNN ..." when what is
 * NULL) and returns status. */
int ftpc_ctrl_fail(ftpc_ctrl *c, int status, const char *what);

void ftpc_ctrl_close(ftpc_ctrl *c);

#endif
