/* Errors on the request path (CPython's ErrorHandlerTest and the verified
 * call traces): a failing handle() reaches handle_error() with the client
 * address and the error while the request is still open, and the server
 * keeps serving, in every mode; a fatal error (Python's SystemExit) skips
 * handle_error() and stops a sync server; verify_request refusing a client
 * shuts the request down exactly once (bpo-26309); a failing setup skips
 * handle and finish. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coretest.h"

/* What the handler is told to do, per request line. */
enum fail { FAIL_NONE, FAIL_SETUP, FAIL_HANDLE, FAIL_FINISH, FAIL_BOTH,
            FAIL_FATAL };

#define HANDLE_CODE (-EPROTO)
#define FINISH_CODE (-EIO)
#define SETUP_CODE (-EACCES)

typedef struct {
    enum fail fail;
    bool refuse;        /* verify_request says no */
    ct_log log;
    atomic_int handle_errors;
    atomic_int shutdowns; /* shutdown_request calls */
    pthread_mutex_t mu;   /* guards the fields below */
    ss_error last_err;
    ss_addr last_client;
    bool fd_open_in_handle_error;
    ct_pipe pipe; /* forking: the child reports handle_error here */
    const ss_server_class *defining; /* the tracing class in use */
} err_state;

static err_state *state(ss_server *s) { return s->data; }

/* --- a server that logs every step ----------------------------------------- */

static bool tr_verify_request(ss_server *s, ss_request *r, const ss_addr *c);
static int tr_process_request(ss_server *s, ss_request *r, const ss_addr *c,
                              ss_error *e);
static int tr_finish_request(ss_server *s, ss_request *r, const ss_addr *c,
                             ss_error *e);
static void tr_shutdown_request(ss_server *s, ss_request *r);
static void tr_close_request(ss_server *s, ss_request *r);
static void tr_handle_error(ss_server *s, ss_request *r, const ss_addr *c,
                            const ss_error *e);

#define TRACING_SLOTS                                                          \
    .verify_request = tr_verify_request,                                       \
    .process_request = tr_process_request,                                     \
    .finish_request = tr_finish_request,                                       \
    .shutdown_request = tr_shutdown_request,                                   \
    .close_request = tr_close_request, .handle_error = tr_handle_error

/* One tracing class per base, sharing the overrides below.  A super call
 * must name the class that defines the running method, never the instance's
 * class; shared overrides get it from the state (`defining`), which start()
 * sets to the tracing class the server was made of. */
static const ss_server_class tracing_tcp = {
    .base = &ss_tcp_server_class, .name = "TracingTCPServer", TRACING_SLOTS};
static const ss_server_class tracing_threading_tcp = {
    .base = &ss_threading_tcp_server_class,
    .name = "TracingThreadingTCPServer", TRACING_SLOTS};
static const ss_server_class tracing_forking_tcp = {
    .base = &ss_forking_tcp_server_class, .name = "TracingForkingTCPServer",
    TRACING_SLOTS};
static const ss_server_class tracing_udp = {
    .base = &ss_udp_server_class, .name = "TracingUDPServer", TRACING_SLOTS};

static const ss_server_class *me(ss_server *s) { return state(s)->defining; }

static bool tr_verify_request(ss_server *s, ss_request *r, const ss_addr *c)
{
    ct_log_add(&state(s)->log, "verify_request");
    if (state(s)->refuse)
        return false;
    return SS_SUPER(me(s), verify_request)(s, r, c);
}

static int tr_process_request(ss_server *s, ss_request *r, const ss_addr *c,
                              ss_error *e)
{
    ct_log_add(&state(s)->log, "process_request");
    return SS_SUPER(me(s), process_request)(s, r, c, e);
}

static int tr_finish_request(ss_server *s, ss_request *r, const ss_addr *c,
                             ss_error *e)
{
    ct_log_add(&state(s)->log, "finish_request");
    return SS_SUPER(me(s), finish_request)(s, r, c, e);
}

