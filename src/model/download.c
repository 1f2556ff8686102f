/*
 * download.c - fetches a model package by id into the model cache.
 *
 * Flow: parse the id (§5.1) -> already cached, in mlc's/inference's legacy
 * layout or in inference_models' models-cache layout (cache.c)? use it, no
 * network -> offline? NOT_FOUND -> GET {base}/models/v1/external/weights?
 * modelId=<id> with "Authorization: Bearer <key>" (retried on
 * 408/429/502/503/504; follows nextPage up to 10 pages) -> refuse a task
 * other than multi-label classification -> pick the ONNX package (trusted,
 * every file with an MD5; fp32 first, dynamic batch before static, then
 * higher opset) -> download every file into a fresh staging directory inside
 * the cache root, verifying size caps and MD5 -> write model_config.json
 * (task, architecture, recommended parameters: the package's replace the
 * model's) -> rename the staging directory into place. When the weights API
 * answers 404 or offers no usable ONNX package, Roboflow's older endpoints
 * write a legacy package into the same staging directory (legacy.c).
 *
 * Crash safety and concurrency: nothing is ever written into the final
 * directory; it appears complete through one rename(2). A process that loses
 * the rename race (EEXIST/ENOTEMPTY) discards its copy and uses the winner's.
 * Leftover ".tmp-*" directories from killed processes are never read, and
 * are swept once untouched for a day.
 *
 * Not here: the cache path rules (cache.c), package parsing (package.c).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/curl_lib.h"
#include "model/fetch.h"

#define MAX_PAGES 10
#define MAX_TRIES 3
/* staging directories untouched this long belong to killed downloads */
#define STALE_STAGING_SECONDS (24 * 3600)

static size_t on_data(char *p, size_t sz, size_t nm, void *ud)
{
    struct mdl_sink *s = ud;
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

/* Picks "md5=<base64>" out of a Google Cloud Storage x-goog-hash header (the
 * signed URLs Roboflow hands out point there). */
static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    struct mdl_sink *s = ud;
    size_t n = sz * nm;
    static const char name[] = "x-goog-hash:";
    if (n > sizeof name && n < 1024 && !strncasecmp(p, name, sizeof name - 1)) {
        char line[1024];
        memcpy(line, p, n);
        line[n] = '\0';
        const char *m = strstr(line, "md5=");
        if (m) {
            m += 4;
            size_t k = strcspn(m, ", \r\n");
            uint8_t *raw = NULL;
            size_t rn = 0;
            if (core_base64_decode(m, k, &raw, &rn, NULL) == MLC_OK && rn == 16)
                for (int i = 0; i < 16; i++) snprintf(s->goog_md5 + 2 * i, 3, "%02x", raw[i]);
            mlc_free(raw);
        }
    }
    return n;
}

static const char *env_nonempty(const char *k)
{
    const char *v = getenv(k);
    return v && *v ? v : NULL;
}

char *mdl_url_for_message(const char *url)
{
    return core_strndup(url, strcspn(url, "?#"));
}

mlc_status mdl_http_get(const char *url, const char *const *headers, int timeout_ms,
                        struct mdl_sink *s, long *code_out, mlc_error *err)
{
    const struct core_curl *cu = NULL;
    struct curl_slist *hdrs = NULL;
    char *shown = NULL;
    *code_out = 0;
    mlc_status st = core_curl(&cu, err);
    if (st) return st;
    CURL *c = cu->easy_init();
    if (!c) return core_err(err, MLC_STATUS_NO_MEMORY, "cannot start an HTTP transfer");
    char ebuf[CURL_ERROR_SIZE] = "";
    cu->easy_setopt(c, CURLOPT_URL, url);
    cu->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    cu->easy_setopt(c, CURLOPT_WRITEDATA, s);
    cu->easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    cu->easy_setopt(c, CURLOPT_HEADERDATA, s);
    cu->easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    cu->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    cu->easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    /* file://, ftp:// etc. from an API answer must not read local files */
    cu->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    cu->easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    cu->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    /* a stalled transfer (no byte for timeout_ms) fails; a slow but moving
     * large download does not */
    cu->easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    cu->easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)((timeout_ms + 999) / 1000));
    cu->easy_setopt(c, CURLOPT_USERAGENT, "mlc/" MLC_VERSION);
    for (size_t i = 0; headers && headers[i]; i++) {
        struct curl_slist *h = cu->slist_append(hdrs, headers[i]);
        if (!h) {
            st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
            goto fail;
        }
        hdrs = h;
    }
    if (hdrs) cu->easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = cu->easy_perform(c);
    long code = 0;
    cu->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    *code_out = code;
    if (s->over) {
        st = core_err(err, MLC_STATUS_LIMIT, "download from %s is larger than %zu bytes",
                      (shown = mdl_url_for_message(url)) ? shown : "?", s->max);
    } else if (rc != CURLE_OK && code < 400) {
        st = core_err(err, MLC_STATUS_NETWORK, "HTTP request to %s failed: %s",
                      (shown = mdl_url_for_message(url)) ? shown : "?",
                      ebuf[0] ? ebuf : cu->easy_strerror(rc));
    }
