/*
 * manager.c - the active-learning manager: configuration, sampling with
 * persisted limits, the durable on-disk queue and its delivery thread.
 *
 * Layout of queue_dir: q/ (one file per datapoint, see queue.c), failed/
 * (datapoints a sink rejected for good), state.json (limit counters and
 * batch sizes, rewritten atomically at every consumption), lock (flock: one
 * manager per queue directory, so nothing is sent twice concurrently).
 *
 * Invariants
 *   - al_register() returns AL_QUEUED only after the datapoint file and the
 *     state that paid for it are on disk (fsynced). State is written before
 *     the datapoint, so a crash between the two can only over-count limits,
 *     never exceed them.
 *   - A datapoint file is deleted only after its sink confirmed delivery.
 *     Sinks are idempotent by the datapoint key, so a crash between
 *     confirmation and deletion causes a resend the sink recognises.
 *   - Sampling draws come from the manager's PRNG under its mutex; with a
 *     seed and one calling thread, the sampled set is reproducible.
 * What it does not do: retry inside al_register, or touch the network on
 * the caller's thread (only al_manager_create's config fetch does).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "al/al.h"
#include "core/core.h"

#define MAX_STATE_ENTRIES 4096

struct usage {
    char *key;         /* "<dataset>/<strategy>" */
    int64_t bucket[3]; /* minute, hour, day index (UTC) */
    int64_t count[3];
};

struct batch_count {
    char *key; /* "<dataset>/<batch>" */
    int64_t count;
};

struct al_manager {
    struct al_config cfg;
    char *queue_dir, *q_dir, *failed_dir, *state_path;
    char *project, *model_id, *local_dir, *api_key, *api_url, *env_tags;
    int use_roboflow, has_sink;
    int64_t fixed_time;
    int http_timeout_ms, retry_initial_ms;
    int lock_fd;

    pthread_mutex_t mu; /* rng, usage, batches, last_error, seq */
    struct al_rng rng;
    struct usage *usage;
    size_t n_usage;
    struct batch_count *batches;
    size_t n_batches;
    uint64_t seq;
    char last_error[MLC_ERROR_MAX];

    pthread_mutex_t wmu; /* stop, wake */
    pthread_cond_t wcv;
    int stop, wake, worker_started;
    pthread_t worker;
};

static int64_t now_unix(const struct al_manager *m)
{
    return m->fixed_time ? m->fixed_time : (int64_t)time(NULL);
}

static void set_last_error(struct al_manager *m, const char *msg)
{
    pthread_mutex_lock(&m->mu);
    snprintf(m->last_error, sizeof m->last_error, "%s", msg);
    pthread_mutex_unlock(&m->mu);
}

void al_manager_last_error(struct al_manager *m, char *buf, size_t n)
{
    if (!n) return;
    if (!m) {
        buf[0] = '\0';
        return;
    }
    pthread_mutex_lock(&m->mu);
    snprintf(buf, n, "%s", m->last_error);
    pthread_mutex_unlock(&m->mu);
}

const struct al_config *al_manager_config(const struct al_manager *m)
{
    return &m->cfg;
}

/* ------------------------------------------------------------ state file */

