/* ftp/client/args.c - see args.h. */
#include "args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char ftpc_usage[] =
    "usage: sockserv-ftp [OPTIONS] [ftp[s]://][USER@]HOST[:PORT] [COMMAND [ARG...]]\n"
    "       sockserv-ftp [OPTIONS] -c 'CMD; CMD...' [ftp[s]://][USER@]HOST[:PORT]\n"
    "\n"
    "Without a command: an interactive shell (type 'help').\n"
    "Commands: ls [PATH], get [-c] [--segments N] REMOTE [LOCAL],\n"
    "  put [-c] LOCAL [REMOTE], pget [-n N] REMOTE [LOCAL], mget GLOB...,\n"
    "  mput GLOB..., mirror [-R] [--delete] [--parallel N] [--dry-run] [--verify]\n"
    "  [--exclude GLOB]... REMOTE_DIR [LOCAL_DIR], cd, pwd, lcd, lls, mkdir,\n"
    "  rmdir, rm, rename, size, hash, quota, help, quit\n"
    "\n"
    "Options:\n"
    "  --retries N        reconnect and resume up to N times (default 3)\n"
    "  --retry-delay S    seconds to wait before a reconnect (default 1)\n"
    "  --timeout S        longest wait for the server, seconds (default 30)\n"
    "  --limit-rate N     at most N bytes/s per transfer (suffix K, M, G)\n"
    "  --active           active mode (EPRT/PORT) instead of EPSV/PASV\n"
    "  -q, --quiet        no progress bar and no summary line\n"
    "  -v, --verbose      show the FTP commands and replies\n"
    "  -c 'CMD; CMD'      run these commands, stop at the first failure\n"
    "  --tls              FTPS: AUTH TLS, then PBSZ 0 and PROT P (every\n"
    "                     connection encrypted); the server's certificate\n"
    "                     must chain to a trusted CA and name HOST\n"
    "  --cacert FILE      trust the CA certificates in FILE (PEM) instead of\n"
    "                     the system's\n"
    "  --insecure         do not verify the server's certificate at all\n"
    "  ftps://HOST        implicit FTPS: TLS from the first byte (port 990)\n"
    "  -h, --help, --version\n"
    "\n"
    "Password: from the URL, $SOCKSERV_FTP_PASSWORD, ~/.netrc, or a prompt.\n"
    "Exit codes: 0 ok, 1 transfer or verification failure, 2 usage,\n"
    "  3 login refused, 4 cannot connect.\n";

static int number(const char *opt, const char *v, double lo, double hi,
                  double *out, char *err, size_t cap)
{
    char *end;
    if (!v) {
        snprintf(err, cap, "%s needs a value", opt);
        return -1;
    }
    double d = strtod(v, &end);
    if (end == v || *end || !(d >= lo && d <= hi)) {
        snprintf(err, cap, "%s: '%s' is not a number from %g to %g", opt, v,
                 lo, hi);
        return -1;
    }
    *out = d;
    return 0;
}

int ftpc_args_parse(ftpc_opts *o, int argc, char **argv, char *err, size_t cap)
{
    memset(o, 0, sizeof *o);
    o->retries = 3;
    o->retry_delay_s = 1.0;
    o->timeout_s = 30.0;
    const char *server = NULL;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (a[0] != '-' || a[1] == '\0') {
            if (server) /* the command starts here */
                break;
            server = a;
        } else if (strcmp(a, "--retries") == 0) {
            if (number(a, v, 0, 1000, &d, err, cap) < 0)
                return -1;
            o->retries = (int)d;
            i++;
        } else if (strcmp(a, "--retry-delay") == 0) {
            if (number(a, v, 0, 3600, &d, err, cap) < 0)
                return -1;
            o->retry_delay_s = d;
            i++;
        } else if (strcmp(a, "--timeout") == 0) {
            if (number(a, v, 0.1, 86400, &d, err, cap) < 0)
                return -1;
            o->timeout_s = d;
            i++;
        } else if (strcmp(a, "--limit-rate") == 0) {
            char *end;
            d = v ? strtod(v, &end) : -1;
            if (!v || end == v || d <= 0) {
                snprintf(err, cap, "--limit-rate needs a positive rate");
                return -1;
            }
            if (*end == 'k' || *end == 'K')
                d *= 1024, end++;
            else if (*end == 'm' || *end == 'M')
                d *= 1024 * 1024, end++;
            else if (*end == 'g' || *end == 'G')
                d *= 1024.0 * 1024 * 1024, end++;
            if (*end) {
                snprintf(err, cap, "--limit-rate: bad rate '%s'", v);
                return -1;
            }
            o->limit_rate = d;
            i++;
        } else if (strcmp(a, "--active") == 0) {
            o->active = true;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o->quiet = true;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            o->verbose = true;
        } else if (strcmp(a, "-c") == 0) {
            if (!v) {
                snprintf(err, cap, "-c needs commands");
                return -1;
            }
            o->script = v;
            i++;
        } else if (strcmp(a, "--tls") == 0) {
            o->tls = true;
        } else if (strcmp(a, "--insecure") == 0) {
            o->insecure = true;
        } else if (strcmp(a, "--cacert") == 0) {
            if (!v) {
                snprintf(err, cap, "--cacert needs a file");
                return -1;
            }
            o->cacert = v;
            i++;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            o->help = true;
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            o->version = true;
            return 0;
        } else {
            snprintf(err, cap, "unknown option %s", a);
            return -1;
        }
    }
    if (!server && i < argc)
        server = argv[i++];
    if (!server) {
        snprintf(err, cap, "missing the server ([ftp://][USER@]HOST[:PORT])");
        return -1;
    }
    if (ftpc_url_parse(&o->url, server, err, cap) < 0)
        return -1;
    if (o->url.implicit_tls)
        o->tls = true;
    if ((o->insecure || o->cacert) && !o->tls) {
        snprintf(err, cap, "--insecure and --cacert need --tls or an ftps:// URL");
        return -1;
    }
    if (i < argc) {
        if (o->script) {
            snprintf(err, cap, "give either -c or a command, not both");
            return -1;
        }
        o->cmd = argv + i;
        o->ncmd = argc - i;
    }
    return 0;
}
