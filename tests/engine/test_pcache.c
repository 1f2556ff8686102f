/*
 * test_pcache.c - the packed-weights cache (engine/pcache.h) end to end, on
 * a model file with three weights above the cache's 64 KiB floor: a
 * convolution's and a matmul's, which the oneDNN backend packs, and a
 * Gather table the reference kernels read.
 *
 * A first load writes the cache file; a second maps it (every packed weight
 * a hit, none of them read from the ONNX file) and must give bit-identical
 * outputs, in f32 and bf16 (two files), at another batch size too. A cache
 * file that is damaged in any of several ways, or left over from an older
 * model file, is ignored and rewritten. Entries that do not fit (a layout
 * no primitive asks for, a weight the backend never takes) fall back to
 * the file's bytes.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/backend.h"
#include "engine/pcache.h"
#include "mb.h"
#include "mlc.h"
#include "onnx/onnx.h"
#include "test.h"

enum { CI = 64, CO = 128, HW = 8, K2 = 256, TR = 300 };

static float W1[CO * CI * 9], B1[CO], W2[CO * K2], B2[K2], T[TR * K2];

static void fill(float *v, int n, uint32_t seed)
{
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 0.2f;
    }
}

/* bn: a BatchNormalization after the conv, which the engine folds into a
 * new W1 (a weight no longer the file's: never cached). */
static void write_model(const char *path, uint32_t w1_seed, int bn)
{
    struct mb b;
    int64_t xd[4] = {-1, CI, HW, HW}, w1d[4] = {CO, CI, 3, 3}, b1d[1] = {CO}, w2d[2] = {CO, K2},
            b2d[1] = {K2}, td[2] = {TR, K2}, one = 1;
    fill(W1, CO * CI * 9, w1_seed), fill(B1, CO, 2), fill(W2, CO * K2, 3), fill(B2, K2, 4);
    fill(T, TR * K2, 5);
    mb_init(&b, 17);
    mb_input(&b, "x", 1, 4, xd);
    mb_input(&b, "idx", 7, 1, &one);
    mb_init_f32(&b, "W1", 4, w1d, W1);
    mb_init_f32(&b, "B1", 1, b1d, B1);
    mb_init_f32(&b, "W2", 2, w2d, W2);
    mb_init_f32(&b, "B2", 1, b2d, B2);
    mb_init_f32(&b, "T", 2, td, T);
    static float sc[CO], sh[CO], mu[CO], va[CO];
    fill(sc, CO, 6), fill(sh, CO, 7), fill(mu, CO, 8), fill(va, CO, 10);
    for (int i = 0; i < CO; i++) va[i] = 1.0f + va[i], sc[i] += 1.0f;
    if (bn) {
        mb_init_f32(&b, "sc", 1, b1d, sc), mb_init_f32(&b, "sh", 1, b1d, sh);
        mb_init_f32(&b, "mu", 1, b1d, mu), mb_init_f32(&b, "va", 1, b1d, va);
    }
    Onnx__NodeProto *cv = mb_node(&b, "Conv", "conv", "x,W1,B1", bn ? "c0" : "c");
    if (bn) mb_node(&b, "BatchNormalization", "bn", "c0,sc,sh,mu,va", "c");
    int64_t pads[4] = {1, 1, 1, 1};
    Onnx__AttributeProto *a = mb_attr(&b, cv, "pads", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = 4;
    a->ints = pads;
    mb_node(&b, "Relu", "relu", "c", "r");
    mb_node(&b, "GlobalAveragePool", "gap", "r", "p");
    mb_node(&b, "Flatten", "flat", "p", "f");
    mb_node(&b, "MatMul", "mm", "f,W2", "m");
    mb_node(&b, "Add", "bias", "m,B2", "mb");
    mb_node(&b, "Gather", "row", "T,idx", "t");
    mb_node(&b, "Add", "plus", "mb,t", "y");
    mb_output(&b, "y");
    CHECK(mb_write(&b, path) == 0);
    mb_free(&b);
}

struct res {
    float y[4 * K2];
    int loaded, added, hits;
};

/* Two threads, a cache in dir (NULL: none). */
static mlc_model_options opts(const char *dir, mlc_precision prec, mlc_backend be)
{
    mlc_model_options o;
    memset(&o, 0, sizeof o);
    o.threads = 2;
    o.precision = prec;
    o.backend = be;
    o.pack_cache = dir ? dir : "";
    return o;
}

/* Loads path (cache in dir; NULL: none), runs a batch of n, frees. */
static int run(const char *path, const char *dir, mlc_precision prec, mlc_backend be, int n,
               struct res *r)
{
    mlc_model_options o = opts(dir, prec, be);
    mlc_error err = {0};
    mlc_net *net = NULL;
    mlc_net_session *s = NULL;
    static float x[4 * CI * HW * HW];
    fill(x, n * CI * HW * HW, 9);
    int64_t idx = 17;
    mlc_tensor in[2] = {{MLC_DTYPE_F32, 4, {n, CI, HW, HW}, x}, {MLC_DTYPE_I64, 1, {1}, &idx}};
    mlc_tensor out = {0};
    int ok = mlc_net_load(path, &o, &net, &err) == MLC_OK &&
             mlc_net_session_create(net, &s, &err) == MLC_OK &&
             mlc_net_run(s, in, 2, &out, 1, &err) == MLC_OK;
    if (!ok) fprintf(stderr, "run: %s\n", err.message);
    if (ok) {
        CHECK(out.rank == 2 && out.dims[0] == n && out.dims[1] == K2);
        memcpy(r->y, out.data, sizeof(float) * (size_t)(n * K2)); /* the session's */
    }
    mlc_net_pack_cache_counts(net, &r->loaded, &r->added, &r->hits);
    mlc_net_session_free(s);
    mlc_net_free(net); /* waits for the cache file's writer */
    return ok;
}

static int n_files(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c mlcpack$", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1) n = -1;
        pclose(p);
    }
    return n;
}

