/*
 * engine.h - internals shared by the engine's files: the loaded network,
 * the optimiser passes and the single-node evaluator used by constant folding
 * (load time) and shape-value folding (plan time).
 */
#ifndef MLC_ENGINE_ENGINE_H
#define MLC_ENGINE_ENGINE_H

#include "engine/backend.h"
#include "engine/kernels.h"
#include "onnx/ir.h"

struct mlc_net {
    struct ir_graph g;
    struct eng_backend_opts bo;
    mlc_limits limits;
    int threads;           /* resolved: >= 1 */
    int n_folded;          /* nodes removed by constant folding */
    int n_fused;           /* nodes removed by fusions */
    int n_regions;         /* backend regions */
    size_t max_ws;         /* cap on one plan workspace: 16 x limits.max_input_bytes */
    struct eng_pcache *pc; /* packed-weights cache (owned), or NULL */
};

/* Infers static shapes, folds constants and removes dead nodes; then fuses
 * (Conv+BN, bias/activation epilogues, LayerNorm, Gelu). */
mlc_status eng_optimise(struct mlc_net *net, mlc_error *err);

/* Shape arithmetic on symbolic dims (symfold.c), driven by opt.c's
 * inference sweep in node order. create/free bracket one sweep; rewrite is
 * called before node `node` is inferred (may make its Reshape/Expand target
 * a new constant tensor, or a Shape read a graph input), eval after (tracks its small integer
 * output, or writes it as constant data and sets *folded, after which the caller marks the node
 * dead). Only allocation failures are errors. */
struct eng_symfold;
mlc_status eng_symfold_create(const struct ir_graph *g, struct eng_symfold **out, mlc_error *err);
void eng_symfold_free(struct eng_symfold *s);
mlc_status eng_symfold_rewrite(struct eng_symfold *s, struct ir_graph *g, int node, mlc_error *err);
mlc_status eng_symfold_eval(struct eng_symfold *s, struct ir_graph *g, int node, int *folded,
                            mlc_error *err);

/* Fusion passes (fuse.c), run by eng_optimise. */
mlc_status eng_fuse(struct mlc_net *net, mlc_error *err);
/* Fusions for nodes left to the reference kernels, run after partition. */
mlc_status eng_fuse_late(struct mlc_net *net, mlc_error *err);

/* Evaluates node n on inputs `in` (all with data) into freshly allocated
 * outputs (out[i].data = mlc_alloc'd; shapes from eng_infer). Single thread.
 * On failure nothing is left allocated. */
mlc_status eng_eval_node(const struct ir_node *n, const mlc_tensor *in, int n_in, mlc_tensor *out,
                         int n_out, mlc_error *err);

/* Runs a kernel share loop on the calling thread only (nth = 1). */
mlc_status eng_run_kernel_1(const struct ir_node *n, const mlc_tensor *in, int n_in,
                            mlc_tensor *out, int n_out, mlc_error *err);

/* Descriptor of graph tensor t (data = constant data or NULL). */
void eng_tensor_desc(const struct ir_graph *g, int t, mlc_tensor *d);

#endif
