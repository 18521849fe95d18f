/* tests/ftpd-units/units.c - see units.h. */
#include "units.h"

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

char *u_tmpdir(const char *tag, char *buf, size_t cap)
{
    char *d = ts_mkdtemp(tag, buf, cap);
    cr_assert(d && *d, "mkdtemp");
    return d;
}

void u_cleanup(const char *dir)
{
    if (dir && *dir)
        ts_rmtree(dir);
}

char *u_path(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < cap, "path too long for the test buffer");
    return buf;
}

void u_write(const char *path, const void *data, size_t len)
{
    if (len == (size_t)-1)
        len = strlen(data);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        cr_assert(w > 0, "write %s", path);
        p += w;
        len -= (size_t)w;
    }
    close(fd);
}

ssize_t u_read_fd(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

ssize_t u_read(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = u_read_fd(fd, buf, cap);
    close(fd);
    return n;
}

ss_addr u_ipv4(const char *text)
{
    ss_addr a;
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(1234)};
    cr_assert_eq(inet_pton(AF_INET, text, &in.sin_addr), 1, "%s", text);
    ss_addr_set(&a, (struct sockaddr *)&in, sizeof in);
    return a;
}

void u_mkdirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    cr_assert(n < sizeof tmp);
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0755) < 0)
                cr_assert(errno == EEXIST, "mkdir %s: %s", tmp, strerror(errno));
            tmp[i] = c;
        }
    }
}

char *u_run(char *const argv[], const char *in, char *out, size_t cap)
{
    int st = ts_run(argv, in, in ? strlen(in) : 0, out, cap, NULL, 0, 60);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed (status %d)",
              argv[0], st);
    return out;
}
