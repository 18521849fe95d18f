/* tests/ssh/test_ssh.c - ssh-demo-server and ssh-demo, driven from outside:
 * the real programs, a real shell, and raw frames for the protocol edges. */
#include <criterion/criterion.h>

#include <errno.h>
#include <time.h>
#include <limits.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame.h"
#include "support.h"

static ts_proc server;
static char addr_text[SS_ADDRSTRLEN];
static ss_addr addr;
static char client_bin[PATH_MAX], server_bin[PATH_MAX];

/* A deterministic byte stream with every byte value (AES-CTR of zeros), so
 * the expected checksum can be computed here without a file. */
#define GEN(bytes)                                                             \
    "openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f "   \
    "-iv 00000000000000000000000000000000 -in /dev/zero 2>/dev/null "         \
    "| head -c " bytes

static void find_programs(void)
{
    snprintf(client_bin, sizeof client_bin, "%s",
             ts_build_path("examples/ssh/ssh-demo"));
    snprintf(server_bin, sizeof server_bin, "%s",
             ts_build_path("examples/ssh/ssh-demo-server"));
}

/* Starts the server with extra options (NULL-terminated). */
static void start_with(const char *listen, const char *mode, const char *opt,
                       const char *val)
{
    find_programs();
    char *argv[] = {server_bin,   "--listen",   (char *)listen, "--mode",
                    (char *)mode, (char *)opt, (char *)val,    NULL};
    int rc = ts_start_server(&server, argv, addr_text, sizeof addr_text, &addr);
    cr_assert_eq(rc, 0, "server did not start: %d", rc);
}

static void start_threading(void)
{
    start_with("127.0.0.1:0", "threading", NULL, NULL);
}

/* Sanitizer reports do not always change an exit status (UBSan goes on by
 * default), so the programs' stderr is searched for them too. */
static bool sanitizer_report(const char *text)
{
    return strstr(text, "runtime error:") || strstr(text, "Sanitizer");
}

static void stop_server(void)
{
    if (server.pid <= 0)
        return;
    int st = ts_stop(&server, SIGTERM, 10);
    server.pid = 0;
    cr_expect(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the server did not stop cleanly on SIGTERM (%d); stderr:\n%s",
              st, server.err);
    cr_expect(!sanitizer_report(server.err), "server stderr:\n%s", server.err);
}

TestSuite(ssh, .init = start_threading, .fini = stop_server, .timeout = 120);
TestSuite(ssh_setup, .fini = stop_server, .timeout = 120);

/* ssh-demo ADDR -c cmd, stdin from `in`.  Returns the wait status. */
static int run_client(char *const argv[], const char *in, char *out,
                      size_t out_cap, char *err, size_t err_cap)
{
    static char own[8192];
    if (!err) {
        err = own;
        err_cap = sizeof own;
    }
    int st = ts_run(argv, in, in ? strlen(in) : 0, out, out_cap, err, err_cap,
                    60);
    cr_expect(!sanitizer_report(err), "client stderr:\n%s", err);
    return st;
}

static int run_cmd(const char *cmd, const char *in, char *out, size_t out_cap,
                   char *err, size_t err_cap)
{
    char *argv[] = {client_bin, addr_text, "-c", (char *)cmd, NULL};
    return run_client(argv, in, out, out_cap, err, err_cap);
}

/* ssh-demo ADDR with a script on stdin. */
static int run_script(const char *script, char *out, size_t out_cap, char *err,
                      size_t err_cap)
{
    char *argv[] = {client_bin, addr_text, NULL};
    return run_client(argv, script, out, out_cap, err, err_cap);
}

static int exit_code(int st)
{
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1000 - st;
}

/* --- raw frames ---------------------------------------------------------- */

static void send_frame(int fd, uint8_t type, const void *p, size_t n)
{
    uint8_t hdr[SSH_FRAME_HEADER];
    cr_assert_eq(ssh_frame_encode_header(hdr, type, n), 0);
    cr_assert_eq(ts_write_full(fd, hdr, sizeof hdr), 0);
    if (n)
        cr_assert_eq(ts_write_full(fd, p, n), 0);
}

/* Reads one frame; its payload (NUL-terminated) into buf.  1, 0 at EOF. */
static int recv_frame(int fd, ssh_frame_header *h, char *buf, size_t cap)
{
    uint8_t hdr[SSH_FRAME_HEADER];
    ssize_t n = ts_read_full(fd, hdr, sizeof hdr);
    if (n == 0)
        return 0;
    cr_assert_eq(n, (ssize_t)sizeof hdr, "short header: %zd", n);
    cr_assert_eq(ssh_frame_decode_header(hdr, h), 0);
    cr_assert_lt(h->length, cap);
    cr_assert_eq(ts_read_full(fd, buf, h->length), (ssize_t)h->length);
    buf[h->length] = '\0';
    return 1;
}

