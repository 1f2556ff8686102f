/*
 * config.c - parses and validates Roboflow's active-learning configuration
 * JSON (inference/core/active_learning/README.md, entities.py) into struct
 * al_config.
 *
 * What it checks, beyond Roboflow: unknown strategy types, negative limits,
 * out-of-range probabilities and JPEG levels are errors at load (Roboflow
 * skips unknown strategies with a warning; mlc refuses them so a typo never
 * silently disables sampling). Every error names the JSON path.
 * What it does not: fetch anything (see sink.c) or sample (sampling.c).
 * Invariant: on failure *cfg is left cleared; on success every string in it
 * is owned (mlc_alloc) and freed by al_config_clear.
 */
#include <string.h>

#include <jansson.h>

#include "al/al.h"
#include "core/core.h"

/* More strategies than anyone configures; bounds the duplicate-name check,
 * which is quadratic, on a config that could come from the network. */
#define MAX_STRATEGIES 1024

struct ctx {
    const char *origin;
    mlc_error *err;
};

static mlc_status bad(struct ctx *c, const char *path, const char *what)
{
    return core_err(c->err, MLC_STATUS_INVALID_ARGUMENT, "%s: %s: %s", c->origin, path, what);
}

static mlc_status nomem(struct ctx *c)
{
    return core_err(c->err, MLC_STATUS_NO_MEMORY, "%s: out of memory", c->origin);
}

/* Reads an optional boolean; *out keeps its default when absent. */
static mlc_status get_bool(struct ctx *c, json_t *o, const char *key, const char *path,
                           int required, int *out)
{
    json_t *v = json_object_get(o, key);
    char p[256];
    snprintf(p, sizeof p, "%s.%s", path, key);
    if (!v || json_is_null(v)) return required ? bad(c, p, "required boolean is missing") : MLC_OK;
    if (!json_is_boolean(v)) return bad(c, p, "must be a boolean");
    *out = json_is_true(v);
    return MLC_OK;
}

static mlc_status get_number(struct ctx *c, json_t *o, const char *key, const char *path,
                             int required, double lo, double hi, double *out)
{
    json_t *v = json_object_get(o, key);
    char p[256];
    snprintf(p, sizeof p, "%s.%s", path, key);
    if (!v || json_is_null(v)) return required ? bad(c, p, "required number is missing") : MLC_OK;
    if (!json_is_number(v)) return bad(c, p, "must be a number");
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi)) {
        char msg[96];
        snprintf(msg, sizeof msg, "%g is outside [%g, %g]", d, lo, hi);
        return bad(c, p, msg);
    }
    *out = d;
    return MLC_OK;
}

static mlc_status get_string(struct ctx *c, json_t *o, const char *key, const char *path,
                             int required, char **out)
{
    json_t *v = json_object_get(o, key);
    char p[256];
    snprintf(p, sizeof p, "%s.%s", path, key);
    if (!v || json_is_null(v)) return required ? bad(c, p, "required string is missing") : MLC_OK;
    if (!json_is_string(v)) return bad(c, p, "must be a string");
    *out = core_strdup(json_string_value(v));
    return *out ? MLC_OK : nomem(c);
}

static mlc_status get_strings(struct ctx *c, json_t *o, const char *key, const char *path,
                              int required, char ***out, size_t *n_out)
{
    json_t *v = json_object_get(o, key);
    char p[256];
    snprintf(p, sizeof p, "%s.%s", path, key);
    if (!v || json_is_null(v))
        return required ? bad(c, p, "required list of strings is missing") : MLC_OK;
    if (!json_is_array(v)) return bad(c, p, "must be a list of strings");
    size_t n = json_array_size(v);
    char **list = mlc_calloc(n ? n : 1, sizeof *list);
    if (!list) return nomem(c);
    *out = list;
    *n_out = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e)) {
            char pi[300];
            snprintf(pi, sizeof pi, "%s[%zu]", p, i);
            return bad(c, pi, "must be a string");
        }
        list[i] = core_strdup(json_string_value(e));
        if (!list[i]) return nomem(c);
        *n_out = i + 1;
    }
    return MLC_OK;
}

