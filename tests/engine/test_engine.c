/*
 * test_engine.c - engine behaviour on graphs built in C (mb.h): fusions keep
 * results (Conv+BN+Relu, decomposed LayerNorm and GELU, MatMul+bias),
 * dynamic-batch Shape/Gather/Concat/Reshape chains fold per plan (and at
 * load where exact, not where a value could change the shape), plans are
 * reused without allocation, threads and concurrent sessions agree, and
 * errors name the culprit (bad input shape, unsupported op/attribute).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "mb.h"
#include "mlc.h"
#include "test.h"

static uint32_t rng = 12345;
static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}
static void fill(float *v, int n)
{
    for (int i = 0; i < n; i++) v[i] = frand();
}

static mlc_net *load(struct mb *b, int threads, mlc_error *err)
{
    uint8_t *bytes;
    size_t n;
    mlc_net *net = NULL;
    mlc_model_options o;
    memset(&o, 0, sizeof o);
    o.threads = threads;
    o.backend = MLC_BACKEND_REFERENCE;
    mb_pack(b, &bytes, &n);
    if (mlc_net_load_mem(bytes, n, &o, &net, err)) net = NULL;
    mlc_free(bytes);
    return net;
}

static int has(const mlc_net *net, const char *s)
{
    char *t = NULL;
    mlc_error e;
    if (mlc_net_describe(net, &t, &e)) return -1;
    int r = strstr(t, s) != NULL;
    mlc_free(t);
    return r;
}

/* ---- Conv + BN + Relu ---------------------------------------------------- */

static float W1[4 * 3 * 3 * 3], B1[4], SC[4], BE[4], MU[4], VA[4];

static void build_conv(struct mb *b)
{
    int64_t xd[4] = {-1, 3, 6, 6}, wd[4] = {4, 3, 3, 3}, cd[1] = {4};
    fill(W1, 108);
    fill(B1, 4);
    fill(SC, 4);
    fill(BE, 4);
    fill(MU, 4);
    for (int i = 0; i < 4; i++) VA[i] = 0.5f + (float)i * 0.25f;
    mb_init(b, 13);
    mb_input(b, "x", 1, 4, xd);
    mb_init_f32(b, "W", 4, wd, W1);
    mb_init_f32(b, "B", 1, cd, B1);
    mb_init_f32(b, "s", 1, cd, SC);
    mb_init_f32(b, "be", 1, cd, BE);
    mb_init_f32(b, "mu", 1, cd, MU);
    mb_init_f32(b, "va", 1, cd, VA);
    Onnx__NodeProto *c = mb_node(b, "Conv", "conv0", "x,W,B", "c");
    int64_t p[4] = {1, 1, 1, 1}, k[2] = {3, 3};
    mb_attr_ints(b, c, "pads", 4, p);
    mb_attr_ints(b, c, "kernel_shape", 2, k);
    Onnx__NodeProto *bn = mb_node(b, "BatchNormalization", "bn0", "c,s,be,mu,va", "n");
    mb_attr_f(b, bn, "epsilon", 1e-3f);
    mb_node(b, "Relu", "relu0", "n", "y");
    mb_output(b, "y");
}

static void conv_ref(const float *x, int N, float *y)
{
    for (int n = 0; n < N; n++)
        for (int m = 0; m < 4; m++)
            for (int oh = 0; oh < 6; oh++)
                for (int ow = 0; ow < 6; ow++) {
                    double acc = B1[m];
                    for (int c = 0; c < 3; c++)
                        for (int i = 0; i < 3; i++)
                            for (int j = 0; j < 3; j++) {
                                int ih = oh - 1 + i, iw = ow - 1 + j;
                                if (ih < 0 || ih >= 6 || iw < 0 || iw >= 6) continue;
                                acc += x[((n * 3 + c) * 6 + ih) * 6 + iw] *
                                       W1[((m * 3 + c) * 3 + i) * 3 + j];
                            }
                    double v = (acc - MU[m]) / sqrt(VA[m] + 1e-3) * SC[m] + BE[m];
                    y[((n * 4 + m) * 6 + oh) * 6 + ow] = v > 0 ? (float)v : 0.0f;
                }
}

