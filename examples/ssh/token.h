/* examples/ssh/token.h - the shared secret a session presents first.
 *
 * A token is a line of text kept in a file only its owner can read; the
 * server compares what a client sends with its own copy in constant time, so
 * the time a refusal takes says nothing about how much of a guess was right.
 */
#ifndef SSH_DEMO_TOKEN_H
#define SSH_DEMO_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

/* The longest token accepted, in bytes. */
#define SSH_TOKEN_MAX 1024

/* Reads the token from path into buf (cap bytes, at least SSH_TOKEN_MAX + 1):
 * the file's first line without its line end.  Returns the token's length,
 * or a negative errno with a message in msg (msgcap bytes): -EINVAL for an
 * empty token, -EMSGSIZE for one longer than SSH_TOKEN_MAX.  Thread-safe. */
long ssh_token_read_file(const char *path, char *buf, size_t cap, char *msg,
                         size_t msgcap);

/* Whether a (alen bytes) equals b (blen bytes), in time that depends on
 * neither the contents nor where they differ: both are hashed with SHA-256
 * and the digests compared with CRYPTO_memcmp.  Thread-safe. */
bool ssh_token_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
