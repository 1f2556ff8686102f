/*
 * preproc.c - the image pipeline of a model package (spec model-runtime §3.2).
 *
 * Current format (inference_models numpy path), in this order:
 *   static crop (percent, int() truncation) -> grayscale (BGR2GRAY, 3 copies)
 *   -> contrast (skimage variants, colour kept) -> resize_mode:
 *   stretch (uint8 INTER_LINEAR), letterbox / letterbox-reflect-edges (uint8
 *   resize into a float canvas of padding_value), center-crop (no scaling)
 *   -> channel order -> x / scaling_factor -> (x - mean) / std, all float32.
 * Legacy format (environment.json): static crop -> contrast (histogram and
 *   adaptive turn the image grey) -> grayscale -> "Stretch to" (float32
 *   resize) or "Fit (...) in" (uint8 letterbox, legacy size formula) ->
 *   BGR2RGB -> /255 -> (x - mean) / std.
 *
 * Pixel ops (resize, grayscale, contrast) are the image layer's, which
 * matches OpenCV/skimage bit for bit; this file only decides geometry, order
 * and the float arithmetic. Invariant: out always receives exactly
 * 3*height*width floats on success.
 */
#include <math.h>
#include <string.h>

#include "image/image.h"
#include "model/preproc.h"

/* The working image: borrowed until the first op that needs its own copy. */
struct work {
    const mlc_image *cur;
    mlc_image *own;
};

static void work_set(struct work *w, mlc_image *im)
{
    mlc_image_free(w->own);
    w->own = im;
    w->cur = im;
}

/* Makes the working image writable (a copy of a borrowed input). */
static mlc_status work_own(struct work *w, mlc_error *err)
{
    if (w->own) return MLC_OK;
    mlc_image *c = NULL;
    mlc_status st = img_clone(w->cur, &c, err);
    if (!st) work_set(w, c);
    return st;
}

static mlc_status crop(struct work *w, const struct mdl_preproc *pp, mlc_error *err)
{
    int W = w->cur->w, H = w->cur->h;
    /* int(x_min / 100 * W), evaluated as Python does (double, truncation) */
    int x0 = (int)(pp->crop_x_min / 100.0 * W), x1 = (int)(pp->crop_x_max / 100.0 * W);
    int y0 = (int)(pp->crop_y_min / 100.0 * H), y1 = (int)(pp->crop_y_max / 100.0 * H);
    mlc_image *c = NULL;
    if (x1 <= x0 || y1 <= y0 || img_crop(w->cur, x0, y0, x1, y1, &c, err))
        return core_err(err, MLC_STATUS_BAD_IMAGE,
                        "the static crop leaves nothing of a %dx%d image (x %d..%d, y %d..%d)", W,
                        H, x0, x1, y0, y1);
    work_set(w, c);
    return MLC_OK;
}

static mlc_status contrast(struct work *w, enum mdl_contrast c, int legacy, mlc_error *err)
{
    mlc_status st = work_own(w, err);
    if (st) return st;
    switch (c) {
    case MDL_CONTRAST_STRETCHING:
        img_contrast_stretch_sk(w->own);
        break;
    case MDL_CONTRAST_HISTOGRAM:
        if (legacy)
            img_equalize_hist_cv(w->own);
        else
            st = img_equalize_hist_sk(w->own, err);
        break;
    case MDL_CONTRAST_ADAPTIVE:
        st = legacy ? img_clahe_cv(w->own, 0.03, 8, 8, err)
                    : img_equalize_adapthist_sk(w->own, 0.03, err);
        break;
    default:
        break;
    }
    return st;
}

static mlc_status resize_u8(const mlc_image *src, int dw, int dh, mlc_image **out, mlc_error *err)
{
    if (dw <= 0 || dh <= 0)
        return core_err(err, MLC_STATUS_BAD_IMAGE,
                        "a %dx%d image cannot be resized to %dx%d for this model", src->w, src->h,
                        dw, dh);
    return img_resize(src, dw, dh, out, err);
}

/* Places a uint8 image at (left, top) of a float HWC canvas of width W. */
static void place(float *canvas, int W, const mlc_image *im, int left, int top)
{
    for (int y = 0; y < im->h; y++) {
        const uint8_t *s = im->px + (size_t)y * im->stride;
        float *d = canvas + ((size_t)(y + top) * (size_t)W + (size_t)left) * 3;
        for (int x = 0; x < im->w * 3; x++) d[x] = s[x];
    }
}

/* Final float stage for the current runtime: canvas (HWC float, BGR) to
 * CHW with channel order, scaling and normalisation in float32. */
static void finish_current(const struct mdl_preproc *pp, const float *hwc, float *out)
{
    size_t plane = (size_t)pp->width * (size_t)pp->height;
    float sf = (float)pp->scaling_factor;
    for (int c = 0; c < 3; c++) {
        int src_c = pp->rgb ? 2 - c : c;
        float mean = pp->mean[c], sd = pp->std[c];
        float *o = out + (size_t)c * plane;
        for (size_t i = 0; i < plane; i++) {
            float x = hwc[i * 3 + (size_t)src_c];
            if (pp->has_scaling) x = x / sf;
            if (pp->has_norm) x = (x - mean) / sd;
            o[i] = x;
        }
    }
}

