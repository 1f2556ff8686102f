/*
 * dnnl_ops.c - the oneDNN measurements behind docs/PERFORMANCE.md's "SiLU as
 * our own step" and "Tried and dropped" sections, rerunnable:
 *   1. eltwise primitives' cost per element (1.2 M floats in place, one
 *      thread) against our SiLU (src/engine/dnnl/silu.c) on one and two;
 *   2. efficientnet_b0's 16->96 1x1 convolution at 112x112, batch 1, one
 *      thread, bare and with the swish post-op;
 *   3. a 1x1 convolution with oneDNN's fused depthwise post-op against the
 *      two convolutions run separately, each with its SiLU (batch 8, two
 *      threads), channels-last and nChw16c: time, and the largest difference
 *      of the results; plus the reorders into and out of nChw16c that a
 *      channels-last net would need around the blocked pair;
 *   4. the machine's convolution throughput, for the float32 ceiling: a
 *      resnet 3x3 convolution (256 channels, 14x14, batch 8, two threads)
 *      in float32, bf16 and int8, GFLOP/s of the median run, and the kernel;
 *   5. float32 depthwise convolutions of mobilenet_v3 and efficientnet
 *      (channels-last, two threads) with each avx512 implementation oneDNN
 *      offers for them: time to create the primitive and median run (the
 *      reason region.c prefers jit_dw to brdgmm_dw);
 *   6. x w^T + b (a Gemm with transB) as an inner product and as a matmul,
 *      float32, two threads (the reason partition.c makes Gemm a matmul);
 *   7. vit_b_16's q k^T in bf16, k^T a strided view or first copied plain or
 *      as "acb" (the reason region.c copies transposed operands in bf16);
 *   8. resnet50's convolutions at batch 1, float32, channels-last against
 *      the layout oneDNN picks (whether a layout per convolution could pay);
 *   9. vit_b_16's weight matmuls in bf16 at batch 1, bare and with the
 *      region's post-op (GELU on fc1, the residual sum on fc2 and the
 *      attention's output projection): what the post-ops cost on AMX;
 *  10. 1x1 convolutions of mobilenet_v3, efficientnet and resnet50 at batch
 *      1 (channels-last, two threads) with each avx512 implementation: time
 *      to create the primitive (the JIT, most of a cold start) and median run;
 *  11. resnet50's convolutions run in the net's order at batch 1, each with
 *      weights of its own against one weight buffer per shape: what
 *      streaming 90 MiB of weights per image costs, and what running them in
 *      sequence costs against timing each alone (section 8);
 *  12. resnet50's convolutions at batch 1 in float32, bf16 and int8, the
 *      int8 ones as the region makes them (src/engine/dnnl/q8.c);
 *  13. packing float32 weights (1x1, 3x3, depthwise, Gemm and MatMul
 *      shapes) into the blocked layouts the nets ask for, oneDNN's reorder
 *      against src/engine/dnnl/packw.c, on one and two threads.
 * Medians of 50 runs after 5 warm-ups. Not a test: it asserts nothing.
 *   build-release/bench/micro/mlc_micro_dnnl [SECTION]
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dnnl/dn.h"
#include "micro.h"

#define CK(x)                                                                                      \
    do {                                                                                           \
        dnnl_status_t r_ = (x);                                                                    \
        if (r_) {                                                                                  \
            fprintf(stderr, "%s: %s\n", #x, dn_status_str(r_));                                    \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static dnnl_engine_t eng;
static dnnl_stream_t strm;

/* Median ms of 50 runs of fn(arg) after 5 warm-ups. */
static double median_ms(void (*fn)(void *), void *arg)
{
    double t[50];
    for (int i = 0; i < 55; i++) {
        double a = now_ms();
        fn(arg);
        if (i >= 5) t[i - 5] = now_ms() - a;
    }
    qsort(t, 50, sizeof *t, cmp);
    return 0.5 * (t[24] + t[25]);
}

static dnnl_memory_t mem(const dnnl_memory_desc_t *md)
{
    dnnl_memory_t m;
    CK(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE));
    return m;
}

static void fill(dnnl_memory_t m, unsigned seed)
{
    const dnnl_memory_desc_t *md;
    float *p;
    CK(dnnl_memory_get_memory_desc(m, &md));
    CK(dnnl_memory_get_data_handle(m, (void **)&p));
    size_t n = dnnl_memory_desc_get_size(md) / sizeof(float);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
}

static void run_prim(void *arg);

/* m filled with the values fill() gives a plain (a, ab, ..., abcde) layout,
 * reordered into m's: the same logical tensor whatever m's layout. */
static void fill_logical(dnnl_memory_t m, unsigned seed)
{
    static const dnnl_format_tag_t plain_tag[6] = {
        dnnl_format_tag_undef, dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde};
    const dnnl_memory_desc_t *md;
    dnnl_memory_desc_t p;
    CK(dnnl_memory_get_memory_desc(m, &md));
    CK(dnnl_memory_desc_init_by_tag(&p, md->ndims, md->dims, dnnl_f32, plain_tag[md->ndims]));
    dnnl_memory_t src = mem(&p);
    fill(src, seed);
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t r;
    CK(dnnl_reorder_primitive_desc_create(&pd, &p, eng, md, eng, NULL));
    CK(dnnl_primitive_create(&r, pd));
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, m}};
    CK(dnnl_primitive_execute(r, strm, 2, a));
    CK(dnnl_stream_wait(strm));
    dnnl_primitive_destroy(r);
    dnnl_primitive_desc_destroy(pd);
    dnnl_memory_destroy(src);
}

struct prim {
    dnnl_primitive_t p;
    int n;
    dnnl_exec_arg_t a[8];
};

static void run_prim(void *arg)
{
    struct prim *x = arg;
    CK(dnnl_primitive_execute(x->p, strm, x->n, x->a));
    CK(dnnl_stream_wait(strm));
}

struct two {
    struct prim *a, *b;
};

static void run_two(void *arg)
{
    struct two *t = arg;
    run_prim(t->a);
    run_prim(t->b);
}

struct silu_arg {
    float *x;
    size_t n;
};

static void run_silu(void *arg)
{
    struct silu_arg *s = arg;
    dn_silu_f32(s->x, s->n);
}

static const char *impl(const_dnnl_primitive_desc_t pd)
{
    const char *s = "?";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s);
    return s;
}

