/*
 * mlc.h - multi-label image classification in C.
 *
 * mlc runs Roboflow multi-label classifiers (ONNX model packages) and the
 * Roboflow Workflows block "Multi-Label Classification Model" (v1, v2, v3)
 * without Python. This header is the whole public API; everything else is
 * internal.
 *
 * Objects
 *   mlc_model     a loaded model package: weights, preprocessing, classes,
 *                 thresholds. Immutable after load and safe to share between
 *                 threads.
 *   mlc_session   per-caller scratch (arena, engine buffers). One thread at a
 *                 time; create one per worker thread.
 *   mlc_image     a decoded image (8-bit, 3 channels, EXIF orientation
 *                 applied as OpenCV does).
 *   mlc_result    one image's prediction, serialisable to Roboflow's JSON.
 *   mlc_workflow  a compiled Roboflow workflow definition.
 *   mlc_server    the HTTP server that inference_sdk talks to.
 *
 * Conventions
 *   - Every call that can fail returns mlc_status (MLC_OK == 0) and, when the
 *     caller passes a non-NULL mlc_error, writes a message that names the
 *     culprit (file, JSON path, node, property).
 *   - Outputs come last, are named *_out and are written only on success.
 *   - Every handle has a _create/_load and a _free; _free(NULL) is a no-op.
 *   - Strings and buffers returned as "caller frees" are released with
 *     mlc_free().
 *
 * Example: classify one file with the package's "best" thresholds.
 *
 *     mlc_error err;
 *     mlc_model *m = NULL;
 *     mlc_session *s = NULL;
 *     mlc_image *im = NULL;
 *     mlc_result *r = NULL;
 *     char *json = NULL;
 *     if (mlc_model_load("models/demo", NULL, &m, &err) ||
 *         mlc_session_create(m, &s, &err) ||
 *         mlc_image_load(MLC_INPUT_PATH, "samples/01.jpg", 0, NULL, &im, &err) ||
 *         mlc_classify(s, (const mlc_image *const *)&im, 1, mlc_confidence_best(), &r, &err) ||
 *         mlc_result_to_json(r, 0, &json, &err))
 *         fprintf(stderr, "mlc: %s\n", err.message);
 *     else
 *         puts(json);
 *     mlc_free(json);
 *     mlc_result_free(r);   // frees the whole array of 1
 *     mlc_image_free(im);
 *     mlc_session_free(s);
 *     mlc_model_free(m);
 */
#ifndef MLC_H
#define MLC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MLC_API __attribute__((visibility("default")))
#else
#define MLC_API
#endif

#define MLC_VERSION "0.1.0"

/* ---------------------------------------------------------------------------
 * Status and errors
 * ------------------------------------------------------------------------- */

/* Append-only: never renumber or reuse a code. */
typedef enum mlc_status {
    MLC_OK = 0,
    MLC_STATUS_INVALID_ARGUMENT = 1, /* a caller-supplied value is out of range */
    MLC_STATUS_BAD_MODEL = 2,        /* model package or ONNX file is malformed */
    MLC_STATUS_UNSUPPORTED = 3,      /* valid, but an op/format/mode mlc does not do */
    MLC_STATUS_BAD_IMAGE = 4,        /* image bytes cannot be decoded */
    MLC_STATUS_BAD_WORKFLOW = 5,     /* workflow definition or inputs rejected */
    MLC_STATUS_NO_MEMORY = 6,        /* an allocation failed */
    MLC_STATUS_LIMIT = 7,            /* a configured limit was exceeded */
    MLC_STATUS_IO = 8,               /* file system error */
    MLC_STATUS_NOT_FOUND = 9,        /* file, model or resource does not exist */
    MLC_STATUS_UNAUTHORIZED = 10,    /* API key missing or rejected */
    MLC_STATUS_NETWORK = 11,         /* HTTP transfer failed or timed out */
    MLC_STATUS_BAD_JSON = 12,        /* malformed JSON text */
    MLC_STATUS_INTERNAL = 13,        /* an mlc bug: please report */
    MLC_STATUS_BUSY = 14,            /* a bounded queue is full; retry later */
    MLC_STATUS_COUNT
} mlc_status;

/* A static string naming the code ("invalid argument", ...). Never NULL. */
MLC_API const char *mlc_status_str(mlc_status st);

