/*
 * Tests of the workflow compiler and manifests without models: every
 * manifest case of Roboflow's own unit tests for the multi-label block
 * (block-semantics.md 7.6, items 1-8 and 11-15), and malformed definitions
 * (each one clear error of the right Roboflow type, no crash, no leak).
 */
#include "test.h"
#include "workflow/workflow.h"

static const char *const V1 = "roboflow_core/roboflow_multi_label_classification_model@v1";
static const char *const V2 = "roboflow_core/roboflow_multi_label_classification_model@v2";
static const char *const V3 = "roboflow_core/roboflow_multi_label_classification_model@v3";

/* Wraps one step (JSON object text) into a full definition. */
static char *def_with_step(const char *step)
{
    return core_sprintf(
        "{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", \"name\": \"image\"},"
        "{\"type\": \"WorkflowParameter\", \"name\": \"model\"},"
        "{\"type\": \"WorkflowParameter\", \"name\": \"conf\", \"kind\": [\"float_zero_to_one\"]}],"
        "\"steps\": [%s], \"outputs\": [{\"type\": \"JsonField\", \"name\": \"p\", "
        "\"selector\": \"$steps.some.*\"}]}",
        step);
}

static mlc_status compile_step(const char *step, mlc_workflow **wf, struct wf_error *we)
{
    char *d = def_with_step(step);
    mlc_status st = wf_compile(d, strlen(d), NULL, wf, we);
    mlc_free(d);
    return st;
}

/* Compiles and expects a syntax (ValidationError) failure naming prop. */
static int rejects(const char *step, const char *prop)
{
    mlc_workflow *wf = NULL;
    struct wf_error we;
    mlc_status st = compile_step(step, &wf, &we);
    mlc_workflow_free(wf);
    if (st != MLC_STATUS_BAD_WORKFLOW) {
        fprintf(stderr, "  expected rejection of %s (status %d)\n", step, st);
        return 0;
    }
    if (strcmp(we.error_type, "WorkflowSyntaxError") || we.http_status != 400) {
        fprintf(stderr, "  wrong error type %s: %s\n", we.error_type, we.e.message);
        return 0;
    }
    if (prop && strcmp(we.property_name, prop)) {
        fprintf(stderr, "  expected property %s, got '%s': %s\n", prop, we.property_name,
                we.e.message);
        return 0;
    }
    if (!strstr(we.e.message, "some") && !strstr(we.e.message, "steps[0]")) {
        fprintf(stderr, "  message does not name the step: %s\n", we.e.message);
        return 0;
    }
    return 1;
}

static const struct wf_pval *val(const mlc_workflow *wf, const char *prop)
{
    int i = wf_prop_index(wf->steps[0].vt, prop);
    return i < 0 ? NULL : &wf->steps[0].vals[i];
}

/* 7.6 #1: minimalistic config, images|image x type literals */
static void test_minimalistic(void)
{
    const char *types[] = {V1, "RoboflowMultiLabelClassificationModel",
                           "MultiLabelClassificationModel", V2, V3};
    const char *keys[] = {"images", "image"};
    for (int t = 0; t < 5; t++)
        for (int k = 0; k < 2; k++) {
            char *step = core_sprintf("{\"type\": \"%s\", \"name\": \"some\", \"%s\": "
                                      "\"$inputs.image\", \"model_id\": \"some/1\"}",
                                      types[t], keys[k]);
            mlc_workflow *wf = NULL;
            struct wf_error we;
            CHECK_OK(compile_step(step, &wf, &we), &we.e);
            if (wf) {
                const struct wf_pval *im = val(wf, "images");
                CHECK(im->ref == WF_REF_INPUT && !strcmp(im->selector, "$inputs.image"));
                CHECK(!strcmp(json_string_value(val(wf, "model_id")->literal), "some/1"));
                CHECK(json_is_true(val(wf, "disable_active_learning")->literal));
                CHECK(json_is_null(val(wf, "active_learning_target_dataset")->literal));
                if (t < 4) {
                    CHECK_NEAR(json_real_value(val(wf, "confidence")->literal), 0.4, 0);
                } else {
                    CHECK(!strcmp(json_string_value(val(wf, "confidence_mode")->literal), "best"));
                    CHECK_NEAR(json_real_value(val(wf, "custom_confidence")->literal), 0.4, 0);
                }
                CHECK(!strcmp(wf->steps[0].type_literal, types[t]));
            }
            mlc_workflow_free(wf);
            mlc_free(step);
        }
}