static void tr_shutdown_request(ss_server *s, ss_request *r)
{
    ct_log_add(&state(s)->log, "shutdown_request");
    atomic_fetch_add(&state(s)->shutdowns, 1);
    SS_SUPER(me(s), shutdown_request)(s, r);
}

static void tr_close_request(ss_server *s, ss_request *r)
{
    ct_log_add(&state(s)->log, "close_request");
    SS_SUPER(me(s), close_request)(s, r);
}

static void tr_handle_error(ss_server *s, ss_request *r, const ss_addr *c,
                            const ss_error *e)
{
    err_state *st = state(s);
    ct_log_add(&st->log, "handle_error");
    pthread_mutex_lock(&st->mu);
    st->last_err = *e;
    st->last_client = *c;
    st->fd_open_in_handle_error = r && r->fd >= 0 && fcntl(r->fd, F_GETFD) >= 0;
    pthread_mutex_unlock(&st->mu);
    if (st->pipe.wr >= 0) {
        char msg[SS_ADDRSTRLEN + SS_ERRMSG_MAX + 64];
        char addr[SS_ADDRSTRLEN];
        snprintf(msg, sizeof msg, "handle_error pid=%d code=%d client=%s\n",
                 (int)getpid(), e->code, ss_addr_format(c, addr, sizeof addr));
        ct_pipe_say(&st->pipe, msg);
    }
    atomic_fetch_add(&st->handle_errors, 1);
}

/* --- a handler that fails where it is told -------------------------------- */

static const ss_handler_class failing_handler_class;

static int fh_setup(ss_handler *h, ss_error *err)
{
    err_state *st = state(h->server);
    ct_log_add(&st->log, "setup");
    if (st->fail == FAIL_SETUP)
        return ss_error_set(err, SETUP_CODE, "setup refused");
    return SS_SUPER(&failing_handler_class, setup)(h, err);
}

static int fh_handle(ss_handler *h, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)h;
    err_state *st = state(h->server);
    ct_log_add(&st->log, "handle");
    char line[128];
    ssize_t n = ss_rfile_readline(&sh->rfile, line, sizeof line);
    if (n < 0)
        return ss_error_set(err, (int)n, "readline");
    switch (st->fail) {
    case FAIL_HANDLE:
    case FAIL_BOTH:
        return ss_error_set(err, HANDLE_CODE, "boom in handle");
    case FAIL_FATAL:
        ss_error_set(err, SS_EEXIT, "handler exits");
        return ss_error_fatal(err);
    default:
        return ss_wfile_write(&sh->wfile, line, (size_t)n);
    }
}

static int fh_finish(ss_handler *h, ss_error *err)
{
    err_state *st = state(h->server);
    ct_log_add(&st->log, "finish");
    int rc = SS_SUPER(&failing_handler_class, finish)(h, err);
    if (st->fail == FAIL_FINISH || st->fail == FAIL_BOTH)
        return ss_error_set(err, FINISH_CODE, "boom in finish");
    return rc;
}

static const ss_handler_class failing_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "FailingHandler",
    .setup = fh_setup,
    .handle = fh_handle,
    .finish = fh_finish,
};

/* --- harness ---------------------------------------------------------------- */

static void start(ss_server *srv, const ss_server_class *cls, err_state *st,
                  enum fail fail)
{
    memset(st, 0, sizeof *st);
    st->fail = fail;
    st->defining = cls;
    ct_log_init(&st->log);
    pthread_mutex_init(&st->mu, NULL);
    atomic_init(&st->handle_errors, 0);
    atomic_init(&st->shutdowns, 0);
    st->pipe.rd = st->pipe.wr = -1;
    if (cls == &tracing_forking_tcp)
        ct_pipe_open(&st->pipe);
    ss_addr a;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(srv, cls, &a,
                   cls == &tracing_udp ? &ct_echo_dgram_handler_class
                                       : &failing_handler_class);
    srv->data = st;
}

