/*
 * test_hostile.c - hostile ONNX files: every truncation and many bit flips of
 * a valid model, and crafted protobufs (negative dims, overflowing shapes,
 * short raw_data, bad indices, duplicate definitions, escaping external data
 * paths, impossible attributes, oversized outputs). Each must be refused with
 * a status and a message - or, for a mutation that is still a valid model,
 * load and run - and never crash or leak (ASan/LSan run this).
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/mb.h"
#include "core/core.h"
#include "mlc.h"
#include "onnx/onnx.h"
#include "test.h"

static mlc_status try_bytes(const uint8_t *bytes, size_t n, mlc_error *err)
{
    mlc_model_options o;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    o.backend = MLC_BACKEND_REFERENCE;
    o.limits.max_input_bytes = 1u << 20;
    mlc_net *net = NULL;
    mlc_status st = mlc_net_load_mem(bytes, n, &o, &net, err);
    if (st) return st;
    /* Still a model: it must also run (or refuse to) cleanly on zeros. */
    mlc_net_session *s = NULL;
    mlc_tensor in[4];
    static float zero[4096];
    int ni = mlc_net_n_inputs(net), ok = ni <= 4;
    for (int i = 0; ok && i < ni; i++) {
        mlc_net_input(net, i, &in[i]);
        int64_t ne = 1;
        for (int d = 0; d < in[i].rank; d++) {
            if (in[i].dims[d] < 0) in[i].dims[d] = 1;
            ne *= in[i].dims[d];
        }
        if (ne > 512) ok = 0;
        in[i].data = zero;
    }
    if (ok && mlc_net_session_create(net, &s, err) == MLC_OK) {
        mlc_tensor out;
        mlc_net_run(s, in, ni, &out, 1, err);
    }
    mlc_net_session_free(s);
    mlc_net_free(net);
    return MLC_OK;
}

static float W[8 * 2 * 3 * 3], B[8];

static void base_model(struct mb *b)
{
    int64_t xd[4] = {-1, 2, 5, 5}, wd[4] = {8, 2, 3, 3}, bd[1] = {8}, sh[2] = {-1, 32};
    for (int i = 0; i < 144; i++) W[i] = (float)(i % 7) * 0.1f - 0.3f;
    for (int i = 0; i < 8; i++) B[i] = (float)i * 0.01f;
    mb_init(b, 13);
    mb_input(b, "x", 1, 4, xd);
    mb_init_f32(b, "W", 4, wd, W);
    mb_init_f32(b, "B", 1, bd, B);
    mb_init_i64(b, "shape", 2, sh);
    Onnx__NodeProto *c = mb_node(b, "Conv", "conv", "x,W,B", "c");
    int64_t st2[2] = {2, 2};
    mb_attr_ints(b, c, "strides", 2, st2);
    mb_node(b, "Relu", "relu", "c", "r");
    mb_node(b, "Reshape", "flat", "r,shape", "f");
    Onnx__NodeProto *sm = mb_node(b, "Softmax", "sm", "f", "y");
    mb_attr_i(b, sm, "axis", 1);
    mb_output(b, "y");
}

static void test_truncations(void)
{
    struct mb b;
    uint8_t *bytes;
    size_t n;
    mlc_error err;
    base_model(&b);
    mb_pack(&b, &bytes, &n);
    CHECK_OK(try_bytes(bytes, n, &err), &err);
    int refused = 0;
    for (size_t k = 0; k < n; k++) {
        memset(&err, 0, sizeof err);
        if (try_bytes(bytes, k, &err) != MLC_OK) {
            refused++;
            CHECK(err.message[0] != '\0');
        }
    }
    CHECK(refused > (int)n / 2);
    mlc_free(bytes);
    mb_free(&b);
}

static void test_bitflips(void)
{
    struct mb b;
    uint8_t *bytes;
    size_t n;
    mlc_error err;
    base_model(&b);
    mb_pack(&b, &bytes, &n);
    for (size_t k = 0; k < n; k++)
        for (int bit = 0; bit < 8; bit += (k % 3) + 1) {
            bytes[k] ^= (uint8_t)(1u << bit);
            try_bytes(bytes, n, &err);
            bytes[k] ^= (uint8_t)(1u << bit);
        }
    mlc_free(bytes);
    mb_free(&b);
}

