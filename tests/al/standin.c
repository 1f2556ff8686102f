/*
 * standin.c - the Roboflow API stand-in for active-learning tests (see
 * standin.h). libmicrohttpd, one thread per connection so a "slow" answer
 * does not hold others up. Records are fixed-size and kept under a mutex;
 * it serves loopback only.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>

#include "standin.h"

#define MAX_RECORDS 2048
#define MAX_BODY    (8u << 20)

struct standin {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    enum standin_mode mode;
    int slow_ms, fail_annotate;
    int cfg_status;
    char cfg_json[8192];
    char project_type[64];
    char project2[64], project2_type[64];
    struct standin_record rec[MAX_RECORDS];
    size_t n_rec;
    size_t n_requests;
    unsigned next_id;
};

struct conn {
    char *body;
    size_t len, cap;
    int too_big;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *json)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(json), (void *)json, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

struct tags_ctx {
    char *out;
    size_t n;
};

static enum MHD_Result collect_tag(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct tags_ctx *t = cls;
    (void)kind;
    if (strcmp(key, "tag") != 0 || !value) return MHD_YES;
    size_t l = strlen(t->out);
    snprintf(t->out + l, t->n - l, "%s%s", l ? "," : "", value);
    return MHD_YES;
}

static struct standin_record *find(struct standin *s, const char *key)
{
    for (size_t i = 0; i < s->n_rec; i++)
        if (!strcmp(s->rec[i].key, key)) return &s->rec[i];
    return NULL;
}

static int has_jpeg(const char *b, size_t n)
{
    for (size_t i = 0; i + 2 < n; i++)
        if ((unsigned char)b[i] == 0xff && (unsigned char)b[i + 1] == 0xd8 &&
            (unsigned char)b[i + 2] == 0xff)
            return 1;
    return 0;
}

static enum MHD_Result handle(struct standin *s, struct MHD_Connection *c, const char *url,
                              const char *method, struct conn *cn)
{
    char buf[9000];
    pthread_mutex_lock(&s->mu);
    s->n_requests++;
    enum standin_mode mode = s->mode;
    int slow = s->slow_ms, fail_ann = s->fail_annotate;
    pthread_mutex_unlock(&s->mu);
    if (mode == STANDIN_SLOW) {
        struct timespec ts = {slow / 1000, (long)(slow % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (mode == STANDIN_500) return reply(c, 500, "{\"message\":\"internal error\"}");
    if (mode == STANDIN_401) return reply(c, 401, "{\"message\":\"unauthorized\"}");
    if (mode == STANDIN_400 && !strcmp(method, "POST"))
        return reply(c, 400, "{\"message\":\"bad request\"}");
    const char *api_key = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "api_key");

    if (!strcmp(method, "GET")) {
        if (!strcmp(url, "/")) return reply(c, 200, "{\"workspace\":\"ws\"}");
        char proj[128];
        pthread_mutex_lock(&s->mu);
        int st = s->cfg_status;
        snprintf(buf, sizeof buf, "%s", s->cfg_json);
        char type[64], p2[64], t2[64];
        snprintf(type, sizeof type, "%s", s->project_type);
        snprintf(p2, sizeof p2, "%s", s->project2);
        snprintf(t2, sizeof t2, "%s", s->project2_type);
        pthread_mutex_unlock(&s->mu);
        size_t l = strlen(url);
        if (l > 16 && !strcmp(url + l - 16, "/active_learning")) return reply(c, (unsigned)st, buf);
        if (sscanf(url, "/ws/%127[^/]", proj) == 1) {
            if (*p2 && !strcmp(proj, p2)) snprintf(type, sizeof type, "%s", t2);
            snprintf(buf, sizeof buf, "{\"project\":{\"id\":\"%s\",\"type\":\"%s\"}}", proj, type);
            return reply(c, 200, buf);
        }
        return reply(c, 404, "{\"message\":\"not found\"}");
    }
    char ds[64] = "", rest[128] = "";
    if (sscanf(url, "/dataset/%63[^/]/%127s", ds, rest) != 2) return reply(c, 404, "{}");
    if (!strcmp(rest, "upload")) {
        const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
        const char *batch = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "batch");
        const char *idem = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
        char key[64] = "";
        if (name) snprintf(key, sizeof key, "%.*s", (int)strcspn(name, "."), name);
        if (!*key || !idem || strcmp(key, idem) != 0)
            return reply(c, 400, "{\"message\":\"name and Idempotency-Key disagree\"}");
        pthread_mutex_lock(&s->mu);
        struct standin_record *r = find(s, key);
        int dup = r != NULL;
        if (!r && s->n_rec < MAX_RECORDS) {
            r = &s->rec[s->n_rec++];
            memset(r, 0, sizeof *r);
            snprintf(r->key, sizeof r->key, "%s", key);
            snprintf(r->dataset, sizeof r->dataset, "%s", ds);
            snprintf(r->batch, sizeof r->batch, "%s", batch ? batch : "");
            snprintf(r->api_key, sizeof r->api_key, "%s", api_key ? api_key : "");
            snprintf(r->id, sizeof r->id, "img%u", ++s->next_id);
            struct tags_ctx t = {r->tags, sizeof r->tags};
            MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_tag, &t);
            r->jpeg_ok = has_jpeg(cn->body, cn->len);
        }
        if (r) r->hits++;
        snprintf(buf, sizeof buf,
                 dup ? "{\"duplicate\":true,\"id\":\"%s\"}" : "{\"success\":true,\"id\":\"%s\"}",
                 r ? r->id : "x");
        pthread_mutex_unlock(&s->mu);
        return reply(c, 200, buf);
    }
    char id[32];
    if (sscanf(rest, "annotate/%31s", id) == 1) {
        if (fail_ann) return reply(c, 500, "{\"message\":\"annotate failed\"}");
        const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
        pthread_mutex_lock(&s->mu);
        struct standin_record *r = NULL;
        for (size_t i = 0; i < s->n_rec; i++)
            if (!strcmp(s->rec[i].id, id)) r = &s->rec[i];
        if (r) {
            snprintf(r->annotation, sizeof r->annotation, "%.*s", (int)cn->len,
                     cn->body ? cn->body : "");
            snprintf(r->annotation_name, sizeof r->annotation_name, "%s", name ? name : "");
        }
        pthread_mutex_unlock(&s->mu);
        return r ? reply(c, 200, "{\"success\":true}") : reply(c, 404, "{}");
    }
    return reply(c, 404, "{}");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    struct standin *s = cls;
    struct conn *cn = *con_cls;
    if (!cn) {
        cn = calloc(1, sizeof *cn);
        if (!cn) return MHD_NO;
        *con_cls = cn;
        return MHD_YES;
    }
    if (*upload_size) {
        if (cn->len + *upload_size > MAX_BODY) {
            cn->too_big = 1;
        } else {
            if (cn->len + *upload_size + 1 > cn->cap) {
                size_t nc = (cn->len + *upload_size + 1) * 2;
                char *nb = realloc(cn->body, nc);
                if (!nb) return MHD_NO;
                cn->body = nb;
                cn->cap = nc;
            }
            memcpy(cn->body + cn->len, upload_data, *upload_size);
            cn->len += *upload_size;
            cn->body[cn->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (cn->too_big) return reply(c, 413, "{}");
    return handle(s, c, url, method, cn);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct conn *cn = *con_cls;
    if (cn) {
        free(cn->body);
        free(cn);
    }
    *con_cls = NULL;
}

struct standin *standin_start(void)
{
    struct standin *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    pthread_mutex_init(&s->mu, NULL);
    s->cfg_status = 404;
    snprintf(s->cfg_json, sizeof s->cfg_json, "{}");
    snprintf(s->project_type, sizeof s->project_type, "classification");
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    s->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                            NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_NOTIFY_COMPLETED, on_done, s, MHD_OPTION_END);
    if (!s->d) {
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    return s;
}

void standin_stop(struct standin *s)
{
    if (!s) return;
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int standin_port(const struct standin *s)
{
    return s->port;
}

void standin_set_mode(struct standin *s, enum standin_mode m, int slow_ms)
{
    pthread_mutex_lock(&s->mu);
    s->mode = m;
    s->slow_ms = slow_ms;
    pthread_mutex_unlock(&s->mu);
}

void standin_fail_annotate(struct standin *s, int on)
{
    pthread_mutex_lock(&s->mu);
    s->fail_annotate = on;
    pthread_mutex_unlock(&s->mu);
}

void standin_set_config(struct standin *s, int status, const char *json)
{
    pthread_mutex_lock(&s->mu);
    s->cfg_status = status;
    snprintf(s->cfg_json, sizeof s->cfg_json, "%s", json ? json : "{}");
    pthread_mutex_unlock(&s->mu);
}

void standin_set_project_type(struct standin *s, const char *type)
{
    pthread_mutex_lock(&s->mu);
    snprintf(s->project_type, sizeof s->project_type, "%s", type);
    pthread_mutex_unlock(&s->mu);
}

void standin_set_project_type2(struct standin *s, const char *project, const char *type)
{
    pthread_mutex_lock(&s->mu);
    snprintf(s->project2, sizeof s->project2, "%s", project);
    snprintf(s->project2_type, sizeof s->project2_type, "%s", type);
    pthread_mutex_unlock(&s->mu);
}

size_t standin_n_records(struct standin *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n_rec;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int standin_record(struct standin *s, const char *key, struct standin_record *out)
{
    pthread_mutex_lock(&s->mu);
    struct standin_record *r = find(s, key);
    if (r) *out = *r;
    pthread_mutex_unlock(&s->mu);
    return r != NULL;
}

int standin_record_at(struct standin *s, size_t i, struct standin_record *out)
{
    pthread_mutex_lock(&s->mu);
    int ok = i < s->n_rec;
    if (ok) *out = s->rec[i];
    pthread_mutex_unlock(&s->mu);
    return ok;
}

size_t standin_n_requests(struct standin *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n_requests;
    pthread_mutex_unlock(&s->mu);
    return n;
}
