/* ss_thread_release_stack: the stack pages a thread touched once are
 * resident until given back, and only the unused part below the caller's
 * frame is given back. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coretest.h"

#define DEEP (96 * 1024)

/* Touches DEEP bytes of stack below the caller, then returns. */
static __attribute__((noinline)) void go_deep(void)
{
    volatile char buf[DEEP];
    for (size_t i = 0; i < sizeof buf; i += 512)
        buf[i] = (char)i;
}

typedef struct {
    uintptr_t low, cut;      /* the range measured: below our frame */
    size_t before, after;    /* its resident pages */
    int rc;
} st_result;

/* The resident pages of [low, cut), by mincore. */
static __attribute__((noinline)) size_t resident(uintptr_t low, uintptr_t cut)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t n = (cut - low) / page;
    unsigned char *vec = malloc(n);
    if (!vec || mincore((void *)low, cut - low, vec) < 0) {
        free(vec);
        return (size_t)-1;
    }
    size_t in = 0;
    for (size_t i = 0; i < n; i++)
        in += vec[i] & 1;
    free(vec);
    return in;
}

static void *deep_thread(void *arg)
{
    st_result *r = arg;
    pthread_attr_t a;
    void *addr;
    size_t size, page = (size_t)sysconf(_SC_PAGESIZE);
    pthread_getattr_np(pthread_self(), &a);
    pthread_attr_getstack(&a, &addr, &size);
    pthread_attr_destroy(&a);
    r->low = ((uintptr_t)addr + page - 1) & ~(uintptr_t)(page - 1);
    /* Leave room for the frames of the calls below, which run under it. */
    r->cut = ((uintptr_t)__builtin_frame_address(0) & ~(uintptr_t)(page - 1)) -
             4 * page;
    go_deep();
    r->before = resident(r->low, r->cut);
    r->rc = ss_thread_release_stack();
    r->after = resident(r->low, r->cut);
    return NULL;
}

Test(thread_stack, deep_pages_are_given_back, .timeout = 30)
{
    st_result r = {0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, deep_thread, &r), 0);
    pthread_join(t, NULL);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    cr_assert_eq(r.rc, 0, "ss_thread_release_stack: %d", r.rc);
    /* go_deep's buffer, less the margin left under the frame. */
    cr_expect_geq(r.before, (DEEP - 4 * page) / page,
                  "resident before: %zu pages", r.before);
    cr_expect_eq(r.after, 0, "resident after: %zu pages", r.after);
}

static void *twice_thread(void *arg)
{
    int *rc = arg;
    go_deep();
    rc[0] = ss_thread_release_stack();
    go_deep();            /* the pages come back, zero-filled, as used */
    rc[1] = ss_thread_release_stack();
    return NULL;
}

Test(thread_stack, the_stack_is_usable_after_and_again, .timeout = 30)
{
    int rc[2] = {-1, -1};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, twice_thread, rc), 0);
    pthread_join(t, NULL);
    cr_expect_eq(rc[0], 0);
    cr_expect_eq(rc[1], 0);
}

Test(thread_stack, main_thread_is_refused, .timeout = 30)
{
    /* A child's only thread is its main thread, whatever runs this test. */
    pid_t c = fork();
    cr_assert_geq(c, 0);
    if (c == 0)
        _exit(ss_thread_release_stack() == -ENOTSUP ? 0 : 1);
    int st;
    cr_assert_eq(waitpid(c, &st, 0), c);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "on the main thread: not -ENOTSUP");
}