static mlc_status run_current(const struct mdl_preproc *pp, const mlc_image *im, float *out,
                              mlc_error *err)
{
    mlc_status st = MLC_OK;
    int W = pp->width, H = pp->height;
    mlc_image *r = NULL;
    size_t n = (size_t)W * (size_t)H * 3;
    float *canvas = mlc_alloc(n * sizeof *canvas);
    if (!canvas) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    if (pp->resize == MDL_RESIZE_STRETCH) {
        if ((st = resize_u8(im, W, H, &r, err))) goto fail;
        place(canvas, W, r, 0, 0);
    } else if (pp->resize == MDL_RESIZE_LETTERBOX) {
        int nw, nh, left, top;
        img_letterbox_dims_new(im->w, im->h, W, H, &nw, &nh, &left, &top);
        if ((st = resize_u8(im, nw, nh, &r, err))) goto fail;
        /* a float canvas: padding_value need not fit a byte */
        float pv = (float)pp->pad_value;
        for (size_t i = 0; i < n; i++) canvas[i] = pv;
        place(canvas, W, r, left, top);
    } else {
        if ((st = img_center_crop_pad(im, W, H, &r, err))) goto fail;
        place(canvas, W, r, 0, 0);
    }
    finish_current(pp, canvas, out);
fail:
    mlc_image_free(r);
    mlc_free(canvas);
    return st;
}

static mlc_status run_legacy(const struct mdl_preproc *pp, const mlc_image *im, float *out,
                             mlc_error *err)
{
    mlc_status st = MLC_OK;
    int W = pp->width, H = pp->height;
    mlc_image *r = NULL;
    struct img_f32 f = {0, 0, NULL}, fr = {0, 0, NULL};
    float *canvas = mlc_alloc((size_t)W * (size_t)H * 3 * sizeof *canvas);
    if (!canvas) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    if (pp->resize == MDL_RESIZE_STRETCH) {
        /* legacy casts to float32 first, so the resize is not rounded */
        if ((st = img_to_f32(im, &f, err)) || (st = img_resize_f32(&f, W, H, &fr, err))) goto fail;
        memcpy(canvas, fr.px, (size_t)W * (size_t)H * 3 * sizeof *canvas);
    } else {
        int nw, nh, left, top;
        img_letterbox_dims_legacy(im->w, im->h, W, H, &nw, &nh, &left, &top);
        uint8_t pad[3] = {(uint8_t)pp->pad_value, (uint8_t)pp->pad_value, (uint8_t)pp->pad_value};
        if (nw <= 0 || nh <= 0) {
            st = core_err(err, MLC_STATUS_BAD_IMAGE, "a %dx%d image cannot be letterboxed to %dx%d",
                          im->w, im->h, W, H);
            goto fail;
        }
        if ((st = img_letterbox(im, W, H, nw, nh, left, top, pad, &r, err))) goto fail;
        place(canvas, W, r, 0, 0);
    }
    /* BGR2RGB, /255, (x - mean) / std in float32 */
    size_t plane = (size_t)W * (size_t)H;
    for (int c = 0; c < 3; c++) {
        float *o = out + (size_t)c * plane;
        for (size_t i = 0; i < plane; i++) {
            float x = canvas[i * 3 + (size_t)(2 - c)] / 255.0f;
            o[i] = (x - pp->mean[c]) / pp->std[c];
        }
    }
fail:
    img_f32_free(&f);
    img_f32_free(&fr);
    mlc_image_free(r);
    mlc_free(canvas);
    return st;
}

mlc_status mdl_preprocess(const struct mdl_preproc *pp, const mlc_image *img, unsigned flags,
                          float *out, mlc_error *err)
{
    mlc_status st = MLC_OK;
    struct work w = {img, NULL};
    if (!img || img->w <= 0 || img->h <= 0)
        return core_err(err, MLC_STATUS_BAD_IMAGE, "empty image");
    if (pp->crop_enabled && !(flags & MLC_CLASSIFY_NO_STATIC_CROP) && (st = crop(&w, pp, err)))
        goto fail;
    int do_gray = pp->grayscale && !(flags & MLC_CLASSIFY_NO_GRAYSCALE);
    int do_contrast = pp->contrast != MDL_CONTRAST_NONE && !(flags & MLC_CLASSIFY_NO_CONTRAST);
    if (pp->legacy) {
        if (do_contrast && (st = contrast(&w, pp->contrast, 1, err))) goto fail;
        if (do_gray && ((st = work_own(&w, err)) || (img_grayscale(w.own, 0), 0))) goto fail;
        st = run_legacy(pp, w.cur, out, err);
    } else {
        if (do_gray && ((st = work_own(&w, err)) || (img_grayscale(w.own, 0), 0))) goto fail;
        if (do_contrast && (st = contrast(&w, pp->contrast, 0, err))) goto fail;
        st = run_current(pp, w.cur, out, err);
    }
fail:
    mlc_image_free(w.own);
    return st;
}