static void test_conv_bn_relu(void)
{
    struct mb b;
    mlc_error err;
    build_conv(&b);
    for (int th = 1; th <= 3; th += 2) {
        mlc_net *net = load(&b, th, &err);
        CHECK_MSG(net != NULL, "%s", err.message);
        if (!net) break;
        CHECK(has(net, "Conv+relu") == 1);
        CHECK(has(net, "BatchNormalization") == 0);
        mlc_net_session *s = NULL;
        CHECK_OK(mlc_net_session_create(net, &s, &err), &err);
        float x[2 * 3 * 36], want[2 * 4 * 36];
        fill(x, 2 * 3 * 36);
        conv_ref(x, 2, want);
        mlc_tensor in = {MLC_DTYPE_F32, 4, {2, 3, 6, 6}, x}, out;
        CHECK_OK(mlc_net_run(s, &in, 1, &out, 1, &err), &err);
        CHECK(out.rank == 4 && out.dims[0] == 2 && out.dims[1] == 4);
        double md = 0;
        for (int i = 0; i < 2 * 4 * 36; i++) {
            double d = fabs(((float *)out.data)[i] - want[i]);
            md = d > md ? d : md;
        }
        CHECK_NEAR(md, 0, 1e-4);
        /* Second run of a planned shape allocates nothing. */
        size_t live = core_alloc_live_bytes();
        CHECK_OK(mlc_net_run(s, &in, 1, &out, 1, &err), &err);
        CHECK(core_alloc_live_bytes() == live);
        CHECK(mlc_net_session_workspace(s) > 0);
        /* Wrong channel count: named error, no crash. */
        mlc_tensor bad = {MLC_DTYPE_F32, 4, {1, 2, 6, 6}, x};
        CHECK(mlc_net_run(s, &bad, 1, &out, 1, &err) == MLC_STATUS_INVALID_ARGUMENT);
        CHECK(strstr(err.message, "'x'") != NULL);
        mlc_net_session_free(s);
        mlc_net_free(net);
    }
    mb_free(&b);
}

/* ---- dynamic batch reshape chain + MatMul + bias --------------------------- */

static float W2[16 * 3], B2[3];

static mlc_net *build_dyn(int threads, mlc_error *err)
{
    struct mb b;
    int64_t xd[4] = {-1, 4, 2, 2}, wd[2] = {16, 3}, bd[1] = {3}, zero = 0, minus1 = -1;
    fill(W2, 48);
    fill(B2, 3);
    mb_init(&b, 13);
    mb_input(&b, "x", 1, 4, xd);
    mb_init_f32(&b, "W", 2, wd, W2);
    mb_init_f32(&b, "B", 1, bd, B2);
    mb_init_i64(&b, "axes0", 1, &zero);
    mb_init_i64(&b, "m1", 1, &minus1);
    Onnx__TensorProto *idx = mb_tensor(&b, "i0", 7, 0, NULL, &zero, 8);
    b.inits[b.g.n_initializer++] = idx;
    mb_node(&b, "Shape", "shape", "x", "sh");
    Onnx__NodeProto *g = mb_node(&b, "Gather", "gather", "sh,i0", "n");
    mb_attr_i(&b, g, "axis", 0);
    mb_node(&b, "Unsqueeze", "unsq", "n,axes0", "n1");
    Onnx__NodeProto *c = mb_node(&b, "Concat", "cat", "n1,m1", "shp");
    mb_attr_i(&b, c, "axis", 0);
    mb_node(&b, "Reshape", "reshape", "x,shp", "flat");
    mb_node(&b, "MatMul", "mm", "flat,W", "mmo");
    mb_node(&b, "Add", "bias", "mmo,B", "y");
    mb_output(&b, "y");
    mlc_net *net = load(&b, threads, err);
    mb_free(&b);
    return net;
}

