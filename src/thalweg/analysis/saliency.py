"""First-derivative saliency and variance salience of the tokens of a text model.

Li, Chen, Hovy and Jurafsky (2016), "Visualizing and Understanding Neural
Models in NLP", NAACL, arXiv:1506.01066, Sections 5 and 6.

First-derivative saliency (Section 5).  A classifier gives the input's word
embeddings ``E`` (one vector ``e_t`` per token) a score ``S_c(E)`` for class
``c``.  Near ``E`` it is approximately linear, ``S_c(E) ~ w^T E + b`` with
``w = dS_c/dE`` (eq. 1-2), so the magnitude ``|w|`` says how much a small
change of each dimension of each token's vector moves the decision: the
saliency ``S(e) = |dS_c/de|`` (eq. 3).  The paper draws it as a heat map
(tokens x dimensions) and compares tokens by its size; here a token's
saliency is the norm of its gradient row (``norm="l2"``; ``"l1"``/``"max"``
also offered).  The score is the class score (``score="logit"``, eq. 2, the
default), or the loss of the gold class (``score="loss"``, the paper's
Section 5.1 wording), or any function of the model's output.

How the gradient is taken: the model's ``nn.Embedding`` gets a forward hook
for the duration of the call that replaces its output by a fresh leaf tensor
holding the same vectors; after ``backward()`` that leaf's ``.grad`` is
``dS/dE``.  The model runs in eval mode (no dropout), the scores of the batch
are summed (examples do not interact in eval mode, so each example's rows of
the gradient are its own), and the parameters' ``.grad`` are restored
afterwards, so calling this in the middle of training changes nothing.

Variance salience (Section 6): for embeddings learned from scratch, a
token's deviation from the sentence's average embedding,
``||e_t - mean_s e_s||^2``, per dimension squared or summed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..autograd.tensor import Tensor
from ..nn.module import Module
from ..nn.sparse import Embedding

__all__ = ["SaliencyResult", "saliency", "variance_salience", "find_embedding", "draw_saliency"]

_NORMS = ("l2", "l1", "max")


@dataclass
class SaliencyResult:
    """What :func:`saliency` measured.

    Attributes:
        gradient: ``dS/dE`` for the embedding's (first) call, ``ids.shape + (dim,)``.
        token_saliency: one number per token, the ``norm`` of its gradient row.
        magnitude: ``|gradient|``, the paper's heat map (tokens x dimensions).
        output: the model's output (logits) for the inputs, as an array.
        gradients: one gradient per call of the embedding during the forward
            pass (a model reading two sentences, such as ESIM, calls it twice).
    """

    gradient: np.ndarray
    token_saliency: np.ndarray
    output: np.ndarray
    gradients: list[np.ndarray]

    @property
    def magnitude(self) -> np.ndarray:
        return np.abs(self.gradient)

    def top_token(self, lengths: Any = None) -> np.ndarray:
        """Index of the most salient token of each sequence (padding after ``lengths`` excluded)."""
        s = np.array(self.token_saliency, dtype=np.float64, copy=True)
        if lengths is not None:
            s[np.arange(s.shape[-1])[None, :] >= np.asarray(lengths)[:, None]] = -np.inf
        return s.argmax(axis=-1)


def find_embedding(model: Module, embedding: Embedding | str | None = None) -> Embedding:
    """The model's ``nn.Embedding``: the one given (module or submodule name), else its only one."""
    if isinstance(embedding, Embedding):
        return embedding
    if isinstance(embedding, str):
        found = model.get_submodule(embedding)
        if not isinstance(found, Embedding):
            raise TypeError(f"saliency: submodule {embedding!r} is a {type(found).__name__}, not an Embedding")
        return found
    if embedding is not None:
        raise TypeError(f"saliency: embedding must be an Embedding, a submodule name or None, got "
                        f"{type(embedding).__name__}")
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, Embedding)]
    if len(found) != 1:
        names = ", ".join(n or "<model>" for n, _ in found) or "none"
        raise ValueError(f"saliency: the model must hold exactly one nn.Embedding, or pass embedding=; found {names}")
    return found[0][1]


def _token_norm(g: np.ndarray, norm: str) -> np.ndarray:
    if norm == "l2":
        return np.sqrt(np.sum(np.square(g), axis=-1))
    if norm == "l1":
        return np.sum(np.abs(g), axis=-1)
    return np.max(np.abs(g), axis=-1)


def _score(output: Tensor, target: Any, score: str | Callable[[Tensor, Any], Tensor]) -> Tensor:
    if callable(score):
        s = score(output, target)
        if not isinstance(s, Tensor) or s.array.size != 1:
            raise ValueError("saliency: a score function must return a scalar Tensor")
        return s.reshape(())
    if output.ndim != 2:
        raise ValueError(f"saliency: score={score!r} needs (batch, classes) outputs, got shape {tuple(output.shape)}; "
                         "pass a score function for other outputs")
    t = np.asarray(target.array if isinstance(target, Tensor) else target, dtype=np.int64).reshape(-1)
    if t.size == 1 and output.shape[0] != 1:
        t = np.full(output.shape[0], int(t[0]))
    if t.shape != (output.shape[0],):
        raise ValueError(f"saliency: target must be one class per example ({output.shape[0]}), got shape {t.shape}")
    if t.min() < 0 or t.max() >= output.shape[1]:
        raise ValueError(f"saliency: target classes must lie in [0, {output.shape[1] - 1}], got {t.tolist()}")
    if score == "logit":
        return output[np.arange(len(t)), t].sum()
    if score == "loss":
        from ..nn.functional import cross_entropy

        return cross_entropy(output, Tensor(t), reduction="sum")
    raise ValueError(f"saliency: score must be 'logit', 'loss' or a function (output, target) -> scalar, got {score!r}")


