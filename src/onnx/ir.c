/*
 * ir.c - construction, look-up, compaction and printing of the graph IR
 * (onnx/ir.h). It knows nothing about ONNX files or kernels. Invariants: the
 * tensor array only grows (indices stay valid); node pointers are invalidated
 * by ir_add_node/ir_add_region; ir_graph_compact leaves nodes topologically
 * sorted with producer/n_uses recomputed.
 */
#include "onnx/ir.h"

#include <string.h>
#include <sys/mman.h>

#include "engine/backend.h"

static const char *const op_names[] = {
#define MLC_OP(name, k) #name,
#include "onnx/ops.def"
#undef MLC_OP
};
_Static_assert(sizeof op_names / sizeof op_names[0] == IR_OP_COUNT, "ops.def table");

const char *ir_op_name(enum ir_op op)
{
    return (unsigned)op < IR_OP_COUNT ? op_names[op] : "?";
}

enum ir_op ir_op_from_name(const char *name)
{
    for (int i = 0; i < IR_OP_COUNT; i++)
        if (i != IR_OP_Region && strcmp(op_names[i], name) == 0) return (enum ir_op)i;
    return IR_OP_COUNT;
}

void ir_graph_init(struct ir_graph *g)
{
    memset(g, 0, sizeof *g);
    g->max_nodes = 1 << 20;
}

static void attr_free(struct ir_attr *a)
{
    mlc_free(a->name);
    mlc_free(a->s);
    mlc_free(a->ints);
    mlc_free(a->floats);
}

static void node_free(struct ir_node *n)
{
    mlc_free(n->name);
    mlc_free(n->in);
    mlc_free(n->out);
    for (int i = 0; i < n->n_attrs; i++) attr_free(&n->attrs[i]);
    mlc_free(n->attrs);
    if (n->vt && n->vt->free) n->vt->free(n->model_ctx);
    memset(n, 0, sizeof *n);
}

void ir_graph_free(struct ir_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) node_free(&g->nodes[i]);
    for (int i = 0; i < g->n_tensors; i++) {
        ir_tensor_drop_data(&g->tensors[i]);
        mlc_free(g->tensors[i].name);
    }
    mlc_free(g->nodes);
    mlc_free(g->tensors);
    mlc_free(g->inputs);
    mlc_free(g->outputs);
    mlc_free(g->name);
    mlc_free(g->producer);
    if (g->lazy_base) munmap(g->lazy_base, g->lazy_size);
    memset(g, 0, sizeof *g);
}

mlc_status ir_add_tensor(struct ir_graph *g, const char *name, mlc_dtype dt, int rank,
                         const int64_t *dims, int *idx_out, mlc_error *err)
{
    if (rank > MLC_MAX_RANK)
        return core_err(err, MLC_STATUS_UNSUPPORTED, "tensor '%s': rank %d exceeds %d",
                        name ? name : "", rank, MLC_MAX_RANK);
    if (g->n_tensors >= 4 * g->max_nodes + 65536)
        return core_err(err, MLC_STATUS_LIMIT, "graph has too many tensors");
    if (core_grow_array((void **)&g->tensors, &g->cap_tensors, g->n_tensors + 1,
                        sizeof *g->tensors))
        return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory adding a tensor");
    struct ir_tensor *t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = core_strdup(name ? name : "");
    if (!t->name) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory adding a tensor");
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < MLC_MAX_RANK; i++) t->dims[i] = (dims && i < rank) ? dims[i] : -1;
    t->producer = -1;
    *idx_out = g->n_tensors++;
    return MLC_OK;
}