/* Sends a line; returns the reply's length (0: EOF without a reply). */
static ssize_t request(ss_server *srv, ss_addr *client, char *reply, size_t cap)
{
    int fd = ct_connect(&srv->server_address, SOCK_STREAM);
    if (client)
        ct_sockname(fd, client);
    cr_assert_eq(ts_write_full(fd, "ping\n", 5), 0);
    ssize_t n = ts_read_line(fd, reply, cap);
    cr_assert_geq(n, 0, "reading the reply: %s", strerror((int)-n));
    ct_close(fd);
    return n;
}

static bool log_has(err_state *st, const char *what, int times)
{
    char buf[4096];
    ct_log_get(&st->log, buf, sizeof buf);
    int n = 0;
    size_t wl = strlen(what);
    for (char *p = buf; (p = strstr(p, what)) != NULL; p += wl)
        if ((p == buf || p[-1] == ' ') && (p[wl] == ' ' || p[wl] == '\0'))
            n++;
    return n >= times;
}

typedef struct {
    err_state *st;
    const char *what;
    int times;
} log_wait;

static bool log_wait_pred(void *arg)
{
    log_wait *w = arg;
    return log_has(w->st, w->what, w->times);
}

static void wait_log(err_state *st, const char *what, int times)
{
    log_wait w = {st, what, times};
    char buf[4096];
    cr_assert(ct_wait_for(log_wait_pred, &w, CT_DEADLINE),
              "waited for %d x %s; log: %s", times, what,
              ct_log_get(&st->log, buf, sizeof buf));
}

static void assert_log(err_state *st, const char *want)
{
    char buf[4096];
    cr_assert_str_eq(ct_log_get(&st->log, buf, sizeof buf), want);
}

static void assert_handled_error(err_state *st, int code, const ss_addr *client)
{
    pthread_mutex_lock(&st->mu);
    ss_error e = st->last_err;
    ss_addr c = st->last_client;
    bool open = st->fd_open_in_handle_error;
    pthread_mutex_unlock(&st->mu);
    cr_assert_eq(e.code, code, "handle_error got code %d (%s), want %d",
                 e.code, e.msg, code);
    cr_assert_not(e.fatal);
    cr_assert_neq(e.msg[0], '\0', "the error carries no message");
    cr_assert_str_eq(ct_fmt(&c), ct_fmt(client),
                     "handle_error got the wrong client address");
    cr_assert(open, "handle_error must see the request still open");
}

/* --- sync -------------------------------------------------------------------- */

#define OK_TRACE                                                               \
    "verify_request process_request finish_request setup handle finish "       \
    "shutdown_request close_request"

Test(errors, sync_success_call_trace, .timeout = 30)
{
    ss_server srv;
    err_state st;
    start(&srv, &tracing_tcp, &st, FAIL_NONE);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    cr_assert_eq(ts_write_full(fd, "ping\n", 5), 0);
    cr_assert_eq(ss_server_handle_request(&srv), 0);
    assert_log(&st, OK_TRACE);
    ct_close(fd);
    ss_server_close(&srv);
}

/* CPython's test_sync_handled and the verified trace: handle_error comes
 * after finish and before shutdown_request. */
Test(errors, sync_handle_error_gets_client_and_error, .timeout = 30)
{
    ss_server srv;
    err_state st;
    start(&srv, &tracing_tcp, &st, FAIL_HANDLE);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    ss_addr client;
    ct_sockname(fd, &client);
    cr_assert_eq(ts_write_full(fd, "ping\n", 5), 0);
    cr_assert_eq(ss_server_handle_request(&srv), 0,
                 "a handled error is not handle_request's failure");
    assert_log(&st,
               "verify_request process_request finish_request setup handle "
               "finish handle_error shutdown_request close_request");
    assert_handled_error(&st, HANDLE_CODE, &client);
    char c;
    cr_assert_eq(ts_read_full(fd, &c, 1), 0, "the client must see EOF");
    ct_close(fd);
    ss_server_close(&srv);
}

