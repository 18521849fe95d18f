/* ftp/server/dbcli.c - see dbcli.h. */
#include "dbcli.h"

#include <stdio.h>
#include <string.h>

#include "store/store.h"

#define PROG "sockserv-ftpd"

int ftpd_dbcli_main(int argc, char **argv, const ftpd_config *c)
{
    if (argc != 2 || strcmp(argv[1], "init") != 0) {
        fprintf(stderr, "usage: " PROG " [--config FILE] db init\n");
        return 2;
    }
    if (!c->database_url[0]) {
        fprintf(stderr, PROG ": db init: no database_url in the "
                        "configuration (the users file needs no schema)\n");
        return 2;
    }
    char err[FTPD_STORE_ERR_MAX] = "";
    ftpd_store *st;
    int rc = ftpd_store_open(c, &st, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, PROG ": db init: %s\n", err);
        return rc == -EPROTONOSUPPORT || rc == -EINVAL ? 2 : 1;
    }
    rc = ftpd_store_init_schema(st, err, sizeof err);
    ftpd_store_close(st);
    if (rc < 0) {
        fprintf(stderr, PROG ": db init: %s\n", err);
        return 1;
    }
    printf("%s\n", err);
    return 0;
}