static void eltwise_costs(void)
{
    enum { N = 1204224 };
    static const struct {
        dnnl_alg_kind_t alg;
        float alpha;
        const char *name;
    } algs[] = {{dnnl_eltwise_swish, 1, "swish"},       {dnnl_eltwise_logistic, 0, "logistic"},
                {dnnl_eltwise_tanh, 0, "tanh"},         {dnnl_eltwise_exp, 0, "exp"},
                {dnnl_eltwise_relu, 0, "relu"},         {dnnl_eltwise_hardswish, 0, "hardswish"},
                {dnnl_eltwise_gelu_erf, 0, "gelu_erf"}, {dnnl_eltwise_gelu_tanh, 0, "gelu_tanh"}};
    dnnl_memory_desc_t md;
    dnnl_dims_t d = {N};
    CK(dnnl_memory_desc_init_by_tag(&md, 1, d, dnnl_f32, dnnl_a));
    dnnl_memory_t m = mem(&md);
    omp_set_num_threads(1);
    printf("1. eltwise over %d floats in place, ns per element (one thread unless said)\n", N);
    for (size_t k = 0; k < sizeof algs / sizeof algs[0]; k++) {
        dnnl_eltwise_desc_t ed;
        dnnl_primitive_desc_t pd;
        struct prim x = {NULL, 2, {{DNNL_ARG_SRC, m}, {DNNL_ARG_DST, m}}};
        CK(dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, algs[k].alg, &md,
                                          algs[k].alpha, 0));
        CK(dnnl_primitive_desc_create(&pd, &ed, NULL, eng, NULL));
        CK(dnnl_primitive_create(&x.p, pd));
        fill(m, 1);
        printf("   oneDNN %-10s %.3f  (%s)\n", algs[k].name, median_ms(run_prim, &x) * 1e6 / N,
               impl(pd));
        dnnl_primitive_destroy(x.p);
        dnnl_primitive_desc_destroy(pd);
    }
    struct silu_arg s = {NULL, N};
    CK(dnnl_memory_get_data_handle(m, (void **)&s.x));
    for (int nt = 1; nt <= 2; nt++) {
        omp_set_num_threads(nt);
        fill(m, 1);
        printf("   mlc silu.c        %.3f  (%d thread%s)\n", median_ms(run_silu, &s) * 1e6 / N, nt,
               nt > 1 ? "s" : "");
    }
    dnnl_memory_destroy(m);
}

/* A convolution primitive with its memories: weights and bias from seed
 * (and seed + 1), a fused depthwise conv's from 4 and 5 (as a separate one
 * made with seed 4). */
static void conv(struct prim *x, dnnl_memory_t src, const dnnl_memory_desc_t *dst_md, int oc, int k,
                 int stride, int groups, dnnl_post_ops_t po, unsigned seed, dnnl_memory_t *dst)
{
    const dnnl_memory_desc_t *smd;
    CK(dnnl_memory_get_memory_desc(src, &smd));
    dnnl_memory_desc_t wmd, bmd;
    int ic = (int)smd->dims[1], pad = k / 2;
    dnnl_dims_t wd = {groups, oc / groups, ic / groups, k, k}, bd = {oc};
    dnnl_dims_t st = {stride, stride}, pl = {pad, pad};
    CK(dnnl_memory_desc_init_by_tag(&wmd, groups > 1 ? 5 : 4, groups > 1 ? wd : wd + 1, dnnl_f32,
                                    dnnl_format_tag_any));
    CK(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_a));
    dnnl_convolution_desc_t cd;
    CK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, smd,
                                          &wmd, &bmd, dst_md, st, pl, pl));
    dnnl_primitive_attr_t attr;
    CK(dnnl_primitive_attr_create(&attr));
    if (po) CK(dnnl_primitive_attr_set_post_ops(attr, po));
    dnnl_primitive_desc_t pd;
    CK(dnnl_primitive_desc_create(&pd, &cd, attr, eng, NULL));
    CK(dnnl_primitive_create(&x->p, pd));
    dnnl_memory_t w = mem(dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0));
    dnnl_memory_t b = mem(&bmd);
    fill_logical(w, seed), fill_logical(b, seed + 1);
    *dst = mem(dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0));
    x->n = 0;
    x->a[x->n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, src};
    x->a[x->n++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, w};
    x->a[x->n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, b};
    x->a[x->n++] = (dnnl_exec_arg_t){DNNL_ARG_DST, *dst};
    const dnnl_memory_desc_t *dw = dnnl_primitive_desc_query_md(
        pd, dnnl_query_exec_arg_md, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS);
    if (dw && dw->ndims) { /* the fused depthwise conv's weights and bias */
        dnnl_memory_t m = mem(dw), mb = mem(&bmd);
        fill_logical(m, 4), fill_logical(mb, 5);
        x->a[x->n++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS, m};
        x->a[x->n++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS, mb};
    }
    printf("   %s", impl(pd));
    dnnl_primitive_attr_destroy(attr);
    dnnl_primitive_desc_destroy(pd);
}

static dnnl_memory_t act(int n, int c, int h, dnnl_format_tag_t tag, unsigned seed)
{
    dnnl_memory_desc_t md;
    dnnl_dims_t d = {n, c, h, h};
    CK(dnnl_memory_desc_init_by_tag(&md, 4, d, dnnl_f32, tag));
    dnnl_memory_t m = mem(&md);
    fill_logical(m, seed);
    return m;
}

static void any_md(dnnl_memory_desc_t *md, int n, int c, int h, dnnl_format_tag_t tag)
{
    dnnl_dims_t d = {n, c, h, h};
    CK(dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, tag));
}

/* Median ms of a reorder of m into (to 1) or out of (to 0) channels-last. */
static double reorder_ms(dnnl_memory_t m, int to)
{
    const dnnl_memory_desc_t *md;
    dnnl_memory_desc_t nhwc;
    CK(dnnl_memory_get_memory_desc(m, &md));
    CK(dnnl_memory_desc_init_by_tag(&nhwc, 4, md->dims, dnnl_f32, dnnl_nhwc));
    dnnl_memory_t o = mem(&nhwc);
    dnnl_primitive_desc_t pd;
    struct prim x = {NULL, 2, {{DNNL_ARG_FROM, to ? o : m}, {DNNL_ARG_TO, to ? m : o}}};
    CK(dnnl_reorder_primitive_desc_create(&pd, to ? &nhwc : md, eng, to ? md : &nhwc, eng, NULL));
    CK(dnnl_primitive_create(&x.p, pd));
    double t = median_ms(run_prim, &x);
    dnnl_primitive_destroy(x.p);
    dnnl_primitive_desc_destroy(pd);
    dnnl_memory_destroy(o);
    return t;
}

/* Plain NCHW floats of m (reordered). */
static float *plain(dnnl_memory_t m)
{
    const dnnl_memory_desc_t *md;
    CK(dnnl_memory_get_memory_desc(m, &md));
    dnnl_memory_desc_t p;
    CK(dnnl_memory_desc_init_by_tag(&p, 4, md->dims, dnnl_f32, dnnl_nchw));
    dnnl_memory_t o = mem(&p);
    dnnl_primitive_desc_t pd;
    struct prim x = {NULL, 2, {{DNNL_ARG_FROM, m}, {DNNL_ARG_TO, o}}};
    CK(dnnl_reorder_primitive_desc_create(&pd, md, eng, &p, eng, NULL));
    CK(dnnl_primitive_create(&x.p, pd));
    run_prim(&x);
    size_t n = dnnl_memory_desc_get_size(&p);
    float *f = malloc(n), *h;
    CK(dnnl_memory_get_data_handle(o, (void **)&h));
    memcpy(f, h, n);
    dnnl_primitive_destroy(x.p);
    dnnl_primitive_desc_destroy(pd);
    dnnl_memory_destroy(o);
    return f;
}

