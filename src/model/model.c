/*
 * model.c - the public "Models" API: loading a package directory (or a model
 * id through cache.c/download.c), the getters, sessions, classification and
 * results.
 *
 * Loading: a directory with inference_config.json is the current format,
 * one with environment.json the legacy format (docs/MODELS.md). The ONNX
 * graph is opened through the public mlc_net_* API only; its first input is
 * the image batch [B,3,H,W] and its first output the scores [B,C], and C must
 * equal the number of class names.
 *
 * Classification: images are preprocessed one by one into the batch tensor
 * (preproc.c), the network runs in chunks (a static batch is padded with
 * zero rows that are dropped afterwards), then the sigmoid (unless fused or
 * legacy) and the per-class thresholds apply: score >= thr for the current
 * format, score > thr for legacy packages, compared in float32 as torch does.
 *
 * Invariants: an mlc_model is immutable after load (sessions only read it);
 * results copy the class names they print, so they outlive the model.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "model/model.h"
#include "model/preproc.h"

/* Images per forward pass when the batch axis is dynamic: bounds the batch
 * tensor; splitting a dynamic batch does not change any score. */
#define DYNAMIC_CHUNK 16

struct mlc_model {
    char *id;
    char *dir;
    struct mdl_package pkg;
    mlc_net *net;
    int n_inputs;
    mlc_dtype in_dtype;
    int static_batch; /* 0 = dynamic */
    mlc_limits limits;
};

struct mlc_session {
    const mlc_model *m;
    mlc_net_session *ns;
};

struct mlc_result {
    char inference_id[37];
    double time;
    int width, height;
    int n_classes;
    float *scores;
    double *thr;
    unsigned char *pred;
    char **names; /* shared by the array; owned by element 0's block */
};

/* ---- options ----------------------------------------------- */

void mlc_model_options_default(mlc_model_options *out)
{
    memset(out, 0, sizeof *out);
    out->precision = MLC_PRECISION_F32;
    out->backend = MLC_BACKEND_AUTO;
    mlc_limits_default(&out->limits);
}

/* ---- loading --------------------------------------------------------------- */

static mlc_status read_pkg_file(const char *dir, const char *file, int required, size_t max,
                                char **data, size_t *n, mlc_error *err)
{
    char *path = core_sprintf("%s/%s", dir, file);
    if (!path) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    mlc_status st = MLC_OK;
    *data = NULL;
    *n = 0;
    if (!core_file_exists(path)) {
        if (required)
            st = core_err(err, MLC_STATUS_NOT_FOUND,
                          "model package '%s' has no %s (a required package file)", dir, file);
    } else {
        st = core_read_file(path, max, data, n, err);
    }
    mlc_free(path);
    return st;
}

static mlc_status parse_file(const char *dir, const char *file, int required,
                             mlc_status (*fn)(const char *, size_t, const char *,
                                              struct mdl_package *, mlc_error *),
                             struct mdl_package *p, mlc_error *err)
{
    char *data = NULL;
    size_t n = 0;
    mlc_status st = read_pkg_file(dir, file, required, 0, &data, &n, err);
    if (st || !data) return st;
    char *name = core_sprintf("%s/%s", dir, file);
    if (!name)
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    else
        st = fn(data, n, name, p, err);
    mlc_free(name);
    mlc_free(data);
    return st;
}

/* Reads the package files (not the ONNX graph) into p; *weights_out is the
 * ONNX path. */
