/*
 * test_dnnl_region.c - the oneDNN region runtime (src/engine/dnnl/region.c)
 * against naive loops on small shapes, without the graph layer: each test
 * builds a dn_ctx by hand, then infer/bind/run through the vtable.
 * Covers grouped/strided/padded conv with bias+relu, a residual sum post-op,
 * max pooling with ceil_mode, global average pooling, flatten, inner product
 * with sigmoid, batched matmul, softmax and layer norm, attention's matmuls
 * on transposed views (dense copies in bf16); plus failure paths
 * (wrong input rank, an empty input) and a second bind with another batch (weights shared);
 * the threading-level chooser (adapt.c) on made-up times, and a region whose
 * ops fall in each level run adaptively and pinned; the buffer plan (in-place
 * ops, buffers placed by lifetime) on a chain of changing sizes; our SiLU
 * (silu.c) alone and after a conv; our bf16 GELU (gelu.c) on every bf16
 * value and after a matmul; packing into the weights' own buffers
 * (pack.c); an SE block's scale folded into the next conv's weights
 * (wscale.c); strided 1x1 convs run on a dense subsample; Gemm (transB 0
 * and 1) as a matmul.
 */
#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "dn_test.h"

static void test_conv_grouped(void)
{
    uint32_t seed = 1;
    for (int bf = 0; bf < 2; bf++) {
        int64_t wd[4] = {6, 2, 3, 3};
        float *w, *b;
        struct dn_ctx *c = conv_region(wd, &seed, &w, &b);
        c->bf16 = bf;
        struct dn_op *op = &c->ops[0];
        op->group = 2;
        op->stride[0] = op->stride[1] = 2;
        op->dil[0] = op->dil[1] = 2;
        op->pad_l[0] = op->pad_l[1] = op->pad_r[0] = op->pad_r[1] = 2;
        op->post[0] = (struct dn_post){0, dnnl_eltwise_relu, 0, 0};
        op->n_post = 1;
        float wc[108], bc[6];
        memcpy(wc, w, sizeof wc);
        memcpy(bc, b, sizeof bc);
        for (int batch = 1; batch <= 3; batch += 2) {
            mlc_tensor x = tensor4(batch, 4, 9, 9, &seed), out = {0};
            CHECK(run_region(c, &x, &out));
            CHECK(out.dims[0] == batch && out.dims[1] == 6 && out.dims[2] == 5 && out.dims[3] == 5);
            float ref[3 * 6 * 25];
            conv_ref(x.data, batch, 4, 9, 9, wc, bc, 6, 3, 3, 2, 2, 2, 2, ref, 5, 5);
            for (int i = 0; i < batch * 150; i++) ref[i] = ref[i] > 0 ? ref[i] : 0;
            if (out.data) {
                double d = max_diff(out.data, ref, batch * 150);
                CHECK_MSG(d <= (bf ? 0.08 : 1e-4), "bf16=%d batch %d diff %g", bf, batch, d);
            }
            mlc_free(x.data);
            mlc_free(out.data);
        }
        dn_ctx_free(c);
    }
}

/* conv1x1 + residual(x) + relu -> maxpool 3x3 s2 p1 ceil -> gap -> flatten -> ip + sigmoid */
/* Depthwise convolutions as mobilenet_v3 and efficientnet have them (3x3 and
 * 5x5, strides 1 and 2, 48 channels, batch 1 and 2; region.c prefers
 * oneDNN's jit_dw kernel for them in float32) against naive loops. */
static void test_conv_depthwise(void)
{
    enum { C = 48, H = 15 };
    uint32_t seed = 29;
    for (int k = 3; k <= 5; k += 2)
        for (int s = 1; s <= 2; s++)
            for (int64_t n = 1; n <= 2; n++) {
                int64_t wd[4] = {C, 1, k, k};
                float *w, *b;
                struct dn_ctx *c = conv_region(wd, &seed, &w, &b);
                struct dn_op *op = &c->ops[0];
                op->group = C;
                op->stride[0] = op->stride[1] = s;
                op->pad_l[0] = op->pad_l[1] = op->pad_r[0] = op->pad_r[1] = k / 2;
                float *wc = mlc_alloc(sizeof(float) * C * k * k), bc[C];
                memcpy(wc, w, sizeof(float) * C * k * k);
                memcpy(bc, b, sizeof bc);
                int64_t oh = (H + 2 * (k / 2) - k) / s + 1;
                mlc_tensor x = tensor4(n, C, H, H, &seed), out = {0};
                CHECK(run_region(c, &x, &out));
                CHECK(out.dims[0] == n && out.dims[1] == C && out.dims[2] == oh);
                float *ref = mlc_alloc(sizeof(float) * (size_t)(n * C * oh * oh));
                conv_ref(x.data, n, C, H, H, wc, bc, C, k, k, C, s, k / 2, 1, ref, oh, oh);
                if (out.data)
                    CHECK_MSG(max_diff(out.data, ref, n * C * oh * oh) <= 1e-4,
                              "k %d stride %d batch %lld", k, s, (long long)n);
                mlc_free(x.data), mlc_free(out.data), mlc_free(ref), mlc_free(wc);
                dn_ctx_free(c);
            }
}

static void test_residual_head(void)
{
    uint32_t seed = 7;
    struct dn_ctx *c = ctx_new(1, 6, 5, 4);
    for (int i = 0; i < 5; i++) c->vals[i].rank = 4;
    c->vals[4].rank = 2, c->vals[5].rank = 2;
    c->n_out = 2;
    c->outs[0] = 5, c->outs[1] = 1;
    int64_t wd[4] = {8, 8, 1, 1}, fd[2] = {3, 8}, bd[1] = {3}, cb[1] = {8};
    float *w = const_new(c, 0, 4, wd, &seed), *fw = const_new(c, 1, 2, fd, &seed);
    float *fb = const_new(c, 2, 1, bd, &seed), *cbias = const_new(c, 3, 1, cb, &seed);
    float wc[64], fwc[24], fbc[3], cbc[8];
    memcpy(wc, w, sizeof wc), memcpy(fwc, fw, sizeof fwc), memcpy(fbc, fb, sizeof fbc);
    memcpy(cbc, cbias, sizeof cbc);
    struct dn_op *op = c->ops;
    op[0].kind = DN_CONV, op[0].in[0] = 0, op[0].out = 1, op[0].w = 0, op[0].b = 3;
    op[0].kernel[0] = op[0].kernel[1] = 1;
    op[0].sum_in = 0;
    op[0].post[0] = (struct dn_post){1, dnnl_eltwise_relu, 0, 0};
    op[0].post[1] = (struct dn_post){0, dnnl_eltwise_relu, 0, 0};
    op[0].n_post = 2;
    op[1].kind = DN_POOL, op[1].in[0] = 1, op[1].out = 2, op[1].alg = dnnl_pooling_max;
    op[1].kernel[0] = op[1].kernel[1] = 3;
    op[1].stride[0] = op[1].stride[1] = 2;
    op[1].pad_l[0] = op[1].pad_l[1] = op[1].pad_r[0] = op[1].pad_r[1] = 1;
    op[1].ceil_mode = 1;
    op[2].kind = DN_GPOOL, op[2].in[0] = 2, op[2].out = 3,
    op[2].alg = dnnl_pooling_avg_exclude_padding;
    op[3].kind = DN_VIEW, op[3].in[0] = 3, op[3].out = 4, op[3].axis = 1;
    op[4].kind = DN_IP, op[4].in[0] = 4, op[4].out = 5, op[4].w = 1, op[4].b = 2, op[4].trans_b = 1;
    op[4].post[0] = (struct dn_post){0, dnnl_eltwise_logistic, 0, 0};
    op[4].n_post = 1;

    const int N = 2, H = 10;
    mlc_tensor x = tensor4(N, 8, H, H, &seed), out[2] = {{0}};
    CHECK(run_region(c, &x, out));
    /* reference */
    static float y[2 * 8 * 10 * 10];
    conv_ref(x.data, N, 8, H, H, wc, cbc, 8, 1, 1, 1, 1, 0, 1, y, H, H);
    for (int i = 0; i < N * 800; i++) {
        y[i] += ((float *)x.data)[i];
        y[i] = y[i] > 0 ? y[i] : 0;
    }
    /* ceil((10+2-3)/2)+1 = 6, last window starts at 10 >= 10+1? no -> 6 */
    const int P = 6;
    static float pool[2 * 8 * 6 * 6];
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < 8; ch++)
            for (int ph = 0; ph < P; ph++)
                for (int pw = 0; pw < P; pw++) {
                    float m = -1e30f;
                    for (int kh = 0; kh < 3; kh++)
                        for (int kw = 0; kw < 3; kw++) {
                            int ih = ph * 2 - 1 + kh, iw = pw * 2 - 1 + kw;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= H) continue;
                            float v = y[((n * 8 + ch) * H + ih) * H + iw];
                            if (v > m) m = v;
                        }
                    pool[((n * 8 + ch) * P + ph) * P + pw] = m;
                }
    float ref[2 * 3];
    for (int n = 0; n < N; n++) {
        float g[8];
        for (int ch = 0; ch < 8; ch++) {
            double s = 0;
            for (int i = 0; i < P * P; i++) s += pool[(n * 8 + ch) * P * P + i];
            g[ch] = (float)(s / (P * P));
        }
        for (int o = 0; o < 3; o++) {
            double s = fbc[o];
            for (int k = 0; k < 8; k++) s += (double)g[k] * fwc[o * 8 + k];
            ref[n * 3 + o] = (float)(1.0 / (1.0 + exp(-s)));
        }
    }
    CHECK(out[0].rank == 2 && out[0].dims[0] == N && out[0].dims[1] == 3);
    if (out[0].data) CHECK_NEAR(max_diff(out[0].data, ref, 6), 0, 1e-5);
    if (out[1].data) CHECK_NEAR(max_diff(out[1].data, y, N * 800), 0, 1e-4);
    mlc_free(x.data);
    mlc_free(out[0].data);
    mlc_free(out[1].data);
    dn_ctx_free(c);
}

