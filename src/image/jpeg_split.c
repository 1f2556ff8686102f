/*
 * jpeg_split.c - a large baseline JPEG decoded on two threads, the same
 * pixels as one TurboJPEG call (MLC_IMAGE_TWO_THREADS).
 *
 * Why: a 1280x720 photo takes about 3 ms to decode here, most of the
 * pipeline around a small network, and without restart markers the entropy
 * coded data can only be read from the start. So the calling thread decodes
 * the top rows, while a second decoder reads the same bytes on a helper
 * thread, skips the top with jpeg_skip_scanlines (entropy decoding only: no
 * IDCT, upsampling or colour conversion, libjpeg-turbo keeps the upsampling
 * context across the skip) and decodes the rest. Entropy decoding is about
 * 60% of the work, so the split sits near 70% of the rows and the decode
 * takes about 0.7 of the time, for about 45% more CPU: opt-in, for callers
 * that want latency.
 *
 * Both decoders use libjpeg's defaults as TurboJPEG does (accurate integer
 * IDCT, fancy upsampling) and write BGR rows straight into the image.
 *
 * Not here: anything the single-call path does differently (CMYK, grey,
 * progressive and other multi-scan files, warnings). Those, and any error or
 * warning met here, send the caller back to the one-thread decode, whose
 * messages it reports; a file that decodes cleanly on one thread decodes
 * cleanly here.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <unistd.h>

/* after stdio.h, which it needs */
#include <jpeglib.h>

#include "image/decode_int.h"

struct half {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr jerr;
    jmp_buf jb;
    const uint8_t *p;
    size_t n;
    mlc_image *im;
    int from, to; /* rows [from, to) */
    int ok;
};

static void on_error(j_common_ptr c)
{
    struct half *h = (struct half *)(void *)c;
    longjmp(h->jb, 1);
}

/* Any warning (corrupt data, premature end): this path gives up. */
static void on_message(j_common_ptr c, int level)
{
    if (level < 0) on_error(c);
}

/* Decodes rows [h->from, h->to) of the image; h->ok tells whether it did. */
static void half_run(struct half *h)
{
    struct jpeg_decompress_struct *c = &h->cinfo;
    /* cinfo is first in struct half, so the error handlers find h from it. */
    c->err = jpeg_std_error(&h->jerr);
    h->jerr.error_exit = on_error;
    h->jerr.emit_message = on_message;
    /* Before create: it reports a failed allocation through on_error. */
    if (setjmp(h->jb)) goto done;
    jpeg_create_decompress(c);
    jpeg_mem_src(c, h->p, (unsigned long)h->n);
    /* One scan only: several would make each decoder buffer the whole
     * image's coefficients before its first row. */
    if (jpeg_read_header(c, TRUE) != JPEG_HEADER_OK || jpeg_has_multiple_scans(c) ||
        c->jpeg_color_space != JCS_YCbCr || c->num_components != 3 ||
        (int)c->image_width != h->im->w || (int)c->image_height != h->im->h)
        goto done;
    c->out_color_space = JCS_EXT_BGR;
    if (!jpeg_start_decompress(c) || c->output_components != 3) goto done;
    if (h->from > 0 && jpeg_skip_scanlines(c, (JDIMENSION)h->from) != (JDIMENSION)h->from)
        goto done;
    while ((int)c->output_scanline < h->to) {
        JSAMPROW row = h->im->px + (size_t)c->output_scanline * h->im->stride;
        if (jpeg_read_scanlines(c, &row, 1) != 1) goto done;
    }
    /* The bottom half reads on to the end marker, as the one-thread decode
     * does: a file cut after its last row is an error there too. */
    if (h->to == h->im->h) jpeg_finish_decompress(c);
    h->ok = 1;
done:
    jpeg_destroy_decompress(c);
}

static void *half_thread(void *arg)
{
    half_run(arg);
    return NULL;
}

int img_jpeg_split(const uint8_t *p, size_t n, mlc_image *im)
{
    /* Split on a multiple of 16 rows (the tallest iMCU row) at 70%. */
    int cut = (int)((int64_t)im->h * 7 / 10) & ~15;
    if (cut <= 0 || cut >= im->h || sysconf(_SC_NPROCESSORS_ONLN) < 2) return -1;
    struct half top = {.p = p, .n = n, .im = im, .from = 0, .to = cut};
    struct half bot = {.p = p, .n = n, .im = im, .from = cut, .to = im->h};
    pthread_t th;
    if (pthread_create(&th, NULL, half_thread, &bot)) return -1;
    half_run(&top);
    pthread_join(th, NULL);
    return top.ok && bot.ok ? 0 : -1;
}
