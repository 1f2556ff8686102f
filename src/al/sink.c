/*
 * sink.c - where datapoints go, and the Roboflow API calls active learning
 * makes.
 *
 * Local sink: <root>/<target_dataset>/<batch>/<key>.jpg plus <key>.json
 * (key, batch, tags, model_id, inference_id, the prediction). Files are
 * named by the idempotency key, so a resend overwrites instead of
 * duplicating.
 * Roboflow sink: POST {api}/dataset/{ds}/upload?api_key&batch&inference_id
 * &tag..&name=<key>.jpg (multipart "file"), with an Idempotency-Key header;
 * then, with persist_predictions, POST {api}/dataset/{ds}/annotate/{id}
 * ?api_key&name=<key>.json&prediction=true with the multi-label prediction
 * JSON as body (Roboflow's own manager cannot encode multi-label
 * predictions and attaches nothing). A "duplicate" answer counts as
 * delivered.
 * Config fetch: the three GETs Roboflow's prepare_active_learning_
 * configuration makes (workspace, project types, .../active_learning).
 * Status mapping: 2xx ok; 400/404/413/422 on upload -> INVALID_ARGUMENT
 * (permanent); 401/403 -> UNAUTHORIZED; the rest -> NETWORK (retry).
 * What it does not do: retry or backoff (manager.c decides).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "al/al.h"
#include "core/core.h"
#include "core/curl_lib.h"

/* ------------------------------------------------------------------ local */

/* Dataset and batch names become directory names: keep them one level. */
static char *safe_component(const char *s)
{
    char *r = core_strdup(s && *s ? s : "_");
    if (!r) return NULL;
    for (char *p = r; *p; p++)
        if (*p == '/' || *p == '\\') *p = '-';
    if (r[0] == '.') r[0] = '_';
    return r;
}

mlc_status al_sink_local_send(const char *root, const struct al_datapoint *dp, mlc_error *err)
{
    mlc_status st = MLC_OK;
    char *ds = safe_component(dp->target_dataset), *batch = safe_component(dp->batch);
    char *dir = NULL, *img = NULL, *ann = NULL, *text = NULL;
    json_t *o = json_object(), *tags = json_array(), *pred = NULL;
    if (!ds || !batch || !o || !tags) goto nomem;
    if (!(dir = core_sprintf("%s/%s/%s", root, ds, batch))) goto nomem;
    if ((st = core_mkdirs(dir, err))) goto fail;
    if (!(img = core_sprintf("%s/%s.jpg", dir, dp->key))) goto nomem;
    if (!(ann = core_sprintf("%s/%s.json", dir, dp->key))) goto nomem;
    if ((st = core_write_file_atomic(img, dp->jpeg, dp->jpeg_n, err))) goto fail;
    if (dp->prediction_json) pred = json_loads(dp->prediction_json, 0, NULL);
    for (size_t i = 0; i < dp->n_tags; i++) json_array_append_new(tags, json_string(dp->tags[i]));
    char *image_name = core_sprintf("%s.jpg", dp->key);
    if (!image_name) goto nomem;
    json_object_set_new(o, "image", json_string(image_name));
    mlc_free(image_name);
    json_object_set_new(o, "key", json_string(dp->key));
    json_object_set_new(o, "dataset", json_string(dp->target_dataset));
    json_object_set_new(o, "batch", json_string(dp->batch));
    json_object_set(o, "tags", tags);
    json_object_set_new(o, "model_id", json_string(dp->model_id));
    json_object_set_new(o, "inference_id",
                        dp->inference_id ? json_string(dp->inference_id) : json_null());
    if (dp->persist_predictions && pred) json_object_set(o, "prediction", pred);
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!s) goto nomem;
    text = core_strdup(s);
    core_libc_free(s); /* jansson's malloc */
    if (!text) goto nomem;
    if ((st = core_write_file_atomic(ann, text, strlen(text), err))) goto fail;
    st = al_fsync_dir(dir, err);
    goto done;
nomem:
    st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory writing to '%s'", root);
fail:
done:
    json_decref(o);
    json_decref(tags);
    json_decref(pred);
    mlc_free(ds);
    mlc_free(batch);
    mlc_free(dir);
    mlc_free(img);
    mlc_free(ann);
    mlc_free(text);
    return st;
}

/* ------------------------------------------------------------------- http */

