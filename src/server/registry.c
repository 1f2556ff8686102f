/*
 * registry.c - the server's model registry: models keyed by model id, loaded
 * once and shared by every worker, reference counted so /model/remove and
 * /model/clear never free a model a request is still using, each with a small
 * pool of mlc_sessions (at most one per worker is ever in use, so the pool
 * never holds more than the worker count).
 *
 * What it does not do: no HTTP. Loading happens outside the lock (it can take
 * seconds or download); two workers loading the same id at once both load
 * and the second one's copy is dropped.
 *
 * Invariants: an entry's refs counts the registry's listing (1 while listed)
 * plus one per acquire; the model and its pooled sessions are freed when refs
 * reaches 0. Every field is read and written under `mu`. When more than
 * max_models are listed, the least recently used entry is unlisted.
 */
#include <string.h>

#include "server/server.h"

void srv_registry_init(struct srv_registry *r, const mlc_model_options *opt, int max_models,
                       int pool_cap)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->opt = opt;
    r->max_models = max_models > 0 ? max_models : 8;
    r->pool_cap = pool_cap > 0 ? pool_cap : 1;
}

static void entry_free(struct srv_model *m)
{
    for (int i = 0; i < m->n_free; i++) mlc_session_free(m->free_sessions[i]);
    mlc_free(m->free_sessions);
    mlc_model_free(m->model);
    mlc_free(m->id);
    mlc_free(m);
}

/* Drops one reference; returns the entry to free (outside the lock) or NULL. */
static struct srv_model *unref_locked(struct srv_model *m)
{
    if (--m->refs > 0) return NULL;
    return m;
}

static struct srv_model *unlist_locked(struct srv_registry *r, int i)
{
    struct srv_model *m = r->items[i];
    memmove(r->items + i, r->items + i + 1, (size_t)(r->n - i - 1) * sizeof *r->items);
    r->n--;
    m->removed = 1;
    return unref_locked(m);
}

void srv_registry_destroy(struct srv_registry *r)
{
    srv_registry_clear(r);
    mlc_free(r->items);
    pthread_mutex_destroy(&r->mu);
}

static int find_locked(struct srv_registry *r, const char *id)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->items[i]->id, id)) return i;
    return -1;
}

mlc_status srv_registry_acquire(struct srv_registry *r, const char *id, const char *api_key,
                                int load, struct srv_model **m_out, mlc_error *err)
{
    mlc_status st = MLC_OK;
    struct srv_model *fresh = NULL, *evicted = NULL;
    mlc_model *model = NULL;

    pthread_mutex_lock(&r->mu);
    int i = find_locked(r, id);
    if (i >= 0) {
        struct srv_model *m = r->items[i];
        m->refs++;
        m->last_used = ++r->tick;
        pthread_mutex_unlock(&r->mu);
        *m_out = m;
        return MLC_OK;
    }
    pthread_mutex_unlock(&r->mu);
    if (!load) return core_err(err, MLC_STATUS_NOT_FOUND, "model '%s' is not loaded", id);

    mlc_model_options opt;
    if (r->opt)
        opt = *r->opt;
    else
        mlc_model_options_default(&opt);
    if (api_key) opt.api_key = api_key;
    st = mlc_model_load(id, &opt, &model, err);
    if (st) goto fail;

    fresh = mlc_calloc(1, sizeof *fresh);
    if (fresh) fresh->id = core_strdup(id);
    if (fresh) fresh->free_sessions = mlc_calloc((size_t)r->pool_cap, sizeof(mlc_session *));
    if (!fresh || !fresh->id || !fresh->free_sessions) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "model '%s': out of memory", id);
        goto fail;
    }
    fresh->model = model;
    model = NULL;
    fresh->pool_cap = r->pool_cap;

    pthread_mutex_lock(&r->mu);
    i = find_locked(r, id);
    if (i >= 0) {
        /* Someone else loaded it meanwhile: use theirs, drop ours. */
        struct srv_model *m = r->items[i];
        m->refs++;
        m->last_used = ++r->tick;
        pthread_mutex_unlock(&r->mu);
        entry_free(fresh);
        *m_out = m;
        return MLC_OK;
    }
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 8;
        struct srv_model **items = mlc_realloc(r->items, (size_t)cap * sizeof *items);
        if (!items) {
            pthread_mutex_unlock(&r->mu);
            st = core_err(err, MLC_STATUS_NO_MEMORY, "model registry: out of memory");
            goto fail;
        }
        r->items = items;
        r->cap = cap;
    }
    if (r->n >= r->max_models) {
        int lru = 0;
        for (int k = 1; k < r->n; k++)
            if (r->items[k]->last_used < r->items[lru]->last_used) lru = k;
        evicted = unlist_locked(r, lru);
    }
    fresh->refs = 2; /* the listing + the caller */
    fresh->last_used = ++r->tick;
    r->items[r->n++] = fresh;
    *m_out = fresh;
    fresh = NULL;
    pthread_mutex_unlock(&r->mu);
    if (evicted) entry_free(evicted);
    return MLC_OK;
