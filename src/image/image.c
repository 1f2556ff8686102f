/*
 * image.c - the public image API: decoding by sniffed format, loading from
 * a path / base64 / data URL / http(s) URL, wrapping caller pixels, EXIF
 * orientation as OpenCV applies it, and JPEG encoding.
 *
 * It does not decode any format itself: decoders live in decode.c and
 * bmp.c behind a small table (struct img_decoder, see decode_int.h), and
 * the URL fetch in fetch.c. Invariant: an mlc_image handed out always has
 * w, h >= 1, stride == 3 * w and w * h <= the caller's max_image_pixels
 * (checked by every decoder before it allocates pixels).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <turbojpeg.h>

#include "image/decode_int.h"
#include "image/image.h"

static mlc_status image_alloc(int w, int h, int zeroed, mlc_image **out, mlc_error *err)
{
    if (w <= 0 || h <= 0 || (uint64_t)w * (uint64_t)h > ((uint64_t)1 << 40))
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "invalid image size %dx%d", w, h);
    mlc_image *im = mlc_calloc(1, sizeof *im);
    size_t stride = (size_t)w * 3;
    if (im) im->px = zeroed ? mlc_calloc((size_t)h, stride) : mlc_alloc((size_t)h * stride);
    if (!im || !im->px) {
        if (im) mlc_free(im);
        return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory for a %dx%d image", w, h);
    }
    im->w = w;
    im->h = h;
    im->stride = stride;
    *out = im;
    return MLC_OK;
}

mlc_status img_new(int w, int h, mlc_image **out, mlc_error *err)
{
    return image_alloc(w, h, 1, out, err);
}

mlc_status img_new_unset(int w, int h, mlc_image **out, mlc_error *err)
{
    return image_alloc(w, h, 0, out, err);
}

mlc_status img_clone(const mlc_image *src, mlc_image **out, mlc_error *err)
{
    mlc_image *im = NULL;
    mlc_status st = img_new_unset(src->w, src->h, &im, err);
    if (st) return st;
    memcpy(im->px, src->px, (size_t)src->h * src->stride);
    *out = im;
    return MLC_OK;
}

void mlc_image_free(mlc_image *img)
{
    if (!img) return;
    mlc_free(img->px);
    mlc_free(img);
}

int mlc_image_width(const mlc_image *img)
{
    return img ? img->w : 0;
}
int mlc_image_height(const mlc_image *img)
{
    return img ? img->h : 0;
}

const uint8_t *mlc_image_bgr(const mlc_image *img, size_t *row_stride_out)
{
    if (!img) return NULL;
    if (row_stride_out) *row_stride_out = img->stride;
    return img->px;
}

mlc_status mlc_image_from_bgr(const uint8_t *bgr, int width, int height, size_t row_stride,
                              mlc_image **img_out, mlc_error *err)
{
    if (!bgr || !img_out || width <= 0 || height <= 0)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                        "mlc_image_from_bgr: need pixels and a positive size (got %dx%d)", width,
                        height);
    if (!row_stride) row_stride = (size_t)width * 3;
    if (row_stride < (size_t)width * 3)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                        "mlc_image_from_bgr: row stride %zu is less than 3 * width (%d)",
                        row_stride, width * 3);
    mlc_image *im = NULL;
    mlc_status st = img_new(width, height, &im, err);
    if (st) return st;
    for (int y = 0; y < height; y++)
        memcpy(im->px + (size_t)y * im->stride, bgr + (size_t)y * row_stride, im->stride);
    *img_out = im;
    return MLC_OK;
}

/* ---- EXIF orientation --------------------------------------------------- */

static unsigned rd16(const uint8_t *p, int be)
{
    return be ? (p[0] << 8 | p[1]) : (p[1] << 8 | p[0]);
}
static uint32_t rd32(const uint8_t *p, int be)
{
    return be ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3])
              : ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]);
}

