/*
 * arena.c - bump allocation for per-request, per-graph and per-run
 * lifetimes. Blocks double in size; reset keeps the first block so a session
 * that serves many requests stops allocating after the first.
 */
#include <string.h>

#include "core.h"

struct core_arena_block {
    struct core_arena_block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void core_arena_init(struct core_arena *a, size_t cap)
{
    a->head = NULL;
    a->used_total = 0;
    a->cap = cap;
}

void *core_arena_alloc(struct core_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    if (a->cap && (n > a->cap || a->used_total > a->cap - n)) return NULL;
    struct core_arena_block *b = a->head;
    if (!b || b->size - b->used < n) {
        size_t size = b ? b->size * 2 : 4096;
        while (size < n) size *= 2;
        struct core_arena_block *nb = mlc_alloc(sizeof *nb + size);
        if (!nb) return NULL;
        nb->next = b;
        nb->size = size;
        nb->used = 0;
        a->head = b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    a->used_total += n;
    memset(p, 0, n);
    return p;
}

char *core_arena_strdup(struct core_arena *a, const char *s)
{
    size_t n = strlen(s);
    char *d = core_arena_alloc(a, n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

void core_arena_reset(struct core_arena *a)
{
    struct core_arena_block *b = a->head;
    if (!b) return;
    /* Keep the largest (newest) block, free the rest. */
    struct core_arena_block *rest = b->next;
    while (rest) {
        struct core_arena_block *n = rest->next;
        mlc_free(rest);
        rest = n;
    }
    b->next = NULL;
    b->used = 0;
    a->used_total = 0;
}

void core_arena_free(struct core_arena *a)
{
    struct core_arena_block *b = a->head;
    while (b) {
        struct core_arena_block *n = b->next;
        mlc_free(b);
        b = n;
    }
    a->head = NULL;
    a->used_total = 0;
}
