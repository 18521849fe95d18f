/* tests/ftpd-units/threads_main.c - the lower layer's shared state used from
 * several threads at once, as a threading-mode server does.  A plain program
 * (no Criterion) so it also runs under ThreadSanitizer: Criterion's
 * inheritable arena cannot be set up under TSan (Snaipe/Criterion#274).
 * Exit status 0 when every check holds; each failed check is printed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/digest.h"
#include "store/passwd.h"
#include "store/quota.h"
#include "store/users.h"
#include "protocol/vfs.h"

static atomic_int failures;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, \
                    #cond);                                                  \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
            atomic_fetch_add(&failures, 1);                                  \
        }                                                                    \
    } while (0)

static char top[1024], home[PATH_MAX], users_file[PATH_MAX];
static ftpd_quota_table *table;
static ftpd_users users;
static pthread_barrier_t go;
static const char *H = "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

static void write_file(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s)) {
        perror(path);
        exit(1);
    }
    close(fd);
}

/* A session thread: logs in (users lookup, quota attach, vfs init), uploads
 * by reserving quota, resolves paths and checksums a file. */
static void *session(void *arg)
{
    long id = (long)arg;
    ftpd_user u;
    CHECK(ftpd_users_lookup(&users, "alice", &u) == 0, "lookup in thread %ld", id);
    /* Every session attaches before any writes, so none of them detaches
     * (and makes the usage be forgotten) before the others are in. */
    ftpd_quota q;
    CHECK(ftpd_quota_attach(table, "alice", 50000, home, &q) == 0, "attach");
    pthread_barrier_wait(&go);
    ftpd_vfs v;
    CHECK(ftpd_vfs_init(&v, home) == 0, "vfs init");
    uint64_t kept = 0, got;
    for (int i = 0; i < 20000 && ftpd_quota_reserve(&q, 3, &got) == 0; i++) {
        kept += got < 2 ? got : 2;
        ftpd_quota_release(&q, got - (got < 2 ? got : 2));
        if (i % 500 == 0) {
            struct stat st;
            CHECK(ftpd_vfs_stat(&v, "dir/../f.txt", FTPD_VFS_CSTR, &st) == 0, "stat");
            int fd = ftpd_vfs_open_read(&v, "/f.txt", FTPD_VFS_CSTR, NULL);
            CHECK(fd >= 0, "open %d", fd);
            if (fd >= 0) {
                char hex[FTPD_DIGEST_HEX_MAX];
                CHECK(ftpd_digest_fd(fd, FTPD_DIGEST_CRC32, 0, -1, NULL, hex, sizeof hex) == 8, "crc");
                CHECK(strcmp(hex, "cbf43926") == 0, "crc of 123456789 is %s", hex);
                close(fd);
            }
            ftpd_user again;
            CHECK(ftpd_users_lookup(&users, "alice", &again) == 0, "lookup while edited");
        }
    }
    ftpd_vfs_close(&v);
    ftpd_quota_detach(&q);
    return (void *)(uintptr_t)kept;
}

/* Edits the users file while the sessions look users up. */
static void *editor(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&go);
    char err[512];
    for (int i = 0; i < 20; i++) {
        char name[32];
        snprintf(name, sizeof name, "tmp%d", i);
        ftpd_user u;
        memset(&u, 0, sizeof u);
        strcpy(u.name, name);
        strcpy(u.hash, H);
        strcpy(u.home, home);
        u.quota = 1000;
        CHECK(ftpd_users_file_add(users_file, &u, err, sizeof err) == 0, "%s", err);
        CHECK(ftpd_users_file_del(users_file, name, err, sizeof err) == 0, "%s", err);
    }
    return NULL;
}

int main(void)
{
    setenv("SOCKSERV_FTPD_TEST_FAST_KDF", "1", 1);
    const char *tmp = getenv("TMPDIR");
    snprintf(top, sizeof top, "%s/ftpd-threads-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(top)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(home, sizeof home, "%s/home", top);
    snprintf(users_file, sizeof users_file, "%s/users", top);
    char p[PATH_MAX + 32];
    mkdir(home, 0755);
    snprintf(p, sizeof p, "%s/dir", home);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/f.txt", home);
    write_file(p, "123456789");
    char line[PATH_MAX + 256];
    snprintf(line, sizeof line, "alice:%s:%s:50000\n", H, home);
    write_file(users_file, line);

    char err[512];
    CHECK(ftpd_quota_table_create(&table, 16) == 0, "table");
    CHECK(ftpd_users_init(&users, users_file, err, sizeof err) == 0, "%s", err);

    enum { N = 3 };
    pthread_t th[N], ed;
    pthread_barrier_init(&go, NULL, N + 1);
    for (long i = 0; i < N; i++)
        pthread_create(&th[i], NULL, session, (void *)i);
    pthread_create(&ed, NULL, editor, NULL);
    uint64_t total = 0;
    for (int i = 0; i < N; i++) {
        void *r;
        pthread_join(th[i], &r);
        total += (uint64_t)(uintptr_t)r;
    }
    pthread_join(ed, NULL);
    /* 9 bytes were there; every session stopped at the shared limit. */
    CHECK(total == 50000 - 9, "kept %llu", (unsigned long long)total);

    ftpd_users_close(&users);
    ftpd_quota_table_destroy(table);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", top);
    int f = atomic_load(&failures);
    if (f)
        fprintf(stderr, "%d check(s) failed\n", f);
    else
        printf("all checks passed\n");
    return f ? 1 : 0;
}
