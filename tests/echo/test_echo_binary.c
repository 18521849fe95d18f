/* tests/echo/test_echo_binary.c - the echo-server and echo-client programs,
 * driven from outside as a user would: start the binary, read its
 * "listening on ADDR" line, talk to it with Python's socket module (a client
 * nobody here wrote), signal it, check its exit status and what it left
 * behind.  Each of the twelve server classes is reached through the flags. */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "support.h"

#define PYTHON "/usr/bin/python3"

/* Sends chunks of its stdin to ADDR and prints what came back, hex-encoded,
 * one field per chunk.  tcp: one connection per chunk (sendall, SHUT_WR,
 * read to EOF).  udp: one datagram per chunk on one socket, bound to
 * argv[4] for a unix address so that the server can answer. */
static const char py_echo_client[] =
    "import socket, sys\n"
    "proto, target = sys.argv[1], sys.argv[2]\n"
    "sizes = [int(n) for n in sys.argv[3].split(',')]\n"
    "if target.startswith('unix:'):\n"
    "    fam, addr = socket.AF_UNIX, target[5:]\n"
    "elif target.startswith('['):\n"
    "    host, port = target[1:].split(']:')\n"
    "    fam, addr = socket.AF_INET6, (host, int(port))\n"
    "else:\n"
    "    host, port = target.rsplit(':', 1)\n"
    "    fam, addr = socket.AF_INET, (host, int(port))\n"
    "data = sys.stdin.buffer.read()\n"
    "if proto == 'udp':\n"
    "    s = socket.socket(fam, socket.SOCK_DGRAM)\n"
    "    s.settimeout(30)\n"
    "    if fam == socket.AF_UNIX:\n"
    "        s.bind(sys.argv[4])\n"
    "    s.connect(addr)\n"
    "out, off = [], 0\n"
    "for n in sizes:\n"
    "    chunk = data[off:off + n]\n"
    "    off += n\n"
    "    if proto == 'tcp':\n"
    "        c = socket.socket(fam, socket.SOCK_STREAM)\n"
    "        c.settimeout(30)\n"
    "        c.connect(addr)\n"
    "        c.sendall(chunk)\n"
    "        c.shutdown(socket.SHUT_WR)\n"
    "        got = bytearray()\n"
    "        while True:\n"
    "            b = c.recv(65536)\n"
    "            if not b:\n"
    "                break\n"
    "            got += b\n"
    "        c.close()\n"
    "    else:\n"
    "        s.send(chunk)\n"
    "        got = s.recv(65536)\n"
    "    out.append(got.hex())\n"
    "sys.stdout.write(' '.join(out) + '\\n')\n";

/* --- per-test state: servers to kill if an assertion fails, a temp dir -- */

typedef struct echo_srv {
    ts_proc proc;
    char addr_text[SS_ADDRSTRLEN];
    ss_addr addr;
} echo_srv;

#define MAX_SERVERS 4
static echo_srv *servers[MAX_SERVERS];
static char tmpdir[512];

static void suite_init(void)
{
    signal(SIGPIPE, SIG_IGN);
    ts_mkdtemp("echo", tmpdir, sizeof tmpdir);
    cr_assert(tmpdir[0], "cannot make a temp dir");
}

static void suite_fini(void)
{
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (servers[i] && servers[i]->proc.status == -1)
            ts_stop(&servers[i]->proc, SIGKILL, 5);
        free(servers[i]);
        servers[i] = NULL;
    }
    if (tmpdir[0])
        ts_rmtree(tmpdir);
}

TestSuite(echo_binary, .init = suite_init, .fini = suite_fini, .timeout = 120);

/* The programs under test come from this build, or from the build named by
 * ECHO_PROGRAM_ROOT: Criterion cannot start under ThreadSanitizer (its
 * arena clashes with TSan's memory layout), so the TSan check runs this
 * driver from a plain build against the programs of a TSan build. */
