/*
 * workflow.h - internals of the workflow layer: Roboflow workflow
 * definitions (parser + compiler), the block vtable and its manifests, the
 * executor and the describe document. Private to src/workflow/, the server
 * (which turns struct wf_error into Roboflow's HTTP error bodies), the fuzz
 * target and tests/workflow/.
 *
 * Lifecycle: wf_compile() parses JSON into a struct mlc_workflow (immutable
 * afterwards, except its mutex-guarded model cache), wf_run() executes it on
 * one /workflows/run "inputs" object. Every failure fills a struct wf_error,
 * which carries the public mlc_error plus Roboflow's error_type, context,
 * inner error and the offending block/property.
 */
#ifndef MLC_WORKFLOW_H
#define MLC_WORKFLOW_H

#include <jansson.h>
#include <pthread.h>

#include "core/core.h"
#include "mlc.h"

/* ---------------------------------------------------------------------------
 * Errors: a Roboflow-shaped side channel next to mlc_error.
 * ------------------------------------------------------------------------- */

struct wf_error {
    mlc_error e;               /* status + the human message (also "message" in HTTP) */
    int http_status;           /* 400 for definition/input errors, 4xx/500 for steps */
    char error_type[64];       /* "InvalidReferenceTargetError", "WorkflowSyntaxError", ... */
    char context[96];          /* "workflow_compilation | execution_graph_construction" */
    char inner_error_type[64]; /* "ValidationError", ... ("" = null) */
    char inner_error_message[MLC_ERROR_MAX];
    /* blocks_errors[0] when the error is about one step ("" block_id = no entry) */
    char block_id[128];
    char block_type[128];
    char property_name[64];
    char property_details[256];
};

void wf_error_clear(struct wf_error *we);
/* Fills we: status, http status, error_type, context, message (printf). Returns st. */
mlc_status wf_fail(struct wf_error *we, mlc_status st, int http, const char *error_type,
                   const char *context, const char *fmt, ...) CORE_PRINTF(6, 7);
/* Sets the blocks_errors entry. */
void wf_error_block(struct wf_error *we, const char *block_id, const char *block_type,
                    const char *property, const char *details);
/* Prepends prefix to the message (truncating at MLC_ERROR_MAX). */
void wf_error_prefix(struct wf_error *we, const char *prefix);
/* The public form: "<error_type>: <message>". */
void wf_error_to_mlc(const struct wf_error *we, mlc_error *err);
/* The HTTP error body: {"message","error_type","context","inner_error_type",
 * "inner_error_message","blocks_errors"}. Caller frees with mlc_free. NULL on OOM. */
char *wf_error_to_json(const struct wf_error *we);

#define WF_CTX_PARSE "workflow_compilation | workflow_definition_parsing"
#define WF_CTX_GRAPH "workflow_compilation | execution_graph_construction"
#define WF_CTX_INPUT "workflow_execution | runtime_input_validation"
#define WF_CTX_STEP  "workflow_execution | step_execution"

/* ---------------------------------------------------------------------------
 * Kinds
 * ------------------------------------------------------------------------- */

struct wf_kind {
    const char *name; /* "image", "roboflow_model_id", "*" ... */
    const char *description;
    const char *docs;
    const char *serialised_data_type; /* NULL = none */
    const char *internal_data_type;
};
extern const struct wf_kind wf_kinds[];
extern const int wf_n_kinds;
const struct wf_kind *wf_kind_find(const char *name);
/* Non-zero when any kind of a (NULL-terminated) meets any of b, "*" matching all. */
int wf_kinds_compatible(const char *const *a, const char *const *b);

/* ---------------------------------------------------------------------------
 * Blocks: manifests and the const vtable every block implements.
 * ------------------------------------------------------------------------- */

/* How a property's literal value is validated (pydantic lax mode). */
enum wf_ptype {
    WF_P_SELECTOR_ONLY = 0, /* Selector(kind=...) only: a literal is rejected */
    WF_P_STR,               /* Union[Selector, str] */
    WF_P_OPT_STR,           /* Union[Selector, Optional[str]] */
    WF_P_FLOAT01,           /* Union[FloatZeroToOne, Selector] */
    WF_P_OPT_FLOAT01,       /* Union[Optional[FloatZeroToOne], Selector] */
    WF_P_BOOL,              /* Union[bool, Selector] */
    WF_P_ENUM,              /* Union[Literal[...], Selector] */
    WF_P_POS_INT,           /* Union[PositiveInt, Selector] */
};