static mlc_status load_package(const char *dir, struct mdl_package *p, char **weights_out,
                               mlc_error *err)
{
    mlc_status st = MLC_OK;
    char *ic = core_sprintf("%s/inference_config.json", dir);
    char *env = core_sprintf("%s/environment.json", dir);
    char *w = NULL;
    if (!ic || !env) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
        goto fail;
    }
    if (core_file_exists(ic)) {
        if ((st =
                 parse_file(dir, "inference_config.json", 1, mdl_parse_inference_config, p, err)) ||
            (st = parse_file(dir, "class_names.txt", 1, mdl_parse_class_names, p, err)) ||
            (st = parse_file(dir, "model_config.json", 0, mdl_parse_model_config, p, err)))
            goto fail;
        if (!p->task_type) {
            /* No model_config.json (a hand-made package): a sigmoid
             * post-processing is what marks a multi-label classifier. */
            if (p->apply_sigmoid < 0) {
                st = core_err(err, MLC_STATUS_BAD_MODEL,
                              "%s: no model_config.json and no post_processing in "
                              "inference_config.json: cannot tell the task type",
                              dir);
                goto fail;
            }
            if (!(p->task_type = core_strdup("multi-label-classification"))) {
                st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
                goto fail;
            }
        }
        if (strcmp(p->task_type, "multi-label-classification")) {
            st = core_err(err, MLC_STATUS_UNSUPPORTED,
                          "%s/model_config.json: task_type is \"%s\"; mlc runs only "
                          "\"multi-label-classification\" models",
                          dir, p->task_type);
            goto fail;
        }
        if (p->apply_sigmoid < 0) {
            if (!p->architecture || strncmp(p->architecture, "dinov3", 6)) {
                st = core_err(err, MLC_STATUS_BAD_MODEL,
                              "%s/inference_config.json: Expected sigmoid to be the "
                              "post-processing (post_processing is missing)",
                              dir);
                goto fail;
            }
            p->apply_sigmoid = 1;
        }
        mdl_package_finish_arch(p);
        w = core_sprintf("%s/weights.onnx", dir);
    } else if (core_file_exists(env)) {
        if ((st = parse_file(dir, "model_type.json", 0, mdl_parse_model_type, p, err))) goto fail;
        if (!p->architecture && !(p->architecture = core_strdup("vit"))) {
            st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
            goto fail;
        }
        if ((st = parse_file(dir, "environment.json", 1, mdl_parse_environment, p, err))) goto fail;
        mdl_package_finish_arch(p);
        w = core_sprintf("%s/best.onnx", dir);
        if (w && !core_file_exists(w)) {
            mlc_free(w);
            w = core_sprintf("%s/weights.onnx", dir);
        }
    } else {
        st = core_err(err, core_dir_exists(dir) ? MLC_STATUS_NOT_FOUND : MLC_STATUS_NOT_FOUND,
                      "'%s' is not a model package: it has neither inference_config.json nor "
                      "environment.json",
                      dir);
        goto fail;
    }
    if (!w) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
        goto fail;
    }
    if (!core_file_exists(w)) {
        st =
            core_err(err, MLC_STATUS_NOT_FOUND, "model package '%s' has no weights file (%s)", dir,
                     p->format == MDL_FORMAT_LEGACY ? "best.onnx or weights.onnx" : "weights.onnx");
        goto fail;
    }
    *weights_out = w;
    w = NULL;
fail:
    mlc_free(w);
    mlc_free(ic);
    mlc_free(env);
    return st;
}

