/* tests/ftpd/test_transfer.c - data moving: whole files both ways, TYPE A
 * conversion, resume in both directions, APPE/STOU, passive and active
 * modes, ABOR in its three shapes, checksums. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ftx.h"

static ftx_server srv;

static void setup_srv(void)
{
    ftx_init(&srv, "ftpd-xfer");
    ftx_add_user(&srv, "alice", "secret", "1G");
    ftx_start(&srv, NULL);
}

static void teardown(void) { ftx_stop(&srv, true); }

TestSuite(transfer, .init = setup_srv, .fini = teardown, .timeout = 90);

static void login(ftc *c)
{
    ftc_open(c, &srv);
    ftc_login(c, "alice", "secret");
    cr_assert_eq(ftc_cmd(c, "TYPE I"), 200);
}

Test(transfer, binary_round_trip_is_byte_exact)
{
    ftc c;
    login(&c);
    size_t n = 3 * 1024 * 1024 + 17;
    char *data = malloc(n);
    ftx_fill(data, n, 1);
    cr_expect_eq(ftc_put(&c, "STOR big.bin", data, n), 226, "%s", c.reply);
    size_t m;
    char *disk = ftx_read_file(ftx_home_path(&srv, "alice", "big.bin"), &m);
    cr_expect(m == n && !memcmp(disk, data, n), "stored bytes differ");
    free(disk);
    char *back;
    cr_expect_eq(ftc_get(&c, "RETR big.bin", &back, &m), 226, "%s", c.reply);
    cr_expect(m == n && !memcmp(back, data, n), "retrieved bytes differ");
    free(back);
    /* PASV mode too */
    int d = ftc_pasv(&c);
    cr_expect_eq(ftc_cmd(&c, "RETR big.bin"), 150);
    back = malloc(n + 1);
    cr_expect_eq(ts_read_full(d, back, n + 1), (ssize_t)n);
    close(d);
    cr_expect_eq(ftc_reply(&c), 226);
    cr_expect(!memcmp(back, data, n));
    free(back);
    free(data);
    cr_expect_eq(ftc_get(&c, "RETR missing", &back, &m), 550);
    free(back);
    cr_expect_eq(ftc_cmd(&c, "MKD d"), 257);
    cr_expect_eq(ftc_get(&c, "RETR d", &back, &m), 550, "directory");
    free(back);
    ftc_close(&c);
}

Test(transfer, type_a_converts_line_ends_both_ways)
{
    ftc c;
    login(&c);
    cr_assert_eq(ftc_cmd(&c, "TYPE A"), 200);
    const char *crlf = "one\r\ntwo\r\n\r\nlone\rcr\r\n";
    cr_expect_eq(ftc_put(&c, "STOR t.txt", crlf, strlen(crlf)), 226);
    size_t m;
    char *disk = ftx_read_file(ftx_home_path(&srv, "alice", "t.txt"), &m);
    cr_expect_str_eq(disk, "one\ntwo\n\nlone\rcr\n");
    free(disk);
    char *back;
    cr_expect_eq(ftc_get(&c, "RETR t.txt", &back, &m), 226);
    back = realloc(back, m + 1);
    back[m] = '\0';
    cr_expect_str_eq(back, "one\r\ntwo\r\n\r\nlone\rcr\r\n");
    free(back);
    cr_assert_eq(ftc_cmd(&c, "TYPE I"), 200);
    cr_expect_eq(ftc_get(&c, "RETR t.txt", &back, &m), 226);
    cr_expect_eq(m, strlen("one\ntwo\n\nlone\rcr\n"), "TYPE I is byte-exact");
    free(back);
    ftc_close(&c);
}

Test(transfer, rest_retr_sends_the_tail_and_refuses_past_the_end)
{
    ftc c;
    login(&c);
    char data[5000];
    ftx_fill(data, sizeof data, 2);
    ftx_write_file(ftx_home_path(&srv, "alice", "r.bin"), data, sizeof data);
    cr_expect_eq(ftc_cmd(&c, "REST 1000"), 350);
    char *back;
    size_t m;
    cr_expect_eq(ftc_get(&c, "RETR r.bin", &back, &m), 226);
    cr_expect(m == 4000 && !memcmp(back, data + 1000, 4000));
    free(back);
    cr_expect_eq(ftc_cmd(&c, "REST 5000"), 350);
    cr_expect_eq(ftc_get(&c, "RETR r.bin", &back, &m), 226);
    cr_expect_eq(m, 0u, "REST at the size sends nothing");
    free(back);
    cr_expect_eq(ftc_cmd(&c, "REST 5001"), 350);
    cr_expect_eq(ftc_get(&c, "RETR r.bin", &back, &m), 554);
    free(back);
    /* REST applies once */
    cr_expect_eq(ftc_get(&c, "RETR r.bin", &back, &m), 226);
    cr_expect_eq(m, 5000u);
    free(back);
    ftc_close(&c);
}

