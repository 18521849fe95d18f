/* tests/ftpd/test_security.c - a user sees only the home: '..', absolute
 * paths, symlinks out (refused) and in (followed), NUL bytes, reply
 * injection through names; passive connections only from the client. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ftx.h"

static ftx_server srv;
static char secret_path[1024];

static void setup_srv(void)
{
    ftx_init(&srv, "ftpd-sec");
    ftx_add_user(&srv, "alice", "secret", "10M");
    ftx_add_user(&srv, "bob", "bobpw", "10M");
    snprintf(secret_path, sizeof secret_path, "%s/outside.txt", srv.dir);
    ftx_write_file(secret_path, "TOP SECRET", 10);
    ftx_write_file(ftx_home_path(&srv, "bob", "bob.txt"), "bob's", 5);
    cr_assert_eq(symlink(secret_path, ftx_home_path(&srv, "alice", "out")), 0);
    cr_assert_eq(symlink("../bob", ftx_home_path(&srv, "alice", "tobob")), 0);
    cr_assert_eq(mkdir(ftx_home_path(&srv, "alice", "in"), 0755), 0);
    ftx_write_file(ftx_home_path(&srv, "alice", "in/inside.txt"), "fine", 4);
    cr_assert_eq(symlink("in/inside.txt", ftx_home_path(&srv, "alice", "link")), 0);
    cr_assert_eq(symlink("/etc", ftx_home_path(&srv, "alice", "etc")), 0);
    ftx_start(&srv, NULL);
}

static void teardown(void) { ftx_stop(&srv, true); }

TestSuite(security, .init = setup_srv, .fini = teardown, .timeout = 60);

static void login(ftc *c)
{
    ftc_open(c, &srv);
    ftc_login(c, "alice", "secret");
    cr_assert_eq(ftc_cmd(c, "TYPE I"), 200);
}

static void expect_no_secret(ftc *c, const char *cmd)
{
    char *out;
    size_t n;
    int code = ftc_get(c, cmd, &out, &n);
    cr_expect(code >= 500 || (code == 226 && !memmem(out, n, "TOP SECRET", 10) &&
                              !memmem(out, n, "bob's", 5) &&
                              !memmem(out, n, "root:", 5)),
              "%s -> %d", cmd, code);
    free(out);
}

Test(security, dotdot_and_absolute_paths_stay_home)
{
    ftc c;
    login(&c);
    cr_expect_eq(ftc_cmd(&c, "CWD ../../.."), 250, "clamped at /");
    cr_expect_eq(ftc_cmd(&c, "PWD"), 257);
    cr_expect(strstr(c.reply, "\"/\""), "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "CWD /etc"), 550, "host /etc is not reachable: %s",
                 c.reply);
    expect_no_secret(&c, "RETR ../outside.txt");
    expect_no_secret(&c, "RETR ../../outside.txt");
    expect_no_secret(&c, "RETR /../outside.txt");
    expect_no_secret(&c, "RETR ../bob/bob.txt");
    expect_no_secret(&c, "RETR /etc/passwd");
    expect_no_secret(&c, "LIST ../..");
    cr_expect_eq(ftc_cmd(&c, "SIZE ../bob/bob.txt"), 550);
    cr_expect_eq(ftc_cmd(&c, "MKD ../escape"), 257, "made inside: %s", c.reply);
    struct stat st;
    cr_expect_neq(stat(ftx_home_path(&srv, "escape", NULL), &st), 0);
    cr_expect_eq(stat(ftx_home_path(&srv, "alice", "escape"), &st), 0);
    cr_expect_eq(ftc_put(&c, "STOR ../../planted", "x", 1), 226);
    cr_expect_eq(ftx_file_size(ftx_home_path(&srv, "alice", "planted")), 1);
    ftc_close(&c);
}

Test(security, symlinks_out_refused_in_followed)
{
    ftc c;
    login(&c);
    expect_no_secret(&c, "RETR out");
    cr_expect_eq(ftc_cmd(&c, "CWD tobob"), 550, "%s", c.reply);
    expect_no_secret(&c, "RETR tobob/bob.txt");
    cr_expect_eq(ftc_cmd(&c, "CWD etc"), 550);
    expect_no_secret(&c, "RETR etc/passwd");
    cr_expect_neq(ftc_put(&c, "STOR out", "overwrite", 9), 226);
    size_t n;
    char *s = ftx_read_file(secret_path, &n);
    cr_expect_str_eq(s, "TOP SECRET", "outside file untouched");
    free(s);
    char *out;
    cr_expect_eq(ftc_get(&c, "RETR link", &out, &n), 226, "inside link works");
    cr_expect(n == 4 && !memcmp(out, "fine", 4));
    free(out);
    /* DELE of a link removes the link, never the target */
    cr_expect_eq(ftc_cmd(&c, "DELE out"), 250);
    cr_expect_eq(ftx_file_size(secret_path), 10);
    ftc_close(&c);
}

Test(security, nul_and_crlf_in_names)
{
    ftc c;
    login(&c);
    ftc_send_raw(&c, "RETR in/inside.txt\0../../outside.txt\r\n", 39);
    cr_expect_geq(ftc_reply(&c), 500, "NUL inside a path: %s", c.reply);
    ftc_send_raw(&c, "MKD a\0b\r\n", 9);
    cr_expect_geq(ftc_reply(&c), 500);
    /* a name with a CR cannot inject a reply line */
    ftc_send_raw(&c, "MKD x\r200 fake\r\n", 16);
    int code = ftc_reply(&c);
    cr_expect(code == 257 || code >= 500, "%s", c.reply);
    cr_expect(!strstr(c.reply, "\r\n200 fake"), "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "NOOP"), 200, "still in step");
    ftc_close(&c);
}

Test(security, passive_connection_only_from_the_client_host)
{
    ftc c;
    login(&c);
    cr_assert_eq(ftc_cmd(&c, "EPSV"), 229);
    int port = atoi(strstr(c.reply, "(|||") + 4);
    /* connect from 127.0.0.2: another host as far as the server knows */
    int thief = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in from = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.2", &from.sin_addr);
    cr_assert_eq(bind(thief, (struct sockaddr *)&from, sizeof from), 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    cr_assert_eq(connect(thief, (struct sockaddr *)&to, sizeof to), 0);
    ftx_write_file(ftx_home_path(&srv, "alice", "data.txt"), "mine", 4);
    int d = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(connect(d, (struct sockaddr *)&to, sizeof to), 0);
    cr_assert_eq(ftc_cmd(&c, "RETR data.txt"), 150, "%s", c.reply);
    char buf[16];
    cr_expect_eq(ts_read_full(d, buf, sizeof buf), 4, "the client gets the data");
    cr_expect_eq(ftc_reply(&c), 226);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(thief, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_expect_leq(read(thief, buf, sizeof buf), 0, "the thief gets nothing");
    close(d);
    close(thief);
    ftc_close(&c);
}
