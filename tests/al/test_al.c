/*
 * test_al.c - the active-learning manager end to end: local dataset sink,
 * Roboflow upload against a local stand-in (tests/al/standin.c) with
 * failures (500, 401, slow, refused, 400, annotate failing), limits that
 * persist across restarts, seeded determinism, downscaling, and a child
 * killed with SIGKILL mid-burst whose acknowledged datapoints all reach the
 * stand-in exactly once after replay.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "al/al.h"
#include "core/core.h"
#include "standin.h"
#include "test.h"

static const char *PRED =
    "{\"inference_id\":\"inf-1\",\"time\":0.01,\"image\":{\"width\":64,\"height\":48},"
    "\"predictions\":{\"cat\":{\"confidence\":0.9,\"class_id\":0},"
    "\"dog\":{\"confidence\":0.45,\"class_id\":1}},\"predicted_classes\":[\"cat\"],"
    "\"prediction_type\":\"classification\"}";

#define CFG_HEAD "{\"enabled\":true,\"persist_predictions\":true,\"tags\":[\"t1\"],"
#define CFG_BATCH                                                                                  \
    "\"batching_strategy\":{\"batches_name_prefix\":\"b\",\"recreation_interval\":\"never\"}"
#define CFG_ALL                                                                                    \
    CFG_HEAD "\"sampling_strategies\":[{\"name\":\"all\",\"type\":\"random\","                     \
             "\"traffic_percentage\":1.0,\"tags\":[\"s1\"]}]," CFG_BATCH "}"

static char g_tmp[64];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p);
}

static const char *tmp(const char *sub)
{
    static char buf[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", g_tmp, sub);
    return buf[i];
}

static void fresh_tmp(void)
{
    if (g_tmp[0]) nftw(g_tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    snprintf(g_tmp, sizeof g_tmp, "/tmp/mlc-al-XXXXXX");
    if (!mkdtemp(g_tmp)) abort();
}

static mlc_image *make_image(int w, int h, int seed)
{
    uint8_t *px = mlc_alloc((size_t)w * (size_t)h * 3);
    for (int i = 0; i < w * h * 3; i++) px[i] = (uint8_t)(i * 7 + seed * 13);
    mlc_image *im = NULL;
    mlc_error e;
    if (mlc_image_from_bgr(px, w, h, (size_t)w * 3, &im, &e)) im = NULL;
    mlc_free(px);
    return im;
}

static struct al_options local_opts(const char *cfg)
{
    struct al_options o;
    memset(&o, 0, sizeof o);
    o.queue_dir = tmp("queue");
    o.local_dir = tmp("dataset");
    o.config_json = cfg;
    o.model_id = "proj/3";
    o.seed = 1;
    o.offline = 1;
    return o;
}

static char *read_text(const char *path)
{
    char *d = NULL;
    size_t n;
    if (core_read_file(path, 0, &d, &n, NULL)) return NULL;
    return d;
}

static void test_local_sink(void)
{
    fresh_tmp();
    struct al_options o = local_opts(CFG_ALL);
    struct al_manager *m = NULL;
    mlc_error e = {0};
    CHECK_OK(al_manager_create(&o, &m, &e), &e);
    if (!m) return;
    mlc_image *im = make_image(64, 48, 1);
    char keys[3][37];
    for (int i = 0; i < 2; i++)
        CHECK(al_register(m, im, PRED, "proj/3", NULL, "inf-1", keys[i]) == AL_QUEUED);
    CHECK(al_register(m, im, PRED, "proj/3", "other", "inf-2", keys[2]) == AL_QUEUED);
    CHECK(strcmp(keys[0], keys[1]) != 0);
    CHECK(al_flush(m, 20000) == 0);
    for (int i = 0; i < 3; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s/b/%s.jpg", o.local_dir, i == 2 ? "other" : "proj", keys[i]);
        char *jpg = read_text(p);
        CHECK_MSG(jpg && (uint8_t)jpg[0] == 0xff && (uint8_t)jpg[1] == 0xd8, "%s", p);
        mlc_free(jpg);
        snprintf(p, sizeof p, "%s/%s/b/%s.json", o.local_dir, i == 2 ? "other" : "proj", keys[i]);
        char *ann = read_text(p);
        CHECK_MSG(ann != NULL, "%s", p);
        if (ann) {
            CHECK(strstr(ann, "\"predicted_classes\"") && strstr(ann, "\"cat\""));
            CHECK(strstr(ann, "\"t1\"") && strstr(ann, "\"s1\"") && strstr(ann, "\"proj-3\""));
            CHECK(strstr(ann, "\"batch\": \"b\"") && strstr(ann, keys[i]));
            CHECK(strstr(ann, i == 2 ? "inf-2" : "inf-1"));
        }
        mlc_free(ann);
    }
    CHECK(al_pending(m) == 0);
    al_manager_free(m, 1000);

    /* The config's target_project beats the block's override (Roboflow). */
    const char *cfg2 =
        CFG_HEAD "\"target_project\":\"fixed\",\"sampling_strategies\":[{\"name\":"
                 "\"all\",\"type\":\"random\",\"traffic_percentage\":1}]," CFG_BATCH "}";
    o = local_opts(cfg2);
    CHECK_OK(al_manager_create(&o, &m, &e), &e);
    char key[37];
    CHECK(al_register(m, im, PRED, "proj/3", "other", NULL, key) == AL_QUEUED);
    CHECK(al_flush(m, 20000) == 0);
    char p[512];
    snprintf(p, sizeof p, "%s/fixed/b/%s.jpg", o.local_dir, key);
    CHECK(core_file_exists(p));
    al_manager_free(m, 0);
    mlc_image_free(im);
}

