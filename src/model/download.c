/*
 * download.c - fetches a model package by id from the Roboflow weights API
 * into the model cache.
 *
 * Flow: GET {base}/models/v1/external/weights?modelId=<id> with
 * "Authorization: Bearer <key>" (retried on 408/429/502/503/504; follows
 * nextPage up to 10 pages) -> refuse a task other than multi-label
 * classification -> pick the ONNX package (trusted, every file with an MD5;
 * fp32 first, dynamic batch before static, then higher opset) -> download
 * every file into a fresh temp directory inside the cache root, verifying
 * size caps and MD5 -> write model_config.json (task, architecture,
 * recommended parameters: the package's replace the model's) -> rename the
 * temp directory into place.
 *
 * Crash safety and concurrency: nothing is ever written into the final
 * directory; it appears complete through one rename(2). A process that loses
 * the rename race (EEXIST/ENOTEMPTY) discards its copy and uses the winner's.
 * Leftover ".tmp-*" directories from killed processes are ignored.
 *
 * Not here: the cache path rules (cache.c), package parsing (package.c).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "model/hash.h"
#include "model/model.h"

#define MAX_PAGES 10
#define MAX_TRIES 3

struct sink {
    struct core_buf mem; /* used when fp == NULL */
    FILE *fp;
    size_t n, max;
    struct mdl_md5 md5;
    int over;
};

static size_t on_data(char *p, size_t sz, size_t nm, void *ud)
{
    struct sink *s = ud;
    size_t n = sz * nm;
    if (s->n + n > s->max) {
        s->over = 1;
        return 0;
    }
    s->n += n;
    if (s->fp) {
        mdl_md5_update(&s->md5, p, n);
        return fwrite(p, 1, n, s->fp) == n ? n : 0;
    }
    return core_buf_append(&s->mem, p, n) == MLC_OK ? n : 0;
}

static const char *env_nonempty(const char *k)
{
    const char *v = getenv(k);
    return v && *v ? v : NULL;
}

/* One GET. *code_out is the HTTP status (0 when no response). */
static mlc_status http_get(const char *url, const char *bearer, int timeout_ms, struct sink *s,
                           long *code_out, mlc_error *err)
{
    mlc_status st = MLC_OK;
    struct curl_slist *hdrs = NULL;
    char *auth = NULL;
    CURL *c = curl_easy_init();
    if (!c) return core_err(err, MLC_STATUS_NO_MEMORY, "cannot start an HTTP transfer");
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    /* a stalled transfer (no byte for timeout_ms) fails; a slow but moving
     * large download does not */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)((timeout_ms + 999) / 1000));
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mlc/" MLC_VERSION);
    if (bearer) {
        auth = core_sprintf("Authorization: Bearer %s", bearer);
        if (!auth || !(hdrs = curl_slist_append(NULL, auth))) {
            st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
            goto fail;
        }
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    }
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    *code_out = code;
    if (s->over) {
        st = core_err(err, MLC_STATUS_LIMIT, "download from %s is larger than %zu bytes", url,
                      s->max);
    } else if (rc != CURLE_OK && code < 400) {
        st = core_err(err, MLC_STATUS_NETWORK, "HTTP request to %s failed: %s", url,
                      ebuf[0] ? ebuf : curl_easy_strerror(rc));
    }
fail:
    curl_slist_free_all(hdrs);
    mlc_free(auth);
    curl_easy_cleanup(c);
    return st;
}

