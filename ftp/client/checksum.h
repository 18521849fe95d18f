/* ftp/client/checksum.h - asking the server for a file's checksum.
 *
 * Two dialects are spoken, first that of draft-bryan-ftpext-hash:
 *   OPTS HASH SHA-256  -> 200
 *   RANG 0 N-1         -> 350   (only for a prefix; the end is inclusive,
 *                                draft-bryan-ftp-range; "RANG 1 0" resets)
 *   HASH path          -> 213 SHA-256 0-N <hex> path
 * then the older commands of ProFTPD's mod_digest and others:
 *   XSHA256 path [0 N] -> 213 or 250 <hex>   (end exclusive, as ProFTPD)
 * Which ones the server has comes from FEAT; a 500/502/504 answer also
 * marks a command as missing for the rest of the session. */
#ifndef FTPC_CHECKSUM_H
#define FTPC_CHECKSUM_H

#include <stdint.h>

#include "digest.h"
#include "session.h"

/* The checksum of remote path in algo (the whole file when len < 0, else its
 * first len bytes) into hex.  Returns 0, FTPC_ERR_UNSUPPORTED (no command
 * for this algorithm, or for ranges), FTPC_ERR_REMOTE (e.g. 550 no such
 * file; err says) or FTPC_ERR_NET. */
int ftpc_remote_hash(ftpc_session *s, const char *path, ftpc_algo algo,
                     int64_t len, char hex[FTPC_HEX_MAX]);

#endif
