/* tests/ftpd/test_metrics.c - the metrics page (metrics_listen): scraped
 * with curl, parsed by the Prometheus project's Python client
 * (prom_check.py) and here as the Prometheus text format (every sample under a
 * HELP and a TYPE, valid names, counters ending in _total, the last line
 * ended), and its values checked after known logins, an upload, a
 * download and a quota refusal, with threads and with forked sessions; a
 * download under way and a ban with the connection it refuses. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ftx.h"

static ftx_server srv;
static char metrics_url[256];

static void start_mode(const char *mode)
{
    ftx_init(&srv, "ftpd-metrics");
    ftx_add_user(&srv, "alice", "pw", "1000");
    const char *extra[] = {"--set", mode, "--set",
                           "metrics_listen=127.0.0.1:0", NULL};
    ftx_start(&srv, extra);
    char rest[200];
    cr_assert_eq(ts_wait_line(&srv.proc, "metrics on ", rest, sizeof rest, 10),
                 0, "no metrics line:\n%s", srv.proc.out);
    snprintf(metrics_url, sizeof metrics_url, "%s", rest);
}

static void start_threading(void) { start_mode("concurrency=threading"); }
static void start_forking(void) { start_mode("concurrency=forking"); }
static void stop(void) { ftx_stop(&srv, true); }

/* --- the page, scraped and parsed ---------------------------------------- */

#define MAX_NAMES 64
#define MAX_SAMPLES 256

typedef struct page {
    char text[65536];
    struct { char name[128], type[16]; bool help; } names[MAX_NAMES];
    size_t nnames;
    struct { char key[256]; double value; } samples[MAX_SAMPLES];
    size_t nsamples;
} page;

static bool valid_name(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
            return false;
    return true;
}

static int find_name(page *p, const char *name)
{
    for (size_t i = 0; i < p->nnames; i++)
        if (!strcmp(p->names[i].name, name))
            return (int)i;
    return -1;
}

/* Checks the format line by line and keeps the samples. */
static void parse(page *p)
{
    size_t len = strlen(p->text);
    cr_assert_gt(len, 0);
    cr_assert_eq(p->text[len - 1], '\n', "the last line must end with \\n");
    p->nnames = p->nsamples = 0;
    char *save = NULL;
    int current = -1; /* the name whose group we are in */
    for (char *line = strtok_r(p->text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7)) {
            bool help = line[2] == 'H';
            char *name = line + 7, *sp = strchr(name, ' ');
            cr_assert(sp, "%s", line);
            *sp = '\0';
            cr_assert(valid_name(name, strlen(name)), "bad name '%s'", name);
            int i = find_name(p, name);
            if (i < 0) {
                cr_assert_lt(p->nnames, MAX_NAMES);
                i = (int)p->nnames++;
                snprintf(p->names[i].name, sizeof p->names[i].name, "%s", name);
                p->names[i].type[0] = '\0';
                p->names[i].help = false;
            } else {
                cr_assert_eq(i, current, "'%s' comes back after another "
                             "metric's group", name);
            }
            current = i;
            if (help) {
                cr_assert(!p->names[i].help, "second HELP for %s", name);
                p->names[i].help = true;
            } else {
                cr_assert_eq(p->names[i].type[0], '\0', "second TYPE for %s", name);
                const char *type = sp + 1;
                cr_assert(!strcmp(type, "counter") || !strcmp(type, "gauge"),
                          "%s: type %s", name, type);
                snprintf(p->names[i].type, sizeof p->names[i].type, "%s", type);
                if (!strcmp(type, "counter"))
                    cr_assert(strlen(name) > 6 &&
                                  !strcmp(name + strlen(name) - 6, "_total"),
                              "counter %s does not end in _total", name);
            }
            continue;
        }
        cr_assert_neq(line[0], '#', "unexpected comment: %s", line);
        /* name{labels} value */
        size_t nlen = strcspn(line, "{ ");
        cr_assert(valid_name(line, nlen), "bad sample name in '%s'", line);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)nlen, line);
        int i = find_name(p, name);
        cr_assert(i >= 0 && i == current, "sample %s outside its group", name);
        cr_assert(p->names[i].help && p->names[i].type[0],
                  "sample %s without HELP and TYPE before it", name);
        char *end = line + nlen;
        if (*end == '{') {
            char *close = strchr(end, '}');
            cr_assert(close, "%s", line);
            end = close + 1;
        }
        cr_assert_eq(*end, ' ', "%s", line);
        char *num_end;
        double v = strtod(end + 1, &num_end);
        cr_assert(num_end != end + 1 && *num_end == '\0', "bad value: %s", line);
        cr_assert_lt(p->nsamples, MAX_SAMPLES);
        snprintf(p->samples[p->nsamples].key, sizeof p->samples[0].key, "%.*s",
                 (int)(end - line), line);
        for (size_t k = 0; k < p->nsamples; k++)
            cr_assert_str_neq(p->samples[k].key, p->samples[p->nsamples].key,
                              "duplicate sample");
        p->samples[p->nsamples++].value = v;
    }
    for (size_t i = 0; i < p->nnames; i++)
        cr_assert(p->names[i].help && p->names[i].type[0], "%s lacks HELP/TYPE",
                  p->names[i].name);
}

