/*
 * dn.h - the oneDNN backend's internal model: a region is a list of dn_op
 * over region-local values, compiled from IR nodes by partition.c and run by
 * region.c. Nothing outside src/engine/dnnl/ includes this.
 *
 * Values: 0..n_in-1 are the region's inputs (in the order given to
 * ir_add_region), the rest are produced by exactly one op each, in op order.
 * Constants (weights, bias, binary operands, norm parameters) are copied into
 * the context at partition time (f32, C order); weights are reordered into the
 * layout a primitive asks for at the first bind and shared by all sessions.
 */
#ifndef MLC_ENGINE_DNNL_DN_H
#define MLC_ENGINE_DNNL_DN_H

#include <pthread.h>
#include <stdint.h>

#include <dnnl.h>

#include "engine/adapt.h"
#include "engine/backend.h"
#include "engine/pcache.h"

enum dn_kind {
    DN_CONV,      /* 2-D convolution (groups, dilation, pads) */
    DN_IP,        /* inner product [M, K] x [N, K]^T (Gemm runs as DN_MATMUL) */
    DN_MATMUL,    /* MatMul: B constant (weights) or an activation (batched) */
    DN_POOL,      /* MaxPool / AveragePool */
    DN_GPOOL,     /* GlobalAveragePool / GlobalMaxPool */
    DN_ELTWISE,   /* unary activation */
    DN_BINARY,    /* Add/Sub/Mul/Div, second operand an activation or constant */
    DN_SOFTMAX,   /* softmax along one axis */
    DN_LNORM,     /* LayerNormalization over the last axis */
    DN_BNORM,     /* BatchNormalization (inference, global stats) */
    DN_VIEW,      /* Flatten/Reshape: same bytes, plain layout, new dims */
    DN_TRANSPOSE, /* axes permutation: one reorder */
    DN_SLICE,     /* Slice (steps 1) / Gather of one index: a reorder of a sub-view */
    DN_CONCAT,    /* Concat of two activations along `axis` */
};

#define DN_MAX_POST 4

struct dn_post {
    int sum;             /* 1: dst += other value (residual add); else eltwise */
    dnnl_alg_kind_t alg; /* eltwise algorithm */
    float alpha, beta;
};

/* A constant copied out of the graph (f32) plus its packed variants. */
struct dn_const {
    int rank;
    int64_t dims[MLC_MAX_RANK];
    float *data; /* f32 plain; NULL once replaced by a packed copy */
    /* Packed (reordered) variants, created at bind under ctx->lock. */
    struct dn_packed {
        dnnl_memory_desc_t md;
        void *data; /* mlc_alloc, 64-byte aligned within (see region.c) */
        void *raw;
    } * pk;
    int n_pk;
    int n_pk_plain_users; /* binds that use `data` directly (then it is kept) */
    int busy;             /* a thread is packing it (others wait on ctx->cond) */
    /* The initializer it came from, for the packed-weights cache
     * (engine/pcache.h): name (owned) and raw_data span in the model file;
     * NULL name when it did not come from one. lazy: its bytes were never
     * read (IR_TENSOR_LAZY): data is NULL until a cache entry or the
     * model file supplies them. */
    char *src_name;
    int64_t src_off;
    size_t src_len;
    int lazy;
    /* int8 convolution weights (q8.c): per output channel dequantization
     * scales, the s8 plain (oihw) copy every layout is reordered from, and
     * those packed layouts. NULL until an int8 bind asks. */
    float *q8_dq;   /* [2 * channels]: the scales, then q8_comp */
    float *q8_comp; /* per channel: q8_dq * -128 * the quantized weights' sum */
    int8_t *q8_plain;
    struct dn_packed *q8_pk;
    int n_q8_pk;
    int q8_axis;   /* the weights' output-channel axis (dn_q8_scales) */
    int q8_mapped; /* q8_dq is the packed-weights cache's (not ours to free) */
    int q8_cache;  /* the f32 weights were the file's: int8 forms may be cached */
    int q8_state;  /* its op in int8: 0 undecided, 1 yes, 2 for good, -1 no (dn_q8_decide) */
};

