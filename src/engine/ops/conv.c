/*
 * conv.c - Conv (1D/2D, groups, dilations, pads incl. auto_pad, fused bias +
 * activation) and the pooling family (MaxPool, AveragePool, GlobalAverage/
 * MaxPool). 1D is computed as 2D with height 1.
 *
 * Conv strategy: depthwise (group == C == M) runs a direct loop per channel;
 * 1x1/stride-1/no-pad convolutions multiply the weights by the input in
 * place; everything else builds an im2col tile of at most TILE output pixels
 * in the thread's scratch and multiplies (eng_sgemm). Threads split output
 * pixels (or channels for depthwise); each thread owns whole output elements,
 * so no reduction across threads.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "engine/ops/ops.h"

#define TILE 256

struct win {
    int64_t N, C, H, W, M, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group;
};

static void get_win(const struct eng_kctx *c, const mlc_tensor *w, struct win *p)
{
    const struct ir_node *n = c->node;
    const mlc_tensor *x = &c->in[0], *o = &c->out[0];
    int two = x->rank == 4;
    const int64_t *a;
    int na;
    memset(p, 0, sizeof *p);
    p->N = x->dims[0];
    p->C = x->dims[1];
    p->H = two ? x->dims[2] : 1;
    p->W = two ? x->dims[3] : x->dims[2];
    p->M = o->dims[1];
    p->OH = two ? o->dims[2] : 1;
    p->OW = two ? o->dims[3] : o->dims[2];
    if (w) {
        p->kh = two ? w->dims[2] : 1;
        p->kw = two ? w->dims[3] : w->dims[2];
    } else {
        na = ir_attr_ints(n, "kernel_shape", &a);
        p->kh = two ? a[0] : 1;
        p->kw = a[na - 1];
    }
    na = ir_attr_ints(n, "strides", &a);
    p->sh = na && two ? a[0] : 1;
    p->sw = na ? a[na - 1] : 1;
    na = ir_attr_ints(n, "dilations", &a);
    p->dh = na && two ? a[0] : 1;
    p->dw = na ? a[na - 1] : 1;
    p->group = ir_attr_int(n, "group", 1);
    /* Pads: recompute as eng_infer did (auto_pad or explicit). */
    const char *ap = ir_attr_str(n, "auto_pad", "NOTSET");
    int64_t ins[2] = {p->H, p->W}, k[2] = {p->kh, p->kw}, s[2] = {p->sh, p->sw},
            d[2] = {p->dh, p->dw}, pads[4] = {0, 0, 0, 0};
    if (strncmp(ap, "SAME", 4) == 0) {
        for (int i = 0; i < 2; i++) {
            int64_t out = (ins[i] + s[i] - 1) / s[i];
            int64_t tot = (out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - ins[i];
            if (tot < 0) tot = 0;
            int64_t small = tot / 2, big = tot - small;
            int upper = ap[5] == 'U';
            pads[i] = upper ? small : big;
            pads[i + 2] = upper ? big : small;
        }
        if (!two) pads[0] = pads[2] = 0;
    } else if (strcmp(ap, "VALID") != 0) {
        na = ir_attr_ints(n, "pads", &a);
        if (na == 4)
            pads[0] = a[0], pads[1] = a[1], pads[2] = a[2], pads[3] = a[3];
        else if (na == 2)
            pads[1] = a[0], pads[3] = a[1];
    }
    p->pt = pads[0], p->pl = pads[1], p->pb = pads[2], p->pr = pads[3];
}

