/*
 * fuzz_workflow.c - libFuzzer target over the workflow definition parser and
 * compiler: any bytes must give MLC_OK or a clean error (with a well-formed
 * HTTP error body), never a crash, hang or leak. Seeds: fuzz/corpus/
 * fuzz_workflow/ (the example definitions).
 */
#include <stddef.h>
#include <stdint.h>

#include "workflow/workflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mlc_workflow *wf = NULL;
    struct wf_error we;
    if (wf_compile((const char *)data, size, NULL, &wf, &we) == MLC_OK) {
        /* every resolved reference must point inside the workflow */
        for (int i = 0; i < wf->n_steps; i++) {
            const struct wf_step *s = &wf->steps[wf->order[i]];
            for (int p = 0; p < s->vt->n_props; p++) {
                const struct wf_pval *v = &s->vals[p];
                if (v->ref == WF_REF_STEP)
                    CORE_ASSERT(v->step >= 0 && v->step < wf->n_steps && v->output >= 0 &&
                                v->output < wf->steps[v->step].vt->n_outputs);
                if (v->ref == WF_REF_INPUT) CORE_ASSERT(v->input >= 0 && v->input < wf->n_inputs);
                if (v->ref == WF_REF_NONE) CORE_ASSERT(v->literal != NULL);
            }
            json_t *r = wf_step_dependent_resources(s);
            if (r) json_decref(r);
        }
        mlc_workflow_free(wf);
    } else {
        char *body = wf_error_to_json(&we);
        mlc_free(body);
    }
    return 0;
}
