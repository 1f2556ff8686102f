/*
 * fuse.c - fusion passes (see opt.c's header for the list). Each pass only
 * rewrites when the pattern's intermediates have exactly one consumer and
 * are not graph outputs, and when its constants are what the pattern needs;
 * otherwise the graph stays as it was, which is always correct. Results
 * change only by float rounding (Conv+BN folding reassociates). Passes run
 * on a compacted graph (producer/n_uses valid) and compact after themselves.
 * MatMul + bias is fused late (eng_fuse_late, after the backend partition):
 * it gives MatMul a third input, which only the reference kernel reads, and
 * the oneDNN partitioner does its own MatMul+Add fusion on the plain form.
 */
#include <math.h>
#include <string.h>

#include "engine/engine.h"

static int prod(const struct ir_graph *g, int t)
{
    return t >= 0 ? g->tensors[t].producer : -1;
}

static int single_use(const struct ir_graph *g, int t)
{
    return t >= 0 && g->tensors[t].n_uses == 1 && !(g->tensors[t].flags & IR_TENSOR_OUTPUT);
}

static int live_op(const struct ir_graph *g, int ni, enum ir_op op)
{
    return ni >= 0 && !g->nodes[ni].dead && g->nodes[ni].op == op;
}

/* A constant f32 scalar (any rank, one element). */
static int const_scalar(const struct ir_graph *g, int t, float *v)
{
    if (t < 0) return 0;
    const struct ir_tensor *x = &g->tensors[t];
    if (!x->data || x->dtype != MLC_DTYPE_F32 || ir_tensor_numel(x) != 1) return 0;
    *v = *(const float *)x->data;
    return 1;
}

static int near(float a, float b)
{
    return fabsf(a - b) <= 1e-5f * fabsf(b) + 1e-7f;
}

/* The other input of a binary node than t; -1 when t is not an input. */
static int other_in(const struct ir_node *n, int t)
{
    if (n->n_in != 2) return -1;
    if (n->in[0] == t) return n->in[1];
    if (n->in[1] == t) return n->in[0];
    return -1;
}

/* Conv + BatchNormalization -> Conv with folded weights. */
static mlc_status fold_bn(struct mlc_net *net, mlc_error *err)
{
    struct ir_graph *g = &net->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ir_node *bn = &g->nodes[i];
        if (bn->dead || bn->op != IR_OP_BatchNormalization || bn->n_in < 5) continue;
        int ci = prod(g, bn->in[0]);
        if (!live_op(g, ci, IR_OP_Conv) || !single_use(g, bn->in[0])) continue;
        struct ir_node *cv = &g->nodes[ci];
        int wt = cv->in[1], bt = cv->n_in > 2 ? cv->in[2] : -1;
        if (!g->tensors[wt].data || (bt >= 0 && !g->tensors[bt].data) || cv->act) continue;
        int ok = 1;
        for (int k = 1; k < 5; k++)
            if (!g->tensors[bn->in[k]].data || g->tensors[bn->in[k]].dtype != MLC_DTYPE_F32) ok = 0;
        if (!ok || g->tensors[wt].dtype != MLC_DTYPE_F32) continue;
        int64_t M = g->tensors[wt].dims[0], per = ir_tensor_numel(&g->tensors[wt]) / (M ? M : 1);
        if (ir_tensor_numel(&g->tensors[bn->in[1]]) != M) continue;
        float eps = ir_attr_float(bn, "epsilon", 1e-5f);
        const float *sc = g->tensors[bn->in[1]].data, *be = g->tensors[bn->in[2]].data,
                    *mu = g->tensors[bn->in[3]].data, *va = g->tensors[bn->in[4]].data;
        const float *w = g->tensors[wt].data, *b = bt >= 0 ? g->tensors[bt].data : NULL;
        float *nw = mlc_alloc((size_t)(M * per) * sizeof(float) + 4);
        float *nb = mlc_alloc((size_t)M * sizeof(float) + 4);
        if (!nw || !nb) {
            mlc_free(nw);
            mlc_free(nb);
            return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory folding BatchNormalization");
        }
        for (int64_t m = 0; m < M; m++) {
            double k = (double)sc[m] / sqrt((double)va[m] + (double)eps);
            for (int64_t j = 0; j < per; j++) nw[m * per + j] = (float)(w[m * per + j] * k);
            nb[m] = (float)(((b ? b[m] : 0.0) - mu[m]) * k + be[m]);
        }
        int nwt, nbt;
        int64_t wd[MLC_MAX_RANK];
        memcpy(wd, g->tensors[wt].dims, sizeof wd);
        int wr = g->tensors[wt].rank;
        mlc_status st = ir_add_tensor(g, NULL, MLC_DTYPE_F32, 0, NULL, &nwt, err);
        if (!st) st = ir_add_tensor(g, NULL, MLC_DTYPE_F32, 0, NULL, &nbt, err);
        if (st) {
            mlc_free(nw);
            mlc_free(nb);
            return st;
        }
        ir_tensor_set_data(&g->tensors[nwt], MLC_DTYPE_F32, wr, wd, nw);
        ir_tensor_set_data(&g->tensors[nbt], MLC_DTYPE_F32, 1, &M, nb);
        cv = &g->nodes[ci];
        bn = &g->nodes[i];
        if (cv->n_in < 3) {
            int *in = mlc_realloc(cv->in, 3 * sizeof(int));
            if (!in) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
            cv->in = in;
            cv->n_in = 3;
        }
        cv->in[1] = nwt;
        cv->in[2] = nbt;
        cv->out[0] = bn->out[0];
        bn->dead = 1;
        net->n_fused++;
    }
    return ir_graph_compact(g, err);
}

