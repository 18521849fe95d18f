/* tests/fuzz/fuzz_ftpd_session.c - a whole sockserv-ftpd control session:
 * the input is everything a client sends on the control connection.  The
 * session runs as the server runs it (ss_handler_run with ftpd_session_class,
 * so the line reader, prelogin.c, postlogin.c and commands.c all see it),
 * over a socketpair, for a user whose home is a fresh temporary directory.
 * The password of user "fuzz" is "pw", so "USER fuzz\r\nPASS pw\r\n" logs in
 * and the rest of the input runs after login.  Data connections go nowhere:
 * PASV/EPSV listeners wait data_timeout (a few ms) for a client that never
 * comes, and PORT/EPRT connections are refused or fail. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sockserv/sockserv.h>

#include "store/passwd.h"
#include "protocol/session.h"

static ftpd_ctx ctx;
static ss_server server;
static char home[256];
/* FUZZ_ECHO=1 in the environment: the replies go to stderr (for a look at
 * what a corpus file does). */
static bool echo_replies;

static int setup_once(void)
{
    char dir[] = "/tmp/fuzz-ftpd-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    /* New hashes cheap (scrypt N=2^10): a login must not cost 100 ms. */
    setenv("SOCKSERV_FTPD_TEST_FAST_KDF", "1", 1);
    char hash[FTPD_PASSWD_HASH_MAX], users[512], err[512];
    if (ftpd_passwd_hash("pw", 2, hash, sizeof hash) < 0)
        return -1;
    snprintf(home, sizeof home, "%s/home", dir);
    snprintf(users, sizeof users, "%s/users", dir);
    FILE *f = fopen(users, "w");
    if (!f)
        return -1;
    fprintf(f, "fuzz:%s:%s:1M\nslow:%s:%s:1M:1K:1K\n", hash, home, hash, home);
    fclose(f);

    ftpd_config *c = &ctx.cfg;
    ftpd_config_defaults(c);
    snprintf(c->data_dir, sizeof c->data_dir, "%s", dir);
    snprintf(c->users_file, sizeof c->users_file, "%s", users);
    snprintf(c->log_file, sizeof c->log_file, "/dev/null");
    c->tls = false;
    c->data_timeout = 0.005;   /* a data connection never comes: do not wait */
    c->idle_timeout = 5;       /* the input ends with EOF: never reached */
    c->line_timeout = 5;
    c->login_fail_delay = 0;   /* failures cost no sleep... */
    c->login_fail_delay_max = 0;
    c->ban_after_failures = 0; /* ...and no ban outlives one input */
    c->max_login_failures = 1000;
    c->max_sessions_per_user = 0;
    if (ftpd_config_finish(c, err, sizeof err) < 0 ||
        ftpd_log_open(&ctx.log, c->log_file, c->xferlog_file, err, sizeof err) < 0)
        return -1;
    ctx.main_pid = getpid();
    pthread_mutex_init(&ctx.lock, NULL);
    int p[2];
    if (pipe(p) < 0)
        return -1;
    ctx.stop_rd = p[0];
    ctx.stop_wr = p[1];
    ctx.limits = ftpd_connlimit_create(c->max_sessions, 0);
    ctx.counters = ftpd_counters_create();
    if (!ctx.limits || !ctx.counters ||
        ftpd_store_open(c, &ctx.store, err, sizeof err) < 0 ||
        ftpd_rate_table_create(&ctx.rate, 4) < 0)
        return -1;

    /* A unix listener (never bound): a socketpair takes no TCP options. */
    ss_addr addr;
    ss_error e;
    char sock[300];
    snprintf(sock, sizeof sock, "unix:%s/ctl", dir);
    ss_error_clear(&e);
    if (ss_addr_parse(&addr, sock, &e) < 0 ||
        ss_server_init(&server, &ss_unix_stream_server_class, &addr,
                       &ftpd_session_class, 0, &e) < 0)
        return -1;
    server.data = &ctx;
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    echo_replies = getenv("FUZZ_ECHO") != NULL;
    if (setup_once() < 0) {
        fprintf(stderr, "fuzz_ftpd_session: setup failed: %s\n", strerror(errno));
        abort();
    }
    return 0;
}

/* The client: writes the input, half-closes, reads every reply to EOF. */
typedef struct client {
    int fd;
    const uint8_t *data;
    size_t len;
} client;

static void *client_run(void *arg)
{
    client *cl = arg;
    size_t off = 0;
    bool writing = true;
    char sink[16384];
    if (cl->len == 0) {
        shutdown(cl->fd, SHUT_WR);
        writing = false;
    }
    for (;;) {
        struct pollfd p = {cl->fd, POLLIN | (writing ? POLLOUT : 0), 0};
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            break;
        if (writing && (p.revents & (POLLOUT | POLLERR))) {
            ssize_t n = send(cl->fd, cl->data + off, cl->len - off,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                off += (size_t)n;
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                off = cl->len; /* the server is gone */
            if (off == cl->len) {
                shutdown(cl->fd, SHUT_WR);
                writing = false;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(cl->fd, sink, sizeof sink, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                break;
            if (n > 0 && echo_replies && write(2, sink, (size_t)n) < 0)
                echo_replies = false;
        }
    }
    return NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Every input starts from the same empty home. */
    nftw(home, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    mkdir(home, 0700);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 0;
    client cl = {.fd = sv[1], .data = data, .len = size};
    pthread_t th;
    if (pthread_create(&th, NULL, client_run, &cl) != 0) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    ss_addr peer;
    ss_error e;
    ss_error_clear(&e);
    ss_addr_parse(&peer, "127.0.0.1:40000", &e);
    ss_request req = {.fd = sv[0]};
    int rc = ftpd_connlimit_acquire(ctx.limits, &peer);
    if (rc == FTPD_CL_OK &&
        ss_handler_run(&server, &ftpd_session_class, &req, &peer, &e) < 0 &&
        echo_replies)
        fprintf(stderr, "session: %s\n", e.msg);
    else if (rc != FTPD_CL_OK && echo_replies)
        fprintf(stderr, "session refused: %d\n", rc);
    close(sv[0]); /* the client thread sees EOF and ends */
    pthread_join(th, NULL);
    close(sv[1]);
    return 0;
}
