/*
 * partition.c - eng_dnnl_partition(): replaces runs of oneDNN-capable nodes by
 * Region nodes (see engine/backend.h and dn.h).
 *
 * What is taken: float32 Conv (2-D; groups, dilation, explicit pads), Gemm
 * with constant B (a matmul with transB), MatMul (constant B, or batched with an
 * activation B of equal rank), Max/AveragePool, GlobalAverage/MaxPool,
 * unary activations, Add/Sub/Mul/Div (broadcast second operand), Softmax,
 * LayerNormalization (last axis), BatchNormalization, Flatten, Reshape with
 * a constant target, Transpose, Slice with constant bounds and steps 1 and
 * Gather of one constant index (the qkv split and class token of ViTs),
 * Concat of two activations (the class token and the patches). Fused node
 * activations (node->act) become eltwise post-ops; an Add whose one operand
 * is produced by a Conv/Gemm/MatMul used only there becomes a sum post-op of
 * that producer (the residual add).
 *
 * A region is a maximal run of taken nodes in the graph's topological order;
 * nodes left to the reference kernels inside the run are allowed when they
 * read nothing the run produced (they then run before the region), so a
 * region can never be part of a cycle. Regions without any
 * compute-heavy op and with a single node are left to the reference kernels
 * (a reorder in and out would cost more than the op).
 *
 * Not here: running (region.c). Constants are copied into the region context
 * (the engine frees unused graph constants after partition).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dnnl/dn.h"

struct builder {
    struct ir_graph *g;
    struct dn_ctx *c;
    int *val_of; /* graph tensor -> value id, -1 */
    int *in_t;   /* region inputs (graph tensor indices) */
    int cap_in, cap_ops, cap_vals, cap_consts;
};

static int is_const(const struct ir_graph *g, int t)
{
    return t >= 0 && g->tensors[t].data != NULL;
}

static int is_f32(const struct ir_graph *g, int t)
{
    return t >= 0 && g->tensors[t].dtype == MLC_DTYPE_F32 && g->tensors[t].rank >= 0;
}

static int act_posts(const struct ir_node *n, struct dn_post *p, int *np)
{
    struct dn_post e = {0};
    switch (n->act) {
    case IR_ACT_NONE:
        return 0;
    case IR_ACT_RELU:
        e.alg = dnnl_eltwise_relu;
        break;
    case IR_ACT_LEAKY_RELU:
        e.alg = dnnl_eltwise_relu, e.alpha = n->act_alpha;
        break;
    case IR_ACT_CLIP:
        e.alg = dnnl_eltwise_clip_v2, e.alpha = n->act_alpha, e.beta = n->act_beta;
        break;
    case IR_ACT_SIGMOID:
        e.alg = dnnl_eltwise_logistic;
        break;
    case IR_ACT_HARD_SIGMOID:
        if (*np + 2 > DN_MAX_POST) return -1;
        p[(*np)++] = (struct dn_post){0, dnnl_eltwise_linear, n->act_alpha, n->act_beta};
        e.alg = dnnl_eltwise_clip_v2, e.alpha = 0, e.beta = 1;
        break;
    case IR_ACT_HARD_SWISH:
        e.alg = dnnl_eltwise_hardswish;
        break;
    case IR_ACT_SILU:
        e.alg = dnnl_eltwise_swish, e.alpha = 1;
        break;
    case IR_ACT_GELU:
        e.alg = dnnl_eltwise_gelu_erf;
        break;
    case IR_ACT_GELU_TANH:
        e.alg = dnnl_eltwise_gelu_tanh;
        break;
    case IR_ACT_TANH:
        e.alg = dnnl_eltwise_tanh;
        break;
    default:
        return -1;
    }
    if (*np >= DN_MAX_POST) return -1;
    p[(*np)++] = e;
    return 0;
}

/* Unary op -> eltwise algorithm (and params); 0 when not unary. */
static int unary_alg(const struct ir_graph *g, const struct ir_node *n, dnnl_alg_kind_t *alg,
                     float *alpha, float *beta)
{
    *alpha = 0, *beta = 0;
    switch (n->op) {
    case IR_OP_Relu:
        *alg = dnnl_eltwise_relu;
        return 1;
    case IR_OP_LeakyRelu:
        *alg = dnnl_eltwise_relu, *alpha = ir_attr_float(n, "alpha", 0.01f);
        return 1;
    case IR_OP_Sigmoid:
        *alg = dnnl_eltwise_logistic;
        return 1;
    case IR_OP_Tanh:
        *alg = dnnl_eltwise_tanh;
        return 1;
    case IR_OP_HardSwish:
        *alg = dnnl_eltwise_hardswish;
        return 1;
    case IR_OP_HardSigmoid: /* linear, then a clip post-op (see fill_op) */
        *alg = dnnl_eltwise_linear, *alpha = ir_attr_float(n, "alpha", 0.2f);
        *beta = ir_attr_float(n, "beta", 0.5f);
        return 1;
    case IR_OP_Gelu: {
        const char *ap = ir_attr_str(n, "approximate", "none");
        *alg = strcmp(ap, "tanh") ? dnnl_eltwise_gelu_erf : dnnl_eltwise_gelu_tanh;
        return 1;
    }
    case IR_OP_Clip: {
        float lo = -3.4e38f, hi = 3.4e38f;
        if (n->n_in > 1 && n->in[1] >= 0) {
            if (!is_const(g, n->in[1])) return 0;
            lo = *(const float *)g->tensors[n->in[1]].data;
        }
        if (n->n_in > 2 && n->in[2] >= 0) {
            if (!is_const(g, n->in[2])) return 0;
            hi = *(const float *)g->tensors[n->in[2]].data;
        }
        *alg = dnnl_eltwise_clip_v2, *alpha = lo, *beta = hi;
        return 1;
    }
    default:
        return 0;
    }
}

