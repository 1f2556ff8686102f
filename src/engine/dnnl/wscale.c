/*
 * wscale.c - an SE block's channel scale folded into the convolution that
 * reads it. Squeeze-and-excitation blocks (efficientnet, mobilenet_v3) end in
 * Mul(x, s) with x [1,C,H,W] and s [1,C,1,1], read only by a 1x1
 * convolution; conv(x * s) = conv'(x) with W'[o][c] = W[o][c] * s[c]. Early in
 * those nets C x H x W (the product's pass over memory) is far larger than
 * O x C (the weights), so at batch 1 region.c scales the packed weights into
 * a per-run copy instead of multiplying the activations.
 *
 * Not here: when to fold (region.c: batch 1, float32, O < H x W), and any
 * layout but the ones below (the caller then multiplies as before).
 */
#include "engine/dnnl/dn.h"

int dn_wscale_plan(const dnnl_memory_desc_t *w, const dnnl_memory_desc_t *s, struct dn_wscale *g)
{
    const dnnl_blocking_desc_t *wb = &w->format_desc.blocking, *sb = &s->format_desc.blocking;
    if (w->ndims != 4 || w->data_type != dnnl_f32 || w->format_kind != dnnl_blocked ||
        w->offset0 != 0 || w->dims[2] != 1 || w->dims[3] != 1 || w->padded_dims[1] != w->dims[1])
        return -1;
    /* Weights: o may be blocked (inner block on dim 0 only), c not. */
    if (wb->inner_nblks > 1 || (wb->inner_nblks == 1 && wb->inner_idxs[0] != 0)) return -1;
    g->blk = wb->inner_nblks ? wb->inner_blks[0] : 1;
    g->c = w->dims[1];
    g->n_ob = w->padded_dims[0] / g->blk;
    g->s_ob = wb->strides[0];
    g->s_c = wb->strides[1];
    if (g->n_ob * g->blk != w->padded_dims[0] || g->s_c < g->blk) return -1;
    /* The scale: its C floats one after the other (plain, channels-last or
     * channel-blocked all are, at 1x1). */
    if (s->ndims != 4 || s->data_type != dnnl_f32 || s->format_kind != dnnl_blocked ||
        s->offset0 != 0 || s->dims[0] != 1 || s->dims[1] != g->c || s->dims[2] != 1 ||
        s->dims[3] != 1)
        return -1;
    if (sb->inner_nblks == 0 && sb->strides[1] != 1) return -1;
    if (sb->inner_nblks == 1 && (sb->inner_idxs[0] != 1 || sb->strides[1] != sb->inner_blks[0]))
        return -1;
    if (sb->inner_nblks > 1) return -1;
    return 0;
}

void dn_wscale_run(const struct dn_wscale *g, const float *w, const float *s, float *out)
{
    for (int64_t ob = 0; ob < g->n_ob; ob++)
        for (int64_t c = 0; c < g->c; c++) {
            const float *src = w + ob * g->s_ob + c * g->s_c;
            float *dst = out + ob * g->s_ob + c * g->s_c, f = s[c];
            for (int64_t b = 0; b < g->blk; b++) dst[b] = src[b] * f;
        }
}
