/* sockserv/address.h - socket addresses as text and back.
 *
 * An ss_addr is a socket address of any family with its length, the C form of
 * Python's server_address / client_address.  The text forms are the ones the
 * examples and the FTP server accept on their command lines:
 *   "127.0.0.1:9999"  "localhost:0"  "[::1]:2121"  "unix:/run/x.sock"
 *   "unix:@name" (a Linux abstract socket, no file)
 */
#ifndef SOCKSERV_ADDRESS_H
#define SOCKSERV_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Big enough for any text ss_addr_format() writes, unix paths included. */
#define SS_ADDRSTRLEN 128

typedef struct ss_addr {
    struct sockaddr_storage sa; /* any family; AF_UNIX fits */
    socklen_t len;              /* 0: no address.  An unbound unix peer
                                   has family AF_UNIX and no path: len 0
                                   (datagram) or sizeof(sa_family_t) */
} ss_addr;

/* Parses "HOST:PORT", "[V6ADDR]:PORT" or "unix:PATH" into *out.
 * HOST may be a name ("localhost"); the first address found is used.  PORT
 * must be 0..65535 (0: any free port).  Errors: -EINVAL for bad text or a port
 * out of range, -ENAMETOOLONG for a unix path that does not fit, -ENOENT for a
 * name that does not resolve; err says which.  Thread-safe. */
int ss_addr_parse(ss_addr *out, const char *text, ss_error *err);

/* Copies a system sockaddr of length len (0 gives the empty address).
 * Returns 0 or -EINVAL when len is too big.  Thread-safe. */
int ss_addr_set(ss_addr *out, const struct sockaddr *sa, socklen_t len);

/* Writes the text form of *a into buf (cap bytes, SS_ADDRSTRLEN is always
 * enough) and returns buf.  The empty address is written as "unix:" for a
 * unix peer that did not bind and "-" otherwise.  Thread-safe. */
char *ss_addr_format(const ss_addr *a, char *buf, size_t cap);

/* The family (AF_INET, AF_INET6, AF_UNIX); AF_UNSPEC for a zeroed one. */
int ss_addr_family(const ss_addr *a);

/* The port of an IP address, -1 for other families. */
int ss_addr_port(const ss_addr *a);

/* True for 127.0.0.0/8, ::1, ::ffff:127.x and unix addresses. */
bool ss_addr_is_loopback(const ss_addr *a);

/* True when both are IP addresses of the same host (ports ignored; an
 * IPv4-mapped IPv6 address equals its IPv4 form). */
bool ss_addr_same_host(const ss_addr *a, const ss_addr *b);

#ifdef __cplusplus
}
#endif
#endif
