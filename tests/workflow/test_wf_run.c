/*
 * End-to-end workflow runs on the bundled demo package (models/demo) and
 * sample images (samples/): the example definitions for v1, v2, v3 give the
 * documented output shape (block-semantics.md 5.2) with the same scores and
 * predicted classes as calling mlc_classify directly; parameter-bound
 * thresholds and model ids, wildcard outputs, batches, crops feeding the
 * classifier, model_id from another step, the active-learning hook, run-time
 * errors (Roboflow error types and HTTP codes) and concurrent runs.
 * Skips (and says so) while models/demo is not in the tree.
 */
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "workflow/workflow.h"

static char samples[8][512];
static int n_samples;

static int al_calls;
static size_t al_images;
static char al_target[64];

/* Overrides the workflow layer's weak no-op. */
void wf_al_register(const struct wf_al_event *ev)
{
    al_calls++;
    al_images += ev->n;
    snprintf(al_target, sizeof al_target, "%s", ev->target_dataset ? ev->target_dataset : "");
    for (size_t i = 0; i < ev->n; i++) CHECK(strstr(ev->predictions_json[i], "predicted_classes"));
}

static void find_samples(void)
{
    DIR *d = opendir(test_path("samples"));
    if (!d) return;
    struct dirent *e;
    char names[64][256];
    int n = 0;
    while ((e = readdir(d)) && n < 64) {
        const char *dot = strrchr(e->d_name, '.');
        if (dot && (!strcmp(dot, ".jpg") || !strcmp(dot, ".png")))
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    }
    closedir(d);
    /* sorted, so the test is deterministic */
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) {
                char t[256];
                memcpy(t, names[i], 256);
                memcpy(names[i], names[j], 256);
                memcpy(names[j], t, 256);
            }
    for (int i = 0; i < n && n_samples < 8; i++)
        snprintf(samples[n_samples++], sizeof samples[0], "%.240s/samples/%.240s",
                 getenv("MLC_ROOT") ? getenv("MLC_ROOT") : ".", names[i]);
}

static char *read_example(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%.240s/examples/workflows/%.200s",
             getenv("MLC_ROOT") ? getenv("MLC_ROOT") : ".", name);
    char *text = NULL;
    size_t n = 0;
    mlc_error e;
    if (core_read_file(path, 0, &text, &n, &e)) fprintf(stderr, "%s\n", e.message);
    return text;
}

/* Compiles an example and runs it on `inputs`; returns the parsed outputs. */
static json_t *run_text(const char *def, const char *inputs, struct wf_error *we,
                        mlc_workflow **keep)
{
    mlc_workflow *wf = NULL;
    char *out = NULL;
    json_t *res = NULL;
    if (wf_compile(def, strlen(def), NULL, &wf, we)) return NULL;
    if (wf_run(wf, NULL, inputs, strlen(inputs), &out, we) == MLC_OK) {
        res = json_loads(out, 0, NULL);
        CHECK(res && json_is_array(json_object_get(res, "outputs")));
    }
    mlc_free(out);
    if (keep)
        *keep = wf;
    else
        mlc_workflow_free(wf);
    return res;
}

static json_t *run_example(const char *name, const char *inputs, struct wf_error *we)
{
    char *def = read_example(name);
    if (!def) return NULL;
    json_t *r = run_text(def, inputs, we, NULL);
    mlc_free(def);
    return r;
}

static char *image_inputs(const char *name, int n)
{
    struct core_buf b;
    core_buf_init(&b, 0);
    core_buf_printf(&b, "{\"%s\": %s", name, n > 1 ? "[" : "");
    for (int i = 0; i < n; i++)
        core_buf_printf(&b, "%s{\"type\": \"file\", \"value\": \"%s\"}", i ? ", " : "",
                        samples[i % n_samples]);
    core_buf_printf(&b, "%s}", n > 1 ? "]" : "");
    return core_buf_take(&b);
}

/* Inputs object text with one more member: with_param("{...}", "\"c\": 1"). */
static char *with_param(const char *obj, const char *member)
{
    size_t n = strlen(obj);
    return core_sprintf("%.*s, %s}", (int)(n - 1), obj, member);
}

