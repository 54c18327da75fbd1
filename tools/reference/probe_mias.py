#!/usr/bin/env python3
"""probe_mias.py: do the real DINOv2-S features behave like features? A linear probe
(standardised features, L2 logistic regression, C picked by an inner patient-grouped 3-fold
search) on the frozen pooled features of the 322 MIAS films, for density (F / G / D) and
normal vs abnormal, with patient-level 5-fold cross-validation (the two films of a woman,
mdb(2k-1) and mdb(2k), always in the same fold), for each feature directory given.

usage: probe_mias.py INFO.txt NAME=FEATURE_DIR [NAME=FEATURE_DIR ...]
  FEATURE_DIR holds `mama features` output (images_mdbNNN.safetensors, tensor "pooled").
Research script (scikit-learn, in a venv); not part of the build or CI.

Make the inputs (docs/vision.md):
  mama model-init --out real.safetensors --image-tower var/weights/dinov2-small
  mama model-init --out rand.safetensors --config small --seed 1
  mama features ../shared/data/mias/images/*.png --model real.safetensors --out f_real --image-size 224
  (same for rand), then: probe_mias.py ../shared/data/mias/Info.txt real=f_real random=f_rand"""
import json
import os
import re
import struct
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def read_labels(info):
    """ref -> (tissue F/G/D, abnormal 0/1); a film with several lines is abnormal if any is."""
    out = {}
    for line in open(info, errors="replace"):
        m = re.match(r"^(mdb\d{3})\s+([FGD])\s+(\w+)", line)
        if m:
            ref, tissue, cls = m.groups()
            ab = int(cls != "NORM")
            prev = out.get(ref)
            out[ref] = (tissue, max(ab, prev[1]) if prev else ab)
    return out


def pooled(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    a, b = h["pooled"]["data_offsets"]
    return np.frombuffer(data[a:b], dtype="<f4").astype(np.float64)


def probe(X, y, groups, multiclass):
    outer = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0)
    proba = np.zeros((len(y), len(np.unique(y))))
    for tr, te in outer.split(X, y, groups):
        pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        search = GridSearchCV(pipe, {"logisticregression__C": [1e-3, 1e-2, 1e-1, 1.0]},
                              cv=GroupKFold(n_splits=3), scoring="balanced_accuracy")
        search.fit(X[tr], y[tr], groups=groups[tr])
        proba[te] = search.predict_proba(X[te])
    pred = proba.argmax(1)
    bacc = balanced_accuracy_score(y, pred)
    auc = roc_auc_score(y, proba, multi_class="ovr", average="macro") if multiclass else roc_auc_score(y, proba[:, 1])
    return bacc, auc


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    labels = read_labels(sys.argv[1])
    refs = sorted(labels)
    groups = np.array([(int(r[3:]) + 1) // 2 for r in refs])
    dens = np.array(["FGD".index(labels[r][0]) for r in refs])
    abn = np.array([labels[r][1] for r in refs])
    print("MIAS: %d films, %d women; density F/G/D %s; abnormal %d / normal %d"
          % (len(refs), len(set(groups)), np.bincount(dens).tolist(), abn.sum(), (1 - abn).sum()))
    print("%-10s %-22s %-9s %s" % ("tower", "task", "bal.acc", "AUC (macro one-vs-rest for density)"))
    for arg in sys.argv[2:]:
        name, d = arg.split("=", 1)
        X = np.stack([pooled(os.path.join(d, "images_%s.safetensors" % r)) for r in refs])
        for task, y, mc in (("density F/G/D", dens, True), ("normal vs abnormal", abn, False)):
            bacc, auc = probe(X, y, groups, mc)
            print("%-10s %-22s %-9.3f %.3f" % (name, task, bacc, auc))
    print("chance: balanced accuracy 0.333 (density), 0.500 (abnormal); AUC 0.500")


if __name__ == "__main__":
    main()
