/* sockserv/tls.h - TLS with OpenSSL 3: a context, a transport, implicit TLS
 * for stream servers, STARTTLS in place, extra connections that must resume
 * a session (FTP data channels), and a client side.
 *
 * The pieces:
 *
 *   ss_tls_context   certificate chain + key (server, or client certificate),
 *                    the peers it trusts, the protocol policy.  Caller-
 *                    allocated; ss_tls_context_init() / ss_tls_context_close().
 *   ss_tls_conn      one TLS connection over a connected socket.  Its first
 *                    member is an ss_transport, so an rfile/wfile runs over
 *                    TLS unchanged (sockfile.h).
 *
 * Server side, three ways in:
 *
 *   1. Implicit TLS (HTTPS, FTPS on 990): ss_server_set_tls() before serving.
 *      Every accepted connection that passes verify_request() is handshaken
 *      before process_request(), so handle() only ever sees TLS.  How it
 *      runs without blocking the server: see ss_server_set_tls().
 *   2. STARTTLS (FTP's AUTH TLS): a StreamRequestHandler calls
 *      ss_stream_handler_start_tls(); rfile and wfile carry on over TLS,
 *      bytes the client sent right behind its STARTTLS line included.
 *   3. An extra connection of the same session (an FTP data channel):
 *      ss_tls_accept() with resume_of = the control connection, which
 *      refuses a client that did not resume that connection's session.
 *
 * Client side: ss_tls_connect() (verification against a CA file or the
 * system store, host name check, SNI, resumption of another connection's
 * session), for tests and the example clients.
 *
 * Policy (not configurable downwards): TLS 1.2 minimum, ECDHE with AEAD
 * ciphers only for TLS 1.2 (TLS 1.3's suites are all modern), no
 * compression, no renegotiation, peer verification on by default for
 * clients.
 *
 * Threads: a context may be shared by any number of threads once it is
 * initialised (OpenSSL's SSL_CTX is thread-safe for making connections); it
 * must outlive every connection made from it.  A connection is used by one
 * thread at a time: rfile and wfile of one TLS connection must not be used
 * concurrently from two threads (OpenSSL's SSL object is not thread-safe),
 * unlike a plain socket.
 *
 * Errors: functions return 0 or a negative code (SS_ETLS for a TLS failure,
 * -ETIMEDOUT, -errno) and fill an ss_error whose message names the file or
 * the peer and carries OpenSSL's reason ("certificate verify failed:
 * certificate has expired").  OpenSSL's error queue is per thread and is
 * left empty by every call here.
 */
#ifndef SOCKSERV_TLS_H
#define SOCKSERV_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "event.h"
#include "handler.h"
#include "server.h"
#include "sockfile.h"

