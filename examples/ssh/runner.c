/* examples/ssh/runner.c - see runner.h. */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Stdin bytes accepted from the client and not yet taken by the command.
 * A frame is only read when a whole one fits. */
#define STDIN_QUEUE (2 * SSH_FRAME_MAX)
/* After the shell exits and its group is killed, output still in the pipes
 * is read until EOF; this bounds the wait for a process that left the group
 * (setsid) but kept the pipes. */
#define DRAIN_SECONDS 2.0
/* Without a pidfd, how often to look whether the shell has exited. */
#define EXIT_POLL_MS 50

typedef struct run {
    ssh_conn *c;
    pid_t pid;
    int pidfd;                  /* -1: poll for the exit with waitid() */
    int in_fd, out_fd, err_fd;  /* -1 once closed */
    uint8_t *queue;             /* STDIN_QUEUE bytes */
    size_t qlen;
    bool stdin_eof;             /* the client sent STDIN_EOF */
    bool exited;                /* the shell has exited and been reaped */
    int wstatus;
    bool timed_out;
    double deadline;            /* --timeout; 0: none */
    double drain_until;
} run;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void write_str(int fd, const char *s)
{
    ssize_t r = write(fd, s, strlen(s));
    (void)r;
}

/* In the child: only async-signal-safe calls from here to execve(). */
__attribute__((noreturn)) static void exec_child(const ssh_command *cmd,
                                                 char *const argv[], int in,
                                                 int out, int err)
{
    /* A new session: its own process group for signals, and no controlling
     * terminal, so a program cannot reach the server's terminal.  First,
     * to keep the window short in which the group does not exist yet (see
     * signal_command). */
    setsid();
    /* The server blocks SIGTERM/SIGINT (a thread takes them with sigwait)
     * and ignores SIGPIPE; an exec keeps both the mask and ignored
     * dispositions, and the command must start with the defaults.  A
     * signal sent meanwhile stays pending and acts once unblocked. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        sigaction(s, &dfl, NULL); /* fails harmlessly for KILL, STOP, ... */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        _exit(127);
    /* Other sessions' sockets must not live on in this command, or their
     * disconnects would go unseen. */
    close_range(3, ~0u, 0);
    if (chdir(cmd->cwd) < 0) {
        write_str(2, "ssh-demo-server: the session's directory is gone: ");
        write_str(2, cmd->cwd);
        write_str(2, "\n");
        _exit(126);
    }
    execve("/bin/sh", argv, cmd->envp);
    write_str(2, "ssh-demo-server: cannot run /bin/sh\n");
    _exit(127);
}

static int spawn(run *r, const ssh_command *cmd, ss_error *err)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
    char *argv[] = {"sh", "-c", (char *)cmd->line, NULL};
    int rc = 0;
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
        pipe2(errp, O_CLOEXEC) < 0) {
        rc = ss_error_errno(err, "pipe");
        goto fail;
    }
    pid_t pid = fork();
    if (pid < 0) {
        rc = ss_error_errno(err, "fork");
        goto fail;
    }
    if (pid == 0)
        exec_child(cmd, argv, in[0], out[1], errp[1]);
    close(in[0]);
    close(out[1]);
    close(errp[1]);
    r->pid = pid;
    r->in_fd = in[1];
    r->out_fd = out[0];
    r->err_fd = errp[0];
    /* Never block on the command: a child that stops reading stdin while
     * it fills stdout would otherwise deadlock with us. */
    fcntl(r->in_fd, F_SETFL, O_NONBLOCK);
    fcntl(r->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(r->err_fd, F_SETFL, O_NONBLOCK);
#ifdef __SANITIZE_THREAD__
    /* ThreadSanitizer does not intercept pidfd_open(): it would take the
     * pidfd for whichever descriptor last had its number and report our
     * close() of it as a race.  The exit poll below serves instead. */
    r->pidfd = -1;
#else
    r->pidfd = pidfd_open(pid, 0);
#endif
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    return rc;
}

/* Sends sig to the command's process group, and to the shell itself: until
 * the child has called setsid() the group does not exist and kill(-pid)
 * fails with ESRCH, while the shell, our unreaped child, can always be
 * reached by its pid.  Nothing else is in the group before the shell runs,
 * so the two together never miss a process. */
