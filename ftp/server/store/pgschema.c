/* ftp/server/store/pgschema.c - see pgschema.h. */
#include "pgschema.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* store/schema.sql, from embed.py at build time. */
extern const char ftpd_pgschema_sql[];

#define MARK "-- version "

/* Finds the start of step n's marker line, or NULL. */
static const char *find_step(int n)
{
    const char *s = ftpd_pgschema_sql;
    while ((s = strstr(s, MARK))) {
        if ((s == ftpd_pgschema_sql || s[-1] == '\n') &&
            atoi(s + strlen(MARK)) == n)
            return s;
        s += strlen(MARK);
    }
    return NULL;
}

int ftpd_pgschema_latest(void)
{
    int n = 0;
    while (find_step(n + 1))
        n++;
    return n;
}

int ftpd_pgschema_step(int n, const char **sql, size_t *len)
{
    const char *s = find_step(n);
    if (!s)
        return -ENOENT;
    const char *e = find_step(n + 1);
    *sql = s;
    *len = e ? (size_t)(e - s) : strlen(s);
    return 0;
}

static int read_version(ftpd_pgpool *p, PGconn *c, int *version, bool *broken,
                        char *err, size_t cap)
{
    PGresult *r;
    int rc = ftpd_pgpool_query(p, c,
                               "SELECT CASE WHEN to_regclass('ftpd_schema_version')"
                               " IS NULL THEN -1 ELSE 0 END",
                               0, NULL, &r, broken, err, cap);
    if (rc < 0)
        return rc;
    bool exists = atoi(PQgetvalue(r, 0, 0)) == 0;
    PQclear(r);
    *version = 0;
    if (!exists)
        return 0;
    rc = ftpd_pgpool_query(p, c, "SELECT max(version) FROM ftpd_schema_version",
                           0, NULL, &r, broken, err, cap);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        *version = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int ftpd_pgschema_version(ftpd_pgpool *p, int *version, char *err,
                          size_t cap)
{
    int rc;
    PGconn *c = ftpd_pgpool_get(p, &rc, err, cap);
    if (!c)
        return rc;
    bool broken = false;
    rc = read_version(p, c, version, &broken, err, cap);
    ftpd_pgpool_put(p, c, broken);
    return rc;
}

static int newer(int v, char *err, size_t cap)
{
    snprintf(err, cap,
             "the database's schema is version %d, newer than this "
             "program's %d: upgrade this node",
             v, ftpd_pgschema_latest());
    return -EPROTO;
}

/* One step in one transaction, if still missing when the lock is ours. */
static int apply_next(ftpd_pgpool *p, PGconn *c, int *applied, bool *broken,
                      char *err, size_t cap)
{
    static const char begin[] =
        "BEGIN;"
        "SELECT pg_advisory_xact_lock(hashtext('ftpd_schema_version'));"
        "CREATE TABLE IF NOT EXISTS ftpd_schema_version "
        "(version integer NOT NULL);";
    int rc = ftpd_pgpool_query(p, c, begin, 0, NULL, NULL, broken, err, cap);
    int v = 0;
    if (rc == 0)
        rc = read_version(p, c, &v, broken, err, cap);
    *applied = 0;
    if (rc == 0 && v > ftpd_pgschema_latest())
        rc = newer(v, err, cap);
    if (rc == 0 && v < ftpd_pgschema_latest()) {
        const char *sql = NULL;
        size_t len = 0;
        char *text = NULL;
        if (ftpd_pgschema_step(v + 1, &sql, &len) < 0 ||
            !(text = malloc(len + 160)))
            rc = -ENOMEM;
        else {
            memcpy(text, sql, len);
            snprintf(text + len, 160,
                     ";\nDELETE FROM ftpd_schema_version;"
                     "INSERT INTO ftpd_schema_version VALUES (%d);",
                     v + 1);
            rc = ftpd_pgpool_query(p, c, text, 0, NULL, NULL, broken, err,
                                   cap);
            free(text);
            if (rc < 0 && err && cap) {
                size_t n = strlen(err);
                snprintf(err + n, cap - n, " (schema step %d)", v + 1);
            }
        }
        *applied = rc == 0;
    }
    if (!*broken)
        ftpd_pgpool_query(p, c, rc == 0 ? "COMMIT" : "ROLLBACK", 0, NULL,
                          NULL, broken, NULL, 0);
    return rc;
}

int ftpd_pgschema_migrate(ftpd_pgpool *p, int *from, char *err, size_t cap)
{
    int rc;
    PGconn *c = ftpd_pgpool_get(p, &rc, err, cap);
    if (!c)
        return rc;
    bool broken = false;
    int v = 0;
    rc = read_version(p, c, &v, &broken, err, cap);
    if (from)
        *from = v;
    int applied = 1;
    while (rc == 0 && applied)
        rc = apply_next(p, c, &applied, &broken, err, cap);
    ftpd_pgpool_put(p, c, broken);
    return rc;
}

int ftpd_pgschema_check(ftpd_pgpool *p, char *err, size_t cap)
{
    int v;
    int rc = ftpd_pgschema_version(p, &v, err, cap);
    if (rc < 0)
        return rc;
    if (v == 0) {
        snprintf(err, cap, "the database has no sockserv-ftpd schema: "
                           "run `sockserv-ftpd db init`");
        return -ENOENT;
    }
    if (v < ftpd_pgschema_latest()) {
        snprintf(err, cap,
                 "the database's schema is version %d, this program's %d: "
                 "run `sockserv-ftpd db init` to migrate it",
                 v, ftpd_pgschema_latest());
        return -EPROTO;
    }
    if (v > ftpd_pgschema_latest())
        return newer(v, err, cap);
    return 0;
}
