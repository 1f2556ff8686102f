"""Tiny numpy interpreter for the ONNX ops our exported models use.

Development-time check only: the Debian onnx package (1.12) has no reference
evaluator and onnxruntime is not available, so make_demo.py and
tools/export_families.py run their exported graphs through this to make sure
the export (BN folding, dynamic batch, shape subgraphs, the hand-made opset-19
bump, ...) computes the same outputs as PyTorch.

It is deliberately simple and slow: float tensors are computed in float64,
integer/bool tensors keep their type. Only the attributes and modes that our
graphs use are implemented; anything else raises NotImplementedError.
"""

import math

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

_CAST = {
    TensorProto.FLOAT: np.float64, TensorProto.DOUBLE: np.float64,
    TensorProto.FLOAT16: np.float64, TensorProto.INT64: np.int64,
    TensorProto.INT32: np.int32, TensorProto.INT8: np.int8, TensorProto.UINT8: np.uint8,
    TensorProto.BOOL: np.bool_,
}


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _const(arr):
    arr = np.asarray(arr)
    return arr.astype(np.float64) if arr.dtype.kind == "f" else arr


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


def _softmax(x, axis, opset):
    if opset < 13:  # coerce to 2-D at axis
        axis = axis % x.ndim
        shp = x.shape
        x2 = x.reshape(int(np.prod(shp[:axis])), -1)
        e = np.exp(x2 - x2.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).reshape(shp)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _slice(x, starts, ends, axes, steps):
    axes = list(range(len(starts))) if axes is None else [int(a) % x.ndim for a in axes]
    steps = [1] * len(starts) if steps is None else list(steps)
    idx = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        idx[a] = slice(int(s), int(e), int(st))
    return x[tuple(idx)]


def _unsqueeze(x, axes):
    rank = x.ndim + len(axes)
    shape = list(x.shape)
    for a in sorted(int(a) % rank for a in axes):
        shape.insert(a, 1)
    return x.reshape(shape)


def _pad(x, pads, value, mode):
    if mode not in ("constant", b"constant"):
        raise NotImplementedError(f"Pad mode {mode}")
    r = x.ndim
    pads = [int(p) for p in pads]
    begin, end = pads[:r], pads[r:]
    # negative pads crop
    sl = tuple(slice(-b if b < 0 else 0, x.shape[i] + e if e < 0 else None)
               for i, (b, e) in enumerate(zip(begin, end)))
    x = x[sl]
    width = [(max(b, 0), max(e, 0)) for b, e in zip(begin, end)]
    return np.pad(x, width, mode="constant", constant_values=value)


def _reduce_axes(node_ins, at):
    if "axes" in at:
        return tuple(int(a) for a in at["axes"])
    if len(node_ins) > 1 and node_ins[1] is not None:
        return tuple(int(a) for a in node_ins[1])
    return None


