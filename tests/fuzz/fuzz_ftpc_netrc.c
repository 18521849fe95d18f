/* tests/fuzz/fuzz_ftpc_netrc.c - the client's ~/.netrc reader
 * (ftp/client/netrc.c): the input is the whole file, looked up for a host
 * it names and for one it does not, with and without a user given. */
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "netrc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0)
        return 0;
    static const char *hosts[] = {"example.org", "127.0.0.1", "nowhere"};
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        char user[128] = "", pass[256];
        ftpc_netrc_lookup(path, hosts[i], user, sizeof user, pass, sizeof pass);
        strcpy(user, "alice");
        ftpc_netrc_lookup(path, hosts[i], user, sizeof user, pass, sizeof pass);
    }
    close(fd);
    return 0;
}
