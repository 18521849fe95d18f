/* upgrade.c - fork+exec of a new server process that inherits the
 * listening sockets (as socket activation passes them) and reports READY=1
 * on a notify socket of ours. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sockserv/activation.h>
#include <sockserv/upgrade.h>

#include "internal.h"

extern char **environ;

/* How long a wait sleeps at most between looks at whether the new process
 * still runs (its exit sends nothing on the socket). */
#define CHILD_LOOK_MS 50
#define PID_DIGITS 20

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The variables this file sets: inherited values must not leak through. */
static bool ours(const char *entry)
{
    static const char *const names[] = {
        "LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=", "LISTEN_PIDFDID=",
        "NOTIFY_SOCKET=", SS_NOTIFY_NEXT_ENV "=", "WATCHDOG_USEC=",
        "WATCHDOG_PID=",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strncmp(entry, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

/* Everything the child needs, made before fork(): between fork and exec
 * only async-signal-safe calls are allowed (no malloc, no printf). */
struct plan {
    char **envp;
    size_t nenv;
    char *listen_pid;   /* "LISTEN_PID=" + room for the digits */
    char *watchdog_pid; /* "WATCHDOG_PID=" + room, or NULL */
    char *strings[8];   /* what was allocated for envp, freed after */
};

static void plan_free(struct plan *pl)
{
    free(pl->envp);
    for (size_t i = 0; i < sizeof pl->strings / sizeof pl->strings[0]; i++)
        free(pl->strings[i]);
}

static char *add_var(struct plan *pl, size_t slot, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static char *add_var(struct plan *pl, size_t slot, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)len + PID_DIGITS + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)len + 1, fmt, ap);
    va_end(ap);
    pl->strings[slot] = s;
    pl->envp[pl->nenv++] = s;
    return s;
}

/* The service manager's address as $NOTIFY_SOCKET spells it. */
static void manager_address(const ss_notifier *m, char *out, size_t cap)
{
    size_t len = m->addr_len - offsetof(struct sockaddr_un, sun_path);
    if (m->addr.sun_path[0] == '\0') {
        snprintf(out, cap, "@%.*s", (int)(len - 1), m->addr.sun_path + 1);
    } else {
        snprintf(out, cap, "%s", m->addr.sun_path);
    }
}

static int make_plan(struct plan *pl, const ss_upgrade *u,
                     const ss_upgrade_socket *socks, size_t n,
                     const ss_notifier *manager, ss_error *err)
{
    memset(pl, 0, sizeof *pl);
    size_t count = 0;
    for (char **e = environ; e && *e; e++)
        count++;
    pl->envp = calloc(count + 8, sizeof *pl->envp);
    if (!pl->envp)
        return ss_error_set(err, -ENOMEM, "upgrade: out of memory");
    for (char **e = environ; e && *e; e++)
        if (!ours(*e))
            pl->envp[pl->nenv++] = *e;

    size_t names_len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *nm = socks[i].name ? socks[i].name : "unknown";
        if (strchr(nm, ':') || !*nm)
            return ss_error_set(err, -EINVAL, "upgrade: socket name '%s' is "
                                "empty or has a ':'", nm);
        names_len += strlen(nm) + 1;
    }
    char *names = malloc(names_len + 1);
    if (!names)
        return ss_error_set(err, -ENOMEM, "upgrade: out of memory");
    names[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(names, ":");
        strcat(names, socks[i].name ? socks[i].name : "unknown");
    }
    char next[sizeof manager->addr.sun_path + 2] = "";
    bool managed = manager && ss_notifier_enabled(manager);
    if (managed)
        manager_address(manager, next, sizeof next);
    bool ok = add_var(pl, 0, "LISTEN_FDS=%zu", n) &&
              add_var(pl, 1, "LISTEN_FDNAMES=%s", names) &&
              add_var(pl, 2, "NOTIFY_SOCKET=%s", u->address) &&
              (pl->listen_pid = add_var(pl, 3, "LISTEN_PID=")) &&
              (!managed || add_var(pl, 4, SS_NOTIFY_NEXT_ENV "=%s", next));
    if (ok && managed && manager->watchdog_usec)
        ok = add_var(pl, 5, "WATCHDOG_USEC=%" PRIu64, manager->watchdog_usec) &&
             (pl->watchdog_pid = add_var(pl, 6, "WATCHDOG_PID="));
    free(names);
    if (!ok)
        return ss_error_set(err, -ENOMEM, "upgrade: out of memory");
    return 0;
}

