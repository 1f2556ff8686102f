/*
 * test_node.c - runs ONNX's own node conformance tests (Debian's
 * libonnx-testdata, data/node/<test>/model.onnx + test_data_set_N/NAME.pb)
 * through mlc_net with the reference backend, one thread.
 *
 * Classification per test:
 *   pass      every output within tolerance on every data set
 *   fail      a model mlc loads (all its ops claimed) gives a wrong answer or
 *             an error at run time; also a claimed op refused for a reason
 *             other than a documented unsupported feature
 *   excluded  refused at load with UNSUPPORTED for a feature of a claimed op
 *             (dtype, attribute value, training mode): reason printed
 *   unclaimed refused at load because an op is not implemented
 * Tolerance: |got - want| <= atol + rtol * |want| with rtol 1e-3, atol 1e-7
 * (onnx/backend/test/runner's defaults); integers and bools exactly; NaN
 * matches NaN. MLC_NODE_REPORT=<file> writes a markdown table of every test.
 * MLC_ONNX_NODE_DIR overrides the data directory; MLC_NODE_FILTER=<substr>
 * runs only matching tests.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "onnx/onnx.h"
#include "onnx/onnx.pb-c.h"
#include "test.h"

#pragma GCC diagnostic ignored "-Wformat-truncation"

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_pb(const char *path, mlc_tensor *t)
{
    char *data = NULL;
    size_t n = 0;
    mlc_error err;
    if (core_read_file(path, 0, &data, &n, &err)) return -1;
    int rc = onnx_read_tensor_pb(data, n, t, NULL, &err) ? -1 : 0;
    if (rc) fprintf(stderr, "%s: %s\n", path, err.message);
    mlc_free(data);
    return rc;
}

static double as_d(const mlc_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case MLC_DTYPE_F32:
        return ((const float *)t->data)[i];
    case MLC_DTYPE_F64:
        return ((const double *)t->data)[i];
    case MLC_DTYPE_I64:
        return (double)((const int64_t *)t->data)[i];
    case MLC_DTYPE_I32:
        return ((const int32_t *)t->data)[i];
    case MLC_DTYPE_U8:
    case MLC_DTYPE_BOOL:
        return ((const uint8_t *)t->data)[i];
    case MLC_DTYPE_I8:
        return ((const int8_t *)t->data)[i];
    default:
        return NAN;
    }
}

/* Returns NULL when equal, else a static description. */
static const char *compare(const mlc_tensor *got, const mlc_tensor *want)
{
    static char msg[256];
    if (got->dtype != want->dtype) {
        snprintf(msg, sizeof msg, "dtype %d, want %d", got->dtype, want->dtype);
        return msg;
    }
    int64_t ng = ir_numel(got->rank, got->dims), nw = ir_numel(want->rank, want->dims);
    if (ng != nw || got->rank != want->rank) {
        snprintf(msg, sizeof msg, "shape rank %d numel %lld, want rank %d numel %lld", got->rank,
                 (long long)ng, want->rank, (long long)nw);
        return msg;
    }
    for (int d = 0; d < got->rank; d++)
        if (got->dims[d] != want->dims[d]) {
            snprintf(msg, sizeof msg, "dim %d is %lld, want %lld", d, (long long)got->dims[d],
                     (long long)want->dims[d]);
            return msg;
        }
    int is_f = got->dtype == MLC_DTYPE_F32 || got->dtype == MLC_DTYPE_F64;
    for (int64_t i = 0; i < nw; i++) {
        double a = as_d(got, i), b = as_d(want, i);
        if (isnan(a) && isnan(b)) continue;
        if (isinf(b) && a == b) continue;
        int ok = is_f ? fabs(a - b) <= 1e-7 + 1e-3 * fabs(b) : a == b;
        if (!ok) {
            snprintf(msg, sizeof msg, "element %lld is %.9g, want %.9g", (long long)i, a, b);
            return msg;
        }
    }
    return NULL;
}

enum verdict { V_PASS, V_FAIL, V_EXCLUDED, V_UNCLAIMED };

/* 1 when every node of the model is a default-domain op in ops.def (what
 * mlc claims), read straight from the protobuf, independent of the loader. */
static int all_ops_claimed(const char *path, char *why, size_t whylen)
{
    char *data = NULL;
    size_t n = 0;
    mlc_error err;
    int ok = 1;
    if (core_read_file(path, 0, &data, &n, &err)) return 1;
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, (const uint8_t *)data);
    if (m && m->graph) {
        for (size_t i = 0; i < m->graph->n_node && ok; i++) {
            const Onnx__NodeProto *nd = m->graph->node[i];
            if ((nd->domain && *nd->domain && strcmp(nd->domain, "ai.onnx")) ||
                ir_op_from_name(nd->op_type) == IR_OP_COUNT) {
                snprintf(why, whylen, "op %s%s%s not claimed", nd->domain ? nd->domain : "",
                         nd->domain && *nd->domain ? "." : "", nd->op_type);
                ok = 0;
            }
        }
    }
    if (m) onnx__model_proto__free_unpacked(m, NULL);
    mlc_free(data);
    return ok;
}

