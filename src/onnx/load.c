/*
 * load.c - ONNX ModelProto -> ir_graph (see onnx.h for the accepted subset).
 *
 * Parsing uses protobuf-c's generated code with mlc's allocator, so a
 * malformed file is a protobuf-c unpack failure (BAD_MODEL), never a crash.
 * Everything protobuf-c lets through is then validated here before it enters
 * the IR: dtypes, ranks, non-negative dims whose product fits, data lengths
 * equal to the shape, names resolving to exactly one definition, attribute
 * names each op accepts. It does not infer shapes or check attribute values
 * (the engine's eng_infer does, at load time, before any plan).
 */
#include "onnx/onnx.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "onnx/onnx.pb-c.h"

/* Set when protobuf-c's unpack failed for lack of memory rather than for a
 * malformed message, so the caller can report NO_MEMORY. Per thread. */
static _Thread_local int pb_oom;

/* With onnx_load_opts.release_input: the mapped model and how much of it the
 * parser has certainly copied. Large buffers are raw_data, copied from the
 * file in file order; when one is allocated, the bytes of all earlier large
 * buffers lie before it in the file, so pages below their total are behind
 * the parser and can be dropped (a re-read would fault them in again). */
static _Thread_local const uint8_t *pb_src;
static _Thread_local size_t pb_src_len, pb_done, pb_dropped;
static _Thread_local int pb_threads; /* onnx_load_opts.threads */

static void *pb_alloc(void *ctx, size_t n)
{
    (void)ctx;
    /* Large buffers get 64 bytes of room at the end: the oneDNN backend packs
     * weights back into their own buffer, 64-byte aligned (engine/dnnl/pack.c). */
    void *p = mlc_alloc(n >= ((size_t)256 << 10) ? n + 64 : n ? n : 1);
    if (!p) pb_oom = 1;
    /* Large buffers are weights (raw_data) about to be filled: populate their
     * pages in one call instead of taking a page fault per 4 KiB page, which
     * dominated load time in this VM. Only a hint (older kernels: EINVAL). */
    if (p && pb_src && n >= ((size_t)256 << 10)) {
        size_t upto = (pb_done < pb_src_len ? pb_done : pb_src_len) & ~(size_t)4095;
        uintptr_t a0 = ((uintptr_t)pb_src + 4095) & ~(uintptr_t)4095;
        size_t head = (size_t)(a0 - (uintptr_t)pb_src);
        if (upto > head + pb_dropped + ((size_t)8 << 20)) {
            (void)madvise((void *)(a0 + pb_dropped), upto - head - pb_dropped, MADV_DONTNEED);
            pb_dropped = upto - head;
        }
        pb_done += n;
    }
    core_prefault(p, n, pb_threads);
    return p;
}
static void pb_free(void *ctx, void *p)
{
    (void)ctx;
    mlc_free(p);
}
static ProtobufCAllocator pb_allocator = {pb_alloc, pb_free, NULL};

/* ---- attribute white-list per op ---------------------------------------- */

struct op_attrs {
    enum ir_op op;
    const char *names; /* comma-separated */
};

static const struct op_attrs op_attr_table[] = {
    {IR_OP_ArgMax, "axis,keepdims,select_last_index"},
    {IR_OP_AveragePool, "auto_pad,ceil_mode,count_include_pad,kernel_shape,pads,strides"},
    {IR_OP_BatchNormalization, "epsilon,momentum,spatial,is_test,training_mode"},
    {IR_OP_Cast, "to,saturate"},
    {IR_OP_Celu, "alpha"},
    {IR_OP_Clip, "min,max"},
    {IR_OP_Concat, "axis"},
    {IR_OP_Constant, "value,value_float,value_floats,value_int,value_ints"},
    {IR_OP_ConstantOfShape, "value"},
    {IR_OP_Conv, "auto_pad,dilations,group,kernel_shape,pads,strides"},
    {IR_OP_CumSum, "exclusive,reverse"},
    {IR_OP_Dropout, "ratio,seed,is_test"},
    {IR_OP_Elu, "alpha"},
    {IR_OP_Flatten, "axis"},
    {IR_OP_Gather, "axis"},
    {IR_OP_Gelu, "approximate"},
    {IR_OP_Gemm, "alpha,beta,transA,transB,broadcast"},
    {IR_OP_HardSigmoid, "alpha,beta"},
    {IR_OP_InstanceNormalization, "epsilon"},
    {IR_OP_LayerNormalization, "axis,epsilon,stash_type"},
    {IR_OP_LeakyRelu, "alpha"},
    {IR_OP_LogSoftmax, "axis"},
    {IR_OP_MaxPool, "auto_pad,ceil_mode,dilations,kernel_shape,pads,storage_order,strides"},
    {IR_OP_Mod, "fmod"},
    {IR_OP_Pad, "mode,pads,value"},
    {IR_OP_ReduceL2, "axes,keepdims,noop_with_empty_axes"},
    {IR_OP_ReduceMax, "axes,keepdims,noop_with_empty_axes"},
    {IR_OP_ReduceMean, "axes,keepdims,noop_with_empty_axes"},
    {IR_OP_ReduceMin, "axes,keepdims,noop_with_empty_axes"},
    {IR_OP_ReduceProd, "axes,keepdims,noop_with_empty_axes"},
    {IR_OP_ReduceSum, "axes,keepdims,noop_with_empty_axes"},
    {IR_OP_ReduceSumSquare, "axes,keepdims,noop_with_empty_axes"},
    {IR_OP_Reshape, "allowzero"},
    {IR_OP_ScatterND, "reduction"},
    {IR_OP_Selu, "alpha,gamma"},
    {IR_OP_Shape, "start,end"},
    {IR_OP_Slice, "starts,ends,axes"},
    {IR_OP_Softmax, "axis"},
    {IR_OP_Split, "axis,split,num_outputs"},
    {IR_OP_Squeeze, "axes"},
    {IR_OP_Transpose, "perm"},
    {IR_OP_Unsqueeze, "axes"},
};

static int attr_allowed(enum ir_op op, const char *name)
{
    size_t ln = strlen(name);
    if (!ln) return 0;
    for (size_t i = 0; i < sizeof op_attr_table / sizeof op_attr_table[0]; i++) {
        if (op_attr_table[i].op != op) continue;
        const char *p = op_attr_table[i].names;
        while (*p) {
            const char *e = strchr(p, ',');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            if (l == ln && memcmp(p, name, l) == 0) return 1;
            if (!e) break;
            p = e + 1;
        }
    }
    return 0;
}

/* ---- name table ---------------------------------------------------------- */

