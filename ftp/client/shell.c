/* ftp/client/shell.c - see shell.h. */
#include "shell.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checksum.h"
#include "data.h"
#include "lineedit.h"
#include "listing.h"
#include "mirror.h"
#include "pget.h"
#include "status.h"
#include "transfer.h"

#define MAX_ARGS 64

typedef struct command {
    const char *name;
    int min, max; /* argument counts, the command name excluded */
    int (*run)(ftpc_session *s, int argc, char **argv);
    const char *usage, *help;
} command;

/* Checks a reply class; on anything else records "NNN text" (the error
 * line printed by ftpc_shell_run already names the command). */
static int expect(ftpc_session *s, int code, int want_class, const char *what)
{
    if (code < 0)
        return code;
    if (code / 100 == want_class)
        return 0;
    (void)what; /* the caller's message already names the command */
    return ftpc_ctrl_fail(&s->ctrl, FTPC_ERR_REMOTE, NULL);
}

static int cmd_ls(ftpc_session *s, int argc, char **argv)
{
    return ftpc_listing(s, "LIST", argc > 1 ? argv[1] : NULL, stdout, NULL, NULL);
}

static int cmd_cd(ftpc_session *s, int argc, char **argv)
{
    (void)argc;
    int r = expect(s, ftpc_ctrl_cmd(&s->ctrl, "CWD %s", argv[1]), 2, argv[1]);
    if (r < 0)
        return r;
    /* Remember where we are so a reconnect can come back here. */
    if (ftpc_ctrl_cmd(&s->ctrl, "PWD") == 257)
        ftpc_parse_257(s->ctrl.reply.last, s->cwd, sizeof s->cwd);
    return 0;
}

static int cmd_pwd(ftpc_session *s, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int r = expect(s, ftpc_ctrl_cmd(&s->ctrl, "PWD"), 2, "PWD");
    if (r < 0)
        return r;
    char path[1024];
    if (ftpc_parse_257(s->ctrl.reply.last, path, sizeof path) < 0)
        return ftpc_ctrl_fail(&s->ctrl, FTPC_ERR_REMOTE, "PWD gave no path");
    printf("%s\n", path);
    return 0;
}

static int cmd_lcd(ftpc_session *s, int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : getenv("HOME");
    if (!dir || chdir(dir) < 0) {
        snprintf(s->ctrl.err, sizeof s->ctrl.err, "%s: %s", dir ? dir : "$HOME",
                 strerror(dir ? errno : ENOENT));
        return FTPC_ERR_LOCAL;
    }
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd))
        printf("local directory: %s\n", cwd);
    return 0;
}

static int cmd_lls(ftpc_session *s, int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    if (n < 0) {
        snprintf(s->ctrl.err, sizeof s->ctrl.err, "%s: %s", dir, strerror(errno));
        return FTPC_ERR_LOCAL;
    }
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        if (name[0] != '.') {
            char path[4096];
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", dir, name);
            if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
                printf("%12s  %s/\n", "-", name);
            else if (stat(path, &st) == 0)
                printf("%12lld  %s\n", (long long)st.st_size, name);
        }
        free(list[i]);
    }
    free(list);
    return 0;
}

static const char *base_name(const char *p)
{
    const char *b = strrchr(p, '/');
    return b && b[1] ? b + 1 : p;
}

/* "get [-c] REMOTE [LOCAL]" and "put [-c] LOCAL [REMOTE]". */
static int transfer_args(ftpc_session *s, int argc, char **argv, bool *cont,
                         const char **from, const char **to)
{
    int i = 1;
    *cont = false;
    if (i < argc && strcmp(argv[i], "-c") == 0) {
        *cont = true;
        i++;
    }
    if (argc - i < 1 || argc - i > 2) {
        snprintf(s->ctrl.err, sizeof s->ctrl.err, "usage: %s [-c] FROM [TO]", argv[0]);
        return FTPC_ERR_USAGE;
    }
    *from = argv[i];
    *to = argc - i == 2 ? argv[i + 1] : base_name(argv[i]);
    return 0;
}

/* "--segments N" / "-n N" taken out of argv (which is rewritten in place);
 * *n stays 0 without it.  Returns the new argc, or FTPC_ERR_USAGE with the
 * reason in err. */