/* Checks the graph's first input/output against the package. */
static mlc_status bind_net(mlc_model *m, const char *wpath, mlc_error *err)
{
    struct mdl_package *p = &m->pkg;
    mlc_tensor in, out;
    if (mlc_net_n_inputs(m->net) < 1 || mlc_net_n_outputs(m->net) < 1)
        return core_err(err, MLC_STATUS_BAD_MODEL, "%s: the graph has no input or no output",
                        wpath);
    m->n_inputs = mlc_net_n_inputs(m->net);
    if (m->n_inputs != 1)
        return core_err(err, MLC_STATUS_UNSUPPORTED,
                        "%s: the graph has %d inputs; an image classifier has one", wpath,
                        m->n_inputs);
    const char *iname = mlc_net_input(m->net, 0, &in);
    mlc_net_output(m->net, 0, &out);
    if (in.rank != 4 || (in.dims[1] != 3 && in.dims[1] != -1))
        return core_err(err, MLC_STATUS_BAD_MODEL,
                        "%s: input '%s' must have shape [batch, 3, height, width]", wpath,
                        iname ? iname : "?");
    if (in.dtype != MLC_DTYPE_F32 && in.dtype != MLC_DTYPE_F16 && in.dtype != MLC_DTYPE_U8 &&
        in.dtype != MLC_DTYPE_F64)
        return core_err(err, MLC_STATUS_UNSUPPORTED,
                        "%s: input '%s' has element type %d; float32, float16, float64 or uint8 "
                        "expected",
                        wpath, iname ? iname : "?", (int)in.dtype);
    m->in_dtype = in.dtype;
    m->static_batch = in.dims[0] > 0 ? (int)in.dims[0] : 0;
    if (p->format == MDL_FORMAT_LEGACY) {
        /* Legacy: the ONNX spatial shape decides; symbolic -> PREPROCESSING
         * resize, else 640x640. */
        p->pp.height =
            in.dims[2] > 0 ? (int)in.dims[2] : (p->legacy_resize_h ? p->legacy_resize_h : 640);
        p->pp.width =
            in.dims[3] > 0 ? (int)in.dims[3] : (p->legacy_resize_w ? p->legacy_resize_w : 640);
    } else if ((in.dims[2] > 0 && in.dims[2] != p->pp.height) ||
               (in.dims[3] > 0 && in.dims[3] != p->pp.width)) {
        return core_err(err, MLC_STATUS_BAD_MODEL,
                        "%s: input '%s' is %lldx%lld (HxW) but inference_config.json "
                        "training_input_size is %dx%d",
                        wpath, iname ? iname : "?", (long long)in.dims[2], (long long)in.dims[3],
                        p->pp.height, p->pp.width);
    }
    if (out.rank < 1) return core_err(err, MLC_STATUS_BAD_MODEL, "%s: output 0 is a scalar", wpath);
    int64_t c = out.dims[out.rank - 1];
    if (c > 0 && c != p->n_classes)
        return core_err(err, MLC_STATUS_BAD_MODEL,
                        "%s: the graph outputs %lld scores per image but the package lists %d "
                        "classes",
                        wpath, (long long)c, p->n_classes);
    return MLC_OK;
}

static mlc_status load_dir(const char *dir, const char *id, const mlc_model_options *opt,
                           mlc_model **model_out, mlc_error *err)
{
    mlc_status st = MLC_OK;
    char *wpath = NULL;
    mlc_model *m = mlc_calloc(1, sizeof *m);
    if (!m) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    mdl_package_init(&m->pkg);
    m->limits = opt->limits;
    if (!(m->id = core_strdup(id)) || !(m->dir = core_strdup(dir))) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
        goto fail;
    }
    if ((st = load_package(dir, &m->pkg, &wpath, err))) goto fail;
    /* mlc_net_load's messages already start with the path */
    if ((st = mlc_net_load(wpath, opt, &m->net, err))) goto fail;
    if ((st = bind_net(m, wpath, err))) goto fail;
    mlc_free(wpath);
    *model_out = m;
    return MLC_OK;
fail:
    mlc_free(wpath);
    mlc_model_free(m);
    return st;
}

/* Shared by mlc_model_load and mdl_model_load_id: `allow_dir` says whether
 * the string may name a package directory on this machine. */
static mlc_status load_any(const char *dir_or_id, int allow_dir, const mlc_model_options *opt,
                           mlc_model **model_out, mlc_error *err)
{
    mlc_model_options o;
    if (!dir_or_id || !*dir_or_id || !model_out)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "model directory or id is empty");
    if (opt)
        o = *opt;
    else
        mlc_model_options_default(&o);
    mlc_limits defl;
    mlc_limits_default(&defl);
    if (!o.limits.max_input_bytes) o.limits.max_input_bytes = defl.max_input_bytes;
    if (!o.limits.max_image_pixels) o.limits.max_image_pixels = defl.max_image_pixels;
    if (!o.limits.max_url_bytes) o.limits.max_url_bytes = defl.max_url_bytes;
    if (!o.limits.url_timeout_ms) o.limits.url_timeout_ms = defl.url_timeout_ms;
    if (!o.limits.max_json_depth) o.limits.max_json_depth = defl.max_json_depth;
    if (!o.limits.max_batch) o.limits.max_batch = defl.max_batch;

    if (allow_dir && core_dir_exists(dir_or_id))
        return load_dir(dir_or_id, dir_or_id, &o, model_out, err);
    if (!mdl_is_model_id(dir_or_id)) return mdl_model_id_error(dir_or_id, allow_dir, err);
    char *dir = NULL;
    int own = 0;
    mlc_status st = mdl_fetch_model(dir_or_id, &o, &dir, &own, err);
    if (st) return st;
    /* The weights oneDNN packed are kept next to the package mlc downloaded,
     * as inference keeps TensorRT's engines in its model cache: a later
     * process maps them instead of reordering the weights again (a third of
     * a cold start or more, docs/PERFORMANCE.md). Not in inference_models'
     * tree, not through a symlink out of the cache root (the user's own
     * files), nor when the caller or $MLC_PACK_CACHE (even empty) decides. */
    if (own && !o.pack_cache && !getenv("MLC_PACK_CACHE")) o.pack_cache = dir;
    st = load_dir(dir, dir_or_id, &o, model_out, err);
    mlc_free(dir);
    return st;
}

