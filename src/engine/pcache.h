/*
 * pcache.h - the packed-weights cache: the weights of one model as a backend
 * packed them (oneDNN's blocked layouts, bf16 when asked), kept in one file
 * per model file and variant (backend version, CPU ISA, precision) under a
 * directory the user names. A later process maps that file and binds the
 * packed weights in place: it neither copies the f32 weights out of the ONNX
 * file (onnx_load_opts.lazy) nor reorders them.
 *
 * What identifies the model is its file: device, inode, size, mtime and
 * ctime, which every write changes. Each entry is one packed form of one
 * initializer: its name and raw_data span in the model file, the backend's
 * layout descriptor (opaque bytes here; the backend compares them with what
 * a primitive asks for) and the packed bytes. A missing, stale, truncated or
 * damaged cache file is never an error: it is ignored and rewritten.
 *
 * Thread-safe: sessions bind on several threads at once.
 * Not here: which weights are worth caching and what a layout means (the
 * backend, engine/dnnl/pack.c).
 */
#ifndef MLC_ENGINE_PCACHE_H
#define MLC_ENGINE_PCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "onnx/onnx.h"

struct eng_pcache;

/* Smallest weight (bytes) worth an entry: smaller ones load faster than a
 * lookup finds them. */
#define ENG_PCACHE_MIN ((size_t)64 << 10)

/* Opens the cache of model file `model_path` under directory `dir` for
 * `variant` (a non-empty string naming what the packed bytes depend on,
 * from the backend). Reads the cache file when it matches; *out is NULL
 * (and MLC_OK returned) when the model cannot be opened or is not a regular
 * file (the loader reports that). NO_MEMORY. Free with eng_pcache_free. */
mlc_status eng_pcache_open(const char *dir, const char *model_path, const char *variant,
                           struct eng_pcache **out, mlc_error *err);
void eng_pcache_free(struct eng_pcache *pc);

/* The initializers the cache file has entries for, as onnx_load_opts.lazy
 * wants them (sorted by offset; *out mlc_alloc'd, names borrowed from pc).
 * Returns the count (0: none, or out of memory). */
int eng_pcache_lazy(struct eng_pcache *pc, struct onnx_span **out);

/* The i-th entry (0, 1, ...) for initializer `name` at src_off: its layout
 * bytes and packed bytes (borrowed, alive as long as pc). Returns 0, or -1
 * when there is no i-th entry. */
int eng_pcache_find(struct eng_pcache *pc, const char *name, int64_t src_off, int i,
                    const void **md, size_t *md_size, const void **data, size_t *nbytes);

/* Whether the model file's bytes [off, off + len) equal data (a weight the
 * backend is about to pack is still what the file says: no pass changed it).
 * And reading them into dst. Both return 0 on success, -1 otherwise. */
int eng_pcache_same_src(struct eng_pcache *pc, int64_t off, size_t len, const void *data);
int eng_pcache_read_src(struct eng_pcache *pc, int64_t off, size_t len, void *dst);

/* Records a packed form to be written by the next flush. data is borrowed:
 * it must stay alive and unchanged until pc is freed (the backend's packed
 * weights live as long as the net). An entry pc already has is ignored. */
void eng_pcache_add(struct eng_pcache *pc, const char *name, int64_t src_off, size_t src_len,
                    const void *md, size_t md_size, const void *data, size_t nbytes);

/* Writes the cache file (a temporary file renamed into place) when entries
 * were added since it was read or last written. IO when it cannot. Binds
 * may go on meanwhile (the entries are copied first).
 * _async does it on a thread of its own (the caller's run is not held up),
 * and eng_pcache_wait waits for that thread: before the packed weights the
 * entries borrow are freed (eng_pcache_free waits too). */
mlc_status eng_pcache_flush(struct eng_pcache *pc, mlc_error *err);
void eng_pcache_flush_async(struct eng_pcache *pc);
void eng_pcache_wait(struct eng_pcache *pc);

/* The model file the cache opened (borrowed): the loader maps this one, so
 * that the cache's key and the bytes it reads are the same file even if the
 * path is replaced meanwhile. */
int eng_pcache_model_fd(const struct eng_pcache *pc);
/* The cache file's path (borrowed). */
const char *eng_pcache_path(const struct eng_pcache *pc);
/* For fuzzing the reader: stamps buf (a would-be cache file of n bytes) with
 * pc's model identity and variant, and fixes its hashes and file size, so
 * that only its table and entries can be wrong. No-op under 4096 bytes. */
void eng_pcache_seal(const struct eng_pcache *pc, uint8_t *buf, size_t n);

/* Entries read from the file and entries added since (tests, mlc bench). */
void eng_pcache_counts(struct eng_pcache *pc, int *loaded, int *added, int *hits);
/* Counts a use of a loaded entry (the backend, on a hit). */
void eng_pcache_hit(struct eng_pcache *pc);

#endif
