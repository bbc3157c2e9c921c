"""The training run that ``test_distributed_mpi.py`` makes under mpiexec and, for reference, in one process."""

from __future__ import annotations

from typing import Any

import numpy as np

import thalweg as tw
from thalweg import nn, optim


def fit_setup() -> tuple[Any, Any, Any, Any, dict[str, Any]]:
    """A float64 MLP, SGD with momentum, 64 training and 16 dev examples, global batch 8."""
    tw.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 12), nn.Tanh(), nn.Linear(12, 3)).double()
    opt = optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 5))
    Y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5).astype(np.int64)
    kw = {"batch_size": 8, "seed": 0, "verbose": True, "progress": False, "plots": False}
    return model, opt, (X[:64], Y[:64]), (X[64:], Y[64:]), kw
