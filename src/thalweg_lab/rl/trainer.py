"""The policy-gradient loop of the GAE paper (section 6.1), with TRPO or PPO as the policy step.

Each iteration:

1. run the current policy for a batch of whole episodes;
2. compute GAE(gamma, lambda) advantages with the *current* value function
   V_phi_i (the paper stresses that fitting V first would bias the estimate),
   or, with ``value_function=False``, the paper's "no value function"
   baseline: the discounted return minus the average return at the same time
   step over the batch;
3. normalise the advantages to mean 0 and standard deviation 1 over the batch;
4. update the policy: a TRPO step (``step="trpo"``, the paper's) or PPO's
   clipped objective (``step="ppo"``, a first-order comparison);
5. fit the value function by regression on the discounted returns (the
   paper's equation 28): full-batch L-BFGS on the mean squared error (the
   paper used a trust region for this regression, eq. 30; the authors'
   released code used L-BFGS), or minibatch Adam.

Every iteration returns (and, with ``log=print``, prints) a dict with the
mean episode return and length, the KL between the old and new policy, the
value loss and which step was used.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from thalweg import optim
from thalweg.autograd import no_grad
from thalweg.autograd.tensor import Tensor
from thalweg.ops import api as ops
from thalweg.train.record import RunRecord
from thalweg_lab.rl.envs import GymVecEnv, VecEnv, make_env
from thalweg_lab.rl.gae import check_discount, discounted_returns, gae, time_baseline
from thalweg_lab.rl.policies import CategoricalPolicy, GaussianPolicy, Policy, ValueFunction
from thalweg_lab.rl.ppo import ppo_step
from thalweg_lab.rl.rollout import Batch, collect_episodes
from thalweg_lab.rl.trpo import trpo_step

__all__ = ["PGConfig", "PolicyGradientTrainer", "format_progress"]

_NO_STEPS: dict[str, list[float]] = {"epoch": [], "loss": [], "lr": []}  # the run record's per-step trace: none


@dataclass
class PGConfig:
    """Hyperparameters of :class:`PolicyGradientTrainer` (checked when built).

    The defaults follow the GAE paper's cart-pole study where it gives them
    (20 trajectories per batch, TRPO, a value network with one hidden layer of
    20 units, a linear policy) and common TRPO/PPO practice elsewhere.
    """

    gamma: float = 0.99
    lam: float = 0.97
    episodes_per_batch: int = 20
    step: str = "trpo"  # "trpo" or "ppo"
    value_function: bool = True  # False: the paper's time-dependent "no value function" baseline
    normalize_advantages: bool = True
    policy_hidden: Sequence[int] = ()  # () is a linear policy
    vf_hidden: Sequence[int] = (20,)
    # TRPO
    max_kl: float = 0.01
    cg_iters: int = 10
    cg_damping: float = 0.01
    backtrack_ratio: float = 0.5
    max_backtracks: int = 10
    # PPO
    ppo_clip: float = 0.2
    ppo_epochs: int = 10
    ppo_lr: float = 3e-3
    ppo_minibatch_size: int = 256
    ppo_target_kl: float | None = None
    # value function regression: full-batch L-BFGS (as the authors' code did) or minibatch Adam
    vf_optimizer: str = "lbfgs"
    vf_iters: int = 25  # L-BFGS iterations per fit
    vf_lr: float = 1e-2  # Adam
    vf_epochs: int = 10  # Adam
    vf_minibatch_size: int = 256  # Adam
    # Gaussian policies
    log_std_init: float = 0.0

    def __post_init__(self) -> None:
        check_discount("gamma", self.gamma, "PGConfig")
        check_discount("lam", self.lam, "PGConfig")
        if self.step not in ("trpo", "ppo"):
            raise ValueError(f"PGConfig: step must be 'trpo' or 'ppo', got {self.step!r}")
        if self.vf_optimizer not in ("lbfgs", "adam"):
            raise ValueError(f"PGConfig: vf_optimizer must be 'lbfgs' or 'adam', got {self.vf_optimizer!r}")
        for name in ("episodes_per_batch", "cg_iters", "ppo_epochs", "ppo_minibatch_size", "vf_epochs",
                     "vf_minibatch_size", "vf_iters"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"PGConfig: {name} must be a positive integer, got {v!r}")
        for name in ("max_kl", "ppo_lr", "vf_lr"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v > 0 and math.isfinite(v)):
                raise ValueError(f"PGConfig: {name} must be a positive number, got {v!r}")
        if not 0 < self.ppo_clip < 1:
            raise ValueError(f"PGConfig: ppo_clip must lie in (0, 1), got {self.ppo_clip!r}")
        if self.cg_damping < 0:
            raise ValueError(f"PGConfig: cg_damping must be >= 0, got {self.cg_damping!r}")


def format_progress(stats: dict[str, Any]) -> str:
    """One line per iteration: return, length, KL, value loss, the step used and its details."""
    step = stats["step"]
    if step == "trpo":
        detail = f"trpo bt={stats['backtracks']}" + ("" if stats["accepted"] else " rejected")
    else:
        detail = f"ppo ep={stats['epochs']} clip={stats['clip_fraction']:.2f}"
    vl = stats["value_loss"]
    vl_s = "   -   " if vl is None or not math.isfinite(vl) else f"{vl:7.3g}"
    return (f"iter {stats['iteration']:3d} | return {stats['mean_return']:8.2f} +- {stats['std_return']:6.2f} | "
            f"len {stats['mean_length']:6.1f} | kl {stats['kl']:.4f} | vf loss {vl_s} | {detail} | "
            f"{stats['time_s']:.2f}s")


class PolicyGradientTrainer:
    """Policy-gradient training with GAE on a vector of episodes.

        trainer = PolicyGradientTrainer("CartPole-v1", config=PGConfig(lam=0.96), seed=0)
        history = trainer.train(30, log=print)         # one dict per iteration
        trainer.plot("curve.png")                        # the learning curve (matplotlib)

    ``env`` is an id (gymnasium's, or a built-in ``"tw/..."`` one) or an
    environment object with ``num_envs`` slots (see ``envs.py``).  The
    policy is categorical for discrete actions and Gaussian otherwise, unless
    one is passed.  All randomness (initialization, environment seeds, action
    sampling, minibatches) comes from ``seed``, so a run is reproducible.
    """

    def __init__(self, env: str | VecEnv | GymVecEnv, *, config: PGConfig | None = None,
                 policy: Policy | None = None, value_fn: ValueFunction | None = None, seed: int = 0) -> None:
        self.config = config if config is not None else PGConfig()
        cfg = self.config
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"PolicyGradientTrainer: seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        self.env = make_env(env, cfg.episodes_per_batch) if isinstance(env, str) else env
        spec = self.env.spec
        init_rng = np.random.default_rng([self.seed, 0])
        self.rng = np.random.default_rng([self.seed, 1])  # sampling, environment seeds, minibatches
        if policy is None:
            if spec.discrete:
                policy = CategoricalPolicy(spec.obs_dim, spec.n_actions, hidden=cfg.policy_hidden,
                                           generator=init_rng)
            else:
                policy = GaussianPolicy(spec.obs_dim, spec.action_dim, hidden=cfg.policy_hidden,
                                        log_std_init=cfg.log_std_init, generator=init_rng)
        self.policy = policy
        if value_fn is None and cfg.value_function:
            value_fn = ValueFunction(spec.obs_dim, hidden=cfg.vf_hidden, generator=init_rng)
        self.value_fn = value_fn if cfg.value_function else None
        self.vf_optimizer = optim.Adam(self.value_fn.parameters(), lr=cfg.vf_lr) \
            if self.value_fn is not None and cfg.vf_optimizer == "adam" else None
        self.policy_optimizer = optim.Adam(self.policy.parameters(), lr=cfg.ppo_lr) if cfg.step == "ppo" else None
        self.history: list[dict[str, Any]] = []
        self.last_batch: Batch | None = None

    # ---------------------------------------------------------------- estimation
    def advantages(self, batch: Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(advantages, value targets, values) of shape (T, N) for a batch, before normalisation."""
        cfg = self.config
        T, N = batch.mask.shape
        if self.value_fn is None:
            returns = discounted_returns(batch.rewards, batch.dones, gamma=cfg.gamma)
            baseline = time_baseline(returns, batch.mask)
            adv = np.where(batch.mask, returns - baseline, 0).astype(np.float32)
            return adv, returns, baseline
        values = np.zeros((T, N), np.float32)
        values[batch.mask] = self.value_fn.predict(batch.flat(batch.obs))
        next_values = np.zeros((T, N), np.float32)
        next_values[:-1] = values[1:]
        # at each episode's last step the successor is final_obs: bootstrap from it if the time limit cut it
        last = batch.lengths - 1
        cut = batch.truncated[last, np.arange(N)]
        final_v = self.value_fn.predict(batch.final_obs) if cut.any() else np.zeros(N, np.float32)
        next_values[last, np.arange(N)] = np.where(cut, final_v, 0)
        adv, returns = gae(batch.rewards, values, batch.dones, gamma=cfg.gamma, lam=cfg.lam,
                           truncated=batch.truncated, next_values=next_values)
        return adv, returns, values

    def fit_value_function(self, obs: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
        """Regress V(s) on the targets by mean squared error; returns the loss before and after.

        ``vf_optimizer="lbfgs"``: ``vf_iters`` iterations of full-batch L-BFGS with
        a strong-Wolfe line search, a fresh history each time (what the
        authors' code did); ``"adam"``: ``vf_epochs`` epochs of minibatch Adam.
        """
        cfg = self.config
        vf = self.value_fn
        targets = targets.astype(np.float32)
        before = float(np.mean((vf.predict(obs) - targets) ** 2))
        if cfg.vf_optimizer == "lbfgs":
            obs_t, tgt_t = Tensor(obs), Tensor(targets)
            opt = optim.LBFGS(vf.parameters(), max_iter=cfg.vf_iters, line_search_fn="strong_wolfe")

            def closure() -> Tensor:
                opt.zero_grad()
                loss = ops.mean((vf(obs_t) - tgt_t) ** 2)
                loss.backward()
                return loss

            opt.step(closure)
        else:
            opt = self.vf_optimizer
            n = len(obs)
            for _ in range(cfg.vf_epochs):
                perm = self.rng.permutation(n)
                for start in range(0, n, cfg.vf_minibatch_size):
                    idx = perm[start:start + cfg.vf_minibatch_size]
                    loss = ops.mean((vf(Tensor(obs[idx])) - Tensor(targets[idx])) ** 2)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
        after = float(np.mean((vf.predict(obs) - targets) ** 2))
        return before, after

    # ----------------------------------------------------------------- the loop
    def step(self) -> dict[str, Any]:
        """One iteration (collect, estimate, policy step, value fit); returns its statistics."""
        cfg = self.config
        t0 = time.perf_counter()
        batch = collect_episodes(self.env, self.policy, seed=int(self.rng.integers(2 ** 31)), generator=self.rng)
        self.last_batch = batch
        adv, targets, values = self.advantages(batch)
        obs = batch.flat(batch.obs)
        actions = batch.flat(batch.actions)
        a = batch.flat(adv)
        if cfg.normalize_advantages:
            a = (a - a.mean()) / (a.std() + 1e-8)
        a = a.astype(np.float32)
        if cfg.step == "trpo":
            info = trpo_step(self.policy, obs, actions, a, max_kl=cfg.max_kl, cg_iters=cfg.cg_iters,
                             damping=cfg.cg_damping, backtrack_ratio=cfg.backtrack_ratio,
                             max_backtracks=cfg.max_backtracks)
        else:
            info = ppo_step(self.policy, self.policy_optimizer, obs, actions, a, clip=cfg.ppo_clip,
                            epochs=cfg.ppo_epochs, minibatch_size=cfg.ppo_minibatch_size,
                            target_kl=cfg.ppo_target_kl, generator=self.rng)
        vl_before = vl_after = float("nan")
        explained = float("nan")
        if self.value_fn is not None:
            flat_t = batch.flat(targets)
            var = float(np.var(flat_t))
            explained = 1.0 - float(np.var(flat_t - batch.flat(values))) / var if var > 0 else float("nan")
            vl_before, vl_after = self.fit_value_function(obs, flat_t)
        with no_grad():
            entropy = self.policy.entropy(self.policy(obs[:1024])).array
        rets = batch.episode_returns
        stats = {
            "iteration": len(self.history) + 1,
            "step": info.method,
            "mean_return": float(rets.mean()),
            "std_return": float(rets.std()),
            "mean_length": float(batch.lengths.mean()),
            "episodes": int(batch.mask.shape[1]),
            "steps": batch.num_steps,
            "kl": float(info.kl),
            "surrogate_gain": float(info.surrogate_after - info.surrogate_before),
            "accepted": bool(info.accepted),
            "backtracks": int(info.backtracks),
            "epochs": int(info.epochs),
            "clip_fraction": float(info.clip_fraction),
            "value_loss": vl_before,
            "value_loss_after": vl_after,
            "explained_variance": explained,
            "entropy": float(np.mean(entropy)),
            "time_s": time.perf_counter() - t0,
        }
        self.history.append(stats)
        return stats

    def train(self, iterations: int, *, log: Callable[[str], Any] | None = None, callbacks: Sequence[Any] = (),
              run_dir: str | Path | None = None) -> list[dict[str, Any]]:
        """Run ``iterations`` iterations; ``log`` (e.g. ``print``) receives one progress line each.

        The rollout loop is this class's own, but it speaks the core loop's language: ``callbacks`` are
        ``thalweg.train`` callbacks (an iteration is their "epoch" and its statistics their logs, so
        ``EarlyStopping("mean_return", mode="max")`` works, and ``stop(reason)`` ends the run after the
        iteration), and ``run_dir`` writes the same run record as ``thalweg.train.fit`` (``config.json``,
        ``metrics.jsonl`` with one row per iteration, ``summary.json``), which ``thalweg report`` reads.
        """
        if not isinstance(iterations, (int, np.integer)) or iterations < 0:
            raise ValueError(f"train: iterations must be a non-negative integer, got {iterations!r}")
        self.should_stop, self.stop_reason, self._log = False, None, log
        self.callbacks = list(callbacks)
        record = None if run_dir is None else RunRecord(run_dir)
        if record is not None:
            record.start(self.config_dict())
        for cb in self.callbacks:
            cb.on_fit_start(self)
        for _ in range(int(iterations)):
            i = len(self.history) + 1
            for cb in self.callbacks:
                cb.on_epoch_start(self, i)
            stats = self.step()
            if log is not None:
                log(format_progress(stats))
            if record is not None:
                record.update(self.history, [], _NO_STEPS)
            for cb in self.callbacks:
                cb.on_epoch_end(self, i, {**stats, "epoch": i})
            if self.should_stop:
                break
        for cb in self.callbacks:
            cb.on_fit_end(self)
        if record is not None:
            last = self.history[-1] if self.history else None
            summary = {"status": "stopped" if self.should_stop else "completed",
                       "stop_reason": self.stop_reason or f"completed {len(self.history)} iterations",
                       "epochs_run": len(self.history), "final": last}
            summary = record.finish(summary, self.history, [], _NO_STEPS, plots=False)
            for cb in self.callbacks:
                cb.on_summary(self, summary)
        return self.history

    # what the core loop's callbacks ask of a trainer
    @property
    def model(self) -> Policy:
        return self.policy

    @property
    def optimizer(self) -> Any:
        return self.policy_optimizer

    @property
    def epoch(self) -> int:
        return len(self.history)

    def stop(self, reason: str, *, now: bool = False) -> None:
        """Ask the loop to stop after the current iteration (callbacks call this)."""
        if not getattr(self, "should_stop", False):
            self.should_stop, self.stop_reason = True, reason

    def log(self, msg: str) -> None:
        if getattr(self, "_log", None) is not None:
            self._log(msg)

    def evaluate(self) -> dict[str, float]:
        """Mean return and length of one fresh batch of episodes with the current policy (no update)."""
        batch = collect_episodes(self.env, self.policy, seed=int(self.rng.integers(2 ** 31)), generator=self.rng)
        return {"mean_return": float(batch.episode_returns.mean()), "std_return": float(batch.episode_returns.std()),
                "mean_length": float(batch.lengths.mean())}

    def plot(self, path: str, *, title: str | None = None) -> str:
        """Save the learning curve (mean return per iteration, with +- one std band) as a PNG."""
        from thalweg_lab.rl.plots import plot_learning_curves

        label = f"{self.config.step}, gamma={self.config.gamma}, lambda={self.config.lam}"
        if not self.config.value_function:
            label = f"{self.config.step}, gamma={self.config.gamma}, no value function"
        return plot_learning_curves({label: [self.history]}, path, title=title or getattr(self.env.spec, "id", ""))

    def config_dict(self) -> dict[str, Any]:
        d = asdict(self.config)
        d["seed"] = self.seed
        d["env"] = self.env.spec.id
        return d
