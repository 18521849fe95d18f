/* tests/ftpd/test_protocol.c - every command's reply paths, login rules,
 * limits and the program's life cycle (first run, config errors, signals). */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftx.h"

static ftx_server srv;

static void start_alice(void)
{
    ftx_init(&srv, "ftpd-proto");
    ftx_add_user(&srv, "alice", "secret", "10M");
    ftx_start(&srv, NULL);
}

static void stop(void) { ftx_stop(&srv, true); }

TestSuite(protocol, .init = start_alice, .fini = stop, .timeout = 60);

Test(protocol, banner_then_commands_need_login)
{
    ftc c;
    ftc_open(&c, &srv);
    cr_expect_eq(ftc_cmd(&c, "PWD"), 530);
    cr_expect_eq(ftc_cmd(&c, "LIST"), 530);
    cr_expect_eq(ftc_cmd(&c, "RETR x"), 530);
    cr_expect_eq(ftc_cmd(&c, "SYST"), 215);
    cr_expect_eq(ftc_cmd(&c, "NOOP"), 200);
    cr_expect_eq(ftc_cmd(&c, "PASS x"), 503, "PASS before USER");
    cr_expect_eq(ftc_cmd(&c, "QUIT"), 221);
    ftc_close(&c);
}

Test(protocol, syntax_errors_and_unknown_commands)
{
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "secret");
    cr_expect_eq(ftc_cmd(&c, "FOOBAR"), 500);
    cr_expect_eq(ftc_cmd(&c, "ACCT x"), 502);
    cr_expect_eq(ftc_cmd(&c, "REIN"), 502);
    cr_expect_eq(ftc_cmd(&c, "SMNT /"), 502);
    cr_expect_eq(ftc_cmd(&c, "DELE"), 501, "missing argument");
    cr_expect_eq(ftc_cmd(&c, "NOOP extra"), 501, "unexpected argument");
    cr_expect_eq(ftc_cmd(&c, "RNTO x"), 503, "RNTO without RNFR");
    cr_expect_eq(ftc_cmd(&c, "noop"), 200, "verbs are case-insensitive");
    cr_expect_eq(ftc_cmd(&c, "%s", ""), 500, "empty line");
    cr_expect_eq(ftc_cmd(&c, "N\x01OP"), 500);
    /* a line over max_line_length: 500, and the session goes on */
    char big[5000];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_expect_eq(ftc_cmd(&c, "NOOP %s", big), 500);
    cr_expect_eq(ftc_cmd(&c, "NOOP"), 200);
    /* junk bytes, NUL inside, telnet noise */
    ftc_send_raw(&c, "\x00\xff\xfe\x80junk\r\n", 10);
    cr_expect_eq(ftc_reply(&c), 500);
    ftc_send_raw(&c, "\xff\xfb\x01NOOP\r\n", 9);
    cr_expect_eq(ftc_reply(&c), 200, "IAC WILL x is stripped");
    cr_expect_eq(ftc_cmd(&c, "QUIT"), 221);
    ftc_close(&c);
}

Test(protocol, wrong_password_delays_then_disconnects)
{
    ftc c;
    ftc_open(&c, &srv);
    cr_expect_eq(ftc_cmd(&c, "USER nosuchuser"), 331, "same 331 for anyone");
    cr_expect_eq(ftc_cmd(&c, "PASS x"), 530);
    cr_expect_eq(ftc_cmd(&c, "USER alice"), 331);
    cr_expect_eq(ftc_cmd(&c, "PASS wrong"), 530);
    cr_expect_eq(ftc_cmd(&c, "USER alice"), 331);
    cr_expect_eq(ftc_cmd(&c, "PASS wrong"), 421, "third failure disconnects");
    char b;
    cr_expect_eq(read(c.fd, &b, 1), 0, "connection closed");
    ftc_close(&c);
    /* a fresh connection still logs in */
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "secret");
    cr_expect_eq(ftc_cmd(&c, "USER bob"), 530, "no user change after login");
    cr_expect_eq(ftc_cmd(&c, "PASS secret"), 503);
    ftc_close(&c);
}

