/*
 * multi_label.c - Roboflow's "Multi-Label Classification Model" block,
 * versions v1, v2 and v3 (roboflow_core/roboflow_multi_label_classification
 * _model@vN), as block-semantics.md sections 1, 2 and 5 describe them: the
 * manifests (types, defaults, aliases, kinds, the v3 custom-confidence
 * validator) and LOCAL numpy-path execution: one mlc_classify per distinct
 * (model, threshold) over the batch, output dicts {inference_id, predictions
 * [, model_id]} with prediction_type/parent_id/root_parent_id added.
 *
 * Does not: REMOTE execution (mlc is the server), or active learning itself
 * (it calls wf_al_register when disable_active_learning resolves to false).
 * Run-time values that bypass the manifest (selectors) are validated here as
 * Roboflow's ClassificationInferenceRequest would (spec 2.6).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow/workflow.h"

static const char *const k_image[] = {"image", NULL};
static const char *const k_model_id[] = {"roboflow_model_id", NULL};
static const char *const k_f01[] = {"float_zero_to_one", NULL};
static const char *const k_bool[] = {"boolean", NULL};
static const char *const k_project[] = {"roboflow_project", NULL};
static const char *const k_string[] = {"string", NULL};
static const char *const k_pred[] = {"classification_prediction", NULL};
static const char *const k_inference_id[] = {"inference_id", NULL};
static const char *const modes[] = {"best", "default", "custom", NULL};

#define P_IMAGES                                                                                   \
    {                                                                                              \
        "images", "image", WF_P_SELECTOR_ONLY, 1, 1, k_image, NULL, NULL, "Image",                 \
            "The image to infer on.", "[\"$inputs.image\", \"$steps.cropping.crops\"]", NULL, NULL \
    }
#define P_MODEL_ID                                                                                 \
    {                                                                                              \
        "model_id", NULL, WF_P_STR, 1, 0, k_model_id, NULL, NULL, "Model",                         \
            "Roboflow model identifier.", "[\"my_project/3\", \"$inputs.model\"]", NULL, "str"     \
    }
#define P_CONFIDENCE                                                                               \
    {                                                                                              \
        "confidence", NULL, WF_P_FLOAT01, 0, 0, k_f01, "0.4", NULL, "Confidence",                  \
            "Confidence threshold for predictions.", "[0.3, \"$inputs.confidence_threshold\"]",    \
            NULL, "float"                                                                          \
    }
#define P_DISABLE_AL                                                                               \
    {                                                                                              \
        "disable_active_learning", NULL, WF_P_BOOL, 0, 0, k_bool, "true", NULL,                    \
            "Disable Active Learning",                                                             \
            "Boolean flag to disable project-level active learning for this block.",               \
            "[true, \"$inputs.disable_active_learning\"]", NULL, "bool"                            \
    }
#define P_AL_TARGET                                                                                \
    {                                                                                              \
        "active_learning_target_dataset", NULL, WF_P_OPT_STR, 0, 0, k_project, "null", NULL,       \
            "Active Learning Target Dataset", "Target dataset for active learning, if enabled.",   \
            "[\"my_project\", \"$inputs.al_target_project\"]", NULL, "Optional[str]"               \
    }

static const struct wf_prop props_v12[] = {P_IMAGES, P_MODEL_ID, P_CONFIDENCE, P_DISABLE_AL,
                                           P_AL_TARGET};

static const struct wf_prop props_v3[] = {
    P_IMAGES,
    P_MODEL_ID,
    {"confidence_mode", NULL, WF_P_ENUM, 0, 0, k_string, "\"best\"", modes, "Confidence Mode",
     "How to determine the confidence threshold.", NULL,
     "{\"always_visible\": true, \"values_metadata\": {\"best\": {\"name\": \"Best "
     "(Recommended)\", \"description\": \"Use F1-optimal thresholds from model evaluation.\"}, "
     "\"default\": {\"name\": \"Default\", \"description\": \"Use the model's built-in default "
     "threshold.\"}, \"custom\": {\"name\": \"Custom\", \"description\": \"Specify a custom "
     "confidence threshold.\"}}}",
     "str"},
    {"custom_confidence", NULL, WF_P_OPT_FLOAT01, 0, 0, k_f01, "0.4", NULL, "Custom Confidence",
     "Custom confidence threshold for predictions.", "[0.3, \"$inputs.confidence_threshold\"]",
     "{\"relevant_for\": {\"confidence_mode\": {\"values\": [\"custom\"], \"required\": true}}}",
     "Optional[float]"},
    P_DISABLE_AL,
    P_AL_TARGET,
};

static const struct wf_output_def outputs_v1[] = {
    {"predictions", k_pred},
    {"inference_id", k_string},
};
static const struct wf_output_def outputs_v23[] = {
    {"predictions", k_pred},
    {"inference_id", k_inference_id},
    {"model_id", k_model_id},
};

#define SCHEMA_EXTRA(v)                                                                            \
    "{\"name\": \"Multi-Label Classification Model\", \"version\": \"" v "\", "                    \
    "\"short_description\": \"Apply multiple tags to an image.\", \"long_description\": \""        \
    "Run inference on a multi-label classification model hosted on or uploaded to Roboflow.\\n\\n" \
    "You can query any model that is private to your account, or any public model available on "   \
    "[Roboflow Universe](https://universe.roboflow.com).\\n\\nYou will need to set your Roboflow " \
    "API key in your Inference environment to use this block. To learn more about setting your "   \
    "Roboflow API key, [refer to the Inference "                                                   \
    "documentation](https://inference.roboflow.com/quickstart/configure_api_key/).\\n\", "         \
    "\"license\": \"Apache-2.0\", \"block_type\": \"model\", \"ui_manifest\": {\"section\": "      \
    "\"model\", \"icon\": \"far fa-chart-network\", \"blockPriority\": 3, \"inference\": true}}"

/* ------------------------------------------------------------- manifest */