struct name_map {
    const char **keys;
    int *vals;
    size_t cap;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

static int map_init(struct name_map *m, size_t n)
{
    m->cap = 16;
    while (m->cap < 2 * n + 16) m->cap *= 2;
    m->keys = mlc_calloc(m->cap, sizeof *m->keys);
    m->vals = mlc_calloc(m->cap, sizeof *m->vals);
    return m->keys && m->vals ? 0 : -1;
}

static void map_free(struct name_map *m)
{
    mlc_free(m->keys);
    mlc_free(m->vals);
}

/* Returns the existing value or -1; inserts when val >= 0 and absent. */
static int map_get_put(struct name_map *m, const char *key, int val)
{
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (strcmp(m->keys[i], key) == 0) return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    if (val >= 0) {
        m->keys[i] = key;
        m->vals[i] = val;
    }
    return -1;
}

/* ---- tensors --------------------------------------------------------------- */

static int dtype_ok(int32_t dt)
{
    switch (dt) {
    case MLC_DTYPE_F32:
    case MLC_DTYPE_U8:
    case MLC_DTYPE_I8:
    case MLC_DTYPE_I32:
    case MLC_DTYPE_I64:
    case MLC_DTYPE_BOOL:
    case MLC_DTYPE_F16:
    case MLC_DTYPE_F64:
    case MLC_DTYPE_BF16:
        return 1;
    }
    return 0;
}

/* Reads external data of nbytes into a buffer allocated once the file is
 * known to hold them (*dst_out, mlc_alloc'd). */
static mlc_status read_external(const Onnx__TensorProto *tp, const char *what,
                                const struct onnx_load_opts *o, size_t nbytes, void **dst_out,
                                mlc_error *err)
{
    void *dst = NULL;
    const char *loc = NULL;
    int64_t off = 0, len = -1;
    mlc_status st = MLC_OK;
    FILE *f = NULL;
    char *path = NULL;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        if (!e->key || !e->value) continue;
        char *end = NULL;
        if (strcmp(e->key, "location") == 0)
            loc = e->value;
        else if (strcmp(e->key, "offset") == 0)
            off = strtoll(e->value, &end, 10);
        else if (strcmp(e->key, "length") == 0)
            len = strtoll(e->value, &end, 10);
        if (end && (*end || end == e->value))
            return core_err(err, MLC_STATUS_BAD_MODEL, "%s: external_data '%s' is not a number",
                            what, e->key);
    }
    if (!o->base_dir)
        return core_err(err, MLC_STATUS_UNSUPPORTED,
                        "%s: external data needs the model loaded from a file", what);
    if (!loc || !*loc || loc[0] == '/' || strstr(loc, ".."))
        return core_err(err, MLC_STATUS_BAD_MODEL, "%s: external data location '%s' refused", what,
                        loc ? loc : "");
    if (off < 0 || (len >= 0 && (uint64_t)len != nbytes))
        return core_err(err, MLC_STATUS_BAD_MODEL,
                        "%s: external data offset %lld / length %lld do not match %zu bytes", what,
                        (long long)off, (long long)len, nbytes);
    path = core_sprintf("%s/%s", o->base_dir, loc);
    if (!path) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    f = fopen(path, "rb");
    if (!f) {
        st = core_err(err, MLC_STATUS_NOT_FOUND, "%s: external data file '%s' not found", what,
                      path);
        goto fail;
    }
    if (fseeko(f, 0, SEEK_END) != 0) {
        st = core_err(err, MLC_STATUS_IO, "%s: cannot seek '%s'", what, path);
        goto fail;
    }
    off_t size = ftello(f);
    if (size < 0 || (uint64_t)off > (uint64_t)size || (uint64_t)size - (uint64_t)off < nbytes) {
        st = core_err(err, MLC_STATUS_BAD_MODEL,
                      "%s: external data '%s' is shorter than offset %lld + %zu bytes", what, path,
                      (long long)off, nbytes);
        goto fail;
    }
    dst = mlc_alloc(nbytes ? nbytes : 1);
    if (!dst) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "%s: out of memory", what);
        goto fail;
    }
    if (fseeko(f, (off_t)off, SEEK_SET) != 0 || fread(dst, 1, nbytes, f) != nbytes) {
        st = core_err(err, MLC_STATUS_IO, "%s: cannot read '%s'", what, path);
        goto fail;
    }
    *dst_out = dst;
    dst = NULL;
fail:
    if (f) fclose(f);
    mlc_free(path);
    mlc_free(dst);
    return st;
}

/* Whether tp's values live in an external file (then raw_data is ignored). */
static int is_external(const Onnx__TensorProto *tp)
{
    return tp->has_data_location &&
           tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
}

/* A TensorProto's dtype, dims and byte count, checked. */
static mlc_status tensor_shape(const Onnx__TensorProto *tp, const struct onnx_load_opts *o,
                               int64_t *dims, size_t *nbytes_out, mlc_error *err)
{
    const char *what = tp->name && *tp->name ? tp->name : "(unnamed tensor)";
    int32_t dt = tp->data_type;
    if (!dtype_ok(dt))
        return core_err(err, MLC_STATUS_UNSUPPORTED, "tensor '%s': data type %d not supported",
                        what, (int)dt);
    if (tp->n_dims > MLC_MAX_RANK)
        return core_err(err, MLC_STATUS_UNSUPPORTED, "tensor '%s': rank %zu exceeds %d", what,
                        tp->n_dims, MLC_MAX_RANK);
    if (tp->segment)
        return core_err(err, MLC_STATUS_UNSUPPORTED, "tensor '%s': segments not supported", what);
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return core_err(err, MLC_STATUS_BAD_MODEL, "tensor '%s': dimension %zu is %lld", what,
                            i, (long long)tp->dims[i]);
        dims[i] = tp->dims[i];
    }
    int64_t numel = ir_numel((int)tp->n_dims, dims);
    size_t esz = mlc_dtype_size((mlc_dtype)dt);
    size_t max = o && o->max_bytes ? o->max_bytes : ((size_t)2 << 30);
    if (numel < 0 || (uint64_t)numel > max / esz)
        return core_err(err, MLC_STATUS_LIMIT, "tensor '%s': shape too large", what);
    *nbytes_out = (size_t)numel * esz;
    return MLC_OK;
}

