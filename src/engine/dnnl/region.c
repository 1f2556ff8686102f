/*
 * region.c - runs a oneDNN region (see dn.h): the eng_region_vtbl of the
 * oneDNN backend.
 *
 * bind (per session and input shapes) infers every value's dims, then walks
 * the ops once: each compute primitive is created with format_tag any for its
 * destination (and for its source when the layout it is handed has no fast
 * kernel), so blocked layouts flow from one primitive to the next; reorders
 * are only inserted where a consumer cannot take the producer's layout (region
 * inputs, outputs, Flatten-like views, rare mismatches). Buffers are planned
 * by lifetime: each lives from the op that makes it to its value's last use,
 * and plan_pool places them in one block so that no two alive at the same
 * time overlap; a residual add fused as a sum post-op, and softmax, eltwise
 * and binary ops, take over their source's buffer when it dies there (in
 * place). Weights are reordered into the primitive's
 * preferred layout once per net (ctx->consts[].pk, under ctx->lock) and shared
 * read-only by all sessions.
 *
 * run sets the handles of the boundary memories and executes the steps on
 * the session's stream. Threads: Debian's libdnnl uses OpenMP (libgomp), so
 * the thread count is set with omp_set_num_threads() on the calling thread
 * before each run (also the count silu.c's loop runs on).
 *
 * Not here: choosing what becomes a region (partition.c); packing and making
 * the primitives a first bind defers (jobs.c); the state's types (region.h).
 */
#include <omp.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dnnl/region.h"
#include "engine/fit.h"

/* ---- bind helpers --------------------------------------------------------- */

static void md_plain(dnnl_memory_desc_t *md, int rank, const int64_t *dims, dnnl_data_type_t dt)
{
    dnnl_dims_t d;
    for (int i = 0; i < rank; i++) d[i] = dims[i];
    dnnl_memory_desc_init_by_tag(md, rank, d, dt, dn_plain_tag(rank));
}

static void md_any(dnnl_memory_desc_t *md, int rank, const int64_t *dims, dnnl_data_type_t dt)
{
    dnnl_dims_t d;
    for (int i = 0; i < rank; i++) d[i] = dims[i];
    dnnl_memory_desc_init_by_tag(md, rank, d, dt, dnnl_format_tag_any);
}

/* A new pool buffer, alive from now until its last user lets go (buf_put);
 * plan_pool gives it its place. */
static int buf_get(struct dn_state *s, size_t size)
{
    if (core_grow_array((void **)&s->bufs, &s->cap_bufs, s->n_bufs + 1, sizeof *s->bufs)) return -1;
    struct pbuf *b = &s->bufs[s->n_bufs];
    b->size = size;
    b->off = 0;
    b->busy = 1;
    b->t0 = ++s->tick;
    b->t1 = INT_MAX;
    return s->n_bufs++;
}

static void buf_put(struct dn_state *s, int b)
{
    if (--s->bufs[b].busy == 0) s->bufs[b].t1 = ++s->tick;
}

struct bsize {
    size_t size;
    int i;
};

static int by_size_desc(const void *x, const void *y)
{
    const struct bsize *a = x, *b = y;
    return a->size != b->size ? (a->size < b->size ? 1 : -1) : a->i - b->i;
}

/* Places the buffers in the pool: largest first, each at the lowest offset
 * that no buffer alive at the same time covers. Reusing whole buffers
 * instead (a freed one grown to the next value's size) made ViT-B/16's pool
 * at batch 8 54 MB for a peak of about 35 MB alive. */
static int plan_pool(struct dn_state *s)
{
    int n = s->n_bufs;
    struct bsize *ord = mlc_alloc((size_t)(n ? n : 1) * sizeof *ord);
    struct eng_span *live = mlc_alloc((size_t)(n ? n : 1) * sizeof *live);
    if (!ord || !live) {
        mlc_free(ord);
        mlc_free(live);
        return -1;
    }
    for (int i = 0; i < n; i++) ord[i].size = s->bufs[i].size, ord[i].i = i;
    qsort(ord, (size_t)n, sizeof *ord, by_size_desc);
    s->pool_size = 0;
    for (int k = 0; k < n; k++) {
        struct pbuf *b = &s->bufs[ord[k].i];
        int nl = 0, pos;
        for (int j = 0; j < k; j++) { /* placed and alive at the same time, by offset */
            const struct pbuf *c = &s->bufs[ord[j].i];
            if (c->t0 > b->t1 || b->t0 > c->t1) continue;
            int h = nl++;
            while (h > 0 && live[h - 1].off > c->off) live[h] = live[h - 1], h--;
            live[h] = (struct eng_span){c->off, c->size, ord[j].i};
        }
        b->off = eng_first_fit(live, nl, b->size, 64, &pos);
        if (b->off + b->size > s->pool_size) s->pool_size = b->off + b->size;
    }
    s->pool_size = (s->pool_size + 63) & ~(size_t)63;
    mlc_free(ord);
    mlc_free(live);
    return 0;
}

/* region.h. The handle is set later from buffer `buf` (or at run time when
 * buf < 0 and ptr is NULL). */
dnnl_status_t dn_mem_new(struct dn_state *s, const dnnl_memory_desc_t *md, int buf, void *ptr,
                         dnnl_memory_t *out)
{
    if (core_grow_array((void **)&s->mems, &s->cap_mems, s->n_mems + 1, sizeof *s->mems))
        return dnnl_out_of_memory;
    dnnl_status_t r = dnnl_memory_create(out, md, s->eng, ptr ? ptr : DNNL_MEMORY_NONE);
    if (r != dnnl_success) return r;
    s->mems[s->n_mems].mem = *out;
    s->mems[s->n_mems].buf = buf;
    s->n_mems++;
    return dnnl_success;
}

/* A new zeroed element at the end of array *arr (n used of *cap), or NULL. */
static void *push_zeroed(void **arr, int *cap, int *n, size_t size)
{
    if (core_grow_array(arr, cap, *n + 1, size)) return NULL;
    void *e = (char *)*arr + (size_t)(*n)++ * size;
    memset(e, 0, size);
    return e;
}

static const dnnl_memory_desc_t *qmd(const_dnnl_primitive_desc_t pd, dnnl_query_t q);

static struct step *step_new(struct dn_state *s)
{
    return push_zeroed((void **)&s->steps, &s->cap_steps, &s->n_steps, sizeof *s->steps);
}

static void step_arg(struct step *t, int arg, dnnl_memory_t m)
{
    t->args[t->n_args].arg = arg;
    t->args[t->n_args].memory = m;
    t->n_args++;
}

/* Step t's primitive needs a scratchpad of n bytes: one block of the largest
 * size serves every step (they run one after the other); dn_bind gives the
 * steps that need it the memory once all are made. */
static void scratch_need(struct dn_state *s, struct step *t, size_t n)
{
    if (!n) return;
    t->scratch = 1;
    if (n > s->scratch_size) s->scratch_size = n;
}

/* Adds a reorder step src -> a new memory of md (in a pool buffer). */
static dnnl_status_t add_reorder(struct dn_state *s, dnnl_memory_t src,
                                 const dnnl_memory_desc_t *smd, const dnnl_memory_desc_t *md,
                                 dnnl_memory_t *dst, int *buf_out, dnnl_memory_t dst_given)
{
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t p = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_status_t r = dn_region_attr(&attr);
    if (r == dnnl_success)
        r = dnnl_reorder_primitive_desc_create(&pd, smd, s->eng, md, s->eng, attr);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (r != dnnl_success) return r;
    size_t scratch = dnnl_memory_desc_get_size(qmd(pd, dnnl_query_scratchpad_md));
    r = dnnl_primitive_create(&p, pd);
    dnnl_primitive_desc_destroy(pd);
    if (r != dnnl_success) return r;
    struct step *t = step_new(s);
    if (!t) {
        dnnl_primitive_destroy(p);
        return dnnl_out_of_memory;
    }
    t->prim = p;
    scratch_need(s, t, scratch);
    if (!dst_given) {
        int b = buf_get(s, dnnl_memory_desc_get_size(md));
        if (b < 0) return dnnl_out_of_memory;
        r = dn_mem_new(s, md, b, NULL, dst);
        if (r != dnnl_success) return r;
        *buf_out = b;
        dst_given = *dst;
    }
    step_arg(t, DNNL_ARG_FROM, src);
    step_arg(t, DNNL_ARG_TO, dst_given);
    return dnnl_success;
}

/* The memory of value `vi` in layout md (reordered once if needed). */
static dnnl_status_t value_as(struct dn_state *s, int vi, const dnnl_memory_desc_t *md,
                              dnnl_memory_t *out)
{
    struct vstate *v = &s->v[vi];
    if (dnnl_memory_desc_equal(&v->md, md)) {
        *out = v->mem;
        return dnnl_success;
    }
    if (v->alt && dnnl_memory_desc_equal(&v->alt_md, md)) {
        *out = v->alt;
        return dnnl_success;
    }
    if (v->alt && v->alt_buf >= 0) buf_put(s, v->alt_buf);
    v->alt = NULL;
    dnnl_status_t r = add_reorder(s, v->mem, &v->md, md, &v->alt, &v->alt_buf, NULL);
    if (r != dnnl_success) return r;
    v->alt_md = *md;
    *out = v->alt;
    return dnnl_success;
}

static void value_release(struct dn_state *s, int vi)
{
    struct vstate *v = &s->v[vi];
    if (v->buf >= 0) buf_put(s, v->buf);
    if (v->alt && v->alt_buf >= 0) buf_put(s, v->alt_buf);
    v->buf = -1;
    v->alt = NULL;
}

