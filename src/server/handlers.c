/*
 * handlers.c - the endpoints: what each route reads, which layer it calls
 * and which Roboflow-shaped body and status it answers. Heavy routes
 * (inference, workflows, model loading) run on worker threads via
 * srv_dispatch; GET routes run on the I/O thread via srv_dispatch_inline and
 * must stay cheap.
 *
 * What it does not do: no socket work, no queueing (server.c), no JSON
 * schema checks (request.c).
 *
 * Invariants: every path through a handler sets exactly one response on the
 * connection; models are always released and sessions always given back;
 * API keys are resolved body > query > Bearer header > $ROBOFLOW_API_KEY,
 * and with an allow-list only the key the request presents counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "server/server.h"
#include "workflow/workflow.h"

/* ---- API keys ------------------------------------------------------------ */

static const char *presented_key(const struct srv_conn *c, const char *body_key)
{
    if (body_key && *body_key) return body_key;
    if (c->q_api_key && *c->q_api_key) return c->q_api_key;
    if (c->bearer && *c->bearer) return c->bearer;
    return NULL;
}

static const char *effective_key(const struct srv_conn *c, const char *body_key)
{
    const char *k = presented_key(c, body_key);
    if (k) return k;
    k = getenv("ROBOFLOW_API_KEY");
    if (k && *k) return k;
    k = getenv("API_KEY");
    return k && *k ? k : NULL;
}

/* Answers 401 and returns 0 when an allow-list is set and the request's key
 * is not on it. */
static int authorised(struct mlc_server *s, struct srv_conn *c, const char *body_key)
{
    if (!s->allow) return 1;
    const char *k = presented_key(c, body_key);
    if (k)
        for (int i = 0; i < s->n_allow; i++)
            if (!strcmp(k, s->allow[i])) return 1;
    srv_respond_message(c, 401,
                        k ? "Unauthorized access: the API key is not accepted by this server."
                          : "Unauthorized access: this server requires an API key (api_key in "
                            "the body or query, or an Authorization: Bearer header).");
    return 0;
}

/* ---- error bodies -------------------------------------------------------- */

static void respond_parse_error(struct srv_conn *c, const struct srv_reject *rej,
                                const mlc_error *e)
{
    if (rej->http_status == 422) {
        /* FastAPI's validation shape, plus Roboflow's "message". */
        json_t *loc = json_array();
        for (const char *p = rej->loc; loc && *p;) {
            const char *dot = strchr(p, '.');
            size_t len = dot ? (size_t)(dot - p) : strlen(p);
            json_array_append_new(loc, json_stringn(p, len));
            p += len + (dot ? 1 : 0);
        }
        srv_respond_json(c, 422,
                         json_pack("{s:s, s:[{s:o, s:s, s:s}]}", "message", e->message, "detail",
                                   "loc", loc ? loc : json_array(), "msg", e->message, "type",
                                   "value_error"));
        return;
    }
    srv_respond_message(c, rej->http_status ? rej->http_status : 400, "%s", e->message);
}

static void respond_json_error(struct srv_conn *c, const mlc_error *e)
{
    if (e->status == MLC_STATUS_LIMIT)
        srv_respond_message(c, strstr(e->message, "bytes exceeds") ? 413 : 400, "%s", e->message);
    else
        srv_respond_message(c, 400, "Malformed request body. %s", e->message);
}

static const char msg_not_found[] =
    "Requested Roboflow resource not found. Make sure that workspace, project or model you "
    "referred in request exists.";
static const char msg_unauthorised[] =
    "Unauthorized access to roboflow API - check API key and make sure the key is valid for "
    "workspace you use. Visit "
    "https://docs.roboflow.com/api-reference/authentication#retrieve-an-api-key to learn how to "
    "retrieve one.";

static void respond_with_cause(struct srv_conn *c, int status, const char *message,
                               const mlc_error *e)
{
    srv_respond_json(c, status, json_pack("{s:s, s:s}", "message", message, "cause", e->message));
}

