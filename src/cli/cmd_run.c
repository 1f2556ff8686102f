/* cmd_run.c - `mlc run`: placeholder until its layer lands; it says so. */
#include <stdio.h>

#include "cli.h"

int cli_cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mlc: 'run' is not available in this build yet\n");
    return 2;
}
