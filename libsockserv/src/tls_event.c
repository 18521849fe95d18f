/* tls_event.c - TLS for EventMixIn connections: OpenSSL between two memory
 * BIOs, so that the loop's own non-blocking reads and writes carry the
 * ciphertext and no TLS call ever touches the socket or waits.
 *
 * event.c feeds what the stream read (ss__evtls_feed), runs the engine
 * (ss__evtls_handshake, ss__evtls_read) and, after every call that may have
 * produced records, sends what the write BIO holds (ss__evtls_output) -
 * whatever the call returned: OpenSSL may have written an alert, a
 * handshake flight, session tickets or a key update while it reports that
 * it wants input.  A write BIO never fills up, so OpenSSL never waits for
 * the socket; backpressure is the event mode's own (its write queue).
 *
 * The connection is an ss_tls_conn like the others (the session tag, the
 * ticket callbacks and the queries work unchanged); only its BIOs differ
 * (ss__tls_conn_setup_memory).  Loop thread only. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "internal.h"
#include "tls_internal.h"

/* A memory BIO keeps the largest buffer it ever needed.  event.c moves a
 * record at a time, which settles each BIO at about 22 KB; one that has
 * grown beyond this (a STARTTLS backlog encrypted at once) is replaced by
 * a fresh one once it is empty, so that a connection does not hold its
 * busiest moment for the rest of its life. */
#define KEEP_BIO_BYTES 32768

struct ss_evtls {
    ss_tls_conn conn;   /* first: ss__evtls_conn is a cast */
    const ss_addr *peer; /* borrowed from the handler, for messages */
    unsigned char *held; /* plaintext that could not be encrypted yet */
    size_t held_len;
    bool established;
};

static const char *peer_text(const struct ss_evtls *t, char *buf, size_t cap)
{
    return ss_addr_format(t->peer, buf, cap);
}

int ss__evtls_new(struct ss_evtls **out, struct ss_tls_context *ctx, int fd,
                  const ss_addr *peer, ss_error *err)
{
    *out = NULL;
    if (!ctx || !ctx->server)
        return ss_error_set(err, -EINVAL, "TLS: needs a server context");
    struct ss_evtls *t = calloc(1, sizeof *t);
    if (!t)
        return ss_error_set(err, -ENOMEM, "TLS: out of memory");
    int rc = ss__tls_conn_setup_memory(&t->conn, ctx, fd, err);
    if (rc < 0) {
        free(t);
        return rc;
    }
    t->peer = peer;
    *out = t;
    return 0;
}

void ss__evtls_free(struct ss_evtls *t)
{
    if (!t)
        return;
    ss_tls_conn_close(&t->conn);
    free(t->held);
    free(t);
}

struct ss_tls_conn *ss__evtls_conn(struct ss_evtls *t)
{
    return t ? &t->conn : NULL;
}

bool ss__evtls_established(const struct ss_evtls *t)
{
    return t->established;
}

size_t ss__evtls_held(const struct ss_evtls *t)
{
    return t->held_len;
}

int ss__evtls_feed(struct ss_evtls *t, const void *data, size_t len)
{
    /* event.c reads at most 64 KiB at a time, well within an int. */
    if (len == 0)
        return 0;
    if (len > INT32_MAX)
        return -EINVAL;
    return BIO_write(SSL_get_rbio(t->conn.ssl), data, (int)len) == (int)len
               ? 0
               : -ENOMEM;
}

/* --- the write side -------------------------------------------------------- */

/* Encrypts p[*done..len) into the write BIO.  -EAGAIN when OpenSSL must
 * read first (a handshake message in the way); *done says how far it got. */
static int encrypt(struct ss_evtls *t, const unsigned char *p, size_t len,
                   size_t *done, ss_error *err)
{
    ss_tls_conn *c = &t->conn;
    while (*done < len) {
        size_t put = 0;
        ERR_clear_error();
        if (SSL_write_ex(c->ssl, p + *done, len - *done, &put) == 1) {
            *done += put; /* a record at a time: SSL_MODE_ENABLE_PARTIAL_WRITE */
            continue;
        }
        int e = SSL_get_error(c->ssl, 0);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            ERR_clear_error();
            return -EAGAIN;
        }
        c->failed = true;
        char peer[SS_ADDRSTRLEN];
        return ss__tls_fail(err, SS_ETLS, "TLS write to %s",
                            peer_text(t, peer, sizeof peer));
    }
    return 0;
}

static int hold(struct ss_evtls *t, const unsigned char *p, size_t len)
{
    unsigned char *n = realloc(t->held, t->held_len + len);
    if (!n)
        return -ENOMEM;
    memcpy(n + t->held_len, p, len);
    t->held = n;
    t->held_len += len;
    return 0;
}

int ss__evtls_write_held(struct ss_evtls *t, ss_error *err)
{
    if (!t->established || t->held_len == 0)
        return 0;
    size_t done = 0;
    int rc = encrypt(t, t->held, t->held_len, &done, err);
    if (rc < 0 && rc != -EAGAIN)
        return rc;
    if (done == t->held_len) {
        free(t->held);
        t->held = NULL;
        t->held_len = 0;
    } else if (done > 0) {
        memmove(t->held, t->held + done, t->held_len - done);
        t->held_len -= done;
    }
    return 0;
}

