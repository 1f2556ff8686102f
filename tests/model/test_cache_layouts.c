/*
 * test_cache_layouts.c - packages Roboflow's inference already cached load
 * without the network: inference_models' models-cache/v2-<slug>-<blake2s16>/
 * <package_id>/ with symlinks into shared-blobs/ (under the cache root or
 * $INFERENCE_HOME), inference's legacy <root>/<model_id>/ and
 * ~<slug>-<blake2s16> directories and its older 4-byte-digest form. Trees
 * that would lead outside the cache (symlinks elsewhere, bad package ids,
 * packages attributed to another model) are not used. Directory names are
 * spelled out here (computed with Python's hashlib.blake2s), not derived
 * from the code under test. Also: the weights oneDNN packed are kept beside
 * a package mlc keeps for an id, and nowhere else (not by directory, not
 * through a symlink out of the cache, not in inference_models' tree).
 */
#include <dirent.h>
#include <jansson.h>

#include "mlc.h"
#include "model/model.h"
#include "test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char work[256], cache[300];

static const char *ENV_ML =
    "{\"PREPROCESSING\": {}, \"CLASS_MAP\": {\"0\": \"red\", \"1\": \"green\", \"2\": "
    "\"blue\", \"3\": \"bright\"}, \"MULTICLASS\": true}";

static void run(const char *cmd)
{
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static mlc_status load_from(const char *root, const char *id, int offline, mlc_model **m,
                            mlc_error *err)
{
    mlc_model_options o;
    mlc_model_options_default(&o);
    o.cache_dir = root;
    o.offline = offline;
    o.api_url = "http://127.0.0.1:9"; /* nothing listens: any request fails */
    o.api_key = "k";
    o.limits.url_timeout_ms = 1000;
    return mlc_model_load(id, &o, m, err);
}

static void expect_loads(const char *root, const char *id, int offline)
{
    mlc_model *m = NULL;
    mlc_error err = {0};
    CHECK_OK(load_from(root, id, offline, &m, &err), &err);
    if (m) CHECK(mlc_model_n_classes(m) == 4);
    mlc_model_free(m);
}

static void expect_not_cached(const char *root, const char *id, const char *why)
{
    mlc_model *m = NULL;
    mlc_error err = {0};
    mlc_status st = load_from(root, id, 1, &m, &err);
    CHECK_MSG(st == MLC_STATUS_NOT_FOUND && strstr(err.message, "offline"), "%s: status %d (%s)",
              why, (int)st, err.message);
    mlc_model_free(m);
}

/* An inference_models package: model_config.json a regular file, the other
 * files symlinks into <home>/shared-blobs/. */
static void make_v2(const char *home, const char *model_dir, const char *pkg, const char *owner,
                    const char *backend, const char *quant, int n_classes)
{
    char dir[700], blobs[700], cmd[4096], path[800], mc[1024];
    snprintf(dir, sizeof dir, "%s/models-cache/%s/%s", home, model_dir, pkg);
    snprintf(blobs, sizeof blobs, "%s/shared-blobs", home);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' '%s'", dir, blobs);
    run(cmd);
    const char *tiny = test_path("tests/data/model/tiny");
    /* blobs are named after their content, as inference names them by MD5 */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && for f in inference_config.json weights.onnx; do "
             "s=$(md5sum '%s'/$f | cut -c1-32); cp '%s'/$f '%s'/$s; ln -sf '%s'/$s $f; done",
             dir, tiny, tiny, blobs, blobs);
    run(cmd);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && head -n %d '%s/class_names.txt' > '%s/cn%d' && ln -sf '%s/cn%d' "
             "class_names.txt",
             dir, n_classes, tiny, blobs, n_classes, blobs, n_classes);
    run(cmd);
    snprintf(mc, sizeof mc,
             "{\"offline_manifest_version\": 1, \"model_architecture\": \"resnet\", "
             "\"task_type\": \"multi-label-classification\", \"backend_type\": \"%s\", "
             "\"quantization\": \"%s\", \"recommended_parameters\": null, "
             "\"model_id\": \"%s\"}",
             backend, quant, owner);
    snprintf(path, sizeof path, "%s/model_config.json", dir);
    put(path, mc);
}

static void fresh(const char *root)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", root, root);
    run(cmd);
}

#define V2_DIR "v2-inf-cached-5-d15206967d680e99f13b0984a01bf5ce"