static mlc_status state_load(struct al_manager *m, mlc_error *err)
{
    char *data = NULL;
    size_t n = 0;
    if (!core_file_exists(m->state_path)) return MLC_OK;
    mlc_status st = core_read_file(m->state_path, 16u << 20, &data, &n, err);
    if (st) return st;
    json_t *root = json_loadb(data, n, 0, NULL);
    mlc_free(data);
    if (!json_is_object(root)) {
        json_decref(root);
        /* A torn state file cannot happen (atomic writes); a foreign one is
         * refused rather than silently resetting limits. */
        return core_err(err, MLC_STATUS_BAD_JSON, "'%s': not an mlc active learning state file",
                        m->state_path);
    }
    json_t *u = json_object_get(root, "usage"), *b = json_object_get(root, "batches");
    size_t nu = json_is_array(u) ? json_array_size(u) : 0;
    size_t nb = json_is_object(b) ? json_object_size(b) : 0;
    if (nu > MAX_STATE_ENTRIES) nu = MAX_STATE_ENTRIES;
    if (nb > MAX_STATE_ENTRIES) nb = MAX_STATE_ENTRIES;
    m->usage = mlc_calloc(nu + 1, sizeof *m->usage);
    m->batches = mlc_calloc(nb + 1, sizeof *m->batches);
    if (!m->usage || !m->batches) {
        json_decref(root);
        return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < nu; i++) {
        json_t *e = json_array_get(u, i), *k = json_object_get(e, "key");
        if (!json_is_string(k)) continue;
        struct usage *x = &m->usage[m->n_usage];
        if (!(x->key = core_strdup(json_string_value(k)))) break;
        for (int j = 0; j < 3; j++) {
            json_t *bk = json_array_get(json_object_get(e, "bucket"), (size_t)j);
            json_t *ct = json_array_get(json_object_get(e, "count"), (size_t)j);
            x->bucket[j] = json_is_integer(bk) ? json_integer_value(bk) : 0;
            x->count[j] = json_is_integer(ct) ? json_integer_value(ct) : 0;
        }
        m->n_usage++;
    }
    const char *key;
    json_t *v;
    json_object_foreach(b, key, v)
    {
        if (m->n_batches >= nb) break;
        if (!json_is_integer(v)) continue;
        struct batch_count *x = &m->batches[m->n_batches];
        if (!(x->key = core_strdup(key))) break;
        x->count = json_integer_value(v);
        m->n_batches++;
    }
    json_decref(root);
    return MLC_OK;
}

/* Called with m->mu held. */
static mlc_status state_save(struct al_manager *m, mlc_error *err)
{
    mlc_status st = MLC_OK;
    json_t *root = json_object(), *u = json_array(), *b = json_object();
    char *s = NULL;
    if (!root || !u || !b) goto nomem;
    json_object_set_new(root, "v", json_integer(1));
    for (size_t i = 0; i < m->n_usage; i++) {
        struct usage *x = &m->usage[i];
        json_t *e = json_pack("{s:s,s:[I,I,I],s:[I,I,I]}", "key", x->key, "bucket",
                              (json_int_t)x->bucket[0], (json_int_t)x->bucket[1],
                              (json_int_t)x->bucket[2], "count", (json_int_t)x->count[0],
                              (json_int_t)x->count[1], (json_int_t)x->count[2]);
        if (!e || json_array_append_new(u, e)) goto nomem;
    }
    for (size_t i = 0; i < m->n_batches; i++)
        if (json_object_set_new(b, m->batches[i].key, json_integer(m->batches[i].count)))
            goto nomem;
    json_object_set(root, "usage", u);
    json_object_set(root, "batches", b);
    if (!(s = json_dumps(root, JSON_COMPACT))) goto nomem;
    st = core_write_file_atomic(m->state_path, s, strlen(s), err);
    goto done;
nomem:
    st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory saving active learning state");
done:
    core_libc_free(s); /* jansson's malloc */
    json_decref(root);
    json_decref(u);
    json_decref(b);
    return st;
}

static struct usage *usage_get(struct al_manager *m, const char *dataset, const char *strategy)
{
    char key[512];
    snprintf(key, sizeof key, "%s/%s", dataset, strategy);
    for (size_t i = 0; i < m->n_usage; i++)
        if (!strcmp(m->usage[i].key, key)) return &m->usage[i];
    if (m->n_usage >= MAX_STATE_ENTRIES) return NULL;
    struct usage *nu = mlc_realloc(m->usage, (m->n_usage + 1) * sizeof *nu);
    if (!nu) return NULL;
    m->usage = nu;
    struct usage *x = &nu[m->n_usage];
    memset(x, 0, sizeof *x);
    if (!(x->key = core_strdup(key))) return NULL;
    m->n_usage++;
    return x;
}

