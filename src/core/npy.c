/*
 * npy.c - NumPy .npy files, the exchange format of `mlc tensor` and the
 * numerics tests. Accepts format versions 1.0-3.0, little-endian or
 * byte-less dtypes, C order only. The header is parsed defensively: shape
 * products are checked for overflow and against the payload size.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"

static size_t dtype_size(const char *d)
{
    if (!strcmp(d, "<f4") || !strcmp(d, "<i4")) return 4;
    if (!strcmp(d, "<f8") || !strcmp(d, "<i8")) return 8;
    if (!strcmp(d, "|u1") || !strcmp(d, "|b1") || !strcmp(d, "|i1")) return 1;
    if (!strcmp(d, "<f2")) return 2;
    return 0;
}

mlc_status core_npy_read(const char *path, struct core_npy *out, mlc_error *err)
{
    mlc_status st;
    char *buf = NULL;
    size_t n = 0;
    memset(out, 0, sizeof *out);
    if ((st = core_read_file(path, 0, &buf, &n, err))) return st;
    st = MLC_STATUS_INVALID_ARGUMENT;
    if (n < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) {
        core_err(err, st, "'%s': not a .npy file", path);
        goto fail;
    }
    size_t hlen, hoff;
    if (buf[6] == 1) {
        hlen = (uint8_t)buf[8] | (size_t)(uint8_t)buf[9] << 8;
        hoff = 10;
    } else if (n >= 12) {
        hlen = (uint8_t)buf[8] | (size_t)(uint8_t)buf[9] << 8 | (size_t)(uint8_t)buf[10] << 16 |
               (size_t)(uint8_t)buf[11] << 24;
        hoff = 12;
    } else {
        core_err(err, st, "'%s': truncated .npy header", path);
        goto fail;
    }
    if (hlen > n - hoff) {
        core_err(err, st, "'%s': .npy header longer than the file", path);
        goto fail;
    }
    char hdr[1024];
    size_t hl = hlen < sizeof hdr - 1 ? hlen : sizeof hdr - 1;
    memcpy(hdr, buf + hoff, hl);
    hdr[hl] = '\0';
    const char *d = strstr(hdr, "'descr':");
    const char *f = strstr(hdr, "'fortran_order':");
    const char *s = strstr(hdr, "'shape':");
    if (!d || !f || !s) {
        core_err(err, st, "'%s': .npy header lacks descr, fortran_order or shape", path);
        goto fail;
    }
    d = strchr(d + 8, '\'');
    if (!d || !strchr(d + 1, '\'') || strchr(d + 1, '\'') - d - 1 >= (long)sizeof out->dtype) {
        core_err(err, st, "'%s': bad descr in .npy header", path);
        goto fail;
    }
    memcpy(out->dtype, d + 1, (size_t)(strchr(d + 1, '\'') - d - 1));
    if (!strcmp(out->dtype, "|u1") || !strcmp(out->dtype, "<u1")) memcpy(out->dtype, "|u1", 4);
    size_t es = dtype_size(out->dtype);
    if (!es) {
        core_err(err, MLC_STATUS_UNSUPPORTED, "'%s': unsupported .npy dtype '%s'", path,
                 out->dtype);
        goto fail;
    }
    if (strncmp(f + 16, " False", 6) != 0 && strncmp(f + 16, "False", 5) != 0) {
        core_err(err, MLC_STATUS_UNSUPPORTED, "'%s': Fortran-order .npy is not supported", path);
        goto fail;
    }
    const char *p = strchr(s, '(');
    if (!p) {
        core_err(err, st, "'%s': bad shape in .npy header", path);
        goto fail;
    }
    p++;
    uint64_t count = 1;
    out->rank = 0;
    for (;;) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        if (*p < '0' || *p > '9' || out->rank >= 8) {
            core_err(err, st, "'%s': bad shape in .npy header", path);
            goto fail;
        }
        uint64_t v = 0;
        while (*p >= '0' && *p <= '9') {
            if (v > (UINT64_MAX - 9) / 10) break;
            v = v * 10 + (uint64_t)(*p++ - '0');
        }
        if (v > ((uint64_t)1 << 40) || (v && count > (((uint64_t)1 << 40) / v))) {
            core_err(err, MLC_STATUS_LIMIT, "'%s': .npy shape too large", path);
            goto fail;
        }
        count *= v;
        out->dims[out->rank++] = (int64_t)v;
    }
    size_t off = hoff + hlen;
    if (count * es != n - off) {
        core_err(err, st, "'%s': .npy payload is %zu bytes, shape needs %llu", path, n - off,
                 (unsigned long long)(count * es));
        goto fail;
    }
    out->nbytes = (size_t)(count * es);
    out->data = mlc_alloc(out->nbytes ? out->nbytes : 1);
    if (!out->data) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
        goto fail;
    }
    memcpy(out->data, buf + off, out->nbytes);
    mlc_free(buf);
    return MLC_OK;
fail:
    mlc_free(buf);
    return st;
}

mlc_status core_npy_write(const char *path, const char *dtype, int rank, const int64_t *dims,
                          const void *data, mlc_error *err)
{
    size_t es = dtype_size(dtype);
    if (!es || rank < 0 || rank > 8)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "cannot write .npy of dtype '%s'", dtype);
    char shape[256] = "";
    size_t count = 1, k = 0;
    for (int i = 0; i < rank; i++) {
        k += (size_t)snprintf(shape + k, sizeof shape - k, "%lld,%s", (long long)dims[i],
                              i + 1 < rank ? " " : "");
        count *= (size_t)dims[i];
    }
    if (rank > 1) shape[k - 1] = '\0'; /* "(2, 3)" not "(2, 3,)" */
    char hdr[512];
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                      dtype, shape);
    size_t total = 10 + (size_t)hl + 1;
    size_t padded = (total + 63) / 64 * 64;
    struct core_buf b;
    core_buf_init(&b, 0);
    mlc_status st = MLC_OK;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    size_t hlen = padded - 10;
    pre[8] = (unsigned char)(hlen & 0xff);
    pre[9] = (unsigned char)(hlen >> 8);
    if ((st = core_buf_append(&b, pre, 10)) || (st = core_buf_append(&b, hdr, (size_t)hl)))
        goto fail;
    while (b.len < padded - 1)
        if ((st = core_buf_append(&b, " ", 1))) goto fail;
    if ((st = core_buf_append(&b, "\n", 1)) || (st = core_buf_append(&b, data, count * es)))
        goto fail;
    st = core_write_file_atomic(path, b.data, b.len, err);
    core_buf_free(&b);
    return st;
