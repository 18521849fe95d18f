/* tests/ftpd/test_kill.c - sockserv-ftpd killed with SIGKILL in the middle
 * of 20 transfers (10 uploads, 10 downloads by sockserv-ftp, five users
 * with quotas), in threading and in forking mode (the whole process group).
 *
 * Before the kill every transfer is seen moving: a download's .part and an
 * upload's file in the home both grow (the server's rate limit keeps them
 * slow enough to be caught).  After the kill: nothing outside the homes
 * changed (path, type, mode, size, mtime and SHA-256 of every entry), no
 * server process is left, and a server restarted on the same data dir
 * reports, for each user, usage equal to the bytes in the home.  Then each
 * client's command runs again and must resume (not start over) and end
 * with a verified file whose SHA-256 is the original's; usage still equals
 * the disk on sessions that stayed logged in through the resumes. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ftx.h"

#define USERS 5
#define PER_USER 4             /* two uploads, two downloads */
#define CLIENTS (USERS * PER_USER)
#define BASE_SIZE (4u << 20)   /* each file a little more, none aligned */
#define RATE "128K"            /* per user and direction, first run only:
                                * two transfers share it, each needs 64 s */
#define MOVE_DEADLINE 45.0     /* seconds for all 20 to be seen moving */

static ftx_server srv;
static char clients_dir[700];

typedef struct client {
    int user;
    bool upload;
    char remote[64];        /* name in the home */
    char local[800];        /* upload source, or download target */
    char original[800];     /* the file the result must equal */
    char sha[65];           /* SHA-256 of original */
    uint64_t size;
    ts_proc *proc;
    off_t seen;             /* last size seen while waiting for movement */
    bool moving;
    off_t kept;             /* bytes on disk after the kill */
} client;

static client cl[CLIENTS];
static pid_t first_pgid;   /* the killed server's group, for the teardown */

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* size random bytes from the kernel: fast in every build (a byte loop in
 * test code is slow under TSan), and no two files alike. */
static void make_random_file(const char *path, uint64_t size)
{
    int in = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert(in >= 0 && out >= 0, "%s: %s", path, strerror(errno));
    static char buf[1 << 20];
    while (size > 0) {
        size_t n = size < sizeof buf ? (size_t)size : sizeof buf;
        cr_assert_eq(ts_read_full(in, buf, n), (ssize_t)n);
        cr_assert_eq(ts_write_full(out, buf, n), 0);
        size -= n;
    }
    close(in);
    cr_assert_eq(close(out), 0);
}

static const char *user_name(int u)
{
    static const char *names[USERS] = {"ann", "ben", "cat", "dan", "eve"};
    return names[u];
}

/* --- what lies outside the homes --------------------------------------- */

#define SNAP_MAX 256

typedef struct entry {
    char path[700];
    mode_t mode;
    off_t size;
    struct timespec mtime;
    char sha[65];
} entry;

typedef struct snapshot {
    entry e[SNAP_MAX];
    int n;
} snapshot;

static snapshot *snap_fill;
static char skip_a[700], skip_b[700];

static bool under(const char *path, const char *dir)
{
    size_t l = strlen(dir);
    return !strncmp(path, dir, l) && (path[l] == '\0' || path[l] == '/');
}

static int snap_entry(const char *path, const struct stat *st, int flag,
                      struct FTW *f)
{
    (void)flag;
    (void)f;
    if (under(path, skip_a) || under(path, skip_b))
        return 0;
    cr_assert_lt(snap_fill->n, SNAP_MAX, "too many entries outside the homes");
    entry *e = &snap_fill->e[snap_fill->n++];
    snprintf(e->path, sizeof e->path, "%s", path);
    e->mode = st->st_mode;
    e->size = S_ISDIR(st->st_mode) ? 0 : st->st_size;
    e->mtime = st->st_mtim;
    e->sha[0] = '\0';
    if (S_ISREG(st->st_mode))
        cr_assert(ts_sha256_file(path, e->sha), "cannot read %s", path);
    return 0;
}

