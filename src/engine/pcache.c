/*
 * pcache.c - the packed-weights cache file (see pcache.h).
 *
 * Layout (little-endian, as written by this CPU):
 *   [0, 4096)  header: magic "MLCPACK1", version, entry count, the model
 *              file's identity, the variant string, the table's place and
 *              FNV-1a hash, the file size, the header's own hash;
 *   [4096, )   the entry table: per entry name and layout lengths, the
 *              initializer's raw_data span, the blob's place; then the
 *              name and layout bytes, padded to 8;
 *   blobs      each packed weight, 4096-aligned, so that the mapping gives
 *              the backend 64-byte aligned data.
 * The file is mapped read-only and private; its blobs are never written.
 * It is replaced whole (a temporary file renamed over it), so a reader sees
 * the old file or the new one; a damaged file fails a bound or a hash and
 * is ignored.
 *
 * Not here: whether an entry's layout is the one a primitive wants (the
 * backend compares the descriptors).
 */
#include "engine/pcache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PC_MAGIC   "MLCPACK1"
#define PC_VERSION 1u
#define PC_HEADER  4096
#define PC_PAGE    4096
#define PC_VARIANT 128
#define PC_KEYS    5

struct pc_entry {
    char *name;
    int64_t src_off;
    size_t src_len;
    void *md; /* owned copy */
    size_t md_size;
    const void *data; /* in the mapping, or the backend's (borrowed) */
    size_t nbytes;
};

struct eng_pcache {
    pthread_mutex_t mu;
    char *path; /* the cache file */
    char *dir;  /* its directory, made at the first flush when missing */
    int model_fd;
    uint64_t key[PC_KEYS];
    char variant[PC_VARIANT];
    void *map;
    size_t map_size;
    struct pc_entry *e;
    int n, cap;
    int n_loaded;  /* entries read from the file at open */
    int n_written; /* entries the file on disk holds (flush writes the rest) */
    int hits;
    int writing;  /* a flush is writing the file */
    pthread_t th; /* eng_pcache_flush_async's writer, joinable when th_live */
    int th_live;
};

struct pc_header {
    char magic[8];
    uint32_t version, n_entries;
    uint64_t key[PC_KEYS];
    uint64_t table_off, table_len, table_hash, file_size;
    char variant[PC_VARIANT];
    uint64_t hash; /* of the bytes above */
};

struct pc_row { /* one table entry, before its name and layout bytes */
    uint32_t name_len, md_size;
    int64_t src_off;
    uint64_t src_len, blob_off, blob_len;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}
#define FNV0 0xcbf29ce484222325ull

