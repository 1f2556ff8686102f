/*
 * cache.c - model ids (§5.1) and where their packages live in the model
 * cache, plus the two digests the cache needs (MD5 to verify downloads,
 * BLAKE2s to name directories of ids that are not plain lower-case).
 *
 * Layout mlc writes (docs/MODELS.md), Roboflow inference's legacy layout:
 * $MODEL_CACHE_DIR/<model_id>/ when every segment of the id is portable
 * ([a-z0-9._ -]+, no trailing '.' or ' ', no Windows device name, a first
 * segment that is not one of the cache root's own namespaces), otherwise
 * $MODEL_CACHE_DIR/~<slug>-<blake2s-16 hex>/.
 *
 * Layouts mlc only reads (packages inference already cached):
 * inference_models' <home>/models-cache/v2-<slug>-<blake2s-16 hex>/<package>/
 * (files may be symlinks into <home>/shared-blobs/), its older
 * <slug>-<blake2s-4 hex> form, and inference's older <slug>-<blake2s-4 hex>
 * and raw-id legacy directories. Invariant: nothing found here points
 * outside the cache home: package ids are [A-Za-z0-9]+, symlinks must resolve
 * into shared-blobs/ or the package itself, and the forms whose names can
 * collide are used only when their metadata names exactly this model id.
 * Does not download (download.c).
 */
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "model/model.h"
#include "model/hash.h"

int mdl_is_model_id(const char *s)
{
    /* "project/3": exactly one slash, both sides non-empty, no path-ish parts */
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/')) return 0;
    if (s[0] == '.' || slash[1] == '.') return 0;
    for (const char *p = s; *p; p++)
        if (iscntrl((unsigned char)*p) || *p == '\\') return 0;
    return 1;
}

mlc_status mdl_parse_model_id(const char *id, char **dataset_out, char **version_out,
                              mlc_error *err)
{
    const char *slash = strchr(id, '/');
    *dataset_out = *version_out = NULL;
    if (!slash || slash == id || !slash[1] || strchr(slash + 1, '/'))
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                        "Model ID: `%.200s` is invalid (Invalid Model ID sent in request): "
                        "expected \"project/version\"",
                        id);
    /* int() of the version; anything else is an instant model id. Choice:
     * only plain decimal digits count (no sign, spaces or '_'). */
    const char *v = slash + 1;
    int digits = strspn(v, "0123456789") == strlen(v) && strlen(v) <= 9;
    if (!(*dataset_out = core_strndup(id, (size_t)(slash - id))) ||
        (digits && !(*version_out = core_sprintf("%ld", strtol(v, NULL, 10))))) {
        mlc_free(*dataset_out);
        *dataset_out = NULL;
        return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    }
    if (!digits) {
        mlc_free(*dataset_out);
        if (!(*dataset_out = core_strdup(id)))
            return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    }
    return MLC_OK;
}

mlc_status mdl_model_id_error(const char *s, int allow_dir, mlc_error *err)
{
    const char *slash = strchr(s, '/');
    if (slash && strchr(slash + 1, '/') && s[0] != '/' && s[0] != '.')
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                        "Model ID: `%.200s` is invalid (Invalid Model ID sent in request): "
                        "expected \"project/version\"%s",
                        s, allow_dir ? " (nor is it a model package directory)" : "");
    return core_err(err, MLC_STATUS_NOT_FOUND,
                    allow_dir ? "'%s' is neither a model package directory nor a model id "
                                "like \"project/3\""
                              : "'%s' is not a model id like \"project/3\"",
                    s);
}

/* ---- inference's cache key for an id ---------------------------------------- */