static void dyn_ref(const float *x, int N, float *y)
{
    for (int n = 0; n < N; n++)
        for (int j = 0; j < 3; j++) {
            double acc = B2[j];
            for (int k = 0; k < 16; k++) acc += x[n * 16 + k] * W2[k * 3 + j];
            y[n * 3 + j] = (float)acc;
        }
}

static void test_dynamic_batch(void)
{
    mlc_error err;
    mlc_net *net = build_dyn(1, &err);
    CHECK_MSG(net != NULL, "%s", err.message);
    if (!net) return;
    mlc_tensor d;
    mlc_net_input(net, 0, &d);
    CHECK(d.dims[0] == -1);
    CHECK(has(net, "2 steps") == 1); /* Reshape + MatMul(bias): the chain folded per plan */
    mlc_net_session *s = NULL;
    CHECK_OK(mlc_net_session_create(net, &s, &err), &err);
    for (int N = 1; N <= 3; N += 2) {
        float x[3 * 16], want[9];
        fill(x, N * 16);
        dyn_ref(x, N, want);
        mlc_tensor in = {MLC_DTYPE_F32, 4, {N, 4, 2, 2}, x}, out;
        CHECK_OK(mlc_net_run(s, &in, 1, &out, 1, &err), &err);
        CHECK(out.rank == 2 && out.dims[0] == N && out.dims[1] == 3);
        for (int i = 0; i < N * 3; i++) CHECK_NEAR(((float *)out.data)[i], want[i], 1e-5);
    }
    mlc_net_session_free(s);
    mlc_net_free(net);
}

/* ---- shape arithmetic that must stay per plan (symfold.c) ------------------ */

/* x[S,4] -> Shape -> Gather 0 = S; `mk` adds the nodes from "S1" (S as a
 * [1] vector) to the Reshape/Expand target "shp"; y = op(x, shp). */
static mlc_net *build_chain(const char *op, void (*mk)(struct mb *), int64_t d1)
{
    struct mb b;
    mlc_error err;
    int64_t xd[3] = {-1, 1, d1}, zero = 0;
    mb_init(&b, 13);
    if (op[0] != 'E') xd[1] = d1;
    mb_input(&b, "x", 1, op[0] == 'E' ? 3 : 2, xd);
    mb_init_i64(&b, "axes0", 1, &zero);
    b.inits[b.g.n_initializer++] = mb_tensor(&b, "i0", 7, 0, NULL, &zero, 8);
    mb_node(&b, "Shape", "shape", "x", "sh");
    mb_attr_i(&b, mb_node(&b, "Gather", "gather", "sh,i0", "S"), "axis", 0);
    mb_node(&b, "Unsqueeze", "unsq", "S,axes0", "S1");
    mk(&b);
    mb_node(&b, op, "op", "x,shp", "y");
    mb_output(&b, "y");
    mlc_net *net = load(&b, 1, &err);
    CHECK_MSG(net != NULL, "%s", err.message);
    mb_free(&b);
    return net;
}

static void cat(struct mb *b, const char *ins)
{
    mb_attr_i(b, mb_node(b, "Concat", "cat", ins, "shp"), "axis", 0);
}

/* [S / 2, -1]: not exact, and S = 1 gives [0, -1], a copy of dim 0. */
static void mk_half(struct mb *b)
{
    int64_t two = 2, m1 = -1;
    mb_init_i64(b, "two", 1, &two);
    mb_init_i64(b, "m1", 1, &m1);
    mb_node(b, "Div", "div", "S1,two", "h");
    cat(b, "h,m1");
}

/* [Where(S == 2, 1, S), -1]: undecidable at load. */
static void mk_where(struct mb *b)
{
    int64_t two = 2, one = 1, m1 = -1;
    mb_init_i64(b, "two", 1, &two);
    mb_init_i64(b, "one", 1, &one);
    mb_init_i64(b, "m1", 1, &m1);
    mb_node(b, "Equal", "eq", "S1,two", "c");
    mb_node(b, "Where", "wh", "c,one,S1", "w");
    cat(b, "w,m1");
}