/* Everything under the temp root but the homes and the clients' files,
 * in nftw's order (the same tree gives the same order). */
static void take_snapshot(snapshot *s)
{
    s->n = 0;
    snap_fill = s;
    snprintf(skip_a, sizeof skip_a, "%s/home", srv.data_dir);
    snprintf(skip_b, sizeof skip_b, "%s", clients_dir);
    cr_assert_eq(nftw(srv.dir, snap_entry, 16, FTW_PHYS), 0);
}

static void expect_same_snapshot(const snapshot *a, const snapshot *b,
                                 const char *when)
{
    cr_expect_eq(a->n, b->n, "%s: %d entries outside the homes, %d before",
                 when, b->n, a->n);
    for (int i = 0; i < a->n && i < b->n; i++) {
        const entry *x = &a->e[i], *y = &b->e[i];
        cr_expect(!strcmp(x->path, y->path) && x->mode == y->mode &&
                      x->size == y->size && !strcmp(x->sha, y->sha) &&
                      x->mtime.tv_sec == y->mtime.tv_sec &&
                      x->mtime.tv_nsec == y->mtime.tv_nsec,
                  "%s: %s (mode %o, %lld bytes) is now %s (mode %o, %lld "
                  "bytes)%s", when, x->path, (unsigned)x->mode,
                  (long long)x->size, y->path, (unsigned)y->mode,
                  (long long)y->size,
                  strcmp(x->sha, y->sha) ? ", other content" : "");
    }
}

/* --- usage ------------------------------------------------------------- */

static uint64_t walk_sum;

static int sum_entry(const char *path, const struct stat *st, int flag,
                     struct FTW *f)
{
    (void)path;
    (void)flag;
    (void)f;
    if (S_ISREG(st->st_mode))
        walk_sum += (uint64_t)st->st_size;
    return 0;
}

/* The bytes in a home, as quota.h defines usage. */
static uint64_t disk_usage(int u)
{
    walk_sum = 0;
    cr_assert_eq(nftw(ftx_home_path(&srv, user_name(u), NULL), sum_entry, 16,
                      FTW_PHYS), 0);
    return walk_sum;
}

static uint64_t reported_usage(ftc *c)
{
    cr_assert_eq(ftc_cmd(c, "SITE QUOTA"), 200, "SITE QUOTA: %s", c->reply);
    unsigned long long used = 0;   /* "N of L bytes used", "N bytes used" */
    cr_assert_eq(sscanf(c->reply, "200 Quota: %llu", &used), 1,
                 "SITE QUOTA: %s", c->reply);
    return used;
}

/* --- the clients ------------------------------------------------------- */

static void prepare(void)
{
    ftx_init(&srv, "ftpd-kill");
    snprintf(clients_dir, sizeof clients_dir, "%s/clients", srv.dir);
    cr_assert_eq(mkdir(clients_dir, 0755), 0);
    /* Quotas differ per user, all with room for the test's files. */
    static const char *quotas[USERS] = {"64M", "100M", "1G", "48M", "unlimited"};
    for (int u = 0; u < USERS; u++)
        ftx_add_user(&srv, user_name(u), "pw", quotas[u]);
    for (int i = 0; i < CLIENTS; i++) {
        client *c = &cl[i];
        memset(c, 0, sizeof *c);
        c->user = i / PER_USER;
        c->upload = i % 2 == 0;
        c->size = BASE_SIZE + (uint64_t)i * 37 * 1024 + (uint64_t)i * 7 + 1;
        const char *name = user_name(c->user);
        snprintf(c->remote, sizeof c->remote, "%s%d.bin",
                 c->upload ? "up" : "down", i);
        /* Through a local copy: at -O0 gcc cannot tell cl[i].remote from
         * cl[i].local and -Wrestrict calls the two arguments overlapping. */
        char local[sizeof c->local];
        snprintf(local, sizeof local, "%s/%s-%s", clients_dir, name, c->remote);
        memcpy(c->local, local, sizeof local);
        if (c->upload) {
            memcpy(c->original, local, sizeof c->original);
        } else {
            snprintf(c->original, sizeof c->original, "%s",
                     ftx_home_path(&srv, name, c->remote));
            char home[800];
            snprintf(home, sizeof home, "%s", ftx_home_path(&srv, name, NULL));
            mkdir(home, 0700);   /* user add may leave it to the server */
        }
        make_random_file(c->original, c->size);
        cr_assert(ts_sha256_file(c->original, c->sha));
    }
}

