/*
 * test_package.c - the model package parsers (inference_config.json,
 * model_config.json, environment.json, class_names.txt), threshold
 * resolution ("best" / "default" / value with the precedence of spec §4.2),
 * confidence parsing, cache paths and the digests. No network, no ONNX.
 */
#include "mlc.h"
#include "model/hash.h"
#include "model/model.h"
#include "test.h"

static const char *IC_OK =
    "{\"image_pre_processing\": {}, \"network_input\": {\"training_input_size\": {\"height\": 96, "
    "\"width\": \"64\"}, \"dynamic_spatial_size_supported\": false, \"color_mode\": \"rgb\", "
    "\"resize_mode\": \"stretch\", \"padding_value\": null, \"input_channels\": 3, "
    "\"scaling_factor\": 255, \"normalization\": [[0.485, 0.456, 0.406], [0.229, 0.224, "
    "0.225]]}, \"post_processing\": {\"type\": \"sigmoid\", \"fused\": false}}";

static mlc_status parse_ic(const char *text, struct mdl_package *p, mlc_error *err)
{
    mdl_package_init(p);
    return mdl_parse_inference_config(text, strlen(text), "inference_config.json", p, err);
}

static void test_inference_config_ok(void)
{
    struct mdl_package p;
    mlc_error err = {0};
    CHECK_OK(parse_ic(IC_OK, &p, &err), &err);
    CHECK(p.pp.width == 64 && p.pp.height == 96); /* "64" coerced like pydantic */
    CHECK(p.pp.rgb == 1 && p.pp.resize == MDL_RESIZE_STRETCH);
    CHECK(p.pp.has_scaling && p.pp.scaling_factor == 255);
    CHECK(p.pp.has_norm && fabsf(p.pp.std[2] - 0.225f) < 1e-7f);
    CHECK(p.apply_sigmoid == 1 && !p.strict_threshold);
    mdl_package_free(&p);
}

/* Replaces the first occurrence of `from` in IC_OK. */
static char *variant(const char *from, const char *to)
{
    static char buf[4096];
    const char *at = strstr(IC_OK, from);
    if (!at) return NULL;
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - IC_OK), IC_OK, to, at + strlen(from));
    return buf;
}

static void test_inference_config_modes(void)
{
    struct mdl_package p;
    mlc_error err = {0};
    CHECK_OK(parse_ic(variant("\"stretch\"", "\"letterbox-reflect-edges\""), &p, &err), &err);
    CHECK(p.pp.resize == MDL_RESIZE_LETTERBOX);
    mdl_package_free(&p);
    CHECK_OK(parse_ic(variant("\"stretch\"", "\"center-crop\""), &p, &err), &err);
    CHECK(p.pp.resize == MDL_RESIZE_CENTER_CROP);
    mdl_package_free(&p);
    CHECK_OK(parse_ic(variant("\"padding_value\": null", "\"padding_value\": 114"), &p, &err),
             &err);
    CHECK(p.pp.pad_value == 114);
    mdl_package_free(&p);
    /* fit-longer-edge: stretch for classifiers, padding dropped */
    char *v = variant("\"stretch\", \"padding_value\": null",
                      "\"fit-longer-edge\", \"padding_value\": 127");
    CHECK_OK(parse_ic(v, &p, &err), &err);
    CHECK(p.pp.resize == MDL_RESIZE_STRETCH && p.pp.pad_value == 0);
    mdl_package_free(&p);
    CHECK_OK(parse_ic(variant("\"fused\": false", "\"fused\": true"), &p, &err), &err);
    CHECK(p.apply_sigmoid == 0);
    mdl_package_free(&p);
    CHECK_OK(parse_ic(variant("\"rgb\"", "\"bgr\""), &p, &err), &err);
    CHECK(p.pp.rgb == 0);
    mdl_package_free(&p);
    CHECK_OK(parse_ic(variant("\"scaling_factor\": 255", "\"scaling_factor\": null"), &p, &err),
             &err);
    CHECK(!p.pp.has_scaling);
    mdl_package_free(&p);
    v = variant("{}", "{\"static-crop\": {\"enabled\": true, \"x_min\": 10, \"x_max\": 90, "
                      "\"y_min\": 5, \"y_max\": 95}, \"grayscale\": {\"enabled\": true}, "
                      "\"contrast\": {\"enabled\": true, \"type\": \"Adaptive Equalization\"}, "
                      "\"auto-orient\": {\"enabled\": true}}");
    CHECK_OK(parse_ic(v, &p, &err), &err);
    CHECK(p.pp.crop_enabled && p.pp.crop_x_min == 10 && p.pp.crop_y_max == 95);
    CHECK(p.pp.grayscale && p.pp.contrast == MDL_CONTRAST_ADAPTIVE);
    mdl_package_free(&p);
}

