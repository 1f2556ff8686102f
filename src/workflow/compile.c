/*
 * compile.c - parses a Roboflow workflow definition and compiles it: every
 * step's properties are validated against its block manifest the way
 * pydantic does in lax mode (coercions, ranges, aliases, defaults), every
 * selector is resolved to an input or a step output, kinds are checked
 * between producer and consumer, names must be unique, and the steps are
 * put in topological order (a cycle is an error).
 *
 * Stages and their Roboflow error types, in the order Roboflow runs them:
 *   parsing     WorkflowSyntaxError (inner ValidationError / JSONDecodeError)
 *   graph       DuplicatedNameError, InvalidReferenceTargetError,
 *               ReferenceTypeError, ExecutionGraphStructureError
 * Does not: load models or look at run-time values. Invariant: on success
 * every wf_pval with ref != NONE points at an existing input or step output,
 * and wf->order lists each step once, producers before consumers.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "workflow/workflow.h"

#define SYNTAX     "WorkflowSyntaxError"
#define SYNTAX_MSG "Could not parse workflow definition. Details provided in inner error."

/* --------------------------------------------------------------- helpers */

static void describe_json(const json_t *v, char *out, size_t cap)
{
    if (!v) {
        snprintf(out, cap, "nothing");
        return;
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s) {
        snprintf(out, cap, "a value");
        return;
    }
    snprintf(out, cap, "%s", s);
    if (strlen(s) >= cap && cap > 4) memcpy(out + cap - 4, "...", 4);
    core_libc_free(s); /* jansson's buffer: its own free */
}

/* A pydantic ValidationError about one step property. */
static mlc_status prop_error(struct wf_error *we, const char *step, const char *type,
                             const char *prop, const char *fmt, ...) CORE_PRINTF(5, 6);