/* batched matmul (two activations) -> softmax(last); layernorm on input a */
static void test_attention_bits(void)
{
    uint32_t seed = 3;
    struct dn_ctx *c = ctx_new(2, 5, 3, 2);
    for (int i = 0; i < 5; i++) c->vals[i].rank = 4;
    c->n_out = 2;
    c->outs[0] = 3, c->outs[1] = 4;
    int64_t sd[1] = {4};
    float *sc = const_new(c, 0, 1, sd, &seed), *sh = const_new(c, 1, 1, sd, &seed);
    float scc[4], shc[4];
    memcpy(scc, sc, sizeof scc), memcpy(shc, sh, sizeof shc);
    struct dn_op *op = c->ops;
    op[0].kind = DN_MATMUL, op[0].in[0] = 0, op[0].in[1] = 1, op[0].out = 2;
    op[1].kind = DN_SOFTMAX, op[1].in[0] = 2, op[1].out = 3, op[1].axis = 3;
    op[2].kind = DN_LNORM, op[2].in[0] = 0, op[2].out = 4, op[2].w = 0, op[2].b = 1;
    op[2].eps = 1e-5f;
    mlc_tensor in[2] = {tensor4(2, 3, 5, 4, &seed), tensor4(2, 3, 4, 6, &seed)}, out[2] = {{0}};
    CHECK(run_region(c, in, out));
    const float *a = in[0].data, *b = in[1].data;
    float mm[2 * 3 * 5 * 6], ln[2 * 3 * 5 * 4];
    for (int bh = 0; bh < 6; bh++)
        for (int i = 0; i < 5; i++) {
            double mx = -1e30, row[6], sum = 0;
            for (int j = 0; j < 6; j++) {
                double s = 0;
                for (int k = 0; k < 4; k++)
                    s += (double)a[(bh * 5 + i) * 4 + k] * b[(bh * 4 + k) * 6 + j];
                row[j] = s;
                if (s > mx) mx = s;
            }
            for (int j = 0; j < 6; j++) sum += (row[j] = exp(row[j] - mx));
            for (int j = 0; j < 6; j++) mm[(bh * 5 + i) * 6 + j] = (float)(row[j] / sum);
            double mean = 0, var = 0;
            for (int k = 0; k < 4; k++) mean += a[(bh * 5 + i) * 4 + k] / 4.0;
            for (int k = 0; k < 4; k++) {
                double dv = a[(bh * 5 + i) * 4 + k] - mean;
                var += dv * dv / 4.0;
            }
            for (int k = 0; k < 4; k++)
                ln[(bh * 5 + i) * 4 + k] =
                    (float)((a[(bh * 5 + i) * 4 + k] - mean) / sqrt(var + 1e-5) * scc[k] + shc[k]);
        }
    if (out[0].data) CHECK_NEAR(max_diff(out[0].data, mm, 180), 0, 1e-5);
    if (out[1].data) CHECK_NEAR(max_diff(out[1].data, ln, 120), 0, 1e-4);
    for (int i = 0; i < 2; i++) mlc_free(in[i].data), mlc_free(out[i].data);
    dn_ctx_free(c);
}

/* Attention's two matmuls on transposed views, f32 and bf16: p = q . k^T with
 * k^T a view of k [B,H,S,D], then p . v with v a view of [B,S,H,D]. f32 reads
 * the views as they are; bf16 feeds both matmuls dense copies (brgemm). */
static void test_attention_views(void)
{
    enum { B = 2, H = 3, S = 5, D = 8 };
    for (int bf = 0; bf < 2; bf++) {
        uint32_t seed = 21;
        struct dn_ctx *c = ctx_new(3, 7, 4, 0);
        for (int i = 0; i < 7; i++) c->vals[i].rank = 4;
        c->bf16 = bf;
        c->n_out = 2;
        c->outs[0] = 4, c->outs[1] = 6;
        struct dn_op *op = c->ops;
        op[0].kind = DN_TRANSPOSE, op[0].in[0] = 1, op[0].out = 3; /* k^T [B,H,D,S] */
        op[0].perm[0] = 0, op[0].perm[1] = 1, op[0].perm[2] = 3, op[0].perm[3] = 2;
        op[1].kind = DN_MATMUL, op[1].in[0] = 0, op[1].in[1] = 3, op[1].out = 4;
        op[2].kind = DN_TRANSPOSE, op[2].in[0] = 2, op[2].out = 5; /* v [B,H,S,D] */
        op[2].perm[0] = 0, op[2].perm[1] = 2, op[2].perm[2] = 1, op[2].perm[3] = 3;
        op[3].kind = DN_MATMUL, op[3].in[0] = 4, op[3].in[1] = 5, op[3].out = 6;
        mlc_tensor in[3] = {tensor4(B, H, S, D, &seed), tensor4(B, H, S, D, &seed),
                            tensor4(B, S, H, D, &seed)},
                   out[2] = {{0}};
        const struct eng_region_vtbl *vt = &dn_region_vtbl;
        mlc_error err = {0};
        void *state = mlc_calloc(1, vt->session_size(c));
        CHECK_OK(vt->infer(c, in, 3, out, 2, &err), &err);
        out[0].data = mlc_calloc(B * H * S * S, sizeof(float));
        out[1].data = mlc_calloc(B * H * S * D, sizeof(float));
        CHECK_OK(vt->bind(c, in, 3, state, 0, &err), &err);
        CHECK_OK(vt->run(c, state, in, 3, out, 2, &err), &err);
        CHECK_MSG(dn_region_n_dense_b(state) == (bf ? 2 : 0), "bf16 %d: %d dense copies", bf,
                  dn_region_n_dense_b(state));
        vt->unbind(c, state);
        mlc_free(state);
        const float *q = in[0].data, *k = in[1].data, *v = in[2].data;
        static float p[B * H * S * S], y[B * H * S * D];
        double pmax = 0, ymax = 0;
        for (int bh = 0; bh < B * H; bh++)
            for (int i = 0; i < S; i++)
                for (int j = 0; j < S; j++) {
                    double t = 0;
                    for (int d = 0; d < D; d++)
                        t += (double)q[(bh * S + i) * D + d] * k[(bh * S + j) * D + d];
                    p[(bh * S + i) * S + j] = (float)t;
                    pmax = fmax(pmax, fabs(t));
                }
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int i = 0; i < S; i++)
                    for (int d = 0; d < D; d++) {
                        double t = 0;
                        for (int j = 0; j < S; j++)
                            t += (double)p[((b * H + h) * S + i) * S + j] *
                                 v[((b * S + j) * H + h) * D + d];
                        y[((b * H + h) * S + i) * D + d] = (float)t;
                        ymax = fmax(ymax, fabs(t));
                    }
        double tol = bf ? 2e-2 : 1e-5;
        CHECK_MSG(max_diff(out[0].data, p, B * H * S * S) <= tol * pmax, "bf16 %d: q.k^T", bf);
        CHECK_MSG(max_diff(out[1].data, y, B * H * S * D) <= tol * ymax, "bf16 %d: p.v", bf);
        for (int i = 0; i < 3; i++) mlc_free(in[i].data);
        for (int i = 0; i < 2; i++) mlc_free(out[i].data);
        dn_ctx_free(c);
    }
}

/* transpose -> matmul + bias; reshape view of an input; hardswish; hardsigmoid */
static void test_views_and_eltwise(void)
{
    uint32_t seed = 11;
    struct dn_ctx *c = ctx_new(1, 6, 5, 2);
    int ranks[6] = {3, 3, 3, 2, 3, 3};
    for (int i = 0; i < 6; i++) c->vals[i].rank = ranks[i];
    c->n_out = 4;
    c->outs[0] = 2, c->outs[1] = 3, c->outs[2] = 4, c->outs[3] = 5;
    int64_t wd[2] = {3, 5}, bd[1] = {5};
    float *w = const_new(c, 0, 2, wd, &seed), *bb = const_new(c, 1, 1, bd, &seed);
    float wc[15], bc[5];
    memcpy(wc, w, sizeof wc), memcpy(bc, bb, sizeof bc);
    struct dn_op *op = c->ops;
    op[0].kind = DN_TRANSPOSE, op[0].in[0] = 0, op[0].out = 1;
    op[0].perm[0] = 0, op[0].perm[1] = 2, op[0].perm[2] = 1;
    op[1].kind = DN_MATMUL, op[1].in[0] = 1, op[1].out = 2, op[1].w = 0, op[1].b = 1;
    op[2].kind = DN_VIEW, op[2].in[0] = 0, op[2].out = 3, op[2].view_rank = 2;
    op[2].view_dims[0] = -1, op[2].view_dims[1] = 4;
    op[3].kind = DN_ELTWISE, op[3].in[0] = 0, op[3].out = 4, op[3].alg = dnnl_eltwise_hardswish;
    op[4].kind = DN_ELTWISE, op[4].in[0] = 0, op[4].out = 5, op[4].alg = dnnl_eltwise_linear;
    op[4].alpha = 1.0f / 6, op[4].beta = 0.5f;
    op[4].post[0] = (struct dn_post){0, dnnl_eltwise_clip_v2, 0, 1};
    op[4].n_post = 1;
    mlc_tensor x = {MLC_DTYPE_F32, 3, {2, 3, 4}, NULL}, out[4] = {{0}};
    float xs[24];
    for (int i = 0; i < 24; i++) xs[i] = 4.0f * frand(&seed);
    x.data = xs;
    CHECK(run_region(c, &x, out));
    float mm[2 * 4 * 5], hs[24], hg[24];
    for (int n = 0; n < 2; n++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 5; j++) {
                double s = bc[j];
                for (int k = 0; k < 3; k++) s += (double)xs[(n * 3 + k) * 4 + i] * wc[k * 5 + j];
                mm[(n * 4 + i) * 5 + j] = (float)s;
            }
    for (int i = 0; i < 24; i++) {
        float r6 = fminf(fmaxf(xs[i] + 3, 0), 6);
        hs[i] = xs[i] * r6 / 6;
        hg[i] = fminf(fmaxf(xs[i] / 6 + 0.5f, 0), 1);
    }
    CHECK(out[0].rank == 3 && out[0].dims[1] == 4 && out[0].dims[2] == 5);
    CHECK(out[1].rank == 2 && out[1].dims[0] == 6 && out[1].dims[1] == 4);
    if (out[0].data) CHECK_NEAR(max_diff(out[0].data, mm, 40), 0, 1e-5);
    if (out[1].data) CHECK_NEAR(max_diff(out[1].data, xs, 24), 0, 0);
    if (out[2].data) CHECK_NEAR(max_diff(out[2].data, hs, 24), 0, 1e-5);
    if (out[3].data) CHECK_NEAR(max_diff(out[3].data, hg, 24), 0, 1e-6);
    for (int i = 0; i < 4; i++) mlc_free(out[i].data);
    dn_ctx_free(c);
}

static void slice_op(struct dn_op *op, int in, int out, int axis, int64_t lo, int64_t hi)
{
    op->kind = DN_SLICE, op->in[0] = in, op->out = out;
    for (int d = 0; d < MLC_MAX_RANK; d++) op->sl_lo[d] = 0, op->sl_hi[d] = INT64_MAX;
    op->sl_lo[axis] = lo, op->sl_hi[axis] = hi;
}

/* DN_SLICE (Slice and one-index Gather) from a region input, from a
 * transposed (strided) view and from a pool buffer, in f32 and bf16; an
 * out-of-range Gather index is refused at infer. */
