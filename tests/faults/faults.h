/* tests/faults/faults.h - what the fault suites share on top of ftx: the
 * server's log, a tmpfs of the test's own, file checksums, the kernel's
 * table of listening ports, and third-party clients run to completion. */
#ifndef TESTS_FAULTS_H
#define TESTS_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ftx.h"

/* Waits (reading the server's stderr, where it logs) until a log line
 * contains every one of the NULL-terminated needles, or timeout_s passes.
 * Only lines after the first *from bytes count; *from is moved past the
 * line found, so a second wait finds the next one.  True when found. */
bool fl_wait_log(ftx_server *s, size_t *from, double timeout_s, ...)
    __attribute__((sentinel));
/* Where the next log line will start (for fl_wait_log's from). */
size_t fl_log_mark(ftx_server *s);

/* Mounts a tmpfs of size ("4m") on dir inside a mount namespace of this
 * test process alone, so the mount disappears with the process whatever
 * way it ends, and no other process on the machine ever sees it.  0, or
 * -errno with why in why (not root, no namespaces, ...). */
int fl_private_tmpfs(const char *dir, const char *size, char *why, size_t cap);
/* Unmounts dir (lazily when busy); safe to call when nothing is mounted. */
void fl_umount(const char *dir);
/* Bytes a new file on dir's file system can still take. */
long long fl_free_bytes(const char *dir);

/* True when some socket listens on TCP port (IPv4 or IPv6), as the
 * kernel's /proc/net/tcp{,6} shows: a look that connects to nothing. */
bool fl_port_listening(int port);

/* Listening TCP sockets process pid and its children (forked sessions)
 * hold (their descriptors matched with the kernel's tables), or -1. */
int fl_listen_count(pid_t pid);

/* Runs argv (argv[0] looked up in PATH when it has no '/') to completion
 * within timeout_s; stdout and stderr together into out (cap bytes).
 * Returns the exit status, or -1 when it did not exit normally. */
int fl_run(const char *const *argv, char *out, size_t cap, double timeout_s);

/* Sum of the sizes of the regular files under dir (recursive). */
long long fl_tree_bytes(const char *dir);

/* Used and limit from SITE QUOTA on a logged-in session. */
long long fl_quota_used(ftc *c);

#endif
