/*
 * packw.c - our own packing of float32 weights from a plain (strided)
 * layout into a blocked layout a oneDNN primitive asked for: at most two
 * inner blocks, on different dimensions (Acdb48a for a 1x1 convolution,
 * Abcde16a for a depthwise one, BA16a64b for a matmul's weights, ...),
 * padding written as zeros.
 *
 * Why: pack.c made and ran one oneDNN reorder per weight. Making one costs
 * 0.05-0.6 ms the first time, more than packing a small weight takes
 * (mobilenet_v3_large has about a hundred of them), and oneDNN 2.6's
 * generic reorder packs Acdb48a at 1.6-3.2 GB/s on the Zen 4 (resnet50's
 * padded 1x1 weights: 16.7 ms of a cold first run's 27 ms of packing),
 * docs/PERFORMANCE.md.
 *
 * Not here: any other source or destination (a blocked source, bf16, int8,
 * extra flags: those stay oneDNN's reorder, pack.c), which layout a
 * primitive wants (region.c asks oneDNN).
 */
#include <omp.h>
#include <string.h>

#include "engine/dnnl/dn.h"

/* A packing: the destination is a sequence of tiles, one per outer
 * coordinate, each tile b0 x b1 elements (inner block 0 of dim d0 outer,
 * block 1 of dim d1 inner; a missing block is dim -1 of size 1). */
struct packing {
    int nd, d0, d1;
    int64_t b0, b1, tile, n_tiles;
    int64_t dims[DNNL_MAX_NDIMS], blk[DNNL_MAX_NDIMS], nout[DNNL_MAX_NDIMS];
    int64_t dstr[DNNL_MAX_NDIMS], sstr[DNNL_MAX_NDIMS];
    int order[DNNL_MAX_NDIMS]; /* dims by destination stride, largest first */
};

static int plain_f32(const dnnl_memory_desc_t *m)
{
    if (m->data_type != dnnl_f32 || m->format_kind != dnnl_blocked || m->offset0 != 0 ||
        m->extra.flags != 0 || m->format_desc.blocking.inner_nblks != 0)
        return 0;
    for (int d = 0; d < m->ndims; d++)
        if (m->padded_dims[d] != m->dims[d] || m->padded_offsets[d] != 0) return 0;
    return 1;
}

/* 0 and *p filled when the loop below writes want from src. */
static int plan_packing(const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *want,
                        struct packing *p)
{
    const dnnl_blocking_desc_t *b = &want->format_desc.blocking;
    if (!plain_f32(src) || want->data_type != dnnl_f32 || want->format_kind != dnnl_blocked ||
        want->offset0 != 0 || want->extra.flags != 0 || want->ndims != src->ndims ||
        want->ndims < 1 || want->ndims > DNNL_MAX_NDIMS || b->inner_nblks > 2)
        return -1;
    memset(p, 0, sizeof *p);
    p->nd = want->ndims;
    p->d0 = p->d1 = -1;
    p->b0 = p->b1 = 1;
    if (b->inner_nblks >= 1) {
        p->d1 = b->inner_idxs[b->inner_nblks - 1];
        p->b1 = b->inner_blks[b->inner_nblks - 1];
    }
    if (b->inner_nblks == 2) {
        p->d0 = b->inner_idxs[0];
        p->b0 = b->inner_blks[0];
        if (p->d0 == p->d1) return -1;
    }
    p->tile = p->b0 * p->b1;
    p->n_tiles = 1;
    int64_t total = 1;
    for (int d = 0; d < p->nd; d++) {
        p->dims[d] = want->dims[d];
        if (src->dims[d] != want->dims[d] || want->padded_offsets[d] != 0 || want->dims[d] < 1)
            return -1;
        p->blk[d] = d == p->d0 ? p->b0 : d == p->d1 ? p->b1 : 1;
        int64_t pd = want->padded_dims[d];
        if (pd % p->blk[d] || pd < p->dims[d] || (p->blk[d] == 1 && pd != p->dims[d])) return -1;
        p->nout[d] = pd / p->blk[d];
        p->dstr[d] = b->strides[d];
        p->sstr[d] = src->format_desc.blocking.strides[d];
        p->n_tiles *= p->nout[d];
        total *= pd;
        p->order[d] = d;
    }
    if ((size_t)total * sizeof(float) != dnnl_memory_desc_get_size(want)) return -1;
    for (int i = 1; i < p->nd; i++)
        for (int k = i; k > 0 && p->dstr[p->order[k]] > p->dstr[p->order[k - 1]]; k--) {
            int t = p->order[k];
            p->order[k] = p->order[k - 1];
            p->order[k - 1] = t;
        }
    /* Dense and one-to-one: the tiles, innermost dim first, follow each
     * other with no gap or overlap (a dim of one tile may have any stride). */
    int64_t next = p->tile;
    for (int k = p->nd - 1; k >= 0; k--) {
        int d = p->order[k];
        if (p->nout[d] == 1) continue;
        if (p->dstr[d] != next) return -1;
        next *= p->nout[d];
    }
    return 0;
}

/* Tiles [t0, t1) of p, in destination order. The source is read along
 * its contiguous dim where one of the blocks' dims is not: within a tile
 * (block 0 contiguous in the source: a transposed matrix) or across up to
 * PANEL tiles along the tiles' innermost dim (a weight blocked on its
 * output channels), so that each source row read stays in L1 for the
 * next elements of that row. */
enum { PANEL = 16 };

