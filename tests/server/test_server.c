/*
 * test_server.c - drives mlc_server over real HTTP on loopback: the server
 * runs in-process on port 0, requests go through libcurl (what
 * inference_sdk's `requests` would send) or raw sockets (for hostile
 * traffic). Checks Roboflow's response shapes field by field, error bodies
 * and status codes, API-key rules, the bounded queue (503 + Retry-After),
 * and graceful shutdown. Model-dependent parts use models/demo through a
 * temporary MODEL_CACHE_DIR laid out as Roboflow's cache ("demo/1").
 *
 * Slow work is simulated with a "black hole" TCP listener that accepts and
 * never answers: model downloads pointed at it block a worker until the
 * URL timeout, which makes queue-full and shutdown-in-flight deterministic
 * without timing assertions.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "core/core.h"
#include "mlc.h"
#include "test.h"

static int port;
static char cache_dir[256];
static int have_demo;

/* ---- HTTP client ---------------------------------------------------------- */

struct resp {
    long status;
    char *body;
    size_t len;
    char retry_after[16];
    char content_type[128];
    int curl_rc;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t k = sz * n;
    char *nb = mlc_realloc(r->body, r->len + k + 1);
    if (!nb) return 0;
    memcpy(nb + r->len, p, k);
    r->body = nb;
    r->len += k;
    r->body[r->len] = '\0';
    return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t k = sz * n;
    if (k > 13 && !strncasecmp(p, "Retry-After: ", 13))
        snprintf(r->retry_after, sizeof r->retry_after, "%.*s", (int)(k - 15), p + 13);
    if (k > 14 && !strncasecmp(p, "Content-Type: ", 14))
        snprintf(r->content_type, sizeof r->content_type, "%.*s", (int)(k - 16), p + 14);
    return k;
}

static void resp_free(struct resp *r)
{
    mlc_free(r->body);
    memset(r, 0, sizeof *r);
}

/* method "GET"/"POST"; ctype NULL = application/json when body != NULL. */
static struct resp http_at(int p, const char *method, const char *path, const char *ctype,
                           const char *body, const char *header)
{
    struct resp r;
    memset(&r, 0, sizeof r);
    char url[2048];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", p, path);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char ct[160];
    if (body || ctype) {
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype ? ctype : "application/json");
        h = curl_slist_append(h, ct);
    }
    if (header) h = curl_slist_append(h, header);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    r.curl_rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return r;
}

static struct resp http(const char *method, const char *path, const char *body)
{
    return http_at(port, method, path, NULL, body, NULL);
}

static json_t *parse(const struct resp *r)
{
    json_error_t je;
    json_t *j = r->body ? json_loads(r->body, 0, &je) : NULL;
    if (!j) fprintf(stderr, "not JSON (status %ld): %.300s\n", r->status, r->body ? r->body : "");
    return j;
}

/* ---- raw sockets ----------------------------------------------------------- */

static int raw_connect(int p)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)p);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads until close/timeout; returns the status code or 0 for no answer. */
static int raw_status(int fd)
{
    char buf[4096];
    size_t len = 0;
    for (;;) {
        ssize_t k = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (k <= 0) break;
        len += (size_t)k;
        if (len >= sizeof buf - 1) break;
    }
    buf[len] = '\0';
    int st = 0;
    if (len > 12 && !strncmp(buf, "HTTP/1.", 7)) st = atoi(buf + 9);
    return st;
}

/* ---- black hole: accepts, never answers ------------------------------------ */

static int hole_fd = -1, hole_port;
static int hole_conns[64], hole_n;
static pthread_mutex_t hole_mu = PTHREAD_MUTEX_INITIALIZER;

static void *hole_main(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(hole_fd, NULL, NULL);
        if (c < 0) return NULL;
        pthread_mutex_lock(&hole_mu);
        if (hole_n < 64)
            hole_conns[hole_n++] = c;
        else
            close(c);
        pthread_mutex_unlock(&hole_mu);
    }
}

static void hole_start(void)
{
    hole_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(hole_fd, (struct sockaddr *)&a, sizeof a);
    listen(hole_fd, 64);
    socklen_t sl = sizeof a;
    getsockname(hole_fd, (struct sockaddr *)&a, &sl);
    hole_port = ntohs(a.sin_port);
    pthread_t t;
    pthread_create(&t, NULL, hole_main, NULL);
    pthread_detach(t);
}

/* ---- fixtures -------------------------------------------------------------- */

static char *b64_file(const char *rel)
{
    char *data = NULL;
    size_t n = 0;
    mlc_error e;
    if (core_read_file(test_path(rel), 0, &data, &n, &e)) return NULL;
    char *b = core_base64_encode(data, n);
    mlc_free(data);
    return b;
}

