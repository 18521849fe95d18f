/* examples/ssh/ssh-demo.c - the remote-shell demo's client.
 *
 *   ssh-demo ADDR -c COMMAND   runs one command; stdin goes to it
 *   ssh-demo ADDR              a prompt when stdin is a terminal (each
 *                              command gets what is typed while it runs);
 *                              otherwise one command per stdin line, each
 *                              with an empty stdin, so it can be scripted
 *
 * The exit status is the remote command's (the last one's), 255 after a
 * connection or protocol error.  Ctrl-C sends a SIGNAL frame.
 *
 * The socket is non-blocking and everything goes through one poll() loop:
 * the client never blocks on a send while the server may be blocked
 * sending to it (a command echoing a big stdin back would deadlock both
 * otherwise).  Incoming bytes are cut into frames by the header's length
 * alone.  SIGINT is read from a signalfd in that loop, never handled in a
 * signal handler.
 *
 * With --tls the connection is TLS (libsockserv's ss_tls_connect: the
 * certificate chain and the host name are checked unless --insecure).  The
 * handshake runs blocking, bounded in time, before the socket goes
 * non-blocking; then the same loop runs over the TLS transport, with two
 * differences poll() alone would get wrong: OpenSSL may hold decrypted bytes
 * the socket no longer shows (ss_tls_conn_pending), and a read may have to
 * write (or a write read) before it can go on, so the loop waits for what
 * OpenSSL wants, not for what the caller meant to do.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sockserv/address.h>
#include <sockserv/tls.h>

#include "frame.h"
#include "token.h"

#define EXIT_FAILED 255
#define EXIT_USAGE 2
/* Frames waiting to be sent: room for two whole ones, and for a SIGNAL
 * even then. */
#define OUT_CAP (2 * (SSH_FRAME_HEADER + SSH_FRAME_MAX) + 64)
#define IN_CAP (SSH_FRAME_HEADER + SSH_FRAME_MAX)
/* The longest command line read from stdin. */
#define LINE_CAP (SSH_FRAME_MAX + 1)

static const char usage[] =
    "usage: ssh-demo ADDR [-c COMMAND] [--token-file F]\n"
    "                [--tls [--insecure] [--cacert FILE]]\n"
    "\n"
    "  ADDR             HOST:PORT, [IPV6]:PORT or unix:PATH\n"
    "  -c COMMAND       run COMMAND, with this program's stdin as its stdin\n"
    "  --token-file F   the token the server asks for (first line of F);\n"
    "                   default: $SSH_DEMO_TOKEN\n"
    "  --tls            speak TLS (ssh-demo-server --tls-cert); the server's\n"
    "                   certificate must chain to a trusted CA and name the\n"
    "                   host in ADDR\n"
    "  --cacert FILE    trust the CA certificates in FILE (PEM) instead of\n"
    "                   the system's\n"
    "  --insecure       do not verify the server's certificate at all\n"
    "\n"
    "Without -c: a prompt when stdin is a terminal, else one command per\n"
    "line of stdin.  cd, pwd, export NAME=VALUE and exit act on the session.\n"
    "Exit status: the (last) remote command's; 255 on connection or\n"
    "protocol errors.\n";

typedef struct client {
    int fd;
    ss_tls_conn *tls; /* NULL: plaintext */
    /* What the last TLS read or write needs before it can go on: OpenSSL
     * may have to send while reading (a key update) or the reverse. */
    bool read_wants_write, write_wants_read;
    bool ready; /* READY received */
    int sigfd;
    uint8_t out[OUT_CAP]; /* encoded frames not yet sent */
    size_t out_len;
    uint8_t in[IN_CAP]; /* received bytes not yet cut into frames */
    size_t in_len;
    bool running; /* a command runs: Ctrl-C goes to it */
    bool interactive;
} client;

typedef struct line_reader {
    char buf[LINE_CAP];
    size_t len;
    bool eof;
} line_reader;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ssh-demo: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            /* An inherited non-blocking stdout: wait, do not drop. */
            struct pollfd pf = {fd, POLLOUT, 0};
            poll(&pf, 1, -1);
            continue;
        }
        if (w < 0)
            return -errno;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Queues one frame.  The caller checks for room first. */
static void queue_frame(client *c, uint8_t type, const void *p, size_t n)
{
    ssh_frame_encode_header(c->out + c->out_len, type, n);
    if (n)
        memcpy(c->out + c->out_len + SSH_FRAME_HEADER, p, n);
    c->out_len += SSH_FRAME_HEADER + n;
}

