#!/usr/bin/env python3
"""train_torch.py: the anchor for bench/train_bench.sh: the same MaMA training step as
bench/train_bench.c in PyTorch on the CPU (fp32): Hugging Face Dinov2WithRegistersModel
ViT-B/14-reg (position grid for 518, interpolated at other sizes), a tiny GPT2Model (256
wide, 4 layers, 64 tokens) with peft LoRA r 8 / alpha 32 on c_attn, the paper's heads
(local hidden 2048, E 512), all four loss terms (tools/reference/train_ref.py's
definitions), clip_grad_norm_ and AdamW. --recompute 1 turns on HF gradient checkpointing
in the image tower (per block, as the engine's VIT_KEEP_INPUTS).
Prints one line in the engine's format.
usage: train_torch.py --threads N --batch B --size S [--iters I] [--recompute 0|1]
Needs: torch, transformers, peft"""
import argparse
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools",
                                "reference"))
from train_ref import Head, clip_loss, ntxent, sla  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--iters", type=int, default=2)
    ap.add_argument("--recompute", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    from peft import LoraConfig, get_peft_model
    from transformers import (Dinov2WithRegistersConfig, Dinov2WithRegistersModel, GPT2Config,
                              GPT2Model)
    torch.manual_seed(1)
    vcfg = Dinov2WithRegistersConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                     image_size=518, patch_size=14, num_register_tokens=4)
    vit = Dinov2WithRegistersModel(vcfg).train()
    if a.recompute:
        vit.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    proj = torch.nn.Parameter(torch.randn(512, 768) / 768 ** 0.5)
    gcfg = GPT2Config(vocab_size=1005, n_positions=64, n_embd=256, n_layer=4, n_head=4,
                      n_inner=1024, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    gpt = get_peft_model(GPT2Model(gcfg), LoraConfig(r=8, lora_alpha=32, lora_dropout=0.0,
                                                     target_modules=["c_attn"],
                                                     fan_in_fan_out=True))
    wte = gpt.base_model.model.wte.weight
    wte.requires_grad_(True)
    keep = torch.zeros(1005, 1)
    keep[1000:] = 1
    wte.register_hook(lambda g: g * keep)
    heads = {"txt": Head(256, 0, 512, True, True), "img_local": Head(768, 2048, 512, False, False),
             "txt_local": Head(256, 2048, 512, False, False),
             "simclr": Head(768, 768, 512, False, True)}
    ls = torch.nn.Parameter(torch.tensor([2.659]))
    lsl = torch.nn.Parameter(torch.tensor([2.659]))
    params = ([p for p in vit.parameters() if p.requires_grad] + [proj]
              + [p for p in gpt.parameters() if p.requires_grad]
              + [p for h in heads.values() for p in h.parameters()] + [ls, lsl])
    opt = torch.optim.AdamW(params, lr=4e-5, weight_decay=0.1, foreach=False)
    B, S, T, R = a.batch, a.size, 64, 4
    x = torch.rand(2 * B, 3, S, S) * 2 - 1
    ids = torch.randint(0, 1000, (B, T))
    mask = torch.zeros(B, T)
    pos, off = [], [0]
    for b in range(B):
        n = T - 4 * b
        mask[b, :n] = 1
        for k in range(7, n, 8):
            ids[b, k] = 1003
            pos.append(b * T + k)
        off.append(len(pos))

    def step():
        opt.zero_grad(set_to_none=True)
        o = vit(pixel_values=x, output_hidden_states=True)
        pooled = o.hidden_states[-1].mean(1)
        v = F.normalize(pooled @ proj.T, dim=-1)
        feat = gpt(input_ids=ids, attention_mask=mask).last_hidden_state
        tp = (feat * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
        t = F.normalize(heads["txt"](tp), dim=-1)
        z = heads["simclr"](pooled)
        Np = o.last_hidden_state.shape[1] - 1 - R
        pn = F.normalize(heads["img_local"](o.last_hidden_state[:B, 1 + R:].reshape(B * Np, 768)),
                         dim=-1).reshape(B, Np, 512)
        sn = F.normalize(heads["txt_local"](feat.reshape(B * T, 256)[pos]), dim=-1)
        loss = (clip_loss(v[:B], t, ls) + ntxent(z[:B], z[B:]) + clip_loss(v[B:], t, ls)
                + sla(pn, sn, off, lsl))
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], 1.0)
        opt.step()
        with torch.no_grad():
            ls.clamp_(max=4.6052)
            lsl.clamp_(max=4.6052)
        return loss.item()

    times = []
    for it in range(a.iters + 1):
        t0 = time.perf_counter()
        loss = step()
        if it:
            times.append(time.perf_counter() - t0)
    best, mean = min(times), sum(times) / len(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"torch threads={a.threads} batch={B} size={S} recompute={a.recompute} "
          f"best_ms={best*1e3:.0f} mean_ms={mean*1e3:.0f} samples_per_s={B/best:.3f} "
          f"peak_rss_mb={rss:.0f} loss={loss:.4f}")


if __name__ == "__main__":
    main()
