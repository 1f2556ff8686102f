/*
 * test_tiny.c - end to end on the tiny packages of tests/data/model/ (made by
 * tools/preproc_ref/make_tiny_model.py): scores equal numpy's, "best"
 * thresholds from model_config.json, and a static batch of 2 fed 3 images
 * (the last chunk padded, padding rows dropped) equals the dynamic package.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

/* Copies the tiny package into a temp dir with weights.onnx replaced by
 * the first `keep` bytes of the real one (or by `junk` when given). */
static char *package_with_weights(const char *junk, size_t keep)
{
    char tmpl[] = "/tmp/mlc-pkg-XXXXXX";
    if (!mkdtemp(tmpl)) return NULL;
    static const char *files[] = {"inference_config.json", "model_config.json", "class_names.txt",
                                  "weights.onnx"};
    for (int i = 0; i < 4; i++) {
        char *src = core_sprintf("%s/%s", test_path("tests/data/model/tiny"), files[i]);
        char *dst = core_sprintf("%s/%s", tmpl, files[i]), *d = NULL;
        size_t n = 0;
        mlc_status st = src && dst ? core_read_file(src, 0, &d, &n, NULL) : MLC_STATUS_NO_MEMORY;
        if (i == 3) n = junk ? strlen(junk) : keep < n ? keep : n;
        if (!st) st = core_write_file_atomic(dst, i == 3 && junk ? junk : d, n, NULL);
        mlc_free(d);
        mlc_free(src);
        mlc_free(dst);
        if (st) return NULL;
    }
    return core_strdup(tmpl);
}

static void remove_package(char *dir)
{
    static const char *files[] = {"inference_config.json", "model_config.json", "class_names.txt",
                                  "weights.onnx"};
    for (int i = 0; dir && i < 4; i++) {
        char *p = core_sprintf("%s/%s", dir, files[i]);
        if (p) remove(p);
        mlc_free(p);
    }
    if (dir) rmdir(dir);
    mlc_free(dir);
}

/* A package whose ONNX file is junk or truncated: BAD_MODEL naming the file
 * once (model.c used to prefix the path the engine had already put there). */
static void test_corrupt_weights(void)
{
    const char *junk[] = {"not an onnx file at all", NULL, NULL, NULL};
    size_t keep[] = {0, 0, 40, 200};
    for (int i = 0; i < 4; i++) {
        char *dir = package_with_weights(junk[i], keep[i]);
        CHECK(dir != NULL);
        if (!dir) continue;
        mlc_model *m = NULL;
        mlc_error err = {0};
        mlc_status st = mlc_model_load(dir, NULL, &m, &err);
        CHECK_MSG(st == MLC_STATUS_BAD_MODEL || (keep[i] == 0 && !junk[i] && st != MLC_OK),
                  "case %d: status %d: %s", i, (int)st, err.message);
        const char *w = strstr(err.message, "weights.onnx");
        CHECK_MSG(w && !strstr(w + 1, "weights.onnx"), "case %d: %s", i, err.message);
        mlc_model_free(m);
        remove_package(dir);
    }
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
    TEST_RUN(test_corrupt_weights);
    mlc_image_free(img);
    TEST_DONE();
}
