/*
 * fuzz_onnx_dnnl.c - fuzz_onnx.c on the oneDNN backend (see there).
 */
#define FUZZ_DNNL 1
#include "fuzz_onnx.c"