/* The f32 cache of model under cdir, opened as mlc_net_load opens it. */
static struct eng_pcache *open_f32(const char *cdir, const char *model)
{
    char variant[128];
    struct eng_backend_opts bo = {0, MLC_PRECISION_F32, MLC_BACKEND_AUTO, NULL};
    eng_dnnl_variant(&bo, variant, sizeof variant);
    struct eng_pcache *pc = NULL;
    mlc_error err = {0};
    CHECK_OK(eng_pcache_open(cdir, model, variant, &pc, &err), &err);
    CHECK(pc != NULL);
    return pc;
}

/* The path of that cache's file (caller frees). */
static char *cache_file(const char *cdir, const char *model)
{
    struct eng_pcache *pc = open_f32(cdir, model);
    char *r = pc ? core_strdup(eng_pcache_path(pc)) : NULL;
    eng_pcache_free(pc);
    return r;
}

static void damage(const char *file, int how)
{
    FILE *f = fopen(file, "r+b");
    CHECK(f != NULL);
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    if (how == 0) { /* truncated */
        fclose(f);
        CHECK(truncate(file, size / 2) == 0);
        return;
    }
    long at = how == 1 ? 12 : how == 2 ? 4096 + 20 : 40; /* header, table, key */
    fseek(f, at, SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
    if (how == 3) { /* garbage of a plausible size */
        f = fopen(file, "wb");
        for (int i = 0; f && i < 20000; i++) fputc((i * 7919) & 0xff, f);
        if (f) fclose(f);
    }
}

static void sh(const char *fmt, const char *arg)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, fmt, arg);
    CHECK(system(cmd) == 0);
}

/* Two sessions of one warm-cached net binding at once, at batch 2 and 4
 * (threads: each its own session, as the server runs them). */
struct conc {
    mlc_net *net;
    int n, ok;
    float y[4 * K2];
};

