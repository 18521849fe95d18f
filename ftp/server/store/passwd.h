/* ftp/server/store/passwd.h - password hashing for the users file.
 *
 * API note.  A password is stored as a self-describing string, so the cost
 * can be raised later without breaking existing entries:
 *     $scrypt$ln=14,r=8,p=1$<salt, base64>$<hash, base64>
 *     $pbkdf2-sha256$i=600000$<salt, base64>$<hash, base64>
 * (base64 is the standard alphabet without '=' padding; 16-byte salt from
 * RAND_bytes, 32-byte hash).  New hashes use scrypt through OpenSSL 3's
 * EVP_KDF at FTPD_PASSWD_DEFAULT_LN (about 50-100 ms and 16 MiB per verify);
 * PBKDF2-HMAC-SHA256 strings are verified too.  Comparison is constant time
 * (CRYPTO_memcmp).  For an unknown user call ftpd_passwd_dummy_verify, which
 * costs the same as a real verify, so timing does not say whether a user
 * exists.
 *
 * Tests: when the environment variable SOCKSERV_FTPD_TEST_FAST_KDF is set to
 * a non-empty value other than "0", new hashes use ln=10 (about 1 ms).  The
 * parameters are stored in the string, so such hashes stay cheap and real
 * ones stay slow; never set it on a real server.
 *
 * Thread-safety: all functions are thread-safe (no shared state besides
 * OpenSSL's, which is thread-safe in 3.x).  Nothing here logs or keeps a
 * copy of a password; buffers holding derived keys are cleansed. */
#ifndef FTPD_PASSWD_H
#define FTPD_PASSWD_H

#include <stdbool.h>
#include <stddef.h>

/* Room for any encoded hash this module writes (with the NUL). */
#define FTPD_PASSWD_HASH_MAX 192
/* log2(N) for new scrypt hashes (N = 16384, r = 8, p = 1: 16 MiB, about
 * 80 ms on the development machine; 15 doubled both to 160 ms / 32 MiB). */
#define FTPD_PASSWD_DEFAULT_LN 14
/* Bounds accepted when parsing (a hostile file must not make a verify
 * allocate gigabytes or run for minutes). */
#define FTPD_PASSWD_MAX_LN 20
#define FTPD_PASSWD_MAX_PBKDF2_ITER 10000000u

/* Hashes password (len bytes; may contain any byte) with a fresh salt and the
 * default parameters into out (cap bytes, NUL-terminated).  Returns 0,
 * -ENOSPC (cap too small) or -EIO (OpenSSL failure). */
int ftpd_passwd_hash(const char *password, size_t len, char *out, size_t cap);

/* Same with explicit scrypt parameters (ln = log2 N).  -EINVAL when out of
 * the accepted bounds. */
int ftpd_passwd_hash_scrypt(const char *password, size_t len, unsigned ln,
                            unsigned r, unsigned p, char *out, size_t cap);
/* PBKDF2-HMAC-SHA256 with iter iterations (at least 100000). */
int ftpd_passwd_hash_pbkdf2(const char *password, size_t len, unsigned iter,
                            char *out, size_t cap);

/* Checks password against encoded.  Returns 1 when it matches, 0 when it
 * does not, -EINVAL when encoded is malformed or out of bounds (the cost
 * of a dummy verify is spent first, so a malformed entry does not stand out
 * either), -EIO on an OpenSSL failure. */
int ftpd_passwd_verify(const char *password, size_t len, const char *encoded);

/* Spends the cost of verifying against an entry with the same parameters as
 * like (an encoded hash, e.g. any existing user's; NULL: the defaults) and
 * always fails.  Use it when the user does not exist. */
void ftpd_passwd_dummy_verify(const char *password, size_t len,
                              const char *like);

/* True when encoded is weaker than what ftpd_passwd_hash writes now (a
 * caller may rehash on the next successful login). */
bool ftpd_passwd_needs_rehash(const char *encoded);

#endif
