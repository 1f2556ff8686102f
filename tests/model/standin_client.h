/*
 * standin_client.h - helpers the model download tests share: a scratch
 * directory (packages the stand-in serves + an empty cache), starting and
 * stopping tests/standin with a failure mode, and loading by id against it.
 * Header-only (static functions): each test binary includes it once.
 */
#ifndef MLC_TEST_STANDIN_CLIENT_H
#define MLC_TEST_STANDIN_CLIENT_H

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

static inline void sh(const char *fmt, const char *a, const char *b)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
}

static inline void stop_standin(void)
{
    if (standin_pid > 0) {
        kill(standin_pid, SIGTERM);
        waitpid(standin_pid, NULL, 0);
    }
    standin_pid = 0;
}

static inline int start_standin(const char *fail)
{
    char port_file[512], bin[512], log[512];
    stop_standin();
    snprintf(port_file, sizeof port_file, "%s/port", work);
    snprintf(log, sizeof log, "%s/requests.log", work);
    unlink(port_file);
    unlink(log);
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

/* 1 when the stand-in's request log has a line containing needle. */
static inline int standin_saw(const char *needle)
{
    char path[512], line[1024];
    snprintf(path, sizeof path, "%s/requests.log", work);
    FILE *f = fopen(path, "r");
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f)) found = strstr(line, needle) != NULL;
    if (f) fclose(f);
    return found;
}

static inline void empty_cache(void)
{
    sh("rm -rf '%s' && mkdir -p '%s'", cache, cache);
}

static inline mlc_status load_opts(const char *id, const char *key, int timeout_ms,
                                   size_t max_bytes, mlc_model **m, mlc_error *err)
{
    mlc_model_options o;
    mlc_model_options_default(&o);
    o.cache_dir = cache;
    o.api_url = api_url;
    o.api_key = key;
    if (timeout_ms) o.limits.url_timeout_ms = timeout_ms;
    if (max_bytes) o.limits.max_input_bytes = max_bytes;
    return mlc_model_load(id, &o, m, err);
}

static inline mlc_status load(const char *id, const char *key, int timeout_ms, mlc_model **m,
                              mlc_error *err)
{
    return load_opts(id, key, timeout_ms, 0, m, err);
}

/* A staging directory left in the cache root. */
static inline int cache_has_tmp(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -q '^\\.tmp-'", cache);
    return system(cmd) == 0;
}

/* Sets up work/, pkgroot/ and cache/ for this process. */
static inline void scratch_init(const char *name)
{
    snprintf(work, sizeof work, "/tmp/mlc-test-%s-%ld", name, (long)getpid());
    snprintf(pkgroot, sizeof pkgroot, "%s/packages", work);
    snprintf(cache, sizeof cache, "%s/cache", work);
    sh("rm -rf '%s' && mkdir -p '%s'", work, pkgroot);
}

static inline void scratch_done(void)
{
    stop_standin();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", work);
}

/* Runs one classification on the preprocessing test image. */
static inline void classify_once(mlc_model *m)
{
    mlc_error err = {0};
    mlc_session *s = NULL;
    mlc_image *im = NULL;
    mlc_result *r = NULL;
    CHECK_OK(mlc_session_create(m, &s, &err), &err);
    CHECK_OK(mlc_image_load(MLC_INPUT_PATH, test_path("tests/data/model/preproc/src.png"), 0, NULL,
                            &im, &err),
             &err);
    if (s && im)
        CHECK_OK(mlc_classify(s, (const mlc_image *const *)&im, 1, mlc_confidence_best(), &r, &err),
                 &err);
    mlc_result_free(r);
    mlc_image_free(im);
    mlc_session_free(s);
}

#endif