/* Converts a TensorProto into dtype/rank/dims and an mlc_alloc'd buffer. */
static mlc_status tensor_from_proto(const Onnx__TensorProto *tp, const struct onnx_load_opts *o,
                                    mlc_dtype *dt_out, int *rank_out, int64_t *dims,
                                    void **data_out, mlc_error *err)
{
    const char *what = tp->name && *tp->name ? tp->name : "(unnamed tensor)";
    int32_t dt = tp->data_type;
    size_t nbytes;
    mlc_status st0 = tensor_shape(tp, o, dims, &nbytes, err);
    if (st0) return st0;
    int64_t numel = ir_numel((int)tp->n_dims, dims);
    size_t esz = mlc_dtype_size((mlc_dtype)dt);
    int external = is_external(tp);
    /* raw_data was allocated by protobuf-c through pb_alloc (mlc_alloc): take
     * that buffer instead of copying it, so the weights are copied once (file
     * -> parse) rather than twice; free_unpacked skips a NULL data pointer. */
    if (!external && tp->has_raw_data && nbytes && tp->raw_data.len == nbytes &&
        tp->raw_data.data) {
        Onnx__TensorProto *w = (Onnx__TensorProto *)tp;
        *data_out = w->raw_data.data;
        w->raw_data.data = NULL;
        w->raw_data.len = 0;
        *dt_out = (mlc_dtype)dt;
        *rank_out = (int)tp->n_dims;
        return MLC_OK;
    }
    /* The source must hold the shape's values before anything is allocated:
     * a few bytes of model may claim a 2 GiB tensor (fuzz_onnx_dnnl). */
    void *data = NULL;
    if (external) {
        mlc_status st = read_external(tp, what, o, nbytes, &data, err);
        if (st) return st;
        *dt_out = (mlc_dtype)dt;
        *rank_out = (int)tp->n_dims;
        *data_out = data;
        return MLC_OK;
    }
    if (tp->has_raw_data && tp->raw_data.len != nbytes)
        return core_err(err, MLC_STATUS_BAD_MODEL,
                        "tensor '%s': raw_data has %zu bytes, shape needs %zu", what,
                        tp->raw_data.len, nbytes);
    /* The typed fields: int32_data carries i32, u8, i8, bool, f16, bf16 (one
     * per element, narrowed below); the others hold the bytes as they are. */
    const void *src = NULL;
    size_t have = (size_t)numel;
    if (tp->has_raw_data)
        src = tp->raw_data.data;
    else if (dt == MLC_DTYPE_F32)
        src = tp->float_data, have = tp->n_float_data;
    else if (dt == MLC_DTYPE_I64)
        src = tp->int64_data, have = tp->n_int64_data;
    else if (dt == MLC_DTYPE_F64)
        src = tp->double_data, have = tp->n_double_data;
    else
        have = tp->n_int32_data;
    if (have != (size_t)numel)
        return core_err(err, MLC_STATUS_BAD_MODEL, "tensor '%s': %zu values, shape needs %lld",
                        what, have, (long long)numel);
    data = mlc_alloc(nbytes ? nbytes : 1);
    if (!data) return core_err(err, MLC_STATUS_NO_MEMORY, "tensor '%s': out of memory", what);
    if (src) {
        if (nbytes) memcpy(data, src, nbytes);
    } else {
        for (size_t i = 0; i < have; i++) {
            int32_t v = tp->int32_data[i];
            switch (esz) {
            case 1:
                ((uint8_t *)data)[i] = (uint8_t)v;
                break;
            case 2:
                ((uint16_t *)data)[i] = (uint16_t)v;
                break;
            default:
                ((int32_t *)data)[i] = v;
                break;
            }
        }
    }
    *dt_out = (mlc_dtype)dt;
    *rank_out = (int)tp->n_dims;
    *data_out = data;
    return MLC_OK;
}

mlc_status onnx_read_tensor_pb(const void *bytes, size_t n, mlc_tensor *t_out, char **name_out,
                               mlc_error *err)
{
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(&pb_allocator, n, bytes);
    if (!tp) return core_err(err, MLC_STATUS_BAD_MODEL, "not a valid TensorProto");
    mlc_tensor t;
    memset(&t, 0, sizeof t);
    mlc_status st = tensor_from_proto(tp, NULL, &t.dtype, &t.rank, t.dims, &t.data, err);
    char *name = NULL;
    if (!st && name_out) {
        name = core_strdup(tp->name ? tp->name : "");
        if (!name) {
            mlc_free(t.data);
            st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
        }
    }
    onnx__tensor_proto__free_unpacked(tp, &pb_allocator);
    if (st) return st;
    *t_out = t;
    if (name_out) *name_out = name;
    return MLC_OK;
}

/* ---- graph ------------------------------------------------------------------ */

struct loader {
    struct ir_graph *g;
    const struct onnx_load_opts *o;
    struct name_map map;
    int64_t opset;
    mlc_error *err;
    /* Initializers' raw_data spans (want_spans / lazy), and which of them
     * were left out of the parsed bytes (skip, sorted by offset). */
    const struct onnx_span *spans;
    int n_spans;
    const struct onnx_span *skip;
    int n_skip;
    /* Of skip, those read from o->fd (1) rather than left lazy (0), and the
     * reads (struct reads), started before the parse. */
    const char *skip_read;
    int n_skip_read; /* of skip, how many are read */
    struct reads *rd;
};

/* Initializers read from the file rather than parsed (onnx_load_opts
 * .read_fd): those of 256 KiB or more, the weights. */
#define READ_MIN ((size_t)256 << 10)

/* One initializer's raw_data to read from the model file. */
struct wread {
    void *dst; /* this read's until given to its tensor */
    int64_t off;
    size_t len;
    const char *name; /* the tensor's once given (the graph owns it) */
    int given;
    int err; /* errno, or -1 for end of file */
};

/* The weights read from o->fd into buffers of their own, by a helper thread
 * while this one parses the rest (protobuf-c's unpack and the graph, 3-4 ms
 * of mobilenet_v3_large's load that the reads used to wait for), then by
 * both (take_reads). The buffers are allocated here, before the parse, so
 * that an allocation failure is this thread's and the helper only reads. */
struct reads {
    int fd;
    struct wread *r;
    int n;
    int *of_skip; /* skip index -> r index, -1 when lazy */
    atomic_int next;
    pthread_t th;
    int helper; /* th runs */
};

/* Initializer ord's span in L->spans / L->skip, or NULL. */
static const struct onnx_span *span_at(const struct onnx_span *v, int n, int ord)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (v[mid].ordinal == ord) return &v[mid];
        if (v[mid].ordinal < ord)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

/* An initializer whose raw_data (span sp) the parser did not see, checked
 * as tensor_from_proto checks any: its shape in dims. */
static mlc_status span_tensor_check(struct loader *L, const Onnx__TensorProto *tp,
                                    const struct onnx_span *sp, int64_t *dims)
{
    size_t nbytes;
    mlc_status st = tensor_shape(tp, L->o, dims, &nbytes, L->err);
    if (st) return st;
    /* As tensor_from_proto: external data comes first, and raw_data before
     * any typed field. */
    if (is_external(tp))
        return core_err(L->err, MLC_STATUS_UNSUPPORTED, "tensor '%s': external data with raw_data",
                        tp->name);
    if (nbytes != sp->len)
        return core_err(L->err, MLC_STATUS_BAD_MODEL,
                        "tensor '%s': raw_data has %zu bytes, shape needs %zu", tp->name, sp->len,
                        nbytes);
    return MLC_OK;
}

