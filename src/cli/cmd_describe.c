/*
 * cmd_describe.c - `mlc describe`: prints the /workflows/blocks/describe
 * document (the blocks mlc implements, their manifest JSON schemas, output
 * kinds and kinds connections), exactly what `mlc serve` answers on
 * GET /workflows/blocks/describe.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_cmd_describe(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: mlc describe\n\nPrints the workflow blocks description document "
                   "(JSON), as GET /workflows/blocks/describe returns it.\n");
            return 0;
        }
        fprintf(stderr, "mlc describe: unexpected argument '%s'\n", argv[i]);
        return 2;
    }
    mlc_error err;
    char *doc = NULL;
    if (mlc_blocks_describe(&doc, &err)) return cli_fail(&err);
    puts(doc);
    mlc_free(doc);
    return 0;
}
