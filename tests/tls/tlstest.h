/* tests/tls/tlstest.h - what the TLS suites share: certificates made at
 * test time, an in-process server on port 0 whose handle_error calls are
 * counted, and a line protocol handler (echo, STARTTLS, DATA). */
#ifndef TESTS_TLS_TLSTEST_H
#define TESTS_TLS_TLSTEST_H

#include <pthread.h>
#include <stdbool.h>

#include <sockserv/sockserv.h>

/* A throwaway PKI in a temp dir (EC P-256, made with OpenSSL's API):
 *   ca           the CA every good certificate chains to
 *   server       CN=localhost, SAN localhost, 127.0.0.1, ::1; signed by ca
 *   expired      the same names, valid from 30 to 1 days ago; signed by ca
 *   wronghost    SAN example.invalid only; signed by ca
 *   other_ca     a CA that signed nothing here
 *   client       CN=client, a client certificate signed by ca
 * Each has <name>_cert and (leaves) <name>_key paths. */
typedef struct tt_pki {
    char dir[256];
    char ca_cert[320], other_ca_cert[320];
    char server_cert[320], server_key[320];
    char expired_cert[320], expired_key[320];
    char wronghost_cert[320], wronghost_key[320];
    char client_cert[320], client_key[320];
} tt_pki;

/* Makes the PKI (once per process; later calls return the same one). */
const tt_pki *tt_pki_get(void);

/* A server context for the PKI's server certificate, with options. */
void tt_server_ctx(ss_tls_context *ctx, const ss_tls_options *extra);
/* A client context trusting the PKI's CA. */
void tt_client_ctx(ss_tls_context *ctx, const ss_tls_options *extra);

/* --- a server running on a thread --------------------------------------- */

typedef struct tt_server {
    ss_server srv;
    ss_server_class cls; /* derives from the chosen class */
    pthread_t thread;
    ss_addr addr;
    ss_tls_context *starttls; /* for the STARTTLS command */
    ss_tls_context *data_ctx; /* for the DATA command */
    int data_listener;        /* DATA accepts here */
    ss_addr data_addr;
    bool data_require_resume;
    bool data_no_tickets; /* NOTICKETS: SS_TLS_ACCEPT_NO_TICKETS (handler) */

    pthread_mutex_t lock;
    pthread_cond_t cond;
    int errors;             /* handle_error calls */
    char last_error[SS_ERRMSG_MAX];
    int handled;            /* handle() calls that began */
} tt_server;

/* Starts base (e.g. &ss_tcp_server_class) on 127.0.0.1:0 with the line
 * handler, implicit TLS with implicit_ctx (NULL: plaintext), serving on a
 * thread of its own. */
void tt_server_start(tt_server *t, const ss_server_class *base,
                     ss_tls_context *implicit_ctx);
/* The same in two steps, to set fields (starttls, data_*) in between. */
void tt_server_prepare(tt_server *t, const ss_server_class *base,
                       ss_tls_context *implicit_ctx);
void tt_server_run(tt_server *t);
/* Opens t->data_listener on 127.0.0.1:0 (t->data_addr). */
void tt_server_data_listener(tt_server *t);
void tt_server_stop(tt_server *t);
/* Waits until at least n handle_error calls happened (deadline timeout_s);
 * returns the count seen. */
int tt_wait_errors(tt_server *t, int n, double timeout_s);

/* --- client side -------------------------------------------------------- */

/* A TCP connection to addr (5 s socket timeouts), asserting success. */
int tt_connect(const ss_addr *addr);

/* A TLS client connection: fd + conn.  tt_client_open asserts success. */
typedef struct tt_client {
    int fd;
    ss_tls_conn conn;
} tt_client;
void tt_client_open(tt_client *c, const ss_addr *addr, ss_tls_context *ctx,
                    const ss_tls_conn *resume);
void tt_client_close(tt_client *c);
/* Writes s and reads one line back into buf (NUL-terminated). */
void tt_client_exchange(tt_client *c, const char *s, char *buf, size_t cap);
/* Reads fd until EOF or a reset: the server dropped us.  0, or -errno
 * (-EAGAIN when fd's receive timeout passed first). */
int tt_wait_dropped(int fd);

/* STARTTLS with the ClientHello glued to the command: writes cmd and the
 * client's first flight (made in memory) in one write on fd, and returns
 * the client SSL for tt_glued_finish() once the plaintext reply has been
 * read. */
struct ssl_st *tt_glued_hello(ss_tls_context *cctx, int fd, const char *cmd);
/* The rest of that handshake over fd itself, asserted; then sends msg and
 * reads one line back into reply (NUL-terminated).  Frees ssl. */
void tt_glued_finish(struct ssl_st *ssl, int fd, const char *msg,
                     char *reply, size_t cap, const char *server_error);

/* One line over any transport (byte at a time; tests only). */
ssize_t tt_readline(ss_transport *t, char *buf, size_t cap);
int tt_write(ss_transport *t, const char *s);

/* The line handler's commands, one per line:
 *   STARTTLS  replies "OK\n" in plaintext, then upgrades (t->starttls)
 *   DATA      accepts one connection on t->data_listener, handshakes with
 *             ss_tls_accept (resume_of = this connection when
 *             t->data_require_resume), sends "data\n" on it, and replies
 *             "DATA OK <reused 0|1>\n" or "DATA REFUSED <message>\n"
 *   NOTICKETS data channels get no TLS 1.3 tickets from now on ("OK\n")
 *   VERSION   replies the TLS version ("TLSv1.3\n" or "plain\n")
 *   anything else is echoed. */
extern const ss_handler_class tt_line_handler_class;

#endif
