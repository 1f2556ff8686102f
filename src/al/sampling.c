/*
 * sampling.c - the PRNG, the classification sampling strategies of
 * Roboflow's active learning (samplers/random.py, close_to_threshold.py,
 * classes_based.py, applied to multi-label predictions) and batch names.
 *
 * Invariant: no global state; every random draw comes from the caller's
 * struct al_rng, so a seeded manager samples the same datapoints every run.
 * Draw order matches Roboflow: random draws once per evaluation;
 * close_to_threshold/classes_based draw only after the class test passed.
 * What it does not do: limits and credit (manager.c).
 */
#include <string.h>
#include <time.h>

#include "al/al.h"
#include "core/core.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void al_rng_seed(struct al_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t next(struct al_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double al_rng_uniform(struct al_rng *r)
{
    return (double)(next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static int in_list(char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], name)) return 1;
    return 0;
}

int al_strategy_matches(const struct al_strategy *s, const struct al_class_score *cls, size_t n_cls,
                        struct al_rng *r)
{
    switch (s->type) {
    case AL_STRATEGY_RANDOM:
        return al_rng_uniform(r) < s->traffic_percentage;
    case AL_STRATEGY_CLOSE_TO_THRESHOLD:
    case AL_STRATEGY_CLASSES_BASED: {
        /* Multi-label rule: any class close to the threshold (strictly),
         * among the predicted ones when only_top_classes, and among the
         * selected ones when a selection is given. */
        int close = 0;
        for (size_t i = 0; i < n_cls && !close; i++) {
            if (s->only_top_classes && !cls[i].predicted) continue;
            if (s->selected_class_names &&
                !in_list(s->selected_class_names, s->n_selected, cls[i].name))
                continue;
            double d = cls[i].confidence - s->threshold;
            if (d < 0) d = -d;
            close = d < s->epsilon;
        }
        return close && al_rng_uniform(r) < s->probability;
    }
    case AL_STRATEGY_DETECTIONS_NUMBER:
        return 0; /* detection predictions only */
    }
    return 0;
}

char *al_batch_name(const struct al_config *cfg, int64_t unix_time)
{
    const char *prefix = cfg->batches_name_prefix ? cfg->batches_name_prefix : "active_learning";
    if (cfg->recreation == AL_RECREATE_NEVER) return core_strdup(prefix);
    time_t t = (time_t)unix_time;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (cfg->recreation == AL_RECREATE_WEEKLY) {
        int back = (tm.tm_wday + 6) % 7; /* days since Monday */
        t -= (time_t)back * 86400;
        gmtime_r(&t, &tm);
    } else if (cfg->recreation == AL_RECREATE_MONTHLY) {
        tm.tm_mday = 1;
    }
    return core_sprintf("%s_%04d_%02d_%02d", prefix, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}
