/*
 * legacy.c - Roboflow's older model endpoints, used when the weights API has
 * nothing mlc can run (download.c decides): writes a legacy package into the
 * staging directory download.c made.
 *
 *   versioned id "project/3" (§5.2):
 *     GET {base}/ort/<project>/<3>?nocache=true&device=<id>&dynamic=true
 *         [&api_key=<key>]   with X-Roboflow-Inference-Version, X-Allow-Chunked
 *         and $ROBOFLOW_API_EXTRA_HEADERS
 *     -> {"ort": {"type", "environment": <url>, "model": <url>, "classes",
 *                 "colors", "modelType", ...}}
 *   instant id "project/abc" (no integer version):
 *     GET {base}/getWeights?model=<id>[&api_key=<key>]
 *     -> {"modelFiles": {"ort": {"model": <url>}}, "environment": {...},
 *         "classes", "colors", "taskType", "modelType"}
 *
 * Package written: environment.json (the environment with COLORS added),
 * class_names.txt (from "classes"), best.onnx (weights.onnx for YOLOv8-cls)
 * and model_type.json ({project_task_type, model_type, model_id}, the file
 * inference keeps next to it; package.c reads the architecture from it).
 *
 * Refused before the weights are fetched (UNSUPPORTED, naming the task): a
 * task other than classification, and a classification model whose
 * environment's MULTICLASS is not truthy (single-label). File names are
 * fixed here: nothing from the answer becomes a path. Not here: staging,
 * installing and the cache (download.c), parsing (package.c).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "model/fetch.h"

#define MAX_API_JSON      ((size_t)16 << 20)
#define MAX_EXTRA_HEADERS 32

static const char NOT_FOUND_MSG[] =
    "Could not find requested Roboflow resource. Check that the provided dataset and version "
    "are correct, and check that the provided Roboflow API key has the correct permissions.";
static const char UNAUTHORIZED_MSG[] =
    "Unauthorized access to roboflow API - check API key. Visit "
    "https://docs.roboflow.com/api-reference/authentication#retrieve-an-api-key to learn how to "
    "retrieve one.";

/* §5.2's table (wrap_roboflow_api_errors). */
static mlc_status map_status(long code, const char *id, const char *what, mlc_error *err)
{
    switch (code) {
    case 401:
        return core_err(err, MLC_STATUS_UNAUTHORIZED, "model '%s': %s (HTTP 401 from %s)", id,
                        UNAUTHORIZED_MSG, what);
    case 402:
        return core_err(err, MLC_STATUS_UNAUTHORIZED,
                        "model '%s': payment required for this workspace (HTTP 402 from %s)", id,
                        what);
    case 403:
        return core_err(err, MLC_STATUS_UNAUTHORIZED,
                        "model '%s': access forbidden for this API key (HTTP 403 from %s)", id,
                        what);
    case 404:
        return core_err(err, MLC_STATUS_NOT_FOUND, "model '%s': %s (HTTP 404 from %s)", id,
                        NOT_FOUND_MSG, what);
    case 423:
        return core_err(err, MLC_STATUS_UNAUTHORIZED,
                        "model '%s': usage of the workspace is paused (HTTP 423 from %s)", id,
                        what);
    default:
        return core_err(err, MLC_STATUS_NETWORK,
                        "model '%s': Unsuccessful request to Roboflow API with response code: "
                        "%ld (%s)",
                        id, code, what);
    }
}

/* Request headers (build_roboflow_api_headers): fixed ones plus the JSON
 * object in $ROBOFLOW_API_EXTRA_HEADERS. Lines with CR/LF are dropped so an
 * environment value cannot inject headers. */
struct headers {
    char *line[MAX_EXTRA_HEADERS + 3];
    size_t n;
};

static void headers_free(struct headers *h)
{
    for (size_t i = 0; i < h->n; i++) mlc_free(h->line[i]);
    h->n = 0;
}

static mlc_status headers_build(struct headers *h, mlc_error *err)
{
    h->n = 0;
    if (!(h->line[h->n++] = core_strdup("X-Roboflow-Inference-Version: mlc-" MLC_VERSION)) ||
        !(h->line[h->n++] = core_strdup("X-Allow-Chunked: true")))
        goto nomem;
    const char *extra = getenv("ROBOFLOW_API_EXTRA_HEADERS");
    json_t *x = extra && *extra ? json_loads(extra, 0, NULL) : NULL;
    const char *k;
    json_t *v;
    json_object_foreach(x, k, v)
    {
        if (h->n >= MAX_EXTRA_HEADERS + 2) break;
        if (!json_is_string(v) || !*k || strpbrk(k, "\r\n:") ||
            strpbrk(json_string_value(v), "\r\n"))
            continue;
        if (!(h->line[h->n] = core_sprintf("%s: %s", k, json_string_value(v)))) {
            json_decref(x);
            goto nomem;
        }
        h->n++;
    }
    json_decref(x);
    h->line[h->n] = NULL;
    return MLC_OK;
nomem:
    headers_free(h);
    return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
}