/* 7.6 #2: each required field removed */
static void test_required_fields(void)
{
    const char *types[] = {"RoboflowMultiLabelClassificationModel", V2, V3};
    for (int t = 0; t < 3; t++) {
        const char *fields[] = {"type", "name", "images", "model_id"};
        for (int f = 0; f < 4; f++) {
            char parts[4][128];
            snprintf(parts[0], 128, "\"type\": \"%s\"", types[t]);
            snprintf(parts[1], 128, "\"name\": \"some\"");
            snprintf(parts[2], 128, "\"images\": \"$inputs.image\"");
            snprintf(parts[3], 128, "\"model_id\": \"some/1\"");
            char step[600] = "{";
            int first = 1;
            for (int p = 0; p < 4; p++) {
                if (p == f) continue;
                if (!first) strcat(step, ", ");
                strcat(step, parts[p]);
                first = 0;
            }
            strcat(step, "}");
            CHECK_MSG(rejects(step, fields[f]), "%s without %s", types[t], fields[f]);
        }
    }
}

/* 7.6 #3, #4, #5 and v3 #6, #8 */
static void test_invalid_values(void)
{
    const char *types[] = {V1, V2, V3};
    for (int t = 0; t < 3; t++) {
        char step[512];
        CHECK(rejects("{\"type\": \"invalid\", \"name\": \"some\", \"images\": \"$inputs.image\", "
                      "\"model_id\": \"some/1\"}",
                      "type"));
        snprintf(step, sizeof step,
                 "{\"type\": \"%s\", \"name\": \"some\", \"images\": \"$inputs.image\", "
                 "\"model_id\": null}",
                 types[t]);
        CHECK(rejects(step, "model_id"));
        snprintf(step, sizeof step,
                 "{\"type\": \"%s\", \"name\": \"some\", \"images\": \"$inputs.image\", "
                 "\"model_id\": \"some/1\", \"disable_active_learning\": \"some\"}",
                 types[t]);
        CHECK(rejects(step, "disable_active_learning"));
        snprintf(step, sizeof step,
                 "{\"type\": \"%s\", \"name\": \"some\", \"images\": \"some\", "
                 "\"model_id\": \"some/1\"}",
                 types[t]);
        CHECK(rejects(step, "images"));
    }
    const char *bad3[] = {"\"confidence_mode\": \"invalid-mode\"",
                          "\"custom_confidence\": \"some\"", "\"custom_confidence\": 1.1",
                          "\"confidence_mode\": \"custom\", \"custom_confidence\": null"};
    const char *prop3[] = {"confidence_mode", "custom_confidence", "custom_confidence",
                           "custom_confidence"};
    for (int i = 0; i < 4; i++) {
        char step[512];
        snprintf(step, sizeof step,
                 "{\"type\": \"%s\", \"name\": \"some\", \"images\": \"$inputs.image\", "
                 "\"model_id\": \"some/1\", %s}",
                 V3, bad3[i]);
        CHECK_MSG(rejects(step, prop3[i]), "%s", bad3[i]);
    }
    /* v1/v2 confidence range and type */
    const char *bad12[] = {"1.1", "-0.1", "\"abc\"", "null", "[0.5]"};
    for (int i = 0; i < 5; i++) {
        char step[512];
        snprintf(step, sizeof step,
                 "{\"type\": \"%s\", \"name\": \"some\", \"images\": \"$inputs.image\", "
                 "\"model_id\": \"some/1\", \"confidence\": %s}",
                 V1, bad12[i]);
        CHECK_MSG(rejects(step, "confidence"), "confidence %s", bad12[i]);
    }
}

