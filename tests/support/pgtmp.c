/* tests/support/pgtmp.c - see pgtmp.h. */
#include "pgtmp.h"

#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool ts_pg_available(void)
{
    glob_t g;
    bool found = glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0;
    if (found)
        globfree(&g);
    return found;
}

static char *script(void)
{
    return (char *)ts_source_path("scripts/pgtmp");
}

int ts_pg_start(ts_pg *pg)
{
    memset(pg, 0, sizeof *pg);
    /* One initdb per build tree; each cluster is a copy of it. */
    char cache[4200];
    snprintf(cache, sizeof cache, "PGTMP_CACHE=%s",
             ts_build_path("pgtmp-cache"));
    char *argv[] = {"/bin/bash", script(), "run", NULL};
    char *env[] = {cache, NULL};
    int rc = ts_spawn(&pg->proc, argv, env, -1, true);
    if (rc < 0)
        return rc;
    if ((rc = ts_wait_line(&pg->proc, "dir ", pg->dir, sizeof pg->dir, 120)) < 0 ||
        (rc = ts_wait_line(&pg->proc, "url ", pg->url, sizeof pg->url, 10)) < 0 ||
        (rc = ts_wait_line(&pg->proc, "ready", NULL, 0, 10)) < 0) {
        ts_stop(&pg->proc, SIGTERM, 30);
        return rc;
    }
    return 0;
}

static int ctl(ts_pg *pg, const char *what)
{
    char *argv[] = {"/bin/bash", script(), (char *)what, pg->dir, NULL};
    char err[2048];
    int st = ts_run(argv, NULL, 0, NULL, 0, err, sizeof err, 90);
    if (st != 0)
        fprintf(stderr, "pgtmp %s: %s\n", what, err);
    return st == 0 ? 0 : -EIO;
}

int ts_pg_down(ts_pg *pg) { return ctl(pg, "stop"); }
int ts_pg_up(ts_pg *pg) { return ctl(pg, "start"); }

int ts_pg_sql(ts_pg *pg, const char *sql, char *out, size_t cap)
{
    char *argv[] = {"/usr/bin/psql", "-X", "-At", "-v", "ON_ERROR_STOP=1",
                    "-d", pg->url, "-c", (char *)sql, NULL};
    char err[2048];
    int st = ts_run(argv, NULL, 0, out, cap, err, sizeof err, 60);
    if (st != 0)
        fprintf(stderr, "psql: %s\n", err);
    return st;
}

void ts_pg_stop(ts_pg *pg)
{
    if (pg->proc.pid > 0 && pg->proc.status == -1)
        ts_stop(&pg->proc, SIGTERM, 60);
}
