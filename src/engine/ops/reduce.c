/*
 * reduce.c - reductions (ReduceMean/Sum/Max/Min/Prod/L2/SumSquare, ArgMax),
 * Softmax/LogSoftmax (per-axis, or the pre-opset-13 "coerce to 2-D" form),
 * CumSum, and the normalisations (BatchNormalization in inference mode,
 * LayerNormalization, InstanceNormalization). Sums accumulate in double so
 * long rows (ViT tokens, global pools) stay within ONNX's tolerances.
 * Softmax and the norms split independent rows across threads.
 */
#include <math.h>
#include <string.h>

#include "engine/ops/ops.h"

static int axis_of(int64_t a, int r)
{
    return (int)(a < 0 ? a + r : a);
}

/* Reduction: out index computed with strides that are 0 on reduced axes. */
/* Steps the input index idx (row-major over x's dims) by one and returns the
 * matching output offset: ost holds the output strides, 0 on reduced axes. */
static int64_t next_index(const mlc_tensor *x, const int64_t *ost, int64_t *idx, int64_t off)
{
    for (int d = x->rank - 1; d >= 0; d--) {
        off += ost[d];
        if (++idx[d] < x->dims[d]) break;
        off -= ost[d] * x->dims[d];
        idx[d] = 0;
    }
    return off;
}

static mlc_status reduce(const struct eng_kctx *c, int ith, enum ir_op op)
{
    if (ith) return MLC_OK;
    const mlc_tensor *x = &c->in[0];
    const mlc_tensor *o = &c->out[0];
    int mark[MLC_MAX_RANK] = {0};
    int64_t na = 0, axes[MLC_MAX_RANK];
    if (op == IR_OP_ArgMax) {
        mark[axis_of(ir_attr_int(c->node, "axis", 0), x->rank)] = 1;
        na = 1;
    } else if (c->n_in > 1 && c->in[1].data) {
        na = eng_numel(&c->in[1]);
        for (int64_t i = 0; i < na; i++) {
            axes[i] = ((const int64_t *)c->in[1].data)[i];
            mark[axis_of(axes[i], x->rank)] = 1;
        }
    }
    if (na == 0) {
        if (ir_attr_int(c->node, "noop_with_empty_axes", 0)) {
            memcpy(o->data, x->data, (size_t)eng_numel(x) * mlc_dtype_size(x->dtype));
            return MLC_OK;
        }
        for (int i = 0; i < x->rank; i++) mark[i] = 1;
    }
    int64_t ost[MLC_MAX_RANK], s = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        ost[i] = mark[i] ? 0 : s;
        if (!mark[i]) s *= x->dims[i];
    }
    int64_t nout = eng_numel(o), nin = eng_numel(x);
    int64_t cnt = nout ? nin / (nout ? nout : 1) : 0;
    if (x->dtype == MLC_DTYPE_I64) {
        int64_t *y = o->data;
        const int64_t *xv = x->data;
        for (int64_t i = 0; i < nout; i++)
            y[i] = op == IR_OP_ReduceMax    ? INT64_MIN
                   : op == IR_OP_ReduceMin  ? INT64_MAX
                   : op == IR_OP_ReduceProd ? 1
                                            : 0;
        int64_t idx[MLC_MAX_RANK] = {0}, off = 0;
        for (int64_t i = 0; i < nin; i++) {
            int64_t v = xv[i];
            switch (op) {
            case IR_OP_ReduceMax:
                y[off] = v > y[off] ? v : y[off];
                break;
            case IR_OP_ReduceMin:
                y[off] = v < y[off] ? v : y[off];
                break;
            case IR_OP_ReduceProd:
                y[off] = (int64_t)((uint64_t)y[off] * (uint64_t)v);
                break;
            default:
                y[off] = (int64_t)((uint64_t)y[off] + (uint64_t)v);
                break;
            }
            off = next_index(x, ost, idx, off);
        }
        return MLC_OK;
    }
    double *acc = c->scratch;
    int64_t *arg = (int64_t *)(acc + nout);
    const float *xv = x->data;
    for (int64_t i = 0; i < nout; i++) {
        acc[i] = (op == IR_OP_ReduceMax || op == IR_OP_ArgMax) ? -INFINITY
                 : op == IR_OP_ReduceMin                       ? INFINITY
                 : op == IR_OP_ReduceProd                      ? 1.0
                                                               : 0.0;
        arg[i] = 0;
    }
    int64_t idx[MLC_MAX_RANK] = {0}, off = 0;
    int last = (int)ir_attr_int(c->node, "select_last_index", 0);
    int ad = 0;
    for (int d = 0; d < x->rank; d++)
        if (mark[d]) ad = d;
    for (int64_t i = 0; i < nin; i++) {
        double v = xv[i];
        switch (op) {
        case IR_OP_ReduceMax:
            acc[off] = (v > acc[off] || isnan(v)) ? v : acc[off];
            break;
        case IR_OP_ReduceMin:
            acc[off] = (v < acc[off] || isnan(v)) ? v : acc[off];
            break;
        case IR_OP_ReduceProd:
            acc[off] *= v;
            break;
        case IR_OP_ReduceL2:
        case IR_OP_ReduceSumSquare:
            acc[off] += v * v;
            break;
        case IR_OP_ArgMax:
            if (v > acc[off] || (last && v == acc[off])) acc[off] = v, arg[off] = idx[ad];
            break;
        default:
            acc[off] += v;
            break;
        }
        off = next_index(x, ost, idx, off);
    }
    for (int64_t i = 0; i < nout; i++) {
        if (op == IR_OP_ArgMax) {
            ((int64_t *)o->data)[i] = arg[i];
            continue;
        }
        double v = acc[i];
        if (op == IR_OP_ReduceMean) v = cnt ? v / (double)cnt : NAN;
        if (op == IR_OP_ReduceL2) v = sqrt(v);
        ((float *)o->data)[i] = (float)v;
    }
    return MLC_OK;
}