#define MLC_ERROR_MAX 512

/* Caller-owned error record. Functions fill it only when they fail. */
typedef struct mlc_error {
    mlc_status status;
    char message[MLC_ERROR_MAX];
} mlc_error;

/* ---------------------------------------------------------------------------
 * Memory
 * ------------------------------------------------------------------------- */

/* Every allocation mlc makes goes through this door. Set it (once, before any
 * other call) to route memory elsewhere; NULL restores the C library. */
typedef struct mlc_allocator {
    void *ctx;
    void *(*alloc)(void *ctx, size_t n);
    void *(*realloc)(void *ctx, void *p, size_t n);
    void (*free)(void *ctx, void *p);
} mlc_allocator;

MLC_API void mlc_set_allocator(const mlc_allocator *a);
MLC_API void *mlc_alloc(size_t n);
MLC_API void *mlc_calloc(size_t count, size_t size);
MLC_API void *mlc_realloc(void *p, size_t n);
/* Frees anything mlc documents as "caller frees with mlc_free". NULL is a no-op. */
MLC_API void mlc_free(void *p);

/* Bounds applied to everything read from outside. Zero fields take the
 * default from mlc_limits_default(). */
typedef struct mlc_limits {
    size_t max_input_bytes;    /* encoded image, JSON body, model file: 256 MiB */
    uint64_t max_image_pixels; /* decoded width*height: 100 M */
    size_t max_url_bytes;      /* bytes fetched for one URL: 64 MiB */
    int url_timeout_ms;        /* whole URL transfer: 15 000 */
    int max_json_depth;        /* nesting of JSON documents: 64 */
    int max_batch;             /* images per request: 256 */
} mlc_limits;

/* Fills *out with the default limits. */
MLC_API void mlc_limits_default(mlc_limits *out);

/* ---------------------------------------------------------------------------
 * Images
 * ------------------------------------------------------------------------- */

typedef struct mlc_image mlc_image;

/* How the text passed to mlc_image_load is to be read. */
typedef enum mlc_input_kind {
    MLC_INPUT_AUTO = 0,   /* data URL / http(s) URL / existing path / base64 */
    MLC_INPUT_PATH = 1,   /* a file path */
    MLC_INPUT_BASE64 = 2, /* base64 text, with or without a data-URL prefix */
    MLC_INPUT_URL = 3,    /* http:// or https:// URL, fetched under limits */
} mlc_input_kind;

/* Flags for image loading. */
#define MLC_IMAGE_NO_AUTO_ORIENT 1u /* ignore the EXIF orientation tag */
/* Decode a large baseline JPEG on two threads: the same pixels in about 0.7
 * of the time, for about 45% more CPU (for callers that want latency). */
#define MLC_IMAGE_TWO_THREADS 2u

/* Decodes encoded bytes (JPEG, PNG, BMP, WebP, GIF first frame, TIFF).
 * `bytes` is borrowed. On success *img_out is owned by the caller
 * (mlc_image_free). Status: BAD_IMAGE, LIMIT, NO_MEMORY. Thread-safe. */
MLC_API mlc_status mlc_image_decode(const void *bytes, size_t n, unsigned flags,
                                    const mlc_limits *limits, mlc_image **img_out, mlc_error *err);

/* Loads an image from a path, base64 text or URL (see mlc_input_kind).
 * `text` is borrowed. Caller frees *img_out with mlc_image_free.
 * Status: NOT_FOUND, IO, BAD_IMAGE, LIMIT, NETWORK, INVALID_ARGUMENT. */
MLC_API mlc_status mlc_image_load(mlc_input_kind kind, const char *text, unsigned flags,
                                  const mlc_limits *limits, mlc_image **img_out, mlc_error *err);

/* Wraps a caller's interleaved 8-bit BGR buffer (copied). */
MLC_API mlc_status mlc_image_from_bgr(const uint8_t *bgr, int width, int height, size_t row_stride,
                                      mlc_image **img_out, mlc_error *err);

MLC_API void mlc_image_free(mlc_image *img);
MLC_API int mlc_image_width(const mlc_image *img);
MLC_API int mlc_image_height(const mlc_image *img);
/* Borrowed pointer to interleaved BGR rows, valid while img lives. */
MLC_API const uint8_t *mlc_image_bgr(const mlc_image *img, size_t *row_stride_out);

