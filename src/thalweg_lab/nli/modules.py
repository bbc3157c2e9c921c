"""ESIM, the Enhanced Sequential Inference Model, and its parts as ``nn`` modules.

Chen, Zhu, Ling, Wei, Jiang and Inkpen (2017), "Enhanced LSTM for Natural
Language Inference", ACL, arXiv:1609.06038.  Given a premise ``a`` (length
``la``) and a hypothesis ``b`` (length ``lb``), ESIM decides entailment,
neutral or contradiction in three steps.  (The seed text holds only the
paper's results and ablation sections; the equations below are the
published model.)

1. Input encoding: a BiLSTM over each sentence's word vectors gives
   ``a_i`` and ``b_j`` (the same BiLSTM for both sentences).
2. Local inference: soft alignment (``SoftAlignment``) with scores
   ``e_ij = a_i . b_j``; each premise word gathers the hypothesis words it
   aligns with, ``a~_i = sum_j softmax_j(e_ij) b_j``, and each hypothesis
   word the premise words, ``b~_j = sum_i softmax_i(e_ij) a_i`` (padding
   excluded from each softmax).  Enhancement (``Enhancement``) concatenates
   ``m_a = [a; a~; a - a~; a * a~]`` (and ``m_b`` likewise): the difference and
   the product make contradictions and agreements easy to read.
3. Inference composition: a one-layer ReLU feed-forward ``F`` projects
   ``m`` back to the hidden size, a second BiLSTM composes it, and pooling
   (``MaskedPooling``) takes the average and the maximum over real tokens of
   both sentences, ``v = [v_a,avg; v_a,max; v_b,avg; v_b,max]``, fed to an MLP
   with one tanh hidden layer and a softmax output.

Defaults are the paper's settings: 300-d word vectors and hidden states,
dropout 0.5 (here on the word vectors, before ``F`` and in the classifier);
the paper trains with Adam at learning rate 0.0004 and batches of 32
(``ESIM.PAPER_SETTINGS``).

Ablation switches (the paper's Table 2): ``enhancement=False`` keeps only
``[a; a~]`` (no difference and product); ``pooling="sum"`` replaces average
and max pooling with a sum over time (as in Parikh et al. 2016);
``attention="uniform"`` replaces the alignment weights with a uniform
average over the other sentence, so nothing is aligned.  The
``SentenceEncoder`` baseline encodes each sentence on its own (BiLSTM, average
and max pooling) and classifies ``[u; v; |u - v|; u * v]``: no attention at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from thalweg.autograd.tensor import Tensor
from thalweg.nn.container import Sequential
from thalweg.nn.dropout import Dropout
from thalweg.nn.activation import ReLU, Tanh
from thalweg.nn.linear import Linear
from thalweg.nn.module import Module
from thalweg.nn.recurrent import LSTM
from thalweg.nn.sparse import Embedding
from thalweg.ops import api as _api

__all__ = ["SoftAlignment", "Enhancement", "MaskedPooling", "BiLSTMEncoder", "ESIM", "SentenceEncoder",
           "NEG_INF"]

NEG_INF = -1e9  # added to padded positions' scores before a softmax or a max: exp(-1e9) is 0 in float32


def _mask_array(name: str, mask: Any, batch: int, length: int) -> np.ndarray:
    m = np.asarray(mask.array if isinstance(mask, Tensor) else mask).astype(bool)
    if m.shape != (batch, length):
        raise ValueError(f"{name}: mask must have shape ({batch}, {length}) (batch, tokens), got {m.shape}")
    if m.size and not m.any(axis=1).all():
        raise ValueError(f"{name}: every sequence needs at least one real token (a mask row is all False)")
    return m


class SoftAlignment(Module):
    """Soft alignment of two sequences: ``forward(a, b, mask_a, mask_b) -> (a~, b~)``.

    ``a``: ``(B, la, d)``, ``b``: ``(B, lb, d)``, masks True at real tokens.
    ``e = a b^T``; ``a~ = softmax_over_b(e) b``, ``b~ = softmax_over_a(e)^T a``.
    ``uniform=True`` (the "no attention" ablation) uses equal weights over the
    other sentence's real tokens instead of ``softmax(e)``.
    The weights of the last call stay in ``self.last_weights`` (premise to
    hypothesis, ``(B, la, lb)``) for plotting.
    """

    def __init__(self, *, uniform: bool = False) -> None:
        super().__init__()
        self.uniform = bool(uniform)
        self.last_weights: np.ndarray | None = None

    def forward(self, a: Tensor, b: Tensor, mask_a: Any, mask_b: Any) -> tuple[Tensor, Tensor]:
        if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[2]:
            raise ValueError(f"SoftAlignment: expected a (B, la, d) and b (B, lb, d), got {tuple(a.shape)} and "
                             f"{tuple(b.shape)}")
        ma = _mask_array("SoftAlignment", mask_a, a.shape[0], a.shape[1])
        mb = _mask_array("SoftAlignment", mask_b, b.shape[0], b.shape[1])
        if self.uniform:
            e = Tensor(np.zeros((a.shape[0], a.shape[1], b.shape[1]), dtype=a.dtype))
        else:
            e = a @ b.transpose(1, 2)  # (B, la, lb)
        w_ab = _api.softmax(_api.masked_fill(e, ~mb[:, None, :], NEG_INF), axis=2)  # premise word -> hypothesis
        w_ba = _api.softmax(_api.masked_fill(e, ~ma[:, :, None], NEG_INF), axis=1)  # hypothesis word -> premise
        self.last_weights = w_ab.array
        return w_ab @ b, w_ba.transpose(1, 2) @ a


class Enhancement(Module):
    """``[x; x~; x - x~; x * x~]`` on the last axis (``full=False``: just ``[x; x~]``, the ablation)."""

    def __init__(self, *, full: bool = True) -> None:
        super().__init__()
        self.full = bool(full)

    @property
    def factor(self) -> int:
        """How many times the input width the output is (4, or 2 without the difference and product)."""
        return 4 if self.full else 2

    def forward(self, x: Tensor, x_tilde: Tensor) -> Tensor:
        if tuple(x.shape) != tuple(x_tilde.shape):
            raise ValueError(f"Enhancement: x and x~ must have one shape, got {tuple(x.shape)} and "
                             f"{tuple(x_tilde.shape)}")
        parts = [x, x_tilde, x - x_tilde, x * x_tilde] if self.full else [x, x_tilde]
        return _api.cat(parts, axis=-1)


class MaskedPooling(Module):
    """Pool ``(B, L, d)`` over real tokens: ``"avgmax"`` -> ``[mean; max]`` (2d), ``"sum"`` -> sum (d)."""

    MODES = ("avgmax", "sum")

    def __init__(self, mode: str = "avgmax") -> None:
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f"MaskedPooling: mode must be one of {self.MODES}, got {mode!r}")
        self.mode = mode

    @property
    def factor(self) -> int:
        return 2 if self.mode == "avgmax" else 1

    def forward(self, x: Tensor, mask: Any) -> Tensor:
        if x.ndim != 3:
            raise ValueError(f"MaskedPooling: expected (B, L, d), got {tuple(x.shape)}")
        m = _mask_array("MaskedPooling", mask, x.shape[0], x.shape[1])
        w = Tensor(m[:, :, None].astype(x.dtype))
        total = (x * w).sum(axis=1)
        if self.mode == "sum":
            return total
        mean = total / Tensor(m.sum(axis=1, keepdims=True).astype(x.dtype))
        biggest = _api.masked_fill(x, ~m[:, :, None], NEG_INF).max(axis=1)
        return _api.cat([mean, biggest], axis=1)


class BiLSTMEncoder(Module):
    """A batch-first bidirectional LSTM that skips padding: ``(B, L, d_in), lengths -> (B, L, 2 * hidden)``."""

    def __init__(self, input_size: int, hidden_size: int, *, dtype: Any = None) -> None:
        super().__init__()
        self.lstm = LSTM(input_size, hidden_size, batch_first=True, bidirectional=True, dtype=dtype)

    def forward(self, x: Tensor, lengths: Any) -> Tensor:
        out, _ = self.lstm(x, lengths=lengths)
        return out


def _lengths_mask(lengths: Any, width: int) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.asarray(lengths.array if isinstance(lengths, Tensor) else lengths, dtype=np.int64)
    return lengths, np.arange(width)[None, :] < lengths[:, None]


class ESIM(Module):
    """``ESIM(vocab_size, embedding_dim=300, hidden_size=300, num_classes=3, *, dropout=0.5, ...)``.

    ``forward(premise, premise_lengths, hypothesis, hypothesis_lengths)`` takes
    padded id arrays ``(B, la)``, ``(B, lb)`` and their lengths and returns
    logits ``(B, num_classes)``.  Options: ``padding_idx`` (default 0, the
    ``Vocabulary``'s), ``enhancement``, ``pooling`` and ``attention`` (the
    ablations, module docstring), ``embedding`` (an ``Embedding`` to use, e.g.
    pretrained vectors from ``thalweg.data.text.load_pretrained_embedding``).
    """

    PAPER_SETTINGS = {"embedding_dim": 300, "hidden_size": 300, "dropout": 0.5, "lr": 4e-4, "batch_size": 32,
                      "optimizer": "Adam"}

    def __init__(self, vocab_size: int, embedding_dim: int = 300, hidden_size: int = 300, num_classes: int = 3, *,
                 dropout: float = 0.5, padding_idx: int | None = 0, enhancement: bool = True,
                 pooling: str = "avgmax", attention: str = "soft", embedding: Embedding | None = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if attention not in ("soft", "uniform"):
            raise ValueError(f"ESIM: attention must be 'soft' or 'uniform', got {attention!r}")
        if embedding is not None:
            self.embedding = embedding
            embedding_dim = embedding.embedding_dim
        else:
            self.embedding = Embedding(vocab_size, embedding_dim, padding_idx=padding_idx, dtype=dtype)
        self.drop = Dropout(dropout)
        self.encoder = BiLSTMEncoder(embedding_dim, hidden_size, dtype=dtype)
        self.align = SoftAlignment(uniform=attention == "uniform")
        self.enhance = Enhancement(full=enhancement)
        self.project = Sequential(Linear(self.enhance.factor * 2 * hidden_size, hidden_size, dtype=dtype), ReLU())
        self.composer = BiLSTMEncoder(hidden_size, hidden_size, dtype=dtype)
        self.pool = MaskedPooling(pooling)
        pooled = 2 * self.pool.factor * 2 * hidden_size  # two sentences x (avg, max) x two directions
        self.classifier = Sequential(Dropout(dropout), Linear(pooled, hidden_size, dtype=dtype), Tanh(),
                                     Dropout(dropout), Linear(hidden_size, num_classes, dtype=dtype))

    def forward(self, premise: Any, premise_lengths: Any, hypothesis: Any, hypothesis_lengths: Any) -> Tensor:
        premise, hypothesis = np.asarray(premise), np.asarray(hypothesis)
        la, ma = _lengths_mask(premise_lengths, premise.shape[1])
        lb, mb = _lengths_mask(hypothesis_lengths, hypothesis.shape[1])
        a = self.encoder(self.drop(self.embedding(premise)), la)
        b = self.encoder(self.drop(self.embedding(hypothesis)), lb)
        a_tilde, b_tilde = self.align(a, b, ma, mb)
        va = self.composer(self.project(self.drop(self.enhance(a, a_tilde))), la)
        vb = self.composer(self.project(self.drop(self.enhance(b, b_tilde))), lb)
        v = _api.cat([self.pool(va, ma), self.pool(vb, mb)], axis=1)
        return self.classifier(v)


class SentenceEncoder(Module):
    """The no-attention baseline: each sentence encoded alone, then ``[u; v; |u - v|; u * v]`` -> MLP.

    The same embedding, BiLSTM and average/max pooling as ESIM's input
    encoding, so the difference in accuracy measures what cross-sentence
    attention (and the later layers) add.  Same ``forward`` as :class:`ESIM`.
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 300, hidden_size: int = 300, num_classes: int = 3, *,
                 dropout: float = 0.5, padding_idx: int | None = 0, dtype: Any = None) -> None:
        super().__init__()
        self.embedding = Embedding(vocab_size, embedding_dim, padding_idx=padding_idx, dtype=dtype)
        self.drop = Dropout(dropout)
        self.encoder = BiLSTMEncoder(embedding_dim, hidden_size, dtype=dtype)
        self.pool = MaskedPooling("avgmax")
        width = 4 * 4 * hidden_size  # [u; v; |u-v|; u*v], each 2 (avg, max) x 2 directions x hidden
        self.classifier = Sequential(Dropout(dropout), Linear(width, hidden_size, dtype=dtype), Tanh(),
                                     Dropout(dropout), Linear(hidden_size, num_classes, dtype=dtype))

    def forward(self, premise: Any, premise_lengths: Any, hypothesis: Any, hypothesis_lengths: Any) -> Tensor:
        premise, hypothesis = np.asarray(premise), np.asarray(hypothesis)
        la, ma = _lengths_mask(premise_lengths, premise.shape[1])
        lb, mb = _lengths_mask(hypothesis_lengths, hypothesis.shape[1])
        u = self.pool(self.encoder(self.drop(self.embedding(premise)), la), ma)
        v = self.pool(self.encoder(self.drop(self.embedding(hypothesis)), lb), mb)
        return self.classifier(_api.cat([u, v, _api.abs(u - v), u * v], axis=1))
