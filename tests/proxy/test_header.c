/* The PROXY protocol parser on hand-made headers: every field of v1 and
 * v2, each family, LOCAL and UNKNOWN, TLVs and the CRC32C, every malformed
 * form the spec names, oversized headers, and any split of the bytes, with
 * the bytes after the header always left to the caller.  Also the CIDR
 * networks the server stage trusts. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <criterion/criterion.h>
#include <sockserv/sockserv.h>

static const unsigned char SIG[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* --- helpers ------------------------------------------------------------- */

static const char *fmt(const ss_addr *a)
{
    static __thread char buf[4][SS_ADDRSTRLEN];
    static __thread int i;
    i = (i + 1) % 4;
    return ss_addr_format(a, buf[i], sizeof buf[i]);
}

/* Feeds data in one call; asserts it parsed and took exactly hlen bytes. */
static const ss_proxy_header *parse_ok(ss_proxy_parser *p, const void *data,
                                       size_t len, size_t hlen)
{
    ss_error err;
    ss_error_clear(&err);
    ss_proxy_parser_init(p);
    ssize_t n = ss_proxy_parser_feed(p, data, len, &err);
    cr_assert_eq(n, (ssize_t)hlen, "took %zd of %zu (want %zu): %s", n, len,
                 hlen, err.msg);
    const ss_proxy_header *h = ss_proxy_parser_header(p);
    cr_assert_not_null(h);
    cr_assert_eq(h->length, hlen);
    return h;
}

/* Feeds data in one call and expects code, with a message. */
static void parse_bad(const void *data, size_t len, int code, const char *what)
{
    ss_proxy_parser p;
    ss_error err;
    ss_error_clear(&err);
    ss_proxy_parser_init(&p);
    ssize_t n = ss_proxy_parser_feed(&p, data, len, &err);
    cr_assert_eq(n, code, "%s: got %zd (%s), want %d", what, n, err.msg, code);
    cr_assert_neq(err.msg[0], '\0', "%s: no message", what);
    cr_assert_null(ss_proxy_parser_header(&p), "%s", what);
    /* Refused for good: more bytes change nothing. */
    cr_assert_eq(ss_proxy_parser_feed(&p, "\r\n", 2, NULL), code, "%s", what);
}

static void v1_bad(const char *line, int code)
{
    parse_bad(line, strlen(line), code, line);
}

/* A v2 header: signature, ver_cmd, fam, then body (len bytes). */
static size_t v2(unsigned char *out, unsigned char ver_cmd, unsigned char fam,
                 const void *body, size_t len)
{
    memcpy(out, SIG, 12);
    out[12] = ver_cmd;
    out[13] = fam;
    out[14] = (unsigned char)(len >> 8);
    out[15] = (unsigned char)len;
    if (len)
        memcpy(out + 16, body, len);
    return 16 + len;
}

static const unsigned char INET_BODY[12] = {192, 0, 2, 7,   198, 51, 100, 9,
                                            0xC3, 0x50, 0x00, 0x15};

/* --- version 1 ----------------------------------------------------------- */

Test(v1, tcp4_gives_every_field)
{
    const char *l = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
    ss_proxy_parser p;
    const ss_proxy_header *h = parse_ok(&p, l, strlen(l), strlen(l));
    cr_assert_eq(h->version, 1);
    cr_assert_eq(h->command, SS_PROXY_PROXY);
    cr_assert_eq(h->socket_type, SOCK_STREAM);
    cr_assert_str_eq(fmt(&h->source), "192.168.0.1:56324");
    cr_assert_str_eq(fmt(&h->destination), "192.168.0.11:443");
    cr_assert_eq(h->crc32c, false);
}

Test(v1, tcp6_gives_every_field)
{
    const char *l = "PROXY TCP6 2001:db8::1 2001:DB8:0:0:0:0:0:2 0 65535\r\n";
    ss_proxy_parser p;
    const ss_proxy_header *h = parse_ok(&p, l, strlen(l), strlen(l));
    cr_assert_eq(ss_addr_family(&h->source), AF_INET6);
    cr_assert_str_eq(fmt(&h->source), "[2001:db8::1]:0");
    cr_assert_str_eq(fmt(&h->destination), "[2001:db8::2]:65535");
}

