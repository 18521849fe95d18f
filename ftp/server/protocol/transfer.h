/* ftp/server/protocol/transfer.h - moving file data over the data connection:
 * RETR, STOR, STOU, APPE (with REST and RANG), and the directory listings
 * LIST, NLST, MLSD.  The command functions are in commands.h; this header
 * only documents the rules they follow.
 *
 * - The data connection is opened (accepted or connected) before the 150
 *   reply; 425 when that fails or nothing was prepared with PASV/PORT.
 * - While data moves, the loop polls the data socket and the control
 *   connection (POLLIN|POLLPRI): ABOR in any shape (plain, after Telnet
 *   IAC IP IAC DM, as TCP urgent data) closes the data connection and gets
 *   426 for the transfer and 226 for the ABOR; STAT gets 213 with the bytes
 *   moved so far; QUIT is answered after the transfer ends.  No progress for
 *   data_timeout seconds ends the transfer with 426.
 * - RETR uses sendfile() on a plain data connection in TYPE I, and
 *   LF -> CRLF conversion in TYPE A.  REST n sends from byte n (554 past the
 *   end); RANG a b sends bytes a..b inclusive.
 * - STOR writes from 0 (truncating), REST n + STOR from n without
 *   truncating (554 past the end), APPE at the end, STOU into a new unique
 *   name ("150 FILE: name").  TYPE A turns CRLF into LF.  Every byte that
 *   grows the file is reserved from the user's quota first: a transfer that
 *   reaches the limit writes what fits, stops reading, and answers 552, so
 *   usage never passes the limit, also with several uploads at once.  Disk
 *   full is 452, other write errors 451.  Data is fsync'd before the 226.
 *   A failed or aborted upload keeps the bytes received (to resume).
 */
#ifndef FTPD_TRANSFER_H
#define FTPD_TRANSFER_H

#include "protocol/session.h"

#endif
