/*
 * q8.c - int8 convolutions and linear layers (`--precision int8`): weights
 * quantized per output channel once per net (and kept in the packed-weights
 * cache: their scales and corrections, and each packed layout), activations
 * quantized per tensor at every run (a batch runs one image at a time, so
 * per image: src/engine/net.c).
 *
 * Why dynamic activations: oneDNN 2.6's convolutions fix their output scales
 * when the primitive is made (runtime scales are unimplemented for them), so
 * a static activation scale would need a calibration set the product does
 * not have, and an image brighter than the calibration clips. Instead each
 * run measures the source's largest |x|, quantizes with q = 255/max (u8,
 * sources known to be >= 0: after a ReLU) or 127/max (s8; a matmul's
 * signed source is shifted to u8 by 128 instead, see below), and the
 * convolution, made with output scales 1/qw[o] (the weights' own), gets 1/q
 * through a binary multiply post-op whose operand is a one-float tensor
 * written here; the bias is a binary add after it. The accumulation is exact
 * (s32); the error is the two roundings, at most half a step of each.
 *
 * Why the shift for matmuls: with an s8 source oneDNN 2.6 packs the weights
 * with their s8 compensation by a scalar reorder ("simple:any"), 270 ms of
 * vit_b_16's first run; u8 weights need none and pack by a JIT reorder. The
 * shifted source x + 128 is corrected by a per-channel add of -128 * the
 * channel's weight sum (times its scale) before the source's scale, exact
 * in the integers. Convolutions keep s8 sources: their zero padding would
 * read as -128 after a shift.
 *
 * Here: the per-channel weight quantization (symmetric, 127 steps) and its
 * packed layouts, and the per-run quantization of a float32 buffer (AVX-512
 * when the CPU has it, portable C otherwise), and the once-per-net choice of
 * which ops stay int8. Not here: which ops may run in int8 and the steps
 * around them (region.c).
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "engine/dnnl/dn.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define Q8_X86 1
#endif

static float absmax_range(const float *x, size_t m);
static void quant_range(const float *x, void *y, size_t m, float q, int mode);
static void quant_cols(const float *w, int8_t *q, int64_t rows, int64_t ld, int n, float *dq);

/* ---- weights ------------------------------------------------------------- */

/* v clamped to [lo, hi], NaN to lo (a float-to-int conversion of NaN is
 * undefined). Plain comparisons: fminf/fmaxf are library calls without
 * -ffast-math, and were most of a first run's time when the weights used
 * them. */
static inline float clampf(float v, float lo, float hi)
{
    v = v > lo ? v : lo;
    return v < hi ? v : hi;
}

static inline float maxf(float a, float b)
{
    return a > b ? a : b;
}

/* Rounds to nearest (even) for |v| < 2^22 with adds alone, which compilers
 * vectorize without SSE4.1's round instruction. */
static inline float round_near(float v)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    return v >= 0 ? (v + magic) - magic : (v - magic) + magic;
}

/* The layout descriptor under which the packed-weights cache keeps k's
 * scales and corrections (2 x channels floats): one no packing has, s32. */
static void scales_md(int64_t oc, dnnl_memory_desc_t *md)
{
    dnnl_dims_t d = {2 * oc};
    dnnl_memory_desc_init_by_tag(md, 1, d, dnnl_s32, dnnl_a);
}

/* Under c->lock, k not busy: k's s8 plain copy from its f32 plain data
 * (read from the model file when lazy), and its scales and corrections
 * unless it has them (from the packed-weights cache: the same numbers). The
 * f32 copy stays until dn_q8_commit (the op may still fall back to
 * float32). */