static int reserved_device(const char *a, size_t n)
{
    /* Windows device names, compared on the part before the first '.',
     * right-stripped of spaces, lower-case (inference keeps ids portable) */
    static const char *const names[] = {"aux", "con", "nul", "prn"};
    size_t k = 0;
    while (k < n && a[k] != '.') k++;
    while (k > 0 && a[k - 1] == ' ') k--;
    for (size_t i = 0; i < 4; i++)
        if (k == 3 && !strncmp(a, names[i], 3)) return 1;
    return k == 4 && (!strncmp(a, "com", 3) || !strncmp(a, "lpt", 3)) && a[3] >= '1' && a[3] <= '9';
}

static int plain_segment(const char *a, size_t n)
{
    if (n == 0 || n > 255) return 0;
    if (a[n - 1] == '.' || a[n - 1] == ' ') return 0; /* also rules out "." and ".." */
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == ' ' || c == '-'))
            return 0;
    }
    return !reserved_device(a, n);
}

/* A first segment that would land on something else the cache root holds. */
static int reserved_first_segment(const char *a, size_t n)
{
    static const char *const ns[] = {
        "_file_locks",  "auto-resolution-cache",  "hf_home",      "huggingface", "lora-bases",
        "models-cache", "owl-v2-serialized-data", "shared-blobs", "usage.db",    "workflow"};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        if (strlen(ns[i]) == n && !strncmp(a, ns[i], n)) return 1;
    /* the old 4-byte-digest slug form "<slug>-<8 hex>" */
    if (n > 9 && n <= 57 && a[n - 9] == '-') {
        for (size_t i = n - 8; i < n; i++)
            if (!isxdigit((unsigned char)a[i]) || isupper((unsigned char)a[i])) return 0;
        for (size_t i = 0; i < n - 9; i++)
            if (!isalnum((unsigned char)a[i]) && a[i] != '_' && a[i] != '-') return 0;
        return 1;
    }
    return 0;
}

/* slug: runs of [^A-Za-z0-9_-] -> '-', then runs of [_-]{2,} -> '-', 48 max */
static void slugify(const char *id, char slug[49])
{
    size_t k = 0;
    for (const char *p = id; *p && k < 48; p++) {
        char c = *p;
        int ok = isalnum((unsigned char)c) || c == '_' || c == '-';
        char o = ok ? c : '-';
        if ((o == '-' || o == '_') && k > 0 && (slug[k - 1] == '-' || slug[k - 1] == '_')) {
            slug[k - 1] = '-';
            continue;
        }
        slug[k++] = o;
    }
    slug[k] = '\0';
    if (!k) snprintf(slug, 49, "%s", "special-char-only-model-id");
}

static void blake2s_hex(const char *id, size_t nbytes, char *hex)
{
    uint8_t d[16];
    if (nbytes == 16)
        mdl_blake2s_128(id, strlen(id), d);
    else
        mdl_blake2s_n(id, strlen(id), d, nbytes);
    for (size_t i = 0; i < nbytes; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

char *mdl_cache_dir_for(const char *root, const char *id)
{
    const char *slash = strchr(id, '/');
    size_t n1 = slash ? (size_t)(slash - id) : strlen(id);
    if (plain_segment(id, n1) && !reserved_first_segment(id, n1) &&
        (!slash || plain_segment(slash + 1, strlen(slash + 1))) &&
        strlen(root) + strlen(id) + 2 < 4096)
        return core_sprintf("%s/%s", root, id);
    char slug[49], hex[33];
    slugify(id, slug);
    blake2s_hex(id, 16, hex);
    return core_sprintf("%s/~%s-%s", root, slug, hex);
}

/* ---- packages inference cached in layouts mlc does not write ----------------- */

static char *read_small_json_string(const char *path, const char *key, int *present)
{
    /* a regular file (not a symlink), small, a JSON object */
    struct stat sb;
    *present = 0;
    if (lstat(path, &sb) != 0) return NULL;
    if (!S_ISREG(sb.st_mode) || sb.st_size > (1 << 20)) {
        *present = -1; /* there, but not a small regular file: never trusted */
        return NULL;
    }
    json_t *root = json_load_file(path, 0, NULL);
    char *out = NULL;
    const json_t *v = json_object_get(root, key);
    if (v) *present = 1;
    if (json_is_string(v)) out = core_strdup(json_string_value(v));
    if (!json_is_object(root)) *present = -1;
    json_decref(root);
    return out;
}

/* A package file: a regular file, or a symlink whose target is a regular file
 * inside blobs (realpath) or inside the package directory itself. */
static int file_inside(const char *path, const char *pkg_real, const char *blobs_real)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) return 0;
    if (S_ISREG(sb.st_mode)) return 1;
    if (!S_ISLNK(sb.st_mode)) return 0;
    char *r = realpath(path, NULL);
    int ok = 0;
    if (r && stat(r, &sb) == 0 && S_ISREG(sb.st_mode)) {
        for (int i = 0; i < 2 && !ok; i++) {
            const char *base = i ? blobs_real : pkg_real;
            size_t n = base ? strlen(base) : 0;
            ok = n && !strncmp(r, base, n) && r[n] == '/';
        }
    }
    core_libc_free(r);
    return ok;
}

