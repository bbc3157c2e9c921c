"""Policies and value functions as ``tw.nn`` modules.

A policy maps a batch of observations to a distribution over actions:

* :class:`CategoricalPolicy`: a network gives the logits z of a categorical
  (discrete actions, e.g. cart-pole's push left / push right);
* :class:`GaussianPolicy`: a network gives the mean mu of a diagonal Gaussian
  whose log standard deviation is a separate, state-independent parameter
  vector (continuous actions, e.g. a pendulum's torque).

``hidden=()`` gives a *linear* policy, the GAE paper's choice for cart-pole.
Each policy also knows the Fisher information of its distribution in the
network's output space, which :class:`~thalweg_lab.rl.fisher.FisherOperator`
turns into TRPO's Fisher-vector products:

* categorical, in the logits: M = diag(p) - p p^T (the Hessian of log-sum-exp);
* diagonal Gaussian: the KL between N(mu0, s0^2) and N(mu, s^2) per dimension
  is log(s/s0) + (s0^2 + (mu - mu0)^2) / (2 s^2) - 1/2; its Hessian at the old
  parameters is 1/s0^2 in mu and 2 in log s, with no cross term.

:class:`ValueFunction` is a plain regression network V(s) (the paper's
cart-pole value function has one hidden layer of 20 tanh units).
"""

from __future__ import annotations

import abc
from typing import Any, Mapping, Sequence

import numpy as np

from thalweg import random as _random
from thalweg.autograd import no_grad
from thalweg.autograd.tensor import Tensor
from thalweg.distributions import Categorical, Normal, kl_divergence
from thalweg.nn import Linear, ReLU, Sequential, Tanh
from thalweg.nn.module import Module
from thalweg.nn.parameter import Parameter
from thalweg.ops import api as ops

__all__ = ["CategoricalPolicy", "GaussianPolicy", "Policy", "ValueFunction", "mlp"]

_ACTIVATIONS = {"tanh": Tanh, "relu": ReLU}


def mlp(in_features: int, out_features: int, hidden: Sequence[int] = (), *, activation: str = "tanh",
        out_scale: float = 1.0, generator: np.random.Generator | None = None) -> Sequential:
    """Linear -> act -> ... -> Linear, torch's default init from ``generator``; the last layer's
    weights are multiplied by ``out_scale`` and its bias zeroed (a small ``out_scale`` starts a
    policy near uniform / zero mean, a common choice since Schulman et al.'s TRPO code)."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"mlp: activation must be one of {', '.join(_ACTIVATIONS)}, got {activation!r}")
    sizes = [int(in_features), *(int(h) for h in hidden), int(out_features)]
    if any(s < 1 for s in sizes):
        raise ValueError(f"mlp: layer sizes must be positive, got {sizes}")
    layers: list[Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin = Linear(a, b)
        lin.reset_parameters(generator=_random.get_generator(generator))
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(_ACTIVATIONS[activation]())
    last = layers[-1]
    last.weight.array *= np.asarray(out_scale, last.weight.array.dtype)
    last.bias.array[...] = 0
    return Sequential(*layers)


def _obs_tensor(obs: Any, module: Module) -> Tensor:
    """Observations as a tensor of the module's dtype (float32 unless the module was made float64)."""
    dtype = next(iter(module.parameters())).array.dtype
    if isinstance(obs, Tensor):
        return obs if obs.dtype == dtype else obs.astype(dtype)
    return Tensor(np.asarray(obs, dtype))


