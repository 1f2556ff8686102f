/*
 * test_download.c - models by id against tests/standin (a local stand-in for
 * the Roboflow weights API): download into an empty cache, cache hits without
 * the network, the error mapping (401, 403, 404, 500, stalled server,
 * truncated body, bad MD5, wrong task type) with no half package left behind,
 * and two processes downloading the same model at once.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mlc.h"
#include "model/model.h"
#include "test.h"

static char work[256], pkgroot[300], cache[300];
static pid_t standin_pid;
static char api_url[64];

static void sh(const char *fmt, const char *a, const char *b)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
}

static int start_standin(const char *fail)
{
    char port_file[512], bin[512], log[512];
    snprintf(port_file, sizeof port_file, "%s/port", work);
    snprintf(log, sizeof log, "%s/requests.log", work);
    unlink(port_file);
    const char *build = getenv("MLC_BUILD");
    snprintf(bin, sizeof bin, "%s/mlc_standin", build ? build : "build");
    pid_t pid = fork();
    if (pid == 0) {
        execl(bin, bin, "--root", pkgroot, "--port-file", port_file, "--fail", fail, "--log", log,
              (char *)NULL);
        _exit(127);
    }
    standin_pid = pid;
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(port_file, "r");
        int port = 0;
        if (f) {
            if (fscanf(f, "%d", &port) != 1) port = 0;
            fclose(f);
        }
        if (port > 0) {
            snprintf(api_url, sizeof api_url, "http://127.0.0.1:%d", port);
            return 1;
        }
        usleep(10000);
    }
    CHECK_MSG(0, "the stand-in did not start (%s)", bin);
    return 0;
}

static void stop_standin(void)
{
    if (standin_pid > 0) {
        kill(standin_pid, SIGTERM);
        waitpid(standin_pid, NULL, 0);
    }
    standin_pid = 0;
}

static void empty_cache(void)
{
    sh("rm -rf '%s' && mkdir -p '%s'", cache, cache);
}

static mlc_status load(const char *id, const char *key, int timeout_ms, mlc_model **m,
                       mlc_error *err)
{
    mlc_model_options o;
    mlc_model_options_default(&o);
    o.cache_dir = cache;
    o.api_url = api_url;
    o.api_key = key;
    if (timeout_ms) o.limits.url_timeout_ms = timeout_ms;
    return mlc_model_load(id, &o, m, err);
}

/* Only the leftovers a successful download may leave: none in the cache root
 * except the final package directories. */
static int cache_has_tmp(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -q '^\\.tmp-'", cache);
    return system(cmd) == 0;
}

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
        mlc_session *s = NULL;
        mlc_image *im = NULL;
        mlc_result *r = NULL;
        CHECK_OK(mlc_session_create(m, &s, &err), &err);
        CHECK_OK(mlc_image_load(MLC_INPUT_PATH, test_path("tests/data/model/preproc/src.png"), 0,
                                NULL, &im, &err),
                 &err);
        if (s && im)
            CHECK_OK(
                mlc_classify(s, (const mlc_image *const *)&im, 1, mlc_confidence_best(), &r, &err),
                &err);
        mlc_result_free(r);
        mlc_image_free(im);
        mlc_session_free(s);
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
    expect_failure("none", "nosuch/7", "test-key", 0, MLC_STATUS_NOT_FOUND, "Model not found");
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
    snprintf(work, sizeof work, "/tmp/mlc-test-download-%ld", (long)getpid());
    snprintf(pkgroot, sizeof pkgroot, "%s/packages", work);
    snprintf(cache, sizeof cache, "%s/cache", work);
    const char *root = getenv("MLC_ROOT") ? getenv("MLC_ROOT") : ".";
    char demo[600];
    snprintf(demo, sizeof demo, "%s/tests/data/model/tiny", root);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s/demo/1' '%s/detector/1'", work, pkgroot,
             pkgroot);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "cp '%s'/* '%s/demo/1/' && cp '%s'/* '%s/detector/1/'", demo, pkgroot,
             demo, pkgroot);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd,
             "printf '{\"task_type\": \"object-detection\", \"model_architecture\": \"yolov8\"}' "
             "> '%s/detector/1/model_config.json'",
             pkgroot);
    CHECK(system(cmd) == 0);
    TEST_RUN(test_download_and_cache);
    TEST_RUN(test_errors);
    TEST_RUN(test_concurrent_download);
    stop_standin();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", work);
    TEST_DONE();
}