static dnnl_status_t quantize_weights(struct dn_ctx *c, struct dn_const *k, int axis)
{
    int was_lazy = k->lazy;
    if (k->lazy) {
        dnnl_status_t r = dn_const_load(c, k);
        if (r != dnnl_success) return r;
    }
    if (!k->data || k->rank < 2 || (axis == 1 && k->rank != 2)) return dnnl_invalid_arguments;
    /* Worth cache entries: the weights as the file has them (no pass
     * changed them), checked while the f32 bytes are at hand. */
    if (!k->q8_dq)
        k->q8_cache =
            c->pc && k->src_name &&
            (was_lazy || eng_pcache_same_src(c->pc, k->src_off, k->src_len, k->data) == 0);
    /* Output channel o's values: w[o * per + i] (axis 0: rows), or the
     * columns w[i * oc + o] of a [K, N] matrix (axis 1), taken 64 columns at
     * a time so that each row's piece is one contiguous read. */
    int64_t oc = k->dims[axis], per = 1;
    for (int d = 0; d < k->rank; d++)
        if (d != axis) per *= k->dims[d];
    float *dq = mlc_alloc((size_t)(2 * oc) * sizeof *dq);
    int8_t *q = mlc_alloc((size_t)(oc * per) + 64);
    if (!dq || !q) {
        mlc_free(dq);
        mlc_free(q);
        return dnnl_out_of_memory;
    }
    const float *w = k->data;
    int64_t blk = axis ? 64 : 1, n_blk = (oc + blk - 1) / blk;
#pragma omp parallel for schedule(static) if (oc * per > (1 << 16))
    for (int64_t ob = 0; ob < n_blk; ob++) {
        int64_t o0 = ob * blk, n = oc - o0 < blk ? oc - o0 : blk;
        if (!axis) {
            float m = absmax_range(w + o0 * per, (size_t)per), s = m > 0 ? 127.0f / m : 1.0f;
            dq[o0] = 1.0f / s;
            quant_range(w + o0 * per, q + o0 * per, (size_t)per, s, DN_Q8_S8);
        } else {
            quant_cols(w + o0, q + o0, per, oc, (int)n, dq + o0);
        }
    }
    k->q8_plain = q;
    if (k->q8_dq) { /* the cache's, equal */
        mlc_free(dq);
        return dnnl_success;
    }
    /* A shifted source's correction (DN_Q8_U8_SHIFT), per output channel:
     * dq[o] * -128 * sum of its quantized weights, exact in int64; a [K, N]
     * matrix's column sums gathered row by row (a column walk was 6% of
     * vit_b_16's first int8 run). */
    float *comp = dq + oc;
    int64_t *sum = mlc_calloc((size_t)oc, sizeof *sum);
    if (!sum) {
        mlc_free(dq);
        return dnnl_out_of_memory; /* q stays k's, freed with it */
    }
    if (axis) {
        for (int64_t i = 0; i < per; i++)
            for (int64_t o = 0; o < oc; o++) sum[o] += q[i * oc + o];
    } else {
        for (int64_t o = 0; o < oc; o++)
            for (int64_t i = 0; i < per; i++) sum[o] += q[o * per + i];
    }
    for (int64_t o = 0; o < oc; o++) comp[o] = dq[o] * (float)(-128 * sum[o]);
    mlc_free(sum);
    k->q8_dq = dq;
    k->q8_comp = comp;
    if (k->q8_cache) {
        dnnl_memory_desc_t smd;
        scales_md(oc, &smd);
        eng_pcache_add(c->pc, k->src_name, k->src_off, k->src_len, &smd, sizeof smd, dq,
                       (size_t)(2 * oc) * sizeof *dq);
    }
    return dnnl_success;
}

int dn_q8_decide(struct dn_ctx *c, int cid, int want)
{
    struct dn_const *k = &c->consts[cid];
    pthread_mutex_lock(&c->lock);
    if (!k->q8_state) k->q8_state = want ? 1 : -1;
    int yes = k->q8_state > 0;
    pthread_mutex_unlock(&c->lock);
    return yes;
}

dnnl_status_t dn_q8_make_prim(struct dn_ctx *c, const_dnnl_op_desc_t d,
                              const_dnnl_primitive_attr_t attr, dnnl_engine_t eng, int cid,
                              dnnl_primitive_desc_t *pd, int *retry)
{
    *retry = 0;
    dnnl_status_t r = dn_make_prim(d, attr, eng, pd, 1);
    if (r == dnnl_unimplemented && dn_q8_reject(c, cid)) {
        *retry = 1;
        return dnnl_success;
    }
    if (r == dnnl_unimplemented) r = dn_make_prim(d, attr, eng, pd, 0);
    if (r == dnnl_success) dn_q8_commit(c, cid);
    return r;
}