struct dn_op {
    enum dn_kind kind;
    char *name;    /* ONNX node name (owned), for error messages */
    int in[2];     /* value ids; in[1] -1 when absent or constant */
    int out;       /* value id */
    int w, b;      /* const ids: weights/second operand/scale, bias/shift (-1 none) */
    int mean, var; /* const ids for BNORM */
    /* conv / pool */
    int64_t stride[2], pad_l[2], pad_r[2], dil[2], kernel[2], group;
    int ceil_mode;
    int count_pad;       /* AveragePool count_include_pad */
    dnnl_alg_kind_t alg; /* pool/eltwise/binary algorithm */
    float alpha, beta, eps;
    int axis;                        /* softmax axis, view/flatten axis */
    int trans_b;                     /* Gemm transB: constant weights stored [N, K] */
    int b_first;                     /* binary: constant is the first operand (Sub/Div order) */
    int64_t view_dims[MLC_MAX_RANK]; /* Reshape target (0 = copy, -1 = infer) */
    int view_rank;                   /* 0: Flatten at `axis` */
    int perm[MLC_MAX_RANK];          /* DN_TRANSPOSE: out axis i = in axis perm[i] */
    struct dn_post post[DN_MAX_POST];
    int n_post;
    int sum_in; /* value id added by a sum post-op, -1 none */
    /* DN_SLICE: per input axis [sl_lo, sl_hi) as ONNX Slice gives them
     * (negative from the end, clamped at bind); axis sl_drop (-1 none) is a
     * Gather index sl_lo, removed from the output. */
    int64_t sl_lo[MLC_MAX_RANK], sl_hi[MLC_MAX_RANK];
    int sl_drop;
};

struct dn_value {
    int rank; /* static rank from the graph */
};

/* Axis d of a DN_SLICE over an extent of `dim`: [*lo, *hi); -1 when empty
 * or (Gather) out of range. */
static inline int dn_slice_range(const struct dn_op *op, int d, int64_t dim, int64_t *lo,
                                 int64_t *hi)
{
    int64_t b = op->sl_lo[d], e = op->sl_hi[d];
    if (b < 0) b += dim;
    if (d == op->sl_drop) {
        *lo = b, *hi = b + 1;
        return b >= 0 && b < dim ? 0 : -1;
    }
    if (e < 0) e += dim;
    *lo = b = b < 0 ? 0 : b > dim ? dim : b;
    *hi = e = e < 0 ? 0 : e > dim ? dim : e;
    return e > b ? 0 : -1;
}

struct dn_ctx {
    int n_in, n_out;
    int n_vals;
    struct dn_value *vals;
    int *outs; /* value ids of the region outputs, in ir_add_region order */
    struct dn_op *ops;
    int n_ops;
    struct dn_const *consts;
    int n_consts;
    int threads;
    int bf16;
    int int8;              /* group-1 convolutions in int8 (q8.c), the rest in f32 */
    size_t silu_max;       /* largest output our SiLU/GELU steps take (dn_silu_max) */
    struct eng_pcache *pc; /* packed-weights cache (borrowed from the net), or NULL */
    pthread_mutex_t lock;  /* guards consts[] packing state (at first binds) */
    pthread_cond_t cond;   /* a constant finished packing */
    dnnl_engine_t eng;     /* for packing reorders */
    char desc[160];
};

/* Threading levels (region.c) are chosen by engine/adapt.h's chooser. */
#define DN_ADAPT_LEVELS ENG_ADAPT_LEVELS

extern const struct eng_region_vtbl dn_region_vtbl;

/* The chooser of a bound region state (for tests and diagnostics). */
const struct eng_adapt *dn_region_adapt(const void *state);
/* How many SE scales a bound state folded into conv weights (wscale.c). */
int dn_region_n_folded(const void *state);
/* Convolutions a bound state runs in int8 (q8.c; tests); *n_u8 (may be
 * NULL): how many of them read u8 (non-negative) sources. */
int dn_region_n_q8(const void *state, int *n_u8);
/* Strided 1x1 convolutions a bound state runs on a dense subsample (tests). */
int dn_region_n_subsampled(const void *state);
/* SiLU post-ops a bound state runs as silu.c's step (tests). */
int dn_region_n_silu(const void *state);
/* GELU post-ops a bound state runs as gelu.c's step (tests). */
int dn_region_n_gelu(const void *state);
/* bf16 matmuls a bound state feeds a dense copy of a transposed operand (tests). */
int dn_region_n_dense_b(const void *state);

/* shapes.c: every value's dims (v: ctx->n_vals of them) from the region's
 * inputs, checked against each op; and the vtable's infer (output dims). */
struct dn_shape {
    int64_t dims[MLC_MAX_RANK];
    int rank;
};
mlc_status dn_infer_shapes(const struct dn_ctx *c, const mlc_tensor *in, int n_in,
                           struct dn_shape *v, mlc_error *err);