/* GET a JSON object; errors mapped as §5.2. `what` names the request in
 * messages (never the query string: it may hold the key). */
static mlc_status get_json(const struct mdl_fetch *f, const char *url, const char *const *hdrs,
                           json_t **out, mlc_error *err)
{
    struct mdl_sink s;
    memset(&s, 0, sizeof s);
    size_t cap = f->max_bytes < MAX_API_JSON ? f->max_bytes : MAX_API_JSON;
    core_buf_init(&s.mem, cap);
    s.max = cap;
    long code = 0;
    char *what = mdl_url_for_message(url);
    mlc_status st = mdl_http_get(url, hdrs, f->timeout_ms, &s, &code, err);
    if (st) goto fail;
    if (code != 200) {
        st = map_status(code, f->id, what ? what : "?", err);
        goto fail;
    }
    json_error_t je;
    json_t *root = json_loadb(s.mem.data ? s.mem.data : "", s.mem.len, 0, &je);
    if (!json_is_object(root)) {
        st = core_err(err, MLC_STATUS_NETWORK,
                      "model '%s': malformed response from Roboflow API (%s): %s", f->id,
                      what ? what : "?", root ? "not a JSON object" : je.text);
        json_decref(root);
        goto fail;
    }
    *out = root;
fail:
    core_buf_free(&s.mem);
    mlc_free(what);
    return st;
}

static char *device_id(void)
{
    const char *d = getenv("DEVICE_ID");
    if (d && *d) return core_strdup(d);
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !host[0]) snprintf(host, sizeof host, "mlc");
    return core_strdup(host);
}

static mlc_status missing_key(const char *id, const char *key, mlc_error *err)
{
    return core_err(err, MLC_STATUS_BAD_MODEL,
                    "model '%s': Could not find `%s` key in roboflow API model description "
                    "response.",
                    id, key);
}

static const char *str_or(const json_t *v, const char *dflt)
{
    return json_is_string(v) ? json_string_value(v) : dflt;
}

static mlc_status write_json(const char *dir, const char *name, const json_t *v, mlc_error *err)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *path = core_sprintf("%s/%s", dir, name);
    mlc_status st = text && path ? core_write_file_atomic(path, text, strlen(text), err)
                                 : core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    core_libc_free(text);
    mlc_free(path);
    return st;
}

static mlc_status write_classes(const char *dir, const json_t *classes, mlc_error *err)
{
    struct core_buf b;
    core_buf_init(&b, MAX_API_JSON);
    mlc_status st = MLC_OK;
    size_t i;
    const json_t *c;
    json_array_foreach(classes, i, c)
    {
        if (!json_is_string(c)) continue;
        if ((st = core_buf_printf(&b, "%s%s", i ? "\n" : "", json_string_value(c)))) break;
    }
    char *path = core_sprintf("%s/class_names.txt", dir);
    if (!st && !path) st = MLC_STATUS_NO_MEMORY;
    if (st)
        st = core_err(err, st, "model '%s': cannot build class_names.txt", dir);
    else
        st = core_write_file_atomic(path, b.data ? b.data : "", b.len, err);
    mlc_free(path);
    core_buf_free(&b);
    return st;
}

