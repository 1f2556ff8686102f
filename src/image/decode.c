/*
 * decode.c - JPEG, PNG, WebP, GIF (first frame) and TIFF decoding through
 * Debian's libraries, set up to give the pixels OpenCV 4.x imread gives with
 * IMREAD_COLOR:
 *   JPEG  libjpeg-turbo via TurboJPEG, accurate integer IDCT and fancy
 *         upsampling (libjpeg's defaults, which OpenCV keeps); CMYK/YCCK
 *         converted with OpenCV's formula; EXIF from the first APP1 marker.
 *         With MLC_IMAGE_TWO_THREADS, large baseline files on two threads
 *         (jpeg_split.c), the same pixels.
 *         Recoverable libjpeg warnings are accepted as OpenCV accepts them,
 *         except a premature end of data, which is an error here (OpenCV
 *         would return the image padded with grey).
 *   PNG   libpng with OpenCV's transforms: 16-bit keeps the high byte,
 *         alpha is stripped (not composited), palette and low-depth grey
 *         expanded, grey replicated; the eXIf chunk gives the orientation.
 *   WebP  libwebp WebPDecodeBGRInto (alpha dropped); still images only.
 *         OpenCV ignores WebP EXIF, so does this.
 *   GIF   giflib, first frame only (OpenCV 4.6 has no GIF reader): the
 *         frame is drawn on a black canvas of the logical screen size;
 *         transparent pixels keep their palette colour.
 *   TIFF  libtiff's RGBA reader (what OpenCV uses for 8-bit output), rows
 *         in stored order, alpha dropped; the Orientation tag is returned
 *         for image.c to apply, as OpenCV does.
 * It does not apply the orientation, and never reads past `n` bytes.
 */
#include <gif_lib.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <tiffio.h>
#include <turbojpeg.h>
#include <webp/decode.h>

#include "image/decode_int.h"

/* ---- JPEG ---------------------------------------------------------------- */

static int jpeg_sniff(const uint8_t *p, size_t n)
{
    return n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF;
}

/* OpenCV keeps the first APP1 marker whatever it holds and parses it from
 * offset 6 (after "Exif\0\0"). */
static int jpeg_orientation(const uint8_t *p, size_t n)
{
    size_t i = 2;
    while (i + 4 <= n) {
        if (p[i] != 0xFF) return 1;
        while (i < n && p[i] == 0xFF) i++;
        if (i >= n) return 1;
        unsigned m = p[i++];
        if (m == 0xD9 || m == 0xDA) return 1;
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;
        if (i + 2 > n) return 1;
        size_t len = (size_t)p[i] << 8 | p[i + 1];
        if (len < 2 || i + len > n) return 1;
        if (m == 0xE1) return len - 2 > 6 ? img_exif_orientation(p + i + 2 + 6, len - 2 - 6) : 1;
        i += len;
    }
    return 1;
}

/* Below this a second thread costs more than it saves (MLC_IMAGE_TWO_THREADS). */
#define SPLIT_MIN_PIXELS (512u * 1024u)

