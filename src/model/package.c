/*
 * package.c - parsers for the files of a Roboflow model package, from bytes.
 *
 * Accepted layouts (see docs/MODELS.md):
 *   current: inference_config.json  {image_pre_processing?, network_input,
 *                                    post_processing?, ...}
 *            model_config.json      {task_type, model_architecture,
 *                                    recommended_parameters?, ...}
 *            class_names.txt        one name per line
 *   legacy:  environment.json       {PREPROCESSING (object or JSON string),
 *                                    CLASS_MAP {"0": name, ...}, MULTICLASS}
 *            model_type.json        {model_type, project_task_type} (optional)
 *
 * Values are coerced the way the Python runtime's pydantic models do: "412"
 * is 412, "true" is true. Unknown keys are ignored. Anything malformed is a
 * BAD_MODEL error naming the file and JSON path; a valid package for a task
 * or mode mlc does not run is UNSUPPORTED.
 *
 * Not here: reading files (model.c), opening the ONNX graph, the image
 * pipeline (preproc.c). Invariants: on failure the package may be partly
 * filled; mdl_package_free always releases everything.
 */
#include <ctype.h>
#include <stdio.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "model/model.h"

#define MAX_CLASSES    100000
#define MAX_INPUT_SIDE 16384

void mdl_package_init(struct mdl_package *p)
{
    memset(p, 0, sizeof *p);
    p->pp.rgb = 1;
    p->apply_sigmoid = 1;
    p->default_conf = 0.4;
}

static void free_names(char **names, int n)
{
    if (!names) return;
    for (int i = 0; i < n; i++) mlc_free(names[i]);
    mlc_free(names);
}

void mdl_package_free(struct mdl_package *p)
{
    if (!p) return;
    mlc_free(p->task_type);
    mlc_free(p->architecture);
    free_names(p->class_names, p->n_classes);
    free_names(p->pc_names, p->n_per_class);
    mlc_free(p->pc_values);
    mdl_package_init(p);
}

/* ---- coercing getters ---------------------------------------------------- */

/* Number, or a string holding one (pydantic's lax mode). */
static int get_number(const json_t *v, double *out)
{
    if (json_is_integer(v)) {
        *out = (double)json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        *out = json_real_value(v);
        return isfinite(*out);
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        errno = 0;
        double d = strtod(s, &end);
        while (end && isspace((unsigned char)*end)) end++;
        if (end == s || !end || *end || errno || !isfinite(d)) return 0;
        *out = d;
        return 1;
    }
    return 0;
}

/* An integer-valued number or numeric string. */
static int get_int(const json_t *v, long long lo, long long hi, int *out)
{
    double d;
    if (!get_number(v, &d) || d != floor(d) || d < (double)lo || d > (double)hi) return 0;
    *out = (int)d;
    return 1;
}

static int get_bool(const json_t *v, int *out)
{
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 1;
    }
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
        *out = (int)json_integer_value(v);
        return 1;
    }
    if (json_is_string(v)) {
        static const char *yes[] = {"true", "1", "yes", "on", "t", "y"};
        static const char *no[] = {"false", "0", "no", "off", "f", "n"};
        const char *s = json_string_value(v);
        for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
            if (!strcasecmp(s, yes[i])) return (*out = 1);
        for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
            if (!strcasecmp(s, no[i])) return (*out = 0), 1;
    }
    return 0;
}

int mdl_json_truthy(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_TRUE:
        return 1;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0.0;
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    case JSON_OBJECT:
        return json_object_size(v) > 0;
    default:
        return 0;
    }
}

static mlc_status load_json(const char *text, size_t n, const char *name, json_t **out,
                            mlc_error *err)
{
    json_error_t je;
    json_t *root = json_loadb(text, n, 0, &je);
    if (!root)
        return core_err(err, MLC_STATUS_BAD_MODEL, "%s: malformed JSON at line %d column %d: %s",
                        name, je.line, je.column, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return core_err(err, MLC_STATUS_BAD_MODEL, "%s: top level must be a JSON object", name);
    }
    *out = root;
    return MLC_OK;
}

