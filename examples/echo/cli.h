/* examples/echo/cli.h - the command-line conventions both echo programs
 * share: "--name VALUE" and "--name=VALUE", one-line usage errors, exit 2. */
#ifndef ECHO_CLI_H
#define ECHO_CLI_H

#include <stdbool.h>

/* Exit codes of both programs. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_ERROR = 1, CLI_EXIT_USAGE = 2 };

/* Matches argv[*i] against option `name` ("--listen").  A flag (value ==
 * NULL) matches only the bare name.  An option with a value matches
 * "--name=VALUE" or "--name VALUE" (then *i is advanced past VALUE) and sets
 * *value to the borrowed VALUE.  Returns 1 on a match, 0 when argv[*i] is
 * another option, and -1 (with a usage error printed) when the value is
 * missing or a flag was given one. */
int cli_match(int argc, char **argv, int *i, const char *name,
              const char **value);

/* Prints "PROG: <message>" and a hint to use --help as one line on stderr
 * and returns CLI_EXIT_USAGE, so a caller can `return cli_usage_error(...)`. */
int cli_usage_error(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses a duration in seconds (> 0, at most a day) into *out. */
bool cli_parse_seconds(const char *text, double *out);

#endif
