/* examples/echo/cli.c - see cli.h. */
#include "cli.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_match(int argc, char **argv, int *i, const char *name,
              const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '\0') {
        if (!value)
            return 1;
        if (*i + 1 >= argc) {
            cli_usage_error(argv[0], "option %s needs a value", name);
            return -1;
        }
        *value = argv[++*i];
        return 1;
    }
    if (arg[n] != '=')
        return 0; /* "--listener" is not "--listen" */
    if (!value) {
        cli_usage_error(argv[0], "option %s takes no value", name);
        return -1;
    }
    *value = arg + n + 1;
    return 1;
}

int cli_usage_error(const char *prog, const char *fmt, ...)
{
    /* Built in one buffer and written with one call, so it stays one line
     * even if something else writes to stderr at the same time. */
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *c = msg; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    const char *base = strrchr(prog, '/');
    fprintf(stderr, "%s: %s (see --help)\n", base ? base + 1 : prog, msg);
    return CLI_EXIT_USAGE;
}

bool cli_parse_seconds(const char *text, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || !isfinite(v) || v <= 0 || v > 86400)
        return false;
    *out = v;
    return true;
}
