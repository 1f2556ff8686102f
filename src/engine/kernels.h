/*
 * kernels.h - the engine's internal kernel interface (conventions 13/14).
 *
 * Every op in onnx/ops.def has a reference kernel eng_k_<suffix>() in one of
 * src/engine/ops/<family>.c and a row in the dispatch table built from the
 * same list (ops.c). A kernel computes its share [ith of nth] of the node's
 * outputs; it never creates threads, never allocates (scratch is planned:
 * eng_kscratch() tells the planner how many bytes a node needs) and reads
 * only its inputs and attributes. Kernels whose work is not worth splitting
 * do everything at ith == 0 and return at once for the others.
 *
 * Shapes: by the time a kernel runs, eng_infer() has computed every output's
 * concrete dims and the executor has validated the inputs; kernels still
 * check data-dependent values (Gather indices, Reshape targets) and return
 * INVALID_ARGUMENT naming the node instead of reading out of bounds.
 */
#ifndef MLC_ENGINE_KERNELS_H
#define MLC_ENGINE_KERNELS_H

#include "core/core.h"
#include "onnx/ir.h"

struct eng_kctx {
    const struct ir_node *node;
    const mlc_tensor *in; /* n_in descriptors; data NULL for an absent optional input */
    int n_in;
    mlc_tensor *out; /* n_out descriptors with concrete dims and planned data */
    int n_out;
    void *scratch;  /* eng_kscratch() bytes, 64-byte aligned, not zeroed */
    mlc_error *err; /* written only by the ith == 0 share or on failure */
};

typedef mlc_status (*eng_kernel_fn)(const struct eng_kctx *c, int ith, int nth);

/* One prototype per op. */
#define MLC_OP(name, k) mlc_status eng_k_##k(const struct eng_kctx *c, int ith, int nth);
#include "onnx/ops.def"
#undef MLC_OP

/* Dispatch table indexed by enum ir_op (Region's entry is NULL: the executor
 * runs regions through their vtable). */
extern const eng_kernel_fn eng_kernels[IR_OP_COUNT];

/* Whether the kernel may be split across threads (others run at ith 0). */
int eng_kernel_parallel(enum ir_op op);

/* Scratch bytes the node needs for these shapes and nth threads (0 for most ops). */
size_t eng_kscratch(const struct ir_node *n, int nth, const mlc_tensor *in, int n_in,
                    const mlc_tensor *out, int n_out);

/* Output shape/dtype inference for one node. `in[i].data` is non-NULL when the
 * value is known (constant or folded): ops whose output shape depends on
 * values (Reshape, Slice, Expand, ...) need it and leave dims -1 otherwise.
 * dims of inputs may be -1 (symbolic) at load time and are concrete at run
 * planning. Fails with BAD_MODEL/INVALID_ARGUMENT naming the node. */
mlc_status eng_infer(const struct ir_node *n, const mlc_tensor *in, int n_in, mlc_tensor *out,
                     int n_out, mlc_error *err);

/* Shared helpers for kernels. */
/* Numpy-style broadcast of two shapes into out; -1 when incompatible. */
int eng_broadcast(int ra, const int64_t *a, int rb, const int64_t *b, int64_t *out);
int64_t eng_numel(const mlc_tensor *t);

/* The case labels of the element-wise float ops whose output has the input's
 * shape and dtype (activations, softmax), shared by shape inference and the
 * symbolic shape folding. Use as `ENG_FLOAT_UNARY_CASES:` in a switch. */
#define ENG_FLOAT_UNARY_CASES                                                                      \
    case IR_OP_Ceil:                                                                               \
    case IR_OP_Celu:                                                                               \
    case IR_OP_Cos:                                                                                \
    case IR_OP_Elu:                                                                                \
    case IR_OP_Erf:                                                                                \
    case IR_OP_Exp:                                                                                \
    case IR_OP_Floor:                                                                              \
    case IR_OP_Gelu:                                                                               \
    case IR_OP_HardSigmoid:                                                                        \
    case IR_OP_HardSwish:                                                                          \
    case IR_OP_LeakyRelu:                                                                          \
    case IR_OP_Log:                                                                                \
    case IR_OP_Mish:                                                                               \
    case IR_OP_Reciprocal:                                                                         \
    case IR_OP_Round:                                                                              \
    case IR_OP_Selu:                                                                               \
    case IR_OP_Sigmoid:                                                                            \
    case IR_OP_Sin:                                                                                \
    case IR_OP_Softplus:                                                                           \
    case IR_OP_Softsign:                                                                           \
    case IR_OP_Sqrt:                                                                               \
    case IR_OP_Tan:                                                                                \
    case IR_OP_Tanh:                                                                               \
    case IR_OP_Softmax:                                                                            \
    case IR_OP_LogSoftmax

/* The case labels of the reductions (keepdims/axes semantics, ArgMax
 * included), shared by shape inference, symbolic folding and scratch sizing. */
#define ENG_REDUCE_CASES                                                                           \
    case IR_OP_ReduceMean:                                                                         \
    case IR_OP_ReduceSum:                                                                          \
    case IR_OP_ReduceMax:                                                                          \
    case IR_OP_ReduceMin:                                                                          \
    case IR_OP_ReduceProd:                                                                         \
    case IR_OP_ReduceL2:                                                                           \
    case IR_OP_ReduceSumSquare:                                                                    \
    case IR_OP_ArgMax

/* The case labels of the two-input element-wise ops that broadcast
 * (arithmetic, comparisons, logic, PRelu), shared by shape inference and the
 * symbolic folding. */
#define ENG_BINARY_CASES                                                                           \
    case IR_OP_Add:                                                                                \
    case IR_OP_Sub:                                                                                \
    case IR_OP_Mul:                                                                                \
    case IR_OP_Div:                                                                                \
    case IR_OP_Pow:                                                                                \
    case IR_OP_Mod:                                                                                \
    case IR_OP_And:                                                                                \
    case IR_OP_Or:                                                                                 \
    case IR_OP_Equal:                                                                              \
    case IR_OP_Greater:                                                                            \
    case IR_OP_Less:                                                                               \
    case IR_OP_GreaterOrEqual:                                                                     \
    case IR_OP_LessOrEqual:                                                                        \
    case IR_OP_PRelu

#endif
