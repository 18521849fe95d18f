/* activation.c - listening sockets inherited from the process that started
 * us (systemd, or the old process of an upgrade), and servers made from
 * them instead of bound. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sockserv/activation.h>

#include "internal.h"

static bool parse_uint(const char *text, unsigned long *out)
{
    if (!text || *text < '0' || *text > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static void unset_env(unsigned flags)
{
    if (flags & SS_LISTEN_KEEP_ENV)
        return;
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDNAMES");
}

/* Splits $LISTEN_FDNAMES into self->names; missing names are "unknown". */
static int parse_names(ss_listen_fds *self, const char *names, ss_error *err)
{
    size_t used = 0;
    const char *p = names;
    for (unsigned i = 0; i < self->count; i++) {
        const char *name = "unknown";
        size_t len = strlen(name);
        if (p) {
            const char *colon = strchr(p, ':');
            len = colon ? (size_t)(colon - p) : strlen(p);
            name = p;
            p = colon ? colon + 1 : NULL;
        }
        if (used + len + 1 > sizeof self->names)
            return ss_error_set(err, -EINVAL, "LISTEN_FDNAMES: longer than "
                                "%zu bytes", sizeof self->names - 1);
        memcpy(self->names + used, name, len);
        self->names[used + len] = '\0';
        self->name_off[i] = (unsigned short)used;
        used += len + 1;
    }
    return 0;
}

int ss_listen_fds_init(ss_listen_fds *self, unsigned flags, ss_error *err)
{
    memset(self, 0, sizeof *self);
    const char *fds = getenv("LISTEN_FDS");
    const char *pid = getenv("LISTEN_PID");
    unsigned long n = 0, owner = 0;
    if (!fds)
        return 0;
    /* Meant for another process (a parent that did not unset them). */
    if (!parse_uint(pid, &owner) || owner != (unsigned long)getpid()) {
        unset_env(flags);
        return 0;
    }
    int rc = 0;
    if (!parse_uint(fds, &n))
        rc = ss_error_set(err, -EINVAL, "LISTEN_FDS '%s': not a count", fds);
    else if (n > SS_LISTEN_FDS_MAX)
        rc = ss_error_set(err, -EINVAL, "LISTEN_FDS %lu: more than %d "
                          "sockets", n, SS_LISTEN_FDS_MAX);
    if (rc == 0) {
        self->count = (unsigned)n;
        rc = parse_names(self, getenv("LISTEN_FDNAMES"), err);
    }
    for (unsigned i = 0; rc == 0 && i < self->count; i++) {
        int fd = SS_LISTEN_FDS_START + (int)i;
        int fl = fcntl(fd, F_GETFD);
        if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
            rc = ss_error_errno(err, "LISTEN_FDS: descriptor %d", fd);
        self->fd[i] = fd;
    }
    unset_env(flags);
    if (rc < 0)
        self->count = 0;
    return rc < 0 ? rc : (int)self->count;
}

const char *ss_listen_fds_name(const ss_listen_fds *self, unsigned i)
{
    return i < self->count ? self->names + self->name_off[i] : NULL;
}

int ss_listen_fds_take(ss_listen_fds *self, const char *name)
{
    for (unsigned i = 0; i < self->count; i++) {
        if (self->taken[i] ||
            (name && strcmp(name, ss_listen_fds_name(self, i)) != 0))
            continue;
        self->taken[i] = true;
        return self->fd[i];
    }
    return -ENOENT;
}

void ss_listen_fds_close(ss_listen_fds *self)
{
    for (unsigned i = 0; i < self->count; i++)
        if (!self->taken[i]) {
            ss__close(self->fd[i]);
            self->taken[i] = true;
        }
}

/* --- a server on an inherited socket ------------------------------------- */

static const char *family_name(int f)
{
    return f == AF_INET ? "AF_INET" : f == AF_INET6 ? "AF_INET6"
         : f == AF_UNIX ? "AF_UNIX" : "another family";
}

static const char *type_name(int t)
{
    return t == SOCK_STREAM ? "SOCK_STREAM" : t == SOCK_DGRAM ? "SOCK_DGRAM"
         : t == SOCK_SEQPACKET ? "SOCK_SEQPACKET" : "another type";
}

static int get_int_opt(int fd, int opt, int *out)
{
    socklen_t len = sizeof *out;
    return getsockopt(fd, SOL_SOCKET, opt, out, &len);
}

/* Everything a server class assumes of its socket, with the reason when
 * fd does not fit. */
static int check_socket(ss_server *s, int fd, ss_error *err)
{
    const char *cls = s->cls->name ? s->cls->name : "the server";
    int domain, type, listening = 0;
    if (get_int_opt(fd, SO_DOMAIN, &domain) < 0 ||
        get_int_opt(fd, SO_TYPE, &type) < 0)
        return errno == ENOTSOCK
                   ? ss_error_set(err, -ENOTSOCK, "fd %d is not a socket", fd)
                   : ss_error_errno(err, "fd %d", fd);
    bool ip = domain == AF_INET || domain == AF_INET6;
    bool fits = s->address_family == AF_UNSPEC
                    ? ip
                    : domain == s->address_family ||
                          (ip && (s->address_family == AF_INET ||
                                  s->address_family == AF_INET6));
    if (!fits)
        return ss_error_set(err, -EAFNOSUPPORT, "fd %d is an %s socket; %s "
                            "needs %s", fd, family_name(domain), cls,
                            s->address_family == AF_UNIX ? "AF_UNIX"
                                                         : "AF_INET or AF_INET6");
    if (type != s->socket_type)
        return ss_error_set(err, -EPROTOTYPE, "fd %d is a %s socket; %s needs "
                            "%s", fd, type_name(type), cls,
                            type_name(s->socket_type));
    if (type == SOCK_STREAM &&
        (get_int_opt(fd, SO_ACCEPTCONN, &listening) < 0 || !listening))
        return ss_error_set(err, -EINVAL, "fd %d is not listening (a "
                            "connected or unbound socket, not a listener)", fd);
    return domain;
}

int ss_server_adopt(ss_server *s, int fd, ss_error *err)
{
    ss_error_clear(err);
    if (!s->priv)
        return ss_error_set(err, -EBADF, "server is closed");
    int domain = check_socket(s, fd, err);
    int rc = domain < 0 ? domain : 0;
    if (rc == 0 && (rc = ss__set_nonblock(fd, true)) < 0)
        ss_error_set(err, rc, "fd %d: O_NONBLOCK: %s", fd, ss_strerror(rc));
    int fl = fcntl(fd, F_GETFD);
    if (rc == 0 && (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0))
        rc = ss_error_errno(err, "fd %d: FD_CLOEXEC", fd);
    if (rc < 0) {
        ss_server_close(s);
        return rc;
    }
    /* The unbound socket init made (when it knew the family) gives way. */
    if (s->socket != fd)
        ss__close(s->socket);
    s->socket = fd;
    s->address_family = domain;
    ss_addr bound;
    bound.len = sizeof bound.sa;
    if (getsockname(fd, (struct sockaddr *)&bound.sa, &bound.len) == 0)
        s->server_address = bound;
    return 0;
}
