/*
 * alloc.c - the one door all mlc memory goes through. It counts live bytes
 * (a size header precedes each block) and can be told to fail the Nth
 * allocation so tests can walk every out-of-memory path. The allocator is
 * process-wide configuration, set before use, like sqlite3_config.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core.h"

static void *libc_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n); /* checksrc: ok (the door itself) */
}
static void *libc_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    return realloc(p, n); /* checksrc: ok (the door itself) */
}
static void libc_free(void *ctx, void *p)
{
    (void)ctx;
    free(p); /* checksrc: ok (the door itself) */
}

static mlc_allocator g_alloc = {NULL, libc_alloc, libc_realloc, libc_free};
static atomic_size_t g_live;
static atomic_long g_fail_after;

/* 16 bytes keep the payload aligned for SIMD loads of floats. */
#define HDR 16

void mlc_set_allocator(const mlc_allocator *a)
{
    if (a && a->alloc && a->realloc && a->free)
        g_alloc = *a;
    else
        g_alloc = (mlc_allocator){NULL, libc_alloc, libc_realloc, libc_free};
}

size_t core_alloc_size(const void *p)
{
    size_t n;
    memcpy(&n, (const unsigned char *)p - HDR, sizeof n);
    return n;
}

size_t core_alloc_live_bytes(void)
{
    return atomic_load(&g_live);
}

void core_alloc_fail_after(long n)
{
    atomic_store(&g_fail_after, n);
}

static int should_fail(void)
{
    long n = atomic_load(&g_fail_after);
    if (n <= 0) return 0;
    return atomic_fetch_sub(&g_fail_after, 1) == 1;
}

void *mlc_alloc(size_t n)
{
    if (n > SIZE_MAX - HDR || should_fail()) return NULL;
    unsigned char *p = g_alloc.alloc(g_alloc.ctx, n + HDR);
    if (!p) return NULL;
    memcpy(p, &n, sizeof n);
    atomic_fetch_add(&g_live, n);
    return p + HDR;
}

void *mlc_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) return NULL;
    void *p = mlc_alloc(count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

void *mlc_realloc(void *p, size_t n)
{
    if (!p) return mlc_alloc(n);
    if (n > SIZE_MAX - HDR || should_fail()) return NULL;
    unsigned char *base = (unsigned char *)p - HDR;
    size_t old;
    memcpy(&old, base, sizeof old);
    unsigned char *q = g_alloc.realloc(g_alloc.ctx, base, n + HDR);
    if (!q) return NULL;
    memcpy(q, &n, sizeof n);
    atomic_fetch_sub(&g_live, old);
    atomic_fetch_add(&g_live, n);
    return q + HDR;
}

void mlc_free(void *p)
{
    if (!p) return;
    unsigned char *base = (unsigned char *)p - HDR;
    size_t old;
    memcpy(&old, base, sizeof old);
    atomic_fetch_sub(&g_live, old);
    g_alloc.free(g_alloc.ctx, base);
}

void core_libc_free(void *p)
{
    free(p); /* checksrc: ok (third-party buffers) */
}

int core_grow_array(void **p, int *cap, int need, size_t elem)
{
    if (need <= *cap) return 0;
    if (need < 0 || need > INT_MAX / 2) return -1;
    int nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    if (elem && (size_t)nc > SIZE_MAX / elem) return -1;
    void *q = mlc_realloc(*p, (size_t)nc * elem);
    if (!q) return -1;
    memset((char *)q + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *p = q;
    *cap = nc;
    return 0;
}

char *core_strndup(const char *s, size_t n)
{
    char *d = mlc_alloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *core_strdup(const char *s)
{
    return s ? core_strndup(s, strlen(s)) : NULL;
}

char *core_sprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0) return NULL;
    char *s = mlc_alloc((size_t)k + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)k + 1, fmt, ap);
    va_end(ap);
    return s;
}

#ifdef MADV_POPULATE_WRITE
struct populate_part {
    uintptr_t b, e;
};

static void *populate_part(void *arg)
{
    const struct populate_part *q = arg;
    (void)madvise((void *)q->b, q->e - q->b, MADV_POPULATE_WRITE);
    return NULL;
}
#endif

/* Populates [p, p + n) in one call instead of a page fault per 4 KiB page
 * (page faults were most of a load in these VMs). Split in parts for big
 * buffers: the kernel populates the parts of one mapping in parallel, and
 * two threads take about 0.55 of one's time (128 MB: 17 against 30 ms on a
 * 2-core Xeon VM, `mlc_micro_mem`). No MADV_HUGEPAGE: the kernel then takes
 * fresh 2 MiB blocks, which in this VM cost about 12x more per MB to touch
 * the first time than the recycled 4 KiB pages it hands out otherwise (84
 * against 7 ms for 32 MB), and made first runs 30-60% slower for no
 * measurable gain in later ones (docs/PERFORMANCE.md). */
/* The whole 4 KiB pages inside [p, p + n): [*b, *e), 0 when there are none. */
static int whole_pages(const void *p, size_t n, uintptr_t *b, uintptr_t *e)
{
    const uintptr_t page = 4096;
    *b = ((uintptr_t)p + page - 1) & ~(page - 1);
    *e = ((uintptr_t)p + n) & ~(page - 1);
    return p && *e > *b;
}

void core_prefault(void *p, size_t n, int threads)
{
    const uintptr_t small = 4096;
    if (!p || n < ((size_t)256 << 10)) return;
#ifdef MADV_POPULATE_WRITE
    enum { MAX_PARTS = 4 };
    uintptr_t pb, pe;
    if (!whole_pages(p, n, &pb, &pe)) return;
    int parts = threads < 1 ? 1 : threads > MAX_PARTS ? MAX_PARTS : threads;
    if (pe - pb < ((uintptr_t)1 << 20)) parts = 1;
    struct populate_part q[MAX_PARTS];
    pthread_t th[MAX_PARTS];
    int started[MAX_PARTS] = {0};
    uintptr_t step = ((pe - pb) / (uintptr_t)parts) & ~(small - 1);
    for (int i = 0; i < parts; i++) {
        q[i].b = pb + step * (uintptr_t)i;
        q[i].e = i == parts - 1 ? pe : q[i].b + step;
    }
    /* A helper that cannot start leaves its part to this thread. */
    for (int i = 1; i < parts; i++)
        started[i] = !pthread_create(&th[i], NULL, populate_part, &q[i]);
    populate_part(&q[0]);
    for (int i = 1; i < parts; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            populate_part(&q[i]);
    }
#endif
}

void core_drop_pages(void *p, size_t n)
{
    uintptr_t b, e;
    if (whole_pages(p, n, &b, &e)) (void)madvise((void *)b, e - b, MADV_DONTNEED);
}
