"""Data-dependent initialization (Krähenbühl, Doersch, Donahue & Darrell, ICLR 2016, arXiv:1511.06856).

The idea: set the weights from a small batch of real inputs so that every
unit starts with the same input distribution and every layer learns at the
same *rate*, instead of trusting an analytic formula (Glorot, He) that holds
only for the non-linearity it was derived for.  Two steps:

**Within-layer normalization** (the paper's Algorithm 1).  For each affine
layer ``k`` (``Linear``, ``Conv1d``, ``Conv2d``) in the order the forward pass
applies them: draw ``W_k ~ N(0, 1)``, ``b_k = 0`` (or keep the current
weights, ``reinit=False``); pass the sample through the network up to layer
``k``; measure each output unit's (each channel's, over batch and positions)
mean ``mu_i`` and standard deviation ``sigma_i``; then::

    W_k[i, :] <- W_k[i, :] / sigma_i,        b_k[i] <- beta - mu_i / sigma_i

so on the sample every pre-activation unit has mean ``beta`` and variance 1.
A unit with ``sigma_i = 0`` (constant on the sample) is only re-centred.

**Between-layer scale adjustment** (Algorithm 2).  A layer's *change rate*
is how much one gradient step changes it relative to its size; with a random
linear loss ``l = eta^T z_N`` (``eta ~ N(0, I)`` drawn per example, so no
labels are used) it is estimated as::

    C_k = sqrt( E_x || d l_x / d W_k ||^2 ) / || W_k ||

from per-example gradients (one backward pass gives every example's error
at each layer's output; an example's weight gradient is that error times the
layer's input).  Each iteration takes
the geometric mean ``C`` of the ``C_k`` and rescales layer ``k`` by::

    s_k = (C_k / C) ^ (alpha / 2),      damping alpha = 0.25 (the paper's value)

Multiplying a layer's weights by ``s_k`` and dividing the next layer's
weights by it leaves the network's function unchanged when the operations
between are positively homogeneous (ReLU, leaky ReLU, max/average pooling,
flattening), and divides ``C_k`` by ``s_k^2``; so with ``alpha = 1`` one
iteration would equalise the rates and ``alpha < 1`` moves them
``alpha`` of the way (in log scale) per iteration, avoiding the oscillation
the paper reports.  The paper's pseudo-code scales layer ``k`` and "undoes
the scaling in the layer above"; applied to every layer at once that
composes into cumulative factors ``R_k = s_1 ... s_k``::

    W_k <- s_k W_k,       b_k <- R_k b_k       (so layer k's output is R_k times the old one)

and ``R_N = prod s_k = 1`` because ``C`` is the geometric mean: the output
layer ends where it started, which is the paper's reason for that mean (and
what the authors' released code does).  The loop runs ``iterations`` times
(the paper: "roughly 10").

**Data-driven weights** (section 3.3; ``weights="pca"`` or ``"kmeans"``).
Instead of ``N(0, 1)``, each convolution's filters come from its own input
patches on the sample (every position of every image, up to ``max_patches``
drawn at random), before the within-layer step normalizes them:

* PCA: the filters are the first ``M`` principal components of the centred
  patches, each divided by the square root of its eigenvalue, so that the
  layer's outputs are white and decorrelated on the sample;
* k-means (Coates & Ng, 2012): the patches are ZCA-whitened (eigenvalues
  regularised by 1% of their mean) and scaled to unit length, spherical
  k-means with ``M`` centroids runs ``kmeans_iterations`` times (each
  centroid moves to the sum of the patches whose largest |projection| it
  holds, plus itself, then is renormalised), and the filters are the
  centroids composed with the whitening, so each output unit responds to one
  mode of the input.

As in the paper, only convolutional layers get them ("not enough data to
estimate the weights of fully connected layers"); ``Linear`` layers keep the
Gaussian draw.  Filters beyond the patch dimension (``M > C k_h k_w``) are
Gaussian.  Grouped or dilated convolutions and string paddings are not
supported by these two methods.

Not covered: networks whose affine layers are not applied once each in a
chain, and batch normalization (which makes the scales irrelevant anyway).
The paper does not say which ``beta`` it used; the default here is 0 (the
authors' script defaults to 0.1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import random as _random
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from .conv import Conv1d, Conv2d
from .linear import Linear
from .module import Module

__all__ = ["DataDependentInit", "data_dependent_", "affine_layers", "change_rates", "unit_statistics",
           "conv_patches", "pca_filters", "kmeans_filters", "WEIGHT_METHODS"]

WEIGHT_METHODS = ("gaussian", "pca", "kmeans")

_AFFINE = (Linear, Conv1d, Conv2d)


class _Stop(Exception):
    """Raised by a forward pre-hook to end a forward pass once the wanted layer's input is known."""


