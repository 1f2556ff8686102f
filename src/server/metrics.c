/*
 * metrics.c - request counters and latency histograms per route, rendered in
 * the Prometheus text exposition format (version 0.0.4) for GET /metrics.
 *
 * What it does not do: no labels beyond route and status, no per-model
 * series (model ids come from clients; unbounded label sets are a known way
 * to exhaust a Prometheus server).
 *
 * Invariants: every counter is updated with relaxed atomics, so observing
 * never blocks a worker; a rendered snapshot may be a few requests apart
 * between series, which Prometheus tolerates.
 */
#include <stdio.h>
#include <string.h>

#include "server/server.h"

static const char *const route_names[SRV_ROUTE_COUNT] = {
    "unknown",
    "/workflows/run",
    "/workflows/validate",
    "/workflows/blocks/describe",
    "/workflows/execution_engine/versions",
    "/infer/classification",
    "/{dataset}/{version}",
    "/model/add",
    "/model/remove",
    "/model/clear",
    "/model/registry",
    "/info",
    "/healthz",
    "/readiness",
    "/metrics",
};

const char *srv_route_name(enum srv_route r)
{
    return (unsigned)r < SRV_ROUTE_COUNT ? route_names[r] : "unknown";
}

/* Status codes tracked individually; anything else lands in the last slot. */
static const int tracked_status[16] = {200, 400, 401, 403, 404, 405, 408, 413,
                                       415, 422, 431, 500, 501, 503, 504, 0};

static int status_slot(int s)
{
    for (int i = 0; i < 15; i++)
        if (tracked_status[i] == s) return i;
    return 15;
}

static const double bucket_le[SRV_N_BUCKETS - 1] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                    0.5,   1.0,  2.5,   5.0,  10.0};

#define ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define LOAD(p)   __atomic_load_n((p), __ATOMIC_RELAXED)

void srv_metrics_observe(struct srv_metrics *m, enum srv_route r, int http_status, double seconds)
{
    if ((unsigned)r >= SRV_ROUTE_COUNT) r = SRV_ROUTE_UNKNOWN;
    int cls = http_status / 100;
    if (cls < 1 || cls > 5) cls = 0;
    ADD(&m->requests[r][cls], 1);
    ADD(&m->by_status[r][status_slot(http_status)], 1);
    int b = 0;
    while (b < SRV_N_BUCKETS - 1 && seconds > bucket_le[b]) b++;
    ADD(&m->hist[r][b], 1);
    ADD(&m->hist_count[r], 1);
    ADD(&m->hist_sum_us[r], (uint64_t)(seconds > 0 ? seconds * 1e6 : 0));
}

mlc_status srv_metrics_render(const struct srv_metrics *m, const struct srv_gauges *g,
                              char **text_out, size_t *n_out)
{
    struct core_buf b;
    core_buf_init(&b, (size_t)4 << 20);
    mlc_status st = MLC_OK;
#define P(...)                                                                                     \
    do {                                                                                           \
        if ((st = core_buf_printf(&b, __VA_ARGS__))) goto fail;                                    \
    } while (0)

    P("# HELP mlc_http_requests_total HTTP requests answered, by route and status code.\n"
      "# TYPE mlc_http_requests_total counter\n");
    for (int r = 0; r < SRV_ROUTE_COUNT; r++)
        for (int s = 0; s < 16; s++) {
            uint64_t v = LOAD(&m->by_status[r][s]);
            if (!v) continue;
            if (s == 15)
                P("mlc_http_requests_total{route=\"%s\",status=\"other\"} %llu\n", route_names[r],
                  (unsigned long long)v);
            else
                P("mlc_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", route_names[r],
                  tracked_status[s], (unsigned long long)v);
        }
    P("# HELP mlc_http_errors_total HTTP requests answered with a 4xx or 5xx status.\n"
      "# TYPE mlc_http_errors_total counter\n");
    for (int r = 0; r < SRV_ROUTE_COUNT; r++)
        for (int c = 4; c <= 5; c++)
            P("mlc_http_errors_total{route=\"%s\",class=\"%dxx\"} %llu\n", route_names[r], c,
              (unsigned long long)LOAD(&m->requests[r][c]));
    P("# HELP mlc_http_request_duration_seconds Time from the end of the request body to the "
      "response being queued.\n"
      "# TYPE mlc_http_request_duration_seconds histogram\n");
    for (int r = 0; r < SRV_ROUTE_COUNT; r++) {
        uint64_t count = LOAD(&m->hist_count[r]);
        if (!count) continue;
        uint64_t cum = 0;
        for (int k = 0; k < SRV_N_BUCKETS; k++) {
            cum += LOAD(&m->hist[r][k]);
            if (k < SRV_N_BUCKETS - 1)
                P("mlc_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                  route_names[r], bucket_le[k], (unsigned long long)cum);
            else
                P("mlc_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                  route_names[r], (unsigned long long)cum);
        }
        P("mlc_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route_names[r],
          (double)LOAD(&m->hist_sum_us[r]) / 1e6);
        P("mlc_http_request_duration_seconds_count{route=\"%s\"} %llu\n", route_names[r],
          (unsigned long long)count);
    }
    P("# HELP mlc_http_rejected_busy_total Requests answered 503 because the work queue was "
      "full.\n# TYPE mlc_http_rejected_busy_total counter\nmlc_http_rejected_busy_total %llu\n",
      (unsigned long long)LOAD(&m->rejected_busy));
    P("# HELP mlc_http_timeouts_total Requests answered 503 because they waited in the queue "
      "past their deadline.\n# TYPE mlc_http_timeouts_total counter\nmlc_http_timeouts_total "
      "%llu\n",
      (unsigned long long)LOAD(&m->timeouts));
    P("# HELP mlc_http_dropped_total Requests whose connection was closed without an answer "
      "(oversized or aborted bodies).\n# TYPE mlc_http_dropped_total counter\n"
      "mlc_http_dropped_total %llu\n",
      (unsigned long long)LOAD(&m->dropped));
    P("# HELP mlc_models_loaded Models in the registry.\n# TYPE mlc_models_loaded gauge\n"
      "mlc_models_loaded %d\n",
      g->models_loaded);
    P("# HELP mlc_queue_depth Requests waiting for a worker.\n# TYPE mlc_queue_depth gauge\n"
      "mlc_queue_depth %d\n",
      g->queue_depth);
    P("# HELP mlc_queue_capacity Bound of the work queue.\n# TYPE mlc_queue_capacity gauge\n"
      "mlc_queue_capacity %d\n",
      g->queue_capacity);
    P("# HELP mlc_requests_in_flight Requests received and not yet answered.\n"
      "# TYPE mlc_requests_in_flight gauge\nmlc_requests_in_flight %d\n",
      g->in_flight);
    P("# HELP mlc_workers Worker threads.\n# TYPE mlc_workers gauge\nmlc_workers %d\n", g->workers);
    P("# HELP mlc_workers_busy Worker threads running a request.\n"
      "# TYPE mlc_workers_busy gauge\nmlc_workers_busy %d\n",
      g->workers_busy);
#undef P
    if (n_out) *n_out = b.len;
    *text_out = core_buf_take(&b);
    return *text_out ? MLC_OK : MLC_STATUS_NO_MEMORY;
fail:
    core_buf_free(&b);
    return st;
}