Test(transfer, rest_stor_writes_from_offset_without_truncating)
{
    ftc c;
    login(&c);
    char data[100];
    memset(data, 'a', sizeof data);
    ftx_write_file(ftx_home_path(&srv, "alice", "w.bin"), data, sizeof data);
    cr_expect_eq(ftc_cmd(&c, "REST 50"), 350);
    cr_expect_eq(ftc_put(&c, "STOR w.bin", "BBBBBBBBBB", 10), 226, "%s", c.reply);
    size_t m;
    char *disk = ftx_read_file(ftx_home_path(&srv, "alice", "w.bin"), &m);
    cr_expect_eq(m, 100u, "not truncated");
    cr_expect(!memcmp(disk + 50, "BBBBBBBBBB", 10) && disk[60] == 'a' &&
              disk[49] == 'a');
    free(disk);
    cr_expect_eq(ftc_cmd(&c, "REST 100"), 350);
    cr_expect_eq(ftc_put(&c, "STOR w.bin", "CC", 2), 226);
    cr_expect_eq(ftx_file_size(ftx_home_path(&srv, "alice", "w.bin")), 102);
    cr_expect_eq(ftc_cmd(&c, "REST 500"), 350);
    cr_expect_eq(ftc_put(&c, "STOR w.bin", "D", 1), 554, "past the end");
    cr_expect_eq(ftc_cmd(&c, "REST 5"), 350);
    cr_expect_eq(ftc_put(&c, "APPE w.bin", "D", 1), 503, "REST with APPE");
    /* plain STOR truncates */
    cr_expect_eq(ftc_put(&c, "STOR w.bin", "xyz", 3), 226);
    cr_expect_eq(ftx_file_size(ftx_home_path(&srv, "alice", "w.bin")), 3);
    ftc_close(&c);
}

Test(transfer, appe_and_stou)
{
    ftc c;
    login(&c);
    cr_expect_eq(ftc_put(&c, "APPE log", "first\n", 6), 226, "APPE creates");
    cr_expect_eq(ftc_put(&c, "APPE log", "second\n", 7), 226);
    size_t m;
    char *disk = ftx_read_file(ftx_home_path(&srv, "alice", "log"), &m);
    cr_expect_str_eq(disk, "first\nsecond\n");
    free(disk);
    int d = ftc_epsv(&c);
    cr_expect_eq(ftc_cmd(&c, "STOU"), 150);
    char *name = strstr(c.reply, "FILE: ");
    cr_assert(name, "RFC 1123 STOU reply: %s", c.reply);
    char vpath[256];
    cr_assert_eq(sscanf(name + 6, "%255s", vpath), 1);
    ts_write_full(d, "unique", 6);
    close(d);
    cr_expect_eq(ftc_reply(&c), 226);
    cr_expect(strstr(c.reply, vpath), "%s", c.reply);
    cr_expect_eq(ftx_file_size(ftx_home_path(&srv, "alice", vpath + 1)), 6,
                 "%s", vpath);
    ftc_close(&c);
}

/* Active mode: the client listens, the server connects. */
static int listen_local(int family, int *port)
{
    int fd = socket(family, SOCK_STREAM, 0);
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        len = sizeof *in6;
    }
    cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
    cr_assert_eq(listen(fd, 1), 0);
    len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

static void active_retr(ftc *c, const char *portcmd, int lfd)
{
    cr_expect_eq(ftc_cmd(c, "%s", portcmd), 200, "%s", c->reply);
    cr_expect_eq(ftc_cmd(c, "RETR a.txt"), 150, "%s", c->reply);
    int d = accept(lfd, NULL, NULL);
    cr_assert(d >= 0);
    char buf[64];
    ssize_t n = ts_read_full(d, buf, sizeof buf);
    close(d);
    cr_expect_eq(n, 6);
    cr_expect_eq(ftc_reply(c), 226);
}

