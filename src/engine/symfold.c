/*
 * symfold.c - load-time folding of shape arithmetic on symbolic dims.
 *
 * Dynamic-batch exports compute Reshape targets at run time: Shape -> Gather
 * -> Unsqueeze/Mul/Div/Cast -> Concat -> Reshape (and Equal/Where/Expand for
 * broadcasts). Plain constant folding cannot touch these chains because one
 * input dim is '?', so the integer nodes stay in the graph, the Reshapes have
 * no constant target and the backend partition is cut at every one of them.
 *
 * This pass tracks small integer values (<= SV_MAX elements) element by
 * element: each element is a constant, a*S + b where S is a symbolic dim
 * ("dim d of tensor t", as read by a Shape node), or unknown. It follows the
 * values through Shape, Gather, Unsqueeze/Squeeze/Reshape/Identity/Flatten,
 * Concat, Cast, Slice, Add/Sub/Mul/Div, Equal and Where, and
 *   - folds every value whose elements all became constants (the static dims
 *     of a partly symbolic tensor: Gather(Shape(x), 2) on x[197,?,2304]);
 *   - rewrites a Reshape target into a constant: an element that is dim p
 *     of the Reshape's own input at position p becomes 0 (ONNX's copy with
 *     allowzero = 0; exact with no condition), and one other non-constant
 *     element becomes -1 when every other element is a constant > 0. That is
 *     exact: a valid Reshape keeps the element count, so the free extent is
 *     the count divided by the others, and those are never 0;
 *   - makes a Shape whose consumers only Gather dims of a graph input read
 *     that input (so the chain does not wait for a computed tensor);
 *   - rewrites an Expand target element that is the Expand input's own dim
 *     at the aligned position into 1 (broadcasting 1 against that dim gives
 *     the dim), so `x.expand(x.shape[0], -1)` becomes a constant target.
 * Arithmetic is only done when it is exact whatever the symbol's value (a
 * dim, so >= 0): Div needs both a and b divisible, Mul needs one constant
 * side, Equal is decided only when no dim value can make it true (or both
 * sides are the same expression). Anything else makes the element unknown,
 * which only means less folding. The pass runs inside the load-time
 * inference sweep (opt.c), so a rewritten Reshape immediately gets static
 * output dims and the Shape nodes downstream of it fold in turn.
 */
#include <string.h>

#include "engine/engine.h"

#define SV_MAX 8

enum { EL_CONST = 0, EL_UNKNOWN = -1 }; /* sym > 0: a symbol id */

struct sym_el {
    int64_t a, b; /* value a * S + b (a unused for constants) */
    int sym;      /* EL_CONST, EL_UNKNOWN or a symbol id */
};

struct sym_val {
    int known;
    int n;
    struct sym_el e[SV_MAX];
};

struct eng_symfold {
    struct sym_val *v;                 /* per tensor below cap: its value */
    struct sym_el (*sd)[MLC_MAX_RANK]; /* per tensor below cap: its dims */
    unsigned char *has_sd;
    int cap;
};

/* A symbol stands for "dim d of tensor t" (id 1 + t * MLC_MAX_RANK + d):
 * graph inputs' '?' dims, and any '?' dim whose relation to them is not
 * tracked. Distinct ids may still be equal at run time, so they are only
 * ever used to conclude equality, never inequality. */
static int sym_id(int t, int d)
{
    return 1 + t * MLC_MAX_RANK + d;
}
static int is_int(mlc_dtype d)
{
    return d == MLC_DTYPE_I64 || d == MLC_DTYPE_I32;
}

mlc_status eng_symfold_create(const struct ir_graph *g, struct eng_symfold **out, mlc_error *err)
{
    struct eng_symfold *s = mlc_calloc(1, sizeof *s);
    if (s) {
        s->v = mlc_calloc((size_t)g->n_tensors + 1, sizeof *s->v);
        s->sd = mlc_calloc((size_t)g->n_tensors + 1, sizeof *s->sd);
        s->has_sd = mlc_calloc((size_t)g->n_tensors + 1, 1);
    }
    if (!s || !s->v || !s->sd || !s->has_sd) {
        eng_symfold_free(s);
        return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory folding shapes");
    }
    s->cap = g->n_tensors;
    *out = s;
    return MLC_OK;
}

void eng_symfold_free(struct eng_symfold *s)
{
    if (!s) return;
    mlc_free(s->v);
    mlc_free(s->sd);
    mlc_free(s->has_sd);
    mlc_free(s);
}

/* The value of tensor t: from constant data or from the tracked elements.
 * Returns 0 when nothing is known. */
static int get(const struct eng_symfold *s, const struct ir_graph *g, int t, struct sym_val *v)
{
    if (t < 0) return 0;
    const struct ir_tensor *x = &g->tensors[t];
    if (x->data) {
        int64_t ne = ir_tensor_numel(x);
        if (ne < 0 || ne > SV_MAX) return 0;
        v->known = 1;
        v->n = (int)ne;
        for (int i = 0; i < v->n; i++) {
            int64_t c;
            if (x->dtype == MLC_DTYPE_I64)
                c = ((const int64_t *)x->data)[i];
            else if (x->dtype == MLC_DTYPE_I32)
                c = ((const int32_t *)x->data)[i];
            else if (x->dtype == MLC_DTYPE_BOOL)
                c = ((const uint8_t *)x->data)[i] != 0;
            else
                return 0;
            v->e[i] = (struct sym_el){0, c, EL_CONST};
        }
        return 1;
    }
    if (t >= s->cap || !s->v[t].known) return 0;
    *v = s->v[t];
    return 1;
}

