/*
 * launch.c - `mlc` itself: sets GOMP_SPINCOUNT (main.c says why) and
 * executes the real command line tool, mlc-cli, from the same directory.
 *
 * Why a second program: libgomp reads the variable in its constructor,
 * before any of mlc's code runs, so mlc-cli used to re-execute itself to set
 * it, loading its 50-odd libraries (oneDNN, libcurl and its TLS stack, image
 * codecs) twice: about 11 ms of page faults per command in this VM. This
 * program links nothing but libc. Arguments, exit status and the rest of the
 * environment pass through unchanged; a user's own OMP_WAIT_POLICY or
 * GOMP_SPINCOUNT wins, and MLC_NO_REEXEC=1 leaves libgomp's default.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int main(int argc, char **argv)
{
    static const char real[] = "mlc-cli";
    char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - sizeof real - 1);
    (void)argc;
    if (n <= 0 || (size_t)n >= sizeof path - sizeof real - 1) {
        fprintf(stderr, "mlc: cannot find its own directory (/proc/self/exe)\n");
        return 127;
    }
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    memcpy(slash ? slash + 1 : path, real, sizeof real);
    if (cli_tune_openmp_wanted()) (void)setenv("GOMP_SPINCOUNT", "3000", 1);
    execv(path, argv);
    fprintf(stderr, "mlc: cannot run %s: %s\n", path, strerror(errno));
    return 127;
}