static int streq(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

/* Direct classification of sample i, for comparison. */
static mlc_result *classify_direct(int i, mlc_confidence conf, mlc_model **m_out)
{
    mlc_error e;
    mlc_model *m = NULL;
    mlc_session *s = NULL;
    mlc_image *im = NULL;
    mlc_result *r = NULL;
    if (mlc_model_load(test_path("models/demo"), NULL, &m, &e) || mlc_session_create(m, &s, &e) ||
        mlc_image_load(MLC_INPUT_PATH, samples[i], 0, NULL, &im, &e) ||
        mlc_classify(s, (const mlc_image *const *)&im, 1, conf, &r, &e))
        fprintf(stderr, "direct classify: %s\n", e.message);
    mlc_image_free(im);
    mlc_session_free(s);
    *m_out = m;
    return r;
}

/* Checks one block "predictions" element against a direct result. */
static void check_prediction(json_t *p, const mlc_result *r, const mlc_model *m,
                             const char *parent_id, int none_predicted)
{
    CHECK(json_is_object(p));
    CHECK(streq(json_string_value(json_object_get(p, "prediction_type")), "classification"));
    if (parent_id) {
        CHECK_MSG(streq(json_string_value(json_object_get(p, "parent_id")), parent_id), "%s",
                  json_string_value(json_object_get(p, "parent_id")));
    }
    CHECK(json_is_string(json_object_get(p, "root_parent_id")));
    CHECK(json_is_string(json_object_get(p, "inference_id")));
    CHECK(json_is_object(json_object_get(p, "image")));
    json_t *preds = json_object_get(p, "predictions");
    CHECK((int)json_object_size(preds) == mlc_model_n_classes(m));
    if (!r) return;
    json_t *pc = json_object_get(p, "predicted_classes");
    size_t k = 0;
    for (int c = 0; c < mlc_model_n_classes(m); c++) {
        json_t *e = json_object_get(preds, mlc_model_class_name(m, c));
        CHECK(e && json_integer_value(json_object_get(e, "class_id")) == c);
        CHECK_NEAR(json_number_value(json_object_get(e, "confidence")), mlc_result_score(r, c),
                   1e-6);
        if (!none_predicted && mlc_result_is_predicted(r, c)) {
            CHECK(k < json_array_size(pc) &&
                  streq(json_string_value(json_array_get(pc, k)), mlc_model_class_name(m, c)));
            k++;
        }
    }
    CHECK(k == json_array_size(pc));
}

static void test_v1_example(void)
{
    char *in = image_inputs("image", 1);
    struct wf_error we;
    json_t *res = run_example("multi_label_v1.json", in, &we);
    CHECK_MSG(res != NULL, "%s", we.e.message);
    json_t *outs = json_object_get(res, "outputs");
    CHECK(json_array_size(outs) == 1);
    json_t *o = json_array_get(outs, 0);
    CHECK(json_object_size(o) == 2);
    mlc_model *m = NULL;
    mlc_result *r = classify_direct(0, mlc_confidence_value(0.4), &m);
    json_t *p = json_object_get(o, "predictions");
    check_prediction(p, mlc_result_at(r, 0), m, "image", 0);
    CHECK(json_equal(json_object_get(o, "inference_id"), json_object_get(p, "inference_id")));
    mlc_result_free(r);
    mlc_model_free(m);
    if (res) json_decref(res);
    mlc_free(in);
}

static void test_v2_param_bound(void)
{
    struct {
        const char *conf;
        double thr;
        int none;
    } cases[] = {{"0.0", 0.0, 0}, {"1", 1.0, 0}, {"0.55", 0.55, 0}};
    for (int c = 0; c < 3; c++) {
        char *img = image_inputs("image", 1);
        char mem[64];
        snprintf(mem, sizeof mem, "\"confidence\": %s", cases[c].conf);
        char *in = with_param(img, mem);
        mlc_free(img);
        struct wf_error we;
        json_t *res = run_example("multi_label_v2.json", in, &we);
        CHECK_MSG(res != NULL, "%s", we.e.message);
        json_t *o = json_array_get(json_object_get(res, "outputs"), 0);
        CHECK(streq(json_string_value(json_object_get(o, "model_id")), "models/demo"));
        mlc_model *m = NULL;
        mlc_result *r = classify_direct(0, mlc_confidence_value(cases[c].thr), &m);
        check_prediction(json_object_get(o, "predictions"), mlc_result_at(r, 0), m, "image", 0);
        mlc_result_free(r);
        mlc_model_free(m);
        if (res) json_decref(res);
        mlc_free(in);
    }
    /* a kinded parameter out of range is a runtime input error (400) */
    char *img = image_inputs("image", 1);
    char *in = with_param(img, "\"confidence\": 1.5");
    struct wf_error we;
    json_t *res = run_example("multi_label_v2.json", in, &we);
    CHECK(res == NULL && !strcmp(we.error_type, "RuntimeInputError") && we.http_status == 400);
    mlc_free(in);
    mlc_free(img);
}

static void test_v3_modes_and_wildcard(void)
{
    const char *modes[] = {"best", "default", "custom"};
    mlc_confidence confs[] = {mlc_confidence_best(), mlc_confidence_default(),
                              mlc_confidence_value(0.3)};
    for (int k = 0; k < 3; k++) {
        char *img = image_inputs("image", 1);
        char mem[64];
        snprintf(mem, sizeof mem, "\"confidence_mode\": \"%s\"", modes[k]);
        char *in = with_param(img, mem);
        mlc_free(img);
        struct wf_error we;
        json_t *res = run_example("multi_label_v3.json", in, &we);
        CHECK_MSG(res != NULL, "%s", we.e.message);
        json_t *o = json_array_get(json_object_get(res, "outputs"), 0);
        json_t *mp = json_object_get(o, "model_predictions");
        CHECK(json_object_size(mp) == 3); /* predictions, inference_id, model_id */
        mlc_model *m = NULL;
        mlc_result *r = classify_direct(0, confs[k], &m);
        check_prediction(json_object_get(mp, "predictions"), mlc_result_at(r, 0), m, "image", 0);
        CHECK(streq(json_string_value(json_object_get(mp, "model_id")), "models/demo"));
        mlc_result_free(r);
        mlc_model_free(m);
        if (res) json_decref(res);
        mlc_free(in);
    }
    /* a mode string Roboflow's request rejects: step error, 500 */
    char *img = image_inputs("image", 1);
    char *in = with_param(img, "\"confidence_mode\": \"foo\"");
    struct wf_error we;
    CHECK(run_example("multi_label_v3.json", in, &we) == NULL);
    CHECK(we.http_status == 500 && strstr(we.e.message, "$steps.multi_label"));
    CHECK(!strcmp(we.block_id, "multi_label"));
    mlc_free(in);
    mlc_free(img);
}

static void test_batch(void)
{
    int n = n_samples < 3 ? n_samples : 3;
    char *in = image_inputs("image", n);
    struct wf_error we;
    json_t *res = run_example("multi_label_v1.json", in, &we);
    CHECK_MSG(res != NULL, "%s", we.e.message);
    json_t *outs = json_object_get(res, "outputs");
    CHECK((int)json_array_size(outs) == n);
    for (int i = 0; i < n && i < (int)json_array_size(outs); i++) {
        char pid[32];
        snprintf(pid, sizeof pid, "image.[%d]", i);
        mlc_model *m = NULL;
        mlc_result *r = classify_direct(i, mlc_confidence_value(0.4), &m);
        check_prediction(json_object_get(json_array_get(outs, i), "predictions"),
                         mlc_result_at(r, 0), m, pid, 0);
        mlc_result_free(r);
        mlc_model_free(m);
    }
    if (res) json_decref(res);
    mlc_free(in);
}

static void test_crops(void)
{
    char *in = image_inputs("image", 2);
    struct wf_error we;
    json_t *res = run_example("crop_then_classify.json", in, &we);
    CHECK_MSG(res != NULL, "%s", we.e.message);
    json_t *outs = json_object_get(res, "outputs");
    CHECK(json_array_size(outs) == 2);
    for (size_t i = 0; i < json_array_size(outs); i++) {
        json_t *o = json_array_get(outs, i);
        json_t *crop = json_object_get(o, "crop");
        CHECK(streq(json_string_value(json_object_get(crop, "type")), "base64"));
        CHECK(json_string_length(json_object_get(crop, "value")) > 100);
        CHECK(json_is_object(json_object_get(crop, "video_metadata")));
        const char *cid = json_string_value(json_object_get(crop, "parent_id"));
        CHECK(cid && !strncmp(cid, "relative_static_crop.", 21));
        char root[32];
        snprintf(root, sizeof root, "image.[%zu]", i);
        CHECK(streq(json_string_value(json_object_get(crop, "root_parent_id")), root));
        json_t *po = json_object_get(crop, "parent_origin");
        CHECK(json_integer_value(json_object_get(po, "offset_x")) > 0);
        json_t *p = json_object_get(o, "predictions");
        CHECK(cid && streq(json_string_value(json_object_get(p, "parent_id")), cid));
        CHECK(streq(json_string_value(json_object_get(p, "root_parent_id")), root));
        /* the prediction is for the crop's size: 80% of the image */
        mlc_error e;
        mlc_image *im = NULL;
        CHECK_OK(mlc_image_load(MLC_INPUT_PATH, samples[i], 0, NULL, &im, &e), &e);
        json_t *dim = json_object_get(p, "image");
        long w = (long)json_integer_value(json_object_get(dim, "width"));
        long h = (long)json_integer_value(json_object_get(dim, "height"));
        if (im) {
            CHECK(labs(w - lrint(0.8 * mlc_image_width(im))) <= 1 ||
                  labs(h - lrint(0.8 * mlc_image_width(im))) <= 1);
            CHECK(w < mlc_image_width(im) || h < mlc_image_width(im));
        }
        mlc_image_free(im);
    }
    if (res) json_decref(res);
    mlc_free(in);
}

/* model_id taken from another step's model_id output; AL hook; target dataset */
static void test_chained_model_id_and_al(void)
{
    const char *def =
        "{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", \"name\": \"image\"}],"
        "\"steps\": [{\"type\": \"roboflow_core/roboflow_multi_label_classification_model@v2\","
        "\"name\": \"a\", \"images\": \"$inputs.image\", \"model_id\": \"models/demo\"},"
        "{\"type\": \"roboflow_core/roboflow_multi_label_classification_model@v3\", \"name\": "
        "\"b\", \"images\": \"$inputs.image\", \"model_id\": \"$steps.a.model_id\", "
        "\"disable_active_learning\": false, \"active_learning_target_dataset\": \"my_ds\"}],"
        "\"outputs\": [{\"type\": \"JsonField\", \"name\": \"b\", \"selector\": \"$steps.b.*\"}]}";
    char *in = image_inputs("image", 2);
    struct wf_error we;
    mlc_workflow *wf = NULL;
    al_calls = 0;
    al_images = 0;
    json_t *res = run_text(def, in, &we, &wf);
    CHECK_MSG(res != NULL, "%s", we.e.message);
    json_t *o = json_array_get(json_object_get(res, "outputs"), 1);
    CHECK(streq(json_string_value(json_object_get(json_object_get(o, "b"), "model_id")),
                "models/demo"));
    CHECK(al_calls == 1 && al_images == 2 && !strcmp(al_target, "my_ds"));
    CHECK(wf && wf->n_models == 1); /* loaded once for both steps */
    mlc_workflow_free(wf);
    if (res) json_decref(res);
    mlc_free(in);
}

static void test_runtime_errors(void)
{
    struct wf_error we;
    /* missing image */
    CHECK(run_example("multi_label_v1.json", "{}", &we) == NULL);
    CHECK(!strcmp(we.error_type, "RuntimeInputError") && we.http_status == 400);
    CHECK(strstr(we.e.message, "`image`"));
    /* undecodable image */
    CHECK(run_example("multi_label_v1.json",
                      "{\"image\": {\"type\": \"base64\", \"value\": \"aGVsbG8=\"}}", &we) == NULL);
    CHECK(we.http_status == 400 && strstr(we.e.message, "Could not load input image"));
    /* malformed model id */
    char *img = image_inputs("image", 1);
    char *in = with_param(img, "\"model_id\": \"a/b/c\"");
    CHECK(run_example("multi_label_v2.json", in, &we) == NULL);
    CHECK(!strcmp(we.error_type, "InvalidModelIDError") && we.http_status == 400);
    mlc_free(in);
    /* confidence that the request would reject (unkinded parameter) */
    const char *def =
        "{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", \"name\": \"image\"},"
        "{\"type\": \"WorkflowParameter\", \"name\": \"c\"}], \"steps\": [{\"type\": "
        "\"MultiLabelClassificationModel\", \"name\": \"m\", \"images\": \"$inputs.image\", "
        "\"model_id\": \"models/demo\", \"confidence\": \"$inputs.c\"}], \"outputs\": "
        "[{\"type\": \"JsonField\", \"name\": \"p\", \"selector\": \"$steps.m.predictions\"}]}";
    in = with_param(img, "\"c\": null");
    CHECK(run_text(def, in, &we, NULL) == NULL);
    CHECK(we.http_status == 500 && !strcmp(we.block_id, "m"));
    mlc_free(in);
    /* v1 confidence "best" via a parameter is accepted (spec 2.6); 1.5 predicts nothing */
    in = with_param(img, "\"c\": \"best\"");
    json_t *res = run_text(def, in, &we, NULL);
    CHECK_MSG(res != NULL, "%s", we.e.message);
    if (res) json_decref(res);
    mlc_free(in);
    in = with_param(img, "\"c\": 1.5");
    res = run_text(def, in, &we, NULL);
    CHECK_MSG(res != NULL, "%s", we.e.message);
    json_t *p = json_object_get(json_array_get(json_object_get(res, "outputs"), 0), "p");
    CHECK(json_array_size(json_object_get(p, "predicted_classes")) == 0);
    if (res) json_decref(res);
    mlc_free(in);
    mlc_free(img);
    /* non-JSON inputs */
    CHECK(run_example("multi_label_v1.json", "{oops", &we) == NULL);
    CHECK(we.e.status == MLC_STATUS_BAD_JSON);
}

struct thr_arg {
    mlc_workflow *wf;
    const char *in;
    int ok;
};

static void *run_thread(void *p)
{
    struct thr_arg *a = p;
    char *out = NULL;
    struct wf_error we;
    a->ok = wf_run(a->wf, NULL, a->in, strlen(a->in), &out, &we) == MLC_OK;
    mlc_free(out);
    return NULL;
}

/* j without its "inference_id" and "time" members, at any depth. */
static void drop_volatile(json_t *j)
{
    if (json_is_object(j)) {
        json_object_del(j, "inference_id");
        json_object_del(j, "time");
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) drop_volatile(v);
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) drop_volatile(json_array_get(j, i));
    }
}