/* Encodes as JPEG (quality 1..100). Caller frees *bytes_out with mlc_free. */
MLC_API mlc_status mlc_image_encode_jpeg(const mlc_image *img, int quality, void **bytes_out,
                                         size_t *n_out, mlc_error *err);

/* ---------------------------------------------------------------------------
 * Models
 * ------------------------------------------------------------------------- */

typedef struct mlc_model mlc_model;
typedef struct mlc_session mlc_session;

/* Compute precision of the oneDNN backend (the reference kernels always
 * compute in float32; a network's inputs and outputs are float32 either
 * way). BF16: activations and weights in bf16. INT8: convolutions and
 * linear layers in int8, weights per output channel, activations per tensor
 * from each run's own range (no calibration), the rest in float32; a batch
 * runs one image per session (side by side on several threads), each with
 * scales of its own. docs/ENGINE.md
 * says what each keeps of float32's scores. */
typedef enum mlc_precision {
    MLC_PRECISION_F32 = 0,
    MLC_PRECISION_BF16 = 1,
    MLC_PRECISION_INT8 = 2,
} mlc_precision;

typedef enum mlc_backend {
    MLC_BACKEND_AUTO = 0,      /* oneDNN where it has a kernel, reference C elsewhere */
    MLC_BACKEND_REFERENCE = 1, /* portable C kernels only */
} mlc_backend;

typedef struct mlc_model_options {
    int threads;             /* compute threads per session; 0 = all cores */
    mlc_precision precision; /* default F32 */
    mlc_backend backend;     /* default AUTO */
    const char *cache_dir;   /* model cache root; NULL = $MODEL_CACHE_DIR or /tmp/cache */
    const char *api_key;     /* NULL = $ROBOFLOW_API_KEY */
    const char *api_url;     /* NULL = $API_BASE_URL or https://api.roboflow.com */
    int offline;             /* never download */
    mlc_limits limits;       /* zero = defaults */
    /* Directory of packed-weights caches: the oneDNN backend keeps the
     * weights it packed in one file per model there, and a later load maps
     * them instead of reading and reordering the ONNX weights (a faster
     * start). NULL = $MLC_PACK_CACHE when set (empty: none); else, for a
     * model loaded by id whose package is in the layout mlc downloads to,
     * that package's directory; else none. "" = none. */
    const char *pack_cache;
} mlc_model_options;

/* Fills *out with defaults (threads 0, f32, auto backend, env lookups). */
MLC_API void mlc_model_options_default(mlc_model_options *out);

/* Loads a model package from a directory, or by Roboflow model id
 * ("project/3"): from the cache, else downloaded with the API key.
 * `opt` may be NULL. Caller frees *model_out with mlc_model_free.
 * Status: NOT_FOUND, BAD_MODEL, UNSUPPORTED, UNAUTHORIZED, NETWORK, IO. */
MLC_API mlc_status mlc_model_load(const char *dir_or_id, const mlc_model_options *opt,
                                  mlc_model **model_out, mlc_error *err);
MLC_API void mlc_model_free(mlc_model *m);

MLC_API int mlc_model_n_classes(const mlc_model *m);
/* Borrowed; valid while m lives. NULL when i is out of range. */
MLC_API const char *mlc_model_class_name(const mlc_model *m, int i);
/* The id the model was loaded as ("project/3", or the directory). Borrowed. */
MLC_API const char *mlc_model_id(const mlc_model *m);
/* "multi-label-classification" for models this block can use. Borrowed. */
MLC_API const char *mlc_model_task_type(const mlc_model *m);
MLC_API const char *mlc_model_architecture(const mlc_model *m);
MLC_API void mlc_model_input_size(const mlc_model *m, int *width_out, int *height_out);
/* Fixed batch of the ONNX graph, or 0 when the batch axis is dynamic. */
MLC_API int mlc_model_static_batch(const mlc_model *m);

/* A session holds per-caller buffers for one model. `m` must outlive it. */
MLC_API mlc_status mlc_session_create(const mlc_model *m, mlc_session **session_out,
                                      mlc_error *err);
MLC_API void mlc_session_free(mlc_session *s);

