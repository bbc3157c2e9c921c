"""The SNLI/MultiNLI JSONL loader on a fixture, and the generated inference task's logic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from thalweg.data import DataError
from thalweg.data.text import Vocabulary
from thalweg_lab.nli import LABELS, encode_pairs, load_nli_jsonl, make_inference_task, pair_batches
from thalweg_lab.nli.synthetic import ADJECTIVES, NOUNS, VERBS, Claim, Fact, claim_tokens, label_of, premise_tokens


def test_load_nli_jsonl_reads_snli_records_and_skips_unlabelled_pairs(tmp_path: Path) -> None:
    records = [
        {"gold_label": "entailment", "sentence1": "A man sleeps.", "sentence2": "A person rests.",
         "sentence1_binary_parse": "( ( A man ) ( sleeps . ) )", "sentence2_binary_parse": "( ( A person ) rests . )"},
        {"gold_label": "-", "sentence1": "x", "sentence2": "y"},
        {"gold_label": "contradiction", "sentence1": "Dogs don't bark!", "sentence2": "Dogs bark."},
    ]
    p = tmp_path / "snli_1.0_dev.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    d = load_nli_jsonl(p)
    assert len(d) == 2 and d.labels.tolist() == [LABELS.index("entailment"), LABELS.index("contradiction")]
    assert d.premises[0] == ["a", "man", "sleeps", "."] and d.hypotheses[0] == ["a", "person", "rests", "."]
    assert d.premises[1] == ["dogs", "don", "'", "t", "bark", "!"]
    assert len(load_nli_jsonl(p, max_examples=1)) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"gold_label": "maybe", "sentence1": "a", "sentence2": "b"}) + "\n")
    with pytest.raises(DataError, match="unknown gold_label"):
        load_nli_jsonl(bad)
    bad.write_text("{not json\n")
    with pytest.raises(DataError, match="line 1"):
        load_nli_jsonl(bad)


def _n(word: str) -> int:
    return NOUNS.index(word)


def _v(word: str) -> int:
    return [v[0] for v in VERBS].index(word)


FACTS = [Fact(_n("man"), ADJECTIVES.index("tall"), _v("loves"), _n("dog")),
         Fact(_n("girl"), None, _v("pushes"), _n("cat"))]


def _claim(s: str, o: str, verb: str, *, neg: bool = False, adj: str | None = None, sg: bool = False,
           og: bool = False, passive: bool = False) -> Claim:
    return Claim(_n(s), sg, None if adj is None else ADJECTIVES.index(adj), neg, _v(verb), _n(o), og, passive)


@pytest.mark.parametrize("claim,label", [
    (_claim("man", "dog", "loves"), "entailment"),
    (_claim("man", "dog", "loves", sg=True, og=True), "entailment"),           # a person loves an animal
    (_claim("man", "dog", "loves", adj="tall", passive=True), "entailment"),  # the dog is loved by the tall man
    (_claim("man", "dog", "hates", neg=True), "entailment"),                  # loving excludes hating
    (_claim("man", "dog", "hates"), "contradiction"),
    (_claim("man", "dog", "loves", neg=True), "contradiction"),
    (_claim("man", "cat", "loves", adj="short"), "contradiction"),            # the man is tall
    (_claim("dog", "man", "loves"), "neutral"),                               # swapped roles
    (_claim("man", "cat", "loves"), "neutral"),                               # the premise does not relate them
    (_claim("man", "dog", "hates", sg=True), "neutral"),                      # some other person may hate it
    (_claim("man", "dog", "loves", adj="happy"), "neutral"),                  # compatible, not stated
    (_claim("woman", "dog", "loves"), "neutral"),                             # a woman is not mentioned
])
def test_labels_follow_the_worlds_logic(claim: Claim, label: str) -> None:
    assert LABELS[label_of(FACTS, claim)] == label


def test_surface_forms_of_premises_and_claims() -> None:
    assert " ".join(premise_tokens(FACTS)) == "the tall man loves the dog and the girl pushes the cat ."
    assert " ".join(claim_tokens(_claim("man", "dog", "hates", neg=True))) == "the man does not hate the dog ."
    assert " ".join(claim_tokens(_claim("man", "dog", "loves", passive=True, sg=True, og=True, adj="tall"))) == \
        "an animal is loved by a tall person ."


def test_the_generated_task_is_balanced_seeded_and_batches_cleanly() -> None:
    d = make_inference_task(90, seed=5)
    assert np.bincount(d.labels).tolist() == [30, 30, 30]
    again = make_inference_task(90, seed=5)
    assert again.hypotheses == d.hypotheses and make_inference_task(90, seed=6).hypotheses != d.hypotheses
    negated = [LABELS[y] for h, y in zip(d.hypotheses, d.labels) if "not" in h]
    assert len(set(negated)) >= 2  # "not" alone does not give the label away
    vocab = Vocabulary.build(d.premises + d.hypotheses)
    p, h = encode_pairs(d, vocab)
    seen = 0
    for a, la, b, lb, y in pair_batches(p, h, d.labels, batch_size=16, seed=0):
        assert a.shape[0] == b.shape[0] == len(la) == len(y) and (a[:, :la.min()] != 0).all()
        seen += len(y)
    assert seen == 90
    with pytest.raises(ValueError, match="n_facts"):
        make_inference_task(10, n_facts=9)
