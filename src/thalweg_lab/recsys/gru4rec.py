"""GRU4Rec: a GRU over the events of a session, trained with ranking losses on session-parallel batches.

Hidasi, Karatzoglou, Baltrunas and Tikk (2016), "Session-based
Recommendations with Recurrent Neural Networks", ICLR, arXiv:1511.06939.

The network (Figure 1 of the paper): the current item -> an input layer ->
GRU layer(s) -> dropout -> a score for every item, ``r = W_out h + b_out``
(optionally through ``tanh``, the authors' code's default final activation
for the ranking losses).  The input layer is a learned item embedding
(``embedding_dim``); the paper's best models fed the one-hot vector straight
into the GRU, which is the same as an embedding of size ``3 * hidden`` inside
the GRU's input weights but costs a dense ``(batch, n_items)`` product per
step on a CPU, so the embedding variant (the paper's "additional embedding
layer") is used here.

Training (``train_epoch``) follows Section 3.1:

* session-parallel mini-batches (``thalweg_lab.sessions``); the hidden state
  of a row is zeroed when its row starts a new session;
* the hidden state is carried from step to step but not backpropagated
  through (truncated BPTT of one step, as in the authors' code);
* in-batch negative sampling: the scores of the batch's own target items
  form a ``(B, B)`` matrix whose diagonal holds the positives, fed to TOP1,
  BPR or the sampled cross-entropy (``thalweg_lab.recsys.losses``);
* Adagrad in the paper; any ``thalweg.optim`` optimizer works.

``GRU4RecRecommender`` wraps a trained model for ``evaluate_sessions``: it
scores every item after each event (Recall@20, MRR@20).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from thalweg import random as _random
from thalweg.autograd.grad_mode import no_grad
from thalweg.autograd.tensor import Tensor
from thalweg_lab.sessions import Sessions, session_parallel_batches
from thalweg.nn.dropout import Dropout
from thalweg.nn.container import ModuleList
from thalweg.nn.module import Module
from thalweg.nn.parameter import Parameter
from thalweg.nn.recurrent import GRUCell
from thalweg.nn.sparse import Embedding
from thalweg.ops import api as _api
from thalweg.train import Callback, Trainer
from thalweg_lab.recsys.losses import RANKING_LOSSES

__all__ = ["GRU4Rec", "GRU4RecRecommender", "train_epoch"]

_FINAL = ("linear", "tanh")


class GRU4Rec(Module):
    """``GRU4Rec(n_items, hidden_size=100, *, embedding_dim=100, num_layers=1, dropout=0.0, final_act="tanh")``.

    ``step(items, h)`` advances every row by one event and returns
    ``(output (B, hidden), h_new (num_layers, B, hidden))``; ``score(output,
    items=None)`` gives the scores of the chosen items (``(B, len(items))``) or
    of every item (``(B, n_items)``).  The output weights start Glorot-uniform
    (the authors draw every matrix from U(-x, x) with x set by its shape).
    """

    def __init__(self, n_items: int, hidden_size: int = 100, *, embedding_dim: int = 100, num_layers: int = 1,
                 dropout: float = 0.0, final_act: str = "tanh", generator: Any = None) -> None:
        super().__init__()
        for what, v in (("n_items", n_items), ("hidden_size", hidden_size), ("embedding_dim", embedding_dim),
                        ("num_layers", num_layers)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"GRU4Rec: {what} must be a positive integer, got {v!r}")
        if final_act not in _FINAL:
            raise ValueError(f"GRU4Rec: final_act must be one of {_FINAL}, got {final_act!r}")
        self.n_items, self.hidden_size, self.num_layers = int(n_items), int(hidden_size), int(num_layers)
        self.final_act = final_act
        self.embedding = Embedding(n_items, embedding_dim, generator=generator)
        self.cells = ModuleList([GRUCell(embedding_dim if k == 0 else hidden_size, hidden_size, generator=generator)
                                 for k in range(num_layers)])
        self.drop = Dropout(dropout, generator=generator) if dropout > 0 else None
        rng = _random.get_generator(generator)
        bound = math.sqrt(6.0 / (n_items + hidden_size))
        self.out_weight = Parameter(rng.uniform(-bound, bound, (n_items, hidden_size)).astype(np.float32))
        self.out_bias = Parameter(np.zeros(n_items, dtype=np.float32))
        bound_e = math.sqrt(6.0 / (n_items + embedding_dim))
        self.embedding.weight.array[...] = rng.uniform(-bound_e, bound_e, self.embedding.weight.shape)

    def init_hidden(self, batch_size: int) -> Tensor:
        return Tensor(np.zeros((self.num_layers, batch_size, self.hidden_size), dtype=np.float32))

    def step(self, items: Any, h: Tensor) -> tuple[Tensor, Tensor]:
        """One event per row: ``items`` (B,) int, ``h`` (num_layers, B, hidden) -> (output, new h)."""
        x = self.embedding(np.asarray(items, dtype=np.int64))
        states = []
        for k, cell in enumerate(self.cells):
            x = cell(x, h[k])
            states.append(x)
        out = self.drop(x) if self.drop is not None else x
        return out, _api.stack(states, axis=0)

    def score(self, output: Tensor, items: Any = None) -> Tensor:
        """Scores ``output @ W[items]^T + b[items]`` (every item when ``items`` is None)."""
        if items is None:
            s = output @ self.out_weight.T + self.out_bias
        else:
            idx = np.asarray(items, dtype=np.int64)
            s = output @ self.out_weight[idx].T + self.out_bias[idx]
        return _api.tanh(s) if self.final_act == "tanh" else s


def train_epoch(model: GRU4Rec, optimizer: Any, sessions: Sessions, *, loss: str = "top1", batch_size: int = 50,
                seed: int = 0, max_steps: int | None = None) -> list[float]:
    """One pass over ``sessions`` in session-parallel mini-batches (random session order from ``seed``).

    Returns the loss of every step.  Steps with fewer than 2 active rows are
    skipped (no negatives to compare with).
    """
    if loss not in RANKING_LOSSES:
        raise ValueError(f"train_epoch: loss must be one of {', '.join(RANKING_LOSSES)}, got {loss!r}")
    if max_steps is not None and max_steps <= 0:
        return []
    ranking_loss = RANKING_LOSSES[loss]
    carried = {"h": model.init_hidden(batch_size)}

    def run_batch(model: GRU4Rec, batch: Any) -> tuple[Tensor, None] | None:
        """One session-parallel step: reset the finished rows' state, advance it, score the active rows."""
        h = carried["h"]
        if batch.reset.any():
            h.array[:, batch.reset] = 0.0
        rows = np.flatnonzero(batch.valid)
        out, h_new = model.step(batch.inputs, h)
        carried["h"] = h_new.detach()
        if len(rows) < 2:
            return None  # no negatives to compare with: the loop skips the step
        return model.score(out[rows], batch.targets[rows]), None  # (n, n): row b's target on the diagonal

    trainer = Trainer(model, optimizer, loss=lambda scores, _: ranking_loss(scores), metrics=(),
                      restore_best=False, batch_fn=run_batch, max_steps=max_steps, stop_on_nonfinite=False,
                      callbacks=[_StopAfterNonFinite()], verbose=False, progress=False)
    trainer.fit(session_parallel_batches(sessions, batch_size, shuffle=True, seed=seed), epochs=1)
    return list(trainer.trace["loss"])


class _StopAfterNonFinite(Callback):
    """The paper's loop takes the step, records its loss, and stops at the first non-finite one."""

    def on_train_batch_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        if not math.isfinite(logs["loss"]):
            trainer.stop(f"non-finite loss at step {trainer.step}", now=True)


class GRU4RecRecommender:
    """A trained :class:`GRU4Rec` as a session recommender for ``evaluate_sessions`` (eval mode, no graph)."""

    name = "GRU4Rec"

    def __init__(self, model: GRU4Rec) -> None:
        self.model = model

    def start(self, batch_size: int) -> None:
        self.model.eval()
        self.h = self.model.init_hidden(batch_size)

    def scores(self, inputs: np.ndarray, reset: np.ndarray, valid: np.ndarray) -> np.ndarray:
        with no_grad():
            self.h.array[:, reset] = 0.0
            out, self.h = self.model.step(inputs, self.h)
            return self.model.score(out).array
