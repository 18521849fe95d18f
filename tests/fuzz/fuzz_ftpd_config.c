/* tests/fuzz/fuzz_ftpd_config.c - sockserv-ftpd's config file parser
 * (ftp/server/config.c): the input is the whole file. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0)
        return 0;
    static ftpd_config c; /* large: not on the stack */
    char err[FTPD_CONFIG_ERR_MAX];
    ftpd_config_defaults(&c);
    if (ftpd_config_load(&c, path, err, sizeof err) == 0)
        ftpd_config_finish(&c, err, sizeof err);
    close(fd);
    /* The size parser is used alone by the users file and the flags. */
    char *text = fuzz_strndup(data, size < 64 ? size : 64);
    uint64_t v;
    ftpd_config_parse_size(text, &v);
    free(text);
    return 0;
}