static const json_t *opt_obj(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_object(v) ? v : NULL;
}

static mlc_status set_str(char **dst, const char *s)
{
    char *d = core_strdup(s);
    if (!d) return MLC_STATUS_NO_MEMORY;
    mlc_free(*dst);
    *dst = d;
    return MLC_OK;
}

/* ---- shared image_pre_processing / PREPROCESSING pieces ------------------ */

static mlc_status parse_contrast_type(const char *t, enum mdl_contrast *out)
{
    if (!strcmp(t, "Contrast Stretching"))
        *out = MDL_CONTRAST_STRETCHING;
    else if (!strcmp(t, "Histogram Equalization"))
        *out = MDL_CONTRAST_HISTOGRAM;
    else if (!strcmp(t, "Adaptive Equalization"))
        *out = MDL_CONTRAST_ADAPTIVE;
    else
        return MLC_STATUS_BAD_MODEL;
    return MLC_OK;
}

/* Static crop, contrast and grayscale: the same keys in both formats.
 * `path` is the JSON path of `pre` for messages; `legacy` relaxes what the
 * legacy runtime never validated. */
static mlc_status parse_image_ops(const json_t *pre, const char *name, const char *path, int legacy,
                                  struct mdl_preproc *pp, mlc_error *err)
{
    const json_t *sc = json_object_get(pre, "static-crop");
    if (sc && !json_is_null(sc)) {
        if (!json_is_object(sc))
            return core_err(err, MLC_STATUS_BAD_MODEL, "%s: %s.static-crop must be an object", name,
                            path);
        int en = 0;
        const json_t *e = json_object_get(sc, "enabled");
        if (!get_bool(e, &en))
            return core_err(err, MLC_STATUS_BAD_MODEL,
                            "%s: %s.static-crop.enabled must be a boolean", name, path);
        if (en) {
            static const char *keys[4] = {"x_min", "y_min", "x_max", "y_max"};
            double *dst[4] = {&pp->crop_x_min, &pp->crop_y_min, &pp->crop_x_max, &pp->crop_y_max};
            for (int i = 0; i < 4; i++) {
                double d;
                if (!get_number(json_object_get(sc, keys[i]), &d) || d < 0 || d > 100 ||
                    (!legacy && d != floor(d)))
                    return core_err(err, MLC_STATUS_BAD_MODEL,
                                    "%s: %s.static-crop.%s must be %s in [0, 100] (percent)", name,
                                    path, keys[i], legacy ? "a number" : "an integer");
                *dst[i] = d;
            }
            if (pp->crop_x_max <= pp->crop_x_min || pp->crop_y_max <= pp->crop_y_min)
                return core_err(err, MLC_STATUS_BAD_MODEL,
                                "%s: %s.static-crop is empty (x %g..%g, y %g..%g percent)", name,
                                path, pp->crop_x_min, pp->crop_x_max, pp->crop_y_min,
                                pp->crop_y_max);
            pp->crop_enabled = 1;
        }
    }
    const json_t *ct = json_object_get(pre, "contrast");
    if (ct && !json_is_null(ct)) {
        if (!json_is_object(ct))
            return core_err(err, MLC_STATUS_BAD_MODEL, "%s: %s.contrast must be an object", name,
                            path);
        int en = 0;
        if (!get_bool(json_object_get(ct, "enabled"), &en))
            return core_err(err, MLC_STATUS_BAD_MODEL, "%s: %s.contrast.enabled must be a boolean",
                            name, path);
        const json_t *ty = json_object_get(ct, "type");
        enum mdl_contrast c = MDL_CONTRAST_NONE;
        if (en || !legacy) {
            if (!json_is_string(ty) || parse_contrast_type(json_string_value(ty), &c)) {
                /* The legacy runtime silently skips an unknown type. */
                if (!legacy)
                    return core_err(err, MLC_STATUS_BAD_MODEL,
                                    "%s: %s.contrast.type must be \"Contrast Stretching\", "
                                    "\"Histogram Equalization\" or \"Adaptive Equalization\"",
                                    name, path);
                c = MDL_CONTRAST_NONE;
            }
        }
        pp->contrast = en ? c : MDL_CONTRAST_NONE;
    }
    const json_t *gs = json_object_get(pre, "grayscale");
    if (gs && !json_is_null(gs)) {
        int en = 0;
        if (!json_is_object(gs) || !get_bool(json_object_get(gs, "enabled"), &en))
            return core_err(err, MLC_STATUS_BAD_MODEL, "%s: %s.grayscale.enabled must be a boolean",
                            name, path);
        pp->grayscale = en;
    }
    return MLC_OK;
}

