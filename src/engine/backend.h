/*
 * backend.h - how an accelerated backend (oneDNN, in src/engine/dnnl/) plugs
 * into mlc's engine.
 *
 * Contract
 *   1. The engine loads the ONNX file into an ir_graph (onnx/ir.h), infers
 *      static shapes (a dynamic batch stays -1), folds constants, removes dead
 *      nodes and applies the fusions (Conv+BN folded into weights, bias and
 *      activation in node->act, LayerNormalization, Gelu).
 *   2. Unless opts->backend == MLC_BACKEND_REFERENCE, it then calls
 *      eng_dnnl_partition(g, opts, err) once. The backend may replace any
 *      set of nodes by Region nodes: it calls ir_add_region() with the
 *      subgraph's boundary tensors (inputs: tensors produced outside the set
 *      or graph inputs; constants the backend packed itself need not be
 *      listed; outputs: every tensor of the set used outside it or a graph
 *      output) and marks the replaced nodes dead (node->dead = 1). It must not
 *      change tensor indices, dtypes or the graph's inputs/outputs. The engine
 *      then calls ir_graph_compact(), which re-sorts the graph and frees the
 *      data of constants that no remaining node uses: weights the backend
 *      copied/packed are released that way. The backend must therefore copy
 *      what it keeps; it must not keep pointers into g->tensors[].data of
 *      tensors that are no longer inputs of a live node.
 *      Returning an error fails the load (the message is shown to the user);
 *      returning MLC_OK without adding regions is always acceptable.
 *   3. Per session and per distinct set of input shapes ("plan"), the engine
 *      allocates vt->session_size(model_ctx) zeroed bytes of state for each
 *      region, calls vt->infer() to learn the output shapes and then
 *      vt->bind() (create primitives and scratch for these shapes). States
 *      live until the plan is evicted or the session freed, when vt->unbind()
 *      is called (also after a failed bind: unbind must accept a zeroed or
 *      partially bound state) and the bytes freed by the engine.
 *   4. vt->run() computes the region: inputs are the boundary tensors in the
 *      order given to ir_add_region (data is engine-owned, C-order, dtype as
 *      in the graph); outputs point to engine-planned buffers of exactly the
 *      inferred shapes (never aliasing an input). run may be called from
 *      several sessions at once on the same model_ctx (each with its own
 *      state): model_ctx is read-only after partition.
 *   5. vt->free(model_ctx) is called once when the graph is freed.
 *   Threads: opts->threads is the compute thread count per session (0 = all
 *   cores). Precision: opts->precision (F32, or BF16 where the backend wants
 *   to compute in bf16; inputs and outputs stay f32).
 */
#ifndef MLC_ENGINE_BACKEND_H
#define MLC_ENGINE_BACKEND_H

#include <stddef.h>

#include "core/core.h"
#include "onnx/ir.h"

struct eng_pcache;

struct eng_backend_opts {
    int threads;               /* compute threads per session; 0 = all cores */
    mlc_precision precision;   /* F32 or BF16 */
    mlc_backend backend;       /* AUTO or REFERENCE (partition is not called then) */
    struct eng_pcache *pcache; /* packed-weights cache (engine/pcache.h), or NULL */
};

/* What a backend's packed weights depend on besides the model (its version,
 * the CPU's ISA, the precision), as a pcache variant string in buf; an
 * empty string when the backend packs nothing (no cache then). */
void eng_dnnl_variant(const struct eng_backend_opts *o, char *buf, size_t n);

/* A Region node's implementation. `in`/`out` shapes and tensors are
 * mlc_tensor descriptors (dims are concrete here; data NULL for shapes). */
struct eng_region_vtbl {
    const char *name; /* backend name shown by `mlc inspect` ("dnnl") */
    /* Bytes of per-(session, shape) state; the engine allocates it zeroed. */
    size_t (*session_size)(void *model_ctx);
    /* Output shapes/dtypes for the given input shapes (fills out[0..n_out)).
     * Must fail (INVALID_ARGUMENT, naming the tensor) on shapes it cannot do. */
    mlc_status (*infer)(void *model_ctx, const mlc_tensor *in, int n_in, mlc_tensor *out, int n_out,
                        mlc_error *err);
    /* Prepares `state` for these input shapes (primitives, scratch), for
     * runs on `threads` compute threads (the session's: opts->threads, or
     * fewer for a session that runs a batch's images side by side). */
    mlc_status (*bind)(void *model_ctx, const mlc_tensor *in, int n_in, void *state, int threads,
                       mlc_error *err);
    /* Computes outputs from inputs with a bound state. */
    mlc_status (*run)(void *model_ctx, void *state, const mlc_tensor *in, int n_in, mlc_tensor *out,
                      int n_out, mlc_error *err);
    /* Releases what bind created (accepts a zeroed or partly bound state). */
    void (*unbind)(void *model_ctx, void *state);
    /* Releases model_ctx (packed weights, descriptors). */
    void (*free)(void *model_ctx);
    /* (optional) one-line description for `mlc inspect`; NULL = name only. */
    const char *(*describe)(void *model_ctx);
    /* (optional, both or neither) Bytes of run-time scratch a bound state
     * needs, and handing it that scratch (64-byte aligned, alive until
     * unbind). The engine gives every region of a plan the same block, sized
     * for the largest: regions run one after the other and keep nothing in
     * it between runs. Without set_pool the backend allocates its own. */
    size_t (*pool_size)(void *model_ctx, void *state);
    mlc_status (*set_pool)(void *model_ctx, void *state, void *pool, mlc_error *err);
};

/* Replaces what it can of g by Region nodes (see the contract above).
 * The default (backend_none.c, weak) adds nothing; src/engine/dnnl/
 * provides the real one. */
mlc_status eng_dnnl_partition(struct ir_graph *g, const struct eng_backend_opts *o, mlc_error *err);

#endif