static void test_slices(void)
{
    for (int bf16 = 0; bf16 < 2; bf16++) {
        uint32_t seed = 21;
        struct dn_ctx *c = ctx_new(1, 7, 6, 0);
        int ranks[7] = {3, 3, 3, 3, 2, 3, 3};
        for (int i = 0; i < 7; i++) c->vals[i].rank = ranks[i];
        c->bf16 = bf16;
        c->n_out = 4;
        c->outs[0] = 1, c->outs[1] = 3, c->outs[2] = 4, c->outs[3] = 6;
        struct dn_op *op = c->ops;
        slice_op(&op[0], 0, 1, 2, 3, 7); /* x[:, :, 3:7] */
        op[1].kind = DN_TRANSPOSE, op[1].in[0] = 0, op[1].out = 2;
        op[1].perm[0] = 0, op[1].perm[1] = 2, op[1].perm[2] = 1;
        slice_op(&op[2], 2, 3, 1, -4, INT64_MAX); /* x^T[:, -4:] */
        slice_op(&op[3], 0, 4, 1, -1, 0);         /* x[:, -1] (Gather) */
        op[3].sl_drop = 1;
        op[4].kind = DN_ELTWISE, op[4].in[0] = 0, op[4].out = 5, op[4].alg = dnnl_eltwise_relu;
        slice_op(&op[5], 5, 6, 0, 1, 2); /* relu(x)[1:2, :, :5] */
        op[5].sl_lo[2] = 0, op[5].sl_hi[2] = 5;
        mlc_tensor x = {MLC_DTYPE_F32, 3, {2, 3, 10}, NULL}, out[4] = {{0}};
        float xs[60], w0[24], w1[24], w2[20], w3[15];
        for (int i = 0; i < 60; i++) xs[i] = frand(&seed);
        x.data = xs;
        for (int n = 0; n < 2; n++)
            for (int k = 0; k < 3; k++) {
                for (int j = 0; j < 4; j++) w0[(n * 3 + k) * 4 + j] = xs[(n * 3 + k) * 10 + 3 + j];
                for (int j = 0; j < 4; j++) w1[(n * 4 + j) * 3 + k] = xs[(n * 3 + k) * 10 + 6 + j];
            }
        for (int n = 0; n < 2; n++)
            for (int j = 0; j < 10; j++) w2[n * 10 + j] = xs[(n * 3 + 2) * 10 + j];
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < 5; j++) w3[k * 5 + j] = fmaxf(xs[(3 + k) * 10 + j], 0);
        CHECK(run_region(c, &x, out));
        CHECK(out[0].rank == 3 && out[0].dims[2] == 4);
        CHECK(out[1].rank == 3 && out[1].dims[1] == 4 && out[1].dims[2] == 3);
        CHECK(out[2].rank == 2 && out[2].dims[0] == 2 && out[2].dims[1] == 10);
        CHECK(out[3].rank == 3 && out[3].dims[0] == 1 && out[3].dims[2] == 5);
        double tol = bf16 ? 1e-2 : 0;
        if (out[0].data) CHECK_NEAR(max_diff(out[0].data, w0, 24), 0, tol);
        if (out[1].data) CHECK_NEAR(max_diff(out[1].data, w1, 24), 0, tol);
        if (out[2].data) CHECK_NEAR(max_diff(out[2].data, w2, 20), 0, tol);
        if (out[3].data) CHECK_NEAR(max_diff(out[3].data, w3, 15), 0, tol);
        for (int i = 0; i < 4; i++) mlc_free(out[i].data);
        /* Gather index 3 of an axis of 3: refused with the op named. */
        op[3].sl_lo[1] = 3;
        mlc_error err = {0};
        CHECK(dn_region_vtbl.infer(c, &x, 1, out, 4, &err) == MLC_STATUS_INVALID_ARGUMENT);
        CHECK(strstr(err.message, "op3") != NULL);
        dn_ctx_free(c);
    }
}

/* DN_CONCAT of two region inputs (a class token and patches) and of a
 * computed value with an input, f32 and bf16; mismatched dims refused. */
static void test_concat(void)
{
    for (int bf16 = 0; bf16 < 2; bf16++) {
        uint32_t seed = 5;
        struct dn_ctx *c = ctx_new(2, 5, 3, 0);
        for (int i = 0; i < 5; i++) c->vals[i].rank = 3;
        c->bf16 = bf16;
        c->n_out = 2;
        c->outs[0] = 2, c->outs[1] = 4;
        struct dn_op *op = c->ops;
        op[0].kind = DN_CONCAT, op[0].in[0] = 0, op[0].in[1] = 1, op[0].out = 2, op[0].axis = 1;
        op[1].kind = DN_ELTWISE, op[1].in[0] = 1, op[1].out = 3, op[1].alg = dnnl_eltwise_relu;
        op[2].kind = DN_CONCAT, op[2].in[0] = 3, op[2].in[1] = 0, op[2].out = 4, op[2].axis = 1;
        mlc_tensor in[2] = {tensor4(2, 1, 4, 1, &seed), tensor4(2, 3, 4, 1, &seed)}, out[2] = {{0}};
        for (int i = 0; i < 2; i++) in[i].rank = 3;
        const float *x = in[0].data, *y = in[1].data;
        float w0[32], w1[32];
        for (int n = 0; n < 2; n++)
            for (int t = 0; t < 4; t++)
                for (int k = 0; k < 4; k++) {
                    w0[(n * 4 + t) * 4 + k] = t == 0 ? x[n * 4 + k] : y[(n * 3 + t - 1) * 4 + k];
                    w1[(n * 4 + t) * 4 + k] =
                        t < 3 ? fmaxf(y[(n * 3 + t) * 4 + k], 0) : x[n * 4 + k];
                }
        CHECK(run_region(c, in, out));
        CHECK(out[0].rank == 3 && out[0].dims[1] == 4 && out[1].dims[1] == 4);
        double tol = bf16 ? 1e-2 : 0;
        if (out[0].data) CHECK_NEAR(max_diff(out[0].data, w0, 32), 0, tol);
        if (out[1].data) CHECK_NEAR(max_diff(out[1].data, w1, 32), 0, tol);
        for (int i = 0; i < 2; i++) mlc_free(out[i].data);
        mlc_error err = {0};
        in[1].dims[2] = 2; /* [2,3,2] against [2,1,4] */
        CHECK(dn_region_vtbl.infer(c, in, 2, out, 2, &err) == MLC_STATUS_INVALID_ARGUMENT);
        for (int i = 0; i < 2; i++) mlc_free(in[i].data);
        dn_ctx_free(c);
    }
}

static void test_bad_shape(void)
{
    uint32_t seed = 9;
    struct dn_ctx *c = ctx_new(1, 2, 1, 1);
    c->vals[0].rank = c->vals[1].rank = 4;
    c->n_out = 1;
    c->outs[0] = 1;
    int64_t wd[4] = {2, 3, 1, 1};
    const_new(c, 0, 4, wd, &seed);
    c->ops[0].kind = DN_CONV, c->ops[0].in[0] = 0, c->ops[0].out = 1, c->ops[0].w = 0;
    c->ops[0].kernel[0] = c->ops[0].kernel[1] = 1;
    mlc_tensor x = tensor4(1, 5, 4, 4, &seed), out = {0};
    mlc_error err = {0};
    CHECK(dn_region_vtbl.infer(c, &x, 1, &out, 1, &err) == MLC_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(err.message, "op0") != NULL);
    void *state = mlc_calloc(1, dn_region_vtbl.session_size(c));
    CHECK(dn_region_vtbl.bind(c, &x, 1, state, 0, &err) != MLC_OK);
    dn_region_vtbl.unbind(c, state); /* partly bound state */
    mlc_free(state);
    mlc_free(x.data);
    /* An empty input (oneDNN's kernels would divide by its zero extent,
     * SIGFPE): refused by name, on infer and on bind. */
    mlc_tensor e = {MLC_DTYPE_F32, 4, {1, 3, 0, 4}, NULL};
    static float one;
    e.data = &one;
    CHECK(dn_region_vtbl.infer(c, &e, 1, &out, 1, &err) == MLC_STATUS_UNSUPPORTED);
    CHECK(strstr(err.message, "empty shape [1,3,0,4]") != NULL);
    state = mlc_calloc(1, dn_region_vtbl.session_size(c));
    CHECK(dn_region_vtbl.bind(c, &e, 1, state, 0, &err) == MLC_STATUS_UNSUPPORTED);
    dn_region_vtbl.unbind(c, state);
    mlc_free(state);
    dn_ctx_free(c);
}

/* 128 runs of chooser a at times t per level: how many of the last 32
 * picked level want. */
static int adapt_settle(struct eng_adapt *a, const double *t, int want)
{
    int hits = 0;
    for (int r = 0; r < 128; r++) {
        int l = eng_adapt_pick(a);
        eng_adapt_record(a, l, t[l]);
        if (r >= 96) hits += l == want;
    }
    return hits;
}

/* 40 runs on times t, but level 0's first timed run takes 30 ms: how many
 * of the last 24 ran at level 0, and the best level at the end. */
static int adapt_spiked(const double *t, int *best)
{
    struct eng_adapt a;
    int spiked = 0, late0 = 0;
    eng_adapt_init(&a, 3, -1);
    for (int r = 0; r < 40; r++) {
        int l = eng_adapt_pick(&a);
        if (l < 0 || l > 2) break;
        double x = t[l];
        if (l == 0 && a.seen[0] && !spiked) x = 30e-3, spiked = 1;
        eng_adapt_record(&a, l, x);
        if (r >= 16) late0 += l == 0;
    }
    *best = spiked ? a.best : -1;
    return late0;
}