static mlc_status prop_error(struct wf_error *we, const char *step, const char *type,
                             const char *prop, const char *fmt, ...)
{
    char details[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(details, sizeof details, fmt, ap);
    va_end(ap);
    wf_fail(we, MLC_STATUS_BAD_WORKFLOW, 400, SYNTAX, WF_CTX_PARSE,
            "step '%s' (%s): property '%s': %s", step ? step : "?", type ? type : "?",
            prop ? prop : "?", details);
    if (we) {
        snprintf(we->inner_error_type, sizeof we->inner_error_type, "ValidationError");
        snprintf(we->inner_error_message, sizeof we->inner_error_message, "%s", we->e.message);
        wf_error_block(we, step ? step : "", type, prop, details);
    }
    return MLC_STATUS_BAD_WORKFLOW;
}

static mlc_status syntax_error(struct wf_error *we, const char *fmt, ...) CORE_PRINTF(2, 3);
static mlc_status syntax_error(struct wf_error *we, const char *fmt, ...)
{
    char msg[MLC_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    wf_fail(we, MLC_STATUS_BAD_WORKFLOW, 400, SYNTAX, WF_CTX_PARSE, "%s", msg);
    if (we) {
        snprintf(we->inner_error_type, sizeof we->inner_error_type, "ValidationError");
        snprintf(we->inner_error_message, sizeof we->inner_error_message, "%s", msg);
    }
    return MLC_STATUS_BAD_WORKFLOW;
}

static mlc_status oom(struct wf_error *we)
{
    return wf_fail(we, MLC_STATUS_NO_MEMORY, 500, "MemoryError", WF_CTX_PARSE,
                   "out of memory compiling the workflow");
}

/* Parses a whole string as a number the way pydantic's lax float does
 * (surrounding whitespace allowed). */
static int parse_number(const char *s, double *out)
{
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return 0;
    errno = 0;
    char *end;
    double d = strtod(s, &end);
    if (end == s || errno == ERANGE) return 0;
    while (isspace((unsigned char)*end)) end++;
    if (*end) return 0;
    /* Python float() accepts "nan"/"inf" but pydantic rejects non-finite by
     * default (allow_inf_nan=False) */
    if (!isfinite(d)) return 0;
    *out = d;
    return 1;
}

/* pydantic lax bool from str. */
static int parse_bool_str(const char *s, int *out)
{
    static const char *const t[] = {"1", "on", "t", "true", "y", "yes"};
    static const char *const f[] = {"0", "off", "f", "false", "n", "no"};
    for (size_t i = 0; i < 6; i++) {
        if (!strcasecmp(s, t[i])) return *out = 1, 1;
        if (!strcasecmp(s, f[i])) return *out = 0, 1;
    }
    return 0;
}

static void kinds_text(const char *const *kinds, char *out, size_t cap)
{
    out[0] = '\0';
    for (const char *const *k = kinds; k && *k; k++) {
        if (k != kinds) strncat(out, ", ", cap - strlen(out) - 1);
        strncat(out, *k, cap - strlen(out) - 1);
    }
}

/* Validates a literal (non-selector) value of property p; on success
 * *coerced_out is a new reference. `why` gets pydantic-like detail. */
static int check_literal(const struct wf_prop *p, json_t *v, json_t **coerced_out, char *why,
                         size_t cap)
{
    char got[64];
    describe_json(v, got, sizeof got);
    double d;
    int b;
    const char *sel = p->kinds ? " or a selector" : "";
    switch (p->type) {
    case WF_P_SELECTOR_ONLY: {
        char k[64];
        kinds_text(p->kinds, k, sizeof k);
        snprintf(why, cap,
                 "expected a selector ($inputs.<name> or $steps.<step>.<output>) of kind [%s], "
                 "got %s",
                 k, got);
        return 0;
    }
    case WF_P_STR:
    case WF_P_OPT_STR:
        if (json_is_string(v) || (p->type == WF_P_OPT_STR && json_is_null(v))) {
            *coerced_out = json_incref(v);
            return 1;
        }
        snprintf(why, cap, "expected a string%s%s, got %s",
                 p->type == WF_P_OPT_STR ? " or null" : "", sel, got);
        return 0;
    case WF_P_FLOAT01:
    case WF_P_OPT_FLOAT01:
        if (json_is_null(v) && p->type == WF_P_OPT_FLOAT01) {
            *coerced_out = json_null();
            return 1;
        }
        if (json_is_number(v))
            d = json_number_value(v);
        else if (json_is_boolean(v))
            d = json_is_true(v) ? 1.0 : 0.0;
        else if (!(json_is_string(v) && parse_number(json_string_value(v), &d))) {
            snprintf(why, cap, "expected a number in [0.0, 1.0]%s%s, got %s",
                     p->type == WF_P_OPT_FLOAT01 ? ", null" : "", sel, got);
            return 0;
        }
        if (!(d >= 0.0 && d <= 1.0)) {
            snprintf(why, cap, "expected a number in [0.0, 1.0] (inclusive)%s, got %s", sel, got);
            return 0;
        }
        *coerced_out = json_real(d);
        return *coerced_out != NULL;
    case WF_P_BOOL:
        if (json_is_boolean(v)) {
            *coerced_out = json_incref(v);
            return 1;
        }
        if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
            *coerced_out = json_boolean(json_integer_value(v));
            return 1;
        }
        if (json_is_real(v) && (json_real_value(v) == 0.0 || json_real_value(v) == 1.0)) {
            *coerced_out = json_boolean(json_real_value(v) == 1.0);
            return 1;
        }
        if (json_is_string(v) && parse_bool_str(json_string_value(v), &b)) {
            *coerced_out = json_boolean(b);
            return 1;
        }
        snprintf(why, cap, "expected a boolean%s, got %s", sel, got);
        return 0;
    case WF_P_ENUM:
        if (json_is_string(v))
            for (const char *const *e = p->enum_values; *e; e++)
                if (!strcmp(*e, json_string_value(v))) {
                    *coerced_out = json_incref(v);
                    return 1;
                }
        {
            char list[128] = "";
            for (const char *const *e = p->enum_values; *e; e++) {
                if (e != p->enum_values) strncat(list, ", ", sizeof list - strlen(list) - 1);
                strncat(list, "'", sizeof list - strlen(list) - 1);
                strncat(list, *e, sizeof list - strlen(list) - 1);
                strncat(list, "'", sizeof list - strlen(list) - 1);
            }
            snprintf(why, cap, "expected one of %s%s, got %s", list, sel, got);
        }
        return 0;
    case WF_P_POS_INT:
        if (json_is_integer(v))
            d = (double)json_integer_value(v);
        else if (json_is_boolean(v))
            d = json_is_true(v);
        else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)))
            d = json_real_value(v);
        else if (!(json_is_string(v) && parse_number(json_string_value(v), &d) && d == floor(d))) {
            snprintf(why, cap, "expected an integer greater than 0%s, got %s", sel, got);
            return 0;
        }
        if (!(d > 0 && d < 9.0e15)) {
            snprintf(why, cap, "expected an integer greater than 0%s, got %s", sel, got);
            return 0;
        }
        *coerced_out = json_integer((json_int_t)d);
        return *coerced_out != NULL;
    }
    snprintf(why, cap, "unsupported property type");
    return 0;
}

