/* tests/support/support.c - see support.h. */
#include "support.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

double ts_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *ts_build_root(void)
{
    const char *r = getenv("SOCKSERV_BUILD_ROOT");
    return r ? r : ".";
}

const char *ts_source_root(void)
{
    const char *r = getenv("SOCKSERV_SOURCE_ROOT");
    return r ? r : "..";
}

static const char *join(const char *root, const char *rel)
{
    static __thread char slots[8][4096];
    static __thread unsigned next;
    char *buf = slots[next++ % 8];
    snprintf(buf, sizeof slots[0], "%s/%s", root, rel);
    return buf;
}

const char *ts_build_path(const char *rel) { return join(ts_build_root(), rel); }
const char *ts_source_path(const char *rel) { return join(ts_source_root(), rel); }

int ts_spawn(ts_proc *p, char *const argv[], char *const env[], int stdin_fd,
             bool capture_err)
{
    int out[2], err[2] = {-1, -1};
    memset(p, 0, sizeof *p);
    p->status = -1;
    p->err_fd = -1;
    if (pipe2(out, O_CLOEXEC) < 0)
        return -errno;
    if (capture_err && pipe2(err, O_CLOEXEC) < 0) {
        int e = -errno;
        close(out[0]);
        close(out[1]);
        return e;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = -errno;
        close(out[0]);
        close(out[1]);
        if (capture_err) {
            close(err[0]);
            close(err[1]);
        }
        return e;
    }
    if (pid == 0) {
        int in = stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY);
        dup2(in, 0);
        dup2(out[1], 1);
        if (capture_err)
            dup2(err[1], 2);
        setpgid(0, 0);
        signal(SIGPIPE, SIG_DFL);
        for (size_t i = 0; env && env[i]; i++)
            putenv(env[i]);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(out[1]);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    p->out_fd = out[0];
    if (capture_err) {
        close(err[1]);
        fcntl(err[0], F_SETFL, O_NONBLOCK);
        p->err_fd = err[0];
    }
    p->pid = pid;
    return 0;
}

static void append(int fd, char *buf, size_t *len, size_t cap)
{
    for (;;) {
        if (*len + 1 >= cap) { /* full: keep the tail, drop the oldest half */
            size_t keep = cap / 2;
            memmove(buf, buf + *len - keep, keep);
            *len = keep;
        }
        ssize_t n = read(fd, buf + *len, cap - 1 - *len);
        if (n <= 0)
            break;
        *len += (size_t)n;
    }
    buf[*len] = '\0';
}

void ts_drain(ts_proc *p)
{
    if (p->out_fd >= 0)
        append(p->out_fd, p->out, &p->out_len, sizeof p->out);
    if (p->err_fd >= 0)
        append(p->err_fd, p->err, &p->err_len, sizeof p->err);
}

static bool reap(ts_proc *p, int flags)
{
    if (p->status != -1)
        return true;
    int st;
    pid_t r = waitpid(p->pid, &st, flags);
    if (r == p->pid) {
        p->status = st;
        return true;
    }
    return false;
}

bool ts_find_line(const ts_proc *p, const char *prefix, int nth, char *rest,
                  size_t cap)
{
    size_t plen = strlen(prefix);
    int seen = 0;
    for (const char *line = p->out; *line;) {
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        if ((size_t)(nl - line) >= plen && memcmp(line, prefix, plen) == 0 &&
            ++seen == nth) {
            size_t n = (size_t)(nl - line) - plen;
            if (rest && cap) {
                if (n >= cap)
                    n = cap - 1;
                memcpy(rest, line + plen, n);
                rest[n] = '\0';
            }
            return true;
        }
        line = nl + 1;
    }
    return false;
}

int ts_wait_line(ts_proc *p, const char *prefix, char *rest, size_t cap,
                 double timeout_s)
{
    double deadline = ts_now() + timeout_s;
    for (;;) {
        ts_drain(p);
        if (ts_find_line(p, prefix, 1, rest, cap))
            return 0;
        if (reap(p, WNOHANG)) {
            ts_drain(p);
            return -ECHILD;
        }
        double left = deadline - ts_now();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd pf[2] = {{p->out_fd, POLLIN, 0}, {p->err_fd, POLLIN, 0}};
        int wait_ms = left > 0.1 ? 100 : (int)(left * 1000) + 1;
        poll(pf, p->err_fd >= 0 ? 2 : 1, wait_ms);
    }
}

int ts_start_server(ts_proc *p, char *const argv[], char *addr_text,
                    size_t cap, ss_addr *addr)
{
    int rc = ts_spawn(p, argv, NULL, -1, true);
    if (rc < 0)
        return rc;
    rc = ts_wait_line(p, "listening on ", addr_text, cap, 10.0);
    if (rc < 0) {
        fprintf(stderr, "server %s did not get ready (%d); stderr:\n%s\n",
                argv[0], rc, p->err);
        ts_stop(p, SIGKILL, 5);
        return rc;
    }
    if (addr && ss_addr_parse(addr, addr_text, NULL) < 0)
        return -EINVAL;
    return 0;
}

