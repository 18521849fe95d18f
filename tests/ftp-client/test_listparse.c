/* tests/ftp-client/test_listparse.c - listing lines into entries: MLSD,
 * Unix and DOS LIST, and names that must never be followed. */
#include <criterion/criterion.h>
#include <string.h>

#include "listparse.h"

#define NOW 1796396400 /* 2026-12-04 15:00:00 UTC */

Test(listparse, mlsd_facts_and_a_name_with_spaces_and_semicolons)
{
    ftpc_entry e;
    cr_assert_eq(ftpc_parse_mlsd("modify=20210304050607;perm=r;size=1234;type=file; "
                                 "a b;c.txt", &e), 1);
    cr_assert_str_eq(e.name, "a b;c.txt");
    cr_assert_eq(e.type, FTPC_ENT_FILE);
    cr_assert_eq(e.size, 1234);
    cr_assert_eq(e.mtime, 1614834367);
    cr_assert_eq(e.mtime_prec, 1);
    cr_assert_eq(ftpc_parse_mlsd("Type=dir;Modify=20210304050607.123; \xc3\xa9t\xc3\xa9",
                                 &e), 1);
    cr_assert_eq(e.type, FTPC_ENT_DIR);
    cr_assert_str_eq(e.name, "\xc3\xa9t\xc3\xa9");
    cr_assert_eq(e.mtime, 1614834367);
    cr_assert_eq(ftpc_parse_mlsd("type=OS.unix=symlink;size=3; l", &e), 1);
    cr_assert_eq(e.type, FTPC_ENT_LINK);
}

Test(listparse, mlsd_skips_cdir_pdir_and_refuses_names_leaving_the_directory)
{
    ftpc_entry e;
    cr_assert_eq(ftpc_parse_mlsd("type=cdir;modify=20210304050607; /x", &e), 0);
    cr_assert_eq(ftpc_parse_mlsd("type=pdir; ..", &e), 0);
    cr_assert_eq(ftpc_parse_mlsd("type=dir; ..", &e), 0);
    cr_assert_eq(ftpc_parse_mlsd("type=file; ../etc/passwd", &e), -1);
    cr_assert_eq(ftpc_parse_mlsd("type=file; /etc/passwd", &e), -1);
    cr_assert_eq(ftpc_parse_mlsd("type=file; a/b", &e), -1);
    cr_assert_eq(ftpc_parse_mlsd("type=file; a\rb", &e), 1); /* CR ends the line */
    cr_assert_str_eq(e.name, "a");
    cr_assert_eq(ftpc_parse_mlsd("type=file; ", &e), -1);
    cr_assert_eq(ftpc_parse_mlsd("no facts here", &e), -1);
}

Test(listparse, unix_list_recent_and_old_times)
{
    ftpc_entry e;
    cr_assert_eq(ftpc_parse_list("-rw-r--r--   1 owner group    7045120 Sep 02 03:47 "
                                 "music file.mp3", NOW, &e), 1);
    cr_assert_str_eq(e.name, "music file.mp3");
    cr_assert_eq(e.type, FTPC_ENT_FILE);
    cr_assert_eq(e.size, 7045120);
    cr_assert_eq(e.mtime, 1788320820); /* 2026-09-02 03:47 */
    cr_assert_eq(e.mtime_prec, 60);
    /* A December date seen in January is last year's. */
    cr_assert_eq(ftpc_parse_list("drwxr-xr-x 2 u g 4096 Dec 31 23:59 d", 1798761600 + 86400 * 3,
                                 &e), 1);
    cr_assert_eq(e.mtime, 1798761540);
    cr_assert_eq(ftpc_parse_list("-rw-r--r-- 1 ftp ftp 10 Mar  4  2021 old.txt", NOW, &e), 1);
    cr_assert_eq(e.mtime, 1614816000);
    cr_assert_eq(e.mtime_prec, 86400);
    /* No group column, a numeric owner. */
    cr_assert_eq(ftpc_parse_list("-rw-r--r-- 1 1001 55 Jan  1 00:00  two  spaces ", NOW,
                                 &e), 1);
    cr_assert_str_eq(e.name, "two  spaces ");
    cr_assert_eq(e.size, 55);
    cr_assert_eq(ftpc_parse_list("lrwxrwxrwx 1 u g 7 Jan  1 00:00 link -> target", NOW, &e),
                 1);
    cr_assert_eq(e.type, FTPC_ENT_LINK);
    cr_assert_str_eq(e.name, "link");
}

Test(listparse, unix_list_skips_and_refuses)
{
    ftpc_entry e;
    cr_assert_eq(ftpc_parse_list("total 12", NOW, &e), 0);
    cr_assert_eq(ftpc_parse_list("", NOW, &e), 0);
    cr_assert_eq(ftpc_parse_list("drwxr-xr-x 2 u g 4096 Dec  1 10:00 .", NOW, &e), 0);
    cr_assert_eq(ftpc_parse_list("drwxr-xr-x 2 u g 4096 Dec  1 10:00 ..", NOW, &e), 0);
    cr_assert_eq(ftpc_parse_list("-rw-r--r-- 1 u g 1 Dec  1 10:00 ../x", NOW, &e), -1);
    cr_assert_eq(ftpc_parse_list("-rw-r--r-- 1 u g 1 Dec  1 10:00 /etc/x", NOW, &e), -1);
    cr_assert_eq(ftpc_parse_list("garbage line", NOW, &e), -1);
}

Test(listparse, dos_list)
{
    ftpc_entry e;
    cr_assert_eq(ftpc_parse_list("12-04-26  02:50PM       <DIR>          My Dir", NOW, &e), 1);
    cr_assert_eq(e.type, FTPC_ENT_DIR);
    cr_assert_str_eq(e.name, "My Dir");
    cr_assert_eq(e.mtime, 1796395800); /* 2026-12-04 14:50 */
    cr_assert_eq(ftpc_parse_list("03-04-2021  12:05AM            1,234 a b.txt", NOW, &e), 1);
    cr_assert_eq(e.type, FTPC_ENT_FILE);
    cr_assert_eq(e.size, 1234);
    cr_assert_str_eq(e.name, "a b.txt");
    cr_assert_eq(e.mtime, 1614816300);
    cr_assert_eq(ftpc_parse_list("03-04-2021  12:05  5 ..", NOW, &e), 0);
}

Test(listparse, time14_both_ways)
{
    char buf[15];
    ftpc_format_time14(1614834367, buf);
    cr_assert_str_eq(buf, "20210304050607");
    cr_assert_eq(ftpc_parse_time14("20210304050607"), 1614834367);
    cr_assert_eq(ftpc_parse_time14("2021030405060"), -1);
    cr_assert_eq(ftpc_parse_time14("20211304050607"), -1);
}
