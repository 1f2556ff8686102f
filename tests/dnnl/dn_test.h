/*
 * dn_test.h - what the oneDNN region tests share: a dn_ctx built by hand,
 * random constants and inputs, one infer/bind/run through the vtable, and
 * a naive convolution to compare with.
 */
#ifndef MLC_TESTS_DN_TEST_H
#define MLC_TESTS_DN_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/dnnl/dn.h"
#include "test.h"

static inline float frand(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static inline struct dn_ctx *ctx_new(int n_in, int n_vals, int n_ops, int n_consts)
{
    struct dn_ctx *c = mlc_calloc(1, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    dnnl_engine_create(&c->eng, dnnl_cpu, 0);
    c->n_in = n_in;
    c->n_vals = n_vals;
    c->vals = mlc_calloc((size_t)n_vals, sizeof *c->vals);
    c->n_ops = n_ops;
    c->ops = mlc_calloc((size_t)n_ops, sizeof *c->ops);
    c->n_consts = n_consts;
    c->consts = mlc_calloc((size_t)n_consts, sizeof *c->consts);
    c->outs = mlc_calloc(4, sizeof *c->outs);
    c->threads = 2;
    c->silu_max = dn_silu_max();
    for (int i = 0; i < n_ops; i++) {
        struct dn_op *op = &c->ops[i];
        op->name = core_sprintf("op%d", i);
        op->in[1] = op->w = op->b = op->mean = op->var = op->sum_in = -1;
        op->sl_drop = -1;
        op->stride[0] = op->stride[1] = op->dil[0] = op->dil[1] = op->group = 1;
    }
    return c;
}

static inline float *const_new(struct dn_ctx *c, int id, int rank, const int64_t *dims,
                               uint32_t *seed)
{
    struct dn_const *k = &c->consts[id];
    k->rank = rank;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= (k->dims[i] = dims[i]);
    k->data =
        mlc_alloc((size_t)n * sizeof(float) + 64); /* room to pack in place, as the loader's */
    for (int64_t i = 0; i < n; i++) k->data[i] = frand(seed);
    return k->data;
}

/* Runs region c on inputs; outputs allocated here (caller frees). */
static inline int run_region(struct dn_ctx *c, mlc_tensor *in, mlc_tensor *out)
{
    mlc_error err = {0};
    const struct eng_region_vtbl *vt = &dn_region_vtbl;
    void *state = mlc_calloc(1, vt->session_size(c));
    int ok = 0;
    if (vt->infer(c, in, c->n_in, out, c->n_out, &err)) {
        fprintf(stderr, "infer: %s\n", err.message);
        goto done;
    }
    for (int i = 0; i < c->n_out; i++) {
        int64_t n = 1;
        for (int d = 0; d < out[i].rank; d++) n *= out[i].dims[d];
        out[i].data = mlc_calloc((size_t)n, sizeof(float));
    }
    if (vt->bind(c, in, c->n_in, state, 0, &err) ||
        vt->run(c, state, in, c->n_in, out, c->n_out, &err)) {
        fprintf(stderr, "bind/run: %s\n", err.message);
        goto done;
    }
    ok = 1;
done:
    vt->unbind(c, state);
    mlc_free(state);
    return ok;
}

static inline mlc_tensor tensor4(int64_t a, int64_t b, int64_t c, int64_t d, uint32_t *seed)
{
    mlc_tensor t = {MLC_DTYPE_F32, 4, {a, b, c, d}, NULL};
    int64_t n = a * b * c * d;
    float *p = mlc_alloc((size_t)n * sizeof *p);
    for (int64_t i = 0; i < n; i++) p[i] = frand(seed);
    t.data = p;
    return t;
}

static inline double max_diff(const float *a, const float *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* Naive grouped conv, NCHW. */
static inline void conv_ref(const float *x, int64_t N, int64_t C, int64_t H, int64_t W,
                            const float *w, const float *b, int64_t O, int64_t KH, int64_t KW,
                            int64_t g, int64_t s, int64_t p, int64_t dil, float *y, int64_t OH,
                            int64_t OW)
{
    int64_t cg = C / g, og = O / g;
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double acc = b ? b[o] : 0;
                    int64_t gi = o / og;
                    for (int64_t ci = 0; ci < cg; ci++)
                        for (int64_t kh = 0; kh < KH; kh++)
                            for (int64_t kw = 0; kw < KW; kw++) {
                                int64_t ih = oh * s - p + kh * dil, iw = ow * s - p + kw * dil;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                acc += (double)x[((n * C + gi * cg + ci) * H + ih) * W + iw] *
                                       w[((o * cg + ci) * KH + kh) * KW + kw];
                            }
                    y[((n * O + o) * OH + oh) * OW + ow] = (float)acc;
                }
}

/* A region of one convolution with weights wd (OIHW) and a bias, both
 * random (*w, *b: the region's copies, freed with it). */
static inline struct dn_ctx *conv_region(const int64_t *wd, uint32_t *seed, float **w, float **b)
{
    struct dn_ctx *c = ctx_new(1, 2, 1, 2);
    c->vals[0].rank = c->vals[1].rank = 4;
    c->n_out = 1;
    c->outs[0] = 1;
    *w = const_new(c, 0, 4, wd, seed);
    *b = const_new(c, 1, 1, wd, seed);
    struct dn_op *op = &c->ops[0];
    op->kind = DN_CONV;
    op->in[0] = 0, op->out = 1, op->w = 0, op->b = 1;
    op->kernel[0] = wd[2], op->kernel[1] = wd[3];
    return c;
}

#endif