/* The threading-level chooser (adapt.c) on made-up times. */
static void test_adapt_choice(void)
{
    struct eng_adapt a;
    eng_adapt_init(&a, 1, -1);
    for (int r = 0; r < 40; r++) CHECK(eng_adapt_pick(&a) == 0);
    eng_adapt_init(&a, 3, 1);
    for (int r = 0; r < 40; r++) {
        CHECK(eng_adapt_pick(&a) == 1);
        eng_adapt_record(&a, 1, 1.0);
    }

    /* Idle machine: level 0 10 ms, 1 12 ms, 2 (all on one thread) 20 ms. */
    const double idle[3] = {10e-3, 12e-3, 20e-3}, loaded[3] = {30e-3, 25e-3, 14e-3};
    int seq[6], used[3] = {0};
    eng_adapt_init(&a, 3, -1);
    for (int r = 0; r < 6; r++) {
        int l = eng_adapt_pick(&a);
        CHECK(l >= 0 && l < 3);
        if (l < 0 || l > 2) break;
        seq[r] = l;
        used[l]++;
        /* the first run at level 1 made primitives: not timed */
        eng_adapt_record(&a, l, l == 1 && used[1] == 1 ? -1.0 : idle[l]);
    }
    /* the climb: 0 cold, 0, 1 (making primitives), 1; level 1 is slower, so
     * level 2 is never tried; level 1, timed once, once more; then level 0 */
    CHECK_MSG(seq[0] == 0 && seq[1] == 0 && seq[2] == 1 && seq[3] == 1 && seq[4] == 1 &&
                  seq[5] == 0,
              "warm-up %d %d %d %d %d %d", seq[0], seq[1], seq[2], seq[3], seq[4], seq[5]);
    int at[3] = {0};
    for (int r = 0; r < 64; r++) {
        int l = eng_adapt_pick(&a) % 3;
        at[l]++;
        eng_adapt_record(&a, l, idle[l]);
    }
    /* every 16th run explores the neighbour (level 1), never level 2 */
    CHECK_MSG(at[0] >= 59 && at[1] >= 3 && at[2] == 0, "levels %d %d %d", at[0], at[1], at[2]);
    CHECK(a.best == 0);

    /* The other core gets busy: level 1 first, then level 2 wins; then idle
     * again, and level 0 returns. */
    int last2 = adapt_settle(&a, loaded, 2), last0 = adapt_settle(&a, idle, 0);
    CHECK_MSG(last2 >= 30, "level 2 chosen %d of the last 32 loaded runs", last2);
    CHECK_MSG(last0 >= 30, "level 0 chosen %d of the last 32 idle runs", last0);
    /* A noise spike on the best level does not move the choice. */
    eng_adapt_record(&a, 0, 1.0);
    (void)eng_adapt_pick(&a);
    CHECK(a.best == 0);

    /* A spike on level 0's only timed run of the climb (30 ms for 10) sends
     * it up; level 0 is tried again within 4 runs and wins from then on.
     * Also with level 2 beating level 1: the climb ends at 2, whose
     * neighbour is 1, and level 0 still comes back. */
    const double far[3] = {10e-3, 20e-3, 13e-3};
    int best = -1, late0 = adapt_spiked(idle, &best);
    CHECK_MSG(best == 0 && late0 >= 22, "best %d, level 0 in %d of the last 24 runs", best, late0);
    late0 = adapt_spiked(far, &best);
    CHECK_MSG(best == 0 && late0 >= 22, "far: best %d, level 0 in %d of the last 24 runs", best,
              late0);

    /* A neighbour far slower than the best (mobilenet_v3_large at batch 1:
     * level 1 1.75x level 0) is tried less and less often: at most one run
     * in 64 once spaced out, against one in 16. A load that comes (level 0
     * slower than 1) is still followed, and when it goes, level 0 is back
     * within a few dozen runs. */
    const double slow1[3] = {4e-3, 7e-3, 12e-3}, busy[3] = {12e-3, 8e-3, 9e-3};
    eng_adapt_init(&a, 3, -1);
    int n1 = 0;
    for (int r = 0; r < 1024; r++) {
        int l = eng_adapt_pick(&a);
        eng_adapt_record(&a, l, slow1[l]);
        if (r >= 256) n1 += l == 1;
    }
    CHECK_MSG(n1 <= 768 / 64, "level 1 tried %d times in 768 runs", n1);
    int first1 = -1, first0 = -1;
    for (int r = 0; r < 64 && first1 < 0; r++) {
        int l = eng_adapt_pick(&a);
        eng_adapt_record(&a, l, busy[l]);
        if (a.best == 1) first1 = r;
    }
    for (int r = 0; r < 128 && first0 < 0; r++) {
        int l = eng_adapt_pick(&a);
        eng_adapt_record(&a, l, slow1[l]);
        if (a.best == 0) first0 = r;
    }
    CHECK_MSG(first1 >= 0 && first1 < 8, "loaded: level 1 best after %d runs", first1);
    CHECK_MSG(first0 >= 0 && first0 < 48, "idle again: level 0 best after %d runs", first0);
}

/* Three convs, one per threading level (small < 256 Ki multiply-adds, mid,
 * large > 16 M), run many times while the region picks levels, and pinned to
 * each level: the result never changes and matches the naive loops. */
static void test_threading_levels(void)
{
    uint32_t seed = 11;
    struct dn_ctx *c = ctx_new(1, 4, 3, 3);
    for (int i = 0; i < 4; i++) c->vals[i].rank = 4;
    c->n_out = 1;
    c->outs[0] = 3;
    /* 200 Ki, 1.8 Mi and 29 Mi multiply-adds: one conv per level. */
    int64_t wa[4] = {8, 32, 1, 1}, wb[4] = {32, 8, 3, 3}, wc_[4] = {128, 32, 3, 3};
    float *w[3] = {const_new(c, 0, 4, wa, &seed), const_new(c, 1, 4, wb, &seed),
                   const_new(c, 2, 4, wc_, &seed)};
    int64_t wn[3] = {8 * 32, 32 * 8 * 9, 128 * 32 * 9};
    float *wcopy[3];
    for (int k = 0; k < 3; k++) {
        wcopy[k] = mlc_alloc((size_t)wn[k] * sizeof(float));
        memcpy(wcopy[k], w[k], (size_t)wn[k] * sizeof(float));
        struct dn_op *op = &c->ops[k];
        op->kind = DN_CONV, op->in[0] = k, op->out = k + 1, op->w = k;
        op->kernel[0] = op->kernel[1] = k ? 3 : 1;
        op->pad_l[0] = op->pad_l[1] = op->pad_r[0] = op->pad_r[1] = k ? 1 : 0;
    }
    const int H = 28;
    mlc_tensor x = tensor4(1, 32, H, H, &seed);
    float *t1 = mlc_alloc(8 * H * H * sizeof(float)), *t2 = mlc_alloc(32 * H * H * sizeof(float));
    float *ref = mlc_alloc(128 * H * H * sizeof(float));
    conv_ref(x.data, 1, 32, H, H, wcopy[0], NULL, 8, 1, 1, 1, 1, 0, 1, t1, H, H);
    conv_ref(t1, 1, 8, H, H, wcopy[1], NULL, 32, 3, 3, 1, 1, 1, 1, t2, H, H);
    conv_ref(t2, 1, 32, H, H, wcopy[2], NULL, 128, 3, 3, 1, 1, 1, 1, ref, H, H);

    const struct eng_region_vtbl *vt = &dn_region_vtbl;
    const char *pins[4] = {NULL, "0", "1", "2"};
    for (int p = 0; p < 4; p++) {
        if (pins[p])
            setenv("MLC_DNNL_LEVEL", pins[p], 1);
        else
            unsetenv("MLC_DNNL_LEVEL");
        mlc_error err = {0};
        void *state = mlc_calloc(1, vt->session_size(c));
        mlc_tensor out = {0};
        CHECK_OK(vt->infer(c, &x, 1, &out, 1, &err), &err);
        out.data = mlc_calloc(128 * H * H, sizeof(float));
        CHECK_OK(vt->bind(c, &x, 1, state, 0, &err), &err);
        const struct eng_adapt *a = dn_region_adapt(state);
        /* two threads: three levels differ (one conv each) */
        CHECK_MSG(a->n_levels == 3, "%d levels", a->n_levels);
        CHECK(a->pinned == (pins[p] ? pins[p][0] - '0' : -1));
        int seen[3] = {0};
        for (int r = 0; r < (pins[p] ? 3 : 24); r++) {
            memset(out.data, 0, 128 * H * H * sizeof(float));
            CHECK_OK(vt->run(c, state, &x, 1, &out, 1, &err), &err);
            seen[a->cur % 3]++;
            double d = max_diff(out.data, ref, 128 * H * H);
            CHECK_MSG(d <= 2e-3, "pin %s run %d level %d: diff %g", pins[p] ? pins[p] : "-", r,
                      a->cur, d);
        }
        /* Adapting, the climb always tries levels 0 and 1 (2 only when 1 was
         * faster: it depends on the machine's load); pinned, only that one. */
        if (!pins[p])
            CHECK_MSG(seen[0] && seen[1], "levels %d %d %d", seen[0], seen[1], seen[2]);
        else
            CHECK(seen[pins[p][0] - '0'] == 3);
        vt->unbind(c, state);
        mlc_free(state);
        mlc_free(out.data);
    }
    unsetenv("MLC_DNNL_LEVEL");
    for (int k = 0; k < 3; k++) mlc_free(wcopy[k]);
    mlc_free(t1), mlc_free(t2), mlc_free(ref), mlc_free(x.data);
    dn_ctx_free(c);
}

/* The buffer plan (plan_pool) on a chain whose values change size: softmax,
 * a linear eltwise and a residual add run in place when their source dies
 * there, buffers alive at the same time never share bytes (the result
 * matches naive loops), and the pool needs little more than the largest set
 * of values alive at once (v1 + v4 + v5 at the second matmul). Without the
 * in-place softmax the peak is v1 + v2 + v3; whole-buffer reuse made the
 * pool that size too. */
static void test_pool_plan(void)
{
    enum { R = 64, K = 512, H = 2048 };
    uint32_t seed = 5;
    struct dn_ctx *c = ctx_new(1, 7, 6, 2);
    for (int i = 0; i < 7; i++) c->vals[i].rank = 2;
    c->n_out = 1;
    c->outs[0] = 6;
    int64_t w1d[2] = {K, H}, w2d[2] = {H, K};
    float *w1 = const_new(c, 0, 2, w1d, &seed), *w2 = const_new(c, 1, 2, w2d, &seed);
    float *w1c = mlc_alloc(sizeof(float) * K * H), *w2c = mlc_alloc(sizeof(float) * K * H);
    memcpy(w1c, w1, sizeof(float) * K * H), memcpy(w2c, w2, sizeof(float) * K * H);
    struct dn_op *op = c->ops;
    op[0].kind = DN_ELTWISE, op[0].in[0] = 0, op[0].out = 1, op[0].alg = dnnl_eltwise_relu;
    op[1].kind = DN_MATMUL, op[1].in[0] = 1, op[1].out = 2, op[1].w = 0;
    op[2].kind = DN_SOFTMAX, op[2].in[0] = 2, op[2].out = 3, op[2].axis = 1;
    op[3].kind = DN_ELTWISE, op[3].in[0] = 3, op[3].out = 4, op[3].alg = dnnl_eltwise_linear;
    op[3].alpha = 2, op[3].beta = 0;
    op[4].kind = DN_MATMUL, op[4].in[0] = 4, op[4].out = 5, op[4].w = 1;
    op[5].kind = DN_BINARY, op[5].in[0] = 5, op[5].in[1] = 1, op[5].out = 6;
    op[5].alg = dnnl_binary_add;
    mlc_tensor x = tensor4(1, 1, R, K, &seed), out = {0};
    x.rank = 2, x.dims[0] = R, x.dims[1] = K;
    const struct eng_region_vtbl *vt = &dn_region_vtbl;
    void *state = mlc_calloc(1, vt->session_size(c));
    mlc_error err = {0};
    CHECK_OK(vt->infer(c, &x, 1, &out, 1, &err), &err);
    out.data = mlc_calloc(R * K, sizeof(float));
    CHECK_OK(vt->bind(c, &x, 1, state, 0, &err), &err);
    CHECK_OK(vt->run(c, state, &x, 1, &out, 1, &err), &err);
    size_t peak = sizeof(float) * R * (K + H + K), pool = vt->pool_size(c, state);
    printf("pool %zu bytes for a peak of %zu alive\n", pool, peak);
    CHECK_MSG(pool >= peak && pool <= peak + peak / 16, "pool %zu, peak %zu", pool, peak);
    float *t = mlc_alloc(sizeof(float) * R * K), *v = mlc_alloc(sizeof(float) * H);
    float *ref = mlc_alloc(sizeof(float) * R * K);
    const float *xs = x.data;
    for (int r = 0; r < R; r++) {
        double mx = -1e30, sum = 0;
        for (int k = 0; k < K; k++) t[r * K + k] = fmaxf(xs[r * K + k], 0);
        for (int h = 0; h < H; h++) {
            double a = 0;
            for (int k = 0; k < K; k++) a += (double)t[r * K + k] * w1c[k * H + h];
            v[h] = (float)a;
            mx = fmax(mx, a);
        }
        for (int h = 0; h < H; h++) sum += exp(v[h] - mx);
        for (int h = 0; h < H; h++) v[h] = (float)(2 * exp(v[h] - mx) / sum);
        for (int k = 0; k < K; k++) {
            double a = t[r * K + k];
            for (int h = 0; h < H; h++) a += (double)v[h] * w2c[h * K + k];
            ref[r * K + k] = (float)a;
        }
    }
    if (out.data) CHECK_NEAR(max_diff(out.data, ref, R * K), 0, 1e-4);
    vt->unbind(c, state);
    mlc_free(state);
    mlc_free(v), mlc_free(ref), mlc_free(t), mlc_free(w1c), mlc_free(w2c);
    mlc_free(x.data), mlc_free(out.data);
    dn_ctx_free(c);
}

