/*
 * jpeg.c - the JPEG measurements behind docs/PERFORMANCE.md's "JPEG
 * decoding on two threads", rerunnable on any JPEG:
 *   - one TurboJPEG decode (what mlc does on one thread);
 *   - libjpeg skipping the top half with jpeg_skip_scanlines and decoding
 *     the rest: how much of a decode the entropy decoding alone is;
 *   - img_jpeg_split (src/image/jpeg_split.c), and whether its pixels equal
 *     the one-thread decode's.
 * Medians of 50 runs after 5 warm-ups; asserts nothing.
 *   build-release/bench/micro/mlc_micro_jpeg build/bench-out/photo_1280x720.jpg
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <turbojpeg.h>

#include "image/decode_int.h"
#include "micro.h"

/* Rows [from, h) of the file into px with libjpeg (BGR). */
static void rows_from(const unsigned char *p, size_t n, unsigned char *px, int w, int from)
{
    struct jpeg_decompress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, p, (unsigned long)n);
    jpeg_read_header(&c, TRUE);
    c.out_color_space = JCS_EXT_BGR;
    jpeg_start_decompress(&c);
    if (from > 0) jpeg_skip_scanlines(&c, (JDIMENSION)from);
    while (c.output_scanline < c.output_height) {
        JSAMPROW r = px + (size_t)c.output_scanline * (size_t)w * 3;
        jpeg_read_scanlines(&c, &r, 1);
    }
    jpeg_destroy_decompress(&c);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mlc_micro_jpeg FILE.jpg\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    unsigned char *p = n > 0 ? malloc((size_t)n) : NULL;
    if (!p || fseek(f, 0, SEEK_SET) || fread(p, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    tjhandle tj = tjInitDecompress();
    int w, h, sub, cs;
    if (tjDecompressHeader3(tj, p, (unsigned long)n, &w, &h, &sub, &cs)) {
        fprintf(stderr, "%s: %s\n", argv[1], tjGetErrorStr2(tj));
        return 1;
    }
    mlc_image *im = NULL;
    mlc_error err;
    if (img_new(w, h, &im, &err)) return 1;
    unsigned char *ref = malloc((size_t)w * h * 3), *px = malloc((size_t)w * h * 3);
    double t[4][50];
    int split_ok = 1;
    for (int i = 0; i < 55; i++) {
        double a = now_ms();
        tjDecompress2(tj, p, (unsigned long)n, ref, w, w * 3, h, TJPF_BGR, 0);
        double b = now_ms();
        rows_from(p, (size_t)n, px, w, 0);
        double c = now_ms();
        rows_from(p, (size_t)n, px, w, h / 2);
        double d = now_ms();
        split_ok &= img_jpeg_split(p, (size_t)n, im) == 0;
        double e = now_ms();
        if (i >= 5)
            t[0][i - 5] = b - a, t[1][i - 5] = c - b, t[2][i - 5] = d - c, t[3][i - 5] = e - d;
    }
    for (int k = 0; k < 4; k++) qsort(t[k], 50, sizeof(double), cmp);
    double full = 0.5 * (t[1][24] + t[1][25]), half = 0.5 * (t[2][24] + t[2][25]);
    printf("%s: %dx%d\n", argv[1], w, h);
    printf("TurboJPEG, one thread    %.3f ms\n", 0.5 * (t[0][24] + t[0][25]));
    printf("libjpeg, all rows        %.3f ms\n", full);
    printf("libjpeg, skip top half   %.3f ms (skipping half the rows costs %.2f of a decode)\n",
           half, (half - full / 2) / full);
    if (split_ok)
        printf("img_jpeg_split           %.3f ms, pixels %s\n", 0.5 * (t[3][24] + t[3][25]),
               memcmp(ref, im->px, (size_t)w * h * 3) ? "DIFFER" : "equal");
    else
        printf("img_jpeg_split           declined this file\n");
    mlc_image_free(im);
    tjDestroy(tj);
    free(ref), free(px), free(p);
    return 0;
}
