/* ftp/server/usercli.c - "sockserv-ftpd user ..." (see usercli.h). */
#include "usercli.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "store/passwd.h"
#include "store/users.h"

#define PASSWORD_MAX 1024
#define DEFAULT_QUOTA "100M"

static void usage(void)
{
    fputs("usage: sockserv-ftpd user add NAME --home DIR [--quota SIZE]\n"
          "                [--upload-rate RATE] [--download-rate RATE]\n"
          "       sockserv-ftpd user mod NAME [--quota SIZE] [--upload-rate RATE]\n"
          "                [--download-rate RATE]\n"
          "       sockserv-ftpd user passwd NAME\n"
          "       sockserv-ftpd user del NAME\n"
          "       sockserv-ftpd user list\n"
          "SIZE is bytes or 500K, 100M, 1G, ... or unlimited; RATE is bytes per\n"
          "second in the same form, or 'default' for the server's default.  The\n"
          "password is read from stdin when it is not a terminal, else prompted\n"
          "for twice.\n",
          stderr);
}

/* mkdir -p with mode for the missing parts. */
static int mkdirs(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return -ENAMETOOLONG;
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char c = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return -errno;
        tmp[i] = c;
    }
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* Reads one line from fd without stdio buffering (nothing of the password
 * stays in a FILE buffer).  Returns its length or -1. */
static long read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    bool too_long = false;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0 || c == '\n')
            break;
        if (n + 1 < cap)
            buf[n++] = c;
        else
            too_long = true;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return too_long ? -1 : (long)n;
}

static long prompt_no_echo(const char *prompt, char *buf, size_t cap)
{
    struct termios old, quiet;
    if (tcgetattr(STDIN_FILENO, &old) < 0)
        return -1;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    /* Echo goes off before the prompt shows, so nothing typed after the
     * prompt can be echoed. */
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) < 0)
        return -1;
    fputs(prompt, stderr);
    fflush(stderr);
    long n = read_line(STDIN_FILENO, buf, cap);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    return n;
}

/* The new password into pw (cap bytes); 0, or 1 after printing why not. */
static int get_password(char *pw, size_t cap)
{
    long n;
    if (!isatty(STDIN_FILENO)) {
        n = read_line(STDIN_FILENO, pw, cap);
    } else {
        char again[PASSWORD_MAX];
        n = prompt_no_echo("New password: ", pw, cap);
        long m = n < 0 ? -1 : prompt_no_echo("Retype new password: ", again, sizeof again);
        bool same = n >= 0 && m == n && strcmp(pw, again) == 0;
        OPENSSL_cleanse(again, sizeof again);
        if (n >= 0 && !same) {
            fputs("user: the passwords do not match\n", stderr);
            OPENSSL_cleanse(pw, cap);
            return 1;
        }
    }
    if (n < 0) {
        fprintf(stderr, "user: could not read a password (at most %d bytes)\n",
                PASSWORD_MAX - 1);
        OPENSSL_cleanse(pw, cap);
        return 1;
    }
    if (n == 0) {
        fputs("user: empty password refused\n", stderr);
        return 1;
    }
    return 0;
}

static int hash_new_password(char *hash, size_t cap)
{
    char pw[PASSWORD_MAX];
    if (get_password(pw, sizeof pw) != 0)
        return 1;
    int rc = ftpd_passwd_hash(pw, strlen(pw), hash, cap);
    OPENSSL_cleanse(pw, sizeof pw);
    if (rc < 0) {
        fprintf(stderr, "user: hashing failed: %s\n", strerror(-rc));
        return 1;
    }
    return 0;
}

static int find_user(ftpd_store *st, const char *name, ftpd_user *out)
{
    ftpd_user *v;
    size_t n;
    char err[512];
    if (ftpd_store_user_list(st, &v, &n, err, sizeof err) < 0) {
        fprintf(stderr, "user: %s\n", err);
        return -1;
    }
    int rc = 1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].name, name) == 0) {
            if (out)
                *out = v[i];
            rc = 0;
        }
    }
    free(v);
    return rc;
}

/* A --upload-rate/--download-rate value: bytes/s, "unlimited", or
 * "default" (0: the server's default).  0 or -1 after printing why. */
static int parse_rate(const char *cmd, const char *flag, const char *v,
                      uint64_t *out)
{
    if (strcmp(v, "default") == 0) {
        *out = 0;
        return 0;
    }
    if (ftpd_size_parse(v, out) < 0) {
        fprintf(stderr, "user %s: bad %s '%s' (bytes/s, or 500K, 10M, unlimited, "
                "default)\n", cmd, flag, v);
        return -1;
    }
    return 0;
}

/* Matches "--flag VALUE" or "--flag=VALUE" at argv[*i]; *v gets the value. */
static bool flag_value(int argc, char **argv, int *i, const char *flag,
                       const char **v)
{
    size_t n = strlen(flag);
    const char *a = argv[*i];
    if (strcmp(a, flag) == 0 && *i + 1 < argc) {
        *v = argv[++*i];
        return true;
    }
    if (strncmp(a, flag, n) == 0 && a[n] == '=') {
        *v = a + n + 1;
        return true;
    }
    return false;
}