mlc_status ir_add_node(struct ir_graph *g, enum ir_op op, const char *name, const int *in, int n_in,
                       const int *out, int n_out, int *idx_out, mlc_error *err)
{
    if (g->n_nodes >= g->max_nodes)
        return core_err(err, MLC_STATUS_LIMIT, "graph has more than %d nodes", g->max_nodes);
    if (core_grow_array((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes))
        return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory adding a node");
    struct ir_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = name && *name ? core_strdup(name) : core_sprintf("%s_%d", ir_op_name(op), g->n_nodes);
    n->in = mlc_calloc((size_t)n_in + 1, sizeof(int));
    n->out = mlc_calloc((size_t)n_out + 1, sizeof(int));
    if (!n->name || !n->in || !n->out) {
        node_free(n);
        return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory adding a node");
    }
    if (n_in) memcpy(n->in, in, (size_t)n_in * sizeof(int));
    if (n_out) memcpy(n->out, out, (size_t)n_out * sizeof(int));
    n->n_in = n_in;
    n->n_out = n_out;
    *idx_out = g->n_nodes++;
    return MLC_OK;
}

mlc_status ir_add_region(struct ir_graph *g, const char *name, const int *in, int n_in,
                         const int *out, int n_out, const struct eng_region_vtbl *vt,
                         void *model_ctx, mlc_error *err)
{
    int idx;
    for (int i = 0; i < n_in; i++)
        if (in[i] < 0 || in[i] >= g->n_tensors)
            return core_err(err, MLC_STATUS_INTERNAL, "region '%s': bad input index", name);
    for (int i = 0; i < n_out; i++)
        if (out[i] < 0 || out[i] >= g->n_tensors)
            return core_err(err, MLC_STATUS_INTERNAL, "region '%s': bad output index", name);
    mlc_status st = ir_add_node(g, IR_OP_Region, name, in, n_in, out, n_out, &idx, err);
    if (st) return st;
    g->nodes[idx].vt = vt;
    g->nodes[idx].model_ctx = model_ctx;
    return MLC_OK;
}

static struct ir_attr *new_attr(struct ir_graph *g, int node, const char *name,
                                enum ir_attr_type ty, mlc_error *err)
{
    struct ir_node *n = &g->nodes[node];
    struct ir_attr *a = mlc_realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *a);
    if (!a) {
        core_err(err, MLC_STATUS_NO_MEMORY, "out of memory adding an attribute");
        return NULL;
    }
    n->attrs = a;
    a = &a[n->n_attrs];
    memset(a, 0, sizeof *a);
    a->name = core_strdup(name);
    if (!a->name) {
        core_err(err, MLC_STATUS_NO_MEMORY, "out of memory adding an attribute");
        return NULL;
    }
    a->type = ty;
    a->tensor = -1;
    n->n_attrs++;
    return a;
}

mlc_status ir_node_add_attr_int(struct ir_graph *g, int node, const char *name, int64_t v,
                                mlc_error *err)
{
    struct ir_attr *a = new_attr(g, node, name, IR_ATTR_INT, err);
    if (!a) return err ? err->status : MLC_STATUS_NO_MEMORY;
    a->i = v;
    return MLC_OK;
}

mlc_status ir_node_add_attr_float(struct ir_graph *g, int node, const char *name, float v,
                                  mlc_error *err)
{
    struct ir_attr *a = new_attr(g, node, name, IR_ATTR_FLOAT, err);
    if (!a) return err ? err->status : MLC_STATUS_NO_MEMORY;
    a->f = v;
    return MLC_OK;
}

mlc_status ir_node_add_attr_ints(struct ir_graph *g, int node, const char *name, const int64_t *v,
                                 int n, mlc_error *err)
{
    struct ir_attr *a = new_attr(g, node, name, IR_ATTR_INTS, err);
    if (!a) return err ? err->status : MLC_STATUS_NO_MEMORY;
    a->ints = mlc_calloc((size_t)n + 1, sizeof(int64_t));
    if (!a->ints) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    if (n) memcpy(a->ints, v, (size_t)n * sizeof(int64_t));
    a->n = n;
    return MLC_OK;
}

const struct ir_attr *ir_attr_find(const struct ir_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

int64_t ir_attr_int(const struct ir_node *n, const char *name, int64_t dflt)
{
    const struct ir_attr *a = ir_attr_find(n, name);
    return a && a->type == IR_ATTR_INT ? a->i : dflt;
}

float ir_attr_float(const struct ir_node *n, const char *name, float dflt)
{
    const struct ir_attr *a = ir_attr_find(n, name);
    if (a && a->type == IR_ATTR_FLOAT) return a->f;
    if (a && a->type == IR_ATTR_INT) return (float)a->i;
    return dflt;
}

int ir_attr_ints(const struct ir_node *n, const char *name, const int64_t **v)
{
    const struct ir_attr *a = ir_attr_find(n, name);
    if (!a || a->type != IR_ATTR_INTS) {
        *v = NULL;
        return 0;
    }
    *v = a->ints;
    return a->n;
}

const char *ir_attr_str(const struct ir_node *n, const char *name, const char *dflt)
{
    const struct ir_attr *a = ir_attr_find(n, name);
    return a && a->type == IR_ATTR_STRING ? a->s : dflt;
}

int64_t ir_numel(int rank, const int64_t *dims)
{
    if (rank < 0) return -1;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return -1;
        if (dims[i] && n > (INT64_MAX / 16) / dims[i]) return -1;
        n *= dims[i];
    }
    return n;
}

int64_t ir_tensor_numel(const struct ir_tensor *t)
{
    return ir_numel(t->rank, t->dims);
}

size_t ir_tensor_nbytes(const struct ir_tensor *t)
{
    int64_t n = ir_tensor_numel(t);
    return n < 0 ? 0 : (size_t)n * mlc_dtype_size(t->dtype);
}

void ir_tensor_drop_data(struct ir_tensor *t)
{
    if (t->flags & IR_TENSOR_OWNED) mlc_free(t->data);
    t->data = NULL;
    t->flags &= ~(IR_TENSOR_OWNED | IR_TENSOR_LAZY);
}