static int take_segments(int argc, char **argv, const char *flag, int *n, char *err,
                         size_t cap)
{
    *n = 0;
    int out = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], flag) == 0) {
            char *end = NULL;
            long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
            if (!end || *end || v < 1 || v > FTPC_PGET_MAX) {
                snprintf(err, cap, "%s wants a number from 1 to %d", flag,
                         FTPC_PGET_MAX);
                return FTPC_ERR_USAGE;
            }
            *n = (int)v;
            i++;
            continue;
        }
        argv[out++] = argv[i];
    }
    return out;
}

static int cmd_get(ftpc_session *s, int argc, char **argv)
{
    bool cont;
    const char *remote, *local;
    int n;
    argc = take_segments(argc, argv, "--segments", &n, s->ctrl.err, sizeof s->ctrl.err);
    if (argc < 0)
        return argc;
    int r = transfer_args(s, argc, argv, &cont, &remote, &local);
    if (r == 0 && n > 0 && cont) {
        snprintf(s->ctrl.err, sizeof s->ctrl.err, "--segments resumes by itself; no -c");
        r = FTPC_ERR_USAGE;
    }
    if (r < 0)
        return r;
    return n > 0 ? ftpc_pget(s, remote, local, n) : ftpc_get(s, remote, local, cont);
}

static int cmd_pget(ftpc_session *s, int argc, char **argv)
{
    int n;
    argc = take_segments(argc, argv, "-n", &n, s->ctrl.err, sizeof s->ctrl.err);
    if (argc < 0)
        return argc;
    if (argc < 2 || argc > 3) {
        snprintf(s->ctrl.err, sizeof s->ctrl.err, "usage: pget [-n N] REMOTE [LOCAL]");
        return FTPC_ERR_USAGE;
    }
    return ftpc_pget(s, argv[1], argc == 3 ? argv[2] : base_name(argv[1]),
                     n ? n : 4);
}

static int cmd_mirror(ftpc_session *s, int argc, char **argv)
{
    return ftpc_mirror(s, argc, argv);
}

static int cmd_put(ftpc_session *s, int argc, char **argv)
{
    bool cont;
    const char *local, *remote;
    int r = transfer_args(s, argc, argv, &cont, &local, &remote);
    return r < 0 ? r : ftpc_put(s, local, remote, cont);
}

static int cmd_mget(ftpc_session *s, int argc, char **argv)
{
    int worst = 0;
    for (int i = 1; i < argc; i++) {
        const char *pat = argv[i];
        if (!strpbrk(pat, "*?[")) {
            int r = ftpc_get(s, pat, base_name(pat), false);
            if (r < 0) {
                fprintf(stderr, "sockserv-ftp: get %s: %s\n", pat, ftpc_session_err(s));
                worst = r;
            }
            continue;
        }
        /* Servers disagree on globbing in NLST; list the directory and
         * match here, which works everywhere. */
        char dir[1024] = "";
        const char *slash = strrchr(pat, '/');
        if (slash)
            snprintf(dir, sizeof dir, "%.*s", (int)(slash - pat + 1), pat);
        const char *bpat = slash ? slash + 1 : pat;
        char *names = NULL;
        size_t len = 0;
        int r = ftpc_listing(s, "NLST", dir[0] ? dir : NULL, NULL, &names, &len);
        if (r < 0) {
            free(names);
            fprintf(stderr, "sockserv-ftp: mget %s: %s\n", pat, ftpc_session_err(s));
            worst = r;
            continue;
        }
        int matched = 0;
        char *save = NULL;
        for (char *n = names ? strtok_r(names, "\r\n", &save) : NULL; n;
             n = strtok_r(NULL, "\r\n", &save)) {
            const char *b = base_name(n);
            if (fnmatch(bpat, b, FNM_PERIOD) != 0)
                continue;
            matched++;
            char remote[2048];
            snprintf(remote, sizeof remote, "%s%s", dir, b);
            r = ftpc_get(s, remote, b, false);
            if (r < 0) {
                fprintf(stderr, "sockserv-ftp: get %s: %s\n", remote,
                        ftpc_session_err(s));
                worst = r;
            }
        }
        free(names);
        if (!matched) {
            fprintf(stderr, "sockserv-ftp: mget %s: no match\n", pat);
            worst = FTPC_ERR_REMOTE;
        }
    }
    if (worst < 0)
        snprintf(s->ctrl.err, sizeof s->ctrl.err, "some files failed");
    return worst;
}

