/* ftp/server/store/file_store.c - the zero-config store: accounts in the
 * users file (users.c), usage, bans and per-user session counts in memory
 * shared by this server's threads and forked sessions (quota.c, guard.c,
 * connlimit.c).  Nothing here is shared with another node, so node_id and
 * tick have nothing to do. */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/connlimit.h"
#include "store/guard.h"
#include "store/quota.h"

/* Hosts and names the guard remembers; the oldest is reused past it. */
#define GUARD_ENTRIES 4096

typedef struct file_store {
    ftpd_store base;           /* first (store.h) */
    ftpd_users users;
    ftpd_quota_table *quota;
    ftpd_guard *guard;
    ftpd_connlimit *sessions;  /* only its per-user counts are used */
} file_store;

static file_store *fs_of(ftpd_store *st)
{
    return (file_store *)st;
}

static void fs_close(ftpd_store *st)
{
    file_store *fs = fs_of(st);
    ftpd_users_close(&fs->users);
    ftpd_quota_table_destroy(fs->quota);
    ftpd_guard_destroy(fs->guard);
    ftpd_connlimit_destroy(fs->sessions);
    free(fs);
}

/* The tables are mapped here, before the server forks: every session
 * process shares them.  A users file that does not parse is no reason not
 * to start (the error stays for reload to report; no logins meanwhile). */
static int fs_open(const ftpd_config *cfg, const char *node_id,
                   ftpd_store **out, char *err, size_t cap)
{
    (void)node_id;
    file_store *fs = calloc(1, sizeof *fs);
    if (!fs)
        return -ENOMEM;
    int rc = ftpd_quota_table_create(&fs->quota, 0);
    if (rc < 0) {
        snprintf(err, cap, "quota table: %s", strerror(-rc));
        goto fail;
    }
    unsigned max = cfg->max_sessions ? cfg->max_sessions : 1;
    fs->sessions = ftpd_connlimit_create(max, 0);
    fs->guard = ftpd_guard_create(GUARD_ENTRIES, cfg->ban_after_failures,
                                  cfg->ban_time);
    if (!fs->sessions || !fs->guard) {
        rc = -errno;
        snprintf(err, cap, "%s table: %s", fs->guard ? "session" : "guard",
                 strerror(errno));
        goto fail;
    }
    ftpd_connlimit_set_user_limit(fs->sessions, cfg->max_sessions_per_user);
    char ignored[FTPD_STORE_ERR_MAX];
    ftpd_users_init(&fs->users, cfg->users_file, ignored, sizeof ignored);
    *out = &fs->base;
    return 0;
fail:
    ftpd_quota_table_destroy(fs->quota);
    ftpd_guard_destroy(fs->guard);
    ftpd_connlimit_destroy(fs->sessions);
    free(fs);
    return rc;
}

static int fs_reload(ftpd_store *st, char *err, size_t cap)
{
    file_store *fs = fs_of(st);
    int rc = ftpd_users_reload(&fs->users, true, err, cap);
    return rc < 0 ? rc : (int)ftpd_users_count(&fs->users);
}

/* --- accounts ----------------------------------------------------------- */

static int fs_user_lookup(ftpd_store *st, const char *name, ftpd_user *out)
{
    return ftpd_users_lookup(&fs_of(st)->users, name, out);
}

/* A users file that cannot be read whole or parsed (users.h) makes the
 * file store unavailable; its message names the file. */
static void fs_last_error(ftpd_store *st, char *out, size_t cap)
{
    char why[sizeof fs_of(st)->users.last_error];
    ftpd_users_last_error(&fs_of(st)->users, why, sizeof why);
    if (why[0])
        snprintf(out, cap, "users file %s", why);
}

static int fs_user_reference_hash(ftpd_store *st, char *out, size_t cap)
{
    return ftpd_users_reference_hash(&fs_of(st)->users, out, cap);
}

static int fs_user_add(ftpd_store *st, const ftpd_user *u, char *err,
                       size_t cap)
{
    return ftpd_users_file_add(fs_of(st)->users.path, u, err, cap);
}

static int fs_user_set_hash(ftpd_store *st, const char *name, const char *hash,
                            char *err, size_t cap)
{
    return ftpd_users_file_set_hash(fs_of(st)->users.path, name, hash, err,
                                    cap);
}

static int fs_user_del(ftpd_store *st, const char *name, char *err, size_t cap)
{
    return ftpd_users_file_del(fs_of(st)->users.path, name, err, cap);
}

static int fs_user_mod(ftpd_store *st, const char *name,
                       const ftpd_user_mod *m, char *err, size_t cap)
{
    return ftpd_users_file_mod(fs_of(st)->users.path, name, m, err, cap);
}

/* Straight from the file, not the table: the editors above write the file,
 * and "user list" must show what they wrote. */
