/*
 * test_image.c - the image layer against OpenCV/skimage reference data
 * (tests/data/image/refs.txt, made by tools/image_ref/make_refs.py) and on
 * failure paths: corrupt, truncated, empty and bomb inputs, bad base64,
 * unreadable files, refused URL schemes, closed ports, size limits, and
 * allocation failures. Prints the measured agreement per operation.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/core.h"
#include "image/image.h"
#include "mlc.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------ */

struct agree {
    const char *what;
    long cases, values, exact, fails;
    double maxdiff;
};

static void agree_add(struct agree *a, const uint8_t *got, const uint8_t *want, size_t n)
{
    a->cases++;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)got[i] - (int)want[i]);
        a->values++;
        a->exact += d == 0;
        if (d > a->maxdiff) a->maxdiff = d;
    }
}

static void agree_print(const struct agree *a)
{
    if (!a->cases) return;
    printf("agreement %-14s cases %3ld  max diff %-9.3g exact %.5f%%\n", a->what, a->cases,
           a->maxdiff, a->values ? 100.0 * (double)a->exact / (double)a->values : 100.0);
}

static mlc_image *load(const char *rel)
{
    mlc_error err;
    mlc_image *im = NULL;
    if (mlc_image_load(MLC_INPUT_PATH, test_path(rel), 0, NULL, &im, &err)) {
        fprintf(stderr, "load %s: %s\n", rel, err.message);
        return NULL;
    }
    return im;
}

static int load_npy(const char *name, struct core_npy *t)
{
    mlc_error err;
    char rel[512];
    snprintf(rel, sizeof rel, "tests/data/image/%s", name);
    if (core_npy_read(test_path(rel), t, &err)) {
        fprintf(stderr, "npy %s: %s\n", name, err.message);
        return 0;
    }
    return 1;
}

/* Splits a line into at most 8 space-separated words, in place. */
static int split(char *s, char **w)
{
    int n = 0;
    while (*s && n < 8) {
        while (*s == ' ' || *s == '\n') *s++ = '\0';
        if (!*s) break;
        w[n++] = s;
        while (*s && *s != ' ' && *s != '\n') s++;
    }
    return n;
}

/* Compares an image (3 channels) or its channel 0 (grey npy) with a ref. */
static void compare(struct agree *a, const mlc_image *im, const struct core_npy *t, double tol,
                    const char *label)
{
    int grey = t->rank == 2;
    if (t->dims[0] != im->h || t->dims[1] != im->w || (!grey && t->dims[2] != 3)) {
        CHECK_MSG(0, "%s: size %dx%d, reference %lldx%lld", label, im->w, im->h,
                  (long long)t->dims[1], (long long)t->dims[0]);
        a->fails++;
        return;
    }
    size_t n = (size_t)im->w * im->h * (grey ? 1 : 3);
    uint8_t *got = mlc_alloc(n);
    for (size_t i = 0; i < n; i++) got[i] = grey ? im->px[3 * i] : im->px[i];
    double before = a->maxdiff;
    a->maxdiff = 0;
    agree_add(a, got, t->data, n);
    if (a->maxdiff > tol) {
        CHECK_MSG(0, "%s: max diff %g > %g", label, a->maxdiff, tol);
        a->fails++;
    }
    if (before > a->maxdiff) a->maxdiff = before;
    mlc_free(got);
}

/* ---- reference cases ---------------------------------------------------- */

#define AGREE(name)                                                                                \
    {                                                                                              \
        name, 0, 0, 0, 0, 0                                                                        \
    }
static struct agree ag_dec = AGREE("decode"), ag_rs = AGREE("resize u8"),
                    ag_rsf = AGREE("resize f32"), ag_gray = AGREE("gray"),
                    ag_eq = AGREE("equalizeHist"), ag_clahe = AGREE("CLAHE"),
                    ag_skst = AGREE("sk stretch"), ag_skeq = AGREE("sk eq_hist"),
                    ag_skah = AGREE("sk adapthist");