/* How the per-class threshold is chosen. */
typedef enum mlc_confidence_mode {
    MLC_CONFIDENCE_VALUE = 0,   /* one threshold for all classes */
    MLC_CONFIDENCE_BEST = 1,    /* recommended (F1-optimal) per-class thresholds */
    MLC_CONFIDENCE_DEFAULT = 2, /* the architecture's default */
} mlc_confidence_mode;

typedef struct mlc_confidence {
    mlc_confidence_mode mode;
    double value; /* used when mode == VALUE; must be in [0, 1] */
} mlc_confidence;

MLC_API mlc_confidence mlc_confidence_value(double v);
MLC_API mlc_confidence mlc_confidence_best(void);
MLC_API mlc_confidence mlc_confidence_default(void);
/* Parses "0.4", "best" or "default". Status: INVALID_ARGUMENT. */
MLC_API mlc_status mlc_confidence_parse(const char *text, mlc_confidence *out, mlc_error *err);

/* Per-request preprocessing switches (Roboflow's disable_preproc_*). */
#define MLC_CLASSIFY_NO_STATIC_CROP 1u
#define MLC_CLASSIFY_NO_CONTRAST    2u
#define MLC_CLASSIFY_NO_GRAYSCALE   4u

typedef struct mlc_result mlc_result;

/* Classifies n images in as few forward passes as the model allows.
 * Images are borrowed. On success *results_out is an array of n results the
 * caller frees with one mlc_result_free(*results_out).
 * Status: INVALID_ARGUMENT (threshold outside [0,1], n == 0), LIMIT, BAD_MODEL
 * (class count mismatch), NO_MEMORY. */
MLC_API mlc_status mlc_classify(mlc_session *s, const mlc_image *const *images, size_t n,
                                mlc_confidence conf, mlc_result **results_out, mlc_error *err);
MLC_API mlc_status mlc_classify_ex(mlc_session *s, const mlc_image *const *images, size_t n,
                                   mlc_confidence conf, unsigned flags, mlc_result **results_out,
                                   mlc_error *err);

/* Frees an array returned by mlc_classify. */
MLC_API void mlc_result_free(mlc_result *results);
/* The i-th element of an array returned by mlc_classify. */
MLC_API const mlc_result *mlc_result_at(const mlc_result *results, size_t i);
MLC_API int mlc_result_n_classes(const mlc_result *r);
MLC_API double mlc_result_score(const mlc_result *r, int class_id);
MLC_API double mlc_result_threshold(const mlc_result *r, int class_id);
MLC_API int mlc_result_is_predicted(const mlc_result *r, int class_id);
MLC_API const char *mlc_result_inference_id(const mlc_result *r);

/* Serialises one result in Roboflow's multi-label response shape:
 * {"inference_id", "time", "image": {"width", "height"}, "predictions":
 * {name: {"confidence", "class_id"}}, "predicted_classes": [...]}.
 * Caller frees *json_out with mlc_free. */
#define MLC_JSON_PRETTY 1u
MLC_API mlc_status mlc_result_to_json(const mlc_result *r, unsigned flags, char **json_out,
                                      mlc_error *err);

/* ---------------------------------------------------------------------------
 * Raw ONNX networks: the engine beneath mlc_model, for tools, tests and
 * benchmarks (`mlc tensor`, `mlc inspect`, `mlc bench`).
 * ------------------------------------------------------------------------- */

typedef enum mlc_dtype {
    /* Values are ONNX TensorProto.DataType codes. */
    MLC_DTYPE_F32 = 1,
    MLC_DTYPE_U8 = 2,
    MLC_DTYPE_I8 = 3,
    MLC_DTYPE_I32 = 6,
    MLC_DTYPE_I64 = 7,
    MLC_DTYPE_BOOL = 9,
    MLC_DTYPE_F16 = 10,
    MLC_DTYPE_F64 = 11,
    MLC_DTYPE_BF16 = 16,
} mlc_dtype;

#define MLC_MAX_RANK 8

/* A plain tensor descriptor; `data` is never owned by the descriptor. */
typedef struct mlc_tensor {
    mlc_dtype dtype;
    int rank;
    int64_t dims[MLC_MAX_RANK]; /* -1 for a symbolic dimension in input/output info */
    void *data;
} mlc_tensor;

