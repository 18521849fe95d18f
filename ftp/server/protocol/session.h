/* ftp/server/protocol/session.h - one FTP control connection: a libsockserv
 * StreamRequestHandler subclass (ftpd_session_class), and the state the
 * command handlers share.
 *
 * The handler reads command lines with ss_rfile_readline (bounded by
 * max_line_length), strips Telnet controls, and hands each line to the
 * command table (commands.h).  Between commands it polls the control
 * connection together with the server's stop pipe, so an idle session ends
 * with 421 on shutdown or after idle_timeout.  The control connection's
 * bytes go through the handler's ss_transport (sh->io: plain, or TLS after
 * AUTH TLS or on an implicit listener), behind guard_io, which bounds every
 * wait (the socket is non-blocking): line_timeout while a line is read,
 * idle_timeout otherwise.
 *
 * SO_OOBINLINE is set on the control connection: an ABOR sent as TCP urgent
 * data (Python's ftplib.abort() sends the whole "ABOR\r\n" with MSG_OOB) then
 * stays whole in the byte stream instead of losing its last byte to the
 * out-of-band channel, and POLLPRI only wakes the transfer loop up.
 *
 * A session runs on one thread (threading) or in one child (forking); its
 * struct is touched by that thread only, except the registry links, which
 * ftpd_ctx's lock guards.
 */
#ifndef FTPD_SESSION_H
#define FTPD_SESSION_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <sockserv/handler.h>
#include <sockserv/tls.h>

#include "config.h"
#include "store/connlimit.h"
#include "counters.h"
#include "protocol/datachan.h"
#include "protocol/digest.h"
#include "store/ratelimit.h"
#include "store/store.h"
#include "protocol/vfs.h"
#include "protocol/xferlog.h"

typedef struct ftpd_session ftpd_session;

/* What every session of the server shares (ss_server.data points here). */
typedef struct ftpd_ctx {
    ftpd_config cfg;
    ftpd_logger log;
    ftpd_store *store;      /* accounts, quotas, bans, per-user session
                               places (store.h) */
    ftpd_rate_table *rate;  /* per-user rate limits (ratelimit.h) */
    ftpd_connlimit *limits; /* sessions in total and per host; passive
                               listeners */
    ftpd_counters *counters; /* the figures of the metrics page; may be NULL */
    ss_tls_context tls;     /* the server's TLS context when tls_on */
    bool tls_on;
    int stop_rd, stop_wr;   /* pipe: readable once the server stops */
    pid_t main_pid;         /* a session in another pid is a forked child */
    /* Live sessions of this process, for the forced end of a shutdown. */
    pthread_mutex_t lock;
    ftpd_session *sessions;
} ftpd_ctx;

enum ftpd_xfer_state { FTPD_XFER_NONE, FTPD_XFER_RUNNING };

struct ftpd_session {
    ss_stream_handler base; /* first: the handler is the session */
    ftpd_ctx *ctx;
    ftpd_session *prev, *next; /* ctx->sessions, under ctx->lock */

    char client[SS_ADDRSTRLEN]; /* peer address text, for logs */
    ss_addr local;              /* control connection's local address */
    char *line;                 /* command line buffer (cfg.max_line + 1) */
    bool quit;                  /* end the session after this reply */

    /* Between rfile and the connection's transport (plain or TLS): bounds
     * the time from a line's first byte to its end (slow loris). */
    ss_transport guard_io;
    ss_transport *inner_io;     /* what guard_io reads from */
    double line_deadline;       /* monotonic s; 0 while between lines */

    /* FTPS (ftps.c) */
    bool tls_required;          /* require_tls on this listener */
    bool implicit_tls;          /* came in on an implicit FTPS listener */
    bool pbsz, prot_p;          /* PBSZ 0 seen; PROT P in force */

    /* login */
    bool user_given, logged_in;
    char user[FTPD_USER_NAME_MAX + 1];
    unsigned failures;
    ftpd_vfs vfs;
    ftpd_store_slot slot;       /* a max_sessions_per_user place */
    ftpd_store_quota quota;
    uint64_t quota_limit;
    ftpd_rate rate;       /* the user's shared buckets, when limited */

    /* protocol state */
    bool ascii;           /* TYPE A */
    off_t rest;           /* REST offset for the next RETR/STOR */
    bool have_rnfr;
    char *rnfr;           /* allocated by RNFR, freed by the next command */
    bool epsv_all;
    enum ftpd_digest_algo hash_algo; /* OPTS HASH */
    bool have_rang;       /* RANG start end (end inclusive) */
    off_t rang_start, rang_end;
    unsigned mlst_facts;  /* OPTS MLST */
    ftpd_datachan dc;

    /* the transfer in progress (transfer.c) */
    enum ftpd_xfer_state xfer;
    bool abort_requested, quit_after;
    uint64_t xfer_bytes;
    const char *xfer_cmd;
};

extern const ss_handler_class ftpd_session_class;

/* Sends a single-line reply on the control connection (see reply.h).
 * Returns 0 or a negative code; a failure also ends the session. */
int ftpd_session_reply(ftpd_session *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads one command line into s->line (Telnet controls and the line end
 * removed; *len its length, which may include NUL bytes).  Returns 1 for a
 * line, 0 at EOF, -E2BIG for a line over the limit (already consumed), or
 * another negative code. */
int ftpd_session_read_line(ftpd_session *s, size_t *len);

/* Handles control input that arrives while a transfer runs (ABOR, STAT,
 * QUIT; others get 503).  Returns 0, or a negative code when the control
 * connection is gone. */
int ftpd_session_control_during_transfer(ftpd_session *s);

/* True when the control connection is TLS now. */
static inline bool ftpd_session_tls(const ftpd_session *s)
{
    return s->base.tls != NULL;
}

/* Input the control connection has ready without waiting: rfile's buffer
 * or, under TLS, bytes OpenSSL decrypted already (poll cannot see those). */
size_t ftpd_session_pending(ftpd_session *s);

/* Puts the line-deadline transport back between rfile and the connection's
 * transport (after AUTH TLS swapped it). */
void ftpd_session_wrap_io(ftpd_session *s);

/* The control connection's descriptor. */
static inline int ftpd_session_fd(const ftpd_session *s)
{
    return s->base.connection;
}

/* Maps -errno from vfs/quota to the reply a command should send and sends
 * it ("550 name: No such file or directory", -EDQUOT 552, -ENOSPC 452,
 * -ERANGE 554, -EEXIST 550 ...).  what is the client path (for the text). */
int ftpd_session_reply_errno(ftpd_session *s, int err, const char *what);

#endif
