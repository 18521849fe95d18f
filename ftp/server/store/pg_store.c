/* ftp/server/store/pg_store.c - the store in PostgreSQL (store.h), shared
 * by every node of a cluster: accounts, usage and reservations, failed
 * logins and bans, logged-in sessions, and the nodes' heartbeats.  The
 * schema is store/schema.sql (pgschema.c); queries go through a small pool
 * with a deadline on each (pgpool.c).
 *
 * Quota.  A session's writes are granted from a block it reserved in the
 * database (ftpd_account() in the schema), so a 64 KiB chunk costs no round
 * trip; what the block holds counts against the quota on every node, and
 * what was written moves to the usage at the next database call, at
 * quota_get (the start of each upload) and at detach.  A node that dies
 * loses its reservations to the others after node_timeout.
 *
 * Unavailable.  A database that cannot be reached or does not answer in
 * database_timeout makes the calls return -EAGAIN or -ETIMEDOUT (store.h:
 * "unavailable"); what a session already holds locally (its block, its
 * written-but-unreported bytes, bytes given back) waits in the handle and
 * reaches the database when it answers again. */
#include "store/store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "store/pgpool.h"
#include "store/pgschema.h"

/* Bytes a session reserves ahead of its writes. */
#define PG_BLOCK (256u * 1024u)
/* Ends of sessions the database missed (it was away), retried by tick. */
#define PG_PENDING_MAX 256

typedef struct pg_pending {
    char user[FTPD_USER_NAME_MAX + 1]; /* "" for a session slot */
    char session[48];
    uint64_t written, back;
} pg_pending;

typedef struct pg_store {
    ftpd_store base; /* first (store.h) */
    ftpd_pgpool pool;
    char node[FTPD_STORE_NODE_ID_MAX];
    unsigned max_per_user; /* 0: no limit */
    unsigned ban_after;
    double ban_time;
    double node_timeout;   /* s without a heartbeat before a node is dead */
    double last_beat;      /* monotonic s of the last heartbeat sent */
    bool registered;       /* ftpd_node_start() done */
    atomic_llong next_id;  /* session ids: "<pid>.<n>" */
    pthread_mutex_t lock;  /* guards pending and last_err */
    atomic_bool failing;   /* last_err is set */
    char last_err[FTPD_STORE_ERR_MAX];
    pg_pending pending[PG_PENDING_MAX];
    unsigned npending;
} pg_store;

/* A session's quota state between database calls (q->impl). */
typedef struct pg_quota {
    char session[48];
    uint64_t held;      /* reserved in the database, not yet handed out */
    uint64_t out;       /* handed out to writes not yet settled */
    uint64_t written;   /* settled here, still a reservation there */
    uint64_t back;      /* given back here, not yet there */
    uint64_t total;     /* usage + reservations at the last call */
} pg_quota;

