/*
 * ops.c - geometry and colour operations for preprocessing: crop, channel
 * swap, grey, OpenCV-exact bilinear resizes (uint8 and float32), letterbox
 * and centre crop/pad.
 *
 * The resizes reproduce cv2.resize(..., INTER_LINEAR) of OpenCV 4.x
 * without IPP (Debian's build), arithmetic included:
 *   - source coordinate fx = (float)((dx + 0.5) * scale - 0.5) with
 *     scale = 1 / (dst / src) in double, sx = floor(fx), fx -= sx;
 *     left of the image sx = 0, fx = 0; at the right edge sx = W-1, fx = 0;
 *   - uint8: weights rounded to 11-bit fixed point (lrintf(w * 2048)),
 *     horizontal sums in int, vertical combination as OpenCV's uint8
 *     specialisation computes it: ((b0*(S0>>4))>>16) + ((b1*(S1>>4))>>16),
 *     then (+2)>>2. No area averaging even for large downscales, exactly as
 *     INTER_LINEAR (only an exact 2x shrink switches to area averaging,
 *     which for uint8 gives the same numbers and for float32 is done here
 *     as OpenCV does);
 *   - float32: weights 1-fx and fx in float, a*w0 + b*w1 per pass (the
 *     build uses -ffp-contract=off semantics of ISO C: no fused multiply-add).
 * Nothing here allocates more than the output and two row buffers.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "image/image.h"

mlc_status img_crop(const mlc_image *src, int x0, int y0, int x1, int y1, mlc_image **out,
                    mlc_error *err)
{
    /* numpy slice semantics: clamp into [0, size]. */
    x0 = x0 < 0 ? 0 : x0 > src->w ? src->w : x0;
    x1 = x1 < 0 ? 0 : x1 > src->w ? src->w : x1;
    y0 = y0 < 0 ? 0 : y0 > src->h ? src->h : y0;
    y1 = y1 < 0 ? 0 : y1 > src->h ? src->h : y1;
    if (x1 <= x0 || y1 <= y0)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                        "crop [%d:%d, %d:%d] of a %dx%d image is empty", y0, y1, x0, x1, src->w,
                        src->h);
    mlc_image *im = NULL;
    mlc_status st = img_new(x1 - x0, y1 - y0, &im, err);
    if (st) return st;
    for (int y = y0; y < y1; y++)
        memcpy(im->px + (size_t)(y - y0) * im->stride,
               src->px + (size_t)y * src->stride + 3 * (size_t)x0, im->stride);
    *out = im;
    return MLC_OK;
}

void img_swap_rb(mlc_image *im)
{
    for (int y = 0; y < im->h; y++) {
        uint8_t *r = im->px + (size_t)y * im->stride;
        for (int x = 0; x < im->w; x++) {
            uint8_t t = r[3 * x];
            r[3 * x] = r[3 * x + 2];
            r[3 * x + 2] = t;
        }
    }
}

void img_grayscale(mlc_image *im, int is_rgb)
{
    for (int y = 0; y < im->h; y++) {
        uint8_t *r = im->px + (size_t)y * im->stride;
        for (int x = 0; x < im->w; x++, r += 3) {
            uint8_t g = is_rgb ? img_grey_px(r[2], r[1], r[0]) : img_grey_px(r[0], r[1], r[2]);
            r[0] = r[1] = r[2] = g;
        }
    }
}

/* ---- Resize ------------------------------------------------------------- */

struct axis {
    int *ofs;  /* per output index: first source index (clamped) */
    float *w1; /* weight of ofs + 1 (the other is 1 - w1) */
    int edge;  /* first output index with no right neighbour (xmax) */
};

static void axis_free(struct axis *a)
{
    mlc_free(a->ofs);
    mlc_free(a->w1);
    a->ofs = NULL;
    a->w1 = NULL;
}