class Policy(Module, metaclass=abc.ABCMeta):
    """Common interface of the policies (see the module docstring); subclasses set ``head``.

    An abstract base: instantiating it without the two distribution methods is a ``TypeError``.
    """

    head: Sequential
    discrete: bool

    @abc.abstractmethod
    def distribution_params(self, obs: Any) -> dict[str, np.ndarray]:
        """The distribution's parameters at ``obs`` as plain arrays (to remember the old policy)."""

    @abc.abstractmethod
    def distribution_from(self, params: Mapping[str, np.ndarray]) -> Any:
        """A constant distribution rebuilt from :meth:`distribution_params`."""

    def log_prob(self, dist: Any, actions: Any) -> Tensor:
        """log pi(a | s) per sample, shape (B,)."""
        return dist.log_prob(actions)

    def entropy(self, dist: Any) -> Tensor:
        return dist.entropy()

    def kl(self, old: Mapping[str, np.ndarray], dist: Any) -> Tensor:
        """Mean over the batch of KL(pi_old || pi), differentiable in the current parameters."""
        return ops.mean(kl_divergence(self.distribution_from(old), dist))

    def sample(self, obs: Any, *, generator: np.random.Generator | None = None) -> np.ndarray:
        """Actions drawn from pi(. | obs) without gradient, from the run's generator."""
        with no_grad():
            return self(_obs_tensor(obs, self)).sample(generator=generator).array

    def output_fisher(self, eta: np.ndarray, u: np.ndarray) -> np.ndarray:
        """M(eta) u for each sample: the distribution's Fisher in the head's output space."""
        raise NotImplementedError

    def extra_fisher(self, tangents: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
        """The Fisher-vector product's block for parameters outside ``head`` (none by default)."""
        return {}


class CategoricalPolicy(Policy):
    """pi(a | s) = softmax(f(s))_a with f an MLP (``hidden=()``: linear logits)."""

    discrete = True

    def __init__(self, obs_dim: int, n_actions: int, *, hidden: Sequence[int] = (64, 64),
                 activation: str = "tanh", out_scale: float = 0.01,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        if n_actions < 2:
            raise ValueError(f"CategoricalPolicy: need at least 2 actions, got {n_actions}")
        self.obs_dim, self.n_actions = int(obs_dim), int(n_actions)
        self.head = mlp(obs_dim, n_actions, hidden, activation=activation, out_scale=out_scale, generator=generator)

    def forward(self, obs: Any) -> Categorical:
        return Categorical(logits=self.head(_obs_tensor(obs, self)))

    def distribution_params(self, obs: Any) -> dict[str, np.ndarray]:
        with no_grad():
            return {"logits": np.array(self.head(_obs_tensor(obs, self)).array)}

    def distribution_from(self, params: Mapping[str, np.ndarray]) -> Categorical:
        return Categorical(logits=Tensor(params["logits"]))

    def output_fisher(self, eta: np.ndarray, u: np.ndarray) -> np.ndarray:
        """(diag(p) - p p^T) u = p * (u - p.u), p = softmax(z)."""
        z = eta - eta.max(axis=-1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=-1, keepdims=True)
        return p * (u - np.sum(p * u, axis=-1, keepdims=True))

    def extra_repr(self) -> str:
        return f"obs_dim={self.obs_dim}, n_actions={self.n_actions}"


class GaussianPolicy(Policy):
    """pi(a | s) = N(f(s), diag(exp(2 log_std))), with ``log_std`` a parameter independent of s."""

    discrete = False

    def __init__(self, obs_dim: int, action_dim: int, *, hidden: Sequence[int] = (64, 64),
                 activation: str = "tanh", out_scale: float = 0.01, log_std_init: float = 0.0,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        self.obs_dim, self.action_dim = int(obs_dim), int(action_dim)
        self.head = mlp(obs_dim, action_dim, hidden, activation=activation, out_scale=out_scale,
                        generator=generator)
        self.log_std = Parameter(np.full(self.action_dim, log_std_init, np.float32))

    def forward(self, obs: Any) -> Normal:
        mean = self.head(_obs_tensor(obs, self))
        return Normal(mean, ops.exp(self.log_std))

    def log_prob(self, dist: Any, actions: Any) -> Tensor:
        """Sum over the action dimensions of the per-dimension log-densities."""
        return ops.sum(dist.log_prob(actions), dim=-1)

    def entropy(self, dist: Any) -> Tensor:
        return ops.sum(dist.entropy(), dim=-1)

    def kl(self, old: Mapping[str, np.ndarray], dist: Any) -> Tensor:
        return ops.mean(ops.sum(kl_divergence(self.distribution_from(old), dist), dim=-1))

    def distribution_params(self, obs: Any) -> dict[str, np.ndarray]:
        with no_grad():
            mean = np.array(self.head(_obs_tensor(obs, self)).array)
        return {"mean": mean, "log_std": np.broadcast_to(self.log_std.array, mean.shape).copy()}

    def distribution_from(self, params: Mapping[str, np.ndarray]) -> Normal:
        return Normal(Tensor(params["mean"]), Tensor(np.exp(params["log_std"])))

    def output_fisher(self, eta: np.ndarray, u: np.ndarray) -> np.ndarray:
        """u / sigma^2 for the mean."""
        return u * np.exp(-2 * self.log_std.array)

    def extra_fisher(self, tangents: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
        """2 v for the log-std (the same for every state, so the batch average is 2 v)."""
        t = tangents.get(id(self.log_std))
        return {} if t is None else {id(self.log_std): 2 * t}

    def extra_repr(self) -> str:
        return f"obs_dim={self.obs_dim}, action_dim={self.action_dim}"


class ValueFunction(Module):
    """V(s): an MLP with one output, returning shape (B,)."""

    def __init__(self, obs_dim: int, *, hidden: Sequence[int] = (20,), activation: str = "tanh",
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        self.obs_dim = int(obs_dim)
        self.head = mlp(obs_dim, 1, hidden, activation=activation, out_scale=1.0, generator=generator)

    def forward(self, obs: Any) -> Tensor:
        out = self.head(_obs_tensor(obs, self))
        return ops.reshape(out, out.shape[:-1])

    def predict(self, obs: Any) -> np.ndarray:
        """V(s) as an array, without building a graph."""
        with no_grad():
            return np.array(self(obs).array)
