/*
 * standin.c - a local stand-in for the Roboflow weights API, for tests.
 *
 *   standin --root DIR --port-file FILE [--key KEY] [--fail MODE] [--log FILE]
 *
 * Serves packages stored as DIR/<project>/<version>/ (any files; their
 * model_config.json supplies taskType, modelArchitecture and
 * recommendedParameters and is not offered as a package file):
 *   GET /models/v1/external/weights?modelId=<id>   (Authorization: Bearer KEY)
 *       -> {"modelMetadata": {..., "modelPackages": [one ONNX package]}}
 *   GET /files/<project>/<version>/<name>          -> the file's bytes
 * It listens on 127.0.0.1 on a free port, writes the port to --port-file and
 * runs until SIGTERM/SIGINT. Failure switches (--fail): 401, 403, 404, 500
 * (the weights call answers with that status), slow (every answer waits 5 s),
 * truncated (file bodies stop half way while promising the full length),
 * badmd5 (advertised MD5s are wrong). --log appends each request path.
 * Test support only: not part of mlc, never installed.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "model/hash.h"

static const char *root, *key = "test-key", *fail_mode = "", *log_path;
static int port;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

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
        json_array_append_new(files, json_pack("{s:s,s:s,s:s}", "fileHandle", e->d_name,
                                               "downloadUrl", url, "md5Hash", hex));
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
};

static ssize_t trunc_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct trunc *t = cls;
    size_t half = t->n / 2;
    if (pos >= half) return MHD_CONTENT_READER_END_WITH_ERROR;
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

static enum MHD_Result file(struct MHD_Connection *c, const char *rel)
{
    if (strstr(rel, "..")) return reply(c, 404, "not found", "text/plain");
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    size_t n;
    char *data = read_all(path, &n);
    if (!data) return reply(c, 404, "not found", "text/plain");
    struct MHD_Response *r;
    if (!strcmp(fail_mode, "truncated") && n > 1) {
        struct trunc *t = malloc(sizeof *t);
        t->data = data;
        t->n = n;
        r = MHD_create_response_from_callback(n, 4096, trunc_read, t, trunc_free);
    } else {
        r = MHD_create_response_from_buffer(n, data, MHD_RESPMEM_MUST_FREE);
    }
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
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
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
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
    while (!stop) pause();
    MHD_stop_daemon(d);
    return 0;
}
