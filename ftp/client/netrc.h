/* ftp/client/netrc.h - login and password from ~/.netrc (the format of
 * ftp(1): "machine HOST login USER password PASS", "default ...", and
 * "macdef NAME" blocks, which are skipped). */
#ifndef FTPC_NETRC_H
#define FTPC_NETRC_H

#include <stdbool.h>
#include <stddef.h>

/* Looks up host in the netrc file at path (NULL: $HOME/.netrc).  When user
 * is non-empty only an entry with that login matches; otherwise the entry's
 * login is copied into user (ucap bytes).  The password goes to pass (pcap).
 * Returns true when an entry matched.  A missing or unreadable file is no
 * match.  Reads at most 64 KiB. */
bool ftpc_netrc_lookup(const char *path, const char *host, char *user,
                       size_t ucap, char *pass, size_t pcap);

#endif
