/*
 * server.c - the HTTP front end: a libmicrohttpd daemon with one internal
 * epoll thread doing all socket I/O, and a fixed pool of worker threads fed
 * by a bounded queue.
 *
 * Why this shape (and not MHD's thread pool): inference is CPU-bound and
 * takes milliseconds to seconds. In MHD's thread-per-connection or pooled
 * modes that work would run on the threads that also read sockets, so slow
 * clients and heavy requests would compete for the same threads and there
 * would be no place to say "busy". Here the I/O thread only parses headers,
 * reads bodies (under size and time caps) and answers cheap GETs; a request
 * that needs a model or a workflow is suspended (MHD_suspend_connection),
 * put on the queue, run by a worker, and resumed with its response. A full
 * queue is answered at once with 503 and Retry-After. Workers take
 * mlc_sessions from the model registry's per-model pool, so each worker uses
 * one session per model at a time.
 *
 * libmicrohttpd is loaded by the first mlc_server_start (mhd_lib.h), not at
 * process start-up; every MHD call goes through s->mh.
 *
 * What it does not do: TLS (put nginx in front: deploy/nginx-mlc.conf),
 * HTTP/2, chunked responses.
 *
 * Invariants: a srv_conn is created on the first callback of a request and
 * freed in the completion callback; between the two it is either receiving
 * (I/O thread only), queued/running (worker only, connection suspended) or
 * done (I/O thread only). Only MHD_resume_connection is called off the I/O
 * thread. Shutdown: stop accepting (quiesce), finish every queued request,
 * wait for in-flight responses to be sent, then stop the daemon.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/mhd_lib.h"
#include "server/server.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void mlc_server_options_default(mlc_server_options *out)
{
    memset(out, 0, sizeof *out);
    out->host = "127.0.0.1";
    out->port = 9001;
    out->threads = 0;
    out->queue_depth = 64;
    out->max_body_bytes = (size_t)64 << 20;
    out->request_timeout_ms = 30000;
}

/* ---- responses ---------------------------------------------------------- */

void srv_respond(struct srv_conn *c, int status, char *body, size_t n, const char *type)
{
    mlc_free(c->resp);
    c->status = status;
    c->resp = body;
    c->resp_len = n;
    c->resp_type = type;
}

void srv_respond_json(struct srv_conn *c, int status, json_t *doc)
{
    size_t n = 0;
    char *text = doc ? srv_json_dump(doc, &n) : NULL;
    json_decref(doc);
    if (!text) {
        static const char oom[] = "{\"message\":\"Internal error: out of memory\"}";
        text = core_strdup(oom);
        n = text ? sizeof oom - 1 : 0;
        status = 500;
    }
    srv_respond(c, status, text, n, "application/json");
}

void srv_respond_message(struct srv_conn *c, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    srv_respond_json(c, status, json_pack("{s:s}", "message", msg));
}

static void free_resp(void *p)
{
    mlc_free(p);
}

/* Hands c's response to MHD (ownership of the body moves to MHD). */
static enum MHD_Result send_response(struct mlc_server *s, struct srv_conn *c)
{
    if (!c->resp) srv_respond_message(c, 500, "Internal error: no response produced");
    struct MHD_Response *r = NULL;
    if (c->resp)
        r = s->mh->create_response_from_buffer_with_free_callback(c->resp_len, c->resp, free_resp);
    if (!r) return MHD_NO;
    c->resp = NULL;
    s->mh->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                               c->resp_type ? c->resp_type : "application/json");
    if (c->retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", c->retry_after);
        s->mh->add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    enum MHD_Result ok = s->mh->queue_response(c->mhd, (unsigned)c->status, r);
    s->mh->destroy_response(r);
    srv_metrics_observe(&s->metrics, c->route, c->status, now_s() - c->t_start);
    return ok;
}

/* ---- routing ------------------------------------------------------------ */

struct route_def {
    const char *path;
    enum srv_route route;
    unsigned methods; /* 1 GET, 2 POST */
    int inline_ok;    /* answered on the I/O thread */
};