/* Appends pid in decimal to the "NAME=" string s (room was made). */
static void put_pid(char *s, pid_t pid)
{
    char digits[PID_DIGITS];
    size_t n = 0;
    unsigned long v = (unsigned long)pid;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < sizeof digits);
    while (*s)
        s++;
    while (n)
        *s++ = digits[--n];
    *s = '\0';
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static _Noreturn void child(const char *path, char *const argv[],
                            const ss_upgrade_socket *socks, size_t n,
                            struct plan *pl)
{
    pid_t me = getpid();
    put_pid(pl->listen_pid, me);
    if (pl->watchdog_pid)
        put_pid(pl->watchdog_pid, me);
    /* Out of the way first, so moving one into place cannot overwrite
     * another that sits where it goes. */
    int tmp[SS_LISTEN_FDS_MAX];
    for (size_t i = 0; i < n; i++)
        if ((tmp[i] = fcntl(socks[i].fd, F_DUPFD_CLOEXEC,
                            SS_LISTEN_FDS_START + (int)n)) < 0)
            _exit(127);
    for (size_t i = 0; i < n; i++) /* dup2 leaves the copy inheritable */
        if (dup2(tmp[i], SS_LISTEN_FDS_START + (int)i) < 0)
            _exit(127);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL); /* fails harmlessly for KILL, STOP */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(path, argv, pl->envp);
    _exit(127);
}

static int open_socket(ss_upgrade *u, ss_error *err)
{
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
        return ss_error_errno(err, "upgrade: getrandom");
    snprintf(u->address, sizeof u->address,
             "@sockserv-upgrade-%ld-%02x%02x%02x%02x%02x%02x%02x%02x",
             (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5],
             rnd[6], rnd[7]);
    u->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (u->sock < 0)
        return ss_error_errno(err, "upgrade: notify socket");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t len = strlen(u->address);
    memcpy(a.sun_path, u->address, len);
    a.sun_path[0] = '\0'; /* abstract: no file to clean up */
    int one = 1;
    /* The kernel then tells us the sender's pid: only the new process
     * may say it is ready. */
    if (setsockopt(u->sock, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0 ||
        bind(u->sock, (struct sockaddr *)&a,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
        return ss_error_errno(err, "upgrade: notify socket %s", u->address);
    return 0;
}

int ss_upgrade_start(ss_upgrade *u, const char *path, char *const argv[],
                     const ss_upgrade_socket *socks, size_t n,
                     ss_notifier *manager, double timeout, ss_error *err)
{
    ss_error_clear(err);
    memset(u, 0, sizeof *u);
    u->sock = -1;
    if (!path || !argv || !argv[0] || n > SS_LISTEN_FDS_MAX)
        return ss_error_set(err, -EINVAL, "upgrade: a program and at most %d "
                            "sockets are needed", SS_LISTEN_FDS_MAX);
    int rc = open_socket(u, err);
    struct plan pl;
    if (rc == 0)
        rc = make_plan(&pl, u, socks, n, manager, err);
    else
        memset(&pl, 0, sizeof pl);
    if (rc < 0) {
        plan_free(&pl);
        ss_upgrade_close(u);
        return rc;
    }
    /* Every signal blocked across fork: the child must not run one of our
     * handlers before it has reset them all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0)
        child(path, argv, socks, n, &pl);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    plan_free(&pl);
    if (pid < 0) {
        errno = fork_errno;
        rc = ss_error_errno(err, "upgrade: fork");
        ss_upgrade_close(u);
        return rc;
    }
    u->pid = pid;
    u->manager = manager;
    u->deadline = now_s() + (timeout > 0 ? timeout : 0);
    return 0;
}

int ss_upgrade_fd(const ss_upgrade *u)
{
    return u->sock;
}

/* One datagram from the new process: READY=1 and STATUS= matter. */
static void take_message(ss_upgrade *u, char *msg)
{
    for (char *line = strtok(msg, "\n"); line; line = strtok(NULL, "\n")) {
        if (strcmp(line, "READY=1") == 0)
            u->ready = true;
        else if (strncmp(line, "STATUS=", 7) == 0)
            snprintf(u->status, sizeof u->status, "%s", line + 7);
    }
}

static void drain(ss_upgrade *u)
{
    for (;;) {
        char buf[1024];
        union {
            struct cmsghdr h;
            char space[CMSG_SPACE(sizeof(struct ucred))];
        } ctl;
        struct iovec iov = {buf, sizeof buf - 1};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                            .msg_control = &ctl, .msg_controllen = sizeof ctl};
        ssize_t got = recvmsg(u->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return; /* EAGAIN: all read */
        }
        /* Close any descriptor someone sent along; trust only our child. */
        pid_t sender = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level != SOL_SOCKET)
                continue;
            if (c->cmsg_type == SCM_CREDENTIALS) {
                struct ucred cr;
                memcpy(&cr, CMSG_DATA(c), sizeof cr);
                sender = cr.pid;
            } else if (c->cmsg_type == SCM_RIGHTS) {
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k; i++) {
                    int fd;
                    memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
                    ss__close(fd);
                }
            }
        }
        if (sender != u->pid)
            continue;
        buf[got] = '\0';
        take_message(u, buf);
    }
}