/* x and y equal, numbers within 1e-5: a reused session may run a batch's
 * images side by side, whose scores round otherwise than the whole batch's. */
static int json_near(const json_t *x, const json_t *y)
{
    if (json_is_number(x) && json_is_number(y))
        return fabs(json_number_value(x) - json_number_value(y)) <= 1e-5;
    if (json_is_object(x) && json_is_object(y)) {
        if (json_object_size(x) != json_object_size(y)) return 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)x, k, v) if (!json_near(v, json_object_get(y, k))) return 0;
        return 1;
    }
    if (json_is_array(x) && json_is_array(y)) {
        if (json_array_size(x) != json_array_size(y)) return 0;
        for (size_t i = 0; i < json_array_size(x); i++)
            if (!json_near(json_array_get(x, i), json_array_get(y, i))) return 0;
        return 1;
    }
    return json_equal(x, y);
}

/* Two workflow outputs equal but for ids and times (and float rounding). */
static int same_results(const char *a, const char *b)
{
    json_t *x = a ? json_loads(a, 0, NULL) : NULL, *y = b ? json_loads(b, 0, NULL) : NULL;
    drop_volatile(x), drop_volatile(y);
    int same = x && y && json_near(x, y);
    if (x) json_decref(x);
    if (y) json_decref(y);
    return same;
}