/* Whether b broadcasts to a (numpy rules, b never larger). */
static int bcast_to(const struct ir_graph *g, int a, int b)
{
    const struct ir_tensor *ta = &g->tensors[a], *tb = &g->tensors[b];
    if (is_const(g, a) || tb->rank > ta->rank || ta->rank < 1 || ta->rank > 5) return 0;
    /* An activation operand must have a's rank (region.c reorders it as is). */
    if (!is_const(g, b) && tb->rank != ta->rank) return 0;
    for (int d = 0; d < tb->rank; d++) {
        int64_t x = ta->dims[ta->rank - tb->rank + d], y = tb->dims[d];
        if (!(y == 1 || x == y)) return 0;
    }
    return 1;
}

/* Binary op operands as oneDNN wants them: *x full-shape activation, *y the
 * (possibly broadcast) second operand. Add/Mul may swap (SE blocks compute
 * Mul(scale[N,C,1,1], x)). */
static int binary_order(const struct ir_graph *g, const struct ir_node *n, int *x, int *y)
{
    if (n->n_in != 2 || !is_f32(g, n->in[0]) || !is_f32(g, n->in[1])) return 0;
    if (bcast_to(g, n->in[0], n->in[1])) {
        *x = n->in[0], *y = n->in[1];
        return 1;
    }
    if ((n->op == IR_OP_Add || n->op == IR_OP_Mul) && bcast_to(g, n->in[1], n->in[0])) {
        *x = n->in[1], *y = n->in[0];
        return 1;
    }
    return 0;
}

/* Small constant integer input k of n into v (at most MLC_MAX_RANK
 * values); count, or -1 when absent/not constant. */
static int const_ints(const struct ir_graph *g, const struct ir_node *n, int k, int64_t *v)
{
    if (k >= n->n_in || n->in[k] < 0) return -1;
    const struct ir_tensor *t = &g->tensors[n->in[k]];
    int64_t ne = ir_tensor_numel(t);
    if (!t->data || ne < 0 || ne > MLC_MAX_RANK) return -1;
    for (int64_t i = 0; i < ne; i++) {
        if (t->dtype == MLC_DTYPE_I64)
            v[i] = ((const int64_t *)t->data)[i];
        else if (t->dtype == MLC_DTYPE_I32)
            v[i] = ((const int32_t *)t->data)[i];
        else
            return -1;
    }
    return (int)ne;
}

/* Slice with constant starts/ends/axes and steps 1, or Gather of one
 * constant index (a scalar) on an axis: the DN_SLICE parameters. Only when
 * every sliced extent is known and non-empty (a sub-view of 0 elements is
 * not a oneDNN memory), checked again on the bound shapes. */
static int slice_params(const struct ir_graph *g, const struct ir_node *n, struct dn_op *op)
{
    const struct ir_tensor *x = &g->tensors[n->in[0]], *o = &g->tensors[n->out[0]];
    int r = x->rank;
    int64_t st[MLC_MAX_RANK], en[MLC_MAX_RANK], ax[MLC_MAX_RANK], sp[MLC_MAX_RANK];
    if (r < 1 || o->rank < 1) return 0;
    op->sl_drop = -1;
    for (int d = 0; d < r; d++) op->sl_lo[d] = 0, op->sl_hi[d] = INT64_MAX;
    if (n->op == IR_OP_Gather) {
        int64_t a = ir_attr_int(n, "axis", 0);
        if (a < 0) a += r;
        if (a < 0 || a >= r || g->tensors[n->in[1]].rank != 0 || const_ints(g, n, 1, st) != 1 ||
            o->rank != r - 1)
            return 0;
        op->sl_drop = (int)a;
        op->sl_lo[a] = st[0];
        return 1;
    }
    int ns = const_ints(g, n, 1, st);
    if (ns < 1 || const_ints(g, n, 2, en) != ns || o->rank != r) return 0;
    if (n->n_in > 3 && n->in[3] >= 0) {
        if (const_ints(g, n, 3, ax) != ns) return 0;
    } else {
        for (int i = 0; i < ns; i++) ax[i] = i;
    }
    if (n->n_in > 4 && n->in[4] >= 0) {
        if (const_ints(g, n, 4, sp) != ns) return 0;
        for (int i = 0; i < ns; i++)
            if (sp[i] != 1) return 0;
    }
    int seen[MLC_MAX_RANK] = {0};
    for (int i = 0; i < ns; i++) {
        int64_t a = ax[i] < 0 ? ax[i] + r : ax[i];
        if (a < 0 || a >= r || seen[a] || o->dims[a] < 1) return 0;
        seen[a] = 1;
        op->sl_lo[a] = st[i], op->sl_hi[a] = en[i];
    }
    return 1;
}

