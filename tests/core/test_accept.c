/* Accept errors: running the process out of descriptors (EMFILE) must not
 * make the loop spin on the still-readable listening socket (the 100 % CPU
 * bug of a naive accept loop), and once descriptors are free again new
 * clients are served. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "coretest.h"

static double process_cpu(void)
{
    struct timespec ts;
    cr_assert_eq(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts), 0);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Opens descriptors until EMFILE; returns how many, stored in fds. */
static int fill_descriptors(int *fds, int cap)
{
    int n = 0;
    while (n < cap) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            cr_assert_eq(errno, EMFILE, "open: %s", strerror(errno));
            break;
        }
        fds[n++] = fd;
    }
    cr_assert_lt(n, cap, "never reached EMFILE");
    return n;
}

static int raw_socket(const ss_addr *a)
{
    int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct timeval tv = {(time_t)CT_DEADLINE, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

static void check_no_spin_on_emfile(const ss_server_class *cls)
{
    /* A low limit keeps the fill cheap; the server and the test share it. */
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rlim_t low = (rlim_t)ts_count_fds() + 64;
    if (rl.rlim_max != RLIM_INFINITY && low > rl.rlim_max)
        low = rl.rlim_max;
    struct rlimit lowered = {low, rl.rlim_max};
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &lowered), 0);

    ss_server srv;
    ss_addr a;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(&srv, cls, &a, &ct_echo_line_handler_class);
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.05);
    ct_echo_check(&srv.server_address, SOCK_STREAM);

    /* Sockets for the clients exist before the table is full. */
    int c1 = raw_socket(&srv.server_address);
    int c2 = raw_socket(&srv.server_address);
    static int fill[1 << 16];
    int nfill = fill_descriptors(fill, (int)(sizeof fill / sizeof fill[0]));

    /* The connection completes in the kernel; the server's accept fails
     * with EMFILE and the listening socket stays readable. */
    cr_assert_eq(connect(c1, (struct sockaddr *)&srv.server_address.sa,
                         srv.server_address.len),
                 0, "connect: %s", strerror(errno));
    cr_assert_eq(ts_write_full(c1, "first\n", 6), 0);

    double cpu0 = process_cpu();
    double serve0 = ct_thread_cpu(serve.thread);
    ct_pause(1.0); /* the measurement window */
    double cpu = process_cpu() - cpu0;
    double serve_cpu = ct_thread_cpu(serve.thread) - serve0;
    cr_assert_lt(serve_cpu, 0.5,
                 "the serving thread burnt %.2f s of CPU in 1 s at EMFILE",
                 serve_cpu);
    cr_assert_lt(cpu, 0.5, "the process burnt %.2f s of CPU in 1 s at EMFILE",
                 cpu);
    cr_assert_not(atomic_load(&serve.done), "EMFILE stopped the server");

    for (int i = 0; i < nfill; i++)
        close(fill[i]);

    /* The first client may have been dropped to get out of EMFILE; it must
     * not hold the server up either way.  New clients are served. */
    cr_assert_eq(connect(c2, (struct sockaddr *)&srv.server_address.sa,
                         srv.server_address.len),
                 0);
    cr_assert_eq(ts_write_full(c2, "second\n", 7), 0);
    char line[16];
    cr_assert_eq(ts_read_line(c2, line, sizeof line), 7,
                 "a client after EMFILE was not served");
    cr_assert_str_eq(line, "second\n");
    ct_echo_check(&srv.server_address, SOCK_STREAM);

    close(c1);
    close(c2);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

Test(accept, emfile_does_not_spin_sync, .timeout = 60)
{
    check_no_spin_on_emfile(&ss_tcp_server_class);
}

Test(accept, emfile_does_not_spin_threading, .timeout = 60)
{
    check_no_spin_on_emfile(&ss_threading_tcp_server_class);
}

/* A client that resets before it is accepted (ECONNABORTED on some
 * systems, a dead socket on Linux) does not disturb the server. */
Test(accept, reset_before_accept_is_harmless, .timeout = 30)
{
    ss_server srv;
    ss_addr a;
    ct_addr(&a, "127.0.0.1:0");
    ct_server_init(&srv, &ss_tcp_server_class, &a, &ct_echo_line_handler_class);
    for (int i = 0; i < 5; i++) {
        int fd = ct_connect(&srv.server_address, SOCK_STREAM);
        struct linger lg = {1, 0}; /* close sends RST */
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(fd);
    }
    ct_serve serve;
    ct_serve_start(&serve, &srv, 0.05);
    for (int i = 0; i < 3; i++)
        ct_echo_check(&srv.server_address, SOCK_STREAM);
    cr_assert_eq(ct_serve_stop(&serve), 0);
    ss_server_close(&srv);
}
