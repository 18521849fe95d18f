/* ftp/server/listing.c - stub; the listing formats are being written. */
#include "listing.h"

#include <errno.h>

int ftpd_list_format_long(const struct stat *st, const char *name, time_t now, char *out, size_t cap) { (void)st; (void)name; (void)now; (void)out; (void)cap; return -ENOSYS; }
int ftpd_list_format_mlsx(const struct stat *st, const char *name, const char *type_, unsigned facts, char *out, size_t cap) { (void)st; (void)name; (void)type_; (void)facts; (void)out; (void)cap; return -ENOSYS; }
long ftpd_list_dir(const ftpd_vfs *v, const char *p, size_t l, enum ftpd_list_format f, unsigned fl, unsigned facts, ftpd_list_writer w, void *ctx) { (void)v; (void)p; (void)l; (void)f; (void)fl; (void)facts; (void)w; (void)ctx; return -ENOSYS; }
long ftpd_list_path(const ftpd_vfs *v, const char *p, size_t l, enum ftpd_list_format f, unsigned fl, unsigned facts, ftpd_list_writer w, void *ctx) { (void)v; (void)p; (void)l; (void)f; (void)fl; (void)facts; (void)w; (void)ctx; return -ENOSYS; }
int ftpd_list_mlst(const ftpd_vfs *v, const char *p, size_t l, unsigned facts, char *out, size_t cap) { (void)v; (void)p; (void)l; (void)facts; (void)out; (void)cap; return -ENOSYS; }
int ftpd_list_mdtm(time_t t, char *out, size_t cap) { (void)t; (void)out; (void)cap; return -ENOSYS; }
