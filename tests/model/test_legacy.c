/*
 * test_legacy.c - models by id through Roboflow's older endpoints against
 * tests/standin: the /ort fallback (weights API 404, or no usable ONNX
 * package), instant models through /getWeights, the package written
 * (environment.json with COLORS, class_names.txt, best.onnx or weights.onnx,
 * model_type.json), every /ort failure branch (401, 404, 500, not JSON,
 * missing keys, file:// URLs, truncated weights, bad MD5, single-label and
 * non-classification models refused before the weights are fetched), model
 * id parsing, hostile file names from the weights API, size caps, and a
 * download killed with SIGKILL mid-body that leaves no package behind.
 */
#include <sys/time.h>

#include <jansson.h>

#include "standin_client.h"

static const char *ENV_ML =
    "{\"PREPROCESSING\": {\"resize\": {\"enabled\": true, \"width\": 32, \"height\": 32, "
    "\"format\": \"Stretch to\"}}, \"CLASS_MAP\": {\"0\": \"red\", \"1\": \"green\", \"2\": "
    "\"blue\", \"3\": \"bright\"}, \"MULTICLASS\": true}";

/* A legacy package in the stand-in's tree: environment.json, the tiny graph
 * as `weights`, and model_type.json when task/type are given. */
static void make_legacy(const char *id, const char *env, const char *weights, const char *task,
                        const char *mtype)
{
    char dir[600], path[700], cmd[2048];
    snprintf(dir, sizeof dir, "%s/%s", pkgroot, id);
    sh("mkdir -p '%s'%s", dir, "");
    snprintf(path, sizeof path, "%s/environment.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(env, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/%s'", test_path("tests/data/model/tiny/weights.onnx"),
             dir, weights);
    CHECK(system(cmd) == 0);
    if (task) {
        snprintf(path, sizeof path, "%s/model_type.json", dir);
        f = fopen(path, "w");
        CHECK(f != NULL);
        if (!f) return;
        fprintf(f, "{\"project_task_type\": \"%s\", \"model_type\": \"%s\"}", task, mtype);
        fclose(f);
    }
}

static int cached(const char *id, const char *file)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s/%s", cache, id, file);
    return core_file_exists(path);
}

static void check_legacy_package(const char *id, const char *weights)
{
    char path[700];
    CHECK_MSG(cached(id, weights), "%s: no %s", id, weights);
    CHECK(cached(id, "class_names.txt") && cached(id, "model_type.json"));
    snprintf(path, sizeof path, "%s/%s/environment.json", cache, id);
    json_t *env = json_load_file(path, 0, NULL);
    CHECK_MSG(json_is_object(json_object_get(env, "COLORS")), "%s: environment.json lacks COLORS",
              id);
    CHECK(json_is_true(json_object_get(env, "MULTICLASS")));
    json_decref(env);
    snprintf(path, sizeof path, "%s/%s/class_names.txt", cache, id);
    char *text = NULL;
    size_t n = 0;
    mlc_error err = {0};
    CHECK_OK(core_read_file(path, 0, &text, &n, &err), &err);
    CHECK(text && !strcmp(text, "red\ngreen\nblue\nbright"));
    mlc_free(text);
    snprintf(path, sizeof path, "%s/%s/model_type.json", cache, id);
    json_t *mt = json_load_file(path, 0, NULL);
    CHECK(!strcmp(json_string_value(json_object_get(mt, "model_id")) ?: "", id));
    json_decref(mt);
}