/* A failure to load a model by id (registry or /model/add). */
static void respond_model_error(struct srv_conn *c, const mlc_error *e)
{
    switch (e->status) {
    case MLC_STATUS_NOT_FOUND:
        respond_with_cause(c, 404, msg_not_found, e);
        break;
    case MLC_STATUS_UNAUTHORIZED:
        respond_with_cause(c, 401, msg_unauthorised, e);
        break;
    case MLC_STATUS_BAD_MODEL:
    case MLC_STATUS_IO:
        respond_with_cause(c, 500, "Model package is broken.", e);
        break;
    case MLC_STATUS_UNSUPPORTED:
        srv_respond_message(c, 400,
                            "Model type not supported, you may want to try a different "
                            "inference server configuration or endpoint: %s",
                            e->message);
        break;
    case MLC_STATUS_INVALID_ARGUMENT:
        respond_with_cause(c, 400, "Invalid Model ID sent in request.", e);
        break;
    case MLC_STATUS_NETWORK:
        respond_with_cause(c, 503, "Could not connect to Roboflow API.", e);
        c->retry_after = 5;
        break;
    case MLC_STATUS_NO_MEMORY:
        respond_with_cause(c, 503, "Server out of memory while loading the model.", e);
        c->retry_after = 5;
        break;
    default:
        respond_with_cause(c, 500, "Internal error while loading the model.", e);
        break;
    }
}

static void respond_image_error(struct srv_conn *c, const mlc_error *e)
{
    srv_respond_message(c, e->status == MLC_STATUS_NO_MEMORY ? 503 : 400,
                        "Could not load input image. Cause: %s", e->message);
}

static void respond_infer_error(struct srv_conn *c, const mlc_error *e)
{
    switch (e->status) {
    case MLC_STATUS_INVALID_ARGUMENT:
    case MLC_STATUS_LIMIT:
        srv_respond_message(c, 400, "%s", e->message);
        break;
    case MLC_STATUS_BAD_MODEL:
        respond_with_cause(c, 500, "Model package is broken.", e);
        break;
    case MLC_STATUS_NO_MEMORY:
        srv_respond_message(c, 503, "Server out of memory: %s", e->message);
        c->retry_after = 1;
        break;
    default:
        srv_respond_message(c, 500, "Inference failed: %s", e->message);
        break;
    }
}

/* ---- /infer/classification and /{dataset}/{version} ------------------------ */

