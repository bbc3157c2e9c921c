"""Fused recurrent layers: one graph node per layer and direction, with analytic BPTT.

An unrolled recurrence written with ordinary ops would put a dozen tiny nodes
into the graph for every time step.  Here each layer and direction is *one*
``Function``:

* the input projections of all time steps are computed up front, one matrix
  product per gate over all ``T * B`` rows;
* ``forward`` loops over time in NumPy: add ``h_{t-1} W_hh^T`` to the step's
  projections, apply the gate nonlinearities, update the state, and keep the
  gate activations that the backward pass needs;
* ``backward`` is backpropagation through time written out by hand: it walks
  the steps in reverse, carrying ``dL/dh`` (and ``dL/dc`` for the LSTM) from
  step to step.  Everything that does not depend on the carried gradient (the
  gate derivatives such as ``sigma(a)(1 - sigma(a))``) is computed for all time
  steps at once before the loop, so the loop itself is a handful of
  elementwise products and one product with ``W_hh`` per step.  The weight
  gradients are then single matrix products over all steps:
  ``dW_hh = sum_t dA_t^T h_{t-1}`` and ``dW_ih = sum_t dA_t^T x_t``.

Conventions (PyTorch's, so weights move between the two as arrays):

* ``x`` is time-major, ``(T, B, input)``; ``h0``/``c0`` are ``(B, H)`` or
  ``None`` (zeros).
* ``w_ih`` is ``(gates*H, input)``, ``w_hh`` is ``(gates*H, H)``; ``b_ih`` and
  ``b_hh`` are ``(gates*H,)`` or ``None``.  Gate order: LSTM ``i, f, g, o``;
  GRU ``r, z, n``.
* The output is one packed array ``Z`` of shape ``(T + k, B, H)``: ``Z[:T]``
  are the per-step outputs (time order, also for ``reverse=True``), ``Z[T]`` is
  the final hidden state and, for the LSTM, ``Z[T + 1]`` the final cell state.
  (A ``Function`` has one output; the layer slices the packed array.)

Variable lengths: with ``lengths`` (one int per batch column, ``1 <= len <=
T``), step ``t`` of column ``b`` is real when ``t < lengths[b]``.  Padded steps
leave the state unchanged and output zeros, so the final state is the state at
each sequence's own last step.  The reverse direction walks ``t = T-1 .. 0``:
its padded steps come *first* and keep the initial state, which is exactly
"each sequence reversed within its own length".

Speed notes (each measured against PyTorch on one core, see benchmarks/):

* Gate-major layout.  The forward pass keeps gates in arrays of shape
  ``(gates, T, B, H)``: block ``[k, t]`` is gate ``k`` at step ``t``, a
  contiguous ``(B, H)`` matrix.  NumPy runs an elementwise op on a contiguous
  array several times faster than on a strided slice (such as one gate's
  columns inside a row-major ``(B, gates*H)`` product), and a gated layer does
  dozens of such ops per step.  ``h_{t-1} W_hh^T`` is then a batch of per-gate
  ``(B, H) @ (H, H)`` products, which OpenBLAS runs no slower than one
  ``(B, H) @ (H, gates*H)`` product.  The backward pass writes ``dL/dA``
  batch-major, ``(T, B, gates*H)``, because there each weight gradient is one
  large product over all steps, faster than a batch of per-gate ones.
* One tanh for all gates: ``sigmoid(a) = (1 + tanh(a / 2)) / 2``.  The weight
  and bias rows feeding sigmoid gates are halved once per call, so one
  ``tanh`` over the step's gate block serves every gate, followed by
  ``s = 0.5 s + 0.5`` on the sigmoid gates (no overflow either, unlike
  ``1 / (1 + exp(-a))``).
* Large private buffers come from a pool (``ops/workspace.py``) instead of
  fresh allocations, which would page-fault on first touch.

References: Hochreiter & Schmidhuber (1997), "Long Short-Term Memory";
Cho et al. (2014), "Learning Phrase Representations using RNN Encoder-Decoder"
(the GRU, in the variant PyTorch and cuDNN use, with ``r`` applied after the
hidden projection); Werbos (1990), "Backpropagation Through Time".
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Context, Function
from ..backend import get_array_module
from . import kernels
from .gemm import matmul
from .lstm_loops import lstm_loops
from .sums import column_sums
from .workspace import Lease, give, take


# ------------------------------------------------------------------ helpers
def _steps(T: int, reverse: bool) -> range:
    """The order in which the time steps are processed."""
    return range(T - 1, -1, -1) if reverse else range(T)


def _masks(xp: Any, lengths: Any, T: int, dtype: Any) -> tuple[Any, Any, Any]:
    """Boolean and float masks of the real steps, ``(T, B, 1)`` each, and ``1 - mask``."""
    real = xp.arange(T)[:, None, None] < xp.asarray(lengths)[None, :, None]
    keep = real.astype(dtype)
    return real, keep, 1 - keep


def _initial(xp: Any, s0: Any, B: int, H: int, dtype: Any) -> Any:
    return xp.zeros((B, H), dtype=dtype) if s0 is None else s0


def _store_state(xp: Any, dst: Any, new: Any, old: Any, real: Any) -> None:
    """``dst = new`` where the step is real, else ``old`` (padded steps keep the state)."""
    xp.copyto(dst, old)
    xp.copyto(dst, new, where=real)


def _shift_pairs(states: Any, reverse: bool) -> tuple[slice, Any, int]:
    """Pair each step with the state entering it, without copying.

    Returns ``(later, earlier, first)``: the steps ``later`` (a slice over time)
    see the states ``earlier`` (a view of ``states``, time-major), and the
    first processed step, index ``first``, sees the initial state.
    """
    T = states.shape[0]
    if reverse:
        return slice(0, T - 1), states[1:], T - 1
    return slice(1, T), states[:-1], 0


def _times_previous(out: Any, states: Any, s0: Any, reverse: bool) -> None:
    """``out[t] *= (state entering step t)`` for every t, in place."""
    later, earlier, first = _shift_pairs(states, reverse)
    out[later] *= earlier
    if s0 is None:
        out[first] = 0
    else:
        out[first] *= s0


def _add_previous(out: Any, states: Any, s0: Any, reverse: bool) -> None:
    """``out[t] += (state entering step t)`` for every t, in place."""
    later, earlier, first = _shift_pairs(states, reverse)
    out[later] += earlier
    if s0 is not None:
        out[first] += s0


def _half_rows(xp: Any, n_sigmoid: int, n: int, dtype: Any) -> Any:
    """Row scales ``[0.5] * n_sigmoid + [1] * (n - n_sigmoid)`` (see "one tanh for all gates")."""
    s = xp.ones(n, dtype=dtype)
    s[:n_sigmoid] = 0.5
    return s


def _finish_sigmoid(t: Any) -> None:
    """Turn ``tanh(a / 2)`` into ``sigmoid(a)`` in place."""
    t *= 0.5
    t += 0.5


def _gate_major(w: Any, gates: int, rows: Any = None, scale: Any = None) -> Any:
    """PyTorch's ``(gates*H, n)`` weight as ``gates`` contiguous ``(n, H)`` matrices.

    ``rows`` reorders the gate rows first, ``scale`` multiplies them; so
    ``v @ out[k]`` is gate ``k``'s (scaled) pre-activation for a row vector ``v``.
    """
    if rows is not None:
        w = w[rows]
    if scale is not None:
        w = w * scale[:, None]
    H = w.shape[0] // gates
    return w.reshape(gates, H, -1).transpose(0, 2, 1).copy()


def _project(x: Any, w_ih: Any, bias: Any, gates: int, rows: Any = None, scale: Any = None) -> tuple[Any, Any]:
    """The input projections of all steps, gate-major ``(gates, T, B, H)``: ``P[k] = X W_ih_k^T + b_k``.

    One product per gate over all ``T * B`` rows.  Returns ``(X, P)`` with ``X``
    the ``(T * B, input)`` view of ``x``; ``P`` comes from the workspace pool.
    """
    xp = get_array_module(x)
    T, B, F = x.shape
    H = w_ih.shape[0] // gates
    x2 = x.reshape(T * B, F)
    P = take(xp, (gates, T, B, H), x.dtype)
    matmul(x2, _gate_major(w_ih, gates, rows, scale), out=P.reshape(gates, T * B, H))
    if bias is not None:
        if rows is not None:
            bias = bias[rows]
        if scale is not None:
            bias = bias * scale
        P += bias.reshape(gates, 1, 1, H)
    return x2, P


def _torch_order(g: Any, rows: Any) -> Any:
    """Put the gate rows of a gradient (internal order) back in PyTorch's order."""
    return g if rows is None else g[get_array_module(g).argsort(rows)]


