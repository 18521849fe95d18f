/* Classes and super: a user class derived from ThreadingTCPServer whose
 * overrides call super, a grandchild of it (super must not recurse), a user
 * base class with a mixin layer of its own (the mixin's super reaches the
 * user's class), and a handler class hierarchy. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coretest.h"

typedef struct {
    atomic_int my_process, grand_process, my_close, my_finish, my_verify;
    atomic_int recursion; /* a super call came back into its caller */
    pthread_mutex_t mu;
    pthread_t serve_thread;
    atomic_int on_serve_thread; /* handlers that ran on the serving thread */
} sup_state;

static void sup_init(sup_state *st)
{
    memset(st, 0, sizeof *st);
    atomic_init(&st->my_process, 0);
    atomic_init(&st->grand_process, 0);
    atomic_init(&st->my_close, 0);
    atomic_init(&st->my_finish, 0);
    atomic_init(&st->my_verify, 0);
    atomic_init(&st->recursion, 0);
    atomic_init(&st->on_serve_thread, 0);
    pthread_mutex_init(&st->mu, NULL);
}

/* Depth of process_request overrides on this thread: a super call that
 * recursed would come back here instead of reaching the library. */
static __thread int pr_depth;

/* --- MyThreadingTCPServer(ThreadingTCPServer) --------------------------------- */

static int my_process_request(ss_server *s, ss_request *r, const ss_addr *c,
                              ss_error *e);
static void my_server_close(ss_server *s);

static const ss_server_class my_threading_tcp = {
    .base = &ss_threading_tcp_server_class,
    .name = "MyThreadingTCPServer",
    .process_request = my_process_request,
    .server_close = my_server_close,
};

static int my_process_request(ss_server *s, ss_request *r, const ss_addr *c,
                              ss_error *e)
{
    sup_state *st = s->data;
    if (++pr_depth > 2) {
        atomic_fetch_add(&st->recursion, 1);
        --pr_depth;
        return ss_error_set(e, -ELOOP, "super recursed");
    }
    atomic_fetch_add(&st->my_process, 1);
    int rc = SS_SUPER(&my_threading_tcp, process_request)(s, r, c, e);
    --pr_depth;
    return rc;
}

static void my_server_close(ss_server *s)
{
    sup_state *st = s->data;
    atomic_fetch_add(&st->my_close, 1);
    SS_SUPER(&my_threading_tcp, server_close)(s);
}

/* --- GrandChildServer(MyThreadingTCPServer) ---------------------------------- */

static int grand_process_request(ss_server *s, ss_request *r, const ss_addr *c,
                                 ss_error *e);

static const ss_server_class grand_child_server = {
    .base = &my_threading_tcp,
    .name = "GrandChildServer",
    .process_request = grand_process_request,
};

static int grand_process_request(ss_server *s, ss_request *r, const ss_addr *c,
                                 ss_error *e)
{
    sup_state *st = s->data;
    atomic_fetch_add(&st->grand_process, 1);
    return SS_SUPER(&grand_child_server, process_request)(s, r, c, e);
}

/* A handler reporting whether it runs on the serving thread. */
static const ss_handler_class where_handler_class;

static int where_handle(ss_handler *h, ss_error *err)
{
    sup_state *st = h->server->data;
    pthread_mutex_lock(&st->mu);
    if (pthread_equal(pthread_self(), st->serve_thread))
        atomic_fetch_add(&st->on_serve_thread, 1);
    pthread_mutex_unlock(&st->mu);
    return SS_SUPER(&where_handler_class, handle)(h, err);
}

static const ss_handler_class where_handler_class = {
    .base = &ct_echo_line_handler_class,
    .name = "WhereHandler",
    .handle = where_handle,
};

static void serve_n(ss_server *srv, sup_state *st, int n)
{
    ct_serve serve;
    pthread_mutex_lock(&st->mu);
    ct_serve_start(&serve, srv, 0.05);
    st->serve_thread = serve.thread;
    pthread_mutex_unlock(&st->mu);
    for (int i = 0; i < n; i++)
        ct_echo_check(&srv->server_address, SOCK_STREAM);
    cr_assert_eq(ct_serve_stop(&serve), 0);
}

static void make(ss_server *srv, const ss_server_class *cls, sup_state *st)
{
    ss_addr a;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(srv, cls, &a, &where_handler_class);
    srv->data = st;
}

/* The acceptance test: process_request and server_close call super
 * and the threading still happens. */