static mlc_status conv_depthwise(const struct eng_kctx *c, const struct win *p, int ith, int nth)
{
    const float *X = c->in[0].data, *Wt = c->in[1].data;
    const float *bias = c->n_in > 2 && c->in[2].data ? c->in[2].data : NULL;
    float *Y = c->out[0].data;
    int64_t mult = p->M / p->C, b, e;
    eng_split(p->N * p->M, ith, nth, &b, &e);
    for (int64_t nm = b; nm < e; nm++) {
        int64_t nn = nm / p->M, m = nm % p->M, ch = m / mult;
        const float *x = X + (nn * p->C + ch) * p->H * p->W;
        const float *w = Wt + m * p->kh * p->kw;
        float *y = Y + nm * p->OH * p->OW;
        float b0 = bias ? bias[m] : 0.0f;
        for (int64_t oh = 0; oh < p->OH; oh++) {
            int64_t ih0 = oh * p->sh - p->pt;
            for (int64_t ow = 0; ow < p->OW; ow++) {
                int64_t iw0 = ow * p->sw - p->pl;
                float acc = b0;
                for (int64_t i = 0; i < p->kh; i++) {
                    int64_t ih = ih0 + i * p->dh;
                    if (ih < 0 || ih >= p->H) continue;
                    const float *xr = x + ih * p->W;
                    const float *wr = w + i * p->kw;
                    for (int64_t j = 0; j < p->kw; j++) {
                        int64_t iw = iw0 + j * p->dw;
                        if (iw >= 0 && iw < p->W) acc += xr[iw] * wr[j];
                    }
                }
                y[oh * p->OW + ow] = acc;
            }
        }
        eng_apply_act(c->node->act, c->node->act_alpha, c->node->act_beta, y, p->OH * p->OW);
    }
    return MLC_OK;
}

mlc_status eng_k_conv(const struct eng_kctx *c, int ith, int nth)
{
    struct win p;
    get_win(c, &c->in[1], &p);
    if (p.group == p.C && p.M % p.C == 0 && p.group > 1) return conv_depthwise(c, &p, ith, nth);
    const float *X = c->in[0].data, *Wt = c->in[1].data;
    const float *bias = c->n_in > 2 && c->in[2].data ? c->in[2].data : NULL;
    float *Y = c->out[0].data;
    int64_t Cg = p.C / p.group, Mg = p.M / p.group, K = Cg * p.kh * p.kw;
    int64_t P = p.OH * p.OW;
    int pointwise =
        p.kh == 1 && p.kw == 1 && p.sh == 1 && p.sw == 1 && !p.pt && !p.pl && !p.pb && !p.pr;
    /* Work items: (n, group, pixel tile). */
    int64_t ntiles = (P + TILE - 1) / TILE;
    int64_t items = p.N * p.group * ntiles, b, e;
    eng_split(items, ith, nth, &b, &e);
    float *col = c->scratch ? (float *)c->scratch + (size_t)ith * (size_t)(K * TILE) : NULL;
    for (int64_t it = b; it < e; it++) {
        int64_t t = it % ntiles, ng = it / ntiles, g = ng % p.group, nn = ng / p.group;
        int64_t p0 = t * TILE, pn = P - p0 < TILE ? P - p0 : TILE;
        const float *x = X + (nn * p.C + g * Cg) * p.H * p.W;
        const float *w = Wt + g * Mg * K;
        float *y = Y + (nn * p.M + g * Mg) * P + p0;
        if (pointwise) {
            eng_sgemm(Mg, pn, K, w, K, x + p0, P, y, P, 0);
        } else {
            for (int64_t ci = 0; ci < Cg; ci++)
                for (int64_t i = 0; i < p.kh; i++)
                    for (int64_t j = 0; j < p.kw; j++) {
                        float *cr = col + ((ci * p.kh + i) * p.kw + j) * pn;
                        const float *xc = x + ci * p.H * p.W;
                        for (int64_t q = 0; q < pn; q++) {
                            int64_t pix = p0 + q, oh = pix / p.OW, ow = pix % p.OW;
                            int64_t ih = oh * p.sh - p.pt + i * p.dh;
                            int64_t iw = ow * p.sw - p.pl + j * p.dw;
                            cr[q] = (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) ? xc[ih * p.W + iw]
                                                                                 : 0.0f;
                        }
                    }
            eng_sgemm(Mg, pn, K, w, K, col, pn, y, P, 0);
        }
        for (int64_t m = 0; m < Mg; m++) {
            float *yr = y + m * P;
            if (bias) {
                float bv = bias[g * Mg + m];
                for (int64_t q = 0; q < pn; q++) yr[q] += bv;
            }
            eng_apply_act(c->node->act, c->node->act_alpha, c->node->act_beta, yr, pn);
        }
    }
    return MLC_OK;
}