static const struct route_def routes[] = {
    {"/workflows/run", SRV_ROUTE_WORKFLOWS_RUN, 2, 0},
    {"/infer/workflows", SRV_ROUTE_WORKFLOWS_RUN, 2, 0},
    {"/workflows/validate", SRV_ROUTE_WORKFLOWS_VALIDATE, 2, 0},
    {"/workflows/blocks/describe", SRV_ROUTE_BLOCKS_DESCRIBE, 3, 1},
    {"/workflows/execution_engine/versions", SRV_ROUTE_EE_VERSIONS, 1, 1},
    {"/infer/classification", SRV_ROUTE_INFER_CLASSIFICATION, 2, 0},
    {"/model/add", SRV_ROUTE_MODEL_ADD, 2, 0},
    {"/model/remove", SRV_ROUTE_MODEL_REMOVE, 2, 0},
    {"/model/clear", SRV_ROUTE_MODEL_CLEAR, 2, 0},
    {"/model/registry", SRV_ROUTE_MODEL_REGISTRY, 1, 1},
    {"/info", SRV_ROUTE_INFO, 1, 1},
    {"/healthz", SRV_ROUTE_HEALTHZ, 1, 1},
    {"/readiness", SRV_ROUTE_READINESS, 1, 1},
    {"/metrics", SRV_ROUTE_METRICS, 1, 1},
};