static void test_models_cache_v2(void)
{
    fresh(cache);
    make_v2(cache, V2_DIR, "pkgA1", "inf-cached/5", "onnx", "fp32", 4);
    expect_loads(cache, "inf-cached/5", 1);
    expect_loads(cache, "inf-cached/5", 0); /* online, but cached: no request */

    /* fp32 is preferred over fp16; the fp16 package here is broken (3
     * classes for a 4-output graph), so loading proves which one was used */
    fresh(cache);
    make_v2(cache, V2_DIR, "aaFp16", "inf-cached/5", "onnx", "fp16", 3);
    make_v2(cache, V2_DIR, "zzFp32", "inf-cached/5", "onnx", "fp32", 4);
    expect_loads(cache, "inf-cached/5", 1);

    /* $INFERENCE_HOME apart from the cache root */
    char home[400];
    snprintf(home, sizeof home, "%s/home", work);
    fresh(home);
    fresh(cache);
    make_v2(home, V2_DIR, "pkgA1", "inf-cached/5", "onnx", "fp32", 4);
    expect_not_cached(cache, "inf-cached/5", "INFERENCE_HOME unset");
    setenv("INFERENCE_HOME", home, 1);
    expect_loads(cache, "inf-cached/5", 1);
    unsetenv("INFERENCE_HOME");
}

static void test_models_cache_refused(void)
{
    char cmd[4096], dir[700];
    snprintf(dir, sizeof dir, "%s/models-cache/" V2_DIR "/pkgA1", cache);

    fresh(cache); /* attributed to another model */
    make_v2(cache, V2_DIR, "pkgA1", "someone/9", "onnx", "fp32", 4);
    expect_not_cached(cache, "inf-cached/5", "other owner");

    fresh(cache); /* not an ONNX package */
    make_v2(cache, V2_DIR, "pkgA1", "inf-cached/5", "trt", "fp16", 4);
    expect_not_cached(cache, "inf-cached/5", "trt package");

    fresh(cache); /* package ids are [A-Za-z0-9]+ */
    make_v2(cache, V2_DIR, "pkg-1", "inf-cached/5", "onnx", "fp32", 4);
    expect_not_cached(cache, "inf-cached/5", "package id with '-'");

    fresh(cache); /* a symlink out of the cache home */
    make_v2(cache, V2_DIR, "pkgA1", "inf-cached/5", "onnx", "fp32", 4);
    snprintf(cmd, sizeof cmd,
             "cp '%s' '%s/outside.onnx' && ln -sf '%s/outside.onnx' '%s/weights.onnx'",
             test_path("tests/data/model/tiny/weights.onnx"), work, work, dir);
    run(cmd);
    expect_not_cached(cache, "inf-cached/5", "symlink outside shared-blobs");

    fresh(cache); /* ".." through the blobs directory */
    make_v2(cache, V2_DIR, "pkgA1", "inf-cached/5", "onnx", "fp32", 4);
    snprintf(cmd, sizeof cmd, "ln -sf '%s/shared-blobs/../../outside.onnx' '%s/weights.onnx'",
             cache, dir);
    run(cmd);
    expect_not_cached(cache, "inf-cached/5", "symlink with ..");

    fresh(cache); /* model_config.json itself a symlink */
    make_v2(cache, V2_DIR, "pkgA1", "inf-cached/5", "onnx", "fp32", 4);
    snprintf(cmd, sizeof cmd,
             "mv '%s/model_config.json' '%s/shared-blobs/mc' && ln -s '%s/shared-blobs/mc' "
             "'%s/model_config.json'",
             dir, cache, cache, dir);
    run(cmd);
    expect_not_cached(cache, "inf-cached/5", "model_config.json symlink");

    fresh(cache); /* a file missing */
    make_v2(cache, V2_DIR, "pkgA1", "inf-cached/5", "onnx", "fp32", 4);
    snprintf(cmd, sizeof cmd, "rm '%s/class_names.txt'", dir);
    run(cmd);
    expect_not_cached(cache, "inf-cached/5", "no class_names.txt");

    /* the 4-byte-digest namespace only with exact attribution */
    fresh(cache);
    make_v2(cache, "inf-cached-5-8cdeac84", "pkgA1", "inf-cached/5", "onnx", "fp32", 4);
    expect_loads(cache, "inf-cached/5", 1);
    snprintf(cmd, sizeof cmd,
             "sed -i 's/\"model_id\": \"inf-cached\\/5\"/\"other\": 1/' "
             "'%s/models-cache/inf-cached-5-8cdeac84/pkgA1/model_config.json'",
             cache);
    run(cmd);
    expect_not_cached(cache, "inf-cached/5", "v1 slug without attribution");
}

