/* tests/ftpd-units/test_store.c - the file store through store/store.h: the
 * backend-independent contract (store_contract.h), then what is the file
 * store's own (the users file it edits, the URLs this build refuses). */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "store_contract.h"
#include "units.h"

static int file_configure(const char *dir, ftpd_config *c)
{
    u_path(c->users_file, sizeof c->users_file, "%.4000s/users", dir);
    return 0;
}

static const store_backend file_backend = {"file", file_configure, NULL};

TestSuite(store, .timeout = 60);

STORE_CONTRACT_TESTS(store, file_backend)

Test(store, file_store_edits_the_users_file)
{
    char dir[PATH_MAX], path[PATH_MAX], text[4096];
    u_tmpdir("store-file", dir, sizeof dir);
    static ftpd_config c;
    ftpd_config_defaults(&c);
    file_configure(dir, &c);
    ftpd_store *st;
    char err[FTPD_STORE_ERR_MAX];
    cr_assert_eq(ftpd_store_open(&c, &st, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(st->ops->name, "file");
    ftpd_user u = {.name = "kim", .hash = "$scrypt$x", .home = "/srv/kim",
                   .quota = 1024};
    cr_expect_eq(ftpd_store_user_add(st, &u, err, sizeof err), 0, "%s", err);
    cr_assert_gt(u_read(u_path(path, sizeof path, "%s/users", dir), text,
                        sizeof text), 0);
    cr_expect(strstr(text, "kim:$scrypt$x:/srv/kim:1K\n"), "%s", text);
    cr_expect_eq(ftpd_store_init_schema(st, err, sizeof err), -ENOTSUP,
                 "the file has no schema");
    ftpd_store_close(st);
    u_cleanup(dir);
}

Test(store, a_url_no_backend_serves_is_refused)
{
    static ftpd_config c;
    ftpd_config_defaults(&c);
    ftpd_store *st = NULL;
    char err[FTPD_STORE_ERR_MAX];
    snprintf(c.database_url, sizeof c.database_url, "nosuch://host/db");
    cr_expect_eq(ftpd_store_open(&c, &st, err, sizeof err), -EPROTONOSUPPORT);
    cr_expect(strstr(err, "nosuch"), "%s", err);
    cr_expect_null(st);
#if !FTPD_STORE_PG
    snprintf(c.database_url, sizeof c.database_url, "postgresql://db/ftpd");
    cr_expect_eq(ftpd_store_open(&c, &st, err, sizeof err), -EPROTONOSUPPORT,
                 "a build without libpq says so");
#endif
}