int img_exif_orientation(const uint8_t *p, size_t n)
{
    /* TIFF header: byte order, 42, offset of IFD0. OpenCV reads the
     * orientation entry's first SHORT of the value field whatever the
     * declared type; so does this. */
    if (!p || n < 8) return 1;
    int be;
    if (p[0] == 'I' && p[1] == 'I')
        be = 0;
    else if (p[0] == 'M' && p[1] == 'M')
        be = 1;
    else
        return 1;
    if (rd16(p + 2, be) != 42) return 1;
    uint32_t ifd = rd32(p + 4, be);
    if (ifd < 8 || ifd > n - 2) return 1;
    unsigned count = rd16(p + ifd, be);
    for (unsigned i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        if (e + 12 > n) return 1;
        if (rd16(p + e, be) == 0x0112) {
            unsigned v = rd16(p + e + 8, be);
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
    return 1;
}

/* Mirrors rows and/or columns in place. */
static void flip(mlc_image *im, int horiz, int vert)
{
    int w = im->w, h = im->h;
    if (vert) {
        for (int y = 0; y < h / 2; y++) {
            uint8_t *a = im->px + (size_t)y * im->stride,
                    *b = im->px + (size_t)(h - 1 - y) * im->stride;
            for (size_t i = 0; i < im->stride; i++) {
                uint8_t t = a[i];
                a[i] = b[i];
                b[i] = t;
            }
        }
    }
    if (horiz) {
        for (int y = 0; y < h; y++) {
            uint8_t *r = im->px + (size_t)y * im->stride;
            for (int x = 0; x < w / 2; x++) {
                uint8_t *a = r + 3 * x, *b = r + 3 * (w - 1 - x);
                for (int c = 0; c < 3; c++) {
                    uint8_t t = a[c];
                    a[c] = b[c];
                    b[c] = t;
                }
            }
        }
    }
}

mlc_status img_apply_orientation(mlc_image **imp, int o, mlc_error *err)
{
    mlc_image *im = *imp;
    switch (o) {
    case 2:
        flip(im, 1, 0);
        return MLC_OK;
    case 3:
        flip(im, 1, 1);
        return MLC_OK;
    case 4:
        flip(im, 0, 1);
        return MLC_OK;
    case 5:
    case 6:
    case 7:
    case 8:
        break;
    default:
        return MLC_OK;
    }
    /* Orientations 5..8 are a transpose followed by a flip (OpenCV's
     * ApplyExifOrientation). */
    mlc_image *t = NULL;
    mlc_status st = img_new(im->h, im->w, &t, err);
    if (st) return st;
    for (int y = 0; y < im->h; y++) {
        const uint8_t *s = im->px + (size_t)y * im->stride;
        for (int x = 0; x < im->w; x++)
            memcpy(t->px + (size_t)x * t->stride + 3 * (size_t)y, s + 3 * x, 3);
    }
    if (o == 6)
        flip(t, 1, 0);
    else if (o == 7)
        flip(t, 1, 1);
    else if (o == 8)
        flip(t, 0, 1);
    mlc_image_free(im);
    *imp = t;
    return MLC_OK;
}

/* ---- Decoding ----------------------------------------------------------- */

mlc_status img_check_dims(const struct img_dec *d, uint64_t w, uint64_t h, mlc_error *err)
{
    if (w == 0 || h == 0)
        return core_err(err, MLC_STATUS_BAD_IMAGE, "%s declares an empty size %llux%llu", d->format,
                        (unsigned long long)w, (unsigned long long)h);
    if (w > INT32_MAX / 4 || h > INT32_MAX / 4 || w * h > d->limits.max_image_pixels)
        return core_err(err, MLC_STATUS_LIMIT,
                        "%s declares %llux%llu pixels, more than the limit of %llu", d->format,
                        (unsigned long long)w, (unsigned long long)h,
                        (unsigned long long)d->limits.max_image_pixels);
    return MLC_OK;
}

static const struct img_decoder *const decoders[] = {
    &img_decoder_jpeg, &img_decoder_png, &img_decoder_bmp,
    &img_decoder_webp, &img_decoder_gif, &img_decoder_tiff,
};

static void fill_limits(const mlc_limits *in, mlc_limits *out)
{
    mlc_limits def;
    mlc_limits_default(&def);
    *out = in ? *in : def;
    if (!out->max_input_bytes) out->max_input_bytes = def.max_input_bytes;
    if (!out->max_image_pixels) out->max_image_pixels = def.max_image_pixels;
    if (!out->max_url_bytes) out->max_url_bytes = def.max_url_bytes;
    if (out->url_timeout_ms <= 0) out->url_timeout_ms = def.url_timeout_ms;
}

/* Adds "image '<name>'" in front of a lower layer's message; keeps st. */
static mlc_status prefix(mlc_error *err, mlc_status st, const char *name)
{
    if (err) core_err_prefix(err, "image '%s'", name);
    return st;
}

mlc_status img_decode_named(const void *bytes, size_t n, unsigned flags, const mlc_limits *limits,
                            const char *name, mlc_image **out, mlc_error *err)
{
    struct img_dec d;
    memset(&d, 0, sizeof d);
    fill_limits(limits, &d.limits);
    const uint8_t *p = bytes;
    mlc_image *im = NULL;
    mlc_status st = MLC_OK;
    if (!out) return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "image '%s': no output", name);
    if (!p || n == 0) {
        st = core_err(err, MLC_STATUS_BAD_IMAGE, "image '%s': empty input (0 bytes)", name);
        goto fail;
    }
    if (n > d.limits.max_input_bytes) {
        st = core_err(err, MLC_STATUS_LIMIT, "image '%s': %zu bytes, more than the limit of %zu",
                      name, n, d.limits.max_input_bytes);
        goto fail;
    }
    const struct img_decoder *dec = NULL;
    for (size_t i = 0; i < sizeof decoders / sizeof decoders[0]; i++)
        if (decoders[i]->sniff(p, n)) {
            dec = decoders[i];
            break;
        }
    if (!dec) {
        char hex[3 * 8 + 1] = "";
        static const char digits[] = "0123456789abcdef";
        size_t k = 0;
        for (size_t i = 0; i < n && i < 8; i++) {
            if (i) hex[k++] = ' ';
            hex[k++] = digits[p[i] >> 4];
            hex[k++] = digits[p[i] & 15];
        }
        hex[k] = '\0';
        st = core_err(err, MLC_STATUS_BAD_IMAGE,
                      "image '%s': not a recognised image format (first bytes %s)", name, hex);
        goto fail;
    }
    d.format = dec->name;
    d.orientation = 1;
    d.flags = flags;
    st = dec->decode(&d, p, n, &im, err);
    if (st) {
        prefix(err, st, name);
        goto fail;
    }
    if (!(flags & MLC_IMAGE_NO_AUTO_ORIENT) && d.orientation != 1) {
        st = img_apply_orientation(&im, d.orientation, err);
        if (st) goto fail;
    }
    *out = im;
    return MLC_OK;
fail:
    mlc_image_free(im);
    return st;
}

mlc_status mlc_image_decode(const void *bytes, size_t n, unsigned flags, const mlc_limits *limits,
                            mlc_image **img_out, mlc_error *err)
{
    return img_decode_named(bytes, n, flags, limits, "(bytes)", img_out, err);
}

/* ---- Loading ------------------------------------------------------------ */

static int has_prefix_ci(const char *s, const char *pre)
{
    return strncasecmp(s, pre, strlen(pre)) == 0;
}

/* A short, printable form of the input for messages. */
static void short_name(const char *text, char *buf, size_t cap)
{
    size_t n = strlen(text);
    size_t k = n < cap - 4 ? n : cap - 4;
    for (size_t i = 0; i < k; i++) buf[i] = isprint((unsigned char)text[i]) ? text[i] : '?';
    if (k < n)
        memcpy(buf + k, "...", 4);
    else
        buf[k] = '\0';
}

/* Long text made only of base64 characters (standard or URL-safe). */
static int looks_base64(const char *s)
{
    static const char al[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_\r\n";
    size_t n = strlen(s);
    return n >= 16 && strspn(s, al) == n;
}

static mlc_status load_base64(const char *text, const char *name, unsigned flags,
                              const mlc_limits *lim, mlc_image **out, mlc_error *err)
{
    const char *b64 = text;
    if (has_prefix_ci(text, "data:")) {
        const char *comma = strchr(text, ',');
        if (!comma || !strstr(text, ";base64"))
            return core_err(err, MLC_STATUS_BAD_IMAGE,
                            "image '%s': data URL without ';base64,' payload", name);
        b64 = comma + 1;
    }
    size_t len = strlen(b64);
    if (len / 4 * 3 > lim->max_input_bytes + 3)
        return core_err(err, MLC_STATUS_LIMIT,
                        "image '%s': base64 text of %zu chars decodes past the limit of %zu bytes",
                        name, len, lim->max_input_bytes);
    uint8_t *bytes = NULL;
    size_t n = 0;
    mlc_status st = core_base64_decode(b64, len, &bytes, &n, err);
    if (st) {
        if (st != MLC_STATUS_NO_MEMORY) st = MLC_STATUS_BAD_IMAGE;
        if (err) {
            core_err_prefix(err, "image '%s': bad base64", name);
            err->status = st;
        }
        return st;
    }
    st = img_decode_named(bytes, n, flags, lim, name, out, err);
    mlc_free(bytes);
    return st;
}

mlc_status mlc_image_load(mlc_input_kind kind, const char *text, unsigned flags,
                          const mlc_limits *limits, mlc_image **img_out, mlc_error *err)
{
    if (!text || !img_out)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "mlc_image_load: no input text");
    mlc_limits lim;
    fill_limits(limits, &lim);
    char name[96];
    short_name(text, name, sizeof name);
    if (kind == MLC_INPUT_AUTO) {
        if (has_prefix_ci(text, "data:"))
            kind = MLC_INPUT_BASE64;
        else if (has_prefix_ci(text, "http://") || has_prefix_ci(text, "https://"))
            kind = MLC_INPUT_URL;
        else if (core_file_exists(text))
            kind = MLC_INPUT_PATH;
        else if (strstr(text, "://"))
            kind = MLC_INPUT_URL; /* refused below by scheme */
        else if (looks_base64(text))
            kind = MLC_INPUT_BASE64;
        else
            kind = MLC_INPUT_PATH;
    }
    mlc_status st;
    switch (kind) {
    case MLC_INPUT_PATH: {
        char *data = NULL;
        size_t n = 0;
        st = core_read_file(text, lim.max_input_bytes, &data, &n, err);
        if (st) return prefix(err, st, name);
        st = img_decode_named(data, n, flags, &lim, name, img_out, err);
        mlc_free(data);
        return st;
    }
    case MLC_INPUT_BASE64:
        return load_base64(text, name, flags, &lim, img_out, err);
    case MLC_INPUT_URL: {
        uint8_t *data = NULL;
        size_t n = 0;
        st = img_fetch_url(text, &lim, (flags & IMG_FLAG_PUBLIC_URLS_ONLY) != 0, &data, &n, err);
        if (st) return prefix(err, st, name);
        st = img_decode_named(data, n, flags, &lim, name, img_out, err);
        mlc_free(data);
        return st;
    }
    default:
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "mlc_image_load: unknown input kind %d",
                        (int)kind);
    }
}