static mlc_status jpeg_decode(struct img_dec *d, const uint8_t *p, size_t n, mlc_image **out,
                              mlc_error *err)
{
    mlc_status st = MLC_OK;
    mlc_image *im = NULL;
    uint8_t *cmyk = NULL;
    int w = 0, h = 0, sub = 0, cs = 0;
    tjhandle tj = tjInitDecompress();
    if (!tj) return core_err(err, MLC_STATUS_NO_MEMORY, "cannot start the JPEG decoder");
    if (n > (size_t)0xFFFFFFFFu ||
        tjDecompressHeader3(tj, p, (unsigned long)n, &w, &h, &sub, &cs) != 0) {
        st = core_err(err, MLC_STATUS_BAD_IMAGE, "corrupt JPEG header: %s", tjGetErrorStr2(tj));
        goto fail;
    }
    if ((st = img_check_dims(d, (uint64_t)w, (uint64_t)h, err))) goto fail;
    /* Every row is written: libjpeg fills what corrupt or missing data
     * leaves out, and a fatal error frees the image. */
    if ((st = img_new_unset(w, h, &im, err))) goto fail;
    int is_cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
    int rc;
    if (is_cmyk) {
        cmyk = mlc_alloc((size_t)w * (size_t)h * 4);
        if (!cmyk) {
            st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory for a %dx%d CMYK JPEG", w, h);
            goto fail;
        }
        rc = tjDecompress2(tj, p, (unsigned long)n, cmyk, w, w * 4, h, TJPF_CMYK, 0);
    } else if ((d->flags & MLC_IMAGE_TWO_THREADS) && sub != TJSAMP_GRAY &&
               (uint64_t)w * (uint64_t)h >= SPLIT_MIN_PIXELS && img_jpeg_split(p, n, im) == 0) {
        rc = 0;
    } else {
        rc = tjDecompress2(tj, p, (unsigned long)n, im->px, w, (int)im->stride, h, TJPF_BGR, 0);
    }
    if (rc != 0) {
        const char *msg = tjGetErrorStr2(tj);
        int fatal = tjGetErrorCode(tj) == TJERR_FATAL;
        if (fatal || strstr(msg, "Premature end")) {
            st = core_err(err, MLC_STATUS_BAD_IMAGE, "%s JPEG (%s)",
                          strstr(msg, "Premature end") ? "truncated" : "corrupt", msg);
            goto fail;
        }
    }
    if (is_cmyk) {
        /* OpenCV's icvCvt_CMYK2BGR: libjpeg hands Adobe's inverted CMYK
         * through as is; each channel becomes k - (255 - c) * k / 256. */
        for (size_t i = 0, np = (size_t)w * (size_t)h; i < np; i++) {
            const uint8_t *s = cmyk + 4 * i;
            int k = s[3];
            uint8_t *o = im->px + 3 * i;
            o[2] = (uint8_t)(k - ((255 - s[0]) * k >> 8));
            o[1] = (uint8_t)(k - ((255 - s[1]) * k >> 8));
            o[0] = (uint8_t)(k - ((255 - s[2]) * k >> 8));
        }
    }
    d->orientation = jpeg_orientation(p, n);
    mlc_free(cmyk);
    tjDestroy(tj);
    *out = im;
    return MLC_OK;
fail:
    mlc_free(cmyk);
    mlc_image_free(im);
    tjDestroy(tj);
    return st;
}

const struct img_decoder img_decoder_jpeg = {"JPEG", jpeg_sniff, jpeg_decode};

/* ---- PNG ----------------------------------------------------------------- */

static int png_sniff(const uint8_t *p, size_t n)
{
    return n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0;
}

struct png_ctx {
    const uint8_t *p;
    size_t n, off;
    char msg[160];
};

static void png_read_cb(png_structp png, png_bytep dst, size_t len)
{
    struct png_ctx *c = png_get_io_ptr(png);
    if (len > c->n - c->off) png_error(png, "truncated PNG (data ends early)");
    memcpy(dst, c->p + c->off, len);
    c->off += len;
}

