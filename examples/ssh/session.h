/* examples/ssh/session.h - one client's session: the request handler.
 *
 * SshSession derives from libsockserv's StreamRequestHandler; the server
 * makes one instance per connection and calls its handle() on the
 * connection's own thread (threading) or process (forking).  handle():
 *   1. HELLO: the protocol version and the token, checked before anything
 *      else (constant time); READY back, or ERROR and close;
 *   2. then RUN frames, one command at a time: the built-ins cd, pwd,
 *      export and exit change the session itself; anything else goes to
 *      /bin/sh -c (runner.h).  Each command ends with one EXIT frame.
 * A protocol error gets an ERROR frame and closes this session only.
 */
#ifndef SSH_DEMO_SESSION_H
#define SSH_DEMO_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include <sockserv/handler.h>

/* What every session needs from the command line.  The server's `data`
 * points to one; sessions only read it. */
typedef struct ssh_server_config {
    const char *token; /* NULL: no token required */
    size_t token_len;
    double timeout;    /* per command, seconds; <= 0: none */
} ssh_server_config;

extern const ss_handler_class ssh_session_class;

#endif