/* Whether node n can be taken (shape/attribute checks on static info). */
static int takeable(const struct ir_graph *g, const struct ir_node *n)
{
    int commut = n->op == IR_OP_Add || n->op == IR_OP_Mul;
    /* Debugging aid: MLC_DNNL_SKIP="Mul,Transpose" leaves those ops to the
     * reference kernels (bisecting a disagreement between backends). */
    const char *skip = getenv("MLC_DNNL_SKIP");
    if (skip) {
        const char *name = ir_op_name(n->op), *p = strstr(skip, name);
        size_t k = strlen(name);
        if (p && (p == skip || p[-1] == ',') && (p[k] == 0 || p[k] == ',')) return 0;
    }
    if (n->dead || n->n_out < 1 || !is_f32(g, n->out[0]) || n->in[0] < 0 || !is_f32(g, n->in[0]) ||
        (is_const(g, n->in[0]) && !commut))
        return 0;
    int r0 = g->tensors[n->in[0]].rank;
    const char *ap = ir_attr_str(n, "auto_pad", "NOTSET");
    const int64_t *ks;
    struct dn_post tmp[DN_MAX_POST];
    int np = 0;
    if (act_posts(n, tmp, &np)) return 0;
    switch (n->op) {
    case IR_OP_Conv:
        return n->n_out == 1 && r0 == 4 && is_const(g, n->in[1]) &&
               g->tensors[n->in[1]].rank == 4 &&
               (n->n_in < 3 || n->in[2] < 0 || is_const(g, n->in[2])) &&
               (!strcmp(ap, "NOTSET") || !strcmp(ap, "VALID"));
    case IR_OP_Gemm:
        return r0 == 2 && is_const(g, n->in[1]) && g->tensors[n->in[1]].rank == 2 &&
               !ir_attr_int(n, "transA", 0) && ir_attr_float(n, "alpha", 1) == 1.0f &&
               ir_attr_float(n, "beta", 1) == 1.0f &&
               (n->n_in < 3 || n->in[2] < 0 ||
                (is_const(g, n->in[2]) && g->tensors[n->in[2]].rank >= 1 &&
                 g->tensors[n->in[2]].rank <= 2 &&
                 (g->tensors[n->in[2]].rank == 1 || g->tensors[n->in[2]].dims[0] == 1) &&
                 g->tensors[n->in[2]].dims[g->tensors[n->in[2]].rank - 1] > 1));
    case IR_OP_MatMul:
        if (r0 < 2 || r0 > 5 || !is_f32(g, n->in[1])) return 0;
        /* A third input is the engine's fused bias (a constant row). */
        if (n->n_in > 2 && n->in[2] >= 0 &&
            !(is_const(g, n->in[1]) && is_const(g, n->in[2]) && g->tensors[n->in[2]].rank == 1))
            return 0;
        if (is_const(g, n->in[1])) return g->tensors[n->in[1]].rank == 2;
        return g->tensors[n->in[1]].rank == r0;
    case IR_OP_MaxPool:
    case IR_OP_AveragePool:
        return n->n_out == 1 && r0 == 4 && ir_attr_ints(n, "kernel_shape", &ks) == 2 &&
               !strcmp(ap, "NOTSET") && np == 0;
    case IR_OP_GlobalAveragePool:
    case IR_OP_GlobalMaxPool:
        return r0 == 4 && np == 0;
    case IR_OP_Add:
    case IR_OP_Sub:
    case IR_OP_Mul:
    case IR_OP_Div: {
        int x, y;
        return binary_order(g, n, &x, &y);
    }
    case IR_OP_Softmax: {
        int64_t ax = ir_attr_int(n, "axis", g->opset >= 13 ? -1 : 1);
        if (ax < 0) ax += r0;
        return r0 >= 1 && r0 <= 5 && np == 0 && ax >= 0 && ax < r0 &&
               (g->opset >= 13 || ax == r0 - 1);
    }
    case IR_OP_LayerNormalization: {
        int64_t ax = ir_attr_int(n, "axis", -1);
        return n->n_out == 1 && (ax == -1 || ax == r0 - 1) && r0 >= 2 && r0 <= 5 &&
               is_const(g, n->in[1]) && (n->n_in < 3 || n->in[2] < 0 || is_const(g, n->in[2])) &&
               np == 0;
    }
    case IR_OP_BatchNormalization:
        return n->n_out == 1 && r0 >= 2 && r0 <= 5 && n->n_in == 5 && is_const(g, n->in[1]) &&
               is_const(g, n->in[2]) && is_const(g, n->in[3]) && is_const(g, n->in[4]) && np == 0;
    case IR_OP_Flatten: {
        int64_t ax = ir_attr_int(n, "axis", 1);
        return r0 >= 1 && ax >= 1 && ax < r0 && np == 0;
    }
    case IR_OP_Reshape: {
        const struct ir_tensor *sh = n->n_in > 1 && n->in[1] >= 0 ? &g->tensors[n->in[1]] : NULL;
        return np == 0 && sh && sh->data && sh->dtype == MLC_DTYPE_I64 && sh->rank == 1 &&
               sh->dims[0] >= 1 && sh->dims[0] <= 6 && !ir_attr_int(n, "allowzero", 0) &&
               g->tensors[n->out[0]].rank == sh->dims[0];
    }
    case IR_OP_Transpose: {
        const int64_t *p;
        int k = ir_attr_ints(n, "perm", &p);
        if (np || r0 > 6 || (k && k != r0)) return 0;
        for (int i = 0; i < k; i++)
            if (p[i] < 0 || p[i] >= r0) return 0;
        return 1;
    }
    case IR_OP_Concat: {
        int64_t ax = ir_attr_int(n, "axis", 0);
        if (ax < 0) ax += r0;
        if (np || n->n_in != 2 || !is_f32(g, n->in[1]) || is_const(g, n->in[1]) || r0 > 6 ||
            ax < 0 || ax >= r0 || g->tensors[n->in[1]].rank != r0)
            return 0;
        for (int d = 0; d < r0; d++) {
            int64_t x = g->tensors[n->in[0]].dims[d], y = g->tensors[n->in[1]].dims[d];
            if (d != ax && x >= 0 && y >= 0 && x != y) return 0;
        }
        return 1;
    }
    case IR_OP_Slice:
    case IR_OP_Gather: {
        struct dn_op tmp_op;
        return np == 0 && r0 >= 1 && r0 <= 6 && slice_params(g, n, &tmp_op);
    }
    default: {
        dnnl_alg_kind_t alg;
        float a, b;
        return unary_alg(g, n, &alg, &a, &b) && r0 >= 1 && r0 <= 5 && np == 0;
    }
    }
}

