#!/usr/bin/env python3
"""Build the bundled mlc demo model, sample images and reference data.

Development-time tool only (never used by the product or by CI tests).

What it does, deterministically (fixed seeds, 2 torch threads):
  1. generates a synthetic multi-label data set of coloured shapes
     (circle, square, triangle, star, cross) on noisy gradient backgrounds,
     with source images of varied size, each round-tripped through JPEG/PNG
     (some grayscale) exactly as a saved file would be;
  2. preprocesses like the C runtime ("stretch": uint8 INTER_LINEAR resize,
     BGR->RGB, /255, ImageNet mean/std);
  3. trains a small residual CNN with BCE-with-logits;
  4. picks per-class and global F1-optimal thresholds on a validation split;
  5. exports ONNX (opset 17, input "images", output "logits", dynamic batch);
  6. writes the Roboflow-style package to models/demo/;
  7. writes the first 8 held-out test images to samples/ (+ labels.json);
  8. writes reference tensors/scores to tests/data/demo/.

Run from anywhere with the Debian python (needs torch, onnx, cv2, numpy):
    /usr/bin/python3 tools/demo/make_demo.py
"""

import os

# The machine is shared: with busy-waiting OpenMP workers an oversubscribed
# CPU makes each training step many times slower. Must be set before torch
# is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import math
import random
import sys
import time
from fractions import Fraction

import cv2
import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

CLASSES = ["circle", "square", "triangle", "star", "cross"]
NET_H = 96
NET_W = 96
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
SCALING = 255.0
P_PRESENT = 0.45

N_TRAIN = 5000
N_VAL = 600
N_TEST = 600
N_SAMPLES = 8

SEED = 20240611

# Output format of the first N_SAMPLES test images (and thus of samples/).
# (extension, grayscale?)
SAMPLE_FORMATS = [
    ("jpg", False),
    ("png", False),
    ("jpg", False),
    ("png", True),
    ("jpg", False),
    ("png", False),
    ("jpg", False),
    ("jpg", False),
]
SAMPLE_JPEG_QUALITY = 92


# --------------------------------------------------------------------------
# Synthetic scenes
# --------------------------------------------------------------------------

def luminance(bgr):
    b, g, r = float(bgr[0]), float(bgr[1]), float(bgr[2])
    return 0.299 * r + 0.587 * g + 0.114 * b


def shape_polygon(kind, cx, cy, r, angle):
    """Return an (n,2) float array of polygon vertices for a shape kind."""
    if kind == "square":
        rad = 0.92 * r
        pts = [(rad * math.cos(angle + k * math.pi / 2 + math.pi / 4),
                rad * math.sin(angle + k * math.pi / 2 + math.pi / 4)) for k in range(4)]
    elif kind == "triangle":
        pts = [(r * math.cos(angle + k * 2 * math.pi / 3),
                r * math.sin(angle + k * 2 * math.pi / 3)) for k in range(3)]
    elif kind == "star":
        pts = []
        for k in range(10):
            rad = r if k % 2 == 0 else 0.42 * r
            a = angle + k * math.pi / 5
            pts.append((rad * math.cos(a), rad * math.sin(a)))
    elif kind == "cross":
        a, w = 0.95 * r, 0.30 * r
        base = [(-w, -a), (w, -a), (w, -w), (a, -w), (a, w), (w, w),
                (w, a), (-w, a), (-w, w), (-a, w), (-a, -w), (-w, -w)]
        ca, sa = math.cos(angle), math.sin(angle)
        pts = [(x * ca - y * sa, x * sa + y * ca) for x, y in base]
    else:
        raise ValueError(kind)
    arr = np.array(pts, dtype=np.float64)
    arr[:, 0] += cx
    arr[:, 1] += cy
    return arr


def draw_shape(img, kind, cx, cy, r, angle, color):
    shift = 4
    mul = 1 << shift
    if kind == "circle":
        cv2.circle(img, (int(round(cx * mul)), int(round(cy * mul))),
                   int(round(0.85 * r * mul)), color, thickness=-1,
                   lineType=cv2.LINE_AA, shift=shift)
        return
    poly = shape_polygon(kind, cx, cy, r, angle)
    pts = np.round(poly * mul).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(img, [pts], color, lineType=cv2.LINE_AA, shift=shift)


