/*
 * infer.c - output dtype/shape inference for every op (eng_infer), used at
 * load with symbolic dims (-1) and at plan time with concrete ones.
 *
 * It also validates attributes and input dtypes: an op applied to a dtype the
 * reference kernels do not implement is refused here (UNSUPPORTED, naming the
 * node), which is how such models are refused at load. Ops whose output shape
 * depends on input values (Reshape, Slice, Expand, Tile, Range, Split sizes,
 * ConstantOfShape, Pad, reductions with axes inputs) read those values when
 * known and otherwise produce -1 dims (load time only: at plan time every
 * value such an op needs is known, because the planner evaluates small
 * shape-computing subgraphs first).
 */
#include <math.h>
#include <string.h>

#include "engine/backend.h"
#include "engine/kernels.h"

#define ERR(...) core_err(err, MLC_STATUS_BAD_MODEL, __VA_ARGS__)

static int is_float(mlc_dtype d)
{
    return d == MLC_DTYPE_F32;
}
static int is_num(mlc_dtype d)
{
    return d == MLC_DTYPE_F32 || d == MLC_DTYPE_I64 || d == MLC_DTYPE_I32;
}

int64_t eng_numel(const mlc_tensor *t)
{
    return ir_numel(t->rank, t->dims);
}

int eng_broadcast(int ra, const int64_t *a, int rb, const int64_t *b, int64_t *out)
{
    int r = ra > rb ? ra : rb;
    for (int i = 0; i < r; i++) {
        int64_t x = i - (r - ra) >= 0 ? a[i - (r - ra)] : 1;
        int64_t y = i - (r - rb) >= 0 ? b[i - (r - rb)] : 1;
        if (x == 1)
            out[i] = y;
        else if (y == 1)
            out[i] = x;
        else if (x < 0 || y < 0)
            out[i] = x < 0 ? y : x; /* symbolic: trust the file */
        else if (x == y)
            out[i] = x;
        else
            return -1;
    }
    return r;
}

/* Reads an integer tensor's values (i64 or i32); returns count or -1 when
 * unknown, -2 when too many or not integer. */
static int64_t ints_of(const mlc_tensor *t, int64_t *v, int64_t max)
{
    if (!t->data) return -1;
    int64_t n = eng_numel(t);
    if (n < 0 || n > max) return -2;
    if (t->dtype == MLC_DTYPE_I64)
        memcpy(v, t->data, (size_t)n * 8);
    else if (t->dtype == MLC_DTYPE_I32)
        for (int64_t i = 0; i < n; i++) v[i] = ((const int32_t *)t->data)[i];
    else
        return -2;
    return n;
}

static void same(const mlc_tensor *a, mlc_tensor *o)
{
    o->dtype = a->dtype;
    o->rank = a->rank;
    memcpy(o->dims, a->dims, sizeof o->dims);
}

static int norm_axis(int64_t a, int r, int *out)
{
    if (a < -r || a >= r) return -1;
    *out = (int)(a < 0 ? a + r : a);
    return 0;
}

/* Output spatial size of a window op. */
static int64_t win_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe,
                       int ceil_mode)
{
    if (in < 0) return -1;
    int64_t ek = (k - 1) * d + 1;
    int64_t span = in + pb + pe - ek;
    if (span < 0) return 0;
    int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    /* ONNX: the last window must start inside the input or left padding. */
    if (ceil_mode && (o - 1) * s >= in + pb) o--;
    return o;
}

/* Computes pads for Conv/pools from auto_pad. pads has 2*ns entries. */
static mlc_status window_pads(const struct ir_node *n, int ns, const int64_t *in_sp,
                              const int64_t *k, const int64_t *s, const int64_t *d, int64_t *pads,
                              mlc_error *err)
{
    const char *ap = ir_attr_str(n, "auto_pad", "NOTSET");
    const int64_t *p;
    int np = ir_attr_ints(n, "pads", &p);
    for (int i = 0; i < 2 * ns; i++) pads[i] = 0;
    if (strcmp(ap, "NOTSET") == 0) {
        if (np && np != 2 * ns)
            return ERR("node '%s': 'pads' has %d values, expected %d", n->name, np, 2 * ns);
        for (int i = 0; i < np; i++) {
            if (p[i] < 0) return ERR("node '%s': negative pad", n->name);
            pads[i] = p[i];
        }
    } else if (strcmp(ap, "VALID") == 0) {
        /* zero pads */
    } else if (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0) {
        for (int i = 0; i < ns; i++) {
            if (in_sp[i] < 0) continue;
            int64_t o = (in_sp[i] + s[i] - 1) / s[i];
            int64_t tot = (o - 1) * s[i] + (k[i] - 1) * d[i] + 1 - in_sp[i];
            if (tot < 0) tot = 0;
            int64_t small = tot / 2, big = tot - small;
            int upper = ap[5] == 'U';
            pads[i] = upper ? small : big;
            pads[i + ns] = upper ? big : small;
        }
    } else {
        return core_err(err, MLC_STATUS_UNSUPPORTED, "node '%s': auto_pad '%s' not supported",
                        n->name, ap);
    }
    return MLC_OK;
}

