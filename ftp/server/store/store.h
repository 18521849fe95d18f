/* ftp/server/store/store.h - THE store of sockserv-ftpd: everything the
 * sessions of one node, and the nodes of a cluster, must agree on.
 *
 * CONTRACT (every backend keeps it; tests/ftpd-units/test_store.c checks it
 * through this header, so any backend can be run through the same tests).
 *
 * What goes through the store, and nothing else does:
 *   - accounts: lookup by name, add, set-hash, delete, modify, list, reload.
 *     An account is an ftpd_user (users.h) with the same KDF hash strings
 *     (passwd.h) whatever the backend; homes come back absolute.
 *   - quota: a session attaches its user's usage (ftpd_store_quota), then
 *     RESERVES before it writes and SETTLES after (charge what was written,
 *     release the rest); DELE, overwrites, RMD give space back.  Whatever
 *     runs concurrently (threads, forked children, other nodes), the sum of
 *     granted reservations and settled usage never passes the limit.
 *   - failed logins and bans, per client address and per user name.
 *   - logged-in sessions per user (max_sessions_per_user), across nodes.
 * Node-local and NOT in the store: per-IP/total session counts and pending
 * passive listeners (connlimit.c), rate buckets (ratelimit.c), counters.
 *
 * Lifetime and processes.  main() opens one store per node before the
 * first session (and before any fork) and closes it after the last one; the
 * "user" and "db" subcommands open one for their run.  Every operation but
 * open, close and tick may be called from any thread of the node's process
 * and from forked session processes, concurrently.  A backend must be
 * fork-safe: the file backend's tables are MAP_SHARED mappings made at
 * open; a backend holding connections must notice a fork (getpid() changed)
 * and open its own in the child, never speaking over the parent's.
 *
 * Errors.  Every int function returns 0 (or a documented count) or a
 * negative errno.  -EAGAIN, -EIO and -ETIMEDOUT mean "the store is
 * unavailable" (ftpd_store_unavailable()): the caller answers 421 to a new
 * login and goes on serving what needs no store; a backend bounds every
 * call with a timeout and recovers by itself when its server returns.
 * Functions with err/cap also write a one-line message there.
 *
 * Node identity.  Each store has a node id (config key node_id, default
 * "<hostname>:<pid>"); a backend shared by several nodes tags what a node
 * holds (session slots, reservations) with it and with a heartbeat renewed
 * by tick(), so that a dead node's slots and reservations are released
 * after a timeout.  The file backend ignores it.
 *
 * Backends.  A backend is a const ftpd_store_ops (a class, NULL slot =
 * "not supported": the wrappers below return -ENOTSUP, or do nothing for
 * tick) and a struct that embeds ftpd_store first.  ftpd_store_open() picks
 * it from the config: "file" (store/file_store.c) when database_url is
 * empty, else the backend whose scheme list holds the URL's scheme.  The
 * PostgreSQL backend (store/pg_store.c, built when meson finds libpq, with
 * FTPD_STORE_PG defined) provides ftpd_store_pg_ops; ftpd_store_open() lists
 * it under #if FTPD_STORE_PG, so a build without libpq still works and says
 * "database_url: no backend for 'postgresql' in this build".
 */
#ifndef FTPD_STORE_H
#define FTPD_STORE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sockserv/address.h>

#include "config.h"
#include "ftpd_build.h"  /* FTPD_STORE_PG: 1 when built with libpq */
#include "store/users.h"

#define FTPD_STORE_NODE_ID_MAX 128
#define FTPD_STORE_ERR_MAX 512

typedef struct ftpd_store ftpd_store;
typedef struct ftpd_store_ops ftpd_store_ops;

/* The base every backend embeds first: a pointer cast is the upcast. */
struct ftpd_store {
    const ftpd_store_ops *ops;
    char node_id[FTPD_STORE_NODE_ID_MAX];  /* filled by ftpd_store_open */
};

/* One session's handle on its user's quota: caller-allocated, one per
 * session (no concurrent calls on one handle).  store == NULL: not
 * attached.  id and impl belong to the backend (file: id is the slot in
 * the shared table; impl unused). */
typedef struct ftpd_store_quota {
    ftpd_store *store;
    char user[FTPD_USER_NAME_MAX + 1];
    uint64_t limit;          /* bytes, or FTPD_QUOTA_UNLIMITED */
    int64_t id;
    void *impl;
} ftpd_store_quota;

/* One session's hold on a per-user session slot (max_sessions_per_user).
 * held false: nothing to release.  id belongs to the backend. */
typedef struct ftpd_store_slot {
    bool held;
    char user[FTPD_USER_NAME_MAX + 1];
    int64_t id;
} ftpd_store_slot;

