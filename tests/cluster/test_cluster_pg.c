/* tests/cluster/test_cluster_pg.c - what three nodes behind HAProxy must
 * agree on, kept in the real PostgreSQL (scripts/pgtmp, started here):
 * bans, the quota of one user uploading through two nodes at once,
 * max_sessions_per_user, a dead node's slots and reservations given back
 * after the heartbeat timeout, and a database outage (421 for new logins,
 * running sessions go on, recovery without a restart). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster.h"

/* The nodes' heartbeat: short, so a dead node's rows go within seconds. */
#define NODE_TIMEOUT "node_timeout=3"

/* Opens sessions through HAProxy from src until one lands on node k (round
 * robin: within a few); returns the banner's code. */
static int open_on(tc_cluster *c, ftc *s, const char *src, int k)
{
    for (int i = 0; i < 3 * TC_NODES; i++) {
        int node, code = tc_open(c, s, src, &node);
        if (node == k || code != 220)
            return code;
        ftc_close(s);
    }
    char st[TC_NODES][64];
    for (int j = 0; j < TC_NODES; j++) {
        char name[8];
        snprintf(name, sizeof name, "n%d", j);
        if (ts_haproxy_server_status(&c->h, name, st[j], sizeof st[j]) < 0)
            snprintf(st[j], sizeof st[j], "?");
    }
    char *log = tc_log(c, k);
    size_t len = strlen(log);
    cr_assert_fail("no session landed on node %d (HAProxy: %s %s %s); its "
                   "log ends:\n%s", k, st[0], st[1], st[2],
                   log + (len > 3000 ? len - 3000 : 0));
    return -1;
}

static uint64_t quota_used(ftc *s)
{
    cr_assert_eq(ftc_cmd(s, "SITE QUOTA"), 200, "%s", s->reply);
    uint64_t used = 0;
    cr_assert_eq(sscanf(s->reply, "200 Quota: %" SCNu64, &used), 1, "%s",
                 s->reply);
    return used;
}

Test(cluster_pg, brute_force_from_one_address_is_banned_on_every_node,
     .timeout = 240, .fini = tc_fini)
{
    tc_cluster c;
    const char *extra[] = {"--set", "ban_after_failures=3", "--set",
                           "ban_time=120", "--set", "max_login_failures=1",
                           NULL};
    tc_start(&c, true, extra);
    tc_add_user(&c, "alice", "secret", "1G");
    /* One failure per connection, round robin: each node sees one. */
    for (int i = 0; i < 3; i++) {
        ftc s;
        cr_assert_eq(tc_open(&c, &s, "127.0.0.5", NULL), 220, "%s", s.reply);
        cr_expect_eq(ftc_cmd(&s, "USER mallory"), 331);
        int code = ftc_cmd(&s, "PASS guess%d", i);
        cr_expect(code == 530 || code == 421, "PASS: %s", s.reply);
        ftc_close(&s);
    }
    /* Now every node refuses that address, whichever HAProxy picks. */
    for (int k = 0; k < TC_NODES; k++) {
        ftc s;
        int code = open_on(&c, &s, "127.0.0.5", k);
        if (code == 220) { /* refused at login at the latest */
            ftc_cmd(&s, "USER alice");
            code = ftc_cmd(&s, "PASS secret");
        }
        cr_expect(code == 421 || code == 530, "node %d let 127.0.0.5 in: %s",
                  k, s.reply);
        ftc_close(&s);
    }
    /* Another client address logs in on every node (alice was added
     * after the nodes started), and each node knows that address. */
    for (int k = 0; k < TC_NODES; k++) {
        ftc s;
        cr_assert_eq(open_on(&c, &s, "127.0.0.6", k), 220, "%s", s.reply);
        ftc_login(&s, "alice", "secret");
        cr_expect_eq(ftc_cmd(&s, "STAT"), 211, "%s", s.reply);
        cr_expect(strstr(s.reply, "Connected from 127.0.0.6:"), "%s", s.reply);
        cr_expect(tc_wait_log(&c, k, "login user=alice client=127.0.0.6:", 10),
                  "node %d logged no login from 127.0.0.6", k);
        ftc_close(&s);
    }
    tc_stop(&c);
}

/* Two uploads of 2 MiB each for a quota of 3 MiB, through two nodes,
 * written in turns so that both are running when the quota is crossed. */