/* Loads a crafted model and expects a refusal whose message contains `want`. */
static void expect_refused(struct mb *b, const char *want, int line)
{
    uint8_t *bytes;
    size_t n;
    mlc_error err;
    memset(&err, 0, sizeof err);
    mb_pack(b, &bytes, &n);
    mlc_status st = try_bytes(bytes, n, &err);
    if (st == MLC_OK || !strstr(err.message, want)) {
        fprintf(stderr, "line %d: status %d, message '%s', wanted '%s'\n", line, (int)st,
                err.message, want);
        test_cur_failed = 1;
    }
    mlc_free(bytes);
    mb_free(b);
}
#define REFUSED(b, want) expect_refused(b, want, __LINE__)

/* Initializer t's data moved to the external file `location`. */
static void external_at(struct mb *b, Onnx__TensorProto *t, const char *location)
{
    Onnx__StringStringEntryProto *e = core_arena_alloc(&b->a, sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = mb_str(b, "location");
    e->value = mb_str(b, location);
    t->external_data = core_arena_alloc(&b->a, sizeof(void *));
    t->external_data[0] = e;
    t->n_external_data = 1;
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->has_raw_data = 0;
}

/* One node `op` reading `ins` of a [2, 3] input x, refused with `want`. */
static void refused_node(const char *op, const char *ins, const char *want, int line)
{
    struct mb b;
    int64_t xd[2] = {2, 3};
    mb_init(&b, 13);
    mb_input(&b, "x", 1, 2, xd);
    mb_node(&b, op, "op", ins, "y");
    mb_output(&b, "y");
    expect_refused(&b, want, line);
}

static void test_crafted(void)
{
    struct mb b;
    int64_t xd[2] = {2, 3};
    float f6[6] = {0};

    /* Negative dimension in an initializer. */
    mb_init(&b, 13);
    mb_input(&b, "x", 1, 2, xd);
    Onnx__TensorProto *t = mb_init_f32(&b, "w", 2, xd, f6);
    t->dims[1] = -3;
    mb_node(&b, "Add", "add", "x,w", "y");
    mb_output(&b, "y");
    REFUSED(&b, "dimension 1 is -3");

    /* Shape whose product overflows. */
    mb_init(&b, 13);
    mb_input(&b, "x", 1, 2, xd);
    t = mb_init_f32(&b, "w", 2, xd, f6);
    t->dims[0] = (int64_t)1 << 40;
    t->dims[1] = (int64_t)1 << 40;
    mb_node(&b, "Add", "add", "x,w", "y");
    mb_output(&b, "y");
    REFUSED(&b, "too large");

    /* raw_data shorter than the shape. */
    mb_init(&b, 13);
    mb_input(&b, "x", 1, 2, xd);
    t = mb_init_f32(&b, "w", 2, xd, f6);
    t->raw_data.len = 20;
    mb_node(&b, "Add", "add", "x,w", "y");
    mb_output(&b, "y");
    REFUSED(&b, "raw_data has 20 bytes");

    /* Negative graph input dimension. */
    mb_init(&b, 13);
    mb_input(&b, "x", 1, 2, xd);
    b.ins[0]->type->tensor_type->shape->dim[0]->dim_value = -5;
    mb_node(&b, "Relu", "r", "x", "y");
    mb_output(&b, "y");
    REFUSED(&b, "dimension 0 is -5");

    /* Constant Gather index out of range (folded at load). */
    mb_init(&b, 13);
    {
        int64_t idx = 7;
        mb_input(&b, "x", 1, 2, xd);
        mb_init_f32(&b, "w", 2, xd, f6);
        mb_init_i64(&b, "i", 1, &idx);
        mb_node(&b, "Gather", "g", "w,i", "gw");
        mb_node(&b, "Add", "add", "x,gw", "y");
        mb_output(&b, "y");
        REFUSED(&b, "out of range");
    }

    /* Runtime Gather index out of range: refused at run, not a crash. */
    {
        int64_t id1[1] = {1};
        mb_init(&b, 13);
        mb_input(&b, "x", 1, 2, xd);
        mb_input(&b, "i", 7, 1, id1);
        mb_node(&b, "Gather", "g", "x,i", "y");
        mb_output(&b, "y");
        uint8_t *bytes;
        size_t n;
        mlc_net *net = NULL;
        mlc_net_session *s = NULL;
        mlc_error err;
        mb_pack(&b, &bytes, &n);
        CHECK_OK(mlc_net_load_mem(bytes, n, NULL, &net, &err), &err);
        if (net && mlc_net_session_create(net, &s, &err) == MLC_OK) {
            int64_t bad = 99;
            mlc_tensor in[2] = {{MLC_DTYPE_F32, 2, {2, 3}, f6}, {MLC_DTYPE_I64, 1, {1}, &bad}};
            mlc_tensor out;
            CHECK(mlc_net_run(s, in, 2, &out, 1, &err) == MLC_STATUS_INVALID_ARGUMENT);
            CHECK(strstr(err.message, "'g'") != NULL);
        }
        mlc_net_session_free(s);
        mlc_net_free(net);
        mlc_free(bytes);
        mb_free(&b);
    }

    /* Two nodes defining one tensor. */
    mb_init(&b, 13);
    mb_input(&b, "x", 1, 2, xd);
    mb_node(&b, "Relu", "r1", "x", "y");
    mb_node(&b, "Relu", "r2", "x", "y");
    mb_output(&b, "y");
    REFUSED(&b, "defined twice");

    /* Output nobody produces. */
    mb_init(&b, 13);
    mb_input(&b, "x", 1, 2, xd);
    mb_node(&b, "Relu", "r1", "x", "y");
    mb_output(&b, "z");
    REFUSED(&b, "'z' is not produced");

    /* External data escaping the model directory. */
    mb_init(&b, 13);
    mb_input(&b, "x", 1, 2, xd);
    external_at(&b, mb_init_f32(&b, "w", 2, xd, f6), "../../etc/passwd");
    mb_node(&b, "Add", "add", "x,w", "y");
    mb_output(&b, "y");
    REFUSED(&b, "external data");

    /* Conv with group 0 and with mismatched channels. */
    {
        int64_t x4[4] = {1, 3, 4, 4}, w4[4] = {2, 3, 1, 1};
        float w[6] = {0};
        mb_init(&b, 13);
        mb_input(&b, "x", 1, 4, x4);
        mb_init_f32(&b, "w", 4, w4, w);
        Onnx__NodeProto *c = mb_node(&b, "Conv", "cv", "x,w", "y");
        mb_attr_i(&b, c, "group", 0);
        mb_output(&b, "y");
        REFUSED(&b, "group");
        w4[1] = 2;
        mb_init(&b, 13);
        mb_input(&b, "x", 1, 4, x4);
        mb_init_f32(&b, "w", 4, w4, w);
        mb_node(&b, "Conv", "cv", "x,w", "y");
        mb_output(&b, "y");
        REFUSED(&b, "channels");
    }

    /* Transpose with a repeated axis. */
    {
        int64_t perm[2] = {0, 0};
        mb_init(&b, 13);
        mb_input(&b, "x", 1, 2, xd);
        Onnx__NodeProto *n = mb_node(&b, "Transpose", "tp", "x", "y");
        mb_attr_ints(&b, n, "perm", 2, perm);
        mb_output(&b, "y");
        REFUSED(&b, "perm");
    }

    /* Reshape to an incompatible element count. */
    {
        int64_t shp[2] = {4, 4};
        mb_init(&b, 13);
        mb_input(&b, "x", 1, 2, xd);
        mb_init_i64(&b, "s", 2, shp);
        mb_node(&b, "Reshape", "rs", "x,s", "y");
        mb_output(&b, "y");
        REFUSED(&b, "reshape");
    }

    /* ConstantOfShape asking for terabytes. */
    {
        int64_t shp[2] = {1000000, 1000000};
        mb_init(&b, 13);
        mb_input(&b, "x", 1, 2, xd);
        mb_init_i64(&b, "s", 2, shp);
        mb_node(&b, "ConstantOfShape", "big", "s", "c");
        mb_node(&b, "Add", "add", "x,c", "y");
        mb_output(&b, "y");
        uint8_t *bytes;
        size_t n;
        mlc_error err;
        mb_pack(&b, &bytes, &n);
        CHECK(try_bytes(bytes, n, &err) != MLC_OK);
        mlc_free(bytes);
        mb_free(&b);
    }

    /* A tensor whose shape claims 2 GiB but whose data holds one value:
     * refused before anything is allocated (the fuzzer's malloc limit
     * catches the allocation: fuzz/corpus/.../regress_huge_typed_tensor). */
    mb_init(&b, 13);
    mb_input(&b, "x", 1, 2, xd);
    t = mb_init_f32(&b, "w", 2, xd, f6);
    t->dims[0] = (int64_t)1 << 28, t->dims[1] = 2;
    t->has_raw_data = 0, t->raw_data.len = 0;
    t->n_float_data = 1, t->float_data = f6;
    mb_node(&b, "Add", "add", "x,w", "y");
    mb_output(&b, "y");
    REFUSED(&b, "1 values, shape needs 536870912");

    /* Binary ops with one input: Mod was missing from the arity table and
     * read a stale second input (a use after free found by fuzz_onnx_dnnl);
     * ScatterND needs three. */
    static const char *const one_in[] = {"Mod", "Add", "Pow", "PRelu"};
    for (size_t k = 0; k < sizeof one_in / sizeof one_in[0]; k++)
        refused_node(one_in[k], "x", "1 inputs, needs 2", __LINE__);
    refused_node("ScatterND", "x,x", "2 inputs, needs 3", __LINE__);

    /* Unsupported opset and a non-default domain. */
    mb_init(&b, 99);
    mb_input(&b, "x", 1, 2, xd);
    mb_node(&b, "Relu", "r", "x", "y");
    mb_output(&b, "y");
    REFUSED(&b, "opset 99");
    mb_init(&b, 13);
    mb_input(&b, "x", 1, 2, xd);
    mb_node(&b, "Relu", "r", "x", "y")->domain = mb_str(&b, "com.microsoft");
    mb_output(&b, "y");
    REFUSED(&b, "com.microsoft");

    /* Not a protobuf at all. */
    {
        mlc_error err;
        static const uint8_t junk[] = "this is not an onnx model at all \xff\xff\xff\xff";
        CHECK(try_bytes(junk, sizeof junk, &err) == MLC_STATUS_BAD_MODEL);
        CHECK(try_bytes(junk, 0, &err) != MLC_OK);
    }
}

/* An initializer in an external file beside the model: read and used (x + w
 * on the reference kernels), and refused when the file is shorter than the
 * tensor (before its buffer is allocated). */
static void test_external_data(void)
{
    char dir[] = "/tmp/mlc_ext_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *model = core_sprintf("%s/m.onnx", dir), *wpath = core_sprintf("%s/w.bin", dir);
    static const float w[6] = {1, 2, 3, 4, 5, 6}, x[6] = {10, 20, 30, 40, 50, 60};
    int64_t xd[2] = {2, 3};
    for (int shortfile = 0; shortfile < 2; shortfile++) {
        FILE *f = fopen(wpath, "wb");
        CHECK(f != NULL);
        if (f) fwrite(w, sizeof(float), shortfile ? 5 : 6, f), fclose(f);
        struct mb b;
        mb_init(&b, 13);
        mb_input(&b, "x", 1, 2, xd);
        external_at(&b, mb_init_f32(&b, "w", 2, xd, w), "w.bin");
        mb_node(&b, "Add", "add", "x,w", "y");
        mb_output(&b, "y");
        CHECK(mb_write(&b, model) == 0);
        mb_free(&b);
        mlc_model_options o;
        memset(&o, 0, sizeof o);
        o.backend = MLC_BACKEND_REFERENCE;
        mlc_error err = {0};
        mlc_net *net = NULL;
        mlc_net_session *s = NULL;
        mlc_status st = mlc_net_load(model, &o, &net, &err);
        if (shortfile) {
            CHECK_MSG(st != MLC_OK && strstr(err.message, "is shorter than"), "short file: %s",
                      err.message);
        } else {
            CHECK_OK(st, &err);
            mlc_tensor in = {MLC_DTYPE_F32, 2, {2, 3}, (void *)x}, out = {0};
            if (net) CHECK_OK(mlc_net_session_create(net, &s, &err), &err);
            if (s) CHECK_OK(mlc_net_run(s, &in, 1, &out, 1, &err), &err);
            for (int i = 0; out.data && i < 6; i++)
                CHECK(((const float *)out.data)[i] == x[i] + w[i]);
        }
        mlc_net_session_free(s);
        mlc_net_free(net);
    }
    remove(wpath), remove(model), rmdir(dir);
    mlc_free(model), mlc_free(wpath);
}

/* A model whose two weights (300 KB each) the loader reads from the file
 * with pread, on two threads (onnx_load_opts.read_fd), rather than parsing
 * them out of a mapping: the same net as from memory, bit for bit, on
 * both backends; every truncation of the file on disk refused; every
 * failed allocation a status, nothing leaked. */
static float FW1[256 * 300], FW2[300 * 256], FB[300];

static void file_model(const char *path)
{
    struct mb b;
    int64_t xd[2] = {-1, 256}, w1[2] = {256, 300}, w2[2] = {300, 256}, bd[1] = {300};
    for (int i = 0; i < 256 * 300; i++) {
        FW1[i] = (float)(((unsigned)i * 7919u) % 1000u) * 1e-3f - 0.5f;
        FW2[i] = (float)(((unsigned)i * 104729u) % 997u) * 1e-3f - 0.5f;
    }
    for (int i = 0; i < 300; i++) FB[i] = (float)i * 1e-3f;
    mb_init(&b, 13);
    mb_input(&b, "x", 1, 2, xd);
    mb_init_f32(&b, "W1", 2, w1, FW1);
    mb_init_f32(&b, "B", 1, bd, FB);
    mb_init_f32(&b, "W2", 2, w2, FW2);
    mb_node(&b, "MatMul", "mm1", "x,W1", "h");
    mb_node(&b, "Add", "bias", "h,B", "hb");
    mb_node(&b, "MatMul", "mm2", "hb,W2", "y");
    mb_output(&b, "y");
    CHECK(mb_write(&b, path) == 0);
    mb_free(&b);
}

/* y of the net at path (file: mlc_net_load, else from its bytes) on x. */
static mlc_status run_file(const char *path, int file, mlc_backend be, const float *x, float *y,
                           mlc_error *err)
{
    mlc_model_options o;
    memset(&o, 0, sizeof o);
    o.threads = 2;
    o.backend = be;
    mlc_net *net = NULL;
    mlc_net_session *s = NULL;
    char *bytes = NULL;
    size_t n = 0;
    mlc_status st =
        file ? mlc_net_load(path, &o, &net, err) : core_read_file(path, 1u << 24, &bytes, &n, err);
    if (!st && !file) st = mlc_net_load_mem(bytes, n, &o, &net, err);
    if (!st) st = mlc_net_session_create(net, &s, err);
    if (!st) {
        mlc_tensor in = {MLC_DTYPE_F32, 2, {2, 256}, (void *)x}, out = {0};
        st = mlc_net_run(s, &in, 1, &out, 1, err);
        if (!st && out.rank == 2 && out.dims[0] == 2 && out.dims[1] == 256)
            memcpy(y, out.data, sizeof(float) * 512);
        else if (!st)
            st = MLC_STATUS_INTERNAL;
    }
    mlc_net_session_free(s);
    mlc_net_free(net);
    mlc_free(bytes);
    return st;
}

static void test_file_weights(void)
{
    char dir[] = "/tmp/mlc_fw_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *model = core_sprintf("%s/m.onnx", dir), *cut = core_sprintf("%s/cut.onnx", dir);
    file_model(model);
    static float x[512], y_file[512], y_mem[512];
    for (int i = 0; i < 512; i++) x[i] = (float)(i % 13) * 0.1f - 0.6f;
    for (int be = 0; be < 2; be++) {
        mlc_backend b = be ? MLC_BACKEND_AUTO : MLC_BACKEND_REFERENCE;
        mlc_error err = {0};
        memset(y_file, 0, sizeof y_file);
        CHECK_OK(run_file(model, 1, b, x, y_file, &err), &err);
        CHECK_OK(run_file(model, 0, b, x, y_mem, &err), &err);
        CHECK_MSG(!memcmp(y_file, y_mem, sizeof y_mem), "backend %d: file and memory differ", be);
        double want = 0; /* y[0][0] by hand, in double */
        for (int j = 0; j < 300; j++) {
            double h = FB[j];
            for (int k = 0; k < 256; k++) h += (double)x[k] * FW1[k * 300 + j];
            want += h * FW2[j * 256];
        }
        CHECK_NEAR(y_file[0], want, 1e-3 + 1e-4 * fabs(want));
    }
    /* Cut inside the second weight, inside the first and in the header. */
    char *bytes = NULL;
    size_t n = 0;
    mlc_error err = {0};
    CHECK_OK(core_read_file(model, 1u << 24, &bytes, &n, &err), &err);
    size_t cuts[4] = {n - 1, n - 4000, n / 2, 40};
    for (int c = 0; bytes && c < 4; c++) {
        FILE *f = fopen(cut, "wb");
        CHECK(f != NULL);
        if (f) fwrite(bytes, 1, cuts[c], f), fclose(f);
        mlc_status st = run_file(cut, 1, MLC_BACKEND_REFERENCE, x, y_file, &err);
        CHECK_MSG(st == MLC_STATUS_BAD_MODEL && err.message[0], "cut at %zu: status %d %s", cuts[c],
                  (int)st, err.message);
    }
    /* Bits flipped in the file's first 128 bytes and in the 48 before each
     * weight's raw_data (its name, dims, type and the lengths around it):
     * loaded from the file (spans, the parsed copy, pread) and from memory
     * (protobuf-c alone), the same status, and the same outputs when both
     * load. */
    size_t at[3] = {0, 0, 0};
    int n_at = 1;
    for (size_t k = 48; bytes && k + sizeof FW1[0] * 4 <= n && n_at < 3; k++)
        if (!memcmp(bytes + k, n_at == 1 ? (const void *)FW1 : (const void *)FW2,
                    sizeof FW1[0] * 4))
            at[n_at++] = k - 48;
    CHECK(n_at == 3);
    int both_ok = 0, flips = 0;
    for (int r = 0; bytes && r < n_at; r++)
        for (size_t k = at[r]; k < at[r] + (r ? 48 : 128) && k < n; k++)
            for (int bit = 0; bit < 8; bit++) {
                bytes[k] ^= (uint8_t)(1u << bit);
                FILE *f = fopen(cut, "wb");
                if (f) fwrite(bytes, 1, n, f), fclose(f);
                static float y2[512];
                mlc_error e1 = {0}, e2 = {0};
                memset(y_file, 0, sizeof y_file), memset(y2, 0, sizeof y2);
                mlc_status s1 = run_file(cut, 1, MLC_BACKEND_REFERENCE, x, y_file, &e1);
                mlc_status s2 = run_file(cut, 0, MLC_BACKEND_REFERENCE, x, y2, &e2);
                CHECK_MSG(s1 == s2, "flip %zu.%d: file %d (%s), memory %d (%s)", k, bit, (int)s1,
                          e1.message, (int)s2, e2.message);
                if (s1 == MLC_OK && s2 == MLC_OK) {
                    both_ok++;
                    CHECK_MSG(!memcmp(y_file, y2, sizeof y2), "flip %zu.%d: outputs differ", k,
                              bit);
                }
                flips++;
                bytes[k] ^= (uint8_t)(1u << bit);
            }
    CHECK(flips == (128 + 96) * 8 && both_ok > 0);
    mlc_free(bytes);
    /* A failure may also be taken in stride (the weights' spans not found:
     * parsed the ordinary way), so every k is tried. */
    int fails = 0;
    for (int k = 1; k < 400; k++) {
        size_t live = core_alloc_live_bytes();
        core_alloc_fail_after(k);
        mlc_status st = run_file(model, 1, MLC_BACKEND_REFERENCE, x, y_file, &err);
        core_alloc_fail_after(0);
        CHECK(core_alloc_live_bytes() == live);
        CHECK_MSG(st == MLC_OK || st == MLC_STATUS_NO_MEMORY, "k=%d st=%d %s", k, (int)st,
                  err.message);
        fails += st != MLC_OK;
    }
    CHECK_MSG(fails > 10, "%d allocations failed", fails);
    /* The file shorter than its bytes (cut short after they were mapped):
     * the reads, begun before the parse, fail; the status names the
     * initializer and nothing leaks, whichever thread made the read. */
    CHECK_OK(core_read_file(model, 1u << 24, &bytes, &n, &err), &err);
    FILE *f = fopen(cut, "wb");
    CHECK(f != NULL);
    if (f) fwrite(bytes, 1, n - 2000, f), fclose(f);
    int fd = open(cut, O_RDONLY);
    CHECK(fd >= 0);
    for (int t = 1; bytes && fd >= 0 && t <= 2; t++) {
        size_t live = core_alloc_live_bytes();
        struct onnx_load_opts lo = {.threads = t, .read_fd = 1, .fd = fd};
        struct ir_graph g;
        ir_graph_init(&g);
        mlc_error e = {0};
        mlc_status st = onnx_load(bytes, n, &lo, &g, &e);
        CHECK_MSG(st == MLC_STATUS_IO && strstr(e.message, "'W2'") &&
                      strstr(e.message, "the file ends first"),
                  "threads %d: status %d %s", t, (int)st, e.message);
        ir_graph_free(&g);
        CHECK(core_alloc_live_bytes() == live);
    }
    if (fd >= 0) close(fd);
    mlc_free(bytes);
    remove(cut), remove(model), rmdir(dir);
    mlc_free(model), mlc_free(cut);
}

/* Fails each allocation in turn while loading, planning and running a
 * model: every failure must come back as a status, with nothing leaked;
 * also with the batch of two split (MLC_NET_CHUNK=1: two one-image
 * sessions side by side, made on the first run, and the gathered outputs). */
static void alloc_failures(void);
static void test_alloc_failures(void)
{
    for (int split = 0; split < 2; split++) {
        if (split) setenv("MLC_NET_CHUNK", "1", 1);
        alloc_failures();
        unsetenv("MLC_NET_CHUNK");
    }
}

static void alloc_failures(void)
{
    struct mb b;
    uint8_t *bytes;
    size_t n;
    base_model(&b);
    mb_pack(&b, &bytes, &n);
    static float x[2 * 2 * 5 * 5];
    int fails = 0, k;
    for (k = 1; k < 2000; k++) {
        mlc_error err;
        mlc_net *net = NULL;
        mlc_net_session *s = NULL;
        mlc_model_options o;
        memset(&o, 0, sizeof o);
        o.threads = 2;
        o.backend = MLC_BACKEND_REFERENCE;
        size_t live = core_alloc_live_bytes();
        core_alloc_fail_after(k);
        mlc_status st = mlc_net_load_mem(bytes, n, &o, &net, &err);
        if (!st) st = mlc_net_session_create(net, &s, &err);
        if (!st) {
            mlc_tensor in = {MLC_DTYPE_F32, 4, {2, 2, 5, 5}, x}, out;
            st = mlc_net_run(s, &in, 1, &out, 1, &err);
        }
        core_alloc_fail_after(0);
        mlc_net_session_free(s);
        mlc_net_free(net);
        CHECK(core_alloc_live_bytes() == live);
        if (st == MLC_OK) break; /* k exceeds the allocations made */
        CHECK_MSG(st == MLC_STATUS_NO_MEMORY, "k=%d st=%d %s", k, (int)st, err.message);
        fails++;
    }
    CHECK(fails > 20 && k < 2000);
    mlc_free(bytes);
    mb_free(&b);
}

int main(void)
{
    TEST_RUN(test_alloc_failures);
    TEST_RUN(test_truncations);
    TEST_RUN(test_bitflips);
    TEST_RUN(test_crafted);
    TEST_RUN(test_external_data);
    TEST_RUN(test_file_weights);
    TEST_DONE();
}