static void swish_post(void)
{
    omp_set_num_threads(1);
    printf("2. 1x1 conv 16->96 at 112x112, batch 1, one thread, median ms\n");
    for (int sw = 0; sw < 2; sw++) {
        dnnl_post_ops_t po = NULL;
        if (sw) {
            CK(dnnl_post_ops_create(&po));
            CK(dnnl_post_ops_append_eltwise(po, 1, dnnl_eltwise_swish, 1, 0));
        }
        dnnl_memory_t x = act(1, 16, 112, dnnl_nhwc, 6), y;
        dnnl_memory_desc_t ymd;
        any_md(&ymd, 1, 96, 112, dnnl_nhwc);
        struct prim c;
        conv(&c, x, &ymd, 96, 1, 1, 1, po, 2, &y);
        printf(" %s: %.3f\n", sw ? "with swish" : "bare", median_ms(run_prim, &c));
        if (po) dnnl_post_ops_destroy(po);
    }
}

static void dw_fusion(int ic, int oc, int h, int stride)
{
    const int n = 8, oh = (h + 2 - 3) / stride + 1;
    omp_set_num_threads(2);
    printf("3. 1x1 %d->%d at %dx%d + SiLU + 3x3 depthwise stride %d + SiLU, batch 8, two threads\n",
           ic, oc, h, h, stride);
    static const dnnl_format_tag_t tags[2] = {dnnl_nhwc, dnnl_nChw16c};
    for (int t = 0; t < 2; t++) {
        dnnl_memory_t x = act(n, ic, h, tags[t], 7), mid, y1, y2;
        dnnl_memory_desc_t mmd, ymd;
        any_md(&mmd, n, oc, h, tags[t]);
        any_md(&ymd, n, oc, oh, tags[t]);
        struct prim a, b, f;
        /* Each conv followed by SiLU, as in efficientnet_b0's blocks. */
        dnnl_post_ops_t sw, po;
        CK(dnnl_post_ops_create(&sw));
        CK(dnnl_post_ops_append_eltwise(sw, 1, dnnl_eltwise_swish, 1, 0));
        conv(&a, x, &mmd, oc, 1, 1, 1, sw, 2, &mid);
        conv(&b, mid, &ymd, oc, 3, stride, oc, sw, 4, &y1);
        CK(dnnl_post_ops_create(&po));
        CK(dnnl_post_ops_append_eltwise(po, 1, dnnl_eltwise_swish, 1, 0));
        CK(dnnl_post_ops_append_dw(po, dnnl_f32, dnnl_f32, dnnl_f32, 3, stride, 1, 0, 0, NULL));
        CK(dnnl_post_ops_append_eltwise(po, 1, dnnl_eltwise_swish, 1, 0));
        conv(&f, x, &mmd, oc, 1, 1, 1, po, 2, &y2);
        dnnl_post_ops_destroy(sw);
        dnnl_post_ops_destroy(po);
        struct two sep = {&a, &b};
        double ts = median_ms(run_two, &sep), tf = median_ms(run_prim, &f);
        float *p1 = plain(y1), *p2 = plain(y2);
        double d = 0;
        for (size_t i = 0; i < (size_t)n * oc * oh * oh; i++) {
            double e = fabs((double)p1[i] - p2[i]);
            if (!(e <= d)) d = e; /* NaN counts */
        }
        printf("\n   %s: separate %.3f ms, fused %.3f ms, max |fused - separate| %g\n",
               t ? "nChw16c" : "channels-last", ts, tf, d);
        if (t)
            printf("   reorders around it from channels-last: in %.3f ms, out %.3f ms\n",
                   reorder_ms(x, 1), reorder_ms(y2, 0));
        free(p1), free(p2);
    }
}

/* x's source, weights and destination: new memories in pd's layouts, zeroed
 * or filled with values from seeds 1, 2, 3. */
static void conv_args(struct prim *x, const_dnnl_primitive_desc_t pd, int zero)
{
    dnnl_query_t q[3] = {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md};
    int args[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
    for (int k = 0; k < 3; k++) {
        const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, q[k], 0);
        dnnl_memory_t m = mem(md);
        if (zero) {
            void *h;
            CK(dnnl_memory_get_data_handle(m, &h));
            memset(h, 0, dnnl_memory_desc_get_size(md));
        } else {
            fill(m, (unsigned)k + 1);
        }
        x->a[k] = (dnnl_exec_arg_t){args[k], m};
    }
    x->n = 3;
}

/* One convolution (batch n, ic -> oc, h x h, k x k, stride 1, pad k/2,
 * channels-last source, two threads) in float32, bf16 or (dt u8) int8 as
 * the region runs it: u8 source, s8 weights, float32 destination, output
 * scales per channel and the source's scale as a binary-multiply post-op
 * (src/engine/dnnl/q8.c). Prints the median and GFLOP/s (int8: GOP/s). */
static void conv_prec(int n, int ic, int oc, int h, int k, dnnl_data_type_t dt)
{
    omp_set_num_threads(2);
    int q8 = dt == dnnl_u8;
    dnnl_memory_desc_t xmd, wmd, ymd, one;
    dnnl_dims_t xd = {n, ic, h, h}, wd = {oc, ic, k, k}, yd = {n, oc, h, h}, st = {1, 1};
    dnnl_dims_t pad = {k / 2, k / 2}, d1 = {1, 1, 1, 1};
    CK(dnnl_memory_desc_init_by_tag(&xmd, 4, xd, dt, dnnl_nhwc));
    CK(dnnl_memory_desc_init_by_tag(&wmd, 4, wd, q8 ? dnnl_s8 : dt, dnnl_format_tag_any));
    CK(dnnl_memory_desc_init_by_tag(&ymd, 4, yd, q8 ? dnnl_f32 : dt, dnnl_format_tag_any));
    CK(dnnl_memory_desc_init_by_tag(&one, 4, d1, dnnl_f32, dnnl_abcd));
    dnnl_convolution_desc_t cd;
    CK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                          &xmd, &wmd, NULL, &ymd, st, pad, pad));
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    float *sc = calloc((size_t)oc, sizeof *sc);
    for (int i = 0; i < oc; i++) sc[i] = 0.01f;
    if (q8) {
        CK(dnnl_primitive_attr_create(&attr));
        CK(dnnl_primitive_attr_set_output_scales(attr, oc, 1 << 1, sc));
        CK(dnnl_post_ops_create(&po));
        CK(dnnl_post_ops_append_binary(po, dnnl_binary_mul, &one));
        CK(dnnl_primitive_attr_set_post_ops(attr, po));
    }
    dnnl_primitive_desc_t pd;
    CK(dnnl_primitive_desc_create(&pd, &cd, attr, eng, NULL));
    struct prim x = {NULL, 3, {{0}}};
    CK(dnnl_primitive_create(&x.p, pd));
    conv_args(&x, pd, 1); /* zeros: the throughput does not depend on the values */
    dnnl_memory_t m1 = NULL;
    if (q8) {
        m1 = mem(&one);
        x.a[x.n++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, m1};
    }
    double ms = median_ms(run_prim, &x), gflop = 2.0 * n * h * h * oc * ic * k * k / 1e9;
    printf("   %s: %.3f ms, %.0f %s (%s)\n",
           q8               ? "int8"
           : dt == dnnl_f32 ? "f32 "
                            : "bf16",
           ms, gflop / ms * 1e3, q8 ? "GOP/s" : "GFLOP/s", impl(pd));
    for (int i = 0; i < x.n; i++) dnnl_memory_destroy(x.a[i].memory);
    dnnl_primitive_destroy(x.p);
    dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    free(sc);
}