Test(errors, sync_server_keeps_serving_after_handler_error, .timeout = 30)
{
    ss_server srv;
    err_state st;
    start(&srv, &tracing_tcp, &st, FAIL_HANDLE);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.05);
    char reply[64];
    ss_addr client;
    for (int i = 1; i <= 3; i++) {
        cr_assert_eq(request(&srv, &client, reply, sizeof reply), 0);
        wait_log(&st, "close_request", i);
        cr_assert_eq(atomic_load(&st.handle_errors), i);
        assert_handled_error(&st, HANDLE_CODE, &client);
    }
    cr_assert_not(atomic_load(&serve.done), "the error stopped the server");
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}

/* CPython's test_sync_not_handled: a fatal error skips handle_error, the
 * request is still shut down, and it ends handle_request with its code. */
Test(errors, sync_fatal_error_skips_handle_error, .timeout = 30)
{
    ss_server srv;
    err_state st;
    start(&srv, &tracing_tcp, &st, FAIL_FATAL);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    cr_assert_eq(ts_write_full(fd, "ping\n", 5), 0);
    int rc = ss_server_handle_request(&srv);
    cr_assert_eq(rc, SS_EEXIT, "handle_request returned %d", rc);
    assert_log(&st, "verify_request process_request finish_request setup "
                    "handle finish shutdown_request close_request");
    cr_assert_eq(atomic_load(&st.handle_errors), 0);
    char c;
    cr_assert_eq(ts_read_full(fd, &c, 1), 0);
    ct_close(fd);
    ss_server_close(&srv);
}

Test(errors, sync_fatal_error_stops_serve_forever, .timeout = 30)
{
    ss_server srv;
    err_state st;
    start(&srv, &tracing_tcp, &st, FAIL_FATAL);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 10.0);
    char reply[64];
    cr_assert_eq(request(&srv, NULL, reply, sizeof reply), 0);
    cr_assert(ct_serve_wait(&serve, CT_DEADLINE),
              "a fatal error must stop a sync serve_forever");
    cr_assert_eq(serve.rc, SS_EEXIT);
    cr_assert_eq(atomic_load(&st.handle_errors), 0);
    cr_assert_eq(atomic_load(&st.shutdowns), 1);
    ss_server_close(&srv);
}

/* The verified trace when setup raises: no handle, no finish. */
Test(errors, setup_failure_skips_handle_and_finish, .timeout = 30)
{
    ss_server srv;
    err_state st;
    start(&srv, &tracing_tcp, &st, FAIL_SETUP);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    ss_addr client;
    ct_sockname(fd, &client);
    cr_assert_eq(ts_write_full(fd, "ping\n", 5), 0);
    cr_assert_eq(ss_server_handle_request(&srv), 0);
    assert_log(&st, "verify_request process_request finish_request setup "
                    "handle_error shutdown_request close_request");
    assert_handled_error(&st, SETUP_CODE, &client);
    ct_close(fd);
    ss_server_close(&srv);
}

/* finish runs when handle fails; the request's error is then handle's. */
Test(errors, handle_error_wins_over_finish_error, .timeout = 30)
{
    ss_server srv;
    err_state st;
    start(&srv, &tracing_tcp, &st, FAIL_BOTH);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    ss_addr client;
    ct_sockname(fd, &client);
    cr_assert_eq(ts_write_full(fd, "ping\n", 5), 0);
    cr_assert_eq(ss_server_handle_request(&srv), 0);
    cr_assert(log_has(&st, "finish", 1), "finish must run after handle fails");
    cr_assert_eq(atomic_load(&st.handle_errors), 1);
    assert_handled_error(&st, HANDLE_CODE, &client);
    ct_close(fd);
    ss_server_close(&srv);
}