static enum verdict run_one(const char *dir, char *why, size_t whylen)
{
    char path[4096];
    mlc_model_options opt;
    memset(&opt, 0, sizeof opt);
    opt.threads = 1;
    opt.backend = MLC_BACKEND_REFERENCE;
    mlc_net *net = NULL;
    mlc_net_session *s = NULL;
    mlc_error err;
    enum verdict v = V_PASS;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (!all_ops_claimed(path, why, whylen)) return V_UNCLAIMED;
    mlc_status st = mlc_net_load(path, &opt, &net, &err);
    if (st) {
        const char *m = strstr(err.message, "model.onnx: ");
        snprintf(why, whylen, "%s", m ? m + 12 : err.message);
        if (st == MLC_STATUS_UNSUPPORTED) return V_EXCLUDED;
        return V_FAIL;
    }
    if (mlc_net_session_create(net, &s, &err)) {
        snprintf(why, whylen, "%s", err.message);
        mlc_net_free(net);
        return V_FAIL;
    }
    int nin = mlc_net_n_inputs(net), nout = mlc_net_n_outputs(net);
    for (int ds = 0; v == V_PASS; ds++) {
        snprintf(path, sizeof path, "%s/test_data_set_%d", dir, ds);
        if (!core_dir_exists(path)) break;
        mlc_tensor in[16], want[16], got[16];
        int ok = nin <= 16 && nout <= 16;
        memset(in, 0, sizeof in);
        memset(want, 0, sizeof want);
        /* Inputs listed in the .pb files in graph-input order; a model whose
         * inputs include initializers has fewer runtime inputs. */
        for (int i = 0; ok && i < nin; i++) {
            snprintf(path, sizeof path, "%s/test_data_set_%d/input_%d.pb", dir, ds, i);
            if (read_pb(path, &in[i])) ok = 0;
        }
        for (int i = 0; ok && i < nout; i++) {
            snprintf(path, sizeof path, "%s/test_data_set_%d/output_%d.pb", dir, ds, i);
            if (read_pb(path, &want[i])) ok = 0;
        }
        if (!ok) {
            snprintf(why, whylen, "cannot read test data set %d", ds);
            v = V_FAIL;
        } else if ((st = mlc_net_run(s, in, nin, got, nout, &err))) {
            snprintf(why, whylen, "run: %s", err.message);
            v = st == MLC_STATUS_UNSUPPORTED ? V_EXCLUDED : V_FAIL;
        } else {
            for (int i = 0; i < nout; i++) {
                const char *m = compare(&got[i], &want[i]);
                if (m) {
                    snprintf(why, whylen, "set %d output %d: %s", ds, i, m);
                    v = V_FAIL;
                    break;
                }
            }
        }
        for (int i = 0; i < 16; i++) {
            mlc_free(in[i].data);
            mlc_free(want[i].data);
        }
    }
    mlc_net_session_free(s);
    mlc_net_free(net);
    return v;
}

int main(void)
{
    const char *root = getenv("MLC_ONNX_NODE_DIR");
    const char *filter = getenv("MLC_NODE_FILTER");
    const char *report = getenv("MLC_NODE_REPORT");
    if (!root) root = "/usr/share/libonnx-testdata/data/node";
    DIR *d = opendir(root);
    if (!d) {
        printf("ONNX node test data not found at %s (install libonnx-testdata)\n", root);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "test_", 5) != 0) continue;
        if (filter && !strstr(e->d_name, filter)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            names = realloc(names, cap * sizeof *names);
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    FILE *rep = report ? fopen(report, "w") : NULL;
    if (rep) fprintf(rep, "| test | result | detail |\n|---|---|---|\n");
    int cnt[4] = {0, 0, 0, 0};
    static const char *const vname[] = {"pass", "FAIL", "excluded", "unclaimed"};
    for (size_t i = 0; i < n; i++) {
        char dir[4096], why[600] = "";
        snprintf(dir, sizeof dir, "%s/%s", root, names[i]);
        enum verdict v = run_one(dir, why, sizeof why);
        cnt[v]++;
        if (v == V_FAIL) fprintf(stderr, "FAIL %s: %s\n", names[i], why);
        if (rep && v != V_UNCLAIMED)
            fprintf(rep, "| %s | %s | %s |\n", names[i], vname[v], v == V_PASS ? "" : why);
        if (getenv("MLC_NODE_VERBOSE") && v != V_PASS)
            fprintf(stderr, "%s %s: %s\n", vname[v], names[i], why);
        free(names[i]);
    }
    free(names);
    if (rep) fclose(rep);
    printf("node tests: %d pass, %d fail, %d excluded, %d unclaimed\n", cnt[0], cnt[1], cnt[2],
           cnt[3]);
    test_passed = cnt[0];
    test_failed = cnt[1];
    (void)test_cur_failed;
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return cnt[1] ? 1 : 0;
}