/* 1, 2, 3 for this block's versions, 0 for any other block. */
static int version_of_vt(const struct wf_block_vtbl *vt)
{
    return vt == &wf_block_mlc_v1 ? 1 : vt == &wf_block_mlc_v2 ? 2 : vt == &wf_block_mlc_v3 ? 3 : 0;
}

/* v3 validate_custom_confidence: only a literal "custom" is checked. */
static mlc_status check_v3(const struct wf_step *st, struct wf_error *we)
{
    const struct wf_pval *mode = &st->vals[2], *cc = &st->vals[3];
    if (mode->ref == WF_REF_NONE && json_is_string(mode->literal) &&
        !strcmp(json_string_value(mode->literal), "custom") && cc->ref == WF_REF_NONE &&
        json_is_null(cc->literal)) {
        wf_fail(we, MLC_STATUS_BAD_WORKFLOW, 400, "WorkflowSyntaxError", WF_CTX_PARSE,
                "step '%s' (%s): property 'custom_confidence': custom_confidence must be "
                "provided when confidence_mode is 'custom'",
                st->name, st->type_literal);
        if (we) {
            snprintf(we->inner_error_type, sizeof we->inner_error_type, "ValidationError");
            snprintf(we->inner_error_message, sizeof we->inner_error_message,
                     "Value error, custom_confidence must be provided when confidence_mode is "
                     "'custom'");
        }
        wf_error_block(we, st->name, st->type_literal, "custom_confidence",
                       "custom_confidence must be provided when confidence_mode is 'custom'");
        return MLC_STATUS_BAD_WORKFLOW;
    }
    return MLC_OK;
}

static json_t *pval_json(const struct wf_pval *v)
{
    return v->ref == WF_REF_NONE ? json_incref(v->literal) : json_string(v->selector);
}

json_t *wf_step_dependent_resources(const struct wf_step *st)
{
    json_t *list = json_array();
    if (!list) return NULL;
    int v = version_of_vt(st->vt);
    if (!v) return list;
    json_t *m = json_object(), *md = json_object();
    json_object_set_new(md, "model_id", pval_json(&st->vals[1]));
    json_object_set_new(md, "required_action", json_string("execution"));
    json_object_set_new(md, "execution_location", json_string("environment_defined"));
    json_object_set_new(m, "resource_type", json_string("roboflow_platform_model"));
    json_object_set_new(m, "metadata", md);
    json_array_append_new(list, m);
    int pal = v < 3 ? 3 : 4;
    const struct wf_pval *al = &st->vals[pal], *tg = &st->vals[pal + 1];
    /* `is True` identity check: only a literal true stops here */
    if (al->ref == WF_REF_NONE && json_is_true(al->literal)) return list;
    if (tg->ref != WF_REF_NONE || !json_is_null(tg->literal)) {
        json_t *p = json_object(), *pm = json_object();
        json_object_set_new(pm, "project_url", pval_json(tg));
        json_object_set_new(p, "resource_type", json_string("roboflow_platform_project"));
        json_object_set_new(p, "metadata", pm);
        json_array_append_new(list, p);
    }
    return list;
}

