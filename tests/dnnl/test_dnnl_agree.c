/*
 * test_dnnl_agree.c - the oneDNN backend (MLC_BACKEND_AUTO) and the reference
 * kernels (MLC_BACKEND_REFERENCE) agree through the public mlc_net API, on
 * every fixture tests/fixtures/onnx/<name>.onnx (inputs <name>.in1.npy and
 * <name>.in3.npy, expected <name>.out1.npy / .out3.npy) and on
 * models/demo/weights.onnx.
 *
 * Bounds: f32 max |auto - ref| <= 1e-4 (and both within 1e-3 of the stored
 * outputs, which come from PyTorch); bf16 (opt-in) max |bf16 - ref| <= 0.05
 * on the outputs (sigmoid scores / logits of order 1), the bound documented
 * in docs/PERFORMANCE.md. Also: an input of the wrong rank is refused with
 * INVALID_ARGUMENT by both backends (no crash, no leak); sessions bound
 * concurrently on one net (shared weight packing) agree with the reference,
 * and so does a session bound on one thread and run on others; Gemm in the
 * forms the partition takes (transB 0 and 1) and one it must leave (a full
 * [M, N] bias) match naive loops on both backends.
 */
#include <dirent.h>
#include <pthread.h>
#include <unistd.h>
#include <stdint.h>

#include "../engine/mb.h"
#include "mlc.h"
#include "test.h"

static int last_split;      /* mlc_net_session_split after run_net's run */
static int run_threads = 2; /* run_net's thread count */

static int run_net(const char *onnx, mlc_backend be, mlc_precision pr, const mlc_tensor *in,
                   float **out_data, int64_t *n_out)
{
    mlc_model_options opt;
    mlc_model_options_default(&opt);
    opt.backend = be;
    opt.precision = pr;
    opt.threads = run_threads;
    mlc_error err = {0};
    mlc_net *net = NULL;
    mlc_net_session *ns = NULL;
    mlc_tensor out = {0};
    int ok = 0;
    if (mlc_net_load(onnx, &opt, &net, &err) || mlc_net_session_create(net, &ns, &err) ||
        mlc_net_run(ns, in, 1, &out, 1, &err)) {
        fprintf(stderr, "%s (backend %d, precision %d): %s\n", onnx, be, pr, err.message);
        goto done;
    }
    int64_t n = 1;
    for (int d = 0; d < out.rank; d++) n *= out.dims[d];
    *out_data = mlc_alloc((size_t)n * sizeof(float));
    memcpy(*out_data, out.data, (size_t)n * sizeof(float));
    *n_out = n;
    last_split = mlc_net_session_split(ns);
    ok = 1;
done:
    mlc_net_session_free(ns);
    mlc_net_free(net);
    return ok;
}

