/* ftp/server/quota.c - stub; the shared usage table is being written. */
#include "quota.h"

#include <errno.h>

int ftpd_quota_table_create(ftpd_quota_table **out, size_t slots) { (void)slots; *out = NULL; return -ENOSYS; }
void ftpd_quota_table_destroy(ftpd_quota_table *t) { (void)t; }
int ftpd_quota_attach(ftpd_quota_table *t, const char *user, uint64_t limit, const char *home, ftpd_quota *q) { (void)t; (void)user; (void)limit; (void)home; q->table = NULL; q->slot = -1; return -ENOSYS; }
void ftpd_quota_detach(ftpd_quota *q) { q->slot = -1; }
int ftpd_quota_reserve(ftpd_quota *q, uint64_t want, uint64_t *granted) { (void)q; (void)want; *granted = 0; return -ENOSYS; }
void ftpd_quota_release(ftpd_quota *q, uint64_t n) { (void)q; (void)n; }
void ftpd_quota_charge(ftpd_quota *q, uint64_t n) { (void)q; (void)n; }
int ftpd_quota_get(const ftpd_quota *q, uint64_t *used, uint64_t *limit) { (void)q; (void)used; (void)limit; return -ENOSYS; }
int ftpd_quota_walk(const char *home, uint64_t *bytes) { (void)home; *bytes = 0; return -ENOSYS; }
