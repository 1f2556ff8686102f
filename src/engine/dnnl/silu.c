/*
 * silu.c - SiLU, x * sigmoid(x), over a float32 buffer in place: the
 * activation of every convolution of efficientnet-style nets, applied here
 * after the oneDNN convolution instead of as its eltwise_swish post-op.
 *
 * Why: oneDNN 2.6.3's swish costs 0.66-0.8 ns per element on one core here
 * (as a post-op or a primitive; its exp alone 0.39 ns), against 0.4 ms for
 * the whole 16->96 1x1 convolution at 112x112 it follows, so on
 * efficientnet_b0 the activations were a large part of the forward. This
 * one evaluates exp(-x) by a degree-6 polynomial after range reduction, and
 * 1 / (1 + e) by a reciprocal estimate and one Newton step: within 4e-7 of
 * x * sigmoid(x) relative, 0 below x = -88 where it is under 1e-36
 * (tests/dnnl/test_dnnl_region.c); 0.34 ns per element on one core over a
 * 1.2 M buffer here (the buffer's memory traffic, mostly), against oneDNN's
 * 0.66-0.8. Without AVX-512, the reference kernel's SiLU (ops/eltwise.c).
 *
 * Threads: OpenMP (the engine layer is compiled with -fopenmp; oneDNN
 * already runs on libgomp), with the count the region set on the calling
 * thread; dn_par_range, the split gelu.c shares, is here.
 * Not here: bf16 buffers (those keep oneDNN's post-op), and which ops take
 * this step (region.c, by output size against dn_silu_max).
 */
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/dnnl/dn.h"
#include "engine/ops/ops.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SILU_X86 1

__attribute__((target("avx512f"))) static void silu_avx512(float *x, size_t n)
{
    const __m512 log2e = _mm512_set1_ps(1.44269504f), ln2hi = _mm512_set1_ps(0.693359375f);
    const __m512 ln2lo = _mm512_set1_ps(-2.12194440e-4f), one = _mm512_set1_ps(1.0f);
    const __m512 two = _mm512_set1_ps(2.0f), lo = _mm512_set1_ps(-87.0f);
    const __m512 hi = _mm512_set1_ps(88.0f);
    const __m512 c2 = _mm512_set1_ps(1.0f / 2), c3 = _mm512_set1_ps(1.0f / 6);
    const __m512 c4 = _mm512_set1_ps(1.0f / 24), c5 = _mm512_set1_ps(1.0f / 120);
    const __m512 c6 = _mm512_set1_ps(1.0f / 720);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        /* e = exp(-v), -v clamped so that e stays finite and normal */
        __m512 t = _mm512_min_ps(_mm512_max_ps(_mm512_sub_ps(_mm512_setzero_ps(), v), lo), hi);
        __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(t, log2e),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m512 r = _mm512_fnmadd_ps(k, ln2hi, t);
        r = _mm512_fnmadd_ps(k, ln2lo, r);
        __m512 p = _mm512_fmadd_ps(c6, r, c5);
        p = _mm512_fmadd_ps(p, r, c4);
        p = _mm512_fmadd_ps(p, r, c3);
        p = _mm512_fmadd_ps(p, r, c2);
        p = _mm512_fmadd_ps(p, r, one);
        p = _mm512_fmadd_ps(p, r, one);
        __m512 d = _mm512_add_ps(_mm512_scalef_ps(p, k), one);
        __m512 y = _mm512_rcp14_ps(d);
        y = _mm512_mul_ps(y, _mm512_fnmadd_ps(d, y, two));
        /* Below -88, x * sigmoid(x) is under 1e-36 in magnitude: 0 (the
         * clamp would make x * e^-88 of a huge negative x). */
        __mmask16 tiny = _mm512_cmp_ps_mask(v, _mm512_sub_ps(_mm512_setzero_ps(), hi), _CMP_LT_OQ);
        _mm512_mask_storeu_ps(x + i, m, _mm512_maskz_mul_ps((__mmask16)~tiny, v, y));
    }
}
#endif

/* Below this many values, one thread: a parallel region costs more than it
 * saves. */
#define DN_PAR_SERIAL 32768

void dn_par_range(size_t n, void (*fn)(void *arg, size_t a, size_t m), void *arg)
{
    int nt = omp_get_max_threads();
    /* chunks of whole 64-byte lines of either element size */
    size_t chunk =
        n <= DN_PAR_SERIAL || nt < 2 ? n : ((n + (size_t)nt - 1) / (size_t)nt + 31) & ~(size_t)31;
    long parts = chunk ? (long)((n + chunk - 1) / chunk) : 0;
#pragma omp parallel for schedule(static) if (parts > 1)
    for (long j = 0; j < parts; j++) {
        size_t a = (size_t)j * chunk;
        fn(arg, a, n - a < chunk ? n - a : chunk);
    }
}

static void silu_part(void *arg, size_t a, size_t m)
{
    float *x = (float *)arg + a;
#ifdef SILU_X86
    if (__builtin_cpu_supports("avx512f")) {
        silu_avx512(x, m);
        return;
    }
#endif
    eng_apply_act(IR_ACT_SILU, 0, 0, x, (int64_t)m); /* the reference kernel's */
}

void dn_silu_f32(float *x, size_t n)
{
    dn_par_range(n, silu_part, x);
}

/* One number from a sysfs file ("32768K" and the like: K or M suffixes). */
static long long sysfs_size(const char *path)
{
    FILE *f = fopen(path, "r");
    long long v = -1;
    char unit = 0;
    if (!f) return -1;
    int n = fscanf(f, "%lld%c", &v, &unit);
    fclose(f);
    if (n < 1 || v < 0 || v > (1LL << 40)) return -1;
    return unit == 'K' ? v << 10 : unit == 'M' ? v << 20 : v;
}

size_t dn_silu_max(void)
{
#ifdef SILU_X86
    /* AMD family 19h (Zen 4; Zen 3 has no AVX-512, so no step to choose):
     * its AVX-512 runs in 256-bit halves, and oneDNN's swish post-op, a
     * polynomial per element inside the convolution, costs more there than
     * our step's second trip to memory over any output (efficientnet_b0 at
     * batch 8: 5-10% faster, docs/PERFORMANCE.md). Zen 5 and the Xeons keep
     * the cache rule below. */
    if (__builtin_cpu_is("amd") && __builtin_cpu_is("amdfam19h")) return SIZE_MAX;
#endif
    /* The last level of cpu0's caches, as Linux reports it for this VM
     * (sysconf's figure here is the whole socket's, 12x too large). */
    long long best = -1, best_level = 0;
    for (int i = 0; i < 8; i++) {
        char path[96];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        long long level = sysfs_size(path);
        if (level < 0) break;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        long long size = sysfs_size(path);
        if (level >= best_level && size > 0) best = size, best_level = level;
    }
    return best > 0 ? (size_t)(best / 4) : (size_t)8 << 20;
}