static void test_concurrent_runs(void)
{
    char *def = read_example("multi_label_v1.json");
    char *in = image_inputs("image", 2);
    mlc_workflow *wf = NULL;
    struct wf_error we;
    CHECK_OK(wf_compile(def, strlen(def), NULL, &wf, &we), &we.e);
    struct thr_arg a[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        a[i].wf = wf;
        a[i].in = in;
        a[i].ok = 0;
        pthread_create(&t[i], NULL, run_thread, &a[i]);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        CHECK(a[i].ok);
    }
    CHECK(wf && wf->n_models == 1);
    /* Each run's block call took a session and gave it back: at most one
     * per thread was made, all are idle now, and later runs reuse them
     * (their plans bound already) with the same results. */
    int made = wf && wf->n_models == 1 ? wf->models[0].n_made : -1;
    CHECK_MSG(made >= 1 && made <= 3, "%d sessions made", made);
    CHECK(wf && wf->n_models == 1 && wf->models[0].n_idle == made);
    struct wf_run_options rq;
    wf_run_options_default(&rq);
    mlc_workflow *fresh = NULL;
    char *want = NULL;
    CHECK_OK(wf_compile(def, strlen(def), NULL, &fresh, &we), &we.e);
    if (fresh) CHECK_OK(wf_run(fresh, &rq, in, strlen(in), &want, &we), &we.e);
    for (int i = 0; wf && want && i < 3; i++) {
        char *got = NULL;
        CHECK_OK(wf_run(wf, &rq, in, strlen(in), &got, &we), &we.e);
        CHECK_MSG(same_results(got, want), "run %d on reused sessions differs", i);
        mlc_free(got);
    }
    mlc_free(want);
    mlc_workflow_free(fresh);
    CHECK(wf && wf->n_models == 1 && wf->models[0].n_made == made && wf->models[0].n_idle == made);
    /* excluded fields */
    struct wf_run_options ro;
    wf_run_options_default(&ro);
    const char *ex[] = {"inference_id", NULL};
    ro.excluded_fields = ex;
    char *out = NULL;
    CHECK_OK(wf_run(wf, &ro, in, strlen(in), &out, &we), &we.e);
    CHECK(out != NULL);
    json_t *r = out ? json_loads(out, 0, NULL) : NULL;
    CHECK(json_object_size(json_array_get(json_object_get(r, "outputs"), 0)) == 1);
    /* file inputs can be switched off for the server */
    ro.allow_file_images = 0;
    mlc_free(out);
    out = NULL;
    CHECK(wf_run(wf, &ro, in, strlen(in), &out, &we) == MLC_STATUS_BAD_WORKFLOW);
    if (r) json_decref(r);
    mlc_workflow_free(wf);
    mlc_free(def);
    mlc_free(in);
}

