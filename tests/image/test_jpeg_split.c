/*
 * test_jpeg_split.c - MLC_IMAGE_TWO_THREADS (src/image/jpeg_split.c) gives
 * the one-thread decode's pixels, byte for byte, on photo-like JPEGs made
 * here with libjpeg (every chroma subsampling, odd sizes, restart markers);
 * it really splits the files it should and declines the others (grey,
 * progressive, several scans); and damaged files give the same status and message
 * on both paths.
 */
#include <stdio.h>

#include <jpeglib.h>

#include "core/core.h"
#include "image/decode_int.h"
#include "mlc.h"
#include "test.h"

/* A w x h photo-like picture: gradients, edges and noise, so that the
 * entropy coder has real work and chroma differs from luma. */
static uint8_t *picture(int w, int h, unsigned seed)
{
    uint8_t *px = mlc_alloc((size_t)w * (size_t)h * 3);
    if (!px) return NULL;
    unsigned r = seed;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            r = r * 1103515245u + 12345u;
            int noise = (int)(r >> 27) - 16;
            uint8_t *p = px + ((size_t)y * (size_t)w + (size_t)x) * 3;
            int band = ((x / 37) ^ (y / 23)) & 1 ? 60 : 0;
            p[0] = (uint8_t)((x * 255 / w + noise + 256) % 256);
            p[1] = (uint8_t)((y * 255 / h + band + 256) % 256);
            p[2] = (uint8_t)(((x + y) * 3 + noise * 2 + 512) % 256);
        }
    return px;
}

struct enc {
    int w, h;
    int hs, vs;      /* luma sampling factors (chroma 1x1); 0: grey */
    int restart;     /* restart interval in MCUs, 0 none */
    int progressive; /* 1: jpeg_simple_progression; 2: sequential, a scan per component */
};

/* The picture as a JPEG in memory (caller frees with free()). */
static unsigned char *encode(const struct enc *e, unsigned long *n)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *out = NULL;
    uint8_t *px = picture(e->w, e->h, 7u + (unsigned)e->w);
    if (!px) return NULL;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, n);
    c.image_width = (JDIMENSION)e->w;
    c.image_height = (JDIMENSION)e->h;
    c.input_components = 3;
    c.in_color_space = JCS_EXT_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    if (e->hs) {
        c.comp_info[0].h_samp_factor = e->hs;
        c.comp_info[0].v_samp_factor = e->vs;
    } else {
        jpeg_set_colorspace(&c, JCS_GRAYSCALE);
    }
    c.restart_interval = (unsigned)e->restart;
    static jpeg_scan_info per_comp[3] = {
        {1, {0}, 0, 63, 0, 0}, {1, {1}, 0, 63, 0, 0}, {1, {2}, 0, 63, 0, 0}};
    if (e->progressive == 1) jpeg_simple_progression(&c);
    if (e->progressive == 2) c.scan_info = per_comp, c.num_scans = 3;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = px + (size_t)c.next_scanline * (size_t)e->w * 3;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    mlc_free(px);
    return out;
}

static mlc_status decode(const void *p, size_t n, unsigned flags, mlc_image **im, mlc_error *err)
{
    *im = NULL;
    return mlc_image_decode(p, n, flags | MLC_IMAGE_NO_AUTO_ORIENT, NULL, im, err);
}

static int same_pixels(const mlc_image *a, const mlc_image *b)
{
    size_t sa, sb;
    const uint8_t *pa = mlc_image_bgr(a, &sa), *pb = mlc_image_bgr(b, &sb);
    return mlc_image_width(a) == mlc_image_width(b) && mlc_image_height(a) == mlc_image_height(b) &&
           sa == sb && memcmp(pa, pb, sa * (size_t)mlc_image_height(a)) == 0;
}

