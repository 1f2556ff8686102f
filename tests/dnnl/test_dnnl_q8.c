/*
 * test_dnnl_q8.c - int8 convolutions and matmuls (src/engine/dnnl/q8.c and region.c's
 * int8 steps): the per-tensor quantization against its formula (both the
 * AVX-512 and the portable paths take every case: the tail of a buffer is
 * portable), with zeros, NaN and Inf in the source; and regions of
 * int8 convolutions (a signed source, a ReLU'd one read as u8, a residual
 * sum, bias and none, strides 1 and 2, a 7x7 stem on 3 channels, batch 1
 * then 2 on the same weights) against naive float loops, within what two
 * 8-bit roundings allow; which convolutions run in int8 (not those over one
 * pixel), decided once per net whatever shapes it is bound at later; linear
 * layers ([B, T, K] by [K, N] or transB [N, K] weights, u8 and s8 sources,
 * bias, GELU) in int8 and a classifier head left in float32; attention's
 * q k^T (a transposed view) and p v in int8.
 */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "dn_test.h"

/* What dn_q8_quantize must write for x in mode: round-to-nearest-even of
 * x * q clamped, NaN as the low end, plus the mode's offset. */
static int expect_q(float x, float q, int mode)
{
    float lo = mode == DN_Q8_U8 ? 0.0f : -127.0f, hi = mode == DN_Q8_U8 ? 255.0f : 127.0f;
    float v = x * q;
    v = v > lo ? v : lo;
    v = v < hi ? v : hi;
    return (int)rintf(v) + (mode == DN_Q8_U8_SHIFT ? 128 : 0);
}

static void check_quantize(const float *x, size_t n, int mode, float want_max)
{
    unsigned char *y = mlc_alloc(n + 1);
    float dq = -1;
    y[n] = 0x5a; /* nothing past the end */
    dn_q8_quantize(x, n, y, mode, &dq);
    float q = (mode == DN_Q8_U8 ? 255.0f : 127.0f) / want_max;
    CHECK_MSG(fabsf(dq - 1.0f / q) <= 1e-6f * (1.0f / q), "n %zu mode %d: dq %g, want %g", n, mode,
              (double)dq, (double)(1.0f / q));
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        int got = mode == DN_Q8_S8 ? (int)(int8_t)y[i] : (int)y[i];
        if (got != expect_q(x[i], q, mode) && !bad++) first = i;
    }
    CHECK_MSG(bad == 0, "n %zu mode %d: %zu values differ, first at %zu (x %g)", n, mode, bad,
              first, bad ? (double)x[first] : 0.0);
    CHECK(y[n] == 0x5a);
    mlc_free(y);
}

static void test_quantize(void)
{
    /* Sizes: under one vector, a vector and a tail, and over the parallel
     * cut (split between two threads). */
    const size_t sizes[] = {5, 37, 100003};
    uint32_t seed = 11;
    omp_set_num_threads(2);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        float *x = mlc_alloc(n * sizeof *x);
        float m = 0;
        for (size_t i = 0; i < n; i++) {
            x[i] = 3.0f * frand(&seed);
            m = fmaxf(m, fabsf(x[i]));
        }
        check_quantize(x, n, DN_Q8_S8, m);
        check_quantize(x, n, DN_Q8_U8_SHIFT, m);
        for (size_t i = 0; i < n; i++) x[i] = fabsf(x[i]);
        check_quantize(x, n, DN_Q8_U8, m);
        /* All zeros: a finite scale, zeros out. */
        memset(x, 0, n * sizeof *x);
        check_quantize(x, n, DN_Q8_S8, 1.0f);
        /* NaN is skipped by the maximum and written as the low end; Inf
         * makes the scale 1 (the rest saturate). */
        for (size_t i = 0; i < n; i++) x[i] = (float)(i % 7) - 3.0f;
        x[n / 2] = NAN;
        check_quantize(x, n, DN_Q8_S8, 3.0f);
        check_quantize(x, n, DN_Q8_U8_SHIFT, 3.0f);
        x[n - 1] = INFINITY;
        check_quantize(x, n, DN_Q8_S8, 1.0f);
        mlc_free(x);
    }
}

/* Error of out against ref: root mean square relative to ref's, and the
 * largest relative to ref's largest. */
