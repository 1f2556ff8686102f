/*
 * adapt.c - picks, run by run, how many of a region's mid-sized ops run on
 * one thread (see dn.h, struct dn_adapt).
 *
 * Why: every oneDNN primitive run on 2 threads wakes the OpenMP worker and
 * meets it at a barrier. On an idle machine that costs a few microseconds and
 * ops from ~1 M multiply-adds up gain from the second thread; when another
 * process holds one of the two cores, the same barrier waits for a
 * descheduled thread (milliseconds), and ops up to ~16 M multiply-adds are
 * faster alone. Measured here both ways (docs/PERFORMANCE.md): a fixed cut at
 * 1 M was 1.5x faster than 16 M on efficientnet_b0 when idle and 2-3x slower
 * under load. So the region times itself and lets the machine decide.
 *
 * The levels (region.c): 0 runs only the small ops (< lo) on one thread, 1
 * also the mid-sized ones (< hi), 2 everything (best when the other core is
 * taken: a 2-thread run then waits for a thread that does not run). This
 * file sees only indices 0..n_levels-1 of the levels that differ for a
 * region. The first runs climb from level 0 while the next level is faster
 * (the first run at each level is not counted: it is cold, or makes
 * primitives); then the level with the lowest recent time (minimum of its
 * last DN_ADAPT_KEEP samples: noise only ever adds time) is used, and every
 * DN_ADAPT_EXPLORE-th run tries a neighbouring level, so a change of load is
 * noticed within a few dozen runs.
 *
 * Pure bookkeeping: no clock, no oneDNN (region.c times the runs), so the
 * tests can drive it with made-up times. One per session: not thread-safe.
 */
#include <string.h>

#include "engine/dnnl/dn.h"

#define DN_ADAPT_EXPLORE 16

void dn_adapt_init(struct dn_adapt *a, int n_levels, int pinned)
{
    memset(a, 0, sizeof *a);
    a->n_levels = n_levels < 1 ? 1 : n_levels > DN_ADAPT_LEVELS ? DN_ADAPT_LEVELS : n_levels;
    a->pinned = pinned < 0 ? -1 : pinned >= a->n_levels ? a->n_levels - 1 : pinned;
}

static double level_time(const struct dn_adapt *a, int l)
{
    double m = 0;
    int n = a->n[l] < DN_ADAPT_KEEP ? a->n[l] : DN_ADAPT_KEEP;
    for (int i = 0; i < n; i++)
        if (i == 0 || a->t[l][i] < m) m = a->t[l][i];
    return m;
}

static int best_level(const struct dn_adapt *a)
{
    int l = -1;
    for (int k = 0; k < a->n_levels; k++)
        if (a->n[k] && (l < 0 || level_time(a, k) < level_time(a, l))) l = k;
    return l < 0 ? 0 : l;
}

int dn_adapt_pick(struct dn_adapt *a)
{
    unsigned r = a->runs++;
    if (a->pinned >= 0) return a->cur = a->pinned;
    if (a->n_levels == 1) return a->cur = 0;
    /* Warm-up, a climb: level 0, then each next level while it beats the
     * one below by 10% (time is unimodal in the level: if running the
     * mid-sized ops alone did not pay, running everything alone will not
     * either; the margin keeps one noisy sample from climbing). So on an
     * idle machine one timed run goes to level 1 and none to 2. */
    while (!a->climbed) {
        int l = a->top;
        if (a->n[l] < 1) return a->cur = l;
        if ((l > 0 && level_time(a, l) >= 0.9 * level_time(a, l - 1)) || l + 1 == a->n_levels)
            a->climbed = 1;
        else
            a->top = l + 1;
    }
    int b = best_level(a);
    a->best = b;
    /* Then the best, and every DN_ADAPT_EXPLORE-th run a neighbour of it
     * (below and above in turn): load comes and goes. */
    if (r % DN_ADAPT_EXPLORE == 0) {
        int up = (int)(r / DN_ADAPT_EXPLORE % 2), nb = up ? b + 1 : b - 1;
        if (nb < 0 || nb >= a->n_levels) nb = up ? b - 1 : b + 1;
        if (nb >= 0 && nb < a->n_levels) b = nb;
    }
    return a->cur = b;
}

void dn_adapt_record(struct dn_adapt *a, int level, double seconds)
{
    if (level < 0 || level >= a->n_levels) return;
    if (!a->seen[level] || seconds < 0) {
        a->seen[level] = 1; /* cold: caches, page faults, lazily made primitives */
        return;
    }
    a->t[level][a->pos[level]] = seconds;
    a->pos[level] = (a->pos[level] + 1) % DN_ADAPT_KEEP;
    a->n[level]++;
}
