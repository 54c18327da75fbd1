#!/usr/bin/env python3
"""dinov2_ref.py: reference outputs of Hugging Face's Dinov2WithRegistersModel for the C
image tower (engine/vision/vit.c) parity tests.

Writes, for a random-weight config:
  <out>/<name>_hf.safetensors    weights in HF hub naming ("vision." prefix) + vision_proj.weight
  <out>/<name>_meta.safetensors  the same weights in Meta's naming (packed blocks.N.attn.qkv)
  <out>/<name>_io.safetensors    per case k: case<k>.input (B,3,H,W), case<k>.pooled (B,C),
                                 case<k>.patch (B,Np,C), case<k>.proj (B,E), case<k>.pos (1+Np,C)
The config is JSON in __metadata__["mama_ref_config"] of every file.

Definitions checked here (MAMA_METHOD.md sections 1 and 3):
  pooled = mean over ALL tokens (CLS, registers, patches) of the last block output,
           before the final LayerNorm;
  patch  = last_hidden_state[:, 1 + n_registers:] (after the final LayerNorm);
  proj   = l2norm(pooled @ vision_proj.weight^T) (no bias);
  pos    = embeddings.interpolate_pos_encoding(...) for that input size.

Usage: dinov2_ref.py [--out DIR] [--real]
  default: the tiny config (hidden 32, 2 layers, 4 heads, patch 4, 28 px, 4 registers,
  random LayerScale) with cases at 28x28 (no interpolation), 36x44 (upsampling) and 20x24
  (downsampling, antialiased), written to tests/vision/ref (committed; small).
  --real: width 768, 12 layers, 518 px, one case at 518 (the slow parity test).
Needs: pip install torch transformers safetensors
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file
from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel


def hub_state_dict(model):
    """State dict in the naming of the checkpoints on the hub (transformers 4.x):
    attention.attention.{query,key,value}, attention.output.dense. transformers 5 renames
    them to attention.{q,k,v,o}_proj in memory; map back so the C loader is tested on the
    names that real checkpoints carry."""
    out = {}
    for k, v in model.state_dict().items():
        k2 = (k.replace("attention.q_proj", "attention.attention.query")
               .replace("attention.k_proj", "attention.attention.key")
               .replace("attention.v_proj", "attention.attention.value")
               .replace("attention.o_proj", "attention.output.dense"))
        out[k2] = v.detach().clone().contiguous()
    return out


def meta_state_dict(hub, depth):
    """Meta's dinov2 naming: qkv packed as one (3C, C) weight."""
    m = {
        "cls_token": hub["embeddings.cls_token"],
        "pos_embed": hub["embeddings.position_embeddings"],
        "register_tokens": hub["embeddings.register_tokens"],
        "mask_token": hub["embeddings.mask_token"],
        "patch_embed.proj.weight": hub["embeddings.patch_embeddings.projection.weight"],
        "patch_embed.proj.bias": hub["embeddings.patch_embeddings.projection.bias"],
        "norm.weight": hub["layernorm.weight"],
        "norm.bias": hub["layernorm.bias"],
    }
    for i in range(depth):
        h = f"encoder.layer.{i}."
        b = f"blocks.{i}."
        a = h + "attention.attention."
        m[b + "attn.qkv.weight"] = torch.cat([hub[a + "query.weight"], hub[a + "key.weight"],
                                              hub[a + "value.weight"]], 0).contiguous()
        m[b + "attn.qkv.bias"] = torch.cat([hub[a + "query.bias"], hub[a + "key.bias"],
                                            hub[a + "value.bias"]], 0).contiguous()
        m[b + "attn.proj.weight"] = hub[h + "attention.output.dense.weight"]
        m[b + "attn.proj.bias"] = hub[h + "attention.output.dense.bias"]
        m[b + "ls1.gamma"] = hub[h + "layer_scale1.lambda1"]
        m[b + "ls2.gamma"] = hub[h + "layer_scale2.lambda1"]
        for n in ("norm1", "norm2", "mlp.fc1", "mlp.fc2"):
            m[b + n + ".weight"] = hub[h + n + ".weight"]
            m[b + n + ".bias"] = hub[h + n + ".bias"]
    return m