/* ------------------------------------------------------------------ run */

/* A resolved threshold request: Roboflow's Confidence = Union[float,
 * Literal["best", "default"]] with pydantic lax coercion (spec 2.2 step 2). */
struct thr {
    mlc_confidence conf;
    double raw; /* the float as given (may be outside [0,1], spec 2.6) */
};

static int resolve_conf(const json_t *v, struct thr *out, char *why, size_t cap)
{
    if (json_is_number(v) || json_is_boolean(v)) {
        double d = json_is_boolean(v) ? (json_is_true(v) ? 1.0 : 0.0) : json_number_value(v);
        out->raw = d;
        out->conf = mlc_confidence_value(d < 0 ? 0 : d > 1 ? 1 : d);
        return 1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!strcmp(s, "best")) {
            out->conf = mlc_confidence_best();
            return 1;
        }
        if (!strcmp(s, "default")) {
            out->conf = mlc_confidence_default();
            return 1;
        }
        char *end;
        double d = strtod(s, &end);
        if (end != s && !*end) {
            out->raw = d;
            out->conf = mlc_confidence_value(d < 0 ? 0 : d > 1 ? 1 : d);
            return 1;
        }
    }
    char *t = json_dumps(v, JSON_ENCODE_ANY);
    snprintf(why, cap,
             "confidence must be a number or one of 'best', 'default' (request validation), got "
             "%.60s",
             t ? t : "a value");
    core_libc_free(t); /* jansson's buffer */
    return 0;
}

struct elem {
    size_t i;
    const struct wf_img *img;
    const char *model_id;
    struct thr thr;
    int disable_al;
    const char *al_target;
    int done;
};

static int same_group(const struct elem *a, const struct elem *b)
{
    return !strcmp(a->model_id, b->model_id) && a->thr.conf.mode == b->thr.conf.mode &&
           (a->thr.conf.mode != MLC_CONFIDENCE_VALUE || a->thr.raw == b->thr.raw) &&
           a->disable_al == b->disable_al &&
           !strcmp(a->al_target ? a->al_target : "", b->al_target ? b->al_target : "");
}

static mlc_status step_err(struct wf_error *we, int http, const char *type, const char *fmt, ...)
    CORE_PRINTF(4, 5);
