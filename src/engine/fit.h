/*
 * fit.h - first-fit placement of a block among blocks alive at the same
 * time, shared by the engine's two memory planners: the plan's workspace
 * (net.c, step by step) and a oneDNN region's pool (dnnl/region.c, by
 * lifetime once every buffer is known).
 *
 * Not here: which blocks are alive together (each planner knows).
 */
#ifndef MLC_ENGINE_FIT_H
#define MLC_ENGINE_FIT_H

#include <stddef.h>

struct eng_span {
    size_t off, size;
    int tag; /* the planner's: last use (net.c), buffer index (region.c) */
};

/* The lowest offset, a multiple of align, where size bytes overlap none of
 * live[0..n) (sorted by offset); *pos: where a span there goes in live. */
static inline size_t eng_first_fit(const struct eng_span *live, int n, size_t size, size_t align,
                                   int *pos)
{
    size_t off = 0;
    int k = 0;
    for (; k < n; k++) {
        if (live[k].off >= off + size) break;
        size_t end = live[k].off + live[k].size;
        if (end > off) off = (end + align - 1) / align * align;
    }
    *pos = k;
    return off;
}

#endif
