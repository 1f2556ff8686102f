/*
 * contrast.c - the contrast methods of both Roboflow runtimes.
 *
 * Legacy runtime (OpenCV on the grey image; the result is grey):
 *   equalizeHist  LUT from the cumulative histogram, scale 255/(N - h[min])
 *                 in float, cvRound.
 *   CLAHE         OpenCV's CLAHE_Impl: pad to a multiple of the tile grid
 *                 with BORDER_REFLECT_101 (always adding tilesX - w%tilesX
 *                 columns when the width does not divide, the same for rows),
 *                 clip limit max(int(clip * tileArea / 256), 1), excess
 *                 spread evenly then one by one with a stride, LUT scale
 *                 255/tileArea in float, bilinear blend of 4 tile LUTs in
 *                 float, cvRound.
 * New runtime (skimage on all channels; the result stays colour):
 *   stretch       numpy percentiles (linear method) over every value, then
 *                 rescale_intensity's double arithmetic, truncated to uint8.
 *   equalize_hist numpy histogram of img/255 over [min, max] in 256 bins,
 *                 normalised cumulative sum, np.interp at the values, *255,
 *                 truncated.
 *   adapthist     skimage 0.19 equalize_adapthist: RGB -> HSV, CLAHE on V
 *                 (14-bit levels, 256 bins, kernel 1/8 of each side,
 *                 clip_limit * kernel area, skimage's clip/redistribute and
 *                 block-corner interpolation in float32), HSV -> RGB, *255,
 *                 truncated.
 * The arithmetic order follows the references so that results match bit
 * for bit where the reference's floating point is reproducible in C.
 */
#include <math.h>
#include <string.h>

#include "image/image.h"

static uint8_t round_u8(float v)
{
    long r = lrintf(v);
    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

/* BGR -> grey plane (cvtColor arithmetic). */
static uint8_t *grey_plane(const mlc_image *im)
{
    uint8_t *g = mlc_alloc((size_t)im->w * (size_t)im->h);
    if (!g) return NULL;
    for (size_t i = 0, n = (size_t)im->w * im->h; i < n; i++) {
        const uint8_t *p = im->px + 3 * i;
        g[i] = img_grey_px(p[0], p[1], p[2]);
    }
    return g;
}

void img_equalize_hist_cv(mlc_image *im)
{
    size_t n = (size_t)im->w * im->h;
    int hist[256] = {0};
    uint8_t lut[256] = {0};
    uint8_t *g = im->px; /* computed in place into channel 0 */
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = im->px + 3 * i;
        uint8_t v = img_grey_px(p[0], p[1], p[2]);
        hist[v]++;
        g[3 * i] = v;
    }
    int i = 0;
    while (!hist[i]) i++;
    if ((size_t)hist[i] == n) {
        for (int k = 0; k < 256; k++) lut[k] = (uint8_t)i;
    } else {
        float scale = 255.f / (float)(n - (size_t)hist[i]);
        int sum = 0;
        for (lut[i++] = 0; i < 256; i++) {
            sum += hist[i];
            lut[i] = round_u8((float)sum * scale);
        }
    }
    for (size_t k = 0; k < n; k++) {
        uint8_t v = lut[g[3 * k]];
        im->px[3 * k] = im->px[3 * k + 1] = im->px[3 * k + 2] = v;
    }
}

/* OpenCV borderInterpolate, BORDER_REFLECT_101 (also numpy's "reflect"). */
static int reflect101(int p, int len)
{
    if (len == 1) return 0;
    while ((unsigned)p >= (unsigned)len) p = p < 0 ? -p : 2 * len - 2 - p;
    return p;
}

