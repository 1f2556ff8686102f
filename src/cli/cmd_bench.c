/* cmd_bench.c - `mlc bench`: placeholder until its layer lands; it says so. */
#include <stdio.h>

#include "cli.h"

int cli_cmd_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mlc: 'bench' is not available in this build yet\n");
    return 2;
}
