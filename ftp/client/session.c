/* ftp/client/session.c - see session.h. */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lineedit.h"
#include "netrc.h"
#include "status.h"
#include "tls.h"

void ftpc_session_init(ftpc_session *s, const ftpc_opts *opts)
{
    memset(s, 0, sizeof *s);
    s->opts = opts;
    ftpc_ctrl_init(&s->ctrl, opts->timeout_s, opts->verbose);
}

void ftpc_session_init_like(ftpc_session *s, const ftpc_session *from)
{
    ftpc_session_init(s, from->opts);
    memcpy(s->user, from->user, sizeof s->user);
    memcpy(s->pass, from->pass, sizeof s->pass);
    s->have_pass = from->have_pass;
}

bool ftpc_session_alive(const ftpc_session *s)
{
    return ftpc_ctrl_is_open(&s->ctrl);
}

const char *ftpc_session_err(const ftpc_session *s)
{
    return s->ctrl.err;
}

ftpc_algo ftpc_session_algo(const ftpc_session *s)
{
    return ftpc_algo_best(s->hash_algos | s->x_algos);
}

/* Where the user name and password come from, first found wins:
 * URL, $SOCKSERV_FTP_PASSWORD, ~/.netrc, a prompt on the terminal;
 * no user at all means anonymous. */
static void find_credentials(ftpc_session *s)
{
    const ftpc_url *u = &s->opts->url;
    if (s->have_pass)
        return;
    snprintf(s->user, sizeof s->user, "%s", u->has_user ? u->user : "");
    if (u->has_pass) {
        snprintf(s->pass, sizeof s->pass, "%s", u->pass);
        s->have_pass = true;
        return;
    }
    const char *env = getenv("SOCKSERV_FTP_PASSWORD");
    if (env && s->user[0]) {
        snprintf(s->pass, sizeof s->pass, "%s", env);
        s->have_pass = true;
        return;
    }
    if (ftpc_netrc_lookup(NULL, u->host, s->user, sizeof s->user, s->pass,
                          sizeof s->pass) && s->user[0]) {
        s->have_pass = true;
        return;
    }
    if (!s->user[0]) {
        snprintf(s->user, sizeof s->user, "anonymous");
        snprintf(s->pass, sizeof s->pass, "anonymous@");
        s->have_pass = true;
        return;
    }
    if (env) {
        snprintf(s->pass, sizeof s->pass, "%s", env);
        s->have_pass = true;
    }
}

static bool ask_password(ftpc_session *s)
{
    char prompt[300];
    snprintf(prompt, sizeof prompt, "Password for %.120s@%.160s: ", s->user,
             s->opts->url.host);
    if (!isatty(STDIN_FILENO) || !ftpc_read_password(prompt, s->pass, sizeof s->pass))
        return false;
    s->have_pass = true;
    return true;
}

