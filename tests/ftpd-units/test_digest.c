/* tests/ftpd-units/test_digest.c - checksums agree with coreutils'
 * sha256sum/sha1sum/md5sum and Python's zlib.crc32, computed at test time on
 * a file generated at test time, whole and over byte ranges. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/digest.h"
#include "units.h"

static char dir[PATH_MAX], file[PATH_MAX];
static int fd = -1;
#define FILE_SIZE (3 * FTPD_DIGEST_CHUNK + 12345)

static void setup(void)
{
    u_tmpdir("digest", dir, sizeof dir);
    u_path(file, sizeof file, "%s/data.bin", dir);
    unsigned char *d = malloc(FILE_SIZE);
    cr_assert(d);
    unsigned seed = 12345;
    for (size_t i = 0; i < FILE_SIZE; i++)
        d[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
    u_write(file, d, FILE_SIZE);
    free(d);
    fd = open(file, O_RDONLY | O_CLOEXEC);
    cr_assert(fd >= 0);
}

static void teardown(void)
{
    if (fd >= 0)
        close(fd);
    u_cleanup(dir);
}

TestSuite(digest, .init = setup, .fini = teardown, .timeout = 60);

/* What the reference tool prints for bytes [start, end) of the file. */
static void reference(const char *tool, long start, long end, char *out, size_t cap)
{
    char cmd[PATH_MAX + 256];
    char *argv[4] = {"/bin/sh", "-c", cmd, NULL};
    if (strcmp(tool, "crc32") == 0) {
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c 'import sys, zlib; d = open(sys.argv[1], \"rb\").read()[%ld:%ld]; "
                 "print(\"%%08x\" %% zlib.crc32(d))' '%s'", start, end, file);
    } else {
        snprintf(cmd, sizeof cmd, "tail -c +%ld '%s' | head -c %ld | %s",
                 start + 1, file, end - start, tool);
    }
    u_run(argv, NULL, out, cap);
    char *sp = strpbrk(out, " \n");
    if (sp)
        *sp = '\0';
}

static void check(enum ftpd_digest_algo algo, const char *tool, long start, long end)
{
    char want[256], got[FTPD_DIGEST_HEX_MAX];
    reference(tool, start, end < 0 ? FILE_SIZE : end, want, sizeof want);
    off_t real_end = -2;
    int n = ftpd_digest_fd(fd, algo, start, end, &real_end, got, sizeof got);
    cr_assert(n > 0, "%s: %d", tool, n);
    cr_expect_str_eq(got, want, "%s over [%ld, %ld)", tool, start, end);
    cr_expect_eq(real_end, end < 0 ? FILE_SIZE : end);
}

Test(digest, whole_file_matches_reference_tools)
{
    check(FTPD_DIGEST_SHA256, "sha256sum", 0, -1);
    check(FTPD_DIGEST_SHA1, "sha1sum", 0, -1);
    check(FTPD_DIGEST_MD5, "md5sum", 0, -1);
    check(FTPD_DIGEST_CRC32, "crc32", 0, -1);
}

Test(digest, byte_ranges_match_reference_tools)
{
    long ranges[][2] = {{1, 2}, {100, FTPD_DIGEST_CHUNK + 7}, {FTPD_DIGEST_CHUNK, 2 * FTPD_DIGEST_CHUNK},
                        {FILE_SIZE - 10, FILE_SIZE}, {5, 5}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        check(FTPD_DIGEST_SHA256, "sha256sum", ranges[i][0], ranges[i][1]);
        check(FTPD_DIGEST_MD5, "md5sum", ranges[i][0], ranges[i][1]);
        check(FTPD_DIGEST_CRC32, "crc32", ranges[i][0], ranges[i][1]);
    }
    check(FTPD_DIGEST_SHA1, "sha1sum", 777, 200000);
}

Test(digest, range_edges)
{
    char hex[FTPD_DIGEST_HEX_MAX];
    off_t end;
    /* An end past the file is clamped to it. */
    cr_expect_gt(ftpd_digest_fd(fd, FTPD_DIGEST_MD5, 0, FILE_SIZE + 1000, &end, hex, sizeof hex), 0);
    cr_expect_eq(end, FILE_SIZE);
    cr_expect_eq(ftpd_digest_fd(fd, FTPD_DIGEST_MD5, 10, 5, NULL, hex, sizeof hex), -ERANGE);
    cr_expect_eq(ftpd_digest_fd(fd, FTPD_DIGEST_MD5, FILE_SIZE + 1, -1, NULL, hex, sizeof hex), -ERANGE);
    cr_expect_eq(ftpd_digest_fd(fd, FTPD_DIGEST_MD5, 0, -1, NULL, hex, 10), -ENOSPC);
    cr_expect_eq(ftpd_digest_fd(-1, FTPD_DIGEST_MD5, 0, -1, NULL, hex, sizeof hex), -EBADF);
    /* The descriptor's own offset is not moved (RETR may share it). */
    cr_expect_eq(lseek(fd, 0, SEEK_CUR), 0);
    cr_expect_eq(ftpd_digest_fd(fd, FTPD_DIGEST_CRC32, 0, 0, NULL, hex, sizeof hex), 8);
    cr_expect_str_eq(hex, "00000000");
}

Test(digest, names)
{
    enum ftpd_digest_algo a;
    cr_expect_eq(ftpd_digest_parse("sha-256", &a), 0);
    cr_expect_eq(a, FTPD_DIGEST_SHA256);
    cr_expect_eq(ftpd_digest_parse("SHA1", &a), 0);
    cr_expect_eq(a, FTPD_DIGEST_SHA1);
    cr_expect_eq(ftpd_digest_parse("md5", &a), 0);
    cr_expect_eq(a, FTPD_DIGEST_MD5);
    cr_expect_eq(ftpd_digest_parse("CRC32", &a), 0);
    cr_expect_eq(a, FTPD_DIGEST_CRC32);
    cr_expect_eq(ftpd_digest_parse("SHA-512", &a), -EINVAL);
    cr_expect_str_eq(ftpd_digest_name(FTPD_DIGEST_SHA256), "SHA-256");
    cr_expect_str_eq(ftpd_digest_name(FTPD_DIGEST_CRC32), "CRC32");
    /* Incremental CRC equals one-shot CRC. */
    const char *s = "The quick brown fox jumps over the lazy dog";
    uint32_t one = ftpd_crc32(0, s, strlen(s));
    uint32_t two = ftpd_crc32(ftpd_crc32(0, s, 10), s + 10, strlen(s) - 10);
    cr_expect_eq(one, two);
}