/* Counts the bytes of fresh blocks of at least 64 KiB handed out (a realloc
 * that moves counts as fresh; one that stays put does not). */
static atomic_size_t fresh_bytes;
static void *count_alloc(void *ctx, size_t n)
{
    (void)ctx;
    if (n >= ((size_t)64 << 10)) atomic_fetch_add(&fresh_bytes, n);
    return malloc(n); /* checksrc: ok (the test's allocator) */
}
static void *count_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    void *q = realloc(p, n); /* checksrc: ok (the test's allocator) */
    if (q && q != p && n >= ((size_t)64 << 10)) atomic_fetch_add(&fresh_bytes, n);
    return q;
}
static void count_free(void *ctx, void *p)
{
    (void)ctx;
    free(p); /* checksrc: ok (the test's allocator) */
}

/* Packing (pack.c) reuses the weights' own buffers: binding a chain of four
 * convs allocates one weight's worth of fresh memory for their packed
 * copies, not four, and the results match naive loops. The last conv has 40
 * output channels, which blocked layouts pad: its packed copy is larger than
 * its plain one, and goes into a larger weight's. Then a second session
 * binds the same packed weights (nothing to pack). */
static void test_pack_in_place(void)
{
    enum { C = 96, O4 = 40, H = 14 };
    uint32_t seed = 17;
    struct dn_ctx *c = ctx_new(1, 5, 4, 4);
    /* One thread: no helper, which packs small constants into fresh
     * buffers (region.c, take_packs). */
    c->threads = 1;
    for (int i = 0; i < 5; i++) c->vals[i].rank = 4;
    c->n_out = 1;
    c->outs[0] = 4;
    float *wcopy[4];
    size_t wbytes = sizeof(float) * C * C * 9;
    for (int k = 0; k < 4; k++) {
        int64_t wd[4] = {k == 3 ? O4 : C, C, 3, 3};
        float *w = const_new(c, k, 4, wd, &seed);
        size_t n = sizeof(float) * (size_t)(wd[0] * C * 9);
        wcopy[k] = mlc_alloc(n);
        memcpy(wcopy[k], w, n);
        struct dn_op *op = &c->ops[k];
        op->kind = DN_CONV, op->in[0] = k, op->out = k + 1, op->w = k;
        op->kernel[0] = op->kernel[1] = 3;
        op->pad_l[0] = op->pad_l[1] = op->pad_r[0] = op->pad_r[1] = 1;
    }
    mlc_tensor x = tensor4(1, C, H, H, &seed);
    float *t[2] = {mlc_alloc(sizeof(float) * C * H * H), mlc_alloc(sizeof(float) * C * H * H)};
    float *ref = mlc_alloc(sizeof(float) * O4 * H * H);
    conv_ref(x.data, 1, C, H, H, wcopy[0], NULL, C, 3, 3, 1, 1, 1, 1, t[0], H, H);
    conv_ref(t[0], 1, C, H, H, wcopy[1], NULL, C, 3, 3, 1, 1, 1, 1, t[1], H, H);
    conv_ref(t[1], 1, C, H, H, wcopy[2], NULL, C, 3, 3, 1, 1, 1, 1, t[0], H, H);
    conv_ref(t[0], 1, C, H, H, wcopy[3], NULL, O4, 3, 3, 1, 1, 1, 1, ref, H, H);

    const struct eng_region_vtbl *vt = &dn_region_vtbl;
    mlc_error err = {0};
    for (int sess = 0; sess < 2; sess++) {
        void *state = mlc_calloc(1, vt->session_size(c));
        mlc_tensor out = {0};
        CHECK_OK(vt->infer(c, &x, 1, &out, 1, &err), &err);
        out.data = mlc_calloc(O4 * H * H, sizeof(float));
        mlc_allocator counting = {NULL, count_alloc, count_realloc, count_free};
        atomic_store(&fresh_bytes, 0);
        mlc_set_allocator(&counting);
        mlc_status st = vt->bind(c, &x, 1, state, 0, &err);
        mlc_set_allocator(NULL);
        CHECK_OK(st, &err);
        size_t fresh = atomic_load(&fresh_bytes);
        printf("session %d: bind took %zu fresh bytes (weights %zu each)\n", sess, fresh, wbytes);
        /* The largest constant's packed copy, and nothing else: each later
         * one goes into the plain copy the one before freed, the padded last
         * conv's too; packing into fresh buffers took 3.5 weights. */
        if (sess == 0)
            CHECK_MSG(fresh >= wbytes && fresh <= wbytes + 1024,
                      "%zu fresh bytes for 4 weights of %zu", fresh, wbytes);
        else
            CHECK_MSG(fresh < wbytes / 2, "%zu fresh bytes with everything packed", fresh);
        CHECK_OK(vt->run(c, state, &x, 1, &out, 1, &err), &err);
        double d = max_diff(out.data, ref, O4 * H * H), big = 0;
        for (int i = 0; i < O4 * H * H; i++) big = fmax(big, fabs(ref[i]));
        CHECK_MSG(d <= 1e-5 * big, "session %d: diff %g of %g", sess, d, big);
        vt->unbind(c, state);
        mlc_free(state);
        mlc_free(out.data);
    }
    for (int k = 0; k < 4; k++) mlc_free(wcopy[k]);
    mlc_free(t[0]), mlc_free(t[1]), mlc_free(ref), mlc_free(x.data);
    dn_ctx_free(c);
}

/* A first bind on two threads, where the helper packs and compiles while
 * bind still makes descs (jobs.c), with each allocation failing in turn:
 * every failure comes back as NO_MEMORY, the helper stopped and nothing
 * leaked, until the bind goes through and the chain matches naive loops. */
static void test_bind_alloc_failures(void)
{
    enum { C = 24, H = 6, N_CONV = 6 };
    uint32_t seed = 29;
    struct dn_ctx *c = ctx_new(1, N_CONV + 1, N_CONV, 2 * N_CONV);
    c->threads = 2;
    for (int i = 0; i <= N_CONV; i++) c->vals[i].rank = 4;
    c->n_out = 1;
    c->outs[0] = N_CONV;
    float *w[N_CONV], *b[N_CONV];
    for (int k = 0; k < N_CONV; k++) {
        int64_t kk = k % 2 ? 1 : 3, wd[4] = {C, C, kk, kk}, bd[1] = {C};
        w[k] = const_new(c, 2 * k, 4, wd, &seed);
        b[k] = const_new(c, 2 * k + 1, 1, bd, &seed);
        size_t n = sizeof(float) * (size_t)(C * C * kk * kk);
        float *wc = mlc_alloc(n), *bc = mlc_alloc(sizeof(float) * C);
        memcpy(wc, w[k], n), memcpy(bc, b[k], sizeof(float) * C);
        w[k] = wc, b[k] = bc; /* bind may free the constants' plain copies */
        struct dn_op *op = &c->ops[k];
        op->kind = DN_CONV, op->in[0] = k, op->out = k + 1, op->w = 2 * k, op->b = 2 * k + 1;
        op->kernel[0] = op->kernel[1] = kk;
        op->pad_l[0] = op->pad_l[1] = op->pad_r[0] = op->pad_r[1] = kk / 2;
    }
    mlc_tensor x = tensor4(1, C, H, H, &seed);
    float *t[2] = {mlc_alloc(sizeof(float) * C * H * H), mlc_alloc(sizeof(float) * C * H * H)};
    memcpy(t[0], x.data, sizeof(float) * C * H * H);
    for (int k = 0; k < N_CONV; k++) {
        int kk = k % 2 ? 1 : 3;
        conv_ref(t[k % 2], 1, C, H, H, w[k], b[k], C, kk, kk, 1, 1, kk / 2, 1, t[1 - k % 2], H, H);
    }
    const float *ref = t[N_CONV % 2];
    const struct eng_region_vtbl *vt = &dn_region_vtbl;
    int fails = 0, k;
    for (k = 1; k < 5000; k++) {
        mlc_error err = {0};
        void *state = mlc_calloc(1, vt->session_size(c));
        size_t live = core_alloc_live_bytes();
        core_alloc_fail_after(k);
        mlc_status st = vt->bind(c, &x, 1, state, 0, &err);
        core_alloc_fail_after(0);
        if (st == MLC_OK) {
            mlc_tensor out = {0};
            CHECK_OK(vt->infer(c, &x, 1, &out, 1, &err), &err);
            out.data = mlc_calloc(C * H * H, sizeof(float));
            CHECK_OK(vt->run(c, state, &x, 1, &out, 1, &err), &err);
            double d = max_diff(out.data, ref, C * H * H), big = 0;
            for (int i = 0; i < C * H * H; i++) big = fmax(big, fabs(ref[i]));
            CHECK_MSG(d <= 1e-5 * big, "after %d failures: diff %g of %g", fails, d, big);
            mlc_free(out.data);
        } else {
            CHECK_MSG(st == MLC_STATUS_NO_MEMORY, "allocation %d: status %d: %s", k, (int)st,
                      err.message);
            fails++;
        }
        vt->unbind(c, state);
        mlc_free(state);
        /* Packed constants stay with the net (c), as in a real one. */
        if (st == MLC_OK) break;
        CHECK_MSG(core_alloc_live_bytes() <= live + 4 * sizeof(float) * C * C * 9 * N_CONV,
                  "allocation %d: %zu bytes more live", k, core_alloc_live_bytes() - live);
        if (test_cur_failed) break;
    }
    printf("bind with allocation failures: %d failed, then it went through\n", fails);
    CHECK_MSG(fails > 20 && k < 5000, "%d failures, k %d", fails, k);
    for (int i = 0; i < N_CONV; i++) mlc_free(w[i]), mlc_free(b[i]);
    mlc_free(t[0]), mlc_free(t[1]), mlc_free(x.data);
    dn_ctx_free(c);
}

/* An SE block's Mul(x, s) read by a 1x1 conv (wscale.c): at batch 1 the
 * scale goes into the conv's weights (one fold, no product), at batch 2 and
 * when the conv has more output channels than x has pixels the product is
 * made as before; every result matches naive loops. */
