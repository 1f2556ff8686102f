/*
 * test_al_config.c - active-learning configuration parsing (every error
 * names its JSON path), the seedable PRNG, the classification sampling
 * strategies (multi-label rules) and batch names.
 */
#include <string.h>

#include "al/al.h"
#include "core/core.h"
#include "test.h"

static const char *FULL =
    "{\"enabled\": true, \"max_image_size\": [480, 640], \"jpeg_compression_level\": 80,"
    " \"persist_predictions\": true, \"tags\": [\"site-a\"],"
    " \"sampling_strategies\": ["
    "  {\"name\": \"rnd\", \"type\": \"random\", \"traffic_percentage\": 0.1, \"tags\": [\"r\"],"
    "   \"limits\": [{\"type\": \"minutely\", \"value\": 10}, {\"type\": \"daily\", \"value\": "
    "100}]},"
    "  {\"name\": \"near\", \"type\": \"close_to_threshold\", \"threshold\": 0.5,"
    "   \"epsilon\": 0.1, \"probability\": 1.0, \"only_top_classes\": false},"
    "  {\"name\": \"cls\", \"type\": \"classes_based\", \"selected_class_names\": [\"cat\"],"
    "   \"probability\": 0.5}],"
    " \"batching_strategy\": {\"batches_name_prefix\": \"al\", \"recreation_interval\": \"daily\","
    "   \"max_batch_images\": 500},"
    " \"target_project\": \"other\"}";

static mlc_status parse(const char *json, struct al_config *c, mlc_error *e)
{
    return al_config_parse(json, strlen(json), "cfg.json", c, e);
}

static void test_full_config(void)
{
    struct al_config c;
    mlc_error e = {0};
    CHECK_OK(parse(FULL, &c, &e), &e);
    CHECK(c.enabled && c.persist_predictions);
    CHECK(c.max_image_h == 480 && c.max_image_w == 640 && c.jpeg_quality == 80);
    CHECK(c.n_tags == 1 && !strcmp(c.tags[0], "site-a"));
    CHECK(c.n_strategies == 3);
    CHECK(c.strategies[0].type == AL_STRATEGY_RANDOM && c.strategies[0].n_limits == 2);
    CHECK(c.strategies[0].limits[1].kind == AL_LIMIT_DAILY &&
          c.strategies[0].limits[1].value == 100);
    CHECK(c.strategies[1].type == AL_STRATEGY_CLOSE_TO_THRESHOLD &&
          !c.strategies[1].only_top_classes);
    CHECK(c.strategies[2].type == AL_STRATEGY_CLASSES_BASED && c.strategies[2].threshold == 0.5 &&
          c.strategies[2].epsilon == 1.0 && c.strategies[2].only_top_classes);
    CHECK(c.recreation == AL_RECREATE_DAILY && c.max_batch_images == 500);
    CHECK(c.target_project && !strcmp(c.target_project, "other"));
    al_config_clear(&c);

    /* Disabled needs nothing else; defaults hold. */
    CHECK_OK(parse("{\"enabled\": false}", &c, &e), &e);
    CHECK(!c.enabled && c.jpeg_quality == 95);
    al_config_clear(&c);
}

/* Each bad config fails with `status` and a message containing `path`. */
static void expect_bad(const char *json, mlc_status status, const char *path)
{
    struct al_config c;
    mlc_error e = {0};
    mlc_status st = parse(json, &c, &e);
    CHECK_MSG(st == status, "status %d for %s", (int)st, json);
    CHECK_MSG(strstr(e.message, path) != NULL, "'%s' not in '%s'", path, e.message);
    CHECK(strstr(e.message, "cfg.json") != NULL);
}

#define BASE_OK                                                                                    \
    "\"persist_predictions\": false, \"batching_strategy\": {\"batches_name_prefix\": \"b\","      \
    " \"recreation_interval\": \"never\"}"

