/* ftp/server/store/connlimit.c - see connlimit.h. */
#include "store/connlimit.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

/* One client host: its IPv6 (or v4-mapped) address and live sessions. */
typedef struct host_slot {
    unsigned char ip[16];
    unsigned count;
    unsigned pasv; /* its pending passive listeners */
} host_slot;

/* One user name with logged-in sessions. */
typedef struct user_slot {
    char name[72];
    unsigned count;
} user_slot;

struct ftpd_connlimit {
    pthread_mutex_t lock;
    unsigned max_total, max_per_ip, active, nslots;
    unsigned max_per_user, max_pasv, pasv;
    size_t map_len;
    user_slot *users;  /* nslots of them, after the host slots */
    host_slot slots[]; /* nslots = max_total: at most that many hosts */
};

ftpd_connlimit *ftpd_connlimit_create(unsigned max_total, unsigned max_per_ip)
{
    if (max_total == 0) {
        errno = EINVAL;
        return NULL;
    }
    size_t len = sizeof(ftpd_connlimit) +
                 (size_t)max_total * (sizeof(host_slot) + sizeof(user_slot));
    ftpd_connlimit *cl = mmap(NULL, len, PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (cl == MAP_FAILED)
        return NULL;
    /* Fresh anonymous memory reads as zeros; a memset would make all of
     * it resident at start, not the entries in use. */
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&cl->lock, &a);
    pthread_mutexattr_destroy(&a);
    cl->max_total = max_total;
    cl->max_per_ip = max_per_ip;
    cl->nslots = max_total;
    cl->map_len = len;
    /* The mapping is at the same address in every forked process. */
    cl->users = (user_slot *)&cl->slots[max_total];
    cl->max_pasv = max_total;
    return cl;
}

void ftpd_connlimit_destroy(ftpd_connlimit *cl)
{
    if (!cl)
        return;
    pthread_mutex_destroy(&cl->lock);
    munmap(cl, cl->map_len);
}

/* The host key of an address; false for non-IP peers (unix sockets), which
 * are counted in the total only. */
static bool host_key(const ss_addr *a, unsigned char ip[16])
{
    const struct sockaddr *sa = (const struct sockaddr *)&a->sa;
    if (sa->sa_family == AF_INET) {
        static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0,
                                                 0, 0, 0, 0, 0xff, 0xff};
        memcpy(ip, prefix, 12);
        memcpy(ip + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(ip, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return true;
    }
    return false;
}

int ftpd_connlimit_acquire(ftpd_connlimit *cl, const ss_addr *client)
{
    unsigned char ip[16];
    bool keyed = host_key(client, ip);
    int rc = FTPD_CL_OK;
    pthread_mutex_lock(&cl->lock);
    if (cl->active >= cl->max_total) {
        rc = FTPD_CL_FULL;
    } else if (keyed) {
        host_slot *s = NULL, *free_slot = NULL;
        for (unsigned i = 0; i < cl->nslots; i++) {
            if (cl->slots[i].count == 0) {
                if (!free_slot)
                    free_slot = &cl->slots[i];
            } else if (!memcmp(cl->slots[i].ip, ip, 16)) {
                s = &cl->slots[i];
                break;
            }
        }
        if (!s) {
            s = free_slot; /* exists: fewer hosts than live sessions */
            memcpy(s->ip, ip, 16);
            s->count = 0;
            s->pasv = 0;
        }
        if (cl->max_per_ip && s->count >= cl->max_per_ip)
            rc = FTPD_CL_PER_IP;
        else
            s->count++;
    }
    if (rc == FTPD_CL_OK)
        cl->active++;
    pthread_mutex_unlock(&cl->lock);
    return rc;
}

void ftpd_connlimit_release(ftpd_connlimit *cl, const ss_addr *client)
{
    unsigned char ip[16];
    bool keyed = host_key(client, ip);
    pthread_mutex_lock(&cl->lock);
    if (cl->active)
        cl->active--;
    if (keyed)
        for (unsigned i = 0; i < cl->nslots; i++)
            if (cl->slots[i].count && !memcmp(cl->slots[i].ip, ip, 16)) {
                cl->slots[i].count--;
                break;
            }
    pthread_mutex_unlock(&cl->lock);
}

unsigned ftpd_connlimit_active(ftpd_connlimit *cl)
{
    pthread_mutex_lock(&cl->lock);
    unsigned n = cl->active;
    pthread_mutex_unlock(&cl->lock);
    return n;
}

void ftpd_connlimit_set_user_limit(ftpd_connlimit *cl, unsigned max_per_user)
{
    cl->max_per_user = max_per_user;
}

bool ftpd_connlimit_user_acquire(ftpd_connlimit *cl, const char *user)
{
    bool ok = true;
    pthread_mutex_lock(&cl->lock);
    user_slot *s = NULL, *free_slot = NULL;
    for (unsigned i = 0; i < cl->nslots; i++) {
        if (cl->users[i].count == 0) {
            if (!free_slot)
                free_slot = &cl->users[i];
        } else if (!strncmp(cl->users[i].name, user, sizeof s->name)) {
            s = &cl->users[i];
            break;
        }
    }
    if (!s) {
        s = free_slot; /* exists: one slot per possible session */
        if (s) {
            strncpy(s->name, user, sizeof s->name - 1);
            s->name[sizeof s->name - 1] = '\0';
            s->count = 0;
        }
    }
    if (!s || (cl->max_per_user && s->count >= cl->max_per_user))
        ok = false;
    else
        s->count++;
    pthread_mutex_unlock(&cl->lock);
    return ok;
}

void ftpd_connlimit_user_release(ftpd_connlimit *cl, const char *user)
{
    pthread_mutex_lock(&cl->lock);
    for (unsigned i = 0; i < cl->nslots; i++)
        if (cl->users[i].count &&
            !strncmp(cl->users[i].name, user, sizeof cl->users[i].name)) {
            cl->users[i].count--;
            break;
        }
    pthread_mutex_unlock(&cl->lock);
}

void ftpd_connlimit_set_pasv_limit(ftpd_connlimit *cl, unsigned max_pasv)
{
    cl->max_pasv = max_pasv;
}

/* The slot of a host with live sessions, or NULL.  Called locked. */
static host_slot *live_host(ftpd_connlimit *cl, const ss_addr *client)
{
    unsigned char ip[16];
    if (!client || !host_key(client, ip))
        return NULL;
    for (unsigned i = 0; i < cl->nslots; i++)
        if (cl->slots[i].count && !memcmp(cl->slots[i].ip, ip, 16))
            return &cl->slots[i];
    return NULL;
}

bool ftpd_connlimit_pasv_acquire(ftpd_connlimit *cl, const ss_addr *client)
{
    pthread_mutex_lock(&cl->lock);
    host_slot *h = live_host(cl, client);
    unsigned per_host = cl->max_pasv > 1 ? cl->max_pasv / 2 : 1;
    bool ok = cl->pasv < cl->max_pasv && (!h || h->pasv < per_host);
    if (ok) {
        cl->pasv++;
        if (h)
            h->pasv++;
    }
    pthread_mutex_unlock(&cl->lock);
    return ok;
}

void ftpd_connlimit_pasv_release(ftpd_connlimit *cl, const ss_addr *client)
{
    pthread_mutex_lock(&cl->lock);
    if (cl->pasv)
        cl->pasv--;
    host_slot *h = live_host(cl, client);
    if (h && h->pasv)
        h->pasv--;
    pthread_mutex_unlock(&cl->lock);
}