/* Reads a .npy file (C order, little-endian f32/f64/i64/i32/u8/i8/bool).
 * On success t_out->data is caller-freed with mlc_free. */
MLC_API mlc_status mlc_tensor_load_npy(const char *path, mlc_tensor *t_out, mlc_error *err);
/* Writes t as .npy (atomically). */
MLC_API mlc_status mlc_tensor_save_npy(const char *path, const mlc_tensor *t, mlc_error *err);
/* Bytes per element of a dtype, 0 for unknown. */
MLC_API size_t mlc_dtype_size(mlc_dtype dt);

typedef struct mlc_net mlc_net;
typedef struct mlc_net_session mlc_net_session;

/* Loads and optimises an ONNX file (external data is read from beside it).
 * Unsupported ops are refused here with their name, node and opset.
 * Caller frees *net_out with mlc_net_free. Only threads, precision, backend,
 * limits and pack_cache of `opt` are used; opt may be NULL. */
MLC_API mlc_status mlc_net_load(const char *onnx_path, const mlc_model_options *opt,
                                mlc_net **net_out, mlc_error *err);
/* Same from bytes in memory (borrowed; copied as needed). */
MLC_API mlc_status mlc_net_load_mem(const void *bytes, size_t n, const mlc_model_options *opt,
                                    mlc_net **net_out, mlc_error *err);
MLC_API void mlc_net_free(mlc_net *net);
/* Packed-weights cache (mlc_model_options.pack_cache) of a net: entries
 * read from its file at load, entries added by this process's binds, and
 * binds that used a read entry. All 0 without a cache. */
MLC_API void mlc_net_pack_cache_counts(const mlc_net *net, int *loaded, int *added, int *hits);
MLC_API int mlc_net_n_inputs(const mlc_net *net);
MLC_API int mlc_net_n_outputs(const mlc_net *net);
/* Name (borrowed) and shape of input/output i; desc_out->data is NULL. */
MLC_API const char *mlc_net_input(const mlc_net *net, int i, mlc_tensor *desc_out);
MLC_API const char *mlc_net_output(const mlc_net *net, int i, mlc_tensor *desc_out);
/* Human-readable optimised graph and memory plan (`mlc inspect`). Caller frees. */
MLC_API mlc_status mlc_net_describe(const mlc_net *net, char **text_out, mlc_error *err);

/* Per-thread run state: planned buffers per input shape. `net` must outlive it. */
MLC_API mlc_status mlc_net_session_create(const mlc_net *net, mlc_net_session **ns_out,
                                          mlc_error *err);
MLC_API void mlc_net_session_free(mlc_net_session *ns);
/* Runs the network. Inputs are borrowed, in graph input order. On success
 * outputs[0..n_out) are filled; their data is owned by the session and valid
 * until the next run on it or its free. Status: INVALID_ARGUMENT (shape or
 * dtype mismatch, named), LIMIT, NO_MEMORY. */
MLC_API mlc_status mlc_net_run(mlc_net_session *ns, const mlc_tensor *inputs, int n_in,
                               mlc_tensor *outputs, int n_out, mlc_error *err);
/* Peak bytes of the planned activations for the last run's shapes: the
 * engine's workspace plus the pool its oneDNN regions share. */
MLC_API size_t mlc_net_session_workspace(const mlc_net_session *ns);
/* How the last run went through a batch: 0 whole, 1 one image at a time, k
 * >= 2 k images side by side on sessions of fewer threads. A session of
 * several threads times the whole batch against its images side by side
 * and keeps the faster (MLC_NET_CHUNK=0 keeps batches whole, =1 always
 * splits them); a net whose images are not independent always runs whole. */
MLC_API int mlc_net_session_split(const mlc_net_session *ns);

/* ---------------------------------------------------------------------------
 * Workflows
 * ------------------------------------------------------------------------- */

typedef struct mlc_workflow mlc_workflow;

typedef struct mlc_workflow_options {
    const mlc_model_options *model_options; /* for models the steps load; may be NULL */
    const char *api_key;                    /* request api_key; NULL = env */
} mlc_workflow_options;

/* Parses and compiles a workflow definition (JSON text, borrowed).
 * Caller frees *wf_out with mlc_workflow_free.
 * Status: BAD_JSON, BAD_WORKFLOW (message names the step and property). */
