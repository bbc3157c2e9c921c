"""Data the corpus scripts would download, made locally instead.

``write_cora``: a citation-graph dataset in Cora's file format (``cora.content``: id, binary features,
class name; ``cora.cites``: cited, citing), with class-dependent features and mostly within-class edges, so
that a graph network has something to learn. ``split_text``: a text file cut into the train/valid/test
files of a word-level language-model corpus.
"""

from pathlib import Path

import numpy as np


def write_cora(path="./cora", n_nodes=2000, n_features=300, n_classes=7, n_edges=5000, seed=0):
    rng = np.random.default_rng(seed)
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    labels = rng.integers(0, n_classes, n_nodes)
    prototypes = rng.random((n_classes, n_features)) < 0.05
    noise = rng.random((n_nodes, n_features)) < 0.01
    keep = rng.random((n_nodes, n_features)) < 0.6
    feats = (prototypes[labels] & keep) | noise
    ids = rng.choice(10**6, n_nodes, replace=False) + 1000
    names = [f"Class_{c}" for c in range(n_classes)]
    with open(out / "cora.content", "w") as f:
        for i in range(n_nodes):
            f.write(f"{ids[i]}\t" + "\t".join(map(str, feats[i].astype(int))) + f"\t{names[labels[i]]}\n")
    edges = set()
    while len(edges) < n_edges:
        a = int(rng.integers(n_nodes))
        same = np.flatnonzero(labels == labels[a]) if rng.random() < 0.8 else np.arange(n_nodes)
        b = int(rng.choice(same))
        if a != b:
            edges.add((a, b))
    with open(out / "cora.cites", "w") as f:
        for a, b in sorted(edges):
            f.write(f"{ids[a]}\t{ids[b]}\n")


def split_text(source, folder, fractions=(0.8, 0.1, 0.1)):
    lines = Path(source).read_text(encoding="utf-8").splitlines()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    n = len(lines)
    a, b = int(fractions[0] * n), int((fractions[0] + fractions[1]) * n)
    for name, part in (("train.txt", lines[:a]), ("valid.txt", lines[a:b]), ("test.txt", lines[b:])):
        (out / name).write_text("\n".join(part) + "\n", encoding="utf-8")