static void test_bad_configs(void)
{
    size_t live = core_alloc_live_bytes();
    expect_bad("{\"enabled\": true,", MLC_STATUS_BAD_JSON, "line 1");
    expect_bad("[1]", MLC_STATUS_INVALID_ARGUMENT, "$");
    expect_bad("{}", MLC_STATUS_INVALID_ARGUMENT, "$.enabled");
    expect_bad("{\"enabled\": \"yes\"}", MLC_STATUS_INVALID_ARGUMENT, "$.enabled");
    expect_bad("{\"enabled\": true, \"sampling_strategies\": []}", MLC_STATUS_INVALID_ARGUMENT,
               "$.persist_predictions");
    expect_bad("{\"enabled\": true, " BASE_OK "}", MLC_STATUS_INVALID_ARGUMENT,
               "$.sampling_strategies");
    expect_bad("{\"enabled\": true, " BASE_OK ", \"sampling_strategies\": ["
               "{\"name\": \"a\", \"type\": \"random\", \"traffic_percentage\": 1},"
               "{\"name\": \"b\", \"type\": \"randm\"}]}",
               MLC_STATUS_INVALID_ARGUMENT, "$.sampling_strategies[1].type");
    expect_bad("{\"enabled\": true, " BASE_OK ", \"sampling_strategies\": ["
               "{\"name\": \"a\", \"type\": \"random\", \"traffic_percentage\": 1,"
               " \"limits\": [{\"type\": \"daily\", \"value\": -1}]}]}",
               MLC_STATUS_INVALID_ARGUMENT, "$.sampling_strategies[0].limits[0].value");
    expect_bad("{\"enabled\": true, " BASE_OK ", \"sampling_strategies\": ["
               "{\"name\": \"a\", \"type\": \"random\", \"traffic_percentage\": 1,"
               " \"limits\": [{\"type\": \"weekly\", \"value\": 1}]}]}",
               MLC_STATUS_INVALID_ARGUMENT, "$.sampling_strategies[0].limits[0].type");
    expect_bad("{\"enabled\": true, " BASE_OK ", \"sampling_strategies\": ["
               "{\"name\": \"a\", \"type\": \"random\", \"traffic_percentage\": 1.5}]}",
               MLC_STATUS_INVALID_ARGUMENT, "$.sampling_strategies[0].traffic_percentage");
    expect_bad("{\"enabled\": true, " BASE_OK ", \"sampling_strategies\": ["
               "{\"name\": \"a\", \"type\": \"close_to_threshold\", \"threshold\": 0.5,"
               " \"probability\": 1}]}",
               MLC_STATUS_INVALID_ARGUMENT, "$.sampling_strategies[0].epsilon");
    expect_bad("{\"enabled\": true, " BASE_OK ", \"sampling_strategies\": ["
               "{\"name\": \"a\", \"type\": \"classes_based\", \"probability\": 1}]}",
               MLC_STATUS_INVALID_ARGUMENT, "$.sampling_strategies[0].selected_class_names");
    expect_bad("{\"enabled\": true, " BASE_OK ", \"sampling_strategies\": ["
               "{\"name\": \"a\", \"type\": \"random\", \"traffic_percentage\": 1},"
               "{\"name\": \"a\", \"type\": \"random\", \"traffic_percentage\": 1}]}",
               MLC_STATUS_INVALID_ARGUMENT, "$.sampling_strategies[1].name");
    expect_bad("{\"enabled\": true, " BASE_OK ", \"jpeg_compression_level\": 0,"
               " \"sampling_strategies\": []}",
               MLC_STATUS_INVALID_ARGUMENT, "$.jpeg_compression_level");
    expect_bad("{\"enabled\": true, " BASE_OK ", \"max_image_size\": [10],"
               " \"sampling_strategies\": []}",
               MLC_STATUS_INVALID_ARGUMENT, "$.max_image_size");
    expect_bad("{\"enabled\": true, \"persist_predictions\": true, \"sampling_strategies\": [],"
               " \"batching_strategy\": {\"batches_name_prefix\": \"b\","
               " \"recreation_interval\": \"hourly\"}}",
               MLC_STATUS_INVALID_ARGUMENT, "$.batching_strategy.recreation_interval");
    expect_bad("{\"enabled\": true, \"persist_predictions\": true, \"sampling_strategies\": [],"
               " \"batching_strategy\": {\"batches_name_prefix\": \"b\","
               " \"recreation_interval\": \"never\", \"max_batch_images\": 0}}",
               MLC_STATUS_INVALID_ARGUMENT, "$.batching_strategy.max_batch_images");
    expect_bad("{\"enabled\": false, \"sink\": {\"type\": \"s3\"}}", MLC_STATUS_INVALID_ARGUMENT,
               "$.sink.type");
    expect_bad("{\"enabled\": true, " BASE_OK ", \"tags\": [1], \"sampling_strategies\": []}",
               MLC_STATUS_INVALID_ARGUMENT, "$.tags[0]");
    /* More strategies than the limit: refused before the quadratic
     * duplicate-name check could run for minutes. */
    struct core_buf b;
    core_buf_init(&b, 0);
    core_buf_printf(&b, "{\"enabled\": true, " BASE_OK ", \"sampling_strategies\": [");
    for (int i = 0; i < 1025; i++)
        core_buf_printf(&b,
                        "%s{\"name\": \"s%d\", \"type\": \"random\", "
                        "\"traffic_percentage\": 1}",
                        i ? "," : "", i);
    core_buf_printf(&b, "]}");
    CHECK(b.data != NULL);
    if (b.data) expect_bad(b.data, MLC_STATUS_LIMIT, "$.sampling_strategies: has 1025");
    core_buf_free(&b);
    CHECK(core_alloc_live_bytes() == live); /* failures leak nothing */

    struct al_config c;
    mlc_error e = {0};
    CHECK(al_config_load_file("/nonexistent/al.json", &c, &e) == MLC_STATUS_NOT_FOUND);
    CHECK(strstr(e.message, "/nonexistent/al.json") != NULL);
}