/* IR_ACT_SILU or IR_ACT_GELU when op's last post-op runs as our step after
 * the primitive (silu.c, f32; gelu.c, bf16: each far cheaper than oneDNN's
 * on data in cache), else IR_ACT_NONE. An output over c->silu_max has left
 * the cache when our pass reads it back (efficientnet_b0 at batch 8,
 * docs/PERFORMANCE.md). MLC_DNNL_SILU / MLC_DNNL_GELU =0 never, =1 always. */
static enum ir_act own_act(const struct dn_ctx *c, const struct dn_op *op, const struct vstate *o)
{
    const struct dn_post *p = op->n_post ? &op->post[op->n_post - 1] : NULL;
    int silu = p && !p->sum && p->alg == dnnl_eltwise_swish && p->alpha == 1.0f && !c->bf16;
    int gelu = p && !p->sum && p->alg == dnnl_eltwise_gelu_erf && c->bf16;
    if (!silu && !gelu) return IR_ACT_NONE;
    const char *e = getenv(silu ? "MLC_DNNL_SILU" : "MLC_DNNL_GELU");
    if (e && !strcmp(e, "0")) return IR_ACT_NONE;
    double bytes = c->bf16 ? 2.0 : (double)sizeof(float);
    for (int k = 0; k < o->rank; k++) bytes *= (double)o->dims[k];
    if (!(e && !strcmp(e, "1")) && bytes > (double)c->silu_max) return IR_ACT_NONE;
    return silu ? IR_ACT_SILU : IR_ACT_GELU;
}

/* An int8 op's attributes besides its own post-ops (q8.c): output scales
 * dq per output channel (the weights'; axis 1 of the destination for a
 * conv and a 2-D matmul alike), then post-ops: with a shifted source
 * (DN_Q8_U8_SHIFT), plus its correction (a per-channel operand); times the
 * source's scale (a one-float operand); plus the bias when there is one.
 * Per-channel operands are [1, oc, 1, 1] or [1, oc] by rank. */
struct q8_attr {
    const float *dq;
    int64_t oc;
    int shift, bias, rank;
};

/* op's post-ops but the last n_skip, after an int8 op's own (q; NULL for
 * other ops). */
static dnnl_status_t make_attr(const struct dn_op *op, int n_skip, const struct q8_attr *q,
                               dnnl_primitive_attr_t *attr)
{
    dnnl_status_t r = dn_region_attr(attr);
    if (r != dnnl_success || (!q && op->n_post <= n_skip)) return r;
    dnnl_post_ops_t po = NULL;
    /* (dq NULL: an activation-by-activation op, the scale post-op alone) */
    if (q && q->dq) r = dnnl_primitive_attr_set_output_scales(*attr, q->oc, 1 << 1, q->dq);
    if (r == dnnl_success) r = dnnl_post_ops_create(&po);
    if (q && r == dnnl_success) {
        dnnl_memory_desc_t one, chan;
        dnnl_dims_t d1 = {1, 1, 1, 1}, dc = {1, q->oc, 1, 1};
        dnnl_memory_desc_init_by_tag(&one, q->rank, d1, dnnl_f32, dn_plain_tag(q->rank));
        dnnl_memory_desc_init_by_tag(&chan, q->rank, dc, dnnl_f32, dn_plain_tag(q->rank));
        if (q->shift) r = dnnl_post_ops_append_binary(po, dnnl_binary_add, &chan);
        if (r == dnnl_success) r = dnnl_post_ops_append_binary(po, dnnl_binary_mul, &one);
        if (r == dnnl_success && q->bias)
            r = dnnl_post_ops_append_binary(po, dnnl_binary_add, &chan);
    }
    for (int i = 0; r == dnnl_success && i < op->n_post - n_skip; i++)
        r = op->post[i].sum ? dnnl_post_ops_append_sum(po, 1.0f)
                            : dnnl_post_ops_append_eltwise(po, 1.0f, op->post[i].alg,
                                                           op->post[i].alpha, op->post[i].beta);
    if (r == dnnl_success) r = dnnl_primitive_attr_set_post_ops(*attr, po);
    if (po) dnnl_post_ops_destroy(po);
    return r;
}

/* Whether an int8 convolution or matmul pays for quantizing its source: a
 * group-1 convolution over more than one output pixel per image (SE blocks'
 * 1x1 convolutions on pooled [C, 1, 1] values take a few microseconds in
 * float32, and oneDNN 2.6 has only reference int8 kernels for them); a
 * matmul by constant 2-D weights over 16 rows or more in all (the linear
 * layers of ViT, ConvNeXt and Swin, whose sources are [B, T, K], [T, B, K]
 * or [B*T, K]; not a classifier head below batch 16). The first bind
 * decides (dn_q8_decide), so a head first bound at batch 1 stays float32. */
static int q8_pays(const struct dn_ctx *c, const struct dn_op *op, const struct vstate *a,
                   const struct vstate *o)
{
    if (op->kind == DN_CONV) return op->group == 1 && o->rank == 4 && o->dims[2] * o->dims[3] > 1;
    if (op->kind != DN_MATMUL || op->in[1] >= 0 || c->consts[op->w].rank != 2 || a->rank < 2)
        return 0;
    int64_t rows = 1;
    for (int k = 0; k < a->rank - 1; k++) rows *= a->dims[k];
    return rows >= 16;
}

/* Whether an activation-by-activation matmul pays for quantizing both
 * operands: float32 ones of the same rank, no bias, 1 Mi multiply-adds or
 * more (each of vit_b_16's attention matmuls: 29 Mi). */
static int q8a_pays(const struct dn_op *op, const struct vstate *a, const struct vstate *b,
                    const struct vstate *o)
{
    if (a->rank < 2 || a->rank != b->rank || o->rank != a->rank || op->b >= 0) return 0;
    double macs = (double)a->dims[a->rank - 1];
    for (int k = 0; k < o->rank; k++) macs *= (double)o->dims[k];
    return macs >= 1048576.0;
}

/* Whether eltwise alg (with alpha) is >= 0 everywhere: ReLU, ReLU6, a sigmoid. */
static int clips_at_zero(dnnl_alg_kind_t alg, float alpha)
{
    return (alg == dnnl_eltwise_relu && alpha == 0) || (alg == dnnl_eltwise_clip && alpha >= 0) ||
           alg == dnnl_eltwise_logistic;
}

/* Whether op's output is >= 0 wherever its inputs are: its last post-op
 * clips below at 0, or it is such an activation, a softmax, or it only moves
 * or pools values of an input that is. */
static int out_nonneg(const struct dn_state *s, const struct dn_op *op)
{
    const struct dn_post *p = op->n_post ? &op->post[op->n_post - 1] : NULL;
    if (p) return !p->sum && clips_at_zero(p->alg, p->alpha);
    switch (op->kind) {
    case DN_SOFTMAX:
        return 1;
    case DN_ELTWISE:
        return clips_at_zero(op->alg, op->alpha);
    case DN_POOL:
    case DN_GPOOL:
    case DN_VIEW:
    case DN_TRANSPOSE:
    case DN_SLICE:
        return s->v[op->in[0]].nonneg;
    case DN_CONCAT:
        return s->v[op->in[0]].nonneg && s->v[op->in[1]].nonneg;
    default:
        return 0;
    }
}

/* Adds our quantizing step (q8.c): out = in's n floats quantized per
 * tensor as mode says, their scale into scale's one float (acc: multiplied
 * into it, a second operand's). */
static dnnl_status_t q8_step(struct dn_state *s, dnnl_memory_t in, dnnl_memory_t out,
                             dnnl_memory_t scale, size_t n, int mode, int acc)
{
    struct step *u = step_new(s);
    if (!u) return dnnl_out_of_memory;
    u->q8_in = in;
    u->q8_out = out;
    u->q8_scale = scale;
    u->q8_n = n;
    u->q8_mode = mode;
    u->q8_acc = acc;
    return dnnl_success;
}

/* Wraps constant cid, packed as pd's md for `what`, in a session memory. */
static dnnl_status_t const_mem(struct dn_state *s, const struct dn_op *op, int cid,
                               const dnnl_memory_desc_t *md, dnnl_memory_t *out)
{
    dnnl_status_t r = dn_mem_new(s, md, -1, NULL, out);
    if (r != dnnl_success) return r;
    struct job *j = dn_job_new();
    if (!j) return dnnl_out_of_memory;
    j->op = op;
    j->cid = cid;
    j->md = *md;
    j->mem = *out;
    j->q8 = md->data_type == dnnl_s8;
    return dn_job_post(s, j);
}

static const dnnl_memory_desc_t *qmd(const_dnnl_primitive_desc_t pd, dnnl_query_t q)
{
    return dnnl_primitive_desc_query_md(pd, q, 0);
}

/* Whether conv op, reading a, is a 1x1 with stride > 1 and no padding whose
 * source is a pool buffer or region input in a layout of strides only (plain,
 * channels-last, channel-blocked): then subsample_view describes the pixels
 * it reads. oneDNN 2.6's brgconv_1x1 runs ResNet-50's stride-2 projections
 * at 55-85% of the stride-1 convs' rate (docs/PERFORMANCE.md); the copy is
 * a quarter of the source. MLC_DNNL_SUBSAMPLE=0 turns it off. */
