/*
 * exec.c - runs a compiled workflow on one /workflows/run "inputs" object:
 * assembles runtime inputs (images from base64/url/file with Roboflow's
 * parent ids, parameters with defaults and kind checks), runs each step in
 * topological order over the whole batch through its block vtable, and
 * serialises {"outputs": [...]} the way Roboflow's server does (images as
 * {"type": "base64", "value", "video_metadata"} plus lineage for crops).
 * Also holds the per-workflow model cache (mutex-guarded, loaded once).
 *
 * Does not: validate definitions (compile.c) or know block semantics
 * (blocks/). Invariants: every image and JSON value a run creates is owned
 * by struct wf_exec and released in exec_free; the compiled workflow is
 * only read, except the model cache under wf->lock.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "model/model.h"
#include "workflow/workflow.h"

/* ------------------------------------------------------------ model cache */

/* Roboflow's id checks (spec 7.4) for ids that are not package directories. */
static mlc_status check_model_id(const char *id, struct wf_error *we)
{
    int slashes = 0;
    for (const char *p = id; *p; p++) slashes += *p == '/';
    if (slashes > 1)
        return wf_fail(we, MLC_STATUS_INVALID_ARGUMENT, 400, "InvalidModelIDError", WF_CTX_STEP,
                       "Problem with Workflow Block configuration - Model ID: `%s` is invalid.",
                       id);
    /* empty, "." or ".." path segments (validate_model_id_for_cache) */
    const char *seg = id;
    for (;;) {
        const char *e = strchr(seg, '/');
        size_t len = e ? (size_t)(e - seg) : strlen(seg);
        if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && !strncmp(seg, "..", 2)))
            return wf_fail(we, MLC_STATUS_INVALID_ARGUMENT, 500, "ValueError", WF_CTX_STEP,
                           "model id '%s' has an empty, '.' or '..' path segment", id);
        if (!e) break;
        seg = e + 1;
    }
    return MLC_OK;
}

static int http_for(mlc_status st)
{
    switch (st) {
    case MLC_STATUS_NOT_FOUND:
        return 404;
    case MLC_STATUS_UNAUTHORIZED:
        return 401;
    case MLC_STATUS_INVALID_ARGUMENT:
        return 400;
    default:
        return 500;
    }
}

mlc_status wf_model_get(mlc_workflow *wf, const char *model_id, const char *api_key, int allow_dirs,
                        const mlc_model **model_out, struct wf_error *we)
{
    mlc_status st = MLC_OK;
    mlc_model *m = NULL;
    mlc_error err = {0};
    pthread_mutex_lock(&wf->lock);
    for (int i = 0; i < wf->n_models; i++)
        if (!strcmp(wf->models[i].id, model_id)) {
            *model_out = wf->models[i].model;
            goto out;
        }
    /* A client of the server must not make it open (or probe for) package
     * directories: then the string is a Roboflow id and nothing else. */
    int as_dir = allow_dirs && core_dir_exists(model_id);
    if (!as_dir && (st = check_model_id(model_id, we))) goto out;
    mlc_model_options mo;
    if (wf->has_mopt)
        mo = wf->mopt;
    else
        mlc_model_options_default(&mo);
    if (api_key) mo.api_key = api_key;
    /* Loading under the lock keeps "once per workflow" simple; concurrent runs
     * of one workflow wait for the first load instead of loading twice. */
    if ((st = as_dir ? mlc_model_load(model_id, &mo, &m, &err)
                     : mdl_model_load_id(model_id, &mo, &m, &err))) {
        const char *type = st == MLC_STATUS_NOT_FOUND      ? "ModelNotFoundError"
                           : st == MLC_STATUS_UNAUTHORIZED ? "RoboflowAPINotAuthorizedError"
                           : st == MLC_STATUS_NETWORK      ? "RoboflowAPIConnectionError"
                                                           : "ModelLoadError";
        wf_fail(we, st, http_for(st), type, WF_CTX_STEP, "cannot load model '%s': %s", model_id,
                err.message);
        goto out;
    }
    if (wf->n_models == wf->cap_models) {
        int cap = wf->cap_models ? wf->cap_models * 2 : 4;
        struct wf_model_entry *ne = mlc_realloc(wf->models, (size_t)cap * sizeof *ne);
        if (!ne) {
            st = wf_fail(we, MLC_STATUS_NO_MEMORY, 500, "MemoryError", WF_CTX_STEP,
                         "out of memory caching model '%s'", model_id);
            goto out;
        }
        wf->models = ne;
        wf->cap_models = cap;
    }
    char *id = core_strdup(model_id);
    if (!id) {
        st = wf_fail(we, MLC_STATUS_NO_MEMORY, 500, "MemoryError", WF_CTX_STEP,
                     "out of memory caching model '%s'", model_id);
        goto out;
    }
    memset(&wf->models[wf->n_models], 0, sizeof wf->models[wf->n_models]);
    wf->models[wf->n_models].id = id;
    wf->models[wf->n_models].model = m;
    wf->n_models++;
    *model_out = m;
    m = NULL;
out:
    pthread_mutex_unlock(&wf->lock);
    mlc_model_free(m);
    return st;
}