static void test_ort_fallback(void)
{
    mlc_model *m = NULL;
    mlc_error err = {0};
    empty_cache();
    if (!start_standin("none")) return;
    /* the weights API answers 404 for things/1: /ort serves it */
    CHECK_OK(load("things/1", "test-key", 0, &m, &err), &err);
    CHECK(standin_saw("/models/v1/external/weights") && standin_saw("GET /ort/things/1"));
    if (m) {
        CHECK(!strcmp(mlc_model_task_type(m), "multi-label-classification"));
        CHECK(mlc_model_n_classes(m) == 4 && !strcmp(mlc_model_class_name(m, 3), "bright"));
        classify_once(m);
    }
    mlc_model_free(m);
    m = NULL;
    check_legacy_package("things/1", "best.onnx");
    CHECK(!cache_has_tmp());
    /* YOLOv8-cls keeps its weights in weights.onnx */
    CHECK_OK(load("yolo/2", "test-key", 0, &m, &err), &err);
    mlc_model_free(m);
    m = NULL;
    check_legacy_package("yolo/2", "weights.onnx");
    CHECK(!cached("yolo/2", "best.onnx"));
    stop_standin();
    /* cached: no server needed */
    CHECK_OK(load("things/1", "test-key", 0, &m, &err), &err);
    mlc_model_free(m);
    m = NULL;

    /* a weights API answer without a usable ONNX package also falls back */
    empty_cache();
    if (!start_standin("nopkg")) return;
    CHECK_OK(load("things/1", "test-key", 0, &m, &err), &err);
    CHECK(standin_saw("GET /ort/things/1"));
    mlc_model_free(m);
    m = NULL;
    /* instant model (no integer version): /getWeights */
    CHECK_OK(load("things/fast-abc", "test-key", 0, &m, &err), &err);
    CHECK(standin_saw("GET /getWeights"));
    mlc_model_free(m);
    check_legacy_package("things/fast-abc", "best.onnx");
    stop_standin();
}

/* Loads id into an empty cache against the stand-in in `mode`; checks the
 * status, a message fragment, and that nothing was left in the cache. */
static void expect_failure(const char *mode, const char *id, const char *key, mlc_status want,
                           const char *needle)
{
    mlc_model *m = NULL;
    mlc_error err = {0};
    empty_cache();
    if (!start_standin(mode)) return;
    mlc_status st = load(id, key, 0, &m, &err);
    CHECK_MSG(st == want, "%s %s: status %d (%s), want %d", mode, id, (int)st, err.message,
              (int)want);
    CHECK_MSG(strstr(err.message, needle) != NULL, "%s %s: '%s' lacks '%s'", mode, id, err.message,
              needle);
    CHECK_MSG(!strstr(err.message, "api_key="), "%s: the message shows the API key", mode);
    CHECK(m == NULL);
    mlc_model_free(m);
    char path[600];
    snprintf(path, sizeof path, "%s/%s", cache, id);
    CHECK_MSG(!core_dir_exists(path), "%s: a package directory was left behind", mode);
    CHECK_MSG(!cache_has_tmp(), "%s: a staging directory was left behind", mode);
}

static void test_ort_errors(void)
{
    expect_failure("ort401", "things/1", "test-key", MLC_STATUS_UNAUTHORIZED,
                   "Unauthorized access to roboflow API - check API key. Visit "
                   "https://docs.roboflow.com/api-reference/authentication#retrieve-an-api-key");
    expect_failure("ort404", "things/1", "test-key", MLC_STATUS_NOT_FOUND,
                   "Could not find requested Roboflow resource. Check that the provided dataset "
                   "and version are correct");
    expect_failure("ort500", "things/1", "test-key", MLC_STATUS_NETWORK,
                   "Unsuccessful request to Roboflow API with response code: 500");
    expect_failure("ortjson", "things/1", "test-key", MLC_STATUS_NETWORK, "malformed response");
    expect_failure("ortno:ort", "things/1", "test-key", MLC_STATUS_BAD_MODEL,
                   "Could not find `ort` key in roboflow API model description response.");
    expect_failure("ortno:model", "things/1", "test-key", MLC_STATUS_BAD_MODEL,
                   "Could not find `model` key in roboflow API model description response.");
    expect_failure("ortno:environment", "things/1", "test-key", MLC_STATUS_BAD_MODEL,
                   "Could not find `environment` key in roboflow API model description response.");
    expect_failure("ortfileurl", "things/1", "test-key", MLC_STATUS_NETWORK, "environment.json");
    expect_failure("truncated", "things/1", "test-key", MLC_STATUS_NETWORK, "best.onnx");
    expect_failure("badmd5", "things/1", "test-key", MLC_STATUS_NETWORK, "MD5");
    expect_failure("ort404", "things/fast-abc", "test-key", MLC_STATUS_NOT_FOUND,
                   "Could not find requested Roboflow resource");
    expect_failure("ortno:environment", "things/fast-abc", "test-key", MLC_STATUS_BAD_MODEL,
                   "Could not find `environment` key");
    /* refused before any weights are fetched */
    expect_failure("none", "single/1", "test-key", MLC_STATUS_UNSUPPORTED,
                   "single-label classification model");
    CHECK(!standin_saw("best.onnx"));
    expect_failure("none", "boxes/1", "test-key", MLC_STATUS_UNSUPPORTED, "\"object-detection\"");
    CHECK(!standin_saw("environment.json") && !standin_saw("best.onnx"));
    /* a key the weights API rejects is not retried on /ort */
    expect_failure("none", "things/1", "wrong-key", MLC_STATUS_UNAUTHORIZED, "401");
    CHECK(!standin_saw("/ort/"));
    stop_standin();
}