static void rel_err(const float *out, const float *ref, int64_t n, double *rms, double *worst)
{
    double e2 = 0, r2 = 0, e = 0, big = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)out[i] - ref[i];
        e2 += d * d;
        r2 += (double)ref[i] * ref[i];
        e = fmax(e, fabs(d));
        big = fmax(big, fabs((double)ref[i]));
    }
    *rms = r2 > 0 ? sqrt(e2 / r2) : sqrt(e2);
    *worst = big > 0 ? e / big : e;
}

/* Binds region c on x in int8 and runs it into out (allocated here, n
 * values); the int8 convolution counts into *n_q8 and *n_u8. */
static int run_q8(struct dn_ctx *c, mlc_tensor *x, mlc_tensor *out, int64_t n, int *n_q8, int *n_u8)
{
    const struct eng_region_vtbl *vt = &dn_region_vtbl;
    mlc_error err = {0};
    void *state = mlc_calloc(1, vt->session_size(c));
    int ok = 0;
    if (vt->infer(c, x, 1, out, 1, &err)) goto fail;
    out->data = mlc_calloc((size_t)n, sizeof(float)); /* infer sets the rest of out */
    if (vt->bind(c, x, 1, state, 0, &err) || vt->run(c, state, x, 1, out, 1, &err)) goto fail;
    *n_q8 = dn_region_n_q8(state, n_u8);
    ok = 1;
fail:
    if (!ok) fprintf(stderr, "int8 region: %s\n", err.message);
    vt->unbind(c, state);
    mlc_free(state);
    return ok;
}

/* An int8 region of n_vals values of one rank, its last value the output. */
static struct dn_ctx *int8_ctx(int n_in, int n_vals, int n_ops, int n_consts, int rank)
{
    struct dn_ctx *c = ctx_new(n_in, n_vals, n_ops, n_consts);
    for (int i = 0; i < n_vals; i++) c->vals[i].rank = rank;
    c->int8 = 1;
    c->n_out = 1;
    c->outs[0] = n_vals - 1;
    return c;
}

/* x [N,16,H,W] (signed) -> conv 3x3 16->32 + bias, ReLU -> v1 (>= 0)
 * -> conv 1x1 32->32 + bias, + v1, ReLU -> v2 (>= 0)
 * -> conv 3x3 stride 2 32->24, no bias -> out. */
