/*
 * server.h - internals of the HTTP server layer (srv_*): request parsing
 * (JSON body -> request structs, the part the fuzzer drives), the model
 * registry, metrics, error bodies and a small capped buffer. The server uses
 * the public API (include/mlc.h), src/core's utilities, and
 * src/workflow/workflow.h for structured workflow error bodies.
 */
#ifndef MLC_SRV_SERVER_H
#define MLC_SRV_SERVER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/core.h"
#include "mlc.h"

#if defined(__GNUC__)
#define SRV_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SRV_PRINTF(a, b)
#endif

/* ---- errors and buffers ------------------------------------------------- */

/* Errors, capped buffers and strings come from src/core (core_err,
 * core_buf_*, core_strdup). */
/* Serialises a JSON value compactly (object key order kept) with mlc_alloc. */
char *srv_json_dump(const json_t *v, size_t *n_out);

/* ---- request parsing ---------------------------------------------------- */

/* Deepest nesting of [ and { in JSON text (strings skipped); stops counting
 * once `limit` is exceeded and returns limit + 1. */
int srv_json_depth(const char *text, size_t n, int limit);

/* Parses a JSON body under the limits (size, depth, valid UTF-8, no
 * duplicate keys). On failure: BAD_JSON or LIMIT with the offset named. */
mlc_status srv_json_parse(const char *body, size_t n, const mlc_limits *lim, json_t **out,
                          mlc_error *err);

/* Image object from a request: {"type": "base64"|"url", "value": "..."}. */
enum srv_image_type { SRV_IMAGE_BASE64 = 0, SRV_IMAGE_URL = 1 };
struct srv_image_ref {
    enum srv_image_type type;
    const char *value; /* borrowed from the json_t document */
};

/* A parsed POST /infer/classification (or legacy /{dataset}/{version}). */
struct srv_classify_req {
    const char *model_id; /* borrowed */
    const char *api_key;  /* borrowed, may be NULL */
    mlc_confidence conf;
    int is_list; /* "image" was a list: answer a list */
    size_t n_images;
    struct srv_image_ref *images; /* mlc_alloc'd array */
    unsigned classify_flags;      /* MLC_CLASSIFY_NO_* */
    unsigned image_flags;         /* MLC_IMAGE_NO_AUTO_ORIENT */
    int disable_al;               /* disable_active_learning (default false, as Roboflow) */
    const char *al_target;        /* active_learning_target_dataset, borrowed, may be NULL */
};

/* Why a request was refused while parsing: the HTTP status to answer and the
 * JSON location ("body.image[2].type") that was wrong. */
struct srv_reject {
    int http_status; /* 400 or 422 */
    char loc[128];
};

/* Parses the JSON document `doc` (borrowed; the request borrows strings from
 * it). Refuses pickled numpy and other non-HTTP image types with 400. */
mlc_status srv_parse_classify(const json_t *doc, const mlc_limits *lim,
                              struct srv_classify_req *req_out, struct srv_reject *rej,
                              mlc_error *err);
void srv_classify_req_free(struct srv_classify_req *req);

/* Checks one image object; 400 for refused types (numpy, pil, file, ...). */
mlc_status srv_parse_image(const json_t *v, const char *loc, struct srv_image_ref *out,
                           struct srv_reject *rej, mlc_error *err);

/* A parsed POST /workflows/run. */
struct srv_workflow_req {
    const json_t *specification; /* borrowed */
    const json_t *inputs;        /* borrowed; object */
    const char *api_key;         /* borrowed, may be NULL */
    const json_t *excluded;      /* borrowed array of strings, may be NULL */
    int enable_profiling;
    int n_url_images; /* url image objects found in inputs */
};
mlc_status srv_parse_workflow_run(const json_t *doc, const mlc_limits *lim,
                                  struct srv_workflow_req *req_out, struct srv_reject *rej,
                                  mlc_error *err);

/* POST /model/add|remove body: {"model_id", "api_key"?}. */
mlc_status srv_parse_model_req(const json_t *doc, const char **model_id_out,
                               const char **api_key_out, struct srv_reject *rej, mlc_error *err);

/* Roboflow's model-id rule (at most one '/') plus what keeps a server safe:
 * no empty segment, no "." or ".." segment, no control characters. */
int srv_model_id_valid(const char *id);

/* Removes `excluded` names from every element of {"outputs": [...]}. */
void srv_exclude_fields(json_t *response, const json_t *excluded);

/* ---- model registry ----------------------------------------------------- */

struct srv_model {
    char *id;
    mlc_model *model;
    int refs;    /* registry's own ref + one per request using it */
    int removed; /* no longer listed; freed when refs reach 0 */
    uint64_t last_used;
    mlc_session **free_sessions; /* pool; at most `pool_cap` kept */
    int n_free, pool_cap;
};

struct srv_registry {
    pthread_mutex_t mu;
    struct srv_model **items;
    int n, cap, max_models;
    int pool_cap; /* sessions kept per model: the worker count */
    uint64_t tick;
    const mlc_model_options *opt; /* borrowed */
};

void srv_registry_init(struct srv_registry *r, const mlc_model_options *opt, int max_models,
                       int pool_cap);
void srv_registry_destroy(struct srv_registry *r);
/* Finds or (when `load`) loads the model; the caller owns one reference.
 * NOT_FOUND when absent and !load. */
mlc_status srv_registry_acquire(struct srv_registry *r, const char *id, const char *api_key,
                                int load, struct srv_model **m_out, mlc_error *err);