static void test_model_ids(void)
{
    char *ds = NULL, *ver = NULL;
    mlc_error err = {0};
    CHECK_OK(mdl_parse_model_id("my_project/3", &ds, &ver, &err), &err);
    CHECK(ds && ver && !strcmp(ds, "my_project") && !strcmp(ver, "3"));
    mlc_free(ds);
    mlc_free(ver);
    CHECK_OK(mdl_parse_model_id("p/007", &ds, &ver, &err), &err);
    CHECK(ver && !strcmp(ver, "7")); /* int() */
    mlc_free(ds);
    mlc_free(ver);
    CHECK_OK(mdl_parse_model_id("p/abc-1", &ds, &ver, &err), &err);
    CHECK(ds && !strcmp(ds, "p/abc-1") && ver == NULL); /* instant model */
    mlc_free(ds);
    mlc_free(ver);
    CHECK(mdl_parse_model_id("a/b/c", &ds, &ver, &err) == MLC_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(err.message, "Model ID: `a/b/c` is invalid") != NULL);
    CHECK(mdl_parse_model_id("p/", &ds, &ver, &err) == MLC_STATUS_INVALID_ARGUMENT);
    CHECK(ds == NULL && ver == NULL);

    mlc_model_options o;
    mlc_model_options_default(&o);
    o.cache_dir = cache;
    o.offline = 1;
    mlc_model *m = NULL;
    CHECK(mlc_model_load("ws/a/b", &o, &m, &err) == MLC_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(err.message, "invalid") != NULL && m == NULL);
    CHECK(mlc_model_load("/no/such/dir/x", &o, &m, &err) == MLC_STATUS_NOT_FOUND);
}

/* File names from the weights API that are paths never leave the staging
 * directory. */
static void test_hostile_names(void)
{
    static const char *const names[] = {"../../escape.onnx", "/tmp/mlc-abs-escape.onnx",
                                        "sub/dir.onnx",      "..",
                                        ".hidden",           "model_config.json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char mode[128];
        snprintf(mode, sizeof mode, "hostile:%s", names[i]);
        expect_failure(mode, "demo/1", "test-key", MLC_STATUS_BAD_MODEL,
                       "unsafe package file name");
    }
    char path[600];
    snprintf(path, sizeof path, "%s/escape.onnx", work);
    CHECK(!core_file_exists(path));
    snprintf(path, sizeof path, "%s/../escape.onnx", cache);
    CHECK(!core_file_exists(path));
    CHECK(!core_file_exists("/tmp/mlc-abs-escape.onnx"));
    /* a hostile model id never reaches the file system as a path */
    mlc_model *m = NULL;
    mlc_error err = {0};
    CHECK(load("../3", "test-key", 0, &m, &err) == MLC_STATUS_NOT_FOUND);
    CHECK(load("a/..", "test-key", 0, &m, &err) == MLC_STATUS_NOT_FOUND);
    CHECK(load("a/../../b", "test-key", 0, &m, &err) == MLC_STATUS_INVALID_ARGUMENT);
    stop_standin();
}

