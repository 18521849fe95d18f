/* ftp/server/store/guard.h - failed-login accounting against password guessing,
 * per client host and per user name, shared by every thread and every
 * forked session process.
 *
 * Each failed PASS counts against the client's host and against the name
 * it was for (whether that user exists or not, so the accounting itself
 * tells nothing).  The count drives the growing delay before the 530, and
 * at ban_after failures within ban_time the host or the name is banned
 * for ban_time: a banned host's connections are answered 421 and closed
 * before a session starts, a banned name's logins fail whatever the
 * password.  Failures older than ban_time are forgotten.
 *
 * The table is a fixed array in an anonymous MAP_SHARED mapping made before
 * the first fork, under a process-shared mutex; when it is full the entry
 * with the oldest failure is reused, so a flood of names cannot grow it.
 * Times are CLOCK_MONOTONIC, which all processes of the server share.
 */
#ifndef FTPD_GUARD_H
#define FTPD_GUARD_H

#include <sockserv/address.h>

typedef struct ftpd_guard ftpd_guard;

/* Maps a table of capacity entries.  ban_after 0: never ban.  Returns the
 * table or NULL (errno set). */
ftpd_guard *ftpd_guard_create(unsigned capacity, unsigned ban_after,
                              double ban_time);
void ftpd_guard_destroy(ftpd_guard *g);

/* Seconds the client's host (user NULL) or the host or user name is still
 * banned for; 0 when neither is.  Any thread/process. */
double ftpd_guard_banned(ftpd_guard *g, const ss_addr *client,
                         const char *user);

/* Counts one failed login of user (may be "" for a refused name) from
 * client.  Returns the larger of the two counts now (>= 1).  Any
 * thread/process. */
unsigned ftpd_guard_fail(ftpd_guard *g, const ss_addr *client,
                         const char *user);

/* Hosts and names banned now (for the metrics page).  Any
 * thread/process; scans the table under its lock. */
unsigned ftpd_guard_bans_active(ftpd_guard *g);

/* A successful login: the name's count starts again.  The host's does not
 * (one valid account must not reset the guessing of others). */
void ftpd_guard_success(ftpd_guard *g, const char *user);

#endif
