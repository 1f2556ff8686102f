/*
 * workflow.c - a compiled workflow run again and again on the same images:
 * the median of mlc_workflow_run's time, for docs/PERFORMANCE.md's
 * "Workflows keep their sessions" (whether a block call's cost includes
 * making a session and binding its plan). Not a test: it asserts nothing.
 *   build-release/bench/micro/mlc_micro_workflow WORKFLOW.json IMAGE [COPIES] [RUNS]
 * The workflow's input "image" gets COPIES (default 4) file images of IMAGE;
 * the first 2 of RUNS (default 40) are warm-ups.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "micro.h"
#include "mlc.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: mlc_micro_workflow WORKFLOW.json IMAGE [COPIES] [RUNS]\n");
        return 2;
    }
    int copies = argc > 3 ? atoi(argv[3]) : 4, runs = argc > 4 ? atoi(argv[4]) : 40;
    if (copies < 1 || copies > 64 || runs < 3 || runs > 10000) return 2;
    char *def = NULL, *out = NULL;
    size_t n = 0;
    mlc_error err;
    mlc_workflow *wf = NULL;
    struct core_buf in;
    core_buf_init(&in, 0);
    core_buf_printf(&in, "{\"image\": [");
    for (int i = 0; i < copies; i++)
        core_buf_printf(&in, "%s{\"type\": \"file\", \"value\": \"%s\"}", i ? ", " : "", argv[2]);
    core_buf_printf(&in, "]}");
    double *t = mlc_alloc(sizeof *t * (size_t)runs);
    int rc = 1;
    if (!t || !in.data || core_read_file(argv[1], 1u << 20, &def, &n, &err) ||
        mlc_workflow_compile(def, n, NULL, &wf, &err)) {
        fprintf(stderr, "%s\n", t && in.data ? err.message : "out of memory");
        goto done;
    }
    for (int r = 0; r < runs; r++) {
        double a = now_ms();
        if (mlc_workflow_run(wf, in.data, in.len, &out, &err)) {
            fprintf(stderr, "%s\n", err.message);
            goto done;
        }
        t[r] = now_ms() - a;
        mlc_free(out);
        out = NULL;
    }
    qsort(t + 2, (size_t)runs - 2, sizeof *t, cmp);
    printf("%d images per run: median of %d runs %.3f ms, min %.3f\n", copies, runs - 2,
           t[2 + (runs - 2) / 2], t[2]);
    rc = 0;
done:
    mlc_workflow_free(wf);
    mlc_free(def);
    mlc_free(t);
    core_buf_free(&in);
    return rc;
}
