/*
 * batch_forward.c - measures whether batching concurrent requests for one
 * model into one forward pass would pay: time per image of mlc_classify on
 * 1 image (called B times) against one call on B images, single thread, same
 * session. Only the public API. Used to decide the server's batching (see
 * docs/SERVER.md); not part of the build or of CI.
 *
 *   cc -O2 -Iinclude bench/load/batch_forward.c <release libs...> -o /tmp/batch_forward
 *   /tmp/batch_forward models/demo samples/01.jpg [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mlc.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: batch_forward MODEL_DIR IMAGE [iterations]\n");
        return 2;
    }
    int iters = argc > 3 ? atoi(argv[3]) : 50;
    mlc_error e;
    mlc_model_options mo;
    mlc_model_options_default(&mo);
    mo.threads = 1; /* as a server worker runs on a 2-core box */
    mlc_model *m = NULL;
    mlc_session *s = NULL;
    mlc_image *im = NULL;
    if (mlc_model_load(argv[1], &mo, &m, &e) || mlc_session_create(m, &s, &e) ||
        mlc_image_load(MLC_INPUT_PATH, argv[2], 0, NULL, &im, &e)) {
        fprintf(stderr, "batch_forward: %s\n", e.message);
        return 1;
    }
    const mlc_image *imgs[16];
    for (int i = 0; i < 16; i++) imgs[i] = im;
    static const int sizes[] = {1, 2, 4, 8, 16};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int b = sizes[k];
        mlc_result *r = NULL;
        if (mlc_classify(s, imgs, (size_t)b, mlc_confidence_value(0.5), &r, &e)) { /* warm */
            fprintf(stderr, "batch %d: %s\n", b, e.message);
            continue;
        }
        mlc_result_free(r);
        double t0 = now();
        for (int it = 0; it < iters; it++) {
            mlc_classify(s, imgs, (size_t)b, mlc_confidence_value(0.5), &r, &e);
            mlc_result_free(r);
        }
        double per_img = (now() - t0) / iters / b * 1e3;
        printf("batch %2d: %.3f ms per image (%.1f images/s)\n", b, per_img, 1e3 / per_img);
    }
    mlc_image_free(im);
    mlc_session_free(s);
    mlc_model_free(m);
    return 0;
}