static mlc_status axis_make(int ssize, int dsize, int clamp_frac, struct axis *a, mlc_error *err)
{
    a->ofs = mlc_alloc(sizeof(int) * (size_t)dsize);
    a->w1 = mlc_alloc(sizeof(float) * (size_t)dsize);
    if (!a->ofs || !a->w1) {
        axis_free(a);
        return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory for resize tables");
    }
    double inv_scale = (double)dsize / ssize;
    double scale = 1. / inv_scale;
    a->edge = dsize;
    for (int d = 0; d < dsize; d++) {
        float f = (float)((d + 0.5) * scale - 0.5);
        int s = (int)floorf(f);
        f -= (float)s;
        if (clamp_frac) {
            /* Horizontal: OpenCV zeroes the fraction outside the image. */
            if (s < 0) f = 0, s = 0;
            if (s + 1 >= ssize) {
                if (d < a->edge) a->edge = d;
                if (s >= ssize - 1) f = 0, s = ssize - 1;
            }
        }
        a->ofs[d] = s;
        a->w1[d] = f;
    }
    return MLC_OK;
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Horizontal pass of one uint8 row into fixed-point ints. */
static void hresize_u8(const uint8_t *s, int *d, const struct axis *ax, const short *ia, int dw)
{
    for (int dx = 0; dx < dw; dx++) {
        const uint8_t *p = s + 3 * (size_t)ax->ofs[dx];
        if (dx < ax->edge) {
            int a0 = ia[2 * dx], a1 = ia[2 * dx + 1];
            for (int c = 0; c < 3; c++) d[3 * dx + c] = p[c] * a0 + p[c + 3] * a1;
        } else {
            for (int c = 0; c < 3; c++) d[3 * dx + c] = p[c] * 2048;
        }
    }
}

mlc_status img_resize(const mlc_image *src, int w, int h, mlc_image **out, mlc_error *err)
{
    if (w <= 0 || h <= 0)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "resize to an empty size %dx%d", w, h);
    if (w == src->w && h == src->h) return img_clone(src, out, err);
    mlc_status st = MLC_OK;
    mlc_image *im = NULL;
    struct axis ax = {0}, ay = {0};
    short *ia = NULL;
    int *r0 = NULL, *r1 = NULL;
    if ((st = img_new(w, h, &im, err))) goto fail;
    if ((st = axis_make(src->w, w, 1, &ax, err))) goto fail;
    if ((st = axis_make(src->h, h, 0, &ay, err))) goto fail;
    ia = mlc_alloc(sizeof(short) * 2 * (size_t)w);
    r0 = mlc_alloc(sizeof(int) * 3 * (size_t)w);
    r1 = mlc_alloc(sizeof(int) * 3 * (size_t)w);
    if (!ia || !r0 || !r1) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory resizing to %dx%d", w, h);
        goto fail;
    }
    for (int dx = 0; dx < w; dx++) {
        ia[2 * dx] = (short)lrintf((1.f - ax.w1[dx]) * 2048);
        ia[2 * dx + 1] = (short)lrintf(ax.w1[dx] * 2048);
    }
    int have0 = -1, have1 = -1;
    for (int dy = 0; dy < h; dy++) {
        int sy0 = clampi(ay.ofs[dy], 0, src->h - 1), sy1 = clampi(ay.ofs[dy] + 1, 0, src->h - 1);
        /* Reuse rows already resized horizontally (row pairs slide down). */
        if (have0 != sy0) {
            if (have1 == sy0) {
                int *t = r0;
                r0 = r1;
                r1 = t;
                have1 = -1;
            } else {
                hresize_u8(src->px + (size_t)sy0 * src->stride, r0, &ax, ia, w);
            }
            have0 = sy0;
        }
        if (have1 != sy1) {
            hresize_u8(src->px + (size_t)sy1 * src->stride, r1, &ax, ia, w);
            have1 = sy1;
        }
        int b0 = (short)lrintf((1.f - ay.w1[dy]) * 2048), b1 = (short)lrintf(ay.w1[dy] * 2048);
        uint8_t *o = im->px + (size_t)dy * im->stride;
        for (int x = 0; x < 3 * w; x++)
            o[x] = (uint8_t)((((b0 * (r0[x] >> 4)) >> 16) + ((b1 * (r1[x] >> 4)) >> 16) + 2) >> 2);
    }
    *out = im;
    im = NULL;