static void classify(struct mlc_server *s, struct srv_conn *c, const struct srv_classify_req *rq)
{
    mlc_error e;
    struct srv_model *m = NULL;
    mlc_session *sess = NULL;
    mlc_image **imgs = NULL;
    mlc_result *res = NULL;
    struct core_buf out;
    core_buf_init(&out, 0);

    if (srv_registry_acquire(&s->registry, rq->model_id, effective_key(c, rq->api_key), 1, &m,
                             &e)) {
        respond_model_error(c, &e);
        goto done;
    }
    imgs = mlc_calloc(rq->n_images, sizeof *imgs);
    if (!imgs) {
        srv_respond_message(c, 503, "Server out of memory");
        goto done;
    }
    /* Each image is bounded by max_image_pixels; the request as a whole by
     * four times that, so a batch of small compressed bombs cannot hold
     * hundreds of GB of decoded pixels at once. */
    uint64_t pixels = 0, max_pixels = 4 * s->limits.max_image_pixels;
    for (size_t i = 0; i < rq->n_images; i++) {
        const struct srv_image_ref *ir = &rq->images[i];
        mlc_input_kind kind = ir->type == SRV_IMAGE_URL ? MLC_INPUT_URL : MLC_INPUT_BASE64;
        unsigned flags = rq->image_flags;
        if (!s->opt.allow_private_urls) flags |= IMG_FLAG_PUBLIC_URLS_ONLY;
        /* Sessions of one thread: the cores are taken by the other workers. */
        if (s->model_opt.threads > 1) flags |= MLC_IMAGE_TWO_THREADS;
        if (mlc_image_load(kind, ir->value, flags, &s->limits, &imgs[i], &e)) {
            if (rq->n_images > 1)
                srv_respond_message(c, e.status == MLC_STATUS_NO_MEMORY ? 503 : 400,
                                    "Could not load input image. Cause: image %zu: %s", i,
                                    e.message);
            else
                respond_image_error(c, &e);
            goto done;
        }
        pixels += (uint64_t)mlc_image_width(imgs[i]) * (uint64_t)mlc_image_height(imgs[i]);
        if (pixels > max_pixels) {
            srv_respond_message(c, 413,
                                "Request images decode to more than %llu pixels in total "
                                "(limit: 4 x max_image_pixels)",
                                (unsigned long long)max_pixels);
            goto done;
        }
    }
    if (srv_model_session_take(&s->registry, m, &sess, &e)) {
        respond_infer_error(c, &e);
        goto done;
    }
    mlc_status st = mlc_classify_ex(sess, (const mlc_image *const *)imgs, rq->n_images, rq->conf,
                                    rq->classify_flags, &res, &e);
    srv_model_session_give(&s->registry, m, sess);
    if (st) {
        respond_infer_error(c, &e);
        goto done;
    }
    if (rq->is_list && core_buf_append(&out, "[", 1)) goto oom;
    for (size_t i = 0; i < rq->n_images; i++) {
        char *j = NULL;
        if (mlc_result_to_json(mlc_result_at(res, i), 0, &j, &e)) {
            respond_infer_error(c, &e);
            goto done;
        }
        mlc_status a = MLC_OK;
        if (i) a = core_buf_append(&out, ",", 1);
        if (!a) a = core_buf_append(&out, j, strlen(j));
        mlc_free(j);
        if (a) goto oom;
    }
    if (rq->is_list && core_buf_append(&out, "]", 1)) goto oom;
    size_t n = out.len;
    srv_respond(c, 200, core_buf_take(&out), n, "application/json");
    /* Queued durably in the background; it never changes the answer. */
    if (s->opt.active_learning && !rq->disable_al)
        for (size_t i = 0; i < rq->n_images; i++)
            (void)mlc_active_learning_register(effective_key(c, rq->api_key), rq->model_id,
                                               rq->al_target, imgs[i], mlc_result_at(res, i));
    goto done;
oom:
    srv_respond_message(c, 503, "Server out of memory while building the response");
done:
    core_buf_free(&out);
    mlc_result_free(res);
    if (imgs)
        for (size_t i = 0; i < rq->n_images; i++) mlc_image_free(imgs[i]);
    mlc_free(imgs);
    srv_registry_release(&s->registry, m);
}

static void handle_classification(struct mlc_server *s, struct srv_conn *c)
{
    mlc_error e;
    struct srv_reject rej = {0, ""};
    struct srv_classify_req rq;
    memset(&rq, 0, sizeof rq);
    json_t *doc = NULL;
    if (srv_json_parse(c->body.data, c->body.len, &s->limits, &doc, &e)) {
        respond_json_error(c, &e);
        return;
    }
    if (srv_parse_classify(doc, &s->limits, &rq, &rej, &e)) {
        respond_parse_error(c, &rej, &e);
    } else if (authorised(s, c, rq.api_key)) {
        classify(s, c, &rq);
    }
    srv_classify_req_free(&rq);
    json_decref(doc);
}

static void handle_legacy(struct mlc_server *s, struct srv_conn *c)
{
    mlc_error e;
    struct srv_image_ref ref;
    struct srv_classify_req rq;
    memset(&rq, 0, sizeof rq);
    const char *model_id = c->path + 1; /* "/dataset/version" */
    if (!srv_model_id_valid(model_id)) {
        srv_respond_message(c, 400, "Invalid Model ID sent in request.");
        return;
    }
    if (!authorised(s, c, NULL)) return;
    rq.model_id = model_id;
    rq.conf = mlc_confidence_value(0.4);
    if (c->q_confidence && mlc_confidence_parse(c->q_confidence, &rq.conf, &e)) {
        srv_respond_message(c, 400, "query parameter confidence: %s", e.message);
        return;
    }
    if (c->q_image && *c->q_image) {
        ref.type = SRV_IMAGE_URL;
        ref.value = c->q_image;
    } else if (c->body.len > 0) {
        ref.type = SRV_IMAGE_BASE64;
        ref.value = c->body.data;
    } else {
        srv_respond_message(c, 400,
                            "Could not load input image. Cause: no image in the request: send it "
                            "base64-encoded as the body or as image=<url> in the query");
        return;
    }
    rq.n_images = 1;
    rq.images = &ref;
    classify(s, c, &rq);
}

