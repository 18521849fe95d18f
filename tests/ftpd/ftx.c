/* tests/ftpd/ftx.c - see ftx.h. */
#include "ftx.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

const char *ftx_binary(void)
{
    return ts_build_path("ftp/server/sockserv-ftpd");
}

void ftx_init(ftx_server *s, const char *tag)
{
    memset(s, 0, sizeof *s);
    /* Cheap password hashes for the users the tests create (passwd.h). */
    setenv("SOCKSERV_FTPD_TEST_FAST_KDF", "1", 1);
    signal(SIGPIPE, SIG_IGN);
    ts_mkdtemp(tag, s->dir, sizeof s->dir);
    snprintf(s->data_dir, sizeof s->data_dir, "%s/data", s->dir);
    cr_assert_eq(mkdir(s->data_dir, 0750), 0);
}

void ftx_add_user(ftx_server *s, const char *name, const char *pw,
                  const char *quota)
{
    char home[700];
    snprintf(home, sizeof home, "%s/home/%s", s->data_dir, name);
    char *argv[] = {(char *)ftx_binary(), "--data-dir", s->data_dir, "user",
                    "add", (char *)name, "--home", home, "--quota",
                    (char *)quota, NULL};
    char in[256], out[4096], err[4096];
    snprintf(in, sizeof in, "%s\n", pw);
    int st = ts_run(argv, in, strlen(in), out, sizeof out, err, sizeof err, 30);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "user add %s failed (%d): %s %s", name, st, out, err);
}

void ftx_start(ftx_server *s, const char *const *extra)
{
    ftx_start_wrapped(s, NULL, extra);
}