Test(errors, finish_error_reaches_handle_error, .timeout = 30)
{
    ss_server srv;
    err_state st;
    start(&srv, &tracing_tcp, &st, FAIL_FINISH);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    ss_addr client;
    ct_sockname(fd, &client);
    cr_assert_eq(ts_write_full(fd, "ping\n", 5), 0);
    cr_assert_eq(ss_server_handle_request(&srv), 0);
    cr_assert_eq(atomic_load(&st.handle_errors), 1);
    assert_handled_error(&st, FINISH_CODE, &client);
    ct_close(fd);
    ss_server_close(&srv);
}

/* bpo-26309: a refused request is shut down exactly once, and never
 * processed. */
static void check_refused(const ss_server_class *cls)
{
    ss_server srv;
    err_state st;
    start(&srv, cls, &st, FAIL_NONE);
    st.refuse = true;
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.05);
    char reply[64];
    cr_assert_eq(request(&srv, NULL, reply, sizeof reply), 0,
                 "a refused client must see EOF");
    wait_log(&st, "close_request", 1);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
    assert_log(&st, "verify_request shutdown_request close_request");
    cr_assert_eq(atomic_load(&st.shutdowns), 1);
}

Test(errors, refused_request_shut_down_once_sync, .timeout = 30)
{
    check_refused(&tracing_tcp);
}

Test(errors, refused_request_shut_down_once_threading, .timeout = 30)
{
    check_refused(&tracing_threading_tcp);
}

Test(errors, refused_request_shut_down_once_forking, .timeout = 30)
{
    check_refused(&tracing_forking_tcp);
}

Test(errors, refused_datagram_gets_no_reply, .timeout = 30)
{
    ss_server srv;
    err_state st;
    start(&srv, &tracing_udp, &st, FAIL_NONE);
    st.refuse = true;
    int fd = ct_connect(&srv.server_address, SOCK_DGRAM);
    cr_assert_eq(send(fd, "x", 1, 0), 1);
    cr_assert_eq(ss_server_handle_request(&srv), 0);
    cr_assert_eq(atomic_load(&st.shutdowns), 1);
    cr_assert_not(log_has(&st, "process_request", 1));
    cr_assert_not(ct_readable(fd, 0.2), "a refused datagram was answered");
    ct_close(fd);
    ss_server_close(&srv);
}

/* --- threading -------------------------------------------------------------- */

/* CPython's test_threading_handled. */
Test(errors, threading_handle_error_and_server_keeps_serving, .timeout = 30)
{
    ss_server srv;
    err_state st;
    start(&srv, &tracing_threading_tcp, &st, FAIL_HANDLE);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.05);
    char reply[64];
    ss_addr client;
    for (int i = 1; i <= 3; i++) {
        cr_assert_eq(request(&srv, &client, reply, sizeof reply), 0);
        wait_log(&st, "close_request", i);
        assert_handled_error(&st, HANDLE_CODE, &client);
    }
    cr_assert_eq(atomic_load(&st.handle_errors), 3);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
    assert_log(&st, "verify_request process_request finish_request setup "
                    "handle finish handle_error shutdown_request close_request "
                    "verify_request process_request finish_request setup "
                    "handle finish handle_error shutdown_request close_request "
                    "verify_request process_request finish_request setup "
                    "handle finish handle_error shutdown_request close_request");
}

/* CPython's test_threading_not_handled: the fatal error skips handle_error
 * and ends only its own request. */
Test(errors, threading_fatal_error_ends_only_its_request, .timeout = 30)
{
    ss_server srv;
    err_state st;
    start(&srv, &tracing_threading_tcp, &st, FAIL_FATAL);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.05);
    char reply[64];
    cr_assert_eq(request(&srv, NULL, reply, sizeof reply), 0);
    wait_log(&st, "close_request", 1);
    cr_assert_eq(atomic_load(&st.shutdowns), 1);
    cr_assert_eq(atomic_load(&st.handle_errors), 0);
    cr_assert_not(atomic_load(&serve.done));
    st.fail = FAIL_NONE; /* published to the next request thread by accept */
    cr_assert_eq(request(&srv, NULL, reply, sizeof reply), 5,
                 "the server must go on serving");
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}