int ss__evtls_write(struct ss_evtls *t, const void *buf, size_t len,
                    ss_error *err)
{
    const unsigned char *p = buf;
    if (t->conn.failed) {
        char peer[SS_ADDRSTRLEN];
        return ss_error_set(err, SS_ETLS, "TLS write to %s: the connection "
                            "failed", peer_text(t, peer, sizeof peer));
    }
    /* Before the handshake is done (STARTTLS), or behind bytes that are
     * waiting already: keep the order. */
    if (!t->established || t->held_len > 0)
        return hold(t, p, len) < 0
                   ? ss_error_set(err, -ENOMEM, "TLS: out of memory")
                   : 0;
    size_t done = 0;
    int rc = encrypt(t, p, len, &done, err);
    if (rc == -EAGAIN)
        return hold(t, p + done, len - done) < 0
                   ? ss_error_set(err, -ENOMEM, "TLS: out of memory")
                   : 0;
    return rc;
}

int ss__evtls_close_notify(struct ss_evtls *t)
{
    ss_tls_conn *c = &t->conn;
    if (!t->established || c->failed ||
        (SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN))
        return 0;
    ERR_clear_error();
    /* 0: sent, the peer's not read yet - all a closing server waits for. */
    int r = SSL_shutdown(c->ssl);
    ERR_clear_error();
    return r >= 0 ? 0 : SS_ETLS;
}

size_t ss__evtls_output(struct ss_evtls *t, const unsigned char **data)
{
    char *p = NULL;
    long n = BIO_get_mem_data(SSL_get_wbio(t->conn.ssl), &p);
    *data = (const unsigned char *)p;
    return n > 0 ? (size_t)n : 0;
}

/* A fresh, empty memory BIO in place of one grown large. */
static void replace_bio(SSL *ssl, bool reading)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return; /* keep the big one: still correct */
    if (reading) {
        BIO_set_mem_eof_return(b, -1);
        SSL_set0_rbio(ssl, b);
    } else {
        SSL_set0_wbio(ssl, b);
    }
}

static size_t capacity(BIO *b)
{
    BUF_MEM *bm = NULL;
    BIO_get_mem_ptr(b, &bm);
    return bm ? bm->max : 0;
}

void ss__evtls_output_sent(struct ss_evtls *t)
{
    SSL *ssl = t->conn.ssl;
    BIO *w = SSL_get_wbio(ssl);
    /* During the handshake OpenSSL has a buffering BIO over this one:
     * replace only afterwards. */
    if (t->established && capacity(w) > KEEP_BIO_BYTES)
        replace_bio(ssl, false);
    else
        (void)BIO_reset(w);
}

void ss__evtls_trim(struct ss_evtls *t)
{
    SSL *ssl = t->conn.ssl;
    BIO *r = SSL_get_rbio(ssl);
    if (!t->established || BIO_ctrl_pending(r) != 0)
        return;
    if (capacity(r) > KEEP_BIO_BYTES)
        replace_bio(ssl, true);
    /* The record buffers the handshake left (SSL_MODE_RELEASE_BUFFERS
     * frees them only after application data); a no-op while a record is
     * half read. */
    SSL_free_buffers(ssl);
}

/* --- the read side --------------------------------------------------------- */

int ss__evtls_handshake(struct ss_evtls *t, ss_error *err)
{
    if (t->established)
        return 0;
    char peer[SS_ADDRSTRLEN];
    short events = 0;
    int rc = ss__tls_handshake_step(&t->conn, peer_text(t, peer, sizeof peer),
                                    &events, err);
    if (rc < 0)
        return rc;
    t->established = true;
    ss__tls_server_established(&t->conn);
    return 0;
}

ssize_t ss__evtls_read(struct ss_evtls *t, unsigned char *buf, size_t cap,
                       ss_error *err)
{
    ss_tls_conn *c = &t->conn;
    if (c->eof)
        return 0;
    char peer[SS_ADDRSTRLEN];
    if (c->failed)
        return ss_error_set(err, SS_ETLS, "TLS read from %s: the connection "
                            "failed", peer_text(t, peer, sizeof peer));
    /* Writes that waited for input (a handshake message in the way) may
     * go now. */
    int rc = ss__evtls_write_held(t, err);
    if (rc < 0)
        return rc;
    /* Several records per call: on_data is called once per 64 KiB, not
     * once per 16 KiB record. */
    size_t got = 0;
    BIO *rbio = SSL_get_rbio(c->ssl);
    while (got < cap) {
        /* Nothing fed and nothing decrypted: SSL_read could only say so,
         * after allocating its 17 KB read buffer again for a record
         * header that is not there - and keep it while idle. */
        if (BIO_ctrl_pending(rbio) == 0 && SSL_pending(c->ssl) == 0)
            return got ? (ssize_t)got : -EAGAIN;
        size_t n = 0;
        ERR_clear_error();
        if (SSL_read_ex(c->ssl, buf + got, cap - got, &n) == 1) {
            got += n;
            continue;
        }
        switch (SSL_get_error(c->ssl, 0)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            ERR_clear_error();
            return got ? (ssize_t)got : -EAGAIN;
        case SSL_ERROR_ZERO_RETURN: /* close_notify: EOF after what came */
            c->eof = true;
            return (ssize_t)got;
        default:
            c->failed = true;
            if (got) { /* deliver what came; the error is kept for later */
                ERR_clear_error();
                return (ssize_t)got;
            }
            return ss__tls_fail(err, SS_ETLS, "TLS read from %s",
                                peer_text(t, peer, sizeof peer));
        }
    }
    return (ssize_t)got;
}

void ss__evtls_peer_eof(struct ss_evtls *t)
{
    if (!t->conn.eof) { /* the stream ended without close_notify */
        t->conn.eof = true;
        t->conn.truncated = true;
    }
}
