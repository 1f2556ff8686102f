/*
 * region.h - the oneDNN region's per-session state, shared by region.c
 * (bind and run), jobs.c (the deferred packing and primitive creation of
 * a first bind, on two threads) and remake.c (primitives made again after
 * bind). Private to src/engine/dnnl/.
 */
#ifndef MLC_ENGINE_DNNL_REGION_H
#define MLC_ENGINE_DNNL_REGION_H

#include <stdatomic.h>

#include "engine/dnnl/dn.h"

#define MAX_ARGS 10

struct step {
    dnnl_primitive_t prim;
    int lvl;                  /* runs on one thread from this threading level up (see adapt.c) */
    int single;               /* prim was created for the calling thread alone */
    int fixed;                /* prim's thread count is fixed when it is made (conv, inner product,
                               * matmul); other kernels follow OpenMP's count at execution */
    dnnl_primitive_desc_t pd; /* fixed steps that may switch: kept to make alt */
    dnnl_primitive_t alt;     /* the same step for the other thread count, made on first need */
    int alt_failed;
    /* A one-row matmul bound on its weights as stored (a fast first run,
     * region.c's plain_row): packed from its second run on (remake.c). */
    const struct dn_op *row_op;
    int scratch; /* takes the region's scratchpad (DNNL_ARG_SCRATCHPAD, added by bind) */
    /* Not a primitive: act in place over act_mem's act_n values, a SiLU
     * over floats (silu.c) or a GELU over bf16 (gelu.c). */
    dnnl_memory_t act_mem;
    size_t act_n;
    enum ir_act act;
    /* Not a primitive: ws_out = ws_w scaled by ws_s per input channel
     * (wscale.c), for the folded conv that follows. */
    dnnl_memory_t ws_w, ws_s, ws_out;
    struct dn_wscale ws;
    /* Not a primitive: q8_out = q8_in (q8_n floats) quantized per tensor
     * as q8_mode says (enum dn_q8_mode), and its scale into q8_scale's one
     * float, for the int8 convolution or matmul that follows (q8.c). */
    dnnl_memory_t q8_in, q8_out, q8_scale;
    size_t q8_n;
    int q8_mode;
    int q8_acc; /* multiply the scale into q8_scale's float (a second operand) */
    int n_args;
    dnnl_exec_arg_t args[MAX_ARGS];
};

/* Work bind defers to jobs.c: packing a constant into the layout a
 * primitive asked for (cid >= 0; the data becomes mem's handle), or making
 * step's primitive from pd (cid < 0). Both are most of a first run, and
 * each needs only its own desc, so they start while bind makes the rest. */
struct job {
    const struct dn_op *op;
    int cid;
    dnnl_memory_desc_t md;
    dnnl_memory_t mem;
    int step;
    dnnl_primitive_desc_t pd; /* owned until done */
    dnnl_primitive_t prim;    /* made from pd; the step's once every job is done */
    int keep_pd;              /* hand pd to the step (adapt makes alternates from it) */
    int q8;                   /* packing: the constant's int8 weights (q8.c) */
    int threads;              /* OpenMP threads the primitive is made for */
    atomic_int taken;         /* claimed by one of the threads */
    dnnl_status_t r;
};

struct pbuf {
    size_t size, off; /* off: in the region pool (plan_pool) */
    int busy;
    int t0, t1; /* alive from bind event t0 to t1 (INT_MAX: to the end) */
};

struct memref {
    dnnl_memory_t mem;
    int buf; /* pool buffer whose pointer becomes the handle; -1 none;
              * <= -2: region input -2-buf (handle set at run) */
};

struct vstate {
    dnnl_memory_desc_t md;
    dnnl_memory_t mem;
    int buf;                   /* pool buffer, -1 none, <= -2 region input -2-buf */
    dnnl_memory_desc_t alt_md; /* one converted copy (reorder) for consumers */
    dnnl_memory_t alt;
    int alt_buf;
    int64_t dims[MLC_MAX_RANK];
    int rank;
    int strided; /* md is a permuted (transposed) view: only matmul reads it as is */
    int nonneg;  /* every element >= 0 (a ReLU's output): int8 reads it as u8 */
};

