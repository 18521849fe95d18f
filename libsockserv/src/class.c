/* class.c - slot lookup along a class's bases ("super"), and resolving a
 * class into a full vtable once per instance. */
#include <stddef.h>
#include <string.h>

#include <sockserv/class.h>
#include <sockserv/server.h>

#include "internal.h"

/* Both class structs start with their base pointer; this is that prefix. */
struct class_head {
    const struct class_head *base;
};

ss_slot_fn ss_class_lookup(const void *cls, size_t offset)
{
    for (const struct class_head *c = cls; c; c = c->base) {
        ss_slot_fn fn;
        memcpy(&fn, (const char *)c + offset, sizeof fn);
        if (fn)
            return fn;
    }
    return NULL;
}

bool ss__class_derives(const void *cls, const void *base)
{
    for (const struct class_head *c = cls; c; c = c->base)
        if ((const void *)c == base)
            return true;
    return false;
}

#define SERVER_SLOTS(X)                                                        \
    X(configure) X(init) X(server_bind) X(server_activate) X(get_request)      \
    X(verify_request) X(process_request) X(finish_request)                     \
    X(shutdown_request) X(close_request) X(handle_error)                       \
    X(handle_accept_error) X(handle_timeout) X(service_actions)                \
    X(server_close) X(fileno) X(handle_busy)

void ss__resolve_server_class(ss_server_class *out, const ss_server_class *cls)
{
    *out = *cls;
#define RESOLVE(slot)                                                          \
    out->slot = (__typeof__(out->slot))ss_class_lookup(                        \
        cls, offsetof(ss_server_class, slot));
    SERVER_SLOTS(RESOLVE)
#undef RESOLVE
}
