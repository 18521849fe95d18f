/* sockserv/proxy.h - HAProxy's PROXY protocol (version 1, text, and
 * version 2, binary): a server behind a load balancer learns the real
 * client's address from a header the balancer sends before anything else.
 *
 * Two layers:
 *  - a pure, incremental parser (ss_proxy_parser): bytes in any split, never
 *    taking a byte past the end of the header, strict about the format;
 *  - a per-server stage (ss_server_set_proxy): off by default; when on,
 *    every accepted stream connection must come from a trusted network and
 *    start with a complete, valid header within a timeout, before
 *    verify_request and before any TLS handshake.  Afterwards the request's
 *    client address (what verify_request, the handler and handle_error see)
 *    is the header's source; the balancer's address stays in the request's
 *    ss_proxy_info (ss_request_proxy, ss_event_proxy).
 *
 *     ss_proxy_config pc;
 *     ss_proxy_config_init(&pc);
 *     if (ss_proxy_config_trust(&pc, "10.0.0.0/8, ::1/128", &err) < 0 ||
 *         ss_server_set_proxy(&srv, &pc) < 0)
 *         die(err.msg);
 *
 * The spec is haproxy/haproxy doc/proxy-protocol.txt; doc/api/proxy.md says
 * what this implementation accepts and refuses, form by form.
 */
#ifndef SOCKSERV_PROXY_H
#define SOCKSERV_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "address.h"
#include "error.h"
#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The longest version 1 line, CRLF included (UNKNOWN with two full IPv6
 * addresses and ports). */
#define SS_PROXY_V1_MAX 107
/* The longest version 2 header this library takes, the 16 fixed bytes
 * included: as nginx, 4096.  Addresses need at most 216 bytes; the rest is
 * room for TLVs (a balancer's SSL and UNIQUE_ID TLVs are far below it). */
#define SS_PROXY_V2_MAX 4096

/* The v2 command; a v1 line is always a PROXY. */
enum { SS_PROXY_LOCAL = 0, SS_PROXY_PROXY = 1 };

/* A parsed header.  source and destination are the connection as the
 * balancer saw it (source: the client).  They are empty (len 0) when the
 * header carries none: v2 LOCAL, v1 UNKNOWN, v2 family UNSPEC; the
 * connection's own addresses then stand.  An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, in v1 TCP6 or v2 AF_INET6) is given as the IPv4
 * address it maps, so it compares equal to a plain IPv4 client. */
typedef struct ss_proxy_header {
    int version;     /* 1 or 2 */
    int command;     /* SS_PROXY_PROXY or SS_PROXY_LOCAL */
    int socket_type; /* SOCK_STREAM, SOCK_DGRAM, or 0 (unspecified) */
    ss_addr source;
    ss_addr destination;
    size_t length;   /* bytes of the whole header */
    bool crc32c;     /* v2 carried a CRC32C TLV (it matched) */
} ss_proxy_header;

/* The incremental parser.  Caller-allocated (about 4.5 KiB: it holds up to
 * SS_PROXY_V2_MAX bytes of header); the fields are private. */
typedef struct ss_proxy_parser {
    unsigned char buf[SS_PROXY_V2_MAX];
    size_t have;  /* header bytes taken so far */
    size_t total; /* v2: the header's length once known; else 0 */
    int state;
    int error;    /* the first error, returned again by later calls */
    ss_proxy_header header;
} ss_proxy_parser;

/* Prepares *p for one header.  Never fails; nothing to close. */
void ss_proxy_parser_init(ss_proxy_parser *p);

/* Gives the parser up to len bytes that follow those given before.  It
 * takes bytes only while they belong to the header: the return value is
 * how many it took (all of len while the header is incomplete; up to the
 * header's last byte when it completes, so data[ret..len) belongs to the
 * next layer), or a negative code:
 *   SS_EPROTO  the bytes are not a valid header (err says which rule);
 *   -EMSGSIZE  a v1 line without CRLF in SS_PROXY_V1_MAX bytes, or a v2
 *              header longer than SS_PROXY_V2_MAX.
 * Errors are found as early as the bytes allow (a wrong first byte fails
 * at once).  After an error every call returns it again; after the header
 * is complete every call returns 0.  Pure: no I/O, no allocation; one
 * parser per thread. */
ssize_t ss_proxy_parser_feed(ss_proxy_parser *p, const void *data, size_t len,
                             ss_error *err);

/* The header once complete (the parser's memory, valid until the next
 * init), NULL before. */
const ss_proxy_header *ss_proxy_parser_header(const ss_proxy_parser *p);

