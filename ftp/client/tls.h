/* ftp/client/tls.h - FTPS for the client: the TLS context of a session and
 * the TLS ops for a stream (io.h), on libsockserv's client side (tls.h of
 * libsockserv: certificate and host name checks, SNI, and the session
 * resumption data connections need).
 *
 * Why libsockserv and not our own OpenSSL code: a data connection must
 * resume the control connection's session (servers such as sockserv-ftpd
 * and vsftpd require it), and with TLS 1.3 that means keeping the newest
 * ticket the control connection received and resuming a fresh copy of it
 * on each data connection, since OpenSSL's client uses a ticket only once
 * and a server may give data connections no tickets of their own.
 * ss_tls_connect(..., resume) does exactly that, and is tested against
 * OpenSSL servers and against sockserv-ftpd; a second copy of that logic
 * here would be a second place for the same subtle bug.  The price is
 * linking libsockserv (and, through it, libuv, which the client never
 * calls).
 *
 * Single-threaded, like the rest of the client. */
#ifndef FTPC_TLS_H
#define FTPC_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <sockserv/tls.h>

#include "io.h"

/* A client context: verification against cacert (a PEM file, NULL: the
 * system's store), or none when insecure; handshakes bounded by
 * timeout_s.  Returns 0, or -1 with a one-line reason in err (cap bytes).
 * ss_tls_context_close() frees it. */
int ftpc_tls_context_init(ss_tls_context *ctx, const char *cacert,
                          bool insecure, double timeout_s, char *err,
                          size_t cap);

/* Handshakes as the client on s's socket and switches s to the TLS ops.
 * conn: storage for the connection, owned by the caller, which must not
 * move or go away while s is open (the control connection's lives in
 * ftpc_ctrl, a data connection's in ftpc_data).  host: the name or address
 * the certificate must carry.  resume: the control connection's stream,
 * for a data connection (it must stay open longer), or NULL.  Returns 0,
 * or a negative code (SS_ETLS: the handshake or the certificate failed;
 * -ETIMEDOUT; -errno) with a one-line reason in err; s is then unchanged
 * (still open, plain). */
int ftpc_tls_start(ftpc_stream *s, ss_tls_conn *conn, ss_tls_context *ctx,
                   const char *host, const ftpc_stream *resume, char *err,
                   size_t cap);

/* True when s runs over TLS. */
bool ftpc_stream_is_tls(const ftpc_stream *s);

extern const ftpc_stream_ops ftpc_tls_ops;

#endif