static void format_rate(uint64_t v, char *out, size_t cap)
{
    if (v == 0)
        snprintf(out, cap, "default");
    else
        ftpd_size_format(v, out, cap);
}

static int cmd_add(int argc, char **argv, ftpd_store *st)
{
    const char *name = NULL, *home = NULL, *quota = DEFAULT_QUOTA;
    const char *up = "default", *down = "default";
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (flag_value(argc, argv, &i, "--upload-rate", &up) ||
            flag_value(argc, argv, &i, "--download-rate", &down))
            continue;
        if (strcmp(a, "--home") == 0 && i + 1 < argc)
            home = argv[++i];
        else if (strncmp(a, "--home=", 7) == 0)
            home = a + 7;
        else if (strcmp(a, "--quota") == 0 && i + 1 < argc)
            quota = argv[++i];
        else if (strncmp(a, "--quota=", 8) == 0)
            quota = a + 8;
        else if (a[0] != '-' && !name)
            name = a;
        else {
            fprintf(stderr, "user add: unexpected argument '%s'\n", a);
            usage();
            return 2;
        }
    }
    if (!name || !home) {
        fputs("user add: NAME and --home DIR are required\n", stderr);
        usage();
        return 2;
    }
    ftpd_user u;
    memset(&u, 0, sizeof u);
    if (ftpd_user_name_check(name) < 0) {
        fprintf(stderr, "user add: bad name '%s' (1-%d of letters, digits, '.', '_', '-')\n",
                name, FTPD_USER_NAME_MAX);
        return 2;
    }
    if (ftpd_size_parse(quota, &u.quota) < 0) {
        fprintf(stderr, "user add: bad quota '%s' (bytes, or 500K, 100M, 1G, unlimited)\n", quota);
        return 2;
    }
    if (parse_rate("add", "--upload-rate", up, &u.rate_up) < 0 ||
        parse_rate("add", "--download-rate", down, &u.rate_down) < 0)
        return 2;
    int k = find_user(st, name, NULL);
    if (k < 0)
        return 1;
    if (k == 0) {
        fprintf(stderr, "user add: user %s already exists\n", name);
        return 1;
    }
    int rc = mkdirs(home, 0750);
    if (rc < 0) {
        fprintf(stderr, "user add: home %s: %s\n", home, strerror(-rc));
        return 1;
    }
    char *real = realpath(home, NULL);
    if (!real || ftpd_user_home_check(real) < 0) {
        fprintf(stderr, "user add: home %s: %s\n", home,
                real ? "may not contain ':' or a newline" : strerror(errno));
        free(real);
        return 1;
    }
    strcpy(u.name, name);
    strcpy(u.home, real);
    free(real);
    if (hash_new_password(u.hash, sizeof u.hash) != 0)
        return 1;
    char err[512];
    rc = ftpd_store_user_add(st, &u, err, sizeof err);
    OPENSSL_cleanse(u.hash, sizeof u.hash);
    if (rc < 0) {
        fprintf(stderr, "user add: %s\n", err);
        return 1;
    }
    char q[32], ur[32], dr[32];
    ftpd_size_format(u.quota, q, sizeof q);
    format_rate(u.rate_up, ur, sizeof ur);
    format_rate(u.rate_down, dr, sizeof dr);
    printf("user %s added (home %s, quota %s, upload rate %s, download rate %s)\n",
           u.name, u.home, q, ur, dr);
    return 0;
}

static int cmd_mod(int argc, char **argv, ftpd_store *st)
{
    const char *name = NULL, *v;
    ftpd_user_mod m;
    memset(&m, 0, sizeof m);
    for (int i = 2; i < argc; i++) {
        if (flag_value(argc, argv, &i, "--quota", &v)) {
            if (ftpd_size_parse(v, &m.quota) < 0) {
                fprintf(stderr, "user mod: bad quota '%s' (bytes, or 500K, "
                        "100M, 1G, unlimited)\n", v);
                return 2;
            }
            m.set_quota = true;
        } else if (flag_value(argc, argv, &i, "--upload-rate", &v)) {
            if (parse_rate("mod", "--upload-rate", v, &m.rate_up) < 0)
                return 2;
            m.set_rate_up = true;
        } else if (flag_value(argc, argv, &i, "--download-rate", &v)) {
            if (parse_rate("mod", "--download-rate", v, &m.rate_down) < 0)
                return 2;
            m.set_rate_down = true;
        } else if (argv[i][0] != '-' && !name) {
            name = argv[i];
        } else {
            fprintf(stderr, "user mod: unexpected argument '%s'\n", argv[i]);
            usage();
            return 2;
        }
    }
    if (!name || !(m.set_quota || m.set_rate_up || m.set_rate_down)) {
        fputs("user mod: NAME and at least one of --quota, --upload-rate, "
              "--download-rate are required\n", stderr);
        usage();
        return 2;
    }
    char err[512];
    int rc = ftpd_store_user_mod(st, name, &m, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "user mod: %s\n", err);
        return rc == -EINVAL ? 2 : 1;
    }
    printf("user %s changed\n", name);
    return 0;
}

