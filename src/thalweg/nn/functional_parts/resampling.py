"""``F.interpolate``/``F.upsample`` and ``F.pixel_shuffle``/``F.pixel_unshuffle`` with torch's signatures.

``interpolate`` builds, for each spatial axis, the source indices and weights
exactly as torch 2.13's CPU kernels do (``area_pixel_compute_source_index`` and
``nearest_idx`` in ATen's UpSample.h, in the kernels' arithmetic: float32 for
nearest indices, the input's dtype for linear weights), and hands them to the
fused ``Resample`` op (``ops/resample.py``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...autograd.tensor import Tensor
from ...ops import api as _api
from ...ops.resample import Resample
from .conv import adaptive_avg_pool1d, adaptive_avg_pool2d

__all__ = ["interpolate", "pixel_shuffle", "pixel_unshuffle", "upsample", "upsample_bilinear", "upsample_nearest"]

_MODES = {"nearest": None, "nearest-exact": None, "linear": 1, "bilinear": 2, "area": None}
_UNSUPPORTED = ("bicubic", "trilinear")


def _nearest(n_in: int, n_out: int, scale: float | None, exact: bool) -> Any:
    """Source index of each output position (torch's ``nearest_idx`` / ``nearest_exact_idx``, float32 math)."""
    d = np.arange(n_out)
    if n_out == n_in:
        return d
    if n_out == 2 * n_in and not exact:
        return d >> 1
    s = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(n_in) / np.float32(n_out)
    pos = (d.astype(np.float32) + np.float32(0.5)) * s if exact else d.astype(np.float32) * s
    return np.minimum(np.floor(pos).astype(np.int64), n_in - 1)


def _linear(n_in: int, n_out: int, scale: float | None, align_corners: bool, dtype: Any) -> tuple[Any, ...]:
    """(i0, i1, w0, w1) of linear interpolation (torch's ``compute_indices_weights_linear``), in ``dtype``."""
    t = np.dtype(dtype).type
    d = np.arange(n_out).astype(dtype)
    if align_corners:
        s = t(n_in - 1) / t(n_out - 1) if n_out > 1 else t(0)
        src = d * s
    else:
        s = t(1.0 / scale) if scale is not None and scale > 0 else t(n_in) / t(n_out)
        src = np.maximum(s * (d + t(0.5)) - t(0.5), t(0))
    i0 = src.astype(np.int64)
    lam = np.clip(src - i0.astype(dtype), 0, 1).astype(dtype)
    i1 = i0 + (i0 < n_in - 1)
    return i0, i1, (t(1) - lam).astype(dtype), lam


def _sizes(x: Tensor, size: Any, scale_factor: Any, recompute: Any, k: int, mode: str) -> tuple[list, list]:
    """torch's rules: exactly one of ``size``/``scale_factor``; returns (output sizes, scales or Nones)."""
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: exactly one of size or scale_factor should be defined")
    spatial = list(x.shape[2:])
    if size is not None:
        if recompute:
            raise ValueError("interpolate: recompute_scale_factor is not meaningful with an explicit size")
        sizes = [int(size)] * k if isinstance(size, (int, np.integer)) else [int(s) for s in size]
        if len(sizes) != k:
            raise ValueError(f"interpolate: input with spatial shape {tuple(spatial)} expects size of length {k}, "
                             f"got {size!r}")
        return sizes, [None] * k
    scales = [float(scale_factor)] * k if not isinstance(scale_factor, (tuple, list)) else \
        [float(s) for s in scale_factor]
    if len(scales) != k:
        raise ValueError(f"interpolate: input with spatial shape {tuple(spatial)} expects scale_factor of length "
                         f"{k}, got {scale_factor!r}")
    sizes = [math.floor(float(n) * s) for n, s in zip(spatial, scales)]
    if recompute or mode == "area":
        return sizes, [None] * k
    return sizes, scales


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",  # noqa: A002
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize (N, C, L) or (N, C, H, W) input by ``size`` or ``scale_factor``.

    Modes: ``"nearest"`` (source index floor(o * in/out)), ``"nearest-exact"``
    (floor((o + 0.5) in/out)), ``"linear"`` (3-D), ``"bilinear"`` (4-D) and
    ``"area"`` (adaptive average pooling).  For the linear modes,
    ``align_corners=True`` maps the corner pixels' centres onto each other
    (source = o (in - 1)/(out - 1)); False (the default) maps the pixels'
    edges (source = (o + 0.5) in/out - 0.5, clamped at 0).  With a
    ``scale_factor`` and no ``recompute_scale_factor`` the kernels use 1/scale,
    as torch.  Gradients flow to the input (``ops/resample.py``).
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate: input must be a Tensor, got {type(input).__name__}")
    if mode in _UNSUPPORTED:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not available in thalweg (use nearest, "
                                  f"nearest-exact, linear, bilinear or area)")
    if mode not in _MODES:
        raise ValueError(f"interpolate: unknown mode {mode!r}; expected one of {sorted(_MODES)}")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not available in thalweg")
    k = input.ndim - 2
    if k not in (1, 2):
        raise ValueError(f"interpolate: expected a 3-D (N, C, L) or 4-D (N, C, H, W) input, got shape "
                         f"{tuple(input.shape)}")
    need = _MODES[mode]
    if need is not None and need != k:
        raise ValueError(f"interpolate: got {k + 2}D input, but {mode} mode needs {need + 2}D input "
                         f"(shape {tuple(input.shape)})")
    if need is None and align_corners is not None:
        raise ValueError("interpolate: align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if input.dtype.kind != "f":
        raise TypeError(f"interpolate: expected a floating-point input, got dtype {input.dtype}")
    sizes, scales = _sizes(input, size, scale_factor, recompute_scale_factor, k, mode)
    if any(s < 1 for s in sizes):
        raise ValueError(f"interpolate: output size {tuple(sizes)} must be positive (input shape "
                         f"{tuple(input.shape)})")
    if mode == "area":
        return adaptive_avg_pool1d(input, sizes) if k == 1 else adaptive_avg_pool2d(input, sizes)
    plans = []
    for axis in reversed(range(k)):
        n_in, n_out, sc = input.shape[2 + axis], sizes[axis], scales[axis]
        if need is None:
            idx = _nearest(n_in, n_out, sc, mode == "nearest-exact")
            plans.append((2 + axis, idx, None, None, None, n_in))
        else:
            i0, i1, w0, w1 = _linear(n_in, n_out, sc, bool(align_corners), input.dtype)
            plans.append((2 + axis, i0, i1, w0, w1, n_in))
    return Resample.apply(input, plans=tuple(plans))


def upsample(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",  # noqa: A002
             align_corners: bool | None = None) -> Tensor:
    """The deprecated name of :func:`interpolate` (same arguments)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:  # noqa: A002
    """``interpolate(..., mode="nearest")``."""
    return interpolate(input, size, scale_factor, "nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:  # noqa: A002
    """``interpolate(..., mode="bilinear", align_corners=True)`` (the old default)."""
    return interpolate(input, size, scale_factor, "bilinear", align_corners=True)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:  # noqa: A002
    """(*, C r^2, H, W) -> (*, C, H r, W r) (Shi et al. 2016, "sub-pixel convolution", arXiv 1609.05158).

    out[..., c, h r + i, w r + j] = in[..., c r^2 + i r + j, h, w]: a reshape and a permutation.
    """
    r = int(upscale_factor)
    if input.ndim < 3 or r < 1 or input.shape[-3] % (r * r):
        raise ValueError(f"pixel_shuffle: expected input of shape (*, C * {r}^2, H, W) with at least 3 dimensions, "
                         f"got shape {tuple(input.shape)}")
    *lead, c, h, w = input.shape
    lead = tuple(lead)
    x = _api.reshape(input, lead + (c // (r * r), r, r, h, w))
    n = len(lead)
    x = _api.permute(x, tuple(range(n)) + (n, n + 3, n + 1, n + 4, n + 2))
    return _api.reshape(x, lead + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:  # noqa: A002
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of :func:`pixel_shuffle`."""
    r = int(downscale_factor)
    if input.ndim < 3 or r < 1 or input.shape[-2] % r or input.shape[-1] % r:
        raise ValueError(f"pixel_unshuffle: expected input of shape (*, C, H, W) with H and W divisible by {r}, "
                         f"got shape {tuple(input.shape)}")
    *lead, c, h, w = input.shape
    lead = tuple(lead)
    n = len(lead)
    x = _api.reshape(input, lead + (c, h // r, r, w // r, r))
    x = _api.permute(x, tuple(range(n)) + (n, n + 2, n + 4, n + 1, n + 3))
    return _api.reshape(x, lead + (c * r * r, h // r, w // r))
