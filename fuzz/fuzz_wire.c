/*
 * fuzz_wire.c - libFuzzer target over onnx/wire.c: the raw_data spans of a
 * model and the copy of it without them. Differential: the model loaded
 * as usual and loaded with every span left in the file (IR_TENSOR_LAZY),
 * then read back from the bytes, must succeed or fail together and give
 * the same tensors byte for byte. Every span must lie inside the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "onnx/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct onnx_span *sp = NULL;
    int ns = onnx_raw_spans(data, size, &sp);
    for (int i = 0; i < ns; i++)
        if (sp[i].off < 0 || (size_t)sp[i].off > size || sp[i].len > size - (size_t)sp[i].off ||
            (i && sp[i].off <= sp[i - 1].off))
            __builtin_trap();
    struct onnx_load_opts o1, o2;
    memset(&o1, 0, sizeof o1);
    o1.max_bytes = 1u << 20;
    o2 = o1;
    o2.lazy = sp;
    o2.n_lazy = ns > 0 ? ns : 0;
    struct ir_graph g1, g2;
    mlc_error e;
    int ok1 = onnx_load(data, size, &o1, &g1, &e) == MLC_OK;
    int ok2 = onnx_load(data, size, &o2, &g2, &e) == MLC_OK;
    if (ok1 != ok2) __builtin_trap();
    if (ok1 && ok2) {
        g2.src = data;
        g2.src_n = size;
        if (g1.n_tensors != g2.n_tensors) __builtin_trap();
        for (int t = 0; t < g2.n_tensors; t++) {
            if (ir_tensor_materialize(&g2, t, &e) != MLC_OK) __builtin_trap();
            const struct ir_tensor *a = &g1.tensors[t], *b = &g2.tensors[t];
            if (!a->data != !b->data || strcmp(a->name, b->name)) __builtin_trap();
            size_t n = a->data ? ir_tensor_nbytes(a) : 0;
            if (n != (b->data ? ir_tensor_nbytes(b) : 0) || (n && memcmp(a->data, b->data, n)))
                __builtin_trap();
        }
    }
    if (ok1) ir_graph_free(&g1);
    if (ok2) ir_graph_free(&g2);
    mlc_free(sp);
    return 0;
}
