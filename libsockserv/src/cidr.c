/* cidr.c - IP networks in CIDR form, for the PROXY stage's trusted
 * balancers (proxy.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <sockserv/proxy.h>

int ss_cidr_parse(ss_cidr *out, const char *text, ss_error *err)
{
    char host[INET6_ADDRSTRLEN];
    const char *slash = strchr(text, '/');
    size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
    if (hlen == 0 || hlen >= sizeof host)
        return ss_error_set(err, -EINVAL, "'%s': not an address/prefix", text);
    memcpy(host, text, hlen);
    host[hlen] = '\0';

    ss_cidr n = {0};
    unsigned max;
    if (inet_pton(AF_INET, host, n.addr) == 1) {
        n.family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, host, n.addr) == 1) {
        n.family = AF_INET6;
        max = 128;
    } else {
        return ss_error_set(err, -EINVAL, "'%s': not an IPv4 or IPv6 address",
                            text);
    }
    n.prefix = max;
    if (slash) {
        const char *d = slash + 1;
        size_t dl = strlen(d);
        unsigned long v = 0;
        bool ok = dl > 0 && dl <= 3 && !(dl > 1 && d[0] == '0');
        for (size_t i = 0; ok && i < dl; i++) {
            ok = d[i] >= '0' && d[i] <= '9';
            v = v * 10 + (unsigned long)(d[i] - '0');
        }
        if (!ok || v > max)
            return ss_error_set(err, -EINVAL, "'%s': prefix length is not "
                                "0-%u", text, max);
        n.prefix = (unsigned)v;
    }
    /* Host bits set: "10.0.0.1/8" is more likely a typing error than a
     * wish to trust all of 10/8. */
    for (unsigned bit = n.prefix; bit < max; bit++)
        if (n.addr[bit / 8] & (0x80u >> (bit % 8)))
            return ss_error_set(err, -EINVAL, "'%s': address has bits set "
                                "beyond the prefix", text);
    *out = n;
    return 0;
}

bool ss_cidr_match(const ss_cidr *net, const ss_addr *a)
{
    const unsigned char *bytes;
    int family = ss_addr_family(a);
    if (family == AF_INET) {
        bytes = (const unsigned char *)&((const struct sockaddr_in *)&a->sa)
                    ->sin_addr;
    } else if (family == AF_INET6) {
        const struct in6_addr *a6 =
            &((const struct sockaddr_in6 *)&a->sa)->sin6_addr;
        bytes = a6->s6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6) && net->family == AF_INET) {
            bytes += 12;
            family = AF_INET;
        }
    } else {
        return false;
    }
    if (family != net->family)
        return false;
    unsigned full = net->prefix / 8, rest = net->prefix % 8;
    if (memcmp(bytes, net->addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned mask = (0xFFu << (8 - rest)) & 0xFFu;
    return (bytes[full] & mask) == net->addr[full];
}
