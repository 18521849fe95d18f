/* examples/ssh/conn.c - see conn.h. */
#include "conn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sockserv/tls.h>

int ssh_conn_init(ssh_conn *c, ss_stream_handler *sh)
{
    c->sh = sh;
    c->in = malloc(SSH_FRAME_MAX + 1);
    c->out = malloc(SSH_FRAME_HEADER + SSH_FRAME_MAX);
    if (!c->in || !c->out) {
        ssh_conn_close(c);
        return -ENOMEM;
    }
    return 0;
}

void ssh_conn_close(ssh_conn *c)
{
    free(c->in);
    free(c->out);
    c->in = c->out = NULL;
}

int ssh_conn_recv(ssh_conn *c, ssh_frame_header *h, ss_error *err)
{
    uint8_t hdr[SSH_FRAME_HEADER];
    ssize_t n = ss_rfile_read_exact(&c->sh->rfile, hdr, sizeof hdr);
    if (n == 0)
        return 0;
    if (n < 0)
        return ss_error_set(err, (int)n, "receiving: %s", ss_strerror((int)n));
    if (n < (ssize_t)sizeof hdr)
        return ss_error_set(err, SS_ECLOSED,
                            "connection closed inside a frame header");
    int rc = ssh_frame_decode_header(hdr, h);
    if (rc == -EMSGSIZE)
        return ss_error_set(err, SS_EPROTO,
                            "protocol error: %s frame of %" PRIu32
                            " bytes is over the %u-byte maximum",
                            ssh_frame_type_name(h->type), h->length,
                            SSH_FRAME_MAX);
    if (rc == -EPROTO)
        return ss_error_set(err, SS_EPROTO,
                            "protocol error: unknown frame type 0x%02x",
                            h->type);
    if (rc < 0)
        return ss_error_set(err, SS_EPROTO,
                            "protocol error: %s frame of %" PRIu32
                            " bytes is malformed",
                            ssh_frame_type_name(h->type), h->length);
    if (h->length == 0)
        return 1;
    n = ss_rfile_read_exact(&c->sh->rfile, c->in, h->length);
    if (n < 0)
        return ss_error_set(err, (int)n, "receiving: %s", ss_strerror((int)n));
    if (n < (ssize_t)h->length)
        return ss_error_set(err, SS_ECLOSED,
                            "connection closed inside a %s frame",
                            ssh_frame_type_name(h->type));
    return 1;
}

bool ssh_conn_pending(const ssh_conn *c)
{
    /* Under TLS, OpenSSL may hold bytes it has decrypted but not handed to
     * the rfile yet: the socket has nothing more, so poll() cannot see them. */
    return ss_rfile_pending(&c->sh->rfile) > 0 ||
           ss_tls_conn_pending(c->sh->tls) > 0;
}

int ssh_conn_fd(const ssh_conn *c)
{
    return c->sh->connection;
}

int ssh_conn_send(ssh_conn *c, uint8_t type, const void *p, size_t n,
                  ss_error *err)
{
    int rc = ssh_frame_encode_header(c->out, type, n);
    if (rc < 0)
        return ss_error_set(err, rc, "sending a %s frame of %zu bytes: %s",
                            ssh_frame_type_name(type), n, ss_strerror(rc));
    if (n && p != ssh_conn_payload(c))
        memmove(ssh_conn_payload(c), p, n);
    rc = ss_wfile_write(&c->sh->wfile, c->out, SSH_FRAME_HEADER + n);
    if (rc < 0)
        return ss_error_set(err, rc, "sending: %s", ss_strerror(rc));
    return 0;
}

int ssh_conn_sendf(ssh_conn *c, uint8_t type, ss_error *err, const char *fmt,
                   ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf((char *)ssh_conn_payload(c), SSH_FRAME_MAX, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((unsigned)n >= SSH_FRAME_MAX)
        n = SSH_FRAME_MAX - 1;
    return ssh_conn_send(c, type, ssh_conn_payload(c), (size_t)n, err);
}