/* "/a/b" with two plain segments that are not one of the API prefixes. */
static int is_legacy_path(const char *url)
{
    if (url[0] != '/') return 0;
    const char *a = url + 1, *slash = strchr(a, '/');
    if (!slash || slash == a || !slash[1] || strchr(slash + 1, '/')) return 0;
    static const char *const reserved[] = {"model", "workflows", "infer", "metrics", "info"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if ((size_t)(slash - a) == strlen(reserved[i]) && !strncmp(a, reserved[i], slash - a))
            return 0;
    return 1;
}

static char *dup_value(const struct srv_mhd *mh, struct MHD_Connection *mc, enum MHD_ValueKind kind,
                       const char *key)
{
    const char *v = mh->lookup_connection_value(mc, kind, key);
    return v ? core_strdup(v) : NULL;
}

static void conn_free(struct srv_conn *c)
{
    if (!c) return;
    mlc_free(c->path);
    mlc_free(c->q_api_key);
    mlc_free(c->q_confidence);
    mlc_free(c->q_image);
    mlc_free(c->bearer);
    core_buf_free(&c->body);
    mlc_free(c->resp);
    mlc_free(c);
}

static int json_content_type(const struct srv_mhd *mh, struct MHD_Connection *mc)
{
    const char *ct = mh->lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Type");
    if (!ct) return 0;
    return strncasecmp(ct, "application/json", 16) == 0 || strstr(ct, "+json") != NULL;
}

/* Queues c for a worker. Returns 0, or -1 when the queue is full/stopping. */
static int enqueue(struct mlc_server *s, struct srv_conn *c)
{
    pthread_mutex_lock(&s->mu);
    if (s->stopping || s->queued >= s->opt.queue_depth) {
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    /* Suspend before a worker can see it, so its resume never comes first. */
    c->state = SRV_QUEUED;
    s->mh->suspend_connection(c->mhd);
    c->next = NULL;
    if (s->tail)
        s->tail->next = c;
    else
        s->head = c;
    s->tail = c;
    s->queued++;
    pthread_cond_signal(&s->cv_work);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct mlc_server *s = cls;
    struct srv_conn *c = *con_cls;
    (void)version;

    if (!c) {
        /* First call: headers are complete, no body yet. */
        c = mlc_calloc(1, sizeof *c);
        if (!c) return MHD_NO;
        c->mhd = mc;
        c->t_start = now_s();
        c->deadline = c->t_start + s->opt.request_timeout_ms / 1000.0;
        core_buf_init(&c->body, s->opt.max_body_bytes);
        *con_cls = c;
        pthread_mutex_lock(&s->mu);
        s->in_flight++;
        pthread_mutex_unlock(&s->mu);

        int is_get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, "HEAD");
        c->is_post = !strcmp(method, MHD_HTTP_METHOD_POST);
        const struct route_def *rd = NULL;
        for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
            if (!strcmp(url, routes[i].path)) rd = &routes[i];
        c->path = core_strdup(url);
        c->q_api_key = dup_value(s->mh, mc, MHD_GET_ARGUMENT_KIND, "api_key");
        c->q_confidence = dup_value(s->mh, mc, MHD_GET_ARGUMENT_KIND, "confidence");
        c->q_image = dup_value(s->mh, mc, MHD_GET_ARGUMENT_KIND, "image");
        const char *auth = s->mh->lookup_connection_value(mc, MHD_HEADER_KIND, "Authorization");
        if (auth && !strncasecmp(auth, "Bearer ", 7)) {
            const char *k = auth + 7;
            while (*k == ' ') k++;
            if (*k) c->bearer = core_strdup(k);
        }
        if (!c->path) {
            srv_respond_message(c, 500, "Internal error: out of memory");
            c->state = SRV_DONE;
            return send_response(s, c);
        }
        if (rd) {
            c->route = rd->route;
            if (!((is_get && (rd->methods & 1)) || (c->is_post && (rd->methods & 2)))) {
                srv_respond_message(c, 405, "Method %s not allowed on %s", method, url);
                c->state = SRV_DONE;
                return send_response(s, c);
            }
        } else if (c->is_post && is_legacy_path(url)) {
            c->route = SRV_ROUTE_LEGACY_INFER;
        } else {
            srv_respond_json(
                c, 404, json_pack("{s:s, s:s}", "message", "Not Found", "detail", "Not Found"));
            c->state = SRV_DONE;
            return send_response(s, c);
        }
        const char *cl = s->mh->lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end = NULL;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || end == cl || n > s->opt.max_body_bytes) {
                srv_respond_message(c, 413, "Request body of %s bytes exceeds the limit of %zu", cl,
                                    s->opt.max_body_bytes);
                c->state = SRV_DONE;
                return send_response(s, c);
            }
        }
        if (c->is_post && c->route != SRV_ROUTE_LEGACY_INFER &&
            c->route != SRV_ROUTE_BLOCKS_DESCRIBE && c->route != SRV_ROUTE_MODEL_CLEAR &&
            !json_content_type(s->mh, mc)) {
            srv_respond_message(c, 400,
                                "Missing or invalid Content-Type: this endpoint takes "
                                "application/json");
            c->state = SRV_DONE;
            return send_response(s, c);
        }
        return MHD_YES;
    }

    if (c->state == SRV_RECEIVING && *upload_data_size > 0) {
        /* Bodies larger than the cap without a Content-Length (chunked), or
         * senders slower than the request timeout, are dropped: answering
         * would first require reading everything they send. */
        if (core_buf_append(&c->body, upload_data, *upload_data_size) != MLC_OK ||
            now_s() > c->deadline) {
            __atomic_fetch_add(&s->metrics.dropped, 1, __ATOMIC_RELAXED);
            return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0; /* body of a request already answered: discard */
        return MHD_YES;
    }

    if (c->state == SRV_RECEIVING) {
        const struct route_def *rd = NULL;
        for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
            if (routes[i].route == c->route) rd = &routes[i];
        if (rd && rd->inline_ok) {
            srv_dispatch_inline(s, c);
            c->state = SRV_DONE;
        } else if (enqueue(s, c) != 0) {
            int stopping;
            pthread_mutex_lock(&s->mu);
            stopping = s->stopping;
            pthread_mutex_unlock(&s->mu);
            if (!stopping) __atomic_fetch_add(&s->metrics.rejected_busy, 1, __ATOMIC_RELAXED);
            srv_respond_message(c, 503,
                                stopping ? "Server is shutting down; retry on another instance"
                                         : "Server busy: the request queue is full; retry later");
            c->retry_after = 1;
            c->state = SRV_DONE;
        } else {
            return MHD_YES; /* suspended; resumed by the worker */
        }
    }
    if (c->state == SRV_DONE) return send_response(s, c);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct mlc_server *s = cls;
    struct srv_conn *c = *con_cls;
    (void)mc;
    if (!c) return;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && c->state != SRV_DONE)
        __atomic_fetch_add(&s->metrics.dropped, 1, __ATOMIC_RELAXED);
    *con_cls = NULL;
    conn_free(c);
    pthread_mutex_lock(&s->mu);
    s->in_flight--;
    pthread_cond_broadcast(&s->cv_idle);
    pthread_mutex_unlock(&s->mu);
}

/* ---- workers ------------------------------------------------------------ */

static void *worker_main(void *arg)
{
    struct mlc_server *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->head && !s->stopping) pthread_cond_wait(&s->cv_work, &s->mu);
        struct srv_conn *c = s->head;
        if (!c) {
            pthread_mutex_unlock(&s->mu);
            break; /* stopping and nothing left */
        }
        s->head = c->next;
        if (!s->head) s->tail = NULL;
        s->queued--;
        s->busy++;
        pthread_mutex_unlock(&s->mu);

        if (now_s() > c->deadline) {
            __atomic_fetch_add(&s->metrics.timeouts, 1, __ATOMIC_RELAXED);
            srv_respond_message(c, 503, "Request timed out waiting for a worker; retry later");
            c->retry_after = 1;
        } else {
            srv_dispatch(s, c);
        }
        c->state = SRV_DONE;
        s->mh->resume_connection(c->mhd);

        pthread_mutex_lock(&s->mu);
        s->busy--;
        pthread_cond_broadcast(&s->cv_idle);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------- */