static int heavy(enum ir_op op)
{
    return op == IR_OP_Conv || op == IR_OP_Gemm || op == IR_OP_MatMul || op == IR_OP_MaxPool ||
           op == IR_OP_AveragePool || op == IR_OP_GlobalAveragePool ||
           op == IR_OP_LayerNormalization || op == IR_OP_Softmax || op == IR_OP_Transpose;
}

/* ---- building a context ---------------------------------------------------- */

static int total_uses(const struct ir_graph *g, int t);

static int add_const(struct builder *bd, int t, mlc_error *err)
{
    const struct ir_tensor *it = &bd->g->tensors[t];
    struct dn_ctx *c = bd->c;
    if (c->n_consts == bd->cap_consts) {
        int nc = bd->cap_consts ? bd->cap_consts * 2 : 16;
        void *p = mlc_realloc(c->consts, (size_t)nc * sizeof *c->consts);
        if (!p) return core_err(err, MLC_STATUS_NO_MEMORY, "oneDNN partition: out of memory"), -1;
        c->consts = p;
        bd->cap_consts = nc;
    }
    struct dn_const *k = &c->consts[c->n_consts];
    memset(k, 0, sizeof *k);
    k->rank = it->rank;
    memcpy(k->dims, it->dims, sizeof k->dims);
    size_t n = ir_tensor_nbytes(it);
    /* A weight only this node reads is taken from the graph rather than
     * copied: the node dies with the region, so the graph would free its
     * copy at compact anyway; this keeps one copy of the weights at peak.
     * (A failed partition fails the whole load, so nothing reads it later.) */
    if (it->src_len >= ENG_PCACHE_MIN && it->src_len == n && c->pc) {
        k->src_name = core_strdup(it->name ? it->name : "");
        if (!k->src_name)
            return core_err(err, MLC_STATUS_NO_MEMORY, "oneDNN partition: out of memory"), -1;
        k->src_off = it->src_off, k->src_len = it->src_len;
    }
    if ((it->flags & IR_TENSOR_LAZY) && k->src_name && total_uses(bd->g, t) == 1) {
        /* Left in the file: a cache entry or the file supplies it at bind. */
        struct ir_tensor *w = &bd->g->tensors[t];
        k->lazy = 1;
        w->data = NULL;
        w->flags &= ~IR_TENSOR_LAZY;
        return c->n_consts++;
    }
    if ((it->flags & IR_TENSOR_LAZY) && ir_tensor_materialize(bd->g, t, err)) {
        mlc_free(k->src_name);
        return -1;
    }
    if ((it->flags & IR_TENSOR_OWNED) && n && total_uses(bd->g, t) == 1) {
        struct ir_tensor *w = &bd->g->tensors[t];
        k->data = w->data;
        w->data = NULL;
        w->flags &= ~IR_TENSOR_OWNED;
        return c->n_consts++;
    }
    k->data = mlc_alloc(n + 64); /* room to pack in place, aligned (pack.c) */
    if (!k->data) {
        mlc_free(k->src_name);
        return core_err(err, MLC_STATUS_NO_MEMORY, "oneDNN partition: out of memory"), -1;
    }
    memcpy(k->data, it->data, n);
    return c->n_consts++;
}

static int new_value(struct builder *bd, int t, mlc_error *err)
{
    struct dn_ctx *c = bd->c;
    if (c->n_vals == bd->cap_vals) {
        int nc = bd->cap_vals ? bd->cap_vals * 2 : 32;
        void *p = mlc_realloc(c->vals, (size_t)nc * sizeof *c->vals);
        if (!p) return core_err(err, MLC_STATUS_NO_MEMORY, "oneDNN partition: out of memory"), -1;
        c->vals = p;
        bd->cap_vals = nc;
    }
    c->vals[c->n_vals].rank = bd->g->tensors[t].rank;
    bd->val_of[t] = c->n_vals;
    return c->n_vals++;
}