/* Initializer tp left in the file (its raw_data span sp): checked as any
 * tensor, then given a place in the graph's inaccessible placeholder. */
static mlc_status lazy_initializer(struct loader *L, const Onnx__TensorProto *tp,
                                   const struct onnx_span *sp, size_t *cursor, int *idx_out)
{
    struct ir_graph *g = L->g;
    int64_t dims[MLC_MAX_RANK];
    mlc_status st = span_tensor_check(L, tp, sp, dims);
    if (st) return st;
    int idx;
    st = ir_add_tensor(g, tp->name, (mlc_dtype)tp->data_type, (int)tp->n_dims, dims, &idx, L->err);
    if (st) return st;
    struct ir_tensor *t = &g->tensors[idx];
    t->data = (uint8_t *)g->lazy_base + *cursor;
    t->flags |= IR_TENSOR_LAZY;
    t->src_off = sp->off;
    t->src_len = sp->len;
    *cursor += (sp->len + 127) & ~(size_t)63;
    *idx_out = idx;
    return MLC_OK;
}

static mlc_status add_const(struct loader *L, const char *name, mlc_dtype dt, int rank,
                            const int64_t *dims, void *data, int *idx_out);

/* Initializer tp whose raw_data (span sp, skip index k) is being read from
 * the file (struct reads): checked as any tensor, given its buffer now. */
static mlc_status read_initializer(struct loader *L, const Onnx__TensorProto *tp,
                                   const struct onnx_span *sp, int k, int *idx_out)
{
    int64_t dims[MLC_MAX_RANK];
    mlc_status st = span_tensor_check(L, tp, sp, dims);
    if (st) return st;
    struct wread *w = &L->rd->r[L->rd->of_skip[k]];
    st = add_const(L, tp->name, (mlc_dtype)tp->data_type, (int)tp->n_dims, dims, NULL, idx_out);
    if (st) return st;
    struct ir_tensor *t = &L->g->tensors[*idx_out];
    t->data = w->dst;
    t->src_off = sp->off;
    t->src_len = sp->len;
    w->given = 1;
    w->name = t->name;
    return MLC_OK;
}

/* Reads until none is left unclaimed. */
static void take_reads(struct reads *q)
{
    for (int i; (i = atomic_fetch_add(&q->next, 1)) < q->n;) {
        struct wread *w = &q->r[i];
        core_prefault(w->dst, w->len, 1);
        size_t done = 0;
        while (done < w->len) {
            ssize_t k =
                pread(q->fd, (char *)w->dst + done, w->len - done, (off_t)w->off + (off_t)done);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                w->err = k < 0 ? errno : -1;
                break;
            }
            done += (size_t)k;
        }
    }
}

static void *read_helper(void *arg)
{
    take_reads(arg);
    return NULL;
}

/* The reads of skip's spans marked in skip_read, begun on a helper thread
 * when there are threads to spare. NULL with *st set on failure. */
static struct reads *reads_start(const struct onnx_load_opts *o, const struct onnx_span *skip,
                                 const char *skip_read, int n_skip, int n_read, mlc_error *err,
                                 mlc_status *st)
{
    struct reads *q = mlc_calloc(1, sizeof *q);
    if (!q) goto oom;
    q->fd = o->fd;
    q->r = mlc_calloc((size_t)n_read, sizeof *q->r);
    q->of_skip = mlc_alloc((size_t)n_skip * sizeof *q->of_skip);
    if (!q->r || !q->of_skip) goto oom;
    for (int k = 0; k < n_skip; k++) {
        q->of_skip[k] = -1;
        if (!skip_read[k]) continue;
        struct wread *w = &q->r[q->n];
        w->off = skip[k].off;
        w->len = skip[k].len;
        /* As pb_alloc's: room to pack back into the buffer 64-byte aligned. */
        w->dst = mlc_alloc(w->len + 64);
        if (!w->dst) goto oom;
        q->of_skip[k] = q->n++;
    }
    atomic_init(&q->next, 0);
    q->helper = o->threads > 1 && q->n > 1 && pthread_create(&q->th, NULL, read_helper, q) == 0;
    return q;
oom:
    *st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory for the weights' buffers");
    if (q) {
        for (int i = 0; i < q->n; i++) mlc_free(q->r[i].dst);
        mlc_free(q->r);
        mlc_free(q->of_skip);
        mlc_free(q);
    }
    return NULL;
}

/* This thread reads what is left and waits for the helper (stop: claims
 * nothing more first). The first failed read is the error. */
static mlc_status reads_finish(struct reads *q, int stop, mlc_error *err)
{
    if (stop) atomic_store(&q->next, q->n);
    take_reads(q);
    if (q->helper) pthread_join(q->th, NULL);
    q->helper = 0;
    for (int i = 0; !stop && i < q->n; i++) {
        const struct wread *w = &q->r[i];
        if (w->err)
            return core_err(err, MLC_STATUS_IO,
                            "initializer '%s': reading %zu bytes at offset %lld of the model: %s",
                            w->name ? w->name : "?", w->len, (long long)w->off,
                            w->err < 0 ? "the file ends first" : strerror(w->err));
    }
    return MLC_OK;
}

/* After reads_finish: the buffers no tensor took, and q. */
static void reads_free(struct reads *q)
{
    if (!q) return;
    for (int i = 0; i < q->n; i++)
        if (!q->r[i].given) mlc_free(q->r[i].dst);
    mlc_free(q->r);
    mlc_free(q->of_skip);
    mlc_free(q);
}

static mlc_status add_const(struct loader *L, const char *name, mlc_dtype dt, int rank,
                            const int64_t *dims, void *data, int *idx_out)
{
    int idx;
    mlc_status st = ir_add_tensor(L->g, name, dt, rank, dims, &idx, L->err);
    if (st) {
        mlc_free(data);
        return st;
    }
    L->g->tensors[idx].data = data;
    L->g->tensors[idx].flags |= IR_TENSOR_OWNED;
    *idx_out = idx;
    return MLC_OK;
}

