/* Several servers on one libuv loop the user runs (what Python users do with
 * fileno() and selectors): ss_server_attach / ss_server_detach. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#include "coretest.h"

typedef struct {
    atomic_int actions;
} at_state;

/* Each class's service_actions counts, then calls its own class's super. */
#define COUNTING_ACTIONS(fn, cls)                                              \
    static const ss_server_class cls;                                          \
    static void fn(ss_server *s)                                               \
    {                                                                          \
        at_state *st = s->data;                                                \
        atomic_fetch_add(&st->actions, 1);                                     \
        SS_SUPER(&cls, service_actions)(s);                                    \
    }

COUNTING_ACTIONS(at_tcp_actions, at_tcp)
COUNTING_ACTIONS(at_threading_tcp_actions, at_threading_tcp)
COUNTING_ACTIONS(at_udp_actions, at_udp)

static const ss_server_class at_tcp = {
    .base = &ss_tcp_server_class,
    .name = "AttachedTCPServer",
    .service_actions = at_tcp_actions,
};
static const ss_server_class at_threading_tcp = {
    .base = &ss_threading_tcp_server_class,
    .name = "AttachedThreadingTCPServer",
    .service_actions = at_threading_tcp_actions,
};
static const ss_server_class at_udp = {
    .base = &ss_udp_server_class,
    .name = "AttachedUDPServer",
    .service_actions = at_udp_actions,
};

/* The test's loop, run on a thread of its own; an async handle asks it to
 * detach the servers (on the loop's thread, as the API requires) and end. */
typedef struct {
    uv_loop_t loop;
    uv_async_t stop;
    ss_server *servers[4];
    int nservers;
    pthread_t thread;
    int run_rc;
} user_loop;

static void on_stop(uv_async_t *a)
{
    user_loop *u = a->data;
    for (int i = 0; i < u->nservers; i++)
        ss_server_detach(u->servers[i]);
    uv_close((uv_handle_t *)&u->stop, NULL);
}

static void *loop_main(void *arg)
{
    user_loop *u = arg;
    u->run_rc = uv_run(&u->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void loop_start(user_loop *u)
{
    cr_assert_eq(pthread_create(&u->thread, NULL, loop_main, u), 0);
}

static void loop_stop(user_loop *u)
{
    cr_assert_eq(uv_async_send(&u->stop), 0);
    pthread_join(u->thread, NULL);
    /* Every handle the servers had on the loop is closed after detach. */
    cr_assert_eq(uv_loop_close(&u->loop), 0,
                 "detach left handles open on the user's loop");
}

static void loop_init(user_loop *u)
{
    memset(u, 0, sizeof *u);
    cr_assert_eq(uv_loop_init(&u->loop), 0);
    cr_assert_eq(uv_async_init(&u->loop, &u->stop, on_stop), 0);
    u->stop.data = u;
}

static void attach(user_loop *u, ss_server *srv)
{
    int rc = ss_server_attach(srv, &u->loop, 0.02);
    cr_assert_eq(rc, 0, "attach: %d", rc);
    u->servers[u->nservers++] = srv;
}

static void make(ss_server *srv, const ss_server_class *cls, at_state *st)
{
    ss_addr a;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(srv, cls, &a,
                   cls == &at_udp ? &ct_echo_dgram_handler_class
                                  : &ct_echo_line_handler_class);
    atomic_init(&st->actions, 0);
    srv->data = st;
}

Test(attach, two_servers_share_the_users_loop, .timeout = 30)
{
    user_loop u;
    loop_init(&u);
    ss_server a, b;
    at_state sa, sb;
    make(&a, &at_tcp, &sa);
    make(&b, &at_udp, &sb);
    attach(&u, &a);
    attach(&u, &b);
    loop_start(&u);
    for (int i = 0; i < 3; i++) {
        ct_echo_check(&a.server_address, SOCK_STREAM);
        ct_echo_check(&b.server_address, SOCK_DGRAM);
    }
    cr_assert(ct_wait_count(&sa.actions, 3, CT_DEADLINE),
              "service_actions did not run on the user's loop");
    cr_assert(ct_wait_count(&sb.actions, 3, CT_DEADLINE));
    loop_stop(&u);
    cr_assert_eq(u.run_rc, 0);
    ss_server_close(&a);
    ss_server_close(&b);
    cr_assert_eq(a.socket, -1);
    cr_assert_eq(b.socket, -1);
}

Test(attach, threading_server_on_the_users_loop, .timeout = 30)
{
    user_loop u;
    loop_init(&u);
    ss_server a, b;
    at_state sa, sb;
    make(&a, &at_threading_tcp, &sa);
    make(&b, &at_tcp, &sb);
    attach(&u, &a);
    attach(&u, &b);
    loop_start(&u);
    for (int i = 0; i < 5; i++) {
        ct_echo_check(&a.server_address, SOCK_STREAM);
        ct_echo_check(&b.server_address, SOCK_STREAM);
    }
    loop_stop(&u);
    ss_server_close(&a); /* joins the request threads */
    ss_server_close(&b);
    cr_assert_eq(ss_threading_active_threads(&a), 0);
}

Test(attach, attaching_twice_or_serving_while_attached_is_busy,
     .timeout = 30)
{
    user_loop u;
    loop_init(&u);
    ss_server a;
    at_state sa;
    make(&a, &at_tcp, &sa);
    attach(&u, &a);
    cr_assert_eq(ss_server_attach(&a, &u.loop, 0.02), -EBUSY);
    cr_assert_eq(ss_server_serve_forever(&a, 0.02), -EBUSY);
    loop_start(&u);
    ct_echo_check(&a.server_address, SOCK_STREAM);
    loop_stop(&u);
    ss_server_close(&a);
}

/* After detach the server is free again: attach it to a second loop, then
 * serve_forever it. */
Test(attach, detach_then_attach_elsewhere_then_serve, .timeout = 30)
{
    ss_server a;
    at_state sa;
    make(&a, &at_tcp, &sa);
    for (int round = 0; round < 2; round++) {
        user_loop u;
        loop_init(&u);
        attach(&u, &a);
        loop_start(&u);
        ct_echo_check(&a.server_address, SOCK_STREAM);
        loop_stop(&u);
    }
    ct_serve serve;
    ct_serve_start(&serve, &a, 0.05);
    ct_echo_check(&a.server_address, SOCK_STREAM);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&a);
}