struct ftpd_store_ops {
    const char *name;                 /* "file", "pg" */
    const char *const *schemes;       /* URL schemes it serves, NULL-ended;
                                         NULL for the file backend */

    /* Allocates and opens the backend (*out, its ftpd_store first, ops
     * set); node_id is already resolved.  Called once, on the main thread. */
    int (*open)(const ftpd_config *cfg, const char *node_id, ftpd_store **out,
                char *err, size_t cap);
    /* Releases what this node holds where it can, frees the store. */
    void (*close)(ftpd_store *st);
    /* Creates or migrates the backend's schema ("sockserv-ftpd db init"). */
    int (*init_schema)(ftpd_store *st, char *err, size_t cap);
    /* About once a second, on the main loop of the node's main process:
     * renew the node's heartbeat, release stale nodes' holdings. */
    int (*tick)(ftpd_store *st);
    /* SIGHUP: re-read accounts now.  Returns the number of accounts. */
    int (*reload)(ftpd_store *st, char *err, size_t cap);
    /* Why the store is unavailable now, one line for the log ("" when it
     * is not, or it cannot tell).  Any thread. */
    void (*last_error)(ftpd_store *st, char *out, size_t cap);

    /* accounts */
    int (*user_lookup)(ftpd_store *st, const char *name, ftpd_user *out);
    int (*user_reference_hash)(ftpd_store *st, char *out, size_t cap);
    int (*user_add)(ftpd_store *st, const ftpd_user *u, char *err, size_t cap);
    int (*user_set_hash)(ftpd_store *st, const char *name, const char *hash,
                         char *err, size_t cap);
    int (*user_del)(ftpd_store *st, const char *name, char *err, size_t cap);
    int (*user_mod)(ftpd_store *st, const char *name, const ftpd_user_mod *m,
                    char *err, size_t cap);
    int (*user_list)(ftpd_store *st, ftpd_user **out, size_t *count,
                     char *err, size_t cap);
    int (*user_usage)(ftpd_store *st, const ftpd_user *u, uint64_t *used);

    /* quota */
    int (*quota_attach)(ftpd_store *st, const ftpd_user *u,
                        ftpd_store_quota *q);
    void (*quota_detach)(ftpd_store_quota *q);
    int (*quota_reserve)(ftpd_store_quota *q, uint64_t want,
                         uint64_t *granted);
    int (*quota_settle)(ftpd_store_quota *q, uint64_t granted, uint64_t used);
    int (*quota_give_back)(ftpd_store_quota *q, uint64_t n);
    int (*quota_get)(ftpd_store_quota *q, uint64_t *used, uint64_t *limit);

    /* failed logins and bans */
    int (*guard_banned)(ftpd_store *st, const ss_addr *client,
                        const char *user, double *seconds);
    int (*guard_fail)(ftpd_store *st, const ss_addr *client, const char *user,
                      unsigned *count);
    int (*guard_success)(ftpd_store *st, const char *user);
    int (*guard_bans_active)(ftpd_store *st, unsigned *count);

    /* per-user session slots */
    int (*slot_acquire)(ftpd_store *st, const char *user,
                        ftpd_store_slot *slot);
    void (*slot_release)(ftpd_store *st, ftpd_store_slot *slot);
};

/* The backends this build knows. */
extern const ftpd_store_ops ftpd_store_file_ops;
#if FTPD_STORE_PG
extern const ftpd_store_ops ftpd_store_pg_ops;
#endif

static inline bool ftpd_store_unavailable(int rc)
{
    return rc == -EAGAIN || rc == -EIO || rc == -ETIMEDOUT;
}

/* --- lifetime ------------------------------------------------------------
 * open: picks the backend from cfg->database_url (see above), resolves the
 * node id (cfg->node_id, else "<hostname>:<pid>") and opens it.  Main
 * thread, before any session or fork.  *out is owned by the caller until
 * ftpd_store_close.  -EPROTONOSUPPORT for a scheme no backend of this build
 * serves, -EINVAL for a bad URL, else the backend's error; err says why. */
int ftpd_store_open(const ftpd_config *cfg, ftpd_store **out, char *err,
                    size_t cap);
/* Closes and frees (NULL is fine).  Main thread, after every session. */
void ftpd_store_close(ftpd_store *st);
/* "<hostname>:<pid>" into out (the node_id default). */
void ftpd_store_default_node_id(char *out, size_t cap);
/* -ENOTSUP for a backend without a schema (the file store). */
int ftpd_store_init_schema(ftpd_store *st, char *err, size_t cap);
/* Periodic heartbeat; main loop of the main process only.  No-op for the
 * file store. */