static void pack_tiles(const struct packing *p, const float *x, float *y, int64_t t0, int64_t t1)
{
    int64_t c[DNNL_MAX_NDIMS];
    int64_t rest = t0;
    for (int k = p->nd - 1; k >= 0; k--) { /* coordinates of tile t0 */
        int d = p->order[k];
        c[d] = rest % p->nout[d];
        rest /= p->nout[d];
    }
    const int64_t s0 = p->d0 >= 0 ? p->sstr[p->d0] : 0, s1 = p->d1 >= 0 ? p->sstr[p->d1] : 0;
    /* q: the dim consecutive tiles step along, when its source is dense. */
    int q = -1;
    for (int k = p->nd - 1; k >= 0 && q < 0; k--)
        if (p->nout[p->order[k]] > 1) q = p->order[k];
    if (q >= 0 && (p->blk[q] != 1 || p->sstr[q] != 1)) q = -1;
    const int panel = s1 != 1 && p->d0 < 0 && q >= 0;
    for (int64_t t = t0; t < t1;) {
        int64_t yo = 0, xo = 0;
        for (int d = 0; d < p->nd; d++) {
            yo += c[d] * p->dstr[d];
            xo += c[d] * p->blk[d] * p->sstr[d];
        }
        int64_t n0 = p->d0 >= 0 ? p->dims[p->d0] - c[p->d0] * p->b0 : 1;
        int64_t n1 = p->d1 >= 0 ? p->dims[p->d1] - c[p->d1] * p->b1 : 1;
        n0 = n0 < p->b0 ? n0 : p->b0;
        n1 = n1 < p->b1 ? n1 : p->b1;
        float *yt = y + yo;
        const float *xt = x + xo;
        int64_t run = 1; /* tiles written by this pass */
        if (panel) {
            run = p->nout[q] - c[q];
            run = run < PANEL ? run : PANEL;
            run = run < t1 - t ? run : t1 - t;
            for (int64_t r1 = 0; r1 < n1; r1++)
                for (int64_t k = 0; k < run; k++) yt[k * p->tile + r1] = xt[r1 * s1 + k];
            for (int64_t k = 0; k < run && n1 < p->b1; k++)
                memset(yt + k * p->tile + n1, 0, (size_t)(p->b1 - n1) * sizeof *yt);
        } else if (s1 != 1 && s0 == 1) {
            if (n0 < p->b0 || n1 < p->b1) memset(yt, 0, (size_t)p->tile * sizeof *yt);
            for (int64_t r1 = 0; r1 < n1; r1++)
                for (int64_t r0 = 0; r0 < n0; r0++) yt[r0 * p->b1 + r1] = xt[r1 * s1 + r0];
        } else {
            for (int64_t r0 = 0; r0 < n0; r0++) {
                float *yr = yt + r0 * p->b1;
                const float *xr = xt + r0 * s0;
                if (s1 == 1)
                    memcpy(yr, xr, (size_t)n1 * sizeof *yr);
                else
                    for (int64_t r1 = 0; r1 < n1; r1++) yr[r1] = xr[r1 * s1];
                for (int64_t r1 = n1; r1 < p->b1; r1++) yr[r1] = 0.0f;
            }
            if (n0 < p->b0) memset(yt + n0 * p->b1, 0, (size_t)((p->b0 - n0) * p->b1) * sizeof *yt);
        }
        t += run;
        if (run > 1) c[q] += run - 1;          /* stays inside dim q: carried below */
        for (int k = p->nd - 1; k >= 0; k--) { /* the next tile's coordinates */
            int d = p->order[k];
            if (++c[d] < p->nout[d]) break;
            c[d] = 0;
        }
    }
}

int dn_pack_blocked_any(const dnnl_memory_desc_t *src, const void *s,
                        const dnnl_memory_desc_t *want, void *d)
{
    struct packing p;
    if (plan_packing(src, want, &p)) return -1;
    int64_t n = p.n_tiles * p.tile;
    int nt = n > (1 << 16) ? omp_get_max_threads() : 1;
    if (nt > p.n_tiles) nt = (int)p.n_tiles;
    if (nt <= 1) {
        pack_tiles(&p, s, d, 0, p.n_tiles);
        return 0;
    }
#pragma omp parallel num_threads(nt)
    {
        int64_t k = omp_get_thread_num(), m = omp_get_num_threads();
        pack_tiles(&p, s, d, p.n_tiles * k / m, p.n_tiles * (k + 1) / m);
    }
    return 0;
}

/* Which the net packs itself; the rest go to oneDNN's reorder, faster
 * once made (`mlc_micro_dnnl 13`): every weight up to 1 MiB, whose reorder
 * costs more to make (0.05-0.6 ms the first time) than ours takes to pack,
 * and Acdb48a at any size (4-7x oneDNN 2.6's reorder on resnet50's 1x1
 * shapes). */
int dn_pack_blocked(const dnnl_memory_desc_t *src, const void *s, const dnnl_memory_desc_t *want,
                    void *d)
{
    struct packing p;
    if (plan_packing(src, want, &p)) return -1;
    size_t bytes = (size_t)(p.n_tiles * p.tile) * sizeof(float);
    int ok = bytes <= ((size_t)1 << 20);
    if (!ok && p.nd == 4 && p.d0 < 0 && p.d1 == 0 && p.b1 == 48) ok = 1;
    return ok ? dn_pack_blocked_any(src, s, want, d) : -1;
}
