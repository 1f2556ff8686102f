/*
 * fuzz_image.c - libFuzzer target over mlc_image_decode: every format's
 * sniffing, header parsing, limit checks and decoding, EXIF orientation,
 * then a small resize of whatever decoded. The pixel limit is lowered so
 * that a fuzzer-made header cannot ask for gigabytes legitimately. Inputs of
 * odd length decode with MLC_IMAGE_TWO_THREADS (the two-thread JPEG path).
 */
#include <stddef.h>
#include <stdint.h>

#include "image/image.h"
#include "mlc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mlc_limits lim;
    mlc_limits_default(&lim);
    lim.max_image_pixels = 4u << 20;
    mlc_error err;
    mlc_image *im = NULL;
    if (mlc_image_decode(data, size, size & 1 ? MLC_IMAGE_TWO_THREADS : 0, &lim, &im, &err) ==
        MLC_OK) {
        mlc_image *r = NULL;
        if (img_resize(im, 7, 5, &r, &err) == MLC_OK) mlc_image_free(r);
        mlc_image_free(im);
    }
    return 0;
}
