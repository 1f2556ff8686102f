/*
 * ir.h - mlc's graph IR: what the ONNX loader produces, what the optimiser
 * rewrites, what backends partition and what the executor schedules.
 *
 * Model
 *   A graph is an array of tensors and an array of nodes. Nodes refer to
 *   tensors by index (int; -1 = an absent optional input). Tensor indices are
 *   stable for the life of the graph (tensors are never removed, only
 *   emptied); node indices are not: passes may append nodes, mark nodes dead
 *   and then call ir_graph_compact(), which drops dead nodes and re-sorts the
 *   survivors topologically.
 *
 *   Every tensor has a dtype (mlc_dtype, i.e. ONNX TensorProto codes), a rank
 *   (-1 while unknown) and dims (-1 for a symbolic/unknown extent, such as a
 *   dynamic batch). A constant tensor (initializer, Constant node output,
 *   folded value) has `data` != NULL holding exactly
 *   ir_tensor_nbytes() bytes in C order; the graph owns it when
 *   IR_TENSOR_OWNED is set (freed with mlc_free), otherwise it points into a
 *   buffer the graph owner keeps alive (e.g. a mapped file).
 *
 *   Attributes are kept as ONNX has them (name + typed value) so that
 *   backends see exactly what the file said; the loader has already refused
 *   attributes mlc does not implement. Fusions add the `act` fields of a node
 *   rather than new attributes.
 *
 * Invariants after onnx_load() succeeds: every node input index is -1 or a
 *   valid tensor; every tensor has at most one producer; the node array is in
 *   topological order; graph inputs are not produced by nodes; every graph
 *   output is produced or constant; every op is one mlc implements.
 */
#ifndef MLC_ONNX_IR_H
#define MLC_ONNX_IR_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Operators: IR_OP_<OnnxName>, from ops.def. */
enum ir_op {
#define MLC_OP(name, k) IR_OP_##name,
#include "onnx/ops.def"
#undef MLC_OP
    IR_OP_COUNT
};

/* ONNX op_type of an op ("Conv"); "?" when out of range. */
const char *ir_op_name(enum ir_op op);
/* Maps an ONNX op_type to an op; returns IR_OP_COUNT when unknown. Region is
 * never returned (it is internal). */
enum ir_op ir_op_from_name(const char *name);

/* Tensor flags. */
#define IR_TENSOR_OWNED  1u /* data was allocated with mlc_alloc and is the graph's */
#define IR_TENSOR_INPUT  2u /* a graph input (fed by the caller at run time) */
#define IR_TENSOR_OUTPUT 4u /* a graph output */
/* A constant left in the model file (onnx_load_opts.lazy): data points at an
 * inaccessible placeholder of the right size, so that every pass sees a
 * constant; its bytes are [src_off, src_off + src_len) of the model, which
 * ir_tensor_materialize reads while g->src is set. */
#define IR_TENSOR_LAZY 8u

struct ir_tensor {
    char *name;                 /* owned; unique within the graph ("" for fused temporaries) */
    mlc_dtype dtype;            /* 0 while unknown */
    int rank;                   /* -1 while unknown */
    int64_t dims[MLC_MAX_RANK]; /* -1 = symbolic or unknown */
    void *data;                 /* constant value or NULL */
    unsigned flags;             /* IR_TENSOR_* */
    int producer;               /* node index, -1 for inputs/constants (valid after compact) */
    int n_uses;                 /* node inputs + graph outputs referring to it (after compact) */
    int64_t src_off;            /* where the initializer's raw_data lies in the model file, */
    size_t src_len;             /* when onnx_load_opts.want_spans or lazy (0: nowhere) */
};

enum ir_attr_type {
    IR_ATTR_FLOAT = 1,
    IR_ATTR_INT = 2,
    IR_ATTR_STRING = 3,
    IR_ATTR_TENSOR = 4, /* value in `tensor` (a constant tensor index) */
    IR_ATTR_FLOATS = 6,
    IR_ATTR_INTS = 7,
    IR_ATTR_STRINGS = 8,
};

struct ir_attr {
    char *name; /* owned */
    enum ir_attr_type type;
    float f;
    int64_t i;
    char *s;       /* owned, NUL-terminated (STRING) */
    int n;         /* element count of ints/floats */
    int64_t *ints; /* owned */
    float *floats; /* owned */
    int tensor;    /* tensor index for IR_ATTR_TENSOR */
};

/* Activation fused into a node's output (Conv, Gemm, MatMul, Add...). */
enum ir_act {
    IR_ACT_NONE = 0,
    IR_ACT_RELU,
    IR_ACT_LEAKY_RELU, /* alpha */
    IR_ACT_CLIP,       /* alpha = min, beta = max */
    IR_ACT_SIGMOID,
    IR_ACT_HARD_SIGMOID, /* alpha, beta */
    IR_ACT_HARD_SWISH,
    IR_ACT_SILU, /* x * sigmoid(x) */
    IR_ACT_GELU, /* exact erf form */
    IR_ACT_GELU_TANH,
    IR_ACT_TANH,
};

struct eng_region_vtbl; /* engine/backend.h */

