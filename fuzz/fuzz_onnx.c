/*
 * fuzz_onnx.c - libFuzzer target over the ONNX loader and the engine: parse,
 * validate, infer, fold and optimise the model (mlc_net_load_mem); when that
 * succeeds and every input is small, plan and run it once on zeros with
 * symbolic dimensions set to 1. Limits are lowered so a fuzzer-made shape
 * cannot legitimately ask for gigabytes.
 *
 * Built twice: fuzz_onnx on the reference kernels, and fuzz_onnx_dnnl
 * (FUZZ_DNNL) on the oneDNN backend, so that the partition and the region's
 * bind (layouts, strided views, subsamples, packing) meet hostile but valid
 * models too, in float32, bf16 (inputs of odd size) and int8 (2 mod 4); its seeds
 * (fuzz/corpus/fuzz_onnx_dnnl/) have constant weights, which the partition needs.
 * Inputs of size 0 mod 3 run on two threads with a symbolic leading dimension
 * of 2 and the batch split (two one-image sessions side by side).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mlc_model_options opt;
    memset(&opt, 0, sizeof opt);
    opt.threads = 1;
#ifdef FUZZ_DNNL
    opt.backend = MLC_BACKEND_AUTO;
    /* Inputs of odd size bind in bf16 (other layouts, dense copies of
     * transposed operands), of size 2 mod 4 in int8 (quantized weights,
     * quantizing steps, the fallbacks to float32), keeping the corpus's
     * meaning unchanged. */
    if (size & 1)
        opt.precision = MLC_PRECISION_BF16;
    else if (size % 4 == 2)
        opt.precision = MLC_PRECISION_INT8;
#else
    opt.backend = MLC_BACKEND_REFERENCE;
#endif
    opt.limits.max_input_bytes = 1u << 20;
    /* Inputs of size 0 mod 3 run with two threads, a batch of two and the
     * batch split (net.c's images side by side, MLC_NET_CHUNK=1). */
    int split = size % 3 == 0;
    if (split) {
        opt.threads = 2;
        setenv("MLC_NET_CHUNK", "1", 1);
    } else {
        unsetenv("MLC_NET_CHUNK");
    }
    mlc_error err;
    mlc_net *net = NULL;
    if (mlc_net_load_mem(data, size, &opt, &net, &err) != MLC_OK) return 0;
    int n = mlc_net_n_inputs(net);
    mlc_tensor in[8];
    void *zero = NULL;
    mlc_net_session *s = NULL;
    int ok = n <= 8;
    for (int i = 0; ok && i < n; i++) {
        mlc_net_input(net, i, &in[i]);
        int64_t ne = 1;
        for (int d = 0; d < in[i].rank; d++) {
            if (in[i].dims[d] < 0) in[i].dims[d] = split && d == 0 ? 2 : 1;
            ne *= in[i].dims[d];
            if (ne > 4096) ok = 0;
        }
    }
    zero = mlc_calloc(1, 4096 * 8);
    for (int i = 0; ok && i < n; i++) in[i].data = zero;
    if (ok && zero && mlc_net_session_create(net, &s, &err) == MLC_OK) {
        mlc_tensor out[4];
        int no = mlc_net_n_outputs(net);
        mlc_net_run(s, in, n, out, no < 4 ? no : 4, &err);
        mlc_net_run(s, in, n, out, no < 4 ? no : 4, &err); /* planned path */
    }
    mlc_net_session_free(s);
    mlc_free(zero);
    mlc_net_free(net);
    return 0;
}