/* Runs `def_fmt` (one %s: the model_id) on one base64 image with the given
 * run options; returns the status and leaves the error in *we. */
static mlc_status run_with_inputs(const char *model_id, const char *inputs,
                                  const mlc_model_options *mo, const struct wf_run_options *ro,
                                  struct wf_error *we)
{
    char *def = core_sprintf(
        "{\"version\": \"1.0\", \"inputs\": [{\"type\": \"WorkflowImage\", \"name\": "
        "\"image\"}], \"steps\": [{\"type\": "
        "\"roboflow_core/roboflow_multi_label_classification_model@v1\", \"name\": \"m\", "
        "\"images\": \"$inputs.image\", \"model_id\": \"%s\"}], \"outputs\": [{\"type\": "
        "\"JsonField\", \"name\": \"p\", \"selector\": \"$steps.m.predictions\"}]}",
        model_id);
    uint8_t px[16 * 12 * 3];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 31);
    mlc_image *im = NULL;
    void *jpg = NULL;
    size_t nj = 0;
    mlc_error e;
    char *b64 = NULL, *in = NULL, *out = NULL;
    mlc_workflow *wf = NULL;
    mlc_workflow_options wo = {mo, NULL};
    mlc_status st = MLC_STATUS_NO_MEMORY;
    if (!def || mlc_image_from_bgr(px, 16, 12, 0, &im, &e) ||
        mlc_image_encode_jpeg(im, 90, &jpg, &nj, &e) || !(b64 = core_base64_encode(jpg, nj)) ||
        !(in = core_sprintf("{\"image\": {\"type\": \"base64\", \"value\": \"%s\"}}", b64)))
        goto done;
    if ((st = wf_compile(def, strlen(def), &wo, &wf, we))) goto done;
    if (inputs) {
        mlc_free(in);
        in = core_strdup(inputs);
    }
    st = in ? wf_run(wf, ro, in, strlen(in), &out, we) : MLC_STATUS_NO_MEMORY;
