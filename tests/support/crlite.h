/* tests/support/crlite.h - the part of Criterion's API these suites use, for
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
#ifndef TESTS_SUPPORT_CRLITE_H
#define TESTS_SUPPORT_CRLITE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct crlite_test {
    const char *suite;
    const char *name;
    void (*fn)(void);
    double timeout; /* seconds; 0: the suite's, else the runner's default */
    void (*init)(void);
    void (*fini)(void);
};

/* TestSuite(S, .init = f, .fini = g, .timeout = t): defaults for S. */
struct crlite_suite {
    const char *name;
    double timeout;
    void (*init)(void);
    void (*fini)(void);
};

void crlite_register(const struct crlite_test *t);
void crlite_register_suite(const struct crlite_suite *s);
/* A failed cr_expect: reported, and the test goes on but fails. */
void crlite_expect_failed(const char *file, int line, const char *expr,
                          const char *fmt, ...);
void crlite_log(const char *fmt, ...);
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

#define TestSuite(S, ...)                                                      \
    static const struct crlite_suite S##_suite_desc = {.name = #S,             \
                                                       __VA_ARGS__};           \
    __attribute__((constructor)) static void S##_suite_reg(void)               \
    {                                                                          \
        crlite_register_suite(&S##_suite_desc);                                \
    }

/* Every message argument list starts with a string literal (or is empty). */
#define CRLITE_CHECK(cond, expr, ...)                                          \
    do {                                                                       \
        if (!(cond))                                                           \
            crlite_fail(__FILE__, __LINE__, expr, "" __VA_ARGS__);             \
    } while (0)

#define CRLITE_EXPECT(cond, expr, ...)                                         \
    do {                                                                       \
        if (!(cond))                                                           \
            crlite_expect_failed(__FILE__, __LINE__, expr, "" __VA_ARGS__);    \
    } while (0)

#define cr_expect(c, ...) CRLITE_EXPECT((c), #c, ##__VA_ARGS__)
#define cr_expect_not(c, ...) CRLITE_EXPECT(!(c), "!(" #c ")", ##__VA_ARGS__)
#define cr_expect_eq(a, b, ...)                                                \
    CRLITE_EXPECT((a) == (b), #a " == " #b, ##__VA_ARGS__)
#define cr_expect_neq(a, b, ...)                                               \
    CRLITE_EXPECT((a) != (b), #a " != " #b, ##__VA_ARGS__)
#define cr_expect_lt(a, b, ...)                                                \
    CRLITE_EXPECT((a) < (b), #a " < " #b, ##__VA_ARGS__)
#define cr_expect_leq(a, b, ...)                                               \
    CRLITE_EXPECT((a) <= (b), #a " <= " #b, ##__VA_ARGS__)
#define cr_expect_gt(a, b, ...)                                                \
    CRLITE_EXPECT((a) > (b), #a " > " #b, ##__VA_ARGS__)
#define cr_expect_geq(a, b, ...)                                               \
    CRLITE_EXPECT((a) >= (b), #a " >= " #b, ##__VA_ARGS__)
#define cr_expect_null(p, ...)                                                 \
    CRLITE_EXPECT((p) == NULL, #p " == NULL", ##__VA_ARGS__)
#define cr_expect_not_null(p, ...)                                             \
    CRLITE_EXPECT((p) != NULL, #p " != NULL", ##__VA_ARGS__)
#define cr_expect_str_eq(a, b, ...)                                            \
    CRLITE_EXPECT(strcmp((a), (b)) == 0, #a " equals " #b, ##__VA_ARGS__)
#define cr_expect_str_neq(a, b, ...)                                           \
    CRLITE_EXPECT(strcmp((a), (b)) != 0, #a " differs from " #b, ##__VA_ARGS__)
#define cr_assert_str_neq(a, b, ...)                                           \
    CRLITE_CHECK(strcmp((a), (b)) != 0, #a " differs from " #b, ##__VA_ARGS__)
#define cr_assert_str_empty(a, ...)                                            \
    CRLITE_CHECK((a)[0] == '\0', #a " is empty", ##__VA_ARGS__)
#define cr_assert_str_not_empty(a, ...)                                        \
    CRLITE_CHECK((a)[0] != '\0', #a " is not empty", ##__VA_ARGS__)
#define cr_assert_arr_eq(a, b, n, ...)                                         \
    CRLITE_CHECK(memcmp((a), (b), (n)) == 0, #a " equals " #b, ##__VA_ARGS__)
#define cr_assert_fail(...) CRLITE_CHECK(0, "failure", ##__VA_ARGS__)
#define cr_skip(...) crlite_skip("" __VA_ARGS__)
#define cr_log_info(...) crlite_log("" __VA_ARGS__)

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