enum run_kind {
    GIVE_UP,   /* first run: exits at the first loss (the kill) */
    RETRY,     /* first run: reconnects until the server is back, resumes */
    RERUN,     /* the same command again: resumes (put -c; get always) */
};

/* sockserv-ftp for client c on the current server; RETRY and RERUN print
 * their notes and summary on stderr. */
static void spawn_client(client *c, enum run_kind kind)
{
    bool first = kind != RERUN;
    char url[256];
    snprintf(url, sizeof url, "%s:pw@%s", user_name(c->user), srv.addr_text);
    char *argv[20];
    int n = 0;
    argv[n++] = (char *)ts_build_path("ftp/client/sockserv-ftp");
    if (kind == GIVE_UP) {
        argv[n++] = "-q";
        argv[n++] = "--retries";
        argv[n++] = "0";
    } else if (kind == RETRY) {
        argv[n++] = "--retries"; /* 20 s for the test to restart the server */
        argv[n++] = "40";
        argv[n++] = "--retry-delay";
        argv[n++] = "0.5";
    }
    argv[n++] = "--timeout";
    argv[n++] = "30";
    argv[n++] = url;
    if (c->upload) {
        argv[n++] = "put";
        if (!first)
            argv[n++] = "-c";
        argv[n++] = c->local;
        argv[n++] = c->remote;
    } else {
        argv[n++] = "get";
        argv[n++] = c->remote;
        argv[n++] = c->local;
    }
    argv[n] = NULL;
    if (!c->proc)
        c->proc = calloc(1, sizeof *c->proc);
    cr_assert(c->proc);
    memset(c->proc, 0, sizeof *c->proc);
    c->proc->status = -1;
    cr_assert_eq(ts_spawn(c->proc, argv, NULL, -1, true), 0);
}

/* Where client c's bytes land while it runs. */
static off_t progress_of(const client *c)
{
    if (c->upload)
        return ftx_file_size(ftx_home_path(&srv, user_name(c->user), c->remote));
    char part[820];
    snprintf(part, sizeof part, "%s.part", c->local);
    return ftx_file_size(part);
}

/* True once p has exited (reaped here, so ts_stop sees it). */
static bool exited(ts_proc *p)
{
    int st;
    if (p->status == -1 && waitpid(p->pid, &st, WNOHANG) == p->pid)
        p->status = st;
    return p->status != -1;
}

/* Polls until every client's file has grown after its first bytes. */
static void wait_all_moving(void)
{
    double deadline = ts_now() + MOVE_DEADLINE;
    for (;;) {
        int moving = 0;
        for (int i = 0; i < CLIENTS; i++) {
            client *c = &cl[i];
            ts_drain(c->proc);
            off_t now = progress_of(c);
            if (c->seen > 0 && now > c->seen)
                c->moving = true;
            if (now > 0)
                c->seen = now;
            moving += c->moving;
            cr_assert(!exited(c->proc), "client %d ended before the kill: %s",
                      i, c->proc->err);
        }
        if (moving == CLIENTS)
            return;
        if (ts_now() > deadline) {
            for (int i = 0; i < CLIENTS; i++)
                if (!cl[i].moving)
                    cr_log_info("client %d (%s %s): %lld bytes, stderr: %s", i,
                                cl[i].upload ? "put" : "get", cl[i].remote,
                                (long long)cl[i].seen, cl[i].proc->err);
            cr_assert_fail("only %d of %d transfers were seen moving", moving,
                           CLIENTS);
        }
        sleep_s(0.05);
    }
}

