/*
 * buf.c - growable byte buffers with a hard maximum, and the mlc_limits
 * defaults. Growth past `max` is MLC_STATUS_LIMIT, never a crash.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"

void mlc_limits_default(mlc_limits *out)
{
    out->max_input_bytes = (size_t)256 << 20;
    out->max_image_pixels = 100000000u;
    out->max_url_bytes = (size_t)64 << 20;
    out->url_timeout_ms = 15000;
    out->max_json_depth = 64;
    out->max_batch = 256;
}

void core_buf_init(struct core_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max ? max : (size_t)1 << 30;
}

static mlc_status grow(struct core_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra) return MLC_STATUS_LIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return MLC_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    if (cap > b->max + 1) cap = b->max + 1;
    char *d = mlc_realloc(b->data, cap);
    if (!d) return MLC_STATUS_NO_MEMORY;
    b->data = d;
    b->cap = cap;
    return MLC_OK;
}

mlc_status core_buf_append(struct core_buf *b, const void *p, size_t n)
{
    mlc_status st = grow(b, n);
    if (st) return st;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return MLC_OK;
}

mlc_status core_buf_printf(struct core_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0) return MLC_STATUS_INTERNAL;
    mlc_status st = grow(b, (size_t)k);
    if (st) return st;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)k;
    return MLC_OK;
}

char *core_buf_take(struct core_buf *b)
{
    if (!b->data && grow(b, 0) != MLC_OK) return NULL;
    char *d = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

void core_buf_free(struct core_buf *b)
{
    mlc_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
