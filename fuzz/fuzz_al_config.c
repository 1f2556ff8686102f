/*
 * fuzz_al_config.c - libFuzzer target over the active-learning
 * configuration parser (al_config_parse) and the batch-name builder that
 * uses what it parsed: any bytes give MLC_OK or an error naming the origin,
 * never a crash, hang or leak. On success every strategy has a name and the
 * counts match the arrays. Seeds: fuzz/corpus/fuzz_al_config/.
 */
#include <stddef.h>
#include <stdint.h>

#include "al/al.h"
#include "core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct al_config c;
    mlc_error err = {0};
    if (al_config_parse((const char *)data, size, "fuzz.json", &c, &err) != MLC_OK) {
        CORE_ASSERT(err.message[0] != '\0');
        return 0;
    }
    for (size_t i = 0; i < c.n_strategies; i++) {
        CORE_ASSERT(c.strategies[i].name != NULL);
        for (size_t k = 0; k < c.strategies[i].n_tags; k++)
            CORE_ASSERT(c.strategies[i].tags[k] != NULL);
    }
    if (c.enabled && c.batches_name_prefix) {
        char *b = al_batch_name(&c, 1715817600); /* 2024-05-16 */
        mlc_free(b);
    }
    al_config_clear(&c);
    return 0;
}
