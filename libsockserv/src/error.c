/* error.c - error codes as text, and filling ss_error records. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sockserv/error.h>

#include "internal.h"

const char *ss_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
    case SS_EEXIT:
        return "handler asked the server to stop";
    case SS_EPROTO:
        return "protocol error";
    case SS_ETLS:
        return "TLS error";
    case SS_ECLOSED:
        return "connection closed by peer";
    case SS_EFULL:
        return "queue full";
    default:
        break;
    }
    if (code < 0 && code > -4000)
        return strerror(-code); /* glibc's table is static and thread-safe */
    return "unknown error";
}

void ss_error_clear(ss_error *err)
{
    if (!err)
        return;
    err->code = 0;
    err->fatal = false;
    err->msg[0] = '\0';
}

static int vset(ss_error *err, int code, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return code;
}

int ss_error_set(ss_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int ss_error_errno(ss_error *err, const char *fmt, ...)
{
    int code = -errno;
    if (code == 0)
        code = -EIO;
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, fmt, ap);
    va_end(ap);
    size_t len = strlen(err->msg);
    snprintf(err->msg + len, sizeof err->msg - len, ": %s", ss_strerror(code));
    return code;
}

int ss_error_fatal(ss_error *err)
{
    if (!err)
        return SS_EEXIT;
    if (err->code == 0) {
        err->code = SS_EEXIT;
        if (!err->msg[0])
            snprintf(err->msg, sizeof err->msg, "%s", ss_strerror(SS_EEXIT));
    }
    err->fatal = true;
    return err->code;
}

void ss__error_default(ss_error *err, int code, const char *what)
{
    if (!err)
        return;
    if (err->code == 0)
        err->code = code;
    if (!err->msg[0])
        snprintf(err->msg, sizeof err->msg, "%s: %s", what,
                 ss_strerror(err->code));
}