int dn_q8_reject(struct dn_ctx *c, int cid)
{
    struct dn_const *k = &c->consts[cid];
    pthread_mutex_lock(&c->lock);
    int ok = k->q8_state != 2;
    if (ok) k->q8_state = -1;
    pthread_mutex_unlock(&c->lock);
    return ok;
}

/* Under c->lock, once k is int8 for good: its float32 copy has no reader
 * left (partition.c gives each op its own constants; the s8 plain copy
 * makes every layout), unless a float32 primitive was handed it. */
static void drop_f32(struct dn_const *k)
{
    if (!k->n_pk_plain_users && !k->n_pk) {
        mlc_free(k->data);
        k->data = NULL;
    }
}

void dn_q8_commit(struct dn_ctx *c, int cid)
{
    struct dn_const *k = &c->consts[cid];
    pthread_mutex_lock(&c->lock);
    while (k->busy) pthread_cond_wait(&c->cond, &c->lock);
    k->q8_state = 2;
    if (k->q8_plain) drop_f32(k);
    pthread_mutex_unlock(&c->lock);
}

dnnl_status_t dn_q8_scales(struct dn_ctx *c, int cid, int axis, const float **dq)
{
    struct dn_const *k = &c->consts[cid];
    dnnl_status_t r = dnnl_success;
    pthread_mutex_lock(&c->lock);
    while (k->busy) pthread_cond_wait(&c->cond, &c->lock);
    if (!k->q8_dq) {
        dnnl_memory_desc_t smd;
        scales_md(k->dims[axis], &smd);
        const void *hit = k->lazy ? dn_cache_lookup(c, k, &smd) : NULL;
        k->q8_axis = axis;
        if (hit) { /* a cached net: its scales without reading the weights */
            k->q8_dq = (float *)hit;
            k->q8_comp = k->q8_dq + k->dims[axis];
            k->q8_mapped = 1;
            k->q8_cache = 1;
        } else {
            r = quantize_weights(c, k, axis);
        }
    }
    *dq = k->q8_dq;
    pthread_mutex_unlock(&c->lock);
    return r;
}

dnnl_status_t dn_const_get_q8(struct dn_ctx *c, const struct dn_op *op, int cid,
                              const dnnl_memory_desc_t *want, void **data_out)
{
    struct dn_const *k = &c->consts[cid];
    dnnl_status_t r = dnnl_success;
    void *raw = NULL;
    pthread_mutex_lock(&c->lock);
    while (k->busy) pthread_cond_wait(&c->cond, &c->lock);
    if (!k->q8_dq) r = dnnl_invalid_arguments; /* dn_q8_scales comes first */
    if (r != dnnl_success) goto out;
    if ((*data_out = dn_packed_find(k->q8_pk, k->n_q8_pk, want))) goto out;
    if (dn_packed_grow(&k->q8_pk, k->n_q8_pk)) {
        r = dnnl_out_of_memory;
        goto out;
    }
    const void *hit = k->q8_plain ? NULL : dn_cache_lookup(c, k, want);
    if (hit) {
        k->q8_pk[k->n_q8_pk++] = (struct dn_packed){*want, (void *)hit, NULL}; /* mapped */
        *data_out = (void *)hit;
        goto out;
    }
    /* A layout the cache lacks: the s8 plain copy (the file's weights once more). */
    if (!k->q8_plain && (r = quantize_weights(c, k, k->q8_axis)) != dnnl_success) goto out;
    k->busy = 1;
    pthread_mutex_unlock(&c->lock);
    /* The s8 weights as the primitive sees them (the float32 ones' logical
     * view: oihw, or a Gemm's [N, K] read as [K, N]), reordered into its
     * layout; the reorder adds the s8-source compensation when the layout
     * asks for it. */
    dnnl_memory_desc_t smd;
    dn_const_md(c, op, cid, want->ndims, &smd);
    smd.data_type = dnnl_s8; /* the same element strides over the s8 copy */
    size_t n = dnnl_memory_desc_get_size(want);
    raw = mlc_alloc(n + 64);
    void *dst = raw ? (void *)(((uintptr_t)raw + 63) & ~(uintptr_t)63) : NULL;
    r = raw ? dn_reorder_run(c->eng, &smd, k->q8_plain, want, dst) : dnnl_out_of_memory;
    pthread_mutex_lock(&c->lock);
    k->busy = 0;
    pthread_cond_broadcast(&c->cond);
    if (r != dnnl_success) goto out;
    k->q8_pk[k->n_q8_pk++] = (struct dn_packed){*want, dst, raw};
    raw = NULL;
    *data_out = dst;
    if (k->q8_cache)
        eng_pcache_add(c->pc, k->src_name, k->src_off, k->src_len, want, sizeof *want, dst, n);
    /* Read again for a layout the cache lacked, after dn_q8_commit. */
    if (k->q8_state == 2) drop_f32(k);
out:
    pthread_mutex_unlock(&c->lock);
    mlc_free(raw);
    return r;
}