static struct dn_op *new_op(struct builder *bd, const struct ir_node *n, mlc_error *err)
{
    struct dn_ctx *c = bd->c;
    if (c->n_ops == bd->cap_ops) {
        int nc = bd->cap_ops ? bd->cap_ops * 2 : 32;
        void *p = mlc_realloc(c->ops, (size_t)nc * sizeof *c->ops);
        if (!p) return core_err(err, MLC_STATUS_NO_MEMORY, "oneDNN partition: out of memory"), NULL;
        c->ops = p;
        bd->cap_ops = nc;
    }
    struct dn_op *op = &c->ops[c->n_ops];
    memset(op, 0, sizeof *op);
    op->name = core_strdup(n->name ? n->name : "?");
    if (!op->name)
        return core_err(err, MLC_STATUS_NO_MEMORY, "oneDNN partition: out of memory"), NULL;
    c->n_ops++;
    op->in[0] = op->in[1] = op->out = op->w = op->b = op->mean = op->var = op->sum_in = -1;
    op->sl_drop = -1;
    op->stride[0] = op->stride[1] = op->dil[0] = op->dil[1] = op->group = 1;
    return op;
}

/* Copies a 2-element int attribute (or dflt). */
static void ints2(const struct ir_node *n, const char *name, int64_t dflt, int64_t *out)
{
    const int64_t *v;
    int k = ir_attr_ints(n, name, &v);
    out[0] = k >= 1 ? v[0] : dflt;
    out[1] = k >= 2 ? v[1] : out[0];
}