static int cmd_passwd(int argc, char **argv, ftpd_store *st)
{
    if (argc != 3) {
        usage();
        return 2;
    }
    const char *name = argv[2];
    int k = find_user(st, name, NULL);
    if (k != 0) {
        if (k > 0)
            fprintf(stderr, "user passwd: no user %s\n", name);
        return 1;
    }
    char hash[FTPD_PASSWD_HASH_MAX];
    if (hash_new_password(hash, sizeof hash) != 0)
        return 1;
    char err[512];
    int rc = ftpd_store_user_set_hash(st, name, hash, err, sizeof err);
    OPENSSL_cleanse(hash, sizeof hash);
    if (rc < 0) {
        fprintf(stderr, "user passwd: %s\n", err);
        return 1;
    }
    printf("password of %s changed\n", name);
    return 0;
}

static int cmd_del(int argc, char **argv, ftpd_store *st)
{
    if (argc != 3) {
        usage();
        return 2;
    }
    char err[512];
    int rc = ftpd_store_user_del(st, argv[2], err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "user del: %s\n", err);
        return rc == -EINVAL && ftpd_user_name_check(argv[2]) < 0 ? 2 : 1;
    }
    printf("user %s deleted (the home directory was left in place)\n", argv[2]);
    return 0;
}

static int cmd_list(int argc, char **argv, ftpd_store *st)
{
    (void)argv;
    if (argc != 2) {
        usage();
        return 2;
    }
    ftpd_user *v;
    size_t n;
    char err[512];
    if (ftpd_store_user_list(st, &v, &n, err, sizeof err) < 0) {
        fprintf(stderr, "user list: %s\n", err);
        return 1;
    }
    printf("%-20s %12s %14s %10s %10s  %s\n", "NAME", "QUOTA", "USED", "UP/S",
           "DOWN/S", "HOME");
    for (size_t i = 0; i < n; i++) {
        char q[32], used[32], ur[32], dr[32];
        ftpd_size_format(v[i].quota, q, sizeof q);
        uint64_t bytes;
        if (ftpd_store_user_usage(st, &v[i], &bytes) == 0)
            snprintf(used, sizeof used, "%" PRIu64, bytes);
        else
            snprintf(used, sizeof used, "-");
        format_rate(v[i].rate_up, ur, sizeof ur);
        format_rate(v[i].rate_down, dr, sizeof dr);
        printf("%-20s %12s %14s %10s %10s  %s\n", v[i].name, q, used, ur, dr,
               v[i].home);
    }
    free(v);
    return 0;
}

int ftpd_usercli_main_store(int argc, char **argv, ftpd_store *st)
{
    if (argc < 2 || !st) {
        usage();
        return 2;
    }
    const char *sub = argv[1];
    int rc;
    if (strcmp(sub, "add") == 0)
        rc = cmd_add(argc, argv, st);
    else if (strcmp(sub, "mod") == 0)
        rc = cmd_mod(argc, argv, st);
    else if (strcmp(sub, "passwd") == 0)
        rc = cmd_passwd(argc, argv, st);
    else if (strcmp(sub, "del") == 0)
        rc = cmd_del(argc, argv, st);
    else if (strcmp(sub, "list") == 0)
        rc = cmd_list(argc, argv, st);
    else {
        fprintf(stderr, "user: unknown subcommand '%s'\n", sub);
        usage();
        rc = 2;
    }
    fflush(stdout);
    return rc;
}

int ftpd_usercli_main_file(int argc, char **argv, const char *users_path)
{
    if (argc < 2 || !users_path) {
        usage();
        return 2;
    }
    static ftpd_config c; /* large: not on the stack */
    ftpd_config_defaults(&c);
    if (snprintf(c.users_file, sizeof c.users_file, "%s", users_path) >=
        (int)sizeof c.users_file) {
        fputs("user: users file path too long\n", stderr);
        return 2;
    }
    return ftpd_usercli_main_config(argc, argv, &c);
}

int ftpd_usercli_main_config(int argc, char **argv, const ftpd_config *c)
{
    ftpd_store *st;
    char err[FTPD_STORE_ERR_MAX];
    if (ftpd_store_open(c, &st, err, sizeof err) < 0) {
        fprintf(stderr, "user: store: %s\n", err);
        return 1;
    }
    int rc = ftpd_usercli_main_store(argc, argv, st);
    ftpd_store_close(st);
    return rc;
}

int ftpd_usercli_main(int argc, char **argv, const char *data_dir)
{
    if (!data_dir || !*data_dir) {
        fputs("user: no data directory\n", stderr);
        return 2;
    }
    int rc = mkdirs(data_dir, 0750);
    if (rc < 0) {
        fprintf(stderr, "user: data directory %s: %s\n", data_dir, strerror(-rc));
        return 1;
    }
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", data_dir, FTPD_USERS_FILE_NAME) >= (int)sizeof path) {
        fputs("user: data directory path too long\n", stderr);
        return 2;
    }
    return ftpd_usercli_main_file(argc, argv, path);
}
