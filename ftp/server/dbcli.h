/* ftp/server/dbcli.h - "sockserv-ftpd db ..." database management.
 *
 * API note.  main() hands everything after the options to ftpd_dbcli_main
 * when the subcommand is "db":
 *     sockserv-ftpd [--config FILE] db init
 * creates or migrates the schema of the store database_url names (store.h
 * init_schema); it is idempotent and prints the version ("schema version
 * 1 (was 0)").  argv[0] is "db".  The return value is the exit code: 0
 * success, 1 failure (database unreachable, refused), 2 usage error (no
 * subcommand, or no database_url).
 *
 * Thread-safety: meant for the main thread of a command-line run. */
#ifndef FTPD_DBCLI_H
#define FTPD_DBCLI_H

#include "config.h"

int ftpd_dbcli_main(int argc, char **argv, const ftpd_config *c);

#endif
