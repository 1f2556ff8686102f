/*
 * bmp.c - our own Windows BMP reader, producing the pixels OpenCV's BMP
 * decoder gives with IMREAD_COLOR.
 *
 * Accepted layout: "BM" file header (14 bytes: pixel data offset at 10),
 * then an info header of 12 (OS/2 core: 16-bit size, 3-byte palette
 * entries) or 40..124 bytes (Windows: 32-bit size, 4-byte palette entries).
 * Bit depths 1/4/8 (palette), 16 (5-5-5, or 5-6-5 with BI_BITFIELDS), 24,
 * 32 (B,G,R,A bytes: alpha dropped). Positive height is bottom-up,
 * negative top-down. Rows are padded to 4 bytes. RLE4/RLE8, JPEG/PNG
 * payloads and unusual bit fields are refused (UNSUPPORTED).
 *
 * Invariants: every read is bounds-checked against n before it happens;
 * the declared size is checked against the pixel limit before any
 * allocation; a palette index beyond the table gives black (OpenCV zeroes
 * the unused entries).
 */
#include <string.h>

#include "image/decode_int.h"

static int bmp_sniff(const uint8_t *p, size_t n)
{
    return n >= 2 && p[0] == 'B' && p[1] == 'M';
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static unsigned le16(const uint8_t *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static mlc_status bmp_decode(struct img_dec *d, const uint8_t *p, size_t n, mlc_image **out,
                             mlc_error *err)
{
    if (n < 14 + 12)
        return core_err(err, MLC_STATUS_BAD_IMAGE, "truncated BMP header (%zu bytes)", n);
    uint32_t offset = le32(p + 10), hsize = le32(p + 14);
    int64_t w, h;
    unsigned bpp, compression = 0, clrused = 0, pal_entry;
    if (hsize == 12) {
        w = le16(p + 18);
        h = (int16_t)le16(p + 20);
        bpp = le16(p + 24);
        pal_entry = 3;
    } else if (hsize >= 40 && hsize <= 124) {
        if (n < 14 + (size_t)hsize)
            return core_err(err, MLC_STATUS_BAD_IMAGE, "truncated BMP info header");
        w = (int32_t)le32(p + 18);
        h = (int32_t)le32(p + 22);
        bpp = le16(p + 28);
        compression = le32(p + 30);
        clrused = le32(p + 46);
        pal_entry = 4;
    } else {
        return core_err(err, MLC_STATUS_BAD_IMAGE,
                        "BMP info header of %u bytes is not a known version", hsize);
    }
    int bottom_up = h > 0;
    if (h < 0) h = -h;
    if (w <= 0 || h == 0)
        return core_err(err, MLC_STATUS_BAD_IMAGE,
                        "BMP declares an empty or negative size %lldx%lld", (long long)w,
                        (long long)h);
    mlc_status st = img_check_dims(d, (uint64_t)w, (uint64_t)h, err);
    if (st) return st;
    if (compression == 1 || compression == 2)
        return core_err(err, MLC_STATUS_UNSUPPORTED, "RLE-compressed BMP is not supported");
    int is565 = 0;
    if (compression ==
        3) { /* BI_BITFIELDS: masks inside a >= 52-byte header or right after a 40-byte one */
        size_t mo = 14 + 40;
        if (mo + 12 > n) return core_err(err, MLC_STATUS_BAD_IMAGE, "truncated BMP bit masks");
        uint32_t rm = le32(p + mo), gm = le32(p + mo + 4), bm = le32(p + mo + 8);
        if (bpp == 16 && rm == 0xF800 && gm == 0x7E0 && bm == 0x1F)
            is565 = 1;
        else if (bpp == 16 && rm == 0x7C00 && gm == 0x3E0 && bm == 0x1F)
            is565 = 0;
        else if (bpp != 32)
            return core_err(err, MLC_STATUS_UNSUPPORTED,
                            "BMP bit fields %08x/%08x/%08x at %u bits are not supported", rm, gm,
                            bm, bpp);
    } else if (compression != 0) {
        return core_err(err, MLC_STATUS_UNSUPPORTED, "BMP compression %u is not supported",
                        compression);
    }
    if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32)
        return core_err(err, MLC_STATUS_UNSUPPORTED, "BMP with %u bits per pixel is not supported",
                        bpp);

    uint8_t pal[256][3];
    memset(pal, 0, sizeof pal);
    if (bpp <= 8) {
        unsigned count = clrused ? clrused : 1u << bpp;
        if (count > 256)
            return core_err(err, MLC_STATUS_BAD_IMAGE, "BMP palette of %u colours", count);
        size_t po = 14 + (size_t)hsize;
        if (po + (size_t)count * pal_entry > n)
            return core_err(err, MLC_STATUS_BAD_IMAGE, "truncated BMP palette");
        for (unsigned i = 0; i < count; i++) memcpy(pal[i], p + po + (size_t)i * pal_entry, 3);
    }
    size_t row_bytes = (((size_t)w * bpp + 31) / 32) * 4;
    if (offset > n || (size_t)h > (n - offset) / row_bytes)
        return core_err(err, MLC_STATUS_BAD_IMAGE,
                        "truncated BMP pixel data (%zu bytes for %lld rows of %zu)",
                        n > offset ? n - offset : 0, (long long)h, row_bytes);
    mlc_image *im = NULL;
    if ((st = img_new((int)w, (int)h, &im, err))) return st;
    for (int64_t y = 0; y < h; y++) {
        const uint8_t *s = p + offset + (size_t)y * row_bytes;
        uint8_t *o = im->px + (size_t)(bottom_up ? h - 1 - y : y) * im->stride;
        for (int64_t x = 0; x < w; x++, o += 3) {
            unsigned idx, t;
            switch (bpp) {
            case 1:
                idx = s[x >> 3] >> (7 - (x & 7)) & 1;
                memcpy(o, pal[idx], 3);
                break;
            case 4:
                idx = s[x >> 1] >> ((x & 1) ? 0 : 4) & 15;
                memcpy(o, pal[idx], 3);
                break;
            case 8:
                memcpy(o, pal[s[x]], 3);
                break;
            case 16:
                /* OpenCV shifts without replicating the top bits. */
                t = le16(s + 2 * x);
                o[0] = (uint8_t)(t << 3);
                if (is565) {
                    o[1] = (uint8_t)((t >> 3) & ~3u);
                    o[2] = (uint8_t)((t >> 8) & ~7u);
                } else {
                    o[1] = (uint8_t)((t >> 2) & ~7u);
                    o[2] = (uint8_t)((t >> 7) & ~7u);
                }
                break;
            case 24:
                memcpy(o, s + 3 * x, 3);
                break;
            default:
                memcpy(o, s + 4 * x, 3);
                break;
            }
        }
    }
    *out = im;
    return MLC_OK;
}

const struct img_decoder img_decoder_bmp = {"BMP", bmp_sniff, bmp_decode};
