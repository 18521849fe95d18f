/* tests/ftpd-units/test_passwd.c - password hashes: round trip, wrong
 * passwords, self-describing strings, and a dummy verify that costs what a
 * real one does. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/passwd.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void fast(void)
{
    setenv("SOCKSERV_FTPD_TEST_FAST_KDF", "1", 1);
}

TestSuite(passwd, .init = fast, .timeout = 120);

Test(passwd, round_trip_and_wrong_password)
{
    char h[FTPD_PASSWD_HASH_MAX];
    cr_assert_eq(ftpd_passwd_hash("s3cret", 6, h, sizeof h), 0);
    cr_expect_eq(strncmp(h, "$scrypt$ln=10,r=8,p=1$", 22), 0, "%s", h);
    cr_expect_eq(ftpd_passwd_verify("s3cret", 6, h), 1);
    cr_expect_eq(ftpd_passwd_verify("s3cres", 6, h), 0);
    cr_expect_eq(ftpd_passwd_verify("s3cre", 5, h), 0);
    cr_expect_eq(ftpd_passwd_verify("", 0, h), 0);
    cr_expect_eq(ftpd_passwd_verify("s3cret!", 7, h), 0);
}

Test(passwd, salts_differ_and_passwords_are_binary_safe)
{
    char a[FTPD_PASSWD_HASH_MAX], b[FTPD_PASSWD_HASH_MAX];
    static const char pw[] = "a\0b:c$d\n\xc3\xa9";
    cr_assert_eq(ftpd_passwd_hash(pw, sizeof pw - 1, a, sizeof a), 0);
    cr_assert_eq(ftpd_passwd_hash(pw, sizeof pw - 1, b, sizeof b), 0);
    cr_expect_str_neq(a, b, "same password, same salt");
    cr_expect_eq(ftpd_passwd_verify(pw, sizeof pw - 1, a), 1);
    cr_expect_eq(ftpd_passwd_verify(pw, 1, a), 0, "the bytes after NUL count");
    cr_expect_null(strchr(a, ':'), "a hash must fit a ':'-separated file");
    cr_expect_null(strchr(a, '\n'));
    char e[FTPD_PASSWD_HASH_MAX];
    cr_assert_eq(ftpd_passwd_hash("", 0, e, sizeof e), 0);
    cr_expect_eq(ftpd_passwd_verify("", 0, e), 1);
    cr_expect_eq(ftpd_passwd_verify("x", 1, e), 0);
}

Test(passwd, pbkdf2_and_explicit_parameters)
{
    char h[FTPD_PASSWD_HASH_MAX];
    cr_assert_eq(ftpd_passwd_hash_pbkdf2("pw", 2, 100000, h, sizeof h), 0);
    cr_expect_eq(strncmp(h, "$pbkdf2-sha256$i=100000$", 24), 0, "%s", h);
    cr_expect_eq(ftpd_passwd_verify("pw", 2, h), 1);
    cr_expect_eq(ftpd_passwd_verify("pW", 2, h), 0);
    cr_expect(ftpd_passwd_needs_rehash(h));
    cr_expect_eq(ftpd_passwd_hash_pbkdf2("pw", 2, 10, h, sizeof h), -EINVAL);

    cr_assert_eq(ftpd_passwd_hash_scrypt("pw", 2, 11, 4, 2, h, sizeof h), 0);
    cr_expect_eq(strncmp(h, "$scrypt$ln=11,r=4,p=2$", 22), 0, "%s", h);
    cr_expect_eq(ftpd_passwd_verify("pw", 2, h), 1);
    cr_expect(ftpd_passwd_needs_rehash(h), "r=4 is below the default");
    cr_expect_eq(ftpd_passwd_hash_scrypt("pw", 2, 30, 8, 1, h, sizeof h), -EINVAL);
    char small[20];
    cr_expect_eq(ftpd_passwd_hash("pw", 2, small, sizeof small), -ENOSPC);
}

Test(passwd, malformed_entries_are_refused)
{
    char good[FTPD_PASSWD_HASH_MAX];
    cr_assert_eq(ftpd_passwd_hash("pw", 2, good, sizeof good), 0);
    cr_expect(!ftpd_passwd_needs_rehash(good));
    const char *bad[] = {
        "", "pw", "$1$abc$def", "$scrypt$", "$scrypt$ln=10,r=8,p=1$",
        "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHQ",           /* no hash */
        "$scrypt$ln=40,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=10,r=0,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=10,r=8,p=1$c2F*dHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=10,r=8,p=1$c2$aGFzaGhhc2hoYXNoaGFzaA",   /* tiny salt */
        "$pbkdf2-sha256$i=99999999999$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(ftpd_passwd_verify("pw", 2, bad[i]), -EINVAL, "%s", bad[i]);
        cr_expect(ftpd_passwd_needs_rehash(bad[i]));
    }
    /* Tampering with the stored hash makes the right password fail. */
    char t[FTPD_PASSWD_HASH_MAX];
    strcpy(t, good);
    size_t n = strlen(t);
    t[n - 2] = t[n - 2] == 'A' ? 'B' : 'A';
    cr_expect_eq(ftpd_passwd_verify("pw", 2, t), 0);
}

/* Best of three, to keep a busy machine from deciding the result. */
static double time_verify(const char *h, bool dummy)
{
    double best = 1e9;
    for (int i = 0; i < 3; i++) {
        double t0 = now_s();
        if (dummy)
            ftpd_passwd_dummy_verify("guess", 5, h);
        else
            cr_assert_eq(ftpd_passwd_verify("guess", 5, h), 0);
        double t = now_s() - t0;
        if (t < best)
            best = t;
    }
    return best;
}

Test(passwd, dummy_verify_costs_the_same_as_a_real_one)
{
    char h[FTPD_PASSWD_HASH_MAX];
    cr_assert_eq(ftpd_passwd_hash_scrypt("right", 5, 13, 8, 1, h, sizeof h), 0);
    double real = time_verify(h, false);
    double dummy = time_verify(h, true);
    cr_expect(dummy > real / 3 && dummy < real * 3,
              "real %.4fs vs dummy %.4fs", real, dummy);
    /* A malformed entry costs a default-cost verify too, not nothing. */
    double t0 = now_s();
    cr_expect_eq(ftpd_passwd_verify("x", 1, "$scrypt$garbage"), -EINVAL);
    double bad = now_s() - t0;
    char f[FTPD_PASSWD_HASH_MAX];
    cr_assert_eq(ftpd_passwd_hash("x", 1, f, sizeof f), 0);
    double fastv = time_verify(f, false);
    cr_expect(bad > fastv / 4, "malformed %.5fs vs default %.5fs", bad, fastv);
}

Test(passwd, default_cost_is_slow)
{
    unsetenv("SOCKSERV_FTPD_TEST_FAST_KDF");
    char h[FTPD_PASSWD_HASH_MAX];
    cr_assert_eq(ftpd_passwd_hash("pw", 2, h, sizeof h), 0);
    cr_expect_eq(strncmp(h, "$scrypt$ln=14,r=8,p=1$", 22), 0, "%s", h);
    double t0 = now_s();
    cr_expect_eq(ftpd_passwd_verify("pw", 2, h), 1);
    double t = now_s() - t0;
    /* Around 50-100 ms on a current machine; bounds left generous. */
    cr_expect(t > 0.01 && t < 10.0, "verify took %.3fs", t);
}
