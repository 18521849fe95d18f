/* ftp/server/protocol/commands.c - the command table and its dispatcher.  See
 * commands.h. */
#include "protocol/commands.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/reply.h"

#define PRE false  /* allowed before login */
#define POST true  /* needs a logged-in user */

/* Sorted by name: ftpd_command_find() searches it with bsearch. */
const ftpd_command ftpd_commands[] = {
    {"ABOR", POST, FTPD_ARG_NONE, ftpd_cmd_abor, "ABOR"},
    {"ACCT", POST, FTPD_ARG_OPTIONAL, NULL, "ACCT (not implemented)"},
    {"ADAT", PRE, FTPD_ARG_OPTIONAL, NULL, "ADAT (not implemented)"},
    {"ALLO", POST, FTPD_ARG_OPTIONAL, ftpd_cmd_allo, "ALLO <bytes>"},
    {"APPE", POST, FTPD_ARG_REQUIRED, ftpd_cmd_appe, "APPE <path>"},
    {"AUTH", PRE, FTPD_ARG_REQUIRED, ftpd_cmd_auth, "AUTH TLS|SSL"},
    {"CCC", PRE, FTPD_ARG_NONE, ftpd_cmd_ccc, "CCC (refused)"},
    {"CDUP", POST, FTPD_ARG_NONE, ftpd_cmd_cdup, "CDUP"},
    {"CONF", PRE, FTPD_ARG_OPTIONAL, NULL, "CONF (not implemented)"},
    {"CWD", POST, FTPD_ARG_REQUIRED, ftpd_cmd_cwd, "CWD <path>"},
    {"DELE", POST, FTPD_ARG_REQUIRED, ftpd_cmd_dele, "DELE <path>"},
    {"ENC", PRE, FTPD_ARG_OPTIONAL, NULL, "ENC (not implemented)"},
    {"EPRT", POST, FTPD_ARG_REQUIRED, ftpd_cmd_eprt, "EPRT |af|addr|port|"},
    {"EPSV", POST, FTPD_ARG_OPTIONAL, ftpd_cmd_epsv, "EPSV [1|2|ALL]"},
    {"FEAT", PRE, FTPD_ARG_NONE, ftpd_cmd_feat, "FEAT"},
    {"HASH", POST, FTPD_ARG_REQUIRED, ftpd_cmd_hash, "HASH <path>"},
    {"HELP", PRE, FTPD_ARG_OPTIONAL, ftpd_cmd_help, "HELP [command]"},
    {"LIST", POST, FTPD_ARG_OPTIONAL, ftpd_cmd_list, "LIST [-a] [path]"},
    {"MDTM", POST, FTPD_ARG_REQUIRED, ftpd_cmd_mdtm, "MDTM <path>"},
    {"MFMT", POST, FTPD_ARG_REQUIRED, ftpd_cmd_mfmt, "MFMT <YYYYMMDDHHMMSS> <path>"},
    {"MIC", PRE, FTPD_ARG_OPTIONAL, NULL, "MIC (not implemented)"},
    {"MKD", POST, FTPD_ARG_REQUIRED, ftpd_cmd_mkd, "MKD <path>"},
    {"MLSD", POST, FTPD_ARG_OPTIONAL, ftpd_cmd_mlsd, "MLSD [path]"},
    {"MLST", POST, FTPD_ARG_OPTIONAL, ftpd_cmd_mlst, "MLST [path]"},
    {"MODE", POST, FTPD_ARG_REQUIRED, ftpd_cmd_mode, "MODE S"},
    {"NLST", POST, FTPD_ARG_OPTIONAL, ftpd_cmd_nlst, "NLST [path]"},
    {"NOOP", PRE, FTPD_ARG_NONE, ftpd_cmd_noop, "NOOP"},
    {"OPTS", PRE, FTPD_ARG_REQUIRED, ftpd_cmd_opts, "OPTS UTF8|MLST|HASH ..."},
    {"PASS", PRE, FTPD_ARG_OPTIONAL, ftpd_cmd_pass, "PASS <password>"},
    {"PASV", POST, FTPD_ARG_NONE, ftpd_cmd_pasv, "PASV"},
    {"PBSZ", PRE, FTPD_ARG_REQUIRED, ftpd_cmd_pbsz, "PBSZ 0"},
    {"PORT", POST, FTPD_ARG_REQUIRED, ftpd_cmd_port, "PORT h1,h2,h3,h4,p1,p2"},
    {"PROT", PRE, FTPD_ARG_REQUIRED, ftpd_cmd_prot, "PROT C|P"},
    {"PWD", POST, FTPD_ARG_NONE, ftpd_cmd_pwd, "PWD"},
    {"QUIT", PRE, FTPD_ARG_NONE, ftpd_cmd_quit, "QUIT"},
    {"RANG", POST, FTPD_ARG_REQUIRED, ftpd_cmd_rang, "RANG <start> <end>"},
    {"REIN", POST, FTPD_ARG_NONE, NULL, "REIN (not implemented)"},
    {"REST", POST, FTPD_ARG_REQUIRED, ftpd_cmd_rest, "REST <offset>"},
    {"RETR", POST, FTPD_ARG_REQUIRED, ftpd_cmd_retr, "RETR <path>"},
    {"RMD", POST, FTPD_ARG_REQUIRED, ftpd_cmd_rmd, "RMD <path>"},
    {"RNFR", POST, FTPD_ARG_REQUIRED, ftpd_cmd_rnfr, "RNFR <path>"},
    {"RNTO", POST, FTPD_ARG_REQUIRED, ftpd_cmd_rnto, "RNTO <path>"},
    {"SITE", POST, FTPD_ARG_REQUIRED, ftpd_cmd_site, "SITE QUOTA|HELP"},
    {"SIZE", POST, FTPD_ARG_REQUIRED, ftpd_cmd_size, "SIZE <path>"},
    {"SMNT", POST, FTPD_ARG_OPTIONAL, NULL, "SMNT (not implemented)"},
    {"STAT", POST, FTPD_ARG_OPTIONAL, ftpd_cmd_stat, "STAT [path]"},
    {"STOR", POST, FTPD_ARG_REQUIRED, ftpd_cmd_stor, "STOR <path>"},
    {"STOU", POST, FTPD_ARG_OPTIONAL, ftpd_cmd_stou, "STOU [prefix]"},
    {"STRU", POST, FTPD_ARG_REQUIRED, ftpd_cmd_stru, "STRU F"},
    {"SYST", PRE, FTPD_ARG_NONE, ftpd_cmd_syst, "SYST"},
    {"TYPE", POST, FTPD_ARG_REQUIRED, ftpd_cmd_type, "TYPE A|I"},
    {"USER", PRE, FTPD_ARG_REQUIRED, ftpd_cmd_user, "USER <name>"},
    {"XCRC", POST, FTPD_ARG_REQUIRED, ftpd_cmd_xcrc, "XCRC <path> [start end]"},
    {"XCUP", POST, FTPD_ARG_NONE, ftpd_cmd_cdup, "XCUP"},
    {"XCWD", POST, FTPD_ARG_REQUIRED, ftpd_cmd_cwd, "XCWD <path>"},
    {"XMD5", POST, FTPD_ARG_REQUIRED, ftpd_cmd_xmd5, "XMD5 <path> [start end]"},
    {"XMKD", POST, FTPD_ARG_REQUIRED, ftpd_cmd_mkd, "XMKD <path>"},
    {"XPWD", POST, FTPD_ARG_NONE, ftpd_cmd_pwd, "XPWD"},
    {"XRMD", POST, FTPD_ARG_REQUIRED, ftpd_cmd_rmd, "XRMD <path>"},
    {"XSHA1", POST, FTPD_ARG_REQUIRED, ftpd_cmd_xsha1, "XSHA1 <path> [start end]"},
    {"XSHA256", POST, FTPD_ARG_REQUIRED, ftpd_cmd_xsha256,
     "XSHA256 <path> [start end]"},
};
const size_t ftpd_command_count = sizeof ftpd_commands / sizeof ftpd_commands[0];

