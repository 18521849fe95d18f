/* ftp/server/protocol/prelogin.c - the commands a client may send before it is
 * logged in: USER, PASS and the harmless ones (QUIT, NOOP, SYST, FEAT,
 * HELP, OPTS).  Everything that touches files is in postlogin.c and
 * transfer.c, behind the table's needs-login flag. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "protocol/commands.h"
#include "protocol/listing.h"
#include "store/passwd.h"
#include "protocol/reply.h"

/* Under require_tls, no name or password crosses the wire in clear.  The
 * code and words are vsftpd's (force_local_logins_ssl). */
static bool tls_refused(ftpd_session *s)
{
    if (!s->tls_required || ftpd_session_tls(s))
        return false;
    s->user_given = false;
    ftpd_session_reply(s, 530, "Non-anonymous sessions must use encryption.");
    return true;
}

int ftpd_cmd_user(ftpd_session *s, const char *arg, size_t len)
{
    if (s->logged_in)
        return ftpd_session_reply(s, 530, "Can't change to another user.");
    if (tls_refused(s))
        return 0;
    /* Whatever the name, the reply is the same 331 (RFC 2577): whether the
     * user exists is only decided, silently, at PASS. */
    if (len > FTPD_USER_NAME_MAX || strlen(arg) != len) {
        s->user[0] = '\0';
    } else {
        memcpy(s->user, arg, len + 1);
    }
    s->user_given = true;
    return ftpd_session_reply(s, 331, "Please specify the password.");
}