static mlc_status value_info(struct loader *L, const Onnx__ValueInfoProto *vi, mlc_dtype *dt,
                             int *rank, int64_t *dims, const char *role)
{
    const char *nm = vi->name ? vi->name : "";
    if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        !vi->type->tensor_type)
        return core_err(L->err, MLC_STATUS_UNSUPPORTED, "graph %s '%s' is not a tensor", role, nm);
    const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    if (!dtype_ok(tt->elem_type))
        return core_err(L->err, MLC_STATUS_UNSUPPORTED, "graph %s '%s': element type %d", role, nm,
                        (int)tt->elem_type);
    *dt = (mlc_dtype)tt->elem_type;
    if (!tt->shape) {
        *rank = -1;
        return MLC_OK;
    }
    if (tt->shape->n_dim > MLC_MAX_RANK)
        return core_err(L->err, MLC_STATUS_UNSUPPORTED, "graph %s '%s': rank %zu exceeds %d", role,
                        nm, tt->shape->n_dim, MLC_MAX_RANK);
    *rank = (int)tt->shape->n_dim;
    for (size_t i = 0; i < tt->shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        dims[i] = -1;
        if (d && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (d->dim_value < 0)
                return core_err(L->err, MLC_STATUS_BAD_MODEL,
                                "graph %s '%s': dimension %zu is %lld", role, nm, i,
                                (long long)d->dim_value);
            dims[i] = d->dim_value;
        }
    }
    if (ir_numel(*rank, dims) < 0) {
        int known = 1;
        for (int i = 0; i < *rank; i++)
            if (dims[i] < 0) known = 0;
        if (known)
            return core_err(L->err, MLC_STATUS_LIMIT, "graph %s '%s': shape too large", role, nm);
    }
    return MLC_OK;
}

/* Moves attribute `name` of node `ni` (ints or floats) into a new constant
 * input at position `pos` (padding absent inputs with -1). */
static mlc_status attr_to_input(struct loader *L, int ni, const char *name, int pos, mlc_dtype dt)
{
    struct ir_node *n = &L->g->nodes[ni];
    const struct ir_attr *a = ir_attr_find(n, name);
    if (!a) return MLC_OK;
    int64_t cnt;
    void *data;
    int rank = 1;
    if (a->type == IR_ATTR_INTS) {
        cnt = a->n;
        data = mlc_alloc((size_t)cnt * 8 + 8);
        if (data && cnt) memcpy(data, a->ints, (size_t)cnt * 8);
    } else if (a->type == IR_ATTR_FLOAT) {
        cnt = 1;
        rank = 0;
        data = mlc_alloc(sizeof(float));
        if (data) *(float *)data = a->f;
    } else {
        return core_err(L->err, MLC_STATUS_BAD_MODEL, "node '%s': attribute '%s' has a wrong type",
                        n->name, name);
    }
    if (!data) return core_err(L->err, MLC_STATUS_NO_MEMORY, "out of memory");
    if (dt == MLC_DTYPE_I64 && a->type != IR_ATTR_INTS) {
        mlc_free(data);
        return core_err(L->err, MLC_STATUS_BAD_MODEL, "node '%s': attribute '%s' has a wrong type",
                        n->name, name);
    }
    int idx;
    mlc_status st = add_const(L, NULL, dt, rank, &cnt, data, &idx);
    if (st) return st;
    n = &L->g->nodes[ni];
    if (pos >= n->n_in) {
        int *in = mlc_realloc(n->in, (size_t)(pos + 1) * sizeof(int));
        if (!in) return core_err(L->err, MLC_STATUS_NO_MEMORY, "out of memory");
        for (int i = n->n_in; i <= pos; i++) in[i] = -1;
        n->in = in;
        n->n_in = pos + 1;
    }
    n->in[pos] = idx;
    /* Rename the attribute so it is not seen twice; it stays for `inspect`. */
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) n->attrs[i].name[0] = '_';
    return MLC_OK;
}

static mlc_status normalise(struct loader *L, int ni)
{
    enum ir_op op = L->g->nodes[ni].op;
    int64_t v = L->opset;
    mlc_status st = MLC_OK;
    switch (op) {
    case IR_OP_Squeeze:
    case IR_OP_Unsqueeze:
        if (v < 13) st = attr_to_input(L, ni, "axes", 1, MLC_DTYPE_I64);
        break;
    case IR_OP_ReduceSum:
        if (v < 13) st = attr_to_input(L, ni, "axes", 1, MLC_DTYPE_I64);
        break;
    case IR_OP_ReduceMean:
    case IR_OP_ReduceMax:
    case IR_OP_ReduceMin:
    case IR_OP_ReduceProd:
    case IR_OP_ReduceL2:
    case IR_OP_ReduceSumSquare:
        if (v < 18) st = attr_to_input(L, ni, "axes", 1, MLC_DTYPE_I64);
        break;
    case IR_OP_Split:
        if (v < 13) st = attr_to_input(L, ni, "split", 1, MLC_DTYPE_I64);
        break;
    case IR_OP_Slice:
        if (v < 10) {
            st = attr_to_input(L, ni, "starts", 1, MLC_DTYPE_I64);
            if (!st) st = attr_to_input(L, ni, "ends", 2, MLC_DTYPE_I64);
            if (!st) st = attr_to_input(L, ni, "axes", 3, MLC_DTYPE_I64);
        }
        break;
    case IR_OP_Clip:
        if (v < 11) {
            st = attr_to_input(L, ni, "min", 1, MLC_DTYPE_F32);
            if (!st) st = attr_to_input(L, ni, "max", 2, MLC_DTYPE_F32);
        }
        break;
    case IR_OP_Pad:
        if (v < 11) {
            st = attr_to_input(L, ni, "pads", 1, MLC_DTYPE_I64);
            if (!st) st = attr_to_input(L, ni, "value", 2, MLC_DTYPE_F32);
        }
        break;
    case IR_OP_ConstantOfShape: {
        const struct ir_attr *a = ir_attr_find(&L->g->nodes[ni], "value");
        if (a && a->type == IR_ATTR_TENSOR) {
            struct ir_node *n = &L->g->nodes[ni];
            int *in = mlc_realloc(n->in, 2 * sizeof(int));
            if (!in) return core_err(L->err, MLC_STATUS_NO_MEMORY, "out of memory");
            n->in = in;
            in[1] = a->tensor;
            n->n_in = 2;
        }
        break;
    }
    case IR_OP_Softmax:
    case IR_OP_LogSoftmax:
        if (v < 13) st = ir_node_add_attr_int(L->g, ni, "mlc_coerce2d", 1, L->err);
        break;
    default:
        break;
    }
    return st;
}

