/* tests/ftpd/test_hardening.c - abuse sockserv-ftpd must survive: a replay
 * of hundreds of malformed and hostile command lines (hostile_lines.py),
 * password guessing (growing delays, bans, same timing for real and
 * missing users), session and passive-listener limits, slow loris, idle
 * and handshake timeouts, PORT bounce attempts, a 100,000-entry LIST, and
 * run_as dropping root.  (Passive connections from another host are
 * refused in test_security.c; PORT/EPRT forms in test_transfer.c.) */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sockserv/tls.h>

#include "ftx.h"

static ftx_server srv;

static void setup_base(void)
{
    ftx_init(&srv, "ftpd-hard");
    ftx_add_user(&srv, "alice", "s3cret", "100M");
    ftx_add_user(&srv, "bob", "bobpw", "100M");
}

static void teardown(void) { ftx_stop(&srv, true); }

TestSuite(hardening, .init = setup_base, .fini = teardown, .timeout = 240);

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* --- the replay of hostile lines --------------------------------------- */

static char skip_prefix[1024];
static uint64_t tree_sum;
static unsigned long tree_count;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int sum_entry(const char *path, const struct stat *st, int flag,
                     struct FTW *f)
{
    (void)f;
    (void)flag;
    size_t sl = strlen(skip_prefix);
    if (!strncmp(path, skip_prefix, sl) && (path[sl] == '\0' || path[sl] == '/'))
        return 0;
    uint64_t h = fnv(1469598103934665603ull, path, strlen(path));
    h = fnv(h, &st->st_mode, sizeof st->st_mode);
    h = fnv(h, &st->st_size, sizeof st->st_size);
    h = fnv(h, &st->st_mtim, sizeof st->st_mtim);
    h = fnv(h, &st->st_ino, sizeof st->st_ino);
    if (S_ISREG(st->st_mode)) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        char buf[8192];
        ssize_t n;
        while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0)
            h = fnv(h, buf, (size_t)n);
        if (fd >= 0)
            close(fd);
    } else if (S_ISLNK(st->st_mode)) {
        char buf[1024];
        ssize_t n = readlink(path, buf, sizeof buf);
        if (n > 0)
            h = fnv(h, buf, (size_t)n);
    }
    tree_sum += h; /* order does not matter */
    tree_count++;
    return 0;
}

/* A checksum of everything under the temp root except alice's home. */
static uint64_t outside_sum(unsigned long *count)
{
    snprintf(skip_prefix, sizeof skip_prefix, "%s",
             ftx_home_path(&srv, "alice", NULL));
    tree_sum = 0;
    tree_count = 0;
    cr_assert_eq(nftw(srv.dir, sum_entry, 32, FTW_PHYS), 0);
    *count = tree_count;
    return tree_sum;
}

static void reopen(ftc *c, bool login)
{
    ftc_close(c);
    ftc_open(c, &srv);
    if (login)
        ftc_login(c, "alice", "s3cret");
}