fail:
    core_buf_free(&b);
    return core_err(err, st, "cannot build .npy for '%s'", path);
}

void core_npy_free(struct core_npy *t)
{
    mlc_free(t->data);
    t->data = NULL;
}

static const struct {
    mlc_dtype dt;
    const char *descr;
    size_t size;
} npy_types[] = {
    {MLC_DTYPE_F32, "<f4", 4},  {MLC_DTYPE_F64, "<f8", 8}, {MLC_DTYPE_I64, "<i8", 8},
    {MLC_DTYPE_I32, "<i4", 4},  {MLC_DTYPE_U8, "|u1", 1},  {MLC_DTYPE_I8, "|i1", 1},
    {MLC_DTYPE_BOOL, "|b1", 1}, {MLC_DTYPE_F16, "<f2", 2},
};

size_t mlc_dtype_size(mlc_dtype dt)
{
    if (dt == MLC_DTYPE_BF16) return 2;
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (npy_types[i].dt == dt) return npy_types[i].size;
    return 0;
}

mlc_status mlc_tensor_load_npy(const char *path, mlc_tensor *t_out, mlc_error *err)
{
    struct core_npy n;
    mlc_status st = core_npy_read(path, &n, err);
    if (st) return st;
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++) {
        if (strcmp(npy_types[i].descr, n.dtype) != 0) continue;
        t_out->dtype = npy_types[i].dt;
        t_out->rank = n.rank;
        for (int k = 0; k < MLC_MAX_RANK; k++) t_out->dims[k] = k < n.rank ? n.dims[k] : 0;
        t_out->data = n.data;
        return MLC_OK;
    }
    core_npy_free(&n);
    return core_err(err, MLC_STATUS_UNSUPPORTED, "'%s': unsupported .npy dtype", path);
}

mlc_status mlc_tensor_save_npy(const char *path, const mlc_tensor *t, mlc_error *err)
{
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (npy_types[i].dt == t->dtype)
            return core_npy_write(path, npy_types[i].descr, t->rank, t->dims, t->data, err);
    return core_err(err, MLC_STATUS_UNSUPPORTED, "cannot save dtype %d as .npy", (int)t->dtype);
}
