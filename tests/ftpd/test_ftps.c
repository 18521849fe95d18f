/* tests/ftpd/test_ftps.c - FTP over TLS: AUTH/PBSZ/PROT/CCC replies, data
 * connections that must resume the control connection's session (TLS 1.3
 * tickets and TLS 1.2 session ids), require_tls, the generated and the
 * configured certificate, implicit FTPS; and clients nobody here wrote:
 * Python's ftplib.FTP_TLS (ftps_client.py), curl --ssl-reqd and ftps://,
 * lftp with ftp:ssl-force.  The certificates are made at test time. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sockserv/tls.h>

#include "ftx.h"

static ftx_server srv;
static char work[1024];

static void setup_base(void)
{
    ftx_init(&srv, "ftpd-ftps");
    ftx_add_user(&srv, "alice", "s3cret", "1G");
    snprintf(work, sizeof work, "%s/work", srv.dir);
    mkdir(work, 0755);
}

static void setup_srv(void)
{
    setup_base();
    ftx_start(&srv, NULL);
}

static void teardown(void) { ftx_stop(&srv, true); }

TestSuite(ftps, .init = setup_srv, .fini = teardown, .timeout = 120);
TestSuite(ftps_cfg, .init = setup_base, .fini = teardown, .timeout = 120);

/* --- a small FTPS control client over the library's TLS client ---------- */

typedef struct tc {
    int fd;
    bool on;
    ss_tls_conn tls;
    char buf[8192];
    size_t len;
    char reply[8192];
    int code;
} tc;

static ss_tls_context cctx13, cctx12;

static ss_tls_context *client_ctx(bool tls12)
{
    ss_tls_context *c = tls12 ? &cctx12 : &cctx13;
    if (c->ssl_ctx)
        return c;
    ss_tls_options o;
    memset(&o, 0, sizeof o);
    o.insecure = true;
    if (tls12) {
        o.max_version = 0x0303;
        o.no_tickets = true; /* resumption by TLS 1.2 session id */
    }
    ss_error e;
    ss_error_clear(&e);
    cr_assert_eq(ss_tls_context_init(c, &o, &e), 0, "%s", e.msg);
    return c;
}

static ssize_t tc_recv(tc *t, void *b, size_t n)
{
    if (t->on)
        return t->tls.base.recv(&t->tls.base, b, n);
    ssize_t r = recv(t->fd, b, n, 0);
    return r < 0 ? -errno : r;
}