Test(hardening, hostile_lines_each_get_a_reply_and_nothing_outside_changes)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        cr_skip("python3 is not installed");
    /* Things to reach for outside the home, and a way that points there. */
    char outside[1024], p[1100];
    snprintf(outside, sizeof outside, "%s/outside", srv.dir);
    cr_assert_eq(mkdir(outside, 0755), 0);
    snprintf(p, sizeof p, "%s/secret.txt", outside);
    ftx_write_file(p, "TOP SECRET", 10);
    cr_assert_eq(symlink(outside, ftx_home_path(&srv, "alice", "escape")), 0);
    ftx_write_file(ftx_home_path(&srv, "bob", "bob.txt"), "bob's", 5);
    const char *extra[] = {"--set", "data_timeout=1", "--set",
                           "ban_after_failures=0", "--set",
                           "max_login_failures=3", NULL};
    ftx_start(&srv, extra);

    char file[1100];
    snprintf(file, sizeof file, "%s/hostile.txt", srv.dir);
    char *gen[] = {"/usr/bin/python3",
                   (char *)ts_source_path("tests/ftpd/hostile_lines.py"), file,
                   NULL};
    char o[256], e[4096];
    int st = ts_run(gen, NULL, 0, o, sizeof o, e, sizeof e, 60);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", e);
    size_t len;
    char *data = ftx_read_file(file, &len);
    unlink(file); /* not part of the tree compared below */

    unsigned long n0, n1;
    uint64_t before = outside_sum(&n0);

    ftc c = {.fd = -1};
    bool login = false;
    unsigned sent = 0, answered = 0;
    for (char *line = data; line < data + len;) {
        char *nl = memchr(line, '\n', (size_t)(data + len - line));
        cr_assert(nl);
        size_t n = (size_t)(nl - line);
        char *next = nl + 1;
        if (n >= 2 && !memcmp(line, "#!", 2)) {
            login = n == 7 && !memcmp(line, "#!login", 7);
            reopen(&c, login);
            line = next;
            continue;
        }
        if (c.fd < 0)
            reopen(&c, login);
        char *buf = malloc(n + 2);
        memcpy(buf, line, n);
        memcpy(buf + n, "\r\n", 2);
        ftc_send_raw(&c, buf, n + 2);
        free(buf);
        sent++;
        int code = ftc_reply(&c);
        while (code >= 100 && code < 200)
            code = ftc_reply(&c);
        cr_expect(code >= 200 && code < 600, "line %u (%.60s) got no reply",
                  sent, line);
        if (code >= 200 && code < 600)
            answered++;
        if (code == 221 || code == 421 || code < 0)
            ftc_close(&c);
        line = next;
    }
    ftc_close(&c);
    free(data);
    cr_expect_geq(sent, 200);
    cr_expect_eq(answered, sent);

    /* Still up and serving. */
    ftc_open(&c, &srv);
    ftc_login(&c, "bob", "bobpw");
    cr_expect_eq(ftc_cmd(&c, "NOOP"), 200);
    ftc_close(&c);
    cr_expect_eq(srv.proc.status, -1, "the server exited");
    uint64_t after = outside_sum(&n1);
    cr_expect_eq(n0, n1, "entries outside the home: %lu before, %lu after", n0,
                 n1);
    cr_expect_eq(before, after, "the tree outside the home changed");
}

/* --- password guessing ---------------------------------------------------- */

/* A control connection from src (127.0.0.2) to the server. */
static int connect_from(const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &a.sin_addr);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0, "bind %s", src);
    cr_assert_eq(connect(fd, (struct sockaddr *)&srv.addr.sa, srv.addr.len), 0);
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static double login_time(const char *user, const char *pw, int want)
{
    ftc c;
    ftc_open(&c, &srv);
    double t0 = ts_now();
    cr_expect_eq(ftc_cmd(&c, "USER %s", user), 331);
    int code = ftc_cmd(&c, "PASS %s", pw);
    double t = ts_now() - t0;
    cr_expect_eq(code, want, "%s: %s", user, c.reply);
    ftc_close(&c);
    return t;
}

