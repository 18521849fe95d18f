/* tests/ftpd-units/test_vfs.c - the path resolver: a client can reach every
 * byte of its home and none outside it, whatever path or symlink it uses. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "support.h"
#include "units.h"
#include "protocol/vfs.h"

static char top[PATH_MAX];      /* temp dir of the test */
static char home[PATH_MAX];     /* <top>/home: the user's "/" */
static char outside[PATH_MAX];  /* <top>/outside: must stay unreachable */
static ftpd_vfs vfs;

static void setup(void)
{
    u_tmpdir("vfs", top, sizeof top);
    u_path(home, sizeof home, "%s/home", top);
    u_path(outside, sizeof outside, "%s/outside", top);
    u_mkdirs(home);
    u_mkdirs(outside);
    char p[PATH_MAX];
    u_write(u_path(p, sizeof p, "%s/secret.txt", outside), "SECRET", (size_t)-1);
    u_write(u_path(p, sizeof p, "%s/secret.txt", top), "SECRET", (size_t)-1);
    u_write(u_path(p, sizeof p, "%s/a.txt", home), "inside a", (size_t)-1);
    u_mkdirs(u_path(p, sizeof p, "%s/dir/sub", home));
    u_write(u_path(p, sizeof p, "%s/dir/f.txt", home), "inside f", (size_t)-1);
    cr_assert_eq(ftpd_vfs_init(&vfs, home), 0);
}

static void teardown(void)
{
    ftpd_vfs_close(&vfs);
    u_cleanup(top);
}

/* Reads the whole file path names through the vfs into buf; returns the fd
 * result (negative errno) or the length read. */
static ssize_t vread(const char *path, char *buf, size_t cap)
{
    int fd = ftpd_vfs_open_read(&vfs, path, FTPD_VFS_CSTR, NULL);
    if (fd < 0)
        return fd;
    ssize_t n = u_read_fd(fd, buf, cap);
    close(fd);
    return n;
}

static void hlink(const char *target, const char *rel)
{
    char p[PATH_MAX];
    cr_assert_eq(symlink(target, u_path(p, sizeof p, "%s/%s", home, rel)), 0);
}

TestSuite(vfs, .init = setup, .fini = teardown, .timeout = 60);

Test(vfs, dotdot_is_clamped_at_the_home)
{
    char buf[256], vp[FTPD_VFS_PATH_MAX];
    cr_expect_eq(vread("../secret.txt", buf, sizeof buf), -ENOENT);
    cr_expect_eq(vread("../outside/secret.txt", buf, sizeof buf), -ENOENT);
    cr_expect_eq(vread("/../../../../secret.txt", buf, sizeof buf), -ENOENT);
    cr_expect_eq(vread("dir/../../../a.txt", buf, sizeof buf), 8);
    cr_expect_str_eq(buf, "inside a");
    cr_assert_eq(ftpd_vfs_virtual_path(&vfs, "/../..//./x/../y/", FTPD_VFS_CSTR, vp, sizeof vp), 0);
    cr_expect_str_eq(vp, "/y");
    cr_assert_eq(ftpd_vfs_chdir(&vfs, "../../..", FTPD_VFS_CSTR), 0);
    cr_expect_str_eq(ftpd_vfs_pwd(&vfs), "/");
}

Test(vfs, absolute_paths_are_relative_to_the_home)
{
    char buf[256], p[PATH_MAX];
    cr_expect_eq(vread("/a.txt", buf, sizeof buf), 8);
    cr_expect_eq(vread(u_path(p, sizeof p, "%s/secret.txt", outside), buf, sizeof buf), -ENOENT);
    cr_expect_eq(vread("/etc/passwd", buf, sizeof buf), -ENOENT);
}

