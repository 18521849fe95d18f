/* ftp/server/store/passwd.c - slow salted password hashes (see passwd.h). */
#include "store/passwd.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define SALT_LEN 16
#define KEY_LEN 32
#define MAX_DECODED 64
#define TEST_LN 10
/* scrypt needs 128 * r * N bytes; refuse entries that would need more. */
#define SCRYPT_MAX_MEM (256u * 1024 * 1024)
#define PBKDF2_MIN_ITER 100000u
#define PBKDF2_DEFAULT_ITER 600000u

enum kdf { KDF_SCRYPT, KDF_PBKDF2 };

typedef struct params {
    enum kdf kdf;
    unsigned ln, r, p;     /* scrypt */
    unsigned iter;         /* pbkdf2 */
    unsigned char salt[MAX_DECODED];
    size_t salt_len;
    unsigned char key[MAX_DECODED];
    size_t key_len;
} params;

/* ---- base64, standard alphabet, no padding ---- */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = b64[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = b64[v & 63];
    }
    out[o] = '\0';
    return o;
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

/* Decodes n chars of in; -1 on a bad character, length or overflow. */
static long b64_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
    if (n % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)o;
}

/* ---- the KDFs ---- */

static int derive(const params *pr, const char *pw, size_t len,
                  unsigned char *key, size_t key_len)
{
    if (pr->kdf == KDF_PBKDF2) {
        if (len > INT_MAX)
            return -EINVAL;
        int ok = PKCS5_PBKDF2_HMAC(len ? pw : "", (int)len, pr->salt,
                                   (int)pr->salt_len, (int)pr->iter,
                                   EVP_sha256(), (int)key_len, key);
        return ok == 1 ? 0 : -EIO;
    }
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
    if (!kdf)
        return -EIO;
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (!ctx)
        return -EIO;
    uint64_t n = (uint64_t)1 << pr->ln;
    uint32_t r = pr->r, p = pr->p;
    uint64_t maxmem = (uint64_t)SCRYPT_MAX_MEM * 2;
    OSSL_PARAM ps[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
                                          (void *)(len ? pw : ""), len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                          (void *)pr->salt, pr->salt_len),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
        OSSL_PARAM_construct_end(),
    };
    int ok = EVP_KDF_derive(ctx, key, key_len, ps);
    EVP_KDF_CTX_free(ctx);
    return ok == 1 ? 0 : -EIO;
}

static bool scrypt_params_ok(unsigned ln, unsigned r, unsigned p)
{
    if (ln < 1 || ln > FTPD_PASSWD_MAX_LN || r < 1 || r > 32 || p < 1 || p > 16)
        return false;
    return 128ull * r * ((uint64_t)1 << ln) <= SCRYPT_MAX_MEM &&
           (uint64_t)r * p < (1u << 30);
}

static unsigned default_ln(void)
{
    const char *e = getenv("SOCKSERV_FTPD_TEST_FAST_KDF");
    if (e && *e && strcmp(e, "0") != 0)
        return TEST_LN;
    return FTPD_PASSWD_DEFAULT_LN;
}

static void default_params(params *pr)
{
    memset(pr, 0, sizeof *pr);
    pr->kdf = KDF_SCRYPT;
    pr->ln = default_ln();
    pr->r = 8;
    pr->p = 1;
    pr->salt_len = SALT_LEN;
    pr->key_len = KEY_LEN;
}

/* Parses "$scrypt$ln=15,r=8,p=1$salt$hash" or "$pbkdf2-sha256$i=N$salt$hash". */
static int parse(const char *enc, params *pr)
{
    memset(pr, 0, sizeof *pr);
    if (!enc)
        return -EINVAL;
    const char *rest;
    if (strncmp(enc, "$scrypt$", 8) == 0) {
        pr->kdf = KDF_SCRYPT;
        rest = enc + 8;
        int used = 0;
        if (sscanf(rest, "ln=%u,r=%u,p=%u%n", &pr->ln, &pr->r, &pr->p, &used) != 3 ||
            rest[used] != '$' || !scrypt_params_ok(pr->ln, pr->r, pr->p))
            return -EINVAL;
        rest += used + 1;
    } else if (strncmp(enc, "$pbkdf2-sha256$", 15) == 0) {
        pr->kdf = KDF_PBKDF2;
        rest = enc + 15;
        int used = 0;
        if (sscanf(rest, "i=%u%n", &pr->iter, &used) != 1 || rest[used] != '$' ||
            pr->iter < 1000 || pr->iter > FTPD_PASSWD_MAX_PBKDF2_ITER)
            return -EINVAL;
        rest += used + 1;
    } else {
        return -EINVAL;
    }
    const char *dollar = strchr(rest, '$');
    if (!dollar)
        return -EINVAL;
    long sl = b64_decode(rest, (size_t)(dollar - rest), pr->salt, sizeof pr->salt);
    const char *h = dollar + 1;
    long kl = b64_decode(h, strlen(h), pr->key, sizeof pr->key);
    if (sl < 8 || kl < 16)
        return -EINVAL;
    pr->salt_len = (size_t)sl;
    pr->key_len = (size_t)kl;
    return 0;
}