static void test_conv_chain(void)
{
    enum { C0 = 16, C1 = 32, C3 = 24, H = 12, W = 11 };
    const int64_t OH = (H + 2 - 3) / 2 + 1, OW = (W + 2 - 3) / 2 + 1;
    uint32_t seed = 5;
    struct dn_ctx *c = int8_ctx(1, 4, 3, 5, 4);
    int64_t w0d[4] = {C1, C0, 3, 3}, w1d[4] = {C1, C1, 1, 1}, w2d[4] = {C3, C1, 3, 3};
    int64_t bd[1] = {C1};
    float *w0 = const_new(c, 0, 4, w0d, &seed), *b0 = const_new(c, 1, 1, bd, &seed);
    float *w1 = const_new(c, 2, 4, w1d, &seed), *b1 = const_new(c, 3, 1, bd, &seed);
    float *w2 = const_new(c, 4, 4, w2d, &seed);
    /* The region frees its copies once quantized: keep ours. */
    size_t n0 = C1 * C0 * 9, n1 = C1 * C1, n2 = C3 * C1 * 9;
    float *w0c = mlc_alloc(n0 * 4), *w1c = mlc_alloc(n1 * 4), *w2c = mlc_alloc(n2 * 4);
    float b0c[C1], b1c[C1];
    memcpy(w0c, w0, n0 * 4), memcpy(w1c, w1, n1 * 4), memcpy(w2c, w2, n2 * 4);
    memcpy(b0c, b0, sizeof b0c), memcpy(b1c, b1, sizeof b1c);
    struct dn_op *op = c->ops;
    op[0].kind = DN_CONV, op[0].in[0] = 0, op[0].out = 1, op[0].w = 0, op[0].b = 1;
    op[0].kernel[0] = op[0].kernel[1] = 3;
    op[0].pad_l[0] = op[0].pad_l[1] = op[0].pad_r[0] = op[0].pad_r[1] = 1;
    op[0].post[0] = (struct dn_post){0, dnnl_eltwise_relu, 0, 0};
    op[0].n_post = 1;
    op[1].kind = DN_CONV, op[1].in[0] = 1, op[1].out = 2, op[1].w = 2, op[1].b = 3;
    op[1].kernel[0] = op[1].kernel[1] = 1;
    op[1].sum_in = 1;
    op[1].post[0] = (struct dn_post){1, dnnl_eltwise_relu, 0, 0};
    op[1].post[1] = (struct dn_post){0, dnnl_eltwise_relu, 0, 0};
    op[1].n_post = 2;
    op[2].kind = DN_CONV, op[2].in[0] = 2, op[2].out = 3, op[2].w = 4;
    op[2].kernel[0] = op[2].kernel[1] = 3;
    op[2].stride[0] = op[2].stride[1] = 2;
    op[2].pad_l[0] = op[2].pad_l[1] = op[2].pad_r[0] = op[2].pad_r[1] = 1;
    for (int64_t N = 1; N <= 2; N++) {
        mlc_tensor x = tensor4(N, C0, H, W, &seed), out = {0};
        int64_t n1v = N * C1 * H * W, no = N * C3 * OH * OW;
        float *v1 = mlc_alloc((size_t)n1v * 4), *v2 = mlc_alloc((size_t)n1v * 4);
        float *ref = mlc_alloc((size_t)no * 4);
        conv_ref(x.data, N, C0, H, W, w0c, b0c, C1, 3, 3, 1, 1, 1, 1, v1, H, W);
        for (int64_t i = 0; i < n1v; i++) v1[i] = v1[i] > 0 ? v1[i] : 0;
        conv_ref(v1, N, C1, H, W, w1c, b1c, C1, 1, 1, 1, 1, 0, 1, v2, H, W);
        for (int64_t i = 0; i < n1v; i++) {
            v2[i] += v1[i];
            v2[i] = v2[i] > 0 ? v2[i] : 0;
        }
        conv_ref(v2, N, C1, H, W, w2c, NULL, C3, 3, 3, 1, 2, 1, 1, ref, OH, OW);
        int n_q8 = 0, n_u8 = 0;
        CHECK(run_q8(c, &x, &out, no, &n_q8, &n_u8));
        CHECK_MSG(n_q8 == 3 && n_u8 == 2, "batch %lld: %d int8 convs, %d on u8 (want 3, 2)",
                  (long long)N, n_q8, n_u8);
        double rms, worst;
        rel_err(out.data, ref, no, &rms, &worst);
        printf("int8 chain batch %lld: rms %.4f, worst %.4f (relative)\n", (long long)N, rms,
               worst);
        CHECK_MSG(rms <= 0.03 && worst <= 0.1, "batch %lld: int8 error rms %g worst %g",
                  (long long)N, rms, worst);
        mlc_free(x.data), mlc_free(out.data), mlc_free(v1), mlc_free(v2), mlc_free(ref);
    }
    mlc_free(w0c), mlc_free(w1c), mlc_free(w2c);
    dn_ctx_free(c);
}

/* A ResNet stem: 7x7 stride 2 pad 3 on 3 signed channels, with a bias. */
static void test_conv_stem(void)
{
    enum { O = 16, H = 29 };
    const int64_t OH = (H + 6 - 7) / 2 + 1;
    uint32_t seed = 9;
    int64_t wd[4] = {O, 3, 7, 7};
    float *w, *b;
    struct dn_ctx *c = conv_region(wd, &seed, &w, &b);
    c->int8 = 1;
    struct dn_op *op = c->ops;
    op->stride[0] = op->stride[1] = 2;
    op->pad_l[0] = op->pad_l[1] = op->pad_r[0] = op->pad_r[1] = 3;
    float wc[O * 3 * 49], bc[O];
    memcpy(wc, w, sizeof wc), memcpy(bc, b, sizeof bc);
    mlc_tensor x = tensor4(1, 3, H, H, &seed), out = {0};
    float ref[O * 15 * 15];
    conv_ref(x.data, 1, 3, H, H, wc, bc, O, 7, 7, 1, 2, 3, 1, ref, OH, OH);
    int n_q8 = 0, n_u8 = -1;
    CHECK(run_q8(c, &x, &out, O * OH * OH, &n_q8, &n_u8));
    CHECK(n_q8 == 1 && n_u8 == 0);
    double rms, worst;
    rel_err(out.data, ref, O * OH * OH, &rms, &worst);
    printf("int8 stem: rms %.4f, worst %.4f (relative)\n", rms, worst);
    CHECK_MSG(rms <= 0.03 && worst <= 0.1, "stem: int8 error rms %g worst %g", rms, worst);
    mlc_free(x.data), mlc_free(out.data);
    dn_ctx_free(c);
}

