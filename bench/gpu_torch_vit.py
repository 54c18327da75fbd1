"""gpu_torch_vit.py: the anchor for bench/gpu_check.sh: PyTorch bf16 with SDPA running
Hugging Face's Dinov2WithRegistersModel (ViT-B/14, 4 registers) at 518 px, eager and
torch.compile, the same batches as the engine. Random weights (speed only).
usage: python3 gpu_torch_vit.py [--batches 1,4,16,64] [--iters N]"""
import argparse
import time

import torch
from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel

GFLOP = 303.3  # per image, the engine's count (bench/gpu_vit_bench.c vit_flops)


def bench(model, batch, iters):
    x = torch.randn(batch, 3, 518, 518, device="cuda", dtype=torch.bfloat16)
    with torch.inference_mode():
        for _ in range(3):
            model(pixel_values=x)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(iters):
            model(pixel_values=x)
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / iters


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="1,4,16,64")
    ap.add_argument("--iters", type=int, default=10)
    a = ap.parse_args()
    cfg = Dinov2WithRegistersConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                    intermediate_size=3072, patch_size=14, image_size=518,
                                    num_register_tokens=4, attn_implementation="sdpa")
    model = Dinov2WithRegistersModel(cfg).cuda().to(torch.bfloat16).eval()
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    compiled = torch.compile(model)
    for b in [int(s) for s in a.batches.split(",")]:
        for name, m in (("eager", model), ("compile", compiled)):
            dt = bench(m, b, a.iters)
            print(f"torch {name} bf16 batch {b}: {b / dt:.1f} images/s, "
                  f"{b * GFLOP / dt / 1e3:.1f} TFLOP/s")


if __name__ == "__main__":
    main()
