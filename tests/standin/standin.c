/*
 * standin.c - a local stand-in for the Roboflow model APIs, for tests.
 *
 *   standin --root DIR --port-file FILE [--key KEY] [--fail MODE] [--log FILE]
 *
 * Serves packages stored as DIR/<project>/<version>/ (any files). A directory
 * with inference_config.json is a current package (its model_config.json
 * supplies taskType, modelArchitecture and recommendedParameters and is not
 * offered as a package file); one with environment.json is a legacy package
 * (its optional model_type.json supplies the /ort "type" and "modelType").
 *   GET /models/v1/external/weights?modelId=<id>   (Authorization: Bearer KEY)
 *       -> {"modelMetadata": {..., "modelPackages": [one ONNX package]}}
 *          (404 for legacy packages: the weights API does not know them)
 *   GET /ort/<project>/<version>?nocache=true&device=D&dynamic=true&api_key=KEY
 *       (X-Roboflow-Inference-Version and X-Allow-Chunked: true required)
 *       -> {"ort": {"type", "environment": URL, "model": URL, "classes",
 *                   "colors", "modelType", ...}}   (legacy packages only)
 *   GET /getWeights?model=<project>/<name>&api_key=KEY   (instant models)
 *       -> {"modelFiles": {"ort": {"model": URL}}, "environment": {...}, ...}
 *   GET /files/<project>/<version>/<name>          -> the file's bytes, with
 *       "x-goog-hash: md5=<base64>" as Google Cloud Storage sends
 * It listens on 127.0.0.1 on a free port, writes the port to --port-file and
 * runs until SIGTERM/SIGINT. Failure switches (--fail):
 *   401, 403, 404, 500   the weights call answers with that status
 *   nopkg                the weights call offers no usable (ONNX) package
 *   slow                 every answer waits 5 s
 *   truncated            .onnx bodies stop half way while promising the full length
 *   stall                .onnx bodies stop half way and hang (30 s) before failing
 *   badmd5               advertised MD5s (API and x-goog-hash) are wrong
 *   hostile:<name>       the weights call names its first file <name>
 *   ort401, ort404, ort500, ortjson   /ort and /getWeights answer that way
 *                                     (ortjson: a body that is not JSON)
 *   ortno:<key>          the /ort answer lacks "ort", "model" or "environment"
 *   ortfileurl           the /ort "environment" URL is file:///etc/passwd
 * --log appends each request's method and path.
 * Test support only: not part of mlc, never installed.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "core/core.h"
#include "model/hash.h"

static const char *root, *key = "test-key", *fail_mode = "", *log_path;
static int port;
static volatile sig_atomic_t stop;

static char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *d = malloc((size_t)sz + 1);
    if (d && fread(d, 1, (size_t)sz, f) != (size_t)sz) {
        free(d);
        d = NULL;
    }
    if (d) d[sz] = '\0';
    fclose(f);
    *n = (size_t)sz;
    return d;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *body,
                             const char *type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

/* modelId must be "<a>/<b>" of plain characters. */
static int safe_id(const char *id)
{
    const char *s = strchr(id, '/');
    if (!s || s == id || !s[1] || strchr(s + 1, '/') || strstr(id, "..")) return 0;
    return 1;
}