static int raw_session(void)
{
    int fd = ts_connect(&addr, SOCK_STREAM, 10);
    cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
    send_frame(fd, SSH_HELLO, "\x01", 1);
    ssh_frame_header h;
    char buf[256];
    cr_assert_eq(recv_frame(fd, &h, buf, sizeof buf), 1);
    cr_assert_eq(h.type, SSH_READY);
    return fd;
}

/* Runs cmd on a raw session; its stdout into out; returns the status. */
static int raw_run(int fd, const char *cmd, char *out, size_t cap)
{
    send_frame(fd, SSH_RUN, cmd, strlen(cmd));
    send_frame(fd, SSH_STDIN_EOF, NULL, 0);
    size_t len = 0;
    out[0] = '\0';
    for (;;) {
        ssh_frame_header h;
        char buf[SSH_FRAME_MAX + 1];
        cr_assert_eq(recv_frame(fd, &h, buf, sizeof buf), 1,
                     "session closed during '%s'", cmd);
        if (h.type == SSH_EXIT)
            return ssh_frame_decode_status((uint8_t *)buf, h.length);
        if (h.type == SSH_STDOUT && len + h.length < cap) {
            memcpy(out + len, buf, h.length);
            len += h.length;
            out[len] = '\0';
        }
    }
}

/* Expects an ERROR frame mentioning `what`, then the server's close. */
static void expect_error_and_close(int fd, const char *what)
{
    ssh_frame_header h;
    char buf[1024];
    cr_assert_eq(recv_frame(fd, &h, buf, sizeof buf), 1, "no ERROR frame");
    cr_assert_eq(h.type, SSH_ERROR, "got %s, not ERROR",
                 ssh_frame_type_name(h.type));
    cr_assert(strstr(buf, what), "ERROR says '%s', not '%s'", buf, what);
    cr_assert_eq(ts_read_full(fd, buf, 1), 0, "the session stayed open");
}

static bool pid_gone_within(pid_t pid, double seconds)
{
    double deadline = ts_now() + seconds;
    while (ts_now() < deadline) {
        if (kill(pid, 0) < 0 && errno == ESRCH)
            return true;
        /* Dead but not yet reaped by whoever inherited it also counts. */
        char path[64], state = '?';
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "%*d %*s %c", &state) != 1)
                state = '?';
            fclose(f);
        }
        if (state == 'Z')
            return true;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* The pid of a child of parent whose command name is comm, waiting up to
 * seconds for it to appear; -1 if none did. */
static pid_t child_named(pid_t parent, const char *comm, double seconds)
{
    double deadline = ts_now() + seconds;
    char want[64];
    snprintf(want, sizeof want, "(%s)", comm);
    while (ts_now() < deadline) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        pid_t found = -1;
        while (d && found < 0 && (e = readdir(d)) != NULL) {
            char path[300], name[64];
            int ppid;
            if (e->d_name[0] < '0' || e->d_name[0] > '9')
                continue;
            snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
            FILE *f = fopen(path, "r");
            if (!f)
                continue;
            if (fscanf(f, "%*d %63s %*c %d", name, &ppid) == 2 &&
                ppid == parent && strcmp(name, want) == 0)
                found = (pid_t)atoi(e->d_name);
            fclose(f);
        }
        if (d)
            closedir(d);
        if (found > 0)
            return found;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* --- output -------------------------------------------------------------- */

Test(ssh, stdout_and_stderr_stay_apart)
{
    char out[256], err[256];
    int st = run_cmd("echo to-out; echo to-err >&2; echo more-out", NULL, out,
                     sizeof out, err, sizeof err);
    cr_assert_eq(exit_code(st), 0);
    cr_assert_str_eq(out, "to-out\nmore-out\n");
    cr_assert_str_eq(err, "to-err\n");
}

Test(ssh, exit_codes_pass_through)
{
    const int codes[] = {0, 1, 42, 255};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char cmd[32];
        snprintf(cmd, sizeof cmd, "exit %d", codes[i]);
        /* `exit N` under -c is the session's built-in: status N too. */
        cr_assert_eq(exit_code(run_cmd(cmd, NULL, NULL, 0, NULL, 0)), codes[i]);
        snprintf(cmd, sizeof cmd, "sh -c 'exit %d'", codes[i]);
        cr_assert_eq(exit_code(run_cmd(cmd, NULL, NULL, 0, NULL, 0)), codes[i]);
    }
    /* Killed by a signal: 128 + the signal, as a shell reports it. */
    cr_assert_eq(exit_code(run_cmd("kill -TERM $$", NULL, NULL, 0, NULL, 0)),
                 128 + SIGTERM);
}

