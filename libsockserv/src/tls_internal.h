/* tls_internal.h - what the tls*.c files share. */
#ifndef SOCKSERV_TLS_INTERNAL_H
#define SOCKSERV_TLS_INTERNAL_H

#include <openssl/ssl.h>

#include <sockserv/tls.h>

/* Fills err with "<fmt>: <OpenSSL's reason for the earliest queued error>"
 * and empties the thread's error queue.  Returns code. */
int ss__tls_fail(ss_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Makes c a connection over fd as a server (accept state) or client.  The
 * struct must not move afterwards (the BIO points to it).  0 or SS_ETLS. */
int ss__tls_conn_setup(ss_tls_conn *c, ss_tls_context *ctx, int fd,
                       ss_error *err);

/* The same over two memory BIOs instead of the socket (the event mode,
 * tls_event.c): ciphertext goes in through SSL_get_rbio() and comes out of
 * SSL_get_wbio(); fd only names the peer and tells recv that the socket is
 * non-blocking.  0, or -ENOMEM / -EINVAL. */
int ss__tls_conn_setup_memory(ss_tls_conn *c, ss_tls_context *ctx, int fd,
                              ss_error *err);

/* One handshake step on a non-blocking socket.  Returns 0 when the
 * handshake is complete, -EAGAIN with *events (POLLIN / POLLOUT) to wait
 * for, or a negative code with err filled ("TLS handshake with <peer>: ..."). */
int ss__tls_handshake_step(ss_tls_conn *c, const char *peer, short *events,
                           ss_error *err);

/* The handshake, bounded by timeout (s), whatever fd's blocking mode, which
 * it restores.  Runs the server's post-handshake work. */
int ss__tls_handshake(ss_tls_conn *c, const char *peer, double timeout,
                      ss_error *err);

/* Server side, after a completed handshake: ties the session to c's tag. */
void ss__tls_server_established(ss_tls_conn *c);

/* The ticket callbacks that carry the tag (tls_conn.c). */
int ss__tls_ticket_gen(SSL *ssl, void *arg);
SSL_TICKET_RETURN ss__tls_ticket_dec(SSL *ssl, SSL_SESSION *sess,
                                     const unsigned char *keyname,
                                     size_t keyname_len,
                                     SSL_TICKET_STATUS status, void *arg);

/* Client contexts: keeps each new session on its connection family. */
int ss__tls_new_session(SSL *ssl, SSL_SESSION *sess);

/* The socket BIO of a context (tls_conn.c). */
BIO_METHOD *ss__tls_bio_method_new(void);

#endif
