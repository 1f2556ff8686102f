/*
 * test_classify.c - the demo package (models/demo) end to end: network input
 * vs tests/data/demo/<stem>.input.npy, scores vs reference.json (PyTorch),
 * predicted classes vs samples/labels.json with "best", batching, the JSON
 * response, threshold modes on package variants (tests/data/model/model_config.*),
 * the legacy format, and failure cases (each one clear error, no leak).
 */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "mlc.h"
#include "model/model.h"
#include "model/preproc.h"
#include "test.h"

static json_t *reference, *labels;

static mlc_image *load_sample(const char *fname)
{
    char rel[512];
    mlc_error err = {0};
    mlc_image *im = NULL;
    snprintf(rel, sizeof rel, "samples/%s", fname);
    CHECK_OK(mlc_image_load(MLC_INPUT_PATH, test_path(rel), 0, NULL, &im, &err), &err);
    return im;
}

static void test_getters(void)
{
    mlc_model *m = NULL;
    mlc_error err = {0};
    CHECK_OK(mlc_model_load(test_path("models/demo"), NULL, &m, &err), &err);
    if (!m) return;
    CHECK(mlc_model_n_classes(m) == 5);
    CHECK(!strcmp(mlc_model_class_name(m, 0), "circle"));
    CHECK(mlc_model_class_name(m, 5) == NULL && mlc_model_class_name(m, -1) == NULL);
    CHECK(!strcmp(mlc_model_task_type(m), "multi-label-classification"));
    CHECK(!strcmp(mlc_model_architecture(m), "resnet"));
    int w, h;
    mlc_model_input_size(m, &w, &h);
    CHECK(w == 96 && h == 96);
    CHECK(mlc_model_static_batch(m) == 0);
    mlc_model_free(m);
}

static void test_input_tensors(void)
{
    mlc_model *m = NULL;
    mlc_error err = {0};
    CHECK_OK(mlc_model_load(test_path("models/demo"), NULL, &m, &err), &err);
    if (!m) return;
    const struct mdl_package *p = mdl_model_package(m);
    size_t n = (size_t)3 * 96 * 96;
    float *x = mlc_alloc(n * sizeof *x);
    const char *fname;
    json_t *v;
    json_object_foreach(reference, fname, v)
    {
        mlc_image *im = load_sample(fname);
        char rel[512], stem[256];
        snprintf(stem, sizeof stem, "%s", fname);
        char *dot = strrchr(stem, '.');
        if (dot) *dot = '\0';
        snprintf(rel, sizeof rel, "tests/data/demo/%s.input.npy", stem);
        struct core_npy ref;
        if (!im || core_npy_read(test_path(rel), &ref, &err)) {
            CHECK_MSG(0, "%s: %s", fname, err.message);
            mlc_image_free(im);
            continue;
        }
        CHECK_OK(mdl_preprocess(&p->pp, im, 0, x, &err), &err);
        /* one grey level after /255 and the smallest std */
        double tol = 1.0 / 255.0 / 0.224 + 1e-5, worst = 0;
        CHECK(ref.nbytes == n * sizeof(float));
        for (size_t i = 0; ref.nbytes == n * sizeof(float) && i < n; i++) {
            double d = fabs((double)x[i] - ((const float *)ref.data)[i]);
            if (d > worst) worst = d;
        }
        CHECK_MSG(worst <= tol, "%s: input differs by %g", fname, worst);
        core_npy_free(&ref);
        mlc_image_free(im);
    }
    mlc_free(x);
    mlc_model_free(m);
}

static int same_labels(const mlc_model *m, const mlc_result *r, const json_t *want)
{
    size_t k = 0, i;
    json_t *v;
    for (int c = 0; c < mlc_result_n_classes(r); c++) k += mlc_result_is_predicted(r, c) != 0;
    if (!json_is_array(want) || k != json_array_size(want)) return 0;
    /* both in class-index order */
    int c = 0;
    json_array_foreach(want, i, v)
    {
        while (c < mlc_result_n_classes(r) && !mlc_result_is_predicted(r, c)) c++;
        if (c >= mlc_result_n_classes(r) ||
            strcmp(mlc_model_class_name(m, c), json_string_value(v)))
            return 0;
        c++;
    }
    return 1;
}

