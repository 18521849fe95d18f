/* tests/cluster/test_cluster.c - three sockserv-ftpd nodes behind the real
 * HAProxy sharing one home tree: sessions spread over every node and each
 * node knows the client's address; a node killed in the middle of a
 * download costs the client (sockserv-ftp with retries) a reconnect to
 * another node and a resume, not a byte.  These need no database: the
 * nodes share the users file. */
#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster.h"

Test(cluster, logins_land_on_every_node_with_the_clients_address,
     .timeout = 180, .fini = tc_fini)
{
    tc_cluster c;
    tc_start(&c, false, NULL);
    tc_add_user(&c, "alice", "secret", "1G");
    int seen[TC_NODES] = {0};
    ftc s[2 * TC_NODES];
    for (int i = 0; i < 2 * TC_NODES; i++) {
        int node;
        cr_assert_eq(tc_open(&c, &s[i], "127.0.0.3", &node), 220, "%s",
                     s[i].reply);
        cr_assert(node >= 0 && node < TC_NODES, "%s", s[i].reply);
        seen[node]++;
        ftc_login(&s[i], "alice", "secret");
        cr_expect_eq(ftc_cmd(&s[i], "STAT"), 211, "%s", s[i].reply);
        cr_expect(strstr(s[i].reply, "Connected from 127.0.0.3:"), "%s",
                  s[i].reply);
    }
    for (int k = 0; k < TC_NODES; k++) {
        cr_expect(seen[k] > 0, "no session landed on node %d", k);
        cr_expect(tc_wait_log(&c, k, "login user=alice client=127.0.0.3:", 10),
                  "node %d's log has no login from 127.0.0.3", k);
        char *log = tc_log(&c, k);
        cr_expect(!strstr(log, "login user=alice client=127.0.0.2"), "%s", log);
        free(log);
    }
    for (int i = 0; i < 2 * TC_NODES; i++)
        ftc_close(&s[i]);
    tc_stop(&c);
}

/* The download runs slowly (--limit-rate) so that it is surely in flight
 * when the node serving it dies; the client reconnects through HAProxy,
 * which now refuses the dead node, and resumes with REST on another. */
Test(cluster, a_node_killed_mid_download_the_client_resumes_elsewhere,
     .timeout = 240, .fini = tc_fini)
{
    tc_cluster c;
    tc_start(&c, false, NULL);
    tc_add_user(&c, "alice", "secret", "1G");
    size_t n = 6u << 20;
    ftx_make_file(tc_home(&c, "alice", "big"), n, 11);
    char local[800], part[820];
    snprintf(local, sizeof local, "%s/big.local", c.node[1].dir);
    snprintf(part, sizeof part, "%s.part", local); /* sockserv-ftp's */
    char port[16];
    snprintf(port, sizeof port, "127.0.0.1:%d", ss_addr_port(&c.h.front));
    char url[64];
    snprintf(url, sizeof url, "alice@%s", port);
    char *argv[] = {(char *)ts_build_path("ftp/client/sockserv-ftp"),
                    "--retries", "5", "--retry-delay", "0.5",
                    "--limit-rate", "1M", "-q", url, "get", "big", local, NULL};
    char *env[] = {"SOCKSERV_FTP_PASSWORD=secret", NULL};
    ts_proc client;
    cr_assert_eq(ts_spawn(&client, argv, env, -1, true), 0);

    /* Which node serves it: the one whose log has the login. */
    int victim = -1;
    double deadline = ts_now() + 30;
    while (victim < 0 && ts_now() < deadline) {
        for (int k = 0; k < TC_NODES && victim < 0; k++) {
            char *log = tc_log(&c, k);
            if (strstr(log, "login user=alice"))
                victim = k;
            free(log);
        }
        poll(NULL, 0, 50);
    }
    cr_assert(victim >= 0, "no node logged the client's login");
    /* Killed once a good part, not all, has arrived. */
    deadline = ts_now() + 30;
    while (ftx_file_size(part) < (off_t)(n / 4) && ts_now() < deadline)
        poll(NULL, 0, 20);
    cr_assert(ftx_file_size(part) >= (off_t)(n / 4), "%s has %lld bytes",
              part, (long long)ftx_file_size(part));
    cr_assert(ftx_file_size(local) < 0, "the download ended before the kill");
    kill(c.node[victim].proc.pid, SIGKILL);
    ts_stop(&c.node[victim].proc, 0, 10);
    c.node[victim].running = false;

    int st = ts_stop(&client, 0, 120);
    cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "sockserv-ftp get: status %d\n%s\n%s", st, client.out,
              client.err);
    ftx_expect_same_files(tc_home(&c, "alice", "big"), local);
    /* It resumed on a node that is still alive, not from the start. */
    bool resumed = false;
    for (int k = 0; k < TC_NODES; k++) {
        if (k == victim)
            continue;
        char *log = tc_log(&c, k);
        resumed = resumed || strstr(log, "login user=alice");
        free(log);
    }
    cr_expect(resumed, "no other node served the rest");
    tc_stop(&c);
}

