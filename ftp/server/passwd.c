/* ftp/server/passwd.c - stub; the KDF code is being written. */
#include "passwd.h"

#include <errno.h>

int ftpd_passwd_hash(const char *pw, size_t len, char *out, size_t cap) { (void)pw; (void)len; (void)out; (void)cap; return -ENOSYS; }
int ftpd_passwd_hash_scrypt(const char *pw, size_t len, unsigned ln, unsigned r, unsigned p, char *out, size_t cap) { (void)pw; (void)len; (void)ln; (void)r; (void)p; (void)out; (void)cap; return -ENOSYS; }
int ftpd_passwd_hash_pbkdf2(const char *pw, size_t len, unsigned iter, char *out, size_t cap) { (void)pw; (void)len; (void)iter; (void)out; (void)cap; return -ENOSYS; }
int ftpd_passwd_verify(const char *pw, size_t len, const char *enc) { (void)pw; (void)len; (void)enc; return -ENOSYS; }
void ftpd_passwd_dummy_verify(const char *pw, size_t len, const char *like) { (void)pw; (void)len; (void)like; }
bool ftpd_passwd_needs_rehash(const char *enc) { (void)enc; return false; }