struct wf_prop {
    const char *name;
    const char *alias; /* second accepted input key ("image" for "images"), or NULL */
    enum wf_ptype type;
    int required;             /* no default */
    int batch;                /* accepts batch-oriented data (get_parameters_accepting_batches) */
    const char *const *kinds; /* selector kinds, NULL-terminated; NULL = no selector */
    const char *default_json; /* JSON text of the default ("0.4", "null"), NULL if required */
    const char *const *enum_values; /* WF_P_ENUM only, NULL-terminated */
    const char *title;
    const char *description;
    const char *examples_json;     /* JSON array text */
    const char *schema_extra_json; /* extra keys merged into the property schema, or NULL */
    const char *type_annotation;   /* for primitives_connections ("float", "str"...) */
};

struct wf_output_def {
    const char *name;
    const char *const *kinds; /* NULL-terminated */
};

struct wf_step;
struct wf_exec;

struct wf_block_vtbl {
    const char *type;              /* canonical identifier, "roboflow_core/...@v3" */
    const char *const *aliases;    /* other accepted "type" literals, NULL-terminated */
    const char *fqcn;              /* fully_qualified_block_class_name (describe) */
    const char *human_name;        /* human_friendly_block_name (describe) */
    const char *schema_extra_json; /* json_schema_extra of the manifest */
    const struct wf_prop *props;   /* properties besides type/name */
    int n_props;
    const struct wf_output_def *outputs; /* describe_outputs() */
    int n_outputs;
    /* Cross-property validator run after per-property checks (optional; none). */
    mlc_status (*check)(const struct wf_step *st, struct wf_error *we);
    /* Runs the step over the whole batch, filling its outputs. */
    mlc_status (*run)(struct wf_exec *x, const struct wf_step *st, struct wf_error *we);
};

/* The registry: every block mlc knows, in describe order. */
extern const struct wf_block_vtbl *const wf_blocks[];
extern const int wf_n_blocks;
/* Finds a block by type literal (canonical or alias); NULL if unknown. */
const struct wf_block_vtbl *wf_block_find(const char *type);

extern const struct wf_block_vtbl wf_block_mlc_v1, wf_block_mlc_v2, wf_block_mlc_v3;
extern const struct wf_block_vtbl wf_block_relative_crop, wf_block_absolute_crop;

/* ---------------------------------------------------------------------------
 * Compiled definition
 * ------------------------------------------------------------------------- */

enum wf_input_type { WF_IN_IMAGE, WF_IN_PARAM, WF_IN_BATCH };

struct wf_input {
    char *name;
    enum wf_input_type type;
    char **kinds;          /* NULL-terminated; {"*"} when undeclared */
    json_t *default_value; /* params; NULL = null */
};

enum wf_ref_type { WF_REF_NONE = 0, WF_REF_INPUT, WF_REF_STEP };

/* A property value: a literal (validated, coerced) or a resolved selector. */
struct wf_pval {
    enum wf_ref_type ref;
    json_t *literal;  /* ref == NONE; coerced value (json null allowed) */
    int input;        /* ref == INPUT: index into wf->inputs */
    int step, output; /* ref == STEP: step index, output index (-1 = "*") */
    char *selector;   /* original selector text */
};

struct wf_step {
    char *name;
    const struct wf_block_vtbl *vt;
    char *type_literal;   /* as written in the definition */
    struct wf_pval *vals; /* vals[i] belongs to vt->props[i] */
    int index;
};

struct wf_output {
    char *name;
    struct wf_pval sel; /* INPUT or STEP; output -1 = wildcard */
};

#define WF_IDLE_SESSIONS 4

struct wf_model_entry {
    char *id;
    mlc_model *model;
    /* Sessions of the model between block calls (wf_session_take/give):
     * their plans stay bound and their choosers keep what they measured. */
    mlc_session *idle[WF_IDLE_SESSIONS];
    int n_idle;
    int n_made; /* sessions made for it (tests) */
};

struct mlc_workflow {
    json_t *definition;
    struct wf_input *inputs;
    int n_inputs;
    struct wf_step *steps;
    int n_steps;
    int *order; /* topological order of step indices */
    struct wf_output *outputs;
    int n_outputs;
    /* options, copied */
    mlc_model_options mopt;
    int has_mopt;
    char *api_key;
    mlc_limits limits;
    /* model cache: loaded once per workflow, shared by concurrent runs */
    pthread_mutex_t lock;
    struct wf_model_entry *models;
    int n_models, cap_models;
};

/* Roboflow's discover_dependent_resources() (spec 1.7): a JSON list of
 * {"resource_type", "metadata"}; selector texts are returned verbatim.
 * New reference; NULL on OOM. */
json_t *wf_step_dependent_resources(const struct wf_step *st);

mlc_status wf_compile(const char *json, size_t n, const mlc_workflow_options *opt,
                      mlc_workflow **wf_out, struct wf_error *we);

