/*
 * cmd_classify.c - `mlc classify --model DIR|ID IMAGE... [--confidence C]
 * [--threads N] [--precision f32|bf16|int8] [--truth labels.json] [--compact]
 * [--active-learning ...]`.
 *
 * Prints a JSON array with one Roboflow multi-label response per image, each
 * with the image's file name added as "file". With --truth (a JSON object
 * file name -> list of true labels) it also prints a table to stderr and
 * exits 1 when any image's predicted set differs from its true set.
 * Uses only the public API (mlc.h) and jansson for the truth file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

#define CHUNK 32

static void usage(FILE *f)
{
    fprintf(f, "usage: mlc classify --model DIR|ID IMAGE... [--confidence 0.4|best|default]\n"
               "                    [--threads N] [--precision f32|bf16|int8]\n"
               "                    [--truth labels.json] [--compact]\n"
               "Prints one Roboflow multi-label response per image as a JSON array.\n"
               "  --model       a package directory or a Roboflow model id (\"project/3\";\n"
               "                downloaded with $ROBOFLOW_API_KEY into $MODEL_CACHE_DIR)\n"
               "  --confidence  threshold: a number in [0,1], \"best\" (the package's\n"
               "                recommended per-class thresholds) or \"default\"; default best\n"
               "  --threads     compute threads (default: all cores)\n"
               "  --precision   f32 (default), bf16 or int8 (oneDNN backend; see\n"
               "                docs/ENGINE.md for what each keeps of float32's scores)\n"
               "  --truth       JSON object file name -> true labels; prints a table to\n"
               "                stderr and exits 1 on any mismatch\n"
               "  --active-learning      offer each image and prediction to active learning\n"
               "  --al-target DATASET    target dataset (default: the model's project)\n"
               "  --al-config FILE       local AL configuration (default: the Roboflow API)\n"
               "  --al-local DIR         keep datapoints in DIR instead of uploading\n"
               "  --al-queue DIR         durable queue directory\n"
               "  --api-key KEY          Roboflow API key (default $ROBOFLOW_API_KEY)\n");
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static char *json_quote(const char *s)
{
    json_t *j = json_string(s);
    char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    return t; /* free() */
}

/* "a, b" of the predicted names into buf. */
static void predicted_list(const mlc_model *m, const mlc_result *r, char *buf, size_t n)
{
    buf[0] = '\0';
    size_t len = 0;
    for (int c = 0; c < mlc_result_n_classes(r); c++) {
        if (!mlc_result_is_predicted(r, c)) continue;
        int k = snprintf(buf + len, n - len, "%s%s", len ? ", " : "", mlc_model_class_name(m, c));
        if (k < 0 || (size_t)k >= n - len) break;
        len += (size_t)k;
    }
}

/* Compares the predicted set with the truth list; writes the truth as text. */
static int matches_truth(const mlc_model *m, const mlc_result *r, const json_t *truth, char *buf,
                         size_t n)
{
    buf[0] = '\0';
    if (!json_is_array(truth)) {
        snprintf(buf, n, "(no entry)");
        return 0;
    }
    size_t len = 0, i;
    const json_t *v;
    int ok = 1, count = 0;
    json_array_foreach(truth, i, v)
    {
        const char *name = json_is_string(v) ? json_string_value(v) : "?";
        int k = snprintf(buf + len, n - len, "%s%s", len ? ", " : "", name);
        if (k > 0 && (size_t)k < n - len) len += (size_t)k;
        int found = 0;
        for (int c = 0; c < mlc_result_n_classes(r); c++)
            if (mlc_result_is_predicted(r, c) && !strcmp(mlc_model_class_name(m, c), name))
                found = 1;
        ok &= found;
    }
    for (int c = 0; c < mlc_result_n_classes(r); c++) count += mlc_result_is_predicted(r, c);
    return ok && (size_t)count == json_array_size(truth);
}

