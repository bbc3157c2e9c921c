"""``thalweg.nn.modules``: torch's ``torch.nn.modules.<file>`` import paths.

``from thalweg.nn.modules.loss import _Loss`` or ``thalweg.nn.modules.linear.Linear``
give the very classes of :mod:`thalweg.nn`; each submodule lists the names of
torch's file of the same name and resolves them on first use from wherever
thalweg defines them.  ``thalweg.nn.modules.<Class>`` works too.
"""

from __future__ import annotations

import importlib
from typing import Any

_FILES = ("activation", "batchnorm", "container", "conv", "distance", "dropout", "flatten", "linear", "loss", "module",
          "normalization", "pixelshuffle", "pooling", "rnn", "sparse", "transformer", "upsampling")


def __getattr__(name: str) -> Any:
    if name in _FILES:  # the submodules load on first use
        return importlib.import_module(f"{__name__}.{name}")
    nn = importlib.import_module("thalweg.nn")
    if not name.startswith("__") and hasattr(nn, name):
        return getattr(nn, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