mlc_status dn_region_infer(void *mctx, const mlc_tensor *in, int n_in, mlc_tensor *out, int n_out,
                           mlc_error *err);

/* pack.c: the plain tag of a rank (a, ab, ... abcdef); constant cid's
 * logical md as op sees it at rank rank_as (grouped conv weights as goihw,
 * Gemm's B transposed when transB is 0, broadcast operands padded with 1s);
 * and cid's data in layout want, packed once per net (thread-safe; the
 * pointer lives as long as ctx; spare may be NULL: none, and the plain
 * copy is freed). */
dnnl_format_tag_t dn_plain_tag(int rank);
void dn_const_md(const struct dn_ctx *c, const struct dn_op *op, int cid, int rank_as,
                 dnnl_memory_desc_t *md);
/* A packer's spare buffer: the plain copy of the last constant it packed,
 * no longer needed and already resident. The next packing goes into it when
 * it is large enough, so a packer that goes from the largest constant down
 * touches one constant's worth of fresh memory in all (page faults cost more
 * than the reorders in this VM; docs/PERFORMANCE.md). The loader and the
 * partition leave 64 bytes of room at the end of weights, for the packed
 * copy's 64-byte alignment. Zeroed = empty; dn_spare_free releases it. */
struct dn_spare {
    void *raw;
    size_t cap; /* core_alloc_size(raw) */
};
void dn_spare_free(struct dn_spare *spare);
dnnl_status_t dn_const_get(struct dn_ctx *c, const struct dn_op *op, int cid,
                           const dnnl_memory_desc_t *want, struct dn_spare *spare, void **data_out);

/* prim.c: the attributes every region primitive starts from (user-mode
 * scratchpad); a desc's first implementation, or dnnl_unimplemented when
 * reject_ref and it is a reference kernel; the first implementation unless
 * its name starts with avoid and a later one starts with prefer. */
dnnl_status_t dn_region_attr(dnnl_primitive_attr_t *attr);
dnnl_status_t dn_make_prim(const_dnnl_op_desc_t d, const_dnnl_primitive_attr_t attr,
                           dnnl_engine_t eng, dnnl_primitive_desc_t *pd, int reject_ref);
dnnl_status_t dn_make_prim_prefer(const_dnnl_op_desc_t d, const_dnnl_primitive_attr_t attr,
                                  dnnl_engine_t eng, dnnl_primitive_desc_t *pd, const char *avoid,
                                  const char *prefer);

/* pack.c: the data of the variant of list pk (n of them) in layout want,
 * or NULL; and room for one more variant in *pk (0, -1: out of memory). */
void *dn_packed_find(const struct dn_packed *pk, int n, const dnnl_memory_desc_t *want);
int dn_packed_grow(struct dn_packed **pk, int n);
/* pack.c: the packed-weights cache's entry of constant k in layout want
 * (its bytes, mapped as long as the net lives; a hit is counted), or NULL. */
const void *dn_cache_lookup(struct dn_ctx *c, const struct dn_const *k,
                            const dnnl_memory_desc_t *want);
/* pack.c: a lazy constant's plain bytes, read from the model file (under
 * c->lock). */
dnnl_status_t dn_const_load(struct dn_ctx *c, struct dn_const *k);

/* q8.c: int8 convolutions and matmuls. dn_q8_scales: constant cid's
 * dequantization scales per output channel, the channel being its axis
 * `axis` (0: rows; 1: a [K, N] matrix's columns), quantizing it once per
 * net (thread-safe); the array lives as long as ctx. dn_const_get_q8: its
 * s8 weights in layout want (packed once per net; after dn_q8_scales).
 * dn_q8_quantize: y = x quantized per tensor as mode says, on the calling
 * thread's OpenMP threads; *dq_out = the scale that maps y back (x ~ (y -
 * offset) * dq). dn_q8_const_free: k's int8 copies. */
dnnl_status_t dn_q8_scales(struct dn_ctx *c, int cid, int axis, const float **dq);
dnnl_status_t dn_const_get_q8(struct dn_ctx *c, const struct dn_op *op, int cid,
                              const dnnl_memory_desc_t *want, void **data_out);