static void test_se_fold(void)
{
    enum { C = 48, H = 10 };
    const int64_t outs[2] = {16, 128}; /* below and above H x H */
    for (int oc = 0; oc < 2; oc++)
        for (int64_t n = 1; n <= 2; n++) {
            uint32_t seed = 23;
            int64_t O = outs[oc];
            struct dn_ctx *c = ctx_new(2, 4, 2, 1);
            for (int i = 0; i < 4; i++) c->vals[i].rank = 4;
            c->n_out = 1;
            c->outs[0] = 3;
            int64_t wd[4] = {O, C, 1, 1};
            float *w = const_new(c, 0, 4, wd, &seed), *wc = mlc_alloc(sizeof(float) * O * C);
            memcpy(wc, w, sizeof(float) * O * C);
            struct dn_op *op = c->ops;
            op[0].kind = DN_BINARY, op[0].alg = dnnl_binary_mul;
            op[0].in[0] = 0, op[0].in[1] = 1, op[0].out = 2;
            op[1].kind = DN_CONV, op[1].in[0] = 2, op[1].out = 3, op[1].w = 0;
            op[1].kernel[0] = op[1].kernel[1] = 1;
            mlc_tensor in[2] = {tensor4(n, C, H, H, &seed), tensor4(n, C, 1, 1, &seed)};
            float *xs = mlc_alloc(sizeof(float) * n * C * H * H);
            float *ref = mlc_alloc(sizeof(float) * n * O * H * H);
            const float *x = in[0].data, *sc = in[1].data;
            for (int64_t i = 0; i < n * C * H * H; i++) xs[i] = x[i] * sc[i / (H * H)];
            conv_ref(xs, n, C, H, H, wc, NULL, O, 1, 1, 1, 1, 0, 1, ref, H, H);

            const struct eng_region_vtbl *vt = &dn_region_vtbl;
            mlc_error err = {0};
            void *state = mlc_calloc(1, vt->session_size(c));
            mlc_tensor out = {0};
            CHECK_OK(vt->infer(c, in, 2, &out, 1, &err), &err);
            out.data = mlc_calloc((size_t)(n * O * H * H), sizeof(float));
            CHECK_OK(vt->bind(c, in, 2, state, 0, &err), &err);
            int want = n == 1 && O < H * H;
            CHECK_MSG(dn_region_n_folded(state) == want, "O %lld batch %lld: %d folded",
                      (long long)O, (long long)n, dn_region_n_folded(state));
            for (int r = 0; r < 2; r++) { /* the scaled copy is rewritten every run */
                CHECK_OK(vt->run(c, state, in, 2, &out, 1, &err), &err);
                CHECK_NEAR(max_diff(out.data, ref, n * O * H * H), 0, 1e-4);
            }
            vt->unbind(c, state);
            mlc_free(state);
            mlc_free(out.data), mlc_free(xs), mlc_free(ref), mlc_free(wc);
            mlc_free(in[0].data), mlc_free(in[1].data);
            dn_ctx_free(c);
        }
}

/* A 1x1 convolution with strides (ResNet's projections) reading a 3x3 conv's
 * output inside the region and, in a second region, the region input: odd
 * sizes, unequal strides, batch 1 and 2, float32 and bf16. Both run on a
 * dense subsample (region.c), and match naive loops with it and without
 * (MLC_DNNL_SUBSAMPLE=0). */
static void test_conv_subsample(void)
{
    enum { C = 16, C2 = 32, O = 48, H = 15, W = 13 };
    const int strides[3][2] = {{2, 2}, {2, 1}, {3, 3}};
    for (int off = 0; off < 2; off++)
        for (int bf = 0; bf < 2; bf++)
            for (int si = 0; si < 3; si++)
                for (int64_t n = 1; n <= 2; n++)
                    for (int direct = 0; direct < 2; direct++) {
                        uint32_t seed = 31;
                        const int sh = strides[si][0], sw = strides[si][1];
                        const int64_t oh = (H - 1) / sh + 1, ow = (W - 1) / sw + 1;
                        int64_t c1 = direct ? C : C2; /* the strided conv's input channels */
                        struct dn_ctx *c = ctx_new(1, direct ? 2 : 3, direct ? 1 : 2, 3);
                        for (int i = 0; i < c->n_vals; i++) c->vals[i].rank = 4;
                        c->bf16 = bf;
                        c->n_out = 1;
                        c->outs[0] = c->n_vals - 1;
                        int64_t wd0[4] = {C2, C, 3, 3}, wd1[4] = {O, c1, 1, 1}, bd[1] = {C2};
                        float *w0 = const_new(c, 0, 4, wd0, &seed);
                        float *b0 = const_new(c, 1, 1, bd, &seed);
                        float *w1 = const_new(c, 2, 4, wd1, &seed);
                        float *w0c = mlc_alloc(sizeof(float) * C2 * C * 9), b0c[C2];
                        float *w1c = mlc_alloc(sizeof(float) * (size_t)(O * c1));
                        memcpy(w0c, w0, sizeof(float) * C2 * C * 9);
                        memcpy(b0c, b0, sizeof b0c);
                        memcpy(w1c, w1, sizeof(float) * (size_t)(O * c1));
                        struct dn_op *op = c->ops;
                        if (!direct) {
                            op->kind = DN_CONV, op->in[0] = 0, op->out = 1, op->w = 0, op->b = 1;
                            op->kernel[0] = op->kernel[1] = 3;
                            op->pad_l[0] = op->pad_l[1] = op->pad_r[0] = op->pad_r[1] = 1;
                            op++;
                        }
                        op->kind = DN_CONV, op->in[0] = c->n_vals - 2, op->out = c->n_vals - 1;
                        op->w = 2, op->kernel[0] = op->kernel[1] = 1;
                        op->stride[0] = sh, op->stride[1] = sw;
                        mlc_tensor x = tensor4(n, C, H, W, &seed), out = {0};
                        float *mid = mlc_alloc(sizeof(float) * (size_t)(n * C2 * H * W));
                        float *ref = mlc_alloc(sizeof(float) * (size_t)(n * O * oh * ow));
                        if (!direct)
                            conv_ref(x.data, n, C, H, W, w0c, b0c, C2, 3, 3, 1, 1, 1, 1, mid, H, W);
                        const float *src = direct ? x.data : mid;
                        for (int64_t b = 0; b < n; b++)
                            for (int64_t o = 0; o < O; o++)
                                for (int64_t y = 0; y < oh; y++)
                                    for (int64_t z = 0; z < ow; z++) {
                                        double acc = 0;
                                        for (int64_t k = 0; k < c1; k++)
                                            acc +=
                                                (double)
                                                    src[((b * c1 + k) * H + y * sh) * W + z * sw] *
                                                w1c[o * c1 + k];
                                        ref[((b * O + o) * oh + y) * ow + z] = (float)acc;
                                    }
                        if (off) setenv("MLC_DNNL_SUBSAMPLE", "0", 1);
                        const struct eng_region_vtbl *vt = &dn_region_vtbl;
                        mlc_error err = {0};
                        void *state = mlc_calloc(1, vt->session_size(c));
                        CHECK_OK(vt->infer(c, &x, 1, &out, 1, &err), &err);
                        CHECK(out.dims[2] == oh && out.dims[3] == ow);
                        out.data = mlc_calloc((size_t)(n * O * oh * ow), sizeof(float));
                        CHECK_OK(vt->bind(c, &x, 1, state, 0, &err), &err);
                        CHECK_MSG(dn_region_n_subsampled(state) == !off,
                                  "strides %dx%d direct %d off %d: %d subsampled", sh, sw, direct,
                                  off, dn_region_n_subsampled(state));
                        CHECK_OK(vt->run(c, state, &x, 1, &out, 1, &err), &err);
                        double d = max_diff(out.data, ref, n * O * oh * ow), big = 0;
                        for (int64_t i = 0; i < n * O * oh * ow; i++) big = fmax(big, fabs(ref[i]));
                        CHECK_MSG(d <= (bf ? 0.02 * big : 1e-4),
                                  "strides %dx%d batch %lld bf16 %d direct %d off %d: diff %g", sh,
                                  sw, (long long)n, bf, direct, off, d);
                        unsetenv("MLC_DNNL_SUBSAMPLE");
                        vt->unbind(c, state);
                        mlc_free(state);
                        mlc_free(x.data), mlc_free(out.data), mlc_free(mid), mlc_free(ref);
                        mlc_free(w0c), mlc_free(w1c);
                        dn_ctx_free(c);
                    }
}

/* Gemm as the partition hands it over: a matmul with constant [K, N]
 * weights, or [N, K] ones with transB, a bias and a ReLU, at 1 and 5 rows,
 * float32 and bf16, against naive loops. */
static void test_gemm_matmul(void)
{
    enum { K = 40, N = 24 };
    for (int tb = 0; tb < 2; tb++)
        for (int bf = 0; bf < 2; bf++)
            for (int64_t m = 1; m <= 5; m += 4) {
                uint32_t seed = 41;
                struct dn_ctx *c = ctx_new(1, 2, 1, 2);
                c->vals[0].rank = c->vals[1].rank = 2;
                c->bf16 = bf;
                c->n_out = 1;
                c->outs[0] = 1;
                int64_t wd[2] = {tb ? N : K, tb ? K : N}, bd[1] = {N};
                float *w = const_new(c, 0, 2, wd, &seed), *b = const_new(c, 1, 1, bd, &seed);
                float wc[K * N], bc[N];
                memcpy(wc, w, sizeof wc), memcpy(bc, b, sizeof bc);
                struct dn_op *op = c->ops;
                op->kind = DN_MATMUL, op->in[0] = 0, op->out = 1, op->w = 0, op->b = 1;
                op->trans_b = tb;
                op->post[0] = (struct dn_post){0, dnnl_eltwise_relu, 0, 0};
                op->n_post = 1;
                mlc_tensor x = {MLC_DTYPE_F32, 2, {m, K}, NULL}, out = {0};
                float *xp = mlc_alloc(sizeof(float) * (size_t)(m * K)), ref[5 * N];
                for (int64_t i = 0; i < m * K; i++) xp[i] = frand(&seed);
                x.data = xp;
                for (int64_t i = 0; i < m; i++)
                    for (int j = 0; j < N; j++) {
                        double acc = bc[j];
                        for (int k = 0; k < K; k++)
                            acc += (double)xp[i * K + k] * (tb ? wc[j * K + k] : wc[k * N + j]);
                        ref[i * N + j] = acc > 0 ? (float)acc : 0.0f;
                    }
                CHECK(run_region(c, &x, &out));
                CHECK(out.rank == 2 && out.dims[0] == m && out.dims[1] == N);
                if (out.data)
                    CHECK_MSG(max_diff(out.data, ref, m * N) <= (bf ? 0.1 : 1e-4),
                              "transB %d bf16 %d rows %lld: diff %g", tb, bf, (long long)m,
                              max_diff(out.data, ref, m * N));
                mlc_free(xp), mlc_free(out.data);
                dn_ctx_free(c);
            }
}

/* A one-row float32 Gemm binds its weights as stored, transposed or not
 * (region.c's plain_row: no fresh copy at the first run) and packs them
 * in its second run (repack_row), sharing the packed copy with a second
 * session; the plain copy is freed once neither binds it. Two rows pack at
 * bind. Every run matches naive loops. */
