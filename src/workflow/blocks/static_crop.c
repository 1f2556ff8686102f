/*
 * static_crop.c - Roboflow's "Relative Static Crop" (roboflow_core/
 * relative_statoic_crop@v1 - Roboflow's own spelling - alias
 * RelativeStaticCrop) and "Absolute Static Crop" (roboflow_core/
 * absolute_static_crop@v1, alias AbsoluteStaticCrop) blocks: one crop per
 * input image, output `crops` of kind image. Arithmetic follows Roboflow's
 * take_static_crop: Python round() (half to even) and numpy slice semantics
 * (negative bounds count from the end, clamped), an empty slice gives None.
 * Crops carry Roboflow's lineage: parent_id "<block>.<uuid4>", origin offset
 * in the parent, root ancestor copied from the parent.
 *
 * Does not: add a dimension (one crop per image, like Roboflow), or
 * preserve real video metadata (mlc has no video inputs).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "workflow/workflow.h"

static const char *const k_image[] = {"image", NULL};
static const char *const k_f01[] = {"float_zero_to_one", NULL};
static const char *const k_int[] = {"integer", NULL};

#define P_IMAGES                                                                                   \
    {                                                                                              \
        "images", "image", WF_P_SELECTOR_ONLY, 1, 1, k_image, NULL, NULL, "Image",                 \
            "The image to infer on.", "[\"$inputs.image\", \"$steps.cropping.crops\"]", NULL, NULL \
    }
#define P_REL(n, d, ex)                                                                            \
    {                                                                                              \
        n, NULL, WF_P_FLOAT01, 1, 0, k_f01, NULL, NULL, NULL, d, "[0.3, \"" ex "\"]", NULL,        \
            "float"                                                                                \
    }
#define P_ABS(n, d, ex)                                                                            \
    {                                                                                              \
        n, NULL, WF_P_POS_INT, 1, 0, k_int, NULL, NULL, NULL, d, "[40, \"" ex "\"]", NULL, "int"   \
    }

static const struct wf_prop props_rel[] = {
    P_IMAGES,
    P_REL("x_center", "Center X of static crop (relative coordinate 0.0-1.0)", "$inputs.center_x"),
    P_REL("y_center", "Center Y of static crop (relative coordinate 0.0-1.0)", "$inputs.center_y"),
    P_REL("width", "Width of static crop (relative value 0.0-1.0)", "$inputs.width"),
    P_REL("height", "Height of static crop (relative value 0.0-1.0)", "$inputs.height"),
};

static const struct wf_prop props_abs[] = {
    P_IMAGES,
    P_ABS("x_center",
          "X coordinate of the center point of the crop region in absolute pixel "
          "coordinates.",
          "$inputs.center_x"),
    P_ABS("y_center",
          "Y coordinate of the center point of the crop region in absolute pixel "
          "coordinates.",
          "$inputs.center_y"),
    P_ABS("width", "Width of the crop region in pixels.", "$inputs.width"),
    P_ABS("height", "Height of the crop region in pixels.", "$inputs.height"),
};

static const struct wf_output_def outputs_crop[] = {{"crops", k_image}};

/* numpy slice bound normalisation for one axis */
static long slice_bound(long v, long len)
{
    if (v < 0) v += len;
    if (v < 0) v = 0;
    if (v > len) v = len;
    return v;
}

static mlc_status number_param(struct wf_exec *x, const struct wf_step *st, int p, size_t i,
                               double *out, struct wf_error *we)
{
    struct wf_val v = wf_exec_prop(x, st, p, i);
    if (v.type == WF_V_JSON && json_is_number(v.json)) {
        *out = json_number_value(v.json);
        return MLC_OK;
    }
    return wf_fail(we, MLC_STATUS_BAD_WORKFLOW, 500, "StepExecutionError", WF_CTX_STEP,
                   "property '%s' must resolve to a number", st->vt->props[p].name);
}