static enum MHD_Result weights(struct MHD_Connection *c)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    char want[512];
    snprintf(want, sizeof want, "Bearer %s", key);
    if (!strcmp(fail_mode, "401") || !auth || strcmp(auth, want))
        return reply(c, 401, "{\"message\":\"unauthorized\"}", "application/json");
    if (!strcmp(fail_mode, "403"))
        return reply(c, 403, "{\"message\":\"forbidden\"}", "application/json");
    if (!strcmp(fail_mode, "500"))
        return reply(c, 500, "{\"message\":\"internal error\"}", "application/json");
    const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "modelId");
    char dir[4096];
    if (!strcmp(fail_mode, "404") || !id || !safe_id(id) ||
        snprintf(dir, sizeof dir, "%s/%s", root, id) >= (int)sizeof dir)
        return reply(c, 404, "{\"message\":\"not found\"}", "application/json");
    char probe[8192];
    snprintf(probe, sizeof probe, "%s/inference_config.json", dir);
    struct stat sb;
    if (strcmp(fail_mode, "nopkg") && stat(probe, &sb) != 0)
        return reply(c, 404, "{\"message\":\"not found\"}", "application/json");
    DIR *d = opendir(dir);
    if (!d) return reply(c, 404, "{\"message\":\"not found\"}", "application/json");

    json_t *files = json_array(), *mc = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!strcmp(e->d_name, "model_config.json")) {
            mc = json_load_file(path, 0, NULL);
            continue;
        }
        size_t n;
        char *data = read_all(path, &n);
        if (!data) continue;
        struct mdl_md5 m;
        char hex[33];
        mdl_md5_init(&m);
        mdl_md5_update(&m, data, n);
        mdl_md5_hex(&m, hex);
        free(data);
        if (!strcmp(fail_mode, "badmd5")) hex[0] = hex[0] == '0' ? '1' : '0';
        char url[8192];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/files/%s/%s", port, id, e->d_name);
        const char *handle = e->d_name;
        if (!strncmp(fail_mode, "hostile:", 8) && json_array_size(files) == 0)
            handle = fail_mode + 8;
        json_array_append_new(files, json_pack("{s:s,s:s,s:s}", "fileHandle", handle, "downloadUrl",
                                               url, "md5Hash", hex));
    }
    closedir(d);
    json_t *rp = json_object_get(mc, "recommended_parameters");
    json_t *rec = json_null();
    if (json_is_object(rp)) {
        json_t *conf = json_object_get(rp, "confidence"),
               *pc = json_object_get(rp, "per_class_confidence");
        rec = json_pack("{s:O,s:O}", "confidence", conf ? conf : json_null(), "perClassConfidence",
                        pc ? pc : json_null());
    }
    json_t *tt = json_object_get(mc, "task_type"), *ar = json_object_get(mc, "model_architecture");
    json_t *pkg = json_pack("{s:s,s:s,s:{s:s,s:s,s:b,s:n,s:s,s:i},s:o,s:b}", "type",
                            "external-model-package-v1", "packageId", "pkg1", "packageManifest",
                            "type", "onnx-model-package-v1", "backendType", "onnx",
                            "dynamicBatchSize", 1, "staticBatchSize", "quantization", "fp32",
                            "opset", 17, "packageFiles", files, "trustedSource", 1);
    /* an untrusted TRT package first, which must never be chosen */
    json_t *trt =
        json_pack("{s:s,s:{s:s,s:s},s:[],s:b}", "packageId", "trt1", "packageManifest", "type",
                  "trt-model-package-v1", "backendType", "trt", "packageFiles", "trustedSource", 0);
    json_t *doc = json_pack(
        "{s:{s:s,s:s,s:s,s:s,s:o,s:[o,o]}}", "modelMetadata", "type", "external-model-metadata-v1",
        "modelId", id, "modelArchitecture", json_is_string(ar) ? json_string_value(ar) : "resnet",
        "taskType", json_is_string(tt) ? json_string_value(tt) : "multi-label-classification",
        "recommendedParameters", rec, "modelPackages", trt, pkg);
    if (!strcmp(fail_mode, "nopkg")) /* only the untrusted TRT package is left */
        json_array_remove(json_object_get(json_object_get(doc, "modelMetadata"), "modelPackages"),
                          1);
    json_decref(mc);
    char *text = doc ? json_dumps(doc, 0) : NULL;
    json_decref(doc);
    enum MHD_Result r =
        text ? reply(c, 200, text, "application/json") : reply(c, 500, "{}", "application/json");
    free(text);
    return r;
}

struct trunc {
    char *data;
    size_t n;
    int stall;
};

static ssize_t trunc_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct trunc *t = cls;
    size_t half = t->n / 2;
    if (pos >= half) {
        /* "stall": hold the connection open mid-body (the client is killed
         * meanwhile), then fail */
        for (int i = 0; t->stall && i < 300 && !stop; i++) usleep(100000);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t k = half - (size_t)pos < max ? half - (size_t)pos : max;
    memcpy(buf, t->data + pos, k);
    return (ssize_t)k;
}

static void trunc_free(void *cls)
{
    struct trunc *t = cls;
    free(t->data);
    free(t);
}

