/* tests/ftpd-units/store_contract.h - what every store backend must do
 * (store/store.h), as test bodies that take the backend as a parameter.
 *
 * A backend's suite supplies a store_backend (how to point a config at a
 * fresh, empty store of that kind) and expands STORE_CONTRACT_TESTS:
 *
 *     static const store_backend file = {"file", file_configure, NULL};
 *     TestSuite(store_file, .timeout = 60);
 *     STORE_CONTRACT_TESTS(store_file, file)
 *
 * Each test makes a temp directory, calls configure(dir, cfg) on a config
 * with the defaults (and the test's own limits set), opens the store with
 * ftpd_store_open, and calls cleanup(dir) at the end when given. */
#ifndef FTPD_STORE_CONTRACT_H
#define FTPD_STORE_CONTRACT_H

#include "store/store.h"

typedef struct store_backend {
    const char *name;
    /* Points c at an empty store of this kind living under dir (a fresh
     * temp directory); 0, or -1 to skip the test (backend not available). */
    int (*configure)(const char *dir, ftpd_config *c);
    void (*cleanup)(const char *dir);  /* may be NULL */
} store_backend;

void sc_accounts_add_lookup_mod_del(const store_backend *b);
void sc_accounts_seen_by_another_node_without_restart(const store_backend *b);
void sc_quota_reserve_settle_give_back(const store_backend *b);
void sc_quota_shared_by_sessions_never_passes_limit(const store_backend *b);
void sc_quota_reservation_from_forked_session(const store_backend *b);
void sc_guard_bans_host_and_name(const store_backend *b);
void sc_slots_hold_max_sessions_per_user(const store_backend *b);
void sc_node_id_from_config_or_default(const store_backend *b);

#define STORE_CONTRACT_TEST(suite, b, name) \
    Test(suite, name) { sc_##name(&(b)); }

#define STORE_CONTRACT_TESTS(suite, b)                                   \
    STORE_CONTRACT_TEST(suite, b, accounts_add_lookup_mod_del)           \
    STORE_CONTRACT_TEST(suite, b,                                        \
                        accounts_seen_by_another_node_without_restart)   \
    STORE_CONTRACT_TEST(suite, b, quota_reserve_settle_give_back)        \
    STORE_CONTRACT_TEST(suite, b,                                        \
                        quota_shared_by_sessions_never_passes_limit)     \
    STORE_CONTRACT_TEST(suite, b, quota_reservation_from_forked_session) \
    STORE_CONTRACT_TEST(suite, b, guard_bans_host_and_name)              \
    STORE_CONTRACT_TEST(suite, b, slots_hold_max_sessions_per_user)      \
    STORE_CONTRACT_TEST(suite, b, node_id_from_config_or_default)

#endif