/* Processes of group pgid that have not exited (zombies excluded: whoever
 * inherited them reaps them in its own time). */
static int live_in_group(pid_t pgid)
{
    DIR *d = opendir("/proc");
    cr_assert(d);
    int live = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        /* pid (comm) state ppid pgrp ...; comm may hold anything but ')' is
         * searched from the end. */
        char *p = strrchr(buf, ')');
        char state;
        int ppid, pgrp;
        if (p && sscanf(p + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 &&
            pgrp == pgid && state != 'Z' && state != 'X')
            live++;
    }
    closedir(d);
    return live;
}

/* SIGKILL to the server's process group (what systemd does), or to its
 * main process alone (kill -9 PID): either way no session may go on, since
 * a new server could not see what it does. */
static void kill_server(bool group)
{
    pid_t pgid = srv.proc.pid;   /* ts_spawn made it a group leader */
    first_pgid = pgid;
    cr_assert_eq(kill(group ? -pgid : pgid, SIGKILL), 0);
    double deadline = ts_now() + 20;
    while (live_in_group(pgid) > 0) {
        cr_assert(ts_now() < deadline, "%d server processes survive SIGKILL",
                  live_in_group(pgid));
        sleep_s(0.02);
    }
    int st = ts_stop(&srv.proc, 0, 10);
    cr_assert(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
              "server status %d", st);
    srv.running = false;
    cr_expect(!strstr(srv.proc.err, "runtime error") &&
                  !strstr(srv.proc.err, "Sanitizer"),
              "sanitizer report before the kill:\n%s", srv.proc.err);
}

/* Checks client c's result: exit 0, resumed, verified, the original's
 * SHA-256, no .part left. */
static void expect_resumed(client *c, int i, int st)
{
    cr_expect(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "client %d (%s %s): status %d: %s", i, c->upload ? "put" : "get",
              c->remote, st, c->proc->err);
    cr_expect(strstr(c->proc->err, "resuming"),
              "client %d did not resume from %lld: %s", i, (long long)c->kept,
              c->proc->err);
    cr_expect(strstr(c->proc->err, "verified sha256"), "client %d: %s", i,
              c->proc->err);
    const char *result = c->upload
        ? ftx_home_path(&srv, user_name(c->user), c->remote) : c->local;
    char sha[65] = "";
    cr_expect(ts_sha256_file(result, sha) && !strcmp(sha, c->sha),
              "client %d: %s has sha256 %s, the original %s", i, result, sha,
              c->sha);
    char part[820];
    snprintf(part, sizeof part, "%s.part", c->local);
    cr_expect(access(part, F_OK) < 0, "%s is left", part);
}

/* mode: the concurrency setting; group: SIGKILL to the process group, else
 * to the main process; retry: the clients ride out the restart with their
 * own --retries (the server comes back on the same port), else they give
 * up and their commands run again. */