Test(hardening, thirty_wrong_passwords_delay_then_ban_others_unaffected)
{
    const char *extra[] = {"--set", "login_fail_delay=0.05", "--set",
                           "login_fail_delay_max=3", "--set",
                           "ban_after_failures=8", "--set", "ban_time=4",
                           "--set", "max_login_failures=3", NULL};
    ftx_start(&srv, extra);
    ftc a = {.fd = -1};
    unsigned refused = 0, failed = 0;
    double slowest = 0;
    for (int i = 0; i < 30; i++) {
        if (a.fd < 0) {
            memset(&a, 0, sizeof a);
            a.addr = srv.addr;
            a.fd = connect_from("127.0.0.2");
            int code = ftc_reply(&a);
            if (code == 421) {
                cr_expect(strstr(a.reply, "failed logins"), "%s", a.reply);
                refused++;
                ftc_close(&a);
                continue;
            }
            cr_assert_eq(code, 220, "%s", a.reply);
        }
        cr_assert_eq(ftc_cmd(&a, "USER alice"), 331);
        double t0 = ts_now();
        char line[64];
        int n = snprintf(line, sizeof line, "PASS wrong-%d\r\n", i);
        ftc_send_raw(&a, line, (size_t)n);
        double other = -1;
        if (failed >= 6) {
            /* The attacker now waits seconds; another client meanwhile
             * logs in and works as usual. */
            other = login_time("bob", "bobpw", 230);
        }
        int code = ftc_reply(&a);
        double took = ts_now() - t0;
        cr_assert(code == 530 || code == 421, "%d %s", code, a.reply);
        failed++;
        if (took > slowest)
            slowest = took;
        if (other >= 0)
            cr_expect(other < took - 1.0, "bob took %.2f s while the attacker "
                      "waited %.2f s", other, took);
        if (code == 421)
            ftc_close(&a);
    }
    ftc_close(&a);
    cr_expect_eq(failed, 8, "failures before the ban: %u", failed);
    cr_expect_eq(refused, 30 - failed);
    cr_expect_geq(slowest, 2.5, "the delay grew to %.2f s", slowest);
    /* The name is banned too, whatever the password, from anywhere ... */
    login_time("alice", "s3cret", 421);
    /* ... and others are not. */
    login_time("bob", "bobpw", 230);
    /* Bans end after ban_time. */
    double deadline = ts_now() + 20;
    bool back = false;
    while (!back && ts_now() < deadline) {
        ftc c;
        ftc_open(&c, &srv);
        ftc_cmd(&c, "USER alice");
        back = ftc_cmd(&c, "PASS s3cret") == 230;
        ftc_close(&c);
        if (!back)
            sleep_s(0.5);
    }
    cr_expect(back, "alice never got back in");
    memset(&a, 0, sizeof a);
    a.addr = srv.addr;
    a.fd = connect_from("127.0.0.2");
    cr_expect_eq(ftc_reply(&a), 220, "%s", a.reply);
    ftc_close(&a);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

Test(hardening, failed_login_takes_as_long_for_a_missing_user)
{
    const char *extra[] = {"--set", "login_fail_delay=0", "--set",
                           "max_login_failures=1000", "--set",
                           "ban_after_failures=0", NULL};
    ftx_start(&srv, extra);
    ftc c;
    ftc_open(&c, &srv);
    enum { N = 15 };
    double real[N], missing[N];
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 2; k++) {
            cr_assert_eq(ftc_cmd(&c, "USER %s", k ? "nosuchuser" : "alice"), 331);
            double t0 = ts_now();
            cr_assert_eq(ftc_cmd(&c, "PASS wrong"), 530, "%s", c.reply);
            (k ? missing : real)[i] = ts_now() - t0;
        }
    }
    ftc_close(&c);
    qsort(real, N, sizeof real[0], cmp_d);
    qsort(missing, N, sizeof missing[0], cmp_d);
    double r = real[N / 2], m = missing[N / 2];
    double hi = r > m ? r : m;
    cr_expect(r - m < 0.5 * hi + 0.005 && m - r < 0.5 * hi + 0.005,
              "median failed login: real user %.4f s, missing user %.4f s", r, m);
}

/* --- limits ------------------------------------------------------------------ */

Test(hardening, sessions_per_user_are_limited)
{
    const char *extra[] = {"--set", "max_sessions_per_user=2", NULL};
    ftx_start(&srv, extra);
    ftc a, b, c;
    ftc_open(&a, &srv);
    ftc_login(&a, "alice", "s3cret");
    ftc_open(&b, &srv);
    ftc_login(&b, "alice", "s3cret");
    ftc_open(&c, &srv);
    cr_expect_eq(ftc_cmd(&c, "USER alice"), 331);
    cr_expect_eq(ftc_cmd(&c, "PASS s3cret"), 530, "%s", c.reply);
    cr_expect(strstr(c.reply, "Too many sessions for this user"), "%s", c.reply);
    /* another user is not affected */
    ftc d;
    ftc_open(&d, &srv);
    ftc_login(&d, "bob", "bobpw");
    ftc_close(&d);
    /* a place frees up when a session ends */
    cr_expect_eq(ftc_cmd(&a, "QUIT"), 221);
    ftc_close(&a);
    double deadline = ts_now() + 10;
    int code = 0;
    while (ts_now() < deadline) {
        ftc_cmd(&c, "USER alice");
        if ((code = ftc_cmd(&c, "PASS s3cret")) == 230)
            break;
        sleep_s(0.1);
    }
    cr_expect_eq(code, 230, "%s", c.reply);
    ftc_close(&b);
    ftc_close(&c);
}

