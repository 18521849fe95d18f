/* Addresses as text and back (the C side of CPython's test_tcpserver_bind_leak
 * rejects bad ports in the parser), and the error record. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "coretest.h"

static void round_trip(const char *text, int family, int port)
{
    ss_addr a;
    ct_addr(&a, text);
    cr_assert_eq(ss_addr_family(&a), family, "%s", text);
    cr_assert_eq(ss_addr_port(&a), port, "%s", text);
    cr_assert_str_eq(ct_fmt(&a), text);
}

Test(address, parses_and_formats_ipv4)
{
    round_trip("127.0.0.1:9999", AF_INET, 9999);
    round_trip("0.0.0.0:0", AF_INET, 0);
    round_trip("10.1.2.3:65535", AF_INET, 65535);
}

Test(address, parses_and_formats_ipv6)
{
    round_trip("[::1]:2121", AF_INET6, 2121);
    round_trip("[::]:0", AF_INET6, 0);
    round_trip("[fe80::1]:80", AF_INET6, 80);
}

Test(address, parses_and_formats_unix)
{
    round_trip("unix:/tmp/x.sock", AF_UNIX, -1);
    round_trip("unix:relative.sock", AF_UNIX, -1);
}

Test(address, resolves_localhost)
{
    ss_addr a;
    ct_addr(&a, "localhost:0");
    cr_assert(ss_addr_family(&a) == AF_INET || ss_addr_family(&a) == AF_INET6);
    cr_assert_eq(ss_addr_port(&a), 0);
    cr_assert(ss_addr_is_loopback(&a));
}

static void rejects(const char *text, int want)
{
    ss_addr a;
    ss_error err;
    ss_error_clear(&err);
    int rc = ss_addr_parse(&a, text, &err);
    cr_assert_eq(rc, want, "ss_addr_parse(\"%s\") = %d, want %d", text, rc,
                 want);
    cr_assert_neq(err.msg[0], '\0', "no message for \"%s\"", text);
}

Test(address, rejects_ports_out_of_range)
{
    rejects("127.0.0.1:-1", -EINVAL);
    rejects("127.0.0.1:65536", -EINVAL);
    rejects("127.0.0.1:99999999999999999999", -EINVAL);
    rejects("[::1]:65536", -EINVAL);
    rejects("[::1]:-1", -EINVAL);
}

Test(address, rejects_garbage)
{
    rejects("garbage", -EINVAL);
    rejects("", -EINVAL);
    rejects("127.0.0.1", -EINVAL);
    rejects("127.0.0.1:", -EINVAL);
    rejects("127.0.0.1:80x", -EINVAL);
    rejects("127.0.0.1: 80", -EINVAL);
    rejects("[::1:80", -EINVAL);
    rejects("[::1]80", -EINVAL);
    rejects("unix:", -EINVAL);
}

Test(address, parse_error_record_may_be_null)
{
    ss_addr a;
    cr_assert_eq(ss_addr_parse(&a, "127.0.0.1:65536", NULL), -EINVAL);
}

Test(address, rejects_unix_path_too_long)
{
    char text[300];
    struct sockaddr_un un;
    int n = snprintf(text, sizeof text, "unix:/tmp/");
    while ((size_t)n < sizeof un.sun_path + 10)
        text[n++] = 'p';
    text[n] = '\0';
    rejects(text, -ENAMETOOLONG);
}

Test(address, set_and_the_empty_address)
{
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_port = htons(4242),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ss_addr a;
    cr_assert_eq(ss_addr_set(&a, (struct sockaddr *)&in, sizeof in), 0);
    cr_assert_str_eq(ct_fmt(&a), "127.0.0.1:4242");
    cr_assert_eq(ss_addr_set(&a, NULL, 0), 0);
    cr_assert_eq(a.len, 0u);
    cr_assert_eq(ss_addr_family(&a), AF_UNSPEC);
    cr_assert_str_eq(ct_fmt(&a), "-");
    cr_assert_eq(ss_addr_set(&a, (struct sockaddr *)&in,
                             sizeof(struct sockaddr_storage) + 1),
                 -EINVAL);
}

Test(address, format_truncates_to_cap)
{
    ss_addr a;
    ct_addr(&a, "127.0.0.1:9999");
    char buf[6];
    memset(buf, 'Z', sizeof buf);
    cr_assert_eq(ss_addr_format(&a, buf, sizeof buf), buf);
    cr_assert_eq(strnlen(buf, sizeof buf), sizeof buf - 1,
                 "not NUL-terminated within cap");
}

Test(address, loopback_and_same_host)
{
    ss_addr a, b;
    ct_addr(&a, "127.0.0.5:1");
    cr_assert(ss_addr_is_loopback(&a));
    ct_addr(&a, "[::1]:1");
    cr_assert(ss_addr_is_loopback(&a));
    ct_addr(&a, "[::ffff:127.0.0.1]:1");
    cr_assert(ss_addr_is_loopback(&a));
    ct_addr(&a, "unix:/tmp/s");
    cr_assert(ss_addr_is_loopback(&a));
    ct_addr(&a, "10.0.0.1:1");
    cr_assert_not(ss_addr_is_loopback(&a));

    ct_addr(&a, "127.0.0.1:1");
    ct_addr(&b, "127.0.0.1:2");
    cr_assert(ss_addr_same_host(&a, &b));
    ct_addr(&b, "[::ffff:127.0.0.1]:3");
    cr_assert(ss_addr_same_host(&a, &b));
    cr_assert(ss_addr_same_host(&b, &a));
    ct_addr(&b, "127.0.0.2:1");
    cr_assert_not(ss_addr_same_host(&a, &b));
    ct_addr(&b, "unix:/tmp/s");
    cr_assert_not(ss_addr_same_host(&a, &b));
}

/* --- the error record ------------------------------------------------------------ */