void dn_q8_const_free(struct dn_const *k)
{
    for (int i = 0; i < k->n_q8_pk; i++) mlc_free(k->q8_pk[i].raw);
    mlc_free(k->q8_pk);
    if (!k->q8_mapped) mlc_free(k->q8_dq); /* q8_comp is in the same block */
    mlc_free(k->q8_plain);
}

/* ---- activations --------------------------------------------------------- */

/* The value range and offset of a mode (enum dn_q8_mode). */
static void mode_range(int mode, float *lo, float *hi, int *off)
{
    *lo = mode == DN_Q8_U8 ? 0.0f : -127.0f;
    *hi = mode == DN_Q8_U8 ? 255.0f : 127.0f;
    *off = mode == DN_Q8_U8_SHIFT ? 128 : 0;
}

#ifdef Q8_X86
__attribute__((target("avx512f"))) static float absmax_avx512(const float *x, size_t n)
{
    __m512 m = _mm512_setzero_ps();
    const __m512i abs = _mm512_set1_epi32(0x7fffffff);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) /* NaN in the first operand gives the second: NaNs are skipped */
        m = _mm512_max_ps(
            _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(x + i)), abs)),
            m);
    float r = _mm512_reduce_max_ps(m);
    for (; i < n; i++) r = maxf(fabsf(x[i]), r);
    return r;
}

__attribute__((target("avx512f,avx512bw"))) static void quant_avx512(const float *x, void *y,
                                                                     size_t n, float q, int mode)
{
    float flo, fhi;
    int off;
    mode_range(mode, &flo, &fhi, &off);
    const __m512 s = _mm512_set1_ps(q), lo = _mm512_set1_ps(flo), hi = _mm512_set1_ps(fhi);
    const __m512i o = _mm512_set1_epi32(off);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), s), lo), hi);
        /* round to nearest even (MXCSR's default), then the offset */
        __m512i k = _mm512_add_epi32(_mm512_cvtps_epi32(v), o);
        __m128i b = mode == DN_Q8_S8 ? _mm512_cvtsepi32_epi8(k) : _mm512_cvtusepi32_epi8(k);
        _mm_storeu_si128((__m128i *)((char *)y + i), b);
    }
    for (; i < n; i++) {
        int r = (int)round_near(clampf(x[i] * q, flo, fhi)) + off;
        if (mode == DN_Q8_S8)
            ((int8_t *)y)[i] = (int8_t)r;
        else
            ((uint8_t *)y)[i] = (uint8_t)r;
    }
}
#endif

static float absmax_range(const float *x, size_t m)
{
#ifdef Q8_X86
    if (__builtin_cpu_supports("avx512f")) return absmax_avx512(x, m);
#endif
    float r = 0;
    for (size_t i = 0; i < m; i++) r = maxf(fabsf(x[i]), r);
    return r;
}

static void quant_range(const float *x, void *y, size_t m, float q, int mode)
{
#ifdef Q8_X86
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
        quant_avx512(x, y, m, q, mode);
        return;
    }
#endif
    float lo, hi;
    int off;
    mode_range(mode, &lo, &hi, &off);
    for (size_t i = 0; i < m; i++) {
        int r = (int)round_near(clampf(x[i] * q, lo, hi)) + off;
        if (mode == DN_Q8_S8)
            ((int8_t *)y)[i] = (int8_t)r;
        else
            ((uint8_t *)y)[i] = (uint8_t)r;
    }
}