/* Activation node -> producer's epilogue. */
static int act_of(const struct ir_graph *g, const struct ir_node *a, enum ir_act *act, float *al,
                  float *be)
{
    *al = 0, *be = 0;
    switch (a->op) {
    case IR_OP_Relu:
        *act = IR_ACT_RELU;
        return 1;
    case IR_OP_Sigmoid:
        *act = IR_ACT_SIGMOID;
        return 1;
    case IR_OP_Tanh:
        *act = IR_ACT_TANH;
        return 1;
    case IR_OP_HardSwish:
        *act = IR_ACT_HARD_SWISH;
        return 1;
    case IR_OP_LeakyRelu:
        *act = IR_ACT_LEAKY_RELU;
        *al = ir_attr_float(a, "alpha", 0.01f);
        return 1;
    case IR_OP_HardSigmoid:
        *act = IR_ACT_HARD_SIGMOID;
        *al = ir_attr_float(a, "alpha", 0.2f);
        *be = ir_attr_float(a, "beta", 0.5f);
        return 1;
    case IR_OP_Gelu:
        *act = strcmp(ir_attr_str(a, "approximate", "none"), "tanh") == 0 ? IR_ACT_GELU_TANH
                                                                          : IR_ACT_GELU;
        return 1;
    case IR_OP_Clip:
        *act = IR_ACT_CLIP;
        *al = -INFINITY, *be = INFINITY;
        if (a->n_in > 1 && a->in[1] >= 0 && !const_scalar(g, a->in[1], al)) return 0;
        if (a->n_in > 2 && a->in[2] >= 0 && !const_scalar(g, a->in[2], be)) return 0;
        return 1;
    default:
        return 0;
    }
}