static mlc_status run_crop(struct wf_exec *x, const struct wf_step *st, struct wf_error *we)
{
    int relative = st->vt == &wf_block_relative_crop;
    const char *prefix = relative ? "relative_static_crop" : "absolute_static_crop";
    for (size_t i = 0; i < x->n; i++) {
        struct wf_val iv = wf_exec_prop(x, st, 0, i);
        if (iv.type != WF_V_IMAGE) continue;
        const struct wf_img *par = iv.img;
        long W = mlc_image_width(par->img), H = mlc_image_height(par->img);
        double xc = 0, yc = 0, w = 0, h = 0;
        mlc_status s;
        if ((s = number_param(x, st, 1, i, &xc, we)) || (s = number_param(x, st, 2, i, &yc, we)) ||
            (s = number_param(x, st, 3, i, &w, we)) || (s = number_param(x, st, 4, i, &h, we)))
            return s;
        if (relative) {
            xc = rint((double)W * xc);
            yc = rint((double)H * yc);
            w = rint((double)W * w);
            h = rint((double)H * h);
        }
        double x_min = rint(xc - w / 2), y_min = rint(yc - h / 2);
        double x_max = rint(x_min + w), y_max = rint(y_min + h);
        if (!(fabs(x_min) < 1e9 && fabs(y_min) < 1e9 && fabs(x_max) < 1e9 && fabs(y_max) < 1e9))
            continue; /* absurd coordinates: an empty crop */
        long x0 = slice_bound((long)x_min, W), x1 = slice_bound((long)x_max, W);
        long y0 = slice_bound((long)y_min, H), y1 = slice_bound((long)y_max, H);
        if (x1 <= x0 || y1 <= y0) continue; /* empty: None */
        size_t stride = 0;
        const uint8_t *bgr = mlc_image_bgr(par->img, &stride);
        mlc_image *crop = NULL;
        mlc_error err = {0};
        if ((s = mlc_image_from_bgr(bgr + (size_t)y0 * stride + (size_t)x0 * 3, (int)(x1 - x0),
                                    (int)(y1 - y0), stride, &crop, &err)))
            return wf_fail(we, s, 500, "StepExecutionError", WF_CTX_STEP, "cannot crop: %s",
                           err.message);
        struct wf_img *c = wf_exec_new_image(x, crop);
        char uuid[37], id[64];
        core_uuid4(uuid);
        snprintf(id, sizeof id, "%s.%s", prefix, uuid);
        if (!c || !(c->parent_id = wf_exec_strdup(x, id)))
            return wf_fail(we, MLC_STATUS_NO_MEMORY, 500, "MemoryError", WF_CTX_STEP,
                           "out of memory");
        c->root_parent_id = par->root_parent_id;
        c->origin_x = (int)x_min;
        c->origin_y = (int)y_min;
        c->origin_w = (int)W;
        c->origin_h = (int)H;
        c->root_x = par->root_x;
        c->root_y = par->root_y;
        c->root_w = par->root_w;
        c->root_h = par->root_h;
        wf_exec_set_image(x, st, 0, i, c);
    }
    return MLC_OK;
}

static const char *const aliases_rel[] = {"RelativeStaticCrop", NULL};
static const char *const aliases_abs[] = {"AbsoluteStaticCrop", NULL};

const struct wf_block_vtbl wf_block_relative_crop = {
    .type = "roboflow_core/relative_statoic_crop@v1",
    .aliases = aliases_rel,
    .fqcn = "inference.core.workflows.core_steps.transformations.relative_static_crop.v1."
            "RelativeStaticCropBlockV1",
    .human_name = "Relative Static Crop",
    .schema_extra_json =
        "{\"name\": \"Relative Static Crop\", \"version\": \"v1\", \"short_description\": \"Crop "
        "an image proportional (%) to its dimensions.\", \"long_description\": \"Crop a Region of "
        "Interest (RoI) from an image, using relative coordinates.\", \"license\": "
        "\"Apache-2.0\", \"block_type\": \"transformation\", \"ui_manifest\": {\"section\": "
        "\"transformation\", \"icon\": \"far fa-crop-alt\", \"blockPriority\": 2}}",
    .props = props_rel,
    .n_props = 5,
    .outputs = outputs_crop,
    .n_outputs = 1,
    .check = NULL,
    .run = run_crop,
};

const struct wf_block_vtbl wf_block_absolute_crop = {
    .type = "roboflow_core/absolute_static_crop@v1",
    .aliases = aliases_abs,
    .fqcn = "inference.core.workflows.core_steps.transformations.absolute_static_crop.v1."
            "AbsoluteStaticCropBlockV1",
    .human_name = "Absolute Static Crop",
    .schema_extra_json =
        "{\"name\": \"Absolute Static Crop\", \"version\": \"v1\", \"short_description\": \"Crop "
        "an image using fixed pixel coordinates.\", \"long_description\": \"Extract a fixed "
        "rectangular region from input images using absolute pixel coordinates specified by "
        "center point and dimensions.\", \"license\": \"Apache-2.0\", \"block_type\": "
        "\"transformation\", \"ui_manifest\": {\"section\": \"transformation\", \"icon\": \"far "
        "fa-crop-alt\", \"blockPriority\": 1}}",
    .props = props_abs,
    .n_props = 5,
    .outputs = outputs_crop,
    .n_outputs = 1,
    .check = NULL,
    .run = run_crop,
};