static void test_gemm_plain_weights(void)
{
    enum { K = 512, N = 256 };
    size_t wbytes = sizeof(float) * K * N;
    const struct eng_region_vtbl *vt = &dn_region_vtbl;
    mlc_allocator counting = {NULL, count_alloc, count_realloc, count_free};
    for (int tb = 0; tb < 2; tb++)
        for (int64_t m = 1; m <= 2; m++) {
            uint32_t seed = 43;
            struct dn_ctx *c = ctx_new(1, 2, 1, 1);
            c->vals[0].rank = c->vals[1].rank = 2;
            c->n_out = 1;
            c->outs[0] = 1;
            int64_t wd[2] = {tb ? N : K, tb ? K : N};
            float *w = const_new(c, 0, 2, wd, &seed);
            float *wc = mlc_alloc(wbytes), *xp = mlc_alloc(sizeof(float) * (size_t)(m * K));
            float ref[2 * N];
            memcpy(wc, w, wbytes);
            struct dn_op *op = c->ops;
            op->kind = DN_MATMUL, op->in[0] = 0, op->out = 1, op->w = 0, op->trans_b = tb;
            for (int64_t i = 0; i < m * K; i++) xp[i] = frand(&seed);
            for (int64_t i = 0; i < m; i++)
                for (int j = 0; j < N; j++) {
                    double acc = 0;
                    for (int k = 0; k < K; k++)
                        acc += (double)xp[i * K + k] * (tb ? wc[j * K + k] : wc[k * N + j]);
                    ref[i * N + j] = (float)acc;
                }
            mlc_tensor x = {MLC_DTYPE_F32, 2, {m, K}, xp}, out = {0};
            mlc_error err = {0};
            CHECK_OK(vt->infer(c, &x, 1, &out, 1, &err), &err);
            out.data = mlc_calloc((size_t)(m * N), sizeof(float));
            void *st[2] = {mlc_calloc(1, vt->session_size(c)), mlc_calloc(1, vt->session_size(c))};
            size_t fresh[2][3] = {{0}};
            int plain_kept[2] = {0, 0};
            for (int a = 0; a < 2; a++) {
                atomic_store(&fresh_bytes, 0);
                mlc_set_allocator(&counting);
                mlc_status r = vt->bind(c, &x, 1, st[a], 0, &err);
                mlc_set_allocator(NULL);
                CHECK_OK(r, &err);
                size_t f = atomic_load(&fresh_bytes);
                /* Two rows: the first bind packs, the second finds the copy. */
                CHECK_MSG(m == 2 && a == 0 ? f >= wbytes : f < wbytes / 2,
                          "transB %d rows %lld: bind %d took %zu fresh bytes, weights %zu", tb,
                          (long long)m, a, f, wbytes);
            }
            /* Session 0's three runs, then session 1's. */
            for (int a = 0; a < 2; a++) {
                for (int run = 0; run < 3; run++) {
                    memset(out.data, 0, sizeof(float) * (size_t)(m * N));
                    atomic_store(&fresh_bytes, 0);
                    mlc_set_allocator(&counting);
                    mlc_status r = vt->run(c, st[a], &x, 1, &out, 1, &err);
                    mlc_set_allocator(NULL);
                    CHECK_OK(r, &err);
                    fresh[a][run] = atomic_load(&fresh_bytes);
                    CHECK_MSG(max_diff(out.data, ref, m * N) <= 1e-4,
                              "transB %d rows %lld session %d run %d: diff %g", tb, (long long)m, a,
                              run, max_diff(out.data, ref, m * N));
                }
                plain_kept[a] = c->consts[0].data != NULL;
            }
            if (m == 1) {
                /* Session 0 packs in its second run; session 1 finds the
                 * packed copy and, the last to bind the plain one, frees it. */
                CHECK_MSG(fresh[0][0] < wbytes / 2 && fresh[0][1] >= wbytes &&
                              fresh[0][2] < wbytes / 2 && fresh[1][1] < wbytes / 2,
                          "transB %d: fresh bytes %zu %zu %zu / %zu, weights %zu", tb, fresh[0][0],
                          fresh[0][1], fresh[0][2], fresh[1][1], wbytes);
                CHECK_MSG(plain_kept[0] && !plain_kept[1], "transB %d: plain copy kept %d %d", tb,
                          plain_kept[0], plain_kept[1]);
            } else {
                CHECK_MSG(fresh[0][1] < wbytes / 2 && !plain_kept[0],
                          "transB %d rows 2: %zu fresh bytes in run 2, plain kept %d", tb,
                          fresh[0][1], plain_kept[0]);
            }
            for (int a = 0; a < 2; a++) vt->unbind(c, st[a]), mlc_free(st[a]);
            mlc_free(xp), mlc_free(wc), mlc_free(out.data);
            dn_ctx_free(c);
        }
}

/* silu.c against double precision: every tail length, the parallel split,
 * huge, tiny and signed-zero inputs; then a conv whose SiLU post-op runs as
 * our step or as oneDNN's (MLC_DNNL_SILU=0/1, or by output size against
 * ctx->silu_max), against naive loops. */
static void test_silu(void)
{
    enum { N = 300000 };
    float *x = mlc_alloc(sizeof(float) * N), *y = mlc_alloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) x[i] = -100.0f + 200.0f * (float)i / N;
    x[0] = 0.0f, x[1] = -0.0f, x[2] = 1e-30f, x[3] = -1e30f, x[4] = 1e30f, x[5] = 88.5f;
    double worst = 0;
    for (int n = 1; n <= 40; n++) { /* tails, one thread (small) */
        memcpy(y, x + 1000 * n, sizeof(float) * (size_t)n);
        dn_silu_f32(y, (size_t)n);
        for (int i = 0; i < n; i++) {
            double v = x[1000 * n + i], r = v / (1 + exp(-v));
            worst = fmax(worst, fabs(y[i] - r) / (fabs(r) + 1e-30));
        }
    }
    memcpy(y, x, sizeof(float) * N);
    omp_set_num_threads(2);
    dn_silu_f32(y, N);
    for (int i = 0; i < N; i++) {
        double v = x[i], r = v / (1 + exp(-v)), d = fabs(y[i] - r);
        CHECK_MSG(d <= 4e-7 * fabs(r) + 1e-35, "silu(%g) = %g, want %g", v, y[i], r);
        if (fabs(r) > 1e-30) worst = fmax(worst, d / fabs(r));
    }
    printf("silu: max relative error %.3g\n", worst);
    CHECK(worst <= 1e-6);
    CHECK(y[0] == 0 && y[3] == 0 && y[4] == 1e30f);
    mlc_free(x), mlc_free(y);

    /* The conv's output is 600 KiB: auto takes our step under a 1 MiB
     * limit and oneDNN's post-op under 512 KiB. */
    static const struct {
        const char *env;
        size_t max;
        int own;
    } modes[] = {{"0", 1 << 20, 0}, {"1", 1 << 19, 1}, {NULL, 1 << 20, 1}, {NULL, 1 << 19, 0}};
    uint32_t seed = 9;
    for (int mi = 0; mi < 4; mi++) {
        if (modes[mi].env)
            setenv("MLC_DNNL_SILU", modes[mi].env, 1);
        else
            unsetenv("MLC_DNNL_SILU");
        int64_t wd[4] = {48, 16, 1, 1};
        float *w, *b;
        struct dn_ctx *c = conv_region(wd, &seed, &w, &b);
        c->silu_max = modes[mi].max;
        struct dn_op *op = &c->ops[0];
        op->post[0] = (struct dn_post){0, dnnl_eltwise_swish, 1, 0};
        op->n_post = 1;
        float *wc = mlc_alloc(sizeof(float) * 48 * 16), bc[48];
        memcpy(wc, w, sizeof(float) * 48 * 16), memcpy(bc, b, sizeof bc);
        mlc_tensor in = tensor4(2, 16, 40, 40, &seed), out = {0};
        const struct eng_region_vtbl *vt = &dn_region_vtbl;
        mlc_error err = {0};
        void *state = mlc_calloc(1, vt->session_size(c));
        CHECK_OK(vt->infer(c, &in, 1, &out, 1, &err), &err);
        out.data = mlc_calloc(2 * 48 * 1600, sizeof(float));
        CHECK_OK(vt->bind(c, &in, 1, state, 0, &err), &err);
        CHECK_OK(vt->run(c, state, &in, 1, &out, 1, &err), &err);
        CHECK_MSG(dn_region_n_silu(state) == modes[mi].own, "mode %d: %d own SiLU steps", mi,
                  dn_region_n_silu(state));
        vt->unbind(c, state);
        mlc_free(state);
        float *ref = mlc_alloc(sizeof(float) * 2 * 48 * 1600);
        conv_ref(in.data, 2, 16, 40, 40, wc, bc, 48, 1, 1, 1, 1, 0, 1, ref, 40, 40);
        for (int i = 0; i < 2 * 48 * 1600; i++)
            ref[i] = (float)(ref[i] / (1 + exp(-(double)ref[i])));
        CHECK_MSG(max_diff(out.data, ref, 2 * 48 * 1600) <= 1e-4, "mode %d", mi);
        mlc_free(in.data), mlc_free(out.data), mlc_free(ref), mlc_free(wc);
        dn_ctx_free(c);
    }
    unsetenv("MLC_DNNL_SILU");
}

static float float_of_bf16(uint16_t h)
{
    uint32_t b = (uint32_t)h << 16;
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* gelu.c's table over every bf16 pattern against double precision (within
 * one bf16 step; 0 below -13, inf to inf, -inf to 0, NaN unchanged), every
 * tail length on one thread against the same values from the parallel
 * split; then a bf16 matmul whose GELU post-op runs as our step or as
 * oneDNN's (MLC_DNNL_GELU=0/1, or by output size against ctx->silu_max;
 * never in float32), against naive loops. */