def _input_grads(ctx: Context, dA: Any, rows: Any = None) -> tuple[Any, Any, Any]:
    """Gradients of ``x``, ``W_ih`` and ``b_ih`` from ``dA`` = dL/d(input projections), ``(T, B, gates*H)``.

    ``dA`` is batch-major so that each is one matrix product over all steps.
    """
    need = ctx.needs_input_grad
    dA2 = dA.reshape(-1, dA.shape[-1])
    dx = dw_ih = db_ih = None
    if need[0]:
        w_ih = ctx.w_ih if rows is None else ctx.w_ih[rows]
        dx = matmul(dA2, w_ih).reshape(ctx.x_shape)
    if need[1]:
        dw_ih = _torch_order(matmul(dA2.T, ctx.x2), rows)
    if need[3]:
        db_ih = _torch_order(column_sums(dA2), rows)
    return dx, dw_ih, db_ih


def _hidden_grads(ctx: Context, dA: Any, rows: Any = None, db_same: Any = None) -> tuple[Any, Any]:
    """Gradients of ``W_hh`` and ``b_hh`` from ``dA`` = dL/d(hidden projections), ``(T, B, gates*H)``.

    ``dW_hh = sum_t dA[t]^T h_{t-1}``: one product over all steps whose entering
    state is stored, plus one for the initial state.  ``db_same`` is ``b_ih``'s
    gradient when it equals ``b_hh``'s (copied instead of summed again).
    """
    need = ctx.needs_input_grad
    n = dA.shape[-1]
    dw_hh = db_hh = None
    if need[2]:
        later, earlier, first = _shift_pairs(ctx.S, ctx.reverse)
        dw = matmul(dA[later].reshape(-1, n).T, earlier.reshape(-1, earlier.shape[-1]))
        if ctx.h0 is not None:
            dw += dA[first].T @ ctx.h0
        dw_hh = _torch_order(dw, rows)
    if need[4]:
        db_hh = db_same.copy() if db_same is not None else _torch_order(column_sums(dA.reshape(-1, n)), rows)
    return dw_hh, db_hh