void srv_registry_release(struct srv_registry *r, struct srv_model *m);
/* Takes a session from the model's pool (or creates one) / gives it back. */
mlc_status srv_model_session_take(struct srv_registry *r, struct srv_model *m, mlc_session **s_out,
                                  mlc_error *err);
void srv_model_session_give(struct srv_registry *r, struct srv_model *m, mlc_session *s);
/* Unlists a model (in-flight users keep it alive). Returns 1 if it was listed. */
int srv_registry_remove(struct srv_registry *r, const char *id);
void srv_registry_clear(struct srv_registry *r);
int srv_registry_count(struct srv_registry *r);
/* {"models": [...]} as Roboflow's GET /model/registry. Caller json_decref. */
json_t *srv_registry_json(struct srv_registry *r);

/* ---- metrics ------------------------------------------------------------ */

enum srv_route {
    SRV_ROUTE_UNKNOWN = 0,
    SRV_ROUTE_WORKFLOWS_RUN,
    SRV_ROUTE_WORKFLOWS_VALIDATE,
    SRV_ROUTE_BLOCKS_DESCRIBE,
    SRV_ROUTE_EE_VERSIONS,
    SRV_ROUTE_INFER_CLASSIFICATION,
    SRV_ROUTE_LEGACY_INFER,
    SRV_ROUTE_MODEL_ADD,
    SRV_ROUTE_MODEL_REMOVE,
    SRV_ROUTE_MODEL_CLEAR,
    SRV_ROUTE_MODEL_REGISTRY,
    SRV_ROUTE_INFO,
    SRV_ROUTE_HEALTHZ,
    SRV_ROUTE_READINESS,
    SRV_ROUTE_METRICS,
    SRV_ROUTE_COUNT
};
const char *srv_route_name(enum srv_route r);

#define SRV_N_BUCKETS 12
struct srv_metrics {
    uint64_t requests[SRV_ROUTE_COUNT][6]; /* by status class 1xx..5xx, [0] other */
    uint64_t by_status[SRV_ROUTE_COUNT][16];
    uint64_t hist[SRV_ROUTE_COUNT][SRV_N_BUCKETS]; /* cumulative at render */
    uint64_t hist_count[SRV_ROUTE_COUNT];
    uint64_t hist_sum_us[SRV_ROUTE_COUNT];
    uint64_t rejected_busy; /* 503 because the queue was full */
    uint64_t timeouts;      /* 503 because a request waited past its deadline */
    uint64_t dropped;       /* connections closed without an answer */
};
/* Thread-safe (atomics). */
void srv_metrics_observe(struct srv_metrics *m, enum srv_route r, int http_status, double seconds);
struct srv_gauges {
    int models_loaded, queue_depth, queue_capacity, in_flight, workers, workers_busy;
};
mlc_status srv_metrics_render(const struct srv_metrics *m, const struct srv_gauges *g,
                              char **text_out, size_t *n_out);

/* ---- the server and one request ----------------------------------------- */

struct MHD_Connection;
struct MHD_Daemon;
struct srv_mhd;

enum srv_conn_state { SRV_RECEIVING = 0, SRV_QUEUED, SRV_DONE };

/* One HTTP request from first header callback to completion. Strings are
 * copied from MHD on the I/O thread so workers never call into MHD except
 * MHD_resume_connection. */
struct srv_conn {
    struct MHD_Connection *mhd;
    struct srv_conn *next; /* work queue link */
    enum srv_route route;
    enum srv_conn_state state;
    int is_post;
    char *path;         /* the URL path (legacy route needs both segments) */
    char *q_api_key;    /* ?api_key= */
    char *q_confidence; /* ?confidence= */
    char *q_image;      /* ?image= (legacy URL form) */
    char *bearer;       /* Authorization: Bearer <key> */
    struct core_buf body;
    double t_start, deadline;
    /* response */
    int status;
    char *resp; /* mlc_alloc'd */
    size_t resp_len;
    const char *resp_type; /* static */
    int retry_after;       /* seconds; 0 = no header */
};

struct srv_wf_cache;

struct mlc_server {
    mlc_server_options opt;
    mlc_model_options model_opt; /* a copy; limits filled */
    mlc_limits limits;
    char *host;
    char **allow; /* api_keys_allow split; NULL = any key */
    int n_allow;
    char uuid[37];
    const struct srv_mhd *mh; /* libmicrohttpd's functions (mhd_lib.h) */
    struct MHD_Daemon *daemon;
    int port;
    struct srv_registry registry;
    struct srv_metrics metrics;
    struct srv_wf_cache *wf_cache;
    char *describe_json; /* cached blocks/describe document */
    size_t describe_len;
    /* work queue */
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_idle;
    struct srv_conn *head, *tail;
    int queued, busy, in_flight;
    int stopping; /* no new work; workers exit when the queue is empty */
    int n_workers;
    pthread_t *workers;
};

/* Runs a queued request on a worker thread: fills c->status / c->resp. */
void srv_dispatch(struct mlc_server *s, struct srv_conn *c);
/* Answers a request that needs no worker (GET routes). */
void srv_dispatch_inline(struct mlc_server *s, struct srv_conn *c);

/* Response helpers: they replace any earlier response of c. */
void srv_respond(struct srv_conn *c, int status, char *body, size_t n, const char *type);
void srv_respond_json(struct srv_conn *c, int status, json_t *doc); /* steals doc */
void srv_respond_message(struct srv_conn *c, int status, const char *fmt, ...) SRV_PRINTF(3, 4);

struct srv_wf_cache *srv_wf_cache_create(int cap);
void srv_wf_cache_free(struct srv_wf_cache *wc);

#endif
