/* examples/echo/echo_handler.c - see echo_handler.h. */
#include "echo_handler.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

static const echo_settings *settings_of(ss_handler *h)
{
    return (const echo_settings *)h->server->data;
}

/* The server blocks SIGINT and SIGTERM in every thread so that only its
 * signal thread sees them.  A forked child has no such thread: give it the
 * default behaviour back, so it can be stopped like any process (a terminal's
 * Ctrl-C reaches the whole process group, children included, as it does for
 * Python's ForkingMixIn).  A signal sent to the server's pid alone never
 * reaches the children, which then finish their clients. */
static void restore_signals_in_child(ss_handler *h)
{
    if (getpid() == settings_of(h)->server_pid)
        return;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static void log_request(ss_handler *h, const char *what, size_t len)
{
    if (!settings_of(h)->verbose)
        return;
    char addr[SS_ADDRSTRLEN];
    ss_addr_format(&h->client_address, addr, sizeof addr);
    /* One fprintf per line: stdio locks the stream, so lines from
     * concurrent threads do not interleave. */
    if (len == (size_t)-1)
        fprintf(stderr, "echo-server: %s from %s\n", what, addr);
    else
        fprintf(stderr, "echo-server: %s from %s, %zu bytes\n", what, addr, len);
}

/* --- stream ------------------------------------------------------------ */

static int echo_stream_setup(ss_handler *self, ss_error *err)
{
    restore_signals_in_child(self);
    log_request(self, "connection", (size_t)-1);
    return SS_SUPER(&echo_stream_handler_class, setup)(self, err);
}

static int echo_stream_handle(ss_handler *self, ss_error *err)
{
    ss_stream_handler *sh = (ss_stream_handler *)self;
    /* As big as the messages people echo: a 64 KiB message is one read and
     * one write (reads this size bypass rfile's buffer), not eight. */
    unsigned char buf[65536];
    for (;;) {
        /* read1 semantics: whatever has arrived, without waiting to fill
         * buf, so an interactive client gets each line back at once. */
        ssize_t n = ss_rfile_read(&sh->rfile, buf, sizeof buf);
        if (n == 0)
            return 0; /* the client closed: we are done */
        if (n < 0)
            return ss_error_set(err, (int)n, "echo: read: %s",
                                ss_strerror((int)n));
        int rc = ss_wfile_write(&sh->wfile, buf, (size_t)n);
        if (rc < 0)
            return ss_error_set(err, rc, "echo: write: %s", ss_strerror(rc));
    }
}

/* Each read is answered by one write: without TCP_NODELAY the last small
 * segment of a large echo waits for the peer's delayed ACK (40 ms).  Not on
 * unix sockets, where the option does not exist. */
static void echo_stream_configure(ss_handler *self)
{
    SS_SUPER(&echo_stream_handler_class, configure)(self);
    if (self->server->address_family != AF_UNIX)
        ((ss_stream_handler *)self)->disable_nagle_algorithm = true;
}

const ss_handler_class echo_stream_handler_class = {
    .base = &ss_stream_request_handler_class,
    .name = "EchoStreamHandler",
    .configure = echo_stream_configure,
    .setup = echo_stream_setup,
    .handle = echo_stream_handle,
};

/* --- datagram ---------------------------------------------------------- */

static int echo_datagram_setup(ss_handler *self, ss_error *err)
{
    restore_signals_in_child(self);
    int rc = SS_SUPER(&echo_datagram_handler_class, setup)(self, err);
    if (rc == 0)
        log_request(self, "datagram",
                    ((ss_datagram_handler *)self)->packet_len);
    return rc;
}

static int echo_datagram_handle(ss_handler *self, ss_error *err)
{
    ss_datagram_handler *dh = (ss_datagram_handler *)self;
    unsigned char buf[SS_DEFAULT_BUFFER_SIZE];
    ssize_t n;
    /* The rfile is the packet in memory: this loop ends with the packet. */
    while ((n = ss_rfile_read(&dh->rfile, buf, sizeof buf)) > 0) {
        int rc = ss_wfile_write(&dh->wfile, buf, (size_t)n);
        if (rc < 0)
            return ss_error_set(err, rc, "echo: reply: %s", ss_strerror(rc));
    }
    if (n < 0)
        return ss_error_set(err, (int)n, "echo: read: %s", ss_strerror((int)n));
    return 0; /* finish() sends the wfile back to the client */
}

const ss_handler_class echo_datagram_handler_class = {
    .base = &ss_datagram_request_handler_class,
    .name = "EchoDatagramHandler",
    .setup = echo_datagram_setup,
    .handle = echo_datagram_handle,
};

/* --- event mode ---------------------------------------------------------- */

static void echo_event_log(ss_event_handler *self, const char *what, size_t len)
{
    const echo_settings *st = self->server->data;
    if (!st->verbose)
        return;
    char addr[SS_ADDRSTRLEN];
    ss_addr_format(&self->client_address, addr, sizeof addr);
    if (len == (size_t)-1)
        fprintf(stderr, "echo-server: %s from %s\n", what, addr);
    else
        fprintf(stderr, "echo-server: %s from %s, %zu bytes\n", what, addr, len);
}

static void echo_event_configure(ss_event_handler *self)
{
    SS_SUPER(&echo_event_handler_class, configure)(self);
    /* Each read is answered by one write: do not let Nagle hold it back. */
    self->disable_nagle_algorithm = true;
}

static int echo_event_connect(ss_event_handler *self, ss_error *err)
{
    (void)err;
    if (!self->datagram)
        echo_event_log(self, "connection", (size_t)-1);
    return 0;
}

/* Backpressure is the library's: past the high-water mark it stops reading
 * from this client until the client has read its echoes. */
static int echo_event_data(ss_event_handler *self, const unsigned char *data,
                           size_t len, ss_error *err)
{
    if (self->datagram)
        echo_event_log(self, "datagram", len);
    int rc = ss_event_write(self, data, len);
    if (rc < 0 && !(self->datagram && rc == -EAGAIN))
        return ss_error_set(err, rc, "echo: write: %s", ss_strerror(rc));
    return 0;
}

const ss_event_handler_class echo_event_handler_class = {
    .base = &ss_event_handler_base_class,
    .name = "EchoEventHandler",
    .configure = echo_event_configure,
    .on_connect = echo_event_connect,
    .on_data = echo_event_data,
};