static const char *program(const char *rel)
{
    const char *root = getenv("ECHO_PROGRAM_ROOT");
    if (!root || !*root)
        return ts_build_path(rel);
    static char bufs[2][4096];
    char *buf = bufs[strstr(rel, "client") != NULL];
    snprintf(buf, sizeof bufs[0], "%s/%s", root, rel);
    return buf;
}

static const char *server_bin(void)
{
    return program("examples/echo/echo-server");
}

static const char *client_bin(void)
{
    return program("examples/echo/echo-client");
}

static const char *tmp_path(const char *name)
{
    static char slots[4][600];
    static unsigned next;
    char *buf = slots[next++ % 4];
    snprintf(buf, sizeof slots[0], "%s/%s", tmpdir, name);
    return buf;
}

/* Starts echo-server with args (NULL-terminated) and waits for its ready
 * line. */
static echo_srv *start_echo(const char *const *args)
{
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)server_bin();
    for (; *args && n < 15; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    int slot = 0;
    while (slot < MAX_SERVERS && servers[slot])
        slot++;
    cr_assert(slot < MAX_SERVERS);
    echo_srv *s = calloc(1, sizeof *s);
    cr_assert(s);
    servers[slot] = s;
    int rc = ts_start_server(&s->proc, argv, s->addr_text, sizeof s->addr_text,
                             &s->addr);
    cr_assert_eq(rc, 0, "echo-server did not get ready (%d): %s", rc, s->proc.err);
    return s;
}

/* Sends sig and expects a clean exit 0 within a generous bound. */
static void stop_expect_ok(echo_srv *s, int sig)
{
    int st = ts_stop(&s->proc, sig, 60);
    cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "echo-server did not exit 0 (status %d); stderr:\n%s", st, s->proc.err);
}

/* Waits until the child's stderr contains needle; true when it does. */
static bool wait_stderr(ts_proc *p, const char *needle, double timeout_s)
{
    double deadline = ts_now() + timeout_s;
    for (;;) {
        ts_drain(p);
        if (strstr(p->err, needle))
            return true;
        double left = deadline - ts_now();
        if (left <= 0)
            return false;
        struct pollfd pf = {p->err_fd, POLLIN, 0};
        poll(&pf, 1, left > 0.1 ? 100 : (int)(left * 1000) + 1);
    }
}

