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

Not covered (as in the paper): PCA / k-means weight initialization (its
section 3.3), networks whose affine layers are not applied once each in a
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

__all__ = ["DataDependentInit", "data_dependent_", "affine_layers", "change_rates", "unit_statistics"]

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
    """

    layers: list[str]
    beta: float
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
                  rng: np.random.Generator, report: DataDependentInit) -> None:
    for name, layer in layers:
        w = layer.weight.array
        if layer.bias is None:
            raise ValueError(f"data_dependent_: layer {name} has no bias, so its units cannot be centred on beta")
        if reinit:
            w[...] = rng.standard_normal(w.shape).astype(w.dtype, copy=False)
            layer.bias.array[...] = 0
        x = _layer_input(model, layer, sample)
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
                    generator: np.random.Generator | None = None) -> DataDependentInit:
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
            _within_layer(model, layers, x, float(beta), reinit, rng, report)
        if between_layer and iterations > 0:
            _between_layer(model, layers, x, float(alpha), iterations, draws, rng, report)
    finally:
        model.train(was_training)
    return report