static void run_case(char **w, int nw)
{
    mlc_error err;
    char rel[512];
    struct core_npy t = {0};
    if (!strcmp(w[0], "decode") && nw >= 3) {
        snprintf(rel, sizeof rel, "tests/data/image/%s", w[1]);
        unsigned flags = nw >= 4 && !strcmp(w[3], "noorient") ? MLC_IMAGE_NO_AUTO_ORIENT : 0;
        mlc_image *im = NULL;
        mlc_status st = mlc_image_load(MLC_INPUT_PATH, test_path(rel), flags, NULL, &im, &err);
        CHECK_MSG(st == MLC_OK, "%s: %s", w[1], err.message);
        if (!st && load_npy(w[2], &t)) compare(&ag_dec, im, &t, 0, w[1]);
        mlc_image_free(im);
    } else if (!strcmp(w[0], "fail") && nw >= 3) {
        snprintf(rel, sizeof rel, "tests/data/image/%s", w[1]);
        mlc_image *im = NULL;
        mlc_status st = mlc_image_load(MLC_INPUT_PATH, test_path(rel), 0, NULL, &im, &err);
        CHECK_MSG((int)st == atoi(w[2]), "%s: status %d, want %s", w[1], st, w[2]);
        CHECK(im == NULL);
        if (st)
            CHECK_MSG(strstr(err.message, w[1]) != NULL, "message does not name the file: %s",
                      err.message);
    } else if ((!strcmp(w[0], "resize") || !strcmp(w[0], "resize_f32")) && nw >= 5) {
        snprintf(rel, sizeof rel, "tests/data/image/%s", w[1]);
        mlc_image *src = load(rel), *out = NULL;
        int ww = atoi(w[2]), hh = atoi(w[3]);
        if (!src || !load_npy(w[4], &t)) {
            CHECK(0);
        } else if (!strcmp(w[0], "resize")) {
            CHECK_OK(img_resize(src, ww, hh, &out, &err), &err);
            if (out) compare(&ag_rs, out, &t, 1, w[4]);
        } else {
            struct img_f32 f = {0}, r = {0};
            CHECK_OK(img_to_f32(src, &f, &err), &err);
            CHECK_OK(img_resize_f32(&f, ww, hh, &r, &err), &err);
            const float *want = t.data;
            size_t n = (size_t)ww * hh * 3;
            double md = 0;
            long ex = 0;
            for (size_t i = 0; r.px && i < n; i++) {
                double d = fabs((double)r.px[i] - want[i]);
                md = d > md ? d : md;
                ex += d == 0;
            }
            ag_rsf.cases++;
            ag_rsf.values += (long)n;
            ag_rsf.exact += ex;
            if (md > ag_rsf.maxdiff) ag_rsf.maxdiff = md;
            CHECK_MSG(md <= 1e-3, "%s: float max diff %g", w[4], md);
            img_f32_free(&f);
            img_f32_free(&r);
        }
        mlc_image_free(src);
        mlc_image_free(out);
    } else if (nw >= 3) {
        snprintf(rel, sizeof rel, "tests/data/image/%s", w[1]);
        mlc_image *im = load(rel);
        if (!im || !load_npy(w[2], &t)) {
            CHECK(0);
        } else if (!strcmp(w[0], "gray")) {
            img_grayscale(im, 0);
            compare(&ag_gray, im, &t, 0, w[2]);
        } else if (!strcmp(w[0], "eqhist")) {
            img_equalize_hist_cv(im);
            compare(&ag_eq, im, &t, 0, w[2]);
        } else if (!strcmp(w[0], "clahe")) {
            CHECK_OK(img_clahe_cv(im, 0.03, 8, 8, &err), &err);
            compare(&ag_clahe, im, &t, 1, w[2]);
        } else if (!strcmp(w[0], "sk_stretch")) {
            img_contrast_stretch_sk(im);
            compare(&ag_skst, im, &t, 0, w[2]);
        } else if (!strcmp(w[0], "sk_eqhist")) {
            CHECK_OK(img_equalize_hist_sk(im, &err), &err);
            compare(&ag_skeq, im, &t, 1, w[2]);
        } else if (!strcmp(w[0], "sk_adapthist")) {
            CHECK_OK(img_equalize_adapthist_sk(im, 0.03, &err), &err);
            compare(&ag_skah, im, &t, 2, w[2]);
        } else {
            CHECK_MSG(0, "unknown case %s", w[0]);
        }
        mlc_image_free(im);
    }
    core_npy_free(&t);
}

