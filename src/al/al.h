/*
 * al.h - active learning: sample predictions and their images into a
 * Roboflow dataset (or a local dataset directory), as Roboflow's
 * ActiveLearningManager does, but durably and with the multi-label
 * prediction attached.
 *
 * Who calls it: the workflow block (when disable_active_learning is false),
 * `mlc classify` and the server. They create one manager per project/model
 * at load time and call al_register() after each inference.
 *
 * Guarantees
 *   - al_register() never fails inference: it returns an outcome, never an
 *     error the caller must propagate. It does only cheap work for images
 *     that are not sampled (a few PRNG draws); a sampled image is JPEG
 *     encoded and written to the on-disk queue (temp + fsync + rename + fsync
 *     of the directory) before AL_QUEUED is returned. Network I/O happens on
 *     the manager's worker thread only.
 *   - Every AL_QUEUED datapoint reaches the sink at least once, across
 *     crashes and restarts (the queue is replayed), and carries an
 *     idempotency key (its uuid) so the sink can keep it once: the local
 *     sink writes files named by the key, the Roboflow sink sends the key as
 *     the image name and as an Idempotency-Key header.
 *   - Limits (per strategy, minutely/hourly/daily, UTC) and max_batch_images
 *     are counted in a state file in the queue directory, so they hold
 *     across restarts.
 *   - A failing or unreachable sink leaves the queue intact; the worker
 *     retries with backoff. Permanent rejections (400/404/413/422) move the
 *     datapoint to <queue_dir>/failed/.
 *
 * Thread-safety: al_register() may be called from many threads at once on
 * one manager. al_manager_free() must not race with al_register().
 */
#ifndef MLC_AL_H
#define MLC_AL_H

#include <stddef.h>
#include <stdint.h>

#include "mlc.h"

/* ---------------------------------------------------------------------------
 * Configuration (Roboflow's active-learning configuration JSON, see
 * docs/ACTIVE_LEARNING.md). Parsed and validated completely at load.
 * ------------------------------------------------------------------------- */

enum al_strategy_type {
    AL_STRATEGY_RANDOM = 0,
    AL_STRATEGY_CLOSE_TO_THRESHOLD = 1,
    AL_STRATEGY_CLASSES_BASED = 2,
    AL_STRATEGY_DETECTIONS_NUMBER = 3, /* accepted, never matches classification */
};

enum al_limit_kind { AL_LIMIT_MINUTELY = 0, AL_LIMIT_HOURLY = 1, AL_LIMIT_DAILY = 2 };

struct al_limit {
    enum al_limit_kind kind;
    int64_t value; /* >= 0; a datapoint is refused when used >= value */
};

struct al_strategy {
    char *name;
    enum al_strategy_type type;
    double traffic_percentage; /* random */
    double threshold, epsilon; /* close_to_threshold (classes_based: 0.5, 1.0) */
    double probability;        /* close_to_threshold, classes_based */
    char **selected_class_names;
    size_t n_selected; /* 0 with selected_class_names == NULL: any class */
    int only_top_classes;
    char **tags;
    size_t n_tags;
    struct al_limit *limits;
    size_t n_limits;
};

enum al_recreation {
    AL_RECREATE_NEVER,
    AL_RECREATE_DAILY,
    AL_RECREATE_WEEKLY,
    AL_RECREATE_MONTHLY
};

struct al_config {
    int enabled;
    int max_image_h, max_image_w; /* 0 = no downscale */
    int jpeg_quality;             /* jpeg_compression_level, default 95 */
    int persist_predictions;
    struct al_strategy *strategies;
    size_t n_strategies;
    char **tags;
    size_t n_tags;
    char *batches_name_prefix;
    enum al_recreation recreation;
    int64_t max_batch_images; /* 0 = unlimited */
    char *target_workspace;   /* optional overrides; NULL when absent */
    char *target_project;
    /* mlc extension: {"sink": {"type": "local", "path": "..."}} or
     * {"type": "roboflow"}; NULL path = the manager's options decide. */
    char *sink_local_path;
    int sink_roboflow;
};

/* Parses and validates config JSON text. `origin` names the source in error
 * messages (a file path or "Roboflow API"). Errors name the JSON path, e.g.
 * "config.json: $.sampling_strategies[1].limits[0].value: must be >= 0".
 * Status: BAD_JSON (malformed text), INVALID_ARGUMENT (bad values). The
 * caller frees *cfg with al_config_clear. */
