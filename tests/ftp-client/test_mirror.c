/* tests/ftp-client/test_mirror.c - mirror both ways against pyftpdlib (MLSD
 * or LIST only in the Unix or the DOS format, with or without checksums)
 * and sockserv-ftpd: nested and empty directories, names with spaces and
 * UTF-8, changed files, --delete, a cut parallel mirror resumed by running
 * it again, the unchanged second run, lftp's result on the same trees,
 * local symbolic links never followed, and the display on a terminal. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ftpc_test.h"

static char dir[512], root[600], local[600];
static char src[800], dst[800]; /* the usual pair: server's src, local dst */
static ftpt_server srv, proxy;

static const char *const MLSD_HASH[] = {NULL};
static const char *const MLSD_PLAIN[] = {"--plain", NULL};
static const char *const LIST_HASH[] = {"--list-only", NULL};
static const char *const LIST_PLAIN[] = {"--list-only", "--plain", NULL};
static const char *const LIST_DOS[] = {"--dos-list", NULL}; /* IIS's format */

#define OLD_TIME 1614834367 /* 2021-03-04 05:06:07 UTC: LIST shows a year */

static void setup(void)
{
    ts_mkdtemp("ftpc-mirror", dir, sizeof dir);
    cr_assert(dir[0]);
    snprintf(root, sizeof root, "%s/root", dir);
    snprintf(local, sizeof local, "%s/local", dir);
    cr_assert_eq(mkdir(root, 0755), 0);
    cr_assert_eq(mkdir(local, 0755), 0);
    snprintf(src, sizeof src, "%s/src", root);
    snprintf(dst, sizeof dst, "%s/dst", local);
}

static void teardown(void)
{
    ftpt_stop(&proxy);
    ftpt_stop(&srv);
    ts_rmtree(dir);
}

TestSuite(mirror, .init = setup, .fini = teardown, .timeout = 240);

static void set_time(const char *path, time_t t)
{
    struct timespec ts[2] = {{.tv_sec = t}, {.tv_sec = t}};
    cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0, "utimensat %s", path);
}

static void mkdirs(const char *base, const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s", p);
}

/* The test tree: nested and empty directories, a zero-byte file, names
 * with spaces and UTF-8; files dated OLD_TIME. */
static void make_tree(const char *base, uint64_t big)
{
    cr_assert_eq(mkdir(base, 0755), 0, "mkdir %s", base);
    mkdirs(base, "a");
    mkdirs(base, "a/b");
    mkdirs(base, "a/b/c");
    mkdirs(base, "a/empty two");
    mkdirs(base, "empty");
    mkdirs(base, "sp ace");
    mkdirs(base, "é dir");
    static const struct { const char *rel; uint64_t size; } files[] = {
        {"a/b/c/deep.txt", 1000},
        {"a/one.bin", 0 /* big */},
        {"sp ace/file one.txt", 50},
        {"é dir/ünïcødé ✓.bin", 70000},
        {"zero", 0},
        {"top.txt", 10},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", base, files[i].rel);
        ftpt_make_file(p, i == 1 ? big : files[i].size, (uint32_t)i + 11);
        set_time(p, OLD_TIME);
    }
}

/* Every entry of a is in b with the same type, files byte for byte (and
 * with mtimes when asked); b has nothing more.  Returns entries seen. */
