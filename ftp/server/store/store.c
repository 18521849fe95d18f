/* ftp/server/store/store.c - picks a backend and dispatches to it (see
 * store.h).  Every wrapper is one call through the vtable, so that what a
 * backend does not implement fails the same way everywhere. */
#include "store/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The backends of this build; the file store needs no URL. */
static const ftpd_store_ops *const backends[] = {
#if FTPD_STORE_PG
    &ftpd_store_pg_ops,
#endif
    NULL,
};

static int fail(char *err, size_t cap, int rc, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

void ftpd_store_default_node_id(char *out, size_t cap)
{
    char host[64];
    if (gethostname(host, sizeof host) < 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(out, cap, "%s:%ld", host, (long)getpid());
}

static const ftpd_store_ops *backend_for(const char *url, char *scheme,
                                         size_t cap)
{
    const char *end = strstr(url, "://");
    size_t n = end ? (size_t)(end - url) : 0;
    if (n == 0 || n >= cap)
        return NULL;
    memcpy(scheme, url, n);
    scheme[n] = '\0';
    for (size_t i = 0; backends[i]; i++)
        for (const char *const *s = backends[i]->schemes; s && *s; s++)
            if (strcmp(*s, scheme) == 0)
                return backends[i];
    return NULL;
}

int ftpd_store_open(const ftpd_config *cfg, ftpd_store **out, char *err,
                    size_t cap)
{
    *out = NULL;
    const ftpd_store_ops *ops = &ftpd_store_file_ops;
    if (cfg->database_url[0]) {
        char scheme[32] = "";
        ops = backend_for(cfg->database_url, scheme, sizeof scheme);
        if (!ops && !scheme[0])
            return fail(err, cap, -EINVAL, "database_url: not a URL");
        if (!ops)
            return fail(err, cap, -EPROTONOSUPPORT,
                        "database_url: no backend for '%s' in this build",
                        scheme);
    }
    char node[FTPD_STORE_NODE_ID_MAX];
    if (cfg->node_id[0])
        snprintf(node, sizeof node, "%s", cfg->node_id);
    else
        ftpd_store_default_node_id(node, sizeof node);
    ftpd_store *st = NULL;
    int rc = ops->open(cfg, node, &st, err, cap);
    if (rc < 0)
        return rc;
    st->ops = ops;
    snprintf(st->node_id, sizeof st->node_id, "%s", node);
    *out = st;
    return 0;
}

void ftpd_store_close(ftpd_store *st)
{
    if (st)
        st->ops->close(st);
}

/* A slot the backend left NULL. */
#define CALL(st, slot, ...) \
    ((st)->ops->slot ? (st)->ops->slot(__VA_ARGS__) : -ENOTSUP)

int ftpd_store_init_schema(ftpd_store *st, char *err, size_t cap)
{
    if (!st->ops->init_schema)
        return fail(err, cap, -ENOTSUP, "the %s store has no schema",
                    st->ops->name);
    return st->ops->init_schema(st, err, cap);
}

int ftpd_store_tick(ftpd_store *st)
{
    return st->ops->tick ? st->ops->tick(st) : 0;
}

int ftpd_store_reload(ftpd_store *st, char *err, size_t cap)
{
    return CALL(st, reload, st, err, cap);
}

void ftpd_store_last_error(ftpd_store *st, char *out, size_t cap)
{
    if (cap)
        out[0] = '\0';
    if (st->ops->last_error && cap)
        st->ops->last_error(st, out, cap);
}

int ftpd_store_user_lookup(ftpd_store *st, const char *name, ftpd_user *out)
{
    return CALL(st, user_lookup, st, name, out);
}

int ftpd_store_user_reference_hash(ftpd_store *st, char *out, size_t cap)
{
    return CALL(st, user_reference_hash, st, out, cap);
}

int ftpd_store_user_add(ftpd_store *st, const ftpd_user *u, char *err,
                        size_t cap)
{
    return CALL(st, user_add, st, u, err, cap);
}

int ftpd_store_user_set_hash(ftpd_store *st, const char *name,
                             const char *hash, char *err, size_t cap)
{
    return CALL(st, user_set_hash, st, name, hash, err, cap);
}

int ftpd_store_user_del(ftpd_store *st, const char *name, char *err,
                        size_t cap)
{
    return CALL(st, user_del, st, name, err, cap);
}

int ftpd_store_user_mod(ftpd_store *st, const char *name,
                        const ftpd_user_mod *m, char *err, size_t cap)
{
    return CALL(st, user_mod, st, name, m, err, cap);
}

int ftpd_store_user_list(ftpd_store *st, ftpd_user **out, size_t *count,
                         char *err, size_t cap)
{
    *out = NULL;
    *count = 0;
    return CALL(st, user_list, st, out, count, err, cap);
}

int ftpd_store_user_usage(ftpd_store *st, const ftpd_user *u, uint64_t *used)
{
    return CALL(st, user_usage, st, u, used);
}

int ftpd_store_quota_attach(ftpd_store *st, const ftpd_user *u,
                            ftpd_store_quota *q)
{
    memset(q, 0, sizeof *q);
    int rc = CALL(st, quota_attach, st, u, q);
    if (rc < 0)
        q->store = NULL;
    return rc;
}

void ftpd_store_quota_detach(ftpd_store_quota *q)
{
    if (q->store && q->store->ops->quota_detach)
        q->store->ops->quota_detach(q);
    q->store = NULL;
}

int ftpd_store_quota_reserve(ftpd_store_quota *q, uint64_t want,
                             uint64_t *granted)
{
    *granted = 0;
    if (!q->store)
        return -EINVAL;
    return CALL(q->store, quota_reserve, q, want, granted);
}

int ftpd_store_quota_settle(ftpd_store_quota *q, uint64_t granted,
                            uint64_t used)
{
    if (!q->store || used > granted)
        return -EINVAL;
    return CALL(q->store, quota_settle, q, granted, used);
}

int ftpd_store_quota_give_back(ftpd_store_quota *q, uint64_t n)
{
    if (!q->store)
        return -EINVAL;
    return n ? CALL(q->store, quota_give_back, q, n) : 0;
}

int ftpd_store_quota_get(ftpd_store_quota *q, uint64_t *used, uint64_t *limit)
{
    if (!q->store)
        return -EINVAL;
    return CALL(q->store, quota_get, q, used, limit);
}

int ftpd_store_guard_banned(ftpd_store *st, const ss_addr *client,
                            const char *user, double *seconds)
{
    if (seconds)
        *seconds = 0;
    return CALL(st, guard_banned, st, client, user, seconds);
}

int ftpd_store_guard_fail(ftpd_store *st, const ss_addr *client,
                          const char *user, unsigned *count)
{
    *count = 1;
    return CALL(st, guard_fail, st, client, user, count);
}

int ftpd_store_guard_success(ftpd_store *st, const char *user)
{
    return CALL(st, guard_success, st, user);
}

int ftpd_store_guard_bans_active(ftpd_store *st, unsigned *count)
{
    *count = 0;
    return CALL(st, guard_bans_active, st, count);
}

int ftpd_store_slot_acquire(ftpd_store *st, const char *user,
                            ftpd_store_slot *slot)
{
    memset(slot, 0, sizeof *slot);
    int rc = CALL(st, slot_acquire, st, user, slot);
    if (rc < 0)
        slot->held = false;
    return rc;
}

void ftpd_store_slot_release(ftpd_store *st, ftpd_store_slot *slot)
{
    if (slot->held && st->ops->slot_release)
        st->ops->slot_release(st, slot);
    slot->held = false;
}
