/* tests/ftp-client/test_shell.c - the shell fed on stdin, -c scripts, the
 * URL's path, and where the password comes from (URL, environment,
 * ~/.netrc). */
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
    ts_mkdtemp("ftpc-shell", dir, sizeof dir);
    cr_assert(dir[0]);
    snprintf(root, sizeof root, "%s/root", dir);
    snprintf(local, sizeof local, "%s/local", dir);
    cr_assert_eq(mkdir(root, 0755), 0);
    cr_assert_eq(mkdir(local, 0755), 0);
    ftpt_server_start(&srv, root, NULL);
}

static void teardown(void)
{
    ftpt_stop(&srv);
    ts_rmtree(dir);
}

TestSuite(shell, .init = setup, .fini = teardown, .timeout = 120);

Test(shell, commands_on_stdin_work_and_errors_do_not_stop_it)
{
    ftpt_make_file(ftpt_path(local, "x.bin"), 4096, 1);
    ftpt_make_file(ftpt_path(local, "g1.dat"), 100, 2);
    ftpt_make_file(ftpt_path(local, "g2.dat"), 200, 3);
    char in[4096];
    snprintf(in, sizeof in,
             "pwd\n"
             "mkdir d\n"
             "cd d\n"
             "pwd\n"
             "put %1$s/x.bin x.bin\n"
             "size x.bin\n"
             "hash x.bin\n"
             "cd no-such-dir\n"
             "rename x.bin \"y z.bin\"\n"
             "ls\n"
             "lcd %1$s\n"
             "mput g*.dat\n"
             "lcd back\n"
             "mget g*.dat\n"
             "rm \"y z.bin\" g1.dat g2.dat\n"
             "cd ..\n"
             "rmdir d\n"
             "help\n"
             "quit\n"
             "pwd\n",
             local);
    cr_assert_eq(mkdir(ftpt_path(local, "back"), 0755), 0);
    ftpt_run *r = ftpt_client(in, srv.url, NULL);
    /* From a pipe the exit code tells that one command failed. */
    cr_assert_eq(r->code, 1, "exit %d: %s", r->code, r->err);
    char hex[65];
    cr_assert(ts_sha256_file(ftpt_path(local, "x.bin"), hex));
    cr_assert(strstr(r->out, "/\n/d\n"), "pwd: %s", r->out);
    cr_assert(strstr(r->out, "4096\n"), "size: %s", r->out);
    cr_assert(strstr(r->out, hex), "hash: %s", r->out);
    cr_assert(strstr(r->out, "y z.bin"), "ls: %s", r->out);
    cr_assert(strstr(r->out, "mget GLOB"), "help: %s", r->out);
    /* Exactly one error line, for the failed cd, naming it. */
    cr_assert(strstr(r->err, "cd no-such-dir: 550"), "%s", r->err);
    cr_assert_null(strstr(r->err, "rename"), "%s", r->err);
    cr_assert(ftpt_same_file(ftpt_path(local, "g1.dat"), ftpt_path(local, "back/g1.dat")));
    cr_assert(ftpt_same_file(ftpt_path(local, "g2.dat"), ftpt_path(local, "back/g2.dat")));
    struct stat st;
    cr_assert_neq(stat(ftpt_path(root, "d"), &st), 0, "rmdir d did not happen");
    /* 'quit' ended it: the pwd after it never ran, help's text is last. */
    const char *tail = "leave (also: exit, bye)\n";
    size_t on = strlen(r->out), tn = strlen(tail);
    cr_assert(on > tn && strcmp(r->out + on - tn, tail) == 0, "%s", r->out);
    free(r);
}

Test(shell, script_stops_at_the_first_failure)
{
    ftpt_run *r = ftpt_client(NULL, "-c", "mkdir a; cd nowhere; mkdir b", srv.url, NULL);
    cr_assert_eq(r->code, 1, "exit %d: %s", r->code, r->err);
    struct stat st;
    cr_assert_eq(stat(ftpt_path(root, "a"), &st), 0);
    cr_assert_neq(stat(ftpt_path(root, "b"), &st), 0, "ran past the failure");
    free(r);
}

Test(shell, url_path_is_the_starting_directory)
{
    cr_assert_eq(mkdir(ftpt_path(root, "pub"), 0755), 0);
    ftpt_make_file(ftpt_path(root, "pub/inside.txt"), 10, 1);
    char url[400];
    snprintf(url, sizeof url, "ftp://%s/pub", srv.url);
    ftpt_run *r = ftpt_client(NULL, url, "ls", NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->out, "inside.txt"), "%s", r->out);
    free(r);
}

Test(shell, password_from_the_environment)
{
    char url[300];
    snprintf(url, sizeof url, "alice@%s", srv.addr);
    setenv("SOCKSERV_FTP_PASSWORD", "secret", 1);
    ftpt_run *r = ftpt_client(NULL, url, "ls", NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    free(r);
    setenv("SOCKSERV_FTP_PASSWORD", "wrong", 1);
    r = ftpt_client(NULL, url, "ls", NULL);
    cr_assert_eq(r->code, 3, "exit %d: %s", r->code, r->err);
    free(r);
}

Test(shell, login_and_password_from_netrc)
{
    unsetenv("SOCKSERV_FTP_PASSWORD");
    char home[700];
    snprintf(home, sizeof home, "%s/home", dir);
    cr_assert_eq(mkdir(home, 0700), 0);
    FILE *f = fopen(ftpt_path(home, ".netrc"), "w");
    cr_assert(f);
    fprintf(f, "machine other.example login bob password nope\n"
               "machine %s\n  login alice\n  password secret\n"
               "macdef init\ncd /\n\ndefault login x password y\n",
            srv.host);
    fclose(f);
    setenv("HOME", home, 1);
    ftpt_run *r = ftpt_client(NULL, "-v", srv.addr, "ls", NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "--> USER alice"), "%s", r->err);
    cr_assert_null(strstr(r->err, "secret"), "password in the trace: %s", r->err);
    free(r);
}
