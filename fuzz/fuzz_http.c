/*
 * fuzz_http.c - libFuzzer target over the server's request parsing: any
 * bytes as a request body go through the bounded JSON parser and then each
 * body parser (/infer/classification, /workflows/run, /model/add) and the
 * excluded_fields filter. Every input must give MLC_OK or a refusal with an
 * HTTP status in 400..499 and a message naming the location; never a crash,
 * hang or leak. The first byte picks extra limits (depth, batch) so small
 * caps are exercised too. Seeds: fuzz/corpus/fuzz_http/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "server/server.h"

/* A broken invariant is a finding: crash so libFuzzer records the input. */
#define FUZZ_CHECK(c)                                                                              \
    do {                                                                                           \
        if (!(c)) __builtin_trap();                                                                \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mlc_limits lim;
    mlc_limits_default(&lim);
    if (size > 0) {
        lim.max_json_depth = 1 + (data[0] & 7) * 4; /* 1..29 */
        lim.max_batch = 1 + (data[0] >> 4);         /* 1..16 */
        data++;
        size--;
    }
    mlc_error err;
    json_t *doc = NULL;
    if (srv_json_parse((const char *)data, size, &lim, &doc, &err) != MLC_OK) {
        FUZZ_CHECK(err.message[0] != '\0');
        return 0;
    }
    /* the depth pre-check agrees with the parsed tree: never deeper than allowed */
    FUZZ_CHECK(srv_json_depth((const char *)data, size, lim.max_json_depth) <= lim.max_json_depth);

    struct srv_reject rej;
    struct srv_classify_req cr;
    memset(&rej, 0, sizeof rej);
    if (srv_parse_classify(doc, &lim, &cr, &rej, &err) == MLC_OK) {
        FUZZ_CHECK(cr.model_id && srv_model_id_valid(cr.model_id));
        FUZZ_CHECK(cr.n_images >= 1 && cr.n_images <= (size_t)lim.max_batch);
        for (size_t i = 0; i < cr.n_images; i++) FUZZ_CHECK(cr.images[i].value != NULL);
        srv_classify_req_free(&cr);
    } else {
        FUZZ_CHECK(rej.http_status >= 400 && rej.http_status < 600 && rej.loc[0]);
    }

    struct srv_workflow_req wr;
    memset(&rej, 0, sizeof rej);
    if (srv_parse_workflow_run(doc, &lim, &wr, &rej, &err) == MLC_OK) {
        FUZZ_CHECK(json_is_object(wr.specification));
        json_t *resp = json_pack("{s:[{s:i, s:i}]}", "outputs", "a", 1, "b", 2);
        if (resp && wr.excluded) srv_exclude_fields(resp, wr.excluded);
        json_decref(resp);
    } else {
        FUZZ_CHECK(rej.http_status >= 400 && rej.http_status < 600 && rej.loc[0]);
    }

    const char *id = NULL, *key = NULL;
    memset(&rej, 0, sizeof rej);
    if (srv_parse_model_req(doc, &id, &key, &rej, &err) == MLC_OK)
        FUZZ_CHECK(id && srv_model_id_valid(id));

    size_t n = 0;
    char *text = srv_json_dump(doc, &n);
    mlc_free(text);
    json_decref(doc);
    return 0;
}