Test(super, user_derived_threading_tcp_server, .timeout = 30)
{
    sup_state st;
    sup_init(&st);
    ss_server srv;
    make(&srv, &my_threading_tcp, &st);
    serve_n(&srv, &st, 3);
    cr_assert_eq(atomic_load(&st.my_process), 3);
    cr_assert_eq(atomic_load(&st.recursion), 0);
    cr_assert_eq(atomic_load(&st.on_serve_thread), 0,
                 "super did not reach ThreadingMixIn.process_request");
    ss_server_close(&srv);
    cr_assert_eq(atomic_load(&st.my_close), 1);
    cr_assert_eq(srv.socket, -1, "super did not reach TCPServer.server_close");
    cr_assert_eq(ss_threading_active_threads(&srv), 0);
    cr_assert_eq(ss_server_mixin_base(&srv, &ss_threading_mixin),
                 &ss_tcp_server_class,
                 "the mixin must be found mixed into TCPServer");
    cr_assert_null(ss_server_mixin_base(&srv, &ss_forking_mixin));
}

Test(super, grandchild_super_does_not_recurse, .timeout = 30)
{
    sup_state st;
    sup_init(&st);
    ss_server srv;
    make(&srv, &grand_child_server, &st);
    serve_n(&srv, &st, 3);
    cr_assert_eq(atomic_load(&st.recursion), 0,
                 "a super call recursed into its own class");
    cr_assert_eq(atomic_load(&st.grand_process), 3);
    cr_assert_eq(atomic_load(&st.my_process), 3);
    cr_assert_eq(atomic_load(&st.on_serve_thread), 0);
    ss_server_close(&srv);
    cr_assert_eq(atomic_load(&st.my_close), 1, "inherited server_close");
    cr_assert_eq(srv.socket, -1);
    cr_assert_eq(ss_server_mixin_base(&srv, &ss_threading_mixin),
                 &ss_tcp_server_class);
}

/* The vtable resolves NULL slots from the bases. */
Test(super, slots_resolve_through_bases)
{
    ss_slot_fn f = ss_class_lookup(&grand_child_server,
                                   offsetof(ss_server_class, server_close));
    cr_assert_eq(f, (ss_slot_fn)my_server_close);
    f = ss_class_lookup(&grand_child_server,
                        offsetof(ss_server_class, process_request));
    cr_assert_eq(f, (ss_slot_fn)grand_process_request);
    cr_assert_eq(SS_SUPER(&grand_child_server, process_request),
                 my_process_request);
    cr_assert_eq(SS_SUPER(&my_threading_tcp, process_request),
                 ss_threading_mixin_process_request);
    cr_assert_eq(SS_SUPER(&my_threading_tcp, server_close),
                 ss_threading_mixin_server_close);
    cr_assert_not_null(SS_SUPER(&ss_tcp_server_class, verify_request));
}

/* --- a user base class with its own mixin layer ------------------------------ */

static int mt_finish_request(ss_server *s, ss_request *r, const ss_addr *c,
                             ss_error *e);
static bool mt_verify_request(ss_server *s, ss_request *r, const ss_addr *c);
static void mt_server_close(ss_server *s);

static const ss_server_class my_tcp = {
    .base = &ss_tcp_server_class,
    .name = "MyTCPServer",
    .verify_request = mt_verify_request,
    .finish_request = mt_finish_request,
    .server_close = mt_server_close,
};

static const ss_server_class my_threading_layer = {
    .base = &my_tcp,
    .name = "MyThreadingTCPServer2",
    SS_THREADING_MIXIN_SLOTS,
};

static const ss_server_class my_forking_layer = {
    .base = &my_tcp,
    .name = "MyForkingTCPServer",
    SS_FORKING_MIXIN_SLOTS,
};

static bool mt_verify_request(ss_server *s, ss_request *r, const ss_addr *c)
{
    sup_state *st = s->data;
    atomic_fetch_add(&st->my_verify, 1);
    return SS_SUPER(&my_tcp, verify_request)(s, r, c);
}

static int mt_finish_request(ss_server *s, ss_request *r, const ss_addr *c,
                             ss_error *e)
{
    sup_state *st = s->data;
    atomic_fetch_add(&st->my_finish, 1);
    return SS_SUPER(&my_tcp, finish_request)(s, r, c, e);
}

static void mt_server_close(ss_server *s)
{
    sup_state *st = s->data;
    atomic_fetch_add(&st->my_close, 1);
    SS_SUPER(&my_tcp, server_close)(s);
}

Test(super, own_threading_layer_over_user_class, .timeout = 30)
{
    sup_state st;
    sup_init(&st);
    ss_server srv;
    make(&srv, &my_threading_layer, &st);
    cr_assert_not(srv.daemon_threads, "the mixin's configure did not run");
    cr_assert(srv.block_on_close);
    serve_n(&srv, &st, 3);
    cr_assert_eq(atomic_load(&st.my_verify), 3);
    cr_assert_eq(atomic_load(&st.my_finish), 3,
                 "the request thread must go through MyTCPServer's "
                 "finish_request");
    cr_assert_eq(atomic_load(&st.on_serve_thread), 0,
                 "requests did not run on threads of their own");
    cr_assert_eq(ss_server_mixin_base(&srv, &ss_threading_mixin), &my_tcp);
    ss_server_close(&srv);
    cr_assert_eq(atomic_load(&st.my_close), 1,
                 "the mixin's server_close must reach MyTCPServer's");
    cr_assert_eq(srv.socket, -1);
}