static int quant_score(const char *q)
{
    if (!q || !strcmp(q, "fp32")) return 3;
    return !strcmp(q, "fp16") ? 2 : 1;
}

/* Best usable ONNX package under model_dir (inference_models layout). */
static char *pick_cached_package(const char *home, const char *model_dir, const char *id,
                                 int need_attribution)
{
    struct stat sb;
    if (lstat(model_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) return NULL;
    DIR *d = opendir(model_dir);
    if (!d) return NULL;
    char *blobs = core_sprintf("%s/shared-blobs", home);
    char *blobs_real = blobs ? realpath(blobs, NULL) : NULL;
    char *best = NULL, *best_name = NULL;
    int best_score = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n == 0 || n > 255 ||
            strspn(e->d_name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "0123456789") != n)
            continue; /* package ids are [A-Za-z0-9]+: no "..", no hidden staging */
        char *pkg = core_sprintf("%s/%s", model_dir, e->d_name);
        char *mc = pkg ? core_sprintf("%s/model_config.json", pkg) : NULL;
        char *pkg_real = NULL, *owner = NULL, *backend = NULL, *quant = NULL;
        int ok = pkg && mc && lstat(pkg, &sb) == 0 && S_ISDIR(sb.st_mode);
        if (ok) {
            int has_owner = 0, has_backend = 0, has_q = 0;
            owner = read_small_json_string(mc, "model_id", &has_owner);
            backend = read_small_json_string(mc, "backend_type", &has_backend);
            quant = read_small_json_string(mc, "quantization", &has_q);
            ok = has_owner >= 0 && core_file_exists(mc);
            if (ok && has_owner) ok = owner && !strcmp(owner, id);
            if (ok && !has_owner) ok = !need_attribution;
            if (ok && has_backend) ok = backend && !strcmp(backend, "onnx");
        }
        if (ok) {
            pkg_real = realpath(pkg, NULL);
            static const char *const need[] = {"inference_config.json", "class_names.txt",
                                               "weights.onnx"};
            for (size_t i = 0; ok && i < 3; i++) {
                char *f = core_sprintf("%s/%s", pkg, need[i]);
                ok = f && file_inside(f, pkg_real, blobs_real);
                mlc_free(f);
            }
        }
        int score = ok ? quant_score(quant) : -1;
        if (ok &&
            (score > best_score || (score == best_score && strcmp(e->d_name, best_name) < 0))) {
            mlc_free(best);
            mlc_free(best_name);
            best = pkg;
            pkg = NULL;
            best_name = core_strdup(e->d_name);
            best_score = best_name ? score : -1;
            if (!best_name) {
                mlc_free(best);
                best = NULL;
            }
        }
        core_libc_free(pkg_real);
        mlc_free(pkg);
        mlc_free(mc);
        mlc_free(owner);
        mlc_free(backend);
        mlc_free(quant);
    }
    closedir(d);
    core_libc_free(blobs_real);
    mlc_free(blobs);
    mlc_free(best_name);
    return best;
}