def saliency(model: Module, inputs: Any, target: Any, *, embedding: Embedding | str | None = None,
             score: str | Callable[[Tensor, Any], Tensor] = "logit", norm: str = "l2",
             kwargs: dict[str, Any] | None = None) -> SaliencyResult:
    """First-derivative saliency of each token: ``|dS_c / de_t|`` (Li et al. 2016, eq. 3).

    Args:
        model: a module whose forward looks tokens up in an ``nn.Embedding``.
        inputs: the forward's positional arguments: token ids ``(B, T)``, or a
            tuple such as ``(ids, lengths)``.
        target: the class ``c`` per example (``(B,)``, or one int for all).
        embedding: which embedding to differentiate against (default: the
            model's only one).
        score: ``"logit"`` (the class score ``S_c``), ``"loss"`` (cross-entropy
            of ``c``) or ``fn(output, target) -> scalar Tensor``.
        norm: how a token's gradient row becomes one number (``"l2"``, ``"l1"``, ``"max"``).
        kwargs: keyword arguments for the forward.
    """
    if norm not in _NORMS:
        raise ValueError(f"saliency: norm must be one of {_NORMS}, got {norm!r}")
    emb = find_embedding(model, embedding)
    args = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    leaves: list[Tensor] = []

    def capture(module: Module, call_args: Any, out: Tensor) -> Tensor:
        leaf = Tensor(np.array(out.array, copy=True), requires_grad=True)
        leaves.append(leaf)
        return leaf

    params = list(model.parameters())
    saved = [p.grad for p in params]
    was_training = model.training
    handle = emb.register_forward_hook(capture)
    try:
        model.eval()
        output = model(*args, **(kwargs or {}))
        if not leaves:
            raise RuntimeError("saliency: the embedding was not called during the forward pass")
        total = _score(output, target, score)
        for p in params:
            p.grad = None
        total.backward()
    finally:
        handle.remove()
        model.train(was_training)
        for p, g in zip(params, saved):
            p.grad = g
    grads = [leaf.grad.array if leaf.grad is not None else np.zeros_like(leaf.array) for leaf in leaves]
    return SaliencyResult(grads[0], _token_norm(grads[0], norm), np.asarray(output.array), grads)


def variance_salience(vectors: Any, lengths: Any = None, *, per_dimension: bool = False) -> np.ndarray:
    """Deviation of each token's embedding from its sentence's mean (Li et al. 2016, Section 6).

    ``vectors``: embeddings ``(B, T, D)`` (e.g. ``model.embedding(ids).data``);
    ``lengths``: real tokens per sentence (padding excluded from the mean and
    set to 0).  Returns ``||e_t - mean_s e_s||^2`` per token ``(B, T)``, or the
    squared deviation per dimension ``(B, T, D)`` with ``per_dimension=True``.
    """
    e = np.asarray(vectors.array if isinstance(vectors, Tensor) else vectors, dtype=np.float64)
    if e.ndim != 3:
        raise ValueError(f"variance_salience: expected embeddings (B, T, D), got shape {e.shape}")
    lengths = np.full(e.shape[0], e.shape[1]) if lengths is None else np.asarray(lengths)
    if lengths.shape != (e.shape[0],) or lengths.min() < 1 or lengths.max() > e.shape[1]:
        raise ValueError(f"variance_salience: lengths must be ({e.shape[0]},) in [1, {e.shape[1]}], got {lengths}")
    mask = (np.arange(e.shape[1])[None, :] < lengths[:, None])[:, :, None]
    mean = (e * mask).sum(axis=1, keepdims=True) / lengths[:, None, None]
    dev = np.square(e - mean) * mask
    return dev if per_dimension else dev.sum(axis=-1)


def draw_saliency(ax: Any, tokens: Sequence[str], values: np.ndarray, *, title: str = "",
                  colorbar: bool = True) -> Any:
    """Draw a saliency heat map on a matplotlib ``ax``: one row per token, one column per dimension.

    ``values``: ``(len(tokens), D)`` (e.g. ``result.magnitude[b, :length]``),
    or ``(len(tokens),)`` for one column of per-token scores.  Returns the
    image, as the paper's Figures 5-7 show them.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    if v.shape[0] != len(tokens):
        raise ValueError(f"draw_saliency: {len(tokens)} tokens but {v.shape[0]} rows of values")
    image = ax.imshow(v, aspect="auto", cmap="Greys", interpolation="nearest")
    ax.set_yticks(range(len(tokens)))
    ax.set_yticklabels(list(tokens), fontsize=8)
    ax.set_xlabel("embedding dimension" if v.shape[1] > 1 else "")
    if v.shape[1] == 1:
        ax.set_xticks([])
    if title:
        ax.set_title(title, fontsize=9)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return image
