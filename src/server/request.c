/*
 * request.c - turns request bodies into request structs: bounded JSON
 * parsing (size, nesting depth, UTF-8, duplicate keys), the
 * /infer/classification and /workflows/run bodies, image objects, model ids,
 * and `excluded_fields`. Also the layer's small helpers (errors, capped
 * buffer, JSON dump through the allocation door).
 *
 * What it does not do: no I/O, no model or image work; it only validates the
 * shape of what a client sent. Every function is pure over its inputs, so
 * the fuzzer (fuzz/fuzz_http.c) can drive it directly.
 *
 * Invariants: parsed request structs borrow strings from the json_t document
 * they were parsed from; the document must outlive them. A refusal always
 * names the JSON location (`body.image[3].type`) and the HTTP status.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "server/server.h"

static int dump_cb(const char *buffer, size_t size, void *data)
{
    return core_buf_append(data, buffer, size) == MLC_OK ? 0 : -1;
}

char *srv_json_dump(const json_t *v, size_t *n_out)
{
    struct core_buf b;
    core_buf_init(&b, 0);
    /* Through a callback so the text comes from mlc_alloc, not jansson's malloc. */
    if (json_dump_callback(v, dump_cb, &b, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER)) {
        core_buf_free(&b);
        return NULL;
    }
    if (n_out) *n_out = b.len;
    return core_buf_take(&b);
}

int srv_json_depth(const char *text, size_t n, int limit)
{
    int depth = 0, max = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"')
            in_str = 1;
        else if (c == '[' || c == '{') {
            if (++depth > max) max = depth;
            if (max > limit) return limit + 1;
        } else if (c == ']' || c == '}') {
            if (depth > 0) depth--;
        }
    }
    return max;
}

mlc_status srv_json_parse(const char *body, size_t n, const mlc_limits *lim, json_t **out,
                          mlc_error *err)
{
    if (n > lim->max_input_bytes)
        return core_err(err, MLC_STATUS_LIMIT, "request body: %zu bytes exceeds the limit of %zu",
                        n, lim->max_input_bytes);
    if (n == 0) return core_err(err, MLC_STATUS_BAD_JSON, "request body: empty, expected JSON");
    /* jansson's own depth cap is 2048; the limit here is the configured one,
     * checked before any tree is built. */
    if (srv_json_depth(body, n, lim->max_json_depth) > lim->max_json_depth)
        return core_err(err, MLC_STATUS_LIMIT, "request body: JSON nested deeper than %d levels",
                        lim->max_json_depth);
    json_error_t je;
    json_t *doc = json_loadb(body, n, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return core_err(err, MLC_STATUS_BAD_JSON, "request body: invalid JSON at offset %d: %s",
                        je.position, je.text);
    *out = doc;
    return MLC_OK;
}

static mlc_status reject(struct srv_reject *rej, int http, const char *loc, mlc_error *err,
                         mlc_status st, const char *fmt, ...) SRV_PRINTF(6, 7);
static mlc_status reject(struct srv_reject *rej, int http, const char *loc, mlc_error *err,
                         mlc_status st, const char *fmt, ...)
{
    if (rej) {
        rej->http_status = http;
        snprintf(rej->loc, sizeof rej->loc, "%s", loc);
    }
    if (err) {
        char msg[MLC_ERROR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        core_err(err, st, "%s: %s", loc, msg);
    }
    return st;
}

int srv_model_id_valid(const char *id)
{
    if (!id || !*id || strlen(id) > 256) return 0;
    int slashes = 0;
    const char *seg = id;
    for (const char *p = id;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t len = (size_t)(p - seg);
            if (len == 0) return 0;
            if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
                return 0;
            if (*p == '\0') break;
            slashes++;
            seg = p + 1;
            continue;
        }
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f || c == '\\') return 0;
    }
    return slashes <= 1;
}

