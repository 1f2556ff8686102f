/*
 * base64.c - RFC 4648 base64. The decoder skips ASCII whitespace, accepts
 * missing padding, and rejects any other byte with its offset.
 */
#include <string.h>

#include "core.h"

static const char enc_tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int dec(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62; /* '-' and '_': the URL-safe alphabet */
    if (c == '/' || c == '_') return 63;
    return -1;
}

mlc_status core_base64_decode(const char *text, size_t n, uint8_t **out, size_t *n_out,
                              mlc_error *err)
{
    uint8_t *o = mlc_alloc(n / 4 * 3 + 3);
    if (!o) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory decoding base64");
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = dec(c);
        if (v < 0 || pad) {
            mlc_free(o);
            return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                            "invalid base64: unexpected character 0x%02x at offset %zu", c, i);
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits >= 6 || pad > 2) {
        mlc_free(o);
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "invalid base64: truncated input");
    }
    *out = o;
    *n_out = k;
    return MLC_OK;
}

char *core_base64_encode(const void *data, size_t n)
{
    const uint8_t *p = data;
    char *s = mlc_alloc((n + 2) / 3 * 4 + 1);
    if (!s) return NULL;
    size_t k = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        s[k++] = enc_tab[v >> 18];
        s[k++] = enc_tab[(v >> 12) & 63];
        s[k++] = enc_tab[(v >> 6) & 63];
        s[k++] = enc_tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        s[k++] = enc_tab[v >> 18];
        s[k++] = enc_tab[(v >> 12) & 63];
        s[k++] = i + 1 < n ? enc_tab[(v >> 6) & 63] : '=';
        s[k++] = '=';
    }
    s[k] = '\0';
    return s;
}
