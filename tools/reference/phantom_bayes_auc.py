#!/usr/bin/env python3
"""phantom_bayes_auc.py DIR: the best malignancy AUC any classifier can reach on a
`mama phantom` folder, from the generator's own probabilities.

The generator (tools/phantom/phantom_case.c) draws each finding's malignancy as
Bernoulli(sigmoid(s + 0.8 z)), z ~ N(0, 1), with s its suspicion score, and records
p_malignant = sigmoid(s). The Bayes-optimal score of a breast given everything the
generator knows is P(some finding malignant) = 1 - prod_i (1 - q(s_i)), with
q(s) = E_z[sigmoid(s + 0.8 z)] (Gauss-Hermite, 40 nodes); a breast without findings is
never malignant (score 0). Per image (the unit `mama eval` scores), the AUC of that score
against the manifest's cancer column is the bound. Plain Python, no dependencies.
"""
import csv
import math
import sys
from collections import defaultdict


def q_of(p):
    s = math.log(p / (1 - p)) if 0 < p < 1 else (40 if p >= 1 else -40)
    # E[sigmoid(s + 0.8 z)] by probabilists' Gauss-Hermite via a fine midpoint rule on z
    n, lo, hi = 400, -6.0, 6.0
    h = (hi - lo) / n
    tot = 0.0
    for k in range(n):
        z = lo + (k + 0.5) * h
        tot += math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) / (1 + math.exp(-(s + 0.8 * z))) * h
    return tot


def auc(scores, labels):
    pairs = sorted(zip(scores, labels), key=lambda t: -t[0])
    npos = sum(labels)
    nneg = len(labels) - npos
    wins = seen_pos = 0.0
    i = 0
    while i < len(pairs):
        j = i
        rp = rn = 0
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            rp += pairs[j][1]
            rn += 1 - pairs[j][1]
            j += 1
        wins += rn * seen_pos + 0.5 * rn * rp
        seen_pos += rp
        i = j
    return wins / (npos * nneg)


def main():
    d = sys.argv[1]
    breast = defaultdict(list)
    for r in csv.DictReader(open(d + '/phantom_findings.csv')):
        breast[(r['acc_anon'], r['side'])].append(float(r['p_malignant']))
    scores, labels = [], []
    for r in csv.DictReader(open(d + '/manifest.csv')):
        ps = breast.get((r['accession'], r['laterality']), [])
        s = 1 - math.prod(1 - q_of(p) for p in ps) if ps else 0.0
        scores.append(s)
        labels.append(int(r['cancer']))
    print('images %d, cancer %d, Bayes-bound malignancy AUC %.4f' % (len(labels), sum(labels), auc(scores, labels)))


if __name__ == '__main__':
    main()