static int same_tree(const char *a, const char *b, bool mtimes)
{
    struct dirent **list;
    int n = scandir(a, &list, NULL, alphasort);
    cr_assert(n >= 0, "scandir %s", a);
    int seen = 0;
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
            char pa[2048], pb[2048];
            snprintf(pa, sizeof pa, "%s/%s", a, name);
            snprintf(pb, sizeof pb, "%s/%s", b, name);
            struct stat sa, sb;
            cr_assert_eq(lstat(pa, &sa), 0);
            cr_assert_eq(lstat(pb, &sb), 0, "%s is missing", pb);
            cr_assert_eq(sa.st_mode & S_IFMT, sb.st_mode & S_IFMT, "%s: type", pb);
            if (S_ISDIR(sa.st_mode)) {
                seen += same_tree(pa, pb, mtimes);
            } else {
                cr_assert(ftpt_same_file(pa, pb), "%s differs", pb);
                if (mtimes)
                    cr_assert_eq(sa.st_mtim.tv_sec, sb.st_mtim.tv_sec,
                                 "%s: mtime %ld, not %ld", pb, (long)sb.st_mtim.tv_sec,
                                 (long)sa.st_mtim.tv_sec);
            }
            seen++;
        }
        free(list[i]);
    }
    free(list);
    /* Nothing extra in b. */
    int nb = scandir(b, &list, NULL, alphasort);
    cr_assert(nb >= 0);
    for (int i = 0; i < nb; i++)
        free(list[i]);
    free(list);
    cr_assert_eq(nb, n, "%s has %d entries, %s %d", b, nb - 2, a, n - 2);
    return seen;
}

/* What the tree under base is on disk: every name with its inode and its
 * change time, hashed.  Writing, renaming (.part to the file), setting a
 * time, adding or removing anything changes it, reading does not: a run
 * that leaves it alone moved no bytes into the tree. */
static uint64_t tree_stamp(const char *base)
{
    struct dirent **list;
    int n = scandir(base, &list, NULL, alphasort);
    cr_assert(n >= 0, "scandir %s", base);
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", base, name);
        struct stat st;
        if (strcmp(name, "..") != 0 && lstat(p, &st) == 0) {
            uint64_t v[4] = {(uint64_t)st.st_ino, (uint64_t)st.st_ctim.tv_sec,
                             (uint64_t)st.st_ctim.tv_nsec,
                             S_ISDIR(st.st_mode) && strcmp(name, ".") != 0
                                 ? tree_stamp(p) : 0};
            for (const char *c = name; *c; c++)
                h = (h ^ (unsigned char)*c) * 1099511628211ull;
            for (size_t k = 0; k < sizeof v; k++)
                h = (h ^ ((const unsigned char *)v)[k]) * 1099511628211ull;
        }
        free(list[i]);
    }
    free(list);
    return h;
}

static ftpt_run *mirror_run(const char *url, const char *a1, const char *a2,
                            const char *a3, const char *a4)
{
    return ftpt_client(NULL, url, "mirror", a1, a2, a3, a4, NULL);
}

#define OK(r) cr_assert_eq((r)->code, 0, "exit %d: %s", (r)->code, (r)->err)

static bool exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* Two files change on the server: one in size, one only in time. */
static void change_two(const char *base)
{
    const char *one = ftpt_path(base, "a/one.bin");
    FILE *f = fopen(one, "ab");
    cr_assert(f);
    fputs("more", f);
    fclose(f);
    set_time(one, OLD_TIME);
    const char *top = ftpt_path(base, "top.txt");
    ftpt_make_file(top, 10, 999); /* same size, new bytes, dated now */
}

static void remove_some(const char *base)
{
    cr_assert_eq(ts_rmtree(ftpt_path(base, "a/b")), 0);
    cr_assert_eq(unlink(ftpt_path(base, "zero")), 0);
}

/* Download, unchanged second run, two changes, --delete: from the running
 * srv's /src, which is server_src, to local/dst. */
