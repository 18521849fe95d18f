/* sockserv/error.h - error codes and the error record every call fills.
 *
 * Every libsockserv call that can fail returns 0 (or a count) on success and a
 * negative code on failure: -errno for system errors (-EADDRINUSE), or one of
 * the SS_E* codes below for errors of the library's own.  Where a caller needs
 * more than a code, the call also fills an ss_error with a message it can show
 * as it is ("bind 127.0.0.1:21: Address already in use").
 */
#ifndef SOCKSERV_ERROR_H
#define SOCKSERV_ERROR_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SS_ERRMSG_MAX 256

/* Library error codes, below -4000 so they never meet an errno. */
enum {
    SS_EEXIT = -4001,   /* a handler asks the server to stop (Python's SystemExit) */
    SS_EPROTO = -4002,  /* the peer broke the protocol */
    SS_ETLS = -4003,    /* TLS failure; the message carries OpenSSL's reason */
    SS_ECLOSED = -4004, /* the peer closed the connection before it should have */
    SS_EFULL = -4005,   /* a bounded queue or buffer is full */
};

/* What went wrong, for handle_error() and for the caller.
 * code:  0, -errno or SS_E*.
 * fatal: Python's BaseException: a fatal error is not given to handle_error()
 *        and stops serve_forever() (sync servers) after the request is shut
 *        down.  Set it with ss_error_fatal(). */
typedef struct ss_error {
    int code;
    bool fatal;
    char msg[SS_ERRMSG_MAX];
} ss_error;

/* Static text for a code ("Address already in use", "handler asked to exit").
 * Thread-safe; never NULL. */
const char *ss_strerror(int code);

/* Clears *err (err may be NULL).  Thread-safe on distinct records. */
void ss_error_clear(ss_error *err);

/* Records code and a printf-style message in *err (err may be NULL) and
 * returns code, so a failing path can `return ss_error_set(err, ...)`.
 * The message is truncated to SS_ERRMSG_MAX-1 bytes. */
int ss_error_set(ss_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like ss_error_set() with code = -errno (errno read on entry) and the
 * message "<fmt>: <strerror(errno)>". */
int ss_error_errno(ss_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Marks the error fatal and returns its code (SS_EEXIT when it had none):
 * `return ss_error_fatal(err);` from handle() stops a sync server. */
int ss_error_fatal(ss_error *err);

#ifdef __cplusplus
}
#endif
#endif