static mlc_status parse_limits(struct ctx *c, json_t *arr, const char *path, struct al_strategy *s)
{
    if (!arr || json_is_null(arr)) return MLC_OK;
    if (!json_is_array(arr)) return bad(c, path, "must be a list of {\"type\", \"value\"}");
    size_t n = json_array_size(arr);
    s->limits = mlc_calloc(n ? n : 1, sizeof *s->limits);
    if (!s->limits) return nomem(c);
    for (size_t i = 0; i < n; i++) {
        json_t *l = json_array_get(arr, i);
        char p[300];
        snprintf(p, sizeof p, "%.250s[%zu]", path, i);
        if (!json_is_object(l)) return bad(c, p, "must be an object");
        json_t *t = json_object_get(l, "type"), *v = json_object_get(l, "value");
        char pt[320];
        snprintf(pt, sizeof pt, "%s.type", p);
        if (!json_is_string(t)) return bad(c, pt, "required string is missing");
        const char *ts = json_string_value(t);
        struct al_limit *lim = &s->limits[i];
        if (!strcmp(ts, "minutely"))
            lim->kind = AL_LIMIT_MINUTELY;
        else if (!strcmp(ts, "hourly"))
            lim->kind = AL_LIMIT_HOURLY;
        else if (!strcmp(ts, "daily"))
            lim->kind = AL_LIMIT_DAILY;
        else
            return bad(c, pt, "must be \"minutely\", \"hourly\" or \"daily\"");
        snprintf(pt, sizeof pt, "%s.value", p);
        if (!json_is_integer(v)) return bad(c, pt, "required integer is missing");
        if (json_integer_value(v) < 0) return bad(c, pt, "must be >= 0");
        lim->value = json_integer_value(v);
        s->n_limits = i + 1;
    }
    return MLC_OK;
}

static mlc_status parse_strategy(struct ctx *c, json_t *o, const char *path, struct al_strategy *s)
{
    mlc_status st;
    if (!json_is_object(o)) return bad(c, path, "must be an object");
    if ((st = get_string(c, o, "name", path, 1, &s->name))) return st;
    char *type = NULL;
    if ((st = get_string(c, o, "type", path, 1, &type))) return st;
    char ptype[256];
    snprintf(ptype, sizeof ptype, "%s.type", path);
    s->only_top_classes = 1;
    if (!strcmp(type, "random")) {
        s->type = AL_STRATEGY_RANDOM;
        st = get_number(c, o, "traffic_percentage", path, 1, 0, 1, &s->traffic_percentage);
    } else if (!strcmp(type, "close_to_threshold")) {
        s->type = AL_STRATEGY_CLOSE_TO_THRESHOLD;
        if (!(st = get_number(c, o, "threshold", path, 1, 0, 1, &s->threshold)) &&
            !(st = get_number(c, o, "epsilon", path, 1, 0, 1, &s->epsilon)) &&
            !(st = get_number(c, o, "probability", path, 1, 0, 1, &s->probability)) &&
            !(st = get_strings(c, o, "selected_class_names", path, 0, &s->selected_class_names,
                               &s->n_selected)))
            st = get_bool(c, o, "only_top_classes", path, 0, &s->only_top_classes);
        if (!st) {
            /* Detection-only parameter: validated, then unused for classification. */
            json_t *m = json_object_get(o, "minimum_objects_close_to_threshold");
            char pm[300];
            snprintf(pm, sizeof pm, "%s.minimum_objects_close_to_threshold", path);
            if (m && !json_is_null(m) && (!json_is_integer(m) || json_integer_value(m) < 1))
                st = bad(c, pm, "must be an integer >= 1");
        }
    } else if (!strcmp(type, "classes_based")) {
        s->type = AL_STRATEGY_CLASSES_BASED;
        /* Roboflow implements it as close_to_threshold(0.5, 1.0, only top). */
        s->threshold = 0.5;
        s->epsilon = 1.0;
        if (!(st = get_strings(c, o, "selected_class_names", path, 1, &s->selected_class_names,
                               &s->n_selected)))
            st = get_number(c, o, "probability", path, 1, 0, 1, &s->probability);
    } else if (!strcmp(type, "detections_number_based")) {
        s->type = AL_STRATEGY_DETECTIONS_NUMBER;
        st = get_number(c, o, "probability", path, 1, 0, 1, &s->probability);
    } else {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "unknown strategy type \"%.80s\" (known: random, close_to_threshold, "
                 "classes_based, detections_number_based)",
                 type);
        st = bad(c, ptype, msg);
    }
    mlc_free(type);
    if (st) return st;
    if ((st = get_strings(c, o, "tags", path, 0, &s->tags, &s->n_tags))) return st;
    char pl[256];
    snprintf(pl, sizeof pl, "%s.limits", path);
    return parse_limits(c, json_object_get(o, "limits"), pl, s);
}

