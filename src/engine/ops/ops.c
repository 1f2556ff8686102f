/*
 * ops.c - the kernel dispatch table generated from onnx/ops.def, which ops
 * may be split across threads, and per-node scratch sizes.
 */
#include "engine/ops/ops.h"

const eng_kernel_fn eng_kernels[IR_OP_COUNT] = {
#define MLC_OP(name, k) [IR_OP_##name] = eng_k_##k,
#include "onnx/ops.def"
#undef MLC_OP
};
_Static_assert(sizeof eng_kernels / sizeof eng_kernels[0] == IR_OP_COUNT, "ops.def dispatch");

int eng_kernel_parallel(enum ir_op op)
{
    switch (op) {
    case IR_OP_Conv:
    case IR_OP_MatMul:
    case IR_OP_Gemm:
    case IR_OP_MaxPool:
    case IR_OP_AveragePool:
    case IR_OP_GlobalAveragePool:
    case IR_OP_GlobalMaxPool:
    case IR_OP_BatchNormalization:
    case IR_OP_InstanceNormalization:
    case IR_OP_LayerNormalization:
    case IR_OP_Softmax:
    case IR_OP_LogSoftmax:
    case IR_OP_Add:
    case IR_OP_Sub:
    case IR_OP_Mul:
    case IR_OP_Div:
    case IR_OP_Pow:
    case IR_OP_Relu:
    case IR_OP_Sigmoid:
    case IR_OP_Tanh:
    case IR_OP_Erf:
    case IR_OP_Gelu:
    case IR_OP_HardSigmoid:
    case IR_OP_HardSwish:
    case IR_OP_Exp:
    case IR_OP_Sqrt:
    case IR_OP_Clip:
    case IR_OP_LeakyRelu:
    case IR_OP_Cast:
    case IR_OP_Neg:
    case IR_OP_Abs:
        return 1;
    default:
        return 0;
    }
}

size_t eng_kscratch(const struct ir_node *n, int nth, const mlc_tensor *in, int n_in,
                    const mlc_tensor *out, int n_out)
{
    switch (n->op) {
    case IR_OP_Conv:
        return eng_conv_scratch(n, nth, in);
    case IR_OP_Gemm: {
        int ta = (int)ir_attr_int(n, "transA", 0), tb = (int)ir_attr_int(n, "transB", 0);
        int64_t M = out[0].dims[0], N = out[0].dims[1], K = ta ? in[0].dims[0] : in[0].dims[1];
        return (size_t)nth * (size_t)((ta ? M * K : 0) + (tb ? K * N : 0)) * sizeof(float);
    }
    ENG_REDUCE_CASES:
        return eng_reduce_scratch(&out[0]);
    default:
        return 0;
    }
}