static int encode(const params *pr, char *out, size_t cap)
{
    char salt[MAX_DECODED * 2], key[MAX_DECODED * 2];
    b64_encode(pr->salt, pr->salt_len, salt);
    b64_encode(pr->key, pr->key_len, key);
    int n;
    if (pr->kdf == KDF_SCRYPT)
        n = snprintf(out, cap, "$scrypt$ln=%u,r=%u,p=%u$%s$%s", pr->ln, pr->r,
                     pr->p, salt, key);
    else
        n = snprintf(out, cap, "$pbkdf2-sha256$i=%u$%s$%s", pr->iter, salt, key);
    if (n < 0 || (size_t)n >= cap) {
        if (cap)
            out[0] = '\0';
        return -ENOSPC;
    }
    return 0;
}

static int hash_with(params *pr, const char *pw, size_t len, char *out, size_t cap)
{
    if (RAND_bytes(pr->salt, (int)pr->salt_len) != 1)
        return -EIO;
    int rc = derive(pr, pw, len, pr->key, pr->key_len);
    if (rc == 0)
        rc = encode(pr, out, cap);
    OPENSSL_cleanse(pr->key, sizeof pr->key);
    return rc;
}

int ftpd_passwd_hash(const char *password, size_t len, char *out, size_t cap)
{
    params pr;
    default_params(&pr);
    return hash_with(&pr, password, len, out, cap);
}

int ftpd_passwd_hash_scrypt(const char *password, size_t len, unsigned ln,
                            unsigned r, unsigned p, char *out, size_t cap)
{
    if (!scrypt_params_ok(ln, r, p))
        return -EINVAL;
    params pr;
    default_params(&pr);
    pr.ln = ln;
    pr.r = r;
    pr.p = p;
    return hash_with(&pr, password, len, out, cap);
}

int ftpd_passwd_hash_pbkdf2(const char *password, size_t len, unsigned iter,
                            char *out, size_t cap)
{
    if (iter < PBKDF2_MIN_ITER || iter > FTPD_PASSWD_MAX_PBKDF2_ITER)
        return -EINVAL;
    params pr;
    default_params(&pr);
    pr.kdf = KDF_PBKDF2;
    pr.iter = iter;
    return hash_with(&pr, password, len, out, cap);
}

/* Derives with pr's cost and a fixed salt, and throws the result away. */
static void spend(const params *like, const char *pw, size_t len)
{
    params pr = *like;
    memset(pr.salt, 0x5a, sizeof pr.salt);
    if (pr.salt_len == 0)
        pr.salt_len = SALT_LEN;
    if (pr.key_len == 0)
        pr.key_len = KEY_LEN;
    unsigned char key[MAX_DECODED], zero[MAX_DECODED] = {0};
    if (derive(&pr, pw, len, key, pr.key_len) == 0)
        (void)CRYPTO_memcmp(key, zero, pr.key_len);
    OPENSSL_cleanse(key, sizeof key);
}

int ftpd_passwd_verify(const char *password, size_t len, const char *encoded)
{
    params pr;
    if (parse(encoded, &pr) < 0) {
        params d;
        default_params(&d);
        spend(&d, password, len);
        return -EINVAL;
    }
    unsigned char key[MAX_DECODED];
    int rc = derive(&pr, password, len, key, pr.key_len);
    if (rc == 0)
        rc = CRYPTO_memcmp(key, pr.key, pr.key_len) == 0 ? 1 : 0;
    OPENSSL_cleanse(key, sizeof key);
    return rc;
}

void ftpd_passwd_dummy_verify(const char *password, size_t len, const char *like)
{
    params pr;
    if (!like || parse(like, &pr) < 0)
        default_params(&pr);
    spend(&pr, password, len);
}

bool ftpd_passwd_needs_rehash(const char *encoded)
{
    params pr;
    if (parse(encoded, &pr) < 0)
        return true;
    if (pr.kdf != KDF_SCRYPT)
        return true;
    return pr.ln < default_ln() || pr.r < 8;
}
