/*
 * model.h - internals of the model layer: a parsed model package (current
 * inference_config.json format or legacy environment.json format), the
 * preprocessing description both formats reduce to, threshold resolution,
 * and the model-id cache/download. Everything here is mdl_-prefixed and
 * private to src/model/, the fuzz target and tests/model/.
 *
 * The parsers take bytes (not paths) so the fuzzer can drive them; the
 * loader (model.c) reads the files and calls them.
 */
#ifndef MLC_MODEL_H
#define MLC_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "mlc.h"

enum mdl_format {
    MDL_FORMAT_CURRENT = 0, /* weights.onnx + inference_config.json (+ model_config.json) */
    MDL_FORMAT_LEGACY = 1,  /* environment.json + best.onnx|weights.onnx */
};

enum mdl_resize {
    MDL_RESIZE_STRETCH = 0,     /* current "stretch" / legacy "Stretch to" */
    MDL_RESIZE_LETTERBOX = 1,   /* current "letterbox", "letterbox-reflect-edges" */
    MDL_RESIZE_CENTER_CROP = 2, /* current "center-crop": crop/pad, no scaling */
    MDL_RESIZE_FIT = 3,         /* legacy "Fit (... edges) in": pad = pad_value */
};

enum mdl_contrast {
    MDL_CONTRAST_NONE = 0,
    MDL_CONTRAST_STRETCHING = 1, /* "Contrast Stretching" */
    MDL_CONTRAST_HISTOGRAM = 2,  /* "Histogram Equalization" */
    MDL_CONTRAST_ADAPTIVE = 3,   /* "Adaptive Equalization" */
};

/* Everything preprocessing needs, in one format-independent record. */
struct mdl_preproc {
    int legacy;       /* legacy pipeline order/ops (contrast before grayscale, f32 stretch) */
    int crop_enabled; /* static crop, percent of width/height */
    double crop_x_min, crop_y_min, crop_x_max, crop_y_max;
    int grayscale;
    enum mdl_contrast contrast;
    int width, height; /* network input size */
    enum mdl_resize resize;
    double pad_value; /* letterbox canvas value (current: padding_value or 0) */
    int rgb;          /* network expects RGB (else BGR) */
    int has_scaling;
    double scaling_factor;
    int has_norm;
    float mean[3], std[3];
};

/* A parsed package, before the ONNX file is opened. */
struct mdl_package {
    enum mdl_format format;
    char *task_type;    /* "multi-label-classification" once accepted */
    char *architecture; /* "resnet", "vit", "dinov3_probe", ... */
    char **class_names;
    int n_classes;
    struct mdl_preproc pp;
    int apply_sigmoid;    /* current: !fused; legacy: never */
    int strict_threshold; /* legacy: score > thr; current: score >= thr */
    double default_conf;  /* the architecture's "default" threshold */
    /* recommended parameters (model_config.json); absent = has_rec 0 */
    int has_rec_conf;
    double rec_conf;
    int n_per_class;
    char **pc_names;
    double *pc_values;
    int static_batch_hint; /* model_config static_batch_size, 0 = none */
    /* legacy-only facts */
    int legacy_resize_w, legacy_resize_h; /* PREPROCESSING.resize, 0 = absent */
    int legacy_auto_orient;               /* "auto-orient" key present */
};

void mdl_package_init(struct mdl_package *p);
void mdl_package_free(struct mdl_package *p);

/* inference_config.json (current format). `name` is used in messages. */
mlc_status mdl_parse_inference_config(const char *json, size_t n, const char *name,
                                      struct mdl_package *p, mlc_error *err);
/* model_config.json: task_type, model_architecture, recommended_parameters. */
mlc_status mdl_parse_model_config(const char *json, size_t n, const char *name,
                                  struct mdl_package *p, mlc_error *err);
/* environment.json (legacy format): PREPROCESSING, CLASS_MAP, MULTICLASS.
 * Normalisation is taken from p->architecture, so set it first. */
mlc_status mdl_parse_environment(const char *json, size_t n, const char *name,
                                 struct mdl_package *p, mlc_error *err);
/* model_type.json (legacy metadata cache): model_type / project_task_type. */
mlc_status mdl_parse_model_type(const char *json, size_t n, const char *name, struct mdl_package *p,
                                mlc_error *err);
/* class_names.txt: one name per line, stripped, empty lines skipped. */
mlc_status mdl_parse_class_names(const char *text, size_t n, const char *name,
                                 struct mdl_package *p, mlc_error *err);
/* Sets defaults that depend on the architecture (default threshold; legacy
 * normalisation). Call after the architecture is known. */
void mdl_package_finish_arch(struct mdl_package *p);

/* Per-class thresholds for a confidence choice (§4.2), written to thr[n_classes]. */
mlc_status mdl_resolve_thresholds(const struct mdl_package *p, mlc_confidence conf, double *thr,
                                  mlc_error *err);

/* ---- model ids, cache and download (cache.c, download.c) ---- */

/* mlc_model_load for ids only: the string never names a directory on this
 * machine (the cache or a download decides), so a client-supplied id cannot
 * make the process open a package anywhere else. */
mlc_status mdl_model_load_id(const char *id, const mlc_model_options *opt, mlc_model **model_out,
                             mlc_error *err);

/* 1 when `s` looks like a Roboflow model id ("project/3") rather than a path. */
int mdl_is_model_id(const char *s);

struct json_t;
/* Python truthiness of a JSON value (legacy MULTICLASS: even "false" is true). */
int mdl_json_truthy(const struct json_t *v);
/* The package directory for a model id under the cache root (caller frees). */
char *mdl_cache_dir_for(const char *cache_root, const char *model_id);
/* Splits a model id as Roboflow does (§5.1): "project/3" -> ("project", "3");
 * a version that is not a decimal integer makes the whole string an instant
 * model id (*version_out NULL). More than one '/' or an empty part ->
 * INVALID_ARGUMENT. Caller frees both outputs. */
mlc_status mdl_parse_model_id(const char *id, char **dataset_out, char **version_out,
                              mlc_error *err);
/* The error for a string that is not a model id (and, when allow_dir, not a
 * package directory either): INVALID_ARGUMENT for an id with more than one
 * '/' (§5.1), NOT_FOUND otherwise. */
mlc_status mdl_model_id_error(const char *s, int allow_dir, mlc_error *err);
/* A package Roboflow's inference cached for model_id under `home` in a layout
 * mlc does not write: inference_models' home/models-cache/v2-<slug>-<b2s16>/
 * <package_id>/ (files may be symlinks into home/shared-blobs/), or the old
 * 4-byte-digest forms. Only complete ONNX packages attributed to model_id
 * whose files stay inside home qualify. NULL when none (caller frees). */
char *mdl_find_cached_package(const char *home, const char *model_id);
/* Downloads model_id into the cache (atomically) unless already present.
 * *dir_out (caller frees) is the package directory; *own_out is 1 when it is
 * in the layout mlc writes (<root>/<model_id>/ or ~<slug>-<b2s16>) and
 * resolves to a place under the root (not a symlink out of it), 0 otherwise
 * (and for the layouts only read, mdl_find_cached_package). */
mlc_status mdl_fetch_model(const char *model_id, const mlc_model_options *opt, char **dir_out,
                           int *own_out, mlc_error *err);

#endif
