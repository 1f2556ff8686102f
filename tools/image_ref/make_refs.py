#!/usr/bin/python3
"""Generates tests/data/image/: small images in every format mlc decodes and
the pixels OpenCV (python3-opencv, the Debian build) gives for them, plus
cv2.resize / cvtColor / equalizeHist / CLAHE outputs and skimage contrast
outputs (python3-skimage). Dev-time only: CI never runs Python; the outputs
are committed. Run from the repo root:  /usr/bin/python3 tools/image_ref/make_refs.py

Every reference is a .npy (uint8 HxWx3 BGR, uint8 HxW grey, or float32)
listed in refs.txt, one case per line:
  decode FILE EXPECTED [noorient]     cv2.imread(IMREAD_COLOR [| IGNORE_ORIENTATION])
  resize SRC W H EXPECTED             cv2.resize(uint8, (W, H)) INTER_LINEAR
  resize_f32 SRC W H EXPECTED         cv2.resize(float32, (W, H))
  gray SRC EXPECTED                   cv2.cvtColor(BGR2GRAY)
  eqhist SRC EXPECTED                 cv2.equalizeHist(grey)
  clahe SRC EXPECTED                  CLAHE(0.03, (8, 8)).apply(grey)
  sk_stretch|sk_eqhist|sk_adapthist SRC EXPECTED   skimage, as Roboflow's new runtime
  fail FILE STATUS                    mlc must refuse the file with that status
"""
import io
import os
import struct
import sys

import cv2
import numpy as np
from PIL import Image
from skimage import exposure

OUT = "tests/data/image"
os.makedirs(OUT, exist_ok=True)
lines = []
rng = np.random.default_rng(1234)


def photo(w, h, seed=0):
    """A smooth, textured BGR test picture (JPEG-friendly, all levels used)."""
    r = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    b = 128 + 100 * np.sin(x / 17.0 + seed) * np.cos(y / 23.0)
    g = 128 + 110 * np.sin((x + y) / 29.0)
    rr = 40 + 200 * (x / max(w - 1, 1)) * (1 - y / max(h - 1, 1) / 2)
    img = np.stack([b, g, rr], -1) + r.normal(0, 12, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def save(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def npy(name, arr):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(arr))


def decode_case(fname, data, noorient=False, expected=None):
    save(fname, data)
    if expected is None:
        flags = cv2.IMREAD_COLOR | (cv2.IMREAD_IGNORE_ORIENTATION if noorient else 0)
        expected = cv2.imread(os.path.join(OUT, fname), flags)
        assert expected is not None, fname
    en = fname.replace(".", "_") + (".noorient" if noorient else "") + ".npy"
    npy(en, expected)
    lines.append(f"decode {fname} {en}" + (" noorient" if noorient else ""))


def pil_bytes(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def enc(ext, img, params=()):
    ok, buf = cv2.imencode(ext, img, list(params))
    assert ok
    return buf.tobytes()


base = photo(64, 48)
big = photo(333, 251, 1)
pbase = Image.fromarray(base[:, :, ::-1])
alpha = rng.integers(0, 256, (48, 64), dtype=np.uint8)

# ---- JPEG
decode_case("q90_420.jpg", enc(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 90]))
decode_case("q75_444.jpg", pil_bytes(pbase, "JPEG", quality=75, subsampling=0))
decode_case("q80_422.jpg", pil_bytes(pbase, "JPEG", quality=80, subsampling=1))
decode_case("odd_3x7.jpg", enc(".jpg", photo(3, 7, 2)))
decode_case("one_1x1.jpg", enc(".jpg", photo(1, 1, 3)))
decode_case("grey.jpg", enc(".jpg", cv2.cvtColor(base, cv2.COLOR_BGR2GRAY)))
decode_case("progressive.jpg", enc(".jpg", base, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]))
decode_case("cmyk.jpg", pil_bytes(pbase.convert("CMYK"), "JPEG", quality=90))
rect = photo(40, 24, 4)
prect = Image.fromarray(rect[:, :, ::-1])
for o in range(1, 9):
    ex = Image.Exif()
    ex[0x0112] = o
    data = pil_bytes(prect, "JPEG", quality=95, exif=ex.tobytes())
    decode_case(f"exif_o{o}.jpg", data)
    if o == 6:
        decode_case(f"exif_o{o}.jpg", data, noorient=True)