struct ir_node {
    enum ir_op op;
    char *name; /* owned; ONNX node name or a generated "op_<index>" */
    int n_in, n_out;
    int *in;  /* owned; tensor indices, -1 = absent optional input */
    int *out; /* owned; tensor indices */
    int n_attrs;
    struct ir_attr *attrs; /* owned */
    int dead;              /* marked for removal by ir_graph_compact() */
    /* Fused epilogue, applied to the output in this order: + bias (already
     * an input for Conv/Gemm) then activation. */
    enum ir_act act;
    float act_alpha, act_beta;
    /* IR_OP_Region only: the backend's compiled subgraph (see backend.h). */
    const struct eng_region_vtbl *vt;
    void *model_ctx;
};

struct ir_graph {
    struct ir_tensor *tensors;
    int n_tensors, cap_tensors;
    struct ir_node *nodes;
    int n_nodes, cap_nodes;
    int *inputs; /* tensor indices of the caller-fed inputs, in ONNX order */
    int n_inputs;
    int *outputs; /* tensor indices of the outputs, in ONNX order */
    int n_outputs;
    int64_t opset;  /* default-domain ("" / "ai.onnx") opset import */
    char *name;     /* graph name, owned */
    char *producer; /* producer_name + version, owned */
    int max_nodes;  /* growth cap (mlc_limits) */
    /* The model's bytes while it loads (not owned; NULL after), and the
     * placeholder mapping of its lazy tensors (owned). */
    const uint8_t *src;
    size_t src_n;
    void *lazy_base;
    size_t lazy_size;
};

/* Reads a lazy tensor's bytes from g->src into a buffer the graph owns (the
 * tensor becomes an ordinary constant). NO_MEMORY, or INTERNAL when the
 * model bytes are gone. */
mlc_status ir_tensor_materialize(struct ir_graph *g, int t, mlc_error *err);

/* Lifetime. ir_graph_free releases everything, including regions (through
 * their vt->free) and owned constant data. */
void ir_graph_init(struct ir_graph *g);
void ir_graph_free(struct ir_graph *g);

/* Appends a tensor (name copied; may be NULL for an anonymous temporary).
 * Returns its index in *idx_out. dims may be NULL when rank <= 0. */
mlc_status ir_add_tensor(struct ir_graph *g, const char *name, mlc_dtype dt, int rank,
                         const int64_t *dims, int *idx_out, mlc_error *err);
/* Appends a node (name copied; NULL = generated), copying the index arrays.
 * Attributes are added afterwards with ir_node_add_attr*. Pointers into
 * g->nodes are invalidated by this call. */
mlc_status ir_add_node(struct ir_graph *g, enum ir_op op, const char *name, const int *in, int n_in,
                       const int *out, int n_out, int *idx_out, mlc_error *err);
/* Appends a Region node standing for a backend-compiled subgraph. The caller
 * marks the nodes it replaces dead; the engine then compacts the graph.
 * On failure model_ctx is NOT freed (the caller still owns it). */
mlc_status ir_add_region(struct ir_graph *g, const char *name, const int *in, int n_in,
                         const int *out, int n_out, const struct eng_region_vtbl *vt,
                         void *model_ctx, mlc_error *err);

mlc_status ir_node_add_attr_int(struct ir_graph *g, int node, const char *name, int64_t v,
                                mlc_error *err);
mlc_status ir_node_add_attr_float(struct ir_graph *g, int node, const char *name, float v,
                                  mlc_error *err);
mlc_status ir_node_add_attr_ints(struct ir_graph *g, int node, const char *name, const int64_t *v,
                                 int n, mlc_error *err);

/* Attribute look-up; NULL when absent. */
const struct ir_attr *ir_attr_find(const struct ir_node *n, const char *name);
int64_t ir_attr_int(const struct ir_node *n, const char *name, int64_t dflt);
float ir_attr_float(const struct ir_node *n, const char *name, float dflt);
/* Ints attribute: returns its count (0 when absent) and sets *v. */
int ir_attr_ints(const struct ir_node *n, const char *name, const int64_t **v);
const char *ir_attr_str(const struct ir_node *n, const char *name, const char *dflt);

/* Element count of a tensor with known static dims; -1 when any dim is
 * unknown or the product exceeds INT64_MAX / 16. */
int64_t ir_tensor_numel(const struct ir_tensor *t);
/* Bytes of a tensor's data (numel * dtype size); 0 when unknown. */
size_t ir_tensor_nbytes(const struct ir_tensor *t);
/* Same on plain shapes. */
int64_t ir_numel(int rank, const int64_t *dims);

/* Replaces a tensor's constant data (taking ownership of `data`, which must
 * come from mlc_alloc) and its dtype/shape. Frees the previous owned data. */
void ir_tensor_set_data(struct ir_tensor *t, mlc_dtype dt, int rank, const int64_t *dims,
                        void *data);
/* Drops a tensor's constant data (freeing it when owned). */
void ir_tensor_drop_data(struct ir_tensor *t);

/* Removes dead nodes, re-sorts the rest topologically (Kahn; stable),
 * recomputes producer/n_uses, and frees the data of constants no live node or
 * output uses any more. Fails (BAD_MODEL) on a cycle or a tensor with two
 * producers, naming the node. */
mlc_status ir_graph_compact(struct ir_graph *g, mlc_error *err);

/* Appends a human-readable listing of the graph to b. */
mlc_status ir_graph_dump(const struct ir_graph *g, struct core_buf *b);

#endif