fail:
    mlc_image_free(im);
    axis_free(&ax);
    axis_free(&ay);
    mlc_free(ia);
    mlc_free(r0);
    mlc_free(r1);
    return st;
}

mlc_status img_to_f32(const mlc_image *src, struct img_f32 *out, mlc_error *err)
{
    size_t n = (size_t)src->w * (size_t)src->h * 3;
    float *px = mlc_alloc(sizeof(float) * n);
    if (!px) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory for a float image");
    for (size_t i = 0; i < n; i++) px[i] = src->px[i];
    out->w = src->w;
    out->h = src->h;
    out->px = px;
    return MLC_OK;
}

void img_f32_free(struct img_f32 *im)
{
    if (!im) return;
    mlc_free(im->px);
    im->px = NULL;
    im->w = im->h = 0;
}

static void hresize_f32(const float *s, float *d, const struct axis *ax, int dw)
{
    for (int dx = 0; dx < dw; dx++) {
        const float *p = s + 3 * (size_t)ax->ofs[dx];
        if (dx < ax->edge) {
            float a1 = ax->w1[dx], a0 = 1.f - a1;
            for (int c = 0; c < 3; c++) d[3 * dx + c] = p[c] * a0 + p[c + 3] * a1;
        } else {
            for (int c = 0; c < 3; c++) d[3 * dx + c] = p[c];
        }
    }
}

mlc_status img_resize_f32(const struct img_f32 *src, int w, int h, struct img_f32 *out,
                          mlc_error *err)
{
    if (w <= 0 || h <= 0 || src->w <= 0 || src->h <= 0)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "resize to an empty size %dx%d", w, h);
    size_t n = (size_t)w * (size_t)h * 3;
    float *px = mlc_alloc(sizeof(float) * n);
    if (!px) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory resizing to %dx%d", w, h);
    if (w == src->w && h == src->h) {
        memcpy(px, src->px, sizeof(float) * n);
        goto done;
    }
    double sx = 1. / ((double)w / src->w), sy = 1. / ((double)h / src->h);
    if (fabs(sx - 2) < DBL_EPSILON && fabs(sy - 2) < DBL_EPSILON) {
        /* OpenCV switches an exact 2x shrink to area averaging:
         * ((a + b) + c) + d, times 0.25. */
        size_t ss = 3 * (size_t)src->w;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) {
                    const float *p = src->px + (size_t)(2 * y) * ss + 3 * (size_t)(2 * x) + c;
                    float sum = p[0] + p[3] + p[ss] + p[ss + 3];
                    px[3 * ((size_t)y * w + x) + c] = sum * 0.25f;
                }
        goto done;
    }
    struct axis ax = {0}, ay = {0};
    float *r0 = mlc_alloc(sizeof(float) * 3 * (size_t)w),
          *r1 = mlc_alloc(sizeof(float) * 3 * (size_t)w);
    mlc_status st = MLC_OK;
    if (!r0 || !r1)
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory resizing to %dx%d", w, h);
    if (!st) st = axis_make(src->w, w, 1, &ax, err);
    if (!st) st = axis_make(src->h, h, 0, &ay, err);
    if (!st) {
        for (int dy = 0; dy < h; dy++) {
            int sy0 = clampi(ay.ofs[dy], 0, src->h - 1),
                sy1 = clampi(ay.ofs[dy] + 1, 0, src->h - 1);
            hresize_f32(src->px + (size_t)sy0 * 3 * src->w, r0, &ax, w);
            hresize_f32(src->px + (size_t)sy1 * 3 * src->w, r1, &ax, w);
            float b1 = ay.w1[dy], b0 = 1.f - b1;
            float *o = px + (size_t)dy * 3 * w;
            for (int x = 0; x < 3 * w; x++) o[x] = r0[x] * b0 + r1[x] * b1;
        }
    }
    axis_free(&ax);
    axis_free(&ay);
    mlc_free(r0);
    mlc_free(r1);
    if (st) {
        mlc_free(px);
        return st;
    }
