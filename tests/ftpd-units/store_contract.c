/* tests/ftpd-units/store_contract.c - the store contract (store_contract.h),
 * written against store/store.h only, so that it runs unchanged on every
 * backend. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/passwd.h"
#include "store_contract.h"
#include "units.h"

typedef struct fixture {
    const store_backend *b;
    char dir[PATH_MAX];
    ftpd_config *cfg;       /* large: on the heap */
    ftpd_store *st;
} fixture;

/* The config with the defaults and the backend's place; the test may change
 * limits before fx_open. */
static void fx_init(fixture *f, const store_backend *b)
{
    memset(f, 0, sizeof *f);
    f->b = b;
    u_tmpdir("store", f->dir, sizeof f->dir);
    f->cfg = calloc(1, sizeof *f->cfg);
    cr_assert(f->cfg);
    ftpd_config_defaults(f->cfg);
    snprintf(f->cfg->data_dir, sizeof f->cfg->data_dir, "%s", f->dir);
    if (b->configure(f->dir, f->cfg) < 0) {
        u_cleanup(f->dir);
        free(f->cfg);
        cr_skip_test("%s store not available", b->name);
    }
}

static ftpd_store *fx_open(fixture *f)
{
    char err[FTPD_STORE_ERR_MAX] = "";
    ftpd_store *st = NULL;
    int rc = ftpd_store_open(f->cfg, &st, err, sizeof err);
    cr_assert_eq(rc, 0, "%s store: %s", f->b->name, err);
    if (!f->st)
        f->st = st;
    return st;
}

static void fx_fini(fixture *f)
{
    ftpd_store_close(f->st);
    if (f->b->cleanup)
        f->b->cleanup(f->dir);
    u_cleanup(f->dir);
    free(f->cfg);
}

/* An account with a home under the fixture's directory and a cheap hash. */
static ftpd_user account(fixture *f, const char *name, uint64_t quota)
{
    ftpd_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "%s", name);
    u_path(u.home, sizeof u.home, "%s/home-%s", f->dir, name);
    u_mkdirs(u.home);
    u.quota = quota;
    setenv("SOCKSERV_FTPD_TEST_FAST_KDF", "1", 1);
    cr_assert_eq(ftpd_passwd_hash("pw", 2, u.hash, sizeof u.hash), 0);
    return u;
}

static void add(fixture *f, const ftpd_user *u)
{
    char err[FTPD_STORE_ERR_MAX] = "";
    cr_assert_eq(ftpd_store_user_add(f->st, u, err, sizeof err), 0, "%s", err);
}

/* A store opened with one account name (quota bytes), as lookup gives it. */
static ftpd_user opened_with(fixture *f, const store_backend *b,
                             const char *name, uint64_t quota)
{
    fx_init(f, b);
    fx_open(f);
    ftpd_user u = account(f, name, quota);
    add(f, &u);
    cr_assert_eq(ftpd_store_user_lookup(f->st, name, &u), 0);
    return u;
}