def build(cfgd, seed):
    torch.manual_seed(seed)
    cfg = Dinov2WithRegistersConfig(
        hidden_size=cfgd["width"], num_hidden_layers=cfgd["depth"],
        num_attention_heads=cfgd["heads"], mlp_ratio=cfgd["mlp_ratio"],
        image_size=cfgd["image_size"], patch_size=cfgd["patch"],
        num_register_tokens=cfgd["n_registers"], layer_norm_eps=cfgd["ln_eps"],
        hidden_act="gelu", qkv_bias=True, layerscale_value=1.0)
    cfg._attn_implementation = "eager"
    model = Dinov2WithRegistersModel(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lambda1" in name:
                p.copy_(torch.empty_like(p).uniform_(0.3, 1.7))   # LayerScale not 1.0
            elif "register_tokens" in name or "cls_token" in name or "position_embeddings" in name:
                p.copy_(torch.randn_like(p) * 0.5)
            elif name.endswith("bias") and "norm" not in name:
                p.copy_(torch.randn_like(p) * 0.05)
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif "norm" in name and name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            elif name.endswith("weight"):
                fan_in = p[0].numel()
                p.copy_(torch.randn_like(p) / fan_in ** 0.5)
    proj = torch.randn(cfgd["embed"], cfgd["width"]) / cfgd["width"] ** 0.5
    return model, proj


def run_case(model, proj, R, inp):
    with torch.no_grad():
        H, W = inp.shape[-2:]
        emb_tokens = model.embeddings.patch_embeddings(inp)
        cls = model.embeddings.cls_token.expand(inp.shape[0], -1, -1)
        pos = model.embeddings.interpolate_pos_encoding(torch.cat([cls, emb_tokens], 1), H, W)
        out = model(pixel_values=inp, output_hidden_states=True)
        last_block = out.hidden_states[-1]
        pooled = last_block.mean(dim=1)
        patch = out.last_hidden_state[:, 1 + R:]
        pr = torch.nn.functional.normalize(pooled @ proj.T, dim=-1)
    return {"input": inp, "pooled": pooled, "patch": patch, "proj": pr, "pos": pos[0]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                  "tests", "vision", "ref"))
    ap.add_argument("--real", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    if args.real:
        name = "real"
        cfgd = dict(width=768, depth=12, heads=12, patch=14, image_size=518, n_registers=4,
                    mlp_ratio=4, ln_eps=1e-6, layerscale=1, embed=512)
        sizes = [(1, 518, 518)]
    else:
        name = "tiny"
        cfgd = dict(width=32, depth=2, heads=4, patch=4, image_size=28, n_registers=4,
                    mlp_ratio=4, ln_eps=1e-6, layerscale=1, embed=16)
        sizes = [(2, 28, 28), (1, 36, 44), (2, 20, 24)]
    model, proj = build(cfgd, seed=1234)
    hub = hub_state_dict(model)
    meta = {"mama_ref_config": json.dumps(cfgd)}
    os.makedirs(args.out, exist_ok=True)
    w = {"vision." + k: v for k, v in hub.items()}
    w["vision_proj.weight"] = proj.contiguous()
    save_file(w, os.path.join(args.out, f"{name}_hf.safetensors"), metadata=meta)
    if not args.real:
        wm = {"vision." + k: v for k, v in meta_state_dict(hub, cfgd["depth"]).items()}
        wm["vision_proj.weight"] = proj.contiguous()
        save_file(wm, os.path.join(args.out, f"{name}_meta.safetensors"), metadata=meta)
    io = {}
    g = torch.Generator().manual_seed(99)
    for k, (B, H, W) in enumerate(sizes):
        inp = torch.rand(B, 3, H, W, generator=g) * 2 - 1
        for key, v in run_case(model, proj, cfgd["n_registers"], inp).items():
            io[f"case{k}.{key}"] = v.contiguous().float()
    meta_io = dict(meta)
    meta_io["cases"] = str(len(sizes))
    save_file(io, os.path.join(args.out, f"{name}_io.safetensors"), metadata=meta_io)
    print(f"wrote {name} reference to {args.out}")


if __name__ == "__main__":
    main()