# ---- PNG
decode_case("rgb.png", enc(".png", photo(120, 90, 15)))
decode_case("odd_3x7.png", enc(".png", photo(3, 7, 5)))
decode_case("one_1x1.png", enc(".png", photo(1, 1, 6)))
decode_case("rgba.png", enc(".png", np.dstack([base, alpha])))
decode_case("grey.png", enc(".png", cv2.cvtColor(base, cv2.COLOR_BGR2GRAY)))
decode_case("grey_alpha.png", pil_bytes(Image.fromarray(np.dstack([base[:, :, 1], alpha]), "LA"), "PNG"))
decode_case("palette.png", pil_bytes(pbase.quantize(37), "PNG"))
pal_t = pbase.quantize(16)
decode_case("palette_trns.png", pil_bytes(pal_t, "PNG", transparency=3))
decode_case("rgb16.png", enc(".png", (base.astype(np.uint16) * 257 + rng.integers(0, 257, base.shape)).astype(np.uint16)))
decode_case("grey16.png", enc(".png", (base[:, :, 0].astype(np.uint16) * 251 + 7).astype(np.uint16)))
decode_case("bw1.png", pil_bytes(pbase.convert("1"), "PNG"))
ex = Image.Exif()
ex[0x0112] = 6
decode_case("exif_o6.png", pil_bytes(prect, "PNG", exif=ex.tobytes()))

# ---- BMP
decode_case("rgb24.bmp", enc(".bmp", photo(33, 17, 7)))
decode_case("grey8.bmp", enc(".bmp", cv2.cvtColor(photo(33, 17, 7), cv2.COLOR_BGR2GRAY)))
decode_case("pal4.bmp", pil_bytes(pbase.quantize(12), "BMP"))
decode_case("bw1.bmp", pil_bytes(pbase.convert("1"), "BMP"))
decode_case("pal8.bmp", pil_bytes(pbase.quantize(200), "BMP"))
decode_case("rgba32.bmp", pil_bytes(Image.fromarray(np.dstack([base[:, :, ::-1], alpha]), "RGBA"), "BMP"))