int ts_stop(ts_proc *p, int sig, double timeout_s)
{
    if (p->pid <= 0)
        return -ECHILD;
    if (sig > 0 && p->status == -1)
        kill(p->pid, sig);
    double deadline = ts_now() + timeout_s;
    while (!reap(p, WNOHANG)) {
        ts_drain(p);
        if (ts_now() > deadline) {
            kill(-p->pid, SIGKILL);
            kill(p->pid, SIGKILL);
            reap(p, 0);
            ts_drain(p);
            return -ETIMEDOUT;
        }
        struct pollfd pf = {p->out_fd, POLLIN, 0};
        poll(&pf, 1, 20);
    }
    ts_drain(p);
    if (p->out_fd >= 0)
        close(p->out_fd);
    if (p->err_fd >= 0)
        close(p->err_fd);
    p->out_fd = p->err_fd = -1;
    return p->status;
}

static void set_timeouts(int fd, double timeout_s)
{
    struct timeval tv = {(time_t)timeout_s,
                         (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int ts_connect(const ss_addr *addr, int type, double timeout_s)
{
    int fd = socket(addr->sa.ss_family, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (addr->sa.ss_family == AF_UNIX && type == SOCK_DGRAM) {
        static int seq;
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(un.sun_path, sizeof un.sun_path, "%s/ts-cli-%d-%d.sock", tmp,
                 (int)getpid(), __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
        unlink(un.sun_path);
        if (bind(fd, (struct sockaddr *)&un, sizeof un) < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
    }
    set_timeouts(fd, timeout_s);
    if (connect(fd, (const struct sockaddr *)&addr->sa, addr->len) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

int ts_connect_from(const char *src_ip, const ss_addr *addr, double timeout_s)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, src_ip, &sin.sin_addr) != 1)
        return -EINVAL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    set_timeouts(fd, timeout_s);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
        connect(fd, (const struct sockaddr *)&addr->sa, addr->len) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

ssize_t ts_read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int ts_write_full(int fd, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = send(fd, (const char *)buf + done, n - done, MSG_NOSIGNAL);
        if (r < 0 && errno == ENOTSOCK)
            r = write(fd, (const char *)buf + done, n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        done += (size_t)r;
    }
    return 0;
}

ssize_t ts_read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        if (buf[n++] == '\n')
            break;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

char *ts_mkdtemp(const char *tag, char *buf, size_t cap)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(buf, cap, "%s/sockserv-%s-XXXXXX", tmp, tag);
    if (!mkdtemp(buf))
        buf[0] = '\0';
    return buf;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path);
    return unlink(path);
}

int ts_rmtree(const char *path)
{
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -errno;
}

int ts_run(char *const argv[], const char *in, size_t in_len, char *out,
           size_t out_cap, char *err, size_t err_cap, double timeout_s)
{
    int inp[2];
    if (pipe2(inp, O_CLOEXEC) < 0)
        return -errno;
    ts_proc *p = calloc(1, sizeof *p);
    if (!p) {
        close(inp[0]);
        close(inp[1]);
        return -ENOMEM;
    }
    int rc = ts_spawn(p, argv, NULL, inp[0], true);
    close(inp[0]);
    if (rc < 0) {
        close(inp[1]);
        free(p);
        return rc;
    }
    /* Feed stdin while draining output so neither side blocks. */
    size_t fed = 0;
    double deadline = ts_now() + timeout_s;
    fcntl(inp[1], F_SETFL, O_NONBLOCK);
    signal(SIGPIPE, SIG_IGN);
    while (in && fed < in_len && ts_now() < deadline) {
        ssize_t w = write(inp[1], in + fed, in_len - fed);
        if (w > 0)
            fed += (size_t)w;
        else if (w < 0 && errno != EAGAIN && errno != EINTR)
            break;
        ts_drain(p);
        struct pollfd pf = {inp[1], POLLOUT, 0};
        poll(&pf, 1, 20);
    }
    close(inp[1]);
    double left = deadline - ts_now();
    rc = ts_stop(p, 0, left > 0 ? left : 0.1);
    if (out && out_cap) {
        snprintf(out, out_cap, "%s", p->out);
    }
    if (err && err_cap) {
        snprintf(err, err_cap, "%s", p->err);
    }
    free(p);
    return rc;
}

int ts_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -errno;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the DIR's own descriptor */
}

bool ts_sha256_file(const char *path, char hex[65])
{
    hex[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = buf && md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    ssize_t n = 0;
    while (ok && (n = read(fd, buf, cap)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0 && EVP_DigestUpdate(md, buf, (size_t)n);
    }
    close(fd);
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    ok = ok && EVP_DigestFinal_ex(md, d, &dl) && dl == 32;
    EVP_MD_CTX_free(md);
    free(buf);
    if (!ok)
        return false;
    for (unsigned i = 0; i < dl; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return true;
}