static void test_scores_and_labels(void)
{
    mlc_model *m = NULL;
    mlc_session *s = NULL;
    mlc_error err = {0};
    CHECK_OK(mlc_model_load(test_path("models/demo"), NULL, &m, &err), &err);
    if (!m) return;
    CHECK_OK(mlc_session_create(m, &s, &err), &err);
    size_t n = json_object_size(reference), k = 0;
    mlc_image **ims = calloc(n, sizeof *ims);
    const char **names = calloc(n, sizeof *names);
    const char *fname;
    json_t *v;
    json_object_foreach(reference, fname, v)
    {
        names[k] = fname;
        ims[k++] = load_sample(fname);
    }
    /* one batch of all samples, and one image at a time: same answers */
    mlc_result *all = NULL;
    CHECK_OK(mlc_classify(s, (const mlc_image *const *)ims, n, mlc_confidence_best(), &all, &err),
             &err);
    for (size_t i = 0; all && i < n; i++) {
        const mlc_result *r = mlc_result_at(all, i);
        json_t *ref = json_object_get(reference, names[i]);
        json_t *sc = json_object_get(ref, "scores");
        for (int c = 0; c < 5; c++)
            CHECK_NEAR(mlc_result_score(r, c), json_real_value(json_array_get(sc, (size_t)c)),
                       1e-4);
        CHECK_MSG(same_labels(m, r, json_object_get(labels, names[i])), "%s: labels", names[i]);
        CHECK_MSG(same_labels(m, r, json_object_get(ref, "predicted_best")), "%s: best", names[i]);
        mlc_result *one = NULL;
        CHECK_OK(mlc_classify(s, (const mlc_image *const *)&ims[i], 1, mlc_confidence_best(), &one,
                              &err),
                 &err);
        for (int c = 0; one && c < 5; c++)
            CHECK_NEAR(mlc_result_score(one, c), mlc_result_score(r, c), 1e-6);
        /* 0.5 threshold, as the reference's predicted_0.5 */
        mlc_result_free(one);
        one = NULL;
        CHECK_OK(mlc_classify(s, (const mlc_image *const *)&ims[i], 1, mlc_confidence_value(0.5),
                              &one, &err),
                 &err);
        if (one)
            CHECK_MSG(same_labels(m, one, json_object_get(ref, "predicted_0.5")), "%s: 0.5",
                      names[i]);
        mlc_result_free(one);
    }
    /* the JSON response */
    if (all) {
        char *js = NULL;
        CHECK_OK(mlc_result_to_json(mlc_result_at(all, 0), 0, &js, &err), &err);
        json_error_t je;
        json_t *doc = js ? json_loads(js, 0, &je) : NULL;
        CHECK_MSG(json_is_object(doc), "JSON: %s", js ? js : "");
        json_t *img = json_object_get(doc, "image");
        json_t *ref = json_object_get(reference, names[0]);
        CHECK(json_integer_value(json_object_get(img, "width")) ==
              json_integer_value(json_object_get(ref, "width")));
        CHECK(json_integer_value(json_object_get(img, "height")) ==
              json_integer_value(json_object_get(ref, "height")));
        CHECK(json_is_string(json_object_get(doc, "inference_id")));
        CHECK(json_is_real(json_object_get(doc, "time")));
        json_t *preds = json_object_get(doc, "predictions");
        CHECK(json_object_size(preds) == 5);
        for (int c = 0; c < 5; c++) {
            json_t *e = json_object_get(preds, mlc_model_class_name(m, c));
            CHECK(json_integer_value(json_object_get(e, "class_id")) == c);
            /* confidences round-trip exactly */
            CHECK(json_real_value(json_object_get(e, "confidence")) ==
                  mlc_result_score(mlc_result_at(all, 0), c));
        }
        CHECK(json_is_array(json_object_get(doc, "predicted_classes")));
        CHECK(!strcmp(mlc_result_inference_id(mlc_result_at(all, 0)),
                      json_string_value(json_object_get(doc, "inference_id"))));
        json_decref(doc);
        mlc_free(js);
        CHECK_OK(mlc_result_to_json(mlc_result_at(all, 0), MLC_JSON_PRETTY, &js, &err), &err);
        CHECK(js && strstr(js, "\n  \"predictions\": {") != NULL);
        mlc_free(js);
    }
    mlc_result_free(all);
    /* bad arguments */
    mlc_result *r = NULL;
    CHECK(mlc_classify(s, (const mlc_image *const *)ims, 1, mlc_confidence_value(1.5), &r, &err) ==
          MLC_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(err.message, "1.5") != NULL && r == NULL);
    CHECK(mlc_classify(s, (const mlc_image *const *)ims, 0, mlc_confidence_best(), &r, &err) ==
          MLC_STATUS_INVALID_ARGUMENT);
    for (size_t i = 0; i < n; i++) mlc_image_free(ims[i]);
    free(ims);
    free(names);
    mlc_session_free(s);
    mlc_model_free(m);
}