void ftpc_session_parse_feat(ftpc_session *s)
{
    s->feat_size = s->feat_rest = s->feat_epsv = false;
    s->feat_mlsd = s->feat_mdtm = s->feat_mfmt = false;
    s->hash_algos = s->x_algos = 0;
    s->hash_cur = FTPC_ALGO_NONE;
    char *save = NULL;
    char text[FTPC_REPLY_MAX];
    snprintf(text, sizeof text, "%s", s->ctrl.reply.text);
    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] != ' ')
            continue; /* the first and last lines carry the code */
        line++;
        char name[32];
        size_t n = strcspn(line, " ");
        snprintf(name, sizeof name, "%.*s", (int)(n < 31 ? n : 31), line);
        const char *arg = line[n] ? line + n + 1 : "";
        if (strcasecmp(name, "SIZE") == 0)
            s->feat_size = true;
        else if (strcasecmp(name, "REST") == 0)
            s->feat_rest = true;
        else if (strcasecmp(name, "EPSV") == 0)
            s->feat_epsv = true;
        else if (strcasecmp(name, "MLST") == 0 || strcasecmp(name, "MLSD") == 0)
            s->feat_mlsd = true;
        else if (strcasecmp(name, "MDTM") == 0)
            s->feat_mdtm = true;
        else if (strcasecmp(name, "MFMT") == 0)
            s->feat_mfmt = true;
        else if (strcasecmp(name, "XSHA256") == 0)
            s->x_algos |= FTPC_ALGO_SHA256;
        else if (strcasecmp(name, "XSHA1") == 0)
            s->x_algos |= FTPC_ALGO_SHA1;
        else if (strcasecmp(name, "XMD5") == 0)
            s->x_algos |= FTPC_ALGO_MD5;
        else if (strcasecmp(name, "HASH") == 0) {
            /* "HASH SHA-1;SHA-256*;MD5": '*' marks the current one. */
            char list[256], *save2 = NULL;
            snprintf(list, sizeof list, "%s", arg);
            for (char *t = strtok_r(list, ";", &save2); t;
                 t = strtok_r(NULL, ";", &save2)) {
                size_t tl = strlen(t);
                bool cur = tl > 0 && t[tl - 1] == '*';
                if (cur)
                    t[tl - 1] = '\0';
                ftpc_algo a = ftpc_algo_from_iana(t);
                s->hash_algos |= (unsigned)a;
                if (cur && a)
                    s->hash_cur = a;
            }
        }
    }
}

static int login(ftpc_session *s)
{
    ftpc_ctrl *c = &s->ctrl;
    find_credentials(s);
    int code = ftpc_ctrl_cmd(c, "USER %s", s->user);
    if (code < 0)
        return code;
    if (code == 331 || code == 332) {
        if (code == 332) {
            return ftpc_ctrl_fail(c, FTPC_ERR_LOGIN,
                                  "login refused (the server wants an account)");
        }
        if (!s->have_pass && !ask_password(s)) {
            /* No terminal to ask on: let the server decide on an empty one. */
            s->pass[0] = '\0';
        }
        code = ftpc_ctrl_cmd(c, "PASS %s", s->pass);
        if (code < 0)
            return code;
    }
    if (code == 230 || code == 202)
        return 0;
    if (code == 421)
        return ftpc_ctrl_fail(c, FTPC_ERR_CONNECT, "the server is not available");
    return ftpc_ctrl_fail(c, FTPC_ERR_LOGIN, "login refused");
}

/* The TLS handshake on the control connection.  0, FTPC_ERR_CONNECT or
 * FTPC_ERR_USAGE (the context could not be made: a bad --cacert); the
 * connection is closed on failure. */
static int secure_control(ftpc_session *s)
{
    ftpc_ctrl *c = &s->ctrl;
    const ftpc_opts *o = s->opts;
    if (!s->tls_ctx_ready) {
        char why[FTPC_ERR_MAX - 16];
        if (ftpc_tls_context_init(&s->tls_ctx, o->cacert, o->insecure,
                                  o->timeout_s, why, sizeof why) < 0) {
            snprintf(c->err, sizeof c->err, "--cacert: %s", why);
            ftpc_ctrl_close(c);
            return FTPC_ERR_USAGE;
        }
        s->tls_ctx_ready = true;
    }
    /* Nothing may come between 234 and the handshake; whatever did is not
     * the server's (RFC 4217 section 4). */
    c->in_len = 0;
    if (ftpc_tls_start(&c->io, &c->tls_conn, &s->tls_ctx, o->url.host, NULL,
                       c->err, sizeof c->err) < 0) {
        ftpc_ctrl_close(c);
        return FTPC_ERR_CONNECT;
    }
    if (c->trace)
        fprintf(stderr, "--- TLS %s %s%s\n", ss_tls_conn_version(&c->tls_conn),
                ss_tls_conn_cipher(&c->tls_conn),
                o->insecure ? " (certificate not checked: --insecure)" : "");
    return 0;
}

/* PBSZ 0 and PROT P after login: from here every data connection is TLS
 * too.  0 or a negative status. */