/* True while pid runs: exists and is not a zombie waiting to be reaped. */
static bool process_running(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

/* A negative can only be watched for a while: true when pid is still
 * running after window_s.  Used to check the server waits for its client. */
static bool stays_running(pid_t pid, double window_s)
{
    double deadline = ts_now() + window_s;
    while (ts_now() < deadline) {
        if (!process_running(pid))
            return false;
        poll(NULL, 0, 10);
    }
    return process_running(pid);
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

static bool is_socket_file(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Bytes that catch lost, reordered or mangled data: every value, NUL and
 * '\n' included, in a sequence that does not repeat every 256 bytes. */
static void fill_pattern(unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)((i * 131u + 7u) ^ (i >> 8));
}

static void hex_append(char *dst, const unsigned char *src, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    dst += strlen(dst);
    for (size_t i = 0; i < n; i++) {
        *dst++ = digits[src[i] >> 4];
        *dst++ = digits[src[i] & 15];
    }
    *dst = '\0';
}

/* Runs the Python client against s: the chunk sizes ("20000,12,1") are
 * connections (tcp) or datagrams (udp).  Checks every byte came back. */
static void python_echo(const echo_srv *s, const char *proto, const char *sizes)
{
    size_t total = 0, count = 0, sz[16];
    for (const char *p = sizes; *p && count < 16;) {
        char *end;
        sz[count] = strtoul(p, &end, 10);
        total += sz[count++];
        p = *end == ',' ? end + 1 : end;
    }
    unsigned char *data = malloc(total);
    char *want = calloc(1, total * 2 + count + 2);
    size_t out_cap = total * 2 + count + 1024;
    char *out = calloc(1, out_cap);
    char err[4096];
    cr_assert(data && want && out);
    fill_pattern(data, total);
    size_t off = 0;
    for (size_t i = 0; i < count; i++) {
        if (i)
            strcat(want, " ");
        hex_append(want, data + off, sz[i]);
        off += sz[i];
    }
    strcat(want, "\n");

    char *argv[] = {PYTHON, "-c", (char *)py_echo_client, (char *)proto,
                    (char *)s->addr_text, (char *)sizes,
                    (char *)tmp_path("py-client.sock"), NULL};
    unlink(argv[6]);
    int st = ts_run(argv, (const char *)data, total, out, out_cap, err, sizeof err, 60);
    cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "python client failed (status %d):\n%s\nserver stderr:\n%s", st, err,
              s->proc.err);
    cr_assert(strcmp(out, want) == 0,
              "echo differs: got %zu hex chars, want %zu (first 80: %.80s)",
              strlen(out), strlen(want), out);
    free(data);
    free(want);
    free(out);
}

/* --- each of the twelve classes ------------------------------------------ */

static void echo_case(const char *proto, const char *mode, const char *family)
{
    char listen[700];
    const char *path = tmp_path("echo.sock");
    if (strcmp(family, "unix") == 0)
        snprintf(listen, sizeof listen, "--listen=unix:%s", path);
    else
        snprintf(listen, sizeof listen, "--listen=127.0.0.1:0");
    char mode_arg[64];
    snprintf(mode_arg, sizeof mode_arg, "--mode=%s", mode);
    const char *args[] = {listen, "--proto", proto, mode_arg, NULL};
    echo_srv *s = start_echo(args);

    /* Exactly one line, with the real address. */
    char line[700];
    snprintf(line, sizeof line, "listening on %s\n", s->addr_text);
    cr_assert_str_eq(s->proc.out, line);
    if (strcmp(family, "unix") == 0) {
        cr_assert_eq(ss_addr_family(&s->addr), AF_UNIX);
        cr_assert(is_socket_file(path), "no socket file at %s", path);
    } else {
        cr_assert_eq(ss_addr_family(&s->addr), AF_INET);
        cr_assert_gt(ss_addr_port(&s->addr), 0, "port 0 reported: %s", s->addr_text);
    }

    /* tcp: a connection bigger than the handler's buffers, then two small
     * ones (CPython's tests run three in a row); udp: a datagram bigger
     * than Python's default max_packet_size among small ones. */
    python_echo(s, proto, strcmp(proto, "tcp") == 0 ? "20000,12,1" : "1,100,1500,20000");

    stop_expect_ok(s, SIGTERM);
    cr_assert(strcmp(family, "unix") != 0 || !exists(path),
              "the unix socket file was left behind");
    /* Nothing reached handle_error: the only stderr lines are the stop's. */
    cr_assert_eq(count_lines(s->proc.err), 2, "stderr:\n%s", s->proc.err);
    cr_assert(strstr(s->proc.err, "SIGTERM: shutting down"), "stderr:\n%s", s->proc.err);
    cr_assert(strstr(s->proc.err, "stopped accepting"), "stderr:\n%s", s->proc.err);
}

#define ECHO_CASE(proto, mode, family)                                         \
    Test(echo_binary, proto##_##mode##_##family##_echoes_and_exits_0_on_sigterm) \
    {                                                                          \
        echo_case(#proto, #mode, #family);                                     \
    }

ECHO_CASE(tcp, sync, ip)
ECHO_CASE(tcp, threading, ip)
ECHO_CASE(tcp, forking, ip)
ECHO_CASE(udp, sync, ip)
ECHO_CASE(udp, threading, ip)
ECHO_CASE(udp, forking, ip)
ECHO_CASE(tcp, sync, unix)
ECHO_CASE(tcp, threading, unix)
ECHO_CASE(tcp, forking, unix)
ECHO_CASE(udp, sync, unix)
ECHO_CASE(udp, threading, unix)
ECHO_CASE(udp, forking, unix)

/* --- IPv6 ----------------------------------------------------------------- */

static void skip_without_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok)
        cr_skip_test("no IPv6 loopback here");
}

static void ipv6_case(const char *proto, const char *mode)
{
    skip_without_ipv6();
    const char *args[] = {"--listen", "[::1]:0", "--proto", proto, "--mode", mode, NULL};
    echo_srv *s = start_echo(args);
    cr_assert_eq(ss_addr_family(&s->addr), AF_INET6);
    cr_assert(strncmp(s->addr_text, "[::1]:", 6) == 0, "ready line: %s", s->proc.out);
    cr_assert_gt(ss_addr_port(&s->addr), 0);
    python_echo(s, proto, strcmp(proto, "tcp") == 0 ? "3000,5" : "7,3000");
    stop_expect_ok(s, SIGTERM);
}

Test(echo_binary, tcp_threading_ipv6_echoes) { ipv6_case("tcp", "threading"); }
Test(echo_binary, udp_sync_ipv6_echoes) { ipv6_case("udp", "sync"); }

/* --- usage errors ---------------------------------------------------------- */

/* Runs prog with args; expects exit 2, one line on stderr, nothing on stdout. */
static void expect_usage_error(const char *prog, const char *const *args)
{
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)prog;
    for (; *args && n < 15; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    char out[4096], err[4096];
    int st = ts_run(argv, NULL, 0, out, sizeof out, err, sizeof err, 30);
    cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 2,
              "%s %s: status %d, stderr: %s", prog, argv[1] ? argv[1] : "", st, err);
    cr_assert_eq(count_lines(err), 1, "%s %s: stderr not one line:\n%s", prog,
                 argv[1] ? argv[1] : "", err);
    cr_assert_str_eq(out, "", "%s: printed on stdout: %s", prog, out);
}

