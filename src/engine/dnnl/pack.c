/*
 * pack.c - a region's constants in the layouts its primitives ask for: the
 * logical (plain) layout of each constant as an op sees it, and packing
 * (one oneDNN reorder) into a primitive's preferred layout once per net,
 * shared read-only by every session (see dn.h, struct dn_const).
 *
 * Not here: which layout a primitive wants (region.c asks oneDNN).
 */
#include <stdio.h>
#include <string.h>

#include "engine/dnnl/dn.h"

void eng_dnnl_variant(const struct eng_backend_opts *o, char *buf, size_t n)
{
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, n, "dnnl %d.%d.%d %s isa %d %s", v->major, v->minor, v->patch, v->hash,
             (int)dnnl_get_effective_cpu_isa(),
             o->precision == MLC_PRECISION_BF16   ? "bf16"
             : o->precision == MLC_PRECISION_INT8 ? "int8"
                                                  : "f32");
}

const void *dn_cache_lookup(struct dn_ctx *c, const struct dn_const *k,
                            const dnnl_memory_desc_t *want)
{
    const void *md, *data;
    size_t md_size, nbytes;
    if (!c->pc || !k->src_name) return NULL;
    for (int i = 0;
         eng_pcache_find(c->pc, k->src_name, k->src_off, i, &md, &md_size, &data, &nbytes) == 0;
         i++) {
        dnnl_memory_desc_t cached;
        if (md_size != sizeof cached || ((uintptr_t)data & 63)) continue;
        memcpy(&cached, md, sizeof cached);
        if (!dnnl_memory_desc_equal(&cached, want) || nbytes != dnnl_memory_desc_get_size(want))
            continue;
        eng_pcache_hit(c->pc);
        return data;
    }
    return NULL;
}

void *dn_packed_find(const struct dn_packed *pk, int n, const dnnl_memory_desc_t *want)
{
    for (int i = 0; i < n; i++)
        if (dnnl_memory_desc_equal(&pk[i].md, want)) return pk[i].data;
    return NULL;
}

int dn_packed_grow(struct dn_packed **pk, int n)
{
    struct dn_packed *np = mlc_realloc(*pk, (size_t)(n + 1) * sizeof *np);
    if (!np) return -1;
    *pk = np;
    return 0;
}

/* A lazy constant's packed form in layout want from the cache, as a packed
 * variant of k (the mapping outlives the net). 0 when found. */
static int from_cache(struct dn_ctx *c, struct dn_const *k, const dnnl_memory_desc_t *want)
{
    const void *data = dn_cache_lookup(c, k, want);
    if (!data || dn_packed_grow(&k->pk, k->n_pk)) return -1;
    k->pk[k->n_pk++] = (struct dn_packed){*want, (void *)data, NULL}; /* the cache's mapping */
    return 0;
}

/* A lazy constant's plain bytes, read from the model file (no cache entry
 * has the layout a primitive asks for, or int8 quantizes them). */
dnnl_status_t dn_const_load(struct dn_ctx *c, struct dn_const *k)
{
    void *d = mlc_alloc(k->src_len + 64);
    if (!d) return dnnl_out_of_memory;
    if (eng_pcache_read_src(c->pc, k->src_off, k->src_len, d)) {
        mlc_free(d);
        return dnnl_runtime_error;
    }
    k->data = d;
    k->lazy = 0;
    return dnnl_success;
}

dnnl_format_tag_t dn_plain_tag(int rank)
{
    static const dnnl_format_tag_t t[] = {
        dnnl_format_tag_undef, dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde, dnnl_abcdef};
    return rank >= 1 && rank <= 6 ? t[rank] : dnnl_format_tag_undef;
}

