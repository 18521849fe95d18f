/* examples/ssh/session.c - see session.h. */
#include "session.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "env.h"
#include "frame.h"
#include "runner.h"
#include "token.h"

extern char **environ;

typedef struct ssh_session {
    ss_stream_handler base; /* first: the handler is a StreamRequestHandler */
    ssh_conn conn;
    ssh_env env;
    char cwd[PATH_MAX];
    int last_status;
} ssh_session;

/* Words of a built-in's line; more makes it a shell command. */
#define MAX_WORDS 64

/* Programs that draw on a terminal.  Without a pty they would hang or fail
 * without a word, so they are refused up front with a reason. */
static const char *const needs_terminal[] = {
    "vi",   "vim",   "nvim", "view", "nano", "pico",   "emacs", "htop",
    "btop", "watch", "tmux", "screen", "mc", "tig",    "alsamixer",
};

static void configure(ss_handler *self)
{
    SS_SUPER(&ssh_session_class, configure)(self);
    /* Small frames (a prompt's output, a Ctrl-C) must go out at once.
     * TCP only: setup() fails on a unix socket that is asked for it. */
    if (self->server->address_family != AF_UNIX)
        ((ss_stream_handler *)self)->disable_nagle_algorithm = true;
}

/* --- built-ins ---------------------------------------------------------- */

/* Splits line in place into words: blanks separate, '...' and "..." quote.
 * Returns the count, or -1 when the line needs a real shell: an operator,
 * an expansion, an escape or an unbalanced quote. */
static int split_words(char *line, char **words)
{
    int n = 0;
    char *r = line, *w = line;
    for (;;) {
        while (*r == ' ' || *r == '\t')
            r++;
        if (!*r)
            return n;
        if (n == MAX_WORDS)
            return -1;
        words[n++] = w;
        while (*r && *r != ' ' && *r != '\t') {
            if (*r == '\'' || *r == '"') {
                char q = *r++;
                while (*r && *r != q) {
                    if (q == '"' && strchr("$`\\", *r))
                        return -1;
                    *w++ = *r++;
                }
                if (!*r)
                    return -1;
                r++;
            } else if (strchr(";&|<>()$`\\*?[]#{}\n", *r)) {
                return -1;
            } else {
                *w++ = *r++;
            }
        }
        if (*r)
            r++;
        *w++ = '\0';
    }
}