done:
    mlc_free(out);
    mlc_workflow_free(wf);
    mlc_free(in);
    mlc_free(b64);
    mlc_free(jpg);
    mlc_image_free(im);
    mlc_free(def);
    return st;
}

static mlc_status run_with_model(const char *model_id, const mlc_model_options *mo,
                                 const struct wf_run_options *ro, struct wf_error *we)
{
    return run_with_inputs(model_id, NULL, mo, ro, we);
}

/* An image input given as a bare string (not {"type", "value"}) used to go
 * to mlc_image_load's auto-detection, which reads existing files and
 * fetches URLs: around the run's switches, so a server client could read
 * server files or reach any URL. Now the switches hold for bare strings. */
static void test_bare_string_images_obey_switches(void)
{
    char tiny[PATH_MAX], png[PATH_MAX];
    if (!realpath(test_path("tests/data/model/tiny"), tiny) ||
        !realpath(test_path("tests/data/model/preproc/src.png"), png)) {
        CHECK(0);
        return;
    }
    struct wf_run_options local, client;
    wf_run_options_default(&local);
    wf_run_options_default(&client);
    client.allow_file_images = 0;
    client.allow_url_images = 0;
    struct wf_error we;
    char *path_in = core_sprintf("{\"image\": \"%s\"}", png);
    CHECK_OK(run_with_inputs(tiny, path_in, NULL, &local, &we), &we.e);
    CHECK_MSG(run_with_inputs(tiny, path_in, NULL, &client, &we) == MLC_STATUS_BAD_IMAGE, "%s",
              we.e.message);
    CHECK(we.http_status == 400 && strstr(we.e.message, "base64"));
    const char *url_in = "{\"image\": \"http://127.0.0.1:1/x.png\"}";
    CHECK_MSG(run_with_inputs(tiny, url_in, NULL, &client, &we) == MLC_STATUS_BAD_WORKFLOW, "%s",
              we.e.message);
    CHECK(!strcmp(we.error_type, "InvalidInputTypeError") && strstr(we.e.message, "URLs"));
    mlc_free(path_in);
}

