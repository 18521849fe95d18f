/* ftp/server/store/pgpool.c - see pgpool.h. */
#include "pgpool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int ms_left(double deadline)
{
    double left = deadline - now_s();
    return left <= 0 ? 0 : (int)(left * 1000.0) + 1;
}

/* libpq's messages end with a newline and may span lines: one line. */
static void set_err(char *err, size_t cap, const char *what, const char *msg)
{
    if (!err || !cap)
        return;
    snprintf(err, cap, "%s%s%s", what, *what ? ": " : "", msg ? msg : "");
    for (char *s = err; *s; s++)
        if (*s == '\n' || *s == '\r')
            *s = *(s + 1) ? ' ' : '\0';
}

/* Fork: the pool's lock must not be held by a thread that the child does
 * not have.  Every live pool is locked around fork(). */
#define MAX_POOLS 8
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static ftpd_pgpool *registry[MAX_POOLS];
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void before_fork(void)
{
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < MAX_POOLS; i++)
        if (registry[i])
            pthread_mutex_lock(&registry[i]->lock);
}

static void after_fork(void)
{
    for (int i = MAX_POOLS - 1; i >= 0; i--)
        if (registry[i])
            pthread_mutex_unlock(&registry[i]->lock);
    pthread_mutex_unlock(&registry_lock);
}

static void install_atfork(void)
{
    pthread_atfork(before_fork, after_fork, after_fork);
}

int ftpd_pgpool_init(ftpd_pgpool *p, const char *url, unsigned size,
                     double timeout)
{
    memset(p, 0, sizeof *p);
    if (!url || strlen(url) >= sizeof p->url || size < 1 ||
        size > FTPD_PGPOOL_MAX || !(timeout > 0))
        return -EINVAL;
    snprintf(p->url, sizeof p->url, "%s", url);
    p->size = size;
    p->timeout = timeout;
    p->retry_s = 1.0;
    p->pid = getpid();
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->freed, &ca);
    pthread_condattr_destroy(&ca);
    pthread_once(&atfork_once, install_atfork);
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < MAX_POOLS; i++)
        if (!registry[i]) {
            registry[i] = p;
            break;
        }
    pthread_mutex_unlock(&registry_lock);
    return 0;
}

/* Closes a connection this process does not own (made before a fork)
 * without the Terminate message libpq would send on the shared socket:
 * the socket's descriptor becomes /dev/null first. */
static void drop_foreign(PGconn *c)
{
    int fd = PQsocket(c);
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd >= 0 && null >= 0)
        dup2(null, fd);
    if (null >= 0)
        close(null);
    PQfinish(c);
}

/* Called with the lock held. */
static void check_fork(ftpd_pgpool *p)
{
    if (p->pid == getpid())
        return;
    for (unsigned i = 0; i < p->nidle; i++)
        drop_foreign(p->idle[i]);
    p->nidle = 0;
    p->open = 0; /* lent-out ones belong to threads the child lacks */
    p->pid = getpid();
}

void ftpd_pgpool_close(ftpd_pgpool *p)
{
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < MAX_POOLS; i++)
        if (registry[i] == p)
            registry[i] = NULL;
    pthread_mutex_unlock(&registry_lock);
    if (p->pid == getpid()) {
        for (unsigned i = 0; i < p->nidle; i++)
            PQfinish(p->idle[i]);
    } else {
        for (unsigned i = 0; i < p->nidle; i++)
            drop_foreign(p->idle[i]);
    }
    p->nidle = 0;
    pthread_cond_destroy(&p->freed);
    pthread_mutex_destroy(&p->lock);
}