mlc_status srv_parse_image(const json_t *v, const char *loc, struct srv_image_ref *out,
                           struct srv_reject *rej, mlc_error *err)
{
    if (!json_is_object(v))
        return reject(rej, 422, loc, err, MLC_STATUS_INVALID_ARGUMENT,
                      "expected an image object {\"type\": \"base64\"|\"url\", \"value\": ...}");
    const json_t *t = json_object_get(v, "type");
    const json_t *val = json_object_get(v, "value");
    if (!json_is_string(t))
        return reject(rej, 422, loc, err, MLC_STATUS_INVALID_ARGUMENT,
                      "image object needs a string \"type\"");
    const char *type = json_string_value(t);
    if (!strcmp(type, "numpy") || !strcmp(type, "numpy_object") || !strcmp(type, "pil"))
        return reject(rej, 400, loc, err, MLC_STATUS_UNSUPPORTED,
                      "image type '%s' is refused: it is a pickled Python object and "
                      "unpickling runs code; send {\"type\": \"base64\"} or {\"type\": \"url\"}",
                      type);
    if (!strcmp(type, "file") || !strcmp(type, "multipart"))
        return reject(rej, 400, loc, err, MLC_STATUS_UNSUPPORTED,
                      "image type '%s' is not accepted over HTTP; send {\"type\": \"base64\"} "
                      "or {\"type\": \"url\"}",
                      type);
    if (strcmp(type, "base64") && strcmp(type, "url"))
        return reject(rej, 422, loc, err, MLC_STATUS_INVALID_ARGUMENT,
                      "unknown image type '%.64s' (expected \"base64\" or \"url\")", type);
    if (!json_is_string(val) || json_string_length(val) == 0)
        return reject(rej, 422, loc, err, MLC_STATUS_INVALID_ARGUMENT,
                      "image object needs a non-empty string \"value\"");
    out->type = !strcmp(type, "url") ? SRV_IMAGE_URL : SRV_IMAGE_BASE64;
    out->value = json_string_value(val);
    return MLC_OK;
}

static const char *opt_string(const json_t *doc, const char *key, int *bad)
{
    const json_t *v = json_object_get(doc, key);
    if (!v || json_is_null(v)) return NULL;
    if (!json_is_string(v)) {
        *bad = 1;
        return NULL;
    }
    return json_string_value(v);
}

static int opt_bool(const json_t *doc, const char *key, int *bad)
{
    const json_t *v = json_object_get(doc, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) {
        *bad = 1;
        return 0;
    }
    return json_is_true(v);
}