Test(transfer, port_and_eprt_active_mode)
{
    ftc c;
    login(&c);
    ftx_write_file(ftx_home_path(&srv, "alice", "a.txt"), "active", 6);
    int port;
    int lfd = listen_local(AF_INET, &port);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "PORT 127,0,0,1,%d,%d", port >> 8, port & 255);
    active_retr(&c, cmd, lfd);
    snprintf(cmd, sizeof cmd, "EPRT |1|127.0.0.1|%d|", port);
    active_retr(&c, cmd, lfd);
    close(lfd);
    /* FTP bounce: another host or a privileged port is refused */
    cr_expect_eq(ftc_cmd(&c, "PORT 10,1,2,3,200,10"), 500);
    cr_expect_eq(ftc_cmd(&c, "PORT 127,0,0,1,0,21"), 500);
    cr_expect_eq(ftc_cmd(&c, "EPRT |1|10.9.8.7|5000|"), 500);
    cr_expect_eq(ftc_cmd(&c, "EPRT |3|x|5000|"), 522);
    cr_expect_eq(ftc_cmd(&c, "EPRT garbage"), 501);
    cr_expect_eq(ftc_cmd(&c, "PORT 1,2,3"), 501);
    cr_expect_eq(ftc_cmd(&c, "EPSV 2"), 522, "IPv4 control connection");
    cr_expect_eq(ftc_cmd(&c, "EPSV ALL"), 200);
    cr_expect_eq(ftc_cmd(&c, "PASV"), 503, "after EPSV ALL");
    cr_expect_eq(ftc_cmd(&c, "PORT 127,0,0,1,200,10"), 503);
    cr_expect_eq(ftc_cmd(&c, "EPSV 1"), 229);
    ftc_close(&c);
}

Test(transfer, ipv6_epsv_and_eprt)
{
    ftx_stop(&srv, true);
    ftx_init(&srv, "ftpd-v6");
    ftx_add_user(&srv, "alice", "secret", "1G");
    const char *extra[] = {"--listen", "[::1]:0", NULL};
    ftx_start(&srv, extra);
    cr_assert_eq(ss_addr_family(&srv.addr), AF_INET6);
    ftc c;
    login(&c);
    ftx_write_file(ftx_home_path(&srv, "alice", "a.txt"), "active", 6);
    cr_expect_eq(ftc_put(&c, "STOR six", "ipv6!", 5), 226);
    int port;
    int lfd = listen_local(AF_INET6, &port);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "EPRT |2|::1|%d|", port);
    active_retr(&c, cmd, lfd);
    close(lfd);
    cr_expect_eq(ftc_cmd(&c, "EPSV 1"), 522);
    ftc_close(&c);
}

/* Starts RETR of a file far larger than the socket buffers and reads only
 * a little, so the server is blocked mid-transfer. */