static mlc_status fuse_act(struct mlc_net *net, mlc_error *err)
{
    struct ir_graph *g = &net->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ir_node *a = &g->nodes[i];
        enum ir_act act;
        float al, be;
        if (a->dead || a->n_in < 1 || !act_of(g, a, &act, &al, &be)) continue;
        int x = a->in[0], pi = prod(g, x);
        if (pi < 0 || !single_use(g, x) || g->tensors[x].dtype != MLC_DTYPE_F32) continue;
        struct ir_node *p = &g->nodes[pi];
        if (p->dead || p->act != IR_ACT_NONE || p->out[0] != x) continue;
        int ok = p->op == IR_OP_Conv || p->op == IR_OP_Gemm || p->op == IR_OP_MatMul ||
                 p->op == IR_OP_BatchNormalization ||
                 ((p->op == IR_OP_Add || p->op == IR_OP_Sub || p->op == IR_OP_Mul ||
                   p->op == IR_OP_Div) &&
                  g->tensors[p->in[0]].dtype == MLC_DTYPE_F32);
        if (!ok) continue;
        p->act = act;
        p->act_alpha = al;
        p->act_beta = be;
        p->out[0] = a->out[0];
        a->dead = 1;
        net->n_fused++;
    }
    return ir_graph_compact(g, err);
}

/* x * Sigmoid(x) with x from a fusable producer -> act SiLU. */
static mlc_status fuse_silu(struct mlc_net *net, mlc_error *err)
{
    struct ir_graph *g = &net->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ir_node *m = &g->nodes[i];
        if (m->dead || m->op != IR_OP_Mul || m->n_in != 2) continue;
        for (int side = 0; side < 2; side++) {
            int s = m->in[side], x = m->in[1 - side], si = prod(g, s), pi = prod(g, x);
            if (!live_op(g, si, IR_OP_Sigmoid) || g->nodes[si].in[0] != x || !single_use(g, s))
                continue;
            if (pi < 0 || g->tensors[x].n_uses != 2 || (g->tensors[x].flags & IR_TENSOR_OUTPUT))
                continue;
            struct ir_node *p = &g->nodes[pi];
            if (p->dead || p->act || p->out[0] != x ||
                !(p->op == IR_OP_Conv || p->op == IR_OP_Gemm || p->op == IR_OP_MatMul ||
                  p->op == IR_OP_BatchNormalization))
                continue;
            p->act = IR_ACT_SILU;
            p->out[0] = m->out[0];
            g->nodes[si].dead = 1;
            m->dead = 1;
            net->n_fused += 2;
            break;
        }
    }
    return ir_graph_compact(g, err);
}

/* MatMul(x, W) + b (constant 1-D of N) -> MatMul with bias input. */
static mlc_status fuse_matmul_bias(struct mlc_net *net, mlc_error *err)
{
    struct ir_graph *g = &net->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ir_node *ad = &g->nodes[i];
        if (ad->dead || ad->op != IR_OP_Add || ad->n_in != 2) continue;
        for (int side = 0; side < 2; side++) {
            int y = ad->in[side], b = ad->in[1 - side], mi = prod(g, y);
            if (!live_op(g, mi, IR_OP_MatMul) || !single_use(g, y)) continue;
            struct ir_node *mm = &g->nodes[mi];
            const struct ir_tensor *bt = &g->tensors[b], *yt = &g->tensors[y];
            if (mm->n_in != 2 || mm->act || ad->n_out != 1 || !bt->data ||
                bt->dtype != MLC_DTYPE_F32 || bt->rank != 1 || yt->rank < 1 ||
                bt->dims[0] != yt->dims[yt->rank - 1] || g->tensors[ad->out[0]].rank != yt->rank)
                continue;
            int *in = mlc_realloc(mm->in, 3 * sizeof(int));
            if (!in) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
            mm->in = in;
            mm->in[2] = b;
            mm->n_in = 3;
            mm->out[0] = ad->out[0];
            mm->act = ad->act; /* an activation already fused into the Add */
            mm->act_alpha = ad->act_alpha;
            mm->act_beta = ad->act_beta;
            ad->dead = 1;
            net->n_fused++;
            break;
        }
    }
    return ir_graph_compact(g, err);
}

/* Const-scalar operand of a binary node whose other operand is t (either
 * order); returns 1 and the value, 0 when not so. */