static struct batch_count *batch_get(struct al_manager *m, const char *dataset, const char *batch)
{
    char key[512];
    snprintf(key, sizeof key, "%s/%s", dataset, batch);
    for (size_t i = 0; i < m->n_batches; i++)
        if (!strcmp(m->batches[i].key, key)) return &m->batches[i];
    if (m->n_batches >= MAX_STATE_ENTRIES) {
        /* Bounded: forget the oldest batch (daily batches pile up). */
        mlc_free(m->batches[0].key);
        memmove(m->batches, m->batches + 1, (m->n_batches - 1) * sizeof *m->batches);
        m->n_batches--;
    }
    struct batch_count *nb = mlc_realloc(m->batches, (m->n_batches + 1) * sizeof *nb);
    if (!nb) return NULL;
    m->batches = nb;
    struct batch_count *x = &nb[m->n_batches];
    x->count = 0;
    if (!(x->key = core_strdup(key))) return NULL;
    m->n_batches++;
    return x;
}

/* Current-bucket usage of one limit kind, rolling the bucket over. */
static int64_t used(struct usage *x, int kind, int64_t t)
{
    static const int64_t span[3] = {60, 3600, 86400};
    int64_t b = t / span[kind];
    if (x->bucket[kind] != b) {
        x->bucket[kind] = b;
        x->count[kind] = 0;
    }
    return x->count[kind];
}

static int has_credit(struct al_manager *m, const char *dataset, const struct al_strategy *s,
                      int64_t t)
{
    if (!s->n_limits) return 1;
    struct usage *x = usage_get(m, dataset, s->name);
    if (!x) return 0;
    for (size_t i = 0; i < s->n_limits; i++)
        if (used(x, (int)s->limits[i].kind, t) >= s->limits[i].value) return 0;
    return 1;
}

/* -------------------------------------------------------- image encoding */

/* Box-filter downscale of BGR rows (only ever shrinks). */
static uint8_t *downscale(const uint8_t *src, size_t stride, int w, int h, int nw, int nh)
{
    uint8_t *dst = mlc_alloc((size_t)nw * (size_t)nh * 3);
    if (!dst) return NULL;
    for (int y = 0; y < nh; y++) {
        int y0 = (int)((int64_t)y * h / nh), y1 = (int)((int64_t)(y + 1) * h / nh);
        if (y1 <= y0) y1 = y0 + 1;
        for (int x = 0; x < nw; x++) {
            int x0 = (int)((int64_t)x * w / nw), x1 = (int)((int64_t)(x + 1) * w / nw);
            if (x1 <= x0) x1 = x0 + 1;
            uint32_t acc[3] = {0, 0, 0};
            for (int yy = y0; yy < y1; yy++) {
                const uint8_t *row = src + (size_t)yy * stride;
                for (int xx = x0; xx < x1; xx++)
                    for (int c = 0; c < 3; c++) acc[c] += row[xx * 3 + c];
            }
            uint32_t cnt = (uint32_t)((y1 - y0) * (x1 - x0));
            for (int c = 0; c < 3; c++)
                dst[((size_t)y * nw + x) * 3 + c] = (uint8_t)((acc[c] + cnt / 2) / cnt);
        }
    }
    return dst;
}