mlc_status al_config_parse(const char *json, size_t n, const char *origin, struct al_config *cfg,
                           mlc_error *err);
mlc_status al_config_load_file(const char *path, struct al_config *cfg, mlc_error *err);
void al_config_clear(struct al_config *cfg);

/* ---------------------------------------------------------------------------
 * Sampling (pure functions over a caller-owned PRNG; no global state).
 * ------------------------------------------------------------------------- */

/* xoshiro256** seeded through splitmix64. */
struct al_rng {
    uint64_t s[4];
};
void al_rng_seed(struct al_rng *r, uint64_t seed);
double al_rng_uniform(struct al_rng *r); /* [0, 1) */

/* A parsed multi-label prediction: the classes and their confidences, and
 * which were predicted. Borrowed views into the JSON the caller parsed. */
struct al_class_score {
    const char *name;
    double confidence;
    int predicted;
};

/* Does strategy s sample this prediction? Draws from r exactly as Roboflow
 * does (one draw for random; one draw only after the class test passes for
 * close_to_threshold/classes_based). */
int al_strategy_matches(const struct al_strategy *s, const struct al_class_score *cls, size_t n_cls,
                        struct al_rng *r);

/* Batch name for a UTC time: prefix, plus _YYYY_MM_DD of today / the Monday
 * of the week / the 1st of the month. Caller frees with mlc_free. */
char *al_batch_name(const struct al_config *cfg, int64_t unix_time);

/* ---------------------------------------------------------------------------
 * The manager.
 * ------------------------------------------------------------------------- */

struct al_options {
    const char *queue_dir;   /* required: queue, state file, dead letters */
    const char *config_path; /* local config JSON; NULL = config_json or the API */
    const char *config_json; /* inline config text; NULL = config_path or the API */
    const char *model_id;    /* "project/3": the default target dataset is its project */
    const char *project;     /* default target dataset; NULL = model_id's project */
    const char *api_key;     /* NULL = $ROBOFLOW_API_KEY */
    const char *api_url;     /* NULL = $API_BASE_URL or https://api.roboflow.com */
    const char *local_dir;   /* local dataset sink; overrides the config's sink */
    int offline;             /* never fetch config nor upload (local sink only) */
    uint64_t seed;           /* PRNG seed; 0 = from the clock and pid */
    int64_t fixed_time;      /* tests: pretend it is this unix time; 0 = real clock */
    int http_timeout_ms;     /* per request; default 10 000 */
    int retry_initial_ms;    /* worker backoff after a failure; default 500, doubles to 30 s */
    int no_worker;           /* tests: do not start the worker thread */
};

struct al_manager;

/* Creates a manager. Config comes from config_json, else config_path, else
 * (online, with an API key) from the Roboflow API for the target project as
 * Roboflow fetches it (workspace, project type, .../active_learning; a
 * 401/404 or a task-type mismatch there means "disabled", as in Roboflow).
 * A disabled configuration gives a working manager whose al_register()
 * returns AL_DISABLED. Pending queue entries from an earlier run are
 * replayed by the worker. Status: INVALID_ARGUMENT/BAD_JSON (bad config,
 * named by JSON path), IO (queue dir), NETWORK/UNAUTHORIZED (API config
 * fetch failed: the caller may log it and go on without AL). */
mlc_status al_manager_create(const struct al_options *opt, struct al_manager **mgr_out,
                             mlc_error *err);

/* Waits up to timeout_ms for the worker to empty the queue, then stops it
 * and frees everything. The queue on disk is kept for the next run. */
void al_manager_free(struct al_manager *mgr, int timeout_ms);

/* Borrowed: the configuration in force (enabled == 0 when disabled). */
const struct al_config *al_manager_config(const struct al_manager *mgr);

enum al_outcome {
    AL_QUEUED = 0,      /* sampled, durably queued; key_out filled */
    AL_NOT_SAMPLED = 1, /* no strategy matched */
    AL_LIMITED = 2, /* matched, but every matching strategy is out of credit or the batch is full */
    AL_DISABLED = 3, /* configuration disabled, manager NULL or no sink */
    AL_DROPPED = 4,  /* could not be queued (bad prediction JSON, disk full, ...): logged in
                      * al_manager_last_error, inference unaffected */
};

/* Registers one image and its prediction (the block's JSON, Roboflow's
 * multi-label shape with "predictions" and "predicted_classes"). `img` and
 * the strings are borrowed for the call only. target_dataset_override is the
 * block's active_learning_target_dataset (NULL/"" = the manager's project).
 * inference_id may be NULL. key_out (may be NULL) receives the datapoint's
 * idempotency key when AL_QUEUED is returned. Never blocks on the network. */
