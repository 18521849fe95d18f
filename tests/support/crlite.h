/* tests/core/crlite.h - the part of Criterion's API these suites use, for
 * ThreadSanitizer builds only.
 *
 * Criterion cannot start under TSan: its runner maps an "inheritable arena"
 * at a random fixed address, and every candidate lies in the ranges TSan
 * reserves for its shadow memory ("Could not initialize inheritable arena:
 * Resource temporarily unavailable", Snaipe/Criterion#274).  With
 * -Db_sanitize=thread the suites are built against this header instead
 * (SOCKSERV_CRLITE): the same Test() and cr_assert_*() source, run by a
 * small runner that forks one process per test, as Criterion does.
 *
 * Runner arguments: --filter=SUITE/NAME (a glob, as Criterion's) and
 * --list.  Exit status 0 when every test passed or was skipped. */
#ifndef TESTS_CORE_CRLITE_H
#define TESTS_CORE_CRLITE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct crlite_test {
    const char *suite;
    const char *name;
    void (*fn)(void);
    double timeout; /* seconds; 0: the runner's default */
};

void crlite_register(const struct crlite_test *t);
/* No format attribute: an assertion without a message passes "". */
_Noreturn void crlite_fail(const char *file, int line, const char *expr,
                           const char *fmt, ...);
_Noreturn void crlite_skip(const char *fmt, ...);

#define Test(S, N, ...)                                                        \
    static void S##_##N##_impl(void);                                          \
    static const struct crlite_test S##_##N##_desc = {                         \
        .suite = #S, .name = #N, .fn = S##_##N##_impl, __VA_ARGS__};           \
    __attribute__((constructor)) static void S##_##N##_reg(void)               \
    {                                                                          \
        crlite_register(&S##_##N##_desc);                                      \
    }                                                                          \
    static void S##_##N##_impl(void)

/* Every message argument list starts with a string literal (or is empty). */
#define CRLITE_CHECK(cond, expr, ...)                                          \
    do {                                                                       \
        if (!(cond))                                                           \
            crlite_fail(__FILE__, __LINE__, expr, "" __VA_ARGS__);             \
    } while (0)

#define cr_assert(c, ...) CRLITE_CHECK((c), #c, ##__VA_ARGS__)
#define cr_assert_not(c, ...) CRLITE_CHECK(!(c), "!(" #c ")", ##__VA_ARGS__)
#define cr_assert_eq(a, b, ...)                                                \
    CRLITE_CHECK((a) == (b), #a " == " #b, ##__VA_ARGS__)
#define cr_assert_neq(a, b, ...)                                               \
    CRLITE_CHECK((a) != (b), #a " != " #b, ##__VA_ARGS__)
#define cr_assert_lt(a, b, ...)                                                \
    CRLITE_CHECK((a) < (b), #a " < " #b, ##__VA_ARGS__)
#define cr_assert_leq(a, b, ...)                                               \
    CRLITE_CHECK((a) <= (b), #a " <= " #b, ##__VA_ARGS__)
#define cr_assert_gt(a, b, ...)                                                \
    CRLITE_CHECK((a) > (b), #a " > " #b, ##__VA_ARGS__)
#define cr_assert_geq(a, b, ...)                                               \
    CRLITE_CHECK((a) >= (b), #a " >= " #b, ##__VA_ARGS__)
#define cr_assert_null(p, ...)                                                 \
    CRLITE_CHECK((p) == NULL, #p " == NULL", ##__VA_ARGS__)
#define cr_assert_not_null(p, ...)                                             \
    CRLITE_CHECK((p) != NULL, #p " != NULL", ##__VA_ARGS__)
#define cr_assert_str_eq(a, b, ...)                                            \
    CRLITE_CHECK(strcmp((a), (b)) == 0, #a " equals " #b, ##__VA_ARGS__)
#define cr_assert_float_eq(a, b, eps, ...)                                     \
    CRLITE_CHECK((a) - (b) <= (eps) && (b) - (a) <= (eps),                     \
                 #a " ~= " #b, ##__VA_ARGS__)
#define cr_skip_test(...) crlite_skip("" __VA_ARGS__)

#endif
