/* tests/cluster/cluster.c - see cluster.h. */
#include "cluster.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The store's settings: the shared users file, or the database. */
static size_t store_args(tc_cluster *c, const char **argv, char *buf,
                         size_t cap)
{
    if (c->with_pg)
        snprintf(buf, cap, "database_url=%s", c->pg.url);
    else
        snprintf(buf, cap, "users_file=%s/users", c->node[0].data_dir);
    argv[0] = "--set";
    argv[1] = buf;
    return 2;
}

static void run_ok(char *const argv[], const char *in, const char *what)
{
    static char out[8192], err[8192];
    int st = ts_run(argv, in, in ? strlen(in) : 0, out, sizeof out, err,
                    sizeof err, 60);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed (%d): %s %s",
              what, st, out, err);
}

static void start_node(tc_cluster *c, int k)
{
    static char banner[TC_NODES][64], store[TC_NODES][700],
        logset[TC_NODES][800], nodeid[TC_NODES][64];
    /* The pid: a client of this test that reached another test's
     * cluster would be noticed (tc_open). */
    snprintf(banner[k], sizeof banner[k], "banner=node n%d of %ld ready", k,
             (long)getpid());
    snprintf(logset[k], sizeof logset[k], "log_file=%s", c->log[k]);
    snprintf(nodeid[k], sizeof nodeid[k], "node_id=n%d", k);
    const char *argv[64];
    size_t n = 0;
    const char *fixed[] = {"--set", "proxy_protocol=on",
                           "--set", "proxy_trusted=127.0.0.2/32",
                           "--set", banner[k],
                           "--set", logset[k], NULL};
    for (size_t i = 0; fixed[i]; i++)
        argv[n++] = fixed[i];
    n += store_args(c, argv + n, store[k], sizeof store[k]);
    if (c->with_pg) {
        argv[n++] = "--set";
        argv[n++] = nodeid[k];
    }
    for (size_t i = 0; c->extra && c->extra[i] && n < 60; i++)
        argv[n++] = c->extra[i];
    const char *const *own = c->node_extra[k];
    for (size_t i = 0; own && own[i] && n < 62; i++)
        argv[n++] = own[i];
    argv[n] = NULL;
    ftx_start(&c->node[k], argv);
}

/* The cluster of the running test (each test is its own process). */
static tc_cluster *live;

void tc_start(tc_cluster *c, bool with_pg, const char *const *extra)
{
    tc_start_ex(c, with_pg, extra, NULL);
}

void tc_start_ex(tc_cluster *c, bool with_pg, const char *const *extra,
                 const char *const *const node_extra[TC_NODES])
{
    memset(c, 0, sizeof *c);
    for (int k = 0; k < TC_NODES; k++)
        c->node[k].proc.pid = -1;
    c->h.proc.pid = -1;
    c->pg.proc.pid = -1;
    live = c;
    c->with_pg = with_pg;
    c->extra = extra;
    for (int k = 0; k < TC_NODES && node_extra; k++)
        c->node_extra[k] = node_extra[k];
    cr_assert_eq(access(TS_HAPROXY, X_OK), 0, "haproxy is not installed "
                 "(scripts/deps.sh)");
    for (int k = 0; k < TC_NODES; k++) {
        ftx_init(&c->node[k], "cluster-node");
        snprintf(c->log[k], sizeof c->log[k], "%s/ftpd.log", c->node[k].dir);
    }
    snprintf(c->home_root, sizeof c->home_root, "%s/home",
             c->node[0].data_dir);
    mkdir(c->home_root, 0755);
    if (with_pg) {
        cr_assert(ts_pg_available(), "PostgreSQL is not installed "
                  "(scripts/deps.sh)");
        int rc = ts_pg_start(&c->pg);
        cr_assert_eq(rc, 0, "pgtmp: %d\n%s%s", rc, c->pg.proc.out,
                     c->pg.proc.err);
        char url[600];
        snprintf(url, sizeof url, "database_url=%s", c->pg.url);
        char *argv[] = {(char *)ftx_binary(), "--set", url, "db", "init",
                        NULL};
        run_ok(argv, NULL, "db init");
    }
    for (int k = 0; k < TC_NODES; k++)
        start_node(c, k);

    char backend[1024];
    snprintf(backend, sizeof backend,
             "    balance roundrobin\n"
             "    retries 3\n"
             "    option redispatch\n"
             "    option tcp-check\n"
             "    tcp-check expect string 220\n"
             /* quick to see a node down or back, slow to call a node that
              * is only slow (a loaded machine) down */
             "    timeout check 5s\n"
             "    default-server check inter 300ms fall 2 rise 1 "
             "send-proxy-v2 source 127.0.0.2\n"
             "    server n0 %s\n"
             "    server n1 %s\n"
             "    server n2 %s\n",
             c->node[0].addr_text, c->node[1].addr_text,
             c->node[2].addr_text);
    int rc = ts_haproxy_start_backend(&c->h, backend);
    cr_assert_eq(rc, 0, "haproxy: %d\n%s%s", rc, c->h.proc.out,
                 c->h.proc.err);
    for (int k = 0; k < TC_NODES; k++)
        tc_wait_status(c, k, "UP");
}

