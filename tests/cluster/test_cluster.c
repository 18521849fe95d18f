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
     .timeout = 180)
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
     .timeout = 240)
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