Test(protocol, feat_help_opts)
{
    ftc c;
    ftc_open(&c, &srv);
    cr_expect_eq(ftc_cmd(&c, "FEAT"), 211);
    const char *want[] = {"\r\n EPSV\r\n", "\r\n MLST type*;size*;", "\r\n SIZE\r\n",
                          "\r\n REST STREAM\r\n", "\r\n UTF8\r\n", "\r\n HASH SHA-256*",
                          "\r\n XSHA256", "\r\n XCRC", "\r\n MDTM\r\n", "\r\n MFMT\r\n", "211 End"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect(strstr(c.reply, want[i]), "FEAT lacks %s: %s", want[i], c.reply);
    cr_expect(!strncmp(c.reply, "211-", 4));
    cr_expect_eq(ftc_cmd(&c, "HELP"), 214);
    cr_expect(strstr(c.reply, "RETR"));
    cr_expect_eq(ftc_cmd(&c, "HELP STOR"), 214);
    cr_expect_eq(ftc_cmd(&c, "OPTS UTF8 ON"), 200);
    cr_expect_eq(ftc_cmd(&c, "OPTS MLST type;size;"), 200);
    cr_expect(strstr(c.reply, "type;size;"));
    cr_expect_eq(ftc_cmd(&c, "OPTS HASH MD5"), 200);
    cr_expect(strstr(c.reply, "MD5"));
    cr_expect_eq(ftc_cmd(&c, "OPTS HASH WHIRLPOOL"), 501);
    cr_expect_eq(ftc_cmd(&c, "OPTS NONSENSE"), 501);
    ftc_close(&c);
}

Test(protocol, directories_and_names)
{
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "secret");
    cr_expect_eq(ftc_cmd(&c, "PWD"), 257);
    cr_expect(strstr(c.reply, "\"/\""), "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "MKD docs"), 257);
    cr_expect(strstr(c.reply, "\"/docs\""), "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "MKD docs"), 550, "exists");
    cr_expect_eq(ftc_cmd(&c, "XMKD docs/sub"), 257);
    cr_expect_eq(ftc_cmd(&c, "CWD docs"), 250);
    cr_expect_eq(ftc_cmd(&c, "XPWD"), 257);
    cr_expect(strstr(c.reply, "\"/docs\""));
    cr_expect_eq(ftc_cmd(&c, "XCWD sub"), 250);
    cr_expect_eq(ftc_cmd(&c, "CDUP"), 250);
    cr_expect_eq(ftc_cmd(&c, "XCUP"), 250);
    cr_expect_eq(ftc_cmd(&c, "PWD"), 257);
    cr_expect(strstr(c.reply, "\"/\""));
    cr_expect_eq(ftc_cmd(&c, "CWD nowhere"), 550);
    cr_expect_eq(ftc_cmd(&c, "MKD we\"ird"), 257);
    cr_expect(strstr(c.reply, "\"/we\"\"ird\""), "quotes doubled: %s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "RMD docs"), 550, "not empty");
    cr_expect_eq(ftc_cmd(&c, "XRMD docs/sub"), 250);
    cr_expect_eq(ftc_cmd(&c, "RMD docs"), 250);
    cr_expect_eq(ftc_cmd(&c, "RMD /"), 550);
    /* files */
    cr_expect_eq(ftc_put(&c, "STOR a.txt", "hello\n", 6), 226, "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "TYPE I"), 200);
    cr_expect_eq(ftc_cmd(&c, "SIZE a.txt"), 213);
    cr_expect(strstr(c.reply, "213 6"), "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "SIZE nope"), 550);
    cr_expect_eq(ftc_cmd(&c, "MDTM a.txt"), 213);
    cr_expect_eq(strlen(c.reply), strlen("213 YYYYMMDDHHMMSS\r\n"), "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "RNFR a.txt"), 350);
    cr_expect_eq(ftc_cmd(&c, "RNTO b.txt"), 250);
    cr_expect_eq(ftc_cmd(&c, "RNFR nope"), 550);
    cr_expect_eq(ftc_cmd(&c, "RNFR b.txt"), 350);
    cr_expect_eq(ftc_cmd(&c, "NOOP"), 200);
    cr_expect_eq(ftc_cmd(&c, "RNTO c.txt"), 503, "RNTO must follow RNFR");
    cr_expect_eq(ftc_cmd(&c, "MLST b.txt"), 250);
    cr_expect(strstr(c.reply, "type=file;") && strstr(c.reply, "size=6;"),
              "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "MLST"), 250);
    cr_expect(strstr(c.reply, "type=dir;") || strstr(c.reply, "type=cdir;"),
              "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "STAT b.txt"), 213);
    cr_expect(strstr(c.reply, "b.txt"), "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "STAT"), 211);
    cr_expect(strstr(c.reply, "alice"), "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "SITE QUOTA"), 200);
    cr_expect(strstr(c.reply, "6 of 10485760"), "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "SITE CHMOD 777 b.txt"), 500);
    cr_expect_eq(ftc_cmd(&c, "DELE b.txt"), 250);
    cr_expect_eq(ftc_cmd(&c, "DELE b.txt"), 550);
    cr_expect_eq(ftc_cmd(&c, "SITE QUOTA"), 200);
    cr_expect(strstr(c.reply, "0 of 10485760"), "DELE gives space back: %s",
              c.reply);
    ftc_close(&c);
}

Test(protocol, type_mode_stru_allo_rest)
{
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "secret");
    cr_expect_eq(ftc_cmd(&c, "TYPE A"), 200);
    cr_expect_eq(ftc_cmd(&c, "TYPE A N"), 200);
    cr_expect_eq(ftc_cmd(&c, "REST 10"), 501, "no resume in ASCII");
    cr_expect_eq(ftc_cmd(&c, "TYPE I"), 200);
    cr_expect_eq(ftc_cmd(&c, "TYPE L 8"), 200);
    cr_expect_eq(ftc_cmd(&c, "TYPE E"), 504);
    cr_expect_eq(ftc_cmd(&c, "TYPE Z"), 501);
    cr_expect_eq(ftc_cmd(&c, "MODE S"), 200);
    cr_expect_eq(ftc_cmd(&c, "MODE B"), 504);
    cr_expect_eq(ftc_cmd(&c, "MODE X"), 501);
    cr_expect_eq(ftc_cmd(&c, "STRU F"), 200);
    cr_expect_eq(ftc_cmd(&c, "STRU R"), 504);
    cr_expect_eq(ftc_cmd(&c, "ALLO 100"), 202);
    cr_expect_eq(ftc_cmd(&c, "REST 10"), 350);
    cr_expect_eq(ftc_cmd(&c, "REST -1"), 501);
    cr_expect_eq(ftc_cmd(&c, "REST abc"), 501);
    cr_expect_eq(ftc_cmd(&c, "ABOR"), 225, "no transfer");
    ftc_close(&c);
}

Test(protocol, mfmt_sets_the_time_that_mdtm_mlst_and_mlsd_show)
{
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "secret");
    cr_assert_eq(ftc_cmd(&c, "MKD m"), 257);
    cr_assert_eq(ftc_put(&c, "STOR m/f 1", "12345", 5), 226);
    cr_expect_eq(ftc_cmd(&c, "MFMT 20200229123456 m/f 1"), 213, "%s", c.reply);
    cr_expect_str_eq(c.reply, "213 Modify=20200229123456; m/f 1\r\n");
    cr_expect_eq(ftc_cmd(&c, "MDTM m/f 1"), 213);
    cr_expect_str_eq(c.reply, "213 20200229123456\r\n");
    cr_expect_eq(ftc_cmd(&c, "MLST /m/f 1"), 250);
    cr_expect(strstr(c.reply, "modify=20200229123456;"), "%s", c.reply);
    char *out;
    size_t n;
    cr_expect_eq(ftc_get(&c, "MLSD m", &out, &n), 226);
    out = realloc(out, n + 1);
    out[n] = '\0';
    cr_expect(strstr(out, "modify=20200229123456;"), "%s", out);
    free(out);
    struct stat st;
    cr_assert_eq(stat(ftx_home_path(&srv, "alice", "m/f 1"), &st), 0);
    cr_expect_eq(st.st_mtime, 1582979696, "the file on disk has the time");
    /* A fraction of a second is allowed (RFC 3659 time-val). */
    cr_expect_eq(ftc_cmd(&c, "MFMT 19991231235959.5 m/f 1"), 213, "%s", c.reply);
    cr_expect(strstr(c.reply, "Modify=19991231235959;"), "%s", c.reply);

    /* bad times: 501, and the file keeps its time */
    const char *bad[] = {"MFMT 2020022912345 m/f 1", "MFMT 20201301000000 m/f 1",
                         "MFMT 20210229000000 m/f 1", "MFMT 20200101240000 m/f 1",
                         "MFMT 20200101000060 m/f 1", "MFMT 2020010100000x m/f 1",
                         "MFMT 20200101000000", "MFMT 20200101000000.x m/f 1",
                         "MFMT x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(ftc_cmd(&c, "%s", bad[i]), 501, "%s: %s", bad[i], c.reply);
    cr_expect_eq(ftc_cmd(&c, "MDTM m/f 1"), 213);
    cr_expect_str_eq(c.reply, "213 19991231235959\r\n");
    /* a missing file, a directory, nothing outside the home */
    cr_expect_eq(ftc_cmd(&c, "MFMT 20200101000000 m/none"), 550);
    cr_expect_eq(ftc_cmd(&c, "MFMT 20200101000000 m"), 550);
    char outside[1200];
    snprintf(outside, sizeof outside, "%s/outside.txt", srv.dir);
    ftx_write_file(outside, "x", 1);
    struct stat before;
    cr_assert_eq(stat(outside, &before), 0);
    cr_assert_eq(symlink(outside, ftx_home_path(&srv, "alice", "m/link")), 0);
    cr_expect_eq(ftc_cmd(&c, "MFMT 20000101000000 m/link"), 550, "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "MFMT 20000101000000 ../../outside.txt"), 550);
    cr_assert_eq(stat(outside, &st), 0);
    cr_expect_eq(st.st_mtime, before.st_mtime, "the file outside kept its time");
    ftc_close(&c);
    ftc_open(&c, &srv);
    cr_expect_eq(ftc_cmd(&c, "MFMT 20200101000000 m/f 1"), 530, "needs login");
    ftc_close(&c);
}

Test(protocol, listings)
{
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "secret");
    cr_expect_eq(ftc_cmd(&c, "MKD dir"), 257);
    cr_expect_eq(ftc_put(&c, "STOR f1", "12345", 5), 226);
    cr_expect_eq(ftc_put(&c, "STOR .hidden", "x", 1), 226);
    char *out;
    size_t n;
    cr_expect_eq(ftc_get(&c, "LIST", &out, &n), 226);
    out = realloc(out, n + 1);
    out[n] = '\0';
    cr_expect(strstr(out, " f1\r\n") && strstr(out, " dir\r\n"), "%s", out);
    cr_expect(out[0] == '-' || out[0] == 'd', "ls -l shape: %s", out);
    cr_expect(!strstr(out, ".hidden"), "dot files need -a");
    free(out);
    cr_expect_eq(ftc_get(&c, "LIST -la", &out, &n), 226);
    out = realloc(out, n + 1);
    out[n] = '\0';
    cr_expect(strstr(out, ".hidden"), "%s", out);
    free(out);
    cr_expect_eq(ftc_get(&c, "NLST", &out, &n), 226);
    out = realloc(out, n + 1);
    out[n] = '\0';
    cr_expect(strstr(out, "f1\r\n") && strstr(out, "dir\r\n"), "%s", out);
    free(out);
    cr_expect_eq(ftc_get(&c, "MLSD", &out, &n), 226);
    out = realloc(out, n + 1);
    out[n] = '\0';
    cr_expect(strstr(out, "type=file;size=5;") && strstr(out, "; f1\r\n"), "%s",
              out);
    cr_expect(strstr(out, "type=dir;"), "%s", out);
    free(out);
    cr_expect_eq(ftc_get(&c, "LIST nowhere", &out, &n), 550);
    free(out);
    cr_expect_eq(ftc_get(&c, "MLSD f1", &out, &n), 501, "MLSD of a file");
    free(out);
    cr_expect_eq(ftc_cmd(&c, "ABOR"), 225, "drops the unused EPSV listener");
    cr_expect_eq(ftc_cmd(&c, "LIST"), 425, "no PASV/PORT first");
    ftc_close(&c);
}

Test(protocol, too_many_sessions_get_421)
{
    ftx_stop(&srv, true);
    ftx_init(&srv, "ftpd-limit");
    ftx_add_user(&srv, "alice", "secret", "1M");
    const char *extra[] = {"--set", "max_sessions=2", NULL};
    ftx_start(&srv, extra);
    ftc a, b, c;
    ftc_open(&a, &srv);
    ftc_open(&b, &srv);
    cr_expect_eq(ftc_open_addr(&c, &srv.addr), 421);
    ftc_close(&c);
    ftc_cmd(&a, "QUIT");
    ftc_close(&a);
    /* the place comes back once the session has ended */
    double deadline = ts_now() + 10;
    int code = 0;
    while (ts_now() < deadline) {
        code = ftc_open_addr(&c, &srv.addr);
        ftc_close(&c);
        if (code == 220)
            break;
    }
    cr_expect_eq(code, 220);
    ftc_close(&b);
}

Test(protocol, per_ip_limit_gets_421)
{
    ftx_stop(&srv, true);
    ftx_init(&srv, "ftpd-perip");
    ftx_add_user(&srv, "alice", "secret", "1M");
    const char *extra[] = {"--set", "max_sessions_per_ip=1", NULL};
    ftx_start(&srv, extra);
    ftc a, b;
    ftc_open(&a, &srv);
    cr_expect_eq(ftc_open_addr(&b, &srv.addr), 421);
    ftc_close(&b);
    ftc_close(&a);
}

Test(protocol, idle_timeout_sends_421)
{
    ftx_stop(&srv, true);
    ftx_init(&srv, "ftpd-idle");
    const char *extra[] = {"--set", "idle_timeout=0.5", NULL};
    ftx_start(&srv, extra);
    ftc c;
    ftc_open(&c, &srv);
    double t0 = ts_now();
    cr_expect_eq(ftc_reply(&c), 421, "%s", c.reply);
    cr_expect(ts_now() - t0 < 10);
    ftc_close(&c);
}

Test(protocol, sighup_reloads_and_new_users_log_in)
{
    ftx_add_user(&srv, "bob", "pw-bob", "1M");
    kill(srv.proc.pid, SIGHUP);
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "bob", "pw-bob");
    ftc_close(&c);
}

Test(protocol, sigterm_lets_a_session_end_and_exits_zero)
{
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "secret");
    kill(srv.proc.pid, SIGTERM);
    cr_expect_eq(ftc_reply(&c), 421, "idle session told: %s", c.reply);
    int st = ts_stop(&srv.proc, 0, 15);
    srv.running = false;
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    ftc_close(&c);
}

Test(protocol, log_lines_for_session_login_and_transfer)
{
    ftc c;
    ftc_open(&c, &srv);
    cr_expect_eq(ftc_cmd(&c, "USER alice"), 331);
    cr_expect_eq(ftc_cmd(&c, "PASS nope"), 530);
    ftc_login(&c, "alice", "secret");
    cr_expect_eq(ftc_put(&c, "STOR log.bin", "abc", 3), 226);
    ftc_cmd(&c, "QUIT");
    ftc_close(&c);
    ftx_stop(&srv, false);
    const char *e = srv.proc.err;
    cr_expect(strstr(e, "session start client=127.0.0.1:"), "%s", e);
    cr_expect(strstr(e, "failed login user=alice"), "%s", e);
    cr_expect(strstr(e, "login user=alice client=127.0.0.1"), "%s", e);
    cr_expect(strstr(e, "transfer user=alice") && strstr(e, "cmd=STOR") &&
                  strstr(e, "path=\"/log.bin\" bytes=3") && strstr(e, "result=ok"),
              "%s", e);
    cr_expect(!strstr(e, "secret") && !strstr(e, "nope"), "no password in logs");
}

/* --- the program, without the fixture server ----------------------------- */

TestSuite(program, .timeout = 60);

Test(program, first_run_creates_demo_and_prints_password)
{
    char dir[512];
    ts_mkdtemp("ftpd-first", dir, sizeof dir);
    cr_assert_eq(chdir(dir), 0);
    setenv("SOCKSERV_FTPD_TEST_FAST_KDF", "1", 1);
    /* no arguments but the port: data dir ./var/ftp */
    char *argv[] = {(char *)ftx_binary(), "--listen", "127.0.0.1:0", NULL};
    ts_proc p;
    char addr_text[SS_ADDRSTRLEN];
    ss_addr addr;
    cr_assert_eq(ts_start_server(&p, argv, addr_text, sizeof addr_text, &addr), 0);
    char *pw = strstr(p.out, "password for demo (shown only now): ");
    cr_assert(pw, "%s", p.out);
    pw += strlen("password for demo (shown only now): ");
    char pass[64];
    cr_assert_eq(sscanf(pw, "%63s", pass), 1);
    cr_expect(strstr(p.out, "curl -u demo:"), "%s", p.out);
    struct stat st;
    cr_expect_eq(stat("var/ftp/home/demo", &st), 0);
    cr_expect_eq(stat("var/ftp/users", &st), 0);
    ftc c;
    cr_assert_eq(ftc_open_addr(&c, &addr), 220);
    ftc_login(&c, "demo", pass);
    cr_expect_eq(ftc_cmd(&c, "SITE QUOTA"), 200);
    cr_expect(strstr(c.reply, "of 104857600"), "%s", c.reply);
    ftc_close(&c);
    int s = ts_stop(&p, SIGINT, 15);
    cr_expect(WIFEXITED(s) && WEXITSTATUS(s) == 0);
    /* second run: no new password */
    cr_assert_eq(ts_start_server(&p, argv, addr_text, sizeof addr_text, &addr), 0);
    cr_expect(!strstr(p.out, "password for demo"), "%s", p.out);
    ts_stop(&p, SIGTERM, 15);
    ts_rmtree(dir);
}

Test(program, config_errors_name_file_and_line_and_exit_2)
{
    char dir[512], conf[600];
    ts_mkdtemp("ftpd-conf", dir, sizeof dir);
    snprintf(conf, sizeof conf, "%s/ftpd.conf", dir);
    ftx_write_file(conf, "# comment\nmax_sessions = 5\nlistne = 1.2.3.4:21\n", 46);
    char *argv[] = {(char *)ftx_binary(), "--config", conf, NULL};
    char out[4096], err[4096];
    int st = ts_run(argv, NULL, 0, out, sizeof out, err, sizeof err, 20);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d", st);
    char want[700];
    snprintf(want, sizeof want, "%s:3: unknown key 'listne'", conf);
    cr_expect(strstr(err, want), "stderr: %s", err);
    ftx_write_file(conf, "idle_timeout = -3\n", 18);
    st = ts_run(argv, NULL, 0, out, sizeof out, err, sizeof err, 20);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    cr_expect(strstr(err, ":1: idle_timeout"), "%s", err);
    char *argv2[] = {(char *)ftx_binary(), "--bogus", NULL};
    st = ts_run(argv2, NULL, 0, out, sizeof out, err, sizeof err, 20);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    char *argv3[] = {(char *)ftx_binary(), "--set", "concurrency=spoons", NULL};
    st = ts_run(argv3, NULL, 0, out, sizeof out, err, sizeof err, 20);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    cr_expect(strstr(err, "concurrency"), "%s", err);
    ftx_write_file(conf, "max_upload_rate = 1M\nmax_download_rate = fast\n", 46);
    st = ts_run(argv, NULL, 0, out, sizeof out, err, sizeof err, 20);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    cr_expect(strstr(err, ":2: max_download_rate must be a size per second"), "%s",
              err);
    ts_rmtree(dir);
}

Test(program, config_file_sets_listeners_and_banner)
{
    ftx_server s;
    ftx_init(&s, "ftpd-conf2");
    char conf[700], text[512];
    snprintf(conf, sizeof conf, "%s/ftpd.conf", s.dir);
    int n = snprintf(text, sizeof text,
                     "listen = 127.0.0.1:0\nlisten = [::1]:0\n"
                     "banner = \"Welcome to the test\"\nconcurrency = forking\n");
    ftx_write_file(conf, text, (size_t)n);
    const char *extra[] = {"--config", conf, "--listen", "127.0.0.1:0", NULL};
    /* --listen replaces the file's listeners: one line only */
    ftx_start(&s, extra);
    ftc c;
    ftc_open(&c, &s);
    cr_expect(strstr(c.reply, "Welcome to the test"), "%s", c.reply);
    ftc_close(&c);
    ftx_stop(&s, true);
}

Test(program, several_listeners_ipv4_ipv6_unix)
{
    ftx_server s;
    ftx_init(&s, "ftpd-multi");
    ftx_add_user(&s, "alice", "secret", "1M");
    char un[700];
    snprintf(un, sizeof un, "unix:%s/ctl.sock", s.dir);
    const char *extra[] = {"--listen", "127.0.0.1:0", "--listen", "[::1]:0",
                           "--listen", un, NULL};
    ftx_start(&s, extra);
    char rest[SS_ADDRSTRLEN];
    cr_assert_eq(ts_wait_line(&s.proc, "listening on [::1]:", rest, sizeof rest, 5),
                 0, "%s", s.proc.out);
    cr_assert(strstr(s.proc.out, "listening on unix:"), "%s", s.proc.out);
    char v6[SS_ADDRSTRLEN + 16];
    snprintf(v6, sizeof v6, "[::1]:%s", rest);
    ss_addr a6, au;
    cr_assert_eq(ss_addr_parse(&a6, v6, NULL), 0);
    cr_assert_eq(ss_addr_parse(&au, un, NULL), 0);
    ftc c;
    cr_assert_eq(ftc_open_addr(&c, &a6), 220);
    ftc_login(&c, "alice", "secret");
    cr_expect_eq(ftc_cmd(&c, "PASV"), 522, "PASV cannot name an IPv6 host");
    cr_expect_eq(ftc_put(&c, "STOR v6.txt", "over six", 8), 226, "EPSV over ::1");
    ftc_close(&c);
    cr_assert_eq(ftc_open_addr(&c, &au), 220);
    ftc_login(&c, "alice", "secret");
    cr_expect_eq(ftc_cmd(&c, "SIZE v6.txt"), 213);
    ftc_close(&c);
    ftx_stop(&s, true);
}

Test(protocol, data_timeout_when_nobody_connects)
{
    ftx_stop(&srv, true);
    ftx_init(&srv, "ftpd-dto");
    ftx_add_user(&srv, "alice", "secret", "1M");
    const char *extra[] = {"--set", "data_timeout=0.5", NULL};
    ftx_start(&srv, extra);
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "secret");
    cr_expect_eq(ftc_cmd(&c, "EPSV"), 229);
    double t0 = ts_now();
    cr_expect_eq(ftc_cmd(&c, "LIST"), 425, "%s", c.reply);
    cr_expect_lt(ts_now() - t0, 10.0);
    cr_expect_eq(ftc_cmd(&c, "NOOP"), 200);
    ftc_close(&c);
}

Test(protocol, log_file_and_xferlog_file)
{
    ftx_stop(&srv, true);
    ftx_init(&srv, "ftpd-logs");
    ftx_add_user(&srv, "alice", "secret", "1M");
    char log[700], xlog[700], set1[720], set2[720];
    snprintf(log, sizeof log, "%s/ftpd.log", srv.dir);
    snprintf(xlog, sizeof xlog, "%s/xferlog", srv.dir);
    snprintf(set1, sizeof set1, "log_file=%s", log);
    snprintf(set2, sizeof set2, "xferlog_file=%s", xlog);
    const char *extra[] = {"--set", set1, "--set", set2, NULL};
    ftx_start(&srv, extra);
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "secret");
    cr_expect_eq(ftc_put(&c, "STOR x y.bin", "12345", 5), 226);
    ftc_close(&c);
    ftx_stop(&srv, false);
    size_t n;
    char *l = ftx_read_file(log, &n);
    cr_expect(strstr(l, "login user=alice") && strstr(l, "cmd=STOR"), "%s", l);
    free(l);
    char *x = ftx_read_file(xlog, &n);
    /* xferlog(5): ... host size name type action direction mode user service
     * auth id status; blanks in the name become '_' */
    cr_expect(strstr(x, " 127.0.0.1:") && strstr(x, " 5 /x_y.bin b _ i r alice ftp 0 * c\n"),
              "%s", x);
    free(x);
}

static void sigterm_mid_transfer(const char *mode)
{
    ftx_stop(&srv, true);
    ftx_init(&srv, "ftpd-grace");
    ftx_add_user(&srv, "alice", "secret", "1G");
    const char *extra[] = {"--set", mode, NULL};
    ftx_start(&srv, extra);
    /* Far more than the socket buffers hold, so the server is mid-transfer
     * when the signal comes.  Sparse: no disk or memory spent on it. */
    size_t n = 64u << 20;
    cr_assert_eq(truncate(ftx_home_path(&srv, "alice", "big"), 0), -1);
    ftx_write_file(ftx_home_path(&srv, "alice", "big"), "", 0);
    cr_assert_eq(truncate(ftx_home_path(&srv, "alice", "big"), (off_t)n), 0);
    char *big = malloc(1 << 20);
    ftc c, idle;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "secret");
    ftc_open(&idle, &srv);
    cr_expect_eq(ftc_cmd(&c, "TYPE I"), 200);
    int d = ftc_epsv(&c);
    cr_assert_eq(ftc_cmd(&c, "RETR big"), 150);
    char buf[4096];
    ssize_t first = read(d, buf, sizeof buf);
    cr_assert(first > 0);
    kill(srv.proc.pid, SIGTERM);
    cr_expect_eq(ftc_reply(&idle), 421, "idle session: %s", idle.reply);
    /* the transfer in progress finishes whole */
    size_t got = 0;
    for (;;) {
        ssize_t k = read(d, big, 1 << 20);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    cr_expect_eq(got + (size_t)first, n, "got %zu", got);
    cr_expect_eq(ftc_reply(&c), 226, "%s", c.reply);
    close(d);
    int st = ts_stop(&srv.proc, 0, 20);
    srv.running = false;
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    ftc_close(&c);
    ftc_close(&idle);
    free(big);
}

Test(protocol, sigterm_lets_a_running_transfer_finish_threading)
{
    sigterm_mid_transfer("concurrency=threading");
}

Test(protocol, sigterm_lets_a_running_transfer_finish_forking)
{
    sigterm_mid_transfer("concurrency=forking");
}

/* `user add` on a machine where the data dir does not exist yet creates
 * it, as the first run of the server does, instead of failing on the lock
 * file. */
Test(program, user_add_creates_a_missing_data_dir, .timeout = 60)
{
    char tmp[256], dd[512], home[512], users[600];
    ts_mkdtemp("ftpd-useradd", tmp, sizeof tmp);
    cr_assert(tmp[0]);
    snprintf(dd, sizeof dd, "%s/new/var/ftp", tmp);
    snprintf(home, sizeof home, "%s/home-bob", tmp);
    char *argv[] = {(char *)ftx_binary(), "--data-dir", dd, "user", "add",
                    "bob", "--home", home, "--quota", "1M", NULL};
    char out[4096], err[4096];
    setenv("SOCKSERV_FTPD_TEST_FAST_KDF", "1", 1);
    int st = ts_run(argv, "pw-for-bob\n", 11, out, sizeof out, err,
                    sizeof err, 30);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, err);
    snprintf(users, sizeof users, "%s/users", dd);
    struct stat sb;
    cr_assert_eq(stat(users, &sb), 0, "no users file at %s", users);
    ts_rmtree(tmp);
}