static void test_disabled_and_bad_input(void)
{
    fresh_tmp();
    mlc_image *im = make_image(16, 16, 2);
    CHECK(al_register(NULL, im, PRED, "proj/3", NULL, NULL, NULL) == AL_DISABLED);
    struct al_options o = local_opts("{\"enabled\": false}");
    struct al_manager *m = NULL;
    mlc_error e = {0};
    CHECK_OK(al_manager_create(&o, &m, &e), &e);
    CHECK(m && al_register(m, im, PRED, "proj/3", NULL, NULL, NULL) == AL_DISABLED);
    al_manager_free(m, 0);

    o = local_opts(CFG_ALL);
    CHECK_OK(al_manager_create(&o, &m, &e), &e);
    CHECK(al_register(m, im, "{not json", "proj/3", NULL, NULL, NULL) == AL_DROPPED);
    char msg[MLC_ERROR_MAX];
    al_manager_last_error(m, msg, sizeof msg);
    CHECK_MSG(strstr(msg, "prediction") != NULL, "%s", msg);
    CHECK(al_register(m, im, "{\"top\":\"cat\"}", "proj/3", NULL, NULL, NULL) == AL_DROPPED);
    CHECK(al_register(m, NULL, PRED, "proj/3", NULL, NULL, NULL) == AL_DROPPED);
    CHECK(al_register(m, im, "{\"is_stub\":true,\"predictions\":{}}", "proj/3", NULL, NULL, NULL) ==
          AL_NOT_SAMPLED);
    CHECK(al_pending(m) == 0);

    /* One manager per queue directory. */
    struct al_manager *m2 = NULL;
    CHECK(al_manager_create(&o, &m2, &e) == MLC_STATUS_BUSY && m2 == NULL);
    al_manager_free(m, 0);

    /* A bad configuration fails at load, naming the path. */
    o = local_opts("{\"enabled\": true, \"persist_predictions\": 1}");
    CHECK(al_manager_create(&o, &m, &e) == MLC_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(e.message, "$.persist_predictions") != NULL);
    o.queue_dir = NULL;
    CHECK(al_manager_create(&o, &m, &e) == MLC_STATUS_INVALID_ARGUMENT);
    mlc_image_free(im);
}