Test(super, own_forking_layer_over_user_class, .timeout = 30)
{
    sup_state st;
    sup_init(&st);
    ss_server srv;
    make(&srv, &my_forking_layer, &st);
    cr_assert_eq(srv.max_children, 40);
    serve_n(&srv, &st, 3);
    cr_assert_eq(atomic_load(&st.my_verify), 3);
    cr_assert_eq(ss_server_mixin_base(&srv, &ss_forking_mixin), &my_tcp);
    ss_server_close(&srv);
    cr_assert_eq(atomic_load(&st.my_close), 1);
    cr_assert_eq(srv.socket, -1);
    cr_assert_eq(ss_forking_active_children(&srv, NULL, 0), 0);
}

/* --- handler classes ---------------------------------------------------------- */

typedef struct {
    ss_stream_handler base;
    int marker;
    char prefix[8];
} a_handler;

typedef struct {
    atomic_int a_setup, b_setup, a_finish;
} hsup_state;

static const ss_handler_class a_handler_class;
static const ss_handler_class b_handler_class;

static int a_setup(ss_handler *h, ss_error *err)
{
    hsup_state *st = h->server->data;
    atomic_fetch_add(&st->a_setup, 1);
    int rc = SS_SUPER(&a_handler_class, setup)(h, err);
    if (rc < 0)
        return rc;
    a_handler *a = (a_handler *)h;
    a->marker = 0x5eed;
    snprintf(a->prefix, sizeof a->prefix, "A:");
    return 0;
}

static int a_handle(ss_handler *h, ss_error *err)
{
    a_handler *a = (a_handler *)h;
    char line[128];
    ssize_t n = ss_rfile_readline(&a->base.rfile, line, sizeof line);
    if (n < 0)
        return ss_error_set(err, (int)n, "readline");
    if (a->marker != 0x5eed)
        return ss_error_set(err, -EINVAL, "setup did not run");
    return ss_wfile_printf(&a->base.wfile, "%s%.*s", a->prefix, (int)n, line);
}

static int a_finish(ss_handler *h, ss_error *err)
{
    hsup_state *st = h->server->data;
    atomic_fetch_add(&st->a_finish, 1);
    return SS_SUPER(&a_handler_class, finish)(h, err);
}

static const ss_handler_class a_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "AHandler",
    .instance_size = sizeof(a_handler),
    .setup = a_setup,
    .handle = a_handle,
    .finish = a_finish,
};

static int b_setup(ss_handler *h, ss_error *err)
{
    hsup_state *st = h->server->data;
    atomic_fetch_add(&st->b_setup, 1);
    int rc = SS_SUPER(&b_handler_class, setup)(h, err);
    if (rc < 0)
        return rc;
    snprintf(((a_handler *)h)->prefix, sizeof((a_handler *)h)->prefix, "B:");
    return 0;
}

/* instance_size 0: inherits AHandler's, which B's setup relies on. */
static const ss_handler_class b_handler_class = {
    .base = &a_handler_class,
    .name = "BHandler",
    .setup = b_setup,
};

static void check_handler(const ss_handler_class *cls, const char *want,
                          int a_setups, int b_setups)
{
    hsup_state st;
    atomic_init(&st.a_setup, 0);
    atomic_init(&st.b_setup, 0);
    atomic_init(&st.a_finish, 0);
    ss_server srv;
    ss_addr a;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(&srv, &ss_tcp_server_class, &a, cls);
    srv.data = &st;
    int fd = ct_connect(&srv.server_address, SOCK_STREAM);
    cr_assert_eq(ts_write_full(fd, "hi\n", 3), 0);
    cr_assert_eq(ss_server_handle_request(&srv), 0);
    char line[64];
    cr_assert_gt(ts_read_line(fd, line, sizeof line), 0);
    cr_assert_str_eq(line, want);
    cr_assert_eq(atomic_load(&st.a_setup), a_setups);
    cr_assert_eq(atomic_load(&st.b_setup), b_setups);
    cr_assert_eq(atomic_load(&st.a_finish), 1);
    ct_close(fd);
    ss_server_close(&srv);
}

Test(super, handler_setup_super_reaches_stream_handler, .timeout = 30)
{
    check_handler(&a_handler_class, "A:hi\n", 1, 0);
}

Test(super, handler_grandchild_setup_runs_each_level_once, .timeout = 30)
{
    check_handler(&b_handler_class, "B:hi\n", 1, 1);
}