/* ----------------------------------------------------------------- free */

static void pval_free(struct wf_pval *v)
{
    if (v->literal) json_decref(v->literal);
    mlc_free(v->selector);
}

void mlc_workflow_free(mlc_workflow *wf)
{
    if (!wf) return;
    for (int i = 0; i < wf->n_inputs; i++) {
        mlc_free(wf->inputs[i].name);
        for (char **k = wf->inputs[i].kinds; k && *k; k++) mlc_free(*k);
        mlc_free(wf->inputs[i].kinds);
        if (wf->inputs[i].default_value) json_decref(wf->inputs[i].default_value);
    }
    mlc_free(wf->inputs);
    for (int i = 0; i < wf->n_steps; i++) {
        struct wf_step *s = &wf->steps[i];
        mlc_free(s->name);
        mlc_free(s->type_literal);
        if (s->vals)
            for (int p = 0; p < s->vt->n_props; p++) pval_free(&s->vals[p]);
        mlc_free(s->vals);
    }
    mlc_free(wf->steps);
    mlc_free(wf->order);
    for (int i = 0; i < wf->n_outputs; i++) {
        mlc_free(wf->outputs[i].name);
        pval_free(&wf->outputs[i].sel);
    }
    mlc_free(wf->outputs);
    for (int i = 0; i < wf->n_models; i++) {
        for (int k = 0; k < wf->models[i].n_idle; k++) mlc_session_free(wf->models[i].idle[k]);
        mlc_model_free(wf->models[i].model);
        mlc_free(wf->models[i].id);
    }
    mlc_free(wf->models);
    mlc_free(wf->api_key);
    if (wf->definition) json_decref(wf->definition);
    pthread_mutex_destroy(&wf->lock);
    mlc_free(wf);
}

/* ---------------------------------------------------------------- inputs */

static mlc_status parse_kinds(json_t *k, const char *input, char ***out, struct wf_error *we)
{
    size_t n = json_is_array(k) ? json_array_size(k) : 0;
    if (k && !json_is_array(k) && !json_is_null(k))
        return syntax_error(we, "input '%s': 'kind' must be a list of kinds", input);
    char **ks = mlc_calloc(n + 2, sizeof *ks);
    if (!ks) return oom(we);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(k, i);
        const char *name = NULL;
        if (json_is_string(e))
            name = json_string_value(e);
        else if (json_is_object(e) && json_is_string(json_object_get(e, "name")))
            name = json_string_value(json_object_get(e, "name"));
        if (!name) {
            for (size_t j = 0; j < m; j++) mlc_free(ks[j]);
            mlc_free(ks);
            return syntax_error(we, "input '%s': kind #%zu must be a kind name or {\"name\": ...}",
                                input, i);
        }
        if (!(ks[m++] = core_strdup(name))) {
            for (size_t j = 0; j < m; j++) mlc_free(ks[j]);
            mlc_free(ks);
            return oom(we);
        }
    }
    if (m == 0 && !(ks[m++] = core_strdup("*"))) {
        mlc_free(ks);
        return oom(we);
    }
    *out = ks;
    return MLC_OK;
}