/* Conv and pools: N, C, spatial... */
static mlc_status infer_window(const struct ir_node *n, const mlc_tensor *x, const mlc_tensor *w,
                               mlc_tensor *o, mlc_error *err)
{
    int ns = x->rank - 2;
    int64_t k[3], s[3], d[3], pads[6];
    if (ns < 1 || ns > 2)
        return core_err(err, MLC_STATUS_UNSUPPORTED,
                        "node '%s': %dD windows not supported (1D/2D only)", n->name, ns);
    const int64_t *ks, *ss, *ds;
    int nk = ir_attr_ints(n, "kernel_shape", &ks);
    int nst = ir_attr_ints(n, "strides", &ss);
    int nd = ir_attr_ints(n, "dilations", &ds);
    if (w) {
        if (w->rank != x->rank)
            return ERR("node '%s': weight rank %d, input rank %d", n->name, w->rank, x->rank);
        for (int i = 0; i < ns; i++) {
            k[i] = w->dims[2 + i];
            if (nk == ns && ks[i] != k[i] && k[i] >= 0)
                return ERR("node '%s': kernel_shape disagrees with weights", n->name);
            if (k[i] < 0 && nk == ns) k[i] = ks[i];
        }
    } else {
        if (nk != ns)
            return ERR("node '%s': 'kernel_shape' has %d values, expected %d", n->name, nk, ns);
        for (int i = 0; i < ns; i++) k[i] = ks[i];
    }
    if ((nst && nst != ns) || (nd && nd != ns))
        return ERR("node '%s': strides/dilations length", n->name);
    for (int i = 0; i < ns; i++) {
        s[i] = nst ? ss[i] : 1;
        d[i] = nd ? ds[i] : 1;
        if (s[i] < 1 || d[i] < 1 || s[i] > 1 << 20 || d[i] > 1 << 20 || (k[i] < 1 && k[i] != -1) ||
            k[i] > 1 << 20)
            return ERR("node '%s': kernel/stride/dilation out of range", n->name);
    }
    mlc_status st = window_pads(n, ns, x->dims + 2, k, s, d, pads, err);
    if (st) return st;
    int ceil_mode = (int)ir_attr_int(n, "ceil_mode", 0);
    o->dtype = x->dtype;
    o->rank = x->rank;
    o->dims[0] = x->dims[0];
    o->dims[1] = w ? w->dims[0] : x->dims[1];
    for (int i = 0; i < ns; i++) {
        o->dims[2 + i] =
            k[i] < 0 ? -1
                     : win_out(x->dims[2 + i], k[i], s[i], d[i], pads[i], pads[i + ns], ceil_mode);
        if (o->dims[2 + i] == 0 && x->dims[2 + i] > 0)
            return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                            "node '%s': input too small for the window", n->name);
    }
    return MLC_OK;
}

static mlc_status infer_reduce(const struct ir_node *n, const mlc_tensor *in, int n_in,
                               mlc_tensor *o, mlc_error *err)
{
    const mlc_tensor *x = &in[0];
    int keep = (int)ir_attr_int(n, "keepdims", 1);
    int noop = (int)ir_attr_int(n, "noop_with_empty_axes", 0);
    int64_t axes[MLC_MAX_RANK];
    int64_t na = 0;
    int mark[MLC_MAX_RANK] = {0};
    if (n->op == IR_OP_ArgMax) {
        int a;
        if (norm_axis(ir_attr_int(n, "axis", 0), x->rank, &a))
            return ERR("node '%s': axis out of range", n->name);
        mark[a] = 1;
    } else {
        if (n_in > 1 && n->in[1] >= 0) {
            na = ints_of(&in[1], axes, MLC_MAX_RANK);
            if (na == -2) return ERR("node '%s': bad axes", n->name);
            if (na < 0) { /* unknown axes: rank is known only with keepdims */
                o->dtype = x->dtype;
                o->rank = keep ? x->rank : -1;
                for (int i = 0; i < MLC_MAX_RANK; i++) o->dims[i] = -1;
                return o->rank < 0
                           ? core_err(err, MLC_STATUS_UNSUPPORTED,
                                      "node '%s': axes must be known [value-dependent]", n->name)
                           : MLC_OK;
            }
        }
        if (na == 0 && noop) {
            same(x, o);
            return MLC_OK;
        }
        for (int64_t i = 0; i < na; i++) {
            int a;
            if (norm_axis(axes[i], x->rank, &a))
                return ERR("node '%s': axis %lld out of range", n->name, (long long)axes[i]);
            mark[a] = 1;
        }
        if (na == 0)
            for (int i = 0; i < x->rank; i++) mark[i] = 1;
    }
    o->dtype = n->op == IR_OP_ArgMax ? MLC_DTYPE_I64 : x->dtype;
    o->rank = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!mark[i])
            o->dims[o->rank++] = x->dims[i];
        else if (keep)
            o->dims[o->rank++] = 1;
    }
    return MLC_OK;
}

static mlc_status infer_reshape(const struct ir_node *n, const mlc_tensor *in, mlc_tensor *o,
                                mlc_error *err)
{
    int64_t sh[MLC_MAX_RANK];
    int64_t ns = ints_of(&in[1], sh, MLC_MAX_RANK);
    if (ns == -2)
        return core_err(err, MLC_STATUS_UNSUPPORTED, "node '%s': shape has too many values",
                        n->name);
    o->dtype = in[0].dtype;
    if (ns < 0) {
        if (in[1].rank != 1 || in[1].dims[0] < 0 || in[1].dims[0] > MLC_MAX_RANK)
            return core_err(err, MLC_STATUS_UNSUPPORTED,
                            "node '%s': output rank unknown [value-dependent]", n->name);
        o->rank = (int)in[1].dims[0];
        for (int i = 0; i < o->rank; i++) o->dims[i] = -1;
        return MLC_OK;
    }
    int allowzero = (int)ir_attr_int(n, "allowzero", 0);
    int neg = -1;
    int64_t prod = 1;
    o->rank = (int)ns;
    int unknown = 0;
    for (int i = 0; i < ns; i++) {
        int64_t v = sh[i];
        if (v == 0 && !allowzero) {
            if (i >= in[0].rank)
                return ERR("node '%s': shape 0 at %d beyond input rank", n->name, i);
            v = in[0].dims[i];
            if (v < 0) {
                /* A copied symbolic dim is unknown, not a second -1. */
                o->dims[i] = -1;
                unknown = 1;
                continue;
            }
        }
        if (v == -1) {
            if (neg >= 0) return ERR("node '%s': two -1 in shape", n->name);
            neg = i;
        } else if (v < -1) {
            return ERR("node '%s': shape value %lld", n->name, (long long)v);
        } else if (v < 0) {
            unknown = 1;
        }
        o->dims[i] = v;
        if (v >= 0 && i != neg) {
            if (v && prod > INT64_MAX / 16 / v) return ERR("node '%s': shape too large", n->name);
            prod *= v;
        }
    }
    int64_t total = eng_numel(&in[0]);
    if (neg >= 0) {
        if (total < 0 || unknown)
            o->dims[neg] = -1;
        else if (prod == 0 || total % prod)
            return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                            "node '%s': cannot reshape %lld elements", n->name, (long long)total);
        else
            o->dims[neg] = total / prod;
    } else if (total >= 0 && !unknown && total != prod) {
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                        "node '%s': cannot reshape %lld elements into %lld", n->name,
                        (long long)total, (long long)prod);
    }
    return MLC_OK;
}