static mlc_status step_err(struct wf_error *we, int http, const char *type, const char *fmt, ...)
{
    char msg[MLC_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return wf_fail(we, MLC_STATUS_BAD_WORKFLOW, http, type, WF_CTX_STEP, "%s", msg);
}

/* Resolves element i's run-time parameters. */
static mlc_status resolve_elem(struct wf_exec *x, const struct wf_step *st, size_t i,
                               struct elem *e, struct wf_error *we)
{
    int v = version_of_vt(st->vt);
    char why[200];
    struct wf_val mv = wf_exec_prop(x, st, 1, i);
    if (mv.type != WF_V_JSON || !json_is_string(mv.json))
        return step_err(we, 500, "ValidationError",
                        "model_id must resolve to a string (request validation)");
    e->model_id = json_string_value(mv.json);
    struct wf_val cv;
    if (v < 3) {
        cv = wf_exec_prop(x, st, 2, i);
    } else {
        /* confidence = custom_confidence if confidence_mode == "custom" else mode */
        cv = wf_exec_prop(x, st, 2, i);
        if (cv.type == WF_V_JSON && json_is_string(cv.json) &&
            !strcmp(json_string_value(cv.json), "custom"))
            cv = wf_exec_prop(x, st, 3, i);
        else if (cv.type == WF_V_JSON && json_is_string(cv.json) &&
                 strcmp(json_string_value(cv.json), "best") &&
                 strcmp(json_string_value(cv.json), "default"))
            return step_err(we, 500, "ValidationError",
                            "confidence_mode resolved to '%.60s'; expected 'best', 'default' or "
                            "'custom' (request validation)",
                            json_string_value(cv.json));
    }
    if (cv.type != WF_V_JSON || !resolve_conf(cv.json, &e->thr, why, sizeof why))
        return step_err(we, 500, "ValidationError", "%s",
                        cv.type != WF_V_JSON ? "confidence must be a number" : why);
    int pal = v < 3 ? 3 : 4;
    struct wf_val al = wf_exec_prop(x, st, pal, i), tg = wf_exec_prop(x, st, pal + 1, i);
    /* Python truthiness of whatever the selector produced */
    e->disable_al =
        !(al.type == WF_V_JSON && (json_is_false(al.json) || json_is_null(al.json) ||
                                   (json_is_integer(al.json) && json_integer_value(al.json) == 0)));
    e->al_target =
        (tg.type == WF_V_JSON && json_is_string(tg.json)) ? json_string_value(tg.json) : NULL;
    return MLC_OK;
}

/* Builds the block's per-image output from one mlc_result. */
static mlc_status build_prediction(const mlc_result *r, const struct elem *e, json_t **pred_out,
                                   struct wf_error *we)
{
    char *txt = NULL;
    mlc_error err = {0};
    if (mlc_result_to_json(r, 0, &txt, &err))
        return wf_fail(we, err.status, 500, "StepExecutionError", WF_CTX_STEP,
                       "cannot serialise prediction: %s", err.message);
    json_error_t jerr;
    json_t *p = json_loads(txt, 0, &jerr);
    mlc_free(txt);
    if (!json_is_object(p)) {
        if (p) json_decref(p);
        return wf_fail(we, MLC_STATUS_INTERNAL, 500, "StepExecutionError", WF_CTX_STEP,
                       "model layer produced an unreadable prediction");
    }
    /* A float threshold above 1 is accepted by Roboflow's request and
     * predicts nothing (spec 2.6); mlc_classify ran with 1.0. */
    if (e->thr.conf.mode == MLC_CONFIDENCE_VALUE && e->thr.raw > 1.0)
        json_object_set_new(p, "predicted_classes", json_array());
    json_object_set_new(p, "prediction_type", json_string("classification"));
    json_object_set_new(p, "parent_id", json_string(e->img->parent_id));
    json_object_set_new(p, "root_parent_id", json_string(e->img->root_parent_id));
    *pred_out = p;
    return MLC_OK;
}

static mlc_status run_group(struct wf_exec *x, const struct wf_step *st, struct elem *els,
                            size_t ne, size_t first, struct wf_error *we)
{
    mlc_status st_ = MLC_OK;
    const mlc_model *m = NULL;
    mlc_session *s = NULL;
    mlc_result *res = NULL;
    const mlc_image **imgs = NULL;
    size_t *idx = NULL;
    char **pjson = NULL;
    mlc_error err = {0};
    size_t k = 0;
    int v = version_of_vt(st->vt);
    imgs = mlc_calloc(ne, sizeof *imgs);
    idx = mlc_calloc(ne, sizeof *idx);
    if (!imgs || !idx) {
        st_ = wf_fail(we, MLC_STATUS_NO_MEMORY, 500, "MemoryError", WF_CTX_STEP, "out of memory");
        goto fail;
    }
    for (size_t j = first; j < ne; j++)
        if (!els[j].done && same_group(&els[first], &els[j])) {
            els[j].done = 1;
            imgs[k] = els[j].img->img;
            idx[k++] = j;
        }
    if ((st_ = wf_model_get(x->wf, els[first].model_id, x->api_key, x->ro->allow_file_images, &m,
                            we)))
        goto fail;
    if ((st_ = wf_session_take(x->wf, m, &s, &err)) ||
        (st_ =
             mlc_classify(s, (const mlc_image *const *)imgs, k, els[first].thr.conf, &res, &err))) {
        wf_fail(we, st_, st_ == MLC_STATUS_INVALID_ARGUMENT ? 400 : 500, "StepExecutionError",
                WF_CTX_STEP, "model '%s': %s", els[first].model_id, err.message);
        goto fail;
    }
    pjson = els[first].disable_al ? NULL : mlc_calloc(k, sizeof *pjson);
    for (size_t q = 0; q < k; q++) {
        const struct elem *e = &els[idx[q]];
        const mlc_result *r = mlc_result_at(res, q);
        json_t *pred = NULL;
        if ((st_ = build_prediction(r, e, &pred, we))) goto fail;
        json_t *iid = json_object_get(pred, "inference_id");
        if (pjson) {
            struct core_buf b;
            core_buf_init(&b, 0);
            if (wf_json_dump(&b, pred) == MLC_OK) pjson[q] = core_buf_take(&b);
            core_buf_free(&b);
        }
        wf_exec_set_json(x, st, 1, e->i, iid ? json_incref(iid) : json_null());
        if (v >= 2) wf_exec_set_json(x, st, 2, e->i, json_string(e->model_id));
        wf_exec_set_json(x, st, 0, e->i, pred);
    }
    if (pjson) {
        struct wf_al_event ev = {0};
        ev.api_key = x->api_key;
        ev.model_id = els[first].model_id;
        ev.target_dataset = els[first].al_target;
        ev.step_name = st->name;
        ev.n = k;
        ev.images = (const mlc_image *const *)imgs;
        ev.predictions_json = (const char *const *)pjson;
        ev.inference_id = mlc_result_inference_id(mlc_result_at(res, 0));
        wf_al_register(&ev);
    }
fail:
    if (pjson)
        for (size_t q = 0; q < k; q++) mlc_free(pjson[q]);
    mlc_free(pjson);
    mlc_result_free(res);
    /* Kept for the next call when this one went through. */
    if (st_)
        mlc_session_free(s);
    else
        wf_session_give(x->wf, m, s);
    mlc_free(imgs);
    mlc_free(idx);
    return st_;
}

static mlc_status run_mlc(struct wf_exec *x, const struct wf_step *st, struct wf_error *we)
{
    mlc_status s = MLC_OK;
    struct elem *els = mlc_calloc(x->n, sizeof *els);
    size_t ne = 0;
    if (!els)
        return wf_fail(we, MLC_STATUS_NO_MEMORY, 500, "MemoryError", WF_CTX_STEP, "out of memory");
    for (size_t i = 0; i < x->n; i++) {
        struct wf_val iv = wf_exec_prop(x, st, 0, i);
        /* empty batch elements (a crop outside the image) are skipped and
         * their outputs stay None (accepts_empty_values() is False) */
        if (iv.type != WF_V_IMAGE) continue;
        els[ne].i = i;
        els[ne].img = iv.img;
        if ((s = resolve_elem(x, st, i, &els[ne], we))) goto fail;
        ne++;
    }
    for (size_t j = 0; j < ne; j++)
        if (!els[j].done && (s = run_group(x, st, els, ne, j, we))) goto fail;
fail:
    mlc_free(els);
    return s;
}

/* --------------------------------------------------------------- vtables */

static const char *const aliases_v1[] = {"RoboflowMultiLabelClassificationModel",
                                         "MultiLabelClassificationModel", NULL};
static const char *const no_aliases[] = {NULL};

const struct wf_block_vtbl wf_block_mlc_v1 = {
    .type = "roboflow_core/roboflow_multi_label_classification_model@v1",
    .aliases = aliases_v1,
    .fqcn = "inference.core.workflows.core_steps.models.roboflow.multi_label_classification.v1."
            "RoboflowMultiLabelClassificationModelBlockV1",
    .human_name = "Roboflow Multi Label Classification Model",
    .schema_extra_json = SCHEMA_EXTRA("v1"),
    .props = props_v12,
    .n_props = 5,
    .outputs = outputs_v1,
    .n_outputs = 2,
    .check = NULL,
    .run = run_mlc,
};

const struct wf_block_vtbl wf_block_mlc_v2 = {
    .type = "roboflow_core/roboflow_multi_label_classification_model@v2",
    .aliases = no_aliases,
    .fqcn = "inference.core.workflows.core_steps.models.roboflow.multi_label_classification.v2."
            "RoboflowMultiLabelClassificationModelBlockV2",
    .human_name = "Roboflow Multi Label Classification Model",
    .schema_extra_json = SCHEMA_EXTRA("v2"),
    .props = props_v12,
    .n_props = 5,
    .outputs = outputs_v23,
    .n_outputs = 3,
    .check = NULL,
    .run = run_mlc,
};

const struct wf_block_vtbl wf_block_mlc_v3 = {
    .type = "roboflow_core/roboflow_multi_label_classification_model@v3",
    .aliases = no_aliases,
    .fqcn = "inference.core.workflows.core_steps.models.roboflow.multi_label_classification.v3."
            "RoboflowMultiLabelClassificationModelBlockV3",
    .human_name = "Roboflow Multi Label Classification Model",
    .schema_extra_json = SCHEMA_EXTRA("v3"),
    .props = props_v3,
    .n_props = 6,
    .outputs = outputs_v23,
    .n_outputs = 3,
    .check = check_v3,
    .run = run_mlc,
};
