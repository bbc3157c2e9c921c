"""Generalized Advantage Estimation (Schulman, Moritz, Levine, Jordan & Abbeel, ICLR 2016, arXiv:1506.02438).

With the TD residual of a value function V,

    delta_t = r_t + gamma * V(s_{t+1}) - V(s_t),

the GAE(gamma, lambda) advantage is the exponentially weighted sum of the
residuals that follow step t (the paper's equation 16):

    A_t = sum_{l >= 0} (gamma * lambda)^l * delta_{t+l}.

Two special cases explain the knob: lambda = 0 gives A_t = delta_t (low
variance, biased unless V is exact), and lambda = 1 gives
A_t = sum_l gamma^l r_{t+l} - V(s_t), the discounted return minus the baseline
(unbiased whatever V is, high variance).  The sum telescopes into the backward
recursion A_t = delta_t + gamma * lambda * A_{t+1}, which is what the code runs,
one row of the (T, N) batch at a time and vectorised across the N trajectories.

Episode ends.  ``dones[t]`` says that the episode of column n ended after step
t, so nothing after t may leak into A_t: the recursion is cut there.  Why it
ended matters for the last residual:

* a *terminal* state (the pole fell) has value 0: delta_t = r_t - V(s_t);
* a *time-limit truncation* (``truncated[t]``) stopped a trajectory that could
  have gone on, so the last residual bootstraps from the value of the state the
  episode was cut at: delta_t = r_t + gamma * V(s_{t+1}) - V(s_t).  Treating a
  time limit as a terminal state teaches the value function that states near
  the limit are worth nothing, which they are not.

The value V(s_{t+1}) of the true successor comes from ``next_values[t]`` when
given; otherwise from ``values[t + 1]`` (the same column's next row) and, on
the last row, from ``last_values`` (the state after the batch, for rollouts
cut by the batch horizon).  When an episode is truncated in the middle of a
column whose next row already belongs to a new episode, ``values[t + 1]`` is
the wrong state, so pass ``next_values`` then.

The regression targets for the value function are the discounted returns
R_t = sum_l gamma^l r_{t+l} within the episode, plus gamma^k V(s_{t+k}) at a
truncation or at the end of the batch (the paper's equation 28, its "Monte
Carlo or TD(1)" targets).  They satisfy R_t - V(s_t) = A_t at lambda = 1.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["GAEResult", "check_discount", "discounted_returns", "gae", "time_baseline"]


class GAEResult(NamedTuple):
    """What :func:`gae` returns: ``advantages`` A_t and discounted ``returns`` R_t, both of shape (T, N)."""

    advantages: np.ndarray
    returns: np.ndarray


def check_discount(name: str, value: Any, where: str = "gae") -> float:
    """``value`` as a float in [0, 1], or a ``ValueError`` naming the argument."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: {name} must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= v <= 1.0:  # also rejects NaN
        raise ValueError(f"{where}: {name} must lie in [0, 1], got {value!r}")
    return v


def _float_dtype(*arrays: np.ndarray) -> np.dtype:
    dt = np.result_type(*arrays)
    return dt if dt.kind == "f" else np.dtype(np.float32)


def _prepare(rewards: Any, values: Any, dones: Any, truncated: Any, last_values: Any, next_values: Any,
             where: str) -> tuple[np.ndarray, ...]:
    """Check shapes and build (rewards, values, next_values, terminal, ended) as arrays of shape (T, N)."""
    r = np.asarray(rewards)
    v = np.asarray(values) if values is not None else None
    if r.ndim not in (1, 2):
        raise ValueError(f"{where}: rewards must have shape (T,) or (T, N), got {r.shape}")
    squeeze = r.ndim == 1
    if squeeze:
        r = r[:, None]
    T, N = r.shape

    def as_batch(x: Any, name: str, dtype: Any = None) -> np.ndarray:
        a = np.asarray(x, dtype=dtype)
        if squeeze and a.ndim == 1:
            a = a[:, None]
        if a.shape != (T, N):
            raise ValueError(f"{where}: {name} has shape {np.shape(x)} but rewards have shape {np.shape(rewards)}; "
                             f"they must match (one entry per time step and trajectory)")
        return a

    if v is not None:
        v = as_batch(v, "values")
    d = as_batch(dones, "dones").astype(bool, copy=False)
    tr = np.zeros((T, N), bool) if truncated is None else as_batch(truncated, "truncated").astype(bool, copy=False)
    dtype = _float_dtype(r, v) if v is not None else _float_dtype(r)
    ended = d | tr
    terminal = ended & ~tr
    if next_values is not None:
        nv = as_batch(next_values, "next_values").astype(dtype, copy=False)
    elif v is not None:
        nv = np.empty((T, N), dtype)
        nv[:-1] = v[1:]
        if last_values is None:
            nv[-1] = 0.0
            if T and (~ended[-1]).any():
                raise ValueError(f"{where}: the last row has trajectories that have not ended (dones[-1] is False), "
                                 "so their return needs the value of the state after the batch: pass last_values "
                                 "(shape (N,)), or next_values")
        else:
            lv = np.asarray(last_values, dtype=dtype).reshape(-1)
            if lv.shape != (N,):
                raise ValueError(f"{where}: last_values must have shape ({N},) (one per trajectory), "
                                 f"got {np.shape(last_values)}")
            nv[-1] = lv
        inner = tr[:-1]
        if inner.any():
            t, n = np.argwhere(inner)[0]
            raise ValueError(f"{where}: trajectory {n} is truncated at step {t} < T-1, where values[t+1] belongs to "
                             "the next episode; pass next_values (the value of each step's true successor state)")
    else:  # discounted returns without a value function: nothing to bootstrap from
        nv = np.zeros((T, N), dtype)
        if last_values is not None:
            nv[-1] = np.asarray(last_values, dtype=dtype).reshape(-1)
    return r.astype(dtype, copy=False), v, nv, terminal, ended, squeeze


