/* tests/ftp-client/test_units.c - the client's parsers on good and hostile
 * input: URLs, replies, 227/229/257 bodies, checksum replies, shell words,
 * .netrc, exit codes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "digest.h"
#include "netrc.h"
#include "reply.h"
#include "shell.h"
#include "status.h"
#include "url.h"

Test(url, full_form_is_split_and_decoded)
{
    ftpc_url u;
    char err[256];
    cr_assert_eq(ftpc_url_parse(&u, "ftp://a%40b:p%3Aw@host.example:2121/pub/x", err,
                                sizeof err), 0, "%s", err);
    cr_assert_str_eq(u.user, "a@b");
    cr_assert_str_eq(u.pass, "p:w");
    cr_assert_str_eq(u.host, "host.example");
    cr_assert_str_eq(u.port, "2121");
    cr_assert_str_eq(u.path, "pub/x");
}

Test(url, bare_host_defaults_to_port_21)
{
    ftpc_url u;
    char err[256];
    cr_assert_eq(ftpc_url_parse(&u, "localhost", err, sizeof err), 0);
    cr_assert_str_eq(u.host, "localhost");
    cr_assert_str_eq(u.port, "21");
    cr_assert_not(u.has_user);
    cr_assert_str_empty(u.path);
}

Test(url, ipv6_literal_in_brackets)
{
    ftpc_url u;
    char err[256];
    cr_assert_eq(ftpc_url_parse(&u, "bob@[::1]:2121", err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(u.host, "::1");
    cr_assert_str_eq(u.port, "2121");
    cr_assert_str_eq(u.user, "bob");
    cr_assert_eq(ftpc_url_parse(&u, "[fe80::1%25eth0]", err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(u.port, "21");
}

Test(url, bad_forms_are_refused_with_a_reason)
{
    const char *bad[] = {"http://h/", "ftp://", "h:0", "h:65536", "h:12x", "[::1",
                         "[::1]x", "a%4@h", "a%00@h", "h:", "@h", NULL};
    for (int i = 0; bad[i]; i++) {
        ftpc_url u;
        char err[256] = "";
        cr_assert_eq(ftpc_url_parse(&u, bad[i], err, sizeof err), -1, "%s accepted", bad[i]);
        cr_assert_str_not_empty(err);
    }
}

Test(url, ftps_means_implicit_tls_on_port_990)
{
    ftpc_url u;
    char err[256] = "";
    cr_assert_eq(ftpc_url_parse(&u, "FTPS://bob@host", err, sizeof err), 0, "%s", err);
    cr_assert(u.implicit_tls);
    cr_assert_str_eq(u.port, "990");
    cr_assert_eq(ftpc_url_parse(&u, "ftps://[::1]:2990/d", err, sizeof err), 0, "%s",
                 err);
    cr_assert(u.implicit_tls);
    cr_assert_str_eq(u.port, "2990");
    cr_assert_str_eq(u.host, "::1");
    cr_assert_eq(ftpc_url_parse(&u, "ftp://host", err, sizeof err), 0, "%s", err);
    cr_assert_not(u.implicit_tls);
    cr_assert_str_eq(u.port, "21");
    cr_assert_eq(ftpc_url_parse(&u, "sftp://host", err, sizeof err), -1);
    cr_assert_eq(ftpc_url_parse(&u, "ftpes://host", err, sizeof err), -1);
}

static int feed_all(ftpc_reply *r, const char *const *lines)
{
    ftpc_reply_init(r);
    int rc = 0;
    for (int i = 0; lines[i]; i++)
        rc = ftpc_reply_feed(r, lines[i]);
    return rc;
}

Test(reply, single_and_multi_line)
{
    ftpc_reply r;
    const char *one[] = {"230 Login ok.", NULL};
    cr_assert_eq(feed_all(&r, one), 1);
    cr_assert_eq(r.code, 230);
    cr_assert_str_eq(r.last, "Login ok.");
    const char *multi[] = {"211-Features:", " SIZE", "211-not the end", "212 other",
                           " HASH SHA-256*", "211 End", NULL};
    cr_assert_eq(feed_all(&r, multi), 1);
    cr_assert_eq(r.code, 211);
    cr_assert_str_eq(r.last, "End");
    cr_assert(strstr(r.text, " HASH SHA-256*\n"));
    const char *open_ended[] = {"211-Features:", " SIZE", NULL};
    cr_assert_eq(feed_all(&r, open_ended), 0);
}

Test(reply, garbage_first_lines_are_errors)
{
    const char *bad[] = {"", "OK", "23 short", "2300 long", "099 low", "600 high",
                         "230x", NULL};
    for (int i = 0; bad[i]; i++) {
        ftpc_reply r;
        ftpc_reply_init(&r);
        cr_assert_eq(ftpc_reply_feed(&r, bad[i]), -1, "'%s' accepted", bad[i]);
    }
    ftpc_reply r;
    ftpc_reply_init(&r);
    cr_assert_eq(ftpc_reply_feed(&r, "220"), 1, "bare code is a reply");
}

Test(reply, endless_multi_line_reply_is_cut_off)
{
    ftpc_reply r;
    ftpc_reply_init(&r);
    int rc = 0;
    ftpc_reply_feed(&r, "211-start");
    for (int i = 0; i < FTPC_REPLY_LINES + 10 && rc == 0; i++)
        rc = ftpc_reply_feed(&r, " a line of text that goes on and on");
    cr_assert_eq(rc, -1);
    cr_assert_leq(r.len, sizeof r.text);
}

Test(reply, passive_replies)
{
    int port = 0;
    cr_assert_eq(ftpc_parse_epsv("Entering Extended Passive Mode (|||6446|)", &port), 0);
    cr_assert_eq(port, 6446);
    cr_assert_eq(ftpc_parse_epsv("ok (!!!21!)", &port), 0);
    cr_assert_eq(port, 21);
    cr_assert_eq(ftpc_parse_epsv("(|||0|)", &port), -1);
    cr_assert_eq(ftpc_parse_epsv("(|||70000|)", &port), -1);
    cr_assert_eq(ftpc_parse_epsv("(||6446|)", &port), -1);
    cr_assert_eq(ftpc_parse_epsv("no parens", &port), -1);
    cr_assert_eq(ftpc_parse_pasv("227 Entering Passive Mode (127,0,0,1,200,10).", &port), 0);
    cr_assert_eq(port, 200 * 256 + 10);
    cr_assert_eq(ftpc_parse_pasv("227 =10,0,0,1,4,1", &port), 0);
    cr_assert_eq(port, 1025);
    cr_assert_eq(ftpc_parse_pasv("227 (1,2,3,4,5)", &port), -1);
    cr_assert_eq(ftpc_parse_pasv("227 (1,2,3,4,5,256)", &port), -1);
}

Test(reply, pwd_path_with_quotes)
{
    char p[64];
    cr_assert_eq(ftpc_parse_257("\"/a \"\"b\"\" c\" is current", p, sizeof p), 0);
    cr_assert_str_eq(p, "/a \"b\" c");
    cr_assert_eq(ftpc_parse_257("no quotes", p, sizeof p), -1);
    cr_assert_eq(ftpc_parse_257("\"/unterminated", p, sizeof p), -1);
    char tiny[4];
    cr_assert_eq(ftpc_parse_257("\"/toolong\"", tiny, sizeof tiny), -1);
}

Test(reply, checksum_in_each_dialect)
{
    char hex[FTPC_HEX_MAX];
    const char *h64 = "5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03";
    char line[300];
    snprintf(line, sizeof line, "213 SHA-256 0-6 %s /a.txt\n", h64);
    cr_assert_eq(ftpc_find_hex(line, 64, hex), 0);
    cr_assert_eq(strncmp(hex, "5891b5b5", 8), 0, "lower-cased");
    snprintf(line, sizeof line, "213-Computing SHA-256 digest\n213 SHA-256 0-6 %s x\n", h64);
    cr_assert_eq(ftpc_find_hex(line, 64, hex), 0);
    cr_assert_eq(ftpc_find_hex("250 d41d8cd98f00b204e9800998ecf8427e", 32, hex), 0);
    cr_assert_eq(ftpc_find_hex("250 d41d8cd98f00b204e9800998ecf8427", 32, hex), -1);
    cr_assert_eq(ftpc_find_hex("250 g41d8cd98f00b204e9800998ecf8427e", 32, hex), -1);
}

Test(shell, words_quotes_and_escapes)
{
    char line[] = "  put \"my file\" 'x y'  a\\ b \"q\\\"t\" ";
    char *argv[8];
    cr_assert_eq(ftpc_shell_split(line, argv, 8), 5);
    cr_assert_str_eq(argv[0], "put");
    cr_assert_str_eq(argv[1], "my file");
    cr_assert_str_eq(argv[2], "x y");
    cr_assert_str_eq(argv[3], "a b");
    cr_assert_str_eq(argv[4], "q\"t");
    char open[] = "get \"unclosed";
    cr_assert_eq(ftpc_shell_split(open, argv, 8), -1);
    char empty[] = "   ";
    cr_assert_eq(ftpc_shell_split(empty, argv, 8), 0);
}

Test(shell, check_knows_names_and_argument_counts)
{
    char *ok[] = {"get", "a", "b"};
    cr_assert_eq(ftpc_shell_check(3, ok), 0);
    char *few[] = {"rename", "a"};
    cr_assert_eq(ftpc_shell_check(2, few), FTPC_ERR_USAGE);
    char *unknown[] = {"frob"};
    cr_assert_eq(ftpc_shell_check(1, unknown), FTPC_ERR_USAGE);
}

Test(netrc, first_matching_machine_wins_and_macdef_is_skipped)
{
    char path[] = "/tmp/ftpc-netrc-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    const char *text = "macdef init\nmachine fake login no password no\n\n"
                       "machine h.example login alice password \"s p\"\n"
                       "machine h.example login bob password b2\n"
                       "default login anon password guest\n";
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char user[64] = "", pass[64] = "";
    cr_assert(ftpc_netrc_lookup(path, "H.EXAMPLE", user, sizeof user, pass, sizeof pass));
    cr_assert_str_eq(user, "alice");
    cr_assert_str_eq(pass, "s p");
    snprintf(user, sizeof user, "bob");
    cr_assert(ftpc_netrc_lookup(path, "h.example", user, sizeof user, pass, sizeof pass));
    cr_assert_str_eq(pass, "b2");
    user[0] = '\0';
    cr_assert(ftpc_netrc_lookup(path, "fake", user, sizeof user, pass, sizeof pass));
    cr_assert_str_eq(user, "anon", "the macro's text is not an entry");
    unlink(path);
    cr_assert_not(ftpc_netrc_lookup(path, "h.example", user, sizeof user, pass, sizeof pass));
}

Test(status, exit_codes_are_the_documented_ones)
{
    cr_assert_eq(ftpc_exit_code(FTPC_OK), 0);
    cr_assert_eq(ftpc_exit_code(FTPC_ERR_VERIFY), 1);
    cr_assert_eq(ftpc_exit_code(FTPC_ERR_NET), 1);
    cr_assert_eq(ftpc_exit_code(FTPC_ERR_REMOTE), 1);
    cr_assert_eq(ftpc_exit_code(FTPC_ERR_USAGE), 2);
    cr_assert_eq(ftpc_exit_code(FTPC_ERR_LOGIN), 3);
    cr_assert_eq(ftpc_exit_code(FTPC_ERR_CONNECT), 4);
}

Test(args, options_around_the_server_and_the_command)
{
    char *argv[] = {"sockserv-ftp", "--retries", "5", "h:2121", "-q", "get", "-c", "x", NULL};
    ftpc_opts o;
    char err[256];
    cr_assert_eq(ftpc_args_parse(&o, 8, argv, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o.retries, 5);
    cr_assert(o.quiet);
    cr_assert_eq(o.ncmd, 3);
    cr_assert_str_eq(o.cmd[0], "get");
    cr_assert_str_eq(o.cmd[1], "-c", "the command's own options stay its own");
}

Test(digest, known_answers)
{
    ftpc_digest d;
    char hex[FTPC_HEX_MAX];
    cr_assert_eq(ftpc_digest_init(&d, FTPC_ALGO_SHA256), 0);
    ftpc_digest_update(&d, "abc", 3);
    ftpc_digest_peek(&d, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ftpc_digest_close(&d);
    cr_assert_eq(ftpc_digest_init(&d, FTPC_ALGO_MD5), 0);
    ftpc_digest_peek(&d, hex);
    cr_assert_str_eq(hex, "d41d8cd98f00b204e9800998ecf8427e");
    ftpc_digest_close(&d);
    cr_assert_eq(ftpc_algo_best(FTPC_ALGO_MD5 | FTPC_ALGO_SHA1), FTPC_ALGO_SHA1);
    cr_assert_eq(ftpc_algo_from_iana("sha-256"), FTPC_ALGO_SHA256);
    cr_assert_eq(ftpc_algo_from_iana("CRC32"), FTPC_ALGO_NONE);
}

Test(args, tls_options)
{
    ftpc_opts o;
    char err[256];
    char *tls[] = {"sockserv-ftp", "--tls", "--cacert", "ca.pem", "h", "ls", NULL};
    cr_assert_eq(ftpc_args_parse(&o, 6, tls, err, sizeof err), 0, "%s", err);
    cr_assert(o.tls);
    cr_assert_str_eq(o.cacert, "ca.pem");
    cr_assert_not(o.url.implicit_tls);
    char *implicit[] = {"sockserv-ftp", "--insecure", "ftps://h", NULL};
    cr_assert_eq(ftpc_args_parse(&o, 3, implicit, err, sizeof err), 0, "%s", err);
    cr_assert(o.tls && o.insecure && o.url.implicit_tls);
    char *alone[] = {"sockserv-ftp", "--insecure", "h", NULL};
    cr_assert_eq(ftpc_args_parse(&o, 3, alone, err, sizeof err), -1);
    cr_assert(strstr(err, "--tls"), "%s", err);
    char *cacert[] = {"sockserv-ftp", "--cacert", "ca.pem", "ftp://h", NULL};
    cr_assert_eq(ftpc_args_parse(&o, 4, cacert, err, sizeof err), -1);
}