void sc_accounts_add_lookup_mod_del(const store_backend *b)
{
    fixture f;
    fx_init(&f, b);
    fx_open(&f);
    char err[FTPD_STORE_ERR_MAX];
    ftpd_user got, u = account(&f, "alice", 1000);
    u.rate_up = 4096;
    cr_expect_eq(ftpd_store_user_lookup(f.st, "alice", &got), -ENOENT);
    cr_expect_eq(ftpd_store_user_reference_hash(f.st, err, sizeof err),
                 -ENOENT, "no account, no reference hash");
    add(&f, &u);
    cr_expect_eq(ftpd_store_user_add(f.st, &u, err, sizeof err), -EEXIST);
    cr_assert_eq(ftpd_store_user_lookup(f.st, "alice", &got), 0);
    cr_expect_str_eq(got.hash, u.hash, "the KDF string, as it was given");
    cr_expect_str_eq(got.home, u.home);
    cr_expect_eq(got.quota, 1000);
    cr_expect_eq(got.rate_up, 4096);
    cr_expect_eq(ftpd_passwd_verify("pw", 2, got.hash), 1);
    char ref[FTPD_PASSWD_HASH_MAX];
    cr_expect_eq(ftpd_store_user_reference_hash(f.st, ref, sizeof ref), 0);

    char hash[FTPD_PASSWD_HASH_MAX];
    cr_assert_eq(ftpd_passwd_hash("new", 3, hash, sizeof hash), 0);
    cr_expect_eq(ftpd_store_user_set_hash(f.st, "alice", hash, err, sizeof err), 0);
    cr_expect_eq(ftpd_store_user_set_hash(f.st, "nobody", hash, err, sizeof err),
                 -ENOENT);
    ftpd_user_mod m = {.set_quota = true, .quota = FTPD_QUOTA_UNLIMITED,
                       .set_rate_down = true, .rate_down = 8192};
    cr_expect_eq(ftpd_store_user_mod(f.st, "alice", &m, err, sizeof err), 0);
    cr_expect_eq(ftpd_store_user_mod(f.st, "nobody", &m, err, sizeof err),
                 -ENOENT);
    cr_assert_eq(ftpd_store_user_lookup(f.st, "alice", &got), 0);
    cr_expect_eq(ftpd_passwd_verify("new", 3, got.hash), 1);
    cr_expect_eq(got.quota, FTPD_QUOTA_UNLIMITED);
    cr_expect_eq(got.rate_up, 4096, "mod leaves what it does not set");
    cr_expect_eq(got.rate_down, 8192);

    ftpd_user bob = account(&f, "bob", 10);
    add(&f, &bob);
    ftpd_user *all;
    size_t n;
    cr_assert_eq(ftpd_store_user_list(f.st, &all, &n, err, sizeof err), 0);
    cr_expect_eq(n, 2);
    int seen = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(all[i].name, "bob") && !strcmp(all[i].home, bob.home))
            seen++;
    free(all);
    cr_expect_eq(seen, 1, "list gives bob with his home");
    uint64_t used = 1;
    cr_expect_eq(ftpd_store_user_usage(f.st, &bob, &used), 0);
    cr_expect_eq(used, 0);
    cr_expect_eq(ftpd_store_reload(f.st, err, sizeof err), 2);

    cr_expect_eq(ftpd_store_user_del(f.st, "alice", err, sizeof err), 0);
    cr_expect_eq(ftpd_store_user_del(f.st, "alice", err, sizeof err), -ENOENT);
    cr_expect_eq(ftpd_store_user_lookup(f.st, "alice", &got), -ENOENT);
    cr_expect_eq(ftpd_store_user_lookup(f.st, "bob", &got), 0);
    cr_expect_eq(ftpd_store_tick(f.st), 0);
    fx_fini(&f);
}

void sc_accounts_seen_by_another_node_without_restart(const store_backend *b)
{
    fixture f;
    fx_init(&f, b);
    fx_open(&f);
    ftpd_store *other = fx_open(&f);  /* a second node on the same store */
    char err[FTPD_STORE_ERR_MAX];
    ftpd_user got, u = account(&f, "carol", 100);
    cr_expect_eq(ftpd_store_user_lookup(other, "carol", &got), -ENOENT);
    add(&f, &u);
    cr_expect_eq(ftpd_store_user_lookup(other, "carol", &got), 0);
    cr_expect_eq(ftpd_store_user_del(other, "carol", err, sizeof err), 0);
    cr_expect_eq(ftpd_store_user_lookup(f.st, "carol", &got), -ENOENT);
    ftpd_store_close(other);
    fx_fini(&f);
}