enum al_outcome al_register(struct al_manager *mgr, const mlc_image *img,
                            const char *prediction_json, const char *model_id,
                            const char *target_dataset_override, const char *inference_id,
                            char key_out[37]);

/* Waits up to timeout_ms until the queue is empty (or the worker is stuck
 * on a failing sink). Returns the number of datapoints still queued. */
size_t al_flush(struct al_manager *mgr, int timeout_ms);
/* Datapoints waiting in the queue directory now. */
size_t al_pending(struct al_manager *mgr);
/* The last registration or delivery problem, for logs ("" when none).
 * Copied into buf (size n). */
void al_manager_last_error(struct al_manager *mgr, char *buf, size_t n);

/* ---------------------------------------------------------------------------
 * Process-wide managers for the workflow block, `mlc classify` and the
 * server: one manager per (model_id, target dataset), created on first use
 * (as Roboflow's middleware per "{model_id}->{target_dataset}" key, never
 * refreshed). A manager that cannot be created (config fetch failed, bad
 * config) is remembered as disabled for the process, and the reason is
 * printed once to stderr.
 * ------------------------------------------------------------------------- */

struct al_defaults {
    const char *queue_root;  /* NULL = $MLC_AL_QUEUE_DIR, else $MODEL_CACHE_DIR/active_learning,
                              * else /tmp/cache/active_learning; one subdirectory per key */
    const char *config_path; /* NULL = $MLC_AL_CONFIG; unset = the Roboflow API */
    const char *local_dir;   /* NULL = $MLC_AL_LOCAL_DIR; unset = upload to Roboflow */
    const char *api_url;     /* NULL = $API_BASE_URL */
    int offline;
};

/* Optional; call before the first al_global_register. Strings are copied. */
mlc_status al_global_configure(const struct al_defaults *d, mlc_error *err);
/* Registers one image; api_key NULL = $ROBOFLOW_API_KEY. Thread-safe. The
 * first call for a key creates its manager (which may fetch the config). */
enum al_outcome al_global_register(const char *api_key, const char *model_id,
                                   const char *target_dataset, const mlc_image *img,
                                   const char *prediction_json, const char *inference_id);
/* Flushes (up to timeout_ms in total) and frees every manager. */
void al_global_shutdown(int timeout_ms);

/* ---------------------------------------------------------------------------
 * Internals shared between the al files.
 * ------------------------------------------------------------------------- */

/* A queued datapoint as stored on disk: one JSON header line, then the JPEG. */
struct al_datapoint {
    char key[37];
    char *target_dataset;
    char *batch;
    char *model_id;
    char *inference_id; /* may be NULL */
    char **tags;
    size_t n_tags;
    int persist_predictions;
    char *prediction_json; /* the prediction as registered */
    uint8_t *jpeg;
    size_t jpeg_n;
    char *image_id; /* set once the Roboflow upload succeeded (sidecar file) */
};
mlc_status al_datapoint_write(const char *path, const struct al_datapoint *dp, mlc_error *err);
mlc_status al_datapoint_read(const char *path, struct al_datapoint *dp, mlc_error *err);
void al_datapoint_clear(struct al_datapoint *dp);
/* fsync a directory so a rename/unlink inside it is durable. */
mlc_status al_fsync_dir(const char *dir, mlc_error *err);

/* Sinks. Each send is idempotent by dp->key. Status MLC_OK = delivered;
 * INVALID_ARGUMENT = permanently rejected; anything else = retry later. */
struct al_http {
    const char *api_url;
    const char *api_key;
    int timeout_ms;
};
mlc_status al_sink_local_send(const char *root, const struct al_datapoint *dp, mlc_error *err);
/* Uploads the image (then, with persist_predictions, the prediction as an
 * annotation). On an image upload that succeeded but an annotation that
 * failed, *image_id_out (caller frees) is set so the retry skips the image. */
mlc_status al_sink_roboflow_send(const struct al_http *h, const struct al_datapoint *dp,
                                 char **image_id_out, mlc_error *err);
/* Fetches the configuration for (project, model_id) as Roboflow does. On
 * success *json_out (caller frees) is the config JSON text, or NULL when the
 * API says active learning is disabled for it. */
mlc_status al_fetch_config(const struct al_http *h, const char *project, const char *model_id,
                           char **json_out, mlc_error *err);

#endif