Test(v1, tcp6_ipv4_mapped_becomes_ipv4)
{
    /* What HAProxy writes for an IPv4 client on a dual-stack socket
     * (nats-server refused it: nats-io/nats-server#8302). */
    const char *l = "PROXY TCP6 ::ffff:127.0.0.3 ::ffff:127.0.0.1 40000 21\r\n";
    ss_proxy_parser p;
    const ss_proxy_header *h = parse_ok(&p, l, strlen(l), strlen(l));
    cr_assert_eq(ss_addr_family(&h->source), AF_INET);
    cr_assert_str_eq(fmt(&h->source), "127.0.0.3:40000");
    cr_assert_str_eq(fmt(&h->destination), "127.0.0.1:21");
}

Test(v1, unknown_keeps_no_addresses)
{
    const char *forms[] = {
        "PROXY UNKNOWN\r\n",
        "PROXY UNKNOWN ffff:f:f:f:f:f:f:f ::1 1 2\r\n",
        "PROXY UNKNOWN whatever follows is ignored\r\n",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        ss_proxy_parser p;
        const ss_proxy_header *h =
            parse_ok(&p, forms[i], strlen(forms[i]), strlen(forms[i]));
        cr_assert_eq(h->version, 1);
        cr_assert_eq(h->source.len, 0, "%s", forms[i]);
        cr_assert_eq(h->destination.len, 0, "%s", forms[i]);
    }
}

