/* cmd_inspect.c - `mlc inspect`: placeholder until its layer lands; it says so. */
#include <stdio.h>

#include "cli.h"

int cli_cmd_inspect(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mlc: 'inspect' is not available in this build yet\n");
    return 2;
}