/* 7.6 #7 and pydantic lax coercions */
static void test_valid_values(void)
{
    const char *modes[] = {"best", "default", "custom"};
    for (int m = 0; m < 3; m++) {
        char step[512];
        snprintf(
            step, sizeof step,
            "{\"type\": \"%s\", \"name\": \"some\", \"images\": \"$inputs.image\", "
            "\"model_id\": \"some/1\", \"confidence_mode\": \"%s\", \"custom_confidence\": %s}",
            V3, modes[m], m == 2 ? "0.5" : "null");
        mlc_workflow *wf = NULL;
        struct wf_error we;
        CHECK_OK(compile_step(step, &wf, &we), &we.e);
        if (wf) CHECK(!strcmp(json_string_value(val(wf, "confidence_mode")->literal), modes[m]));
        mlc_workflow_free(wf);
    }
    /* custom without custom_confidence is valid (default 0.4) */
    {
        char step[512];
        snprintf(step, sizeof step,
                 "{\"type\": \"%s\", \"name\": \"some\", \"images\": \"$inputs.image\", "
                 "\"model_id\": \"some/1\", \"confidence_mode\": \"custom\"}",
                 V3);
        mlc_workflow *wf = NULL;
        struct wf_error we;
        CHECK_OK(compile_step(step, &wf, &we), &we.e);
        mlc_workflow_free(wf);
    }
    struct {
        const char *lit;
        double want;
    } conf[] = {{"1", 1.0}, {"0", 0.0}, {"\"0.5\"", 0.5}, {"true", 1.0}, {"0.25", 0.25}};
    for (int i = 0; i < 5; i++) {
        char step[512];
        snprintf(step, sizeof step,
                 "{\"type\": \"%s\", \"name\": \"some\", \"images\": \"$inputs.image\", "
                 "\"model_id\": \"some/1\", \"confidence\": %s, \"disable_active_learning\": "
                 "\"no\"}",
                 V2, conf[i].lit);
        mlc_workflow *wf = NULL;
        struct wf_error we;
        CHECK_OK(compile_step(step, &wf, &we), &we.e);
        if (wf) {
            CHECK_NEAR(json_real_value(val(wf, "confidence")->literal), conf[i].want, 0);
            CHECK(json_is_false(val(wf, "disable_active_learning")->literal));
        }
        mlc_workflow_free(wf);
    }
    /* bindings: confidence and model id from parameters */
    {
        mlc_workflow *wf = NULL;
        struct wf_error we;
        CHECK_OK(compile_step("{\"type\": \"MultiLabelClassificationModel\", \"name\": \"some\", "
                              "\"image\": \"$inputs.image\", \"model_id\": \"$inputs.model\", "
                              "\"confidence\": \"$inputs.conf\"}",
                              &wf, &we),
                 &we.e);
        if (wf) {
            CHECK(val(wf, "model_id")->ref == WF_REF_INPUT && val(wf, "model_id")->input == 1);
            CHECK(val(wf, "confidence")->ref == WF_REF_INPUT && val(wf, "confidence")->input == 2);
        }
        mlc_workflow_free(wf);
    }
}

