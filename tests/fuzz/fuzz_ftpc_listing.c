/* tests/fuzz/fuzz_ftpc_listing.c - the client's directory listing parsers
 * (ftp/client/listparse.c), which mirror trusts to name local files: the
 * input is a listing, each line parsed as MLSD and as LIST.  An entry either
 * parser accepts must have a safe name, and a time must survive a
 * format/parse round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "listparse.h"

static void check(const ftpc_entry *e)
{
    if (!memchr(e->name, 0, sizeof e->name) || !ftpc_name_is_safe(e->name))
        abort(); /* mirror would write outside the directory */
    if (e->mtime >= 0) {
        char t[15];
        ftpc_format_time14(e->mtime, t);
        if (ftpc_parse_time14(t) != e->mtime)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    if (!text)
        return 0;
    const int64_t now = 1764806400; /* 2025-12-04: fixed, for repeatable runs */
    static ftpc_entry e; /* 1 KiB name: not on the stack */
    char *save = NULL;
    for (char *line = strtok_r(text, "\r\n", &save); line;
         line = strtok_r(NULL, "\r\n", &save)) {
        if (ftpc_parse_mlsd(line, &e) == 1)
            check(&e);
        if (ftpc_parse_list(line, now, &e) == 1)
            check(&e);
        ftpc_parse_time14(line);
    }
    free(text);
    return 0;
}
