"""Activation layers: thin modules around the activation ops of ``ops/activation.py``.

Each has no parameters; ``inplace=True`` is accepted for PyTorch compatibility
and shown in the repr, but the result is always a new tensor (in-place updates
would break the graph's saved values).
"""

from __future__ import annotations

from ..autograd.tensor import Tensor
from ..ops import activation as A
from ..ops import api as _api
from .module import Module

__all__ = ["ELU", "GELU", "LeakyReLU", "LogSoftmax", "ReLU", "Sigmoid", "Softmax", "Softplus", "Tanh"]


def _inplace_repr(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


class ReLU(Module):
    """max(0, x) elementwise (the rectified linear unit; He init suits it)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return A.ReLU.apply(input)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class Sigmoid(Module):
    """1 / (1 + e^-x) elementwise, in (0, 1)."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return _api.sigmoid(input)


class Tanh(Module):
    """tanh x elementwise, in (-1, 1) (Glorot init suits it)."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return _api.tanh(input)


class ELU(Module):
    """x for x > 0, alpha (e^x - 1) otherwise (Clevert, Unterthiner and Hochreiter 2015, arXiv 1511.07289).

    Negative outputs push the mean activation towards zero, which the paper shows speeds up learning.
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return A.ELU.apply(input, alpha=self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class LeakyReLU(Module):
    """x for x > 0, negative_slope x otherwise (Maas et al. 2013): negative inputs keep a small gradient."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return A.LeakyReLU.apply(input, negative_slope=self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Softplus(Module):
    """(1 / beta) log(1 + e^(beta x)), a smooth ReLU; linear where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return A.Softplus.apply(input, beta=self.beta, threshold=self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


def _legacy_softmax_dim(ndim: int) -> int:
    """torch's implicit dimension when ``dim=None``: 0 for 0-, 1- and 3-D inputs, else 1."""
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """e^(x_i) / sum_j e^(x_j) along ``dim`` (computed stably); outputs sum to 1 along ``dim``.

    Pass ``dim`` explicitly; ``dim=None`` follows torch's legacy rule (0 for
    1-D and 3-D inputs, else 1).
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        dim = _legacy_softmax_dim(input.ndim) if self.dim is None else self.dim
        return _api.softmax(input, dim=dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x_i - log sum_j e^(x_j) along ``dim``: log-probabilities (pair it with ``NLLLoss``)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        dim = _legacy_softmax_dim(input.ndim) if self.dim is None else self.dim
        return _api.log_softmax(input, dim=dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GELU(Module):
    """x Phi(x), Phi the standard normal CDF (Hendrycks and Gimpel 2016, arXiv 1606.08415).

    ``approximate="tanh"`` uses 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return A.GELU.apply(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"
