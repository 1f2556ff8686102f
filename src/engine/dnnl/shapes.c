/*
 * shapes.c - a oneDNN region's shape inference: every value's dims from the
 * region's input dims, op by op (conv and pool windows with ceil_mode, matmul
 * broadcasting, views, slices, concat), and the eng_region_vtbl infer entry.
 *
 * Not here: layouts and buffers, which bind chooses once dims are known
 * (region.c).
 */
#include <stdio.h>
#include <string.h>

#include "engine/dnnl/dn.h"

static int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pl, int64_t pr,
                        int ceil_mode)
{
    int64_t ke = (k - 1) * d + 1, span = in + pl + pr - ke;
    if (span < 0) return -1;
    int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    /* ONNX/PyTorch: the last window must start inside the input or left pad */
    if (ceil_mode && (o - 1) * s >= in + pl) o--;
    return o;
}

static mlc_status infer_op(const struct dn_ctx *c, const struct dn_op *op, struct dn_shape *v,
                           mlc_error *err)
{
    const struct dn_shape *a = &v[op->in[0]];
    struct dn_shape *o = &v[op->out];
    o->rank = a->rank;
    memcpy(o->dims, a->dims, sizeof o->dims);
    switch (op->kind) {
    case DN_CONV:
    case DN_POOL:
    case DN_GPOOL:
        if (a->rank != 4) goto bad;
        if (op->kind == DN_CONV) {
            const struct dn_const *w = &c->consts[op->w];
            if (a->dims[1] != w->dims[1] * op->group) goto bad;
            o->dims[1] = w->dims[0];
        }
        for (int k = 0; k < 2; k++) {
            if (op->kind == DN_GPOOL) {
                o->dims[2 + k] = 1;
                continue;
            }
            o->dims[2 + k] = conv_out(a->dims[2 + k], op->kernel[k], op->stride[k], op->dil[k],
                                      op->pad_l[k], op->pad_r[k], op->ceil_mode);
            if (o->dims[2 + k] <= 0) goto bad;
        }
        break;
    case DN_IP: {
        const struct dn_const *w = &c->consts[op->w];
        int64_t k = op->trans_b ? w->dims[1] : w->dims[0];
        if (a->rank != 2 || a->dims[1] != k) goto bad;
        o->dims[1] = op->trans_b ? w->dims[0] : w->dims[1];
        break;
    }
    case DN_MATMUL:
        if (op->in[1] < 0) {
            const struct dn_const *w = &c->consts[op->w];
            if (a->rank < 2 || a->dims[a->rank - 1] != w->dims[op->trans_b]) goto bad;
            o->dims[a->rank - 1] = w->dims[!op->trans_b];
        } else {
            const struct dn_shape *b = &v[op->in[1]];
            if (a->rank < 2 || b->rank != a->rank || a->dims[a->rank - 1] != b->dims[b->rank - 2])
                goto bad;
            for (int d = 0; d < a->rank - 2; d++) {
                if (a->dims[d] != b->dims[d] && a->dims[d] != 1 && b->dims[d] != 1) goto bad;
                if (b->dims[d] > o->dims[d]) o->dims[d] = b->dims[d];
            }
            o->dims[a->rank - 1] = b->dims[b->rank - 1];
        }
        break;
    case DN_BINARY: {
        int rb;
        const int64_t *bd;
        if (op->in[1] >= 0)
            rb = v[op->in[1]].rank, bd = v[op->in[1]].dims;
        else
            rb = c->consts[op->w].rank, bd = c->consts[op->w].dims;
        if (rb > a->rank) goto bad;
        for (int d = 0; d < rb; d++) {
            int64_t x = a->dims[a->rank - rb + d];
            if (bd[d] != 1 && bd[d] != x) goto bad;
        }
        break;
    }
    case DN_VIEW: {
        int64_t n = 1, lead = 1, known = 1;
        int neg = -1;
        for (int d = 0; d < a->rank; d++) {
            n *= a->dims[d];
            if (d < op->axis) lead *= a->dims[d];
        }
        if (!op->view_rank) {
            o->rank = 2;
            o->dims[0] = lead;
            o->dims[1] = lead ? n / lead : 0;
            break;
        }
        o->rank = op->view_rank;
        for (int d = 0; d < o->rank; d++) {
            int64_t x = op->view_dims[d];
            if (x == 0) {
                if (d >= a->rank) goto bad;
                x = a->dims[d];
            }
            if (x == -1) {
                if (neg >= 0) goto bad;
                neg = d;
                continue;
            }
            if (x < 0) goto bad;
            o->dims[d] = x;
            known *= x;
        }
        if (neg >= 0) {
            if (!known || n % known) goto bad;
            o->dims[neg] = n / known;
            known *= o->dims[neg];
        }
        if (known != n) goto bad;
        break;
    }
    case DN_TRANSPOSE:
        for (int d = 0; d < a->rank; d++) o->dims[d] = a->dims[op->perm[d]];
        break;
    case DN_CONCAT: /* the axis is checked by partition.c */
        for (int d = 0; d < a->rank; d++)
            if (v[op->in[1]].rank != a->rank ||
                (d != op->axis && a->dims[d] != v[op->in[1]].dims[d]))
                goto bad;
        o->dims[op->axis] += v[op->in[1]].dims[op->axis];
        break;
    case DN_SLICE:
        o->rank = 0;
        for (int64_t d = 0, lo, hi; d < a->rank; d++) {
            if (dn_slice_range(op, (int)d, a->dims[d], &lo, &hi)) goto bad;
            if (d != op->sl_drop) o->dims[o->rank++] = hi - lo;
        }
        break;
    default:
        break;
    }
    return MLC_OK;
bad:
    return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                    "oneDNN region: node '%s': input shapes do not fit the op", op->name);
}