mlc_status img_clahe_cv(mlc_image *im, double clip_limit, int tx, int ty, mlc_error *err)
{
    if (tx <= 0 || ty <= 0)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "CLAHE tile grid %dx%d", tx, ty);
    int w = im->w, h = im->h;
    int ew = w, eh = h;
    /* OpenCV pads both axes (by tx - w % tx, which may be a whole tile
     * count) as soon as either does not divide. */
    if (w % tx || h % ty) {
        ew = w + tx - w % tx;
        eh = h + ty - h % ty;
    }
    int tw = ew / tx, th = eh / ty, area = tw * th;
    uint8_t *g = grey_plane(im), *lut = mlc_alloc((size_t)tx * ty * 256);
    int *xi1 = mlc_alloc(sizeof(int) * (size_t)w), *xi2 = mlc_alloc(sizeof(int) * (size_t)w);
    float *xa = mlc_alloc(sizeof(float) * (size_t)w);
    mlc_status st = MLC_OK;
    if (!g || !lut || !xi1 || !xi2 || !xa) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory for CLAHE");
        goto done;
    }
    int clip = 0;
    if (clip_limit > 0.0) {
        clip = (int)(clip_limit * area / 256);
        if (clip < 1) clip = 1;
    }
    float lut_scale = 255.f / (float)area;
    for (int by = 0; by < ty; by++)
        for (int bx = 0; bx < tx; bx++) {
            int hist[256] = {0};
            for (int y = by * th; y < (by + 1) * th; y++) {
                const uint8_t *row = g + (size_t)reflect101(y, h) * w;
                for (int x = bx * tw; x < (bx + 1) * tw; x++) hist[row[reflect101(x, w)]]++;
            }
            if (clip > 0) {
                int clipped = 0;
                for (int i = 0; i < 256; i++)
                    if (hist[i] > clip) {
                        clipped += hist[i] - clip;
                        hist[i] = clip;
                    }
                int batch = clipped / 256, residual = clipped - batch * 256;
                for (int i = 0; i < 256; i++) hist[i] += batch;
                if (residual) {
                    int stepr = 256 / residual > 1 ? 256 / residual : 1;
                    for (int i = 0; i < 256 && residual > 0; i += stepr, residual--) hist[i]++;
                }
            }
            uint8_t *tl = lut + ((size_t)by * tx + bx) * 256;
            int sum = 0;
            for (int i = 0; i < 256; i++) {
                sum += hist[i];
                tl[i] = round_u8((float)sum * lut_scale);
            }
        }
    float inv_tw = 1.0f / (float)tw, inv_th = 1.0f / (float)th;
    for (int x = 0; x < w; x++) {
        float txf = (float)x * inv_tw - 0.5f;
        int t1 = (int)floorf(txf), t2 = t1 + 1;
        xa[x] = txf - (float)t1;
        xi1[x] = (t1 < 0 ? 0 : t1) * 256;
        xi2[x] = (t2 > tx - 1 ? tx - 1 : t2) * 256;
    }
    for (int y = 0; y < h; y++) {
        float tyf = (float)y * inv_th - 0.5f;
        int t1 = (int)floorf(tyf), t2 = t1 + 1;
        float ya = tyf - (float)t1, ya1 = 1.0f - ya;
        t1 = t1 < 0 ? 0 : t1;
        t2 = t2 > ty - 1 ? ty - 1 : t2;
        const uint8_t *p1 = lut + (size_t)t1 * tx * 256, *p2 = lut + (size_t)t2 * tx * 256;
        for (int x = 0; x < w; x++) {
            int v = g[(size_t)y * w + x];
            float a = xa[x], a1 = 1.0f - a;
            float res = ((float)p1[xi1[x] + v] * a1 + (float)p1[xi2[x] + v] * a) * ya1 +
                        ((float)p2[xi1[x] + v] * a1 + (float)p2[xi2[x] + v] * a) * ya;
            uint8_t o = round_u8(res);
            uint8_t *q = im->px + 3 * ((size_t)y * w + x);
            q[0] = q[1] = q[2] = o;
        }
    }
done:
    mlc_free(g);
    mlc_free(lut);
    mlc_free(xi1);
    mlc_free(xi2);
    mlc_free(xa);
    return st;
}

/* ---- skimage ------------------------------------------------------------ */

/* The k-th smallest value (0-based) of a histogram. */
static int kth(const size_t *hist, size_t k)
{
    size_t c = 0;
    for (int v = 0; v < 256; v++) {
        c += hist[v];
        if (c > k) return v;
    }
    return 255;
}