/* ---- workflows ----------------------------------------------------------- */

struct wf_cache_entry {
    char *key;
    mlc_workflow *wf;
    int refs; /* listing + users */
    uint64_t last;
};

struct srv_wf_cache {
    pthread_mutex_t mu;
    struct wf_cache_entry **e;
    int n, cap;
    uint64_t tick;
};

struct srv_wf_cache *srv_wf_cache_create(int cap)
{
    struct srv_wf_cache *wc = mlc_calloc(1, sizeof *wc);
    if (!wc) return NULL;
    wc->e = mlc_calloc((size_t)cap, sizeof *wc->e);
    if (!wc->e) {
        mlc_free(wc);
        return NULL;
    }
    wc->cap = cap;
    pthread_mutex_init(&wc->mu, NULL);
    return wc;
}

static void wf_entry_free(struct wf_cache_entry *en)
{
    mlc_workflow_free(en->wf);
    mlc_free(en->key);
    mlc_free(en);
}

void srv_wf_cache_free(struct srv_wf_cache *wc)
{
    if (!wc) return;
    for (int i = 0; i < wc->n; i++) wf_entry_free(wc->e[i]);
    mlc_free(wc->e);
    pthread_mutex_destroy(&wc->mu);
    mlc_free(wc);
}

static struct wf_cache_entry *wf_cache_get(struct srv_wf_cache *wc, const char *key)
{
    struct wf_cache_entry *found = NULL;
    pthread_mutex_lock(&wc->mu);
    for (int i = 0; i < wc->n; i++)
        if (!strcmp(wc->e[i]->key, key)) {
            found = wc->e[i];
            found->refs++;
            found->last = ++wc->tick;
            break;
        }
    pthread_mutex_unlock(&wc->mu);
    return found;
}

static void wf_cache_release(struct srv_wf_cache *wc, struct wf_cache_entry *en)
{
    if (!en) return;
    pthread_mutex_lock(&wc->mu);
    int dead = --en->refs == 0;
    pthread_mutex_unlock(&wc->mu);
    if (dead) wf_entry_free(en);
}

/* Lists a freshly compiled workflow (taking ownership) and returns it with
 * one reference for the caller; on a race the listed twin wins. */
static struct wf_cache_entry *wf_cache_put(struct srv_wf_cache *wc, char *key, mlc_workflow *wf)
{
    struct wf_cache_entry *en = mlc_calloc(1, sizeof *en), *evict = NULL;
    if (!en) {
        mlc_free(key);
        mlc_workflow_free(wf);
        return NULL;
    }
    en->key = key;
    en->wf = wf;
    pthread_mutex_lock(&wc->mu);
    for (int i = 0; i < wc->n; i++)
        if (!strcmp(wc->e[i]->key, key)) {
            struct wf_cache_entry *twin = wc->e[i];
            twin->refs++;
            pthread_mutex_unlock(&wc->mu);
            wf_entry_free(en);
            return twin;
        }
    if (wc->n == wc->cap) {
        int lru = 0;
        for (int i = 1; i < wc->n; i++)
            if (wc->e[i]->last < wc->e[lru]->last) lru = i;
        evict = wc->e[lru];
        wc->e[lru] = wc->e[--wc->n];
        if (--evict->refs > 0) evict = NULL; /* its last user frees it */
    }
    en->refs = 2;
    en->last = ++wc->tick;
    wc->e[wc->n++] = en;
    pthread_mutex_unlock(&wc->mu);
    if (evict) wf_entry_free(evict);
    return en;
}

static void respond_wf_error(struct srv_conn *c, const struct wf_error *we)
{
    char *body = wf_error_to_json(we);
    int status = we->http_status ? we->http_status : 400;
    if (!body) {
        srv_respond_message(c, status, "%s", we->e.message);
        return;
    }
    srv_respond(c, status, body, strlen(body), "application/json");
}

