#!/usr/bin/env python3
"""train_ref.py: MaMA's whole training objective in plain PyTorch, for the engine's
training step (engine/train/step.c) parity test.

Written from ../shared/docs/MAMA_METHOD.md (sections 1-3, 7, 8), not from MaMA's code:
  image tower  Hugging Face Dinov2WithRegistersModel (tiny, random), global feature the
               mean of the last block's tokens BEFORE the final LN, v = l2norm(pool W^T);
               patch tokens after the final LN feed the local head;
  text tower   Hugging Face GPT2Model (tiny, random) + peft LoRA on c_attn (dropout 0 so
               the engine can match), base frozen, added-token rows trainable; or
               BertModel with every parameter trained;
               t = l2norm(Linear(masked mean of the token features)); sentence features
               the token features at the separator tokens;
  heads        local: Linear -> BN -> ReLU -> Linear -> BN(affine=False), per token, no
               biases (one before a BN has zero gradient: the engine omits them);
               SimCLR: Linear(no bias) -> BN -> ReLU -> Linear(no bias) -> BN, run once on
               the 2B pooled features of both views (the engine's choice, step.h);
  losses       L_VT = CE(s v t^T) + CE(s t v^T); L_VV = NT-Xent(T = 0.5); L_VT(v~, t);
               SLA = CE(s_l A) + CE(s_l A^T) + CE(s_l A') + CE(s_l A'^T) with
               A[j,i] = mean_k max_p C_ij, A'[j,i] = mean_p max_k C_ij;
               total = L_VT + [step >= late_step](L_VV + L_VT2 + SLA); before late_step
               the local heads and local scale are frozen (requires_grad False) and the
               SimCLR head gets no gradient (grad None: AdamW skips it); the tower's final
               LayerNorm is frozen throughout (section 1) and its mask token too;
  optimiser    torch.optim.AdamW (betas, eps, wd 0.1 only on linear-map weights),
               clip_grad_norm_, lr = warm-up (step+1)/warmup then cosine to the floor,
               logit scales clamped at ln(100) after each step.
Autograd and AdamW run in float64 on fp32-valued weights and inputs, so the dump carries
no fp32 rounding of its own.

Writes tests/train/ref/train_<case>.safetensors for case gpt2 and bert: the weights, the
inputs, per step k the four loss terms, the gradient norm, the lr, and (k = 0: before
late_step, k = 1: after) the gradient of every trainable tensor, and after the last step
every trainable tensor and the BatchNorm running statistics. Tensor names are the engine's
optimiser names (step.h). Config in __metadata__.
Usage: train_ref.py   (needs torch, transformers, peft, safetensors: in a venv)
"""
import json
import math
import os
import re
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
from dinov2_ref import build as build_vit, hub_state_dict  # noqa: E402
from vit_grad_ref import vit_c_names as vit_fields  # noqa: E402


def vit_c_names(model, proj, depth, g):
    return [("vision." + n, t) for n, t in vit_fields(model, proj, depth, g)]

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "train",
                   "ref")
VCFG = dict(width=16, depth=2, heads=2, patch=4, image_size=16, n_registers=2, mlp_ratio=4,
            ln_eps=1e-6, layerscale=1, embed=8)
TRAIN = dict(local_hidden=12, late_step=1, lr=2e-3, lr_floor=1e-5, warmup=2, total=5,
             beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1, clip_norm=1.0, steps=3)
B, T, H, W = 4, 12, 16, 16
LN100 = math.log(100.0)


class Head(torch.nn.Module):
    def __init__(self, i, hd, o, bias, last_affine):
        super().__init__()
        self.hd = hd
        if hd == 0:
            self.l1 = torch.nn.Linear(i, o, bias=bias)
            return
        self.l1 = torch.nn.Linear(i, hd, bias=bias)
        self.bn1 = torch.nn.BatchNorm1d(hd)
        self.l2 = torch.nn.Linear(hd, o, bias=bias)
        self.bn2 = torch.nn.BatchNorm1d(o, affine=last_affine)

    def forward(self, x):
        if self.hd == 0:
            return self.l1(x)
        return self.bn2(self.l2(F.relu(self.bn1(self.l1(x)))))

    def c_names(self, prefix, g=lambda p: p):
        m = [("w1", self.l1.weight), ("b1", self.l1.bias)]
        if self.hd:
            m += [("bn1w", self.bn1.weight), ("bn1b", self.bn1.bias), ("w2", self.l2.weight),
                  ("b2", self.l2.bias), ("bn2w", self.bn2.weight), ("bn2b", self.bn2.bias)]
        return [(prefix + n, g(p)) for n, p in m if p is not None]

    def stats(self, prefix):
        if not self.hd:
            return []
        return [(prefix + "rm1", self.bn1.running_mean), (prefix + "rv1", self.bn1.running_var),
                (prefix + "rm2", self.bn2.running_mean), (prefix + "rv2", self.bn2.running_var)]


