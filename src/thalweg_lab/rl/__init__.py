"""Reinforcement learning (``thalweg_lab.rl``): GAE, policies, TRPO and PPO steps, a policy-gradient trainer.

    from thalweg_lab import rl
    adv, ret = rl.gae(rewards, values, dones, gamma=0.99, lam=0.96)      # (T, N) batches
    trainer = rl.PolicyGradientTrainer("CartPole-v1", config=rl.PGConfig(lam=0.96), seed=0)
    trainer.train(30, log=print)                                          # TRPO by default
    trainer.plot("cartpole.png")

* :func:`gae`, :func:`discounted_returns`, :func:`time_baseline`: the estimators
  of Schulman et al., "High-Dimensional Continuous Control Using Generalized
  Advantage Estimation" (ICLR 2016, arXiv:1506.02438), vectorised over a
  batch of trajectories, with terminal states and time-limit truncation.
* :class:`CategoricalPolicy`, :class:`GaussianPolicy`, :class:`ValueFunction`:
  ``tw.nn`` modules.
* :func:`trpo_step` (conjugate gradient on analytic Fisher-vector products, a
  KL-constrained backtracking line search) and :func:`ppo_step` (PPO's clipped
  objective, first order).
* :class:`PolicyGradientTrainer`, :class:`PGConfig`: the paper's loop.
* Environments: built-in NumPy ``"tw/CartPole-v1"`` and ``"tw/PointGoal-v0"``;
  any other id goes to gymnasium (optional: ``pip install gymnasium``).
"""

from thalweg_lab.rl.envs import BUILTIN_ENVS, CartPole, EnvSpec, GymVecEnv, PointGoal, VecEnv, make_env
from thalweg_lab.rl.fisher import FisherOperator, Linearization, conjugate_gradient, flat_grad, get_flat_params, jvp, set_flat_params
from thalweg_lab.rl.gae import GAEResult, discounted_returns, gae, time_baseline
from thalweg_lab.rl.policies import CategoricalPolicy, GaussianPolicy, Policy, ValueFunction, mlp
from thalweg_lab.rl.ppo import ppo_clip_objective, ppo_step
from thalweg_lab.rl.rollout import Batch, collect_episodes
from thalweg_lab.rl.trainer import PGConfig, PolicyGradientTrainer, format_progress
from thalweg_lab.rl.trpo import StepInfo, surrogate, trpo_step

__all__ = ["BUILTIN_ENVS", "Batch", "CartPole", "CategoricalPolicy", "EnvSpec", "FisherOperator", "GAEResult",
           "GaussianPolicy", "GymVecEnv", "Linearization", "PGConfig", "PointGoal", "Policy",
           "PolicyGradientTrainer", "StepInfo", "ValueFunction", "VecEnv", "collect_episodes", "conjugate_gradient",
           "discounted_returns", "flat_grad", "format_progress", "gae", "get_flat_params", "jvp", "make_env", "mlp",
           "ppo_clip_objective", "ppo_step", "set_flat_params", "surrogate", "time_baseline", "trpo_step"]