static size_t pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static int read_at(int fd, void *dst, size_t n, off_t off)
{
    uint8_t *d = dst;
    while (n) {
        ssize_t r = pread(fd, d, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n, off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        d += r, n -= (size_t)r, off += r;
    }
    return 0;
}

static int write_all(int fd, const void *src, size_t n)
{
    const uint8_t *s = src;
    while (n) {
        ssize_t w = write(fd, s, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        s += w, n -= (size_t)w;
    }
    return 0;
}

static int add_entry(struct eng_pcache *pc, const char *name, size_t name_len, int64_t src_off,
                     size_t src_len, const void *md, size_t md_size, const void *data,
                     size_t nbytes)
{
    if (core_grow_array((void **)&pc->e, &pc->cap, pc->n + 1, sizeof *pc->e)) return -1;
    struct pc_entry *e = &pc->e[pc->n];
    e->name = core_strndup(name, name_len);
    e->md = mlc_alloc(md_size ? md_size : 1);
    if (!e->name || !e->md) {
        mlc_free(e->name), mlc_free(e->md);
        return -1;
    }
    memcpy(e->md, md, md_size);
    e->md_size = md_size, e->src_off = src_off, e->src_len = src_len;
    e->data = data, e->nbytes = nbytes;
    pc->n++;
    return 0;
}

/* Reads pc->path when it is a cache file of this model and variant; any
 * mismatch leaves pc empty. */
static void load_file(struct eng_pcache *pc)
{
    int fd = open(pc->path, O_RDONLY | O_CLOEXEC);
    struct pc_header h;
    struct stat sb;
    uint8_t *table = NULL;
    void *map = MAP_FAILED;
    if (fd < 0) return;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || sb.st_size < PC_HEADER ||
        read_at(fd, &h, sizeof h, 0))
        goto out;
    size_t size = (size_t)sb.st_size;
    if (memcmp(h.magic, PC_MAGIC, 8) || h.version != PC_VERSION ||
        h.hash != fnv(FNV0, &h, offsetof(struct pc_header, hash)) ||
        memcmp(h.key, pc->key, sizeof h.key) || memchr(h.variant, 0, PC_VARIANT) == NULL ||
        strcmp(h.variant, pc->variant) || h.file_size != size || h.n_entries > (1u << 20) ||
        h.table_off != PC_HEADER || h.table_len > size - PC_HEADER || h.table_len > (64u << 20))
        goto out;
    table = mlc_alloc(h.table_len ? h.table_len : 1);
    if (!table || read_at(fd, table, h.table_len, PC_HEADER) ||
        fnv(FNV0, table, h.table_len) != h.table_hash)
        goto out;
    map = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (map == MAP_FAILED) goto out;
    size_t at = 0;
    for (uint32_t i = 0; i < h.n_entries; i++) {
        struct pc_row r;
        if (h.table_len - at < sizeof r) goto bad;
        memcpy(&r, table + at, sizeof r);
        at += sizeof r;
        size_t extra = pad8((size_t)r.name_len + r.md_size);
        if (r.name_len == 0 || r.name_len > 4096 || r.md_size > 4096 || h.table_len - at < extra ||
            r.blob_off % PC_PAGE || r.blob_off > size || r.blob_len > size - r.blob_off ||
            r.src_off < 0 || memchr(table + at, 0, r.name_len))
            goto bad;
        if (add_entry(pc, (const char *)table + at, r.name_len, r.src_off, (size_t)r.src_len,
                      table + at + r.name_len, r.md_size, (uint8_t *)map + r.blob_off,
                      (size_t)r.blob_len))
            goto bad;
        at += extra;
    }
    pc->map = map, pc->map_size = size;
    pc->n_loaded = pc->n_written = pc->n;
    map = MAP_FAILED;
    goto out;
bad:
    for (int i = 0; i < pc->n; i++) mlc_free(pc->e[i].name), mlc_free(pc->e[i].md);
    pc->n = 0;
out:
    if (map != MAP_FAILED) munmap(map, size);
    mlc_free(table);
    close(fd);
}

mlc_status eng_pcache_open(const char *dir, const char *model_path, const char *variant,
                           struct eng_pcache **out, mlc_error *err)
{
    *out = NULL;
    if (!dir || !*dir || !variant || !*variant || strlen(variant) >= PC_VARIANT) return MLC_OK;
    int fd = open(model_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return MLC_OK; /* the loader reports it */
    struct stat sb;
    char *real = NULL;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        close(fd);
        return MLC_OK;
    }
    struct eng_pcache *pc = mlc_calloc(1, sizeof *pc);
    real = realpath(model_path, NULL); /* libc's malloc */
    if (!pc || !real) {
        core_libc_free(real);
        mlc_free(pc);
        close(fd);
        return real ? core_err(err, MLC_STATUS_NO_MEMORY, "out of memory") : MLC_OK;
    }
    pthread_mutex_init(&pc->mu, NULL);
    pc->model_fd = fd;
    pc->key[0] = (uint64_t)sb.st_dev;
    pc->key[1] = (uint64_t)sb.st_ino;
    pc->key[2] = (uint64_t)sb.st_size;
    pc->key[3] = (uint64_t)sb.st_mtim.tv_sec * 1000000000ull + (uint64_t)sb.st_mtim.tv_nsec;
    pc->key[4] = (uint64_t)sb.st_ctim.tv_sec * 1000000000ull + (uint64_t)sb.st_ctim.tv_nsec;
    snprintf(pc->variant, sizeof pc->variant, "%s", variant);
    /* One file per model path and variant: a new model file at the same
     * path replaces the old one's cache. */
    uint64_t h = fnv(fnv(FNV0, real, strlen(real) + 1), variant, strlen(variant));
    core_libc_free(real);
    pc->path = core_sprintf("%s/%016llx.mlcpack", dir, (unsigned long long)h);
    pc->dir = core_strdup(dir);
    if (!pc->path || !pc->dir) {
        eng_pcache_free(pc);
        return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    }
    load_file(pc);
    *out = pc;
    return MLC_OK;
}

void eng_pcache_free(struct eng_pcache *pc)
{
    if (!pc) return;
    eng_pcache_wait(pc);
    for (int i = 0; i < pc->n; i++) mlc_free(pc->e[i].name), mlc_free(pc->e[i].md);
    mlc_free(pc->e);
    if (pc->map) munmap(pc->map, pc->map_size);
    if (pc->model_fd >= 0) close(pc->model_fd);
    mlc_free(pc->path);
    mlc_free(pc->dir);
    pthread_mutex_destroy(&pc->mu);
    mlc_free(pc);
}

int eng_pcache_lazy(struct eng_pcache *pc, struct onnx_span **out)
{
    *out = NULL;
    pthread_mutex_lock(&pc->mu);
    struct onnx_span *v = pc->n_loaded ? mlc_alloc((size_t)pc->n_loaded * sizeof *v) : NULL;
    int n = 0;
    for (int i = 0; v && i < pc->n_loaded; i++) {
        const struct pc_entry *e = &pc->e[i];
        int k = n;
        while (k > 0 && v[k - 1].off > e->src_off) k--;    /* insertion: few entries */
        if (k > 0 && v[k - 1].off == e->src_off) continue; /* another layout of the same */
        memmove(v + k + 1, v + k, (size_t)(n - k) * sizeof *v);
        v[k] = (struct onnx_span){0, e->name, strlen(e->name), e->src_off, e->src_len};
        n++;
    }
    pthread_mutex_unlock(&pc->mu);
    *out = v;
    return n;
}

int eng_pcache_find(struct eng_pcache *pc, const char *name, int64_t src_off, int i,
                    const void **md, size_t *md_size, const void **data, size_t *nbytes)
{
    int r = -1;
    pthread_mutex_lock(&pc->mu);
    for (int k = 0; k < pc->n; k++) {
        const struct pc_entry *e = &pc->e[k];
        if (e->src_off != src_off || strcmp(e->name, name) || i-- > 0) continue;
        *md = e->md, *md_size = e->md_size, *data = e->data, *nbytes = e->nbytes;
        r = 0;
        break;
    }
    pthread_mutex_unlock(&pc->mu);
    return r;
}

int eng_pcache_same_src(struct eng_pcache *pc, int64_t off, size_t len, const void *data)
{
    uint8_t buf[1 << 16];
    const uint8_t *d = data;
    for (size_t at = 0; at < len; at += sizeof buf) {
        size_t k = len - at < sizeof buf ? len - at : sizeof buf;
        if (read_at(pc->model_fd, buf, k, (off_t)(off + (int64_t)at)) || memcmp(buf, d + at, k))
            return -1;
    }
    return 0;
}

int eng_pcache_read_src(struct eng_pcache *pc, int64_t off, size_t len, void *dst)
{
    return read_at(pc->model_fd, dst, len, (off_t)off);
}

void eng_pcache_add(struct eng_pcache *pc, const char *name, int64_t src_off, size_t src_len,
                    const void *md, size_t md_size, const void *data, size_t nbytes)
{
    pthread_mutex_lock(&pc->mu);
    int have = 0;
    for (int k = 0; k < pc->n && !have; k++)
        have = pc->e[k].src_off == src_off && pc->e[k].md_size == md_size &&
               !memcmp(pc->e[k].md, md, md_size) && !strcmp(pc->e[k].name, name);
    if (!have) (void)add_entry(pc, name, strlen(name), src_off, src_len, md, md_size, data, nbytes);
    pthread_mutex_unlock(&pc->mu);
}

void eng_pcache_hit(struct eng_pcache *pc)
{
    pthread_mutex_lock(&pc->mu);
    pc->hits++;
    pthread_mutex_unlock(&pc->mu);
}

void eng_pcache_counts(struct eng_pcache *pc, int *loaded, int *added, int *hits)
{
    pthread_mutex_lock(&pc->mu);
    *loaded = pc->n_loaded, *added = pc->n - pc->n_loaded, *hits = pc->hits;
    pthread_mutex_unlock(&pc->mu);
}

mlc_status eng_pcache_flush(struct eng_pcache *pc, mlc_error *err)
{
    mlc_status st = MLC_OK;
    char *tmp = NULL;
    uint8_t *table = NULL;
    int fd = -1;
    /* The entries as they are now, written without the lock (a write of a
     * 100 MB file takes a third of a second here; binds must not wait). */
    pthread_mutex_lock(&pc->mu);
    int n = pc->n;
    struct pc_entry *es =
        n == pc->n_written || pc->writing ? NULL : mlc_alloc((size_t)n * sizeof *es);
    if (es) memcpy(es, pc->e, (size_t)n * sizeof *es), pc->writing = 1;
    pthread_mutex_unlock(&pc->mu);
    if (!es) return MLC_OK;
    struct pc_header h;
    memset(&h, 0, sizeof h);
    size_t tlen = 0;
    for (int i = 0; i < n; i++)
        tlen += sizeof(struct pc_row) + pad8(strlen(es[i].name) + es[i].md_size);
    table = mlc_calloc(1, tlen ? tlen : 1);
    /* Unique to this process and this cache object: two nets of one model
     * in one process must not write the same temporary file. */
    tmp = core_sprintf("%s.%ld.%p.tmp", pc->path, (long)getpid(), (void *)pc);
    if (!table || !tmp) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
        goto out;
    }
    uint64_t blob = (PC_HEADER + tlen + PC_PAGE - 1) & ~(uint64_t)(PC_PAGE - 1);
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        const struct pc_entry *e = &es[i];
        struct pc_row r = {(uint32_t)strlen(e->name),
                           (uint32_t)e->md_size,
                           e->src_off,
                           e->src_len,
                           blob,
                           e->nbytes};
        memcpy(table + at, &r, sizeof r);
        at += sizeof r;
        memcpy(table + at, e->name, r.name_len);
        memcpy(table + at + r.name_len, e->md, e->md_size);
        at += pad8((size_t)r.name_len + e->md_size);
        blob = (blob + e->nbytes + PC_PAGE - 1) & ~(uint64_t)(PC_PAGE - 1);
    }
    memcpy(h.magic, PC_MAGIC, 8);
    h.version = PC_VERSION;
    h.n_entries = (uint32_t)n;
    memcpy(h.key, pc->key, sizeof h.key);
    h.table_off = PC_HEADER, h.table_len = tlen, h.table_hash = fnv(FNV0, table, tlen);
    h.file_size = blob;
    snprintf(h.variant, sizeof h.variant, "%s", pc->variant);
    h.hash = fnv(FNV0, &h, offsetof(struct pc_header, hash));
    (void)mkdir(pc->dir, 0755); /* one level, as a cache directory's parent usually exists */
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = core_err(err, MLC_STATUS_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    static const uint8_t zero[PC_PAGE];
    int bad = write_all(fd, &h, sizeof h) || write_all(fd, zero, PC_HEADER - sizeof h) ||
              write_all(fd, table, tlen);
    uint64_t pos = PC_HEADER + tlen;
    for (int i = 0; !bad && i < n; i++) {
        uint64_t to = (pos + PC_PAGE - 1) & ~(uint64_t)(PC_PAGE - 1);
        bad = write_all(fd, zero, (size_t)(to - pos)) || write_all(fd, es[i].data, es[i].nbytes);
        pos = to + es[i].nbytes;
    }
    if (!bad && pos < h.file_size) bad = write_all(fd, zero, (size_t)(h.file_size - pos));
    /* On disk before the name: a crash must leave no file whose header and
     * table check out while its packed bytes were never written (zeros would
     * be used as weights; the bytes carry no hash, which would cost every
     * warm load a pass over them). */
    if (!bad) bad = fdatasync(fd) != 0;
    if (close(fd) || bad || rename(tmp, pc->path)) {
        fd = -1;
        st = core_err(err, MLC_STATUS_IO, "%s: cannot write: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    fd = -1;
    pthread_mutex_lock(&pc->mu);
    if (n > pc->n_written) pc->n_written = n;
    pthread_mutex_unlock(&pc->mu);
out:
    if (fd >= 0) close(fd), unlink(tmp);
    pthread_mutex_lock(&pc->mu);
    pc->writing = 0;
    pthread_mutex_unlock(&pc->mu);
    mlc_free(es);
    mlc_free(table);
    mlc_free(tmp);
    return st;
}

int eng_pcache_model_fd(const struct eng_pcache *pc)
{
    return pc->model_fd;
}

const char *eng_pcache_path(const struct eng_pcache *pc)
{
    return pc->path;
}

void eng_pcache_seal(const struct eng_pcache *pc, uint8_t *buf, size_t n)
{
    struct pc_header h;
    if (n < PC_HEADER) return;
    memcpy(&h, buf, sizeof h);
    memcpy(h.magic, PC_MAGIC, 8);
    h.version = PC_VERSION;
    memcpy(h.key, pc->key, sizeof h.key);
    memset(h.variant, 0, sizeof h.variant);
    snprintf(h.variant, sizeof h.variant, "%s", pc->variant);
    h.table_off = PC_HEADER;
    if (h.table_len > n - PC_HEADER) h.table_len = n - PC_HEADER;
    h.table_hash = fnv(FNV0, buf + PC_HEADER, (size_t)h.table_len);
    h.file_size = n;
    h.hash = fnv(FNV0, &h, offsetof(struct pc_header, hash));
    memcpy(buf, &h, sizeof h);
}

static void *flush_main(void *arg)
{
    (void)eng_pcache_flush(arg, NULL);
    return NULL;
}

void eng_pcache_flush_async(struct eng_pcache *pc)
{
    pthread_mutex_lock(&pc->mu);
    int want = pc->n > pc->n_written && !pc->writing;
    pthread_mutex_unlock(&pc->mu);
    if (!want) return;
    eng_pcache_wait(pc); /* an earlier writer, done by now */
    pthread_mutex_lock(&pc->mu);
    if (!pc->th_live && pthread_create(&pc->th, NULL, flush_main, pc) == 0) pc->th_live = 1;
    pthread_mutex_unlock(&pc->mu);
}

void eng_pcache_wait(struct eng_pcache *pc)
{
    if (!pc) return;
    pthread_mutex_lock(&pc->mu);
    int live = pc->th_live;
    pc->th_live = 0;
    pthread_t th = pc->th;
    pthread_mutex_unlock(&pc->mu);
    if (live) pthread_join(th, NULL);
}