static int start_big_retr(ftc *c)
{
    static char *big;
    size_t n = 32u << 20;
    if (!big) {
        big = calloc(1, n);
        ftx_write_file(ftx_home_path(&srv, "alice", "huge.bin"), big, n);
    }
    int d = ftc_epsv(c);
    int rcv = 4096;
    setsockopt(d, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    cr_assert_eq(ftc_cmd(c, "RETR huge.bin"), 150);
    char buf[4096];
    cr_assert(read(d, buf, sizeof buf) > 0);
    return d;
}

static void expect_abort_replies(ftc *c, int d)
{
    cr_expect_eq(ftc_reply(c), 426, "%s", c->reply);
    cr_expect_eq(ftc_reply(c), 226, "%s", c->reply);
    close(d);
    cr_expect_eq(ftc_cmd(c, "NOOP"), 200, "session still usable");
}

Test(transfer, abor_plain_during_retr)
{
    ftc c;
    login(&c);
    int d = start_big_retr(&c);
    cr_expect_eq(ftc_cmd(&c, "STAT"), 213, "STAT during a transfer: %s", c.reply);
    ftc_send_raw(&c, "ABOR\r\n", 6);
    expect_abort_replies(&c, d);
    ftc_close(&c);
}

Test(transfer, abor_after_telnet_ip_dm_during_retr)
{
    ftc c;
    login(&c);
    int d = start_big_retr(&c);
    ftc_send_raw(&c, "\xff\xf4\xff\xf2", 4);
    ftc_send_raw(&c, "ABOR\r\n", 6);
    expect_abort_replies(&c, d);
    ftc_close(&c);
}

Test(transfer, abor_as_urgent_data_during_retr)
{
    ftc c;
    login(&c);
    int d = start_big_retr(&c);
    /* what Python's ftplib.abort() does */
    cr_assert_eq(send(c.fd, "ABOR\r\n", 6, MSG_OOB), 6);
    expect_abort_replies(&c, d);
    /* and the vsftpd-era shape: IAC IP, then IAC DM as urgent data */
    d = start_big_retr(&c);
    cr_assert_eq(send(c.fd, "\xff\xf4\xff", 3, 0), 3);
    cr_assert_eq(send(c.fd, "\xf2", 1, MSG_OOB), 1);
    ftc_send_raw(&c, "ABOR\r\n", 6);
    expect_abort_replies(&c, d);
    ftc_close(&c);
}

Test(transfer, abor_during_stor_keeps_the_partial_file)
{
    ftc c;
    login(&c);
    int d = ftc_epsv(&c);
    cr_assert_eq(ftc_cmd(&c, "STOR part.bin"), 150);
    char buf[10000];
    ftx_fill(buf, sizeof buf, 3);
    ts_write_full(d, buf, sizeof buf);
    /* wait until the server has the bytes */
    double deadline = ts_now() + 10;
    while (ftx_file_size(ftx_home_path(&srv, "alice", "part.bin")) < 10000 &&
           ts_now() < deadline)
        poll(NULL, 0, 10);
    ftc_send_raw(&c, "ABOR\r\n", 6);
    expect_abort_replies(&c, d);
    cr_expect_eq(ftx_file_size(ftx_home_path(&srv, "alice", "part.bin")), 10000);
    /* and the client resumes it */
    cr_expect_eq(ftc_cmd(&c, "SIZE part.bin"), 213);
    cr_expect(strstr(c.reply, "213 10000"));
    cr_expect_eq(ftc_cmd(&c, "REST 10000"), 350);
    cr_expect_eq(ftc_put(&c, "STOR part.bin", "tail", 4), 226);
    cr_expect_eq(ftx_file_size(ftx_home_path(&srv, "alice", "part.bin")), 10004);
    ftc_close(&c);
}

Test(transfer, quit_during_transfer_is_answered_after_it)
{
    ftc c;
    login(&c);
    int d = ftc_epsv(&c);
    cr_assert_eq(ftc_cmd(&c, "STOR q.bin"), 150);
    ts_write_full(d, "abc", 3);
    ftc_send_raw(&c, "QUIT\r\n", 6);
    close(d);
    cr_expect_eq(ftc_reply(&c), 226, "%s", c.reply);
    cr_expect_eq(ftc_reply(&c), 221, "%s", c.reply);
    ftc_close(&c);
}

Test(transfer, hash_rang_and_x_commands)
{
    ftc c;
    login(&c);
    ftx_write_file(ftx_home_path(&srv, "alice", "h.txt"), "xxabcxx", 7);
    ftx_write_file(ftx_home_path(&srv, "alice", "abc"), "abc", 3);
    cr_expect_eq(ftc_cmd(&c, "HASH abc"), 213);
    cr_expect(strstr(c.reply, "213 SHA-256 0-2 "
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad abc"),
              "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "RANG 2 4"), 350);
    cr_expect_eq(ftc_cmd(&c, "HASH h.txt"), 213);
    cr_expect(strstr(c.reply, "SHA-256 2-4 "
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
              "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "OPTS HASH SHA-1"), 200);
    cr_expect_eq(ftc_cmd(&c, "HASH abc"), 213);
    cr_expect(strstr(c.reply, "SHA-1 0-2 a9993e364706816aba3e25717850c26c9cd0d89d"),
              "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "OPTS HASH MD5"), 200);
    cr_expect_eq(ftc_cmd(&c, "HASH abc"), 213);
    cr_expect(strstr(c.reply, "900150983cd24fb0d6963f7d28e17f72"), "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "OPTS HASH CRC32"), 200);
    cr_expect_eq(ftc_cmd(&c, "HASH abc"), 213);
    cr_expect(strstr(c.reply, "352441c2"), "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "XSHA256 abc"), 250);
    cr_expect(strstr(c.reply, "ba7816bf8f01cfea"), "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "XSHA256 \"h.txt\" 2 5"), 250);
    cr_expect(strstr(c.reply, "ba7816bf8f01cfea"), "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "XMD5 h.txt 2 5"), 250);
    cr_expect(strstr(c.reply, "900150983cd24fb0d6963f7d28e17f72"), "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "XSHA1 abc"), 250);
    cr_expect(strstr(c.reply, "a9993e364706816aba3e25717850c26c9cd0d89d"));
    cr_expect_eq(ftc_cmd(&c, "XCRC abc"), 250);
    cr_expect(strstr(c.reply, "352441c2"), "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "HASH missing"), 550);
    cr_expect_eq(ftc_cmd(&c, "RANG 5 2"), 501);
    cr_expect_eq(ftc_cmd(&c, "RANG 1 0"), 350, "reset");
    /* RANG applies to RETR too */
    cr_expect_eq(ftc_cmd(&c, "RANG 2 4"), 350);
    char *back;
    size_t m;
    cr_expect_eq(ftc_get(&c, "RETR h.txt", &back, &m), 226);
    cr_expect(m == 3 && !memcmp(back, "abc", 3));
    free(back);
    ftc_close(&c);
}
