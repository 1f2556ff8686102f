/*
 * packw.c - our own packing of 1x1 convolution weights into a layout
 * oneDNN's float32 kernels ask for, blocked by output channel (Acdb48a: for
 * each block of 48 output channels, every input channel's 48 weights side by
 * side, the last block padded with zeros).
 *
 * Why: oneDNN 2.6 packs them with a generic reorder that ran at 2.2 GB/s on
 * the Zen 4 (resnet50's 17 padded Acdb48a weights: 16.7 ms of a cold first
 * run's 27 ms of packing, docs/PERFORMANCE.md), where the 3x3 layouts ran at
 * 6.2. A block here is a transpose of N rows of the plain weights, done 16
 * input channels at a time so that the rows being read stay in L1.
 *
 * Not here: any other layout or data type (those go to oneDNN's reorder,
 * pack.c), which layout a primitive wants (region.c asks oneDNN).
 */
#include <omp.h>
#include <string.h>

#include "engine/dnnl/dn.h"

/* Output-channel block of the layout `want` is, for plain [O, I, 1, 1]
 * float32 weights of dims, or 0 when it is none the loop writes. */
static int oblock_of(const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *want)
{
    static const struct {
        int n;
        dnnl_format_tag_t tag;
    } tags[] = {{16, dnnl_Acdb16a}, {32, dnnl_Acdb32a}, {48, dnnl_Acdb48a}, {64, dnnl_Acdb64a}};
    dnnl_memory_desc_t m;
    if (src->ndims != 4 || src->data_type != dnnl_f32 || src->dims[2] != 1 || src->dims[3] != 1 ||
        want->data_type != dnnl_f32)
        return 0;
    if (dnnl_memory_desc_init_by_tag(&m, 4, src->dims, dnnl_f32, dnnl_abcd) != dnnl_success ||
        !dnnl_memory_desc_equal(&m, src))
        return 0;
    for (size_t k = 0; k < sizeof tags / sizeof tags[0]; k++)
        if (dnnl_memory_desc_init_by_tag(&m, 4, src->dims, dnnl_f32, tags[k].tag) == dnnl_success &&
            dnnl_memory_desc_equal(&m, want))
            return tags[k].n;
    return 0;
}

int dn_pack_oblocked_any(const dnnl_memory_desc_t *src, const void *s,
                         const dnnl_memory_desc_t *want, void *d)
{
    int blk = oblock_of(src, want);
    if (!blk) return -1;
    const int64_t O = src->dims[0], I = src->dims[1], nob = (O + blk - 1) / blk;
    const float *x = s;
    float *y = d;
#pragma omp parallel for schedule(static) if (nob > 1 && O * I > (1 << 16))
    for (int64_t ob = 0; ob < nob; ob++) {
        float *yb = y + ob * I * blk;
        int64_t on = O - ob * blk < blk ? O - ob * blk : blk;
        for (int64_t i0 = 0; i0 < I; i0 += 16) {
            int64_t in = I - i0 < 16 ? I - i0 : 16;
            for (int64_t o = 0; o < on; o++) {
                const float *xr = x + (ob * blk + o) * I + i0;
                for (int64_t i = 0; i < in; i++) yb[(i0 + i) * blk + o] = xr[i];
            }
            for (int64_t o = on; o < blk; o++)
                for (int64_t i = 0; i < in; i++) yb[(i0 + i) * blk + o] = 0.0f;
        }
    }
    return 0;
}

/* Only Acdb48a in the net: `mlc_micro_dnnl 13` had the loop at 5x oneDNN's
 * reorder over resnet50's eight 1x1 shapes there (0.98 against 4.89 ms, one
 * thread), but at 0.75x for Acdb64a (1.42 against 1.88: slower on 2048x512,
 * whose writes stride 64 floats), which oneDNN's reorder packs fast enough. */
int dn_pack_oblocked(const dnnl_memory_desc_t *src, const void *s, const dnnl_memory_desc_t *want,
                     void *d)
{
    return oblock_of(src, want) == 48 ? dn_pack_oblocked_any(src, s, want, d) : -1;
}
