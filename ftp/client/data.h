/* ftp/client/data.h - the data connection of one transfer.
 *
 * Passive (default): EPSV, falling back to PASV when the server refuses it,
 * then connect before the transfer command is sent.  Active (--active): a
 * listening socket on the control connection's local address, announced
 * with EPRT (falling back to PORT on IPv4), accepted after the server's
 * 150.  IPv6 works in both modes (EPSV/EPRT). */
#ifndef FTPC_DATA_H
#define FTPC_DATA_H

#include "io.h"
#include "session.h"

typedef struct ftpc_data {
    ftpc_stream io;  /* the data connection once open */
    ss_tls_conn tls_conn; /* io's TLS under PROT P; the ftpc_data must stay
                             where it is while io is open */
    int listen_fd;   /* active mode, until accepted; else -1 */
} ftpc_data;

void ftpc_data_init(ftpc_data *d);

/* Sets up the data connection before a transfer command.  Returns 0,
 * FTPC_ERR_NET (lost control, cannot connect: worth a retry) or
 * FTPC_ERR_REMOTE (the server refused every mode). */
int ftpc_data_open(ftpc_session *s, ftpc_data *d);

/* After the transfer command's 1xx reply: accepts the server's connection
 * in active mode, then, under PROT P, handshakes TLS on it, resuming the
 * control connection's session (servers require that: a stranger who
 * raced us to the port cannot have it).  0, FTPC_ERR_NET, or
 * FTPC_ERR_REMOTE when TLS failed (the server's reply to the transfer
 * command, usually 522, is read and quoted). */
int ftpc_data_ready(ftpc_session *s, ftpc_data *d);

void ftpc_data_close(ftpc_data *d);

#endif
