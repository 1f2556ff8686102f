/*
 * shape.c - data-movement kernels: Reshape/Flatten/Squeeze/Unsqueeze (a copy
 * unless the planner aliased the output to the input), Transpose, Concat,
 * Split, Slice, Gather, Expand, Tile, Pad, and the shape producers Shape,
 * Size, ConstantOfShape, Range. All are dtype-agnostic (they move elements of
 * mlc_dtype_size bytes) except Range and Pad's constant. Run at ith == 0;
 * they are cheap next to the convolutions, and most fold away at load or at
 * plan time. Data-dependent indices (Gather) are checked: an out-of-range
 * index fails the run with INVALID_ARGUMENT naming the node.
 */
#include <string.h>

#include "engine/ops/ops.h"

static size_t esz(const mlc_tensor *t)
{
    return mlc_dtype_size(t->dtype);
}

static mlc_status copy_through(const struct eng_kctx *c, int ith)
{
    if (ith == 0 && c->out[0].data != c->in[0].data) {
        size_t nb = (size_t)eng_numel(&c->out[0]) * esz(&c->out[0]);
        if (nb) memmove(c->out[0].data, c->in[0].data, nb);
    }
    return MLC_OK;
}

mlc_status eng_k_reshape(const struct eng_kctx *c, int ith, int nth)
{
    return copy_through(c, ith);
}
mlc_status eng_k_flatten(const struct eng_kctx *c, int ith, int nth)
{
    return copy_through(c, ith);
}
mlc_status eng_k_squeeze(const struct eng_kctx *c, int ith, int nth)
{
    return copy_through(c, ith);
}
mlc_status eng_k_unsqueeze(const struct eng_kctx *c, int ith, int nth)
{
    return copy_through(c, ith);
}
mlc_status eng_k_constant(const struct eng_kctx *c, int ith, int nth)
{
    return MLC_OK; /* Constant nodes become constant tensors at load */
}
mlc_status eng_k_region(const struct eng_kctx *c, int ith, int nth)
{
    return MLC_OK; /* regions run through their vtable */
}

/* Generic strided gather: out[idx] = in[sum idx_d * st_d + base]. */
static void strided_copy(const mlc_tensor *o, const char *src, const int64_t *st, int64_t base,
                         size_t es)
{
    int64_t total = eng_numel(o), idx[MLC_MAX_RANK] = {0}, off = base;
    char *dst = o->data;
    int r = o->rank;
    if (r == 0) {
        if (total) memcpy(dst, src + base * (int64_t)es, es);
        return;
    }
    int64_t L = o->dims[r - 1], sl = st[r - 1];
    for (int64_t i = 0; i < total; i += L) {
        if (sl == 1) {
            memcpy(dst + i * (int64_t)es, src + off * (int64_t)es, (size_t)L * es);
        } else if (es == 4) {
            const uint32_t *s = (const uint32_t *)src + off;
            uint32_t *d = (uint32_t *)dst + i;
            for (int64_t k = 0; k < L; k++) d[k] = s[k * sl];
        } else {
            for (int64_t k = 0; k < L; k++)
                memcpy(dst + (i + k) * (int64_t)es, src + (off + k * sl) * (int64_t)es, es);
        }
        for (int d = r - 2; d >= 0; d--) {
            off += st[d];
            if (++idx[d] < o->dims[d]) break;
            off -= st[d] * o->dims[d];
            idx[d] = 0;
        }
    }
}

mlc_status eng_k_transpose(const struct eng_kctx *c, int ith, int nth)
{
    if (ith) return MLC_OK;
    const mlc_tensor *x = &c->in[0];
    const int64_t *p;
    int np = ir_attr_ints(c->node, "perm", &p);
    int64_t xs[MLC_MAX_RANK], st[MLC_MAX_RANK], s = 1;
    for (int i = x->rank - 1; i >= 0; i--) xs[i] = s, s *= x->dims[i];
    for (int i = 0; i < x->rank; i++) st[i] = xs[np ? p[i] : x->rank - 1 - i];
    strided_copy(&c->out[0], x->data, st, 0, esz(x));
    return MLC_OK;
}

