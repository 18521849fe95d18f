/* tests/fuzz/fuzz_ftpc_url.c - the client's server argument parser
 * (ftp/client/url.c): the input is the argument. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    if (!text)
        return 0;
    ftpc_url u;
    char err[256];
    if (ftpc_url_parse(&u, text, err, sizeof err) == 0) {
        /* Every field it fills must be a string within its array. */
        if (!memchr(u.host, 0, sizeof u.host) || !memchr(u.port, 0, sizeof u.port) ||
            !memchr(u.path, 0, sizeof u.path) || !memchr(u.user, 0, sizeof u.user) ||
            !memchr(u.pass, 0, sizeof u.pass))
            abort();
    }
    free(text);
    return 0;
}
