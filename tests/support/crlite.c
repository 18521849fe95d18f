/* tests/support/crlite.c - the runner behind crlite.h (TSan builds only). */
#include "crlite.h"

#include <errno.h>
#include <stdbool.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CRLITE_MAX_TESTS 512
#define CRLITE_DEFAULT_TIMEOUT 120.0
#define CRLITE_SKIPPED 77

static const struct crlite_test *tests[CRLITE_MAX_TESTS];
static size_t ntests;
static const struct crlite_suite *suites[CRLITE_MAX_TESTS];
static size_t nsuites;
static bool expect_failed; /* in the test's own process */

void crlite_register(const struct crlite_test *t)
{
    if (ntests < CRLITE_MAX_TESTS)
        tests[ntests++] = t;
}

void crlite_register_suite(const struct crlite_suite *s)
{
    if (nsuites < CRLITE_MAX_TESTS)
        suites[nsuites++] = s;
}

static const struct crlite_suite *suite_of(const struct crlite_test *t)
{
    for (size_t i = 0; i < nsuites; i++)
        if (strcmp(suites[i]->name, t->suite) == 0)
            return suites[i];
    return NULL;
}

void crlite_expect_failed(const char *file, int line, const char *expr,
                          const char *fmt, ...)
{
    char msg[1024] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[----] %s:%d: Expectation Failed: %s%s%s\n", file, line,
            expr, msg[0] ? "\n[----]   " : "", msg);
    fflush(stderr);
    expect_failed = true;
}

void crlite_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("[----] ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void crlite_fail(const char *file, int line, const char *expr,
                 const char *fmt, ...)
{
    char msg[1024] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[----] %s:%d: Assertion Failed: %s%s%s\n", file, line,
            expr, msg[0] ? "\n[----]   " : "", msg);
    fflush(stderr);
    /* Other threads of the test may still run: leave without exit handlers. */
    _exit(1);
}

void crlite_skip(const char *fmt, ...)
{
    char msg[512] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[SKIP] %s\n", msg);
    fflush(stderr);
    _exit(CRLITE_SKIPPED);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs one test in a child; returns 0 pass, 1 fail, 2 skip. */
static int run_one(const struct crlite_test *t)
{
    fflush(stdout);
    fflush(stderr);
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    const struct crlite_suite *suite = suite_of(t);
    if (pid == 0) {
        setpgid(0, 0);
        if (suite && suite->init)
            suite->init();
        if (t->init)
            t->init();
        t->fn();
        if (t->fini)
            t->fini();
        if (suite && suite->fini)
            suite->fini();
        /* exit(), not _exit(): TSan sets the status (66) here when it
         * reported a race. */
        exit(expect_failed ? 1 : 0);
    }
    double limit = t->timeout > 0                ? t->timeout
                   : suite && suite->timeout > 0 ? suite->timeout
                                                 : CRLITE_DEFAULT_TIMEOUT;
    int st = 0;
    bool timed_out = false;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            perror("waitpid");
            return 1;
        }
        if (now() - t0 > limit) {
            timed_out = true;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            break;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    /* Children the test forked and left behind go with it. */
    kill(-pid, SIGKILL);
    double took = now() - t0;
    if (!timed_out && WIFEXITED(st) && WEXITSTATUS(st) == CRLITE_SKIPPED) {
        printf("[SKIP] %s::%s\n", t->suite, t->name);
        return 2;
    }
    if (!timed_out && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        printf("[PASS] %s::%s: (%.2fs)\n", t->suite, t->name, took);
        return 0;
    }
    if (timed_out)
        printf("[FAIL] %s::%s: timed out after %.0f s\n", t->suite, t->name,
               limit);
    else if (WIFSIGNALED(st))
        printf("[FAIL] %s::%s: CRASH (signal %d)\n", t->suite, t->name,
               WTERMSIG(st));
    else
        printf("[FAIL] %s::%s: exit status %d%s\n", t->suite, t->name,
               WEXITSTATUS(st),
               WEXITSTATUS(st) == 66 ? " (ThreadSanitizer report)" : "");
    return 1;
}

int main(int argc, char **argv)
{
    const char *filter = NULL;
    bool list = false;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--filter=", 9) == 0)
            filter = argv[i] + 9;
        else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc)
            filter = argv[++i];
        else if (strcmp(argv[i], "--list") == 0)
            list = true;
        /* other Criterion options (--jobs ...) do not apply here */
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int counts[3] = {0, 0, 0};
    for (size_t i = 0; i < ntests; i++) {
        char full[256];
        snprintf(full, sizeof full, "%s/%s", tests[i]->suite, tests[i]->name);
        if (filter && fnmatch(filter, full, 0) != 0)
            continue;
        if (list) {
            printf("%s\n", full);
            continue;
        }
        counts[run_one(tests[i])]++;
    }
    if (!list)
        printf("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | "
               "Skipped: %d\n",
               counts[0] + counts[1] + counts[2], counts[0], counts[1],
               counts[2]);
    return counts[1] ? 1 : 0;
}