Test(hardening, pending_passive_listeners_are_limited)
{
    const char *extra[] = {"--set", "max_pasv_listeners=2", NULL};
    ftx_start(&srv, extra);
    /* three client hosts: one host may hold only half of the listeners */
    ftc a, b, c;
    ftc_open_from(&a, &srv, "127.0.0.1");
    ftc_login(&a, "alice", "s3cret");
    ftc_open_from(&b, &srv, "127.0.0.2");
    ftc_login(&b, "alice", "s3cret");
    ftc_open_from(&c, &srv, "127.0.0.3");
    ftc_login(&c, "bob", "bobpw");
    cr_expect_eq(ftc_cmd(&a, "PASV"), 227);
    cr_expect_eq(ftc_cmd(&b, "EPSV"), 229);
    cr_expect_eq(ftc_cmd(&a, "EPSV"), 229, "a new listener replaces the old");
    cr_expect_eq(ftc_cmd(&c, "PASV"), 425, "%s", c.reply);
    cr_expect(strstr(c.reply, "Too many passive"), "%s", c.reply);
    cr_expect_eq(ftc_cmd(&a, "ABOR"), 225); /* drops a's listener */
    cr_expect_eq(ftc_cmd(&c, "PASV"), 227, "%s", c.reply);
    ftc_close(&a);
    ftc_close(&b);
    ftc_close(&c);
}

Test(hardening, one_host_holds_at_most_half_of_the_passive_listeners)
{
    const char *extra[] = {"--set", "max_pasv_listeners=4", NULL};
    ftx_start(&srv, extra);
    ftc s[4];
    for (int i = 0; i < 4; i++) {
        ftc_open_from(&s[i], &srv, i < 3 ? "127.0.0.1" : "127.0.0.2");
        ftc_login(&s[i], i % 2 ? "bob" : "alice", i % 2 ? "bobpw" : "s3cret");
    }
    cr_expect_eq(ftc_cmd(&s[0], "PASV"), 227);
    cr_expect_eq(ftc_cmd(&s[1], "EPSV"), 229);
    cr_expect_eq(ftc_cmd(&s[2], "EPSV"), 425, "the host has its half: %s",
                 s[2].reply);
    cr_expect_eq(ftc_cmd(&s[3], "EPSV"), 229, "another host: %s", s[3].reply);
    cr_expect_eq(ftc_cmd(&s[0], "ABOR"), 225);
    cr_expect_eq(ftc_cmd(&s[2], "EPSV"), 229, "given back: %s", s[2].reply);
    for (int i = 0; i < 4; i++)
        ftc_close(&s[i]);
}