static pg_store *pg_of(ftpd_store *st) { return (pg_store *)st; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The pool's "cannot reach it" is the store's "unavailable". */
static int unavail(int rc)
{
    return rc == -ENOTCONN ? -EAGAIN : rc;
}

static int exec(pg_store *ps, const char *sql, int n, const char *const *p,
                PGresult **out, char *err, size_t cap)
{
    char buf[FTPD_STORE_ERR_MAX];
    if (!err || !cap) {
        err = buf;
        cap = sizeof buf;
    }
    int rc = unavail(ftpd_pgpool_exec(&ps->pool, sql, n, p, out, err, cap));
    /* Why the store is unavailable, for the log (last_error). */
    if (ftpd_store_unavailable(rc) || atomic_load(&ps->failing)) {
        pthread_mutex_lock(&ps->lock);
        if (ftpd_store_unavailable(rc))
            snprintf(ps->last_err, sizeof ps->last_err, "%s", err);
        else
            ps->last_err[0] = '\0';
        atomic_store(&ps->failing, ftpd_store_unavailable(rc));
        pthread_mutex_unlock(&ps->lock);
    }
    return rc;
}

static void pg_last_error(ftpd_store *st, char *out, size_t cap)
{
    pg_store *ps = pg_of(st);
    pthread_mutex_lock(&ps->lock);
    snprintf(out, cap, "%s", ps->last_err);
    pthread_mutex_unlock(&ps->lock);
}

/* One statement whose answer is one integer (a count, a sum). */
static int exec_int(pg_store *ps, const char *sql, int n, const char *const *p,
                    long long *v, char *err, size_t cap)
{
    PGresult *r;
    int rc = exec(ps, sql, n, p, &r, err, cap);
    if (rc < 0)
        return rc;
    *v = PQntuples(r) == 1 ? atoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    return 0;
}

static void session_id(pg_store *ps, char *out, size_t cap)
{
    long long n = atomic_fetch_add(&ps->next_id, 1);
    snprintf(out, cap, "%ld.%lld", (long)getpid(), n);
}

static void u64(char *buf, size_t cap, uint64_t v)
{
    snprintf(buf, cap, "%llu", (unsigned long long)v);
}

/* The users file's conventions <-> the table's (schema.sql). */
static void limit_text(char *buf, size_t cap, uint64_t v, bool is_quota)
{
    if (v == FTPD_QUOTA_UNLIMITED)
        snprintf(buf, cap, "%s", is_quota ? "" : "-1");
    else
        u64(buf, cap, v);
}

static uint64_t limit_value(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return FTPD_QUOTA_UNLIMITED;
    long long v = atoll(PQgetvalue(r, row, col));
    return v < 0 ? FTPD_QUOTA_UNLIMITED : (uint64_t)v;
}

/* --- lifetime ----------------------------------------------------------- */

static int pg_open(const ftpd_config *cfg, const char *node_id,
                   ftpd_store **out, char *err, size_t cap)
{
    pg_store *ps = calloc(1, sizeof *ps);
    if (!ps)
        return -ENOMEM;
    int rc = ftpd_pgpool_init(&ps->pool, cfg->database_url,
                              cfg->database_pool_size, cfg->database_timeout);
    if (rc < 0) {
        snprintf(err, cap, "database_url: too long, or a bad pool setting");
        free(ps);
        return rc;
    }
    snprintf(ps->node, sizeof ps->node, "%s", node_id);
    ps->max_per_user = cfg->max_sessions_per_user;
    ps->ban_after = cfg->ban_after_failures;
    ps->ban_time = cfg->ban_time;
    ps->node_timeout = cfg->node_timeout;
    /* No query here: the database may be down now (the node starts and
     * registers at the first tick that reaches it), and "db init" opens
     * the store to create the schema. */
    pthread_mutex_init(&ps->lock, NULL);
    *out = &ps->base;
    return 0;
}

static void pg_close(ftpd_store *st)
{
    pg_store *ps = pg_of(st);
    if (ps->registered) {
        /* A clean stop gives back at once what the node held. */
        const char *p[] = {ps->node};
        exec(ps,
             "WITH s AS (DELETE FROM ftpd_sessions WHERE node = $1), "
             "r AS (DELETE FROM ftpd_reservations WHERE node = $1) "
             "DELETE FROM ftpd_nodes WHERE id = $1",
             1, p, NULL, NULL, 0);
    }
    ftpd_pgpool_close(&ps->pool);
    pthread_mutex_destroy(&ps->lock);
    free(ps);
}

/* Remembers the end of a session the database did not hear of. */
static void pend(pg_store *ps, const char *user, const char *session,
                 uint64_t written, uint64_t back)
{
    pthread_mutex_lock(&ps->lock);
    if (ps->npending < PG_PENDING_MAX) {
        pg_pending *e = &ps->pending[ps->npending++];
        snprintf(e->user, sizeof e->user, "%s", user);
        snprintf(e->session, sizeof e->session, "%s", session);
        e->written = written;
        e->back = back;
    }
    /* Past that, the node's next start releases the rows. */
    pthread_mutex_unlock(&ps->lock);
}

/* Sends the ends of sessions that waited; stops at the first failure. */
static void flush_pending(pg_store *ps)
{
    for (;;) {
        pthread_mutex_lock(&ps->lock);
        if (!ps->npending) {
            pthread_mutex_unlock(&ps->lock);
            return;
        }
        pg_pending e = ps->pending[ps->npending - 1];
        pthread_mutex_unlock(&ps->lock);
        char w[32], b[32];
        u64(w, sizeof w, e.written);
        u64(b, sizeof b, e.back);
        const char *p[] = {e.user, ps->node, e.session, w, b};
        int rc = e.user[0]
                     ? exec(ps,
                            "SELECT 1 FROM ftpd_account($1, $2, $3, $4, "
                            "9223372036854775807, $5, 0)",
                            5, p, NULL, NULL, 0)
                     : exec(ps,
                            "DELETE FROM ftpd_sessions WHERE node = $2 AND "
                            "session = $3",
                            3, p, NULL, NULL, 0);
        if (ftpd_store_unavailable(rc))
            return;
        pthread_mutex_lock(&ps->lock);
        for (unsigned i = 0; i < ps->npending; i++)
            if (!strcmp(ps->pending[i].session, e.session)) {
                ps->pending[i] = ps->pending[--ps->npending];
                break;
            }
        pthread_mutex_unlock(&ps->lock);
    }
}

/* Rows of this node's processes that died without ending their sessions
 * (a forked session process killed, a node restarted under the same
 * node_id, or the database away at the end): their session ids start with
 * the dead pid. */
static void sweep_dead_pids(pg_store *ps)
{
    const char *p[] = {ps->node};
    PGresult *r;
    if (exec(ps,
             "SELECT DISTINCT split_part(session, '.', 1) FROM "
             "ftpd_reservations WHERE node = $1 UNION SELECT DISTINCT "
             "split_part(session, '.', 1) FROM ftpd_sessions WHERE node = $1",
             1, p, &r, NULL, 0) < 0)
        return;
    for (int i = 0; i < PQntuples(r); i++) {
        long pid = atol(PQgetvalue(r, i, 0));
        if (pid <= 0 || pid == (long)getpid() ||
            kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char like[32];
        snprintf(like, sizeof like, "%ld.%%", pid);
        const char *q[] = {ps->node, like};
        exec(ps,
             "WITH s AS (DELETE FROM ftpd_sessions WHERE node = $1 AND "
             "session LIKE $2) DELETE FROM ftpd_reservations WHERE node = $1 "
             "AND session LIKE $2",
             2, q, NULL, NULL, 0);
    }
    PQclear(r);
}

static int pg_init_schema(ftpd_store *st, char *err, size_t cap)
{
    int from = 0;
    int rc = unavail(ftpd_pgschema_migrate(&pg_of(st)->pool, &from, err, cap));
    if (rc < 0)
        return rc;
    if (from == ftpd_pgschema_latest())
        snprintf(err, cap, "schema version %d (unchanged)", from);
    else
        snprintf(err, cap, "schema version %d (was %d)",
                 ftpd_pgschema_latest(), from);
    return ftpd_pgschema_latest();
}

/* The heartbeat: every node_timeout/6 (at least a second) the node renews
 * its row and releases what nodes silent for node_timeout held. */
static int pg_tick(ftpd_store *st)
{
    pg_store *ps = pg_of(st);
    double interval = ps->node_timeout / 6 > 1 ? ps->node_timeout / 6 : 1;
    double t = now_s();
    if (ps->registered && t - ps->last_beat < interval)
        return 0;
    const char *p[] = {ps->node};
    int rc;
    if (!ps->registered) {
        rc = exec(ps, "SELECT ftpd_node_start($1)", 1, p, NULL, NULL, 0);
        if (rc < 0)
            return rc;
        ps->registered = true;
    } else {
        /* Re-inserted if another node found us silent and removed us. */
        rc = exec(ps,
                  "INSERT INTO ftpd_nodes (id) VALUES ($1) ON CONFLICT (id) "
                  "DO UPDATE SET heartbeat = now()",
                  1, p, NULL, NULL, 0);
        if (rc < 0)
            return rc;
    }
    ps->last_beat = t;
    flush_pending(ps);
    sweep_dead_pids(ps);
    char to[32], bt[32];
    snprintf(to, sizeof to, "%.3f seconds", ps->node_timeout);
    snprintf(bt, sizeof bt, "%.3f seconds", ps->ban_time);
    const char *q[] = {to, bt};
    return exec(ps,
                "WITH f AS (DELETE FROM ftpd_failures WHERE first < now() - "
                "$2::interval AND (banned_until IS NULL OR banned_until < "
                "now())) SELECT ftpd_release_stale($1::interval)",
                2, q, NULL, NULL, 0);
}

/* Accounts live in the database; nothing to re-read. */
static int pg_reload(ftpd_store *st, char *err, size_t cap)
{
    long long n;
    int rc = exec_int(pg_of(st), "SELECT count(*) FROM ftpd_users", 0, NULL,
                      &n, err, cap);
    return rc < 0 ? rc : (int)n;
}

/* --- accounts ----------------------------------------------------------- */

#define USER_COLS "name, hash, home, quota, rate_up, rate_down"

static void user_from(const PGresult *r, int row, ftpd_user *u)
{
    memset(u, 0, sizeof *u);
    snprintf(u->name, sizeof u->name, "%s", PQgetvalue(r, row, 0));
    snprintf(u->hash, sizeof u->hash, "%s", PQgetvalue(r, row, 1));
    snprintf(u->home, sizeof u->home, "%s", PQgetvalue(r, row, 2));
    u->quota = limit_value(r, row, 3);
    long long up = atoll(PQgetvalue(r, row, 4));
    long long down = atoll(PQgetvalue(r, row, 5));
    u->rate_up = up < 0 ? FTPD_QUOTA_UNLIMITED : (uint64_t)up;
    u->rate_down = down < 0 ? FTPD_QUOTA_UNLIMITED : (uint64_t)down;
}

static int pg_user_lookup(ftpd_store *st, const char *name, ftpd_user *out)
{
    if (ftpd_user_name_check(name) < 0)
        return -ENOENT;
    PGresult *r;
    const char *p[] = {name};
    int rc = exec(pg_of(st), "SELECT " USER_COLS " FROM ftpd_users "
                             "WHERE name = $1",
                  1, p, &r, NULL, 0);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 1 ? 0 : -ENOENT;
    if (rc == 0)
        user_from(r, 0, out);
    PQclear(r);
    return rc;
}

static int pg_user_reference_hash(ftpd_store *st, char *out, size_t cap)
{
    PGresult *r;
    int rc = exec(pg_of(st), "SELECT hash FROM ftpd_users LIMIT 1", 0, NULL,
                  &r, NULL, 0);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 1 ? 0 : -ENOENT;
    if (rc == 0)
        snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

static int check_user(const ftpd_user *u, char *err, size_t cap)
{
    if (ftpd_user_name_check(u->name) < 0) {
        snprintf(err, cap, "bad user name '%s'", u->name);
        return -EINVAL;
    }
    /* Every node resolves the home alike only when it is absolute. */
    if (ftpd_user_home_check(u->home) < 0 || u->home[0] != '/') {
        snprintf(err, cap, "home must be an absolute path: '%s'", u->home);
        return -EINVAL;
    }
    if (!u->hash[0] || strpbrk(u->hash, ":\n")) {
        snprintf(err, cap, "bad password hash");
        return -EINVAL;
    }
    return 0;
}

static int pg_user_add(ftpd_store *st, const ftpd_user *u, char *err,
                       size_t cap)
{
    int rc = check_user(u, err, cap);
    if (rc < 0)
        return rc;
    char q[32], up[32], down[32];
    limit_text(q, sizeof q, u->quota, true);
    limit_text(up, sizeof up, u->rate_up, false);
    limit_text(down, sizeof down, u->rate_down, false);
    const char *p[] = {u->name, u->hash, u->home, q, up, down};
    rc = exec(pg_of(st),
              "INSERT INTO ftpd_users (" USER_COLS ") "
              "VALUES ($1, $2, $3, nullif($4, '')::bigint, $5, $6)",
              6, p, NULL, err, cap);
    if (rc == -EEXIST)
        snprintf(err, cap, "user '%s' exists", u->name);
    return rc;
}

/* An UPDATE/DELETE of one named user: -ENOENT when no row. */
static int one_row(pg_store *ps, const char *sql, int n, const char *const *p,
                   const char *name, char *err, size_t cap)
{
    PGresult *r;
    int rc = exec(ps, sql, n, p, &r, err, cap);
    if (rc < 0)
        return rc;
    rc = atoi(PQcmdTuples(r)) == 1 ? 0 : -ENOENT;
    PQclear(r);
    if (rc == -ENOENT)
        snprintf(err, cap, "no user '%s'", name);
    return rc;
}

static int pg_user_set_hash(ftpd_store *st, const char *name, const char *hash,
                            char *err, size_t cap)
{
    const char *p[] = {name, hash};
    return one_row(pg_of(st), "UPDATE ftpd_users SET hash = $2 WHERE name = $1",
                   2, p, name, err, cap);
}

static int pg_user_del(ftpd_store *st, const char *name, char *err, size_t cap)
{
    const char *p[] = {name};
    return one_row(pg_of(st), "DELETE FROM ftpd_users WHERE name = $1", 1, p,
                   name, err, cap);
}

static int pg_user_mod(ftpd_store *st, const char *name,
                       const ftpd_user_mod *m, char *err, size_t cap)
{
    char q[32], up[32], down[32];
    limit_text(q, sizeof q, m->quota, true);
    limit_text(up, sizeof up, m->rate_up, false);
    limit_text(down, sizeof down, m->rate_down, false);
    const char *p[] = {name, m->set_quota ? "1" : "0", q,
                       m->set_rate_up ? "1" : "0", up,
                       m->set_rate_down ? "1" : "0", down};
    return one_row(pg_of(st),
                   "UPDATE ftpd_users SET "
                   "quota = CASE WHEN $2 = '1' THEN nullif($3, '')::bigint "
                   "ELSE quota END, "
                   "rate_up = CASE WHEN $4 = '1' THEN $5::bigint "
                   "ELSE rate_up END, "
                   "rate_down = CASE WHEN $6 = '1' THEN $7::bigint "
                   "ELSE rate_down END "
                   "WHERE name = $1",
                   7, p, name, err, cap);
}

static int pg_user_list(ftpd_store *st, ftpd_user **out, size_t *count,
                        char *err, size_t cap)
{
    PGresult *r;
    int rc = exec(pg_of(st),
                  "SELECT " USER_COLS " FROM ftpd_users ORDER BY name", 0,
                  NULL, &r, err, cap);
    if (rc < 0)
        return rc;
    size_t n = (size_t)PQntuples(r);
    *out = calloc(n ? n : 1, sizeof **out);
    if (!*out) {
        PQclear(r);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        user_from(r, (int)i, &(*out)[i]);
    *count = n;
    PQclear(r);
    return 0;
}

static int pg_user_usage(ftpd_store *st, const ftpd_user *u, uint64_t *used)
{
    const char *p[] = {u->name};
    long long v;
    int rc = exec_int(pg_of(st),
                      "SELECT coalesce((SELECT used FROM ftpd_usage WHERE "
                      "name = $1), 0) + coalesce((SELECT sum(bytes) FROM "
                      "ftpd_reservations WHERE name = $1), 0)",
                      1, p, &v, NULL, 0);
    if (rc == 0)
        *used = (uint64_t)v;
    return rc;
}

/* --- quota -------------------------------------------------------------- */

/* One ftpd_account() call with what the handle has pending: written bytes
 * move to the usage, release leaves the reservation, back leaves the
 * usage, want is asked for.  On success the pending figures are cleared
 * and *granted (may be NULL) added to held. */
static int account(ftpd_store_quota *q, uint64_t release, uint64_t want,
                   uint64_t *granted)
{
    pg_store *ps = pg_of(q->store);
    pg_quota *pq = q->impl;
    char s[32], rel[32], b[32], w[32];
    u64(s, sizeof s, pq->written);
    u64(rel, sizeof rel, release);
    u64(b, sizeof b, pq->back);
    u64(w, sizeof w, want);
    const char *p[] = {q->user, ps->node, pq->session, s, rel, b, w};
    PGresult *r;
    int rc = exec(ps,
                  "SELECT granted, total, quota FROM "
                  "ftpd_account($1, $2, $3, $4, $5, $6, $7)",
                  7, p, &r, NULL, 0);
    if (rc < 0)
        return rc;
    if (PQntuples(r) != 1) { /* the user was deleted meanwhile */
        PQclear(r);
        pq->written = pq->back = 0;
        return -ENOENT;
    }
    uint64_t g = (uint64_t)atoll(PQgetvalue(r, 0, 0));
    pq->total = (uint64_t)atoll(PQgetvalue(r, 0, 1));
    q->limit = limit_value(r, 0, 2);
    PQclear(r);
    pq->written = pq->back = 0;
    pq->held += g;
    if (granted)
        *granted = g;
    return 0;
}

static int pg_quota_attach(ftpd_store *st, const ftpd_user *u,
                           ftpd_store_quota *q)
{
    pg_quota *pq = calloc(1, sizeof *pq);
    if (!pq)
        return -ENOMEM;
    session_id(pg_of(st), pq->session, sizeof pq->session);
    q->store = st;
    q->impl = pq;
    snprintf(q->user, sizeof q->user, "%s", u->name);
    q->limit = u->quota;
    return 0;
}

static void pg_quota_detach(ftpd_store_quota *q)
{
    pg_quota *pq = q->impl;
    if (!pq)
        return;
    /* A database that is away now hears of it from the next tick (or,
     * when this session process ends first, from the sweep of dead pids). */
    if (ftpd_store_unavailable(account(q, pq->held + pq->out, 0, NULL)))
        pend(pg_of(q->store), q->user, pq->session, pq->written, pq->back);
    free(pq);
    q->impl = NULL;
}

static int pg_quota_reserve(ftpd_store_quota *q, uint64_t want,
                            uint64_t *granted)
{
    pg_quota *pq = q->impl;
    if (want == 0)
        return 0;
    if (pq->held < want) {
        uint64_t ask = want - pq->held;
        if (q->limit != FTPD_QUOTA_UNLIMITED && ask < PG_BLOCK)
            ask = PG_BLOCK;
        int rc = account(q, 0, ask, NULL);
        if (rc < 0 && pq->held == 0)
            return rc;
    }
    uint64_t g = pq->held < want ? pq->held : want;
    if (g == 0)
        return -EDQUOT;
    pq->held -= g;
    pq->out += g;
    *granted = g;
    return 0;
}

static int pg_quota_settle(ftpd_store_quota *q, uint64_t granted,
                           uint64_t used)
{
    pg_quota *pq = q->impl;
    if (granted > pq->out)
        granted = pq->out;
    if (used > granted)
        used = granted;
    pq->out -= granted;
    pq->written += used;
    pq->held += granted - used;
    return 0;
}

static int pg_quota_give_back(ftpd_store_quota *q, uint64_t n)
{
    pg_quota *pq = q->impl;
    pq->back += n;
    int rc = account(q, 0, 0, NULL);
    /* Kept in the handle for the next call when the database is away. */
    return ftpd_store_unavailable(rc) ? 0 : rc;
}

/* The start of each upload: what was written is reported and the block
 * left over from the last upload goes back, so that other sessions see
 * the usage as it is. */
static int pg_quota_get(ftpd_store_quota *q, uint64_t *used, uint64_t *limit)
{
    pg_quota *pq = q->impl;
    uint64_t held = pq->held;
    int rc = account(q, held, 0, NULL);
    if (rc < 0)
        return rc;
    pq->held -= held;
    *used = pq->total;
    *limit = q->limit;
    return 0;
}

/* --- failed logins and bans --------------------------------------------- */

/* The host part of a client address ("192.0.2.7", "2001:db8::1"), the key
 * bans and failures are counted under; IPv4-mapped IPv6 as IPv4. */
static void host_key(const ss_addr *a, char *out, size_t cap)
{
    const struct sockaddr *sa = (const struct sockaddr *)&a->sa;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
                  (socklen_t)cap);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *v6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(v6))
            inet_ntop(AF_INET, &v6->s6_addr[12], out, (socklen_t)cap);
        else
            inet_ntop(AF_INET6, v6, out, (socklen_t)cap);
    } else {
        snprintf(out, cap, "local");
    }
}

static int pg_guard_banned(ftpd_store *st, const ss_addr *client,
                           const char *user, double *seconds)
{
    char host[INET6_ADDRSTRLEN];
    host_key(client, host, sizeof host);
    const char *p[] = {host, user ? user : ""};
    PGresult *r;
    int rc = exec(pg_of(st),
                  "SELECT coalesce(extract(epoch FROM max(banned_until) - "
                  "now()), 0) FROM ftpd_failures WHERE banned_until > now() "
                  "AND ((kind = 'h' AND key = $1) OR "
                  "(kind = 'u' AND key = $2 AND $2 <> ''))",
                  2, p, &r, NULL, 0);
    if (rc < 0)
        return rc;
    double left = atof(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (seconds)
        *seconds = left > 0 ? left : 0;
    return left > 0;
}

static int pg_guard_fail(ftpd_store *st, const ss_addr *client,
                         const char *user, unsigned *count)
{
    pg_store *ps = pg_of(st);
    char host[INET6_ADDRSTRLEN], after[16], bt[32];
    host_key(client, host, sizeof host);
    snprintf(after, sizeof after, "%u", ps->ban_after);
    snprintf(bt, sizeof bt, "%.3f seconds", ps->ban_time);
    const char *p[] = {host, user ? user : "", after, bt};
    long long v;
    int rc = exec_int(ps,
                      "SELECT greatest(ftpd_fail('h', $1, $3::int, "
                      "$4::interval), CASE WHEN $2 <> '' THEN ftpd_fail('u', "
                      "$2, $3::int, $4::interval) END)",
                      4, p, &v, NULL, 0);
    if (rc == 0)
        *count = (unsigned)v;
    return rc;
}

static int pg_guard_success(ftpd_store *st, const char *user)
{
    const char *p[] = {user};
    return exec(pg_of(st),
                "DELETE FROM ftpd_failures WHERE kind = 'u' AND key = $1", 1,
                p, NULL, NULL, 0);
}

static int pg_guard_bans_active(ftpd_store *st, unsigned *count)
{
    long long v;
    int rc = exec_int(pg_of(st),
                      "SELECT count(*) FROM ftpd_failures WHERE banned_until "
                      "> now()",
                      0, NULL, &v, NULL, 0);
    if (rc == 0)
        *count = (unsigned)v;
    return rc;
}

/* --- per-user session slots: a row per logged-in session ---------------- */

static int pg_slot_acquire(ftpd_store *st, const char *user,
                           ftpd_store_slot *slot)
{
    pg_store *ps = pg_of(st);
    snprintf(slot->user, sizeof slot->user, "%s", user);
    if (ps->max_per_user == 0) { /* nothing to count: no database needed */
        slot->held = true;
        slot->id = -1;
        return 0;
    }
    long long n = atomic_fetch_add(&ps->next_id, 1);
    char sess[48], max[16];
    snprintf(sess, sizeof sess, "%ld.%lld", (long)getpid(), n);
    snprintf(max, sizeof max, "%u", ps->max_per_user);
    const char *p[] = {ps->node, sess, user, max};
    PGresult *r;
    int rc = exec(ps, "SELECT ftpd_session_acquire($1, $2, $3, '', $4::int)",
                  4, p, &r, NULL, 0);
    if (rc < 0)
        return rc;
    bool ok = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!ok)
        return -EUSERS;
    slot->held = true;
    slot->id = ((long long)getpid() << 32) | (n & 0xffffffffLL);
    return 0;
}

static void pg_slot_release(ftpd_store *st, ftpd_store_slot *slot)
{
    if (!slot->held)
        return;
    slot->held = false;
    if (slot->id < 0)
        return;
    char sess[48];
    snprintf(sess, sizeof sess, "%ld.%lld", (long)(slot->id >> 32),
             (long long)(slot->id & 0xffffffffLL));
    const char *p[] = {pg_of(st)->node, sess};
    if (exec(pg_of(st),
             "DELETE FROM ftpd_sessions WHERE node = $1 AND session = $2", 2,
             p, NULL, NULL, 0) < 0)
        pend(pg_of(st), "", sess, 0, 0);
}

static const char *const pg_schemes[] = {"postgresql", "postgres", NULL};

const ftpd_store_ops ftpd_store_pg_ops = {
    .name = "pg",
    .schemes = pg_schemes,
    .open = pg_open,
    .close = pg_close,
    .init_schema = pg_init_schema,
    .tick = pg_tick,
    .reload = pg_reload,
    .last_error = pg_last_error,
    .user_lookup = pg_user_lookup,
    .user_reference_hash = pg_user_reference_hash,
    .user_add = pg_user_add,
    .user_set_hash = pg_user_set_hash,
    .user_del = pg_user_del,
    .user_mod = pg_user_mod,
    .user_list = pg_user_list,
    .user_usage = pg_user_usage,
    .quota_attach = pg_quota_attach,
    .quota_detach = pg_quota_detach,
    .quota_reserve = pg_quota_reserve,
    .quota_settle = pg_quota_settle,
    .quota_give_back = pg_quota_give_back,
    .quota_get = pg_quota_get,
    .guard_banned = pg_guard_banned,
    .guard_fail = pg_guard_fail,
    .guard_success = pg_guard_success,
    .guard_bans_active = pg_guard_bans_active,
    .slot_acquire = pg_slot_acquire,
    .slot_release = pg_slot_release,
};
