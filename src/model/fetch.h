/*
 * fetch.h - internals shared by the model downloaders: download.c (the
 * current weights API, staging and installing packages into the cache) and
 * legacy.c (Roboflow's older /ort and /getWeights endpoints). Private to
 * src/model/ and tests/model/.
 *
 * Every transfer is bounded (size cap, stall timeout, http/https only), and
 * error messages never print a URL's query string: the /ort URL carries the
 * API key and signed URLs carry credentials.
 */
#ifndef MLC_MODEL_FETCH_H
#define MLC_MODEL_FETCH_H

#include <stdio.h>

#include "model/hash.h"
#include "model/model.h"

/* Where a transfer's body goes: memory (fp NULL) or a file (MD5 computed). */
struct mdl_sink {
    struct core_buf mem;
    FILE *fp;
    size_t n, max;
    struct mdl_md5 md5;
    int over;
    char goog_md5[33]; /* hex MD5 from an "x-goog-hash: md5=<base64>" header, "" if none */
};

/* One download job: everything the endpoints need, resolved once. */
struct mdl_fetch {
    const char *id;      /* the model id as given ("project/3") */
    const char *base;    /* API base URL, no trailing '/' */
    const char *key;     /* API key, NULL = none */
    int timeout_ms;      /* connect timeout and longest stall */
    size_t max_bytes;    /* cap per downloaded file */
    const char *staging; /* the empty temp directory the package is written into */
};

/* One GET with extra headers (NULL-terminated "Name: value" list, may be
 * NULL). *code_out = HTTP status, 0 when there was no response. Fails with
 * LIMIT when the body passes s->max, NETWORK on transport errors (timeouts,
 * refused connections, bodies shorter than promised). */
mlc_status mdl_http_get(const char *url, const char *const *headers, int timeout_ms,
                        struct mdl_sink *s, long *code_out, mlc_error *err);
/* GETs url into the file path (created), capped at max bytes. md5 (hex, may
 * be NULL) is required to match; without one an x-goog-hash MD5 header, when
 * the server sends one, is checked instead. A non-200 answer fails with
 * NOT_FOUND (404) or NETWORK. */
mlc_status mdl_download_file(const char *url, const char *path, const char *md5, size_t max,
                             int timeout_ms, mlc_error *err);
/* Percent-encodes everything but RFC 3986 unreserved characters. */
char *mdl_url_encode(const char *s);
/* The URL without its query string, for messages (caller frees). */
char *mdl_url_for_message(const char *url);
/* Removes a staging directory and the plain files in it. */
void mdl_remove_tree(const char *dir);

/* The legacy endpoints (legacy.c). Write a legacy package (environment.json
 * with COLORS, class_names.txt, best.onnx or weights.onnx, model_type.json)
 * into f->staging. `version` is the integer version ("3"); NULL selects the
 * instant-model endpoint /getWeights for an id without one. */
mlc_status mdl_fetch_legacy(const struct mdl_fetch *f, const char *dataset, const char *version,
                            mlc_error *err);

#endif
