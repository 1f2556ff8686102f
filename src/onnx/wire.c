/*
 * wire.c - the few facts about an ONNX file that protobuf-c's unpack does not
 * give: where each initializer's raw_data lies in the file, and a copy of the
 * file without the raw_data of chosen initializers (so that unpacking it does
 * not copy weights a packed-weights cache already holds).
 *
 * It reads protobuf's wire format directly, but only the path ModelProto
 * .graph (field 7) -> GraphProto.initializer (5) -> TensorProto .name (8) and
 * .raw_data (9); every other field is skipped or copied as bytes. Anything
 * unexpected (a group, a truncated field, a graph given twice, which
 * protobuf would merge) makes it decline, and the caller loads the file the
 * ordinary way: this file never decides that a model is invalid.
 *
 * Not here: validation of the values (load.c does it on the unpacked
 * message), reading the weights themselves.
 */
#include <string.h>

#include "onnx/onnx.h"

struct rd {
    const uint8_t *p, *end;
};

static int varint(struct rd *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int s = 0; s < 64; s += 7) {
        if (r->p >= r->end) return -1;
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* One field: its number, wire type and, for LEN fields, the payload. The
 * field's bytes are [*start, r->p) afterwards. */
static int field(struct rd *r, uint32_t *num, const uint8_t **pay, size_t *len)
{
    uint64_t key, v;
    if (varint(r, &key) || key >> 35) return -1;
    *num = (uint32_t)(key >> 3);
    *pay = NULL;
    *len = 0;
    switch (key & 7) {
    case 0:
        return varint(r, &v);
    case 1:
        if (r->end - r->p < 8) return -1;
        r->p += 8;
        return 0;
    case 5:
        if (r->end - r->p < 4) return -1;
        r->p += 4;
        return 0;
    case 2:
        if (varint(r, &v) || v > (uint64_t)(r->end - r->p)) return -1;
        *pay = r->p;
        *len = (size_t)v;
        r->p += v;
        return 0;
    default: /* groups (3, 4) are not used by onnx.proto */
        return -1;
    }
}

/* Calls each(ctx, ordinal, tensor bytes) for every initializer of the one
 * graph; -1 when the file is not the shape described above. */
static int each_initializer(const uint8_t *b, size_t n,
                            int (*each)(void *, int, const uint8_t *, size_t), void *ctx)
{
    struct rd m = {b, b + n};
    const uint8_t *gp = NULL;
    size_t gl = 0;
    while (m.p < m.end) {
        uint32_t num;
        const uint8_t *pay;
        size_t len;
        if (field(&m, &num, &pay, &len)) return -1;
        if (num == 7) {
            if (gp || !pay) return -1;
            gp = pay, gl = len;
        }
    }
    if (!gp) return -1;
    struct rd g = {gp, gp + gl};
    int ord = 0;
    while (g.p < g.end) {
        uint32_t num;
        const uint8_t *pay;
        size_t len;
        if (field(&g, &num, &pay, &len)) return -1;
        if (num == 5) {
            if (!pay || each(ctx, ord++, pay, len)) return -1;
        }
    }
    return 0;
}

struct span_ctx {
    const uint8_t *base;
    struct onnx_span *out;
    int cap, n;
};

static int span_of(void *vc, int ord, const uint8_t *t, size_t tl)
{
    struct span_ctx *c = vc;
    struct rd r = {t, t + tl};
    struct onnx_span s = {0};
    s.ordinal = ord;
    while (r.p < r.end) {
        uint32_t num;
        const uint8_t *pay;
        size_t len;
        if (field(&r, &num, &pay, &len)) return -1;
        if (num == 8 && pay) s.name = (const char *)pay, s.name_len = len;
        if (num == 9 && pay) {
            if (s.off) return -1; /* twice: protobuf's last-one-wins is not worth following */
            s.off = (int64_t)(pay - c->base), s.len = len;
        }
    }
    if (!s.len) return 0;
    if (c->n == c->cap) {
        int nc = c->cap ? c->cap * 2 : 64;
        struct onnx_span *p = mlc_realloc(c->out, (size_t)nc * sizeof *p);
        if (!p) return -1;
        c->out = p, c->cap = nc;
    }
    c->out[c->n++] = s;
    return 0;
}

int onnx_raw_spans(const void *bytes, size_t n, struct onnx_span **spans_out)
{
    struct span_ctx c = {bytes, NULL, 0, 0};
    if (each_initializer(bytes, n, span_of, &c)) {
        mlc_free(c.out);
        *spans_out = NULL;
        return -1;
    }
    *spans_out = c.out;
    return c.n;
}

/* ---- the copy without chosen raw_data --------------------------------------- */

static size_t put_varint(uint8_t *o, uint64_t v)
{
    size_t k = 0;
    while (v >= 0x80) o[k++] = (uint8_t)(v | 0x80), v >>= 7;
    o[k++] = (uint8_t)v;
    return k;
}

static size_t varint_len(uint64_t v)
{
    size_t k = 1;
    while (v >= 0x80) v >>= 7, k++;
    return k;
}

/* The skipped spans, by file offset of their raw_data (sorted by ordinal,
 * hence by offset). */
struct strip {
    const uint8_t *base;
    const struct onnx_span *skip;
    int n_skip;
};

static int skipped(const struct strip *s, const uint8_t *pay)
{
    int64_t off = (int64_t)(pay - s->base);
    int lo = 0, hi = s->n_skip - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (s->skip[mid].off == off) return 1;
        if (s->skip[mid].off < off)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return 0;
}

/* [p, p + n) at depth d (0 the model, 1 its graph, 2 an initializer)
 * without the skipped raw_data, into o (NULL: only counts). The graph and
 * its initializers get new lengths; everything else is copied as it is. */
static size_t rewrite(const struct strip *s, const uint8_t *p, size_t n, int d, uint8_t *o)
{
    static const uint32_t nested[2] = {7, 5}; /* ModelProto.graph, GraphProto.initializer */
    struct rd r = {p, p + n};
    size_t k = 0;
    while (r.p < r.end) {
        const uint8_t *start = r.p, *pay;
        uint32_t num;
        size_t len;
        (void)field(&r, &num, &pay, &len); /* each_initializer parsed it already */
        if (d == 2 && num == 9 && pay && skipped(s, pay)) continue;
        if (d < 2 && num == nested[d] && pay) {
            size_t in = rewrite(s, pay, len, d + 1, NULL);
            if (o) {
                o[k] = (uint8_t)(num << 3 | 2);
                size_t h = 1 + put_varint(o + k + 1, in);
                rewrite(s, pay, len, d + 1, o + k + h);
            }
            k += 1 + varint_len(in) + in;
            continue;
        }
        if (o) memcpy(o + k, start, (size_t)(r.p - start));
        k += (size_t)(r.p - start);
    }
    return k;
}

static int no_op(void *c, int ord, const uint8_t *t, size_t tl)
{
    (void)c, (void)ord;
    struct rd r = {t, t + tl};
    while (r.p < r.end) {
        uint32_t num;
        const uint8_t *pay;
        size_t len;
        if (field(&r, &num, &pay, &len)) return -1;
    }
    return 0;
}

int onnx_strip_raw(const void *bytes, size_t n, const struct onnx_span *skip, int n_skip,
                   uint8_t **out, size_t *out_len)
{
    struct strip s = {bytes, skip, n_skip};
    *out = NULL;
    *out_len = 0;
    for (int i = 1; i < n_skip; i++)
        if (skip[i].off <= skip[i - 1].off) return -1;
    /* Validates every level once, so that rewrite can trust it. */
    if (each_initializer(bytes, n, no_op, NULL)) return -1;
    size_t total = rewrite(&s, bytes, n, 0, NULL);
    uint8_t *o = mlc_alloc(total ? total : 1);
    if (!o) return -1;
    *out_len = rewrite(&s, bytes, n, 0, o);
    *out = o;
    return 0;
}