Test(ssh, command_without_output_just_returns_its_status)
{
    char out[64] = "x", err[64] = "x";
    double t0 = ts_now();
    cr_assert_eq(exit_code(run_cmd("true", NULL, out, sizeof out, err,
                                   sizeof err)), 0);
    cr_assert_str_empty(out);
    cr_assert_str_empty(err);
    cr_assert_eq(exit_code(run_cmd("false", NULL, out, sizeof out, err,
                                   sizeof err)), 1);
    cr_assert_str_empty(out);
    cr_assert_lt(ts_now() - t0, 5.0, "a silent command must not hang");
}

Test(ssh, binary_output_with_every_byte_value_and_nuls)
{
    /* printf '\000\001...\377' twice: every byte, NULs included. */
    char cmd[4096] = "printf '";
    size_t len = strlen(cmd);
    for (int rep = 0; rep < 2; rep++)
        for (int b = 0; b < 256; b++)
            len += (size_t)snprintf(cmd + len, sizeof cmd - len, "\\%03o", b);
    snprintf(cmd + len, sizeof cmd - len, "'");

    ts_proc *p = calloc(1, sizeof *p);
    char *argv[] = {client_bin, addr_text, "-c", cmd, NULL};
    cr_assert_eq(ts_spawn(p, argv, NULL, -1, true), 0);
    int st = ts_stop(p, 0, 30);
    cr_assert_eq(exit_code(st), 0, "stderr: %s", p->err);
    cr_assert_eq(p->out_len, 512);
    for (size_t i = 0; i < 512; i++)
        cr_assert_eq((unsigned char)p->out[i], i % 256, "byte %zu", i);
    free(p);
}

Test(ssh, hundred_megabytes_arrive_byte_exact, .timeout = 240)
{
    char want[256], got[256], err[1024];
    char *local[] = {"/bin/sh", "-c", GEN("100000000") " | sha256sum", NULL};
    cr_assert_eq(exit_code(ts_run(local, NULL, 0, want, sizeof want, NULL, 0,
                                  120)), 0);
    cr_assert_eq(strlen(want), 64 + 4, "local checksum: '%s'", want);

    char script[3 * PATH_MAX];
    snprintf(script, sizeof script,
             "('%s' '%s' -c '%s'; echo \"client=$?\" >&2) | sha256sum",
             client_bin, addr_text, GEN("100000000"));
    char *remote[] = {"/bin/sh", "-c", script, NULL};
    double t0 = ts_now();
    cr_assert_eq(exit_code(ts_run(remote, NULL, 0, got, sizeof got, err,
                                  sizeof err, 200)), 0);
    cr_assert(strstr(err, "client=0"), "client failed: %s", err);
    cr_assert_str_eq(got, want, "100 MB arrived changed");
    cr_log_info("100 MB in %.1f s", ts_now() - t0);
}

Test(ssh, big_stdin_echoed_back_does_not_deadlock, .timeout = 240)
{
    /* cat returns what it reads while we are still sending: a client that
     * blocked on send while the server blocks on its send would hang. */
    char want[256], got[256], err[1024];
    char *local[] = {"/bin/sh", "-c", GEN("20000000") " | sha256sum", NULL};
    cr_assert_eq(exit_code(ts_run(local, NULL, 0, want, sizeof want, NULL, 0,
                                  60)), 0);
    char script[3 * PATH_MAX];
    snprintf(script, sizeof script,
             "%s | ('%s' '%s' -c cat; echo \"client=$?\" >&2) | sha256sum",
             GEN("20000000"), client_bin, addr_text);
    char *remote[] = {"/bin/sh", "-c", script, NULL};
    cr_assert_eq(exit_code(ts_run(remote, NULL, 0, got, sizeof got, err,
                                  sizeof err, 200)), 0);
    cr_assert(strstr(err, "client=0"), "client failed: %s", err);
    cr_assert_str_eq(got, want);
}

