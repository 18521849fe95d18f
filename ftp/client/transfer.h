/* ftp/client/transfer.h - whole-file downloads and uploads with resume,
 * verification and retries.
 *
 * Download: the data goes to LOCAL.part, which becomes LOCAL (rename) only
 * after the transfer completed and, when the server can tell a checksum,
 * the checksums match.  An existing LOCAL.part is resumed: first the server
 * is asked for the checksum of the same byte range (HASH + RANG, or X* with
 * a range); if it differs the file changed and the download starts over from
 * zero.  Without range checksums, the last 64 KiB of the partial copy are
 * fetched again and compared instead.
 *
 * Upload: STOR; on resume (put -c, or a retry) SIZE tells how much the server
 * has, that range is checked the same way, then REST+STOR (or APPE) sends
 * the rest.  After the 226 the whole file's checksum is compared.
 *
 * A lost connection (FTPC_ERR_NET) is retried opts->retries times: reconnect,
 * log in again, resume.  Messages about resuming and restarting go to stderr
 * unless quiet; the result line is the progress module's. */
#ifndef FTPC_TRANSFER_H
#define FTPC_TRANSFER_H

#include <stdbool.h>

#include "session.h"

/* Downloads remote into local.  cont (get -c): also continue from an
 * existing LOCAL (it becomes LOCAL.part first).  Returns 0 or a status; the
 * reason is in ftpc_session_err(s). */
int ftpc_get(ftpc_session *s, const char *remote, const char *local, bool cont);

/* Uploads local as remote.  cont (put -c): continue what the server has. */
int ftpc_put(ftpc_session *s, const char *local, const char *remote, bool cont);

#endif