static void *conc_run(void *arg)
{
    struct conc *c = arg;
    static float x[2][4 * CI * HW * HW];
    float *xs = x[c->n == 4];
    fill(xs, c->n * CI * HW * HW, 9);
    int64_t idx = 17;
    mlc_tensor in[2] = {{MLC_DTYPE_F32, 4, {c->n, CI, HW, HW}, xs}, {MLC_DTYPE_I64, 1, {1}, &idx}};
    mlc_tensor out = {0};
    mlc_net_session *s = NULL;
    mlc_error err;
    c->ok = mlc_net_session_create(c->net, &s, &err) == MLC_OK &&
            mlc_net_run(s, in, 2, &out, 1, &err) == MLC_OK;
    if (c->ok) memcpy(c->y, out.data, sizeof(float) * (size_t)(c->n * K2));
    mlc_net_session_free(s);
    return NULL;
}

static void concurrent(const char *model, const char *cdir, mlc_precision prec,
                       const struct res *p2, const struct res *p4)
{
    mlc_model_options o = opts(cdir, prec, MLC_BACKEND_AUTO);
    mlc_error err;
    mlc_net *net = NULL;
    CHECK_OK(mlc_net_load(model, &o, &net, &err), &err);
    if (!net) return;
    struct conc c[2] = {{net, 2, 0, {0}}, {net, 4, 0, {0}}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, conc_run, &c[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK(c[0].ok && c[1].ok);
    CHECK(!memcmp(c[0].y, p2->y, sizeof(float) * 2 * K2));
    CHECK(!memcmp(c[1].y, p4->y, sizeof(float) * 4 * K2));
    int loaded, added, hits;
    mlc_net_pack_cache_counts(net, &loaded, &added, &hits);
    CHECK_MSG(loaded >= 2 && hits >= 2, "concurrent: %d loaded, %d hits", loaded, hits);
    mlc_net_free(net);
}

/* The model file into bytes (static: one at a time) and its spans. */
static int file_spans(const char *model, uint8_t **bytes, struct onnx_span **sp)
{
    static uint8_t buf[1 << 21];
    FILE *f = fopen(model, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    *bytes = buf;
    return onnx_raw_spans(buf, n, sp);
}

static int same(const struct res *a, const struct res *b, int n)
{
    return memcmp(a->y, b->y, sizeof(float) * (size_t)(n * K2)) == 0;
}

static void test_pcache(void)
{
    char dir[] = "/tmp/mlc_pcache_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *model = core_sprintf("%s/m.onnx", dir), *cdir = core_sprintf("%s/cache", dir);
    write_model(model, 1, 0); /* cdir does not exist yet: the first flush makes it */
    static struct res plain, ref, cold, warm, r;

    /* Without a cache, and on the reference kernels (the arithmetic). */
    CHECK(run(model, NULL, MLC_PRECISION_F32, MLC_BACKEND_AUTO, 2, &plain));
    CHECK(plain.loaded == 0 && plain.added == 0);
    CHECK(run(model, NULL, MLC_PRECISION_F32, MLC_BACKEND_REFERENCE, 2, &ref));
    double md = 0;
    for (int i = 0; i < 2 * K2; i++) md = fmax(md, fabs(plain.y[i] - ref.y[i]));
    CHECK_MSG(md < 1e-4, "oneDNN against reference: %g", md);

    /* Cold: the two packed weights (W1, W2) are added and written. */
    CHECK(run(model, cdir, MLC_PRECISION_F32, MLC_BACKEND_AUTO, 2, &cold));
    CHECK_MSG(cold.loaded == 0 && cold.added == 2, "cold: %d loaded, %d added", cold.loaded,
              cold.added);
    CHECK(same(&cold, &plain, 2));
    CHECK(n_files(cdir) == 1);
    /* Warm: both mapped and used, the outputs bit for bit. */
    CHECK(run(model, cdir, MLC_PRECISION_F32, MLC_BACKEND_AUTO, 2, &warm));
    CHECK_MSG(warm.loaded == 2 && warm.hits == 2 && warm.added == 0,
              "warm: %d loaded, %d hits, %d added", warm.loaded, warm.hits, warm.added);
    CHECK(same(&warm, &plain, 2));
    /* Another batch size: whatever the layouts, the same numbers. */
    struct res p4;
    CHECK(run(model, NULL, MLC_PRECISION_F32, MLC_BACKEND_AUTO, 4, &p4));
    CHECK(run(model, cdir, MLC_PRECISION_F32, MLC_BACKEND_AUTO, 4, &r));
    CHECK(r.loaded >= 2 && same(&r, &p4, 4));
    concurrent(model, cdir, MLC_PRECISION_F32, &plain, &p4);
    /* The reference backend packs nothing and reads no cache. */
    CHECK(run(model, cdir, MLC_PRECISION_F32, MLC_BACKEND_REFERENCE, 2, &r));
    CHECK(r.loaded == 0 && same(&r, &ref, 2));

    /* bf16: a file of its own, warm equal to cold. */
    struct res b_cold, b_warm;
    CHECK(run(model, cdir, MLC_PRECISION_BF16, MLC_BACKEND_AUTO, 2, &b_cold));
    CHECK(b_cold.loaded == 0 && b_cold.added == 2);
    CHECK(n_files(cdir) == 2);
    CHECK(run(model, cdir, MLC_PRECISION_BF16, MLC_BACKEND_AUTO, 2, &b_warm));
    CHECK(b_warm.hits == 2 && same(&b_warm, &b_cold, 2));
    CHECK(run(model, cdir, MLC_PRECISION_F32, MLC_BACKEND_AUTO, 2, &r));
    CHECK(r.hits == 2 && same(&r, &plain, 2));

    /* int8: a file of its own; the conv's scales and s8 weights are two
     * entries, the head (two rows: float32) one; warm equal to cold, bit
     * for bit, without reading or quantizing the conv's weights again. */
    struct res q_cold, q_warm, q_plain;
    CHECK(run(model, NULL, MLC_PRECISION_INT8, MLC_BACKEND_AUTO, 2, &q_plain));
    CHECK(run(model, cdir, MLC_PRECISION_INT8, MLC_BACKEND_AUTO, 2, &q_cold));
    CHECK_MSG(q_cold.loaded == 0 && q_cold.added == 3, "int8 cold: %d loaded, %d added",
              q_cold.loaded, q_cold.added);
    CHECK(n_files(cdir) == 3 && same(&q_cold, &q_plain, 2));
    CHECK(run(model, cdir, MLC_PRECISION_INT8, MLC_BACKEND_AUTO, 2, &q_warm));
    CHECK_MSG(q_warm.loaded == 3 && q_warm.hits == 3 && q_warm.added == 0,
              "int8 warm: %d loaded, %d hits, %d added", q_warm.loaded, q_warm.hits, q_warm.added);
    CHECK(same(&q_warm, &q_cold, 2));
    /* Another batch: the cached scales, a layout the cache may lack (then
     * quantized from the file again), the same numbers as without a cache. */
    struct res q4, q4c;
    CHECK(run(model, NULL, MLC_PRECISION_INT8, MLC_BACKEND_AUTO, 4, &q4));
    CHECK(run(model, cdir, MLC_PRECISION_INT8, MLC_BACKEND_AUTO, 4, &q4c));
    CHECK(same(&q4c, &q4, 4));
    /* Two sessions binding batches 2 and 4 at once on the warm int8 cache. */
    concurrent(model, cdir, MLC_PRECISION_INT8, &q_plain, &q4);
    md = 0;
    for (int i = 0; i < 2 * K2; i++) md = fmax(md, fabs(q_warm.y[i] - ref.y[i]));
    CHECK_MSG(md < 0.05, "int8 against reference: %g", md);

    /* Damaged files: ignored, the right numbers, and rewritten. */
    for (int how = 0; how < 4; how++) {
        char *file = cache_file(cdir, model);
        CHECK(file != NULL);
        if (!file) break;
        damage(file, how);
        CHECK(run(model, cdir, MLC_PRECISION_F32, MLC_BACKEND_AUTO, 2, &r));
        CHECK_MSG(r.loaded == 0 && r.added == 2 && same(&r, &plain, 2), "damage %d: %d loaded", how,
                  r.loaded);
        CHECK(run(model, cdir, MLC_PRECISION_F32, MLC_BACKEND_AUTO, 2, &r));
        CHECK_MSG(r.hits == 2 && same(&r, &plain, 2), "after damage %d: %d hits", how, r.hits);
        mlc_free(file);
    }

    /* A new model file at the same path (other weights): the old cache is
     * stale. */
    sleep(1);
    write_model(model, 11, 0);
    struct res p2;
    CHECK(run(model, NULL, MLC_PRECISION_F32, MLC_BACKEND_AUTO, 2, &p2));
    CHECK(!same(&p2, &plain, 2));
    CHECK(run(model, cdir, MLC_PRECISION_F32, MLC_BACKEND_AUTO, 2, &r));
    CHECK_MSG(r.loaded == 0 && same(&r, &p2, 2), "stale: %d loaded", r.loaded);

    /* Entries that do not fit: W1's under a layout nobody asks for and the
     * Gather table's, which the backend never takes. Both weights are left in
     * the file at load and read from it after all. */
    sh("rm -f %s/*.mlcpack", cdir);
    {
        struct eng_pcache *pc = open_f32(cdir, model);
        mlc_error err = {0};
        uint8_t *bytes;
        struct onnx_span *sp = NULL;
        int ns = file_spans(model, &bytes, &sp);
        CHECK(ns == 5);
        static uint8_t junk[1 << 19];
        memset(junk, 0x7f, sizeof junk);
        for (int i = 0; pc && i < ns; i++) {
            char name[16];
            snprintf(name, sizeof name, "%.*s", (int)sp[i].name_len, sp[i].name);
            if (strcmp(name, "W1") && strcmp(name, "T")) continue;
            eng_pcache_add(pc, name, sp[i].off, sp[i].len, junk, 64, junk, sp[i].len);
        }
        CHECK(pc && eng_pcache_flush(pc, &err) == MLC_OK);
        mlc_free(sp);
        eng_pcache_free(pc);
    }
    CHECK(run(model, cdir, MLC_PRECISION_F32, MLC_BACKEND_AUTO, 2, &r));
    CHECK_MSG(r.loaded == 2 && r.hits == 0 && same(&r, &p2, 2), "unfit: %d loaded, %d hits",
              r.loaded, r.hits);

    /* A weight a pass rewrote (BatchNormalization folded into W1) is not
     * the file's: only W2 is cached, and the warm start folds W1 again. */
    sh("rm -f %s/*.mlcpack", cdir);
    write_model(model, 1, 1);
    struct res pb;
    CHECK(run(model, NULL, MLC_PRECISION_F32, MLC_BACKEND_AUTO, 2, &pb));
    CHECK(run(model, cdir, MLC_PRECISION_F32, MLC_BACKEND_AUTO, 2, &r));
    CHECK_MSG(r.added == 1 && same(&r, &pb, 2), "bn cold: %d added", r.added);
    CHECK(run(model, cdir, MLC_PRECISION_F32, MLC_BACKEND_AUTO, 2, &r));
    CHECK_MSG(r.loaded == 1 && r.hits == 1 && same(&r, &pb, 2), "bn warm: %d hits", r.hits);
    /* The check that keeps a rewritten weight out: the file's bytes. */
    {
        struct eng_pcache *pc = NULL;
        mlc_error err = {0};
        CHECK_OK(eng_pcache_open(cdir, model, "test", &pc, &err), &err);
        uint8_t *bytes;
        struct onnx_span *sp = NULL;
        int ns = file_spans(model, &bytes, &sp);
        CHECK(ns > 0 && pc);
        if (ns > 0 && pc) {
            CHECK(eng_pcache_same_src(pc, sp[0].off, sp[0].len, bytes + sp[0].off) == 0);
            bytes[sp[0].off + sp[0].len - 1] ^= 1;
            CHECK(eng_pcache_same_src(pc, sp[0].off, sp[0].len, bytes + sp[0].off) == -1);
        }
        mlc_free(sp);
        eng_pcache_free(pc);
    }

    sh("rm -rf %s", dir);
    mlc_free(model), mlc_free(cdir);
}

int main(void)
{
    TEST_RUN(test_pcache);
    TEST_DONE();
}