/* Fills op from node n (values of its inputs exist already). */
static mlc_status fill_op(struct builder *bd, const struct ir_node *n, struct dn_op *op,
                          mlc_error *err)
{
    const struct ir_graph *g = bd->g;
    op->in[0] = bd->val_of[n->in[0]];
    switch (n->op) {
    case IR_OP_Conv:
    case IR_OP_MaxPool:
    case IR_OP_AveragePool: {
        op->kind = n->op == IR_OP_Conv ? DN_CONV : DN_POOL;
        const int64_t *p;
        int np = ir_attr_ints(n, "pads", &p);
        op->pad_l[0] = np == 4 ? p[0] : 0, op->pad_l[1] = np == 4 ? p[1] : 0;
        op->pad_r[0] = np == 4 ? p[2] : 0, op->pad_r[1] = np == 4 ? p[3] : 0;
        ints2(n, "strides", 1, op->stride);
        ints2(n, "dilations", 1, op->dil);
        if (n->op == IR_OP_Conv) {
            op->group = ir_attr_int(n, "group", 1);
            op->kernel[0] = g->tensors[n->in[1]].dims[2];
            op->kernel[1] = g->tensors[n->in[1]].dims[3];
            if ((op->w = add_const(bd, n->in[1], err)) < 0) return err->status;
            if (n->n_in > 2 && n->in[2] >= 0 && (op->b = add_const(bd, n->in[2], err)) < 0)
                return err->status;
        } else {
            ints2(n, "kernel_shape", 1, op->kernel);
            op->ceil_mode = (int)ir_attr_int(n, "ceil_mode", 0);
            op->alg = n->op == IR_OP_MaxPool                   ? dnnl_pooling_max
                      : ir_attr_int(n, "count_include_pad", 0) ? dnnl_pooling_avg_include_padding
                                                               : dnnl_pooling_avg_exclude_padding;
        }
        break;
    }
    case IR_OP_GlobalAveragePool:
    case IR_OP_GlobalMaxPool:
        op->kind = DN_GPOOL;
        op->alg =
            n->op == IR_OP_GlobalMaxPool ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding;
        break;
    case IR_OP_Gemm:
        /* A matmul rather than an inner product: oneDNN 2.6's brg matmul ran
         * ViT's 197x768x768 projection 20% faster than its brgemm inner
         * product, and no slower on the classifier heads (mlc_micro_dnnl
         * section 6). */
        op->kind = DN_MATMUL;
        /* 0 or 1 (it indexes w->dims), read as the reference kernels read it */
        op->trans_b = (int)ir_attr_int(n, "transB", 0) != 0;
        if ((op->w = add_const(bd, n->in[1], err)) < 0) return err->status;
        if (n->n_in > 2 && n->in[2] >= 0) {
            if ((op->b = add_const(bd, n->in[2], err)) < 0) return err->status;
            struct dn_const *b = &bd->c->consts[op->b];
            b->dims[0] = b->dims[b->rank - 1];
            b->rank = 1;
        }
        break;
    case IR_OP_MatMul:
        op->kind = DN_MATMUL;
        if (is_const(g, n->in[1])) {
            if ((op->w = add_const(bd, n->in[1], err)) < 0) return err->status;
            if (n->n_in > 2 && n->in[2] >= 0 && (op->b = add_const(bd, n->in[2], err)) < 0)
                return err->status;
        } else {
            op->in[1] = bd->val_of[n->in[1]];
        }
        break;
    case IR_OP_Add:
    case IR_OP_Sub:
    case IR_OP_Mul:
    case IR_OP_Div:
        op->kind = DN_BINARY;
        op->alg = n->op == IR_OP_Add   ? dnnl_binary_add
                  : n->op == IR_OP_Sub ? dnnl_binary_sub
                  : n->op == IR_OP_Mul ? dnnl_binary_mul
                                       : dnnl_binary_div;
        {
            int x, y;
            binary_order(g, n, &x, &y);
            op->in[0] = bd->val_of[x];
            if (is_const(g, y)) {
                if ((op->w = add_const(bd, y, err)) < 0) return err->status;
            } else {
                op->in[1] = bd->val_of[y];
            }
        }
        break;
    case IR_OP_Softmax: {
        int r = g->tensors[n->in[0]].rank;
        int64_t ax = ir_attr_int(n, "axis", g->opset >= 13 ? -1 : 1);
        op->kind = DN_SOFTMAX;
        op->axis = (int)(ax < 0 ? ax + r : ax);
        if (g->opset < 13 && op->axis != r - 1)
            return core_err(err, MLC_STATUS_INTERNAL, "oneDNN partition: softmax axis");
        break;
    }
    case IR_OP_LayerNormalization:
        op->kind = DN_LNORM;
        op->eps = ir_attr_float(n, "epsilon", 1e-5f);
        if ((op->w = add_const(bd, n->in[1], err)) < 0) return err->status;
        if (n->n_in > 2 && n->in[2] >= 0 && (op->b = add_const(bd, n->in[2], err)) < 0)
            return err->status;
        break;
    case IR_OP_BatchNormalization:
        op->kind = DN_BNORM;
        op->eps = ir_attr_float(n, "epsilon", 1e-5f);
        if ((op->w = add_const(bd, n->in[1], err)) < 0 ||
            (op->b = add_const(bd, n->in[2], err)) < 0 ||
            (op->mean = add_const(bd, n->in[3], err)) < 0 ||
            (op->var = add_const(bd, n->in[4], err)) < 0)
            return err->status;
        break;
    case IR_OP_Flatten:
        op->kind = DN_VIEW;
        op->axis = (int)ir_attr_int(n, "axis", 1);
        break;
    case IR_OP_Reshape: {
        const struct ir_tensor *sh = &g->tensors[n->in[1]];
        op->kind = DN_VIEW;
        op->view_rank = (int)sh->dims[0];
        memcpy(op->view_dims, sh->data, (size_t)op->view_rank * sizeof(int64_t));
        break;
    }
    case IR_OP_Transpose: {
        const int64_t *p;
        int r = g->tensors[n->in[0]].rank, k = ir_attr_ints(n, "perm", &p);
        op->kind = DN_TRANSPOSE;
        for (int i = 0; i < r; i++) op->perm[i] = k ? (int)p[i] : r - 1 - i;
        break;
    }
    case IR_OP_Concat: {
        int64_t ax = ir_attr_int(n, "axis", 0);
        op->kind = DN_CONCAT;
        op->in[1] = bd->val_of[n->in[1]];
        op->axis = (int)(ax < 0 ? ax + g->tensors[n->in[0]].rank : ax);
        break;
    }
    case IR_OP_Slice:
    case IR_OP_Gather:
        op->kind = DN_SLICE;
        if (!slice_params(g, n, op))
            return core_err(err, MLC_STATUS_INTERNAL, "oneDNN partition: slice parameters");
        break;
    default:
        op->kind = DN_ELTWISE;
        unary_alg(g, n, &op->alg, &op->alpha, &op->beta);
        if (n->op == IR_OP_HardSigmoid)
            op->post[op->n_post++] = (struct dn_post){0, dnnl_eltwise_clip_v2, 0, 1};
        break;
    }
    if (act_posts(n, op->post, &op->n_post))
        return core_err(err, MLC_STATUS_INTERNAL, "oneDNN partition: too many post-ops");
    return MLC_OK;
}

static int count_uses(const struct ir_graph *g, int t, int from, int to)
{
    int u = 0;
    for (int i = from; i < to; i++) {
        const struct ir_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_in; k++) u += n->in[k] == t;
    }
    return u;
}

static int total_uses(const struct ir_graph *g, int t)
{
    int u = count_uses(g, t, 0, g->n_nodes);
    for (int i = 0; i < g->n_outputs; i++) u += g->outputs[i] == t;
    return u;
}

/* Builds one region from the member nodes of [a, b) (member[] by node index;
 * the others are left in place, the compaction orders them before the
 * region) and adds it to the graph. */