/* --- trusted networks ---------------------------------------------------- */

/* An IPv4 or IPv6 network in CIDR form. */
typedef struct ss_cidr {
    int family;              /* AF_INET or AF_INET6 */
    unsigned char addr[16];  /* network byte order, host bits zero */
    unsigned prefix;         /* 0..32 or 0..128 */
} ss_cidr;

/* Parses "10.0.0.0/8", "::1/128", or a bare address (a host: /32, /128).
 * Host bits set beyond the prefix ("10.0.0.1/8") are refused, as a sign of
 * a typing error.  Returns 0 or -EINVAL with err saying why.  Thread-safe. */
int ss_cidr_parse(ss_cidr *out, const char *text, ss_error *err);

/* True when the IP address a lies in net.  An IPv4-mapped IPv6 address
 * matches IPv4 networks (a dual-stack listener sees IPv4 balancers so).
 * Non-IP addresses match nothing.  Thread-safe. */
bool ss_cidr_match(const ss_cidr *net, const ss_addr *a);

/* --- the server stage ---------------------------------------------------- */

#define SS_PROXY_TRUSTED_MAX 32
#define SS_PROXY_TIMEOUT_DEFAULT 3.0

/* What ss_server_set_proxy() copies.  Fill it with ss_proxy_config_init()
 * and ss_proxy_config_trust(), or by hand. */
typedef struct ss_proxy_config {
    ss_cidr trusted[SS_PROXY_TRUSTED_MAX]; /* the balancers' networks */
    size_t ntrusted;
    /* Seconds from accept to the header's last byte; the spec asks for at
     * least 3 (a TCP retransmit).  <= 0: SS_PROXY_TIMEOUT_DEFAULT. */
    double timeout;
} ss_proxy_config;

/* No trusted networks, the default timeout. */
void ss_proxy_config_init(ss_proxy_config *c);

/* Adds the networks of a list separated by commas and/or blanks
 * ("127.0.0.0/8, ::1/128").  Returns 0, -EINVAL for an entry that does not
 * parse, or -ENOSPC past SS_PROXY_TRUSTED_MAX; err names the entry.  On
 * error *c is unchanged. */
int ss_proxy_config_trust(ss_proxy_config *c, const char *list, ss_error *err);

/* Turns the PROXY stage on for a stream server (cfg copied), or off (cfg
 * NULL).  With it on, each accepted connection, before verify_request:
 *  - from a peer outside cfg->trusted (IP servers), is closed unread: a
 *    port either takes proxied connections or direct ones, never both;
 *    a unix-socket server trusts its peers (the socket file's permissions
 *    say who may connect), so its list may be empty;
 *  - must then send a complete v1 or v2 header within cfg->timeout;
 *    exactly the header is read from the socket, nothing after it;
 *  - a malformed, oversized, missing (peer closed, or timeout) header
 *    closes that connection only: handle_error (with the socket's peer as
 *    the address), then shutdown_request;
 *  - a valid header with addresses makes its source the client address;
 *    LOCAL, UNKNOWN and UNSPEC keep the socket's peer.
 * The header is read by the serving loop without blocking (no thread or
 * child is taken until it is complete, whatever the mixin), or inline,
 * bounded by the timeout, by ss_server_handle_request().
 * Call before serving (like ss_server_set_tls; not while serve_forever
 * runs).  Returns 0, -EINVAL for a datagram server, an IP server given no
 * trusted network, or a bad timeout, -ENOMEM, -EBADF for a closed server. */
int ss_server_set_proxy(ss_server *self, const ss_proxy_config *cfg);

/* The configuration in force, NULL when the stage is off.  Borrowed until
 * the next ss_server_set_proxy or ss_server_close. */
const ss_proxy_config *ss_server_get_proxy(const ss_server *self);

/* What the stage learned about one request. */
typedef struct ss_proxy_info {
    ss_addr balancer;      /* the socket's peer: the balancer itself */
    ss_proxy_header header;
} ss_proxy_info;

/* A request's PROXY information, NULL when the server does not use the
 * stage (or for a datagram).  Owned by the request (freed by
 * close_request); for the handler (h->request), verify_request and
 * handle_error, on the request's thread or child. */
const ss_proxy_info *ss_request_proxy(const ss_request *req);

struct ss_event_handler;
/* The same for an EventMixIn connection: valid until on_close returns.
 * Serving loop's thread. */
const ss_proxy_info *ss_event_proxy(const struct ss_event_handler *h);

#ifdef __cplusplus
}
#endif
#endif