/* inference's legacy cache: environment.json + best.onnx (+ model_type.json). */
static void make_legacy(const char *rel, const char *owner)
{
    char dir[700], path[800], cmd[2048];
    snprintf(dir, sizeof dir, "%s/%s", cache, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s' '%s/best.onnx'", dir,
             test_path("tests/data/model/tiny/weights.onnx"), dir);
    run(cmd);
    snprintf(path, sizeof path, "%s/environment.json", dir);
    put(path, ENV_ML);
    if (owner) {
        char mt[512];
        snprintf(mt, sizeof mt,
                 "{\"project_task_type\": \"classification\", \"model_type\": \"resnet50\", "
                 "\"model_id\": \"%s\"}",
                 owner);
        snprintf(path, sizeof path, "%s/model_type.json", dir);
        put(path, mt);
    }
}

static void test_legacy_layouts(void)
{
    fresh(cache);
    make_legacy("legacy-raw/3", NULL);
    expect_loads(cache, "legacy-raw/3", 1);
    make_legacy("~Upper-3-43e5eede1cc4021fa0aa4bbc57b1a427", NULL);
    expect_loads(cache, "Upper/3", 1);
    /* the older 4-byte form and the raw path of a non-portable id: only with
     * model_type.json naming the id */
    make_legacy("Old_Cache-7-6f638590", NULL);
    expect_not_cached(cache, "Old_Cache/7", "old slug without owner");
    make_legacy("Old_Cache-7-6f638590", "Old_Cache/7");
    expect_loads(cache, "Old_Cache/7", 1);
    make_legacy("Mixed/4", "Someone/4");
    expect_not_cached(cache, "Mixed/4", "raw legacy path owned by another id");
    make_legacy("Mixed/4", "Mixed/4");
    expect_loads(cache, "Mixed/4", 1);
}

/* *.mlcpack files (packed-weights caches) directly in dir. */
static int n_packs(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t k = strlen(e->d_name);
        n += k > 8 && !strcmp(e->d_name + k - 8, ".mlcpack");
    }
    if (d) closedir(d);
    return n;
}

/* The scores m gives samples/05_square_triangle.jpg (5 classes). */
static void scores_of(const mlc_model *m, float out[5])
{
    mlc_session *s = NULL;
    mlc_image *im = NULL;
    mlc_result *r = NULL;
    mlc_error err = {0};
    for (int c = 0; c < 5; c++) out[c] = -1;
    CHECK_OK(mlc_image_load(MLC_INPUT_PATH, test_path("samples/05_square_triangle.jpg"), 0, NULL,
                            &im, &err),
             &err);
    CHECK_OK(mlc_session_create(m, &s, &err), &err);
    if (s && im)
        CHECK_OK(mlc_classify(s, (const mlc_image *const *)&im, 1, mlc_confidence_best(), &r, &err),
                 &err);
    for (int c = 0; r && c < 5; c++) out[c] = (float)mlc_result_score(r, c);
    mlc_result_free(r);
    mlc_session_free(s);
    mlc_image_free(im);
}

static void by_id_scores(const char *id, float out[5])
{
    mlc_model *m = NULL;
    mlc_error err = {0};
    for (int c = 0; c < 5; c++) out[c] = -1;
    CHECK_OK(load_from(cache, id, 1, &m, &err), &err);
    if (m) scores_of(m, out);
    mlc_model_free(m); /* waits for the cache file's writer */
}