static double max_diff(const float *a, const float *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static int n_models;

/* Compares backends on model `onnx` with input `in_npy` (and expected output
 * `out_npy`, may be NULL). */
static void agree(const char *onnx, const char *in_npy, const char *out_npy)
{
    mlc_error err = {0};
    mlc_tensor in = {0}, expect = {0};
    float *ref = NULL, *aut = NULL, *bf = NULL, *q8 = NULL;
    int64_t n_ref = 0, n_aut = 0, n_bf = 0, n_q8 = 0;
    if (mlc_tensor_load_npy(in_npy, &in, &err)) {
        CHECK_MSG(0, "%s: %s", in_npy, err.message);
        return;
    }
    n_models++;
    CHECK(run_net(onnx, MLC_BACKEND_REFERENCE, MLC_PRECISION_F32, &in, &ref, &n_ref));
    CHECK(run_net(onnx, MLC_BACKEND_AUTO, MLC_PRECISION_F32, &in, &aut, &n_aut));
    CHECK(run_net(onnx, MLC_BACKEND_AUTO, MLC_PRECISION_BF16, &in, &bf, &n_bf));
    CHECK(run_net(onnx, MLC_BACKEND_AUTO, MLC_PRECISION_INT8, &in, &q8, &n_q8));
    if (ref && aut) {
        CHECK(n_ref == n_aut);
        double d = max_diff(ref, aut, n_ref);
        CHECK_MSG(d <= 1e-4, "%s on %s: f32 auto vs ref max |d| = %g", onnx, in_npy, d);
    }
    if (ref && bf) {
        /* bf16 keeps 8 mantissa bits: the bound is absolute for scores in
         * [0, 1] and relative for logits (the demo model outputs logits). */
        double d = 0, worst = 0;
        for (int64_t i = 0; i < n_ref; i++) {
            double e = fabs((double)ref[i] - bf[i]), lim = 0.08 + 0.01 * fabs((double)ref[i]);
            d = fmax(d, e);
            worst = fmax(worst, e / lim);
        }
        CHECK_MSG(worst <= 1.0, "%s on %s: bf16 vs ref max |d| = %g", onnx, in_npy, d);
        printf("%s %s: bf16 max |d| %.3g\n", onnx, in_npy, d);
    }
    if (ref && q8 && n_q8 == n_ref) {
        /* Random weights amplify int8's roundings through the layers (up
         * to 0.39 on these sigmoid scores, 1.7 on the demo's logits of
         * about 70 on a synthetic input; a trained net's stay close:
         * test_demo_reduced_classes): finite, in range, not garbage. */
        double d = 0, worst = 0;
        int finite = 1;
        for (int64_t i = 0; i < n_ref; i++) {
            double e = fabs((double)ref[i] - q8[i]);
            finite &= isfinite(q8[i]);
            d = fmax(d, e);
            worst = fmax(worst, e / (0.5 + 0.05 * fabs((double)ref[i]))); /* logits too */
        }
        CHECK_MSG(finite && worst <= 1.0, "%s on %s: int8 vs ref max |d| = %g", onnx, in_npy, d);
        printf("%s %s: int8 max |d| %.3g\n", onnx, in_npy, d);
    }
    if (out_npy && aut && !mlc_tensor_load_npy(out_npy, &expect, &err)) {
        int64_t n = 1;
        for (int d = 0; d < expect.rank; d++) n *= expect.dims[d];
        CHECK(n == n_aut);
        if (n == n_aut && expect.dtype == MLC_DTYPE_F32) {
            double d = max_diff(expect.data, aut, n);
            CHECK_MSG(d <= 1e-3, "%s: auto vs stored output max |d| = %g", out_npy, d);
        }
        mlc_free(expect.data);
    }
    mlc_free(in.data);
    mlc_free(ref);
    mlc_free(aut);
    mlc_free(bf);
    mlc_free(q8);
}

static void test_fixtures(void)
{
    char dir[4096];
    const char *over = getenv("MLC_DNNL_FIXTURES"); /* another fixture dir (local runs) */
    snprintf(dir, sizeof dir, "%s", over ? over : test_path("tests/fixtures/onnx"));
    DIR *d = opendir(dir);
    if (!d) {
        printf("no fixtures in %s\n", dir);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".onnx")) continue;
        char stem[256], base[4400], onnx[4500], in[4500], out[4500];
        snprintf(stem, sizeof stem, "%s", e->d_name);
        stem[n - 5 < sizeof stem ? n - 5 : sizeof stem - 1] = '\0';
        snprintf(base, sizeof base, "%s/%s", dir, stem);
        snprintf(onnx, sizeof onnx, "%s.onnx", base);
        for (int k = 1; k <= 3; k += 2) {
            snprintf(in, sizeof in, "%s.in%d.npy", base, k);
            snprintf(out, sizeof out, "%s.out%d.npy", base, k);
            FILE *f = fopen(in, "rb");
            if (!f) continue;
            fclose(f);
            agree(onnx, in, out);
        }
    }
    closedir(d);
}

static void test_demo(void)
{
    char onnx[4200];
    snprintf(onnx, sizeof onnx, "%s", test_path("models/demo/weights.onnx"));
    FILE *f = fopen(onnx, "rb");
    if (!f) {
        printf("no %s\n", onnx);
        return;
    }
    fclose(f);
    /* A deterministic input of the net's shape at batch 2. */
    mlc_error err = {0};
    mlc_net *net = NULL;
    CHECK_OK(mlc_net_load(onnx, NULL, &net, &err), &err);
    if (!net) return;
    mlc_tensor desc;
    mlc_net_input(net, 0, &desc);
    mlc_net_free(net);
    int64_t n = 1;
    for (int i = 0; i < desc.rank; i++) {
        if (desc.dims[i] < 0) desc.dims[i] = 2;
        n *= desc.dims[i];
    }
    float *p = mlc_alloc((size_t)n * sizeof *p);
    for (int64_t i = 0; i < n; i++) p[i] = (float)sin((double)i * 0.01);
    desc.data = p;
    desc.dtype = MLC_DTYPE_F32;
    char tmp[] = "/tmp/mlc_dnnl_demo_in_XXXXXX";
    int fd = mkstemp(tmp);
    if (fd >= 0) {
        close(fd);
        CHECK_OK(mlc_tensor_save_npy(tmp, &desc, &err), &err);
        agree(onnx, tmp, NULL);
        remove(tmp);
    }
    mlc_free(p);
}

