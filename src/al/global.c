/*
 * global.c - process-wide active-learning managers, keyed as Roboflow keys
 * its middlewares: "{model_id}->{target_dataset}". The workflow hook, the
 * CLI and the server call al_global_register and never hold a manager.
 *
 * Invariants: the table only grows (bounded by MAX_KEYS; past it new keys
 * are not registered), entries are never refreshed, a failed creation is
 * kept as a NULL manager so it is not retried on every image. One mutex
 * guards the table; registration itself runs outside it.
 * What it does not do: per-request configuration; the defaults are read
 * once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include "al/al.h"
#include "core/core.h"

#define MAX_KEYS 256

struct entry {
    char *key;
    struct al_manager *mgr; /* NULL: creation failed, AL disabled for this key */
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct entry g_entries[MAX_KEYS];
static size_t g_n;
static char *g_queue_root, *g_config_path, *g_local_dir, *g_api_url;
static int g_offline, g_configured;

static char *env_or(const char *v, const char *env)
{
    if (v) return core_strdup(v);
    const char *e = getenv(env);
    return e && *e ? core_strdup(e) : NULL;
}

static void clear_defaults(void)
{
    mlc_free(g_queue_root);
    mlc_free(g_config_path);
    mlc_free(g_local_dir);
    mlc_free(g_api_url);
    g_queue_root = g_config_path = g_local_dir = g_api_url = NULL;
    g_configured = 0;
}

static mlc_status configure_locked(const struct al_defaults *d, mlc_error *err)
{
    struct al_defaults z = {0};
    if (!d) d = &z;
    clear_defaults();
    g_queue_root = env_or(d->queue_root, "MLC_AL_QUEUE_DIR");
    if (!g_queue_root) {
        const char *cache = getenv("MODEL_CACHE_DIR");
        g_queue_root = core_sprintf("%s/active_learning", cache && *cache ? cache : "/tmp/cache");
    }
    g_config_path = env_or(d->config_path, "MLC_AL_CONFIG");
    g_local_dir = env_or(d->local_dir, "MLC_AL_LOCAL_DIR");
    g_api_url = env_or(d->api_url, "API_BASE_URL");
    g_offline = d->offline;
    if (!g_queue_root) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    g_configured = 1;
    return MLC_OK;
}

mlc_status al_global_configure(const struct al_defaults *d, mlc_error *err)
{
    pthread_mutex_lock(&g_mu);
    mlc_status st = configure_locked(d, err);
    pthread_mutex_unlock(&g_mu);
    return st;
}

/* A key as a single directory name. */
static char *dir_name(const char *key)
{
    char *r = core_strdup(key);
    if (!r) return NULL;
    for (char *p = r; *p; p++)
        if (*p == '/' || *p == '\\' || *p == '>' || *p == ' ') *p = '_';
    if (r[0] == '.') r[0] = '_';
    return r;
}

static struct al_manager *get(const char *api_key, const char *model_id, const char *target)
{
    char *key = core_sprintf("%s->%s", model_id, target);
    struct al_manager *m = NULL;
    if (!key) return NULL;
    pthread_mutex_lock(&g_mu);
    for (size_t i = 0; i < g_n; i++)
        if (!strcmp(g_entries[i].key, key)) {
            m = g_entries[i].mgr;
            goto done;
        }
    if (g_n >= MAX_KEYS || (!g_configured && configure_locked(NULL, NULL))) goto done;
    char *sub = dir_name(key);
    char *qdir = sub ? core_sprintf("%s/%s", g_queue_root, sub) : NULL;
    mlc_free(sub);
    if (!qdir) goto done;
    struct al_options o;
    memset(&o, 0, sizeof o);
    o.queue_dir = qdir;
    o.config_path = g_config_path;
    o.model_id = model_id;
    o.project = target;
    o.api_key = api_key;
    o.api_url = g_api_url;
    o.local_dir = g_local_dir;
    o.offline = g_offline;
    mlc_error err = {0};
    /* Creation may fetch the configuration: done under the table lock so
     * one key is created once; later calls only look it up. */
    if (al_manager_create(&o, &m, &err) != MLC_OK) {
        fprintf(stderr, "mlc: active learning disabled for %s: %s\n", key, err.message);
        m = NULL;
    }
    mlc_free(qdir);
    g_entries[g_n].key = key;
    g_entries[g_n].mgr = m;
    g_n++;
    key = NULL;
done:
    pthread_mutex_unlock(&g_mu);
    mlc_free(key);
    return m;
}

enum al_outcome al_global_register(const char *api_key, const char *model_id,
                                   const char *target_dataset, const mlc_image *img,
                                   const char *prediction_json, const char *inference_id)
{
    if (!model_id || !*model_id) return AL_DISABLED;
    char *target = NULL;
    if (target_dataset && *target_dataset) {
        target = core_strdup(target_dataset);
    } else {
        const char *slash = strchr(model_id, '/');
        target = slash ? core_strndup(model_id, (size_t)(slash - model_id)) : core_strdup(model_id);
    }
    if (!target) return AL_DROPPED;
    struct al_manager *m = get(api_key, model_id, target);
    enum al_outcome r =
        m ? al_register(m, img, prediction_json, model_id, target, inference_id, NULL)
          : AL_DISABLED;
    mlc_free(target);
    return r;
}

void al_global_shutdown(int timeout_ms)
{
    pthread_mutex_lock(&g_mu);
    double end = core_now() + timeout_ms / 1000.0;
    for (size_t i = 0; i < g_n; i++) {
        int left = (int)((end - core_now()) * 1000);
        al_manager_free(g_entries[i].mgr, left > 0 ? left : 0);
        mlc_free(g_entries[i].key);
        g_entries[i].key = NULL;
        g_entries[i].mgr = NULL;
    }
    g_n = 0;
    clear_defaults();
    pthread_mutex_unlock(&g_mu);
}