@dataclass
class DataDependentInit:
    """What ``data_dependent_`` did, for checking and for reports.

    Attributes:
        layers: the affine layers' names in forward order.
        mean_error, std_error: after the within-layer step, the largest
            ``|mean - beta|`` and ``|std - 1|`` over the units of each layer, on
            the sample (empty when the step was skipped).
        rates_before, rates_after: each layer's change rate ``C_k`` before and
            after the between-layer step (averaged over ``draws`` random losses).
        rate_history: the rates each iteration started from.
        scales: the cumulative factors ``R_k`` applied to each layer's output.
        output_change: ``max |out_after - out_before| / max |out_before|`` of the
            network on the sample across the between-layer step (0 for an
            exactly homogeneous network).
        weights: how each layer's weights were drawn before the within-layer
            step (``"gaussian"``, ``"pca"``, ``"kmeans"``; ``"kept"`` with
            ``reinit=False``).
    """

    layers: list[str]
    beta: float
    weights: dict[str, str] = field(default_factory=dict)
    mean_error: list[float] = field(default_factory=list)
    std_error: list[float] = field(default_factory=list)
    rates_before: list[float] = field(default_factory=list)
    rates_after: list[float] = field(default_factory=list)
    rate_history: list[list[float]] = field(default_factory=list)
    scales: list[float] = field(default_factory=list)
    output_change: float = 0.0

    @staticmethod
    def spread(rates: list[float]) -> float:
        """``max / min`` of a list of change rates (1 = all equal)."""
        return float(max(rates) / min(rates)) if rates and min(rates) > 0 else math.inf


def affine_layers(model: Module, sample: Any) -> list[tuple[str, Module]]:
    """The ``Linear``/``Conv`` layers of ``model`` in the order one forward pass on ``sample`` applies them.

    Raises ``ValueError`` if a layer is applied more than once or not at all
    (the procedure needs a feed-forward chain).
    """
    names = {id(m): name for name, m in model.named_modules() if isinstance(m, _AFFINE)}
    if not names:
        raise ValueError(f"data_dependent_: {type(model).__name__} has no Linear or Conv layer")
    order: list[int] = []
    handles = [m.register_forward_pre_hook(lambda mod, args: order.append(id(mod)))
               for m in model.modules() if isinstance(m, _AFFINE)]
    try:
        with no_grad():
            model(_tensor(sample))
    finally:
        for h in handles:
            h.remove()
    by_id = {id(m): m for m in model.modules()}
    repeated = {names[i] for i in order if order.count(i) > 1}
    unused = [names[i] for i in names if i not in order]
    if repeated or unused:
        raise ValueError(f"data_dependent_: every Linear/Conv layer must be applied exactly once per forward pass; "
                         f"applied more than once: {sorted(repeated) or 'none'}, never: {unused or 'none'}")
    return [(names[i], by_id[i]) for i in order]


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def _layer_input(model: Module, layer: Module, sample: Tensor) -> Tensor:
    """The input ``layer`` receives when ``model`` runs on ``sample`` (the forward pass stops there)."""
    box: list[Tensor] = []

    def grab(mod: Module, args: tuple[Any, ...]) -> None:
        box.append(args[0])
        raise _Stop

    handle = layer.register_forward_pre_hook(grab)
    try:
        with no_grad():
            model(sample)
    except _Stop:
        pass
    finally:
        handle.remove()
    if not box:
        raise RuntimeError(f"data_dependent_: layer {layer!r} was not reached by the forward pass")
    return box[0]


