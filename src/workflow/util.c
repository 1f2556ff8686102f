/*
 * util.c - the small shared pieces of the workflow layer: Roboflow-shaped
 * errors (struct wf_error and its HTTP body), the kinds table, the selector
 * pattern of Roboflow's Selector() type, and a JSON writer whose numbers look
 * like Python's (shortest round-trip repr, "1.0" for integral floats) so the
 * bytes match what Roboflow's server sends.
 *
 * Does not: parse definitions or run anything. Invariant: nothing here
 * allocates except wf_error_to_json and wf_json_dump's buffer growth.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow/workflow.h"

/* ------------------------------------------------------------------ errors */

static void copy_str(char *dst, size_t cap, const char *src)
{
    if (!src) src = "";
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void wf_error_clear(struct wf_error *we)
{
    if (!we) return;
    memset(we, 0, sizeof *we);
}

mlc_status wf_fail(struct wf_error *we, mlc_status st, int http, const char *error_type,
                   const char *context, const char *fmt, ...)
{
    if (!we) return st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(we->e.message, sizeof we->e.message, fmt, ap);
    va_end(ap);
    we->e.status = st;
    we->http_status = http;
    copy_str(we->error_type, sizeof we->error_type, error_type);
    copy_str(we->context, sizeof we->context, context);
    return st;
}

void wf_error_block(struct wf_error *we, const char *block_id, const char *block_type,
                    const char *property, const char *details)
{
    if (!we) return;
    copy_str(we->block_id, sizeof we->block_id, block_id);
    copy_str(we->block_type, sizeof we->block_type, block_type);
    copy_str(we->property_name, sizeof we->property_name, property);
    copy_str(we->property_details, sizeof we->property_details, details);
}

static void cat(char *dst, size_t cap, const char *src)
{
    size_t l = strlen(dst), n = strlen(src);
    if (l + 1 >= cap) return;
    if (n > cap - l - 1) n = cap - l - 1;
    memcpy(dst + l, src, n);
    dst[l + n] = '\0';
}

void wf_error_prefix(struct wf_error *we, const char *prefix)
{
    if (!we) return;
    char tmp[MLC_ERROR_MAX];
    tmp[0] = '\0';
    cat(tmp, sizeof tmp, prefix);
    cat(tmp, sizeof tmp, we->e.message);
    memcpy(we->e.message, tmp, sizeof tmp);
}

void wf_error_to_mlc(const struct wf_error *we, mlc_error *err)
{
    if (!err) return;
    err->status = we->e.status;
    err->message[0] = '\0';
    if (we->error_type[0]) {
        cat(err->message, sizeof err->message, we->error_type);
        cat(err->message, sizeof err->message, ": ");
    }
    cat(err->message, sizeof err->message, we->e.message);
}

static json_t *str_or_null(const char *s)
{
    return (s && *s) ? json_string(s) : json_null();
}

char *wf_error_to_json(const struct wf_error *we)
{
    json_t *o = json_object();
    char *out = NULL;
    if (!o) return NULL;
    json_object_set_new(o, "message", json_string(we->e.message));
    json_object_set_new(o, "error_type", str_or_null(we->error_type));
    json_object_set_new(o, "context", str_or_null(we->context));
    json_object_set_new(o, "inner_error_type", str_or_null(we->inner_error_type));
    json_object_set_new(o, "inner_error_message", str_or_null(we->inner_error_message));
    json_t *be = json_array();
    if (be && we->block_id[0]) {
        json_t *b = json_object();
        json_object_set_new(b, "block_id", json_string(we->block_id));
        json_object_set_new(b, "block_type", str_or_null(we->block_type));
        json_object_set_new(b, "block_details", json_null());
        json_object_set_new(b, "property_name", str_or_null(we->property_name));
        json_object_set_new(b, "property_details", str_or_null(we->property_details));
        json_array_append_new(be, b);
    }
    json_object_set_new(o, "blocks_errors", be ? be : json_null());
    struct core_buf b;
    core_buf_init(&b, 0);
    if (wf_json_dump(&b, o) == MLC_OK) out = core_buf_take(&b);
    core_buf_free(&b);
    json_decref(o);
    return out;
}

/* ------------------------------------------------------------------- kinds */

/* Names and descriptions as Roboflow's execution_engine/entities/types.py
 * declares them (only the kinds the blocks here use). */
const struct wf_kind wf_kinds[] = {
    {"*", "Equivalent of any element", "", NULL, NULL},
    {"image", "Image in workflows",
     "This kind represents image, which is the main input data type in Workflows.", "dict",
     "WorkflowImageData"},
    {"roboflow_model_id", "Roboflow model id",
     "This kind represents value specific for Roboflow platform: model id, in format "
     "`<project_name>/<version>`.",
     "str", "str"},
    {"string", "String value", "Examples:\n```\n\"my string value\"\n```\n", "str", "str"},
    {"float_zero_to_one", "`float` value in range `[0.0, 1.0]`",
     "Examples:\n```\n0.1\n0.4\n0.999\n```\n", "float", "float"},
    {"float", "Float value", "Examples:\n```\n1.3\n2.7\n```\n", "float", "float"},
    {"integer", "Integer value", "Examples:\n```\n1\n2\n```\n", "int", "int"},
    {"boolean", "Boolean flag", "Examples:\n```\nTrue\nFalse\n```\n", "bool", "bool"},
    {"roboflow_project", "Roboflow project name",
     "This kind represents value specific for Roboflow platform: project name (a.k.a. dataset "
     "slug).",
     "str", "str"},
    {"classification_prediction", "Predictions from classifier",
     "This kind represents predictions from Classification Models: a dict in the format of "
     "Roboflow's multi-class or multi-label classification response, with `prediction_type`, "
     "`parent_id` and `root_parent_id` keys added.",
     "dict", "dict"},
    {"inference_id", "Inference identifier",
     "This kind represents identifier of inference process, which is usually opaque string "
     "used as correlation identifier for external systems.",
     "str", "str"},
};
const int wf_n_kinds = (int)(sizeof wf_kinds / sizeof wf_kinds[0]);

const struct wf_kind *wf_kind_find(const char *name)
{
    for (int i = 0; i < wf_n_kinds; i++)
        if (!strcmp(wf_kinds[i].name, name)) return &wf_kinds[i];
    return NULL;
}

int wf_kinds_compatible(const char *const *a, const char *const *b)
{
    if (!a || !b) return 0;
    for (const char *const *x = a; *x; x++) {
        if (!strcmp(*x, "*")) return 1;
        for (const char *const *y = b; *y; y++)
            if (!strcmp(*y, "*") || !strcmp(*x, *y)) return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- selector */

static int name_char(char c, int allow_star)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || (allow_star && c == '*');
}

/* (^\$steps\.[A-Za-z_\-0-9]+\.[A-Za-z_*0-9\-]+$)|(^\$inputs.[A-Za-z_0-9\-]+$) */
int wf_is_selector(const char *s)
{
    if (!s) return 0;
    if (!strncmp(s, "$steps.", 7)) {
        const char *p = s + 7;
        const char *q = p;
        while (name_char(*q, 0)) q++;
        if (q == p || *q != '.') return 0;
        const char *r = ++q;
        while (name_char(*r, 1)) r++;
        return r > q && *r == '\0';
    }
    if (!strncmp(s, "$inputs", 7) && s[7] != '\0') {
        const char *p = s + 8; /* the regex's unescaped '.' accepts any character */
        const char *q = p;
        while (name_char(*q, 0)) q++;
        return q > p && *q == '\0';
    }
    return 0;
}

/* -------------------------------------------------------------- JSON write */

static mlc_status dump_string(struct core_buf *b, const char *s, size_t n)
{
    mlc_status st = core_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n && !st; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            st = core_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            st = core_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            st = core_buf_append(b, "\\n", 2);
            break;
        case '\r':
            st = core_buf_append(b, "\\r", 2);
            break;
        case '\t':
            st = core_buf_append(b, "\\t", 2);
            break;
        case '\b':
            st = core_buf_append(b, "\\b", 2);
            break;
        case '\f':
            st = core_buf_append(b, "\\f", 2);
            break;
        default:
            if (c < 0x20)
                st = core_buf_printf(b, "\\u%04x", c);
            else
                st = core_buf_append(b, &s[i], 1);
        }
    }
    if (!st) st = core_buf_append(b, "\"", 1);
    return st;
}

