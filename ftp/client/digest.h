/* ftp/client/digest.h - local checksums (OpenSSL EVP) in the algorithms FTP
 * servers offer: SHA-256, SHA-1, MD5. */
#ifndef FTPC_DIGEST_H
#define FTPC_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bits, so a set of offered algorithms fits an unsigned. */
typedef enum ftpc_algo {
    FTPC_ALGO_NONE = 0,
    FTPC_ALGO_MD5 = 1,
    FTPC_ALGO_SHA1 = 2,
    FTPC_ALGO_SHA256 = 4,
} ftpc_algo;

#define FTPC_HEX_MAX 129 /* room for any digest in hex, NUL included */

const char *ftpc_algo_name(ftpc_algo a);   /* "sha256" (for people) */
const char *ftpc_algo_iana(ftpc_algo a);   /* "SHA-256" (for HASH/OPTS HASH) */
const char *ftpc_algo_xcmd(ftpc_algo a);   /* "XSHA256" */
size_t ftpc_algo_hexlen(ftpc_algo a);      /* 64 */
/* The algorithm with this IANA name ("sha-256", any case), or NONE. */
ftpc_algo ftpc_algo_from_iana(const char *name);
/* The strongest algorithm in the set, or NONE. */
ftpc_algo ftpc_algo_best(unsigned set);

/* A running digest.  Caller-allocated; _init allocates the EVP context,
 * _close frees it (safe on a zeroed or closed struct). */
typedef struct ftpc_digest {
    void *ctx;           /* EVP_MD_CTX */
    ftpc_algo algo;
} ftpc_digest;

/* 0, or -1 (NONE or out of memory; the digest is then a no-op). */
int ftpc_digest_init(ftpc_digest *d, ftpc_algo algo);
void ftpc_digest_update(ftpc_digest *d, const void *buf, size_t n);
/* Writes the hex digest of what was fed so far without ending the digest
 * (so a prefix and the whole can both be read).  0 or -1. */
int ftpc_digest_peek(const ftpc_digest *d, char hex[FTPC_HEX_MAX]);
void ftpc_digest_close(ftpc_digest *d);

/* Feeds the first len bytes of the open file fd (read with pread from 0)
 * into d.  Returns 0 or -errno (-EIO when the file is shorter). */
int ftpc_digest_file(ftpc_digest *d, int fd, uint64_t len);

#endif
