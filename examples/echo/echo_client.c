/* examples/echo/echo_client.c - sends its stdin to an echo server line by
 * line and prints each reply.
 *
 * TCP: each line is sent, then replies are read until the whole line has
 * come back.  UDP: each line is one datagram, answered by one datagram.
 * Every reply must equal what was sent; anything else is an error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <sockserv/address.h>
#include <sockserv/tls.h>

#include "cli.h"

/* A longer line is sent in pieces of this size, each echoed on its own. */
#define CHUNK_MAX 16384

static const char usage[] =
    "usage: echo-client ADDR [--proto tcp|udp] [--timeout SECONDS]\n"
    "                   [--tls [--insecure] [--cacert FILE]]\n"
    "\n"
    "Sends standard input to the echo server at ADDR (HOST:PORT,\n"
    "[IPV6]:PORT or unix:PATH) one line at a time and prints each reply.\n"
    "\n"
    "  --proto P        tcp (default): a stream; udp: one datagram per line\n"
    "                   (a unix: address then means a datagram socket)\n"
    "  --timeout S      how long to wait for a reply (default 5 s)\n"
    "  --tls            speak TLS (tcp); the server's certificate must be\n"
    "                   valid for ADDR's host (\"localhost\" for unix:)\n"
    "  --cacert FILE    trust the CA certificates in FILE (PEM) instead of\n"
    "                   the system's\n"
    "  --insecure       do not verify the server's certificate at all\n"
    "  -h, --help       this text\n"
    "\n"
    "Exit status: 0 when every line came back whole, 1 on an error talking\n"
    "to the server (no reply in time, a reply that differs, a refused\n"
    "connection), 2 on bad usage.\n";

typedef struct client {
    const char *addr_text;
    bool udp;
    double timeout;
    int fd;
    char tmpdir[256]; /* unix datagram: where our own socket lives */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    bool tls, insecure;
    const char *cacert;
    ss_tls_context tls_ctx;
    ss_tls_conn tls_conn; /* in use when tls_conn.ssl is set */
} client;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "echo-client: %s\n", msg);
    return CLI_EXIT_ERROR;
}

/* A unix datagram server can only answer a client that has an address, so
 * bind ours to a fresh private directory (removed again in cleanup()). */
static int bind_unix_client(client *c)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(c->tmpdir, sizeof c->tmpdir, "%s/echo-client-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(c->tmpdir)) {
        c->tmpdir[0] = '\0';
        return fail("mkdtemp: %s", strerror(errno));
    }
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    if ((size_t)snprintf(un.sun_path, sizeof un.sun_path, "%s/sock", c->tmpdir) >=
        sizeof un.sun_path)
        return fail("%s: path too long for a unix socket", c->tmpdir);
    if (bind(c->fd, (struct sockaddr *)&un, sizeof un) < 0)
        return fail("bind %s: %s", un.sun_path, strerror(errno));
    strcpy(c->path, un.sun_path);
    return 0;
}

static void cleanup(client *c)
{
    if (c->tls_conn.ssl) {
        ss_tls_conn_shutdown(&c->tls_conn);
        ss_tls_conn_close(&c->tls_conn);
    }
    ss_tls_context_close(&c->tls_ctx);
    if (c->fd >= 0)
        close(c->fd);
    if (c->path[0])
        unlink(c->path);
    if (c->tmpdir[0])
        rmdir(c->tmpdir);
}

/* The name the server's certificate must carry: ADDR's host. */
static void host_of(const client *c, const ss_addr *addr, char *buf, size_t cap)
{
    if (ss_addr_family(addr) == AF_UNIX) {
        snprintf(buf, cap, "localhost");
        return;
    }
    const char *s = c->addr_text, *colon = strrchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    snprintf(buf, cap, "%.*s", (int)n, s);
}

static int start_tls(client *c, const ss_addr *addr)
{
    ss_error err;
    ss_error_clear(&err);
    ss_tls_options o = {.ca_file = c->cacert, .insecure = c->insecure,
                        .handshake_timeout = c->timeout};
    if (ss_tls_context_init(&c->tls_ctx, &o, &err) < 0)
        return fail("%s", err.msg);
    char host[256];
    host_of(c, addr, host, sizeof host);
    if (ss_tls_connect(&c->tls_conn, &c->tls_ctx, c->fd, host, NULL, &err) < 0)
        return fail("%s", err.msg);
    return 0;
}

