/* ftp/server/store/pgpool.h - a small pool of libpq connections for one
 * node, where every query has a deadline.
 *
 * API note.  The pool opens connections on demand, up to size, and keeps
 * them for the next query.  Each connection is made with connect_timeout
 * and the server-side statement_timeout and lock_timeout set to the pool's
 * timeout; the client also waits at most timeout (plus a margin) for the
 * answer (PQsendQueryParams + poll), so a database that hangs or a network
 * that drops packets costs a bounded time, never a stuck session.
 *
 * A connection that fails is closed; the next query opens a new one, so
 * the pool reconnects by itself when the database comes back.  After a
 * failed connect the pool answers -ENOTCONN at once for retry_s (about a
 * second) instead of trying again for every caller: a database that is
 * down does not cost every login a connect timeout.
 *
 * Errors: -ENOTCONN (cannot reach the database: down, refused, auth),
 * -ETIMEDOUT (no answer within the timeout, or no free connection within
 * it), -EEXIST (a unique key is taken), -ENOENT (a foreign key points
 * nowhere), -EINVAL (a CHECK or a value the database refused), -EIO (any
 * other refusal of the statement), -ENOMEM; the database's message in err.  Every function taking err/cap writes a one-line message there.
 *
 * Thread-safety: any thread.  Across fork: a child process must not use
 * the parent's connections (they share one socket); the pool notices the
 * new pid and drops them without talking to the server, then opens its
 * own. */
#ifndef FTPD_PGPOOL_H
#define FTPD_PGPOOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <libpq-fe.h>

#define FTPD_PGPOOL_MAX 64
#define FTPD_PGPOOL_URL_MAX 1024

typedef struct ftpd_pgpool {
    char url[FTPD_PGPOOL_URL_MAX];
    unsigned size;        /* at most this many connections */
    double timeout;       /* s: connect, statement, wait for a slot */
    double retry_s;       /* s of fast failure after a failed connect */
    pthread_mutex_t lock;
    pthread_cond_t freed;
    pid_t pid;            /* the process the connections belong to */
    PGconn *idle[FTPD_PGPOOL_MAX];
    unsigned nidle;
    unsigned open;        /* idle + lent out */
    double down_until;    /* monotonic s; fail fast before it */
    char down_msg[256];
} ftpd_pgpool;

/* url: a libpq connection string or URI ("postgresql://..."), copied.
 * size 1..FTPD_PGPOOL_MAX; timeout > 0 s.  Connects nothing yet.  0 or
 * -EINVAL. */
int ftpd_pgpool_init(ftpd_pgpool *p, const char *url, unsigned size,
                     double timeout);
/* Closes every idle connection; none may be lent out. */
void ftpd_pgpool_close(ftpd_pgpool *p);

/* Borrows a connection (an idle one, a new one, or the first one given
 * back within the timeout).  Give it back with ftpd_pgpool_put.  NULL
 * with *rc set (-ENOTCONN, -ETIMEDOUT) and the message in err. */
PGconn *ftpd_pgpool_get(ftpd_pgpool *p, int *rc, char *err, size_t cap);
/* Gives c back; broken (or a connection that is not CONNECTION_OK or is
 * inside a transaction) closes it instead of keeping it. */
void ftpd_pgpool_put(ftpd_pgpool *p, PGconn *c, bool broken);

/* Runs one statement with text parameters on c (nparams 0: sql may be a
 * script of several statements; the first result is kept), waiting at most the
 * pool's timeout.  On success *out (may be NULL: cleared) is the result
 * (PGRES_TUPLES_OK or PGRES_COMMAND_OK), for the caller to PQclear.  On
 * error *broken (may be NULL) says whether c is unusable. */
int ftpd_pgpool_query(ftpd_pgpool *p, PGconn *c, const char *sql,
                      int nparams, const char *const *params, PGresult **out,
                      bool *broken, char *err, size_t cap);

/* get + query + put: the common case of one statement. */
int ftpd_pgpool_exec(ftpd_pgpool *p, const char *sql, int nparams,
                     const char *const *params, PGresult **out, char *err,
                     size_t cap);

#endif
