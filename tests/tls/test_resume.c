/* tests/tls/test_resume.c - extra connections of a session (an FTP data
 * channel) that must resume the control connection's TLS session: TLS 1.3
 * tickets, TLS 1.2 tickets and TLS 1.2 session ids are accepted; a fresh
 * session, or the session of another control connection, is refused. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "support.h"
#include "tlstest.h"

typedef struct fixture {
    ss_tls_context sctx, cctx;
    tt_server t;
} fixture;

/* A server whose control connections are implicit TLS (stateful with
 * server_no_tickets) and whose DATA command requires resumption. */
static void setup_fx(fixture *f, int client_max, bool client_no_tickets,
                     bool require)
{
    tt_server_ctx(&f->sctx, NULL);
    tt_client_ctx(&f->cctx, &(ss_tls_options){.max_version = client_max,
                                              .no_tickets = client_no_tickets});
    tt_server_prepare(&f->t, &ss_threading_tcp_server_class, &f->sctx);
    f->t.data_ctx = &f->sctx;
    f->t.data_require_resume = require;
    tt_server_data_listener(&f->t);
    tt_server_run(&f->t);
}

static void teardown_fx(fixture *f)
{
    tt_server_stop(&f->t);
    ss_tls_context_close(&f->cctx);
    ss_tls_context_close(&f->sctx);
}

/* Opens a control connection and reads once (TLS 1.3 tickets arrive
 * after the handshake). */
static void control(fixture *f, tt_client *c)
{
    tt_client_open(c, &f->t.addr, &f->cctx, NULL);
    char buf[64];
    tt_client_exchange(c, "ping\n", buf, sizeof buf);
    cr_assert_str_eq(buf, "ping\n");
}

/* DATA on ctrl; the data connection resumes `resume` (NULL: none).
 * Returns the control reply in reply and whether the data connection got
 * its "data\n" line. */
static bool data(fixture *f, tt_client *ctrl, const ss_tls_conn *resume,
                 char *reply, size_t cap)
{
    cr_assert_eq(tt_write(&ctrl->conn.base, "DATA\n"), 0);
    int fd = tt_connect(&f->t.data_addr);
    ss_tls_conn dc;
    ss_error err;
    bool got = false;
    if (ss_tls_connect(&dc, &f->cctx, fd, "localhost", resume, &err) == 0) {
        char line[32];
        got = tt_readline(&dc.base, line, sizeof line) > 0 &&
              strcmp(line, "data\n") == 0;
        if (resume && got)
            cr_assert(ss_tls_conn_session_reused(&dc), "client: not resumed");
        ss_tls_conn_close(&dc);
    }
    close(fd);
    cr_assert_gt(tt_readline(&ctrl->conn.base, reply, cap), 0);
    return got;
}

static void resumed_data_channel_accepted(int client_max, bool no_tickets,
                                          const char *version)
{
    fixture f;
    setup_fx(&f, client_max, no_tickets, true);
    tt_client c;
    control(&f, &c);
    cr_assert_str_eq(ss_tls_conn_version(&c.conn), version);
    char reply[256];
    /* Three times: TLS 1.3 tickets are single-use, so later data channels
     * resume the tickets the earlier ones received. */
    for (int i = 0; i < 3; i++) {
        bool got = data(&f, &c, &c.conn, reply, sizeof reply);
        cr_assert_str_eq(reply, "DATA OK 1\n", "round %d: %s", i, reply);
        cr_assert(got);
    }
    tt_client_close(&c);
    teardown_fx(&f);
}

Test(resume, tls13_ticket_resumes_the_control_session)
{
    resumed_data_channel_accepted(0, false, "TLSv1.3");
}

Test(resume, tls12_ticket_resumes_the_control_session)
{
    resumed_data_channel_accepted(0x0303, false, "TLSv1.2");
}

Test(resume, tls12_session_id_resumes_the_control_session)
{
    resumed_data_channel_accepted(0x0303, true, "TLSv1.2");
}

/* A server that gives data channels no tickets: each resumption makes the
 * control connection send the next ticket with its next reply. */
