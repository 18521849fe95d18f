/* ftp/server/config.c - see config.h. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ftpd_config_defaults(ftpd_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->data_dir, sizeof c->data_dir, "./var/ftp");
    c->concurrency = FTPD_THREADING;
    c->max_sessions = 200;
    c->max_sessions_per_ip = 50;
    c->idle_timeout = 300;
    c->data_timeout = 60;
    c->grace_period = 10;
    snprintf(c->banner, sizeof c->banner, "sockserv-ftpd ready");
    c->max_line = 2048;
    c->max_login_failures = 3;
    c->login_fail_delay = 1.0;
    c->hash_max_size = 0;
    c->demo_quota = 100ull << 20;
    c->tls = true;
    c->require_tls = FTPD_TLS_REQ_AUTO;
    c->require_tls_reuse = true;
    c->tls_handshake_timeout = 10;
    c->max_sessions_per_user = 10;
    c->max_pasv_listeners = 100;
    c->line_timeout = 30;
    c->ban_after_failures = 10;
    c->ban_time = 600;
    c->login_fail_delay_max = 30;
    ss_proxy_config_init(&c->proxy);
    c->database_pool_size = 4;
    c->database_timeout = 5;
    c->node_timeout = 30;
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") ||
        !strcmp(v, "1"))
        *out = true;
    else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") ||
             !strcmp(v, "0"))
        *out = false;
    else
        return -1;
    return 0;
}

static int fail(char *err, size_t cap, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t cap, const char *where, const char *fmt, ...)
{
    int n = snprintf(err, cap, "%s: ", where);
    if (n < 0 || (size_t)n >= cap)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

int ftpd_config_parse_size(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*text))
        return -1;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno)
        return -1;
    unsigned shift = 0;
    switch (toupper((unsigned char)*end)) {
    case '\0': break;
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    case 'T': shift = 40; end++; break;
    case 'B': break;
    default: return -1;
    }
    if (shift && (*end == 'i' || *end == 'I'))
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end)
        return -1;
    if (shift && v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static int parse_uint(const char *v, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*v))
        return -1;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || *end || n > max)
        return -1;
    *out = n;
    return 0;
}

static int parse_seconds(const char *v, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d) || d < 0 || d > 86400 * 7)
        return -1;
    *out = d;
    return 0;
}

static int copy(char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);
    if (n >= cap)
        return -1;
    memcpy(dst, v, n + 1);
    return 0;
}

int ftpd_config_set(ftpd_config *c, const char *key, const char *v,
                    const char *where, char *err, size_t cap)
{
    unsigned long n;
    if (!strcmp(key, "listen")) {
        if (c->nlisten >= FTPD_MAX_LISTEN)
            return fail(err, cap, where, "at most %d listen addresses",
                        FTPD_MAX_LISTEN);
        if (!*v || copy(c->listen[c->nlisten], sizeof c->listen[0], v) < 0)
            return fail(err, cap, where, "bad listen address '%s'", v);
        c->nlisten++;
    } else if (!strcmp(key, "listen_implicit")) {
        if (c->nlisten_implicit >= FTPD_MAX_LISTEN)
            return fail(err, cap, where, "at most %d listen_implicit addresses",
                        FTPD_MAX_LISTEN);
        if (!*v || copy(c->listen_implicit[c->nlisten_implicit],
                        sizeof c->listen_implicit[0], v) < 0)
            return fail(err, cap, where, "bad listen_implicit address '%s'", v);
        c->nlisten_implicit++;
    } else if (!strcmp(key, "tls")) {
        if (parse_bool(v, &c->tls) < 0)
            return fail(err, cap, where, "tls must be yes or no");
    } else if (!strcmp(key, "tls_cert_file")) {
        if (copy(c->tls_cert_file, sizeof c->tls_cert_file, v) < 0)
            return fail(err, cap, where, "tls_cert_file too long");
    } else if (!strcmp(key, "tls_key_file")) {
        if (copy(c->tls_key_file, sizeof c->tls_key_file, v) < 0)
            return fail(err, cap, where, "tls_key_file too long");
    } else if (!strcmp(key, "require_tls")) {
        bool b;
        if (!strcmp(v, "auto"))
            c->require_tls = FTPD_TLS_REQ_AUTO;
        else if (parse_bool(v, &b) == 0)
            c->require_tls = b ? FTPD_TLS_REQ_YES : FTPD_TLS_REQ_NO;
        else
            return fail(err, cap, where, "require_tls must be yes, no or auto");
    } else if (!strcmp(key, "require_tls_reuse")) {
        if (parse_bool(v, &c->require_tls_reuse) < 0)
            return fail(err, cap, where, "require_tls_reuse must be yes or no");
    } else if (!strcmp(key, "tls_handshake_timeout")) {
        if (parse_seconds(v, &c->tls_handshake_timeout) < 0 ||
            c->tls_handshake_timeout <= 0)
            return fail(err, cap, where,
                        "tls_handshake_timeout must be seconds > 0");
    } else if (!strcmp(key, "max_sessions_per_user")) {
        if (parse_uint(v, 100000, &n) < 0)
            return fail(err, cap, where,
                        "max_sessions_per_user must be 0..100000 (0: no limit)");
        c->max_sessions_per_user = (unsigned)n;
    } else if (!strcmp(key, "max_pasv_listeners")) {
        if (parse_uint(v, 100000, &n) < 0 || n == 0)
            return fail(err, cap, where, "max_pasv_listeners must be 1..100000");
        c->max_pasv_listeners = (unsigned)n;
    } else if (!strcmp(key, "line_timeout")) {
        if (parse_seconds(v, &c->line_timeout) < 0 || c->line_timeout <= 0)
            return fail(err, cap, where, "line_timeout must be seconds > 0");
    } else if (!strcmp(key, "ban_after_failures")) {
        if (parse_uint(v, 100000, &n) < 0)
            return fail(err, cap, where,
                        "ban_after_failures must be 0..100000 (0: no bans)");
        c->ban_after_failures = (unsigned)n;
    } else if (!strcmp(key, "ban_time")) {
        if (parse_seconds(v, &c->ban_time) < 0)
            return fail(err, cap, where, "ban_time must be seconds >= 0");
    } else if (!strcmp(key, "login_fail_delay_max")) {
        if (parse_seconds(v, &c->login_fail_delay_max) < 0 ||
            c->login_fail_delay_max > 600)
            return fail(err, cap, where,
                        "login_fail_delay_max must be seconds in 0..600");
    } else if (!strcmp(key, "metrics_listen")) {
        /* Checked as an address when the listener starts (main.c). */
        if (!strcmp(v, "off") || !strcmp(v, "no"))
            c->metrics_listen[0] = '\0';
        else if (copy(c->metrics_listen, sizeof c->metrics_listen, v) < 0)
            return fail(err, cap, where, "metrics_listen: address too long");
    } else if (!strcmp(key, "database_url")) {
        /* The scheme picks the backend when the store opens (store.c);
         * only what no backend could take is refused here. */
        if (*v && !strstr(v, "://"))
            return fail(err, cap, where,
                        "database_url must be a URL (postgresql://...)");
        if (copy(c->database_url, sizeof c->database_url, v) < 0)
            return fail(err, cap, where, "database_url too long");
    } else if (!strcmp(key, "database_pool_size")) {
        if (parse_uint(v, 64, &n) < 0 || n == 0)
            return fail(err, cap, where, "database_pool_size must be 1..64");
        c->database_pool_size = (unsigned)n;
    } else if (!strcmp(key, "database_timeout")) {
        if (parse_seconds(v, &c->database_timeout) < 0 ||
            !(c->database_timeout >= 0.1 && c->database_timeout <= 600))
            return fail(err, cap, where,
                        "database_timeout must be seconds in 0.1..600");
    } else if (!strcmp(key, "node_timeout")) {
        if (parse_seconds(v, &c->node_timeout) < 0 ||
            !(c->node_timeout >= 1 && c->node_timeout <= 86400))
            return fail(err, cap, where,
                        "node_timeout must be seconds in 1..86400");
    } else if (!strcmp(key, "node_id")) {
        for (const char *p = v; *p; p++)
            if ((unsigned char)*p <= ' ' || *p == 0x7f)
                return fail(err, cap, where,
                            "node_id may not contain blanks or control bytes");
        if (copy(c->node_id, sizeof c->node_id, v) < 0)
            return fail(err, cap, where, "node_id too long (at most %zu bytes)",
                        sizeof c->node_id - 1);
    } else if (!strcmp(key, "run_as")) {
        if (copy(c->run_as, sizeof c->run_as, v) < 0)
            return fail(err, cap, where, "run_as: name too long");
    } else if (!strcmp(key, "data_dir")) {
        if (!*v || copy(c->data_dir, sizeof c->data_dir, v) < 0)
            return fail(err, cap, where, "bad data_dir '%s'", v);
    } else if (!strcmp(key, "users_file")) {
        if (!*v || copy(c->users_file, sizeof c->users_file, v) < 0)
            return fail(err, cap, where, "bad users_file '%s'", v);
    } else if (!strcmp(key, "concurrency")) {
        if (!strcmp(v, "threading"))
            c->concurrency = FTPD_THREADING;
        else if (!strcmp(v, "forking"))
            c->concurrency = FTPD_FORKING;
        else
            return fail(err, cap, where,
                        "concurrency must be 'threading' or 'forking', not '%s'",
                        v);
    } else if (!strcmp(key, "max_sessions")) {
        if (parse_uint(v, 100000, &n) < 0 || n == 0)
            return fail(err, cap, where, "max_sessions must be 1..100000");
        c->max_sessions = (unsigned)n;
    } else if (!strcmp(key, "max_sessions_per_ip")) {
        if (parse_uint(v, 100000, &n) < 0)
            return fail(err, cap, where,
                        "max_sessions_per_ip must be 0..100000 (0: no limit)");
        c->max_sessions_per_ip = (unsigned)n;
    } else if (!strcmp(key, "idle_timeout")) {
        if (parse_seconds(v, &c->idle_timeout) < 0 || c->idle_timeout <= 0)
            return fail(err, cap, where, "idle_timeout must be seconds > 0");
    } else if (!strcmp(key, "data_timeout")) {
        if (parse_seconds(v, &c->data_timeout) < 0 || c->data_timeout <= 0)
            return fail(err, cap, where, "data_timeout must be seconds > 0");
    } else if (!strcmp(key, "grace_period")) {
        if (parse_seconds(v, &c->grace_period) < 0)
            return fail(err, cap, where, "grace_period must be seconds >= 0");
    } else if (!strcmp(key, "pasv_ports")) {
        unsigned lo, hi;
        char extra;
        if (sscanf(v, "%u-%u%c", &lo, &hi, &extra) != 2 || lo > hi ||
            hi > 65535 || (lo == 0) != (hi == 0) || (lo && lo < 1024))
            return fail(err, cap, where,
                        "pasv_ports must be MIN-MAX within 1024-65535 "
                        "(or 0-0 for any)");
        c->pasv_min = lo;
        c->pasv_max = hi;
    } else if (!strcmp(key, "masquerade_address")) {
        unsigned a, b, cc, d;
        char extra;
        if (*v && (sscanf(v, "%u.%u.%u.%u%c", &a, &b, &cc, &d, &extra) != 4 ||
                   a > 255 || b > 255 || cc > 255 || d > 255))
            return fail(err, cap, where,
                        "masquerade_address must be an IPv4 address");
        copy(c->masquerade_address, sizeof c->masquerade_address, v);
    } else if (!strcmp(key, "banner")) {
        if (copy(c->banner, sizeof c->banner, v) < 0 || strpbrk(v, "\r\n"))
            return fail(err, cap, where, "banner too long");
    } else if (!strcmp(key, "log_file")) {
        if (copy(c->log_file, sizeof c->log_file, v) < 0)
            return fail(err, cap, where, "log_file too long");
    } else if (!strcmp(key, "xferlog_file")) {
        if (copy(c->xferlog_file, sizeof c->xferlog_file, v) < 0)
            return fail(err, cap, where, "xferlog_file too long");
    } else if (!strcmp(key, "max_line_length")) {
        if (parse_uint(v, 65536, &n) < 0 || n < 64)
            return fail(err, cap, where, "max_line_length must be 64..65536");
        c->max_line = n;
    } else if (!strcmp(key, "max_login_failures")) {
        if (parse_uint(v, 1000, &n) < 0 || n == 0)
            return fail(err, cap, where, "max_login_failures must be 1..1000");
        c->max_login_failures = (unsigned)n;
    } else if (!strcmp(key, "login_fail_delay")) {
        if (parse_seconds(v, &c->login_fail_delay) < 0 ||
            c->login_fail_delay > 60)
            return fail(err, cap, where,
                        "login_fail_delay must be seconds in 0..60");
    } else if (!strcmp(key, "hash_max_size")) {
        if (ftpd_config_parse_size(v, &c->hash_max_size) < 0)
            return fail(err, cap, where,
                        "hash_max_size must be a size (0: no limit)");
    } else if (!strcmp(key, "max_upload_rate")) {
        if (ftpd_config_parse_size(v, &c->max_upload_rate) < 0)
            return fail(err, cap, where,
                        "max_upload_rate must be a size per second (0: no limit)");
    } else if (!strcmp(key, "max_download_rate")) {
        if (ftpd_config_parse_size(v, &c->max_download_rate) < 0)
            return fail(err, cap, where,
                        "max_download_rate must be a size per second (0: no limit)");
    } else if (!strcmp(key, "proxy_protocol")) {
        if (parse_bool(v, &c->proxy_protocol) < 0)
            return fail(err, cap, where, "proxy_protocol must be on or off");
    } else if (!strcmp(key, "proxy_trusted")) {
        /* The whole list each time: the last setting wins, as for every
         * key, so --set can replace the file's list. */
        ss_proxy_config p = c->proxy;
        ss_error e;
        p.ntrusted = 0;
        if (ss_proxy_config_trust(&p, v, &e) < 0)
            return fail(err, cap, where, "proxy_trusted: %s", e.msg);
        c->proxy = p;
    } else if (!strcmp(key, "proxy_timeout")) {
        if (parse_seconds(v, &c->proxy.timeout) < 0 || c->proxy.timeout <= 0)
            return fail(err, cap, where, "proxy_timeout must be seconds > 0");
    } else if (!strcmp(key, "demo_quota")) {
        if (ftpd_config_parse_size(v, &c->demo_quota) < 0)
            return fail(err, cap, where, "demo_quota must be a size");
    } else {
        return fail(err, cap, where, "unknown key '%s'", key);
    }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int ftpd_config_load(ftpd_config *c, const char *path, char *err, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, cap, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[4352];
    char where[FTPD_PATH_MAX + 32];
    unsigned lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        snprintf(where, sizeof where, "%s:%u", path, lineno);
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            rc = fail(err, cap, where, "line too long");
            break;
        }
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = fail(err, cap, where, "expected 'key = value'");
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        /* A value may be quoted to keep leading/trailing blanks (banner). */
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
            value[vl - 1] = '\0';
            value++;
        }
        if (!*key) {
            rc = fail(err, cap, where, "missing key before '='");
            break;
        }
        if ((rc = ftpd_config_set(c, key, value, where, err, cap)) < 0)
            break;
    }
    if (rc == 0 && ferror(f))
        rc = fail(err, cap, path, "read error");
    fclose(f);
    return rc;
}