static int all_const(const struct sym_val *v)
{
    for (int i = 0; i < v->n; i++)
        if (v->e[i].sym != EL_CONST) return 0;
    return 1;
}

/* Element i of v broadcast to n elements (v has 1 or n). */
static const struct sym_el *at(const struct sym_val *v, int i)
{
    return &v->e[v->n == 1 ? 0 : i];
}

/* x % m without the one undefined case (INT64_MIN % -1). */
static int64_t mod(int64_t x, int64_t m)
{
    return m == -1 ? 0 : x % m;
}

static struct sym_el unknown(void)
{
    return (struct sym_el){0, 0, EL_UNKNOWN};
}

/* x + k*y for k = +1/-1, exact or unknown. */
static struct sym_el el_add(const struct sym_el *x, const struct sym_el *y, int k)
{
    struct sym_el r = {0, 0, EL_CONST};
    if (x->sym == EL_UNKNOWN || y->sym == EL_UNKNOWN) return unknown();
    if (x->sym > 0 && y->sym > 0 && x->sym != y->sym) return unknown();
    int64_t ya = k > 0 ? y->a : -y->a, yb = k > 0 ? y->b : -y->b;
    if (k < 0 && (y->a == INT64_MIN || y->b == INT64_MIN)) return unknown();
    int64_t xa = x->sym > 0 ? x->a : 0;
    if (y->sym <= 0) ya = 0;
    if (__builtin_add_overflow(xa, ya, &r.a) || __builtin_add_overflow(x->b, yb, &r.b))
        return unknown();
    r.sym = x->sym > 0 ? x->sym : y->sym;
    if (r.a == 0) r.sym = EL_CONST;
    return r;
}

static struct sym_el el_mul(const struct sym_el *x, const struct sym_el *y)
{
    if (x->sym == EL_UNKNOWN || y->sym == EL_UNKNOWN) return unknown();
    if (x->sym > 0 && y->sym > 0) return unknown();
    const struct sym_el *v = x->sym > 0 ? x : y, *k = x->sym > 0 ? y : x;
    struct sym_el r = {0, 0, v->sym};
    if (__builtin_mul_overflow(v->sym > 0 ? v->a : 0, k->b, &r.a) ||
        __builtin_mul_overflow(v->b, k->b, &r.b))
        return unknown();
    if (r.a == 0) r.sym = EL_CONST;
    return r;
}

/* Exact division only: then truncating and flooring agree. */
static struct sym_el el_div(const struct sym_el *x, const struct sym_el *y)
{
    if (x->sym == EL_UNKNOWN || y->sym != EL_CONST || y->b == 0) return unknown();
    int64_t k = y->b;
    if (k == -1) return unknown(); /* INT64_MIN / -1; not worth a case */
    if ((x->sym > 0 && mod(x->a, k)) || mod(x->b, k)) return unknown();
    struct sym_el r = {x->sym > 0 ? x->a / k : 0, x->b / k, x->sym};
    if (r.sym > 0 && r.a == 0) r.sym = EL_CONST;
    return r;
}

/* Equal: 1/0 when decided for every value of the symbol (>= 0), else unknown. */
static struct sym_el el_equal(const struct sym_el *x, const struct sym_el *y)
{
    if (x->sym == EL_UNKNOWN || y->sym == EL_UNKNOWN) return unknown();
    if (x->sym == EL_CONST && y->sym == EL_CONST) return (struct sym_el){0, x->b == y->b, 0};
    if (x->sym > 0 && y->sym > 0) {
        if (x->sym == y->sym && x->a == y->a) return (struct sym_el){0, x->b == y->b, 0};
        return unknown();
    }
    const struct sym_el *v = x->sym > 0 ? x : y, *c = x->sym > 0 ? y : x;
    /* v ranges over b, b + a, b + 2a, ... */
    int64_t d;
    if (__builtin_sub_overflow(c->b, v->b, &d)) return unknown();
    if ((v->a > 0 && d < 0) || (v->a < 0 && d > 0) || mod(d, v->a)) return (struct sym_el){0, 0, 0};
    return unknown();
}