static void run(const char *mode, bool group, bool retry)
{
    prepare();
    const char *first[] = {"--set", mode, "--set", "max_upload_rate=" RATE,
                           "--set", "max_download_rate=" RATE, NULL};
    ftx_start(&srv, first);
    snapshot *before = calloc(1, sizeof *before),
             *after = calloc(1, sizeof *after);
    cr_assert(before && after);
    take_snapshot(before);

    double t0 = ts_now();
    for (int i = 0; i < CLIENTS; i++)
        spawn_client(&cl[i], retry ? RETRY : GIVE_UP);
    wait_all_moving();
    double t_moving = ts_now();
    kill_server(group);

    for (int i = 0; i < CLIENTS; i++) {
        client *c = &cl[i];
        if (retry) {
            cr_assert(!exited(c->proc), "client %d gave up: %s", i,
                      c->proc->err);
        } else {
            int st = ts_stop(c->proc, 0, 60);
            cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) != 0,
                      "client %d: status %d after the kill: %s", i, st,
                      c->proc->err);
        }
        c->kept = progress_of(c);
        cr_expect(c->kept > 0 && (uint64_t)c->kept < c->size,
                  "client %d: %lld of %llu bytes kept", i, (long long)c->kept,
                  (unsigned long long)c->size);
    }
    double t_dead = ts_now();
    take_snapshot(after);
    expect_same_snapshot(before, after, "after the kill");

    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", srv.port);
    const char *second[] = {"--set", mode, retry ? "--listen" : NULL, listen,
                            NULL};
    ftx_start(&srv, second);
    /* One session per user stays logged in through the resumes, so the
     * last check sees the usage the server kept up, not a fresh count. */
    ftc watch[USERS];
    for (int u = 0; u < USERS; u++) {
        ftc_open(&watch[u], &srv);
        ftc_login(&watch[u], user_name(u), "pw");
        if (retry)
            continue;   /* the clients are writing already */
        uint64_t disk = disk_usage(u);
        cr_expect_eq(reported_usage(&watch[u]), disk,
                     "%s after the restart: usage %llu, disk %llu", user_name(u),
                     (unsigned long long)reported_usage(&watch[u]),
                     (unsigned long long)disk);
    }

    double t_restart = ts_now();
    if (!retry)
        for (int i = 0; i < CLIENTS; i++)
            spawn_client(&cl[i], RERUN);
    for (int i = 0; i < CLIENTS; i++) {
        expect_resumed(&cl[i], i, ts_stop(cl[i].proc, 0, 240));
        cr_expect(!retry || strstr(cl[i].proc->err, "retrying"),
                  "client %d: %s", i, cl[i].proc->err);
    }
    for (int u = 0; u < USERS; u++) {
        uint64_t disk = disk_usage(u), used = reported_usage(&watch[u]);
        cr_expect_eq(used, disk, "%s after the resumes: usage %llu, disk %llu",
                     user_name(u), (unsigned long long)used,
                     (unsigned long long)disk);
        ftc_close(&watch[u]);
    }
    take_snapshot(after);
    expect_same_snapshot(before, after, "after the resumes");
    uint64_t kept_min = UINT64_MAX, kept_max = 0;
    for (int i = 0; i < CLIENTS; i++) {
        kept_min = (uint64_t)cl[i].kept < kept_min ? (uint64_t)cl[i].kept : kept_min;
        kept_max = (uint64_t)cl[i].kept > kept_max ? (uint64_t)cl[i].kept : kept_max;
    }
    cr_log_info("%s%s: all moving after %.1f s; killed and out after %.1f s; "
                "kept %llu to %llu bytes; restarted and counted in %.1f s; "
                "resumes done in %.1f s; %d entries outside the homes unchanged",
                mode, retry ? " (clients retry)" : "", t_moving - t0, t_dead - t_moving,
                (unsigned long long)kept_min, (unsigned long long)kept_max,
                t_restart - t_dead, ts_now() - t_restart, before->n);
    free(before);
    free(after);
}

static void teardown(void)
{
    for (int i = 0; i < CLIENTS; i++) {
        if (cl[i].proc && cl[i].proc->pid > 0 && cl[i].proc->status == -1)
            ts_stop(cl[i].proc, SIGKILL, 5);
        free(cl[i].proc);
        cl[i].proc = NULL;
    }
    /* Sessions that outlived a failed test must not outlive the suite. */
    if (first_pgid > 0 && live_in_group(first_pgid) > 0)
        kill(-first_pgid, SIGKILL);
    first_pgid = 0;
    ftx_stop(&srv, true);
}

TestSuite(kill, .fini = teardown, .timeout = 280);

Test(kill, threading_server_killed_during_20_transfers)
{
    run("concurrency=threading", true, false);
}

Test(kill, clients_ride_out_the_restart_with_their_own_retries)
{
    run("concurrency=threading", true, true);
}

Test(kill, forking_server_killed_during_20_transfers)
{
    run("concurrency=forking", true, false);
}

Test(kill, forking_main_process_killed_alone_takes_its_sessions_along)
{
    run("concurrency=forking", false, false);
}
