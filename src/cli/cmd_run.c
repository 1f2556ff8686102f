/*
 * cmd_run.c - `mlc run WORKFLOW.json [--input NAME=VALUE ...] [--api-key K]`:
 * compiles a Roboflow workflow definition, builds the /workflows/run
 * "inputs" object from the command line and prints {"outputs": [...]}.
 *
 * For an image input (WorkflowImage/InferenceImage in the definition) VALUE
 * is a URL ({"type": "url"}), an existing file ({"type": "file"}) or, failing
 * both, base64 text; repeating --input NAME=... makes a batch. For any other
 * input VALUE is parsed as JSON when it is a number, boolean, null, list or
 * object, else taken as a string. Uses only include/mlc.h (and jansson to
 * read the definition's input list and write the inputs object).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mlc run WORKFLOW.json [--input NAME=VALUE ...] [--api-key KEY]\n"
               "               [--precision f32|bf16|int8]\n\n"
               "Runs a Roboflow workflow definition and prints {\"outputs\": [...]}.\n"
               "  --input NAME=VALUE  an image input takes a file path or http(s) URL (repeat the\n"
               "                      same NAME for a batch); a parameter takes a JSON number,\n"
               "                      boolean, null, list or object, or else a string\n"
               "  --api-key KEY       Roboflow API key for models given by id (default:\n"
               "                      $ROBOFLOW_API_KEY)\n"
               "  --precision P       the models' compute precision (docs/ENGINE.md)\n"
               "A step's model_id may be a Roboflow id (\"project/3\", from the cache or\n"
               "downloaded) or a model package directory (\"models/demo\").\n");
}

/* 1 if `name` is declared as an image input in the definition. */
static int is_image_input(json_t *def, const char *name)
{
    json_t *ins = json_object_get(def, "inputs");
    for (size_t i = 0; i < json_array_size(ins); i++) {
        json_t *in = json_array_get(ins, i);
        const char *t = json_string_value(json_object_get(in, "type"));
        const char *n = json_string_value(json_object_get(in, "name"));
        if (t && n && !strcmp(n, name) &&
            (!strcmp(t, "WorkflowImage") || !strcmp(t, "InferenceImage")))
            return 1;
    }
    return 0;
}

static int is_batch_input(json_t *def, const char *name)
{
    json_t *ins = json_object_get(def, "inputs");
    for (size_t i = 0; i < json_array_size(ins); i++) {
        json_t *in = json_array_get(ins, i);
        const char *t = json_string_value(json_object_get(in, "type"));
        const char *n = json_string_value(json_object_get(in, "name"));
        if (t && n && !strcmp(n, name) && !strcmp(t, "WorkflowBatchInput")) return 1;
    }
    return 0;
}

static json_t *image_value(const char *v)
{
    struct stat sb;
    const char *type = "base64";
    if (!strncmp(v, "http://", 7) || !strncmp(v, "https://", 8))
        type = "url";
    else if (stat(v, &sb) == 0)
        type = "file";
    else if (strlen(v) < 256 && strncmp(v, "data:", 5) != 0)
        return NULL; /* a short string that is no file: a typo, not base64 */
    return json_pack("{s:s, s:s}", "type", type, "value", v);
}

static json_t *param_value(const char *v)
{
    json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
    if (j && !json_is_string(j)) return j;
    if (j) json_decref(j);
    return json_string(v);
}

/* Adds value under name; a second value for the same name makes a list. */
static void add_value(json_t *inputs, const char *name, json_t *v, int batchable)
{
    json_t *old = json_object_get(inputs, name);
    if (!old) {
        json_object_set_new(inputs, name, v);
        return;
    }
    if (batchable && !json_is_array(old)) {
        json_t *a = json_array();
        json_array_append(a, old);
        json_array_append_new(a, v);
        json_object_set_new(inputs, name, a);
        return;
    }
    if (batchable) {
        json_array_append_new(old, v);
        return;
    }
    json_object_set_new(inputs, name, v); /* a parameter given twice: last wins */
}

int cli_cmd_run(int argc, char **argv)
{
    const char *path = NULL, *api_key = NULL;
    int rc = 2;
    mlc_precision precision = MLC_PRECISION_F32;
    char *text = NULL, *in_text = NULL, *out = NULL;
    json_t *def = NULL, *inputs = json_object();
    mlc_workflow *wf = NULL;
    mlc_error err;
    size_t n = 0;
    int n_inputs = 0;
    char **input_args = mlc_calloc((size_t)argc + 1, sizeof *input_args);
    if (!inputs || !input_args) {
        fprintf(stderr, "mlc run: out of memory\n");
        rc = 1;
        goto done;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            rc = 0;
            goto done;
        } else if ((!strcmp(argv[i], "--input") || !strcmp(argv[i], "-i")) && i + 1 < argc) {
            input_args[n_inputs++] = argv[++i];
        } else if (!strncmp(argv[i], "--input=", 8)) {
            input_args[n_inputs++] = argv[i] + 8;
        } else if (!strcmp(argv[i], "--api-key") && i + 1 < argc) {
            api_key = argv[++i];
        } else if (!strcmp(argv[i], "--precision") && i + 1 < argc) {
            if (cli_parse_precision("run", argv[++i], &precision)) goto done;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "mlc run: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            goto done;
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "mlc run: unexpected argument '%s'\n", argv[i]);
            goto done;
        }
    }
    if (!path) {
        usage(stderr);
        goto done;
    }
    rc = 1;
    /* A definition is never larger than 64 MiB. */
    if (!(text = cli_read_file(path, (size_t)64 << 20, &n))) {
        fprintf(stderr, "mlc run: cannot read '%s'\n", path);
        goto done;
    }
    def = json_loadb(text, n, 0, NULL); /* only to learn which inputs are images */
    for (int k = 0; k < n_inputs; k++) {
        char *eq = strchr(input_args[k], '=');
        if (!eq || eq == input_args[k]) {
            fprintf(stderr, "mlc run: --input expects NAME=VALUE, got '%s'\n", input_args[k]);
            rc = 2;
            goto done;
        }
        *eq = '\0';
        const char *name = input_args[k], *value = eq + 1;
        if (def && is_image_input(def, name)) {
            json_t *v = image_value(value);
            if (!v) {
                fprintf(stderr, "mlc run: input '%s': '%s' is neither a file nor a URL\n", name,
                        value);
                goto done;
            }
            add_value(inputs, name, v, 1);
        } else {
            add_value(inputs, name, param_value(value), def && is_batch_input(def, name));
        }
    }
    mlc_model_options mo;
    mlc_model_options_default(&mo);
    mo.precision = precision;
    if (api_key) mo.api_key = api_key;
    mlc_workflow_options wo = {&mo, api_key};
    if (mlc_workflow_compile(text, n, &wo, &wf, &err)) {
        fprintf(stderr, "mlc run: %s: %s\n", path, err.message);
        goto done;
    }
    in_text = json_dumps(inputs, JSON_COMPACT);
    if (!in_text) {
        fprintf(stderr, "mlc run: out of memory\n");
        goto done;
    }
    if (mlc_workflow_run(wf, in_text, strlen(in_text), &out, &err)) {
        rc = cli_fail(&err);
        goto done;
    }
    puts(out);
    rc = 0;
done:
    mlc_free(out);
    free(in_text); /* jansson's buffer */
    mlc_workflow_free(wf);
    if (def) json_decref(def);
    if (inputs) json_decref(inputs);
    mlc_free(text);
    mlc_free(input_args);
    return rc;
}