Test(ssh, stdin_reaches_the_command_and_eof_ends_it)
{
    char out[256];
    cr_assert_eq(exit_code(run_cmd("tr a-z A-Z; echo end", "hello\nworld\n",
                                   out, sizeof out, NULL, 0)), 0);
    cr_assert_str_eq(out, "HELLO\nWORLD\nend\n");
}

/* --- streaming and control ------------------------------------------------ */

Test(ssh, first_line_arrives_before_the_command_ends)
{
    ts_proc *p = calloc(1, sizeof *p);
    char *argv[] = {client_bin, addr_text, "-c",
                    "echo first; sleep 3; echo second", NULL};
    double t0 = ts_now();
    cr_assert_eq(ts_spawn(p, argv, NULL, -1, true), 0);
    cr_assert_eq(ts_wait_line(p, "first", NULL, 0, 10), 0, "no first line");
    double first = ts_now() - t0;
    cr_assert_lt(first, 2.5, "the first line took %.2f s: it was held back",
                 first);
    cr_assert_eq(p->status, -1, "the client had already finished");
    cr_assert_eq(exit_code(ts_stop(p, 0, 20)), 0);
    cr_assert_str_eq(p->out, "first\nsecond\n");
    cr_assert_geq(ts_now() - t0, 2.9);
    free(p);
}

Test(ssh, ctrl_c_interrupts_sleep_100_quickly)
{
    ts_proc *p = calloc(1, sizeof *p);
    char *argv[] = {client_bin, addr_text, "-c", "echo pid=$$; sleep 100",
                    NULL};
    cr_assert_eq(ts_spawn(p, argv, NULL, -1, true), 0);
    char rest[64];
    cr_assert_eq(ts_wait_line(p, "pid=", rest, sizeof rest, 10), 0);
    /* Ctrl-C while sleep runs, as a user would press it.  Sent while the
     * shell is still forking sleep, the signal can reach only the shell,
     * which (dash -c catches SIGINT) acts on it when sleep ends: the
     * shell's race, not the protocol's, so wait until sleep exists. */
    pid_t sleeper = child_named((pid_t)atoi(rest), "sleep", 10);
    cr_assert_gt(sleeper, 0, "sleep 100 did not start");
    double t0 = ts_now();
    kill(p->pid, SIGINT); /* what Ctrl-C does to the client */
    int st = ts_stop(p, 0, 20);
    cr_assert_lt(ts_now() - t0, 3.0,
                 "interrupt took %.2f s; client stderr:\n%s\nserver "
                 "stderr:\n%s",
                 ts_now() - t0, p->err, (ts_drain(&server), server.err));
    cr_assert_eq(exit_code(st), 128 + SIGINT, "status %d, stderr: %s", st,
                 p->err);
    cr_assert(pid_gone_within(sleeper, 5), "sleep survived the interrupt");
    free(p);
}

static void disconnect_kills_command(void)
{
    ts_proc *p = calloc(1, sizeof *p);
    char *argv[] = {client_bin, addr_text, "-c", "echo pid=$$; exec sleep 100",
                    NULL};
    cr_assert_eq(ts_spawn(p, argv, NULL, -1, true), 0);
    char rest[64];
    cr_assert_eq(ts_wait_line(p, "pid=", rest, sizeof rest, 10), 0);
    pid_t pid = (pid_t)atoi(rest);
    cr_assert_gt(pid, 1);
    cr_assert_eq(kill(pid, 0), 0, "the command is not running");
    ts_stop(p, SIGKILL, 10); /* the client vanishes without a word */
    cr_assert(pid_gone_within(pid, 5), "pid %d still runs after the client "
                                       "disconnected", (int)pid);
    free(p);
    /* and the server goes on */
    char out[64];
    cr_assert_eq(exit_code(run_cmd("echo alive", NULL, out, sizeof out, NULL,
                                   0)), 0);
    cr_assert_str_eq(out, "alive\n");
}

Test(ssh, disconnect_kills_the_running_command)
{
    disconnect_kills_command();
}

Test(ssh_setup, disconnect_kills_the_running_command_in_forking_mode)
{
    start_with("127.0.0.1:0", "forking", NULL, NULL);
    disconnect_kills_command();
}

