"""The policy-gradient trainer: it learns on the built-in environments in seconds (TRPO and PPO, categorical and
Gaussian), is reproducible from its seed, reports progress, and the environments behave (and fail) as documented."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from thalweg_lab import rl
from thalweg_lab.rl import CartPole, PGConfig, PointGoal, PolicyGradientTrainer, collect_episodes, format_progress


def returns(history):
    return [h["mean_return"] for h in history]


def test_trpo_learns_cartpole():
    trainer = PolicyGradientTrainer("tw/CartPole-v1", config=PGConfig(lam=0.96), seed=0)
    r = returns(trainer.train(8))
    assert all(h["step"] == "trpo" for h in trainer.history)
    assert all(h["kl"] <= 0.01 for h in trainer.history)
    assert np.mean(r[-2:]) > 2 * r[0] and np.mean(r[-2:]) > 60  # a random linear policy lasts ~20 steps


def test_ppo_learns_cartpole():
    trainer = PolicyGradientTrainer("tw/CartPole-v1", config=PGConfig(step="ppo", lam=0.96), seed=0)
    r = returns(trainer.train(10))
    assert all(h["step"] == "ppo" for h in trainer.history)
    assert np.mean(r[-2:]) > 1.5 * r[0]


def test_gaussian_policy_learns_point_goal():
    cfg = PGConfig(lam=0.95, episodes_per_batch=10, policy_hidden=(16,), vf_hidden=(16,), max_kl=0.02)
    trainer = PolicyGradientTrainer("tw/PointGoal-v0", config=cfg, seed=1)
    assert isinstance(trainer.policy, rl.GaussianPolicy)
    r = returns(trainer.train(10))
    assert np.mean(r[-2:]) > r[0] + 0.3 * abs(r[0])  # returns are negative: closer to 0 is better


def test_no_value_function_baseline_learns():
    trainer = PolicyGradientTrainer("tw/CartPole-v1", config=PGConfig(value_function=False), seed=2)
    assert trainer.value_fn is None
    r = returns(trainer.train(8))
    assert np.mean(r[-2:]) > 2 * r[0]
    assert np.isnan(trainer.history[-1]["value_loss"])


def test_same_seed_same_run_other_seed_other_run():
    def run(seed, step):
        t = PolicyGradientTrainer("tw/CartPole-v1", config=PGConfig(step=step, episodes_per_batch=5), seed=seed)
        hist = [{k: v for k, v in h.items() if k != "time_s"} for h in t.train(3)]
        return hist, [p.array.copy() for p in t.policy.parameters()]

    for step in ("trpo", "ppo"):
        h1, p1 = run(3, step)
        h2, p2 = run(3, step)
        assert h1 == h2
        for a, b in zip(p1, p2):
            np.testing.assert_array_equal(a, b)
        h3, _ = run(4, step)
        assert h3 != h1


def test_progress_lines_and_learning_curve(tmp_path):
    trainer = PolicyGradientTrainer("tw/CartPole-v1", config=PGConfig(episodes_per_batch=4), seed=0)
    lines: list[str] = []
    trainer.train(2, log=lines.append)
    assert len(lines) == 2
    for key in ("iter   1", "return", "len", "kl", "vf loss", "trpo"):
        assert key in lines[0]
    stats = trainer.history[-1]
    for key in ("mean_return", "mean_length", "kl", "value_loss", "explained_variance", "entropy", "step"):
        assert key in stats
    ppo_line = format_progress({**stats, "step": "ppo", "epochs": 10, "clip_fraction": 0.1})
    assert "ppo ep=10" in ppo_line
    pytest.importorskip("matplotlib")
    path = trainer.plot(str(tmp_path / "curve.png"))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_batch_layout_and_truncation_bootstrap():
    env = PointGoal(3, max_episode_steps=7)
    trainer = PolicyGradientTrainer(env, config=PGConfig(gamma=0.9, lam=0.8, episodes_per_batch=3), seed=0)
    batch = collect_episodes(env, trainer.policy, seed=0, generator=np.random.default_rng(0))
    assert batch.obs.shape == (7, 3, 2) and batch.actions.shape == (7, 3, 2)
    assert batch.mask.all() and (batch.lengths == 7).all()
    assert batch.truncated[-1].all() and not batch.terminated.any()
    adv, targets, values = trainer.advantages(batch)
    v_final = trainer.value_fn.predict(batch.final_obs)
    # a time-limit end bootstraps: R_{T-1} = r_{T-1} + gamma V(s_T), A_{T-1} = that - V(s_{T-1})
    np.testing.assert_allclose(targets[-1], batch.rewards[-1] + 0.9 * v_final, rtol=1e-5)
    np.testing.assert_allclose(adv[-1], targets[-1] - values[-1], rtol=1e-4, atol=1e-6)


def test_cartpole_episodes_end_and_are_padded():
    env = CartPole(6)
    trainer = PolicyGradientTrainer(env, config=PGConfig(episodes_per_batch=6), seed=0)
    batch = collect_episodes(env, trainer.policy, seed=1, generator=np.random.default_rng(1))
    T = batch.mask.shape[0]
    lengths = batch.lengths
    assert lengths.max() == T and (lengths < 500).all()
    for n, L in enumerate(lengths):
        assert batch.mask[:L, n].all() and not batch.mask[L:, n].any()
        assert batch.terminated[L - 1, n] and batch.terminated[:, n].sum() == 1
    np.testing.assert_array_equal(batch.episode_returns, lengths)  # reward 1 per step


def test_bad_configuration_and_environment_errors(monkeypatch):
    with pytest.raises(ValueError, match="gamma must lie in \\[0, 1\\], got 1.2"):
        PGConfig(gamma=1.2)
    with pytest.raises(ValueError, match="lam must lie in"):
        PGConfig(lam=-0.5)
    with pytest.raises(ValueError, match="step must be 'trpo' or 'ppo', got 'sgd'"):
        PGConfig(step="sgd")
    with pytest.raises(ValueError, match="episodes_per_batch must be a positive integer, got 0"):
        PGConfig(episodes_per_batch=0)
    with pytest.raises(ValueError, match="unknown built-in environment 'tw/Nope'.*tw/CartPole-v1"):
        rl.make_env("tw/Nope")
    with pytest.raises(ValueError, match="actions must be 0 or 1"):
        CartPole(2).step(np.array([0, 3]))
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # as if gymnasium were not installed
    with pytest.raises(ImportError, match="gymnasium is not installed.*pip install gymnasium.*tw/CartPole-v1"):
        rl.make_env("CartPole-v1")


def test_unknown_gymnasium_id():
    pytest.importorskip("gymnasium")
    with pytest.raises(ValueError, match="gymnasium does not know the environment id 'CartPole-v99'"):
        rl.make_env("CartPole-v99")


def test_builtin_cartpole_matches_gymnasium():
    gym = pytest.importorskip("gymnasium")
    ref = gym.make("CartPole-v1").unwrapped
    ours = CartPole(1)
    rng = np.random.default_rng(0)
    ref.reset(seed=0)
    ours.reset(seed=0)
    ours.state[0] = ref.state  # the same start state
    steps = 0
    for _ in range(300):
        a = int(rng.integers(2))
        o_ref, r_ref, term_ref, _, _ = ref.step(a)
        o, r, term, _ = ours.step(np.array([a]))
        np.testing.assert_allclose(o[0], o_ref, rtol=1e-6, atol=1e-7)
        assert r[0] == r_ref and term[0] == term_ref
        steps += 1
        if term_ref:
            ref.reset(seed=steps)
            ours.state[0] = ref.state
    assert steps == 300


def test_gymnasium_environments_run():
    pytest.importorskip("gymnasium")
    t = PolicyGradientTrainer("CartPole-v1", config=PGConfig(episodes_per_batch=3), seed=0)
    t.train(2)
    cfg = PGConfig(episodes_per_batch=2, policy_hidden=(8,), vf_hidden=(8,))
    p = PolicyGradientTrainer("Pendulum-v1", config=cfg, seed=0)
    assert isinstance(p.policy, rl.GaussianPolicy)
    stats = p.step()
    assert stats["mean_length"] == 200  # Pendulum only ends by its time limit
    assert p.last_batch.truncated[-1].all() and not p.last_batch.terminated.any()