static void copy_demo(const char *dir)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && rm -f '%s'/* && cd '%s' && cp weights.onnx class_names.txt "
             "inference_config.json model_config.json '%s'",
             dir, dir, test_path("models/demo"), dir);
    run(cmd);
}

static void test_packed_beside_package(void)
{
    char dir[700], w[800];
    float ref[5], a[5], b[5];
    mlc_error err = {0};
    fresh(cache);
    unsetenv("MLC_PACK_CACHE");
    snprintf(dir, sizeof dir, "%s/packed/2", cache);
    copy_demo(dir);
    /* By directory: the user's own files, nothing written there. */
    mlc_model *m = NULL;
    CHECK_OK(mlc_model_load(dir, NULL, &m, &err), &err);
    if (m) scores_of(m, ref);
    mlc_model_free(m);
    CHECK(n_packs(dir) == 0);
    /* By id, in mlc's layout: one file, which a later load reads. */
    by_id_scores("packed/2", a);
    CHECK_MSG(n_packs(dir) == 1, "%d packed-weights files in %s", n_packs(dir), dir);
    snprintf(w, sizeof w, "%s/weights.onnx", dir);
    mlc_model_options o;
    mlc_model_options_default(&o);
    o.pack_cache = dir;
    mlc_net *net = NULL;
    CHECK_OK(mlc_net_load(w, &o, &net, &err), &err);
    int loaded = 0, added = 0, hits = 0;
    if (net) mlc_net_pack_cache_counts(net, &loaded, &added, &hits);
    CHECK_MSG(loaded >= 4, "%d entries read", loaded); /* the demo's four weights >= 64 KiB */
    mlc_net_free(net);
    by_id_scores("packed/2", b);
    for (int c = 0; c < 5; c++) {
        CHECK_NEAR(a[c], ref[c], 1e-6);
        CHECK_NEAR(b[c], ref[c], 1e-6);
    }
    CHECK(n_packs(dir) == 1);
    /* $MLC_PACK_CACHE set, even empty, decides. */
    copy_demo(dir);
    setenv("MLC_PACK_CACHE", "", 1);
    by_id_scores("packed/2", a);
    CHECK(n_packs(dir) == 0);
    unsetenv("MLC_PACK_CACHE");
    /* A package linked into the cache from elsewhere is the user's own
     * (docs/SERVER.md serves models/demo so). */
    char own[700], link[700];
    snprintf(own, sizeof own, "%s/linked-pkg", work);
    copy_demo(own);
    snprintf(link, sizeof link, "%s/linked", cache);
    mkdir(link, 0755);
    snprintf(link, sizeof link, "%s/linked/1", cache);
    CHECK(symlink(own, link) == 0);
    by_id_scores("linked/1", a);
    CHECK_NEAR(a[0], ref[0], 1e-6);
    CHECK(n_packs(own) == 0);
    /* A cache inference wrote is only read. */
    fresh(cache);
    make_v2(cache, V2_DIR, "pkgA1", "inf-cached/5", "onnx", "fp32", 4);
    snprintf(dir, sizeof dir, "%s/models-cache/" V2_DIR "/pkgA1", cache);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && rm -f weights.onnx class_names.txt inference_config.json && cp "
             "'%s'/weights.onnx '%s'/class_names.txt '%s'/inference_config.json .",
             dir, test_path("models/demo"), test_path("models/demo"), test_path("models/demo"));
    run(cmd);
    by_id_scores("inf-cached/5", a);
    CHECK_NEAR(a[0], ref[0], 1e-6);
    CHECK(n_packs(dir) == 0);
}

static void test_cache_paths(void)
{
    static const struct {
        const char *id, *rel;
    } cases[] = {
        {"my_project/3", "my_project/3"},
        {"my project/3", "my project/3"},
        {"Upper/3", "~Upper-3-43e5eede1cc4021fa0aa4bbc57b1a427"},
        {"demo/1", "demo/1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *d = mdl_cache_dir_for("/r", cases[i].id), want[300];
        snprintf(want, sizeof want, "/r/%s", cases[i].rel);
        CHECK_MSG(d && !strcmp(d, want), "%s -> %s, want %s", cases[i].id, d ? d : "(null)", want);
        mlc_free(d);
    }
    /* not portable as raw paths: slugged */
    static const char *const slugged[] = {"con/1",          "a./1",     "x/lpt3.txt",
                                          "models-cache/1", "~tilde/1", "abc-1234abcd/1",
                                          "shared-blobs/2", "trail /1"};
    for (size_t i = 0; i < sizeof slugged / sizeof slugged[0]; i++) {
        char *d = mdl_cache_dir_for("/r", slugged[i]);
        CHECK_MSG(d && !strncmp(d, "/r/~", 4), "%s -> %s", slugged[i], d ? d : "(null)");
        mlc_free(d);
    }
}

int main(void)
{
    snprintf(work, sizeof work, "/tmp/mlc-test-layouts-%ld", (long)getpid());
    snprintf(cache, sizeof cache, "%s/cache", work);
    unsetenv("INFERENCE_HOME");
    unsetenv("OFFLINE_MODE");
    fresh(work);
    TEST_RUN(test_cache_paths);
    TEST_RUN(test_models_cache_v2);
    TEST_RUN(test_models_cache_refused);
    TEST_RUN(test_legacy_layouts);
    TEST_RUN(test_packed_beside_package);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", work);
    TEST_DONE();
}
