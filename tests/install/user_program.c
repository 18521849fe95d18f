/* The README's example, built by a user against an installed libsockserv
 * (tests/install/test_install.sh).  Keep it identical to the README. */
#include <ctype.h>
#include <sockserv/sockserv.h>
#include <stdio.h>

/* A handler of your own embeds its base handler first. */
typedef struct { ss_stream_handler base; unsigned lines; } upper_handler;

static int upper_handle(ss_handler *h, ss_error *err)
{
    upper_handler *u = (upper_handler *)h;
    char line[4096];
    ssize_t n;
    while ((n = ss_rfile_readline(&u->base.rfile, line, sizeof line)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            line[i] = (char)toupper((unsigned char)line[i]);
        if ((n = ss_wfile_write(&u->base.wfile, line, (size_t)n)) < 0)
            break;
        u->lines++;
    }
    /* An error here reaches the server's handle_error, which keeps serving. */
    return n < 0 ? ss_error_set(err, (int)n, "upper: %s", ss_strerror((int)n)) : 0;
}

static const ss_handler_class upper_class = {
    .base = &ss_stream_request_handler_class,
    .name = "UpperHandler",
    .instance_size = sizeof(upper_handler),
    .handle = upper_handle,
};

int main(void)
{
    ss_server srv;
    ss_addr addr;
    ss_error err;
    if (ss_addr_parse(&addr, "127.0.0.1:9999", &err) < 0 ||
        ss_server_init(&srv, &ss_threading_tcp_server_class, &addr,
                       &upper_class, SS_BIND_AND_ACTIVATE, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    ss_server_serve_forever(&srv, 0.5); /* ss_server_shutdown() from any thread */
    ss_server_close(&srv);              /* joins the request threads */
    return 0;
}