/* ---- package variants in a temp directory -------------------------------- */

static char tmpdir[256];

static void copy_file(const char *from, const char *to)
{
    char *data = NULL;
    size_t n = 0;
    mlc_error err = {0};
    CHECK_OK(core_read_file(from, 0, &data, &n, &err), &err);
    if (data) CHECK_OK(core_write_file_atomic(to, data, n, &err), &err);
    mlc_free(data);
}

static void put(const char *name, const char *text)
{
    char path[512];
    mlc_error err = {0};
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    CHECK_OK(core_write_file_atomic(path, text, strlen(text), &err), &err);
}

/* A fresh copy of the demo package in tmpdir. */
static void fresh_copy(void)
{
    static const char *files[] = {"weights.onnx", "inference_config.json", "class_names.txt",
                                  "model_config.json"};
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", tmpdir, tmpdir);
    CHECK(system(cmd) == 0);
    for (size_t i = 0; i < 4; i++) {
        char from[512], to[512];
        snprintf(from, sizeof from, "%s/models/demo/%s",
                 getenv("MLC_ROOT") ? getenv("MLC_ROOT") : ".", files[i]);
        snprintf(to, sizeof to, "%s/%s", tmpdir, files[i]);
        copy_file(from, to);
    }
}

static void expect_load_fail(mlc_status want, const char *needle)
{
    mlc_model *m = NULL;
    mlc_error err = {0};
    mlc_status st = mlc_model_load(tmpdir, NULL, &m, &err);
    CHECK_MSG(st == want, "status %d (%s), want %d", (int)st, err.message, (int)want);
    CHECK_MSG(strstr(err.message, needle) != NULL, "'%s' lacks '%s'", err.message, needle);
    CHECK(m == NULL);
    mlc_model_free(m);
}

