#!/usr/bin/env python3
"""vit_torch.py: the anchor for bench/vit_bench.sh and bench/cpu_bench.sh: Hugging Face
Dinov2WithRegistersModel (random weights, CPU, default attention implementation) at the same
size, batch and thread count as the engine; fp32, or bf16 through torch.autocast (PyTorch's
own mixed precision on CPU: bf16 matmuls on oneDNN, LayerNorm/softmax in fp32).
Prints one line in the engine's format.
usage: vit_torch.py --threads N --batch B [--iters I] [--config base|small|tiny]
                    [--precision fp32|bf16]
  base: ViT-B/14 + 4 registers at 518; small: DINOv2-S/14 (384 wide, no registers) at 518
Needs: pip install torch transformers"""
import argparse
import resource
import time

import torch
from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--config", default="base")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    if a.config == "tiny":
        cfg = Dinov2WithRegistersConfig(hidden_size=192, num_hidden_layers=4, num_attention_heads=3,
                                        image_size=224, patch_size=14, num_register_tokens=4)
    elif a.config == "small":
        cfg = Dinov2WithRegistersConfig(hidden_size=384, num_hidden_layers=12, num_attention_heads=6,
                                        image_size=518, patch_size=14, num_register_tokens=0)
    else:
        cfg = Dinov2WithRegistersConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                        image_size=518, patch_size=14, num_register_tokens=4)
    torch.manual_seed(1)
    model = Dinov2WithRegistersModel(cfg).eval()
    S = cfg.image_size
    x = torch.rand(a.batch, 3, S, S) * 2 - 1
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16")
    with torch.inference_mode(), autocast:
        model(pixel_values=x)
        times, cpus = [], []
        for _ in range(a.iters):
            t0, c0 = time.perf_counter(), time.process_time()
            out = model(pixel_values=x)
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
    best, mean = min(times), sum(times) / len(times)
    C, L, P = cfg.hidden_size, cfg.num_hidden_layers, cfg.patch_size
    Np = (S // P) ** 2
    T = 1 + cfg.num_register_tokens + Np
    M = C * cfg.mlp_ratio
    flops = 2 * Np * 3 * P * P * C + L * (2 * T * C * 3 * C + 4 * T * T * C + 2 * T * C * C + 4 * T * C * M)
    gf = flops * a.batch / 1e9
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"torch threads={a.threads} batch={a.batch} size={S} best_ms={best*1e3:.1f} "
          f"mean_ms={mean*1e3:.1f} cpu_ms={min(cpus)*1e3:.1f} gflop={gf:.1f} gflops={gf/best:.1f} peak_rss_mb={rss:.0f} "
          f"precision={a.precision} attn={model.config._attn_implementation} torch={torch.__version__} "
          f"isa={torch.backends.cpu.get_cpu_capability()}")


if __name__ == "__main__":
    main()
