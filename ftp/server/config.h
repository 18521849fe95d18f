/* ftp/server/config.h - the server's settings: defaults, the `key = value`
 * config file and the command-line flags that override it.
 *
 * Every error is one line the caller prints as it is, naming the file and
 * line ("ftpd.conf:7: unknown key 'listne'"), and means exit status 2.
 */
#ifndef FTPD_CONFIG_H
#define FTPD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sockserv/proxy.h>

#define FTPD_MAX_LISTEN 16
#define FTPD_PATH_MAX 4096
#define FTPD_CONFIG_ERR_MAX 512

typedef enum { FTPD_THREADING = 0, FTPD_FORKING = 1 } ftpd_concurrency;

/* require_tls: AUTO means yes on a listener whose address is not loopback
 * (nor a unix socket). */
typedef enum { FTPD_TLS_REQ_AUTO = 0, FTPD_TLS_REQ_NO, FTPD_TLS_REQ_YES }
    ftpd_tls_req;

typedef struct ftpd_config {
    char listen[FTPD_MAX_LISTEN][256]; /* "127.0.0.1:2121", "[::1]:0", "unix:/p" */
    size_t nlisten;
    char listen_implicit[FTPD_MAX_LISTEN][256]; /* implicit FTPS listeners */
    size_t nlisten_implicit;
    char data_dir[FTPD_PATH_MAX];
    char users_file[FTPD_PATH_MAX]; /* "" = <data_dir>/users */
    ftpd_concurrency concurrency;
    unsigned max_sessions;        /* all listeners together; 421 past it */
    unsigned max_sessions_per_ip; /* 0: no limit */
    double idle_timeout;          /* s without a command: 421 and close */
    double data_timeout;          /* s to open a data connection or to see
                                     progress on it */
    double grace_period;          /* s SIGTERM lets transfers finish */
    unsigned pasv_min, pasv_max;  /* 0-0: any port the kernel picks */
    char masquerade_address[64];  /* IPv4 announced by PASV; "" = local */
    char banner[256];
    char log_file[FTPD_PATH_MAX];     /* "" = stderr */
    char xferlog_file[FTPD_PATH_MAX]; /* "" = the log */
    size_t max_line;              /* longest command line, CRLF included */
    unsigned max_login_failures;  /* disconnect after this many */
    double login_fail_delay;      /* s; doubles with every failure */
    uint64_t hash_max_size;       /* largest range HASH/X* digest; 0: none */
    uint64_t demo_quota;          /* the first-run `demo` user's quota */
    uint64_t max_upload_rate;     /* bytes/s per user, for users without
                                     their own; 0: no limit */
    uint64_t max_download_rate;

    /* FTPS (RFC 4217) */
    bool tls;                     /* AUTH TLS offered (and implicit allowed) */
    char tls_cert_file[FTPD_PATH_MAX]; /* "" = DATA_DIR/tls/cert.pem, made */
    char tls_key_file[FTPD_PATH_MAX];  /*      on first run when missing */
    ftpd_tls_req require_tls;     /* USER/PASS only after AUTH, PROT P */
    bool require_tls_reuse;       /* data channels resume the control's
                                     TLS session */
    double tls_handshake_timeout; /* s, any TLS handshake */

    /* hardening */
    unsigned max_sessions_per_user;  /* 0: no limit */
    unsigned max_pasv_listeners;     /* pending PASV/EPSV listeners, all
                                        sessions together */
    double line_timeout;             /* s from a line's first byte to its end */
    unsigned ban_after_failures;     /* per client host or user name */
    double ban_time;                 /* s a ban lasts; failures older than
                                        this are forgotten */
    double login_fail_delay_max;     /* s, cap of the growing delay */
    char run_as[64];                 /* user to become after binding */

    /* monitoring */
    char metrics_listen[256];        /* Prometheus page; "" = off */

    /* behind a load balancer: the PROXY protocol on the control
     * listeners (doc/ftpd.md); proxy holds the trusted networks and the
     * header timeout */
    bool proxy_protocol;
    ss_proxy_config proxy;

    /* the store (store/store.h): "" = the users file and shared memory;
     * postgresql://... = a database shared by the nodes of a cluster */
    char database_url[1024];
    char node_id[128];               /* "" = <hostname>:<pid> */
    /* the database store: connections per process, the bound on each
     * connect and statement, and how long a silent node keeps its
     * sessions and reservations */
    unsigned database_pool_size;
    double database_timeout;         /* s */
    double node_timeout;             /* s */
} ftpd_config;

/* Fills *c with the defaults (127.0.0.1:2121 is added by
 * ftpd_config_finish() when no listener was given). */
void ftpd_config_defaults(ftpd_config *c);

/* Reads `key = value` lines from path into *c ('#' starts a comment, blank
 * lines are skipped, `listen` may repeat).  Returns 0, or -1 with a
 * "FILE:LINE: message" in err (errcap bytes). */
int ftpd_config_load(ftpd_config *c, const char *path, char *err,
                     size_t errcap);

/* Sets one key from text; where names the origin for messages ("--listen",
 * "ftpd.conf:3").  Returns 0 or -1 with the message in err. */
int ftpd_config_set(ftpd_config *c, const char *key, const char *value,
                    const char *where, char *err, size_t errcap);

/* Fills derived values (default listener, users file path) and checks the
 * whole: 0 or -1 with a message. */
int ftpd_config_finish(ftpd_config *c, char *err, size_t errcap);

/* Parses "123", "10K", "100M", "2G", "1T" (powers of 1024, "KiB" etc. also
 * accepted) into *out.  0 or -1. */
int ftpd_config_parse_size(const char *text, uint64_t *out);

#endif
