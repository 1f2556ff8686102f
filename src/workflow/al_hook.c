/*
 * al_hook.c - connects the multi-label block to active learning. When a step
 * runs with disable_active_learning false, each image and its prediction go
 * to the process-wide manager for (model_id, target dataset), which samples
 * and queues them durably (src/al). Roboflow's in-process blocks ignore these
 * two properties; mlc honours them wherever the block runs.
 */
#include "al/al.h"
#include "workflow/workflow.h"

void wf_al_register(const struct wf_al_event *ev)
{
    for (size_t i = 0; i < ev->n; i++)
        (void)al_global_register(ev->api_key, ev->model_id, ev->target_dataset, ev->images[i],
                                 ev->predictions_json[i], ev->inference_id);
}
