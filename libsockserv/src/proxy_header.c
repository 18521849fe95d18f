/* proxy_header.c - the PROXY protocol header parser (proxy.h): pure, fed
 * bytes in any split, taking none past the header's end.
 *
 * Rules are haproxy/haproxy doc/proxy-protocol.txt; where the spec leaves a
 * choice the strict one is taken, since only a trusted balancer may send a
 * header and a valid sender never needs the lenient one.  Each rule's
 * message names it, so a refused balancer's log says what it got wrong. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

#include <sockserv/proxy.h>

enum { ST_START, ST_V1, ST_V2, ST_DONE, ST_FAILED };

static const unsigned char v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_prefix[] = "PROXY ";

enum {
    TLV_CRC32C = 0x03,
    TLV_UNIQUE_ID = 0x05,
    TLV_SSL = 0x20,
    UNIQUE_ID_MAX = 128,
    SSL_FIXED = 5, /* client flags (1) + verify result (4) */
    V2_FIXED = 16,
    V2_INET_LEN = 12,
    V2_INET6_LEN = 36,
    V2_UNIX_LEN = 216,
};

/* Records the first error: every later call returns it again. */
static int fail(ss_proxy_parser *p, ss_error *err, int code, const char *why)
{
    p->state = ST_FAILED;
    p->error = code;
    return ss_error_set(err, code, "PROXY header: %s", why);
}

/* --- version 1 ------------------------------------------------------------ */

/* Digits only, no leading zero (but "0" itself), at most max_digits, value
 * <= max.  -1 when the text breaks a rule. */
static long strict_decimal(const char *s, size_t n, size_t max_digits, long max)
{
    if (n == 0 || n > max_digits || (n > 1 && s[0] == '0'))
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

/* A dotted quad as the spec writes it: four decimal octets, no leading
 * zeros (inet_pton would take them on some systems, and "010" reads as
 * octal to others: refused here so that nobody has to guess). */
static bool parse_v4(const char *s, size_t n, struct in_addr *out)
{
    unsigned char b[4];
    size_t part = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.')
            continue;
        if (part == 4)
            return false;
        long v = strict_decimal(s + start, i - start, 3, 255);
        if (v < 0)
            return false;
        b[part++] = (unsigned char)v;
        start = i + 1;
    }
    if (part != 4)
        return false;
    memcpy(out, b, 4);
    return true;
}

/* RFC 4291 text (what inet_pton takes: one "::" at most, 128 bits, an
 * embedded dotted quad for ::ffff:a.b.c.d); only its characters. */
static bool parse_v6(const char *s, size_t n, struct in6_addr *out)
{
    char text[INET6_ADDRSTRLEN];
    if (n == 0 || n >= sizeof text)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                  (c >= 'A' && c <= 'F') || c == ':' || c == '.';
        if (!ok)
            return false;
    }
    memcpy(text, s, n);
    text[n] = '\0';
    return inet_pton(AF_INET6, text, out) == 1;
}

static void set_v4(ss_addr *a, const void *addr4, uint16_t port_be)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = port_be};
    memcpy(&sin.sin_addr, addr4, 4);
    ss_addr_set(a, (const struct sockaddr *)&sin, sizeof sin);
}

/* An IPv4-mapped address becomes the IPv4 one (ProFTPD does the same; a
 * balancer on a dual-stack socket writes its IPv4 clients so). */
static void set_v6(ss_addr *a, const struct in6_addr *addr6, uint16_t port_be)
{
    if (IN6_IS_ADDR_V4MAPPED(addr6)) {
        set_v4(a, addr6->s6_addr + 12, port_be);
        return;
    }
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = port_be};
    sin6.sin6_addr = *addr6;
    ss_addr_set(a, (const struct sockaddr *)&sin6, sizeof sin6);
}