static int subsample_ok(const struct dn_op *op, const struct vstate *a, dnnl_data_type_t dt)
{
    const char *e = getenv("MLC_DNNL_SUBSAMPLE");
    const dnnl_memory_desc_t *m = &a->md;
    if (e && !strcmp(e, "0")) return 0;
    if (op->group != 1 || op->kernel[0] != 1 || op->kernel[1] != 1 || op->dil[0] != 1 ||
        op->dil[1] != 1 || (op->stride[0] == 1 && op->stride[1] == 1))
        return 0;
    for (int k = 0; k < 2; k++)
        if (op->pad_l[k] || op->pad_r[k] || op->stride[k] < 1) return 0;
    if (a->rank != 4 || a->strided || a->buf == -1 ||
        (m->data_type != dt && m->data_type != dnnl_f32) || /* the copy converts f32 */
        m->format_kind != dnnl_blocked || m->offset0 != 0 || m->ndims != 4)
        return 0;
    const dnnl_blocking_desc_t *b = &m->format_desc.blocking;
    for (int k = 0; k < b->inner_nblks; k++)
        if (b->inner_idxs[k] != 1) return 0; /* only C may be blocked */
    return m->padded_dims[2] == m->dims[2] && m->padded_dims[3] == m->dims[3];
}

/* The pixels a strided 1x1 conv reads, as a view of the source's layout:
 * dims H, W become the output's, their strides grow by the conv's. */
static void subsample_view(const dnnl_memory_desc_t *src, const struct dn_op *op,
                           const int64_t *out_dims, dnnl_memory_desc_t *view)
{
    *view = *src;
    for (int k = 0; k < 2; k++) {
        view->dims[2 + k] = view->padded_dims[2 + k] = out_dims[2 + k];
        view->format_desc.blocking.strides[2 + k] *= op->stride[k];
    }
}