static mlc_status parse_inputs(mlc_workflow *wf, json_t *arr, struct wf_error *we)
{
    size_t n = json_array_size(arr);
    wf->inputs = mlc_calloc(n ? n : 1, sizeof *wf->inputs);
    if (!wf->inputs) return oom(we);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        if (!json_is_object(o)) return syntax_error(we, "inputs[%zu]: expected an object", i);
        json_t *t = json_object_get(o, "type"), *nm = json_object_get(o, "name");
        if (!json_is_string(t)) return syntax_error(we, "inputs[%zu]: 'type' is required", i);
        if (!json_is_string(nm))
            return syntax_error(we, "inputs[%zu]: 'name' is required and must be a string", i);
        const char *ty = json_string_value(t), *name = json_string_value(nm);
        struct wf_input *in = &wf->inputs[wf->n_inputs];
        if (!strcmp(ty, "WorkflowImage") || !strcmp(ty, "InferenceImage"))
            in->type = WF_IN_IMAGE;
        else if (!strcmp(ty, "WorkflowParameter") || !strcmp(ty, "InferenceParameter"))
            in->type = WF_IN_PARAM;
        else if (!strcmp(ty, "WorkflowBatchInput") || !strcmp(ty, "WorkflowVideoMetadata"))
            in->type = WF_IN_BATCH;
        else
            return syntax_error(we,
                                "inputs[%zu] ('%s'): unknown input type '%s' (expected "
                                "WorkflowImage, WorkflowParameter, WorkflowBatchInput, "
                                "WorkflowVideoMetadata, InferenceImage or InferenceParameter)",
                                i, name, ty);
        if (!(in->name = core_strdup(name))) return oom(we);
        wf->n_inputs++;
        if (in->type == WF_IN_BATCH) {
            json_t *dim = json_object_get(o, "dimensionality");
            if (dim && !(json_is_integer(dim) && json_integer_value(dim) == 1))
                return wf_fail(we, MLC_STATUS_UNSUPPORTED, 400, "NotSupportedExecutionEngineError",
                               WF_CTX_PARSE,
                               "input '%s': only dimensionality 1 is supported by mlc", name);
        }
        mlc_status st;
        if (in->type == WF_IN_IMAGE) {
            in->kinds = mlc_calloc(2, sizeof *in->kinds);
            if (!in->kinds || !(in->kinds[0] = core_strdup("image"))) return oom(we);
        } else if (!strcmp(ty, "WorkflowVideoMetadata")) {
            in->kinds = mlc_calloc(2, sizeof *in->kinds);
            if (!in->kinds || !(in->kinds[0] = core_strdup("video_metadata"))) return oom(we);
        } else if ((st = parse_kinds(json_object_get(o, "kind"), name, &in->kinds, we))) {
            return st;
        }
        if (in->type == WF_IN_PARAM) {
            json_t *dv = json_object_get(o, "default_value");
            in->default_value = dv ? json_incref(dv) : NULL;
        }
        for (int j = 0; j < wf->n_inputs - 1; j++)
            if (!strcmp(wf->inputs[j].name, name))
                return wf_fail(we, MLC_STATUS_BAD_WORKFLOW, 400, "DuplicatedNameError",
                               WF_CTX_GRAPH,
                               "Found duplicated input name '%s' in workflow definition", name);
    }
    return MLC_OK;
}

/* ----------------------------------------------------------------- steps */

static mlc_status parse_step(mlc_workflow *wf, json_t *o, size_t idx, struct wf_error *we)
{
    if (!json_is_object(o)) return syntax_error(we, "steps[%zu]: expected an object", idx);
    json_t *t = json_object_get(o, "type"), *nm = json_object_get(o, "name");
    const char *name = json_is_string(nm) ? json_string_value(nm) : NULL;
    char label[64];
    snprintf(label, sizeof label, "steps[%zu]", idx);
    if (!t) return prop_error(we, name ? name : label, NULL, "type", "Field required");
    if (!json_is_string(t))
        return prop_error(we, name ? name : label, NULL, "type",
                          "expected a block type identifier string");
    const char *ty = json_string_value(t);
    const struct wf_block_vtbl *vt = wf_block_find(ty);
    if (!vt) {
        prop_error(we, name ? name : label, ty, "type",
                   "unknown block type; Input tag does not match any of the expected tags "
                   "(`mlc describe` lists the known blocks)");
        if (we)
            snprintf(we->e.message, sizeof we->e.message,
                     "step '%.128s': unknown block type '%.200s' (`mlc describe` lists the known "
                     "blocks)",
                     name ? name : label, ty);
        return MLC_STATUS_BAD_WORKFLOW;
    }
    if (!nm) return prop_error(we, label, ty, "name", "Field required");
    if (!name) return prop_error(we, label, ty, "name", "expected a string");

    struct wf_step *s = &wf->steps[wf->n_steps];
    s->vt = vt;
    s->index = wf->n_steps;
    wf->n_steps++; /* owned by wf from here: mlc_workflow_free copes with NULL fields */
    if (!(s->name = core_strdup(name)) || !(s->type_literal = core_strdup(ty))) return oom(we);
    s->vals = mlc_calloc((size_t)vt->n_props ? (size_t)vt->n_props : 1, sizeof *s->vals);
    if (!s->vals) return oom(we);

    for (int p = 0; p < vt->n_props; p++) {
        const struct wf_prop *pr = &vt->props[p];
        struct wf_pval *pv = &s->vals[p];
        json_t *v = json_object_get(o, pr->name);
        if (!v && pr->alias) v = json_object_get(o, pr->alias);
        if (!v) {
            if (pr->required) return prop_error(we, name, ty, pr->name, "Field required");
            pv->literal = json_loads(pr->default_json, JSON_DECODE_ANY, NULL);
            if (!pv->literal) return oom(we);
            continue;
        }
        if (pr->kinds && json_is_string(v) && wf_is_selector(json_string_value(v))) {
            pv->ref = WF_REF_INPUT; /* resolved later */
            if (!(pv->selector = core_strdup(json_string_value(v)))) return oom(we);
            continue;
        }
        char why[256];
        if (!check_literal(pr, v, &pv->literal, why, sizeof why))
            return prop_error(we, name, ty, pr->name, "%s", why);
    }
    return vt->check ? vt->check(s, we) : MLC_OK;
}