# --------------------------------------------------------------------- RNN
class RNNLayer(Function):
    """Elman RNN over a whole sequence: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

    ``act`` is tanh (``nonlinearity="tanh"``) or ReLU.  BPTT: with
    ``dA_t = (dL/dh_t) * act'(a_t)``, the carried gradient is ``dL/dh_{t-1} = dA_t W_hh``.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, h0: Any, *,
                nonlinearity: str = "tanh", reverse: bool = False, lengths: Any = None) -> Any:
        xp = get_array_module(x)
        T, B, _ = x.shape
        H = w_hh.shape[1]
        x2, P = _project(x, w_ih, None if b_ih is None else b_ih + b_hh, 1)
        A = P[0]  # (T, B, H): becomes act(a_t) in place
        Z = xp.empty((T + 1, B, H), dtype=x.dtype)
        masked = lengths is not None
        S = take(xp, (T, B, H), x.dtype) if masked else Z[:T]  # the carried states
        if masked:
            real, keep, drop = _masks(xp, lengths, T, x.dtype)
        h = _initial(xp, h0, B, H, x.dtype)
        w_hh_t = xp.ascontiguousarray(w_hh.T)
        tmp = xp.empty((B, H), dtype=x.dtype)
        relu = nonlinearity == "relu"
        for t in _steps(T, reverse):
            a = A[t]
            matmul(h, w_hh_t, out=tmp)
            a += tmp
            new = a if masked else S[t]
            if relu:
                xp.maximum(a, 0, out=new)
            else:
                xp.tanh(a, out=new)
            if masked:
                _store_state(xp, S[t], a, h, real[t])
            h = S[t]
        if masked:  # padded steps: act(a_t) (in A) and the carried state (in S) differ
            xp.multiply(S, keep, out=Z[:T])
            ctx.keep, ctx.drop = keep, drop
            ctx.lease = Lease(P, S, alive=(Z,))
        else:  # S holds act(a_t) at every step; the projections are no longer needed
            give(P, alive=(Z,))
        Z[T] = h
        ctx.x2, ctx.w_ih, ctx.w_hh, ctx.h0 = x2, w_ih, w_hh, h0
        ctx.b_ih, ctx.b_hh = b_ih, b_hh  # references, for the recorded (create_graph) backward
        ctx.S, ctx.new = S, (A if masked else S)  # act(a_t) at every step
        ctx.relu, ctx.reverse, ctx.x_shape = relu, reverse, x.shape
        return Z

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        xp = get_array_module(grad)
        new, w_hh = ctx.new, ctx.w_hh
        T = new.shape[0]
        D = take(xp, new.shape, new.dtype)  # act'(a_t) for all t at once
        if ctx.relu:
            xp.greater(new, 0, out=D)
        else:
            xp.multiply(new, new, out=D)
            xp.subtract(1, D, out=D)
        masked = hasattr(ctx, "keep")
        dY, dh = grad[:T], grad[T]
        dA = take(xp, D.shape, D.dtype)
        for t in _steps(T, not ctx.reverse):
            g = dY[t] + dh
            if masked:
                g *= ctx.keep[t]
            xp.multiply(g, D[t], out=dA[t])
            carried = dA[t] @ w_hh
            if masked:
                carried += ctx.drop[t] * dh
            dh = carried
        dx, dw_ih, db_ih = _input_grads(ctx, dA)
        dw_hh, db_hh = _hidden_grads(ctx, dA, db_same=db_ih)
        give(D, dA, alive=(dx, dw_ih, dw_hh, db_ih, db_hh, dh))
        return dx, dw_ih, dw_hh, db_ih, db_hh, dh if ctx.needs_input_grad[5] else None


# -------------------------------------------------------------------- LSTM
# Internal gate order of the LSTM: [o, i, f, g] instead of PyTorch's [i, f, g, o],
# so the three sigmoid gates are one contiguous block (one fix-up after the
# shared tanh) and, in backward, the three gates driven by dL/dc (i, f, g) are
# one block too.  Internal gate k is PyTorch's gate _LSTM_GATES[k]; weights
# are permuted on the way in and gradients on the way out.
_LSTM_GATES = (3, 0, 1, 2)


def _lstm_rows(xp: Any, H: int) -> Any:
    """Row indices that reorder PyTorch's (4H, ...) gate rows into the internal order."""
    return xp.concatenate([xp.arange(k * H, (k + 1) * H) for k in _LSTM_GATES])