#ifdef Q8_X86
/* quant_cols for n <= 64 columns, 16 at a time under masks. */
__attribute__((target("avx512f"))) static void
quant_cols_avx512(const float *w, int8_t *q, int64_t rows, int64_t ld, int n, float *dq)
{
    const __m512i abs = _mm512_set1_epi32(0x7fffffff);
    const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    __m512 m[4], sc[4];
    __mmask16 k[4];
    int nv = (n + 15) / 16;
    for (int j = 0; j < nv; j++) {
        m[j] = _mm512_setzero_ps();
        k[j] = n - 16 * j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - 16 * j)) - 1);
    }
    for (int64_t i = 0; i < rows; i++)
        for (int j = 0; j < nv; j++) {
            __m512 v = _mm512_maskz_loadu_ps(k[j], w + i * ld + 16 * j);
            v = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), abs));
            m[j] = _mm512_max_ps(v, m[j]);
        }
    for (int j = 0; j < nv; j++) {
        float mm[16], ss[16];
        _mm512_storeu_ps(mm, m[j]);
        for (int t = 0; t < 16; t++) {
            ss[t] = mm[t] > 0 ? 127.0f / mm[t] : 1.0f;
            if (16 * j + t < n) dq[16 * j + t] = 1.0f / ss[t];
        }
        sc[j] = _mm512_loadu_ps(ss);
    }
    for (int64_t i = 0; i < rows; i++)
        for (int j = 0; j < nv; j++) {
            __m512 v = _mm512_maskz_loadu_ps(k[j], w + i * ld + 16 * j);
            v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, sc[j]), lo), hi);
            _mm512_mask_cvtsepi32_storeu_epi8(q + i * ld + 16 * j, k[j], _mm512_cvtps_epi32(v));
        }
}
#endif

/* Columns [0, n) of a rows x ld matrix (n <= 64): per column, the scale
 * that maps its largest |w| to 127, and w quantized with it. */
static void quant_cols(const float *w, int8_t *q, int64_t rows, int64_t ld, int n, float *dq)
{
#ifdef Q8_X86
    if (__builtin_cpu_supports("avx512f")) {
        quant_cols_avx512(w, q, rows, ld, n, dq);
        return;
    }
#endif
    float m[64] = {0}, sc[64];
    for (int64_t i = 0; i < rows; i++)
        for (int o = 0; o < n; o++) m[o] = maxf(fabsf(w[i * ld + o]), m[o]);
    for (int o = 0; o < n; o++) {
        sc[o] = m[o] > 0 ? 127.0f / m[o] : 1.0f;
        dq[o] = 1.0f / sc[o];
    }
    for (int64_t i = 0; i < rows; i++)
        for (int o = 0; o < n; o++)
            q[i * ld + o] = (int8_t)(int)round_near(clampf(w[i * ld + o] * sc[o], -127.0f, 127.0f));
}

/* Below this many values, one thread: a parallel region costs more. */
#define Q8_SERIAL      32768
#define Q8_MAX_THREADS 64

void dn_q8_quantize(const float *x, size_t n, void *y, int mode, float *dq_out)
{
    int nt = omp_get_max_threads();
    if (nt > Q8_MAX_THREADS) nt = Q8_MAX_THREADS;
    if (n <= Q8_SERIAL || nt < 1) nt = 1;
    /* whole 64-byte lines of the u8 side per thread */
    size_t chunk = ((n + (size_t)nt - 1) / (size_t)nt + 63) & ~(size_t)63;
    float part[Q8_MAX_THREADS] = {0};
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int t = 0; t < nt; t++) {
        size_t a = (size_t)t * chunk;
        if (a < n) part[t] = absmax_range(x + a, n - a < chunk ? n - a : chunk);
    }
    float m = 0;
    for (int t = 0; t < nt; t++) m = maxf(part[t], m);
    /* An all-zero source, or Inf or NaN in it: any finite scale will do
     * (the values saturate), 1. */
    if (!(m > 0) || !isfinite(m)) m = 1.0f;
    float q = (mode == DN_Q8_U8 ? 255.0f : 127.0f) / m;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int t = 0; t < nt; t++) {
        size_t a = (size_t)t * chunk;
        if (a < n) quant_range(x + a, (char *)y + a, n - a < chunk ? n - a : chunk, q, mode);
    }
    *dq_out = 1.0f / q;
}