/* ---- JPEG encoding ------------------------------------------------------ */

mlc_status mlc_image_encode_jpeg(const mlc_image *img, int quality, void **bytes_out, size_t *n_out,
                                 mlc_error *err)
{
    if (!img || !bytes_out || !n_out)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "mlc_image_encode_jpeg: no image");
    if (quality < 1 || quality > 100)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                        "mlc_image_encode_jpeg: quality %d is outside 1..100", quality);
    mlc_status st = MLC_OK;
    unsigned char *jpg = NULL;
    unsigned long len = 0;
    void *copy = NULL;
    tjhandle tj = tjInitCompress();
    if (!tj) return core_err(err, MLC_STATUS_NO_MEMORY, "cannot start the JPEG encoder");
    /* 4:2:0 like cv2.imencode's default. */
    if (tjCompress2(tj, img->px, img->w, (int)img->stride, img->h, TJPF_BGR, &jpg, &len, TJSAMP_420,
                    quality, 0) != 0) {
        st = core_err(err, MLC_STATUS_INTERNAL, "JPEG encoding failed: %s", tjGetErrorStr2(tj));
        goto fail;
    }
    copy = mlc_alloc(len ? len : 1);
    if (!copy) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory for a %lu-byte JPEG", len);
        goto fail;
    }
    memcpy(copy, jpg, len);
    *bytes_out = copy;
    *n_out = len;
    tjFree(jpg);
    tjDestroy(tj);
    return MLC_OK;
fail:
    if (jpg) tjFree(jpg);
    tjDestroy(tj);
    return st;
}