/* The model behind "demo/1": the bundled demo package, or the tiny test
 * package while the demo is not there. */
static const char *model_rel = "models/demo", *sample_rel = "samples/01_square_star.jpg";
static int n_classes, in_w, in_h;

static void setup_cache(void)
{
    snprintf(cache_dir, sizeof cache_dir, "/tmp/mlc-test-server-%d", (int)getpid());
    char p[512], target[512];
    snprintf(p, sizeof p, "%s/demo", cache_dir);
    mlc_error e;
    core_mkdirs(p, &e);
    if (!core_dir_exists(test_path(model_rel))) {
        model_rel = "tests/data/model/tiny";
        sample_rel = "tests/data/model/preproc/src.png";
        fprintf(stderr, "note: models/demo missing: using %s\n", model_rel);
    }
    snprintf(p, sizeof p, "%s/demo/1", cache_dir);
    snprintf(target, sizeof target, "%s", test_path(model_rel));
    have_demo = core_dir_exists(target) && core_file_exists(test_path(sample_rel));
    if (have_demo && symlink(target, p) && !core_dir_exists(p)) have_demo = 0;
    mlc_model *m = NULL;
    if (have_demo && mlc_model_load(target, NULL, &m, &e) == MLC_OK) {
        n_classes = mlc_model_n_classes(m);
        mlc_model_input_size(m, &in_w, &in_h);
    } else {
        have_demo = 0;
    }
    mlc_model_free(m);
    if (!have_demo) fprintf(stderr, "note: no model package: model tests skipped\n");
}

static mlc_model_options model_opt;