static void test_rng(void)
{
    struct al_rng a, b, c;
    al_rng_seed(&a, 42);
    al_rng_seed(&b, 42);
    al_rng_seed(&c, 43);
    int same = 1, differ = 0;
    double sum = 0;
    for (int i = 0; i < 10000; i++) {
        double x = al_rng_uniform(&a), y = al_rng_uniform(&b), z = al_rng_uniform(&c);
        CHECK(x >= 0 && x < 1);
        same &= x == y;
        differ |= x != z;
        sum += x;
    }
    CHECK(same && differ);
    CHECK_NEAR(sum / 10000, 0.5, 0.02);
}

static void test_strategies(void)
{
    struct al_rng r;
    al_rng_seed(&r, 7);
    struct al_strategy s;
    memset(&s, 0, sizeof s);

    /* random: the fraction follows traffic_percentage; 0 and 1 are exact. */
    s.type = AL_STRATEGY_RANDOM;
    s.traffic_percentage = 0.25;
    int hits = 0;
    for (int i = 0; i < 4000; i++) hits += al_strategy_matches(&s, NULL, 0, &r);
    CHECK(hits > 850 && hits < 1150);
    s.traffic_percentage = 0;
    hits = 0;
    for (int i = 0; i < 100; i++) hits += al_strategy_matches(&s, NULL, 0, &r);
    CHECK(hits == 0);

    /* close_to_threshold, multi-label: |c - t| < eps strictly, among
     * predicted classes when only_top_classes. */
    struct al_class_score cls[3] = {{"cat", 0.75, 1}, {"dog", 0.55, 0}, {"cow", 0.1, 0}};
    s.type = AL_STRATEGY_CLOSE_TO_THRESHOLD;
    s.threshold = 0.5;
    s.epsilon = 0.25;
    s.probability = 1.0;
    s.only_top_classes = 1;
    CHECK(!al_strategy_matches(&s, cls, 3, &r)); /* cat: |0.75-0.5| == eps, not < */
    s.only_top_classes = 0;
    CHECK(al_strategy_matches(&s, cls, 3, &r)); /* dog is close, any class counts */
    char *sel[] = {"cow"};
    s.selected_class_names = sel;
    s.n_selected = 1;
    CHECK(!al_strategy_matches(&s, cls, 3, &r)); /* cow is far */
    s.threshold = 0.2;
    CHECK(al_strategy_matches(&s, cls, 3, &r));
    s.probability = 0;
    CHECK(!al_strategy_matches(&s, cls, 3, &r));

    /* classes_based: any predicted class in the selection. */
    memset(&s, 0, sizeof s);
    s.type = AL_STRATEGY_CLASSES_BASED;
    s.threshold = 0.5;
    s.epsilon = 1.0;
    s.only_top_classes = 1;
    s.probability = 1.0;
    char *cat[] = {"cat"}, *dog[] = {"dog"};
    s.selected_class_names = cat;
    s.n_selected = 1;
    CHECK(al_strategy_matches(&s, cls, 3, &r));
    s.selected_class_names = dog; /* dog is not predicted */
    CHECK(!al_strategy_matches(&s, cls, 3, &r));
    s.n_selected = 0; /* an empty selection selects nothing */
    CHECK(!al_strategy_matches(&s, cls, 3, &r));

    s.type = AL_STRATEGY_DETECTIONS_NUMBER;
    CHECK(!al_strategy_matches(&s, cls, 3, &r));
}