static mlc_status constant_node(struct loader *L, const Onnx__NodeProto *np, int out_idx)
{
    const char *nm = np->name && *np->name ? np->name : np->output[0];
    if (np->n_attribute != 1)
        return core_err(L->err, MLC_STATUS_BAD_MODEL, "node '%s' (Constant): needs one attribute",
                        nm);
    const Onnx__AttributeProto *a = np->attribute[0];
    struct ir_tensor *t = &L->g->tensors[out_idx];
    int64_t dims[MLC_MAX_RANK];
    void *data = NULL;
    mlc_dtype dt;
    int rank;
    mlc_status st;
    const char *an = a->name ? a->name : "";
    if (strcmp(an, "value") == 0 && a->t) {
        st = tensor_from_proto(a->t, L->o, &dt, &rank, dims, &data, L->err);
        if (st) return core_err_prefix(L->err, "node '%s' (Constant)", nm);
    } else if (strcmp(an, "value_float") == 0) {
        dt = MLC_DTYPE_F32, rank = 0;
        data = mlc_alloc(4);
        if (data) *(float *)data = a->f;
    } else if (strcmp(an, "value_int") == 0) {
        dt = MLC_DTYPE_I64, rank = 0;
        data = mlc_alloc(8);
        if (data) *(int64_t *)data = a->i;
    } else if (strcmp(an, "value_floats") == 0) {
        dt = MLC_DTYPE_F32, rank = 1, dims[0] = (int64_t)a->n_floats;
        data = mlc_alloc(a->n_floats * 4 + 4);
        if (data && a->n_floats) memcpy(data, a->floats, a->n_floats * 4);
    } else if (strcmp(an, "value_ints") == 0) {
        dt = MLC_DTYPE_I64, rank = 1, dims[0] = (int64_t)a->n_ints;
        data = mlc_alloc(a->n_ints * 8 + 8);
        if (data && a->n_ints) memcpy(data, a->ints, a->n_ints * 8);
    } else {
        return core_err(L->err, MLC_STATUS_UNSUPPORTED,
                        "node '%s' (Constant): attribute '%s' not supported (opset %lld)", nm, an,
                        (long long)L->opset);
    }
    if (!data) return core_err(L->err, MLC_STATUS_NO_MEMORY, "out of memory");
    ir_tensor_set_data(t, dt, rank, dims, data);
    return MLC_OK;
}

static mlc_status copy_attr(struct loader *L, int ni, const Onnx__AttributeProto *ap)
{
    struct ir_node *n = &L->g->nodes[ni];
    const char *an = ap->name ? ap->name : "";
    if (!attr_allowed(n->op, an))
        return core_err(L->err, MLC_STATUS_UNSUPPORTED,
                        "node '%s' (%s, opset %lld): attribute '%s' not supported", n->name,
                        ir_op_name(n->op), (long long)L->opset, an);
    if (ap->ref_attr_name && *ap->ref_attr_name)
        return core_err(L->err, MLC_STATUS_UNSUPPORTED, "node '%s': attribute references", n->name);
    mlc_status st = MLC_OK;
    struct ir_attr *a = mlc_realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *a);
    if (!a) return core_err(L->err, MLC_STATUS_NO_MEMORY, "out of memory");
    n->attrs = a;
    a = &a[n->n_attrs];
    memset(a, 0, sizeof *a);
    a->tensor = -1;
    a->name = core_strdup(an);
    if (!a->name) return core_err(L->err, MLC_STATUS_NO_MEMORY, "out of memory");
    n->n_attrs++;
    switch (ap->type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        a->type = IR_ATTR_FLOAT;
        a->f = ap->f;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        a->type = IR_ATTR_INT;
        a->i = ap->i;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
        a->type = IR_ATTR_STRING;
        a->s = (ap->s.len ? core_strndup((const char *)ap->s.data, ap->s.len) : core_strdup(""));
        if (!a->s) return core_err(L->err, MLC_STATUS_NO_MEMORY, "out of memory");
        if (strlen(a->s) != ap->s.len)
            return core_err(L->err, MLC_STATUS_BAD_MODEL, "node '%s': attribute '%s' has a NUL",
                            n->name, an);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        a->type = IR_ATTR_INTS;
        if (ap->n_ints > 4096)
            return core_err(L->err, MLC_STATUS_LIMIT, "node '%s': attribute '%s' too long", n->name,
                            an);
        a->n = (int)ap->n_ints;
        a->ints = mlc_alloc(ap->n_ints * 8 + 8);
        if (!a->ints) return core_err(L->err, MLC_STATUS_NO_MEMORY, "out of memory");
        if (ap->n_ints) memcpy(a->ints, ap->ints, ap->n_ints * 8);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        a->type = IR_ATTR_FLOATS;
        if (ap->n_floats > 4096)
            return core_err(L->err, MLC_STATUS_LIMIT, "node '%s': attribute '%s' too long", n->name,
                            an);
        a->n = (int)ap->n_floats;
        a->floats = mlc_alloc(ap->n_floats * 4 + 4);
        if (!a->floats) return core_err(L->err, MLC_STATUS_NO_MEMORY, "out of memory");
        if (ap->n_floats) memcpy(a->floats, ap->floats, ap->n_floats * 4);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
        if (!ap->t)
            return core_err(L->err, MLC_STATUS_BAD_MODEL, "node '%s': attribute '%s' empty",
                            n->name, an);
        int64_t dims[MLC_MAX_RANK];
        void *data;
        mlc_dtype dt;
        int rank, idx;
        a->type = IR_ATTR_TENSOR;
        st = tensor_from_proto(ap->t, L->o, &dt, &rank, dims, &data, L->err);
        if (st) return st;
        st = add_const(L, NULL, dt, rank, dims, data, &idx);
        if (st) return st;
        L->g->nodes[ni].attrs[L->g->nodes[ni].n_attrs - 1].tensor = idx;
        break;
    }
    default:
        return core_err(L->err, MLC_STATUS_UNSUPPORTED,
                        "node '%s': attribute '%s' of type %d not supported", n->name, an,
                        (int)ap->type);
    }
    return st;
}