static void run_seeded(uint64_t seed, const char *qdir, enum al_outcome *out, int n)
{
    const char *cfg = CFG_HEAD "\"sampling_strategies\":[{\"name\":\"half\",\"type\":\"random\","
                               "\"traffic_percentage\":0.5}]," CFG_BATCH "}";
    struct al_options o = local_opts(cfg);
    o.queue_dir = qdir;
    o.seed = seed;
    o.no_worker = 1;
    struct al_manager *m = NULL;
    mlc_error e = {0};
    CHECK_OK(al_manager_create(&o, &m, &e), &e);
    mlc_image *im = make_image(8, 8, 3);
    for (int i = 0; i < n; i++) out[i] = al_register(m, im, PRED, "proj/3", NULL, NULL, NULL);
    mlc_image_free(im);
    al_manager_free(m, 0);
}

static void test_seeded_determinism(void)
{
    fresh_tmp();
    enum al_outcome a[40], b[40], c[40];
    run_seeded(99, tmp("qa"), a, 40);
    run_seeded(99, tmp("qb"), b, 40);
    run_seeded(100, tmp("qc"), c, 40);
    int queued = 0;
    for (int i = 0; i < 40; i++) queued += a[i] == AL_QUEUED;
    CHECK(!memcmp(a, b, sizeof a));
    CHECK(memcmp(a, c, sizeof a) != 0);
    CHECK(queued > 8 && queued < 32);
}

static void test_limits_persist(void)
{
    fresh_tmp();
    /* "capped" has a daily limit of 3; "fallback" only matches dog-like
     * predictions, so once capped runs dry nothing else takes it. */
    const char *cfg = CFG_HEAD
        "\"sampling_strategies\":[{\"name\":\"capped\",\"type\":\"random\",\"traffic_percentage\":"
        "1,"
        "\"limits\":[{\"type\":\"daily\",\"value\":3},{\"type\":\"minutely\",\"value\":100}]},"
        "{\"name\":\"fallback\",\"type\":\"classes_based\",\"selected_class_names\":[\"cat\"],"
        "\"probability\":1,\"tags\":[\"fb\"],\"limits\":[{\"type\":\"hourly\",\"value\":1}]}],"
        "\"batching_strategy\":{\"batches_name_prefix\":\"b\",\"recreation_interval\":\"daily\"}}";
    int64_t t0 = 1715860800;
    struct al_options o = local_opts(cfg);
    o.fixed_time = t0;
    o.no_worker = 1;
    struct al_manager *m = NULL;
    mlc_error e = {0};
    CHECK_OK(al_manager_create(&o, &m, &e), &e);
    mlc_image *im = make_image(8, 8, 4);
    int q = 0, lim = 0;
    for (int i = 0; i < 6; i++) {
        enum al_outcome r = al_register(m, im, PRED, "proj/3", NULL, NULL, NULL);
        q += r == AL_QUEUED;
        lim += r == AL_LIMITED;
    }
    CHECK_MSG(q == 4 && lim == 2, "queued %d limited %d", q, lim); /* 3 capped + 1 fallback */
    CHECK(al_pending(m) == 4);
    al_manager_free(m, 0);

    /* A restart does not reset the counters. */
    CHECK_OK(al_manager_create(&o, &m, &e), &e);
    CHECK(al_register(m, im, PRED, "proj/3", NULL, NULL, NULL) == AL_LIMITED);
    al_manager_free(m, 0);
    /* The next UTC day has fresh credit, and a new daily batch. */
    o.fixed_time = t0 + 86400;
    CHECK_OK(al_manager_create(&o, &m, &e), &e);
    CHECK(al_register(m, im, PRED, "proj/3", NULL, NULL, NULL) == AL_QUEUED);
    al_manager_free(m, 0);

    /* max_batch_images, also persisted. */
    fresh_tmp();
    const char *cfg2 = CFG_HEAD "\"sampling_strategies\":[{\"name\":\"all\",\"type\":\"random\","
                                "\"traffic_percentage\":1}],\"batching_strategy\":{"
                                "\"batches_name_prefix\":\"b\",\"recreation_interval\":\"never\","
                                "\"max_batch_images\":2}}";
    o = local_opts(cfg2);
    o.no_worker = 1;
    CHECK_OK(al_manager_create(&o, &m, &e), &e);
    CHECK(al_register(m, im, PRED, "proj/3", NULL, NULL, NULL) == AL_QUEUED);
    CHECK(al_register(m, im, PRED, "proj/3", NULL, NULL, NULL) == AL_QUEUED);
    CHECK(al_register(m, im, PRED, "proj/3", NULL, NULL, NULL) == AL_LIMITED);
    CHECK(al_register(m, im, PRED, "proj/3", "elsewhere", NULL, NULL) == AL_QUEUED);
    al_manager_free(m, 0);
    CHECK_OK(al_manager_create(&o, &m, &e), &e);
    CHECK(al_register(m, im, PRED, "proj/3", NULL, NULL, NULL) == AL_LIMITED);
    al_manager_free(m, 0);
    mlc_image_free(im);
}

