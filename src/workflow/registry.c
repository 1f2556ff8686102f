/*
 * registry.c - the list of blocks mlc knows. A new block is a const
 * struct wf_block_vtbl in src/workflow/blocks/ plus one line here; the
 * compiler, executor and describe document find it through this table.
 */
#include <string.h>

#include "workflow/workflow.h"

const struct wf_block_vtbl *const wf_blocks[] = {
    &wf_block_mlc_v1,        &wf_block_mlc_v2,        &wf_block_mlc_v3,
    &wf_block_relative_crop, &wf_block_absolute_crop,
};
const int wf_n_blocks = (int)(sizeof wf_blocks / sizeof wf_blocks[0]);

const struct wf_block_vtbl *wf_block_find(const char *type)
{
    for (int i = 0; i < wf_n_blocks; i++) {
        if (!strcmp(wf_blocks[i]->type, type)) return wf_blocks[i];
        for (const char *const *a = wf_blocks[i]->aliases; a && *a; a++)
            if (!strcmp(*a, type)) return wf_blocks[i];
    }
    return NULL;
}
