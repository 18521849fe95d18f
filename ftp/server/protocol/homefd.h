/* ftp/server/protocol/homefd.h - one descriptor per home, shared by the
 * sessions of that home.
 *
 * Every logged-in session resolves client paths from an O_PATH descriptor
 * of its home (vfs.c).  Sessions of one account used to hold one each, so
 * 10,000 sessions needed 20,000 descriptors; now they share one, counted.
 * Process-wide; thread-safe.  A forked session process inherits the table
 * and keeps its own counts. */
#ifndef FTPD_PROTOCOL_HOMEFD_H
#define FTPD_PROTOCOL_HOMEFD_H

/* An O_PATH|O_DIRECTORY descriptor of real (a realpath): the one already
 * held for it when that still names the same directory (device and inode;
 * a home replaced since gets a descriptor of its own), else a new one.
 * Returns it (release with ftpd_homefd_release, never close) or -errno. */
int ftpd_homefd_acquire(const char *real);
/* Drops one use of fd; the last one closes it. */
void ftpd_homefd_release(int fd);

#endif
