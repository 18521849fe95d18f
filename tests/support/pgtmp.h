/* tests/support/pgtmp.h - a throw-away PostgreSQL cluster (scripts/pgtmp)
 * for the suites that need the real database: started once per suite as an
 * unprivileged user on a free loopback port, stopped and started again in
 * place to test outages, removed at the end (or by the script's watchdog
 * when the test process dies). */
#ifndef TESTS_SUPPORT_PGTMP_H
#define TESTS_SUPPORT_PGTMP_H

#include <stdbool.h>
#include <stddef.h>

#include "support.h"

typedef struct ts_pg {
    ts_proc proc;  /* scripts/pgtmp run, in the foreground */
    char dir[512]; /* its data dir, removed by the script when it stops */
    char url[512]; /* postgresql://sockserv@127.0.0.1:PORT/sockserv */
} ts_pg;

/* True when the PostgreSQL server binaries are installed (initdb found the
 * way scripts/pgtmp finds it). */
bool ts_pg_available(void);

/* initdb + start (up to 120 s on a loaded machine).  Returns 0 with
 * pg->url set, or a negative code with the script's output in pg->proc. */
int ts_pg_start(ts_pg *pg);

/* Stops the server, keeping the data (the database is "down"); starts it
 * again on the same port.  0 or a negative code. */
int ts_pg_down(ts_pg *pg);
int ts_pg_up(ts_pg *pg);

/* Runs sql through psql -At as the superuser; the output (rows on lines,
 * columns separated by '|') goes to out (cap bytes, may be NULL).  Returns
 * psql's wait status (0 on success). */
int ts_pg_sql(ts_pg *pg, const char *sql, char *out, size_t cap);

/* Stops the server and removes its directory. */
void ts_pg_stop(ts_pg *pg);

#endif