/* Logical (plain) md of a constant as a primitive sees it. */
void dn_const_md(const struct dn_ctx *c, const struct dn_op *op, int cid, int rank_as,
                 dnnl_memory_desc_t *md)
{
    const struct dn_const *k = &c->consts[cid];
    dnnl_dims_t d;
    if (op->kind == DN_CONV && cid == op->w && op->group > 1) {
        d[0] = op->group;
        d[1] = k->dims[0] / op->group;
        d[2] = k->dims[1];
        d[3] = k->dims[2];
        d[4] = k->dims[3];
        dnnl_memory_desc_init_by_tag(md, 5, d, dnnl_f32, dnnl_goihw);
    } else if (op->kind == DN_CONV && cid == op->b && rank_as == 4) {
        /* An int8 convolution's bias, added by a binary post-op (q8.c). */
        d[0] = 1, d[1] = k->dims[0], d[2] = 1, d[3] = 1;
        dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, dnnl_abcd);
    } else if (op->kind == DN_IP && cid == op->w && !op->trans_b) {
        d[0] = k->dims[1];
        d[1] = k->dims[0];
        dnnl_memory_desc_init_by_tag(md, 2, d, dnnl_f32, dnnl_ba);
    } else if (op->kind == DN_MATMUL && cid == op->w && op->trans_b) {
        /* Gemm's [N, K] weights seen as the [K, N] operand (leading 1s). */
        int r = rank_as > 2 ? rank_as : 2;
        dnnl_dims_t st;
        for (int i = 0; i < r - 2; i++) d[i] = 1, st[i] = k->dims[0] * k->dims[1];
        d[r - 2] = k->dims[1], st[r - 2] = 1;
        d[r - 1] = k->dims[0], st[r - 1] = k->dims[1];
        dnnl_memory_desc_init_by_strides(md, r, d, dnnl_f32, st);
    } else {
        int pad = rank_as > k->rank ? rank_as - k->rank : 0;
        for (int i = 0; i < pad; i++) d[i] = 1;
        for (int i = 0; i < k->rank; i++) d[pad + i] = k->dims[i];
        dnnl_memory_desc_init_by_tag(md, pad + k->rank, d, dnnl_f32, dn_plain_tag(pad + k->rank));
    }
}

void dn_spare_free(struct dn_spare *spare)
{
    mlc_free(spare->raw);
    spare->raw = NULL;
    spare->cap = 0;
}

static void *align64(void *p)
{
    return p ? (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63) : NULL;
}

dnnl_status_t dn_reorder_run(dnnl_engine_t eng, const dnnl_memory_desc_t *smd, void *src,
                             const dnnl_memory_desc_t *dmd, void *dst)
{
    dnnl_memory_t ms = NULL, md = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t p = NULL;
    dnnl_stream_t strm = NULL;
    dnnl_status_t r = dnnl_memory_create(&ms, smd, eng, src);
    if (r == dnnl_success) r = dnnl_memory_create(&md, dmd, eng, dst);
    if (r == dnnl_success) r = dnnl_reorder_primitive_desc_create(&pd, smd, eng, dmd, eng, NULL);
    if (r == dnnl_success) r = dnnl_primitive_create(&p, pd);
    if (r == dnnl_success) r = dnnl_stream_create(&strm, eng, dnnl_stream_default_flags);
    if (r == dnnl_success) {
        dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, ms}, {DNNL_ARG_TO, md}};
        r = dnnl_primitive_execute(p, strm, 2, a);
        if (r == dnnl_success) r = dnnl_stream_wait(strm);
    }
    if (strm) dnnl_stream_destroy(strm);
    if (p) dnnl_primitive_destroy(p);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (ms) dnnl_memory_destroy(ms);
    if (md) dnnl_memory_destroy(md);
    return r;
}

/* Data of constant cid in layout want (packing it once per net). The
 * reorder runs outside c->lock (binds pack different constants on several
 * threads, see run_jobs); k->busy keeps one packer per constant, others wait
 * on c->cond. */
