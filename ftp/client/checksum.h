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
 * marks a command as missing for the rest of the session.  Some servers
 * list X* in FEAT but take only the path: any 5xx to a ranged form marks
 * that form as missing (and likewise a 5xx to a ranged HASH marks RANG),
 * so the range check moves on to the next command instead of failing. */
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

/* Whether the first len bytes of the local file fd match the server's file
 * path, by checksums of that range: in algo first (lhex is the local digest
 * of the range in algo, already computed), then in every other algorithm
 * the server offers, strongest first, each through HASH or X*.  *used gets
 * the algorithm that answered.  Returns 1 (same), 0 (different),
 * FTPC_ERR_UNSUPPORTED (no ranged checksum answered: the caller compares
 * bytes instead), or FTPC_ERR_REMOTE / FTPC_ERR_NET. */
int ftpc_remote_range_matches(ftpc_session *s, const char *path, int fd,
                              uint64_t len, ftpc_algo algo, const char *lhex,
                              ftpc_algo *used);

#endif