static void expect_fail(const char *text, mlc_status want, const char *needle)
{
    struct mdl_package p;
    mlc_error err = {0};
    mlc_status st = text ? parse_ic(text, &p, &err) : MLC_STATUS_INTERNAL;
    CHECK_MSG(st == want, "status %d (%s), want %d", (int)st, err.message, (int)want);
    CHECK_MSG(strstr(err.message, needle) != NULL, "message '%s' lacks '%s'", err.message, needle);
    mdl_package_free(&p);
}

static void test_inference_config_errors(void)
{
    expect_fail("{\"network_input\": ", MLC_STATUS_BAD_MODEL, "malformed JSON");
    expect_fail("[1, 2]", MLC_STATUS_BAD_MODEL, "JSON object");
    expect_fail("{}", MLC_STATUS_BAD_MODEL, "network_input");
    expect_fail(variant("\"stretch\"", "\"squash\""), MLC_STATUS_BAD_MODEL, "resize_mode");
    expect_fail(variant("\"input_channels\": 3", "\"input_channels\": 1"), MLC_STATUS_UNSUPPORTED,
                "input_channels");
    expect_fail(variant("\"sigmoid\"", "\"softmax\""), MLC_STATUS_UNSUPPORTED, "softmax");
    expect_fail(variant("\"rgb\"", "\"hsv\""), MLC_STATUS_BAD_MODEL, "color_mode");
    expect_fail(variant("\"height\": 96", "\"height\": -3"), MLC_STATUS_BAD_MODEL,
                "training_input_size");
    expect_fail(variant("[0.229, 0.224, 0.225]", "[0.229, 0, 0.225]"), MLC_STATUS_BAD_MODEL,
                "normalization");
    expect_fail(variant("\"scaling_factor\": 255", "\"scaling_factor\": 0"), MLC_STATUS_BAD_MODEL,
                "scaling_factor");
    expect_fail(variant("{}", "{\"contrast\": {\"enabled\": true, \"type\": \"Sharpen\"}}"),
                MLC_STATUS_BAD_MODEL, "contrast.type");
    expect_fail(variant("{}", "{\"static-crop\": {\"enabled\": true, \"x_min\": 50, \"x_max\": 40, "
                              "\"y_min\": 0, \"y_max\": 100}}"),
                MLC_STATUS_BAD_MODEL, "static-crop");
}

/* Parses a model_config.json text over a 3-class package cat/dog/fish. */
static void with_config(const char *mc, struct mdl_package *p, mlc_error *err, mlc_status want)
{
    mdl_package_init(p);
    const char *names = "cat\n\n  dog  \nfish\n";
    CHECK_OK(mdl_parse_class_names(names, strlen(names), "class_names.txt", p, err), err);
    mlc_status st = mdl_parse_model_config(mc, strlen(mc), "model_config.json", p, err);
    CHECK_MSG(st == want, "status %d: %s", (int)st, err->message);
    mdl_package_finish_arch(p);
}

static void thresholds(const struct mdl_package *p, mlc_confidence c, double out[3])
{
    mlc_error err = {0};
    CHECK_OK(mdl_resolve_thresholds(p, c, out, &err), &err);
}