static void test_references(void)
{
    char *text = NULL;
    size_t n = 0;
    mlc_error err;
    CHECK_OK(core_read_file(test_path("tests/data/image/refs.txt"), 0, &text, &n, &err), &err);
    if (!text) return;
    int cases = 0;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        char *w[8];
        int nw = line[0] == '#' ? 0 : split(line, w);
        if (nw) {
            run_case(w, nw);
            cases++;
        }
        line = nl ? nl + 1 : NULL;
    }
    CHECK(cases > 50);
    mlc_free(text);
    struct agree *all[] = {&ag_dec,   &ag_rs,   &ag_rsf,  &ag_gray, &ag_eq,
                           &ag_clahe, &ag_skst, &ag_skeq, &ag_skah};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) agree_print(all[i]);
}

/* ---- failure paths ------------------------------------------------------ */

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

static void put32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

static mlc_status decode(const void *p, size_t n, mlc_error *err)
{
    mlc_image *im = NULL;
    mlc_status st = mlc_image_decode(p, n, 0, NULL, &im, err);
    if (!st)
        CHECK(im && im->w > 0 && im->h > 0);
    else
        CHECK(im == NULL);
    mlc_image_free(im);
    return st;
}

static void test_bombs(void)
{
    mlc_error err;
    /* PNG declaring 100000 x 100000 with a valid IHDR CRC. */
    uint8_t png[8 + 25 + 12];
    memcpy(png, "\x89PNG\r\n\x1a\n", 8);
    put32be(png + 8, 13);
    memcpy(png + 12, "IHDR", 4);
    put32be(png + 16, 100000);
    put32be(png + 20, 100000);
    memcpy(png + 24, "\x08\x02\x00\x00\x00", 5);
    put32be(png + 29, crc32_of(png + 12, 17));
    memcpy(png + 33, "\0\0\0\0IEND\xae\x42\x60\x82", 12);
    CHECK_MSG(decode(png, sizeof png, &err) == MLC_STATUS_LIMIT, "%s", err.message);
    CHECK(strstr(err.message, "100000x100000") != NULL);
    /* A 60-byte PNG whose eXIf chunk claims 1.4 GB: libpng would allocate
     * the declared length before finding the file short (fuzz_image). */
    uint8_t exif[8 + 25 + 12 + 15];
    memcpy(exif, png, 33);
    put32be(exif + 16, 40);
    put32be(exif + 20, 24);
    put32be(exif + 29, crc32_of(exif + 12, 17));
    put32be(exif + 33, 0x5400001au);
    memcpy(exif + 37, "eXIfMM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01", 23);
    CHECK_MSG(decode(exif, sizeof exif, &err) == MLC_STATUS_BAD_IMAGE, "%s", err.message);
    CHECK_MSG(strstr(err.message, "chunk 'eXIf' at offset 33 declares 1409286170 bytes"), "%s",
              err.message);
    /* BMP 100000 x 100000, 24-bit. */
    uint8_t bmp[54] = "BM";
    bmp[10] = 54, bmp[14] = 40;
    bmp[18] = 0xA0, bmp[19] = 0x86, bmp[20] = 0x01; /* 100000 */
    bmp[22] = 0xA0, bmp[23] = 0x86, bmp[24] = 0x01;
    bmp[26] = 1, bmp[28] = 24;
    CHECK(decode(bmp, sizeof bmp, &err) == MLC_STATUS_LIMIT);
    /* GIF logical screen 65535 x 65535. */
    uint8_t gif[] = {'G', 'I', 'F', '8',  '9',  'a',  0xFF, 0xFF, 0xFF, 0xFF, 0,    0, 0, ',', 0,
                     0,   0,   0,   0xFF, 0xFF, 0xFF, 0xFF, 0,    2,    2,    0x44, 1, 0, ';'};
    CHECK(decode(gif, sizeof gif, &err) == MLC_STATUS_LIMIT);
    /* JPEG SOF0 65000 x 65000. */
    uint8_t jpg[] = {0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0xFD, 0xE8, 0xFD, 0xE8, 1,    1,   0x11,
                     0,    0xFF, 0xDA, 0,    8, 1,  1, 0,    0,    0x3F, 0,    0xFF, 0xD9};
    CHECK(decode(jpg, sizeof jpg, &err) == MLC_STATUS_LIMIT);
    /* A small limit refuses an otherwise fine image. */
    mlc_limits lim;
    mlc_limits_default(&lim);
    lim.max_image_pixels = 100;
    mlc_image *im = NULL;
    CHECK(mlc_image_load(MLC_INPUT_PATH, test_path("tests/data/image/rgb.png"), 0, &lim, &im,
                         &err) == MLC_STATUS_LIMIT);
    lim.max_image_pixels = 0;
    lim.max_input_bytes = 64;
    CHECK(mlc_image_load(MLC_INPUT_PATH, test_path("tests/data/image/rgb.png"), 0, &lim, &im,
                         &err) == MLC_STATUS_LIMIT);
    CHECK(im == NULL);
}

