/* examples/ssh/env.h - a session's environment: NAME=VALUE strings.
 *
 * Each session starts from a copy of the server's environment and changes
 * it with `export`; commands get it as their envp.  Bounded: at most
 * SSH_ENV_MAX variables, so a client cannot grow it without limit.
 */
#ifndef SSH_DEMO_ENV_H
#define SSH_DEMO_ENV_H

#include <stdbool.h>
#include <stddef.h>

#define SSH_ENV_MAX 1024

typedef struct ssh_env {
    char **vars; /* NULL-terminated, owned */
    size_t n;
} ssh_env;

/* Copies envp, leaving out TERM (commands have no terminal, and programs
 * that see TERM assume one) and SSH_DEMO_TOKEN (a secret of the server's).
 * 0 or -ENOMEM. */
int ssh_env_init(ssh_env *e, char *const *envp);
void ssh_env_close(ssh_env *e);

/* Whether name is a shell variable name: [A-Za-z_][A-Za-z0-9_]*. */
bool ssh_env_valid_name(const char *name, size_t len);

/* Sets name (len bytes, must be valid) to value.  0, -ENOMEM, or -ENOSPC
 * when SSH_ENV_MAX variables are already set. */
int ssh_env_set(ssh_env *e, const char *name, size_t len, const char *value);

/* The value of name, or NULL. */
const char *ssh_env_get(const ssh_env *e, const char *name);

/* The NULL-terminated array for execve (borrowed until the next change). */
static inline char *const *ssh_env_array(const ssh_env *e)
{
    return e->vars;
}

#endif