static void test_thresholds(void)
{
    struct mdl_package p;
    mlc_error err = {0};
    double t[3];
    /* spec block-semantics §3.4 worked example */
    with_config("{\"task_type\": \"multi-label-classification\", \"model_architecture\": \"vit\", "
                "\"recommended_parameters\": {\"confidence\": 0.5, \"per_class_confidence\": "
                "{\"cat\": 0.6, \"dog\": 0.4}}}",
                &p, &err, MLC_OK);
    CHECK(p.n_classes == 3 && !strcmp(p.class_names[1], "dog"));
    thresholds(&p, mlc_confidence_best(), t);
    CHECK(t[0] == 0.6 && t[1] == 0.4 && t[2] == 0.5);
    thresholds(&p, mlc_confidence_default(), t);
    CHECK(t[0] == 0.4 && t[2] == 0.4); /* vit default */
    thresholds(&p, mlc_confidence_value(0.7), t);
    CHECK(t[0] == 0.7 && t[1] == 0.7);
    thresholds(&p, mlc_confidence_value(0.0), t);
    CHECK(t[2] == 0.0);
    CHECK(mdl_resolve_thresholds(&p, mlc_confidence_value(1.5), t, &err) ==
          MLC_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(err.message, "outside [0, 1]") != NULL);
    CHECK(mdl_resolve_thresholds(&p, mlc_confidence_value(-0.1), t, &err) ==
          MLC_STATUS_INVALID_ARGUMENT);
    mdl_package_free(&p);

    /* per-class map without a global confidence: ignored, default for all */
    with_config("{\"task_type\": \"multi-label-classification\", \"model_architecture\": "
                "\"dinov3_probe\", \"recommended_parameters\": {\"per_class_confidence\": "
                "{\"cat\": 0.6}}}",
                &p, &err, MLC_OK);
    thresholds(&p, mlc_confidence_best(), t);
    CHECK(t[0] == 0.5 && t[1] == 0.5 && t[2] == 0.5); /* dinov3 default 0.5 */
    mdl_package_free(&p);

    /* global only: uniform */
    with_config("{\"task_type\": \"multi-label-classification\", \"model_architecture\": "
                "\"resnet\", \"recommended_parameters\": {\"confidence\": 0.33}}",
                &p, &err, MLC_OK);
    thresholds(&p, mlc_confidence_best(), t);
    CHECK(t[0] == 0.33 && t[2] == 0.33);
    mdl_package_free(&p);

    /* nothing recommended: the architecture default */
    with_config("{\"task_type\": \"multi-label-classification\", \"model_architecture\": "
                "\"resnet\", \"recommended_parameters\": null}",
                &p, &err, MLC_OK);
    thresholds(&p, mlc_confidence_best(), t);
    CHECK(t[1] == 0.4);
    mdl_package_free(&p);

    /* camelCase keys (as the API sends them) are accepted too */
    with_config("{\"task_type\": \"multi-label-classification\", \"recommended_parameters\": "
                "{\"confidence\": 0.2, \"perClassConfidence\": {\"fish\": 0.9}}}",
                &p, &err, MLC_OK);
    thresholds(&p, mlc_confidence_best(), t);
    CHECK(t[0] == 0.2 && t[2] == 0.9);
    mdl_package_free(&p);

    with_config("{\"task_type\": 3}", &p, &err, MLC_STATUS_BAD_MODEL);
    mdl_package_free(&p);
    with_config("{\"task_type\": \"multi-label-classification\", \"recommended_parameters\": "
                "{\"confidence\": 2}}",
                &p, &err, MLC_STATUS_BAD_MODEL);
    CHECK(strstr(err.message, "recommended_parameters.confidence") != NULL);
    mdl_package_free(&p);
}