static mlc_status encode(const struct al_manager *m, const mlc_image *img, uint8_t **jpeg_out,
                         size_t *n_out, mlc_error *err)
{
    int w = mlc_image_width(img), h = mlc_image_height(img);
    int mh = m->cfg.max_image_h, mw = m->cfg.max_image_w;
    void *bytes = NULL;
    if (mh && mw && (h > mh || w > mw)) {
        /* Roboflow's downscale_image_keeping_aspect_ratio. */
        double s = (double)mh / h < (double)mw / w ? (double)mh / h : (double)mw / w;
        int nw = (int)(w * s), nh = (int)(h * s);
        if (nw < 1) nw = 1;
        if (nh < 1) nh = 1;
        size_t stride = 0;
        const uint8_t *bgr = mlc_image_bgr(img, &stride);
        uint8_t *small = downscale(bgr, stride, w, h, nw, nh);
        mlc_image *si = NULL;
        if (!small) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
        mlc_status st = mlc_image_from_bgr(small, nw, nh, (size_t)nw * 3, &si, err);
        mlc_free(small);
        if (!st) st = mlc_image_encode_jpeg(si, m->cfg.jpeg_quality, &bytes, n_out, err);
        mlc_image_free(si);
        if (st) return st;
    } else {
        mlc_status st = mlc_image_encode_jpeg(img, m->cfg.jpeg_quality, &bytes, n_out, err);
        if (st) return st;
    }
    *jpeg_out = bytes;
    return MLC_OK;
}

/* ------------------------------------------------------------- register */

/* Classes of a multi-label prediction: views into `pred`. */
static mlc_status parse_prediction(json_t *pred, struct al_class_score **out, size_t *n_out)
{
    json_t *p = json_object_get(pred, "predictions");
    json_t *pc = json_object_get(pred, "predicted_classes");
    if (!json_is_object(p)) return MLC_STATUS_BAD_JSON;
    size_t n = json_object_size(p), i = 0;
    struct al_class_score *cls = mlc_calloc(n ? n : 1, sizeof *cls);
    if (!cls) return MLC_STATUS_NO_MEMORY;
    const char *name;
    json_t *v;
    json_object_foreach(p, name, v)
    {
        json_t *c = json_object_get(v, "confidence");
        if (!json_is_number(c)) continue;
        cls[i].name = name;
        cls[i].confidence = json_number_value(c);
        size_t k;
        json_t *e;
        json_array_foreach(pc, k, e) if (json_is_string(e) && !strcmp(json_string_value(e), name))
            cls[i]
                .predicted = 1;
        i++;
    }
    *out = cls;
    *n_out = i;
    return MLC_OK;
}

static char *project_of(const char *model_id)
{
    if (!model_id || !*model_id) return NULL;
    const char *slash = strchr(model_id, '/');
    return slash ? core_strndup(model_id, (size_t)(slash - model_id)) : core_strdup(model_id);
}