static int scalar_with(const struct ir_graph *g, const struct ir_node *n, int t, float *c)
{
    return n->n_in == 2 && other_in(n, t) >= 0 && const_scalar(g, other_in(n, t), c);
}

/* First live node after `from` reading tensor t. */
static int consumer(const struct ir_graph *g, int t, int from)
{
    for (int k = from + 1; k < g->n_nodes; k++)
        if (!g->nodes[k].dead)
            for (int j = 0; j < g->nodes[k].n_in; j++)
                if (g->nodes[k].in[j] == t) return k;
    return -1;
}

/* The common GELU tail after the erf/tanh core output `co` (produced by node
 * ci): Add 1, then Mul by x and Mul by 0.5 in either order, or Mul by x*0.5.
 * Returns the last node and appends the intermediate nodes to kill[]. */
static int gelu_tail(const struct ir_graph *g, int co, int ci, int x, int *kill, int *nk)
{
    float c;
    if (!single_use(g, co)) return -1;
    int ai = consumer(g, co, ci);
    if (ai < 0 || g->nodes[ai].op != IR_OP_Add || !scalar_with(g, &g->nodes[ai], co, &c) ||
        !near(c, 1.0f))
        return -1;
    int t1 = g->nodes[ai].out[0];
    if (!single_use(g, t1)) return -1;
    int m1 = consumer(g, t1, ai);
    if (m1 < 0 || g->nodes[m1].op != IR_OP_Mul) return -1;
    int o1 = other_in(&g->nodes[m1], t1);
    kill[(*nk)++] = ai;
    if (o1 == x) {
        int t2 = g->nodes[m1].out[0];
        if (!single_use(g, t2)) return -1;
        int last = consumer(g, t2, m1);
        if (last < 0 || g->nodes[last].op != IR_OP_Mul ||
            !scalar_with(g, &g->nodes[last], t2, &c) || !near(c, 0.5f))
            return -1;
        kill[(*nk)++] = m1;
        return last;
    }
    int hi = prod(g, o1);
    if (!live_op(g, hi, IR_OP_Mul) || !single_use(g, o1) || !scalar_with(g, &g->nodes[hi], x, &c) ||
        !near(c, 0.5f))
        return -1;
    kill[(*nk)++] = hi;
    return m1;
}

/* x^3 as Pow(x, 3), Mul(x, Mul(x, x)) or Mul(Mul(x, x), x); kills appended. */
static int is_cube(const struct ir_graph *g, int t, int x, int *kill, int *nk)
{
    int pi = prod(g, t);
    float c;
    if (pi < 0 || !single_use(g, t) || g->nodes[pi].dead) return 0;
    const struct ir_node *p = &g->nodes[pi];
    if (p->op == IR_OP_Pow && p->in[0] == x && const_scalar(g, p->in[1], &c) && c == 3.0f) {
        kill[(*nk)++] = pi;
        return 1;
    }
    if (p->op != IR_OP_Mul || other_in(p, x) < 0) return 0;
    int sq = other_in(p, x), si = prod(g, sq);
    if (!live_op(g, si, IR_OP_Mul) || !single_use(g, sq) || g->nodes[si].in[0] != x ||
        g->nodes[si].in[1] != x)
        return 0;
    kill[(*nk)++] = pi;
    kill[(*nk)++] = si;
    return 1;
}

/* 0.5 * x * (1 + erf(x / sqrt2)) and
 * 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) in PyTorch's orders
 * -> Gelu(x) (approximate = none / tanh). */
