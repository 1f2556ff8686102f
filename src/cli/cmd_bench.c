/*
 * cmd_bench.c - `mlc bench MODEL.onnx`: times one ONNX network through the
 * public mlc_net_* API, the way bench/run.sh compares mlc with ONNX Runtime.
 *
 * Measures: load (mlc_net_load + mlc_net_session_create), the first run (which
 * includes per-shape binding: plans, oneDNN primitives), then 2 warm-up runs
 * and --runs timed runs (median, min, images/s), and the process's peak RSS
 * (VmHWM from /proc/self/status, getrusage as fallback).
 *
 * It does not check results; --output writes the first output of the last run
 * as .npy so that a caller (bench/run.sh) can compare engines. The input is
 * --input FILE.npy (its batch wins over --batch) or a deterministic pattern
 * (sin(i * 0.001), the same as the ORT peer's default) of shape [batch, ...]
 * where the network's symbolic dimensions are taken from --batch.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

double cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Peak resident set size in MiB. */
static double peak_rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = -1;
    if (f) {
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "VmHWM:", 6)) {
                kb = strtod(line + 6, NULL);
                break;
            }
        fclose(f);
    }
    if (kb < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = (double)ru.ru_maxrss;
    }
    return kb / 1024.0;
}

int cli_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mlc bench MODEL.onnx [--batch N] [--threads N] [--runs N]\n"
               "                 [--precision f32|bf16|int8] [--backend ref|auto]\n"
               "                 [--input in.npy] [--output out.npy] [--pack-cache DIR] [--json]\n"
               "       mlc bench PACKAGE_DIR --image IMG [--threads N] [--runs N] [--json]\n"
               "Times load, first run and --runs runs (default 20) after 2 warm-ups;\n"
               "with --image, decode + classify + JSON per image against the forward alone.\n"
               "--pack-cache DIR (or $MLC_PACK_CACHE) keeps the packed weights there for the\n"
               "next start.\n");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int cli_cmd_bench(int argc, char **argv)
{
    const char *model = NULL, *in_path = NULL, *out_path = NULL, *image = NULL;
    int batch = 1, runs = 20, json = 0, rc = 1;
    mlc_model_options opt;
    mlc_model_options_default(&opt);
    opt.threads = 0;
    /* Benchmarks time big exports (vit_b_16 is 330 MB): the file is the
     * user's own choice here, so allow up to 2 GiB instead of 256 MiB. */
    opt.limits.max_input_bytes = (size_t)2 << 30;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--batch") || !strcmp(a, "--threads") || !strcmp(a, "--runs")) {
            int *dst = a[2] == 'b' ? &batch : a[2] == 't' ? &opt.threads : &runs;
            if (parse_int(v, a[2] == 't' ? 0 : 1, 4096, dst)) {
                fprintf(stderr, "mlc bench: %s needs a positive integer\n", a);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--precision") && v) {
            if (cli_parse_precision("bench", v, &opt.precision)) return 2;
            i++;
        } else if (!strcmp(a, "--backend") && v) {
            if (!strcmp(v, "ref"))
                opt.backend = MLC_BACKEND_REFERENCE;
            else if (!strcmp(v, "auto"))
                opt.backend = MLC_BACKEND_AUTO;
            else {
                fprintf(stderr, "mlc bench: --backend is ref or auto, not '%s'\n", v);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--input") && v) {
            in_path = v, i++;
        } else if (!strcmp(a, "--pack-cache") && v) {
            opt.pack_cache = v, i++;
        } else if (!strcmp(a, "--image") && v) {
            image = v, i++;
        } else if (!strcmp(a, "--output") && v) {
            out_path = v, i++;
        } else if (a[0] == '-' || model) {
            fprintf(stderr, "mlc bench: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        } else {
            model = a;
        }
    }
    if (!model) {
        usage(stderr);
        return 2;
    }
    if (image) return cli_bench_pipeline(model, image, &opt, runs, json);

    mlc_error err = {0};
    mlc_net *net = NULL;
    mlc_net_session *ns = NULL;
    mlc_tensor in = {0}, out = {0};
    double *times = mlc_calloc((size_t)runs, sizeof *times);
    int owned_input = 0;
    if (!times) {
        fprintf(stderr, "mlc: out of memory\n");
        return 1;
    }

    double t0 = cli_now_ms();
    if (mlc_net_load(model, &opt, &net, &err) || mlc_net_session_create(net, &ns, &err)) {
        rc = cli_fail(&err);
        goto done;
    }
    double load_ms = cli_now_ms() - t0;
    if (mlc_net_n_inputs(net) != 1 || mlc_net_n_outputs(net) < 1) {
        fprintf(stderr, "mlc bench: %s has %d inputs; bench feeds exactly one\n", model,
                mlc_net_n_inputs(net));
        goto done;
    }
    mlc_tensor desc;
    mlc_net_input(net, 0, &desc);
    if (in_path) {
        if (mlc_tensor_load_npy(in_path, &in, &err)) {
            rc = cli_fail(&err);
            goto done;
        }
        owned_input = 1;
        if (in.rank >= 1) batch = (int)in.dims[0];
    } else {
        in = desc;
        size_t n = 1;
        for (int d = 0; d < in.rank; d++) {
            if (in.dims[d] < 0) in.dims[d] = d == 0 ? batch : 1;
            n *= (size_t)in.dims[d];
        }
        if (in.dims[0] > 0 && desc.dims[0] < 0)
            in.dims[0] = batch;
        else
            batch = in.rank ? (int)in.dims[0] : 1;
        in.dtype = MLC_DTYPE_F32;
        float *p = mlc_alloc(n * sizeof *p);
        if (!p) {
            fprintf(stderr, "mlc: out of memory\n");
            goto done;
        }
        for (size_t k = 0; k < n; k++) p[k] = sinf((float)k * 0.001f);
        in.data = p;
        owned_input = 1;
    }

    double f0 = cli_now_ms();
    if (mlc_net_run(ns, &in, 1, &out, 1, &err)) {
        rc = cli_fail(&err);
        goto done;
    }
    double first_ms = cli_now_ms() - f0;
    for (int w = 0; w < 2; w++)
        if (mlc_net_run(ns, &in, 1, &out, 1, &err)) {
            rc = cli_fail(&err);
            goto done;
        }
    int split_runs = 0, split_max = 0;
    for (int r = 0; r < runs; r++) {
        double a = cli_now_ms();
        if (mlc_net_run(ns, &in, 1, &out, 1, &err)) {
            rc = cli_fail(&err);
            goto done;
        }
        times[r] = cli_now_ms() - a;
        int k = mlc_net_session_split(ns);
        split_runs += k >= 1;
        if (k > split_max) split_max = k;
    }
    qsort(times, (size_t)runs, sizeof *times, cli_cmp_double);
    double med = times[runs / 2], mn = times[0];
    if (out_path && mlc_tensor_save_npy(out_path, &out, &err)) {
        rc = cli_fail(&err);
        goto done;
    }
    const char *prec = opt.precision == MLC_PRECISION_BF16   ? "bf16"
                       : opt.precision == MLC_PRECISION_INT8 ? "int8"
                                                             : "f32";
    const char *be = opt.backend == MLC_BACKEND_REFERENCE ? "ref" : "auto";
    int pk_loaded, pk_added, pk_hits;
    mlc_net_pack_cache_counts(net, &pk_loaded, &pk_added, &pk_hits);
    if (json)
        printf("{\"engine\":\"mlc %s\",\"model\":\"%s\",\"batch\":%d,\"threads\":%d,"
               "\"precision\":\"%s\",\"backend\":\"%s\",\"load_ms\":%.1f,\"first_ms\":%.2f,"
               "\"median_ms\":%.2f,\"min_ms\":%.2f,\"img_per_s\":%.1f,\"rss_mb\":%.0f,"
               "\"workspace_mb\":%.1f,\"pack_cache\":{\"loaded\":%d,\"added\":%d,\"hits\":%d},"
               "\"split_runs\":%d,\"split_max\":%d}\n",
               MLC_VERSION, base_name(model), batch, opt.threads, prec, be, load_ms, first_ms, med,
               mn, 1000.0 * batch / med, peak_rss_mb(),
               (double)mlc_net_session_workspace(ns) / 1048576.0, pk_loaded, pk_added, pk_hits,
               split_runs, split_max);
    else
        printf("model       %s (batch %d, threads %d, %s, backend %s)\n"
               "load        %.1f ms\nfirst run   %.2f ms\nmedian      %.2f ms (%d runs)\n"
               "min         %.2f ms\nthroughput  %.1f images/s\npeak RSS    %.0f MiB\n"
               "pack cache  %d entries read, %d added, %d used\n"
               "batch split %d of %d runs (at most %d images at once)\n",
               base_name(model), batch, opt.threads, prec, be, load_ms, first_ms, med, runs, mn,
               1000.0 * batch / med, peak_rss_mb(), pk_loaded, pk_added, pk_hits, split_runs, runs,
               split_max);
    rc = 0;
done:
    if (owned_input) mlc_free(in.data);
    mlc_free(times);
    mlc_net_session_free(ns);
    mlc_net_free(net);
    return rc;
}