mlc_status mlc_model_load(const char *dir_or_id, const mlc_model_options *opt,
                          mlc_model **model_out, mlc_error *err)
{
    return load_any(dir_or_id, 1, opt, model_out, err);
}

mlc_status mdl_model_load_id(const char *id, const mlc_model_options *opt, mlc_model **model_out,
                             mlc_error *err)
{
    return load_any(id, 0, opt, model_out, err);
}

void mlc_model_free(mlc_model *m)
{
    if (!m) return;
    mlc_net_free(m->net);
    mdl_package_free(&m->pkg);
    mlc_free(m->id);
    mlc_free(m->dir);
    mlc_free(m);
}

int mlc_model_n_classes(const mlc_model *m)
{
    return m ? m->pkg.n_classes : 0;
}

const char *mlc_model_class_name(const mlc_model *m, int i)
{
    return m && i >= 0 && i < m->pkg.n_classes ? m->pkg.class_names[i] : NULL;
}

const char *mlc_model_id(const mlc_model *m)
{
    return m ? m->id : NULL;
}

const char *mlc_model_task_type(const mlc_model *m)
{
    return m ? m->pkg.task_type : NULL;
}

const char *mlc_model_architecture(const mlc_model *m)
{
    return m && m->pkg.architecture ? m->pkg.architecture : "";
}

void mlc_model_input_size(const mlc_model *m, int *width_out, int *height_out)
{
    if (width_out) *width_out = m ? m->pkg.pp.width : 0;
    if (height_out) *height_out = m ? m->pkg.pp.height : 0;
}

int mlc_model_static_batch(const mlc_model *m)
{
    return m ? m->static_batch : 0;
}

const struct mdl_package *mdl_model_package(const mlc_model *m)
{
    return &m->pkg;
}

/* ---- sessions -------------------------------------------------------------- */

mlc_status mlc_session_create(const mlc_model *m, mlc_session **session_out, mlc_error *err)
{
    if (!m || !session_out)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "model or session_out is NULL");
    mlc_session *s = mlc_calloc(1, sizeof *s);
    if (!s) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    s->m = m;
    mlc_status st = mlc_net_session_create(m->net, &s->ns, err);
    if (st) {
        mlc_free(s);
        return st;
    }
    *session_out = s;
    return MLC_OK;
}

void mlc_session_free(mlc_session *s)
{
    if (!s) return;
    mlc_net_session_free(s->ns);
    mlc_free(s);
}

/* ---- classification -------------------------------------------------------- */

static uint16_t f32_to_f16(float f)
{
    /* round-to-nearest-even conversion, as a cast in torch/onnxruntime */
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    int32_t e = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t man = x & 0x7fffffu;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t h = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

/* Converts the f32 batch into the graph's input dtype (in place when f32). */
static mlc_status cast_input(const float *src, size_t n, mlc_dtype dt, void **buf_out,
                             mlc_error *err)
{
    void *b = mlc_alloc(n * mlc_dtype_size(dt) + 1);
    if (!b) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory for the input tensor");
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case MLC_DTYPE_F16:
            ((uint16_t *)b)[i] = f32_to_f16(src[i]);
            break;
        case MLC_DTYPE_F64:
            ((double *)b)[i] = src[i];
            break;
        case MLC_DTYPE_U8: {
            float v = src[i] < 0 ? 0 : src[i] > 255 ? 255 : src[i];
            ((uint8_t *)b)[i] = (uint8_t)v;
            break;
        }
        default:
            ((float *)b)[i] = src[i];
            break;
        }
    }
    *buf_out = b;
    return MLC_OK;
}