/* Every avx512 implementation oneDNN offers for one convolution (channels-
 * last, two threads): time to create the primitive and median run. group
 * == ic is a depthwise conv (section 5), group 1 a plain one (section 10). */
static void conv_impls(int n, int ic, int oc, int h, int k, int stride, int group)
{
    omp_set_num_threads(2);
    int oh = (h + 2 * (k / 2) - k) / stride + 1;
    dnnl_memory_desc_t xmd, wmd, ymd;
    dnnl_dims_t xd = {n, ic, h, h}, yd = {n, oc, oh, oh};
    dnnl_dims_t wd = {group, oc / group, ic / group, k, k}, wd1 = {oc, ic, k, k};
    dnnl_dims_t st = {stride, stride}, pad = {k / 2, k / 2};
    CK(dnnl_memory_desc_init_by_tag(&xmd, 4, xd, dnnl_f32, dnnl_nhwc));
    if (group > 1)
        CK(dnnl_memory_desc_init_by_tag(&wmd, 5, wd, dnnl_f32, dnnl_format_tag_any));
    else
        CK(dnnl_memory_desc_init_by_tag(&wmd, 4, wd1, dnnl_f32, dnnl_format_tag_any));
    CK(dnnl_memory_desc_init_by_tag(&ymd, 4, yd, dnnl_f32, dnnl_nhwc));
    dnnl_convolution_desc_t cd;
    CK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                          &xmd, &wmd, NULL, &ymd, st, pad, pad));
    dnnl_primitive_desc_iterator_t it;
    CK(dnnl_primitive_desc_iterator_create(&it, &cd, NULL, eng, NULL));
    if (group > 1)
        printf("   batch %d, %d channels, %dx%d, %dx%d stride %d:", n, ic, h, h, k, k, stride);
    else
        printf("   batch %d, %d->%d, %dx%d, %dx%d stride %d:", n, ic, oc, h, h, k, k, stride);
    do {
        dnnl_primitive_desc_t pd = dnnl_primitive_desc_iterator_fetch(it);
        const char *name = impl(pd);
        if (!strstr(name, "avx512")) {
            dnnl_primitive_desc_destroy(pd);
            continue;
        }
        struct prim x = {NULL, 3, {{0}}};
        double t0 = now_ms();
        CK(dnnl_primitive_create(&x.p, pd));
        double made = now_ms() - t0;
        conv_args(&x, pd, 0);
        printf("  %s create %.3f run %.4f ms;", name, made, median_ms(run_prim, &x));
        dnnl_primitive_destroy(x.p);
        for (int i = 0; i < 3; i++) dnnl_memory_destroy(x.a[i].memory);
        dnnl_primitive_desc_destroy(pd);
    } while (dnnl_primitive_desc_iterator_next(it) == dnnl_success);
    printf("\n");
    dnnl_primitive_desc_iterator_destroy(it);
}

/* 6: y[m, n] = x[m, k] w[n, k]^T + b as an inner product and as a matmul
 * (Gemm with transB, as ViT's attention projection and the classifier
 * heads have it): median run ms of each, two threads. */