enum al_outcome al_register(struct al_manager *m, const mlc_image *img, const char *prediction_json,
                            const char *model_id, const char *target_dataset_override,
                            const char *inference_id, char key_out[37])
{
    enum al_outcome out = AL_DROPPED;
    mlc_error err = {0};
    json_t *pred = NULL;
    struct al_class_score *cls = NULL;
    size_t n_cls = 0;
    struct al_datapoint dp;
    char *path = NULL, *dataset = NULL;
    memset(&dp, 0, sizeof dp);
    if (!m || !m->cfg.enabled || !m->has_sink) return AL_DISABLED;
    if (!img || !prediction_json) {
        core_err(&err, MLC_STATUS_INVALID_ARGUMENT, "al_register: no image or prediction");
        goto fail;
    }
    json_error_t je;
    pred = json_loads(prediction_json, 0, &je);
    if (!pred || parse_prediction(pred, &cls, &n_cls)) {
        core_err(&err, MLC_STATUS_BAD_JSON,
                 "al_register: prediction is not a multi-label prediction JSON");
        goto fail;
    }
    if (json_is_true(json_object_get(pred, "is_stub"))) {
        out = AL_NOT_SAMPLED; /* stubs are never sampled */
        goto done;
    }
    /* Dataset: the config's target_project, else the block's override, else
     * the model's project (Roboflow's precedence). */
    if (m->cfg.target_project)
        dataset = core_strdup(m->cfg.target_project);
    else if (target_dataset_override && *target_dataset_override)
        dataset = core_strdup(target_dataset_override);
    else if (m->project)
        dataset = core_strdup(m->project);
    else
        dataset = project_of(model_id);
    if (!dataset) {
        core_err(&err, MLC_STATUS_INVALID_ARGUMENT, "al_register: no target dataset");
        goto fail;
    }

    /* Sampling and credit, under the lock (PRNG, counters, state file). */
    int64_t t = now_unix(m);
    const struct al_strategy *credited = NULL;
    int any = 0;
    pthread_mutex_lock(&m->mu);
    int *match = mlc_calloc(m->cfg.n_strategies + 1, sizeof *match);
    if (match) {
        for (size_t i = 0; i < m->cfg.n_strategies; i++)
            any |= match[i] = al_strategy_matches(&m->cfg.strategies[i], cls, n_cls, &m->rng);
        for (size_t i = 0; i < m->cfg.n_strategies && any && !credited; i++)
            if (match[i] && has_credit(m, dataset, &m->cfg.strategies[i], t))
                credited = &m->cfg.strategies[i];
    }
    int oom = !match;
    mlc_free(match);
    dp.batch = al_batch_name(&m->cfg, t);
    struct batch_count *bc = NULL;
    if (credited && dp.batch && m->cfg.max_batch_images) {
        bc = batch_get(m, dataset, dp.batch);
        if (!bc || bc->count >= m->cfg.max_batch_images) credited = NULL;
    }
    mlc_status st = MLC_OK;
    if (credited) {
        struct usage *x = usage_get(m, dataset, credited->name);
        if (x)
            for (int k = 0; k < 3; k++) {
                used(x, k, t);
                x->count[k]++;
            }
        if (bc) bc->count++;
        st = state_save(m, &err);
    }
    uint64_t seq = ++m->seq;
    pthread_mutex_unlock(&m->mu);
    if (oom) {
        core_err(&err, MLC_STATUS_NO_MEMORY, "al_register: out of memory");
        goto fail;
    }
    if (!any) {
        out = AL_NOT_SAMPLED;
        goto done;
    }
    if (!credited) {
        out = AL_LIMITED;
        goto done;
    }
    if (st || !dp.batch) goto fail;

    /* The datapoint: encoded image, tags, prediction; written durably. */
    core_uuid4(dp.key);
    dp.target_dataset = dataset;
    dp.model_id = (char *)(model_id ? model_id : "");
    dp.inference_id = (char *)inference_id;
    dp.persist_predictions = m->cfg.persist_predictions;
    dp.prediction_json = (char *)prediction_json;
    char *tagv[512];
    size_t nt = 0;
    /* ACTIVE_LEARNING_TAGS: a comma-separated list, split in place. */
    char *env = m->env_tags ? core_strdup(m->env_tags) : NULL;
    for (char *p = env; p && *p && nt < 128;) {
        char *c = strchr(p, ',');
        if (c) *c = '\0';
        if (*p) tagv[nt++] = p;
        p = c ? c + 1 : NULL;
    }
    for (size_t i = 0; i < m->cfg.n_tags && nt < 256; i++) tagv[nt++] = m->cfg.tags[i];
    for (size_t i = 0; i < credited->n_tags && nt < 384; i++) tagv[nt++] = credited->tags[i];
    char *mtag = NULL;
    if (m->cfg.persist_predictions && model_id && *model_id && (mtag = core_strdup(model_id))) {
        for (char *p = mtag; *p; p++)
            if (*p == '/') *p = '-';
        tagv[nt++] = mtag;
    }
    dp.tags = tagv;
    dp.n_tags = nt;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    st = encode(m, img, &dp.jpeg, &dp.jpeg_n, &err);
    if (!st && !(path = core_sprintf("%s/%016llx-%06llu-%s.dp", m->q_dir, (unsigned long long)ns,
                                     (unsigned long long)(seq % 1000000), dp.key)))
        st = core_err(&err, MLC_STATUS_NO_MEMORY, "out of memory");
    if (!st) st = al_datapoint_write(path, &dp, &err);
    mlc_free(env);
    mlc_free(mtag);
    mlc_free(dp.jpeg);
    if (st) goto fail;
    if (key_out) memcpy(key_out, dp.key, 37);
    pthread_mutex_lock(&m->wmu);
    m->wake = 1;
    pthread_cond_signal(&m->wcv);
    pthread_mutex_unlock(&m->wmu);
    out = AL_QUEUED;
    goto done;
fail:
    out = AL_DROPPED;
    core_err_prefix(&err, "active learning registration dropped");
    set_last_error(m, err.message);
done:
    mlc_free(dp.batch);
    mlc_free(dataset);
    mlc_free(cls);
    mlc_free(path);
    json_decref(pred);
    return out;
}