/* --------------------------------------------------------------- outputs */

static mlc_status parse_outputs(mlc_workflow *wf, json_t *arr, struct wf_error *we)
{
    size_t n = json_array_size(arr);
    wf->outputs = mlc_calloc(n ? n : 1, sizeof *wf->outputs);
    if (!wf->outputs) return oom(we);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        if (!json_is_object(o)) return syntax_error(we, "outputs[%zu]: expected an object", i);
        json_t *t = json_object_get(o, "type"), *nm = json_object_get(o, "name"),
               *sel = json_object_get(o, "selector"),
               *cs = json_object_get(o, "coordinates_system");
        if (!json_is_string(t) || strcmp(json_string_value(t), "JsonField"))
            return syntax_error(we, "outputs[%zu]: 'type' must be \"JsonField\"", i);
        if (!json_is_string(nm))
            return syntax_error(we, "outputs[%zu]: 'name' is required and must be a string", i);
        if (!json_is_string(sel) || !wf_is_selector(json_string_value(sel)))
            return syntax_error(we,
                                "output '%s': 'selector' must be a selector like "
                                "$steps.<step>.<output> or $steps.<step>.*",
                                json_string_value(nm));
        if (cs && !(json_is_string(cs) && (!strcmp(json_string_value(cs), "own") ||
                                           !strcmp(json_string_value(cs), "parent"))))
            return syntax_error(we,
                                "output '%s': 'coordinates_system' must be \"own\" or \"parent\"",
                                json_string_value(nm));
        struct wf_output *out = &wf->outputs[wf->n_outputs++];
        out->sel.ref = WF_REF_INPUT;
        if (!(out->name = core_strdup(json_string_value(nm))) ||
            !(out->sel.selector = core_strdup(json_string_value(sel))))
            return oom(we);
        for (int j = 0; j < wf->n_outputs - 1; j++)
            if (!strcmp(wf->outputs[j].name, out->name))
                return wf_fail(
                    we, MLC_STATUS_BAD_WORKFLOW, 400, "DuplicatedNameError", WF_CTX_GRAPH,
                    "Found duplicated output name '%s' in workflow definition", out->name);
    }
    return MLC_OK;
}

/* ------------------------------------------------------------- resolving */

static int find_step(const mlc_workflow *wf, const char *name, size_t len)
{
    for (int i = 0; i < wf->n_steps; i++)
        if (strlen(wf->steps[i].name) == len && !strncmp(wf->steps[i].name, name, len)) return i;
    return -1;
}

/* Resolves pv->selector. `who` names the consumer for messages; prop (may be
 * NULL for outputs) gives the accepted kinds and batch-ness. */
