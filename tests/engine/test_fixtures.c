/*
 * test_fixtures.c - mlc_net_run against PyTorch on the classifier-family
 * fixtures (tests/fixtures/onnx/<name>.onnx with <name>.in1/.out1 and, for
 * dynamic-batch models, .in3/.out3 .npy files; tools/export_families.py makes
 * them) and on the demo model (models/demo/weights.onnx with
 * tests/data/demo/batch3.input.npy / batch3.logits.npy) when present.
 * Criterion: max |mlc - torch| <= 1e-4 on every output element, with the
 * reference backend and with the default (auto) backend, one and two threads.
 * MLC_FIXTURE_DIR overrides the fixture directory. Also: the shape chains of
 * the dynamic-batch transformer fixtures are folded at load.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "mlc.h"
#include "test.h"

#pragma GCC diagnostic ignored "-Wformat-truncation"

static int n_checked;

static double max_diff(const mlc_tensor *a, const mlc_tensor *b)
{
    if (a->rank != b->rank) return INFINITY;
    int64_t n = 1;
    for (int d = 0; d < a->rank; d++) {
        if (a->dims[d] != b->dims[d]) return INFINITY;
        n *= a->dims[d];
    }
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)((const float *)a->data)[i] - ((const float *)b->data)[i]);
        if (!(d <= m)) m = d; /* NaN propagates */
    }
    return m;
}

/* Runs model on in_path and compares the first output with want_path. */
static void check_pair(const char *model, mlc_backend be, int threads, const char *in_path,
                       const char *want_path)
{
    mlc_model_options o;
    memset(&o, 0, sizeof o);
    o.threads = threads;
    o.backend = be;
    mlc_error err;
    mlc_net *net = NULL;
    mlc_net_session *s = NULL;
    mlc_tensor in = {0}, want = {0}, out;
    if (mlc_tensor_load_npy(in_path, &in, &err) || mlc_tensor_load_npy(want_path, &want, &err)) {
        CHECK_MSG(0, "%s", err.message);
        goto done;
    }
    if (mlc_net_load(model, &o, &net, &err) || mlc_net_session_create(net, &s, &err) ||
        mlc_net_run(s, &in, 1, &out, 1, &err)) {
        CHECK_MSG(0, "%s (backend %d): %s", model, (int)be, err.message);
        goto done;
    }
    double d = max_diff(&out, &want);
    printf("  %-60s backend=%s threads=%d max|diff|=%.3g\n", in_path,
           be == MLC_BACKEND_REFERENCE ? "ref" : "auto", threads, d);
    CHECK_MSG(d <= 1e-4, "%s on %s: max abs diff %g", model, in_path, d);
    n_checked++;
done:
    mlc_net_session_free(s);
    mlc_net_free(net);
    mlc_free(in.data);
    mlc_free(want.data);
}

static void test_fixtures(void)
{
    const char *dir = getenv("MLC_FIXTURE_DIR");
    char buf[4096];
    if (!dir) {
        snprintf(buf, sizeof buf, "%s", test_path("tests/fixtures/onnx"));
        dir = buf;
    }
    DIR *d = opendir(dir);
    if (!d) {
        printf("no fixtures at %s\n", dir);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".onnx")) continue;
        char model[4096], in[4096], want[4096], stem[1024];
        snprintf(stem, sizeof stem, "%.*s", (int)(l - 5), e->d_name);
        snprintf(model, sizeof model, "%s/%s", dir, e->d_name);
        printf("%s\n", stem);
        for (int k = 1; k <= 3; k += 2) {
            snprintf(in, sizeof in, "%s/%s.in%d.npy", dir, stem, k);
            snprintf(want, sizeof want, "%s/%s.out%d.npy", dir, stem, k);
            if (!core_file_exists(in) || !core_file_exists(want)) continue;
            check_pair(model, MLC_BACKEND_REFERENCE, k == 1 ? 1 : 2, in, want);
            check_pair(model, MLC_BACKEND_AUTO, 2, in, want);
        }
    }
    closedir(d);
}

/* Count of op `op` in the "op counts:" line of mlc_net_describe (0 when
 * absent). */
static int op_count(const char *desc, const char *op)
{
    const char *line = strstr(desc, "op counts:");
    char key[64];
    snprintf(key, sizeof key, " %s=", op);
    const char *p = line ? strstr(line, key) : NULL;
    const char *eol = line ? strchr(line, '\n') : NULL;
    return p && (!eol || p < eol) ? atoi(p + strlen(key)) : 0;
}