static void ip_vs_matmul(int m, int k, int n)
{
    omp_set_num_threads(2);
    dnnl_memory_desc_t xmd, wmd, bmd, ymd;
    dnnl_dims_t xd = {m, k}, wd = {n, k}, bd = {n}, yd = {m, n};
    CK(dnnl_memory_desc_init_by_tag(&xmd, 2, xd, dnnl_f32, dnnl_ab));
    CK(dnnl_memory_desc_init_by_tag(&wmd, 2, wd, dnnl_f32, dnnl_format_tag_any));
    CK(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_a));
    CK(dnnl_memory_desc_init_by_tag(&ymd, 2, yd, dnnl_f32, dnnl_ab));
    dnnl_inner_product_desc_t ipd;
    CK(dnnl_inner_product_forward_desc_init(&ipd, dnnl_forward_inference, &xmd, &wmd, &bmd, &ymd));
    dnnl_memory_desc_t kn, b2;
    dnnl_dims_t knd = {k, n}, b2d = {1, n};
    CK(dnnl_memory_desc_init_by_tag(&kn, 2, knd, dnnl_f32, dnnl_format_tag_any));
    CK(dnnl_memory_desc_init_by_tag(&b2, 2, b2d, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t mmd;
    CK(dnnl_matmul_desc_init(&mmd, &xmd, &kn, &b2, &ymd));
    const_dnnl_op_desc_t descs[2] = {&ipd, &mmd};
    printf("   %dx%d times %dx%d:", m, k, k, n);
    for (int i = 0; i < 2; i++) {
        dnnl_primitive_desc_t pd;
        CK(dnnl_primitive_desc_create(&pd, descs[i], NULL, eng, NULL));
        struct prim x = {NULL, 4, {{0}}};
        CK(dnnl_primitive_create(&x.p, pd));
        dnnl_query_t q[3] = {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md};
        int args[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_BIAS};
        for (int a = 0; a < 4; a++) {
            const dnnl_memory_desc_t *md =
                a < 3 ? dnnl_primitive_desc_query_md(pd, q[a], 0)
                      : dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
            dnnl_memory_t mm = mem(md);
            fill(mm, (unsigned)a + 1);
            x.a[a] = (dnnl_exec_arg_t){args[a], mm};
        }
        double ms = median_ms(run_prim, &x);
        printf("  %s %s %.3f ms (%.0f GFLOP/s);", i ? "matmul" : "inner product", impl(pd), ms,
               2.0 * m * k * n / ms / 1e6);
        dnnl_primitive_destroy(x.p);
        for (int a = 0; a < 4; a++) dnnl_memory_destroy(x.a[a].memory);
        dnnl_primitive_desc_destroy(pd);
    }
    printf("\n");
}

/* q k^T as vit_b_16's attention has it at batch 1 (12 heads, 197 tokens, 64
 * wide), in bf16: k^T read as a strided view of k's [tokens, heads, 64]
 * bytes, or first copied (reorder) into a plain or an "acb" (each head's k
 * stored whole, read transposed) buffer. Times are the copy plus the matmul. */
static void attention_kt(void)
{
    omp_set_num_threads(2);
    const int H = 12, S = 197, D = 64;
    dnnl_memory_desc_t qmd, pmd, view, dense[2];
    dnnl_dims_t qd = {H, S, D}, ktd = {H, D, S}, pd3 = {H, S, S};
    dnnl_dims_t vstr = {D, 1, H * D}, acb = {S * D, 1, D};
    CK(dnnl_memory_desc_init_by_tag(&qmd, 3, qd, dnnl_bf16, dnnl_abc));
    CK(dnnl_memory_desc_init_by_tag(&pmd, 3, pd3, dnnl_bf16, dnnl_abc));
    CK(dnnl_memory_desc_init_by_strides(&view, 3, ktd, dnnl_bf16, vstr));
    CK(dnnl_memory_desc_init_by_tag(&dense[0], 3, ktd, dnnl_bf16, dnnl_abc));
    CK(dnnl_memory_desc_init_by_strides(&dense[1], 3, ktd, dnnl_bf16, acb));
    dnnl_memory_t q = mem(&qmd), k = mem(&view), p = mem(&pmd);
    fill_logical(q, 1), fill_logical(k, 2);
    static const char *names[3] = {"strided view", "plain copy", "acb copy"};
    for (int v = 0; v < 3; v++) {
        const dnnl_memory_desc_t *wmd = v ? &dense[v - 1] : &view;
        dnnl_matmul_desc_t mmd;
        dnnl_primitive_desc_t mpd, rpd = NULL;
        CK(dnnl_matmul_desc_init(&mmd, &qmd, wmd, NULL, &pmd));
        CK(dnnl_primitive_desc_create(&mpd, &mmd, NULL, eng, NULL));
        struct prim mm = {NULL, 3, {{0}}}, cp = {NULL, 2, {{0}}};
        dnnl_memory_t kd = v ? mem(wmd) : k;
        CK(dnnl_primitive_create(&mm.p, mpd));
        mm.a[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, q};
        mm.a[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, kd};
        mm.a[2] = (dnnl_exec_arg_t){DNNL_ARG_DST, p};
        double ms_cp = 0;
        if (v) {
            CK(dnnl_reorder_primitive_desc_create(&rpd, &view, eng, wmd, eng, NULL));
            CK(dnnl_primitive_create(&cp.p, rpd));
            cp.a[0] = (dnnl_exec_arg_t){DNNL_ARG_FROM, k};
            cp.a[1] = (dnnl_exec_arg_t){DNNL_ARG_TO, kd};
            ms_cp = median_ms(run_prim, &cp);
        }
        double ms = median_ms(run_prim, &mm);
        printf("   %s: copy %.3f ms + matmul %s %.3f ms = %.3f ms\n", names[v], ms_cp, impl(mpd),
               ms, ms_cp + ms);
        dnnl_primitive_destroy(mm.p);
        if (v) {
            dnnl_primitive_destroy(cp.p);
            dnnl_primitive_desc_destroy(rpd);
            dnnl_memory_destroy(kd);
        }
        dnnl_primitive_desc_destroy(mpd);
    }
    dnnl_memory_destroy(q), dnnl_memory_destroy(k), dnnl_memory_destroy(p);
}

/* Median ms of the primitive for desc with post-ops po, its source,
 * weights and destination in the layouts it picks (filled as fill_logical
 * does), plus a bias of bmd unless NULL. name gets a copy of the
 * implementation's name: the pd that owns it is destroyed here. */
static double time_prim(const_dnnl_op_desc_t desc, const_dnnl_post_ops_t po,
                        const dnnl_memory_desc_t *bmd, char name[64])
{
    dnnl_primitive_attr_t attr;
    CK(dnnl_primitive_attr_create(&attr));
    CK(dnnl_primitive_attr_set_post_ops(attr, po));
    dnnl_primitive_desc_t pd;
    CK(dnnl_primitive_desc_create(&pd, desc, attr, eng, NULL));
    struct prim x = {NULL, 3, {{0}}};
    CK(dnnl_primitive_create(&x.p, pd));
    dnnl_query_t q[3] = {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md};
    int args[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
    for (int a = 0; a < 3; a++) {
        x.a[a] = (dnnl_exec_arg_t){args[a], mem(dnnl_primitive_desc_query_md(pd, q[a], 0))};
        fill_logical(x.a[a].memory, (unsigned)a + 1);
    }
    if (bmd) {
        x.a[x.n] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, mem(bmd)};
        fill_logical(x.a[x.n++].memory, 9);
    }
    double ms = median_ms(run_prim, &x);
    snprintf(name, 64, "%s", impl(pd));
    dnnl_primitive_destroy(x.p);
    for (int a = 0; a < x.n; a++) dnnl_memory_destroy(x.a[a].memory);
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return ms;
}

/* 8: resnet50's convolutions at batch 1 in float32 with ReLU (two threads),
 * in channels-last as the region runs them and in the layout oneDNN picks
 * for "any" (nChw16c here), without the reorders a mixed net would add:
 * whether a per-convolution layout could pay. Shapes and counts per image. */
/* A convolution with bias (ic -> oc, k x k, stride s, same padding) with
 * activations in layout tag and weights in "any"; *bmd the bias's md. */
static void conv_desc(int ic, int oc, int h, int k, int s, dnnl_format_tag_t tag,
                      dnnl_convolution_desc_t *cd, dnnl_memory_desc_t *bmd)
{
    int oh = (h + 2 * (k / 2) - k) / s + 1;
    dnnl_memory_desc_t xmd, wmd, ymd;
    dnnl_dims_t xd = {1, ic, h, h}, wd = {oc, ic, k, k}, bd = {oc}, yd = {1, oc, oh, oh};
    dnnl_dims_t st = {s, s}, pad = {k / 2, k / 2};
    CK(dnnl_memory_desc_init_by_tag(&xmd, 4, xd, dnnl_f32, tag));
    CK(dnnl_memory_desc_init_by_tag(&wmd, 4, wd, dnnl_f32, dnnl_format_tag_any));
    CK(dnnl_memory_desc_init_by_tag(bmd, 1, bd, dnnl_f32, dnnl_a));
    CK(dnnl_memory_desc_init_by_tag(&ymd, 4, yd, dnnl_f32, tag));
    CK(dnnl_convolution_forward_desc_init(cd, dnnl_forward_inference, dnnl_convolution_direct, &xmd,
                                          &wmd, bmd, &ymd, st, pad, pad));
}

static double conv_layout_ms(int ic, int oc, int h, int k, int s, dnnl_format_tag_t tag,
                             char name[64])
{
    dnnl_memory_desc_t bmd;
    dnnl_convolution_desc_t cd;
    conv_desc(ic, oc, h, k, s, tag, &cd, &bmd);
    dnnl_post_ops_t po;
    CK(dnnl_post_ops_create(&po));
    CK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
    double ms = time_prim(&cd, po, &bmd, name);
    dnnl_post_ops_destroy(po);
    return ms;
}

/* resnet50's convolutions at batch 1: ic, oc, h, k, stride, count. */
static const int r50[][6] = {
    /* ic, oc, h, k, stride, count */
    {3, 64, 224, 7, 2, 1},    {64, 64, 56, 1, 1, 1},    {64, 64, 56, 3, 1, 3},
    {64, 256, 56, 1, 1, 4},   {256, 64, 56, 1, 1, 2},   {256, 128, 56, 1, 1, 1},
    {128, 128, 56, 3, 2, 1},  {128, 512, 28, 1, 1, 4},  {256, 512, 28, 1, 1, 1},
    {512, 128, 28, 1, 1, 3},  {128, 128, 28, 3, 1, 3},  {512, 256, 28, 1, 1, 1},
    {256, 256, 28, 3, 2, 1},  {256, 1024, 14, 1, 1, 6}, {512, 1024, 14, 1, 1, 1},
    {1024, 256, 14, 1, 1, 5}, {256, 256, 14, 3, 1, 5},  {1024, 512, 14, 1, 1, 1},
    {512, 512, 14, 3, 2, 1},  {512, 2048, 7, 1, 1, 3},  {1024, 2048, 7, 1, 1, 1},
    {2048, 512, 7, 1, 1, 2},  {512, 512, 7, 3, 1, 2}};

static void resnet50_layouts(void)
{
    const int(*cv)[6] = r50;
    omp_set_num_threads(2);
    double tot[2] = {0, 0};
    for (size_t i = 0; i < sizeof r50 / sizeof r50[0]; i++) {
        const int *c = cv[i];
        char n0[64], n1[64];
        double a = conv_layout_ms(c[0], c[1], c[2], c[3], c[4], dnnl_nhwc, n0);
        double b = conv_layout_ms(c[0], c[1], c[2], c[3], c[4], dnnl_format_tag_any, n1);
        printf("   %4d->%-4d %3dx%-3d k%d s%d x%d: nhwc %.3f ms (%s), any %.3f ms (%s)\n", c[0],
               c[1], c[2], c[2], c[3], c[4], c[5], a, n0, b, n1);
        tot[0] += a * c[5], tot[1] += b * c[5];
    }
    printf("   per image: nhwc %.2f ms, any %.2f ms\n", tot[0], tot[1]);
}

/* 11: resnet50's convolutions run in the net's order at batch 1 (float32,
 * ReLU, channels-last, two threads), each instance with weights of its own
 * (94 MB in all, as in the net) against each instance reusing one weight
 * buffer per shape (hot in the caches, as section 8 times them): what
 * streaming the weights from the L3 or memory costs at batch 1. The
 * activations are one input and one output buffer per shape either way. */
struct r50_conv {
    dnnl_primitive_t p;
    dnnl_memory_t x, y, b, *w;
    int count;
};

static double r50_sequence(struct r50_conv *cv, int n, int own)
{
    double t0 = now_ms();
    for (int i = 0; i < n; i++)
        for (int j = 0; j < cv[i].count; j++) {
            dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, cv[i].x},
                                    {DNNL_ARG_WEIGHTS, cv[i].w[own ? j : 0]},
                                    {DNNL_ARG_BIAS, cv[i].b},
                                    {DNNL_ARG_DST, cv[i].y}};
            CK(dnnl_primitive_execute(cv[i].p, strm, 4, a));
        }
    CK(dnnl_stream_wait(strm));
    return now_ms() - t0;
}