static void kill_child(ss_upgrade *u)
{
    if (u->pid <= 0)
        return;
    kill(u->pid, SIGKILL);
    while (waitpid(u->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    u->pid = 0;
}

int ss_upgrade_check(ss_upgrade *u, ss_error *err)
{
    if (u->ready)
        return 1;
    if (u->pid <= 0 || u->sock < 0)
        return ss_error_set(err, -ECHILD, "upgrade: no new process");
    drain(u);
    if (u->ready) {
        if (u->manager) {
            char msg[64];
            snprintf(msg, sizeof msg, "MAINPID=%ld", (long)u->pid);
            ss_notifier_send(u->manager, msg, NULL);
        }
        return 1;
    }
    int status;
    pid_t w;
    while ((w = waitpid(u->pid, &status, WNOHANG)) < 0 && errno == EINTR)
        ;
    if (w == u->pid) {
        long pid = (long)u->pid;
        u->pid = 0;
        if (WIFEXITED(status))
            return ss_error_set(err, -ECHILD, "upgrade: new process %ld exited "
                                "with status %d before it was ready%s%s", pid,
                                WEXITSTATUS(status), u->status[0] ? ": " : "",
                                u->status);
        return ss_error_set(err, -ECHILD, "upgrade: new process %ld was killed "
                            "by signal %d before it was ready", pid,
                            WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    if (now_s() >= u->deadline) {
        long pid = (long)u->pid;
        kill_child(u);
        return ss_error_set(err, -ETIMEDOUT, "upgrade: new process %ld not "
                            "ready in time; killed it%s%s", pid,
                            u->status[0] ? ", its last status: " : "",
                            u->status);
    }
    return 0;
}

int ss_upgrade_wait(ss_upgrade *u, ss_error *err)
{
    for (;;) {
        int rc = ss_upgrade_check(u, err);
        if (rc != 0)
            return rc < 0 ? rc : 0;
        double left = u->deadline - now_s();
        int ms = left <= 0 ? 0 : left * 1000 < CHILD_LOOK_MS
                                     ? (int)(left * 1000) + 1
                                     : CHILD_LOOK_MS;
        struct pollfd pf = {.fd = u->sock, .events = POLLIN};
        poll(&pf, 1, ms);
    }
}

void ss_upgrade_close(ss_upgrade *u)
{
    if (!u->ready)
        kill_child(u);
    ss__close(u->sock);
    u->sock = -1;
}