/* ---- inference_config.json ------------------------------------------------ */

static mlc_status parse_network_input(const json_t *ni, const char *name, struct mdl_preproc *pp,
                                      mlc_error *err)
{
    const json_t *tis = json_object_get(ni, "training_input_size");
    if (!json_is_object(tis) ||
        !get_int(json_object_get(tis, "width"), 1, MAX_INPUT_SIDE, &pp->width) ||
        !get_int(json_object_get(tis, "height"), 1, MAX_INPUT_SIDE, &pp->height))
        return core_err(err, MLC_STATUS_BAD_MODEL,
                        "%s: network_input.training_input_size must be {\"height\": int, "
                        "\"width\": int} with sides in 1..%d",
                        name, MAX_INPUT_SIDE);
    int dyn;
    if (!get_bool(json_object_get(ni, "dynamic_spatial_size_supported"), &dyn))
        return core_err(err, MLC_STATUS_BAD_MODEL,
                        "%s: network_input.dynamic_spatial_size_supported must be a boolean", name);
    const json_t *cm = json_object_get(ni, "color_mode");
    if (!json_is_string(cm) ||
        (strcmp(json_string_value(cm), "rgb") && strcmp(json_string_value(cm), "bgr")))
        return core_err(err, MLC_STATUS_BAD_MODEL,
                        "%s: network_input.color_mode must be \"rgb\" or \"bgr\"", name);
    pp->rgb = !strcmp(json_string_value(cm), "rgb");

    int ch;
    if (!get_int(json_object_get(ni, "input_channels"), 0, 1 << 20, &ch))
        return core_err(err, MLC_STATUS_BAD_MODEL,
                        "%s: network_input.input_channels must be an integer", name);
    if (ch != 3)
        return core_err(err, MLC_STATUS_UNSUPPORTED,
                        "%s: network_input.input_channels is %d; only 3-channel inputs are "
                        "supported",
                        name, ch);

    const json_t *pv = json_object_get(ni, "padding_value");
    int pad = 0;
    if (pv && !json_is_null(pv) && !get_int(pv, -1000000, 1000000, &pad))
        return core_err(err, MLC_STATUS_BAD_MODEL,
                        "%s: network_input.padding_value must be an integer or null", name);
    pp->pad_value = pad; /* Python: padding_value or 0 */

    const json_t *rm = json_object_get(ni, "resize_mode");
    const char *r = json_is_string(rm) ? json_string_value(rm) : "";
    if (!strcmp(r, "stretch")) {
        pp->resize = MDL_RESIZE_STRETCH;
    } else if (!strcmp(r, "letterbox") || !strcmp(r, "letterbox-reflect-edges")) {
        /* Roboflow handles reflect-edges with the plain letterbox (constant pad). */
        pp->resize = MDL_RESIZE_LETTERBOX;
    } else if (!strcmp(r, "center-crop")) {
        pp->resize = MDL_RESIZE_CENTER_CROP;
    } else if (!strcmp(r, "fit-longer-edge")) {
        /* The multi-label classifiers substitute stretch and drop the padding. */
        pp->resize = MDL_RESIZE_STRETCH;
        pp->pad_value = 0;
    } else {
        return core_err(err, MLC_STATUS_BAD_MODEL,
                        "%s: network_input.resize_mode must be one of \"stretch\", \"letterbox\", "
                        "\"letterbox-reflect-edges\", \"center-crop\", \"fit-longer-edge\"",
                        name);
    }

    const json_t *sf = json_object_get(ni, "scaling_factor");
    if (sf && !json_is_null(sf)) {
        if (!get_number(sf, &pp->scaling_factor) || pp->scaling_factor == 0)
            return core_err(err, MLC_STATUS_BAD_MODEL,
                            "%s: network_input.scaling_factor must be a non-zero number or null",
                            name);
        pp->has_scaling = 1;
    }
    const json_t *no = json_object_get(ni, "normalization");
    if (no && !json_is_null(no)) {
        int ok = json_is_array(no) && json_array_size(no) == 2;
        for (int k = 0; ok && k < 2; k++) {
            const json_t *row = json_array_get(no, (size_t)k);
            ok = json_is_array(row) && json_array_size(row) == 3;
            for (int c = 0; ok && c < 3; c++) {
                double d;
                ok = get_number(json_array_get(row, (size_t)c), &d) && (k == 0 || d != 0);
                if (ok) (k ? pp->std : pp->mean)[c] = (float)d;
            }
        }
        if (!ok)
            return core_err(err, MLC_STATUS_BAD_MODEL,
                            "%s: network_input.normalization must be [[mean x3], [std x3]] with "
                            "non-zero std, or null",
                            name);
        pp->has_norm = 1;
    }
    return MLC_OK;
}

