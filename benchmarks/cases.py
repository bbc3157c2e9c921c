"""The benchmark cases: each builds the same model in thalweg and in PyTorch.

A case's ``build(quick)`` returns two step functions, ours and torch's, that
each run one unit of work (a training step, an optimizer step...) and return
a float (the loss where there is one).  Both start from the same weights (ours
are loaded from torch's ``state_dict``) and see the same data, so the first
step's losses must agree: the smoke test checks that.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

Step = Callable[[], float]


@dataclass(frozen=True)
class Case:
    """One benchmark: a name, what it measures, its unit and a builder."""

    name: str
    group: str
    build: Callable[[bool], tuple[Step, Step]]
    unit: str = "ms"  # what one call of a step is reported in
    repeats: int = 20


def _torch():
    import torch

    return torch


def _copy_weights(tw_model, torch_model) -> None:
    tw_model.load_state_dict({k: v.detach().numpy() for k, v in torch_model.state_dict().items()})


# --------------------------------------------------------------------------- MLP
def _mlp_models():
    import thalweg.nn as nn

    torch = _torch()
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                             torch.nn.ReLU(), torch.nn.Linear(256, 10))
    om = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    _copy_weights(om, tm)
    return om, tm


def _classification_steps(om, tm, x: np.ndarray, y: np.ndarray, *, lr: float = 0.01,
                          optimizer: str = "sgd") -> tuple[Step, Step]:
    import thalweg as tw
    import thalweg.nn.functional as F
    from thalweg import optim

    torch = _torch()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    xo, yo = tw.from_numpy(x), tw.from_numpy(y)
    oo = optim.SGD(om.parameters(), lr=lr)
    to = torch.optim.SGD(tm.parameters(), lr=lr)

    def ours() -> float:
        oo.zero_grad()
        loss = F.cross_entropy(om(xo), yo)
        loss.backward()
        oo.step()
        return loss.item()

    def theirs() -> float:
        to.zero_grad()
        loss = torch.nn.functional.cross_entropy(tm(xt), yt)
        loss.backward()
        to.step()
        return loss.item()

    return ours, theirs


def _mlp(batch: int) -> Callable[[bool], tuple[Step, Step]]:
    def build(quick: bool) -> tuple[Step, Step]:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, 784)).astype(np.float32)
        y = rng.integers(0, 10, batch).astype(np.int64)
        return _classification_steps(*_mlp_models(), x, y)

    return build


# ------------------------------------------------------------------------- LeNet
def _lenet_models():
    import thalweg.nn as nn

    torch = _torch()
    T = torch.nn
    torch.manual_seed(0)
    tm = T.Sequential(T.Conv2d(1, 6, 5), T.ReLU(), T.MaxPool2d(2), T.Conv2d(6, 16, 5), T.ReLU(), T.MaxPool2d(2),
                      T.Flatten(), T.Linear(256, 120), T.ReLU(), T.Linear(120, 84), T.ReLU(), T.Linear(84, 10))
    om = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                       nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                       nn.Linear(84, 10))
    _copy_weights(om, tm)
    return om, tm


def lenet_data(batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((batch, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, batch).astype(np.int64)


def _lenet(quick: bool) -> tuple[Step, Step]:
    return _classification_steps(*_lenet_models(), *lenet_data(64))


# --------------------------------------------------------------------- GRU, LSTM
def _recurrent(kind: str) -> Callable[[bool], tuple[Step, Step]]:
    def build(quick: bool) -> tuple[Step, Step]:
        import thalweg as tw
        import thalweg.nn as nn

        torch = _torch()
        steps, batch, n_in, hidden = (50, 32, 64, 128)
        torch.manual_seed(0)
        tm = getattr(torch.nn, kind)(n_in, hidden)
        om = getattr(nn, kind)(n_in, hidden)
        _copy_weights(om, tm)
        x = np.random.default_rng(0).standard_normal((steps, batch, n_in)).astype(np.float32)
        xt, xo = torch.from_numpy(x), tw.from_numpy(x)

        def ours() -> float:
            om.zero_grad()
            out, _ = om(xo)
            loss = (out * out).mean()
            loss.backward()
            return loss.item()

        def theirs() -> float:
            tm.zero_grad()
            out, _ = tm(xt)
            loss = (out * out).mean()
            loss.backward()
            return loss.item()

        return ours, theirs

    return build


# --------------------------------------------------------------------- Adam step
def _adam(quick: bool) -> tuple[Step, Step]:
    from thalweg import nn, optim

    torch = _torch()
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(100_000).astype(np.float32) for _ in range(10)]
    grads = [rng.standard_normal(100_000).astype(np.float32) for _ in range(10)]
    ours_p = [nn.Parameter(a.copy()) for a in arrays]
    torch_p = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in arrays]
    for p, g in zip(ours_p, grads):
        p.grad = g.copy()
    for p, g in zip(torch_p, grads):
        p.grad = torch.from_numpy(g.copy())
    oo = optim.Adam(ours_p, lr=1e-3)
    to = torch.optim.Adam(torch_p, lr=1e-3)

    def ours() -> float:
        oo.step()
        return float(ours_p[0].array[0])

    def theirs() -> float:
        to.step()
        return float(torch_p[0].data[0])

    return ours, theirs


# ----------------------------------------------------------------- engine costs
TINY_OPS = 1000


def _tiny_op(quick: bool) -> tuple[Step, Step]:
    """Microseconds per tiny elementwise op that records the graph (1,000 ops a call)."""
    import thalweg as tw

    torch = _torch()
    xo = tw.ones(4, requires_grad=True)
    xt = torch.ones(4, requires_grad=True)

    def ours() -> float:
        y = xo
        for _ in range(TINY_OPS):
            y = xo * 1.0001
        return float(y.array[0])

    def theirs() -> float:
        y = xt
        for _ in range(TINY_OPS):
            y = xt * 1.0001
        return float(y.data[0])

    return ours, theirs


def _tiny_backward(quick: bool) -> tuple[Step, Step]:
    """A chain of 1,000 tiny ops, built and backpropagated."""
    import thalweg as tw

    torch = _torch()
    xo = tw.ones(4, requires_grad=True)
    xt = torch.ones(4, requires_grad=True)

    def ours() -> float:
        y = xo
        for _ in range(TINY_OPS):
            y = y * 1.0001
        xo.grad = None
        y.sum().backward()
        return float(xo.grad[0])

    def theirs() -> float:
        y = xt
        for _ in range(TINY_OPS):
            y = y * 1.0001
        xt.grad = None
        y.sum().backward()
        return float(xt.grad[0])

    return ours, theirs


# ----------------------------------------------------------- a whole MNIST epoch
SHARED_MNIST = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist"


def mnist_arrays(quick: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """The 50,000 MNIST training images (flattened, in [0, 1]) if the data is found, else random data of that size.

    The data directory is ``$THALWEG_DATA/mnist`` or ``../shared/data/mnist``.
    """
    import os

    from thalweg.data import load_mnist

    n = 2_000 if quick else 50_000
    root = Path(os.environ["THALWEG_DATA"]) / "mnist" if "THALWEG_DATA" in os.environ else SHARED_MNIST
    if root.is_dir():
        train = load_mnist(root, flatten=True, download=False).train
        x, y = train.tensors
        return np.ascontiguousarray(x[:n], dtype=np.float32), y[:n].astype(np.int64), "MNIST"
    rng = np.random.default_rng(0)
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64), "random"


def _mnist_epoch(quick: bool) -> tuple[Step, Step]:
    """One epoch of the MLP through thalweg's own DataLoader and ``fit`` versus a plain PyTorch loop."""
    from thalweg import data, optim, train

    torch = _torch()
    x, y, _ = mnist_arrays(quick)
    om, tm = _mlp_models()
    oo = optim.SGD(om.parameters(), lr=0.05)
    to = torch.optim.SGD(tm.parameters(), lr=0.05)
    dataset = data.TensorDataset(x, y, num_classes=10)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(0)
    epoch = [0]

    def ours() -> float:
        epoch[0] += 1
        result = train.fit(om, oo, dataset, epochs=1, batch_size=128, seed=epoch[0], verbose=False,
                           metrics=(), restore_best=False)
        return float(result.history[-1]["loss"])

    def theirs() -> float:
        total, count = 0.0, 0
        perm = torch.randperm(len(xt), generator=gen)
        tm.train()
        for i in range(0, len(xt), 128):
            idx = perm[i:i + 128]
            to.zero_grad()
            loss = torch.nn.functional.cross_entropy(tm(xt[idx]), yt[idx])
            loss.backward()
            to.step()
            total += loss.item() * len(idx)
            count += len(idx)
        return total / count

    return ours, theirs


