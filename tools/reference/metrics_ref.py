#!/usr/bin/env python3
"""metrics_ref.py: references for engine/train/metrics.c, from scikit-learn and numpy.

Writes tests/train/ref/metrics_ref.json: for each case the inputs (labels y and float32
probabilities prob, n x K) and what scikit-learn says: confusion_matrix, accuracy_score,
balanced_accuracy_score, roc_auc_score (binary; multiclass ovr macro), roc_curve
(drop_intermediate=False), and for binary cases recall/specificity/precision/NPV/f1_score
from sklearn, the RSNA probabilistic F1 (naive formula here) and specificity at 80%
sensitivity (max 1 - fpr over sklearn's roc_curve points with tpr >= 0.8). Bootstrap
intervals: the resample indices are drawn by a Python copy of engine/core/rng.c
(xoshiro256** seeded by splitmix64, rejection-sampled `below`), each resample scored by
sklearn, the interval numpy.percentile(., [2.5, 97.5]) over the defined resamples (AUC:
the mean of sklearn's per-class one-vs-rest AUCs over the classes present, a resample
with one class left out).
Needs numpy, scikit-learn (no torch). Run: python3 tools/reference/metrics_ref.py
"""
import json
import os

import numpy as np
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, confusion_matrix,
                             f1_score, precision_score, recall_score, roc_auc_score, roc_curve)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'tests', 'train', 'ref', 'metrics_ref.json')
M64 = (1 << 64) - 1


class Rng:
    """engine/core/rng.c, bit for bit."""

    def __init__(self, seed):
        x = seed & M64
        self.s = []
        for _ in range(4):
            self.s.append(self.mix(x))
            x = (x + 0x9e3779b97f4a7c15) & M64

    @staticmethod
    def mix(x):
        z = (x + 0x9e3779b97f4a7c15) & M64
        z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
        z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
        return z ^ (z >> 31)

    @staticmethod
    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def u64(self):
        s = self.s
        result = (self.rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self.rotl(s[3], 45)
        return result

    def below(self, n):
        limit = M64 - M64 % n
        while True:
            x = self.u64()
            if x < limit:
                return x % n


def auc_ovr(y, prob, K):
    if K == 2:
        return roc_auc_score(y, prob[:, 1]) if len(set(y)) == 2 else None
    vals = [roc_auc_score(y == c, prob[:, c]) for c in range(K) if 0 < (y == c).sum() < len(y)]
    return float(np.mean(vals)) if vals else None


def ratio(a, b):
    return a / b if b > 0 else None


def case(name, y, prob, n_boot, seed):
    y = np.asarray(y, dtype=np.int64)
    prob = np.asarray(prob, dtype=np.float32)
    n, K = prob.shape
    pred = prob.argmax(axis=1)  # first maximum on ties, as the C
    r = {'name': name, 'n': n, 'K': K, 'y': y.tolist(),
         'prob': [float(v) for v in prob.reshape(-1)],
         'confusion': confusion_matrix(y, pred, labels=list(range(K))).reshape(-1).tolist(),
         'accuracy': accuracy_score(y, pred),
         'balanced_accuracy': balanced_accuracy_score(y, pred),
         'n_boot': n_boot, 'seed': seed}
    p64 = prob.astype(np.float64)
    if K == 2:
        r['auc'] = roc_auc_score(y, p64[:, 1])
    else:
        r['auc'] = roc_auc_score(y, p64, multi_class='ovr', average='macro', labels=list(range(K)))
    if K == 2:
        s = p64[:, 1]
        fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
        r['roc_fpr'] = fpr.tolist()
        r['roc_tpr'] = tpr.tolist()
        cm = confusion_matrix(y, pred, labels=[0, 1])
        tn, fp, fn, tp = cm.ravel()
        r['sensitivity'] = recall_score(y, pred, zero_division=np.nan)
        r['specificity'] = recall_score(y, pred, pos_label=0, zero_division=np.nan)
        r['ppv'] = precision_score(y, pred, zero_division=np.nan)
        r['npv'] = precision_score(y, pred, pos_label=0, zero_division=np.nan)
        r['f1'] = f1_score(y, pred, zero_division=np.nan)
        pp = ratio((s * y).sum(), s.sum())
        pr = ratio((s * y).sum(), y.sum())
        r['prob_f1'] = ratio(2 * pp * pr, pp + pr) if pp is not None and pr is not None else None
        ok = tpr >= 0.8
        r['spec_at_sens80'] = float((1 - fpr[ok]).max())
        for k in ('sensitivity', 'specificity', 'ppv', 'npv', 'f1'):
            r[k] = None if np.isnan(r[k]) else float(r[k])
    rng = Rng(seed)
    ba, au = [], []
    for _ in range(n_boot):
        idx = np.array([rng.below(n) for _ in range(n)])
        yb, pb, qb = y[idx], pred[idx], p64[idx]
        present = sorted(set(yb.tolist()))
        # balanced accuracy over the classes present (sklearn warns for absent predicted ones)
        ba.append(float(np.mean([(pb[yb == c] == c).mean() for c in present])))
        a = auc_ovr(yb, qb, K)
        if a is not None:
            au.append(a)
    if n_boot:
        r['ba_lo'], r['ba_hi'] = np.percentile(ba, [2.5, 97.5]).tolist()
        r['auc_lo'], r['auc_hi'] = np.percentile(au, [2.5, 97.5]).tolist()
        r['auc_defined'] = len(au)
    return r


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main():
    g = np.random.default_rng(20261202)
    cases = []
    # binary, informative, with tied scores (rounded to 1/8)
    n = 60
    y = (g.random(n) < 0.35).astype(int)
    s = np.clip(np.round((0.3 + 0.35 * y + 0.25 * g.standard_normal(n)) * 8) / 8, 0, 1)
    cases.append(case('binary_ties', y, np.stack([1 - s, s], axis=1), 200, 7))
    # binary, rare positives (a resample with none is undefined for AUC)
    n = 25
    y = np.zeros(n, int)
    y[[3, 17]] = 1
    s = g.random(n) * 0.6
    s[3] = 0.9
    cases.append(case('binary_rare', y, np.stack([1 - s, s], axis=1), 300, 11))
    # binary, nothing predicted positive: PPV and F1 undefined
    n = 20
    y = (np.arange(n) % 4 == 0).astype(int)
    s = 0.1 + 0.3 * g.random(n)
    cases.append(case('binary_none_positive', y, np.stack([1 - s, s], axis=1), 0, 0))
    # 4 classes (density), informative logits
    n = 80
    y = g.integers(0, 4, n)
    z = g.standard_normal((n, 4)) + 1.5 * np.eye(4)[y]
    cases.append(case('four_class', y, softmax(z), 200, 3))
    # 7 classes (BI-RADS), imbalanced, one class small
    n = 120
    y = g.choice(7, size=n, p=[0.1, 0.4, 0.25, 0.1, 0.08, 0.05, 0.02])
    y[:2] = 6
    z = g.standard_normal((n, 7)) + 1.0 * np.eye(7)[y]
    cases.append(case('seven_class', y, softmax(z), 150, 5))
    with open(OUT, 'w') as f:
        json.dump({'generator': 'tools/reference/metrics_ref.py', 'cases': cases}, f, indent=0)
        f.write('\n')


if __name__ == '__main__':
    main()