static void md5_of(const char *data, size_t n, char hex[33], uint8_t raw[16])
{
    struct mdl_md5 m;
    mdl_md5_init(&m);
    mdl_md5_update(&m, data, n);
    mdl_md5_hex(&m, hex);
    for (int i = 0; i < 16; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        raw[i] = (uint8_t)v;
    }
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static enum MHD_Result file(struct MHD_Connection *c, const char *rel)
{
    if (strstr(rel, "..")) return reply(c, 404, "not found", "text/plain");
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    size_t n;
    char *data = read_all(path, &n);
    if (!data) return reply(c, 404, "not found", "text/plain");
    char hex[33];
    uint8_t raw[16];
    md5_of(data, n, hex, raw);
    if (!strcmp(fail_mode, "badmd5")) raw[0] ^= 0xff;
    char *b64 = core_base64_encode(raw, 16);
    char goog[128];
    snprintf(goog, sizeof goog, "crc32c=AAAAAA==,md5=%s", b64 ? b64 : "");
    mlc_free(b64);
    struct MHD_Response *r;
    int cut = !strcmp(fail_mode, "truncated") || !strcmp(fail_mode, "stall");
    if (cut && n > 1 && ends_with(rel, ".onnx")) {
        struct trunc *t = malloc(sizeof *t);
        t->data = data;
        t->n = n;
        t->stall = !strcmp(fail_mode, "stall");
        r = MHD_create_response_from_callback(n, 4096, trunc_read, t, trunc_free);
    } else {
        r = MHD_create_response_from_buffer(n, data, MHD_RESPMEM_MUST_FREE);
    }
    MHD_add_response_header(r, "x-goog-hash", goog);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* The legacy description of DIR/<id> (environment.json required), as /ort
 * and /getWeights share it; NULL when the id has no legacy package. */
static json_t *legacy_description(const char *id, int inline_env)
{
    char dir[4096], path[8192];
    if (!safe_id(id) || snprintf(dir, sizeof dir, "%s/%s", root, id) >= (int)sizeof dir)
        return NULL;
    snprintf(path, sizeof path, "%s/environment.json", dir);
    json_t *env = json_load_file(path, 0, NULL);
    if (!json_is_object(env)) {
        json_decref(env);
        return NULL;
    }
    snprintf(path, sizeof path, "%s/model_type.json", dir);
    json_t *mt = json_load_file(path, 0, NULL);
    const char *type = json_string_value(json_object_get(mt, "project_task_type"));
    const char *mtype = json_string_value(json_object_get(mt, "model_type"));
    json_t *classes = json_array(), *colors = json_object();
    json_t *cm = json_object_get(env, "CLASS_MAP");
    for (size_t i = 0; i < json_object_size(cm); i++) {
        char k[32];
        snprintf(k, sizeof k, "%zu", i);
        const char *name = json_string_value(json_object_get(cm, k));
        if (!name) break;
        json_array_append_new(classes, json_string(name));
        json_object_set_new(colors, name, json_string(i % 2 ? "#FF8000" : "#0080FF"));
    }
    snprintf(path, sizeof path, "%s/best.onnx", dir);
    struct stat sb;
    const char *wname = stat(path, &sb) == 0 ? "best.onnx" : "weights.onnx";
    char murl[8192], eurl[8192];
    snprintf(murl, sizeof murl, "http://127.0.0.1:%d/files/%s/%s", port, id, wname);
    if (!strcmp(fail_mode, "ortfileurl"))
        snprintf(eurl, sizeof eurl, "file:///etc/passwd");
    else
        snprintf(eurl, sizeof eurl, "http://127.0.0.1:%d/files/%s/environment.json", port, id);
    json_t *d;
    if (inline_env)
        d = json_pack("{s:{s:{s:s}},s:O,s:o,s:o,s:s,s:s}", "modelFiles", "ort", "model", murl,
                      "environment", env, "classes", classes, "colors", colors, "taskType",
                      type ? type : "classification", "modelType", mtype ? mtype : "vit");
    else
        d = json_pack("{s:{s:s,s:s,s:n,s:s,s:s,s:o,s:o,s:s}}", "ort", "name", id, "type",
                      type ? type : "classification", "icon", "annotation", "things", "environment",
                      eurl, "classes", classes, "colors", colors, "model", murl);
    if (d && !inline_env && mtype)
        json_object_set_new(json_object_get(d, "ort"), "modelType", json_string(mtype));
    json_decref(env);
    json_decref(mt);
    return d;
}

static enum MHD_Result legacy_reply(struct MHD_Connection *c, json_t *doc)
{
    if (!doc) return reply(c, 404, "{\"message\":\"not found\"}", "application/json");
    if (!strncmp(fail_mode, "ortno:", 6)) {
        json_t *o = json_object_get(doc, "ort");
        if (!strcmp(fail_mode + 6, "ort") || !o)
            json_object_del(doc, fail_mode + 6); /* /getWeights keys are top-level */
        else
            json_object_del(o, fail_mode + 6);
    }
    char *text = json_dumps(doc, 0);
    json_decref(doc);
    enum MHD_Result r = reply(c, 200, text ? text : "{}", "application/json");
    free(text);
    return r;
}

/* Failure switches shared by /ort and /getWeights; 0 = none applies. */
static enum MHD_Result legacy_failure(struct MHD_Connection *c, int *done)
{
    *done = 1;
    const char *k = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "api_key");
    if (!strcmp(fail_mode, "ort401") || !k || strcmp(k, key))
        return reply(c, 401, "{\"error\":{\"message\":\"This API key does not exist\"}}",
                     "application/json");
    if (!strcmp(fail_mode, "ort404"))
        return reply(c, 404, "{\"error\":{\"message\":\"not found\"}}", "application/json");
    if (!strcmp(fail_mode, "ort500"))
        return reply(c, 500, "{\"error\":{\"message\":\"boom\"}}", "application/json");
    if (!strcmp(fail_mode, "ortjson")) return reply(c, 200, "<html>oops</html>", "text/html");
    *done = 0;
    return MHD_NO;
}

static enum MHD_Result ort(struct MHD_Connection *c, const char *rel)
{
    /* the request shape §5.2 names; anything else is a client bug */
    const char *ver =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Roboflow-Inference-Version");
    const char *chunk = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Allow-Chunked");
    const char *nocache = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "nocache");
    const char *dyn = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "dynamic");
    const char *dev = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "device");
    if (!ver || !*ver || !chunk || strcmp(chunk, "true") || !nocache || strcmp(nocache, "true") ||
        !dyn || strcmp(dyn, "true") || !dev || !*dev)
        return reply(c, 400, "{\"message\":\"bad /ort request\"}", "application/json");
    int done;
    enum MHD_Result r = legacy_failure(c, &done);
    if (done) return r;
    return legacy_reply(c, legacy_description(rel, 0));
}

