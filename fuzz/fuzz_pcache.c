/*
 * fuzz_pcache.c - libFuzzer target over the packed-weights cache file reader
 * (engine/pcache.c). The input becomes the cache file of a small model,
 * stamped with that model's identity and hashes (eng_pcache_seal) so that the
 * fuzzer reaches the entry table; opening must not crash, leak or read out
 * of bounds, and every entry it accepts must lie inside the file.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/pcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char model[64], dir[32];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/mlc_fzpc_XXXXXX");
        if (!mkdtemp(dir)) abort();
        snprintf(model, sizeof model, "%s/m.onnx", dir);
        FILE *f = fopen(model, "wb");
        if (!f || fwrite("model", 1, 5, f) != 5) abort();
        fclose(f);
    }
    if (size > (4u << 20)) return 0;
    mlc_error e;
    struct eng_pcache *pc = NULL;
    if (eng_pcache_open(dir, model, "fuzz variant", &pc, &e) || !pc) abort();
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) abort();
    memcpy(buf, data, size);
    eng_pcache_seal(pc, buf, size);
    FILE *f = fopen(eng_pcache_path(pc), "wb");
    if (!f || fwrite(buf, 1, size, f) != size) abort();
    fclose(f);
    free(buf);
    eng_pcache_free(pc);
    pc = NULL;
    if (eng_pcache_open(dir, model, "fuzz variant", &pc, &e) || !pc) abort();
    struct onnx_span *sp = NULL;
    int n = eng_pcache_lazy(pc, &sp);
    volatile uint8_t sink = 0;
    for (int i = 0; i < n; i++) {
        const void *md, *d;
        size_t mds, nb;
        for (int k = 0; eng_pcache_find(pc, sp[i].name, sp[i].off, k, &md, &mds, &d, &nb) == 0; k++)
            if (nb) sink ^= ((const uint8_t *)d)[nb - 1] ^ ((const uint8_t *)md)[mds ? mds - 1 : 0];
    }
    (void)sink;
    mlc_free(sp);
    eng_pcache_free(pc);
    return 0;
}
