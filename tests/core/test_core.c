/* Tests of src/core: errors, arenas, capped buffers, base64, .npy, files. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "test.h"

/* core_prefault populates every page of a buffer, on one thread or split
 * across several (parts of odd sizes, an unaligned start), and leaves the
 * contents alone: after it, writing every page takes few page faults.
 * Skipped where the kernel has no MADV_POPULATE_WRITE (Linux < 5.14). */
static void test_prefault(void)
{
#ifdef MADV_POPULATE_WRITE
    const size_t n = ((size_t)9 << 20) + 12345, page = 4096;
    const int threads[] = {0, 1, 2, 3, 8};
    for (size_t k = 0; k < sizeof threads / sizeof threads[0]; k++) {
        char *m = mmap(NULL, n + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(m != MAP_FAILED);
        if (m == MAP_FAILED) return;
        if (madvise(m, page, MADV_POPULATE_WRITE) != 0) { /* not on this kernel */
            munmap(m, n + page);
            printf("prefault: MADV_POPULATE_WRITE refused, skipped\n");
            return;
        }
        char *p = m + 100; /* not page aligned */
        p[0] = 7, p[n - 1] = 9;
        core_prefault(p, n, threads[k]);
        CHECK(p[0] == 7 && p[n - 1] == 9);
        struct rusage r0, r1;
        getrusage(RUSAGE_SELF, &r0);
        for (size_t i = page; i + page < n; i += page) p[i] = 1;
        getrusage(RUSAGE_SELF, &r1);
        long faults = r1.ru_minflt - r0.ru_minflt;
        /* AddressSanitizer's shadow takes one fault per 8 pages written. */
        CHECK_MSG(faults < (long)(n / page / 4),
                  "threads %d: %ld page faults after prefault (of %zu pages)", threads[k], faults,
                  n / page);
        munmap(m, n + page);
    }
#endif
}

static void test_status_names(void)
{
    CHECK(!strcmp(mlc_status_str(MLC_OK), "ok"));
    CHECK(!strcmp(mlc_status_str(MLC_STATUS_BAD_IMAGE), "bad image"));
    CHECK(!strcmp(mlc_status_str((mlc_status)999), "unknown status"));
    mlc_error e;
    CHECK(core_err(&e, MLC_STATUS_IO, "cannot open '%s'", "x.jpg") == MLC_STATUS_IO);
    CHECK(e.status == MLC_STATUS_IO);
    CHECK(!strcmp(e.message, "cannot open 'x.jpg'"));
    core_err_prefix(&e, "step '%s'", "ml");
    CHECK(!strcmp(e.message, "step 'ml': cannot open 'x.jpg'"));
}

static void test_arena(void)
{
    struct core_arena a;
    core_arena_init(&a, 1 << 20);
    char *p = core_arena_alloc(&a, 10);
    CHECK(p && ((uintptr_t)p & 15) == 0);
    for (int i = 0; i < 1000; i++) CHECK(core_arena_alloc(&a, 100) != NULL);
    CHECK(core_arena_alloc(&a, 2 << 20) == NULL); /* over the cap */
    core_arena_reset(&a);
    CHECK(a.used_total == 0);
    CHECK(!strcmp(core_arena_strdup(&a, "abc"), "abc"));
    core_arena_free(&a);
}

static void test_buf_cap(void)
{
    struct core_buf b;
    core_buf_init(&b, 8);
    CHECK(core_buf_append(&b, "12345", 5) == MLC_OK);
    CHECK(core_buf_printf(&b, "%d", 678) == MLC_OK);
    CHECK(core_buf_append(&b, "9", 1) == MLC_STATUS_LIMIT);
    CHECK(b.len == 8 && !strcmp(b.data, "12345678"));
    char *s = core_buf_take(&b);
    CHECK(!strcmp(s, "12345678"));
    mlc_free(s);
}

static void test_base64(void)
{
    mlc_error e;
    const char *msgs[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    for (size_t i = 0; i < 7; i++) {
        char *enc = core_base64_encode(msgs[i], strlen(msgs[i]));
        uint8_t *dec = NULL;
        size_t n = 0;
        CHECK_OK(core_base64_decode(enc, strlen(enc), &dec, &n, &e), &e);
        CHECK(n == strlen(msgs[i]) && !memcmp(dec, msgs[i], n));
        mlc_free(enc);
        mlc_free(dec);
    }
    uint8_t *dec = NULL;
    size_t n = 0;
    CHECK(core_base64_decode("Zm9v\nYmFy", 9, &dec, &n, &e) == MLC_OK && n == 6);
    mlc_free(dec);
    CHECK(core_base64_decode("Zm9v!", 5, &dec, &n, &e) == MLC_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(e.message, "offset 4") != NULL);
    CHECK(core_base64_decode("Zm9vY", 5, &dec, &n, &e) == MLC_STATUS_INVALID_ARGUMENT);
}

static void test_npy_roundtrip(void)
{
    mlc_error e;
    char path[] = "/tmp/mlc_test_npy_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    float v[6] = {1, 2, 3, 4, 5, -6.5f};
    mlc_tensor t = {MLC_DTYPE_F32, 2, {2, 3}, v};
    CHECK_OK(mlc_tensor_save_npy(path, &t, &e), &e);
    mlc_tensor r;
    CHECK_OK(mlc_tensor_load_npy(path, &r, &e), &e);
    CHECK(r.dtype == MLC_DTYPE_F32 && r.rank == 2 && r.dims[0] == 2 && r.dims[1] == 3);
    CHECK(!memcmp(r.data, v, sizeof v));
    mlc_free(r.data);
    /* A truncated file is an error naming the file, not a crash. */
    FILE *f = fopen(path, "r+b");
    CHECK(f && ftruncate(fileno(f), 100) == 0);
    fclose(f);
    CHECK(mlc_tensor_load_npy(path, &r, &e) != MLC_OK);
    CHECK(strstr(e.message, path) != NULL);
    unlink(path);
    CHECK(mlc_tensor_load_npy("/nonexistent.npy", &r, &e) == MLC_STATUS_NOT_FOUND);
}

static void test_alloc_failure(void)
{
    core_alloc_fail_after(1);
    CHECK(mlc_alloc(10) == NULL);
    void *p = mlc_alloc(10);
    CHECK(p != NULL);
    mlc_free(p);
    size_t live = core_alloc_live_bytes();
    p = mlc_alloc(1000);
    CHECK(core_alloc_live_bytes() == live + 1000);
    mlc_free(p);
    CHECK(core_alloc_live_bytes() == live);
}

/* Paths a user or a request can name: a FIFO is refused at once (it used to
 * block in open() waiting for a writer), a directory or device is not a
 * file, mkdirs refuses "" (it read past the string) and a file in the way. */
static void test_file_edge_cases(void)
{
    char dir[] = "/tmp/mlc-core-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *fifo = core_sprintf("%s/fifo", dir), *file = core_sprintf("%s/f", dir),
         *under = core_sprintf("%s/f/sub", dir);
    CHECK(fifo && file && under && mkfifo(fifo, 0600) == 0);
    char *data = NULL;
    size_t n = 0;
    mlc_error e = {0};
    CHECK(core_read_file(fifo, 0, &data, &n, &e) == MLC_STATUS_IO);
    CHECK(strstr(e.message, "not a regular file") != NULL);
    CHECK(core_read_file(dir, 0, &data, &n, &e) == MLC_STATUS_IO);
    CHECK(core_read_file("/dev/null", 0, &data, &n, &e) == MLC_STATUS_IO);
    CHECK(core_read_file("/nonexistent/x", 0, &data, &n, &e) == MLC_STATUS_NOT_FOUND);
    CHECK(data == NULL);
    CHECK(core_mkdirs("", &e) == MLC_STATUS_INVALID_ARGUMENT);
    CHECK_OK(core_write_file_atomic(file, "x", 1, &e), &e);
    CHECK(core_mkdirs(file, &e) == MLC_STATUS_IO && strstr(e.message, "in the way"));
    CHECK(core_mkdirs(under, &e) == MLC_STATUS_IO);
    CHECK_OK(core_mkdirs(dir, &e), &e);
    remove(fifo);
    remove(file);
    rmdir(dir);
    mlc_free(fifo);
    mlc_free(file);
    mlc_free(under);
}

int main(void)
{
    TEST_RUN(test_status_names);
    TEST_RUN(test_arena);
    TEST_RUN(test_buf_cap);
    TEST_RUN(test_base64);
    TEST_RUN(test_npy_roundtrip);
    TEST_RUN(test_alloc_failure);
    TEST_RUN(test_file_edge_cases);
    TEST_RUN(test_prefault);
    TEST_DONE();
}