/* Width and height from a JPEG's SOF marker. */
static int jpeg_size(const uint8_t *p, size_t n, int *w, int *h)
{
    for (size_t i = 2; i + 9 < n;) {
        if (p[i] != 0xff) return 0;
        uint8_t mk = p[i + 1];
        size_t len = (size_t)(p[i + 2] << 8 | p[i + 3]);
        if (mk >= 0xc0 && mk <= 0xc2) {
            *h = p[i + 5] << 8 | p[i + 6];
            *w = p[i + 7] << 8 | p[i + 8];
            return 1;
        }
        i += 2 + len;
    }
    return 0;
}

static void test_downscale(void)
{
    fresh_tmp();
    const char *cfg = CFG_HEAD "\"max_image_size\":[50,50],\"jpeg_compression_level\":70,"
                               "\"sampling_strategies\":[{\"name\":\"all\",\"type\":\"random\","
                               "\"traffic_percentage\":1}]," CFG_BATCH "}";
    struct al_options o = local_opts(cfg);
    struct al_manager *m = NULL;
    mlc_error e = {0};
    CHECK_OK(al_manager_create(&o, &m, &e), &e);
    mlc_image *big = make_image(200, 100, 5), *small = make_image(40, 30, 6);
    char k1[37], k2[37];
    CHECK(al_register(m, big, PRED, "proj/3", NULL, NULL, k1) == AL_QUEUED);
    CHECK(al_register(m, small, PRED, "proj/3", NULL, NULL, k2) == AL_QUEUED);
    CHECK(al_flush(m, 20000) == 0);
    const char *keys[2] = {k1, k2};
    int want[2][2] = {{50, 25}, {40, 30}};
    for (int i = 0; i < 2; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/proj/b/%s.jpg", o.local_dir, keys[i]);
        char *d = NULL;
        size_t n = 0;
        int w = 0, h = 0;
        CHECK(core_read_file(p, 0, &d, &n, NULL) == MLC_OK);
        CHECK(d && jpeg_size((uint8_t *)d, n, &w, &h));
        CHECK_MSG(w == want[i][0] && h == want[i][1], "%dx%d", w, h);
        mlc_free(d);
    }
    al_manager_free(m, 0);
    mlc_image_free(big);
    mlc_image_free(small);
}

