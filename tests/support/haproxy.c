/* tests/support/haproxy.c - see haproxy.h. */
#include "haproxy.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* A port nobody listens on now.  HAProxy binds it a moment later; if
 * another process took it meanwhile HAProxy exits and we try again. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    int rc = bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
                     getsockname(fd, (struct sockaddr *)&sin, &len) == 0
                 ? ntohs(sin.sin_port)
                 : -errno;
    close(fd);
    return rc;
}

/* True when /proc/net/tcp shows a socket listening on 127.0.0.1:port. */
static bool listening(int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    if (!f)
        return false;
    char line[512], want[32];
    snprintf(want, sizeof want, "0100007F:%04X", port);
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        char local[64], remote[64];
        unsigned state;
        if (sscanf(line, " %*s %63s %63s %x", local, remote, &state) == 3 &&
            state == 0x0A && strcmp(local, want) == 0)
            found = true;
    }
    fclose(f);
    return found;
}

static bool admin_answers(const ts_haproxy *h);

static int start_once(ts_haproxy *h, const char *backend, int port)
{
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/haproxy.cfg", h->dir);
    FILE *f = fopen(cfg, "w");
    if (!f)
        return -errno;
    fprintf(f,
            "global\n"
            "    maxconn 256\n"
            /* Without it a second HAProxy could bind the same port (Linux
             * SO_REUSEPORT) and take some of another test's clients; with
             * it that one fails to start and the caller tries another. */
            "    noreuseport\n"
            "    stats socket %s/admin.sock level admin\n"
            "defaults\n"
            "    mode tcp\n"
            "    timeout connect 5s\n"
            "    timeout client 60s\n"
            "    timeout server 60s\n"
            "frontend fe\n"
            "    bind 127.0.0.1:%d\n"
            "    default_backend be\n"
            "backend be\n"
            "%s",
            h->dir, port, backend);
    fclose(f);
    char *argv[] = {TS_HAPROXY, "-db", "-f", cfg, NULL};
    int rc = ts_spawn(&h->proc, argv, NULL, -1, true);
    if (rc < 0)
        return rc;
    double deadline = ts_now() + 10.0;
    /* The port listening may be someone else's: ours is up when it also
     * answers on its own admin socket. */
    while (!listening(port) || !admin_answers(h)) {
        int st;
        if (waitpid(h->proc.pid, &st, WNOHANG) == h->proc.pid) {
            h->proc.status = st;
            ts_stop(&h->proc, 0, 1.0); /* reads its output, closes pipes */
            return -ECHILD;
        }
        if (ts_now() > deadline) {
            ts_stop(&h->proc, SIGKILL, 5.0);
            return -ETIMEDOUT;
        }
        poll(NULL, 0, 10);
    }
    ss_error err;
    char text[32];
    snprintf(text, sizeof text, "127.0.0.1:%d", port);
    return ss_addr_parse(&h->front, text, &err);
}

int ts_haproxy_start(ts_haproxy *h, const char *server)
{
    char backend[1024];
    snprintf(backend, sizeof backend, "    server s1 %s\n", server);
    return ts_haproxy_start_backend(h, backend);
}

int ts_haproxy_start_backend(ts_haproxy *h, const char *backend)
{
    memset(h, 0, sizeof *h);
    h->proc.pid = -1;
    if (access(TS_HAPROXY, X_OK) != 0)
        return -ENOENT;
    ts_mkdtemp("haproxy", h->dir, sizeof h->dir);
    int rc = -EADDRINUSE;
    for (int attempt = 0; attempt < 3; attempt++) {
        int port = free_port();
        if (port < 0)
            return port;
        rc = start_once(h, backend, port);
        if (rc != -ECHILD)
            break;
    }
    return rc;
}

/* Field i (0-based) of a CSV line, copied into out. */
static bool csv_field(const char *line, int i, char *out, size_t cap)
{
    for (; i > 0; i--) {
        line = strchr(line, ',');
        if (!line)
            return false;
        line++;
    }
    size_t n = strcspn(line, ",\n");
    snprintf(out, cap, "%.*s", (int)n, line);
    return true;
}

/* Sends cmd on the admin socket; returns the connected fd to read the
 * answer from, or a negative code. */
static int admin_send(const ts_haproxy *h, const char *cmd)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int n = snprintf(sun.sun_path, sizeof sun.sun_path, "%s/admin.sock",
                     h->dir);
    if (n < 0 || (size_t)n >= sizeof sun.sun_path)
        return -ENAMETOOLONG;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0 ||
        ts_write_full(fd, cmd, strlen(cmd)) < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

/* True once this HAProxy answers on its admin socket: it has bound all
 * its listeners by then (a frontend port someone else holds makes it
 * exit instead). */
static bool admin_answers(const ts_haproxy *h)
{
    int fd = admin_send(h, "show info\n");
    if (fd < 0)
        return false;
    char line[512];
    bool ok = ts_read_line(fd, line, sizeof line) > 0;
    close(fd);
    return ok;
}

int ts_haproxy_server_status(ts_haproxy *h, const char *name, char *out,
                             size_t cap)
{
    int fd = admin_send(h, "show stat\n");
    if (fd < 0)
        return fd;
    int rc = -ENOENT;
    /* One line per proxy and server: "be,NAME,...", the status is the
     * 18th field ("# pxname,svname,...,status" in the header line). */
    char line[4096];
    ssize_t len;
    while ((len = ts_read_line(fd, line, sizeof line)) > 0) {
        char px[64], sv[64];
        if (csv_field(line, 0, px, sizeof px) && strcmp(px, "be") == 0 &&
            csv_field(line, 1, sv, sizeof sv) && strcmp(sv, name) == 0 &&
            csv_field(line, 17, out, cap)) {
            rc = 0;
            break;
        }
    }
    close(fd);
    return rc;
}

bool ts_haproxy_wait_status(ts_haproxy *h, const char *name, const char *want,
                            double timeout_s, char *last, size_t cap)
{
    double deadline = ts_now() + timeout_s;
    snprintf(last, cap, "?");
    for (;;) {
        if (ts_haproxy_server_status(h, name, last, cap) == 0 &&
            strncmp(last, want, strlen(want)) == 0)
            return true;
        if (ts_now() > deadline)
            return false;
        poll(NULL, 0, 50);
    }
}

void ts_haproxy_stop(ts_haproxy *h)
{
    if (h->proc.pid > 0)
        ts_stop(&h->proc, SIGTERM, 10.0);
    if (h->dir[0])
        ts_rmtree(h->dir);
    h->dir[0] = '\0';
}
