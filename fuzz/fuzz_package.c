/*
 * fuzz_package.c - libFuzzer target for the model package parsers
 * (inference_config.json, model_config.json, environment.json,
 * class_names.txt, model_type.json). The first byte picks the parser; the
 * rest is the file. After a successful parse the thresholds are resolved in
 * every mode, which walks the recommended-parameters tables.
 */
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    struct mdl_package p;
    mlc_error err;
    mdl_package_init(&p);
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    mlc_status st;
    /* class names first, so the threshold walk below has classes */
    static const char names[] = "cat\ndog\nfish\n";
    mdl_parse_class_names(names, sizeof names - 1, "class_names.txt", &p, &err);
    switch (data[0] % 5) {
    case 0:
        st = mdl_parse_inference_config(text, n, "inference_config.json", &p, &err);
        break;
    case 1:
        st = mdl_parse_model_config(text, n, "model_config.json", &p, &err);
        break;
    case 2:
        st = mdl_parse_environment(text, n, "environment.json", &p, &err);
        break;
    case 3:
        st = mdl_parse_class_names(text, n, "class_names.txt", &p, &err);
        break;
    default:
        st = mdl_parse_model_type(text, n, "model_type.json", &p, &err);
        break;
    }
    if (st == MLC_OK && p.n_classes > 0 && p.n_classes <= 4096) {
        double *thr = mlc_alloc((size_t)p.n_classes * sizeof *thr);
        mdl_package_finish_arch(&p);
        if (thr) {
            mdl_resolve_thresholds(&p, mlc_confidence_best(), thr, &err);
            mdl_resolve_thresholds(&p, mlc_confidence_default(), thr, &err);
            mdl_resolve_thresholds(&p, mlc_confidence_value(0.5), thr, &err);
        }
        mlc_free(thr);
    }
    mdl_package_free(&p);
    return 0;
}
