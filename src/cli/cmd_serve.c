/*
 * cmd_serve.c - `mlc serve`: runs the HTTP server inference_sdk talks to
 * until SIGTERM or SIGINT, then shuts down gracefully (stops accepting,
 * finishes the requests in flight).
 *
 * Signals are blocked before the server starts its threads and taken with
 * sigwait() on the main thread, so no handler runs on a worker and nothing
 * async-signal-unsafe is needed.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mlc serve [--host 127.0.0.1] [--port 9001] [--threads N] [--queue N]\n"
               "                 [--api-keys K1,K2] [--allow-private-urls] [--timeout-ms N]\n"
               "                 [--precision f32|bf16|int8]\n"
               "                 [--max-body-bytes N] [--active-learning [--al-config F]\n"
               "                 [--al-local DIR] [--al-queue DIR]]\n"
               "\n"
               "Serves Roboflow's inference HTTP API (/infer/classification, /workflows/run,\n"
               "/model/*, /metrics, ...). --api-keys answers 401 to requests whose key is not\n"
               "listed. URL images on private or loopback addresses are refused unless\n"
               "--allow-private-urls. SIGTERM/SIGINT finish requests in flight, then exit.\n"
               "--active-learning offers classified images to active learning (requests may\n"
               "opt out with disable_active_learning); --al-config is a local configuration\n"
               "(default: the project's, from the Roboflow API), --al-local keeps datapoints\n"
               "in a directory instead of uploading them. --precision is the models' compute\n"
               "precision (docs/ENGINE.md).\n");
}

static int parse_int(const char *flag, const char *v, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || n < lo || n > hi) {
        fprintf(stderr, "mlc serve: %s needs an integer in %ld..%ld, got '%s'\n", flag, lo, hi,
                v ? v : "");
        return -1;
    }
    *out = n;
    return 0;
}

int cli_cmd_serve(int argc, char **argv)
{
    mlc_server_options opt;
    mlc_server_options_default(&opt);
    const char *al_config = NULL, *al_local = NULL, *al_queue = NULL;
    mlc_model_options mopt;
    mlc_model_options_default(&mopt);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--host") && v) {
            opt.host = v;
            i++;
        } else if (!strcmp(a, "--port")) {
            if (parse_int(a, v, 0, 65535, &n)) return 2;
            opt.port = (int)n;
            i++;
        } else if (!strcmp(a, "--threads")) {
            if (parse_int(a, v, 0, 1024, &n)) return 2;
            opt.threads = (int)n;
            i++;
        } else if (!strcmp(a, "--queue")) {
            if (parse_int(a, v, 1, 1000000, &n)) return 2;
            opt.queue_depth = (int)n;
            i++;
        } else if (!strcmp(a, "--timeout-ms")) {
            if (parse_int(a, v, 100, 3600000, &n)) return 2;
            opt.request_timeout_ms = (int)n;
            i++;
        } else if (!strcmp(a, "--max-body-bytes")) {
            if (parse_int(a, v, 1024, 1L << 30, &n)) return 2;
            opt.max_body_bytes = (size_t)n;
            i++;
        } else if (!strcmp(a, "--api-keys") && v) {
            opt.api_keys_allow = v;
            i++;
        } else if (!strcmp(a, "--allow-private-urls")) {
            opt.allow_private_urls = 1;
        } else if (!strcmp(a, "--precision") && v) {
            if (cli_parse_precision("serve", v, &mopt.precision)) return 2;
            opt.model_options = &mopt;
            i++;
        } else if (!strcmp(a, "--active-learning")) {
            opt.active_learning = 1;
        } else if (!strcmp(a, "--al-config") && v) {
            al_config = v;
            i++;
        } else if (!strcmp(a, "--al-local") && v) {
            al_local = v;
            i++;
        } else if (!strcmp(a, "--al-queue") && v) {
            al_queue = v;
            i++;
        } else {
            fprintf(stderr, "mlc serve: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    mlc_error err;
    mlc_server *srv = NULL;
    if (opt.active_learning &&
        mlc_active_learning_configure(al_queue, al_config, al_local, 0, &err))
        return cli_fail(&err);
    if (mlc_server_start(&opt, &srv, &err)) return cli_fail(&err);
    fprintf(stderr, "mlc: serving on http://%s:%d (%d worker threads, queue %d)\n", opt.host,
            mlc_server_port(srv), opt.threads, opt.queue_depth);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    fprintf(stderr, "mlc: %s received, finishing requests in flight\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    mlc_server_free(srv);
    if (opt.active_learning) mlc_active_learning_shutdown(10000);
    fprintf(stderr, "mlc: stopped\n");
    return 0;
}
