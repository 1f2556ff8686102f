/*
 * opt.c - load-time graph passes: static shape inference (symbolic batch
 * stays -1), constant folding, dead-node removal, and fusions:
 *   Conv + BatchNormalization      -> Conv with rescaled weights and bias
 *   Conv/Gemm/MatMul(+Add bias) + activation -> one node with node->act
 *   x * Sigmoid(x)                 -> act SiLU on the producer when fusable
 *   decomposed LayerNorm (ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt,
 *     Div, Mul, Add)               -> LayerNormalization
 *   decomposed GELU (Div sqrt2, Erf, Add 1, Mul x, Mul 0.5) -> Gelu
 * Passes only rewrite when every intermediate has a single consumer and the
 * constants are exactly what the pattern needs; otherwise the graph is left
 * as it was, which is always correct. Folding is bounded (64 MiB per tensor).
 */
#include <math.h>
#include <string.h>

#include "engine/engine.h"

#define FOLD_MAX_BYTES ((size_t)64 << 20)

void eng_tensor_desc(const struct ir_graph *g, int t, mlc_tensor *d)
{
    memset(d, 0, sizeof *d);
    if (t < 0) return;
    const struct ir_tensor *x = &g->tensors[t];
    d->dtype = x->dtype;
    d->rank = x->rank;
    memcpy(d->dims, x->dims, sizeof d->dims);
    d->data = x->data;
}

mlc_status eng_run_kernel_1(const struct ir_node *n, const mlc_tensor *in, int n_in,
                            mlc_tensor *out, int n_out, mlc_error *err)
{
    size_t ss = eng_kscratch(n, 1, in, n_in, out, n_out);
    void *scratch = ss ? mlc_alloc(ss) : NULL;
    if (ss && !scratch)
        return core_err(err, MLC_STATUS_NO_MEMORY, "node '%s': out of memory", n->name);
    struct eng_kctx c = {n, in, n_in, out, n_out, scratch, err};
    mlc_status st = eng_kernels[n->op](&c, 0, 1);
    mlc_free(scratch);
    return st;
}

mlc_status eng_eval_node(const struct ir_node *n, const mlc_tensor *in, int n_in, mlc_tensor *out,
                         int n_out, mlc_error *err)
{
    mlc_status st = eng_infer(n, in, n_in, out, n_out, err);
    if (st) return st;
    for (int i = 0; i < n_out; i++) out[i].data = NULL;
    for (int i = 0; i < n_out; i++) {
        int64_t ne = eng_numel(&out[i]);
        if (ne < 0) {
            st = core_err(err, MLC_STATUS_INTERNAL, "node '%s': output shape unknown", n->name);
            goto fail;
        }
        out[i].data = mlc_alloc((size_t)ne * mlc_dtype_size(out[i].dtype) + 8);
        if (!out[i].data) {
            st = core_err(err, MLC_STATUS_NO_MEMORY, "node '%s': out of memory", n->name);
            goto fail;
        }
    }
    st = eng_run_kernel_1(n, in, n_in, out, n_out, err);
    if (!st) return MLC_OK;
fail:
    for (int i = 0; i < n_out; i++) {
        mlc_free(out[i].data);
        out[i].data = NULL;
    }
    return st;
}

static int is_graph_output(const struct ir_graph *g, int t)
{
    return (g->tensors[t].flags & IR_TENSOR_OUTPUT) != 0;
}

/* Infers every node's outputs; folds nodes whose inputs are all constant,
 * and (symfold.c) shape arithmetic on symbolic dims: before a node is
 * inferred its Reshape/Expand target may be made constant, after it its
 * small integer output may be tracked or folded. */