/* bf16 and int8 vs f32 on the demo model's real test images
 * (tests/data/demo): the predicted classes (sigmoid(logit) > 0.5) must agree
 * on every image. (bench/agree.js measures the same on its 600 test
 * images, through `mlc classify`: docs/PERFORMANCE.md.) */
static void test_demo_reduced_classes(void)
{
    static const char *names[] = {"01_square_star",           "02_circle_triangle",
                                  "03_circle_triangle_cross", "04_square_cross",
                                  "05_square_triangle",       "06_cross",
                                  "07_square_triangle_star",  "08_triangle_star_cross"};
    static const mlc_precision precs[] = {MLC_PRECISION_BF16, MLC_PRECISION_INT8};
    char onnx[4200], path[4200];
    snprintf(onnx, sizeof onnx, "%s", test_path("models/demo/weights.onnx"));
    for (int pi = 0; pi < 2; pi++) {
        int n_img = 0, n_same = 0;
        double max_score = 0;
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
            mlc_error err = {0};
            mlc_tensor in = {0};
            char rel[256];
            snprintf(rel, sizeof rel, "tests/data/demo/%s.input.npy", names[k]);
            snprintf(path, sizeof path, "%s", test_path(rel));
            if (mlc_tensor_load_npy(path, &in, &err)) continue;
            float *f = NULL, *b = NULL;
            int64_t nf = 0, nb = 0;
            if (run_net(onnx, MLC_BACKEND_AUTO, MLC_PRECISION_F32, &in, &f, &nf) &&
                run_net(onnx, MLC_BACKEND_AUTO, precs[pi], &in, &b, &nb) && nf == nb) {
                int same = 1;
                for (int64_t i = 0; i < nf; i++) {
                    double sf = 1 / (1 + exp(-(double)f[i])), sb = 1 / (1 + exp(-(double)b[i]));
                    same &= (sf > 0.5) == (sb > 0.5);
                    max_score = fmax(max_score, fabs(sf - sb));
                }
                n_img++;
                n_same += same;
            }
            mlc_free(f);
            mlc_free(b);
            mlc_free(in.data);
        }
        printf("demo %s vs f32: classes equal on %d of %d images, max score diff %.4f\n",
               pi ? "int8" : "bf16", n_same, n_img, max_score);
        CHECK(n_img == 8 && n_same == n_img);
        /* int8's roundings move the scores more than bf16's, but far
         * less than a wrong kernel would (a missing scale or bias moves
         * them by most of [0, 1]). */
        CHECK_MSG(max_score <= (pi ? 0.05 : 0.01), "%s: max score diff %g", pi ? "int8" : "bf16",
                  max_score);
    }
}

/* int8 gives each image of a batch scales of its own (net.c runs an int8
 * batch one image per session, side by side on two threads): the demo
 * model's 8 test images as one batch score exactly as each alone, which
 * whole-batch scales do not. A float32 batch split the same way
 * (MLC_NET_CHUNK=1) also scores exactly as each image alone. "Alone" is on a
 * one-thread net, the kernels each side-by-side session runs: on two
 * threads oneDNN may split a reduction differently and round otherwise. */