/* --------------------------------------------------------------- worker */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of queued datapoints (oldest first), at most `max`. */
static size_t list_queue(const char *dir, char ***names_out, size_t max)
{
    DIR *d = opendir(dir);
    size_t n = 0, cap = 0;
    char **names = NULL;
    *names_out = NULL;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        size_t l = strlen(e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 3, ".dp") != 0) continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **nn = mlc_realloc(names, nc * sizeof *nn);
            if (!nn) break;
            names = nn;
            cap = nc;
        }
        if (!(names[n] = core_strdup(e->d_name))) break;
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_names);
    *names_out = names;
    return n;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) mlc_free(names[i]);
    mlc_free(names);
}

size_t al_pending(struct al_manager *m)
{
    if (!m) return 0;
    char **names;
    size_t n = list_queue(m->q_dir, &names, (size_t)-1);
    free_names(names, n);
    return n;
}

/* Sleeps up to ms unless stopped; returns 1 when stop was requested. */
static int wait_wake(struct al_manager *m, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&m->wmu);
    while (!m->stop && !m->wake)
        if (pthread_cond_timedwait(&m->wcv, &m->wmu, &ts) == ETIMEDOUT) break;
    m->wake = 0;
    int stop = m->stop;
    pthread_mutex_unlock(&m->wmu);
    return stop;
}

static int stopping(struct al_manager *m)
{
    pthread_mutex_lock(&m->wmu);
    int s = m->stop;
    pthread_mutex_unlock(&m->wmu);
    return s;
}

/* Delivers one file. Returns MLC_OK (gone from the queue: delivered or
 * moved to failed/) or the retryable failure. */
static mlc_status deliver(struct al_manager *m, const char *name, mlc_error *err)
{
    mlc_status st = MLC_OK;
    struct al_datapoint dp;
    char *path = core_sprintf("%s/%s", m->q_dir, name);
    char *side = core_sprintf("%s/%s.uploaded", m->q_dir, name);
    char *dead = core_sprintf("%s/%s", m->failed_dir, name);
    char *image_id = NULL;
    if (!path || !side || !dead) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
        goto done;
    }
    st = al_datapoint_read(path, &dp, err);
    if (st == MLC_STATUS_BAD_JSON) {
        rename(path, dead); /* unreadable forever: keep it aside, go on */
        st = MLC_OK;
        goto done;
    }
    if (st) goto done;
    if (m->local_dir) {
        st = al_sink_local_send(m->local_dir, &dp, err);
    } else {
        struct al_http h = {m->api_url, m->api_key, m->http_timeout_ms};
        st = al_sink_roboflow_send(&h, &dp, &image_id, err);
        if (st && image_id) {
            mlc_error e2;
            core_write_file_atomic(side, image_id, strlen(image_id), &e2);
        }
    }
    al_datapoint_clear(&dp);
    if (st == MLC_STATUS_INVALID_ARGUMENT) {
        rename(path, dead);
        unlink(side);
        al_fsync_dir(m->q_dir, NULL);
        set_last_error(m, err->message);
        st = MLC_OK;
    } else if (st == MLC_OK) {
        unlink(side);
        unlink(path);
        al_fsync_dir(m->q_dir, NULL);
    }