Test(echo_binary, server_bad_flags_exit_2_with_one_line)
{
    const char *const cases[][4] = {
        {"--bogus", NULL},
        {"--proto", "sctp", NULL},
        {"--proto=", NULL},
        {"--mode=fibers", NULL}, /* no such mode */
        {"--listen", NULL},    /* value missing */
        {"--listen", "nonsense", NULL},
        {"--listen=127.0.0.1:70000", NULL},
        {"--listen=unix:", NULL},
        {"--verbose=yes", NULL},
        {"stray-argument", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_usage_error(server_bin(), cases[i]);
}

Test(echo_binary, client_bad_usage_exits_2_with_one_line)
{
    const char *const cases[][4] = {
        {NULL},                                 /* no ADDR */
        {"127.0.0.1:1", "127.0.0.1:2", NULL},   /* two */
        {"not-an-address", NULL},
        {"127.0.0.1:1", "--proto=sctp", NULL},
        {"127.0.0.1:1", "--timeout", "soon", NULL},
        {"127.0.0.1:1", "--bogus", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_usage_error(client_bin(), cases[i]);
}

Test(echo_binary, help_exits_0_and_documents_the_unix_path_policy)
{
    char out[8192], err[1024];
    char *argv[] = {(char *)server_bin(), "--help", NULL};
    int st = ts_run(argv, NULL, 0, out, sizeof out, err, sizeof err, 30);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    cr_assert(strstr(out, "usage: echo-server"), "%s", out);
    cr_assert(strstr(out, "stale"), "--help does not say what happens to a stale socket");
    char *cargv[] = {(char *)client_bin(), "-h", NULL};
    st = ts_run(cargv, NULL, 0, out, sizeof out, err, sizeof err, 30);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    cr_assert(strstr(out, "usage: echo-client"), "%s", out);
}

/* --- addresses that cannot be used ----------------------------------------- */

/* A second server on the first one's address: exit 2 with one line, and the
 * first one is unharmed. */
static void address_in_use_case(const char *proto, bool unix_family)
{
    char listen[700];
    if (unix_family)
        snprintf(listen, sizeof listen, "unix:%s", tmp_path("busy.sock"));
    else
        snprintf(listen, sizeof listen, "127.0.0.1:0");
    const char *args[] = {"--listen", listen, "--proto", proto, NULL};
    echo_srv *first = start_echo(args);

    char *argv[] = {(char *)server_bin(), "--listen", first->addr_text, "--proto",
                    (char *)proto, NULL};
    char out[4096], err[4096];
    int st = ts_run(argv, NULL, 0, out, sizeof out, err, sizeof err, 30);
    cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 2,
              "second server on %s: status %d, stderr: %s", first->addr_text, st, err);
    cr_assert_eq(count_lines(err), 1, "stderr:\n%s", err);
    cr_assert(strstr(err, "in use"), "stderr does not say why: %s", err);
    cr_assert_str_eq(out, "");

    python_echo(first, proto, "5");
    stop_expect_ok(first, SIGTERM);
}

Test(echo_binary, tcp_address_in_use_exits_2) { address_in_use_case("tcp", false); }
Test(echo_binary, udp_address_in_use_exits_2) { address_in_use_case("udp", false); }
Test(echo_binary, unix_live_socket_is_refused_not_removed)
{
    address_in_use_case("tcp", true);
}
Test(echo_binary, unix_live_datagram_socket_is_refused_not_removed)
{
    address_in_use_case("udp", true);
}

Test(echo_binary, unix_path_that_is_not_a_socket_is_left_alone)
{
    const char *path = tmp_path("precious.txt");
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("keep me\n", f);
    fclose(f);
    char listen[700];
    snprintf(listen, sizeof listen, "--listen=unix:%s", path);
    const char *args[] = {listen, NULL};
    expect_usage_error(server_bin(), args);
    char buf[32] = "";
    f = fopen(path, "r");
    cr_assert(f, "the file was removed");
    cr_assert(fgets(buf, sizeof buf, f));
    fclose(f);
    cr_assert_str_eq(buf, "keep me\n");
}

Test(echo_binary, unix_stale_socket_is_replaced)
{
    /* A socket file nobody listens on: what a killed server leaves. */
    const char *path = tmp_path("stale.sock");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&un, sizeof un), 0, "%s", strerror(errno));
    close(fd);
    cr_assert(is_socket_file(path));

    char listen[700];
    snprintf(listen, sizeof listen, "unix:%s", path);
    const char *args[] = {"--listen", listen, "--mode", "sync", NULL};
    echo_srv *s = start_echo(args);
    python_echo(s, "tcp", "9");
    stop_expect_ok(s, SIGTERM);
    cr_assert(!exists(path));
}

/* --- stopping with a client connected --------------------------------------- */

static void echo_line(int fd, const char *text)
{
    char buf[256];
    size_t n = strlen(text);
    cr_assert_eq(ts_write_full(fd, text, n), 0);
    ssize_t got = ts_read_full(fd, buf, n);
    cr_assert_eq(got, (ssize_t)n, "read %zd of %zu: %s", got, n,
                 got < 0 ? strerror((int)-got) : "EOF");
    cr_assert(memcmp(buf, text, n) == 0);
}

/* SIGTERM arrives while a client is mid-conversation: the server stops
 * accepting (its stderr says so, and a unix path disappears), but the
 * connected client gets the rest of its echo; then the server exits 0. */
static void sigterm_mid_echo_case(const char *mode, bool unix_family)
{
    char listen[700];
    const char *path = tmp_path("mid.sock");
    if (unix_family)
        snprintf(listen, sizeof listen, "unix:%s", path);
    else
        snprintf(listen, sizeof listen, "127.0.0.1:0");
    const char *args[] = {"--listen", listen, "--mode", mode, NULL};
    echo_srv *s = start_echo(args);

    int fd = ts_connect(&s->addr, SOCK_STREAM, 30);
    cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
    echo_line(fd, "first half\n"); /* the request is running now */

    cr_assert_eq(kill(s->proc.pid, SIGTERM), 0);
    cr_assert(wait_stderr(&s->proc, "stopped accepting; finishing 1 running", 30),
              "no stop notice; stderr:\n%s", s->proc.err);
    if (unix_family) {
        cr_assert(!exists(path), "socket file still there after the stop");
        int late = ts_connect(&s->addr, SOCK_STREAM, 5);
        cr_assert_lt(late, 0, "a new client could still connect");
    }

    /* Answered, and the server waits for the client it had. */
    echo_line(fd, "second half, after SIGTERM\n");
    cr_assert(stays_running(s->proc.pid, 0.5), "the server exited under its client");
    close(fd);
    stop_expect_ok(s, 0);
}

Test(echo_binary, sigterm_mid_echo_threading_finishes_the_client)
{
    sigterm_mid_echo_case("threading", false);
}
Test(echo_binary, sigterm_mid_echo_forking_finishes_the_client)
{
    sigterm_mid_echo_case("forking", false);
}
Test(echo_binary, sigterm_mid_echo_threading_unix_finishes_the_client)
{
    sigterm_mid_echo_case("threading", true);
}
Test(echo_binary, sigterm_mid_echo_forking_unix_finishes_the_client)
{
    sigterm_mid_echo_case("forking", true);
}

Test(echo_binary, sigint_stops_like_sigterm)
{
    const char *args[] = {"--listen", "127.0.0.1:0", "--mode", "sync", NULL};
    echo_srv *s = start_echo(args);
    python_echo(s, "tcp", "100");
    stop_expect_ok(s, SIGINT);
    cr_assert(strstr(s->proc.err, "SIGINT"), "stderr: %s", s->proc.err);
}

/* An idle client holds a stopping server; the same signal again ends it at
 * once.  wait_for is the stderr line that shows the first signal was taken
 * (signals of one kind do not queue: sent back to back they could merge). */
static void second_signal_case(const char *mode, const char *wait_for)
{
    const char *path = tmp_path("twice.sock");
    char listen[700];
    snprintf(listen, sizeof listen, "unix:%s", path);
    const char *args[] = {"--listen", listen, "--mode", mode, NULL};
    echo_srv *s = start_echo(args);
    int fd = ts_connect(&s->addr, SOCK_STREAM, 30);
    cr_assert_geq(fd, 0);
    echo_line(fd, "idle client\n");

    cr_assert_eq(kill(s->proc.pid, SIGTERM), 0);
    cr_assert(wait_stderr(&s->proc, wait_for, 30), "stderr:\n%s", s->proc.err);
    int st = ts_stop(&s->proc, SIGTERM, 30);
    cr_assert(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM,
              "status %d; stderr:\n%s", st, s->proc.err);
    cr_assert(strstr(s->proc.err, "SIGTERM again"), "stderr:\n%s", s->proc.err);
    cr_assert(!exists(path), "the unix socket file was left behind");
    char c;
    cr_assert_eq(read(fd, &c, 1), 0, "the client was not disconnected");
    close(fd);
}

Test(echo_binary, second_signal_quits_without_waiting_threading)
{
    second_signal_case("threading", "stopped accepting");
}

/* In sync mode the request runs on the serving thread, so the shutdown
 * itself waits for the client: the second signal must still get through. */
Test(echo_binary, second_signal_quits_without_waiting_sync)
{
    second_signal_case("sync", "SIGTERM: shutting down");
}

/* --- --verbose ------------------------------------------------------------- */

Test(echo_binary, verbose_logs_one_line_per_connection)
{
    const char *args[] = {"--listen", "127.0.0.1:0", "--verbose", NULL};
    echo_srv *s = start_echo(args);
    python_echo(s, "tcp", "10,20,30");
    stop_expect_ok(s, SIGTERM);
    size_t n = 0;
    for (const char *p = s->proc.err; (p = strstr(p, "connection from 127.0.0.1:")); p++)
        n++;
    cr_assert_eq(n, 3, "stderr:\n%s", s->proc.err);
    cr_assert_eq(count_lines(s->proc.err), 5, "stderr:\n%s", s->proc.err);
}

Test(echo_binary, verbose_logs_one_line_per_datagram)
{
    const char *args[] = {"--listen=127.0.0.1:0", "--proto=udp", "--mode=sync",
                          "--verbose", NULL};
    echo_srv *s = start_echo(args);
    python_echo(s, "udp", "10,20");
    stop_expect_ok(s, SIGTERM);
    cr_assert(strstr(s->proc.err, "datagram from 127.0.0.1:"), "stderr:\n%s", s->proc.err);
    cr_assert_eq(count_lines(s->proc.err), 4, "stderr:\n%s", s->proc.err);
}

/* --- echo-client -------------------------------------------------------------- */

static void client_round_trip(const char *proto, bool unix_family)
{
    char listen[700];
    if (unix_family)
        snprintf(listen, sizeof listen, "unix:%s", tmp_path("cli.sock"));
    else
        snprintf(listen, sizeof listen, "127.0.0.1:0");
    const char *args[] = {"--listen", listen, "--proto", proto, NULL};
    echo_srv *s = start_echo(args);

    /* Lines of all kinds: empty, one long enough to be sent in pieces
     * (tcp only: a datagram that size is fine too, but keep udp small),
     * and a last one without '\n'. */
    size_t long_len = strcmp(proto, "tcp") == 0 ? 40000 : 3000;
    char *in = malloc(long_len + 128);
    cr_assert(in);
    int k = snprintf(in, 128, "hello\n\nworld, again\n");
    memset(in + k, 'x', long_len);
    k += (int)long_len;
    k += snprintf(in + k, 64, "\nno newline at the end");

    char *out = calloc(1, 65536);
    char err[4096];
    cr_assert(out);
    char *argv[] = {(char *)client_bin(), s->addr_text, "--proto", (char *)proto, NULL};
    int st = ts_run(argv, in, (size_t)k, out, 65536, err, sizeof err, 60);
    cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "echo-client status %d, stderr: %s; server: %s", st, err, s->proc.err);
    cr_assert_eq(strlen(out), (size_t)k);
    cr_assert(memcmp(out, in, (size_t)k) == 0, "output differs from input");
    cr_assert_str_eq(err, "");
    free(in);
    free(out);
    stop_expect_ok(s, SIGTERM);
}

