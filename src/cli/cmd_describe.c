/* cmd_describe.c - `mlc describe`: placeholder until its layer lands; it says so. */
#include <stdio.h>

#include "cli.h"

int cli_cmd_describe(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mlc: 'describe' is not available in this build yet\n");
    return 2;
}