static int cmp_row(const void *key, const void *row)
{
    return strcmp(key, ((const ftpd_command *)row)->name);
}

const ftpd_command *ftpd_command_find(const char *verb)
{
    char up[16];
    size_t n = strlen(verb);
    if (n == 0 || n >= sizeof up)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        up[i] = (char)toupper((unsigned char)verb[i]);
    return bsearch(up, ftpd_commands, ftpd_command_count,
                   sizeof ftpd_commands[0], cmp_row);
}

bool ftpd_command_split(char *line, size_t len, char *verb, size_t vcap,
                        char **arg, size_t *arg_len)
{
    size_t i = 0;
    while (i < len && line[i] != ' ') {
        if (!isalnum((unsigned char)line[i]) || i + 1 >= vcap || i >= 8)
            return false;
        verb[i] = (char)toupper((unsigned char)line[i]);
        i++;
    }
    verb[i] = '\0';
    if (i == 0)
        return false;
    if (i < len) { /* one space, then the argument as sent */
        *arg = line + i + 1;
        *arg_len = len - i - 1;
    } else {
        *arg = line + len;
        *arg_len = 0;
    }
    line[len] = '\0';
    return true;
}

int ftpd_command_dispatch(ftpd_session *s, char *line, size_t len)
{
    char verb[16];
    char *arg;
    size_t arg_len;
    if (!ftpd_command_split(line, len, verb, sizeof verb, &arg, &arg_len))
        return ftpd_session_reply(s, 500, "Syntax error, command unrecognized.");
    const ftpd_command *c = ftpd_command_find(verb);
    if (!c)
        return ftpd_session_reply(s, 500, "Unknown command.");
    if (!c->fn)
        return ftpd_session_reply(s, 502, "%s not implemented.", c->name);
    if (c->needs_login && !s->logged_in)
        return ftpd_session_reply(s, 530, "Please login with USER and PASS.");
    if (c->arg == FTPD_ARG_REQUIRED && arg_len == 0)
        return ftpd_session_reply(s, 501, "Syntax error: %s needs an argument.",
                                  c->name);
    if (c->arg == FTPD_ARG_NONE && arg_len > 0)
        return ftpd_session_reply(s, 501, "Syntax error: %s takes no argument.",
                                  c->name);
    /* RNFR applies to the very next command only (RFC 959 §4.1.3).  REST
     * stays until a transfer uses it, as vsftpd and pyftpdlib keep it:
     * clients put PASV or TYPE between REST and RETR. */
    bool rnfr = s->have_rnfr;
    int rc = c->fn(s, arg, arg_len);
    if (rnfr && s->have_rnfr && strcmp(c->name, "RNFR"))
        s->have_rnfr = false;
    if (!s->have_rnfr && s->rnfr) {
        free(s->rnfr);
        s->rnfr = NULL;
    }
    return rc;
}