static struct wf_model_entry *entry_of(mlc_workflow *wf, const mlc_model *m)
{
    for (int i = 0; i < wf->n_models; i++)
        if (wf->models[i].model == m) return &wf->models[i];
    return NULL;
}

mlc_status wf_session_take(mlc_workflow *wf, const mlc_model *m, mlc_session **s_out,
                           mlc_error *err)
{
    pthread_mutex_lock(&wf->lock);
    struct wf_model_entry *e = entry_of(wf, m);
    if (e && e->n_idle > 0) {
        *s_out = e->idle[--e->n_idle];
        pthread_mutex_unlock(&wf->lock);
        return MLC_OK;
    }
    if (e) e->n_made++;
    pthread_mutex_unlock(&wf->lock);
    return mlc_session_create(m, s_out, err);
}

void wf_session_give(mlc_workflow *wf, const mlc_model *m, mlc_session *s)
{
    if (!s) return;
    pthread_mutex_lock(&wf->lock);
    struct wf_model_entry *e = entry_of(wf, m);
    if (e && e->n_idle < WF_IDLE_SESSIONS) {
        e->idle[e->n_idle++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&wf->lock);
    mlc_session_free(s);
}

/* ------------------------------------------------------------- run state */

void wf_run_options_default(struct wf_run_options *ro)
{
    memset(ro, 0, sizeof *ro);
    ro->allow_file_images = 1;
    ro->allow_url_images = 1;
}

int wf_prop_index(const struct wf_block_vtbl *vt, const char *name)
{
    for (int i = 0; i < vt->n_props; i++)
        if (!strcmp(vt->props[i].name, name)) return i;
    return -1;
}

static struct wf_val json_val(json_t *j)
{
    struct wf_val v = {WF_V_JSON, j, NULL};
    return v;
}

struct wf_val wf_exec_prop(struct wf_exec *x, const struct wf_step *st, int p, size_t i)
{
    static const struct wf_val none = {WF_V_NONE, NULL, NULL};
    const struct wf_pval *pv = &st->vals[p];
    switch (pv->ref) {
    case WF_REF_NONE:
        return json_val(pv->literal);
    case WF_REF_INPUT:
        if (x->wf->inputs[pv->input].type == WF_IN_PARAM) return json_val(x->params[pv->input]);
        return x->input_vals[pv->input][i];
    case WF_REF_STEP:
        return x->step_vals[pv->step][pv->output][i];
    }
    return none;
}

void wf_exec_set_json(struct wf_exec *x, const struct wf_step *st, int o, size_t i, json_t *v)
{
    struct wf_val *slot = &x->step_vals[st->index][o][i];
    if (slot->type == WF_V_JSON && slot->json) json_decref(slot->json);
    slot->type = v ? WF_V_JSON : WF_V_NONE;
    slot->json = v;
}

void wf_exec_set_image(struct wf_exec *x, const struct wf_step *st, int o, size_t i,
                       struct wf_img *img)
{
    struct wf_val *slot = &x->step_vals[st->index][o][i];
    slot->type = img ? WF_V_IMAGE : WF_V_NONE;
    slot->img = img;
}

char *wf_exec_strdup(struct wf_exec *x, const char *s)
{
    return core_arena_strdup(&x->arena, s ? s : "");
}

struct wf_img *wf_exec_new_image(struct wf_exec *x, mlc_image *im)
{
    if (x->n_owned == x->cap_owned) {
        size_t cap = x->cap_owned ? x->cap_owned * 2 : 16;
        mlc_image **n = mlc_realloc(x->owned_images, cap * sizeof *n);
        if (!n) {
            mlc_image_free(im);
            return NULL;
        }
        x->owned_images = n;
        x->cap_owned = cap;
    }
    x->owned_images[x->n_owned++] = im;
    struct wf_img *w = core_arena_alloc(&x->arena, sizeof *w);
    if (!w) return NULL;
    w->img = im;
    return w;
}

static void exec_free(struct wf_exec *x)
{
    const mlc_workflow *wf = x->wf;
    if (x->step_vals)
        for (int s = 0; s < wf->n_steps; s++) {
            if (!x->step_vals[s]) continue;
            for (int o = 0; o < wf->steps[s].vt->n_outputs; o++)
                for (size_t i = 0; i < x->n; i++)
                    if (x->step_vals[s][o][i].type == WF_V_JSON && x->step_vals[s][o][i].json)
                        json_decref(x->step_vals[s][o][i].json);
        }
    if (x->input_vals)
        for (int k = 0; k < wf->n_inputs; k++)
            if (x->input_vals[k] && wf->inputs[k].type == WF_IN_BATCH)
                for (size_t i = 0; i < x->n; i++)
                    if (x->input_vals[k][i].json) json_decref(x->input_vals[k][i].json);
    for (size_t i = 0; i < x->n_owned; i++) mlc_image_free(x->owned_images[i]);
    mlc_free(x->owned_images);
    core_arena_free(&x->arena);
}

/* --------------------------------------------------------- input assembly */

static mlc_status input_error(struct wf_error *we, mlc_status st, const char *fmt, ...)
    CORE_PRINTF(3, 4);
static mlc_status input_error(struct wf_error *we, mlc_status st, const char *fmt, ...)
{
    char msg[MLC_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return wf_fail(we, st, 400, "RuntimeInputError", WF_CTX_INPUT, "%s", msg);
}

static mlc_status load_image(struct wf_exec *x, const struct wf_input *in, json_t *v, size_t idx,
                             int is_list, struct wf_val *out, struct wf_error *we)
{
    mlc_input_kind kind = MLC_INPUT_AUTO;
    const char *text = NULL, *pid = NULL, *rpid = NULL;
    if (json_is_string(v)) {
        text = json_string_value(v);
    } else if (json_is_object(v)) {
        json_t *t = json_object_get(v, "type"), *val = json_object_get(v, "value");
        const char *ty = json_is_string(t) ? json_string_value(t) : "";
        if (!json_is_string(val))
            return input_error(we, MLC_STATUS_BAD_WORKFLOW,
                               "input '%s'%s: image must be {\"type\": \"base64\"|\"url\"|"
                               "\"file\", \"value\": \"...\"}",
                               in->name, is_list ? " (batch element)" : "");
        text = json_string_value(val);
        if (!strcmp(ty, "base64"))
            kind = MLC_INPUT_BASE64;
        else if (!strcmp(ty, "url"))
            kind = MLC_INPUT_URL;
        else if (!strcmp(ty, "file"))
            kind = MLC_INPUT_PATH;
        else
            return wf_fail(we, MLC_STATUS_BAD_WORKFLOW, 400, "InvalidInputTypeError", WF_CTX_INPUT,
                           "input '%s': image type '%s' is not supported (use base64, url or file)",
                           in->name, ty);
        json_t *p = json_object_get(v, "parent_id"), *r = json_object_get(v, "root_parent_id");
        if (json_is_string(p)) pid = json_string_value(p);
        if (json_is_string(r)) rpid = json_string_value(r);
    } else {
        return input_error(we, MLC_STATUS_BAD_WORKFLOW,
                           "input '%s': expected an image object or a list of them", in->name);
    }
    /* A bare string: mlc_image_load would probe the file system and fetch
     * URLs by itself, around the switches below. Decide its kind here. */
    if (kind == MLC_INPUT_AUTO && strstr(text, "://"))
        kind = MLC_INPUT_URL;
    else if (kind == MLC_INPUT_AUTO && !x->ro->allow_file_images)
        kind = MLC_INPUT_BASE64;
    if (kind == MLC_INPUT_PATH && !x->ro->allow_file_images)
        return wf_fail(we, MLC_STATUS_BAD_WORKFLOW, 400, "InvalidInputTypeError", WF_CTX_INPUT,
                       "input '%s': loading images from local files is disabled", in->name);
    if (kind == MLC_INPUT_URL && !x->ro->allow_url_images)
        return wf_fail(we, MLC_STATUS_BAD_WORKFLOW, 400, "InvalidInputTypeError", WF_CTX_INPUT,
                       "input '%s': loading images from URLs is disabled", in->name);
    mlc_image *im = NULL;
    mlc_error err = {0};
    /* A workflow computing on several threads wants latency: so does its decode. */
    unsigned flags = x->wf->has_mopt && x->wf->mopt.threads == 1 ? 0 : MLC_IMAGE_TWO_THREADS;
    mlc_status st = mlc_image_load(kind, text, flags, &x->wf->limits, &im, &err);
    if (st)
        return wf_fail(we, st, 400, "InputImageLoadError", WF_CTX_INPUT,
                       "Could not load input image. Cause: input '%s'%s: %s", in->name,
                       is_list ? " (batch element)" : "", err.message);
    struct wf_img *w = wf_exec_new_image(x, im);
    if (!w)
        return wf_fail(we, MLC_STATUS_NO_MEMORY, 500, "MemoryError", WF_CTX_INPUT, "out of memory");
    char idbuf[300];
    if (is_list)
        snprintf(idbuf, sizeof idbuf, "%s.[%zu]", in->name, idx);
    else
        snprintf(idbuf, sizeof idbuf, "%s", in->name);
    w->parent_id = wf_exec_strdup(x, pid ? pid : idbuf);
    w->root_parent_id = wf_exec_strdup(x, rpid ? rpid : w->parent_id);
    w->origin_w = w->root_w = mlc_image_width(im);
    w->origin_h = w->root_h = mlc_image_height(im);
    if (kind == MLC_INPUT_BASE64) w->base64 = text; /* borrowed from the inputs document */
    if (!w->parent_id || !w->root_parent_id)
        return wf_fail(we, MLC_STATUS_NO_MEMORY, 500, "MemoryError", WF_CTX_INPUT, "out of memory");
    out->type = WF_V_IMAGE;
    out->img = w;
    return MLC_OK;
}

/* Roboflow deserialises declared parameter kinds; mlc checks the ones its
 * blocks use and passes anything else through. */
static int value_fits_kinds(char *const *kinds, const json_t *v)
{
    int known = 0;
    for (char *const *k = kinds; k && *k; k++) {
        if (!strcmp(*k, "*")) return 1;
        if (!strcmp(*k, "float_zero_to_one")) {
            known = 1;
            if (json_is_number(v) && json_number_value(v) >= 0 && json_number_value(v) <= 1)
                return 1;
        } else if (!strcmp(*k, "float")) {
            known = 1;
            if (json_is_number(v)) return 1;
        } else if (!strcmp(*k, "integer")) {
            known = 1;
            if (json_is_integer(v)) return 1;
        } else if (!strcmp(*k, "boolean")) {
            known = 1;
            if (json_is_boolean(v)) return 1;
        } else if (!strcmp(*k, "string") || !strcmp(*k, "roboflow_model_id") ||
                   !strcmp(*k, "roboflow_project")) {
            known = 1;
            if (json_is_string(v)) return 1;
        } else {
            return 1; /* a kind mlc does not deserialise: pass through */
        }
    }
    return !known || json_is_null(v);
}

static mlc_status assemble_inputs(struct wf_exec *x, json_t *doc, struct wf_error *we)
{
    const mlc_workflow *wf = x->wf;
    static json_t *null_json;
    null_json = json_null(); /* jansson's null is a static singleton */
    size_t n = 0;
    int have_batch = 0;
    for (int k = 0; k < wf->n_inputs; k++) {
        const struct wf_input *in = &wf->inputs[k];
        json_t *v = json_object_get(doc, in->name);
        if (in->type == WF_IN_PARAM) {
            if (!v) v = in->default_value ? in->default_value : null_json;
            if (!value_fits_kinds(in->kinds, v)) {
                char want[128] = "";
                for (char **kk = in->kinds; *kk; kk++) {
                    if (kk != in->kinds) strncat(want, ", ", sizeof want - strlen(want) - 1);
                    strncat(want, *kk, sizeof want - strlen(want) - 1);
                }
                return input_error(we, MLC_STATUS_BAD_WORKFLOW,
                                   "Detected runtime parameter `%s` declared with kinds [%s], "
                                   "but the value given does not match them",
                                   in->name, want);
            }
            x->params[k] = v;
            continue;
        }
        if (!v)
            return input_error(we, MLC_STATUS_BAD_WORKFLOW,
                               "Detected runtime parameter `%s` defined as `%s`, but value is not "
                               "provided.",
                               in->name,
                               in->type == WF_IN_IMAGE ? "WorkflowImage" : "WorkflowBatchInput");
        size_t m = json_is_array(v) ? json_array_size(v) : 1;
        if (m == 0)
            return input_error(we, MLC_STATUS_BAD_WORKFLOW, "input '%s': empty batch", in->name);
        if (have_batch && m != n)
            return input_error(we, MLC_STATUS_BAD_WORKFLOW,
                               "batch-oriented inputs have different sizes (%zu and %zu at '%s')",
                               n, m, in->name);
        have_batch = 1;
        n = m;
    }
    if (!have_batch) n = 1;
    if (n > (size_t)wf->limits.max_batch)
        return wf_fail(we, MLC_STATUS_LIMIT, 400, "RuntimeInputError", WF_CTX_INPUT,
                       "batch of %zu elements is more than the limit of %d", n,
                       wf->limits.max_batch);
    x->n = n;
    for (int k = 0; k < wf->n_inputs; k++) {
        const struct wf_input *in = &wf->inputs[k];
        if (in->type == WF_IN_PARAM) continue;
        x->input_vals[k] = core_arena_alloc(&x->arena, n * sizeof **x->input_vals);
        if (!x->input_vals[k])
            return wf_fail(we, MLC_STATUS_NO_MEMORY, 500, "MemoryError", WF_CTX_INPUT,
                           "out of memory");
        json_t *v = json_object_get(doc, in->name);
        int is_list = json_is_array(v);
        for (size_t i = 0; i < n; i++) {
            json_t *e = is_list ? json_array_get(v, i) : v;
            if (in->type == WF_IN_BATCH) {
                x->input_vals[k][i].type = WF_V_JSON;
                x->input_vals[k][i].json = json_incref(e);
                continue;
            }
            mlc_status st = load_image(x, in, e, i, is_list, &x->input_vals[k][i], we);
            if (st) return st;
        }
    }
    return MLC_OK;
}

/* ----------------------------------------------------------- serialising */

static json_t *origin_json(int x, int y, int w, int h)
{
    json_t *o = json_object();
    json_object_set_new(o, "offset_x", json_integer(x));
    json_object_set_new(o, "offset_y", json_integer(y));
    json_object_set_new(o, "width", json_integer(w));
    json_object_set_new(o, "height", json_integer(h));
    return o;
}

static json_t *image_json(const struct wf_img *w, const char *video_id, const char *stamp,
                          struct wf_error *we)
{
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "type", json_string("base64"));
    if (w->base64) {
        json_object_set_new(o, "value", json_string(w->base64));
    } else {
        void *jpg = NULL;
        size_t nj = 0;
        mlc_error err = {0};
        if (mlc_image_encode_jpeg(w->img, 95, &jpg, &nj, &err)) {
            wf_fail(we, err.status, 500, "WorkflowOutputSerialisationError",
                    "workflow_execution | output_construction", "cannot encode output image: %s",
                    err.message);
            json_decref(o);
            return NULL;
        }
        char *b64 = core_base64_encode(jpg, nj);
        mlc_free(jpg);
        json_object_set_new(o, "value", b64 ? json_string(b64) : json_null());
        mlc_free(b64);
    }
    json_t *vm = json_object();
    json_object_set_new(vm, "video_identifier", json_string(video_id));
    json_object_set_new(vm, "frame_number", json_integer(0));
    json_object_set_new(vm, "frame_timestamp", json_string(stamp));
    json_object_set_new(vm, "fps", json_integer(30));
    json_object_set_new(vm, "measured_fps", json_null());
    json_object_set_new(vm, "comes_from_video_file", json_null());
    json_object_set_new(o, "video_metadata", vm);
    if (strcmp(w->parent_id, w->root_parent_id)) {
        json_object_set_new(o, "parent_id", json_string(w->parent_id));
        json_object_set_new(o, "parent_origin",
                            origin_json(w->origin_x, w->origin_y, w->origin_w, w->origin_h));
        json_object_set_new(o, "root_parent_id", json_string(w->root_parent_id));
        json_object_set_new(o, "root_parent_origin",
                            origin_json(w->root_x, w->root_y, w->root_w, w->root_h));
    }
    return o;
}

static json_t *value_json(const struct wf_val *v, const char *stamp, struct wf_error *we)
{
    switch (v->type) {
    case WF_V_NONE:
        return json_null();
    case WF_V_JSON:
        return v->json ? json_incref(v->json) : json_null();
    case WF_V_IMAGE:
        /* Roboflow's default video metadata names the root input image */
        return image_json(v->img, v->img->root_parent_id, stamp, we);
    }
    return json_null();
}

static int excluded(const struct wf_run_options *ro, const char *name)
{
    for (const char *const *e = ro->excluded_fields; e && *e; e++)
        if (!strcmp(*e, name)) return 1;
    return 0;
}

static mlc_status build_outputs(struct wf_exec *x, json_t **out, struct wf_error *we)
{
    const mlc_workflow *wf = x->wf;
    char stamp[40];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + k, sizeof stamp - k, ".%06ld", ts.tv_nsec / 1000);

    json_t *arr = json_array();
    if (!arr) goto oom;
    for (size_t i = 0; i < x->n; i++) {
        json_t *o = json_object();
        if (!o || json_array_append_new(arr, o)) goto oom;
        for (int j = 0; j < wf->n_outputs; j++) {
            const struct wf_output *op = &wf->outputs[j];
            if (excluded(x->ro, op->name)) continue;
            json_t *v = NULL;
            if (op->sel.ref == WF_REF_INPUT) {
                if (wf->inputs[op->sel.input].type == WF_IN_PARAM)
                    v = json_incref(x->params[op->sel.input]);
                else
                    v = value_json(&x->input_vals[op->sel.input][i], stamp, we);
            } else if (op->sel.output >= 0) {
                v = value_json(&x->step_vals[op->sel.step][op->sel.output][i], stamp, we);
            } else {
                const struct wf_step *s = &wf->steps[op->sel.step];
                v = json_object();
                for (int q = 0; v && q < s->vt->n_outputs; q++) {
                    json_t *e = value_json(&x->step_vals[s->index][q][i], stamp, we);
                    if (!e) {
                        json_decref(v);
                        v = NULL;
                        break;
                    }
                    json_object_set_new(v, s->vt->outputs[q].name, e);
                }
            }
            if (!v) {
                json_decref(arr);
                return we && we->e.status ? we->e.status : MLC_STATUS_NO_MEMORY;
            }
            json_object_set_new(o, op->name, v);
        }
    }
    *out = arr;
    return MLC_OK;
oom:
    if (arr) json_decref(arr);
    return wf_fail(we, MLC_STATUS_NO_MEMORY, 500, "MemoryError",
                   "workflow_execution | output_construction", "out of memory");
}