static void sleep_s(double d)
{
    struct timespec ts = {.tv_sec = (time_t)d,
                          .tv_nsec = (long)((d - (double)(time_t)d) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* 1: the password is right; 0: it is not, or no such user; a negative
 * errno when the store could not say (store.h). */
static int check_password(ftpd_session *s, const char *pw, size_t len,
                          ftpd_user *u)
{
    ftpd_ctx *ctx = s->ctx;
    int rc = s->user[0] ? ftpd_store_user_lookup(ctx->store, s->user, u)
                        : -ENOENT;
    if (rc == 0)
        return ftpd_passwd_verify(pw, len, u->hash) == 1;
    if (rc != -ENOENT)
        return rc;
    /* Unknown user: spend what a real verify costs, so timing does not
     * tell the client which names exist. */
    char like[FTPD_PASSWD_HASH_MAX];
    bool have =
        ftpd_store_user_reference_hash(ctx->store, like, sizeof like) == 0;
    ftpd_passwd_dummy_verify(pw, len, have ? like : NULL);
    return 0;
}

/* The store cannot answer (store.h): this login cannot be decided now.
 * Not 530, which clients take for a wrong password and which would count
 * towards a ban, but 421, and the connection closes as 421 says; the log
 * tells why (the file store: which users file, and what is wrong with it). */
static int store_down(ftpd_session *s, const char *what, int rc)
{
    char why[FTPD_STORE_ERR_MAX];
    ftpd_store_last_error(s->ctx->store, why, sizeof why);
    s->user_given = false;
    ftpd_log(&s->ctx->log, "login refused user=%s client=%s reason=%s: "
             "store unavailable: %s", s->user[0] ? s->user : "-", s->client,
             what, why[0] ? why : strerror(-rc));
    s->quit = true;
    ftpd_session_reply(s, 421, "Service not available (account store "
                       "unreachable), try again later.");
    return SS_ECLOSED;
}

/* True when the client's host or the name is banned; a store that cannot
 * tell bans nobody (logins then fail on the lookup anyway). */
static bool banned(ftpd_session *s)
{
    return ftpd_store_guard_banned(s->ctx->store,
                                   &s->base.base.client_address, s->user,
                                   NULL) > 0;
}

/* count: failures so far, the larger of this session's and those the
 * guard holds for the client's host and the name.  The delay doubles with
 * each, up to login_fail_delay_max; it is spent here, on this session's
 * thread or process, so other clients never wait for it. */
static int login_failed(ftpd_session *s, const char *why, bool counted)
{
    ftpd_ctx *ctx = s->ctx;
    s->failures++;
    s->user_given = false;
    ftpd_counters_add(ctx->counters, FTPD_C_LOGINS_FAILED, 1);
    unsigned count = s->failures;
    unsigned g = 0;
    if (counted &&
        ftpd_store_guard_fail(ctx->store, &s->base.base.client_address,
                              s->user, &g) == 0 &&
        g > count)
        count = g;
    ftpd_log(&ctx->log, "failed login user=%s client=%s reason=%s count=%u",
             s->user[0] ? s->user : "-", s->client, why, count);
    double max = ctx->cfg.login_fail_delay_max;
    double delay = ctx->cfg.login_fail_delay;
    for (unsigned i = 1; i < count && delay < max; i++)
        delay *= 2;
    if (delay > max)
        delay = max;
    sleep_s(delay);
    if (banned(s)) {
        /* This failure started a ban (or one is running): nothing more to
         * try on this connection either. */
        s->quit = true;
        ftpd_session_reply(s, 421, "Too many failed logins; try again later.");
        return SS_ECLOSED;
    }
    if (s->failures >= ctx->cfg.max_login_failures) {
        s->quit = true;
        ftpd_session_reply(s, 421, "Too many failed logins: closing connection.");
        return SS_ECLOSED;
    }
    return ftpd_session_reply(s, 530, "Login incorrect.");
}

/* A user's own rate (bytes/s) wins over the server's default; "unlimited"
 * in the users file lifts the default.  0: no limit. */
static uint64_t effective_rate(uint64_t user, uint64_t server_default)
{
    if (user == FTPD_QUOTA_UNLIMITED)
        return 0;
    return user ? user : server_default;
}

/* Wipes the copy of a user's entry (it holds the password hash) and frees it. */
static void forget_user(ftpd_user *u)
{
    explicit_bzero(u, sizeof *u);
    free(u);
}

int ftpd_cmd_pass(ftpd_session *s, const char *arg, size_t len)
{
    ftpd_ctx *ctx = s->ctx;
    if (s->logged_in)
        return ftpd_session_reply(s, 503, "Already logged in.");
    if (tls_refused(s)) {
        explicit_bzero((char *)arg, len);
        return 0;
    }
    if (!s->user_given)
        return ftpd_session_reply(s, 503, "Login with USER first.");
    /* On the heap: the entry, and what the login calls below it touch,
     * would push this thread's stack a page deeper, and a thread's stack
     * pages stay resident for the whole session (doc/performance.md). */
    ftpd_user *u = calloc(1, sizeof *u);
    if (!u) {
        explicit_bzero((char *)arg, len);
        return ftpd_session_reply(s, 421, "Service not available, try later.");
    }
    /* A banned host or name fails whatever the password, after the same
     * work and delay as any failure, so the reply tells nothing more. */
    bool is_banned = banned(s);
    int ok = check_password(s, arg, len, u);
    /* The password sits in the line buffer; it is not needed any more. */
    explicit_bzero((char *)arg, len);
    if (ok < 0 && !is_banned) {
        forget_user(u);
        return store_down(s, "account", ok);
    }
    if (ok <= 0 || is_banned) {
        forget_user(u);
        return login_failed(s, is_banned ? "banned" : "bad user or password",
                            !is_banned);
    }
    int rc = ftpd_store_slot_acquire(ctx->store, s->user, &s->slot);
    if (rc < 0) {
        forget_user(u);
        if (rc != -EUSERS)
            return store_down(s, "session place", rc);
        s->user_given = false;
        ftpd_log(&ctx->log, "login refused user=%s client=%s "
                 "reason=max_sessions_per_user", s->user, s->client);
        return ftpd_session_reply(s, 530, "Too many sessions for this user.");
    }
    rc = ftpd_vfs_init(&s->vfs, u->home);
    if (rc < 0) {
        s->vfs.root_fd = -1;
        ftpd_log(&ctx->log, "login user=%s: home %s unusable: %s", s->user,
                 u->home, strerror(-rc));
        ftpd_store_slot_release(ctx->store, &s->slot);
        forget_user(u);
        s->user_given = false;
        return ftpd_session_reply(s, 530, "Login incorrect.");
    }
    rc = ftpd_store_quota_attach(ctx->store, u, &s->quota);
    if (rc < 0) {
        ftpd_store_slot_release(ctx->store, &s->slot);
        ftpd_log(&ctx->log, "login user=%s: quota: %s", s->user, strerror(-rc));
        ftpd_vfs_close(&s->vfs);
        s->vfs.root_fd = -1;
        forget_user(u);
        s->user_given = false;
        return ftpd_session_reply(s, 421, "Service not available, try later.");
    }
    s->quota_limit = u->quota;
    rc = ftpd_rate_attach(ctx->rate, s->user,
                          effective_rate(u->rate_up, ctx->cfg.max_upload_rate),
                          effective_rate(u->rate_down, ctx->cfg.max_download_rate),
                          &s->rate);
    if (rc < 0) /* cannot happen with max_sessions slots; log, never block */
        ftpd_log(&ctx->log, "login user=%s: rate limit: %s", s->user,
                 strerror(-rc));
    forget_user(u);
    s->logged_in = true;
    s->failures = 0;
    ftpd_counters_add(ctx->counters, FTPD_C_LOGINS_OK, 1);
    ftpd_store_guard_success(ctx->store, s->user);
    ftpd_log(&ctx->log, "login user=%s client=%s", s->user, s->client);
    return ftpd_session_reply(s, 230, "Login successful.");
}

int ftpd_cmd_quit(ftpd_session *s, const char *arg, size_t len)
{
    (void)arg;
    (void)len;
    s->quit = true;
    ftpd_session_reply(s, 221, "Goodbye.");
    return 0;
}

int ftpd_cmd_noop(ftpd_session *s, const char *arg, size_t len)
{
    (void)arg;
    (void)len;
    return ftpd_session_reply(s, 200, "NOOP ok.");
}

int ftpd_cmd_syst(ftpd_session *s, const char *arg, size_t len)
{
    (void)arg;
    (void)len;
    return ftpd_session_reply(s, 215, "UNIX Type: L8");
}

/* The MLST facts as FEAT and OPTS MLST show them, '*' marking the chosen. */
static const struct {
    const char *name;
    unsigned bit;
} mlst_facts[] = {
    {"type", FTPD_MLST_TYPE},     {"size", FTPD_MLST_SIZE},
    {"modify", FTPD_MLST_MODIFY}, {"perm", FTPD_MLST_PERM},
    {"unique", FTPD_MLST_UNIQUE},
};

static void facts_text(unsigned chosen, bool stars, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof mlst_facts / sizeof mlst_facts[0]; i++) {
        if (!stars && !(chosen & mlst_facts[i].bit))
            continue;
        int n = snprintf(out + o, cap - o, "%s%s;", mlst_facts[i].name,
                         stars && (chosen & mlst_facts[i].bit) ? "*" : "");
        if (n < 0 || (size_t)n >= cap - o)
            break;
        o += (size_t)n;
    }
}

int ftpd_cmd_feat(ftpd_session *s, const char *arg, size_t len)
{
    (void)arg;
    (void)len;
    char facts[128], hash[64];
    facts_text(s->mlst_facts, true, facts, sizeof facts);
    snprintf(hash, sizeof hash, "HASH SHA-256%s;SHA-1%s;MD5%s;CRC32%s",
             s->hash_algo == FTPD_DIGEST_SHA256 ? "*" : "",
             s->hash_algo == FTPD_DIGEST_SHA1 ? "*" : "",
             s->hash_algo == FTPD_DIGEST_MD5 ? "*" : "",
             s->hash_algo == FTPD_DIGEST_CRC32 ? "*" : "");
    ftpd_reply r;
    ftpd_reply_begin(&r, &s->base.wfile, 211);
    ftpd_reply_line(&r, "Features:");
    if (s->ctx->tls_on) {
        ftpd_reply_line(&r, "AUTH TLS");
        ftpd_reply_line(&r, "AUTH SSL");
        ftpd_reply_line(&r, "PBSZ");
        ftpd_reply_line(&r, "PROT");
    }
    ftpd_reply_line(&r, "EPRT");
    ftpd_reply_line(&r, "EPSV");
    ftpd_reply_line(&r, "%s", hash);
    ftpd_reply_line(&r, "MDTM");
    ftpd_reply_line(&r, "MFMT");
    ftpd_reply_line(&r, "MLST %s", facts);
    ftpd_reply_line(&r, "PASV");
    ftpd_reply_line(&r, "RANG STREAM");
    ftpd_reply_line(&r, "REST STREAM");
    ftpd_reply_line(&r, "SIZE");
    ftpd_reply_line(&r, "TVFS");
    ftpd_reply_line(&r, "UTF8");
    ftpd_reply_line(&r, "XCRC \"filename\" SP EP");
    ftpd_reply_line(&r, "XMD5 \"filename\" SP EP");
    ftpd_reply_line(&r, "XSHA1 \"filename\" SP EP");
    ftpd_reply_line(&r, "XSHA256 \"filename\" SP EP");
    return ftpd_reply_end(&r, "End");
}

int ftpd_cmd_help(ftpd_session *s, const char *arg, size_t len)
{
    if (len) {
        const ftpd_command *c = ftpd_command_find(arg);
        if (!c)
            return ftpd_session_reply(s, 502, "Unknown command %s.", arg);
        return ftpd_session_reply(s, 214, "Syntax: %s", c->help);
    }
    ftpd_reply r;
    ftpd_reply_begin(&r, &s->base.wfile, 214);
    ftpd_reply_line(&r, "The following commands are recognized:");
    char row[128];
    size_t o = 0;
    for (size_t i = 0; i < ftpd_command_count; i++) {
        int n = snprintf(row + o, sizeof row - o, "%-8s", ftpd_commands[i].name);
        o += (size_t)n;
        if (i % 8 == 7 || i + 1 == ftpd_command_count) {
            ftpd_reply_line(&r, "%s", row);
            o = 0;
        }
    }
    return ftpd_reply_end(&r, "Help OK.");
}

int ftpd_cmd_opts(ftpd_session *s, const char *arg, size_t len)
{
    (void)len;
    char name[16];
    size_t i = 0;
    while (arg[i] && arg[i] != ' ' && i + 1 < sizeof name) {
        name[i] = arg[i];
        i++;
    }
    name[i] = '\0';
    const char *rest = arg[i] == ' ' ? arg + i + 1 : arg + i;
    if (!strcasecmp(name, "UTF8")) {
        if (*rest && strcasecmp(rest, "ON") && strcasecmp(rest, "OFF"))
            return ftpd_session_reply(s, 501, "OPTS UTF8 takes ON or OFF.");
        /* Names are bytes passed through as they are; the home's names are
         * UTF-8 by our rule (vfs refuses invalid UTF-8), so always on. */
        return ftpd_session_reply(s, 200, "Always in UTF8 mode.");
    }
    if (!strcasecmp(name, "MLST")) {
        unsigned chosen = 0;
        char buf[256];
        snprintf(buf, sizeof buf, "%s", rest);
        char *save = NULL;
        for (char *f = strtok_r(buf, ";", &save); f;
             f = strtok_r(NULL, ";", &save))
            for (size_t k = 0; k < sizeof mlst_facts / sizeof mlst_facts[0]; k++)
                if (!strcasecmp(f, mlst_facts[k].name))
                    chosen |= mlst_facts[k].bit;
        s->mlst_facts = chosen;
        char facts[128];
        facts_text(chosen, false, facts, sizeof facts);
        return ftpd_session_reply(s, 200, "MLST OPTS %s", facts);
    }
    if (!strcasecmp(name, "HASH")) {
        if (*rest) {
            enum ftpd_digest_algo a;
            if (ftpd_digest_parse(rest, &a) < 0)
                return ftpd_session_reply(s, 501, "Unknown algorithm, "
                                          "choose SHA-256, SHA-1, MD5 or CRC32.");
            s->hash_algo = a;
        }
        return ftpd_session_reply(s, 200, "%s", ftpd_digest_name(s->hash_algo));
    }
    return ftpd_session_reply(s, 501, "Option not understood.");
}