class LSTMLayer(Function):
    """LSTM over a whole sequence (PyTorch's gate order i, f, g, o in the weights)::

        [a_i, a_f, a_g, a_o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
        i, f, o = sigmoid(a_i, a_f, a_o);   g = tanh(a_g)
        c_t = f * c_{t-1} + i * g;          h_t = o * tanh(c_t)

    BPTT, with ``dh`` and ``dc`` the gradients reaching ``h_t`` and ``c_t``::

        dc  += dh * o * (1 - tanh(c_t)^2)
        da_o = dh * tanh(c_t) * o(1-o)
        da_i = dc * g * i(1-i);   da_f = dc * c_{t-1} * f(1-f);   da_g = dc * i * (1-g^2)
        dh_{t-1} = dA W_hh;       dc_{t-1} = dc * f
    """

    @staticmethod
    def forward(ctx: Context, x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, h0: Any, c0: Any, *,
                reverse: bool = False, lengths: Any = None) -> Any:
        xp = get_array_module(x)
        T, B, _ = x.shape
        H = w_hh.shape[1]
        dtype = x.dtype
        rows = _lstm_rows(xp, H)
        half = _half_rows(xp, 3 * H, 4 * H, dtype)  # o, i, f are sigmoid gates
        masked = lengths is not None
        h = _initial(xp, h0, B, H, dtype)
        c = _initial(xp, c0, B, H, dtype)
        float32 = x.dtype == w_ih.dtype == w_hh.dtype == xp.float32
        compiled = _compiled_lstm_step("lstm_forward_step", h, c) if float32 and not masked else None
        bias = None if b_ih is None else b_ih + b_hh
        # the compiled step adds the bias itself, which saves a pass over P
        x2, P = _project(x, w_ih, bias if compiled is None else None, 4, rows, half)
        if compiled is not None:
            bias = xp.zeros((4, H), dtype) if bias is None else (bias[rows] * half).astype(dtype).reshape(4, H)
        w_hh4 = _gate_major(w_hh, 4, rows, half)
        G = take(xp, (4, T, B, H), dtype)  # gate activations [o, i, f, g], saved for backward
        Z = xp.empty((T + 2, B, H), dtype=dtype)
        S = take(xp, (T, B, H), dtype) if masked else Z[:T]  # carried h
        C = take(xp, (T, B, H), dtype)  # carried c
        TC = take(xp, (T, B, H), dtype)  # tanh of the new cell state
        if masked:
            real, keep, drop = _masks(xp, lengths, T, dtype)
            c_new = xp.empty((B, H), dtype=dtype)
            h_new = xp.empty((B, H), dtype=dtype)
        a = xp.empty((4, B, H), dtype=dtype)  # this step's gates
        loops = lstm_loops(dtype, B, H) if compiled is not None else None
        if loops is not None:  # the whole loop compiled, MKL's product inside (ops/lstm_loops.py)
            loops[0](h, c, w_hh4, P, bias, a, G, C, TC, S, reverse)
            last = 0 if reverse else T - 1
            h, c = S[last], C[last]
        elif compiled is not None:  # the elementwise part of each step in one compiled loop
            for t in _steps(T, reverse):
                matmul(h, w_hh4, out=a)
                compiled(a, P, bias, t, c, G, C, TC, S)
                h, c = S[t], C[t]
        else:
            o, i, f, g = a
            ig = xp.empty((B, H), dtype=dtype)
            for t in _steps(T, reverse):
                matmul(h, w_hh4, out=a)
                a += P[:, t]
                xp.tanh(a, out=a)
                _finish_sigmoid(a[:3])
                cn = c_new if masked else C[t]
                xp.multiply(f, c, out=cn)
                xp.multiply(i, g, out=ig)
                cn += ig
                xp.tanh(cn, out=TC[t])
                xp.multiply(o, TC[t], out=h_new if masked else S[t])
                G[:, t] = a
                if masked:
                    _store_state(xp, C[t], c_new, c, real[t])
                    _store_state(xp, S[t], h_new, h, real[t])
                h, c = S[t], C[t]
        give(P, alive=(Z,))
        if masked:
            xp.multiply(S, keep, out=Z[:T])
            ctx.keep, ctx.drop = keep, drop
        Z[T] = h
        Z[T + 1] = c
        ctx.x2, ctx.w_ih, ctx.w_hh, ctx.h0, ctx.c0, ctx.rows = x2, w_ih, w_hh, h0, c0, rows
        ctx.b_ih, ctx.b_hh = b_ih, b_hh  # references, for the recorded (create_graph) backward
        ctx.G, ctx.S, ctx.C, ctx.TC = G, S, C, TC
        ctx.lease = Lease(G, C, TC, S, alive=(Z,)) if masked else Lease(G, C, TC, alive=(Z,))
        ctx.reverse, ctx.x_shape = reverse, x.shape
        return Z

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        xp = get_array_module(grad)
        G, TC, rows = ctx.G, ctx.TC, ctx.rows
        T, B, H = TC.shape
        w_hh4 = ctx.w_hh[rows].reshape(4, H, H)  # unscaled: dh_{t-1} = sum_k dA_k W_hh_k
        if not hasattr(ctx, "keep"):
            grad = xp.ascontiguousarray(grad)
            step = _compiled_lstm_step("lstm_backward_step", grad, w_hh4, G, TC)
            if step is not None:
                return _lstm_backward_compiled(ctx, grad, w_hh4, step)
        o, i, f, g = G
        # Everything that does not depend on the carried gradients, for all steps at once:
        # dc += dh * K;  dA = [dh, dc, dc, dc] * L  (gates o, i, f, g).
        K = take(xp, TC.shape, TC.dtype)
        xp.multiply(TC, TC, out=K)
        xp.subtract(1, K, out=K)
        K *= o
        L = take(xp, G.shape, G.dtype)
        s, ls = G[:3], L[:3]
        xp.multiply(s, s, out=ls)
        xp.subtract(s, ls, out=ls)  # s(1-s) for o, i, f
        L[0] *= TC
        L[1] *= g
        _times_previous(L[2], ctx.C, ctx.c0, ctx.reverse)
        xp.multiply(g, g, out=L[3])
        xp.subtract(1, L[3], out=L[3])
        L[3] *= i
        masked = hasattr(ctx, "keep")
        dY, dh, dc = grad[:T], grad[T], grad[T + 1]
        # dA is batch-major, (T, B, 4, H), so the weight gradients are single products.
        dA = take(xp, (T, B, 4, H), L.dtype)
        back = xp.empty((4, B, H), dtype=dA.dtype)
        for t in _steps(T, not ctx.reverse):
            dh_t = dY[t] + dh
            if masked:
                dh_t *= ctx.keep[t]
            dc_t = dh_t * K[t]
            dc_t += dc * ctx.keep[t] if masked else dc
            da = dA[t].transpose(1, 0, 2)  # this step's (4, B, H) view
            xp.multiply(dh_t, L[0, t], out=da[0])
            xp.multiply(dc_t, L[1:, t], out=da[1:])
            dc_prev = dc_t * f[t]
            matmul(da, w_hh4, out=back)
            dh_prev = back.sum(axis=0)
            if masked:
                dc_prev += ctx.drop[t] * dc
                dh_prev += ctx.drop[t] * dh
            dh, dc = dh_prev, dc_prev
        give(K, L, alive=(dh, dc))
        return _lstm_parameter_grads(ctx, dA, dh, dc)