static void png_error_cb(png_structp png, png_const_charp msg)
{
    struct png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warning_cb(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg;
}

/* libpng 1.6.39 allocates an eXIf chunk's declared length before reading
 * it, with no cap: a 60-byte file could make it allocate 2 GiB. So the
 * chunk headers are walked first (the whole file is in memory): every chunk
 * up to IEND must fit in the bytes that follow it. */
static mlc_status png_chunks_fit(const uint8_t *p, size_t n, mlc_error *err)
{
    size_t off = 8;
    while (off + 8 <= n) {
        uint32_t len = (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 |
                       (uint32_t)p[off + 2] << 8 | p[off + 3];
        char type[5];
        for (int i = 0; i < 4; i++) {
            unsigned char ch = p[off + 4 + (size_t)i];
            type[i] = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ? (char)ch : '?';
        }
        type[4] = '\0';
        if (len > n - off - 8 || n - off - 8 - len < 4)
            return core_err(err, MLC_STATUS_BAD_IMAGE,
                            "truncated PNG: chunk '%s' at offset %zu declares %u bytes, the "
                            "file has %zu left",
                            type, off, len, n - off - 8);
        if (!memcmp(type, "IEND", 4)) break;
        off += 12 + (size_t)len;
    }
    return MLC_OK;
}

static mlc_status png_decode(struct img_dec *d, const uint8_t *p, size_t n, mlc_image **out,
                             mlc_error *err)
{
    struct png_ctx c = {p, n, 0, ""};
    mlc_status st = MLC_OK;
    if ((st = png_chunks_fit(p, n, err))) return st;
    /* IHDR is the first chunk: refuse a bomb before libpng reads on. */
    if (n >= 24 && memcmp(p + 12, "IHDR", 4) == 0) {
        uint32_t w0 = (uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 | (uint32_t)p[18] << 8 | p[19];
        uint32_t h0 = (uint32_t)p[20] << 24 | (uint32_t)p[21] << 16 | (uint32_t)p[22] << 8 | p[23];
        if ((st = img_check_dims(d, w0, h0, err))) return st;
    }
    /* Changed after setjmp, read after longjmp: volatile. */
    mlc_image *volatile im = NULL;
    png_bytep *volatile rows = NULL;
    png_infop info = NULL, end_info = NULL;
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, png_error_cb, png_warning_cb);
    if (png) info = png_create_info_struct(png);
    if (png) end_info = png_create_info_struct(png);
    if (!png || !info || !end_info) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "cannot start the PNG decoder");
        goto fail;
    }
    if (setjmp(png_jmpbuf(png))) {
        st = core_err(err, MLC_STATUS_BAD_IMAGE, "corrupt PNG: %s",
                      c.msg[0] ? c.msg : "libpng error");
        goto fail;
    }
    png_set_read_fn(png, &c, png_read_cb);
    png_read_info(png, info);
    png_uint_32 w = 0, h = 0;
    int depth = 0, ctype = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, NULL, NULL, NULL);
    if ((st = img_check_dims(d, w, h, err))) goto fail;
    /* OpenCV's sequence for IMREAD_COLOR. */
    if (depth == 16) png_set_strip_16(png);
    png_set_strip_alpha(png);
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (!(ctype & PNG_COLOR_MASK_COLOR) && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (ctype & PNG_COLOR_MASK_COLOR)
        png_set_bgr(png);
    else
        png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 3) {
        st = core_err(err, MLC_STATUS_UNSUPPORTED,
                      "PNG layout (colour type %d, depth %d) not supported", ctype, depth);
        goto fail;
    }
    mlc_image *tmp = NULL;
    if ((st = img_new((int)w, (int)h, &tmp, err))) goto fail;
    im = tmp;
    rows = mlc_alloc(sizeof(png_bytep) * h);
    if (!rows) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory for PNG rows");
        goto fail;
    }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = im->px + (size_t)y * im->stride;
    png_read_image(png, rows);
    png_read_end(png, end_info);
#ifdef PNG_eXIf_SUPPORTED
    png_bytep exif = NULL;
    png_uint_32 nexif = 0;
    if (png_get_valid(png, info, PNG_INFO_eXIf))
        png_get_eXIf_1(png, info, &nexif, &exif);
    else if (png_get_valid(png, end_info, PNG_INFO_eXIf))
        png_get_eXIf_1(png, end_info, &nexif, &exif);
    if (exif && nexif) d->orientation = img_exif_orientation(exif, nexif);
#endif
    png_destroy_read_struct(&png, &info, &end_info);
    mlc_free(rows);
    *out = im;
    return MLC_OK;
fail:
    if (png) png_destroy_read_struct(&png, info ? &info : NULL, end_info ? &end_info : NULL);
    mlc_free(rows);
    mlc_image_free(im);
    return st;
}

const struct img_decoder img_decoder_png = {"PNG", png_sniff, png_decode};

