"""``thalweg_lab.nli``: natural-language inference with ESIM (Chen et al. 2017, arXiv:1609.06038).

* ``ESIM`` and its parts ``SoftAlignment``, ``Enhancement``, ``MaskedPooling``, ``BiLSTMEncoder``; the
  ``SentenceEncoder`` baseline (no cross-sentence attention)
* ``load_nli_jsonl``: the SNLI / MultiNLI JSONL format (thalweg ships no NLI corpus)
* ``make_inference_task``: a generated three-class task built from lexical relations, negation and word order
* ``pair_batches``: padded, length-bucketed batches of sentence pairs
"""

from thalweg_lab.nli.data import LABELS, NLIData, encode_pairs, load_nli_jsonl, nli_tokenize, pair_batches
from thalweg_lab.nli.modules import ESIM, BiLSTMEncoder, Enhancement, MaskedPooling, SentenceEncoder, SoftAlignment
from thalweg_lab.nli.synthetic import claim_tokens, label_of, make_inference_task, premise_tokens

__all__ = ["BiLSTMEncoder", "ESIM", "Enhancement", "LABELS", "MaskedPooling", "NLIData", "SentenceEncoder",
           "SoftAlignment", "claim_tokens", "encode_pairs", "label_of", "load_nli_jsonl", "make_inference_task",
           "nli_tokenize", "pair_batches", "premise_tokens"]