/* numpy.percentile(values, q), method "linear", from a histogram. */
static double np_percentile(const size_t *hist, size_t n, double q)
{
    double qq = q / 100.0;
    double vi = ((double)n * qq + (1.0 + qq * -1.0)) - 1.0;
    double prev = floor(vi);
    size_t lo, hi;
    if (vi >= (double)n - 1)
        lo = hi = n - 1;
    else if (vi < 0)
        lo = hi = 0;
    else
        lo = (size_t)prev, hi = lo + 1;
    double gamma = vi - prev;
    if (vi >= (double)n - 1 || vi < 0) gamma = vi >= (double)n - 1 ? vi - floor(vi) : 0;
    double a = kth(hist, lo), b = kth(hist, hi);
    double diff = b - a; /* uint8 subtraction, b >= a */
    return gamma >= 0.5 ? b - diff * (1.0 - gamma) : a + diff * gamma;
}

void img_contrast_stretch_sk(mlc_image *im)
{
    size_t n = (size_t)im->w * im->h * 3, hist[256] = {0};
    for (size_t i = 0; i < n; i++) hist[im->px[i]]++;
    double lo = np_percentile(hist, n, 2), hi = np_percentile(hist, n, 98);
    uint8_t lut[256];
    for (int v = 0; v < 256; v++) {
        double x = v < lo ? lo : v > hi ? hi : v;
        double o;
        if (lo != hi)
            o = (x - lo) / (hi - lo) * 255.0 + 0.0;
        else
            o = x < 0 ? 0 : x > 255 ? 255 : x;
        lut[v] = (uint8_t)o;
    }
    for (size_t i = 0; i < n; i++) im->px[i] = lut[im->px[i]];
}

mlc_status img_equalize_hist_sk(mlc_image *im, mlc_error *err)
{
    (void)err;
    size_t n = (size_t)im->w * im->h * 3, vh[256] = {0};
    for (size_t i = 0; i < n; i++) vh[im->px[i]]++;
    int vmin = 0, vmax = 255;
    while (!vh[vmin]) vmin++;
    while (!vh[vmax]) vmax--;
    double first = vmin / 255.0, last = vmax / 255.0;
    if (first == last) first -= 0.5, last += 0.5;
    double edges[257], centers[256], cdf[256];
    double step = (last - first) / 256;
    for (int i = 0; i < 256; i++) edges[i] = (double)i * step + first;
    edges[256] = last;
    size_t bins[256] = {0};
    for (int v = vmin; v <= vmax; v++) {
        if (!vh[v]) continue;
        double x = v / 255.0;
        long idx = (long)(((x - first) / (last - first)) * 256);
        if (idx >= 256) idx = 255;
        if (idx < 0) idx = 0;
        if (x < edges[idx]) idx--;
        if (idx < 255 && x >= edges[idx + 1]) idx++;
        bins[idx] += vh[v];
    }
    size_t cum = 0;
    for (int i = 0; i < 256; i++) {
        cum += bins[i];
        cdf[i] = (double)cum;
        centers[i] = (edges[i] + edges[i + 1]) / 2.;
    }
    for (int i = 0; i < 256; i++) cdf[i] = cdf[i] / (double)n;
    uint8_t lut[256] = {0};
    for (int v = vmin; v <= vmax; v++) {
        double x = v / 255.0, r;
        if (x < centers[0])
            r = cdf[0];
        else if (x > centers[255])
            r = cdf[255];
        else {
            int j = 0;
            while (j < 255 && centers[j + 1] <= x) j++;
            if (j == 255 || centers[j] == x)
                r = cdf[j];
            else {
                double slope = (cdf[j + 1] - cdf[j]) / (centers[j + 1] - centers[j]);
                r = slope * (x - centers[j]) + cdf[j];
            }
        }
        lut[v] = (uint8_t)(r * 255);
    }
    for (size_t i = 0; i < n; i++) im->px[i] = lut[im->px[i]];
    return MLC_OK;
}