Test(ssh_setup, client_gone_right_after_run_still_kills_the_command)
{
    /* The command may not have its process group yet when the client is
     * already gone; killing it must not wait for the group to exist. */
    start_with("127.0.0.1:0", "threading", NULL, NULL);
    for (int i = 0; i < 20; i++) {
        int fd = ts_connect(&addr, SOCK_STREAM, 10);
        cr_assert_geq(fd, 0);
        uint8_t buf[64];
        const char *cmd = "exec sleep 100";
        size_t n = 0;
        ssh_frame_encode_header(buf, SSH_HELLO, 1);
        buf[SSH_FRAME_HEADER] = SSH_PROTO_VERSION;
        n = SSH_FRAME_HEADER + 1;
        ssh_frame_encode_header(buf + n, SSH_RUN, strlen(cmd));
        memcpy(buf + n + SSH_FRAME_HEADER, cmd, strlen(cmd));
        n += SSH_FRAME_HEADER + strlen(cmd);
        cr_assert_eq(ts_write_full(fd, buf, n), 0);
        close(fd);
    }
    /* A session stuck with its command would hold up the stop. */
    double t0 = ts_now();
    int st = ts_stop(&server, SIGTERM, 20);
    server.pid = 0;
    cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "status %d; stderr: %s", st, server.err);
    cr_assert_lt(ts_now() - t0, 5.0, "stopping took %.1f s", ts_now() - t0);
}

static void ten_concurrent_sleeps(void)
{
    ts_proc *p = calloc(10, sizeof *p);
    char *argv[] = {client_bin, addr_text, "-c", "sleep 1", NULL};
    double t0 = ts_now();
    for (int i = 0; i < 10; i++)
        cr_assert_eq(ts_spawn(&p[i], argv, NULL, -1, true), 0);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(exit_code(ts_stop(&p[i], 0, 20)), 0, "client %d: %s", i,
                     p[i].err);
    double took = ts_now() - t0;
    cr_log_info("10 x sleep 1 took %.2f s", took);
    cr_assert_lt(took, 5.0, "10 sessions of sleep 1 took %.2f s: serialised?",
                 took);
    free(p);
}

Test(ssh, ten_concurrent_sleep_1_sessions_finish_together)
{
    ten_concurrent_sleeps();
}

Test(ssh_setup, ten_concurrent_sleep_1_sessions_in_forking_mode)
{
    start_with("127.0.0.1:0", "forking", NULL, NULL);
    ten_concurrent_sleeps();
}

/* The interactive client, on a pseudo-terminal made by Python's pty module:
 * the prompt, Ctrl-C at the prompt and during a command, stdin typed into a
 * running command, Ctrl-D, and the last status as the exit status. */
static const char pty_script[] =
    "import os, pty, select, sys, time\n"
    "client, addr = sys.argv[1], sys.argv[2]\n"
    "pid, fd = pty.fork()\n"
    "if pid == 0:\n"
    "    os.execv(client, [client, addr])\n"
    "buf = b''\n"
    "def expect(pat, t=10):\n"
    "    global buf\n"
    "    end = time.time() + t\n"
    "    while pat not in buf:\n"
    "        left = end - time.time()\n"
    "        if left <= 0:\n"
    "            sys.exit('no %r in %r' % (pat, buf))\n"
    "        if select.select([fd], [], [], left)[0]:\n"
    "            try:\n"
    "                data = os.read(fd, 4096)\n"
    "            except OSError:\n"
    "                data = b''\n"
    "            if not data:\n"
    "                sys.exit('EOF before %r in %r' % (pat, buf))\n"
    "            buf += data\n"
    "    i = buf.index(pat) + len(pat)\n"
    "    seen, buf = buf[:i], buf[i:]\n"
    "    return seen\n"
    "def child_sleep(parent, t=10):\n"
    "    end = time.time() + t\n"
    "    while time.time() < end:\n"
    "        for p in filter(str.isdigit, os.listdir('/proc')):\n"
    "            try:\n"
    "                f = open('/proc/%s/stat' % p).read().split()\n"
    "            except OSError:\n"
    "                continue\n"
    "            if f[1] == '(sleep)' and int(f[3]) == parent:\n"
    "                return\n"
    "        time.sleep(0.01)\n"
    "    sys.exit('sleep never started')\n"
    "prompt = addr.encode() + b'$ '\n"
    "expect(prompt)\n"
    "os.write(fd, b'cd /\\n'); expect(prompt)\n"
    "os.write(fd, b'pwd\\n'); expect(b'\\r\\n/\\r\\n'); expect(prompt)\n"
    "os.write(fd, b'\\x03'); expect(prompt)\n"
    "os.write(fd, b'echo pid=$$; sleep 100\\n')\n"
    "expect(b'sleep 100\\r\\n')  # the terminal's echo\n"
    "expect(b'pid='); child_sleep(int(expect(b'\\r\\n')[:-2]))\n"
    "t0 = time.time(); os.write(fd, b'\\x03'); expect(prompt, 5)\n"
    "if time.time() - t0 > 3:\n"
    "    sys.exit('Ctrl-C took %.1f s' % (time.time() - t0))\n"
    "os.write(fd, b'tr a-z A-Z\\n')\n"
    "os.write(fd, b'typed\\n\\x04'); expect(b'TYPED\\r\\n'); expect(prompt)\n"
    "os.write(fd, b\"sh -c 'exit 4'\\n\"); expect(prompt)\n"
    "os.write(fd, b'\\x04')\n"
    "_, st = os.waitpid(pid, 0)\n"
    "if not os.WIFEXITED(st) or os.WEXITSTATUS(st) != 4:\n"
    "    sys.exit('client status %r, output %r' % (st, buf))\n";

