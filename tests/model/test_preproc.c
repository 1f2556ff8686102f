/*
 * test_preproc.c - mlc's preprocessing against reference tensors made by
 * tools/preproc_ref/make_refs.py (OpenCV + numpy + skimage following the
 * spec), for every resize mode, static crop, grayscale, each contrast method,
 * colour mode and normalisation, in both package formats. Each element must
 * be within one grey level after scaling/normalisation.
 */
#include <jansson.h>

#include "mlc.h"
#include "model/model.h"
#include "model/preproc.h"
#include "test.h"

static mlc_image *src_img;

static double grey_level(const struct mdl_preproc *pp)
{
    double g = 1.0;
    if (pp->has_scaling) g /= pp->scaling_factor;
    if (pp->has_norm) {
        double s = fabs(pp->std[0]);
        for (int c = 1; c < 3; c++)
            if (fabs(pp->std[c]) < s) s = fabs(pp->std[c]);
        g /= s;
    }
    return g;
}

static void run_case(const json_t *cs)
{
    const char *name = json_string_value(json_object_get(cs, "name"));
    const char *fmt = json_string_value(json_object_get(cs, "format"));
    const char *arch = json_string_value(json_object_get(cs, "architecture"));
    char *cfg = json_dumps(json_object_get(cs, "config"), 0);
    struct mdl_package p;
    mlc_error err = {0};
    mdl_package_init(&p);
    p.architecture = core_strdup(arch);
    mlc_status st;
    if (!strcmp(fmt, "legacy")) {
        st = mdl_parse_environment(cfg, strlen(cfg), name, &p, &err);
        p.pp.width = (int)json_integer_value(json_object_get(cs, "width"));
        p.pp.height = (int)json_integer_value(json_object_get(cs, "height"));
    } else {
        st = mdl_parse_inference_config(cfg, strlen(cfg), name, &p, &err);
    }
    free(cfg);
    CHECK_MSG(st == MLC_OK, "%s: %s", name, err.message);
    if (st) goto done;
    mdl_package_finish_arch(&p);

    char path[512];
    snprintf(path, sizeof path, "tests/data/model/preproc/%s.npy", name);
    struct core_npy ref;
    st = core_npy_read(test_path(path), &ref, &err);
    CHECK_MSG(st == MLC_OK, "%s: %s", name, err.message);
    if (st) goto done;
    size_t n = (size_t)3 * (size_t)p.pp.width * (size_t)p.pp.height;
    CHECK_MSG(ref.rank == 4 && ref.dims[2] == p.pp.height && ref.dims[3] == p.pp.width &&
                  !strcmp(ref.dtype, "<f4"),
              "%s: reference shape", name);
    float *out = mlc_alloc(n * sizeof *out);
    st = mdl_preprocess(&p.pp, src_img, 0, out, &err);
    CHECK_MSG(st == MLC_OK, "%s: %s", name, err.message);
    if (!st && ref.nbytes == n * sizeof(float)) {
        const float *r = ref.data;
        double tol = grey_level(&p.pp) * 1.0001 + 1e-5, worst = 0;
        size_t bad = 0, at = 0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)out[i] - (double)r[i]);
            if (d > worst) worst = d, at = i;
            bad += d > tol;
        }
        CHECK_MSG(bad == 0,
                  "%s: %zu of %zu values off by more than one grey level (%g); worst %g at %zu "
                  "(mlc %g, ref %g)",
                  name, bad, n, tol, worst, at, (double)out[at], (double)r[at]);
    }
    mlc_free(out);
    core_npy_free(&ref);
done:
    mdl_package_free(&p);
}

static void test_reference_matrix(void)
{
    json_error_t je;
    json_t *cases = json_load_file(test_path("tests/data/model/preproc/cases.json"), 0, &je);
    CHECK_MSG(json_is_array(cases) && json_array_size(cases) >= 20, "cases.json: %s", je.text);
    size_t i;
    json_t *cs;
    json_array_foreach(cases, i, cs) run_case(cs);
    json_decref(cases);
}

static void test_disable_flags_and_errors(void)
{
    /* the static crop disabled by flag equals no crop at all */
    const char *with =
        "{\"image_pre_processing\": {\"static-crop\": {\"enabled\": true, \"x_min\": "
        "10, \"x_max\": 85, \"y_min\": 20, \"y_max\": 90}, \"grayscale\": "
        "{\"enabled\": true}}, \"network_input\": {\"training_input_size\": "
        "{\"height\": 8, \"width\": 8}, \"dynamic_spatial_size_supported\": false, "
        "\"color_mode\": \"rgb\", \"resize_mode\": \"stretch\", \"input_channels\": "
        "3, \"scaling_factor\": 255}, \"post_processing\": {\"type\": \"sigmoid\"}}";
    const char *without = "{\"network_input\": {\"training_input_size\": {\"height\": 8, "
                          "\"width\": 8}, \"dynamic_spatial_size_supported\": false, "
                          "\"color_mode\": \"rgb\", \"resize_mode\": \"stretch\", "
                          "\"input_channels\": 3, \"scaling_factor\": 255}}";
    struct mdl_package a, b;
    mlc_error err = {0};
    mdl_package_init(&a);
    mdl_package_init(&b);
    CHECK_OK(mdl_parse_inference_config(with, strlen(with), "a", &a, &err), &err);
    CHECK_OK(mdl_parse_inference_config(without, strlen(without), "b", &b, &err), &err);
    float x[192], y[192];
    CHECK_OK(mdl_preprocess(&a.pp, src_img, MLC_CLASSIFY_NO_STATIC_CROP | MLC_CLASSIFY_NO_GRAYSCALE,
                            x, &err),
             &err);
    CHECK_OK(mdl_preprocess(&b.pp, src_img, 0, y, &err), &err);
    CHECK(!memcmp(x, y, sizeof x));
    CHECK_OK(mdl_preprocess(&a.pp, src_img, 0, x, &err), &err);
    CHECK(memcmp(x, y, sizeof x) != 0);
    /* a crop that leaves nothing of a 1-pixel-wide image is a clear error */
    uint8_t px[3 * 4] = {0};
    mlc_image *tiny = NULL;
    CHECK_OK(mlc_image_from_bgr(px, 1, 4, 3, &tiny, &err), &err);
    CHECK(mdl_preprocess(&a.pp, tiny, 0, x, &err) == MLC_STATUS_BAD_IMAGE);
    CHECK(strstr(err.message, "static crop") != NULL);
    mlc_image_free(tiny);
    mdl_package_free(&a);
    mdl_package_free(&b);
}

int main(void)
{
    mlc_error err = {0};
    if (mlc_image_load(MLC_INPUT_PATH, test_path("tests/data/model/preproc/src.png"), 0, NULL,
                       &src_img, &err)) {
        fprintf(stderr, "cannot load src.png: %s\n", err.message);
        return 1;
    }
    TEST_RUN(test_reference_matrix);
    TEST_RUN(test_disable_flags_and_errors);
    mlc_image_free(src_img);
    TEST_DONE();
}
