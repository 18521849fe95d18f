/* ftp/server/usercli.h - "sockserv-ftpd user ..." account management.
 *
 * API note.  main() hands everything after the program name to
 * ftpd_usercli_main when argv[1] is "user":
 *     sockserv-ftpd user add NAME --home DIR --quota SIZE
 *     sockserv-ftpd user passwd NAME
 *     sockserv-ftpd user del NAME
 *     sockserv-ftpd user list
 * argv[0] is "user", argv[1] the subcommand.  The accounts are those of
 * the store (store.h): ftpd_usercli_main_config opens the one the config
 * names, ftpd_usercli_main_store works on one already open;
 * ftpd_usercli_main uses the file store of "<data_dir>/users", and
 * ftpd_usercli_main_file that of the users file given.  "add" creates DIR when missing (mode 0750) and
 * stores it as an absolute path; SIZE as in ftpd_size_parse; without --quota
 * the quota is 100M.  The password is read from stdin when stdin is not a
 * terminal (one line, the newline removed), else prompted twice on the
 * terminal with echo off (termios).  It is never echoed, printed or logged,
 * and the buffer is cleansed.  "list" prints name, quota, usage (as the
 * store counts it: the file store walks the home) and home.  Messages go to stdout/stderr; the return value is the exit
 * code: 0 success, 1 failure (user exists / missing / I/O), 2 usage error.
 *
 * Thread-safety: meant for the main thread of a command-line run. */
#ifndef FTPD_USERCLI_H
#define FTPD_USERCLI_H

#include "config.h"
#include "store/store.h"

int ftpd_usercli_main(int argc, char **argv, const char *data_dir);
int ftpd_usercli_main_file(int argc, char **argv, const char *users_path);
int ftpd_usercli_main_config(int argc, char **argv, const ftpd_config *c);
int ftpd_usercli_main_store(int argc, char **argv, ftpd_store *st);

#endif