Test(ssh, interactive_prompt_on_a_terminal)
{
    char err[4096];
    char *argv[] = {"/usr/bin/python3", "-c", (char *)pty_script, client_bin,
                    addr_text, NULL};
    int st = ts_run(argv, NULL, 0, NULL, 0, err, sizeof err, 60);
    cr_assert_eq(exit_code(st), 0, "%s", err);
}

/* --- session state -------------------------------------------------------- */

Test(ssh, cd_then_pwd_and_cd_alone_goes_home)
{
    char dir[PATH_MAX], real[PATH_MAX], script[3 * PATH_MAX], out[4096],
        err[1024], want[5 * PATH_MAX];
    ts_mkdtemp("ssh-cd", dir, sizeof dir);
    cr_assert(mkdir(strcat(strcpy(real, dir), "/sub dir"), 0700) == 0);
    cr_assert_not_null(realpath(dir, real));
    snprintf(script, sizeof script,
             "cd %s\npwd\ncd 'sub dir'\npwd\nls ..\ncd /no/such/dir\npwd\ncd\n"
             "pwd\n",
             dir);
    run_script(script, out, sizeof out, err, sizeof err);
    const char *home = getenv("HOME");
    char home_real[PATH_MAX];
    cr_assert_not_null(realpath(home, home_real));
    snprintf(want, sizeof want, "%s\n%s/sub dir\nsub dir\n%s/sub dir\n%s\n",
             real, real, real, home_real);
    cr_assert_str_eq(out, want);
    cr_assert(strstr(err, "cd: /no/such/dir: No such file or directory"),
              "stderr: %s", err);
    ts_rmtree(dir);
}

Test(ssh, export_then_echo_and_sessions_do_not_share_it)
{
    char out[1024];
    int st = run_script("export GREETING='hello world' N=2\n"
                        "echo \"$GREETING/$N\"\n"
                        "sh -c 'echo child sees $GREETING'\n",
                        out, sizeof out, NULL, 0);
    cr_assert_eq(exit_code(st), 0);
    cr_assert_str_eq(out, "hello world/2\nchild sees hello world\n");
    cr_assert_eq(exit_code(run_cmd("echo \"[$GREETING]\"", NULL, out,
                                   sizeof out, NULL, 0)), 0);
    cr_assert_str_eq(out, "[]\n", "another session saw the variable");
}

Test(ssh, script_status_is_the_last_commands_and_exit_ends_the_session)
{
    char out[256];
    cr_assert_eq(exit_code(run_script("true\nsh -c 'exit 3'\n", out,
                                      sizeof out, NULL, 0)), 3);
    cr_assert_eq(exit_code(run_script("echo a\nexit 5\necho never\n", out,
                                      sizeof out, NULL, 0)), 5);
    cr_assert_str_eq(out, "a\n");
}

Test(ssh, commands_have_no_terminal_and_top_runs_in_batch_mode)
{
    char out[65536], err[1024];
    cr_assert_eq(exit_code(run_cmd("tty; echo \"[${TERM-unset}]\"", NULL, out,
                                   sizeof out, NULL, 0)), 0);
    cr_assert_str_eq(out, "not a tty\n[unset]\n");
    cr_assert_eq(exit_code(run_cmd("top -b -n 2 -d 0.2", NULL, out, sizeof out,
                                   err, sizeof err)), 0, "stderr: %s", err);
    cr_assert(strstr(out, "PID"), "top printed: %.200s", out);
    /* A full-screen program is refused with the reason. */
    cr_assert_eq(exit_code(run_cmd("top", NULL, NULL, 0, err, sizeof err)),
                 126);
    cr_assert(strstr(err, "needs a terminal"), "stderr: %s", err);
}

/* --- protocol errors ------------------------------------------------------ */