static void test_truncations(void)
{
    /* Every prefix of small files in each format: an error or an image,
     * never a crash or a leak (ASan watches). */
    const char *files[] = {"odd_3x7.jpg", "grey.jpg",   "odd_3x7.png",   "palette_trns.png",
                           "rgb555.bmp",  "pal4.bmp",   "lossless.webp", "interlaced.gif",
                           "palette.tif", "exif_o6.jpg"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char rel[256];
        snprintf(rel, sizeof rel, "tests/data/image/%s", files[f]);
        char *data = NULL;
        size_t n = 0;
        mlc_error err;
        CHECK_OK(core_read_file(test_path(rel), 0, &data, &n, &err), &err);
        size_t step = n > 400 ? n / 200 : 1;
        int ok_full = 0;
        for (size_t k = 0; k <= n; k += step) {
            mlc_status st = decode(data, k, &err);
            if (k == n) ok_full = st == MLC_OK;
            if (st) CHECK_MSG(err.message[0] != '\0', "%s[:%zu] without a message", files[f], k);
        }
        CHECK_MSG(decode(data, n, &err) == MLC_OK, "%s: %s", files[f], err.message);
        (void)ok_full;
        /* Flip bytes in the middle: still no crash. */
        for (size_t k = n / 3; k < n; k += n / 7 + 1) {
            data[k] ^= 0x5A;
            decode(data, n, &err);
        }
        mlc_free(data);
    }
}

static void test_bad_inputs(void)
{
    mlc_error err;
    mlc_image *im = NULL;
    CHECK(mlc_image_decode("", 0, 0, NULL, &im, &err) == MLC_STATUS_BAD_IMAGE);
    CHECK(strstr(err.message, "empty") != NULL);
    CHECK(mlc_image_decode("\x00\x01\x02\x03hello", 9, 0, NULL, &im, &err) == MLC_STATUS_BAD_IMAGE);
    CHECK(strstr(err.message, "first bytes 00 01 02 03") != NULL);
    CHECK(mlc_image_load(MLC_INPUT_BASE64, "!!!not base64!!!", 0, NULL, &im, &err) ==
          MLC_STATUS_BAD_IMAGE);
    CHECK(strstr(err.message, "base64") != NULL);
    CHECK(mlc_image_load(MLC_INPUT_BASE64, "data:image/png;base64,AAAA", 0, NULL, &im, &err) ==
          MLC_STATUS_BAD_IMAGE);
    CHECK(mlc_image_load(MLC_INPUT_BASE64, "data:image/png,AAAA", 0, NULL, &im, &err) ==
          MLC_STATUS_BAD_IMAGE);
    CHECK(mlc_image_load(MLC_INPUT_PATH, "/nonexistent/x.jpg", 0, NULL, &im, &err) ==
          MLC_STATUS_NOT_FOUND);
    CHECK(strstr(err.message, "x.jpg") != NULL);
    CHECK(mlc_image_load(MLC_INPUT_PATH, test_path("tests/data/image"), 0, NULL, &im, &err) !=
          MLC_OK);
    CHECK(mlc_image_load(MLC_INPUT_AUTO, "missing-file.jpg", 0, NULL, &im, &err) ==
          MLC_STATUS_NOT_FOUND);
    CHECK(mlc_image_load(MLC_INPUT_URL, "ftp://example.com/x.jpg", 0, NULL, &im, &err) ==
          MLC_STATUS_INVALID_ARGUMENT);
    CHECK(mlc_image_load(MLC_INPUT_AUTO, "file:///etc/passwd", 0, NULL, &im, &err) ==
          MLC_STATUS_INVALID_ARGUMENT);
    CHECK(mlc_image_load(MLC_INPUT_URL, "http://127.0.0.1:1/x.jpg", 0, NULL, &im, &err) ==
          MLC_STATUS_NETWORK);
    CHECK(strstr(err.message, "127.0.0.1:1") != NULL);
    CHECK(mlc_image_load(MLC_INPUT_URL, "http://127.0.0.1:1/x.jpg", IMG_FLAG_PUBLIC_URLS_ONLY, NULL,
                         &im, &err) == MLC_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(err.message, "private") != NULL);
    CHECK(im == NULL);
    CHECK(img_addr_is_private("127.0.0.1") && img_addr_is_private("10.1.2.3") &&
          img_addr_is_private("192.168.0.1") && img_addr_is_private("172.20.0.1") &&
          img_addr_is_private("169.254.1.1") && img_addr_is_private("::1") &&
          img_addr_is_private("fd00::1") && img_addr_is_private("::ffff:127.0.0.1"));
    CHECK(!img_addr_is_private("8.8.8.8") && !img_addr_is_private("2001:4860::8888") &&
          !img_addr_is_private("172.32.0.1"));
    /* NULL error pointer is allowed. */
    CHECK(mlc_image_decode("xx", 2, 0, NULL, &im, NULL) == MLC_STATUS_BAD_IMAGE);
}

