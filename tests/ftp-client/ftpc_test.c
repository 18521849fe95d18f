/* tests/ftp-client/ftpc_test.c - see ftpc_test.h. */
#include "ftpc_test.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PYTHON "/usr/bin/python3" /* Debian's pyftpdlib loads only here */

const char *ftpt_client_path(void)
{
    return ts_build_path("ftp/client/sockserv-ftp");
}

const char *ftpt_script(const char *name)
{
    static __thread char buf[4][4096];
    static __thread unsigned next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/tests/ftp-client/%s", ts_source_root(), name);
    return b;
}

const char *ftpt_path(const char *dir, const char *name)
{
    static __thread char buf[8][4096];
    static __thread unsigned next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", dir, name);
    return b;
}

static void fill_from_addr(ftpt_server *s)
{
    const char *colon = strrchr(s->addr, ':');
    cr_assert(colon, "bad address %s", s->addr);
    s->port = atoi(colon + 1);
    snprintf(s->host, sizeof s->host, "%.*s", (int)(colon - s->addr), s->addr);
    snprintf(s->url, sizeof s->url, "alice:secret@%s", s->addr);
}

void ftpt_server_start(ftpt_server *s, const char *root, const char *const *opts)
{
    char *argv[16];
    int n = 0;
    argv[n++] = PYTHON;
    argv[n++] = (char *)ftpt_script("ftpserver.py");
    argv[n++] = (char *)root;
    for (int i = 0; opts && opts[i] && n < 15; i++)
        argv[n++] = (char *)opts[i];
    argv[n] = NULL;
    memset(s, 0, sizeof *s);
    int rc = ts_start_server(&s->proc, argv, s->addr, sizeof s->addr, NULL);
    cr_assert_eq(rc, 0, "ftpserver.py did not start (%d): %s", rc, s->proc.err);
    fill_from_addr(s);
}

bool ftpt_ftpd_built(void)
{
    return access(ts_build_path("ftp/server/sockserv-ftpd"), X_OK) == 0;
}

void ftpt_ftpd_start(ftpt_server *s, const char *dir, const char *home)
{
    const char *bin = ts_build_path("ftp/server/sockserv-ftpd");
    char data[600];
    snprintf(data, sizeof data, "%s/data", dir);
    cr_assert_eq(mkdir(data, 0750), 0); /* user add wants it to exist */
    char users[700];
    snprintf(users, sizeof users, "%s/users", data);
    /* The users file named explicitly, so no default can put it elsewhere. */
    char *add[] = {(char *)bin, "--data-dir", data, "--users-file", users, "user",
                   "add", "alice", "--home", (char *)home, "--quota", "1G", NULL};
    char out[4096], err[4096];
    int st = ts_run(add, "secret\n", 7, out, sizeof out, err, sizeof err, 30);
    cr_assert_eq(st, 0, "user add failed (%d): %s%s", st, out, err);
    char *argv[] = {(char *)bin, "--data-dir", data, "--users-file", users,
                    "--listen", "127.0.0.1:0", NULL};
    memset(s, 0, sizeof *s);
    int rc = ts_start_server(&s->proc, argv, s->addr, sizeof s->addr, NULL);
    cr_assert_eq(rc, 0, "sockserv-ftpd did not start (%d): %s", rc, s->proc.err);
    fill_from_addr(s);
}

void ftpt_proxy_start(ftpt_server *p, const ftpt_server *target, long cut)
{
    char port[16], cutb[32];
    snprintf(port, sizeof port, "%d", target->port);
    snprintf(cutb, sizeof cutb, "%ld", cut);
    char *argv[] = {PYTHON, (char *)ftpt_script("cutproxy.py"),
                    (char *)target->host, port, cutb, NULL};
    memset(p, 0, sizeof *p);
    int rc = ts_start_server(&p->proc, argv, p->addr, sizeof p->addr, NULL);
    cr_assert_eq(rc, 0, "cutproxy.py did not start (%d): %s", rc, p->proc.err);
    fill_from_addr(p);
}

void ftpt_stop(ftpt_server *s)
{
    if (s->proc.pid > 0)
        ts_stop(&s->proc, SIGTERM, 10);
    s->proc.pid = 0;
}

ftpt_run *ftpt_runv(const char *in, char *const argv[])
{
    ftpt_run *r = calloc(1, sizeof *r);
    cr_assert(r);
    int st = ts_run(argv, in, in ? strlen(in) : 0, r->out, sizeof r->out, r->err,
                    sizeof r->err, 120);
    r->code = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

ftpt_run *ftpt_client(const char *in, const char *arg, ...)
{
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)ftpt_client_path();
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a && n < 63; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    return ftpt_runv(in, argv);
}

void ftpt_make_file(const char *path, uint64_t size, uint32_t seed)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot create %s", path);
    static __thread uint64_t buf[1 << 17]; /* 1 MiB */
    uint64_t x = 0x9E3779B97F4A7C15ull ^ seed;
    while (size > 0) {
        for (size_t i = 0; i < sizeof buf / sizeof buf[0]; i++) {
            x ^= x << 13; /* xorshift64: fast, and no two files alike */
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = x;
        }
        size_t n = size < sizeof buf ? (size_t)size : sizeof buf;
        cr_assert_eq(fwrite(buf, 1, n, f), n);
        size -= n;
    }
    cr_assert_eq(fclose(f), 0);
}

bool ftpt_same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    static __thread char ba[1 << 16], bb[1 << 16];
    while (same) {
        size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
        if (na != nb || memcmp(ba, bb, na) != 0)
            same = false;
        if (na == 0)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

long long ftpt_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

int ftpt_lines(const char *text)
{
    int n = 0;
    for (; *text; text++)
        if (*text == '\n')
            n++;
    return n;
}