/* Normalises a Slice bound as infer.c does for a dim of n elements. */
static int64_t clampi(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int el_same(const struct sym_el *x, const struct sym_el *y)
{
    if (x->sym == EL_UNKNOWN || y->sym == EL_UNKNOWN || x->sym != y->sym || x->b != y->b) return 0;
    return x->sym == EL_CONST || x->a == y->a;
}

static int el_is(const struct sym_el *x, int64_t c)
{
    return x->sym == EL_CONST && x->b == c;
}

/* Dim d of tensor t: static, tracked, or the fresh symbol of that dim. */
static struct sym_el dim_of(const struct eng_symfold *s, const struct ir_graph *g, int t, int d)
{
    const struct ir_tensor *x = &g->tensors[t];
    if (t < 0 || d < 0 || d >= x->rank) return unknown();
    if (x->dims[d] >= 0) return (struct sym_el){0, x->dims[d], EL_CONST};
    if (t < s->cap && s->has_sd[t] && s->sd[t][d].sym != EL_UNKNOWN) return s->sd[t][d];
    return (struct sym_el){1, 0, sym_id(t, d)};
}

/* Product of n elements as c or c * S (at most one symbolic factor, b = 0). */
static int el_prod(const struct sym_el *e, int n, struct sym_el *out)
{
    int64_t c = 1;
    int sym = EL_CONST;
    for (int i = 0; i < n; i++) {
        int64_t f;
        if (e[i].sym == EL_CONST)
            f = e[i].b;
        else if (e[i].sym > 0 && e[i].b == 0 && sym == EL_CONST)
            f = e[i].a, sym = e[i].sym;
        else
            return 0;
        if (__builtin_mul_overflow(c, f, &c)) return 0;
    }
    *out = sym != EL_CONST && c ? (struct sym_el){c, 0, sym} : (struct sym_el){0, c, EL_CONST};
    return 1;
}

/* num / den for products from el_prod, when exact for every symbol value. */
static int el_quot(const struct sym_el *num, const struct sym_el *den, struct sym_el *q)
{
    if (den->sym == EL_CONST) {
        if (den->b <= 0) return 0;
        if (num->sym == EL_CONST) {
            if (num->b % den->b) return 0;
            *q = (struct sym_el){0, num->b / den->b, EL_CONST};
        } else {
            if (num->a % den->b) return 0;
            *q = (struct sym_el){num->a / den->b, 0, num->sym};
        }
        return 1;
    }
    if (num->sym != den->sym || den->a <= 0 || num->a % den->a) return 0;
    *q = (struct sym_el){0, num->a / den->a, EL_CONST};
    return 1;
}

/* Whether a*S + b can be 0 for some dim value S >= 0. */
static int el_maybe_zero(const struct sym_el *x)
{
    if (x->sym == EL_UNKNOWN) return 1;
    if (x->sym == EL_CONST) return x->b == 0;
    if (x->b == INT64_MIN || (x->a == -1 && x->b == INT64_MAX)) return 1;
    return mod(-x->b, x->a) == 0 && (x->a == -1 ? x->b : (-x->b) / x->a) >= 0;
}

/* Whether y is 0 wherever x is (x, y in the same symbol; dims S >= 0). */
static int zero_with(const struct sym_el *x, const struct sym_el *y)
{
    if (!el_maybe_zero(x)) return 1;
    if (x->sym <= 0 || y->sym != x->sym || x->b == INT64_MIN || x->a < 0) return el_same(x, y);
    int64_t s0 = -x->b / x->a, v;
    if (__builtin_mul_overflow(y->a, s0, &v) || __builtin_add_overflow(v, y->b, &v)) return 0;
    return v == 0;
}

/* One output extent from inputs that must agree or broadcast (1s). */
static struct sym_el el_agree(const struct sym_el *c, int n)
{
    const struct sym_el *pick = NULL;
    for (int i = 0; i < n; i++) {
        if (el_is(&c[i], 1)) continue;
        if (c[i].sym == EL_UNKNOWN) return unknown();
        if (!pick)
            pick = &c[i];
        else if (!el_same(pick, &c[i]))
            return unknown();
    }
    return pick ? *pick : (struct sym_el){0, 1, EL_CONST};
}

static int is_unary_like(enum ir_op op)
{
    switch (op) {
    ENG_FLOAT_UNARY_CASES:
    case IR_OP_Abs:
    case IR_OP_Neg:
    case IR_OP_Sign:
    case IR_OP_Relu:
    case IR_OP_Identity:
    case IR_OP_Not:
    case IR_OP_Dropout:
    case IR_OP_Clip:
    case IR_OP_CumSum:
    case IR_OP_Cast:
    case IR_OP_LayerNormalization:
    case IR_OP_BatchNormalization:
    case IR_OP_InstanceNormalization:
        return 1;
    default:
        return 0;
    }
}

static int is_bcast(enum ir_op op)
{
    switch (op) {
    ENG_BINARY_CASES:
    case IR_OP_Where:
    case IR_OP_Max:
    case IR_OP_Min:
    case IR_OP_Sum:
    case IR_OP_Mean:
        return 1;
    default:
        return 0;
    }
}

/* Constant int64 values of input k (axes, perm-like inputs); count or -1. */
static int const_ints(const struct eng_symfold *s, const struct ir_graph *g,
                      const struct ir_node *n, int k, int64_t *v)
{
    struct sym_val x;
    if (k >= n->n_in || n->in[k] < 0 || !get(s, g, n->in[k], &x) || !all_const(&x)) return -1;
    for (int i = 0; i < x.n; i++) v[i] = x.e[i].b;
    return x.n;
}

static int norm_ax(int64_t a, int r)
{
    if (a < 0) a += r;
    return a >= 0 && a < r ? (int)a : -1;
}

/* Dims of output 0 of n, element-wise (static, tracked or unknown); `tgt`
 * is the value of a Reshape/Expand target. Before inference (tgt given) the
 * output rank comes from the target; after it, from the graph. Returns the
 * rank, or -1 when nothing can be said. */
static int out_dims(const struct eng_symfold *s, const struct ir_graph *g, const struct ir_node *n,
                    const struct sym_val *tgt, struct sym_el *od)
{
    const struct ir_tensor *x = &g->tensors[n->in[0]], *ot = &g->tensors[n->out[0]];
    int r = ot->rank, xr = x->rank;
    struct sym_el c[64];
    int64_t iv[MLC_MAX_RANK];
    if (xr < 0) return -1;
    if (n->op == IR_OP_Reshape || n->op == IR_OP_Expand) {
        if (!tgt) return -1;
        r = n->op == IR_OP_Reshape ? tgt->n : (tgt->n > xr ? tgt->n : xr);
        if (r > MLC_MAX_RANK) return -1;
    }
    if (r < 0 || r > MLC_MAX_RANK) return -1;
    for (int i = 0; i < r; i++)
        od[i] = ot->rank == r && ot->dims[i] >= 0 ? (struct sym_el){0, ot->dims[i], EL_CONST}
                                                  : unknown();
    if (is_unary_like(n->op)) {
        if (r != xr) return -1;
        for (int i = 0; i < r; i++) od[i] = dim_of(s, g, n->in[0], i);
        return r;
    }
    if (is_bcast(n->op)) {
        if (n->n_in > 64) return -1;
        for (int i = 0; i < r; i++) {
            int m = 0;
            for (int k = 0; k < n->n_in; k++) {
                if (n->in[k] < 0) continue;
                int q = i - (r - g->tensors[n->in[k]].rank);
                c[m++] = q >= 0 ? dim_of(s, g, n->in[k], q) : (struct sym_el){0, 1, EL_CONST};
            }
            if (od[i].sym == EL_UNKNOWN) od[i] = el_agree(c, m);
        }
        return r;
    }
    switch (n->op) {
    case IR_OP_Reshape: {
        struct sym_el tot, rest;
        int free_at = -1, allowzero = (int)ir_attr_int(n, "allowzero", 0);
        for (int i = 0; i < r; i++) {
            const struct sym_el *e = &tgt->e[i];
            if (e->sym == EL_CONST && e->b == 0 && !allowzero) {
                od[i] = dim_of(s, g, n->in[0], i);
            } else if (el_is(e, -1)) {
                if (free_at >= 0) return -1;
                free_at = i;
            } else if (e->sym == EL_CONST) {
                if (e->b < 0) return -1;
                od[i] = *e;
            } else {
                /* A run-time 0 would copy the input's dim instead. */
                struct sym_el xd = dim_of(s, g, n->in[0], i);
                od[i] = allowzero || zero_with(e, &xd) ? *e : unknown();
            }
        }
        if (free_at >= 0) {
            od[free_at] = unknown();
            for (int i = 0; i < xr; i++) c[i] = dim_of(s, g, n->in[0], i);
            for (int i = 0; i < r; i++) c[xr + i] = i == free_at ? (struct sym_el){0, 1, 0} : od[i];
            struct sym_el q;
            if (el_prod(c, xr, &tot) && el_prod(c + xr, r, &rest) && el_quot(&tot, &rest, &q))
                od[free_at] = q;
        }
        return r;
    }
    case IR_OP_Expand:
        for (int i = 0; i < r; i++) {
            int j = i - (r - tgt->n), q = i - (r - xr);
            struct sym_el te = j >= 0 ? tgt->e[j] : (struct sym_el){0, 1, EL_CONST};
            struct sym_el xe = q >= 0 ? dim_of(s, g, n->in[0], q) : (struct sym_el){0, 1, 0};
            if (el_is(&te, 1))
                od[i] = xe;
            else if (el_is(&xe, 1) || el_same(&te, &xe) || te.sym == EL_CONST)
                od[i] = te; /* a constant > 1 wins: the other side is 1 or equal */
            else if (xe.sym == EL_CONST)
                od[i] = xe;
            else
                od[i] = unknown();
        }
        return r;
    case IR_OP_Transpose: {
        const int64_t *p;
        int np = ir_attr_ints(n, "perm", &p);
        if (r != xr || (np && np != r)) return -1;
        for (int i = 0; i < r; i++) {
            int64_t k = np ? p[i] : r - 1 - i;
            if (k < 0 || k >= xr) return -1;
            od[i] = dim_of(s, g, n->in[0], (int)k);
        }
        return r;
    }
    case IR_OP_Conv:
    case IR_OP_MaxPool:
    case IR_OP_AveragePool:
    case IR_OP_GlobalAveragePool:
    case IR_OP_GlobalMaxPool:
        if (r >= 1 && od[0].sym == EL_UNKNOWN) od[0] = dim_of(s, g, n->in[0], 0);
        return r;
    case IR_OP_Gemm:
        if (r != 2 || n->n_in < 2) return -1;
        if (od[0].sym == EL_UNKNOWN)
            od[0] = dim_of(s, g, n->in[0], ir_attr_int(n, "transA", 0) ? 1 : 0);
        if (od[1].sym == EL_UNKNOWN)
            od[1] = dim_of(s, g, n->in[1], ir_attr_int(n, "transB", 0) ? 0 : 1);
        return r;
    case IR_OP_MatMul: {
        int yr = n->n_in > 1 && n->in[1] >= 0 ? g->tensors[n->in[1]].rank : -1;
        if (xr < 2 || yr < 2 || r != (xr > yr ? xr : yr)) return -1;
        for (int i = 0; i < r - 2; i++) {
            int qa = i - (r - xr), qb = i - (r - yr);
            c[0] = qa >= 0 ? dim_of(s, g, n->in[0], qa) : (struct sym_el){0, 1, 0};
            c[1] = qb >= 0 ? dim_of(s, g, n->in[1], qb) : (struct sym_el){0, 1, 0};
            if (od[i].sym == EL_UNKNOWN) od[i] = el_agree(c, 2);
        }
        if (od[r - 2].sym == EL_UNKNOWN) od[r - 2] = dim_of(s, g, n->in[0], xr - 2);
        if (od[r - 1].sym == EL_UNKNOWN) od[r - 1] = dim_of(s, g, n->in[1], yr - 1);
        return r;
    }
    case IR_OP_Flatten: {
        int a = (int)ir_attr_int(n, "axis", 1);
        if (a < 0) a += xr;
        if (r != 2 || a < 0 || a > xr) return -1;
        for (int i = 0; i < xr; i++) c[i] = dim_of(s, g, n->in[0], i);
        if (!el_prod(c, a, &od[0])) od[0] = unknown();
        if (!el_prod(c + a, xr - a, &od[1])) od[1] = unknown();
        return r;
    }
    case IR_OP_Unsqueeze:
    case IR_OP_Squeeze: {
        int na = const_ints(s, g, n, 1, iv), mark[MLC_MAX_RANK] = {0};
        if (na < 0) return -1;
        int mr = n->op == IR_OP_Unsqueeze ? r : xr;
        for (int i = 0; i < na; i++) {
            int a = norm_ax(iv[i], mr);
            if (a < 0) return -1;
            mark[a] = 1;
        }
        if (n->op == IR_OP_Unsqueeze) {
            for (int i = 0, j = 0; i < r; i++)
                od[i] = mark[i] ? (struct sym_el){0, 1, EL_CONST} : dim_of(s, g, n->in[0], j++);
        } else {
            if (!na) return r; /* squeeze of every 1: static dims only */
            for (int i = 0, j = 0; i < xr; i++)
                if (!mark[i] && j < r) od[j++] = dim_of(s, g, n->in[0], i);
        }
        return r;
    }
    case IR_OP_Concat: {
        int a = norm_ax(ir_attr_int(n, "axis", 0), r);
        if (a < 0 || n->n_in > 64) return -1;
        struct sym_el sum = {0, 0, EL_CONST};
        for (int i = 0; i < r; i++) {
            int m = 0;
            for (int k = 0; k < n->n_in; k++)
                if (n->in[k] >= 0) c[m++] = dim_of(s, g, n->in[k], i);
            if (i == a) {
                for (int k = 0; k < m; k++) sum = el_add(&sum, &c[k], 1);
                if (od[i].sym == EL_UNKNOWN) od[i] = sum;
                continue;
            }
            /* Concat needs equal extents: any input's is the answer. */
            if (od[i].sym != EL_UNKNOWN) continue;
            for (int k = 0; k < m && od[i].sym == EL_UNKNOWN; k++)
                if (c[k].sym != EL_UNKNOWN) od[i] = c[k];
        }
        return r;
    }
    case IR_OP_Gather: {
        int a = norm_ax(ir_attr_int(n, "axis", 0), xr), ir = g->tensors[n->in[1]].rank;
        if (a < 0 || ir < 0 || r != xr - 1 + ir) return -1;
        for (int i = 0; i < r; i++) {
            struct sym_el e = i < a        ? dim_of(s, g, n->in[0], i)
                              : i < a + ir ? dim_of(s, g, n->in[1], i - a)
                                           : dim_of(s, g, n->in[0], i - ir + 1);
            if (od[i].sym == EL_UNKNOWN) od[i] = e;
        }
        return r;
    }
    case IR_OP_Slice: {
        int mark[MLC_MAX_RANK] = {0}, na;
        if (r != xr) return -1;
        if (n->n_in > 3 && n->in[3] >= 0) {
            if ((na = const_ints(s, g, n, 3, iv)) < 0) return r;
            for (int i = 0; i < na; i++) {
                int a = norm_ax(iv[i], xr);
                if (a < 0) return -1;
                mark[a] = 1;
            }
        } else {
            struct sym_val st;
            if (!get(s, g, n->in[1], &st)) return r;
            for (int i = 0; i < st.n && i < xr; i++) mark[i] = 1;
        }
        for (int i = 0; i < r; i++)
            if (!mark[i] && od[i].sym == EL_UNKNOWN) od[i] = dim_of(s, g, n->in[0], i);
        return r;
    }
    ENG_REDUCE_CASES:
        /* keepdims: a reduced axis is a static 1, the others pass. */
        if (r != xr) return -1;
        for (int i = 0; i < r; i++)
            if (od[i].sym == EL_UNKNOWN) od[i] = dim_of(s, g, n->in[0], i);
        return r;
    default:
        return -1;
    }
}

/* Evaluates node n's output 0 element-wise; returns 1 with *o filled. */
static int eval(const struct eng_symfold *s, const struct ir_graph *g, const struct ir_node *n,
                struct sym_val *o)
{
    const struct ir_tensor *ot = &g->tensors[n->out[0]];
    int64_t on = ir_tensor_numel(ot);
    struct sym_val x, y, z;
    if (on < 0 || on > SV_MAX || (!is_int(ot->dtype) && ot->dtype != MLC_DTYPE_BOOL)) return 0;
    memset(o, 0, sizeof *o);
    o->known = 1;
    o->n = (int)on;
    switch (n->op) {
    case IR_OP_Shape: {
        const struct ir_tensor *it = &g->tensors[n->in[0]];
        int64_t r = it->rank, st = ir_attr_int(n, "start", 0);
        if (r < 0) return 0;
        if (st < 0) st += r;
        st = clampi(st, 0, r);
        for (int i = 0; i < o->n; i++) {
            int d = (int)st + i;
            o->e[i] = dim_of(s, g, n->in[0], d);
        }
        return 1;
    }
    case IR_OP_Gather: {
        if (!get(s, g, n->in[0], &x) || !get(s, g, n->in[1], &y) || !all_const(&y)) return 0;
        if (g->tensors[n->in[0]].rank != 1 || y.n != o->n) return 0;
        for (int i = 0; i < o->n; i++) {
            int64_t k = y.e[i].b < 0 ? y.e[i].b + x.n : y.e[i].b;
            if (k < 0 || k >= x.n) return 0; /* the kernel reports it at run time */
            o->e[i] = x.e[k];
        }
        return 1;
    }
    case IR_OP_Unsqueeze:
    case IR_OP_Squeeze:
    case IR_OP_Reshape:
    case IR_OP_Flatten:
    case IR_OP_Identity:
        /* Same elements in the same (C) order. */
        if (!get(s, g, n->in[0], &x) || x.n != o->n) return 0;
        memcpy(o->e, x.e, sizeof o->e);
        return 1;
    case IR_OP_Concat: {
        int k = 0;
        for (int i = 0; i < n->n_in; i++) {
            if (n->in[i] < 0) continue;
            if (g->tensors[n->in[i]].rank != 1 || !get(s, g, n->in[i], &x) || k + x.n > o->n)
                return 0;
            memcpy(&o->e[k], x.e, (size_t)x.n * sizeof x.e[0]);
            k += x.n;
        }
        return k == o->n;
    }
    case IR_OP_Cast: {
        if (!get(s, g, n->in[0], &x) || x.n != o->n) return 0;
        mlc_dtype from = g->tensors[n->in[0]].dtype;
        for (int i = 0; i < o->n; i++) {
            struct sym_el e = x.e[i];
            if (ot->dtype == MLC_DTYPE_BOOL) {
                e = e.sym == EL_CONST ? (struct sym_el){0, e.b != 0, 0} : unknown();
            } else if (ot->dtype == MLC_DTYPE_I32) {
                /* Only constants: a symbolic extent could exceed int32. */
                if (e.sym != EL_CONST || e.b < INT32_MIN || e.b > INT32_MAX) e = unknown();
            } else if (!is_int(from) && from != MLC_DTYPE_BOOL) {
                e = unknown();
            }
            o->e[i] = e;
        }
        return 1;
    }
    case IR_OP_Add:
    case IR_OP_Sub:
    case IR_OP_Mul:
    case IR_OP_Div:
    case IR_OP_Equal: {
        if (!get(s, g, n->in[0], &x) || !get(s, g, n->in[1], &y)) return 0;
        if ((x.n != 1 && x.n != o->n) || (y.n != 1 && y.n != o->n)) return 0;
        if (n->op != IR_OP_Equal && !is_int(ot->dtype)) return 0;
        if (n->op == IR_OP_Equal && !is_int(g->tensors[n->in[0]].dtype)) return 0;
        for (int i = 0; i < o->n; i++) {
            const struct sym_el *a = at(&x, i), *b = at(&y, i);
            o->e[i] = n->op == IR_OP_Add   ? el_add(a, b, 1)
                      : n->op == IR_OP_Sub ? el_add(a, b, -1)
                      : n->op == IR_OP_Mul ? el_mul(a, b)
                      : n->op == IR_OP_Div ? el_div(a, b)
                                           : el_equal(a, b);
            /* int32 arithmetic wraps where int64 would not. */
            if (ot->dtype == MLC_DTYPE_I32 && o->e[i].sym == EL_CONST &&
                (o->e[i].b < INT32_MIN || o->e[i].b > INT32_MAX))
                o->e[i] = unknown();
        }
        return 1;
    }
    case IR_OP_Where: {
        if (!get(s, g, n->in[0], &x) || !get(s, g, n->in[1], &y) || !get(s, g, n->in[2], &z))
            return 0;
        if ((x.n != 1 && x.n != o->n) || (y.n != 1 && y.n != o->n) || (z.n != 1 && z.n != o->n))
            return 0;
        for (int i = 0; i < o->n; i++) {
            const struct sym_el *c = at(&x, i);
            o->e[i] = c->sym != EL_CONST ? unknown() : c->b ? *at(&y, i) : *at(&z, i);
        }
        return 1;
    }
    case IR_OP_Slice: {
        struct sym_val st, en, ax, sp;
        if (!get(s, g, n->in[0], &x) || g->tensors[n->in[0]].rank != 1) return 0;
        if (!get(s, g, n->in[1], &st) || !get(s, g, n->in[2], &en) || st.n != 1 || en.n != 1 ||
            !all_const(&st) || !all_const(&en))
            return 0;
        if (n->n_in > 3 && n->in[3] >= 0 &&
            (!get(s, g, n->in[3], &ax) || ax.n != 1 || !all_const(&ax) ||
             (ax.e[0].b != 0 && ax.e[0].b != -1)))
            return 0;
        int64_t step = 1;
        if (n->n_in > 4 && n->in[4] >= 0) {
            if (!get(s, g, n->in[4], &sp) || sp.n != 1 || !all_const(&sp) || sp.e[0].b == 0)
                return 0;
            step = sp.e[0].b;
        }
        /* A step beyond the (<= SV_MAX) elements acts as SV_MAX + 1. */
        if (step > SV_MAX) step = SV_MAX + 1;
        if (step < -SV_MAX) step = -SV_MAX - 1;
        int64_t d = x.n, b = st.e[0].b, e = en.e[0].b;
        if (b < 0) b += d;
        if (e < 0) e += d;
        if (step > 0) {
            b = clampi(b, 0, d);
            e = clampi(e, 0, d);
        } else {
            b = clampi(b, -1, d - 1);
            e = clampi(e, -1, d - 1);
        }
        int k = 0;
        for (int64_t i = b; step > 0 ? i < e : i > e; i += step) {
            if (k >= o->n) return 0;
            o->e[k++] = x.e[i];
        }
        return k == o->n;
    }
    default:
        return 0;
    }
}

/* Writes the constant elements of v as tensor t's data (dtype of t). */
static mlc_status materialise(struct ir_graph *g, int t, const struct sym_val *v, mlc_error *err)
{
    struct ir_tensor *x = &g->tensors[t];
    size_t es = mlc_dtype_size(x->dtype);
    void *d = mlc_alloc((size_t)v->n * es + 8);
    if (!d) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory folding shapes");
    for (int i = 0; i < v->n; i++) {
        if (x->dtype == MLC_DTYPE_I64)
            ((int64_t *)d)[i] = v->e[i].b;
        else if (x->dtype == MLC_DTYPE_I32)
            ((int32_t *)d)[i] = (int32_t)v->e[i].b;
        else
            ((uint8_t *)d)[i] = v->e[i].b != 0;
    }
    int64_t dims[MLC_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    ir_tensor_set_data(x, x->dtype, x->rank, dims, d);
    return MLC_OK;
}

mlc_status eng_symfold_eval(struct eng_symfold *s, struct ir_graph *g, int node, int *folded,
                            mlc_error *err)
{
    const struct ir_node *n = &g->nodes[node];
    struct sym_val o, tgt;
    struct sym_el od[MLC_MAX_RANK];
    *folded = 0;
    if (n->n_out < 1 || n->out[0] < 0 || n->out[0] >= s->cap || n->n_in < 1 || n->in[0] < 0)
        return MLC_OK;
    int t = n->out[0];
    struct ir_tensor *ot = &g->tensors[t];
    int has_tgt = n->n_in > 1 && n->in[1] >= 0 && get(s, g, n->in[1], &tgt);
    if (ot->rank >= 0 && out_dims(s, g, n, has_tgt ? &tgt : NULL, od) == ot->rank) {
        /* What the element count or an input fixes is static from here on
         * (a -1 that resolves to 768, the batch of a Conv's output, ...). */
        for (int d = 0; d < ot->rank; d++)
            if (ot->dims[d] < 0 && od[d].sym == EL_CONST && od[d].b >= 0) ot->dims[d] = od[d].b;
        memcpy(s->sd[t], od, sizeof s->sd[t]);
        s->has_sd[t] = 1;
    }
    if (n->n_out != 1 || !eval(s, g, n, &o)) return MLC_OK;
    if (!all_const(&o)) {
        s->v[t] = o;
        return MLC_OK;
    }
    mlc_status st = materialise(g, t, &o, err);
    if (st) return st;
    *folded = 1;
    return MLC_OK;
}

/* Adds a constant i64 vector tensor and makes it input k of node `node`. */
static mlc_status set_const_input(struct ir_graph *g, int node, int k, const int64_t *v, int nv,
                                  mlc_error *err)
{
    int t;
    int64_t dims[1] = {nv};
    mlc_status st = ir_add_tensor(g, NULL, MLC_DTYPE_I64, 1, dims, &t, err);
    if (st) return st;
    int64_t *d = mlc_alloc((size_t)nv * sizeof *d + 8);
    if (!d) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory folding shapes");
    memcpy(d, v, (size_t)nv * sizeof *d);
    ir_tensor_set_data(&g->tensors[t], MLC_DTYPE_I64, 1, dims, d);
    g->nodes[node].in[k] = t;
    return MLC_OK;
}

/* A Shape whose every consumer Gathers elements (non-negative constant
 * indices) that are the same dims of one graph input reads that input
 * instead: the integer chain then no longer waits for the tensor. vit's
 * class-token broadcast reads the batch from the patch embedding's output,
 * which kept the oneDNN partition cut there. */
static void retarget_shape(const struct eng_symfold *s, struct ir_graph *g, int node)
{
    struct ir_node *n = &g->nodes[node];
    int t = n->in[0], o = n->out[0], u = -1;
    if (n->n_in < 1 || t < 0 || n->n_out < 1 || o < 0 || ir_attr_find(n, "start") ||
        ir_attr_find(n, "end") || (g->tensors[t].flags & IR_TENSOR_INPUT) ||
        (g->tensors[o].flags & IR_TENSOR_OUTPUT))
        return;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct ir_node *m = &g->nodes[i];
        int64_t iv[MLC_MAX_RANK];
        if (m->dead) continue;
        for (int k = 0; k < m->n_in; k++) {
            if (m->in[k] != o) continue;
            int ni = m->op == IR_OP_Gather && k == 0 && ir_attr_int(m, "axis", 0) == 0
                         ? const_ints(s, g, m, 1, iv)
                         : -1;
            if (ni < 1) return;
            for (int j = 0; j < ni; j++) {
                if (iv[j] < 0 || iv[j] >= MLC_MAX_RANK) return;
                struct sym_el e = dim_of(s, g, t, (int)iv[j]);
                if (e.sym <= 0 || e.a != 1 || e.b != 0) return;
                int v = (e.sym - 1) / MLC_MAX_RANK, d = (e.sym - 1) % MLC_MAX_RANK;
                if (d != iv[j] || !(g->tensors[v].flags & IR_TENSOR_INPUT) || (u >= 0 && v != u))
                    return;
                u = v;
            }
        }
    }
    if (u >= 0) n->in[0] = u;
}

mlc_status eng_symfold_rewrite(struct eng_symfold *s, struct ir_graph *g, int node, mlc_error *err)
{
    const struct ir_node *n = &g->nodes[node];
    if (n->op == IR_OP_Shape) {
        retarget_shape(s, g, node);
        return MLC_OK;
    }
    struct sym_val v;
    struct sym_el od[MLC_MAX_RANK];
    int64_t out[MLC_MAX_RANK];
    if ((n->op != IR_OP_Reshape && n->op != IR_OP_Expand) || n->n_in < 2 || n->in[0] < 0 ||
        n->in[1] < 0 || n->n_out < 1 || n->out[0] < 0 || g->tensors[n->in[1]].data ||
        g->tensors[n->in[1]].rank != 1 || !get(s, g, n->in[1], &v))
        return MLC_OK;
    const struct ir_tensor *x = &g->tensors[n->in[0]];
    int r = out_dims(s, g, n, &v, od);
    if (r < 0) return MLC_OK;
    if (n->op == IR_OP_Reshape) {
        int free_at = -1;
        if (ir_attr_int(n, "allowzero", 0)) return MLC_OK;
        for (int i = 0; i < r; i++) {
            struct sym_el xd = dim_of(s, g, n->in[0], i);
            if (od[i].sym == EL_CONST) {
                if (od[i].b < 1) return MLC_OK; /* 0 cannot be written with allowzero = 0 */
                out[i] = od[i].b;
            } else if (i < x->rank && el_same(&od[i], &xd)) {
                /* The input's own dim i: 0 copies it, whatever its value. */
                out[i] = 0;
            } else {
                if (free_at >= 0) return MLC_OK; /* two free extents */
                free_at = i;
                out[i] = -1;
            }
        }
        /* -1 is count / (the other extents): exact when those are constants
         * > 0 (never a copy, which could be 0 at run time). */
        for (int i = 0; free_at >= 0 && i < r; i++)
            if (i != free_at && od[i].sym != EL_CONST) return MLC_OK;
        return set_const_input(g, node, 1, out, r, err);
    }
    /* Expand: a constant output extent is the target; the input's own extent
     * is a 1 (broadcasting 1 against it gives it). */
    for (int j = 0; j < v.n; j++) {
        int i = j + (r - v.n), q = i - (r - x->rank);
        struct sym_el xd = q >= 0 ? dim_of(s, g, n->in[0], q) : unknown();
        if (od[i].sym == EL_CONST && od[i].b >= 0)
            out[j] = od[i].b;
        else if (q >= 0 && el_same(&od[i], &xd))
            out[j] = 1;
        else
            return MLC_OK;
    }
    return set_const_input(g, node, 1, out, v.n, err);
}