/* ------------------------------------------------------------------- run */

mlc_status wf_run(mlc_workflow *wf, const struct wf_run_options *ro, const char *inputs_json,
                  size_t n, char **outputs_json_out, struct wf_error *we)
{
    mlc_status st = MLC_OK;
    struct wf_run_options def;
    struct wf_exec x;
    json_t *doc = NULL, *outs = NULL, *resp = NULL;
    struct core_buf b;
    core_buf_init(&b, 0);
    memset(&x, 0, sizeof x);
    core_arena_init(&x.arena, 0);
    wf_error_clear(we);
    if (!ro) {
        wf_run_options_default(&def);
        ro = &def;
    }
    x.wf = wf;
    x.ro = ro;
    x.api_key = ro->api_key ? ro->api_key : wf->api_key;
    if (!wf || !outputs_json_out) {
        st = wf_fail(we, MLC_STATUS_INVALID_ARGUMENT, 400, "RuntimeInputError", WF_CTX_INPUT,
                     "no workflow or output pointer given");
        goto fail;
    }
    if (!inputs_json) {
        inputs_json = "{}";
        n = 2;
    }
    if (n > wf->limits.max_input_bytes) {
        st = wf_fail(we, MLC_STATUS_LIMIT, 400, "RuntimeInputError", WF_CTX_INPUT,
                     "inputs are %zu bytes, more than the limit of %zu", n,
                     wf->limits.max_input_bytes);
        goto fail;
    }
    json_error_t jerr;
    doc = json_loadb(inputs_json, n, 0, &jerr);
    if (!doc || !json_is_object(doc)) {
        st = wf_fail(we, MLC_STATUS_BAD_JSON, 400, "RuntimeInputError", WF_CTX_INPUT,
                     "workflow inputs must be a JSON object%s%s", doc ? "" : ": ",
                     doc ? "" : jerr.text);
        goto fail;
    }
    x.input_vals = core_arena_alloc(&x.arena, (size_t)(wf->n_inputs + 1) * sizeof *x.input_vals);
    x.params = core_arena_alloc(&x.arena, (size_t)(wf->n_inputs + 1) * sizeof *x.params);
    if (!x.input_vals || !x.params) goto oom;
    if ((st = assemble_inputs(&x, doc, we))) goto fail;
    x.step_vals = core_arena_alloc(&x.arena, (size_t)(wf->n_steps + 1) * sizeof *x.step_vals);
    if (!x.step_vals) goto oom;
    for (int s = 0; s < wf->n_steps; s++) {
        int no = wf->steps[s].vt->n_outputs;
        x.step_vals[s] = core_arena_alloc(&x.arena, (size_t)(no + 1) * sizeof **x.step_vals);
        if (!x.step_vals[s]) goto oom;
        for (int o = 0; o < no; o++)
            if (!(x.step_vals[s][o] = core_arena_alloc(&x.arena, x.n * sizeof ***x.step_vals)))
                goto oom;
    }
    for (int k = 0; k < wf->n_steps; k++) {
        const struct wf_step *s = &wf->steps[wf->order[k]];
        if ((st = s->vt->run(&x, s, we))) {
            if (we) {
                char pre[200];
                snprintf(pre, sizeof pre,
                         "Error during execution of step: $steps.%.100s. Details: ", s->name);
                wf_error_prefix(we, pre);
                if (!we->error_type[0])
                    snprintf(we->error_type, sizeof we->error_type, "StepExecutionError");
                if (!we->http_status) we->http_status = 500;
                if (!we->block_id[0]) wf_error_block(we, s->name, s->type_literal, NULL, NULL);
                snprintf(we->context, sizeof we->context, "%s", WF_CTX_STEP);
            }
            goto fail;
        }
    }
    if ((st = build_outputs(&x, &outs, we))) goto fail;
    resp = json_object();
    if (!resp || json_object_set_new(resp, "outputs", outs)) goto oom;
    outs = NULL;
    if ((st = wf_json_dump(&b, resp))) {
        st = wf_fail(we, st, 500, "WorkflowOutputSerialisationError",
                     "workflow_execution | output_construction", "response too large");
        goto fail;
    }
    *outputs_json_out = core_buf_take(&b);
    goto done;
oom:
    st = wf_fail(we, MLC_STATUS_NO_MEMORY, 500, "MemoryError", WF_CTX_STEP, "out of memory");
fail:
done:
    if (outs) json_decref(outs);
    if (resp) json_decref(resp);
    core_buf_free(&b);
    if (wf)
        exec_free(&x);
    else
        core_arena_free(&x.arena);
    if (doc) json_decref(doc);
    return st;
}

mlc_status mlc_workflow_run(mlc_workflow *wf, const char *inputs_json, size_t n,
                            char **outputs_json_out, mlc_error *err)
{
    struct wf_error we;
    mlc_status st = wf_run(wf, NULL, inputs_json, n, outputs_json_out, &we);
    if (st) wf_error_to_mlc(&we, err);
    return st;
}