/* Which convolutions run in int8, and that it sticks per net: a 1x1
 * convolution over one pixel per image (an SE block's) stays float32; bound
 * first on 5x5 images, the same net runs int8 there and keeps int8 (its
 * weights exist only so) when later bound on 1x1 images (then on oneDNN's
 * reference int8 kernel); bound first on 1x1, it stays float32 at 5x5. */
static void test_conv_decide(void)
{
    enum { C = 24, O = 40 };
    const int64_t sizes[2][2] = {{5, 1}, {1, 5}};
    for (int order = 0; order < 2; order++) {
        uint32_t seed = 21;
        int64_t wd[4] = {O, C, 1, 1};
        float *w, *b;
        struct dn_ctx *c = conv_region(wd, &seed, &w, &b);
        c->int8 = 1;
        float wc[O * C], bc[O];
        memcpy(wc, w, sizeof wc), memcpy(bc, b, sizeof bc);
        for (int k = 0; k < 2; k++) {
            int64_t hw = sizes[order][k];
            mlc_tensor x = tensor4(2, C, hw, hw, &seed), out = {0};
            float ref[2 * O * 25];
            conv_ref(x.data, 2, C, hw, hw, wc, bc, O, 1, 1, 1, 1, 0, 1, ref, hw, hw);
            int n_q8 = -1, n_u8 = -1;
            CHECK(run_q8(c, &x, &out, 2 * O * hw * hw, &n_q8, &n_u8));
            int want = sizes[order][0] > 1; /* decided by the first bind */
            CHECK_MSG(n_q8 == want, "order %d, %lldx%lld: %d int8 convs, want %d", order,
                      (long long)hw, (long long)hw, n_q8, want);
            double rms, worst;
            rel_err(out.data, ref, 2 * O * hw * hw, &rms, &worst);
            if (want)
                CHECK_MSG(rms <= 0.03 && worst <= 0.1, "order %d %lld: rms %g worst %g", order,
                          (long long)hw, rms, worst);
            else
                CHECK_MSG(max_diff(out.data, ref, 2 * O * hw * hw) <= 1e-4,
                          "order %d %lld: float32 diff %g", order, (long long)hw,
                          max_diff(out.data, ref, 2 * O * hw * hw));
            mlc_free(x.data), mlc_free(out.data);
        }
        dn_ctx_free(c);
    }
}

/* Linear layers as the partition hands them over: a matmul of [B, T, K]
 * by constant weights, [K, N] (MatMul) or [N, K] (Gemm, transB), with a
 * bias and a GELU or none, after a ReLU'd source (u8) or a signed one (s8);
 * a 2-D one (a classifier head: one row per image) stays float32. */
