"""Fused recurrent layers: one graph node per layer and direction, with analytic BPTT.

An unrolled recurrence written with ordinary ops would put a dozen tiny nodes
into the graph for every time step.  Here each layer and direction is *one*
``Function``:

* the input projection of every time step is one matrix product,
  ``G = X W_ih^T + b`` with ``X`` of shape ``(T*B, input)``;
* ``forward`` loops over time in NumPy, adding ``h_{t-1} W_hh^T`` to ``G[t]``
  and applying the gate nonlinearities *in place*, so ``G`` ends up holding the
  gate activations that the backward pass needs;
* ``backward`` is backpropagation through time written out by hand: it walks
  the steps in reverse, carrying ``dL/dh`` (and ``dL/dc`` for the LSTM) from
  step to step.  Everything that does not depend on the carried gradient (the
  gate derivatives such as ``sigma(a)(1 - sigma(a))``) is computed for all time
  steps at once before the loop, so the loop itself is a handful of
  elementwise products and one ``(B, gates*H) @ (gates*H, H)`` product per step.
  The weight gradients are then single matrix products over all steps:
  ``dW_hh = sum_t dA_t^T h_{t-1}`` and ``dW_ih = dA^T X``.

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

One speed trick is used by the gated layers: the logistic function is
``sigmoid(a) = (1 + tanh(a / 2)) / 2``.  The rows of the weights and biases that
feed sigmoid gates are halved once per call, so a single ``tanh`` over the
whole gate row serves every gate, followed by ``s = 0.5 s + 0.5`` on the
sigmoid block.  (No overflow either, unlike ``1 / (1 + exp(-a))``.)

References: Hochreiter & Schmidhuber (1997), "Long Short-Term Memory";
Cho et al. (2014), "Learning Phrase Representations using RNN Encoder-Decoder"
(the GRU, in the variant PyTorch and cuDNN use, with ``r`` applied after the
hidden projection); Werbos (1990), "Backpropagation Through Time".
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Context, Function
from ..backend import get_array_module
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


def _shift_pairs(states: Any, s0: Any, reverse: bool) -> tuple[Any, Any, Any]:
    """Pair each step with the state entering it, without copying.

    Returns ``(later, earlier, first)``: steps ``later`` (a slice object over
    time) see the states ``earlier`` (a view of ``states``), and the first
    processed step (index ``first``) sees ``s0``.
    """
    T = states.shape[0]
    if reverse:
        return slice(0, T - 1), states[1:], T - 1
    return slice(1, T), states[:-1], 0


def _times_previous(out: Any, states: Any, s0: Any, reverse: bool) -> None:
    """``out[t] *= (state entering step t)`` for every t, in place."""
    later, earlier, first = _shift_pairs(states, s0, reverse)
    out[later] *= earlier
    if s0 is None:
        out[first] = 0
    else:
        out[first] *= s0


def _outer_previous(dA: Any, states: Any, s0: Any, reverse: bool) -> Any:
    """``sum_t dA[t]^T (state entering step t)``: the gradient of ``W_hh``, as one product."""
    later, earlier, first = _shift_pairs(states, s0, reverse)
    G, H = dA.shape[-1], states.shape[-1]
    out = dA[later].reshape(-1, G).T @ earlier.reshape(-1, H)
    if s0 is not None:
        out += dA[first].T @ s0
    return out


def _project(x: Any, w_ih: Any, bias: Any) -> tuple[Any, Any]:
    """All input projections at once: ``X W_ih^T + bias`` as ``(T, B, gates*H)``; returns ``(X2d, G)``.

    ``G`` comes from the workspace pool (see ``ops/workspace.py``).
    """
    xp = get_array_module(x)
    T, B, F = x.shape
    x2 = x.reshape(T * B, F)
    g = take(xp, (T, B, w_ih.shape[0]), x.dtype)
    xp.matmul(x2, w_ih.T, out=g.reshape(T * B, -1))
    if bias is not None:
        g += bias
    return x2, g


def _half_rows(xp: Any, n_sigmoid: int, n: int, dtype: Any) -> Any:
    """Row scales ``[0.5] * n_sigmoid + [1] * (n - n_sigmoid)`` (see the module docstring)."""
    s = xp.ones(n, dtype=dtype)
    s[:n_sigmoid] = 0.5
    return s


def _finish_sigmoid(t: Any) -> None:
    """Turn ``tanh(a / 2)`` into ``sigmoid(a)`` in place."""
    t *= 0.5
    t += 0.5


def _store_state(xp: Any, dst: Any, new: Any, old: Any, real: Any) -> None:
    """``dst = new`` where the step is real, else ``old`` (padded steps keep the state)."""
    xp.copyto(dst, old)
    xp.copyto(dst, new, where=real)


def _param_grads(ctx: Context, dA: Any, w_ih: Any, dh0: Any, dc0: Any = None, dA_hh: Any = None,
                 rows: Any = None) -> tuple[Any, ...]:
    """Assemble the gradients of ``(x, w_ih, w_hh, b_ih, b_hh, h0[, c0])``, one product each.

    ``dA`` (T, B, gates*H) is dL/d(input projection) and ``dA_hh`` that of the
    hidden projection where they differ (the GRU's ``n`` block).  ``w_ih`` is
    the (unscaled) input weight in ``dA``'s row order; ``rows`` maps that order
    back to PyTorch's when it differs (the LSTM's internal gate order).
    """
    need = ctx.needs_input_grad
    dA2 = dA.reshape(-1, dA.shape[-1])
    dAh = dA if dA_hh is None else dA_hh
    dx = (dA2 @ w_ih).reshape(ctx.x_shape) if need[0] else None
    dw_ih = dA2.T @ ctx.x2 if need[1] else None
    dw_hh = _outer_previous(dAh, ctx.S, ctx.h0, ctx.reverse) if need[2] else None
    db_ih = dA2.sum(axis=0) if need[3] else None
    db_hh = None
    if need[4]:
        db_hh = db_ih.copy() if (dA_hh is None and db_ih is not None) else dAh.sum(axis=(0, 1))
    if rows is not None:  # back to PyTorch's gate order
        inverse = get_array_module(dA).argsort(rows)
        dw_ih, dw_hh, db_ih, db_hh = (None if g is None else g[inverse] for g in (dw_ih, dw_hh, db_ih, db_hh))
    grads = (dx, dw_ih, dw_hh, db_ih, db_hh, dh0 if need[5] else None)
    if len(need) == 7:
        grads += (dc0 if need[6] else None,)
    return grads


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
        bias = None if b_ih is None else b_ih + b_hh
        x2, A = _project(x, w_ih, bias)
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
            xp.matmul(h, w_hh_t, out=tmp)
            a += tmp
            new = a if masked else S[t]
            if relu:
                xp.maximum(a, 0, out=new)
            else:
                xp.tanh(a, out=new)
            if masked:
                _store_state(xp, S[t], a, h, real[t])
            h = S[t]
        if masked:
            xp.multiply(S, keep, out=Z[:T])
            ctx.keep, ctx.drop = keep, drop
        Z[T] = h
        ctx.x2, ctx.w_ih, ctx.w_hh, ctx.h0 = x2, w_ih, w_hh, h0
        ctx.S, ctx.new = S, (A if masked else S)  # act(a_t) at every step
        ctx.lease = Lease(A, S) if masked else Lease(A)
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
        grads = _param_grads(ctx, dA, ctx.w_ih, dh)
        give(D, dA)
        return grads


# -------------------------------------------------------------------- LSTM
# Layout.  The LSTM keeps its gates *gate-major*: an array (4, T, B, H) whose
# block [k, t] is gate k at step t, a contiguous (B, H) matrix.  NumPy runs an
# elementwise op on a contiguous array several times faster than on a strided
# slice such as the columns of one gate inside a (B, 4H) row-major product, and
# the LSTM does about thirty such ops per step.  The matrix products follow
# the layout: h_{t-1} @ W_hh^T is a batch of four (B, H) @ (H, H) products
# (measured no slower than one (B, H) @ (H, 4H) product), and the weight
# gradients are batches of four products over all steps.
#
# Gate order.  Internally the gates are [o, i, f, g] instead of PyTorch's
# [i, f, g, o], so the three sigmoid gates are one contiguous block (one
# fix-up after the shared tanh) and, in backward, the three gates driven by
# dL/dc (i, f, g) are one block too.  Internal gate k is PyTorch's gate
# _LSTM_GATES[k]; the weights are permuted on the way in and the gradients on
# the way out.
_LSTM_GATES = (3, 0, 1, 2)


def _lstm_rows(xp: Any, H: int) -> Any:
    """Row indices that reorder PyTorch's (4H, ...) gate rows into the internal order."""
    return xp.concatenate([xp.arange(k * H, (k + 1) * H) for k in _LSTM_GATES])