int ftpd_store_tick(ftpd_store *st);
/* Re-reads accounts (SIGHUP); returns how many there are, or -errno with
 * the reason in err (the file store then answers lookups -EIO until its
 * file is good again: users.h). */
int ftpd_store_reload(ftpd_store *st, char *err, size_t cap);
/* Why the last call answered "unavailable", for the log; "" when the
 * backend cannot tell. */
void ftpd_store_last_error(ftpd_store *st, char *out, size_t cap);

/* --- accounts ------------------------------------------------------------
 * lookup: copies the account into *out, home made absolute; -ENOENT.
 * reference_hash: any one account's hash, so that checking an unknown name
 * costs what a known one does (ftpd_passwd_dummy_verify); -ENOENT if none.
 * add: -EEXIST when taken; set_hash, del, mod: -ENOENT when absent; bad
 * fields -EINVAL.  A change is visible to every session and node at their
 * next lookup, without a restart.
 * list: a malloc'd array (*out, free() it) of every account, homes as
 * lookup gives them.  usage: the bytes u's files use as the store counts
 * them (file: a walk of u->home; a database: its usage row). */
int ftpd_store_user_lookup(ftpd_store *st, const char *name, ftpd_user *out);
int ftpd_store_user_reference_hash(ftpd_store *st, char *out, size_t cap);
int ftpd_store_user_add(ftpd_store *st, const ftpd_user *u, char *err,
                        size_t cap);
int ftpd_store_user_set_hash(ftpd_store *st, const char *name,
                             const char *hash, char *err, size_t cap);
int ftpd_store_user_del(ftpd_store *st, const char *name, char *err,
                        size_t cap);
int ftpd_store_user_mod(ftpd_store *st, const char *name,
                        const ftpd_user_mod *m, char *err, size_t cap);
int ftpd_store_user_list(ftpd_store *st, ftpd_user **out, size_t *count,
                         char *err, size_t cap);
int ftpd_store_user_usage(ftpd_store *st, const ftpd_user *u, uint64_t *used);

/* --- quota ---------------------------------------------------------------
 * attach: q follows u's usage with u->quota as the limit (the account may
 * have changed it since the last session); u->home is absolute (as lookup
 * gives it) and the file store counts it on the user's first session.
 * -ENOSPC when the store can follow no more users.  detach is idempotent.
 * reserve: grants up to want bytes (*granted, maybe less) and counts them
 * as used at once; -EDQUOT when nothing at all is left and want > 0.  The
 * writer calls it per chunk, before writing; a remote backend may reserve
 * larger blocks ahead and hand them out locally, as long as what it holds
 * counts against the limit.
 * settle: after writing: used (<= granted) stays charged, granted - used is
 * released.  give_back: n bytes freed (DELE, overwrite, RMD, rename over a
 * file).  Usage never goes below 0.
 * get: current usage and limit. */
int ftpd_store_quota_attach(ftpd_store *st, const ftpd_user *u,
                            ftpd_store_quota *q);
void ftpd_store_quota_detach(ftpd_store_quota *q);
int ftpd_store_quota_reserve(ftpd_store_quota *q, uint64_t want,
                             uint64_t *granted);
int ftpd_store_quota_settle(ftpd_store_quota *q, uint64_t granted,
                            uint64_t used);
int ftpd_store_quota_give_back(ftpd_store_quota *q, uint64_t n);
int ftpd_store_quota_get(ftpd_store_quota *q, uint64_t *used,
                         uint64_t *limit);

/* --- failed logins and bans (see guard.h for the policy) -----------------
 * banned: 1 when the client's address, or the name (user may be NULL), is
 * banned now (*seconds, may be NULL, gets how much longer), else 0.
 * fail: counts one failed login of user ("" for a refused name) from client;
 * *count gets the larger of the two counts now (>= 1).
 * success: the name's count starts again (the address's does not).
 * bans_active: addresses and names banned now (metrics). */
int ftpd_store_guard_banned(ftpd_store *st, const ss_addr *client,
                            const char *user, double *seconds);
int ftpd_store_guard_fail(ftpd_store *st, const ss_addr *client,
                          const char *user, unsigned *count);
int ftpd_store_guard_success(ftpd_store *st, const char *user);
int ftpd_store_guard_bans_active(ftpd_store *st, unsigned *count);

/* --- per-user sessions ---------------------------------------------------
 * acquire: takes one of user's max_sessions_per_user places (config; 0 = no
 * limit, then it always succeeds) into *slot; -EUSERS when all are taken.
 * release: gives it back (idempotent; slot->held false afterwards). */
int ftpd_store_slot_acquire(ftpd_store *st, const char *user,
                            ftpd_store_slot *slot);
void ftpd_store_slot_release(ftpd_store *st, ftpd_store_slot *slot);

#endif