static void test_matmul(void)
{
    enum { B = 2, T = 9, K = 48, N = 40 };
    for (int tb = 0; tb < 2; tb++)
        for (int relu_in = 0; relu_in < 2; relu_in++) {
            uint32_t seed = 43;
            struct dn_ctx *c = int8_ctx(1, relu_in ? 3 : 2, relu_in ? 2 : 1, 2, 3);
            int64_t wd[2] = {tb ? N : K, tb ? K : N}, bd[1] = {N};
            float *w = const_new(c, 0, 2, wd, &seed), *b = const_new(c, 1, 1, bd, &seed);
            float wc[K * N], bc[N];
            memcpy(wc, w, sizeof wc), memcpy(bc, b, sizeof bc);
            struct dn_op *op = c->ops;
            if (relu_in) {
                op->kind = DN_ELTWISE, op->alg = dnnl_eltwise_relu, op->in[0] = 0, op->out = 1;
                op++;
            }
            op->kind = DN_MATMUL, op->in[0] = c->n_vals - 2, op->out = c->n_vals - 1;
            op->w = 0, op->b = 1, op->trans_b = tb;
            if (!relu_in) {
                op->post[0] = (struct dn_post){0, dnnl_eltwise_gelu_erf, 0, 0};
                op->n_post = 1;
            }
            mlc_tensor x = {MLC_DTYPE_F32, 3, {B, T, K}, NULL}, out = {0};
            float *xp = mlc_alloc(sizeof(float) * B * T * K), ref[B * T * N];
            for (int i = 0; i < B * T * K; i++) xp[i] = frand(&seed);
            x.data = xp;
            for (int i = 0; i < B * T; i++)
                for (int j = 0; j < N; j++) {
                    double acc = bc[j];
                    for (int k = 0; k < K; k++) {
                        double v = xp[i * K + k];
                        v = relu_in && v < 0 ? 0 : v;
                        acc += v * (tb ? wc[j * K + k] : wc[k * N + j]);
                    }
                    ref[i * N + j] =
                        relu_in ? (float)acc : (float)(0.5 * acc * (1 + erf(acc / sqrt(2))));
                }
            int n_q8 = 0, n_u8 = -1;
            CHECK(run_q8(c, &x, &out, B * T * N, &n_q8, &n_u8));
            /* u8 either way: a signed source shifted by 128 (q8.c) */
            CHECK_MSG(n_q8 == 1 && n_u8 == 1, "transB %d relu %d: %d int8, %d u8", tb, relu_in,
                      n_q8, n_u8);
            double rms, worst;
            rel_err(out.data, ref, B * T * N, &rms, &worst);
            printf("int8 matmul transB %d relu %d: rms %.4f, worst %.4f (relative)\n", tb, relu_in,
                   rms, worst);
            CHECK_MSG(rms <= 0.03 && worst <= 0.1, "transB %d relu %d: rms %g worst %g", tb,
                      relu_in, rms, worst);
            mlc_free(xp), mlc_free(out.data);
            dn_ctx_free(c);
        }
    /* A head: [B, K] x [K, N], one row per image: float32, exactly. */
    uint32_t seed = 47;
    struct dn_ctx *c = int8_ctx(1, 2, 1, 2, 2);
    int64_t wd[2] = {K, N}, bd[1] = {N};
    float *w = const_new(c, 0, 2, wd, &seed), *b = const_new(c, 1, 1, bd, &seed);
    float wc[K * N], bc[N], ref[B * N];
    memcpy(wc, w, sizeof wc), memcpy(bc, b, sizeof bc);
    c->ops[0].kind = DN_MATMUL, c->ops[0].in[0] = 0, c->ops[0].out = 1, c->ops[0].w = 0;
    c->ops[0].b = 1;
    mlc_tensor x = {MLC_DTYPE_F32, 2, {B, K}, NULL}, out = {0};
    float *xp = mlc_alloc(sizeof(float) * B * K);
    for (int i = 0; i < B * K; i++) xp[i] = frand(&seed);
    x.data = xp;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < N; j++) {
            double acc = bc[j];
            for (int k = 0; k < K; k++) acc += (double)xp[i * K + k] * wc[k * N + j];
            ref[i * N + j] = (float)acc;
        }
    int n_q8 = -1;
    CHECK(run_q8(c, &x, &out, B * N, &n_q8, NULL));
    CHECK(n_q8 == 0);
    CHECK_MSG(max_diff(out.data, ref, B * N) <= 1e-4, "head: diff %g",
              max_diff(out.data, ref, B * N));
    mlc_free(xp), mlc_free(out.data);
    dn_ctx_free(c);
}

/* Attention's activation-by-activation matmuls in int8: s = q k^T with k^T
 * a transposed view (s8 by s8, both quantized by our steps into dense
 * copies), p = softmax(s) (>= 0: u8), o = p v, against naive loops; and a
 * small one (under 1 Mi multiply-adds) left in float32. */
