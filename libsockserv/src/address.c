/* address.c - ss_addr: parse "HOST:PORT" / "[V6]:PORT" / "unix:PATH", format
 * back, compare hosts. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <sockserv/address.h>

static int parse_port(const char *s, ss_error *err, const char *text)
{
    if (!*s)
        return ss_error_set(err, -EINVAL, "%s: missing port", text);
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || p - s > 5)
            return ss_error_set(err, -EINVAL, "%s: bad port '%s'", text, s);
        v = v * 10 + (*p - '0');
    }
    if (v > 65535)
        return ss_error_set(err, -EINVAL, "%s: port %ld out of range 0-65535",
                            text, v);
    return (int)v;
}

static int parse_unix(ss_addr *out, const char *path, ss_error *err,
                      const char *text)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&out->sa;
    size_t n = strlen(path);
    if (n == 0)
        return ss_error_set(err, -EINVAL, "%s: empty unix socket path", text);
    if (n >= sizeof un->sun_path)
        return ss_error_set(err, -ENAMETOOLONG,
                            "%s: unix socket path longer than %zu bytes", text,
                            sizeof un->sun_path - 1);
    un->sun_family = AF_UNIX;
    if (path[0] == '@') { /* Linux abstract namespace: no file, no NUL */
        un->sun_path[0] = '\0';
        memcpy(un->sun_path + 1, path + 1, n - 1);
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
        return 0;
    }
    memcpy(un->sun_path, path, n + 1);
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

int ss_addr_parse(ss_addr *out, const char *text, ss_error *err)
{
    memset(out, 0, sizeof *out);
    if (!text)
        return ss_error_set(err, -EINVAL, "no address given");
    if (strncmp(text, "unix:", 5) == 0)
        return parse_unix(out, text + 5, err, text);

    char host[256];
    const char *port_text;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            return ss_error_set(err, -EINVAL,
                                "%s: expected [IPV6]:PORT", text);
        size_t n = (size_t)(close - text - 1);
        if (n == 0 || n >= sizeof host)
            return ss_error_set(err, -EINVAL, "%s: bad IPv6 address", text);
        memcpy(host, text + 1, n);
        host[n] = '\0';
        port_text = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon)
            return ss_error_set(err, -EINVAL,
                                "%s: expected HOST:PORT, [IPV6]:PORT or "
                                "unix:PATH", text);
        if (strchr(text, ':') != colon)
            return ss_error_set(err, -EINVAL,
                                "%s: put IPv6 addresses in brackets: [::1]:PORT",
                                text);
        size_t n = (size_t)(colon - text);
        if (n == 0 || n >= sizeof host)
            return ss_error_set(err, -EINVAL, "%s: bad host", text);
        memcpy(host, text, n);
        host[n] = '\0';
        port_text = colon + 1;
    }
    int port = parse_port(port_text, err, text);
    if (port < 0)
        return port;

    struct sockaddr_in *in4 = (struct sockaddr_in *)&out->sa;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->sa;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        out->len = sizeof *in4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        out->len = sizeof *in6;
        return 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res)
        return ss_error_set(err, -ENOENT, "%s: cannot resolve '%s': %s", text,
                            host, gai_strerror(rc));
    memcpy(&out->sa, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    freeaddrinfo(res);
    if (out->sa.ss_family == AF_INET)
        in4->sin_port = htons((uint16_t)port);
    else if (out->sa.ss_family == AF_INET6)
        in6->sin6_port = htons((uint16_t)port);
    return 0;
}

int ss_addr_set(ss_addr *out, const struct sockaddr *sa, socklen_t len)
{
    memset(out, 0, sizeof *out);
    if (len > sizeof out->sa)
        return -EINVAL;
    if (sa && len)
        memcpy(&out->sa, sa, len);
    out->len = len;
    return 0;
}

char *ss_addr_format(const ss_addr *a, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return buf;
    char host[INET6_ADDRSTRLEN];
    switch (a->sa.ss_family) {
    case AF_INET: {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)&a->sa;
        inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
        snprintf(buf, cap, "%s:%u", host, ntohs(in4->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(buf, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
        break;
    }
    case AF_UNIX: {
        const struct sockaddr_un *un = (const struct sockaddr_un *)&a->sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t n = a->len > off ? a->len - off : 0;
        if (n && un->sun_path[0] == '\0')
            snprintf(buf, cap, "unix:@%.*s", (int)(n - 1), un->sun_path + 1);
        else
            snprintf(buf, cap, "unix:%.*s", (int)strnlen(un->sun_path, n),
                     un->sun_path);
        break;
    }
    default:
        snprintf(buf, cap, "-");
    }
    return buf;
}

int ss_addr_family(const ss_addr *a)
{
    return a->sa.ss_family;
}

int ss_addr_port(const ss_addr *a)
{
    switch (ss_addr_family(a)) {
    case AF_INET:
        return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
    case AF_INET6:
        return ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port);
    default:
        return -1;
    }
}

/* The IPv4 address inside a v4 or v4-mapped v6 address; false otherwise. */
static bool as_v4(const ss_addr *a, struct in_addr *out)
{
    if (ss_addr_family(a) == AF_INET) {
        *out = ((const struct sockaddr_in *)&a->sa)->sin_addr;
        return true;
    }
    if (ss_addr_family(a) == AF_INET6) {
        const struct in6_addr *v6 =
            &((const struct sockaddr_in6 *)&a->sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(v6)) {
            memcpy(out, &v6->s6_addr[12], 4);
            return true;
        }
    }
    return false;
}

bool ss_addr_is_loopback(const ss_addr *a)
{
    struct in_addr v4;
    if (ss_addr_family(a) == AF_UNIX)
        return true;
    if (as_v4(a, &v4))
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (ss_addr_family(a) == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(
            &((const struct sockaddr_in6 *)&a->sa)->sin6_addr);
    return false;
}

bool ss_addr_same_host(const ss_addr *a, const ss_addr *b)
{
    struct in_addr x, y;
    bool xa = as_v4(a, &x), yb = as_v4(b, &y);
    if (xa || yb)
        return xa && yb && x.s_addr == y.s_addr;
    if (ss_addr_family(a) == AF_INET6 && ss_addr_family(b) == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)&a->sa)->sin6_addr,
                      &((const struct sockaddr_in6 *)&b->sa)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
    return false;
}