Test(vfs, cwd_and_relative_paths)
{
    char buf[256];
    cr_assert_eq(ftpd_vfs_chdir(&vfs, "dir", FTPD_VFS_CSTR), 0);
    cr_expect_str_eq(ftpd_vfs_pwd(&vfs), "/dir");
    cr_expect_eq(vread("f.txt", buf, sizeof buf), 8);
    cr_expect_eq(ftpd_vfs_chdir(&vfs, "f.txt", FTPD_VFS_CSTR), -ENOTDIR);
    cr_expect_eq(ftpd_vfs_chdir(&vfs, "nope", FTPD_VFS_CSTR), -ENOENT);
    cr_expect_str_eq(ftpd_vfs_pwd(&vfs), "/dir");
    cr_assert_eq(ftpd_vfs_chdir(&vfs, "sub", FTPD_VFS_CSTR), 0);
    cr_expect_str_eq(ftpd_vfs_pwd(&vfs), "/dir/sub");
    cr_assert_eq(ftpd_vfs_chdir(&vfs, "..", FTPD_VFS_CSTR), 0);
    cr_expect_str_eq(ftpd_vfs_pwd(&vfs), "/dir");
    cr_assert_eq(ftpd_vfs_chdir(&vfs, "/", FTPD_VFS_CSTR), 0);
    cr_expect_str_eq(ftpd_vfs_pwd(&vfs), "/");
}

Test(vfs, absolute_symlink_out_is_refused)
{
    char buf[256];
    hlink(outside, "evil");
    hlink("/etc/passwd", "pw");
    cr_expect_eq(vread("evil/secret.txt", buf, sizeof buf), -EACCES);
    cr_expect_eq(vread("pw", buf, sizeof buf), -EACCES);
    struct stat st;
    cr_expect_eq(ftpd_vfs_stat(&vfs, "evil", FTPD_VFS_CSTR, &st), -EACCES);
    cr_expect_eq(ftpd_vfs_chdir(&vfs, "evil", FTPD_VFS_CSTR), -EACCES);
    ftpd_vfs_dir d;
    cr_expect_eq(ftpd_vfs_opendir(&vfs, "evil", FTPD_VFS_CSTR, &d), -EACCES);
    cr_expect_eq(ftpd_vfs_mkdir(&vfs, "evil/newdir", FTPD_VFS_CSTR), -EACCES);
    cr_expect_eq(ftpd_vfs_unlink(&vfs, "evil/secret.txt", FTPD_VFS_CSTR, NULL), -EACCES);
    cr_expect_eq(ftpd_vfs_open_write(&vfs, "evil/secret.txt", FTPD_VFS_CSTR,
                                     FTPD_VFS_W_TRUNC, 0, NULL), -EACCES);
    /* A home path that merely shares the prefix is outside as well. */
    char p[PATH_MAX];
    u_mkdirs(u_path(p, sizeof p, "%s/home2", top));
    hlink(p, "prefix");
    cr_expect_eq(ftpd_vfs_stat(&vfs, "prefix", FTPD_VFS_CSTR, &st), -EACCES);
    char sbuf[64];
    cr_expect_eq(u_read(u_path(p, sizeof p, "%s/secret.txt", outside), sbuf, sizeof sbuf), 6);
    cr_expect_str_eq(sbuf, "SECRET");
}

Test(vfs, relative_symlink_out_is_refused)
{
    char buf[256];
    hlink("../outside", "evil");
    hlink("../../outside/secret.txt", "dir/evil2");
    hlink("../secret.txt", "evil3");
    cr_expect_eq(vread("evil/secret.txt", buf, sizeof buf), -EACCES);
    cr_expect_eq(vread("dir/evil2", buf, sizeof buf), -EACCES);
    cr_expect_eq(vread("evil3", buf, sizeof buf), -EACCES);
    cr_expect_eq(ftpd_vfs_chdir(&vfs, "evil", FTPD_VFS_CSTR), -EACCES);
    /* Writing through a dangling link out of the home creates nothing. */
    hlink("../outside/created.txt", "dangling");
    cr_expect_eq(ftpd_vfs_open_write(&vfs, "dangling", FTPD_VFS_CSTR,
                                     FTPD_VFS_W_TRUNC, 0, NULL), -EACCES);
    char p[PATH_MAX];
    cr_expect_eq(access(u_path(p, sizeof p, "%s/created.txt", outside), F_OK), -1);
}

