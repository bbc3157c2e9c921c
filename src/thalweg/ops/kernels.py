"""Optional compiled kernels (numba) for the few ops that NumPy runs far below the machine's speed.

NumPy evaluates a formula one whole-array pass at a time, and pays a per-row
overhead on broadcasts along a short last axis.  These ops are dominated by
that, not by arithmetic:

- GELU's normal CDF (about 30 passes, ``ops/erf.py``): one compiled pass does
  the same float32 arithmetic (Numerical Recipes' erfcc) with a vectorised
  ``exp`` (``numba_kernels.fast_exp``, within 1 ulp).  Measured on 4.2 million
  values (the large LM's MLP), forward + backward: about 50 ms in NumPy, 10.7 ms
  with NumPy's exp between compiled passes, 9.1 ms in one pass each way (torch:
  6.6 ms).  The tanh approximation likewise, as x / (1 + e^(-2u)), recomputed
  in the backward: 8.4 ms (torch: 15.1 ms).
- The LSTM's time steps: everything elementwise in a step is one compiled loop
  around NumPy's product with W_hh, with a vectorised rational ``tanh``
  (``numba_kernels.fast_tanh``, within 6 ulps); the step's dozen NumPy calls
  cost more than their arithmetic at these sizes (LSTM benchmark 1.06 -> 0.91 of torch).
- LayerNorm: one loop per row computes the mean, the variance and the
  normalised row while the row is in cache (forward), and dL/dx, dL/dgamma and
  dL/dbeta likewise (backward).
- ReLU: one pass each way instead of three (mask, maximum; sum check,
  negation, product); the backward reads the saved output, as torch's does.
- Max pooling over 2x2 windows at stride 2 (the common case): one pass finds
  each window's maximum and its position, and the backward sends each
  gradient there; NumPy needs four strided comparisons per window to find
  the positions again (LeNet's two poolings: 0.94 -> 0.2 ms fwd+bwd).
- An optimizer step that is a multiple of the gradient (plain SGD):
  ``p += c g`` in one pass instead of copy, scale and add; Adam's direction
  (both moments and the ratio) in one pass instead of ten.
- BatchNorm in training mode: NumPy's reductions over the axes (0, 2, 3) of a
  (N, C, H, W) array run far below memory speed; one loop per channel sums in
  float64 and normalises, another pair gives the three gradients.
- The four transforms of Winograd's F(4x4, 3x3) convolution (``ops/winograd.py``):
  a few dozen additions over each 6x6 patch, which would take as many NumPy passes.
- col2im of strided convolutions: one pass of ``+=`` instead of KH*KW strided
  NumPy additions (the ResNet's 16-to-32-channel stride-2 layer: 1.8 -> 0.9 ms).

The kernels cover contiguous float32 arrays, the training case; float64 (the
gradchecks) and everything else use the NumPy code, which stays the reference
that the kernels are tested against (``tests/ops/test_kernels.py``).  numba is
an optional dependency (the ``speed`` extra): when it is not installed, or the
environment sets ``THALWEG_NUMBA=0``, :func:`get` returns None and callers use
NumPy.  numba is imported on the first call, not with thalweg, and compiled
kernels are cached on disk (``cache=True``).  The cost: numba and LLVM hold
about 150 MB of resident memory per process once the kernels are loaded
(:func:`warm_up` loads them up front).  Every kernel is loaded on the first
use of any (compiling them all takes about 40 s on a fresh cache, so a load
that takes longer than ``SLOW_LOAD_NOTICE_SECONDS`` says so on the ``thalweg``
logger), and if one fails (no writable cache directory, say) the kernels
stay off with a warning.  Reductions may be reassociated
(``fastmath``), so sums differ from NumPy's in the last bits only.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from typing import Any, Callable

import numpy as np


SLOW_LOAD_NOTICE_SECONDS = 3.0  # a load still running after this is a compile: say why the process waits

_kernels: dict[str, Callable[..., Any]] | None = None
_lock = threading.Lock()
_tried = [False]


def enabled() -> bool:
    """Whether the compiled kernels are in use (numba importable and ``THALWEG_NUMBA`` not 0/false/off)."""
    return get("gelu_forward") is not None


def set_enabled(on: bool) -> bool:
    """Switch the kernels on or off for this process (tests compare both paths); returns the previous setting."""
    previous = _state_on[0]
    _state_on[0] = bool(on)
    return previous


def requested_by_environment() -> bool:
    """Whether ``THALWEG_NUMBA`` leaves compiled code on (unset, or anything but 0/false/no/off), read now."""
    return os.environ.get("THALWEG_NUMBA", "1").strip().lower() not in ("0", "false", "no", "off")


_state_on = [requested_by_environment()]


def get(name: str) -> Callable[..., Any] | None:
    """The compiled kernel ``name`` (``numba_kernels.KERNELS``), or None when kernels are off or numba is missing."""
    if not _state_on[0]:
        return None
    if not _tried[0]:
        with _lock:
            if not _tried[0]:
                _build()
                _tried[0] = True
    return None if _kernels is None else _kernels.get(name)


def _build() -> None:
    """Import numba's kernels and load (or compile) each once; on any failure leave them off, with a warning."""
    global _kernels
    try:
        from . import numba_kernels
    except ImportError:  # numba is not installed
        return
    _kernels = {name: getattr(numba_kernels, name) for name in numba_kernels.KERNELS}
    notice = threading.Timer(SLOW_LOAD_NOTICE_SECONDS, _say_compiling)
    notice.daemon = True
    notice.start()
    try:
        _run_each_once()
    except Exception as e:  # e.g. no writable cache directory, or an LLVM that cannot compile for this CPU
        _kernels = None
        warnings.warn(f"thalweg: numba's compiled kernels are unavailable ({type(e).__name__}: {e}); "
                      "using NumPy", RuntimeWarning, stacklevel=3)
    finally:
        notice.cancel()