/* Creates op `oi`'s primitive and step(s). */
static mlc_status bind_op(struct dn_ctx *c, struct dn_state *s, int oi, const int *last,
                          mlc_error *err)
{
    const struct dn_op *op = &c->ops[oi];
    const char *opname = op->name;
    mlc_status st = MLC_OK;
    dnnl_data_type_t dt = c->bf16 ? dnnl_bf16 : dnnl_f32;
    int in0 = s->fold_x >= 0 ? s->fold_x : op->in[0];
    struct vstate *a = &s->v[in0], *o = &s->v[op->out];
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_desc_t src_md, w_md, b_md, dst_md, any_src;
    dnnl_memory_t m_src = NULL, m_w = NULL, m_b = NULL, m_src1 = NULL, m_dst = NULL;
    dnnl_memory_t m_mean = NULL, m_var = NULL;
    dnnl_dims_t st2, pl, pr, dl, kr;
    union {
        dnnl_convolution_desc_t conv;
        dnnl_pooling_v2_desc_t pool;
        dnnl_inner_product_desc_t ip;
        dnnl_matmul_desc_t mm;
        dnnl_eltwise_desc_t elt;
        dnnl_binary_desc_t bin;
        dnnl_softmax_v2_desc_t sm;
        dnnl_layer_normalization_desc_t ln;
        dnnl_batch_normalization_desc_t bn;
    } d;
    int is_view = op->kind == DN_VIEW;
    int tmp[3] = {-1, -1, -1}; /* per-op scratch buffers, released at the end */
    struct dn_wscale wsg;
    dnnl_memory_t m_ws = NULL; /* the folded conv's scaled weights */
    int flat = 0;              /* matmul run as 2-D on reshaped views of src/dst */
    int plain_row = 0;         /* a one-row matmul on its weights as stored */
    int retry = 0;             /* int8 fell back to float32 (q8.c): bind op again */

    enum ir_act own = own_act(c, op, o);
    /* int8 (q8.c) for a convolution or a matmul by constant weights where
     * q8_pays, decided once per net; its source is quantized by a step of
     * ours just before it, into tmp[0], its scale into tmp[1]. */
    int q8 = c->int8 && (op->kind == DN_CONV || (op->kind == DN_MATMUL && op->in[1] < 0)) &&
             s->fold_s < 0 && dn_q8_decide(c, op->w, q8_pays(c, op, a, o));
    /* int8 for an activation-by-activation matmul (attention's q k^T and p v):
     * both operands quantized per tensor by our steps, no weights (q8a_pays). */
    int q8a =
        c->int8 && op->kind == DN_MATMUL && op->in[1] >= 0 && q8a_pays(op, a, &s->v[op->in[1]], o);
    /* Weights' output channel: a conv's and a transB Gemm's rows, a MatMul's [K, N] columns. */
    int q8_axis = op->kind == DN_MATMUL && !op->trans_b;
    /* u8 for sources >= 0; a matmul's signed source shifted to u8 (q8.c says why) */
    int q8_mode = a->nonneg                                ? DN_Q8_U8
                  : op->kind == DN_MATMUL && op->in[1] < 0 ? DN_Q8_U8_SHIFT
                                                           : DN_Q8_S8;
    dnnl_data_type_t qdt = q8_mode == DN_Q8_S8 ? dnnl_s8 : dnnl_u8;
    dnnl_memory_t m_comp = NULL;
    const float *w_dq = NULL;
    dnnl_memory_t m_qs = NULL;
    /* A strided 1x1 convolution reads only every s-th pixel: it runs as a
     * reorder of that subsample into a dense buffer and a stride-1 conv. */
    int subsample = op->kind == DN_CONV && !q8 && subsample_ok(op, a, dt);
    dnnl_memory_desc_t sub_md;
    o->nonneg = out_nonneg(s, op);
    if (q8) {
        DNCHK(dn_q8_scales(c, op->w, q8_axis, &w_dq), "int8 weights");
        struct q8_attr qa = {w_dq, c->consts[op->w].dims[q8_axis], q8_mode == DN_Q8_U8_SHIFT,
                             op->b >= 0, op->kind == DN_CONV ? 4 : 2};
        DNCHK(make_attr(op, own != IR_ACT_NONE, &qa, &attr), "int8 attributes");
    } else if (q8a) {
        struct q8_attr qa = {NULL, 0, 0, 0, a->rank};
        DNCHK(make_attr(op, own != IR_ACT_NONE, &qa, &attr), "int8 attributes");
    } else {
        DNCHK(make_attr(op, own != IR_ACT_NONE, NULL, &attr), "attributes");
    }
    /* Layout-preserving ops take the value's layout as it is (in dt); a transposed
     * view only an activation x activation matmul (constant weights: slow gemm:jit). */
    if (a->md.data_type == dt && (!a->strided || (op->kind == DN_MATMUL && op->in[1] >= 0)))
        src_md = a->md;
    else
        md_plain(&src_md, a->rank, a->dims, dt);
    md_any(&any_src, a->rank, a->dims, dt);
    md_any(&dst_md, o->rank, o->dims, dt);
    for (int k = 0; k < 2; k++) {
        st2[k] = op->stride[k], pl[k] = op->pad_l[k], kr[k] = op->kernel[k];
        dl[k] = op->dil[k] - 1;
        pr[k] = op->pad_r[k];
    }
    if (subsample) {
        subsample_view(&a->md, op, o->dims, &sub_md);
        md_any(&any_src, 4, (const int64_t *)sub_md.dims, dt);
        st2[0] = st2[1] = 1;
    }

    switch (op->kind) {
    case DN_CONV: {
        const struct dn_const *w = &c->consts[op->w];
        dnnl_dims_t wd;
        int wr = 4;
        if (op->group > 1) {
            wd[0] = op->group, wd[1] = w->dims[0] / op->group, wd[2] = w->dims[1];
            wd[3] = w->dims[2], wd[4] = w->dims[3], wr = 5;
        } else {
            for (int k = 0; k < 4; k++) wd[k] = w->dims[k];
        }
        dnnl_memory_desc_init_by_tag(&w_md, wr, wd, q8 ? dnnl_s8 : dt, dnnl_format_tag_any);
        if (op->b >= 0) md_plain(&b_md, 1, &w->dims[0], dnnl_f32);
        if (q8) md_any(&any_src, a->rank, a->dims, qdt);
        /* Source layout "any": handed a plain layout, oneDNN falls back to a
         * gemm-based kernel 3-4x slower than its blocked direct kernels; the
         * blocked layout it picks matches the previous conv's output, so
         * inside a region this reorders only the region input. */
        DNCHK(dnnl_dilated_convolution_forward_desc_init(
                  &d.conv, dnnl_forward_inference, dnnl_convolution_direct, &any_src, &w_md,
                  op->b >= 0 && !q8 ? &b_md : NULL, &dst_md, st2, dl, pl, pr),
              "convolution descriptor");
        if (op->group > 1 && op->group == w->dims[0] && w->dims[1] == 1 && dt == dnnl_f32) {
            DNCHK(dn_make_prim_prefer(&d.conv, attr, s->eng, &pd, "brdgmm_dw", "jit_dw:"),
                  "convolution primitive");
        } else if (q8) {
            DNCHK(dn_q8_make_prim(c, &d.conv, attr, s->eng, op->w, &pd, &retry),
                  "int8 convolution primitive");
            if (retry) goto done;
        } else
            DNCHK(dn_make_prim(&d.conv, attr, s->eng, &pd, 0), "convolution primitive");
        if (s->fold_s >= 0 &&
            dn_wscale_plan(qmd(pd, dnnl_query_weights_md), &s->v[s->fold_s].md, &wsg)) {
            s->fold_failed = 1;
            goto done;
        }
        break;
    }
    case DN_POOL:
    case DN_GPOOL: {
        if (op->kind == DN_GPOOL) {
            kr[0] = a->dims[2], kr[1] = a->dims[3];
            st2[0] = st2[1] = 1;
            pl[0] = pl[1] = pr[0] = pr[1] = 0;
        } else {
            /* ceil_mode: pad the right so that the last window fits */
            for (int k = 0; k < 2; k++) {
                int64_t need = (o->dims[2 + k] - 1) * op->stride[k] +
                               (op->kernel[k] - 1) * op->dil[k] + 1 - a->dims[2 + k] - pl[k];
                if (need > pr[k]) pr[k] = need;
            }
        }
        dl[0] = dl[1] = op->kind == DN_GPOOL ? 0 : dl[0];
        if (op->kind == DN_GPOOL) dl[1] = 0;
        dnnl_status_t r = dnnl_pooling_v2_forward_desc_init(
            &d.pool, dnnl_forward_inference, op->alg, &src_md, &dst_md, st2, kr, dl, pl, pr);
        if (r == dnnl_success) r = dn_make_prim(&d.pool, attr, s->eng, &pd, 1);
        if (r != dnnl_success) {
            /* Pooling takes no "any" source: retry on the channels-last
             * layout, which every ISA implements, and accept any kernel. */
            dnnl_dims_t dd;
            for (int k = 0; k < 4; k++) dd[k] = a->dims[k];
            dnnl_memory_desc_init_by_tag(&src_md, 4, dd, dt, dnnl_acdb);
            DNCHK(dnnl_pooling_v2_forward_desc_init(&d.pool, dnnl_forward_inference, op->alg,
                                                    &src_md, &dst_md, st2, kr, dl, pl, pr),
                  "pooling descriptor");
            DNCHK(dn_make_prim(&d.pool, attr, s->eng, &pd, 0), "pooling primitive");
        }
        break;
    }
    case DN_IP: {
        const struct dn_const *w = &c->consts[op->w];
        int64_t wd[2] = {op->trans_b ? w->dims[0] : w->dims[1],
                         op->trans_b ? w->dims[1] : w->dims[0]};
        md_any(&w_md, 2, wd, dt);
        if (op->b >= 0) md_plain(&b_md, 1, &wd[0], dnnl_f32);
        DNCHK(dnnl_inner_product_forward_desc_init(&d.ip, dnnl_forward_inference, &any_src, &w_md,
                                                   op->b >= 0 ? &b_md : NULL, &dst_md),
              "inner product descriptor");
        DNCHK(dn_make_prim(&d.ip, attr, s->eng, &pd, 0), "inner product primitive");
        break;
    }
    case DN_MATMUL: {
        /* Constant weights and a dense row-major source: one 2-D GEMM of
         * [prod(leading dims), K] x [K, N], oneDNN's best-tuned matmul shape. */
        dnnl_memory_desc_t dense;
        md_plain(&dense, a->rank, a->dims, dt);
        /* int8 (q8_pays: constant 2-D weights) always so: the quantizing
         * step reads a dense float32 copy. */
        if (op->in[1] < 0 && (a->rank > 2 || q8) &&
            (q8 || dnnl_memory_desc_equal(&src_md, &dense))) {
            const struct dn_const *w = &c->consts[op->w];
            int64_t m = 1, sd[2], wd2[2] = {w->dims[op->trans_b], w->dims[!op->trans_b]}, dd[2];
            for (int k = 0; k < a->rank - 1; k++) m *= a->dims[k];
            sd[0] = m, sd[1] = a->dims[a->rank - 1];
            dd[0] = m, dd[1] = wd2[1];
            md_plain(&src_md, 2, sd, q8 ? qdt : dt);
            md_any(&w_md, 2, wd2, q8 ? dnnl_s8 : dt);
            md_plain(&dst_md, 2, dd, dt);
            if (op->b >= 0) dn_const_md(c, op, op->b, 2, &b_md);
            DNCHK(dnnl_matmul_desc_init(&d.mm, &src_md, &w_md, op->b >= 0 && !q8 ? &b_md : NULL,
                                        &dst_md),
                  "matmul descriptor");
            flat = 1;
            if (!q8) {
                DNCHK(dn_make_prim(&d.mm, attr, s->eng, &pd, 0), "matmul primitive");
                break;
            }
            DNCHK(dn_q8_make_prim(c, &d.mm, attr, s->eng, op->w, &pd, &retry),
                  "int8 matmul primitive");
            if (retry) goto done;
            break;
        }
        if (op->in[1] < 0) {
            const struct dn_const *w = &c->consts[op->w];
            int64_t wd[MLC_MAX_RANK];
            for (int k = 0; k < a->rank - 2; k++) wd[k] = 1;
            wd[a->rank - 2] = w->dims[op->trans_b];
            wd[a->rank - 1] = w->dims[!op->trans_b];
            md_any(&w_md, a->rank, wd, dt);
            /* One row of float32 and no packed-weights cache: the weights as
             * the file stores them for the first run, where packing
             * mobilenet_v3_large's 960x1280 one into a fresh buffer was 2.4
             * ms of 17 (docs/PERFORMANCE.md); brgemm then copies each panel
             * as it goes, 0.07 ms a run there, so the second run packs
             * them (dn_step_repack, remake.c). With a cache the packed copy is mapped,
             * nothing to pack: "any" then. */
            if (a->rank == 2 && a->dims[0] == 1 && dt == dnnl_f32 && !c->pc) {
                dnnl_dims_t d2 = {wd[0], wd[1]};
                dnnl_memory_desc_init_by_tag(&w_md, 2, d2, dt, op->trans_b ? dnnl_ba : dnnl_ab);
                plain_row = 1;
            }
        } else {
            const struct vstate *b = &s->v[op->in[1]];
            /* A transposed view (attention's k^T, and v) is read as it is in
             * f32, where a copy gains nothing. In bf16 oneDNN has no brgemm
             * for such strides and falls back to gemm:jit, 2-2.5x slower on
             * AMX than brgemm on a dense copy; the copy keeps the view's
             * innermost axis (k^T as "acb", which brgemm takes), so it moves
             * whole rows and costs a fifth of what it saves. */
            int dense_b = b->strided && dt == dnnl_bf16;
            if (q8a)
                md_plain(&w_md, b->rank, b->dims, dnnl_s8); /* our step's dense copy */
            else if (b->md.data_type == dt && b->md.format_kind == dnnl_blocked &&
                     b->md.format_desc.blocking.inner_nblks == 0 && !dense_b)
                w_md = b->md;
            else if (dense_b)
                dn_md_dense_like(&w_md, &b->md, dt);
            else
                md_plain(&w_md, b->rank, b->dims, dt);
            s->n_dense_b += dense_b;
        }
        if (q8a ||
            !(src_md.format_kind == dnnl_blocked && src_md.format_desc.blocking.inner_nblks == 0))
            md_plain(&src_md, a->rank, a->dims, q8a ? qdt : dt);
        if (op->b >= 0) dn_const_md(c, op, op->b, a->rank, &b_md);
        DNCHK(dnnl_matmul_desc_init(&d.mm, &src_md, &w_md, op->b >= 0 ? &b_md : NULL, &dst_md),
              "matmul descriptor");
        DNCHK(dn_make_prim(&d.mm, attr, s->eng, &pd, 0), "matmul primitive");
        break;
    }
    case DN_ELTWISE:
        DNCHK(dnnl_eltwise_forward_desc_init(&d.elt, dnnl_forward_inference, op->alg, &src_md,
                                             op->alpha, op->beta),
              "eltwise descriptor");
        DNCHK(dn_make_prim(&d.elt, attr, s->eng, &pd, 0), "eltwise primitive");
        break;
    case DN_BINARY: {
        dnnl_memory_desc_t s1;
        if (op->in[1] >= 0) {
            const struct vstate *b = &s->v[op->in[1]];
            if (b->md.data_type == dt && b->rank == a->rank && !b->strided)
                s1 = b->md;
            else {
                int64_t bd[MLC_MAX_RANK];
                for (int k = 0; k < a->rank; k++)
                    bd[k] = k < a->rank - b->rank ? 1 : b->dims[k - (a->rank - b->rank)];
                md_plain(&s1, a->rank, bd, dt);
            }
        } else {
            dn_const_md(c, op, op->w, a->rank, &s1);
        }
        DNCHK(dnnl_binary_desc_init(&d.bin, op->alg, &src_md, &s1, &src_md), "binary descriptor");
        DNCHK(dn_make_prim(&d.bin, attr, s->eng, &pd, 0), "binary primitive");
        break;
    }
    case DN_SOFTMAX:
        DNCHK(dnnl_softmax_v2_forward_desc_init(&d.sm, dnnl_forward_inference,
                                                dnnl_softmax_accurate, &src_md, &src_md, op->axis),
              "softmax descriptor");
        DNCHK(dn_make_prim(&d.sm, attr, s->eng, &pd, 0), "softmax primitive");
        break;
    case DN_LNORM:
        md_plain(&src_md, a->rank, a->dims, dt);
        DNCHK(dnnl_layer_normalization_forward_desc_init(
                  &d.ln, dnnl_forward_inference, &src_md, NULL, op->eps,
                  (op->w >= 0 ? dnnl_use_scale : 0) | (op->b >= 0 ? dnnl_use_shift : 0)),
              "layer norm descriptor");
        DNCHK(dn_make_prim(&d.ln, attr, s->eng, &pd, 0), "layer norm primitive");
        break;
    case DN_BNORM:
        DNCHK(dnnl_batch_normalization_forward_desc_init(
                  &d.bn, dnnl_forward_inference, &src_md, op->eps,
                  dnnl_use_global_stats | dnnl_use_scale | dnnl_use_shift),
              "batch norm descriptor");
        DNCHK(dn_make_prim(&d.bn, attr, s->eng, &pd, 0), "batch norm primitive");
        break;
    case DN_VIEW:
        md_plain(&src_md, a->rank, a->dims, dt);
        break;
    case DN_TRANSPOSE: {
        /* Describe a's bytes with the output's axis order, reorder to plain. */
        int inv[DNNL_MAX_NDIMS];
        dnnl_memory_desc_t pmd;
        dnnl_memory_t m_in = NULL;
        for (int k = 0; k < a->rank; k++) inv[op->perm[k]] = k;
        DNCHK(dnnl_memory_desc_permute_axes(&pmd, &a->md, inv), "permute");
        if (a->md.format_desc.blocking.inner_nblks == 0 && a->buf != -1) {
            /* No copy: a strided view of a's bytes. matmul reads it as is
             * (attention's q.k^T); other consumers reorder it (value_as). */
            o->md = pmd;
            o->buf = a->buf;
            o->strided = 1;
            if (a->buf >= 0) s->bufs[a->buf].busy++;
            DNCHK(dn_mem_new(s, &pmd, a->buf, NULL, &o->mem), "transposed view");
            goto done;
        }
        DNCHK(dn_mem_new(s, &pmd, a->buf, NULL, &m_in), "permuted memory");
        md_plain(&o->md, o->rank, o->dims, dt);
        DNCHK(add_reorder(s, m_in, &pmd, &o->md, &o->mem, &o->buf, NULL), "transpose");
        goto done;
    }
    case DN_CONCAT: { /* plain sources and destination: ViT tokens are plain */
        dnnl_memory_desc_t mds[2];
        md_plain(&mds[0], a->rank, a->dims, dt);
        md_plain(&mds[1], a->rank, s->v[op->in[1]].dims, dt);
        md_plain(&dst_md, o->rank, o->dims, dt);
        DNCHK(dnnl_concat_primitive_desc_create(&pd, &dst_md, 2, op->axis, mds, attr, s->eng),
              "concat primitive");
        break;
    }
    case DN_SLICE: {
        /* A dense copy of a sub-view of a's plain bytes; a Gather then drops its axis. */
        dnnl_dims_t sd, off;
        dnnl_memory_desc_t sub, pmd;
        dnnl_memory_t m_sub = NULL, cp = NULL;
        for (int k = 0; k < a->rank; k++) /* checked by infer_op */
            dn_slice_range(op, k, a->dims[k], &off[k], &sd[k]), sd[k] -= off[k];
        md_plain(&pmd, a->rank, a->dims, dt);
        DNCHK(value_as(s, op->in[0], &pmd, &cp), "slice source");
        int buf = dnnl_memory_desc_equal(&a->md, &pmd) ? a->buf : a->alt_buf;
        if (buf == -1) DNCHK(add_reorder(s, cp, &pmd, &pmd, &cp, &buf, NULL), "slice copy");
        DNCHK(dnnl_memory_desc_init_submemory(&sub, &pmd, sd, off), "slice view");
        DNCHK(dn_mem_new(s, &sub, buf, NULL, &m_sub), "slice view");
        md_plain(&o->md, a->rank, sd, dt);
        DNCHK(add_reorder(s, m_sub, &sub, &o->md, &o->mem, &o->buf, NULL), "slice");
        md_plain(&o->md, o->rank, o->dims, dt); /* the same, or one dim less (Gather) */
        if (op->sl_drop >= 0) DNCHK(dn_mem_new(s, &o->md, o->buf, NULL, &o->mem), "gather view");
        goto done;
    }
    }

    /* Source(s). */
    dnnl_memory_desc_t nd_src;
    const dnnl_memory_desc_t *want = is_view ? &src_md : qmd(pd, dnnl_query_src_md);
    if (flat) md_plain(&nd_src, a->rank, a->dims, dt), want = &nd_src;
    if (subsample) {
        dnnl_memory_t m_view = NULL;
        DNCHK(dn_mem_new(s, &sub_md, a->buf, NULL, &m_view), "subsample view");
        DNCHK(add_reorder(s, m_view, &sub_md, want, &m_src, &tmp[1], NULL), "subsample");
        s->n_subsampled++;
    } else if (q8 || q8a) {
        /* The source in float32, in the layout the int8 kernel wants (a
         * matmul's: dense), then quantized into tmp[0] by our step. */
        const dnnl_memory_desc_t *qmd_ = flat ? &src_md : want;
        dnnl_memory_desc_t fmd = *want, one;
        dnnl_dims_t d1 = {1, 1, 1, 1};
        dnnl_memory_t m_f = NULL;
        int r1 = op->kind == DN_CONV ? 4 : q8a ? a->rank : 2;
        fmd.data_type = dnnl_f32;
        DNCHK(value_as(s, in0, &fmd, &m_f), "source reorder");
        tmp[0] = buf_get(s, dnnl_memory_desc_get_size(qmd_));
        tmp[1] = buf_get(s, 64);
        if (tmp[0] < 0 || tmp[1] < 0) DNCHK(dnnl_out_of_memory, "int8 source");
        DNCHK(dn_mem_new(s, qmd_, tmp[0], NULL, &m_src), "int8 source");
        dnnl_memory_desc_init_by_tag(&one, r1, d1, dnnl_f32, dn_plain_tag(r1));
        DNCHK(dn_mem_new(s, &one, tmp[1], NULL, &m_qs), "int8 source scale");
        DNCHK(q8_step(s, m_f, m_src, m_qs, dnnl_memory_desc_get_size(&fmd) / sizeof(float), q8_mode,
                      0),
              "step");
        s->n_q8++;
        s->n_q8_u8 += q8_mode != DN_Q8_S8;
        if (q8_mode == DN_Q8_U8_SHIFT) { /* the correction: constant, per channel */
            dnnl_memory_desc_t cmd;
            dnnl_dims_t cd = {1, c->consts[op->w].dims[q8_axis]};
            dnnl_memory_desc_init_by_tag(&cmd, 2, cd, dnnl_f32, dnnl_ab);
            DNCHK(dn_mem_new(s, &cmd, -1, c->consts[op->w].q8_comp, &m_comp), "int8 correction");
        }
    } else {
        DNCHK(value_as(s, in0, want, &m_src), "source reorder");
    }
    if (flat && !q8) {
        int buf = dnnl_memory_desc_equal(&a->md, want) ? a->buf : a->alt_buf;
        DNCHK(dn_mem_new(s, &src_md, buf, NULL, &m_src), "2-D source view");
    }
    if (is_view) {
        /* Same bytes, new dims: share the plain buffer (copy a region input
         * first: its handle is only known at run time). */
        int buf = dnnl_memory_desc_equal(&a->md, want) ? a->buf : a->alt_buf;
        if (buf == -1) {
            dnnl_memory_t cp = NULL;
            DNCHK(add_reorder(s, m_src, want, want, &cp, &buf, NULL), "view copy");
        } else if (buf >= 0) {
            s->bufs[buf].busy++;
        }
        md_plain(&o->md, o->rank, o->dims, dt);
        DNCHK(dn_mem_new(s, &o->md, buf, NULL, &o->mem), "view memory");
        o->buf = buf;
        goto done;
    }
    if (op->kind == DN_MATMUL && op->in[1] >= 0 && q8a) {
        /* The second operand likewise, s8, its scale multiplied into the first's. */
        const dnnl_memory_desc_t *qb = qmd(pd, dnnl_query_weights_md);
        dnnl_memory_desc_t fb = *qb;
        dnnl_memory_t m_bf = NULL;
        fb.data_type = dnnl_f32;
        DNCHK(value_as(s, op->in[1], &fb, &m_bf), "matmul operand");
        tmp[2] = buf_get(s, dnnl_memory_desc_get_size(qb));
        if (tmp[2] < 0) DNCHK(dnnl_out_of_memory, "int8 operand");
        DNCHK(dn_mem_new(s, qb, tmp[2], NULL, &m_src1), "int8 operand");
        DNCHK(q8_step(s, m_bf, m_src1, m_qs, dnnl_memory_desc_get_size(&fb) / sizeof(float),
                      DN_Q8_S8, 1),
              "step");
    } else if (op->kind == DN_MATMUL && op->in[1] >= 0) {
        DNCHK(value_as(s, op->in[1], qmd(pd, dnnl_query_weights_md), &m_src1), "matmul operand");
    }
    if (op->kind == DN_BINARY || op->kind == DN_CONCAT) {
        const dnnl_memory_desc_t *m1 = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 1);
        if (op->in[1] >= 0)
            DNCHK(value_as(s, op->in[1], m1, &m_src1), "binary operand");
        else
            DNCHK(const_mem(s, op, op->w, m1, &m_src1), "binary constant");
    }
    if (op->kind == DN_CONV || op->kind == DN_IP || (op->kind == DN_MATMUL && op->in[1] < 0))
        DNCHK(const_mem(s, op, op->w, qmd(pd, dnnl_query_weights_md), &m_w), "weights");
    if (s->fold_s >= 0) {
        const dnnl_memory_desc_t *wmd = qmd(pd, dnnl_query_weights_md);
        tmp[0] = buf_get(s, dnnl_memory_desc_get_size(wmd));
        if (tmp[0] < 0) DNCHK(dnnl_out_of_memory, "scaled weights");
        DNCHK(dn_mem_new(s, wmd, tmp[0], NULL, &m_ws), "scaled weights");
    }
    if (q8 && op->b >= 0) {
        dnnl_memory_desc_t bmd; /* [1, O, 1, 1] or [1, N]: a binary post-op's operand */
        dn_const_md(c, op, op->b, op->kind == DN_CONV ? 4 : 2, &bmd);
        DNCHK(const_mem(s, op, op->b, &bmd, &m_b), "bias");
    } else if ((op->kind == DN_CONV || op->kind == DN_IP || op->kind == DN_MATMUL) && op->b >= 0) {
        DNCHK(const_mem(s, op, op->b, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1),
                        &m_b),
              "bias");
    }
    if (op->kind == DN_LNORM || op->kind == DN_BNORM) {
        const dnnl_memory_desc_t *sm =
            dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, DNNL_ARG_SCALE);
        if (op->w >= 0) DNCHK(const_mem(s, op, op->w, sm, &m_w), "scale");
        sm = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, DNNL_ARG_SHIFT);
        if (op->b >= 0) DNCHK(const_mem(s, op, op->b, sm, &m_b), "shift");
        sm = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, DNNL_ARG_MEAN);
        if (op->kind == DN_BNORM) {
            DNCHK(const_mem(s, op, op->mean, sm, &m_mean), "mean");
            sm = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, DNNL_ARG_VARIANCE);
            DNCHK(const_mem(s, op, op->var, sm, &m_var), "variance");
        } else if (sm && sm->ndims > 0) {
            tmp[0] = buf_get(s, dnnl_memory_desc_get_size(sm));
            if (tmp[0] < 0) DNCHK(dnnl_out_of_memory, "stats");
            DNCHK(dn_mem_new(s, sm, tmp[0], NULL, &m_mean), "mean");
            const dnnl_memory_desc_t *vm =
                dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, DNNL_ARG_VARIANCE);
            tmp[1] = buf_get(s, dnnl_memory_desc_get_size(vm));
            if (tmp[1] < 0) DNCHK(dnnl_out_of_memory, "stats");
            DNCHK(dn_mem_new(s, vm, tmp[1], NULL, &m_var), "variance");
        }
    }

    /* Destination. */
    o->md = *qmd(pd, dnnl_query_dst_md);
    if (flat) md_plain(&o->md, o->rank, o->dims, dt);
    if (op->sum_in >= 0) {
        struct vstate *x = &s->v[op->sum_in];
        if (last[op->sum_in] == oi && x->buf >= 0 && dnnl_memory_desc_equal(&x->md, &o->md) &&
            s->bufs[x->buf].busy == 1) {
            o->mem = x->mem; /* take over the operand's buffer: dst += conv */
            o->buf = x->buf;
            x->buf = -1;
        } else {
            int b = -1;
            DNCHK(add_reorder(
                      s, x->alt && dnnl_memory_desc_equal(&x->alt_md, &o->md) ? x->alt : x->mem,
                      x->alt && dnnl_memory_desc_equal(&x->alt_md, &o->md) ? &x->alt_md : &x->md,
                      &o->md, &o->mem, &b, NULL),
                  "residual copy");
            o->buf = b;
        }
    } else if ((op->kind == DN_SOFTMAX || op->kind == DN_ELTWISE || op->kind == DN_BINARY) &&
               last[op->in[0]] == oi && op->in[1] != op->in[0] && m_src == a->mem && a->buf >= 0 &&
               s->bufs[a->buf].busy == 1 && dnnl_memory_desc_equal(&a->md, &o->md)) {
        /* In place: the source dies here (ViT's attention scores at batch 8
         * are 15 MB, and softmax kept a second copy). */
        o->mem = a->mem;
        o->buf = a->buf;
        a->buf = -1;
    } else {
        o->buf = buf_get(s, dnnl_memory_desc_get_size(&o->md));
        if (o->buf < 0) DNCHK(dnnl_out_of_memory, "destination");
        DNCHK(dn_mem_new(s, &o->md, o->buf, NULL, &o->mem), "destination");
    }
    m_dst = o->mem;
    if (flat) DNCHK(dn_mem_new(s, &dst_md, o->buf, NULL, &m_dst), "2-D destination view");

    if (m_ws) { /* the weights scaled for this run, just before the conv */
        struct step *u = step_new(s);
        if (!u) DNCHK(dnnl_out_of_memory, "step");
        u->ws_w = m_w;
        u->ws_s = s->v[s->fold_s].mem;
        u->ws_out = m_ws;
        u->ws = wsg;
        m_w = m_ws;
        s->n_folded++;
    }
    struct step *t = step_new(s);
    if (!t) DNCHK(dnnl_out_of_memory, "step");
    t->fixed = op->kind == DN_CONV || op->kind == DN_IP || op->kind == DN_MATMUL;
    scratch_need(s, t, dnnl_memory_desc_get_size(qmd(pd, dnnl_query_scratchpad_md)));
    /* The primitive (the JIT compile) is a job, as the weights are. */
    struct job *j = dn_job_new();
    if (!j) DNCHK(dnnl_out_of_memory, "step");
    j->op = op;
    j->cid = -1;
    j->step = s->n_steps - 1;
    j->pd = pd;
    j->keep_pd = (t->fixed && s->keep_pd) || plain_row;
    if (plain_row) t->row_op = op;
    j->threads = dn_get_threads();
    pd = NULL;
    DNCHK(dn_job_post(s, j), "step");
    step_arg(t, DNNL_ARG_SRC, m_src);
    if (m_src1) step_arg(t, op->kind == DN_MATMUL ? DNNL_ARG_WEIGHTS : DNNL_ARG_SRC_1, m_src1);
    if (op->kind == DN_LNORM || op->kind == DN_BNORM) {
        if (m_w) step_arg(t, DNNL_ARG_SCALE, m_w);
        if (m_b) step_arg(t, DNNL_ARG_SHIFT, m_b);
        if (m_mean) step_arg(t, DNNL_ARG_MEAN, m_mean);
        if (m_var) step_arg(t, DNNL_ARG_VARIANCE, m_var);
    } else if (q8a) {
        step_arg(t, DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, m_qs);
    } else if (q8) {
        step_arg(t, DNNL_ARG_WEIGHTS, m_w);
        int k = 0;
        if (m_comp) step_arg(t, DNNL_ARG_ATTR_MULTIPLE_POST_OP(k++) | DNNL_ARG_SRC_1, m_comp);
        step_arg(t, DNNL_ARG_ATTR_MULTIPLE_POST_OP(k++) | DNNL_ARG_SRC_1, m_qs);
        if (m_b) step_arg(t, DNNL_ARG_ATTR_MULTIPLE_POST_OP(k) | DNNL_ARG_SRC_1, m_b);
    } else {
        if (m_w) step_arg(t, DNNL_ARG_WEIGHTS, m_w);
        if (m_b) step_arg(t, DNNL_ARG_BIAS, m_b);
    }
    step_arg(t, DNNL_ARG_DST, m_dst);
    if (op->kind == DN_CONCAT) /* concat numbers its sources */
        t->args[0].arg = DNNL_ARG_MULTIPLE_SRC, t->args[1].arg = DNNL_ARG_MULTIPLE_SRC + 1;
    if (own != IR_ACT_NONE) { /* the activation left out of attr, on the destination's bytes */
        struct step *u = step_new(s);
        if (!u) DNCHK(dnnl_out_of_memory, "step");
        u->act_mem = m_dst;
        u->act = own;
        u->act_n = dnnl_memory_desc_get_size(&o->md) / (c->bf16 ? 2 : sizeof(float));
        *(own == IR_ACT_SILU ? &s->n_silu : &s->n_gelu) += 1;
    }