static void test_size_cap(void)
{
    mlc_model *m = NULL;
    mlc_error err = {0};
    empty_cache();
    if (!start_standin("none")) return;
    /* the tiny graph is 277 bytes */
    CHECK(load_opts("demo/1", "test-key", 0, 200, &m, &err) == MLC_STATUS_LIMIT);
    CHECK(strstr(err.message, "larger than 200 bytes") != NULL);
    CHECK(load_opts("things/1", "test-key", 0, 200, &m, &err) == MLC_STATUS_LIMIT);
    CHECK(!cache_has_tmp() && m == NULL);
    stop_standin();
}

/* SIGKILL mid-body: no package, the next run succeeds, and a day-old
 * staging directory is swept by a later download. */
static void test_killed_download(void)
{
    empty_cache();
    if (!start_standin("stall")) return;
    for (int round = 0; round < 2; round++) {
        const char *id = round ? "things/1" : "demo/1";
        pid_t kid = fork();
        if (kid == 0) {
            mlc_model *m = NULL;
            mlc_error err = {0};
            load(id, "test-key", 20000, &m, &err);
            _exit(3);
        }
        /* wait until the weights request is under way, then kill */
        for (int i = 0; i < 1000 && !standin_saw(round ? "best.onnx" : "weights.onnx"); i++)
            usleep(10000);
        usleep(300000);
        kill(kid, SIGKILL);
        int status = 0;
        waitpid(kid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        char path[600];
        snprintf(path, sizeof path, "%s/%s", cache, id);
        CHECK_MSG(!core_dir_exists(path), "%s: a half package is visible", id);
    }
    CHECK(cache_has_tmp());
    stop_standin();
    if (!start_standin("none")) return;
    mlc_model *m = NULL;
    mlc_error err = {0};
    CHECK_OK(load("demo/1", "test-key", 0, &m, &err), &err);
    mlc_model_free(m);
    m = NULL;
    CHECK(cache_has_tmp()); /* recent leftovers are not touched */
    /* age the leftovers by two days: the next download sweeps them */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "find '%s' -path '*/.tmp-*' -exec touch -d '2 days ago' {} +", cache);
    CHECK(system(cmd) == 0);
    CHECK_OK(load("things/1", "test-key", 0, &m, &err), &err);
    mlc_model_free(m);
    CHECK(!cache_has_tmp());
    stop_standin();
}

int main(void)
{
    scratch_init("legacy");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/demo/1' && cp '%s'/* '%s/demo/1/'", pkgroot,
             test_path("tests/data/model/tiny"), pkgroot);
    CHECK(system(cmd) == 0);
    make_legacy("things/1", ENV_ML, "best.onnx", "classification", "resnet50");
    make_legacy("things/fast-abc", ENV_ML, "best.onnx", NULL, NULL);
    make_legacy("yolo/2", ENV_ML, "weights.onnx", "classification", "yolov8n");
    make_legacy("single/1",
                "{\"PREPROCESSING\": {}, \"CLASS_MAP\": {\"0\": \"a\"}, \"MULTICLASS\": false}",
                "best.onnx", "classification", "vit");
    make_legacy("boxes/1", ENV_ML, "best.onnx", "object-detection", "yolov8n");
    empty_cache();
    TEST_RUN(test_ort_fallback);
    TEST_RUN(test_ort_errors);
    TEST_RUN(test_model_ids);
    TEST_RUN(test_hostile_names);
    TEST_RUN(test_size_cap);
    TEST_RUN(test_killed_download);
    scratch_done();
    TEST_DONE();
}