def _gate_major(w: Any, rows: Any, H: int, scale: Any = None) -> Any:
    """PyTorch's (4H, n) weight as four contiguous (n, H) matrices, internal gate order, rows scaled."""
    w = w[rows] if scale is None else w[rows] * scale[:, None]
    return w.reshape(4, H, -1).transpose(0, 2, 1).copy()


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
        T, B, F = x.shape
        H = w_hh.shape[1]
        dtype = x.dtype
        rows = _lstm_rows(xp, H)
        half = _half_rows(xp, 3 * H, 4 * H, dtype)
        w_hh4 = _gate_major(w_hh, rows, H, half)  # (4, H, H): h @ w_hh4[k] is gate k's pre-activation
        # The input projections of all steps, gate-major: P[k] = X W_ih_k^T + b_k, four products.
        x2 = x.reshape(T * B, F)
        P = take(xp, (4, T, B, H), dtype)
        xp.matmul(x2, _gate_major(w_ih, rows, H, half), out=P.reshape(4, T * B, H))
        if b_ih is not None:
            P += ((b_ih + b_hh)[rows] * half).reshape(4, 1, 1, H)
        G = take(xp, (4, T, B, H), dtype)  # gate activations [o, i, f, g], saved for backward
        Z = xp.empty((T + 2, B, H), dtype=dtype)
        masked = lengths is not None
        S = take(xp, (T, B, H), dtype) if masked else Z[:T]  # carried h
        C = take(xp, (T, B, H), dtype)  # carried c
        TC = take(xp, (T, B, H), dtype)  # tanh of the new cell state
        if masked:
            real, keep, drop = _masks(xp, lengths, T, dtype)
            c_new = xp.empty((B, H), dtype=dtype)
            h_new = xp.empty((B, H), dtype=dtype)
        h = _initial(xp, h0, B, H, dtype)
        c = _initial(xp, c0, B, H, dtype)
        a = xp.empty((4, B, H), dtype=dtype)  # this step's gates, contiguous
        o, i, f, g = a
        ig = xp.empty((B, H), dtype=dtype)
        for t in _steps(T, reverse):
            xp.matmul(h, w_hh4, out=a)
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
        give(P)
        if masked:
            xp.multiply(S, keep, out=Z[:T])
            ctx.keep, ctx.drop = keep, drop
        Z[T] = h
        Z[T + 1] = c
        ctx.x2, ctx.w_ih, ctx.w_hh, ctx.h0, ctx.c0, ctx.rows = x2, w_ih, w_hh, h0, c0, rows
        ctx.G, ctx.S, ctx.C, ctx.TC = G, S, C, TC
        ctx.lease = Lease(G, C, TC, S) if masked else Lease(G, C, TC)
        ctx.reverse, ctx.x_shape = reverse, x.shape
        return Z

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        xp = get_array_module(grad)
        G, TC, C, rows = ctx.G, ctx.TC, ctx.C, ctx.rows
        T, B, H = TC.shape
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
        _times_previous(L[2], C, ctx.c0, ctx.reverse)
        xp.multiply(g, g, out=L[3])
        xp.subtract(1, L[3], out=L[3])
        L[3] *= i
        masked = hasattr(ctx, "keep")
        dY, dh, dc = grad[:T], grad[T], grad[T + 1]
        dA = take(xp, L.shape, L.dtype)
        w_hh4 = ctx.w_hh[rows].reshape(4, H, H)  # unscaled: dh_{t-1} = sum_k dA_k W_hh_k
        back = xp.empty((4, B, H), dtype=dA.dtype)
        for t in _steps(T, not ctx.reverse):
            dh_t = dY[t] + dh
            if masked:
                dh_t *= ctx.keep[t]
            dc_t = dh_t * K[t]
            dc_t += dc * ctx.keep[t] if masked else dc
            xp.multiply(dh_t, L[0, t], out=dA[0, t])
            xp.multiply(dc_t, L[1:, t], out=dA[1:, t])
            dc_prev = dc_t * f[t]
            xp.matmul(dA[:, t], w_hh4, out=back)
            dh_prev = back.sum(axis=0)
            if masked:
                dc_prev += ctx.drop[t] * dc
                dh_prev += ctx.drop[t] * dh
            dh, dc = dh_prev, dc_prev
        grads = _lstm_param_grads(ctx, dA, dh, dc)
        give(K, L, dA)
        return grads