def _say_compiling() -> None:
    logging.getLogger("thalweg").warning(
        "thalweg: compiling numba's kernels once (about 40 s; later processes load them from numba's cache)")


def warm_up() -> bool:
    """Load (or compile) every kernel now; returns whether the kernels are on.

    The first use of the kernels in a process loads each from numba's cache
    (under a second for all of them) or compiles it (about 40 s for all on a
    fresh cache; the Winograd input transform and output adjoint take 8-10 s
    each); numba and LLVM then hold about 150 MB of resident memory for the
    life of the process.  Call this to pay that before timing or measuring
    anything.
    """
    return get("gelu_forward") is not None


def _run_each_once() -> None:
    """Every kernel once on tiny float32 arrays (what loads or compiles them)."""
    x = np.linspace(-2.0, 2.0, 12, dtype=np.float32).reshape(3, 4)
    for approximate in ("none", "tanh"):
        out, cdf = gelu_forward(x, approximate)
        gelu_backward(x, cdf, out, approximate)
    relu_backward(x, relu_forward(x))
    w = np.ones(4, np.float32)
    _, mean, rstd = layer_norm_forward(x, w, w, 1e-5)
    layer_norm_backward(x, x, mean, rstd, w, True, True, True)
    out, mean, var, shift, scale = batch_norm_forward(x, w, w, 1e-5)  # x (3, 4): 4 channels
    batch_norm_backward(x, x, shift, scale, w, True)
    flat = x.reshape(-1)
    _kernels["exp"](flat, np.empty_like(flat))
    _kernels["exp_flushed"](flat, np.empty_like(flat))
    _kernels["tanh"](flat, np.empty_like(flat))
    g4 = np.zeros((4, 1, 1, 3), np.float32)  # one LSTM step: T = 1, B = 1, H = 3
    s3 = np.zeros((1, 1, 3), np.float32)
    _kernels["lstm_forward_step"](g4[:, 0], g4, np.zeros((4, 3), np.float32), 0, s3[0], g4, s3, s3.copy(), s3.copy())
    _kernels["lstm_backward_step"](g4[:, 0], s3, 0, s3[0].copy(), g4, s3, s3[0], np.zeros((1, 1, 4, 3), np.float32),
                                   s3[0].copy())
    out, which = max_pool_2x2_forward(x.reshape(1, 1, 3, 4))
    max_pool_backward(out, which, (1, 1, 3, 4))
    scaled_add(x, x, -0.5)
    z = np.zeros(3, np.float32)
    adam_direction(z, z.copy(), z.copy(), 0.9, 0.999, 1.0, 1e-8)
    image, planes = np.zeros((1, 1, 2, 2), np.float32), np.zeros((36, 1, 1), np.float32)  # one Winograd tile
    padded = np.zeros((1, 6, 6, 1), np.float32)
    _kernels["winograd_pad_channels_last"](image, 1, 1, padded)
    _kernels["winograd_input_transform"](padded, 1, 1, planes)
    _kernels["winograd_output_transform"](planes, 1, 1, image)
    _kernels["winograd_output_adjoint"](image, 1, 1, planes)
    _kernels["winograd_input_adjoint"](planes, 1, 1, 1, 1, image)
    _kernels["col2im"](np.ones((1, 1, 1, 1, 1, 1), np.float32), 2, 2, 1, 1, image)
    _kernels["col2im_flat"](np.ones((1, 1, 1, 1, 4), np.float32), 2, 1, 1, image.reshape(1, 1, 4))
    flat, tap = np.zeros((1, 1, 4), np.float32), np.ones((1, 1, 1, 1), np.float32)  # a 1x1 kernel on a 2x2 image
    _kernels["direct_conv_forward"](flat, tap, np.zeros(1, np.float32), 2, 1, 1, image)
    for of_weight in (True, False):
        _kernels["direct_conv_gradient"](image, flat.copy(), tap.copy(), 2, 1, 1, of_weight)
    _, _, _, p, safe = cross_entropy_forward(x, np.array([0, 1, -100]), -100)
    cross_entropy_backward(p, safe, np.ones(3, np.float32))
    for causal in (False, True):
        _kernels["attention_softmax"](x.reshape(1, 3, 4).copy(), np.float32(0.5), causal)
    _kernels["attention_softmax_backward"](x.copy(), x, np.float32(0.5))
    _kernels["softmax_rows"](x, np.empty_like(x))
    _kernels["softmax_rows_backward"](x, x, np.empty_like(x))