def _lstm_parameter_grads(ctx: Context, dA: Any, dh: Any, dc: Any) -> tuple[Any, ...]:
    """All of LSTMLayer's gradients from dA = dL/d(pre-activations), (T, B, 4, H), and dL/dh0, dL/dc0."""
    T, B, _, H = dA.shape
    need = ctx.needs_input_grad
    dA2 = dA.reshape(T, B, 4 * H)
    dx, dw_ih, db_ih = _input_grads(ctx, dA2, ctx.rows)
    dw_hh, db_hh = _hidden_grads(ctx, dA2, ctx.rows, db_same=db_ih)
    give(dA, alive=(dx, dw_ih, dw_hh, db_ih, db_hh, dh, dc))
    return dx, dw_ih, dw_hh, db_ih, db_hh, dh if need[5] else None, dc if need[6] else None


def _compiled_lstm_step(name: str, *arrays: Any) -> Any:
    """The compiled step kernel ``name`` when every array is contiguous float32 and the kernels are on, else None.

    With it, each time step is the NumPy product with W_hh plus one compiled
    loop for everything elementwise (about a dozen NumPy calls otherwise),
    using a vectorised rational tanh (``numba_kernels.fast_tanh``, within 6
    units in the last place).  Sequences with ``lengths`` use the NumPy loop.
    """
    return kernels.get(name) if kernels.usable(*(a for a in arrays if a is not None)) else None


def _lstm_backward_compiled(ctx: Context, grad: Any, w_hh4: Any, step: Any) -> tuple[Any, ...]:
    """LSTMLayer's backward with :func:`numba_kernels.lstm_backward_step` (same formulas as the NumPy loop).

    The step's product ``back = dA_t W_hh`` stays split by gate; the next
    step's kernel adds the four parts into dL/dh, so no separate sum is needed.
    """
    xp = get_array_module(grad)
    G, TC, C = ctx.G, ctx.TC, ctx.C
    T, B, H = TC.shape
    dA = take(xp, (T, B, 4, H), grad.dtype)
    c0 = xp.zeros((B, H), grad.dtype) if ctx.c0 is None else xp.ascontiguousarray(ctx.c0, dtype=grad.dtype)
    loops = lstm_loops(grad.dtype, B, H)
    if loops is not None:  # the whole loop compiled (ops/lstm_loops.py); c0 is contiguous float32 like grad
        back, dc, dh = grad[T].copy(), grad[T + 1].copy(), xp.empty((B, H), dtype=grad.dtype)
        loops[1](back, grad, dc, G, TC, C, c0, dA, dh, w_hh4.reshape(4 * H, H), ctx.reverse)
        return _lstm_parameter_grads(ctx, dA, back, dc)
    back = xp.zeros((4, B, H), dtype=grad.dtype)
    back[0] = grad[T]  # dL/dh_T from after the sequence
    dc = grad[T + 1].copy()
    dh = xp.empty((B, H), dtype=grad.dtype)  # the kernel's scratch for dL/dh_t
    first = T - 1 if ctx.reverse else 0  # the step whose entering state is c0
    for t in _steps(T, not ctx.reverse):
        c_prev = c0 if t == first else C[t + 1 if ctx.reverse else t - 1]
        step(back, grad, t, dc, G, TC, c_prev, dA, dh)
        matmul(dA[t].transpose(1, 0, 2), w_hh4, out=back)
    return _lstm_parameter_grads(ctx, dA, back.sum(axis=0), dc)


