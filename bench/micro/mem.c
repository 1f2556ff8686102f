/*
 * mem.c - what populating fresh memory costs, with and without offering it to
 * transparent huge pages: the measurement behind core_prefault (src/core/
 * alloc.c) and docs/PERFORMANCE.md's "Huge pages". Allocates 32 MiB, offers
 * its 2 MiB extents to THP or not (MADV_HUGEPAGE), populates it with
 * MADV_POPULATE_WRITE and frees it, three times each way, taking turns, in
 * one process: the first huge-page round touches memory the VM has never
 * backed. Then core_prefault on 128 MiB with one thread and with two, three
 * times each way. Not a test: it asserts nothing.
 *   build-release/bench/micro/mlc_micro_mem
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core/core.h"
#include "micro.h"

int main(void)
{
    const size_t n = (size_t)32 << 20;
    const uintptr_t huge = (uintptr_t)2 << 20, page = 4096;
    printf("populate 32 MiB, ms (4 KiB pages / offered to huge pages):\n");
    for (int r = 0; r < 3; r++) {
        for (int h = 0; h < 2; h++) {
            char *p = malloc(n); /* checksrc: ok (measures the libc allocator) */
            if (!p) return 1;
            uintptr_t b = (uintptr_t)p, e = b + n;
            double t0 = now_ms();
            uintptr_t hb = (b + huge - 1) & ~(huge - 1), he = e & ~(huge - 1);
            if (h && he > hb) (void)madvise((void *)hb, he - hb, MADV_HUGEPAGE);
#ifdef MADV_POPULATE_WRITE
            uintptr_t pb = (b + page - 1) & ~(page - 1), pe = e & ~(page - 1);
            (void)madvise((void *)pb, pe - pb, MADV_POPULATE_WRITE);
#else
            for (size_t i = 0; i < n; i += page) p[i] = 1;
#endif
            printf("   %s %.2f", h ? "/" : "", now_ms() - t0);
            free(p); /* checksrc: ok */
        }
        printf("\n");
    }
    printf("core_prefault 128 MiB, ms (one thread / two):\n");
    for (int r = 0; r < 3; r++) {
        for (int t = 1; t <= 2; t++) {
            size_t m = (size_t)128 << 20;
            char *p = mmap(NULL, m, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) return 1;
            double t0 = now_ms();
            core_prefault(p, m, t);
            printf("   %s %.2f", t == 2 ? "/" : "", now_ms() - t0);
            munmap(p, m);
        }
        printf("\n");
    }
    return 0;
}
