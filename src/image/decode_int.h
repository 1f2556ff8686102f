/*
 * decode_int.h - the decoder table shared by image.c (dispatch), decode.c
 * (JPEG, PNG, WebP, GIF, TIFF through Debian's libraries) and bmp.c (our own
 * BMP reader). Private to src/image/.
 *
 * A decoder's contract: read the header, call img_check_dims() with the
 * declared size BEFORE allocating pixels, produce a top-left-origin BGR
 * image exactly as OpenCV 4.x imread(IMREAD_COLOR) would (without applying
 * the orientation), and store the EXIF orientation it found (1..8) in
 * d->orientation for image.c to apply.
 */
#ifndef MLC_IMAGE_DECODE_INT_H
#define MLC_IMAGE_DECODE_INT_H

#include "image/image.h"

struct img_dec {
    const char *format; /* "JPEG", "PNG", ... for messages */
    mlc_limits limits;  /* every field filled */
    int orientation;    /* out: EXIF orientation, 1 when none */
    unsigned flags;     /* the caller's MLC_IMAGE_* flags */
};

struct img_decoder {
    const char *name;                         /* format name for messages */
    int (*sniff)(const uint8_t *p, size_t n); /* 1 if the magic bytes match */
    mlc_status (*decode)(struct img_dec *d, const uint8_t *p, size_t n, mlc_image **out,
                         mlc_error *err); /* full decode; messages without the name */
};

extern const struct img_decoder img_decoder_jpeg, img_decoder_png, img_decoder_bmp,
    img_decoder_webp, img_decoder_gif, img_decoder_tiff;

/* Decodes a baseline YCbCr JPEG of im's size into im on two threads
 * (jpeg_split.c): 0 when it did, -1 when the one-thread decode must (any
 * other kind of file, any error or warning, no thread). */
int img_jpeg_split(const uint8_t *p, size_t n, mlc_image *im);

/* BAD_IMAGE for an empty size, LIMIT beyond d->limits.max_image_pixels. */
mlc_status img_check_dims(const struct img_dec *d, uint64_t w, uint64_t h, mlc_error *err);

#endif
