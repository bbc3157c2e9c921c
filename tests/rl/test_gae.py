"""GAE against its definition: the explicit sum of (gamma lambda)^l delta_{t+l}, the lambda = 0 and lambda = 1
identities, terminal states versus time-limit truncation, and the bad-input errors."""

from __future__ import annotations

import numpy as np
import pytest

from thalweg_lab.rl import discounted_returns, gae, time_baseline


def random_batch(T: int = 13, N: int = 5, seed: int = 0, p_end: float = 0.15, p_trunc: float = 0.4):
    """Rewards, values, ends, truncations and the true successor values of an auto-resetting rollout."""
    rng = np.random.default_rng(seed)
    r = rng.standard_normal((T, N))
    v = rng.standard_normal((T, N))
    ends = rng.random((T, N)) < p_end
    trunc = ends & (rng.random((T, N)) < p_trunc)
    # V(s_{t+1}) of the true successor: the next row within an episode, a separate final state at an end
    nv = np.empty((T, N))
    nv[:-1] = v[1:]
    nv[-1] = rng.standard_normal(N)
    final = rng.standard_normal((T, N))
    nv = np.where(ends, final, nv)
    return r, v, ends, trunc, nv


def explicit(r, v, ends, trunc, nv, gamma, lam):
    """A_t = sum_l (gamma lam)^l delta_{t+l} and R_t = sum_l gamma^l r_{t+l} (+ bootstrap), summed term by term."""
    T, N = r.shape
    terminal = ends & ~trunc
    delta = r + gamma * np.where(terminal, 0.0, nv) - v
    A = np.zeros((T, N))
    R = np.zeros((T, N))
    for n in range(N):
        for t in range(T):
            a = ret = 0.0
            for k in range(t, T):  # the episode's remaining steps in this batch
                a += (gamma * lam) ** (k - t) * delta[k, n]
                ret += gamma ** (k - t) * r[k, n]
                if ends[k, n] or k == T - 1:
                    if not terminal[k, n]:  # truncated, or cut by the batch: bootstrap from V(s_{k+1})
                        ret += gamma ** (k - t + 1) * nv[k, n]
                    break
            A[t, n], R[t, n] = a, ret
    return A, R


