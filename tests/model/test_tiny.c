/*
 * test_tiny.c - end to end on the tiny packages of tests/data/model/ (made by
 * tools/preproc_ref/make_tiny_model.py): scores equal numpy's, "best"
 * thresholds from model_config.json, and a static batch of 2 fed 3 images
 * (the last chunk padded, padding rows dropped) equals the dynamic package.
 */
#include <jansson.h>

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
    mlc_image_free(img);
    TEST_DONE();
}
