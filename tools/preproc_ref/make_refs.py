#!/usr/bin/env python3
"""Reference tensors for mlc's model preprocessing (tests/model/test_preproc.c).

Development-time tool only: CI and the product never run it. It follows
docs/MODELS.md / the spec (model-runtime.md section 3.2) step by step with
OpenCV, numpy and scikit-image, for a matrix of preprocessing configurations
on one small synthetic image, and writes to tests/data/model/preproc/:

  src.png            the input image (decoded by mlc as OpenCV does: BGR)
  cases.json         [{name, format, config, width, height, architecture}]
  <name>.npy         the expected float32 network input, shape (1, 3, H, W)

Run with the Debian python (python3-opencv, python3-numpy, python3-skimage):
    /usr/bin/python3 tools/preproc_ref/make_refs.py
"""

import json
import os

import cv2
import numpy as np
from skimage import exposure

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "tests", "data", "model", "preproc")

IMAGENET = [[0.485, 0.456, 0.406], [0.229, 0.224, 0.225]]
HALF = [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]


def make_image():
    """A deterministic 53x37 BGR image with gradients, edges and noise."""
    rng = np.random.default_rng(7)
    h, w = 37, 53
    ys, xs = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.float64)
    img[..., 0] = 40 + 150 * xs / w
    img[..., 1] = 200 - 120 * ys / h
    img[..., 2] = 90 + 60 * np.sin(xs / 5.0) * np.cos(ys / 7.0)
    img[10:25, 15:35] = (30, 220, 250)
    img += rng.integers(-12, 13, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


# ---- new runtime (inference_models numpy path) ------------------------------

def new_preprocess(img, cfg):
    pre = cfg.get("image_pre_processing") or {}
    ni = cfg["network_input"]
    sc = pre.get("static-crop")
    if sc and sc["enabled"]:
        h, w = img.shape[:2]
        x0, y0 = int(sc["x_min"] / 100 * w), int(sc["y_min"] / 100 * h)
        x1, y1 = int(sc["x_max"] / 100 * w), int(sc["y_max"] / 100 * h)
        img = img[y0:y1, x0:x1]
    if (pre.get("grayscale") or {}).get("enabled"):
        g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        img = np.stack([g] * 3, axis=2)
    ct = pre.get("contrast")
    if ct and ct["enabled"]:
        t = ct["type"]
        if t == "Contrast Stretching":
            p2, p98 = np.percentile(img, 2), np.percentile(img, 98)
            img = exposure.rescale_intensity(img, in_range=(p2, p98))
        elif t == "Histogram Equalization":
            img = (exposure.equalize_hist(img.astype(np.float32) / 255) * 255).astype(np.uint8)
        else:
            f = exposure.equalize_adapthist(img.astype(np.float32) / 255, clip_limit=0.03)
            img = (f * 255).astype(np.uint8)
    tw, th = ni["training_input_size"]["width"], ni["training_input_size"]["height"]
    mode = ni["resize_mode"]
    pad = ni.get("padding_value")
    if mode == "fit-longer-edge":  # classifiers substitute stretch
        mode, pad = "stretch", None
    h, w = img.shape[:2]
    if mode == "stretch":
        x = cv2.resize(img, (tw, th)).astype(np.float32)
    elif mode in ("letterbox", "letterbox-reflect-edges"):
        s = min(tw / w, th / h)
        nw, nh = int(w * s), int(h * s)
        top, left = int((th - nh) / 2), int((tw - nw) / 2)
        x = np.full((th, tw, 3), pad or 0, np.float32)
        x[top:top + nh, left:left + nw] = cv2.resize(img, (nw, nh))
    else:  # center-crop: crop/pad, no scaling
        x = np.zeros((th, tw, 3), np.uint8)
        cx, cy = max(tw - w, 0), max(th - h, 0)
        ox, oy = max(w - tw, 0), max(h - th, 0)
        x[cy // 2:th - (cy - cy // 2), cx // 2:tw - (cx - cx // 2)] = \
            img[oy // 2:h - (oy - oy // 2), ox // 2:w - (ox - ox // 2)]
        x = x.astype(np.float32)
    x = x.transpose(2, 0, 1)[None]  # 1,3,H,W BGR
    if ni["color_mode"] == "rgb":
        x = x[:, ::-1]
    x = np.ascontiguousarray(x, np.float32)
    if ni.get("scaling_factor") is not None:
        x = x / np.float32(ni["scaling_factor"])
    if ni.get("normalization"):
        m = np.array(ni["normalization"][0], np.float32)[None, :, None, None]
        s = np.array(ni["normalization"][1], np.float32)[None, :, None, None]
        x = (x - m) / s
    return x.astype(np.float32)


# ---- legacy runtime (environment.json) --------------------------------------

def legacy_preprocess(img, env, tw, th, arch):
    pre = env["PREPROCESSING"]
    if isinstance(pre, str):
        pre = json.loads(pre)
    sc = pre.get("static-crop")
    if sc and sc["enabled"]:
        h, w = img.shape[:2]
        x0, y0 = int(sc["x_min"] / 100 * w), int(sc["y_min"] / 100 * h)
        x1, y1 = int(sc["x_max"] / 100 * w), int(sc["y_max"] / 100 * h)
        img = img[y0:y1, x0:x1]
    ct = pre.get("contrast")
    if ct and ct["enabled"]:
        t = ct["type"]
        if t == "Contrast Stretching":
            p2, p98 = np.percentile(img, 2), np.percentile(img, 98)
            img = exposure.rescale_intensity(img, in_range=(p2, p98))
        elif t == "Histogram Equalization":
            g = cv2.equalizeHist(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
            img = cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)
        elif t == "Adaptive Equalization":
            clahe = cv2.createCLAHE(clipLimit=0.03, tileGridSize=(8, 8))
            img = cv2.cvtColor(clahe.apply(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)),
                               cv2.COLOR_GRAY2BGR)
    if (pre.get("grayscale") or {}).get("enabled"):
        img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    fmt = (pre.get("resize") or {}).get("format", "Stretch to")
    pads = {"Fit (black edges) in": 0, "Fit (white edges) in": 255, "Fit (grey edges) in": 114,
            "Fit (reflect edges) in": 0, "Fit within": 0, "Fill (with center crop) in": 0}
    if fmt in pads:
        h, w = img.shape[:2]
        r = w / h
        if r >= tw / th:
            nw, nh = tw, int(tw / r)
        else:
            nw, nh = int(th * r), th
        res = cv2.resize(img, (nw, nh))
        top, left = (th - nh) // 2, (tw - nw) // 2
        v = pads[fmt]
        img = cv2.copyMakeBorder(res, top, th - nh - top, left, tw - nw - left,
                                 cv2.BORDER_CONSTANT, value=(v, v, v))
        img = img.astype(np.float32)
    else:
        img = cv2.resize(img.astype(np.float32), (tw, th))
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    x = img.transpose(2, 0, 1)[None].astype(np.float32)
    x /= 255.0
    mean, std = (IMAGENET if arch.startswith(("resnet", "dinov3")) else HALF)
    for c in range(3):
        x[:, c] = (x[:, c] - mean[c]) / std[c]
    return x.astype(np.float32)


def ni(w=32, h=32, mode="stretch", color="rgb", pad=None, scale=255, norm=IMAGENET):
    return {"training_input_size": {"height": h, "width": w},
            "dynamic_spatial_size_supported": False, "color_mode": color,
            "resize_mode": mode, "padding_value": pad, "input_channels": 3,
            "scaling_factor": scale, "normalization": norm}


def cfg(network_input, pre=None):
    return {"image_pre_processing": pre or {}, "network_input": network_input,
            "post_processing": {"type": "sigmoid", "fused": False}}


CROP = {"static-crop": {"enabled": True, "x_min": 10, "x_max": 85, "y_min": 20, "y_max": 90}}
GRAY = {"grayscale": {"enabled": True}}


def contrast(t):
    return {"contrast": {"enabled": True, "type": t}}


CURRENT = [
    ("stretch_rgb_imagenet", cfg(ni())),
    ("stretch_bgr_raw", cfg(ni(color="bgr", scale=None, norm=None))),
    ("stretch_half_40x24", cfg(ni(w=40, h=24, norm=HALF))),
    ("letterbox_zero", cfg(ni(mode="letterbox"))),
    ("letterbox_reflect_pad114", cfg(ni(mode="letterbox-reflect-edges", pad=114, norm=HALF))),
    ("letterbox_tall", cfg(ni(w=24, h=40, mode="letterbox", pad=7, scale=None, norm=None))),
    ("center_crop_small", cfg(ni(mode="center-crop"))),
    ("center_crop_mixed", cfg(ni(w=64, h=24, mode="center-crop", color="bgr"))),
    ("fit_longer_edge", cfg(ni(mode="fit-longer-edge", pad=127))),
    ("static_crop", cfg(ni(), CROP)),
    ("grayscale", cfg(ni(), GRAY)),
    ("contrast_stretching", cfg(ni(), contrast("Contrast Stretching"))),
    ("contrast_histogram", cfg(ni(), contrast("Histogram Equalization"))),
    ("contrast_adaptive", cfg(ni(), contrast("Adaptive Equalization"))),
    ("crop_gray_contrast", cfg(ni(mode="letterbox"),
                               {**CROP, **GRAY, **contrast("Contrast Stretching")})),
]


def env(pre):
    return {"PREPROCESSING": json.dumps(pre), "CLASS_MAP": {"0": "a"}, "MULTICLASS": True}


LEGACY = [
    ("legacy_stretch_resnet", env({"resize": {"format": "Stretch to", "width": 32, "height": 32}}),
     32, 32, "resnet50"),
    ("legacy_fit_grey_vit", env({"resize": {"format": "Fit (grey edges) in"}}), 32, 32, "vit"),
    ("legacy_fit_white_tall", env({"resize": {"format": "Fit (white edges) in"}}), 24, 40, "vit"),
    ("legacy_center_crop_downgraded", env({"resize": {"format": "Fill (with center crop) in"}}),
     32, 32, "vit"),
    ("legacy_crop_gray", env({**CROP, **GRAY}), 32, 32, "dinov3"),
    ("legacy_histogram", env(contrast("Histogram Equalization")), 32, 32, "resnet18"),
    ("legacy_adaptive", env(contrast("Adaptive Equalization")), 32, 32, "vit"),
    ("legacy_stretching", env(contrast("Contrast Stretching")), 32, 32, "vit"),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    img = make_image()
    path = os.path.join(OUT, "src.png")
    cv2.imwrite(path, img)
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    cases = []
    for name, c in CURRENT:
        x = new_preprocess(img, c)
        np.save(os.path.join(OUT, name + ".npy"), x)
        cases.append({"name": name, "format": "current", "config": c,
                      "width": int(x.shape[3]), "height": int(x.shape[2]),
                      "architecture": "resnet"})
    for name, e, w, h, arch in LEGACY:
        x = legacy_preprocess(img, e, w, h, arch)
        np.save(os.path.join(OUT, name + ".npy"), x)
        cases.append({"name": name, "format": "legacy", "config": e, "width": w, "height": h,
                      "architecture": arch})
    with open(os.path.join(OUT, "cases.json"), "w") as fh:
        json.dump(cases, fh, indent=1)
        fh.write("\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