#ifdef __cplusplus
extern "C" {
#endif

/* OpenSSL's types, declared so this header does not need OpenSSL's. */
struct ssl_ctx_st; /* SSL_CTX */
struct ssl_st;     /* SSL */
struct bio_method_st;

/* Default bound on a handshake, in seconds. */
#define SS_TLS_HANDSHAKE_TIMEOUT 10.0
/* Length of the tag that ties resumed sessions to their first connection. */
#define SS_TLS_SESSION_TAG_LEN 16

/* What a context is made of.  Zero-initialise, then set what you need;
 * every string is borrowed for the duration of ss_tls_context_init() only. */
typedef struct ss_tls_options {
    bool server; /* true: accepts connections; false: a client context */

    /* PEM files.  Server: required (the chain, leaf first, and its key).
     * Client: optional, a client certificate. */
    const char *cert_file;
    const char *key_file;

    /* Server: when set, clients must present a certificate issued by a CA
     * in this PEM file (mutual TLS); the handshake fails otherwise. */
    const char *client_ca_file;

    /* Client: the CA certificates (PEM) the server's chain must lead to;
     * NULL: the system's default store.  insecure: no verification at all
     * (neither chain nor host name) - for tests and self-signed servers. */
    const char *ca_file;
    bool insecure;

    /* Protocol versions: 0 = the defaults (TLS 1.2 .. the highest).  A value
     * below TLS 1.2 (0x0303) is refused.  Tests pin 0x0303 to exercise
     * TLS 1.2 paths.  Values are the wire numbers: 0x0303 TLS 1.2, 0x0304
     * TLS 1.3. */
    int min_version;
    int max_version;

    /* TLS 1.2 cipher list in OpenSSL's syntax; NULL: ECDHE with AES-GCM or
     * ChaCha20-Poly1305 only. */
    const char *ciphers;

    /* No session tickets.  Client: resumption uses TLS 1.2 session ids
     * (what older FTP clients do).  Server: sessions are kept in the
     * server's cache instead of in tickets. */
    bool no_tickets;

    /* Server: bound on an implicit, STARTTLS or data-channel handshake, in
     * seconds; 0: SS_TLS_HANDSHAKE_TIMEOUT.  Client: the same for
     * ss_tls_connect(). */
    double handshake_timeout;
} ss_tls_options;

/* A context.  Caller-allocated; fields are read-only. */
typedef struct ss_tls_context {
    struct ssl_ctx_st *ssl_ctx; /* OpenSSL's, for advanced settings made
                                   before the first connection */
    struct bio_method_st *bio_method; /* the socket BIO used by connections */
    bool server;
    bool verify; /* client: the peer is verified */
    void *lock;  /* client: guards the connections' fresh sessions */
    double handshake_timeout;
} ss_tls_context;

/* Builds a context from *opt.  Loads and checks the files (the key must
 * match the certificate), sets the policy above.  Returns 0, or SS_ETLS /
 * -errno with err naming the file and OpenSSL's reason ("tls: key file
 * /etc/x.key: ... key values mismatch").  On failure nothing needs closing.
 * Not thread-safe on the same *ctx. */
int ss_tls_context_init(ss_tls_context *ctx, const ss_tls_options *opt,
                        ss_error *err);

/* Frees the context.  Every connection made from it must be closed first.
 * Idempotent. */
void ss_tls_context_close(ss_tls_context *ctx);

/* One TLS connection over a connected socket.  Caller-allocated for
 * ss_tls_connect() / ss_tls_accept(); allocated by the library for the
 * connections it makes itself (implicit TLS, STARTTLS), which belong to the
 * request (ss_request.tls) and are closed with it.  It must not be moved
 * or copied while open: OpenSSL's BIO points to it. */
typedef struct ss_tls_conn {
    ss_transport base;  /* first: recv/send over TLS; base.fd = the socket */
    struct ssl_st *ssl; /* OpenSSL's, for queries (SSL_get_peer_certificate) */
    ss_tls_context *ctx; /* borrowed */

    /* private */
    unsigned char *prefix; /* bytes read before the upgrade, fed first */
    size_t prefix_len, prefix_pos;
    unsigned char tag[SS_TLS_SESSION_TAG_LEN]; /* ties resumed sessions */
    bool tag_adopted;
    bool failed;    /* a fatal TLS error: no close_notify may follow */
    bool eof;       /* the peer's close_notify arrived */
    bool truncated; /* the peer closed without close_notify */
    bool heap;      /* allocated by the library */
    /* client: the newest session of this connection's family (itself and
     * the connections that resumed it), for the next one to resume */
    void *fresh_session;
    struct ss_tls_conn *root; /* client: the connection it resumed */
} ss_tls_conn;

/* --- client side ------------------------------------------------------ */

/* Handshakes as a client on fd (connected, borrowed: the caller still
 * closes it, after ss_tls_conn_close()).  host: the name to check the
 * server's certificate against and to send as SNI (an IP literal is checked
 * against the certificate's IP addresses and not sent); may be NULL only
 * for an insecure context.  resume: another connection to the same server
 * whose session this one resumes (an FTP data channel), or NULL; it must
 * outlive this connection.  With TLS 1.3 the session exists only once that
 * connection has read something after its handshake (the server's tickets
 * arrive then).  Each new connection resumes the newest session any
 * connection of the family received; a TLS 1.3 ticket is reused if no
 * newer one came (FTP servers may give data channels no tickets).  Waits at most
 * ctx->handshake_timeout whatever fd's blocking mode (which is kept).
 * Returns 0, SS_ETLS (err: "certificate verify failed: certificate has
 * expired"), -ETIMEDOUT or -errno; on failure *c needs no close.
 * Thread-safe for distinct connections. */
int ss_tls_connect(ss_tls_conn *c, ss_tls_context *ctx, int fd,
                   const char *host, const ss_tls_conn *resume,
                   ss_error *err);

/* --- server side: extra connections and STARTTLS ------------------------ */

/* Handshakes as a server on fd (connected, borrowed), bounded by
 * ctx->handshake_timeout, keeping fd's blocking mode.  resume_of: NULL, or
 * the connection whose session this one must resume (the FTP control
 * connection of a data channel): the client must resume that session (TLS
 * 1.3 ticket, TLS 1.2 ticket or session id, or a later session resumed from
 * it), else the connection is refused with SS_ETLS and a message that
 * starts "session reuse required".  A session of another control
 * connection does not count.  After a TLS 1.3 resumption it asks resume_of
 * to send the client a new ticket with its next write (clients use a ticket
 * once; the control connection's next reply brings the next data channel's
 * ticket), so resume_of must not be in use on another thread meanwhile.  Returns 0, SS_ETLS, -ETIMEDOUT or -errno; on
 * failure *c needs no close (fd stays open for the caller). */
int ss_tls_accept(ss_tls_conn *c, ss_tls_context *ctx, int fd,
                  const ss_tls_conn *resume_of, ss_error *err);

/* Flags of ss_tls_accept_ex(). */
enum {
    /* Send no TLS 1.3 session tickets on this connection (the context's
     * other connections still get theirs; TLS 1.2 is not affected).  For
     * connections a client only writes to, such as FTP upload channels: a
     * ticket the client never reads stays unread in its socket, and a
     * socket closed with unread bytes sends a reset instead of a FIN,
     * which throws away the end of the upload at the server (see
     * ss_tls_conn_finish).  Clients then take their next ticket from a
     * connection they do read (ss_tls_conn_new_ticket on the control
     * connection). */
    SS_TLS_ACCEPT_NO_TICKETS = 1u << 0,
};

/* ss_tls_accept() with flags (SS_TLS_ACCEPT_*; 0 is ss_tls_accept()).
 * -EINVAL for an unknown flag; otherwise the same. */
int ss_tls_accept_ex(ss_tls_conn *c, ss_tls_context *ctx, int fd,
                     const ss_tls_conn *resume_of, unsigned flags,
                     ss_error *err);

/* Upgrades a live StreamRequestHandler connection to TLS, as the server
 * (STARTTLS, FTP's AUTH TLS): call it after the plaintext reply that
 * accepts the upgrade has been flushed.  Bytes the client sent behind its
 * command and that rfile already buffered are handed to OpenSSL first.
 * Afterwards rfile and wfile go on over TLS, self->tls is the connection,
 * and it belongs to the request (h->request->tls): it sends close_notify
 * in shutdown_request and is freed in close_request.  The handshake is
 * bounded by ctx->handshake_timeout.  Returns 0, -EALREADY when the
 * connection is TLS already, SS_ETLS, -ETIMEDOUT or -errno; after a
 * failure the connection is unusable and the handler should return the
 * error.  On the handler's thread only. */
int ss_stream_handler_start_tls(ss_stream_handler *self, ss_tls_context *ctx,
                                ss_error *err);

/* --- implicit TLS for stream servers ------------------------------------ */

/* Makes server s speak TLS on every connection it accepts (TCP or unix
 * stream servers, any mixin, EventMixIn included: see "TLS in the event
 * mode" below).  ctx is borrowed and must outlive the server; NULL turns
 * it off.  Call before serving.  Returns 0, -EINVAL for a client context
 * or a datagram server, -EBADF for a closed server, -ENOMEM.
 *
 * Design: the handshake never runs unbounded on the serving thread.  When
 * the server is served by a libuv loop (serve_forever, or attached to the
 * caller's loop), each accepted connection that passed verify_request() is
 * made non-blocking and its handshake is driven by that loop (a uv_poll on
 * the socket and a uv_timer for ctx->handshake_timeout), so any number of
 * clients can be half-way through a handshake while the loop goes on
 * accepting and serving.  When the handshake completes the socket is made
 * blocking again and the request goes to process_request() as usual (a
 * thread, a child, or the loop thread of a sync server); ss_request.tls
 * then holds the connection and StreamRequestHandler's rfile/wfile run
 * over it.  A failed handshake (plaintext, a bad certificate) or one that
 * did not finish in time goes to handle_error() with the client's address
 * and OpenSSL's reason, then shutdown_request().  Stopping the server
 * closes the handshakes still pending without reporting them (they were
 * never requests).  ss_server_handle_request(), which runs no loop, does
 * the handshake inline, bounded by the timeout.
 * Cost: handshake CPU is spent on the loop thread. */
int ss_server_set_tls(ss_server *s, ss_tls_context *ctx);

/* The context set with ss_server_set_tls(), or NULL. */
ss_tls_context *ss_server_get_tls(const ss_server *s);

/* --- TLS in the event mode (EventMixIn) ---------------------------------
 *
 * An event server's loop reads and writes its sockets itself, so its TLS
 * runs there too: OpenSSL works between two memory BIOs, the bytes the loop
 * reads are fed in, the records OpenSSL produces are written out by the
 * loop, and no TLS call ever waits for the socket.  Handlers see plaintext
 * only, through the same callbacks and ss_event_write(); their API does not
 * change.
 *
 * Implicit TLS (ss_server_set_tls): the handshake runs on the loop as soon
 * as the connection is accepted, bounded by ctx->handshake_timeout, while
 * the loop serves everyone else.  on_connect runs once it is done; a
 * handshake that fails (garbage, a bad certificate, the peer gone) or times
 * out goes to handle_error() with the client's address and the reason, and
 * the connection is closed without on_connect or on_close.
 *
 * Throughout: a record that arrives in pieces is assembled by OpenSSL
 * before its plaintext reaches on_data; records written while reading (a
 * TLS 1.3 key update's answer, an alert) are sent at once; queued
 * ciphertext counts for high_water, low_water and write_limit as plaintext
 * does; ss_event_close() sends close_notify behind the queued data, then
 * FIN (ss_event_abort() sends neither).  EOF without close_notify is an
 * EOF (on_eof), as Python's suppress_ragged_eofs does;
 * ss_tls_conn_closed_cleanly(ss_event_tls(h)) tells the two apart. */

/* STARTTLS on an event connection, as the server: call it from a callback
 * once the plaintext reply that accepts the upgrade has been written
 * (ss_event_write; it goes out before the handshake).  ahead/ahead_len:
 * bytes that arrived behind the command and that the handler has not
 * consumed (they may be the start of the ClientHello); NULL/0 when none.
 * From then on on_data receives plaintext from TLS; what the handler
 * writes before the handshake has ended is held and sent encrypted after
 * it.  The handshake is bounded by ctx->handshake_timeout; a failure or
 * timeout goes to handle_error() and closes the connection (on_close
 * runs).  ctx is borrowed and must outlive the connection.  Returns 0,
 * -EALREADY (TLS already), -EINVAL (a client context, a datagram handler),
 * SS_ECLOSED (closing), -ENOMEM, or a TLS failure on the ahead bytes
 * (SS_ETLS); on failure return the code from the callback.  Loop thread
 * only. */
int ss_event_start_tls(ss_event_handler *self, ss_tls_context *ctx,
                       const void *ahead, size_t ahead_len, ss_error *err);

/* The connection's TLS state, for the queries below (version, cipher,
 * peer subject, closed cleanly), or NULL for a plaintext connection.
 * Never call recv/send through it: the loop moves the bytes.  Borrowed
 * until on_close returns.  Loop thread only. */
const ss_tls_conn *ss_event_tls(const ss_event_handler *self);

/* --- any connection ----------------------------------------------------- */

/* Sends close_notify (once; later calls do nothing), waiting at most the
 * context's handshake timeout for the socket to take it.  Does not wait for
 * the peer's.  Not after a fatal error (then it does nothing).  Returns 0
 * or a negative code; the connection stays allocated. */
int ss_tls_conn_shutdown(ss_tls_conn *c);

/* Ends a connection that has sent data the peer may still be reading (an
 * upload, the last request of a client): sends close_notify (as
 * ss_tls_conn_shutdown()), shuts down the write side of the socket
 * (SHUT_WR: a FIN behind the last byte), then reads and discards whatever
 * still arrives until the peer closes its side, for at most timeout_s
 * seconds and max_bytes bytes.  Then ss_tls_conn_close() and close(fd) as
 * usual; no further recv/send on c.
 *
 * Why not shutdown + close: closing a TCP socket that still has unread
 * bytes in its receive buffer makes the kernel send a reset instead of a
 * FIN (RFC 1122 4.2.2.13), and a reset makes the peer's kernel throw away
 * what it has received but its program has not read yet - the tail of the
 * upload is lost and the peer sees ECONNRESET instead of EOF.  Such unread
 * bytes are common: a TLS 1.3 server sends its session tickets right after
 * the handshake, and a client that only writes never reads them.  The FIN
 * comes after all our data, so the peer's close means it has read all of
 * it; draining meanwhile keeps our receive buffer empty.
 *
 * After a fatal error (ss_tls_conn_failed()) it sends nothing and returns
 * SS_ETLS at once (what was sent may not have arrived).  The wait for
 * close_notify to go out is ss_tls_conn_shutdown()'s (at most 1 s), the
 * rest is bounded by timeout_s from the call; fd's blocking mode is kept.
 * Returns 0 when the peer closed in time, -ETIMEDOUT, -EMSGSIZE when it
 * sent more than max_bytes before closing, SS_ETLS, -EBADF for a zeroed or
 * closed c, or -errno (a reset: -ECONNRESET).  Borrowed c and fd; one thread at a time, like every call
 * on a connection. */
int ss_tls_conn_finish(ss_tls_conn *c, double timeout_s, size_t max_bytes);

/* Frees the TLS state without sending anything; fd is not closed.  The
 * session stays resumable unless the connection failed (OpenSSL would drop
 * it, and with it the session of the control connection a data channel
 * resumed).
 * Idempotent on a zeroed or closed struct.  For a library-allocated
 * connection (ss_request.tls) use ss_tls_conn_free(). */
void ss_tls_conn_close(ss_tls_conn *c);

/* Closes and frees a connection the library allocated (NULL is fine). */
void ss_tls_conn_free(ss_tls_conn *c);

/* Bytes already decrypted (or taken over from rfile) that recv returns
 * without touching the socket.  A caller that polls the socket before
 * reading (a non-blocking FTP data transfer) must read these first: poll()
 * does not see them. */
size_t ss_tls_conn_pending(const ss_tls_conn *c);

/* Server side, TLS 1.3: queues a fresh session ticket, sent with the next
 * write.  A ticket is meant for one resumption and clients such as curl do
 * not offer one twice, so a server whose extra connections resume this one
 * (FTP data channels) issues a new ticket after each.  No-op (0) on TLS 1.2
 * or a client connection; SS_ETLS when OpenSSL refuses.  The connection's
 * thread only. */
int ss_tls_conn_new_ticket(ss_tls_conn *c);

/* True when the handshake resumed an earlier session. */
bool ss_tls_conn_session_reused(const ss_tls_conn *c);

/* After recv or send returned -EAGAIN on a non-blocking socket: the poll
 * events (POLLIN, POLLOUT, from <poll.h>) the connection waits for before
 * the same call can make progress.  TLS may have to write while reading
 * (answering a key update, flushing an alert) or read while writing, so
 * the direction of the call is not enough: a read that must write would
 * wait for input forever.  0 when the last call did not stop for the socket.  Reads
 * OpenSSL's state (SSL_want_read / SSL_want_write) only; no errors; same
 * thread rules as the call it follows. */
short ss_tls_conn_wants(const ss_tls_conn *c);

/* True once the connection hit a fatal error: a TLS alert or protocol
 * failure (SS_ETLS from recv/send, a peer that refused our certificate
 * after a TLS 1.3 handshake), a socket error, or an EOF without
 * close_notify (then ss_tls_conn_closed_cleanly() is false too).  From
 * then on recv/send fail, ss_tls_conn_shutdown() and ss_tls_conn_finish()
 * send nothing, and the session is not kept for resumption.  False on a
 * zeroed or closed struct (a failed ss_tls_connect() leaves *c so).  No
 * errors; same thread rules as the connection's calls. */
bool ss_tls_conn_failed(const ss_tls_conn *c);

/* True once the peer's close_notify has been read; false when EOF came
 * without it (a truncation an application that cares, such as an FTP
 * upload, can treat as an error; recv reports both as EOF, as Python's
 * suppress_ragged_eofs does). */
bool ss_tls_conn_closed_cleanly(const ss_tls_conn *c);

/* "TLSv1.3", "TLSv1.2" (static text). */
const char *ss_tls_conn_version(const ss_tls_conn *c);
/* The negotiated cipher suite's name (static text). */
const char *ss_tls_conn_cipher(const ss_tls_conn *c);

/* The peer certificate's subject as one line ("CN=client"), into buf (cap
 * bytes, NUL-terminated).  Returns the length, or -ENOENT when the peer sent
 * no certificate. */
int ss_tls_conn_peer_subject(const ss_tls_conn *c, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