static mlc_status map_api_status(long code, const char *id, const char *body, mlc_error *err)
{
    const char *pfx = "Could not get model weights";
    switch (code) {
    case 401:
        return core_err(err, MLC_STATUS_UNAUTHORIZED,
                        "%s for '%s'. Request unauthorised. Are you sure you use valid Roboflow "
                        "API key? Export it as ROBOFLOW_API_KEY (HTTP 401)",
                        pfx, id);
    case 402:
        return core_err(err, MLC_STATUS_UNAUTHORIZED, "%s for '%s': payment required (HTTP 402)",
                        pfx, id);
    case 403:
        return core_err(err, MLC_STATUS_UNAUTHORIZED,
                        "%s for '%s': access forbidden for this API key (HTTP 403)", pfx, id);
    case 404:
        return core_err(err, MLC_STATUS_NOT_FOUND,
                        "%s for '%s'. Model not found. Are you sure that the identifier is "
                        "correct and provided credentials ensure access to the model? (HTTP 404)",
                        pfx, id);
    case 423:
        return core_err(err, MLC_STATUS_UNAUTHORIZED,
                        "%s for '%s': usage of the workspace is paused (HTTP 423)", pfx, id);
    default:
        return core_err(err, MLC_STATUS_NETWORK, "%s for '%s': HTTP %ld: %.200s", pfx, id, code,
                        body ? body : "");
    }
}

static int retryable(long code)
{
    return code == 408 || code == 429 || code == 502 || code == 503 || code == 504;
}

static char *url_encode(const char *s)
{
    struct core_buf b;
    core_buf_init(&b, 0);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~';
        if ((keep ? core_buf_append(&b, p, 1) : core_buf_printf(&b, "%%%02X", *p)) != MLC_OK) {
            core_buf_free(&b);
            return NULL;
        }
    }
    return core_buf_take(&b);
}

/* Fetches the metadata pages; returns the merged modelMetadata with all
 * packages in one "modelPackages" array (caller json_decref). */
static mlc_status fetch_metadata(const char *base, const char *key, const char *id, int timeout_ms,
                                 json_t **meta_out, mlc_error *err)
{
    mlc_status st = MLC_OK;
    json_t *merged = NULL, *root = NULL;
    char *eid = url_encode(id), *after = NULL, *url = NULL;
    if (!eid) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    for (int page = 0; page < MAX_PAGES; page++) {
        char *eafter = after ? url_encode(after) : NULL;
        mlc_free(url);
        url = core_sprintf("%s/models/v1/external/weights?modelId=%s%s%s", base, eid,
                           eafter ? "&startAfter=" : "", eafter ? eafter : "");
        mlc_free(eafter);
        if (!url) {
            st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
            goto fail;
        }
        long code = 0;
        struct sink s;
        for (int attempt = 0;; attempt++) {
            memset(&s, 0, sizeof s);
            core_buf_init(&s.mem, 16u << 20);
            s.max = 16u << 20;
            st = http_get(url, key, timeout_ms, &s, &code, err);
            if (!st && retryable(code) && attempt + 1 < MAX_TRIES) {
                core_buf_free(&s.mem);
                usleep(200000u << attempt);
                continue;
            }
            break;
        }
        if (!st && code != 200) st = map_api_status(code, id, s.mem.data, err);
        if (st) {
            core_buf_free(&s.mem);
            goto fail;
        }
        json_error_t je;
        json_decref(root);
        root = json_loadb(s.mem.data ? s.mem.data : "", s.mem.len, 0, &je);
        core_buf_free(&s.mem);
        json_t *meta = json_object_get(root, "modelMetadata");
        if (!json_is_object(meta)) {
            st = core_err(err, MLC_STATUS_NETWORK,
                          "Could not decode Roboflow API response for '%s' (%s)", id,
                          root ? "no modelMetadata object" : je.text);
            goto fail;
        }
        if (!merged) {
            merged = json_deep_copy(meta);
            if (!merged) goto nomem;
            if (!json_is_array(json_object_get(merged, "modelPackages")) &&
                json_object_set_new(merged, "modelPackages", json_array()))
                goto nomem;
        } else {
            json_t *pk = json_object_get(meta, "modelPackages");
            if (json_is_array(pk) &&
                json_array_extend(json_object_get(merged, "modelPackages"), pk))
                goto nomem;
        }
        const json_t *next = json_object_get(meta, "nextPage");
        mlc_free(after);
        after = json_is_string(next) ? core_strdup(json_string_value(next)) : NULL;
        if (!after) break;
    }
    *meta_out = merged;
    merged = NULL;
    goto fail;
nomem:
    st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
fail:
    json_decref(root);
    json_decref(merged);
    mlc_free(eid);
    mlc_free(after);
    mlc_free(url);
    return st;
}

