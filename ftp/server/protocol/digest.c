/* ftp/server/protocol/digest.c - checksums over a file range (see digest.h). */
#include "protocol/digest.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

/* ---- CRC32 (reflected, polynomial 0xEDB88320, as zlib) ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t ftpd_crc32(uint32_t crc, const void *buf, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = buf;
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- names ---- */

static const struct {
    const char *name;
    const char *alias;
    enum ftpd_digest_algo algo;
} names[] = {
    {"SHA-256", "SHA256", FTPD_DIGEST_SHA256},
    {"SHA-1", "SHA1", FTPD_DIGEST_SHA1},
    {"MD5", "MD5", FTPD_DIGEST_MD5},
    {"CRC32", "CRC-32", FTPD_DIGEST_CRC32},
};

int ftpd_digest_parse(const char *name, enum ftpd_digest_algo *algo)
{
    if (!name)
        return -EINVAL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(name, names[i].name) == 0 ||
            strcasecmp(name, names[i].alias) == 0) {
            *algo = names[i].algo;
            return 0;
        }
    }
    return -EINVAL;
}

const char *ftpd_digest_name(enum ftpd_digest_algo algo)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].algo == algo)
            return names[i].name;
    return "?";
}

/* ---- the file walk ---- */

static void to_hex(const unsigned char *d, size_t n, char *hex)
{
    static const char x[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = x[d[i] >> 4];
        hex[2 * i + 1] = x[d[i] & 15];
    }
    hex[2 * n] = '\0';
}

int ftpd_digest_fd(int fd, enum ftpd_digest_algo algo, off_t start, off_t end,
                   off_t *end_out, char *hex, size_t cap)
{
    if (cap < FTPD_DIGEST_HEX_MAX)
        return -ENOSPC;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (end < 0 || end > st.st_size)
        end = st.st_size;
    if (start < 0 || start > end)
        return -ERANGE;

    const EVP_MD *md = NULL;
    switch (algo) {
    case FTPD_DIGEST_SHA256: md = EVP_sha256(); break;
    case FTPD_DIGEST_SHA1: md = EVP_sha1(); break;
    case FTPD_DIGEST_MD5: md = EVP_md5(); break;
    case FTPD_DIGEST_CRC32: break;
    default: return -EINVAL;
    }
    EVP_MD_CTX *ctx = NULL;
    if (md) {
        ctx = EVP_MD_CTX_new();
        if (!ctx || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
            EVP_MD_CTX_free(ctx);
            return -EIO;
        }
    }
    unsigned char *buf = malloc(FTPD_DIGEST_CHUNK);
    if (!buf) {
        EVP_MD_CTX_free(ctx);
        return -ENOMEM;
    }
    uint32_t crc = 0;
    int rc = 0;
    off_t pos = start;
    while (pos < end) {
        size_t want = (size_t)(end - pos) < FTPD_DIGEST_CHUNK
                          ? (size_t)(end - pos) : FTPD_DIGEST_CHUNK;
        ssize_t r = pread(fd, buf, want, pos);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (r == 0) {
            end = pos;      /* the file shrank meanwhile */
            break;
        }
        if (ctx) {
            if (EVP_DigestUpdate(ctx, buf, (size_t)r) != 1) {
                rc = -EIO;
                break;
            }
        } else {
            crc = ftpd_crc32(crc, buf, (size_t)r);
        }
        pos += r;
    }
    free(buf);
    if (rc == 0) {
        if (ctx) {
            unsigned char d[EVP_MAX_MD_SIZE];
            unsigned int dl = 0;
            if (EVP_DigestFinal_ex(ctx, d, &dl) != 1)
                rc = -EIO;
            else
                to_hex(d, dl, hex);
        } else {
            unsigned char d[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                                  (unsigned char)(crc >> 8), (unsigned char)crc};
            to_hex(d, 4, hex);
        }
    }
    EVP_MD_CTX_free(ctx);
    if (rc < 0)
        return rc;
    if (end_out)
        *end_out = end;
    return (int)strlen(hex);
}