/* The whole line, CRLF at its end, is in p->buf[0..p->have). */
static int parse_v1_line(ss_proxy_parser *p, ss_error *err)
{
    const char *line = (const char *)p->buf + 6; /* after "PROXY " */
    size_t n = p->have - 6 - 2;                  /* without CRLF */
    ss_proxy_header *h = &p->header;
    h->version = 1;
    h->command = SS_PROXY_PROXY;
    h->socket_type = SOCK_STREAM;
    h->length = p->have;

    /* "UNKNOWN", alone or followed by a space and anything: the rest of
     * the line is ignored and the connection's own addresses stand. */
    if (n >= 7 && memcmp(line, "UNKNOWN", 7) == 0 && (n == 7 || line[7] == ' '))
        return 0;

    bool v6;
    if (n >= 5 && memcmp(line, "TCP4 ", 5) == 0)
        v6 = false;
    else if (n >= 5 && memcmp(line, "TCP6 ", 5) == 0)
        v6 = true;
    else
        return fail(p, err, SS_EPROTO, (n == 4 && (!memcmp(line, "TCP4", 4) ||
                                                   !memcmp(line, "TCP6", 4)))
                    ? "v1: fewer than four fields"
                    : "v1: protocol is not TCP4, TCP6 or UNKNOWN");

    /* Exactly four fields, one space between each, nothing around them. */
    const char *f[4];
    size_t len[4];
    const char *s = line + 5, *end = line + n;
    for (int i = 0; i < 4; i++) {
        const char *sp = memchr(s, ' ', (size_t)(end - s));
        const char *stop = i < 3 ? sp : end;
        if (!stop || (i == 3 && sp))
            return fail(p, err, SS_EPROTO, i < 3 ? "v1: fewer than four fields"
                                                 : "v1: more than four fields");
        if (stop == s)
            return fail(p, err, SS_EPROTO, "v1: an empty field (two spaces "
                        "in a row, or a space at the end)");
        f[i] = s;
        len[i] = (size_t)(stop - s);
        s = stop + 1;
    }

    long port[2];
    for (int i = 0; i < 2; i++) {
        port[i] = strict_decimal(f[2 + i], len[2 + i], 5, 65535);
        if (port[i] < 0)
            return fail(p, err, SS_EPROTO, i ? "v1: destination port is not "
                        "0-65535 without leading zeros" : "v1: source port "
                        "is not 0-65535 without leading zeros");
    }
    ss_addr *out[2] = {&h->source, &h->destination};
    for (int i = 0; i < 2; i++) {
        uint16_t pbe = htons((uint16_t)port[i]);
        if (!v6) {
            struct in_addr a4;
            if (!parse_v4(f[i], len[i], &a4))
                return fail(p, err, SS_EPROTO, i ? "v1: destination is not "
                            "a TCP4 address (a.b.c.d, no leading zeros)"
                            : "v1: source is not a TCP4 address (a.b.c.d, "
                            "no leading zeros)");
            set_v4(out[i], &a4, pbe);
        } else {
            struct in6_addr a6;
            if (!parse_v6(f[i], len[i], &a6))
                return fail(p, err, SS_EPROTO, i ? "v1: destination is not "
                            "a TCP6 address" : "v1: source is not a TCP6 "
                            "address");
            set_v6(out[i], &a6, pbe);
        }
    }
    return 0;
}

/* One byte of a v1 line.  Returns 1 when it ended the line, 0 to go on, or
 * a negative code. */
static int v1_byte(ss_proxy_parser *p, unsigned char c, ss_error *err)
{
    size_t i = p->have;
    if (i < 6 && c != (unsigned char)v1_prefix[i])
        return fail(p, err, SS_EPROTO, "v1: the line does not start with "
                    "\"PROXY \"");
    if (i > 0 && p->buf[i - 1] == '\r' && c != '\n')
        return fail(p, err, SS_EPROTO, "v1: CR not followed by LF");
    if (c == '\n' && (i == 0 || p->buf[i - 1] != '\r'))
        return fail(p, err, SS_EPROTO, "v1: LF without CR");
    if (c != '\r' && c != '\n' && (c < 0x20 || c > 0x7e))
        return fail(p, err, SS_EPROTO, "v1: a byte that is not printable "
                    "US-ASCII");
    p->buf[p->have++] = c;
    if (c == '\n')
        return 1;
    if (p->have == SS_PROXY_V1_MAX)
        return fail(p, err, -EMSGSIZE, "v1: no CRLF in the first 107 bytes");
    return 0;
}

/* --- version 2 ------------------------------------------------------------ */

/* CRC32C (Castagnoli, reflected 0x82F63B78), bit by bit: it runs only on
 * headers that carry the TLV, at most 4 KiB, so no table is worth its
 * space. */