mlc_status eng_k_concat(const struct eng_kctx *c, int ith, int nth)
{
    if (ith) return MLC_OK;
    const mlc_tensor *o = &c->out[0];
    int64_t ax = ir_attr_int(c->node, "axis", 0);
    int a = (int)(ax < 0 ? ax + o->rank : ax);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < a; i++) outer *= o->dims[i];
    for (int i = a + 1; i < o->rank; i++) inner *= o->dims[i];
    size_t es = esz(o);
    int64_t orow = o->dims[a] * inner, pos = 0;
    for (int k = 0; k < c->n_in; k++) {
        if (!c->in[k].data) continue;
        int64_t row = c->in[k].dims[a] * inner;
        for (int64_t i = 0; i < outer; i++)
            memcpy((char *)o->data + (i * orow + pos) * (int64_t)es,
                   (const char *)c->in[k].data + i * row * (int64_t)es, (size_t)row * es);
        pos += row;
    }
    return MLC_OK;
}

mlc_status eng_k_split(const struct eng_kctx *c, int ith, int nth)
{
    if (ith) return MLC_OK;
    const mlc_tensor *x = &c->in[0];
    int64_t ax = ir_attr_int(c->node, "axis", 0);
    int a = (int)(ax < 0 ? ax + x->rank : ax);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < a; i++) outer *= x->dims[i];
    for (int i = a + 1; i < x->rank; i++) inner *= x->dims[i];
    size_t es = esz(x);
    int64_t xrow = x->dims[a] * inner, pos = 0;
    for (int k = 0; k < c->n_out; k++) {
        int64_t row = c->out[k].dims[a] * inner;
        if (c->out[k].data)
            for (int64_t i = 0; i < outer; i++)
                memcpy((char *)c->out[k].data + i * row * (int64_t)es,
                       (const char *)x->data + (i * xrow + pos) * (int64_t)es, (size_t)row * es);
        pos += row;
    }
    return MLC_OK;
}

static int64_t ival(const mlc_tensor *t, int64_t i)
{
    return t->dtype == MLC_DTYPE_I64 ? ((const int64_t *)t->data)[i]
                                     : ((const int32_t *)t->data)[i];
}

mlc_status eng_k_slice(const struct eng_kctx *c, int ith, int nth)
{
    if (ith) return MLC_OK;
    const mlc_tensor *x = &c->in[0];
    int64_t xs[MLC_MAX_RANK], st[MLC_MAX_RANK], start[MLC_MAX_RANK], s = 1, base = 0;
    for (int i = x->rank - 1; i >= 0; i--) xs[i] = s, s *= x->dims[i];
    for (int i = 0; i < x->rank; i++) st[i] = xs[i], start[i] = 0;
    int64_t ns = eng_numel(&c->in[1]);
    int has_ax = c->n_in > 3 && c->in[3].data, has_st = c->n_in > 4 && c->in[4].data;
    /* starts/axes/steps may arrive at run time: check them here too, since
     * shape inference could not (they index fixed-size arrays below). */
    if (ns > x->rank || eng_numel(&c->in[2]) != ns || (has_ax && eng_numel(&c->in[3]) != ns) ||
        (has_st && eng_numel(&c->in[4]) != ns))
        return core_err(c->err, MLC_STATUS_INVALID_ARGUMENT,
                        "node '%s': Slice starts/ends/axes/steps lengths do not match rank %d",
                        c->node->name, x->rank);
    for (int64_t i = 0; i < ns; i++) {
        int64_t ax = has_ax ? ival(&c->in[3], i) : i;
        int a = (int)(ax < 0 ? ax + x->rank : ax);
        int64_t step = has_st ? ival(&c->in[4], i) : 1;
        if (ax < -x->rank || ax >= x->rank || step == 0)
            return core_err(c->err, MLC_STATUS_INVALID_ARGUMENT,
                            "node '%s': Slice axis %lld or step %lld out of range for rank %d",
                            c->node->name, (long long)ax, (long long)step, x->rank);
        int64_t d = x->dims[a], b = ival(&c->in[1], i);
        if (b < 0) b += d;
        if (step > 0)
            b = b < 0 ? 0 : (b > d ? d : b);
        else
            b = b < 0 ? -1 : (b > d - 1 ? d - 1 : b);
        start[a] = b;
        st[a] = xs[a] * step;
    }
    for (int i = 0; i < x->rank; i++) base += start[i] * xs[i];
    if (eng_numel(&c->out[0]) == 0) return MLC_OK;
    strided_copy(&c->out[0], x->data, st, base, esz(x));
    return MLC_OK;
}