static mlc_server *start(int threads, int queue, const char *keys, int allow_private)
{
    mlc_server_options o;
    mlc_server_options_default(&o);
    o.port = 0;
    o.threads = threads;
    o.queue_depth = queue;
    o.request_timeout_ms = 3000;
    o.max_body_bytes = 4 << 20;
    o.api_keys_allow = keys;
    o.allow_private_urls = allow_private;
    o.model_options = &model_opt;
    mlc_server *s = NULL;
    mlc_error e;
    CHECK_OK(mlc_server_start(&o, &s, &e), &e);
    return s;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_info_health_metrics(void)
{
    struct resp r = http("GET", "/healthz", NULL);
    CHECK(r.status == 200);
    json_t *j = parse(&r);
    CHECK(j && !strcmp(json_string_value(json_object_get(j, "status")), "healthy"));
    json_decref(j);
    resp_free(&r);

    r = http("GET", "/info", NULL);
    CHECK(r.status == 200);
    CHECK(strstr(r.content_type, "application/json") != NULL);
    j = parse(&r);
    CHECK(j && json_is_string(json_object_get(j, "name")));
    CHECK(j && !strcmp(json_string_value(json_object_get(j, "version")), MLC_VERSION));
    CHECK(j && json_string_length(json_object_get(j, "uuid")) == 36);
    json_decref(j);
    resp_free(&r);

    r = http("GET", "/readiness", NULL);
    CHECK(r.status == 200);
    resp_free(&r);

    r = http("GET", "/nope/at/all", NULL);
    CHECK(r.status == 404);
    j = parse(&r);
    CHECK(j && json_is_string(json_object_get(j, "message")));
    json_decref(j);
    resp_free(&r);

    r = http("GET", "/infer/classification", NULL);
    CHECK(r.status == 405);
    resp_free(&r);

    r = http("GET", "/workflows/execution_engine/versions", NULL);
    CHECK(r.status == 200);
    resp_free(&r);

    r = http("GET", "/metrics", NULL);
    CHECK(r.status == 200);
    CHECK(strstr(r.content_type, "text/plain") != NULL);
    CHECK(r.body && strstr(r.body, "mlc_http_requests_total{route=\"/healthz\",status=\"200\"} 1"));
    CHECK(r.body && strstr(r.body, "mlc_http_request_duration_seconds_bucket{route=\"/info\""));
    CHECK(r.body && strstr(r.body, "mlc_queue_depth 0"));
    CHECK(r.body && strstr(r.body, "mlc_models_loaded"));
    CHECK(r.body && strstr(r.body, "status=\"405\""));
    resp_free(&r);
}

static void test_bad_requests(void)
{
    /* invalid JSON */
    struct resp r = http("POST", "/infer/classification", "{\"model_id\": ");
    CHECK(r.status == 400);
    json_t *j = parse(&r);
    CHECK(j && strstr(json_string_value(json_object_get(j, "message")), "invalid JSON"));
    json_decref(j);
    resp_free(&r);
    /* schema: missing model_id -> FastAPI-style 422 with a message */
    r = http("POST", "/infer/classification",
             "{\"image\": {\"type\": \"base64\", \"value\": \"x\"}}");
    CHECK(r.status == 422);
    j = parse(&r);
    CHECK(j && json_is_array(json_object_get(j, "detail")));
    CHECK(j && strstr(json_string_value(json_object_get(j, "message")), "model_id"));
    json_decref(j);
    resp_free(&r);
    /* Roboflow's model id rule */
    r = http("POST", "/infer/classification",
             "{\"model_id\": \"a/b/c\", \"image\": {\"type\": \"base64\", \"value\": \"x\"}}");
    CHECK(r.status == 400);
    CHECK(r.body && strstr(r.body, "Invalid Model ID sent in request."));
    resp_free(&r);
    r = http("POST", "/infer/classification",
             "{\"model_id\": \"../x\", \"image\": {\"type\": \"base64\", \"value\": \"x\"}}");
    CHECK(r.status == 400);
    resp_free(&r);
    /* pickled numpy refused with a clear 400 */
    r = http("POST", "/infer/classification",
             "{\"model_id\": \"demo/1\", \"image\": {\"type\": \"numpy\", \"value\": \"gASV\"}}");
    CHECK(r.status == 400);
    CHECK(r.body && strstr(r.body, "pickled"));
    resp_free(&r);
    r = http("POST", "/workflows/run",
             "{\"specification\": {\"version\": \"1.0\", \"inputs\": [], \"steps\": [], "
             "\"outputs\": []}, \"inputs\": {\"image\": [{\"type\": \"numpy_object\", \"value\": "
             "\"x\"}]}}");
    CHECK(r.status == 400);
    CHECK(r.body && strstr(r.body, "pickled"));
    resp_free(&r);
    /* content type */
    r = http_at(port, "POST", "/infer/classification", "text/plain", "{}", NULL);
    CHECK(r.status == 400);
    CHECK(r.body && strstr(r.body, "Content-Type"));
    resp_free(&r);
    /* deep nesting */
    char deep[2100];
    memset(deep, '[', 1000);
    memset(deep + 1000, ']', 1000);
    deep[2000] = '\0';
    r = http("POST", "/infer/classification", deep);
    CHECK(r.status == 400);
    CHECK(r.body && strstr(r.body, "nested"));
    resp_free(&r);
    /* invalid UTF-8 */
    r = http("POST", "/infer/classification", "{\"model_id\": \"\xff\xfe/1\"}");
    CHECK(r.status == 400);
    resp_free(&r);
    /* not an object */
    r = http("POST", "/model/add", "[1, 2]");
    CHECK(r.status == 422);
    resp_free(&r);
    /* unsaved workflow id */
    r = http("POST", "/workflows/run", "{\"workflow_id\": \"x\"}");
    CHECK(r.status == 400);
    resp_free(&r);
}

static void test_hostile(void)
{
    /* declared body over the limit: 413 before any byte of it is read */
    int fd = raw_connect(port);
    const char *big = "POST /infer/classification HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      "application/json\r\nContent-Length: 999999999999\r\n\r\n{";
    CHECK(send_all(fd, big, strlen(big)) == 0);
    CHECK(raw_status(fd) == 413);
    close(fd);

    /* chunked body growing past the limit: dropped */
    fd = raw_connect(port);
    const char *ch = "POST /infer/classification HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     "application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    send_all(fd, ch, strlen(ch));
    char *chunk = mlc_alloc(1 << 20);
    memset(chunk, 'A', 1 << 20);
    int sent_ok = 1;
    for (int i = 0; i < 8 && sent_ok; i++) {
        sent_ok = send_all(fd, "100000\r\n", 8) == 0 && send_all(fd, chunk, 1 << 20) == 0 &&
                  send_all(fd, "\r\n", 2) == 0;
    }
    int st = raw_status(fd);
    CHECK(st == 0 || st == 413);
    close(fd);
    mlc_free(chunk);

    /* enormous base64 inside a JSON body just under the limit: 4xx */
    size_t n = (4 << 20) - 200;
    char *body = mlc_alloc(n + 100);
    int k = snprintf(body, 100,
                     "{\"model_id\": \"demo/1\", \"image\": {\"type\": \"base64\", "
                     "\"value\": \"");
    memset(body + k, 'Q', n - (size_t)k - 4);
    strcpy(body + n - 4, "\"}}");
    struct resp r = http("POST", "/infer/classification", body);
    CHECK(r.status >= 400 && r.status < 500);
    resp_free(&r);
    mlc_free(body);

    /* huge headers: 431 or a drop */
    fd = raw_connect(port);
    size_t hn = 200 * 1024;
    char *hdr = mlc_alloc(hn + 200);
    k = snprintf(hdr, 200, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(hdr + k, 'h', hn);
    memcpy(hdr + k + hn, "\r\n\r\n", 5);
    send_all(fd, hdr, strlen(hdr));
    st = raw_status(fd);
    CHECK(st == 0 || st == 431 || st == 413 || st == 400);
    close(fd);
    mlc_free(hdr);

    /* truncated body: the client goes away mid-body */
    fd = raw_connect(port);
    const char *tr = "POST /model/add HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     "application/json\r\nContent-Length: 100\r\n\r\n{\"model_id\"";
    send_all(fd, tr, strlen(tr));
    shutdown(fd, SHUT_WR);
    st = raw_status(fd);
    CHECK(st == 0 || (st >= 400 && st < 500));
    close(fd);

    /* garbage request line */
    fd = raw_connect(port);
    send_all(fd, "\x01\x02 NOT HTTP\r\n\r\n", 16);
    st = raw_status(fd);
    CHECK(st == 0 || (st >= 400 && st < 500));
    close(fd);

    /* slow sender: half a request, then silence past the timeout (3 s) */
    fd = raw_connect(port);
    const char *slow = "POST /model/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 50\r\n\r\n{\"mo";
    send_all(fd, slow, strlen(slow));
    /* meanwhile the server keeps serving others */
    r = http("GET", "/healthz", NULL);
    CHECK(r.status == 200);
    resp_free(&r);
    st = raw_status(fd); /* returns when the server closes the connection */
    CHECK(st == 0 || st == 408 || (st >= 400 && st < 500));
    close(fd);

    r = http("GET", "/healthz", NULL);
    CHECK(r.status == 200);
    resp_free(&r);
    r = http("GET", "/metrics", NULL);
    CHECK(r.body && strstr(r.body, "mlc_http_dropped_total"));
    resp_free(&r);
}

static const char *spec_json =
    "{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", \"name\": \"image\"}, "
    "{\"type\": \"WorkflowParameter\", \"name\": \"confidence\", \"default_value\": 0.5}], "
    "\"steps\": [{\"type\": \"roboflow_core/roboflow_multi_label_classification_model@v3\", "
    "\"name\": \"ml\", \"images\": \"$inputs.image\", \"model_id\": \"demo/1\", "
    "\"confidence_mode\": \"custom\", \"custom_confidence\": \"$inputs.confidence\"}], "
    "\"outputs\": [{\"type\": \"JsonField\", \"name\": \"predictions\", \"selector\": "
    "\"$steps.ml.predictions\"}, {\"type\": \"JsonField\", \"name\": \"model_id\", "
    "\"selector\": \"$steps.ml.model_id\"}]}";

/* A prediction object as MultiLabelClassificationInferenceResponse. */
static void check_prediction_shape(const json_t *p, int w, int h)
{
    CHECK(json_is_object(p));
    CHECK(json_is_string(json_object_get(p, "inference_id")));
    CHECK(json_is_number(json_object_get(p, "time")));
    const json_t *im = json_object_get(p, "image");
    CHECK(json_is_integer(json_object_get(im, "width")));
    CHECK(json_is_integer(json_object_get(im, "height")));
    int iw = (int)json_integer_value(json_object_get(im, "width"));
    int ih = (int)json_integer_value(json_object_get(im, "height"));
    CHECK_MSG((iw == w && ih == h) || (iw == h && ih == w), "image %dx%d vs %dx%d", iw, ih, w, h);
    const json_t *preds = json_object_get(p, "predictions");
    CHECK(json_is_object(preds) && (int)json_object_size(preds) == n_classes);
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)preds, name, v)
    {
        CHECK(json_is_number(json_object_get(v, "confidence")));
        CHECK(json_is_integer(json_object_get(v, "class_id")));
    }
    CHECK(json_is_array(json_object_get(p, "predicted_classes")));
}

/* A batch whose images are each within max_image_pixels but together
 * decode to more than four times it is refused with 413, not held in memory;
 * one image of the same kind is answered. */
static void test_request_pixel_budget(void)
{
    if (!have_demo) return;
    mlc_image *img = NULL;
    mlc_error e;
    CHECK_OK(mlc_image_load(MLC_INPUT_PATH, test_path(sample_rel), 0, NULL, &img, &e), &e);
    if (!img) return;
    uint64_t px = (uint64_t)mlc_image_width(img) * (uint64_t)mlc_image_height(img);
    mlc_image_free(img);
    mlc_model_options mo = model_opt;
    mo.limits.max_image_pixels = px + 1; /* budget: 4 images' worth */
    mlc_server_options o;
    mlc_server_options_default(&o);
    o.port = 0;
    o.threads = 1;
    o.model_options = &mo;
    mlc_server *s = NULL;
    CHECK_OK(mlc_server_start(&o, &s, &e), &e);
    if (!s) return;
    char *b64 = b64_file(sample_rel);
    struct core_buf b;
    core_buf_init(&b, 0);
    CHECK(b64 != NULL);
    for (int n = 1; b64 && n <= 5; n += 4) {
        b.len = 0;
        core_buf_printf(&b, "{\"model_id\": \"demo/1\", \"api_key\": \"KEY\", \"image\": [");
        for (int i = 0; i < n; i++)
            core_buf_printf(&b, "%s{\"type\": \"base64\", \"value\": \"%s\"}", i ? "," : "", b64);
        core_buf_printf(&b, "]}");
        struct resp r =
            http_at(mlc_server_port(s), "POST", "/infer/classification", NULL, b.data, NULL);
        if (n == 1)
            CHECK_MSG(r.status == 200, "one image: %ld %s", r.status, r.body ? r.body : "");
        else
            CHECK_MSG(r.status == 413 && r.body && strstr(r.body, "pixels"), "%d images: %ld %s", n,
                      r.status, r.body ? r.body : "");
        resp_free(&r);
    }
    core_buf_free(&b);
    mlc_free(b64);
    mlc_server_free(s);
}

static void test_sdk_flow(void)
{
    if (!have_demo) return;
    char *b64 = b64_file(sample_rel);
    CHECK(b64 != NULL);
    if (!b64) return;
    mlc_image *img = NULL;
    mlc_error e;
    CHECK_OK(mlc_image_load(MLC_INPUT_PATH, test_path(sample_rel), 0, NULL, &img, &e), &e);
    int w = img ? mlc_image_width(img) : 0, h = img ? mlc_image_height(img) : 0;

    /* 1. registry (api key in the query), empty */
    struct resp r = http("GET", "/model/registry?api_key=KEY", NULL);
    CHECK(r.status == 200);
    json_t *j = parse(&r);
    CHECK(j && json_is_array(json_object_get(j, "models")));
    json_decref(j);
    resp_free(&r);

    /* 2. model/add */
    r = http("POST", "/model/add", "{\"model_id\": \"demo/1\", \"api_key\": \"KEY\"}");
    CHECK_MSG(r.status == 200, "%ld %s", r.status, r.body);
    j = parse(&r);
    json_t *m0 = json_array_get(json_object_get(j, "models"), 0);
    CHECK(m0 && !strcmp(json_string_value(json_object_get(m0, "model_id")), "demo/1"));
    CHECK(m0 && !strcmp(json_string_value(json_object_get(m0, "task_type")), "classification"));
    CHECK(m0 && json_integer_value(json_object_get(m0, "input_height")) == in_h);
    CHECK(m0 && json_integer_value(json_object_get(m0, "input_width")) == in_w);
    CHECK(m0 && json_object_get(m0, "batch_size"));
    json_decref(j);
    resp_free(&r);

    /* 3. infer/classification exactly as inference_sdk's v1 client posts it */
    size_t bn = strlen(b64) + 1024;
    char *body = mlc_alloc(bn);
    snprintf(body, bn,
             "{\"api_key\": \"KEY\", \"model_id\": \"demo/1\", \"image\": {\"type\": \"base64\", "
             "\"value\": \"%s\"}, \"confidence\": 0.5, \"disable_active_learning\": false, "
             "\"visualize_predictions\": false}",
             b64);
    r = http("POST", "/infer/classification", body);
    CHECK_MSG(r.status == 200, "%ld %s", r.status, r.body);
    j = parse(&r);
    check_prediction_shape(j, w, h);
    /* same numbers as the library gives directly */
    mlc_model *m = NULL;
    mlc_session *s = NULL;
    mlc_result *res = NULL;
    char *direct = NULL;
    CHECK_OK(mlc_model_load(test_path(model_rel), NULL, &m, &e), &e);
    if (m && !mlc_session_create(m, &s, &e) &&
        !mlc_classify(s, (const mlc_image *const *)&img, 1, mlc_confidence_value(0.5), &res, &e) &&
        !mlc_result_to_json(res, 0, &direct, &e)) {
        json_t *dj = json_loads(direct, 0, NULL);
        const char *name;
        json_t *v;
        json_object_foreach(json_object_get(dj, "predictions"), name, v)
        {
            json_t *got = json_object_get(json_object_get(j, "predictions"), name);
            CHECK_NEAR(json_number_value(json_object_get(got, "confidence")),
                       json_number_value(json_object_get(v, "confidence")), 1e-6);
            CHECK(json_integer_value(json_object_get(got, "class_id")) ==
                  json_integer_value(json_object_get(v, "class_id")));
        }
        CHECK(json_equal(json_object_get(dj, "predicted_classes"),
                         json_object_get(j, "predicted_classes")));
        json_decref(dj);
    }
    json_t *classes_at_05 = json_deep_copy(json_object_get(j, "predicted_classes"));
    mlc_free(direct);
    mlc_result_free(res);
    mlc_session_free(s);
    mlc_model_free(m);
    json_decref(j);
    resp_free(&r);

    /* 4. a list of two answers a list of two */
    snprintf(body, bn,
             "{\"model_id\": \"demo/1\", \"image\": [{\"type\": \"base64\", \"value\": \"%s\"}, "
             "{\"type\": \"base64\", \"value\": \"%s\"}], \"confidence\": \"best\"}",
             b64, b64);
    /* the buffer holds one image; build the pair separately */
    mlc_free(body);
    bn = 2 * strlen(b64) + 1024;
    body = mlc_alloc(bn);
    snprintf(body, bn,
             "{\"model_id\": \"demo/1\", \"image\": [{\"type\": \"base64\", \"value\": \"%s\"}, "
             "{\"type\": \"base64\", \"value\": \"%s\"}], \"confidence\": \"best\"}",
             b64, b64);
    r = http_at(port, "POST", "/infer/classification", NULL, body, "Authorization: Bearer KEY");
    CHECK_MSG(r.status == 200, "%ld %s", r.status, r.body);
    j = parse(&r);
    CHECK(json_is_array(j) && json_array_size(j) == 2);
    check_prediction_shape(json_array_get(j, 1), w, h);
    json_decref(j);
    resp_free(&r);

    /* 5. inference_sdk v0: POST /demo/1?api_key=..&confidence=.. with base64 body */
    r = http_at(port, "POST", "/demo/1?api_key=KEY&confidence=0.5",
                "application/x-www-form-urlencoded", b64, NULL);
    CHECK_MSG(r.status == 200, "%ld %.300s", r.status, r.body);
    j = parse(&r);
    check_prediction_shape(j, w, h);
    json_decref(j);
    resp_free(&r);

    /* 6. errors after the model is there */
    r = http("POST", "/infer/classification",
             "{\"model_id\": \"demo/1\", \"image\": {\"type\": \"base64\", \"value\": "
             "\"bm90IGFuIGltYWdl\"}}");
    CHECK(r.status == 400);
    CHECK(r.body && strstr(r.body, "Could not load input image"));
    resp_free(&r);
    char url_body[256];
    snprintf(url_body, sizeof url_body,
             "{\"model_id\": \"demo/1\", \"image\": {\"type\": \"url\", \"value\": "
             "\"http://127.0.0.1:%d/healthz\"}}",
             port);
    r = http("POST", "/infer/classification", url_body);
    CHECK(r.status == 400); /* loopback refused: allow_private_urls is off */
    CHECK(r.body && strstr(r.body, "Could not load input image"));
    resp_free(&r);
    r = http("POST", "/infer/classification",
             "{\"model_id\": \"demo/1\", \"image\": {\"type\": \"url\", \"value\": "
             "\"file:///etc/passwd\"}}");
    CHECK(r.status == 400);
    resp_free(&r);
    r = http("POST", "/infer/classification",
             "{\"model_id\": \"nope/7\", \"image\": {\"type\": \"base64\", \"value\": \"x\"}}");
    CHECK_MSG(r.status == 404, "%ld %s", r.status, r.body);
    resp_free(&r);

    /* 7. workflow run exactly as run_workflow posts it */
    bn = strlen(b64) + strlen(spec_json) + 1024;
    mlc_free(body);
    body = mlc_alloc(bn);
    snprintf(body, bn,
             "{\"api_key\": \"KEY\", \"use_cache\": true, \"enable_profiling\": false, "
             "\"inputs\": {\"image\": {\"type\": \"base64\", \"value\": \"%s\"}, \"confidence\": "
             "0.5}, \"specification\": %s}",
             b64, spec_json);
    r = http("POST", "/workflows/run", body);
    CHECK_MSG(r.status == 200, "%ld %.500s", r.status, r.body);
    j = parse(&r);
    json_t *outs = json_object_get(j, "outputs");
    CHECK(json_is_array(outs) && json_array_size(outs) == 1);
    json_t *p = json_object_get(json_array_get(outs, 0), "predictions");
    check_prediction_shape(p, w, h);
    CHECK(json_is_string(json_object_get(p, "prediction_type")));
    CHECK(json_is_string(json_object_get(json_array_get(outs, 0), "model_id")));
    /* the block at custom_confidence 0.5 agrees with /infer/classification at 0.5 */
    CHECK(json_equal(json_object_get(p, "predicted_classes"), classes_at_05));
    json_decref(classes_at_05);
    json_decref(j);
    resp_free(&r);

    /* excluded_fields, legacy alias, list input */
    bn = 2 * strlen(b64) + strlen(spec_json) + 1024;
    mlc_free(body);
    body = mlc_alloc(bn);
    snprintf(body, bn,
             "{\"inputs\": {\"image\": [{\"type\": \"base64\", \"value\": \"%s\"}, {\"type\": "
             "\"base64\", \"value\": \"%s\"}]}, \"excluded_fields\": [\"model_id\"], "
             "\"specification\": %s}",
             b64, b64, spec_json);
    r = http("POST", "/infer/workflows", body);
    CHECK_MSG(r.status == 200, "%ld %.500s", r.status, r.body);
    j = parse(&r);
    outs = json_object_get(j, "outputs");
    CHECK(json_is_array(outs) && json_array_size(outs) == 2);
    CHECK(json_object_get(json_array_get(outs, 1), "predictions") != NULL);
    CHECK(json_object_get(json_array_get(outs, 1), "model_id") == NULL);
    json_decref(j);
    resp_free(&r);

    /* 8. model/remove and clear */
    r = http("POST", "/model/remove", "{\"model_id\": \"demo/1\"}");
    CHECK(r.status == 200);
    j = parse(&r);
    CHECK(j && json_array_size(json_object_get(j, "models")) == 0);
    json_decref(j);
    resp_free(&r);
    r = http("POST", "/model/clear", NULL);
    CHECK(r.status == 200);
    resp_free(&r);

    mlc_free(body);
    mlc_free(b64);
    mlc_image_free(img);
}

static void test_workflow_errors(void)
{
    /* validate: ok, and a bad reference -> Roboflow's compilation error body */
    struct resp r = http("POST", "/workflows/validate", spec_json);
    if (have_demo) CHECK_MSG(r.status == 200, "%ld %.300s", r.status, r.body);
    resp_free(&r);
    r = http("POST", "/workflows/validate",
             "{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", \"name\": "
             "\"image\"}], \"steps\": [{\"type\": "
             "\"roboflow_core/roboflow_multi_label_classification_model@v3\", \"name\": \"ml\", "
             "\"images\": \"$inputs.nope\", \"model_id\": \"demo/1\"}], \"outputs\": []}");
    CHECK_MSG(r.status == 400, "%ld %.300s", r.status, r.body);
    json_t *j = parse(&r);
    CHECK(j && json_is_string(json_object_get(j, "message")));
    CHECK(j && json_object_get(j, "error_type"));
    CHECK(j && json_object_get(j, "context"));
    CHECK(j && json_object_get(j, "inner_error_type"));
    CHECK(j && json_object_get(j, "blocks_errors"));
    json_decref(j);
    resp_free(&r);

    r = http("GET", "/workflows/blocks/describe", NULL);
    CHECK_MSG(r.status == 200, "%ld", r.status);
    j = parse(&r);
    CHECK(j && json_is_array(json_object_get(j, "blocks")));
    json_decref(j);
    resp_free(&r);
    r = http("POST", "/workflows/blocks/describe", "{}");
    CHECK(r.status == 200);
    resp_free(&r);
}

static void test_api_keys(void)
{
    mlc_server *s = start(1, 4, "k1, k2", 0);
    if (!s) return;
    int p = mlc_server_port(s);
    struct resp r = http_at(p, "GET", "/model/registry", NULL, NULL, NULL);
    CHECK(r.status == 401);
    CHECK(r.body && strstr(r.body, "message"));
    resp_free(&r);
    r = http_at(p, "GET", "/model/registry?api_key=k1", NULL, NULL, NULL);
    CHECK(r.status == 200);
    resp_free(&r);
    r = http_at(p, "GET", "/model/registry", NULL, NULL, "Authorization: Bearer k2");
    CHECK(r.status == 200);
    resp_free(&r);
    r = http_at(p, "GET", "/model/registry?api_key=k3", NULL, NULL, NULL);
    CHECK(r.status == 401);
    resp_free(&r);
    r = http_at(p, "POST", "/model/add", NULL, "{\"model_id\": \"demo/1\", \"api_key\": \"bad\"}",
                NULL);
    CHECK(r.status == 401);
    resp_free(&r);
    r = http_at(p, "GET", "/healthz", NULL, NULL, NULL); /* open */
    CHECK(r.status == 200);
    resp_free(&r);
    mlc_server_free(s);
}

struct bg_req {
    int port;
    const char *path, *body;
    struct resp r;
};

static void *bg_main(void *arg)
{
    struct bg_req *b = arg;
    b->r = http_at(b->port, "POST", b->path, NULL, b->body, NULL);
    return NULL;
}

/* One worker, queue of 1: a third concurrent slow request gets 503 with
 * Retry-After. The slow requests are model downloads from the black hole. */
static void test_queue_full_and_shutdown(void)
{
    mlc_model_options mo = model_opt;
    char api[64];
    snprintf(api, sizeof api, "http://127.0.0.1:%d", hole_port);
    mo.api_url = api;
    mo.offline = 0;
    mo.limits.url_timeout_ms = 4000; /* long enough for all 4 requests to arrive */
    mlc_server_options o;
    mlc_server_options_default(&o);
    o.port = 0;
    o.threads = 1;
    o.queue_depth = 1;
    o.request_timeout_ms = 20000;
    o.model_options = &mo;
    mlc_server *s = NULL;
    mlc_error e;
    CHECK_OK(mlc_server_start(&o, &s, &e), &e);
    if (!s) return;
    int p = mlc_server_port(s);
    enum { N = 4 };
    struct bg_req reqs[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        reqs[i].port = p;
        reqs[i].path = "/model/add";
        reqs[i].body = "{\"model_id\": \"slow/1\", \"api_key\": \"KEY\"}";
        memset(&reqs[i].r, 0, sizeof reqs[i].r);
        pthread_create(&t[i], NULL, bg_main, &reqs[i]);
    }
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    int busy = 0;
    for (int i = 0; i < N; i++) {
        struct resp *r = &reqs[i].r;
        CHECK_MSG(r->status >= 400, "request %d: %ld", i, r->status);
        if (r->status == 503 && r->body && strstr(r->body, "queue is full")) {
            busy++;
            CHECK(!strcmp(r->retry_after, "1"));
        }
        resp_free(r);
    }
    CHECK_MSG(busy >= 1, "no 503 among %d concurrent requests with 1 worker + queue 1", N);
    struct resp r = http_at(p, "GET", "/metrics", NULL, NULL, NULL);
    CHECK(r.body && strstr(r.body, "mlc_http_rejected_busy_total") &&
          !strstr(r.body, "mlc_http_rejected_busy_total 0"));
    resp_free(&r);

    /* graceful shutdown: a request in flight still gets its answer */
    struct bg_req inflight = {
        p, "/model/add", "{\"model_id\": \"slow/2\", \"api_key\": \"KEY\"}", {0}};
    pthread_create(&t[0], NULL, bg_main, &inflight);
    /* wait until it is running (busy worker visible in metrics) */
    for (int i = 0; i < 200; i++) {
        r = http_at(p, "GET", "/metrics", NULL, NULL, NULL);
        int running = r.body && strstr(r.body, "mlc_workers_busy 1");
        resp_free(&r);
        if (running) break;
        usleep(20000);
    }
    mlc_server_free(s);
    pthread_join(t[0], NULL);
    CHECK_MSG(inflight.r.status != 0, "in-flight request lost at shutdown (curl %d)",
              inflight.r.curl_rc);
    resp_free(&inflight.r);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    setup_cache();
    hole_start();
    mlc_model_options_default(&model_opt);
    model_opt.cache_dir = cache_dir;
    model_opt.offline = 1;
    model_opt.threads = 1;

    mlc_server *s = start(2, 8, NULL, 0);
    if (!s) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    port = mlc_server_port(s);
    CHECK(port > 0);
    TEST_RUN(test_info_health_metrics);
    TEST_RUN(test_bad_requests);
    TEST_RUN(test_hostile);
    TEST_RUN(test_sdk_flow);
    TEST_RUN(test_request_pixel_budget);
    TEST_RUN(test_workflow_errors);
    mlc_server_free(s);
    TEST_RUN(test_api_keys);
    TEST_RUN(test_queue_full_and_shutdown);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache_dir);
    if (system(cmd)) fprintf(stderr, "note: could not remove %s\n", cache_dir);
    pthread_mutex_lock(&hole_mu);
    for (int i = 0; i < hole_n; i++) close(hole_conns[i]);
    pthread_mutex_unlock(&hole_mu);
    curl_global_cleanup();
    TEST_DONE();
}
