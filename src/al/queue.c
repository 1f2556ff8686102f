/*
 * queue.c - the on-disk form of one queued datapoint.
 *
 * Layout of <queue_dir>/q/<time-ns hex>-<key>.dp: one line of compact JSON
 * {"v":1,"key","target_dataset","batch","model_id","inference_id","tags",
 * "persist_predictions","prediction"}, a '\n', then the JPEG bytes to the end
 * of the file. A sidecar "<file>.uploaded" holds the Roboflow image id once
 * the image upload succeeded (so a retry only re-sends the annotation).
 * Files are written with core_write_file_atomic (temp + fsync + rename) and
 * the directory is fsynced, so after al_datapoint_write returns the file
 * survives a crash or power loss, whole or not at all.
 * What it does not do: ordering, sending or deleting (manager.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "al/al.h"
#include "core/core.h"

mlc_status al_fsync_dir(const char *dir, mlc_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return core_err(err, MLC_STATUS_IO, "cannot open directory '%s': %s", dir, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return core_err(err, MLC_STATUS_IO, "cannot fsync directory '%s': %s", dir, strerror(e));
    return MLC_OK;
}

static mlc_status dirname_fsync(const char *path, mlc_error *err)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? core_strndup(path, (size_t)(slash - path)) : core_strdup(".");
    if (!dir) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    mlc_status st = al_fsync_dir(*dir ? dir : "/", err);
    mlc_free(dir);
    return st;
}

mlc_status al_datapoint_write(const char *path, const struct al_datapoint *dp, mlc_error *err)
{
    mlc_status st = MLC_OK;
    char *line = NULL, *buf = NULL;
    json_t *o = json_object(), *tags = json_array(), *pred = NULL;
    if (!o || !tags) goto nomem;
    if (dp->prediction_json) {
        json_error_t je;
        pred = json_loads(dp->prediction_json, 0, &je);
        if (!pred) {
            st = core_err(err, MLC_STATUS_BAD_JSON, "prediction JSON: %s (line %d column %d)",
                          je.text, je.line, je.column);
            goto fail;
        }
    }
    for (size_t i = 0; i < dp->n_tags; i++)
        if (json_array_append_new(tags, json_string(dp->tags[i]))) goto nomem;
    if (json_object_set_new(o, "v", json_integer(1)) ||
        json_object_set_new(o, "key", json_string(dp->key)) ||
        json_object_set_new(o, "target_dataset", json_string(dp->target_dataset)) ||
        json_object_set_new(o, "batch", json_string(dp->batch)) ||
        json_object_set_new(o, "model_id", json_string(dp->model_id ? dp->model_id : "")) ||
        json_object_set_new(o, "inference_id",
                            dp->inference_id ? json_string(dp->inference_id) : json_null()) ||
        json_object_set(o, "tags", tags) ||
        json_object_set_new(o, "persist_predictions", json_boolean(dp->persist_predictions)) ||
        json_object_set(o, "prediction", pred ? pred : json_null()))
        goto nomem;
    line = json_dumps(o, JSON_COMPACT);
    if (!line) goto nomem;
    size_t ln = strlen(line);
    buf = mlc_alloc(ln + 1 + dp->jpeg_n);
    if (!buf) goto nomem;
    memcpy(buf, line, ln);
    buf[ln] = '\n';
    if (dp->jpeg_n) memcpy(buf + ln + 1, dp->jpeg, dp->jpeg_n);
    if ((st = core_write_file_atomic(path, buf, ln + 1 + dp->jpeg_n, err))) goto fail;
    if ((st = dirname_fsync(path, err))) goto fail;
    goto done;
nomem:
    st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory writing '%s'", path);
fail:
done:
    core_libc_free(line); /* jansson allocates with malloc: freed with its own free */
    mlc_free(buf);
    json_decref(o);
    json_decref(tags);
    json_decref(pred);
    return st;
}

static char *dup_member(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? core_strdup(json_string_value(v)) : NULL;
}