static mlc_status parse_root(struct ctx *c, json_t *root, struct al_config *cfg)
{
    mlc_status st;
    cfg->jpeg_quality = 95;
    if (!json_is_object(root)) return bad(c, "$", "must be a JSON object");
    if ((st = get_bool(c, root, "enabled", "$", 1, &cfg->enabled))) return st;

    /* mlc extension: where datapoints go. Parsed even when disabled. */
    json_t *sink = json_object_get(root, "sink");
    if (sink && !json_is_null(sink)) {
        if (!json_is_object(sink)) return bad(c, "$.sink", "must be an object");
        char *type = NULL;
        if ((st = get_string(c, sink, "type", "$.sink", 1, &type))) return st;
        int local = !strcmp(type, "local"), rf = !strcmp(type, "roboflow");
        mlc_free(type);
        if (!local && !rf) return bad(c, "$.sink.type", "must be \"local\" or \"roboflow\"");
        cfg->sink_roboflow = rf;
        if (local && (st = get_string(c, sink, "path", "$.sink", 1, &cfg->sink_local_path)))
            return st;
    }
    if (!cfg->enabled) return MLC_OK; /* Roboflow reads nothing else then. */

    if ((st = get_bool(c, root, "persist_predictions", "$", 1, &cfg->persist_predictions)))
        return st;
    json_t *mis = json_object_get(root, "max_image_size");
    if (mis && !json_is_null(mis)) {
        if (!json_is_array(mis) || json_array_size(mis) != 2 ||
            !json_is_integer(json_array_get(mis, 0)) || !json_is_integer(json_array_get(mis, 1)))
            return bad(c, "$.max_image_size", "must be [height, width] integers");
        json_int_t h = json_integer_value(json_array_get(mis, 0));
        json_int_t w = json_integer_value(json_array_get(mis, 1));
        if (h < 1 || w < 1 || h > 65535 || w > 65535)
            return bad(c, "$.max_image_size", "sizes must be in [1, 65535]");
        cfg->max_image_h = (int)h;
        cfg->max_image_w = (int)w;
    }
    json_t *q = json_object_get(root, "jpeg_compression_level");
    if (q && !json_is_null(q)) {
        if (!json_is_integer(q) || json_integer_value(q) < 1 || json_integer_value(q) > 100)
            return bad(c, "$.jpeg_compression_level", "must be an integer in [1, 100]");
        cfg->jpeg_quality = (int)json_integer_value(q);
    }
    if ((st = get_strings(c, root, "tags", "$", 0, &cfg->tags, &cfg->n_tags))) return st;
    if ((st = get_string(c, root, "target_workspace", "$", 0, &cfg->target_workspace))) return st;
    if ((st = get_string(c, root, "target_project", "$", 0, &cfg->target_project))) return st;

    json_t *ss = json_object_get(root, "sampling_strategies");
    if (!ss || json_is_null(ss)) return bad(c, "$.sampling_strategies", "required list is missing");
    if (!json_is_array(ss)) return bad(c, "$.sampling_strategies", "must be a list");
    size_t n = json_array_size(ss);
    if (n > MAX_STRATEGIES) {
        char msg[96];
        snprintf(msg, sizeof msg, "has %zu strategies, more than the limit of %d", n,
                 MAX_STRATEGIES);
        return core_err(c->err, MLC_STATUS_LIMIT, "%s: $.sampling_strategies: %s", c->origin, msg);
    }
    cfg->strategies = mlc_calloc(n ? n : 1, sizeof *cfg->strategies);
    if (!cfg->strategies) return nomem(c);
    for (size_t i = 0; i < n; i++) {
        char p[64];
        snprintf(p, sizeof p, "$.sampling_strategies[%zu]", i);
        cfg->n_strategies = i + 1;
        if ((st = parse_strategy(c, json_array_get(ss, i), p, &cfg->strategies[i]))) return st;
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(cfg->strategies[j].name, cfg->strategies[i].name)) {
                char pn[80], msg[200];
                snprintf(pn, sizeof pn, "%s.name", p);
                snprintf(msg, sizeof msg, "duplicate strategy name \"%.80s\" (also [%zu])",
                         cfg->strategies[i].name, j);
                return bad(c, pn, msg);
            }
        }
    }

    json_t *bs = json_object_get(root, "batching_strategy");
    if (!bs || json_is_null(bs)) return bad(c, "$.batching_strategy", "required object is missing");
    if (!json_is_object(bs)) return bad(c, "$.batching_strategy", "must be an object");
    if ((st = get_string(c, bs, "batches_name_prefix", "$.batching_strategy", 1,
                         &cfg->batches_name_prefix)))
        return st;
    char *ri = NULL;
    if ((st = get_string(c, bs, "recreation_interval", "$.batching_strategy", 1, &ri))) return st;
    if (!strcmp(ri, "never"))
        cfg->recreation = AL_RECREATE_NEVER;
    else if (!strcmp(ri, "daily"))
        cfg->recreation = AL_RECREATE_DAILY;
    else if (!strcmp(ri, "weekly"))
        cfg->recreation = AL_RECREATE_WEEKLY;
    else if (!strcmp(ri, "monthly"))
        cfg->recreation = AL_RECREATE_MONTHLY;
    else
        st = bad(c, "$.batching_strategy.recreation_interval",
                 "must be \"never\", \"daily\", \"weekly\" or \"monthly\"");
    mlc_free(ri);
    if (st) return st;
    json_t *mb = json_object_get(bs, "max_batch_images");
    if (mb && !json_is_null(mb)) {
        if (!json_is_integer(mb) || json_integer_value(mb) < 1)
            return bad(c, "$.batching_strategy.max_batch_images", "must be an integer >= 1");
        cfg->max_batch_images = json_integer_value(mb);
    }
    return MLC_OK;
}

