/* tests/packaging/test_config_doc.c - the defaults sockserv-ftpd.conf(5)
 * states are the code's: each key set to its documented default leaves a
 * fresh ftpd_config exactly as ftpd_config_defaults() made it.  (That every
 * key is documented at all is check_docs.py's part.) */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Copies s into out without scdoc's escapes ("\_" -> "_"). */
static void unescape(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        if (s[i] == '\\' && i + 1 < n)
            i++;
        out[o++] = s[i];
    }
    out[o] = '\0';
}

Test(config_doc, documented_defaults_are_the_code_defaults)
{
    const char *src = getenv("SOCKSERV_SOURCE_ROOT");
    cr_assert(src, "SOCKSERV_SOURCE_ROOT not set");
    char path[4096];
    snprintf(path, sizeof path, "%s/man/sockserv-ftpd.conf.5.scd", src);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    char line[1024], key[128] = "";
    unsigned checked = 0, keys = 0;
    while (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\n");
        line[n] = '\0';
        if (n > 2 && line[0] == '*' && line[n - 1] == '*' &&
            strspn(line + 1, "abcdefghijklmnopqrstuvwxyz_\\") == n - 2) {
            unescape(line + 1, n - 2, key, sizeof key);
            keys++;
            continue;
        }
        /* "Default: *VALUE*." is a literal; "none" or _DERIVED_ are not. */
        if (!key[0] || strncmp(line, "Default: *", 10) != 0)
            continue;
        cr_assert(n > 12 && !strcmp(line + n - 2, "*."), "%s: %s", key, line);
        char value[512];
        unescape(line + 10, n - 12, value, sizeof value);
        ftpd_config def, set;
        char err[FTPD_CONFIG_ERR_MAX];
        ftpd_config_defaults(&def);
        ftpd_config_defaults(&set);
        cr_assert_eq(ftpd_config_set(&set, key, value, "doc", err, sizeof err), 0,
                     "%s = %s: %s", key, value, err);
        cr_assert_eq(ftpd_config_finish(&def, err, sizeof err), 0, "%s", err);
        cr_assert_eq(ftpd_config_finish(&set, err, sizeof err), 0,
                     "%s = %s: %s", key, value, err);
        cr_assert(memcmp(&def, &set, sizeof def) == 0,
                  "sockserv-ftpd.conf(5) says %s defaults to '%s', the code "
                  "does not", key, value);
        checked++;
        key[0] = '\0';
    }
    fclose(f);
    cr_assert_gt(keys, 10, "no keys found in %s", path);
    cr_assert_gt(checked, 10, "no literal defaults found in %s", path);
}