static void download_cycle(const char *server_src)
{
    make_tree(server_src, 300000);

    ftpt_run *r = mirror_run(srv.url, "/src", dst, NULL, NULL);
    OK(r);
    cr_assert(strstr(r->err, "6 copied, 0 unchanged, 0 deleted, 0 failed"), "%s", r->err);
    free(r);
    cr_assert_eq(same_tree(server_src, dst, true), 13);

    uint64_t before = tree_stamp(dst);
    r = mirror_run(srv.url, "/src", dst, NULL, NULL);
    OK(r);
    cr_assert(strstr(r->err, "nothing transferred (6 files unchanged)"), "%s", r->err);
    cr_assert_eq(ftpt_lines(r->err), 1, "%s", r->err);
    free(r);
    cr_assert_eq(tree_stamp(dst), before, "the unchanged run wrote to %s", dst);

    change_two(server_src);
    r = mirror_run(srv.url, "/src", dst, NULL, NULL);
    OK(r);
    cr_assert(strstr(r->err, "2 copied, 4 unchanged, 0 deleted"), "%s", r->err);
    free(r);
    same_tree(server_src, dst, true);

    remove_some(server_src);
    r = mirror_run(srv.url, "/src", dst, NULL, NULL);
    OK(r);
    free(r);
    cr_assert(exists(ftpt_path(dst, "zero")), "deleted without --delete");
    r = mirror_run(srv.url, "--delete", "/src", dst, NULL);
    OK(r);
    cr_assert(strstr(r->err, "0 copied, 4 unchanged, 4 deleted, 0 failed"), "%s", r->err);
    free(r);
    same_tree(server_src, dst, true);
}

/* The other way round: local/src to the server's /dst, which is
 * server_dst. */
static void upload_cycle(const char *server_dst)
{
    char lsrc[700];
    snprintf(lsrc, sizeof lsrc, "%s/src", local);
    make_tree(lsrc, 300000);

    ftpt_run *r = mirror_run(srv.url, "-R", "/dst", lsrc, NULL);
    OK(r);
    cr_assert(strstr(r->err, "6 copied, 0 unchanged, 0 deleted, 0 failed"), "%s", r->err);
    free(r);
    /* Both servers have MFMT: the server's files keep the local times. */
    cr_assert_eq(same_tree(lsrc, server_dst, true), 13);

    uint64_t before = tree_stamp(server_dst);
    r = mirror_run(srv.url, "-R", "/dst", lsrc, NULL);
    OK(r);
    cr_assert(strstr(r->err, "nothing transferred (6 files unchanged)"), "%s", r->err);
    free(r);
    cr_assert_eq(tree_stamp(server_dst), before, "the unchanged run wrote to %s",
                 server_dst);

    change_two(lsrc);
    r = mirror_run(srv.url, "-R", "/dst", lsrc, NULL);
    OK(r);
    cr_assert(strstr(r->err, "2 copied, 4 unchanged, 0 deleted"), "%s", r->err);
    free(r);
    same_tree(lsrc, server_dst, true);

    remove_some(lsrc);
    r = mirror_run(srv.url, "-R", "--delete", "/dst", lsrc);
    OK(r);
    cr_assert(strstr(r->err, "4 deleted, 0 failed"), "%s", r->err);
    free(r);
    same_tree(lsrc, server_dst, true);
}

static void download_from(const char *const *mode)
{
    ftpt_server_start(&srv, root, mode);
    download_cycle(src);
}

static void upload_to(const char *const *mode)
{
    ftpt_server_start(&srv, root, mode);
    char rdst[700];
    snprintf(rdst, sizeof rdst, "%s/dst", root);
    upload_cycle(rdst);
}

Test(mirror, download_mlsd_with_checksums) { download_from(MLSD_HASH); }
Test(mirror, download_mlsd_without_checksums) { download_from(MLSD_PLAIN); }
Test(mirror, download_list_only_with_checksums) { download_from(LIST_HASH); }
Test(mirror, download_list_only_without_checksums) { download_from(LIST_PLAIN); }
Test(mirror, upload_mlsd_with_checksums) { upload_to(MLSD_HASH); }
Test(mirror, upload_mlsd_without_checksums) { upload_to(MLSD_PLAIN); }
Test(mirror, upload_list_only_with_checksums) { upload_to(LIST_HASH); }
Test(mirror, upload_list_only_without_checksums) { upload_to(LIST_PLAIN); }
Test(mirror, download_dos_list) { download_from(LIST_DOS); }
Test(mirror, upload_dos_list) { upload_to(LIST_DOS); }

