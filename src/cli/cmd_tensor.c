/* cmd_tensor.c - `mlc tensor`: placeholder until its layer lands; it says so. */
#include <stdio.h>

#include "cli.h"

int cli_cmd_tensor(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mlc: 'tensor' is not available in this build yet\n");
    return 2;
}