mlc_status eng_k_gather(const struct eng_kctx *c, int ith, int nth)
{
    if (ith) return MLC_OK;
    const mlc_tensor *x = &c->in[0], *ix = &c->in[1];
    int64_t ax = ir_attr_int(c->node, "axis", 0);
    int a = (int)(ax < 0 ? ax + x->rank : ax);
    int64_t outer = 1, inner = 1, D = x->dims[a], ni = eng_numel(ix);
    for (int i = 0; i < a; i++) outer *= x->dims[i];
    for (int i = a + 1; i < x->rank; i++) inner *= x->dims[i];
    size_t es = esz(x), row = (size_t)inner * es;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < ni; k++) {
            int64_t j = ival(ix, k);
            if (j < 0) j += D;
            if (j < 0 || j >= D)
                return core_err(c->err, MLC_STATUS_INVALID_ARGUMENT,
                                "node '%s': Gather index %lld out of range [0, %lld)",
                                c->node->name, (long long)ival(ix, k), (long long)D);
            memcpy((char *)c->out[0].data + (size_t)(o * ni + k) * row,
                   (const char *)x->data + (size_t)(o * D + j) * row, row);
        }
    return MLC_OK;
}

mlc_status eng_k_expand(const struct eng_kctx *c, int ith, int nth)
{
    if (ith) return MLC_OK;
    int64_t st[MLC_MAX_RANK];
    eng_bcast_strides(&c->in[0], &c->out[0], st);
    strided_copy(&c->out[0], c->in[0].data, st, 0, esz(&c->in[0]));
    return MLC_OK;
}

mlc_status eng_k_tile(const struct eng_kctx *c, int ith, int nth)
{
    if (ith) return MLC_OK;
    const mlc_tensor *x = &c->in[0], *o = &c->out[0];
    size_t es = esz(x);
    int64_t total = eng_numel(o), idx[MLC_MAX_RANK] = {0};
    for (int64_t i = 0; i < total; i++) {
        int64_t off = 0;
        for (int d = 0; d < o->rank; d++) off = off * x->dims[d] + idx[d] % x->dims[d];
        memcpy((char *)o->data + i * (int64_t)es, (const char *)x->data + off * (int64_t)es, es);
        for (int d = o->rank - 1; d >= 0; d--) {
            if (++idx[d] < o->dims[d]) break;
            idx[d] = 0;
        }
    }
    return MLC_OK;
}

mlc_status eng_k_pad(const struct eng_kctx *c, int ith, int nth)
{
    if (ith) return MLC_OK;
    const mlc_tensor *x = &c->in[0], *o = &c->out[0];
    const char *mode = ir_attr_str(c->node, "mode", "constant");
    size_t es = esz(x);
    int r = x->rank;
    int64_t pads[2 * MLC_MAX_RANK];
    for (int i = 0; i < 2 * r; i++) pads[i] = ival(&c->in[1], i);
    char cv[8] = {0};
    if (c->n_in > 2 && c->in[2].data && eng_numel(&c->in[2]) == 1) memcpy(cv, c->in[2].data, es);
    int64_t total = eng_numel(o), idx[MLC_MAX_RANK] = {0};
    for (int64_t i = 0; i < total; i++) {
        int64_t off = 0;
        int inside = 1;
        for (int d = 0; d < r; d++) {
            int64_t j = idx[d] - pads[d], n = x->dims[d];
            if (j < 0 || j >= n) {
                if (mode[0] == 'c')
                    inside = 0;
                else if (mode[0] == 'e')
                    j = j < 0 ? 0 : n - 1;
                else
                    j = j < 0 ? -j : 2 * (n - 1) - j;
            }
            off = off * n + j;
        }
        memcpy((char *)o->data + i * (int64_t)es,
               inside ? (const char *)x->data + off * (int64_t)es : cv, es);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < o->dims[d]) break;
            idx[d] = 0;
        }
    }
    return MLC_OK;
}

mlc_status eng_k_shape(const struct eng_kctx *c, int ith, int nth)
{
    if (ith) return MLC_OK;
    int64_t r = c->in[0].rank, s = ir_attr_int(c->node, "start", 0);
    if (s < 0) s += r;
    if (s < 0) s = 0;
    for (int64_t i = 0; i < c->out[0].dims[0]; i++)
        ((int64_t *)c->out[0].data)[i] = c->in[0].dims[s + i];
    return MLC_OK;
}

