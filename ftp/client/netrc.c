/* ftp/client/netrc.c - see netrc.h. */
#include "netrc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Next whitespace-separated token (a "quoted token" may hold spaces). */
static const char *token(const char **p, char *out, size_t cap)
{
    const char *s = *p;
    while (*s && isspace((unsigned char)*s))
        s++;
    if (!*s)
        return NULL;
    size_t n = 0;
    if (*s == '"') {
        for (s++; *s && *s != '"'; s++)
            if (n + 1 < cap)
                out[n++] = *s;
        if (*s == '"')
            s++;
    } else {
        for (; *s && !isspace((unsigned char)*s); s++)
            if (n + 1 < cap)
                out[n++] = *s;
    }
    out[n] = '\0';
    *p = s;
    return out;
}

bool ftpc_netrc_lookup(const char *path, const char *host, char *user,
                       size_t ucap, char *pass, size_t pcap)
{
    char def[4096];
    if (!path) {
        const char *home = getenv("HOME");
        if (!home)
            return false;
        snprintf(def, sizeof def, "%s/.netrc", home);
        path = def;
    }
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    static const size_t max = 65536;
    char *text = malloc(max + 1);
    if (!text) {
        fclose(f);
        return false;
    }
    size_t len = fread(text, 1, max, f);
    fclose(f);
    text[len] = '\0';

    const char *p = text;
    char tok[512], login[256] = "", pw[512] = "";
    bool in_entry = false, match = false, found = false;
    while (token(&p, tok, sizeof tok)) {
        bool starts = strcmp(tok, "machine") == 0 || strcmp(tok, "default") == 0;
        if (starts || strcmp(tok, "macdef") == 0) {
            /* The previous entry ends here: take it if it fits. */
            if (in_entry && match && (!user[0] || strcmp(user, login) == 0)) {
                found = true;
                break;
            }
            in_entry = false;
        }
        if (strcmp(tok, "machine") == 0) {
            if (!token(&p, tok, sizeof tok))
                break;
            in_entry = true;
            match = strcasecmp(tok, host) == 0;
            login[0] = pw[0] = '\0';
        } else if (strcmp(tok, "default") == 0) {
            in_entry = true;
            match = true;
            login[0] = pw[0] = '\0';
        } else if (strcmp(tok, "macdef") == 0) {
            /* A macro runs to the next empty line. */
            const char *end = strstr(p, "\n\n");
            p = end ? end + 2 : p + strlen(p);
        } else if (in_entry && strcmp(tok, "login") == 0) {
            if (!token(&p, login, sizeof login))
                break;
        } else if (in_entry && strcmp(tok, "password") == 0) {
            if (!token(&p, pw, sizeof pw))
                break;
        } else if (in_entry && strcmp(tok, "account") == 0) {
            token(&p, tok, sizeof tok);
        }
    }
    if (!found && in_entry && match && (!user[0] || strcmp(user, login) == 0))
        found = true;
    if (found) {
        if (!user[0])
            snprintf(user, ucap, "%s", login);
        snprintf(pass, pcap, "%s", pw);
    }
    explicit_bzero(text, len);
    explicit_bzero(pw, sizeof pw);
    free(text);
    return found;
}
