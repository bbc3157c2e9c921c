"""``F.group_norm`` with torch's signature (the fused op is in ``ops/group_norm.py``)."""

from __future__ import annotations

from ...autograd.tensor import Tensor
from ...ops.group_norm import GroupNormFunction

__all__ = ["group_norm"]


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,  # noqa: A002 - torch's name
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Group normalization of (N, C, *) input over ``num_groups`` groups of channels (Wu and He 2018).

    Each sample's group of C/G channels is normalised by its own mean and (biased)
    variance; ``weight``/``bias`` (C,) scale and shift each channel.
    """
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected an input of shape (N, C, *), got shape {tuple(input.shape)}")
    C = input.shape[1]
    if not isinstance(num_groups, int) or num_groups < 1 or C % num_groups:
        raise ValueError(f"group_norm: expected the number of channels {C} (input shape {tuple(input.shape)}) to be "
                         f"divisible by num_groups, got num_groups={num_groups!r}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (C,):
            raise ValueError(f"group_norm: {name} must have shape ({C},), got {tuple(t.shape)}")
    if input.dtype.kind != "f":
        raise TypeError(f"group_norm: expected a floating-point input, got dtype {input.dtype}")
    return GroupNormFunction.apply(input, weight, bias, groups=num_groups, eps=float(eps))