static int n_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static mlc_status split_keys(struct mlc_server *s, const char *list, mlc_error *err)
{
    if (!list || !*list) return MLC_OK;
    int n = 1;
    for (const char *p = list; *p; p++) n += *p == ',';
    s->allow = mlc_calloc((size_t)n, sizeof(char *));
    if (!s->allow) return core_err(err, MLC_STATUS_NO_MEMORY, "api key list: out of memory");
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && *p == ' ') p++, len--;
        while (len && p[len - 1] == ' ') len--;
        if (len) {
            char *k = mlc_alloc(len + 1);
            if (!k) return core_err(err, MLC_STATUS_NO_MEMORY, "api key list: out of memory");
            memcpy(k, p, len);
            k[len] = '\0';
            s->allow[s->n_allow++] = k;
        }
        if (!e) break;
        p = e + 1;
    }
    if (s->n_allow == 0)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                        "api_keys_allow: '%s' names no key (comma-separated list)", list);
    return MLC_OK;
}

static void make_uuid(char out[37])
{
    unsigned char r[16] = {0};
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(r, 1, sizeof r, f) != sizeof r) {
        unsigned long long t = (unsigned long long)(now_s() * 1e9) ^ (unsigned long long)getpid();
        for (int i = 0; i < 16; i++) r[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)i;
    }
    if (f) fclose(f);
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

static void server_destroy(mlc_server *s)
{
    if (!s) return;
    if (s->workers) {
        pthread_mutex_lock(&s->mu);
        s->stopping = 1;
        pthread_cond_broadcast(&s->cv_work);
        pthread_mutex_unlock(&s->mu);
        for (int i = 0; i < s->n_workers; i++) pthread_join(s->workers[i], NULL);
        mlc_free(s->workers);
    }
    if (s->daemon) s->mh->stop_daemon(s->daemon);
    srv_registry_destroy(&s->registry);
    srv_wf_cache_free(s->wf_cache);
    for (int i = 0; i < s->n_allow; i++) mlc_free(s->allow[i]);
    mlc_free(s->allow);
    mlc_free(s->host);
    mlc_free(s->describe_json);
    pthread_cond_destroy(&s->cv_work);
    pthread_cond_destroy(&s->cv_idle);
    pthread_mutex_destroy(&s->mu);
    mlc_free(s);
}

