/*
 * image.h - internals of the image layer: the mlc_image layout, decoding
 * entry points with options the public API does not expose (refusing
 * private URL hosts), and the preprocessing operations the model layer
 * composes (crop, colour swaps, grey, OpenCV-exact resizes, letterbox,
 * centre crop, contrast methods of both Roboflow runtimes).
 *
 * Pixels are 8-bit, 3 channels, interleaved, in BGR order (OpenCV's
 * IMREAD_COLOR), rows `stride` bytes apart with stride == 3 * w. Every
 * operation that changes the size returns a new image; the in-place ones
 * say so. Nothing here keeps global state; all of it is thread-safe.
 */
#ifndef MLC_IMAGE_H
#define MLC_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "mlc.h"

struct mlc_image {
    int w, h;
    size_t stride; /* bytes per row, always 3 * w */
    uint8_t *px;   /* h * stride bytes, mlc_alloc'd */
};

/* A float32 image, 3 interleaved channels, rows of 3 * w floats. */
struct img_f32 {
    int w, h;
    float *px; /* mlc_free */
};

/* Internal load flag (beside MLC_IMAGE_NO_AUTO_ORIENT): refuse URLs whose
 * host resolves to a loopback, private, link-local or otherwise
 * non-public address. The server sets it unless allow_private_urls. */
#define IMG_FLAG_PUBLIC_URLS_ONLY (1u << 16)

/* Allocates a w x h image (zeroed). Status: INVALID_ARGUMENT, NO_MEMORY. */
mlc_status img_new(int w, int h, mlc_image **out, mlc_error *err);
/* The same with the pixels left unset, for a decoder that writes every row
 * or fails (a 1280x720 image is a 2.7 MB memset otherwise). */
mlc_status img_new_unset(int w, int h, mlc_image **out, mlc_error *err);
mlc_status img_clone(const mlc_image *src, mlc_image **out, mlc_error *err);

/* mlc_image_decode with a name for messages ("image '<name>': ..."). */
mlc_status img_decode_named(const void *bytes, size_t n, unsigned flags, const mlc_limits *limits,
                            const char *name, mlc_image **out, mlc_error *err);

/* Fetches an http(s) URL into memory under limits (max_url_bytes,
 * url_timeout_ms, at most 5 redirects, http/https only on every hop).
 * Caller frees *data_out with mlc_free. Status: INVALID_ARGUMENT (scheme,
 * private host), NETWORK, LIMIT, NO_MEMORY. */
mlc_status img_fetch_url(const char *url, const mlc_limits *limits, int public_only,
                         uint8_t **data_out, size_t *n_out, mlc_error *err);

/* 1 if the dotted/colon address text is loopback, private, link-local,
 * unspecified, multicast or otherwise not a public unicast address. */
int img_addr_is_private(const char *addr);

/* Applies EXIF orientation 1..8 (others: no-op) as OpenCV's imread does.
 * Replaces *im on a transposing orientation. */
mlc_status img_apply_orientation(mlc_image **im, int orientation, mlc_error *err);

/* EXIF orientation from a TIFF-structured EXIF block ("II"/"MM" header),
 * IFD0 tag 0x0112; 1 when absent or malformed. */
int img_exif_orientation(const uint8_t *p, size_t n);

/* ---- Geometry and colour ----------------------------------------------- */

/* One pixel of cv2.cvtColor(BGR2GRAY) on uint8: OpenCV 4.x uses 15-bit
 * fixed-point weights (0.114, 0.587, 0.299 rounded) with rounding. */
static inline uint8_t img_grey_px(unsigned b, unsigned g, unsigned r)
{
    return (uint8_t)((b * 3735u + g * 19235u + r * 9798u + (1u << 14)) >> 15);
}

/* Copies the pixel rectangle [x0,x1) x [y0,y1), clamped to the image like a
 * numpy slice. Status: INVALID_ARGUMENT when the clamped rect is empty. */
mlc_status img_crop(const mlc_image *src, int x0, int y0, int x1, int y1, mlc_image **out,
                    mlc_error *err);
/* Swaps channels 0 and 2 in place (BGR <-> RGB). */
void img_swap_rb(mlc_image *im);
/* In place: cv2.cvtColor(BGR2GRAY) (or RGB2GRAY when is_rgb) per img_grey_px,
 * then the grey replicated to 3 channels. */
void img_grayscale(mlc_image *im, int is_rgb);

/* cv2.resize(src, (w, h), interpolation=INTER_LINEAR) on uint8, bit-exact
 * with OpenCV 4.x (11-bit fixed-point coefficients, its vertical rounding,
 * the 2x area shortcut). Status: INVALID_ARGUMENT, NO_MEMORY. */
mlc_status img_resize(const mlc_image *src, int w, int h, mlc_image **out, mlc_error *err);
/* Converts to float32 (values 0..255). */
mlc_status img_to_f32(const mlc_image *src, struct img_f32 *out, mlc_error *err);
/* cv2.resize on float32, INTER_LINEAR. out is overwritten (caller frees
 * with img_f32_free). */
mlc_status img_resize_f32(const struct img_f32 *src, int w, int h, struct img_f32 *out,
                          mlc_error *err);
void img_f32_free(struct img_f32 *im);

/* Legacy letterbox geometry (resize_image_keeping_aspect_ratio): the
 * resized size, then top/left = (target - new) / 2. */
void img_letterbox_dims_legacy(int w, int h, int tw, int th, int *new_w, int *new_h, int *left,
                               int *top);
/* New-runtime letterbox geometry: scale = min(tw/w, th/h). */
void img_letterbox_dims_new(int w, int h, int tw, int th, int *new_w, int *new_h, int *left,
                            int *top);
/* Resizes src to new_w x new_h (img_resize) and places it at (left, top)
 * on a tw x th canvas filled with pad_bgr. */
mlc_status img_letterbox(const mlc_image *src, int tw, int th, int new_w, int new_h, int left,
                         int top, const uint8_t pad_bgr[3], mlc_image **out, mlc_error *err);
/* New runtime's center-crop mode: no resize; crop and/or zero-pad to
 * exactly tw x th, centred (offset dx/2 on each axis). */
mlc_status img_center_crop_pad(const mlc_image *src, int tw, int th, mlc_image **out,
                               mlc_error *err);

/* ---- Contrast ------------------------------------------------------------
 * Legacy runtime (OpenCV on grey, the image becomes grey): */
/* BGR2GRAY, cv2.equalizeHist, replicate. In place. */
void img_equalize_hist_cv(mlc_image *im);
/* BGR2GRAY, cv2.createCLAHE(clip, (tiles_x, tiles_y)).apply, replicate. */
mlc_status img_clahe_cv(mlc_image *im, double clip_limit, int tiles_x, int tiles_y, mlc_error *err);
/* New runtime (skimage on all channels, stays colour), in place:
 *   rescale_intensity(img, in_range=(p2, p98)), numpy percentiles; */
void img_contrast_stretch_sk(mlc_image *im);
/*   equalize_hist(img / 255) * 255, truncated to uint8; */
mlc_status img_equalize_hist_sk(mlc_image *im, mlc_error *err);
/*   equalize_adapthist(img / 255, clip_limit) * 255, truncated to uint8
 *   (skimage 0.19 semantics: CLAHE on the HSV value channel). */
mlc_status img_equalize_adapthist_sk(mlc_image *im, double clip_limit, mlc_error *err);

#endif