Test(hardening, port_and_eprt_only_to_the_client_on_high_ports)
{
    ftx_start(&srv, NULL);
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "s3cret");
    cr_expect_eq(ftc_cmd(&c, "PORT 127,0,0,1,0,21"), 500, "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "PORT 127,0,0,1,3,255"), 500, "port 1023");
    cr_expect_eq(ftc_cmd(&c, "PORT 127,0,0,2,39,16"), 500, "another host");
    cr_expect_eq(ftc_cmd(&c, "PORT 192,0,2,1,39,16"), 500, "another host");
    cr_expect_eq(ftc_cmd(&c, "EPRT |1|127.0.0.1|1023|"), 500);
    cr_expect_eq(ftc_cmd(&c, "EPRT |1|198.51.100.7|10000|"), 500);
    cr_expect_eq(ftc_cmd(&c, "EPRT |2|::1|10000|"), 500, "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "PORT 127,0,0,1,4,0"), 200, "port 1024");
    ftc_close(&c);
}

/* --- timeouts --------------------------------------------------------------- */

Test(hardening, slow_loris_is_dropped_and_others_go_on)
{
    const char *extra[] = {"--set", "line_timeout=1", "--set",
                           "idle_timeout=60", NULL};
    ftx_start(&srv, extra);
    ftc s;
    ftc_open(&s, &srv);
    double t0 = ts_now();
    /* one byte at a time, slower than a line may take */
    const char *cmd = "NOOP";
    bool closed = false;
    for (int i = 0; i < 4 && !closed; i++) {
        if (send(s.fd, cmd + i, 1, MSG_NOSIGNAL) < 0)
            closed = true;
        sleep_s(0.4);
    }
    int code = ftc_reply(&s);
    double took = ts_now() - t0;
    cr_expect_eq(code, 421, "%s", s.reply);
    cr_expect(strstr(s.reply, "command line not completed"), "%s", s.reply);
    cr_expect(took >= 0.9 && took < 10, "dropped after %.2f s", took);
    char b;
    cr_expect_leq(read(s.fd, &b, 1), 0, "the connection is closed");
    ftc_close(&s);
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "bob", "bobpw");
    cr_expect_eq(ftc_cmd(&c, "NOOP"), 200);
    ftc_close(&c);
}

Test(hardening, tls_handshake_that_never_comes_is_cut)
{
    const char *extra[] = {"--set", "tls_handshake_timeout=1", NULL};
    ftx_start(&srv, extra);
    ftc c;
    ftc_open(&c, &srv);
    cr_assert_eq(ftc_cmd(&c, "AUTH TLS"), 234);
    double t0 = ts_now();
    char b[16];
    ssize_t n = read(c.fd, b, sizeof b); /* the server gives up and closes */
    double took = ts_now() - t0;
    cr_expect_leq(n, 0);
    cr_expect(took >= 0.8 && took < 10, "closed after %.2f s", took);
    ftc_close(&c);
}

Test(hardening, idle_timeout_over_tls)
{
    const char *extra[] = {"--set", "idle_timeout=1", NULL};
    ftx_start(&srv, extra);
    ftc c;
    ftc_open(&c, &srv);
    cr_assert_eq(ftc_cmd(&c, "AUTH TLS"), 234);
    ss_tls_context ctx;
    ss_tls_options o;
    memset(&o, 0, sizeof o);
    o.insecure = true;
    ss_error e;
    ss_error_clear(&e);
    cr_assert_eq(ss_tls_context_init(&ctx, &o, &e), 0, "%s", e.msg);
    ss_tls_conn t;
    cr_assert_eq(ss_tls_connect(&t, &ctx, c.fd, NULL, NULL, &e), 0, "%s", e.msg);
    double t0 = ts_now();
    char buf[512];
    ssize_t n = t.base.recv(&t.base, buf, sizeof buf - 1);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    cr_expect(!strncmp(buf, "421 Timeout", 11), "%s", buf);
    cr_expect(ts_now() - t0 < 10);
    ss_tls_conn_close(&t);
    ss_tls_context_close(&ctx);
    ftc_close(&c);
}

Test(hardening, passive_listener_nobody_uses_expires)
{
    const char *extra[] = {"--set", "data_timeout=1", NULL};
    ftx_start(&srv, extra);
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "s3cret");
    cr_assert_eq(ftc_cmd(&c, "EPSV"), 229);
    int port = atoi(strstr(c.reply, "(|||") + 4);
    sleep_s(1.8); /* the behaviour under test: data_timeout passes */
    ss_addr a = srv.addr;
    ((struct sockaddr_in *)&a.sa)->sin_port = htons((uint16_t)port);
    int fd = ts_connect(&a, SOCK_STREAM, 5);
    cr_expect_eq(fd, -ECONNREFUSED, "the listener is still open");
    if (fd >= 0)
        close(fd);
    cr_expect_eq(ftc_cmd(&c, "LIST"), 425, "%s", c.reply);
    cr_expect_eq(ftc_cmd(&c, "NOOP"), 200);
    ftc_close(&c);
}

