/*
 * gemm.c - matrix products: the blocked single-precision GEMM every dense
 * kernel uses (eng_sgemm), MatMul (batched, numpy broadcasting of batch
 * dims, optional fused bias as input 2 and activation) and Gemm (alpha,
 * beta, transposes, broadcast C). The GEMM works on 4 rows of C at a time
 * over blocks of K and N so B's block stays in cache and the inner j-loop
 * vectorises; it does not pack panels (a oneDNN region beats it anyway).
 * Threads split rows of C (MatMul: batch x M rows).
 */
#include <string.h>

#include "engine/ops/ops.h"

void eng_split(int64_t n, int ith, int nth, int64_t *b, int64_t *e)
{
    int64_t chunk = (n + nth - 1) / nth;
    *b = chunk * ith;
    *e = *b + chunk;
    if (*b > n) *b = n;
    if (*e > n) *e = n;
}

#define KB 256
#define NB 512

void eng_sgemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
               int64_t ldb, float *C, int64_t ldc, int accumulate)
{
    if (!accumulate)
        for (int64_t i = 0; i < M; i++) memset(C + i * ldc, 0, (size_t)N * sizeof(float));
    for (int64_t j0 = 0; j0 < N; j0 += NB) {
        int64_t jn = N - j0 < NB ? N - j0 : NB;
        for (int64_t k0 = 0; k0 < K; k0 += KB) {
            int64_t kn = K - k0 < KB ? K - k0 : KB;
            int64_t i = 0;
            for (; i + 4 <= M; i += 4) {
                float *restrict c0 = C + i * ldc + j0, *restrict c1 = c0 + ldc,
                                *restrict c2 = c1 + ldc, *restrict c3 = c2 + ldc;
                const float *a0 = A + i * lda + k0, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
                for (int64_t k = 0; k < kn; k++) {
                    const float *restrict b = B + (k0 + k) * ldb + j0;
                    float x0 = a0[k], x1 = a1[k], x2 = a2[k], x3 = a3[k];
                    for (int64_t j = 0; j < jn; j++) {
                        float bv = b[j];
                        c0[j] += x0 * bv;
                        c1[j] += x1 * bv;
                        c2[j] += x2 * bv;
                        c3[j] += x3 * bv;
                    }
                }
            }
            for (; i < M; i++) {
                float *restrict c0 = C + i * ldc + j0;
                const float *a0 = A + i * lda + k0;
                for (int64_t k = 0; k < kn; k++) {
                    const float *restrict b = B + (k0 + k) * ldb + j0;
                    float x0 = a0[k];
                    for (int64_t j = 0; j < jn; j++) c0[j] += x0 * b[j];
                }
            }
        }
    }
}

