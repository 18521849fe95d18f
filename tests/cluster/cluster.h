/* tests/cluster/cluster.h - a cluster for the tests: three sockserv-ftpd
 * nodes on loopback behind the real HAProxy (send-proxy-v2 from 127.0.0.2,
 * a tcp-check on the 220 banner, round robin), sharing one home tree and
 * either one users file (the file store) or a throw-away PostgreSQL
 * (scripts/pgtmp).  Clients connect to HAProxy from 127.0.0.3 and up, so
 * every node sees distinct client addresses. */
#ifndef TESTS_CLUSTER_H
#define TESTS_CLUSTER_H

#include <stdbool.h>

#include "ftx.h"
#include "haproxy.h"
#include "pgtmp.h"

#define TC_NODES 3

typedef struct tc_cluster {
    bool with_pg;
    ts_pg pg;
    ts_haproxy h;
    ftx_server node[TC_NODES];
    char log[TC_NODES][700]; /* each node's log file */
    char home_root[700];     /* the shared tree: <root>/<user> */
    const char *const *extra; /* settings every node gets */
    const char *const *node_extra[TC_NODES]; /* and node k's own */
} tc_cluster;

/* Starts PostgreSQL (with_pg; `db init` on it), the nodes with extra
 * ("--set", "k=v", ..., NULL; may be NULL) and HAProxy, and waits until
 * HAProxy sees every node up.  Asserts. */
void tc_start(tc_cluster *c, bool with_pg, const char *const *extra);
/* As tc_start, with node k's own settings node_extra[k] (may be NULL). */
void tc_start_ex(tc_cluster *c, bool with_pg, const char *const *extra,
                 const char *const *const node_extra[TC_NODES]);
/* Stops HAProxy, the nodes that still run and PostgreSQL; removes the
 * temp dirs. */
void tc_stop(tc_cluster *c);

/* For each test's .fini: kills (SIGKILL) and removes what a failed
 * assertion left running, so no node, HAProxy or PostgreSQL outlives a
 * failed test. */
void tc_fini(void);

/* Adds a user in the shared store (the users file, or the database) with
 * its home in the shared tree.  Asserts. */
void tc_add_user(tc_cluster *c, const char *name, const char *pw,
                 const char *quota);
/* "<home_root>/<user>/<rel>" in a static slot (4 live). */
const char *tc_home(tc_cluster *c, const char *user, const char *rel);

/* A control connection through HAProxy from src (127.0.0.x); returns the
 * first reply's code.  *node gets which node answered (0-based, from the
 * banner "node nK"), -1 when unknown. */
int tc_open(tc_cluster *c, ftc *ctl, const char *src, int *node);
/* EPSV on ctl and the data connection to node from src; returns its fd. */
int tc_epsv(tc_cluster *c, ftc *ctl, int node, const char *src);

/* Node k's log so far (malloc'd, NUL-terminated). */
char *tc_log(tc_cluster *c, int k);
/* Waits (deadline s) until node k's log holds text; returns whether. */
bool tc_wait_log(tc_cluster *c, int k, const char *text, double deadline_s);
/* HAProxy's view of node k ("UP", "DOWN", ...): waits (20 s) for want. */
void tc_wait_status(tc_cluster *c, int k, const char *want);

#endif
