/* tests/support/support.h - what every suite needs: start a program and wait
 * for its ready line, connect to an address, make a temp dir, run a command.
 * Every wait has a deadline; nothing here sleeps to wait for readiness. */
#ifndef TESTS_SUPPORT_H
#define TESTS_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <sockserv/address.h>

/* GCC 12's AddressSanitizer does not hold its allocator's locks across
 * fork(): a child forked while another thread holds one (a TLS client
 * handshaking on the test's own thread, say) waits for it forever.  glibc's
 * malloc and ThreadSanitizer take their locks around fork, so this is the
 * sanitizer's, not the server's; the in-process tests that fork a server
 * while such a client runs skip themselves in ASan builds and run in the
 * others.  Use at the top of a Test body. */
#if defined(__SANITIZE_ADDRESS__)
#define TS_SKIP_IN_ASAN_FORK()                                                \
    cr_skip_test("ASan's allocator is not fork-safe with a busy thread")
#else
#define TS_SKIP_IN_ASAN_FORK() ((void)0)
#endif

/* The directory holding the built programs (meson passes it as
 * SOCKSERV_BUILD_ROOT) and the source tree (SOCKSERV_SOURCE_ROOT). */
const char *ts_build_root(void);
const char *ts_source_root(void);
/* "<build root>/<rel>" in a static buffer per call slot (up to 8 live). */
const char *ts_build_path(const char *rel);
const char *ts_source_path(const char *rel);

/* A child process with its stdout (and optionally stderr) on pipes. */
typedef struct ts_proc {
    pid_t pid;
    int out_fd;        /* child's stdout, read end (non-blocking) */
    int err_fd;        /* child's stderr, read end, or -1 when inherited */
    char out[65536];   /* everything read from stdout so far, NUL-terminated */
    size_t out_len;
    char err[65536];
    size_t err_len;
    int status;        /* wait status once reaped, -1 before */
} ts_proc;

/* Starts argv (argv[0] a path) with stdin from /dev/null (or stdin_fd when
 * >= 0), stdout piped, and stderr piped when capture_err.  env may be NULL
 * (inherit) or extra "NAME=VALUE" strings to add.  Returns 0 or -errno. */
int ts_spawn(ts_proc *p, char *const argv[], char *const env[], int stdin_fd,
             bool capture_err);

/* Reads the child's output until a line starting with prefix appears or
 * timeout_s passes or the child exits.  On success copies the rest of that
 * line (after prefix, without newline) into rest (cap bytes) and returns 0;
 * -ETIMEDOUT or -ECHILD (exited) otherwise. */
int ts_wait_line(ts_proc *p, const char *prefix, char *rest, size_t cap,
                 double timeout_s);

/* Looks in what was read of the child's stdout for the nth (1-based) line
 * starting with prefix; copies the rest of it (cap bytes, may be NULL) and
 * returns true when found.  Reads nothing. */
bool ts_find_line(const ts_proc *p, const char *prefix, int nth, char *rest,
                  size_t cap);

/* Spawns argv and waits (10 s) for "listening on ADDR"; fills addr_text (the
 * ADDR, cap bytes) and addr.  Returns 0 or a negative code. */
int ts_start_server(ts_proc *p, char *const argv[], char *addr_text,
                    size_t cap, ss_addr *addr);

/* Sends sig (if > 0) and waits up to timeout_s for the child to exit, reading
 * its output meanwhile.  Returns the wait status, or -ETIMEDOUT (the child is
 * then killed with SIGKILL and reaped). */
int ts_stop(ts_proc *p, int sig, double timeout_s);

/* Drains whatever output is pending (non-blocking). */
void ts_drain(ts_proc *p);

/* Connects a socket of type (SOCK_STREAM / SOCK_DGRAM) to addr.  For a unix
 * datagram socket it first binds the client to a fresh temp path (the
 * server must have an address to answer to).  Sets SO_RCVTIMEO/SO_SNDTIMEO
 * to timeout_s.  Returns the fd or -errno. */
int ts_connect(const ss_addr *addr, int type, double timeout_s);

/* A TCP connection to addr from the local IPv4 address src_ip (port 0):
 * loopback tests use 127.0.0.x to tell peers apart (a balancer and the
 * client behind it).  Socket timeouts as ts_connect.  Returns the fd or
 * -errno. */
int ts_connect_from(const char *src_ip, const ss_addr *addr, double timeout_s);

/* Reads until n bytes or EOF (timeouts from the socket options apply).
 * Returns the count or -errno. */
ssize_t ts_read_full(int fd, void *buf, size_t n);
/* Writes all n bytes; 0 or -errno. */
int ts_write_full(int fd, const void *buf, size_t n);
/* Reads one line ('\n' included) of at most cap-1 bytes into buf and
 * NUL-terminates it; returns its length, 0 at EOF, or -errno. */
ssize_t ts_read_line(int fd, char *buf, size_t cap);

/* A fresh directory under $TMPDIR (or /tmp) named after tag; the path is
 * copied into buf.  Returns buf.  ts_rmtree removes a tree. */
char *ts_mkdtemp(const char *tag, char *buf, size_t cap);
int ts_rmtree(const char *path);

/* Runs argv to completion (timeout_s, killed after), stdin from in (NULL:
 * /dev/null), and returns the wait status; stdout/stderr captured into
 * out/err (may be NULL; NUL-terminated, truncated to cap). */
int ts_run(char *const argv[], const char *in, size_t in_len, char *out,
           size_t out_cap, char *err, size_t err_cap, double timeout_s);

/* Seconds on the monotonic clock. */
double ts_now(void);

/* Number of descriptors this process has open (entries of /proc/self/fd). */
int ts_count_fds(void);

/* The SHA-256 of the file at path, as 64 lower-case hex digits in hex.
 * False, with hex empty, when the file cannot be read whole.  Any thread. */
bool ts_sha256_file(const char *path, char hex[65]);

#endif