struct dn_state {
    int threads; /* the session's compute threads (bind's) */
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    struct step *steps;
    int n_steps, cap_steps;
    struct memref *mems;
    int n_mems, cap_mems;
    struct pbuf *bufs;
    int n_bufs, cap_bufs;
    dnnl_memory_t *out_mem;
    struct vstate *v;
    int n_v;
    /* The pool buffers live in one block of pool_size bytes (bufs[i].off):
     * the engine's, shared by every region of a plan (they run one after the
     * other and keep nothing in it between runs), else own_pool. */
    size_t pool_size;
    void *own_pool;
    int pool_set;
    int keep_pd; /* bind_op keeps a compute step's primitive desc (for adapt) */
    int n_runs;  /* dn_run's, since bind */
    /* While bind_op binds a conv with an SE scale folded in (wscale.c): the
     * product's operands, x (its source now) and s (-1 otherwise); it sets
     * fold_failed when the layouts do not allow it, having bound nothing. */
    int fold_x, fold_s, fold_failed;
    int n_folded;
    int n_subsampled;    /* strided 1x1 convs run on a dense subsample */
    int n_silu;          /* SiLU post-ops run as our step (own_act) */
    int n_gelu;          /* GELU post-ops run as our step (own_act) */
    int n_dense_b;       /* bf16 matmuls reading a dense copy of a transposed view */
    int n_q8, n_q8_u8;   /* convs and matmuls run in int8; of them, on u8 sources */
    size_t scratch_size; /* the largest scratchpad a step needs */
    int tick;            /* bind events, for the buffers' lifetimes */
    struct job **jobs;   /* posted so far (dn_job_post) */
    int n_jobs, cap_jobs;
    struct dn_jobs *jq;                    /* a first bind's job queue and helper (jobs.c) */
    int levels[DN_ADAPT_LEVELS], n_levels; /* the threading levels that differ */
    struct eng_adapt adapt;
};

#define DNCHK(call, what)                                                                          \
    do {                                                                                           \
        dnnl_status_t s_ = (call);                                                                 \
        if (s_ != dnnl_success) {                                                                  \
            st = core_err(                                                                         \
                err, s_ == dnnl_out_of_memory ? MLC_STATUS_NO_MEMORY : MLC_STATUS_UNSUPPORTED,     \
                "oneDNN: %s: %s failed: %s", opname, what, dn_status_str(s_));                     \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

/* oneDNN sizes its work split from omp_get_max_threads() when a primitive is
 * created and opens parallel regions of that many threads when it runs, so
 * the count is set on the calling thread before both (n <= 0: unchanged). */
void dn_set_threads(int n);
/* OpenMP's current thread count for this thread. */
int dn_get_threads(void);

/* A session memory of md over pool buffer buf (-1: none; ptr, or none yet,
 * is the handle), kept in s->mems until unbind. */
dnnl_status_t dn_mem_new(struct dn_state *s, const dnnl_memory_desc_t *md, int buf, void *ptr,
                         dnnl_memory_t *out);

/* remake.c: step t's primitive made again from its kept desc. dn_step_alt:
 * for `threads` threads (t->alt), with exactly the first's memory layouts;
 * dn_step_repack: a one-row matmul bound on its weights as stored
 * (t->row_op), on packed ones. Each returns 1 when it tried (that run is
 * then not timed); on any failure the step keeps what it had. */
int dn_step_alt(struct dn_state *s, struct step *t, int threads, int nt);
int dn_step_repack(struct dn_ctx *c, struct dn_state *s, struct step *t, int nt);

/* jobs.c: a bind's deferred jobs. dn_jobs_open starts the queue (and, when
 * nt > 1, the helper thread that takes jobs as they are posted); dn_job_new
 * makes a zeroed job, which dn_job_post hands to the queue (the queue owns
 * it, pd included, even when posting fails). dn_jobs_finish, at the end of
 * a bind, runs what is left on this thread and the helper, gives each step
 * its primitive and frees the queue; the first failure is reported, naming
 * its op. dn_jobs_close stops the queue without finishing (a failed bind,
 * unbind; none open: nothing). */
mlc_status dn_jobs_open(struct dn_ctx *c, struct dn_state *s, int nt, mlc_error *err);
struct job *dn_job_new(void);
dnnl_status_t dn_job_post(struct dn_state *s, struct job *j);
mlc_status dn_jobs_finish(struct dn_ctx *c, struct dn_state *s, mlc_error *err);
void dn_jobs_close(struct dn_state *s);

#endif