static int reply(ssh_session *s, uint8_t type, ss_error *err, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));
static int reply(ssh_session *s, uint8_t type, ss_error *err, const char *fmt,
                 ...)
{
    char text[PATH_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return ssh_conn_send(&s->conn, type, text, strlen(text), err);
}

static const char *home(const ssh_session *s)
{
    const char *h = ssh_env_get(&s->env, "HOME");
    return h && *h ? h : "/";
}

/* cd [DIR]: the session's directory, for every later command. */
static int builtin_cd(ssh_session *s, int argc, char **argv, int *status,
                      ss_error *err)
{
    *status = 1;
    if (argc > 2)
        return reply(s, SSH_STDERR, err, "cd: too many arguments\n");
    const char *arg = argc == 2 ? argv[1] : "~";
    char path[PATH_MAX * 2];
    if (strcmp(arg, "~") == 0 || strncmp(arg, "~/", 2) == 0)
        snprintf(path, sizeof path, "%s%s", home(s), arg + 1);
    else if (arg[0] == '/')
        snprintf(path, sizeof path, "%s", arg);
    else
        snprintf(path, sizeof path, "%s/%s", s->cwd, arg);
    if (strlen(path) >= PATH_MAX)
        return reply(s, SSH_STDERR, err, "cd: %s: path too long\n", arg);
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(path, real) || stat(real, &st) < 0)
        return reply(s, SSH_STDERR, err, "cd: %s: %s\n", arg, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return reply(s, SSH_STDERR, err, "cd: %s: Not a directory\n", arg);
    if (access(real, X_OK) < 0)
        return reply(s, SSH_STDERR, err, "cd: %s: %s\n", arg, strerror(errno));
    snprintf(s->cwd, sizeof s->cwd, "%s", real);
    if (ssh_env_set(&s->env, "PWD", 3, s->cwd) < 0)
        return reply(s, SSH_STDERR, err, "cd: cannot set PWD\n");
    *status = 0;
    return 0;
}

/* export [NAME=VALUE | NAME]...: the session's environment. */
static int builtin_export(ssh_session *s, int argc, char **argv, int *status,
                          ss_error *err)
{
    *status = 0;
    if (argc == 1) {
        for (size_t i = 0; i < s->env.n; i++) {
            int rc = reply(s, SSH_STDOUT, err, "export %s\n", s->env.vars[i]);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        size_t len = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
        int rc = 0;
        if (!ssh_env_valid_name(argv[i], len)) {
            *status = 1;
            rc = reply(s, SSH_STDERR, err,
                       "export: '%.*s': not a valid identifier\n", (int)len,
                       argv[i]);
        } else if (eq && ssh_env_set(&s->env, argv[i], len, eq + 1) < 0) {
            *status = 1;
            rc = reply(s, SSH_STDERR, err,
                       "export: %.*s: too many variables (at most %d)\n",
                       (int)len, argv[i], SSH_ENV_MAX);
        }
        /* NAME alone: every variable is exported here already. */
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Returns 1 when the line was a built-in (status set, output sent), 2 for
 * exit, 0 when it is not one, or a negative send error.  Splits line. */
static int builtin(ssh_session *s, char *line, int *status,
                   ss_error *err)
{
    static const char *const names[] = {"cd", "pwd", "export", "exit"};
    size_t first = strcspn(line, " \t");
    int which = -1;
    for (int i = 0; i < 4; i++)
        if (strlen(names[i]) == first && strncmp(line, names[i], first) == 0)
            which = i;
    if (which < 0)
        return 0;
    char *argv[MAX_WORDS];
    /* In place: a built-in's line is not needed afterwards. */
    int argc = split_words((char *)line, argv);
    if (argc < 0) {
        /* Run by sh, `cd $X; ls` would change nothing here, silently. */
        *status = 2;
        int rc = reply(s, SSH_STDERR, err,
                       "%s: the session's built-ins take plain words; "
                       "no $, ;, |, ... (those need a shell, which would "
                       "forget the change)\n",
                       names[which]);
        return rc < 0 ? rc : which == 3 ? 2 : 1;
    }
    int rc = 0;
    switch (which) {
    case 0:
        rc = builtin_cd(s, argc, argv, status, err);
        break;
    case 1:
        *status = 0;
        rc = reply(s, SSH_STDOUT, err, "%s\n", s->cwd);
        break;
    case 2:
        rc = builtin_export(s, argc, argv, status, err);
        break;
    case 3:
        /* exit always ends the session, so a client can tell from the
         * command alone that the connection will close after EXIT. */
        *status = s->last_status;
        if (argc > 2) {
            *status = 1;
            rc = reply(s, SSH_STDERR, err, "exit: too many arguments\n");
            return rc < 0 ? rc : 2;
        }
        if (argc == 2) {
            char *end;
            long v = strtol(argv[1], &end, 10);
            if (*end || end == argv[1] || v < 0 || v > 255) {
                *status = 2;
                rc = reply(s, SSH_STDERR, err,
                           "exit: %s: a number 0..255 is required\n", argv[1]);
            } else {
                *status = (int)v;
            }
        }
        return rc < 0 ? rc : 2;
    }
    return rc < 0 ? rc : 1;
}

/* Refuses a program that needs a terminal.  Returns 1 (refused: status and
 * message sent), 0, or a negative send error. */
static int refuse_terminal_program(ssh_session *s, const char *line,
                                   int *status, ss_error *err)
{
    size_t len = strcspn(line, " \t;|&");
    const char *slash = memrchr(line, '/', len);
    const char *name = slash ? slash + 1 : line;
    len -= (size_t)(name - line);
    bool refuse = false;
    for (size_t i = 0; i < sizeof needs_terminal / sizeof *needs_terminal; i++)
        if (strlen(needs_terminal[i]) == len &&
            strncmp(name, needs_terminal[i], len) == 0)
            refuse = true;
    if (len == 3 && strncmp(name, "top", 3) == 0) {
        /* top is fine in batch mode: -b anywhere in its options. */
        refuse = true;
        for (const char *p = name + 3; (p = strchr(p, '-')) != NULL; p++)
            if (p[-1] == ' ' || p[-1] == '\t')
                for (const char *q = p + 1; *q && *q != ' ' && *q != '\t'; q++)
                    if (*q == 'b')
                        refuse = false;
    }
    if (!refuse)
        return 0;
    *status = 126;
    int rc = reply(s, SSH_STDERR, err,
                   "ssh-demo: '%.*s' needs a terminal, and this demo has no "
                   "pty (commands run on pipes, without TERM); use a batch "
                   "mode instead, e.g. top -b -n 1\n",
                   (int)len, name);
    return rc < 0 ? rc : 1;
}

/* One RUN frame.  Returns 0 to go on, 1 when the session is to end (exit),
 * or a negative code with err set. */
static int run_line(ssh_session *s, size_t len, ss_error *err)
{
    const ssh_server_config *cfg = s->base.base.server->data;
    char *line = (char *)s->conn.in;
    if (memchr(line, '\0', len))
        return ss_error_set(err, SS_EPROTO,
                            "protocol error: RUN frame holds a NUL byte");
    line[len] = '\0'; /* conn.in has room for it */
    while (*line == ' ' || *line == '\t' || *line == '\n')
        line++;
    for (size_t n = strlen(line);
         n && (line[n - 1] == ' ' || line[n - 1] == '\t' ||
               line[n - 1] == '\n' || line[n - 1] == '\r');)
        line[--n] = '\0';

    int status = 0, rc = 0;
    if (*line == '\0')
        rc = 1; /* nothing to run: status 0 */
    if (rc == 0)
        rc = builtin(s, line, &status, err);
    if (rc == 0)
        rc = refuse_terminal_program(s, line, &status, err);
    if (rc == 0) {
        ssh_command cmd = {.line = line, .cwd = s->cwd,
                           .envp = ssh_env_array(&s->env),
                           .timeout = cfg->timeout};
        rc = ssh_run(&s->conn, &cmd, &status, err);
    }
    if (rc < 0)
        return rc;
    s->last_status = status;
    uint8_t st[4];
    ssh_frame_encode_status(st, status);
    int src = ssh_conn_send(&s->conn, SSH_EXIT, st, sizeof st, err);
    if (src < 0)
        return src;
    return rc == 2 ? 1 : 0;
}

/* --- the session -------------------------------------------------------- */

static int greet(ssh_session *s, const ssh_server_config *cfg, ss_error *err)
{
    ssh_frame_header h;
    int rc = ssh_conn_recv(&s->conn, &h, err);
    if (rc == 0)
        return ss_error_set(err, SS_ECLOSED, "client left before HELLO");
    if (rc < 0)
        return rc;
    if (h.type != SSH_HELLO)
        return ss_error_set(err, SS_EPROTO,
                            "protocol error: a session starts with HELLO, "
                            "not %s",
                            ssh_frame_type_name(h.type));
    if (h.length < 1 || s->conn.in[0] != SSH_PROTO_VERSION)
        return ss_error_set(err, SS_EPROTO,
                            "protocol error: unsupported protocol version %d "
                            "(this server speaks %d)",
                            h.length ? s->conn.in[0] : 0, SSH_PROTO_VERSION);
    if (cfg->token &&
        !ssh_token_equal(s->conn.in + 1, h.length - 1, cfg->token,
                         cfg->token_len))
        return ss_error_set(err, -EACCES,
                            "authentication failed: wrong or missing token");
    return ssh_conn_send(&s->conn, SSH_READY, NULL, 0, err);
}

static int serve(ssh_session *s, ss_error *err)
{
    const ssh_server_config *cfg = s->base.base.server->data;
    int rc = greet(s, cfg, err);
    while (rc == 0) {
        ssh_frame_header h;
        rc = ssh_conn_recv(&s->conn, &h, err);
        if (rc == 0)
            return 0; /* the client said goodbye by closing */
        if (rc < 0)
            break;
        switch (h.type) {
        case SSH_RUN:
            rc = run_line(s, h.length, err);
            break;
        case SSH_STDIN:
        case SSH_STDIN_EOF:
        case SSH_SIGNAL:
            /* Sent while the last command was ending: harmless, dropped. */
            rc = 0;
            break;
        default:
            rc = ss_error_set(err, SS_EPROTO,
                              "protocol error: unexpected %s frame",
                              ssh_frame_type_name(h.type));
        }
    }
    return rc == 1 ? 0 : rc;
}

static int handle(ss_handler *self, ss_error *err)
{
    ssh_session *s = (ssh_session *)self;
    if (ssh_conn_init(&s->conn, &s->base) < 0 ||
        ssh_env_init(&s->env, environ) < 0)
        return ss_error_set(err, -ENOMEM, "out of memory");
    /* Like a login, a session starts at home. */
    const char *h = home(s);
    struct stat st;
    if (stat(h, &st) == 0 && S_ISDIR(st.st_mode) && strlen(h) < PATH_MAX)
        snprintf(s->cwd, sizeof s->cwd, "%s", h);
    else if (!getcwd(s->cwd, sizeof s->cwd))
        snprintf(s->cwd, sizeof s->cwd, "/");
    ssh_env_set(&s->env, "PWD", 3, s->cwd);

    int rc = serve(s, err);
    if (rc == SS_EPROTO || rc == -EACCES) {
        /* Tell the client why before closing; it may not listen. */
        ss_error ignored;
        ssh_conn_send(&s->conn, SSH_ERROR, err->msg, strlen(err->msg),
                      &ignored);
    }
    return rc;
}

static int finish(ss_handler *self, ss_error *err)
{
    ssh_session *s = (ssh_session *)self;
    ssh_conn_close(&s->conn);
    ssh_env_close(&s->env);
    return SS_SUPER(&ssh_session_class, finish)(self, err);
}

const ss_handler_class ssh_session_class = {
    .base = &ss_stream_request_handler_class,
    .name = "SshSession",
    .instance_size = sizeof(ssh_session),
    .configure = configure,
    .handle = handle,
    .finish = finish,
};
