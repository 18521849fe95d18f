/* ftp/client/checksum.c - see checksum.h. */
#include "checksum.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "status.h"

static bool missing(int code)
{
    return code == 500 || code == 502 || code == 504;
}

static int with_hash(ftpc_session *s, const char *path, ftpc_algo algo,
                     int64_t len, char *hex)
{
    ftpc_ctrl *c = &s->ctrl;
    int code;
    if (s->hash_cur != algo) {
        code = ftpc_ctrl_cmd(c, "OPTS HASH %s", ftpc_algo_iana(algo));
        if (code < 0)
            return code;
        if (code != 200) {
            s->hash_algos &= ~(unsigned)algo;
            return FTPC_ERR_UNSUPPORTED;
        }
        s->hash_cur = algo;
    }
    if (len >= 0) {
        if (s->no_rang)
            return FTPC_ERR_UNSUPPORTED;
        code = ftpc_ctrl_cmd(c, "RANG 0 %" PRId64, len - 1);
        if (code < 0)
            return code;
        if (code != 350) {
            s->no_rang = true;
            return FTPC_ERR_UNSUPPORTED;
        }
    }
    code = ftpc_ctrl_cmd(c, "HASH %s", path);
    if (code < 0)
        return code;
    int status = 0;
    if (code / 100 != 2) {
        if (missing(code)) {
            s->hash_algos = 0;
            status = FTPC_ERR_UNSUPPORTED;
        } else {
            status = ftpc_ctrl_fail(c, FTPC_ERR_REMOTE, "HASH");
        }
    } else if (ftpc_find_hex(c->reply.text, ftpc_algo_hexlen(algo), hex) < 0) {
        status = ftpc_ctrl_fail(c, FTPC_ERR_REMOTE, "HASH gave no checksum");
    }
    if (len >= 0) {
        /* Servers differ on whether HASH uses up the range as RETR does;
         * resetting it makes sure the next RETR is not cut short. */
        code = ftpc_ctrl_cmd(c, "RANG 1 0");
        if (code < 0)
            return code;
    }
    return status;
}

static int with_x(ftpc_session *s, const char *path, ftpc_algo algo,
                  int64_t len, char *hex)
{
    ftpc_ctrl *c = &s->ctrl;
    int code = len >= 0
                   ? ftpc_ctrl_cmd(c, "%s %s 0 %" PRId64, ftpc_algo_xcmd(algo),
                                   path, len)
                   : ftpc_ctrl_cmd(c, "%s %s", ftpc_algo_xcmd(algo), path);
    if (code < 0)
        return code;
    if (missing(code) || (len >= 0 && code == 501)) {
        if (len < 0)
            s->x_algos &= ~(unsigned)algo;
        return FTPC_ERR_UNSUPPORTED;
    }
    if (code / 100 != 2)
        return ftpc_ctrl_fail(c, FTPC_ERR_REMOTE, ftpc_algo_xcmd(algo));
    if (ftpc_find_hex(c->reply.text, ftpc_algo_hexlen(algo), hex) < 0)
        return ftpc_ctrl_fail(c, FTPC_ERR_REMOTE, "no checksum in the reply");
    return 0;
}

int ftpc_remote_hash(ftpc_session *s, const char *path, ftpc_algo algo,
                     int64_t len, char hex[FTPC_HEX_MAX])
{
    hex[0] = '\0';
    int r = FTPC_ERR_UNSUPPORTED;
    if (s->hash_algos & algo)
        r = with_hash(s, path, algo, len, hex);
    if (r == FTPC_ERR_UNSUPPORTED && (s->x_algos & algo))
        r = with_x(s, path, algo, len, hex);
    if (r == FTPC_ERR_UNSUPPORTED)
        snprintf(s->ctrl.err, sizeof s->ctrl.err,
                 "the server offers no %s checksum%s", ftpc_algo_name(algo),
                 len >= 0 ? " of a byte range" : "");
    return r;
}