Test(vfs, symlinks_inside_the_home_work)
{
    char buf[256], p[PATH_MAX], real[PATH_MAX];
    cr_assert(realpath(home, real));
    hlink("dir", "rel");
    hlink(u_path(p, sizeof p, "%s/dir", real), "abs");
    hlink("../a.txt", "dir/up");
    hlink("sub/..", "dir/loopback");
    hlink("../..", "dir/sub/top");
    cr_expect_eq(vread("rel/f.txt", buf, sizeof buf), 8);
    cr_expect_str_eq(buf, "inside f");
    cr_expect_eq(vread("abs/f.txt", buf, sizeof buf), 8);
    cr_expect_eq(vread("dir/up", buf, sizeof buf), 8);
    cr_expect_str_eq(buf, "inside a");
    cr_expect_eq(vread("dir/loopback/f.txt", buf, sizeof buf), 8);
    cr_expect_eq(vread("dir/sub/top/a.txt", buf, sizeof buf), 8);
    cr_expect_str_eq(buf, "inside a");
    struct stat st;
    cr_assert_eq(ftpd_vfs_stat(&vfs, "dir/sub/top", FTPD_VFS_CSTR, &st), 0);
    cr_expect(S_ISDIR(st.st_mode));
    cr_assert_eq(ftpd_vfs_chdir(&vfs, "rel", FTPD_VFS_CSTR), 0);
    cr_expect_str_eq(ftpd_vfs_pwd(&vfs), "/rel");
    cr_expect_eq(vread("f.txt", buf, sizeof buf), 8);
    /* A link to the home's real path itself is the home. */
    hlink(real, "homeabs");
    cr_expect_eq(vread("/homeabs/a.txt", buf, sizeof buf), 8);
    /* One more ".." than the link's depth leaves the home. */
    hlink("../../..", "dir/sub/over");
    cr_expect_eq(ftpd_vfs_stat(&vfs, "/dir/sub/over", FTPD_VFS_CSTR, &st), -EACCES);
}

Test(vfs, dele_removes_the_link_not_its_target)
{
    char p[PATH_MAX], buf[64];
    hlink(u_path(p, sizeof p, "%s/secret.txt", outside), "evil");
    off_t freed = 123;
    cr_assert_eq(ftpd_vfs_unlink(&vfs, "evil", FTPD_VFS_CSTR, &freed), 0);
    cr_expect_eq(freed, 0);
    cr_expect_eq(u_read(p, buf, sizeof buf), 6);
    /* Renaming a link moves the link, not what it points to. */
    hlink(p, "evil2");
    cr_assert_eq(ftpd_vfs_rename(&vfs, "evil2", FTPD_VFS_CSTR, "moved", FTPD_VFS_CSTR, NULL), 0);
    cr_expect_eq(u_read(p, buf, sizeof buf), 6);
    struct stat st;
    cr_expect_eq(lstat(u_path(p, sizeof p, "%s/moved", home), &st), 0);
    cr_expect(S_ISLNK(st.st_mode));
}

Test(vfs, nul_bytes_and_bad_utf8_are_refused)
{
    static const char with_nul[] = "a.txt\0/../../secret.txt";
    cr_expect_eq(ftpd_vfs_open_read(&vfs, with_nul, sizeof with_nul - 1, NULL), -EINVAL);
    cr_expect_eq(ftpd_vfs_mkdir(&vfs, "x\0y", 3), -EINVAL);
    char vp[64];
    cr_expect_eq(ftpd_vfs_virtual_path(&vfs, "\xc0\xaf", FTPD_VFS_CSTR, vp, sizeof vp), -EILSEQ);
    cr_expect_eq(ftpd_vfs_mkdir(&vfs, "bad\xff", FTPD_VFS_CSTR), -EILSEQ);
    /* Real UTF-8 names work. */
    cr_expect_eq(ftpd_vfs_mkdir(&vfs, "d\xc3\xa9j\xc3\xa0 vu \xe2\x9c\x93", FTPD_VFS_CSTR), 0);
    struct stat st;
    cr_expect_eq(ftpd_vfs_stat(&vfs, "/d\xc3\xa9j\xc3\xa0 vu \xe2\x9c\x93", FTPD_VFS_CSTR, &st), 0);
}