def make_background(rng, w, h):
    base = rng.integers(0, 256, size=3).astype(np.float32)
    # linear gradient in a random direction
    theta = rng.uniform(0, 2 * math.pi)
    amp = rng.uniform(-45, 45, size=3).astype(np.float32)
    xs = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :]
    ys = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None]
    t = xs * math.cos(theta) + ys * math.sin(theta)  # (h, w)
    img = base[None, None, :] + t[:, :, None] * amp[None, None, :] * 2.0
    img = np.rint(img).astype(np.int16)
    # pixel noise: sum of two discrete uniforms (triangular, cheap to draw)
    a = int(rng.integers(0, 16))
    if a > 0:
        img += rng.integers(-a, a + 1, size=(h, w, 3), dtype=np.int16)
        img += rng.integers(-a, a + 1, size=(h, w, 3), dtype=np.int16)
    return np.clip(img, 0, 255).astype(np.uint8)


def pick_size(rng):
    while True:
        w = int(rng.integers(160, 481))
        h = int(rng.integers(160, 481))
        if max(w, h) / min(w, h) <= 1.5:
            return w, h


def place_objects(rng, kinds, w, h):
    """Sample (cx, cy, r) for each kind with limited overlap."""
    scale = math.sqrt(w * h)
    shrink = 1.0
    for _attempt in range(50):
        placed = []
        ok = True
        for _k in kinds:
            done = False
            for _try in range(200):
                r = rng.uniform(0.11, 0.17) * scale * shrink
                if 2 * r >= min(w, h) - 4:
                    continue
                cx = rng.uniform(r + 2, w - r - 2)
                cy = rng.uniform(r + 2, h - r - 2)
                if all(math.hypot(cx - px, cy - py) >= 0.92 * (r + pr)
                       for px, py, pr in placed):
                    placed.append((cx, cy, r))
                    done = True
                    break
            if not done:
                ok = False
                break
        if ok:
            return placed
        shrink *= 0.93
    raise RuntimeError("could not place objects")


def pick_color(rng, bg_lum):
    for _ in range(1000):
        c = rng.integers(0, 256, size=3)
        if abs(luminance(c) - bg_lum) >= 70:
            return tuple(int(v) for v in c)
    # fall back to black or white, whichever contrasts more
    return (0, 0, 0) if bg_lum > 127 else (255, 255, 255)


def make_scene(rng):
    w, h = pick_size(rng)
    img = make_background(rng, w, h)
    present = rng.random(len(CLASSES)) < P_PRESENT
    kinds = [CLASSES[i] for i in range(len(CLASSES)) if present[i]]
    order = list(kinds)
    rng.shuffle(order)
    placed = place_objects(rng, order, w, h)
    for kind, (cx, cy, r) in zip(order, placed):
        x0, x1 = int(max(0, cx - r)), int(min(w, cx + r + 1))
        y0, y1 = int(max(0, cy - r)), int(min(h, cy + r + 1))
        bg_lum = float(np.mean(img[y0:y1, x0:x1].astype(np.float32)
                               @ np.array([0.114, 0.587, 0.299], np.float32)))
        color = pick_color(rng, bg_lum)
        angle = rng.uniform(0, 2 * math.pi)
        draw_shape(img, kind, cx, cy, r, angle, color)
    label = present.astype(np.float32)
    return img, label