done:
    out->w = w;
    out->h = h;
    out->px = px;
    return MLC_OK;
}

/* ---- Letterbox and centre crop ----------------------------------------- */

void img_letterbox_dims_legacy(int w, int h, int tw, int th, int *new_w, int *new_h, int *left,
                               int *top)
{
    double r = (double)w / h;
    int nw, nh;
    if (r >= (double)tw / th) {
        nw = tw;
        nh = (int)(tw / r);
    } else {
        nh = th;
        nw = (int)(th * r);
    }
    if (nw < 1) nw = 1;
    if (nh < 1) nh = 1;
    *new_w = nw;
    *new_h = nh;
    *left = (tw - nw) / 2;
    *top = (th - nh) / 2;
}

void img_letterbox_dims_new(int w, int h, int tw, int th, int *new_w, int *new_h, int *left,
                            int *top)
{
    double sx = (double)tw / w, sy = (double)th / h, s = sx < sy ? sx : sy;
    int nw = (int)(w * s), nh = (int)(h * s);
    if (nw < 1) nw = 1;
    if (nh < 1) nh = 1;
    *new_w = nw;
    *new_h = nh;
    *left = (int)((tw - nw) / 2.0);
    *top = (int)((th - nh) / 2.0);
}

mlc_status img_letterbox(const mlc_image *src, int tw, int th, int new_w, int new_h, int left,
                         int top, const uint8_t pad_bgr[3], mlc_image **out, mlc_error *err)
{
    if (new_w < 1 || new_h < 1 || left < 0 || top < 0 || left + new_w > tw || top + new_h > th)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                        "letterbox: %dx%d at (%d,%d) does not fit a %dx%d canvas", new_w, new_h,
                        left, top, tw, th);
    mlc_image *canvas = NULL, *r = NULL;
    mlc_status st = img_new(tw, th, &canvas, err);
    if (st) return st;
    if ((st = img_resize(src, new_w, new_h, &r, err))) {
        mlc_image_free(canvas);
        return st;
    }
    for (size_t i = 0, np = (size_t)tw * th; i < np; i++) memcpy(canvas->px + 3 * i, pad_bgr, 3);
    for (int y = 0; y < new_h; y++)
        memcpy(canvas->px + (size_t)(top + y) * canvas->stride + 3 * (size_t)left,
               r->px + (size_t)y * r->stride, r->stride);
    mlc_image_free(r);
    *out = canvas;
    return MLC_OK;
}

mlc_status img_center_crop_pad(const mlc_image *src, int tw, int th, mlc_image **out,
                               mlc_error *err)
{
    mlc_image *im = NULL;
    mlc_status st = img_new(tw, th, &im, err);
    if (st) return st;
    /* Per axis: a larger source is cropped from offset (s - t) / 2, a
     * smaller one is pasted at (t - s) / 2 on zeros. */
    int sx0 = src->w > tw ? (src->w - tw) / 2 : 0, dx0 = src->w < tw ? (tw - src->w) / 2 : 0;
    int sy0 = src->h > th ? (src->h - th) / 2 : 0, dy0 = src->h < th ? (th - src->h) / 2 : 0;
    int cw = src->w < tw ? src->w : tw, ch = src->h < th ? src->h : th;
    for (int y = 0; y < ch; y++)
        memcpy(im->px + (size_t)(dy0 + y) * im->stride + 3 * (size_t)dx0,
               src->px + (size_t)(sy0 + y) * src->stride + 3 * (size_t)sx0, 3 * (size_t)cw);
    *out = im;
    return MLC_OK;
}