static void resnet50_streamed(void)
{
    enum { N = (int)(sizeof r50 / sizeof r50[0]), RUNS = 21 };
    struct r50_conv cv[N];
    omp_set_num_threads(2);
    double wmb = 0;
    for (int i = 0; i < N; i++) {
        const int *c = r50[i];
        dnnl_memory_desc_t bmd;
        dnnl_convolution_desc_t cd;
        conv_desc(c[0], c[1], c[2], c[3], c[4], dnnl_nhwc, &cd, &bmd);
        dnnl_post_ops_t po;
        dnnl_primitive_attr_t attr;
        CK(dnnl_post_ops_create(&po));
        CK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
        CK(dnnl_primitive_attr_create(&attr));
        CK(dnnl_primitive_attr_set_post_ops(attr, po));
        dnnl_primitive_desc_t pd;
        CK(dnnl_primitive_desc_create(&pd, &cd, attr, eng, NULL));
        CK(dnnl_primitive_create(&cv[i].p, pd));
        cv[i].count = c[5];
        cv[i].x = mem(dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0));
        cv[i].y = mem(dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0));
        cv[i].b = mem(&bmd);
        fill_logical(cv[i].x, 1);
        fill_logical(cv[i].b, 2);
        cv[i].w = malloc(sizeof *cv[i].w * (size_t)c[5]);
        if (!cv[i].w) exit(1);
        const dnnl_memory_desc_t *w = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        for (int j = 0; j < c[5]; j++) {
            cv[i].w[j] = mem(w);
            fill_logical(cv[i].w[j], 3 + (unsigned)j);
        }
        wmb += (double)dnnl_memory_desc_get_size(w) * c[5] / (1 << 20);
        dnnl_primitive_desc_destroy(pd);
        dnnl_primitive_attr_destroy(attr);
        dnnl_post_ops_destroy(po);
    }
    /* Alternating, so that the host's drift falls on both alike. */
    double t[2][RUNS];
    for (int r = 0; r < RUNS + 2; r++)
        for (int own = 0; own < 2; own++) {
            double ms = r50_sequence(cv, N, own);
            if (r >= 2) t[own][r - 2] = ms;
        }
    for (int own = 0; own < 2; own++) qsort(t[own], RUNS, sizeof(double), cmp);
    printf(
        "   weights %.1f MiB; per image, median (min) of %d: one buffer per shape %.2f (%.2f) ms, "
        "each conv its own %.2f (%.2f) ms\n",
        wmb, RUNS, t[0][RUNS / 2], t[0][0], t[1][RUNS / 2], t[1][0]);
    for (int i = 0; i < N; i++) {
        dnnl_primitive_destroy(cv[i].p);
        dnnl_memory_destroy(cv[i].x);
        dnnl_memory_destroy(cv[i].y);
        dnnl_memory_destroy(cv[i].b);
        for (int j = 0; j < cv[i].count; j++) dnnl_memory_destroy(cv[i].w[j]);
        free(cv[i].w);
    }
}