Test(cluster_pg, one_user_uploading_through_two_nodes_stays_within_quota,
     .timeout = 240, .fini = tc_fini)
{
    tc_cluster c;
    tc_start(&c, true, NULL);
    tc_add_user(&c, "bob", "pw-bob", "3M");
    ftc a, b;
    cr_assert_eq(open_on(&c, &a, "127.0.0.3", 0), 220);
    cr_assert_eq(open_on(&c, &b, "127.0.0.4", 1), 220);
    ftc_login(&a, "bob", "pw-bob");
    ftc_login(&b, "bob", "pw-bob");
    cr_assert_eq(ftc_cmd(&a, "TYPE I"), 200);
    cr_assert_eq(ftc_cmd(&b, "TYPE I"), 200);
    int da = tc_epsv(&c, &a, 0, "127.0.0.3");
    int db = tc_epsv(&c, &b, 1, "127.0.0.4");
    cr_assert_eq(ftc_cmd(&a, "STOR a.bin"), 150, "%s", a.reply);
    cr_assert_eq(ftc_cmd(&b, "STOR b.bin"), 150, "%s", b.reply);
    size_t n = 2u << 20, chunk = 64u << 10;
    char *data = malloc(n);
    ftx_fill(data, n, 9);
    bool a_ok = true, b_ok = true;
    for (size_t off = 0; off < n && (a_ok || b_ok); off += chunk) {
        /* a write may fail once the node has refused more (552) */
        if (a_ok && ts_write_full(da, data + off, chunk) < 0)
            a_ok = false;
        if (b_ok && ts_write_full(db, data + off, chunk) < 0)
            b_ok = false;
    }
    close(da);
    close(db);
    int ra = ftc_reply(&a), rb = ftc_reply(&b);
    /* Whoever crosses the quota gets 552 (in lockstep both may); an
     * upload told 226 is whole. */
    cr_expect((ra == 226 || ra == 552) && (rb == 226 || rb == 552) &&
                  (ra == 552 || rb == 552),
              "replies %d and %d: %s / %s", ra, rb, a.reply, b.reply);
    off_t sa = ftx_file_size(tc_home(&c, "bob", "a.bin"));
    off_t sb = ftx_file_size(tc_home(&c, "bob", "b.bin"));
    if (ra == 226)
        cr_expect_eq(sa, (off_t)n);
    if (rb == 226)
        cr_expect_eq(sb, (off_t)n);
    off_t on_disk = (sa > 0 ? sa : 0) + (sb > 0 ? sb : 0);
    cr_expect(on_disk <= (off_t)(3u << 20), "%lld bytes on disk for a 3 MiB "
              "quota", (long long)on_disk);
    /* Every node agrees that the usage is what is on disk. */
    ftc q;
    cr_assert_eq(open_on(&c, &q, "127.0.0.3", 2), 220);
    ftc_login(&q, "bob", "pw-bob");
    cr_expect_eq(quota_used(&q), (uint64_t)on_disk, "%s", q.reply);
    /* Deleting gives the space back, seen from another node. */
    cr_expect_eq(ftc_cmd(&a, "DELE a.bin"), 250, "%s", a.reply);
    cr_expect_eq(quota_used(&q), (uint64_t)(sb > 0 ? sb : 0), "%s", q.reply);
    ftc_close(&a);
    ftc_close(&b);
    ftc_close(&q);
    free(data);
    tc_stop(&c);
}

Test(cluster_pg, max_sessions_per_user_holds_across_nodes, .timeout = 240,
     .fini = tc_fini)
{
    tc_cluster c;
    const char *extra[] = {"--set", "max_sessions_per_user=2", NULL};
    tc_start(&c, true, extra);
    tc_add_user(&c, "alice", "secret", "1G");
    ftc s[3];
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(open_on(&c, &s[k], "127.0.0.3", k), 220);
        ftc_login(&s[k], "alice", "secret");
    }
    cr_assert_eq(open_on(&c, &s[2], "127.0.0.3", 2), 220);
    cr_expect_eq(ftc_cmd(&s[2], "USER alice"), 331);
    cr_expect_eq(ftc_cmd(&s[2], "PASS secret"), 530, "a third session: %s",
                 s[2].reply);
    /* One ends: its slot is free for the third node. */
    cr_expect_eq(ftc_cmd(&s[0], "QUIT"), 221);
    ftc_close(&s[0]);
    bool in = false;
    double deadline = ts_now() + 20;
    while (!in && ts_now() < deadline) {
        ftc_cmd(&s[2], "USER alice");
        in = ftc_cmd(&s[2], "PASS secret") == 230;
        if (!in)
            poll(NULL, 0, 100);
    }
    cr_expect(in, "the freed slot was not given: %s", s[2].reply);
    ftc_close(&s[1]);
    ftc_close(&s[2]);
    tc_stop(&c);
}