/* --- a 100,000-entry directory ------------------------------------------- */

static long vm_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    size_t fl = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, fl))
            v = atol(line + fl + 1);
    if (f)
        fclose(f);
    return v;
}

Test(hardening, list_of_100000_entries_streams)
{
    enum { N = 100000 };
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", ftx_home_path(&srv, "alice", "big"));
    cr_assert_eq(mkdir(dir, 0755), 0);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char name[160];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "entry-%06d-%s", i,
                 "with-a-long-name-so-that-the-listing-is-many-megabytes-"
                 "long-xxxxxxxxxxxxxxxxxxxxxxxx");
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        cr_assert(fd >= 0, "create %d: %s", i, strerror(errno));
        close(fd);
    }
    close(dfd);
    ftx_start(&srv, NULL);
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "s3cret");
    long hwm0 = vm_kb(srv.proc.pid, "VmHWM:");
    char *out;
    size_t n;
    cr_assert_eq(ftc_get(&c, "LIST big", &out, &n), 226, "%s", c.reply);
    long hwm1 = vm_kb(srv.proc.pid, "VmHWM:");
    size_t lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += out[i] == '\n';
    free(out);
    cr_expect_eq(lines, N);
    cr_expect_gt(n, 12u << 20, "the listing is %zu bytes", n);
    /* Streaming: the peak memory grew by far less than the listing. */
    cr_expect(hwm1 - hwm0 < 6 * 1024, "peak memory grew by %ld KiB for a "
              "%zu-byte listing", hwm1 - hwm0, n);
    ftc_close(&c);
}

/* --- run_as ----------------------------------------------------------------- */

static uid_t chown_uid;
static gid_t chown_gid;

static int chown_entry(const char *path, const struct stat *st, int flag,
                       struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return lchown(path, chown_uid, chown_gid) < 0 ? -1 : 0;
}

static void run_as_case(bool forking)
{
    if (geteuid() != 0)
        cr_skip("run_as needs the tests to run as root");
    struct passwd *pw = getpwnam("nobody");
    if (!pw)
        cr_skip("no user nobody");
    chown_uid = pw->pw_uid;
    chown_gid = pw->pw_gid;
    cr_assert_eq(nftw(srv.dir, chown_entry, 32, FTW_PHYS), 0);
    const char *extra[] = {"--set", "run_as=nobody",
                           forking ? "--forking" : "--threading", NULL};
    ftx_start(&srv, extra);
    char uid_line[128];
    snprintf(uid_line, sizeof uid_line, "%u\t%u\t%u\t%u", (unsigned)pw->pw_uid,
             (unsigned)pw->pw_uid, (unsigned)pw->pw_uid, (unsigned)pw->pw_uid);
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)srv.proc.pid);
    FILE *f = fopen(path, "r");
    cr_assert(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cr_expect(strstr(buf, uid_line), "Uid line of the server:\n%s", buf);
    cr_expect(strstr(buf, "NoNewPrivs:\t1"), "%s", buf);
    cr_expect(strstr(buf, "Groups:\t65534") || strstr(buf, "Groups:\t"),
              "%s", buf);
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "s3cret");
    cr_expect_eq(ftc_put(&c, "STOR asnobody.txt", "hello", 5), 226, "%s",
                 c.reply);
    struct stat st;
    cr_assert_eq(stat(ftx_home_path(&srv, "alice", "asnobody.txt"), &st), 0);
    cr_expect_eq(st.st_uid, pw->pw_uid, "the session wrote as uid %u",
                 (unsigned)st.st_uid);
    ftc_close(&c);
}

Test(hardening, run_as_drops_root_threading) { run_as_case(false); }
Test(hardening, run_as_drops_root_forking) { run_as_case(true); }