Test(vfs, very_long_paths_are_refused_cleanly)
{
    size_t n = FTPD_VFS_PATH_MAX + 100;
    char *p = malloc(n + 1);
    cr_assert(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (i % 4 == 3) ? '/' : 'a';
    p[n] = '\0';
    cr_expect_eq(ftpd_vfs_open_read(&vfs, p, FTPD_VFS_CSTR, NULL), -ENAMETOOLONG);
    memset(p, 'b', 300);
    p[300] = '\0';
    cr_expect_eq(ftpd_vfs_mkdir(&vfs, p, FTPD_VFS_CSTR), -ENAMETOOLONG);
    /* "../" repeated past the limit is too long, not a way around it. */
    for (size_t i = 0; i + 3 <= n; i += 3)
        memcpy(p + i, "../", 3);
    p[n - n % 3] = '\0';
    cr_expect_eq(ftpd_vfs_chdir(&vfs, p, FTPD_VFS_CSTR), -ENAMETOOLONG);
    free(p);
    /* A deep but legal tree works all the way down. */
    for (int i = 0; i < 150; i++)
        cr_assert_eq(ftpd_vfs_mkdir(&vfs, "d", FTPD_VFS_CSTR) == 0 &&
                     ftpd_vfs_chdir(&vfs, "d", FTPD_VFS_CSTR) == 0, 1, "level %d", i);
    cr_expect_eq(strlen(ftpd_vfs_pwd(&vfs)), 300);
    int fd = ftpd_vfs_open_write(&vfs, "deep.txt", FTPD_VFS_CSTR, FTPD_VFS_W_TRUNC, 0, NULL);
    cr_expect(fd >= 0);
    close(fd);
}

Test(vfs, symlink_loops_end_with_eloop)
{
    hlink("b", "a");
    hlink("a", "b");
    hlink("self", "self");
    struct stat st;
    cr_expect_eq(ftpd_vfs_stat(&vfs, "a", FTPD_VFS_CSTR, &st), -ELOOP);
    cr_expect_eq(ftpd_vfs_stat(&vfs, "self/x", FTPD_VFS_CSTR, &st), -ELOOP);
}

Test(vfs, special_files_are_not_opened)
{
    char p[PATH_MAX];
    cr_assert_eq(mkfifo(u_path(p, sizeof p, "%s/fifo", home), 0644), 0);
    /* Would block forever if the FIFO were opened for real. */
    cr_expect_eq(ftpd_vfs_open_read(&vfs, "fifo", FTPD_VFS_CSTR, NULL), -EACCES);
    int fd = ftpd_vfs_open_write(&vfs, "fifo", FTPD_VFS_CSTR, FTPD_VFS_W_TRUNC, 0, NULL);
    cr_expect(fd == -EACCES || fd == -ENXIO, "got %d", fd);
    cr_expect_eq(ftpd_vfs_open_read(&vfs, "dir", FTPD_VFS_CSTR, NULL), -EISDIR);
    cr_expect_eq(ftpd_vfs_open_read(&vfs, "/", FTPD_VFS_CSTR, NULL), -EISDIR);
}

Test(vfs, write_modes)
{
    char p[PATH_MAX], buf[64];
    ftpd_vfs_wopen info;
    u_path(p, sizeof p, "%s/w.txt", home);

    int fd = ftpd_vfs_open_write(&vfs, "w.txt", FTPD_VFS_CSTR, FTPD_VFS_W_TRUNC, 0, &info);
    cr_assert(fd >= 0);
    cr_expect(info.created);
    cr_expect_eq(write(fd, "0123456789", 10), 10);
    close(fd);

    fd = ftpd_vfs_open_write(&vfs, "w.txt", FTPD_VFS_CSTR, FTPD_VFS_W_OFFSET, 4, &info);
    cr_assert(fd >= 0);
    cr_expect(!info.created);
    cr_expect_eq(info.old_size, 10);
    cr_expect_eq(write(fd, "ab", 2), 2);
    close(fd);
    cr_expect_eq(u_read(p, buf, sizeof buf), 10);
    cr_expect_str_eq(buf, "0123ab6789", "REST+STOR must not truncate");

    cr_expect_eq(ftpd_vfs_open_write(&vfs, "w.txt", FTPD_VFS_CSTR, FTPD_VFS_W_OFFSET, 11, NULL), -ERANGE);
    fd = ftpd_vfs_open_write(&vfs, "w.txt", FTPD_VFS_CSTR, FTPD_VFS_W_OFFSET, 10, NULL);
    cr_expect(fd >= 0);
    close(fd);

    fd = ftpd_vfs_open_write(&vfs, "w.txt", FTPD_VFS_CSTR, FTPD_VFS_W_APPEND, 0, &info);
    cr_assert(fd >= 0);
    cr_expect_eq(write(fd, "Z", 1), 1);
    close(fd);
    cr_expect_eq(u_read(p, buf, sizeof buf), 11);
    cr_expect_str_eq(buf, "0123ab6789Z");

    fd = ftpd_vfs_open_write(&vfs, "w.txt", FTPD_VFS_CSTR, FTPD_VFS_W_TRUNC, 0, &info);
    cr_assert(fd >= 0);
    cr_expect_eq(info.old_size, 11);
    close(fd);
    cr_expect_eq(u_read(p, buf, sizeof buf), 0);

    cr_expect_eq(ftpd_vfs_open_write(&vfs, "w.txt", FTPD_VFS_CSTR, FTPD_VFS_W_EXCL, 0, NULL), -EEXIST);
    cr_expect_eq(ftpd_vfs_open_write(&vfs, "dir", FTPD_VFS_CSTR, FTPD_VFS_W_TRUNC, 0, NULL), -EISDIR);
    cr_expect_eq(ftpd_vfs_open_write(&vfs, "nodir/x", FTPD_VFS_CSTR, FTPD_VFS_W_TRUNC, 0, NULL), -ENOENT);
}

Test(vfs, unique_names)
{
    char v1[FTPD_VFS_PATH_MAX], v2[FTPD_VFS_PATH_MAX];
    int a = ftpd_vfs_create_unique(&vfs, "dir", FTPD_VFS_CSTR, NULL, v1, sizeof v1);
    int b = ftpd_vfs_create_unique(&vfs, "dir", FTPD_VFS_CSTR, NULL, v2, sizeof v2);
    cr_assert(a >= 0 && b >= 0);
    close(a);
    close(b);
    cr_expect_str_neq(v1, v2);
    cr_expect_eq(strncmp(v1, "/dir/stou.", 10), 0, "%s", v1);
    struct stat st;
    cr_expect_eq(ftpd_vfs_stat(&vfs, v1, FTPD_VFS_CSTR, &st), 0);
    cr_expect_eq(ftpd_vfs_create_unique(&vfs, "", 0, "../x", v1, sizeof v1), -EINVAL);
}

Test(vfs, directory_operations)
{
    off_t freed;
    struct stat st;
    cr_expect_eq(ftpd_vfs_mkdir(&vfs, "new", FTPD_VFS_CSTR), 0);
    cr_expect_eq(ftpd_vfs_mkdir(&vfs, "new", FTPD_VFS_CSTR), -EEXIST);
    cr_expect_eq(ftpd_vfs_mkdir(&vfs, "/", FTPD_VFS_CSTR), -EEXIST);
    cr_expect_eq(ftpd_vfs_rename(&vfs, "a.txt", FTPD_VFS_CSTR, "new/b.txt", FTPD_VFS_CSTR, &freed), 0);
    cr_expect_eq(freed, 0);
    cr_expect_eq(ftpd_vfs_stat(&vfs, "new/b.txt", FTPD_VFS_CSTR, &st), 0);
    cr_expect_eq(st.st_size, 8);
    cr_expect_eq(ftpd_vfs_rename(&vfs, "dir/f.txt", FTPD_VFS_CSTR, "new/b.txt", FTPD_VFS_CSTR, &freed), 0);
    cr_expect_eq(freed, 8, "the replaced file's bytes come back");
    cr_expect_eq(ftpd_vfs_rmdir(&vfs, "new", FTPD_VFS_CSTR), -ENOTEMPTY);
    cr_expect_eq(ftpd_vfs_unlink(&vfs, "new", FTPD_VFS_CSTR, &freed), -EISDIR);
    cr_expect_eq(ftpd_vfs_unlink(&vfs, "new/b.txt", FTPD_VFS_CSTR, &freed), 0);
    cr_expect_eq(freed, 8);
    cr_expect_eq(ftpd_vfs_rmdir(&vfs, "new", FTPD_VFS_CSTR), 0);
    cr_expect_eq(ftpd_vfs_rmdir(&vfs, "/", FTPD_VFS_CSTR), -EBUSY);
    cr_expect_eq(ftpd_vfs_rmdir(&vfs, "..", FTPD_VFS_CSTR), -EBUSY);
    cr_expect_eq(ftpd_vfs_rename(&vfs, "/", FTPD_VFS_CSTR, "x", FTPD_VFS_CSTR, NULL), -EBUSY);
    cr_expect_eq(ftpd_vfs_rename(&vfs, "dir", FTPD_VFS_CSTR, "/..", FTPD_VFS_CSTR, NULL), -EBUSY);
    cr_expect_eq(ftpd_vfs_stat(&vfs, "gone", FTPD_VFS_CSTR, &st), -ENOENT);
}

Test(vfs, readdir_streams_every_entry)
{
    char p[PATH_MAX];
    u_mkdirs(u_path(p, sizeof p, "%s/many", home));
    for (int i = 0; i < 500; i++)
        u_write(u_path(p, sizeof p, "%s/many/f%03d", home, i), "x", 1);
    ftpd_vfs_dir d;
    cr_assert_eq(ftpd_vfs_opendir(&vfs, "many", FTPD_VFS_CSTR, &d), 0);
    cr_expect(S_ISDIR(d.self.st_mode));
    const char *name;
    struct stat st;
    int n = 0, rc;
    bool seen[500] = {false};
    while ((rc = ftpd_vfs_readdir(&d, &name, &st)) == 1) {
        int i = atoi(name + 1);
        cr_assert(name[0] == 'f' && i >= 0 && i < 500 && !seen[i], "%s", name);
        seen[i] = true;
        cr_expect_eq(st.st_size, 1);
        n++;
    }
    ftpd_vfs_closedir(&d);
    cr_expect_eq(rc, 0);
    cr_expect_eq(n, 500);
    cr_expect_eq(ftpd_vfs_opendir(&vfs, "a.txt", FTPD_VFS_CSTR, &d), -ENOTDIR);
}

/* ---- a symlink swapped in between check and use ---- */

struct swapper {
    char d[PATH_MAX], real_dir[PATH_MAX], evil_link[PATH_MAX];
    atomic_bool stop;
    atomic_long swaps;
};

/* Flips <home>/d between a real directory and a symlink to the outside,
 * atomically (RENAME_EXCHANGE), as fast as it can. */
static void *swap_loop(void *arg)
{
    struct swapper *s = arg;
    while (!atomic_load(&s->stop)) {
        if (renameat2(AT_FDCWD, s->d, AT_FDCWD, s->real_dir, RENAME_EXCHANGE) == 0)
            atomic_fetch_add(&s->swaps, 1);
        if (renameat2(AT_FDCWD, s->d, AT_FDCWD, s->evil_link, RENAME_EXCHANGE) == 0)
            atomic_fetch_add(&s->swaps, 1);
    }
    return NULL;
}

Test(vfs, symlink_swapped_between_check_and_use_cannot_escape)
{
    struct swapper s;
    memset(&s, 0, sizeof s);
    char p[PATH_MAX];
    /* d starts as a real dir; "spare" holds the other real dir, "evil" the link. */
    u_path(s.d, sizeof s.d, "%s/d", home);
    u_path(s.real_dir, sizeof s.real_dir, "%s/spare", home);
    u_path(s.evil_link, sizeof s.evil_link, "%s/evil", home);
    u_mkdirs(s.d);
    u_mkdirs(s.real_dir);
    u_write(u_path(p, sizeof p, "%s/secret.txt", s.d), "inside", (size_t)-1);
    u_write(u_path(p, sizeof p, "%s/secret.txt", s.real_dir), "inside", (size_t)-1);
    u_write(u_path(p, sizeof p, "%s/victim.txt", outside), "SECRET", (size_t)-1);
    cr_assert_eq(symlink(outside, s.evil_link), 0);

    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, swap_loop, &s), 0);
    int ok = 0, refused = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 20000; i++) {
        char buf[64];
        ssize_t n = vread("d/secret.txt", buf, sizeof buf);
        if (n >= 0) {
            cr_assert_str_eq(buf, "inside", "read outside the home through a swapped link");
            ok++;
        } else {
            refused++;
        }
        /* Truncating through the link would empty outside/victim.txt. */
        int fd = ftpd_vfs_open_write(&vfs, "d/victim.txt", FTPD_VFS_CSTR, FTPD_VFS_W_TRUNC, 0, NULL);
        if (fd >= 0)
            close(fd);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec > 3)
            break;          /* enough rounds on a slow (sanitized) build */
    }
    atomic_store(&s.stop, true);
    pthread_join(th, NULL);
    char buf[64];
    cr_expect_eq(u_read(u_path(p, sizeof p, "%s/secret.txt", outside), buf, sizeof buf), 6);
    cr_expect_str_eq(buf, "SECRET");
    cr_expect_eq(u_read(u_path(p, sizeof p, "%s/victim.txt", outside), buf, sizeof buf), 6,
                 "a file outside the home was truncated");
    cr_expect_gt(atomic_load(&s.swaps), 10);
    cr_expect_gt(ok, 0, "the directory was never reachable (ok %d refused %d)", ok, refused);
}