static float out_value(const mlc_tensor *t, size_t i)
{
    switch (t->dtype) {
    case MLC_DTYPE_F64:
        return (float)((const double *)t->data)[i];
    case MLC_DTYPE_F16: {
        uint16_t h = ((const uint16_t *)t->data)[i];
        uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, man = h & 0x3ffu;
        float f;
        if (e == 0)
            f = ldexpf((float)man, -24);
        else if (e == 31)
            f = man ? NAN : INFINITY;
        else
            f = ldexpf((float)(man | 0x400u), (int)e - 25);
        return sign ? -f : f;
    }
    default:
        return ((const float *)t->data)[i];
    }
}

/* Runs one chunk of `rows` real images (the tensor has `bsz` rows). */
static mlc_status run_chunk(mlc_session *s, const float *x, int bsz, int rows, float *scores,
                            mlc_error *err)
{
    const mlc_model *m = s->m;
    const struct mdl_package *p = &m->pkg;
    mlc_status st = MLC_OK;
    void *cast = NULL;
    size_t per = (size_t)3 * (size_t)p->pp.height * (size_t)p->pp.width;
    mlc_tensor in, out;
    memset(&out, 0, sizeof out);
    mlc_net_input(m->net, 0, &in);
    in.rank = 4;
    in.dims[0] = bsz;
    in.dims[1] = 3;
    in.dims[2] = p->pp.height;
    in.dims[3] = p->pp.width;
    if (m->in_dtype == MLC_DTYPE_F32) {
        in.data = (void *)x;
    } else {
        if ((st = cast_input(x, per * (size_t)bsz, m->in_dtype, &cast, err))) goto fail;
        in.data = cast;
    }
    in.dtype = m->in_dtype;
    if ((st = mlc_net_run(s->ns, &in, 1, &out, 1, err))) goto fail;
    size_t numel = 1;
    for (int d = 0; d < out.rank; d++) numel *= (size_t)(out.dims[d] > 0 ? out.dims[d] : 0);
    if (out.rank < 1 || numel != (size_t)bsz * (size_t)p->n_classes ||
        (out.dtype != MLC_DTYPE_F32 && out.dtype != MLC_DTYPE_F16 && out.dtype != MLC_DTYPE_F64)) {
        st = core_err(err, MLC_STATUS_BAD_MODEL,
                      "model output has %zu values for a batch of %d, expected %d classes per "
                      "image",
                      numel, bsz, p->n_classes);
        goto fail;
    }
    for (size_t i = 0; i < (size_t)rows * (size_t)p->n_classes; i++) {
        float v = out_value(&out, i);
        if (p->apply_sigmoid) v = 1.0f / (1.0f + expf(-v));
        scores[i] = v;
    }
fail:
    mlc_free(cast);
    return st;
}

/* One block: results[n], then names[nc] pointers, then per result scores,
 * thresholds and flags, then the names' bytes. */
static mlc_result *alloc_results(const struct mdl_package *p, size_t n)
{
    size_t nc = (size_t)p->n_classes;
    size_t names_bytes = 0;
    for (size_t i = 0; i < nc; i++) names_bytes += strlen(p->class_names[i]) + 1;
    size_t off_names = n * sizeof(mlc_result);
    size_t off_scores = off_names + nc * sizeof(char *);
    off_scores = (off_scores + 7) & ~(size_t)7;
    size_t off_thr = off_scores + n * nc * sizeof(float);
    off_thr = (off_thr + 7) & ~(size_t)7;
    size_t off_pred = off_thr + n * nc * sizeof(double);
    size_t off_text = off_pred + n * nc;
    char *blk = mlc_calloc(1, off_text + names_bytes + 1);
    if (!blk) return NULL;
    mlc_result *r = (mlc_result *)blk;
    char **names = (char **)(blk + off_names);
    char *t = blk + off_text;
    for (size_t i = 0; i < nc; i++) {
        size_t k = strlen(p->class_names[i]) + 1;
        memcpy(t, p->class_names[i], k);
        names[i] = t;
        t += k;
    }
    for (size_t i = 0; i < n; i++) {
        r[i].n_classes = (int)nc;
        r[i].names = names;
        r[i].scores = (float *)(blk + off_scores) + i * nc;
        r[i].thr = (double *)(blk + off_thr) + i * nc;
        r[i].pred = (unsigned char *)(blk + off_pred) + i * nc;
    }
    return r;
}