done:
fail:
    for (int k = 0; k < 3; k++)
        if (tmp[k] >= 0) buf_put(s, tmp[k]);
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (retry && st == MLC_OK) return bind_op(c, s, oi, last, err);
    return st;
}

static size_t dn_session_size(void *mctx)
{
    (void)mctx;
    return sizeof(struct dn_state);
}

static void dn_unbind(void *mctx, void *state)
{
    struct dn_state *s = state;
    (void)mctx;
    if (!s) return;
    dn_jobs_close(s); /* the helper first: it may still use the rest */
    for (int i = 0; i < s->n_steps; i++) {
        if (s->steps[i].prim) dnnl_primitive_destroy(s->steps[i].prim);
        if (s->steps[i].alt) dnnl_primitive_destroy(s->steps[i].alt);
        if (s->steps[i].pd) dnnl_primitive_desc_destroy(s->steps[i].pd);
    }
    for (int i = 0; i < s->n_mems; i++) dnnl_memory_destroy(s->mems[i].mem);
    mlc_free(s->own_pool);
    if (s->strm) dnnl_stream_destroy(s->strm);
    if (s->eng) dnnl_engine_destroy(s->eng);
    mlc_free(s->steps);
    mlc_free(s->mems);
    mlc_free(s->bufs);
    mlc_free(s->out_mem);
    mlc_free(s->v);
    memset(s, 0, sizeof *s);
}