void ftx_start_wrapped(ftx_server *s, const char *const *wrap,
                       const char *const *extra)
{
    const char *argv[64];
    size_t n = 0;
    bool has_listen = false;
    for (size_t i = 0; extra && extra[i]; i++)
        if (!strcmp(extra[i], "--listen"))
            has_listen = true;
    for (size_t i = 0; wrap && wrap[i] && n < 8; i++)
        argv[n++] = wrap[i];
    argv[n++] = ftx_binary();
    if (!has_listen) {
        argv[n++] = "--listen";
        argv[n++] = "127.0.0.1:0";
    }
    argv[n++] = "--data-dir";
    argv[n++] = s->data_dir;
    argv[n++] = "--set";
    argv[n++] = "login_fail_delay=0.05";
    argv[n++] = "--set";
    argv[n++] = "grace_period=5";
    for (size_t i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    int rc = ts_start_server(&s->proc, (char *const *)argv, s->addr_text,
                             sizeof s->addr_text, &s->addr);
    cr_assert_eq(rc, 0, "server did not start: %d", rc);
    s->port = ss_addr_port(&s->addr);
    s->running = true;
}

void ftx_stop(ftx_server *s, bool rm)
{
    if (s->running) {
        int st = ts_stop(&s->proc, SIGTERM, 15);
        s->running = false;
        cr_expect(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "server exit status %d; stderr:\n%s", st, s->proc.err);
        /* Sanitizer builds: a report in a forked session or a non-fatal
         * UBSan finding does not change the exit status. */
        cr_expect(!strstr(s->proc.err, "runtime error") &&
                      !strstr(s->proc.err, "Sanitizer"),
                  "sanitizer report:\n%s", s->proc.err);
    }
    if (rm && s->dir[0])
        ts_rmtree(s->dir);
}

const char *ftx_home_path(ftx_server *s, const char *user, const char *rel)
{
    static __thread char slots[4][1024];
    static __thread unsigned next;
    char *b = slots[next++ % 4];
    snprintf(b, sizeof slots[0], "%s/home/%s%s%s", s->data_dir, user,
             rel && *rel ? "/" : "", rel ? rel : "");
    return b;
}

int ftc_open_addr(ftc *c, const ss_addr *a)
{
    memset(c, 0, sizeof *c);
    c->addr = *a;
    c->fd = ts_connect(a, SOCK_STREAM, 20);
    cr_assert(c->fd >= 0, "connect: %s", strerror(-c->fd));
    return ftc_reply(c);
}

void ftc_open(ftc *c, ftx_server *s)
{
    int code = ftc_open_addr(c, &s->addr);
    cr_assert_eq(code, 220, "banner: %s", c->reply);
}

void ftc_open_from(ftc *c, ftx_server *s, const char *src_ip)
{
    memset(c, 0, sizeof *c);
    c->addr = s->addr;
    c->fd = ts_connect_from(src_ip, &s->addr, 20);
    cr_assert(c->fd >= 0, "connect from %s: %s", src_ip, strerror(-c->fd));
    cr_assert_eq(ftc_reply(c), 220, "banner: %s", c->reply);
}

void ftc_close(ftc *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

int ftc_reply(ftc *c)
{
    size_t len = 0;
    char line[4096];
    c->reply[0] = '\0';
    c->code = -1;
    bool multi = false;
    char first[4] = "";
    for (;;) {
        ssize_t n = ts_read_line(c->fd, line, sizeof line);
        if (n <= 0)
            return -1;
        if (len + (size_t)n < sizeof c->reply) {
            memcpy(c->reply + len, line, (size_t)n + 1);
            len += (size_t)n;
        }
        if (!first[0]) {
            if (n < 4)
                return -1;
            memcpy(first, line, 3);
            first[3] = '\0';
            multi = line[3] == '-';
            if (!multi)
                break;
            continue;
        }
        if (!strncmp(line, first, 3) && line[3] == ' ')
            break;
    }
    c->code = atoi(first);
    return c->code;
}

void ftc_send_raw(ftc *c, const void *buf, size_t n)
{
    cr_assert_eq(ts_write_full(c->fd, buf, n), 0);
}

int ftc_cmd(ftc *c, const char *fmt, ...)
{
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    memcpy(line + n, "\r\n", 2);
    if (ts_write_full(c->fd, line, (size_t)n + 2) < 0)
        return -1;
    return ftc_reply(c);
}

void ftc_login(ftc *c, const char *user, const char *pw)
{
    cr_assert_eq(ftc_cmd(c, "USER %s", user), 331, "USER: %s", c->reply);
    cr_assert_eq(ftc_cmd(c, "PASS %s", pw), 230, "PASS: %s", c->reply);
}

static int connect_port(ftc *c, int port)
{
    ss_addr a;
    memcpy(&a, &c->addr, sizeof a);
    struct sockaddr *sa = (struct sockaddr *)&a.sa;
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
    int fd = ts_connect(&a, SOCK_STREAM, 20);
    cr_assert(fd >= 0, "data connect: %s", strerror(-fd));
    return fd;
}

int ftc_epsv(ftc *c)
{
    cr_assert_eq(ftc_cmd(c, "EPSV"), 229, "EPSV: %s", c->reply);
    char *p = strstr(c->reply, "(|||");
    cr_assert(p, "EPSV reply: %s", c->reply);
    return connect_port(c, atoi(p + 4));
}

int ftc_pasv(ftc *c)
{
    cr_assert_eq(ftc_cmd(c, "PASV"), 227, "PASV: %s", c->reply);
    unsigned h[4], p1, p2;
    char *p = strchr(c->reply, '(');
    cr_assert(p && sscanf(p, "(%u,%u,%u,%u,%u,%u)", &h[0], &h[1], &h[2], &h[3],
                          &p1, &p2) == 6, "PASV reply: %s", c->reply);
    return connect_port(c, (int)(p1 * 256 + p2));
}

int ftc_put(ftc *c, const char *cmd, const void *data, size_t n)
{
    int d = ftc_epsv(c);
    int code = ftc_cmd(c, "%s", cmd);
    if (code != 150) {
        close(d);
        return code;
    }
    ts_write_full(d, data, n); /* may fail (quota): the reply tells */
    close(d);
    return ftc_reply(c);
}

int ftc_get(ftc *c, const char *cmd, char **out, size_t *n)
{
    int d = ftc_epsv(c);
    int code = ftc_cmd(c, "%s", cmd);
    *out = NULL;
    *n = 0;
    if (code != 150) {
        close(d);
        return code;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t k = read(d, buf + len, cap - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    close(d);
    *out = buf;
    *n = len;
    return ftc_reply(c);
}

void ftx_fill(void *buf, size_t n, unsigned seed)
{
    unsigned char *b = buf;
    unsigned x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (unsigned char)x;
    }
}

void ftx_write_file(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
    cr_assert_eq(ts_write_full(fd, data, n), 0);
    close(fd);
}

char *ftx_read_file(const char *path, size_t *n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
    struct stat st;
    fstat(fd, &st);
    char *buf = malloc((size_t)st.st_size + 1);
    ssize_t k = ts_read_full(fd, buf, (size_t)st.st_size);
    close(fd);
    cr_assert_eq(k, st.st_size);
    buf[k] = '\0';
    *n = (size_t)k;
    return buf;
}

off_t ftx_file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    return st.st_size;
}

void ftx_expect_same_files(const char *a, const char *b)
{
    size_t na, nb;
    char *x = ftx_read_file(a, &na), *y = ftx_read_file(b, &nb);
    cr_expect(na == nb && !memcmp(x, y, na), "%s (%zu) and %s (%zu) differ", a,
              na, b, nb);
    free(x);
    free(y);
}

void ftx_make_file(const char *path, size_t n, unsigned seed)
{
    char *d = malloc(n);
    cr_assert_not_null(d);
    ftx_fill(d, n, seed);
    ftx_write_file(path, d, n);
    free(d);
}
