#!/usr/bin/env python3
"""Export the benchmark models (full-size torchvision families, random weights).

Development-time tool for bench/run.sh only: never used by the product or CI.
If tools/export_families.py exists, bench/run.sh prefers it; this script is the
fallback with the same contract:

  <out>/<name>.onnx   opset 17, input "images" [N,3,224,224] (N dynamic),
                      output "scores" [N,32] (sigmoid head, 32 classes)
  <out>/<name>.in1.npy, <name>.in8.npy   float32 inputs (fixed seed)

Weights are random (weights=None, torch.manual_seed(0)), so timings are real
but predictions are meaningless; BatchNorm running stats are randomised a
little so that folding is not a no-op.

    /usr/bin/python3 bench/export_models.py --out build/bench-models [names...]
"""

import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.models as tvm

NAMES = ["resnet18", "resnet50", "mobilenet_v3_large", "efficientnet_b0", "convnext_tiny",
         "vit_b_16"]
N_CLASSES = 32


def mha_plain(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
              average_attn_weights=True):
    """Self-attention through the composite path: torch 1.13's eval fast path
    (aten::_native_multi_head_attention) has no ONNX export."""
    q = query.transpose(0, 1) if self.batch_first else query
    out, _ = F.multi_head_attention_forward(
        q, q, q, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias, None,
        None, False, 0.0, self.out_proj.weight, self.out_proj.bias, training=False,
        need_weights=False)
    return (out.transpose(0, 1) if self.batch_first else out), None


nn.MultiheadAttention.forward = mha_plain


def build(name):
    torch.manual_seed(0)
    m = getattr(tvm, name)(weights=None, num_classes=N_CLASSES)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            with torch.no_grad():
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
    return nn.Sequential(m, nn.Sigmoid()).eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="build/bench-models")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    names = a.names or NAMES
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)
    rng = np.random.default_rng(1234)
    for n in (1, 8):
        p = os.path.join(a.out, "input.in%d.npy" % n)
        if not os.path.exists(p):
            np.save(p, rng.standard_normal((n, 3, 224, 224)).astype(np.float32))
    for name in names:
        if name not in NAMES:
            sys.exit("unknown model %s (known: %s)" % (name, ", ".join(NAMES)))
        path = os.path.join(a.out, name + ".onnx")
        if os.path.exists(path):
            print("have", path)
            continue
        m = build(name)
        x = torch.zeros(1, 3, 224, 224)
        tmp = path + ".tmp"
        with torch.no_grad():
            torch.onnx.export(m, x, tmp, opset_version=17, input_names=["images"],
                              output_names=["scores"],
                              dynamic_axes={"images": {0: "batch"}, "scores": {0: "batch"}},
                              do_constant_folding=True)
        os.replace(tmp, path)
        print("wrote", path, os.path.getsize(path) // (1 << 20), "MiB")


if __name__ == "__main__":
    main()