Test(cluster_pg, a_killed_nodes_slots_and_reservations_come_back,
     .timeout = 240, .fini = tc_fini)
{
    tc_cluster c;
    const char *extra[] = {"--set", "max_sessions_per_user=1", "--set",
                           NODE_TIMEOUT, NULL};
    tc_start(&c, true, extra);
    tc_add_user(&c, "alice", "secret", "1G");
    ftc s;
    cr_assert_eq(open_on(&c, &s, "127.0.0.3", 0), 220);
    ftc_login(&s, "alice", "secret");
    /* An upload in flight holds a reservation. */
    cr_assert_eq(ftc_cmd(&s, "TYPE I"), 200);
    int d = tc_epsv(&c, &s, 0, "127.0.0.3");
    cr_assert_eq(ftc_cmd(&s, "STOR up.bin"), 150, "%s", s.reply);
    char buf[65536];
    ftx_fill(buf, sizeof buf, 1);
    cr_assert_eq(ts_write_full(d, buf, sizeof buf), 0);
    char out[256] = "";
    double deadline = ts_now() + 20;
    while (ts_now() < deadline) {
        ts_pg_sql(&c.pg, "SELECT count(*) FROM ftpd_reservations", out,
                  sizeof out);
        if (atoi(out) > 0)
            break;
        poll(NULL, 0, 50);
    }
    cr_expect(atoi(out) > 0, "no reservation for the upload in flight");

    kill(c.node[0].proc.pid, SIGKILL);
    ts_stop(&c.node[0].proc, 0, 10);
    c.node[0].running = false;
    close(d);
    ftc_close(&s);
    /* Until the heartbeat timeout the dead node's session still counts;
     * then the others release it. */
    bool in = false;
    deadline = ts_now() + 60;
    while (!in && ts_now() < deadline) {
        ftc t;
        if (tc_open(&c, &t, "127.0.0.3", NULL) == 220) {
            ftc_cmd(&t, "USER alice");
            in = ftc_cmd(&t, "PASS secret") == 230;
        }
        ftc_close(&t);
        if (!in)
            poll(NULL, 0, 200);
    }
    cr_expect(in, "the dead node's session slot was never released");
    deadline = ts_now() + 30;
    while (ts_now() < deadline) {
        ts_pg_sql(&c.pg, "SELECT count(*) FROM ftpd_reservations", out,
                  sizeof out);
        if (atoi(out) == 0)
            break;
        poll(NULL, 0, 100);
    }
    cr_expect_eq(atoi(out), 0, "the dead node's reservation is still there");
    tc_stop(&c);
}

Test(cluster_pg, postgresql_down_new_logins_421_running_sessions_go_on,
     .timeout = 240, .fini = tc_fini)
{
    tc_cluster c;
    tc_start(&c, true, NULL);
    tc_add_user(&c, "alice", "secret", "1G");
    ftx_make_file(tc_home(&c, "alice", "f.bin"), 100000, 4);
    ftc s;
    int node;
    cr_assert_eq(tc_open(&c, &s, "127.0.0.3", &node), 220);
    ftc_login(&s, "alice", "secret");
    cr_assert_eq(ftc_cmd(&s, "TYPE I"), 200);

    cr_assert_eq(ts_pg_down(&c.pg), 0, "%s", c.pg.proc.err);
    for (int k = 0; k < TC_NODES; k++) {
        ftc t;
        cr_assert_eq(open_on(&c, &t, "127.0.0.4", k), 220, "%s", t.reply);
        ftc_cmd(&t, "USER alice");
        cr_expect_eq(ftc_cmd(&t, "PASS secret"), 421, "node %d with the "
                     "database down: %s", k, t.reply);
        ftc_close(&t);
    }
    /* The running session downloads on. */
    int d = tc_epsv(&c, &s, node, "127.0.0.3");
    cr_assert_eq(ftc_cmd(&s, "RETR f.bin"), 150, "%s", s.reply);
    char *got = malloc(100001);
    ssize_t n = ts_read_full(d, got, 100001);
    close(d);
    cr_expect_eq(n, 100000);
    cr_expect_eq(ftc_reply(&s), 226, "%s", s.reply);
    cr_expect_eq(ftc_cmd(&s, "PWD"), 257, "%s", s.reply);

    /* Back: logins work again on every node, no restart. */
    cr_assert_eq(ts_pg_up(&c.pg), 0, "%s", c.pg.proc.err);
    for (int k = 0; k < TC_NODES; k++) {
        bool in = false;
        double deadline = ts_now() + 30;
        while (!in && ts_now() < deadline) {
            ftc t;
            if (open_on(&c, &t, "127.0.0.4", k) == 220) {
                ftc_cmd(&t, "USER alice");
                in = ftc_cmd(&t, "PASS secret") == 230;
            }
            ftc_close(&t);
            if (!in)
                poll(NULL, 0, 200);
        }
        cr_expect(in, "node %d: no login after the database came back", k);
    }
    ftc_close(&s);
    free(got);
    tc_stop(&c);
}
