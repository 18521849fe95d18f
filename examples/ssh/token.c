/* examples/ssh/token.c - see token.h. */
#include "token.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

long ssh_token_read_file(const char *path, char *buf, size_t cap, char *msg,
                         size_t msgcap)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        int e = errno;
        snprintf(msg, msgcap, "%s: %s", path, strerror(e));
        return -e;
    }
    /* One byte more than the maximum, to tell "exactly max" from "longer". */
    char line[SSH_TOKEN_MAX + 2];
    size_t n = fread(line, 1, sizeof line, f);
    int rerr = ferror(f) ? errno : 0;
    fclose(f);
    if (rerr) {
        snprintf(msg, msgcap, "%s: %s", path, strerror(rerr));
        return -rerr;
    }
    size_t len = 0;
    while (len < n && line[len] != '\n' && line[len] != '\r')
        len++;
    if (len > SSH_TOKEN_MAX || len + 1 > cap) {
        snprintf(msg, msgcap, "%s: token longer than %d bytes", path,
                 SSH_TOKEN_MAX);
        return -EMSGSIZE;
    }
    if (len == 0) {
        snprintf(msg, msgcap, "%s: the token is empty", path);
        return -EINVAL;
    }
    memcpy(buf, line, len);
    buf[len] = '\0';
    return (long)len;
}

bool ssh_token_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    unsigned char da[32], db[32];
    unsigned int la = 0, lb = 0;
    /* Hashing first makes the comparison independent of the lengths too;
     * a failing digest compares unequal, never equal. */
    if (!EVP_Digest(a, alen, da, &la, EVP_sha256(), NULL) ||
        !EVP_Digest(b, blen, db, &lb, EVP_sha256(), NULL) || la != 32 ||
        lb != 32)
        return false;
    return CRYPTO_memcmp(da, db, sizeof da) == 0;
}
