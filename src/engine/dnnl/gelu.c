/*
 * gelu.c - GELU, x * Phi(x) = x / 2 * (1 + erf(x / sqrt 2)), in place over a
 * bf16 buffer: the activation after the first matmul of every transformer
 * MLP (vit_b_16, convnext_tiny) in bf16, applied here after the oneDNN
 * matmul instead of as its eltwise_gelu_erf post-op.
 *
 * Why: on AMX, oneDNN 2.6.3's GELU post-op makes vit_b_16's fc1 (197x768
 * times 768x3072, bf16) 40-70% slower (`mlc_micro_dnnl 9`), about 0.5-0.7 ms
 * of each of its 12 layers. A bf16 value has 65536 possible bit patterns,
 * so GELU here is a table of all of them, made once per process in double
 * precision and rounded to nearest even: one gather per sixteen values, and
 * each result the correctly rounded GELU of its bf16 input. (The post-op
 * rounds once, from the float32 accumulator; this step sees the value
 * after oneDNN has rounded it to bf16, so results can differ by one bf16
 * step, well within bf16's agreement with float32.) 0 below x = -13, where
 * |GELU| < 1e-37; NaN stays the same NaN.
 *
 * Threads: OpenMP, split as silu.c's (dn_par_range); the table is built
 * under pthread_once and only read after.
 * Not here: float32 (oneDNN's post-op there costs about what a pass of
 * ours over the output would), which ops take this step (region.c,
 * own_act).
 */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/dnnl/dn.h"

/* Two entries past the last: the gather reads four bytes at each index. */
static uint16_t gelu_lut[65536 + 2];
static pthread_once_t gelu_once = PTHREAD_ONCE_INIT;

static void gelu_build(void)
{
    for (uint32_t i = 0; i < 65536; i++) {
        uint32_t b = i << 16;
        float x;
        memcpy(&x, &b, sizeof x);
        if (x != x) { /* NaN in, the same NaN out */
            gelu_lut[i] = (uint16_t)i;
            continue;
        }
        float y = x; /* +inf stays +inf */
        if (x < -13.0f)
            y = 0.0f;
        else if (!isinf(x))
            y = (float)(0.5 * (double)x * (1.0 + erf((double)x * 0.70710678118654752440)));
        memcpy(&b, &y, sizeof b);
        gelu_lut[i] = (uint16_t)((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define GELU_X86 1

__attribute__((target("avx512f,avx512bw,avx512vl"))) static void gelu_avx512(uint16_t *x, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512i idx = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, x + i));
        __m512i v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, gelu_lut, 2);
        _mm256_mask_storeu_epi16(x + i, m, _mm512_cvtepi32_epi16(v));
    }
}
#endif

static void gelu_part(void *arg, size_t a, size_t m)
{
    uint16_t *x = (uint16_t *)arg + a;
#ifdef GELU_X86
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl")) {
        gelu_avx512(x, m);
        return;
    }
#endif
    for (size_t i = 0; i < m; i++) x[i] = gelu_lut[x[i]];
}

void dn_gelu_bf16(uint16_t *x, size_t n)
{
    pthread_once(&gelu_once, gelu_build);
    dn_par_range(n, gelu_part, x);
}