def unit_statistics(output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit mean and standard deviation of a layer output ``(N, C, ...)``, over every axis but 1 (float64)."""
    z = np.asarray(output, dtype=np.float64)
    axes = (0,) + tuple(range(2, z.ndim))
    return z.mean(axis=axes), z.std(axis=axes)


def _within_layer(model: Module, layers: list[tuple[str, Module]], sample: Tensor, beta: float, reinit: bool,
                  rng: np.random.Generator, report: DataDependentInit, weights: str = "gaussian",
                  max_patches: int = 20_000, kmeans_iterations: int = 10) -> None:
    for name, layer in layers:
        w = layer.weight.array
        if layer.bias is None:
            raise ValueError(f"data_dependent_: layer {name} has no bias, so its units cannot be centred on beta")
        x = _layer_input(model, layer, sample)  # depends only on the layers before, already set
        if not reinit:
            report.weights[name] = "kept"
        elif weights != "gaussian" and isinstance(layer, (Conv1d, Conv2d)):
            patches = conv_patches(layer, x.array, max_patches=max_patches, generator=rng)
            if weights == "pca":
                filters, bias = pca_filters(patches, w.shape[0], generator=rng)
            else:
                filters, bias = kmeans_filters(patches, w.shape[0], iterations=kmeans_iterations, generator=rng)
            w[...] = filters.reshape(w.shape).astype(w.dtype, copy=False)
            layer.bias.array[...] = bias.astype(layer.bias.array.dtype, copy=False)
            report.weights[name] = weights
        else:
            w[...] = rng.standard_normal(w.shape).astype(w.dtype, copy=False)
            layer.bias.array[...] = 0
            report.weights[name] = "gaussian"
        with no_grad():
            mu, sigma = unit_statistics(layer(x).array)
        safe = np.where(sigma > 1e-12, sigma, 1.0)
        w /= safe.reshape((-1,) + (1,) * (w.ndim - 1)).astype(w.dtype)
        # the old bias is included in mu: after the division the output is (z - mu)/sigma + beta
        b = layer.bias.array
        b[...] = ((b.astype(np.float64) - mu) / safe + beta).astype(b.dtype)
        with no_grad():
            mu2, sigma2 = unit_statistics(layer(x).array)
        live = sigma > 1e-12
        report.mean_error.append(float(np.max(np.abs(mu2 - beta))))
        report.std_error.append(float(np.max(np.abs(sigma2[live] - 1.0))) if live.any() else 0.0)


def conv_patches(layer: Module, x: Any, *, max_patches: int = 20_000,
                 generator: np.random.Generator | None = None) -> np.ndarray:
    """The input patches a ``Conv1d``/``Conv2d`` layer sees on ``x``: ``(P, C * k...)`` in the filters' order.

    Every position of every example (after zero padding and stride), at most
    ``max_patches`` of them drawn without replacement (float64).
    """
    if not isinstance(layer, (Conv1d, Conv2d)):
        raise TypeError(f"conv_patches: expected a Conv1d or Conv2d layer, got {type(layer).__name__}")
    if layer.groups != 1 or any(d != 1 for d in layer.dilation) or isinstance(layer.padding, str) \
            or layer.padding_mode != "zeros":
        raise ValueError("conv_patches: only groups=1, dilation=1 and numeric zero padding are supported")
    z = np.asarray(x, dtype=np.float64)
    kernel, stride, pad = tuple(layer.kernel_size), tuple(layer.stride), tuple(layer.padding)
    if isinstance(layer, Conv1d):
        z, kernel, stride, pad = z[:, :, None, :], (1,) + kernel, (1,) + stride, (0,) + pad
    z = np.pad(z, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    win = np.lib.stride_tricks.sliding_window_view(z, kernel, axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
    patches = win.transpose(0, 2, 3, 1, 4, 5).reshape(-1, z.shape[1] * kernel[0] * kernel[1])
    if len(patches) > max_patches:
        rng = _random.get_generator(generator)
        patches = patches[np.sort(rng.choice(len(patches), size=max_patches, replace=False))]
    return np.ascontiguousarray(patches)


def _eigen(patches: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, eigenvalues (descending, clipped at 0) and eigenvectors (columns) of the patches' covariance."""
    mean = patches.mean(axis=0)
    centred = patches - mean
    vals, vecs = np.linalg.eigh(centred.T @ centred / max(len(patches), 1))
    order = np.argsort(vals)[::-1]
    return mean, np.clip(vals[order], 0.0, None), vecs[:, order]


def _fill_rows(filters: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``filters`` with Gaussian rows appended up to ``count`` rows (when there are more units than dimensions)."""
    if len(filters) >= count:
        return filters[:count]
    extra = rng.standard_normal((count - len(filters), filters.shape[1])) / math.sqrt(filters.shape[1])
    return np.vstack([filters, extra])


def pca_filters(patches: np.ndarray, count: int, *, generator: np.random.Generator | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """``(W, b)``: the first ``count`` principal components of ``patches``, each over the square root of its
    eigenvalue, and the bias that centres them: ``W x + b`` is white and decorrelated on the patches."""
    rng = _random.get_generator(generator)
    mean, vals, vecs = _eigen(np.asarray(patches, dtype=np.float64))
    floor = 1e-8 * max(float(vals.max(initial=0.0)), 1e-30)
    w = (vecs / np.sqrt(np.maximum(vals, floor))).T
    w = _fill_rows(w, count, rng)
    return w, -(w @ mean)


def kmeans_filters(patches: np.ndarray, count: int, *, iterations: int = 10, whiten_eps: float = 0.01,
                   generator: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(W, b)``: spherical k-means centroids of the ZCA-whitened, unit-length patches (Coates & Ng, 2012),
    composed with the whitening so that ``W x + b`` is each centroid's response to a raw patch.

    ``whiten_eps``: the eigenvalues are regularised by this fraction of their mean before whitening.
    """
    if not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"kmeans_filters: iterations must be a positive integer, got {iterations!r}")
    rng = _random.get_generator(generator)
    x = np.asarray(patches, dtype=np.float64)
    mean, vals, vecs = _eigen(x)
    zca = vecs @ np.diag(1.0 / np.sqrt(vals + whiten_eps * max(float(vals.mean()), 1e-30))) @ vecs.T
    white = (x - mean) @ zca.T
    white /= np.maximum(np.linalg.norm(white, axis=1, keepdims=True), 1e-12)
    k = min(count, len(white))
    centroids = white[rng.choice(len(white), size=k, replace=False)].copy()
    for _ in range(iterations):
        scores = white @ centroids.T
        best = np.argmax(np.abs(scores), axis=1)
        moved = np.zeros_like(centroids)
        np.add.at(moved, best, scores[np.arange(len(white)), best][:, None] * white)
        centroids = moved + centroids
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    w = _fill_rows(centroids @ zca, count, rng)
    return w, -(w @ mean)


def _per_example_sq_norms(layer: Module, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``||d l_x / d W||^2`` for each example ``x``, from the layer's input ``z`` and output gradient ``y``."""
    n = z.shape[0]
    if isinstance(layer, Linear):
        z64 = np.asarray(z, dtype=np.float64).reshape(n, -1, z.shape[-1])
        y64 = np.asarray(y, dtype=np.float64).reshape(n, -1, y.shape[-1])
        if z64.shape[1] == 1:  # the usual (N, in) input: the gradient y z^T has norm |y| |z|
            return np.sum(y64[:, 0] ** 2, axis=1) * np.sum(z64[:, 0] ** 2, axis=1)
        # (N, ..., in): g = sum_p y_p z_p^T, ||g||^2 = sum_{p,q} (y_p . y_q)(z_p . z_q)
        return np.einsum("npq,npq->n", y64 @ y64.transpose(0, 2, 1), z64 @ z64.transpose(0, 2, 1))
    out = np.empty(n)
    for i in range(n):  # convolutions: the library's own backward, one example at a time
        layer.weight.grad = None
        (layer(Tensor(z[i:i + 1])) * Tensor(y[i:i + 1])).sum().backward()
        out[i] = float(np.sum(np.square(layer.weight.grad.array, dtype=np.float64)))
    layer.weight.grad = None
    return out


def change_rates(model: Module, layers: list[tuple[str, Module]], sample: Any, *, draws: int = 1,
                 generator: np.random.Generator | None = None) -> list[float]:
    """Each layer's change rate ``C_k`` (module docstring) under random linear losses, averaged over ``draws``.

    ``E_x ||d l_x / d W_k||^2`` is computed from per-example gradients: one
    backward pass of ``sum_x eta_x . z_N(x)`` gives every example's error
    ``y_k(x)`` at each layer's output (the examples do not interact in eval
    mode), and the weight gradient of one example is ``y_k(x) z_{k-1}(x)^T``
    (summed over positions for a convolution).
    """
    rng = _random.get_generator(generator)
    x = _tensor(sample)
    sq = np.zeros(len(layers))
    for _ in range(draws):
        captured: dict[int, tuple[Tensor, Tensor]] = {}

        def keep(mod: Module, args: tuple[Any, ...], out: Tensor) -> None:
            out.retain_grad()
            captured[id(mod)] = (args[0], out)

        handles = [layer.register_forward_hook(keep) for _, layer in layers]
        try:
            out = model(x)
            eta = rng.standard_normal(out.shape).astype(out.array.dtype)
            (out * Tensor(eta)).sum().backward()
        finally:
            for h in handles:
                h.remove()
        for i, (name, layer) in enumerate(layers):
            z, o = captured[id(layer)]
            y = o.grad.array if o.grad is not None else np.zeros_like(o.array)
            sq[i] += float(np.mean(_per_example_sq_norms(layer, np.asarray(z.array), np.asarray(y))))
    for p in model.parameters():
        p.grad = None
    rates = []
    for i, (_, layer) in enumerate(layers):
        wn = float(np.sqrt(np.sum(np.square(layer.weight.array, dtype=np.float64))))
        rates.append(math.sqrt(sq[i] / draws) / wn if wn > 0 else math.inf)
    return rates


def _between_layer(model: Module, layers: list[tuple[str, Module]], sample: Tensor, alpha: float, iterations: int,
                   draws: int, rng: np.random.Generator, report: DataDependentInit) -> None:
    with no_grad():
        before = np.asarray(model(sample).array, dtype=np.float64)
    report.rates_before = change_rates(model, layers, sample, draws=draws, generator=rng)
    cumulative = np.ones(len(layers))
    rates = report.rates_before
    for it in range(iterations):
        if it > 0:
            rates = change_rates(model, layers, sample, draws=draws, generator=rng)
        report.rate_history.append(list(rates))
        logs = np.log(np.asarray(rates))
        if not np.all(np.isfinite(logs)):
            raise ValueError(f"data_dependent_: a layer's change rate is zero or infinite ({rates}); the sample does "
                             "not reach every layer")
        s = np.exp(0.5 * alpha * (logs - logs.mean()))
        s[-1] = 1.0 / np.prod(s[:-1])  # exact product 1 despite rounding: the output layer ends unchanged
        r = 1.0
        for (_, layer), sk in zip(layers, s):
            r *= sk
            layer.weight.array *= np.asarray(sk, dtype=layer.weight.array.dtype)
            layer.bias.array *= np.asarray(r, dtype=layer.bias.array.dtype)
        cumulative *= np.cumprod(s)
    report.scales = cumulative.tolist()
    report.rates_after = change_rates(model, layers, sample, draws=draws, generator=rng)
    with no_grad():
        after = np.asarray(model(sample).array, dtype=np.float64)
    report.output_change = float(np.max(np.abs(after - before)) / max(float(np.max(np.abs(before))), 1e-30))


def data_dependent_(model: Module, sample: Any, *, beta: float = 0.0, alpha: float = 0.25, iterations: int = 10,
                    within_layer: bool = True, between_layer: bool = True, reinit: bool = True, draws: int = 1,
                    generator: np.random.Generator | None = None, weights: str = "gaussian",
                    max_patches: int = 20_000, kmeans_iterations: int = 10) -> DataDependentInit:
    """Initialize ``model``'s ``Linear``/``Conv`` layers in place from a batch of inputs ``sample``.

    Args:
        sample: a batch of training inputs (array or Tensor, ``N`` first);
            the paper finds dozens of images enough for a CNN, and uses 160.
        beta: the mean every pre-activation unit gets on the sample.
        alpha: the damping of the between-layer step (0 < alpha <= 1).
        iterations: between-layer iterations (the paper: about 10).
        within_layer, between_layer: which of the two steps to run.
        reinit: draw ``W ~ N(0, 1)``, ``b = 0`` before normalizing (the
            paper's Algorithm 1); False rescales the current weights (the
            paper also applies the method to pre-initialized networks).
        draws: random losses averaged per change-rate estimate.
        generator: the random generator (default: thalweg's).
        weights: how the weights are drawn before the within-layer step (with
            ``reinit``): ``"gaussian"`` (Algorithm 1), or the section 3.3
            initializations ``"pca"`` and ``"kmeans"`` for the convolutions
            (``Linear`` layers stay Gaussian; see the module docstring).
        max_patches, kmeans_iterations: the patches sampled per convolution,
            and the k-means iterations, for ``"pca"`` and ``"kmeans"``.

    Returns a ``DataDependentInit`` report.  The model is run in eval mode
    (dropout off) and its mode is restored.  Exact function preservation in
    the between-layer step needs positively homogeneous operations between
    the affine layers; ``report.output_change`` says how well it held.
    """
    if not (isinstance(alpha, (int, float)) and 0 < alpha <= 1):
        raise ValueError(f"data_dependent_: alpha must be in (0, 1], got {alpha!r}")
    if not isinstance(iterations, int) or iterations < 0:
        raise ValueError(f"data_dependent_: iterations must be a non-negative integer, got {iterations!r}")
    if not isinstance(draws, int) or draws < 1:
        raise ValueError(f"data_dependent_: draws must be a positive integer, got {draws!r}")
    if not math.isfinite(beta):
        raise ValueError(f"data_dependent_: beta must be finite, got {beta!r}")
    if weights not in WEIGHT_METHODS:
        raise ValueError(f"data_dependent_: weights must be one of {', '.join(WEIGHT_METHODS)}, got {weights!r}")
    if not isinstance(max_patches, int) or max_patches < 2:
        raise ValueError(f"data_dependent_: max_patches must be an integer >= 2, got {max_patches!r}")
    x = _tensor(sample)
    if x.ndim < 2 or x.shape[0] < 2:
        raise ValueError(f"data_dependent_: sample must be a batch of at least 2 inputs, got shape {tuple(x.shape)}")
    rng = _random.get_generator(generator)
    was_training = bool(getattr(model, "training", False))
    model.eval()
    try:
        layers = affine_layers(model, x)
        report = DataDependentInit(layers=[name for name, _ in layers], beta=float(beta))
        if within_layer:
            _within_layer(model, layers, x, float(beta), reinit, rng, report, weights, max_patches, kmeans_iterations)
        if between_layer and iterations > 0:
            _between_layer(model, layers, x, float(alpha), iterations, draws, rng, report)
    finally:
        model.train(was_training)
    return report