/* ---- WebP ---------------------------------------------------------------- */

static int webp_sniff(const uint8_t *p, size_t n)
{
    return n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0;
}

static mlc_status webp_decode(struct img_dec *d, const uint8_t *p, size_t n, mlc_image **out,
                              mlc_error *err)
{
    WebPBitstreamFeatures f;
    mlc_image *im = NULL;
    mlc_status st;
    VP8StatusCode vs = WebPGetFeatures(p, n, &f);
    if (vs != VP8_STATUS_OK)
        return core_err(err, MLC_STATUS_BAD_IMAGE, "%s WebP header (libwebp status %d)",
                        vs == VP8_STATUS_NOT_ENOUGH_DATA ? "truncated" : "corrupt", (int)vs);
    if (f.has_animation)
        return core_err(err, MLC_STATUS_UNSUPPORTED, "animated WebP is not supported");
    if ((st = img_check_dims(d, (uint64_t)f.width, (uint64_t)f.height, err))) return st;
    if ((st = img_new(f.width, f.height, &im, err))) return st;
    if (!WebPDecodeBGRInto(p, n, im->px, im->stride * (size_t)im->h, (int)im->stride)) {
        mlc_image_free(im);
        return core_err(err, MLC_STATUS_BAD_IMAGE, "corrupt or truncated WebP data");
    }
    *out = im;
    return MLC_OK;
}

const struct img_decoder img_decoder_webp = {"WebP", webp_sniff, webp_decode};

/* ---- GIF ----------------------------------------------------------------- */

static int gif_sniff(const uint8_t *p, size_t n)
{
    return n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0);
}

struct gif_src {
    const uint8_t *p;
    size_t n, off;
};

static int gif_read_cb(GifFileType *g, GifByteType *dst, int len)
{
    struct gif_src *s = g->UserData;
    size_t k = len < 0 ? 0 : (size_t)len;
    if (k > s->n - s->off) k = s->n - s->off;
    memcpy(dst, s->p + s->off, k);
    s->off += k;
    return (int)k;
}

static mlc_status gif_decode(struct img_dec *d, const uint8_t *p, size_t n, mlc_image **out,
                             mlc_error *err)
{
    struct gif_src src = {p, n, 0};
    mlc_status st = MLC_OK;
    mlc_image *im = NULL;
    uint8_t *line = NULL;
    int gerr = 0, transparent = -1;
    GifFileType *g = DGifOpen(&src, gif_read_cb, &gerr);
    if (!g)
        return core_err(err, MLC_STATUS_BAD_IMAGE, "corrupt GIF header: %s", GifErrorString(gerr));
    for (;;) {
        GifRecordType rt;
        if (DGifGetRecordType(g, &rt) == GIF_ERROR) goto gif_fail;
        if (rt == TERMINATE_RECORD_TYPE) {
            st = core_err(err, MLC_STATUS_BAD_IMAGE, "GIF has no image frame");
            goto fail;
        }
        if (rt == EXTENSION_RECORD_TYPE) {
            int code = 0;
            GifByteType *ext = NULL;
            if (DGifGetExtension(g, &code, &ext) == GIF_ERROR) goto gif_fail;
            if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4 && (ext[1] & 1))
                transparent = ext[4];
            while (ext) {
                if (DGifGetExtensionNext(g, &ext) == GIF_ERROR) goto gif_fail;
            }
            continue;
        }
        if (rt != IMAGE_DESC_RECORD_TYPE) continue;
        if (DGifGetImageDesc(g) == GIF_ERROR) goto gif_fail;
        GifImageDesc *fd = &g->Image;
        int sw = g->SWidth, sh = g->SHeight;
        if (sw <= 0 || sh <= 0) sw = fd->Left + fd->Width, sh = fd->Top + fd->Height;
        if ((st = img_check_dims(d, (uint64_t)sw, (uint64_t)sh, err))) goto fail;
        if ((st = img_check_dims(d, (uint64_t)fd->Width, (uint64_t)fd->Height, err))) goto fail;
        const ColorMapObject *cm = fd->ColorMap ? fd->ColorMap : g->SColorMap;
        if (!cm) {
            st = core_err(err, MLC_STATUS_BAD_IMAGE, "GIF frame has no colour table");
            goto fail;
        }
        if ((st = img_new(sw, sh, &im, err))) goto fail;
        line = mlc_alloc((size_t)fd->Width);
        if (!line) {
            st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory for a GIF row");
            goto fail;
        }
        static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
        int passes = fd->Interlace ? 4 : 1;
        for (int pass = 0; pass < passes; pass++) {
            int y0 = fd->Interlace ? start[pass] : 0, dy = fd->Interlace ? step[pass] : 1;
            for (int y = y0; y < fd->Height; y += dy) {
                if (DGifGetLine(g, line, fd->Width) == GIF_ERROR) goto gif_fail;
                int cy = fd->Top + y;
                if (cy < 0 || cy >= sh) continue;
                uint8_t *row = im->px + (size_t)cy * im->stride;
                for (int x = 0; x < fd->Width; x++) {
                    int cx = fd->Left + x;
                    if (cx < 0 || cx >= sw) continue;
                    int idx = line[x];
                    if (idx >= cm->ColorCount) continue; /* stays black */
                    row[3 * cx + 0] = cm->Colors[idx].Blue;
                    row[3 * cx + 1] = cm->Colors[idx].Green;
                    row[3 * cx + 2] = cm->Colors[idx].Red;
                }
            }
        }
        (void)transparent; /* palette colour kept, as PIL's convert("RGB") */
        break;
    }
    mlc_free(line);
    DGifCloseFile(g, &gerr);
    *out = im;
    return MLC_OK;