/* Finds or compiles the definition; the cache key is the canonical text of
 * the definition plus the API key (compiled workflows hold models loaded
 * with that key). */
static struct wf_cache_entry *compile_cached(struct mlc_server *s, struct srv_conn *c,
                                             const json_t *spec, const char *key)
{
    struct wf_error we;
    wf_error_clear(&we);
    size_t n = 0;
    char *text = srv_json_dump(spec, &n);
    struct core_buf kb;
    core_buf_init(&kb, 0);
    if (!text || core_buf_append(&kb, text, n) || core_buf_printf(&kb, "\n%s", key ? key : "")) {
        mlc_free(text);
        core_buf_free(&kb);
        srv_respond_message(c, 503, "Server out of memory");
        return NULL;
    }
    char *ckey = core_buf_take(&kb);
    struct wf_cache_entry *en = ckey ? wf_cache_get(s->wf_cache, ckey) : NULL;
    if (en || !ckey) {
        mlc_free(ckey);
        mlc_free(text);
        if (!en) srv_respond_message(c, 503, "Server out of memory");
        return en;
    }
    mlc_workflow_options wo = {&s->model_opt, key};
    mlc_workflow *wf = NULL;
    if (wf_compile(text, n, &wo, &wf, &we)) {
        mlc_free(text);
        mlc_free(ckey);
        respond_wf_error(c, &we);
        return NULL;
    }
    mlc_free(text);
    en = wf_cache_put(s->wf_cache, ckey, wf);
    if (!en) srv_respond_message(c, 503, "Server out of memory");
    return en;
}

/* Fetches every {"type": "url"} image object of the inputs under the
 * server's URL policy (public hosts only unless allow_private_urls) and
 * replaces it by {"type": "base64"}, so the workflow engine never fetches on
 * its own. Returns 0, or fills *we. */
static int fetch_url_inputs(struct mlc_server *s, json_t *v, int depth, struct wf_error *we)
{
    if (json_is_array(v) && depth < 2) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (fetch_url_inputs(s, json_array_get(v, i), depth + 1, we)) return -1;
        return 0;
    }
    if (!json_is_object(v)) return 0;
    json_t *t = json_object_get(v, "type"), *val = json_object_get(v, "value");
    if (!json_is_string(t) || strcmp(json_string_value(t), "url") || !json_is_string(val)) return 0;
    uint8_t *data = NULL;
    size_t n = 0;
    mlc_error e;
    if (img_fetch_url(json_string_value(val), &s->limits, !s->opt.allow_private_urls, &data, &n,
                      &e)) {
        wf_fail(we, e.status, 400, "InputImageLoadError", WF_CTX_INPUT,
                "Could not load input image. Cause: %s", e.message);
        return -1;
    }
    char *b64 = core_base64_encode(data, n);
    mlc_free(data);
    if (!b64 || json_object_set_new(v, "value", json_string(b64)) ||
        json_object_set_new(v, "type", json_string("base64"))) {
        mlc_free(b64);
        wf_fail(we, MLC_STATUS_NO_MEMORY, 503, "MemoryError", WF_CTX_INPUT, "out of memory");
        return -1;
    }
    mlc_free(b64);
    return 0;
}