static uint32_t crc32c(uint32_t crc, const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= b[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return crc;
}

static uint16_t be16(const unsigned char *b)
{
    return (uint16_t)((b[0] << 8) | b[1]);
}

/* The header's CRC with the 4 value bytes at off counted as zeros. */
static bool crc_ok(const unsigned char *h, size_t total, size_t off)
{
    static const unsigned char zero[4];
    uint32_t c = crc32c(0xFFFFFFFFu, h, off);
    c = crc32c(c, zero, 4);
    c = crc32c(c, h + off + 4, total - off - 4);
    c ^= 0xFFFFFFFFu;
    uint32_t want = ((uint32_t)h[off] << 24) | ((uint32_t)h[off + 1] << 16) |
                    ((uint32_t)h[off + 2] << 8) | h[off + 3];
    return c == want;
}

/* Walks TLVs in b[from..to): every one must fit.  Checks the registered
 * types whose form the spec fixes; skips the rest unread. */
static int walk_tlvs(ss_proxy_parser *p, size_t from, size_t to, bool nested,
                     ss_error *err)
{
    const unsigned char *b = p->buf;
    size_t off = from;
    while (off < to) {
        if (to - off < 3)
            return fail(p, err, SS_EPROTO, "v2: bytes after the last TLV "
                        "that are not a TLV");
        unsigned type = b[off];
        size_t len = be16(b + off + 1);
        size_t val = off + 3;
        if (len > to - val)
            return fail(p, err, SS_EPROTO, "v2: a TLV longer than the header");
        if (!nested && type == TLV_CRC32C) {
            if (len != 4)
                return fail(p, err, SS_EPROTO, "v2: a CRC32C TLV that is "
                            "not 4 bytes");
            if (!crc_ok(b, p->total, val))
                return fail(p, err, SS_EPROTO, "v2: CRC32C mismatch");
            p->header.crc32c = true;
        } else if (!nested && type == TLV_UNIQUE_ID && len > UNIQUE_ID_MAX) {
            return fail(p, err, SS_EPROTO, "v2: a UNIQUE_ID TLV longer than "
                        "128 bytes");
        } else if (!nested && type == TLV_SSL) {
            if (len < SSL_FIXED)
                return fail(p, err, SS_EPROTO, "v2: an SSL TLV shorter than "
                            "5 bytes");
            int rc = walk_tlvs(p, val + SSL_FIXED, val + len, true, err);
            if (rc < 0)
                return rc;
        }
        off = val + len;
    }
    return 0;
}

static void set_unix(ss_addr *a, const unsigned char *path108)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, path108, sizeof sun.sun_path);
    size_t n;
    if (path108[0] != 0) /* a path: up to its NUL, or all 108 bytes */
        n = strnlen(sun.sun_path, sizeof sun.sun_path);
    else                 /* abstract: the name after the NUL, up to a NUL */
        n = 1 + strnlen(sun.sun_path + 1, sizeof sun.sun_path - 1);
    if (n == 1 && path108[0] == 0)
        n = 0; /* no name at all: an unbound peer */
    ss_addr_set(a, (const struct sockaddr *)&sun,
                (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
}

/* The 16 fixed bytes are in: check them and learn the length. */
static int v2_fixed(ss_proxy_parser *p, ss_error *err)
{
    const unsigned char *b = p->buf;
    if ((b[12] >> 4) != 2)
        return fail(p, err, SS_EPROTO, "v2: version is not 2");
    if ((b[12] & 0x0F) > SS_PROXY_PROXY)
        return fail(p, err, SS_EPROTO, "v2: command is neither LOCAL nor "
                    "PROXY");
    if ((b[13] >> 4) > 3 || (b[13] & 0x0F) > 2)
        return fail(p, err, SS_EPROTO, "v2: unknown address family or "
                    "transport protocol");
    size_t len = be16(b + 14);
    if (V2_FIXED + len > SS_PROXY_V2_MAX)
        return fail(p, err, -EMSGSIZE, "v2: longer than 4096 bytes");
    p->total = V2_FIXED + len;
    return 0;
}

/* The whole v2 header is in p->buf[0..p->total). */
static int parse_v2(ss_proxy_parser *p, ss_error *err)
{
    const unsigned char *b = p->buf;
    ss_proxy_header *h = &p->header;
    size_t len = p->total - V2_FIXED;
    h->version = 2;
    h->command = b[12] & 0x0F;
    h->length = p->total;
    int proto = b[13] & 0x0F;
    h->socket_type = proto == 1 ? SOCK_STREAM : proto == 2 ? SOCK_DGRAM : 0;
    /* LOCAL: the balancer's own connection (a health check).  Its address
     * block, whatever the family says, is skipped: the spec forbids
     * assuming it is empty (AWS NLB fills it). */
    if (h->command == SS_PROXY_LOCAL)
        return 0;

    const unsigned char *a = b + V2_FIXED;
    size_t need;
    switch (b[13] >> 4) {
    case 1: { /* AF_INET: src, dst (4 each), src port, dst port */
        need = V2_INET_LEN;
        if (len < need)
            break;
        uint16_t sp, dp;
        memcpy(&sp, a + 8, 2);
        memcpy(&dp, a + 10, 2);
        set_v4(&h->source, a, sp);
        set_v4(&h->destination, a + 4, dp);
        break;
    }
    case 2: { /* AF_INET6: 16 + 16 + 2 + 2 */
        need = V2_INET6_LEN;
        if (len < need)
            break;
        struct in6_addr s6, d6;
        uint16_t sp, dp;
        memcpy(&s6, a, 16);
        memcpy(&d6, a + 16, 16);
        memcpy(&sp, a + 32, 2);
        memcpy(&dp, a + 34, 2);
        set_v6(&h->source, &s6, sp);
        set_v6(&h->destination, &d6, dp);
        break;
    }
    case 3: /* AF_UNIX: two 108-byte paths, no ports */
        need = V2_UNIX_LEN;
        if (len < need)
            break;
        set_unix(&h->source, a);
        set_unix(&h->destination, a + 108);
        break;
    default: /* UNSPEC: nothing to take; the real endpoints stand, and
                with no address block the rest cannot be walked either */
        return 0;
    }
    if (len < need)
        return fail(p, err, SS_EPROTO, "v2: the length is too short for the "
                    "addresses of its family");
    return walk_tlvs(p, V2_FIXED + need, p->total, false, err);
}

/* --- the parser ----------------------------------------------------------- */

void ss_proxy_parser_init(ss_proxy_parser *p)
{
    p->have = 0;
    p->total = 0;
    p->state = ST_START;
    p->error = 0;
    memset(&p->header, 0, sizeof p->header);
}

ssize_t ss_proxy_parser_feed(ss_proxy_parser *p, const void *data, size_t len,
                             ss_error *err)
{
    const unsigned char *in = data;
    size_t used = 0;
    if (p->state == ST_FAILED)
        return ss_error_set(err, p->error, "PROXY header: already refused");
    while (used < len && p->state != ST_DONE) {
        if (p->state == ST_START) {
            /* The spec's detection, done on the first byte: a v2
             * signature starts with CR, a v1 line with 'P'; anything
             * else (a TLS ClientHello, a command) is no header at all. */
            if (in[used] == v2_sig[0])
                p->state = ST_V2;
            else if (in[used] == (unsigned char)v1_prefix[0])
                p->state = ST_V1;
            else
                return fail(p, err, SS_EPROTO, "none (the first byte "
                            "starts neither v1 nor v2)");
        }
        if (p->state == ST_V1) {
            int rc = v1_byte(p, in[used++], err);
            if (rc < 0)
                return rc;
            if (rc == 1) {
                if ((rc = parse_v1_line(p, err)) < 0)
                    return rc;
                p->state = ST_DONE;
            }
            continue;
        }
        /* ST_V2: the signature byte by byte, then the fixed part, then
         * as much of the rest as has come, in one copy. */
        if (p->have < sizeof v2_sig) {
            if (in[used] != v2_sig[p->have])
                return fail(p, err, SS_EPROTO, "v2: bad signature");
            p->buf[p->have++] = in[used++];
            continue;
        }
        if (p->have < V2_FIXED) {
            p->buf[p->have++] = in[used++];
            if (p->have == V2_FIXED) {
                int rc = v2_fixed(p, err);
                if (rc < 0)
                    return rc;
            }
        } else {
            size_t n = p->total - p->have;
            if (n > len - used)
                n = len - used;
            memcpy(p->buf + p->have, in + used, n);
            p->have += n;
            used += n;
        }
        if (p->have >= V2_FIXED && p->have == p->total) {
            int rc = parse_v2(p, err);
            if (rc < 0)
                return rc;
            p->state = ST_DONE;
        }
    }
    return (ssize_t)used;
}

const ss_proxy_header *ss_proxy_parser_header(const ss_proxy_parser *p)
{
    return p->state == ST_DONE ? &p->header : NULL;
}
