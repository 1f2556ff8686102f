/*
 * core.h - internal utilities every layer shares: error reporting, the
 * allocation door's helpers, arenas, growable buffers with a cap, whole-file
 * reads, base64 and .npy tensors. Nothing here knows about images, models or
 * workflows. Internal: never installed, never included by the CLI or server.
 */
#ifndef MLC_CORE_H
#define MLC_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "mlc.h"

#if defined(__GNUC__)
#define CORE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CORE_PRINTF(a, b)
#endif

/* Writes status and a formatted message into *err (if err != NULL) and
 * returns st, so callers write `return core_err(err, MLC_STATUS_X, ...)`. */
mlc_status core_err(mlc_error *err, mlc_status st, const char *fmt, ...) CORE_PRINTF(3, 4);
/* Prefixes an existing message: "context: <old message>". Returns err->status. */
mlc_status core_err_prefix(mlc_error *err, const char *fmt, ...) CORE_PRINTF(2, 3);

/* Internal invariant check: always compiled, aborts with file:line. Only for
 * conditions no input can cause. */
#define CORE_ASSERT(c)                                                                             \
    do {                                                                                           \
        if (!(c)) core_assert_fail(#c, __FILE__, __LINE__);                                        \
    } while (0)
void core_assert_fail(const char *expr, const char *file, int line);

/* The size a block from mlc_alloc/mlc_realloc was asked for (p not NULL). */
size_t core_alloc_size(const void *p);
/* Allocation accounting (for tests): bytes live and a "fail the Nth
 * allocation" hook. n <= 0 disables it. */
size_t core_alloc_live_bytes(void);
void core_alloc_fail_after(long n);

/* A fresh buffer of n bytes about to be written whole (weights, a memory
 * pool): its pages are populated in one madvise instead of a page fault per
 * 4 KiB page (page faults are costly in a VM: they were most of the load and
 * first-run time), by up to `threads` threads (the caller's thread budget;
 * <= 1: this thread only) for buffers of 1 MiB and more. Not offered to
 * transparent huge pages: see alloc.c. Only a hint: the contents are
 * unchanged, and nothing happens for buffers under 256 KiB or on kernels
 * that refuse (MADV_POPULATE_WRITE is Linux 5.14). */
void core_prefault(void *p, size_t n, int threads);
/* Gives the whole pages inside [p, p + n) back to the kernel (they read as
 * zeros if touched again): the unused end of a buffer that was resident. */
void core_drop_pages(void *p, size_t n);

/* Releases memory a third-party library allocated with the C library's
 * malloc (jansson's json_dumps, libcurl's escapes): such buffers never pass
 * through the mlc door, so they must not be given to mlc_free. */
void core_libc_free(void *p);

/* Grows an array *p of *cap elements of `elem` bytes to hold at least
 * `need` (doubling, new elements zeroed). Returns 0, or -1 when out of
 * memory or when the count would overflow (then *p is unchanged). */
int core_grow_array(void **p, int *cap, int need, size_t elem);

char *core_strdup(const char *s);
char *core_strndup(const char *s, size_t n);
char *core_sprintf(const char *fmt, ...) CORE_PRINTF(1, 2);

/* An arena hands out memory that lives until reset or free. Blocks grow
 * geometrically; nothing inside is freed individually. */
struct core_arena {
    struct core_arena_block *head;
    size_t used_total;
    size_t cap; /* 0 = unbounded; otherwise allocations beyond it fail */
};
void core_arena_init(struct core_arena *a, size_t cap);
void *core_arena_alloc(struct core_arena *a,
                       size_t n); /* 16-byte aligned, zeroed; NULL on failure */
char *core_arena_strdup(struct core_arena *a, const char *s);
void core_arena_reset(struct core_arena *a); /* keeps the first block */
void core_arena_free(struct core_arena *a);

/* A growable byte buffer with a hard cap (curl's dynbuf idea). */
struct core_buf {
    char *data;
    size_t len, cap, max;
};
void core_buf_init(struct core_buf *b, size_t max);
mlc_status core_buf_append(struct core_buf *b, const void *p, size_t n);
mlc_status core_buf_printf(struct core_buf *b, const char *fmt, ...) CORE_PRINTF(2, 3);
/* Transfers ownership of the NUL-terminated data to the caller (mlc_free). */
char *core_buf_take(struct core_buf *b);
void core_buf_free(struct core_buf *b);

/* Reads a whole file (at most max bytes; 0 = limits default). Caller frees
 * *data_out with mlc_free; the data is NUL-terminated (not counted in n). */
mlc_status core_read_file(const char *path, size_t max, char **data_out, size_t *n_out,
                          mlc_error *err);
/* Writes atomically: temp file in the same directory, fsync, rename. */
mlc_status core_write_file_atomic(const char *path, const void *data, size_t n, mlc_error *err);
int core_file_exists(const char *path);
int core_dir_exists(const char *path);
/* mkdir -p. */
mlc_status core_mkdirs(const char *path, mlc_error *err);

/* Base64 (RFC 4648, padding optional, whitespace ignored). Decoded output is
 * caller-freed with mlc_free. */
mlc_status core_base64_decode(const char *text, size_t n, uint8_t **out, size_t *n_out,
                              mlc_error *err);
char *core_base64_encode(const void *data, size_t n);

/* .npy files (version 1/2, little-endian, C order) for float32/int64/etc. */
struct core_npy {
    char dtype[8]; /* "<f4", "<i8", "<f8", "|u1", "|b1", "<i4" */
    int rank;
    int64_t dims[8];
    void *data; /* mlc_free */
    size_t nbytes;
};
mlc_status core_npy_read(const char *path, struct core_npy *out, mlc_error *err);
mlc_status core_npy_write(const char *path, const char *dtype, int rank, const int64_t *dims,
                          const void *data, mlc_error *err);
void core_npy_free(struct core_npy *t);

/* Python's repr of a double (shortest round-trip, "1.0", positional between
 * 1e-4 and 1e16) into out. NaN/Infinity as Python's json.dumps writes them. */
void core_format_double(double d, char out[32]);

/* Monotonic clock in seconds. */
double core_now(void);
/* A random version-4 UUID string (36 chars + NUL) into buf. */
void core_uuid4(char buf[37]);

#endif