/* [Where(S == -1, 1, S) * 6 / 2, -1] = [3S, -1] on x[S, 6]: decidable and
 * exact, so the target folds to the constant [-1, 2] at load. */
static void mk_exact(struct mb *b)
{
    int64_t two = 2, six = 6, one = 1, m1 = -1;
    mb_init_i64(b, "two", 1, &two);
    mb_init_i64(b, "six", 1, &six);
    mb_init_i64(b, "one", 1, &one);
    mb_init_i64(b, "m1", 1, &m1);
    mb_node(b, "Equal", "eq", "S1,m1", "c");
    mb_node(b, "Where", "wh", "c,one,S1", "w");
    mb_node(b, "Mul", "mul", "w,six", "w6");
    mb_node(b, "Div", "div", "w6,two", "w3");
    cat(b, "w3,m1");
}

/* Expand(x[S,1,d1], [S, 3, d1]): the input's own dim 0 becomes a 1. */
static void mk_expand(struct mb *b)
{
    int64_t rest[2] = {3, 6};
    mb_init_i64(b, "rest", 2, rest);
    cat(b, "S1,rest");
}

static void check_chain(mlc_net *net, int N, int64_t d1, int rank, const int64_t *want_dims)
{
    mlc_error err;
    mlc_net_session *s = NULL;
    float x[4 * 6];
    fill(x, N * (int)d1);
    mlc_tensor in = {MLC_DTYPE_F32, rank == 3 ? 3 : 2, {N, rank == 3 ? 1 : d1, d1}, x}, out;
    CHECK_OK(mlc_net_session_create(net, &s, &err), &err);
    if (s && !mlc_net_run(s, &in, 1, &out, 1, &err)) {
        int ok = out.rank == rank;
        for (int d = 0; ok && d < rank; d++) ok = out.dims[d] == want_dims[d];
        CHECK_MSG(ok, "batch %d: rank %d [%lld, %lld, ...]", N, out.rank, (long long)out.dims[0],
                  (long long)out.dims[1]);
        const float *y = out.data;
        if (ok && rank == 2)
            for (int i = 0; i < N * d1; i++) CHECK(y[i] == x[i]);
        if (ok && rank == 3)
            for (int i = 0; i < N * 3 * d1; i++) CHECK(y[i] == x[(i / (3 * d1)) * d1 + i % d1]);
    } else {
        CHECK_MSG(0, "batch %d: %s", N, err.message);
    }
    mlc_net_session_free(s);
}