# --------------------------------------------------------------------- GRU
class GRULayer(Function):
    """GRU over a whole sequence (gate order r, z, n, as PyTorch)::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

    BPTT, with ``dh`` the gradient reaching ``h'`` and ``hn = W_hn h + b_hn``::

        da_n = dh * (1-z) * (1-n^2);    da_z = dh * (h - n) * z(1-z)
        da_r = da_n * hn * r(1-r)
        dL/dh = dh * z + [da_r, da_z, da_n * r] W_hh

    The input projections' gradient is ``[da_r, da_z, da_n]``; the hidden
    projections' differs only in its ``n`` block (``da_n * r``).
    """

    @staticmethod
    def forward(ctx: Context, x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, h0: Any, *,
                reverse: bool = False, lengths: Any = None) -> Any:
        xp = get_array_module(x)
        T, B, _ = x.shape
        H = w_hh.shape[1]
        dtype = x.dtype
        half = _half_rows(xp, 2 * H, 3 * H, dtype)  # r and z are sigmoid gates
        x2, P = _project(x, w_ih, b_ih, 3, scale=half)
        w_hh3 = _gate_major(w_hh, 3, scale=half)
        b_hh3 = None if b_hh is None else (b_hh * half).reshape(3, 1, H)
        G = take(xp, (3, T, B, H), dtype)  # gate activations [r, z, n], saved for backward
        HN = take(xp, (T, B, H), dtype)  # W_hn h + b_hn, saved for backward
        Z = xp.empty((T + 1, B, H), dtype=dtype)
        masked = lengths is not None
        S = take(xp, (T, B, H), dtype) if masked else Z[:T]
        if masked:
            real, keep, drop = _masks(xp, lengths, T, dtype)
            h_new = xp.empty((B, H), dtype=dtype)
        h = _initial(xp, h0, B, H, dtype)
        a = xp.empty((3, B, H), dtype=dtype)  # this step's gates
        gh = xp.empty((3, B, H), dtype=dtype)  # this step's hidden projections
        r, z, n = a
        tmp = xp.empty((B, H), dtype=dtype)
        for t in _steps(T, reverse):
            matmul(h, w_hh3, out=gh)
            if b_hh3 is not None:
                gh += b_hh3
            xp.add(P[:2, t], gh[:2], out=a[:2])
            xp.tanh(a[:2], out=a[:2])
            _finish_sigmoid(a[:2])
            xp.multiply(r, gh[2], out=n)
            n += P[2, t]
            xp.tanh(n, out=n)
            xp.subtract(h, n, out=tmp)  # h' = n + z * (h - n)
            tmp *= z
            xp.add(n, tmp, out=h_new if masked else S[t])
            G[:, t] = a
            HN[t] = gh[2]
            if masked:
                _store_state(xp, S[t], h_new, h, real[t])
            h = S[t]
        give(P, alive=(Z,))
        if masked:
            xp.multiply(S, keep, out=Z[:T])
            ctx.keep, ctx.drop = keep, drop
        Z[T] = h
        ctx.x2, ctx.w_ih, ctx.w_hh, ctx.h0 = x2, w_ih, w_hh, h0
        ctx.b_ih, ctx.b_hh = b_ih, b_hh  # references, for the recorded (create_graph) backward
        ctx.G, ctx.HN, ctx.S = G, HN, S
        ctx.lease = Lease(G, HN, S, alive=(Z,)) if masked else Lease(G, HN, alive=(Z,))
        ctx.reverse, ctx.x_shape = reverse, x.shape
        return Z

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        xp = get_array_module(grad)
        G, S = ctx.G, ctx.S
        T, B, H = S.shape
        r, z, n = G
        # Everything that does not depend on the carried gradient, for all steps at once:
        # [da_r, da_z, da_n] = dh * Q.
        Q = take(xp, G.shape, G.dtype)
        qr, qz, qn = Q
        xp.multiply(n, n, out=qn)
        xp.subtract(1, qn, out=qn)
        xp.subtract(1, z, out=qz)
        qn *= qz  # (1-z)(1-n^2)
        qz *= z
        xp.negative(n, out=qr)  # qr holds (h_prev - n) for a moment
        _add_previous(qr, S, ctx.h0, ctx.reverse)
        qz *= qr  # (h_prev - n) z(1-z)
        xp.subtract(1, r, out=qr)
        qr *= r
        qr *= ctx.HN
        qr *= qn  # (1-z)(1-n^2) hn r(1-r)
        masked = hasattr(ctx, "keep")
        dY, dh = grad[:T], grad[T]
        dA = take(xp, (T, B, 3, H), G.dtype)  # dL/d input projections [da_r, da_z, da_n], batch-major
        w_hh3 = ctx.w_hh.reshape(3, H, H)
        dah = xp.empty((3, B, H), dtype=dA.dtype)  # dL/d hidden projections [da_r, da_z, da_n * r]
        back = xp.empty((3, B, H), dtype=dA.dtype)
        for t in _steps(T, not ctx.reverse):
            dh_t = dY[t] + dh
            if masked:
                dh_t *= ctx.keep[t]
            da = dA[t].transpose(1, 0, 2)  # this step's (3, B, H) view
            xp.multiply(dh_t, Q[:, t], out=da)
            dah[:2] = da[:2]
            xp.multiply(da[2], r[t], out=dah[2])
            matmul(dah, w_hh3, out=back)
            dh_prev = back.sum(axis=0)
            dh_t *= z[t]
            dh_prev += dh_t
            if masked:
                dh_prev += ctx.drop[t] * dh
            dh = dh_prev
        give(Q, alive=(dh,))
        need = ctx.needs_input_grad
        dx, dw_ih, db_ih = _input_grads(ctx, dA.reshape(T, B, 3 * H))
        dA[:, :, 2] *= r  # now dL/d hidden projections
        dw_hh, db_hh = _hidden_grads(ctx, dA.reshape(T, B, 3 * H))
        give(dA, alive=(dx, dw_ih, dw_hh, db_ih, db_hh, dh))
        return dx, dw_ih, dw_hh, db_ih, db_hh, dh if need[5] else None