struct resp {
    struct core_buf body;
};

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    struct resp *r = ud;
    return core_buf_append(&r->body, p, sz * nm) == MLC_OK ? sz * nm : 0;
}

static const char *api_url(const struct al_http *h)
{
    return h->api_url && *h->api_url ? h->api_url : "https://api.roboflow.com";
}

/* Appends "&name=<escaped value>" (or "?name=" for the first parameter). */
static mlc_status add_param(const struct core_curl *cu, CURL *c, struct core_buf *url,
                            const char *name, const char *value)
{
    char *e = cu->easy_escape(c, value ? value : "", 0);
    if (!e) return MLC_STATUS_NO_MEMORY;
    mlc_status st = core_buf_printf(url, "%c%s=%s",
                                    strchr(url->data ? url->data : "", '?') ? '&' : '?', name, e);
    cu->free(e);
    return st;
}

/* One request. body/mime may be NULL (GET). *code_out is the HTTP status,
 * 0 when the transfer itself failed (err says why). */
static mlc_status perform(const struct al_http *h, const char *url, const char *body,
                          curl_mime *mime, const char *idem_key, long *code_out, struct resp *r,
                          mlc_error *err)
{
    const struct core_curl *cu = NULL;
    struct curl_slist *hdr = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    *code_out = 0;
    mlc_status st = core_curl(&cu, err);
    if (st) return st;
    CURL *c = cu->easy_init();
    if (!c) return core_err(err, MLC_STATUS_NO_MEMORY, "cannot create an HTTP handle");
    int to = h->timeout_ms > 0 ? h->timeout_ms : 10000;
    cu->easy_setopt(c, CURLOPT_URL, url);
    cu->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)to);
    cu->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(to < 5000 ? to : 5000));
    cu->easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    cu->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    cu->easy_setopt(c, CURLOPT_WRITEDATA, r);
    cu->easy_setopt(c, CURLOPT_USERAGENT, "mlc/" MLC_VERSION);
    if (idem_key) {
        char line[80];
        snprintf(line, sizeof line, "Idempotency-Key: %s", idem_key);
        hdr = cu->slist_append(hdr, line);
    }
    if (body) {
        hdr = cu->slist_append(hdr, "Content-Type: application/json");
        cu->easy_setopt(c, CURLOPT_POSTFIELDS, body);
        cu->easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (mime) {
        cu->easy_setopt(c, CURLOPT_MIMEPOST, mime);
    }
    if (hdr) cu->easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    CURLcode rc = cu->easy_perform(c);
    if (rc != CURLE_OK) {
        st = core_err(err, MLC_STATUS_NETWORK, "Roboflow API request to %s failed: %s", api_url(h),
                      errbuf[0] ? errbuf : cu->easy_strerror(rc));
    } else {
        cu->easy_getinfo(c, CURLINFO_RESPONSE_CODE, code_out);
    }
    cu->slist_free_all(hdr);
    cu->easy_cleanup(c);
    return st;
}

static mlc_status http_status(long code, const char *what, mlc_error *err, int upload)
{
    if (code >= 200 && code < 300) return MLC_OK;
    if (code == 401 || code == 403)
        return core_err(err, MLC_STATUS_UNAUTHORIZED,
                        "%s: HTTP %ld: Unauthorized access to roboflow API - check API key", what,
                        code);
    if (upload && (code == 400 || code == 404 || code == 413 || code == 422))
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                        "%s: HTTP %ld: rejected by the Roboflow API", what, code);
    if (code == 404)
        return core_err(err, MLC_STATUS_NOT_FOUND,
                        "%s: HTTP 404: Could not find requested "
                        "Roboflow resource",
                        what);
    return core_err(err, MLC_STATUS_NETWORK,
                    "%s: Unsuccessful request to Roboflow API with response code: %ld", what, code);
}