static void test_load_failures(void)
{
    char path[512];
    fresh_copy();
    snprintf(path, sizeof path, "%s/class_names.txt", tmpdir);
    unlink(path);
    expect_load_fail(MLC_STATUS_NOT_FOUND, "class_names.txt");

    fresh_copy();
    snprintf(path, sizeof path, "%s/weights.onnx", tmpdir);
    unlink(path);
    expect_load_fail(MLC_STATUS_NOT_FOUND, "weights.onnx");

    fresh_copy();
    put("inference_config.json", "{\"network_input\": {\"training_input_size\": ");
    expect_load_fail(MLC_STATUS_BAD_MODEL, "inference_config.json: malformed JSON");

    fresh_copy();
    put("model_config.json", "{\"task_type\": \"object-detection\", \"model_architecture\": "
                             "\"yolov8\"}");
    expect_load_fail(MLC_STATUS_UNSUPPORTED, "object-detection");

    fresh_copy();
    put("class_names.txt", "circle\nsquare\ntriangle\nstar\n");
    expect_load_fail(MLC_STATUS_BAD_MODEL, "4 classes");

    fresh_copy();
    put("weights.onnx", "this is not an onnx file");
    mlc_model *m = NULL;
    mlc_error err = {0};
    CHECK(mlc_model_load(tmpdir, NULL, &m, &err) != MLC_OK && m == NULL);
    CHECK(strstr(err.message, "weights.onnx") != NULL);

    CHECK(mlc_model_load("/nonexistent/dir/for/mlc", NULL, &m, &err) == MLC_STATUS_NOT_FOUND);
    CHECK(strstr(err.message, "/nonexistent/dir/for/mlc") != NULL);

    /* a corrupt image: one clear error */
    mlc_image *im = NULL;
    const char junk[] = "\xff\xd8\xff\xe0 not really a jpeg";
    CHECK(mlc_image_decode(junk, sizeof junk, 0, NULL, &im, &err) == MLC_STATUS_BAD_IMAGE);
    CHECK(im == NULL);
}

/* Classifies the first sample with `conf` on the package in tmpdir. */
static void thresholds_of(mlc_confidence conf, double thr[5])
{
    mlc_model *m = NULL;
    mlc_session *s = NULL;
    mlc_result *r = NULL;
    mlc_error err = {0};
    const char *fname = NULL;
    json_t *v;
    json_object_foreach(reference, fname, v) break;
    mlc_image *im = load_sample(fname);
    CHECK_OK(mlc_model_load(tmpdir, NULL, &m, &err), &err);
    if (m) CHECK_OK(mlc_session_create(m, &s, &err), &err);
    if (s) CHECK_OK(mlc_classify(s, (const mlc_image *const *)&im, 1, conf, &r, &err), &err);
    for (int c = 0; c < 5; c++) {
        thr[c] = r ? mlc_result_threshold(r, c) : -1;
        if (r)
            CHECK(mlc_result_is_predicted(r, c) ==
                  ((float)mlc_result_score(r, c) >= (float)thr[c]));
    }
    mlc_result_free(r);
    mlc_image_free(im);
    mlc_session_free(s);
    mlc_model_free(m);
}

static void use_config(const char *variant)
{
    char from[512], to[512];
    fresh_copy();
    snprintf(from, sizeof from, "%s/tests/data/model/%s",
             getenv("MLC_ROOT") ? getenv("MLC_ROOT") : ".", variant);
    snprintf(to, sizeof to, "%s/model_config.json", tmpdir);
    copy_file(from, to);
}

static void test_threshold_variants(void)
{
    double t[5];
    use_config("model_config.per_class.json"); /* global 0.35, circle 0.6, star 0.2 */
    thresholds_of(mlc_confidence_best(), t);
    CHECK(t[0] == 0.6 && t[1] == 0.35 && t[3] == 0.2 && t[4] == 0.35);
    thresholds_of(mlc_confidence_default(), t);
    CHECK(t[0] == 0.4 && t[3] == 0.4);
    thresholds_of(mlc_confidence_value(0.9), t);
    CHECK(t[2] == 0.9);
    use_config("model_config.per_class_no_global.json");
    thresholds_of(mlc_confidence_best(), t);
    CHECK(t[0] == 0.4 && t[3] == 0.4);
    use_config("model_config.global_only.json");
    thresholds_of(mlc_confidence_best(), t);
    CHECK(t[0] == 0.25 && t[4] == 0.25);
    use_config("model_config.none_dinov3.json");
    thresholds_of(mlc_confidence_best(), t);
    CHECK(t[0] == 0.5);
    thresholds_of(mlc_confidence_default(), t);
    CHECK(t[1] == 0.5);
}