static mlc_status fuse_gelu(struct mlc_net *net, mlc_error *err)
{
    struct ir_graph *g = &net->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ir_node *e = &g->nodes[i];
        if (e->dead || (e->op != IR_OP_Erf && e->op != IR_OP_Tanh)) continue;
        int kill[16], nk = 0, x = -1, is_tanh = e->op == IR_OP_Tanh;
        float c;
        int di = prod(g, e->in[0]);
        if (di < 0 || !single_use(g, e->in[0]) || g->nodes[di].dead) continue;
        const struct ir_node *d = &g->nodes[di];
        if (!is_tanh) {
            if (d->op == IR_OP_Div && const_scalar(g, d->in[1], &c) && near(c, 1.41421356f))
                x = d->in[0];
            else if (d->op == IR_OP_Mul && d->n_in == 2) {
                for (int s = 0; s < 2 && x < 0; s++)
                    if (const_scalar(g, d->in[1 - s], &c) && near(c, 0.70710678f)) x = d->in[s];
            }
            if (x < 0) continue;
            kill[nk++] = di;
        } else {
            /* inner = Mul(sqrt(2/pi), Add(x, Mul(0.044715, x^3))) */
            if (d->op != IR_OP_Mul || d->n_in != 2) continue;
            int a = -1;
            for (int s = 0; s < 2 && a < 0; s++)
                if (const_scalar(g, d->in[1 - s], &c) && near(c, 0.7978845608f)) a = d->in[s];
            int ai = prod(g, a);
            if (a < 0 || !live_op(g, ai, IR_OP_Add) || !single_use(g, a)) continue;
            kill[nk++] = di;
            kill[nk++] = ai;
            const struct ir_node *ad = &g->nodes[ai];
            int found = 0;
            for (int s = 0; s < 2 && !found; s++) {
                int xx = ad->in[s], m = ad->in[1 - s], mi = prod(g, m);
                if (!live_op(g, mi, IR_OP_Mul) || !single_use(g, m)) continue;
                const struct ir_node *mk = &g->nodes[mi];
                for (int q = 0; q < 2 && !found; q++) {
                    int save = nk;
                    if (const_scalar(g, mk->in[1 - q], &c) && near(c, 0.044715f)) {
                        kill[nk++] = mi;
                        if (is_cube(g, mk->in[q], xx, kill, &nk)) {
                            found = 1;
                            x = xx;
                        } else {
                            nk = save;
                        }
                    }
                }
            }
            if (!found) continue;
        }
        kill[nk++] = i;
        int last = gelu_tail(g, e->out[0], i, x, kill, &nk);
        if (last < 0) continue;
        struct ir_node *L = &g->nodes[last];
        for (int k = 0; k < nk; k++) g->nodes[kill[k]].dead = 1;
        L->op = IR_OP_Gelu;
        L->in[0] = x;
        L->n_in = 1;
        if (is_tanh) {
            /* Gelu's attribute list is the Mul's (empty): add approximate. */
            struct ir_attr *at = mlc_realloc(L->attrs, (size_t)(L->n_attrs + 1) * sizeof *at);
            if (!at) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
            L->attrs = at;
            memset(&at[L->n_attrs], 0, sizeof *at);
            at[L->n_attrs].name = core_strdup("approximate");
            at[L->n_attrs].s = core_strdup("tanh");
            at[L->n_attrs].type = IR_ATTR_STRING;
            at[L->n_attrs].tensor = -1;
            L->n_attrs++;
            if (!at[L->n_attrs - 1].name || !at[L->n_attrs - 1].s)
                return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
        }
        net->n_fused += nk;
    }
    return ir_graph_compact(g, err);
}