/* The process-wide table the workflow hook uses. */
static void test_global(void)
{
    fresh_tmp();
    mlc_error e = {0};
    char cfg[256];
    snprintf(cfg, sizeof cfg, "%s", tmp("al.json"));
    CHECK_OK(core_write_file_atomic(cfg, CFG_ALL, strlen(CFG_ALL), &e), &e);
    struct al_defaults d = {tmp("queues"), cfg, tmp("dataset"), NULL, 1};
    CHECK_OK(al_global_configure(&d, &e), &e);
    mlc_image *im = make_image(16, 12, 11);
    CHECK(al_global_register(NULL, "proj/3", NULL, im, PRED, "i1") == AL_QUEUED);
    CHECK(al_global_register(NULL, "proj/3", "tgt", im, PRED, "i2") == AL_QUEUED);
    CHECK(al_global_register(NULL, "", NULL, im, PRED, "i3") == AL_DISABLED);
    al_global_shutdown(20000);
    int found = 0;
    const char *dirs[2] = {"dataset/proj/b", "dataset/tgt/b"};
    for (int i = 0; i < 2; i++) {
        DIR *dd = opendir(tmp(dirs[i]));
        for (struct dirent *de; dd && (de = readdir(dd));) found += strstr(de->d_name, ".jpg") != 0;
        if (dd) closedir(dd);
    }
    CHECK(found == 2);
    /* A bad configuration disables AL for that key, without failing. */
    CHECK_OK(core_write_file_atomic(cfg, "{\"enabled\": 3}", 14, &e), &e);
    CHECK_OK(al_global_configure(&d, &e), &e);
    CHECK(al_global_register(NULL, "proj/3", NULL, im, PRED, "i4") == AL_DISABLED);
    CHECK(al_global_register(NULL, "proj/3", NULL, im, PRED, "i5") == AL_DISABLED);
    al_global_shutdown(0);
    mlc_image_free(im);
}

/* ----------------------------------------------------- Roboflow stand-in */

static char g_url[64];
static struct standin *g_s;

static struct al_options rf_opts(struct standin *s, const char *cfg)
{
    struct al_options o;
    memset(&o, 0, sizeof o);
    snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d", s ? standin_port(s) : 1);
    o.queue_dir = tmp("queue");
    o.config_json = cfg;
    o.model_id = "proj/3";
    o.api_key = "k1";
    o.api_url = g_url;
    o.seed = 1;
    o.http_timeout_ms = 5000;
    o.retry_initial_ms = 50;
    return o;
}

static void test_roboflow_upload(void)
{
    struct standin *s = g_s;
    fresh_tmp();
    standin_set_mode(s, STANDIN_OK, 0);
    standin_set_config(s, 200, "{\"config\":" CFG_ALL "}");
    size_t before = standin_n_records(s);
    struct al_options o = rf_opts(s, NULL); /* config fetched from the API */
    struct al_manager *m = NULL;
    mlc_error e = {0};
    CHECK_OK(al_manager_create(&o, &m, &e), &e);
    if (!m) return;
    CHECK(al_manager_config(m)->enabled && al_manager_config(m)->n_strategies == 1);
    mlc_image *im = make_image(64, 48, 7);
    char keys[2][37];
    for (int i = 0; i < 2; i++)
        CHECK(al_register(m, im, PRED, "proj/3", NULL, "inf-9", keys[i]) == AL_QUEUED);
    CHECK(al_flush(m, 20000) == 0);
    CHECK(standin_n_records(s) == before + 2);
    for (int i = 0; i < 2; i++) {
        struct standin_record r;
        CHECK(standin_record(s, keys[i], &r));
        CHECK(r.hits == 1 && r.jpeg_ok);
        CHECK(!strcmp(r.dataset, "proj") && !strcmp(r.batch, "b") && !strcmp(r.api_key, "k1"));
        CHECK_MSG(!strcmp(r.tags, "t1,s1,proj-3"), "%s", r.tags);
        CHECK(strstr(r.annotation, "\"predicted_classes\":[\"cat\"]") != NULL);
        char want[128];
        snprintf(want, sizeof want, "%s.json", keys[i]);
        CHECK(!strcmp(r.annotation_name, want));
    }
    al_manager_free(m, 1000);
    mlc_image_free(im);
}

