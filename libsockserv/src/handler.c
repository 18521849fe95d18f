/* handler.c - BaseRequestHandler, and running one request through a
 * handler class: setup, handle, finish. */
#include <errno.h>
#include <stdlib.h>

#include <sockserv/handler.h>

#include "internal.h"

static void base_configure(ss_handler *h)
{
    (void)h;
}

static int base_step(ss_handler *h, ss_error *err)
{
    (void)h;
    (void)err;
    return 0;
}

const ss_handler_class ss_base_request_handler_class = {
    .base = NULL,
    .name = "BaseRequestHandler",
    .instance_size = sizeof(ss_handler),
    .configure = base_configure,
    .setup = base_step,
    .handle = base_step,
    .finish = base_step,
};

#define LOOKUP(cls, slot)                                                      \
    ((__typeof__((cls)->slot))ss_class_lookup(                                 \
        (cls), offsetof(ss_handler_class, slot)))

static size_t instance_size(const ss_handler_class *cls)
{
    for (const ss_handler_class *c = cls; c; c = c->base)
        if (c->instance_size)
            return c->instance_size;
    return sizeof(ss_handler);
}

int ss_handler_run(ss_server *server, const ss_handler_class *cls,
                   ss_request *req, const ss_addr *client, ss_error *err)
{
    ss_handler *h = calloc(1, instance_size(cls));
    if (!h)
        return ss_error_set(err, -ENOMEM, "%s: out of memory", cls->name);
    h->cls = cls;
    h->server = server;
    h->request = req;
    h->client_address = *client;

    LOOKUP(cls, configure)(h);
    int rc = LOOKUP(cls, setup)(h, err);
    if (rc < 0) {
        ss__error_default(err, rc, "setup");
    } else {
        rc = LOOKUP(cls, handle)(h, err);
        if (rc < 0)
            ss__error_default(err, rc, "handle");
        /* finish always runs after handle (Python's try/finally).  Its
         * error counts only when handle succeeded: handle's error is the
         * cause worth reporting. */
        ss_error ferr;
        ss_error_clear(&ferr);
        int frc = LOOKUP(cls, finish)(h, &ferr);
        if (frc < 0 && rc == 0) {
            ss__error_default(&ferr, frc, "finish");
            if (err)
                *err = ferr;
            rc = frc;
        }
    }
    if (rc < 0)
        ss__count(server, SS__HANDLER_ERRORS, 1);
    /* Whatever way the request went, the base classes' buffers go. */
    if (ss__class_derives(cls, &ss_stream_request_handler_class))
        ss__stream_handler_release(h);
    else if (ss__class_derives(cls, &ss_datagram_request_handler_class))
        ss__datagram_handler_release(h);
    free(h);
    return rc;
}
