/*
 * main.c - `mlc` command dispatch. The subcommands are listed once here;
 * each is implemented in its own cmd_<name>.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"classify", cli_cmd_classify, "classify images with a model package or id"},
    {"run", cli_cmd_run, "run a workflow definition on inputs"},
    {"describe", cli_cmd_describe, "print the blocks/describe document"},
    {"serve", cli_cmd_serve, "serve the HTTP API inference_sdk talks to"},
    {"tensor", cli_cmd_tensor, "run an ONNX model on .npy tensors"},
    {"inspect", cli_cmd_inspect, "print an ONNX model's optimised graph and memory plan"},
    {"bench", cli_cmd_bench, "time an ONNX model"},
};

int cli_fail(const mlc_error *err)
{
    fprintf(stderr, "mlc: %s\n", err->message[0] ? err->message : mlc_status_str(err->status));
    return 1;
}

int cli_parse_precision(const char *cmd, const char *v, mlc_precision *out)
{
    if (v && !strcmp(v, "f32"))
        *out = MLC_PRECISION_F32;
    else if (v && !strcmp(v, "bf16"))
        *out = MLC_PRECISION_BF16;
    else if (v && !strcmp(v, "int8"))
        *out = MLC_PRECISION_INT8;
    else {
        fprintf(stderr, "mlc %s: --precision is f32, bf16 or int8, not '%s'\n", cmd, v ? v : "");
        return -1;
    }
    return 0;
}

char *cli_read_file(const char *path, size_t max, size_t *n_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = mlc_alloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        if (cap >= max) {
            mlc_free(buf);
            buf = NULL;
            break;
        }
        char *nb = mlc_realloc(buf, cap * 2 + 1);
        if (!nb) {
            mlc_free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *n_out = n;
    }
    return buf;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mlc <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n`mlc <command> --help` tells more. mlc %s\n", MLC_VERSION);
}

/* libgomp (under oneDNN) spins ~300 ms at each barrier by default. When
 * another process holds one of the two cores, the spinning worker burns the
 * time slice its partner needs: resnet18 batch 1 took 190 ms instead of 20 ms
 * (measured 2026-11-24). A short spin (GOMP_SPINCOUNT=3000) keeps most of
 * the benefit on an idle machine and none of the harm. libgomp reads the
 * variable when it is loaded, before main: `mlc` (launch.c) sets it before
 * executing this program; run directly without it, this program re-executes
 * itself once with it set. A user's own OMP_WAIT_POLICY / GOMP_SPINCOUNT wins;
 * MLC_NO_REEXEC=1 disables both. */
static void tune_openmp(char **argv)
{
    if (!cli_tune_openmp_wanted()) return;
    if (setenv("GOMP_SPINCOUNT", "3000", 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("GOMP_SPINCOUNT"); /* exec failed: carry on with the defaults */
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("mlc %s\n", MLC_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            tune_openmp(argv);
            return commands[i].fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "mlc: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
