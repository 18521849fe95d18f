/* ftp/server/protocol/digest.h - file checksums for HASH, XSHA256, XSHA1, XMD5, XCRC.
 *
 * API note.  A digest is computed over an open file descriptor (from
 * ftpd_vfs_open_read) and a byte range, reading FTPD_DIGEST_CHUNK bytes at a
 * time with pread (the descriptor's offset is not moved).  SHA-256, SHA-1 and
 * MD5 come from OpenSSL's EVP; CRC32 (the zlib/PNG polynomial, as
 * zlib.crc32 and XCRC clients expect) is a table implementation here.  The
 * result is lower-case hex (CRC32: 8 hex digits).
 *
 * HASH (draft-bryan-ftpext-hash) names: "SHA-256", "SHA-1", "MD5", "CRC32";
 * the reply is "213 <name> <start>-<end> <hex> <path>".
 *
 * Thread-safety: thread-safe.  Errors are -errno (-EIO for an OpenSSL
 * failure, -ERANGE for start > end or start past the end of the file). */
#ifndef FTPD_DIGEST_H
#define FTPD_DIGEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FTPD_DIGEST_CHUNK 65536
/* Room for the longest hex digest (SHA-256) and its NUL. */
#define FTPD_DIGEST_HEX_MAX 65

enum ftpd_digest_algo {
    FTPD_DIGEST_SHA256,
    FTPD_DIGEST_SHA1,
    FTPD_DIGEST_MD5,
    FTPD_DIGEST_CRC32,
};

/* "SHA-256" (also "SHA256"), "SHA-1" ("SHA1"), "MD5", "CRC32" (case-
 * insensitive) -> algo.  0 or -EINVAL. */
int ftpd_digest_parse(const char *name, enum ftpd_digest_algo *algo);
/* The HASH name of algo ("SHA-256", ...). */
const char *ftpd_digest_name(enum ftpd_digest_algo algo);

/* Digest of bytes [start, end) of fd; end < 0 means up to the end of the
 * file (an end past it is clamped).  *end_out (may be NULL) gets the real end.
 * Writes hex into hex (cap >= FTPD_DIGEST_HEX_MAX).  Returns the hex length
 * or -errno. */
int ftpd_digest_fd(int fd, enum ftpd_digest_algo algo, off_t start, off_t end,
                   off_t *end_out, char *hex, size_t cap);

/* CRC32 (initial value 0, as zlib.crc32): crc = ftpd_crc32(crc, buf, n). */
uint32_t ftpd_crc32(uint32_t crc, const void *buf, size_t n);

#endif