static int cmd_mput(ftpc_session *s, int argc, char **argv)
{
    int worst = 0;
    for (int i = 1; i < argc; i++) {
        glob_t g;
        if (glob(argv[i], GLOB_NOCHECK, NULL, &g) != 0) {
            fprintf(stderr, "sockserv-ftp: mput %s: no match\n", argv[i]);
            worst = FTPC_ERR_LOCAL;
            continue;
        }
        for (size_t k = 0; k < g.gl_pathc; k++) {
            const char *path = g.gl_pathv[k];
            int r = ftpc_put(s, path, base_name(path), false);
            if (r < 0) {
                fprintf(stderr, "sockserv-ftp: put %s: %s\n", path,
                        ftpc_session_err(s));
                worst = r;
            }
        }
        globfree(&g);
    }
    if (worst < 0)
        snprintf(s->ctrl.err, sizeof s->ctrl.err, "some files failed");
    return worst;
}

static int cmd_mkdir(ftpc_session *s, int argc, char **argv)
{
    (void)argc;
    return expect(s, ftpc_ctrl_cmd(&s->ctrl, "MKD %s", argv[1]), 2, argv[1]);
}

static int cmd_rmdir(ftpc_session *s, int argc, char **argv)
{
    (void)argc;
    return expect(s, ftpc_ctrl_cmd(&s->ctrl, "RMD %s", argv[1]), 2, argv[1]);
}