mlc_status ir_tensor_materialize(struct ir_graph *g, int t, mlc_error *err)
{
    struct ir_tensor *x = &g->tensors[t];
    if (!(x->flags & IR_TENSOR_LAZY)) return MLC_OK;
    if (!g->src || x->src_off < 0 || x->src_len > g->src_n ||
        (uint64_t)x->src_off > g->src_n - x->src_len)
        return core_err(err, MLC_STATUS_INTERNAL, "tensor '%s': its bytes are no longer at hand",
                        x->name);
    /* 64 bytes of room, as the loader gives weights (engine/dnnl/pack.c). */
    void *d = mlc_alloc(x->src_len + 64);
    if (!d) return core_err(err, MLC_STATUS_NO_MEMORY, "tensor '%s': out of memory", x->name);
    memcpy(d, g->src + x->src_off, x->src_len);
    x->data = d;
    x->flags = (x->flags & ~IR_TENSOR_LAZY) | IR_TENSOR_OWNED;
    return MLC_OK;
}

void ir_tensor_set_data(struct ir_tensor *t, mlc_dtype dt, int rank, const int64_t *dims,
                        void *data)
{
    ir_tensor_drop_data(t);
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < MLC_MAX_RANK; i++) t->dims[i] = i < rank ? dims[i] : -1;
    t->data = data;
    t->flags |= IR_TENSOR_OWNED;
}

mlc_status ir_graph_compact(struct ir_graph *g, mlc_error *err)
{
    mlc_status st = MLC_OK;
    int *prod = NULL, *indeg = NULL, *order = NULL, *queue = NULL;
    struct ir_node *nn = NULL;
    int nlive = 0;
    /* Drop dead nodes. */
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead)
            node_free(&g->nodes[i]);
        else
            g->nodes[nlive++] = g->nodes[i];
    }
    g->n_nodes = nlive;
    prod = mlc_alloc(((size_t)g->n_tensors + 1) * sizeof(int));
    indeg = mlc_calloc((size_t)nlive + 1, sizeof(int));
    order = mlc_alloc(((size_t)nlive + 1) * sizeof(int));
    queue = mlc_alloc(((size_t)nlive + 1) * sizeof(int));
    nn = mlc_alloc(((size_t)nlive + 1) * sizeof *nn);
    if (!prod || !indeg || !order || !queue || !nn) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory sorting the graph");
        goto fail;
    }
    for (int t = 0; t < g->n_tensors; t++) prod[t] = -1;
    for (int i = 0; i < nlive; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++) {
            int t = g->nodes[i].out[k];
            if (t < 0) continue;
            if (prod[t] >= 0) {
                st = core_err(err, MLC_STATUS_BAD_MODEL,
                              "node '%s': output '%s' is already produced by node '%s'",
                              g->nodes[i].name, g->tensors[t].name, g->nodes[prod[t]].name);
                goto fail;
            }
            if (g->tensors[t].flags & IR_TENSOR_INPUT) {
                st = core_err(err, MLC_STATUS_BAD_MODEL, "node '%s': output '%s' is a graph input",
                              g->nodes[i].name, g->tensors[t].name);
                goto fail;
            }
            prod[t] = i;
        }
    for (int i = 0; i < nlive; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int t = g->nodes[i].in[k];
            if (t >= 0 && prod[t] >= 0) indeg[i]++;
        }
    /* Kahn with a FIFO over the original order: stable. Successors are found
     * by scanning consumers lists built on the fly (CSR). */
    {
        int *cnt = mlc_calloc((size_t)g->n_tensors + 1, sizeof(int));
        int *start = mlc_calloc((size_t)g->n_tensors + 2, sizeof(int));
        int total = 0;
        int *cons = NULL;
        if (!cnt || !start) {
            mlc_free(cnt);
            mlc_free(start);
            st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory sorting the graph");
            goto fail;
        }
        for (int i = 0; i < nlive; i++)
            for (int k = 0; k < g->nodes[i].n_in; k++)
                if (g->nodes[i].in[k] >= 0) cnt[g->nodes[i].in[k]]++, total++;
        for (int t = 0; t < g->n_tensors; t++) start[t + 1] = start[t] + cnt[t];
        cons = mlc_alloc(((size_t)total + 1) * sizeof(int));
        if (!cons) {
            mlc_free(cnt);
            mlc_free(start);
            st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory sorting the graph");
            goto fail;
        }
        memset(cnt, 0, ((size_t)g->n_tensors + 1) * sizeof(int));
        for (int i = 0; i < nlive; i++)
            for (int k = 0; k < g->nodes[i].n_in; k++) {
                int t = g->nodes[i].in[k];
                if (t >= 0) cons[start[t] + cnt[t]++] = i;
            }
        int qh = 0, qt = 0, no = 0;
        for (int i = 0; i < nlive; i++)
            if (indeg[i] == 0) queue[qt++] = i;
        while (qh < qt) {
            int i = queue[qh++];
            order[no++] = i;
            for (int k = 0; k < g->nodes[i].n_out; k++) {
                int t = g->nodes[i].out[k];
                if (t < 0) continue;
                for (int c = start[t]; c < start[t + 1]; c++)
                    if (--indeg[cons[c]] == 0) queue[qt++] = cons[c];
            }
        }
        mlc_free(cnt);
        mlc_free(start);
        mlc_free(cons);
        if (no != nlive) {
            const char *culprit = "?";
            for (int i = 0; i < nlive; i++)
                if (indeg[i] > 0) {
                    culprit = g->nodes[i].name;
                    break;
                }
            st =
                core_err(err, MLC_STATUS_BAD_MODEL, "graph has a cycle through node '%s'", culprit);
            goto fail;
        }
    }
    for (int i = 0; i < nlive; i++) nn[i] = g->nodes[order[i]];
    if (nlive) memcpy(g->nodes, nn, (size_t)nlive * sizeof *nn);
    for (int t = 0; t < g->n_tensors; t++) {
        g->tensors[t].producer = -1;
        g->tensors[t].n_uses = 0;
    }
    for (int i = 0; i < nlive; i++) {
        for (int k = 0; k < g->nodes[i].n_out; k++)
            if (g->nodes[i].out[k] >= 0) g->tensors[g->nodes[i].out[k]].producer = i;
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0) g->tensors[g->nodes[i].in[k]].n_uses++;
    }
    for (int i = 0; i < g->n_outputs; i++) g->tensors[g->outputs[i]].n_uses++;
    for (int t = 0; t < g->n_tensors; t++)
        if (g->tensors[t].n_uses == 0 && g->tensors[t].data) ir_tensor_drop_data(&g->tensors[t]);
