/* ftp/server/vfs.c - stub; the resolver is being written. */
#include "vfs.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int ftpd_vfs_init(ftpd_vfs *vfs, const char *home) { (void)home; memset(vfs, 0, sizeof *vfs); vfs->root_fd = -1; return -ENOSYS; }
void ftpd_vfs_close(ftpd_vfs *vfs) { if (vfs->root_fd >= 0) close(vfs->root_fd); vfs->root_fd = -1; }
const char *ftpd_vfs_pwd(const ftpd_vfs *vfs) { return vfs->cwd; }
int ftpd_vfs_virtual_path(const ftpd_vfs *v, const char *p, size_t l, char *o, size_t c) { (void)v; (void)p; (void)l; (void)o; (void)c; return -ENOSYS; }
int ftpd_vfs_chdir(ftpd_vfs *v, const char *p, size_t l) { (void)v; (void)p; (void)l; return -ENOSYS; }
int ftpd_vfs_stat(const ftpd_vfs *v, const char *p, size_t l, struct stat *st) { (void)v; (void)p; (void)l; (void)st; return -ENOSYS; }
int ftpd_vfs_open_read(const ftpd_vfs *v, const char *p, size_t l, struct stat *st) { (void)v; (void)p; (void)l; (void)st; return -ENOSYS; }
int ftpd_vfs_open_write(const ftpd_vfs *v, const char *p, size_t l, enum ftpd_vfs_wmode m, off_t o, ftpd_vfs_wopen *i) { (void)v; (void)p; (void)l; (void)m; (void)o; (void)i; return -ENOSYS; }
int ftpd_vfs_create_unique(const ftpd_vfs *v, const char *d, size_t dl, const char *pre, char *vp, size_t c) { (void)v; (void)d; (void)dl; (void)pre; (void)vp; (void)c; return -ENOSYS; }
int ftpd_vfs_mkdir(const ftpd_vfs *v, const char *p, size_t l) { (void)v; (void)p; (void)l; return -ENOSYS; }
int ftpd_vfs_rmdir(const ftpd_vfs *v, const char *p, size_t l) { (void)v; (void)p; (void)l; return -ENOSYS; }
int ftpd_vfs_unlink(const ftpd_vfs *v, const char *p, size_t l, off_t *f) { (void)v; (void)p; (void)l; (void)f; return -ENOSYS; }
int ftpd_vfs_rename(const ftpd_vfs *v, const char *a, size_t al, const char *b, size_t bl, off_t *f) { (void)v; (void)a; (void)al; (void)b; (void)bl; (void)f; return -ENOSYS; }
int ftpd_vfs_opendir(const ftpd_vfs *v, const char *p, size_t l, ftpd_vfs_dir *d) { (void)v; (void)p; (void)l; d->dir = NULL; return -ENOSYS; }
int ftpd_vfs_readdir(ftpd_vfs_dir *d, const char **n, struct stat *st) { (void)d; (void)n; (void)st; return -ENOSYS; }
void ftpd_vfs_closedir(ftpd_vfs_dir *d) { (void)d; }