static mlc_status build_region(struct ir_graph *g, const struct eng_backend_opts *o,
                               size_t silu_max, int a, int b, const char *member, int *val_of,
                               mlc_error *err)
{
    mlc_status st = MLC_OK;
    struct builder bd = {.g = g, .val_of = val_of};
    int *outs_t = NULL, n_outs = 0;
    struct dn_ctx *c = mlc_calloc(1, sizeof *c);
    char *skip = mlc_calloc((size_t)(b - a), 1);
    if (!c || !skip) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "oneDNN partition: out of memory");
        goto fail;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->threads = o->threads;
    c->bf16 = o->precision == MLC_PRECISION_BF16;
    c->int8 = o->precision == MLC_PRECISION_INT8;
    c->silu_max = silu_max;
    c->pc = o->pcache;
    if (dnnl_engine_create(&c->eng, dnnl_cpu, 0) != dnnl_success) {
        st = core_err(err, MLC_STATUS_UNSUPPORTED, "oneDNN: cannot create a CPU engine");
        goto fail;
    }
    /* Region inputs first (values 0..n_in-1). */
    for (int i = a; i < b; i++) {
        const struct ir_node *n = &g->nodes[i];
        if (!member[i]) continue;
        for (int k = 0; k < n->n_in; k++) {
            int t = n->in[k];
            if (t < 0 || is_const(g, t) || val_of[t] >= 0) continue;
            int prod_inside = 0;
            for (int j = a; j < i && !prod_inside; j++)
                for (int q = 0; member[j] && q < g->nodes[j].n_out; q++)
                    prod_inside |= g->nodes[j].out[q] == t;
            if (prod_inside) continue;
            if (bd.c = c, new_value(&bd, t, err) < 0) {
                st = err->status;
                goto fail;
            }
            c->n_in++;
            int *p = mlc_realloc(bd.in_t, (size_t)c->n_in * sizeof *p);
            if (!p) {
                st = core_err(err, MLC_STATUS_NO_MEMORY, "oneDNN partition: out of memory");
                goto fail;
            }
            bd.in_t = p;
            bd.in_t[c->n_in - 1] = t;
        }
    }
    bd.c = c;
    for (int i = a; i < b; i++) {
        const struct ir_node *n = &g->nodes[i];
        if (!member[i] || skip[i - a]) continue;
        struct dn_op *op = new_op(&bd, n, err);
        if (!op) {
            st = err->status;
            goto fail;
        }
        if ((st = fill_op(&bd, n, op, err))) goto fail;
        int out_t = n->out[0];
        /* MatMul + Add(constant row vector): the Add becomes the bias. */
        if (op->kind == DN_MATMUL && op->in[1] < 0 && op->b < 0 && !op->n_post &&
            total_uses(g, out_t) == 1) {
            for (int j = i + 1; j < b; j++) {
                const struct ir_node *m = &g->nodes[j];
                if (!member[j] || skip[j - a] ||
                    (m->in[0] != out_t && (m->n_in < 2 || m->in[1] != out_t)))
                    continue;
                int k = m->in[0] == out_t ? 1 : 0;
                const struct ir_tensor *bt = m->n_in > 1 ? &g->tensors[m->in[k]] : NULL;
                int ok = m->op == IR_OP_Add && bt && bt->data && bt->dtype == MLC_DTYPE_F32 &&
                         bt->rank >= 1 && bt->dims[bt->rank - 1] == c->consts[op->w].dims[1];
                for (int d = 0; ok && d < bt->rank - 1; d++) ok = bt->dims[d] == 1;
                if (ok) {
                    if ((op->b = add_const(&bd, m->in[k], err)) < 0) {
                        st = err->status;
                        goto fail;
                    }
                    struct dn_const *bc = &c->consts[op->b];
                    bc->dims[0] = bc->dims[bc->rank - 1];
                    bc->rank = 1;
                    if (act_posts(m, op->post, &op->n_post)) {
                        st = core_err(err, MLC_STATUS_INTERNAL, "oneDNN partition: post-ops");
                        goto fail;
                    }
                    out_t = m->out[0];
                    skip[j - a] = 1;
                }
                break;
            }
        }
        for (int changed = 1; changed;) {
            changed = 0;
            /* A unary activation consuming only this output: a post-op. */
            if ((op->kind == DN_CONV || op->kind == DN_IP || op->kind == DN_MATMUL ||
                 op->kind == DN_BINARY) &&
                total_uses(g, out_t) == 1) {
                for (int j = i + 1; j < b; j++) {
                    const struct ir_node *m = &g->nodes[j];
                    if (!member[j] || skip[j - a] || m->in[0] != out_t) continue;
                    dnnl_alg_kind_t alg;
                    float al, be;
                    int extra = m->op == IR_OP_HardSigmoid ? 2 : 1;
                    if (m->act == IR_ACT_NONE && unary_alg(g, m, &alg, &al, &be) &&
                        op->n_post + extra <= DN_MAX_POST) {
                        op->post[op->n_post++] = (struct dn_post){0, alg, al, be};
                        if (extra == 2)
                            op->post[op->n_post++] =
                                (struct dn_post){0, dnnl_eltwise_clip_v2, 0, 1};
                        out_t = m->out[0];
                        skip[j - a] = 1;
                        changed = 1;
                    }
                    break;
                }
            }
            /* Residual add: producer used only by an Add of equal shapes. */
            if (!((op->kind == DN_CONV || op->kind == DN_IP || op->kind == DN_MATMUL) &&
                  total_uses(g, out_t) == 1 && op->sum_in < 0))
                continue;
            for (int j = i + 1; j < b; j++) {
                const struct ir_node *m = &g->nodes[j];
                if (m->op != IR_OP_Add || !member[j] || skip[j - a]) continue;
                int k = m->in[0] == out_t ? 1 : m->in[1] == out_t ? 0 : -1;
                if (k < 0) continue;
                int other = m->in[k];
                const struct ir_tensor *t1 = &g->tensors[out_t], *t2 = &g->tensors[other];
                int same = other >= 0 && !is_const(g, other) && val_of[other] >= 0 &&
                           t1->rank == t2->rank && other != out_t;
                for (int d = 0; same && d < t1->rank; d++) same = t1->dims[d] == t2->dims[d];
                struct dn_post tmp[DN_MAX_POST];
                int np = op->n_post + 1;
                memcpy(tmp, op->post, sizeof tmp);
                if (same && act_posts(m, tmp, &np) == 0) {
                    op->post[op->n_post++] = (struct dn_post){1, dnnl_eltwise_relu, 0, 0};
                    act_posts(m, op->post, &op->n_post);
                    op->sum_in = val_of[other];
                    out_t = m->out[0];
                    skip[j - a] = 1;
                    changed = 1;
                }
                break;
            }
        }
        if ((op->out = new_value(&bd, out_t, err)) < 0) {
            st = err->status;
            goto fail;
        }
    }
    /* Outputs: values used after the run or graph outputs. */
    outs_t = mlc_calloc((size_t)c->n_vals + 1, sizeof *outs_t);
    c->outs = mlc_calloc((size_t)c->n_vals + 1, sizeof *c->outs);
    if (!outs_t || !c->outs) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "oneDNN partition: out of memory");
        goto fail;
    }
    for (int t = 0; t < g->n_tensors; t++) {
        int v = val_of[t];
        if (v < c->n_in) continue; /* also -1 */
        int later = count_uses(g, t, b, g->n_nodes) + count_uses(g, t, 0, a);
        for (int i = a; i < b; i++)
            if (!member[i]) later += count_uses(g, t, i, i + 1);
        for (int i = 0; i < g->n_outputs; i++) later += g->outputs[i] == t;
        if (!later) continue;
        outs_t[n_outs] = t;
        c->outs[n_outs++] = v;
    }
    c->n_out = n_outs;
    snprintf(c->desc, sizeof c->desc, "dnnl %s: %d ops, %d inputs, %d outputs, %d constants",
             c->bf16 ? "bf16" : "f32", c->n_ops, c->n_in, c->n_out, c->n_consts);
    char name[64];
    snprintf(name, sizeof name, "dnnl_region_%d", a);
    if ((st = ir_add_region(g, name, bd.in_t, c->n_in, outs_t, n_outs, &dn_region_vtbl, c, err)))
        goto fail;
    c = NULL; /* owned by the graph now */
    for (int i = a; i < b; i++)
        if (member[i]) g->nodes[i].dead = 1;