static enum MHD_Result get_weights(struct MHD_Connection *c)
{
    int done;
    enum MHD_Result r = legacy_failure(c, &done);
    if (done) return r;
    const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "model");
    return legacy_reply(c, id ? legacy_description(id, 1) : NULL);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **state)
{
    (void)cls;
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)state;
    if (log_path) {
        FILE *f = fopen(log_path, "a");
        if (f) {
            fprintf(f, "%s %s\n", method, url);
            fclose(f);
        }
    }
    if (!strcmp(fail_mode, "slow")) sleep(5);
    if (strcmp(method, "GET")) return reply(c, 405, "method not allowed", "text/plain");
    if (!strcmp(url, "/models/v1/external/weights")) return weights(c);
    if (!strncmp(url, "/files/", 7)) return file(c, url + 7);
    if (!strncmp(url, "/ort/", 5)) return ort(c, url + 5);
    if (!strcmp(url, "/getWeights")) return get_weights(c);
    return reply(c, 404, "{\"message\":\"no such endpoint\"}", "application/json");
}

int main(int argc, char **argv)
{
    const char *port_file = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--root"))
            root = argv[i + 1];
        else if (!strcmp(argv[i], "--port-file"))
            port_file = argv[i + 1];
        else if (!strcmp(argv[i], "--key"))
            key = argv[i + 1];
        else if (!strcmp(argv[i], "--fail"))
            fail_mode = argv[i + 1];
        else if (!strcmp(argv[i], "--log"))
            log_path = argv[i + 1];
    }
    if (!root || !port_file) {
        fprintf(stderr, "usage: standin --root DIR --port-file FILE [--key K] [--fail MODE]\n");
        return 2;
    }
    /* SIGTERM/SIGINT are blocked in every thread (the daemon's inherit the
     * mask) and taken by sigwait below: delivered to a daemon thread they
     * would never wake the main thread */
    sigset_t stopset;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGTERM);
    sigaddset(&stopset, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stopset, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, handler,
        NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "standin: cannot start the HTTP daemon\n");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    port = info ? info->port : 0;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, port_file) != 0) {
        fprintf(stderr, "standin: cannot write %s\n", port_file);
        MHD_stop_daemon(d);
        return 1;
    }
    int sig = 0;
    sigwait(&stopset, &sig);
    stop = 1;
    MHD_stop_daemon(d);
    return 0;
}