static int open_connection(client *c, const ss_addr *addr)
{
    c->fd = socket(ss_addr_family(addr),
                   (c->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return fail("socket: %s", strerror(errno));
    if (c->udp && ss_addr_family(addr) == AF_UNIX) {
        int rc = bind_unix_client(c);
        if (rc)
            return rc;
    }
    struct timeval tv = {.tv_sec = (time_t)c->timeout,
                         .tv_usec = (suseconds_t)((c->timeout - (double)(time_t)c->timeout) * 1e6)};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int rc;
    do
        rc = connect(c->fd, (const struct sockaddr *)&addr->sa, addr->len);
    while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return fail("connect %s: %s", c->addr_text, strerror(errno));
    return c->tls ? start_tls(c, addr) : 0;
}

/* Reads one line ('\n' included) or CHUNK_MAX bytes, NUL bytes and all.
 * Returns the length, 0 at the end of input. */
static size_t read_chunk(char *buf)
{
    size_t n = 0;
    int ch;
    while (n < CHUNK_MAX && (ch = getchar()) != EOF) {
        buf[n++] = (char)ch;
        if (ch == '\n')
            break;
    }
    return n;
}

static int receive_error(const client *c, int e)
{
    if (e == EAGAIN || e == EWOULDBLOCK)
        return fail("no reply from %s within %g s", c->addr_text, c->timeout);
    return fail("receive from %s: %s", c->addr_text, strerror(e));
}

static int send_all(client *c, const char *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        if (c->tls) {
            ssize_t w = c->tls_conn.base.send(&c->tls_conn.base, buf + done, n - done);
            if (w < 0)
                return fail("send to %s: %s", c->addr_text, ss_strerror((int)w));
            done += (size_t)w;
            continue;
        }
        ssize_t w = send(c->fd, buf + done, n - done, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return fail("send to %s: %s", c->addr_text, strerror(errno));
        done += (size_t)w;
    }
    return 0;
}

/* TCP: the echo may come back in pieces; wait until all n bytes are here. */
static int exchange_stream(client *c, const char *line, size_t n, char *reply)
{
    int rc = send_all(c, line, n);
    if (rc)
        return rc;
    size_t got = 0;
    while (got < n) {
        ssize_t r;
        if (c->tls) {
            r = c->tls_conn.base.recv(&c->tls_conn.base, reply + got, n - got);
            if (r == -ETIMEDOUT)
                return receive_error(c, EAGAIN);
            if (r < 0)
                return fail("receive from %s: %s", c->addr_text, ss_strerror((int)r));
        } else {
            r = recv(c->fd, reply + got, n - got, 0);
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return receive_error(c, errno);
        if (r == 0)
            return fail("%s closed the connection after %zu of %zu bytes",
                        c->addr_text, got, n);
        got += (size_t)r;
    }
    return 0;
}

/* UDP: one datagram out, one back.  The buffer is bigger than the line so
 * that a longer reply shows up as a mismatch instead of being cut. */
static int exchange_datagram(const client *c, const char *line, size_t n,
                             char *reply, size_t cap, size_t *got)
{
    ssize_t w;
    do
        w = send(c->fd, line, n, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0)
        return fail("send to %s: %s", c->addr_text, strerror(errno));
    ssize_t r;
    do
        r = recv(c->fd, reply, cap, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return receive_error(c, errno);
    *got = (size_t)r;
    return 0;
}

static int run(client *c)
{
    static char line[CHUNK_MAX], reply[CHUNK_MAX * 2];
    size_t n;
    while ((n = read_chunk(line)) > 0) {
        size_t got = n;
        int rc = c->udp ? exchange_datagram(c, line, n, reply, sizeof reply, &got)
                        : exchange_stream(c, line, n, reply);
        if (rc)
            return rc;
        if (fwrite(reply, 1, got, stdout) != got || fflush(stdout) != 0)
            return fail("writing the reply: %s", strerror(errno));
        if (got != n || memcmp(reply, line, n) != 0)
            return fail("the reply (%zu bytes) differs from what was sent (%zu bytes)",
                        got, n);
    }
    if (ferror(stdin))
        return fail("reading standard input: %s", strerror(errno));
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    client c = {.timeout = 5.0, .fd = -1};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        }
        if ((m = cli_match(argc, argv, &i, "--proto", &v)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (strcmp(v, "tcp") != 0 && strcmp(v, "udp") != 0)
                return cli_usage_error(argv[0], "--proto: '%s' is not tcp or udp", v);
            c.udp = strcmp(v, "udp") == 0;
        } else if ((m = cli_match(argc, argv, &i, "--timeout", &v)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (!cli_parse_seconds(v, &c.timeout))
                return cli_usage_error(argv[0], "--timeout: '%s' is not a number of seconds", v);
        } else if ((m = cli_match(argc, argv, &i, "--tls", NULL)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            c.tls = true;
        } else if ((m = cli_match(argc, argv, &i, "--insecure", NULL)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            c.insecure = true;
        } else if ((m = cli_match(argc, argv, &i, "--cacert", &v)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            c.cacert = v;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage_error(argv[0], "unknown option '%s'", argv[i]);
        } else if (c.addr_text) {
            return cli_usage_error(argv[0], "unexpected argument '%s'", argv[i]);
        } else {
            c.addr_text = argv[i];
        }
    }
    if (!c.addr_text)
        return cli_usage_error(argv[0], "missing ADDR");
    if ((c.insecure || c.cacert) && !c.tls)
        return cli_usage_error(argv[0], "--insecure and --cacert need --tls");
    if (c.tls && c.udp)
        return cli_usage_error(argv[0], "--tls needs --proto tcp");

    ss_addr addr;
    ss_error err;
    ss_error_clear(&err);
    if (ss_addr_parse(&addr, c.addr_text, &err) < 0)
        return cli_usage_error(argv[0], "%s", err.msg);

    int rc = open_connection(&c, &addr);
    if (rc == 0)
        rc = run(&c);
    cleanup(&c);
    return rc;
}
