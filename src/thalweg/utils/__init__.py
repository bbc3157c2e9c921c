"""``thalweg.utils``: torch's ``torch.utils`` paths, so ported imports keep working.

* ``thalweg.utils.data`` is :mod:`thalweg.data` itself (``DataLoader``,
  ``Dataset``, ``TensorDataset``, the samplers, ``random_split``...), with its
  submodules under torch's names too (``thalweg.utils.data.dataloader``,
  ``.dataset``, ``.sampler``): the same module objects, so classes are
  identical whichever path imported them;
* ``thalweg.utils.tensorboard`` (``SummaryWriter``) is loaded on first use.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from .. import data

_DATA_ALIASES = {"dataset": "dataset", "sampler": "sampler", "loader": "loader", "dataloader": "loader"}
sys.modules[f"{__name__}.data"] = data
for _alias, _real in _DATA_ALIASES.items():
    sys.modules[f"{__name__}.data.{_alias}"] = importlib.import_module(f"{data.__name__}.{_real}")
data.dataloader = sys.modules[f"{__name__}.data.dataloader"]  # type: ignore[attr-defined]

_LAZY = ("tensorboard",)

__all__ = ["data"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