/* Slice parameters resolved for concrete dims; shared with the kernel. */
static mlc_status infer_slice(const struct ir_node *n, const mlc_tensor *in, int n_in,
                              mlc_tensor *o, mlc_error *err)
{
    const mlc_tensor *x = &in[0];
    int64_t st[MLC_MAX_RANK], en[MLC_MAX_RANK], ax[MLC_MAX_RANK], sp[MLC_MAX_RANK];
    int64_t ns = n_in > 1 ? ints_of(&in[1], st, MLC_MAX_RANK) : -2;
    int64_t ne = n_in > 2 ? ints_of(&in[2], en, MLC_MAX_RANK) : -2;
    same(x, o);
    if (ns == -1 || ne == -1) {
        for (int i = 0; i < o->rank; i++) o->dims[i] = -1;
        return MLC_OK;
    }
    if (ns < 0 || ne != ns) return ERR("node '%s': bad starts/ends", n->name);
    int64_t na = ns, nsp = ns;
    if (n_in > 3 && n->in[3] >= 0) {
        na = ints_of(&in[3], ax, MLC_MAX_RANK);
        if (na == -1) {
            for (int i = 0; i < o->rank; i++) o->dims[i] = -1;
            return MLC_OK;
        }
        if (na != ns) return ERR("node '%s': bad axes", n->name);
    } else {
        for (int i = 0; i < ns; i++) ax[i] = i;
    }
    if (n_in > 4 && n->in[4] >= 0) {
        nsp = ints_of(&in[4], sp, MLC_MAX_RANK);
        if (nsp == -1) {
            for (int i = 0; i < o->rank; i++) o->dims[i] = -1;
            return MLC_OK;
        }
        if (nsp != ns) return ERR("node '%s': bad steps", n->name);
    } else {
        for (int i = 0; i < ns; i++) sp[i] = 1;
    }
    for (int i = 0; i < ns; i++) {
        int a;
        if (norm_axis(ax[i], x->rank, &a)) return ERR("node '%s': axis out of range", n->name);
        if (sp[i] == 0) return ERR("node '%s': step 0", n->name);
        int64_t d = x->dims[a];
        if (d < 0) {
            o->dims[a] = -1;
            continue;
        }
        int64_t s = st[i], e = en[i];
        if (s < 0) s += d;
        if (e < 0) e += d;
        if (sp[i] > 0) {
            s = s < 0 ? 0 : (s > d ? d : s);
            e = e < 0 ? 0 : (e > d ? d : e);
            o->dims[a] = e > s ? (e - s + sp[i] - 1) / sp[i] : 0;
        } else {
            s = s < 0 ? -1 : (s > d - 1 ? d - 1 : s);
            e = e < -1 ? -1 : (e > d - 1 ? d - 1 : e);
            o->dims[a] = s > e ? (s - e + (-sp[i]) - 1) / (-sp[i]) : 0;
        }
    }
    return MLC_OK;
}

