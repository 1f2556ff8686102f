/*
 * ops.h - helpers shared by the reference kernel families in src/engine/ops/.
 */
#ifndef MLC_ENGINE_OPS_H
#define MLC_ENGINE_OPS_H

#include "engine/kernels.h"

/* y[0..n) = act(y) for a fused activation. */
void eng_apply_act(enum ir_act act, float alpha, float beta, float *y, int64_t n);
/* Element strides of t broadcast to o's shape (0 on broadcast axes). */
void eng_bcast_strides(const mlc_tensor *t, const mlc_tensor *o, int64_t *st);
/* C[M,N] (row stride ldc) = A[M,K] (row stride lda) * B[K,N] (row stride ldb),
 * overwriting C when accumulate == 0, adding to it otherwise. */
void eng_sgemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
               int64_t ldb, float *C, int64_t ldc, int accumulate);
/* Splits [0, n) into nth near-equal ranges; returns range ith. */
void eng_split(int64_t n, int ith, int nth, int64_t *b, int64_t *e);

/* Scratch sizes (conv.c, reduce.c). */
size_t eng_conv_scratch(const struct ir_node *n, int nth, const mlc_tensor *in);
size_t eng_reduce_scratch(const mlc_tensor *out);

#endif