static void test_attention(void)
{
    enum { H = 8, T = 72, D = 32 };
    for (int small = 0; small < 2; small++) {
        const int t = small ? 8 : T;
        uint32_t seed = 51;
        struct dn_ctx *c = int8_ctx(3, 7, 4, 0, 3);
        struct dn_op *op = c->ops;
        op[0].kind = DN_TRANSPOSE, op[0].in[0] = 1, op[0].out = 3; /* k^T [H, D, T] */
        op[0].perm[0] = 0, op[0].perm[1] = 2, op[0].perm[2] = 1;
        op[1].kind = DN_MATMUL, op[1].in[0] = 0, op[1].in[1] = 3, op[1].out = 4;
        op[2].kind = DN_SOFTMAX, op[2].in[0] = 4, op[2].out = 5, op[2].axis = 2;
        op[3].kind = DN_MATMUL, op[3].in[0] = 5, op[3].in[1] = 2, op[3].out = 6;
        mlc_tensor in[3] = {{MLC_DTYPE_F32, 3, {H, t, D}, NULL},
                            {MLC_DTYPE_F32, 3, {H, t, D}, NULL},
                            {MLC_DTYPE_F32, 3, {H, t, D}, NULL}},
                   out = {0};
        for (int k = 0; k < 3; k++) {
            float *x = mlc_alloc(sizeof(float) * H * T * D);
            for (int i = 0; i < H * t * D; i++) x[i] = 2.0f * frand(&seed);
            in[k].data = x;
        }
        const struct eng_region_vtbl *vt = &dn_region_vtbl;
        mlc_error err = {0};
        void *state = mlc_calloc(1, vt->session_size(c));
        CHECK_OK(vt->infer(c, in, 3, &out, 1, &err), &err);
        out.data = mlc_calloc((size_t)(H * t * D), sizeof(float));
        CHECK_OK(vt->bind(c, in, 3, state, 0, &err), &err);
        CHECK_OK(vt->run(c, state, in, 3, &out, 1, &err), &err);
        int n_u8 = -1, n_q8 = dn_region_n_q8(state, &n_u8);
        CHECK_MSG(n_q8 == (small ? 0 : 2) && n_u8 == (small ? 0 : 1), "t %d: %d int8, %d u8", t,
                  n_q8, n_u8);
        vt->unbind(c, state);
        mlc_free(state);
        const float *q = in[0].data, *kk = in[1].data, *v = in[2].data;
        static double pr[H * T * T];
        static float ref[H * T * D];
        for (int h = 0; h < H; h++)
            for (int i = 0; i < t; i++) {
                double m = -1e300, sum = 0;
                for (int j = 0; j < t; j++) {
                    double a = 0;
                    for (int d = 0; d < D; d++)
                        a += (double)q[(h * t + i) * D + d] * kk[(h * t + j) * D + d];
                    pr[(h * t + i) * t + j] = a;
                    m = fmax(m, a);
                }
                for (int j = 0; j < t; j++)
                    sum += pr[(h * t + i) * t + j] = exp(pr[(h * t + i) * t + j] - m);
                for (int d = 0; d < D; d++) {
                    double a = 0;
                    for (int j = 0; j < t; j++)
                        a += pr[(h * t + i) * t + j] / sum * v[(h * t + j) * D + d];
                    ref[(h * t + i) * D + d] = (float)a;
                }
            }
        double rms, worst;
        rel_err(out.data, ref, H * t * D, &rms, &worst);
        printf("attention t %d (%s): rms %.4f, worst %.4f (relative)\n", t, small ? "f32" : "int8",
               rms, worst);
        if (small)
            CHECK_MSG(max_diff(out.data, ref, H * t * D) <= 1e-4, "t %d: float32 diff %g", t,
                      max_diff(out.data, ref, H * t * D));
        else
            CHECK_MSG(rms <= 0.05 && worst <= 0.15, "int8 attention: rms %g worst %g", rms, worst);
        for (int k = 0; k < 3; k++) mlc_free(in[k].data);
        mlc_free(out.data);
        dn_ctx_free(c);
    }
}

int main(void)
{
    TEST_RUN(test_quantize);
    TEST_RUN(test_conv_chain);
    TEST_RUN(test_conv_stem);
    TEST_RUN(test_conv_decide);
    TEST_RUN(test_matmul);
    TEST_RUN(test_attention);
    TEST_DONE();
}