static void scrape(page *p)
{
    char err[1024];
    char *argv[] = {"/usr/bin/curl", "-sS", "--max-time", "10", "-D", "/dev/stderr",
                    metrics_url, NULL};
    int st = ts_run(argv, NULL, 0, p->text, sizeof p->text, err, sizeof err, 20);
    cr_assert_eq(st, 0, "curl: %s", err);
    cr_assert(strstr(err, "200 OK"), "%s", err);
    cr_assert(strstr(err, "text/plain; version=0.0.4"), "%s", err);
    /* The Prometheus project's own parser first (parse() cuts the text). */
    char *check[] = {"/usr/bin/python3",
                     (char *)ts_source_path("tests/ftpd/prom_check.py"), NULL};
    char out[256];
    st = ts_run(check, p->text, strlen(p->text), out, sizeof out, err,
                sizeof err, 30);
    cr_assert_eq(st, 0, "prom_check.py (python3-prometheus-client, "
                 "scripts/deps.sh): %s\n%s", err, p->text);
    unsigned families = 0, samples = 0;
    cr_assert_eq(sscanf(out, "OK %u %u", &families, &samples), 2, "%s", out);
    parse(p);
    cr_assert_eq(families, p->nnames, "%s", out);
    cr_assert_eq(samples, p->nsamples, "%s", out);
}

/* The value of a sample: "name" or "name{labels}" as printed. */
static double value(page *p, const char *key)
{
    for (size_t i = 0; i < p->nsamples; i++)
        if (!strcmp(p->samples[i].key, key))
            return p->samples[i].value;
    cr_assert_fail("no sample %s", key);
    return -1;
}

static double lib(page *p, const char *name, const char *extra)
{
    char key[256];
    snprintf(key, sizeof key, "%s{listener=\"%s\"%s%s}", name, srv.addr_text,
             extra ? "," : "", extra ? extra : "");
    return value(p, key);
}

/* Scrapes until no session is open any more (forked ones end when the
 * parent reaps them). */
static void scrape_idle(page *p)
{
    double end = ts_now() + 10;
    for (;;) {
        scrape(p);
        if (lib(p, "sockserv_connections_active", NULL) == 0 &&
            value(p, "ftpd_sessions_active") == 0)
            return;
        cr_assert_lt(ts_now(), end, "sessions still active");
        struct timespec ts = {0, 20 * 1000 * 1000}; /* a poll step */
        nanosleep(&ts, NULL);
    }
}

/* --- known traffic, and its figures --------------------------------------- */