done:
    mlc_free(image_id);
    mlc_free(path);
    mlc_free(side);
    mlc_free(dead);
    return st;
}

static void *worker_main(void *arg)
{
    struct al_manager *m = arg;
    int backoff = m->retry_initial_ms;
    while (!stopping(m)) {
        char **names;
        size_t n = list_queue(m->q_dir, &names, 4096);
        int failed = 0;
        for (size_t i = 0; i < n && !failed && !stopping(m); i++) {
            mlc_error err = {0};
            if (deliver(m, names[i], &err) != MLC_OK) {
                set_last_error(m, err.message);
                failed = 1;
            }
        }
        free_names(names, n);
        if (failed) {
            if (wait_wake(m, backoff)) break;
            backoff = backoff < 15000 ? backoff * 2 : 30000;
        } else {
            backoff = m->retry_initial_ms;
            if (!n && wait_wake(m, 1000)) break;
        }
    }
    return NULL;
}

size_t al_flush(struct al_manager *m, int timeout_ms)
{
    if (!m) return 0;
    double end = core_now() + timeout_ms / 1000.0;
    for (;;) {
        size_t n = al_pending(m);
        if (!n || core_now() >= end || !m->worker_started) return n;
        pthread_mutex_lock(&m->wmu);
        m->wake = 1;
        pthread_cond_signal(&m->wcv);
        pthread_mutex_unlock(&m->wmu);
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* --------------------------------------------------------------- create */

static char *dup_or_env(const char *v, const char *env, const char *dflt)
{
    if (v) return core_strdup(v);
    const char *e = env ? getenv(env) : NULL;
    if (e && *e) return core_strdup(e);
    return dflt ? core_strdup(dflt) : NULL;
}

mlc_status al_manager_create(const struct al_options *opt, struct al_manager **mgr_out,
                             mlc_error *err)
{
    mlc_status st = MLC_OK;
    char *fetched = NULL;
    struct al_manager *m = NULL;
    if (!opt || !opt->queue_dir || !*opt->queue_dir)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "active learning: no queue directory");
    if (!(m = mlc_calloc(1, sizeof *m)))
        return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    m->lock_fd = -1;
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->wmu, NULL);
    pthread_cond_init(&m->wcv, NULL);
    m->fixed_time = opt->fixed_time;
    m->http_timeout_ms = opt->http_timeout_ms > 0 ? opt->http_timeout_ms : 10000;
    m->retry_initial_ms = opt->retry_initial_ms > 0 ? opt->retry_initial_ms : 500;
    al_rng_seed(&m->rng, opt->seed ? opt->seed
                                   : ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^
                                         (uint64_t)(uintptr_t)m);
    m->queue_dir = core_strdup(opt->queue_dir);
    m->q_dir = core_sprintf("%s/q", opt->queue_dir);
    m->failed_dir = core_sprintf("%s/failed", opt->queue_dir);
    m->state_path = core_sprintf("%s/state.json", opt->queue_dir);
    m->model_id = opt->model_id ? core_strdup(opt->model_id) : NULL;
    m->project = opt->project ? core_strdup(opt->project) : project_of(opt->model_id);
    m->api_key = dup_or_env(opt->api_key, "ROBOFLOW_API_KEY", NULL);
    m->api_url = dup_or_env(opt->api_url, "API_BASE_URL", "https://api.roboflow.com");
    m->env_tags = dup_or_env(NULL, "ACTIVE_LEARNING_TAGS", NULL);
    if (!m->queue_dir || !m->q_dir || !m->failed_dir || !m->state_path || !m->api_url ||
        (opt->model_id && !m->model_id)) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
        goto fail;
    }

    /* Configuration. */
    if (opt->config_json) {
        st = al_config_parse(opt->config_json, strlen(opt->config_json), "config", &m->cfg, err);
    } else if (opt->config_path) {
        st = al_config_load_file(opt->config_path, &m->cfg, err);
    } else if (!opt->offline && m->api_key && m->project) {
        struct al_http h = {m->api_url, m->api_key, m->http_timeout_ms};
        st = al_fetch_config(&h, m->project, m->model_id, &fetched, err);
        if (st) {
            core_err_prefix(err, "active learning configuration for '%s'", m->project);
            goto fail;
        }
        if (fetched) {
            char origin[300];
            snprintf(origin, sizeof origin, "Roboflow API active_learning configuration of '%s'",
                     m->project);
            st = al_config_parse(fetched, strlen(fetched), origin, &m->cfg, err);
        }
    } /* else: no source, AL disabled (cfg zeroed) */
    if (st) goto fail;

    /* Sink. */
    if (opt->local_dir || m->cfg.sink_local_path) {
        m->local_dir = core_strdup(opt->local_dir ? opt->local_dir : m->cfg.sink_local_path);
        if (!m->local_dir) {
            st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
            goto fail;
        }
        m->has_sink = 1;
    } else if (!opt->offline && m->api_key) {
        m->use_roboflow = m->has_sink = 1;
    } else if (m->cfg.enabled) {
        snprintf(m->last_error, sizeof m->last_error,
                 "active learning: no sink (no local directory, and %s)",
                 opt->offline ? "offline" : "no API key");
    }

    /* Queue directory, its lock and the persisted limits. */
    if ((st = core_mkdirs(m->q_dir, err)) || (st = core_mkdirs(m->failed_dir, err))) goto fail;
    char *lock = core_sprintf("%s/lock", m->queue_dir);
    if (lock) m->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    mlc_free(lock);
    if (m->lock_fd < 0 || flock(m->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        st = core_err(err, errno == EWOULDBLOCK ? MLC_STATUS_BUSY : MLC_STATUS_IO,
                      "active learning queue '%s' is in use by another manager or unreadable",
                      m->queue_dir);
        goto fail;
    }
    if ((st = state_load(m, err))) goto fail;

    if (!opt->no_worker && m->has_sink) {
        if (pthread_create(&m->worker, NULL, worker_main, m) != 0) {
            st = core_err(err, MLC_STATUS_INTERNAL, "cannot start the active learning worker");
            goto fail;
        }
        m->worker_started = 1;
    }
    mlc_free(fetched);
    *mgr_out = m;
    return MLC_OK;
fail:
    mlc_free(fetched);
    al_manager_free(m, 0);
    return st;
}

void al_manager_free(struct al_manager *m, int timeout_ms)
{
    if (!m) return;
    if (m->worker_started) {
        if (timeout_ms > 0) al_flush(m, timeout_ms);
        pthread_mutex_lock(&m->wmu);
        m->stop = 1;
        pthread_cond_broadcast(&m->wcv);
        pthread_mutex_unlock(&m->wmu);
        pthread_join(m->worker, NULL);
    }
    for (size_t i = 0; i < m->n_usage; i++) mlc_free(m->usage[i].key);
    mlc_free(m->usage);
    for (size_t i = 0; i < m->n_batches; i++) mlc_free(m->batches[i].key);
    mlc_free(m->batches);
    al_config_clear(&m->cfg);
    if (m->lock_fd >= 0) close(m->lock_fd);
    mlc_free(m->queue_dir);
    mlc_free(m->q_dir);
    mlc_free(m->failed_dir);
    mlc_free(m->state_path);
    mlc_free(m->project);
    mlc_free(m->model_id);
    mlc_free(m->local_dir);
    mlc_free(m->api_key);
    mlc_free(m->api_url);
    mlc_free(m->env_tags);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->wmu);
    pthread_cond_destroy(&m->wcv);
    mlc_free(m);
}
