/* A downstream program: binds a threading TCP server on a free loopback
 * port through libsockserv built as a meson subproject. */
#include <sockserv/sockserv.h>
#include <stdio.h>

int main(void)
{
    ss_server srv;
    ss_addr addr;
    ss_error err;
    if (ss_addr_parse(&addr, "127.0.0.1:0", &err) < 0 ||
        ss_server_init(&srv, &ss_threading_tcp_server_class, &addr,
                       &ss_stream_request_handler_class, SS_BIND_AND_ACTIVATE,
                       &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char text[SS_ADDRSTRLEN];
    printf("bound %s\n", ss_addr_format(&srv.server_address, text, sizeof text));
    ss_server_close(&srv);
    return 0;
}