/* A new connection, made without blocking past the deadline. */
static PGconn *connect_one(ftpd_pgpool *p, double deadline, int *rc, char *err,
                           size_t cap)
{
    char ct[16], opts[256], tcp_to[32];
    int ms = (int)(p->timeout * 1000.0);
    snprintf(ct, sizeof ct, "%d", (int)p->timeout < 2 ? 2 : (int)p->timeout);
    snprintf(tcp_to, sizeof tcp_to, "%d", ms + 2000);
    snprintf(opts, sizeof opts,
             "-c statement_timeout=%d -c lock_timeout=%d "
             "-c idle_in_transaction_session_timeout=%d "
             "-c client_min_messages=warning",
             ms, ms, ms * 4);
    /* expand_dbname: the url's own settings first, these after it. */
    const char *kw[] = {"dbname", "connect_timeout", "options",
                        "application_name", "keepalives", "keepalives_idle",
                        "keepalives_interval", "keepalives_count",
                        "tcp_user_timeout", NULL};
    const char *val[] = {p->url, ct, opts, "sockserv-ftpd", "1", "10", "5",
                         "3", tcp_to, NULL};
    PGconn *c = PQconnectStartParams(kw, val, 1);
    if (!c) {
        *rc = -ENOMEM;
        set_err(err, cap, "database", "out of memory");
        return NULL;
    }
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (PQstatus(c) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
           st != PGRES_POLLING_FAILED) {
        struct pollfd pf = {PQsocket(c),
                            st == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0};
        int n = poll(&pf, 1, ms_left(deadline));
        if (n == 0) {
            PQfinish(c);
            *rc = -ENOTCONN;
            set_err(err, cap, "database", "connect timed out");
            return NULL;
        }
        if (n < 0 && errno != EINTR)
            break;
        st = PQconnectPoll(c);
    }
    if (PQstatus(c) != CONNECTION_OK) {
        *rc = -ENOTCONN;
        set_err(err, cap, "database", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQsetnonblocking(c, 1);
    return c;
}

/* An idle connection the server closed meanwhile (a restart, an idle
 * timeout) is readable: anything read there means "do not use it". */
static bool stale(PGconn *c)
{
    struct pollfd pf = {PQsocket(c), POLLIN, 0};
    if (PQstatus(c) != CONNECTION_OK || pf.fd < 0)
        return true;
    return poll(&pf, 1, 0) != 0;
}

PGconn *ftpd_pgpool_get(ftpd_pgpool *p, int *rc, char *err, size_t cap)
{
    double deadline = now_s() + p->timeout;
    pthread_mutex_lock(&p->lock);
    check_fork(p);
    for (;;) {
        while (p->nidle) {
            PGconn *c = p->idle[--p->nidle];
            if (!stale(c)) {
                pthread_mutex_unlock(&p->lock);
                return c;
            }
            PQfinish(c);
            p->open--;
        }
        if (p->open < p->size) {
            if (now_s() < p->down_until) {
                *rc = -ENOTCONN;
                set_err(err, cap, "", p->down_msg);
                pthread_mutex_unlock(&p->lock);
                return NULL;
            }
            p->open++;
            pthread_mutex_unlock(&p->lock);
            char msg[sizeof p->down_msg];
            PGconn *c = connect_one(p, deadline, rc, msg, sizeof msg);
            pthread_mutex_lock(&p->lock);
            if (c) {
                p->down_until = 0;
            } else {
                p->open--;
                p->down_until = now_s() + p->retry_s;
                snprintf(p->down_msg, sizeof p->down_msg, "%s", msg);
                set_err(err, cap, "", msg);
                pthread_cond_signal(&p->freed);
            }
            pthread_mutex_unlock(&p->lock);
            return c;
        }
        struct timespec ts;
        double d = deadline;
        ts.tv_sec = (time_t)d;
        ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
        if (pthread_cond_timedwait(&p->freed, &p->lock, &ts) == ETIMEDOUT &&
            now_s() >= deadline && !p->nidle && p->open >= p->size) {
            *rc = -ETIMEDOUT;
            set_err(err, cap, "database", "no free connection in the pool");
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
    }
}

void ftpd_pgpool_put(ftpd_pgpool *p, PGconn *c, bool broken)
{
    if (!c)
        return;
    pthread_mutex_lock(&p->lock);
    if (p->pid != getpid()) { /* borrowed before a fork: not ours */
        pthread_mutex_unlock(&p->lock);
        drop_foreign(c);
        return;
    }
    if (broken || PQstatus(c) != CONNECTION_OK ||
        PQtransactionStatus(c) != PQTRANS_IDLE || p->nidle >= FTPD_PGPOOL_MAX) {
        PQfinish(c);
        p->open--;
    } else {
        p->idle[p->nidle++] = c;
    }
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

/* Which errors mean "the connection or the server is gone". */
static bool connection_lost(PGconn *c, const PGresult *r)
{
    if (PQstatus(c) != CONNECTION_OK)
        return true;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return state && (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3));
}

/* Waits until a whole result is there (or the deadline). */
static int wait_result(PGconn *c, double deadline)
{
    for (;;) {
        int f = PQflush(c);
        if (f < 0)
            return -ENOTCONN;
        if (f == 0 && !PQisBusy(c))
            return 0;
        struct pollfd pf = {PQsocket(c), (short)(POLLIN | (f ? POLLOUT : 0)),
                            0};
        int n = poll(&pf, 1, ms_left(deadline));
        if (n == 0)
            return -ETIMEDOUT;
        if (n < 0 && errno != EINTR)
            return -errno;
        if ((pf.revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(c))
            return -ENOTCONN;
    }
}

int ftpd_pgpool_query(ftpd_pgpool *p, PGconn *c, const char *sql,
                      int nparams, const char *const *params, PGresult **out,
                      bool *broken, char *err, size_t cap)
{
    bool dummy;
    if (!broken)
        broken = &dummy;
    *broken = false;
    if (out)
        *out = NULL;
    /* The server's statement_timeout answers first; the margin covers
     * the round trip, so the client's deadline means a lost server. */
    double deadline = now_s() + p->timeout + 2.0;
    /* Without parameters the simple protocol runs a script of several
     * statements (the schema steps). */
    int sent = nparams == 0 ? PQsendQuery(c, sql)
                            : PQsendQueryParams(c, sql, nparams, NULL, params,
                                                NULL, NULL, 0);
    if (!sent) {
        *broken = true;
        set_err(err, cap, "database", PQerrorMessage(c));
        return -ENOTCONN;
    }
    PGresult *keep = NULL;
    int rc = 0;
    for (;;) {
        int w = wait_result(c, deadline);
        if (w < 0) {
            *broken = true;
            PQclear(keep);
            set_err(err, cap, "database",
                    w == -ETIMEDOUT ? "no answer within the timeout"
                                    : PQerrorMessage(c));
            return w == -ETIMEDOUT ? -ETIMEDOUT : -ENOTCONN;
        }
        PGresult *r = PQgetResult(c);
        if (!r)
            break;
        ExecStatusType st = PQresultStatus(r);
        if (rc == 0 && st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            if (connection_lost(c, r)) {
                *broken = true;
                rc = -ENOTCONN;
            } else if (state && !strcmp(state, "57014")) {
                rc = -ETIMEDOUT; /* statement_timeout */
            } else if (state && !strcmp(state, "23505")) {
                rc = -EEXIST; /* unique_violation */
            } else if (state && !strcmp(state, "23503")) {
                rc = -ENOENT; /* foreign_key_violation */
            } else if (state && (!strcmp(state, "23514") ||
                                 !strncmp(state, "22", 2))) {
                rc = -EINVAL; /* check_violation, data exceptions */
            } else {
                rc = -EIO;
            }
            set_err(err, cap, "database", PQresultErrorMessage(r));
        }
        if (rc == 0 && !keep)
            keep = r;
        else
            PQclear(r);
    }
    if (PQstatus(c) != CONNECTION_OK && rc == 0) {
        *broken = true;
        rc = -ENOTCONN;
        set_err(err, cap, "database", PQerrorMessage(c));
    }
    if (rc < 0 || !out)
        PQclear(keep);
    else
        *out = keep;
    return rc;
}

int ftpd_pgpool_exec(ftpd_pgpool *p, const char *sql, int nparams,
                     const char *const *params, PGresult **out, char *err,
                     size_t cap)
{
    int rc;
    PGconn *c = ftpd_pgpool_get(p, &rc, err, cap);
    if (!c)
        return rc;
    bool broken;
    rc = ftpd_pgpool_query(p, c, sql, nparams, params, out, &broken, err, cap);
    ftpd_pgpool_put(p, c, broken);
    return rc;
}
