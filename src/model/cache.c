/*
 * cache.c - model ids and where their packages live in the model cache, plus
 * the two digests the cache needs (MD5 to verify downloads, BLAKE2s-128 to
 * name directories of ids that are not plain lower-case).
 *
 * Layout (docs/MODELS.md): $MODEL_CACHE_DIR/<model_id>/ when every segment of
 * the id matches [a-z0-9._ -]+ (as Roboflow's legacy cache, so packages that
 * `inference` cached there load as they are), otherwise
 * $MODEL_CACHE_DIR/~<slug>-<blake2s-16 hex>/. Does not download (download.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

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

static int plain_segment(const char *a, size_t n)
{
    if (n == 0 || n > 200) return 0;
    if ((n == 1 && a[0] == '.') || (n == 2 && a[0] == '.' && a[1] == '.')) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == ' ' || c == '-'))
            return 0;
    }
    return 1;
}

char *mdl_cache_dir_for(const char *root, const char *id)
{
    const char *slash = strchr(id, '/');
    size_t n1 = slash ? (size_t)(slash - id) : strlen(id);
    if (plain_segment(id, n1) && (!slash || plain_segment(slash + 1, strlen(slash + 1))))
        return core_sprintf("%s/%s", root, id);
    /* slug: runs of [^A-Za-z0-9_-] -> '-', runs of [_-]{2,} -> '-', 48 max */
    char slug[49];
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
    uint8_t d[16];
    mdl_blake2s_128(id, strlen(id), d);
    char hex[33];
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return core_sprintf("%s/~%s-%s", root, slug, hex);
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

void mdl_blake2s_128(const void *data, size_t n, uint8_t out[16])
{
    uint32_t h[8];
    memcpy(h, B2_IV, sizeof h);
    h[0] ^= 0x01010000u ^ 16u;
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
    for (int i = 0; i < 16; i++) out[i] = (uint8_t)(h[i / 4] >> (8 * (i % 4)));
}