mlc_status wf_json_dump(struct core_buf *b, const json_t *v)
{
    mlc_status st = MLC_OK;
    char num[32];
    switch (json_typeof(v)) {
    case JSON_NULL:
        return core_buf_append(b, "null", 4);
    case JSON_TRUE:
        return core_buf_append(b, "true", 4);
    case JSON_FALSE:
        return core_buf_append(b, "false", 5);
    case JSON_INTEGER:
        return core_buf_printf(b, "%lld", (long long)json_integer_value(v));
    case JSON_REAL:
        core_format_double(json_real_value(v), num);
        return core_buf_append(b, num, strlen(num));
    case JSON_STRING:
        return dump_string(b, json_string_value(v), json_string_length(v));
    case JSON_ARRAY: {
        st = core_buf_append(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v) && !st; i++) {
            if (i) st = core_buf_append(b, ",", 1);
            if (!st) st = wf_json_dump(b, json_array_get(v, i));
        }
        if (!st) st = core_buf_append(b, "]", 1);
        return st;
    }
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        int first = 1;
        st = core_buf_append(b, "{", 1);
        json_object_foreach((json_t *)v, key, val)
        {
            if (st) break;
            if (!first) st = core_buf_append(b, ",", 1);
            first = 0;
            if (!st) st = dump_string(b, key, strlen(key));
            if (!st) st = core_buf_append(b, ":", 1);
            if (!st) st = wf_json_dump(b, val);
        }
        if (!st) st = core_buf_append(b, "}", 1);
        return st;
    }
    }
    return MLC_STATUS_INTERNAL;
}