size_t eng_reduce_scratch(const mlc_tensor *out)
{
    return (size_t)eng_numel(out) * (sizeof(double) + sizeof(int64_t)) + 16;
}

#define RED(Name, k)                                                                               \
    mlc_status eng_k_##k(const struct eng_kctx *c, int ith, int nth)                               \
    {                                                                                              \
        (void)nth;                                                                                 \
        return reduce(c, ith, IR_OP_##Name);                                                       \
    }
RED(ReduceMean, reducemean)
RED(ReduceSum, reducesum)
RED(ReduceMax, reducemax)
RED(ReduceMin, reducemin)
RED(ReduceProd, reduceprod)
RED(ReduceL2, reducel2)
RED(ReduceSumSquare, reducesumsquare)
RED(ArgMax, argmax)

static mlc_status softmax(const struct eng_kctx *c, int ith, int nth, int logsm)
{
    const mlc_tensor *x = &c->in[0];
    int coerce = (int)ir_attr_int(c->node, "mlc_coerce2d", 0);
    int a = axis_of(ir_attr_int(c->node, "axis", coerce ? 1 : -1), x->rank);
    int64_t outer = 1, D = 1, inner = 1;
    for (int i = 0; i < a; i++) outer *= x->dims[i];
    if (coerce)
        for (int i = a; i < x->rank; i++) D *= x->dims[i];
    else {
        D = x->dims[a];
        for (int i = a + 1; i < x->rank; i++) inner *= x->dims[i];
    }
    int64_t b, e;
    eng_split(outer * inner, ith, nth, &b, &e);
    const float *X = x->data;
    float *Y = c->out[0].data;
    for (int64_t r = b; r < e; r++) {
        int64_t oi = r / inner, ii = r % inner;
        const float *xp = X + oi * D * inner + ii;
        float *yp = Y + oi * D * inner + ii;
        float m = -INFINITY;
        for (int64_t k = 0; k < D; k++) m = xp[k * inner] > m ? xp[k * inner] : m;
        double s = 0;
        for (int64_t k = 0; k < D; k++) {
            float v = expf(xp[k * inner] - m);
            if (!logsm) yp[k * inner] = v;
            s += v;
        }
        if (logsm) {
            float ls = (float)log(s);
            for (int64_t k = 0; k < D; k++) yp[k * inner] = xp[k * inner] - m - ls;
        } else {
            float inv = (float)(1.0 / s);
            for (int64_t k = 0; k < D; k++) yp[k * inner] *= inv;
        }
    }
    return MLC_OK;
}

mlc_status eng_k_softmax(const struct eng_kctx *c, int ith, int nth)
{
    return softmax(c, ith, nth, 0);
}
mlc_status eng_k_logsoftmax(const struct eng_kctx *c, int ith, int nth)
{
    return softmax(c, ith, nth, 1);
}

mlc_status eng_k_cumsum(const struct eng_kctx *c, int ith, int nth)
{
    if (ith) return MLC_OK;
    const mlc_tensor *x = &c->in[0];
    int64_t av = c->in[1].dtype == MLC_DTYPE_I64 ? *(const int64_t *)c->in[1].data
                                                 : *(const int32_t *)c->in[1].data;
    int a = axis_of(av, x->rank);
    int excl = (int)ir_attr_int(c->node, "exclusive", 0),
        rev = (int)ir_attr_int(c->node, "reverse", 0);
    int64_t outer = 1, D = x->dims[a], inner = 1;
    for (int i = 0; i < a; i++) outer *= x->dims[i];
    for (int i = a + 1; i < x->rank; i++) inner *= x->dims[i];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t ii = 0; ii < inner; ii++) {
            double s = 0;
            int64_t si = 0;
            for (int64_t k0 = 0; k0 < D; k0++) {
                int64_t k = rev ? D - 1 - k0 : k0;
                int64_t pos = (o * D + k) * inner + ii;
                if (x->dtype == MLC_DTYPE_F32) {
                    float v = ((const float *)x->data)[pos];
                    if (excl) ((float *)c->out[0].data)[pos] = (float)s;
                    s += v;
                    if (!excl) ((float *)c->out[0].data)[pos] = (float)s;
                } else if (x->dtype == MLC_DTYPE_I64) {
                    int64_t v = ((const int64_t *)x->data)[pos];
                    if (excl) ((int64_t *)c->out[0].data)[pos] = si;
                    si += v;
                    if (!excl) ((int64_t *)c->out[0].data)[pos] = si;
                } else {
                    int32_t v = ((const int32_t *)x->data)[pos];
                    if (excl) ((int32_t *)c->out[0].data)[pos] = (int32_t)si;
                    si += v;
                    if (!excl) ((int32_t *)c->out[0].data)[pos] = (int32_t)si;
                }
            }
        }
    return MLC_OK;
}

