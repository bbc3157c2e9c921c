"""One seeded generator per run.

All randomness in thalweg (initializations, dropout masks, shuffling, noise,
sampling) draws from a ``numpy.random.Generator``.  Functions take an explicit
``generator=`` argument; without it they use the module's default generator,
which ``tw.manual_seed(seed)`` resets.  The same seed gives the same numbers,
and ``get_rng_state``/``set_rng_state`` let a resumed run continue the same
trajectory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_default = [np.random.default_rng(0)]


def manual_seed(seed: int) -> np.random.Generator:
    """Reset the default generator to ``seed`` and return it."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _default[0] = np.random.default_rng(int(seed))
    return _default[0]


seed = manual_seed


def default_generator() -> np.random.Generator:
    """The generator used when no ``generator=`` is passed."""
    return _default[0]


def Generator(seed: int | None = None) -> np.random.Generator:  # noqa: N802 - torch's spelling
    """A new independent generator (``tw.Generator(seed)``), a NumPy ``Generator``."""
    return np.random.default_rng(seed)


def get_generator(generator: np.random.Generator | None) -> np.random.Generator:
    """``generator`` if given, else the default generator."""
    return _default[0] if generator is None else generator


def get_rng_state(generator: np.random.Generator | None = None) -> dict[str, Any]:
    """The generator's state as plain JSON-able data (for checkpoints)."""
    return get_generator(generator).bit_generator.state


def set_rng_state(state: dict[str, Any], generator: np.random.Generator | None = None) -> None:
    """Restore a state captured by :func:`get_rng_state`."""
    get_generator(generator).bit_generator.state = state