Test(resume, tls13_data_channels_without_tickets_of_their_own)
{
    fixture f;
    setup_fx(&f, 0, false, true);
    tt_client c;
    control(&f, &c);
    char reply[256];
    tt_client_exchange(&c, "NOTICKETS\n", reply, sizeof reply);
    cr_assert_str_eq(reply, "OK\n");
    for (int i = 0; i < 4; i++) {
        bool got = data(&f, &c, &c.conn, reply, sizeof reply);
        cr_assert_str_eq(reply, "DATA OK 1\n", "round %d: %s", i, reply);
        cr_assert(got);
    }
    tt_client_close(&c);
    teardown_fx(&f);
}

static void fresh_session_refused(int client_max, bool no_tickets)
{
    fixture f;
    setup_fx(&f, client_max, no_tickets, true);
    tt_client c;
    control(&f, &c);
    char reply[256];
    bool got = data(&f, &c, NULL, reply, sizeof reply);
    cr_assert(strstr(reply, "DATA REFUSED session reuse required"), "%s", reply);
    cr_assert(strstr(reply, "did not resume"), "%s", reply);
    cr_assert_not(got, "the refused data connection carried data");
    tt_client_close(&c);
    teardown_fx(&f);
}

Test(resume, tls13_fresh_session_is_refused)
{
    fresh_session_refused(0, false);
}

Test(resume, tls12_fresh_session_is_refused)
{
    fresh_session_refused(0x0303, false);
}

Test(resume, tls12_fresh_session_without_tickets_is_refused)
{
    fresh_session_refused(0x0303, true);
}

/* Another client's session is a valid session of this server, but not of
 * this control connection: a stolen data channel. */
static void other_control_session_refused(int client_max, bool no_tickets)
{
    fixture f;
    setup_fx(&f, client_max, no_tickets, true);
    tt_client a, b;
    control(&f, &a);
    control(&f, &b);
    char reply[256];
    bool got = data(&f, &a, &b.conn, reply, sizeof reply);
    cr_assert(strstr(reply, "DATA REFUSED session reuse required"), "%s", reply);
    cr_assert(strstr(reply, "another connection"), "%s", reply);
    cr_assert_not(got);
    /* a's own session still works afterwards. */
    got = data(&f, &a, &a.conn, reply, sizeof reply);
    cr_assert_str_eq(reply, "DATA OK 1\n");
    tt_client_close(&a);
    tt_client_close(&b);
    teardown_fx(&f);
}

Test(resume, tls13_session_of_another_control_connection_is_refused)
{
    other_control_session_refused(0, false);
}

Test(resume, tls12_session_id_of_another_control_connection_is_refused)
{
    other_control_session_refused(0x0303, true);
}

/* Without the requirement a fresh session is fine (the config key off). */
Test(resume, not_required_accepts_a_fresh_session)
{
    fixture f;
    setup_fx(&f, 0, false, false);
    tt_client c;
    control(&f, &c);
    char reply[256];
    cr_assert(data(&f, &c, NULL, reply, sizeof reply));
    cr_assert_str_eq(reply, "DATA OK 0\n");
    tt_client_close(&c);
    teardown_fx(&f);
}

/* A STARTTLS control connection (FTP's AUTH TLS) works the same way. */
Test(resume, starttls_control_connection_is_resumed)
{
    fixture f;
    tt_server_ctx(&f.sctx, NULL);
    tt_client_ctx(&f.cctx, NULL);
    tt_server_prepare(&f.t, &ss_threading_tcp_server_class, NULL);
    f.t.starttls = &f.sctx;
    f.t.data_ctx = &f.sctx;
    f.t.data_require_resume = true;
    tt_server_data_listener(&f.t);
    tt_server_run(&f.t);

    tt_client c;
    c.fd = tt_connect(&f.t.addr);
    char line[256];
    cr_assert_eq(ts_write_full(c.fd, "STARTTLS\n", 9), 0);
    cr_assert_gt(ts_read_line(c.fd, line, sizeof line), 0);
    cr_assert_str_eq(line, "OK\n");
    ss_error err;
    cr_assert_eq(ss_tls_connect(&c.conn, &f.cctx, c.fd, "localhost", NULL, &err),
                 0, "%s", err.msg);
    tt_client_exchange(&c, "ping\n", line, sizeof line);
    cr_assert(data(&f, &c, &c.conn, line, sizeof line));
    cr_assert_str_eq(line, "DATA OK 1\n");
    data(&f, &c, NULL, line, sizeof line);
    cr_assert(strstr(line, "DATA REFUSED session reuse required"), "%s", line);
    tt_client_close(&c);
    teardown_fx(&f);
}