void sc_quota_reserve_settle_give_back(const store_backend *b)
{
    fixture f;
    ftpd_user u = opened_with(&f, b, "dave", 1000);
    ftpd_store_quota q;
    cr_assert_eq(ftpd_store_quota_attach(f.st, &u, &q), 0);
    uint64_t got, used, limit;
    cr_expect_eq(ftpd_store_quota_reserve(&q, 600, &got), 0);
    cr_expect_eq(got, 600);
    cr_expect_eq(ftpd_store_quota_reserve(&q, 600, &got), 0);
    cr_expect_eq(got, 400, "what is left, not more");
    cr_expect_eq(ftpd_store_quota_reserve(&q, 1, &got), -EDQUOT);
    cr_expect_eq(got, 0);
    cr_expect_eq(ftpd_store_quota_settle(&q, 400, 100), 0);
    cr_assert_eq(ftpd_store_quota_get(&q, &used, &limit), 0);
    cr_expect_eq(used, 700, "600 reserved + 100 written");
    cr_expect_eq(limit, 1000);
    cr_expect_eq(ftpd_store_quota_settle(&q, 600, 600), 0);
    cr_expect_eq(ftpd_store_quota_give_back(&q, 200), 0);
    cr_assert_eq(ftpd_store_quota_get(&q, &used, &limit), 0);
    cr_expect_eq(used, 500);
    cr_expect_eq(ftpd_store_quota_give_back(&q, 10000), 0);
    cr_assert_eq(ftpd_store_quota_get(&q, &used, &limit), 0);
    cr_expect_eq(used, 0, "never below 0");
    cr_expect_eq(ftpd_store_quota_reserve(&q, 0, &got), 0);
    cr_expect_eq(got, 0);
    ftpd_store_quota_detach(&q);
    ftpd_store_quota_detach(&q);  /* idempotent */
    cr_expect_eq(ftpd_store_quota_reserve(&q, 1, &got), -EINVAL);
    fx_fini(&f);
}

typedef struct racer {
    ftpd_store *st;
    ftpd_user u;
    uint64_t granted;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    ftpd_store_quota q;
    if (ftpd_store_quota_attach(r->st, &r->u, &q) < 0)
        return NULL;
    uint64_t got;
    while (ftpd_store_quota_reserve(&q, 7, &got) == 0) {
        ftpd_store_quota_settle(&q, got, got);
        r->granted += got;
    }
    ftpd_store_quota_detach(&q);
    return NULL;
}

void sc_quota_shared_by_sessions_never_passes_limit(const store_backend *b)
{
    fixture f;
    ftpd_user u = opened_with(&f, b, "erin", 10000);
    /* One session stays attached, so the usage outlives the racers. */
    ftpd_store_quota keep;
    cr_assert_eq(ftpd_store_quota_attach(f.st, &u, &keep), 0);
    enum { N = 4 };
    racer r[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.st = f.st, .u = u};
        cr_assert_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    uint64_t sum = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        sum += r[i].granted;
    }
    cr_expect_eq(sum, 10000, "together exactly the limit, never more");
    uint64_t used, limit;
    cr_assert_eq(ftpd_store_quota_get(&keep, &used, &limit), 0);
    cr_expect_eq(used, 10000);
    ftpd_store_quota_detach(&keep);
    fx_fini(&f);
}

