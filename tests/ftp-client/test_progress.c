/* tests/ftp-client/test_progress.c - the progress bar in a real
 * pseudo-terminal (ptyrun.py), the single summary line when stderr is not a
 * terminal, and --quiet. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ftpc_test.h"

static char dir[512], root[600], local[600];
static ftpt_server srv;

static void setup(void)
{
    ts_mkdtemp("ftpc-progress", dir, sizeof dir);
    cr_assert(dir[0]);
    snprintf(root, sizeof root, "%s/root", dir);
    snprintf(local, sizeof local, "%s/local", dir);
    cr_assert_eq(mkdir(root, 0755), 0);
    cr_assert_eq(mkdir(local, 0755), 0);
    ftpt_server_start(&srv, root, NULL);
    ftpt_make_file(ftpt_path(root, "movie.bin"), 8u << 20, 1);
}

static void teardown(void)
{
    ftpt_stop(&srv);
    ts_rmtree(dir);
}

TestSuite(progress, .init = setup, .fini = teardown, .timeout = 120);

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

Test(progress, bar_redraws_reaches_100_and_ends_with_the_summary)
{
    char *argv[] = {"/usr/bin/python3", (char *)ftpt_script("ptyrun.py"),
                    (char *)ftpt_client_path(), "--limit-rate", "4M", srv.url, "get",
                    "movie.bin", (char *)ftpt_path(local, "movie.bin"), NULL};
    /* 8 MiB at 4 MiB/s: about two seconds, so about twenty redraws. */
    ftpt_run *r = ftpt_runv(NULL, argv);
    cr_assert_eq(r->code, 0, "exit %d: %s%s", r->code, r->out, r->err);
    const char *t = r->out; /* the terminal's whole transcript */
    int redraws = count(t, "\rmovie.bin ");
    cr_assert_geq(redraws, 5, "only %d redraws in: %s", redraws, t);
    /* At most ~10 a second: 8 MiB at 4 MiB/s cannot give 100 redraws. */
    cr_assert_leq(redraws, 60, "%d redraws: not rate-limited", redraws);
    cr_assert(strstr(t, "MiB/s") && strstr(t, "ETA"), "%s", t);
    const char *full = strstr(t, "100%");
    cr_assert(full, "never reached 100%%: %s", t);
    const char *summary = strstr(t, "movie.bin: 8.0 MiB in ");
    cr_assert(summary && summary > full, "no summary after 100%%: %s", t);
    cr_assert(strstr(summary, "verified sha256"), "%s", summary);
    double secs = 0;
    cr_assert_eq(sscanf(summary, "movie.bin: 8.0 MiB in %lf s", &secs), 1);
    cr_assert_geq(secs, 1.5, "--limit-rate 4M took only %.2f s", secs);
    /* The summary is the last thing written and ends the line. */
    size_t n = strlen(t);
    cr_assert(n > 2 && t[n - 1] == '\n', "%s", t);
    /* The terminal turns "\n" into "\r\n": that is the only CR left. */
    cr_assert_eq(strchr(summary, '\r'), t + n - 2, "redrawn after the summary: %s",
                 summary);
    free(r);
}

Test(progress, not_a_terminal_gives_exactly_one_summary_line)
{
    ftpt_run *r = ftpt_client(NULL, srv.url, "get", "movie.bin",
                              ftpt_path(local, "movie.bin"), NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert_eq(ftpt_lines(r->err), 1, "stderr: %s", r->err);
    cr_assert_null(strchr(r->err, '\r'), "bar drawn on a pipe: %s", r->err);
    cr_assert_null(strchr(r->err, '\033'), "escapes on a pipe: %s", r->err);
    cr_assert(strncmp(r->err, "movie.bin: 8.0 MiB in ", 22) == 0, "%s", r->err);
    cr_assert(strstr(r->err, "/s)") && strstr(r->err, "verified sha256"), "%s", r->err);
    cr_assert_str_empty(r->out);
    free(r);
}

Test(progress, quiet_prints_nothing_even_on_a_terminal)
{
    char *argv[] = {"/usr/bin/python3", (char *)ftpt_script("ptyrun.py"),
                    (char *)ftpt_client_path(), "--quiet", srv.url, "get", "movie.bin",
                    (char *)ftpt_path(local, "movie.bin"), NULL};
    ftpt_run *r = ftpt_runv(NULL, argv);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->out);
    cr_assert_str_empty(r->out, "quiet printed: %s", r->out);
    cr_assert(ftpt_same_file(ftpt_path(root, "movie.bin"), ftpt_path(local, "movie.bin")));
    free(r);
}
