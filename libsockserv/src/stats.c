/* stats.c - a server's live figures (sockserv/stats.h): one block of
 * relaxed atomic counters per server, in a MAP_SHARED anonymous mapping so
 * that ForkingMixIn children count into the parent's figures. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include <sockserv/stats.h>

#include "internal.h"

int ss__stats_create(ss_server *s)
{
    /* Made before any fork (ss_server_init), so every child shares it. */
    void *m = mmap(NULL, sizeof(struct ss_stats_block), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -errno;
    s->priv->stats = m; /* zero-filled by mmap */
    return 0;
}

void ss__stats_destroy(ss_server *s)
{
    if (s->priv->stats)
        munmap(s->priv->stats, sizeof(struct ss_stats_block));
    s->priv->stats = NULL;
}

void ss__stats_tls_handshake(ss_server *s, bool ok)
{
    if (!s || !s->priv || !s->priv->stats) /* a handler run by hand */
        return;
    ss__count(s, ok ? SS__TLS_OK : SS__TLS_FAILED, 1);
}

static uint64_t get(const struct ss_stats_block *b, enum ss__stat k)
{
    return atomic_load_explicit(&b->c[k].n, memory_order_relaxed);
}

int ss_server_stats(const ss_server *s, ss_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!s->priv || !s->priv->stats)
        return -EBADF;
    const struct ss_stats_block *b = s->priv->stats;
    out->accepted = get(b, SS__ACCEPTED);
    out->refused_verify = get(b, SS__REFUSED_VERIFY);
    out->refused_limit = get(b, SS__REFUSED_LIMIT);
    out->refused_proxy = get(b, SS__REFUSED_PROXY);
    out->finished = get(b, SS__FINISHED);
    out->handler_errors = get(b, SS__HANDLER_ERRORS);
    out->bytes_in = get(b, SS__BYTES_IN);
    out->bytes_out = get(b, SS__BYTES_OUT);
    out->tls_handshakes_ok = get(b, SS__TLS_OK);
    out->tls_handshakes_failed = get(b, SS__TLS_FAILED);
    /* Gauges go up and down by unsigned wrap-around: read as signed, a
     * reader racing a decrement never shows 2^64 - 1. */
    int64_t active = (int64_t)get(b, SS__ACTIVE);
    int64_t queued = (int64_t)get(b, SS__POOL_QUEUED);
    out->active = active > 0 ? (uint64_t)active : 0;
    out->pool_queued = queued > 0 ? (uint64_t)queued : 0;
    return 0;
}
