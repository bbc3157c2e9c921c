"""One seeded generator per run, and ``tw.Generator`` objects for explicit streams.

All randomness in thalweg (initializations, dropout masks, shuffling, noise,
sampling) draws from a ``numpy.random.Generator``.  Functions take an explicit
``generator=`` argument: a ``tw.Generator`` (torch's spelling) or a NumPy
generator.  Without it they use the module's default generator, which
``tw.manual_seed(seed)`` resets.  The same seed gives the same numbers, and
``get_rng_state``/``set_rng_state`` let a resumed run continue the same
trajectory.  (The streams are NumPy's PCG64, not torch's Mersenne Twister:
seeds reproduce thalweg runs, not torch's numbers.)
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import numpy as np

_default = [np.random.default_rng(0)]

DEFAULT_SEED = 67280421310721  # torch.Generator().initial_seed()


def manual_seed(seed: int) -> np.random.Generator:
    """Reset the default generator to ``seed`` and return it."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _default[0] = np.random.default_rng(int(seed))
    return _default[0]


seed = manual_seed


def default_generator() -> np.random.Generator:
    """The generator used when no ``generator=`` is passed."""
    return _default[0]


class Generator:
    """``tw.Generator()``: an independent random stream, torch's object over a NumPy generator.

    ``g = tw.Generator().manual_seed(42)`` then ``tw.randn(3, generator=g)``.
    ``tw.Generator(7)`` (a seed) is accepted too.  Any NumPy ``Generator``
    method (``g.normal(...)``) works on it directly, so it can go wherever
    thalweg takes a generator.
    """

    def __init__(self, device: Any = "cpu", *, seed: int | None = None) -> None:
        if isinstance(device, (int, np.integer)) and not isinstance(device, bool):
            device, seed = "cpu", int(device)
        if str(device).split(":")[0] != "cpu":
            raise RuntimeError(f"Generator: device {device!r} is not available; thalweg runs on the CPU")
        self.device = device
        self._seed = DEFAULT_SEED if seed is None else int(seed)
        self._rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> "Generator":
        """Restart the stream from ``seed``; returns the generator (``Generator().manual_seed(0)``)."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"manual_seed: seed must be an integer, got {seed!r}")
        self._seed = int(seed) % (2 ** 64)
        self._rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy and return the new seed."""
        self._seed = secrets.randbits(63)
        self._rng = np.random.default_rng(self._seed)
        return self._seed

    def initial_seed(self) -> int:
        """The seed the current stream started from."""
        return self._seed

    def get_state(self) -> Any:
        """The stream's state as a uint8 tensor (as torch), for ``set_state``."""
        from .autograd.tensor import Tensor

        state = {"seed": self._seed, "bit_generator": self._rng.bit_generator.state}
        return Tensor(np.frombuffer(json.dumps(state).encode(), dtype=np.uint8).copy())

    def set_state(self, new_state: Any) -> "Generator":
        """Restore a state from :meth:`get_state`."""
        raw = np.asarray(getattr(new_state, "array", new_state), dtype=np.uint8).tobytes()
        try:
            state = json.loads(raw.decode())
            self._seed = int(state["seed"])
            self._rng = np.random.default_rng(self._seed)
            self._rng.bit_generator.state = state["bit_generator"]
        except (ValueError, KeyError, TypeError):
            raise RuntimeError("Generator.set_state: not a state produced by thalweg's Generator.get_state") from None
        return self

    def numpy_generator(self) -> np.random.Generator:
        """The NumPy generator that draws the numbers."""
        return self._rng

    def __getattr__(self, name: str) -> Any:
        if name == "_rng":  # not set yet (during unpickling): no recursion
            raise AttributeError(name)
        return getattr(self._rng, name)

    def __repr__(self) -> str:
        return f"<thalweg.Generator seed={self._seed}>"


def get_generator(generator: Any) -> np.random.Generator:
    """The NumPy generator behind ``generator`` (a ``tw.Generator``, a NumPy one, or None: the default)."""
    if generator is None:
        return _default[0]
    if isinstance(generator, Generator):
        return generator._rng
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator must be a tw.Generator or a numpy.random.Generator, got {type(generator).__name__}")


def get_rng_state(generator: Any = None) -> dict[str, Any]:
    """The generator's state as plain JSON-able data (for checkpoints)."""
    return get_generator(generator).bit_generator.state


def set_rng_state(state: dict[str, Any], generator: Any = None) -> None:
    """Restore a state captured by :func:`get_rng_state`."""
    get_generator(generator).bit_generator.state = state


def initial_seed() -> int:
    """torch.initial_seed: the seed of the default generator (0 unless ``manual_seed`` changed it)."""
    return int(_default[0].bit_generator.seed_seq.entropy)  # type: ignore[attr-defined]
