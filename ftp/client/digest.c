/* ftp/client/digest.c - see digest.h. */
#include "digest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const struct {
    ftpc_algo algo;
    const char *name, *iana, *xcmd;
    size_t hexlen;
} algos[] = {
    {FTPC_ALGO_SHA256, "sha256", "SHA-256", "XSHA256", 64},
    {FTPC_ALGO_SHA1, "sha1", "SHA-1", "XSHA1", 40},
    {FTPC_ALGO_MD5, "md5", "MD5", "XMD5", 32},
};
#define NALGOS (sizeof algos / sizeof algos[0])

static int find(ftpc_algo a)
{
    for (size_t i = 0; i < NALGOS; i++)
        if (algos[i].algo == a)
            return (int)i;
    return -1;
}

const char *ftpc_algo_name(ftpc_algo a)
{
    int i = find(a);
    return i < 0 ? "none" : algos[i].name;
}

const char *ftpc_algo_iana(ftpc_algo a)
{
    int i = find(a);
    return i < 0 ? "" : algos[i].iana;
}

const char *ftpc_algo_xcmd(ftpc_algo a)
{
    int i = find(a);
    return i < 0 ? "" : algos[i].xcmd;
}

size_t ftpc_algo_hexlen(ftpc_algo a)
{
    int i = find(a);
    return i < 0 ? 0 : algos[i].hexlen;
}

ftpc_algo ftpc_algo_from_iana(const char *name)
{
    for (size_t i = 0; i < NALGOS; i++)
        if (strcasecmp(name, algos[i].iana) == 0)
            return algos[i].algo;
    return FTPC_ALGO_NONE;
}

ftpc_algo ftpc_algo_best(unsigned set)
{
    for (size_t i = 0; i < NALGOS; i++) /* strongest first */
        if (set & algos[i].algo)
            return algos[i].algo;
    return FTPC_ALGO_NONE;
}

static const EVP_MD *md_of(ftpc_algo a)
{
    switch (a) {
    case FTPC_ALGO_SHA256:
        return EVP_sha256();
    case FTPC_ALGO_SHA1:
        return EVP_sha1();
    case FTPC_ALGO_MD5:
        return EVP_md5();
    default:
        return NULL;
    }
}

int ftpc_digest_init(ftpc_digest *d, ftpc_algo algo)
{
    d->ctx = NULL;
    d->algo = FTPC_ALGO_NONE;
    const EVP_MD *md = md_of(algo);
    if (!md)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return -1;
    }
    d->ctx = ctx;
    d->algo = algo;
    return 0;
}

void ftpc_digest_update(ftpc_digest *d, const void *buf, size_t n)
{
    if (d->ctx && n > 0)
        EVP_DigestUpdate(d->ctx, buf, n);
}

int ftpc_digest_peek(const ftpc_digest *d, char hex[FTPC_HEX_MAX])
{
    hex[0] = '\0';
    if (!d->ctx)
        return -1;
    EVP_MD_CTX *copy = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok = copy && EVP_MD_CTX_copy_ex(copy, d->ctx) == 1 &&
             EVP_DigestFinal_ex(copy, md, &n) == 1;
    EVP_MD_CTX_free(copy);
    if (!ok)
        return -1;
    for (unsigned i = 0; i < n && 2 * i + 2 < FTPC_HEX_MAX; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

void ftpc_digest_close(ftpc_digest *d)
{
    EVP_MD_CTX_free(d->ctx);
    d->ctx = NULL;
}

int ftpc_digest_file(ftpc_digest *d, int fd, uint64_t len)
{
    static const size_t chunk = 1 << 16;
    char *buf = malloc(chunk);
    if (!buf)
        return -ENOMEM;
    uint64_t off = 0;
    int rc = 0;
    while (off < len) {
        size_t want = len - off < chunk ? (size_t)(len - off) : chunk;
        ssize_t r = pread(fd, buf, want, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO;
            break;
        }
        ftpc_digest_update(d, buf, (size_t)r);
        off += (uint64_t)r;
    }
    free(buf);
    return rc;
}
