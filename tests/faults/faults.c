/* tests/faults/faults.c - see faults.h. */
#include "faults.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

size_t fl_log_mark(ftx_server *s)
{
    ts_drain(&s->proc);
    return s->proc.err_len;
}

/* The line of text around pos: [*b, *e). */
static void line_around(const char *buf, size_t len, size_t pos, size_t *b,
                        size_t *e)
{
    size_t i = pos;
    while (i > 0 && buf[i - 1] != '\n')
        i--;
    size_t j = pos;
    while (j < len && buf[j] != '\n')
        j++;
    *b = i;
    *e = j;
}

static bool find_line(ftx_server *s, size_t *from, const char **needles,
                      size_t n)
{
    const char *buf = s->proc.err;
    size_t len = s->proc.err_len;
    if (*from > len) /* the capture dropped its oldest half */
        *from = 0;
    size_t pos = *from;
    while (pos < len) {
        size_t b, e;
        line_around(buf, len, pos, &b, &e);
        if (e == len) /* not complete yet */
            return false;
        bool all = true;
        for (size_t i = 0; i < n && all; i++) {
            const char *hit = memmem(buf + b, e - b, needles[i], strlen(needles[i]));
            all = hit != NULL;
        }
        if (all) {
            *from = e + 1;
            return true;
        }
        pos = e + 1;
    }
    return false;
}

bool fl_wait_log(ftx_server *s, size_t *from, double timeout_s, ...)
{
    const char *needles[8];
    size_t n = 0;
    va_list ap;
    va_start(ap, timeout_s);
    for (const char *p; (p = va_arg(ap, const char *)) && n < 8;)
        needles[n++] = p;
    va_end(ap);
    double deadline = ts_now() + timeout_s;
    for (;;) {
        ts_drain(&s->proc);
        if (find_line(s, from, needles, n))
            return true;
        double left = deadline - ts_now();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = s->proc.err_fd, .events = POLLIN};
        poll(&p, 1, left > 0.2 ? 200 : (int)(left * 1000) + 1);
    }
}

int fl_private_tmpfs(const char *dir, const char *size, char *why, size_t cap)
{
    if (unshare(CLONE_NEWNS) < 0) {
        int e = errno;
        snprintf(why, cap, "unshare(CLONE_NEWNS): %s (needs root)", strerror(e));
        return -e;
    }
    /* Mounts made here must not propagate back to the machine's namespace. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        int e = errno;
        snprintf(why, cap, "make / private: %s", strerror(e));
        return -e;
    }
    char opts[64];
    snprintf(opts, sizeof opts, "size=%s,mode=0750", size);
    if (mount("faults-tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
        int e = errno;
        snprintf(why, cap, "mount -t tmpfs -o %s %s: %s", opts, dir, strerror(e));
        return -e;
    }
    return 0;
}

void fl_umount(const char *dir)
{
    if (umount2(dir, 0) < 0 && errno == EBUSY)
        umount2(dir, MNT_DETACH);
}

long long fl_free_bytes(const char *dir)
{
    struct statvfs v;
    if (statvfs(dir, &v) < 0)
        return -1;
    return (long long)v.f_bavail * (long long)v.f_frsize;
}

static bool listening_in(const char *table, int port)
{
    FILE *f = fopen(table, "r");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    if (!fgets(line, sizeof line, f)) { /* header */
        fclose(f);
        return false;
    }
    while (!found && fgets(line, sizeof line, f)) {
        char local[128];
        unsigned st;
        /* "  sl  local_address rem_address   st ..." */
        if (sscanf(line, "%*s %127s %*s %x", local, &st) != 2)
            continue;
        const char *colon = strrchr(local, ':');
        if (colon && st == 0x0A && (int)strtol(colon + 1, NULL, 16) == port)
            found = true;
    }
    fclose(f);
    return found;
}

bool fl_port_listening(int port)
{
    return listening_in("/proc/net/tcp", port) ||
           listening_in("/proc/net/tcp6", port);
}

int fl_run(const char *const *argv, char *out, size_t cap, double timeout_s)
{
    char *o = calloc(1, 65536), *e = calloc(1, 65536);
    cr_assert(o && e);
    int st = ts_run((char *const *)argv, NULL, 0, o, 65536, e, 65536, timeout_s);
    if (out && cap)
        snprintf(out, cap, "%s%s", o, e);
    free(o);
    free(e);
    if (st < 0 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

long long fl_tree_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    long long total = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode))
            total += fl_tree_bytes(p);
        else if (S_ISREG(st.st_mode))
            total += st.st_size;
    }
    closedir(d);
    return total;
}

long long fl_quota_used(ftc *c)
{
    cr_assert_eq(ftc_cmd(c, "SITE QUOTA"), 200, "SITE QUOTA: %s", c->reply);
    long long u = -1;
    cr_assert(sscanf(c->reply, "200 Quota: %lld", &u) == 1, "%s", c->reply);
    return u;
}

/* Inodes of the sockets in LISTEN state in one of the kernel's tables. */
static size_t listen_inodes(const char *table, unsigned long *out, size_t cap,
                            size_t n)
{
    FILE *f = fopen(table, "r");
    if (!f)
        return n;
    char line[512];
    if (fgets(line, sizeof line, f)) {
        while (n < cap && fgets(line, sizeof line, f)) {
            unsigned st;
            unsigned long inode;
            /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
            if (sscanf(line, "%*s %*s %*s %x %*s %*s %*s %*s %*s %lu", &st,
                       &inode) == 2 && st == 0x0A)
                out[n++] = inode;
        }
    }
    fclose(f);
    return n;
}

static int listen_count_of(pid_t pid, const unsigned long *inodes, size_t n);

int fl_listen_count(pid_t pid)
{
    static unsigned long inodes[4096];
    size_t n = listen_inodes("/proc/net/tcp", inodes, 4096, 0);
    n = listen_inodes("/proc/net/tcp6", inodes, 4096, n);
    int count = listen_count_of(pid, inodes, n);
    if (count < 0)
        return count;
    /* forked sessions: the children of every thread of pid */
    char tasks[64];
    snprintf(tasks, sizeof tasks, "/proc/%ld/task", (long)pid);
    DIR *td = opendir(tasks);
    struct dirent *te;
    while (td && (te = readdir(td))) {
        if (te->d_name[0] == '.')
            continue;
        char cp[400];
        snprintf(cp, sizeof cp, "%s/%s/children", tasks, te->d_name);
        FILE *f = fopen(cp, "r");
        long kid;
        while (f && fscanf(f, "%ld", &kid) == 1) {
            int k = listen_count_of((pid_t)kid, inodes, n);
            if (k > 0)
                count += k;
        }
        if (f)
            fclose(f);
    }
    if (td)
        closedir(td);
    return count;
}

static int listen_count_of(pid_t pid, const unsigned long *inodes, size_t n)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%ld/fd", (long)pid);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int count = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char p[320], link[64];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        ssize_t k = readlink(p, link, sizeof link - 1);
        if (k <= 0)
            continue;
        link[k] = '\0';
        unsigned long ino;
        if (sscanf(link, "socket:[%lu]", &ino) != 1)
            continue;
        for (size_t i = 0; i < n; i++)
            if (inodes[i] == ino) {
                count++;
                break;
            }
    }
    closedir(d);
    return count;
}
