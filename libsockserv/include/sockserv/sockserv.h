/* sockserv/sockserv.h - the whole public API of libsockserv. */
#ifndef SOCKSERV_SOCKSERV_H
#define SOCKSERV_SOCKSERV_H

#include "activation.h"
#include "address.h"
#include "class.h"
#include "error.h"
#include "event.h"
#include "forking.h"
#include "handler.h"
#include "notify.h"
#include "proxy.h"
#include "server.h"
#include "sockfile.h"
#include "stats.h"
#include "threading.h"
#include "threadpool.h"
#include "tls.h"
#include "upgrade.h"

#endif
