/*
 * adapt.h - a chooser between a few ways of running the same work, from
 * measured times (adapt.c): the oneDNN regions' threading levels
 * (dnnl/region.c) and whether a batch runs whole or split into its images
 * (net.c). Pure bookkeeping, one per session and purpose; not thread-safe.
 */
#ifndef MLC_ENGINE_ADAPT_H
#define MLC_ENGINE_ADAPT_H

#define ENG_ADAPT_LEVELS 3
#define ENG_ADAPT_KEEP   3 /* recent samples kept per level */

struct eng_adapt {
    int n_levels; /* levels to choose from (1: nothing to choose) */
    int pinned;   /* -1 adapt, else always this level */
    int cur;      /* level of the last pick */
    int best;     /* best level at the last choice */
    int top;      /* warm-up: the highest level tried */
    int climbed;  /* warm-up over */
    unsigned runs;
    int seen[ENG_ADAPT_LEVELS];
    int n[ENG_ADAPT_LEVELS], pos[ENG_ADAPT_LEVELS];
    double t[ENG_ADAPT_LEVELS][ENG_ADAPT_KEEP];
    /* Exploring: a level is tried as a neighbour again only from run
     * next[l] on; gap[l] (runs) doubles while its tries come out far slower
     * than the best; ref[l] is the best's time then (a change of it by a
     * fifth, a change of load, makes l worth a try at once). */
    unsigned gap[ENG_ADAPT_LEVELS], next[ENG_ADAPT_LEVELS];
    double ref[ENG_ADAPT_LEVELS];
};

/* Levels are ordered: each next one is expected to help only when the one
 * before did (the warm-up climbs while it does). */
void eng_adapt_init(struct eng_adapt *a, int n_levels, int pinned);
/* The level for the next run. */
int eng_adapt_pick(struct eng_adapt *a);
/* The time of a run made at `level`; not counted when negative (the run made
 * primitives or plans) or the first at that level. */
void eng_adapt_record(struct eng_adapt *a, int level, double seconds);

#endif