static int quant_rank(const char *q)
{
    /* mlc computes in f32: prefer packages that need no dequantisation */
    if (!q || !strcmp(q, "fp32")) return 3;
    if (!strcmp(q, "fp16")) return 2;
    return 1;
}

/* Picks the best usable ONNX package, or NULL. */
static const json_t *pick_package(const json_t *meta)
{
    const json_t *best = NULL;
    long best_score = -1;
    size_t i;
    const json_t *pk;
    json_array_foreach(json_object_get(meta, "modelPackages"), i, pk)
    {
        const json_t *man = json_object_get(pk, "packageManifest");
        const json_t *ty = json_object_get(man, "type");
        const json_t *be = json_object_get(man, "backendType");
        int onnx =
            (json_is_string(ty) && !strcmp(json_string_value(ty), "onnx-model-package-v1")) ||
            (json_is_string(be) && !strcmp(json_string_value(be), "onnx"));
        if (!onnx) continue;
        if (!json_is_true(json_object_get(pk, "trustedSource"))) continue;
        const json_t *files = json_object_get(pk, "packageFiles");
        if (!json_is_array(files) || json_array_size(files) == 0) continue;
        int ok = 1;
        size_t j;
        const json_t *f;
        json_array_foreach(files, j, f)
        {
            if (!json_is_string(json_object_get(f, "fileHandle")) ||
                !json_is_string(json_object_get(f, "downloadUrl")) ||
                !json_is_string(json_object_get(f, "md5Hash")))
                ok = 0;
        }
        if (!ok) continue;
        const json_t *q = json_object_get(man, "quantization");
        int dyn = json_is_true(json_object_get(man, "dynamicBatchSize"));
        json_int_t sb = json_integer_value(json_object_get(man, "staticBatchSize"));
        json_int_t opset = json_integer_value(json_object_get(man, "opset"));
        long score = (long)quant_rank(json_is_string(q) ? json_string_value(q) : NULL) * 10000000L +
                     (dyn ? 1000000L : (1000L - (sb > 999 ? 999 : sb)) * 1000L) +
                     (long)(opset > 999 ? 999 : opset);
        if (score > best_score) {
            best_score = score;
            best = pk;
        }
    }
    return best;
}

/* A package file name must be a plain file name. */
static int safe_name(const char *n)
{
    return *n && strcmp(n, ".") && strcmp(n, "..") && !strchr(n, '/') && !strchr(n, '\\') &&
           strcmp(n, "model_config.json") && strlen(n) < 200;
}