mlc_status mlc_classify_ex(mlc_session *s, const mlc_image *const *images, size_t n,
                           mlc_confidence conf, unsigned flags, mlc_result **results_out,
                           mlc_error *err)
{
    mlc_status st = MLC_OK;
    mlc_result *res = NULL;
    float *x = NULL, *scores = NULL;
    double *thr = NULL;
    if (!s || !images || !results_out)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "session, images or results_out is NULL");
    const mlc_model *m = s->m;
    const struct mdl_package *p = &m->pkg;
    if (n == 0) return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "no images to classify");
    if (n > (size_t)m->limits.max_batch)
        return core_err(err, MLC_STATUS_LIMIT, "%zu images in one call, more than the limit of %d",
                        n, m->limits.max_batch);
    for (size_t i = 0; i < n; i++)
        if (!images[i]) return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "image %zu is NULL", i);
    double t0 = core_now();
    size_t nc = (size_t)p->n_classes;
    if (!(thr = mlc_alloc(nc * sizeof *thr))) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
        goto fail;
    }
    if ((st = mdl_resolve_thresholds(p, conf, thr, err))) goto fail;

    /* DINOv3 multi-label ignores the request's disable_preproc_* flags. */
    if (p->format == MDL_FORMAT_CURRENT && p->architecture &&
        !strncmp(p->architecture, "dinov3", 6))
        flags = 0;

    int chunk = m->static_batch ? m->static_batch : DYNAMIC_CHUNK;
    size_t per = (size_t)3 * (size_t)p->pp.height * (size_t)p->pp.width;
    if (!(x = mlc_alloc(per * (size_t)chunk * sizeof *x)) ||
        !(scores = mlc_alloc(n * nc * sizeof *scores)) || !(res = alloc_results(p, n))) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory for a batch of %d", chunk);
        goto fail;
    }
    for (size_t b = 0; b < n; b += (size_t)chunk) {
        int rows = (int)(n - b < (size_t)chunk ? n - b : (size_t)chunk);
        int bsz = m->static_batch ? m->static_batch : rows;
        for (int r = 0; r < rows; r++) {
            if ((st = mdl_preprocess(&p->pp, images[b + (size_t)r], flags, x + per * (size_t)r,
                                     err))) {
                core_err_prefix(err, "image %zu", b + (size_t)r);
                goto fail;
            }
        }
        /* pad rows of a static batch are zeros and their scores dropped */
        if (bsz > rows) memset(x + per * (size_t)rows, 0, per * (size_t)(bsz - rows) * sizeof *x);
        if ((st = run_chunk(s, x, bsz, rows, scores + b * nc, err))) goto fail;
    }
    double elapsed = core_now() - t0;
    char id[37];
    core_uuid4(id);
    for (size_t i = 0; i < n; i++) {
        mlc_result *r = &res[i];
        memcpy(r->inference_id, id, sizeof id);
        r->time = elapsed;
        r->width = mlc_image_width(images[i]);
        r->height = mlc_image_height(images[i]);
        for (size_t c = 0; c < nc; c++) {
            float sc = scores[i * nc + c];
            r->scores[c] = sc;
            r->thr[c] = thr[c];
            /* torch compares float32 with the threshold cast to float32;
             * legacy compares Python floats (doubles) strictly */
            r->pred[c] = p->strict_threshold ? (double)sc > thr[c] : sc >= (float)thr[c];
        }
    }
    *results_out = res;
    res = NULL;
fail:
    mlc_free(res);
    mlc_free(x);
    mlc_free(scores);
    mlc_free(thr);
    return st;
}

mlc_status mlc_classify(mlc_session *s, const mlc_image *const *images, size_t n,
                        mlc_confidence conf, mlc_result **results_out, mlc_error *err)
{
    return mlc_classify_ex(s, images, n, conf, 0, results_out, err);
}

