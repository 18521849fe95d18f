/* tests/ftpd-units/test_listing.c - LIST lines parse back as `ls -l` lines,
 * MLSD facts parse back per RFC 3659, and listings stream entry by entry. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "protocol/listing.h"
#include "units.h"

static char top[PATH_MAX], home[PATH_MAX];
static ftpd_vfs vfs;
static time_t recent, old;

static void set_mtime(const char *rel, time_t t)
{
    char p[PATH_MAX];
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, u_path(p, sizeof p, "%s/%s", home, rel), ts,
                           AT_SYMLINK_NOFOLLOW), 0);
}

static void setup(void)
{
    u_tmpdir("listing", top, sizeof top);
    u_path(home, sizeof home, "%s/home", top);
    char p[PATH_MAX];
    u_mkdirs(u_path(p, sizeof p, "%s/sub", home));
    u_write(u_path(p, sizeof p, "%s/recent.txt", home), "12345", (size_t)-1);
    u_write(u_path(p, sizeof p, "%s/old file.bin", home), "1234567890", (size_t)-1);
    u_write(u_path(p, sizeof p, "%s/.hidden", home), "h", (size_t)-1);
    u_write(u_path(p, sizeof p, "%s/bad\nname", home), "b", (size_t)-1);
    cr_assert_eq(symlink("recent.txt", u_path(p, sizeof p, "%s/link", home)), 0);
    recent = time(NULL) - 3600;
    old = time(NULL) - 400 * 24 * 3600;
    set_mtime("recent.txt", recent);
    set_mtime("old file.bin", old);
    cr_assert_eq(ftpd_vfs_init(&vfs, home), 0);
}

static void teardown(void)
{
    ftpd_vfs_close(&vfs);
    u_cleanup(top);
}

TestSuite(listing, .init = setup, .fini = teardown, .timeout = 60);

struct sink {
    char lines[64][FTPD_LIST_LINE_MAX];
    int n;
    int calls;
    int fail_after;     /* return -EPIPE on this call (0: never) */
};

static int collect(void *ctx, const char *line, size_t len)
{
    struct sink *s = ctx;
    s->calls++;
    if (s->fail_after && s->calls >= s->fail_after)
        return -EPIPE;
    cr_assert(len >= 2 && line[len - 2] == '\r' && line[len - 1] == '\n', "CRLF");
    cr_assert(len < FTPD_LIST_LINE_MAX);
    cr_assert_eq(strlen(line), len, "one line, no NUL inside");
    if (s->n < 64) {
        memcpy(s->lines[s->n], line, len - 2);
        s->lines[s->n][len - 2] = '\0';
        s->n++;
    }
    return 0;
}

static const char *find(struct sink *s, const char *suffix)
{
    for (int i = 0; i < s->n; i++) {
        size_t a = strlen(s->lines[i]), b = strlen(suffix);
        if (a >= b && strcmp(s->lines[i] + a - b, suffix) == 0)
            return s->lines[i];
    }
    return NULL;
}

/* Parses an ls -l line the way FTP clients do. */
struct ls_line {
    char perms[16], owner[32], group[32], mon[8], when[8], name[256];
    unsigned long links;
    long long size;
    int day;
};

static void parse_ls(const char *line, struct ls_line *l)
{
    int used = 0;
    int k = sscanf(line, "%15s %lu %31s %31s %lld %7s %d %7s %n", l->perms, &l->links,
                   l->owner, l->group, &l->size, l->mon, &l->day, l->when, &used);
    cr_assert_eq(k, 8, "unparsable LIST line '%s'", line);
    strcpy(l->name, line + used);
}

Test(listing, list_lines_parse_back_like_ls)
{
    struct sink s = {0};
    long n = ftpd_list_dir(&vfs, "/", FTPD_VFS_CSTR, FTPD_LIST_LONG, 0, 0, collect, &s);
    cr_assert_eq(n, 4, "recent, old, sub, link (no dot file, no bad name): %ld", n);
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct ls_line l;
    struct tm tm;

    const char *line = find(&s, " recent.txt");
    cr_assert(line);
    parse_ls(line, &l);
    cr_expect_str_eq(l.perms, "-rw-r--r--");
    cr_expect_eq(l.links, 1);
    cr_expect_eq(l.size, 5);
    cr_expect_str_eq(l.name, "recent.txt");
    gmtime_r(&recent, &tm);
    cr_expect_str_eq(l.mon, mon[tm.tm_mon]);
    cr_expect_eq(l.day, tm.tm_mday);
    char hm[16];
    snprintf(hm, sizeof hm, "%02d:%02d", tm.tm_hour, tm.tm_min);
    cr_expect_str_eq(l.when, hm, "recent files show the time");

    line = find(&s, " old file.bin");
    cr_assert(line);
    parse_ls(line, &l);
    cr_expect_str_eq(l.name, "old file.bin", "names with spaces survive");
    cr_expect_eq(l.size, 10);
    gmtime_r(&old, &tm);
    char year[16];
    snprintf(year, sizeof year, "%d", tm.tm_year + 1900);
    cr_expect_str_eq(l.when, year, "old files show the year");
    cr_expect(strstr(line, "  ") != NULL);

    line = find(&s, " sub");
    cr_assert(line);
    parse_ls(line, &l);
    cr_expect_eq(l.perms[0], 'd');

    line = find(&s, " link");
    cr_assert(line);
    parse_ls(line, &l);
    cr_expect_eq(l.perms[0], 'l');
    cr_expect_null(strstr(line, "->"), "link targets are not shown");
}

