/* ftp/client/listing.h - fetching a listing (LIST, NLST, MLSD) over a data
 * connection: shown as it comes (ls) or kept in memory (mget, mirror). */
#ifndef FTPC_LISTING_H
#define FTPC_LISTING_H

#include <stddef.h>
#include <stdio.h>

#include "session.h"

#define FTPC_LISTING_MAX (4u << 20) /* bytes of one listing kept in memory */

/* Sends "VERB [path]" and copies the listing to out when out is not NULL,
 * else into *buf (malloc'd, NUL-terminated, *len bytes; the caller frees
 * it; past FTPC_LISTING_MAX the rest is dropped).  Returns 0,
 * FTPC_ERR_REMOTE (refused: err has the reply), FTPC_ERR_NET or
 * FTPC_ERR_LOCAL.  Single-threaded per session. */
int ftpc_listing(ftpc_session *s, const char *verb, const char *path, FILE *out,
                 char **buf, size_t *len);

#endif