gif_fail:
    st = core_err(err, MLC_STATUS_BAD_IMAGE, "%s GIF: %s",
                  g->Error == D_GIF_ERR_READ_FAILED ? "truncated" : "corrupt",
                  GifErrorString(g->Error));
fail:
    mlc_free(line);
    mlc_image_free(im);
    DGifCloseFile(g, &gerr);
    return st;
}

const struct img_decoder img_decoder_gif = {"GIF", gif_sniff, gif_decode};

/* ---- TIFF ---------------------------------------------------------------- */

static int tiff_sniff(const uint8_t *p, size_t n)
{
    return n >= 4 && ((p[0] == 'I' && p[1] == 'I' && (p[2] == 42 || p[2] == 43) && p[3] == 0) ||
                      (p[0] == 'M' && p[1] == 'M' && p[2] == 0 && (p[3] == 42 || p[3] == 43)));
}

struct tiff_src {
    const uint8_t *p;
    size_t n, off;
    char msg[160];
};

static tmsize_t tiff_read(thandle_t h, void *buf, tmsize_t size)
{
    struct tiff_src *s = h;
    if (size < 0) return -1;
    size_t k = (size_t)size;
    if (s->off >= s->n) return 0;
    if (k > s->n - s->off) k = s->n - s->off;
    memcpy(buf, s->p + s->off, k);
    s->off += k;
    return (tmsize_t)k;
}
static tmsize_t tiff_write(thandle_t h, void *buf, tmsize_t size)
{
    (void)h, (void)buf, (void)size;
    return -1;
}
static toff_t tiff_seek(thandle_t h, toff_t off, int whence)
{
    struct tiff_src *s = h;
    uint64_t base = whence == SEEK_CUR ? s->off : whence == SEEK_END ? s->n : 0;
    uint64_t to = base + off; /* toff_t is unsigned: negative offsets wrap, caught below */
    if (to > s->n) return (toff_t)-1;
    s->off = (size_t)to;
    return to;
}
static int tiff_close(thandle_t h)
{
    (void)h;
    return 0;
}
static toff_t tiff_size(thandle_t h)
{
    return ((struct tiff_src *)h)->n;
}

