/* ftp/client/pget.h - "get --segments N REMOTE [LOCAL]" (also "pget -n N"):
 * one file fetched in N byte ranges on N sessions at once.
 *
 * Each range is REST + RETR on its own session, read up to its end and no
 * further, then the data connection is closed and the server's replies to
 * the cut-short RETR read up to a NOOP's, so the session stays usable.
 * The ranges are written with pwrite into one LOCAL.part; which bytes of
 * each range are on disk is remembered in LOCAL.part.pget (written to a
 * temporary name, synced and renamed, after the part itself was synced),
 * so a cut or interrupted pget continues where each range stopped.  The
 * state also holds the server's size and time: a file that changed starts
 * over.  As with get, LOCAL exists only once the whole file's checksum
 * matches the server's.
 *
 * A file too small to be worth splitting, or a server without SIZE, gets
 * an ordinary ftpc_get. */
#ifndef FTPC_PGET_H
#define FTPC_PGET_H

#include "session.h"

#define FTPC_PGET_MAX 16 /* segments at most */

/* Downloads remote into local in nseg segments (1..FTPC_PGET_MAX); s is the
 * logged-in session, which carries the first segment; the others open their
 * own with s->opts.  Returns 0 or a status, the reason in ftpc_session_err(s).
 * Blocks until every segment ended. */
int ftpc_pget(ftpc_session *s, const char *remote, const char *local, int nseg);

#endif