mlc_status eng_infer(const struct ir_node *n, const mlc_tensor *in, int n_in, mlc_tensor *out,
                     int n_out, mlc_error *err)
{
    const mlc_tensor *x = n_in > 0 ? &in[0] : NULL;
    mlc_tensor *o = &out[0];
    if (n->op == IR_OP_Region) return n->vt->infer(n->model_ctx, in, n_in, out, n_out, err);
    for (int i = 0; i < n_in; i++)
        if (n->in[i] >= 0 && in[i].rank < 0)
            return core_err(err, MLC_STATUS_UNSUPPORTED, "node '%s' (%s): rank of input %d unknown",
                            n->name, ir_op_name(n->op), i);
    /* Required inputs present. */
    static const signed char min_in[IR_OP_COUNT] = {
        [IR_OP_Add] = 2,
        [IR_OP_Sub] = 2,
        [IR_OP_Mul] = 2,
        [IR_OP_Div] = 2,
        [IR_OP_Mod] = 2,
        [IR_OP_Pow] = 2,
        [IR_OP_And] = 2,
        [IR_OP_Or] = 2,
        [IR_OP_Equal] = 2,
        [IR_OP_Greater] = 2,
        [IR_OP_Less] = 2,
        [IR_OP_GreaterOrEqual] = 2,
        [IR_OP_LessOrEqual] = 2,
        [IR_OP_PRelu] = 2,
        [IR_OP_Where] = 3,
        [IR_OP_ScatterND] = 3,
        [IR_OP_Conv] = 2,
        [IR_OP_Gemm] = 2,
        [IR_OP_MatMul] = 2,
        [IR_OP_BatchNormalization] = 5,
        [IR_OP_InstanceNormalization] = 3,
        [IR_OP_LayerNormalization] = 2,
        [IR_OP_Reshape] = 2,
        [IR_OP_Expand] = 2,
        [IR_OP_Tile] = 2,
        [IR_OP_Gather] = 2,
        [IR_OP_Range] = 3,
        [IR_OP_Slice] = 3,
        [IR_OP_CumSum] = 2,
        [IR_OP_ConstantOfShape] = 1,
        [IR_OP_Unsqueeze] = 2,
        [IR_OP_Pad] = 2,
        [IR_OP_Cast] = 1,
        [IR_OP_Constant] = 0,
        [IR_OP_Concat] = 1,
    };
    int need =
        n->op < IR_OP_COUNT && min_in[n->op] ? min_in[n->op] : (n->op == IR_OP_Constant ? 0 : 1);
    if (n_in < need)
        return ERR("node '%s' (%s): %d inputs, needs %d", n->name, ir_op_name(n->op), n_in, need);
    for (int i = 0; i < need; i++)
        if (n->in[i] < 0 && !(n->op == IR_OP_Concat))
            return ERR("node '%s' (%s): input %d missing", n->name, ir_op_name(n->op), i);
    for (int i = 0; i < n_out; i++) {
        out[i].rank = -1;
        out[i].dtype = 0;
        for (int k = 0; k < MLC_MAX_RANK; k++) out[i].dims[k] = -1;
    }
    switch (n->op) {
    /* float unary */
    ENG_FLOAT_UNARY_CASES:
        if (!is_float(x->dtype)) goto bad_dtype;
        if (n->op == IR_OP_Gelu) {
            const char *ap = ir_attr_str(n, "approximate", "none");
            if (strcmp(ap, "none") && strcmp(ap, "tanh"))
                return core_err(err, MLC_STATUS_UNSUPPORTED, "node '%s': approximate '%s'", n->name,
                                ap);
        }
        if (n->op == IR_OP_Softmax || n->op == IR_OP_LogSoftmax) {
            int a;
            if (x->rank == 0 ||
                norm_axis(ir_attr_int(n, "axis", ir_attr_int(n, "mlc_coerce2d", 0) ? 1 : -1),
                          x->rank, &a))
                return ERR("node '%s': axis out of range", n->name);
        }
        same(x, o);
        return MLC_OK;
    case IR_OP_Abs:
    case IR_OP_Neg:
    case IR_OP_Sign:
    case IR_OP_Relu:
    case IR_OP_Identity:
        if (!is_num(x->dtype) && n->op != IR_OP_Identity) goto bad_dtype;
        same(x, o);
        return MLC_OK;
    case IR_OP_Not:
        if (x->dtype != MLC_DTYPE_BOOL) goto bad_dtype;
        same(x, o);
        return MLC_OK;
    case IR_OP_Dropout:
        if (!is_float(x->dtype)) goto bad_dtype;
        /* Training mode with ratio 0 (torchvision's Swin exports that) is
         * the identity; any other training-mode dropout is refused. */
        if ((ir_attr_int(n, "training_mode", 0) ||
             (n_in > 2 && n->in[2] >= 0 && in[2].data && *(const uint8_t *)in[2].data)) &&
            !(n_in > 1 && n->in[1] >= 0 && in[1].data && in[1].dtype == MLC_DTYPE_F32 &&
              *(const float *)in[1].data == 0.0f))
            return core_err(err, MLC_STATUS_UNSUPPORTED, "node '%s': Dropout in training mode",
                            n->name);
        same(x, o);
        if (n_out > 1) {
            same(x, &out[1]);
            out[1].dtype = MLC_DTYPE_BOOL;
        }
        return MLC_OK;
    case IR_OP_Clip:
        if (!is_num(x->dtype)) goto bad_dtype;
        for (int i = 1; i < n_in && i < 3; i++)
            if (n->in[i] >= 0 && (in[i].dtype != x->dtype || eng_numel(&in[i]) != 1))
                return ERR("node '%s': min/max must be scalars of the input type", n->name);
        same(x, o);
        return MLC_OK;
    case IR_OP_CumSum: {
        if (!is_num(x->dtype)) goto bad_dtype;
        int64_t a;
        if (ints_of(&in[1], &a, 1) == 1) {
            int aa;
            if (norm_axis(a, x->rank, &aa)) return ERR("node '%s': axis out of range", n->name);
        }
        same(x, o);
        return MLC_OK;
    }
    ENG_BINARY_CASES : {
        int logical = n->op == IR_OP_And || n->op == IR_OP_Or;
        if (logical) {
            if (x->dtype != MLC_DTYPE_BOOL || in[1].dtype != MLC_DTYPE_BOOL) goto bad_dtype;
        } else if (n->op == IR_OP_Pow) {
            if (!is_float(x->dtype) || !is_num(in[1].dtype)) goto bad_dtype;
        } else if (n->op == IR_OP_Equal) {
            if ((!is_num(x->dtype) && x->dtype != MLC_DTYPE_BOOL) || in[1].dtype != x->dtype)
                goto bad_dtype;
        } else {
            if (!is_num(x->dtype) || in[1].dtype != x->dtype) goto bad_dtype;
            if (n->op == IR_OP_PRelu && !is_float(x->dtype)) goto bad_dtype;
        }
        int r = eng_broadcast(x->rank, x->dims, in[1].rank, in[1].dims, o->dims);
        if (r < 0)
            return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                            "node '%s' (%s): shapes do not broadcast", n->name, ir_op_name(n->op));
        o->rank = r;
        o->dtype = (n->op >= IR_OP_Equal &&
                    (n->op == IR_OP_Equal || n->op == IR_OP_Greater || n->op == IR_OP_Less ||
                     n->op == IR_OP_GreaterOrEqual || n->op == IR_OP_LessOrEqual))
                       ? MLC_DTYPE_BOOL
                       : x->dtype;
        if (n->op == IR_OP_PRelu) { /* output has X's shape (unidirectional) */
            if (r != x->rank) return ERR("node '%s': slope does not broadcast to X", n->name);
        }
        return MLC_OK;
    }
    case IR_OP_Max:
    case IR_OP_Min:
    case IR_OP_Sum:
    case IR_OP_Mean: {
        int r = x->rank;
        int64_t d[MLC_MAX_RANK];
        memcpy(d, x->dims, sizeof d);
        if (!is_num(x->dtype) || (n->op == IR_OP_Mean && !is_float(x->dtype))) goto bad_dtype;
        for (int i = 1; i < n_in; i++) {
            if (n->in[i] < 0 || in[i].dtype != x->dtype) goto bad_dtype;
            r = eng_broadcast(r, d, in[i].rank, in[i].dims, d);
            if (r < 0)
                return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                                "node '%s': shapes do not broadcast", n->name);
        }
        o->dtype = x->dtype;
        o->rank = r;
        memcpy(o->dims, d, sizeof d);
        return MLC_OK;
    }
    case IR_OP_Where: {
        int64_t d[MLC_MAX_RANK];
        if (x->dtype != MLC_DTYPE_BOOL || in[1].dtype != in[2].dtype ||
            (!is_num(in[1].dtype) && in[1].dtype != MLC_DTYPE_BOOL))
            goto bad_dtype;
        int r = eng_broadcast(x->rank, x->dims, in[1].rank, in[1].dims, d);
        if (r >= 0) r = eng_broadcast(r, d, in[2].rank, in[2].dims, o->dims);
        if (r < 0)
            return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "node '%s': shapes do not broadcast",
                            n->name);
        o->rank = r;
        o->dtype = in[1].dtype;
        return MLC_OK;
    }
    case IR_OP_Cast: {
        int64_t to = ir_attr_int(n, "to", 0);
        if (to != MLC_DTYPE_F32 && to != MLC_DTYPE_I64 && to != MLC_DTYPE_I32 &&
            to != MLC_DTYPE_BOOL && to != MLC_DTYPE_U8 && to != MLC_DTYPE_I8 && to != MLC_DTYPE_F64)
            return core_err(err, MLC_STATUS_UNSUPPORTED,
                            "node '%s': Cast to type %lld not supported", n->name, (long long)to);
        switch (x->dtype) {
        case MLC_DTYPE_F32:
        case MLC_DTYPE_I64:
        case MLC_DTYPE_I32:
        case MLC_DTYPE_BOOL:
        case MLC_DTYPE_U8:
        case MLC_DTYPE_I8:
        case MLC_DTYPE_F64:
            break;
        default:
            goto bad_dtype;
        }
        same(x, o);
        o->dtype = (mlc_dtype)to;
        return MLC_OK;
    }
    case IR_OP_Conv: {
        const mlc_tensor *w = &in[1];
        if (!is_float(x->dtype) || w->dtype != x->dtype) goto bad_dtype;
        int64_t grp = ir_attr_int(n, "group", 1);
        if (grp < 1 || (w->dims[0] >= 0 && w->dims[0] % grp))
            return ERR("node '%s': group %lld does not divide M", n->name, (long long)grp);
        if (x->dims[1] >= 0 && w->dims[1] >= 0 && x->dims[1] != w->dims[1] * grp)
            return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                            "node '%s': input has %lld channels, weights expect %lld", n->name,
                            (long long)x->dims[1], (long long)(w->dims[1] * grp));
        if (n_in > 2 && n->in[2] >= 0 &&
            (in[2].rank != 1 ||
             (in[2].dims[0] >= 0 && w->dims[0] >= 0 && in[2].dims[0] != w->dims[0])))
            return ERR("node '%s': bias shape", n->name);
        return infer_window(n, x, w, o, err);
    }
    case IR_OP_MaxPool:
    case IR_OP_AveragePool:
        if (!is_float(x->dtype)) goto bad_dtype;
        if (n->op == IR_OP_MaxPool && (ir_attr_int(n, "storage_order", 0) || n_out > 1))
            return core_err(err, MLC_STATUS_UNSUPPORTED,
                            "node '%s': MaxPool indices output not supported", n->name);
        return infer_window(n, x, NULL, o, err);
    case IR_OP_GlobalAveragePool:
    case IR_OP_GlobalMaxPool:
        if (!is_float(x->dtype)) goto bad_dtype;
        if (x->rank < 3) return ERR("node '%s': rank %d", n->name, x->rank);
        same(x, o);
        for (int i = 2; i < x->rank; i++) o->dims[i] = 1;
        return MLC_OK;
    case IR_OP_BatchNormalization:
        if (!is_float(x->dtype)) goto bad_dtype;
        if (ir_attr_int(n, "training_mode", 0) || n_out > 1 || ir_attr_int(n, "spatial", 1) != 1)
            return core_err(err, MLC_STATUS_UNSUPPORTED,
                            "node '%s': BatchNormalization training mode/spatial=0 not supported",
                            n->name);
        for (int i = 1; i < 5; i++)
            if (in[i].rank != 1 ||
                (x->rank >= 2 && in[i].dims[0] >= 0 && x->dims[1] >= 0 &&
                 in[i].dims[0] != x->dims[1]) ||
                in[i].dtype != x->dtype)
                return ERR("node '%s': parameter %d shape", n->name, i);
        if (x->rank < 2) return ERR("node '%s': rank %d", n->name, x->rank);
        same(x, o);
        return MLC_OK;
    case IR_OP_InstanceNormalization:
        if (!is_float(x->dtype)) goto bad_dtype;
        if (x->rank < 3) return ERR("node '%s': rank %d", n->name, x->rank);
        for (int i = 1; i < 3; i++)
            if (in[i].rank != 1 || in[i].dtype != x->dtype ||
                (x->dims[1] >= 0 && in[i].dims[0] >= 0 && in[i].dims[0] != x->dims[1]))
                return ERR("node '%s': scale/bias shape", n->name);
        same(x, o);
        return MLC_OK;
    case IR_OP_LayerNormalization: {
        int a;
        if (!is_float(x->dtype)) goto bad_dtype;
        if (norm_axis(ir_attr_int(n, "axis", -1), x->rank, &a))
            return ERR("node '%s': axis out of range", n->name);
        {
            int64_t D = 1, ns = eng_numel(&in[1]),
                    nb = n_in > 2 && n->in[2] >= 0 ? eng_numel(&in[2]) : 1;
            for (int k = a; k < x->rank; k++)
                if (D >= 0 && (x->dims[k] < 0 || __builtin_mul_overflow(D, x->dims[k], &D)))
                    D = -1; /* unknown, or beyond int64 (hostile dims: no product to check) */
            if (in[1].dtype != x->dtype || (n_in > 2 && n->in[2] >= 0 && in[2].dtype != x->dtype) ||
                ns == 0 || nb == 0 || (D > 0 && ns > 0 && D % ns) || (D > 0 && nb > 0 && D % nb))
                return ERR("node '%s': scale/bias do not match the normalised shape", n->name);
        }
        same(x, o);
        for (int i = 1; i < n_out; i++) {
            same(x, &out[i]);
            for (int k = a; k < x->rank; k++) out[i].dims[k] = 1;
        }
        return MLC_OK;
    }
    case IR_OP_Gemm: {
        const mlc_tensor *b = &in[1];
        if (!is_float(x->dtype) || b->dtype != x->dtype) goto bad_dtype;
        if (x->rank != 2 || b->rank != 2) return ERR("node '%s': Gemm needs 2-D inputs", n->name);
        int ta = (int)ir_attr_int(n, "transA", 0), tb = (int)ir_attr_int(n, "transB", 0);
        int64_t M = ta ? x->dims[1] : x->dims[0], K = ta ? x->dims[0] : x->dims[1];
        int64_t K2 = tb ? b->dims[1] : b->dims[0], N = tb ? b->dims[0] : b->dims[1];
        if (K >= 0 && K2 >= 0 && K != K2)
            return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "node '%s': inner dims %lld vs %lld",
                            n->name, (long long)K, (long long)K2);
        o->dtype = x->dtype;
        o->rank = 2;
        o->dims[0] = M;
        o->dims[1] = N;
        if (n_in > 2 && n->in[2] >= 0) {
            int64_t d[MLC_MAX_RANK];
            if (in[2].dtype != x->dtype ||
                eng_broadcast(in[2].rank, in[2].dims, 2, o->dims, d) != 2 ||
                (d[0] >= 0 && M >= 0 && d[0] != M) || (d[1] >= 0 && N >= 0 && d[1] != N))
                return ERR("node '%s': C does not broadcast to (M, N)", n->name);
        }
        return MLC_OK;
    }
    case IR_OP_MatMul: {
        const mlc_tensor *b = &in[1];
        if (!is_float(x->dtype) || b->dtype != x->dtype) goto bad_dtype;
        if (x->rank < 1 || b->rank < 1) return ERR("node '%s': scalar MatMul", n->name);
        int64_t ad[MLC_MAX_RANK], bd[MLC_MAX_RANK];
        int ra = x->rank, rb = b->rank;
        memcpy(ad, x->dims, sizeof ad);
        memcpy(bd, b->dims, sizeof bd);
        if (ra == 1) {
            ad[1] = ad[0];
            ad[0] = 1;
            ra = 2;
        }
        if (rb == 1) {
            bd[1] = 1;
            rb = 2;
        }
        int64_t K = ad[ra - 1], K2 = bd[rb - 2];
        if (K >= 0 && K2 >= 0 && K != K2)
            return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "node '%s': inner dims %lld vs %lld",
                            n->name, (long long)K, (long long)K2);
        int r = eng_broadcast(ra - 2, ad, rb - 2, bd, o->dims);
        if (r < 0)
            return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                            "node '%s': batch dims do not broadcast", n->name);
        if (x->rank != 1) o->dims[r++] = ad[ra - 2];
        if (b->rank != 1) o->dims[r++] = bd[rb - 1];
        o->rank = r;
        o->dtype = x->dtype;
        if (n_in > 2 && n->in[2] >= 0 && (in[2].rank != 1 || in[2].dims[0] != o->dims[r - 1]))
            return ERR("node '%s': fused bias", n->name);
        return MLC_OK;
    }
    case IR_OP_Flatten: {
        int a;
        int64_t ax = ir_attr_int(n, "axis", 1);
        if (ax < -x->rank || ax > x->rank) return ERR("node '%s': axis out of range", n->name);
        a = (int)(ax < 0 ? ax + x->rank : ax);
        int64_t p0 = 1, p1 = 1;
        for (int i = 0; i < x->rank; i++) {
            int64_t *p = i < a ? &p0 : &p1;
            if (*p < 0 || x->dims[i] < 0)
                *p = -1;
            else if (__builtin_mul_overflow(*p, x->dims[i], p))
                return ERR("node '%s': shape too large", n->name);
        }
        o->dtype = x->dtype;
        o->rank = 2;
        o->dims[0] = p0;
        o->dims[1] = p1;
        return MLC_OK;
    }
    case IR_OP_Reshape:
        return infer_reshape(n, in, o, err);
    case IR_OP_Squeeze:
    case IR_OP_Unsqueeze: {
        int64_t ax[MLC_MAX_RANK];
        int64_t na = n_in > 1 && n->in[1] >= 0 ? ints_of(&in[1], ax, MLC_MAX_RANK) : 0;
        if (na == -2) return ERR("node '%s': bad axes", n->name);
        if (na == -1)
            return core_err(err, MLC_STATUS_UNSUPPORTED,
                            "node '%s': axes must be known [value-dependent]", n->name);
        int mark[MLC_MAX_RANK] = {0};
        o->dtype = x->dtype;
        if (n->op == IR_OP_Unsqueeze) {
            int r = x->rank + (int)na;
            if (r > MLC_MAX_RANK)
                return core_err(err, MLC_STATUS_UNSUPPORTED, "node '%s': rank %d", n->name, r);
            for (int i = 0; i < na; i++) {
                int a;
                if (norm_axis(ax[i], r, &a) || mark[a])
                    return ERR("node '%s': bad axis %lld", n->name, (long long)ax[i]);
                mark[a] = 1;
            }
            for (int i = 0, j = 0; i < r; i++) o->dims[i] = mark[i] ? 1 : x->dims[j++];
            o->rank = r;
        } else {
            for (int i = 0; i < na; i++) {
                int a;
                if (norm_axis(ax[i], x->rank, &a))
                    return ERR("node '%s': bad axis %lld", n->name, (long long)ax[i]);
                if (x->dims[a] != 1 && x->dims[a] >= 0)
                    return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                                    "node '%s': cannot squeeze axis %d of size %lld", n->name, a,
                                    (long long)x->dims[a]);
                mark[a] = 1;
            }
            if (na == 0)
                for (int i = 0; i < x->rank; i++) {
                    if (x->dims[i] < 0)
                        return core_err(err, MLC_STATUS_UNSUPPORTED,
                                        "node '%s': squeeze of symbolic dims", n->name);
                    mark[i] = x->dims[i] == 1;
                }
            o->rank = 0;
            for (int i = 0; i < x->rank; i++)
                if (!mark[i]) o->dims[o->rank++] = x->dims[i];
        }
        return MLC_OK;
    }
    case IR_OP_Transpose: {
        const int64_t *p;
        int np = ir_attr_ints(n, "perm", &p);
        int seen[MLC_MAX_RANK] = {0};
        if (np && np != x->rank)
            return ERR("node '%s': perm has %d values for rank %d", n->name, np, x->rank);
        same(x, o);
        for (int i = 0; i < x->rank; i++) {
            int64_t s = np ? p[i] : x->rank - 1 - i;
            if (s < 0 || s >= x->rank || seen[s]) return ERR("node '%s': bad perm", n->name);
            seen[s] = 1;
            o->dims[i] = x->dims[s];
        }
        return MLC_OK;
    }
    case IR_OP_Concat: {
        int a = -1;
        int first = -1;
        for (int i = 0; i < n_in; i++)
            if (n->in[i] >= 0) {
                first = i;
                break;
            }
        if (first < 0) return ERR("node '%s': no inputs", n->name);
        x = &in[first];
        if (norm_axis(ir_attr_int(n, "axis", 0), x->rank, &a))
            return ERR("node '%s': axis out of range", n->name);
        same(x, o);
        o->dims[a] = 0;
        for (int i = 0; i < n_in; i++) {
            if (n->in[i] < 0) continue;
            if (in[i].rank != x->rank || in[i].dtype != x->dtype)
                return ERR("node '%s': input %d rank/type differs", n->name, i);
            for (int k = 0; k < x->rank; k++) {
                if (k == a) continue;
                if (in[i].dims[k] >= 0 && o->dims[k] < 0)
                    o->dims[k] = in[i].dims[k];
                else if (in[i].dims[k] >= 0 && in[i].dims[k] != o->dims[k])
                    return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                                    "node '%s': input %d dim %d is %lld, expected %lld", n->name, i,
                                    k, (long long)in[i].dims[k], (long long)o->dims[k]);
            }
            if (o->dims[a] >= 0) o->dims[a] = in[i].dims[a] < 0 ? -1 : o->dims[a] + in[i].dims[a];
        }
        return MLC_OK;
    }
    case IR_OP_Split: {
        int a;
        if (norm_axis(ir_attr_int(n, "axis", 0), x->rank, &a))
            return ERR("node '%s': axis out of range", n->name);
        int64_t sp[64];
        int64_t ns = n_in > 1 && n->in[1] >= 0 ? ints_of(&in[1], sp, 64) : 0;
        if (ns == -2 || (ns > 0 && ns != n_out))
            return ERR("node '%s': split sizes do not match %d outputs", n->name, n_out);
        int64_t d = x->dims[a], tot = 0;
        for (int i = 0; i < n_out; i++) {
            same(x, &out[i]);
            if (ns == -1 || d < 0)
                out[i].dims[a] = -1;
            else if (ns > 0) {
                if (sp[i] < 0) return ERR("node '%s': negative split", n->name);
                out[i].dims[a] = sp[i];
                tot += sp[i];
            } else {
                int64_t c = (d + n_out - 1) / n_out;
                int64_t v = d - c * i;
                out[i].dims[a] = v < 0 ? 0 : (v > c ? c : v);
                tot += out[i].dims[a];
            }
        }
        if (ns > 0 && d >= 0 && tot != d)
            return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                            "node '%s': split sizes sum to %lld, axis is %lld", n->name,
                            (long long)tot, (long long)d);
        return MLC_OK;
    }
    case IR_OP_ScatterND: {
        const mlc_tensor *ix = &in[1], *up = &in[2];
        const char *red = ir_attr_str(n, "reduction", "none");
        if (n_in < 3 || n->in[2] < 0)
            return ERR("node '%s': needs data, indices, updates", n->name);
        if (strcmp(red, "none") &&
            (strcmp(red, "add") && strcmp(red, "mul") && strcmp(red, "max") && strcmp(red, "min")))
            return core_err(err, MLC_STATUS_UNSUPPORTED, "node '%s': reduction '%s'", n->name, red);
        if (ix->dtype != MLC_DTYPE_I64 || up->dtype != x->dtype ||
            (strcmp(red, "none") && !is_float(x->dtype)))
            goto bad_dtype;
        if (ix->rank < 1) return ERR("node '%s': indices rank 0", n->name);
        int64_t k = ix->dims[ix->rank - 1];
        if (k >= 0) {
            if (k < 1 || k > x->rank || up->rank != ix->rank - 1 + x->rank - (int)k)
                return ERR("node '%s': indices/updates shapes do not match data", n->name);
            for (int i = 0; i < ix->rank - 1; i++)
                if (ix->dims[i] >= 0 && up->dims[i] >= 0 && ix->dims[i] != up->dims[i])
                    return ERR("node '%s': updates shape", n->name);
            for (int i = (int)k; i < x->rank; i++)
                if (x->dims[i] >= 0 && up->dims[ix->rank - 1 + i - k] >= 0 &&
                    x->dims[i] != up->dims[ix->rank - 1 + i - k])
                    return ERR("node '%s': updates shape", n->name);
        }
        same(x, o);
        return MLC_OK;
    }
    case IR_OP_Slice:
        return infer_slice(n, in, n_in, o, err);
    case IR_OP_Gather: {
        int a;
        const mlc_tensor *ix = &in[1];
        if (ix->dtype != MLC_DTYPE_I64 && ix->dtype != MLC_DTYPE_I32) goto bad_dtype;
        if (x->rank < 1 || norm_axis(ir_attr_int(n, "axis", 0), x->rank, &a))
            return ERR("node '%s': axis out of range", n->name);
        int r = x->rank - 1 + ix->rank;
        if (r > MLC_MAX_RANK)
            return core_err(err, MLC_STATUS_UNSUPPORTED, "node '%s': rank %d", n->name, r);
        o->dtype = x->dtype;
        o->rank = 0;
        for (int i = 0; i < a; i++) o->dims[o->rank++] = x->dims[i];
        for (int i = 0; i < ix->rank; i++) o->dims[o->rank++] = ix->dims[i];
        for (int i = a + 1; i < x->rank; i++) o->dims[o->rank++] = x->dims[i];
        return MLC_OK;
    }
    case IR_OP_Expand:
    case IR_OP_Tile: {
        int64_t sh[MLC_MAX_RANK];
        int64_t ns = ints_of(&in[1], sh, MLC_MAX_RANK);
        if (ns == -2) return ERR("node '%s': bad shape/repeats", n->name);
        o->dtype = x->dtype;
        if (ns == -1) {
            if (in[1].rank != 1 || in[1].dims[0] < 0)
                return core_err(err, MLC_STATUS_UNSUPPORTED,
                                "node '%s': rank unknown [value-dependent]", n->name);
            o->rank = n->op == IR_OP_Tile
                          ? x->rank
                          : (int)(in[1].dims[0] > x->rank ? in[1].dims[0] : x->rank);
            return MLC_OK;
        }
        if (n->op == IR_OP_Tile) {
            if (ns != x->rank)
                return ERR("node '%s': repeats has %lld values for rank %d", n->name, (long long)ns,
                           x->rank);
            o->rank = x->rank;
            for (int i = 0; i < x->rank; i++) {
                if (sh[i] < 0) return ERR("node '%s': negative repeat", n->name);
                o->dims[i] = x->dims[i] < 0 ? -1 : x->dims[i] * sh[i];
            }
            if (eng_numel(o) < 0 && ir_numel(x->rank, x->dims) >= 0)
                return core_err(err, MLC_STATUS_LIMIT, "node '%s': too large", n->name);
            return MLC_OK;
        }
        for (int i = 0; i < ns; i++)
            if (sh[i] < 0) return ERR("node '%s': negative shape", n->name);
        int r = eng_broadcast(x->rank, x->dims, (int)ns, sh, o->dims);
        if (r < 0)
            return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "node '%s': shape does not broadcast",
                            n->name);
        o->rank = r;
        return MLC_OK;
    }
    case IR_OP_Shape: {
        int64_t r = x->rank, s = ir_attr_int(n, "start", 0), e = ir_attr_int(n, "end", r);
        if (s < 0) s += r;
        if (e < 0) e += r;
        s = s < 0 ? 0 : (s > r ? r : s);
        e = e < 0 ? 0 : (e > r ? r : e);
        o->dtype = MLC_DTYPE_I64;
        o->rank = 1;
        o->dims[0] = e > s ? e - s : 0;
        return MLC_OK;
    }
    case IR_OP_Size:
        o->dtype = MLC_DTYPE_I64;
        o->rank = 0;
        return MLC_OK;
    case IR_OP_ConstantOfShape: {
        int64_t sh[MLC_MAX_RANK];
        int64_t ns = ints_of(x, sh, MLC_MAX_RANK);
        o->dtype = MLC_DTYPE_F32;
        if (n_in > 1 && n->in[1] >= 0) { /* the loader moved the 'value' attribute here */
            if (eng_numel(&in[1]) != 1)
                return ERR("node '%s': value must have one element", n->name);
            o->dtype = in[1].dtype;
        }
        if (ns == -2) return ERR("node '%s': bad shape", n->name);
        if (ns == -1) {
            if (x->rank != 1 || x->dims[0] < 0)
                return core_err(err, MLC_STATUS_UNSUPPORTED,
                                "node '%s': rank unknown [value-dependent]", n->name);
            o->rank = (int)x->dims[0];
        } else {
            o->rank = (int)ns;
            for (int i = 0; i < ns; i++) {
                if (sh[i] < 0) return ERR("node '%s': negative shape", n->name);
                o->dims[i] = sh[i];
            }
            if (eng_numel(o) < 0)
                return core_err(err, MLC_STATUS_LIMIT, "node '%s': too large", n->name);
        }
        return MLC_OK;
    }
    case IR_OP_Range: {
        if (!is_num(x->dtype) || in[1].dtype != x->dtype || in[2].dtype != x->dtype) goto bad_dtype;
        o->dtype = x->dtype;
        o->rank = 1;
        if (x->data && in[1].data && in[2].data) {
            double s, l, d;
            if (x->dtype == MLC_DTYPE_F32)
                s = *(const float *)x->data, l = *(const float *)in[1].data,
                d = *(const float *)in[2].data;
            else if (x->dtype == MLC_DTYPE_I64)
                s = (double)*(const int64_t *)x->data, l = (double)*(const int64_t *)in[1].data,
                d = (double)*(const int64_t *)in[2].data;
            else
                s = *(const int32_t *)x->data, l = *(const int32_t *)in[1].data,
                d = *(const int32_t *)in[2].data;
            if (d == 0) return ERR("node '%s': delta 0", n->name);
            double c = ceil((l - s) / d);
            if (c > 1e9)
                return core_err(err, MLC_STATUS_LIMIT, "node '%s': range too long", n->name);
            o->dims[0] = c > 0 ? (int64_t)c : 0;
        }
        return MLC_OK;
    }
    ENG_REDUCE_CASES:
        if (!is_float(x->dtype) &&
            !(x->dtype == MLC_DTYPE_I64 && (n->op == IR_OP_ReduceSum || n->op == IR_OP_ReduceProd ||
                                            n->op == IR_OP_ReduceMax || n->op == IR_OP_ReduceMin)))
            goto bad_dtype;
        if (x->rank == 0)
            return core_err(err, MLC_STATUS_UNSUPPORTED, "node '%s': reduction of a scalar",
                            n->name);
        return infer_reduce(n, in, n_in, o, err);
    case IR_OP_Pad: {
        const char *mode = ir_attr_str(n, "mode", "constant");
        if (strcmp(mode, "constant") && strcmp(mode, "reflect") && strcmp(mode, "edge"))
            return core_err(err, MLC_STATUS_UNSUPPORTED, "node '%s': Pad mode '%s'", n->name, mode);
        if (!is_num(x->dtype)) goto bad_dtype;
        int64_t p[2 * MLC_MAX_RANK], ax[MLC_MAX_RANK];
        int64_t np = ints_of(&in[1], p, 2 * MLC_MAX_RANK);
        same(x, o);
        if (n_in > 3 && n->in[3] >= 0)
            return core_err(err, MLC_STATUS_UNSUPPORTED, "node '%s': Pad axes input not supported",
                            n->name);
        (void)ax;
        if (np == -1) {
            for (int i = 0; i < x->rank; i++) o->dims[i] = -1;
            return MLC_OK;
        }
        if (np != 2 * x->rank)
            return ERR("node '%s': pads has %lld values for rank %d", n->name, (long long)np,
                       x->rank);
        for (int i = 0; i < x->rank; i++) {
            if (x->dims[i] < 0) continue;
            o->dims[i] = x->dims[i] + p[i] + p[i + x->rank];
            if (o->dims[i] < 0 || p[i] > (1 << 24) || p[i + x->rank] > (1 << 24))
                return ERR("node '%s': bad pads", n->name);
            if (strcmp(mode, "constant") &&
                (p[i] < 0 || p[i + x->rank] < 0 || ((p[i] || p[i + x->rank]) && x->dims[i] == 0) ||
                 (mode[0] == 'r' && (p[i] >= x->dims[i] || p[i + x->rank] >= x->dims[i]))))
                return core_err(err, MLC_STATUS_UNSUPPORTED,
                                "node '%s': pads unsupported for mode %s", n->name, mode);
        }
        return MLC_OK;
    }
    case IR_OP_Constant:
    case IR_OP_Region:
    case IR_OP_COUNT:
        break;
    }
    return core_err(err, MLC_STATUS_INTERNAL, "node '%s': no shape inference for %s", n->name,
                    ir_op_name(n->op));
bad_dtype:
    return core_err(err, MLC_STATUS_UNSUPPORTED, "node '%s' (%s): input data type %d not supported",
                    n->name, ir_op_name(n->op), (int)x->dtype);
}