/* 9: vit_b_16's four weight matmuls at batch 1 (197 tokens) in bf16, two
 * threads, bare and with the post-op the region gives each (fc1's GELU,
 * fc2's residual sum): what the post-ops cost on AMX. */
struct gelu_arg {
    uint16_t *x;
    size_t n;
};

static void run_gelu(void *arg)
{
    struct gelu_arg *g = arg;
    dn_gelu_bf16(g->x, g->n);
}

static double mm_bf16_ms(int m, int k, int n, int post, char name[64])
{
    dnnl_memory_desc_t xmd, wmd, ymd;
    dnnl_dims_t xd = {m, k}, wd = {k, n}, yd = {m, n};
    CK(dnnl_memory_desc_init_by_tag(&xmd, 2, xd, dnnl_bf16, dnnl_ab));
    CK(dnnl_memory_desc_init_by_tag(&wmd, 2, wd, dnnl_bf16, dnnl_format_tag_any));
    CK(dnnl_memory_desc_init_by_tag(&ymd, 2, yd, dnnl_bf16, dnnl_ab));
    dnnl_matmul_desc_t mmd;
    CK(dnnl_matmul_desc_init(&mmd, &xmd, &wmd, NULL, &ymd));
    dnnl_post_ops_t po;
    CK(dnnl_post_ops_create(&po));
    if (post == 1) CK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_erf, 0.0f, 0.0f));
    if (post == 2) CK(dnnl_post_ops_append_sum(po, 1.0f));
    double ms = time_prim(&mmd, po, NULL, name);
    dnnl_post_ops_destroy(po);
    return ms;
}

static void vit_matmuls(void)
{
    static const int mm[][4] = {/* k, n, the region's post-op (1 GELU, 2 sum) */
                                {768, 2304, 0},
                                {768, 768, 2},
                                {768, 3072, 1},
                                {3072, 768, 2}};
    static const char *post_name[3] = {"", "gelu_erf", "sum"};
    omp_set_num_threads(2);
    for (size_t i = 0; i < sizeof mm / sizeof mm[0]; i++) {
        char n0[64], n1[64] = "";
        double a = mm_bf16_ms(197, mm[i][0], mm[i][1], 0, n0), b = 0;
        if (mm[i][2]) b = mm_bf16_ms(197, mm[i][0], mm[i][1], mm[i][2], n1);
        double gf = 2.0 * 197 * mm[i][0] * mm[i][1] / 1e6;
        printf("   197x%d times %dx%d: bare %.3f ms (%.0f GFLOP/s, %s)", mm[i][0], mm[i][0],
               mm[i][1], a, gf / a, n0);
        if (mm[i][2]) printf(", with %s %.3f ms (%s)", post_name[mm[i][2]], b, n1);
        printf("\n");
    }
    static uint16_t h[197 * 3072];
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) h[i] = (uint16_t)(0x3F00 + (i % 509));
    struct gelu_arg g = {h, sizeof h / sizeof h[0]};
    double two = median_ms(run_gelu, &g);
    omp_set_num_threads(1);
    double one = median_ms(run_gelu, &g);
    omp_set_num_threads(2);
    printf(
        "   our GELU step (gelu.c) over fc1's 197x3072 bf16 output: %.3f ms on two threads, %.3f "
        "on one\n",
        two, one);
}

/* Section 13: packing one float32 weight into the blocked layout a
 * primitive asked for, oneDNN's reorder (made and run, as pack.c does)
 * against packw.c's loop: the shapes of resnet50's 1x1 convolutions,
 * mobilenet_v3_large's depthwise and transposed Gemm weights, vit_b_16's
 * matmul weights. */
struct pack_arg {
    dnnl_memory_desc_t src, dst;
    float *w, *a, *b;
    int ours;
};

static void pack_once(void *arg)
{
    struct pack_arg *p = arg;
    if (p->ours)
        dn_pack_blocked_any(&p->src, p->w, &p->dst, p->b);
    else
        CK(dn_reorder_run(eng, &p->src, p->w, &p->dst, p->a));
}

static void pack_weights(void)
{
    static const struct {
        int nd;
        int64_t d[5];
        dnnl_format_tag_t s, t;
        const char *what;
    } cs[] = {
        {4, {256, 64, 1, 1}, dnnl_abcd, dnnl_Acdb48a, "1x1 Acdb48a"},
        {4, {1024, 256, 1, 1}, dnnl_abcd, dnnl_Acdb48a, "1x1 Acdb48a"},
        {4, {512, 2048, 1, 1}, dnnl_abcd, dnnl_Acdb48a, "1x1 Acdb48a"},
        {4, {2048, 512, 1, 1}, dnnl_abcd, dnnl_Acdb48a, "1x1 Acdb48a"},
        {4, {1024, 256, 1, 1}, dnnl_abcd, dnnl_Acdb64a, "1x1 Acdb64a"},
        {4, {2048, 512, 1, 1}, dnnl_abcd, dnnl_Acdb64a, "1x1 Acdb64a"},
        {4, {960, 160, 1, 1}, dnnl_abcd, dnnl_Acdb16a, "1x1 Acdb16a"},
        {4, {160, 960, 1, 1}, dnnl_abcd, dnnl_Acdb32a, "1x1 Acdb32a"},
        {4, {256, 256, 3, 3}, dnnl_abcd, dnnl_ABcd16b16a, "3x3 ABcd16b16a"},
        {4, {64, 64, 3, 3}, dnnl_abcd, dnnl_Acdb32a, "3x3 Acdb32a"},
        {4, {256, 256, 3, 3}, dnnl_abcd, dnnl_Acdb32a, "3x3 Acdb32a"},
        {4, {512, 512, 3, 3}, dnnl_abcd, dnnl_Acdb32a, "3x3 Acdb32a"},
        {5, {960, 1, 1, 5, 5}, dnnl_abcde, dnnl_Abcde16a, "dw 5x5 Abcde16a"},
        {5, {240, 1, 1, 3, 3}, dnnl_abcde, dnnl_Abcde16a, "dw 3x3 Abcde16a"},
        {2, {960, 1280, 0, 0}, dnnl_ba, dnnl_BA16a64b, "Gemm^T BA16a64b"},
        {2, {1280, 32, 0, 0}, dnnl_ba, dnnl_BA16a64b, "Gemm^T BA16a64b"},
        {2, {768, 3072, 0, 0}, dnnl_ab, dnnl_BA16a64b, "MatMul BA16a64b"},
        {2, {768, 768, 0, 0}, dnnl_ab, dnnl_BA16a64b, "MatMul BA16a64b"},
    };
    const size_t nc = sizeof cs / sizeof cs[0];
    for (int th = 1; th <= 2; th++) {
        omp_set_num_threads(th);
        printf("  %d thread%s\n", th, th > 1 ? "s" : "");
        for (size_t i = 0; i < nc; i++) {
            struct pack_arg p;
            dnnl_dims_t d = {0};
            size_t n = 1;
            for (int k = 0; k < cs[i].nd; k++) d[k] = cs[i].d[k], n *= (size_t)cs[i].d[k];
            CK(dnnl_memory_desc_init_by_tag(&p.src, cs[i].nd, d, dnnl_f32, cs[i].s));
            CK(dnnl_memory_desc_init_by_tag(&p.dst, cs[i].nd, d, dnnl_f32, cs[i].t));
            size_t nd = dnnl_memory_desc_get_size(&p.dst);
            p.w = malloc(n * sizeof(float)); /* checksrc: ok (a benchmark) */
            p.a = malloc(nd);                /* checksrc: ok */
            p.b = malloc(nd);                /* checksrc: ok */
            for (size_t k = 0; k < n; k++) p.w[k] = (float)(k % 977) - 488.0f;
            /* First: as a net's first run meets it, the destination's pages
             * untouched and (on the first pass) the reorder not yet made. */
            double t[2], first[2];
            for (p.ours = 0; p.ours < 2; p.ours++) {
                double a = now_ms();
                pack_once(&p);
                first[p.ours] = now_ms() - a;
            }
            for (p.ours = 0; p.ours < 2; p.ours++) t[p.ours] = median_ms(pack_once, &p);
            int same = !memcmp(p.a, p.b, nd);
            double mb = (double)n * 4 / 1e6;
            printf("  %-16s %4ldx%-4ldx%ld%s: first oneDNN %.3f ours %.3f; median oneDNN %.3f "
                   "(%.1f GB/s), ours %.3f (%.1f GB/s)%s%s\n",
                   cs[i].what, (long)d[0], (long)d[1], cs[i].nd > 2 ? (long)d[2] : 1L,
                   cs[i].s == dnnl_ba ? " from ba" : "", first[0], first[1], t[0], mb / t[0], t[1],
                   mb / t[1], dn_pack_blocked(&p.src, p.w, &p.dst, p.b) == 0 ? "  [net: ours]" : "",
                   same ? "" : "  RESULTS DIFFER");
            free(p.w), free(p.a), free(p.b); /* checksrc: ok */
        }
    }
}