/* skimage.exposure._adapthist.clip_histogram. */
static void sk_clip_histogram(long *hist, long clim)
{
    long n_excess = 0;
    for (int i = 0; i < 256; i++)
        if (hist[i] > clim) {
            n_excess += hist[i] - clim;
            hist[i] = clim;
        }
    long incr = n_excess / 256, upper = clim - incr;
    for (int i = 0; i < 256; i++)
        if (hist[i] < upper) {
            hist[i] += incr;
            n_excess -= incr;
        }
    for (int i = 0; i < 256; i++)
        if (hist[i] >= upper && hist[i] < clim) {
            n_excess += hist[i] - clim;
            hist[i] = clim;
        }
    while (n_excess > 0) {
        long prev = n_excess;
        for (int index = 0; index < 256; index++) {
            long under = 0;
            int mask[256];
            for (int i = 0; i < 256; i++) under += (mask[i] = hist[i] < clim);
            long stepsz = under / n_excess > 1 ? under / n_excess : 1;
            long got = 0;
            for (long i = index; i < 256; i += stepsz)
                if (mask[i]) hist[i]++, got++;
            n_excess -= got;
            if (n_excess <= 0) break;
        }
        if (prev == n_excess) break;
    }
}

/* skimage _clahe on a 2-D uint16 image with values < 2^14; in place. */
static mlc_status sk_clahe(uint16_t *img, int H, int W, double clip_limit, mlc_error *err)
{
    enum { NG = 16384, NB = 256 };
    int kh = H / 8 > 1 ? H / 8 : 1, kw = W / 8 > 1 ? W / 8 : 1;
    int ps_h = kh / 2, ps_w = kw / 2;
    int pe_h = (kh - H % kh) % kh + (kh + 1) / 2, pe_w = (kw - W % kw) % kw + (kw + 1) / 2;
    int PH = H + ps_h + pe_h, PW = W + ps_w + pe_w;
    int nh = PH / kh - 1, nw = PW / kw - 1, nph = PH / kh, npw = PW / kw;
    mlc_status st = MLC_OK;
    uint8_t *b = mlc_alloc((size_t)PH * PW);
    long *maps = mlc_alloc(sizeof(long) * (size_t)(nh > 0 ? nh : 1) * (nw > 0 ? nw : 1) * NB);
    if (!b || !maps) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory for adaptive equalisation");
        goto done;
    }
    for (int y = 0; y < PH; y++)
        for (int x = 0; x < PW; x++)
            b[(size_t)y * PW + x] =
                (uint8_t)(img[(size_t)reflect101(y - ps_h, H) * W + reflect101(x - ps_w, W)] /
                          (1 + NG / NB));
    long kpix = (long)kh * kw;
    double c = clip_limit * (double)kpix;
    long clim = clip_limit > 0.0 ? (long)(c < 1 ? 1 : c) : kpix;
    for (int i = 0; i < nh; i++)
        for (int j = 0; j < nw; j++) {
            long hist[NB] = {0};
            for (int y = 0; y < kh; y++)
                for (int x = 0; x < kw; x++)
                    hist[b[(size_t)(kh / 2 + i * kh + y) * PW + kw / 2 + j * kw + x]]++;
            sk_clip_histogram(hist, clim);
            long *m = maps + ((size_t)i * nw + j) * NB;
            long cum = 0;
            double scale = (double)(NG - 1) / (double)kpix;
            for (int v = 0; v < NB; v++) {
                cum += hist[v];
                double o = (double)cum * scale + 0;
                if (o > NG - 1) o = NG - 1;
                m[v] = (long)o;
            }
        }
    for (int y = ps_h; y < ps_h + H; y++) {
        int bi = y / kh, r = y % kh;
        for (int x = ps_w; x < ps_w + W; x++) {
            int bj = x / kw, cc = x % kw, v = b[(size_t)y * PW + x];
            double cx = (double)cc / kw, cy = (double)r / kh;
            float acc = 0;
            for (int e0 = 0; e0 < 2; e0++)
                for (int e1 = 0; e1 < 2; e1++) {
                    int mi = bi + e0 - 1, mj = bj + e1 - 1;
                    mi = mi < 0 ? 0 : mi >= nh ? nh - 1 : mi;
                    mj = mj < 0 ? 0 : mj >= nw ? nw - 1 : mj;
                    double wx = e1 ? cx : 1 - cx, wy = e0 ? cy : 1 - cy;
                    acc += (float)((double)maps[((size_t)mi * nw + mj) * NB + v] * (wx * wy));
                }
            img[(size_t)(y - ps_h) * W + (x - ps_w)] = (uint16_t)acc;
        }
    }
    (void)nph, (void)npw;