/* 7.6 #11-14: dependent resources */
static void test_dependent_resources(void)
{
    const char *types[] = {V1, V2, V3};
    for (int t = 0; t < 3; t++) {
        for (int sel = 0; sel < 2; sel++) {
            char step[512];
            snprintf(step, sizeof step,
                     "{\"type\": \"%s\", \"name\": \"some\", \"images\": \"$inputs.image\", "
                     "\"model_id\": \"%s\"}",
                     types[t], sel ? "$inputs.model" : "my_project/3");
            mlc_workflow *wf = NULL;
            struct wf_error we;
            CHECK_OK(compile_step(step, &wf, &we), &we.e);
            if (!wf) continue;
            json_t *r = wf_step_dependent_resources(&wf->steps[0]);
            CHECK(json_array_size(r) == 1);
            json_t *m = json_array_get(r, 0);
            CHECK(!strcmp(json_string_value(json_object_get(m, "resource_type")),
                          "roboflow_platform_model"));
            json_t *md = json_object_get(m, "metadata");
            CHECK(!strcmp(json_string_value(json_object_get(md, "model_id")),
                          sel ? "$inputs.model" : "my_project/3"));
            CHECK(!strcmp(json_string_value(json_object_get(md, "required_action")), "execution"));
            json_decref(r);
            mlc_workflow_free(wf);
        }
    }
    for (int al = 0; al < 2; al++) {
        char step[512];
        snprintf(step, sizeof step,
                 "{\"type\": \"%s\", \"name\": \"some\", \"images\": \"$inputs.image\", "
                 "\"model_id\": \"my_project/3\", %s\"active_learning_target_dataset\": "
                 "\"my_dataset\"}",
                 V3, al ? "\"disable_active_learning\": false, " : "");
        mlc_workflow *wf = NULL;
        struct wf_error we;
        CHECK_OK(compile_step(step, &wf, &we), &we.e);
        if (!wf) continue;
        json_t *r = wf_step_dependent_resources(&wf->steps[0]);
        CHECK(json_array_size(r) == (size_t)(al ? 2 : 1));
        if (al) {
            json_t *p = json_array_get(r, 1);
            CHECK(!strcmp(json_string_value(json_object_get(p, "resource_type")),
                          "roboflow_platform_project"));
            CHECK(!strcmp(
                json_string_value(json_object_get(json_object_get(p, "metadata"), "project_url")),
                "my_dataset"));
        }
        json_decref(r);
        mlc_workflow_free(wf);
    }
}

/* 7.6 #15 and the describe document's shape */
static void test_describe(void)
{
    mlc_error e;
    char *doc = NULL;
    CHECK_OK(mlc_blocks_describe(&doc, &e), &e);
    json_t *d = doc ? json_loads(doc, 0, NULL) : NULL;
    CHECK(d != NULL);
    json_t *blocks = json_object_get(d, "blocks");
    CHECK(json_array_size(blocks) == 5);
    int seen = 0;
    for (size_t i = 0; i < json_array_size(blocks); i++) {
        json_t *b = json_array_get(blocks, i);
        const char *id = json_string_value(json_object_get(b, "manifest_type_identifier"));
        json_t *schema = json_object_get(b, "block_schema");
        CHECK(json_is_object(json_object_get(schema, "properties")));
        CHECK(json_is_array(json_object_get(b, "outputs_manifest")));
        if (!strcmp(id, V1)) {
            seen++;
            CHECK(json_array_size(json_object_get(b, "manifest_type_identifier_aliases")) == 2);
            json_t *tt = json_object_get(b, "compatible_task_types");
            CHECK(!strcmp(json_string_value(json_array_get(tt, 0)), "multi-label-classification"));
            json_t *outs = json_object_get(b, "outputs_manifest");
            CHECK(json_array_size(outs) == 2);
            json_t *k = json_array_get(json_object_get(json_array_get(outs, 1), "kind"), 0);
            CHECK(!strcmp(json_string_value(json_object_get(k, "name")), "string"));
        }
        if (!strcmp(id, V2)) {
            seen++;
            json_t *tt = json_object_get(b, "compatible_task_types");
            CHECK(!strcmp(json_string_value(json_array_get(tt, 0)), "multi-label-classification"));
            CHECK(json_array_size(json_object_get(b, "outputs_manifest")) == 3);
        }
        if (!strcmp(id, V3)) {
            seen++;
            json_t *props = json_object_get(schema, "properties");
            json_t *cm = json_object_get(props, "confidence_mode");
            CHECK(!strcmp(json_string_value(json_object_get(cm, "default")), "best"));
            CHECK(json_is_true(json_object_get(cm, "always_visible")));
            CHECK(json_object_get(json_object_get(props, "custom_confidence"), "relevant_for"));
            CHECK(!strcmp(json_string_value(json_object_get(schema, "short_description")),
                          "Apply multiple tags to an image."));
            json_t *req = json_object_get(schema, "required");
            CHECK(json_array_size(req) == 4);
        }
    }
    CHECK(seen == 3);
    json_t *kc = json_object_get(d, "kinds_connections");
    CHECK(json_array_size(json_object_get(kc, "image")) == 5);
    CHECK(json_array_size(json_object_get(kc, "roboflow_model_id")) == 3);
    CHECK(json_array_size(json_object_get(d, "declared_kinds")) > 5);
    if (d) json_decref(d);
    mlc_free(doc);
}