mlc_status mdl_parse_inference_config(const char *text, size_t n, const char *name,
                                      struct mdl_package *p, mlc_error *err)
{
    mlc_status st = MLC_OK;
    json_t *root = NULL;
    if ((st = load_json(text, n, name, &root, err))) goto fail;

    p->format = MDL_FORMAT_CURRENT;
    p->pp.legacy = 0;
    const json_t *pre = json_object_get(root, "image_pre_processing");
    if (pre && !json_is_null(pre)) {
        if (!json_is_object(pre)) {
            st = core_err(err, MLC_STATUS_BAD_MODEL, "%s: image_pre_processing must be an object",
                          name);
            goto fail;
        }
        if ((st = parse_image_ops(pre, name, "image_pre_processing", 0, &p->pp, err))) goto fail;
    }
    const json_t *ni = opt_obj(root, "network_input");
    if (!ni) {
        st = core_err(err, MLC_STATUS_BAD_MODEL, "%s: network_input (object) is required", name);
        goto fail;
    }
    if ((st = parse_network_input(ni, name, &p->pp, err))) goto fail;

    const json_t *post = json_object_get(root, "post_processing");
    if (post && !json_is_null(post)) {
        const json_t *ty = json_object_get(post, "type");
        if (!json_is_object(post) || !json_is_string(ty)) {
            st = core_err(err, MLC_STATUS_BAD_MODEL,
                          "%s: post_processing must be an object with a string \"type\"", name);
            goto fail;
        }
        if (strcmp(json_string_value(ty), "sigmoid")) {
            st = core_err(err, MLC_STATUS_UNSUPPORTED,
                          "%s: post_processing.type is \"%s\"; a multi-label classifier needs "
                          "\"sigmoid\" (is this a single-label or detection model?)",
                          name, json_string_value(ty));
            goto fail;
        }
        int fused = 0;
        const json_t *f = json_object_get(post, "fused");
        if (f && !json_is_null(f) && !get_bool(f, &fused)) {
            st = core_err(err, MLC_STATUS_BAD_MODEL, "%s: post_processing.fused must be a boolean",
                          name);
            goto fail;
        }
        p->apply_sigmoid = !fused;
    } else {
        /* Only DINOv3 accepts a missing post_processing (then applies a
         * sigmoid); the check against the architecture is in model.c. */
        p->apply_sigmoid = -1;
    }
fail:
    json_decref(root);
    return st;
}

/* ---- model_config.json ---------------------------------------------------- */

