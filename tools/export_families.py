#!/usr/bin/env python3
"""Export small random-weight ONNX fixtures of the classifier families.

Development-time tool only (never used by the product or by CI tests).

Default mode writes, for each small model NAME, to tests/fixtures/onnx/:
    NAME.onnx        the graph (multi-label head: Linear -> Sigmoid, in the graph)
    NAME.in1.npy     random float32 input, batch 1, NCHW
    NAME.in3.npy     random float32 input, batch 3 (not for static-batch models)
    NAME.out1.npy    PyTorch output for in1 (float32)
    NAME.out3.npy    PyTorch output for in3 (float32)
and regenerates tests/fixtures/onnx/README.md (op list computed from the graphs).

    /usr/bin/python3 tools/export_families.py              # small fixtures
    /usr/bin/python3 tools/export_families.py --only vit   # a subset
    /usr/bin/python3 tools/export_families.py --full [--out build/bench-models/] [--only resnet18]

--full exports full-size random-weight models at 224x224 (32-class sigmoid head,
opset 17) for benchmarks; they are large and must not be committed.

Weights are random (torch.manual_seed(0)), nothing is downloaded. Parameters
that the torchvision constructors initialise to constants that would make the
output insensitive to most of the network (zero classifier weights, layer
scale 1e-6, identity BatchNorm statistics) are re-randomised so that a wrong
kernel anywhere in the graph changes the output.
"""

import argparse
import copy
import math
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models import convnext as tv_convnext
from torchvision.models import efficientnet as tv_effnet
from torchvision.models import regnet as tv_regnet
from torchvision.models import resnet as tv_resnet
from torchvision.models import swin_transformer as tv_swin
from torchvision.models import vision_transformer as tv_vit

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FIXTURE_DIR = os.path.join(REPO, "tests", "fixtures", "onnx")
NUM_CLASSES = 32
SMALL_SIZE = 64


# --------------------------------------------------------------------------
# Model builders
# --------------------------------------------------------------------------

