/* ftp/client/args.h - the command line:
 *   sockserv-ftp [OPTIONS] [ftp://][USER@]HOST[:PORT] [COMMAND [ARG...]]
 *   sockserv-ftp [OPTIONS] -c 'CMD; CMD' [ftp://][USER@]HOST[:PORT]
 * Options may come before or after the server argument; everything after
 * the first word following the server is the command's own arguments. */
#ifndef FTPC_ARGS_H
#define FTPC_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "url.h"

typedef struct ftpc_opts {
    ftpc_url url;
    int retries;          /* --retries N: reconnects after a lost connection */
    double retry_delay_s; /* --retry-delay S: pause before each reconnect */
    double timeout_s;     /* --timeout S: longest wait for the server */
    double limit_rate;    /* --limit-rate N[K|M|G]: bytes/s per transfer, 0 none */
    bool active;          /* --active: PORT/EPRT instead of EPSV/PASV */
    bool quiet;           /* --quiet: no progress bar, no summary */
    bool verbose;         /* -v: protocol trace on stderr */
    bool tls;             /* --tls: AUTH TLS, PBSZ 0, PROT P (or ftps://) */
    bool insecure;        /* --insecure: no certificate check */
    const char *cacert;   /* --cacert FILE: trust these CAs (PEM) */
    const char *script;   /* -c 'CMD; CMD' */
    char **cmd;           /* COMMAND ARG... (points into argv), or NULL */
    int ncmd;
    bool help, version;
} ftpc_opts;

/* Fills *o from argv.  Returns 0, or -1 with a one-line reason in err (cap
 * bytes).  o->cmd points into argv, which must outlive o.  An ftps:// URL
 * sets o->tls (with url.implicit_tls). */
int ftpc_args_parse(ftpc_opts *o, int argc, char **argv, char *err, size_t cap);

/* The usage text (for --help and usage errors). */
extern const char ftpc_usage[];

#endif