void dn_set_threads(int n)
{
    if (n > 0) omp_set_num_threads(n);
}

int dn_get_threads(void)
{
    return omp_get_max_threads();
}

/* An op's threading level (adapt.c): the lowest level at which it runs on
 * one thread: 0 (always) when it is small, 1 from level 1 up when it is
 * mid-sized, 2 (only when the region runs everything on one thread) when it
 * is large. Every primitive executed on 2 threads wakes the OpenMP
 * worker and meets it at a barrier: a few microseconds on an idle machine,
 * 50-150 us and more when the other core is busy, which is more than the
 * whole computation of the SE-block convs, pools and multiplies of
 * mobilenet_v3/efficientnet at batch 1 (a few thousand multiply-adds each).
 * oneDNN's compute kernels fix their thread count when the primitive is
 * created, so such ops are created (and run) with one thread. The cuts: lo =
 * 256 Ki multiply-adds (~10 us on one core; MLC_DNNL_SERIAL_MACS moves it),
 * hi = 16 Mi; ops that only move data count 16 multiply-adds per element.
 * (lo was 1 Mi, measured on a 2-core AMD EPYC VM; on this 2-core Xeon an
 * idle machine's barriers are cheap, and 256 Ki is 5-10% faster at batch 1
 * on mobilenet_v3_large and efficientnet_b0: docs/PERFORMANCE.md.) */