/* ---- results --------------------------------------------------------------- */

void mlc_result_free(mlc_result *results)
{
    mlc_free(results);
}

const mlc_result *mlc_result_at(const mlc_result *results, size_t i)
{
    return results ? &results[i] : NULL;
}

int mlc_result_n_classes(const mlc_result *r)
{
    return r ? r->n_classes : 0;
}

double mlc_result_score(const mlc_result *r, int class_id)
{
    return r && class_id >= 0 && class_id < r->n_classes ? (double)r->scores[class_id] : NAN;
}

double mlc_result_threshold(const mlc_result *r, int class_id)
{
    return r && class_id >= 0 && class_id < r->n_classes ? r->thr[class_id] : NAN;
}

int mlc_result_is_predicted(const mlc_result *r, int class_id)
{
    return r && class_id >= 0 && class_id < r->n_classes ? r->pred[class_id] : 0;
}

const char *mlc_result_inference_id(const mlc_result *r)
{
    return r ? r->inference_id : NULL;
}

/* Python's repr of float(score), so mlc prints what Roboflow prints; a
 * non-finite score (a broken model) stays valid JSON. */
static void fmt_double(char buf[40], double v)
{
    if (!isfinite(v))
        snprintf(buf, 40, "null");
    else
        core_format_double(v, buf);
}

static mlc_status put_string(struct core_buf *b, const char *s)
{
    json_t *j = json_string(s);
    char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    mlc_status st = t ? core_buf_append(b, t, strlen(t)) : MLC_STATUS_NO_MEMORY;
    core_libc_free(t); /* jansson's buffer */
    json_decref(j);
    return st;
}

mlc_status mlc_result_to_json(const mlc_result *r, unsigned flags, char **json_out, mlc_error *err)
{
    if (!r || !json_out) return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "result is NULL");
    int pretty = (flags & MLC_JSON_PRETTY) != 0;
    const char *nl = pretty ? "\n" : "", *i1 = pretty ? "  " : "", *i2 = pretty ? "    " : "",
               *i3 = pretty ? "      " : "", *sp = pretty ? " " : "";
    struct core_buf b;
    core_buf_init(&b, 0);
    char num[40];
    mlc_status st = MLC_OK;
    fmt_double(num, r->time);
    st = core_buf_printf(&b, "{%s%s\"inference_id\":%s\"%s\",%s%s\"time\":%s%s,%s", nl, i1, sp,
                         r->inference_id, nl, i1, sp, num, nl);
    if (!st)
        st = core_buf_printf(
            &b, "%s\"image\":%s{\"width\":%s%d,%s\"height\":%s%d},%s%s\"predictions\":%s{", i1, sp,
            sp, r->width, sp, sp, r->height, nl, i1, sp);
    for (int c = 0; !st && c < r->n_classes; c++) {
        fmt_double(num, (double)r->scores[c]);
        st = core_buf_printf(&b, "%s%s%s", c ? "," : "", nl, i2);
        if (!st) st = put_string(&b, r->names[c]);
        if (!st)
            st = core_buf_printf(&b, ":%s{%s%s\"confidence\":%s%s,%s%s\"class_id\":%s%d%s%s}", sp,
                                 nl, i3, sp, num, nl, i3, sp, c, nl, i2);
    }
    if (!st) st = core_buf_printf(&b, "%s%s},%s%s\"predicted_classes\":%s[", nl, i1, nl, i1, sp);
    int k = 0;
    for (int c = 0; !st && c < r->n_classes; c++) {
        if (!r->pred[c]) continue;
        st = core_buf_printf(&b, "%s%s%s", k++ ? "," : "", nl, i2);
        if (!st) st = put_string(&b, r->names[c]);
    }
    if (!st) st = core_buf_printf(&b, "%s%s]%s}", k ? nl : "", k ? i1 : "", nl);
    if (st) {
        core_buf_free(&b);
        return core_err(err, st, "cannot write the result JSON: %s", mlc_status_str(st));
    }
    *json_out = core_buf_take(&b);
    return MLC_OK;
}