static int protect_data(ftpc_session *s)
{
    ftpc_ctrl *c = &s->ctrl;
    int code = ftpc_ctrl_cmd(c, "PBSZ 0");
    if (code < 0)
        return code;
    if (code / 100 != 2)
        return ftpc_ctrl_fail(c, FTPC_ERR_CONNECT, "PBSZ 0 refused");
    code = ftpc_ctrl_cmd(c, "PROT P");
    if (code < 0)
        return code;
    if (code / 100 != 2)
        /* Files in clear after --tls asked otherwise: no. */
        return ftpc_ctrl_fail(c, FTPC_ERR_CONNECT,
                              "PROT P refused (data connections would not "
                              "be encrypted)");
    s->prot_p = true;
    return 0;
}

int ftpc_session_open(ftpc_session *s)
{
    ftpc_ctrl *c = &s->ctrl;
    const ftpc_opts *o = s->opts;
    s->prot_p = false;
    int r = ftpc_ctrl_connect(c, o->url.host, o->url.port);
    if (r < 0)
        return r;
    if (o->url.implicit_tls && (r = secure_control(s)) < 0)
        return r;
    int code;
    do /* 120: "service ready in nnn minutes", then the real greeting */
        code = ftpc_ctrl_read(c);
    while (code == 120);
    if (code < 0) {
        ftpc_ctrl_close(c);
        return FTPC_ERR_CONNECT;
    }
    if (code != 220) {
        ftpc_ctrl_fail(c, FTPC_ERR_CONNECT, "the server turned us away");
        ftpc_ctrl_close(c);
        return FTPC_ERR_CONNECT;
    }
    if (o->tls && !o->url.implicit_tls) {
        code = ftpc_ctrl_cmd(c, "AUTH TLS");
        if (code < 0) {
            ftpc_ctrl_close(c);
            return FTPC_ERR_CONNECT;
        }
        if (code != 234) {
            ftpc_ctrl_fail(c, FTPC_ERR_CONNECT,
                           "the server does not offer TLS (AUTH TLS)");
            ftpc_ctrl_close(c);
            return FTPC_ERR_CONNECT;
        }
        if ((r = secure_control(s)) < 0)
            return r;
    }
    r = login(s);
    if (r < 0) {
        ftpc_ctrl_close(c);
        return r;
    }
    if (o->tls && (r = protect_data(s)) < 0) {
        ftpc_ctrl_close(c);
        return r;
    }
    code = ftpc_ctrl_cmd(c, "FEAT");
    if (code < 0)
        return code;
    if (code == 211)
        ftpc_session_parse_feat(s);
    code = ftpc_ctrl_cmd(c, "TYPE I");
    if (code < 0)
        return code;
    if (code != 200)
        return ftpc_ctrl_fail(c, FTPC_ERR_REMOTE, "TYPE I refused");
    if (s->cwd[0]) {
        code = ftpc_ctrl_cmd(c, "CWD %s", s->cwd);
        if (code < 0)
            return code;
        if (code / 100 != 2)
            return ftpc_ctrl_fail(c, FTPC_ERR_REMOTE, s->cwd);
    }
    return 0;
}

int ftpc_session_reopen(ftpc_session *s)
{
    ftpc_ctrl_close(&s->ctrl);
    return ftpc_session_open(s);
}

void ftpc_session_close(ftpc_session *s)
{
    if (ftpc_ctrl_is_open(&s->ctrl)) {
        /* A short wait: QUIT is a courtesy, not worth a long hang. */
        s->ctrl.timeout_s = s->ctrl.timeout_s < 5 ? s->ctrl.timeout_s : 5;
        ftpc_ctrl_cmd(&s->ctrl, "QUIT");
    }
    ftpc_ctrl_close(&s->ctrl);
    /* After every connection made from it. */
    if (s->tls_ctx_ready)
        ss_tls_context_close(&s->tls_ctx);
    s->tls_ctx_ready = false;
    explicit_bzero(s->pass, sizeof s->pass);
    s->have_pass = false;
}