Test(echo_binary, client_round_trip_tcp) { client_round_trip("tcp", false); }
Test(echo_binary, client_round_trip_udp) { client_round_trip("udp", false); }
Test(echo_binary, client_round_trip_unix_stream) { client_round_trip("tcp", true); }
Test(echo_binary, client_round_trip_unix_datagram) { client_round_trip("udp", true); }

/* A port with a socket bound to it that never listens or answers. */
static int silent_socket(int type, char *addr_text, size_t cap)
{
    int fd = socket(AF_INET, type, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    snprintf(addr_text, cap, "127.0.0.1:%d", ntohs(a.sin_port));
    return fd;
}

static void expect_client_error(char *const argv[], const char *needle)
{
    char out[1024], err[1024];
    int st = ts_run(argv, "ping\n", 5, out, sizeof out, err, sizeof err, 30);
    cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d, stderr %s",
              st, err);
    cr_assert_eq(count_lines(err), 1, "stderr:\n%s", err);
    cr_assert(strstr(err, needle), "stderr lacks '%s': %s", needle, err);
}

Test(echo_binary, client_refused_tcp_exits_1)
{
    char addr[64];
    int fd = silent_socket(SOCK_STREAM, addr, sizeof addr); /* bound, not listening */
    char *argv[] = {(char *)client_bin(), addr, NULL};
    expect_client_error(argv, "refused");
    close(fd);
}

Test(echo_binary, client_udp_without_reply_times_out_with_exit_1)
{
    char addr[64];
    int fd = silent_socket(SOCK_DGRAM, addr, sizeof addr); /* takes, never answers */
    char *argv[] = {(char *)client_bin(), addr, "--proto=udp", "--timeout=0.3", NULL};
    expect_client_error(argv, "no reply");
    close(fd);
}

Test(echo_binary, client_unix_path_missing_exits_1)
{
    char addr[700];
    snprintf(addr, sizeof addr, "unix:%s", tmp_path("nobody.sock"));
    char *argv[] = {(char *)client_bin(), addr, NULL};
    expect_client_error(argv, "No such file");
}
