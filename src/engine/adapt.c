/*
 * adapt.c - picks, run by run, one of a few ordered ways of running the same
 * work from the times of earlier runs (adapt.h): the threading level of a
 * oneDNN region (dnnl/region.c) and whether a batch runs whole or split
 * into its images (net.c).
 *
 * Why: which way is faster depends on the machine's load, and this machine's
 * load comes and goes. The threading levels, for instance: every oneDNN
 * primitive run on 2 threads wakes the OpenMP worker and meets it at a
 * barrier, a few microseconds on an idle machine and milliseconds when another
 * process holds the worker's core; measured here (docs/PERFORMANCE.md), level
 * 0 was 1.7x faster than level 1 on efficientnet_b0 when idle and 1.6x slower
 * with the other core busy.
 *
 * The first runs climb from level 0 while the next level beats the one below
 * by 10% (the first run at each level is not counted: it is cold, or makes
 * primitives or plans); then the level with the lowest recent time (minimum
 * of its last ENG_ADAPT_KEEP samples: noise only ever adds time) is used, a
 * level timed only once is tried once more, and every ENG_ADAPT_EXPLORE-th run tries a
 * neighbouring level, so a change of load is noticed within a few dozen runs.
 * A neighbour whose tries keep coming out at least 25% slower than the best
 * is tried half as often each time, down to one run in ENG_ADAPT_EXPLORE_MAX:
 * on mobilenet_v3_large at batch 1, level 1 takes 1.7x level 0's time, and
 * trying it every 16th run made the median 7% slower than pinning level 0
 * (docs/PERFORMANCE.md). When the best level's own time moves by a fifth
 * (the load changed), its neighbours are tried at the next turn again.
 *
 * Pure bookkeeping: no clock (the callers time their runs), so the tests can
 * drive it with made-up times. One per session and purpose: not thread-safe.
 */
#include <string.h>

#include "engine/adapt.h"

#define ENG_ADAPT_EXPLORE     16
#define ENG_ADAPT_EXPLORE_MAX 128

void eng_adapt_init(struct eng_adapt *a, int n_levels, int pinned)
{
    memset(a, 0, sizeof *a);
    a->n_levels = n_levels < 1 ? 1 : n_levels > ENG_ADAPT_LEVELS ? ENG_ADAPT_LEVELS : n_levels;
    a->pinned = pinned < 0 ? -1 : pinned >= a->n_levels ? a->n_levels - 1 : pinned;
}

static double level_time(const struct eng_adapt *a, int l)
{
    double m = 0;
    int n = a->n[l] < ENG_ADAPT_KEEP ? a->n[l] : ENG_ADAPT_KEEP;
    for (int i = 0; i < n; i++)
        if (i == 0 || a->t[l][i] < m) m = a->t[l][i];
    return m;
}

static int best_level(const struct eng_adapt *a)
{
    int l = -1;
    for (int k = 0; k < a->n_levels; k++)
        if (a->n[k] && (l < 0 || level_time(a, k) < level_time(a, l))) l = k;
    return l < 0 ? 0 : l;
}

/* Whether best's time moved by a fifth since nb's tries were spaced out. */
static int load_changed(const struct eng_adapt *a, int best, int nb)
{
    double now = level_time(a, best), then = a->ref[nb];
    return then > 0 && (now > 1.2 * then || now < then / 1.2);
}

int eng_adapt_pick(struct eng_adapt *a)
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
    /* A level timed only once may have lost on a noisy sample: a slow
     * second run at level 0 sent the climb to level 2, and exploring only
     * the best's neighbours never came back to 0 (efficientnet_b0 stayed
     * 1.6x slower in about half the processes). The next 4th run tries
     * such a level once more. */
    if (r % 4 == 0)
        for (int k = 0; k < a->n_levels; k++)
            if (k != b && a->seen[k] && a->n[k] < 2) return a->cur = k;
    /* Then the best, and every ENG_ADAPT_EXPLORE-th run a neighbour of it
     * (below and above in turn): load comes and goes. */
    if (r % ENG_ADAPT_EXPLORE == 0) {
        int up = (int)(r / ENG_ADAPT_EXPLORE % 2), nb = up ? b + 1 : b - 1;
        if (nb < 0 || nb >= a->n_levels) nb = up ? b - 1 : b + 1;
        if (nb >= 0 && nb < a->n_levels && (r >= a->next[nb] || load_changed(a, b, nb))) b = nb;
    }
    return a->cur = b;
}

/* After a try of `level` away from the best: how soon to try it again. */
static void explored(struct eng_adapt *a, int level, double seconds)
{
    if (level == a->best || !a->climbed || !a->n[a->best]) return;
    unsigned g = a->gap[level] ? a->gap[level] : ENG_ADAPT_EXPLORE;
    double best = level_time(a, a->best);
    if (seconds >= 1.25 * best)
        g = g * 2 > ENG_ADAPT_EXPLORE_MAX ? ENG_ADAPT_EXPLORE_MAX : g * 2;
    else
        g = ENG_ADAPT_EXPLORE;
    a->gap[level] = g;
    a->ref[level] = best;
    a->next[level] = a->runs + g - 1;
}

void eng_adapt_record(struct eng_adapt *a, int level, double seconds)
{
    if (level < 0 || level >= a->n_levels) return;
    if (!a->seen[level] || seconds < 0) {
        a->seen[level] = 1; /* cold: caches, page faults, lazily made primitives */
        return;
    }
    explored(a, level, seconds);
    a->t[level][a->pos[level]] = seconds;
    a->pos[level] = (a->pos[level] + 1) % ENG_ADAPT_KEEP;
    a->n[level]++;
}
