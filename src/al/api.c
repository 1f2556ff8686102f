/*
 * api.c - the public active-learning entry points (include/mlc.h) over the
 * process-wide managers of global.c. The prediction sent along with the
 * image is the result's Roboflow JSON, so what is labelled is exactly what
 * the caller was answered.
 */
#include "al/al.h"
#include "core/core.h"

_Static_assert((int)MLC_AL_QUEUED == (int)AL_QUEUED && (int)MLC_AL_DROPPED == (int)AL_DROPPED,
               "public and internal outcomes must agree");

mlc_status mlc_active_learning_configure(const char *queue_dir, const char *config_path,
                                         const char *local_dir, int offline, mlc_error *err)
{
    /* A bad local configuration is reported now, at load, rather than as a
     * silently disabled manager at the first registration. */
    if (config_path) {
        struct al_config cfg;
        mlc_status st = al_config_load_file(config_path, &cfg, err);
        if (st) return st;
        al_config_clear(&cfg);
    }
    struct al_defaults d = {queue_dir, config_path, local_dir, NULL, offline};
    return al_global_configure(&d, err);
}

mlc_al_outcome mlc_active_learning_register(const char *api_key, const char *model_id,
                                            const char *target_dataset, const mlc_image *img,
                                            const mlc_result *result)
{
    char *json = NULL;
    if (!img || !result || !model_id) return MLC_AL_DROPPED;
    if (mlc_result_to_json(result, 0, &json, NULL) != MLC_OK) return MLC_AL_DROPPED;
    enum al_outcome o = al_global_register(api_key, model_id, target_dataset, img, json,
                                           mlc_result_inference_id(result));
    mlc_free(json);
    return (mlc_al_outcome)o;
}

void mlc_active_learning_shutdown(int timeout_ms)
{
    al_global_shutdown(timeout_ms);
}