/* How many "*.part" files the tree under base holds. */
static int parts_below(const char *base)
{
    struct dirent **list;
    int n = scandir(base, &list, NULL, alphasort);
    cr_assert(n >= 0, "scandir %s", base);
    int parts = 0;
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        size_t len = strlen(name);
        struct stat st;
        char p[2048]; /* own buffer: ftpt_path's rotate under recursion */
        snprintf(p, sizeof p, "%s/%s", base, name);
        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0 && lstat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                parts += parts_below(p);
            else if (len > 5 && strcmp(name + len - 5, ".part") == 0)
                parts++;
        }
        free(list[i]);
    }
    free(list);
    return parts;
}

/* The tree of the cut tests: make_tree's, with a 3 MiB a/one.bin, and four
 * files of 2 MiB. */
static void make_cut_tree(const char *base, uint32_t seed)
{
    make_tree(base, 3u << 20);
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "big%d.bin", i);
        ftpt_make_file(ftpt_path(base, name), 2u << 20, (uint32_t)i + seed);
    }
}

/* A --parallel 3 download from the running srv, whose /src is server_src,
 * cut by the proxy, then run again directly: the cut file resumes. */
static void cut_download_cycle(const char *server_src)
{
    make_cut_tree(server_src, 100);
    /* The session that has moved 1.5 MiB loses its connections: inside the
     * first big file it moves whatever the order (the small files add up to
     * less than 80 KiB, every big one is 2 MiB or more), so a part is left. */
    ftpt_proxy_start(&proxy, &srv, (3l << 20) / 2);
    ftpt_run *r = ftpt_client(NULL, "--retries", "0", proxy.url, "mirror", "--parallel",
                              "3", "/src", dst, NULL);
    cr_assert_eq(r->code, 1, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "sockserv-ftp: mirror: get "), "%s", r->err);
    cr_assert(strstr(r->err, " failed;"), "%s", r->err);
    cr_assert(strstr(r->err, "verified sha256"), "the others went on: %s", r->err);
    free(r);
    /* The file cut in the middle is kept for the next run. */
    int parts = parts_below(dst);
    cr_assert_eq(parts, 1, "%d .part files left by the cut, not 1", parts);

    r = mirror_run(srv.url, "--parallel", "3", "/src", dst);
    OK(r);
    cr_assert(strstr(r->err, "resum"), "nothing was resumed: %s", r->err);
    cr_assert(strstr(r->err, "0 failed"), "%s", r->err);
    free(r);
    same_tree(server_src, dst, true);
}

/* The same upward: local/src to the server's /dst, which is server_dst. */
static void cut_upload_cycle(const char *server_dst)
{
    char lsrc[700];
    snprintf(lsrc, sizeof lsrc, "%s/src", local);
    make_cut_tree(lsrc, 200);
    ftpt_proxy_start(&proxy, &srv, (3l << 20) / 2); /* as above */
    ftpt_run *r = ftpt_client(NULL, "--retries", "0", proxy.url, "mirror", "-R",
                              "--parallel", "3", "/dst", lsrc, NULL);
    cr_assert_eq(r->code, 1, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "sockserv-ftp: mirror: put "), "%s", r->err);
    free(r);

    r = ftpt_client(NULL, srv.url, "mirror", "-R", "--parallel", "3", "/dst", lsrc, NULL);
    OK(r);
    cr_assert(strstr(r->err, "resuming upload at byte"), "nothing was resumed: %s",
              r->err);
    cr_assert(strstr(r->err, "0 failed"), "%s", r->err);
    free(r);
    same_tree(lsrc, server_dst, true);
}

Test(mirror, parallel_mirror_cut_midway_completes_when_run_again)
{
    ftpt_server_start(&srv, root, NULL);
    cut_download_cycle(src);
}

Test(mirror, parallel_upload_cut_midway_completes_when_run_again)
{
    ftpt_server_start(&srv, root, NULL);
    char rdst[700];
    snprintf(rdst, sizeof rdst, "%s/dst", root);
    cut_upload_cycle(rdst);
}