/* inference's older legacy directories (home/rel): read only when their
 * model_type.json names exactly this id, and only when they hold no
 * symlinks. */
static char *legacy_owned_dir(const char *home, const char *rel, const char *id)
{
    char *dir = core_sprintf("%s/%s", home, rel);
    char *mt = dir ? core_sprintf("%s/model_type.json", dir) : NULL;
    char *env = dir ? core_sprintf("%s/environment.json", dir) : NULL;
    struct stat sb;
    int present = 0;
    char *owner = mt ? read_small_json_string(mt, "model_id", &present) : NULL;
    int ok = owner && !strcmp(owner, id) && lstat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) && env &&
             lstat(env, &sb) == 0 && S_ISREG(sb.st_mode);
    DIR *d = ok ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && ok && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = core_sprintf("%s/%s", dir, e->d_name);
        ok = p && lstat(p, &sb) == 0 && S_ISREG(sb.st_mode);
        mlc_free(p);
    }
    if (d) closedir(d);
    mlc_free(owner);
    mlc_free(mt);
    mlc_free(env);
    if (!ok) {
        mlc_free(dir);
        dir = NULL;
    }
    return dir;
}

char *mdl_find_cached_package(const char *home, const char *id)
{
    char slug[49], hex32[33], hex8[9];
    slugify(id, slug);
    blake2s_hex(id, 16, hex32);
    blake2s_hex(id, 4, hex8);
    char *found = NULL;
    char *v2 = core_sprintf("%s/models-cache/v2-%s-%s", home, slug, hex32);
    char *v1 = core_sprintf("%s/models-cache/%s-%s", home, slug, hex8);
    char *old = core_sprintf("%s-%s", slug, hex8);
    if (v2) found = pick_cached_package(home, v2, id, 0);
    /* the v1 namespace's 32-bit digest can collide: only attributed packages */
    if (!found && v1) found = pick_cached_package(home, v1, id, 1);
    if (!found && old) found = legacy_owned_dir(home, old, id);
    mlc_free(v2);
    mlc_free(v1);
    mlc_free(old);
    /* before the slug rule, inference used the raw id for every id whose path
     * fit, e.g. "Demo/1" */
    if (!found && !strstr(id, "..") && id[0] != '/') found = legacy_owned_dir(home, id, id);
    return found;
}

/* ---- MD5 (RFC 1321) --------------------------------------------------------- */

static uint32_t rol(uint32_t x, int c)
{
    return (x << c) | (x >> (32 - c));
}

static void md5_block(uint32_t h[4], const uint8_t *blk)
{
    static const uint32_t K[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391};
    static const int R[16] = {7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21};
    uint32_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = (uint32_t)blk[4 * i] | (uint32_t)blk[4 * i + 1] << 8 |
               (uint32_t)blk[4 * i + 2] << 16 | (uint32_t)blk[4 * i + 3] << 24;
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) & 15;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) & 15;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) & 15;
        }
        uint32_t t = d;
        d = c;
        c = b;
        b = b + rol(a + f + K[i] + m[g], R[(i / 16) * 4 + (i & 3)]);
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
}

void mdl_md5_init(struct mdl_md5 *c)
{
    c->h[0] = 0x67452301;
    c->h[1] = 0xefcdab89;
    c->h[2] = 0x98badcfe;
    c->h[3] = 0x10325476;
    c->n = 0;
}

void mdl_md5_update(struct mdl_md5 *c, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n) {
        size_t off = (size_t)(c->n & 63), k = 64 - off < n ? 64 - off : n;
        memcpy(c->buf + off, p, k);
        c->n += k;
        p += k;
        n -= k;
        if (((c->n) & 63) == 0) md5_block(c->h, c->buf);
    }
}