Test(vfs, last_component_swapped_for_a_symlink_cannot_escape)
{
    struct swapper s;
    memset(&s, 0, sizeof s);
    char p[PATH_MAX];
    /* Here the file itself flips between a regular file and a link out. */
    u_path(s.d, sizeof s.d, "%s/file", home);
    u_path(s.real_dir, sizeof s.real_dir, "%s/file.spare", home);
    u_path(s.evil_link, sizeof s.evil_link, "%s/file.evil", home);
    u_write(s.d, "inside-file", (size_t)-1);   /* 11 bytes; the secret has 6 */
    u_write(s.real_dir, "inside-file", (size_t)-1);
    cr_assert_eq(symlink(u_path(p, sizeof p, "%s/secret.txt", outside), s.evil_link), 0);

    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, swap_loop, &s), 0);
    int ok = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 20000; i++) {
        char buf[64];
        if (vread("file", buf, sizeof buf) >= 0) {
            cr_assert_str_eq(buf, "inside-file", "read outside the home through a swapped link");
            ok++;
        }
        struct stat st;
        if (ftpd_vfs_stat(&vfs, "file", FTPD_VFS_CSTR, &st) == 0)
            cr_assert_eq(st.st_size, 11, "stat of something outside");
        int fd = ftpd_vfs_open_write(&vfs, "file", FTPD_VFS_CSTR, FTPD_VFS_W_APPEND, 0, NULL);
        if (fd >= 0) {
            struct stat fst;
            cr_assert_eq(fstat(fd, &fst), 0);
            cr_assert_eq(fst.st_size, 11, "opened something outside for writing");
            close(fd);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec > 3)
            break;
    }
    atomic_store(&s.stop, true);
    pthread_join(th, NULL);
    char buf[64];
    cr_expect_eq(u_read(p, buf, sizeof buf), 6);
    cr_expect_str_eq(buf, "SECRET");
    cr_expect_gt(atomic_load(&s.swaps), 10);
    cr_expect_gt(ok, 0);
}