def bmp_raw(img, bpp, top_down=False, bitfields=None):
    """Writes a BMP by hand (16-bit 555/565 and top-down variants)."""
    h, w = img.shape[:2]
    row = ((w * bpp + 31) // 32) * 4
    px = bytearray()
    rows = range(h) if top_down else range(h - 1, -1, -1)
    for y in rows:
        r = bytearray()
        for x in range(w):
            b, g, rr = (int(v) for v in img[y, x])
            if bpp == 24:
                r += bytes([b, g, rr])
            elif bitfields == "565":
                r += struct.pack("<H", (rr >> 3) << 11 | (g >> 2) << 5 | b >> 3)
            else:
                r += struct.pack("<H", (rr >> 3) << 10 | (g >> 3) << 5 | b >> 3)
        r += b"\0" * (row - len(r))
        px += r
    comp = 3 if bitfields else 0
    extra = struct.pack("<III", 0xF800, 0x7E0, 0x1F) if bitfields == "565" else b""
    off = 14 + 40 + len(extra)
    hdr = struct.pack("<2sIHHI", b"BM", off + len(px), 0, 0, off)
    info = struct.pack("<IiiHHIIiiII", 40, w, -h if top_down else h, 1, bpp, comp, len(px), 2835, 2835, 0, 0)
    return hdr + info + extra + bytes(px)


decode_case("topdown24.bmp", bmp_raw(photo(13, 9, 8), 24, top_down=True))
decode_case("rgb555.bmp", bmp_raw(photo(13, 9, 9), 16))
decode_case("rgb565.bmp", bmp_raw(photo(13, 9, 9), 16, bitfields="565"))

# ---- WebP (OpenCV ignores WebP EXIF)
decode_case("lossy.webp", enc(".webp", base, [cv2.IMWRITE_WEBP_QUALITY, 80]))
decode_case("lossless.webp", enc(".webp", photo(33, 17, 10), [cv2.IMWRITE_WEBP_QUALITY, 101]))
decode_case("alpha.webp", pil_bytes(Image.fromarray(np.dstack([base[:, :, ::-1], alpha]), "RGBA"), "WEBP", lossless=True))

# ---- GIF: OpenCV 4.6 cannot read GIF; the reference is PIL's first frame as RGB.
gimg = pbase.quantize(64)
frames = [gimg, Image.fromarray(photo(64, 48, 11)[:, :, ::-1]).quantize(64)]
gb = io.BytesIO()
gimg.save(gb, "GIF", save_all=True, append_images=frames[1:])
g0 = np.array(Image.open(io.BytesIO(gb.getvalue())).convert("RGB"))[:, :, ::-1]
decode_case("anim.gif", gb.getvalue(), expected=g0)
gb = io.BytesIO()
gimg.save(gb, "GIF", interlace=True)
decode_case("interlaced.gif", gb.getvalue(), expected=np.array(Image.open(io.BytesIO(gb.getvalue())).convert("RGB"))[:, :, ::-1])

# ---- TIFF
decode_case("rgb.tif", pil_bytes(pbase, "TIFF"))
decode_case("lzw.tif", pil_bytes(pbase, "TIFF", compression="tiff_lzw"))
decode_case("grey.tif", pil_bytes(pbase.convert("L"), "TIFF"))
decode_case("rgba.tif", pil_bytes(Image.fromarray(np.dstack([base[:, :, ::-1], alpha]), "RGBA"), "TIFF"))
decode_case("palette.tif", pil_bytes(pbase.quantize(20), "TIFF"))
decode_case("rgb16.tif", enc(".tiff", (base.astype(np.uint16) * 257 + rng.integers(0, 257, base.shape)).astype(np.uint16)))
for o in (3, 6, 8):
    decode_case(f"orient{o}.tif", pil_bytes(prect, "TIFF", tiffinfo={274: o}))

# ---- failures (the C test builds the rest: truncations, bombs, bad base64)
save("fail_random.bin", bytes(rng.integers(0, 256, 300, dtype=np.uint8)))
lines.append("fail fail_random.bin 4")
jb = enc(".jpg", base)
save("fail_trunc.jpg", jb[: len(jb) // 2])
lines.append("fail fail_trunc.jpg 4")
pb = enc(".png", base)
save("fail_trunc.png", pb[: len(pb) * 2 // 3])
lines.append("fail fail_trunc.png 4")

# ---- operations on decoded (lossless) sources
save("src_big.png", enc(".png", big))
save("src_small.png", enc(".png", base))
odd = photo(3, 7, 12)
save("src_3x7.png", enc(".png", odd))
one = photo(1, 1, 13)
save("src_1x1.png", enc(".png", one))
mid = photo(97, 61, 14)
save("src_97x61.png", enc(".png", mid))
srcs = {"src_big.png": big, "src_small.png": base, "src_3x7.png": odd, "src_1x1.png": one, "src_97x61.png": mid}
resizes = [
    ("src_big.png", 224, 224), ("src_big.png", 100, 75), ("src_big.png", 64, 64),
    ("src_big.png", 111, 83), ("src_big.png", 166, 125), ("src_big.png", 37, 300),
    ("src_big.png", 41, 29), ("src_small.png", 32, 24), ("src_small.png", 150, 113),
    ("src_small.png", 128, 96), ("src_small.png", 65, 47), ("src_3x7.png", 5, 11),
    ("src_1x1.png", 4, 4), ("src_97x61.png", 160, 120), ("src_97x61.png", 13, 9),
]
for s, w, h in resizes:
    n = f"rs_{s[4:-4]}_{w}x{h}.npy"
    npy(n, cv2.resize(srcs[s], (w, h)))
    lines.append(f"resize {s} {w} {h} {n}")
for s, w, h in [("src_small.png", 40, 30), ("src_small.png", 70, 50), ("src_small.png", 32, 24),
                ("src_big.png", 56, 56), ("src_3x7.png", 5, 11), ("src_97x61.png", 20, 17)]:
    n = f"rsf_{s[4:-4]}_{w}x{h}.npy"
    npy(n, cv2.resize(srcs[s].astype(np.float32), (w, h)))
    lines.append(f"resize_f32 {s} {w} {h} {n}")
for s in ("src_big.png", "src_97x61.png", "src_small.png", "src_3x7.png"):
    g = cv2.cvtColor(srcs[s], cv2.COLOR_BGR2GRAY)
    k = s[4:-4]
    npy(f"gray_{k}.npy", g)
    lines.append(f"gray {s} gray_{k}.npy")
    npy(f"eqhist_{k}.npy", cv2.equalizeHist(g))
    lines.append(f"eqhist {s} eqhist_{k}.npy")
    npy(f"clahe_{k}.npy", cv2.createCLAHE(clipLimit=0.03, tileGridSize=(8, 8)).apply(g))
    lines.append(f"clahe {s} clahe_{k}.npy")
for s in ("src_97x61.png", "src_small.png", "src_3x7.png"):
    img = srcs[s]
    k = s[4:-4]
    p2, p98 = np.percentile(img, (2, 98))
    npy(f"skst_{k}.npy", exposure.rescale_intensity(img, in_range=(p2, p98)))
    lines.append(f"sk_stretch {s} skst_{k}.npy")
    npy(f"skeq_{k}.npy", (exposure.equalize_hist(img / 255) * 255).astype(np.uint8))
    lines.append(f"sk_eqhist {s} skeq_{k}.npy")
    if min(img.shape[:2]) >= 8:
        npy(f"skah_{k}.npy", (exposure.equalize_adapthist(img / 255, clip_limit=0.03) * 255).astype(np.uint8))
        lines.append(f"sk_adapthist {s} skah_{k}.npy")

with open(os.path.join(OUT, "refs.txt"), "w") as f:
    f.write("# generated by tools/image_ref/make_refs.py (OpenCV %s, skimage %s)\n" % (cv2.__version__, __import__("skimage").__version__))
    f.write("\n".join(lines) + "\n")
total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
print(f"{len(lines)} cases, {total} bytes in {OUT}", file=sys.stderr)
