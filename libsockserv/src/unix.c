/* unix.c - UnixStreamServer and UnixDatagramServer: TCPServer and
 * UDPServer with address_family AF_UNIX.  Like Python, closing the server
 * does not remove the socket file: the program that chose the path does. */
#include <sys/socket.h>

#include <sockserv/server.h>

static void unix_stream_configure(ss_server *s)
{
    SS_SUPER(&ss_unix_stream_server_class, configure)(s);
    s->address_family = AF_UNIX;
}

static void unix_datagram_configure(ss_server *s)
{
    SS_SUPER(&ss_unix_datagram_server_class, configure)(s);
    s->address_family = AF_UNIX;
}

const ss_server_class ss_unix_stream_server_class = {
    .base = &ss_tcp_server_class,
    .name = "UnixStreamServer",
    .configure = unix_stream_configure,
};

const ss_server_class ss_unix_datagram_server_class = {
    .base = &ss_udp_server_class,
    .name = "UnixDatagramServer",
    .configure = unix_datagram_configure,
};