/* Decomposed LayerNorm over the last axis -> LayerNormalization. */
static mlc_status fuse_layernorm(struct mlc_net *net, mlc_error *err)
{
    struct ir_graph *g = &net->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ir_node *dv = &g->nodes[i];
        if (dv->dead || dv->op != IR_OP_Div || dv->n_in != 2) continue;
        int sub_i = prod(g, dv->in[0]), sq_i = prod(g, dv->in[1]);
        if (!live_op(g, sub_i, IR_OP_Sub) || !live_op(g, sq_i, IR_OP_Sqrt)) continue;
        int dtens = dv->in[0];
        if (g->tensors[dtens].n_uses != 2 || !single_use(g, dv->in[1])) continue;
        struct ir_node *sb = &g->nodes[sub_i];
        int x = sb->in[0], rm1 = prod(g, sb->in[1]);
        if (!live_op(g, rm1, IR_OP_ReduceMean) || g->nodes[rm1].in[0] != x ||
            !single_use(g, sb->in[1]))
            continue;
        int ae = prod(g, g->nodes[sq_i].in[0]);
        float eps, c;
        if (!live_op(g, ae, IR_OP_Add) || !single_use(g, g->nodes[sq_i].in[0])) continue;
        int vt = g->nodes[ae].in[0];
        if (!const_scalar(g, g->nodes[ae].in[1], &eps)) {
            vt = g->nodes[ae].in[1];
            if (!const_scalar(g, g->nodes[ae].in[0], &eps)) continue;
        }
        int rm2 = prod(g, vt);
        if (!live_op(g, rm2, IR_OP_ReduceMean) || !single_use(g, vt)) continue;
        int pw = prod(g, g->nodes[rm2].in[0]);
        if (!(live_op(g, pw, IR_OP_Pow) && g->nodes[pw].in[0] == dtens &&
              const_scalar(g, g->nodes[pw].in[1], &c) && c == 2.0f) &&
            !(live_op(g, pw, IR_OP_Mul) && g->nodes[pw].in[0] == dtens &&
              g->nodes[pw].in[1] == dtens))
            continue;
        if (!single_use(g, g->nodes[rm2].in[0])) continue;
        /* Both reductions over exactly the last axis, keepdims. */
        int xr = g->tensors[x].rank, okax = xr > 0;
        for (int r = 0; r < 2 && okax; r++) {
            const struct ir_node *rm = &g->nodes[r ? rm2 : rm1];
            const struct ir_tensor *ax =
                rm->n_in > 1 && rm->in[1] >= 0 ? &g->tensors[rm->in[1]] : NULL;
            if (!ax || !ax->data || ax->dtype != MLC_DTYPE_I64 || ir_tensor_numel(ax) != 1 ||
                ir_attr_int(rm, "keepdims", 1) != 1)
                okax = 0;
            else {
                int64_t a = *(const int64_t *)ax->data;
                if (a != -1 && a != xr - 1) okax = 0;
            }
        }
        if (!okax || g->tensors[x].dtype != MLC_DTYPE_F32) continue;
        /* Optional affine: Mul(gamma) then Add(beta), constants of [D]. */
        int64_t D = g->tensors[x].dims[xr - 1];
        if (D <= 0) continue;
        int last = i, gamma = -1, beta = -1, mul_i = -1, add_i = -1, mul_used = -1;
        int q = dv->out[0];
        if (single_use(g, q)) {
            for (int k = i + 1; k < g->n_nodes && mul_i < 0; k++)
                if (!g->nodes[k].dead && other_in(&g->nodes[k], q) >= 0) mul_i = k;
            if (mul_i >= 0 && g->nodes[mul_i].op == IR_OP_Mul) {
                int gt = other_in(&g->nodes[mul_i], q);
                const struct ir_tensor *G = &g->tensors[gt];
                if (G->data && G->dtype == MLC_DTYPE_F32 && G->rank == 1 && G->dims[0] == D) {
                    gamma = gt;
                    last = mul_i;
                    mul_used = mul_i;
                    int r = g->nodes[mul_i].out[0];
                    if (single_use(g, r)) {
                        for (int k = mul_i + 1; k < g->n_nodes && add_i < 0; k++)
                            if (!g->nodes[k].dead && other_in(&g->nodes[k], r) >= 0) add_i = k;
                        if (add_i >= 0 && g->nodes[add_i].op == IR_OP_Add) {
                            int bt = other_in(&g->nodes[add_i], r);
                            const struct ir_tensor *B = &g->tensors[bt];
                            if (B->data && B->dtype == MLC_DTYPE_F32 && B->rank == 1 &&
                                B->dims[0] == D) {
                                beta = bt;
                                last = add_i;
                            }
                        }
                    }
                }
            }
        }
        if (gamma < 0) {
            /* No affine: scale 1. */
            float *ones = mlc_alloc((size_t)D * sizeof(float) + 4);
            if (!ones) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
            for (int64_t k = 0; k < D; k++) ones[k] = 1.0f;
            mlc_status st = ir_add_tensor(g, NULL, MLC_DTYPE_F32, 0, NULL, &gamma, err);
            if (st) {
                mlc_free(ones);
                return st;
            }
            ir_tensor_set_data(&g->tensors[gamma], MLC_DTYPE_F32, 1, &D, ones);
        }
        struct ir_node *L = &g->nodes[last];
        int *in = mlc_realloc(L->in, 3 * sizeof(int));
        if (!in) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
        L->in = in;
        L->in[0] = x;
        L->in[1] = gamma;
        L->in[2] = beta;
        L->n_in = beta >= 0 ? 3 : 2;
        L->op = IR_OP_LayerNormalization;
        mlc_status st = ir_node_add_attr_int(g, last, "axis", -1, err);
        if (!st) st = ir_node_add_attr_float(g, last, "epsilon", eps, err);
        if (st) return st;
        int kill[] = {rm1, sub_i, pw, rm2, ae, sq_i, i, mul_used};
        for (size_t k = 0; k < sizeof kill / sizeof kill[0]; k++)
            if (kill[k] >= 0 && kill[k] != last) g->nodes[kill[k]].dead = 1;
        net->n_fused += 8;
    }
    return ir_graph_compact(g, err);
}