mlc_status mdl_fetch_legacy(const struct mdl_fetch *f, const char *dataset, const char *version,
                            mlc_error *err)
{
    mlc_status st = MLC_OK;
    struct headers h = {.n = 0};
    json_t *root = NULL, *env = NULL, *mt = NULL;
    char *url = NULL, *e1 = NULL, *e2 = NULL, *ekey = NULL, *dev = NULL, *wpath = NULL;
    if ((st = headers_build(&h, err))) goto fail;
    if (f->key && strcmp(f->key, "local") && !(ekey = mdl_url_encode(f->key))) goto nomem;
    const json_t *desc, *model_url, *env_v, *task;
    if (version) {
        if (!(e1 = mdl_url_encode(dataset)) || !(e2 = mdl_url_encode(version)) ||
            !(dev = device_id()))
            goto nomem;
        char *edev = mdl_url_encode(dev);
        url = edev ? core_sprintf("%s/ort/%s/%s?nocache=true&device=%s&dynamic=true%s%s", f->base,
                                  e1, e2, edev, ekey ? "&api_key=" : "", ekey ? ekey : "")
                   : NULL;
        mlc_free(edev);
        if (!url) goto nomem;
        if ((st = get_json(f, url, (const char *const *)h.line, &root, err))) goto fail;
        desc = json_object_get(root, "ort");
        if (!json_is_object(desc)) {
            st = missing_key(f->id, "ort", err);
            goto fail;
        }
        model_url = json_object_get(desc, "model");
        if (!json_is_string(model_url)) {
            st = missing_key(f->id, "model", err);
            goto fail;
        }
        env_v = json_object_get(desc, "environment");
        if (!json_is_string(env_v)) {
            st = missing_key(f->id, "environment", err);
            goto fail;
        }
        /* the legacy client's default task when the answer has none */
        task = json_object_get(desc, "type");
        if (!json_is_string(task)) task = NULL;
    } else {
        if (!(e1 = mdl_url_encode(dataset))) goto nomem;
        if (!(url = core_sprintf("%s/getWeights?model=%s%s%s", f->base, e1, ekey ? "&api_key=" : "",
                                 ekey ? ekey : "")))
            goto nomem;
        if ((st = get_json(f, url, (const char *const *)h.line, &root, err))) goto fail;
        desc = root;
        model_url =
            json_object_get(json_object_get(json_object_get(root, "modelFiles"), "ort"), "model");
        if (!json_is_string(model_url)) {
            st = core_err(err, MLC_STATUS_BAD_MODEL,
                          "model '%s': Could not find `modelFiles` key or `modelFiles`.`ort` or "
                          "`modelFiles`.`ort`.`model` key in roboflow API model description "
                          "response.",
                          f->id);
            goto fail;
        }
        env_v = json_object_get(root, "environment");
        if (!env_v) {
            st = missing_key(f->id, "environment", err);
            goto fail;
        }
        task = json_object_get(root, "taskType");
        if (!json_is_string(task)) task = NULL;
    }
    const char *task_s = task ? json_string_value(task) : "object-detection";
    if (strcmp(task_s, "classification") && strcmp(task_s, "multi-label-classification")) {
        st = core_err(err, MLC_STATUS_UNSUPPORTED,
                      "model '%s' is a \"%.100s\" model (Roboflow API task type); mlc runs only "
                      "multi-label classification models",
                      f->id, task_s);
        goto fail;
    }
    if (json_is_string(env_v)) {
        if ((st = get_json(f, json_string_value(env_v), NULL, &env, err))) {
            core_err_prefix(err, "downloading environment.json");
            goto fail;
        }
    } else if (json_is_object(env_v)) {
        if (!(env = json_deep_copy(env_v))) goto nomem;
    } else {
        st = core_err(err, MLC_STATUS_BAD_MODEL,
                      "model '%s': the API's `environment` is neither a URL nor a JSON object",
                      f->id);
        goto fail;
    }
    if (!mdl_json_truthy(json_object_get(env, "MULTICLASS"))) {
        st = core_err(err, MLC_STATUS_UNSUPPORTED,
                      "model '%s' is a single-label classification model (its environment.json "
                      "MULTICLASS is not set); the multi-label classification block needs a "
                      "multi-label classification model",
                      f->id);
        goto fail;
    }
    /* model type: MODEL_TYPE_DEFAULTS maps a missing or "ort" type to vit */
    const char *mtype = str_or(json_object_get(desc, "modelType"), "vit");
    if (!strcmp(mtype, "ort") || !*mtype) mtype = "vit";
    const char *wname = !strncmp(mtype, "yolov8", 6) ? "weights.onnx" : "best.onnx";
    if (!(wpath = core_sprintf("%s/%s", f->staging, wname))) goto nomem;
    if ((st = mdl_download_file(json_string_value(model_url), wpath, NULL, f->max_bytes,
                                f->timeout_ms, err)))
        goto fail;
    const json_t *colors = json_object_get(desc, "colors");
    if (colors && json_object_set(env, "COLORS", (json_t *)colors)) goto nomem;
    const json_t *classes = json_object_get(desc, "classes");
    if (json_is_array(classes) && (st = write_classes(f->staging, classes, err))) goto fail;
    if (!(mt = json_pack("{s:s,s:s,s:s}", "project_task_type", "classification", "model_type",
                         mtype, "model_id", f->id)))
        goto nomem;
    if ((st = write_json(f->staging, "model_type.json", mt, err))) goto fail;
    /* environment.json last: its presence is what marks a package complete */
    if ((st = write_json(f->staging, "environment.json", env, err))) goto fail;
    goto fail;
nomem:
    st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
fail:
    headers_free(&h);
    json_decref(root);
    json_decref(env);
    json_decref(mt);
    mlc_free(url);
    mlc_free(e1);
    mlc_free(e2);
    mlc_free(ekey);
    mlc_free(dev);
    mlc_free(wpath);
    return st;
}
