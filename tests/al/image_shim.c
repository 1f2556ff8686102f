/*
 * image_shim.c - a stand-in for the image layer's BGR buffer and JPEG
 * encoder, linked into the al tests only while src/image has no sources
 * (tests/al/CMakeLists.txt decides). It lets the active-learning tests run
 * before the image layer lands; once it does, the real functions are used.
 */
#include <string.h>

#include <turbojpeg.h>

#include "core/core.h"

struct mlc_image {
    int w, h;
    uint8_t *bgr;
};

mlc_status mlc_image_from_bgr(const uint8_t *bgr, int width, int height, size_t row_stride,
                              mlc_image **img_out, mlc_error *err)
{
    if (width < 1 || height < 1 || row_stride < (size_t)width * 3)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "bad image size");
    mlc_image *im = mlc_calloc(1, sizeof *im);
    if (!im || !(im->bgr = mlc_alloc((size_t)width * (size_t)height * 3))) {
        mlc_free(im);
        return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    }
    im->w = width;
    im->h = height;
    for (int y = 0; y < height; y++)
        memcpy(im->bgr + (size_t)y * (size_t)width * 3, bgr + (size_t)y * row_stride,
               (size_t)width * 3);
    *img_out = im;
    return MLC_OK;
}

void mlc_image_free(mlc_image *img)
{
    if (!img) return;
    mlc_free(img->bgr);
    mlc_free(img);
}

int mlc_image_width(const mlc_image *img)
{
    return img->w;
}

int mlc_image_height(const mlc_image *img)
{
    return img->h;
}

const uint8_t *mlc_image_bgr(const mlc_image *img, size_t *row_stride_out)
{
    if (row_stride_out) *row_stride_out = (size_t)img->w * 3;
    return img->bgr;
}

mlc_status mlc_image_encode_jpeg(const mlc_image *img, int quality, void **bytes_out, size_t *n_out,
                                 mlc_error *err)
{
    tjhandle tj = tjInitCompress();
    unsigned char *jb = NULL;
    unsigned long jn = 0;
    if (!tj) return core_err(err, MLC_STATUS_NO_MEMORY, "turbojpeg init failed");
    int rc = tjCompress2(tj, img->bgr, img->w, img->w * 3, img->h, TJPF_BGR, &jb, &jn, TJSAMP_420,
                         quality, 0);
    tjDestroy(tj);
    if (rc != 0) {
        tjFree(jb);
        return core_err(err, MLC_STATUS_BAD_IMAGE, "jpeg encode failed");
    }
    void *out = mlc_alloc(jn);
    if (!out) {
        tjFree(jb);
        return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    }
    memcpy(out, jb, jn);
    tjFree(jb);
    *bytes_out = out;
    *n_out = jn;
    return MLC_OK;
}
