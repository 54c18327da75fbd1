#!/usr/bin/env python3
"""text_bench.py: the transformers anchor for bench/text_bench.c (same shapes, same batch,
CPU, no_grad; fp32, or bf16 autocast when MAMA_PRECISION=bf16). GPT-2 small shape with peft LoRA r 8 on c_attn (random weights), or
all-MiniLM-L6-v2 from a directory. Prints torch_tokens_per_s.
Usage: text_bench.py gpt2-small|minilm B T ITERS THREADS [MINILM_DIR]"""
import os
import sys
import time

import torch


def main():
    kind, B, T, iters, threads = sys.argv[1], *map(int, sys.argv[2:6])
    torch.set_num_threads(threads)
    if kind == "gpt2-small":
        from transformers import GPT2Config, GPT2Model
        from peft import LoraConfig, get_peft_model
        cfg = GPT2Config(vocab_size=50257 + 5, n_positions=1024, n_embd=768, n_layer=12,
                         n_head=12, activation_function="gelu_new")
        model = get_peft_model(GPT2Model(cfg), LoraConfig(r=8, lora_alpha=32,
                               lora_dropout=0.1, target_modules=["c_attn"],
                               fan_in_fan_out=True))
        V = cfg.vocab_size
    else:
        from transformers import BertModel
        model = BertModel.from_pretrained(sys.argv[6], add_pooling_layer=False)
        V = model.config.vocab_size
    model.eval()
    ids = torch.tensor([[(1000003 * (b * T + t) + 17) % V for t in range(T)] for b in range(B)])
    mask = torch.tensor([[1.0 if t < T - 7 * b else 0.0 for t in range(T)] for b in range(B)])
    times, cpus = [], []
    bf16 = os.environ.get("MAMA_PRECISION", "fp32") == "bf16"
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for it in range(iters + 1):
            t0, c0 = time.perf_counter(), time.process_time()
            h = model(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1)
            pooled = (h.float() * m).sum(1) / m.sum(1)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            if it > 0:
                times.append(dt)
                cpus.append(dc)
    print(f"torch: {kind} B={B} T={T} threads={threads} precision={'bf16' if bf16 else 'fp32'} torch={torch.__version__} "
          f"attn={getattr(model.config, '_attn_implementation', '?')}")
    print(f"torch_tokens_per_s {B * T * iters / sum(times):.1f} (mean of {iters}; best "
          f"{B * T / min(times):.1f}) checksum {float(pooled[0, 0] + pooled[0, -1]):.6f}")
    print(f"torch_cpu_tokens_per_s {B * T / min(cpus):.1f} (best process CPU time)")


if __name__ == "__main__":
    main()
