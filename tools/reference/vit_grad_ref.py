#!/usr/bin/env python3
"""vit_grad_ref.py: gradients of Hugging Face's Dinov2WithRegistersModel for the C image
tower's backward (engine/vision/vit_backward.c).

The tiny random model of dinov2_ref.py (same config and seed, so tests/vision/ref/
tiny_hf.safetensors holds its weights). For each case k (B, H, W) it draws an input and
upstream gradients gproj (B,E), gpooled (B,C), gpatch (B,Np,C) and back-propagates
    loss = sum(gproj * proj) + sum(gpooled * pooled) + sum(gpatch * patch)
with proj, pooled, patch as dinov2_ref.py defines them (pooled before the final LN, patch
after it, proj = l2norm(pooled @ vision_proj.weight^T)). Written to
tests/vision/ref/tiny_grad.safetensors:
  case<k>.input, case<k>.gproj, case<k>.gpooled, case<k>.gpatch
  case<k>.grad.<field>: the gradient of every tensor, named and laid out as the fields of
    vit_params (engine/vision/vit.h): per-layer tensors stacked (L, ...), q k v packed as
    qkvw (L, 3C, C), patch_w (C, 3*P*P), pos (1 + G0*G0, C).
Cases: 28x28 (no position resize), 36x44 (bicubic upsampling), 20x24 (antialiased
downsampling): the resize's backward is checked both ways.
Autograd runs in float64 (on the fp32 weights and inputs), so the reference carries no
fp32 rounding of its own. Needs: torch, transformers, safetensors (in a venv).
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
from dinov2_ref import build  # noqa: E402


def vit_c_names(model, proj, depth, g):
    """(engine name, tensor) for every trainable tensor of the tower, in vit_params layout,
    built from g(leaf): g = identity for the values, g = lambda p: p.grad for gradients."""
    e = model.embeddings
    C = e.cls_token.shape[-1]
    out = [("patch_w", g(e.patch_embeddings.projection.weight).reshape(C, -1)),
           ("patch_b", g(e.patch_embeddings.projection.bias)),
           ("cls", g(e.cls_token).reshape(-1)), ("reg", g(e.register_tokens).reshape(-1, C)),
           ("pos", g(e.position_embeddings).reshape(-1, C))]
    per = {k: [] for k in ("ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb", "ls1",
                           "ln2w", "ln2b", "fc1w", "fc1b", "fc2w", "fc2b", "ls2")}
    for i in range(depth):
        lay = model.encoder.layer[i]
        att = lay.attention
        sa = att.attention if hasattr(att, "attention") else att
        q, k, v = ((sa.query, sa.key, sa.value) if hasattr(sa, "query")
                   else (sa.q_proj, sa.k_proj, sa.v_proj))
        o = att.output.dense if hasattr(att, "output") else att.o_proj
        per["ln1w"].append(g(lay.norm1.weight)); per["ln1b"].append(g(lay.norm1.bias))
        per["qkvw"].append(torch.cat([g(q.weight), g(k.weight), g(v.weight)], 0))
        per["qkvb"].append(torch.cat([g(q.bias), g(k.bias), g(v.bias)], 0))
        per["attprojw"].append(g(o.weight)); per["attprojb"].append(g(o.bias))
        per["ls1"].append(g(lay.layer_scale1.lambda1))
        per["ln2w"].append(g(lay.norm2.weight)); per["ln2b"].append(g(lay.norm2.bias))
        per["fc1w"].append(g(lay.mlp.fc1.weight)); per["fc1b"].append(g(lay.mlp.fc1.bias))
        per["fc2w"].append(g(lay.mlp.fc2.weight)); per["fc2b"].append(g(lay.mlp.fc2.bias))
        per["ls2"].append(g(lay.layer_scale2.lambda1))
    out += [(k, torch.stack(v, 0)) for k, v in per.items()]
    out += [("lnfw", g(model.layernorm.weight)), ("lnfb", g(model.layernorm.bias)),
            ("proj_w", g(proj))]
    return out


def c_layout_grads(model, proj, depth):
    """Gradients in vit_params layout (C names)."""
    return dict(vit_c_names(model, proj, depth, lambda p: p.grad))


def main():
    out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "vision", "ref")
    torch.set_num_threads(2)
    cfgd = dict(width=32, depth=2, heads=4, patch=4, image_size=28, n_registers=4,
                mlp_ratio=4, ln_eps=1e-6, layerscale=1, embed=16)
    model, proj = build(cfgd, seed=1234)   # the weights of tiny_hf.safetensors
    # autograd in float64 on the fp32 weights: the reference's own rounding is then far below
    # the tolerance, so what is left is the engine's fp32 error alone
    model = model.double()
    proj = proj.double().requires_grad_(True)
    R, C, E, P = cfgd["n_registers"], cfgd["width"], cfgd["embed"], cfgd["patch"]
    sizes = [(2, 28, 28), (1, 36, 44), (2, 20, 24)]
    gen = torch.Generator().manual_seed(7)
    io = {}
    for k, (B, H, W) in enumerate(sizes):
        model.zero_grad()
        proj.grad = None
        Np = (H // P) * (W // P)
        inp = (torch.rand(B, 3, H, W, generator=gen) * 2 - 1).double()
        gproj = torch.randn(B, E, generator=gen).double()
        gpooled = torch.randn(B, C, generator=gen).double()
        gpatch = torch.randn(B, Np, C, generator=gen).double()
        o = model(pixel_values=inp, output_hidden_states=True)
        pooled = o.hidden_states[-1].mean(dim=1)
        patch = o.last_hidden_state[:, 1 + R:]
        pr = torch.nn.functional.normalize(pooled @ proj.T, dim=-1)
        loss = (gproj * pr).sum() + (gpooled * pooled).sum() + (gpatch * patch).sum()
        loss.backward()
        io[f"case{k}.input"] = inp
        io[f"case{k}.gproj"] = gproj
        io[f"case{k}.gpooled"] = gpooled
        io[f"case{k}.gpatch"] = gpatch
        for name, v in c_layout_grads(model, proj, cfgd["depth"]).items():
            io[f"case{k}.grad.{name}"] = v
    io = {k: v.detach().contiguous().float() for k, v in io.items()}
    meta = {"mama_ref_config": json.dumps(cfgd), "cases": str(len(sizes))}
    save_file(io, os.path.join(out, "tiny_grad.safetensors"), metadata=meta)
    print("wrote", os.path.join(out, "tiny_grad.safetensors"))


if __name__ == "__main__":
    main()