mlc_status al_config_parse(const char *json, size_t n, const char *origin, struct al_config *cfg,
                           mlc_error *err)
{
    struct ctx c = {origin ? origin : "active learning config", err};
    memset(cfg, 0, sizeof *cfg);
    json_error_t je;
    json_t *root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return core_err(err, MLC_STATUS_BAD_JSON, "%s: malformed JSON at line %d column %d: %s",
                        c.origin, je.line, je.column, je.text);
    mlc_status st = parse_root(&c, root, cfg);
    json_decref(root);
    if (st) al_config_clear(cfg);
    return st;
}

mlc_status al_config_load_file(const char *path, struct al_config *cfg, mlc_error *err)
{
    char *data = NULL;
    size_t n = 0;
    memset(cfg, 0, sizeof *cfg);
    mlc_status st = core_read_file(path, 16u << 20, &data, &n, err);
    if (st) return core_err_prefix(err, "active learning config");
    st = al_config_parse(data, n, path, cfg, err);
    mlc_free(data);
    return st;
}

static void free_strings(char **s, size_t n)
{
    if (!s) return;
    for (size_t i = 0; i < n; i++) mlc_free(s[i]);
    mlc_free(s);
}

void al_config_clear(struct al_config *cfg)
{
    if (!cfg) return;
    for (size_t i = 0; i < cfg->n_strategies; i++) {
        struct al_strategy *s = &cfg->strategies[i];
        mlc_free(s->name);
        free_strings(s->selected_class_names, s->n_selected);
        free_strings(s->tags, s->n_tags);
        mlc_free(s->limits);
    }
    mlc_free(cfg->strategies);
    free_strings(cfg->tags, cfg->n_tags);
    mlc_free(cfg->batches_name_prefix);
    mlc_free(cfg->target_workspace);
    mlc_free(cfg->target_project);
    mlc_free(cfg->sink_local_path);
    memset(cfg, 0, sizeof *cfg);
}
