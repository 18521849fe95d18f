/* examples/ssh/env.c - see env.h. */
#include "env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool starts_with_name(const char *var, const char *name, size_t len)
{
    return strncmp(var, name, len) == 0 && var[len] == '=';
}

int ssh_env_init(ssh_env *e, char *const *envp)
{
    e->n = 0;
    e->vars = calloc(SSH_ENV_MAX + 1, sizeof *e->vars);
    if (!e->vars)
        return -ENOMEM;
    for (size_t i = 0; envp && envp[i] && e->n < SSH_ENV_MAX; i++) {
        if (starts_with_name(envp[i], "TERM", 4) ||
            starts_with_name(envp[i], "SSH_DEMO_TOKEN", 14))
            continue;
        if (!(e->vars[e->n] = strdup(envp[i]))) {
            ssh_env_close(e);
            return -ENOMEM;
        }
        e->n++;
    }
    return 0;
}

void ssh_env_close(ssh_env *e)
{
    if (!e->vars)
        return;
    for (size_t i = 0; i < e->n; i++)
        free(e->vars[i]);
    free(e->vars);
    e->vars = NULL;
    e->n = 0;
}

bool ssh_env_valid_name(const char *name, size_t len)
{
    if (len == 0 || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        if (!(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9')))
            return false;
    }
    return true;
}

int ssh_env_set(ssh_env *e, const char *name, size_t len, const char *value)
{
    size_t vlen = strlen(value);
    char *var = malloc(len + 1 + vlen + 1);
    if (!var)
        return -ENOMEM;
    memcpy(var, name, len);
    var[len] = '=';
    memcpy(var + len + 1, value, vlen + 1);
    for (size_t i = 0; i < e->n; i++)
        if (starts_with_name(e->vars[i], name, len)) {
            free(e->vars[i]);
            e->vars[i] = var;
            return 0;
        }
    if (e->n >= SSH_ENV_MAX) {
        free(var);
        return -ENOSPC;
    }
    e->vars[e->n++] = var;
    e->vars[e->n] = NULL;
    return 0;
}

const char *ssh_env_get(const ssh_env *e, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < e->n; i++)
        if (starts_with_name(e->vars[i], name, len))
            return e->vars[i] + len + 1;
    return NULL;
}
