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
    /* Record where each initializer's raw_data lies in `bytes`
     * (ir_tensor.src_off / src_len), for a packed-weights cache. */
    int want_spans;
    /* Initializers to leave unread, as onnx_raw_spans gives them (sorted by
     * offset): those whose name and span still match become IR_TENSOR_LAZY
     * (their bytes stay in the file; a packed-weights cache has what they
     * become). The others load as usual. */
    const struct onnx_span *lazy;
    int n_lazy;
    /* With read_fd set: fd is the model file `bytes` maps (not populated).
     * The raw_data of large initializers is read from it with pread into
     * their own buffers, on `threads` threads, rather than copied by the
     * parser out of the mapping: the file's pages are then never mapped
     * (mapping 94 MB of page cache and dropping it again was a fifth of
     * resnet50's load here, docs/PERFORMANCE.md). */
    int read_fd;
    int fd;
};

/* wire.c: where an initializer's raw_data lies in the model bytes. */
struct onnx_span {
    int ordinal;      /* index in graph.initializer */
    const char *name; /* the initializer's name, not NUL-terminated */
    size_t name_len;
    int64_t off; /* raw_data's offset in the bytes */
    size_t len;
};
/* The raw_data spans of every initializer that has one, in file order;
 * *spans_out is mlc_alloc'd (caller frees; names point into bytes).
 * Returns their count, or -1 when the file is not a shape this reads
 * (then load it the ordinary way: that is not an error). */
int onnx_raw_spans(const void *bytes, size_t n, struct onnx_span **spans_out);
/* A copy of the model without the raw_data of the `skip` spans (sorted by
 * offset, each one onnx_raw_spans returned): *out is mlc_alloc'd. Returns 0,
 * or -1 (out of memory, or a file onnx_raw_spans would decline). */
int onnx_strip_raw(const void *bytes, size_t n, const struct onnx_span *skip, int n_skip,
                   uint8_t **out, size_t *out_len);

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