MLC_API mlc_status mlc_workflow_compile(const char *json, size_t n, const mlc_workflow_options *opt,
                                        mlc_workflow **wf_out, mlc_error *err);
MLC_API void mlc_workflow_free(mlc_workflow *wf);

/* Runs a compiled workflow. `inputs_json` is the /workflows/run "inputs"
 * object: images as {"type":"base64"|"url"|"file","value":...} or lists of
 * them, parameters as plain values. On success *outputs_json_out is the
 * response {"outputs": [...]} the caller frees with mlc_free.
 * Safe to call from several threads on one workflow. */
MLC_API mlc_status mlc_workflow_run(mlc_workflow *wf, const char *inputs_json, size_t n,
                                    char **outputs_json_out, mlc_error *err);

/* The /workflows/blocks/describe document. Caller frees with mlc_free. */
MLC_API mlc_status mlc_blocks_describe(char **json_out, mlc_error *err);

/* ---------------------------------------------------------------------------
 * Active learning: sampled images and their predictions are queued durably
 * (fsync'd before registration returns) and sent to the target dataset in
 * the background. Process-wide, one manager per (model id, target dataset).
 * ------------------------------------------------------------------------- */

typedef enum mlc_al_outcome {
    MLC_AL_QUEUED = 0,      /* sampled and durably queued */
    MLC_AL_NOT_SAMPLED = 1, /* no sampling strategy matched */
    MLC_AL_LIMITED = 2,     /* matched, but over a limit */
    MLC_AL_DISABLED = 3,    /* configuration disabled or unavailable */
    MLC_AL_DROPPED = 4,     /* could not be queued; logged; inference unaffected */
} mlc_al_outcome;

/* Optional, before the first registration. Any argument may be NULL:
 * queue_dir ($MLC_AL_QUEUE_DIR, else $MODEL_CACHE_DIR/active_learning),
 * config_path ($MLC_AL_CONFIG, else the project's configuration from the
 * Roboflow API), local_dir ($MLC_AL_LOCAL_DIR: write datapoints there instead
 * of uploading). Strings are copied. */
MLC_API mlc_status mlc_active_learning_configure(const char *queue_dir, const char *config_path,
                                                 const char *local_dir, int offline,
                                                 mlc_error *err);
/* Offers one classified image. Never fails inference: problems are logged
 * and reported as the outcome. All pointers borrowed; thread-safe. */
MLC_API mlc_al_outcome mlc_active_learning_register(const char *api_key, const char *model_id,
                                                    const char *target_dataset,
                                                    const mlc_image *img, const mlc_result *result);
/* Flushes the queues (up to timeout_ms) and stops the background senders.
 * Datapoints not sent stay on disk and are sent by the next process. */
MLC_API void mlc_active_learning_shutdown(int timeout_ms);

/* ---------------------------------------------------------------------------
 * Server
 * ------------------------------------------------------------------------- */

typedef struct mlc_server mlc_server;

typedef struct mlc_server_options {
    const char *host;           /* default "127.0.0.1" */
    int port;                   /* default 9001 */
    int threads;                /* worker threads; 0 = cores */
    int queue_depth;            /* bounded work queue; beyond it: 503 */
    size_t max_body_bytes;      /* default 64 MiB */
    int request_timeout_ms;     /* default 30 000 */
    int allow_private_urls;     /* fetch URLs on private/loopback addresses */
    const char *api_keys_allow; /* comma list of accepted keys; NULL = any */
    const mlc_model_options *model_options;
    int active_learning; /* offer classified images to active learning unless the
                          * request sets disable_active_learning (configure it
                          * with mlc_active_learning_configure first) */
} mlc_server_options;

MLC_API void mlc_server_options_default(mlc_server_options *out);
/* Starts listening and returns; requests are served on internal threads.
 * Caller stops it with mlc_server_free (finishes requests in flight). */
MLC_API mlc_status mlc_server_start(const mlc_server_options *opt, mlc_server **srv_out,
                                    mlc_error *err);
/* The port actually bound (useful with port 0). */
MLC_API int mlc_server_port(const mlc_server *srv);
MLC_API void mlc_server_free(mlc_server *srv);

#ifdef __cplusplus
}
#endif
#endif /* MLC_H */
