/*
 * standin.h - a local stand-in for the parts of the Roboflow API active
 * learning uses (workspace, project type, active_learning config, image
 * upload, annotate), on 127.0.0.1 with a kernel-chosen port, with switchable
 * failures. Uploads are deduplicated by idempotency key (the image name /
 * Idempotency-Key header) so tests can check "delivered exactly once".
 */
#ifndef MLC_TEST_STANDIN_H
#define MLC_TEST_STANDIN_H

#include <stddef.h>

enum standin_mode { STANDIN_OK, STANDIN_500, STANDIN_401, STANDIN_SLOW, STANDIN_400 };

struct standin;

struct standin_record {
    char key[64];
    char dataset[64];
    char batch[128];
    char tags[256]; /* "a,b,c" in request order */
    char api_key[64];
    char id[32];
    int hits;    /* upload requests seen for this key (incl. duplicates) */
    int jpeg_ok; /* the multipart body held a JPEG */
    char annotation[4096];
    char annotation_name[80];
};

struct standin *standin_start(void);
void standin_stop(struct standin *s);
int standin_port(const struct standin *s);
/* Failure mode for every request; slow sleeps slow_ms then answers OK. */
void standin_set_mode(struct standin *s, enum standin_mode m, int slow_ms);
/* Only the annotate endpoint fails with 500 when set. */
void standin_fail_annotate(struct standin *s, int on);
/* Answer of GET /ws/<project>/active_learning: HTTP status and body. */
void standin_set_config(struct standin *s, int status, const char *json);
/* project.type of every project (default "classification"). */
void standin_set_project_type(struct standin *s, const char *type);
/* project.type of one named project (one override at a time). */
void standin_set_project_type2(struct standin *s, const char *project, const char *type);
/* Distinct keys uploaded, and a record by key (NULL when never seen). */
size_t standin_n_records(struct standin *s);
int standin_record(struct standin *s, const char *key, struct standin_record *out);
int standin_record_at(struct standin *s, size_t i, struct standin_record *out);
/* Requests of any kind answered so far. */
size_t standin_n_requests(struct standin *s);

#endif
