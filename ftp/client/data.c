/* ftp/client/data.c - see data.h. */
#include "data.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "status.h"
#include "tls.h"

void ftpc_data_init(ftpc_data *d)
{
    ftpc_stream_init(&d->io);
    d->listen_fd = -1;
}

void ftpc_data_close(ftpc_data *d)
{
    ftpc_stream_close(&d->io);
    if (d->listen_fd >= 0)
        close(d->listen_fd);
    d->listen_fd = -1;
}

static void set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

static int get_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static bool same_host(const struct sockaddr_storage *a,
                      const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
           ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

/* Connects to the server's passive port.  The address is always the
 * control connection's peer, never the one a 227 reply names: that address
 * is often wrong behind NAT, and trusting it would let a server point our
 * data connection at a third host (the same reason curl ignores it). */
static int connect_passive(ftpc_session *s, ftpc_data *d, int port)
{
    ftpc_ctrl *c = &s->ctrl;
    struct sockaddr_storage sa = c->peer;
    set_port(&sa, port);
    int fd = ftpc_tcp_connect((struct sockaddr *)&sa, c->peer_len, c->timeout_s);
    if (fd < 0) {
        snprintf(c->err, sizeof c->err, "data connection to port %d: %s", port,
                 strerror(-fd));
        return FTPC_ERR_NET;
    }
    ftpc_stream_attach(&d->io, fd);
    return 0;
}

static int open_passive(ftpc_session *s, ftpc_data *d)
{
    ftpc_ctrl *c = &s->ctrl;
    int port, code;
    if (!s->no_epsv) {
        code = ftpc_ctrl_cmd(c, "EPSV");
        if (code < 0)
            return code;
        if (code == 229 && ftpc_parse_epsv(c->reply.last, &port) == 0)
            return connect_passive(s, d, port);
        s->no_epsv = true;
    }
    code = ftpc_ctrl_cmd(c, "PASV");
    if (code < 0)
        return code;
    if (code == 227 && ftpc_parse_pasv(c->reply.last, &port) == 0)
        return connect_passive(s, d, port);
    if (code == 421 || code == 425)
        return ftpc_ctrl_fail(c, FTPC_ERR_NET, "passive mode");
    return ftpc_ctrl_fail(c, FTPC_ERR_REMOTE, "passive mode refused");
}

static int open_active(ftpc_session *s, ftpc_data *d)
{
    ftpc_ctrl *c = &s->ctrl;
    struct sockaddr_storage sa = c->local;
    set_port(&sa, 0);
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, c->local_len) < 0 ||
        listen(fd, 1) < 0) {
        snprintf(c->err, sizeof c->err, "active mode listener: %s",
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return FTPC_ERR_LOCAL;
    }
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    d->listen_fd = fd;
    char host[INET6_ADDRSTRLEN];
    const void *addr = sa.ss_family == AF_INET6
                           ? (const void *)&((struct sockaddr_in6 *)&sa)->sin6_addr
                           : (const void *)&((struct sockaddr_in *)&sa)->sin_addr;
    inet_ntop(sa.ss_family, addr, host, sizeof host);
    int port = get_port(&sa);
    int code;
    if (!s->no_eprt) {
        code = ftpc_ctrl_cmd(c, "EPRT |%d|%s|%d|", sa.ss_family == AF_INET6 ? 2 : 1,
                             host, port);
        if (code < 0)
            return code;
        if (code / 100 == 2)
            return 0;
        s->no_eprt = true;
    }
    if (sa.ss_family != AF_INET)
        return ftpc_ctrl_fail(c, FTPC_ERR_REMOTE, "EPRT refused");
    for (char *p = host; *p; p++)
        if (*p == '.')
            *p = ',';
    code = ftpc_ctrl_cmd(c, "PORT %s,%d,%d", host, port / 256, port % 256);
    if (code < 0)
        return code;
    if (code / 100 == 2)
        return 0;
    return ftpc_ctrl_fail(c, FTPC_ERR_REMOTE, "PORT refused");
}

int ftpc_data_open(ftpc_session *s, ftpc_data *d)
{
    ftpc_data_init(d);
    int r = s->opts->active ? open_active(s, d) : open_passive(s, d);
    if (r < 0)
        ftpc_data_close(d);
    return r;
}

/* Under PROT P: TLS on the data connection, the client's side of it even
 * when the server connected (active mode), resuming the control
 * connection's session.  0 or a negative status. */
static int secure_data(ftpc_session *s, ftpc_data *d)
{
    ftpc_ctrl *c = &s->ctrl;
    if (!s->prot_p)
        return 0;
    char why[FTPC_ERR_MAX - 200];
    int rc = ftpc_tls_start(&d->io, &d->tls_conn, &s->tls_ctx,
                            s->opts->url.host, &c->io, why, sizeof why);
    if (rc == 0) {
        if (c->trace)
            fprintf(stderr, "--- data TLS %s%s\n",
                    ss_tls_conn_version(&d->tls_conn),
                    ss_tls_conn_session_reused(&d->tls_conn)
                        ? ", control session resumed"
                        : ", new session");
        return 0;
    }
    /* The server answers the transfer command with why it gave up (522
     * when it wanted the session resumed): read it, so the control
     * connection stays in step, and show it. */
    ftpc_stream_close(&d->io);
    int code = ftpc_ctrl_read(c);
    if (code < 0) {
        snprintf(c->err, sizeof c->err, "data connection: %s", why);
        return FTPC_ERR_NET;
    }
    snprintf(c->err, sizeof c->err, "data connection: %s; the server said: "
             "%d %.200s", why, code, c->reply.last);
    return rc == -ETIMEDOUT ? FTPC_ERR_NET : FTPC_ERR_REMOTE;
}

int ftpc_data_ready(ftpc_session *s, ftpc_data *d)
{
    if (d->listen_fd < 0)
        return secure_data(s, d);
    ftpc_ctrl *c = &s->ctrl;
    int w = ftpc_wait_fd(d->listen_fd, POLLIN, c->timeout_s);
    if (w <= 0) {
        snprintf(c->err, sizeof c->err,
                 "the server did not open the data connection within %.0f s",
                 c->timeout_s);
        return FTPC_ERR_NET;
    }
    struct sockaddr_storage from;
    socklen_t flen = sizeof from;
    int fd = accept4(d->listen_fd, (struct sockaddr *)&from, &flen,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        snprintf(c->err, sizeof c->err, "accept data connection: %s",
                 strerror(errno));
        return FTPC_ERR_NET;
    }
    if (!same_host(&from, &c->peer)) {
        /* Someone else raced the server to our port: never take their data. */
        close(fd);
        snprintf(c->err, sizeof c->err,
                 "the data connection came from another host than the server");
        return FTPC_ERR_NET;
    }
    close(d->listen_fd);
    d->listen_fd = -1;
    ftpc_stream_attach(&d->io, fd);
    return secure_data(s, d);
}