static void test_class_names(void)
{
    struct mdl_package p;
    mlc_error err = {0};
    mdl_package_init(&p);
    const char *t = " a b \r\n\n\tc\n";
    CHECK_OK(mdl_parse_class_names(t, strlen(t), "class_names.txt", &p, &err), &err);
    CHECK(p.n_classes == 2 && !strcmp(p.class_names[0], "a b") && !strcmp(p.class_names[1], "c"));
    CHECK(mdl_parse_class_names("\n \n", 3, "class_names.txt", &p, &err) == MLC_STATUS_BAD_MODEL);
    CHECK(strstr(err.message, "class_names.txt") != NULL);
    CHECK(p.n_classes == 2); /* unchanged on failure */
    /* Names must be UTF-8 (they go into JSON): Latin-1, truncated sequences,
     * overlongs and surrogates are refused with the offset; UTF-8 is kept. */
    static const char *bad[] = {"cat\ncaf\xe9\n", "a\n\xe2\x82", "\xc0\xaf", "\xed\xa0\x80",
                                "\xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mlc_status st = mdl_parse_class_names(bad[i], strlen(bad[i]), "class_names.txt", &p, &err);
        CHECK_MSG(st == MLC_STATUS_BAD_MODEL && strstr(err.message, "not valid UTF-8"),
                  "case %zu: %d %s", i, (int)st, err.message);
    }
    CHECK(strstr(err.message, "class name #1") != NULL);
    const char *u = "caf\xc3\xa9\n\xe7\x8c\xab\n\xf0\x9f\x90\x88\n";
    CHECK_OK(mdl_parse_class_names(u, strlen(u), "class_names.txt", &p, &err), &err);
    CHECK(p.n_classes == 3 && !strcmp(p.class_names[2], "\xf0\x9f\x90\x88"));
    mdl_package_free(&p);
}

static void parse_env(const char *text, struct mdl_package *p, mlc_error *err, mlc_status want)
{
    mdl_package_init(p);
    p->architecture = core_strdup("resnet50");
    mlc_status st = mdl_parse_environment(text, strlen(text), "environment.json", p, err);
    CHECK_MSG(st == want, "status %d: %s", (int)st, err->message);
    if (!st) mdl_package_finish_arch(p);
}

static void test_environment(void)
{
    struct mdl_package p;
    mlc_error err = {0};
    /* PREPROCESSING as a JSON string; MULTICLASS truthiness: "false" is true */
    parse_env("{\"PREPROCESSING\": \"{\\\"resize\\\": {\\\"width\\\": 224, \\\"height\\\": 200, "
              "\\\"format\\\": \\\"Fit (grey edges) in\\\", \\\"enabled\\\": true}, "
              "\\\"auto-orient\\\": {\\\"enabled\\\": false}}\", \"CLASS_MAP\": {\"1\": \"b\", "
              "\"0\": \"a\"}, \"MULTICLASS\": \"false\"}",
              &p, &err, MLC_OK);
    CHECK(p.format == MDL_FORMAT_LEGACY && p.pp.legacy && p.strict_threshold && !p.apply_sigmoid);
    CHECK(p.n_classes == 2 && !strcmp(p.class_names[0], "a") && !strcmp(p.class_names[1], "b"));
    CHECK(p.pp.resize == MDL_RESIZE_FIT && p.pp.pad_value == 114);
    CHECK(p.legacy_resize_w == 224 && p.legacy_resize_h == 200 && p.legacy_auto_orient);
    CHECK(fabsf(p.pp.mean[0] - 0.485f) < 1e-7f); /* resnet: ImageNet */
    double t[2];
    CHECK_OK(mdl_resolve_thresholds(&p, mlc_confidence_default(), t, &err), &err);
    CHECK(t[0] == 0.5); /* legacy: 0.5 */
    mdl_package_free(&p);

    parse_env("{\"PREPROCESSING\": {\"resize\": {\"format\": \"Fill (with center crop) in\"}}, "
              "\"CLASS_MAP\": {\"0\": \"x\"}, \"MULTICLASS\": 1}",
              &p, &err, MLC_OK);
    CHECK(p.pp.resize == MDL_RESIZE_FIT && p.pp.pad_value == 0 && !p.legacy_auto_orient);
    mdl_package_free(&p);

    parse_env("{\"PREPROCESSING\": {}, \"CLASS_MAP\": {\"0\": \"x\"}, \"MULTICLASS\": false}", &p,
              &err, MLC_STATUS_UNSUPPORTED);
    CHECK(strstr(err.message, "single-label") != NULL);
    mdl_package_free(&p);
    parse_env("{\"CLASS_MAP\": {\"0\": \"x\"}, \"MULTICLASS\": true}", &p, &err,
              MLC_STATUS_BAD_MODEL);
    CHECK(strstr(err.message, "PREPROCESSING") != NULL);
    mdl_package_free(&p);
    parse_env("{\"PREPROCESSING\": {}, \"CLASS_MAP\": {\"0\": \"x\", \"2\": \"y\"}, "
              "\"MULTICLASS\": true}",
              &p, &err, MLC_STATUS_BAD_MODEL);
    CHECK(strstr(err.message, "CLASS_MAP[\"1\"]") != NULL);
    mdl_package_free(&p);
    parse_env("{\"PREPROCESSING\": \"{not json\", \"CLASS_MAP\": {\"0\": \"x\"}, "
              "\"MULTICLASS\": true}",
              &p, &err, MLC_STATUS_BAD_MODEL);
    mdl_package_free(&p);
}

