/* cmd_serve.c - `mlc serve`: placeholder until its layer lands; it says so. */
#include <stdio.h>

#include "cli.h"

int cli_cmd_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mlc: 'serve' is not available in this build yet\n");
    return 2;
}
