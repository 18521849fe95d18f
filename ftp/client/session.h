/* ftp/client/session.h - one logged-in FTP session: connect, greeting,
 * (FTPS: AUTH TLS or implicit TLS, then PBSZ 0 and PROT P after login),
 * login, FEAT, TYPE I, and the same again after a lost connection.
 *
 * Caller-allocated; _init borrows opts (which must outlive the session);
 * single-threaded.  The password, once found, is kept for reconnects and
 * wiped by _close. */
#ifndef FTPC_SESSION_H
#define FTPC_SESSION_H

#include <stdbool.h>

#include "args.h"
#include "ctrl.h"
#include "digest.h"

typedef struct ftpc_session {
    ftpc_ctrl ctrl;
    const ftpc_opts *opts;
    char user[128];
    char pass[256];
    bool have_pass;
    char cwd[1024];      /* remote directory to return to after a reconnect */
    /* What the server said in FEAT (and learnt since). */
    bool feat_size, feat_rest, feat_epsv;
    bool feat_mlsd, feat_mdtm, feat_mfmt; /* MLST/MLSD, MDTM, MFMT (mirror) */
    unsigned hash_algos; /* offered by HASH (ftpc_algo bits) */
    ftpc_algo hash_cur;  /* HASH's current algorithm */
    unsigned x_algos;    /* offered as XSHA256/XSHA1/XMD5 */
    bool no_rang;        /* RANG refused: range checks use X* or nothing */
    unsigned x_no_range; /* X* commands (ftpc_algo bits) that answered a
                            range with 5xx: asked for whole files only.
                            Kept across reconnects (FEAT still lists them) */
    bool no_epsv;        /* EPSV failed once: go straight to PASV */
    bool no_eprt;        /* EPRT failed once: go straight to PORT */
    /* FTPS (--tls, ftps://): one client context for the control and the
     * data connections, made on the first open, freed by _close. */
    ss_tls_context tls_ctx;
    bool tls_ctx_ready;
    bool prot_p;         /* PROT P accepted: data connections are TLS */
    /* Where transfers report progress instead of drawing their own bar
     * (mirror, pget); NULL: the usual bar.  Borrowed. */
    struct ftpc_progress_sink *progress;
} ftpc_session;

void ftpc_session_init(ftpc_session *s, const ftpc_opts *opts);

/* Makes s a second session to from's server, with the same options and
 * credentials (so a password typed once is not asked again), not yet
 * connected.  For mirror's and pget's extra sessions; each session is then
 * used by one thread only. */
void ftpc_session_init_like(ftpc_session *s, const ftpc_session *from);

/* Sets the feature flags and hash algorithms from the FEAT reply in
 * s->ctrl.reply (called by ftpc_session_open; public so the parser can be
 * fuzzed on its own).  Any reply text is accepted; lines it does not know
 * are skipped.  Not thread-safe for one session. */
void ftpc_session_parse_feat(ftpc_session *s);

/* Connects, reads the greeting, logs in (USER/PASS), reads FEAT and sets
 * TYPE I; after a reconnect it also returns to s->cwd.  With opts->tls it
 * first secures the control connection (AUTH TLS, or TLS from the first
 * byte for ftps://) and after login sends PBSZ 0 and PROT P; it never
 * falls back to plaintext: a server without TLS, a certificate that fails
 * the check, or a refused PROT P is FTPC_ERR_CONNECT.  Returns 0,
 * FTPC_ERR_CONNECT, FTPC_ERR_LOGIN, FTPC_ERR_NET, or FTPC_ERR_USAGE (an
 * unreadable --cacert), with s->ctrl.err set. */
int ftpc_session_open(ftpc_session *s);

/* Closes and opens again (for retries).  Same returns as _open. */
int ftpc_session_reopen(ftpc_session *s);

/* True while the control connection is up. */
bool ftpc_session_alive(const ftpc_session *s);

/* The message of the last failure. */
const char *ftpc_session_err(const ftpc_session *s);

/* The algorithm used to verify transfers (best offered), or NONE. */
ftpc_algo ftpc_session_algo(const ftpc_session *s);

/* Sends QUIT when connected, closes, wipes the password. */
void ftpc_session_close(ftpc_session *s);

#endif