static int cmd_rm(ftpc_session *s, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        int r = expect(s, ftpc_ctrl_cmd(&s->ctrl, "DELE %s", argv[i]), 2, argv[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

static int cmd_rename(ftpc_session *s, int argc, char **argv)
{
    (void)argc;
    int r = expect(s, ftpc_ctrl_cmd(&s->ctrl, "RNFR %s", argv[1]), 3, argv[1]);
    if (r < 0)
        return r;
    return expect(s, ftpc_ctrl_cmd(&s->ctrl, "RNTO %s", argv[2]), 2, argv[2]);
}

static int cmd_size(ftpc_session *s, int argc, char **argv)
{
    (void)argc;
    int r = expect(s, ftpc_ctrl_cmd(&s->ctrl, "SIZE %s", argv[1]), 2, argv[1]);
    if (r < 0)
        return r;
    printf("%s\n", s->ctrl.reply.last);
    return 0;
}

static int cmd_hash(ftpc_session *s, int argc, char **argv)
{
    (void)argc;
    ftpc_algo a = ftpc_session_algo(s);
    if (a == FTPC_ALGO_NONE) {
        snprintf(s->ctrl.err, sizeof s->ctrl.err,
                 "the server offers no checksum command (HASH, XSHA256, XSHA1, XMD5)");
        return FTPC_ERR_REMOTE;
    }
    char hex[FTPC_HEX_MAX];
    int r = ftpc_remote_hash(s, argv[1], a, -1, hex);
    if (r == FTPC_ERR_UNSUPPORTED)
        r = FTPC_ERR_REMOTE;
    if (r < 0)
        return r;
    printf("%s %s %s\n", ftpc_algo_name(a), hex, argv[1]);
    return 0;
}

static int cmd_quota(ftpc_session *s, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int code = ftpc_ctrl_cmd(&s->ctrl, "SITE QUOTA");
    if (code < 0)
        return code;
    if (code / 100 != 2) {
        snprintf(s->ctrl.err, sizeof s->ctrl.err,
                 "the server does not report quotas (%d %s)", code, s->ctrl.reply.last);
        return FTPC_ERR_REMOTE;
    }
    /* Print the reply's text without its codes. */
    char text[FTPC_REPLY_MAX], *save = NULL;
    snprintf(text, sizeof text, "%s", s->ctrl.reply.text);
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (strlen(l) >= 4 && l[0] >= '1' && l[0] <= '5' && (l[3] == '-' || l[3] == ' '))
            l += 4;
        printf("%s\n", l);
    }
    return 0;
}

static int cmd_help(ftpc_session *s, int argc, char **argv);

static int cmd_quit(ftpc_session *s, int argc, char **argv)
{
    (void)s;
    (void)argc;
    (void)argv;
    return 1;
}

static const command commands[] = {
    {"ls", 0, 1, cmd_ls, "ls [PATH]", "list a remote directory"},
    {"cd", 1, 1, cmd_cd, "cd DIR", "change the remote directory"},
    {"pwd", 0, 0, cmd_pwd, "pwd", "print the remote directory"},
    {"lcd", 0, 1, cmd_lcd, "lcd [DIR]", "change the local directory"},
    {"lls", 0, 1, cmd_lls, "lls [DIR]", "list a local directory"},
    {"get", 1, 5, cmd_get, "get [-c] [--segments N] REMOTE [LOCAL]",
     "download (via LOCAL.part, verified, resumed; in N ranges at once)"},
    {"pget", 1, 4, cmd_pget, "pget [-n N] REMOTE [LOCAL]",
     "download in N ranges on N sessions at once (default 4)"},
    {"put", 1, 3, cmd_put, "put [-c] LOCAL [REMOTE]",
     "upload (verified; -c continues a partial upload)"},
    {"mget", 1, MAX_ARGS, cmd_mget, "mget GLOB...", "download the matching files"},
    {"mput", 1, MAX_ARGS, cmd_mput, "mput GLOB...", "upload the matching files"},
    {"mirror", 1, MAX_ARGS, cmd_mirror,
     "mirror [-R] [--delete] [--parallel N] [--dry-run] [--verify] [--exclude GLOB]... "
     "REMOTE_DIR [LOCAL_DIR]",
     "make LOCAL_DIR like REMOTE_DIR (-R: the other way)"},
    {"mkdir", 1, 1, cmd_mkdir, "mkdir DIR", "make a remote directory"},
    {"rmdir", 1, 1, cmd_rmdir, "rmdir DIR", "remove an empty remote directory"},
    {"rm", 1, MAX_ARGS, cmd_rm, "rm FILE...", "delete remote files"},
    {"rename", 2, 2, cmd_rename, "rename FROM TO", "rename a remote file"},
    {"size", 1, 1, cmd_size, "size FILE", "print a remote file's size"},
    {"hash", 1, 1, cmd_hash, "hash FILE", "print the server's checksum of a file"},
    {"quota", 0, 0, cmd_quota, "quota", "show your quota (SITE QUOTA)"},
    {"help", 0, 1, cmd_help, "help [CMD]", "list the commands"},
    {"quit", 0, 0, cmd_quit, "quit", "leave (also: exit, bye)"},
    {"exit", 0, 0, cmd_quit, "exit", NULL},
    {"bye", 0, 0, cmd_quit, "bye", NULL},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static int cmd_help(ftpc_session *s, int argc, char **argv)
{
    (void)s;
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (!commands[i].help)
            continue;
        if (argc > 1 && strcmp(argv[1], commands[i].name) != 0)
            continue;
        printf("  %-26s %s\n", commands[i].usage, commands[i].help);
    }
    return 0;
}

static const command *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int ftpc_shell_check(int argc, char **argv)
{
    if (argc < 1)
        return 0;
    const command *c = find(argv[0]);
    if (!c) {
        fprintf(stderr, "sockserv-ftp: unknown command '%s' (try 'help')\n", argv[0]);
        return FTPC_ERR_USAGE;
    }
    if (argc - 1 < c->min || argc - 1 > c->max) {
        fprintf(stderr, "sockserv-ftp: usage: %s\n", c->usage);
        return FTPC_ERR_USAGE;
    }
    /* The options commands parse themselves, checked before connecting too
     * (on a copy: get and pget take theirs out of argv when they run). */
    char err[512];
    if (c->run == cmd_mirror && ftpc_mirror_check(argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "sockserv-ftp: mirror: %s\n", err);
        return FTPC_ERR_USAGE;
    }
    if (c->run == cmd_get || c->run == cmd_pget) {
        char *copy[MAX_ARGS];
        int n, k = argc < MAX_ARGS ? argc : MAX_ARGS;
        memcpy(copy, argv, (size_t)k * sizeof *copy);
        if (take_segments(k, copy, c->run == cmd_get ? "--segments" : "-n", &n, err,
                          sizeof err) < 0) {
            fprintf(stderr, "sockserv-ftp: %s: %s\n", argv[0], err);
            return FTPC_ERR_USAGE;
        }
    }
    return 0;
}

int ftpc_shell_split(char *line, char **argv, int max)
{
    int n = 0;
    char *r = line, *w = line;
    for (;;) {
        while (*r == ' ' || *r == '\t')
            r++;
        if (!*r)
            return n;
        if (n == max)
            return n;
        argv[n++] = w;
        char quote = 0;
        for (; *r; r++) {
            if (quote) {
                if (*r == quote)
                    quote = 0;
                else if (*r == '\\' && quote == '"' && r[1])
                    *w++ = *++r;
                else
                    *w++ = *r;
            } else if (*r == '"' || *r == '\'') {
                quote = *r;
            } else if (*r == '\\' && r[1]) {
                *w++ = *++r;
            } else if (*r == ' ' || *r == '\t') {
                break;
            } else {
                *w++ = *r;
            }
        }
        if (quote)
            return -1;
        bool more = *r != '\0';
        *w++ = '\0';
        if (more)
            r++;
        if (!more)
            return n;
    }
}

int ftpc_shell_run(ftpc_session *s, int argc, char **argv)
{
    if (argc == 0)
        return 0;
    int r = ftpc_shell_check(argc, argv);
    if (r < 0)
        return r;
    const command *c = find(argv[0]);
    bool local = c->run == cmd_lcd || c->run == cmd_lls || c->run == cmd_help ||
                 c->run == cmd_quit;
    for (int attempt = 0;; attempt++) {
        if (!local && !ftpc_session_alive(s)) {
            r = ftpc_session_reopen(s);
            if (r < 0) {
                fprintf(stderr, "sockserv-ftp: reconnect: %s\n", ftpc_session_err(s));
                return r;
            }
        }
        r = c->run(s, argc, argv);
        /* A command that found the connection gone (an idle timeout, say)
         * gets one fresh connection; transfers do their own retries. */
        bool is_xfer = c->run == cmd_get || c->run == cmd_put ||
                       c->run == cmd_mget || c->run == cmd_mput ||
                       c->run == cmd_pget || c->run == cmd_mirror;
        if (r == FTPC_ERR_NET && !is_xfer && attempt == 0 && s->opts->retries > 0) {
            ftpc_ctrl_close(&s->ctrl);
            continue;
        }
        break;
    }
    if (r < 0)
        fprintf(stderr, "sockserv-ftp: %s%s%s: %s\n", argv[0], argc > 1 ? " " : "",
                argc > 1 ? argv[argc > 2 && strcmp(argv[1], "-c") == 0 ? 2 : 1] : "",
                ftpc_session_err(s));
    return r;
}

/* Splits a script on ';' outside quotes; runs each part. */
int ftpc_shell_script(ftpc_session *s, const char *script)
{
    size_t n = strlen(script);
    char *copy = malloc(n + 1);
    if (!copy)
        return FTPC_ERR_LOCAL;
    memcpy(copy, script, n + 1);
    int r = 0;
    char *start = copy;
    char quote = 0;
    for (char *p = copy;; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
            else if (*p == '\0')
                break;
            continue;
        }
        if (*p == '"' || *p == '\'') {
            quote = *p;
            continue;
        }
        if (*p != ';' && *p != '\0')
            continue;
        bool end = *p == '\0';
        *p = '\0';
        char *argv[MAX_ARGS];
        int argc = ftpc_shell_split(start, argv, MAX_ARGS);
        if (argc < 0) {
            fprintf(stderr, "sockserv-ftp: unclosed quote in '%s'\n", start);
            r = FTPC_ERR_USAGE;
            break;
        }
        r = ftpc_shell_run(s, argc, argv);
        if (r != 0)
            break;
        if (end)
            break;
        start = p + 1;
    }
    if (quote && r == 0) {
        fprintf(stderr, "sockserv-ftp: unclosed quote\n");
        r = FTPC_ERR_USAGE;
    }
    free(copy);
    return r > 0 ? 0 : r;
}

int ftpc_shell_interactive(ftpc_session *s)
{
    bool tty = isatty(STDIN_FILENO);
    char prompt[300];
    snprintf(prompt, sizeof prompt, "sockserv-ftp %s> ", s->opts->url.host);
    char line[4096];
    int last = 0;
    while (ftpc_read_line(prompt, line, sizeof line)) {
        char *argv[MAX_ARGS];
        int argc = ftpc_shell_split(line, argv, MAX_ARGS);
        if (argc < 0) {
            fprintf(stderr, "sockserv-ftp: unclosed quote\n");
            last = FTPC_ERR_USAGE;
            continue;
        }
        int r = ftpc_shell_run(s, argc, argv);
        fflush(stdout);
        if (r == 1)
            break;
        if (r < 0)
            last = r;
    }
    if (tty)
        putchar('\n');
    ftpc_lineedit_end();
    return tty ? 0 : last;
}
