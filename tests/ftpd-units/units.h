/* tests/ftpd-units/units.h - small file helpers shared by the lower-layer
 * suites (temp trees, whole-file read/write, running a reference tool). */
#ifndef FTPD_UNITS_H
#define FTPD_UNITS_H

#include <stddef.h>
#include <sys/types.h>

#include <sockserv/address.h>

/* Fresh temp directory for one test (ts_mkdtemp); u_cleanup removes it. */
char *u_tmpdir(const char *tag, char *buf, size_t cap);
void u_cleanup(const char *dir);
/* snprintf into buf, asserting it fits; returns buf. */
char *u_path(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes len bytes (len == (size_t)-1: strlen) to path, creating it 0644. */
void u_write(const char *path, const void *data, size_t len);
/* Reads at most cap-1 bytes of path, NUL-terminates; returns the length or -errno. */
ssize_t u_read(const char *path, char *buf, size_t cap);
/* Reads an fd from its current offset to EOF (cap-1 bytes max). */
ssize_t u_read_fd(int fd, char *buf, size_t cap);
/* An IPv4 client address (port 1234) from its text. */
ss_addr u_ipv4(const char *text);
/* mkdir -p */
void u_mkdirs(const char *path);
/* Runs argv and captures stdout; asserts exit 0.  Returns out. */
char *u_run(char *const argv[], const char *in, char *out, size_t cap);

#endif
