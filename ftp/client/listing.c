/* ftp/client/listing.c - see listing.h. */
#include "listing.h"

#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "status.h"

int ftpc_listing(ftpc_session *s, const char *verb, const char *path, FILE *out,
                 char **buf, size_t *len)
{
    ftpc_data d;
    int r = ftpc_data_open(s, &d);
    if (r < 0)
        return r;
    int code = path ? ftpc_ctrl_cmd(&s->ctrl, "%s %s", verb, path)
                    : ftpc_ctrl_cmd(&s->ctrl, "%s", verb);
    if (code < 0 || code / 100 != 1) {
        ftpc_data_close(&d);
        return code < 0 ? code : ftpc_ctrl_fail(&s->ctrl, FTPC_ERR_REMOTE, NULL);
    }
    r = ftpc_data_ready(s, &d);
    char chunk[16384];
    size_t cap = 0;
    while (r == 0) {
        ssize_t n = ftpc_stream_read(&d.io, chunk, sizeof chunk, s->ctrl.timeout_s);
        if (n == 0)
            break;
        if (n < 0) {
            snprintf(s->ctrl.err, sizeof s->ctrl.err, "listing: %s",
                     strerror((int)-n));
            r = FTPC_ERR_NET;
            break;
        }
        if (out) {
            fwrite(chunk, 1, (size_t)n, out);
        } else if (*len + (size_t)n + 1 <= FTPC_LISTING_MAX) {
            if (*len + (size_t)n + 1 > cap) {
                size_t ncap = cap ? cap * 2 : 65536;
                while (ncap < *len + (size_t)n + 1)
                    ncap *= 2;
                char *nb = realloc(*buf, ncap);
                if (!nb) {
                    snprintf(s->ctrl.err, sizeof s->ctrl.err, "out of memory");
                    r = FTPC_ERR_LOCAL;
                    break;
                }
                *buf = nb;
                cap = ncap;
            }
            memcpy(*buf + *len, chunk, (size_t)n);
            *len += (size_t)n;
            (*buf)[*len] = '\0';
        }
    }
    ftpc_data_close(&d);
    if (out)
        fflush(out);
    if (r < 0) {
        ftpc_ctrl_close(&s->ctrl); /* the reply to this listing is still due */
        return r;
    }
    code = ftpc_ctrl_read(&s->ctrl);
    if (code < 0 || code / 100 == 2)
        return code < 0 ? code : 0;
    return ftpc_ctrl_fail(&s->ctrl, FTPC_ERR_REMOTE, NULL);
}