static mlc_status download_file(const char *url, const char *path, const char *md5, size_t max,
                                int timeout_ms, mlc_error *err)
{
    struct sink s;
    memset(&s, 0, sizeof s);
    s.max = max;
    mdl_md5_init(&s.md5);
    s.fp = fopen(path, "wb");
    if (!s.fp) return core_err(err, MLC_STATUS_IO, "cannot create '%s': %s", path, strerror(errno));
    long code = 0;
    mlc_status st = MLC_OK;
    for (int attempt = 0;; attempt++) {
        st = http_get(url, NULL, timeout_ms, &s, &code, err);
        if (!st && retryable(code) && attempt + 1 < MAX_TRIES && s.n == 0) {
            usleep(200000u << attempt);
            continue;
        }
        break;
    }
    if (fclose(s.fp) != 0 && !st)
        st = core_err(err, MLC_STATUS_IO, "cannot write '%s': %s", path, strerror(errno));
    if (st) return core_err_prefix(err, "downloading %s", path);
    if (code != 200)
        return core_err(err, code == 404 ? MLC_STATUS_NOT_FOUND : MLC_STATUS_NETWORK,
                        "downloading %s: HTTP %ld", path, code);
    char hex[33];
    mdl_md5_hex(&s.md5, hex);
    if (strcasecmp(hex, md5))
        return core_err(err, MLC_STATUS_NETWORK,
                        "downloaded %s does not match its MD5 (got %s, expected %s): the transfer "
                        "was corrupted or truncated",
                        path, hex, md5);
    return MLC_OK;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char *p = core_sprintf("%s/%s", dir, e->d_name);
            if (p) unlink(p);
            mlc_free(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static json_t *recommended(const json_t *meta, const json_t *pkg)
{
    /* package-level recommendations replace the model's wholesale */
    const json_t *rp = json_object_get(pkg, "recommendedParameters");
    if (!json_is_object(rp)) rp = json_object_get(meta, "recommendedParameters");
    if (!json_is_object(rp)) return json_null();
    json_t *c = json_object_get(rp, "confidence");
    json_t *pc = json_object_get(rp, "perClassConfidence");
    return json_pack("{s:O,s:O}", "confidence", c ? c : json_null(), "per_class_confidence",
                     pc ? pc : json_null());
}

static json_t *or_null(json_t *v)
{
    return v ? v : json_null();
}

static mlc_status write_model_config(const char *dir, const char *id, const json_t *meta,
                                     const json_t *pkg, mlc_error *err)
{
    const json_t *man = json_object_get(pkg, "packageManifest");
    json_t *sb = json_object_get(man, "staticBatchSize");
    json_t *mc = json_pack(
        "{s:i,s:O,s:O,s:s,s:o,s:O,s:O,s:O,s:s,s:s}", "offline_manifest_version", 1,
        "model_architecture", or_null(json_object_get(meta, "modelArchitecture")), "task_type",
        or_null(json_object_get(meta, "taskType")), "backend_type", "onnx",
        "recommended_parameters", recommended(meta, pkg), "quantization",
        or_null(json_object_get(man, "quantization")), "dynamic_batch_size_supported",
        json_is_true(json_object_get(man, "dynamicBatchSize")) ? json_true() : json_false(),
        "static_batch_size", sb ? sb : json_null(), "model_id", id, "canonical_model_id", id);
    if (!mc) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    char *text = json_dumps(mc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(mc);
    if (!text) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    char *path = core_sprintf("%s/model_config.json", dir);
    mlc_status st = path ? core_write_file_atomic(path, text, strlen(text), err)
                         : core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    mlc_free(path);
    free(text); /* jansson's buffer */
    return st;
}

static int package_complete(const char *dir)
{
    char *a = core_sprintf("%s/inference_config.json", dir);
    char *b = core_sprintf("%s/environment.json", dir);
    int ok = (a && core_file_exists(a)) || (b && core_file_exists(b));
    mlc_free(a);
    mlc_free(b);
    return ok;
}

static char *parent_of(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? core_strndup(path, (size_t)(s - path)) : core_strdup(".");
}

mlc_status mdl_fetch_model(const char *id, const mlc_model_options *opt, char **dir_out,
                           mlc_error *err)
{
    mlc_status st = MLC_OK;
    json_t *meta = NULL;
    char *final = NULL, *tmp = NULL, *parent = NULL, *base = NULL;
    const char *root = opt->cache_dir ? opt->cache_dir : env_nonempty("MODEL_CACHE_DIR");
    if (!root) root = "/tmp/cache";
    if (!(final = mdl_cache_dir_for(root, id))) goto nomem;
    if (package_complete(final)) {
        *dir_out = final;
        return MLC_OK;
    }
    if (opt->offline || env_nonempty("OFFLINE_MODE")) {
        st = core_err(err, MLC_STATUS_NOT_FOUND,
                      "model '%s' is not in the cache (%s) and downloads are disabled (offline)",
                      id, final);
        goto fail;
    }
    const char *key = opt->api_key ? opt->api_key : env_nonempty("ROBOFLOW_API_KEY");
    if (key && !strcmp(key, "local")) key = env_nonempty("ROBOFLOW_API_KEY");
    const char *b = opt->api_url ? opt->api_url : env_nonempty("API_BASE_URL");
    if (!b) b = env_nonempty("ROBOFLOW_API_HOST");
    if (!b) b = "https://api.roboflow.com";
    if (!(base = core_strdup(b))) goto nomem;
    while (*base && base[strlen(base) - 1] == '/') base[strlen(base) - 1] = '\0';
    int timeout = opt->limits.url_timeout_ms > 0 ? opt->limits.url_timeout_ms : 15000;

    static int curl_ready;
    if (!curl_ready) {
        /* not thread-safe in old libcurl; model loads are rare and early */
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = 1;
    }
    if ((st = fetch_metadata(base, key, id, timeout, &meta, err))) goto fail;
    const json_t *task = json_object_get(meta, "taskType");
    if (!json_is_string(task) || strcmp(json_string_value(task), "multi-label-classification")) {
        st = core_err(err, MLC_STATUS_UNSUPPORTED,
                      "model '%s' has task type \"%s\"; mlc runs only multi-label-classification "
                      "models",
                      id, json_is_string(task) ? json_string_value(task) : "(none)");
        goto fail;
    }
    const json_t *pkg = pick_package(meta);
    if (!pkg) {
        st = core_err(err, MLC_STATUS_UNSUPPORTED,
                      "model '%s' has no trusted ONNX package with MD5-verified files", id);
        goto fail;
    }
    if ((st = core_mkdirs(root, err))) goto fail;
    char rnd[37];
    core_uuid4(rnd);
    if (!(tmp = core_sprintf("%s/.tmp-%ld-%.8s", root, (long)getpid(), rnd))) goto nomem;
    if (mkdir(tmp, 0755) != 0) {
        st = core_err(err, MLC_STATUS_IO, "cannot create '%s': %s", tmp, strerror(errno));
        goto fail;
    }
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(pkg, "packageFiles"), i, f)
    {
        const char *name = json_string_value(json_object_get(f, "fileHandle"));
        if (!safe_name(name)) {
            st = core_err(err, MLC_STATUS_BAD_MODEL, "model '%s': unsafe package file name '%s'",
                          id, name);
            goto fail;
        }
        char *path = core_sprintf("%s/%s", tmp, name);
        if (!path) goto nomem;
        st = download_file(json_string_value(json_object_get(f, "downloadUrl")), path,
                           json_string_value(json_object_get(f, "md5Hash")),
                           opt->limits.max_input_bytes ? opt->limits.max_input_bytes
                                                       : (size_t)256 << 20,
                           timeout, err);
        mlc_free(path);
        if (st) goto fail;
    }
    if ((st = write_model_config(tmp, id, meta, pkg, err))) goto fail;
    if (!package_complete(tmp)) {
        st = core_err(err, MLC_STATUS_BAD_MODEL,
                      "model '%s': the downloaded ONNX package has no inference_config.json", id);
        goto fail;
    }
    if (!(parent = parent_of(final))) goto nomem;
    if ((st = core_mkdirs(parent, err))) goto fail;
    if (rename(tmp, final) != 0) {
        if ((errno == EEXIST || errno == ENOTEMPTY) && package_complete(final)) {
            remove_tree(tmp); /* another process won the race: use its copy */
        } else {
            st = core_err(err, MLC_STATUS_IO, "cannot move the package into '%s': %s", final,
                          strerror(errno));
            goto fail;
        }
    }
    mlc_free(tmp);
    tmp = NULL;
    *dir_out = final;
    final = NULL;
    goto fail;
nomem:
    st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
fail:
    if (tmp) remove_tree(tmp);
    mlc_free(tmp);
    mlc_free(parent);
    mlc_free(final);
    mlc_free(base);
    json_decref(meta);
    return st;
}
