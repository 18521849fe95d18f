/* thread_stack.c - giving back the stack pages a thread went through once.
 *
 * A thread's stack pages stay resident for the thread's life once touched.
 * A request thread that went deep once (a password KDF, a TLS handshake,
 * a formatted reply) and then waits for hours on an idle connection holds
 * those pages the whole time: with thousands of idle connections that is
 * most of a threaded server's memory.  MADV_DONTNEED on the part below the
 * current frame makes them zero-fill-on-demand again. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sockserv/threading.h>

/* The calling thread's stack, [stack_low, stack_high); 0 until asked.  Per
 * thread, so pthread_getattr_np (and the main-thread check, two system
 * calls) runs once per thread, not per call. */
static _Thread_local uintptr_t stack_low, stack_high;
static _Thread_local bool main_thread;

/* Below the caller's frame address, what is kept: this function's own
 * frame and the return address of its call into madvise.  Everything
 * under the stack pointer is dead by the ABI (a non-leaf function has no
 * red zone in use while it calls). */
#define KEEP_BELOW_FRAME 1024

int ss_thread_release_stack(void)
{
    if (!stack_low && !main_thread) {
        /* The main thread's stack grows on demand and pthread_getattr_np
         * guesses its bottom from the rlimit: its low part is not mapped. */
        main_thread = gettid() == getpid();
        if (!main_thread) {
            pthread_attr_t a;
            void *addr;
            size_t size;
            int rc = pthread_getattr_np(pthread_self(), &a);
            if (rc)
                return -rc;
            rc = pthread_attr_getstack(&a, &addr, &size);
            pthread_attr_destroy(&a);
            if (rc)
                return -rc;
            stack_low = (uintptr_t)addr;
            stack_high = stack_low + size;
        }
    }
    if (main_thread)
        return -ENOTSUP;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t low = (stack_low + page - 1) & ~(page - 1);
    /* The real frame even where a sanitizer moves locals off the stack. */
    uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
    if (frame <= low + KEEP_BELOW_FRAME || frame > stack_high)
        return 0;   /* nothing below, or not on the stack we know */
    uintptr_t cut = (frame - KEEP_BELOW_FRAME) & ~(page - 1);
    if (cut <= low)
        return 0;
    if (madvise((void *)low, cut - low, MADV_DONTNEED) < 0)
        return -errno;
    return 0;
}