static void per_image(mlc_precision pr)
{
    static const char *names[] = {"01_square_star",           "02_circle_triangle",
                                  "03_circle_triangle_cross", "04_square_cross",
                                  "05_square_triangle",       "06_cross",
                                  "07_square_triangle_star",  "08_triangle_star_cross"};
    enum { N = 8, PER = 3 * 96 * 96, C = 5 };
    char onnx[4200];
    snprintf(onnx, sizeof onnx, "%s", test_path("models/demo/weights.onnx"));
    float *batch = mlc_alloc(sizeof(float) * N * PER), alone[N * C];
    int n_ok = 0;
    run_threads = 1;
    for (int k = 0; k < N; k++) {
        char rel[256], path[4200];
        mlc_error err = {0};
        mlc_tensor in = {0};
        snprintf(rel, sizeof rel, "tests/data/demo/%s.input.npy", names[k]);
        snprintf(path, sizeof path, "%s", test_path(rel));
        if (mlc_tensor_load_npy(path, &in, &err)) continue;
        float *o = NULL;
        int64_t no = 0;
        if (in.rank == 4 && in.dims[0] == 1 && in.dims[1] * in.dims[2] * in.dims[3] == PER &&
            run_net(onnx, MLC_BACKEND_AUTO, pr, &in, &o, &no) && no == C) {
            memcpy(batch + k * PER, in.data, sizeof(float) * PER);
            memcpy(alone + k * C, o, sizeof(float) * C);
            n_ok++;
        }
        mlc_free(o);
        mlc_free(in.data);
    }
    CHECK(n_ok == N);
    mlc_tensor b = {MLC_DTYPE_F32, 4, {N, 3, 96, 96}, batch};
    float *o = NULL;
    int64_t no = 0;
    if (pr != MLC_PRECISION_INT8) setenv("MLC_NET_CHUNK", "1", 1);
    run_threads = 2;
    CHECK(run_net(onnx, MLC_BACKEND_AUTO, pr, &b, &o, &no) && no == N * C);
    unsetenv("MLC_NET_CHUNK");
    CHECK_MSG(last_split == 2, "precision %d: batch split %d", (int)pr, last_split);
    if (o && no == N * C && n_ok == N)
        CHECK_MSG(!memcmp(o, alone, sizeof alone),
                  "precision %d: batch of 8 against each alone: max |d| %g", (int)pr,
                  max_diff(o, alone, N * C));
    mlc_free(o);
    mlc_free(batch);
}

static void test_int8_per_image(void)
{
    per_image(MLC_PRECISION_INT8);
}

static void test_f32_per_image(void)
{
    per_image(MLC_PRECISION_F32);
}

/* Fixture `name` (tests/fixtures/onnx): its path in onnx, its 3-image input
 * in *in and the reference backend's output in *ref (caller frees both). */
static int fixture_ref(const char *name, char *onnx, size_t n, mlc_tensor *in, float **ref,
                       int64_t *n_ref)
{
    char in_path[4200];
    mlc_error err = {0};
    snprintf(onnx, n, "%s/%s.onnx", test_path("tests/fixtures/onnx"), name);
    snprintf(in_path, sizeof in_path, "%s/%s.in3.npy", test_path("tests/fixtures/onnx"), name);
    if (mlc_tensor_load_npy(in_path, in, &err)) {
        CHECK_MSG(0, "%s: %s", in_path, err.message);
        return 0;
    }
    CHECK(run_net(onnx, MLC_BACKEND_REFERENCE, MLC_PRECISION_F32, in, ref, n_ref));
    return 1;
}

/* One run on a thread of its own: on session ns, or (ns NULL) on a new
 * session of net made there. The output is copied to out. */
struct conc {
    const mlc_net *net;
    mlc_net_session *ns;
    const mlc_tensor *in;
    float *out;
    int64_t n;
    int ok;
};

static void *conc_run(void *arg)
{
    struct conc *j = arg;
    mlc_net_session *own = NULL;
    mlc_tensor out = {0};
    mlc_error err = {0};
    if ((!j->ns && mlc_net_session_create(j->net, &own, &err)) ||
        mlc_net_run(j->ns ? j->ns : own, j->in, 1, &out, 1, &err)) {
        fprintf(stderr, "run on a thread: %s\n", err.message);
    } else {
        j->n = 1;
        for (int d = 0; d < out.rank; d++) j->n *= out.dims[d];
        j->out = mlc_alloc((size_t)j->n * sizeof(float));
        if (j->out) memcpy(j->out, out.data, (size_t)j->n * sizeof(float)), j->ok = 1;
    }
    mlc_net_session_free(own);
    return NULL;
}

/* Sessions bound at the same time on one loaded net: they pack the shared
 * weights concurrently (each constant once, others wait for it) and each
 * bind makes its primitives on two threads. Every session's result equals
 * the reference backend's. */
