/* tests/fuzz/fuzz_ftpd_users.c - sockserv-ftpd's users file parser
 * (ftp/server/users.c): the input is the whole file; every user it accepts
 * must pass the checks the editing commands make, and its sizes must
 * survive a format/parse round trip. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"
#include "store/users.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0)
        return 0;
    ftpd_user *users = NULL;
    size_t n = 0;
    char err[512];
    if (ftpd_users_parse_file(path, &users, &n, err, sizeof err) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (ftpd_user_name_check(users[i].name) < 0)
                abort(); /* the parser let in a name it must refuse */
            char text[64];
            uint64_t back;
            if (ftpd_size_format(users[i].quota, text, sizeof text) >= 0 &&
                (ftpd_size_parse(text, &back) < 0 || back != users[i].quota))
                abort(); /* a quota the file would not read back */
        }
    }
    free(users);
    close(fd);
    return 0;
}
