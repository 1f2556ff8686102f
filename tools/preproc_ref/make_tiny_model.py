#!/usr/bin/env python3
"""Tiny model packages for mlc's model-layer tests (development tool only).

Writes tests/data/model/tiny/ (dynamic batch) and tests/data/model/tiny_static2/
(static batch 2): a 3-op ONNX graph GlobalAveragePool -> Flatten -> Gemm over a
[B,3,32,32] input with 4 classes, plus inference_config.json, class_names.txt
and model_config.json, and expected.json with the logits numpy computes for
the tests' input image (tests/data/model/preproc/src.png, stretch, /255,
ImageNet normalisation). Run: /usr/bin/python3 tools/preproc_ref/make_tiny_model.py
"""
import json
import os

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLASSES = ["red", "green", "blue", "bright"]
W = np.array([[-0.5, 0.2, 3.0], [0.3, 2.5, -0.2], [2.8, -0.1, 0.1], [1.0, 1.0, 1.0]],
             np.float32)  # rows: classes; cols: R,G,B channel means
B = np.array([0.1, -0.2, 0.05, -0.5], np.float32)
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def graph(batch):
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, 32, 32])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, len(CLASSES)])
    nodes = [helper.make_node("GlobalAveragePool", ["images"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"], axis=1),
             helper.make_node("Gemm", ["f", "W", "B"], ["logits"], transB=1)]
    init = [helper.make_tensor("W", TensorProto.FLOAT, W.shape, W.flatten()),
            helper.make_tensor("B", TensorProto.FLOAT, B.shape, B)]
    g = helper.make_graph(nodes, "tiny", [x], [y], init)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def write(dirname, batch):
    d = os.path.join(REPO, "tests", "data", "model", dirname)
    os.makedirs(d, exist_ok=True)
    onnx.save(graph(batch), os.path.join(d, "weights.onnx"))
    with open(os.path.join(d, "class_names.txt"), "w") as fh:
        fh.write("".join(c + "\n" for c in CLASSES))
    ic = {"image_pre_processing": {},
          "network_input": {"training_input_size": {"height": 32, "width": 32},
                            "dynamic_spatial_size_supported": False,
                            "dynamic_spatial_size_mode": None, "color_mode": "rgb",
                            "resize_mode": "stretch", "padding_value": None,
                            "input_channels": 3, "scaling_factor": 255,
                            "normalization": [MEAN, STD]},
          "forward_pass": {"static_batch_size": None, "max_dynamic_batch_size": 8},
          "post_processing": {"type": "sigmoid", "fused": False}}
    with open(os.path.join(d, "inference_config.json"), "w") as fh:
        json.dump(ic, fh, indent=2)
    mc = {"task_type": "multi-label-classification", "model_architecture": "resnet",
          "recommended_parameters": {"confidence": 0.5,
                                     "per_class_confidence": {"red": 0.3, "bright": 0.9}},
          "static_batch_size": None if batch == "batch" else batch, "model_id": "tiny/1"}
    with open(os.path.join(d, "model_config.json"), "w") as fh:
        json.dump(mc, fh, indent=2)
    return d


def main():
    write("tiny", "batch")
    d = write("tiny_static2", 2)
    img = cv2.imread(os.path.join(REPO, "tests", "data", "model", "preproc", "src.png"))
    x = cv2.resize(img, (32, 32))[:, :, ::-1].astype(np.float32) / np.float32(255)
    x = (x - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    feats = x.reshape(-1, 3).mean(axis=0)
    logits = W @ feats + B
    scores = 1 / (1 + np.exp(-logits.astype(np.float64)))
    with open(os.path.join(REPO, "tests", "data", "model", "tiny_expected.json"), "w") as fh:
        json.dump({"logits": logits.tolist(), "scores": scores.tolist()}, fh, indent=2)
    print("wrote tiny packages; scores", scores)


if __name__ == "__main__":
    main()
