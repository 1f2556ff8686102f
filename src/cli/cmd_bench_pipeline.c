/*
 * cmd_bench_pipeline.c - `mlc bench PACKAGE_DIR --image IMG`: what the
 * pipeline around the network costs per image, through the public API.
 *
 * Per run: decode the image's bytes (already in memory), classify it
 * (preprocess, forward, postprocess), serialise the result as Roboflow's JSON;
 * then the forward alone (mlc_net_run of the package's weights.onnx, same
 * options, same input size). The pipeline's overhead is the median of the
 * first minus the median of the second: the number issue 8 bounds (3 ms for
 * a 1280x720 JPEG). Each median is of --runs runs after 2 warm-ups.
 *
 * Not here: reading the file from disk or the network (request handling is
 * measured by the server's load tests, docs/SERVER.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cli_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int cli_bench_pipeline(const char *pkg, const char *image, const mlc_model_options *opt, int runs,
                       int json)
{
    int rc = 1, w = 0, h = 0;
    mlc_error err = {0};
    mlc_model *m = NULL;
    mlc_session *s = NULL;
    mlc_net *net = NULL;
    mlc_net_session *ns = NULL;
    mlc_image *img = NULL;
    mlc_result *res = NULL;
    char *js = NULL, onnx[4200];
    float *x = NULL;
    size_t n_bytes = 0;
    double *t_dec = mlc_calloc((size_t)runs, sizeof(double));
    double *t_cls = mlc_calloc((size_t)runs, sizeof(double));
    double *t_js = mlc_calloc((size_t)runs, sizeof(double));
    double *t_all = mlc_calloc((size_t)runs, sizeof(double));
    double *t_fwd = mlc_calloc((size_t)runs, sizeof(double));
    char *bytes = cli_read_file(image, (size_t)1 << 30, &n_bytes);
    if (!bytes) fprintf(stderr, "mlc bench: cannot read '%s'\n", image);
    if (!bytes || !t_dec || !t_cls || !t_js || !t_all || !t_fwd) goto done;
    if (snprintf(onnx, sizeof onnx, "%s/weights.onnx", pkg) >= (int)sizeof onnx) {
        fprintf(stderr, "mlc bench: package path too long\n");
        goto done;
    }
    if (mlc_model_load(pkg, opt, &m, &err) || mlc_session_create(m, &s, &err) ||
        mlc_net_load(onnx, opt, &net, &err) || mlc_net_session_create(net, &ns, &err)) {
        rc = cli_fail(&err);
        goto done;
    }
    mlc_model_input_size(m, &w, &h);
    int iw = 0, ih = 0;
    for (int r = -2; r < runs; r++) {
        double a = cli_now_ms();
        if (mlc_image_decode(bytes, n_bytes, opt->threads != 1 ? MLC_IMAGE_TWO_THREADS : 0,
                             &opt->limits, &img, &err)) {
            fprintf(stderr, "mlc bench: '%s': %s\n", image, err.message);
            goto done;
        }
        double b = cli_now_ms();
        if (mlc_classify(s, (const mlc_image *const *)&img, 1, mlc_confidence_best(), &res, &err))
            goto fail;
        double c = cli_now_ms();
        if (mlc_result_to_json(mlc_result_at(res, 0), 0, &js, &err)) goto fail;
        double d = cli_now_ms();
        iw = mlc_image_width(img), ih = mlc_image_height(img);
        mlc_free(js), js = NULL;
        mlc_result_free(res), res = NULL;
        mlc_image_free(img), img = NULL;
        if (r >= 0) t_dec[r] = b - a, t_cls[r] = c - b, t_js[r] = d - c, t_all[r] = d - a;
    }
    mlc_tensor in = {MLC_DTYPE_F32, 4, {1, 3, h, w}, NULL}, out;
    x = mlc_calloc((size_t)3 * (size_t)w * (size_t)h, sizeof *x);
    if (!x) goto done;
    for (size_t k = 0; k < (size_t)3 * (size_t)w * (size_t)h; k++) x[k] = (float)(k % 255) / 255.f;
    in.data = x;
    for (int r = -2; r < runs; r++) {
        double a = cli_now_ms();
        if (mlc_net_run(ns, &in, 1, &out, 1, &err)) goto fail;
        if (r >= 0) t_fwd[r] = cli_now_ms() - a;
    }
    double dec = median(t_dec, runs), cls = median(t_cls, runs), jsm = median(t_js, runs);
    double all = median(t_all, runs), fwd = median(t_fwd, runs);
    if (json)
        printf("{\"pipeline\":\"%s\",\"image\":\"%s\",\"width\":%d,\"height\":%d,"
               "\"runs\":%d,\"decode_ms\":%.3f,\"classify_ms\":%.3f,\"json_ms\":%.3f,"
               "\"total_ms\":%.3f,\"forward_ms\":%.3f,\"overhead_ms\":%.3f}\n",
               pkg, image, iw, ih, runs, dec, cls, jsm, all, fwd, all - fwd);
    else
        printf("image       %s (%dx%d), model input %dx%d, %d runs\n"
               "decode      %.3f ms\nclassify    %.3f ms (preprocess, forward, postprocess)\n"
               "json        %.3f ms\ntotal       %.3f ms\nforward     %.3f ms (the network "
               "alone)\noverhead    %.3f ms per image\n",
               image, iw, ih, w, h, runs, dec, cls, jsm, all, fwd, all - fwd);
    rc = 0;
    goto done;
fail:
    rc = cli_fail(&err);
done:
    mlc_free(js);
    mlc_result_free(res);
    mlc_image_free(img);
    mlc_free(x);
    mlc_free(bytes);
    mlc_free(t_dec), mlc_free(t_cls), mlc_free(t_js), mlc_free(t_all), mlc_free(t_fwd);
    mlc_net_session_free(ns);
    mlc_net_free(net);
    mlc_session_free(s);
    mlc_model_free(m);
    return rc;
}