/* lftp's mirror on the same trees gives the same result, both ways. */
static void like_lftp(const char *const *mode)
{
    ftpt_server_start(&srv, root, mode);
    char ours[700], theirs[700], lsrc[700];
    snprintf(ours, sizeof ours, "%s/ours", local);
    snprintf(theirs, sizeof theirs, "%s/theirs", local);
    snprintf(lsrc, sizeof lsrc, "%s/lsrc", local);
    make_tree(src, 300000);
    make_tree(lsrc, 200000);

    char url[300], cmd[2048];
    snprintf(url, sizeof url, "ftp://%s", srv.addr);
    snprintf(cmd, sizeof cmd,
             "set cmd:fail-exit yes; set net:max-retries 1; mirror /src '%s'; "
             "mirror -R '%s' /theirs_up; quit", theirs, lsrc);
    char *argv[] = {"/usr/bin/lftp", "-u", "alice,secret", "-e", cmd, url, NULL};
    ftpt_run *r = ftpt_runv(NULL, argv);
    cr_assert_eq(r->code, 0, "lftp exit %d: %s%s", r->code, r->out, r->err);
    free(r);

    r = mirror_run(srv.url, "/src", ours, NULL, NULL);
    OK(r);
    free(r);
    r = mirror_run(srv.url, "-R", "/ours_up", lsrc, NULL);
    OK(r);
    free(r);
    cr_assert_eq(same_tree(theirs, ours, true), 13);
    cr_assert_eq(same_tree(ftpt_path(root, "theirs_up"), ftpt_path(root, "ours_up"),
                           false), 13);
}

Test(mirror, same_result_as_lftp_with_mlsd) { like_lftp(MLSD_HASH); }
Test(mirror, same_result_as_lftp_with_list_only) { like_lftp(LIST_PLAIN); }

Test(mirror, local_symlinks_are_replaced_or_deleted_never_followed)
{
    ftpt_server_start(&srv, root, NULL);
    char outside[700];
    snprintf(outside, sizeof outside, "%s/outside", dir);
    make_tree(src, 1000);
    cr_assert_eq(mkdir(outside, 0755), 0);
    ftpt_make_file(ftpt_path(outside, "keep.txt"), 10, 5);
    ftpt_make_file(ftpt_path(outside, "top.txt"), 10, 6);
    cr_assert_eq(mkdir(dst, 0755), 0);
    /* Where the source has a directory and a file, links to outside. */
    cr_assert_eq(symlink(outside, ftpt_path(dst, "a")), 0);
    cr_assert_eq(symlink(ftpt_path(outside, "top.txt"), ftpt_path(dst, "top.txt")), 0);
    /* And links the source does not have at all. */
    cr_assert_eq(symlink(outside, ftpt_path(dst, "stray")), 0);
    cr_assert_eq(symlink(ftpt_path(outside, "keep.txt"), ftpt_path(dst, "stray.txt")), 0);

    ftpt_run *r = mirror_run(srv.url, "--delete", "/src", dst, NULL);
    OK(r);
    free(r);
    same_tree(src, dst, true);
    char check[700];
    snprintf(check, sizeof check, "%s/check", dir);
    cr_assert_eq(mkdir(check, 0755), 0);
    ftpt_make_file(ftpt_path(check, "keep.txt"), 10, 5);
    ftpt_make_file(ftpt_path(check, "top.txt"), 10, 6);
    same_tree(check, outside, false); /* untouched, nothing added */
}

Test(mirror, dry_run_prints_the_plan_and_changes_nothing)
{
    ftpt_server_start(&srv, root, NULL);
    make_tree(src, 1000);
    ftpt_run *r = mirror_run(srv.url, "--dry-run", "/src", dst, NULL);
    OK(r);
    cr_assert(strstr(r->out, "mkdir a/b/c\n"), "%s", r->out);
    cr_assert(strstr(r->out, "mkdir empty\n"), "%s", r->out);
    cr_assert(strstr(r->out, "get sp ace/file one.txt\n"), "%s", r->out);
    cr_assert_eq(ftpt_lines(r->out), 13, "%s", r->out);
    cr_assert(strstr(r->err, "would copy 6"), "%s", r->err);
    free(r);
    cr_assert(!exists(dst));
}

