/* ftp/server/users.c - stub; the users file code is being written. */
#include "users.h"

#include <errno.h>
#include <string.h>

int ftpd_users_init(ftpd_users *u, const char *path, char *err, size_t cap) { memset(u, 0, sizeof *u); pthread_mutex_init(&u->lock, NULL); (void)path; (void)err; (void)cap; return -ENOSYS; }
void ftpd_users_close(ftpd_users *u) { pthread_mutex_destroy(&u->lock); }
int ftpd_users_reload(ftpd_users *u, bool force, char *err, size_t cap) { (void)u; (void)force; (void)err; (void)cap; return -ENOSYS; }
int ftpd_users_lookup(ftpd_users *u, const char *name, ftpd_user *out) { (void)u; (void)name; (void)out; return -ENOSYS; }
int ftpd_users_reference_hash(ftpd_users *u, char *out, size_t cap) { (void)u; (void)out; (void)cap; return -ENOSYS; }
size_t ftpd_users_count(ftpd_users *u) { (void)u; return 0; }
int ftpd_users_at(ftpd_users *u, size_t i, ftpd_user *out) { (void)u; (void)i; (void)out; return -ENOSYS; }
void ftpd_users_last_error(ftpd_users *u, char *out, size_t cap) { (void)u; if (cap) out[0] = 0; }
int ftpd_users_parse_file(const char *path, ftpd_user **out, size_t *count, char *err, size_t cap) { (void)path; (void)out; (void)count; (void)err; (void)cap; return -ENOSYS; }
int ftpd_users_file_add(const char *path, const ftpd_user *user, char *err, size_t cap) { (void)path; (void)user; (void)err; (void)cap; return -ENOSYS; }
int ftpd_users_file_set_hash(const char *path, const char *name, const char *hash, char *err, size_t cap) { (void)path; (void)name; (void)hash; (void)err; (void)cap; return -ENOSYS; }
int ftpd_users_file_del(const char *path, const char *name, char *err, size_t cap) { (void)path; (void)name; (void)err; (void)cap; return -ENOSYS; }
int ftpd_user_name_check(const char *name) { (void)name; return -ENOSYS; }
int ftpd_user_home_check(const char *home) { (void)home; return -ENOSYS; }
int ftpd_user_home_resolve(const char *up, const char *home, char *out, size_t cap) { (void)up; (void)home; (void)out; (void)cap; return -ENOSYS; }
int ftpd_size_parse(const char *s, uint64_t *out) { (void)s; (void)out; return -ENOSYS; }
int ftpd_size_format(uint64_t v, char *out, size_t cap) { (void)v; (void)out; (void)cap; return -ENOSYS; }
