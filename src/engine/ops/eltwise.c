/*
 * eltwise.c - reference kernels for element-wise ops: unary float maths,
 * broadcasting binary arithmetic/comparison/logic, variadic Max/Min/Sum/Mean,
 * Where, Clip, Cast, PRelu, Identity/Dropout. Float maths is f32 with double
 * only where ONNX's reference would otherwise differ (Pow, Erf via erff).
 * Unary and binary kernels split the output's flat range across threads.
 * Fused activations (node->act) are applied by eng_apply_act, shared with
 * Conv/Gemm/MatMul.
 */
#include <math.h>
#include <string.h>

#include "engine/kernels.h"
#include "engine/ops/ops.h"

static void range_of(int64_t n, int ith, int nth, int64_t *b, int64_t *e)
{
    int64_t chunk = (n + nth - 1) / nth;
    *b = chunk * ith;
    *e = *b + chunk;
    if (*b > n) *b = n;
    if (*e > n) *e = n;
}

static inline float gelu_erf(float x)
{
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}
static inline float gelu_tanh(float x)
{
    return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}
static inline float sigm(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

void eng_apply_act(enum ir_act act, float alpha, float beta, float *y, int64_t n)
{
    switch (act) {
    case IR_ACT_NONE:
        break;
    case IR_ACT_RELU:
        for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0 ? y[i] : 0;
        break;
    case IR_ACT_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++) y[i] = y[i] >= 0 ? y[i] : y[i] * alpha;
        break;
    case IR_ACT_CLIP:
        for (int64_t i = 0; i < n; i++) y[i] = y[i] < alpha ? alpha : (y[i] > beta ? beta : y[i]);
        break;
    case IR_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++) y[i] = sigm(y[i]);
        break;
    case IR_ACT_HARD_SIGMOID:
        for (int64_t i = 0; i < n; i++) {
            float v = alpha * y[i] + beta;
            y[i] = v < 0 ? 0 : (v > 1 ? 1 : v);
        }
        break;
    case IR_ACT_HARD_SWISH:
        for (int64_t i = 0; i < n; i++) {
            float v = y[i] / 6.0f + 0.5f;
            y[i] *= v < 0 ? 0 : (v > 1 ? 1 : v);
        }
        break;
    case IR_ACT_SILU:
        for (int64_t i = 0; i < n; i++) y[i] = y[i] * sigm(y[i]);
        break;
    case IR_ACT_GELU:
        for (int64_t i = 0; i < n; i++) y[i] = gelu_erf(y[i]);
        break;
    case IR_ACT_GELU_TANH:
        for (int64_t i = 0; i < n; i++) y[i] = gelu_tanh(y[i]);
        break;
    case IR_ACT_TANH:
        for (int64_t i = 0; i < n; i++) y[i] = tanhf(y[i]);
        break;
    }
}

/* ---- unary float ---------------------------------------------------------- */