mlc_status eng_k_batchnorm(const struct eng_kctx *c, int ith, int nth)
{
    const mlc_tensor *x = &c->in[0];
    float eps = ir_attr_float(c->node, "epsilon", 1e-5f);
    const float *sc = c->in[1].data, *bi = c->in[2].data, *mu = c->in[3].data, *va = c->in[4].data;
    int64_t N = x->dims[0], C = x->dims[1], S = 1, b, e;
    for (int i = 2; i < x->rank; i++) S *= x->dims[i];
    eng_split(N * C, ith, nth, &b, &e);
    for (int64_t r = b; r < e; r++) {
        int64_t ch = r % C;
        float k = sc[ch] / sqrtf(va[ch] + eps), off = bi[ch] - mu[ch] * k;
        const float *xp = (const float *)x->data + r * S;
        float *yp = (float *)c->out[0].data + r * S;
        for (int64_t i = 0; i < S; i++) yp[i] = xp[i] * k + off;
        eng_apply_act(c->node->act, c->node->act_alpha, c->node->act_beta, yp, S);
    }
    return MLC_OK;
}

mlc_status eng_k_instancenorm(const struct eng_kctx *c, int ith, int nth)
{
    const mlc_tensor *x = &c->in[0];
    float eps = ir_attr_float(c->node, "epsilon", 1e-5f);
    const float *sc = c->in[1].data, *bi = c->in[2].data;
    int64_t N = x->dims[0], C = x->dims[1], S = 1, b, e;
    for (int i = 2; i < x->rank; i++) S *= x->dims[i];
    eng_split(N * C, ith, nth, &b, &e);
    for (int64_t r = b; r < e; r++) {
        int64_t ch = r % C;
        const float *xp = (const float *)x->data + r * S;
        float *yp = (float *)c->out[0].data + r * S;
        double m = 0, v = 0;
        for (int64_t i = 0; i < S; i++) m += xp[i];
        m /= (double)S;
        for (int64_t i = 0; i < S; i++) v += (xp[i] - m) * (xp[i] - m);
        v /= (double)S;
        float k = (float)(1.0 / sqrt(v + eps));
        for (int64_t i = 0; i < S; i++) yp[i] = (float)(xp[i] - m) * k * sc[ch] + bi[ch];
    }
    return MLC_OK;
}

/* LayerNormalization over axes [axis, rank); scale/bias broadcast over the
 * normalised block; optional Mean and InvStdDev outputs. */
mlc_status eng_k_layernorm(const struct eng_kctx *c, int ith, int nth)
{
    const mlc_tensor *x = &c->in[0];
    int a = axis_of(ir_attr_int(c->node, "axis", -1), x->rank);
    float eps = ir_attr_float(c->node, "epsilon", 1e-5f);
    int64_t outer = 1, D = 1, b, e;
    for (int i = 0; i < a; i++) outer *= x->dims[i];
    for (int i = a; i < x->rank; i++) D *= x->dims[i];
    const float *sc = c->in[1].data;
    const float *bi = c->n_in > 2 && c->in[2].data ? c->in[2].data : NULL;
    int64_t ns = eng_numel(&c->in[1]), nb = bi ? eng_numel(&c->in[2]) : 0;
    eng_split(outer, ith, nth, &b, &e);
    for (int64_t r = b; r < e; r++) {
        const float *xp = (const float *)x->data + r * D;
        float *yp = (float *)c->out[0].data + r * D;
        double m = 0, v = 0;
        for (int64_t i = 0; i < D; i++) m += xp[i];
        m /= (double)D;
        for (int64_t i = 0; i < D; i++) v += (xp[i] - m) * (xp[i] - m);
        v /= (double)D;
        float inv = (float)(1.0 / sqrt(v + eps)), mf = (float)m;
        for (int64_t i = 0; i < D; i++) {
            float s = ns == D ? sc[i] : sc[ns ? i % ns : 0];
            float bb = bi ? (nb == D ? bi[i] : bi[i % nb]) : 0.0f;
            yp[i] = (xp[i] - mf) * inv * s + bb;
        }
        if (c->n_out > 1 && c->out[1].data) ((float *)c->out[1].data)[r] = mf;
        if (c->n_out > 2 && c->out[2].data) ((float *)c->out[2].data)[r] = inv;
    }
    return MLC_OK;
}