/* Per-run switches the HTTP server sets per request. */
struct wf_run_options {
    const char *api_key;                /* request api_key; NULL = the workflow's */
    int allow_file_images;              /* accept {"type": "file"} image inputs, and model
                                           ids naming package directories: 0 = never open
                                           files of this machine a request names */
    int allow_url_images;               /* accept {"type": "url"} image inputs */
    const char *const *excluded_fields; /* output names to drop, NULL-terminated, or NULL */
};
void wf_run_options_default(struct wf_run_options *ro);
mlc_status wf_run(mlc_workflow *wf, const struct wf_run_options *ro, const char *inputs_json,
                  size_t n, char **outputs_json_out, struct wf_error *we);

/* Model cache lookup/load (thread-safe). Borrowed model, valid while wf lives.
 * allow_dirs: model_id may name a package directory (else ids only). */
mlc_status wf_model_get(mlc_workflow *wf, const char *model_id, const char *api_key, int allow_dirs,
                        const mlc_model **model_out, struct wf_error *we);
/* A session of model m (one wf_model_get returned): an idle one, else a new
 * one; wf_session_give returns it for the next block call (or frees it when
 * WF_IDLE_SESSIONS are idle already). Thread-safe. */
mlc_status wf_session_take(mlc_workflow *wf, const mlc_model *m, mlc_session **s_out,
                           mlc_error *err);
void wf_session_give(mlc_workflow *wf, const mlc_model *m, mlc_session *s);

/* ---------------------------------------------------------------------------
 * Execution state handed to blocks
 * ------------------------------------------------------------------------- */

/* An image flowing through a run, with Roboflow's lineage metadata. */
struct wf_img {
    mlc_image *img;  /* owned by the run */
    char *parent_id; /* input name ("image", "image.[1]") or crop id */
    char *root_parent_id;
    int origin_x, origin_y, origin_w, origin_h; /* placement in the parent */
    int root_x, root_y, root_w, root_h;         /* placement in the root image */
    const char *base64; /* original base64 text when the input came as base64 */
};

enum wf_vtype { WF_V_NONE = 0, WF_V_JSON, WF_V_IMAGE };

struct wf_val {
    enum wf_vtype type;
    json_t *json;       /* WF_V_JSON: owned reference (decref'd with the run) */
    struct wf_img *img; /* WF_V_IMAGE */
};

struct wf_exec {
    mlc_workflow *wf;
    const struct wf_run_options *ro;
    const char *api_key;
    size_t n; /* batch size */
    struct core_arena arena;
    struct wf_val **input_vals; /* [input][elem] for batch inputs */
    json_t **params;            /* [input] for parameters (borrowed from the inputs doc) */
    struct wf_val ***step_vals; /* [step][output][elem] */
    mlc_image **owned_images;
    size_t n_owned, cap_owned;
};

/* Value of property p of step st for batch element i (a literal or parameter
 * is wrapped as WF_V_JSON; json null when absent). References are borrowed. */
struct wf_val wf_exec_prop(struct wf_exec *x, const struct wf_step *st, int p, size_t i);
/* Index of property `name` in st's block, or -1. */
int wf_prop_index(const struct wf_block_vtbl *vt, const char *name);
/* Sets output o of step st for element i. JSON references are stolen. */
void wf_exec_set_json(struct wf_exec *x, const struct wf_step *st, int o, size_t i, json_t *v);
void wf_exec_set_image(struct wf_exec *x, const struct wf_step *st, int o, size_t i,
                       struct wf_img *img);
/* Allocates a run-owned wf_img wrapping im (ownership of im taken). NULL on OOM. */
struct wf_img *wf_exec_new_image(struct wf_exec *x, mlc_image *im);
char *wf_exec_strdup(struct wf_exec *x, const char *s);

/* ---------------------------------------------------------------------------
 * Active learning hook
 * ------------------------------------------------------------------------- */

/* One block call's worth of predictions, offered to active learning when the
 * step's disable_active_learning resolved to false. Everything is borrowed
 * for the duration of the call. */
struct wf_al_event {
    const char *api_key;        /* may be NULL */
    const char *model_id;       /* as given to the step */
    const char *target_dataset; /* active_learning_target_dataset, NULL = model's project */
    const char *step_name;
    size_t n;
    const mlc_image *const *images;
    const char *const *predictions_json; /* the block's "predictions" element per image */
    const char *inference_id;
};

/* Registers a batch for active learning (al_hook.c hands each image to the
 * process-wide managers of src/al). Never fails the step: the AL layer logs
 * its own problems and queues durably in the background. */
void wf_al_register(const struct wf_al_event *ev);

/* ---------------------------------------------------------------------------
 * JSON output with Python-compatible number formatting.
 * ------------------------------------------------------------------------- */

/* Appends v as compact JSON in Python json.dumps style (", " / ": "
 * separators off: compact like orjson), doubles in shortest round-trip form. */
mlc_status wf_json_dump(struct core_buf *b, const json_t *v);

/* The selector regex of spec 1.2. Returns 1 on match. */
int wf_is_selector(const char *s);

#endif