static void test_shape_chains(void)
{
    /* Per chain: which op stays (a run-time, plan value) or which all go
     * (folded at load), and the output dims at batch 1, 2, 3 (and 4). */
    static const struct {
        const char *op;
        void (*mk)(struct mb *);
        int64_t d1;
        int rank;
        const char *kept, *gone[3];
        int n;
        int64_t want[4][3];
    } cases[] = {
        /* [0, -1]: 0 copies dim 0; S / 2 stays */
        {"Reshape", mk_half, 4, 2, "Div", {NULL}, 4, {{1, 4}, {1, 8}, {1, 12}, {2, 8}}},
        {"Reshape", mk_where, 4, 2, "Equal", {NULL}, 3, {{1, 4}, {1, 8}, {3, 4}}},
        {"Reshape", mk_exact, 6, 2, NULL, {"Shape", "Equal", "Div"}, 3, {{3, 2}, {6, 2}, {9, 2}}},
        {"Expand",
         mk_expand,
         6,
         3,
         NULL,
         {"Shape", "Concat"},
         3,
         {{1, 3, 6}, {2, 3, 6}, {3, 3, 6}}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mlc_net *net = build_chain(cases[k].op, cases[k].mk, cases[k].d1);
        if (!net) continue;
        if (cases[k].kept) CHECK_MSG(has(net, cases[k].kept) == 1, "case %zu", k);
        for (int g = 0; g < 3 && cases[k].gone[g]; g++)
            CHECK_MSG(has(net, cases[k].gone[g]) == 0, "case %zu: %s", k, cases[k].gone[g]);
        for (int n = 0; n < cases[k].n; n++)
            check_chain(net, n + 1, cases[k].d1, cases[k].rank, cases[k].want[n]);
        mlc_net_free(net);
    }
}

/* ---- concurrent sessions on one net ---------------------------------------- */

struct job {
    const mlc_net *net;
    float x[5 * 16], y[15];
    int ok;
};

static void *job_run(void *arg)
{
    struct job *j = arg;
    mlc_net_session *s = NULL;
    mlc_error err;
    j->ok = 0;
    if (mlc_net_session_create(j->net, &s, &err)) return NULL;
    mlc_tensor in = {MLC_DTYPE_F32, 4, {5, 4, 2, 2}, j->x}, out;
    j->ok = 1;
    for (int r = 0; r < 50 && j->ok; r++) {
        if (mlc_net_run(s, &in, 1, &out, 1, &err))
            j->ok = 0;
        else
            memcpy(j->y, out.data, sizeof j->y);
    }
    mlc_net_session_free(s);
    return NULL;
}

static void test_concurrent(void)
{
    mlc_error err;
    mlc_net *net = build_dyn(2, &err);
    CHECK(net != NULL);
    if (!net) return;
    struct job jobs[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        jobs[i].net = net;
        fill(jobs[i].x, 5 * 16);
        pthread_create(&th[i], NULL, job_run, &jobs[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].ok);
        float want[15];
        dyn_ref(jobs[i].x, 5, want);
        for (int k = 0; k < 15; k++) CHECK_NEAR(jobs[i].y[k], want[k], 1e-5);
    }
    mlc_net_free(net);
}

/* ---- a batch one image at a time (net.c, run_chunked) --------------------- */

/* `runs` runs of ns on in each give the [rows, cols] output want. */
static void runs_give(mlc_net_session *ns, const mlc_tensor *in, const float *want, int rows,
                      int cols, int runs)
{
    mlc_error err;
    for (int r = 0; r < runs; r++) {
        mlc_tensor out = {0};
        CHECK_OK(mlc_net_run(ns, in, 1, &out, 1, &err), &err);
        CHECK(out.rank == 2 && out.dims[0] == rows && out.dims[1] == cols);
        if (out.data && out.rank == 2 && out.dims[0] == rows && out.dims[1] == cols)
            for (int k = 0; k < rows * cols; k++) CHECK_NEAR(((float *)out.data)[k], want[k], 1e-5);
    }
}

/* Forced (MLC_NET_CHUNK=1), chosen by timing (=auto, and unset on a session
 * of several threads) and off (=0), the batch split into images gives the
 * whole batch's results; on two and four threads the images go side by side
 * (one-thread sessions: 3 and 2 of the 5 on two), on one thread one after
 * another. */
static void test_batch_chunks(void)
{
    for (int threads = 1; threads <= 4; threads *= 2) {
        mlc_error err;
        mlc_net *net = build_dyn(threads, &err);
        mlc_net_session *ns = NULL;
        CHECK(net != NULL);
        if (!net || mlc_net_session_create(net, &ns, &err)) {
            mlc_net_free(net);
            return;
        }
        float x[5 * 16], want[15];
        fill(x, 5 * 16);
        dyn_ref(x, 5, want);
        mlc_tensor in = {MLC_DTYPE_F32, 4, {5, 4, 2, 2}, x};
        static const char *modes[] = {"1", "auto", NULL, "0"};
        for (int mode = 0; mode < 4; mode++) {
            if (modes[mode])
                setenv("MLC_NET_CHUNK", modes[mode], 1);
            else
                unsetenv("MLC_NET_CHUNK");
            int seen[3] = {0};
            for (int r = 0; r < 40; r++) {
                runs_give(ns, &in, want, 5, 3, 1);
                int k = mlc_net_session_split(ns);
                CHECK_MSG(k == 0 || k == (threads == 1 ? 1 : threads), "split %d on %d threads", k,
                          threads);
                seen[k == 0 ? 0 : k == 1 ? 1 : 2]++;
            }
            if (mode == 0) CHECK(seen[threads == 1 ? 1 : 2] == 40);             /* always split */
            if (mode == 3 || (mode == 2 && threads == 1)) CHECK(seen[0] == 40); /* never */
        }
        /* A batch of one never splits; two images split in two on any
         * number of threads (four: two lanes of two threads, remade as
         * four of one for five images and back). */
        mlc_tensor one = {MLC_DTYPE_F32, 4, {1, 4, 2, 2}, x};
        mlc_tensor two = {MLC_DTYPE_F32, 4, {2, 4, 2, 2}, x};
        setenv("MLC_NET_CHUNK", "1", 1);
        runs_give(ns, &one, want, 1, 3, 2);
        CHECK(mlc_net_session_split(ns) == 0);
        runs_give(ns, &two, want, 2, 3, 2);
        CHECK(mlc_net_session_split(ns) == (threads == 1 ? 1 : 2));
        unsetenv("MLC_NET_CHUNK");
        mlc_net_session_free(ns);
        mlc_net_free(net);
    }
}

/* y = x - mean over the batch: the images are not independent, so the first
 * split run (forced) sees its results differ from the whole batch's and the
 * session keeps running whole: every result is the batch-wide one. */
static void test_batch_dependent(void)
{
    struct mb b;
    mlc_error err;
    int64_t xd[2] = {-1, 4}, zero = 0;
    mb_init(&b, 13);
    mb_input(&b, "x", 1, 2, xd);
    Onnx__NodeProto *r = mb_node(&b, "ReduceMean", "rm", "x", "mu");
    mb_attr_ints(&b, r, "axes", 1, &zero);
    mb_attr_i(&b, r, "keepdims", 1);
    mb_node(&b, "Sub", "sub", "x,mu", "y");
    mb_output(&b, "y");
    mlc_net *net = load(&b, 2, &err);
    mb_free(&b);
    mlc_net_session *ns = NULL;
    CHECK(net != NULL);
    if (!net || mlc_net_session_create(net, &ns, &err)) {
        mlc_net_free(net);
        return;
    }
    float x[3 * 4], want[12];
    fill(x, 12);
    for (int j = 0; j < 4; j++) {
        double m = (x[j] + x[4 + j] + x[8 + j]) / 3.0;
        for (int n = 0; n < 3; n++) want[n * 4 + j] = (float)(x[n * 4 + j] - m);
    }
    setenv("MLC_NET_CHUNK", "1", 1);
    mlc_tensor in = {MLC_DTYPE_F32, 2, {3, 4}, x};
    runs_give(ns, &in, want, 3, 4, 6);
    CHECK(mlc_net_session_split(ns) == 0);
    unsetenv("MLC_NET_CHUNK");
    mlc_net_session_free(ns);
    mlc_net_free(net);
}

/* ---- decomposed LayerNorm + GELU ------------------------------------------- */

static void test_layernorm_gelu(void)
{
    struct mb b;
    mlc_error err;
    int64_t xd[3] = {2, 5, 8}, d8[1] = {8}, wd[2] = {8, 8}, m1 = -1;
    float G[8], Bt[8], W[64], Bm[8], two = 2.0f, eps = 1e-6f, sq2 = 1.4142135381698608f, one = 1.0f,
                                     half = 0.5f;
    fill(G, 8);
    fill(Bt, 8);
    fill(W, 64);
    fill(Bm, 8);
    mb_init(&b, 17);
    mb_input(&b, "x", 1, 3, xd);
    mb_init_f32(&b, "g", 1, d8, G);
    mb_init_f32(&b, "b", 1, d8, Bt);
    mb_init_f32(&b, "W", 2, wd, W);
    mb_init_f32(&b, "Bm", 1, d8, Bm);
    mb_init_f32(&b, "two", 0, NULL, &two);
    mb_init_f32(&b, "eps", 0, NULL, &eps);
    mb_init_f32(&b, "sq2", 0, NULL, &sq2);
    mb_init_f32(&b, "one", 0, NULL, &one);
    mb_init_f32(&b, "half", 0, NULL, &half);
    Onnx__NodeProto *r1 = mb_node(&b, "ReduceMean", "rm1", "x", "mu");
    mb_attr_ints(&b, r1, "axes", 1, &m1);
    mb_node(&b, "Sub", "sub", "x,mu", "d");
    mb_node(&b, "Pow", "pow", "d,two", "d2");
    Onnx__NodeProto *r2 = mb_node(&b, "ReduceMean", "rm2", "d2", "var");
    mb_attr_ints(&b, r2, "axes", 1, &m1);
    mb_node(&b, "Add", "addeps", "var,eps", "ve");
    mb_node(&b, "Sqrt", "sqrt", "ve", "sd");
    mb_node(&b, "Div", "div", "d,sd", "nrm");
    mb_node(&b, "Mul", "mulg", "nrm,g", "sc");
    mb_node(&b, "Add", "addb", "sc,b", "ln");
    mb_node(&b, "MatMul", "mm", "ln,W", "h0");
    mb_node(&b, "Add", "mmb", "h0,Bm", "h");
    mb_node(&b, "Div", "gdiv", "h,sq2", "h1");
    mb_node(&b, "Erf", "erf", "h1", "h2");
    mb_node(&b, "Add", "gadd", "h2,one", "h3");
    mb_node(&b, "Mul", "gmul", "h,h3", "h4");
    mb_node(&b, "Mul", "ghalf", "h4,half", "y");
    mb_output(&b, "y");
    mlc_net *net = load(&b, 1, &err);
    CHECK_MSG(net != NULL, "%s", err.message);
    mb_free(&b);
    if (!net) return;
    CHECK(has(net, "LayerNormalization") == 1);
    CHECK(has(net, "MatMul+gelu") == 1);
    CHECK(has(net, "Erf") == 0);
    mlc_net_session *s = NULL;
    CHECK_OK(mlc_net_session_create(net, &s, &err), &err);
    float x[80];
    fill(x, 80);
    mlc_tensor in = {MLC_DTYPE_F32, 3, {2, 5, 8}, x}, out;
    CHECK_OK(mlc_net_run(s, &in, 1, &out, 1, &err), &err);
    for (int r = 0; r < 10; r++) {
        double m = 0, v = 0, ln[8];
        for (int i = 0; i < 8; i++) m += x[r * 8 + i];
        m /= 8;
        for (int i = 0; i < 8; i++) v += (x[r * 8 + i] - m) * (x[r * 8 + i] - m);
        v /= 8;
        for (int i = 0; i < 8; i++) ln[i] = (x[r * 8 + i] - m) / sqrt(v + 1e-6) * G[i] + Bt[i];
        for (int j = 0; j < 8; j++) {
            double h = Bm[j];
            for (int k = 0; k < 8; k++) h += ln[k] * W[k * 8 + j];
            double want = 0.5 * h * (1 + erf(h / sqrt(2.0)));
            CHECK_NEAR(((float *)out.data)[r * 8 + j], want, 1e-4);
        }
    }
    mlc_net_session_free(s);
    mlc_net_free(net);
}

/* ---- decomposed tanh GELU ---------------------------------------------------- */

static void test_gelu_tanh(void)
{
    struct mb b;
    mlc_error err;
    int64_t xd[2] = {3, 7};
    float three = 3.0f, kap = 0.044715f, beta = 0.7978845834732056f, one = 1.0f, half = 0.5f;
    mb_init(&b, 13);
    mb_input(&b, "x", 1, 2, xd);
    mb_init_f32(&b, "three", 0, NULL, &three);
    mb_init_f32(&b, "kap", 0, NULL, &kap);
    mb_init_f32(&b, "beta", 0, NULL, &beta);
    mb_init_f32(&b, "one", 0, NULL, &one);
    mb_init_f32(&b, "half", 0, NULL, &half);
    mb_node(&b, "Pow", "cube", "x,three", "x3");
    mb_node(&b, "Mul", "k", "kap,x3", "kx3");
    mb_node(&b, "Add", "a", "x,kx3", "s");
    mb_node(&b, "Mul", "bmul", "s,beta", "inner");
    mb_node(&b, "Tanh", "th", "inner", "t");
    mb_node(&b, "Add", "a1", "t,one", "t1");
    mb_node(&b, "Mul", "mx", "x,t1", "t2");
    mb_node(&b, "Mul", "mh", "t2,half", "y");
    mb_output(&b, "y");
    mlc_net *net = load(&b, 1, &err);
    mb_free(&b);
    CHECK_MSG(net != NULL, "%s", err.message);
    if (!net) return;
    CHECK(has(net, "Gelu") == 1);
    CHECK(has(net, "Tanh") == 0);
    mlc_net_session *s = NULL;
    CHECK_OK(mlc_net_session_create(net, &s, &err), &err);
    float x[21];
    for (int i = 0; i < 21; i++) x[i] = (float)i * 0.4f - 4.0f;
    mlc_tensor in = {MLC_DTYPE_F32, 2, {3, 7}, x}, out;
    CHECK_OK(mlc_net_run(s, &in, 1, &out, 1, &err), &err);
    for (int i = 0; i < 21; i++) {
        double v = x[i];
        double want = 0.5 * v * (1 + tanh(0.7978845608 * (v + 0.044715 * v * v * v)));
        CHECK_NEAR(((float *)out.data)[i], want, 1e-5);
    }
    mlc_net_session_free(s);
    mlc_net_free(net);
}

/* ---- refusals name op, node, opset / attribute -------------------------------- */

static void test_refusals(void)
{
    struct mb b;
    mlc_error err;
    int64_t xd[2] = {2, 2};
    mb_init(&b, 15);
    mb_input(&b, "x", 1, 2, xd);
    mb_node(&b, "NonMaxSuppression", "nms_7", "x", "y");
    mb_output(&b, "y");
    CHECK(load(&b, 1, &err) == NULL);
    CHECK(err.status == MLC_STATUS_UNSUPPORTED);
    CHECK(strstr(err.message, "NonMaxSuppression") && strstr(err.message, "nms_7") &&
          strstr(err.message, "opset 15"));
    mb_free(&b);

    mb_init(&b, 15);
    mb_input(&b, "x", 1, 2, xd);
    Onnx__NodeProto *n = mb_node(&b, "Relu", "relu_3", "x", "y");
    mb_attr_i(&b, n, "bogus", 1);
    mb_output(&b, "y");
    CHECK(load(&b, 1, &err) == NULL);
    CHECK(err.status == MLC_STATUS_UNSUPPORTED && strstr(err.message, "bogus") &&
          strstr(err.message, "relu_3"));
    mb_free(&b);

    /* A node reading a tensor nobody defines. */
    mb_init(&b, 15);
    mb_input(&b, "x", 1, 2, xd);
    mb_node(&b, "Add", "add_1", "x,ghost", "y");
    mb_output(&b, "y");
    CHECK(load(&b, 1, &err) == NULL);
    CHECK(err.status == MLC_STATUS_BAD_MODEL && strstr(err.message, "ghost"));
    mb_free(&b);

    /* A cycle. */
    mb_init(&b, 15);
    mb_input(&b, "x", 1, 2, xd);
    mb_node(&b, "Add", "a", "x,c", "bb");
    mb_node(&b, "Relu", "r", "bb", "c");
    mb_node(&b, "Relu", "r2", "c", "y");
    mb_output(&b, "y");
    CHECK(load(&b, 1, &err) == NULL);
    CHECK(err.status == MLC_STATUS_BAD_MODEL && strstr(err.message, "cycle"));
    mb_free(&b);
}

int main(void)
{
    TEST_RUN(test_conv_bn_relu);
    TEST_RUN(test_dynamic_batch);
    TEST_RUN(test_shape_chains);
    TEST_RUN(test_concurrent);
    TEST_RUN(test_batch_chunks);
    TEST_RUN(test_batch_dependent);
    TEST_RUN(test_layernorm_gelu);
    TEST_RUN(test_gelu_tanh);
    TEST_RUN(test_refusals);
    TEST_DONE();
}