Test(mirror, exclude_skips_files_and_directories)
{
    ftpt_server_start(&srv, root, NULL);
    make_tree(src, 1000);
    ftpt_run *r = ftpt_client(NULL, srv.url, "mirror", "--exclude", "*.bin", "--exclude",
                              "sp ace", "/src", dst, NULL);
    OK(r);
    cr_assert(strstr(r->err, "3 copied"), "%s", r->err);
    free(r);
    cr_assert(!exists(ftpt_path(dst, "a/one.bin")));
    cr_assert(!exists(ftpt_path(dst, "sp ace")));
    cr_assert(exists(ftpt_path(dst, "a/b/c/deep.txt")));
    /* --delete leaves excluded things alone on the target too, and the
     * directories that hold them. */
    ftpt_make_file(ftpt_path(dst, "local.bin"), 10, 1);
    cr_assert_eq(mkdir(ftpt_path(dst, "gone"), 0755), 0);
    cr_assert_eq(mkdir(ftpt_path(dst, "gone/deeper"), 0755), 0);
    ftpt_make_file(ftpt_path(dst, "gone/deeper/keep.bin"), 10, 2);
    ftpt_make_file(ftpt_path(dst, "gone/drop.txt"), 10, 3);
    r = ftpt_client(NULL, srv.url, "mirror", "--delete", "--exclude", "*.bin", "--exclude",
                    "sp ace", "/src", dst, NULL);
    OK(r);
    cr_assert(strstr(r->err, "1 deleted, 0 failed"), "%s", r->err);
    free(r);
    cr_assert(exists(ftpt_path(dst, "local.bin")));
    cr_assert(exists(ftpt_path(dst, "gone/deeper/keep.bin")));
    cr_assert(!exists(ftpt_path(dst, "gone/drop.txt")));
}

Test(mirror, verify_finds_a_change_that_keeps_size_and_time)
{
    ftpt_server_start(&srv, root, NULL);
    make_tree(src, 1000);
    ftpt_run *r = mirror_run(srv.url, "/src", dst, NULL, NULL);
    OK(r);
    free(r);
    const char *f = ftpt_path(dst, "sp ace/file one.txt");
    ftpt_make_file(f, 50, 4242);
    set_time(f, OLD_TIME);
    r = mirror_run(srv.url, "/src", dst, NULL, NULL);
    OK(r);
    cr_assert(strstr(r->err, "nothing transferred"), "%s", r->err);
    free(r);
    r = mirror_run(srv.url, "--verify", "/src", dst, NULL);
    OK(r);
    cr_assert(strstr(r->err, "1 copied, 5 unchanged"), "%s", r->err);
    free(r);
    same_tree(src, dst, true);
}

Test(mirror, terminal_shows_one_line_for_the_mirror_and_the_files_in_flight)
{
    const char *const paced[] = {"--throttle", "262144", NULL};
    ftpt_server_start(&srv, root, paced);
    make_tree(src, 600000);
    ftpt_make_file(ftpt_path(src, "two.bin"), 600000, 77);
    char *argv[] = {"/usr/bin/python3", (char *)ftpt_script("ptyrun.py"),
                    (char *)ftpt_client_path(), srv.url, "mirror", "--parallel", "2",
                    "/src", dst, NULL};
    ftpt_run *r = ftpt_runv(NULL, argv);
    OK(r);
    cr_assert(strstr(r->out, "mirror: 0/7 files, 0 B/"), "%s", r->out);
    cr_assert(strstr(r->out, "ETA"), "%s", r->out);
    cr_assert(strstr(r->out, "\n  one.bin") || strstr(r->out, "\n  a/one.bin"), "%s",
              r->out);
    cr_assert(strstr(r->out, "\n  two.bin"), "%s", r->out);
    cr_assert(strstr(r->out, "7 copied, 0 unchanged, 0 deleted, 0 failed"), "%s", r->out);
    free(r);
    same_tree(src, dst, true);
}