fail:
    dn_ctx_free(c);
    mlc_free(skip);
    mlc_free(outs_t);
    mlc_free(bd.in_t);
    return st;
}

mlc_status eng_dnnl_partition(struct ir_graph *g, const struct eng_backend_opts *o, mlc_error *err)
{
    mlc_status st = MLC_OK;
    if (o && o->backend == MLC_BACKEND_REFERENCE) return MLC_OK;
    struct eng_backend_opts dflt = {0, MLC_PRECISION_F32, MLC_BACKEND_AUTO, NULL};
    if (!o) o = &dflt;
    int n_nodes = g->n_nodes; /* regions are appended; do not visit them */
    int *val_of = mlc_alloc((size_t)(g->n_tensors + 1) * sizeof *val_of);
    int *stamp = mlc_calloc((size_t)g->n_tensors + 1, sizeof *stamp);
    char *member = mlc_calloc((size_t)n_nodes + 1, 1);
    if (!val_of || !stamp || !member) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "oneDNN partition: out of memory");
        goto fail;
    }
    size_t silu_max = dn_silu_max(); /* sysfs, once for all regions */
    int a = 0, run = 0;
    while (a < n_nodes) {
        if (!takeable(g, &g->nodes[a])) {
            a++;
            continue;
        }
        /* Grow the run over taken nodes. A node left to the reference
         * kernels that reads nothing the run produced does not end it: it
         * can run before the region (the compaction after partition orders
         * it so), e.g. a small integer chain or a broadcast feeding the
         * region. One that does read the run ends it. */
        int b = a, n_heavy = 0, n_taken = 0, end = a;
        run++;
        for (; b < n_nodes; b++) {
            const struct ir_node *m = &g->nodes[b];
            int take = takeable(g, m), dep = 0;
            for (int k = 0; !take && k < m->n_in; k++)
                dep |= m->in[k] >= 0 && stamp[m->in[k]] == run;
            if (dep) break;
            member[b] = (char)take;
            if (!take) continue;
            for (int k = 0; k < m->n_out; k++)
                if (m->out[k] >= 0) stamp[m->out[k]] = run;
            n_heavy += heavy(m->op);
            n_taken++;
            end = b + 1;
        }
        if (n_heavy > 0 || n_taken > 1) {
            for (int t = 0; t < g->n_tensors; t++) val_of[t] = -1;
            if ((st = build_region(g, o, silu_max, a, end, member, val_of, err))) break;
        }
        a = end;
    }
fail:
    mlc_free(val_of);
    mlc_free(stamp);
    mlc_free(member);
    return st;
}