mlc_status al_sink_roboflow_send(const struct al_http *h, const struct al_datapoint *dp,
                                 char **image_id_out, mlc_error *err)
{
    const struct core_curl *cu = NULL;
    mlc_status st = MLC_OK;
    struct core_buf url;
    struct resp r;
    char *image_id = NULL, *fname = NULL;
    json_t *j = NULL;
    curl_mime *mime = NULL;
    CURL *esc = NULL; /* only for escaping */
    long code = 0;
    core_buf_init(&url, 1u << 16);
    core_buf_init(&r.body, 1u << 20);
    *image_id_out = NULL;
    if ((st = core_curl(&cu, err))) goto fail;
    if (!(esc = cu->easy_init())) goto nomem;
    char *ds = safe_component(dp->target_dataset);
    if (!ds) goto nomem;
    st = core_buf_printf(&url, "%s/dataset/%s/upload", api_url(h), ds);
    mlc_free(ds);
    if (st) goto nomem;
    if (dp->image_id) {
        image_id = core_strdup(dp->image_id);
        if (!image_id) goto nomem;
    } else {
        if (!(fname = core_sprintf("%s.jpg", dp->key))) goto nomem;
        if (add_param(cu, esc, &url, "api_key", h->api_key) ||
            add_param(cu, esc, &url, "batch", dp->batch) || add_param(cu, esc, &url, "name", fname))
            goto nomem;
        if (dp->inference_id && add_param(cu, esc, &url, "inference_id", dp->inference_id))
            goto nomem;
        for (size_t i = 0; i < dp->n_tags; i++)
            if (add_param(cu, esc, &url, "tag", dp->tags[i])) goto nomem;
        if (!(mime = cu->mime_init(esc))) goto nomem;
        curl_mimepart *part = cu->mime_addpart(mime);
        if (!part || cu->mime_name(part, "file") || cu->mime_filename(part, fname) ||
            cu->mime_type(part, "image/jpeg") ||
            cu->mime_data(part, (const char *)dp->jpeg, dp->jpeg_n))
            goto nomem;
        if ((st = perform(h, url.data, NULL, mime, dp->key, &code, &r, err))) goto fail;
        if ((st = http_status(code, "active learning image upload", err, 1))) goto fail;
        j = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
        json_t *id = json_object_get(j, "id");
        int ok = json_is_true(json_object_get(j, "success")) ||
                 json_is_true(json_object_get(j, "duplicate"));
        if (!ok) {
            st = core_err(err, MLC_STATUS_NETWORK,
                          "active learning image upload: unexpected answer from the Roboflow API");
            goto fail;
        }
        if (json_is_string(id) && !(image_id = core_strdup(json_string_value(id)))) goto nomem;
    }
    if (dp->persist_predictions && dp->prediction_json && image_id) {
        /* Attach the multi-label prediction as an annotation. */
        url.len = 0;
        char *eds = safe_component(dp->target_dataset);
        char *eid = cu->easy_escape(esc, image_id, 0);
        char *aname = core_sprintf("%s.json", dp->key);
        st = (eds && eid && aname)
                 ? core_buf_printf(&url, "%s/dataset/%s/annotate/%s", api_url(h), eds, eid)
                 : MLC_STATUS_NO_MEMORY;
        if (!st && (add_param(cu, esc, &url, "api_key", h->api_key) ||
                    add_param(cu, esc, &url, "name", aname) ||
                    add_param(cu, esc, &url, "prediction", "true")))
            st = MLC_STATUS_NO_MEMORY;
        mlc_free(eds);
        cu->free(eid);
        mlc_free(aname);
        if (st) goto nomem;
        r.body.len = 0;
        st = perform(h, url.data, dp->prediction_json, NULL, dp->key, &code, &r, err);
        if (!st) st = http_status(code, "active learning annotation upload", err, 1);
        if (st) {
            /* The image is stored: hand its id back so the retry skips it. */
            if (!dp->image_id) {
                *image_id_out = image_id;
                image_id = NULL;
            }
            goto fail;
        }
    }
    goto done;
nomem:
    st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory uploading a datapoint");
fail:
done:
    if (mime) cu->mime_free(mime);
    if (esc) cu->easy_cleanup(esc);
    json_decref(j);
    core_buf_free(&url);
    core_buf_free(&r.body);
    mlc_free(image_id);
    mlc_free(fname);
    return st;
}

/* GET {api}/path?api_key&nocache=true -> parsed JSON (NULL with *code_out on
 * HTTP errors). */