static void test_concurrent_binds(void)
{
    static const char *names[] = {"efficientnet", "resnet"};
    for (int m = 0; m < 4; m++) {
        /* f32 against the reference; int8 (the weights quantized and packed
         * by whichever session comes first) session against session: the
         * same input gives the same scales, so the same bytes. */
        int q8 = m >= 2;
        char onnx[4200];
        mlc_error err = {0};
        mlc_tensor in = {0};
        float *ref = NULL;
        int64_t n_ref = 0;
        if (!fixture_ref(names[m % 2], onnx, sizeof onnx, &in, &ref, &n_ref)) continue;
        mlc_model_options opt;
        mlc_model_options_default(&opt);
        opt.backend = MLC_BACKEND_AUTO;
        opt.precision = q8 ? MLC_PRECISION_INT8 : MLC_PRECISION_F32;
        opt.threads = 2;
        mlc_net *net = NULL;
        CHECK_OK(mlc_net_load(onnx, &opt, &net, &err), &err);
        struct conc jobs[3] = {{net, NULL, &in, NULL, 0, 0},
                               {net, NULL, &in, NULL, 0, 0},
                               {net, NULL, &in, NULL, 0, 0}};
        pthread_t th[3];
        int started[3] = {0};
        for (int i = 0; net && i < 3; i++)
            started[i] = pthread_create(&th[i], NULL, conc_run, &jobs[i]) == 0;
        for (int i = 0; i < 3; i++)
            if (started[i]) pthread_join(th[i], NULL);
        for (int i = 0; i < 3; i++) {
            CHECK_MSG(jobs[i].ok, "%s: session %d failed", names[m % 2], i);
            const float *want = q8 ? jobs[0].out : ref;
            if (jobs[i].ok && want && jobs[0].ok) {
                CHECK(jobs[i].n == n_ref);
                double d = max_diff(want, jobs[i].out, n_ref);
                CHECK_MSG(d <= (q8 ? 1e-6 : 1e-4), "%s %s session %d: max |d| %g", names[m % 2],
                          q8 ? "int8" : "f32", i, d);
            }
        }
        for (int i = 0; i < 3; i++) mlc_free(jobs[i].out);
        mlc_net_free(net);
        mlc_free(ref);
        mlc_free(in.data);
    }
}

/* A session bound (first run) on one thread and run on another, as a
 * server's worker threads share sessions: every primitive's scratchpad must
 * be the session's, not the binding thread's. */
static void run_on_other_thread(const char *name)
{
    char onnx[4200];
    mlc_error err = {0};
    mlc_tensor in = {0}, out = {0};
    float *ref = NULL;
    int64_t n_ref = 0;
    if (!fixture_ref(name, onnx, sizeof onnx, &in, &ref, &n_ref)) return;
    for (int bf = 0; bf < 2; bf++) {
        mlc_model_options opt;
        mlc_model_options_default(&opt);
        opt.backend = MLC_BACKEND_AUTO;
        opt.precision = bf ? MLC_PRECISION_BF16 : MLC_PRECISION_F32;
        opt.threads = 2;
        mlc_net *net = NULL;
        mlc_net_session *ns = NULL;
        CHECK_OK(mlc_net_load(onnx, &opt, &net, &err), &err);
        if (net) CHECK_OK(mlc_net_session_create(net, &ns, &err), &err);
        if (ns) CHECK_OK(mlc_net_run(ns, &in, 1, &out, 1, &err), &err); /* binds here */
        struct conc x = {net, ns, &in, NULL, 0, 0};
        pthread_t th;
        for (int r = 0; ns && r < 2; r++) {
            if (pthread_create(&th, NULL, conc_run, &x) != 0) break;
            pthread_join(th, NULL);
            CHECK(x.ok);
            if (x.ok && ref && x.n == n_ref) {
                double d = max_diff(ref, x.out, n_ref);
                CHECK_MSG(d <= (bf ? 0.08 : 1e-4),
                          "%s bf16=%d run %d on another thread: max |d| %g", name, bf, r, d);
            }
            mlc_free(x.out);
            x.out = NULL;
            x.ok = 0;
        }
        mlc_net_session_free(ns);
        mlc_net_free(net);
    }
    mlc_free(ref);
    mlc_free(in.data);
}

static void test_run_on_other_thread(void)
{
    static const char *names[] = {"resnet", "efficientnet", "vit"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) run_on_other_thread(names[k]);
}

/* Gemm as the oneDNN partition takes it (a matmul): transB 1 with a row
 * bias, transB 0 with a [1, N] bias, transB 7 (true: the oneDNN backend
 * indexed an array with it until fuzz_onnx_dnnl found it); and a Gemm whose bias is a full
 * [M, N] matrix, which the partition leaves to the reference kernels. Each
 * built here (tests/engine/mb.h), run on both backends, against naive loops. */