static double serial_macs(void)
{
    const char *e = getenv("MLC_DNNL_SERIAL_MACS");
    double x = e ? strtod(e, NULL) : 0;
    return x > 0 ? x : 262144.0;
}

static int op_level(const struct dn_ctx *c, const struct dn_state *s, const struct dn_op *op,
                    double lo)
{
    const struct vstate *o = &s->v[op->out], *a = &s->v[op->in[0]];
    double out = 1, in = 1, macs = 0;
    for (int k = 0; k < o->rank; k++) out *= (double)o->dims[k];
    for (int k = 0; k < a->rank; k++) in *= (double)a->dims[k];
    switch (op->kind) {
    case DN_CONV: {
        const struct dn_const *w = &c->consts[op->w];
        macs = out * (double)w->dims[1] * (double)op->kernel[0] * (double)op->kernel[1];
        break;
    }
    case DN_IP:
        macs = out * (a->dims[0] > 0 ? in / (double)a->dims[0] : in);
        break;
    case DN_MATMUL:
        macs = out * (a->rank > 0 ? (double)a->dims[a->rank - 1] : 1);
        break;
    default:
        macs = (out + in) * 16;
        break;
    }
    return macs < lo ? 0 : macs < 16777216.0 ? 1 : 2;
}

/* MLC_DNNL_LEVEL=0|1|2 pins the threading level (tests, measurements). */
static int pinned_level(void)
{
    const char *e = getenv("MLC_DNNL_LEVEL");
    return e && e[0] >= '0' && e[0] <= '2' && !e[1] ? e[0] - '0' : -1;
}

/* SE scales to fold into the 1x1 conv that reads them (wscale.c): at batch
 * 1 in float32, Mul(x [1,C,H,W], s [1,C,1,1]) whose product only a plain 1x1
 * conv with O < H x W reads. fold[mul] = conv, fold[conv] = mul, else -1;
 * x and s then live until the conv. */
static void find_folds(const struct dn_ctx *c, const struct dn_state *s, int *last, int *fold)
{
    for (int i = 0; i < c->n_ops; i++) fold[i] = -1;
    if (c->bf16 || c->int8) return;
    for (int i = 0; i < c->n_ops; i++) {
        const struct dn_op *m = &c->ops[i];
        if (m->kind != DN_BINARY || m->alg != dnnl_binary_mul || m->in[1] < 0 || m->n_post ||
            m->in[1] == m->in[0])
            continue;
        const struct vstate *x = &s->v[m->in[0]], *sc = &s->v[m->in[1]];
        if (x->rank != 4 || sc->rank != 4 || x->dims[0] != 1 || sc->dims[0] != 1 ||
            sc->dims[1] != x->dims[1] || sc->dims[2] != 1 || sc->dims[3] != 1)
            continue;
        int j = last[m->out], uses = 0;
        for (int k = i + 1; k < c->n_ops; k++) {
            const struct dn_op *q = &c->ops[k];
            uses += (q->in[0] == m->out) + (q->in[1] == m->out) + (q->sum_in == m->out);
        }
        if (j <= i || j >= c->n_ops || uses != 1) continue;
        const struct dn_op *cv = &c->ops[j];
        if (cv->kind != DN_CONV || cv->in[0] != m->out || cv->group != 1 || cv->kernel[0] != 1 ||
            cv->kernel[1] != 1 || cv->stride[0] != 1 || cv->stride[1] != 1 || cv->pad_l[0] ||
            cv->pad_l[1] || cv->pad_r[0] || cv->pad_r[1] || cv->dil[0] != 1 || cv->dil[1] != 1 ||
            fold[j] >= 0)
            continue;
        if (c->consts[cv->w].dims[0] >= x->dims[2] * x->dims[3]) continue;
        fold[i] = j, fold[j] = i;
        for (int k = 0; k < 2; k++)
            if (last[m->in[k]] < j) last[m->in[k]] = j;
    }
}

static mlc_status dn_bind(void *mctx, const mlc_tensor *in, int n_in, void *state, int threads,
                          mlc_error *err)
{
    struct dn_ctx *c = mctx;
    struct dn_state *s = state;
    s->threads = threads > 0 ? threads : c->threads;
    const char *opname = "region";
    mlc_status st = MLC_OK;
    int *last = NULL, *fold = NULL;
    struct dn_shape *shapes = NULL;

    s->v = mlc_calloc((size_t)c->n_vals, sizeof *s->v);
    s->out_mem = mlc_calloc((size_t)c->n_out + 1, sizeof *s->out_mem);
    last = mlc_calloc((size_t)c->n_vals, sizeof *last);
    shapes = mlc_calloc((size_t)c->n_vals, sizeof *shapes);
    fold = mlc_calloc((size_t)c->n_ops + 1, sizeof *fold);
    s->fold_x = s->fold_s = -1;
    if (!s->v || !s->out_mem || !last || !shapes || !fold) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "oneDNN region: out of memory");
        goto fail;
    }
    s->n_v = c->n_vals;
    if ((st = dn_infer_shapes(c, in, n_in, shapes, err))) goto fail;
    for (int i = 0; i < c->n_vals; i++) {
        s->v[i].rank = shapes[i].rank;
        memcpy(s->v[i].dims, shapes[i].dims, sizeof s->v[i].dims);
    }
    dn_set_threads(s->threads);
    DNCHK(dnnl_engine_create(&s->eng, dnnl_cpu, 0), "engine");
    DNCHK(dnnl_stream_create(&s->strm, s->eng, dnnl_stream_default_flags), "stream");
    for (int i = 0; i < c->n_vals; i++) {
        last[i] = -1;
        s->v[i].buf = -1;
        s->v[i].alt_buf = -1;
    }
    for (int i = 0; i < c->n_ops; i++) {
        const struct dn_op *op = &c->ops[i];
        last[op->in[0]] = i;
        if (op->in[1] >= 0) last[op->in[1]] = i;
        if (op->sum_in >= 0) last[op->sum_in] = i;
    }
    for (int i = 0; i < c->n_out; i++) last[c->outs[i]] = c->n_ops;
    find_folds(c, s, last, fold);
    for (int i = 0; i < c->n_in; i++) {
        md_plain(&s->v[i].md, s->v[i].rank, s->v[i].dims, dnnl_f32);
        DNCHK(dn_mem_new(s, &s->v[i].md, -2 - i, NULL, &s->v[i].mem), "input memory");
        s->v[i].buf = -2 - i;
    }
    int nt = dn_get_threads(), has[DN_ADAPT_LEVELS] = {1, 0, 0};
    double lo = serial_macs();
    if ((st = dn_jobs_open(c, s, nt, err))) goto fail;
    for (int i = 0; i < c->n_ops; i++) {
        const struct dn_op *op = &c->ops[i];
        int lvl = nt > 1 ? op_level(c, s, op, lo) : DN_ADAPT_LEVELS, first = s->n_steps;
        /* Made for level 0 even when pinned to 1: layouts are chosen for the
         * parallel kernels, which are the faster choice on an idle machine
         * (a single-thread brgconv asks for other layouts, and a pinned level
         * would then run a different chain than the level it stands for). */
        int single = lvl == 0;
        if (lvl < DN_ADAPT_LEVELS) has[lvl] = 1;
        s->keep_pd = lvl >= 1 && lvl < DN_ADAPT_LEVELS;
        if (fold[i] > i) continue; /* an SE scale, folded into conv fold[i] */
        if (single) dn_set_threads(1);
        if (fold[i] >= 0) { /* this conv reads the SE product fold[i] */
            const struct dn_op *m = &c->ops[fold[i]];
            s->fold_x = m->in[0], s->fold_s = m->in[1], s->fold_failed = 0;
            st = bind_op(c, s, i, last, err);
            s->fold_x = s->fold_s = -1;
            /* Layouts it cannot scale: the product after all, then the conv. */
            if (!st && s->fold_failed) st = bind_op(c, s, fold[i], last, err);
            if (!st && s->fold_failed) st = bind_op(c, s, i, last, err);
            for (int k = 0; !st && k < 2; k++)
                if (last[m->in[k]] == i) value_release(s, m->in[k]);
        } else {
            st = bind_op(c, s, i, last, err);
        }
        if (single) dn_set_threads(nt);
        if (st) goto fail;
        for (int k = first; k < s->n_steps; k++) {
            s->steps[k].lvl = lvl;
            s->steps[k].single = single;
        }
        int used[3] = {op->in[0], op->in[1], op->sum_in};
        for (int k = 0; k < 3; k++)
            if (used[k] >= 0 && last[used[k]] == i) value_release(s, used[k]);
    }
    if ((st = dn_jobs_finish(c, s, err))) goto fail;
    for (int i = 0; i < c->n_out; i++) {
        struct vstate *v = &s->v[c->outs[i]];
        dnnl_memory_desc_t md;
        md_plain(&md, v->rank, v->dims, dnnl_f32);
        DNCHK(dn_mem_new(s, &md, -1, NULL, &s->out_mem[i]), "output memory");
        DNCHK(add_reorder(s, v->mem, &v->md, &md, NULL, NULL, s->out_mem[i]), "output reorder");
        s->steps[s->n_steps - 1].lvl = nt > 1 ? DN_ADAPT_LEVELS - 1 : DN_ADAPT_LEVELS;
    }
    /* The levels that differ: level L from L - 1 when some op starts being
     * single there. MLC_DNNL_LEVEL pins the highest of them <= its value. */
    int pin = pinned_level(), pin_idx = pin < 0 ? -1 : 0;
    s->n_levels = 0;
    for (int l = 0; l < DN_ADAPT_LEVELS; l++)
        if (has[l] && nt > 1) {
            if (pin >= l) pin_idx = s->n_levels;
            s->levels[s->n_levels++] = l;
        }
    if (!s->n_levels) s->levels[s->n_levels++] = 0;
    eng_adapt_init(&s->adapt, s->n_levels, pin_idx);
    if (s->scratch_size) {
        /* One block for every step's scratchpad, in the pool, never shared
         * with activations (a step reads and writes those while it runs). */
        dnnl_memory_desc_t smd;
        dnnl_dims_t sd = {(dnnl_dim_t)s->scratch_size};
        dnnl_memory_t sm = NULL;
        dnnl_memory_desc_init_by_tag(&smd, 1, sd, dnnl_u8, dnnl_a);
        /* Alive at every step, so shared with no value. */
        int b = buf_get(s, s->scratch_size);
        if (b < 0) DNCHK(dnnl_out_of_memory, "scratchpad");
        s->bufs[b].t0 = 0;
        DNCHK(dn_mem_new(s, &smd, b, NULL, &sm), "scratchpad");
        for (int i = 0; i < s->n_steps; i++)
            if (s->steps[i].scratch) step_arg(&s->steps[i], DNNL_ARG_SCRATCHPAD, sm);
    }
    if (plan_pool(s)) DNCHK(dnnl_out_of_memory, "buffer plan");
    mlc_free(last);
    mlc_free(shapes);
    mlc_free(fold);
    return MLC_OK;
