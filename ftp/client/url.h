/* ftp/client/url.h - the server argument:
 * [ftp://|ftps://][USER[:PASS]@]HOST[:PORT][/PATH].
 *
 * HOST may be a name, an IPv4 address or an IPv6 address in brackets
 * ("[::1]:2121").  USER, PASS and PATH are percent-decoded, so a user name
 * with an '@' is written "a%40b".  The port defaults to 21.  ftps:// means
 * implicit FTPS, as it does to curl and lftp: TLS from the first byte, port
 * 990 by default (explicit FTPS, AUTH TLS on an ordinary port, is --tls). */
#ifndef FTPC_URL_H
#define FTPC_URL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ftpc_url {
    char user[128];
    bool has_user;
    char pass[256];
    bool has_pass;
    char host[256]; /* without the brackets of an IPv6 literal */
    char port[8];   /* decimal, "21" when not given */
    char path[1024];/* "" when not given; otherwise without the leading '/' */
    bool implicit_tls; /* ftps:// */
} ftpc_url;

/* Parses text into *u.  Returns 0, or -1 with a one-line reason in err (cap
 * bytes): unknown scheme, empty host, bad port, a part too long, bad %-escape.
 * Thread-safe; keeps no reference to text. */
int ftpc_url_parse(ftpc_url *u, const char *text, char *err, size_t cap);

#endif