def run(model_path, feeds):
    m = onnx.load(model_path)
    opset = next(i.version for i in m.opset_import if i.domain in ("", "ai.onnx"))
    env = {init.name: _const(numpy_helper.to_array(init)) for init in m.graph.initializer}
    for k, v in feeds.items():
        env[k] = np.asarray(v, dtype=np.float64)
    for node in m.graph.node:
        at = _attrs(node)
        ins = [env[i] if i else None for i in node.input]
        op = node.op_type
        x = ins[0] if ins else None
        if op == "Conv":
            y = _conv(x, ins[1], ins[2] if len(ins) > 2 else None, at)
        elif op == "Relu":
            y = np.maximum(x, 0.0)
        elif op == "Add":
            y = x + ins[1]
        elif op == "Sub":
            y = x - ins[1]
        elif op == "Mul":
            y = x * ins[1]
        elif op == "Div":
            if x.dtype.kind in "iu" and ins[1].dtype.kind in "iu":
                y = np.trunc(x / ins[1]).astype(x.dtype)
            else:
                y = x / ins[1]
        elif op == "Pow":
            y = np.power(x, ins[1])
        elif op == "Sqrt":
            y = np.sqrt(x)
        elif op == "Mod":
            y = np.fmod(x, ins[1]) if at.get("fmod", 0) else np.mod(x, ins[1])
        elif op == "Not":
            y = np.logical_not(x)
        elif op == "Equal":
            y = np.equal(x, ins[1])
        elif op == "Where":
            y = np.where(x, ins[1], ins[2])
        elif op == "MaxPool":
            y = _maxpool(x, at)
        elif op == "GlobalAveragePool":
            y = x.mean(axis=tuple(range(2, x.ndim)), keepdims=True)
        elif op == "Flatten":
            axis = at.get("axis", 1) % max(x.ndim, 1)
            y = x.reshape(int(np.prod(x.shape[:axis])), -1)
        elif op == "Gemm":
            a, b = x, ins[1]
            if at.get("transA", 0):
                a = a.T
            if at.get("transB", 0):
                b = b.T
            y = at.get("alpha", 1.0) * (a @ b)
            if len(ins) > 2 and ins[2] is not None:
                y = y + at.get("beta", 1.0) * ins[2]
        elif op == "MatMul":
            y = np.matmul(x, ins[1])
        elif op == "Reshape":
            shape = [int(s) for s in ins[1]]
            if not at.get("allowzero", 0):
                shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
            y = x.reshape(shape)
        elif op in ("Identity", "Dropout"):
            y = x  # Dropout: inference, or training_mode with ratio 0 (checked below)
            if op == "Dropout" and len(ins) > 1 and ins[1] is not None and float(ins[1]) != 0:
                if len(ins) > 2 and ins[2] is not None and bool(ins[2]):
                    raise NotImplementedError("Dropout in training mode with ratio > 0")
        elif op == "Constant":
            y = _const(numpy_helper.to_array(at["value"]))
        elif op == "ConstantOfShape":
            val = _const(numpy_helper.to_array(at["value"])) if "value" in at \
                else np.zeros(1, np.float64)
            y = np.full([int(s) for s in x], val.reshape(-1)[0], dtype=val.dtype)
        elif op == "Shape":
            shp = np.array(x.shape, dtype=np.int64)
            y = shp[at.get("start", 0):at.get("end", None)]
        elif op == "Gather":
            y = np.take(x, ins[1].astype(np.int64), axis=at.get("axis", 0))
        elif op == "Unsqueeze":
            axes = at["axes"] if "axes" in at else ins[1]
            y = _unsqueeze(x, list(axes))
        elif op == "Squeeze":
            axes = at.get("axes") if "axes" in at else (ins[1] if len(ins) > 1 else None)
            y = np.squeeze(x, axis=None if axes is None else tuple(int(a) for a in axes))
        elif op == "Concat":
            y = np.concatenate(ins, axis=at["axis"])
        elif op == "Expand":
            shape = np.broadcast_shapes(x.shape, tuple(int(s) for s in ins[1]))
            y = np.broadcast_to(x, shape).copy()
        elif op == "Cast":
            y = x.astype(_CAST[at["to"]])
        elif op == "Slice":
            if opset < 10:
                raise NotImplementedError("Slice-1")
            y = _slice(x, ins[1], ins[2], ins[3] if len(ins) > 3 else None,
                       ins[4] if len(ins) > 4 else None)
        elif op == "Range":
            y = np.arange(x, ins[1], ins[2]).astype(x.dtype)
        elif op == "ScatterND":
            y = x.copy()
            k = ins[1].shape[-1]
            idx = ins[1].reshape(-1, k).astype(np.int64)
            upd = ins[2].reshape((-1,) + x.shape[k:])
            y[tuple(idx.T)] = upd
        elif op == "Pad":
            if opset < 11:
                raise NotImplementedError("Pad < 11")
            value = ins[2] if len(ins) > 2 and ins[2] is not None else 0
            y = _pad(x, ins[1], np.asarray(value).reshape(-1)[0] if np.size(value) else 0,
                     at.get("mode", b"constant"))
        elif op == "Transpose":
            y = np.transpose(x, at.get("perm"))
        elif op == "Softmax":
            y = _softmax(x, at.get("axis", -1 if opset >= 13 else 1), opset)
        elif op == "ReduceMean":
            axes = _reduce_axes(ins, at)
            y = x.mean(axis=axes, keepdims=bool(at.get("keepdims", 1)))
        elif op == "Sigmoid":
            y = 1.0 / (1.0 + np.exp(-x))
        elif op == "HardSigmoid":
            y = np.clip(at.get("alpha", 0.2) * x + at.get("beta", 0.5), 0.0, 1.0)
        elif op == "HardSwish":
            y = x * np.clip(x / 6.0 + 0.5, 0.0, 1.0)
        elif op == "Erf":
            y = np.vectorize(math.erf, otypes=[np.float64])(x)
        elif op == "LayerNormalization":
            axis = at.get("axis", -1) % x.ndim
            axes = tuple(range(axis, x.ndim))
            mu = x.mean(axis=axes, keepdims=True)
            var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
            y = (x - mu) / np.sqrt(var + at.get("epsilon", 1e-5)) * ins[1]
            if len(ins) > 2 and ins[2] is not None:
                y = y + ins[2]
        else:
            raise NotImplementedError(op)
        env[node.output[0]] = y
    return [env[o.name] for o in m.graph.output]