/* MatMul: A [..., M, K] x B [..., K, N] with broadcast batch dims. */
mlc_status eng_k_matmul(const struct eng_kctx *c, int ith, int nth)
{
    const mlc_tensor *a = &c->in[0], *b = &c->in[1], *o = &c->out[0];
    int ra = a->rank, rb = b->rank;
    int64_t M = ra == 1 ? 1 : a->dims[ra - 2], K = a->dims[ra - 1];
    int64_t N = rb == 1 ? 1 : b->dims[rb - 1];
    /* Batch shape = output dims without the matrix dims. */
    int orank = o->rank - (ra != 1) - (rb != 1);
    mlc_tensor ob = {0}, ab = {0}, bb = {0};
    ob.rank = orank;
    memcpy(ob.dims, o->dims, sizeof ob.dims);
    ab.rank = ra > 2 ? ra - 2 : 0;
    memcpy(ab.dims, a->dims, sizeof ab.dims);
    bb.rank = rb > 2 ? rb - 2 : 0;
    memcpy(bb.dims, b->dims, sizeof bb.dims);
    int64_t sa[MLC_MAX_RANK], sb[MLC_MAX_RANK];
    eng_bcast_strides(&ab, &ob, sa);
    eng_bcast_strides(&bb, &ob, sb);
    int64_t nbatch = ir_numel(orank, ob.dims);
    int64_t rows = nbatch * M, rbeg, rend;
    eng_split(rows, ith, nth, &rbeg, &rend);
    const float *bias = c->n_in > 2 && c->in[2].data ? c->in[2].data : NULL;
    for (int64_t r = rbeg; r < rend;) {
        int64_t bi = r / M, i0 = r % M;
        int64_t i1 = M < i0 + (rend - r) ? M : i0 + (rend - r);
        int64_t offa = 0, offb = 0, q = bi;
        for (int d = orank - 1; d >= 0; d--) {
            int64_t idx = ob.dims[d] ? q % ob.dims[d] : 0;
            q = ob.dims[d] ? q / ob.dims[d] : 0;
            offa += idx * sa[d];
            offb += idx * sb[d];
        }
        const float *A = (const float *)a->data + offa * M * K + i0 * K;
        const float *B = (const float *)b->data + offb * K * N;
        float *C = (float *)o->data + bi * M * N + i0 * N;
        eng_sgemm(i1 - i0, N, K, A, K, B, N, C, N, 0);
        for (int64_t i = 0; i < i1 - i0; i++) {
            if (bias)
                for (int64_t j = 0; j < N; j++) C[i * N + j] += bias[j];
            eng_apply_act(c->node->act, c->node->act_alpha, c->node->act_beta, C + i * N, N);
        }
        r += i1 - i0;
    }
    return MLC_OK;
}

/* Gemm: Y = alpha * op(A) op(B) + beta * C. Scratch holds op(B) when B is
 * transposed (B^T packed once per thread's call: cheap next to the product)
 * and op(A) rows when A is transposed. */
mlc_status eng_k_gemm(const struct eng_kctx *c, int ith, int nth)
{
    const struct ir_node *n = c->node;
    const mlc_tensor *a = &c->in[0], *b = &c->in[1], *o = &c->out[0];
    int ta = (int)ir_attr_int(n, "transA", 0), tb = (int)ir_attr_int(n, "transB", 0);
    float alpha = ir_attr_float(n, "alpha", 1.0f), beta = ir_attr_float(n, "beta", 1.0f);
    int64_t M = o->dims[0], N = o->dims[1], K = ta ? a->dims[0] : a->dims[1];
    int64_t rb, re;
    eng_split(M, ith, nth, &rb, &re);
    if (rb >= re) return MLC_OK;
    size_t per = (size_t)((ta ? M * K : 0) + (tb ? K * N : 0));
    float *scr = c->scratch ? (float *)c->scratch + (size_t)ith * per : NULL;
    const float *A = a->data, *B = b->data;
    int64_t lda = K;
    if (tb) {
        float *bt = scr + (ta ? M * K : 0);
        const float *bs = b->data; /* [N, K] */
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < N; j++) bt[k * N + j] = bs[j * K + k];
        B = bt;
    }
    if (ta) {
        float *at = scr;
        const float *as = a->data; /* [K, M] */
        for (int64_t i = rb; i < re; i++)
            for (int64_t k = 0; k < K; k++) at[i * K + k] = as[k * M + i];
        A = at;
    }
    float *Y = o->data;
    eng_sgemm(re - rb, N, K, A + rb * lda, lda, B, N, Y + rb * N, N, 0);
    const mlc_tensor *cc = c->n_in > 2 && c->in[2].data ? &c->in[2] : NULL;
    int64_t sc0 = 0, sc1 = 0;
    if (cc) {
        int64_t st[2];
        eng_bcast_strides(cc, o, st);
        sc0 = st[0], sc1 = st[1];
    }
    for (int64_t i = rb; i < re; i++) {
        float *y = Y + i * N;
        if (alpha != 1.0f)
            for (int64_t j = 0; j < N; j++) y[j] *= alpha;
        if (cc && beta != 0.0f) {
            const float *cv = (const float *)cc->data + i * sc0;
            for (int64_t j = 0; j < N; j++) y[j] += beta * cv[j * sc1];
        }
        eng_apply_act(n->act, n->act_alpha, n->act_beta, y, N);
    }
    return MLC_OK;
}