static mlc_status load_graph(struct loader *L, const Onnx__GraphProto *gp)
{
    struct ir_graph *g = L->g;
    mlc_status st = MLC_OK;
    size_t total = gp->n_initializer + gp->n_input + gp->n_output;
    for (size_t i = 0; i < gp->n_node; i++) total += gp->node[i]->n_output;
    if (gp->n_node > (size_t)g->max_nodes)
        return core_err(L->err, MLC_STATUS_LIMIT, "graph has %zu nodes, more than %d", gp->n_node,
                        g->max_nodes);
    if (gp->n_sparse_initializer)
        return core_err(L->err, MLC_STATUS_UNSUPPORTED, "sparse initializers not supported");
    if (map_init(&L->map, total)) return core_err(L->err, MLC_STATUS_NO_MEMORY, "out of memory");
    if (L->n_skip > L->n_skip_read) { /* the placeholder: address space only, never touched */
        size_t sz = 4096;
        for (int k = 0; k < L->n_skip; k++)
            if (!L->skip_read[k]) sz += (L->skip[k].len + 127) & ~(size_t)63;
        void *p = mmap(NULL, sz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return core_err(L->err, MLC_STATUS_NO_MEMORY, "out of address space");
        g->lazy_base = p;
        g->lazy_size = sz;
    }
    size_t cursor = 0;

    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        int64_t dims[MLC_MAX_RANK];
        void *data;
        mlc_dtype dt;
        int rank, idx = -1;
        if (!tp->name || !*tp->name)
            return core_err(L->err, MLC_STATUS_BAD_MODEL, "initializer %zu has no name", i);
        if (map_get_put(&L->map, tp->name, -1) >= 0)
            return core_err(L->err, MLC_STATUS_BAD_MODEL, "initializer '%s' defined twice",
                            tp->name);
        const struct onnx_span *lz = span_at(L->skip, L->n_skip, (int)i);
        if (lz && L->skip_read[lz - L->skip]) {
            st = read_initializer(L, tp, lz, (int)(lz - L->skip), &idx);
            if (st) return core_err_prefix(L->err, "initializer %zu", i);
        } else if (lz) {
            st = lazy_initializer(L, tp, lz, &cursor, &idx);
            if (st) return core_err_prefix(L->err, "initializer %zu", i);
        } else {
            st = tensor_from_proto(tp, L->o, &dt, &rank, dims, &data, L->err);
            if (st) return core_err_prefix(L->err, "initializer %zu", i);
            st = add_const(L, tp->name, dt, rank, dims, data, &idx);
            if (st) return st;
            const struct onnx_span *sp = span_at(L->spans, L->n_spans, (int)i);
            if (sp && !is_external(tp) && sp->len == ir_tensor_nbytes(&g->tensors[idx]))
                g->tensors[idx].src_off = sp->off, g->tensors[idx].src_len = sp->len;
        }
        map_get_put(&L->map, g->tensors[idx].name, idx);
    }
    if (L->rd && (st = reads_finish(L->rd, 0, L->err))) return st;
    g->inputs = mlc_calloc(gp->n_input + 1, sizeof(int));
    g->outputs = mlc_calloc(gp->n_output + 1, sizeof(int));
    if (!g->inputs || !g->outputs) return core_err(L->err, MLC_STATUS_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        int64_t dims[MLC_MAX_RANK];
        mlc_dtype dt;
        int rank, idx;
        if (!vi->name || !*vi->name)
            return core_err(L->err, MLC_STATUS_BAD_MODEL, "graph input %zu has no name", i);
        if (map_get_put(&L->map, vi->name, -1) >= 0) {
            int t = map_get_put(&L->map, vi->name, -1);
            if (g->tensors[t].flags & IR_TENSOR_INPUT)
                return core_err(L->err, MLC_STATUS_BAD_MODEL, "graph input '%s' listed twice",
                                vi->name);
            continue; /* an initializer listed as input (IR < 4): a constant */
        }
        st = value_info(L, vi, &dt, &rank, dims, "input");
        if (st) return st;
        if (rank < 0)
            return core_err(L->err, MLC_STATUS_UNSUPPORTED, "graph input '%s' has no shape",
                            vi->name);
        st = ir_add_tensor(g, vi->name, dt, rank, dims, &idx, L->err);
        if (st) return st;
        g->tensors[idx].flags |= IR_TENSOR_INPUT;
        map_get_put(&L->map, g->tensors[idx].name, idx);
        g->inputs[g->n_inputs++] = idx;
    }
    /* Node outputs first, so inputs may refer to any node (order is checked
     * by the topological sort, which refuses cycles). */
    int *node_idx = mlc_calloc(gp->n_node + 1, sizeof(int));
    if (!node_idx) return core_err(L->err, MLC_STATUS_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < gp->n_node && !st; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        const char *op_type = np->op_type ? np->op_type : "";
        const char *nm = np->name && *np->name ? np->name : NULL;
        enum ir_op op = ir_op_from_name(op_type);
        if (np->domain && *np->domain && strcmp(np->domain, "ai.onnx") != 0) {
            st = core_err(L->err, MLC_STATUS_UNSUPPORTED,
                          "node '%s': op '%s' of domain '%s' not supported", nm ? nm : "?", op_type,
                          np->domain);
            break;
        }
        if (op == IR_OP_COUNT || (op == IR_OP_Gelu && L->opset < 20)) {
            st = core_err(L->err, MLC_STATUS_UNSUPPORTED,
                          "node '%s': op '%s' (opset %lld) not supported", nm ? nm : "?", op_type,
                          (long long)L->opset);
            break;
        }
        if (np->n_output == 0 || np->n_output > 64 || np->n_input > 1024) {
            st = core_err(L->err, MLC_STATUS_BAD_MODEL, "node '%s' (%s): %zu outputs, %zu inputs",
                          nm ? nm : "?", op_type, np->n_output, np->n_input);
            break;
        }
        int outs[64];
        for (size_t k = 0; k < np->n_output && !st; k++) {
            const char *on = np->output[k];
            outs[k] = -1;
            if (!on || !*on) continue; /* optional output not wanted */
            if (map_get_put(&L->map, on, -1) >= 0) {
                st = core_err(L->err, MLC_STATUS_BAD_MODEL,
                              "node '%s' (%s): output '%s' is defined twice", nm ? nm : "?",
                              op_type, on);
                break;
            }
            st = ir_add_tensor(g, on, 0, -1, NULL, &outs[k], L->err);
            if (!st) map_get_put(&L->map, g->tensors[outs[k]].name, outs[k]);
        }
        if (st) break;
        st = ir_add_node(g, op, nm, NULL, 0, outs, (int)np->n_output, &node_idx[i], L->err);
        if (st) break;
        if (op == IR_OP_Constant) {
            if (outs[0] < 0) {
                st = core_err(L->err, MLC_STATUS_BAD_MODEL, "Constant node without output");
                break;
            }
            st = constant_node(L, np, outs[0]);
            g->nodes[node_idx[i]].dead = 1;
            continue;
        }
        for (size_t k = 0; k < np->n_attribute && !st; k++)
            st = copy_attr(L, node_idx[i], np->attribute[k]);
    }
    for (size_t i = 0; i < gp->n_node && !st; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        struct ir_node *n = &g->nodes[node_idx[i]];
        if (n->dead) continue;
        mlc_free(n->in);
        n->in = mlc_calloc(np->n_input + 1, sizeof(int));
        if (!n->in) {
            st = core_err(L->err, MLC_STATUS_NO_MEMORY, "out of memory");
            break;
        }
        n->n_in = (int)np->n_input;
        for (size_t k = 0; k < np->n_input; k++) {
            const char *in = np->input[k];
            n->in[k] = -1;
            if (!in || !*in) continue;
            int t = map_get_put(&L->map, in, -1);
            if (t < 0) {
                st = core_err(L->err, MLC_STATUS_BAD_MODEL,
                              "node '%s' (%s): input '%s' is not defined", n->name,
                              ir_op_name(n->op), in);
                break;
            }
            n->in[k] = t;
        }
        if (!st) st = normalise(L, node_idx[i]);
    }
    mlc_free(node_idx);
    if (st) return st;
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        int t = vi->name ? map_get_put(&L->map, vi->name, -1) : -1;
        if (t < 0)
            return core_err(L->err, MLC_STATUS_BAD_MODEL, "graph output '%s' is not produced",
                            vi->name ? vi->name : "");
        g->tensors[t].flags |= IR_TENSOR_OUTPUT;
        g->outputs[g->n_outputs++] = t;
    }
    if (g->n_outputs == 0) return core_err(L->err, MLC_STATUS_BAD_MODEL, "graph has no outputs");
    return ir_graph_compact(g, L->err);
}