mlc_status eng_k_size(const struct eng_kctx *c, int ith, int nth)
{
    if (ith == 0) *(int64_t *)c->out[0].data = eng_numel(&c->in[0]);
    return MLC_OK;
}

mlc_status eng_k_constantofshape(const struct eng_kctx *c, int ith, int nth)
{
    if (ith) return MLC_OK;
    const mlc_tensor *o = &c->out[0];
    size_t es = esz(o);
    int64_t n = eng_numel(o);
    if (c->n_in > 1 && c->in[1].data) {
        for (int64_t i = 0; i < n; i++)
            memcpy((char *)o->data + i * (int64_t)es, c->in[1].data, es);
    } else if (n) {
        memset(o->data, 0, (size_t)n * es);
    }
    return MLC_OK;
}

mlc_status eng_k_range(const struct eng_kctx *c, int ith, int nth)
{
    if (ith) return MLC_OK;
    int64_t n = c->out[0].dims[0];
    switch (c->out[0].dtype) {
    case MLC_DTYPE_F32: {
        float s = *(const float *)c->in[0].data, d = *(const float *)c->in[2].data;
        for (int64_t i = 0; i < n; i++) ((float *)c->out[0].data)[i] = s + (float)i * d;
        break;
    }
    case MLC_DTYPE_I64: {
        int64_t s = *(const int64_t *)c->in[0].data, d = *(const int64_t *)c->in[2].data;
        for (int64_t i = 0; i < n; i++) ((int64_t *)c->out[0].data)[i] = s + i * d;
        break;
    }
    default: {
        int32_t s = *(const int32_t *)c->in[0].data, d = *(const int32_t *)c->in[2].data;
        for (int64_t i = 0; i < n; i++) ((int32_t *)c->out[0].data)[i] = (int32_t)(s + i * d);
        break;
    }
    }
    return MLC_OK;
}

mlc_status eng_k_scatternd(const struct eng_kctx *c, int ith, int nth)
{
    if (ith) return MLC_OK;
    const mlc_tensor *x = &c->in[0], *ix = &c->in[1], *up = &c->in[2];
    const char *red = ir_attr_str(c->node, "reduction", "none");
    size_t es = esz(x);
    int64_t n = eng_numel(x), k = ix->dims[ix->rank - 1], slice = 1, st[MLC_MAX_RANK], s = 1;
    for (int i = x->rank - 1; i >= 0; i--) st[i] = s, s *= x->dims[i];
    for (int i = (int)k; i < x->rank; i++) slice *= x->dims[i];
    if (c->out[0].data != x->data && n) memcpy(c->out[0].data, x->data, (size_t)n * es);
    int64_t nidx = k ? eng_numel(ix) / k : 0;
    const int64_t *iv = ix->data;
    for (int64_t q = 0; q < nidx; q++) {
        int64_t off = 0;
        for (int j = 0; j < k; j++) {
            int64_t v = iv[q * k + j], d = x->dims[j];
            if (v < 0) v += d;
            if (v < 0 || v >= d)
                return core_err(c->err, MLC_STATUS_INVALID_ARGUMENT,
                                "node '%s': ScatterND index %lld out of range [0, %lld)",
                                c->node->name, (long long)iv[q * k + j], (long long)d);
            off += v * st[j];
        }
        if (red[0] == 'n') {
            memcpy((char *)c->out[0].data + off * (int64_t)es,
                   (const char *)up->data + q * slice * (int64_t)es, (size_t)slice * es);
            continue;
        }
        float *y = (float *)c->out[0].data + off;
        const float *u = (const float *)up->data + q * slice;
        for (int64_t i = 0; i < slice; i++) {
            switch (red[1]) {
            case 'd':
                y[i] += u[i];
                break; /* add */
            case 'u':
                y[i] *= u[i];
                break; /* mul */
            case 'a':
                y[i] = u[i] > y[i] ? u[i] : y[i];
                break; /* max */
            default:
                y[i] = u[i] < y[i] ? u[i] : y[i];
                break; /* min */
            }
        }
    }
    return MLC_OK;
}