def _lstm_param_grads(ctx: Context, dA: Any, dh0: Any, dc0: Any) -> tuple[Any, ...]:
    """Gradients of ``(x, w_ih, w_hh, b_ih, b_hh, h0, c0)`` from the gate-major ``dA`` (4, T, B, H).

    Each weight gradient is a batch of four products over all steps,
    ``dW_k = dA_k^T [X or H_prev]``, then put back in PyTorch's row order.
    """
    xp = get_array_module(dA)
    need = ctx.needs_input_grad
    _, T, B, H = dA.shape
    inverse = xp.argsort(ctx.rows)
    dA3 = dA.reshape(4, T * B, H)
    dx = dw_ih = dw_hh = db_ih = db_hh = None
    if need[0]:
        w_ih4 = ctx.w_ih[ctx.rows].reshape(4, H, -1)
        dx = xp.matmul(dA3, w_ih4).sum(axis=0).reshape(ctx.x_shape)
    if need[1]:
        dw_ih = xp.matmul(dA3.transpose(0, 2, 1), ctx.x2).reshape(4 * H, -1)[inverse]
    if need[2]:
        later, earlier, first = _shift_pairs(ctx.S, ctx.h0, ctx.reverse)
        dw = xp.matmul(dA[:, later].reshape(4, -1, H).transpose(0, 2, 1), earlier.reshape(-1, H))
        if ctx.h0 is not None:
            dw += xp.matmul(dA[:, first].transpose(0, 2, 1), ctx.h0)
        dw_hh = dw.reshape(4 * H, H)[inverse]
    if need[3] or need[4]:
        db = dA3.sum(axis=1).reshape(4 * H)[inverse]
        db_ih = db if need[3] else None
        db_hh = (db.copy() if need[3] else db) if need[4] else None
    return dx, dw_ih, dw_hh, db_ih, db_hh, dh0 if need[5] else None, dc0 if need[6] else None


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

    The input projection's gradient is ``[da_r, da_z, da_n]``; the hidden
    projection's differs only in its ``n`` block (``da_n * r``).
    """

    @staticmethod
    def forward(ctx: Context, x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, h0: Any, *,
                reverse: bool = False, lengths: Any = None) -> Any:
        xp = get_array_module(x)
        T, B, _ = x.shape
        H = w_hh.shape[1]
        dtype = x.dtype
        half = _half_rows(xp, 2 * H, 3 * H, dtype)
        x2, G = _project(x, w_ih * half[:, None], None if b_ih is None else b_ih * half)  # becomes [r, z, n]
        GH = take(xp, G.shape, dtype)  # hidden projections (r, z rows halved); the n block W_hn h + b_hn is kept
        w_hh_half_t = (w_hh * half[:, None]).T.copy()
        b_hh_half = None if b_hh is None else b_hh * half
        Z = xp.empty((T + 1, B, H), dtype=dtype)
        masked = lengths is not None
        S = take(xp, (T, B, H), dtype) if masked else Z[:T]
        if masked:
            real, keep, drop = _masks(xp, lengths, T, dtype)
            h_new = xp.empty((B, H), dtype=dtype)
        h = _initial(xp, h0, B, H, dtype)
        tmp = xp.empty((B, H), dtype=dtype)
        for t in _steps(T, reverse):
            a, gh = G[t], GH[t]
            xp.matmul(h, w_hh_half_t, out=gh)
            if b_hh_half is not None:
                gh += b_hh_half
            rz = a[:, :2 * H]
            rz += gh[:, :2 * H]
            xp.tanh(rz, out=rz)
            _finish_sigmoid(rz)
            r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
            xp.multiply(r, gh[:, 2 * H:], out=tmp)
            n += tmp
            xp.tanh(n, out=n)
            xp.subtract(h, n, out=tmp)  # h' = n + z * (h - n)
            tmp *= z
            xp.add(n, tmp, out=h_new if masked else S[t])
            if masked:
                _store_state(xp, S[t], h_new, h, real[t])
            h = S[t]
        if masked:
            xp.multiply(S, keep, out=Z[:T])
            ctx.keep, ctx.drop = keep, drop
        Z[T] = h
        ctx.x2, ctx.w_ih, ctx.w_hh, ctx.h0 = x2, w_ih, w_hh, h0
        ctx.G, ctx.HN, ctx.S = G, GH[..., 2 * H:], S
        ctx.lease = Lease(G, GH, S) if masked else Lease(G, GH)
        ctx.reverse, ctx.x_shape = reverse, x.shape
        return Z

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        xp = get_array_module(grad)
        G, S = ctx.G, ctx.S
        T, B, H = S.shape
        r, z, n = G[..., :H], G[..., H:2 * H], G[..., 2 * H:]
        # Everything that does not depend on the carried gradient, for all steps at once:
        # [da_r, da_z, da_n] = dh * P.
        P = take(xp, (T, B, 3, H), G.dtype)
        pr, pz, pn = P[:, :, 0], P[:, :, 1], P[:, :, 2]
        xp.multiply(n, n, out=pn)
        xp.subtract(1, pn, out=pn)
        xp.subtract(1, z, out=pz)
        pn *= pz  # (1-z)(1-n^2)
        pz *= z
        xp.negative(n, out=pr)  # pr is scratch for (h_prev - n) here
        _add_previous(pr, S, ctx.h0, ctx.reverse)
        pz *= pr  # (h_prev - n) z(1-z)
        xp.subtract(1, r, out=pr)
        pr *= r
        pr *= ctx.HN
        pr *= pn  # (1-z)(1-n^2) hn r(1-r)
        masked = hasattr(ctx, "keep")
        dY, dh = grad[:T], grad[T]
        dA = take(xp, P.shape, P.dtype)  # dL/d input pre-activations [da_r, da_z, da_n]
        dAh = take(xp, P.shape, P.dtype)  # dL/d hidden pre-activations [da_r, da_z, da_n * r]
        w_hh = ctx.w_hh
        for t in _steps(T, not ctx.reverse):
            dh_t = dY[t] + dh
            if masked:
                dh_t *= ctx.keep[t]
            da, dah = dA[t], dAh[t]
            xp.multiply(dh_t[:, None, :], P[t], out=da)
            dah[:, :2] = da[:, :2]
            xp.multiply(da[:, 2], r[t], out=dah[:, 2])
            dh_prev = dah.reshape(B, 3 * H) @ w_hh
            dh_t *= z[t]
            dh_prev += dh_t
            if masked:
                dh_prev += ctx.drop[t] * dh
            dh = dh_prev
        grads = _param_grads(ctx, dA.reshape(T, B, 3 * H), ctx.w_ih, dh, None, dAh.reshape(T, B, 3 * H))
        give(P, dA, dAh)
        return grads


def _add_previous(out: Any, states: Any, s0: Any, reverse: bool) -> None:
    """``out[t] += (state entering step t)`` for every t, in place."""
    later, earlier, first = _shift_pairs(states, s0, reverse)
    out[later] += earlier
    if s0 is not None:
        out[first] += s0