# ------------------------------------------------------------- single-step cells
# ``LSTMCell``/``GRUCell``/``RNNCell`` used step by step (a Python loop over time, as in
# pytorch/examples' time-sequence prediction) pay the per-call costs of the layer
# Functions above (gate-major weight copies, row reordering, packing the whole
# sequence) once per *step*.  These Functions do one step with two matrix products
# in torch's layout, straight from the weights, and a hand-written backward.  A
# Function has one output, so the LSTM cell returns h' and c' stacked, (2, B, H).


def _cell_pre(x: Any, h: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any) -> tuple[Any, Any]:
    """``(x W_ih^T + b_ih, h W_hh^T + b_hh)``; h may be None (zeros)."""
    xp = get_array_module(x)
    gi = x @ w_ih.T
    if b_ih is not None:
        gi += b_ih
    if h is None:
        gh = xp.zeros_like(gi) if b_hh is None else xp.broadcast_to(b_hh, gi.shape).copy()
    else:
        gh = h @ w_hh.T
        if b_hh is not None:
            gh += b_hh
    return gi, gh


def _cell_param_grads(ctx: Context, need: tuple[bool, ...], d_i: Any, d_h: Any) -> tuple[Any, ...]:
    """dx, dh (through W_hh), dW_ih, dW_hh, db_ih, db_hh from the pre-activation gradients of the two products.

    ``need``: needs_input_grad of (x, h, w_ih, w_hh, b_ih, b_hh).
    """
    x, h = ctx.x, ctx.h
    dx = d_i @ ctx.w_ih if need[0] else None
    dh = d_h @ ctx.w_hh if (need[1] and h is not None) else None
    dw_ih = d_i.T @ x if need[2] else None
    dw_hh = (d_h.T @ h if h is not None else get_array_module(d_h).zeros_like(ctx.w_hh)) if need[3] else None
    db_ih = d_i.sum(axis=0) if need[4] else None
    db_hh = d_h.sum(axis=0) if need[5] else None
    return dx, dh, dw_ih, dw_hh, db_ih, db_hh


def _lstm_gates(a: Any) -> tuple[Any, Any, Any, Any]:
    """Views of the four H-wide column blocks of a (B, 4H) gate array, in torch's order i, f, g, o."""
    H = a.shape[-1] // 4
    return a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]


class LSTMCellFunction(Function):
    """One LSTM step, inputs ``(x, h, c, w_ih, w_hh, b_ih, b_hh)``, output ``[h', c']`` stacked (2, B, H).

    ``A = x W_ih^T + b_ih + h W_hh^T + b_hh`` split as torch does into i, f, g, o;
    ``i, f, o = sigmoid``, ``g = tanh``; ``c' = f c + i g``; ``h' = o tanh(c')``.
    Backward, with ``dh, dc`` the gradients of ``h', c'``::

        dc~ = dc + dh o (1 - tanh(c')^2)
        dA = [dc~ g i(1-i),  dc~ c f(1-f),  dc~ i (1-g^2),  dh tanh(c') o(1-o)]
        dx = dA W_ih;  dh_prev = dA W_hh;  dc_prev = dc~ f;  dW_ih = dA^T x;  dW_hh = dA^T h;  db = sum_B dA
    """

    @staticmethod
    def forward(ctx: Context, x: Any, h: Any, c: Any, w_ih: Any, w_hh: Any, b_ih: Any = None,
                b_hh: Any = None) -> Any:
        xp = get_array_module(x)
        H = w_hh.shape[1]
        a, gh = _cell_pre(x, h, w_ih, w_hh, b_ih, b_hh)
        a += gh
        # sigmoid(z) = (tanh(z/2) + 1) / 2: one tanh for all four gates
        a[:, :2 * H] *= 0.5
        a[:, 3 * H:] *= 0.5
        xp.tanh(a, out=a)
        for s in (a[:, :2 * H], a[:, 3 * H:]):
            s *= 0.5
            s += 0.5
        i, f, g, o = _lstm_gates(a)
        out = xp.empty((2,) + i.shape, dtype=a.dtype)
        cn = out[1]
        xp.multiply(i, g, out=cn)
        if c is not None:
            cn += f * c
        tc = xp.tanh(cn)
        xp.multiply(o, tc, out=out[0])
        if getattr(ctx, "needs_input_grad", None) is not None:
            ctx.x, ctx.h, ctx.c, ctx.w_ih, ctx.w_hh, ctx.gates, ctx.tc = x, h, c, w_ih, w_hh, a, tc
            ctx.b_ih, ctx.b_hh = b_ih, b_hh  # references, for a recorded (create_graph) backward
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        xp = get_array_module(grad)
        a, tc, c = ctx.gates, ctx.tc, ctx.c
        i, f, g, o = _lstm_gates(a)
        dh, dc = grad[0], grad[1]
        k = tc * tc
        xp.subtract(1, k, out=k)
        k *= o
        k *= dh
        k += dc  # dc~
        dA = xp.empty_like(a)
        di, df, dg, do = _lstm_gates(dA)
        xp.multiply(dh, tc, out=do)
        do *= o - o * o
        xp.multiply(k, g, out=di)
        di *= i - i * i
        if c is not None:
            xp.multiply(k, c, out=df)
            df *= f - f * f
        else:
            df.fill(0)
        xp.multiply(k, i, out=dg)
        dg *= 1 - g * g
        need = ctx.needs_input_grad
        dx, dh_prev, dw_ih, dw_hh, db_ih, db_hh = _cell_param_grads(ctx, need[:2] + need[3:], dA, dA)
        dc_prev = k * f if (ctx.needs_input_grad[2] and c is not None) else None
        return dx, dh_prev, dc_prev, dw_ih, dw_hh, db_ih, db_hh


