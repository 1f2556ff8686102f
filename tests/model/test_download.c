/*
 * test_download.c - models by id against tests/standin (a local stand-in for
 * the Roboflow weights API): download into an empty cache, cache hits without
 * the network, the error mapping (401, 403, 404, 500, stalled server,
 * truncated body, bad MD5, wrong task type) with no half package left behind,
 * two processes downloading the same model at once, and the packed weights
 * kept beside a downloaded package. The legacy endpoints,
 * hostile answers, killed downloads and cache layouts are in test_legacy.c
 * and test_cache_layouts.c.
 */
#include "standin_client.h"

static void test_download_and_cache(void)
{
    mlc_model *m = NULL;
    mlc_error err = {0};
    empty_cache();
    if (!start_standin("none")) return;
    CHECK_OK(load("demo/1", "test-key", 0, &m, &err), &err);
    if (m) {
        CHECK(!strcmp(mlc_model_id(m), "demo/1"));
        CHECK(mlc_model_n_classes(m) == 4);
        classify_once(m);
    }
    mlc_model_free(m);
    m = NULL;
    char path[600];
    snprintf(path, sizeof path, "%s/demo/1/model_config.json", cache);
    CHECK(core_file_exists(path));
    snprintf(path, sizeof path, "%s/demo/1/weights.onnx", cache);
    CHECK(core_file_exists(path));
    CHECK(!cache_has_tmp());
    stop_standin();
    /* the server is gone: the cache answers, and "best" still works */
    CHECK_OK(load("demo/1", "test-key", 0, &m, &err), &err);
    mlc_model_free(m);
}

/* A package downloaded by id keeps the weights oneDNN packed beside it
 * (docs/MODELS.md): shapes/1 is the bundled demo, whose larger weights get
 * cache entries (tiny's are below the threshold). */
static void test_download_keeps_packed(void)
{
    mlc_model *m = NULL;
    mlc_error err = {0};
    empty_cache();
    if (!start_standin("none")) return;
    CHECK_OK(load("shapes/1", "test-key", 0, &m, &err), &err);
    if (m) classify_once(m);
    mlc_model_free(m); /* waits for the cache file's writer */
    stop_standin();
    char cmd[700];
    snprintf(cmd, sizeof cmd, "test $(ls '%s/shapes/1' | grep -c '[.]mlcpack$') = 1", cache);
    CHECK_MSG(system(cmd) == 0, "no packed-weights file in %s/shapes/1", cache);
}

/* Loads demo/1 into an empty cache against a failing stand-in. */
static void expect_failure(const char *mode, const char *id, const char *key, int timeout_ms,
                           mlc_status want, const char *needle)
{
    mlc_model *m = NULL;
    mlc_error err = {0};
    empty_cache();
    if (!start_standin(mode)) return;
    mlc_status st = load(id, key, timeout_ms, &m, &err);
    CHECK_MSG(st == want, "%s: status %d (%s), want %d", mode, (int)st, err.message, (int)want);
    CHECK_MSG(strstr(err.message, needle) != NULL, "%s: '%s' lacks '%s'", mode, err.message,
              needle);
    CHECK(m == NULL);
    char path[600];
    snprintf(path, sizeof path, "%s/%s", cache, id);
    CHECK_MSG(!core_dir_exists(path), "%s: a package directory was left behind", mode);
    CHECK_MSG(!cache_has_tmp(), "%s: a temp directory was left behind", mode);
    stop_standin();
}

static void test_errors(void)
{
    expect_failure("none", "demo/1", "wrong-key", 0, MLC_STATUS_UNAUTHORIZED, "401");
    expect_failure("401", "demo/1", "test-key", 0, MLC_STATUS_UNAUTHORIZED, "API key");
    expect_failure("403", "demo/1", "test-key", 0, MLC_STATUS_UNAUTHORIZED, "403");
    /* a 404 from the weights API falls back to /ort, whose 404 is reported */
    expect_failure("none", "nosuch/7", "test-key", 0, MLC_STATUS_NOT_FOUND,
                   "Could not find requested Roboflow resource");
    expect_failure("404", "demo/1", "test-key", 0, MLC_STATUS_NOT_FOUND, "404");
    expect_failure("500", "demo/1", "test-key", 0, MLC_STATUS_NETWORK, "HTTP 500");
    expect_failure("slow", "demo/1", "test-key", 1000, MLC_STATUS_NETWORK, "failed");
    expect_failure("truncated", "demo/1", "test-key", 0, MLC_STATUS_NETWORK, "downloading");
    expect_failure("badmd5", "demo/1", "test-key", 0, MLC_STATUS_NETWORK, "MD5");
    expect_failure("none", "detector/1", "test-key", 0, MLC_STATUS_UNSUPPORTED, "object-detection");
    /* offline and not cached */
    mlc_model_options o;
    mlc_model_options_default(&o);
    o.cache_dir = cache;
    o.offline = 1;
    mlc_model *m = NULL;
    mlc_error err = {0};
    empty_cache();
    CHECK(mlc_model_load("demo/1", &o, &m, &err) == MLC_STATUS_NOT_FOUND);
    CHECK(strstr(err.message, "offline") != NULL);
}

static void test_concurrent_download(void)
{
    empty_cache();
    if (!start_standin("none")) return;
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            mlc_model *m = NULL;
            mlc_error err = {0};
            mlc_status st = load("demo/1", "test-key", 0, &m, &err);
            if (st) fprintf(stderr, "child %d: %s\n", i, err.message);
            mlc_model_free(m);
            _exit(st ? 1 : 0);
        }
    }
    for (int i = 0; i < 2; i++) {
        int status = 0;
        waitpid(kids[i], &status, 0);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed", i);
    }
    CHECK(!cache_has_tmp());
    stop_standin();
}

int main(void)
{
    scratch_init("download");
    const char *root = getenv("MLC_ROOT") ? getenv("MLC_ROOT") : ".";
    char demo[600];
    snprintf(demo, sizeof demo, "%s/tests/data/model/tiny", root);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/demo/1' '%s/detector/1'", pkgroot, pkgroot);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "cp '%s'/* '%s/demo/1/' && cp '%s'/* '%s/detector/1/'", demo, pkgroot,
             demo, pkgroot);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd,
             "printf '{\"task_type\": \"object-detection\", \"model_architecture\": \"yolov8\"}' "
             "> '%s/detector/1/model_config.json'",
             pkgroot);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/shapes/1' && cd '%s/models/demo' && cp weights.onnx class_names.txt "
             "inference_config.json model_config.json '%s/shapes/1/'",
             pkgroot, root, pkgroot);
    CHECK(system(cmd) == 0);
    TEST_RUN(test_download_and_cache);
    TEST_RUN(test_download_keeps_packed);
    TEST_RUN(test_errors);
    TEST_RUN(test_concurrent_download);
    scratch_done();
    TEST_DONE();
}