Test(error, strerror_covers_errno_and_library_codes)
{
    cr_assert_str_eq(ss_strerror(-EADDRINUSE), strerror(EADDRINUSE));
    int codes[] = {SS_EEXIT, SS_EPROTO, SS_ETLS, SS_ECLOSED, SS_EFULL};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = ss_strerror(codes[i]);
        cr_assert_not_null(s);
        cr_assert_neq(s[0], '\0', "no text for %d", codes[i]);
    }
    cr_assert_not_null(ss_strerror(-999999));
    cr_assert_not_null(ss_strerror(0));
}

Test(error, set_returns_the_code_and_truncates)
{
    ss_error e;
    ss_error_clear(&e);
    cr_assert_eq(e.code, 0);
    cr_assert_not(e.fatal);
    cr_assert_eq(ss_error_set(&e, -EIO, "disk %s", "gone"), -EIO);
    cr_assert_eq(e.code, -EIO);
    cr_assert_str_eq(e.msg, "disk gone");
    char longer[SS_ERRMSG_MAX * 2];
    memset(longer, 'm', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    ss_error_set(&e, -EIO, "%s", longer);
    cr_assert_eq(strlen(e.msg), SS_ERRMSG_MAX - 1u);
    cr_assert_eq(ss_error_set(NULL, -EPIPE, "nobody listens"), -EPIPE);
    ss_error_clear(NULL);
}

Test(error, errno_variant_appends_strerror)
{
    ss_error e;
    ss_error_clear(&e);
    errno = ECONNREFUSED;
    cr_assert_eq(ss_error_errno(&e, "connect %s", "x"), -ECONNREFUSED);
    cr_assert_eq(e.code, -ECONNREFUSED);
    char want[SS_ERRMSG_MAX];
    snprintf(want, sizeof want, "connect x: %s", strerror(ECONNREFUSED));
    cr_assert_str_eq(e.msg, want);
}

Test(error, fatal_marks_and_defaults_to_exit)
{
    ss_error e;
    ss_error_clear(&e);
    cr_assert_eq(ss_error_fatal(&e), SS_EEXIT);
    cr_assert(e.fatal);
    cr_assert_eq(e.code, SS_EEXIT);
    ss_error_clear(&e);
    ss_error_set(&e, -EIO, "io");
    cr_assert_eq(ss_error_fatal(&e), -EIO);
    cr_assert(e.fatal);
}

/* A Linux abstract socket: parse and format give each other back, and a
 * server really binds it (no file appears). */
Test(address, abstract_unix_round_trips, .timeout = 10)
{
    ss_addr a;
    char text[SS_ADDRSTRLEN];
    cr_assert_eq(ss_addr_parse(&a, "unix:@sockserv-abstract-test", NULL), 0);
    cr_assert_eq(ss_addr_family(&a), AF_UNIX);
    cr_assert_str_eq(ss_addr_format(&a, text, sizeof text),
                     "unix:@sockserv-abstract-test");
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a.sa, a.len), 0);
    ss_addr bound;
    bound.len = sizeof bound.sa;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&bound.sa, &bound.len), 0);
    cr_assert_str_eq(ss_addr_format(&bound, text, sizeof text),
                     "unix:@sockserv-abstract-test");
    close(fd);
}