@pytest.mark.parametrize("gamma,lam", [(0.99, 0.95), (0.9, 0.5), (1.0, 1.0), (0.97, 0.0), (0.0, 0.7)])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_explicit_sum(gamma, lam, seed):
    r, v, ends, trunc, nv = random_batch(seed=seed)
    assert ends.any() and trunc.any() and (ends & ~trunc).any()  # the batch exercises every case
    adv, ret = gae(r, v, ends, gamma=gamma, lam=lam, truncated=trunc, next_values=nv)
    A, R = explicit(r, v, ends, trunc, nv, gamma, lam)
    np.testing.assert_allclose(adv, A, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ret, R, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(discounted_returns(r, ends, gamma=gamma, truncated=trunc, next_values=nv), R,
                               rtol=1e-12, atol=1e-12)


def test_lambda_zero_is_the_td_residual():
    r, v, ends, trunc, nv = random_batch(seed=3)
    gamma = 0.95
    adv, _ = gae(r, v, ends, gamma=gamma, lam=0.0, truncated=trunc, next_values=nv)
    delta = r + gamma * np.where(ends & ~trunc, 0.0, nv) - v
    np.testing.assert_allclose(adv, delta, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("gamma", [0.9, 0.99, 1.0])
def test_lambda_one_is_discounted_return_minus_value(gamma):
    r, v, ends, trunc, nv = random_batch(seed=4)
    adv, ret = gae(r, v, ends, gamma=gamma, lam=1.0, truncated=trunc, next_values=nv)
    np.testing.assert_allclose(adv, ret - v, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ret, discounted_returns(r, ends, gamma=gamma, truncated=trunc, next_values=nv),
                               rtol=1e-12)


def test_shifted_values_and_last_values_equal_next_values():
    """Without mid-batch truncation, next_values is just values shifted up one row plus last_values."""
    rng = np.random.default_rng(5)
    T, N = 9, 4
    r, v = rng.standard_normal((T, N)), rng.standard_normal((T, N))
    ends = rng.random((T, N)) < 0.2
    last = rng.standard_normal(N)
    nv = np.vstack([v[1:], last[None]])
    a1, r1 = gae(r, v, ends, gamma=0.9, lam=0.8, last_values=last)
    a2, r2 = gae(r, v, ends, gamma=0.9, lam=0.8, next_values=nv)
    np.testing.assert_allclose(a1, a2, rtol=1e-14)
    np.testing.assert_allclose(r1, r2, rtol=1e-14)


def test_terminal_versus_truncated_by_hand():
    """One 3-step episode: a terminal end adds nothing after it, a truncated one adds gamma V(s_3)."""
    r = np.array([1.0, 1.0, 1.0])
    v = np.array([0.5, 0.4, 0.3])
    done = np.array([False, False, True])
    g, lam = 0.5, 1.0
    adv, ret = gae(r, v, done, gamma=g, lam=lam)  # terminal
    assert ret[0] == pytest.approx(1 + 0.5 + 0.25)
    assert adv[2] == pytest.approx(1 - 0.3)
    adv_t, ret_t = gae(r, v, done, gamma=g, lam=lam, truncated=done, last_values=[2.0])
    assert ret_t[0] == pytest.approx(1 + 0.5 + 0.25 + 0.125 * 2.0)
    assert adv_t[2] == pytest.approx(1 + 0.5 * 2.0 - 0.3)


def test_no_leak_across_episode_boundary():
    """Changing rewards after an episode's end leaves that episode's estimates unchanged."""
    r, v, ends, trunc, nv = random_batch(T=10, N=1, seed=7, p_end=0.0)
    ends[4, 0] = True
    a1, r1 = gae(r, v, ends, gamma=0.99, lam=0.9, truncated=trunc, next_values=nv)
    r2 = r.copy()
    r2[5:] += 100.0
    a2, rr2 = gae(r2, v, ends, gamma=0.99, lam=0.9, truncated=trunc, next_values=nv)
    np.testing.assert_array_equal(a1[:5], a2[:5])
    np.testing.assert_array_equal(r1[:5], rr2[:5])
    assert not np.allclose(a1[5:], a2[5:])


def test_vectorised_columns_equal_single_trajectories_and_1d_input():
    r, v, ends, trunc, nv = random_batch(seed=8)
    adv, ret = gae(r, v, ends, gamma=0.98, lam=0.9, truncated=trunc, next_values=nv)
    for n in range(r.shape[1]):
        a_n, r_n = gae(r[:, n], v[:, n], ends[:, n], gamma=0.98, lam=0.9, truncated=trunc[:, n],
                       next_values=nv[:, n])
        assert a_n.shape == (r.shape[0],)
        np.testing.assert_allclose(a_n, adv[:, n], rtol=1e-14)
        np.testing.assert_allclose(r_n, ret[:, n], rtol=1e-14)


def test_float32_stays_float32():
    r, v, ends, trunc, nv = random_batch(seed=9)
    adv, ret = gae(r.astype(np.float32), v.astype(np.float32), ends, gamma=0.99, lam=0.95, truncated=trunc,
                   next_values=nv.astype(np.float32))
    assert adv.dtype == np.float32 and ret.dtype == np.float32
    A, R = explicit(r.astype(np.float32).astype(np.float64), v.astype(np.float32).astype(np.float64), ends, trunc,
                    nv.astype(np.float32).astype(np.float64), 0.99, 0.95)
    np.testing.assert_allclose(adv, A, rtol=1e-4, atol=1e-5)


def test_time_baseline_averages_live_trajectories():
    R = np.array([[3.0, 5.0, 7.0], [2.0, 4.0, 0.0], [1.0, 0.0, 0.0]])
    mask = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0]], bool)
    b = time_baseline(R, mask)
    np.testing.assert_allclose(b[:, 0], [5.0, 3.0, 1.0])
    assert (b == b[:, :1]).all()  # depends on the time step only


@pytest.mark.parametrize("kw,match", [
    (dict(gamma=1.5, lam=0.9), "gamma must lie in \\[0, 1\\], got 1.5"),
    (dict(gamma=0.9, lam=-0.1), "lam must lie in \\[0, 1\\], got -0.1"),
    (dict(gamma=float("nan"), lam=0.9), "gamma must lie in"),
])
def test_bad_discounts(kw, match):
    with pytest.raises(ValueError, match=match):
        gae(np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 2), bool), **kw)


def test_bad_shapes_and_missing_bootstrap():
    with pytest.raises(ValueError, match=r"values has shape \(4, 2\) but rewards have shape \(3, 2\)"):
        gae(np.ones((3, 2)), np.ones((4, 2)), np.ones((3, 2), bool), gamma=0.9, lam=0.9)
    with pytest.raises(ValueError, match="dones has shape"):
        gae(np.ones((3, 2)), np.ones((3, 2)), np.ones((3,), bool), gamma=0.9, lam=0.9)
    with pytest.raises(ValueError, match="pass last_values"):
        gae(np.ones((3, 2)), np.ones((3, 2)), np.zeros((3, 2), bool), gamma=0.9, lam=0.9)
    trunc = np.zeros((3, 2), bool)
    trunc[0, 1] = True
    with pytest.raises(ValueError, match="truncated at step 0 < T-1.*pass next_values"):
        gae(np.ones((3, 2)), np.ones((3, 2)), trunc, gamma=0.9, lam=0.9, truncated=trunc, last_values=[0.0, 0.0])
    with pytest.raises(ValueError, match="last_values must have shape \\(2,\\)"):
        gae(np.ones((3, 2)), np.ones((3, 2)), np.zeros((3, 2), bool), gamma=0.9, lam=0.9, last_values=[1.0])