def ce(x):
    return F.cross_entropy(x, torch.arange(x.shape[0]))


def clip_loss(v, t, ls):
    lg = ls.exp() * v @ t.T
    return ce(lg) + ce(lg.T)


def ntxent(z1, z2, tau=0.5):
    z = F.normalize(torch.cat([z1, z2], 0), dim=-1)
    n = z.shape[0]
    sim = (z @ z.T / tau).masked_fill(torch.eye(n, dtype=torch.bool), float("-inf"))
    return F.cross_entropy(sim, (torch.arange(n) + n // 2) % n)


def sla(P, Sn, off, ls):
    nb = P.shape[0]
    A = torch.zeros(nb, nb, dtype=P.dtype)
    A2 = torch.zeros(nb, nb, dtype=P.dtype)
    rows_a, rows_a2 = [], []
    for j in range(nb):
        ra, ra2 = [], []
        for i in range(nb):
            Cij = P[i] @ Sn[off[j]:off[j + 1]].T          # (Np, n_j)
            ra.append(Cij.max(dim=0).values.mean())      # text-to-image
            ra2.append(Cij.max(dim=1).values.mean())     # image-to-text
        rows_a.append(torch.stack(ra))
        rows_a2.append(torch.stack(ra2))
    A = torch.stack(rows_a)
    A2 = torch.stack(rows_a2)
    s = ls.exp()
    return ce(s * A) + ce(s * A.T) + ce(s * A2) + ce(s * A2.T)


def make_reports(vocab, sep_id, gen, bos=None):
    """ids, mask (B,T) with 2..4 sentences each (sep tokens), right padding; sentence
    positions (flat b*T+t) and per-report offsets."""
    lengths = [12, 10, 8, 7]
    nsent = [4, 3, 2, 2]
    ids = torch.randint(2, vocab, (B, T), generator=gen)
    mask = torch.zeros(B, T)
    pos, off = [], [0]
    for b in range(B):
        n = lengths[b]
        mask[b, :n] = 1
        if bos is not None:
            ids[b, 0] = bos
        # sentence ends spread over the real tokens, the last one at n - 2
        ends = sorted({max(1, (n - 2) - k * ((n - 2) // nsent[b])) for k in range(nsent[b])})
        for t in ends:
            ids[b, t] = sep_id
            pos.append(b * T + t)
        off.append(len(pos))
        ids[b, n:] = 0
    return ids, mask, torch.tensor(pos, dtype=torch.int32), torch.tensor(off, dtype=torch.int32)


def gpt2_tower(gen):
    from peft import LoraConfig, get_peft_model
    from transformers import GPT2Config, GPT2Model
    base_vocab, n_added = 40, 5
    cfg = GPT2Config(vocab_size=base_vocab, n_positions=16, n_embd=16, n_layer=2, n_head=2,
                     n_inner=32, activation_function="gelu_new", layer_norm_epsilon=1e-5,
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0,
                     eos_token_id=1)
    cfg._attn_implementation = "eager"
    model = GPT2Model(cfg)
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(1.0 + 0.2 * torch.randn_like(p) if p.dim() == 1 and "weight" in n
                    else 0.2 * torch.randn_like(p))
    cfg_json = cfg.to_json_string()
    V = base_vocab + n_added
    model.resize_token_embeddings(V, mean_resizing=False)
    with torch.no_grad():
        model.wte.weight[base_vocab:] = model.wte.weight[:base_vocab].mean(0)
    base_sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()
               if not re.search(r"\.attn\.(masked_)?bias$", k)}   # causal-mask buffers
    r, alpha = 4, 8.0
    net = get_peft_model(model, LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0,
                                           target_modules=["c_attn"], fan_in_fan_out=True))
    with torch.no_grad():
        for n, p in net.named_parameters():
            if "lora_B" in n:
                p.copy_(0.2 * torch.randn_like(p))   # non-zero B so both factors learn
    sep_id = base_vocab + 3
    ids, mask, pos, off = make_reports(base_vocab, sep_id, gen, bos=base_vocab)
    # weights as the engine loads them: base (full V rows) + peft's adapter names
    weights = dict(base_sd)
    lora = {}
    for n, p in net.named_parameters():
        m = re.search(r"h\.(\d+)\.attn\.c_attn\.lora_([AB])\.default\.weight$", n)
        if m:
            weights[n] = p.detach().clone().contiguous()
            lora.setdefault(m.group(2), {})[int(m.group(1))] = p
    for p in net.parameters():
        p.requires_grad_(False)
    for d in lora.values():
        for p in d.values():
            p.requires_grad_(True)
    wte = model.wte.weight
    wte.requires_grad_(True)
    # only the added rows train: the checkpoint's rows get no gradient
    keep = torch.zeros(V, 1, dtype=torch.float64)
    keep[base_vocab:] = 1
    wte.register_hook(lambda g: g * keep.to(g.dtype))
    meta = {"text": "gpt2", "text_config": cfg_json, "n_added": str(n_added),
            "lora_rank": str(r), "lora_alpha": str(alpha), "lora_targets": "c_attn"}

    def features():
        return net(input_ids=ids, attention_mask=mask).last_hidden_state

    def trainables(g=lambda p: p):
        out = [("text.lora.c_attn.A", torch.stack([g(lora["A"][i]) for i in range(2)], 0)),
               ("text.lora.c_attn.B", torch.stack([g(lora["B"][i]) for i in range(2)], 0)),
               ("text.wte_added", g(wte)[base_vocab:])]
        return out, [lora["A"][i] for i in range(2)] + [lora["B"][i] for i in range(2)] + [wte]

    decay = [lora["A"][i] for i in range(2)] + [lora["B"][i] for i in range(2)]
    return dict(model=net, weights=weights, meta=meta, ids=ids, mask=mask, pos=pos, off=off,
                features=features, trainables=trainables, decay=decay, width=16)


BERT_MAP = [("word", "embeddings.word_embeddings.weight"),
            ("pos", "embeddings.position_embeddings.weight"),
            ("type", "embeddings.token_type_embeddings.weight"),
            ("emb_lnw", "embeddings.LayerNorm.weight"), ("emb_lnb", "embeddings.LayerNorm.bias")]
BERT_LAYER = [("attow", "attention.output.dense.weight"), ("attob", "attention.output.dense.bias"),
              ("ln1w", "attention.output.LayerNorm.weight"),
              ("ln1b", "attention.output.LayerNorm.bias"),
              ("fcw", "intermediate.dense.weight"), ("fcb", "intermediate.dense.bias"),
              ("projw", "output.dense.weight"), ("projb", "output.dense.bias"),
              ("ln2w", "output.LayerNorm.weight"), ("ln2b", "output.LayerNorm.bias")]


def bert_tower(gen):
    from transformers import BertConfig, BertModel
    cfg = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=16, type_vocab_size=2,
                     hidden_act="gelu", layer_norm_eps=1e-12, hidden_dropout_prob=0.0,
                     attention_probs_dropout_prob=0.0)
    cfg._attn_implementation = "eager"
    model = BertModel(cfg, add_pooling_layer=False)
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(1.0 + 0.2 * torch.randn_like(p) if p.dim() == 1 and "LayerNorm.weight" in n
                    else 0.2 * torch.randn_like(p))
    weights = {"bert." + k: v.detach().clone().contiguous()
               for k, v in model.state_dict().items() if "position_ids" not in k}
    ids, mask, pos, off = make_reports(40, 3, gen)
    meta = {"text": "bert", "text_config": cfg.to_json_string()}
    L = cfg.num_hidden_layers

    def features():
        return model(input_ids=ids, attention_mask=mask).last_hidden_state

    def trainables(g=lambda p: p):
        pm = dict(model.named_parameters())
        out = [("text." + c, g(pm[h])) for c, h in BERT_MAP]
        sa = [model.encoder.layer[i].attention.self for i in range(L)]
        q = [(s.query, s.key, s.value) for s in sa]
        out.append(("text.qkvw", torch.stack([torch.cat([g(a.weight), g(b.weight), g(c.weight)], 0)
                                              for a, b, c in q], 0)))
        out.append(("text.qkvb", torch.stack([torch.cat([g(a.bias), g(b.bias), g(c.bias)], 0)
                                              for a, b, c in q], 0)))
        for c, h in BERT_LAYER:
            out.append(("text." + c, torch.stack([g(pm[f"encoder.layer.{i}.{h}"])
                                                  for i in range(L)], 0)))
        return out, list(model.parameters())

    decay = []
    for i in range(L):
        lay = model.encoder.layer[i]
        s = lay.attention.self
        decay += [s.query.weight, s.key.weight, s.value.weight, lay.attention.output.dense.weight,
                  lay.intermediate.dense.weight, lay.output.dense.weight]
    return dict(model=model, weights=weights, meta=meta, ids=ids, mask=mask, pos=pos, off=off,
                features=features, trainables=trainables, decay=decay, width=16)


def lr_at(step):
    t = TRAIN
    if step < t["warmup"]:
        return t["lr"] * (step + 1) / t["warmup"]
    es = t["total"] - t["warmup"]
    if step >= t["total"]:
        return t["lr_floor"]
    e = step - t["warmup"]
    return t["lr_floor"] + (t["lr"] - t["lr_floor"]) * 0.5 * (1 + math.cos(math.pi * e / es))


def run(case):
    torch.manual_seed(2024)
    gen = torch.Generator().manual_seed(5)
    vit, proj = build_vit(VCFG, seed=77)
    vit_weights = {"vision." + k: v for k, v in hub_state_dict(vit).items()}
    vit_weights["vision_proj.weight"] = proj.detach().clone().contiguous()
    tower = gpt2_tower(gen) if case == "gpt2" else bert_tower(gen)
    Ct, E, C, Hd = tower["width"], VCFG["embed"], VCFG["width"], TRAIN["local_hidden"]
    heads = {"txt_proj.": Head(Ct, 0, E, True, True),
             "img_local.": Head(C, Hd, E, False, False),
             "txt_local.": Head(Ct, Hd, E, False, False),
             "simclr.": Head(C, C, E, False, True)}
    with torch.no_grad():   # BN affine away from (1, 0), as a trained head would be
        for h in heads.values():
            for n, p in h.named_parameters():
                if "bn" in n:
                    p.add_(0.3 * torch.randn_like(p))
    init = {}
    for pre, h in heads.items():
        for n, p in h.c_names(pre):
            init[n] = p.detach().clone().contiguous()
    ls = torch.tensor([math.log(1 / 0.07)])
    lsl = torch.tensor([math.log(1 / 0.07)])
    init["logit_scale"], init["logit_scale_local"] = ls.clone(), lsl.clone()

    # float64 from here on
    vit = vit.double().train()
    proj = proj.double().requires_grad_(True)
    tower["model"].double().train()
    for h in heads.values():
        h.double().train()
    ls = ls.double().requires_grad_(True)
    lsl = lsl.double().requires_grad_(True)
    vit.embeddings.mask_token.requires_grad_(False)   # frozen (never used either)
    for p in vit.layernorm.parameters():              # the final LN is frozen (section 1)
        p.requires_grad_(False)
    img = torch.rand(B, 3, H, W, generator=gen) * 2 - 1
    img2 = torch.rand(B, 3, H, W, generator=gen) * 2 - 1
    R = VCFG["n_registers"]
    mask = tower["mask"].double()
    off = tower["off"].tolist()
    pos = tower["pos"].tolist()

    head_params = [p for h in heads.values() for p in h.parameters()]
    tr_named, tr_params = tower["trainables"]()
    decay_ids = {id(p) for p in tower["decay"]}
    vit_decay = ["patch_embeddings.projection.weight", "query.weight", "key.weight",
                 "value.weight", "output.dense.weight", "q_proj.weight", "k_proj.weight",
                 "v_proj.weight", "o_proj.weight", "fc1.weight", "fc2.weight"]
    for n, p in vit.named_parameters():
        if any(n.endswith(d) for d in vit_decay):
            decay_ids.add(id(p))
    decay_ids.add(id(proj))
    for h in heads.values():
        decay_ids.add(id(h.l1.weight))
        if h.hd:
            decay_ids.add(id(h.l2.weight))
    every = ([p for p in vit.parameters() if p.requires_grad] + [proj] + tr_params
             + head_params + [ls, lsl])
    seen, uniq = set(), []
    for p in every:
        if id(p) not in seen:
            seen.add(id(p))
            uniq.append(p)
    opt = torch.optim.AdamW(
        [{"params": [p for p in uniq if id(p) in decay_ids], "weight_decay": TRAIN["weight_decay"]},
         {"params": [p for p in uniq if id(p) not in decay_ids], "weight_decay": 0.0}],
        lr=TRAIN["lr"], betas=(TRAIN["beta1"], TRAIN["beta2"]), eps=TRAIN["eps"],
        foreach=False)

    def named_trainables(g=lambda p: p):
        out = vit_c_names(vit, proj, VCFG["depth"], g) + tower["trainables"](g)[0]
        for pre, h in heads.items():
            out += h.c_names(pre, g)
        return out + [("logit_scale", g(ls)), ("logit_scale_local", g(lsl))]

    dump = {}
    for step in range(TRAIN["steps"]):
        late = step >= TRAIN["late_step"]
        for pre in ("img_local.", "txt_local."):
            for p in heads[pre].parameters():
                p.requires_grad_(late)
        lsl.requires_grad_(late)
        opt.zero_grad(set_to_none=True)
        x = torch.cat([img, img2], 0).double() if late else img.double()
        o = vit(pixel_values=x, output_hidden_states=True)
        pooled = o.hidden_states[-1].mean(dim=1)
        v = F.normalize(pooled @ proj.T, dim=-1)
        feat = tower["features"]()
        tp = (feat * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
        t = F.normalize(heads["txt_proj."](tp), dim=-1)
        terms = [clip_loss(v[:B], t, ls)]
        if late:
            z = heads["simclr."](pooled)
            terms.append(ntxent(z[:B], z[B:]))
            terms.append(clip_loss(v[B:], t, ls))
            Np = o.last_hidden_state.shape[1] - 1 - R
            patches = o.last_hidden_state[:B, 1 + R:].reshape(B * Np, C)
            pn = F.normalize(heads["img_local."](patches), dim=-1).reshape(B, Np, E)
            sents = feat.reshape(B * T, Ct)[pos]
            sn = F.normalize(heads["txt_local."](sents), dim=-1)
            terms.append(sla(pn, sn, off, lsl))
        else:
            terms += [torch.zeros((), dtype=torch.float64)] * 3
        total = sum(terms)
        total.backward()
        dump[f"step{step}.loss"] = torch.stack([x.detach() for x in terms])
        if step < 2:
            for pre, h in heads.items():   # frozen or unused this step: no gradient
                if all(p.grad is None for p in h.parameters()):
                    continue
                for n, gr in h.c_names(pre, lambda p: p.grad):
                    dump[f"step{step}.grad.{n}"] = gr.detach().clone()
            for n, gr in vit_c_names(vit, proj, VCFG["depth"], lambda p: p.grad) + \
                    tower["trainables"](lambda p: p.grad)[0]:
                if gr is None:   # frozen (the final LN)
                    continue
                dump[f"step{step}.grad.{n}"] = gr.detach().clone()
            dump[f"step{step}.grad.logit_scale"] = ls.grad.detach().clone()
            if lsl.grad is not None:
                dump[f"step{step}.grad.logit_scale_local"] = lsl.grad.detach().clone()
        norm = torch.nn.utils.clip_grad_norm_([p for p in uniq if p.grad is not None],
                                              TRAIN["clip_norm"])
        dump[f"step{step}.grad_norm"] = norm.detach().reshape(1)
        lr = lr_at(step)
        dump[f"step{step}.lr"] = torch.tensor([lr])
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        with torch.no_grad():
            ls.clamp_(max=LN100)
            lsl.clamp_(max=LN100)
    for n, p in named_trainables():
        dump["final." + n] = p.detach().clone()
    for pre, h in heads.items():
        for n, s in h.stats(pre):
            dump["final.stats." + n] = s.detach().clone()

    tensors = dict(vit_weights)
    tensors.update(tower["weights"])
    tensors.update({"init." + k: v for k, v in init.items()})
    tensors.update({"in.img": img, "in.img2": img2, "in.ids": tower["ids"].to(torch.int32),
                    "in.mask": tower["mask"], "in.sent_pos": tower["pos"],
                    "in.sent_off": tower["off"]})
    tensors.update(dump)
    tensors = {k: (v.float() if v.is_floating_point() else v).contiguous()
               for k, v in tensors.items()}
    meta = dict(tower["meta"])
    meta["vision_config"] = json.dumps(VCFG)
    meta["train_config"] = json.dumps(TRAIN)
    meta["batch"] = json.dumps(dict(B=B, T=T, H=H, W=W))
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, f"train_{case}.safetensors")
    save_file(tensors, path, metadata=meta)
    print("wrote", path, "losses", [dump[f"step{k}.loss"].tolist() for k in range(3)])


if __name__ == "__main__":
    torch.set_num_threads(2)
    for c in sys.argv[1:] or ["gpt2", "bert"]:
        run(c)
