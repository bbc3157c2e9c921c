"""Differentiable backward rules of the fused recurrent layers (``ops/recurrent.py``).

The fused layers run BPTT by hand on arrays.  Under ``create_graph=True`` the
layer is recomputed as an unrolled loop of thalweg ops (the same equations,
PyTorch's gate order), and differentiated through that loop
(``common.decompose``): slower than the fused kernel, but every derivative of
every order is then available, including through padded (variable-length)
sequences.

    RNN:   h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    LSTM:  i, f, g, o = sigma, sigma, tanh, sigma of (W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
           c_t = f c_{t-1} + i g,  h_t = o tanh(c_t)
    GRU:   r, z = sigma(W_i{r,z} x_t + b_i{r,z} + W_h{r,z} h_{t-1} + b_h{r,z})
           n = tanh(W_in x_t + b_in + r (W_hn h_{t-1} + b_hn)),  h_t = (1 - z) n + z h_{t-1}

A padded step (``t >= length``) keeps the state and outputs 0.  The output is
the layer's packed array: the T outputs, then the final h (and c).
"""

from __future__ import annotations

from typing import Any, Callable

from ...backend import get_array_module
from ...ops import activation as A
from ...ops import api as F
from ...ops import recurrent as RC
from ..function import Context
from ..higher_order import constant, register
from .common import decompose


def _gates(a: Any, k: int, H: int) -> Any:
    return a[:, k * H:(k + 1) * H]


def _unroll(ctx: Context, x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, states: list[Any],
            step: Callable[[Any, Any, list[Any]], list[Any]]) -> Any:
    """Run ``step(input projection, hidden projection, states) -> new states`` over time; pack the output."""
    T = x.shape[0]
    proj = F.matmul(x, F.transpose(w_ih, 0, 1))
    if b_ih is not None:
        proj = proj + b_ih
    keep = getattr(ctx, "keep", None)
    w_hh_t = F.transpose(w_hh, 0, 1)
    outputs: list[Any] = [None] * T
    for t in (range(T - 1, -1, -1) if ctx.reverse else range(T)):
        hid = F.matmul(states[0], w_hh_t)
        if b_hh is not None:
            hid = hid + b_hh
        new = step(proj[t], hid, states)
        if keep is not None:  # padded steps keep the previous state
            real = constant(keep[t] > 0)
            new = [F.where(real, n, s) for n, s in zip(new, states)]
            outputs[t] = new[0] * constant(keep[t])
        else:
            outputs[t] = new[0]
        states = new
    return F.cat([F.stack(outputs, dim=0)] + [F.unsqueeze(s, 0) for s in states], dim=0)


def _values(ctx: Context, extra: tuple[Any, ...]) -> tuple[Any, ...]:
    """The saved values of the inputs that need no gradient (initial states as zeros when absent)."""
    x = ctx.x2.reshape(ctx.x_shape)
    return (x, ctx.w_ih, ctx.w_hh, ctx.b_ih, ctx.b_hh) + extra


def _zeros_like_state(ctx: Context, s: Any) -> Any:
    if s is not None:
        return s
    T, B, _ = ctx.x_shape
    xp = get_array_module(ctx.w_hh)
    return constant(xp.zeros((B, ctx.w_hh.shape[1]), dtype=ctx.w_hh.dtype))


@register(RC.RNNLayer)
def _rnn(ctx: Context, g: Any) -> tuple[Any, ...]:
    act = A.ReLU.apply if ctx.relu else A.Tanh.apply

    def step(p: Any, hid: Any, states: list[Any]) -> list[Any]:
        return [act(p + hid)]

    def build(x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, h0: Any) -> Any:
        return _unroll(ctx, x, w_ih, w_hh, b_ih, b_hh, [_zeros_like_state(ctx, h0)], step)

    return decompose(ctx, g, build, _values(ctx, (ctx.h0,)))


@register(RC.LSTMLayer)
def _lstm(ctx: Context, g: Any) -> tuple[Any, ...]:
    H = ctx.w_hh.shape[1]

    def step(p: Any, hid: Any, states: list[Any]) -> list[Any]:
        a = p + hid
        i, f = A.Sigmoid.apply(_gates(a, 0, H)), A.Sigmoid.apply(_gates(a, 1, H))
        gg, o = A.Tanh.apply(_gates(a, 2, H)), A.Sigmoid.apply(_gates(a, 3, H))
        c = f * states[1] + i * gg
        return [o * A.Tanh.apply(c), c]

    def build(x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, h0: Any, c0: Any) -> Any:
        states = [_zeros_like_state(ctx, h0), _zeros_like_state(ctx, c0)]
        return _unroll(ctx, x, w_ih, w_hh, b_ih, b_hh, states, step)

    return decompose(ctx, g, build, _values(ctx, (ctx.h0, ctx.c0)))


@register(RC.GRULayer)
def _gru(ctx: Context, g: Any) -> tuple[Any, ...]:
    H = ctx.w_hh.shape[1]

    def step(p: Any, hid: Any, states: list[Any]) -> list[Any]:
        r = A.Sigmoid.apply(_gates(p, 0, H) + _gates(hid, 0, H))
        z = A.Sigmoid.apply(_gates(p, 1, H) + _gates(hid, 1, H))
        n = A.Tanh.apply(_gates(p, 2, H) + r * _gates(hid, 2, H))
        return [(1.0 - z) * n + z * states[0]]

    def build(x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, h0: Any) -> Any:
        return _unroll(ctx, x, w_ih, w_hh, b_ih, b_hh, [_zeros_like_state(ctx, h0)], step)

    return decompose(ctx, g, build, _values(ctx, (ctx.h0,)))
