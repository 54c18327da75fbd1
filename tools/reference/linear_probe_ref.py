#!/usr/bin/env python3
"""linear_probe_ref.py: PyTorch reference for engine/train/linear_probe.c (lp_step,
lp_lr_at, lp_predict).

A zero-initialised nn.Linear-layout head (W (K,D), b (K)) trained by torch.optim.SGD
(momentum 0.9, weight decay on W only: two parameter groups) on F.cross_entropy of given
index batches, the learning rate of each step from the warm-up + cosine formula written
here. Writes tests/train/ref/linear_probe_ref.json: inputs (X float32, y, batches), the
schedule, per step the loss before the update and W, b after it, and softmax probabilities
of every sample after the last step.
Needs torch, numpy. Run: <venv with torch>/bin/python tools/reference/linear_probe_ref.py
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'tests', 'train', 'ref', 'linear_probe_ref.json')


def lr_at(step, steps, warmup, lr, lr_min):
    if step < warmup:
        return lr * (step + 1) / warmup
    t = (step - warmup) / (steps - warmup)
    return lr_min + (lr - lr_min) * 0.5 * (1 + math.cos(math.pi * t))


def main():
    g = np.random.default_rng(11)
    n, D, K, B, steps, warmup = 24, 6, 3, 5, 7, 2
    lr, lr_min, wd, mom = 0.5, 0.01, 0.05, 0.9
    y = g.integers(0, K, n)
    X = (g.standard_normal((n, D)) + 1.2 * np.eye(K, D)[y]).astype(np.float32)
    batches = g.integers(0, n, (steps, B))
    W = torch.zeros(K, D, requires_grad=True)
    b = torch.zeros(K, requires_grad=True)
    opt = torch.optim.SGD([{'params': [W], 'weight_decay': wd}, {'params': [b], 'weight_decay': 0.0}],
                          lr=lr, momentum=mom)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    out = {'generator': 'tools/reference/linear_probe_ref.py', 'n': n, 'D': D, 'K': K, 'B': B,
           'steps': steps, 'warmup': warmup, 'lr': lr, 'lr_min': lr_min, 'weight_decay': wd,
           'momentum': mom, 'X': [float(v) for v in X.reshape(-1)], 'y': y.tolist(),
           'batches': batches.reshape(-1).tolist(), 'lrs': [], 'loss': [], 'W': [], 'b': []}
    for s in range(steps):
        r = lr_at(s, steps, warmup, lr, lr_min)
        for grp in opt.param_groups:
            grp['lr'] = r
        idx = torch.from_numpy(batches[s])
        loss = F.cross_entropy(Xt[idx] @ W.T + b, yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        out['lrs'].append(r)
        out['loss'].append(loss.item())
        out['W'].append(W.detach().reshape(-1).tolist())
        out['b'].append(b.detach().tolist())
    with torch.no_grad():
        out['probs'] = torch.softmax(Xt @ W.T + b, dim=1).reshape(-1).tolist()
    with open(OUT, 'w') as f:
        json.dump(out, f)
        f.write('\n')


if __name__ == '__main__':
    main()
