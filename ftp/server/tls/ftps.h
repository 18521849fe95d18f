/* ftp/server/tls/ftps.h - FTP over TLS (RFC 4217) on libsockserv's TLS
 * (sockserv/tls.h): the server's certificate and context, the security
 * commands AUTH, PBSZ, PROT and CCC, and the rules a data connection must
 * pass under TLS.
 *
 * The control connection is upgraded in place (AUTH TLS, or from the first
 * byte on an implicit listener); every data connection opened under
 * PROT P is a TLS server connection that must resume the control
 * connection's session unless require_tls_reuse is off (the check is the
 * library's: ss_tls_accept with resume_of).
 *
 * Threads: ftpd_ftps_init runs once on the main thread before serving; the
 * context it fills is then shared read-only by every session.  The command
 * functions run on their session's thread.
 */
#ifndef FTPD_FTPS_H
#define FTPD_FTPS_H

#include <stdbool.h>
#include <stddef.h>

#include <sockserv/tls.h>

#include "config.h"

typedef struct ftpd_session ftpd_session;

/* Loads cfg's certificate and key into ctx, or, with none configured,
 * DATA_DIR/tls/cert.pem and key.pem, generating a self-signed ECDSA P-256
 * pair there first when they do not exist (files and directory mode 0600 /
 * 0700).  *generated tells whether it did; fp (cap >= 96) gets the
 * certificate's SHA-256 fingerprint ("AB:CD:..."), cert_path (cap bytes)
 * the certificate file used.  Returns 0, or -1 with a one-line message in
 * err. */
int ftpd_ftps_init(ss_tls_context *ctx, const ftpd_config *cfg,
                   bool *generated, char *fp, size_t fpcap, char *cert_path,
                   size_t cert_cap, char *err, size_t errcap);

/* Writes a fresh self-signed certificate and key (mode 0600, replaced
 * atomically).  Exposed for the tests.  0 or -1 with err. */
int ftpd_ftps_make_self_signed(const char *cert_file, const char *key_file,
                               char *err, size_t errcap);

/* Whether a data transfer may start now: under require_tls, only with
 * PROT P (else 522 "Data connections must be encrypted." is sent and false
 * returned).  Call before touching any file. */
bool ftpd_ftps_data_allowed(ftpd_session *s);

/* Makes the freshly opened data connection TLS when PROT P is on, after the
 * 1xx reply went out (clients start the handshake once they see it).
 * Returns 0 (plain or TLS now), or -1 after sending the 522 that says why
 * (the data connection is then closed). */
int ftpd_ftps_data_start(ftpd_session *s);

/* Ends a TLS data connection cleanly (close_notify) before it is closed;
 * nothing for a plain one. */
void ftpd_ftps_data_end(ftpd_session *s);

#endif