fail:
    if (fresh) entry_free(fresh);
    mlc_model_free(model);
    return st;
}

void srv_registry_release(struct srv_registry *r, struct srv_model *m)
{
    if (!m) return;
    pthread_mutex_lock(&r->mu);
    struct srv_model *dead = unref_locked(m);
    pthread_mutex_unlock(&r->mu);
    if (dead) entry_free(dead);
}

mlc_status srv_model_session_take(struct srv_registry *r, struct srv_model *m, mlc_session **s_out,
                                  mlc_error *err)
{
    pthread_mutex_lock(&r->mu);
    if (m->n_free > 0) {
        *s_out = m->free_sessions[--m->n_free];
        pthread_mutex_unlock(&r->mu);
        return MLC_OK;
    }
    pthread_mutex_unlock(&r->mu);
    return mlc_session_create(m->model, s_out, err);
}

void srv_model_session_give(struct srv_registry *r, struct srv_model *m, mlc_session *s)
{
    if (!s) return;
    pthread_mutex_lock(&r->mu);
    if (m->n_free < m->pool_cap) {
        m->free_sessions[m->n_free++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&r->mu);
    mlc_session_free(s);
}

int srv_registry_remove(struct srv_registry *r, const char *id)
{
    pthread_mutex_lock(&r->mu);
    int i = find_locked(r, id);
    struct srv_model *dead = i >= 0 ? unlist_locked(r, i) : NULL;
    pthread_mutex_unlock(&r->mu);
    if (dead) entry_free(dead);
    return i >= 0;
}

void srv_registry_clear(struct srv_registry *r)
{
    for (;;) {
        pthread_mutex_lock(&r->mu);
        if (r->n == 0) {
            pthread_mutex_unlock(&r->mu);
            return;
        }
        struct srv_model *dead = unlist_locked(r, r->n - 1);
        pthread_mutex_unlock(&r->mu);
        if (dead) entry_free(dead);
    }
}

int srv_registry_count(struct srv_registry *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

json_t *srv_registry_json(struct srv_registry *r)
{
    json_t *models = json_array();
    pthread_mutex_lock(&r->mu);
    for (int i = 0; models && i < r->n; i++) {
        const mlc_model *m = r->items[i]->model;
        int w = 0, h = 0;
        mlc_model_input_size(m, &w, &h);
        int b = mlc_model_static_batch(m);
        /* Roboflow reports a dynamic batch axis by its ONNX name, "batch". The
         * multi-label task is listed as "classification": inference_sdk
         * refuses task names it does not know. */
        json_t *d = json_pack("{s:s, s:s, s:o, s:i, s:i}", "model_id", r->items[i]->id, "task_type",
                              "classification", "batch_size",
                              b > 0 ? json_integer(b) : json_string("batch"), "input_height", h,
                              "input_width", w);
        if (d) json_array_append_new(models, d);
    }
    pthread_mutex_unlock(&r->mu);
    return models ? json_pack("{s:o}", "models", models) : NULL;
}