mlc_status srv_parse_classify(const json_t *doc, const mlc_limits *lim,
                              struct srv_classify_req *req_out, struct srv_reject *rej,
                              mlc_error *err)
{
    mlc_status st = MLC_OK;
    struct srv_classify_req r;
    memset(&r, 0, sizeof r);
    char loc[64];
    int bad = 0;
    if (!json_is_object(doc))
        return reject(rej, 422, "body", err, MLC_STATUS_INVALID_ARGUMENT, "expected a JSON object");
    r.model_id = opt_string(doc, "model_id", &bad);
    if (bad || !r.model_id)
        return reject(rej, 422, "body.model_id", err, MLC_STATUS_INVALID_ARGUMENT,
                      "field required (a string like \"project/3\")");
    if (!srv_model_id_valid(r.model_id))
        return reject(rej, 400, "body.model_id", err, MLC_STATUS_INVALID_ARGUMENT,
                      "Invalid Model ID sent in request.");
    r.api_key = opt_string(doc, "api_key", &bad);
    if (bad)
        return reject(rej, 422, "body.api_key", err, MLC_STATUS_INVALID_ARGUMENT,
                      "expected a string");

    /* Roboflow's ClassificationInferenceRequest default is 0.4. */
    r.conf = mlc_confidence_value(0.4);
    const json_t *c = json_object_get(doc, "confidence");
    if (json_is_number(c)) {
        double v = json_number_value(c);
        if (!(v >= 0.0 && v <= 1.0))
            return reject(rej, 422, "body.confidence", err, MLC_STATUS_INVALID_ARGUMENT,
                          "%g is outside [0, 1]", v);
        r.conf = mlc_confidence_value(v);
    } else if (json_is_string(c)) {
        mlc_error e2;
        if (mlc_confidence_parse(json_string_value(c), &r.conf, &e2))
            return reject(rej, 422, "body.confidence", err, MLC_STATUS_INVALID_ARGUMENT,
                          "expected a number in [0, 1], \"best\" or \"default\"");
    } else if (c && !json_is_null(c)) {
        return reject(rej, 422, "body.confidence", err, MLC_STATUS_INVALID_ARGUMENT,
                      "expected a number in [0, 1], \"best\" or \"default\"");
    }

    static const struct {
        const char *key;
        unsigned cflag, iflag;
    } flags[] = {
        {"disable_preproc_auto_orient", 0, MLC_IMAGE_NO_AUTO_ORIENT},
        {"disable_preproc_contrast", MLC_CLASSIFY_NO_CONTRAST, 0},
        {"disable_preproc_grayscale", MLC_CLASSIFY_NO_GRAYSCALE, 0},
        {"disable_preproc_static_crop", MLC_CLASSIFY_NO_STATIC_CROP, 0},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (opt_bool(doc, flags[i].key, &bad)) {
            r.classify_flags |= flags[i].cflag;
            r.image_flags |= flags[i].iflag;
        }
        if (bad) {
            snprintf(loc, sizeof loc, "body.%s", flags[i].key);
            return reject(rej, 422, loc, err, MLC_STATUS_INVALID_ARGUMENT, "expected a boolean");
        }
    }

    r.disable_al = opt_bool(doc, "disable_active_learning", &bad);
    if (bad)
        return reject(rej, 422, "body.disable_active_learning", err, MLC_STATUS_INVALID_ARGUMENT,
                      "expected a boolean");
    const json_t *alt = json_object_get(doc, "active_learning_target_dataset");
    if (alt && !json_is_null(alt) && !json_is_string(alt))
        return reject(rej, 422, "body.active_learning_target_dataset", err,
                      MLC_STATUS_INVALID_ARGUMENT, "expected a string");
    r.al_target = json_is_string(alt) ? json_string_value(alt) : NULL;

    const json_t *img = json_object_get(doc, "image");
    if (!img || json_is_null(img))
        return reject(rej, 422, "body.image", err, MLC_STATUS_INVALID_ARGUMENT, "field required");
    if (json_is_array(img)) {
        r.is_list = 1;
        r.n_images = json_array_size(img);
        if (r.n_images == 0)
            return reject(rej, 422, "body.image", err, MLC_STATUS_INVALID_ARGUMENT,
                          "empty list of images");
        if (r.n_images > (size_t)lim->max_batch)
            return reject(rej, 400, "body.image", err, MLC_STATUS_LIMIT,
                          "%zu images exceed the limit of %d per request", r.n_images,
                          lim->max_batch);
    } else {
        r.n_images = 1;
    }
    r.images = mlc_calloc(r.n_images, sizeof *r.images);
    if (!r.images) {
        st = reject(rej, 500, "body.image", err, MLC_STATUS_NO_MEMORY, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < r.n_images; i++) {
        const json_t *v = r.is_list ? json_array_get(img, i) : img;
        if (r.is_list)
            snprintf(loc, sizeof loc, "body.image[%zu]", i);
        else
            snprintf(loc, sizeof loc, "body.image");
        st = srv_parse_image(v, loc, &r.images[i], rej, err);
        if (st) goto fail;
    }
    *req_out = r;
    return MLC_OK;
fail:
    mlc_free(r.images);
    return st;
}

void srv_classify_req_free(struct srv_classify_req *req)
{
    if (!req) return;
    mlc_free(req->images);
    req->images = NULL;
}

/* Walks workflow inputs: refuses pickled/non-HTTP image types anywhere an
 * image object can appear (a value or a list element) and counts URLs. */
static mlc_status check_input_value(const json_t *v, const char *loc, int depth,
                                    struct srv_workflow_req *r, struct srv_reject *rej,
                                    mlc_error *err)
{
    if (json_is_object(v)) {
        const json_t *t = json_object_get(v, "type");
        if (json_is_string(t) && json_object_get(v, "value")) {
            struct srv_image_ref ref;
            const char *type = json_string_value(t);
            /* Only objects that claim an image type are image objects. */
            static const char *const image_types[] = {"base64", "url",  "numpy",    "numpy_object",
                                                      "pil",    "file", "multipart"};
            for (size_t i = 0; i < sizeof image_types / sizeof image_types[0]; i++) {
                if (strcmp(type, image_types[i])) continue;
                mlc_status st = srv_parse_image(v, loc, &ref, rej, err);
                if (st) return st;
                if (ref.type == SRV_IMAGE_URL) r->n_url_images++;
                return MLC_OK;
            }
        }
        return MLC_OK;
    }
    if (json_is_array(v) && depth < 2) {
        char sub[128];
        for (size_t i = 0; i < json_array_size(v); i++) {
            snprintf(sub, sizeof sub, "%.100s[%zu]", loc, i);
            mlc_status st = check_input_value(json_array_get(v, i), sub, depth + 1, r, rej, err);
            if (st) return st;
        }
    }
    return MLC_OK;
}

mlc_status srv_parse_workflow_run(const json_t *doc, const mlc_limits *lim,
                                  struct srv_workflow_req *req_out, struct srv_reject *rej,
                                  mlc_error *err)
{
    (void)lim;
    struct srv_workflow_req r;
    memset(&r, 0, sizeof r);
    int bad = 0;
    if (!json_is_object(doc))
        return reject(rej, 422, "body", err, MLC_STATUS_INVALID_ARGUMENT, "expected a JSON object");
    r.specification = json_object_get(doc, "specification");
    if (!json_is_object(r.specification)) {
        if (json_object_get(doc, "workflow_id"))
            return reject(rej, 400, "body.workflow_id", err, MLC_STATUS_UNSUPPORTED,
                          "workflows saved on the Roboflow platform are not served by this "
                          "server; send the definition inline as \"specification\"");
        return reject(rej, 422, "body.specification", err, MLC_STATUS_INVALID_ARGUMENT,
                      "field required (the workflow definition object)");
    }
    r.inputs = json_object_get(doc, "inputs");
    if (!r.inputs || json_is_null(r.inputs)) {
        r.inputs = NULL;
    } else if (!json_is_object(r.inputs)) {
        return reject(rej, 422, "body.inputs", err, MLC_STATUS_INVALID_ARGUMENT,
                      "expected an object of input name -> value");
    }
    r.api_key = opt_string(doc, "api_key", &bad);
    if (bad)
        return reject(rej, 422, "body.api_key", err, MLC_STATUS_INVALID_ARGUMENT,
                      "expected a string");
    r.enable_profiling = opt_bool(doc, "enable_profiling", &bad);
    if (bad)
        return reject(rej, 422, "body.enable_profiling", err, MLC_STATUS_INVALID_ARGUMENT,
                      "expected a boolean");
    r.excluded = json_object_get(doc, "excluded_fields");
    if (r.excluded && json_is_null(r.excluded)) r.excluded = NULL;
    if (r.excluded) {
        if (!json_is_array(r.excluded))
            return reject(rej, 422, "body.excluded_fields", err, MLC_STATUS_INVALID_ARGUMENT,
                          "expected a list of output names");
        for (size_t i = 0; i < json_array_size(r.excluded); i++)
            if (!json_is_string(json_array_get(r.excluded, i)))
                return reject(rej, 422, "body.excluded_fields", err, MLC_STATUS_INVALID_ARGUMENT,
                              "element %zu is not a string", i);
    }
    if (r.inputs) {
        const char *key;
        const json_t *v;
        char loc[128];
        json_object_foreach((json_t *)r.inputs, key, v)
        {
            snprintf(loc, sizeof loc, "body.inputs.%.64s", key);
            mlc_status st = check_input_value(v, loc, 0, &r, rej, err);
            if (st) return st;
        }
    }
    *req_out = r;
    return MLC_OK;
}

mlc_status srv_parse_model_req(const json_t *doc, const char **model_id_out,
                               const char **api_key_out, struct srv_reject *rej, mlc_error *err)
{
    int bad = 0;
    if (!json_is_object(doc))
        return reject(rej, 422, "body", err, MLC_STATUS_INVALID_ARGUMENT, "expected a JSON object");
    const char *id = opt_string(doc, "model_id", &bad);
    if (bad || !id)
        return reject(rej, 422, "body.model_id", err, MLC_STATUS_INVALID_ARGUMENT,
                      "field required (a string like \"project/3\")");
    if (!srv_model_id_valid(id))
        return reject(rej, 400, "body.model_id", err, MLC_STATUS_INVALID_ARGUMENT,
                      "Invalid Model ID sent in request.");
    const char *key = opt_string(doc, "api_key", &bad);
    if (bad)
        return reject(rej, 422, "body.api_key", err, MLC_STATUS_INVALID_ARGUMENT,
                      "expected a string");
    *model_id_out = id;
    *api_key_out = key;
    return MLC_OK;
}

void srv_exclude_fields(json_t *response, const json_t *excluded)
{
    if (!excluded || !json_array_size(excluded)) return;
    json_t *outs = json_object_get(response, "outputs");
    if (!json_is_array(outs)) return;
    for (size_t i = 0; i < json_array_size(outs); i++) {
        json_t *el = json_array_get(outs, i);
        if (!json_is_object(el)) continue;
        for (size_t k = 0; k < json_array_size(excluded); k++)
            json_object_del(el, json_string_value(json_array_get(excluded, k)));
    }
}