static mlc_status get_json(const struct al_http *h, const char *path, int nocache, long *code_out,
                           json_t **out, mlc_error *err)
{
    const struct core_curl *cu = NULL;
    mlc_status st = MLC_OK;
    struct core_buf url;
    struct resp r;
    CURL *esc = NULL;
    core_buf_init(&url, 1u << 16);
    core_buf_init(&r.body, 4u << 20);
    *out = NULL;
    if ((st = core_curl(&cu, err))) goto done;
    if (!(esc = cu->easy_init()) || core_buf_printf(&url, "%s%s", api_url(h), path) ||
        add_param(cu, esc, &url, "api_key", h->api_key) ||
        (nocache && add_param(cu, esc, &url, "nocache", "true"))) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
        goto done;
    }
    if ((st = perform(h, url.data, NULL, NULL, NULL, code_out, &r, err))) goto done;
    if (*code_out < 200 || *code_out >= 300) goto done;
    json_error_t je;
    *out = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, &je);
    if (!*out || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        st = core_err(err, MLC_STATUS_BAD_JSON, "Roboflow API %s: malformed JSON response", path);
    }
done:
    if (esc) cu->easy_cleanup(esc);
    core_buf_free(&url);
    core_buf_free(&r.body);
    return st;
}

static mlc_status project_type(const struct al_http *h, const char *ws, const char *project,
                               char **type_out, mlc_error *err)
{
    char *path = core_sprintf("/%s/%s", ws, project);
    long code = 0;
    json_t *j = NULL;
    if (!path) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    mlc_status st = get_json(h, path, 1, &code, &j, err);
    if (!st && !j) st = http_status(code, "Roboflow API project lookup", err, 0);
    if (!st) {
        json_t *t = json_object_get(json_object_get(j, "project"), "type");
        *type_out = core_strdup(json_is_string(t) ? json_string_value(t) : "object-detection");
        if (!*type_out) st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    }
    json_decref(j);
    mlc_free(path);
    return st;
}

mlc_status al_fetch_config(const struct al_http *h, const char *project, const char *model_id,
                           char **json_out, mlc_error *err)
{
    mlc_status st = MLC_OK;
    json_t *j = NULL;
    long code = 0;
    char *ws = NULL, *dtype = NULL, *mtype = NULL, *path = NULL, *mproj = NULL;
    *json_out = NULL;
    if ((st = get_json(h, "/", 1, &code, &j, err))) goto fail;
    if (!j) {
        st = http_status(code, "Roboflow API workspace lookup", err, 0);
        goto fail;
    }
    json_t *w = json_object_get(j, "workspace");
    if (!json_is_string(w)) {
        st = core_err(err, MLC_STATUS_BAD_JSON, "Roboflow API: no \"workspace\" for this API key");
        goto fail;
    }
    if (!(ws = core_strdup(json_string_value(w)))) goto nomem;
    json_decref(j);
    j = NULL;
    if ((st = project_type(h, ws, project, &dtype, err))) goto fail;
    /* Roboflow's plain prefix test decides whether the model lives elsewhere. */
    if (model_id && strncmp(model_id, project, strlen(project)) != 0) {
        const char *slash = strchr(model_id, '/');
        mproj = slash ? core_strndup(model_id, (size_t)(slash - model_id)) : core_strdup(model_id);
        if (!mproj) goto nomem;
        if ((st = project_type(h, ws, mproj, &mtype, err))) goto fail;
    } else if (!(mtype = core_strdup(dtype))) {
        goto nomem;
    }
    if ((strstr(mtype, "classification") != NULL) != (strstr(dtype, "classification") != NULL))
        goto done; /* incompatible task types: disabled, as in Roboflow */
    if (!(path = core_sprintf("/%s/%s/active_learning", ws, project))) goto nomem;
    if ((st = get_json(h, path, 0, &code, &j, err))) goto fail;
    if (!j) {
        if (code == 401 || code == 404) goto done; /* disabled, as in Roboflow */
        st = http_status(code, "Roboflow API active learning configuration", err, 0);
        goto fail;
    }
    json_t *cfg = json_object_get(j, "config");
    char *s = json_dumps(json_is_object(cfg) ? cfg : j, JSON_COMPACT);
    if (!s) goto nomem;
    *json_out = core_strdup(s);
    core_libc_free(s); /* jansson's malloc */
    if (!*json_out) goto nomem;
    goto done;
nomem:
    st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
fail:
done:
    json_decref(j);
    mlc_free(ws);
    mlc_free(dtype);
    mlc_free(mtype);
    mlc_free(path);
    mlc_free(mproj);
    return st;
}
