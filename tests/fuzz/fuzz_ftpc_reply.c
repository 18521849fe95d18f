/* tests/fuzz/fuzz_ftpc_reply.c - the client's reply parsers
 * (ftp/client/reply.c) and its FEAT parser (session.c): the input is what a
 * server sends on the control connection, cut into lines as ctrl.c does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "reply.h"
#include "session.h"

static void parse_one(const ftpc_reply *r, ftpc_session *s)
{
    int port;
    char path[1024], hex[129];
    ftpc_parse_epsv(r->last, &port);
    ftpc_parse_pasv(r->last, &port);
    ftpc_parse_257(r->last, path, sizeof path);
    ftpc_find_hex(r->last, 64, hex);
    ftpc_find_hex(r->text, 40, hex);
    s->ctrl.reply = *r;
    ftpc_session_parse_feat(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ftpc_session s; /* holds reply buffers: not on the stack */
    static ftpc_reply r;
    static const ftpc_opts opts;
    char *text = fuzz_strndup(data, size);
    if (!text)
        return 0;
    ftpc_session_init(&s, &opts);
    ftpc_reply_init(&r);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[len - 1] = '\0';
        int rc = ftpc_reply_feed(&r, line);
        if (rc != 0) { /* complete (or broken): parse, start the next */
            if (rc > 0)
                parse_one(&r, &s);
            ftpc_reply_init(&r);
        }
    }
    free(text);
    return 0;
}