static int fs_user_list(ftpd_store *st, ftpd_user **out, size_t *count,
                        char *err, size_t cap)
{
    const char *path = fs_of(st)->users.path;
    int rc = ftpd_users_parse_file(path, out, count, err, cap);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < *count; i++) {
        char home[FTPD_USER_HOME_MAX];
        if (ftpd_user_home_resolve(path, (*out)[i].home, home, sizeof home) == 0)
            memcpy((*out)[i].home, home, sizeof home);
    }
    return 0;
}

static int fs_user_usage(ftpd_store *st, const ftpd_user *u, uint64_t *used)
{
    (void)st;
    return ftpd_quota_walk(u->home, used);
}

/* --- quota: q->id is the slot in the shared table ------------------------ */

static ftpd_quota handle_of(const ftpd_store_quota *q)
{
    return (ftpd_quota){.table = fs_of(q->store)->quota, .slot = (int)q->id};
}

static int fs_quota_attach(ftpd_store *st, const ftpd_user *u,
                           ftpd_store_quota *q)
{
    ftpd_quota h;
    int rc = ftpd_quota_attach(fs_of(st)->quota, u->name, u->quota, u->home,
                               &h);
    if (rc < 0)
        return rc;
    q->store = st;
    snprintf(q->user, sizeof q->user, "%s", u->name);
    q->limit = u->quota;
    q->id = h.slot;
    return 0;
}

static void fs_quota_detach(ftpd_store_quota *q)
{
    ftpd_quota h = handle_of(q);
    ftpd_quota_detach(&h);
}

static int fs_quota_reserve(ftpd_store_quota *q, uint64_t want,
                            uint64_t *granted)
{
    ftpd_quota h = handle_of(q);
    return ftpd_quota_reserve(&h, want, granted);
}

static int fs_quota_settle(ftpd_store_quota *q, uint64_t granted,
                           uint64_t used)
{
    ftpd_quota h = handle_of(q);
    ftpd_quota_release(&h, granted - used);
    return 0;
}

static int fs_quota_give_back(ftpd_store_quota *q, uint64_t n)
{
    ftpd_quota h = handle_of(q);
    ftpd_quota_release(&h, n);
    return 0;
}

static int fs_quota_get(ftpd_store_quota *q, uint64_t *used, uint64_t *limit)
{
    ftpd_quota h = handle_of(q);
    return ftpd_quota_get(&h, used, limit);
}

/* --- failed logins and bans --------------------------------------------- */

static int fs_guard_banned(ftpd_store *st, const ss_addr *client,
                           const char *user, double *seconds)
{
    double left = ftpd_guard_banned(fs_of(st)->guard, client, user);
    if (seconds)
        *seconds = left;
    return left > 0;
}

static int fs_guard_fail(ftpd_store *st, const ss_addr *client,
                         const char *user, unsigned *count)
{
    *count = ftpd_guard_fail(fs_of(st)->guard, client, user);
    return 0;
}

static int fs_guard_success(ftpd_store *st, const char *user)
{
    ftpd_guard_success(fs_of(st)->guard, user);
    return 0;
}

static int fs_guard_bans_active(ftpd_store *st, unsigned *count)
{
    *count = ftpd_guard_bans_active(fs_of(st)->guard);
    return 0;
}

/* --- per-user session slots --------------------------------------------- */

static int fs_slot_acquire(ftpd_store *st, const char *user,
                           ftpd_store_slot *slot)
{
    if (!ftpd_connlimit_user_acquire(fs_of(st)->sessions, user))
        return -EUSERS;
    slot->held = true;
    snprintf(slot->user, sizeof slot->user, "%s", user);
    return 0;
}

static void fs_slot_release(ftpd_store *st, ftpd_store_slot *slot)
{
    ftpd_connlimit_user_release(fs_of(st)->sessions, slot->user);
}

const ftpd_store_ops ftpd_store_file_ops = {
    .name = "file",
    .open = fs_open,
    .close = fs_close,
    .reload = fs_reload,
    .last_error = fs_last_error,
    .user_lookup = fs_user_lookup,
    .user_reference_hash = fs_user_reference_hash,
    .user_add = fs_user_add,
    .user_set_hash = fs_user_set_hash,
    .user_del = fs_user_del,
    .user_mod = fs_user_mod,
    .user_list = fs_user_list,
    .user_usage = fs_user_usage,
    .quota_attach = fs_quota_attach,
    .quota_detach = fs_quota_detach,
    .quota_reserve = fs_quota_reserve,
    .quota_settle = fs_quota_settle,
    .quota_give_back = fs_quota_give_back,
    .quota_get = fs_quota_get,
    .guard_banned = fs_guard_banned,
    .guard_fail = fs_guard_fail,
    .guard_success = fs_guard_success,
    .guard_bans_active = fs_guard_bans_active,
    .slot_acquire = fs_slot_acquire,
    .slot_release = fs_slot_release,
};
