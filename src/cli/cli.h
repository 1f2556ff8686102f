/*
 * cli.h - the `mlc` command's subcommands. Each lives in its own cmd_*.c and
 * uses only the public API (include/mlc.h). A subcommand returns the process
 * exit code: 0 success, 1 runtime failure, 2 usage error.
 */
#ifndef MLC_CLI_H
#define MLC_CLI_H

#include <stdlib.h>

#include "mlc.h"

/* Whether mlc sets GOMP_SPINCOUNT (main.c says why): not when the user set
 * an OpenMP wait policy or spin count, or MLC_NO_REEXEC. Inline: launch.c,
 * which links only libc, shares it with mlc-cli's fallback. */
static inline int cli_tune_openmp_wanted(void)
{
    return !getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT") && !getenv("MLC_NO_REEXEC") &&
           !getenv("MLC_BENCH_NO_REEXEC");
}

int cli_cmd_classify(int argc, char **argv);
int cli_cmd_tensor(int argc, char **argv);
int cli_cmd_inspect(int argc, char **argv);
int cli_cmd_bench(int argc, char **argv);
/* Monotonic clock in milliseconds, and qsort's comparison of doubles, for the
 * bench commands (cmd_bench.c). */
double cli_now_ms(void);
int cli_cmp_double(const void *a, const void *b);
/* `mlc bench PACKAGE --image IMG` (cmd_bench_pipeline.c). */
int cli_bench_pipeline(const char *pkg, const char *image, const mlc_model_options *opt, int runs,
                       int json);
int cli_cmd_run(int argc, char **argv);
int cli_cmd_describe(int argc, char **argv);
int cli_cmd_serve(int argc, char **argv);

/* --precision's value for command cmd: 0, or -1 after a one-line error. */
int cli_parse_precision(const char *cmd, const char *v, mlc_precision *out);
/* Prints "mlc: <message>" for a failed status and returns exit code 1. */
int cli_fail(const mlc_error *err);
/* A whole file, NUL-terminated (not counted in *n_out); NULL when it cannot
 * be read or is larger than about max bytes. Caller frees with mlc_free. */
char *cli_read_file(const char *path, size_t max, size_t *n_out);

#endif
