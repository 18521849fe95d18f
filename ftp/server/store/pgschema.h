/* ftp/server/store/pgschema.h - the versioned schema of the database store
 * and its migration.
 *
 * API note.  The schema is store/schema.sql, embedded at build time: its
 * "-- version N" sections are the migration steps, in order.  The
 * database records how far it went in ftpd_schema_version (one row).
 * ftpd_pgschema_migrate applies the missing steps, each in one transaction
 * with the version update, under an advisory lock, so nodes that run
 * "db init" at the same moment apply each step once.
 *
 * Thread-safety: any thread (the pool's).  Errors: the pool's, plus
 * -EPROTO when the database is at a version newer than this program's
 * (a newer sockserv-ftpd migrated it), and -ENOENT from
 * ftpd_pgschema_check when there is no schema ("db init" not run). */
#ifndef FTPD_PGSCHEMA_H
#define FTPD_PGSCHEMA_H

#include <stddef.h>

#include "pgpool.h"

/* The number of steps this program knows: the version it migrates to. */
int ftpd_pgschema_latest(void);

/* Step n (1-based) of the schema: *sql points into the embedded text
 * (len bytes, not NUL-terminated).  0 or -ENOENT. */
int ftpd_pgschema_step(int n, const char **sql, size_t *len);

/* The database's version: 0 when it has no schema. */
int ftpd_pgschema_version(ftpd_pgpool *p, int *version, char *err,
                          size_t cap);

/* Brings the database to ftpd_pgschema_latest(); *from gets the version
 * it found (may be NULL).  Idempotent. */
int ftpd_pgschema_migrate(ftpd_pgpool *p, int *from, char *err, size_t cap);

/* 0 when the database is at this program's version; -ENOENT (no schema),
 * -EPROTO (older: run db init; newer: upgrade this node), with the
 * message in err. */
int ftpd_pgschema_check(ftpd_pgpool *p, char *err, size_t cap);

#endif