static void known_traffic(void)
{
    page *p = malloc(sizeof *p);
    scrape(p);
    cr_expect_eq(value(p, "ftpd_logins_total{result=\"ok\"}"), 0);
    cr_expect_eq(lib(p, "sockserv_connections_accepted_total", NULL), 0);

    /* A failed login, then a session that logs in, uploads 600 bytes,
     * downloads them, and is refused 500 more by the 1000-byte quota. */
    ftc bad;
    ftc_open(&bad, &srv);
    cr_assert_eq(ftc_cmd(&bad, "USER alice"), 331);
    cr_assert_eq(ftc_cmd(&bad, "PASS wrong"), 530);
    ftc_close(&bad);

    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "pw");
    cr_assert_eq(ftc_cmd(&c, "TYPE I"), 200);
    char data[600];
    ftx_fill(data, sizeof data, 3);
    cr_assert_eq(ftc_put(&c, "STOR a", data, sizeof data), 226, "%s", c.reply);
    char *back = NULL;
    size_t n = 0;
    cr_assert_eq(ftc_get(&c, "RETR a", &back, &n), 226, "%s", c.reply);
    cr_assert_eq(n, sizeof data);
    free(back);
    char more[500] = {0};
    cr_assert_eq(ftc_put(&c, "STOR b", more, sizeof more), 552, "%s", c.reply);

    /* While the session is open it is active. */
    scrape(p);
    cr_expect_eq(lib(p, "sockserv_connections_active", NULL), 1);
    cr_expect_eq(value(p, "ftpd_sessions_active"), 1);
    cr_expect_eq(value(p, "ftpd_transfers_running"), 0);
    cr_assert_eq(ftc_cmd(&c, "QUIT"), 221);
    ftc_close(&c);

    scrape_idle(p);
    cr_expect_eq(value(p, "ftpd_logins_total{result=\"ok\"}"), 1);
    cr_expect_eq(value(p, "ftpd_logins_total{result=\"failed\"}"), 1);
    cr_expect_eq(value(p, "ftpd_upload_bytes_total"), 1000,
                 "600 stored, then 400 that fitted before the quota stopped it");
    cr_expect_eq(value(p, "ftpd_download_bytes_total"), 600);
    cr_expect_eq(value(p, "ftpd_quota_refusals_total"), 1);
    cr_expect_eq(value(p, "ftpd_transfers_running"), 0);
    cr_expect_eq(value(p, "ftpd_bans_active"), 0);
    cr_expect_eq(lib(p, "sockserv_connections_accepted_total", NULL), 2);
    cr_expect_eq(lib(p, "sockserv_connections_finished_total", NULL), 2);
    cr_expect_eq(lib(p, "sockserv_connections_refused_total",
                     "reason=\"verify\""), 0);
    cr_expect_eq(lib(p, "sockserv_handler_errors_total", NULL), 0);
    /* The control connections' bytes: at least the commands sent. */
    cr_expect_gt(lib(p, "sockserv_received_bytes_total", NULL), 60);
    cr_expect_gt(lib(p, "sockserv_sent_bytes_total", NULL), 200);
    free(p);
}

TestSuite(metrics_threading, .init = start_threading, .fini = stop,
          .timeout = 60);
TestSuite(metrics_forking, .init = start_forking, .fini = stop, .timeout = 60);

Test(metrics_threading, figures_follow_known_logins_and_transfers)
{
    known_traffic();
}

Test(metrics_forking, forked_sessions_add_up_in_the_figures)
{
    known_traffic();
}

/* --- gauges while something happens --------------------------------------- */

/* A download under way is a running transfer; two failed logins from
 * 127.0.0.2 ban its host and the name tried, and the next connection from
 * there is refused by verify_request before a session starts. */
Test(metrics_off, a_running_download_and_a_ban_show_on_the_page,
     .timeout = 60)
{
    ftx_init(&srv, "ftpd-metrics-gauges");
    ftx_add_user(&srv, "alice", "pw", "1G");
    enum { BIG = 16 * 1024 * 1024 }; /* more than the socket buffers hold */
    ftx_make_file(ftx_home_path(&srv, "alice", "big.bin"), BIG, 5);
    const char *extra[] = {"--set", "metrics_listen=127.0.0.1:0", "--set",
                           "ban_after_failures=2", NULL};
    ftx_start(&srv, extra);
    char rest[200];
    cr_assert_eq(ts_wait_line(&srv.proc, "metrics on ", rest, sizeof rest, 10),
                 0, "%s", srv.proc.out);
    snprintf(metrics_url, sizeof metrics_url, "%s", rest);
    page *p = malloc(sizeof *p);

    ftc c;
    ftc_open(&c, &srv);
    ftc_login(&c, "alice", "pw");
    cr_assert_eq(ftc_cmd(&c, "TYPE I"), 200);
    int d = ftc_epsv(&c);
    cr_assert_eq(ftc_cmd(&c, "RETR big.bin"), 150, "%s", c.reply);
    char *back = malloc(BIG);
    cr_assert_eq(ts_read_full(d, back, 65536), 65536);
    scrape(p);
    cr_expect_eq(value(p, "ftpd_transfers_running"), 1);
    cr_expect_eq(value(p, "ftpd_sessions_active"), 1);
    cr_expect_eq(lib(p, "sockserv_connections_active", NULL), 1);

    ftc bad;
    ftc_open_from(&bad, &srv, "127.0.0.2");
    cr_assert_eq(ftc_cmd(&bad, "USER mallory"), 331);
    cr_assert_eq(ftc_cmd(&bad, "PASS wrong"), 530, "%s", bad.reply);
    cr_assert_eq(ftc_cmd(&bad, "USER mallory"), 331);
    cr_assert_eq(ftc_cmd(&bad, "PASS wrong"), 421, "the second starts the ban: %s",
                 bad.reply);
    ftc_close(&bad);
    ftc refused = {.addr = srv.addr};
    refused.fd = ts_connect_from("127.0.0.2", &srv.addr, 20);
    cr_assert_geq(refused.fd, 0);
    cr_assert_eq(ftc_reply(&refused), 421, "%s", refused.reply);
    ftc_close(&refused);

    cr_assert_eq(ts_read_full(d, back + 65536, BIG - 65536),
                 (ssize_t)(BIG - 65536));
    close(d);
    cr_assert_eq(ftc_reply(&c), 226, "%s", c.reply);
    free(back);
    scrape(p);
    cr_expect_eq(value(p, "ftpd_transfers_running"), 0);
    cr_expect_eq(value(p, "ftpd_download_bytes_total"), BIG);
    cr_expect_eq(value(p, "ftpd_logins_total{result=\"failed\"}"), 2);
    cr_expect_eq(value(p, "ftpd_bans_active"), 2, "the host and the name");
    cr_expect_eq(lib(p, "sockserv_connections_refused_total",
                     "reason=\"verify\""), 1);
    cr_expect_eq(lib(p, "sockserv_connections_accepted_total", NULL), 3);
    cr_assert_eq(ftc_cmd(&c, "QUIT"), 221);
    ftc_close(&c);
    free(p);
    ftx_stop(&srv, true);
}