static mlc_status infer_fold(struct mlc_net *net, mlc_error *err)
{
    struct ir_graph *g = &net->g;
    mlc_tensor in[64], out[64];
    struct eng_symfold *sf = NULL;
    mlc_status st = eng_symfold_create(g, &sf, err);
    if (st) return st;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ir_node *n = &g->nodes[i];
        if (n->dead) continue;
        if (n->n_in > 64 || n->n_out > 64) {
            st = core_err(err, MLC_STATUS_UNSUPPORTED, "node '%s': more than 64 inputs", n->name);
            goto fail;
        }
        if ((st = eng_symfold_rewrite(sf, g, i, err))) goto fail;
        int all_const = n->op != IR_OP_Region, rank_unknown = 0;
        for (int k = 0; k < n->n_in; k++) {
            eng_tensor_desc(g, n->in[k], &in[k]);
            if (n->in[k] >= 0 && !in[k].data) all_const = 0;
            if (n->in[k] >= 0 && in[k].rank < 0) rank_unknown = 1;
        }
        /* A rank that depends on a runtime input's values (an axes or shape
         * input fed by the caller) is resolved per plan instead. */
        if (rank_unknown) continue;
        mlc_error e2;
        st = eng_infer(n, in, n->n_in, out, n->n_out, &e2);
        if (st == MLC_STATUS_UNSUPPORTED && strstr(e2.message, "[value-dependent]")) {
            for (int k = 0; k < n->n_out; k++)
                if (n->out[k] >= 0) g->tensors[n->out[k]].rank = -1;
            st = MLC_OK;
            continue;
        }
        if (st) {
            if (err) *err = e2;
            goto fail;
        }
        size_t bytes = 0;
        for (int k = 0; k < n->n_out; k++) {
            if (n->out[k] < 0) continue;
            struct ir_tensor *t = &g->tensors[n->out[k]];
            t->dtype = out[k].dtype;
            t->rank = out[k].rank;
            memcpy(t->dims, out[k].dims, sizeof t->dims);
            int64_t ne = eng_numel(&out[k]);
            if (ne < 0)
                all_const = 0;
            else
                bytes += (size_t)ne * mlc_dtype_size(out[k].dtype);
        }
        /* Shape/Size need only static dims, not values. */
        if ((n->op == IR_OP_Shape || n->op == IR_OP_Size) && n->out[0] >= 0) {
            int known = 1;
            if (n->op == IR_OP_Size)
                known = eng_numel(&in[0]) >= 0;
            else {
                int64_t r = in[0].rank, s = ir_attr_int(n, "start", 0);
                if (s < 0) s += r;
                if (s < 0) s = 0;
                for (int64_t d = 0; d < out[0].dims[0]; d++)
                    if (in[0].dims[s + d] < 0) known = 0;
            }
            if (known) {
                in[0].data = in[0].data ? in[0].data : (void *)"";
                all_const = 1;
            }
        }
        if (!all_const ||
            bytes > (FOLD_MAX_BYTES < net->max_ws / 4 ? FOLD_MAX_BYTES : net->max_ws / 4)) {
            int folded;
            if ((st = eng_symfold_eval(sf, g, i, &folded, err))) goto fail;
            if (folded) {
                n->dead = 1;
                net->n_folded++;
            }
            continue;
        }
        st = eng_eval_node(n, in, n->n_in, out, n->n_out, err);
        if (st) goto fail;
        for (int k = 0; k < n->n_out; k++) {
            if (n->out[k] < 0) {
                mlc_free(out[k].data);
                continue;
            }
            ir_tensor_set_data(&g->tensors[n->out[k]], out[k].dtype, out[k].rank, out[k].dims,
                               out[k].data);
        }
        n->dead = 1;
        net->n_folded++;
    }
fail:
    eng_symfold_free(sf);
    return st;
}

/* Marks nodes none of whose outputs is used dead (reverse sweep). */
static void remove_dead(struct ir_graph *g)
{
    int *uses = mlc_calloc((size_t)g->n_tensors + 1, sizeof(int));
    if (!uses) return; /* an optimisation only */
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead)
            for (int k = 0; k < g->nodes[i].n_in; k++)
                if (g->nodes[i].in[k] >= 0) uses[g->nodes[i].in[k]]++;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        struct ir_node *n = &g->nodes[i];
        if (n->dead) continue;
        int used = 0;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0 && (uses[n->out[k]] || is_graph_output(g, n->out[k]))) used = 1;
        if (used) continue;
        n->dead = 1;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) uses[n->in[k]]--;
    }
    mlc_free(uses);
}

mlc_status eng_optimise(struct mlc_net *net, mlc_error *err)
{
    mlc_status st = infer_fold(net, err);
    if (st) return st;
    remove_dead(&net->g);
    st = ir_graph_compact(&net->g, err);
    if (st) return st;
    st = eng_fuse(net, err);
    if (st) return st;
    remove_dead(&net->g);
    return ir_graph_compact(&net->g, err);
}
