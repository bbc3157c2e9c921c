"""Dropout layers (Hinton et al. 2012, arXiv 1207.0580; Srivastava et al. 2014, JMLR 15).

During training each unit is "turned off" with probability p, which prevents
units from co-adapting and acts like averaging many thinned networks.  This is
*inverted* dropout: the kept units are scaled by 1/(1 - p) at training time, so
in evaluation mode (``model.eval()``) the layer is the identity.
"""

from __future__ import annotations

from typing import Any

from ..autograd.tensor import Tensor
from .functional_parts.basic import check_dropout_p, dropout, dropout1d, dropout2d, dropout3d
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"]


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False, *, generator: Any = None) -> None:
        super().__init__()
        self.p = check_dropout_p(p, type(self).__name__)
        self.inplace = inplace
        self.generator = generator

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` in training and scale the rest by 1/(1 - p).

    m ~ Bernoulli(1 - p) elementwise, y = x m / (1 - p); in eval mode y = x.
    The mask comes from the run's seeded generator (``tw.manual_seed``) or the
    ``generator`` given here.  ``p`` outside [0, 1] is a ``ValueError``.
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return dropout(input, self.p, self.training, generator=self.generator)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) inputs (one Bernoulli draw per sample and channel)."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return dropout1d(input, self.p, self.training, generator=self.generator)


class Dropout2d(_DropoutNd):
    """Zero whole feature maps of (N, C, H, W) inputs (Tompson et al. 2015, arXiv 1411.4280): neighbouring
    pixels are correlated, so dropping single pixels would regularise little.  Other ranks behave as in
    torch 2.13 (see ``F.dropout2d``: a 3-D input is (N, C, L), a 2-D one gets elementwise dropout)."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return dropout2d(input, self.p, self.training, generator=self.generator)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) inputs (one draw per sample and channel)."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return dropout3d(input, self.p, self.training, generator=self.generator)