fail:
    cu->slist_free_all(hdrs);
    mlc_free(shown);
    cu->easy_cleanup(c);
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

char *mdl_url_encode(const char *s)
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
    if (!b.data && core_buf_append(&b, "", 0) != MLC_OK) return NULL;
    return core_buf_take(&b);
}

/* Fetches the metadata pages; returns the merged modelMetadata with all
 * packages in one "modelPackages" array (caller json_decref). */
static mlc_status fetch_metadata(const struct mdl_fetch *f, json_t **meta_out, long *code_out,
                                 mlc_error *err)
{
    mlc_status st = MLC_OK;
    json_t *merged = NULL, *root = NULL;
    char *eid = mdl_url_encode(f->id), *after = NULL, *url = NULL, *auth = NULL;
    const char *hdrs[2] = {NULL, NULL};
    *code_out = 0;
    if (!eid) goto nomem;
    if (f->key) {
        if (!(auth = core_sprintf("Authorization: Bearer %s", f->key))) goto nomem;
        hdrs[0] = auth;
    }
    for (int page = 0; page < MAX_PAGES; page++) {
        char *eafter = after ? mdl_url_encode(after) : NULL;
        mlc_free(url);
        url = core_sprintf("%s/models/v1/external/weights?modelId=%s%s%s", f->base, eid,
                           eafter ? "&startAfter=" : "", eafter ? eafter : "");
        mlc_free(eafter);
        if (!url) goto nomem;
        long code = 0;
        struct mdl_sink s;
        for (int attempt = 0;; attempt++) {
            memset(&s, 0, sizeof s);
            core_buf_init(&s.mem, 16u << 20);
            s.max = 16u << 20;
            st = mdl_http_get(url, hdrs, f->timeout_ms, &s, &code, err);
            if (!st && retryable(code) && attempt + 1 < MAX_TRIES) {
                core_buf_free(&s.mem);
                usleep(200000u << attempt);
                continue;
            }
            break;
        }
        *code_out = code;
        if (!st && code != 200) st = map_api_status(code, f->id, s.mem.data, err);
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
                          "Could not decode Roboflow API response for '%s' (%s)", f->id,
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
    mlc_free(auth);
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

/* A package file name must be a plain file name: no directories, no "..",
 * nothing absolute, nothing hidden (the staging directory's own files). */
static int safe_name(const char *n)
{
    return n && *n && n[0] != '.' && !strchr(n, '/') && !strchr(n, '\\') &&
           strcmp(n, "model_config.json") && strlen(n) < 200;
}

mlc_status mdl_download_file(const char *url, const char *path, const char *md5, size_t max,
                             int timeout_ms, mlc_error *err)
{
    struct mdl_sink s;
    long code = 0;
    mlc_status st = MLC_OK;
    for (int attempt = 0;; attempt++) {
        memset(&s, 0, sizeof s);
        s.max = max;
        mdl_md5_init(&s.md5);
        s.fp = fopen(path, "wb");
        if (!s.fp)
            return core_err(err, MLC_STATUS_IO, "cannot create '%s': %s", path, strerror(errno));
        st = mdl_http_get(url, NULL, timeout_ms, &s, &code, err);
        if (fclose(s.fp) != 0 && !st)
            st = core_err(err, MLC_STATUS_IO, "cannot write '%s': %s", path, strerror(errno));
        if (!st && retryable(code) && attempt + 1 < MAX_TRIES) {
            usleep(200000u << attempt);
            continue;
        }
        break;
    }
    if (st) return core_err_prefix(err, "downloading %s", path);
    if (code != 200) {
        char *shown = mdl_url_for_message(url);
        st = core_err(err, code == 404 ? MLC_STATUS_NOT_FOUND : MLC_STATUS_NETWORK,
                      "downloading %s from %s: HTTP %ld", path, shown ? shown : "?", code);
        mlc_free(shown);
        return st;
    }
    char hex[33];
    mdl_md5_hex(&s.md5, hex);
    const char *want = md5 ? md5 : s.goog_md5[0] ? s.goog_md5 : NULL;
    if (want && strcasecmp(hex, want))
        return core_err(err, MLC_STATUS_NETWORK,
                        "downloaded %s does not match its MD5 (got %s, expected %s): the transfer "
                        "was corrupted or truncated",
                        path, hex, want);
    return MLC_OK;
}

void mdl_remove_tree(const char *dir)
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
    core_libc_free(text); /* jansson's buffer */
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

/* The current weights API into f->staging. *fallback is set (with a
 * NOT_FOUND/UNSUPPORTED status) when the model has no answer there that mlc
 * can use: 404, or no trusted ONNX package. */
static mlc_status fetch_current(const struct mdl_fetch *f, int *fallback, mlc_error *err)
{
    mlc_status st = MLC_OK;
    json_t *meta = NULL;
    long code = 0;
    *fallback = 0;
    if ((st = fetch_metadata(f, &meta, &code, err))) {
        *fallback = code == 404;
        goto fail;
    }
    const json_t *task = json_object_get(meta, "taskType");
    if (!json_is_string(task) || strcmp(json_string_value(task), "multi-label-classification")) {
        st = core_err(err, MLC_STATUS_UNSUPPORTED,
                      "model '%s' has task type \"%s\"; mlc runs only multi-label-classification "
                      "models",
                      f->id, json_is_string(task) ? json_string_value(task) : "(none)");
        goto fail;
    }
    const json_t *pkg = pick_package(meta);
    if (!pkg) {
        *fallback = 1;
        st = core_err(err, MLC_STATUS_UNSUPPORTED,
                      "model '%s' has no trusted ONNX package with MD5-verified files", f->id);
        goto fail;
    }
    size_t i;
    const json_t *file;
    json_array_foreach(json_object_get(pkg, "packageFiles"), i, file)
    {
        const char *name = json_string_value(json_object_get(file, "fileHandle"));
        if (!safe_name(name)) {
            /* the name comes from the network: never let it leave staging */
            st = core_err(err, MLC_STATUS_BAD_MODEL,
                          "model '%s': the weights API lists an unsafe package file name "
                          "'%.100s' (a path, not a file name)",
                          f->id, name ? name : "");
            goto fail;
        }
        char *path = core_sprintf("%s/%s", f->staging, name);
        if (!path) {
            st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
            goto fail;
        }
        st = mdl_download_file(json_string_value(json_object_get(file, "downloadUrl")), path,
                               json_string_value(json_object_get(file, "md5Hash")), f->max_bytes,
                               f->timeout_ms, err);
        mlc_free(path);
        if (st) goto fail;
    }
    if ((st = write_model_config(f->staging, f->id, meta, pkg, err))) goto fail;
    if (!package_complete(f->staging))
        st =
            core_err(err, MLC_STATUS_BAD_MODEL,
                     "model '%s': the downloaded ONNX package has no inference_config.json", f->id);
fail:
    json_decref(meta);
    return st;
}

/* Removes ".tmp-*" staging directories that nothing has written to for a
 * day: leftovers of killed downloads (a live download touches its files far
 * more often than that, since a stall fails after url_timeout_ms). */
static void sweep_stale_staging(const char *root)
{
    DIR *d = opendir(root);
    if (!d) return;
    struct dirent *e;
    time_t now = time(NULL);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, ".tmp-", 5)) continue;
        char *p = core_sprintf("%s/%s", root, e->d_name);
        if (!p) break;
        struct stat sb;
        time_t newest = 0;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            newest = sb.st_mtime;
            DIR *sub = opendir(p);
            struct dirent *f;
            while (sub && (f = readdir(sub))) {
                if (!strcmp(f->d_name, "..")) continue; /* the cache root: always fresh */
                char *q = core_sprintf("%s/%s", p, f->d_name);
                struct stat fb;
                if (q && lstat(q, &fb) == 0 && fb.st_mtime > newest) newest = fb.st_mtime;
                mlc_free(q);
            }
            if (sub) closedir(sub);
            if (now - newest > STALE_STAGING_SECONDS) mdl_remove_tree(p);
        }
        mlc_free(p);
    }
    closedir(d);
}