dnnl_status_t dn_const_get(struct dn_ctx *c, const struct dn_op *op, int cid,
                           const dnnl_memory_desc_t *want, struct dn_spare *spare, void **data_out)
{
    struct dn_const *k = &c->consts[cid];
    dnnl_memory_desc_t logical;
    dnnl_status_t r = dnnl_success;
    void *raw = NULL;
    dn_const_md(c, op, cid, want->ndims, &logical);
    pthread_mutex_lock(&c->lock);
    while (k->busy) pthread_cond_wait(&c->cond, &c->lock);
    if (k->lazy && k->n_pk == 0 && from_cache(c, k, want) == 0) {
        *data_out = k->pk[k->n_pk - 1].data;
        goto out;
    }
    if (k->lazy && k->n_pk == 0 && (r = dn_const_load(c, k)) != dnnl_success) goto out;
    if (k->data && dnnl_memory_desc_equal(&logical, want)) {
        *data_out = k->data;
        k->n_pk_plain_users++;
        goto out;
    }
    if ((*data_out = dn_packed_find(k->pk, k->n_pk, want))) goto out;
    if (dn_packed_grow(&k->pk, k->n_pk)) {
        r = dnnl_out_of_memory;
        goto out;
    }
    k->busy = 1;
    /* Only this thread changes k now: its source stays put unlocked. */
    const dnnl_memory_desc_t *smd = k->data ? &logical : &k->pk[0].md;
    void *sdata = k->data ? (void *)k->data : k->pk[0].data;
    /* The packed copy goes into the packer's spare buffer when that is large
     * enough (struct dn_spare), else into a fresh one. */
    size_t n = dnnl_memory_desc_get_size(want);
    pthread_mutex_unlock(&c->lock);
    if (spare && spare->raw && spare->cap >= n + 64) {
        raw = spare->raw;
        /* The rest of it stays allocated but need not stay resident. */
        core_drop_pages((char *)align64(raw) + n,
                        spare->cap - n - (size_t)((char *)align64(raw) - (char *)raw));
        spare->raw = NULL;
        spare->cap = 0;
    } else {
        raw = mlc_alloc(n + 64);
        if (!raw) r = dnnl_out_of_memory;
        core_prefault(raw, n + 64, c->threads);
    }
    void *dst = align64(raw);
    /* Worth a cache entry: packed straight from the initializer's bytes as
     * the file has them (no pass changed them). Checked before the reorder,
     * while the plain bytes are intact. */
    int cache_it = c->pc && k->src_name && k->data && k->n_pk == 0 &&
                   eng_pcache_same_src(c->pc, k->src_off, k->src_len, k->data) == 0;
    if (r == dnnl_success && dn_pack_blocked(smd, sdata, want, dst))
        r = dn_reorder_run(c->eng, smd, sdata, want, dst);
    pthread_mutex_lock(&c->lock);
    k->busy = 0;
    pthread_cond_broadcast(&c->cond);
    if (r != dnnl_success) goto out;
    k->pk[k->n_pk++] = (struct dn_packed){*want, dst, raw};
    raw = NULL;
    *data_out = dst;
    if (cache_it)
        eng_pcache_add(c->pc, k->src_name, k->src_off, k->src_len, want, sizeof *want, dst, n);
    /* The plain copy is no longer needed: any later layout is reordered
     * from the first packed one. (A primitive handed the plain data
     * directly keeps it: then k->data was returned above and n_pk may
     * still be 0 here; we only drop it when nothing binds it.) */
    if (k->data && !k->n_pk_plain_users) {
        /* Resident already: the packer's next spare, if the larger. */
        size_t cap = core_alloc_size(k->data);
        if (spare && (!spare->raw || cap > spare->cap)) {
            mlc_free(spare->raw);
            spare->raw = k->data;
            spare->cap = cap;
        } else {
            mlc_free(k->data);
        }
        k->data = NULL;
    }
out:
    pthread_mutex_unlock(&c->lock);
    mlc_free(raw);
    return r;
}