void tc_stop(tc_cluster *c)
{
    live = NULL;
    ts_haproxy_stop(&c->h);
    for (int k = 0; k < TC_NODES; k++) {
        if (c->node[k].running)
            ftx_stop(&c->node[k], false);
    }
    if (c->with_pg)
        ts_pg_stop(&c->pg);
    for (int k = 0; k < TC_NODES; k++)
        ts_rmtree(c->node[k].dir);
}

void tc_fini(void)
{
    tc_cluster *c = live;
    if (!c)
        return;
    live = NULL;
    for (int k = 0; k < TC_NODES; k++)
        if (c->node[k].running && c->node[k].proc.pid > 0)
            ts_stop(&c->node[k].proc, SIGKILL, 10);
    if (c->h.proc.pid > 0)
        ts_haproxy_stop(&c->h);
    if (c->with_pg && c->pg.proc.pid > 0)
        ts_pg_stop(&c->pg);
    for (int k = 0; k < TC_NODES; k++)
        if (c->node[k].dir[0])
            ts_rmtree(c->node[k].dir);
}

void tc_add_user(tc_cluster *c, const char *name, const char *pw,
                 const char *quota)
{
    char home[800], store[700], in[256];
    snprintf(home, sizeof home, "%s/%s", c->home_root, name);
    mkdir(home, 0755);
    const char *argv[16];
    size_t n = 0;
    argv[n++] = ftx_binary();
    argv[n++] = "--data-dir";
    argv[n++] = c->node[0].data_dir;
    n += store_args(c, argv + n, store, sizeof store);
    const char *rest[] = {"user", "add", name, "--home", home, "--quota",
                          quota, NULL};
    for (size_t i = 0; rest[i]; i++)
        argv[n++] = rest[i];
    argv[n] = NULL;
    snprintf(in, sizeof in, "%s\n", pw);
    run_ok((char *const *)argv, in, "user add");
}

const char *tc_home(tc_cluster *c, const char *user, const char *rel)
{
    static char slots[4][1024];
    static int next;
    char *b = slots[next++ % 4];
    snprintf(b, sizeof slots[0], "%s/%s%s%s", c->home_root, user,
             rel && *rel ? "/" : "", rel ? rel : "");
    return b;
}

int tc_open(tc_cluster *c, ftc *ctl, const char *src, int *node)
{
    memset(ctl, 0, sizeof *ctl);
    ctl->addr = c->h.front;
    ctl->fd = ts_connect_from(src, &c->h.front, 20);
    cr_assert(ctl->fd >= 0, "connect: %s", strerror(-ctl->fd));
    int code = ftc_reply(ctl);
    const char *p = strstr(ctl->reply, "node n");
    char mine[32];
    snprintf(mine, sizeof mine, " of %ld ready", (long)getpid());
    cr_assert(code != 220 || (p && strstr(ctl->reply, mine)),
              "not this test's cluster: %s", ctl->reply);
    if (node)
        *node = p ? p[6] - '0' : -1;
    return code;
}

int tc_epsv(tc_cluster *c, ftc *ctl, int node, const char *src)
{
    cr_assert_eq(ftc_cmd(ctl, "EPSV"), 229, "EPSV: %s", ctl->reply);
    char *p = strstr(ctl->reply, "(|||");
    cr_assert(p, "EPSV reply: %s", ctl->reply);
    ss_addr a = c->node[node].addr;
    ((struct sockaddr_in *)&a.sa)->sin_port = htons((uint16_t)atoi(p + 4));
    int fd = ts_connect_from(src, &a, 20);
    cr_assert(fd >= 0, "data connect: %s", strerror(-fd));
    return fd;
}

char *tc_log(tc_cluster *c, int k)
{
    size_t n;
    if (access(c->log[k], R_OK) != 0)
        return strdup("");
    return ftx_read_file(c->log[k], &n);
}

bool tc_wait_log(tc_cluster *c, int k, const char *text, double deadline_s)
{
    double end = ts_now() + deadline_s;
    for (;;) {
        char *log = tc_log(c, k);
        bool found = strstr(log, text) != NULL;
        free(log);
        if (found)
            return true;
        if (ts_now() > end)
            return false;
        poll(NULL, 0, 50);
    }
}

void tc_wait_status(tc_cluster *c, int k, const char *want)
{
    char name[8], st[64];
    snprintf(name, sizeof name, "n%d", k);
    cr_assert(ts_haproxy_wait_status(&c->h, name, want, 20, st, sizeof st),
              "HAProxy says %s is '%s', not %s within 20 s", name, st, want);
}