int cli_cmd_classify(int argc, char **argv)
{
    const char *model_arg = NULL, *conf_arg = "best", *truth_path = NULL;
    const char *al_target = NULL, *al_config = NULL, *al_local = NULL, *al_queue = NULL;
    const char *api_key = NULL;
    int threads = 0, compact = 0, rc = 1, al = 0;
    mlc_precision precision = MLC_PRECISION_F32;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    size_t n_files = 0;
    if (!files) return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            free(files);
            return 0;
        } else if (!strcmp(a, "--model") && i + 1 < argc) {
            model_arg = argv[++i];
        } else if (!strcmp(a, "--confidence") && i + 1 < argc) {
            conf_arg = argv[++i];
        } else if (!strcmp(a, "--threads") && i + 1 < argc) {
            char *end;
            long t = strtol(argv[++i], &end, 10);
            if (*end || t < 0 || t > 1024) {
                fprintf(stderr, "mlc classify: --threads must be a number 0..1024\n");
                free(files);
                return 2;
            }
            threads = (int)t;
        } else if (!strcmp(a, "--precision") && i + 1 < argc) {
            if (cli_parse_precision("classify", argv[++i], &precision)) {
                free(files);
                return 2;
            }
        } else if (!strcmp(a, "--truth") && i + 1 < argc) {
            truth_path = argv[++i];
        } else if (!strcmp(a, "--compact")) {
            compact = 1;
        } else if (!strcmp(a, "--active-learning")) {
            al = 1;
        } else if (!strcmp(a, "--al-target") && i + 1 < argc) {
            al_target = argv[++i];
        } else if (!strcmp(a, "--al-config") && i + 1 < argc) {
            al_config = argv[++i];
        } else if (!strcmp(a, "--al-local") && i + 1 < argc) {
            al_local = argv[++i];
        } else if (!strcmp(a, "--al-queue") && i + 1 < argc) {
            al_queue = argv[++i];
        } else if (!strcmp(a, "--api-key") && i + 1 < argc) {
            api_key = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "mlc classify: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            free(files);
            return 2;
        } else {
            files[n_files++] = a;
        }
    }
    if (!model_arg || n_files == 0) {
        usage(stderr);
        free(files);
        return 2;
    }

    mlc_error err = {0};
    mlc_confidence conf;
    mlc_model_options opt;
    mlc_model *m = NULL;
    mlc_session *s = NULL;
    mlc_image **imgs = calloc(n_files, sizeof *imgs);
    mlc_result **res = calloc((n_files + CHUNK - 1) / CHUNK, sizeof *res);
    json_t *truth = NULL;
    if (!imgs || !res) goto done;
    if (mlc_confidence_parse(conf_arg, &conf, &err)) {
        fprintf(stderr, "mlc classify: %s\n", err.message);
        rc = 2;
        goto done;
    }
    if (truth_path) {
        json_error_t je;
        truth = json_load_file(truth_path, 0, &je);
        if (!json_is_object(truth)) {
            fprintf(stderr, "mlc classify: %s: %s\n", truth_path,
                    truth ? "must be a JSON object file -> [labels]" : je.text);
            goto done;
        }
    }
    mlc_model_options_default(&opt);
    opt.threads = threads;
    opt.precision = precision;
    if (api_key) opt.api_key = api_key;
    if (al && mlc_active_learning_configure(al_queue, al_config, al_local, 0, &err)) {
        rc = cli_fail(&err);
        goto done;
    }
    if (mlc_model_load(model_arg, &opt, &m, &err) || mlc_session_create(m, &s, &err)) {
        rc = cli_fail(&err);
        goto done;
    }
    for (size_t i = 0; i < n_files; i++) {
        if (mlc_image_load(MLC_INPUT_PATH, files[i], opt.threads != 1 ? MLC_IMAGE_TWO_THREADS : 0,
                           NULL, &imgs[i], &err)) {
            rc = cli_fail(&err);
            goto done;
        }
    }
    for (size_t b = 0; b < n_files; b += CHUNK) {
        size_t k = n_files - b < CHUNK ? n_files - b : CHUNK;
        if (mlc_classify(s, (const mlc_image *const *)imgs + b, k, conf, &res[b / CHUNK], &err)) {
            rc = cli_fail(&err);
            goto done;
        }
    }
    int mismatches = 0;
    if (truth) fprintf(stderr, "%-32s  %-32s  %-32s  %s\n", "file", "predicted", "true", "result");
    printf("[");
    for (size_t i = 0; i < n_files; i++) {
        const mlc_result *r = mlc_result_at(res[i / CHUNK], i % CHUNK);
        char *js = NULL;
        char *qname = json_quote(base_name(files[i]));
        if (!qname || mlc_result_to_json(r, compact ? 0 : MLC_JSON_PRETTY, &js, &err)) {
            free(qname);
            printf("]\n");
            rc = cli_fail(&err);
            goto done;
        }
        /* {"file": ..., <the Roboflow response fields>} */
        printf("%s%s{%s\"file\":%s%s,", i ? "," : "", compact ? "" : "\n", compact ? "" : "\n  ",
               compact ? "" : " ", qname);
        fputs(js + 1, stdout);
        free(qname);
        mlc_free(js);
        if (truth) {
            char pred[1024], tru[1024];
            predicted_list(m, r, pred, sizeof pred);
            int ok =
                matches_truth(m, r, json_object_get(truth, base_name(files[i])), tru, sizeof tru);
            mismatches += !ok;
            fprintf(stderr, "%-32s  %-32s  %-32s  %s\n", base_name(files[i]), pred, tru,
                    ok ? "OK" : "MISMATCH");
        }
    }
    printf("%s]\n", compact ? "" : "\n");
    if (truth) fprintf(stderr, "%zu images, %d mismatches\n", n_files, mismatches);
    if (al) {
        /* After the answer is printed: registering never delays or fails it. */
        int queued = 0;
        for (size_t i = 0; i < n_files; i++)
            queued += mlc_active_learning_register(api_key, mlc_model_id(m), al_target, imgs[i],
                                                   mlc_result_at(res[i / CHUNK], i % CHUNK)) ==
                      MLC_AL_QUEUED;
        mlc_active_learning_shutdown(10000);
        fprintf(stderr, "active learning: %d of %zu images queued\n", queued, n_files);
    }
    rc = mismatches ? 1 : 0;
done:
    if (res)
        for (size_t i = 0; i < (n_files + CHUNK - 1) / CHUNK; i++) mlc_result_free(res[i]);
    if (imgs)
        for (size_t i = 0; i < n_files; i++) mlc_image_free(imgs[i]);
    free(res);
    free(imgs);
    json_decref(truth);
    mlc_session_free(s);
    mlc_model_free(m);
    free(files);
    return rc;
}