static void signal_command(const run *r, int sig)
{
    kill(-r->pid, sig);
    kill(r->pid, sig);
}

/* Notes that the shell exited: kills what it left in its group, while its
 * unreaped zombie still holds the group id (so the id cannot have been
 * reused), then reaps it. */
static void check_exit(run *r)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
        si.si_pid != r->pid)
        return;
    kill(-r->pid, SIGKILL);
    while (waitpid(r->pid, &r->wstatus, 0) < 0 && errno == EINTR)
        ;
    r->exited = true;
    close_fd(&r->pidfd);
    close_fd(&r->in_fd);
    r->qlen = 0;
    r->drain_until = now() + DRAIN_SECONDS;
}

/* Ends the command at once: the session is over. */
static void kill_and_reap(run *r)
{
    if (!r->exited) {
        signal_command(r, SIGKILL);
        while (waitpid(r->pid, &r->wstatus, 0) < 0 && errno == EINTR)
            ;
        r->exited = true;
    }
}

/* One read from a child's pipe, sent as one frame.  0, or a send error. */
static int relay(run *r, int *fd, uint8_t type, ss_error *err)
{
    ssize_t n = read(*fd, ssh_conn_payload(r->c), SSH_FRAME_MAX);
    if (n > 0)
        return ssh_conn_send(r->c, type, ssh_conn_payload(r->c), (size_t)n,
                             err);
    if (n == 0 || (errno != EAGAIN && errno != EINTR))
        close_fd(fd);
    return 0;
}

static void feed_stdin(run *r)
{
    while (r->qlen > 0 && r->in_fd >= 0) {
        ssize_t n = write(r->in_fd, r->queue, r->qlen);
        if (n < 0) {
            if (errno == EAGAIN)
                return;
            if (errno == EINTR)
                continue;
            /* EPIPE: the command closed its stdin; the rest is dropped. */
            close_fd(&r->in_fd);
            r->qlen = 0;
            return;
        }
        memmove(r->queue, r->queue + n, r->qlen - (size_t)n);
        r->qlen -= (size_t)n;
    }
    if (r->qlen == 0 && r->stdin_eof)
        close_fd(&r->in_fd);
}

/* Handles one client frame that arrived while the command runs.  0 or a
 * negative code with err set. */
static int client_frame(run *r, const ssh_frame_header *h, ss_error *err)
{
    switch (h->type) {
    case SSH_STDIN:
        /* After STDIN_EOF, or once the command closed its stdin, data has
         * nowhere to go. */
        if (r->in_fd >= 0 && !r->stdin_eof) {
            memcpy(r->queue + r->qlen, r->c->in, h->length);
            r->qlen += h->length;
            feed_stdin(r);
        }
        return 0;
    case SSH_STDIN_EOF:
        r->stdin_eof = true;
        feed_stdin(r);
        return 0;
    case SSH_SIGNAL: {
        int sig = ssh_frame_signal_number(r->c->in, h->length);
        if (sig < 0)
            return ss_error_set(err, SS_EPROTO,
                                "protocol error: SIGNAL frame names no "
                                "signal this server sends");
        if (!r->exited)
            signal_command(r, sig);
        return 0;
    }
    default:
        return ss_error_set(err, SS_EPROTO,
                            "protocol error: %s frame while a command runs",
                            ssh_frame_type_name(h->type));
    }
}

static int timeout_ms(const run *r, bool frames_pending)
{
    if (frames_pending)
        return 0;
    double until = 0;
    if (r->exited)
        until = r->drain_until;
    else if (r->deadline > 0 && !r->timed_out)
        until = r->deadline;
    int ms = -1;
    if (until > 0) {
        double left = until - now();
        ms = left <= 0 ? 0 : (int)(left * 1000) + 1;
    }
    if (!r->exited && r->pidfd < 0 && (ms < 0 || ms > EXIT_POLL_MS))
        ms = EXIT_POLL_MS;
    return ms;
}