def encode_image(img, ext, gray, quality):
    """Encode like cv2.imwrite would; returns (bytes, decoded-as-imread)."""
    src = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if gray else img
    if ext == "jpg":
        ok, buf = cv2.imencode(".jpg", src, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    else:
        ok, buf = cv2.imencode(".png", src)
    assert ok
    dec = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return buf, src, dec


# --------------------------------------------------------------------------
# Preprocessing (must mirror the C runtime's "stretch" path)
# --------------------------------------------------------------------------

MEAN_F32 = np.array(MEAN, dtype=np.float32).reshape(3, 1, 1)
STD_F32 = np.array(STD, dtype=np.float32).reshape(3, 1, 1)


def resize_rgb_u8(bgr):
    r = cv2.resize(bgr, (NET_W, NET_H), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(r[:, :, ::-1])  # RGB, HWC uint8


def normalize_chw(rgb_u8_hwc):
    x = rgb_u8_hwc.transpose(2, 0, 1).astype(np.float32)
    x = x / np.float32(SCALING)
    x = (x - MEAN_F32) / STD_F32
    return x.astype(np.float32)


def preprocess(bgr):
    """BGR uint8 HxWx3 -> float32 [3, NET_H, NET_W]."""
    return normalize_chw(resize_rgb_u8(bgr))


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------

def conv_bn(cin, cout, stride=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ResBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.c1 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(ch)
        self.c2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.b2 = nn.BatchNorm2d(ch)

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(x + y)


class DemoNet(nn.Module):
    def __init__(self, num_classes=len(CLASSES)):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(3, 24, stride=2),      # 48x48
            conv_bn(24, 32),               # 48x48
            nn.MaxPool2d(2),               # 24x24
            ResBlock(32),
            conv_bn(32, 64, stride=2),     # 12x12
            ResBlock(64),
            conv_bn(64, 96, stride=2),     # 6x6
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(96, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = self.pool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


# --------------------------------------------------------------------------
# Thresholds
# --------------------------------------------------------------------------

THRESHOLDS = [round(0.05 + 0.01 * k, 2) for k in range(91)]  # 0.05 .. 0.95


def f1_frac(tp, fp, fn):
    den = 2 * tp + fp + fn
    return Fraction(0) if den == 0 else Fraction(2 * tp, den)


def best_threshold(scores, labels):
    """scores, labels: arrays of same shape; micro F1 over all entries."""
    best = None
    for t in THRESHOLDS:
        pred = scores >= t
        tp = int(np.sum(pred & (labels > 0.5)))
        fp = int(np.sum(pred & (labels < 0.5)))
        fn = int(np.sum(~pred & (labels > 0.5)))
        f1 = f1_frac(tp, fp, fn)
        key = (f1, -abs(Fraction(str(t)) - Fraction(1, 2)))
        if best is None or key > best[0]:
            best = (key, t, f1)
    return best[1], float(best[2])


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def build_split(rng, n, formats_fn, keep_full=0):
    """Generate n scenes, round-tripped through their file format.

    Returns (x, y, full): x uint8 [n, NET_H, NET_W, 3] RGB (resized),
    y float32 [n, C] labels, full: dicts (encoded bytes, decoded image, ...)
    for the first keep_full items only (to limit memory).
    """
    xs = np.empty((n, NET_H, NET_W, 3), dtype=np.uint8)
    ys = np.empty((n, len(CLASSES)), dtype=np.float32)
    full = []
    for i in range(n):
        img, label = make_scene(rng)
        ext, gray, q = formats_fn(i)
        buf, src, dec = encode_image(img, ext, gray, q)
        xs[i] = resize_rgb_u8(dec)
        ys[i] = label
        if i < keep_full:
            full.append({"buf": buf, "src": src, "decoded": dec, "label": label,
                         "ext": ext, "gray": gray, "quality": q})
    return xs, ys, full


def random_format(rng):
    def fn(_i):
        gray = bool(rng.random() < 0.12)
        if rng.random() < 0.55:
            return "jpg", gray, int(rng.integers(80, 97))
        return "png", gray, None
    return fn


def test_format(rng):
    rand = random_format(rng)

    def fn(i):
        if i < len(SAMPLE_FORMATS):
            ext, gray = SAMPLE_FORMATS[i]
            return ext, gray, (SAMPLE_JPEG_QUALITY if ext == "jpg" else None)
        return rand(i)
    return fn


def u8_batch_to_tensor(xb):
    """uint8 N,H,W,3 RGB -> normalised float32 N,3,H,W (same math as preprocess)."""
    t = torch.from_numpy(xb).permute(0, 3, 1, 2).to(torch.float32)
    t = t / SCALING
    mean = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)
    return ((t - mean) / std).contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def predict_logits(model, x_u8, bs=200):
    model.eval()
    outs = []
    for i in range(0, len(x_u8), bs):
        outs.append(model(u8_batch_to_tensor(x_u8[i:i + bs])))
    return torch.cat(outs).numpy()


def sigmoid64(z):
    z = np.asarray(z, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-z))


def train(model, x_tr, y_tr, x_val, y_val, epochs, bs, lr, log):
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = int(math.ceil(len(x_tr) / bs))
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.2)
    g = torch.Generator().manual_seed(SEED + 1)
    yt = torch.from_numpy(y_tr)
    for ep in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(x_tr), generator=g).numpy()
        tot = 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * bs:(s + 1) * bs]
            xb = u8_batch_to_tensor(x_tr[idx])
            # flips keep every label valid (shapes are flip-invariant as classes)
            if torch.rand(1, generator=g).item() < 0.5:
                xb = torch.flip(xb, dims=[3])
            if torch.rand(1, generator=g).item() < 0.5:
                xb = torch.flip(xb, dims=[2])
            logits = model(xb)
            loss = F.binary_cross_entropy_with_logits(logits, yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss) * len(idx)
        vl = predict_logits(model, x_val)
        vacc = float(np.mean(np.all((vl >= 0) == (y_val > 0.5), axis=1)))
        log(f"epoch {ep + 1}/{epochs} loss {tot / len(x_tr):.4f} "
            f"val exact@0.5 {vacc:.4f} ({time.time() - t0:.1f}s)")