/* Per node passive data: node k listens on 127.0.1.(k+1) and announces
 * that address (masquerade_address) and its own pasv_ports range; through
 * HAProxy each PASV names the node that answered, and the data goes
 * straight there. */
Test(cluster, each_node_announces_its_own_passive_address_and_ports,
     .timeout = 180, .fini = tc_fini)
{
    /* Ranges below the ephemeral ports, apart per test process. */
    int base = 10000 + (int)(getpid() % 60) * 300;
    static char listen[TC_NODES][32], masq[TC_NODES][64], range[TC_NODES][64];
    const char *own[TC_NODES][7];
    const char *const *node_extra[TC_NODES];
    for (int k = 0; k < TC_NODES; k++) {
        snprintf(listen[k], sizeof listen[k], "127.0.1.%d:0", k + 1);
        snprintf(masq[k], sizeof masq[k], "masquerade_address=127.0.1.%d",
                 k + 1);
        snprintf(range[k], sizeof range[k], "pasv_ports=%d-%d",
                 base + 100 * k, base + 100 * k + 99);
        const char *o[] = {"--listen", listen[k], "--set", masq[k], "--set",
                           range[k], NULL};
        memcpy(own[k], o, sizeof o);
        node_extra[k] = own[k];
    }
    tc_cluster c;
    tc_start_ex(&c, false, NULL, node_extra);
    tc_add_user(&c, "alice", "secret", "1G");
    ftx_make_file(tc_home(&c, "alice", "f.bin"), 300000, 6);
    char *want = malloc(300000);
    ftx_fill(want, 300000, 6);
    int seen[TC_NODES] = {0};
    for (int i = 0; i < 2 * TC_NODES; i++) {
        ftc s;
        int k;
        cr_assert_eq(tc_open(&c, &s, "127.0.0.3", &k), 220, "%s", s.reply);
        cr_assert(k >= 0 && k < TC_NODES);
        seen[k]++;
        ftc_login(&s, "alice", "secret");
        cr_assert_eq(ftc_cmd(&s, "TYPE I"), 200);
        cr_assert_eq(ftc_cmd(&s, "PASV"), 227, "%s", s.reply);
        unsigned h[4], p1, p2;
        char *p = strchr(s.reply, '(');
        cr_assert(p && sscanf(p, "(%u,%u,%u,%u,%u,%u)", &h[0], &h[1], &h[2],
                              &h[3], &p1, &p2) == 6, "%s", s.reply);
        int port = (int)(p1 * 256 + p2);
        cr_expect(h[0] == 127 && h[1] == 0 && h[2] == 1 &&
                      h[3] == (unsigned)k + 1,
                  "node %d announced %u.%u.%u.%u", k, h[0], h[1], h[2], h[3]);
        cr_expect(port >= base + 100 * k && port <= base + 100 * k + 99,
                  "node %d announced port %d", k, port);
        char text[64];
        snprintf(text, sizeof text, "%u.%u.%u.%u:%d", h[0], h[1], h[2], h[3],
                 port);
        ss_addr a;
        ss_error err;
        cr_assert_eq(ss_addr_parse(&a, text, &err), 0);
        int d = ts_connect_from("127.0.0.3", &a, 20);
        cr_assert(d >= 0, "data connect to %s: %s", text, strerror(-d));
        cr_assert_eq(ftc_cmd(&s, "RETR f.bin"), 150, "%s", s.reply);
        char *got = malloc(300001);
        ssize_t n = ts_read_full(d, got, 300001);
        close(d);
        cr_expect(n == 300000 && memcmp(got, want, 300000) == 0,
                  "node %d: %zd bytes, not the file's", k, n);
        cr_expect_eq(ftc_reply(&s), 226, "%s", s.reply);
        free(got);
        ftc_close(&s);
    }
    for (int k = 0; k < TC_NODES; k++)
        cr_expect(seen[k] > 0, "no session on node %d", k);
    free(want);
    tc_stop(&c);
}