/* A one-shot HTTP server on 127.0.0.1 for the URL path. */
struct srv {
    int fd, port;
    const char *body;
    size_t n;
    const char *status;
};

static void *serve(void *arg)
{
    struct srv *s = arg;
    for (int i = 0; i < 2; i++) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) return NULL;
        char req[2048];
        ssize_t k = read(c, req, sizeof req);
        (void)k;
        char hdr[256];
        int hn = snprintf(hdr, sizeof hdr,
                          "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                          s->status, s->n);
        if (write(c, hdr, (size_t)hn) < 0 || write(c, s->body, s->n) < 0) {
        }
        close(c);
    }
    return NULL;
}

static void test_url(void)
{
    char *data = NULL;
    size_t n = 0;
    mlc_error err;
    CHECK_OK(core_read_file(test_path("tests/data/image/q75_444.jpg"), 0, &data, &n, &err), &err);
    struct srv s = {socket(AF_INET, SOCK_STREAM, 0), 0, data, n, "200 OK"};
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    CHECK(bind(s.fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(s.fd, 4) == 0);
    getsockname(s.fd, (struct sockaddr *)&a, &al);
    s.port = ntohs(a.sin_port);
    pthread_t th;
    pthread_create(&th, NULL, serve, &s);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/img.jpg", s.port);
    mlc_image *im = NULL;
    CHECK_OK(mlc_image_load(MLC_INPUT_AUTO, url, 0, NULL, &im, &err), &err);
    CHECK(im && im->w == 64 && im->h == 48);
    mlc_image_free(im);
    im = NULL;
    mlc_limits lim;
    mlc_limits_default(&lim);
    lim.max_url_bytes = 100;
    CHECK(mlc_image_load(MLC_INPUT_URL, url, 0, &lim, &im, &err) == MLC_STATUS_LIMIT);
    CHECK(strstr(err.message, "limit") != NULL);
    pthread_join(th, NULL);
    close(s.fd);
    mlc_free(data);
}

static void test_base64_and_api(void)
{
    char *data = NULL;
    size_t n = 0;
    mlc_error err;
    CHECK_OK(core_read_file(test_path("tests/data/image/odd_3x7.png"), 0, &data, &n, &err), &err);
    char *b64 = core_base64_encode(data, n);
    char *durl = core_sprintf("data:image/png;base64,%s", b64);
    mlc_image *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(mlc_image_load(MLC_INPUT_AUTO, b64, 0, NULL, &a, &err), &err);
    CHECK_OK(mlc_image_load(MLC_INPUT_AUTO, durl, 0, NULL, &b, &err), &err);
    CHECK(a && b && mlc_image_width(a) == 3 && mlc_image_height(b) == 7);
    size_t stride = 0;
    const uint8_t *px = mlc_image_bgr(a, &stride);
    CHECK(stride == 9 && memcmp(px, mlc_image_bgr(b, NULL), 63) == 0);
    /* from_bgr with padding, then JPEG round trip. */
    uint8_t buf[7 * 16];
    memset(buf, 0xEE, sizeof buf);
    for (int y = 0; y < 7; y++) memcpy(buf + y * 16, px + y * 9, 9);
    CHECK_OK(mlc_image_from_bgr(buf, 3, 7, 16, &c, &err), &err);
    CHECK(c && memcmp(mlc_image_bgr(c, NULL), px, 63) == 0);
    CHECK(mlc_image_from_bgr(buf, 3, 7, 5, &c, &err) == MLC_STATUS_INVALID_ARGUMENT);
    void *jpg = NULL;
    size_t jn = 0;
    CHECK_OK(mlc_image_encode_jpeg(a, 95, &jpg, &jn, &err), &err);
    mlc_image *d = NULL;
    CHECK_OK(mlc_image_decode(jpg, jn, 0, NULL, &d, &err), &err);
    CHECK(d && d->w == 3 && d->h == 7);
    CHECK(mlc_image_encode_jpeg(a, 0, &jpg, &jn, &err) == MLC_STATUS_INVALID_ARGUMENT);
    mlc_free(jpg);
    mlc_image_free(d);
    mlc_image_free(a);
    mlc_image_free(b);
    mlc_image_free(c);
    mlc_image_free(NULL);
    mlc_free(b64);
    mlc_free(durl);
    mlc_free(data);
}

static void test_ops(void)
{
    mlc_error err;
    mlc_image *src = load("tests/data/image/src_small.png"), *o = NULL;
    if (!src) {
        CHECK(0);
        return;
    }
    CHECK_OK(img_crop(src, 10, 5, 30, 25, &o, &err), &err);
    CHECK(o && o->w == 20 && o->h == 20 && memcmp(o->px, src->px + 5 * src->stride + 30, 60) == 0);
    mlc_image_free(o);
    CHECK(img_crop(src, 30, 5, 10, 25, &o, &err) == MLC_STATUS_INVALID_ARGUMENT);
    CHECK_OK(img_crop(src, -5, -5, 1000, 1000, &o, &err), &err); /* clamps like a numpy slice */
    CHECK(o && o->w == 64 && o->h == 48);
    mlc_image_free(o);
    int nw, nh, l, t;
    img_letterbox_dims_legacy(64, 48, 224, 224, &nw, &nh, &l, &t);
    CHECK(nw == 224 && nh == 168 && l == 0 && t == 28);
    img_letterbox_dims_new(48, 64, 100, 50, &nw, &nh, &l, &t);
    CHECK(nw == 37 && nh == 50 && l == 31 && t == 0);
    uint8_t grey[3] = {114, 114, 114};
    img_letterbox_dims_legacy(64, 48, 100, 100, &nw, &nh, &l, &t);
    CHECK_OK(img_letterbox(src, 100, 100, nw, nh, l, t, grey, &o, &err), &err);
    CHECK(o && o->px[0] == 114 && o->px[3 * (99 * 100 + 99)] == 114);
    mlc_image *r = NULL;
    CHECK_OK(img_resize(src, nw, nh, &r, &err), &err);
    CHECK(o && r && memcmp(o->px + (size_t)t * o->stride + 3 * l, r->px, r->stride) == 0);
    mlc_image_free(o);
    mlc_image_free(r);
    CHECK_OK(img_center_crop_pad(src, 32, 64, &o, &err), &err);
    CHECK(o && o->px[0] == 0 && memcmp(o->px + 8 * o->stride, src->px + 16 * 3, 96) == 0);
    mlc_image_free(o);
    CHECK(img_resize(src, 0, 5, &o, &err) == MLC_STATUS_INVALID_ARGUMENT);
    mlc_image_free(src);
}

static void test_alloc_failures(void)
{
    /* Fail each of our allocations in turn while loading and processing. */
    for (long k = 1; k < 40; k++) {
        mlc_error err;
        mlc_image *im = NULL, *r = NULL;
        core_alloc_fail_after(k);
        mlc_status st = mlc_image_load(MLC_INPUT_PATH, test_path("tests/data/image/palette.tif"), 0,
                                       NULL, &im, &err);
        if (!st) st = img_resize(im, 17, 9, &r, &err);
        if (!st) st = img_clahe_cv(im, 0.03, 8, 8, &err);
        if (!st) st = img_equalize_adapthist_sk(im, 0.03, &err);
        core_alloc_fail_after(0);
        CHECK_MSG(st == MLC_OK || st == MLC_STATUS_NO_MEMORY, "k=%ld: %d %s", k, st, err.message);
        mlc_image_free(im);
        mlc_image_free(r);
    }
}

int main(void)
{
    TEST_RUN(test_references);
    TEST_RUN(test_bombs);
    TEST_RUN(test_truncations);
    TEST_RUN(test_bad_inputs);
    TEST_RUN(test_url);
    TEST_RUN(test_base64_and_api);
    TEST_RUN(test_ops);
    TEST_RUN(test_alloc_failures);
    TEST_DONE();
}