def _vector(a: Any) -> Any:
    """A per-feature parameter as a contiguous float32 vector; None as the empty vector the kernels read as "none"."""
    return _NONE if a is None else np.ascontiguousarray(a, dtype=np.float32).reshape(-1)


_NONE = np.empty(0, np.float32)
_NONE.flags.writeable = False


def usable(*arrays: Any) -> bool:
    """Whether the kernels apply: every array a contiguous float32 NumPy array, and the kernels are on."""
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != np.float32 or not a.flags.c_contiguous:
            return False
    return get("gelu_forward") is not None


def gelu_forward(x: Any, approximate: str = "none") -> tuple[Any, Any]:
    """GELU of a contiguous float32 array in one compiled pass: (out, Phi(x)), or (out, None) for the tanh form."""
    out = np.empty_like(x)
    if approximate == "tanh":
        _kernels["gelu_tanh_forward"](x.reshape(-1), out.reshape(-1))
        return out, None
    cdf = np.empty_like(x)
    _kernels["gelu_forward"](x.reshape(-1), out.reshape(-1), cdf.reshape(-1))
    return out, cdf


def gelu_backward(x: Any, cdf: Any, grad: Any, approximate: str = "none") -> Any:
    """grad times GELU's derivative at x, for contiguous float32 arrays of one shape, in one pass
    (``cdf``: the forward's Phi(x); None for the tanh form, which recomputes what it needs from x)."""
    out = np.empty_like(x)
    if approximate == "tanh":
        _kernels["gelu_tanh_backward"](x.reshape(-1), grad.reshape(-1), out.reshape(-1))
    else:
        _kernels["gelu_backward"](x.reshape(-1), cdf.reshape(-1), grad.reshape(-1), out.reshape(-1))
    return out


def layer_norm_forward(x2: Any, weight: Any, bias: Any, eps: float) -> tuple[Any, Any, Any]:
    """(out, mean, rstd) of LayerNorm over the rows of a contiguous float32 (R, D) array."""
    out = np.empty_like(x2)
    mean, rstd = np.empty(x2.shape[0], np.float32), np.empty(x2.shape[0], np.float32)
    _kernels["layer_norm_forward"](x2, _vector(weight), _vector(bias), np.float32(eps), out, mean, rstd)
    return out, mean, rstd


def layer_norm_backward(g2: Any, x2: Any, mean: Any, rstd: Any, weight: Any, need_x: bool, need_w: bool,
                        need_b: bool) -> tuple[Any, Any, Any]:
    """(dL/dx or None, dL/dgamma or None, dL/dbeta or None) for (R, D) float32 arrays, one pass over the rows
    (``x2`` the forward's input, ``mean`` and ``rstd`` its row statistics)."""
    d = g2.shape[1]
    gx = np.empty_like(g2) if need_x else np.empty((0, 0), np.float32)
    gw = np.zeros(d, np.float32) if need_w else np.empty(0, np.float32)
    gb = np.zeros(d, np.float32) if need_b else np.empty(0, np.float32)
    _kernels["layer_norm_backward"](g2, x2, mean, rstd, _vector(weight), gx, gw, gb)
    return (gx if need_x else None), (gw if need_w else None), (gb if need_b else None)


def batch_norm_forward(x: Any, weight: Any, bias: Any, eps: float) -> tuple[Any, Any, Any, Any, Any]:
    """Training-mode BatchNorm of a contiguous float32 (N, C, ...) array: (out, batch mean, biased var, shift,
    scale), where xhat = (x - shift) scale per channel (float32, what :func:`batch_norm_backward` takes)."""
    n, c = x.shape[:2]
    x3 = x.reshape(n, c, -1)
    out = np.empty_like(x3)
    mean, var = np.empty(c, np.float64), np.empty(c, np.float64)
    shift, scale = np.empty(c, np.float32), np.empty(c, np.float32)
    _kernels["batch_norm_forward"](x3, _vector(weight), _vector(bias), np.float32(eps), out, mean, var, shift, scale)
    return out.reshape(x.shape), mean.astype(np.float32), var.astype(np.float32), shift, scale