static void test_config_fetch(void)
{
    struct standin *s = g_s;
    fresh_tmp();
    standin_set_mode(s, STANDIN_OK, 0);
    struct al_manager *m = NULL;
    mlc_error e = {0};
    mlc_image *im = make_image(8, 8, 8);
    /* 404 on .../active_learning: disabled, as in Roboflow. */
    standin_set_config(s, 404, "{}");
    struct al_options o = rf_opts(s, NULL);
    CHECK_OK(al_manager_create(&o, &m, &e), &e);
    CHECK(m && !al_manager_config(m)->enabled);
    CHECK(al_register(m, im, PRED, "proj/3", NULL, NULL, NULL) == AL_DISABLED);
    al_manager_free(m, 0);
    /* Task-type mismatch between the model's project and the dataset
     * (Roboflow fetches the model's project type when the model id does
     * not start with the dataset name): disabled. */
    standin_set_config(s, 200, CFG_ALL);
    o.model_id = "another/2";
    o.project = "proj";
    standin_set_project_type2(s, "another", "object-detection");
    CHECK_OK(al_manager_create(&o, &m, &e), &e);
    CHECK(m && !al_manager_config(m)->enabled);
    al_manager_free(m, 0);
    standin_set_project_type2(s, "another", "multi-label-classification");
    CHECK_OK(al_manager_create(&o, &m, &e), &e);
    CHECK(m && al_manager_config(m)->enabled); /* both classification */
    al_manager_free(m, 0);
    o.model_id = "proj/3";
    o.project = NULL;
    /* A bad configuration from the API names its origin and path. */
    standin_set_config(s, 200, "{\"enabled\": true, \"sampling_strategies\": []}");
    CHECK(al_manager_create(&o, &m, &e) == MLC_STATUS_INVALID_ARGUMENT);
    CHECK_MSG(strstr(e.message, "Roboflow API") && strstr(e.message, "$.persist_predictions"), "%s",
              e.message);
    /* A rejected key is an error the caller can log. */
    standin_set_mode(s, STANDIN_401, 0);
    CHECK(al_manager_create(&o, &m, &e) == MLC_STATUS_UNAUTHORIZED);
    CHECK(strstr(e.message, "proj") != NULL);
    standin_set_mode(s, STANDIN_OK, 0);
    mlc_image_free(im);
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    socklen_t l = sizeof sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    getsockname(fd, (struct sockaddr *)&sa, &l);
    close(fd);
    return ntohs(sa.sin_port);
}

/* A failing sink keeps the datapoint queued (and al_register's answer is
 * unchanged); once the sink is back, the replay delivers it once. */