mlc_status eng_fuse(struct mlc_net *net, mlc_error *err)
{
    mlc_status st = fold_bn(net, err);
    if (!st) st = fuse_layernorm(net, err);
    if (!st) st = fuse_gelu(net, err);
    if (!st) st = fuse_silu(net, err);
    if (!st) st = fuse_act(net, err);
    return st;
}

/* Gemm with a constant transposed B (every nn.Linear export): transpose the
 * weights once here instead of per run in the kernel. */
static mlc_status pretranspose_gemm(struct mlc_net *net, mlc_error *err)
{
    struct ir_graph *g = &net->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ir_node *n = &g->nodes[i];
        if (n->dead || n->op != IR_OP_Gemm || n->n_in < 2) continue;
        struct ir_attr *tb = (struct ir_attr *)ir_attr_find(n, "transB");
        if (!tb || tb->type != IR_ATTR_INT || tb->i != 1) continue;
        const struct ir_tensor *b = &g->tensors[n->in[1]];
        if (!b->data || b->dtype != MLC_DTYPE_F32 || b->rank != 2) continue;
        int64_t N = b->dims[0], K = b->dims[1], d[2] = {K, N};
        float *t = mlc_alloc((size_t)(N * K) * sizeof(float) + 4);
        if (!t) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
        const float *src = b->data;
        for (int64_t j = 0; j < N; j++)
            for (int64_t k = 0; k < K; k++) t[k * N + j] = src[j * K + k];
        int nt;
        mlc_status st = ir_add_tensor(g, NULL, MLC_DTYPE_F32, 0, NULL, &nt, err);
        if (st) {
            mlc_free(t);
            return st;
        }
        ir_tensor_set_data(&g->tensors[nt], MLC_DTYPE_F32, 2, d, t);
        n = &g->nodes[i];
        n->in[1] = nt;
        tb->i = 0;
    }
    return ir_graph_compact(g, err);
}

mlc_status eng_fuse_late(struct mlc_net *net, mlc_error *err)
{
    mlc_status st = fuse_matmul_bias(net, err);
    if (!st) st = pretranspose_gemm(net, err);
    return st;
}
