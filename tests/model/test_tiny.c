/*
 * test_tiny.c - end to end on the tiny packages of tests/data/model/ (made by
 * tools/preproc_ref/make_tiny_model.py): scores equal numpy's, "best"
 * thresholds from model_config.json, and a static batch of 2 fed 3 images
 * (the last chunk padded, padding rows dropped) equals the dynamic package.
 */
#include <jansson.h>

#include "core/core.h"
#include "mlc.h"
#include "test.h"

static mlc_image *img;

static mlc_result *classify(const char *pkg, size_t n, mlc_confidence conf, int *static_batch)
{
    mlc_model *m = NULL;
    mlc_session *s = NULL;
    mlc_result *r = NULL;
    mlc_error err = {0};
    const mlc_image *ims[3] = {img, img, img};
    CHECK_OK(mlc_model_load(test_path(pkg), NULL, &m, &err), &err);
    if (m) CHECK_OK(mlc_session_create(m, &s, &err), &err);
    if (s) CHECK_OK(mlc_classify(s, ims, n, conf, &r, &err), &err);
    if (static_batch) *static_batch = m ? mlc_model_static_batch(m) : -1;
    mlc_session_free(s);
    mlc_model_free(m);
    return r;
}

static void test_scores(void)
{
    json_error_t je;
    json_t *exp = json_load_file(test_path("tests/data/model/tiny_expected.json"), 0, &je);
    json_t *sc = json_object_get(exp, "scores");
    mlc_result *r = classify("tests/data/model/tiny", 1, mlc_confidence_best(), NULL);
    for (int c = 0; r && c < 4; c++)
        CHECK_NEAR(mlc_result_score(r, c), json_real_value(json_array_get(sc, (size_t)c)), 1e-4);
    /* best: red 0.3, bright 0.9, others the global 0.5 */
    if (r) {
        CHECK(mlc_result_threshold(r, 0) == 0.3 && mlc_result_threshold(r, 1) == 0.5 &&
              mlc_result_threshold(r, 3) == 0.9);
        CHECK(mlc_result_is_predicted(r, 0) && mlc_result_is_predicted(r, 1));
        CHECK(!mlc_result_is_predicted(r, 2) && !mlc_result_is_predicted(r, 3));
    }
    mlc_result_free(r);
    /* "default" for resnet is 0.4: bright (0.4637) now passes */
    r = classify("tests/data/model/tiny", 1, mlc_confidence_default(), NULL);
    if (r) CHECK(mlc_result_is_predicted(r, 3) && !mlc_result_is_predicted(r, 2));
    mlc_result_free(r);
    json_decref(exp);
}

static void test_static_batch(void)
{
    int sb = 0, db = 0;
    mlc_result *a = classify("tests/data/model/tiny_static2", 3, mlc_confidence_value(0.5), &sb);
    mlc_result *b = classify("tests/data/model/tiny", 3, mlc_confidence_value(0.5), &db);
    CHECK(sb == 2 && db == 0);
    for (size_t i = 0; a && b && i < 3; i++)
        for (int c = 0; c < 4; c++)
            CHECK_NEAR(mlc_result_score(mlc_result_at(a, i), c),
                       mlc_result_score(mlc_result_at(b, i), c), 1e-6);
    /* one inference id per call, the same time for the batch */
    if (a)
        CHECK(!strcmp(mlc_result_inference_id(mlc_result_at(a, 0)),
                      mlc_result_inference_id(mlc_result_at(a, 2))));
    mlc_result_free(a);
    mlc_result_free(b);
}

/* Every allocation of loading the package (files, parsers, ONNX graph),
 * creating a session and classifying fails in turn: NO_MEMORY each time,
 * nothing leaked (LeakSanitizer and the live-byte count), until the whole
 * sequence succeeds. */
static void test_alloc_failures(void)
{
    size_t live = core_alloc_live_bytes();
    const mlc_image *ims[1] = {img};
    long n;
    for (n = 1; n < 20000; n++) {
        mlc_model *m = NULL;
        mlc_session *s = NULL;
        mlc_result *r = NULL;
        mlc_error err = {0};
        core_alloc_fail_after(n);
        mlc_status st = mlc_model_load(test_path("tests/data/model/tiny"), NULL, &m, &err);
        if (!st) st = mlc_session_create(m, &s, &err);
        if (!st) st = mlc_classify(s, ims, 1, mlc_confidence_best(), &r, &err);
        core_alloc_fail_after(0);
        mlc_result_free(r);
        mlc_session_free(s);
        mlc_model_free(m);
        if (st == MLC_OK) break;
        CHECK_MSG(st == MLC_STATUS_NO_MEMORY, "allocation %ld: status %d: %s", n, (int)st,
                  err.message);
        CHECK_MSG(core_alloc_live_bytes() == live, "allocation %ld: %zu bytes leaked", n,
                  core_alloc_live_bytes() - live);
        if (test_cur_failed) break; /* one report is enough */
    }
    CHECK_MSG(n > 20 && n < 20000, "walk ended at %ld", n);
    fprintf(stderr, "allocation walk: %ld allocations\n", n - 1);
}

int main(void)
{
    mlc_error err = {0};
    if (mlc_image_load(MLC_INPUT_PATH, test_path("tests/data/model/preproc/src.png"), 0, NULL, &img,
                       &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    TEST_RUN(test_scores);
    TEST_RUN(test_static_batch);
    TEST_RUN(test_alloc_failures);
    mlc_image_free(img);
    TEST_DONE();
}
