/* examples/echo/echo_handler.h - the two echo request handlers.
 *
 * EchoStreamHandler (a StreamRequestHandler) sends every byte back until the
 * client closes.  EchoDatagramHandler (a DatagramRequestHandler) copies the
 * datagram into its wfile; the library's finish() sends it back to the
 * sender.  Both read their settings from the server's data pointer, which
 * must point to an echo_settings that outlives the server.
 */
#ifndef ECHO_HANDLER_H
#define ECHO_HANDLER_H

#include <stdbool.h>
#include <sys/types.h>

#include <sockserv/sockserv.h>

typedef struct echo_settings {
    bool verbose;     /* one line per connection (or datagram) on stderr */
    pid_t server_pid; /* the serving process: anything else is a forked child */
} echo_settings;

extern const ss_handler_class echo_stream_handler_class;
extern const ss_handler_class echo_datagram_handler_class;
/* --mode uv: the same echo as callbacks on the serving loop (EventMixIn),
 * for streams and datagrams alike. */
extern const ss_event_handler_class echo_event_handler_class;

#endif
