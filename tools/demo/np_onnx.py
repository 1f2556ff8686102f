"""Tiny numpy interpreter for the handful of ONNX ops the demo CNN uses.

Development-time check only: the Debian onnx package (1.12) has no reference
evaluator and onnxruntime is not available, so make_demo.py runs the exported
graph through this to make sure the export (BN folding, dynamic batch, ...)
computes the same logits as PyTorch.

Supported: Conv, Relu, Add, MaxPool, GlobalAveragePool, AveragePool (global
shaped), Flatten, Gemm, MatMul, Reshape, Identity, Constant.
Computation is float64 throughout.
"""

import numpy as np
import onnx
from onnx import numpy_helper


def _attrs(node):
    out = {}
    for a in node.attribute:
        out[a.name] = onnx.helper.get_attribute_value(a)
    return out


def _pads_2d(at, kh, kw, h, w, strides, dil):
    pads = list(at.get("pads", [0, 0, 0, 0]))
    auto = at.get("auto_pad", b"NOTSET")
    if isinstance(auto, bytes):
        auto = auto.decode()
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        res = []
        for size, k, s, d in ((h, kh, strides[0], dil[0]), (w, kw, strides[1], dil[1])):
            out = -(-size // s)
            total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
            small, big = total // 2, total - total // 2
            res.append((small, big) if auto == "SAME_UPPER" else (big, small))
        pads = [res[0][0], res[1][0], res[0][1], res[1][1]]
    elif auto not in ("NOTSET", "VALID"):
        raise NotImplementedError(auto)
    return pads


def _windows(x, kh, kw, strides, dil, pads, fill):
    n, c, h, w = x.shape
    xp = np.full((n, c, h + pads[0] + pads[2], w + pads[1] + pads[3]), fill, dtype=x.dtype)
    xp[:, :, pads[0]:pads[0] + h, pads[1]:pads[1] + w] = x
    oh = (xp.shape[2] - ((kh - 1) * dil[0] + 1)) // strides[0] + 1
    ow = (xp.shape[3] - ((kw - 1) * dil[1] + 1)) // strides[1] + 1
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dil[0], j * dil[1]
            cols[:, :, i, j] = xp[:, :, y0:y0 + strides[0] * (oh - 1) + 1:strides[0],
                                  x0:x0 + strides[1] * (ow - 1) + 1:strides[1]]
    return cols, oh, ow


def _conv(x, wt, b, at):
    n, c, h, w = x.shape
    m, cg, kh, kw = wt.shape
    group = at.get("group", 1)
    strides = at.get("strides", [1, 1])
    dil = at.get("dilations", [1, 1])
    pads = _pads_2d(at, kh, kw, h, w, strides, dil)
    cols, oh, ow = _windows(x, kh, kw, strides, dil, pads, 0.0)
    out = np.empty((n, m, oh, ow), dtype=np.float64)
    mg = m // group
    for g in range(group):
        cg_cols = cols[:, g * cg:(g + 1) * cg].reshape(n, cg * kh * kw, oh * ow)
        wg = wt[g * mg:(g + 1) * mg].reshape(mg, cg * kh * kw)
        out[:, g * mg:(g + 1) * mg] = np.einsum("mk,nkp->nmp", wg, cg_cols).reshape(n, mg, oh, ow)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def _maxpool(x, at):
    kh, kw = at["kernel_shape"]
    strides = at.get("strides", [1, 1])
    dil = at.get("dilations", [1, 1])
    if at.get("ceil_mode", 0):
        raise NotImplementedError("ceil_mode")
    pads = _pads_2d(at, kh, kw, x.shape[2], x.shape[3], strides, dil)
    cols, _, _ = _windows(x, kh, kw, strides, dil, pads, -np.inf)
    return cols.max(axis=(2, 3))


def run(model_path, feeds):
    m = onnx.load(model_path)
    env = {}
    for init in m.graph.initializer:
        env[init.name] = numpy_helper.to_array(init).astype(np.float64) \
            if numpy_helper.to_array(init).dtype.kind == "f" else numpy_helper.to_array(init)
    for k, v in feeds.items():
        env[k] = np.asarray(v, dtype=np.float64)
    for node in m.graph.node:
        at = _attrs(node)
        ins = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Conv":
            y = _conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, at)
        elif op == "Relu":
            y = np.maximum(ins[0], 0.0)
        elif op == "Add":
            y = ins[0] + ins[1]
        elif op == "MaxPool":
            y = _maxpool(ins[0], at)
        elif op == "GlobalAveragePool":
            y = ins[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            axis = at.get("axis", 1)
            y = ins[0].reshape(int(np.prod(ins[0].shape[:axis])), -1)
        elif op == "Gemm":
            a, b = ins[0], ins[1]
            if at.get("transA", 0):
                a = a.T
            if at.get("transB", 0):
                b = b.T
            y = at.get("alpha", 1.0) * (a @ b)
            if len(ins) > 2 and ins[2] is not None:
                y = y + at.get("beta", 1.0) * ins[2]
        elif op == "MatMul":
            y = ins[0] @ ins[1]
        elif op == "Reshape":
            shape = [int(s) for s in ins[1]]
            shape = [ins[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
            y = ins[0].reshape(shape)
        elif op == "Identity":
            y = ins[0]
        elif op == "Constant":
            y = numpy_helper.to_array(at["value"])
        else:
            raise NotImplementedError(op)
        env[node.output[0]] = y
    return [env[o.name] for o in m.graph.output]