/* --- forking ---------------------------------------------------------------- */

/* CPython's test_forking_handled: handle_error runs in the child; the server
 * keeps serving; server_close waits for the child so the report is there. */
Test(errors, forking_handle_error_runs_in_child, .timeout = 30)
{
    ss_server srv;
    err_state st;
    start(&srv, &tracing_forking_tcp, &st, FAIL_HANDLE);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.05);
    char reply[64];
    ss_addr client[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(request(&srv, &client[i], reply, sizeof reply), 0);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);

    char got[1024] = "";
    int lines = ct_pipe_read_lines(&st.pipe, got, sizeof got, 2, CT_DEADLINE);
    cr_assert_eq(lines, 2, "child reports: %s", got);
    char want[256];
    for (int i = 0; i < 2; i++) {
        snprintf(want, sizeof want, "code=%d client=%s\n", HANDLE_CODE,
                 ct_fmt(&client[i]));
        cr_assert_not_null(strstr(got, want), "missing %s in %s", want, got);
    }
    char mine[32];
    snprintf(mine, sizeof mine, "pid=%d ", (int)getpid());
    cr_assert_null(strstr(got, mine), "handle_error ran in the parent");
    cr_assert_eq(atomic_load(&st.handle_errors), 0,
                 "handle_error ran in the parent");
    ct_pipe_close(&st.pipe);
}

/* CPython's test_forking_not_handled. */
Test(errors, forking_fatal_error_skips_handle_error, .timeout = 30)
{
    ss_server srv;
    err_state st;
    start(&srv, &tracing_forking_tcp, &st, FAIL_FATAL);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.05);
    char reply[64];
    cr_assert_eq(request(&srv, NULL, reply, sizeof reply), 0);
    cr_assert_eq(ct_serve_stop(&serve), 0, "a child's fatal error must not "
                                           "stop the parent");
    ss_server_close(&srv);
    /* The child has exited (server_close waited); nothing may be reported. */
    close(st.pipe.wr);
    st.pipe.wr = -1;
    char got[512] = "";
    cr_assert_eq(ct_pipe_read_lines(&st.pipe, got, sizeof got, 1, 1.0), 0,
                 "handle_error ran for a fatal error: %s", got);
    ct_pipe_close(&st.pipe);
}

/* --- the default handle_error ------------------------------------------------ */

static const ss_handler_class boom_handler_class;
static int boom_handle(ss_handler *h, ss_error *err)
{
    (void)h;
    return ss_error_set(err, HANDLE_CODE, "boom-%d", 4242);
}
static const ss_handler_class boom_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "BoomHandler",
    .handle = boom_handle,
};

/* Python's report: 40 dashes, the client address, the error, on stderr. */
Test(errors, default_handle_error_reports_on_stderr, .timeout = 30)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s", ct_tmpdir());
    char path[300];
    snprintf(path, sizeof path, "%s/stderr", dir);
    int out = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert_geq(out, 0);

    ss_server srv;
    ss_addr a;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(&srv, &ss_tcp_server_class, &a, &boom_handler_class);
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    ss_addr client;
    ct_sockname(fd, &client);

    fflush(stderr);
    int saved = dup(2);
    dup2(out, 2);
    int rc = ss_server_handle_request(&srv);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    cr_assert_eq(rc, 0);

    char text[4096];
    ssize_t n = pread(out, text, sizeof text - 1, 0);
    cr_assert_gt(n, 0, "nothing on stderr");
    text[n] = '\0';
    cr_assert_not_null(strstr(text, "----------------------------------------"),
                       "%s", text);
    cr_assert_not_null(strstr(text, ct_fmt(&client)), "no client address: %s",
                       text);
    cr_assert_not_null(strstr(text, "boom-4242"), "no error message: %s", text);
    close(out);
    ct_close(fd);
    ss_server_close(&srv);
    ct_cleanup();
}