/* Whether dir resolves to a place under root: a package reached through a
 * symlink out of the cache (docs/SERVER.md serves a local package that way)
 * is the user's files, not the cache's. */
static int resolves_under(const char *root, const char *dir)
{
    char *r = realpath(root, NULL), *d = realpath(dir, NULL); /* libc's malloc */
    size_t n = r ? strlen(r) : 0;
    int in = r && d && !strncmp(r, d, n) && ((n && r[n - 1] == '/') || d[n] == '/');
    core_libc_free(r);
    core_libc_free(d);
    return in;
}

mlc_status mdl_fetch_model(const char *id, const mlc_model_options *opt, char **dir_out,
                           int *own_out, mlc_error *err)
{
    mlc_status st = MLC_OK;
    char *final = NULL, *tmp = NULL, *parent = NULL, *base = NULL;
    char *dataset = NULL, *version = NULL, *found = NULL;
    *own_out = 0;
    if ((st = mdl_parse_model_id(id, &dataset, &version, err))) goto fail;
    const char *root = opt->cache_dir ? opt->cache_dir : env_nonempty("MODEL_CACHE_DIR");
    if (!root) root = "/tmp/cache";
    if (!(final = mdl_cache_dir_for(root, id))) goto nomem;
    /* Cached in either layout: no network. mlc's own downloads (and
     * inference's legacy cache) first, then inference_models' cache. */
    if (package_complete(final)) {
        *own_out = resolves_under(root, final);
        *dir_out = final;
        final = NULL;
        goto fail;
    }
    if ((found = mdl_find_cached_package(root, id)) ||
        (env_nonempty("INFERENCE_HOME") &&
         (found = mdl_find_cached_package(env_nonempty("INFERENCE_HOME"), id)))) {
        *dir_out = found;
        found = NULL;
        goto fail;
    }
    if (opt->offline || env_nonempty("OFFLINE_MODE")) {
        st = core_err(err, MLC_STATUS_NOT_FOUND,
                      "model '%s' is not in the cache (%s) and downloads are disabled (offline)",
                      id, final);
        goto fail;
    }
    const char *key = opt->api_key ? opt->api_key : env_nonempty("ROBOFLOW_API_KEY");
    if (!key) key = env_nonempty("API_KEY");
    if (key && !strcmp(key, "local")) key = env_nonempty("ROBOFLOW_API_KEY");
    const char *b = opt->api_url ? opt->api_url : env_nonempty("API_BASE_URL");
    if (!b) b = env_nonempty("ROBOFLOW_API_HOST");
    if (!b) b = "https://api.roboflow.com";
    if (!(base = core_strdup(b))) goto nomem;
    while (*base && base[strlen(base) - 1] == '/') base[strlen(base) - 1] = '\0';

    if ((st = core_mkdirs(root, err))) goto fail;
    sweep_stale_staging(root);
    char rnd[37];
    core_uuid4(rnd);
    if (!(tmp = core_sprintf("%s/.tmp-%ld-%.8s", root, (long)getpid(), rnd))) goto nomem;
    if (mkdir(tmp, 0755) != 0) {
        st = core_err(err, MLC_STATUS_IO, "cannot create '%s': %s", tmp, strerror(errno));
        goto fail;
    }
    struct mdl_fetch f = {
        .id = id,
        .base = base,
        .key = key,
        .timeout_ms = opt->limits.url_timeout_ms > 0 ? opt->limits.url_timeout_ms : 15000,
        .max_bytes = opt->limits.max_input_bytes ? opt->limits.max_input_bytes : (size_t)256 << 20,
        .staging = tmp,
    };
    int fallback = 0;
    st = fetch_current(&f, &fallback, err);
    if (st && fallback) {
        /* Not servable by the weights API: Roboflow's older endpoints. Their
         * answer (and error) is the one reported. */
        if (err) memset(err, 0, sizeof *err);
        st = mdl_fetch_legacy(&f, dataset, version, err);
    }
    if (st) goto fail;
    if (!(parent = parent_of(final))) goto nomem;
    if ((st = core_mkdirs(parent, err))) goto fail;
    if (rename(tmp, final) != 0) {
        if ((errno == EEXIST || errno == ENOTEMPTY) && package_complete(final)) {
            mdl_remove_tree(tmp); /* another process won the race: use its copy */
        } else {
            st = core_err(err, MLC_STATUS_IO, "cannot move the package into '%s': %s", final,
                          strerror(errno));
            goto fail;
        }
    }
    mlc_free(tmp);
    tmp = NULL;
    *own_out = resolves_under(root, final);
    *dir_out = final;
    final = NULL;
    goto fail;
nomem:
    st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
fail:
    if (tmp) mdl_remove_tree(tmp);
    mlc_free(tmp);
    mlc_free(parent);
    mlc_free(final);
    mlc_free(base);
    mlc_free(dataset);
    mlc_free(version);
    mlc_free(found);
    return st;
}
