/* ftp/server/store/connlimit.h - counts of live sessions, in total and per client
 * host, shared by every thread and every forked session process.
 *
 * The table lives in an anonymous MAP_SHARED mapping made before the first
 * fork, guarded by a process-shared mutex, so a session process that ends
 * gives its place back to the parent's view.  A session process killed
 * before it releases keeps its place (documented in doc/ftpd.md).
 */
#ifndef FTPD_CONNLIMIT_H
#define FTPD_CONNLIMIT_H

#include <stdbool.h>
#include <sockserv/address.h>

typedef struct ftpd_connlimit ftpd_connlimit;

/* Maps the table.  max_total >= 1; max_per_ip 0 means no per-host limit.
 * Returns the table or NULL (errno set). */
ftpd_connlimit *ftpd_connlimit_create(unsigned max_total, unsigned max_per_ip);
void ftpd_connlimit_destroy(ftpd_connlimit *cl);

enum { FTPD_CL_OK = 0, FTPD_CL_FULL = 1, FTPD_CL_PER_IP = 2 };

/* Takes a place for client: FTPD_CL_OK, or why not.  Any thread/process. */
int ftpd_connlimit_acquire(ftpd_connlimit *cl, const ss_addr *client);
/* Gives back a place taken by acquire for the same client. */
void ftpd_connlimit_release(ftpd_connlimit *cl, const ss_addr *client);
/* Sessions live now. */
unsigned ftpd_connlimit_active(ftpd_connlimit *cl);

/* Logged-in sessions per user name: max_per_user 0 means no limit.  Set
 * once, before the first session.  The server reaches these through the
 * store (store.h: the file store keeps a table of its own for them), since
 * a cluster must count a user's sessions across nodes. */
void ftpd_connlimit_set_user_limit(ftpd_connlimit *cl, unsigned max_per_user);
/* Takes a place for user at login: true, or false when the user has
 * max_per_user sessions already. */
bool ftpd_connlimit_user_acquire(ftpd_connlimit *cl, const char *user);
void ftpd_connlimit_user_release(ftpd_connlimit *cl, const char *user);

/* Pending passive listeners (PASV/EPSV not yet used by a transfer), all
 * sessions together.  One client host (of a session that holds its place
 * from ftpd_connlimit_acquire) may hold at most half of them, at least
 * one: a host that opens listeners from many sessions and never connects
 * leaves the other half to everyone else.  client may be NULL (no
 * per-host count); release takes the same client as acquire. */
void ftpd_connlimit_set_pasv_limit(ftpd_connlimit *cl, unsigned max_pasv);
bool ftpd_connlimit_pasv_acquire(ftpd_connlimit *cl, const ss_addr *client);
void ftpd_connlimit_pasv_release(ftpd_connlimit *cl, const ss_addr *client);

#endif