size_t eng_conv_scratch(const struct ir_node *n, int nth, const mlc_tensor *in)
{
    const mlc_tensor *w = &in[1];
    int64_t K = w->dims[1];
    for (int i = 2; i < w->rank; i++) K *= w->dims[i];
    return (size_t)nth * (size_t)K * TILE * sizeof(float);
}

static mlc_status pool(const struct eng_kctx *c, int ith, int nth, int is_max)
{
    struct win p;
    get_win(c, NULL, &p);
    const float *X = c->in[0].data;
    float *Y = c->out[0].data;
    int incl = (int)ir_attr_int(c->node, "count_include_pad", 0);
    int64_t b, e;
    eng_split(p.N * p.C, ith, nth, &b, &e);
    for (int64_t nc = b; nc < e; nc++) {
        const float *x = X + nc * p.H * p.W;
        float *y = Y + nc * p.OH * p.OW;
        for (int64_t oh = 0; oh < p.OH; oh++)
            for (int64_t ow = 0; ow < p.OW; ow++) {
                int64_t ih0 = oh * p.sh - p.pt, iw0 = ow * p.sw - p.pl;
                float acc = is_max ? -INFINITY : 0.0f;
                int64_t cnt = 0;
                for (int64_t i = 0; i < p.kh; i++) {
                    int64_t ih = ih0 + i * p.dh;
                    if (ih < 0 || ih >= p.H) continue;
                    for (int64_t j = 0; j < p.kw; j++) {
                        int64_t iw = iw0 + j * p.dw;
                        if (iw < 0 || iw >= p.W) continue;
                        float v = x[ih * p.W + iw];
                        if (is_max)
                            acc = v > acc ? v : acc;
                        else
                            acc += v;
                        cnt++;
                    }
                }
                if (!is_max) {
                    if (incl) {
                        /* Window clipped to the padded extent (ONNX). */
                        int64_t hs = ih0, he = ih0 + (p.kh - 1) * p.dh + 1;
                        int64_t ws = iw0, we = iw0 + (p.kw - 1) * p.dw + 1;
                        if (he > p.H + p.pb) he = p.H + p.pb;
                        if (we > p.W + p.pr) we = p.W + p.pr;
                        cnt = ((he - hs + p.dh - 1) / p.dh) * ((we - ws + p.dw - 1) / p.dw);
                    }
                    acc = cnt ? acc / (float)cnt : 0.0f;
                }
                y[oh * p.OW + ow] = acc;
            }
    }
    return MLC_OK;
}

mlc_status eng_k_maxpool(const struct eng_kctx *c, int ith, int nth)
{
    return pool(c, ith, nth, 1);
}
mlc_status eng_k_avgpool(const struct eng_kctx *c, int ith, int nth)
{
    return pool(c, ith, nth, 0);
}

static mlc_status gpool(const struct eng_kctx *c, int ith, int nth, int is_max)
{
    const mlc_tensor *x = &c->in[0];
    int64_t S = 1, b, e;
    for (int i = 2; i < x->rank; i++) S *= x->dims[i];
    eng_split(x->dims[0] * x->dims[1], ith, nth, &b, &e);
    const float *X = x->data;
    float *Y = c->out[0].data;
    for (int64_t i = b; i < e; i++) {
        const float *p = X + i * S;
        if (is_max) {
            float m = -INFINITY;
            for (int64_t k = 0; k < S; k++) m = p[k] > m ? p[k] : m;
            Y[i] = m;
        } else {
            double s = 0;
            for (int64_t k = 0; k < S; k++) s += p[k];
            Y[i] = S ? (float)(s / (double)S) : 0.0f;
        }
    }
    return MLC_OK;
}

mlc_status eng_k_globalavgpool(const struct eng_kctx *c, int ith, int nth)
{
    return gpool(c, ith, nth, 0);
}
mlc_status eng_k_globalmaxpool(const struct eng_kctx *c, int ith, int nth)
{
    return gpool(c, ith, nth, 1);
}