/* The dynamic-batch shape chains (Shape -> Gather -> Unsqueeze/Mul/Div/Cast
 * -> Concat -> Reshape, Equal/Where -> Expand) are folded at load for every
 * batch size (src/engine/symfold.c): with the reference backend, at most
 * `max_shape` Shape nodes (the class-token broadcast keeps one, its Expand
 * needs the batch) and no integer Cast/Equal are left. The outputs at batch
 * 1 and 3 are checked against PyTorch by test_fixtures. */
static void check_folded(const char *stem, int max_shape, int max_nodes, int max_regions)
{
    char model[4096];
    snprintf(model, sizeof model, "%s/%s.onnx", test_path("tests/fixtures/onnx"), stem);
    if (!core_file_exists(model)) {
        printf("%s not present\n", model);
        return;
    }
    mlc_model_options o;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    o.backend = MLC_BACKEND_REFERENCE;
    mlc_error err;
    mlc_net *net = NULL;
    char *desc = NULL;
    if (mlc_net_load(model, &o, &net, &err) || mlc_net_describe(net, &desc, &err)) {
        CHECK_MSG(0, "%s: %s", model, err.message);
        goto done;
    }
    int nodes = atoi(strstr(desc, "): ") ? strstr(desc, "): ") + 3 : "0");
    printf("  %s: %d nodes, Shape=%d Cast=%d Equal=%d\n", stem, nodes, op_count(desc, "Shape"),
           op_count(desc, "Cast"), op_count(desc, "Equal"));
    CHECK_MSG(op_count(desc, "Shape") <= max_shape, "%s: %d Shape nodes left", stem,
              op_count(desc, "Shape"));
    CHECK_MSG(op_count(desc, "Cast") == 0, "%s: Cast left", stem);
    CHECK_MSG(op_count(desc, "Equal") == 0, "%s: Equal left", stem);
    CHECK_MSG(nodes > 0 && nodes <= max_nodes, "%s: %d nodes (at most %d expected)", stem, nodes,
              max_nodes);
    /* With oneDNN, the folded graph is a handful of regions (partition.c:
     * the integer chain left for the class token runs before the region). */
    mlc_free(desc);
    mlc_net_free(net);
    desc = NULL;
    net = NULL;
    o.backend = MLC_BACKEND_AUTO;
    if (mlc_net_load(model, &o, &net, &err) || mlc_net_describe(net, &desc, &err)) {
        CHECK_MSG(0, "%s: %s", model, err.message);
        goto done;
    }
    const char *fused = strstr(desc, " fused, ");
    int regions = fused ? atoi(fused + 8) : -1;
    printf("  %s: %d backend regions\n", stem, regions);
    CHECK_MSG(regions >= 0 && regions <= max_regions, "%s: %d regions (at most %d expected)", stem,
              regions, max_regions);
done:
    mlc_free(desc);
    mlc_net_free(net);
}

static void test_shape_folding(void)
{
    /* Node counts (reference backend) and oneDNN regions measured when the
     * folding was written; before it: 91, 170, 98 and 1384 nodes, 6, 16, 12
     * and 61 regions. */
    check_folded("shapechains", 1, 30, 2);
    check_folded("vit", 1, 67, 1);
    check_folded("dinov2", 1, 67, 2);
    check_folded("swin", 0, 250, 21);
}

static void test_demo(void)
{
    char model[4096], in[4096], want[4096];
    snprintf(model, sizeof model, "%s", test_path("models/demo/weights.onnx"));
    snprintf(in, sizeof in, "%s", test_path("tests/data/demo/batch3.input.npy"));
    snprintf(want, sizeof want, "%s", test_path("tests/data/demo/batch3.logits.npy"));
    if (!core_file_exists(model) || !core_file_exists(in) || !core_file_exists(want)) {
        printf("demo model not present\n");
        return;
    }
    check_pair(model, MLC_BACKEND_REFERENCE, 1, in, want);
    check_pair(model, MLC_BACKEND_AUTO, 2, in, want);
}

int main(void)
{
    TEST_RUN(test_fixtures);
    TEST_RUN(test_shape_folding);
    TEST_RUN(test_demo);
    printf("%d model/input pairs checked\n", n_checked);
    TEST_DONE();
}