static int tc_send(tc *t, const void *b, size_t n)
{
    const char *p = b;
    while (n) {
        ssize_t w = t->on ? t->tls.base.send(&t->tls.base, p, n)
                          : send(t->fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One line into out (without CRLF); -1 at EOF or error. */
static int tc_line(tc *t, char *out, size_t cap)
{
    for (;;) {
        char *nl = memchr(t->buf, '\n', t->len);
        if (nl) {
            size_t n = (size_t)(nl - t->buf) + 1;
            size_t k = n - 1;
            if (k && t->buf[k - 1] == '\r')
                k--;
            if (k >= cap)
                k = cap - 1;
            memcpy(out, t->buf, k);
            out[k] = '\0';
            memmove(t->buf, t->buf + n, t->len - n);
            t->len -= n;
            return 0;
        }
        if (t->len == sizeof t->buf)
            return -1;
        ssize_t r = tc_recv(t, t->buf + t->len, sizeof t->buf - t->len);
        if (r <= 0)
            return -1;
        t->len += (size_t)r;
    }
}

static int tc_reply(tc *t)
{
    char line[2048];
    t->code = -1;
    t->reply[0] = '\0';
    if (tc_line(t, line, sizeof line) < 0 || strlen(line) < 3)
        return -1;
    snprintf(t->reply, sizeof t->reply, "%s", line);
    if (line[3] == '-') {
        char first[4];
        memcpy(first, line, 3);
        first[3] = '\0';
        for (;;) {
            if (tc_line(t, line, sizeof line) < 0)
                return -1;
            size_t o = strlen(t->reply);
            snprintf(t->reply + o, sizeof t->reply - o, "\n%s", line);
            if (!strncmp(line, first, 3) && line[3] == ' ')
                break;
        }
    }
    t->code = atoi(t->reply);
    return t->code;
}

static int tc_cmd(tc *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int tc_cmd(tc *t, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    memcpy(line + n, "\r\n", 2);
    if (tc_send(t, line, (size_t)n + 2) < 0)
        return -1;
    return tc_reply(t);
}

static void tc_open(tc *t, const ss_addr *a)
{
    memset(t, 0, sizeof *t);
    t->fd = ts_connect(a, SOCK_STREAM, 20);
    cr_assert(t->fd >= 0, "connect: %s", strerror(-t->fd));
    cr_assert_eq(tc_reply(t), 220, "banner: %s", t->reply);
}

static void tc_auth(tc *t, bool tls12)
{
    cr_assert_eq(tc_cmd(t, "AUTH TLS"), 234, "AUTH: %s", t->reply);
    ss_error e;
    ss_error_clear(&e);
    cr_assert_eq(ss_tls_connect(&t->tls, client_ctx(tls12), t->fd, NULL, NULL,
                                &e), 0, "TLS: %s", e.msg);
    t->on = true;
}

static void tc_login(tc *t, bool tls12)
{
    tc_auth(t, tls12);
    cr_assert_eq(tc_cmd(t, "USER alice"), 331, "%s", t->reply);
    cr_assert_eq(tc_cmd(t, "PASS s3cret"), 230, "%s", t->reply);
    cr_assert_eq(tc_cmd(t, "PBSZ 0"), 200, "%s", t->reply);
    cr_assert_eq(tc_cmd(t, "PROT P"), 200, "%s", t->reply);
    cr_assert_eq(tc_cmd(t, "TYPE I"), 200, "%s", t->reply);
}

static void tc_close(tc *t)
{
    if (t->on) {
        ss_tls_conn_shutdown(&t->tls);
        ss_tls_conn_close(&t->tls);
    }
    close(t->fd);
}

static int tc_epsv(tc *t)
{
    cr_assert_eq(tc_cmd(t, "EPSV"), 229, "EPSV: %s", t->reply);
    char *p = strstr(t->reply, "(|||");
    cr_assert(p);
    ss_addr a = srv.addr;
    ((struct sockaddr_in *)&a.sa)->sin_port = htons((uint16_t)atoi(p + 4));
    int fd = ts_connect(&a, SOCK_STREAM, 20);
    cr_assert(fd >= 0);
    return fd;
}

/* RETR name over a TLS data connection resuming resume (NULL: a fresh
 * session).  Returns the final reply code; *got gets the bytes (malloc'd)
 * when the transfer worked. */
static int tc_retr(tc *t, const char *name, const tc *resume, bool tls12,
                   char **got, size_t *n)
{
    int d = tc_epsv(t);
    *got = NULL;
    *n = 0;
    int code = tc_cmd(t, "RETR %s", name);
    if (code != 150) {
        close(d);
        return code;
    }
    ss_tls_conn dc;
    ss_error e;
    ss_error_clear(&e);
    if (ss_tls_connect(&dc, client_ctx(tls12), d, NULL,
                       resume ? &resume->tls : NULL, &e) == 0) {
        size_t cap = 1 << 16, len = 0;
        char *b = malloc(cap);
        for (;;) {
            if (len == cap)
                b = realloc(b, cap *= 2);
            ssize_t r = dc.base.recv(&dc.base, b + len, cap - len);
            if (r <= 0)
                break;
            len += (size_t)r;
        }
        *got = b;
        *n = len;
        ss_tls_conn_shutdown(&dc);
        ss_tls_conn_close(&dc);
    }
    close(d);
    return tc_reply(t);
}

static char *make_file(const char *name, size_t n, unsigned seed)
{
    char *d = malloc(n);
    ftx_fill(d, n, seed);
    ftx_write_file(ftx_home_path(&srv, "alice", name), d, n);
    return d;
}

/* --- the protocol ------------------------------------------------------- */

Test(ftps, feat_and_security_command_replies)
{
    tc t;
    tc_open(&t, &srv.addr);
    cr_expect_eq(tc_cmd(&t, "FEAT"), 211);
    cr_expect(strstr(t.reply, "\n AUTH TLS") && strstr(t.reply, "\n PBSZ") &&
                  strstr(t.reply, "\n PROT"), "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "PBSZ 0"), 503, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "PROT P"), 503, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "AUTH GSSAPI"), 504, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "AUTH"), 501, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "CCC"), 534, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "ADAT x"), 502, "%s", t.reply);
    tc_auth(&t, false);
    cr_expect_eq(tc_cmd(&t, "PROT P"), 503, "PROT before PBSZ: %s", t.reply);
    cr_expect_eq(tc_cmd(&t, "PBSZ x"), 501, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "PBSZ 16384"), 200, "%s", t.reply);
    cr_expect(strstr(t.reply, "PBSZ=0"), "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "PROT X"), 504, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "PROT S"), 536, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "PROT E"), 536, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "PROT C"), 200, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "PROT P"), 200, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "AUTH TLS"), 503, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "CCC"), 534, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "USER alice"), 331, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "PASS s3cret"), 230, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "AUTH TLS"), 503, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "QUIT"), 221);
    tc_close(&t);
}

static void data_reuse(bool tls12)
{
    char *want = make_file("d.bin", 700000, 3);
    tc t;
    tc_open(&t, &srv.addr);
    tc_login(&t, tls12);
    /* A data connection with a fresh session: refused, with the reason. */
    char *got;
    size_t n;
    int code = tc_retr(&t, "d.bin", NULL, tls12, &got, &n);
    cr_expect_eq(code, 522, "%s", t.reply);
    cr_expect(strstr(t.reply, "SSL connection failed: session reuse required"),
              "%s", t.reply);
    cr_expect_eq(n, 0, "no data without reuse");
    free(got);
    /* Resuming the control connection's session: works, and again. */
    for (int i = 0; i < 3; i++) {
        code = tc_retr(&t, "d.bin", &t, tls12, &got, &n);
        cr_expect_eq(code, 226, "round %d: %s", i, t.reply);
        cr_expect(n == 700000 && !memcmp(got, want, n), "round %d: %zu bytes", i,
                  n);
        free(got);
    }
    cr_expect_eq(tc_cmd(&t, "NOOP"), 200);
    tc_close(&t);
    free(want);
}

Test(ftps, data_must_resume_the_session_tls13_tickets) { data_reuse(false); }
Test(ftps, data_must_resume_the_session_tls12_session_ids) { data_reuse(true); }

Test(ftps_cfg, forking_sessions_resume_tickets_and_session_ids)
{
    /* Each session is a child process: the TLS 1.2 session cache it
     * resumes from is the child's own, filled by its control connection. */
    const char *extra[] = {"--forking", NULL};
    ftx_start(&srv, extra);
    data_reuse(false);
    data_reuse(true);
}

Test(ftps, data_resuming_another_control_session_refused)
{
    free(make_file("o.bin", 1000, 4));
    tc a, b;
    tc_open(&a, &srv.addr);
    tc_login(&a, false);
    tc_open(&b, &srv.addr);
    tc_login(&b, false);
    char *got;
    size_t n;
    cr_expect_eq(tc_retr(&b, "o.bin", &a, false, &got, &n), 522, "%s", b.reply);
    cr_expect(strstr(b.reply, "session reuse required"), "%s", b.reply);
    free(got);
    cr_expect_eq(tc_retr(&b, "o.bin", &b, false, &got, &n), 226, "%s", b.reply);
    cr_expect_eq(n, 1000);
    free(got);
    tc_close(&a);
    tc_close(&b);
}

Test(ftps_cfg, reuse_off_accepts_a_fresh_session)
{
    const char *extra[] = {"--set", "require_tls_reuse=no", NULL};
    ftx_start(&srv, extra);
    char *want = make_file("f.bin", 5000, 5);
    tc t;
    tc_open(&t, &srv.addr);
    tc_login(&t, false);
    char *got;
    size_t n;
    cr_expect_eq(tc_retr(&t, "f.bin", NULL, false, &got, &n), 226, "%s", t.reply);
    cr_expect(n == 5000 && !memcmp(got, want, n));
    free(got);
    free(want);
    tc_close(&t);
}

Test(ftps_cfg, require_tls_refuses_plaintext_login_and_clear_data)
{
    const char *extra[] = {"--set", "require_tls=yes", NULL};
    ftx_start(&srv, extra);
    tc t;
    tc_open(&t, &srv.addr);
    cr_expect_eq(tc_cmd(&t, "USER alice"), 530, "%s", t.reply);
    cr_expect(strstr(t.reply, "Non-anonymous sessions must use encryption"),
              "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "PASS s3cret"), 530, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "LIST"), 530, "%s", t.reply);
    tc_auth(&t, false);
    cr_expect_eq(tc_cmd(&t, "USER alice"), 331, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "PASS s3cret"), 230, "%s", t.reply);
    /* Logged in over TLS, but no PROT P yet: no transfer, no file touched. */
    cr_expect_eq(tc_cmd(&t, "LIST"), 522, "%s", t.reply);
    cr_expect(strstr(t.reply, "Data connections must be encrypted"), "%s",
              t.reply);
    cr_expect_eq(tc_cmd(&t, "STOR new.bin"), 522, "%s", t.reply);
    cr_expect_eq(ftx_file_size(ftx_home_path(&srv, "alice", "new.bin")), -1);
    cr_expect_eq(tc_cmd(&t, "PBSZ 0"), 200);
    cr_expect_eq(tc_cmd(&t, "PROT C"), 534, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "PROT P"), 200);
    free(make_file("r.bin", 100, 6));
    char *got;
    size_t n;
    cr_expect_eq(tc_retr(&t, "r.bin", &t, false, &got, &n), 226, "%s", t.reply);
    cr_expect_eq(n, 100);
    free(got);
    tc_close(&t);
}

Test(ftps_cfg, require_tls_is_the_default_on_a_wildcard_listener)
{
    const char *extra[] = {"--listen", "0.0.0.0:0", NULL};
    ftx_start(&srv, extra);
    ss_addr a;
    char text[64];
    snprintf(text, sizeof text, "127.0.0.1:%d", srv.port);
    cr_assert_eq(ss_addr_parse(&a, text, NULL), 0);
    tc t;
    tc_open(&t, &a);
    cr_expect_eq(tc_cmd(&t, "USER alice"), 530, "%s", t.reply);
    tc_auth(&t, false);
    cr_expect_eq(tc_cmd(&t, "USER alice"), 331, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "PASS s3cret"), 230, "%s", t.reply);
    tc_close(&t);
}

Test(ftps, loopback_listener_does_not_require_tls_by_default)
{
    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "s3cret");
    char *out;
    size_t n;
    cr_expect_eq(ftc_get(&c, "LIST", &out, &n), 226, "%s", c.reply);
    free(out);
    ftc_close(&c);
}

/* --- certificates -------------------------------------------------------- */

static bool have(const char *tool) { return access(tool, X_OK) == 0; }

/* `openssl x509 -fingerprint -sha256` of path, the hex part only. */
static void openssl_fingerprint(const char *path, char *out, size_t cap)
{
    char *argv[] = {"/usr/bin/openssl", "x509", "-in", (char *)path, "-noout",
                    "-fingerprint", "-sha256", NULL};
    char o[1024], e[1024];
    int st = ts_run(argv, NULL, 0, o, sizeof o, e, sizeof e, 30);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", e);
    char *eq = strchr(o, '=');
    cr_assert(eq, "%s", o);
    snprintf(out, cap, "%s", eq + 1);
    out[strcspn(out, "\r\n")] = '\0';
}

Test(ftps_cfg, self_signed_certificate_made_once_mode_0600_fingerprint_printed)
{
    ftx_start(&srv, NULL);
    char fp[256];
    cr_assert_eq(ts_wait_line(&srv.proc, "tls: SHA-256 fingerprint ", fp,
                              sizeof fp, 5), 0, "%s", srv.proc.out);
    char cert[1024], key[1024];
    snprintf(cert, sizeof cert, "%s/tls/cert.pem", srv.data_dir);
    snprintf(key, sizeof key, "%s/tls/key.pem", srv.data_dir);
    struct stat st;
    cr_assert_eq(stat(key, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(stat(cert, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600);
    if (have("/usr/bin/openssl")) {
        char want[256];
        openssl_fingerprint(cert, want, sizeof want);
        cr_expect_str_eq(fp, want);
    }
    struct stat before;
    stat(cert, &before);
    ftx_stop(&srv, false);
    ftx_start(&srv, NULL); /* the second start keeps the pair */
    cr_expect(!strstr(srv.proc.out, "generated"), "%s", srv.proc.out);
    cr_assert_eq(stat(cert, &st), 0);
    cr_expect_eq(st.st_ino, before.st_ino);
    tc t;
    tc_open(&t, &srv.addr);
    tc_login(&t, false);
    tc_close(&t);
}

Test(ftps_cfg, configured_certificate_is_used)
{
    if (!have("/usr/bin/openssl"))
        cr_skip("openssl is not installed");
    char cert[1024], key[1024];
    snprintf(cert, sizeof cert, "%s/mine.crt", srv.dir);
    snprintf(key, sizeof key, "%s/mine.key", srv.dir);
    char *argv[] = {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                    key, "-out", cert, "-days", "2", "-subj", "/CN=test",
                    NULL};
    char o[4096], e[4096];
    int st = ts_run(argv, NULL, 0, o, sizeof o, e, sizeof e, 60);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", e);
    char c1[1100], k1[1100];
    snprintf(c1, sizeof c1, "tls_cert_file=%s", cert);
    snprintf(k1, sizeof k1, "tls_key_file=%s", key);
    const char *extra[] = {"--set", c1, "--set", k1, NULL};
    ftx_start(&srv, extra);
    tc t;
    tc_open(&t, &srv.addr);
    tc_login(&t, false);
    tc_close(&t);
    char want[256];
    openssl_fingerprint(cert, want, sizeof want);
    ts_drain(&srv.proc);
    cr_expect(strstr(srv.proc.err, want), "log lacks %s:\n%s", want,
              srv.proc.err);
    char tlsdir[1024];
    snprintf(tlsdir, sizeof tlsdir, "%s/tls/cert.pem", srv.data_dir);
    cr_expect_eq(ftx_file_size(tlsdir), -1, "nothing generated");
}

Test(ftps_cfg, config_errors_for_tls_keys)
{
    char *argv[] = {(char *)ftx_binary(), "--data-dir", srv.data_dir, "--set",
                    "tls=no", "--set", "require_tls=yes", NULL};
    char o[1024], e[1024];
    int st = ts_run(argv, NULL, 0, o, sizeof o, e, sizeof e, 20);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%s", e);
    char *argv2[] = {(char *)ftx_binary(), "--data-dir", srv.data_dir, "--set",
                     "tls_cert_file=/x.pem", NULL};
    st = ts_run(argv2, NULL, 0, o, sizeof o, e, sizeof e, 20);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%s", e);
    char *argv3[] = {(char *)ftx_binary(), "--data-dir", srv.data_dir, "--set",
                     "require_tls=maybe", NULL};
    st = ts_run(argv3, NULL, 0, o, sizeof o, e, sizeof e, 20);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%s", e);
}

/* --- implicit FTPS ------------------------------------------------------- */

static int implicit_port(void)
{
    char rest[128];
    cr_assert_eq(ts_wait_line(&srv.proc, "listening on ftps://", rest,
                              sizeof rest, 5), 0, "%s", srv.proc.out);
    char *colon = strrchr(rest, ':');
    cr_assert(colon);
    return atoi(colon + 1);
}

Test(ftps_cfg, implicit_listener_speaks_tls_from_the_first_byte)
{
    const char *extra[] = {"--listen", "127.0.0.1:0", "--listen-implicit",
                           "127.0.0.1:0", NULL};
    ftx_start(&srv, extra);
    int port = implicit_port();
    ss_addr a = srv.addr;
    ((struct sockaddr_in *)&a.sa)->sin_port = htons((uint16_t)port);
    /* A plaintext client gets no banner, and the server goes on. */
    int fd = ts_connect(&a, SOCK_STREAM, 20);
    cr_assert(fd >= 0);
    ts_write_full(fd, "USER alice\r\n", 12);
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf);
    cr_expect(n <= 0 || memcmp(buf, "220", 3) != 0, "plaintext banner");
    close(fd);
    /* A TLS client: the banner comes over TLS; PROT P is the default. */
    tc t;
    memset(&t, 0, sizeof t);
    t.fd = ts_connect(&a, SOCK_STREAM, 20);
    ss_error e;
    ss_error_clear(&e);
    cr_assert_eq(ss_tls_connect(&t.tls, client_ctx(false), t.fd, NULL, NULL,
                                &e), 0, "%s", e.msg);
    t.on = true;
    cr_assert_eq(tc_reply(&t), 220, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "AUTH TLS"), 503, "%s", t.reply);
    cr_expect_eq(tc_cmd(&t, "USER alice"), 331);
    cr_expect_eq(tc_cmd(&t, "PASS s3cret"), 230);
    char *want = make_file("i.bin", 4096, 9);
    char *got;
    size_t len;
    cr_expect_eq(tc_retr(&t, "i.bin", &t, false, &got, &len), 226, "%s", t.reply);
    cr_expect(len == 4096 && !memcmp(got, want, len));
    free(got);
    free(want);
    tc_close(&t);
}

/* --- Python's ftplib.FTP_TLS -------------------------------------------- */

static char out_buf[65536], err_buf[65536];

static const char *run_ok(char *const argv[])
{
    int st = ts_run(argv, NULL, 0, out_buf, sizeof out_buf, err_buf,
                    sizeof err_buf, 120);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "%s failed (status %d)\nstdout:\n%s\nstderr:\n%s\nserver:\n%s",
              argv[0], st, out_buf, err_buf, srv.proc.err);
    return out_buf;
}

static const char *ftplib_run(const char *mode, const char *tls12)
{
    if (!have("/usr/bin/python3"))
        cr_skip("python3 is not installed");
    char port[16];
    snprintf(port, sizeof port, "%d", srv.port);
    char *argv[] = {"/usr/bin/python3",
                    (char *)ts_source_path("tests/ftpd/ftps_client.py"),
                    "127.0.0.1", port, "alice", "s3cret",
                    (char *)ftx_home_path(&srv, "alice", NULL), work,
                    (char *)mode, (char *)tls12, NULL};
    return run_ok(argv);
}

Test(ftps, ftplib_stock_is_refused_with_the_documented_reply)
{
    const char *out = ftplib_run("stock", NULL);
    cr_expect(strstr(out, "REFUSED 522 SSL connection failed: session reuse "
                          "required"), "%s", out);
    cr_expect(strstr(out, "OK\n"), "%s", out);
}

Test(ftps, ftplib_subclass_passing_session_works_tls13)
{
    const char *out = ftplib_run("reuse", NULL);
    cr_expect(strstr(out, "version TLSv1.3\nOK\n"), "%s", out);
}

Test(ftps, ftplib_subclass_passing_session_works_tls12_session_ids)
{
    const char *out = ftplib_run("reuse", "tls12");
    cr_expect(strstr(out, "version TLSv1.2\nOK\n"), "%s", out);
}

Test(ftps_cfg, ftplib_stock_works_with_reuse_off)
{
    const char *extra[] = {"--set", "require_tls_reuse=no", NULL};
    ftx_start(&srv, extra);
    const char *out = ftplib_run("stock-ok", NULL);
    cr_expect(strstr(out, "OK\n"), "%s", out);
}

/* --- curl ------------------------------------------------------------------ */

#define CURL "/usr/bin/curl"

static const char *wpath(const char *rel)
{
    static char slots[4][1200];
    static unsigned next;
    char *b = slots[next++ % 4];
    snprintf(b, sizeof slots[0], "%s/%s", work, rel);
    return b;
}

Test(ftps, curl_ssl_reqd_list_get_put_resume)
{
    if (!have(CURL))
        cr_skip("curl is not installed");
    char u[512];
    free(make_file("down.bin", 3 * 1024 * 1024 + 11, 21));
    snprintf(u, sizeof u, "ftp://127.0.0.1:%d/", srv.port);
    char *ls[] = {CURL, "-sS", "--ssl-reqd", "-k", "--max-time", "60", "-u",
                  "alice:s3cret", u, NULL};
    cr_expect(strstr(run_ok(ls), " down.bin"), "%s", out_buf);
    /* two downloads on one control connection: the second data connection
     * resumes a session of the same family (curl#4654's case) */
    snprintf(u, sizeof u, "ftp://127.0.0.1:%d/down.bin", srv.port);
    char *get[] = {CURL, "-sS", "--ssl-reqd", "-k", "--max-time", "60", "-u",
                   "alice:s3cret", "-o", (char *)wpath("d1.bin"), u, "-o",
                   (char *)wpath("d2.bin"), u, NULL};
    run_ok(get);
    ftx_expect_same_files(wpath("d1.bin"), ftx_home_path(&srv, "alice", "down.bin"));
    ftx_expect_same_files(wpath("d2.bin"), ftx_home_path(&srv, "alice", "down.bin"));
    /* resume a download: a local partial file, then -C - (REST + RETR) */
    size_t n;
    char *all = ftx_read_file(ftx_home_path(&srv, "alice", "down.bin"), &n);
    ftx_write_file(wpath("part.bin"), all, 1000000);
    free(all);
    char *resume[] = {CURL, "-sS", "--ssl-reqd", "-k", "--max-time", "60", "-u",
                      "alice:s3cret", "-C", "-", "-o", (char *)wpath("part.bin"),
                      u, NULL};
    run_ok(resume);
    ftx_expect_same_files(wpath("part.bin"), ftx_home_path(&srv, "alice", "down.bin"));
    /* upload, then resume an upload (SIZE + APPE) */
    ftx_make_file(wpath("up.bin"), 2 * 1024 * 1024 + 5, 22);
    size_t un;
    char *upd = ftx_read_file(wpath("up.bin"), &un);
    ftx_write_file(ftx_home_path(&srv, "alice", "up.bin"), upd, 700000);
    free(upd);
    snprintf(u, sizeof u, "ftp://127.0.0.1:%d/up.bin", srv.port);
    char *put[] = {CURL, "-sS", "--ssl-reqd", "-k", "--max-time", "60", "-u",
                   "alice:s3cret", "-C", "-", "-T", (char *)wpath("up.bin"), u,
                   NULL};
    run_ok(put);
    ftx_expect_same_files(wpath("up.bin"), ftx_home_path(&srv, "alice", "up.bin"));
    /* Two uploads on one control connection: an upload-only data
     * connection must not get TLS 1.3 tickets (the client never reads
     * them, and its close then resets the connection, losing data), and
     * the second upload still needs a fresh ticket to resume. */
    char u3[512];
    snprintf(u, sizeof u, "ftp://127.0.0.1:%d/up2.bin", srv.port);
    snprintf(u3, sizeof u3, "ftp://127.0.0.1:%d/up3.bin", srv.port);
    for (int round = 0; round < 5; round++) {
        char *put2[] = {CURL, "-sS", "--ssl-reqd", "-k", "--max-time", "60",
                        "-u", "alice:s3cret", "-T", (char *)wpath("up.bin"), u,
                        "-T", (char *)wpath("up.bin"), u3, NULL};
        run_ok(put2);
        ftx_expect_same_files(wpath("up.bin"), ftx_home_path(&srv, "alice", "up2.bin"));
        ftx_expect_same_files(wpath("up.bin"), ftx_home_path(&srv, "alice", "up3.bin"));
    }
    /* TLS 1.2: resumption by session id or TLS 1.2 ticket */
    snprintf(u, sizeof u, "ftp://127.0.0.1:%d/down.bin", srv.port);
    char *get12[] = {CURL, "-sS", "--ssl-reqd", "-k", "--tls-max", "1.2",
                     "--max-time", "60", "-u", "alice:s3cret", "-o",
                     (char *)wpath("d12.bin"), u, NULL};
    run_ok(get12);
    ftx_expect_same_files(wpath("d12.bin"), ftx_home_path(&srv, "alice", "down.bin"));
}

Test(ftps_cfg, curl_implicit_ftps_url)
{
    if (!have(CURL))
        cr_skip("curl is not installed");
    const char *extra[] = {"--listen", "127.0.0.1:0", "--listen-implicit",
                           "127.0.0.1:0", NULL};
    ftx_start(&srv, extra);
    int port = implicit_port();
    free(make_file("imp.bin", 123457, 23));
    char u[256];
    snprintf(u, sizeof u, "ftps://127.0.0.1:%d/imp.bin", port);
    char *get[] = {CURL, "-sS", "-k", "--max-time", "60", "-u", "alice:s3cret",
                   "-o", (char *)wpath("imp.bin"), u, NULL};
    run_ok(get);
    ftx_expect_same_files(wpath("imp.bin"), ftx_home_path(&srv, "alice", "imp.bin"));
    ftx_make_file(wpath("impup.bin"), 99999, 24);
    snprintf(u, sizeof u, "ftps://127.0.0.1:%d/impup.bin", port);
    char *put[] = {CURL, "-sS", "-k", "--max-time", "60", "-u", "alice:s3cret",
                   "-T", (char *)wpath("impup.bin"), u, NULL};
    run_ok(put);
    ftx_expect_same_files(wpath("impup.bin"), ftx_home_path(&srv, "alice", "impup.bin"));
}

/* --- lftp ----------------------------------------------------------------- */

Test(ftps, lftp_ssl_force)
{
    if (!have("/usr/bin/lftp"))
        cr_skip("lftp is not installed");
    free(make_file("lf.bin", 1234567, 25));
    ftx_make_file(wpath("lfup.bin"), 654321, 26);
    char port[16], cmds[4096];
    snprintf(port, sizeof port, "%d", srv.port);
    snprintf(cmds, sizeof cmds,
             "set ftp:ssl-force true; set ftp:ssl-protect-data true; "
             "set ssl:verify-certificate no; set net:max-retries 1; "
             "set net:timeout 20; ls; get lf.bin -o %s; put %s -o lfup.bin; "
             "bye", wpath("lf.bin"), wpath("lfup.bin"));
    char *argv[] = {"/usr/bin/lftp", "-u", "alice,s3cret", "-p", port,
                    "127.0.0.1", "-e", cmds, NULL};
    cr_expect(strstr(run_ok(argv), "lf.bin"), "%s", out_buf);
    ftx_expect_same_files(wpath("lf.bin"), ftx_home_path(&srv, "alice", "lf.bin"));
    ftx_expect_same_files(wpath("lfup.bin"), ftx_home_path(&srv, "alice", "lfup.bin"));
    /* every session was TLS, and no data connection was refused */
    ts_drain(&srv.proc);
    cr_expect(strstr(srv.proc.err, " tls client="), "%s", srv.proc.err);
    cr_expect(!strstr(srv.proc.err, "tls data connection refused"), "%s",
              srv.proc.err);
}

Test(ftps_cfg, lftp_implicit_ftps_url)
{
    if (!have("/usr/bin/lftp"))
        cr_skip("lftp is not installed");
    const char *extra[] = {"--listen", "127.0.0.1:0", "--listen-implicit",
                           "127.0.0.1:0", NULL};
    ftx_start(&srv, extra);
    int port = implicit_port();
    free(make_file("li.bin", 777777, 27));
    char url[128], cmds[2048];
    snprintf(url, sizeof url, "ftps://alice:s3cret@127.0.0.1:%d", port);
    snprintf(cmds, sizeof cmds,
             "set ssl:verify-certificate no; set net:max-retries 1; "
             "set net:timeout 20; get li.bin -o %s; bye", wpath("li.bin"));
    char *argv[] = {"/usr/bin/lftp", "-e", cmds, url, NULL};
    run_ok(argv);
    ftx_expect_same_files(wpath("li.bin"), ftx_home_path(&srv, "alice", "li.bin"));
}