void sc_quota_reservation_from_forked_session(const store_backend *b)
{
    fixture f;
    ftpd_user u = opened_with(&f, b, "frank", 1000);
    ftpd_store_quota q;
    cr_assert_eq(ftpd_store_quota_attach(f.st, &u, &q), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {  /* a forked session: the store opened before the fork */
        ftpd_store_quota c;
        uint64_t got = 0;
        int ok = ftpd_store_quota_attach(f.st, &u, &c) == 0 &&
                 ftpd_store_quota_reserve(&c, 300, &got) == 0 && got == 300 &&
                 ftpd_store_quota_settle(&c, 300, 250) == 0;
        ftpd_store_quota_detach(&c);
        _exit(ok ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    uint64_t used, limit;
    cr_assert_eq(ftpd_store_quota_get(&q, &used, &limit), 0);
    cr_expect_eq(used, 250, "the child's upload counts for the parent");
    ftpd_store_quota_detach(&q);
    fx_fini(&f);
}

void sc_guard_bans_host_and_name(const store_backend *b)
{
    fixture f;
    fx_init(&f, b);
    f.cfg->ban_after_failures = 3;
    f.cfg->ban_time = 60;
    fx_open(&f);
    ss_addr a = u_ipv4("192.0.2.1"), other = u_ipv4("192.0.2.2");
    unsigned count = 0;
    double left = -1;
    cr_expect_eq(ftpd_store_guard_banned(f.st, &a, NULL, &left), 0);
    cr_expect_eq(left, 0);
    cr_expect_eq(ftpd_store_guard_fail(f.st, &a, "u1", &count), 0);
    cr_expect_eq(count, 1);
    cr_expect_eq(ftpd_store_guard_fail(f.st, &a, "u2", &count), 0);
    cr_expect_eq(count, 2, "the host counts both names");
    cr_expect_eq(ftpd_store_guard_fail(f.st, &a, "u3", &count), 0);
    cr_expect_eq(count, 3);
    cr_expect_eq(ftpd_store_guard_banned(f.st, &a, NULL, &left), 1);
    cr_expect_gt(left, 0);
    cr_expect_eq(ftpd_store_guard_banned(f.st, &other, NULL, NULL), 0);
    cr_expect_eq(ftpd_store_guard_banned(f.st, &other, "u1", NULL), 0);

    /* The name from five hosts, one failure each: no host reaches 3. */
    ss_addr h[5] = {u_ipv4("198.51.100.1"), u_ipv4("198.51.100.2"),
                    u_ipv4("198.51.100.3"), u_ipv4("198.51.100.4"),
                    u_ipv4("198.51.100.5")};
    ftpd_store_guard_fail(f.st, &h[0], "grace", &count);
    ftpd_store_guard_fail(f.st, &h[1], "grace", &count);
    cr_expect_eq(ftpd_store_guard_success(f.st, "grace"), 0);
    cr_expect_eq(ftpd_store_guard_fail(f.st, &h[2], "grace", &count), 0);
    cr_expect_eq(count, 1, "a login restarts the name's count");
    ftpd_store_guard_fail(f.st, &h[3], "grace", &count);
    ftpd_store_guard_fail(f.st, &h[4], "grace", &count);
    ss_addr fresh = u_ipv4("203.0.113.9");
    cr_expect_eq(ftpd_store_guard_banned(f.st, &fresh, "grace", NULL), 1,
                 "a banned name is banned from every host");
    cr_expect_eq(ftpd_store_guard_banned(f.st, &fresh, "hal", NULL), 0);
    unsigned bans = 0;
    cr_expect_eq(ftpd_store_guard_bans_active(f.st, &bans), 0);
    cr_expect_eq(bans, 2, "the host a and the name grace");
    fx_fini(&f);
}

void sc_slots_hold_max_sessions_per_user(const store_backend *b)
{
    fixture f;
    fx_init(&f, b);
    f.cfg->max_sessions_per_user = 2;
    fx_open(&f);
    ftpd_store_slot s1, s2, s3, other;
    cr_expect_eq(ftpd_store_slot_acquire(f.st, "ivy", &s1), 0);
    cr_expect(s1.held);
    cr_expect_eq(ftpd_store_slot_acquire(f.st, "ivy", &s2), 0);
    cr_expect_eq(ftpd_store_slot_acquire(f.st, "ivy", &s3), -EUSERS);
    cr_expect_not(s3.held);
    cr_expect_eq(ftpd_store_slot_acquire(f.st, "jack", &other), 0,
                 "another user is not affected");
    ftpd_store_slot_release(f.st, &s1);
    cr_expect_not(s1.held);
    ftpd_store_slot_release(f.st, &s1);  /* idempotent: no second release */
    cr_expect_eq(ftpd_store_slot_acquire(f.st, "ivy", &s3), 0);
    cr_expect_eq(ftpd_store_slot_acquire(f.st, "ivy", &s1), -EUSERS,
                 "the double release gave nothing back twice");
    ftpd_store_slot_release(f.st, &s2);
    ftpd_store_slot_release(f.st, &s3);
    ftpd_store_slot_release(f.st, &other);
    fx_fini(&f);
}

void sc_node_id_from_config_or_default(const store_backend *b)
{
    fixture f;
    fx_init(&f, b);
    fx_open(&f);
    char def[FTPD_STORE_NODE_ID_MAX], suffix[32];
    ftpd_store_default_node_id(def, sizeof def);
    snprintf(suffix, sizeof suffix, ":%ld", (long)getpid());
    cr_expect_str_eq(f.st->node_id, def);
    cr_expect(strlen(def) > strlen(suffix) &&
              !strcmp(def + strlen(def) - strlen(suffix), suffix),
              "hostname:pid, got %s", def);
    snprintf(f.cfg->node_id, sizeof f.cfg->node_id, "node-b");
    ftpd_store *named = fx_open(&f);
    cr_expect_str_eq(named->node_id, "node-b");
    ftpd_store_close(named);
    fx_fini(&f);
}