/* oneDNN 2.6's kernels divide by a zero extent (a SIGFPE in its matmul's
 * primitive desc, found by fuzz_onnx_dnnl): a region refuses empty tensors.
 * what names the op producing v (input: the region's input number i). */
static mlc_status zero_size(mlc_error *err, const char *what, int i, const struct dn_shape *v)
{
    char dims[96];
    size_t n = 0;
    dims[0] = '\0';
    for (int d = 0; d < v->rank && n < sizeof dims - 24; d++)
        n += (size_t)snprintf(dims + n, sizeof dims - n, "%s%lld", d ? "," : "",
                              (long long)v->dims[d]);
    if (i >= 0)
        return core_err(err, MLC_STATUS_UNSUPPORTED,
                        "oneDNN region: input %d has an empty shape [%s] (the reference "
                        "backend runs it: --backend ref)",
                        i, dims);
    return core_err(err, MLC_STATUS_UNSUPPORTED,
                    "oneDNN: node '%s': empty output shape [%s] (the reference backend runs it: "
                    "--backend ref)",
                    what, dims);
}

mlc_status dn_infer_shapes(const struct dn_ctx *c, const mlc_tensor *in, int n_in,
                           struct dn_shape *v, mlc_error *err)
{
    if (n_in != c->n_in)
        return core_err(err, MLC_STATUS_INTERNAL, "oneDNN region: %d inputs, expected %d", n_in,
                        c->n_in);
    for (int i = 0; i < n_in; i++) {
        if (in[i].dtype != MLC_DTYPE_F32 || in[i].rank != c->vals[i].rank)
            return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                            "oneDNN region: input %d: expected float32 of rank %d", i,
                            c->vals[i].rank);
        v[i].rank = in[i].rank;
        memcpy(v[i].dims, in[i].dims, sizeof v[i].dims);
    }
    for (int i = 0; i < n_in; i++)
        for (int d = 0; d < v[i].rank; d++)
            if (v[i].dims[d] < 1) return zero_size(err, "input", i, &v[i]);
    for (int i = 0; i < c->n_ops; i++) {
        mlc_status st = infer_op(c, &c->ops[i], v, err);
        if (st) return st;
        const struct dn_shape *o = &v[c->ops[i].out];
        for (int d = 0; d < o->rank; d++)
            if (o->dims[d] < 1) return zero_size(err, c->ops[i].name, -1, o);
    }
    return MLC_OK;
}

mlc_status dn_region_infer(void *mctx, const mlc_tensor *in, int n_in, mlc_tensor *out, int n_out,
                           mlc_error *err)
{
    const struct dn_ctx *c = mctx;
    struct dn_shape *v = mlc_calloc((size_t)c->n_vals, sizeof *v);
    mlc_status st;
    if (!v) return core_err(err, MLC_STATUS_NO_MEMORY, "oneDNN region: out of memory");
    st = dn_infer_shapes(c, in, n_in, v, err);
    if (!st && n_out != c->n_out)
        st = core_err(err, MLC_STATUS_INTERNAL, "oneDNN region: %d outputs, expected %d", n_out,
                      c->n_out);
    for (int i = 0; !st && i < n_out; i++) {
        const struct dn_shape *o = &v[c->outs[i]];
        out[i].dtype = MLC_DTYPE_F32;
        out[i].rank = o->rank;
        memcpy(out[i].dims, o->dims, sizeof out[i].dims);
        out[i].data = NULL;
    }
    mlc_free(v);
    return st;
}