static mlc_status parse_recommended(const json_t *rp, const char *name, struct mdl_package *p,
                                    mlc_error *err)
{
    const json_t *c = json_object_get(rp, "confidence");
    if (c && !json_is_null(c)) {
        if (!get_number(c, &p->rec_conf) || p->rec_conf < 0 || p->rec_conf > 1)
            return core_err(err, MLC_STATUS_BAD_MODEL,
                            "%s: recommended_parameters.confidence must be a number in [0, 1]",
                            name);
        p->has_rec_conf = 1;
    }
    const json_t *pc = json_object_get(rp, "per_class_confidence");
    if (!pc) pc = json_object_get(rp, "perClassConfidence");
    if (!pc || json_is_null(pc)) return MLC_OK;
    if (!json_is_object(pc))
        return core_err(err, MLC_STATUS_BAD_MODEL,
                        "%s: recommended_parameters.per_class_confidence must be an object", name);
    size_t k = json_object_size(pc);
    if (k > MAX_CLASSES)
        return core_err(err, MLC_STATUS_LIMIT,
                        "%s: recommended_parameters.per_class_confidence has %zu entries", name, k);
    if (k == 0) return MLC_OK;
    p->pc_names = mlc_calloc(k, sizeof *p->pc_names);
    p->pc_values = mlc_calloc(k, sizeof *p->pc_values);
    if (!p->pc_names || !p->pc_values)
        return core_err(err, MLC_STATUS_NO_MEMORY, "%s: out of memory", name);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)pc, key, v)
    {
        double d;
        if (!get_number(v, &d) || d < 0 || d > 1)
            return core_err(err, MLC_STATUS_BAD_MODEL,
                            "%s: recommended_parameters.per_class_confidence[\"%s\"] must be a "
                            "number in [0, 1]",
                            name, key);
        if (!(p->pc_names[p->n_per_class] = core_strdup(key)))
            return core_err(err, MLC_STATUS_NO_MEMORY, "%s: out of memory", name);
        p->pc_values[p->n_per_class++] = d;
    }
    return MLC_OK;
}

mlc_status mdl_parse_model_config(const char *text, size_t n, const char *name,
                                  struct mdl_package *p, mlc_error *err)
{
    mlc_status st = MLC_OK;
    json_t *root = NULL;
    if ((st = load_json(text, n, name, &root, err))) goto fail;
    const json_t *tt = json_object_get(root, "task_type");
    const json_t *ar = json_object_get(root, "model_architecture");
    if (!json_is_string(tt)) {
        st = core_err(err, MLC_STATUS_BAD_MODEL, "%s: task_type must be a string", name);
        goto fail;
    }
    if (ar && !json_is_null(ar) && !json_is_string(ar)) {
        st = core_err(err, MLC_STATUS_BAD_MODEL, "%s: model_architecture must be a string", name);
        goto fail;
    }
    if (set_str(&p->task_type, json_string_value(tt)) ||
        (json_is_string(ar) && set_str(&p->architecture, json_string_value(ar)))) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "%s: out of memory", name);
        goto fail;
    }
    const json_t *rp = json_object_get(root, "recommended_parameters");
    if (rp && !json_is_null(rp)) {
        if (!json_is_object(rp)) {
            st = core_err(err, MLC_STATUS_BAD_MODEL,
                          "%s: recommended_parameters must be an object or null", name);
            goto fail;
        }
        if ((st = parse_recommended(rp, name, p, err))) goto fail;
    }
    const json_t *sb = json_object_get(root, "static_batch_size");
    if (sb && !json_is_null(sb) && !get_int(sb, 1, 1 << 16, &p->static_batch_hint)) {
        st = core_err(err, MLC_STATUS_BAD_MODEL,
                      "%s: static_batch_size must be a positive integer or null", name);
        goto fail;
    }
fail:
    json_decref(root);
    return st;
}

/* ---- legacy environment.json / model_type.json ---------------------------- */

mlc_status mdl_parse_model_type(const char *text, size_t n, const char *name, struct mdl_package *p,
                                mlc_error *err)
{
    mlc_status st = MLC_OK;
    json_t *root = NULL;
    if ((st = load_json(text, n, name, &root, err))) goto fail;
    const json_t *mt = json_object_get(root, "model_type");
    if (json_is_string(mt) && set_str(&p->architecture, json_string_value(mt))) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "%s: out of memory", name);
        goto fail;
    }
