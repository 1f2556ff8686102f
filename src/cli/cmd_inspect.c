/*
 * cmd_inspect.c - `mlc inspect MODEL.onnx [--backend ref|auto]`: prints the
 * optimised graph (inputs, outputs, op counts, every node with its fused
 * activation and tensor shapes) and the planned peak workspace for batch 1.
 * Uses only the public API (mlc.h).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_cmd_inspect(int argc, char **argv)
{
    const char *model = NULL;
    mlc_model_options opt;
    memset(&opt, 0, sizeof opt);
    opt.threads = 1;
    /* As in bench: the file is the user's own choice, so up to 2 GiB. */
    opt.limits.max_input_bytes = (size_t)2 << 30;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "ref") == 0)
                opt.backend = MLC_BACKEND_REFERENCE;
            else if (strcmp(v, "auto") == 0)
                opt.backend = MLC_BACKEND_AUTO;
            else
                model = NULL, i = argc;
        } else if (argv[i][0] != '-' && !model) {
            model = argv[i];
        } else {
            model = NULL;
            break;
        }
    }
    if (!model) {
        fprintf(stderr, "usage: mlc inspect MODEL.onnx [--backend ref|auto]\n");
        return 2;
    }
    mlc_error err;
    mlc_net *net = NULL;
    char *text = NULL;
    int rc = 0;
    if (mlc_net_load(model, &opt, &net, &err) || mlc_net_describe(net, &text, &err))
        rc = cli_fail(&err);
    else
        fputs(text, stdout);
    mlc_free(text);
    mlc_net_free(net);
    return rc;
}
