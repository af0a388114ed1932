/*
 * status.c — the status-code table (names, messages, errno mapping) and
 * errors with machine-readable reasons. Design: docs/base.md.
 */
#include "gosr/base.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *gosr_strerror(int status)
{
    switch (status) {
#define GOSR__MSG(name, value, msg)                                            \
    case value:                                                                \
        return msg;
        GOSR_STATUS_MAP(GOSR__MSG)
#undef GOSR__MSG
    }
    return "unknown status";
}

const char *gosr_status_name(int status)
{
    switch (status) {
#define GOSR__NAME(name, value, msg)                                           \
    case value:                                                                \
        return #name;
        GOSR_STATUS_MAP(GOSR__NAME)
#undef GOSR__NAME
    }
    return "UNKNOWN";
}

gosr_status gosr_status_from_errno(int err)
{
    switch (err) {
    case 0: return GOSR_OK;
    case ENOMEM: return GOSR_ENOMEM;
    case ENOENT: return GOSR_ENOENT;
    case EEXIST: return GOSR_EEXIST;
    case ENOSPC:
    case EDQUOT: return GOSR_ENOSPC;
    case EACCES:
    case EPERM: return GOSR_EDENIED;
    case EINVAL: return GOSR_EINVAL;
    case EAGAIN: return GOSR_EAGAIN;
    case ETIMEDOUT: return GOSR_ETIMEOUT;
    case EBUSY: return GOSR_EBUSY;
    case EFBIG: return GOSR_ETOOBIG;
    default: return GOSR_EIO;
    }
}

void gosr_error_clear(gosr_error *err)
{
    if (!err)
        return;
    err->status = GOSR_OK;
    err->reason[0] = '\0';
    err->detail[0] = '\0';
}

static int error_vset(gosr_error *err, int status, const char *reason,
                      const char *fmt, va_list ap)
{
    if (!err)
        return status;
    err->status = status;
    snprintf(err->reason, sizeof err->reason, "%s", reason ? reason : "");
    if (fmt)
        vsnprintf(err->detail, sizeof err->detail, fmt, ap);
    else
        snprintf(err->detail, sizeof err->detail, "%s", gosr_strerror(status));
    return status;
}

int gosr_error_set(gosr_error *err, int status, const char *reason,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vset(err, status, reason, fmt, ap);
    va_end(ap);
    return status;
}

int gosr_error_wrap(gosr_error *err, int status, const char *reason,
                    const char *fmt, ...)
{
    if (err && err->reason[0] != '\0') {
        err->status = status;
        return status;
    }
    va_list ap;
    va_start(ap, fmt);
    error_vset(err, status, reason, fmt, ap);
    va_end(ap);
    return status;
}
