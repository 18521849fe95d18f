/* ftp/server/protocol/commands.h - THE command table of sockserv-ftpd.
 *
 * Every command the server knows is one row: its name, whether it needs a
 * logged-in user, its argument rule, and the function that runs it.  The
 * dispatcher enforces the row before the function runs, so no handler
 * checks login or argument presence itself:
 *   unknown name                       -> 500
 *   known, no function (ACCT, REIN...) -> 502
 *   needs login, not logged in         -> 530
 *   argument missing / unexpected      -> 501
 * The login boundary is visible in the layout, as in vsftpd: the functions
 * allowed before login live in prelogin.c, those after it in postlogin.c,
 * the data-moving ones in transfer.c.
 */
#ifndef FTPD_COMMANDS_H
#define FTPD_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol/session.h"

typedef enum {
    FTPD_ARG_NONE,     /* "NOOP": an argument is a 501 */
    FTPD_ARG_REQUIRED, /* "DELE x" */
    FTPD_ARG_OPTIONAL, /* "LIST [path]" */
} ftpd_arg_rule;

/* Runs one command; arg is NUL-terminated but arg_len counts its bytes (a
 * NUL inside is a client error vfs refuses).  Returns 0 to go on, or a
 * negative code when the control connection failed (the session ends). */
typedef int (*ftpd_cmd_fn)(ftpd_session *s, const char *arg, size_t arg_len);

typedef struct ftpd_command {
    const char *name;   /* upper case */
    bool needs_login;
    ftpd_arg_rule arg;
    ftpd_cmd_fn fn;     /* NULL: known but not implemented (502) */
    const char *help;   /* HELP text: syntax */
} ftpd_command;

extern const ftpd_command ftpd_commands[];
extern const size_t ftpd_command_count;

/* The row for verb (any case), NULL when unknown. */
const ftpd_command *ftpd_command_find(const char *verb);

/* Splits line (len bytes) into verb and argument, applies the row's rules
 * and runs it.  Returns what the handler returned (or the reply's error). */
int ftpd_command_dispatch(ftpd_session *s, char *line, size_t len);

/* Splits line into verb (upper-cased, NUL-terminated, at most 4 letters
 * plus room) and *arg / *arg_len.  Returns false when the verb is not 1-8
 * letters.  Used by the dispatcher and by the in-transfer control check. */
bool ftpd_command_split(char *line, size_t len, char *verb, size_t vcap,
                        char **arg, size_t *arg_len);

/* prelogin.c */
int ftpd_cmd_user(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_pass(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_quit(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_noop(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_syst(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_feat(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_help(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_opts(ftpd_session *s, const char *arg, size_t len);

/* ftps.c (allowed before login: they protect it) */
int ftpd_cmd_auth(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_pbsz(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_prot(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_ccc(ftpd_session *s, const char *arg, size_t len);

/* postlogin.c */
int ftpd_cmd_pwd(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_cwd(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_cdup(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_mkd(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_rmd(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_dele(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_rnfr(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_rnto(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_type(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_mode(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_stru(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_allo(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_rest(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_rang(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_size(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_mdtm(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_mfmt(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_mlst(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_stat(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_site(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_abor(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_pasv(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_epsv(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_port(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_eprt(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_hash(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_xsha256(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_xsha1(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_xmd5(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_xcrc(ftpd_session *s, const char *arg, size_t len);

/* transfer.c */
int ftpd_cmd_retr(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_stor(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_stou(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_appe(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_list(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_nlst(ftpd_session *s, const char *arg, size_t len);
int ftpd_cmd_mlsd(ftpd_session *s, const char *arg, size_t len);

#endif