void mdl_md5_hex(struct mdl_md5 *c, char hex[33])
{
    uint64_t bits = c->n * 8;
    uint8_t pad = 0x80, zero = 0, len[8];
    mdl_md5_update(c, &pad, 1);
    while ((c->n & 63) != 56) mdl_md5_update(c, &zero, 1);
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (8 * i));
    mdl_md5_update(c, len, 8);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned)((c->h[i / 4] >> (8 * (i % 4))) & 0xff));
}

/* ---- BLAKE2s-128 (RFC 7693), unkeyed ---------------------------------------- */

static uint32_t ror(uint32_t x, int c)
{
    return (x >> c) | (x << (32 - c));
}

static const uint32_t B2_IV[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                                  0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};

static void b2_compress(uint32_t h[8], const uint8_t blk[64], uint32_t t, int last)
{
    static const uint8_t S[10][16] = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
                                      {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
                                      {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
                                      {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
                                      {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
                                      {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
                                      {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
                                      {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
                                      {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
                                      {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0}};
    uint32_t v[16], m[16];
    for (int i = 0; i < 16; i++)
        m[i] = (uint32_t)blk[4 * i] | (uint32_t)blk[4 * i + 1] << 8 |
               (uint32_t)blk[4 * i + 2] << 16 | (uint32_t)blk[4 * i + 3] << 24;
    for (int i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = B2_IV[i];
    }
    v[12] ^= t;
    if (last) v[14] = ~v[14];
#define B2G(a, b, c, d, x, y)                                                                      \
    do {                                                                                           \
        v[a] = v[a] + v[b] + (x);                                                                  \
        v[d] = ror(v[d] ^ v[a], 16);                                                               \
        v[c] = v[c] + v[d];                                                                        \
        v[b] = ror(v[b] ^ v[c], 12);                                                               \
        v[a] = v[a] + v[b] + (y);                                                                  \
        v[d] = ror(v[d] ^ v[a], 8);                                                                \
        v[c] = v[c] + v[d];                                                                        \
        v[b] = ror(v[b] ^ v[c], 7);                                                                \
    } while (0)
    for (int r = 0; r < 10; r++) {
        const uint8_t *s = S[r];
        B2G(0, 4, 8, 12, m[s[0]], m[s[1]]);
        B2G(1, 5, 9, 13, m[s[2]], m[s[3]]);
        B2G(2, 6, 10, 14, m[s[4]], m[s[5]]);
        B2G(3, 7, 11, 15, m[s[6]], m[s[7]]);
        B2G(0, 5, 10, 15, m[s[8]], m[s[9]]);
        B2G(1, 6, 11, 12, m[s[10]], m[s[11]]);
        B2G(2, 7, 8, 13, m[s[12]], m[s[13]]);
        B2G(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
#undef B2G
    for (int i = 0; i < 8; i++) h[i] ^= v[i] ^ v[i + 8];
}

void mdl_blake2s_n(const void *data, size_t n, uint8_t *out, size_t outlen)
{
    uint32_t h[8];
    memcpy(h, B2_IV, sizeof h);
    h[0] ^= 0x01010000u ^ (uint32_t)outlen;
    const uint8_t *p = data;
    uint8_t blk[64];
    uint32_t t = 0;
    while (n > 64) {
        t += 64;
        b2_compress(h, p, t, 0);
        p += 64;
        n -= 64;
    }
    memset(blk, 0, sizeof blk);
    if (n) memcpy(blk, p, n);
    t += (uint32_t)n;
    b2_compress(h, blk, t, 1);
    for (size_t i = 0; i < outlen; i++) out[i] = (uint8_t)(h[i / 4] >> (8 * (i % 4)));
}

void mdl_blake2s_128(const void *data, size_t n, uint8_t out[16])
{
    mdl_blake2s_n(data, n, out, 16);
}
