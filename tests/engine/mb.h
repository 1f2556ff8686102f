/*
 * mb.h - a tiny ONNX model builder for tests: fills protobuf-c's generated
 * structs (everything in one core_arena) and packs them, so tests can make
 * exactly the graphs they need (and break them on purpose) without Python.
 */
#ifndef MLC_TEST_MB_H
#define MLC_TEST_MB_H

#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "onnx/onnx.pb-c.h"

/* Not every test uses every helper. */
#pragma GCC diagnostic ignored "-Wunused-function"

struct mb {
    struct core_arena a;
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__OperatorSetIdProto os;
    Onnx__OperatorSetIdProto *osp[1];
    Onnx__NodeProto *nodes[256];
    Onnx__TensorProto *inits[256];
    Onnx__ValueInfoProto *ins[16], *outs[16];
};

static char *mb_str(struct mb *b, const char *s)
{
    return core_arena_strdup(&b->a, s);
}

static void mb_init(struct mb *b, int64_t opset)
{
    memset(b, 0, sizeof *b);
    core_arena_init(&b->a, 0);
    onnx__model_proto__init(&b->m);
    onnx__graph_proto__init(&b->g);
    onnx__operator_set_id_proto__init(&b->os);
    b->os.domain = mb_str(b, "");
    b->os.has_version = 1;
    b->os.version = opset;
    b->osp[0] = &b->os;
    b->m.n_opset_import = 1;
    b->m.opset_import = b->osp;
    b->m.has_ir_version = 1;
    b->m.ir_version = 8;
    b->m.producer_name = mb_str(b, "mb");
    b->m.graph = &b->g;
    b->g.name = mb_str(b, "test");
    b->g.node = b->nodes;
    b->g.initializer = b->inits;
    b->g.input = b->ins;
    b->g.output = b->outs;
}

static void mb_free(struct mb *b)
{
    core_arena_free(&b->a);
}

static Onnx__ValueInfoProto *mb_vi(struct mb *b, const char *name, int dtype, int rank,
                                   const int64_t *dims)
{
    Onnx__ValueInfoProto *v = core_arena_alloc(&b->a, sizeof *v);
    Onnx__TypeProto *tp = core_arena_alloc(&b->a, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = core_arena_alloc(&b->a, sizeof *tt);
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    v->name = mb_str(b, name);
    v->type = tp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = dtype;
    if (rank >= 0) {
        Onnx__TensorShapeProto *sh = core_arena_alloc(&b->a, sizeof *sh);
        onnx__tensor_shape_proto__init(sh);
        sh->n_dim = (size_t)rank;
        sh->dim = core_arena_alloc(&b->a, sizeof(void *) * (size_t)(rank + 1));
        for (int i = 0; i < rank; i++) {
            Onnx__TensorShapeProto__Dimension *d = core_arena_alloc(&b->a, sizeof *d);
            onnx__tensor_shape_proto__dimension__init(d);
            if (dims[i] >= 0) {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = dims[i];
            } else {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                d->dim_param = mb_str(b, "N");
            }
            sh->dim[i] = d;
        }
        tt->shape = sh;
    }
    return v;
}

static void mb_input(struct mb *b, const char *name, int dtype, int rank, const int64_t *dims)
{
    b->ins[b->g.n_input++] = mb_vi(b, name, dtype, rank, dims);
}

static void mb_output(struct mb *b, const char *name)
{
    b->outs[b->g.n_output++] = mb_vi(b, name, 1, -1, NULL);
}

static Onnx__TensorProto *mb_tensor(struct mb *b, const char *name, int dtype, int rank,
                                    const int64_t *dims, const void *data, size_t nbytes)
{
    Onnx__TensorProto *t = core_arena_alloc(&b->a, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = mb_str(b, name);
    t->has_data_type = 1;
    t->data_type = dtype;
    t->n_dims = (size_t)rank;
    t->dims = core_arena_alloc(&b->a, sizeof(int64_t) * (size_t)(rank + 1));
    if (rank) memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
    t->has_raw_data = 1;
    t->raw_data.len = nbytes;
    t->raw_data.data = core_arena_alloc(&b->a, nbytes + 1);
    if (nbytes) memcpy(t->raw_data.data, data, nbytes);
    return t;
}

static Onnx__TensorProto *mb_init_f32(struct mb *b, const char *name, int rank, const int64_t *dims,
                                      const float *v)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    Onnx__TensorProto *t = mb_tensor(b, name, 1, rank, dims, v, (size_t)n * 4);
    b->inits[b->g.n_initializer++] = t;
    return t;
}

static Onnx__TensorProto *mb_init_i64(struct mb *b, const char *name, int n, const int64_t *v)
{
    int64_t d = n;
    Onnx__TensorProto *t = mb_tensor(b, name, 7, 1, &d, v, (size_t)n * 8);
    b->inits[b->g.n_initializer++] = t;
    return t;
}

/* ins/outs: comma-separated names ("" entries = absent optional inputs). */
static char **mb_split(struct mb *b, const char *list, size_t *n)
{
    char **v = core_arena_alloc(&b->a, sizeof(char *) * 32);
    *n = 0;
    if (!*list) return v;
    const char *p = list;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char *s = core_arena_alloc(&b->a, l + 1);
        memcpy(s, p, l);
        v[(*n)++] = s;
        if (!e) break;
        p = e + 1;
    }
    return v;
}

static Onnx__NodeProto *mb_node(struct mb *b, const char *op, const char *name, const char *ins,
                                const char *outs)
{
    Onnx__NodeProto *n = core_arena_alloc(&b->a, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = mb_str(b, op);
    n->name = mb_str(b, name);
    n->input = mb_split(b, ins, &n->n_input);
    n->output = mb_split(b, outs, &n->n_output);
    n->attribute = core_arena_alloc(&b->a, sizeof(void *) * 16);
    b->nodes[b->g.n_node++] = n;
    return n;
}

static Onnx__AttributeProto *mb_attr(struct mb *b, Onnx__NodeProto *n, const char *name,
                                     Onnx__AttributeProto__AttributeType ty)
{
    Onnx__AttributeProto *a = core_arena_alloc(&b->a, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = mb_str(b, name);
    a->has_type = 1;
    a->type = ty;
    n->attribute[n->n_attribute++] = a;
    return a;
}

static void mb_attr_i(struct mb *b, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static void mb_attr_f(struct mb *b, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

static void mb_attr_ints(struct mb *b, Onnx__NodeProto *n, const char *name, int cnt,
                         const int64_t *v)
{
    Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = (size_t)cnt;
    a->ints = core_arena_alloc(&b->a, sizeof(int64_t) * (size_t)(cnt + 1));
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)cnt);
}

/* Packs the model; caller frees *out with mlc_free. */
static void mb_pack(struct mb *b, uint8_t **out, size_t *n)
{
    *n = onnx__model_proto__get_packed_size(&b->m);
    *out = mlc_alloc(*n + 1);
    onnx__model_proto__pack(&b->m, *out);
}

/* Packs the model into the file at path: 0, or -1 when it cannot be written. */
static inline int mb_write(struct mb *b, const char *path)
{
    uint8_t *bytes;
    size_t n;
    mb_pack(b, &bytes, &n);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(bytes, 1, n, f) == n;
    if (f && fclose(f)) ok = 0;
    mlc_free(bytes);
    return ok ? 0 : -1;
}

#endif