fail:
    mlc_free(prod);
    mlc_free(indeg);
    mlc_free(order);
    mlc_free(queue);
    mlc_free(nn);
    return st;
}

static const char *dtype_name(mlc_dtype dt)
{
    switch (dt) {
    case MLC_DTYPE_F32:
        return "f32";
    case MLC_DTYPE_U8:
        return "u8";
    case MLC_DTYPE_I8:
        return "i8";
    case MLC_DTYPE_I32:
        return "i32";
    case MLC_DTYPE_I64:
        return "i64";
    case MLC_DTYPE_BOOL:
        return "bool";
    case MLC_DTYPE_F16:
        return "f16";
    case MLC_DTYPE_F64:
        return "f64";
    case MLC_DTYPE_BF16:
        return "bf16";
    }
    return "?";
}

static mlc_status dump_tensor(const struct ir_graph *g, int t, struct core_buf *b)
{
    if (t < 0) return core_buf_printf(b, "-");
    const struct ir_tensor *x = &g->tensors[t];
    mlc_status st = core_buf_printf(b, "%s:%s[", *x->name ? x->name : "#", dtype_name(x->dtype));
    for (int i = 0; !st && i < x->rank; i++)
        st = x->dims[i] < 0 ? core_buf_printf(b, "%s?", i ? "," : "")
                            : core_buf_printf(b, "%s%lld", i ? "," : "", (long long)x->dims[i]);
    if (!st) st = core_buf_printf(b, "]%s", x->data ? "=const" : "");
    return st;
}

mlc_status ir_graph_dump(const struct ir_graph *g, struct core_buf *b)
{
    static const char *const act_names[] = {"",         "+relu",      "+leakyrelu", "+clip",
                                            "+sigmoid", "+hsigmoid",  "+hswish",    "+silu",
                                            "+gelu",    "+gelu_tanh", "+tanh"};
    mlc_status st = MLC_OK;
    for (int i = 0; !st && i < g->n_nodes; i++) {
        const struct ir_node *n = &g->nodes[i];
        st = core_buf_printf(
            b, "  %4d %s%s", i, n->op == IR_OP_Region && n->vt ? n->vt->name : ir_op_name(n->op),
            (unsigned)n->act < sizeof act_names / sizeof act_names[0] ? act_names[n->act] : "");
        if (!st) st = core_buf_printf(b, " '%s' (", n->name);
        for (int k = 0; !st && k < n->n_in; k++) {
            if (k) st = core_buf_printf(b, ", ");
            if (!st) st = dump_tensor(g, n->in[k], b);
        }
        if (!st) st = core_buf_printf(b, ") -> ");
        for (int k = 0; !st && k < n->n_out; k++) {
            if (k) st = core_buf_printf(b, ", ");
            if (!st) st = dump_tensor(g, n->out[k], b);
        }
        if (!st) st = core_buf_printf(b, "\n");
    }
    return st;
}
