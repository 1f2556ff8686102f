/*
 * status.c - status names and the mlc_error helpers. Messages are truncated
 * to MLC_ERROR_MAX-1 bytes, never overflowed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static const char *const status_names[] = {
    "ok",           "invalid argument", "bad model",      "unsupported",    "bad image",
    "bad workflow", "out of memory",    "limit exceeded", "i/o error",      "not found",
    "unauthorized", "network error",    "bad json",       "internal error", "busy",
};
_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == MLC_STATUS_COUNT,
               "status_names must list every mlc_status");

const char *mlc_status_str(mlc_status st)
{
    if ((unsigned)st >= MLC_STATUS_COUNT) return "unknown status";
    return status_names[st];
}

mlc_status core_err(mlc_error *err, mlc_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->status = st;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return st;
}

mlc_status core_err_prefix(mlc_error *err, const char *fmt, ...)
{
    if (!err) return MLC_STATUS_INTERNAL;
    char old[MLC_ERROR_MAX];
    memcpy(old, err->message, sizeof old);
    old[sizeof old - 1] = '\0';
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    /* The old message is cut to what fits: the prefix names the outer context,
     * which matters more than the tail of the inner one. Using snprintf's result
     * tells gcc the truncation is intended. */
    if (k >= 0 && (size_t)k < sizeof err->message) {
        int n = snprintf(err->message + k, sizeof err->message - (size_t)k, ": %s", old);
        (void)n;
    }
    return err->status;
}

void core_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "mlc: internal assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