/* Against our own server: both ways with times kept (MFMT on upload), and
 * the unchanged second run. */
static char home[700];

static void ftpd_setup(void)
{
    setup();
    if (!ftpt_ftpd_built())
        cr_skip_test("sockserv-ftpd is not built");
    snprintf(home, sizeof home, "%s/home/alice", dir);
    ftpt_ftpd_start(&srv, dir, home);
}

TestSuite(mirror_ftpd, .init = ftpd_setup, .fini = teardown, .timeout = 240);

Test(mirror_ftpd, both_ways_and_unchanged_second_runs)
{
    char hsrc[800], up[800];
    snprintf(hsrc, sizeof hsrc, "%s/src", home);
    snprintf(up, sizeof up, "%s/up", home);
    make_tree(hsrc, 300000);
    ftpt_run *r = mirror_run(srv.url, "--parallel", "2", "/src", dst);
    OK(r);
    cr_assert(strstr(r->err, "6 copied"), "%s", r->err);
    cr_assert(strstr(r->err, "verified sha256"), "%s", r->err);
    free(r);
    same_tree(hsrc, dst, true);
    uint64_t before = tree_stamp(dst);
    r = mirror_run(srv.url, "/src", dst, NULL, NULL);
    OK(r);
    cr_assert(strstr(r->err, "nothing transferred"), "%s", r->err);
    free(r);
    cr_assert_eq(tree_stamp(dst), before, "the unchanged run wrote to %s", dst);

    r = mirror_run(srv.url, "-R", "/up", dst, NULL);
    OK(r);
    cr_assert(strstr(r->err, "6 copied"), "%s", r->err);
    free(r);
    /* sockserv-ftpd has MFMT: the uploaded files keep the local times. */
    same_tree(dst, up, true);
    before = tree_stamp(up);
    r = mirror_run(srv.url, "-R", "/up", dst, NULL);
    OK(r);
    cr_assert(strstr(r->err, "nothing transferred"), "%s", r->err);
    free(r);
    cr_assert_eq(tree_stamp(up), before, "the unchanged run wrote to %s", up);

    remove_some(dst);
    r = mirror_run(srv.url, "-R", "--delete", "/up", dst);
    OK(r);
    cr_assert(strstr(r->err, "4 deleted, 0 failed"), "%s", r->err);
    free(r);
    same_tree(dst, up, true);
}

/* home/name, in a buffer of its own (the cycles use ftpt_path's). */
static const char *in_home(const char *name)
{
    static char buf[900];
    snprintf(buf, sizeof buf, "%s/%s", home, name);
    return buf;
}

/* The same cycles as against pyftpdlib: the unchanged second run, files
 * changed on either side, --delete, and the cut parallel mirrors. */
Test(mirror_ftpd, download_changes_and_delete) { download_cycle(in_home("src")); }
Test(mirror_ftpd, upload_changes_and_delete) { upload_cycle(in_home("dst")); }

Test(mirror_ftpd, parallel_mirror_cut_midway_completes_when_run_again)
{
    cut_download_cycle(in_home("src"));
}

Test(mirror_ftpd, parallel_upload_cut_midway_completes_when_run_again)
{
    cut_upload_cycle(in_home("dst"));
}

Test(mirror, bad_arguments_are_refused_before_connecting)
{
    /* Port 1: nothing listens, so only a check before connecting gives 2. */
    ftpt_run *r = ftpt_client(NULL, "127.0.0.1:1", "mirror", "--parallel", "0", "/x", NULL);
    cr_assert_eq(r->code, 2, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "--parallel wants 1 to 16"), "%s", r->err);
    free(r);
    r = ftpt_client(NULL, "127.0.0.1:1", "mirror", "--bogus", "/x", NULL);
    cr_assert_eq(r->code, 2, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "unknown option --bogus"), "%s", r->err);
    free(r);
    r = ftpt_client(NULL, "127.0.0.1:1", "mirror", "--delete", NULL);
    cr_assert_eq(r->code, 2, "exit %d: %s", r->code, r->err);
    free(r);
}