/* Malformed definitions: each one clear error of the expected type. */
static void test_malformed(void)
{
    struct {
        const char *def;
        const char *type;
        const char *needle;
    } cases[] = {
        {"{not json", "WorkflowSyntaxError", "not valid JSON"},
        {"[]", "WorkflowSyntaxError", "JSON object"},
        {"{\"inputs\": [], \"steps\": [], \"outputs\": []}", "WorkflowSyntaxError", "version"},
        {"{\"version\": \"2.0\", \"inputs\": [], \"steps\": [], \"outputs\": []}",
         "NotSupportedExecutionEngineError", "2.0"},
        {"{\"version\": \"1.0\", \"inputs\": {}, \"steps\": [], \"outputs\": []}",
         "WorkflowSyntaxError", "lists"},
        {"{\"version\": \"1.0\", \"inputs\": [{\"type\": \"Nope\", \"name\": \"x\"}], \"steps\": "
         "[], \"outputs\": []}",
         "WorkflowSyntaxError", "Nope"},
        /* duplicated names */
        {"{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", \"name\": \"image\"}, "
         "{\"type\": \"WorkflowImage\", \"name\": \"image\"}], \"steps\": [], \"outputs\": []}",
         "DuplicatedNameError", "image"},
        {"{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", \"name\": \"image\"}], "
         "\"steps\": [{\"type\": \"MultiLabelClassificationModel\", \"name\": \"a\", \"images\": "
         "\"$inputs.image\", \"model_id\": \"x/1\"}, {\"type\": \"MultiLabelClassificationModel\", "
         "\"name\": \"a\", \"images\": \"$inputs.image\", \"model_id\": \"x/1\"}], \"outputs\": "
         "[]}",
         "DuplicatedNameError", "'a'"},
        /* dangling references */
        {"{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", \"name\": \"image\"}], "
         "\"steps\": [{\"type\": \"MultiLabelClassificationModel\", \"name\": \"a\", \"images\": "
         "\"$inputs.picture\", \"model_id\": \"x/1\"}], \"outputs\": []}",
         "InvalidReferenceTargetError", "$inputs.picture"},
        {"{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", \"name\": \"image\"}], "
         "\"steps\": [{\"type\": \"MultiLabelClassificationModel\", \"name\": \"a\", \"images\": "
         "\"$inputs.image\", \"model_id\": \"x/1\"}], \"outputs\": [{\"type\": \"JsonField\", "
         "\"name\": \"o\", \"selector\": \"$steps.b.predictions\"}]}",
         "InvalidReferenceTargetError", "$steps.b.predictions"},
        {"{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", \"name\": \"image\"}], "
         "\"steps\": [{\"type\": \"MultiLabelClassificationModel\", \"name\": \"a\", \"images\": "
         "\"$inputs.image\", \"model_id\": \"x/1\"}], \"outputs\": [{\"type\": \"JsonField\", "
         "\"name\": \"o\", \"selector\": \"$steps.a.model_id\"}]}",
         "InvalidReferenceTargetError", "model_id"}, /* v1 has no model_id output */
        /* kind mismatches */
        {"{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", \"name\": \"image\"}], "
         "\"steps\": [{\"type\": \"roboflow_core/roboflow_multi_label_classification_model@v2\", "
         "\"name\": \"a\", \"images\": \"$inputs.image\", \"model_id\": \"$inputs.image\"}], "
         "\"outputs\": []}",
         "ReferenceTypeError", "model_id"},
        {"{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", \"name\": \"image\"}], "
         "\"steps\": [{\"type\": \"roboflow_core/roboflow_multi_label_classification_model@v2\", "
         "\"name\": \"a\", \"images\": \"$inputs.image\", \"model_id\": \"x/1\"}, "
         "{\"type\": \"roboflow_core/roboflow_multi_label_classification_model@v2\", "
         "\"name\": \"b\", \"images\": \"$steps.a.predictions\", \"model_id\": \"x/1\"}], "
         "\"outputs\": []}",
         "ReferenceTypeError", "images"},
        {"{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowParameter\", \"name\": \"t\", "
         "\"kind\": [\"boolean\"]}, {\"type\": \"WorkflowImage\", \"name\": \"image\"}], "
         "\"steps\": [{\"type\": \"MultiLabelClassificationModel\", \"name\": \"a\", \"images\": "
         "\"$inputs.image\", \"model_id\": \"x/1\", \"confidence\": \"$inputs.t\"}], "
         "\"outputs\": []}",
         "ReferenceTypeError", "confidence"},
        {"{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowParameter\", \"name\": "
         "\"image\"}], \"steps\": [{\"type\": \"MultiLabelClassificationModel\", \"name\": \"a\", "
         "\"images\": \"$inputs.image\", \"model_id\": \"x/1\"}], \"outputs\": []}",
         "ExecutionGraphStructureError", "batch"},
        /* cycle through crops */
        {"{\"version\": \"1.0\", \"inputs\": [], \"steps\": ["
         "{\"type\": \"RelativeStaticCrop\", \"name\": \"a\", \"images\": \"$steps.b.crops\", "
         "\"x_center\": 0.5, \"y_center\": 0.5, \"width\": 0.5, \"height\": 0.5},"
         "{\"type\": \"RelativeStaticCrop\", \"name\": \"b\", \"images\": \"$steps.a.crops\", "
         "\"x_center\": 0.5, \"y_center\": 0.5, \"width\": 0.5, \"height\": 0.5}], \"outputs\": "
         "[]}",
         "ExecutionGraphStructureError", "cycle"},
        /* unknown block type */
        {"{\"version\": \"1.0\", \"inputs\": [], \"steps\": [{\"type\": "
         "\"roboflow_core/roboflow_object_detection_model@v2\", \"name\": \"od\"}], "
         "\"outputs\": []}",
         "WorkflowSyntaxError", "unknown block type"},
        /* wrong types */
        {"{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", \"name\": \"image\"}], "
         "\"steps\": [{\"type\": \"MultiLabelClassificationModel\", \"name\": 5, \"images\": "
         "\"$inputs.image\", \"model_id\": \"x/1\"}], \"outputs\": []}",
         "WorkflowSyntaxError", "name"},
        {"{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", \"name\": \"image\"}], "
         "\"steps\": [{\"type\": \"MultiLabelClassificationModel\", \"name\": \"a\", \"images\": "
         "\"$inputs.image\", \"model_id\": 3}], \"outputs\": []}",
         "WorkflowSyntaxError", "model_id"},
        {"{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", \"name\": \"image\"}], "
         "\"steps\": [{\"type\": \"AbsoluteStaticCrop\", \"name\": \"a\", \"images\": "
         "\"$inputs.image\", \"x_center\": 0, \"y_center\": 5, \"width\": 5, \"height\": 5}], "
         "\"outputs\": []}",
         "WorkflowSyntaxError", "x_center"},
        {"{\"version\": \"1.0\", \"inputs\": [], \"steps\": [], \"outputs\": [{\"type\": "
         "\"JsonField\", \"name\": \"o\", \"selector\": \"steps.a.b\"}]}",
         "WorkflowSyntaxError", "selector"},
        {"{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", \"name\": \"image\"}], "
         "\"steps\": [{\"type\": \"MultiLabelClassificationModel\", \"name\": \"a\", \"images\": "
         "\"$inputs.image\", \"model_id\": \"x/1\"}, {\"type\": \"MultiLabelClassificationModel\", "
         "\"name\": \"b\", \"images\": \"$inputs.image\", \"model_id\": \"x/1\", \"confidence\": "
         "\"$steps.a.*\"}], \"outputs\": []}",
         "InvalidReferenceTargetError", "wildcard"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mlc_workflow *wf = NULL;
        struct wf_error we;
        mlc_status st = wf_compile(cases[i].def, strlen(cases[i].def), NULL, &wf, &we);
        CHECK_MSG(st != MLC_OK && wf == NULL, "case %zu compiled", i);
        CHECK_MSG(!strcmp(we.error_type, cases[i].type), "case %zu: %s (%s)", i, we.error_type,
                  we.e.message);
        CHECK_MSG(strstr(we.e.message, cases[i].needle) != NULL, "case %zu: '%s' not in: %s", i,
                  cases[i].needle, we.e.message);
        CHECK(we.http_status == 400);
        char *body = wf_error_to_json(&we);
        json_t *b = body ? json_loads(body, 0, NULL) : NULL;
        CHECK_MSG(b && json_is_string(json_object_get(b, "message")) &&
                      json_is_array(json_object_get(b, "blocks_errors")) &&
                      !strcmp(json_string_value(json_object_get(b, "error_type")), cases[i].type),
                  "case %zu body: %s", i, body ? body : "(null)");
        if (b) json_decref(b);
        mlc_free(body);
        /* the public API says the same in one line */
        mlc_error e;
        CHECK(mlc_workflow_compile(cases[i].def, strlen(cases[i].def), NULL, &wf, &e) == st);
        CHECK(!strncmp(e.message, cases[i].type, strlen(cases[i].type)));
    }
}

static void test_selector_pattern(void)
{
    CHECK(wf_is_selector("$inputs.image"));
    CHECK(wf_is_selector("$inputsXimage")); /* the unescaped '.' of Roboflow's regex */
    CHECK(wf_is_selector("$steps.a-b_1.predictions"));
    CHECK(wf_is_selector("$steps.a.*"));
    CHECK(!wf_is_selector("$steps.a"));
    CHECK(!wf_is_selector("$steps.a.b.c"));
    CHECK(!wf_is_selector("$inputs."));
    CHECK(!wf_is_selector("$inputs.a b"));
    CHECK(!wf_is_selector("some"));
    CHECK(!wf_is_selector("$inputs.image\n"));
}

static void test_numbers(void)
{
    char b[32];
    core_format_double(0.4693581163883209, b);
    CHECK(!strcmp(b, "0.4693581163883209"));
    core_format_double(1.0, b);
    CHECK(!strcmp(b, "1.0"));
    core_format_double(0.1, b);
    CHECK(!strcmp(b, "0.1"));
    core_format_double(1e-05, b);
    CHECK(!strcmp(b, "1e-05"));
    core_format_double(0.0001, b);
    CHECK(!strcmp(b, "0.0001"));
    core_format_double(123456.0, b);
    CHECK(!strcmp(b, "123456.0"));
}

/* Huge definitions: nesting past jansson's depth limit is a JSON error (not
 * a stack overflow), more than 4096 steps is LIMIT, and a 4096-step chain
 * listed consumers-first (the worst order for the topological sort)
 * compiles. */
static void test_huge_definitions(void)
{
    struct wf_error we;
    mlc_workflow *wf = NULL;
    size_t depth = 100000;
    char *deep = mlc_alloc(2 * depth + 1);
    CHECK(deep != NULL);
    if (deep) {
        memset(deep, '[', depth);
        memset(deep + depth, ']', depth);
        deep[2 * depth] = '\0';
        CHECK(wf_compile(deep, 2 * depth, NULL, &wf, &we) == MLC_STATUS_BAD_JSON);
        CHECK(!strcmp(we.error_type, "WorkflowSyntaxError") && strstr(we.e.message, "depth"));
        mlc_free(deep);
    }
    for (int n = 4096; n <= 4097; n++) {
        struct core_buf b;
        core_buf_init(&b, 0);
        core_buf_printf(&b, "{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", "
                            "\"name\": \"image\"}], \"steps\": [");
        for (int i = 0; i < n; i++) {
            char src[64];
            if (i + 1 < n)
                snprintf(src, sizeof src, "$steps.c%d.crops", i + 1);
            else
                snprintf(src, sizeof src, "$inputs.image");
            core_buf_printf(&b,
                            "%s{\"type\": \"RelativeStaticCrop\", \"name\": \"c%d\", \"images\": "
                            "\"%s\", \"x_center\": 0.5, \"y_center\": 0.5, \"width\": 0.9, "
                            "\"height\": 0.9}",
                            i ? "," : "", i, src);
        }
        core_buf_printf(&b, "], \"outputs\": [{\"type\": \"JsonField\", \"name\": \"o\", "
                            "\"selector\": \"$steps.c0.crops\"}]}");
        CHECK(b.data != NULL);
        mlc_status st = b.data ? wf_compile(b.data, b.len, NULL, &wf, &we) : MLC_STATUS_NO_MEMORY;
        if (n == 4096) {
            CHECK_OK(st, &we.e);
            if (!st) {
                CHECK(wf->n_steps == 4096 && wf->order[0] == 4095 && wf->order[4095] == 0);
                mlc_workflow_free(wf);
            }
        } else {
            CHECK(st == MLC_STATUS_LIMIT && strstr(we.e.message, "4096"));
        }
        core_buf_free(&b);
    }
}

/* Every allocation failing in turn: a clean error, never a crash or leak. */
static void test_alloc_failures(void)
{
    const char *def =
        "{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", \"name\": \"image\"},"
        "{\"type\": \"WorkflowParameter\", \"name\": \"c\", \"default_value\": 0.3}], \"steps\": "
        "[{\"type\": \"RelativeStaticCrop\", \"name\": \"crop\", \"images\": \"$inputs.image\", "
        "\"x_center\": 0.5, \"y_center\": 0.5, \"width\": 0.5, \"height\": 0.5},"
        "{\"type\": \"roboflow_core/roboflow_multi_label_classification_model@v3\", \"name\": "
        "\"m\", \"images\": \"$steps.crop.crops\", \"model_id\": \"x/1\", \"confidence_mode\": "
        "\"custom\", \"custom_confidence\": \"$inputs.c\"}], \"outputs\": [{\"type\": "
        "\"JsonField\", \"name\": \"o\", \"selector\": \"$steps.m.*\"}]}";
    size_t live = core_alloc_live_bytes();
    long n;
    for (n = 1; n < 2000; n++) {
        core_alloc_fail_after(n);
        mlc_workflow *wf = NULL;
        struct wf_error we;
        mlc_status st = wf_compile(def, strlen(def), NULL, &wf, &we);
        core_alloc_fail_after(0);
        if (st == MLC_OK) {
            mlc_workflow_free(wf);
            break;
        }
        CHECK(st == MLC_STATUS_NO_MEMORY && wf == NULL);
        CHECK(we.http_status == 500 && !strcmp(we.error_type, "MemoryError"));
        CHECK_MSG(core_alloc_live_bytes() == live, "allocation %ld leaked", n);
    }
    CHECK_MSG(n > 10 && n < 2000, "walk ended at %ld", n); /* every allocation was failed once */
}

int main(void)
{
    TEST_RUN(test_minimalistic);
    TEST_RUN(test_required_fields);
    TEST_RUN(test_invalid_values);
    TEST_RUN(test_valid_values);
    TEST_RUN(test_dependent_resources);
    TEST_RUN(test_describe);
    TEST_RUN(test_malformed);
    TEST_RUN(test_selector_pattern);
    TEST_RUN(test_numbers);
    TEST_RUN(test_alloc_failures);
    TEST_RUN(test_huge_definitions);
    TEST_DONE();
}
