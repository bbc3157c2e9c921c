"""NLI data: the SNLI / MultiNLI JSONL format, and padded batches of sentence pairs.

SNLI (Bowman et al. 2015) and MultiNLI (Williams et al. 2018) ship one JSON
object per line with ``sentence1`` (premise), ``sentence2`` (hypothesis),
``gold_label`` (``entailment``, ``neutral``, ``contradiction``, or ``-`` when
the annotators did not agree; those pairs are skipped, as is usual) and,
usually, ``sentence1_binary_parse``/``sentence2_binary_parse``, whose
parenthesised parse gives the official tokenization.  ``load_nli_jsonl``
reads such a file; thalweg ships no NLI corpus (users with the files can
train ESIM on the real thing).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from thalweg.data.errors import DataError
from thalweg.data.text import BucketBatchSampler, Vocabulary, pad_sequences

__all__ = ["LABELS", "NLIData", "load_nli_jsonl", "nli_tokenize", "encode_pairs", "pair_batches"]

LABELS = ("entailment", "neutral", "contradiction")
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def nli_tokenize(text: str, *, parse: str | None = None, lower: bool = True) -> list[str]:
    """Tokens of a sentence: from its binary parse when given (brackets dropped), else words and punctuation."""
    if parse:
        tokens = [t for t in parse.replace("(", " ").replace(")", " ").split()]
    else:
        tokens = _TOKEN.findall(text)
    return [t.lower() for t in tokens] if lower else tokens


@dataclass
class NLIData:
    """Sentence pairs with labels (0 entailment, 1 neutral, 2 contradiction)."""

    premises: list[list[str]]
    hypotheses: list[list[str]]
    labels: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: Sequence[int]) -> "NLIData":
        idx = np.asarray(index, dtype=np.int64)
        return NLIData([self.premises[i] for i in idx], [self.hypotheses[i] for i in idx], self.labels[idx],
                       self.source)


def load_nli_jsonl(path: str | Path, *, max_examples: int | None = None, lower: bool = True) -> NLIData:
    """Read an SNLI / MultiNLI ``.jsonl`` file; pairs without a gold label (``"-"``) are skipped."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"load_nli_jsonl: no file at {p}")
    premises: list[list[str]] = []
    hypotheses: list[list[str]] = []
    labels: list[int] = []
    with open(p, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                label = rec["gold_label"]
                s1, s2 = rec["sentence1"], rec["sentence2"]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise DataError(f"load_nli_jsonl: {p} line {lineno} is not an NLI record with sentence1, "
                                f"sentence2 and gold_label ({type(e).__name__}: {e})") from None
            if label not in LABELS:
                if label == "-":
                    continue
                raise DataError(f"load_nli_jsonl: {p} line {lineno}: unknown gold_label {label!r} "
                                f"(expected one of {LABELS} or '-')")
            premises.append(nli_tokenize(s1, parse=rec.get("sentence1_binary_parse"), lower=lower))
            hypotheses.append(nli_tokenize(s2, parse=rec.get("sentence2_binary_parse"), lower=lower))
            labels.append(LABELS.index(label))
            if max_examples is not None and len(labels) >= max_examples:
                break
    return NLIData(premises, hypotheses, np.asarray(labels, dtype=np.int64), str(p))


def encode_pairs(data: NLIData, vocab: Vocabulary) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Id arrays of every premise and hypothesis."""
    return vocab.encode_all(data.premises), vocab.encode_all(data.hypotheses)


def pair_batches(premises: Sequence[np.ndarray], hypotheses: Sequence[np.ndarray], labels: np.ndarray, *,
                 batch_size: int, shuffle: bool = True, seed: int | None = None, padding_value: int = 0
                 ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Padded batches ``(premise, premise_lengths, hypothesis, hypothesis_lengths, labels)``.

    Batches are bucketed by premise length (:class:`thalweg.data.text.BucketBatchSampler`).
    """
    sampler = BucketBatchSampler([len(p) for p in premises], batch_size, shuffle=shuffle, seed=seed)
    for idx in sampler:
        a, la = pad_sequences([premises[i] for i in idx], padding_value=padding_value)
        b, lb = pad_sequences([hypotheses[i] for i in idx], padding_value=padding_value)
        yield a, la, b, lb, labels[idx]