static int loop(run *r, ss_error *err)
{
    enum { SOCK, OUT, ERR, IN, PID, NFDS };
    for (;;) {
        if (r->exited &&
            ((r->out_fd < 0 && r->err_fd < 0) || now() >= r->drain_until))
            return 0;
        /* Once the shell has exited only its output matters; frames the
         * client sent meanwhile wait for the session loop. */
        bool want_frames = !r->exited && r->qlen + SSH_FRAME_MAX <= STDIN_QUEUE;
        bool pending = want_frames && ssh_conn_pending(r->c);
        struct pollfd pf[NFDS] = {
            [SOCK] = {r->exited ? -1 : ssh_conn_fd(r->c),
                      (short)(POLLRDHUP | (want_frames ? POLLIN : 0)), 0},
            [OUT] = {r->out_fd, POLLIN, 0},
            [ERR] = {r->err_fd, POLLIN, 0},
            [IN] = {r->qlen > 0 ? r->in_fd : -1, POLLOUT, 0},
            [PID] = {r->exited ? -1 : r->pidfd, POLLIN, 0},
        };
        int n = poll(pf, NFDS, timeout_ms(r, pending));
        if (n < 0 && errno != EINTR)
            return ss_error_errno(err, "poll");
        if (n < 0)
            continue;

        /* A client that is gone cannot be sent anything: stop at once. */
        if (pf[SOCK].revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL))
            return ss_error_set(err, SS_ECLOSED,
                                "client disconnected; command killed");
        if (pending || (pf[SOCK].revents & POLLIN)) {
            ssh_frame_header h;
            int rc = ssh_conn_recv(r->c, &h, err);
            if (rc == 0)
                return ss_error_set(err, SS_ECLOSED,
                                    "client disconnected; command killed");
            if (rc < 0 || (rc = client_frame(r, &h, err)) < 0)
                return rc;
        }
        if (pf[IN].revents)
            feed_stdin(r);
        if (pf[OUT].revents) {
            int rc = relay(r, &r->out_fd, SSH_STDOUT, err);
            if (rc < 0)
                return rc;
        }
        if (pf[ERR].revents) {
            int rc = relay(r, &r->err_fd, SSH_STDERR, err);
            if (rc < 0)
                return rc;
        }
        if (!r->exited && (r->pidfd < 0 || pf[PID].revents))
            check_exit(r);
        if (!r->exited && r->deadline > 0 && !r->timed_out &&
            now() >= r->deadline) {
            r->timed_out = true;
            signal_command(r, SIGKILL);
            if (r->pidfd < 0)
                check_exit(r);
        }
    }
}

int ssh_run(ssh_conn *c, const ssh_command *cmd, int *status, ss_error *err)
{
    run r = {.c = c, .pid = -1, .pidfd = -1, .in_fd = -1, .out_fd = -1,
             .err_fd = -1};
    if (!(r.queue = malloc(STDIN_QUEUE)))
        return ss_error_set(err, -ENOMEM, "out of memory");
    int rc = spawn(&r, cmd, err);
    if (rc < 0) {
        /* Out of processes or descriptors: this command fails, the session
         * goes on. */
        free(r.queue);
        *status = 126;
        return ssh_conn_sendf(c, SSH_STDERR, err,
                              "ssh-demo-server: cannot start the command: %s\n",
                              err->msg);
    }
    if (cmd->timeout > 0)
        r.deadline = now() + cmd->timeout;
    rc = loop(&r, err);
    kill_and_reap(&r);
    close_fd(&r.pidfd);
    close_fd(&r.in_fd);
    close_fd(&r.out_fd);
    close_fd(&r.err_fd);
    free(r.queue);
    if (rc < 0)
        return rc;
    if (r.timed_out) {
        *status = SSH_STATUS_TIMEOUT;
        return ssh_conn_sendf(c, SSH_STDERR, err,
                              "ssh-demo-server: command timed out after %g s\n",
                              cmd->timeout);
    }
    *status = WIFEXITED(r.wstatus)     ? WEXITSTATUS(r.wstatus)
              : WIFSIGNALED(r.wstatus) ? 128 + WTERMSIG(r.wstatus)
                                       : 255;
    return 0;
}