mlc_status al_datapoint_read(const char *path, struct al_datapoint *dp, mlc_error *err)
{
    mlc_status st = MLC_OK;
    char *data = NULL, *side = NULL;
    size_t n = 0;
    json_t *o = NULL;
    memset(dp, 0, sizeof *dp);
    if ((st = core_read_file(path, 0, &data, &n, err))) goto fail;
    char *nl = memchr(data, '\n', n);
    json_error_t je;
    if (!nl || !(o = json_loadb(data, (size_t)(nl - data), 0, &je)) || !json_is_object(o)) {
        st = core_err(err, MLC_STATUS_BAD_JSON, "'%s': queue entry header is not JSON", path);
        goto fail;
    }
    json_t *key = json_object_get(o, "key");
    /* The key names files in the local sink: a UUID, never a path. */
    if (!json_is_string(key) || strlen(json_string_value(key)) != 36 ||
        strspn(json_string_value(key), "0123456789abcdefABCDEF-") != 36) {
        st = core_err(err, MLC_STATUS_BAD_JSON, "'%s': queue entry has no valid \"key\"", path);
        goto fail;
    }
    memcpy(dp->key, json_string_value(key), 37);
    dp->target_dataset = dup_member(o, "target_dataset");
    dp->batch = dup_member(o, "batch");
    dp->model_id = dup_member(o, "model_id");
    dp->inference_id = dup_member(o, "inference_id");
    dp->persist_predictions = json_is_true(json_object_get(o, "persist_predictions"));
    if (!dp->target_dataset || !dp->batch || !dp->model_id) {
        st = core_err(err, MLC_STATUS_BAD_JSON, "'%s': queue entry header is incomplete", path);
        goto fail;
    }
    json_t *pred = json_object_get(o, "prediction");
    if (pred && !json_is_null(pred)) {
        char *s = json_dumps(pred, JSON_COMPACT);
        if (s) {
            dp->prediction_json = core_strdup(s);
            core_libc_free(s);
        }
        if (!dp->prediction_json) goto nomem;
    }
    json_t *tags = json_object_get(o, "tags");
    size_t nt = json_is_array(tags) ? json_array_size(tags) : 0;
    dp->tags = mlc_calloc(nt ? nt : 1, sizeof *dp->tags);
    if (!dp->tags) goto nomem;
    for (size_t i = 0; i < nt; i++) {
        json_t *t = json_array_get(tags, i);
        if (!json_is_string(t)) continue;
        if (!(dp->tags[dp->n_tags] = core_strdup(json_string_value(t)))) goto nomem;
        dp->n_tags++;
    }
    dp->jpeg_n = n - (size_t)(nl + 1 - data);
    dp->jpeg = mlc_alloc(dp->jpeg_n ? dp->jpeg_n : 1);
    if (!dp->jpeg) goto nomem;
    memcpy(dp->jpeg, nl + 1, dp->jpeg_n);
    if (!(side = core_sprintf("%s.uploaded", path))) goto nomem;
    if (core_file_exists(side)) {
        char *id = NULL;
        size_t idn = 0;
        if (core_read_file(side, 4096, &id, &idn, NULL) == MLC_OK && idn)
            dp->image_id = id;
        else
            mlc_free(id);
    }
    goto done;
nomem:
    st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory reading '%s'", path);
fail:
    al_datapoint_clear(dp);
done:
    json_decref(o);
    mlc_free(data);
    mlc_free(side);
    return st;
}

void al_datapoint_clear(struct al_datapoint *dp)
{
    if (!dp) return;
    mlc_free(dp->target_dataset);
    mlc_free(dp->batch);
    mlc_free(dp->model_id);
    mlc_free(dp->inference_id);
    for (size_t i = 0; i < dp->n_tags; i++) mlc_free(dp->tags[i]);
    mlc_free(dp->tags);
    mlc_free(dp->prediction_json);
    mlc_free(dp->jpeg);
    mlc_free(dp->image_id);
    memset(dp, 0, sizeof *dp);
}