static void test_gemm_forms(void)
{
    enum { M = 2, K = 5, N = 3 };
    unsigned seed = 5;
    for (int form = 0; form < 4; form++) {
        int tb = form != 1; /* form 3: transB 7, which ONNX reads as true */
        float W[K * N], C[M * N], X[M * K], want[M * N];
        for (int i = 0; i < K * N; i++)
            W[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 9) / 8388608.0f - 0.5f;
        for (int i = 0; i < M * N; i++) C[i] = (float)i - 2.5f;
        for (int i = 0; i < M * K; i++)
            X[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 9) / 8388608.0f - 0.5f;
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double acc = C[form == 2 ? m * N + n : n];
                for (int k = 0; k < K; k++)
                    acc += (double)X[m * K + k] * (tb ? W[n * K + k] : W[k * N + n]);
                want[m * N + n] = (float)acc;
            }
        struct mb b;
        mb_init(&b, 13);
        int64_t xd[2] = {M, K}, wd[2] = {tb ? N : K, tb ? K : N}, c1[1] = {N},
                c2[2] = {form == 2 ? M : 1, N};
        mb_input(&b, "x", 1, 2, xd);
        mb_init_f32(&b, "W", 2, wd, W);
        if (form == 0)
            mb_init_f32(&b, "C", 1, c1, C);
        else
            mb_init_f32(&b, "C", 2, c2, C);
        Onnx__NodeProto *g = mb_node(&b, "Gemm", "gemm", "x,W,C", "y");
        if (tb) mb_attr_i(&b, g, "transB", form == 3 ? 7 : 1);
        mb_output(&b, "y");
        uint8_t *bytes = NULL;
        size_t nb = 0;
        mb_pack(&b, &bytes, &nb);
        for (int be = 0; be < 2; be++) {
            mlc_model_options opt;
            mlc_model_options_default(&opt);
            opt.backend = be ? MLC_BACKEND_AUTO : MLC_BACKEND_REFERENCE;
            opt.threads = 2;
            mlc_error err = {0};
            mlc_net *net = NULL;
            mlc_net_session *ns = NULL;
            mlc_tensor in = {MLC_DTYPE_F32, 2, {M, K}, X}, out = {0};
            char *desc = NULL;
            CHECK_OK(mlc_net_load_mem(bytes, nb, &opt, &net, &err), &err);
            if (net && be && !mlc_net_describe(net, &desc, &err)) {
                const char *want_regions = form == 2 ? "0 backend regions" : "1 backend regions";
                CHECK_MSG(strstr(desc, want_regions) != NULL, "form %d: %s", form, desc);
            }
            if (net) CHECK_OK(mlc_net_session_create(net, &ns, &err), &err);
            if (ns) CHECK_OK(mlc_net_run(ns, &in, 1, &out, 1, &err), &err);
            if (out.data) {
                CHECK(out.rank == 2 && out.dims[0] == M && out.dims[1] == N);
                double d = max_diff(out.data, want, M * N);
                CHECK_MSG(d <= 1e-5, "form %d backend %d: max |d| %g", form, be, d);
            }
            mlc_free(desc);
            mlc_net_session_free(ns);
            mlc_net_free(net);
        }
        mlc_free(bytes);
        mb_free(&b);
    }
}

static void test_bad_rank(void)
{
    char onnx[4200];
    snprintf(onnx, sizeof onnx, "%s", test_path("models/demo/weights.onnx"));
    FILE *f = fopen(onnx, "rb");
    if (!f) return;
    fclose(f);
    for (int be = 0; be < 2; be++) {
        mlc_model_options opt;
        mlc_model_options_default(&opt);
        opt.backend = be ? MLC_BACKEND_REFERENCE : MLC_BACKEND_AUTO;
        mlc_error err = {0};
        mlc_net *net = NULL;
        mlc_net_session *ns = NULL;
        float x[12] = {0};
        mlc_tensor in = {MLC_DTYPE_F32, 2, {3, 4}, x}, out = {0};
        CHECK_OK(mlc_net_load(onnx, &opt, &net, &err), &err);
        if (net) CHECK_OK(mlc_net_session_create(net, &ns, &err), &err);
        if (ns) CHECK(mlc_net_run(ns, &in, 1, &out, 1, &err) == MLC_STATUS_INVALID_ARGUMENT);
        mlc_net_session_free(ns);
        mlc_net_free(net);
    }
}

int main(void)
{
    TEST_RUN(test_fixtures);
    TEST_RUN(test_demo);
    TEST_RUN(test_demo_reduced_classes);
    TEST_RUN(test_int8_per_image);
    TEST_RUN(test_f32_per_image);
    TEST_RUN(test_bad_rank);
    TEST_RUN(test_gemm_forms);
    TEST_RUN(test_concurrent_binds);
    TEST_RUN(test_run_on_other_thread);
    printf("%d model/input pairs compared\n", n_models);
    TEST_DONE();
}