/* --- the HTTP side -------------------------------------------------------- */

static int http_code(const char *url, const char *method)
{
    char out[256], err[512];
    char *argv[] = {"/usr/bin/curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                    "-X", (char *)method, "--max-time", "10", (char *)url, NULL};
    int st = ts_run(argv, NULL, 0, out, sizeof out, err, sizeof err, 20);
    cr_assert_eq(st, 0, "curl: %s", err);
    return atoi(out);
}

Test(metrics_threading, other_paths_are_404_and_other_methods_405)
{
    char url[300];
    snprintf(url, sizeof url, "%s", metrics_url);
    char *slash = strrchr(url, '/');
    strcpy(slash, "/nothing");
    cr_expect_eq(http_code(url, "GET"), 404);
    cr_expect_eq(http_code(metrics_url, "POST"), 405);
    cr_expect_eq(http_code(metrics_url, "GET"), 200);
}

Test(metrics_threading, an_oversized_request_head_is_refused)
{
    /* 8 KiB of head is the most: the 9th 1000-byte line passes it.  No
     * byte more is sent, so the server has read all of it when it closes
     * (unread bytes would turn its close into a reset). */
    const char *hostport = strstr(metrics_url, "//") + 2;
    char text[64];
    snprintf(text, sizeof text, "%.*s", (int)strcspn(hostport, "/"), hostport);
    ss_addr a;
    ss_error e;
    cr_assert_eq(ss_addr_parse(&a, text, &e), 0, "%s", e.msg);
    int fd = ts_connect(&a, SOCK_STREAM, 10);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ts_write_full(fd, "GET /metrics HTTP/1.1\r\n", 23), 0);
    char hdr[1000];
    memset(hdr, 'a', sizeof hdr);
    memcpy(hdr, "X-Pad: ", 7);
    memcpy(hdr + sizeof hdr - 2, "\r\n", 2);
    for (int i = 0; i < 9; i++)
        cr_assert_eq(ts_write_full(fd, hdr, sizeof hdr), 0);
    char line[256];
    cr_assert_gt(ts_read_line(fd, line, sizeof line), 0);
    cr_expect(strstr(line, "431"), "%s", line);
    close(fd);
}

Test(metrics_off, a_port_alone_listens_on_loopback)
{
    ftx_init(&srv, "ftpd-metrics-port");
    const char *extra[] = {"--set", "metrics_listen=0", NULL};
    ftx_start(&srv, extra);
    char rest[200];
    cr_assert_eq(ts_wait_line(&srv.proc, "metrics on ", rest, sizeof rest, 10),
                 0, "%s", srv.proc.out);
    cr_expect_eq(strncmp(rest, "http://127.0.0.1:", 17), 0, "%s", rest);
    ftx_stop(&srv, true);
}

Test(metrics_off, no_page_unless_configured)
{
    ftx_init(&srv, "ftpd-metrics-off");
    ftx_start(&srv, NULL);
    ts_drain(&srv.proc);
    cr_expect_null(strstr(srv.proc.out, "metrics on"), "%s", srv.proc.out);
    ftx_stop(&srv, true);
}