static void test_sink_failures(void)
{
    struct standin *s = g_s;
    mlc_image *im = make_image(32, 24, 9);
    const enum standin_mode modes[] = {STANDIN_500, STANDIN_401, STANDIN_SLOW, STANDIN_OK};
    for (int k = 0; k < 4; k++) {
        fresh_tmp();
        struct al_options o = rf_opts(s, CFG_ALL);
        char refused[64];
        if (k == 3) { /* connection refused */
            snprintf(refused, sizeof refused, "http://127.0.0.1:%d", closed_port());
            o.api_url = refused;
        }
        standin_set_mode(s, modes[k], 1500);
        o.http_timeout_ms = 300;
        struct al_manager *m = NULL;
        mlc_error e = {0};
        CHECK_OK(al_manager_create(&o, &m, &e), &e);
        char key[37];
        CHECK(al_register(m, im, PRED, "proj/3", NULL, NULL, key) == AL_QUEUED);
        CHECK_MSG(al_flush(m, 800) == 1, "mode %d", k);
        char msg[MLC_ERROR_MAX];
        al_manager_last_error(m, msg, sizeof msg);
        CHECK_MSG(msg[0] != '\0', "mode %d", k);
        al_manager_free(m, 0);

        standin_set_mode(s, STANDIN_OK, 0);
        o = rf_opts(s, CFG_ALL);
        CHECK_OK(al_manager_create(&o, &m, &e), &e);
        CHECK(al_flush(m, 20000) == 0);
        struct standin_record r;
        CHECK_MSG(standin_record(s, key, &r) && r.jpeg_ok, "mode %d", k);
        if (k == 2)
            CHECK(r.hits >= 1); /* the slow first try may have landed: deduplicated */
        else
            CHECK(r.hits == 1);
        al_manager_free(m, 0);
    }

    /* A permanent rejection moves the datapoint aside. */
    fresh_tmp();
    standin_set_mode(s, STANDIN_400, 0);
    struct al_options o = rf_opts(s, CFG_ALL);
    struct al_manager *m = NULL;
    mlc_error e = {0};
    CHECK_OK(al_manager_create(&o, &m, &e), &e);
    char key[37];
    CHECK(al_register(m, im, PRED, "proj/3", NULL, NULL, key) == AL_QUEUED);
    CHECK(al_flush(m, 20000) == 0);
    al_manager_free(m, 0);
    DIR *d = opendir(tmp("queue/failed"));
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));) n += strstr(de->d_name, key) != NULL;
    if (d) closedir(d);
    CHECK(n == 1);
    standin_set_mode(s, STANDIN_OK, 0);

    /* Annotation failing after the image landed: the retry only annotates. */
    fresh_tmp();
    standin_fail_annotate(s, 1);
    o = rf_opts(s, CFG_ALL);
    CHECK_OK(al_manager_create(&o, &m, &e), &e);
    CHECK(al_register(m, im, PRED, "proj/3", NULL, NULL, key) == AL_QUEUED);
    CHECK(al_flush(m, 500) == 1);
    standin_fail_annotate(s, 0);
    CHECK(al_flush(m, 20000) == 0);
    struct standin_record r;
    CHECK(standin_record(s, key, &r) && r.hits == 1 && strstr(r.annotation, "cat"));
    al_manager_free(m, 0);
    mlc_image_free(im);
}

/* A child registers a burst while its sink is slow and is SIGKILLed
 * midway; a new manager replays the queue, and every datapoint the child
 * acknowledged reaches the stand-in, once. */
static void test_kill_and_replay(void)
{
    struct standin *s = g_s;
    fresh_tmp();
    standin_set_mode(s, STANDIN_SLOW, 20);
    size_t before = standin_n_records(s);
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        struct al_options o = rf_opts(s, CFG_ALL);
        struct al_manager *m = NULL;
        mlc_error e;
        if (al_manager_create(&o, &m, &e)) _exit(2);
        mlc_image *im = make_image(48, 32, 10);
        for (int i = 0; i < 400; i++) {
            char key[37], line[40];
            if (al_register(m, im, PRED, "proj/3", NULL, NULL, key) != AL_QUEUED) _exit(3);
            snprintf(line, sizeof line, "%s\n", key);
            if (write(fds[1], line, 37) != 37) _exit(4);
        }
        pause(); /* wait to be killed */
        _exit(0);
    }
    close(fds[1]);
    static char acked[400][37];
    int n = 0;
    char line[37];
    FILE *f = fdopen(fds[0], "r");
    while (n < 400 && fread(line, 1, 37, f) == 37) {
        memcpy(acked[n], line, 36);
        acked[n][36] = '\0';
        if (++n == 40) kill(pid, SIGKILL);
    }
    fclose(f);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(n >= 40);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    standin_set_mode(s, STANDIN_OK, 0);
    struct al_options o = rf_opts(s, CFG_ALL);
    struct al_manager *m = NULL;
    mlc_error e = {0};
    CHECK_OK(al_manager_create(&o, &m, &e), &e);
    CHECK(al_flush(m, 50000) == 0);
    al_manager_free(m, 0);
    int missing = 0;
    for (int i = 0; i < n; i++) {
        struct standin_record r;
        if (!standin_record(s, acked[i], &r) || !r.jpeg_ok) missing++;
    }
    CHECK_MSG(missing == 0, "%d of %d acknowledged datapoints never arrived", missing, n);
    /* Nothing beyond what the child registered, and no key twice. */
    size_t got = standin_n_records(s);
    CHECK(got >= before + (size_t)n && got <= before + 400);
    for (size_t i = before; i < got; i++) {
        struct standin_record a, b;
        standin_record_at(s, i, &a);
        for (size_t j = i + 1; j < got; j++) {
            standin_record_at(s, j, &b);
            CHECK(strcmp(a.key, b.key) != 0);
        }
    }
    fprintf(stderr, "kill test: %d acknowledged, %zu delivered\n", n, got - before);
}