def gae(rewards: Any, values: Any, dones: Any, *, gamma: float, lam: float, truncated: Any = None,
        last_values: Any = None, next_values: Any = None) -> GAEResult:
    """GAE(gamma, lambda) advantages and discounted returns for a batch of trajectories.

    Args:
        rewards: r_t, shape (T, N) (N trajectories side by side) or (T,).
        values: V(s_t) for the state each reward was earned from, same shape.
        dones: True where an episode ended after step t (terminated or truncated).
        gamma: the discount, in [0, 1].
        lam: lambda, the GAE weight, in [0, 1].
        truncated: True where the episode was cut by a time limit after step t
            (implies an end); the last residual then bootstraps from V(s_{t+1}).
            A step that reached a terminal state *and* the time limit is
            terminal: pass ``truncated & ~terminated``.
        last_values: V of the state after the last row, shape (N,); needed when
            a trajectory is still running at the end of the batch.
        next_values: V(s_{t+1}) of every step's true successor, shape (T, N);
            overrides the shifted ``values`` and ``last_values``.

    Returns:
        ``GAEResult(advantages, returns)``, arrays of the rewards' float dtype
        (float32 unless float64 was passed) and shape.

    Rows after an episode's end in the same column start a new episode (as an
    auto-resetting vector environment produces) or are padding; either way
    they never reach the earlier episode's estimates.
    """
    gamma = check_discount("gamma", gamma)
    lam = check_discount("lam", lam)
    if values is None:
        raise ValueError("gae: values must be given (for returns without a value function use discounted_returns)")
    r, v, nv, terminal, ended, squeeze = _prepare(rewards, values, dones, truncated, last_values, next_values, "gae")
    dtype = r.dtype
    v = v.astype(dtype, copy=False)
    g = dtype.type(gamma)
    gl = dtype.type(gamma * lam)
    boot = np.where(terminal, dtype.type(0), nv)  # V(s_{t+1}), or 0 after a terminal state
    delta = r + g * boot - v  # delta_t = r_t + gamma V(s_{t+1}) - V(s_t), for the whole batch at once
    # cont[t]: the trajectory goes on into row t + 1 of the same column (never past the last row)
    cont = ~ended
    cont[-1:] = False
    adv = np.empty_like(delta)
    ret = np.empty_like(delta)
    a_next = np.zeros(delta.shape[1], dtype)
    r_next = np.zeros(delta.shape[1], dtype)
    for t in range(delta.shape[0] - 1, -1, -1):
        a_next = delta[t] + gl * np.where(cont[t], a_next, dtype.type(0))  # A_t = delta_t + gamma lam A_{t+1}
        r_next = r[t] + g * np.where(cont[t], r_next, boot[t])              # R_t = r_t + gamma R_{t+1}
        adv[t] = a_next
        ret[t] = r_next
    if squeeze:
        adv, ret = adv[:, 0], ret[:, 0]
    return GAEResult(adv, ret)


def discounted_returns(rewards: Any, dones: Any, *, gamma: float, truncated: Any = None,
                       last_values: Any = None, next_values: Any = None) -> np.ndarray:
    """R_t = sum_{l} gamma^l r_{t+l} within each episode, shape (T, N) (or (T,)).

    A truncated episode, or one still running on the last row, adds
    gamma^k V(s_{t+k}) when ``next_values``/``last_values`` say what that value
    is, and nothing otherwise.
    """
    gamma = check_discount("gamma", gamma, "discounted_returns")
    r, _, nv, terminal, ended, squeeze = _prepare(rewards, None, dones, truncated, last_values, next_values,
                                                  "discounted_returns")
    dtype = r.dtype
    g = dtype.type(gamma)
    cont = ~ended
    cont[-1:] = False
    boot = np.where(terminal, dtype.type(0), nv)
    out = np.empty_like(r)
    run = np.zeros(r.shape[1], dtype)
    for t in range(r.shape[0] - 1, -1, -1):
        run = r[t] + g * np.where(cont[t], run, boot[t])
        out[t] = run
    return out[:, 0] if squeeze else out


def time_baseline(returns: Any, mask: Any) -> np.ndarray:
    """The paper's "no value function" baseline: b_t = mean of R_t over the trajectories alive at step t.

    ``returns`` and ``mask`` (True on real, non-padding steps) have shape (T, N)
    with one whole episode per column, so row t holds every trajectory's t-th
    step.  The baseline depends on the time step only, never on the state
    (section 6.3 of the paper).  Rows with no live trajectory get 0.
    """
    R = np.asarray(returns)
    m = np.asarray(mask, dtype=bool)
    if R.shape != m.shape or R.ndim != 2:
        raise ValueError(f"time_baseline: returns {R.shape} and mask {m.shape} must both have shape (T, N)")
    count = m.sum(axis=1)
    total = np.where(m, R, 0).sum(axis=1)
    b = np.where(count > 0, total / np.maximum(count, 1), 0).astype(R.dtype, copy=False)
    return np.broadcast_to(b[:, None], R.shape).copy()
