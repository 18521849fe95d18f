/* ftp/client/checksum.c - see checksum.h. */
#include "checksum.h"

#include <inttypes.h>
#include <stdbool.h>
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
        } else if (len >= 0 && code / 100 == 5) {
            /* HASH of a range refused: ranges go through X* from now on. */
            s->no_rang = true;
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
    if (len >= 0 && (s->x_no_range & algo))
        return FTPC_ERR_UNSUPPORTED;
    int code = len >= 0
                   ? ftpc_ctrl_cmd(c, "%s %s 0 %" PRId64, ftpc_algo_xcmd(algo),
                                   path, len)
                   : ftpc_ctrl_cmd(c, "%s %s", ftpc_algo_xcmd(algo), path);
    if (code < 0)
        return code;
    if (len >= 0 && code / 100 == 5) {
        /* The file exists (its size was just read): a 5xx here is about
         * the range, which this server takes for no X* of this algorithm. */
        s->x_no_range |= (unsigned)algo;
        return FTPC_ERR_UNSUPPORTED;
    }
    if (missing(code)) {
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

int ftpc_remote_range_matches(ftpc_session *s, const char *path, int fd,
                              uint64_t len, ftpc_algo algo, const char *lhex,
                              ftpc_algo *used)
{
    *used = FTPC_ALGO_NONE;
    unsigned tried = 0;
    for (ftpc_algo a = algo; a != FTPC_ALGO_NONE;
         a = ftpc_algo_best((s->hash_algos | s->x_algos) & ~tried)) {
        tried |= (unsigned)a;
        char rhex[FTPC_HEX_MAX], mine[FTPC_HEX_MAX];
        int r = ftpc_remote_hash(s, path, a, (int64_t)len, rhex);
        if (r == FTPC_ERR_UNSUPPORTED)
            continue;
        if (r < 0)
            return r;
        if (a == algo) {
            snprintf(mine, sizeof mine, "%s", lhex);
        } else {
            ftpc_digest d;
            ftpc_digest_init(&d, a);
            int k = ftpc_digest_file(&d, fd, len);
            if (k == 0)
                k = ftpc_digest_peek(&d, mine);
            ftpc_digest_close(&d);
            if (k < 0)
                continue;
        }
        *used = a;
        return strcmp(mine, rhex) == 0 ? 1 : 0;
    }
    snprintf(s->ctrl.err, sizeof s->ctrl.err,
             "the server offers no checksum of a byte range");
    return FTPC_ERR_UNSUPPORTED;
}