static bool room_for(const client *c, size_t payload)
{
    return c->out_len + SSH_FRAME_HEADER + payload <= OUT_CAP;
}

/* One send or receive on the connection, plain or TLS: a count (0: EOF),
 * -EAGAIN when it must wait, or another negative code (ss_strerror). */
static ssize_t net_send(client *c, const void *p, size_t n)
{
    if (c->tls) {
        ssize_t r = c->tls->base.send(&c->tls->base, p, n);
        c->write_wants_read =
            r == -EAGAIN && (ss_tls_conn_wants(c->tls) & POLLIN);
        return r;
    }
    for (;;) {
        ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

static ssize_t net_recv(client *c, void *p, size_t n)
{
    if (c->tls) {
        ssize_t r = c->tls->base.recv(&c->tls->base, p, n);
        c->read_wants_write =
            r == -EAGAIN && (ss_tls_conn_wants(c->tls) & POLLOUT);
        return r;
    }
    for (;;) {
        ssize_t r = recv(c->fd, p, n, 0);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

/* The events to wait for on the socket: incoming frames always, room to
 * send while frames are queued; under TLS, whatever OpenSSL last said it
 * needs to finish a read or a write. */
static short sock_events(const client *c)
{
    short ev = c->read_wants_write ? POLLOUT : POLLIN;
    if (c->out_len)
        ev |= c->write_wants_read ? POLLIN : POLLOUT;
    return ev;
}

/* Bytes TLS has decrypted and the socket no longer shows. */
static bool tls_pending(const client *c)
{
    return c->tls && ss_tls_conn_pending(c->tls) > 0;
}

/* Sends what the socket takes now.  0 or -1 (message printed). */
static int flush_some(client *c)
{
    while (c->out_len > 0) {
        ssize_t n = net_send(c, c->out, c->out_len);
        if (n == -EAGAIN)
            return 0;
        if (n < 0) {
            say("sending: %s", ss_strerror((int)n));
            return -1;
        }
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
    }
    return 0;
}

/* What one incoming frame means for the command loop. */
enum { GO_ON = 0, DONE = 1 };

/* Handles one whole frame.  GO_ON, DONE (EXIT: *status set), or -1. */
static int on_frame(client *c, const ssh_frame_header *h, const uint8_t *p,
                    int *status)
{
    switch (h->type) {
    case SSH_STDOUT:
    case SSH_STDERR:
        if (write_all(h->type == SSH_STDOUT ? 1 : 2, p, h->length) < 0) {
            say("writing output: %s", strerror(errno));
            return -1;
        }
        return GO_ON;
    case SSH_EXIT:
        if ((*status = ssh_frame_decode_status(p, h->length)) < 0) {
            say("protocol error: bad EXIT status");
            return -1;
        }
        return DONE;
    case SSH_ERROR:
        say("server: %.*s", (int)h->length, (const char *)p);
        return -1;
    case SSH_READY:
        if (!c->running && !c->ready) {
            c->ready = true;
            return DONE;
        }
        /* fall through */
    default:
        say("protocol error: unexpected %s frame from the server",
            ssh_frame_type_name(h->type));
        return -1;
    }
}

/* Reads what the socket has and handles every whole frame in it.  GO_ON,
 * DONE or -1. */
static int receive(client *c, int *status)
{
    ssize_t n = net_recv(c, c->in + c->in_len, IN_CAP - c->in_len);
    if (n == -EAGAIN)
        return GO_ON;
    if (n < 0) {
        say("receiving: %s", ss_strerror((int)n));
        return -1;
    }
    if (n == 0) {
        if (!c->ready && !c->tls)
            /* A TLS server drops a plaintext client without a word. */
            say("connection closed by the server before it was ready "
                "(if it speaks TLS, use --tls)");
        else
            say("connection closed by the server");
        return -1;
    }
    c->in_len += (size_t)n;
    /* A plaintext client at a TLS server gets a TLS alert (content type
     * 21, version 3.x) where it expects READY: say what it is. */
    if (!c->tls && !c->ready && c->in_len >= 2 && c->in[1] == 3 &&
        (c->in[0] == 21 || c->in[0] == 22)) {
        say("the server answered with TLS, not ssh-demo frames: it needs "
            "--tls");
        return -1;
    }
    size_t at = 0;
    int rc = GO_ON;
    while (rc == GO_ON && c->in_len - at >= SSH_FRAME_HEADER) {
        ssh_frame_header h;
        int e = ssh_frame_decode_header(c->in + at, &h);
        if (e < 0) {
            say("protocol error: %s frame (type 0x%02x) of %u bytes refused",
                ssh_frame_type_name(h.type), h.type, (unsigned)h.length);
            return -1;
        }
        if (c->in_len - at < SSH_FRAME_HEADER + h.length)
            break; /* the rest of this frame is still on its way */
        rc = on_frame(c, &h, c->in + at + SSH_FRAME_HEADER, status);
        at += SSH_FRAME_HEADER + h.length;
    }
    /* Bytes after an EXIT belong to no command; the server sends none. */
    memmove(c->in, c->in + at, c->in_len - at);
    c->in_len -= at;
    return rc;
}

/* Runs the loop until the server answers with EXIT (or READY before the
 * first command).  forward: copy stdin to the command.  Returns the status
 * or -1. */
static int exchange(client *c, bool forward)
{
    bool stdin_open = forward;
    for (;;) {
        struct pollfd pf[3] = {
            {c->fd, sock_events(c), 0},
            {c->sigfd, POLLIN, 0},
            {stdin_open && room_for(c, SSH_FRAME_MAX) ? 0 : -1, POLLIN, 0},
        };
        /* Decrypted bytes waiting: look, do not sleep. */
        bool pending = tls_pending(c);
        if (poll(pf, 3, pending ? 0 : -1) < 0) {
            if (errno == EINTR)
                continue;
            say("poll: %s", strerror(errno));
            return -1;
        }
        if (pf[1].revents) {
            struct signalfd_siginfo si;
            if (read(c->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (!c->running) {
                    say("interrupted");
                    exit(128 + SIGINT);
                }
                if (room_for(c, 3))
                    queue_frame(c, SSH_SIGNAL, "INT", 3);
            }
        }
        if (pf[2].revents) {
            uint8_t buf[SSH_FRAME_MAX];
            ssize_t n = read(0, buf, sizeof buf);
            if (n > 0) {
                queue_frame(c, SSH_STDIN, buf, (size_t)n);
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                queue_frame(c, SSH_STDIN_EOF, NULL, 0);
                stdin_open = false;
            }
        }
        if (c->out_len && flush_some(c) < 0)
            return -1;
        /* Any event on the socket may let a read go on: data, EOF, an
         * error, or (TLS) the room a read that must write was waiting for. */
        if (pending || pf[0].revents) {
            int status = 0;
            int rc = receive(c, &status);
            if (rc < 0)
                return -1;
            if (rc == DONE)
                return status;
        }
    }
}

/* Queues RUN (and STDIN_EOF when the command gets no stdin), then relays
 * until EXIT.  The status or -1. */
static int run(client *c, const char *cmd, bool forward_stdin)
{
    size_t len = strlen(cmd);
    if (len > SSH_FRAME_MAX) {
        say("command longer than %u bytes", SSH_FRAME_MAX);
        return -1;
    }
    /* Stdin frames the last command did not take may still be queued. */
    while (!room_for(c, len + SSH_FRAME_HEADER)) {
        struct pollfd pf = {c->fd, c->write_wants_read ? POLLIN : POLLOUT, 0};
        if (poll(&pf, 1, -1) < 0 && errno != EINTR)
            return -1;
        if (flush_some(c) < 0)
            return -1;
    }
    queue_frame(c, SSH_RUN, cmd, len);
    if (!forward_stdin)
        queue_frame(c, SSH_STDIN_EOF, NULL, 0);
    c->running = true;
    int st = exchange(c, forward_stdin);
    c->running = false;
    return st;
}

/* Reads the next line of stdin (without its '\n') into *line.  Returns 1,
 * 0 at EOF, or -1.  Ctrl-C at the prompt starts a fresh one. */
static int next_line(client *c, line_reader *lr, char **line,
                     const char *prompt)
{
    static size_t consumed;
    /* Drop the line handed out last time. */
    memmove(lr->buf, lr->buf + consumed, lr->len - consumed);
    lr->len -= consumed;
    consumed = 0;
    if (prompt) {
        fputs(prompt, stdout);
        fflush(stdout);
    }
    for (;;) {
        char *nl = memchr(lr->buf, '\n', lr->len);
        if (nl || (lr->eof && lr->len)) {
            size_t n = nl ? (size_t)(nl - lr->buf) : lr->len;
            lr->buf[n] = '\0'; /* there is room: LINE_CAP > SSH_FRAME_MAX */
            consumed = nl ? n + 1 : n;
            *line = lr->buf;
            return 1;
        }
        if (lr->eof)
            return 0;
        if (lr->len == LINE_CAP - 1) {
            say("a command line is longer than %u bytes", SSH_FRAME_MAX);
            return -1;
        }
        struct pollfd pf[2] = {{0, POLLIN, 0}, {c->sigfd, POLLIN, 0}};
        if (poll(pf, 2, -1) < 0 && errno != EINTR)
            return -1;
        if (pf[1].revents) {
            struct signalfd_siginfo si;
            if (read(c->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (!c->interactive) {
                    say("interrupted");
                    exit(128 + SIGINT);
                }
                lr->len = 0;
                fputs("\n", stdout);
                if (prompt)
                    fputs(prompt, stdout);
                fflush(stdout);
            }
        }
        if (pf[0].revents) {
            ssize_t n = read(0, lr->buf + lr->len, LINE_CAP - 1 - lr->len);
            if (n > 0)
                lr->len += (size_t)n;
            else if (n == 0 || (errno != EINTR && errno != EAGAIN))
                lr->eof = true;
        }
    }
}

static bool is_exit(const char *line)
{
    line += strspn(line, " \t");
    return strncmp(line, "exit", 4) == 0 &&
           (line[4] == '\0' || line[4] == ' ' || line[4] == '\t');
}

/* The name the server's certificate must carry: ADDR's host ("::1" for
 * "[::1]:8022"), "localhost" for a unix socket. */
static void host_of(const char *text, const ss_addr *addr, char *buf,
                    size_t cap)
{
    if (ss_addr_family(addr) == AF_UNIX) {
        snprintf(buf, cap, "localhost");
        return;
    }
    const char *colon = strrchr(text, ':');
    size_t n = colon ? (size_t)(colon - text) : strlen(text);
    if (n >= 2 && text[0] == '[' && text[n - 1] == ']') {
        text++;
        n -= 2;
    }
    snprintf(buf, cap, "%.*s", (int)n, text);
}

typedef struct tls_opts {
    bool on, insecure;
    const char *cacert;
} tls_opts;

/* Handshakes on the (still blocking) socket; the context and connection
 * live as long as the program.  0 or -1 (message printed). */
static int start_tls(client *c, const char *text, const ss_addr *addr,
                     const tls_opts *t)
{
    static ss_tls_context ctx;
    static ss_tls_conn conn; /* must not move while open: static */
    ss_error err;
    ss_error_clear(&err);
    ss_tls_options o = {.ca_file = t->cacert, .insecure = t->insecure};
    if (ss_tls_context_init(&ctx, &o, &err) < 0) {
        say("--cacert: %s", err.msg);
        return -1;
    }
    char host[256];
    host_of(text, addr, host, sizeof host);
    if (ss_tls_connect(&conn, &ctx, c->fd, host, NULL, &err) < 0) {
        if (strstr(err.msg, "certificate verify failed"))
            say("%s (trust its CA with --cacert FILE, or skip the check "
                "with --insecure)", err.msg);
        else
            say("%s", err.msg);
        ss_tls_context_close(&ctx);
        return -1;
    }
    c->tls = &conn;
    return 0;
}

/* Bounds on the wait for the server's close: it closes as soon as it
 * reads our close_notify (or after EXIT on its own), so this only matters
 * for a server that hangs. */
#define END_WAIT_S 1.0
#define END_DRAIN_MAX (64 * 1024)

/* Sends close_notify, so the server can tell a goodbye from a cut, and
 * waits (bounded) for the server to close too: closing with bytes of the
 * server's unread in our socket would reset the connection, and a reset can
 * cost the server the last frames we sent. */
static void end_tls(client *c)
{
    if (c->tls) {
        ss_tls_conn_finish(c->tls, END_WAIT_S, END_DRAIN_MAX);
        ss_tls_context *ctx = c->tls->ctx;
        ss_tls_conn_close(c->tls);
        ss_tls_context_close(ctx);
        c->tls = NULL;
    }
}

static int connect_to(client *c, const char *text, const tls_opts *t)
{
    ss_addr addr;
    ss_error err;
    if (ss_addr_parse(&addr, text, &err) < 0) {
        say("%s", err.msg);
        return -1;
    }
    int fd = socket(addr.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        say("socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&addr.sa, addr.len) < 0) {
        say("connect %s: %s", text, strerror(errno));
        close(fd);
        return -1;
    }
    if (addr.sa.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    c->fd = fd;
    if (t->on && start_tls(c, text, &addr, t) < 0) {
        close(fd);
        return -1;
    }
    /* From here the transport sees -EAGAIN: it reads the flag live. */
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return 0;
}

/* The exit status, after a polite TLS goodbye. */
static int finish(client *c, int status)
{
    end_tls(c);
    return status;
}

int main(int argc, char **argv)
{
    const char *addr = NULL, *command = NULL, *token_file = NULL;
    tls_opts tls = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(a, "-c") == 0 || strcmp(a, "--token-file") == 0 ||
            strcmp(a, "--cacert") == 0) {
            if (i + 1 >= argc) {
                say("%s needs a value", a);
                return EXIT_USAGE;
            }
            *(a[1] == 'c'   ? &command
              : a[2] == 'c' ? &tls.cacert
                            : &token_file) = argv[++i];
        } else if (strncmp(a, "--token-file=", 13) == 0) {
            token_file = a + 13;
        } else if (strncmp(a, "--cacert=", 9) == 0) {
            tls.cacert = a + 9;
        } else if (strcmp(a, "--tls") == 0) {
            tls.on = true;
        } else if (strcmp(a, "--insecure") == 0) {
            tls.insecure = true;
        } else if (a[0] == '-' || addr) {
            say("unexpected argument '%s' (see ssh-demo --help)", a);
            return EXIT_USAGE;
        } else {
            addr = a;
        }
    }
    if (!addr) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    if ((tls.insecure || tls.cacert) && !tls.on) {
        say("--insecure and --cacert need --tls");
        return EXIT_USAGE;
    }

    static char token[SSH_TOKEN_MAX + 1];
    size_t token_len = 0;
    if (token_file) {
        char msg[512];
        long n = ssh_token_read_file(token_file, token, sizeof token, msg,
                                     sizeof msg);
        if (n < 0) {
            say("--token-file: %s", msg);
            return EXIT_FAILED;
        }
        token_len = (size_t)n;
    } else if (getenv("SSH_DEMO_TOKEN")) {
        token_len = strlen(getenv("SSH_DEMO_TOKEN"));
        if (token_len > SSH_TOKEN_MAX) {
            say("SSH_DEMO_TOKEN is longer than %d bytes", SSH_TOKEN_MAX);
            return EXIT_FAILED;
        }
        memcpy(token, getenv("SSH_DEMO_TOKEN"), token_len);
    }

    /* Ctrl-C becomes a SIGNAL frame: read from a signalfd in the loop. */
    static client c;
    sigset_t intr;
    sigemptyset(&intr);
    sigaddset(&intr, SIGINT);
    sigprocmask(SIG_BLOCK, &intr, NULL);
    c.sigfd = signalfd(-1, &intr, SFD_CLOEXEC | SFD_NONBLOCK);
    if (c.sigfd < 0) {
        say("signalfd: %s", strerror(errno));
        return EXIT_FAILED;
    }
    c.interactive = !command && isatty(0);

    if (connect_to(&c, addr, &tls) < 0)
        return EXIT_FAILED;
    uint8_t hello[1 + SSH_TOKEN_MAX];
    hello[0] = SSH_PROTO_VERSION;
    memcpy(hello + 1, token, token_len);
    queue_frame(&c, SSH_HELLO, hello, 1 + token_len);
    if (exchange(&c, false) < 0) /* until READY */
        return finish(&c, EXIT_FAILED);

    if (command) {
        int st = run(&c, command, true);
        return finish(&c, st < 0 ? EXIT_FAILED : st);
    }
    static line_reader lr;
    char prompt[SS_ADDRSTRLEN + 16];
    snprintf(prompt, sizeof prompt, "%s$ ", addr);
    int last = 0;
    for (;;) {
        char *line;
        int rc = next_line(&c, &lr, &line, c.interactive ? prompt : NULL);
        if (rc < 0)
            return finish(&c, EXIT_FAILED);
        if (rc == 0) {
            if (c.interactive)
                fputs("\n", stdout);
            return finish(&c, last);
        }
        if (line[strspn(line, " \t\r")] == '\0')
            continue;
        int st = run(&c, line, c.interactive);
        if (st < 0)
            return finish(&c, EXIT_FAILED);
        if (c.interactive && st == 128 + SIGINT)
            fputs("\n", stdout); /* after the ^C the terminal echoed */
        last = st;
        if (is_exit(line))
            return finish(&c, last);
    }
}