enum dn_q8_mode {
    DN_Q8_S8,       /* s8: round(x * 127 / max) */
    DN_Q8_U8,       /* u8, x >= 0: round(x * 255 / max) */
    DN_Q8_U8_SHIFT, /* u8: round(x * 127 / max) + 128 (matmuls' signed sources) */
};
void dn_q8_quantize(const float *x, size_t n, void *y, int mode, float *dq_out);
/* Whether the conv owning weights cid runs in int8: decided at its first
 * bind (want), then the same for every session and shape, so that its
 * weights exist in one form. dn_q8_reject turns a yes into a no (oneDNN
 * offered only a reference kernel) unless dn_q8_commit came first (1 when
 * it did); dn_q8_commit fixes the yes, once a kernel is made, and frees the
 * float32 weights. Thread-safe. q8_state: 2 committed. */
int dn_q8_decide(struct dn_ctx *c, int cid, int want);
int dn_q8_reject(struct dn_ctx *c, int cid);
void dn_q8_commit(struct dn_ctx *c, int cid);
/* An int8 op's primitive desc from d (weights cid) into *pd, committing
 * the op to int8; or, when oneDNN has only a reference int8 kernel for it
 * and dn_q8_reject allows, none and *retry = 1: bind the op again (in
 * float32 now). */
dnnl_status_t dn_q8_make_prim(struct dn_ctx *c, const_dnnl_op_desc_t d,
                              const_dnnl_primitive_attr_t attr, dnnl_engine_t eng, int cid,
                              dnnl_primitive_desc_t *pd, int *retry);
void dn_q8_const_free(struct dn_const *k);

/* wscale.c: W'[o][c] = W[o][c] * s[c] for a 1x1 convolution's packed
 * weights w and an SE block's scale s [1,C,1,1] (see the file). plan checks
 * the two layouts (0, or -1 when it does not handle them); run writes out,
 * laid out as w. */
struct dn_wscale {
    int64_t n_ob, c, blk; /* output-channel blocks, input channels, o's block */
    int64_t s_ob, s_c;    /* strides (floats) of an o block and of a c */
};
int dn_wscale_plan(const dnnl_memory_desc_t *w, const dnnl_memory_desc_t *s, struct dn_wscale *g);
void dn_wscale_run(const struct dn_wscale *g, const float *w, const float *s, float *out);

/* silu.c: x[i] * sigmoid(x[i]) in place, on the OpenMP threads the
 * calling thread is set to. */
void dn_silu_f32(float *x, size_t n);
/* The largest output (bytes) whose SiLU runs as that step rather than as
 * oneDNN's post-op: a quarter of the last-level cache the calling CPU
 * shares (sysfs), 8 MiB when sysfs does not say; no limit on AMD family
 * 19h, whose half-width AVX-512 makes oneDNN's post-op the dearer (silu.c). */
size_t dn_silu_max(void);

/* silu.c: fn(arg, a, m) over [a, a + m) chunks of [0, n), one per OpenMP
 * thread of the calling thread's count, or [0, n) on the caller when n is
 * small. */
void dn_par_range(size_t n, void (*fn)(void *arg, size_t a, size_t m), void *arg);
/* gelu.c: x[i] * Phi(x[i]) in place over n bf16 values (their bits), on
 * the OpenMP threads the calling thread is set to. */
void dn_gelu_bf16(uint16_t *x, size_t n);

/* packw.c: plain float32 weights s (md src, any strides) into d in the
 * blocked layout want (at most two inner blocks, on different dims), on
 * the calling thread's OpenMP threads, when packw.c writes that layout and
 * does it faster than oneDNN's reorder: 0; else -1, d untouched. */
int dn_pack_blocked(const dnnl_memory_desc_t *src, const void *s, const dnnl_memory_desc_t *want,
                    void *d);
/* The same loop for any layout it can write, whatever the speed
 * (tests, and mlc_micro_dnnl 13 to time it against oneDNN's reorder). */
int dn_pack_blocked_any(const dnnl_memory_desc_t *src, const void *s,
                        const dnnl_memory_desc_t *want, void *d);
/* pack.c: one reorder of src (smd) into dst (dmd), run now on eng. */
dnnl_status_t dn_reorder_run(dnnl_engine_t eng, const dnnl_memory_desc_t *smd, void *src,
                             const dnnl_memory_desc_t *dmd, void *dst);

/* Frees a context built by partition.c (also used on partition failure). */
void dn_ctx_free(void *ctx);

/* dnnl status -> text. */
const char *dn_status_str(dnnl_status_t s);
/* A dense layout for a strided view v, its last two axes in v's order (prim.c). */
void dn_md_dense_like(dnnl_memory_desc_t *md, const dnnl_memory_desc_t *v, dnnl_data_type_t dt);

#endif
