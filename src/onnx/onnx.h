/*
 * onnx.h - the ONNX reader: protobuf bytes -> ir_graph (onnx/ir.h).
 *
 * Accepted subset
 *   ModelProto with a default-domain ("" or "ai.onnx") opset import between
 *   7 and 21; a GraphProto whose nodes are all in the default domain and in
 *   ops.def, with the attributes onnx_load documents per op; dense
 *   initializers (raw_data or the typed fields; external data files beside
 *   the model, by relative path only); tensor-typed graph inputs/outputs.
 *   No sparse initializers, subgraphs (If/Loop/Scan), training info or
 *   functions. Anything outside this is refused with a status naming the
 *   culprit, never assumed.
 *
 * Normalisation: attributes that later opsets turned into inputs (Squeeze/
 * Unsqueeze/Reduce* axes, Split split, Slice starts/ends/axes, Clip min/max,
 * Pad pads/value) become constant inputs, so kernels see one form. Softmax
 * and LogSoftmax before opset 13 get the internal attribute "mlc_coerce2d".
 * Constant nodes become constant tensors.
 */
#ifndef MLC_ONNX_ONNX_H
#define MLC_ONNX_ONNX_H

#include "core/core.h"
#include "onnx/ir.h"

struct onnx_load_opts {
    const char *base_dir; /* directory for external data; NULL = refuse external data */
    size_t max_bytes;     /* cap on the model and on each external file (0 = 2 GiB) */
    int max_nodes;        /* 0 = 1 << 20 */
    /* bytes is a private read-only file mapping the loader may release as it
     * goes (madvise DONTNEED on what the parser has copied), so that the file
     * and the parsed weights are not both resident at peak. */
    int release_input;
    /* Threads that may populate the weights' fresh buffers (core_prefault). */
    int threads;
};

/* Parses, validates and converts a model. On success *g holds the graph
 * (caller frees with ir_graph_free); on failure *g is left empty. */
mlc_status onnx_load(const void *bytes, size_t n, const struct onnx_load_opts *o,
                     struct ir_graph *g, mlc_error *err);

/* Parses one serialized TensorProto (as in ONNX's test_data_set_N/input_N.pb).
 * On success t_out->data is caller-freed with mlc_free and *name_out (may be
 * NULL) is a caller-freed copy of the tensor's name. */
mlc_status onnx_read_tensor_pb(const void *bytes, size_t n, mlc_tensor *t_out, char **name_out,
                               mlc_error *err);

#endif