def batch_norm_backward(grad: Any, x: Any, shift: Any, scale: Any, weight: Any,
                        need_x: bool) -> tuple[Any, Any, Any]:
    """Training-mode BatchNorm gradients for float32 arrays, xhat recomputed from the forward's input ``x`` and its
    ``shift`` and ``scale``: (dL/dx or None, dL/dgamma, dL/dbeta)."""
    n, c = grad.shape[:2]
    g3 = np.ascontiguousarray(grad).reshape(n, c, -1)
    gx = np.empty_like(g3) if need_x else np.empty((0, 0, 0), np.float32)
    dgamma, dbeta = np.empty(c, np.float64), np.empty(c, np.float64)
    _kernels["batch_norm_backward"](g3, x.reshape(n, c, -1), shift, scale, _vector(weight), gx, dgamma, dbeta)
    return (gx.reshape(grad.shape) if need_x else None), dgamma.astype(np.float32), dbeta.astype(np.float32)


def relu_forward(x: Any) -> Any:
    """max(x, 0) of a contiguous float32 array in one pass (NaN kept)."""
    out = np.empty_like(x)
    _kernels["relu_forward"](x.reshape(-1), out.reshape(-1))
    return out


def relu_backward(grad: Any, out: Any) -> Any:
    """grad where ReLU's output is positive (or NaN), else 0, for float32 arrays of one shape, in one pass."""
    gx = np.empty_like(out)
    _kernels["relu_backward"](np.ascontiguousarray(grad).reshape(-1), out.reshape(-1), gx.reshape(-1))
    return gx


def max_pool_2x2_forward(x: Any) -> tuple[Any, Any]:
    """2x2 max pooling at stride 2 of a contiguous float32 (N, C, H, W) array: (out, int32 flat argmax per plane)."""
    n, c, h, w = x.shape
    out = np.empty((n, c, h // 2, w // 2), np.float32)
    which = np.empty(out.shape, np.int32)
    _kernels["max_pool_2x2_forward"](x.reshape(n * c, h, w), out.reshape(n * c, h // 2, w // 2),
                                     which.reshape(n * c, h // 2, w // 2))
    return out, which


def max_pool_backward(grad: Any, which: Any, shape: tuple[int, ...]) -> Any:
    """dL/dx of max pooling, (N, C, H, W) ``shape``: each window's gradient added at its maximum ``which``."""
    n, c, h, w = shape
    gx = np.zeros(shape, np.float32)
    g = np.ascontiguousarray(grad, dtype=np.float32)
    _kernels["max_pool_backward"](g.reshape(n * c, -1), which.reshape(n * c, -1), gx.reshape(n * c, h * w))
    return gx


def cross_entropy_forward(x: Any, target: Any, ignore_index: int) -> tuple[int, int, Any, Any, Any]:
    """Cross-entropy of contiguous float32 logits (N, C) against int64 class indices (N,) in one compiled pass.

    Returns (valid rows, first out-of-range row or -1, loss per row, softmax p, targets with ignored ones as 0).
    """
    n = x.shape[0]
    p, loss, safe = np.empty_like(x), np.empty(n, x.dtype), np.empty(n, np.int64)
    count, bad = _kernels["cross_entropy_forward"](x, np.ascontiguousarray(target, dtype=np.int64), ignore_index,
                                                   p, loss, safe)
    return count, bad, loss, p, safe


def cross_entropy_backward(p: Any, safe: Any, s: Any) -> Any:
    """dL/dx = s[n] (p[n] - onehot(safe[n])) for :func:`cross_entropy_forward`'s p and targets, s (N,) float32."""
    gx = np.empty_like(p)
    _kernels["cross_entropy_backward"](p, safe, np.ascontiguousarray(s, dtype=p.dtype), gx)
    return gx


def scaled_add(p: Any, g: Any, factor: float) -> None:
    """p += factor * g in place, for contiguous float32 arrays of one shape (fused multiply-add, as torch's add_)."""
    _kernels["scaled_add"](p.reshape(-1), g.reshape(-1), np.float32(factor))


def adam_direction(u: Any, s: Any, v: Any, s_scale: float, v_scale: float, ratio: float, eps: float) -> None:
    """Adam's moments and direction in place, one pass (see ``numba_kernels.adam_direction``); float32 arrays."""
    f = np.float32
    _kernels["adam_direction"](u.reshape(-1), s.reshape(-1), v.reshape(-1), f(s_scale), f(v_scale), f(ratio), f(eps))