fail:
    json_decref(root);
    return st;
}

static mlc_status parse_legacy_resize(const json_t *rs, const char *name, struct mdl_package *p,
                                      mlc_error *err)
{
    struct mdl_preproc *pp = &p->pp;
    pp->resize = MDL_RESIZE_STRETCH;
    if (!json_is_object(rs)) return MLC_OK;
    /* int() of width/height, used only when the ONNX input is symbolic. */
    double d;
    if (get_number(json_object_get(rs, "width"), &d) && d >= 1 && d <= MAX_INPUT_SIDE)
        p->legacy_resize_w = (int)d;
    if (get_number(json_object_get(rs, "height"), &d) && d >= 1 && d <= MAX_INPUT_SIDE)
        p->legacy_resize_h = (int)d;
    const json_t *f = json_object_get(rs, "format");
    const char *fmt = json_is_string(f) ? json_string_value(f) : "Stretch to";
    if (!strcmp(fmt, "Fit (black edges) in") || !strcmp(fmt, "Fit (reflect edges) in") ||
        !strcmp(fmt, "Fit within") || !strcmp(fmt, "Fill (with center crop) in")) {
        /* the last three are downgraded to black edges by the legacy runtime */
        pp->resize = MDL_RESIZE_FIT;
        pp->pad_value = 0;
    } else if (!strcmp(fmt, "Fit (white edges) in")) {
        pp->resize = MDL_RESIZE_FIT;
        pp->pad_value = 255;
    } else if (!strcmp(fmt, "Fit (grey edges) in")) {
        pp->resize = MDL_RESIZE_FIT;
        pp->pad_value = 114;
    }
    (void)name;
    (void)err;
    return MLC_OK;
}

mlc_status mdl_parse_environment(const char *text, size_t n, const char *name,
                                 struct mdl_package *p, mlc_error *err)
{
    mlc_status st = MLC_OK;
    json_t *root = NULL, *pre_str = NULL;
    if ((st = load_json(text, n, name, &root, err))) goto fail;
    p->format = MDL_FORMAT_LEGACY;
    p->pp.legacy = 1;
    p->pp.rgb = 1;
    p->apply_sigmoid = 0;    /* legacy reports the raw graph output */
    p->strict_threshold = 1; /* legacy: score > threshold */

    const json_t *mc = json_object_get(root, "MULTICLASS");
    if (!mc || !mdl_json_truthy(mc)) {
        st = core_err(err, MLC_STATUS_UNSUPPORTED,
                      "%s: MULTICLASS is not set: this is a single-label classification package, "
                      "not a multi-label one",
                      name);
        goto fail;
    }
    if (set_str(&p->task_type, "multi-label-classification")) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "%s: out of memory", name);
        goto fail;
    }

    const json_t *pre = json_object_get(root, "PREPROCESSING");
    if (json_is_string(pre)) {
        json_error_t je;
        pre_str = json_loads(json_string_value(pre), 0, &je);
        if (!json_is_object(pre_str)) {
            st = core_err(err, MLC_STATUS_BAD_MODEL,
                          "%s: PREPROCESSING is a string but not a JSON object (%s)", name,
                          pre_str ? "not an object" : je.text);
            goto fail;
        }
        pre = pre_str;
    }
    if (!json_is_object(pre)) {
        st = core_err(err, MLC_STATUS_BAD_MODEL,
                      "%s: Could not find PREPROCESSING key in environment file.", name);
        goto fail;
    }
    if ((st = parse_image_ops(pre, name, "PREPROCESSING", 1, &p->pp, err))) goto fail;
    if ((st = parse_legacy_resize(json_object_get(pre, "resize"), name, p, err))) goto fail;
    p->legacy_auto_orient = json_object_get(pre, "auto-orient") != NULL;

    const json_t *cmap = json_object_get(root, "CLASS_MAP");
    if (!json_is_object(cmap) || json_object_size(cmap) == 0) {
        st = core_err(err, MLC_STATUS_BAD_MODEL, "%s: CLASS_MAP must be a non-empty object", name);
        goto fail;
    }
    size_t k = json_object_size(cmap);
    if (k > MAX_CLASSES) {
        st = core_err(err, MLC_STATUS_LIMIT, "%s: CLASS_MAP has %zu classes", name, k);
        goto fail;
    }
    free_names(p->class_names, p->n_classes);
    p->n_classes = 0;
    if (!(p->class_names = mlc_calloc(k, sizeof *p->class_names))) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "%s: out of memory", name);
        goto fail;
    }
    for (size_t i = 0; i < k; i++) {
        char key[32];
        snprintf(key, sizeof key, "%zu", i);
        const json_t *v = json_object_get(cmap, key);
        if (!json_is_string(v)) {
            st = core_err(err, MLC_STATUS_BAD_MODEL,
                          "%s: CLASS_MAP[\"%s\"] is missing or not a string (keys must be "
                          "\"0\"..\"%zu\")",
                          name, key, k - 1);
            goto fail;
        }
        if (!(p->class_names[i] = core_strdup(json_string_value(v)))) {
            st = core_err(err, MLC_STATUS_NO_MEMORY, "%s: out of memory", name);
            goto fail;
        }
        p->n_classes = (int)i + 1;
    }