static void test_legacy_variant(void)
{
    char path[512], from[512];
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", tmpdir, tmpdir);
    CHECK(system(cmd) == 0);
    snprintf(from, sizeof from, "%s/models/demo/weights.onnx",
             getenv("MLC_ROOT") ? getenv("MLC_ROOT") : ".");
    snprintf(path, sizeof path, "%s/best.onnx", tmpdir);
    copy_file(from, path);
    put("environment.json",
        "{\"PREPROCESSING\": \"{\\\"resize\\\": {\\\"format\\\": \\\"Stretch to\\\", "
        "\\\"width\\\": "
        "96, \\\"height\\\": 96, \\\"enabled\\\": true}}\", \"CLASS_MAP\": {\"0\": \"circle\", "
        "\"1\": \"square\", \"2\": \"triangle\", \"3\": \"star\", \"4\": \"cross\"}, "
        "\"MULTICLASS\": true}");
    put("model_type.json", "{\"project_task_type\": \"classification\", \"model_type\": "
                           "\"resnet50\"}");
    mlc_model *m = NULL;
    mlc_session *s = NULL;
    mlc_result *r = NULL;
    mlc_error err = {0};
    CHECK_OK(mlc_model_load(tmpdir, NULL, &m, &err), &err);
    if (!m) return;
    CHECK(!strcmp(mlc_model_architecture(m), "resnet50"));
    CHECK_OK(mlc_session_create(m, &s, &err), &err);
    const char *fname;
    json_t *v;
    json_object_foreach(reference, fname, v)
    {
        mlc_image *im = load_sample(fname);
        CHECK_OK(
            mlc_classify(s, (const mlc_image *const *)&im, 1, mlc_confidence_value(0.0), &r, &err),
            &err);
        /* legacy reports the raw graph output (here: logits), float32 resize */
        json_t *lg = json_object_get(v, "logits");
        for (int c = 0; r && c < 5; c++) {
            double ref = json_real_value(json_array_get(lg, (size_t)c));
            CHECK_NEAR(mlc_result_score(r, c), ref, 0.02 + 0.01 * fabs(ref));
            /* strict >: a logit of exactly 0 would not be predicted */
            CHECK(mlc_result_is_predicted(r, c) == (mlc_result_score(r, c) > 0.0));
        }
        mlc_result_free(r);
        r = NULL;
        mlc_image_free(im);
    }
    mlc_session_free(s);
    mlc_model_free(m);

    /* a single-label legacy package is refused */
    put("environment.json", "{\"PREPROCESSING\": {}, \"CLASS_MAP\": {\"0\": \"a\"}, "
                            "\"MULTICLASS\": false}");
    expect_load_fail(MLC_STATUS_UNSUPPORTED, "single-label");
}

int main(void)
{
    json_error_t je;
    reference = json_load_file(test_path("tests/data/demo/reference.json"), 0, &je);
    labels = json_load_file(test_path("samples/labels.json"), 0, &je);
    if (!json_is_object(reference) || !json_is_object(labels)) {
        /* the demo package is generated by tools/demo/make_demo.py */
        fprintf(stderr, "SKIP: demo package or reference data missing: %s\n", je.text);
        json_decref(reference);
        json_decref(labels);
        return 77;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mlc-test-classify-%ld", (long)getpid());
    size_t live = core_alloc_live_bytes();
    TEST_RUN(test_getters);
    TEST_RUN(test_input_tensors);
    TEST_RUN(test_scores_and_labels);
    TEST_RUN(test_load_failures);
    TEST_RUN(test_threshold_variants);
    TEST_RUN(test_legacy_variant);
    CHECK_MSG(core_alloc_live_bytes() == live, "leaked %zu bytes", core_alloc_live_bytes() - live);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    json_decref(reference);
    json_decref(labels);
    TEST_DONE();
}
