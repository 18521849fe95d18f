/* ftp/server/store/guard.c - see guard.h. */
#include "store/guard.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define KEY_MAX 72 /* 'u' + a user name (<= 64), or 'h' + 16 address bytes */

typedef struct entry {
    unsigned char key[KEY_MAX];
    size_t key_len;  /* 0: free */
    unsigned failures;
    double first, last; /* monotonic s of the window's first and last */
    double banned_until;
} entry;

struct ftpd_guard {
    pthread_mutex_t lock;
    unsigned capacity, ban_after;
    /* One past the highest entry in use: every scan stops there, so a
     * connection's ban check costs the keys that failed lately, not the
     * whole table (it runs on the accepting thread, once per connection). */
    unsigned used_end;
    double ban_time;
    size_t map_len;
    entry e[];
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

ftpd_guard *ftpd_guard_create(unsigned capacity, unsigned ban_after,
                              double ban_time)
{
    if (capacity == 0) {
        errno = EINVAL;
        return NULL;
    }
    size_t len = sizeof(ftpd_guard) + (size_t)capacity * sizeof(entry);
    ftpd_guard *g = mmap(NULL, len, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g == MAP_FAILED)
        return NULL;
    /* Fresh anonymous memory reads as zeros; a memset would make all of
     * it resident at start (the scans stop at used_end, so untouched
     * entries stay so). */
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&g->lock, &a);
    pthread_mutexattr_destroy(&a);
    g->capacity = capacity;
    g->ban_after = ban_after;
    g->ban_time = ban_time;
    g->map_len = len;
    return g;
}

void ftpd_guard_destroy(ftpd_guard *g)
{
    if (!g)
        return;
    pthread_mutex_destroy(&g->lock);
    munmap(g, g->map_len);
}

/* The host key: 'h' + the IPv6 (or v4-mapped) address.  Unix peers have
 * none: they are local and not counted by host. */
static size_t host_key(const ss_addr *a, unsigned char *k)
{
    const struct sockaddr *sa = (const struct sockaddr *)&a->sa;
    k[0] = 'h';
    if (sa->sa_family == AF_INET) {
        memset(k + 1, 0, 10);
        k[11] = k[12] = 0xff;
        memcpy(k + 13, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return 17;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(k + 1, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return 17;
    }
    return 0;
}

static size_t user_key(const char *user, unsigned char *k)
{
    size_t n = strnlen(user, KEY_MAX - 1);
    k[0] = 'u';
    memcpy(k + 1, user, n);
    return n + 1;
}

/* Frees e and lowers used_end past the free entries at the top. */
static void forget(ftpd_guard *g, entry *e)
{
    e->key_len = 0;
    while (g->used_end && g->e[g->used_end - 1].key_len == 0)
        g->used_end--;
}

/* The live entry for key, expiring an old window; NULL when none. */
static entry *find(ftpd_guard *g, const unsigned char *k, size_t n, double t)
{
    for (unsigned i = 0; i < g->used_end; i++) {
        entry *e = &g->e[i];
        if (e->key_len != n || memcmp(e->key, k, n))
            continue;
        if (e->banned_until <= t && t - e->last > g->ban_time) {
            forget(g, e);
            return NULL;
        }
        return e;
    }
    return NULL;
}

static entry *find_or_add(ftpd_guard *g, const unsigned char *k, size_t n,
                          double t)
{
    entry *e = find(g, k, n, t);
    if (e)
        return e;
    entry *victim = NULL;
    bool reusable = false;
    for (unsigned i = 0; i < g->used_end; i++) {
        entry *c = &g->e[i];
        bool stale = c->key_len == 0 ||
                     (c->banned_until <= t && t - c->last > g->ban_time);
        if (stale) {
            victim = c;
            reusable = true;
            break;
        }
        /* Full: reuse the entry whose last failure is oldest, bans last. */
        if (!victim || (victim->banned_until > t && c->banned_until <= t) ||
            ((victim->banned_until > t) == (c->banned_until > t) &&
             c->last < victim->last))
            victim = c;
    }
    if (!reusable && g->used_end < g->capacity)
        victim = &g->e[g->used_end++];
    memset(victim, 0, sizeof *victim);
    memcpy(victim->key, k, n);
    victim->key_len = n;
    victim->first = t;
    return victim;
}

static double remaining(ftpd_guard *g, const unsigned char *k, size_t n,
                        double t)
{
    entry *e = find(g, k, n, t);
    return e && e->banned_until > t ? e->banned_until - t : 0;
}

double ftpd_guard_banned(ftpd_guard *g, const ss_addr *client,
                         const char *user)
{
    unsigned char k[KEY_MAX];
    double t = now(), left = 0;
    pthread_mutex_lock(&g->lock);
    size_t n = host_key(client, k);
    if (n)
        left = remaining(g, k, n, t);
    if (user) {
        n = user_key(user, k);
        double u = remaining(g, k, n, t);
        if (u > left)
            left = u;
    }
    pthread_mutex_unlock(&g->lock);
    return left;
}

static unsigned count(ftpd_guard *g, entry *e, double t)
{
    e->failures++;
    e->last = t;
    if (g->ban_after && e->failures >= g->ban_after && e->banned_until <= t) {
        e->banned_until = t + g->ban_time;
    }
    return e->failures;
}

unsigned ftpd_guard_fail(ftpd_guard *g, const ss_addr *client,
                         const char *user)
{
    unsigned char k[KEY_MAX];
    double t = now();
    unsigned most = 1;
    pthread_mutex_lock(&g->lock);
    size_t n = host_key(client, k);
    if (n) {
        unsigned c = count(g, find_or_add(g, k, n, t), t);
        most = c > most ? c : most;
    }
    n = user_key(user ? user : "", k);
    unsigned c = count(g, find_or_add(g, k, n, t), t);
    most = c > most ? c : most;
    pthread_mutex_unlock(&g->lock);
    return most;
}

void ftpd_guard_success(ftpd_guard *g, const char *user)
{
    unsigned char k[KEY_MAX];
    double t = now();
    pthread_mutex_lock(&g->lock);
    size_t n = user_key(user, k);
    entry *e = find(g, k, n, t);
    if (e && e->banned_until <= t)
        forget(g, e);
    pthread_mutex_unlock(&g->lock);
}

unsigned ftpd_guard_bans_active(ftpd_guard *g)
{
    if (!g)
        return 0;
    double t = now();
    unsigned n = 0;
    pthread_mutex_lock(&g->lock);
    for (unsigned i = 0; i < g->used_end; i++)
        if (g->e[i].key_len && g->e[i].banned_until > t)
            n++;
    pthread_mutex_unlock(&g->lock);
    return n;
}