Test(ssh, oversized_frame_closes_only_that_session)
{
    int good = raw_session();
    int bad = raw_session();
    const uint8_t huge[] = {SSH_STDIN, 0x7f, 0xff, 0xff, 0xff};
    cr_assert_eq(ts_write_full(bad, huge, sizeof huge), 0);
    expect_error_and_close(bad, "maximum");
    close(bad);
    char out[256];
    cr_assert_eq(raw_run(good, "echo still here", out, sizeof out), 0);
    cr_assert_str_eq(out, "still here\n");
    close(good);
}

Test(ssh, malformed_frames_close_only_their_session)
{
    int good = raw_session();
    int bad = raw_session();
    const uint8_t unknown[] = {'Z', 0, 0, 0, 0};
    cr_assert_eq(ts_write_full(bad, unknown, sizeof unknown), 0);
    expect_error_and_close(bad, "unknown frame type");
    close(bad);

    bad = raw_session();
    send_frame(bad, SSH_RUN, "echo a\0b", 8);
    expect_error_and_close(bad, "NUL");
    close(bad);

    bad = raw_session();
    const uint8_t eof_with_payload[] = {SSH_STDIN_EOF, 0, 0, 0, 1, 'x'};
    cr_assert_eq(ts_write_full(bad, eof_with_payload, sizeof eof_with_payload),
                 0);
    expect_error_and_close(bad, "malformed");
    close(bad);

    /* A session that skips HELLO. */
    bad = ts_connect(&addr, SOCK_STREAM, 10);
    send_frame(bad, SSH_RUN, "id", 2);
    expect_error_and_close(bad, "HELLO");
    close(bad);

    char out[256];
    cr_assert_eq(raw_run(good, "echo fine", out, sizeof out), 0);
    cr_assert_str_eq(out, "fine\n");
    close(good);
}