fail:
    json_decref(pre_str);
    json_decref(root);
    return st;
}

/* ---- class_names.txt ------------------------------------------------------ */

/* Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF):
 * the names end up in JSON, which jansson refuses to build otherwise, and
 * Python reads the file as UTF-8 too. Returns the offset of the first bad
 * byte, or n. */
static size_t utf8_valid_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return i;
        }
        if (k > n - i - 1) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t j = 2; j <= k; j++)
            if (s[i + j] < 0x80 || s[i + j] > 0xBF) return i;
        i += k + 1;
    }
    return n;
}

mlc_status mdl_parse_class_names(const char *text, size_t n, const char *name,
                                 struct mdl_package *p, mlc_error *err)
{
    int cap = 0, cnt = 0;
    char **names = NULL;
    mlc_status st = MLC_OK;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && text[j] != '\n') j++;
        size_t a = i, b = j;
        /* Python str.strip(): whitespace at both ends */
        while (a < b && isspace((unsigned char)text[a])) a++;
        while (b > a && isspace((unsigned char)text[b - 1])) b--;
        if (b > a) {
            if (memchr(text + a, '\0', b - a)) {
                st = core_err(err, MLC_STATUS_BAD_MODEL, "%s: line contains a NUL byte", name);
                goto fail;
            }
            size_t ok = utf8_valid_prefix((const unsigned char *)text + a, b - a);
            if (ok != b - a) {
                st = core_err(err, MLC_STATUS_BAD_MODEL,
                              "%s: class name #%d is not valid UTF-8 (byte 0x%02x at offset %zu)",
                              name, cnt + 1, (unsigned char)text[a + ok], a + ok);
                goto fail;
            }
            if (cnt == MAX_CLASSES) {
                st = core_err(err, MLC_STATUS_LIMIT, "%s: more than %d classes", name, MAX_CLASSES);
                goto fail;
            }
            if (cnt == cap) {
                int nc = cap ? cap * 2 : 16;
                char **nn = mlc_realloc(names, (size_t)nc * sizeof *nn);
                if (!nn) {
                    st = core_err(err, MLC_STATUS_NO_MEMORY, "%s: out of memory", name);
                    goto fail;
                }
                names = nn;
                cap = nc;
            }
            if (!(names[cnt] = core_strndup(text + a, b - a))) {
                st = core_err(err, MLC_STATUS_NO_MEMORY, "%s: out of memory", name);
                goto fail;
            }
            cnt++;
        }
        i = j + 1;
    }
    if (cnt == 0) {
        st = core_err(err, MLC_STATUS_BAD_MODEL, "%s: no class names (file is empty)", name);
        goto fail;
    }
    free_names(p->class_names, p->n_classes);
    p->class_names = names;
    p->n_classes = cnt;
    return MLC_OK;
