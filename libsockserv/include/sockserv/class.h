/* sockserv/class.h - classes as vtable structs, and "super".
 *
 * A class is a const struct of function pointers whose first member points to
 * its base class.  A NULL slot means "inherit": an instance resolves every
 * slot once, when it is initialised, by walking up the bases.  The root
 * classes (ss_base_server_class, ss_base_request_handler_class) define every
 * slot, so resolution always finds an implementation.
 *
 * Super calls name the class that defines the running method, never the
 * instance's class (which would recurse forever in a grandchild):
 *
 *     static int my_process_request(ss_server *s, ss_request *r,
 *                                   const ss_addr *a, ss_error *e)
 *     {
 *         count_request(s);
 *         return SS_SUPER(&my_server_class, process_request)(s, r, a, e);
 *     }
 *
 * SS_SUPER(cls, slot) is the implementation of slot that cls inherits: the
 * first non-NULL slot found from cls->base upward.
 */
#ifndef SOCKSERV_CLASS_H
#define SOCKSERV_CLASS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*ss_slot_fn)(void);

/* The first non-NULL function pointer at byte offset `offset` of class `cls`
 * or of one of its bases; NULL when none defines it.  `cls` must be a server
 * or handler class (both start with their base pointer).  Thread-safe. */
ss_slot_fn ss_class_lookup(const void *cls, size_t offset);

/* The implementation of `slot` that class `cls` inherits from its bases. */
#define SS_SUPER(cls, slot)                                                    \
    ((__typeof__((cls)->slot))ss_class_lookup((cls)->base,                     \
                                              offsetof(__typeof__(*(cls)), slot)))

#ifdef __cplusplus
}
#endif
#endif