CASES: list[Case] = [
    Case("mlp_b32", "MLP step", _mlp(32)),
    Case("mlp_b128", "MLP step", _mlp(128)),
    Case("mlp_b512", "MLP step", _mlp(512)),
    Case("lenet_b64", "LeNet step", _lenet),
    Case("gru", "GRU fwd+bwd", _recurrent("GRU"), repeats=10),
    Case("lstm", "LSTM fwd+bwd", _recurrent("LSTM"), repeats=10),
    Case("adam_1m", "Adam step", _adam),
    Case("tiny_op", "tiny op", _tiny_op, unit="us/op", repeats=10),
    Case("backward_1000", "backward 1000 ops", _tiny_backward, repeats=10),
    Case("mnist_epoch", "MNIST epoch", _mnist_epoch, unit="s", repeats=3),
]

TARGETS = {
    "mlp_b32": 1.2, "mlp_b128": 1.0, "mlp_b512": 1.0, "lenet_b64": 0.95, "gru": 1.2, "lstm": 0.95,  # round 2: LeNet, LSTM 0.95
    "adam_1m": 1.0, "tiny_op": 2.0, "backward_1000": 2.0, "mnist_epoch": 1.1, "lenet_peak_memory": 1.5,
}

# ------------------------------------------------ transformers (speed issue round 2)
from benchmarks.transformer_cases import TRANSFORMER_CASES, TRANSFORMER_TARGETS  # noqa: E402

CASES += [Case(name, group, build, repeats=repeats) for name, group, build, repeats in TRANSFORMER_CASES]
TARGETS.update(TRANSFORMER_TARGETS)

# ------------------------------------------------- residual CNN (speed issue round 2)
from benchmarks.cases_resnet import RESNET_CASES, RESNET_TARGETS  # noqa: E402

CASES += [Case(name, group, build, repeats=repeats) for name, group, build, repeats in RESNET_CASES]
TARGETS.update(RESNET_TARGETS)