fail:
    dn_jobs_close(s);
    mlc_free(last);
    mlc_free(shapes);
    mlc_free(fold);
    return st;
}

static size_t dn_pool_size(void *mctx, void *state)
{
    (void)mctx;
    return ((struct dn_state *)state)->pool_size;
}

/* Points the pool buffers' memories into pool (64-byte aligned, pool_size
 * bytes, alive as long as the state). */
static mlc_status dn_set_pool(void *mctx, void *state, void *pool, mlc_error *err)
{
    struct dn_state *s = state;
    const char *opname = "region";
    mlc_status st = MLC_OK;
    (void)mctx;
    for (int i = 0; i < s->n_mems; i++)
        if (s->mems[i].buf >= 0)
            DNCHK(dnnl_memory_set_data_handle(s->mems[i].mem,
                                              (char *)pool + s->bufs[s->mems[i].buf].off),
                  "handle");
    s->pool_set = 1;
fail:
    return st;
}

static mlc_status dn_run(void *mctx, void *state, const mlc_tensor *in, int n_in, mlc_tensor *out,
                         int n_out, mlc_error *err)
{
    struct dn_ctx *c = mctx;
    struct dn_state *s = state;
    const char *opname = "region";
    mlc_status st = MLC_OK;
    if (n_in != c->n_in || n_out != c->n_out)
        return core_err(err, MLC_STATUS_INTERNAL, "oneDNN region: wrong tensor counts");
    if (!s->pool_set && s->pool_size) {
        /* No engine pool (a caller of the vtable alone): one of our own. */
        char *raw = mlc_alloc(s->pool_size + 64);
        if (!raw)
            return core_err(err, MLC_STATUS_NO_MEMORY, "oneDNN region: out of memory (%zu bytes)",
                            s->pool_size);
        s->own_pool = raw;
        core_prefault(raw, s->pool_size + 64, s->threads);
        if ((st = dn_set_pool(mctx, s, (void *)(((uintptr_t)raw + 63) & ~(uintptr_t)63), err)))
            return st;
    }
    dn_set_threads(s->threads);
    int nt = dn_get_threads(), cur = nt;
    for (int i = 0; i < s->n_mems; i++)
        if (s->mems[i].buf <= -2)
            DNCHK(dnnl_memory_set_data_handle(s->mems[i].mem, in[-2 - s->mems[i].buf].data),
                  "input handle");
    for (int i = 0; i < n_out; i++)
        DNCHK(dnnl_memory_set_data_handle(s->out_mem[i], out[i].data), "output handle");
    /* Single-thread steps run with OpenMP's count at 1 too: kernels that ask
     * for the thread count at execution then stay on this thread. */
    int idx = eng_adapt_pick(&s->adapt), level = s->levels[idx], made = 0;
    double t0 = s->adapt.n_levels > 1 ? core_now() : 0;
    for (int i = 0; i < s->n_steps; i++) {
        struct step *t = &s->steps[i];
        if (t->row_op && s->n_runs > 0) made |= dn_step_repack(c, s, t, nt);
        dnnl_primitive_t p = t->prim;
        int one = nt > 1 && t->lvl <= level;
        opname = "step";
        if (one != t->single && t->fixed) {
            /* Made once, on first need, in a run that is then not timed. */
            if (!t->alt && !t->alt_failed) made |= dn_step_alt(s, t, one ? 1 : nt, nt);
            if (t->alt)
                p = t->alt;
            else
                one = t->single;
        }
        int want = one ? 1 : nt;
        if (want != cur) dn_set_threads(cur = want);
        if (t->act_mem) {
            void *h = NULL;
            DNCHK(dnnl_memory_get_data_handle(t->act_mem, &h), "activation");
            if (t->act == IR_ACT_SILU)
                dn_silu_f32(h, t->act_n);
            else
                dn_gelu_bf16(h, t->act_n);
            continue;
        }
        if (t->q8_out) {
            void *x = NULL, *y = NULL, *sc = NULL;
            DNCHK(dnnl_memory_get_data_handle(t->q8_in, &x), "int8 source");
            DNCHK(dnnl_memory_get_data_handle(t->q8_out, &y), "int8 source");
            DNCHK(dnnl_memory_get_data_handle(t->q8_scale, &sc), "int8 source scale");
            float dq;
            dn_q8_quantize(x, t->q8_n, y, t->q8_mode, &dq);
            *(float *)sc = t->q8_acc ? *(float *)sc * dq : dq;
            continue;
        }
        if (t->ws_out) {
            void *w = NULL, *sc = NULL, *o = NULL;
            DNCHK(dnnl_memory_get_data_handle(t->ws_w, &w), "weights");
            DNCHK(dnnl_memory_get_data_handle(t->ws_s, &sc), "scale");
            DNCHK(dnnl_memory_get_data_handle(t->ws_out, &o), "scaled weights");
            dn_wscale_run(&t->ws, w, sc, o);
            continue;
        }
        DNCHK(dnnl_primitive_execute(p, s->strm, t->n_args, t->args), "execute");
    }
    DNCHK(dnnl_stream_wait(s->strm), "wait");
    s->n_runs++;
    if (s->adapt.n_levels > 1) eng_adapt_record(&s->adapt, idx, made ? -1 : core_now() - t0);
fail:
    if (cur != nt) dn_set_threads(nt);
    return st;
}

const struct eng_adapt *dn_region_adapt(const void *state)
{
    return &((const struct dn_state *)state)->adapt;
}

int dn_region_n_folded(const void *state)
{
    return ((const struct dn_state *)state)->n_folded;
}
int dn_region_n_silu(const void *state)
{
    return ((const struct dn_state *)state)->n_silu;
}

int dn_region_n_gelu(const void *state)
{
    return ((const struct dn_state *)state)->n_gelu;
}

int dn_region_n_dense_b(const void *state)
{
    return ((const struct dn_state *)state)->n_dense_b;
}

int dn_region_n_q8(const void *state, int *n_u8)
{
    const struct dn_state *s = state;
    if (n_u8) *n_u8 = s->n_q8_u8;
    return s->n_q8;
}

int dn_region_n_subsampled(const void *state)
{
    return ((const struct dn_state *)state)->n_subsampled;
}

void dn_ctx_free(void *mctx)
{
    struct dn_ctx *c = mctx;
    if (!c) return;
    for (int i = 0; i < c->n_consts; i++) {
        mlc_free(c->consts[i].data);
        for (int k = 0; k < c->consts[i].n_pk; k++) mlc_free(c->consts[i].pk[k].raw);
        mlc_free(c->consts[i].pk);
        mlc_free(c->consts[i].src_name);
        dn_q8_const_free(&c->consts[i]);
    }
    for (int i = 0; i < c->n_ops; i++) mlc_free(c->ops[i].name);
    mlc_free(c->consts);
    mlc_free(c->ops);
    mlc_free(c->vals);
    mlc_free(c->outs);
    if (c->eng) dnnl_engine_destroy(c->eng);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    mlc_free(c);
}

static const char *dn_describe(void *mctx)
{
    return ((struct dn_ctx *)mctx)->desc;
}

const struct eng_region_vtbl dn_region_vtbl = {
    .name = "dnnl",
    .session_size = dn_session_size,
    .infer = dn_region_infer,
    .bind = dn_bind,
    .run = dn_run,
    .unbind = dn_unbind,
    .free = dn_ctx_free,
    .describe = dn_describe,
    .pool_size = dn_pool_size,
    .set_pool = dn_set_pool,
};