Test(listing, dot_files_only_with_all_and_bad_names_never)
{
    struct sink s = {0};
    cr_assert_eq(ftpd_list_dir(&vfs, "", 0, FTPD_LIST_NAMES, FTPD_LIST_ALL, 0, collect, &s), 5);
    cr_expect(find(&s, ".hidden"));
    for (int i = 0; i < s.n; i++)
        cr_expect_null(strchr(s.lines[i], '\n'));
    struct sink t = {0};
    cr_assert_eq(ftpd_list_dir(&vfs, "", 0, FTPD_LIST_NAMES, 0, 0, collect, &t), 4);
    cr_expect_null(find(&t, ".hidden"));
    cr_expect(find(&t, "old file.bin"));
}

Test(listing, mlsd_facts_parse_back)
{
    struct sink s = {0};
    long n = ftpd_list_dir(&vfs, "/", FTPD_VFS_CSTR, FTPD_LIST_MLSD, 0, FTPD_MLST_DEFAULT,
                           collect, &s);
    cr_assert_eq(n, 6, "cdir, pdir and 4 entries: %ld", n);
    bool cdir = false, pdir = false;
    char uniques[8][64];
    int nu = 0;
    for (int i = 0; i < s.n; i++) {
        char *sp = strstr(s.lines[i], "; ");
        cr_assert(sp, "facts end with '; ': %s", s.lines[i]);
        const char *name = sp + 2;
        *sp = '\0';
        char type[32] = "", modify[32] = "", uniq[64] = "", perm[16] = "";
        long long size = -1;
        for (char *save, *f = strtok_r(s.lines[i], ";", &save); f; f = strtok_r(NULL, ";", &save)) {
            if (sscanf(f, "type=%31s", type) == 1) continue;
            if (sscanf(f, "size=%lld", &size) == 1) continue;
            if (sscanf(f, "modify=%31s", modify) == 1) continue;
            if (sscanf(f, "perm=%15s", perm) == 1) continue;
            if (sscanf(f, "unique=%63s", uniq) == 1) continue;
            cr_assert_fail("unknown fact %s", f);
        }
        cr_expect_eq(strlen(modify), 14, "%s", name);
        cr_expect_neq(perm[0], '\0');
        cr_assert_lt(nu, 8);
        strcpy(uniques[nu++], uniq);
        if (strcmp(type, "cdir") == 0) cdir = true;
        if (strcmp(type, "pdir") == 0) pdir = true;
        if (strcmp(name, "recent.txt") == 0) {
            cr_expect_str_eq(type, "file");
            cr_expect_eq(size, 5);
            struct tm tm;
            gmtime_r(&recent, &tm);
            char want[32];
            strftime(want, sizeof want, "%Y%m%d%H%M%S", &tm);
            cr_expect_str_eq(modify, want, "modify is UTC");
            cr_expect_str_eq(perm, "adfrw");
        }
        if (strcmp(name, "sub") == 0) {
            cr_expect_str_eq(type, "dir");
            cr_expect_eq(size, -1, "no size fact for directories");
        }
    }
    cr_expect(cdir && pdir);
    /* The home is its own parent: cdir and pdir share an id, entries do not. */
    for (int i = 2; i < nu; i++)
        for (int j = i + 1; j < nu; j++)
            cr_expect_str_neq(uniques[i], uniques[j]);
}

Test(listing, single_file_and_mlst)
{
    struct sink s = {0};
    cr_assert_eq(ftpd_list_path(&vfs, "sub/../recent.txt", FTPD_VFS_CSTR, FTPD_LIST_LONG, 0, 0, collect, &s), 1);
    cr_expect(find(&s, " sub/../recent.txt"));
    cr_assert_eq(ftpd_list_path(&vfs, "sub", FTPD_VFS_CSTR, FTPD_LIST_LONG, 0, 0, collect, &s), 0);
    cr_expect_eq(ftpd_list_path(&vfs, "nope", FTPD_VFS_CSTR, FTPD_LIST_LONG, 0, 0, collect, &s), -ENOENT);
    cr_expect_eq(ftpd_list_dir(&vfs, "recent.txt", FTPD_VFS_CSTR, FTPD_LIST_LONG, 0, 0, collect, &s), -ENOTDIR);
    char line[FTPD_LIST_LINE_MAX];
    cr_assert_eq(ftpd_vfs_chdir(&vfs, "sub", FTPD_VFS_CSTR), 0);
    int n = ftpd_list_mlst(&vfs, "../recent.txt", FTPD_VFS_CSTR, FTPD_MLST_TYPE | FTPD_MLST_SIZE,
                           line, sizeof line);
    cr_assert_gt(n, 0);
    cr_expect_str_eq(line, "type=file;size=5; /recent.txt\r\n");
    char m[16];
    cr_assert_eq(ftpd_list_mdtm(0, m, sizeof m), 14);
    cr_expect_str_eq(m, "19700101000000");
}

Test(listing, writer_error_stops_the_listing)
{
    char p[PATH_MAX];
    for (int i = 0; i < 300; i++)
        u_write(u_path(p, sizeof p, "%s/sub/f%d", home, i), "", 0);
    struct sink s = {0};
    s.fail_after = 10;
    cr_expect_eq(ftpd_list_dir(&vfs, "sub", FTPD_VFS_CSTR, FTPD_LIST_LONG, 0, 0, collect, &s), -EPIPE);
    cr_expect_eq(s.calls, 10, "no entry is produced after the writer said stop");
    struct sink t = {0};
    cr_expect_eq(ftpd_list_dir(&vfs, "sub", FTPD_VFS_CSTR, FTPD_LIST_NAMES, 0, 0, collect, &t), 300);
    cr_expect_eq(t.calls, 300, "one writer call per entry");
}