static int tiff_error_cb(TIFF *t, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)t, (void)module;
    struct tiff_src *s = user;
    if (!s->msg[0]) vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    return 1;
}
static int tiff_warning_cb(TIFF *t, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)t, (void)user, (void)module, (void)fmt, (void)ap;
    return 1;
}

static mlc_status tiff_decode(struct img_dec *d, const uint8_t *p, size_t n, mlc_image **out,
                              mlc_error *err)
{
    struct tiff_src src = {p, n, 0, ""};
    mlc_status st = MLC_OK;
    mlc_image *im = NULL;
    uint32_t *raster = NULL;
    TIFF *t = NULL;
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts) return core_err(err, MLC_STATUS_NO_MEMORY, "cannot start the TIFF decoder");
    TIFFOpenOptionsSetErrorHandlerExtR(opts, tiff_error_cb, &src);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, tiff_warning_cb, &src);
    /* Bound libtiff's own allocations (strip buffers) by the input limits. */
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts,
                                        (tmsize_t)(d->limits.max_image_pixels * 8 + (1 << 20)));
    t = TIFFClientOpenExt("mem", "rm", &src, tiff_read, tiff_write, tiff_seek, tiff_close,
                          tiff_size, NULL, NULL, opts);
    if (!t) {
        st = core_err(err, MLC_STATUS_BAD_IMAGE, "corrupt TIFF header: %s",
                      src.msg[0] ? src.msg : "libtiff error");
        goto fail;
    }
    uint32_t w = 0, h = 0;
    uint16_t orient = ORIENTATION_TOPLEFT;
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(t, TIFFTAG_ORIENTATION, &orient);
    if ((st = img_check_dims(d, w, h, err))) goto fail;
    char emsg[1024] = "";
    if (!TIFFRGBAImageOK(t, emsg)) {
        st = core_err(err, MLC_STATUS_UNSUPPORTED, "TIFF layout not supported: %s", emsg);
        goto fail;
    }
    raster = mlc_alloc((size_t)w * h * 4);
    if (!raster) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory for a %ux%u TIFF", w, h);
        goto fail;
    }
    /* Ask for the orientation the file already has so that libtiff flips
     * nothing: rows come out as stored and image.c applies the tag. */
    int req;
    switch (orient) {
    case ORIENTATION_TOPRIGHT:
    case ORIENTATION_RIGHTTOP:
        req = ORIENTATION_TOPRIGHT;
        break;
    case ORIENTATION_BOTRIGHT:
    case ORIENTATION_RIGHTBOT:
        req = ORIENTATION_BOTRIGHT;
        break;
    case ORIENTATION_BOTLEFT:
    case ORIENTATION_LEFTBOT:
        req = ORIENTATION_BOTLEFT;
        break;
    default:
        req = ORIENTATION_TOPLEFT;
        break;
    }
    if (!TIFFReadRGBAImageOriented(t, w, h, raster, req, 1)) {
        st = core_err(err, MLC_STATUS_BAD_IMAGE, "corrupt or truncated TIFF: %s",
                      src.msg[0] ? src.msg : "libtiff error");
        goto fail;
    }
    if ((st = img_new((int)w, (int)h, &im, err))) goto fail;
    for (size_t i = 0, np = (size_t)w * h; i < np; i++) {
        uint32_t v = raster[i];
        im->px[3 * i + 0] = (uint8_t)TIFFGetB(v);
        im->px[3 * i + 1] = (uint8_t)TIFFGetG(v);
        im->px[3 * i + 2] = (uint8_t)TIFFGetR(v);
    }
    d->orientation = orient >= 1 && orient <= 8 ? orient : 1;
    mlc_free(raster);
    TIFFClose(t);
    TIFFOpenOptionsFree(opts);
    *out = im;
    return MLC_OK;
fail:
    mlc_free(raster);
    mlc_image_free(im);
    if (t) TIFFClose(t);
    TIFFOpenOptionsFree(opts);
    return st;
}

const struct img_decoder img_decoder_tiff = {"TIFF", tiff_sniff, tiff_decode};