mlc_status mlc_server_start(const mlc_server_options *opt, mlc_server **srv_out, mlc_error *err)
{
    mlc_status st = MLC_OK;
    mlc_server *s = NULL;
    const struct srv_mhd *mh = NULL;
    struct addrinfo *ai = NULL;
    mlc_server_options def;
    mlc_server_options_default(&def);
    if (!opt) opt = &def;
    if (!srv_out)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "mlc_server_start: srv_out is NULL");
    if (opt->port < 0 || opt->port > 65535)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "server port %d is outside 0..65535",
                        opt->port);
    if (opt->threads < 0 || opt->threads > 1024 || opt->queue_depth < 0 ||
        opt->queue_depth > 1000000 || opt->request_timeout_ms < 0)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                        "server options: threads %d, queue_depth %d or request_timeout_ms %d out "
                        "of range",
                        opt->threads, opt->queue_depth, opt->request_timeout_ms);
    if ((st = srv_mhd(&mh, err))) return st;
    s = mlc_calloc(1, sizeof *s);
    if (!s) return core_err(err, MLC_STATUS_NO_MEMORY, "server: out of memory");
    s->mh = mh;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv_work, NULL);
    pthread_cond_init(&s->cv_idle, NULL);
    s->opt = *opt;
    if (!s->opt.host || !*s->opt.host) s->opt.host = def.host;
    if (!s->opt.max_body_bytes) s->opt.max_body_bytes = def.max_body_bytes;
    if (!s->opt.request_timeout_ms) s->opt.request_timeout_ms = def.request_timeout_ms;
    if (!s->opt.queue_depth) s->opt.queue_depth = def.queue_depth;
    s->n_workers = s->opt.threads > 0 ? s->opt.threads : n_cores();
    s->opt.threads = s->n_workers;
    s->host = core_strdup(s->opt.host);
    s->opt.host = s->host;
    s->opt.api_keys_allow = NULL; /* not kept: split below */
    make_uuid(s->uuid);

    if (opt->model_options)
        s->model_opt = *opt->model_options;
    else
        mlc_model_options_default(&s->model_opt);
    /* N workers each running a session with all cores would oversubscribe. */
    if (!opt->model_options || s->model_opt.threads == 0) {
        int t = n_cores() / s->n_workers;
        s->model_opt.threads = t > 0 ? t : 1;
    }
    mlc_limits_default(&s->limits);
    const mlc_limits *ul = &s->model_opt.limits;
    if (ul->max_input_bytes) s->limits.max_input_bytes = ul->max_input_bytes;
    if (ul->max_image_pixels) s->limits.max_image_pixels = ul->max_image_pixels;
    if (ul->max_url_bytes) s->limits.max_url_bytes = ul->max_url_bytes;
    if (ul->url_timeout_ms) s->limits.url_timeout_ms = ul->url_timeout_ms;
    if (ul->max_json_depth) s->limits.max_json_depth = ul->max_json_depth;
    if (ul->max_batch) s->limits.max_batch = ul->max_batch;
    if (s->limits.max_input_bytes > s->opt.max_body_bytes)
        s->limits.max_input_bytes = s->opt.max_body_bytes;
    s->model_opt.limits = s->limits;
    s->opt.model_options = &s->model_opt;

    if (!s->host) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "server: out of memory");
        goto fail;
    }
    if ((st = split_keys(s, opt->api_keys_allow, err))) goto fail;
    srv_registry_init(&s->registry, &s->model_opt, 8, s->n_workers);
    s->wf_cache = srv_wf_cache_create(16);
    if (!s->wf_cache) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "server: out of memory");
        goto fail;
    }

    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char port[16];
    snprintf(port, sizeof port, "%d", s->opt.port);
    int gai = getaddrinfo(s->host, port, &hints, &ai);
    if (gai) {
        st = core_err(err, MLC_STATUS_INVALID_ARGUMENT, "server host '%s': %s", s->host,
                      gai_strerror(gai));
        goto fail;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    unsigned timeout_s = (unsigned)((s->opt.request_timeout_ms + 999) / 1000);
    if (timeout_s == 0) timeout_s = 1;
    s->daemon = mh->start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)64 * 1024, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    if (!s->daemon) {
        st = core_err(err, MLC_STATUS_IO, "server: cannot listen on %s:%d (%s)", s->host,
                      s->opt.port, errno ? strerror(errno) : "libmicrohttpd refused");
        goto fail;
    }
    const union MHD_DaemonInfo *di = mh->get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : s->opt.port;

    s->workers = mlc_calloc((size_t)s->n_workers, sizeof(pthread_t));
    if (!s->workers) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "server: out of memory");
        goto fail;
    }
    for (int i = 0; i < s->n_workers; i++) {
        if (pthread_create(&s->workers[i], NULL, worker_main, s)) {
            s->n_workers = i;
            st = core_err(err, MLC_STATUS_NO_MEMORY, "server: cannot start worker thread %d", i);
            goto fail;
        }
    }
    freeaddrinfo(ai);
    *srv_out = s;
    return MLC_OK;
fail:
    if (ai) freeaddrinfo(ai);
    server_destroy(s);
    return st;
}

int mlc_server_port(const mlc_server *srv)
{
    return srv ? srv->port : 0;
}

void mlc_server_free(mlc_server *s)
{
    if (!s) return;
    /* 1. Stop accepting new connections; answer new requests on open
     *    connections with 503. */
    MHD_socket ls = s->daemon ? s->mh->quiesce_daemon(s->daemon) : MHD_INVALID_SOCKET;
    if (ls != MHD_INVALID_SOCKET) close(ls);
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cv_work);
    pthread_mutex_unlock(&s->mu);
    /* 2. Workers finish everything already queued, then exit. */
    for (int i = 0; i < s->n_workers; i++) pthread_join(s->workers[i], NULL);
    mlc_free(s->workers);
    s->workers = NULL;
    /* 3. Let the I/O thread send the responses of requests in flight
     *    (bounded: idle keep-alive connections also count as in flight
     *    only while a request is open). */
    double until = now_s() + 5.0;
    pthread_mutex_lock(&s->mu);
    while (s->in_flight > 0 && now_s() < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&s->cv_idle, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    server_destroy(s);
}