Test(v1, longest_line_is_107_bytes)
{
    char l[128];
    const char *v6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    int n = snprintf(l, sizeof l, "PROXY UNKNOWN %s %s 65535 65535\r\n", v6, v6);
    cr_assert_eq(n, SS_PROXY_V1_MAX);
    ss_proxy_parser p;
    parse_ok(&p, l, (size_t)n, (size_t)n);
    /* The longest TCP6 line (104 bytes) too. */
    n = snprintf(l, sizeof l, "PROXY TCP6 %s %s 65535 65535\r\n", v6, v6);
    cr_assert_eq(n, 104);
    const ss_proxy_header *h = parse_ok(&p, l, (size_t)n, (size_t)n);
    cr_assert_str_eq(fmt(&h->source),
                     "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}

Test(v1, no_crlf_in_107_bytes_is_oversized)
{
    char l[200];
    memset(l, 'a', sizeof l);
    memcpy(l, "PROXY UNKNOWN ", 14);
    parse_bad(l, sizeof l, -EMSGSIZE, "200 bytes without CRLF");
    parse_bad(l, SS_PROXY_V1_MAX, -EMSGSIZE, "107 bytes without CRLF");
    /* 106 bytes without CRLF: still waiting, everything taken. */
    ss_proxy_parser p;
    ss_proxy_parser_init(&p);
    cr_assert_eq(ss_proxy_parser_feed(&p, l, 106, NULL), 106);
    cr_assert_null(ss_proxy_parser_header(&p));
    /* A CR as byte 107 with its LF at 108 is one byte too long. */
    l[106] = '\r';
    l[107] = '\n';
    parse_bad(l, 108, -EMSGSIZE, "CRLF at 107-108");
}

Test(v1, bytes_after_the_header_are_left)
{
    const char *l = "PROXY TCP4 10.0.0.1 10.0.0.2 1000 21\r\nUSER anonymous\r\n";
    size_t hlen = strlen("PROXY TCP4 10.0.0.1 10.0.0.2 1000 21\r\n");
    ss_proxy_parser p;
    parse_ok(&p, l, strlen(l), hlen);
    /* After the header, nothing more is taken. */
    cr_assert_eq(ss_proxy_parser_feed(&p, "more", 4, NULL), 0);
}

Test(v1, every_split_gives_the_same_header)
{
    const char *l = "PROXY TCP6 2001:db8::5 ::1 4242 990\r\n\x16\x03\x01";
    size_t hlen = strlen(l) - 3, len = strlen(l);
    /* Byte by byte: one byte taken per call, none after the LF. */
    ss_proxy_parser p;
    ss_proxy_parser_init(&p);
    for (size_t i = 0; i < hlen; i++) {
        cr_assert_null(ss_proxy_parser_header(&p));
        cr_assert_eq(ss_proxy_parser_feed(&p, l + i, 1, NULL), 1, "byte %zu", i);
    }
    cr_assert_not_null(ss_proxy_parser_header(&p));
    cr_assert_eq(ss_proxy_parser_feed(&p, l + hlen, 1, NULL), 0);
    cr_assert_str_eq(fmt(&ss_proxy_parser_header(&p)->source),
                     "[2001:db8::5]:4242");
    /* Two pieces, cut anywhere: the second call takes only up to the LF. */
    for (size_t cut = 1; cut < len; cut++) {
        ss_proxy_parser_init(&p);
        ssize_t a = ss_proxy_parser_feed(&p, l, cut, NULL);
        size_t want_a = cut < hlen ? cut : hlen;
        cr_assert_eq(a, (ssize_t)want_a, "cut %zu", cut);
        if (cut < hlen) {
            ssize_t b = ss_proxy_parser_feed(&p, l + cut, len - cut, NULL);
            cr_assert_eq(b, (ssize_t)(hlen - cut), "cut %zu", cut);
        }
        cr_assert_not_null(ss_proxy_parser_header(&p), "cut %zu", cut);
    }
}

Test(v1, malformed_lines_are_refused)
{
    /* Spacing: exactly one space between fields, none at the ends. */
    v1_bad("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", SS_EPROTO);
    v1_bad("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", SS_EPROTO);
    v1_bad("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", SS_EPROTO);
    v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", SS_EPROTO);
    v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1\t2\r\n", SS_EPROTO);
    /* Field count. */
    v1_bad("PROXY TCP4\r\n", SS_EPROTO);
    v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", SS_EPROTO);
    v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", SS_EPROTO);
    v1_bad("PROXY \r\n", SS_EPROTO);
    /* Protocol: TCP4, TCP6, UNKNOWN, as written. */
    v1_bad("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", SS_EPROTO);
    v1_bad("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", SS_EPROTO);
    v1_bad("PROXY UNKNOWNX\r\n", SS_EPROTO);
    v1_bad("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", SS_EPROTO);
    v1_bad("PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n", SS_EPROTO);
    /* IPv4: four decimal octets, 0-255, no leading zeros. */
    v1_bad("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", SS_EPROTO);
    v1_bad("PROXY TCP4 1.2.3.4 5.6.7.008 1 2\r\n", SS_EPROTO);
    v1_bad("PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n", SS_EPROTO);
    v1_bad("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", SS_EPROTO);
    v1_bad("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", SS_EPROTO);
    v1_bad("PROXY TCP4 1.2..4 5.6.7.8 1 2\r\n", SS_EPROTO);
    v1_bad("PROXY TCP4 0x1.2.3.4 5.6.7.8 1 2\r\n", SS_EPROTO);
    v1_bad("PROXY TCP4 ::1 ::1 1 2\r\n", SS_EPROTO);
    /* IPv6: one "::", 128 bits, hex only; no IPv4 in a TCP6 line. */
    v1_bad("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", SS_EPROTO);
    v1_bad("PROXY TCP6 1::2::3 ::1 1 2\r\n", SS_EPROTO);
    v1_bad("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n", SS_EPROTO);
    v1_bad("PROXY TCP6 12345::1 ::1 1 2\r\n", SS_EPROTO);
    v1_bad("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", SS_EPROTO);
    v1_bad("PROXY TCP6 [::1] ::1 1 2\r\n", SS_EPROTO);
    /* Ports: 0-65535, decimal, no leading zeros. */
    v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 0443 2\r\n", SS_EPROTO);
    v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", SS_EPROTO);
    v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", SS_EPROTO);
    v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 +2\r\n", SS_EPROTO);
    v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 100000\r\n", SS_EPROTO);
    /* Line end: CRLF only; a lone CR or LF ends nothing. */
    v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", SS_EPROTO);
    v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX\n", SS_EPROTO);
    v1_bad("PROXY TCP4 1.2.3.4\r 5.6.7.8 1 2\r\n", SS_EPROTO);
    v1_bad("PROXY UNKNOWN \n\r\n", SS_EPROTO);
    /* Only printable US-ASCII. */
    v1_bad("PROXY UNKNOWN \x01\r\n", SS_EPROTO);
    v1_bad("PROXY UNKNOWN \xc3\xa9\r\n", SS_EPROTO);
    parse_bad("PROXY UNKNOWN \0\r\n", 17, SS_EPROTO, "NUL in the line");
}

Test(v1, errors_come_as_early_as_the_bytes_allow)
{
    /* Not a header at all: the first byte says so. */
    ss_proxy_parser p;
    ss_proxy_parser_init(&p);
    cr_assert_eq(ss_proxy_parser_feed(&p, "G", 1, NULL), SS_EPROTO);
    ss_proxy_parser_init(&p);
    cr_assert_eq(ss_proxy_parser_feed(&p, "\x16", 1, NULL), SS_EPROTO);
    ss_proxy_parser_init(&p);
    cr_assert_eq(ss_proxy_parser_feed(&p, "PROX", 4, NULL), 4);
    cr_assert_eq(ss_proxy_parser_feed(&p, "I", 1, NULL), SS_EPROTO);
    /* A LF without CR fails at the LF, not at 107 bytes. */
    ss_proxy_parser_init(&p);
    cr_assert_eq(ss_proxy_parser_feed(&p, "PROXY UNKNOWN", 13, NULL), 13);
    cr_assert_eq(ss_proxy_parser_feed(&p, "\n", 1, NULL), SS_EPROTO);
}

/* --- version 2 ----------------------------------------------------------- */

Test(v2, tcp4_gives_every_field)
{
    unsigned char b[64];
    size_t n = v2(b, 0x21, 0x11, INET_BODY, sizeof INET_BODY);
    memcpy(b + n, "after", 5);
    ss_proxy_parser p;
    const ss_proxy_header *h = parse_ok(&p, b, n + 5, n);
    cr_assert_eq(h->version, 2);
    cr_assert_eq(h->command, SS_PROXY_PROXY);
    cr_assert_eq(h->socket_type, SOCK_STREAM);
    cr_assert_str_eq(fmt(&h->source), "192.0.2.7:50000");
    cr_assert_str_eq(fmt(&h->destination), "198.51.100.9:21");
    cr_assert_eq(h->length, 28);
}

Test(v2, udp4_says_datagram)
{
    unsigned char b[64];
    size_t n = v2(b, 0x21, 0x12, INET_BODY, sizeof INET_BODY);
    ss_proxy_parser p;
    cr_assert_eq(parse_ok(&p, b, n, n)->socket_type, SOCK_DGRAM);
}

Test(v2, tcp6_gives_every_field_and_maps_ipv4)
{
    unsigned char body[36] = {0};
    inet_pton(AF_INET6, "2001:db8::1", body);
    inet_pton(AF_INET6, "::ffff:10.9.8.7", body + 16);
    body[32] = 0x01, body[33] = 0xBB; /* 443 */
    body[34] = 0x03, body[35] = 0xDE; /* 990 */
    unsigned char b[64];
    size_t n = v2(b, 0x21, 0x21, body, sizeof body);
    ss_proxy_parser p;
    const ss_proxy_header *h = parse_ok(&p, b, n, n);
    cr_assert_str_eq(fmt(&h->source), "[2001:db8::1]:443");
    cr_assert_eq(ss_addr_family(&h->destination), AF_INET);
    cr_assert_str_eq(fmt(&h->destination), "10.9.8.7:990");
}

Test(v2, unix_gives_both_paths)
{
    unsigned char body[216] = {0};
    strcpy((char *)body, "/run/client.sock");
    body[108] = 0; /* an abstract destination */
    strcpy((char *)body + 109, "balancer");
    unsigned char b[256];
    size_t n = v2(b, 0x21, 0x31, body, sizeof body);
    ss_proxy_parser p;
    const ss_proxy_header *h = parse_ok(&p, b, n, n);
    cr_assert_eq(ss_addr_family(&h->source), AF_UNIX);
    cr_assert_str_eq(fmt(&h->source), "unix:/run/client.sock");
    cr_assert_str_eq(fmt(&h->destination), "unix:@balancer");
    /* A path that fills all 108 bytes, no NUL. */
    memset(body, 'p', 108);
    body[0] = '/';
    n = v2(b, 0x21, 0x31, body, sizeof body);
    h = parse_ok(&p, b, n, n);
    cr_assert_eq(h->source.len, offsetof(struct sockaddr_un, sun_path) + 108);
}

Test(v2, local_keeps_no_addresses_and_skips_its_block)
{
    unsigned char b[64];
    ss_proxy_parser p;
    size_t n = v2(b, 0x20, 0x00, NULL, 0);
    const ss_proxy_header *h = parse_ok(&p, b, n, n);
    cr_assert_eq(h->command, SS_PROXY_LOCAL);
    cr_assert_eq(h->source.len, 0);
    cr_assert_eq(h->length, 16);
    /* AWS NLB: LOCAL with a TCP4 address block, which must be skipped
     * (pires/go-proxyproto#12), not taken. */
    n = v2(b, 0x20, 0x11, INET_BODY, sizeof INET_BODY);
    memcpy(b + n, "USER", 4);
    h = parse_ok(&p, b, n + 4, n);
    cr_assert_eq(h->command, SS_PROXY_LOCAL);
    cr_assert_eq(h->source.len, 0);
    /* Whatever LOCAL's block holds is not looked at. */
    n = v2(b, 0x20, 0x00, "\xff\xff", 2);
    cr_assert_eq(parse_ok(&p, b, n, n)->command, SS_PROXY_LOCAL);
}

Test(v2, unspec_family_keeps_no_addresses)
{
    unsigned char b[64];
    ss_proxy_parser p;
    size_t n = v2(b, 0x21, 0x00, "\x04\x00\x00", 3);
    const ss_proxy_header *h = parse_ok(&p, b, n, n);
    cr_assert_eq(h->command, SS_PROXY_PROXY);
    cr_assert_eq(h->source.len, 0);
    cr_assert_eq(h->socket_type, 0);
}

/* The address block, then registered and custom TLVs: all skipped. */
static size_t v2_with_tlvs(unsigned char *b)
{
    unsigned char body[400];
    size_t o = 0;
    memcpy(body, INET_BODY, 12);
    o = 12;
#define TLV(type, str, len)                                                    \
    do {                                                                       \
        body[o++] = (type);                                                    \
        body[o++] = (unsigned char)((len) >> 8);                               \
        body[o++] = (unsigned char)(len);                                      \
        memcpy(body + o, (str), (len));                                        \
        o += (len);                                                            \
    } while (0)
    TLV(0x01, "ftp", 3);                    /* ALPN */
    TLV(0x02, "ftp.example.org", 15);       /* AUTHORITY */
    TLV(0x04, "\0\0\0\0\0\0\0\0", 8);       /* NOOP */
    TLV(0x05, "0123456789abcdef", 16);      /* UNIQUE_ID */
    /* SSL: client 0x07, verify 0, sub-TLVs version and CN */
    TLV(0x20, "\x07\0\0\0\0" "\x21\0\x07TLSv1.3" "\x22\0\x03" "bob", 5 + 10 + 6);
    TLV(0x30, "netns", 5);                  /* NETNS */
    TLV(0xE0, "", 0);                       /* application-specific */
    TLV(0xF8, "future", 6);                 /* reserved */
#undef TLV
    return v2(b, 0x21, 0x11, body, o);
}

Test(v2, tlvs_are_walked_and_skipped)
{
    unsigned char b[512];
    size_t n = v2_with_tlvs(b);
    memcpy(b + n, "\x16\x03\x01", 3);
    ss_proxy_parser p;
    const ss_proxy_header *h = parse_ok(&p, b, n + 3, n);
    cr_assert_str_eq(fmt(&h->source), "192.0.2.7:50000");
}

Test(v2, crc32c_is_checked)
{
    /* The CRC was computed independently (a Python CRC32C over the header
     * with the value zeroed). */
    unsigned char b[64];
    unsigned char body[19] = {10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0x00, 0x15,
                              0x03, 0x00, 0x04, 0x75, 0x46, 0x23, 0x1b};
    size_t n = v2(b, 0x21, 0x11, body, sizeof body);
    ss_proxy_parser p;
    const ss_proxy_header *h = parse_ok(&p, b, n, n);
    cr_assert(h->crc32c);
    cr_assert_str_eq(fmt(&h->source), "10.0.0.1:12345");
    /* One bit off anywhere: refused. */
    for (size_t i = 16; i < n; i++) {
        if (i >= 28 && i < 31)
            continue; /* the TLV's type and length: other errors */
        b[i] ^= 0x01;
        parse_bad(b, n, SS_EPROTO, "flipped bit");
        b[i] ^= 0x01;
    }
    /* A CRC TLV that is not 4 bytes. */
    unsigned char bad[15] = {10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2, 0x03, 0, 0};
    n = v2(b, 0x21, 0x11, bad, sizeof bad);
    parse_bad(b, n, SS_EPROTO, "empty CRC TLV");
}

Test(v2, longest_header_taken_and_one_more_refused)
{
    static unsigned char b[SS_PROXY_V2_MAX + 32];
    unsigned char body[SS_PROXY_V2_MAX];
    size_t len = SS_PROXY_V2_MAX - 16;
    memcpy(body, INET_BODY, 12);
    size_t pad = len - 12 - 3; /* one NOOP TLV fills the rest */
    body[12] = 0x04;
    body[13] = (unsigned char)(pad >> 8);
    body[14] = (unsigned char)pad;
    memset(body + 15, 0, pad);
    size_t n = v2(b, 0x21, 0x11, body, len);
    cr_assert_eq(n, SS_PROXY_V2_MAX);
    ss_proxy_parser p;
    parse_ok(&p, b, n, n);
    /* One byte more: refused from the 16 fixed bytes alone. */
    b[14] = (unsigned char)((len + 1) >> 8);
    b[15] = (unsigned char)(len + 1);
    parse_bad(b, 16, -EMSGSIZE, "4097-byte header");
    b[14] = b[15] = 0xFF;
    parse_bad(b, 16, -EMSGSIZE, "65551-byte header");
}

Test(v2, malformed_headers_are_refused)
{
    unsigned char b[512];
    size_t n;
    /* The signature, any byte wrong; it is not a C string (a NUL at 4). */
    for (int i = 0; i < 12; i++) {
        n = v2(b, 0x21, 0x11, INET_BODY, sizeof INET_BODY);
        b[i] ^= 0x20;
        parse_bad(b, n, SS_EPROTO, "signature");
    }
    /* Version: only 2. */
    unsigned char vc[] = {0x11, 0x01, 0x31, 0xF1};
    for (size_t i = 0; i < sizeof vc; i++) {
        n = v2(b, vc[i], 0x11, INET_BODY, sizeof INET_BODY);
        parse_bad(b, n, SS_EPROTO, "version");
    }
    /* Command: LOCAL or PROXY only. */
    n = v2(b, 0x22, 0x11, INET_BODY, sizeof INET_BODY);
    parse_bad(b, n, SS_EPROTO, "command 2");
    n = v2(b, 0x2F, 0x11, INET_BODY, sizeof INET_BODY);
    parse_bad(b, n, SS_EPROTO, "command 15");
    /* Family 0-3, protocol 0-2 (for LOCAL too). */
    n = v2(b, 0x21, 0x41, INET_BODY, sizeof INET_BODY);
    parse_bad(b, n, SS_EPROTO, "family 4");
    n = v2(b, 0x21, 0x13, INET_BODY, sizeof INET_BODY);
    parse_bad(b, n, SS_EPROTO, "protocol 3");
    n = v2(b, 0x20, 0xF0, NULL, 0);
    parse_bad(b, n, SS_EPROTO, "LOCAL, family 15");
    /* A length too short for the family's addresses. */
    n = v2(b, 0x21, 0x11, INET_BODY, 11);
    parse_bad(b, n, SS_EPROTO, "INET in 11");
    unsigned char big[216] = {0};
    n = v2(b, 0x21, 0x21, big, 35);
    parse_bad(b, n, SS_EPROTO, "INET6 in 35");
    n = v2(b, 0x21, 0x31, big, 215);
    parse_bad(b, n, SS_EPROTO, "UNIX in 215");
    n = v2(b, 0x21, 0x11, NULL, 0);
    parse_bad(b, n, SS_EPROTO, "INET in 0");
    /* TLVs that do not fit. */
    unsigned char t[32];
    memcpy(t, INET_BODY, 12);
    memcpy(t + 12, "\x01\x00\x05" "ab", 5); /* says 5, has 2 */
    n = v2(b, 0x21, 0x11, t, 17);
    parse_bad(b, n, SS_EPROTO, "TLV overrun");
    memcpy(t + 12, "\x04\x00", 2); /* 2 bytes: no room for a TLV header */
    n = v2(b, 0x21, 0x11, t, 14);
    parse_bad(b, n, SS_EPROTO, "trailing 2 bytes");
    n = v2(b, 0x21, 0x11, t, 13);
    parse_bad(b, n, SS_EPROTO, "trailing 1 byte");
    /* SSL: 5 fixed bytes, then sub-TLVs that fit. */
    memcpy(t + 12, "\x20\x00\x04" "\x01\0\0\0", 7);
    n = v2(b, 0x21, 0x11, t, 19);
    parse_bad(b, n, SS_EPROTO, "SSL TLV of 4");
    memcpy(t + 12, "\x20\x00\x08" "\x01\0\0\0\0" "\x21\x00\x09", 11);
    n = v2(b, 0x21, 0x11, t, 23);
    parse_bad(b, n, SS_EPROTO, "SSL sub-TLV overrun");
    /* UNIQUE_ID: at most 128 bytes. */
    unsigned char u[12 + 3 + 129];
    memcpy(u, INET_BODY, 12);
    u[12] = 0x05, u[13] = 0, u[14] = 129;
    memset(u + 15, 'x', 129);
    n = v2(b, 0x21, 0x11, u, sizeof u);
    parse_bad(b, n, SS_EPROTO, "UNIQUE_ID of 129");
    u[14] = 128;
    n = v2(b, 0x21, 0x11, u, sizeof u - 1);
    ss_proxy_parser p;
    parse_ok(&p, b, n, n);
}

Test(v2, every_split_gives_the_same_header)
{
    unsigned char b[512];
    size_t hlen = v2_with_tlvs(b);
    memcpy(b + hlen, "rest", 4);
    size_t len = hlen + 4;
    ss_proxy_parser p;
    ss_proxy_parser_init(&p);
    for (size_t i = 0; i < hlen; i++) {
        cr_assert_null(ss_proxy_parser_header(&p), "done early at %zu", i);
        cr_assert_eq(ss_proxy_parser_feed(&p, b + i, 1, NULL), 1, "byte %zu", i);
    }
    cr_assert_not_null(ss_proxy_parser_header(&p));
    cr_assert_eq(ss_proxy_parser_feed(&p, b + hlen, 4, NULL), 0);
    for (size_t cut = 1; cut < len; cut++) {
        ss_proxy_parser_init(&p);
        ssize_t a = ss_proxy_parser_feed(&p, b, cut, NULL);
        cr_assert_eq(a, (ssize_t)(cut < hlen ? cut : hlen), "cut %zu", cut);
        if (cut < hlen)
            cr_assert_eq(ss_proxy_parser_feed(&p, b + cut, len - cut, NULL),
                         (ssize_t)(hlen - cut), "cut %zu", cut);
        const ss_proxy_header *h = ss_proxy_parser_header(&p);
        cr_assert_not_null(h, "cut %zu", cut);
        cr_assert_str_eq(fmt(&h->source), "192.0.2.7:50000");
    }
    /* Three pieces of every size up to 7. */
    for (size_t step = 2; step <= 7; step++) {
        ss_proxy_parser_init(&p);
        size_t off = 0;
        while (!ss_proxy_parser_header(&p)) {
            size_t k = len - off < step ? len - off : step;
            ssize_t t = ss_proxy_parser_feed(&p, b + off, k, NULL);
            cr_assert_geq(t, 0);
            off += (size_t)t;
        }
        cr_assert_eq(off, hlen, "step %zu", step);
    }
}

/* --- trusted networks ------------------------------------------------------ */

static ss_addr ip(const char *text)
{
    ss_addr a;
    cr_assert_eq(ss_addr_parse(&a, text, NULL), 0, "%s", text);
    return a;
}

Test(cidr, networks_match_their_addresses)
{
    ss_cidr n;
    cr_assert_eq(ss_cidr_parse(&n, "127.0.0.0/8", NULL), 0);
    ss_addr a = ip("127.0.0.3:1"), b = ip("128.0.0.1:1");
    cr_assert(ss_cidr_match(&n, &a));
    cr_assert_not(ss_cidr_match(&n, &b));
    /* An IPv4-mapped peer on a dual-stack listener matches IPv4 networks. */
    ss_addr m = ip("[::ffff:127.1.2.3]:1");
    cr_assert(ss_cidr_match(&n, &m));

    cr_assert_eq(ss_cidr_parse(&n, "10.1.2.128/25", NULL), 0);
    a = ip("10.1.2.200:1");
    b = ip("10.1.2.127:1");
    cr_assert(ss_cidr_match(&n, &a));
    cr_assert_not(ss_cidr_match(&n, &b));

    cr_assert_eq(ss_cidr_parse(&n, "2001:db8::/33", NULL), 0);
    a = ip("[2001:db8:7fff::1]:1");
    b = ip("[2001:db8:8000::1]:1");
    cr_assert(ss_cidr_match(&n, &a));
    cr_assert_not(ss_cidr_match(&n, &b));
    a = ip("10.1.2.200:1");
    cr_assert_not(ss_cidr_match(&n, &a), "IPv4 in an IPv6 network");

    cr_assert_eq(ss_cidr_parse(&n, "::1", NULL), 0);
    cr_assert_eq(n.prefix, 128);
    a = ip("[::1]:5");
    cr_assert(ss_cidr_match(&n, &a));
    cr_assert_eq(ss_cidr_parse(&n, "0.0.0.0/0", NULL), 0);
    b = ip("203.0.113.1:1");
    cr_assert(ss_cidr_match(&n, &b));
    ss_addr u;
    cr_assert_eq(ss_addr_parse(&u, "unix:/x", NULL), 0);
    cr_assert_not(ss_cidr_match(&n, &u));
}

Test(cidr, bad_networks_are_refused)
{
    const char *bad[] = {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129",
                         "10.0.0.0/08", "10.0.0.1/8", "host.example/8",
                         "10.0.0.0/8x", "10.0.0.0/-1", "fe80::1/10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ss_cidr n;
        ss_error err;
        ss_error_clear(&err);
        cr_assert_eq(ss_cidr_parse(&n, bad[i], &err), -EINVAL, "'%s'", bad[i]);
        cr_assert_neq(err.msg[0], '\0');
    }
}

Test(cidr, config_takes_a_list)
{
    ss_proxy_config c;
    ss_proxy_config_init(&c);
    cr_assert_eq(c.timeout, SS_PROXY_TIMEOUT_DEFAULT);
    cr_assert_eq(ss_proxy_config_trust(&c, "127.0.0.0/8, ::1/128 10.0.0.0/8",
                                       NULL), 0);
    cr_assert_eq(c.ntrusted, 3);
    ss_error err;
    ss_error_clear(&err);
    cr_assert_eq(ss_proxy_config_trust(&c, "192.168.0.0/16, nonsense", &err),
                 -EINVAL);
    cr_assert(strstr(err.msg, "nonsense"), "%s", err.msg);
    cr_assert_eq(c.ntrusted, 3, "unchanged on error");
    for (int i = 3; i < SS_PROXY_TRUSTED_MAX; i++)
        cr_assert_eq(ss_proxy_config_trust(&c, "10.0.0.0/8", NULL), 0);
    cr_assert_eq(ss_proxy_config_trust(&c, "10.0.0.0/8", NULL), -ENOSPC);
}