/* A model_id naming a package directory is an mlc extension for local use
 * (mlc run); a server client (run options without file access) gets ids
 * only, so it can neither load nor probe directories of the server. */
static void test_model_dirs_need_file_access(void)
{
    char tiny[PATH_MAX], cwd[PATH_MAX], tmpl[] = "/tmp/mlc-wfdir-XXXXXX";
    if (!realpath(test_path("tests/data/model/tiny"), tiny) || !getcwd(cwd, sizeof cwd) ||
        !mkdtemp(tmpl)) {
        CHECK(0);
        return;
    }
    mlc_model_options mo;
    mlc_model_options_default(&mo);
    mo.offline = 1;
    char *cache = core_sprintf("%s/cache", tmpl), *proj = core_sprintf("%s/proj", tmpl),
         *link = core_sprintf("%s/proj/1", tmpl);
    CHECK(cache && proj && link && !mkdir(cache, 0700) && !mkdir(proj, 0700) &&
          !symlink(tiny, link));
    mo.cache_dir = cache;
    struct wf_run_options local, client;
    wf_run_options_default(&local);
    wf_run_options_default(&client);
    client.allow_file_images = 0;
    struct wf_error we;

    /* absolute directory: loads locally, refused for a client */
    CHECK_OK(run_with_model(tiny, &mo, &local, &we), &we.e);
    CHECK(run_with_model(tiny, &mo, &client, &we) == MLC_STATUS_INVALID_ARGUMENT);
    CHECK_MSG(we.http_status >= 400 && !strstr(we.e.message, "inference_config"), "%s",
              we.e.message);
    /* "proj/1" is both a directory under the working directory and a valid
     * id: a client gets the id (not in the empty cache, offline) */
    if (chdir(tmpl) == 0) {
        CHECK_OK(run_with_model("proj/1", &mo, &local, &we), &we.e);
        CHECK_MSG(run_with_model("proj/1", &mo, &client, &we) == MLC_STATUS_NOT_FOUND, "%s",
                  we.e.message);
        CHECK(!strcmp(we.error_type, "ModelNotFoundError"));
        CHECK(chdir(cwd) == 0);
    } else {
        CHECK(0);
    }
    remove(link);
    rmdir(proj);
    rmdir(cache);
    rmdir(tmpl);
    mlc_free(cache);
    mlc_free(proj);
    mlc_free(link);
}

int main(void)
{
    TEST_RUN(test_model_dirs_need_file_access);
    TEST_RUN(test_bare_string_images_obey_switches);
    if (!core_dir_exists(test_path("models/demo"))) {
        printf("SKIP: models/demo is not in the tree yet\n");
        TEST_DONE();
    }
    find_samples();
    if (n_samples == 0) {
        printf("SKIP: no samples/*.jpg|png\n");
        TEST_DONE();
    }
    TEST_RUN(test_v1_example);
    TEST_RUN(test_v2_param_bound);
    TEST_RUN(test_v3_modes_and_wildcard);
    TEST_RUN(test_batch);
    TEST_RUN(test_crops);
    TEST_RUN(test_chained_model_id_and_al);
    TEST_RUN(test_runtime_errors);
    TEST_RUN(test_concurrent_runs);
    TEST_DONE();
}