/* Sessions of one home share its descriptor (homefd.c): 10,000 sessions of
 * one account hold 10,000 descriptors, not 20,000. */
Test(vfs, sessions_of_one_home_share_one_descriptor)
{
    enum { N = 50 };
    static ftpd_vfs more[N];
    int fds0 = ts_count_fds();
    for (int i = 0; i < N; i++) {
        cr_assert_eq(ftpd_vfs_init(&more[i], home), 0);
        cr_assert_eq(more[i].root_fd, vfs.root_fd);
    }
    cr_expect_eq(ts_count_fds(), fds0, "%d more descriptors for %d sessions",
                 ts_count_fds() - fds0, N);
    for (int i = 0; i < N; i++)
        ftpd_vfs_close(&more[i]);
    /* The first session still reads through it. */
    char buf[64];
    cr_expect_eq(vread("/a.txt", buf, sizeof buf), 8);
}

Test(vfs, a_home_replaced_meanwhile_gets_a_descriptor_of_its_own)
{
    char old[PATH_MAX], p[PATH_MAX];
    u_path(old, sizeof old, "%s/home.old", top);
    cr_assert_eq(rename(home, old), 0);
    u_mkdirs(home);
    u_write(u_path(p, sizeof p, "%s/new.txt", home), "new home", (size_t)-1);
    ftpd_vfs other;
    cr_assert_eq(ftpd_vfs_init(&other, home), 0);
    cr_expect_neq(other.root_fd, vfs.root_fd);
    int fd = ftpd_vfs_open_read(&other, "/new.txt", FTPD_VFS_CSTR, NULL);
    cr_expect_geq(fd, 0, "the new session sees the new home");
    if (fd >= 0)
        close(fd);
    char buf[64];
    cr_expect_eq(vread("/a.txt", buf, sizeof buf), 8,
                 "the old session keeps the home it logged in to");
    ftpd_vfs_close(&other);
}