static void test_batch_names(void)
{
    struct al_config c;
    memset(&c, 0, sizeof c);
    c.batches_name_prefix = "al";
    int64_t thu = 1715860800; /* 2024-05-16 12:00:00 UTC, a Thursday */
    const struct {
        enum al_recreation r;
        const char *want;
    } cases[] = {{AL_RECREATE_NEVER, "al"},
                 {AL_RECREATE_DAILY, "al_2024_05_16"},
                 {AL_RECREATE_WEEKLY, "al_2024_05_13"},
                 {AL_RECREATE_MONTHLY, "al_2024_05_01"}};
    for (size_t i = 0; i < 4; i++) {
        c.recreation = cases[i].r;
        char *n = al_batch_name(&c, thu);
        CHECK_MSG(n && !strcmp(n, cases[i].want), "%s vs %s", n, cases[i].want);
        mlc_free(n);
    }
    c.recreation = AL_RECREATE_WEEKLY; /* a Monday maps to itself */
    char *n = al_batch_name(&c, thu - 3 * 86400);
    CHECK(n && !strcmp(n, "al_2024_05_13"));
    mlc_free(n);
}

/* Every allocation failing in turn: NO_MEMORY (or OK once the walk is past
 * the last allocation), nothing leaked. */
static void test_alloc_failures(void)
{
    size_t live = core_alloc_live_bytes();
    long n;
    for (n = 1; n < 500; n++) {
        struct al_config c;
        mlc_error e = {0};
        core_alloc_fail_after(n);
        mlc_status st = parse(FULL, &c, &e);
        core_alloc_fail_after(0);
        if (st == MLC_OK) {
            al_config_clear(&c);
            break;
        }
        CHECK_MSG(st == MLC_STATUS_NO_MEMORY, "allocation %ld: status %d (%s)", n, (int)st,
                  e.message);
        CHECK(core_alloc_live_bytes() == live);
    }
    CHECK(n > 10 && n < 500); /* the walk reached success */
    CHECK(core_alloc_live_bytes() == live);
}

int main(void)
{
    TEST_RUN(test_full_config);
    TEST_RUN(test_bad_configs);
    TEST_RUN(test_rng);
    TEST_RUN(test_strategies);
    TEST_RUN(test_batch_names);
    TEST_RUN(test_alloc_failures);
    TEST_DONE();
}