static mlc_status unary_f(const struct eng_kctx *c, int ith, int nth, int op)
{
    const struct ir_node *nd = c->node;
    const float *x = c->in[0].data;
    float *y = c->out[0].data;
    int64_t b, e;
    range_of(eng_numel(&c->out[0]), ith, nth, &b, &e);
    float alpha = ir_attr_float(
        nd, "alpha",
        op == IR_OP_LeakyRelu
            ? 0.01f
            : (op == IR_OP_HardSigmoid ? 0.2f
                                       : (op == IR_OP_Selu ? 1.67326319217681884765625f : 1.0f)));
    float beta = ir_attr_float(nd, "beta", 0.5f);
    float gamma = ir_attr_float(nd, "gamma", 1.05070102214813232421875f);
    int tanh_gelu = op == IR_OP_Gelu && strcmp(ir_attr_str(nd, "approximate", "none"), "tanh") == 0;
    for (int64_t i = b; i < e; i++) {
        float v = x[i], r;
        switch (op) {
        case IR_OP_Ceil:
            r = ceilf(v);
            break;
        case IR_OP_Celu:
            r = fmaxf(0.f, v) + fminf(0.f, alpha * expm1f(v / alpha));
            break;
        case IR_OP_Cos:
            r = cosf(v);
            break;
        case IR_OP_Elu:
            r = v >= 0 ? v : alpha * expm1f(v);
            break;
        case IR_OP_Erf:
            r = erff(v);
            break;
        case IR_OP_Exp:
            r = expf(v);
            break;
        case IR_OP_Floor:
            r = floorf(v);
            break;
        case IR_OP_Gelu:
            r = tanh_gelu ? gelu_tanh(v) : gelu_erf(v);
            break;
        case IR_OP_HardSigmoid:
            r = fmaxf(0.f, fminf(1.f, alpha * v + beta));
            break;
        case IR_OP_HardSwish:
            r = v * fmaxf(0.f, fminf(1.f, v / 6.0f + 0.5f));
            break;
        case IR_OP_LeakyRelu:
            r = v >= 0 ? v : alpha * v;
            break;
        case IR_OP_Log:
            r = logf(v);
            break;
        case IR_OP_Mish:
            r = v * tanhf(log1pf(expf(v)));
            break;
        case IR_OP_Reciprocal:
            r = 1.0f / v;
            break;
        case IR_OP_Round:
            r = nearbyintf(v);
            break;
        case IR_OP_Selu:
            r = v > 0 ? gamma * v : gamma * (alpha * expf(v) - alpha);
            break;
        case IR_OP_Sigmoid:
            r = sigm(v);
            break;
        case IR_OP_Sin:
            r = sinf(v);
            break;
        case IR_OP_Softplus:
            r = v > 20.f ? v : log1pf(expf(v));
            break;
        case IR_OP_Softsign:
            r = v / (1.0f + fabsf(v));
            break;
        case IR_OP_Sqrt:
            r = sqrtf(v);
            break;
        case IR_OP_Tan:
            r = tanf(v);
            break;
        case IR_OP_Tanh:
            r = tanhf(v);
            break;
        default:
            r = v;
            break;
        }
        y[i] = r;
    }
    return MLC_OK;
}

