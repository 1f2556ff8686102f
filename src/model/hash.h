/* hash.h - MD5 (download verification) and BLAKE2s-128 (cache directory
 * names) for the model cache. Not for security: MD5 only detects corrupt or
 * truncated downloads, as Roboflow's own client uses it. */
#ifndef MLC_MODEL_HASH_H
#define MLC_MODEL_HASH_H

#include <stddef.h>
#include <stdint.h>

struct mdl_md5 {
    uint32_t h[4];
    uint64_t n;
    uint8_t buf[64];
};
void mdl_md5_init(struct mdl_md5 *c);
void mdl_md5_update(struct mdl_md5 *c, const void *data, size_t n);
/* Finishes and writes 32 lower-case hex digits + NUL. */
void mdl_md5_hex(struct mdl_md5 *c, char hex[33]);

void mdl_blake2s_128(const void *data, size_t n, uint8_t out[16]);
/* Unkeyed BLAKE2s with an outlen-byte digest (1..32; the cache uses 4 and 16). */
void mdl_blake2s_n(const void *data, size_t n, uint8_t *out, size_t outlen);

#endif