mlc_status onnx_load(const void *bytes, size_t n, const struct onnx_load_opts *o,
                     struct ir_graph *g, mlc_error *err)
{
    struct onnx_load_opts dflt = {0};
    struct loader L;
    mlc_status st = MLC_OK;
    Onnx__ModelProto *mp = NULL;
    struct onnx_span *spans = NULL, *skip = NULL;
    char *skip_read = NULL;
    uint8_t *skel = NULL;
    size_t skel_n = 0;
    if (!o) o = &dflt;
    ir_graph_init(g);
    if (o->max_nodes > 0) g->max_nodes = o->max_nodes;
    memset(&L, 0, sizeof L);
    L.g = g;
    L.o = o;
    L.err = err;
    size_t max = o->max_bytes ? o->max_bytes : ((size_t)2 << 30);
    if (n > max) {
        st = core_err(err, MLC_STATUS_LIMIT, "model is %zu bytes, more than the limit %zu", n, max);
        goto fail;
    }
    /* Spans of the weights, and the bytes to parse: without the raw_data of
     * lazy initializers when any of o->lazy still matches the file. */
    if (o->want_spans || o->n_lazy > 0 || o->read_fd) L.n_spans = onnx_raw_spans(bytes, n, &spans);
    if (L.n_spans > 0 && (o->n_lazy > 0 || o->read_fd)) {
        skip = mlc_alloc((size_t)L.n_spans * sizeof *skip);
        skip_read = mlc_alloc((size_t)L.n_spans);
        if (!skip || !skip_read) {
            st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
            goto fail;
        }
        /* Spans and o->lazy are both in file order. */
        int k = 0;
        for (int j = 0; j < L.n_spans; j++) {
            const struct onnx_span *sp = &spans[j];
            while (k < o->n_lazy && o->lazy[k].off < sp->off) k++;
            const struct onnx_span *w = k < o->n_lazy ? &o->lazy[k] : NULL;
            int lazy = w && w->off == sp->off && w->len == sp->len && w->name_len == sp->name_len &&
                       w->name_len && !memcmp(sp->name, w->name, w->name_len);
            if (!lazy && !(o->read_fd && sp->len >= READ_MIN)) continue;
            skip_read[L.n_skip] = (char)!lazy;
            L.n_skip_read += !lazy;
            skip[L.n_skip++] = *sp;
        }
        if (L.n_skip && onnx_strip_raw(bytes, n, skip, L.n_skip, &skel, &skel_n))
            L.n_skip = L.n_skip_read = 0;
        /* What reading the spans faulted in of the mapping (the kernel maps
         * 16 pages around each fault: 10 MB of resnet50's) is not needed
         * again but by a lazy tensor, which faults it back. */
        if (skel && o->release_input) core_drop_pages((void *)bytes, n);
    }
#ifdef MADV_POPULATE_READ
    /* Parsed the ordinary way after all: one pass over the mapping rather
     * than a page fault per page (a hint; older kernels refuse it). */
    if (o->read_fd && !skel) {
        uintptr_t a0 = (uintptr_t)bytes & ~(uintptr_t)4095;
        (void)madvise((void *)a0, n + ((uintptr_t)bytes - a0), MADV_POPULATE_READ);
    }
#endif
    if (L.n_spans < 0) L.n_spans = 0;
    L.spans = spans;
    L.skip = skip;
    L.skip_read = skip_read;
    if (L.n_skip_read &&
        !(L.rd = reads_start(o, skip, skip_read, L.n_skip, L.n_skip_read, err, &st)))
        goto fail;
    pb_oom = 0;
    pb_threads = o->threads;
    if (o->release_input && !skel) {
        pb_src = bytes;
        pb_src_len = n;
        pb_done = pb_dropped = 0;
    }
    mp = skel ? onnx__model_proto__unpack(&pb_allocator, skel_n, skel)
              : onnx__model_proto__unpack(&pb_allocator, n, bytes);
    pb_src = NULL;
    /* With weights still to read, skel is freed at the end: freeing a block
     * malloc mapped raises glibc's mmap threshold to its size, and the
     * weights' buffers allocated after it would come from the heap, which
     * does not give freed ones back (9 MB more at the peak of resnet50's
     * first run). Without, at once (it is most of a warm start's peak). */
    if (!L.n_skip_read) {
        mlc_free(skel);
        skel = NULL;
    }
    if (!mp && pb_oom) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory parsing the ONNX model");
        goto fail;
    }
    if (!mp) {
        st = core_err(err, MLC_STATUS_BAD_MODEL,
                      "not a valid ONNX model (protobuf parse failed; %zu bytes)", n);
        goto fail;
    }
    if (!mp->graph) {
        st = core_err(err, MLC_STATUS_BAD_MODEL, "ONNX model has no graph");
        goto fail;
    }
    L.opset = -1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *os = mp->opset_import[i];
        if (!os->domain || !*os->domain || strcmp(os->domain, "ai.onnx") == 0)
            L.opset = os->version;
    }
    if (mp->n_opset_import == 0) L.opset = 1;
    if (L.opset < 1 || L.opset > 21) {
        st = core_err(err, MLC_STATUS_UNSUPPORTED,
                      "ONNX default-domain opset %lld not supported (1..21)", (long long)L.opset);
        goto fail;
    }
    if (mp->n_functions) {
        st = core_err(err, MLC_STATUS_UNSUPPORTED, "ONNX model functions not supported");
        goto fail;
    }
    g->opset = L.opset;
    g->name = core_strdup(mp->graph->name ? mp->graph->name : "");
    g->producer = core_sprintf("%s %s", mp->producer_name ? mp->producer_name : "",
                               mp->producer_version ? mp->producer_version : "");
    if (!g->name || !g->producer) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
        goto fail;
    }
    st = load_graph(&L, mp->graph);
fail:
    /* Before anything is freed: the helper may still write a buffer. */
    if (L.rd) reads_finish(L.rd, 1, err);
    reads_free(L.rd);
    map_free(&L.map);
    mlc_free(spans);
    mlc_free(skip);
    mlc_free(skip_read);
    mlc_free(skel);
    if (mp) onnx__model_proto__free_unpacked(mp, &pb_allocator);
    if (st) ir_graph_free(g);
    return st;
}