static void test_gelu(void)
{
    enum { NP = 65536 };
    uint16_t *h = mlc_alloc(sizeof(uint16_t) * NP), t[40];
    for (int i = 0; i < NP; i++) h[i] = (uint16_t)i;
    omp_set_num_threads(2);
    dn_gelu_bf16(h, NP);
    int bad = 0;
    for (int i = 0; i < NP; i++) {
        float x = float_of_bf16((uint16_t)i), y = float_of_bf16(h[i]);
        int ok;
        if (x != x)
            ok = h[i] == i;
        else if (isinf(x))
            ok = x > 0 ? y == x : y == 0;
        else {
            double r = 0.5 * (double)x * (1.0 + erf((double)x / sqrt(2.0)));
            ok = fabs((double)y - r) <= fabs(r) / 256 + 1e-37 && (x >= -13 || y == 0);
        }
        if (!ok && bad++ < 5) printf("gelu(%g) = %g (0x%04x -> 0x%04x)\n", x, y, i, h[i]);
    }
    CHECK_MSG(bad == 0, "%d bf16 inputs off", bad);
    uint32_t seed = 5;
    for (int n = 1; n <= 40; n++) {
        uint16_t at = (uint16_t)(frand(&seed) * 30000 + 31000);
        for (int i = 0; i < n; i++) t[i] = (uint16_t)(at + i);
        dn_gelu_bf16(t, (size_t)n);
        for (int i = 0; i < n; i++) CHECK_MSG(t[i] == h[(uint16_t)(at + i)], "tail %d at %d", n, i);
    }
    mlc_free(h);

    /* The matmul's output is 48x64 bf16, 6 KiB: auto takes our step under an
     * 8 KiB limit and oneDNN's post-op under 4 KiB. */
    static const struct {
        const char *env;
        int bf16;
        size_t max;
        int own;
    } modes[] = {{"0", 1, 8192, 0},  {"1", 1, 4096, 1}, {NULL, 1, 8192, 1},
                 {NULL, 1, 4096, 0}, {"1", 0, 8192, 0}, {NULL, 0, 1 << 20, 0}};
    enum { M = 48, K = 32, N = 64 };
    for (int mi = 0; mi < 6; mi++) {
        if (modes[mi].env)
            setenv("MLC_DNNL_GELU", modes[mi].env, 1);
        else
            unsetenv("MLC_DNNL_GELU");
        struct dn_ctx *c = ctx_new(1, 2, 1, 2);
        c->vals[0].rank = c->vals[1].rank = 2;
        c->bf16 = modes[mi].bf16;
        c->silu_max = modes[mi].max;
        c->n_out = 1;
        c->outs[0] = 1;
        int64_t wd[2] = {K, N}, bd[1] = {N};
        float *w = const_new(c, 0, 2, wd, &seed), *b = const_new(c, 1, 1, bd, &seed);
        float *wc = mlc_alloc(sizeof(float) * K * N), bc[N];
        memcpy(wc, w, sizeof(float) * K * N), memcpy(bc, b, sizeof bc);
        struct dn_op *op = c->ops;
        op->kind = DN_MATMUL, op->in[0] = 0, op->out = 1, op->w = 0, op->b = 1;
        op->post[0] = (struct dn_post){0, dnnl_eltwise_gelu_erf, 0, 0};
        op->n_post = 1;
        float *xp = mlc_alloc(sizeof(float) * M * K), *ref = mlc_alloc(sizeof(float) * M * N);
        for (int i = 0; i < M * K; i++) xp[i] = 2 * frand(&seed);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double acc = bc[j];
                for (int k = 0; k < K; k++) acc += (double)xp[i * K + k] * wc[k * N + j];
                ref[i * N + j] = (float)(0.5 * acc * (1 + erf(acc / sqrt(2.0))));
            }
        mlc_tensor x = {MLC_DTYPE_F32, 2, {M, K}, xp}, out = {0};
        const struct eng_region_vtbl *vt = &dn_region_vtbl;
        mlc_error err = {0};
        void *state = mlc_calloc(1, vt->session_size(c));
        CHECK_OK(vt->infer(c, &x, 1, &out, 1, &err), &err);
        out.data = mlc_calloc(M * N, sizeof(float));
        CHECK_OK(vt->bind(c, &x, 1, state, 0, &err), &err);
        CHECK_OK(vt->run(c, state, &x, 1, &out, 1, &err), &err);
        CHECK_MSG(dn_region_n_gelu(state) == modes[mi].own, "mode %d: %d own GELU steps", mi,
                  dn_region_n_gelu(state));
        vt->unbind(c, state);
        mlc_free(state);
        double d = max_diff(out.data, ref, M * N);
        CHECK_MSG(d <= (modes[mi].bf16 ? 0.1 : 1e-4), "mode %d: diff %g", mi, d);
        mlc_free(xp), mlc_free(out.data), mlc_free(ref), mlc_free(wc);
        dn_ctx_free(c);
    }
    unsetenv("MLC_DNNL_GELU");
}

/* One packing by packw.c against oneDNN's reorder of the same bytes, on
 * one and two threads: equal bit for bit, padding included. */
static void pack_case(dnnl_engine_t eng, int nd, const int64_t *dims, dnnl_format_tag_t stag,
                      dnnl_format_tag_t dtag)
{
    dnnl_dims_t d = {0};
    size_t n = 1;
    for (int k = 0; k < nd; k++) d[k] = dims[k], n *= (size_t)dims[k];
    dnnl_memory_desc_t src, dst;
    CHECK(dnnl_memory_desc_init_by_tag(&src, nd, d, dnnl_f32, stag) == dnnl_success);
    CHECK(dnnl_memory_desc_init_by_tag(&dst, nd, d, dnnl_f32, dtag) == dnnl_success);
    size_t nb = dnnl_memory_desc_get_size(&dst);
    float *w = mlc_alloc(n * sizeof *w), *a = mlc_alloc(nb), *b = mlc_alloc(nb);
    for (size_t k = 0; k < n; k++) w[k] = (float)k * 0.5f - 3.0f;
    memset(a, 0x5a, nb); /* padding must be written */
    CHECK(dn_reorder_run(eng, &src, w, &dst, a) == dnnl_success);
    for (int th = 1; th <= 2; th++) {
        omp_set_num_threads(th);
        memset(b, 0xa5, nb);
        CHECK(dn_pack_blocked_any(&src, w, &dst, b) == 0);
        CHECK_MSG(!memcmp(a, b, nb), "%dd %ldx%ldx%ld (tags %d -> %d) on %d threads differs", nd,
                  (long)dims[0], (long)dims[1], nd > 2 ? (long)dims[2] : 1L, (int)stag, (int)dtag,
                  th);
    }
    omp_set_num_threads(2);
    mlc_free(w), mlc_free(a), mlc_free(b);
}

/* packw.c writes the layouts the nets ask for (1x1 convolutions' AcdbNa,
 * 3x3's ABcd16b16a, depthwise Abcde16a, a matmul's BA16a64b from a plain or
 * a transposed source) exactly as oneDNN's reorder does, for sizes that
 * are not multiples of the blocks; it refuses what it cannot write, and
 * dn_pack_blocked leaves to oneDNN what oneDNN packs faster. */
static void test_pack_blocked(void)
{
    dnnl_engine_t eng;
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0) == dnnl_success);
    static const int64_t sh[][2] = {{1, 1}, {47, 3}, {48, 16}, {49, 17}, {256, 64}, {100, 1000}};
    static const dnnl_format_tag_t acdb[] = {dnnl_Acdb48a, dnnl_Acdb16a, dnnl_Acdb32a,
                                             dnnl_Acdb64a};
    for (size_t t = 0; t < sizeof acdb / sizeof acdb[0]; t++)
        for (size_t i = 0; i < sizeof sh / sizeof sh[0]; i++)
            pack_case(eng, 4, (int64_t[]){sh[i][0], sh[i][1], 1, 1}, dnnl_abcd, acdb[t]);
    pack_case(eng, 4, (int64_t[]){33, 19, 3, 3}, dnnl_abcd, dnnl_ABcd16b16a);
    pack_case(eng, 4, (int64_t[]){33, 19, 3, 3}, dnnl_abcd, dnnl_Acdb16a);
    static const int64_t groups[] = {1, 40, 120, 17};
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        pack_case(eng, 5, (int64_t[]){groups[i], 1, 1, 3, 3}, dnnl_abcde, dnnl_Abcde16a);
        pack_case(eng, 5, (int64_t[]){groups[i], 1, 1, 5, 5}, dnnl_abcde, dnnl_Abcde16a);
    }
    static const int64_t mm[][2] = {{960, 1280}, {37, 70}, {16, 64}, {1, 1}};
    for (size_t i = 0; i < sizeof mm / sizeof mm[0]; i++) {
        pack_case(eng, 2, mm[i], dnnl_ba, dnnl_BA16a64b);
        pack_case(eng, 2, mm[i], dnnl_ab, dnnl_BA16a64b);
    }

    static float w[1024 * 512], o[1024 * 512 * 2];
    dnnl_memory_desc_t src, dst;
    /* Ours by policy: small, or Acdb48a at any size. */
    dnnl_dims_t small = {64, 64, 1, 1}, big = {1024, 512, 1, 1}, fc = {512, 1024};
    dnnl_memory_desc_init_by_tag(&src, 4, small, dnnl_f32, dnnl_abcd);
    dnnl_memory_desc_init_by_tag(&dst, 4, small, dnnl_f32, dnnl_Acdb64a);
    CHECK(dn_pack_blocked(&src, w, &dst, o) == 0);
    dnnl_memory_desc_init_by_tag(&src, 4, big, dnnl_f32, dnnl_abcd);
    dnnl_memory_desc_init_by_tag(&dst, 4, big, dnnl_f32, dnnl_Acdb48a);
    CHECK(dn_pack_blocked(&src, w, &dst, o) == 0);
    /* oneDNN's by policy: other large weights. */
    dnnl_memory_desc_init_by_tag(&src, 2, fc, dnnl_f32, dnnl_ba);
    dnnl_memory_desc_init_by_tag(&dst, 2, fc, dnnl_f32, dnnl_BA16a64b);
    CHECK(dn_pack_blocked(&src, w, &dst, o) == -1);
    CHECK(dn_pack_blocked_any(&src, w, &dst, o) == 0);
    dnnl_memory_desc_init_by_tag(&src, 4, big, dnnl_f32, dnnl_abcd);
    dnnl_memory_desc_init_by_tag(&dst, 4, big, dnnl_f32, dnnl_Acdb16a);
    CHECK(dn_pack_blocked(&src, w, &dst, o) == -1);
    CHECK(dn_pack_blocked_any(&src, w, &dst, o) == 0);
    /* Not ours at all: bf16, a blocked source, three inner blocks. */
    dnnl_memory_desc_init_by_tag(&src, 4, small, dnnl_f32, dnnl_abcd);
    dnnl_memory_desc_init_by_tag(&dst, 4, small, dnnl_bf16, dnnl_Acdb48a);
    CHECK(dn_pack_blocked_any(&src, w, &dst, o) == -1);
    dnnl_memory_desc_init_by_tag(&src, 4, small, dnnl_f32, dnnl_Acdb16a);
    dnnl_memory_desc_init_by_tag(&dst, 4, small, dnnl_f32, dnnl_Acdb48a);
    CHECK(dn_pack_blocked_any(&src, w, &dst, o) == -1);
    dnnl_memory_desc_init_by_tag(&src, 4, small, dnnl_f32, dnnl_abcd);
    dnnl_memory_desc_init_by_tag(&dst, 4, small, dnnl_f32, dnnl_ABcd4b16a4b);
    CHECK(dn_pack_blocked_any(&src, w, &dst, o) == -1);
    dnnl_engine_destroy(eng);
}

int main(void)
{
    TEST_RUN(test_conv_grouped);
    TEST_RUN(test_conv_depthwise);
    TEST_RUN(test_residual_head);
    TEST_RUN(test_attention_bits);
    TEST_RUN(test_attention_views);
    TEST_RUN(test_views_and_eltwise);
    TEST_RUN(test_slices);
    TEST_RUN(test_concat);
    TEST_RUN(test_bad_shape);
    TEST_RUN(test_adapt_choice);
    TEST_RUN(test_threading_levels);
    TEST_RUN(test_pool_plan);
    TEST_RUN(test_silu);
    TEST_RUN(test_gelu);
    TEST_RUN(test_pack_in_place);
    TEST_RUN(test_bind_alloc_failures);
    TEST_RUN(test_se_fold);
    TEST_RUN(test_conv_subsample);
    TEST_RUN(test_gemm_matmul);
    TEST_RUN(test_gemm_plain_weights);
    TEST_RUN(test_pack_blocked);
    TEST_DONE();
}
