/* parked.c - connections parked on the serving loop (parked.h). */
#include <stdlib.h>

#include "parked.h"

static void on_closed(uv_handle_t *h)
{
    ss__parked *p = h->data;
    if (--p->open_handles == 0)
        free(p); /* the block of which p is the first member */
}

int ss__park(ss__parked *p, ss__parked **list, uv_loop_t *loop, ss_server *s,
             const ss_request *req, const ss_addr *client)
{
    int rc = uv_poll_init(loop, &p->poll, req->fd);
    if (rc < 0)
        return rc;
    p->poll.data = p;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    p->open_handles = 2;
    p->server = s;
    p->req = *req;
    p->client = *client;
    p->next = *list;
    if (p->next)
        p->next->pprev = &p->next;
    p->pprev = list;
    *list = p;
    return 0;
}

ss_request ss__unpark(ss__parked *p)
{
    ss_request req = p->req;
    *p->pprev = p->next;
    if (p->next)
        p->next->pprev = p->pprev;
    p->next = NULL;
    p->pprev = NULL;
    uv_close((uv_handle_t *)&p->poll, on_closed);
    uv_close((uv_handle_t *)&p->timer, on_closed);
    return req;
}
