/*
 * preproc.h - turns one decoded image into the network's input rows
 * (float32, CHW, 3 x height x width) as a package's preprocessing says.
 */
#ifndef MLC_MODEL_PREPROC_H
#define MLC_MODEL_PREPROC_H

#include "model/model.h"

/* Writes 3*pp->height*pp->width floats to out (CHW, channel order per
 * pp->rgb). flags: MLC_CLASSIFY_NO_* switches. Status: BAD_IMAGE (e.g. the
 * static crop leaves nothing), NO_MEMORY. */
mlc_status mdl_preprocess(const struct mdl_preproc *pp, const mlc_image *img, unsigned flags,
                          float *out, mlc_error *err);

/* The package of a loaded model (tests). */
const struct mdl_package *mdl_model_package(const mlc_model *m);

#endif