class WithSigmoid(nn.Module):
    """backbone (ending in a Linear classifier) followed by a sigmoid."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, x):
        return torch.sigmoid(self.backbone(x))


class NarrowResNet(tv_resnet.ResNet):
    """torchvision ResNet with configurable stage widths.

    torchvision hard-codes 64/128/256/512; this sets up the attributes that
    ResNet._make_layer and ResNet.forward rely on and reuses both, together
    with torchvision's BasicBlock.
    """

    def __init__(self, widths, layers, num_classes):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes = widths[0]
        self.dilation = 1
        self.groups = 1
        self.base_width = 64
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(tv_resnet.BasicBlock, widths[0], layers[0])
        self.layer2 = self._make_layer(tv_resnet.BasicBlock, widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(tv_resnet.BasicBlock, widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(tv_resnet.BasicBlock, widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


def small_resnet():
    return NarrowResNet([16, 32, 64, 96], [1, 1, 1, 1], NUM_CLASSES)


def small_mobilenet_v3():
    return torchvision.models.mobilenet_v3_small(weights=None, num_classes=NUM_CLASSES,
                                                 width_mult=0.25)


def small_efficientnet():
    # EfficientNet-B0 stage table at width 0.25 / depth 0.34 (1 block per stage)
    w, d = 0.25, 0.34
    cfg = tv_effnet.MBConvConfig
    setting = [
        cfg(1, 3, 1, 32, 16, 1, w, d),
        cfg(6, 3, 2, 16, 24, 2, w, d),
        cfg(6, 5, 2, 24, 40, 2, w, d),
        cfg(6, 3, 2, 40, 80, 3, w, d),
        cfg(6, 5, 1, 80, 112, 3, w, d),
        cfg(6, 5, 2, 112, 192, 4, w, d),
        cfg(6, 3, 1, 192, 320, 1, w, d),
    ]
    return tv_effnet.EfficientNet(setting, dropout=0.2, stochastic_depth_prob=0.0,
                                  num_classes=NUM_CLASSES, last_channel=256)


def small_convnext():
    cb = tv_convnext.CNBlockConfig
    setting = [cb(16, 32, 1), cb(32, 64, 1), cb(64, 96, 1), cb(96, None, 1)]
    return tv_convnext.ConvNeXt(setting, stochastic_depth_prob=0.0, layer_scale=0.5,
                                num_classes=NUM_CLASSES)


def small_regnet():
    # RegNetY-style (with squeeze-excitation), 4 blocks, group width 8
    params = tv_regnet.BlockParams.from_init_params(depth=4, w_0=16, w_a=8.0, w_m=2.0,
                                                    group_width=8, se_ratio=0.25)
    return tv_regnet.RegNet(params, num_classes=NUM_CLASSES, stem_width=16)


def small_swin():
    return tv_swin.SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2, 2],
                                   num_heads=[1, 2, 4], window_size=[4, 4],
                                   stochastic_depth_prob=0.0, num_classes=NUM_CLASSES)


def small_vit():
    return tv_vit.VisionTransformer(image_size=SMALL_SIZE, patch_size=16, num_layers=2,
                                    num_heads=2, hidden_dim=64, mlp_dim=128,
                                    num_classes=NUM_CLASSES)


class DinoAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.softmax((q * self.scale) @ k.transpose(-2, -1), dim=-1)
        y = (attn @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(y)


class LayerScale(nn.Module):
    def __init__(self, dim, init):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init)))

    def forward(self, x):
        return x * self.gamma


class DinoBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, ls_init):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = DinoAttention(dim, heads)
        self.ls1 = LayerScale(dim, ls_init)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.ls2 = LayerScale(dim, ls_init)

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        x = x + self.ls2(self.fc2(F.gelu(self.fc1(self.norm2(x)))))
        return x


class DinoV2Like(nn.Module):
    """A DINOv2-with-registers style ViT classifier written in plain torch.

    patch embedding (Conv) -> [cls] + patches, + learned position embedding
    -> insert register tokens after cls (no position embedding, as DINOv2)
    -> pre-norm blocks with layer scale -> final LayerNorm -> Linear on cls.
    """

    def __init__(self, image_size=SMALL_SIZE, patch=8, dim=64, depth=2, heads=2,
                 mlp_ratio=2.0, registers=4, num_classes=NUM_CLASSES, ls_init=1e-5):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        n_patches = (image_size // patch) ** 2
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.register_tokens = nn.Parameter(torch.randn(1, registers, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + n_patches, dim) * 0.02)
        self.blocks = nn.ModuleList(DinoBlock(dim, heads, mlp_ratio, ls_init)
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        b = x.shape[0]
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1) + self.pos_embed
        x = torch.cat([x[:, :1], self.register_tokens.expand(b, -1, -1), x[:, 1:]], dim=1)
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        return self.head(x[:, 0])


def small_dinov2():
    return DinoV2Like()


class ShapeChains(nn.Module):
    """A small token model whose every reshape/expand size is read from a
    tensor's shape, as dynamic-batch exports do (the integer chains mlc folds
    at load, src/engine/symfold.c):

    patch embedding -> reshape(b, c, -1) with b read from the input (a Shape ->
    Gather -> Unsqueeze -> Concat -> Reshape chain) -> transpose -> [cls] +
    patches via expand(b, -1, -1) (Equal/Where/Expand) -> + position embedding
    -> reshape(n * t, c) (a Mul of a symbolic and a static dim) -> LayerNorm,
    Linear -> view(*y.shape[:-1], heads, -1) (Shape -> Gather -> Concat) ->
    softmax over heads -> reshape(y.size(0), t, c) of its own input (a copy of
    dim 0) -> residual -> a mean token expanded back with expand(m.size(0), t,
    c) (the input's own dim 0) and expand(y.size(0), t, -1) (another tensor's
    dim 0) -> reshape(2 * b, ...) then (2 * b) // 2 (exact Mul/Div) -> class
    token -> Linear.
    """

    def __init__(self, image_size=SMALL_SIZE, patch=8, dim=32, heads=4,
                 num_classes=NUM_CLASSES):
        super().__init__()
        self.heads = heads
        self.embed = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        self.tokens = 1 + (image_size // patch) ** 2
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.5)
        self.pos = nn.Parameter(torch.randn(1, self.tokens, dim) * 0.1)
        self.norm = nn.LayerNorm(dim)
        self.mix = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        b = x.shape[0]
        y = self.embed(x)
        y = y.reshape(b, y.shape[1], -1).transpose(1, 2)
        y = torch.cat([self.cls_token.expand(b, -1, -1), y], dim=1) + self.pos
        n, t, c = y.shape
        h = self.mix(self.norm(y.reshape(n * t, c)))
        h = h.view(*y.shape[:-1], self.heads, -1).softmax(-2)
        h = h.reshape(h.size(0), t, c)
        y = y + h
        m = y.mean(1, keepdim=True)
        y = y + m.expand(m.size(0), t, c) * 0.5 + m.expand(y.size(0), t, -1) * 0.25
        z = y.reshape(2 * y.size(0), t, c // 2)
        y = z.reshape(z.size(0) // 2, t, c)
        return self.head(y[:, 0])


def small_shapechains():
    return ShapeChains()


# --------------------------------------------------------------------------
# Randomisation of "inert" parameters
# --------------------------------------------------------------------------

def liven(model, gen):
    """Re-randomise parameters whose constructor default hides computation."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.BatchNorm2d, nn.BatchNorm1d)):
                n = mod.num_features
                mod.weight.copy_(torch.rand(n, generator=gen) * 1.0 + 0.5)
                mod.bias.copy_(torch.randn(n, generator=gen) * 0.1)
            elif isinstance(mod, nn.LayerNorm) and mod.elementwise_affine:
                n = mod.weight.numel()
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=gen) * 1.0 + 0.5)
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.1)
            elif isinstance(mod, nn.Linear):
                if not torch.any(mod.weight != 0):
                    std = 1.0 / math.sqrt(mod.in_features)
                    mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen) * std)
                if mod.bias is not None and not torch.any(mod.bias != 0):
                    mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.1)
        for name, p in model.named_parameters():
            base = name.rsplit(".", 1)[-1]
            if base in ("layer_scale", "gamma"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.9 + 0.1)
            elif base in ("class_token", "cls_token") and not torch.any(p != 0):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
            elif base in ("relative_position_bias_table",):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return model