static mlc_status resolve(mlc_workflow *wf, struct wf_pval *pv, const struct wf_step *st,
                          const struct wf_prop *prop, struct wf_error *we)
{
    const char *s = pv->selector;
    char who[256];
    if (st)
        snprintf(who, sizeof who, "step '%s' property '%s'", st->name, prop->name);
    else
        snprintf(who, sizeof who, "workflow output");
    const char *const *got = NULL;
    if (!strncmp(s, "$inputs", 7)) {
        const char *name = s + 8;
        int k = -1;
        if (s[7] == '.')
            for (int i = 0; i < wf->n_inputs; i++)
                if (!strcmp(wf->inputs[i].name, name)) k = i;
        if (k < 0) {
            wf_fail(we, MLC_STATUS_BAD_WORKFLOW, 400, "InvalidReferenceTargetError", WF_CTX_GRAPH,
                    "%s: selector '%s' points to an input that is not defined in the workflow", who,
                    s);
            if (st) wf_error_block(we, st->name, st->type_literal, prop->name, "undefined input");
            return MLC_STATUS_BAD_WORKFLOW;
        }
        pv->ref = WF_REF_INPUT;
        pv->input = k;
        got = (const char *const *)wf->inputs[k].kinds;
        if (st && prop->batch && wf->inputs[k].type == WF_IN_PARAM) {
            wf_fail(we, MLC_STATUS_BAD_WORKFLOW, 400, "ExecutionGraphStructureError", WF_CTX_GRAPH,
                    "%s: '%s' is a WorkflowParameter (scalar), but the property needs "
                    "batch-oriented data (a WorkflowImage or a step output)",
                    who, s);
            wf_error_block(we, st->name, st->type_literal, prop->name, "not batch-oriented");
            return MLC_STATUS_BAD_WORKFLOW;
        }
    } else {
        const char *stp = s + 7, *dot = strchr(stp, '.');
        int k = find_step(wf, stp, (size_t)(dot - stp));
        if (k < 0) {
            wf_fail(we, MLC_STATUS_BAD_WORKFLOW, 400, "InvalidReferenceTargetError", WF_CTX_GRAPH,
                    "%s: selector '%s' points to a step that is not defined in the workflow", who,
                    s);
            if (st) wf_error_block(we, st->name, st->type_literal, prop->name, "undefined step");
            return MLC_STATUS_BAD_WORKFLOW;
        }
        const struct wf_block_vtbl *pvt = wf->steps[k].vt;
        const char *out = dot + 1;
        pv->ref = WF_REF_STEP;
        pv->step = k;
        pv->output = -2;
        if (!strcmp(out, "*")) {
            if (st) {
                wf_fail(we, MLC_STATUS_BAD_WORKFLOW, 400, "InvalidReferenceTargetError",
                        WF_CTX_GRAPH,
                        "%s: wildcard selector '%s' is only allowed in workflow outputs", who, s);
                wf_error_block(we, st->name, st->type_literal, prop->name, "wildcard selector");
                return MLC_STATUS_BAD_WORKFLOW;
            }
            pv->output = -1;
        } else {
            for (int o = 0; o < pvt->n_outputs; o++)
                if (!strcmp(pvt->outputs[o].name, out)) pv->output = o;
            if (pv->output == -2) {
                char list[160] = "";
                for (int o = 0; o < pvt->n_outputs; o++) {
                    if (o) strncat(list, ", ", sizeof list - strlen(list) - 1);
                    strncat(list, pvt->outputs[o].name, sizeof list - strlen(list) - 1);
                }
                wf_fail(we, MLC_STATUS_BAD_WORKFLOW, 400, "InvalidReferenceTargetError",
                        WF_CTX_GRAPH,
                        "%s: selector '%s' points to output '%s' that step '%s' (%s) does not "
                        "declare (it has: %s)",
                        who, s, out, wf->steps[k].name, wf->steps[k].type_literal, list);
                if (st)
                    wf_error_block(we, st->name, st->type_literal, prop->name,
                                   "undefined step output");
                return MLC_STATUS_BAD_WORKFLOW;
            }
            got = pvt->outputs[pv->output].kinds;
        }
    }
    if (st && got && !wf_kinds_compatible(prop->kinds, got)) {
        char want[160], have[160];
        kinds_text(prop->kinds, want, sizeof want);
        kinds_text(got, have, sizeof have);
        wf_fail(we, MLC_STATUS_BAD_WORKFLOW, 400, "ReferenceTypeError", WF_CTX_GRAPH,
                "Failed to validate reference provided for step: $steps.%s regarding property: "
                "%s with value: %s. Allowed kinds of referenced value: [%s], received: [%s].",
                st->name, prop->name, s, want, have);
        wf_error_block(we, st->name, st->type_literal, prop->name, "kind mismatch");
        return MLC_STATUS_BAD_WORKFLOW;
    }
    return MLC_OK;
}