#define UNARY_F(Name, k)                                                                           \
    mlc_status eng_k_##k(const struct eng_kctx *c, int ith, int nth)                               \
    {                                                                                              \
        return unary_f(c, ith, nth, IR_OP_##Name);                                                 \
    }
UNARY_F(Ceil, ceil)
UNARY_F(Celu, celu)
UNARY_F(Cos, cos)
UNARY_F(Elu, elu)
UNARY_F(Erf, erf)
UNARY_F(Exp, exp)
UNARY_F(Floor, floor)
UNARY_F(Gelu, gelu)
UNARY_F(HardSigmoid, hardsigmoid)
UNARY_F(HardSwish, hardswish)
UNARY_F(LeakyRelu, leakyrelu)
UNARY_F(Log, log)
UNARY_F(Mish, mish)
UNARY_F(Reciprocal, reciprocal)
UNARY_F(Round, round)
UNARY_F(Selu, selu)
UNARY_F(Sigmoid, sigmoid)
UNARY_F(Sin, sin)
UNARY_F(Softplus, softplus)
UNARY_F(Softsign, softsign)
UNARY_F(Sqrt, sqrt)
UNARY_F(Tan, tan)
UNARY_F(Tanh, tanh)

/* Numeric unary ops on f32/i64/i32. */
#define NUM_UNARY(k, EXPR)                                                                         \
    mlc_status eng_k_##k(const struct eng_kctx *c, int ith, int nth)                               \
    {                                                                                              \
        int64_t b, e;                                                                              \
        range_of(eng_numel(&c->out[0]), ith, nth, &b, &e);                                         \
        switch (c->in[0].dtype) {                                                                  \
        case MLC_DTYPE_F32: {                                                                      \
            const float *x = c->in[0].data;                                                        \
            float *y = c->out[0].data;                                                             \
            for (int64_t i = b; i < e; i++) {                                                      \
                float v = x[i];                                                                    \
                y[i] = (float)(EXPR);                                                              \
            }                                                                                      \
            break;                                                                                 \
        }                                                                                          \
        case MLC_DTYPE_I64: {                                                                      \
            const int64_t *x = c->in[0].data;                                                      \
            int64_t *y = c->out[0].data;                                                           \
            for (int64_t i = b; i < e; i++) {                                                      \
                int64_t v = x[i];                                                                  \
                y[i] = (int64_t)(EXPR);                                                            \
            }                                                                                      \
            break;                                                                                 \
        }                                                                                          \
        default: {                                                                                 \
            const int32_t *x = c->in[0].data;                                                      \
            int32_t *y = c->out[0].data;                                                           \
            for (int64_t i = b; i < e; i++) {                                                      \
                int32_t v = x[i];                                                                  \
                y[i] = (int32_t)(EXPR);                                                            \
            }                                                                                      \
            break;                                                                                 \
        }                                                                                          \
        }                                                                                          \
        return MLC_OK;                                                                             \
    }
NUM_UNARY(abs, v < 0 ? -v : v)
NUM_UNARY(neg, -v)
NUM_UNARY(sign, (v > 0) - (v < 0))
NUM_UNARY(relu, v > 0 ? v : 0)

mlc_status eng_k_not(const struct eng_kctx *c, int ith, int nth)
{
    int64_t b, e;
    range_of(eng_numel(&c->out[0]), ith, nth, &b, &e);
    const uint8_t *x = c->in[0].data;
    uint8_t *y = c->out[0].data;
    for (int64_t i = b; i < e; i++) y[i] = !x[i];
    return MLC_OK;
}

mlc_status eng_k_identity(const struct eng_kctx *c, int ith, int nth)
{
    if (ith == 0 && c->out[0].data != c->in[0].data) {
        size_t nb = (size_t)eng_numel(&c->in[0]) * mlc_dtype_size(c->in[0].dtype);
        if (nb) memmove(c->out[0].data, c->in[0].data, nb);
    }
    return MLC_OK;
}

mlc_status eng_k_dropout(const struct eng_kctx *c, int ith, int nth)
{
    /* training_mode fed at run time: only inference is implemented. */
    if (c->n_in > 2 && c->in[2].data && *(const uint8_t *)c->in[2].data &&
        !(c->in[1].data && c->in[1].dtype == MLC_DTYPE_F32 &&
          *(const float *)c->in[1].data == 0.0f))
        return core_err(c->err, MLC_STATUS_UNSUPPORTED, "node '%s': Dropout in training mode",
                        c->node->name);
    eng_k_identity(c, ith, nth);
    if (ith == 0 && c->n_out > 1 && c->out[1].data)
        memset(c->out[1].data, 1, (size_t)eng_numel(&c->out[1]));
    return MLC_OK;
}

/* ---- broadcasting ------------------------------------------------------------ */

/* Strides of `t` broadcast to the output shape (0 on broadcast axes). */
void eng_bcast_strides(const mlc_tensor *t, const mlc_tensor *o, int64_t *st)
{
    int off = o->rank - t->rank;
    int64_t s = 1;
    for (int i = o->rank - 1; i >= 0; i--) {
        int j = i - off;
        if (j < 0 || t->dims[j] == 1) {
            st[i] = 0;
        } else {
            st[i] = s;
        }
        if (j >= 0) s *= t->dims[j];
    }
}

/* Iterates the output in rows of its last dim; calls f per row with element
 * offsets for each of up to 3 inputs and their inner strides. */
struct bc_iter {
    int rank;
    int64_t dims[MLC_MAX_RANK];
    int64_t st[3][MLC_MAX_RANK];
    int nin;
};

static void bc_init(struct bc_iter *it, const mlc_tensor *o, const mlc_tensor *const *ins, int nin)
{
    it->rank = o->rank;
    it->nin = nin;
    memcpy(it->dims, o->dims, sizeof it->dims);
    for (int k = 0; k < nin; k++) eng_bcast_strides(ins[k], o, it->st[k]);
}

/* Offsets of row `row` (row index over all but last dim). */
static void bc_row(const struct bc_iter *it, int64_t row, int64_t *off)
{
    for (int k = 0; k < it->nin; k++) off[k] = 0;
    for (int i = it->rank - 2; i >= 0; i--) {
        int64_t d = it->dims[i];
        int64_t q = d ? row % d : 0;
        row = d ? row / d : 0;
        for (int k = 0; k < it->nin; k++) off[k] += q * it->st[k][i];
    }
}

enum bop {
    B_MOD,
    B_ADD,
    B_SUB,
    B_MUL,
    B_DIV,
    B_POW,
    B_EQ,
    B_GT,
    B_LT,
    B_GE,
    B_LE,
    B_AND,
    B_OR,
    B_PRELU
};

#define BIN_LOOP(TA, TO, EXPR)                                                                     \
    do {                                                                                           \
        const TA *A = c->in[0].data, *B = c->in[1].data;                                           \
        TO *Y = c->out[0].data;                                                                    \
        for (int64_t r = rb; r < re; r++) {                                                        \
            int64_t off[3];                                                                        \
            bc_row(&it, r, off);                                                                   \
            const TA *pa = A + off[0], *pb = B + off[1];                                           \
            TO *py = Y + r * L;                                                                    \
            if (sa && sb)                                                                          \
                for (int64_t i = 0; i < L; i++) {                                                  \
                    TA a = pa[i], b = pb[i];                                                       \
                    py[i] = (TO)(EXPR);                                                            \
                }                                                                                  \
            else                                                                                   \
                for (int64_t i = 0; i < L; i++) {                                                  \
                    TA a = pa[i * sa], b = pb[i * sb];                                             \
                    py[i] = (TO)(EXPR);                                                            \
                }                                                                                  \
        }                                                                                          \
    } while (0)

static inline int64_t idiv(int64_t a, int64_t b)
{
    return b ? a / b : 0;
}

/* Python-style remainders (sign of the divisor), ONNX Mod with fmod = 0. */
static inline int64_t pymod64(int64_t a, int64_t b)
{
    if (b == 0 || b == -1) return 0;
    int64_t r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
static inline float pymodf(float a, float b)
{
    float r = fmodf(a, b);
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

static mlc_status binary(const struct eng_kctx *c, int ith, int nth, enum bop op)
{
    const mlc_tensor *ins[2] = {&c->in[0], &c->in[1]};
    const mlc_tensor *o = &c->out[0];
    struct bc_iter it;
    int64_t total = eng_numel(o);
    if (total == 0) return MLC_OK;
    if (o->rank == 0) {
        mlc_tensor o1 = *o;
        o1.rank = 1;
        o1.dims[0] = 1;
        mlc_tensor a1 = c->in[0], b1 = c->in[1];
        a1.rank = b1.rank = 1;
        a1.dims[0] = b1.dims[0] = 1;
        const mlc_tensor *i1[2] = {&a1, &b1};
        bc_init(&it, &o1, i1, 2);
    } else {
        bc_init(&it, o, ins, 2);
    }
    int64_t L = it.dims[it.rank - 1];
    int64_t rows = L ? total / L : 0;
    int64_t sa = it.st[0][it.rank - 1], sb = it.st[1][it.rank - 1];
    int64_t rb, re;
    range_of(rows, ith, nth, &rb, &re);
    mlc_dtype dt = c->in[0].dtype;
    if (op == B_POW) {
        if (c->in[1].dtype == MLC_DTYPE_F32)
            BIN_LOOP(float, float, b == 2.0f ? a * a : (b == 0.5f ? sqrtf(a) : powf(a, b)));
        else {
            /* float base, integer exponent */
            const float *A = c->in[0].data;
            float *Y = c->out[0].data;
            for (int64_t r = rb; r < re; r++) {
                int64_t off[3];
                bc_row(&it, r, off);
                for (int64_t i = 0; i < L; i++) {
                    double e = c->in[1].dtype == MLC_DTYPE_I64
                                   ? (double)((const int64_t *)c->in[1].data)[off[1] + i * sb]
                                   : (double)((const int32_t *)c->in[1].data)[off[1] + i * sb];
                    Y[r * L + i] = (float)pow(A[off[0] + i * sa], e);
                }
            }
        }
        return MLC_OK;
    }
    if (op == B_AND || op == B_OR) {
        if (op == B_AND)
            BIN_LOOP(uint8_t, uint8_t, a && b);
        else
            BIN_LOOP(uint8_t, uint8_t, a || b);
        return MLC_OK;
    }
    if (op == B_MOD) {
        int fm = (int)ir_attr_int(c->node, "fmod", 0);
        if (dt == MLC_DTYPE_F32) {
            if (fm)
                BIN_LOOP(float, float, fmodf(a, b));
            else
                BIN_LOOP(float, float, pymodf(a, b));
        } else if (dt == MLC_DTYPE_I64) {
            if (fm)
                BIN_LOOP(int64_t, int64_t, (b == 0 || b == -1) ? 0 : a % b);
            else
                BIN_LOOP(int64_t, int64_t, pymod64(a, b));
        } else {
            if (fm)
                BIN_LOOP(int32_t, int32_t, (b == 0 || b == -1) ? 0 : a % b);
            else
                BIN_LOOP(int32_t, int32_t, (int32_t)pymod64(a, b));
        }
        return MLC_OK;
    }
    if (dt == MLC_DTYPE_F32) {
        switch (op) {
        case B_ADD:
            BIN_LOOP(float, float, a + b);
            break;
        case B_SUB:
            BIN_LOOP(float, float, a - b);
            break;
        case B_MUL:
            BIN_LOOP(float, float, a *b);
            break;
        case B_DIV:
            BIN_LOOP(float, float, a / b);
            break;
        case B_PRELU:
            BIN_LOOP(float, float, a < 0 ? a * b : a);
            break;
        case B_EQ:
            BIN_LOOP(float, uint8_t, a == b);
            break;
        case B_GT:
            BIN_LOOP(float, uint8_t, a > b);
            break;
        case B_LT:
            BIN_LOOP(float, uint8_t, a < b);
            break;
        case B_GE:
            BIN_LOOP(float, uint8_t, a >= b);
            break;
        case B_LE:
            BIN_LOOP(float, uint8_t, a <= b);
            break;
        default:
            break;
        }
    } else if (dt == MLC_DTYPE_I64) {
        switch (op) {
        case B_ADD:
            BIN_LOOP(int64_t, int64_t, (int64_t)((uint64_t)a + (uint64_t)b));
            break;
        case B_SUB:
            BIN_LOOP(int64_t, int64_t, (int64_t)((uint64_t)a - (uint64_t)b));
            break;
        case B_MUL:
            BIN_LOOP(int64_t, int64_t, (int64_t)((uint64_t)a * (uint64_t)b));
            break;
        case B_DIV:
            BIN_LOOP(int64_t, int64_t, (b == -1 ? (int64_t)(0 - (uint64_t)a) : idiv(a, b)));
            break;
        case B_EQ:
            BIN_LOOP(int64_t, uint8_t, a == b);
            break;
        case B_GT:
            BIN_LOOP(int64_t, uint8_t, a > b);
            break;
        case B_LT:
            BIN_LOOP(int64_t, uint8_t, a < b);
            break;
        case B_GE:
            BIN_LOOP(int64_t, uint8_t, a >= b);
            break;
        case B_LE:
            BIN_LOOP(int64_t, uint8_t, a <= b);
            break;
        default:
            break;
        }
    } else if (dt == MLC_DTYPE_I32) {
        switch (op) {
        case B_ADD:
            BIN_LOOP(int32_t, int32_t, (int32_t)((uint32_t)a + (uint32_t)b));
            break;
        case B_SUB:
            BIN_LOOP(int32_t, int32_t, (int32_t)((uint32_t)a - (uint32_t)b));
            break;
        case B_MUL:
            BIN_LOOP(int32_t, int32_t, (int32_t)((uint32_t)a * (uint32_t)b));
            break;
        case B_DIV:
            BIN_LOOP(int32_t, int32_t,
                     (b == -1 ? (int32_t)(0 - (uint32_t)a) : (int32_t)idiv(a, b)));
            break;
        case B_EQ:
            BIN_LOOP(int32_t, uint8_t, a == b);
            break;
        case B_GT:
            BIN_LOOP(int32_t, uint8_t, a > b);
            break;
        case B_LT:
            BIN_LOOP(int32_t, uint8_t, a < b);
            break;
        case B_GE:
            BIN_LOOP(int32_t, uint8_t, a >= b);
            break;
        case B_LE:
            BIN_LOOP(int32_t, uint8_t, a <= b);
            break;
        default:
            break;
        }
    } else if (dt == MLC_DTYPE_BOOL && op == B_EQ) {
        BIN_LOOP(uint8_t, uint8_t, a == b);
    }
    if (c->node->act != IR_ACT_NONE && dt == MLC_DTYPE_F32)
        eng_apply_act(c->node->act, c->node->act_alpha, c->node->act_beta,
                      (float *)c->out[0].data + rb * L, (re - rb) * L);
    return MLC_OK;
}

#define BINARY(k, OP)                                                                              \
    mlc_status eng_k_##k(const struct eng_kctx *c, int ith, int nth)                               \
    {                                                                                              \
        return binary(c, ith, nth, OP);                                                            \
    }
BINARY(mod, B_MOD)
BINARY(add, B_ADD)
BINARY(sub, B_SUB)
BINARY(mul, B_MUL)
BINARY(div, B_DIV)
BINARY(pow, B_POW)
BINARY(equal, B_EQ)
BINARY(greater, B_GT)
BINARY(less, B_LT)
BINARY(greaterequal, B_GE)
BINARY(lessequal, B_LE)
BINARY(and, B_AND)
BINARY(or, B_OR)
BINARY(prelu, B_PRELU)

/* Variadic Max/Min/Sum/Mean: out = fold over inputs, broadcasting each. */
static mlc_status variadic(const struct eng_kctx *c, int ith, int nth, int op)
{
    if (ith) return MLC_OK;
    const mlc_tensor *o = &c->out[0];
    int64_t total = eng_numel(o);
    mlc_dtype dt = o->dtype;
    int64_t st[MLC_MAX_RANK], idx[MLC_MAX_RANK];
    for (int k = 0; k < c->n_in; k++) {
        mlc_tensor oo = *o;
        if (oo.rank == 0) oo.rank = 1, oo.dims[0] = 1;
        mlc_tensor in = c->in[k];
        eng_bcast_strides(&in, &oo, st);
        memset(idx, 0, sizeof idx);
        int64_t off = 0;
        for (int64_t i = 0; i < total; i++) {
            if (dt == MLC_DTYPE_F32) {
                float v = ((const float *)in.data)[off], *y = (float *)o->data + i;
                if (k == 0)
                    *y = v;
                else if (op == IR_OP_Max)
                    *y = (v > *y || isnan(v)) ? v : *y;
                else if (op == IR_OP_Min)
                    *y = (v < *y || isnan(v)) ? v : *y;
                else
                    *y += v;
            } else if (dt == MLC_DTYPE_I64) {
                int64_t v = ((const int64_t *)in.data)[off], *y = (int64_t *)o->data + i;
                if (k == 0)
                    *y = v;
                else if (op == IR_OP_Max)
                    *y = v > *y ? v : *y;
                else if (op == IR_OP_Min)
                    *y = v < *y ? v : *y;
                else
                    *y = (int64_t)((uint64_t)*y + (uint64_t)v);
            } else {
                int32_t v = ((const int32_t *)in.data)[off], *y = (int32_t *)o->data + i;
                if (k == 0)
                    *y = v;
                else if (op == IR_OP_Max)
                    *y = v > *y ? v : *y;
                else if (op == IR_OP_Min)
                    *y = v < *y ? v : *y;
                else
                    *y = (int32_t)((uint32_t)*y + (uint32_t)v);
            }
            for (int d = oo.rank - 1; d >= 0; d--) {
                off += st[d];
                if (++idx[d] < oo.dims[d]) break;
                off -= st[d] * oo.dims[d];
                idx[d] = 0;
            }
        }
    }
    if (op == IR_OP_Mean)
        for (int64_t i = 0; i < total; i++) ((float *)o->data)[i] /= (float)c->n_in;
    return MLC_OK;
}

mlc_status eng_k_max(const struct eng_kctx *c, int ith, int nth)
{
    return variadic(c, ith, nth, IR_OP_Max);
}
mlc_status eng_k_min(const struct eng_kctx *c, int ith, int nth)
{
    return variadic(c, ith, nth, IR_OP_Min);
}
mlc_status eng_k_sum(const struct eng_kctx *c, int ith, int nth)
{
    return variadic(c, ith, nth, IR_OP_Sum);
}
mlc_status eng_k_mean(const struct eng_kctx *c, int ith, int nth)
{
    return variadic(c, ith, nth, IR_OP_Mean);
}

mlc_status eng_k_where(const struct eng_kctx *c, int ith, int nth)
{
    if (ith) return MLC_OK;
    const mlc_tensor *o = &c->out[0];
    mlc_tensor oo = *o;
    if (oo.rank == 0) oo.rank = 1, oo.dims[0] = 1;
    int64_t st[3][MLC_MAX_RANK], idx[MLC_MAX_RANK] = {0}, off[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) eng_bcast_strides(&c->in[k], &oo, st[k]);
    size_t es = mlc_dtype_size(o->dtype);
    int64_t total = eng_numel(o);
    const uint8_t *cond = c->in[0].data;
    for (int64_t i = 0; i < total; i++) {
        const char *src = cond[off[0]] ? (const char *)c->in[1].data + off[1] * (int64_t)es
                                       : (const char *)c->in[2].data + off[2] * (int64_t)es;
        memcpy((char *)o->data + i * (int64_t)es, src, es);
        for (int d = oo.rank - 1; d >= 0; d--) {
            for (int k = 0; k < 3; k++) off[k] += st[k][d];
            if (++idx[d] < oo.dims[d]) break;
            for (int k = 0; k < 3; k++) off[k] -= st[k][d] * oo.dims[d];
            idx[d] = 0;
        }
    }
    return MLC_OK;
}

mlc_status eng_k_clip(const struct eng_kctx *c, int ith, int nth)
{
    int64_t b, e;
    range_of(eng_numel(&c->out[0]), ith, nth, &b, &e);
    int hasmin = c->n_in > 1 && c->in[1].data, hasmax = c->n_in > 2 && c->in[2].data;
    switch (c->in[0].dtype) {
    case MLC_DTYPE_F32: {
        float lo = hasmin ? *(const float *)c->in[1].data : -INFINITY;
        float hi = hasmax ? *(const float *)c->in[2].data : INFINITY;
        const float *x = c->in[0].data;
        float *y = c->out[0].data;
        for (int64_t i = b; i < e; i++) y[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
        break;
    }
    case MLC_DTYPE_I64: {
        int64_t lo = hasmin ? *(const int64_t *)c->in[1].data : INT64_MIN;
        int64_t hi = hasmax ? *(const int64_t *)c->in[2].data : INT64_MAX;
        const int64_t *x = c->in[0].data;
        int64_t *y = c->out[0].data;
        for (int64_t i = b; i < e; i++) y[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
        break;
    }
    default: {
        int32_t lo = hasmin ? *(const int32_t *)c->in[1].data : INT32_MIN;
        int32_t hi = hasmax ? *(const int32_t *)c->in[2].data : INT32_MAX;
        const int32_t *x = c->in[0].data;
        int32_t *y = c->out[0].data;
        for (int64_t i = b; i < e; i++) y[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
        break;
    }
    }
    return MLC_OK;
}

static double load_as_double(const void *p, mlc_dtype dt, int64_t i)
{
    switch (dt) {
    case MLC_DTYPE_F32:
        return ((const float *)p)[i];
    case MLC_DTYPE_F64:
        return ((const double *)p)[i];
    case MLC_DTYPE_I64:
        return (double)((const int64_t *)p)[i];
    case MLC_DTYPE_I32:
        return ((const int32_t *)p)[i];
    case MLC_DTYPE_U8:
        return ((const uint8_t *)p)[i];
    case MLC_DTYPE_I8:
        return ((const int8_t *)p)[i];
    case MLC_DTYPE_BOOL:
        return ((const uint8_t *)p)[i] != 0;
    default:
        return 0;
    }
}

static int64_t sat_i64(double v)
{
    if (isnan(v)) return INT64_MIN;
    if (v >= 9.2233720368547758e18) return INT64_MAX;
    if (v <= -9.2233720368547758e18) return INT64_MIN;
    return (int64_t)v;
}

mlc_status eng_k_cast(const struct eng_kctx *c, int ith, int nth)
{
    int64_t b, e;
    range_of(eng_numel(&c->out[0]), ith, nth, &b, &e);
    mlc_dtype from = c->in[0].dtype, to = c->out[0].dtype;
    const void *x = c->in[0].data;
    void *y = c->out[0].data;
    for (int64_t i = b; i < e; i++) {
        if (from == MLC_DTYPE_I64 && to != MLC_DTYPE_F32 && to != MLC_DTYPE_F64 &&
            to != MLC_DTYPE_BOOL) {
            int64_t v = ((const int64_t *)x)[i];
            switch (to) {
            case MLC_DTYPE_I64:
                ((int64_t *)y)[i] = v;
                break;
            case MLC_DTYPE_I32:
                ((int32_t *)y)[i] = (int32_t)(uint32_t)(uint64_t)v;
                break;
            case MLC_DTYPE_U8:
                ((uint8_t *)y)[i] = (uint8_t)(uint64_t)v;
                break;
            default:
                ((int8_t *)y)[i] = (int8_t)(uint8_t)(uint64_t)v;
                break;
            }
            continue;
        }
        double v = load_as_double(x, from, i);
        switch (to) {
        case MLC_DTYPE_F32:
            ((float *)y)[i] = (float)v;
            break;
        case MLC_DTYPE_F64:
            ((double *)y)[i] = v;
            break;
        case MLC_DTYPE_I64:
            ((int64_t *)y)[i] = sat_i64(v);
            break;
        case MLC_DTYPE_I32:
            ((int32_t *)y)[i] = (int32_t)(uint32_t)(uint64_t)sat_i64(v);
            break;
        case MLC_DTYPE_U8:
            ((uint8_t *)y)[i] = (uint8_t)(uint64_t)sat_i64(v);
            break;
        case MLC_DTYPE_I8:
            ((int8_t *)y)[i] = (int8_t)(uint8_t)(uint64_t)sat_i64(v);
            break;
        case MLC_DTYPE_BOOL:
            ((uint8_t *)y)[i] = v != 0;
            break;
        default:
            break;
        }
    }
    return MLC_OK;
}