/* A queue file is read back at replay; its key names the files the local
 * sink writes, so anything but a UUID is refused (a tampered queue must not
 * make the sink write outside the dataset directory). */
static void test_queue_entry_key(void)
{
    fresh_tmp();
    static const char *keys[] = {"../../../../../../../../../../tmp/xy",
                                 "0123456789abcdef0123456789abcdef/../",
                                 "0b9f6c1e-8d2a-4c3b-9e4f-../../../x.y"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char *hdr = core_sprintf("{\"v\":1,\"key\":\"%s\",\"target_dataset\":\"d\","
                                 "\"batch\":\"b\",\"model_id\":\"p/1\"}\nJPEG",
                                 keys[i]);
        mlc_error e = {0};
        CHECK(hdr && !core_write_file_atomic(tmp("bad.dp"), hdr, strlen(hdr), &e));
        struct al_datapoint dp;
        mlc_status st = al_datapoint_read(tmp("bad.dp"), &dp, &e);
        CHECK_MSG(st == MLC_STATUS_BAD_JSON, "key '%s' accepted", keys[i]);
        CHECK(strstr(e.message, "key") != NULL);
        if (st == MLC_OK) al_datapoint_clear(&dp);
        mlc_free(hdr);
    }
    const char *ok = "{\"v\":1,\"key\":\"0b9f6c1e-8d2a-4c3b-9e4f-a1b2c3d4e5f6\","
                     "\"target_dataset\":\"d\",\"batch\":\"b\",\"model_id\":\"p/1\"}\nJPEG";
    mlc_error e = {0};
    CHECK(!core_write_file_atomic(tmp("ok.dp"), ok, strlen(ok), &e));
    struct al_datapoint dp;
    CHECK_OK(al_datapoint_read(tmp("ok.dp"), &dp, &e), &e);
    CHECK(dp.jpeg_n == 4 && !strcmp(dp.key, "0b9f6c1e-8d2a-4c3b-9e4f-a1b2c3d4e5f6"));
    al_datapoint_clear(&dp);
}

int main(void)
{
    TEST_RUN(test_queue_entry_key);
    TEST_RUN(test_local_sink);
    TEST_RUN(test_disabled_and_bad_input);
    TEST_RUN(test_seeded_determinism);
    TEST_RUN(test_limits_persist);
    TEST_RUN(test_downscale);
    TEST_RUN(test_global);
    struct standin *s = g_s = standin_start();
    if (!s) test_failed++;
    if (s) {
        TEST_RUN(test_roboflow_upload);
        TEST_RUN(test_config_fetch);
        TEST_RUN(test_sink_failures);
        TEST_RUN(test_kill_and_replay);
        standin_stop(s);
    }
    if (g_tmp[0]) nftw(g_tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    TEST_DONE();
}