fail:
    free_names(names, cnt);
    return st;
}

/* ---- confidence choices (public) ---------------------------------------- */

mlc_confidence mlc_confidence_value(double v)
{
    mlc_confidence c = {MLC_CONFIDENCE_VALUE, v};
    return c;
}

mlc_confidence mlc_confidence_best(void)
{
    mlc_confidence c = {MLC_CONFIDENCE_BEST, 0};
    return c;
}

mlc_confidence mlc_confidence_default(void)
{
    mlc_confidence c = {MLC_CONFIDENCE_DEFAULT, 0};
    return c;
}

mlc_status mlc_confidence_parse(const char *text, mlc_confidence *out, mlc_error *err)
{
    if (!text || !out) return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "confidence is NULL");
    if (!strcmp(text, "best")) {
        *out = mlc_confidence_best();
        return MLC_OK;
    }
    if (!strcmp(text, "default")) {
        *out = mlc_confidence_default();
        return MLC_OK;
    }
    char *end = NULL;
    double v = strtod(text, &end);
    if (!*text || end == text || *end || !(v >= 0.0 && v <= 1.0))
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                        "confidence '%s' must be a number in [0, 1], \"best\" or \"default\"",
                        text);
    *out = mlc_confidence_value(v);
    return MLC_OK;
}

/* ---- architecture defaults and thresholds --------------------------------- */

static int starts_with(const char *s, const char *pfx)
{
    return s && !strncmp(s, pfx, strlen(pfx));
}

void mdl_package_finish_arch(struct mdl_package *p)
{
    const char *a = p->architecture ? p->architecture : "";
    if (p->format == MDL_FORMAT_LEGACY) {
        /* Legacy: "default"/"best" are popped and infer() uses 0.5; the
         * normalisation is hard-coded per class (§3.3). */
        p->default_conf = 0.5;
        static const float half[3] = {0.5f, 0.5f, 0.5f};
        static const float in_mean[3] = {0.485f, 0.456f, 0.406f};
        static const float in_std[3] = {0.229f, 0.224f, 0.225f};
        int imagenet = starts_with(a, "resnet") || starts_with(a, "dinov3");
        memcpy(p->pp.mean, imagenet ? in_mean : half, sizeof p->pp.mean);
        memcpy(p->pp.std, imagenet ? in_std : half, sizeof p->pp.std);
        p->pp.has_norm = 1;
        p->pp.has_scaling = 1;
        p->pp.scaling_factor = 255.0;
        return;
    }
    p->default_conf = starts_with(a, "dinov3") ? 0.5 : 0.4;
}

mlc_status mdl_resolve_thresholds(const struct mdl_package *p, mlc_confidence conf, double *thr,
                                  mlc_error *err)
{
    double fallback;
    switch (conf.mode) {
    case MLC_CONFIDENCE_VALUE:
        if (!(conf.value >= 0.0 && conf.value <= 1.0))
            return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "confidence %g is outside [0, 1]",
                            conf.value);
        for (int i = 0; i < p->n_classes; i++) thr[i] = conf.value;
        return MLC_OK;
    case MLC_CONFIDENCE_DEFAULT:
        for (int i = 0; i < p->n_classes; i++) thr[i] = p->default_conf;
        return MLC_OK;
    case MLC_CONFIDENCE_BEST:
        /* class's F1-optimal -> global recommended -> architecture default;
         * the per-class map counts only with a global value (§4.2). */
        fallback = p->has_rec_conf ? p->rec_conf : p->default_conf;
        for (int i = 0; i < p->n_classes; i++) {
            thr[i] = fallback;
            if (!p->has_rec_conf) continue;
            for (int k = 0; k < p->n_per_class; k++)
                if (!strcmp(p->pc_names[k], p->class_names[i])) thr[i] = p->pc_values[k];
        }
        return MLC_OK;
    }
    return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "unknown confidence mode %d", (int)conf.mode);
}