Test(ssh, client_reports_a_protocol_error_with_255)
{
    /* A "server" that answers HELLO with an oversized frame. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sin;
    cr_assert_eq(bind(lfd, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(listen(lfd, 1), 0);
    cr_assert_eq(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
    char fake[64];
    snprintf(fake, sizeof fake, "127.0.0.1:%d", ntohs(sin.sin_port));
    ts_proc *p = calloc(1, sizeof *p);
    char *argv[] = {client_bin, fake, "-c", "true", NULL};
    cr_assert_eq(ts_spawn(p, argv, NULL, -1, true), 0);
    int c = accept(lfd, NULL, NULL);
    cr_assert_geq(c, 0);
    const uint8_t huge[] = {SSH_STDOUT, 0x01, 0, 0, 0};
    cr_assert_eq(ts_write_full(c, huge, sizeof huge), 0);
    cr_assert_eq(exit_code(ts_stop(p, 0, 10)), 255);
    cr_assert(strstr(p->err, "protocol error"), "stderr: %s", p->err);
    close(c);
    close(lfd);
    free(p);
}

Test(ssh, unreachable_server_exits_255)
{
    /* A port nobody listens on: bind one, close it, connect to it. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sin;
    bind(s, (struct sockaddr *)&sin, sizeof sin);
    getsockname(s, (struct sockaddr *)&sin, &sl);
    close(s);
    char gone[64], err[512];
    snprintf(gone, sizeof gone, "127.0.0.1:%d", ntohs(sin.sin_port));
    char *argv[] = {client_bin, gone, "-c", "true", NULL};
    cr_assert_eq(exit_code(ts_run(argv, NULL, 0, NULL, 0, err, sizeof err, 10)),
                 255);
    cr_assert(strstr(err, "connect"), "stderr: %s", err);
}

/* --- safety --------------------------------------------------------------- */

static char token_dir[PATH_MAX];

static const char *write_file(const char *name, const char *text)
{
    static char path[PATH_MAX + 64];
    if (!token_dir[0])
        ts_mkdtemp("ssh-token", token_dir, sizeof token_dir);
    snprintf(path, sizeof path, "%s/%s", token_dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

Test(ssh_setup, wrong_or_missing_token_is_refused_with_255)
{
    char right[PATH_MAX + 64], wrong[PATH_MAX + 64];
    snprintf(right, sizeof right, "%s", write_file("right", "s3cret\n"));
    snprintf(wrong, sizeof wrong, "%s", write_file("wrong", "s3creT\n"));
    start_with("127.0.0.1:0", "threading", "--token-file", right);

    char out[256], err[1024];
    char *bad[] = {client_bin, addr_text, "--token-file", wrong, "-c",
                   "echo should not run", NULL};
    cr_assert_eq(exit_code(ts_run(bad, NULL, 0, out, sizeof out, err,
                                  sizeof err, 20)), 255);
    cr_assert_str_empty(out);
    cr_assert(strstr(err, "authentication failed"), "stderr: %s", err);

    char *none[] = {client_bin, addr_text, "-c", "echo should not run", NULL};
    cr_assert_eq(exit_code(ts_run(none, NULL, 0, out, sizeof out, err,
                                  sizeof err, 20)), 255);
    cr_assert(strstr(err, "authentication failed"), "stderr: %s", err);

    char *good[] = {client_bin, addr_text, "--token-file", right, "-c",
                    "echo in", NULL};
    cr_assert_eq(exit_code(ts_run(good, NULL, 0, out, sizeof out, err,
                                  sizeof err, 20)), 0, "stderr: %s", err);
    cr_assert_str_eq(out, "in\n");

    /* From the environment; and the server's own copy is not passed on. */
    ts_proc *p = calloc(1, sizeof *p);
    char *env[] = {"SSH_DEMO_TOKEN=s3cret", NULL};
    char *viaenv[] = {client_bin, addr_text, "-c",
                      "echo \"env [${SSH_DEMO_TOKEN-}]\"", NULL};
    cr_assert_eq(ts_spawn(p, viaenv, env, -1, true), 0);
    cr_assert_eq(exit_code(ts_stop(p, 0, 20)), 0, "stderr: %s", p->err);
    cr_assert_str_eq(p->out, "env []\n");
    free(p);
    ts_rmtree(token_dir);
}

Test(ssh_setup, non_loopback_listen_without_token_is_refused_at_start)
{
    find_programs();
    char err[1024];
    char *argv[] = {server_bin, "--listen", "0.0.0.0:0", NULL};
    cr_assert_eq(exit_code(ts_run(argv, NULL, 0, NULL, 0, err, sizeof err, 10)),
                 2);
    cr_assert(strstr(err, "refusing"), "stderr: %s", err);
}

Test(ssh_setup, unix_socket_and_forking_mode_serve_sessions)
{
    char dir[PATH_MAX], listen[PATH_MAX + 16];
    ts_mkdtemp("ssh-unix", dir, sizeof dir);
    snprintf(listen, sizeof listen, "unix:%s/s.sock", dir);
    start_with(listen, "forking", NULL, NULL);
    cr_assert_str_eq(addr_text, listen);
    char out[256];
    cr_assert_eq(exit_code(run_script("export X=1\necho x=$X\npwd\n", out,
                                      sizeof out, NULL, 0)), 0);
    char want[PATH_MAX + 16], home[PATH_MAX];
    cr_assert_not_null(realpath(getenv("HOME"), home));
    snprintf(want, sizeof want, "x=1\n%s\n", home);
    cr_assert_str_eq(out, want);
    stop_server();
    struct stat st;
    cr_assert_neq(stat(listen + 5, &st), 0, "socket file left behind");
    ts_rmtree(dir);
}

Test(ssh_setup, per_command_timeout_kills_with_124)
{
    start_with("127.0.0.1:0", "threading", "--timeout", "0.5");
    char err[512];
    double t0 = ts_now();
    cr_assert_eq(exit_code(run_cmd("sleep 100", NULL, NULL, 0, err,
                                   sizeof err)), 124);
    cr_assert_lt(ts_now() - t0, 5.0);
    cr_assert(strstr(err, "timed out"), "stderr: %s", err);
}

Test(ssh_setup, sigterm_stops_the_server_and_ends_running_commands)
{
    start_with("127.0.0.1:0", "threading", NULL, NULL);
    ts_proc *p = calloc(1, sizeof *p);
    char *argv[] = {client_bin, addr_text, "-c", "echo pid=$$; exec sleep 100",
                    NULL};
    cr_assert_eq(ts_spawn(p, argv, NULL, -1, true), 0);
    char rest[64];
    cr_assert_eq(ts_wait_line(p, "pid=", rest, sizeof rest, 10), 0);
    pid_t pid = (pid_t)atoi(rest);
    double t0 = ts_now();
    int st = ts_stop(&server, SIGTERM, 10);
    server.pid = 0;
    cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "status %d; stderr: %s", st, server.err);
    cr_assert_lt(ts_now() - t0, 5.0);
    cr_assert(pid_gone_within(pid, 5));
    cr_assert_eq(exit_code(ts_stop(p, 0, 10)), 255, "the client should see "
                                                    "the connection drop");
    free(p);
}