static void test_same_pixels(void)
{
    const struct enc cases[] = {
        {1280, 720, 2, 2, 0, 0},  /* 4:2:0, the common photo */
        {1001, 777, 2, 2, 0, 0},  /* odd sizes: partial MCUs at both edges */
        {1000, 700, 2, 1, 0, 0},  /* 4:2:2 */
        {900, 900, 1, 1, 0, 0},   /* 4:4:4: iMCU rows of 8 */
        {800, 1000, 1, 2, 0, 0},  /* 4:4:0 */
        {1280, 720, 2, 2, 5, 0},  /* restart markers */
        {1280, 720, 0, 0, 0, 0},  /* grey: declined */
        {1280, 720, 2, 2, 0, 1},  /* progressive: declined */
        {1280, 720, 2, 2, 0, 2},  /* sequential, one scan per component: declined */
        {640, 480, 2, 2, 0, 0},   /* below the size the split is for */
        {4000, 3000, 2, 2, 0, 0}, /* 12 MP */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct enc *e = &cases[i];
        unsigned long n = 0;
        unsigned char *jpg = encode(e, &n);
        CHECK(jpg != NULL);
        if (!jpg) continue;
        mlc_image *one = NULL, *two = NULL, *direct = NULL;
        mlc_error err;
        CHECK_OK(decode(jpg, n, 0, &one, &err), &err);
        CHECK_OK(decode(jpg, n, MLC_IMAGE_TWO_THREADS, &two, &err), &err);
        if (one && two)
            CHECK_MSG(same_pixels(one, two), "case %zu (%dx%d): pixels differ", i, e->w, e->h);
        /* Whether the split itself takes the file, and then its pixels. */
        CHECK_OK(img_new(e->w, e->h, &direct, &err), &err);
        int want = e->hs && !e->progressive;
        int got = direct ? img_jpeg_split(jpg, n, direct) == 0 : -1;
        CHECK_MSG(got == want, "case %zu: split %d, expected %d", i, got, want);
        if (got == 1 && one) CHECK_MSG(same_pixels(one, direct), "case %zu: split pixels", i);
        mlc_image_free(one);
        mlc_image_free(two);
        mlc_image_free(direct);
        free(jpg);
    }
}

static void test_damage(void)
{
    /* Cut and corrupted files: the same status, message and (when decoded)
     * pixels on both paths, whichever half the damage falls in. */
    struct enc e = {1280, 720, 2, 2, 0, 0};
    unsigned long n = 0;
    unsigned char *jpg = encode(&e, &n);
    CHECK(jpg != NULL);
    if (!jpg) return;
    unsigned char *bad = malloc(n);
    CHECK(bad != NULL);
    for (int k = 0; bad && k < 14; k++) {
        size_t len = n;
        memcpy(bad, jpg, n);
        if (k < 6) {
            len = n * (size_t)(k + 2) / 8; /* cut */
        } else if (k >= 12) {
            len = n - (size_t)(k - 11); /* the end marker cut */
        } else {
            for (size_t j = n * (size_t)(k - 5) / 7; j < n * (size_t)(k - 5) / 7 + 16 && j < n; j++)
                bad[j] ^= 0xA5;
        }
        mlc_image *a = NULL, *b = NULL;
        mlc_error ea = {0}, eb = {0};
        mlc_status sa = decode(bad, len, 0, &a, &ea),
                   sb = decode(bad, len, MLC_IMAGE_TWO_THREADS, &b, &eb);
        CHECK_MSG(sa == sb, "damage %d: status %d vs %d", k, (int)sa, (int)sb);
        if (sa && sb)
            CHECK_MSG(!strcmp(ea.message, eb.message), "damage %d: '%s' vs '%s'", k, ea.message,
                      eb.message);
        if (k < 6 || k >= 12) CHECK_MSG(sa == MLC_STATUS_BAD_IMAGE, "cut %d decoded", k);
        if (a && b) CHECK_MSG(same_pixels(a, b), "damage %d: pixels differ", k);
        mlc_image_free(a);
        mlc_image_free(b);
    }
    free(bad);
    free(jpg);
}

int main(void)
{
    TEST_RUN(test_same_pixels);
    TEST_RUN(test_damage);
    TEST_DONE();
}