/* Kahn's algorithm over step -> step references. */
static mlc_status toposort(mlc_workflow *wf, struct wf_error *we)
{
    int n = wf->n_steps;
    mlc_status st = MLC_OK;
    int *indeg = mlc_calloc((size_t)n + 1, sizeof *indeg);
    wf->order = mlc_calloc((size_t)n + 1, sizeof *wf->order);
    if (!indeg || !wf->order) {
        st = oom(we);
        goto fail;
    }
    for (int i = 0; i < n; i++)
        for (int p = 0; p < wf->steps[i].vt->n_props; p++)
            if (wf->steps[i].vals[p].ref == WF_REF_STEP) indeg[i]++;
    int done = 0;
    for (int round = 0; round < n && done < n; round++) {
        int progressed = 0;
        for (int i = 0; i < n; i++) {
            if (indeg[i] != 0) continue;
            indeg[i] = -1;
            wf->order[done++] = i;
            progressed = 1;
            for (int j = 0; j < n; j++)
                for (int p = 0; p < wf->steps[j].vt->n_props; p++)
                    if (wf->steps[j].vals[p].ref == WF_REF_STEP && wf->steps[j].vals[p].step == i)
                        indeg[j]--;
        }
        if (!progressed) break;
    }
    if (done < n) {
        char list[256] = "";
        for (int i = 0; i < n; i++)
            if (indeg[i] > 0) {
                if (list[0]) strncat(list, ", ", sizeof list - strlen(list) - 1);
                strncat(list, wf->steps[i].name, sizeof list - strlen(list) - 1);
            }
        st = wf_fail(we, MLC_STATUS_BAD_WORKFLOW, 400, "ExecutionGraphStructureError", WF_CTX_GRAPH,
                     "Detected cycle in execution graph: steps %s depend on each other", list);
        goto fail;
    }
fail:
    mlc_free(indeg);
    return st;
}

/* ------------------------------------------------------------------ main */