int ftpd_config_finish(ftpd_config *c, char *err, size_t cap)
{
    if (c->nlisten == 0 && c->nlisten_implicit == 0) {
        snprintf(c->listen[0], sizeof c->listen[0], "127.0.0.1:2121");
        c->nlisten = 1;
    }
    if (!c->users_file[0]) {
        int n = snprintf(c->users_file, sizeof c->users_file, "%s/users",
                         c->data_dir);
        if (n < 0 || (size_t)n >= sizeof c->users_file) {
            snprintf(err, cap, "data_dir: path too long");
            return -1;
        }
    }
    if (!c->tls && c->require_tls == FTPD_TLS_REQ_YES) {
        snprintf(err, cap, "require_tls = yes needs tls = yes");
        return -1;
    }
    if (!c->tls && c->nlisten_implicit) {
        snprintf(err, cap, "listen_implicit needs tls = yes");
        return -1;
    }
    if (!c->tls_cert_file[0] != !c->tls_key_file[0]) {
        snprintf(err, cap, "tls_cert_file and tls_key_file go together");
        return -1;
    }
    if (c->proxy_protocol && c->proxy.ntrusted == 0) {
        for (size_t i = 0; i < c->nlisten + c->nlisten_implicit; i++) {
            const char *l = i < c->nlisten ? c->listen[i]
                                           : c->listen_implicit[i - c->nlisten];
            if (strncmp(l, "unix:", 5) != 0) {
                snprintf(err, cap, "proxy_protocol = on needs proxy_trusted "
                         "(the balancers' networks) for %s", l);
                return -1;
            }
        }
    }
    if (!c->xferlog_file[0])
        memcpy(c->xferlog_file, c->log_file, sizeof c->log_file);
    return 0;
}
