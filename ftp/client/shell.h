/* ftp/client/shell.h - the commands (ls, get, put, ...) and the three ways
 * to run them: one command from the command line, a -c script, and the
 * interactive shell.  Every failure is printed as one line
 * "sockserv-ftp: CMD: reason" on stderr. */
#ifndef FTPC_SHELL_H
#define FTPC_SHELL_H

#include <stdbool.h>

#include "session.h"

/* Checks a command's name and argument count without running it (so that
 * usage errors come before any connection).  Returns 0 or FTPC_ERR_USAGE
 * after printing why. */
int ftpc_shell_check(int argc, char **argv);

/* Splits line into words (quotes "..." '...' and backslash escapes) in
 * place; returns the count (at most max) or -1 on an unclosed quote. */
int ftpc_shell_split(char *line, char **argv, int max);

/* Runs one command.  Returns 0, a negative status, or 1 for quit. */
int ftpc_shell_run(ftpc_session *s, int argc, char **argv);

/* Runs 'cmd; cmd; ...', stopping at the first failure.  Returns its status. */
int ftpc_shell_script(ftpc_session *s, const char *script);

/* Reads commands until quit or end of input.  Returns 0 on a terminal;
 * from a pipe, the status of the last failed command (or 0). */
int ftpc_shell_interactive(ftpc_session *s);

#endif