mlc_status wf_compile(const char *json, size_t n, const mlc_workflow_options *opt,
                      mlc_workflow **wf_out, struct wf_error *we)
{
    mlc_status st = MLC_OK;
    mlc_workflow *wf = NULL;
    json_t *root = NULL;
    wf_error_clear(we);
    if (!json || !wf_out)
        return wf_fail(we, MLC_STATUS_INVALID_ARGUMENT, 400, "InvalidInputTypeError", WF_CTX_PARSE,
                       "no workflow definition given");
    mlc_limits lim;
    mlc_limits_default(&lim);
    if (opt && opt->model_options) {
        const mlc_limits *l = &opt->model_options->limits;
        if (l->max_input_bytes) lim.max_input_bytes = l->max_input_bytes;
        if (l->max_image_pixels) lim.max_image_pixels = l->max_image_pixels;
        if (l->max_url_bytes) lim.max_url_bytes = l->max_url_bytes;
        if (l->url_timeout_ms) lim.url_timeout_ms = l->url_timeout_ms;
        if (l->max_json_depth) lim.max_json_depth = l->max_json_depth;
        if (l->max_batch) lim.max_batch = l->max_batch;
    }
    if (n > lim.max_input_bytes)
        return wf_fail(we, MLC_STATUS_LIMIT, 400, SYNTAX, WF_CTX_PARSE,
                       "workflow definition is %zu bytes, more than the limit of %zu", n,
                       lim.max_input_bytes);
    json_error_t jerr;
    root = json_loadb(json, n, JSON_DECODE_ANY, &jerr);
    if (!root) {
        st = wf_fail(we, MLC_STATUS_BAD_JSON, 400, SYNTAX, WF_CTX_PARSE,
                     "workflow definition is not valid JSON: line %d column %d: %s", jerr.line,
                     jerr.column, jerr.text);
        if (we) {
            snprintf(we->inner_error_type, sizeof we->inner_error_type, "JSONDecodeError");
            snprintf(we->inner_error_message, sizeof we->inner_error_message, "%s", jerr.text);
        }
        goto fail;
    }
    if (!json_is_object(root)) {
        st = syntax_error(we, "workflow definition must be a JSON object");
        goto fail;
    }
    /* Definitions saved by the Roboflow app wrap it: {"specification": {...}}. */
    json_t *ver = json_object_get(root, "version"), *ins = json_object_get(root, "inputs"),
           *steps = json_object_get(root, "steps"), *outs = json_object_get(root, "outputs");
    if (!json_is_string(ver)) {
        st = syntax_error(we, "workflow definition: 'version' is required and must be a string "
                              "such as \"1.0\"");
        goto fail;
    }
    if (strncmp(json_string_value(ver), "1", 1)) {
        st = wf_fail(we, MLC_STATUS_UNSUPPORTED, 400, "NotSupportedExecutionEngineError",
                     WF_CTX_PARSE,
                     "workflow definition version '%s' is not supported (mlc implements the "
                     "1.x execution engine)",
                     json_string_value(ver));
        goto fail;
    }
    if (!json_is_array(ins) || !json_is_array(steps) || !json_is_array(outs)) {
        st = syntax_error(we, "workflow definition: 'inputs', 'steps' and 'outputs' are required "
                              "and must be lists");
        goto fail;
    }
    if (json_array_size(ins) > 4096 || json_array_size(steps) > 4096 ||
        json_array_size(outs) > 4096) {
        st = wf_fail(we, MLC_STATUS_LIMIT, 400, SYNTAX, WF_CTX_PARSE,
                     "workflow definition has more than 4096 inputs, steps or outputs");
        goto fail;
    }

    wf = mlc_calloc(1, sizeof *wf);
    if (!wf) {
        st = oom(we);
        goto fail;
    }
    pthread_mutex_init(&wf->lock, NULL);
    wf->definition = root;
    root = NULL;
    wf->limits = lim;
    if (opt && opt->model_options) {
        wf->mopt = *opt->model_options;
        wf->has_mopt = 1;
    }
    if (opt && opt->api_key && !(wf->api_key = core_strdup(opt->api_key))) {
        st = oom(we);
        goto fail;
    }

    if ((st = parse_inputs(wf, ins, we))) goto fail;
    size_t ns = json_array_size(steps);
    wf->steps = mlc_calloc(ns ? ns : 1, sizeof *wf->steps);
    if (!wf->steps) {
        st = oom(we);
        goto fail;
    }
    for (size_t i = 0; i < ns; i++)
        if ((st = parse_step(wf, json_array_get(steps, i), i, we))) goto fail;
    if ((st = parse_outputs(wf, outs, we))) goto fail;

    /* graph construction */
    for (int i = 0; i < wf->n_steps; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(wf->steps[i].name, wf->steps[j].name)) {
                st = wf_fail(we, MLC_STATUS_BAD_WORKFLOW, 400, "DuplicatedNameError", WF_CTX_GRAPH,
                             "Found duplicated step name '%s' in workflow definition",
                             wf->steps[i].name);
                goto fail;
            }
    for (int i = 0; i < wf->n_steps; i++) {
        struct wf_step *s = &wf->steps[i];
        for (int p = 0; p < s->vt->n_props; p++)
            if (s->vals[p].selector && (st = resolve(wf, &s->vals[p], s, &s->vt->props[p], we)))
                goto fail;
    }
    for (int i = 0; i < wf->n_outputs; i++)
        if ((st = resolve(wf, &wf->outputs[i].sel, NULL, NULL, we))) {
            char pre[160];
            snprintf(pre, sizeof pre, "output '%.100s': ", wf->outputs[i].name);
            wf_error_prefix(we, pre);
            goto fail;
        }
    if ((st = toposort(wf, we))) goto fail;
    *wf_out = wf;
    return MLC_OK;
fail:
    if (root) json_decref(root);
    mlc_workflow_free(wf);
    return st;
}

/* Public wrapper: the Roboflow error type leads the message. */
mlc_status mlc_workflow_compile(const char *json, size_t n, const mlc_workflow_options *opt,
                                mlc_workflow **wf_out, mlc_error *err)
{
    struct wf_error we;
    mlc_status st = wf_compile(json, n, opt, wf_out, &we);
    if (st) wf_error_to_mlc(&we, err);
    return st;
}