static void handle_workflow_run(struct mlc_server *s, struct srv_conn *c)
{
    mlc_error e;
    struct srv_reject rej = {0, ""};
    struct srv_workflow_req rq;
    struct wf_cache_entry *en = NULL;
    const char **excluded = NULL;
    char *inputs = NULL, *outputs = NULL;
    json_t *doc = NULL;
    if (srv_json_parse(c->body.data, c->body.len, &s->limits, &doc, &e)) {
        respond_json_error(c, &e);
        return;
    }
    if (srv_parse_workflow_run(doc, &s->limits, &rq, &rej, &e)) {
        respond_parse_error(c, &rej, &e);
        goto done;
    }
    if (!authorised(s, c, rq.api_key)) goto done;
    const char *key = effective_key(c, rq.api_key);
    en = compile_cached(s, c, rq.specification, key);
    if (!en) goto done;

    struct wf_error we;
    wf_error_clear(&we);
    if (rq.n_url_images > 0) {
        const char *name;
        json_t *v;
        json_object_foreach((json_t *)rq.inputs, name, v)
        {
            if (fetch_url_inputs(s, v, 0, &we)) {
                respond_wf_error(c, &we);
                goto done;
            }
        }
    }
    size_t n_in = 0;
    json_t *empty = NULL;
    if (!rq.inputs) empty = json_object();
    inputs = srv_json_dump(rq.inputs ? rq.inputs : empty, &n_in);
    json_decref(empty);
    size_t n_ex = rq.excluded ? json_array_size(rq.excluded) : 0;
    excluded = mlc_calloc(n_ex + 1, sizeof *excluded);
    if (!inputs || !excluded) {
        srv_respond_message(c, 503, "Server out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_ex; i++)
        excluded[i] = json_string_value(json_array_get(rq.excluded, i));

    struct wf_run_options ro;
    wf_run_options_default(&ro);
    ro.api_key = key;
    ro.allow_file_images = 0; /* never read server files for a client */
    ro.allow_url_images = 0;  /* already fetched above, under the server's policy */
    ro.excluded_fields = n_ex ? excluded : NULL;
    if (wf_run(en->wf, &ro, inputs, n_in, &outputs, &we)) {
        respond_wf_error(c, &we);
        goto done;
    }
    if (rq.enable_profiling) {
        /* mlc keeps no per-step trace; answer the field inference_sdk reads. */
        json_t *resp = json_loads(outputs, 0, NULL);
        if (resp && json_is_object(resp)) {
            json_object_set_new(resp, "profiler_trace", json_array());
            srv_respond_json(c, 200, resp);
            goto done;
        }
        json_decref(resp);
    }
    srv_respond(c, 200, outputs, strlen(outputs), "application/json");
    outputs = NULL;
done:
    mlc_free(outputs);
    mlc_free(inputs);
    mlc_free(excluded);
    wf_cache_release(s->wf_cache, en);
    json_decref(doc);
}

static void handle_workflow_validate(struct mlc_server *s, struct srv_conn *c)
{
    mlc_error e;
    json_t *doc = NULL;
    if (srv_json_parse(c->body.data, c->body.len, &s->limits, &doc, &e)) {
        respond_json_error(c, &e);
        return;
    }
    if (!authorised(s, c, NULL)) goto done;
    if (!json_is_object(doc)) {
        srv_respond_message(c, 422, "body: expected a workflow definition object");
        goto done;
    }
    /* Validation compiles without the cache: a definition that only
     * validates should not evict ones that run. */
    struct wf_error we;
    wf_error_clear(&we);
    mlc_workflow_options wo = {&s->model_opt, effective_key(c, NULL)};
    mlc_workflow *wf = NULL;
    if (wf_compile(c->body.data, c->body.len, &wo, &wf, &we)) {
        respond_wf_error(c, &we);
        goto done;
    }
    mlc_workflow_free(wf);
    srv_respond_json(c, 200, json_pack("{s:s}", "status", "ok"));
done:
    json_decref(doc);
}

/* ---- model management ---------------------------------------------------- */

static void respond_registry(struct mlc_server *s, struct srv_conn *c)
{
    srv_respond_json(c, 200, srv_registry_json(&s->registry));
}

static void handle_model(struct mlc_server *s, struct srv_conn *c)
{
    mlc_error e;
    struct srv_reject rej = {0, ""};
    json_t *doc = NULL;
    if (c->route == SRV_ROUTE_MODEL_CLEAR) {
        if (!authorised(s, c, NULL)) return;
        srv_registry_clear(&s->registry);
        respond_registry(s, c);
        return;
    }
    if (srv_json_parse(c->body.data, c->body.len, &s->limits, &doc, &e)) {
        respond_json_error(c, &e);
        return;
    }
    const char *id = NULL, *key = NULL;
    if (srv_parse_model_req(doc, &id, &key, &rej, &e)) {
        respond_parse_error(c, &rej, &e);
    } else if (authorised(s, c, key)) {
        if (c->route == SRV_ROUTE_MODEL_ADD) {
            struct srv_model *m = NULL;
            if (srv_registry_acquire(&s->registry, id, effective_key(c, key), 1, &m, &e)) {
                respond_model_error(c, &e);
            } else {
                srv_registry_release(&s->registry, m);
                respond_registry(s, c);
            }
        } else {
            srv_registry_remove(&s->registry, id);
            respond_registry(s, c);
        }
    }
    json_decref(doc);
}

/* ---- dispatch -------------------------------------------------------------- */

void srv_dispatch(struct mlc_server *s, struct srv_conn *c)
{
    switch (c->route) {
    case SRV_ROUTE_WORKFLOWS_RUN:
        handle_workflow_run(s, c);
        break;
    case SRV_ROUTE_WORKFLOWS_VALIDATE:
        handle_workflow_validate(s, c);
        break;
    case SRV_ROUTE_INFER_CLASSIFICATION:
        handle_classification(s, c);
        break;
    case SRV_ROUTE_LEGACY_INFER:
        handle_legacy(s, c);
        break;
    case SRV_ROUTE_MODEL_ADD:
    case SRV_ROUTE_MODEL_REMOVE:
    case SRV_ROUTE_MODEL_CLEAR:
        handle_model(s, c);
        break;
    default:
        srv_dispatch_inline(s, c);
        break;
    }
}

void srv_dispatch_inline(struct mlc_server *s, struct srv_conn *c)
{
    switch (c->route) {
    case SRV_ROUTE_INFO:
        srv_respond_json(c, 200,
                         json_pack("{s:s, s:s, s:s}", "name", "mlc inference server", "version",
                                   MLC_VERSION, "uuid", s->uuid));
        break;
    case SRV_ROUTE_HEALTHZ:
        srv_respond_json(c, 200, json_pack("{s:s}", "status", "healthy"));
        break;
    case SRV_ROUTE_READINESS: {
        pthread_mutex_lock(&s->mu);
        int stopping = s->stopping;
        pthread_mutex_unlock(&s->mu);
        srv_respond_json(c, stopping ? 503 : 200,
                         json_pack("{s:s}", "status", stopping ? "not ready" : "ready"));
        break;
    }
    case SRV_ROUTE_METRICS: {
        struct srv_gauges g;
        pthread_mutex_lock(&s->mu);
        g.queue_depth = s->queued;
        g.in_flight = s->in_flight;
        g.workers_busy = s->busy;
        pthread_mutex_unlock(&s->mu);
        g.queue_capacity = s->opt.queue_depth;
        g.workers = s->n_workers;
        g.models_loaded = srv_registry_count(&s->registry);
        char *text = NULL;
        size_t n = 0;
        if (srv_metrics_render(&s->metrics, &g, &text, &n))
            srv_respond_message(c, 500, "metrics: out of memory");
        else
            srv_respond(c, 200, text, n, "text/plain; version=0.0.4; charset=utf-8");
        break;
    }
    case SRV_ROUTE_MODEL_REGISTRY:
        if (authorised(s, c, NULL)) respond_registry(s, c);
        break;
    case SRV_ROUTE_EE_VERSIONS:
        srv_respond_json(c, 200, json_pack("{s:[s]}", "versions", "1.0.0"));
        break;
    case SRV_ROUTE_BLOCKS_DESCRIBE: {
        /* The document is fixed for a build: computed once, then copied. */
        pthread_mutex_lock(&s->mu);
        if (!s->describe_json) {
            mlc_error e;
            char *d = NULL;
            if (mlc_blocks_describe(&d, &e) == MLC_OK) {
                s->describe_json = d;
                s->describe_len = strlen(d);
            } else {
                pthread_mutex_unlock(&s->mu);
                srv_respond_message(c, 500, "blocks/describe: %s", e.message);
                break;
            }
        }
        char *copy = mlc_alloc(s->describe_len + 1);
        if (copy) memcpy(copy, s->describe_json, s->describe_len + 1);
        size_t n = s->describe_len;
        pthread_mutex_unlock(&s->mu);
        if (copy)
            srv_respond(c, 200, copy, n, "application/json");
        else
            srv_respond_message(c, 503, "Server out of memory");
        break;
    }
    default:
        srv_respond_message(c, 404, "Not Found");
        break;
    }
}
