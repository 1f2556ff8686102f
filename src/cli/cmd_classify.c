/* cmd_classify.c - `mlc classify`: placeholder until its layer lands; it says so. */
#include <stdio.h>

#include "cli.h"

int cli_cmd_classify(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mlc: 'classify' is not available in this build yet\n");
    return 2;
}
