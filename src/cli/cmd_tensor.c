/*
 * cmd_tensor.c - `mlc tensor MODEL.onnx --input in.npy [--input more.npy ...]
 * --output out.npy [--threads N] [--backend ref|auto] [--precision f32|bf16|int8]
 * [--pack-cache DIR]`:
 * runs a raw ONNX network on .npy inputs (graph input order) and writes the
 * first output as .npy float32. Uses only the public API (mlc.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_INPUTS 16

static int usage(void)
{
    fprintf(stderr,
            "usage: mlc tensor MODEL.onnx --input IN.npy [--input IN2.npy ...] "
            "--output OUT.npy [--threads N] [--backend ref|auto] [--precision f32|bf16|int8] "
            "[--pack-cache DIR]\n");
    return 2;
}

int cli_cmd_tensor(int argc, char **argv)
{
    const char *model = NULL, *out_path = NULL, *in_paths[MAX_INPUTS];
    int n_in = 0, rc = 1;
    mlc_model_options opt;
    memset(&opt, 0, sizeof opt);
    /* As bench and inspect: the file is the user's own choice (vit_b_16 is
     * 330 MB), so up to 2 GiB instead of 256 MiB. */
    opt.limits.max_input_bytes = (size_t)2 << 30;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--input") == 0 && v) {
            if (n_in == MAX_INPUTS) return usage();
            in_paths[n_in++] = v, i++;
        } else if (strcmp(a, "--output") == 0 && v) {
            out_path = v, i++;
        } else if (strcmp(a, "--pack-cache") == 0 && v) {
            opt.pack_cache = v, i++;
        } else if (strcmp(a, "--threads") == 0 && v) {
            char *end;
            long t = strtol(v, &end, 10);
            if (*end || t < 0 || t > 256) return usage();
            opt.threads = (int)t, i++;
        } else if (strcmp(a, "--backend") == 0 && v) {
            if (strcmp(v, "ref") == 0)
                opt.backend = MLC_BACKEND_REFERENCE;
            else if (strcmp(v, "auto") == 0)
                opt.backend = MLC_BACKEND_AUTO;
            else
                return usage();
            i++;
        } else if (strcmp(a, "--precision") == 0 && v) {
            if (cli_parse_precision("tensor", v, &opt.precision)) return 2;
            i++;
        } else if (a[0] != '-' && !model) {
            model = a;
        } else {
            return usage();
        }
    }
    if (!model || !out_path || n_in == 0) return usage();
    mlc_error err;
    mlc_net *net = NULL;
    mlc_net_session *s = NULL;
    mlc_tensor in[MAX_INPUTS], out;
    int loaded = 0;
    memset(in, 0, sizeof in);
    if (mlc_net_load(model, &opt, &net, &err) || mlc_net_session_create(net, &s, &err)) {
        rc = cli_fail(&err);
        goto done;
    }
    if (n_in != mlc_net_n_inputs(net)) {
        fprintf(stderr, "mlc: %s takes %d inputs, %d given\n", model, mlc_net_n_inputs(net), n_in);
        rc = 2;
        goto done;
    }
    for (; loaded < n_in; loaded++) {
        if (mlc_tensor_load_npy(in_paths[loaded], &in[loaded], &err)) {
            rc = cli_fail(&err);
            goto done;
        }
        mlc_tensor want;
        mlc_net_input(net, loaded, &want);
        /* Accept float64 .npy for a float32 input (numpy's default). */
        if (want.dtype == MLC_DTYPE_F32 && in[loaded].dtype == MLC_DTYPE_F64) {
            size_t n = 1;
            for (int d = 0; d < in[loaded].rank; d++) n *= (size_t)in[loaded].dims[d];
            float *f = mlc_alloc(n * sizeof(float) + 1);
            if (!f) {
                fprintf(stderr, "mlc: out of memory\n");
                goto done;
            }
            for (size_t k = 0; k < n; k++) f[k] = (float)((const double *)in[loaded].data)[k];
            mlc_free(in[loaded].data);
            in[loaded].data = f;
            in[loaded].dtype = MLC_DTYPE_F32;
        }
    }
    if (mlc_net_run(s, in, n_in, &out, 1, &err)) {
        rc = cli_fail(&err);
        goto done;
    }
    mlc_tensor o = out;
    float *conv = NULL;
    if (o.dtype != MLC_DTYPE_F32) {
        size_t n = 1;
        for (int d = 0; d < o.rank; d++) n *= (size_t)o.dims[d];
        conv = mlc_alloc(n * sizeof(float) + 1);
        if (!conv) {
            fprintf(stderr, "mlc: out of memory\n");
            goto done;
        }
        for (size_t k = 0; k < n; k++) {
            switch (o.dtype) {
            case MLC_DTYPE_I64:
                conv[k] = (float)((const int64_t *)o.data)[k];
                break;
            case MLC_DTYPE_I32:
                conv[k] = (float)((const int32_t *)o.data)[k];
                break;
            case MLC_DTYPE_F64:
                conv[k] = (float)((const double *)o.data)[k];
                break;
            case MLC_DTYPE_U8:
            case MLC_DTYPE_BOOL:
                conv[k] = (float)((const uint8_t *)o.data)[k];
                break;
            case MLC_DTYPE_I8:
                conv[k] = (float)((const int8_t *)o.data)[k];
                break;
            default:
                conv[k] = 0;
                break;
            }
        }
        o.data = conv;
        o.dtype = MLC_DTYPE_F32;
    }
    if (mlc_tensor_save_npy(out_path, &o, &err))
        rc = cli_fail(&err);
    else
        rc = 0;
    mlc_free(conv);
done:
    for (int i = 0; i < n_in; i++) mlc_free(in[i].data);
    mlc_net_session_free(s);
    mlc_net_free(net);
    return rc;
}