static void test_confidence_parse(void)
{
    mlc_confidence c;
    mlc_error err = {0};
    CHECK_OK(mlc_confidence_parse("best", &c, &err), &err);
    CHECK(c.mode == MLC_CONFIDENCE_BEST);
    CHECK_OK(mlc_confidence_parse("default", &c, &err), &err);
    CHECK(c.mode == MLC_CONFIDENCE_DEFAULT);
    CHECK_OK(mlc_confidence_parse("0.25", &c, &err), &err);
    CHECK(c.mode == MLC_CONFIDENCE_VALUE && c.value == 0.25);
    CHECK(mlc_confidence_parse("1.01", &c, &err) == MLC_STATUS_INVALID_ARGUMENT);
    CHECK(mlc_confidence_parse("abc", &c, &err) == MLC_STATUS_INVALID_ARGUMENT);
    CHECK(mlc_confidence_parse("", &c, &err) == MLC_STATUS_INVALID_ARGUMENT);
    CHECK(mlc_confidence_parse("nan", &c, &err) == MLC_STATUS_INVALID_ARGUMENT);
}

static void test_cache_and_digests(void)
{
    CHECK(mdl_is_model_id("my-project/3"));
    CHECK(!mdl_is_model_id("models/demo/x"));
    CHECK(!mdl_is_model_id("noslash"));
    CHECK(!mdl_is_model_id("../3"));
    char *d = mdl_cache_dir_for("/c", "my_project/3");
    CHECK(d && !strcmp(d, "/c/my_project/3"));
    mlc_free(d);
    d = mdl_cache_dir_for("/c", "My_Project/3");
    CHECK_MSG(d && !strcmp(d, "/c/~My_Project-3-bd826627b351f556c9c8424972c5b07a"), "%s", d);
    mlc_free(d);
    struct mdl_md5 m;
    char hex[33];
    mdl_md5_init(&m);
    mdl_md5_update(&m, "hello ", 6);
    mdl_md5_update(&m, "world", 5);
    mdl_md5_hex(&m, hex);
    CHECK(!strcmp(hex, "5eb63bbbe01eeed093cb22bb8f5acdc3"));
    mdl_md5_init(&m);
    mdl_md5_hex(&m, hex);
    CHECK(!strcmp(hex, "d41d8cd98f00b204e9800998ecf8427e"));
}

int main(void)
{
    TEST_RUN(test_inference_config_ok);
    TEST_RUN(test_inference_config_modes);
    TEST_RUN(test_inference_config_errors);
    TEST_RUN(test_thresholds);
    TEST_RUN(test_class_names);
    TEST_RUN(test_environment);
    TEST_RUN(test_confidence_parse);
    TEST_RUN(test_cache_and_digests);
    TEST_DONE();
}