int main(int argc, char **argv)
{
    int only = argc > 1 ? atoi(argv[1]) : 0; /* a section number: that section alone */
    CK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CK(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));
    if (!only || only == 1) eltwise_costs();
    if (!only || only == 2) swish_post();
    if (!only || only == 3) {
        dw_fusion(16, 96, 112, 2);
        dw_fusion(24, 144, 56, 1);
    }
    if (!only || only == 4) {
        printf("4. 3x3 conv 256->256 at 14x14, batch 8, two threads, median\n");
        conv_prec(8, 256, 256, 14, 3, dnnl_f32);
        conv_prec(8, 256, 256, 14, 3, dnnl_bf16);
        conv_prec(8, 256, 256, 14, 3, dnnl_u8);
    }
    if (!only || only == 5) {
        printf(
            "5. depthwise convs, float32, each avx512 implementation: create ms, median run ms\n");
        const int dw[][5] = {{1, 32, 112, 3, 1}, {1, 96, 112, 3, 2}, {1, 144, 56, 5, 2},
                             {1, 240, 28, 3, 1}, {1, 480, 14, 5, 1}, {1, 1152, 7, 5, 1},
                             {8, 96, 112, 3, 2}, {8, 144, 56, 3, 1}, {8, 672, 14, 5, 1}};
        for (size_t i = 0; i < sizeof dw / sizeof dw[0]; i++)
            conv_impls(dw[i][0], dw[i][1], dw[i][1], dw[i][2], dw[i][3], dw[i][4], dw[i][1]);
    }
    if (!only || only == 6) {
        printf("6. x w^T + b (Gemm, transB), float32, two threads: inner product and matmul\n");
        ip_vs_matmul(197, 768, 768);
        ip_vs_matmul(1576, 768, 768);
        ip_vs_matmul(1, 2048, 32);
        ip_vs_matmul(8, 1280, 1280);
    }
    if (!only || only == 7) {
        printf("7. q k^T, bf16, 12x197x64 times 12x64x197, two threads, median\n");
        attention_kt();
    }
    if (!only || only == 8) {
        printf("8. resnet50's convolutions + ReLU, batch 1, float32, two threads, median ms\n");
        resnet50_layouts();
    }
    if (!only || only == 9) {
        printf("9. vit_b_16's weight matmuls, bf16, batch 1, two threads, bare and with the "
               "post-op\n");
        vit_matmuls();
    }
    if (!only || only == 11) {
        printf("11. resnet50's convolutions in order, batch 1, float32, two threads: weights "
               "shared per shape or streamed\n");
        resnet50_streamed();
    }
    if (!only || only == 12) {
        printf("12. resnet50's convolutions at batch 1 in f32, bf16 and int8 (as region.c runs "
               "int8), two threads, median\n");
        const int rc[][4] = {{64, 64, 56, 3},   {64, 256, 56, 1},   {256, 64, 56, 1},
                             {128, 128, 28, 3}, {1024, 256, 14, 1}, {512, 512, 7, 3}};
        for (size_t i = 0; i < sizeof rc / sizeof rc[0]; i++) {
            printf("  %d->%d at %dx%d, %dx%d\n", rc[i][0], rc[i][1], rc[i][2], rc[i][2], rc[i][3],
                   rc[i][3]);
            conv_prec(1, rc[i][0], rc[i][1], rc[i][2], rc[i][3], dnnl_f32);
            conv_prec(1, rc[i][0], rc[i][1], rc[i][2], rc[i][3], dnnl_bf16);
            conv_prec(1, rc[i][0], rc[i][1], rc[i][2], rc[i][3], dnnl_u8);
        }
    }
    if (!only || only == 10) {
        printf("10. 1x1 convs, float32, each avx512 implementation: create ms, median run ms\n");
        const int pw[][4] = {{16, 64, 112, 1},  {64, 24, 56, 1},   {24, 72, 56, 1},
                             {40, 240, 28, 1},  {112, 672, 14, 1}, {480, 120, 1, 1},
                             {960, 240, 1, 1},  {160, 960, 7, 1},  {1024, 256, 14, 1},
                             {2048, 512, 7, 1}, {96, 24, 56, 1},   {1152, 192, 7, 1}};
        for (size_t i = 0; i < sizeof pw / sizeof pw[0]; i++)
            conv_impls(1, pw[i][0], pw[i][1], pw[i][2], 1, pw[i][3], 1);
    }
    if (!only || only == 13) {
        printf("13. packing float32 weights into blocked layouts: oneDNN's reorder (made and "
               "run) against packw.c, median ms\n");
        pack_weights();
    }
    return 0;
}