done:
    mlc_free(b);
    mlc_free(maps);
    return st;
}

mlc_status img_equalize_adapthist_sk(mlc_image *im, double clip_limit, mlc_error *err)
{
    size_t n = (size_t)im->w * im->h;
    double *hsv = mlc_alloc(sizeof(double) * 3 * n);
    uint16_t *u = mlc_alloc(sizeof(uint16_t) * n);
    mlc_status st = MLC_OK;
    if (!hsv || !u) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory for adaptive equalisation");
        goto done;
    }
    /* rgb2hsv on img/255 (channel 0 plays "red", as skimage sees the BGR array). */
    for (size_t i = 0; i < n; i++) {
        double r = im->px[3 * i] / 255.0, g = im->px[3 * i + 1] / 255.0,
               bl = im->px[3 * i + 2] / 255.0;
        double v = r > g ? r : g;
        v = v > bl ? v : bl;
        double mn = r < g ? r : g;
        mn = mn < bl ? mn : bl;
        double delta = v - mn, s = delta == 0 ? 0 : delta / v, hh = 0;
        if (delta != 0) {
            if (bl == v)
                hh = 4. + (r - g) / delta;
            else if (g == v)
                hh = 2. + (bl - r) / delta;
            else
                hh = (g - bl) / delta;
            hh = fmod(hh / 6., 1.);
            if (hh < 0) hh += 1.;
        }
        hsv[3 * i] = hh, hsv[3 * i + 1] = s, hsv[3 * i + 2] = v;
    }
    /* img_as_uint, then rescale_intensity to 0..2^14-1, rounded. */
    uint16_t umin = 65535, umax = 0;
    for (size_t i = 0; i < n; i++) {
        u[i] = (uint16_t)rint(hsv[3 * i + 2] * 65535.0);
        umin = u[i] < umin ? u[i] : umin;
        umax = u[i] > umax ? u[i] : umax;
    }
    for (size_t i = 0; i < n; i++) {
        double o;
        if (umin != umax)
            o = rint(((double)u[i] - umin) / ((double)umax - umin) * 16383.0 + 0.0);
        else
            o = u[i] > 16383 ? 16383 : u[i];
        u[i] = (uint16_t)o;
    }
    if ((st = sk_clahe(u, im->h, im->w, clip_limit, err))) goto done;
    uint16_t rmin = 65535, rmax = 0;
    for (size_t i = 0; i < n; i++) {
        rmin = u[i] < rmin ? u[i] : rmin;
        rmax = u[i] > rmax ? u[i] : rmax;
    }
    for (size_t i = 0; i < n; i++) {
        double v = rmin != rmax ? ((double)u[i] - rmin) / ((double)rmax - rmin)
                                : (u[i] > 1 ? 1.0 : (double)u[i]);
        double hh = hsv[3 * i], s = hsv[3 * i + 1];
        double hi = floor(hh * 6), f = hh * 6 - hi;
        double p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
        double o[3];
        switch ((int)hi % 6) {
        case 0:
            o[0] = v, o[1] = t, o[2] = p;
            break;
        case 1:
            o[0] = q, o[1] = v, o[2] = p;
            break;
        case 2:
            o[0] = p, o[1] = v, o[2] = t;
            break;
        case 3:
            o[0] = p, o[1] = q, o[2] = v;
            break;
        case 4:
            o[0] = t, o[1] = p, o[2] = v;
            break;
        default:
            o[0] = v, o[1] = p, o[2] = q;
            break;
        }
        for (int k = 0; k < 3; k++) im->px[3 * i + k] = (uint8_t)(o[k] * 255);
    }
done:
    mlc_free(hsv);
    mlc_free(u);
    return st;
}