class GRUCellFunction(Function):
    """One GRU step, inputs ``(x, h, w_ih, w_hh, b_ih, b_hh)``, output h' (B, H); torch's gate order r, z, n.

    ``gi = x W_ih^T + b_ih``, ``gh = h W_hh^T + b_hh``; ``r, z = sigmoid(gi_rz + gh_rz)``,
    ``n = tanh(gi_n + r gh_n)``, ``h' = (1 - z) n + z h``.  Backward::

        dn~ = dh (1-z)(1-n^2);   dz~ = dh (h - n) z(1-z);   dr~ = dn~ gh_n r(1-r)
        d gi = [dr~, dz~, dn~];  d gh = [dr~, dz~, dn~ r];  dh_prev = d gh W_hh + dh z
    """

    @staticmethod
    def forward(ctx: Context, x: Any, h: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None) -> Any:
        xp = get_array_module(x)
        H = w_hh.shape[1]
        gi, gh = _cell_pre(x, h, w_ih, w_hh, b_ih, b_hh)
        rz = gi[:, :2 * H]
        rz += gh[:, :2 * H]
        rz *= 0.5
        xp.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        r, z = rz[:, :H], rz[:, H:]
        n = r * gh[:, 2 * H:]
        n += gi[:, 2 * H:]
        xp.tanh(n, out=n)
        out = n - z * n  # (1 - z) n
        if h is not None:
            out += z * h
        if getattr(ctx, "needs_input_grad", None) is not None:
            ctx.x, ctx.h, ctx.w_ih, ctx.w_hh, ctx.rz, ctx.n, ctx.ghn = x, h, w_ih, w_hh, rz, n, gh[:, 2 * H:]
            ctx.b_ih, ctx.b_hh = b_ih, b_hh
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        xp = get_array_module(grad)
        rz, n, h = ctx.rz, ctx.n, ctx.h
        H = n.shape[-1]
        r, z = rz[:, :H], rz[:, H:]
        d_i = xp.empty(grad.shape[:-1] + (3 * H,), dtype=grad.dtype)
        dr, dz, dn = d_i[:, :H], d_i[:, H:2 * H], d_i[:, 2 * H:]
        xp.multiply(grad, 1 - z, out=dn)
        dn *= 1 - n * n
        if h is not None:
            xp.subtract(h, n, out=dz)
        else:
            xp.negative(n, out=dz)
        dz *= grad
        dz *= z - z * z
        xp.multiply(dn, ctx.ghn, out=dr)
        dr *= r - r * r
        d_h = d_i.copy()
        d_h[:, 2 * H:] *= r
        dx, dh_prev, dw_ih, dw_hh, db_ih, db_hh = _cell_param_grads(ctx, ctx.needs_input_grad, d_i, d_h)
        if dh_prev is not None:
            dh_prev += grad * z
        return dx, dh_prev, dw_ih, dw_hh, db_ih, db_hh


class RNNCellFunction(Function):
    """One Elman step, inputs ``(x, h, w_ih, w_hh, b_ih, b_hh)``: ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    ``act`` is tanh (``dA = dh (1 - h'^2)``) or ReLU (``dA = dh [h' > 0]``).
    """

    @staticmethod
    def forward(ctx: Context, x: Any, h: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None, *,
                nonlinearity: str = "tanh") -> Any:
        xp = get_array_module(x)
        a, gh = _cell_pre(x, h, w_ih, w_hh, b_ih, b_hh)
        a += gh
        if nonlinearity == "tanh":
            xp.tanh(a, out=a)
        else:
            xp.maximum(a, 0, out=a)
        if getattr(ctx, "needs_input_grad", None) is not None:
            ctx.x, ctx.h, ctx.w_ih, ctx.w_hh, ctx.out, ctx.tanh = x, h, w_ih, w_hh, a, nonlinearity == "tanh"
            ctx.b_ih, ctx.b_hh = b_ih, b_hh
        return a

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        y = ctx.out
        dA = grad * (1 - y * y) if ctx.tanh else grad * (y > 0)
        return _cell_param_grads(ctx, ctx.needs_input_grad, dA, dA)
