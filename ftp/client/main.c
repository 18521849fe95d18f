/* ftp/client/main.c - sockserv-ftp: parse the command line, log in, run one
 * command, a -c script or the shell, and turn the outcome into the
 * documented exit code (status.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "session.h"
#include "shell.h"
#include "status.h"

#define MAX_SCRIPT_ARGS 64

/* Checks every command of a -c script before connecting, so a typo is a
 * usage error (exit 2) and not a failure half way through. */
static int check_script(const char *script)
{
    char copy[8192];
    if (strlen(script) >= sizeof copy) {
        fprintf(stderr, "sockserv-ftp: -c: script too long\n");
        return FTPC_ERR_USAGE;
    }
    snprintf(copy, sizeof copy, "%s", script);
    char *start = copy, quote = 0;
    for (char *p = copy;; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
            if (*p)
                continue;
        } else if (*p == '"' || *p == '\'') {
            quote = *p;
            continue;
        }
        if (*p != ';' && *p != '\0')
            continue;
        bool end = *p == '\0';
        *p = '\0';
        char *argv[MAX_SCRIPT_ARGS];
        int argc = ftpc_shell_split(start, argv, MAX_SCRIPT_ARGS);
        if (argc < 0 || quote) {
            fprintf(stderr, "sockserv-ftp: -c: unclosed quote\n");
            return FTPC_ERR_USAGE;
        }
        int r = ftpc_shell_check(argc, argv);
        if (r < 0)
            return r;
        if (end)
            return 0;
        start = p + 1;
    }
}

int main(int argc, char **argv)
{
    /* A data connection the server drops must be an error, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    ftpc_opts opts;
    char err[512];
    if (ftpc_args_parse(&opts, argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "sockserv-ftp: %s\n(see sockserv-ftp --help)\n", err);
        return FTPC_EXIT_USAGE;
    }
    if (opts.help) {
        fputs(ftpc_usage, stdout);
        return FTPC_EXIT_OK;
    }
    if (opts.version) {
        puts("sockserv-ftp " FTPC_VERSION);
        return FTPC_EXIT_OK;
    }
    if (opts.cmd && ftpc_shell_check(opts.ncmd, opts.cmd) < 0)
        return FTPC_EXIT_USAGE;
    if (opts.script && check_script(opts.script) < 0)
        return FTPC_EXIT_USAGE;

    ftpc_session s;
    ftpc_session_init(&s, &opts);
    int r = ftpc_session_open(&s);
    if (r < 0) {
        fprintf(stderr, "sockserv-ftp: %s\n", ftpc_session_err(&s));
        ftpc_session_close(&s);
        return ftpc_exit_code(r);
    }
    if (opts.url.path[0]) {
        char *cd[] = {"cd", opts.url.path};
        r = ftpc_shell_run(&s, 2, cd);
    }
    if (r == 0) {
        if (opts.cmd)
            r = ftpc_shell_run(&s, opts.ncmd, opts.cmd);
        else if (opts.script)
            r = ftpc_shell_script(&s, opts.script);
        else
            r = ftpc_shell_interactive(&s);
    }
    ftpc_session_close(&s);
    return ftpc_exit_code(r > 0 ? 0 : r);
}