def calibrate(model, size, gen, batches=2, batch_size=16):
    """Give the random network a useful dynamic range.

    1. BatchNorm running statistics are set to the statistics actually seen on
       random standard-normal inputs (train-mode forward passes with a
       cumulative average), so activations neither vanish nor explode: with
       torchvision's default 0/1 statistics the deeper nets' outputs hardly
       depend on the input.
    2. The last Linear (the classifier) is rescaled and its bias re-centred so
       that the logits vary across inputs with a standard deviation of about 2
       around 0, keeping the sigmoid outputs away from saturation.
    Returns the relative spread of the classifier's input features across the
    calibration batch (a sanity number for the README).
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    xs = [torch.randn(batch_size, 3, size, size, generator=gen) for _ in range(batches)]
    if bns:
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative moving average
        model.train()
        with torch.no_grad():
            for x in xs:
                model(x)
        for bn in bns:
            bn.momentum = 0.1
    model.eval()
    head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    feats = []
    hook = head.register_forward_hook(lambda mod, inp, out: feats.append(inp[0].detach()))
    with torch.no_grad():
        for x in xs:
            model(x)
    hook.remove()
    f = torch.cat(feats).double()
    with torch.no_grad():
        z = f @ head.weight.double().t()
        spread = float(z.std(dim=0).mean())
        if spread > 0:
            head.weight.mul_(2.0 / spread)
        z = f @ head.weight.double().t()
        head.bias.copy_((-z.mean(dim=0) + 0.5 * torch.randn(z.shape[1], generator=gen,
                                                             dtype=torch.float64)).float())
    rel = float((f.std(dim=0).mean() / (f.abs().mean() + 1e-30)))
    return rel


# --------------------------------------------------------------------------
# Export helpers
# --------------------------------------------------------------------------

def export(model, example, path, opset, dynamic_batch=True, input_name="input",
           output_name="output"):
    kwargs = dict(input_names=[input_name], output_names=[output_name],
                  opset_version=opset, do_constant_folding=True)
    if dynamic_batch:
        kwargs["dynamic_axes"] = {input_name: {0: "batch"}, output_name: {0: "batch"}}
    # Not under no_grad: with grad enabled (and parameters requiring grad),
    # nn.MultiheadAttention skips its fused fast path
    # (aten::_native_multi_head_attention), which has no ONNX export.
    torch.onnx.export(model, (example,), path, **kwargs)


def op_list(path_or_model):
    m = onnx.load(path_or_model) if isinstance(path_or_model, str) else path_or_model
    ops = set()

    def walk(graph):
        for n in graph.node:
            dom = n.domain if n.domain not in ("", "ai.onnx") else ""
            ops.add(f"{dom}:{n.op_type}" if dom else n.op_type)
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    for g in a.graphs:
                        walk(g)

    walk(m.graph)
    return sorted(ops)


def opset_of(model):
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return imp.version
    return None


# Ops whose signature changed between opset 17 and 19 in a way a mechanical
# version bump must handle. Reduce* (except ReduceSum, changed in 13) moved
# "axes" from an attribute to an optional input in opset 18.
_REDUCE_AXES_TO_INPUT_18 = {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                            "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
                            "ReduceSumSquare"}
# Ops whose opset 18/19 versions are a strict superset of the opset 17 ones for
# float tensors (new optional attributes/inputs, wider type lists only).
_COMPATIBLE_17_TO_19 = {
    "Cast", "CastLike", "Constant", "Identity", "Reshape", "Shape", "Size", "Equal",
    "Pad", "Split", "AveragePool", "Resize", "ScatterElements", "ScatterND",
    "OptionalHasElement", "OptionalGetElement", "If", "Loop", "Scan",
}
# Ops that did not change between 17 and 19 need no entry: their opset 17
# schema is still the one in force at opset 19.
_CHANGED_IN_18_19 = _REDUCE_AXES_TO_INPUT_18 | _COMPATIBLE_17_TO_19 | {
    "Col2Im", "GroupNormalization", "LpPool", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
    "BitwiseNot", "CenterCropPad", "Mish", "DeformConv", "DequantizeLinear",
    "QuantizeLinear",
}


def bump_opset_17_to_19(model):
    """Rewrite an opset-17 model as opset 19 (IR version 9).

    torch 1.13 cannot export above opset 17 and the installed onnx (1.12) has
    no opset-19 schemas, so this is done by hand: Reduce* ops get their axes as
    an int64 initializer input; every other op present must be one whose
    schema did not change, or changed compatibly, between 17 and 19.
    """
    m = copy.deepcopy(model)
    assert opset_of(m) == 17
    new_inits = []
    rewritten = []
    for i, node in enumerate(m.graph.node):
        op = node.op_type
        if op in _REDUCE_AXES_TO_INPUT_18:
            axes = None
            keep = []
            for a in node.attribute:
                if a.name == "axes":
                    axes = list(a.ints)
                else:
                    keep.append(a)
            del node.attribute[:]
            node.attribute.extend(keep)
            if axes is not None:
                name = f"{node.name or op}_axes_{i}"
                new_inits.append(onnx.numpy_helper.from_array(np.array(axes, np.int64), name))
                while len(node.input) < 1:
                    node.input.append("")
                node.input.append(name)
            rewritten.append(op)
        elif op in _CHANGED_IN_18_19 and op not in _COMPATIBLE_17_TO_19:
            raise NotImplementedError(f"opset 19 bump: {op} not handled")
    m.graph.initializer.extend(new_inits)
    for imp in m.opset_import:
        if imp.domain in ("", "ai.onnx"):
            imp.version = 19
    m.ir_version = 9
    return m, sorted(set(rewritten))


def file_size(path):
    return os.path.getsize(path)


# --------------------------------------------------------------------------
# Fixture table
# --------------------------------------------------------------------------

# name, builder, description
SMALL_MODELS = [
    ("resnet", small_resnet,
     "torchvision ResNet, BasicBlock, layers [1,1,1,1], widths 16/32/64/96"),
    ("mobilenet_v3_small", small_mobilenet_v3,
     "torchvision mobilenet_v3_small, width_mult 0.25"),
    ("efficientnet", small_efficientnet,
     "torchvision EfficientNet with the B0 stage table at width 0.25, depth 0.34"),
    ("convnext", small_convnext,
     "torchvision ConvNeXt, dims 16/32/64/96, 1 block per stage"),
    ("regnet", small_regnet,
     "torchvision RegNet (Y-style with SE 0.25), depth 4, w0 16, wa 8, wm 2, group width 8"),
    ("swin", small_swin,
     "torchvision SwinTransformer, patch 4, embed 16, depths [2,2,2], heads [1,2,4], window 4"),
    ("vit", small_vit,
     "torchvision VisionTransformer, image 64, patch 16, 2 layers, hidden 64, 2 heads, mlp 128"),
    ("dinov2", small_dinov2,
     "DINOv2-style ViT in plain torch: patch 8, dim 64, 2 blocks, 2 heads, cls + 4 registers, "
     "layer scale, head on the class token"),
    ("shapechains", small_shapechains,
     "reshape/expand sizes all computed from tensor shapes (dynamic-batch integer chains: "
     "Shape, Gather, Concat, Mul, Div, Equal, Where, Expand)"),
]

# extra variants: (name, base model name, opset, dynamic batch)
VARIANTS = [
    ("vit_opset11", "vit", 11, True),
    ("vit_opset19", "vit", 19, True),
    ("resnet_static1", "resnet", 17, False),
]


def build(builder, seed, size, calib_batch=16):
    torch.manual_seed(seed)
    net = builder()
    liven(net, torch.Generator().manual_seed(seed + 1))
    rel = calibrate(net, size, torch.Generator().manual_seed(seed + 2), batch_size=calib_batch)
    model = WithSigmoid(net).eval()
    model.feature_spread = rel
    return model


def write_fixture(model, name, opset, dynamic, inputs, out_dir, log):
    path = os.path.join(out_dir, f"{name}.onnx")
    in1, in3 = inputs
    if opset == 19:
        tmp = path + ".op17.tmp"
        export(model, torch.from_numpy(in1), tmp, 17, dynamic)
        m17 = onnx.load(tmp)
        os.remove(tmp)
        onnx.checker.check_model(m17, full_check=True)
        m19, rewritten = bump_opset_17_to_19(m17)
        onnx.save(m19, path)
        note = ("exported at 17 by torch, then bumped to 19 by this script"
                + (f" (rewrote {', '.join(rewritten)})" if rewritten else " (no node changed)"))
    else:
        export(model, torch.from_numpy(in1), path, opset, dynamic)
        onnx.checker.check_model(onnx.load(path), full_check=True)
        note = ""
    with torch.no_grad():
        out1 = model(torch.from_numpy(in1)).numpy().astype(np.float32)
    np.save(os.path.join(out_dir, f"{name}.in1.npy"), in1)
    np.save(os.path.join(out_dir, f"{name}.out1.npy"), out1)
    stats = {"out1_std": float(out1.std()),
             "feature_spread": float(getattr(model, "feature_spread", float("nan")))}
    if dynamic:
        with torch.no_grad():
            out3 = model(torch.from_numpy(in3)).numpy().astype(np.float32)
        np.save(os.path.join(out_dir, f"{name}.in3.npy"), in3)
        np.save(os.path.join(out_dir, f"{name}.out3.npy"), out3)
        # batch independence: row 0 of batch 3 vs the same image alone
        with torch.no_grad():
            alone = model(torch.from_numpy(in3[:1])).numpy()
        stats["batch_row_maxdiff"] = float(np.abs(alone - out3[:1]).max())
        stats["out3_std_across_batch"] = float(out3.std(axis=0).mean())
    m = onnx.load(path)
    info = {
        "name": name, "opset": opset_of(m), "dynamic": dynamic,
        "bytes": file_size(path), "ops": op_list(m), "note": note,
        "params": int(sum(p.numel() for p in model.parameters())),
        "input_shape": list(in1.shape), "output_shape": list(out1.shape),
        **stats,
    }
    log(f"{name}: opset {info['opset']} {info['bytes']} bytes, ops {info['ops']}")
    return info


def make_inputs(seed, size, batch3=True):
    rng = np.random.default_rng(seed)
    in1 = rng.standard_normal((1, 3, size, size)).astype(np.float32)
    in3 = rng.standard_normal((3, 3, size, size)).astype(np.float32) if batch3 else None
    return in1, in3


def run_small(only, log):
    os.makedirs(FIXTURE_DIR, exist_ok=True)
    builders = {n: (b, d) for n, b, d in SMALL_MODELS}
    infos = []
    for idx, (name, builder, desc) in enumerate(SMALL_MODELS):
        wanted = [name] + [v[0] for v in VARIANTS if v[1] == name]
        if only and not any(w in only for w in wanted):
            continue
        model = build(builder, seed=0, size=SMALL_SIZE)
        inputs = make_inputs(1000 + idx, SMALL_SIZE)
        if not only or name in only:
            info = write_fixture(model, name, 17, True, inputs, FIXTURE_DIR, log)
            info["desc"] = desc
            infos.append(info)
        for vname, base, opset, dynamic in VARIANTS:
            if base != name or (only and vname not in only):
                continue
            info = write_fixture(model, vname, opset, dynamic, inputs, FIXTURE_DIR, log)
            info["desc"] = f"same weights and inputs as `{name}`" + (
                ", static batch 1" if not dynamic else f", opset {opset}")
            infos.append(info)
    assert builders
    return infos


def numpy_check(name):
    """Max |difference| between tools/demo/np_onnx.py and the PyTorch outputs."""
    sys.path.insert(0, os.path.join(REPO, "tools", "demo"))
    import np_onnx
    worst = 0.0
    for b in ("1", "3"):
        xin = os.path.join(FIXTURE_DIR, f"{name}.in{b}.npy")
        if not os.path.exists(xin):
            continue
        ref = np.load(os.path.join(FIXTURE_DIR, f"{name}.out{b}.npy")).astype(np.float64)
        out = np_onnx.run(os.path.join(FIXTURE_DIR, f"{name}.onnx"), {"input": np.load(xin)})[0]
        assert out.shape == ref.shape, (name, out.shape, ref.shape)
        worst = max(worst, float(np.abs(out - ref).max()))
    assert worst < 1e-4, f"{name}: numpy interpreter disagrees with PyTorch ({worst})"
    return worst


def write_readme(log):
    """Rebuild README.md from whatever fixtures are present in the directory."""
    descs = {n: d for n, _, d in SMALL_MODELS}
    for vname, base, opset, dynamic in VARIANTS:
        descs[vname] = f"same weights and inputs as `{base}`" + (
            ", static batch 1" if not dynamic else f", opset {opset}")
    rows = []
    all_ops = set()
    total = 0
    names = []
    for base, _, _ in SMALL_MODELS:
        names.append(base)
        names.extend(v[0] for v in VARIANTS if v[1] == base)
    for name in names:
        path = os.path.join(FIXTURE_DIR, f"{name}.onnx")
        if not os.path.exists(path):
            continue
        m = onnx.load(path)
        ops = op_list(m)
        all_ops.update(ops)
        size = os.path.getsize(path)
        total += size
        in_shape = [d.dim_param or d.dim_value for d in
                    m.graph.input[0].type.tensor_type.shape.dim]
        out_shape = [d.dim_param or d.dim_value for d in
                     m.graph.output[0].type.tensor_type.shape.dim]
        check = numpy_check(name)
        rows.append((name, opset_of(m), m.ir_version, size, in_shape, out_shape, ops,
                     descs.get(name, ""), check))
    lines = [
        "# ONNX fixtures of the classifier families",
        "",
        "Small **random-weight** models of each classifier family the runtime must run, for",
        "the engine tests. They are not trained and their scores mean nothing; the point",
        "is that the C engine reproduces PyTorch's output for the same input.",
        "",
        "Generated by `tools/export_families.py` (development-time tool; needs the Debian",
        "packages python3-torch, python3-torchvision, python3-onnx, python3-numpy):",
        "",
        "```sh",
        "/usr/bin/python3 tools/export_families.py            # all fixtures + this README",
        "/usr/bin/python3 tools/export_families.py --only vit # one family (and README)",
        "```",
        "",
        "Files per model `NAME`:",
        "",
        "* `NAME.onnx`: input `input` float32 `[batch,3,64,64]` (NCHW), output `output`",
        "  float32 `[batch,32]`, already passed through a **sigmoid inside the graph**",
        "  (a `fused` multi-label head: Linear then Sigmoid).",
        "* `NAME.in1.npy` / `NAME.out1.npy`: a random standard-normal input with batch 1",
        "  and the PyTorch (eval mode, float32) output.",
        "* `NAME.in3.npy` / `NAME.out3.npy`: the same with batch 3 (not for static-batch",
        "  models). Batch rows are independent: row 0 of `out3` equals the model run on",
        "  row 0 of `in3` alone (to float rounding, <= 1e-5).",
        "",
        "Weights come from `torch.manual_seed(0)`. Parameters that torchvision initialises",
        "to values hiding most of the network (zero classifier weights, layer scale 1e-6,",
        "BatchNorm running statistics 0/1) are re-randomised, so a wrong kernel anywhere",
        "changes the output. PyTorch 1.13 (Debian) exported everything with its TorchScript",
        "exporter and `do_constant_folding=True`; BatchNorm is folded into Conv.",
        "Expect float32 differences around 1e-6..1e-5 against the `.out*.npy` files.",
        "",
        "Every graph is also run by `tools/demo/np_onnx.py`, an independent float64",
        "numpy interpreter of these ops; the last column is its largest difference from",
        "the PyTorch outputs over `out1` and `out3`.",
        "",
        "| model | opset | IR | bytes | input | output | description | numpy check |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, opset, ir, size, ish, osh, ops, desc, check in rows:
        lines.append(f"| `{name}` | {opset} | {ir} | {size} | {ish} | {osh} | {desc} "
                     f"| {check:.1e} |")
    lines += ["", f"Total: {total} bytes of ONNX.", "", "## Ops per model", ""]
    for name, opset, ir, size, ish, osh, ops, desc, _ in rows:
        lines.append(f"* `{name}` (opset {opset}): {', '.join(ops)}")
    lines += ["", "## Union of ops", "", ", ".join(sorted(all_ops)), ""]
    lines += [
        "## Notes",
        "",
        "* `vit_opset19`: torch 1.13 cannot export above opset 17 and the Debian onnx",
        "  (1.12) has no opset-19 schemas, so the script exports at 17, checks that graph",
        "  with `onnx.checker`, and then rewrites it as opset 19 / IR version 9 by hand:",
        "  Reduce* ops (if any) get their `axes` as an input, every other op present is one",
        "  whose schema is unchanged (or extended compatibly) between 17 and 19. The",
        "  opset-19 file itself could not be checked by the installed onnx checker (it",
        "  is checked numerically by np_onnx.py).",
        "* `vit_opset11`: LayerNormalization does not exist before opset 17, so layer norm",
        "  is decomposed (ReduceMean, Sub, Pow, Sqrt, Div, ...).",
        "* `resnet_static1`: input and output have a fixed batch dimension of 1.",
        "* `swin`: torchvision 0.14 calls `F.dropout(attn, p=0.0)` without",
        "  `training=self.training`, so the graph holds `Dropout` nodes with ratio 0 and",
        "  `training_mode` = true (their mask output is unused): they must act as identity.",
        "  Swin also computes its shifted-window attention mask inside the graph from the",
        "  input shape (Shape, Range, Mod, ScatterND, Pad, Where, ... on int64 tensors).",
        "* `vit`, `dinov2`: the class token is broadcast to the dynamic batch size with",
        "  Shape/ConstantOfShape/Equal/Where/Expand, i.e. a small int64 shape subgraph.",
        "* `shapechains`: every Reshape/Expand size comes from a Shape chain (batch read",
        "  from the input, a Mul of the batch and a static dim, a view(*shape[:-1], ...), a",
        "  reshape of a tensor's own dim 0, exact Mul/Div of the batch, expands against",
        "  the input's own dim and another tensor's); the engine tests check that the",
        "  load-time folding leaves none of these integer nodes (tests/engine).",
        "* Weights: after re-randomisation, BatchNorm running statistics are calibrated on",
        "  random inputs and the classifier is rescaled so that logits vary by about 2",
        "  across inputs (outputs spread over (0,1) instead of sitting at the bias).",
        "",
    ]
    with open(os.path.join(FIXTURE_DIR, "README.md"), "w") as fh:
        fh.write("\n".join(lines))
    log(f"README: {len(rows)} models, {total} bytes total")


# --------------------------------------------------------------------------
# Full-size benchmark models
# --------------------------------------------------------------------------

def full_builders():
    tvm = torchvision.models
    return {
        "resnet18": lambda: tvm.resnet18(weights=None, num_classes=NUM_CLASSES),
        "resnet50": lambda: tvm.resnet50(weights=None, num_classes=NUM_CLASSES),
        "mobilenet_v3_large": lambda: tvm.mobilenet_v3_large(weights=None,
                                                             num_classes=NUM_CLASSES),
        "efficientnet_b0": lambda: tvm.efficientnet_b0(weights=None, num_classes=NUM_CLASSES),
        "convnext_tiny": lambda: tvm.convnext_tiny(weights=None, num_classes=NUM_CLASSES),
        "vit_b_16": lambda: tvm.vit_b_16(weights=None, num_classes=NUM_CLASSES),
    }


def run_full(out_dir, only, log):
    os.makedirs(out_dir, exist_ok=True)
    for idx, (name, builder) in enumerate(full_builders().items()):
        if only and name not in only:
            continue
        model = build(builder, seed=0, size=224, calib_batch=2)
        in1, _ = make_inputs(2000 + idx, 224, batch3=False)
        path = os.path.join(out_dir, f"{name}.onnx")
        export(model, torch.from_numpy(in1), path, 17, True)
        onnx.checker.check_model(path)
        with torch.no_grad():
            out1 = model(torch.from_numpy(in1)).numpy().astype(np.float32)
        np.save(os.path.join(out_dir, f"{name}.in1.npy"), in1)
        np.save(os.path.join(out_dir, f"{name}.out1.npy"), out1)
        log(f"{name}: {os.path.getsize(path)} bytes, ops {op_list(path)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true",
                    help="export full-size 224x224 benchmark models instead")
    ap.add_argument("--out", default=os.path.join(REPO, "build", "bench-models"),
                    help="output directory for --full")
    ap.add_argument("--only", nargs="*", default=None,
                    help="only these model names (e.g. vit vit_opset19 resnet18)")
    args = ap.parse_args()
    torch.set_num_threads(2)

    def log(msg):
        print(msg, flush=True)

    if args.full:
        run_full(args.out, args.only, log)
        return 0
    run_small(args.only, log)
    write_readme(log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