def write_test_images(out_dir):
    """The test split of main() (same seeds), every image as the file it was
    round-tripped through, and labels.json (file name -> true labels): the
    set bench/agree.sh measures reduced precision on. No training."""
    rng_te = np.random.default_rng(SEED + 30)
    _, _, items = build_split(rng_te, N_TEST, test_format(np.random.default_rng(SEED + 31)),
                              keep_full=N_TEST)
    os.makedirs(out_dir, exist_ok=True)
    labels = {}
    for i, it in enumerate(items):
        fname = f"test_{i + 1:03d}.{it['ext']}"
        with open(os.path.join(out_dir, fname), "wb") as fh:
            fh.write(it["buf"].tobytes())
        labels[fname] = [CLASSES[c] for c in range(len(CLASSES)) if it["label"][c] > 0.5]
    with open(os.path.join(out_dir, "labels.json"), "w") as fh:
        json.dump(labels, fh, indent=1)
        fh.write("\n")
    print(f"{len(items)} test images in {out_dir}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=14)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--n-train", type=int, default=N_TRAIN)
    ap.add_argument("--dry", action="store_true",
                    help="train and report only, write nothing")
    ap.add_argument("--test-images", metavar="DIR",
                    help="write the whole held-out test split (the same images the "
                         "training run tests on) as files plus labels.json to DIR, and stop")
    args = ap.parse_args()
    if args.test_images:
        write_test_images(args.test_images)
        return

    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    random.seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True)

    t_start = time.time()

    def log(msg):
        print(f"[{time.time() - t_start:7.1f}s] {msg}", flush=True)

    # ---- data -------------------------------------------------------------
    rng_tr = np.random.default_rng(SEED + 10)
    rng_va = np.random.default_rng(SEED + 20)
    rng_te = np.random.default_rng(SEED + 30)
    x_tr, y_tr, _ = build_split(rng_tr, args.n_train,
                                random_format(np.random.default_rng(SEED + 11)))
    x_va, y_va, _ = build_split(rng_va, N_VAL, random_format(np.random.default_rng(SEED + 21)))
    x_te, y_te, test_items = build_split(rng_te, N_TEST,
                                         test_format(np.random.default_rng(SEED + 31)),
                                         keep_full=N_SAMPLES)
    log(f"data: train {len(x_tr)} val {len(x_va)} test {len(x_te)}; "
        f"label freq {y_tr.mean(axis=0).round(3).tolist()}")

    # ---- train ------------------------------------------------------------
    model = DemoNet().to(memory_format=torch.channels_last)  # faster on CPU
    nparams = sum(p.numel() for p in model.parameters())
    log(f"model params: {nparams}")
    train(model, x_tr, y_tr, x_va, y_va, args.epochs, args.batch_size, args.lr, log)
    model = model.to(memory_format=torch.contiguous_format)
    model.eval()

    # ---- thresholds -------------------------------------------------------
    val_scores = sigmoid64(predict_logits(model, x_va))
    per_class = {}
    per_class_f1 = {}
    for c, name in enumerate(CLASSES):
        t, f1 = best_threshold(val_scores[:, c], y_va[:, c])
        per_class[name] = t
        per_class_f1[name] = f1
    global_t, global_f1 = best_threshold(val_scores, y_va)
    thr_vec = np.array([per_class[n] for n in CLASSES], dtype=np.float64)
    log(f"per-class thresholds {per_class} (val F1 {per_class_f1})")
    log(f"global threshold {global_t} (val micro-F1 {global_f1:.4f})")

    # ---- test metrics -----------------------------------------------------
    te_scores = sigmoid64(predict_logits(model, x_te))
    yb = y_te > 0.5
    metrics = {}
    for tag, thr in (("0.5", np.full(len(CLASSES), 0.5)),
                     ("global", np.full(len(CLASSES), global_t)),
                     ("best", thr_vec)):
        pred = te_scores >= thr[None, :]
        metrics[tag] = {
            "exact_match": float(np.mean(np.all(pred == yb, axis=1))),
            "label_accuracy": float(np.mean(pred == yb)),
        }
    for tag, m in metrics.items():
        log(f"test @{tag}: exact-match {m['exact_match']:.4f} "
            f"label-acc {m['label_accuracy']:.4f}")

    if args.dry:
        return

    # ---- samples ----------------------------------------------------------
    samples_dir = os.path.join(REPO, "samples")
    data_dir = os.path.join(REPO, "tests", "data", "demo")
    model_dir = os.path.join(REPO, "models", "demo")
    for d in (samples_dir, data_dir, model_dir):
        os.makedirs(d, exist_ok=True)

    sample_names = []
    labels_json = {}
    for i in range(N_SAMPLES):
        it = test_items[i]
        names = [CLASSES[c] for c in range(len(CLASSES)) if it["label"][c] > 0.5]
        fname = f"{i + 1:02d}_{'_'.join(names) if names else 'none'}.{it['ext']}"
        path = os.path.join(samples_dir, fname)
        if it["ext"] == "jpg":
            cv2.imwrite(path, it["src"], [cv2.IMWRITE_JPEG_QUALITY, SAMPLE_JPEG_QUALITY])
        else:
            cv2.imwrite(path, it["src"])
        with open(path, "rb") as fh:
            assert fh.read() == it["buf"].tobytes(), f"{fname}: imwrite != imencode"
        sample_names.append(fname)
        labels_json[fname] = names
    with open(os.path.join(samples_dir, "labels.json"), "w") as fh:
        json.dump(labels_json, fh, indent=2)
        fh.write("\n")

    # ---- reference data (computed from the saved files) --------------------
    reference = {}
    inputs = []
    margin_problems = []
    for i, fname in enumerate(sample_names):
        img = cv2.imread(os.path.join(samples_dir, fname), cv2.IMREAD_COLOR)
        assert img is not None
        assert np.array_equal(img, test_items[i]["decoded"])
        x = preprocess(img)[None]  # 1,3,H,W float32
        # training path must produce the identical tensor
        assert np.array_equal(x, u8_batch_to_tensor(resize_rgb_u8(img)[None]).numpy())
        inputs.append(x)
        stem = os.path.splitext(fname)[0]
        np.save(os.path.join(data_dir, f"{stem}.input.npy"), x)
        with torch.no_grad():
            logits = model(torch.from_numpy(x)).numpy()[0]
        scores = sigmoid64(logits)
        truth = labels_json[fname]
        pred_best = [CLASSES[c] for c in range(len(CLASSES)) if scores[c] >= thr_vec[c]]
        pred_05 = [CLASSES[c] for c in range(len(CLASSES)) if scores[c] >= 0.5]
        assert pred_best == truth, f"{fname}: best={pred_best} truth={truth} scores={scores}"
        for c in range(len(CLASSES)):
            if abs(scores[c] - thr_vec[c]) < 1e-3 or abs(scores[c] - 0.5) < 1e-3:
                margin_problems.append((fname, CLASSES[c], float(scores[c])))
        reference[fname] = {
            "width": int(img.shape[1]),
            "height": int(img.shape[0]),
            "logits": [float(v) for v in logits],
            "scores": [float(v) for v in scores],
            "predicted_best": pred_best,
            "predicted_0.5": pred_05,
        }
    assert not margin_problems, f"scores too close to a threshold: {margin_problems}"
    with open(os.path.join(data_dir, "reference.json"), "w") as fh:
        json.dump(reference, fh, indent=2)
        fh.write("\n")
    batch = np.concatenate(inputs[:3], axis=0)
    np.save(os.path.join(data_dir, "batch3.input.npy"), batch)
    with torch.no_grad():
        bl = model(torch.from_numpy(batch)).numpy()
    np.save(os.path.join(data_dir, "batch3.logits.npy"), bl.astype(np.float32))
    np.save(os.path.join(data_dir, "batch3.scores.npy"), sigmoid64(bl))
    log(f"wrote {len(sample_names)} samples and reference data")

    # ---- ONNX export ------------------------------------------------------
    onnx_path = os.path.join(model_dir, "weights.onnx")
    dummy = torch.from_numpy(batch[:1].copy())
    export_kwargs = dict(
        input_names=["images"], output_names=["logits"],
        dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17, do_constant_folding=True,
    )
    try:
        torch.onnx.export(model, (dummy,), onnx_path, dynamo=False, **export_kwargs)
    except TypeError:  # older torch without the dynamo flag
        torch.onnx.export(model, (dummy,), onnx_path, **export_kwargs)
    m = onnx.load(onnx_path)
    onnx.checker.check_model(m, full_check=True)
    ops = sorted({n.op_type for n in m.graph.node})
    size = os.path.getsize(onnx_path)
    log(f"exported {onnx_path} ({size} bytes), ops {ops}")
    onnx_check = check_onnx_numerics(onnx_path, batch, bl)
    log(f"np_onnx (numpy interpreter) max |dlogit| vs torch on batch3: {onnx_check}")

    with open(os.path.join(model_dir, "class_names.txt"), "w") as fh:
        fh.write("".join(n + "\n" for n in CLASSES))
    inference_config = {
        "image_pre_processing": {},
        "network_input": {
            "training_input_size": {"height": NET_H, "width": NET_W},
            "dynamic_spatial_size_supported": False,
            "dynamic_spatial_size_mode": None,
            "color_mode": "rgb",
            "resize_mode": "stretch",
            "padding_value": None,
            "input_channels": 3,
            "scaling_factor": int(SCALING),
            "normalization": [MEAN, STD],
        },
        "forward_pass": {"static_batch_size": None, "max_dynamic_batch_size": 16},
        "post_processing": {"type": "sigmoid", "fused": False},
        "model_initialization": None,
        "class_names_operations": None,
    }
    with open(os.path.join(model_dir, "inference_config.json"), "w") as fh:
        json.dump(inference_config, fh, indent=2)
        fh.write("\n")
    model_config = {
        "offline_manifest_version": 1,
        "model_architecture": "resnet",
        "task_type": "multi-label-classification",
        "backend_type": "onnx",
        "model_features": None,
        "trusted_source": True,
        "model_dependencies": None,
        "recommended_parameters": {
            "confidence": global_t,
            "per_class_confidence": per_class,
        },
        "quantization": "fp32",
        "dynamic_batch_size_supported": True,
        "static_batch_size": None,
        "canonical_model_id": "mlc-demo/1",
        "package_artifacts": ["weights.onnx", "inference_config.json", "class_names.txt"],
        "dependency_package_paths": {},
        "model_id": "mlc-demo/1",
    }
    with open(os.path.join(model_dir, "model_config.json"), "w") as fh:
        json.dump(model_config, fh, indent=2)
        fh.write("\n")

    report = {
        "seed": SEED,
        "torch": torch.__version__,
        "opencv": cv2.__version__,
        "numpy": np.__version__,
        "onnx": onnx.__version__,
        "n_train": len(x_tr), "n_val": len(x_va), "n_test": len(x_te),
        "epochs": args.epochs,
        "params": nparams,
        "onnx_bytes": size,
        "onnx_ops": ops,
        "onnx_vs_torch_max_abs_logit_diff": onnx_check,
        "thresholds": {"global": global_t, "per_class": per_class,
                       "val_global_micro_f1": global_f1, "val_per_class_f1": per_class_f1},
        "test": metrics,
        "seconds": round(time.time() - t_start, 1),
    }
    with open(os.path.join(REPO, "tools", "demo", "training_report.json"), "w") as fh:
        json.dump(report, fh, indent=2)
        fh.write("\n")
    log("done")


def check_onnx_numerics(path, batch, torch_logits):
    """Run the exported graph with a small numpy interpreter (np_onnx.py)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import np_onnx
    out = np_onnx.run(path, {"images": batch})[0]
    diff = float(np.max(np.abs(out - torch_logits.astype(np.float64))))
    assert out.shape == torch_logits.shape, (out.shape, torch_logits.shape)
    assert diff < 1e-3, f"onnx vs torch mismatch {diff}"
    return diff


if __name__ == "__main__":
    sys.exit(main())
